//! [`run`]: the workloads as child processes, the receiver with its chaos in this process.

use crate::check::{Accounting, Memory};
use crate::schedule::{self, Action, Step};
use crate::sink::CountingSink;
use crate::workload::{Output, SIGNALS};
use otlp_proto::Signal;
use otlp_receiver::{Receiver, RunningReceiver, Transport};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use test_support::chaos::Mode;
use test_support::{Spawned, command, free_port_for_restarts};

/// What to run.
#[derive(Debug, Clone)]
pub struct SoakConfig {
    /// The `soak-workload` binary.
    pub workload: PathBuf,
    /// How long the workloads send.
    pub duration: Duration,
    /// The chaos cycle ([`schedule::cycle_for`] the duration by default).
    pub cycle: Duration,
    /// Spans a second, and as many log records, per workload.
    pub rate: u32,
    /// One workload per protocol, side by side: `grpc`, `http/protobuf`, `http/json`.
    pub protocols: Vec<String>,
    /// The clients' export timeout (`OTEL_EXPORTER_OTLP_TIMEOUT`), which the slow phases
    /// outlast now and then.
    pub export_timeout: Duration,
    /// Allowed RSS growth from the first half to the second, in bytes.
    pub rss_bound: u64,
    /// More environment for the workloads (`OTEL_*` settings of the client).
    pub env: Vec<(String, String)>,
    /// More arguments for the workloads.
    pub args: Vec<String>,
    /// For the pipeline's persistent queue: each workload gets `--persist-dir` with a
    /// directory of its own under this one.
    pub persist_dir: Option<PathBuf>,
}

impl SoakConfig {
    /// The configuration for `duration`, with the defaults of the test.
    pub fn new(workload: PathBuf, duration: Duration) -> Self {
        SoakConfig {
            workload,
            duration,
            cycle: schedule::cycle_for(duration),
            rate: 200,
            protocols: vec!["grpc".to_owned(), "http/protobuf".to_owned()],
            export_timeout: Duration::from_secs(5),
            // Why 8 MiB: the chaos repeats every cycle, so both halves see the queues at
            // their fullest (2048 spans and 2048 log records by default, a few MiB); runs
            // without a leak grow by under 1 MiB from one half to the other. A leak of 1 KiB
            // per span and log record pair at the default rate adds 11 MiB over half of the
            // 2-minute run after warm-up (checked once), and 350 MiB over half of the hour.
            rss_bound: 8 << 20,
            env: Vec::new(),
            args: Vec::new(),
            persist_dir: None,
        }
    }

    /// [`new`](Self::new), with the duration and settings read from the environment:
    /// `OTLP_SOAK_SECONDS` (default 120), `OTLP_SOAK_RATE` (spans a second per workload, 200),
    /// `OTLP_SOAK_CYCLE_SECONDS`, `OTLP_SOAK_PROTOCOLS` (comma-separated),
    /// `OTLP_SOAK_RSS_BOUND_MB`, `OTLP_SOAK_WORKLOAD_ARGS` (space-separated),
    /// `OTLP_SOAK_PERSIST_DIR`, and every
    /// `OTLP_SOAK_OTEL_X` passed to the workloads as `OTEL_X` (the caller's own `OTEL_*` are
    /// not: the test stays isolated from the shell it runs in).
    pub fn from_env(workload: PathBuf) -> Result<Self, String> {
        fn number(name: &str) -> Result<Option<u64>, String> {
            match std::env::var(name) {
                Ok(v) => v
                    .trim()
                    .parse()
                    .map(Some)
                    .map_err(|_| format!("{name}={v:?}: expected a whole number")),
                Err(_) => Ok(None),
            }
        }
        let seconds = number("OTLP_SOAK_SECONDS")?.unwrap_or(120);
        let mut config = SoakConfig::new(workload, Duration::from_secs(seconds));
        if let Some(cycle) = number("OTLP_SOAK_CYCLE_SECONDS")? {
            config.cycle = Duration::from_secs(cycle.max(1));
        }
        if let Some(rate) = number("OTLP_SOAK_RATE")? {
            config.rate = u32::try_from(rate).map_err(|_| "OTLP_SOAK_RATE: too large")?;
        }
        if let Some(mb) = number("OTLP_SOAK_RSS_BOUND_MB")? {
            config.rss_bound = mb << 20;
        }
        if let Ok(list) = std::env::var("OTLP_SOAK_PROTOCOLS") {
            config.protocols = list.split(',').map(|p| p.trim().to_owned()).collect();
        }
        if let Ok(args) = std::env::var("OTLP_SOAK_WORKLOAD_ARGS") {
            config.args = args.split_whitespace().map(str::to_owned).collect();
        }
        config.persist_dir = std::env::var_os("OTLP_SOAK_PERSIST_DIR").map(PathBuf::from);
        for (name, value) in std::env::vars() {
            if let Some(rest) = name.strip_prefix("OTLP_SOAK_OTEL_") {
                config.env.push((format!("OTEL_{rest}"), value));
            }
        }
        Ok(config)
    }
}

