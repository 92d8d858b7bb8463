//! `OtlpLayer` with events as measurements: fields named `monotonic_counter.*`, `counter.*` and
//! `histogram.*` record into instruments of the layer's meter, read back with
//! `client.collect_metrics()`; log records checked at the receiver. Every test installs its
//! subscriber with a thread-local guard (no global subscriber).

use otlp::OtlpClient;
use otlp_proto::common::{AnyValue, KeyValue};
use otlp_proto::metrics::{Metric, MetricData, NumberDataPoint, NumberValue};
use otlp_tracing::OtlpLayer;
use test_support::client::{Exported, Harness};
use tracing::Subscriber;
use tracing_subscriber::layer::SubscriberExt;

fn subscriber(h: &Harness, layer: impl FnOnce(OtlpLayer) -> OtlpLayer) -> impl Subscriber {
    tracing_subscriber::registry().with(layer(OtlpLayer::from_client(&h.client, "layer")))
}

/// Every metric of the `layer` scope.
fn metrics(client: &OtlpClient) -> Vec<Metric> {
    let request = client.collect_metrics();
    request
        .resource_metrics
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .filter(|s| s.scope.as_ref().is_some_and(|s| s.name == "layer"))
        .flat_map(|s| s.metrics.clone())
        .collect()
}

fn metric<'a>(metrics: &'a [Metric], name: &str) -> &'a Metric {
    let found: Vec<&Metric> = metrics.iter().filter(|m| m.name == name).collect();
    assert_eq!(found.len(), 1, "metrics {name:?} in {metrics:?}");
    found[0]
}

/// A sum's monotonicity and its points.
fn sum(metric: &Metric) -> (bool, &[NumberDataPoint]) {
    match &metric.data {
        Some(MetricData::Sum(s)) => (s.is_monotonic, &s.data_points),
        other => panic!("not a sum: {other:?}"),
    }
}

fn point<'a>(points: &'a [NumberDataPoint], attributes: &[KeyValue]) -> &'a NumberDataPoint {
    points
        .iter()
        .find(|p| p.attributes == attributes)
        .unwrap_or_else(|| panic!("no point {attributes:?} in {points:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metric_fields_record_with_the_other_fields_as_attributes() {
    let setup = Harness::start(|config| config).await;
    tracing::subscriber::with_default(subscriber(&setup, |l| l), || {
        for _ in 0..3 {
            tracing::info!(
                monotonic_counter.requests = 1u64,
                route = "/cart",
                ok = true
            );
        }
        tracing::info!(monotonic_counter.requests = 2, route = "/pay", ok = true); // i64
        tracing::info!(monotonic_counter.bytes = 1.5, route = "/cart");
        tracing::warn!(counter.queue.depth = 5, queue = "mail");
        tracing::warn!(counter.queue.depth = -2, queue = "mail");
        tracing::warn!(counter.load = -0.25);
        tracing::info!(
            histogram.latency = 3.0,
            histogram.size = 100u64,
            route = "/cart"
        );
        tracing::info!(
            histogram.latency = 7.0,
            histogram.size = 300,
            route = "/cart"
        );
    });
    let all = metrics(&setup.client);
    let cart = [KeyValue::new("ok", true), KeyValue::new("route", "/cart")];
    let pay = [KeyValue::new("ok", true), KeyValue::new("route", "/pay")];
    let (monotonic, requests) = sum(metric(&all, "requests"));
    assert!(monotonic);
    assert_eq!(requests.len(), 2);
    assert_eq!(point(requests, &cart).value, Some(NumberValue::AsInt(3)));
    assert_eq!(point(requests, &pay).value, Some(NumberValue::AsInt(2)));
    let (_, bytes) = sum(metric(&all, "bytes"));
    assert_eq!(bytes[0].value, Some(NumberValue::AsDouble(1.5)));
    assert_eq!(bytes[0].attributes, [KeyValue::new("route", "/cart")]);

    let (monotonic, depth) = sum(metric(&all, "queue.depth"));
    assert!(!monotonic);
    let mail = [KeyValue::new("queue", "mail")];
    assert_eq!(point(depth, &mail).value, Some(NumberValue::AsInt(3)));
    let (_, load) = sum(metric(&all, "load"));
    assert_eq!(load[0].value, Some(NumberValue::AsDouble(-0.25)));
    assert!(load[0].attributes.is_empty(), "no level, no location");

    for (name, sum_of) in [("latency", 10.0), ("size", 400.0)] {
        let Some(MetricData::Histogram(h)) = &metric(&all, name).data else {
            panic!("{name} is not a histogram");
        };
        let p = &h.data_points[0];
        assert_eq!(p.attributes, [KeyValue::new("route", "/cart")], "{name}");
        assert_eq!((p.count, p.sum), (2, Some(sum_of)), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_types_are_ignored_and_only_events_with_a_message_are_logged() {
    let setup = Harness::start(|config| config).await;
    tracing::subscriber::with_default(subscriber(&setup, |l| l), || {
        tracing::info!(monotonic_counter.hits = 1u64, user = "a");
        tracing::info!(monotonic_counter.hits = 1u64, user = "a", "a hit");
        // Wrong types: nothing recorded, no attribute; the good field still records.
        tracing::info!(monotonic_counter.hits = "many", user = "a");
        tracing::info!(monotonic_counter.hits = -4, user = "a");
        tracing::info!(
            histogram.size = -1,
            monotonic_counter.hits = 1u64,
            user = "a"
        );
        tracing::info!(counter.flag = true, user = "a");
        tracing::info!(counter.big = u64::MAX, user = "a");
        tracing::info!("counter.9 lives" = 1, user = "a"); // not an instrument name
    });
    let all = metrics(&setup.client);
    let (_, hits) = sum(metric(&all, "hits"));
    assert_eq!(
        hits.len(),
        1,
        "one series: the wrong fields are no attributes"
    );
    assert_eq!(hits[0].attributes, [KeyValue::new("user", "a")]);
    assert_eq!(hits[0].value, Some(NumberValue::AsInt(3)));
    let names: Vec<&str> = all.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["hits"], "nothing else recorded");

    let Exported { log_records, .. } = setup.received().await;
    let bodies: Vec<Option<&str>> = log_records
        .iter()
        .map(|r| r.item.body.as_ref().and_then(AnyValue::as_str))
        .collect();
    assert_eq!(
        bodies,
        [Some("a hit")],
        "only the measurement with a message"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_metrics_false_leaves_metric_fields_to_events() {
    let setup = Harness::start(|config| config).await;
    tracing::subscriber::with_default(subscriber(&setup, |l| l.with_metrics(false)), || {
        tracing::info!(monotonic_counter.hits = 1u64);
    });
    tracing::subscriber::with_default(
        // No meter: no measurements either.
        tracing_subscriber::registry().with(OtlpLayer::new(setup.client.tracer("layer"))),
        || tracing::info_span!("s").in_scope(|| tracing::info!(monotonic_counter.hits = 1u64)),
    );
    assert!(metrics(&setup.client).is_empty());
    let Exported {
        log_records, spans, ..
    } = setup.received().await;
    assert_eq!(log_records.len(), 1, "an event like the others");
    assert_eq!(
        spans[0].item.events.len(),
        1,
        "a span event like the others"
    );
}
