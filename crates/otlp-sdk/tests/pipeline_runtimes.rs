//! The pipeline works the same whether the application runs a multi-thread tokio runtime, a
//! current-thread one, or none: enqueue, flush, shutdown, and a drop without shutdown.

mod common;

use common::pipeline::{PATIENCE, span, span_set, wait_until};
use common::{config, receiver};
use otlp::pipeline::{AdaptiveBatchConfig, Pipeline, SpanEncoder};
use otlp::{Exporter, Protocol};
use otlp_proto::Signal;
use otlp_proto::trace::Span;
use otlp_receiver::MemorySink;
use std::time::Duration;

fn pipeline(rx: &otlp_receiver::RunningReceiver) -> Pipeline<Span> {
    let exporter = Exporter::new(config(rx, Protocol::Grpc)).expect("exporter");
    // Large batches and a long delay: only flush and shutdown send anything.
    let config = AdaptiveBatchConfig::default().with_scheduled_delay(Duration::from_secs(3600));
    Pipeline::new(exporter, SpanEncoder::default(), config).expect("starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_multi_thread_runtime() {
    let memory = MemorySink::new();
    let rx = receiver(memory.clone()).await;
    let p = pipeline(&rx);
    let tasks: Vec<_> = (0..4)
        .map(|t| {
            let p = p.clone();
            tokio::spawn(async move {
                for i in 0..25 {
                    let _ = p.enqueue(span(t * 25 + i, false));
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("task");
    }
    p.force_flush(PATIENCE).await.expect("flushed");
    assert_eq!(memory.item_count(Signal::Traces), 100);
    let _ = p.enqueue(span(100, false));
    p.shutdown(PATIENCE).await.expect("shut down");
    assert_eq!(span_set(&memory.requests()), (0..101).collect());

    // Dropped inside the runtime without shutdown: the drop waits for the export (the
    // receiver runs on the runtime's workers, not on this thread).
    let p = pipeline(&rx);
    let _ = p.enqueue(span(200, false));
    drop(p);
    assert_eq!(memory.item_count(Signal::Traces), 102);
    rx.shutdown().await;
}

#[tokio::test(flavor = "current_thread")]
async fn in_a_current_thread_runtime() {
    // The receiver shares this one thread: the pipeline must never block it.
    let memory = MemorySink::new();
    let rx = receiver(memory.clone()).await;
    let p = pipeline(&rx);
    for i in 0..10 {
        let _ = p.enqueue(span(i, false));
    }
    p.force_flush(PATIENCE).await.expect("flushed");
    assert_eq!(memory.item_count(Signal::Traces), 10);
    let _ = p.enqueue(span(10, false));
    p.shutdown(PATIENCE).await.expect("shut down");
    assert_eq!(span_set(&memory.requests()), (0..11).collect());
    let s = p.stats();
    assert_eq!((s.accepted, s.exported, s.queued), (11, 11, 0));

    rx.shutdown().await;

    // Dropped without shutdown on the runtime's only thread: the drop waits for the export,
    // which needs nothing of this thread. (The receiver is elsewhere: one on this thread could
    // not answer while the drop waits.)
    let elsewhere = tokio::runtime::Runtime::new().expect("runtime");
    let memory = MemorySink::new();
    let rx = elsewhere
        .spawn(receiver(memory.clone()))
        .await
        .expect("receiver");
    let p = pipeline(&rx);
    let _ = p.enqueue(span(20, false));
    drop(p);
    assert_eq!(memory.item_count(Signal::Traces), 1);
    elsewhere
        .spawn(async move { rx.shutdown().await })
        .await
        .expect("receiver shut down");
    elsewhere.shutdown_background();
}

#[test]
fn without_any_runtime() {
    // The receiver runs on a runtime of its own thread; this thread has none.
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let memory = MemorySink::new();
    let rx = rt.block_on(receiver(memory.clone()));
    let p = pipeline(&rx);
    for i in 0..10 {
        let _ = p.enqueue(span(i, false));
    }
    p.force_flush_blocking(PATIENCE).expect("flushed");
    assert_eq!(memory.item_count(Signal::Traces), 10);
    let _ = p.enqueue(span(10, false));
    p.shutdown_blocking(PATIENCE).expect("shut down");
    assert_eq!(span_set(&memory.requests()), (0..11).collect());

    // Dropped without shutdown, outside a runtime: the drop waits for the export.
    let p = pipeline(&rx);
    let _ = p.enqueue(span(20, false));
    drop(p);
    assert_eq!(memory.item_count(Signal::Traces), 12);
    wait_until("nothing more", || memory.item_count(Signal::Traces) == 12);
    rt.block_on(rx.shutdown());
}