/// One workload's run: what it printed, and what the receiver counted of it.
#[derive(Debug, Clone)]
pub struct WorkloadRun {
    /// Its protocol.
    pub protocol: String,
    /// Its output.
    pub output: Output,
    /// Per signal, in [`SIGNALS`]' order.
    pub accounting: Vec<Accounting>,
    /// Its RSS curve, judged.
    pub memory: Memory,
}

/// What a soak did.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Its configuration.
    pub config: SoakConfig,
    /// The steps played.
    pub steps: Vec<Step>,
    /// Each workload's run.
    pub workloads: Vec<WorkloadRun>,
    /// From the workloads' start to their exit.
    pub elapsed: Duration,
}

impl Outcome {
    /// Everything that does not add up, for every workload; empty when the soak passed.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for w in &self.workloads {
            let all = w.accounting.iter().flat_map(Accounting::problems);
            for p in all.chain(w.memory.problems()) {
                problems.push(format!("{}: {p}", w.protocol));
            }
        }
        problems
    }
}

/// The receiver, on the same two loopback ports across restarts.
struct ChaosReceiver {
    grpc: SocketAddr,
    http: SocketAddr,
    sink: CountingSink,
    running: Option<RunningReceiver>,
}

impl ChaosReceiver {
    async fn start(sink: CountingSink) -> Result<ChaosReceiver, String> {
        let mut last = String::new();
        // Free ports are free "a moment ago": another process may take one first.
        for _ in 0..5 {
            let mut rx = ChaosReceiver {
                grpc: SocketAddr::from(([127, 0, 0, 1], free_port_for_restarts())),
                http: SocketAddr::from(([127, 0, 0, 1], free_port_for_restarts())),
                sink: sink.clone(),
                running: None,
            };
            match rx.up().await {
                Ok(()) => return Ok(rx),
                Err(e) => last = e,
            }
        }
        Err(format!("cannot start the receiver: {last}"))
    }

