//! Nothing is lost at exit: programs that send spans, logs and events and return without
//! calling `shutdown()` (from a multi-thread runtime with a client per task, from a
//! current-thread runtime through `otlp::global`, and with no runtime) are run 50 times each
//! against an in-process receiver, and every item of every run must arrive. With the collector
//! down, each must still exit within its deadline.

use otlp_proto::Request;
use otlp_proto::common::Value;
use otlp_receiver::{MemorySink, Receiver};
use std::collections::HashMap;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// A program, and the spans and log records (events included) one run of it sends.
struct Program {
    name: &'static str,
    exe: &'static str,
    spans: usize,
    records: usize,
}

const PROGRAMS: [Program; 3] = [
    Program {
        name: "multi",
        exe: env!("CARGO_BIN_EXE_exit_multi_thread"),
        spans: 7,
        records: 8,
    },
    Program {
        name: "current",
        exe: env!("CARGO_BIN_EXE_exit_current_thread"),
        spans: 5,
        records: 5,
    },
    Program {
        name: "none",
        exe: env!("CARGO_BIN_EXE_exit_no_runtime"),
        spans: 6,
        records: 8,
    },
];

const RUNS: usize = 50;

/// Processes run at once: enough to keep the run short, few enough for a small machine.
const PARALLEL: usize = 8;

fn command(program: &Program, endpoint: &str, service: &str, timeout_ms: u64) -> Command {
    let mut c = Command::new(program.exe);
    c.env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
        .env("OTEL_EXPORTER_OTLP_TIMEOUT", timeout_ms.to_string())
        .env("OTEL_SERVICE_NAME", service)
        .env_remove("OTEL_RESOURCE_ATTRIBUTES")
        .env_remove("OTEL_TRACES_SAMPLER")
        .env_remove("OTLP_SELF_METRICS_INTERVAL");
    c
}

/// Runs `jobs` at most [`PARALLEL`] at a time; returns each one's output and run time.
fn run_all(jobs: Vec<(String, Command)>) -> Vec<(String, Output, Duration)> {
    let mut out = Vec::new();
    let mut jobs = jobs.into_iter();
    loop {
        let batch: Vec<_> = jobs.by_ref().take(PARALLEL).collect();
        if batch.is_empty() {
            return out;
        }
        let running: Vec<_> = batch
            .into_iter()
            .map(|(name, mut command)| {
                std::thread::spawn(move || {
                    let start = Instant::now();
                    let output = command.output().expect("the program runs");
                    (name, output, start.elapsed())
                })
            })
            .collect();
        out.extend(running.into_iter().map(|t| t.join().expect("joins")));
    }
}

/// Per `service.name`: the spans and the log records received.
fn counts(sink: &MemorySink) -> HashMap<String, (usize, usize)> {
    let mut by_service: HashMap<String, (usize, usize)> = HashMap::new();
    let service = |resource: Option<&otlp_proto::resource::Resource>| {
        resource
            .iter()
            .flat_map(|r| &r.attributes)
            .find(|kv| kv.key.as_str() == "service.name")
            .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
                Value::StringValue(s) => Some(s.to_string()),
                _ => None,
            })
            .unwrap_or_default()
    };
    for r in sink.requests() {
        match &r.request {
            Request::Traces(t) => {
                for p in t.spans() {
                    by_service.entry(service(p.resource)).or_default().0 += 1;
                }
            }
            Request::Logs(l) => {
                for p in l.log_records() {
                    by_service.entry(service(p.resource)).or_default().1 += 1;
                }
            }
            _ => {}
        }
    }
    by_service
}

#[test]
fn every_item_arrives_though_no_program_calls_shutdown() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (receiver, sink) = runtime
        .block_on(Receiver::start_in_memory())
        .expect("receiver");
    let endpoint = format!("http://{}", receiver.http_addr().expect("an HTTP port"));
    let mut jobs = Vec::new();
    for run in 0..RUNS {
        for p in &PROGRAMS {
            let service = format!("exit-{}-{run}", p.name);
            let command = command(p, &endpoint, &service, 10_000);
            jobs.push((service, command));
        }
    }
    let results = run_all(jobs);
    for (service, output, _) in &results {
        assert!(
            output.status.success(),
            "{service} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let got = counts(&sink);
    let mut lost = Vec::new();
    for run in 0..RUNS {
        for p in &PROGRAMS {
            let service = format!("exit-{}-{run}", p.name);
            let have = got.get(&service).copied().unwrap_or_default();
            if have != (p.spans, p.records) {
                lost.push(format!(
                    "{service}: {have:?} of ({}, {})",
                    p.spans, p.records
                ));
            }
        }
    }
    assert!(
        lost.is_empty(),
        "{} of {} runs lost items (spans, records): {lost:?}",
        lost.len(),
        RUNS * PROGRAMS.len()
    );
    runtime.block_on(receiver.shutdown());
}

#[test]
fn with_the_collector_down_each_program_exits_within_its_deadline() {
    // Nothing listens on the port of a listener just closed.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port");
    let endpoint = format!("http://{addr}");
    let timeout = Duration::from_millis(1000);
    let mut jobs = Vec::new();
    for run in 0..3 {
        for p in &PROGRAMS {
            let service = format!("down-{}-{run}", p.name);
            let command = command(p, &endpoint, &service, timeout.as_millis() as u64);
            jobs.push((service, command));
        }
    }
    for (service, output, took) in run_all(jobs) {
        assert!(
            output.status.success(),
            "{service} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            took < timeout + Duration::from_secs(3),
            "{service} took {took:?} to exit with the collector down"
        );
    }
}
