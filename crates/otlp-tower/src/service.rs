//! The layers and the one service both sides share: a server reads its parent from the
//! request's headers, a client writes its span into them; both start the call's span, make it
//! current while the inner service runs, and hand the call to the response body.

use crate::body::ObservedBody;
use crate::call::{Call, Instruments, Side};
use crate::conventions::RpcConventions;
use crate::request::{Framework, describe};
use http::{Request, Response};
use otlp_sdk::OtlpClient;
use otlp_sdk::context::{FutureExt, WithSpanContext};
use otlp_sdk::trace::propagation::{Baggage, Context as PropagatedContext};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tower_layer::Layer;
use tower_service::Service;

/// The instrumentation scope of the layers' spans and instruments.
const SCOPE: &str = "otlp-tower";

/// What every service of one layer shares: the instruments, and the client whose propagator
/// reads and writes the requests' context.
#[derive(Debug, Clone)]
pub(crate) struct Shared {
    instruments: Instruments,
    client: OtlpClient,
}

impl Shared {
    #[cfg(feature = "reqwest")]
    pub(crate) fn instruments(&self) -> &Instruments {
        &self.instruments
    }

    #[cfg(feature = "reqwest")]
    pub(crate) fn client(&self) -> &OtlpClient {
        &self.client
    }

    /// `shared` writing the RPC attributes of `conventions` (a copy if another layer shares it).
    pub(crate) fn with_conventions(
        mut shared: Arc<Shared>,
        conventions: RpcConventions,
    ) -> Arc<Shared> {
        Arc::make_mut(&mut shared)
            .instruments
            .set_conventions(conventions);
        shared
    }

    pub(crate) fn new(client: &OtlpClient, side: Side) -> Arc<Shared> {
        let version = Some(env!("CARGO_PKG_VERSION"));
        let tracer = client.tracer_with_version(SCOPE, version, None);
        let meter = client
            .meter_builder(SCOPE)
            .with_version(env!("CARGO_PKG_VERSION"))
            .build();
        Arc::new(Shared {
            instruments: Instruments::new(tracer, &meter, side),
            client: client.clone(),
        })
    }
}

/// A [`Layer`] for HTTP and gRPC servers (axum, hyper, tonic): a server span per request,
/// child of the W3C context the request carries, current while the handler runs; and the
/// `http.server.request.duration` or `rpc.server.call.duration` histogram. See the
/// [crate docs](crate).
#[derive(Debug, Clone)]
pub struct OtlpServerLayer {
    shared: Arc<Shared>,
}

impl OtlpServerLayer {
    /// A layer recording through `client` (its propagator reads the requests' context).
    pub fn new(client: &OtlpClient) -> Self {
        OtlpServerLayer {
            shared: Shared::new(client, Side::Server),
        }
    }

    /// Writes the RPC attributes of `conventions` on gRPC calls. Default: from
    /// `OTEL_SEMCONV_STABILITY_OPT_IN`, read when the layer is made ([`RpcConventions`]).
    pub fn with_rpc_conventions(self, conventions: RpcConventions) -> Self {
        OtlpServerLayer {
            shared: Shared::with_conventions(self.shared, conventions),
        }
    }
}

impl<S> Layer<S> for OtlpServerLayer {
    type Service = OtlpService<S>;

    fn layer(&self, inner: S) -> OtlpService<S> {
        OtlpService {
            inner,
            shared: self.shared.clone(),
        }
    }
}

/// A [`Layer`] for HTTP and gRPC clients (hyper-util's client, tonic channels, any tower
/// stack of `http` requests): a client span per request, child of the current context, whose
/// context the request carries (W3C headers); and the `http.client.request.duration` or
/// `rpc.client.call.duration` histogram. See the [crate docs](crate).
#[derive(Debug, Clone)]
pub struct OtlpClientLayer {
    shared: Arc<Shared>,
}

impl OtlpClientLayer {
    /// A layer recording through `client` (its propagator writes the requests' context).
    pub fn new(client: &OtlpClient) -> Self {
        OtlpClientLayer {
            shared: Shared::new(client, Side::Client),
        }
    }

