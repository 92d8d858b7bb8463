//! Runs the `shop` example's two services as processes of their own (as a user runs them)
//! against an in-process receiver, sends one order with a W3C `traceparent`, stops both
//! (SIGTERM), and
//! checks what they exported: one trace from the caller through the storefront (axum) and its
//! gRPC call to the inventory (tonic), both ends of each call; the handlers' log records
//! correlated with their spans; each service's request-duration histograms.

use otlp_proto::Request;
use otlp_proto::common::{AnyValue, KeyValue};
use otlp_proto::trace::{Span, SpanKind};
use otlp_receiver::Receiver;
use std::time::Duration;
use test_support::{Spawned, command};

const WAIT: Duration = Duration::from_secs(30);
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

fn attribute<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a AnyValue> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A service's process, exporting to `endpoint` as `service`; and the address it listens on.
fn start(endpoint: &str, service: &str, args: &[&str]) -> (Spawned, String) {
    let mut cmd = command(env!("CARGO_BIN_EXE_shop"));
    cmd.args(args)
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
        .env("OTEL_SERVICE_NAME", service);
    let process = Spawned::start(service, cmd);
    let (line, _) = process.wait_line(WAIT, |l| l.starts_with("listening on "));
    let addr = line.trim_start_matches("listening on ").to_owned();
    (process, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_order_one_trace_across_both_services() {
    let (receiver, sink) = Receiver::start_in_memory().await.expect("receiver");
    let endpoint = format!("http://{}", receiver.http_addr().expect("an HTTP port"));
    let (inventory, inventory_addr) = start(&endpoint, "inventory", &["inventory", "127.0.0.1:0"]);
    let (storefront, storefront_addr) = start(
        &endpoint,
        "storefront",
        &[
            "storefront",
            "127.0.0.1:0",
            &format!("http://{inventory_addr}"),
        ],
    );

    let answer = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(&storefront_addr).expect("connect");
        write!(
            stream,
            "POST /orders/sku-1?quantity=2 HTTP/1.1\r\nhost: {storefront_addr}\r\n\
             traceparent: 00-{TRACE_ID}-00f067aa0ba902b7-01\r\ncontent-length: 0\r\n\
             connection: close\r\n\r\n"
        )
        .expect("request");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("response");
        response
            .split_once("\r\n\r\n")
            .map(|(_, body)| body.to_owned())
            .unwrap_or(response)
    })
    .await
    .expect("the request");
    assert_eq!(answer, "reserved 2 of sku-1, 98 left\n");

    // SIGTERM: each shuts down gracefully, and its `init` guard exports what is left.
    storefront.stop(WAIT);
    inventory.stop(WAIT);

    let mut spans: Vec<(String, Span)> = Vec::new();
    let mut records = Vec::new();
    let mut metrics = Vec::new();
    for r in sink.requests() {
        let service = |resource: Option<&otlp_proto::resource::Resource>| {
            resource
                .and_then(|r| attribute(&r.attributes, "service.name"))
                .map(|v| format!("{v:?}"))
                .unwrap_or_default()
        };
        match r.request {
            Request::Traces(t) => {
                spans.extend(t.spans().map(|p| (service(p.resource), p.item.clone())))
            }
            Request::Logs(l) => records.extend(
                l.log_records()
                    .map(|p| (service(p.resource), p.item.clone())),
            ),
            Request::Metrics(m) => metrics.extend(
                m.metrics()
                    .map(|p| (service(p.resource), p.item.name.to_string())),
            ),
            Request::Profiles(_) => {}
        }
    }
    let find = |service: &str, kind: SpanKind, name: &str| {
        spans
            .iter()
            .find(|(s, span)| s.contains(service) && span.kind == kind as i32 && span.name == name)
            .map(|(_, span)| span)
            .unwrap_or_else(|| panic!("no {kind:?} span {name:?} of {service}: {spans:#?}"))
    };
    let front = find("storefront", SpanKind::Server, "POST /orders/{sku}");
    let call = find("storefront", SpanKind::Client, "shop.Inventory/Reserve");
    let back = find("inventory", SpanKind::Server, "shop.Inventory/Reserve");
    for span in [front, call, back] {
        assert_eq!(
            hex(&span.trace_id),
            TRACE_ID,
            "{}: the caller's trace",
            span.name
        );
    }
    assert_eq!(hex(&front.parent_span_id), "00f067aa0ba902b7");
    assert_eq!(call.parent_span_id, front.span_id);
    assert_eq!(back.parent_span_id, call.span_id, "across the gRPC call");
    assert_eq!(
        attribute(&back.attributes, "rpc.response.status_code"),
        Some(&AnyValue::from("OK"))
    );

    let record = |service: &str, body: &'static str| {
        records
            .iter()
            .find(|(s, r)| s.contains(service) && r.body == Some(AnyValue::from(body)))
            .map(|(_, r)| r)
            .unwrap_or_else(|| panic!("no record {body:?} of {service}: {records:#?}"))
    };
    for (service, body, span) in [
        ("storefront", "order received", front),
        ("storefront", "order placed", front),
        ("inventory", "stock reserved", back),
    ] {
        let r = record(service, body);
        assert_eq!(
            (&r.trace_id, &r.span_id),
            (&span.trace_id, &span.span_id),
            "{body}: correlated with its handler's span"
        );
    }

    for (service, name) in [
        ("storefront", "http.server.request.duration"),
        ("storefront", "rpc.client.call.duration"),
        ("inventory", "rpc.server.call.duration"),
    ] {
        assert!(
            metrics
                .iter()
                .any(|(s, m)| s.contains(service) && m == name),
            "{service}: {name} in {metrics:?}"
        );
    }
    drop(receiver);
}
