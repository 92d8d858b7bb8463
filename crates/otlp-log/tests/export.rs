//! `log` records through the installed [`OtlpLogger`] arrive at a receiver as OTLP log records:
//! severity, body, typed key-values, location, scope per target, correlation with the current
//! span; filtered levels, the SDK's own targets and a second install are left out.
//!
//! One test: `log` takes one logger per process.

use otlp::trace::SpanKind;
use otlp_log::OtlpLogger;
use otlp_proto::common::{AnyValue, KeyValue, Value};
use test_support::client::Harness;

fn attribute<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

#[tokio::test(flavor = "multi_thread")]
async fn log_records_arrive_typed_scoped_and_correlated() {
    let harness = Harness::start(|c| c).await;
    OtlpLogger::new(&harness.client)
        .install()
        .expect("installs");
    assert!(
        OtlpLogger::new(&harness.client).install().is_err(),
        "a second logger is refused, not a panic"
    );

    let tracer = harness.client.tracer("checkout");
    let mut span = tracer
        .span_builder("place order")
        .with_kind(SpanKind::Server)
        .start();
    let ids = (
        span.span_context().trace_id(),
        span.span_context().span_id(),
    );
    {
        let _current = span.enter();
        log::info!(order_id = 42, express = true, total = 9.5, who = "ana"; "order placed");
    }
    span.end();
    log::warn!(target: "payments", "card declined for {}", "ana");
    log::debug!("below the default level: not exported");
    log::error!(target: "otlp_sdk::pipeline", "the SDK's own: not exported");
    std::thread::spawn(|| {
        otlp::context::mark_sdk_thread();
        log::error!("on an SDK thread (rustls under the exporter): not exported");
    })
    .join()
    .expect("thread ran");

    let records = harness.received().await.log_records;
    assert_eq!(records.len(), 2, "{records:#?}");

    let placed = &records[0];
    let r = &placed.item;
    assert_eq!((r.severity_number, &*r.severity_text), (9, "INFO"));
    assert_eq!(r.body, Some(AnyValue::from("order placed")));
    assert_eq!(
        attribute(&r.attributes, "order_id"),
        Some(&Value::IntValue(42))
    );
    assert_eq!(
        attribute(&r.attributes, "express"),
        Some(&Value::BoolValue(true))
    );
    assert_eq!(
        attribute(&r.attributes, "total"),
        Some(&Value::DoubleValue(9.5))
    );
    assert_eq!(
        attribute(&r.attributes, "who"),
        Some(&Value::StringValue("ana".into()))
    );
    assert!(
        matches!(attribute(&r.attributes, "code.file.path"), Some(Value::StringValue(f)) if f.ends_with("export.rs"))
    );
    assert!(matches!(
        attribute(&r.attributes, "code.line.number"),
        Some(Value::IntValue(_))
    ));
    assert_eq!(
        (&r.trace_id[..], &r.span_id[..]),
        (&ids.0.to_bytes()[..], &ids.1.to_bytes()[..]),
        "correlated with the current span"
    );
    assert_eq!(
        placed.scope.as_ref().map(|s| &*s.name),
        Some("export"),
        "the target (the module path) is the scope"
    );

    let declined = &records[1];
    assert_eq!(declined.item.severity_number, 13);
    assert_eq!(
        declined.item.body,
        Some(AnyValue::from("card declined for ana"))
    );
    assert_eq!(declined.scope.as_ref().map(|s| &*s.name), Some("payments"));
    assert!(
        declined.item.trace_id.is_empty(),
        "no span current: uncorrelated"
    );
}
