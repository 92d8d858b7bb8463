//! `metrics` macros through an `OtlpRecorder` (installed thread-locally with
//! `metrics::with_local_recorder`), read back with `client.collect_metrics()`.

use otlp::OtlpClient;
use otlp_metrics_rs::OtlpRecorder;
use otlp_proto::common::KeyValue;
use otlp_proto::metrics::{Metric, MetricData, NumberDataPoint, NumberValue};
use test_support::client::Harness;

/// The metric `name` of the recorder's default scope, and only it.
fn metric(client: &OtlpClient, name: &str) -> Metric {
    let request = client.collect_metrics();
    let scopes = &request.resource_metrics[0].scope_metrics;
    let scope = scopes
        .iter()
        .find(|s| s.scope.as_ref().is_some_and(|s| s.name == "metrics"))
        .expect("the `metrics` scope");
    let found: Vec<&Metric> = scope.metrics.iter().filter(|m| m.name == name).collect();
    assert_eq!(found.len(), 1, "metrics {name:?} in {:?}", scope.metrics);
    found[0].clone()
}

fn points(metric: &Metric) -> &[NumberDataPoint] {
    match &metric.data {
        Some(MetricData::Sum(s)) => &s.data_points,
        Some(MetricData::Gauge(g)) => &g.data_points,
        other => panic!("not a sum or gauge: {other:?}"),
    }
}

