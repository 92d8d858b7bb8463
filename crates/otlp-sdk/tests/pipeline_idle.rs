//! Regression: the worker must not spin while it waits. Its own test binary, so that no other
//! test's pipeline threads run during the measurement. Reads `/proc`, so Linux only.
#![cfg(target_os = "linux")]

mod common;

use common::pipeline::{check, span};
use otlp::pipeline::{AdaptiveBatchConfig, Pipeline, SpanEncoder};
use otlp::{Exporter, ExporterConfig, Protocol, RetryPolicy};
use std::time::Duration;

/// CPU time (user + system, in clock ticks) of this process's pipeline worker threads.
fn worker_cpu_ticks() -> u64 {
    let mut total = 0;
    for task in std::fs::read_dir("/proc/self/task").expect("/proc/self/task") {
        let path = task.expect("task").path();
        let name = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        if !name.starts_with("otlp-pipeline") {
            continue;
        }
        let stat = std::fs::read_to_string(path.join("stat")).unwrap_or_default();
        // Fields after the parenthesised name; utime and stime are the 12th and 13th of them.
        let fields: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .collect();
        for i in [11, 12] {
            total += fields
                .get(i)
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    total
}

/// Regression: with every export slot busy (receiver down, retrying) and the queued items past
/// their scheduled delay, the worker once woke up for the overdue batch in a loop, using a whole
/// core. Not a timing assertion: an idle worker uses ~0 ticks over the window, a spinning one all
/// of them (100 per second); the bound sits far from both.
#[test]
fn an_overdue_batch_with_every_slot_busy_does_not_spin() {
    let retry = RetryPolicy::default()
        .with_max_attempts(1000)
        .with_initial_backoff(Duration::from_millis(10))
        .with_max_backoff(Duration::from_millis(50));
    let config = AdaptiveBatchConfig::default()
        .with_min_batch_size(10)
        .with_max_batch_size(10)
        .with_scheduled_delay(Duration::from_millis(1));
    // Nothing listens on the port of a listener just closed.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port");
    let exporter = ExporterConfig::default()
        .with_protocol(Protocol::Grpc)
        .with_endpoint(format!("http://{addr}"))
        .with_timeout(Duration::from_secs(20))
        .with_retry(retry);
    let pipeline = Pipeline::new(
        Exporter::new(exporter).expect("exporter"),
        SpanEncoder::default(),
        config,
    )
    .expect("starts");
    for i in 0..15 {
        let _ = pipeline.enqueue(span(i, false));
    }
    // One batch retrying in the only slot, five items overdue behind it.
    common::pipeline::wait_until("a batch in flight", || {
        let s = pipeline.stats();
        s.in_flight_exports == 1 && s.queue_length == 5
    });
    std::thread::sleep(Duration::from_millis(50));
    let before = worker_cpu_ticks();
    std::thread::sleep(Duration::from_secs(1));
    let used = worker_cpu_ticks() - before;
    assert!(
        used < 40,
        "the worker used {used} ticks in 1 s while it had nothing to do"
    );
    let _ = pipeline.shutdown_blocking(Duration::from_millis(10));
    check(&pipeline.stats(), 10_000);
}
