//! Runs the `mission` example (a separate process, as a user runs it) against an in-process
//! receiver and checks that everything it sent arrived: the span, the log with its JSON body in
//! key order, the event with its name, domain and trace context, under the service's scope.

use otlp_proto::Request;
use otlp_proto::common::{AnyValue, KeyValue, Value};
use otlp_receiver::Receiver;
use std::process::Command;

fn attr<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a AnyValue> {
    attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .and_then(|kv| kv.value.as_ref())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mission_program_delivers_everything_it_sent() {
    let (receiver, sink) = Receiver::start_in_memory().await.expect("receiver");
    let addr = receiver.http_addr().expect("an HTTP port");
    let mission = env!("CARGO_BIN_EXE_mission");
    let output = tokio::task::spawn_blocking(move || {
        Command::new(mission)
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{addr}"))
            .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
            .env("OTEL_SERVICE_NAME", "mission-shop")
            .env_remove("OTEL_RESOURCE_ATTRIBUTES")
            .output()
    })
    .await
    .expect("joins")
    .expect("mission runs");
    assert!(
        output.status.success(),
        "mission failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );

    let requests = sink.requests();
    let mut spans = Vec::new();
    let mut records = Vec::new();
    for r in &requests {
        match &r.request {
            Request::Traces(t) => spans.extend(t.spans().map(|p| {
                let scope = p.scope.map(|s| s.name.to_string()).unwrap_or_default();
                (scope, p.item.clone())
            })),
            Request::Logs(l) => records.extend(l.log_records().map(|p| {
                let scope = p.scope.map(|s| s.name.to_string()).unwrap_or_default();
                (scope, p.item.clone())
            })),
            _ => {}
        }
    }

    assert_eq!(spans.len(), 1, "{spans:?}");
    let (scope, span) = &spans[0];
    assert_eq!(scope, "svc");
    assert_eq!(span.name, "op");
    assert_eq!(
        attr(&span.attributes, "order.id"),
        Some(&AnyValue::from(1234i64))
    );
    assert_eq!(
        attr(&span.attributes, "order.total"),
        Some(&AnyValue::from(99.5f64))
    );

    assert_eq!(records.len(), 2, "{records:?}");
    assert!(
        records.iter().all(|(scope, _)| scope == "mission-shop"),
        "send_log and send_event go under the service's name: {records:?}"
    );
    let (_, log) = records
        .iter()
        .find(|(_, r)| r.event_name.is_empty())
        .expect("the log");
    assert_eq!(log.severity_text, "INFO");
    assert!(log.time_unix_nano > 0, "stamped when sent");
    let Some(Value::KvlistValue(body)) = log.body.as_ref().and_then(|b| b.value.as_ref()) else {
        panic!("a map body: {:?}", log.body)
    };
    let keys: Vec<&str> = body.values.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(keys, ["message", "order_id", "items"], "key order kept");

    let (_, event) = records
        .iter()
        .find(|(_, r)| r.event_name == "order.created")
        .expect("the event");
    assert_eq!(
        attr(&event.attributes, "event.domain"),
        Some(&AnyValue::from("ecommerce"))
    );
    assert_eq!(
        attr(&event.attributes, "order.id"),
        Some(&AnyValue::from(1234i64))
    );
    assert_eq!(
        event.trace_id, span.trace_id,
        "the event is in the span's trace"
    );
    assert_eq!(event.span_id, span.span_id, "and names the span");
    assert!(event.time_unix_nano > 0);
    receiver.shutdown().await;
}
