//! Metrics through the client: instruments made by `client.meter()`, exported by the periodic
//! reader, by `force_flush` and by `shutdown` through the client's transport (each protocol) to
//! a receiver that decodes the same values; temporality preferences; observable instruments and
//! their unregistration.

use otlp::Protocol;
use otlp::metrics::{HistogramAggregation, KeyValue, MetricsConfig, TemporalityPreference};
use otlp_proto::Request;
use otlp_proto::collector::ExportMetricsServiceRequest;
use otlp_proto::metrics::{AggregationTemporality, Metric, MetricData, NumberValue};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use test_support::client::Harness;

/// Every metric the receiver got, in order, with its scope name (after a flush).
async fn received(harness: &Harness) -> Vec<(String, Metric)> {
    harness.flush().await;
    received_so_far(harness)
}

/// Every metric the receiver got so far, without a flush.
fn received_so_far(harness: &Harness) -> Vec<(String, Metric)> {
    let mut out = Vec::new();
    for request in harness.requests_so_far() {
        if let Request::Metrics(r) = request {
            out.extend(metrics_of(&r));
        }
    }
    out
}

fn metrics_of(r: &ExportMetricsServiceRequest) -> Vec<(String, Metric)> {
    let mut out = Vec::new();
    for rm in &r.resource_metrics {
        for sm in &rm.scope_metrics {
            let scope = sm
                .scope
                .as_ref()
                .map(|s| s.name.to_string())
                .unwrap_or_default();
            out.extend(sm.metrics.iter().map(|m| (scope.clone(), m.clone())));
        }
    }
    out
}

/// The single number of `metric` (a sum or a gauge of one point).
fn number(metric: &Metric) -> NumberValue {
    let points = match &metric.data {
        Some(MetricData::Sum(s)) => &s.data_points,
        Some(MetricData::Gauge(g)) => &g.data_points,
        other => panic!("not a number metric: {other:?}"),
    };
    assert_eq!(points.len(), 1, "{metric:?}");
    points[0].value.clone().expect("a value")
}

fn temporality(metric: &Metric) -> i32 {
    match &metric.data {
        Some(MetricData::Sum(s)) => s.aggregation_temporality,
        Some(MetricData::Histogram(h)) => h.aggregation_temporality,
        other => panic!("{other:?}"),
    }
}

