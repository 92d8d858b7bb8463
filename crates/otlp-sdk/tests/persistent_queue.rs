//! The persistent queue: an outage held on disk and exported in order by the next process,
//! transient failures sent again rather than dropped, refusals for good not sent again, a torn
//! tail skipped and counted, the size cap, `persist`, and one process per directory.

mod common;

use common::pipeline::{PATIENCE, span, span_ids, wait_until_async};
use common::{config, receiver};
use otlp::pipeline::{AdaptiveBatchConfig, Fsync, PersistentQueue, Pipeline, SpanEncoder, Stats};
use otlp::{Exporter, ExporterConfig, Protocol, RetryPolicy};
use otlp_proto::trace::Span;
use otlp_receiver::{MemorySink, Refusal, ScriptedSink};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn queue(dir: &Path) -> PersistentQueue {
    PersistentQueue::new(dir)
        .with_max_bytes(8 << 20)
        .with_segment_bytes(64 << 10)
        .with_fsync(Fsync::EveryBatch)
}

fn batches(dir: &Path) -> AdaptiveBatchConfig {
    AdaptiveBatchConfig::default()
        .with_min_batch_size(10)
        .with_max_batch_size(10)
        .with_scheduled_delay(Duration::from_millis(20))
        .with_export_timeout(Duration::from_secs(5))
        .with_persistent_queue(queue(dir))
}

/// An exporter whose every export fails at once: nothing listens, and it does not retry.
fn unreachable() -> Exporter {
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr");
    Exporter::new(
        ExporterConfig::default()
            .with_protocol(Protocol::Grpc)
            .with_endpoint(format!("http://{addr}"))
            .with_timeout(Duration::from_secs(2))
            .with_retry(RetryPolicy::default().with_max_attempts(1)),
    )
    .expect("exporter")
}

fn start(exporter: Exporter, config: AdaptiveBatchConfig) -> Pipeline<Span> {
    Pipeline::new(exporter, SpanEncoder::default(), config).expect("pipeline starts")
}

fn dir(name: &str) -> PathBuf {
    test_support::temp_dir(&format!("pq-{name}"))
}

fn enqueue(pipeline: &Pipeline<Span>, range: std::ops::Range<usize>) {
    for i in range {
        assert!(pipeline.enqueue(span(i, false)).is_queued());
    }
}

/// A receiver, and a pipeline on `dir` sending to it.
async fn live(dir: &Path) -> (MemorySink, otlp_receiver::RunningReceiver, Pipeline<Span>) {
    let sink = MemorySink::new();
    let rx = receiver(sink.clone()).await;
    let pipeline = start(
        Exporter::new(config(&rx, Protocol::Grpc)).expect("exporter"),
        batches(dir),
    );
    (sink, rx, pipeline)
}

fn consistent(stats: &Stats) {
    assert!(stats.is_consistent(), "{stats:?}");
}

