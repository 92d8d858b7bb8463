//! Shared code of the examples (see `examples/README.md`): where to export, the two services of
//! the `propagation` example, and the instrumented order handling of the `tracing_layer`
//! example, as functions a test can call.

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use otlp::trace::propagation::{Baggage, CompositePropagator, Context, TextMapPropagator};
use otlp::trace::{SpanContext, SpanKind, Status};
use otlp::{ClientConfig, ExporterConfig, OtlpClient, Protocol};
use otlp_proto::common::KeyValue;
use otlp_proto::resource::Resource;
use otlp_receiver::{MemorySink, Receiver, RunningReceiver};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tracing::Instrument as _;
use tracing::instrument::WithSubscriber as _;

/// Any error of the examples.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How long flushes and shutdowns may take.
pub const WAIT: Duration = Duration::from_secs(10);

/// A receiver started in-process on a free loopback port, keeping what it receives in memory.
#[derive(Debug)]
pub struct EmbeddedReceiver {
    /// The running receiver.
    pub receiver: RunningReceiver,
    /// What it received.
    pub sink: MemorySink,
    /// Its gRPC endpoint, `http://127.0.0.1:PORT`.
    pub endpoint: String,
}

impl EmbeddedReceiver {
    /// Starts a receiver (gRPC only) on a free loopback port.
    pub async fn start() -> Result<EmbeddedReceiver, BoxError> {
        let sink = MemorySink::new();
        let receiver = Receiver::builder()
            .with_free_loopback_ports()
            .without_http()
            .with_sink(sink.clone())
            .start()
            .await?;
        let addr = receiver
            .grpc_addr()
            .ok_or("the receiver has no gRPC port")?;
        Ok(EmbeddedReceiver {
            receiver,
            sink,
            endpoint: format!("http://{addr}"),
        })
    }

    /// A receiver to export to, unless `OTEL_EXPORTER_OTLP_ENDPOINT` names a collector of your
    /// own (then `None`, and the clients read the variable).
    pub async fn unless_endpoint_set() -> Result<Option<EmbeddedReceiver>, BoxError> {
        match std::env::var_os("OTEL_EXPORTER_OTLP_ENDPOINT") {
            Some(_) => Ok(None),
            None => Ok(Some(EmbeddedReceiver::start().await?)),
        }
    }

    /// The log records received so far.
    pub fn log_records(&self) -> Vec<otlp_proto::logs::LogRecord> {
        let mut out = Vec::new();
        for r in self.sink.requests() {
            let otlp_proto::Request::Logs(l) = r.request else {
                continue;
            };
            for rl in l.resource_logs {
                for sl in rl.scope_logs {
                    out.extend(sl.log_records);
                }
            }
        }
        out
    }

    /// The spans received so far, as `(service.name, span)`.
    pub fn spans(&self) -> Vec<(String, otlp_proto::trace::Span)> {
        let mut out = Vec::new();
        for r in self.sink.requests() {
            let otlp_proto::Request::Traces(t) = r.request else {
                continue;
            };
            for rs in t.resource_spans {
                let service = rs
                    .resource
                    .iter()
                    .flat_map(|r| &r.attributes)
                    .find(|kv| kv.key.as_str() == "service.name")
                    .and_then(
                        |kv| match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                            Some(otlp_proto::common::Value::StringValue(s)) => {
                                Some(s.as_str().to_owned())
                            }
                            _ => None,
                        },
                    )
                    .unwrap_or_default();
                for ss in rs.scope_spans {
                    out.extend(ss.spans.into_iter().map(|s| (service.clone(), s)));
                }
            }
        }
        out
    }
}

/// A resource naming the service, and nothing else.
pub fn service_resource(name: &str) -> Resource {
    Resource {
        attributes: vec![KeyValue::new("service.name", name.to_owned())],
        ..Default::default()
    }
}

/// A client for the service `name`, exporting over gRPC to `endpoint` and sampling every span,
/// or, without an endpoint, configured by the `OTEL_*` variables.
pub async fn client_for(name: &str, endpoint: Option<&str>) -> Result<OtlpClient, BoxError> {
    let mut config = ClientConfig::new().with_resource(service_resource(name));
    if let Some(endpoint) = endpoint {
        config = config
            .with_exporter(
                ExporterConfig::new()
                    .with_protocol(Protocol::Grpc)
                    .with_endpoint(endpoint),
            )
            .with_sampler(otlp::trace::Sampler::AlwaysOn);
    }
    Ok(OtlpClient::new(config).await?)
}

/// What the two services of the propagation example saw.
#[derive(Debug, Clone)]
pub struct PropagationOutcome {
    /// The frontend's client span (the parent the backend was given).
    pub client_span: SpanContext,
    /// The backend's server span.
    pub server_span: SpanContext,
    /// The `tenant` baggage entry the backend read, as it answered it.
    pub tenant_seen_by_backend: String,
}

/// The baggage key the frontend sets and the backend reads.
pub const TENANT: &str = "tenant";

