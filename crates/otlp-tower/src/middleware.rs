//! [`OtlpReqwestMiddleware`]: reqwest clients, which are not tower services, through
//! `reqwest-middleware`, with the client layer's spans, context and measurements.

use crate::call::{Call, Side};
use crate::request::{Framework, describe};
use crate::service::Shared;
use otlp_sdk::OtlpClient;
use otlp_sdk::context::FutureExt;
use otlp_sdk::trace::propagation::{Baggage, Context as PropagatedContext};
use reqwest_middleware::{Middleware, Next};
use std::sync::Arc;

/// A `reqwest-middleware` middleware that traces each request as [`OtlpClientLayer`] does
/// (a client span, W3C context injected, `http.client.request.duration`), but for the end of
/// the call: reqwest hands the response on before its body is read, so the call ends when the
/// response's headers arrive.
///
/// ```no_run
/// # fn demo(client: &otlp::OtlpClient) {
/// let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(otlp_tower::OtlpReqwestMiddleware::new(client))
///     .build();
/// # let _ = http;
/// # }
/// ```
///
/// [`OtlpClientLayer`]: crate::OtlpClientLayer
#[derive(Debug, Clone)]
pub struct OtlpReqwestMiddleware {
    shared: Arc<Shared>,
}

impl OtlpReqwestMiddleware {
    /// A middleware recording through `client` (its propagator writes the requests' context).
    pub fn new(client: &OtlpClient) -> Self {
        OtlpReqwestMiddleware {
            shared: Shared::new(client, Side::Client),
        }
    }

    /// Writes the RPC attributes of `conventions` on gRPC calls. Default: from
    /// `OTEL_SEMCONV_STABILITY_OPT_IN`, read when the middleware is made ([`RpcConventions`]).
    ///
    /// [`RpcConventions`]: crate::RpcConventions
    pub fn with_rpc_conventions(self, conventions: crate::RpcConventions) -> Self {
        OtlpReqwestMiddleware {
            shared: Shared::with_conventions(self.shared, conventions),
        }
    }
}

/// What the conventions read of a reqwest request, as an `http` request (no body).
fn view(request: &reqwest::Request) -> http::Request<()> {
    let mut view = http::Request::new(());
    *view.method_mut() = request.method().clone();
    *view.version_mut() = request.version();
    if let Ok(uri) = request.url().as_str().parse() {
        *view.uri_mut() = uri;
    }
    *view.headers_mut() = request.headers().clone();
    view
}

#[async_trait::async_trait]
impl Middleware for OtlpReqwestMiddleware {
    async fn handle(
        &self,
        mut request: reqwest::Request,
        extensions: &mut http::Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        let shared = &self.shared;
        let mut call = Call::start(
            shared.instruments(),
            describe(
                &view(&request),
                Side::Client,
                &Framework::default(),
                shared.instruments().conventions(),
            ),
        );
        let context =
            PropagatedContext::new(call.span().span_context().clone(), Baggage::current());
        {
            let _current = context.clone().attach();
            shared.client().inject(request.headers_mut());
        }
        let result = next.run(request, extensions).with_context(context).await;
        match &result {
            Ok(response) => call.response(response.status(), response.headers()),
            Err(e) if e.is_timeout() => call.fail("timeout"),
            Err(e) if e.is_connect() => call.fail("connect"),
            Err(_) => call.fail("reqwest_middleware::Error"),
        }
        call.finish();
        result
    }
}
