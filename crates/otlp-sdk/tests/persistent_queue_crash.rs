//! A process using a persistent queue is killed with SIGKILL in the middle of its exports, 20
//! times, each run starting on the log the last one left; a last run drains it. Every span the
//! workload had made durable (`Pipeline::persist` returned) must reach the receiver; spans may
//! arrive twice (at least once across a crash), and the count of those is reported.

mod common;

use common::pipeline::{PATIENCE, span, span_ids};
use common::{base_url, fast_retry, receiver};
use otlp::pipeline::{AdaptiveBatchConfig, Fsync, PersistentQueue, Pipeline, SpanEncoder};
use otlp::{Exporter, ExporterConfig, Protocol};
use otlp_receiver::{MemorySink, ScriptedSink};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

const ROUNDS: usize = 20;
/// Spans per run, made durable a hundred at a time.
const PER_RUN: usize = 2000;
const STEP: usize = 100;

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is set by the parent"))
}

/// The workload, run by `sigkill_mid_export_twenty_times_loses_nothing_made_durable` in a
/// child process: spans `OTLP_CRASH_START..+OTLP_CRASH_COUNT`, persisted a hundred at a time,
/// each step reported on stdout, then flushed and shut down (if not killed first).
#[test]
#[ignore = "the workload of the crash test, run by it in a child process"]
fn crash_workload() {
    let start: usize = var("OTLP_CRASH_START").parse().expect("number");
    let count: usize = var("OTLP_CRASH_COUNT").parse().expect("number");
    let exporter = Exporter::new(
        ExporterConfig::default()
            .with_protocol(Protocol::Grpc)
            .with_endpoint(var("OTLP_CRASH_ENDPOINT"))
            .with_timeout(Duration::from_secs(10))
            .with_retry(fast_retry()),
    )
    .expect("exporter");
    let config = AdaptiveBatchConfig::default()
        .with_min_batch_size(50)
        .with_max_batch_size(50)
        .with_scheduled_delay(Duration::from_millis(5))
        .with_max_concurrent_exports(2)
        .with_persistent_queue(
            PersistentQueue::new(var("OTLP_CRASH_DIR")).with_fsync(Fsync::Never),
        );
    let pipeline = Pipeline::new(exporter, SpanEncoder::default(), config).expect("pipeline");
    let mut out = std::io::stdout().lock();
    writeln!(out, "recovered {}", pipeline.stats().recovered).expect("stdout");
    for from in (start..start + count).step_by(STEP) {
        for i in from..from + STEP {
            assert!(pipeline.enqueue(span(i, false)).is_queued());
        }
        pipeline.persist_blocking().expect("persisted");
        writeln!(out, "durable {from} {}", from + STEP).expect("stdout");
        out.flush().expect("stdout");
        std::thread::sleep(Duration::from_millis(2));
    }
    pipeline.force_flush_blocking(PATIENCE).expect("flushed");
    let stats = pipeline.stats();
    assert!(stats.is_consistent() && stats.queued == 0, "{stats:?}");
    pipeline.shutdown_blocking(PATIENCE).expect("shutdown");
    writeln!(
        out,
        "done exported {} recovered {}",
        stats.exported, stats.recovered
    )
    .expect("stdout");
}

/// Runs the workload; with `kill_after` durable steps seen, kills it then. Returns the durable
/// ranges it reported and its last line.
fn run_child(
    endpoint: &str,
    dir: &std::path::Path,
    start: usize,
    count: usize,
    kill_after: Option<usize>,
) -> (Vec<(usize, usize)>, String) {
    let exe = std::env::current_exe().expect("test binary");
    let mut child = Command::new(exe)
        .args([
            "crash_workload",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("OTLP_CRASH_START", start.to_string())
        .env("OTLP_CRASH_COUNT", count.to_string())
        .env("OTLP_CRASH_ENDPOINT", endpoint)
        .env("OTLP_CRASH_DIR", dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("child starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut durable = Vec::new();
    let mut last = String::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("line");
        if let Some(range) = line.strip_prefix("durable ") {
            let mut parts = range
                .split(' ')
                .map(|p| p.parse::<usize>().expect("number"));
            durable.push((parts.next().expect("from"), parts.next().expect("to")));
            if Some(durable.len()) == kill_after {
                // SIGKILL: nothing of the process runs after it.
                child.kill().expect("kill");
                break;
            }
        }
        if line.starts_with("done") || line.starts_with("recovered") {
            last = line;
        }
    }
    let status = child.wait().expect("wait");
    if kill_after.is_none() {
        assert!(status.success(), "the draining run failed: {last}");
    }
    (durable, last)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_export_twenty_times_loses_nothing_made_durable() {
    let dir = test_support::temp_dir("pq-crash");
    let sink = MemorySink::new();
    // Slow answers keep exports in flight when the kill comes.
    let mut scripted = ScriptedSink::new(sink.clone());
    for _ in 0..ROUNDS * PER_RUN / 50 {
        scripted = scripted.then_delay(Duration::from_millis(3));
    }
    let rx = receiver(scripted).await;
    let endpoint = base_url(&rx, Protocol::Grpc, "http");
    let dir2 = dir.clone();
    let (durable, drained) = tokio::task::spawn_blocking(move || {
        let mut durable = Vec::new();
        for round in 0..ROUNDS {
            let kill_after = 2 + fastrand::usize(..PER_RUN / STEP - 4);
            let (ranges, _) =
                run_child(&endpoint, &dir2, round * PER_RUN, PER_RUN, Some(kill_after));
            assert_eq!(ranges.len(), kill_after, "round {round} was killed on time");
            durable.extend(ranges);
        }
        let (_, last) = run_child(&endpoint, &dir2, ROUNDS * PER_RUN, 0, None);
        (durable, last)
    })
    .await
    .expect("rounds");

    let mut seen: BTreeMap<usize, usize> = BTreeMap::new();
    for i in span_ids(&sink.requests()).into_iter().flatten() {
        *seen.entry(i).or_default() += 1;
    }
    let made_durable: usize = durable.iter().map(|(from, to)| to - from).sum();
    let missing: Vec<usize> = durable
        .iter()
        .flat_map(|&(from, to)| from..to)
        .filter(|i| !seen.contains_key(i))
        .collect();
    let twice = seen.values().filter(|&&n| n > 1).count();
    println!(
        "{ROUNDS} kills: {made_durable} spans made durable, {} distinct spans received, {twice} \
         of them more than once, {} missing; last run: {drained}",
        seen.len(),
        missing.len()
    );
    assert!(
        missing.is_empty(),
        "durable spans never arrived: {missing:?}"
    );
    assert!(
        seen.keys().all(|&i| i < ROUNDS * PER_RUN),
        "only spans that were made"
    );
    assert!(
        drained.starts_with("done"),
        "the last run drained the log: {drained}"
    );
    rx.shutdown().await;
}
