//! The soak's workload: a real `OtlpClient` sending spans, log records and a counter at a
//! steady rate for a set duration, sampling its own RSS, then shutting down and printing its
//! pipelines' final stats. One JSON object a line on stdout (`otlp_soak::workload`).
//!
//! ```text
//! soak-workload --endpoint http://127.0.0.1:4317 --protocol grpc --rate 200 --seconds 120
//!     [--sample-ms 1000] [--shutdown-seconds 15]
//! ```
//!
//! Everything else is the client's configuration from the environment (`OTEL_*`): endpoint
//! and protocol come from the flags, over the environment's.

use otlp::logs::{LogBuilder, LogSeverity};
use otlp::pipeline::PersistentQueue;
use otlp::trace::Sampler;
use otlp::{ClientConfig, ExporterConfig, OtlpClient, Protocol};
use otlp_soak::workload::{SIGNALS, Sample, SignalStats, rss_bytes};
use otlp_soak::{COUNTER, SEQ_ATTRIBUTE};
use serde_json::json;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const USAGE: &str = "usage: soak-workload --endpoint URL --protocol grpc|http/protobuf|http/json \
                     --rate SPANS_PER_SECOND --seconds S [--sample-ms MS] [--shutdown-seconds S]";

#[derive(Debug)]
struct Args {
    endpoint: String,
    protocol: Protocol,
    rate: f64,
    duration: Duration,
    sample: Duration,
    shutdown: Duration,
    /// `--persist-dir DIR`: the pipelines keep their batches in a persistent queue there.
    persist_dir: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let mut endpoint = None;
    let mut protocol = None;
    let mut rate = None;
    let mut seconds = None;
    let mut sample_ms = 1000.0;
    let mut shutdown = 15.0;
    let mut persist_dir = None;
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag}: a value is missing"));
        let number = |v: String| {
            v.parse::<f64>()
                .ok()
                .filter(|n| n.is_finite() && *n >= 0.0)
                .ok_or(format!("{flag} {v}: expected a number"))
        };
        match flag.as_str() {
            "--endpoint" => endpoint = Some(value()?),
            "--protocol" => {
                let v = value()?;
                protocol = Some(v.parse::<Protocol>().map_err(|e| format!("{v}: {e}"))?);
            }
            "--rate" => rate = Some(number(value()?)?),
            "--seconds" => seconds = Some(number(value()?)?),
            "--sample-ms" => sample_ms = number(value()?)?.max(1.0),
            "--shutdown-seconds" => shutdown = number(value()?)?,
            "--persist-dir" => persist_dir = Some(PathBuf::from(value()?)),
            _ => return Err(format!("unknown flag {flag}\n{USAGE}")),
        }
    }
    let missing = |what: &str| format!("{what} is required\n{USAGE}");
    Ok(Args {
        endpoint: endpoint.ok_or_else(|| missing("--endpoint"))?,
        protocol: protocol.ok_or_else(|| missing("--protocol"))?,
        rate: rate.ok_or_else(|| missing("--rate"))?,
        duration: Duration::from_secs_f64(seconds.ok_or_else(|| missing("--seconds"))?),
        sample: Duration::from_secs_f64(sample_ms / 1000.0),
        shutdown: Duration::from_secs_f64(shutdown),
        persist_dir,
    })
}

fn client(args: &Args) -> Result<OtlpClient, String> {
    let exporter = ExporterConfig::from_env()
        .map_err(|e| e.to_string())?
        .with_endpoint(args.endpoint.clone())
        .with_protocol(args.protocol);
    let config = ClientConfig::new()
        .with_exporter(exporter)
        // Every span is exported: the receiver counts them all.
        .with_sampler(Sampler::AlwaysOn)
        // The SDK's own metrics would be items the receiver cannot attribute.
        .with_self_metrics(false);
    let config = match &args.persist_dir {
        // Each signal in its own subdirectory.
        Some(dir) => config.with_persistent_queue(PersistentQueue::new(dir)),
        None => config,
    };
    OtlpClient::new_blocking(config).map_err(|e| e.to_string())
}

fn sample(client: &OtlpClient, t: Duration, sent: u64) -> Sample {
    let mut stats = [SignalStats::default(); 3];
    for (slot, signal) in stats.iter_mut().zip(SIGNALS) {
        *slot = SignalStats::of(&client.stats_for(signal));
    }
    Sample {
        t: t.as_secs_f64(),
        rss_bytes: rss_bytes(),
        sent,
        stats,
    }
}

fn print(line: &str) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .map_err(|e| format!("stdout: {e}"))
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let client = client(&args)?;
    let tracer = client.tracer("soak");
    let counter = client.meter("soak").u64_counter(COUNTER).build();

    let started = Instant::now();
    let mut sent: u64 = 0;
    let mut next_sample = args.sample;
    loop {
        let elapsed = started.elapsed();
        let done = elapsed >= args.duration;
        // Items due by now at the steady rate: a late tick catches up, never runs ahead.
        let due = (args.rate * elapsed.min(args.duration).as_secs_f64()) as u64;
        while sent < due {
            let seq = i64::try_from(sent).unwrap_or(i64::MAX);
            let mut span = tracer.start("soak.op");
            span.set_attribute(SEQ_ATTRIBUTE, seq);
            span.end();
            // A queue-full drop is counted in the stats: the outcome itself is not needed.
            let _ = client.send_log(
                LogBuilder::new()
                    .with_severity(LogSeverity::Info)
                    .with_body("soak")
                    .with_attribute(SEQ_ATTRIBUTE, seq)
                    .build(),
            );
            counter.add(2, &[]);
            sent += 1;
        }
        if elapsed >= next_sample {
            print(&sample(&client, elapsed, sent).line("sample", &[]))?;
            next_sample += args.sample;
        }
        if done {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let shutdown = match client.shutdown_blocking(args.shutdown) {
        Ok(()) => "ok".to_owned(),
        Err(e) => e.to_string(),
    };
    let last = sample(&client, started.elapsed(), sent);
    print(&last.line("final", &[("shutdown", json!(shutdown))]))
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("soak-workload: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