/// Runs a pipeline on `dir` against nothing: `n` spans end up on disk, none dropped.
async fn leave_on_disk(dir: &Path, n: usize) {
    let pipeline = start(unreachable(), batches(dir));
    enqueue(&pipeline, 0..n);
    wait_until_async("every span stored", || pipeline.stats().stored == n as u64).await;
    pipeline
        .shutdown(Duration::from_millis(300))
        .await
        .expect("a shutdown that leaves everything on disk is not a failure");
    let stats = pipeline.stats();
    consistent(&stats);
    assert_eq!(stats.dropped.total(), 0, "{stats:?}");
    assert_eq!(
        (stats.queued, stats.stored),
        (n as u64, n as u64),
        "{stats:?}"
    );
    assert!(stats.exports > 0, "exports were tried: {stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_is_held_on_disk_and_exported_in_order_by_the_next_process() {
    let dir = dir("outage");
    leave_on_disk(&dir, 95).await;

    let (sink, rx, pipeline) = live(&dir).await;
    let stats = pipeline.stats();
    assert_eq!(stats.recovered, 95, "{stats:?}");
    consistent(&stats);
    enqueue(&pipeline, 95..100);
    pipeline.force_flush(PATIENCE).await.expect("flushed");
    let stats = pipeline.stats();
    consistent(&stats);
    assert_eq!(
        (stats.exported, stats.queued, stats.stored),
        (100, 0, 0),
        "{stats:?}"
    );
    let order: Vec<usize> = span_ids(&sink.requests()).into_iter().flatten().collect();
    assert_eq!(order, (0..100).collect::<Vec<_>>(), "in order, each once");
    pipeline.shutdown(PATIENCE).await.expect("shutdown");

    // Acknowledged: a third start finds nothing.
    let pipeline = start(unreachable(), batches(&dir));
    assert_eq!(pipeline.stats().recovered, 0);
    rx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_failures_stay_on_disk_and_are_sent_again() {
    let dir = dir("transient");
    let sink = MemorySink::new();
    let scripted = ScriptedSink::new(sink.clone())
        .then_refuse(Refusal::unavailable("down for a moment"))
        .then_refuse(Refusal::unavailable("still down"));
    let rx = receiver(scripted).await;
    let exporter = Exporter::new(
        config(&rx, Protocol::HttpProtobuf).with_retry(RetryPolicy::default().with_max_attempts(1)),
    )
    .expect("exporter");
    let pipeline = start(exporter, batches(&dir));
    enqueue(&pipeline, 0..30);
    pipeline.force_flush(PATIENCE).await.expect("flushed");
    let stats = pipeline.stats();
    consistent(&stats);
    assert_eq!(stats.dropped.total(), 0, "{stats:?}");
    assert_eq!(stats.exported, 30, "{stats:?}");
    assert!(
        stats.exports >= 5,
        "two failures, then three batches: {stats:?}"
    );
    let mut got: Vec<usize> = span_ids(&sink.requests()).into_iter().flatten().collect();
    got.sort_unstable();
    assert_eq!(got, (0..30).collect::<Vec<_>>(), "each once");
    pipeline.shutdown(PATIENCE).await.expect("shutdown");
    rx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_for_good_is_dropped_and_not_sent_again_after_a_restart() {
    let dir = dir("refused");
    let scripted = ScriptedSink::new(MemorySink::new())
        .then_refuse(Refusal::invalid_argument("no such thing"));
    let rx = receiver(scripted).await;
    let pipeline = start(
        Exporter::new(config(&rx, Protocol::Grpc)).expect("exporter"),
        batches(&dir),
    );
    enqueue(&pipeline, 0..10);
    pipeline.force_flush(PATIENCE).await.expect("settled");
    let stats = pipeline.stats();
    consistent(&stats);
    assert_eq!(stats.dropped.non_retryable, 10, "{stats:?}");
    pipeline.shutdown(PATIENCE).await.expect("shutdown");
    let pipeline = start(unreachable(), batches(&dir));
    assert_eq!(pipeline.stats().recovered, 0, "{:?}", pipeline.stats());
    rx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_torn_tail_is_skipped_and_counted_and_the_rest_is_exported() {
    let dir = dir("torn");
    leave_on_disk(&dir, 30).await;
    let mut segments: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("list")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "wal"))
        .collect();
    segments.sort();
    let last = segments.pop().expect("a segment");
    let len = std::fs::metadata(&last).expect("metadata").len();
    // A crash in the middle of writing the last batch.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&last)
        .expect("open")
        .set_len(len - 7)
        .expect("cut");

    let (sink, rx, pipeline) = live(&dir).await;
    let stats = pipeline.stats();
    assert_eq!(
        (stats.recovered, stats.corrupt_records),
        (20, 1),
        "{stats:?}"
    );
    pipeline.force_flush(PATIENCE).await.expect("flushed");
    let stats = pipeline.stats();
    consistent(&stats);
    assert_eq!(stats.exported, 20, "{stats:?}");
    let order: Vec<usize> = span_ids(&sink.requests()).into_iter().flatten().collect();
    assert_eq!(order, (0..20).collect::<Vec<_>>());
    pipeline.shutdown(PATIENCE).await.expect("shutdown");
    rx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_log_leaves_items_to_the_memory_queues_drop_policy() {
    let dir = dir("full");
    let config = AdaptiveBatchConfig::default()
        .with_min_batch_size(10)
        .with_max_batch_size(10)
        .with_max_queue_size(50)
        .with_scheduled_delay(Duration::from_millis(10))
        .with_persistent_queue(
            PersistentQueue::new(&dir)
                .with_max_bytes(1 << 20)
                .with_fsync(Fsync::Never),
        );
    let pipeline = start(unreachable(), config);
    let big = "x".repeat(8 << 10);
    for i in 0..400 {
        let mut s = span(i, false);
        s.attributes.push(otlp_proto::common::KeyValue::new(
            "payload",
            otlp_proto::common::AnyValue::from(big.clone()),
        ));
        let _ = pipeline.enqueue(s);
        if i % 10 == 0 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    wait_until_async("the log to fill", || {
        pipeline.stats().stored_bytes >= 1 << 20
    })
    .await;
    let stats = pipeline.stats();
    consistent(&stats);
    assert!(stats.dropped.queue_full > 0, "{stats:?}");
    assert!(
        stats.stored_bytes < (1 << 20) + (200 << 10),
        "the cap plus one batch at most: {stats:?}"
    );
    assert!(stats.queue_length <= 50, "{stats:?}");
    pipeline
        .shutdown(Duration::from_millis(200))
        .await
        .expect_err("the items left in memory at the deadline are dropped");
    consistent(&pipeline.stats());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persist_writes_what_is_queued_and_needs_a_persistent_queue() {
    let dir = dir("persist");
    let config = batches(&dir).with_scheduled_delay(Duration::from_secs(3600));
    let pipeline = start(unreachable(), config);
    enqueue(&pipeline, 0..5);
    assert_eq!(pipeline.stats().stored, 0, "not due yet");
    pipeline.persist().await.expect("persisted");
    let stats = pipeline.stats();
    assert_eq!((stats.stored, stats.queue_length), (5, 0), "{stats:?}");
    consistent(&stats);

    let plain = Pipeline::new(
        unreachable(),
        SpanEncoder::default(),
        AdaptiveBatchConfig::default(),
    )
    .expect("starts");
    let err = plain.persist().await.expect_err("no persistent queue");
    assert!(
        err.is_config() && err.to_string().contains("no persistent queue"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_in_use_is_refused_by_name() {
    let dir = dir("in-use");
    let _first = start(unreachable(), batches(&dir));
    let err = Pipeline::new(unreachable(), SpanEncoder::default(), batches(&dir))
        .expect_err("the directory is locked");
    assert!(err.is_storage(), "{err}");
    assert!(err.to_string().contains("in use"), "{err}");
    assert!(
        err.to_string().contains(&dir.display().to_string()),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_keeps_each_signal_in_a_subdirectory_and_the_next_client_sends_it() {
    let dir = dir("client");
    let queue = PersistentQueue::new(&dir).with_fsync(Fsync::Never);
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr");
    let down = ExporterConfig::default()
        .with_protocol(Protocol::HttpProtobuf)
        .with_endpoint(format!("http://{addr}"))
        .with_retry(RetryPolicy::default().with_max_attempts(1));
    let client = otlp::OtlpClient::new(
        otlp::ClientConfig::new()
            .with_exporter(down)
            .with_persistent_queue(queue.clone()),
    )
    .await
    .expect("client");
    let tracer = client.tracer("persisted");
    for i in 0..25 {
        tracer.span_builder(format!("op{i}")).start().end();
    }
    for i in 0..7 {
        client
            .send_log(
                otlp::logs::LogBuilder::new()
                    .with_body(format!("line {i}"))
                    .build(),
            )
            .await
            .expect("queued");
    }
    client.persist().await.expect("persisted");
    assert_eq!(
        client.stats_for(otlp::Signal::Traces).stored,
        25,
        "on disk now"
    );
    client
        .shutdown(Duration::from_secs(2))
        .await
        .expect("what is left stays on disk");
    assert_eq!(client.stats_for(otlp::Signal::Traces).stored, 25);
    assert_eq!(client.stats_for(otlp::Signal::Logs).stored, 7);
    for signal in ["traces", "logs"] {
        assert!(dir.join(signal).join("LOCK").exists(), "{signal}/ was used");
    }

    let sink = MemorySink::new();
    let rx = receiver(sink.clone()).await;
    let plain = otlp::OtlpClient::new(
        otlp::ClientConfig::new().with_exporter(config(&rx, Protocol::HttpProtobuf)),
    )
    .await
    .expect("client");
    let err = plain.persist().await.expect_err("no persistent queue");
    assert!(err.is_config(), "{err}");
    let client = otlp::OtlpClient::new(
        otlp::ClientConfig::new()
            .with_exporter(config(&rx, Protocol::HttpProtobuf))
            .with_persistent_queue(queue),
    )
    .await
    .expect("client");
    // Pipelines start with their signal's first item.
    tracer_and_log(&client).await;
    client.force_flush(PATIENCE).await.expect("flushed");
    let traces = client.stats_for(otlp::Signal::Traces);
    let logs = client.stats_for(otlp::Signal::Logs);
    assert_eq!((traces.recovered, traces.exported), (25, 26), "{traces:?}");
    assert_eq!((logs.recovered, logs.exported), (7, 8), "{logs:?}");
    client.shutdown(PATIENCE).await.expect("shutdown");
    rx.shutdown().await;
}

async fn tracer_and_log(client: &otlp::OtlpClient) {
    client
        .tracer("persisted")
        .span_builder("after")
        .start()
        .end();
    client
        .send_log(otlp::logs::LogBuilder::new().with_body("after").build())
        .await
        .expect("queued");
}
