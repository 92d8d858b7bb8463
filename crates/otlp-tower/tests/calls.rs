//! The layers on both ends of real calls: an axum server and a hyper-util client over
//! loopback (one trace from the client's parent to the handler's child, the conventions'
//! attributes, errors, the duration histograms), gRPC statuses read from trailers, and the old
//! RPC names beside the new ones on request.

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Empty, Full};
use otlp::otlp_proto::common::{AnyValue, KeyValue};
use otlp::otlp_proto::metrics::MetricData;
use otlp::otlp_proto::trace::SpanKind;
use otlp_tower::{OtlpClientLayer, OtlpServerLayer, RpcConventions};
use std::convert::Infallible;
use std::future::{Ready, poll_fn, ready};
use std::task::{Context, Poll};
use test_support::client::Harness;
use tower_layer::Layer;
use tower_service::Service;

fn attribute<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a AnyValue> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
}

async fn call<S, B>(service: &mut S, request: Request<B>) -> Response<Bytes>
where
    S: Service<Request<B>, Response = Response<otlp_tower::ObservedBody<hyper::body::Incoming>>>,
    S::Error: std::fmt::Debug,
{
    poll_fn(|cx| service.poll_ready(cx)).await.expect("ready");
    let response = service.call(request).await.expect("answered");
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.expect("body").to_bytes();
    Response::from_parts(parts, bytes)
}

#[tokio::test(flavor = "multi_thread")]
async fn one_trace_from_client_to_handler() {
    let harness = Harness::start(|c| c).await;
    let client = harness.client.clone();

    let tracer = client.tracer("handler");
    let app = axum::Router::new()
        .route(
            "/users/{id}",
            axum::routing::get(move || {
                let tracer = tracer.clone();
                async move {
                    // A child of the server span: current while the handler runs.
                    tracer.in_span("load user", |_| {});
                    "ana"
                }
            }),
        )
        .route(
            "/fail",
            axum::routing::get(|| async { StatusCode::INTERNAL_SERVER_ERROR }),
        )
        .layer(OtlpServerLayer::new(&client));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
    });

    let connector =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http::<Empty<Bytes>>();
    let mut http = OtlpClientLayer::new(&client).layer(connector);

    let mut parent = client.tracer("app").start("checkout");
    let parent_context = parent.span_context().clone();
    let ok = {
        let _current = parent.enter();
        let request = Request::get(format!("http://{addr}/users/7?full=1"))
            .body(Empty::new())
            .expect("request");
        // The future keeps the context it was made under: the client span's parent.
        call(&mut http, request).await
    };
    assert_eq!(ok.body(), "ana");
    let failed = call(
        &mut http,
        Request::get(format!("http://{addr}/fail"))
            .body(Empty::new())
            .expect("request"),
    )
    .await;
    assert_eq!(failed.status(), StatusCode::INTERNAL_SERVER_ERROR);
    parent.end();

    let got = harness.received().await;
    let span = |kind: SpanKind, name: &str| {
        got.spans
            .iter()
            .map(|s| &s.item)
            .find(|s| s.kind == kind as i32 && s.name == name)
            .unwrap_or_else(|| panic!("no {kind:?} span {name:?} in {:#?}", got.spans))
    };
    let clients: Vec<_> = got
        .spans
        .iter()
        .filter(|s| s.item.kind == SpanKind::Client as i32)
        .map(|s| &s.item)
        .collect();
    assert_eq!(clients.len(), 2);
    let client_span = clients
        .iter()
        .find(|s| s.parent_span_id[..] == parent_context.span_id().to_bytes()[..])
        .expect("the client span under checkout");
    assert_eq!(client_span.name, "GET");
    assert_eq!(
        attribute(&client_span.attributes, "url.full"),
        Some(&AnyValue::from(format!("http://{addr}/users/7?full=1")))
    );
    assert_eq!(
        attribute(&client_span.attributes, "http.response.status_code"),
        Some(&AnyValue::from(200i64))
    );

    let server_span = span(SpanKind::Server, "GET /users/{id}");
    assert_eq!(server_span.trace_id, client_span.trace_id, "one trace");
    assert_eq!(
        server_span.parent_span_id, client_span.span_id,
        "the server's parent is the client span, carried in traceparent"
    );
    assert_eq!(
        attribute(&server_span.attributes, "http.route"),
        Some(&AnyValue::from("/users/{id}"))
    );
    assert_eq!(
        attribute(&server_span.attributes, "url.path"),
        Some(&AnyValue::from("/users/7"))
    );
    assert_eq!(
        attribute(&server_span.attributes, "client.address"),
        Some(&AnyValue::from("127.0.0.1")),
        "the peer, from axum's ConnectInfo"
    );
    let handler_span = span(SpanKind::Internal, "load user");
    assert_eq!(handler_span.parent_span_id, server_span.span_id);

    let failed_server = span(SpanKind::Server, "GET /fail");
    assert_eq!(
        failed_server.status.as_ref().map(|s| s.code),
        Some(otlp::otlp_proto::trace::StatusCode::Error as i32)
    );
    assert_eq!(
        attribute(&failed_server.attributes, "error.type"),
        Some(&AnyValue::from("500"))
    );
    let failed_client = clients
        .iter()
        .find(|s| s.trace_id == failed_server.trace_id)
        .expect("the failed call's client span");
    assert!(failed_client.status.as_ref().is_some_and(|s| s.code == 2));

    for (name, count) in [
        ("http.server.request.duration", 2),
        ("http.client.request.duration", 2),
    ] {
        let metric = got
            .metrics
            .iter()
            .find(|m| m.item.name == name)
            .unwrap_or_else(|| panic!("no {name}"));
        assert_eq!(metric.item.unit, "s");
        let Some(MetricData::Histogram(h)) = &metric.item.data else {
            panic!("{name}: not a histogram");
        };
        let total: u64 = h.data_points.iter().map(|p| p.count).sum();
        assert_eq!(total, count, "{name}");
        assert!(
            h.data_points
                .iter()
                .all(|p| attribute(&p.attributes, "url.path").is_none()),
            "{name}: no unbounded attributes"
        );
    }
    let server_metric = got
        .metrics
        .iter()
        .find(|m| m.item.name == "http.server.request.duration")
        .expect("server histogram");
    let Some(MetricData::Histogram(h)) = &server_metric.item.data else {
        panic!("histogram");
    };
    assert!(h.data_points.iter().any(|p| {
        attribute(&p.attributes, "http.route") == Some(&AnyValue::from("/fail"))
            && attribute(&p.attributes, "error.type") == Some(&AnyValue::from("500"))
    }));
}

