//! The accounting invariant `accepted = exported + dropped + rejected + queued` under faults,
//! sampled continuously from another thread while the pipeline runs: receiver down then up, a
//! slow receiver, 503 with Retry-After, partial success, refusals, connection resets, shutdown
//! while the receiver is down, and the queue bound while the receiver stays down.

mod common;

use common::pipeline::{
    PATIENCE, Watch, check, resetting_server, span, span_set, wait_until_async,
};
use common::{config, receiver};
use otlp::pipeline::{AdaptiveBatchConfig, DropPolicy, Pipeline, SpanEncoder};
use otlp::{Exporter, ExporterConfig, Protocol, RetryPolicy};
use otlp_proto::Signal;
use otlp_proto::trace::Span;
use otlp_receiver::{MemorySink, Receiver, Refusal, ScriptedSink};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

fn batches_of(n: usize) -> AdaptiveBatchConfig {
    AdaptiveBatchConfig::default()
        .with_min_batch_size(n)
        .with_max_batch_size(n)
}

fn start(exporter: Exporter, config: AdaptiveBatchConfig) -> Pipeline<Span> {
    Pipeline::new(exporter, SpanEncoder::default(), config).expect("starts")
}

/// A loopback address nothing listens on (until a test starts something there).
fn free_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr")
}

