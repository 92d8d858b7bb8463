//! The SDK's own metrics (`ClientConfig::with_self_metrics`): the pipelines' stats arrive at the
//! receiver as `otel.sdk.*` metrics with their component attributes, exported by the client's
//! metrics reader at its interval, and read a last time at shutdown.

mod common;

use common::child::in_child;
use common::pipeline::wait_until_async;
use otlp::metrics::MetricsConfig;
use otlp::pipeline::AdaptiveBatchConfig;
use otlp::trace::Sampler;
use otlp::{ClientConfig, ExporterConfig, OtlpClient, Protocol};
use otlp_proto::Request;
use otlp_proto::metrics::{Metric, MetricData, NumberValue};
use otlp_receiver::{MemorySink, RunningReceiver};
use std::time::{Duration, Instant};

const QUEUE: usize = 3000;

async fn client(receiver: &RunningReceiver, interval: Duration) -> OtlpClient {
    OtlpClient::new(
        ClientConfig::new()
            .with_exporter(common::config(receiver, Protocol::HttpProtobuf))
            .with_sampler(Sampler::AlwaysOn)
            .with_traces_pipeline(
                AdaptiveBatchConfig::default()
                    .with_max_queue_size(QUEUE)
                    .with_scheduled_delay(Duration::from_millis(20)),
            )
            .with_metrics(MetricsConfig::new().with_export_interval(Some(interval)))
            .with_self_metrics(true),
    )
    .await
    .expect("client")
}

/// Every metric received, in order of arrival.
fn metrics(sink: &MemorySink) -> Vec<Metric> {
    sink.requests()
        .into_iter()
        .filter_map(|r| match r.request {
            Request::Metrics(m) => Some(m),
            _ => None,
        })
        .flat_map(|m| m.metrics().map(|p| p.item.clone()).collect::<Vec<_>>())
        .collect()
}

fn attribute(attrs: &[otlp_proto::common::KeyValue], key: &str) -> Option<String> {
    attrs
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .and_then(|kv| kv.value.as_ref()?.as_str().map(str::to_owned))
}

/// The value of the last data point of the last `name` received without `error.type`, with
/// its component type and name.
fn last(metrics: &[Metric], name: &str) -> Option<(i64, String, String)> {
    let metric = metrics.iter().rev().find(|m| m.name.as_str() == name)?;
    let Some(MetricData::Sum(sum)) = &metric.data else {
        return None;
    };
    let point = sum
        .data_points
        .iter()
        .rev()
        .find(|p| attribute(&p.attributes, "error.type").is_none())?;
    let Some(NumberValue::AsInt(value)) = point.value else {
        return None;
    };
    Some((
        value,
        attribute(&point.attributes, "otel.component.type")?,
        attribute(&point.attributes, "otel.component.name")?,
    ))
}