/// A gRPC handler answering with `grpc-status` in the trailers.
#[derive(Clone)]
struct Grpc(u32);

mod frames {
    use bytes::Bytes;
    use http_body::Frame;
    use std::convert::Infallible;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    /// A body of the frames given, in order (a message, then the trailers).
    pub struct Frames(pub Vec<Frame<Bytes>>);

    impl http_body::Body for Frames {
        type Data = Bytes;
        type Error = Infallible;
        fn poll_frame(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
            let this = self.get_mut();
            Poll::Ready(if this.0.is_empty() {
                None
            } else {
                Some(Ok(this.0.remove(0)))
            })
        }
    }
}

impl Service<Request<Full<Bytes>>> for Grpc {
    type Response = Response<frames::Frames>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<Full<Bytes>>) -> Self::Future {
        let mut trailers = http::HeaderMap::new();
        trailers.insert("grpc-status", self.0.to_string().parse().expect("value"));
        ready(Ok(Response::builder()
            .header("content-type", "application/grpc")
            .body(frames::Frames(vec![
                http_body::Frame::data(Bytes::from_static(b"\0\0\0\0\0")),
                http_body::Frame::trailers(trailers),
            ]))
            .expect("response")))
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn grpc_statuses_come_from_the_trailers() {
    let harness = Harness::start(|c| c).await;
    let server = OtlpServerLayer::new(&harness.client);
    let client = OtlpClientLayer::new(&harness.client);
    // NOT_FOUND: the client's error, not the server's; INTERNAL: both sides'.
    for code in [5u32, 13] {
        for layer_side in ["server", "client"] {
            let request = Request::post("http://orders.internal:50051/shop.Orders/Place")
                .header("content-type", "application/grpc")
                .body(Full::new(Bytes::new()))
                .expect("request");
            let response = if layer_side == "server" {
                server.layer(Grpc(code)).call(request).await
            } else {
                client.layer(Grpc(code)).call(request).await
            }
            .expect("answered");
            response.into_body().collect().await.expect("body");
        }
    }
    let got = harness.received().await;
    let status_of = |kind: SpanKind, code: &'static str| {
        let s = got
            .spans
            .iter()
            .map(|s| &s.item)
            .find(|s| {
                s.kind == kind as i32
                    && attribute(&s.attributes, "rpc.response.status_code")
                        == Some(&AnyValue::from(code))
            })
            .unwrap_or_else(|| panic!("no {kind:?} span with {code}: {:#?}", got.spans));
        assert_eq!(s.name, "shop.Orders/Place");
        assert_eq!(
            attribute(&s.attributes, "rpc.system.name"),
            Some(&AnyValue::from("grpc"))
        );
        s.status.as_ref().map_or(0, |s| s.code)
    };
    let error = 2;
    assert_ne!(status_of(SpanKind::Server, "NOT_FOUND"), error);
    assert_eq!(status_of(SpanKind::Client, "NOT_FOUND"), error);
    assert_eq!(status_of(SpanKind::Server, "INTERNAL"), error);
    assert_eq!(status_of(SpanKind::Client, "INTERNAL"), error);
    assert!(
        got.metrics
            .iter()
            .any(|m| m.item.name == "rpc.server.call.duration"),
        "the RPC histogram"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rpc_dup_adds_the_old_rpc_names_to_spans_and_measurements_and_current_does_not() {
    let harness = Harness::start(|c| c).await;
    for (conventions, method) in [
        (RpcConventions::Duplicate, "shop.Orders/Place"),
        (RpcConventions::Current, "shop.Orders/Cancel"),
    ] {
        let server = OtlpServerLayer::new(&harness.client).with_rpc_conventions(conventions);
        let client = OtlpClientLayer::new(&harness.client).with_rpc_conventions(conventions);
        for mut traced in [server.layer(Grpc(5)), client.layer(Grpc(5))] {
            let request = Request::post(format!("http://orders.internal:50051/{method}"))
                .header("content-type", "application/grpc")
                .body(Full::new(Bytes::new()))
                .expect("request");
            let response = traced.call(request).await.expect("answered");
            response.into_body().collect().await.expect("body");
        }
    }
    let got = harness.received().await;
    let old = |attributes: &[KeyValue]| {
        [
            attribute(attributes, "rpc.system").cloned(),
            attribute(attributes, "rpc.service").cloned(),
            attribute(attributes, "rpc.grpc.status_code").cloned(),
        ]
    };
    let dup_old = [
        Some(AnyValue::from("grpc")),
        Some(AnyValue::from("shop.Orders")),
        Some(AnyValue::from(5i64)),
    ];
    for (method, want) in [
        ("shop.Orders/Place", dup_old),
        ("shop.Orders/Cancel", [None, None, None]),
    ] {
        let spans: Vec<_> = got
            .spans
            .iter()
            .map(|s| &s.item)
            .filter(|s| s.name == method)
            .collect();
        assert_eq!(spans.len(), 2, "a server and a client span of {method}");
        for s in spans {
            assert_eq!(old(&s.attributes), want, "{method} span {:?}", s.kind);
            // The current names are there in both modes, `rpc.method` with its current value.
            assert_eq!(
                attribute(&s.attributes, "rpc.system.name"),
                Some(&AnyValue::from("grpc"))
            );
            assert_eq!(
                attribute(&s.attributes, "rpc.method"),
                Some(&AnyValue::from(method))
            );
            assert_eq!(
                attribute(&s.attributes, "rpc.response.status_code"),
                Some(&AnyValue::from("NOT_FOUND"))
            );
        }
        // Each side's duration, however many exports carried it.
        let mut sides = Vec::new();
        for m in got.metrics.iter().map(|m| &m.item) {
            let Some(MetricData::Histogram(h)) = &m.data else {
                continue;
            };
            for p in &h.data_points {
                if attribute(&p.attributes, "rpc.method") == Some(&AnyValue::from(method)) {
                    assert_eq!(old(&p.attributes), want, "{method} {}", m.name);
                    sides.push(m.name.to_string());
                }
            }
        }
        sides.sort();
        sides.dedup();
        assert_eq!(
            sides,
            ["rpc.client.call.duration", "rpc.server.call.duration"],
            "{method}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reqwest_client_through_the_middleware_joins_the_trace() {
    let harness = Harness::start(|c| c).await;
    let client = harness.client.clone();
    let app = axum::Router::new()
        .route("/ping/{n}", axum::routing::get(|| async { "pong" }))
        .layer(OtlpServerLayer::new(&client));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });

    let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(otlp_tower::OtlpReqwestMiddleware::new(&client))
        .build();
    let body = http
        .get(format!("http://{addr}/ping/3"))
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("body");
    assert_eq!(body, "pong");

    let got = harness.received().await;
    let of_kind = |kind: SpanKind| {
        got.spans
            .iter()
            .map(|s| &s.item)
            .find(|s| s.kind == kind as i32)
            .unwrap_or_else(|| panic!("no {kind:?} span: {:#?}", got.spans))
    };
    let (client_span, server_span) = (of_kind(SpanKind::Client), of_kind(SpanKind::Server));
    assert_eq!(client_span.name, "GET");
    assert_eq!(server_span.name, "GET /ping/{n}");
    assert_eq!(
        server_span.parent_span_id, client_span.span_id,
        "traceparent injected"
    );
    assert_eq!(
        attribute(&client_span.attributes, "http.response.status_code"),
        Some(&AnyValue::from(200i64))
    );
    assert!(
        got.metrics
            .iter()
            .any(|m| m.item.name == "http.client.request.duration"),
        "the client histogram"
    );
}
