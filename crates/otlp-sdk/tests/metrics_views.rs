//! Views and exemplars through the client: renamed, filtered, re-aggregated and dropped
//! streams, per-view cardinality limits, configuration errors; exemplars under each filter,
//! carrying the span they were recorded in and the attributes a view filtered out.

use otlp::OtlpClient;
use otlp::metrics::{Aggregation, ExemplarFilter, InstrumentKind, KeyValue, MetricsConfig, View};
use otlp::trace::Sampler;
use otlp_proto::metrics::{Metric, MetricData, NumberValue};
use test_support::client::Harness;

async fn harness(config: MetricsConfig) -> Harness {
    Harness::start(|c| {
        c.with_sampler(Sampler::AlwaysOn)
            .with_metrics(config.with_export_interval(None))
    })
    .await
}

fn collect(client: &OtlpClient) -> Vec<Metric> {
    client
        .collect_metrics()
        .resource_metrics
        .into_iter()
        .flat_map(|rm| rm.scope_metrics)
        .flat_map(|sm| sm.metrics)
        .collect()
}

fn find<'a>(metrics: &'a [Metric], name: &str) -> &'a Metric {
    metrics
        .iter()
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("no {name} in {metrics:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn views_rename_filter_reaggregate_and_drop() {
    let config = MetricsConfig::new()
        .with_view(
            View::new()
                .with_instrument_name("http.server.request.duration")
                .with_name("http.duration")
                .with_description("time to answer")
                .with_allowed_attribute_keys(["http.request.method"])
                .with_aggregation(Aggregation::base2_exponential_histogram()),
        )
        .with_view(
            View::new()
                .with_instrument_name("*.debug")
                .with_aggregation(Aggregation::Drop),
        )
        .with_view(
            View::new()
                .with_instrument_kind(InstrumentKind::Counter)
                .with_meter_name("limited")
                .with_cardinality_limit(Some(2)),
        );
    let harness = harness(config).await;
    let client = &harness.client;
    let meter = client.meter("api");
    let duration = meter
        .f64_histogram("http.server.request.duration")
        .with_unit("s")
        .build();
    for (v, user) in [(0.5, "a"), (2.0, "b"), (8.0, "c")] {
        duration.record(
            v,
            &[
                KeyValue::new("http.request.method", "GET"),
                KeyValue::new("user.id", user),
            ],
        );
    }
    meter.u64_counter("cache.debug").build().add(1, &[]);
    let limited = client.meter("limited").u64_counter("hits").build();
    for i in 0..5i64 {
        limited.add(1, &[KeyValue::new("shard", i)]);
    }
    // The same instrument name in a meter the view does not select: no limit.
    let free = meter.u64_counter("hits").build();
    for i in 0..5i64 {
        free.add(1, &[KeyValue::new("shard", i)]);
    }

    let metrics = collect(client);
    assert!(metrics.iter().all(|m| m.name != "cache.debug"), "dropped");
    assert!(
        metrics
            .iter()
            .all(|m| m.name != "http.server.request.duration"),
        "renamed"
    );
    let renamed = find(&metrics, "http.duration");
    assert_eq!(
        (renamed.description.as_str(), renamed.unit.as_str()),
        ("time to answer", "s")
    );
    let Some(MetricData::ExponentialHistogram(h)) = &renamed.data else {
        panic!("not exponential: {renamed:?}");
    };
    assert_eq!(h.data_points.len(), 1, "user.id filtered out: one series");
    let p = &h.data_points[0];
    assert_eq!(p.attributes, [KeyValue::new("http.request.method", "GET")]);
    assert_eq!((p.count, p.sum), (3, Some(10.5)));

    let hits: Vec<&Metric> = metrics.iter().filter(|m| m.name == "hits").collect();
    assert_eq!(hits.len(), 2);
    let points = |m: &Metric| match &m.data {
        Some(MetricData::Sum(s)) => s.data_points.clone(),
        other => panic!("{other:?}"),
    };
    let counts: Vec<usize> = hits.iter().map(|m| points(m).len()).collect();
    assert!(counts.contains(&3) && counts.contains(&5), "{counts:?}");
    let limited_points = hits
        .iter()
        .map(|m| points(m))
        .find(|p| p.len() == 3)
        .unwrap();
    let overflow = limited_points
        .iter()
        .find(|p| p.attributes == [KeyValue::new("otel.metric.overflow", true)])
        .expect("an overflow series");
    assert_eq!(
        overflow.value,
        Some(NumberValue::AsInt(3)),
        "the 3 sets past the limit"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_view_that_cannot_apply_is_an_error_at_configuration_or_creation() {
    let bad = MetricsConfig::new().with_view(
        View::new()
            .with_instrument_name("http.*")
            .with_name("one.name.for.many"),
    );
    let err = OtlpClient::new(otlp::ClientConfig::new().with_metrics(bad))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("http.*") && err.contains("view"), "{err}");

    let histogram_of_gauges = MetricsConfig::new().with_view(
        View::new()
            .with_label("gauges as histograms")
            .with_instrument_kind(InstrumentKind::ObservableGauge)
            .with_aggregation(Aggregation::ExplicitBucketHistogram {
                boundaries: vec![1.0],
                record_min_max: true,
            }),
    );
    let harness = harness(histogram_of_gauges).await;
    let meter = harness.client.meter("m");
    let err = meter
        .u64_observable_gauge("temperature")
        .try_build()
        .unwrap_err()
        .to_string();
    assert!(err.contains("gauges as histograms"), "{err}");
    // `build` reports the default stream instead: nothing is silently lost.
    let _gauge = meter
        .u64_observable_gauge("temperature")
        .with_callback(|o| o.observe(21, &[]))
        .build();
    let metrics = collect(&harness.client);
    assert!(matches!(
        find(&metrics, "temperature").data,
        Some(MetricData::Gauge(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exemplars_carry_the_span_and_the_filtered_attributes() {
    let config = MetricsConfig::new()
        .with_exemplar_filter(ExemplarFilter::TraceBased)
        .with_view(
            View::new()
                .with_instrument_name("latency")
                .with_excluded_attribute_keys(["user.id"]),
        );
    let harness = harness(config).await;
    let client = &harness.client;
    let latency = client
        .meter("api")
        .f64_histogram("latency")
        .with_boundaries([10.0, 100.0])
        .build();
    latency.record(5.0, &[KeyValue::new("user.id", "outside")]);
    let tracer = client.tracer("api");
    let (trace_id, span_id) = tracer.in_span("request", |span| {
        latency.record(50.0, &[KeyValue::new("user.id", "u-42")]);
        let c = span.span_context();
        (c.trace_id(), c.span_id())
    });

    let metrics = collect(client);
    let Some(MetricData::Histogram(h)) = &find(&metrics, "latency").data else {
        panic!("a histogram");
    };
    let exemplars = &h.data_points[0].exemplars;
    assert_eq!(
        exemplars.len(),
        1,
        "trace-based: only the one in a sampled span"
    );
    let e = &exemplars[0];
    assert_eq!(e.trace_id.as_ref(), trace_id.to_bytes());
    assert_eq!(e.span_id.as_ref(), span_id.to_bytes());
    assert_eq!(e.filtered_attributes, [KeyValue::new("user.id", "u-42")]);
    assert!(e.time_unix_nano > 0);
    // Drained at collection.
    let again = collect(client);
    let Some(MetricData::Histogram(h)) = &find(&again, "latency").data else {
        panic!("a histogram");
    };
    assert!(h.data_points[0].exemplars.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_exemplar_filter_decides_which_measurements_are_kept() {
    for (filter, expected) in [
        (ExemplarFilter::AlwaysOn, 1),
        (ExemplarFilter::AlwaysOff, 0),
    ] {
        let harness = harness(MetricsConfig::new().with_exemplar_filter(filter)).await;
        let counter = harness.client.meter("m").u64_counter("c").build();
        counter.add(7, &[]);
        counter.bind(&[]).record(1);
        let metrics = collect(&harness.client);
        let Some(MetricData::Sum(s)) = &find(&metrics, "c").data else {
            panic!("a sum");
        };
        assert_eq!(s.data_points[0].exemplars.len(), expected, "{filter:?}");
        if expected > 0 {
            let e = &s.data_points[0].exemplars[0];
            assert!(e.trace_id.is_empty(), "no span was current");
        }
    }
}