    /// Writes the RPC attributes of `conventions` on gRPC calls. Default: from
    /// `OTEL_SEMCONV_STABILITY_OPT_IN`, read when the layer is made ([`RpcConventions`]).
    pub fn with_rpc_conventions(self, conventions: RpcConventions) -> Self {
        OtlpClientLayer {
            shared: Shared::with_conventions(self.shared, conventions),
        }
    }
}

impl<S> Layer<S> for OtlpClientLayer {
    type Service = OtlpService<S>;

    fn layer(&self, inner: S) -> OtlpService<S> {
        OtlpService {
            inner,
            shared: self.shared.clone(),
        }
    }
}

/// The service [`OtlpServerLayer`] and [`OtlpClientLayer`] wrap around another.
#[derive(Debug, Clone)]
pub struct OtlpService<S> {
    inner: S,
    shared: Arc<Shared>,
}

/// What the framework says of the request: axum's `MatchedPath` (the route template) and
/// `ConnectInfo<SocketAddr>` (the peer, with `into_make_service_with_connect_info`).
fn framework<B>(request: &Request<B>) -> Framework {
    #[cfg(feature = "axum")]
    {
        let extensions = request.extensions();
        Framework {
            route: extensions
                .get::<axum::extract::MatchedPath>()
                .map(|p| p.as_str().to_owned()),
            peer: extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip()),
        }
    }
    #[cfg(not(feature = "axum"))]
    {
        let _ = request;
        Framework::default()
    }
}

impl<S, ReqB, ResB> Service<Request<ReqB>> for OtlpService<S>
where
    S: Service<Request<ReqB>, Response = Response<ResB>>,
    ResB: http_body::Body,
{
    type Response = Response<ObservedBody<ResB>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqB>) -> Self::Future {
        let shared = &self.shared;
        let side = shared.instruments.side();
        let rpc = shared.instruments.conventions();
        let info = match side {
            Side::Server => describe(&request, side, &framework(&request), rpc),
            Side::Client => describe(&request, side, &Framework::default(), rpc),
        };
        let (call, context) = match side {
            Side::Server => {
                // The caller's context: its span the parent (none: a new trace), its baggage
                // current for the handler.
                let parent = shared.client.extract(request.headers());
                let baggage = parent.baggage.clone();
                let call = {
                    let _parent = parent.attach();
                    Call::start(&shared.instruments, info)
                };
                let context = PropagatedContext::new(call.span().span_context().clone(), baggage);
                (call, context)
            }
            Side::Client => {
                let call = Call::start(&shared.instruments, info);
                let context =
                    PropagatedContext::new(call.span().span_context().clone(), Baggage::current());
                let _current = context.clone().attach();
                shared.client.inject(request.headers_mut());
                (call, context)
            }
        };
        let future = {
            let _current = context.clone().attach();
            self.inner.call(request)
        };
        ResponseFuture {
            inner: future.with_context(context),
            call: Some(call),
        }
    }
}

/// The response future of [`OtlpService`]: the inner one, polled under the call's context.
#[derive(Debug)]
pub struct ResponseFuture<F> {
    inner: WithSpanContext<F>,
    call: Option<Call>,
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<ObservedBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // Both fields are Unpin (the inner future is boxed by `with_context`).
        let this = self.get_mut();
        let result = match Pin::new(&mut this.inner).poll(cx) {
            Poll::Ready(r) => r,
            Poll::Pending => return Poll::Pending,
        };
        let mut call = this.call.take();
        Poll::Ready(match result {
            Ok(response) => {
                if let Some(call) = call.as_mut() {
                    call.response(response.status(), response.headers());
                }
                Ok(response.map(|body| ObservedBody::new(body, call)))
            }
            Err(e) => {
                if let Some(mut call) = call {
                    // No status to name the failure: the error's type, low-cardinality.
                    call.fail(std::any::type_name::<E>());
                    call.finish();
                }
                Err(e)
            }
        })
    }
}
