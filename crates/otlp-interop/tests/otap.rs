//! Our OTLP/Arrow exporter (`Protocol::Otap`) against the real Collector's `otelarrowreceiver`
//! (`peercol` v0.148.0, built by `interop/build-peers.sh`): what the pipelines send comes out
//! of the Collector's file exporter field for field equal, after `otlp_otap::normalize_*` (what
//! OTAP does not carry), with the items of each scope in one order (the Go decoder gives
//! spans back in its own order) and the entries of map values sorted by key (it decodes them
//! through Go maps, whose order is random), for traces, logs and metrics; then the Collector restarts while a
//! pipeline streams, and nothing is lost, the accounting balanced.

use otlp::pipeline::{
    AdaptiveBatchConfig, LogEncoder, MetricEncoder, Pipeline, SpanEncoder, Stats,
};
use otlp::{Exporter, ExporterConfig, Protocol, RetryPolicy};
use otlp_interop::compare::assert_same_in_any_order as assert_same;
use otlp_interop::{Collector, temp_dir};
use otlp_proto::collector::ExportTraceServiceRequest;
use otlp_proto::common::KeyValue;
use otlp_proto::trace::Span;
use otlp_proto::{Request, Signal, sample};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

fn exporter_config(collector: &Collector) -> ExporterConfig {
    ExporterConfig::new()
        .with_protocol(Protocol::Otap)
        .with_endpoint(format!("http://{}", collector.arrow))
        .with_timeout(WAIT)
        .with_retry(
            RetryPolicy::default()
                .with_max_attempts(1000)
                .with_initial_backoff(Duration::from_millis(100))
                .with_max_backoff(Duration::from_millis(500)),
        )
}

fn exporter(collector: &Collector) -> Exporter {
    Exporter::new(exporter_config(collector)).expect("exporter")
}

/// One batch per flush: the Collector writes each batch as one line.
fn one_batch() -> AdaptiveBatchConfig {
    AdaptiveBatchConfig::default()
        .with_max_batch_size(10_000)
        .with_scheduled_delay(Duration::from_secs(3600))
        .with_export_timeout(WAIT)
}

fn assert_balanced(stats: &Stats, exported: u64) {
    assert!(stats.is_consistent(), "{stats:?}");
    assert_eq!(stats.queued, 0, "{stats:?}");
    assert_eq!(stats.exported, exported, "{stats:?}");
    assert_eq!(stats.dropped.total(), 0, "{stats:?}");
}