fn dead_endpoint(addr: SocketAddr, retry: RetryPolicy) -> ExporterConfig {
    ExporterConfig::default()
        .with_protocol(Protocol::Grpc)
        .with_endpoint(format!("http://{addr}"))
        .with_timeout(Duration::from_secs(20))
        .with_retry(retry)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receiver_down_then_up_loses_nothing() {
    // Down: the port resets every connection until the receiver takes it over.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (attempts, down) = resetting_server(listener);
    // Enough quick retries to outlast the outage.
    let retry = RetryPolicy::default()
        .with_max_attempts(1000)
        .with_initial_backoff(Duration::from_millis(10))
        .with_max_backoff(Duration::from_millis(50));
    let pipeline = start(
        Exporter::new(dead_endpoint(addr, retry)).expect("exporter"),
        batches_of(10),
    );
    let watch = Watch::new(&pipeline, 10_000);
    for i in 0..100 {
        let _ = pipeline.enqueue(span(i, false));
    }
    wait_until_async("failed attempts", || attempts.load(Ordering::SeqCst) >= 3).await;
    assert_eq!(pipeline.stats().exported, 0);
    down.abort();
    let _ = down.await;
    let memory = MemorySink::new();
    let rx = Receiver::builder()
        .with_grpc_addr(addr)
        .without_http()
        .with_sink(memory.clone())
        .start()
        .await
        .expect("receiver starts on the same port");
    pipeline.force_flush(PATIENCE).await.expect("flushed");
    let s = pipeline.stats();
    assert_eq!(
        (s.exported, s.dropped.total(), s.queued),
        (100, 0, 0),
        "{s:?}"
    );
    assert!(s.retried >= 2, "{s:?}");
    assert_eq!(span_set(&memory.requests()), (0..100).collect());
    pipeline.shutdown(PATIENCE).await.expect("shut down");
    watch.finish();
    rx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_receiver_503_retry_after_and_partial_success_are_accounted() {
    let memory = MemorySink::new();
    let script = ScriptedSink::new(memory.clone())
        .then_delay(Duration::from_millis(150))
        .then_refuse(Refusal::unavailable("busy").with_retry_after(Duration::from_millis(50)))
        .then_partial(3, "three spans too old")
        .then_delay(Duration::from_millis(150));
    let rx = receiver(script.clone()).await;
    let exporter = Exporter::new(config(&rx, Protocol::Grpc)).expect("exporter");
    let pipeline = start(exporter, batches_of(10));
    let watch = Watch::new(&pipeline, 10_000);
    for i in 0..40 {
        let _ = pipeline.enqueue(span(i, false));
    }
    pipeline.force_flush(PATIENCE).await.expect("flushed");
    let s = pipeline.stats();
    // 4 batches; one was refused once then retried; one had 3 spans rejected.
    assert_eq!(
        (s.exported, s.rejected, s.dropped.total(), s.queued),
        (37, 3, 0, 0),
        "{s:?}"
    );
    assert_eq!((s.exports, s.retried), (4, 1), "{s:?}");
    assert_eq!(script.remaining_steps(), 0);
    assert_eq!(span_set(&memory.requests()), (0..40).collect());
    pipeline.shutdown(PATIENCE).await.expect("shut down");
    watch.finish();
    rx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_and_exhausted_retries_are_dropped_with_their_reason() {
    let memory = MemorySink::new();
    let script = ScriptedSink::new(memory.clone())
        .then_refuse(Refusal::invalid_argument("bad data"))
        .then_refuse(Refusal::unavailable("down"))
        .then_refuse(Refusal::unavailable("still down"));
    let rx = receiver(script).await;
    let exporter = Exporter::new(
        config(&rx, Protocol::HttpProtobuf).with_retry(common::fast_retry().with_max_attempts(2)),
    )
    .expect("exporter");
    let pipeline = start(exporter, batches_of(5));
    let watch = Watch::new(&pipeline, 10_000);
    for i in 0..15 {
        let _ = pipeline.enqueue(span(i, false));
    }
    pipeline.force_flush(PATIENCE).await.expect("flushed");
    let s = pipeline.stats();
    assert_eq!(s.dropped.non_retryable, 5, "{s:?}");
    assert_eq!(s.dropped.retries_exhausted, 5, "{s:?}");
    assert_eq!((s.exported, s.queued, s.retried), (5, 0, 1), "{s:?}");
    pipeline.shutdown(PATIENCE).await.expect("shut down");
    watch.finish();
    check(&pipeline.stats(), 10_000);
    rx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_resets_are_retried_then_dropped() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (_, resets) = resetting_server(listener);
    let retry = common::fast_retry().with_max_attempts(3);
    let pipeline = start(
        Exporter::new(dead_endpoint(addr, retry)).expect("exporter"),
        batches_of(10),
    );
    let watch = Watch::new(&pipeline, 10_000);
    for i in 0..20 {
        let _ = pipeline.enqueue(span(i, false));
    }
    pipeline.force_flush(PATIENCE).await.expect("flushed");
    let s = pipeline.stats();
    assert_eq!(
        (s.dropped.retries_exhausted, s.exported, s.queued),
        (20, 0, 0),
        "{s:?}"
    );
    assert_eq!(s.retried, 4, "two batches, two retries each: {s:?}");
    pipeline.shutdown(PATIENCE).await.expect("shut down");
    watch.finish();
    resets.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_while_the_receiver_is_down_drops_with_shutdown_timeout() {
    let retry = RetryPolicy::default()
        .with_max_attempts(1000)
        .with_initial_backoff(Duration::from_millis(10))
        .with_max_backoff(Duration::from_millis(50));
    let config = batches_of(10).with_max_concurrent_exports(2);
    let pipeline = start(
        Exporter::new(dead_endpoint(free_addr(), retry)).expect("exporter"),
        config,
    );
    let watch = Watch::new(&pipeline, 10_000);
    for i in 0..35 {
        let _ = pipeline.enqueue(span(i, false));
    }
    let err = pipeline
        .shutdown(Duration::from_millis(200))
        .await
        .expect_err("cannot finish while the receiver is down");
    assert!(err.is_timeout(), "{err}");
    assert!(err.to_string().contains("35 spans dropped"), "{err}");
    let s = pipeline.stats();
    assert_eq!(
        (s.dropped.shutdown_timeout, s.queued, s.exported),
        (35, 0, 0),
        "{s:?}"
    );
    assert_eq!(s.in_flight_exports, 0);
    // After shutdown: items are dropped with their reason, and a second shutdown is an error.
    let _ = pipeline.enqueue(span(99, false));
    let s = pipeline.stats();
    assert_eq!((s.accepted, s.dropped.after_shutdown), (36, 1));
    assert!(
        pipeline
            .shutdown(PATIENCE)
            .await
            .expect_err("twice")
            .is_shutdown()
    );
    assert!(
        pipeline
            .force_flush(PATIENCE)
            .await
            .expect_err("stopped")
            .is_shutdown()
    );
    watch.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_stays_bounded_while_the_receiver_is_down() {
    let retry = RetryPolicy::default()
        .with_max_attempts(1000)
        .with_initial_backoff(Duration::from_millis(10))
        .with_max_backoff(Duration::from_millis(50));
    let max_queue = 200;
    for policy in [
        DropPolicy::DropNewest,
        DropPolicy::DropOldest,
        DropPolicy::DropRandom,
    ] {
        let config = batches_of(50)
            .with_max_queue_size(max_queue)
            .with_drop_policy(policy);
        let pipeline = start(
            Exporter::new(dead_endpoint(free_addr(), retry.clone())).expect("exporter"),
            config,
        );
        let watch = Watch::new(&pipeline, max_queue);
        // Keep producing for a while: far more than the queue holds.
        for i in 0..50_000 {
            let _ = pipeline.enqueue(span(i, false));
            if i % 1000 == 0 {
                check(&pipeline.stats(), max_queue);
                tokio::task::yield_now().await;
            }
        }
        // Once a batch is stuck in flight and the next one encoded ahead, refill: the queue
        // is then exactly full.
        wait_until_async("a batch in flight", || {
            pipeline.stats().in_flight_exports == 1
        })
        .await;
        let held = (max_queue + 2 * 50) as u64;
        let mut next = 50_000;
        for _ in 0..500 {
            for _ in 0..1000 {
                let _ = pipeline.enqueue(span(next, false));
                next += 1;
            }
            let s = pipeline.stats();
            if s.queued == held && s.queue_length == max_queue {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let s = pipeline.stats();
        check(&s, max_queue);
        assert_eq!(s.queue_length, max_queue, "{policy:?}");
        // One batch in flight, one encoded ahead, the queue full, everything else dropped.
        assert_eq!(s.queued, held, "{policy:?}: {s:?}");
        assert_eq!(s.dropped.queue_full, s.accepted - s.queued, "{policy:?}");
        let _ = pipeline.shutdown(Duration::from_millis(50)).await;
        let s = pipeline.stats();
        assert_eq!(s.dropped.shutdown_timeout, held);
        let (_, longest) = watch.finish();
        assert!(longest <= max_queue);
    }
}

#[test]
fn metrics_logs_and_profiles_go_through_the_same_pipeline() {
    use otlp::pipeline::{LogEncoder, MetricEncoder, ProfilesEncoder};
    use otlp_proto::sample;
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let memory = MemorySink::new();
    let rx = rt.block_on(receiver(memory.clone()));
    let exporter = Exporter::new(config(&rx, Protocol::HttpJson)).expect("exporter");

    let logs = Pipeline::new(exporter.clone(), LogEncoder::default(), batches_of(2)).expect("logs");
    let records = sample::logs().resource_logs[0].scope_logs[0]
        .log_records
        .clone();
    for r in records.clone() {
        let _ = logs.enqueue(r);
    }
    logs.shutdown_blocking(PATIENCE).expect("logs");
    let metrics =
        Pipeline::new(exporter.clone(), MetricEncoder::default(), batches_of(2)).expect("metrics");
    let items = sample::metrics().resource_metrics[0].scope_metrics[0]
        .metrics
        .clone();
    for m in items.clone() {
        let _ = metrics.enqueue(m);
    }
    // The logs pipeline's own telemetry, as otel.sdk.* metrics, through the metrics pipeline.
    let sdk = logs.stats().to_otlp_metrics(10_000, 1, 2);
    for m in sdk.clone() {
        let _ = metrics.enqueue(m);
    }
    metrics.shutdown_blocking(PATIENCE).expect("metrics");
    let profiles = Pipeline::new(exporter, ProfilesEncoder, batches_of(4)).expect("profiles");
    for _ in 0..3 {
        let _ = profiles.enqueue(sample::profiles());
    }
    profiles.shutdown_blocking(PATIENCE).expect("profiles");

    assert_eq!(logs.stats().exported, records.len() as u64);
    assert_eq!(metrics.stats().exported, (items.len() + sdk.len()) as u64);
    let names: Vec<String> = memory
        .requests()
        .iter()
        .filter_map(|r| match &r.request {
            otlp_proto::Request::Metrics(m) => Some(m),
            _ => None,
        })
        .flat_map(|m| m.metrics())
        .map(|p| p.item.name.to_string())
        .collect();
    assert!(
        names
            .iter()
            .any(|n| n == "otel.sdk.processor.log.processed"),
        "{names:?}"
    );
    let p = profiles.stats();
    assert_eq!(
        (p.exported, p.exports),
        (3, 3),
        "one request per profiles item"
    );
    assert_eq!(memory.item_count(Signal::Logs), records.len());
    let points: usize = items.iter().chain(&sdk).map(|m| m.data_point_count()).sum();
    assert_eq!(memory.item_count(Signal::Metrics), points);
    assert_eq!(
        memory.item_count(Signal::Profiles),
        3 * otlp_proto::ExportRequest::item_count(&sample::profiles())
    );
    rt.block_on(rx.shutdown());
}