/// Runs the propagation example: a backend HTTP service on a loopback port (traced with
/// `backend`), and a frontend (traced with `frontend`) that calls it once, injecting
/// `traceparent` and `baggage`. The backend extracts them and continues the trace. Both clients
/// are flushed before this returns.
pub async fn run_propagation(
    frontend: &OtlpClient,
    backend: &OtlpClient,
) -> Result<PropagationOutcome, BoxError> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let backend_tracer = backend.tracer("backend");
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        // The handler is `Fn`: it hands its span context over through a shared slot.
        let tx = std::sync::Arc::new(std::sync::Mutex::new(Some(tx)));
        let service = hyper::service::service_fn(move |req: Request<Incoming>| {
            let tracer = backend_tracer.clone();
            let tx = tx.lock().ok().and_then(|mut slot| slot.take());
            async move {
                // Extract the caller's context and continue its trace.
                let cx = CompositePropagator::w3c().extract(req.headers());
                let mut span = tracer
                    .span_builder(format!("{} {}", req.method(), req.uri().path()))
                    .with_kind(SpanKind::Server)
                    .with_parent(&cx.span)
                    .start();
                let tenant = cx.baggage.get(TENANT).unwrap_or("").to_owned();
                span.set_attribute("app.tenant", tenant.clone());
                span.set_attribute("http.response.status_code", 200i64);
                if let Some(tx) = tx {
                    let _ = tx.send(span.span_context().clone());
                }
                span.end();
                Ok::<_, hyper::Error>(Response::new(Full::new(Bytes::from(tenant))))
            }
        });
        hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(stream), service)
            .await?;
        let server_span = rx.await.map_err(|_| "the backend handled no request")?;
        Ok::<_, BoxError>(server_span)
    });

    let tracer = frontend.tracer("frontend");
    let mut root = tracer
        .span_builder("checkout")
        .with_kind(SpanKind::Internal)
        .start();
    let mut call = tracer
        .span_builder("GET /inventory")
        .with_kind(SpanKind::Client)
        .with_parent(root.span_context())
        .with_attribute("server.address", addr.ip().to_string())
        .with_attribute("server.port", i64::from(addr.port()))
        .start();
    let mut baggage = Baggage::new();
    baggage.insert(TENANT, "acme corp");
    let cx = Context::new(call.span_context().clone(), baggage);
    let mut request = Request::get("/inventory")
        .header(http::header::HOST, addr.to_string())
        .body(Full::new(Bytes::new()))?;
    CompositePropagator::w3c().inject(&cx, request.headers_mut());

    let answer = async {
        let stream = TcpStream::connect(addr).await?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        let conn = tokio::spawn(conn);
        let response = sender.send_request(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        drop(sender);
        let _ = conn.await;
        Ok::<_, BoxError>((status, body))
    }
    .await;
    let (status, body) = match answer {
        Ok(answer) => answer,
        Err(e) => {
            call.record_error(&*e);
            call.set_status(Status::error("the backend call failed"));
            return Err(e);
        }
    };
    call.set_attribute("http.response.status_code", i64::from(status.as_u16()));
    if status != StatusCode::OK {
        call.set_status(Status::error(format!("backend answered {status}")));
    }
    call.end();
    root.end();

    let server_span = server.await??;
    frontend.force_flush(WAIT).await?;
    backend.force_flush(WAIT).await?;
    Ok(PropagationOutcome {
        client_span: cx.span,
        server_span,
        tenant_seen_by_backend: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// The instrumentation scope of the `tracing_layer` example's spans and log records.
pub const TRACING_SCOPE: &str = "tracing-example";

/// The order the `tracing_layer` example cannot fill (too many items).
pub const FAILING_ORDER: u64 = 2;

/// What [`process_orders`] did: for each order, its id and whether it was accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrdersOutcome {
    /// `(order id, accepted)`, in order.
    pub orders: Vec<(u64, bool)>,
}

/// The `tracing_layer` example's work, instrumented with `tracing` only (no `otlp` API): two
/// orders handled concurrently, each an `#[instrument]`ed server span with an internal
/// `check_stock` child and, when in stock, a client `charge_payment` child spawned on another
/// task; `info!`/`warn!` events inside them. The order [`FAILING_ORDER`] is out of stock: a
/// `warn!` event and status error.
///
/// With [`otlp_tracing::OtlpLayer`] in the current subscriber, the spans become OTLP spans and
/// the events log records carrying their span's trace and span ids. The spawned task carries
/// the current span and subscriber along (`in_current_span`, `with_current_subscriber`), so it
/// works under a global subscriber and a scoped one (`WithSubscriber::with_subscriber`) alike.
pub async fn process_orders() -> Result<OrdersOutcome, BoxError> {
    let (first, second) = tokio::join!(handle_order(1, 3), handle_order(FAILING_ORDER, 500));
    Ok(OrdersOutcome {
        orders: vec![(1, first?), (FAILING_ORDER, second?)],
    })
}

#[tracing::instrument(
    fields(
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
        otel.status_description = tracing::field::Empty,
    )
)]
async fn handle_order(order_id: u64, items: u32) -> Result<bool, BoxError> {
    tracing::info!(items, "order received");
    if !check_stock(items).await {
        tracing::warn!(items, "order rejected: out of stock");
        let span = tracing::Span::current();
        span.record("otel.status_code", "error");
        span.record("otel.status_description", "out of stock");
        return Ok(false);
    }
    // Work on another task (and maybe another worker thread) stays in this span's trace.
    let charge = charge_payment(order_id, u64::from(items) * 250)
        .in_current_span()
        .with_current_subscriber();
    tokio::spawn(charge).await?;
    tracing::info!("order accepted");
    Ok(true)
}

#[tracing::instrument]
async fn check_stock(items: u32) -> bool {
    tokio::time::sleep(Duration::from_millis(5)).await;
    let in_stock = items <= 100;
    tracing::info!(in_stock, "stock checked");
    in_stock
}

#[tracing::instrument(fields(otel.kind = "client", otel.status_code = "ok"))]
async fn charge_payment(order_id: u64, amount_cents: u64) {
    tokio::time::sleep(Duration::from_millis(5)).await;
    tracing::info!(amount_cents, "payment charged");
}

/// Lowercase hex of an id (trace and span ids as the W3C headers and most backends show them).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