/// The value of the point whose attributes are `attributes`.
fn value(metric: &Metric, attributes: &[KeyValue]) -> NumberValue {
    let point = points(metric)
        .iter()
        .find(|p| p.attributes == attributes)
        .unwrap_or_else(|| panic!("no point {attributes:?} in {metric:?}"));
    point.value.clone().expect("a value")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_add_per_label_set_and_absolute_adds_the_difference() {
    let harness = Harness::start(|config| config).await;
    let client = &harness.client;
    let recorder = OtlpRecorder::new(client);
    metrics::with_local_recorder(&recorder, || {
        metrics::counter!("requests", "route" => "/x").increment(1);
        // Another call site, the same key: the same series.
        metrics::counter!("requests", "route" => "/x").increment(2);
        let y = metrics::counter!("requests", "route" => "/y", "method" => "GET");
        y.increment(5);
        let bytes = metrics::counter!("bytes");
        bytes.absolute(10);
        bytes.absolute(25); // +15
        bytes.absolute(20); // lower: adds nothing
        bytes.absolute(30); // +5 over the highest so far
        bytes.increment(1);
    });
    let requests = metric(client, "requests");
    let Some(MetricData::Sum(sum)) = &requests.data else {
        panic!("{requests:?}");
    };
    assert!(sum.is_monotonic);
    assert_eq!(
        value(&requests, &[KeyValue::new("route", "/x")]),
        NumberValue::AsInt(3)
    );
    assert_eq!(
        value(
            &requests,
            &[KeyValue::new("method", "GET"), KeyValue::new("route", "/y")]
        ),
        NumberValue::AsInt(5)
    );
    assert_eq!(points(&requests).len(), 2);
    assert_eq!(value(&metric(client, "bytes"), &[]), NumberValue::AsInt(31));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gauges_keep_their_value_for_increment_and_decrement() {
    let harness = Harness::start(|config| config).await;
    let client = &harness.client;
    let recorder = OtlpRecorder::new(client);
    metrics::with_local_recorder(&recorder, || {
        let queue = metrics::gauge!("queue.depth", "queue" => "mail");
        queue.increment(5.0);
        queue.decrement(1.5);
        metrics::gauge!("queue.depth", "queue" => "mail").increment(0.5); // same series
        metrics::gauge!("temperature").set(21.5);
        metrics::gauge!("temperature").set(19.0);
    });
    let queue = metric(client, "queue.depth");
    assert!(
        matches!(queue.data, Some(MetricData::Gauge(_))),
        "{queue:?}"
    );
    assert_eq!(
        value(&queue, &[KeyValue::new("queue", "mail")]),
        NumberValue::AsDouble(4.0)
    );
    assert_eq!(
        value(&metric(client, "temperature"), &[]),
        NumberValue::AsDouble(19.0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn histograms_record_with_the_described_unit_and_description() {
    let harness = Harness::start(|config| config).await;
    let client = &harness.client;
    let recorder = OtlpRecorder::new(client);
    metrics::with_local_recorder(&recorder, || {
        metrics::describe_histogram!("latency", metrics::Unit::Milliseconds, "Time to serve");
        metrics::describe_counter!("sent", metrics::Unit::Kibibytes, "Sent");
        metrics::describe_gauge!("load", metrics::Unit::Percent, "CPU load");
        let latency = metrics::histogram!("latency", "route" => "/x");
        latency.record(3.0);
        latency.record(7.0);
        metrics::counter!("sent").increment(4);
        metrics::gauge!("load").set(50.0);
        // After the instrument was made: ignored.
        metrics::describe_counter!("sent", metrics::Unit::Bytes, "changed");
        metrics::counter!("sent", "to" => "b").increment(1);
    });
    let latency = metric(client, "latency");
    assert_eq!(
        (latency.unit.as_str(), latency.description.as_str()),
        ("ms", "Time to serve")
    );
    let Some(MetricData::Histogram(h)) = &latency.data else {
        panic!("{latency:?}");
    };
    let point = &h.data_points[0];
    assert_eq!(point.attributes, [KeyValue::new("route", "/x")]);
    assert_eq!((point.count, point.sum), (2, Some(10.0)));
    assert_eq!((point.min, point.max), (Some(3.0), Some(7.0)));
    let sent = metric(client, "sent");
    assert_eq!(
        (sent.unit.as_str(), sent.description.as_str()),
        ("KiBy", "Sent")
    );
    assert_eq!(points(&sent).len(), 2);
    let load = metric(client, "load");
    assert_eq!(load.unit, "%");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_names_are_repaired_not_dropped_and_scopes_can_be_chosen() {
    let harness = Harness::start(|config| config).await;
    let client = &harness.client;
    let recorder = OtlpRecorder::new(client);
    metrics::with_local_recorder(&recorder, || {
        metrics::counter!("cache hits").increment(2);
        metrics::counter!("5xx responses").increment(1);
    });
    assert_eq!(
        value(&metric(client, "cache_hits"), &[]),
        NumberValue::AsInt(2)
    );
    assert_eq!(
        value(&metric(client, "metric_5xx_responses"), &[]),
        NumberValue::AsInt(1)
    );

    let app = OtlpRecorder::with_scope(client, "app");
    metrics::with_local_recorder(&app, || metrics::counter!("in.app").increment(1));
    let request = client.collect_metrics();
    let app_scope = request.resource_metrics[0]
        .scope_metrics
        .iter()
        .find(|s| s.scope.as_ref().is_some_and(|s| s.name == "app"))
        .expect("the `app` scope");
    assert_eq!(app_scope.metrics.len(), 1);
    assert_eq!(app_scope.metrics[0].name, "in.app");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_updates_lose_nothing_and_gauges_end_on_the_final_value() {
    let harness = Harness::start(|config| config).await;
    let client = &harness.client;
    let recorder = OtlpRecorder::new(client);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                metrics::with_local_recorder(&recorder, || {
                    for _ in 0..1000 {
                        metrics::counter!("hits", "shard" => "a").increment(1);
                        metrics::gauge!("in.flight").increment(1.0);
                    }
                })
            });
        }
    });
    assert_eq!(
        value(&metric(client, "hits"), &[KeyValue::new("shard", "a")]),
        NumberValue::AsInt(4000)
    );
    assert_eq!(
        value(&metric(client, "in.flight"), &[]),
        NumberValue::AsDouble(4000.0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_description_applies_to_the_name_as_repaired() {
    let harness = Harness::start(|config| config).await;
    let client = &harness.client;
    let recorder = OtlpRecorder::new(client);
    metrics::with_local_recorder(&recorder, || {
        metrics::describe_gauge!("disk free", metrics::Unit::Gibibytes, "Free space");
        metrics::gauge!("disk free").set(12.0);
    });
    let disk = metric(client, "disk_free");
    assert_eq!(
        (disk.unit.as_str(), disk.description.as_str()),
        ("GiBy", "Free space")
    );
}