    async fn up(&mut self) -> Result<(), String> {
        let mut last = String::new();
        // After a stop the ports may take a moment to be free again.
        for _ in 0..50 {
            let started = Receiver::builder()
                .with_grpc_addr(self.grpc)
                .with_http_addr(self.http)
                .with_sink(self.sink.clone())
                .with_shutdown_timeout(Duration::from_secs(2))
                .start()
                .await;
            match started {
                Ok(running) => {
                    self.running = Some(running);
                    return Ok(());
                }
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(format!(
            "the receiver did not start on {} and {}: {last}",
            self.grpc, self.http
        ))
    }

    async fn down(&mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown().await;
        }
    }
}

/// Runs the soak: starts the receiver, one workload per protocol, plays the chaos schedule,
/// waits for the workloads to shut down and exit, and accounts for every item. Blocking.
///
/// An `Err` is a soak that could not run (a workload that failed to start or exit, a
/// receiver that could not bind); a soak that ran and found problems is an `Ok` whose
/// [`Outcome::problems`] are not empty.
pub fn run(config: &SoakConfig) -> Result<Outcome, String> {
    // The receiver tells workloads apart by transport.
    let transports: Vec<Transport> = config.protocols.iter().map(|p| transport_of(p)).collect();
    if (1..transports.len()).any(|i| transports[..i].contains(&transports[i])) {
        return Err(format!(
            "one workload per transport (gRPC, HTTP), not {:?}",
            config.protocols
        ));
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    let sink = CountingSink::new();
    let mut receiver = rt.block_on(ChaosReceiver::start(sink.clone()))?;
    let steps = schedule::schedule(config.duration, config.cycle, config.export_timeout);
    // A client's shutdown flushes within its export timeout, retries included: wait that,
    // and generously more, on 2 shared cores.
    let shutdown = config.export_timeout * 3;

    let started = Instant::now();
    let mut children = Vec::new();
    for protocol in &config.protocols {
        let addr = match transport_of(protocol) {
            Transport::Grpc => receiver.grpc,
            _ => receiver.http,
        };
        let mut cmd = command(&config.workload);
        cmd.arg("--endpoint")
            .arg(format!("http://{addr}"))
            .args(["--protocol", protocol])
            .args(["--rate", &config.rate.to_string()])
            .args(["--seconds", &config.duration.as_secs_f64().to_string()])
            .args(["--shutdown-seconds", &shutdown.as_secs_f64().to_string()])
            .args(&config.args)
            .env("OTEL_SERVICE_NAME", format!("soak-{protocol}"))
            .env(
                "OTEL_EXPORTER_OTLP_TIMEOUT",
                config.export_timeout.as_millis().to_string(),
            )
            // One collection a second: a steady stream of metric exports to account for.
            .env("OTEL_METRIC_EXPORT_INTERVAL", "1000")
            .envs(config.env.iter().map(|(k, v)| (k, v)));
        if let Some(dir) = &config.persist_dir {
            cmd.arg("--persist-dir")
                .arg(dir.join(protocol.replace('/', "-")));
        }
        children.push((protocol.clone(), Spawned::start(protocol, cmd)));
    }

    // A workload that cannot start (a bad flag or variable) says so now, not after the run.
    std::thread::sleep(Duration::from_secs(2));
    for (protocol, child) in &mut children {
        if let Some(status) = child.exited() {
            return Err(format!(
                "the {protocol} workload exited at once ({status}):\n{}",
                child.stderr()
            ));
        }
    }
    rt.block_on(play(&mut receiver, &steps, started));
    // The receiver stays up and normal (its tasks run on the runtime's workers) while the
    // workloads finish sending and shut down.
    let mut outputs = Vec::new();
    for (protocol, mut child) in children {
        let left = (config.duration + shutdown + Duration::from_secs(60))
            .saturating_sub(started.elapsed());
        let (status, lines) = child.wait_exit(left);
        if !status.success() {
            return Err(format!(
                "the {protocol} workload failed ({status}):\n{}",
                child.stderr()
            ));
        }
        let output = Output::parse(&lines).map_err(|e| format!("the {protocol} workload: {e}"))?;
        outputs.push((protocol, output));
    }
    let elapsed = started.elapsed();
    rt.block_on(receiver.down());

    let workloads = outputs
        .into_iter()
        .map(|(protocol, output)| {
            let transport = transport_of(&protocol);
            let accounting = SIGNALS
                .iter()
                .map(|&signal| {
                    let sent = (signal != Signal::Metrics).then_some(output.last.sent);
                    let tally = sink.tally(transport, signal);
                    Accounting::new(signal, sent, output.last.of(signal), &tally)
                })
                .collect();
            let memory = Memory::new(&output.samples, config.duration, config.rss_bound);
            WorkloadRun {
                protocol,
                output,
                accounting,
                memory,
            }
        })
        .collect();
    Ok(Outcome {
        config: config.clone(),
        steps,
        workloads,
        elapsed,
    })
}

/// The transport a workload of `protocol` arrives on.
fn transport_of(protocol: &str) -> Transport {
    match protocol {
        "grpc" => Transport::Grpc,
        _ => Transport::Http,
    }
}

/// Plays `steps` on the receiver, each at its time from `started`.
async fn play(receiver: &mut ChaosReceiver, steps: &[Step], started: Instant) {
    for step in steps {
        tokio::time::sleep_until((started + step.at).into()).await;
        match step.action {
            Action::Set(mode) => receiver.sink.chaos().set(mode),
            Action::Restart { downtime } => {
                receiver.down().await;
                tokio::time::sleep(downtime).await;
                if let Err(e) = receiver.up().await {
                    // Down for good: the workloads' accounting will say what it cost.
                    eprintln!("soak: {e}");
                }
            }
        }
    }
    receiver.sink.chaos().set(Mode::Normal);
}