/// The first resource and scope of `request`, only: the single-scope encoders' shape.
fn first_group_traces(mut r: ExportTraceServiceRequest) -> ExportTraceServiceRequest {
    r.resource_spans.truncate(1);
    r.resource_spans[0].scope_spans.truncate(1);
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_logs_and_metrics_through_the_otelarrow_receiver_come_back_equal() {
    let dir = temp_dir("otap-equal");
    let collector = tokio::task::spawn_blocking(move || Collector::start(&dir, None))
        .await
        .expect("join");

    let traces = first_group_traces(sample::traces());
    let (rs, ss) = (
        &traces.resource_spans[0],
        &traces.resource_spans[0].scope_spans[0],
    );
    let pipeline = Pipeline::new(
        exporter(&collector),
        SpanEncoder::new(rs.resource.clone(), ss.scope.clone())
            .with_schema_url(ss.schema_url.clone()),
        one_batch(),
    )
    .expect("pipeline");
    for s in &ss.spans {
        let _ = pipeline.enqueue(s.clone());
    }
    pipeline.force_flush(WAIT).await.expect("flushed");
    assert_balanced(&pipeline.stats(), ss.spans.len() as u64);
    // The encoder writes no resource schema URL: the request it sends has none.
    let mut sent = traces.clone();
    sent.resource_spans[0].schema_url = Default::default();
    let got = collector.read_output(Signal::Traces, 1, WAIT);
    let Request::Traces(got) = got[0].clone() else {
        panic!("not traces")
    };
    assert_same(
        "traces",
        &Request::Traces(otlp_otap::normalize_traces(sent)),
        &Request::Traces(otlp_otap::normalize_traces(got)),
    );

    let mut logs = sample::logs();
    logs.resource_logs.truncate(1);
    logs.resource_logs[0].scope_logs.truncate(1);
    logs.resource_logs[0].schema_url = Default::default();
    logs.resource_logs[0].scope_logs[0].schema_url = Default::default();
    let (rl, sl) = (&logs.resource_logs[0], &logs.resource_logs[0].scope_logs[0]);
    let pipeline = Pipeline::new(
        exporter(&collector),
        LogEncoder::new(rl.resource.clone(), sl.scope.clone()),
        one_batch(),
    )
    .expect("pipeline");
    for r in &sl.log_records {
        let _ = pipeline.enqueue(r.clone());
    }
    pipeline.force_flush(WAIT).await.expect("flushed");
    assert_balanced(&pipeline.stats(), sl.log_records.len() as u64);
    let got = collector.read_output(Signal::Logs, 1, WAIT);
    let Request::Logs(got) = got[0].clone() else {
        panic!("not logs")
    };
    assert_same(
        "logs",
        &Request::Logs(otlp_otap::normalize_logs(logs)),
        &Request::Logs(otlp_otap::normalize_logs(got)),
    );

    let mut metrics = sample::metrics();
    metrics.resource_metrics.truncate(1);
    metrics.resource_metrics[0].scope_metrics.truncate(1);
    metrics.resource_metrics[0].schema_url = Default::default();
    metrics.resource_metrics[0].scope_metrics[0].schema_url = Default::default();
    let (rm, sm) = (
        &metrics.resource_metrics[0],
        &metrics.resource_metrics[0].scope_metrics[0],
    );
    let pipeline = Pipeline::new(
        exporter(&collector),
        MetricEncoder::new(rm.resource.clone(), sm.scope.clone()),
        one_batch(),
    )
    .expect("pipeline");
    for m in &sm.metrics {
        let _ = pipeline.enqueue(m.clone());
    }
    pipeline.force_flush(WAIT).await.expect("flushed");
    assert_balanced(&pipeline.stats(), sm.metrics.len() as u64);
    let got = collector.read_output(Signal::Metrics, 1, WAIT);
    let Request::Metrics(got) = got[0].clone() else {
        panic!("not metrics")
    };
    assert_same(
        "metrics",
        &Request::Metrics(otlp_otap::normalize_metrics(metrics)),
        &Request::Metrics(otlp_otap::normalize_metrics(got)),
    );
}

/// Span `i` of the restart run: an id unique to it.
fn span(i: u64) -> Span {
    let mut span = sample::traces().resource_spans[0].scope_spans[0].spans[0].clone();
    span.span_id = bytes::Bytes::copy_from_slice(&(0x1000 + i).to_be_bytes());
    span.name = format!("span {i}").into();
    span.attributes.push(KeyValue::new("i", i as i64));
    span
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_restart_mid_stream_loses_nothing() {
    const SPANS: u64 = 300;
    const STOP_AT: u64 = 100;
    let dir = temp_dir("otap-restart");
    let collector = tokio::task::spawn_blocking(move || Collector::start(&dir, None))
        .await
        .expect("join");
    // A stopping Collector serves the streams it has until they end (gRPC's graceful stop):
    // streams that rotate often let it go down while spans keep coming.
    let exporter = Exporter::new(
        exporter_config(&collector).with_otap_max_stream_lifetime(Duration::from_secs(1)),
    )
    .expect("exporter");
    let pipeline = Pipeline::new(
        exporter,
        SpanEncoder::default(),
        AdaptiveBatchConfig::default()
            .with_min_batch_size(10)
            .with_max_batch_size(10)
            .with_scheduled_delay(Duration::from_millis(20))
            .with_export_timeout(WAIT),
    )
    .expect("pipeline");

    // The restart runs on its own thread while spans go on: SIGTERM, a moment down, then the
    // same config on the same ports.
    let (stop, restarter) = collector.restart_when_told(Duration::from_secs(2));
    for i in 0..SPANS {
        if i == STOP_AT {
            stop.send(()).expect("signal the restarter");
        }
        let _ = pipeline.enqueue(span(i));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let collector = tokio::task::spawn_blocking(move || restarter.join().expect("restarter"))
        .await
        .expect("join");
    pipeline.force_flush(WAIT).await.expect("flushed");
    let stats = pipeline.stats();
    assert_balanced(&stats, SPANS);
    assert!(
        stats.retried > 0,
        "nothing was retried across the restart: {stats:?}"
    );

    // Every span on the Collector's side, over both runs (the file exporter appends); one the
    // first run wrote but whose acknowledgement was lost in the shutdown comes twice.
    let deadline = std::time::Instant::now() + WAIT;
    let ids = loop {
        let ids = collector.span_id_counts();
        if ids.len() as u64 >= SPANS || std::time::Instant::now() >= deadline {
            break ids;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let missing: Vec<u64> = (0..SPANS)
        .filter(|i| !ids.contains_key((0x1000 + i).to_be_bytes().as_slice()))
        .collect();
    assert!(missing.is_empty(), "spans lost: {missing:?}");
}