fn value(metrics: &[Metric], name: &str) -> Option<i64> {
    last(metrics, name).map(|(v, _, _)| v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_arrive_on_a_timer_with_component_attributes() {
    let sink = MemorySink::new();
    let receiver = common::receiver(sink.clone()).await;
    let client = client(&receiver, Duration::from_millis(50)).await;
    let tracer = client.tracer("self-metrics");
    for i in 0..10 {
        tracer.in_span(format!("span {i}"), |_| {});
    }
    client
        .force_flush(Duration::from_secs(10))
        .await
        .expect("flush");
    let stats = client.stats();
    assert_eq!(stats.exported, 10);
    let snapshots = |m: &[Metric]| {
        m.iter()
            .filter(|m| m.name.as_str() == "otel.sdk.processor.span.processed")
            .count()
    };
    // Several snapshots, at the interval: not just one (waited for, as a loaded machine may
    // take a while to send the second).
    wait_until_async("two snapshots, the last after the flush", || {
        let m = metrics(&sink);
        snapshots(&m) >= 2
            && value(&m, "otel.sdk.exporter.span.exported") == Some(10)
            && value(&m, "otel.sdk.processor.span.processed") == Some(10)
    })
    .await;

    let got = metrics(&sink);
    let (processed, kind, processor) =
        last(&got, "otel.sdk.processor.span.processed").expect("processed");
    let handed_over = stats.exported
        + stats.rejected
        + stats.dropped.non_retryable
        + stats.dropped.retries_exhausted;
    assert_eq!(u64::try_from(processed).ok(), Some(handed_over));
    assert_eq!(kind, "batching_span_processor");
    let n = processor
        .strip_prefix("batching_span_processor/")
        .expect("name is type/n");
    assert!(n.parse::<u64>().is_ok(), "{processor}");
    let (size, _, size_of) = last(&got, "otel.sdk.processor.span.queue.size").expect("size");
    assert_eq!(usize::try_from(size).ok(), Some(stats.queue_length));
    assert_eq!(size_of, processor);
    assert_eq!(
        value(&got, "otel.sdk.processor.span.queue.capacity"),
        Some(QUEUE as i64)
    );
    let (exported, kind, exporter) =
        last(&got, "otel.sdk.exporter.span.exported").expect("exported");
    assert_eq!(u64::try_from(exported).ok(), Some(stats.exported));
    assert_eq!(kind, "otlp_http_span_exporter");
    assert!(
        exporter.starts_with("otlp_http_span_exporter/"),
        "{exporter}"
    );
    assert_eq!(
        u64::try_from(value(&got, "otel.sdk.exporter.span.inflight").expect("inflight")).ok(),
        Some(stats.queued - stats.queue_length as u64)
    );
    // The self-metrics went through a metrics pipeline, not the traces one.
    assert_eq!(client.stats().accepted, 10);

    client
        .shutdown(Duration::from_secs(10))
        .await
        .expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_sends_a_last_snapshot_without_waiting_for_the_timer() {
    let sink = MemorySink::new();
    let receiver = common::receiver(sink.clone()).await;
    let client = client(&receiver, Duration::from_secs(3600)).await;
    let tracer = client.tracer("self-metrics");
    for i in 0..7 {
        tracer.in_span(format!("span {i}"), |_| {});
    }
    let started = Instant::now();
    client
        .shutdown(Duration::from_secs(10))
        .await
        .expect("shutdown");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let got = metrics(&sink);
    assert_eq!(value(&got, "otel.sdk.exporter.span.exported"), Some(7));
    assert_eq!(value(&got, "otel.sdk.processor.span.processed"), Some(7));
    assert_eq!(
        got.iter()
            .filter(|m| m.name.as_str() == "otel.sdk.exporter.span.exported")
            .count(),
        1,
        "one snapshot: the last"
    );
}

#[test]
fn a_bad_variable_is_named() {
    let vars = [("OTLP_SELF_METRICS", "sometimes")];
    if !in_child("a_bad_variable_is_named", &vars) {
        return;
    }
    let config =
        || ClientConfig::new().with_exporter(ExporterConfig::default().with_disabled(true));
    let e = OtlpClient::new_blocking(config()).expect_err("not a boolean");
    assert!(e.is_config(), "{e}");
    assert!(e.to_string().contains("OTLP_SELF_METRICS"), "{e}");
    // Set in code, the setting wins over the variable.
    assert!(OtlpClient::new_blocking(config().with_self_metrics(false)).is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_logs_pipeline_is_described_once_it_started() {
    let sink = MemorySink::new();
    let receiver = common::receiver(sink.clone()).await;
    let client = client(&receiver, Duration::from_millis(50)).await;
    let tracer = client.tracer("self-metrics");
    tracer.in_span("one span", |_| {});
    client
        .force_flush(Duration::from_secs(10))
        .await
        .expect("flush");
    wait_until_async("a traces snapshot", || {
        value(&metrics(&sink), "otel.sdk.exporter.span.exported") == Some(1)
    })
    .await;
    assert!(
        value(&metrics(&sink), "otel.sdk.processor.log.processed").is_none(),
        "no logs pipeline yet, so no logs component"
    );
    for i in 0..3i64 {
        client.send_log(
            otlp::logs::LogBuilder::new()
                .with_body("hello")
                .with_attribute("i", i)
                .build(),
        );
    }
    client
        .force_flush(Duration::from_secs(10))
        .await
        .expect("flush");
    wait_until_async("a logs snapshot", || {
        value(&metrics(&sink), "otel.sdk.exporter.log.exported") == Some(3)
    })
    .await;
    let got = metrics(&sink);
    let (processed, kind, name) =
        last(&got, "otel.sdk.processor.log.processed").expect("log processor");
    assert_eq!(processed, 3);
    assert_eq!(kind, "batching_log_processor");
    assert!(name.starts_with("batching_log_processor/"), "{name}");
    let (_, kind, name) = last(&got, "otel.sdk.exporter.log.exported").expect("log exporter");
    assert_eq!(kind, "otlp_http_log_exporter");
    assert!(name.starts_with("otlp_http_log_exporter/"), "{name}");
    assert_eq!(client.logs_stats().exported, 3);
    // The traces components are still described, under their own names.
    assert_eq!(
        value(&got, "otel.sdk.exporter.span.exported"),
        Some(1),
        "spans still counted"
    );
    client
        .shutdown(Duration::from_secs(10))
        .await
        .expect("shutdown");
}
