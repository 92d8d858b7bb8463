//! The pipeline against the in-process receiver: batching by size and by delay, byte-cap
//! splitting, drop policies, backpressure and concurrent exports. No test measures time; every
//! wait is bounded.

mod common;

use common::pipeline::{Gate, PATIENCE, Watch, check, span, span_ids, span_set, wait_until};
use common::{config, receiver};
use otlp::pipeline::{
    AdaptiveBatchConfig, Backpressure, DropPolicy, DropReason, Enqueued, Pipeline, SpanEncoder,
};
use otlp::{Exporter, Protocol};
use otlp_proto::Signal;
use otlp_proto::trace::Span;
use otlp_receiver::MemorySink;
use std::collections::BTreeSet;
use std::time::Duration;

/// Batches of exactly `n`, sent only when full (or flushed).
fn fixed(n: usize) -> AdaptiveBatchConfig {
    AdaptiveBatchConfig::default()
        .with_min_batch_size(n)
        .with_max_batch_size(n)
        .with_scheduled_delay(Duration::from_secs(3600))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn full_batches_leave_at_the_batch_size_and_flush_sends_the_rest() {
    for protocol in [Protocol::Grpc, Protocol::HttpJson] {
        let memory = MemorySink::new();
        let rx = receiver(memory.clone()).await;
        let exporter = Exporter::new(config(&rx, protocol)).expect("exporter");
        let pipeline = Pipeline::new(exporter, SpanEncoder::default(), fixed(10)).expect("starts");
        let watch = Watch::new(&pipeline, 10_000);
        for i in 0..35 {
            assert_eq!(pipeline.enqueue(span(i, false)), Enqueued::Queued);
        }
        common::pipeline::wait_until_async("three full batches", || {
            pipeline.stats().exported == 30
        })
        .await;
        let sizes: Vec<usize> = span_ids(&memory.requests()).iter().map(Vec::len).collect();
        assert_eq!(sizes, [10, 10, 10], "{protocol}");
        let s = pipeline.stats();
        assert_eq!(
            (s.accepted, s.exported, s.queued),
            (35, 30, 5),
            "{protocol}"
        );
        pipeline.force_flush(PATIENCE).await.expect("flushed");
        assert_eq!(
            span_set(&memory.requests()),
            (0..35).collect(),
            "{protocol}"
        );
        let s = pipeline.stats();
        assert_eq!((s.exported, s.queued, s.exports), (35, 0, 4), "{protocol}");
        pipeline.shutdown(PATIENCE).await.expect("shut down");
        watch.finish();
        rx.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn a_partial_batch_leaves_after_the_scheduled_delay() {
    let memory = MemorySink::new();
    let rx = receiver(memory.clone()).await;
    let exporter = Exporter::new(config(&rx, Protocol::Grpc)).expect("exporter");
    let config = fixed(1000).with_scheduled_delay(Duration::from_millis(50));
    let pipeline = Pipeline::new(exporter, SpanEncoder::default(), config).expect("starts");
    for i in 0..3 {
        let _ = pipeline.enqueue(span(i, false));
    }
    // No flush: only the delay can send a batch of 3 when batches are 1000.
    common::pipeline::wait_until_async("the delayed batch", || {
        memory.item_count(Signal::Traces) == 3
    })
    .await;
    assert_eq!(span_ids(&memory.requests()), [vec![0, 1, 2]]);
    pipeline.shutdown(PATIENCE).await.expect("shut down");
    rx.shutdown().await;
}

fn big_span(i: usize) -> Span {
    Span {
        name: format!("s{i}").into(),
        attributes: vec![otlp_proto::common::KeyValue::new("pad", "x".repeat(300))],
        ..span(i, false)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn a_batch_over_the_byte_cap_is_split_and_nothing_is_lost() {
    for protocol in [Protocol::Grpc, Protocol::HttpJson] {
        let memory = MemorySink::new();
        let rx = receiver(memory.clone()).await;
        let exporter = Exporter::new(config(&rx, protocol)).expect("exporter");
        let cap = 2_000;
        let config = fixed(50).with_max_batch_bytes(cap);
        let pipeline = Pipeline::new(exporter, SpanEncoder::default(), config).expect("starts");
        for i in 0..50 {
            let _ = pipeline.enqueue(big_span(i));
        }
        pipeline.force_flush(PATIENCE).await.expect("flushed");
        let requests = memory.requests();
        assert_eq!(span_set(&requests), (0..50).collect(), "{protocol}");
        // ~350 bytes per span (JSON: more): at least 50 * 350 / 2000 requests, each under the cap.
        assert!(
            requests.len() >= 9,
            "{protocol}: {} requests",
            requests.len()
        );
        for r in &requests {
            assert!(
                r.wire_bytes <= cap + 5,
                "{protocol}: {} bytes",
                r.wire_bytes
            );
        }
        let s = pipeline.stats();
        assert_eq!((s.exported, s.exports as usize), (50, requests.len()));
        pipeline.shutdown(PATIENCE).await.expect("shut down");
        rx.shutdown().await;
    }
}

/// The worker skips the size estimates when the last body's rate puts a batch far under the
/// cap; a batch of much larger items after small ones is then found over the cap once encoded,
/// and split all the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn larger_items_after_small_ones_are_split_under_the_cap() {
    let memory = MemorySink::new();
    let rx = receiver(memory.clone()).await;
    let exporter = Exporter::new(config(&rx, Protocol::Grpc)).expect("exporter");
    let cap = 20_000;
    let config = fixed(50).with_max_batch_bytes(cap);
    let pipeline = Pipeline::new(exporter, SpanEncoder::default(), config).expect("starts");
    for i in 0..50 {
        let _ = pipeline.enqueue(span(1000 + i, false));
    }
    pipeline.force_flush(PATIENCE).await.expect("flushed");
    assert_eq!(memory.len(), 1, "50 small spans fit in one request");
    memory.clear();
    for i in 0..50 {
        let _ = pipeline.enqueue(Span {
            attributes: vec![otlp_proto::common::KeyValue::new("pad", "x".repeat(3_000))],
            ..span(i, false)
        });
    }
    pipeline.force_flush(PATIENCE).await.expect("flushed");
    let requests = memory.requests();
    assert_eq!(span_set(&requests), (0..50).collect());
    // ~3,050 bytes a span: at most 6 in a request under the cap.
    assert!(requests.len() >= 9, "{} requests", requests.len());
    for r in &requests {
        assert!(r.wire_bytes <= cap + 5, "{} bytes", r.wire_bytes);
    }
    let s = pipeline.stats();
    assert_eq!((s.exported, s.exports as usize), (100, requests.len() + 1));
    pipeline.shutdown(PATIENCE).await.expect("shut down");
    rx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn a_single_item_over_the_cap_is_sent_alone() {
    let memory = MemorySink::new();
    let rx = receiver(memory.clone()).await;
    let exporter = Exporter::new(config(&rx, Protocol::Grpc)).expect("exporter");
    let pipeline = Pipeline::new(
        exporter,
        SpanEncoder::default(),
        fixed(3).with_max_batch_bytes(100),
    )
    .expect("starts");
    for i in 0..3 {
        let _ = pipeline.enqueue(big_span(i));
    }
    pipeline.force_flush(PATIENCE).await.expect("flushed");
    assert_eq!(span_ids(&memory.requests()), [vec![0], vec![1], vec![2]]);
    pipeline.shutdown(PATIENCE).await.expect("shut down");
    rx.shutdown().await;
}

// The gated tests wait with `wait_until`, blocking the test's own thread: the gate blocks a
// runtime worker while it holds a request, which can stall that runtime's timers.

/// A queue of 5 and batches of 1, with span 0 held by the gate and span 1 encoded ahead of it,
/// so that spans 2..=9 meet a full queue. Returns the spans that arrived and the final stats.
async fn overflow(
    policy: DropPolicy,
    errors: &[usize],
) -> (BTreeSet<usize>, otlp::pipeline::Stats) {
    let gate = Gate::default();
    let rx = receiver(gate.clone()).await;
    let exporter = Exporter::new(config(&rx, Protocol::Grpc)).expect("exporter");
    let config = fixed(1).with_max_queue_size(5).with_drop_policy(policy);
    let pipeline = Pipeline::new(exporter, SpanEncoder::default(), config).expect("starts");
    let _ = pipeline.enqueue(span(0, false));
    wait_until("span 0 held", || gate.inside() == 1);
    let _ = pipeline.enqueue(span(1, false));
    wait_until("span 1 encoded ahead", || {
        pipeline.stats().queue_length == 0
    });
    for i in 2..=9 {
        let _ = pipeline.enqueue(span(i, errors.contains(&i)));
        check(&pipeline.stats(), 5);
    }
    let s = pipeline.stats();
    assert_eq!(
        (s.accepted, s.queue_length, s.dropped.queue_full),
        (10, 5, 3)
    );
    gate.open();
    pipeline.shutdown(PATIENCE).await.expect("shut down");
    let stats = pipeline.stats();
    check(&stats, 5);
    rx.shutdown().await;
    (span_set(&gate.requests()), stats)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn drop_newest_keeps_the_first_items() {
    let (got, s) = overflow(DropPolicy::DropNewest, &[]).await;
    assert_eq!(got, BTreeSet::from([0, 1, 2, 3, 4, 5, 6]));
    assert_eq!((s.exported, s.dropped.queue_full), (7, 3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn drop_oldest_keeps_the_last_items() {
    let (got, s) = overflow(DropPolicy::DropOldest, &[]).await;
    assert_eq!(got, BTreeSet::from([0, 1, 5, 6, 7, 8, 9]));
    assert_eq!((s.exported, s.dropped.queue_full), (7, 3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn drop_random_keeps_the_bound_and_the_count() {
    let (got, s) = overflow(DropPolicy::DropRandom, &[]).await;
    assert_eq!(got.len(), 7);
    assert!(got.contains(&0) && got.contains(&1));
    assert_eq!((s.exported, s.dropped.queue_full), (7, 3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn drop_low_priority_keeps_every_error_span() {
    let errors = [3, 7, 9];
    let (got, s) = overflow(DropPolicy::DropLowPriority, &errors).await;
    // 2-6 fill the queue; 7 (error) displaces 6, 8 is dropped, 9 (error) displaces 5.
    assert_eq!(got, BTreeSet::from([0, 1, 2, 3, 4, 7, 9]));
    assert!(errors.iter().all(|e| got.contains(e)));
    assert_eq!((s.exported, s.dropped.queue_full), (7, 3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn backpressure_waits_for_room_then_applies_the_policy() {
    let gate = Gate::default();
    let rx = receiver(gate.clone()).await;
    let exporter = Exporter::new(config(&rx, Protocol::Grpc)).expect("exporter");
    let config = fixed(1)
        .with_max_queue_size(2)
        .with_drop_policy(DropPolicy::DropNewest)
        .with_backpressure(Backpressure::Wait(PATIENCE));
    let pipeline = Pipeline::new(exporter, SpanEncoder::default(), config).expect("starts");
    let _ = pipeline.enqueue(span(0, false));
    wait_until("span 0 held", || gate.inside() == 1);
    // The next full batch is encoded ahead while span 0 is on the wire.
    let _ = pipeline.enqueue(span(1, false));
    wait_until("span 1 encoded ahead", || {
        pipeline.stats().queue_length == 0
    });
    let _ = pipeline.enqueue(span(2, false));
    let _ = pipeline.enqueue(span(3, false));
    // The queue is full: this producer waits.
    let p = pipeline.clone();
    let producer = std::thread::spawn(move || p.enqueue(span(4, false)));
    wait_until("the producer to be counted", || {
        pipeline.stats().accepted == 5
    });
    assert!(!producer.is_finished(), "waits while the queue is full");
    assert_eq!(pipeline.stats().queue_length, 2);
    gate.open();
    let outcome = tokio::task::spawn_blocking(move || producer.join().expect("joins"))
        .await
        .expect("joined");
    assert_eq!(outcome, Enqueued::Queued, "room was made");
    pipeline.shutdown(PATIENCE).await.expect("shut down");
    assert_eq!(span_set(&gate.requests()), (0..5).collect());
    rx.shutdown().await;

    // With a short wait and no room, the policy applies after the wait.
    let gate = Gate::default();
    let rx = receiver(gate.clone()).await;
    let exporter = Exporter::new(common::config(&rx, Protocol::Grpc)).expect("exporter");
    let config = fixed(1)
        .with_max_queue_size(1)
        .with_drop_policy(DropPolicy::DropNewest)
        .with_backpressure(Backpressure::Wait(Duration::from_millis(20)));
    let pipeline = Pipeline::new(exporter, SpanEncoder::default(), config).expect("starts");
    let _ = pipeline.enqueue(span(0, false));
    wait_until("span 0 held", || gate.inside() == 1);
    let _ = pipeline.enqueue(span(1, false));
    wait_until("span 1 encoded ahead", || {
        pipeline.stats().queue_length == 0
    });
    let _ = pipeline.enqueue(span(2, false));
    let p = pipeline.clone();
    let late = tokio::task::spawn_blocking(move || p.enqueue(span(3, false)))
        .await
        .expect("returns");
    assert_eq!(late, Enqueued::Dropped(DropReason::QueueFull));
    gate.open();
    pipeline.shutdown(PATIENCE).await.expect("shut down");
    let s = pipeline.stats();
    assert_eq!((s.exported, s.dropped.queue_full), (3, 1));
    rx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 6)]
async fn several_exports_overlap_up_to_the_limit() {
    let gate = Gate::default();
    let rx = receiver(gate.clone()).await;
    let exporter = Exporter::new(config(&rx, Protocol::Grpc)).expect("exporter");
    let config = fixed(1).with_max_concurrent_exports(3);
    let pipeline = Pipeline::new(exporter, SpanEncoder::default(), config).expect("starts");
    for i in 0..6 {
        let _ = pipeline.enqueue(span(i, false));
    }
    wait_until("three requests held at once", || gate.inside() == 3);
    // One more batch is encoded ahead, ready for the first free slot.
    wait_until("the next batch encoded ahead", || {
        pipeline.stats().queue_length == 2
    });
    let s = pipeline.stats();
    assert_eq!((s.in_flight_exports, s.queue_length, s.queued), (3, 2, 6));
    gate.open();
    pipeline.force_flush(PATIENCE).await.expect("flushed");
    assert_eq!(gate.max_inside(), 3, "never more than the limit");
    assert_eq!(span_set(&gate.requests()), (0..6).collect());
    pipeline.shutdown(PATIENCE).await.expect("shut down");
    rx.shutdown().await;
}

#[test]
fn many_threads_enqueue_and_every_item_is_accounted() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let memory = MemorySink::new();
    let rx = rt.block_on(receiver(memory.clone()));
    let exporter = Exporter::new(config(&rx, Protocol::Grpc)).expect("exporter");
    let pipeline = Pipeline::new(
        exporter,
        SpanEncoder::default(),
        AdaptiveBatchConfig::default().with_max_queue_size(100_000),
    )
    .expect("starts");
    let watch = Watch::new(&pipeline, 100_000);
    std::thread::scope(|s| {
        for t in 0..4 {
            let p = &pipeline;
            let _ = s.spawn(move || {
                for i in 0..5_000 {
                    let _ = p.enqueue(span(t * 5_000 + i, false));
                }
            });
        }
    });
    pipeline.shutdown_blocking(PATIENCE).expect("shut down");
    watch.finish();
    let s = pipeline.stats();
    assert_eq!((s.accepted, s.exported, s.queued), (20_000, 20_000, 0));
    wait_until("the receiver to count", || {
        memory.item_count(Signal::Traces) == 20_000
    });
    assert_eq!(span_set(&memory.requests()).len(), 20_000);
    rt.block_on(rx.shutdown());
}

/// A flush over a large backlog drains it a batch at a time: while the receiver holds the first
/// request, one more batch is encoded ahead and everything else stays in the queue (bounded
/// memory, not the whole backlog encoded at once); the flush still covers every item.
#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn a_flush_drains_the_backlog_one_batch_ahead() {
    for shutdown in [false, true] {
        let gate = Gate::default();
        let rx = receiver(gate.clone()).await;
        let exporter = Exporter::new(config(&rx, Protocol::Grpc)).expect("exporter");
        let pipeline = Pipeline::new(exporter, SpanEncoder::default(), fixed(10)).expect("starts");
        let watch = Watch::new(&pipeline, 10_000);
        for i in 0..95 {
            let _ = pipeline.enqueue(span(i, false));
        }
        let pipeline = std::sync::Arc::new(pipeline);
        let done = {
            let pipeline = std::sync::Arc::clone(&pipeline);
            tokio::spawn(async move {
                if shutdown {
                    pipeline.shutdown(PATIENCE).await
                } else {
                    pipeline.force_flush(PATIENCE).await
                }
            })
        };
        wait_until("the first request held", || gate.inside() == 1);
        wait_until("one batch encoded ahead", || {
            pipeline.stats().queue_length == 95 - 20
        });
        let s = pipeline.stats();
        assert_eq!(
            (s.in_flight_exports, s.queue_length, s.queued),
            (1, 75, 95),
            "shutdown: {shutdown}"
        );
        gate.open();
        done.await.expect("joined").expect("flushed");
        assert_eq!(span_set(&gate.requests()), (0..95).collect());
        let s = pipeline.stats();
        assert_eq!((s.exported, s.queued), (95, 0), "shutdown: {shutdown}");
        if !shutdown {
            pipeline.shutdown(PATIENCE).await.expect("shut down");
        }
        watch.finish();
        rx.shutdown().await;
    }
}