fn no_periodic(
    config: otlp::ClientConfig,
    preference: TemporalityPreference,
) -> otlp::ClientConfig {
    config.with_metrics(
        MetricsConfig::new()
            .with_temporality(preference)
            .with_export_interval(None),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn force_flush_exports_every_kind_over_every_protocol() {
    for protocol in [Protocol::Grpc, Protocol::HttpProtobuf, Protocol::HttpJson] {
        let harness = Harness::builder()
            .protocol(protocol)
            .start(|c| no_periodic(c, TemporalityPreference::Cumulative))
            .await;
        let client = &harness.client;
        let meter = client
            .meter_builder("shop")
            .with_version("1.2.0")
            .with_attributes([KeyValue::new("team", "payments")])
            .build();
        let eu = [KeyValue::new("region", "eu")];
        let orders = meter.u64_counter("orders").with_unit("{order}").build();
        orders.add(3, &eu);
        orders.bind(&eu).record(2);
        meter
            .f64_up_down_counter("carts.open")
            .build()
            .add(-1.5, &[]);
        meter.i64_gauge("stock").build().record(-7, &eu);
        let basket = meter
            .u64_histogram("basket.items")
            .with_boundaries([1.0, 5.0])
            .build();
        basket.record(3, &eu);
        basket.record(9, &eu);
        let _cpu = meter
            .f64_observable_counter("cpu.time")
            .with_unit("s")
            .with_callback(|o| o.observe(1.25, &[KeyValue::new("cpu", 0i64)]))
            .build();

        client
            .force_flush(Duration::from_secs(10))
            .await
            .expect("flushed");
        let got = received(&harness).await;
        let find = |name: &str| {
            got.iter()
                .find(|(_, m)| m.name == name)
                .unwrap_or_else(|| panic!("{protocol:?}: no {name} in {got:?}"))
                .1
                .clone()
        };
        assert!(got.iter().all(|(scope, _)| scope == "shop"));
        assert_eq!(
            number(&find("orders")),
            NumberValue::AsInt(5),
            "{protocol:?}"
        );
        assert_eq!(find("orders").unit, "{order}");
        assert_eq!(number(&find("carts.open")), NumberValue::AsDouble(-1.5));
        assert_eq!(number(&find("stock")), NumberValue::AsInt(-7));
        assert_eq!(number(&find("cpu.time")), NumberValue::AsDouble(1.25));
        let Some(MetricData::Histogram(h)) = find("basket.items").data else {
            panic!("a histogram");
        };
        assert_eq!(h.data_points[0].bucket_counts, [0, 1, 1]);
        assert_eq!(h.data_points[0].sum, Some(12.0));
        let scope = harness.requests().await.into_iter().find_map(|r| match r {
            Request::Metrics(m) => m.resource_metrics[0].scope_metrics[0].scope.clone(),
            _ => None,
        });
        let scope = scope.expect("a scope");
        assert_eq!(scope.version, "1.2.0");
        assert_eq!(scope.attributes, [KeyValue::new("team", "payments")]);
        assert!(
            client.metrics_stats().exported >= 5,
            "{:?}",
            client.metrics_stats()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delta_preference_reports_intervals_and_keeps_up_down_counters_cumulative() {
    let harness = Harness::start(|c| no_periodic(c, TemporalityPreference::Delta)).await;
    let client = &harness.client;
    let meter = client.meter("jobs");
    let done = meter.u64_counter("jobs.done").build();
    let running = meter.i64_up_down_counter("jobs.running").build();
    let total = Arc::new(AtomicU64::new(100));
    let _observed = meter
        .u64_observable_counter("jobs.seen")
        .with_callback({
            let total = total.clone();
            move |o| o.observe(total.load(Ordering::Relaxed), &[])
        })
        .build();

    done.add(4, &[]);
    running.add(2, &[]);
    let first = metrics_of(&client.collect_metrics());
    done.add(1, &[]);
    running.add(3, &[]);
    total.store(130, Ordering::Relaxed);
    let second = metrics_of(&client.collect_metrics());

    let get = |set: &[(String, Metric)], name: &str| {
        set.iter()
            .find(|(_, m)| m.name == name)
            .map(|(_, m)| m.clone())
    };
    let (d1, d2) = (
        get(&first, "jobs.done").unwrap(),
        get(&second, "jobs.done").unwrap(),
    );
    assert_eq!(
        (number(&d1), number(&d2)),
        (NumberValue::AsInt(4), NumberValue::AsInt(1))
    );
    assert_eq!(temporality(&d1), AggregationTemporality::Delta as i32);
    let start = |m: &Metric| match &m.data {
        Some(MetricData::Sum(s)) => (
            s.data_points[0].start_time_unix_nano,
            s.data_points[0].time_unix_nano,
        ),
        _ => panic!(),
    };
    assert_eq!(
        start(&d2).0,
        start(&d1).1,
        "a delta starts where the last ended"
    );
    let (r1, r2) = (
        get(&first, "jobs.running").unwrap(),
        get(&second, "jobs.running").unwrap(),
    );
    assert_eq!(
        (number(&r1), number(&r2)),
        (NumberValue::AsInt(2), NumberValue::AsInt(5))
    );
    assert_eq!(temporality(&r2), AggregationTemporality::Cumulative as i32);
    assert_eq!(start(&r2).0, start(&r1).0, "a cumulative start stays");
    let (s1, s2) = (
        get(&first, "jobs.seen").unwrap(),
        get(&second, "jobs.seen").unwrap(),
    );
    assert_eq!(
        (number(&s1), number(&s2)),
        (NumberValue::AsInt(100), NumberValue::AsInt(30))
    );

    // Nothing new: the delta counter has nothing to say; the up-down counter still does.
    let third = metrics_of(&client.collect_metrics());
    assert!(get(&third, "jobs.done").is_none(), "{third:?}");
    assert!(get(&third, "jobs.running").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_periodic_reader_exports_and_shutdown_exports_a_last_time() {
    let harness = Harness::start(|c| {
        c.with_metrics(MetricsConfig::new().with_export_interval(Some(Duration::from_millis(100))))
    })
    .await;
    let client = &harness.client;
    let ticks = client.meter("clock").u64_counter("ticks").build();
    ticks.add(1, &[]);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if received(&harness)
            .await
            .iter()
            .any(|(_, m)| m.name == "ticks")
        {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no periodic export");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    ticks.add(10, &[]);
    client
        .shutdown(Duration::from_secs(10))
        .await
        .expect("shut down");
    let last = received_so_far(&harness)
        .into_iter()
        .rev()
        .find(|(_, m)| m.name == "ticks")
        .expect("ticks");
    assert_eq!(
        number(&last.1),
        NumberValue::AsInt(11),
        "the last export after shutdown"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unregistered_callback_no_longer_runs() {
    let harness = Harness::start(|c| no_periodic(c, TemporalityPreference::Cumulative)).await;
    let meter = harness.client.meter("pool");
    let used = meter.u64_observable_gauge("pool.used").build();
    let idle = meter.u64_observable_gauge("pool.idle").build();
    let calls = Arc::new(AtomicU64::new(0));
    let registration = meter.register_callback({
        let (used, idle, calls) = (used.clone(), idle.clone(), calls.clone());
        move |o| {
            calls.fetch_add(1, Ordering::Relaxed);
            o.observe(&used, 3, &[KeyValue::new("pool", "db")]);
            o.observe(&idle, 5, &[KeyValue::new("pool", "db")]);
        }
    });
    // A callback that panics reports nothing and stops nothing else.
    let _bad = meter.register_callback(|_| panic!("a broken callback"));
    let first = metrics_of(&harness.client.collect_metrics());
    assert_eq!(first.len(), 2, "{first:?}");
    assert!(registration.unregister(), "was registered");
    let second = metrics_of(&harness.client.collect_metrics());
    assert!(
        second.is_empty(),
        "only observed sets are reported: {second:?}"
    );
    assert_eq!(calls.load(Ordering::Relaxed), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cardinality_limit_of_zero_fails_the_build() {
    let config = otlp::ClientConfig::new()
        .with_metrics(MetricsConfig::new().with_cardinality_limit(Some(0)));
    let err = otlp::OtlpClient::new(config).await.unwrap_err().to_string();
    assert!(err.contains("cardinality"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_histogram_aggregation_can_be_exponential() {
    let harness = Harness::start(|c| {
        c.with_metrics(
            MetricsConfig::new()
                .with_export_interval(None)
                .with_default_histogram_aggregation(HistogramAggregation::Base2Exponential),
        )
    })
    .await;
    let latency = harness.client.meter("api").f64_histogram("latency").build();
    for v in [1.0, 2.0, 4.0, 0.0, 1000.0] {
        latency.record(v, &[]);
    }
    let got = metrics_of(&harness.client.collect_metrics());
    let Some(MetricData::ExponentialHistogram(h)) = &got[0].1.data else {
        panic!("not exponential: {got:?}");
    };
    let p = &h.data_points[0];
    assert_eq!((p.count, p.zero_count, p.sum), (5, 1, Some(1007.0)));
    assert_eq!((p.min, p.max), (Some(0.0), Some(1000.0)));
    let positive = p.positive.as_ref().expect("positive buckets");
    assert_eq!(positive.bucket_counts.iter().sum::<u64>(), 4);
    // 1 (bucket -1 at every scale: upper-inclusive) to 1000 (bucket 159 at scale 4, 79 at
    // scale 3) fits 160 buckets only from scale 3 down.
    assert_eq!(p.scale, 3);
    assert_eq!((positive.offset, positive.bucket_counts.len()), (-1, 81));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instrument_made_twice_is_one_instrument() {
    let harness = Harness::start(|c| no_periodic(c, TemporalityPreference::Cumulative)).await;
    let meter = harness.client.meter("shop");
    meter.u64_counter("orders").build().add(1, &[]);
    meter.u64_counter("Orders").build().add(2, &[]);
    for calls in 1..=2i64 {
        let _ = meter
            .i64_observable_gauge("queue.depth")
            .with_callback(move |o| o.observe(calls, &[]))
            .build();
    }
    // Another unit: another instrument (the specification's conflict, both kept).
    meter
        .u64_counter("orders")
        .with_unit("{order}")
        .build()
        .add(5, &[]);
    let got = metrics_of(&harness.client.collect_metrics());
    let orders: Vec<_> = got.iter().filter(|(_, m)| m.name == "orders").collect();
    assert_eq!(orders.len(), 2, "{got:?}");
    assert!(
        orders
            .iter()
            .any(|(_, m)| number(m) == NumberValue::AsInt(3))
    );
    assert!(
        orders
            .iter()
            .any(|(_, m)| m.unit == "{order}" && number(m) == NumberValue::AsInt(5))
    );
    let depth: Vec<_> = got
        .iter()
        .filter(|(_, m)| m.name == "queue.depth")
        .collect();
    assert_eq!(depth.len(), 1, "one stream, both callbacks report into it");
    assert_eq!(
        number(&depth[0].1),
        NumberValue::AsInt(2),
        "the last observation wins"
    );
}
