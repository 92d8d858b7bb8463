//! `otlp::init_with`: one call sets up the global client, the `tracing` subscriber, the `log`
//! bridge and the `metrics` recorder; what each records arrives at a receiver, correlated; a
//! second call is an error; dropping the guard exports what is left.

use otlp::Protocol;
use otlp::otlp_proto::common::{AnyValue, Value};
use otlp::otlp_proto::metrics::MetricData;
use otlp::{ClientConfig, InitErrorKind};
use test_support::client::{Exported, exporter_config, receiver_for};

#[test]
fn one_call_sets_every_signal_up() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (receiver, sink, _) = runtime.block_on(receiver_for("http/protobuf"));
    let config = ClientConfig::new()
        .with_exporter(exporter_config(&receiver, Protocol::HttpProtobuf))
        .with_resource_detection(false);
    let guard = otlp::init_with(config).expect("initialized");
    assert!(otlp::global::client().is_some(), "the client is global");

    let again = otlp::init().expect_err("a second call is an error");
    assert_eq!(again.kind(), InitErrorKind::AlreadyInitialized);
    assert!(again.to_string().contains("already initialized"), "{again}");

    let (trace_id, span_id) = {
        let span = tracing::info_span!("checkout", cart.items = 3);
        let _entered = span.enter();
        tracing::info!(items = 3, "cart loaded");
        log::warn!(sku = "a-1"; "inventory low");
        metrics::counter!("orders.placed").increment(2);
        let current = otlp::trace::SpanContext::current();
        (current.trace_id().to_bytes(), current.span_id().to_bytes())
    };
    log::info!("outside any span");
    // The guard's drop flushes and shuts the client down: everything above is exported.
    drop(guard);

    let got = Exported::of(sink.requests().into_iter().map(|r| r.request));
    let span = got
        .spans
        .iter()
        .find(|s| s.item.name == "checkout")
        .expect("the tracing span");
    assert_eq!(span.scope.as_ref().map(|s| &*s.name), Some("app"));
    assert_eq!(
        (&span.item.trace_id[..], &span.item.span_id[..]),
        (&trace_id[..], &span_id[..])
    );

    let body = |r: &otlp::otlp_proto::logs::LogRecord| match r
        .body
        .as_ref()
        .and_then(|b| b.value.as_ref())
    {
        Some(Value::StringValue(s)) => s.to_string(),
        other => format!("{other:?}"),
    };
    let record = |text: &str| {
        got.log_records
            .iter()
            .find(|r| body(&r.item) == text)
            .unwrap_or_else(|| panic!("no record {text:?} in {:#?}", got.log_records))
    };
    for text in ["cart loaded", "inventory low"] {
        let r = &record(text).item;
        assert_eq!(
            (&r.trace_id[..], &r.span_id[..]),
            (&trace_id[..], &span_id[..]),
            "{text}: correlated with the tracing span"
        );
    }
    let inventory = record("inventory low");
    assert_eq!(inventory.item.severity_number, 13);
    assert!(
        inventory
            .item
            .attributes
            .iter()
            .any(|kv| kv.key == "sku" && kv.value == Some(AnyValue::from("a-1")))
    );
    assert!(record("outside any span").item.trace_id.is_empty());

    let orders = got
        .metrics
        .iter()
        .find(|m| m.item.name == "orders.placed")
        .expect("the metrics counter");
    assert_eq!(orders.scope.as_ref().map(|s| &*s.name), Some("app"));
    let Some(MetricData::Sum(sum)) = &orders.item.data else {
        panic!("a sum: {orders:?}");
    };
    assert_eq!(
        sum.data_points[0].value,
        Some(otlp::otlp_proto::metrics::NumberValue::AsInt(2))
    );
    drop(receiver);
}
