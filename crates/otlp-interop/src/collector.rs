//! The Collector: built from Go modules by the test command, started on loopback with a
//! generated configuration (file exporters per signal, optionally Prometheus, forwarding to
//! another OTLP endpoint, TLS), restarted, and its output read back.

use crate::{Process, command, http_request, loopback, peers, tail, wait_until};
use bytes::Bytes;
use otlp_proto::{Encoding, Request, Signal};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use test_support::free_port_for_restarts;

/// Where a Collector forwards what it receives, besides its file exporters: an `otlp_grpc` and an
/// `otlp_http` exporter in every pipeline.
#[derive(Debug, Clone, Copy)]
pub struct Forward {
    /// The gRPC endpoint (`host:port`).
    pub grpc: SocketAddr,
    /// The OTLP/HTTP base endpoint (`http://host:port`).
    pub http: SocketAddr,
}

/// TLS for a Collector ([`Collector::start_tls`]): on its OTLP receiver (both protocols),
/// optionally requiring client certificates, and for its forwarding exporters.
#[derive(Debug, Clone, Default)]
pub struct CollectorTls {
    /// The OTLP receiver's certificate and key files; `None`: plain text.
    pub server: Option<(PathBuf, PathBuf)>,
    /// With `server`: client certificates must chain to this CA file (mutual TLS).
    pub client_ca: Option<PathBuf>,
    /// The [`Forward`] exporters' TLS; `None`: plain text.
    pub forward: Option<ForwardTls>,
}

/// How a Collector's forwarding exporters connect over TLS.
#[derive(Debug, Clone)]
pub struct ForwardTls {
    /// The CA file they trust.
    pub ca: PathBuf,
    /// Their client certificate and key files (mutual TLS), if any.
    pub client: Option<(PathBuf, PathBuf)>,
}

/// A running `peercol`: the OTLP receiver (gRPC and HTTP) and the OTel-Arrow receiver on free
/// loopback ports; one pipeline per signal (profiles under the `service.profilesSupport` gate).
/// Traces, metrics and logs go to the debug exporter (basic verbosity), a file exporter writing
/// that signal's OTLP/JSON lines to `<dir>/out/<signal>.jsonl` (append mode, flushed every
/// 100 ms) and the [`Forward`] exporters if any; metrics also to the Prometheus exporter when
/// started with [`Collector::start_with_prometheus`]. Profiles go to their file exporter only, or,
/// with [`Forward`], to one forwarding exporter per pipeline (see the note in the config
/// generator: more than one exporter makes v0.148.0 panic). Stopped (SIGTERM, then SIGKILL)
/// when dropped.
#[derive(Debug)]
pub struct Collector {
    process: Option<Process>,
    dir: PathBuf,
    config: PathBuf,
    /// The OTLP gRPC receiver.
    pub grpc: SocketAddr,
    /// The OTLP/HTTP receiver.
    pub http: SocketAddr,
    /// The OTel-Arrow gRPC receiver.
    pub arrow: SocketAddr,
    /// With [`Forward`]: a second OTLP gRPC receiver, whose profiles go to the `otlp_http`
    /// exporter (those sent to [`Collector::grpc`] go to `otlp_grpc`).
    pub profiles_http: SocketAddr,
    /// With [`Collector::start_with_prometheus`]: the Prometheus exporter's scrape endpoint
    /// (`GET /metrics`).
    pub prometheus: Option<SocketAddr>,
    tls: CollectorTls,
}

impl Collector {
    /// Starts a Collector whose files go under `dir`; panics (with its log) if it does not
    /// become ready within 60 seconds. Retries with new ports if one was taken meanwhile.
    pub fn start(dir: &Path, forward: Option<Forward>) -> Collector {
        Collector::start_inner(dir, forward, Outputs::Files, CollectorTls::default())
    }

    /// Starts a Collector as [`Collector::start`] does, with TLS as `tls` says.
    pub fn start_tls(dir: &Path, forward: Option<Forward>, tls: CollectorTls) -> Collector {
        Collector::start_inner(dir, forward, Outputs::Files, tls)
    }

    /// Starts a Collector as [`Collector::start`] does without [`Forward`], whose traces,
    /// metrics and logs go to the debug exporter (basic verbosity: one log line per batch)
    /// only: for throughput measurements, where writing every item to a file would be what is
    /// measured. [`Collector::read_output`] has nothing to read from it.
    pub fn start_sink(dir: &Path) -> Collector {
        Collector::start_inner(dir, None, Outputs::DebugOnly, CollectorTls::default())
    }

    /// Starts a Collector as [`Collector::start`] does without [`Forward`], whose metrics also
    /// go to the contrib Prometheus exporter (default settings: metric suffixes added, names
    /// and labels escaped to underscores), served at [`Collector::prometheus`].
    pub fn start_with_prometheus(dir: &Path) -> Collector {
        Collector::start_inner(
            dir,
            None,
            Outputs::FilesAndPrometheus,
            CollectorTls::default(),
        )
    }

    fn start_inner(
        dir: &Path,
        forward: Option<Forward>,
        outputs: Outputs,
        tls: CollectorTls,
    ) -> Collector {
        let prometheus = outputs == Outputs::FilesAndPrometheus;
        let peercol = &peers().peercol;
        let mut attempt = 0;
        loop {
            attempt += 1;
            // Inside the loop: a failed attempt's drop removes the directory.
            std::fs::create_dir_all(dir.join("out")).expect("create the output dir");
            let mut collector = Collector {
                process: None,
                dir: dir.to_owned(),
                config: dir.join("peercol.yaml"),
                grpc: loopback(free_port_for_restarts()),
                http: loopback(free_port_for_restarts()),
                arrow: loopback(free_port_for_restarts()),
                profiles_http: loopback(free_port_for_restarts()),
                prometheus: prometheus.then(|| loopback(free_port_for_restarts())),
                tls: tls.clone(),
            };
            std::fs::write(&collector.config, collector.render_config(forward, outputs))
                .expect("write the Collector config");
            match collector.launch(peercol) {
                Ok(()) => return collector,
                Err(e) if e.contains("address already in use") && attempt < 5 => {
                    eprintln!("peercol: a port was taken, retrying with new ports");
                }
                Err(e) => panic!("{e}"),
            }
        }
    }

    fn render_config(&self, forward: Option<Forward>, outputs: Outputs) -> String {
        let out = self.dir.join("out");
        let mut exporters = String::from("  debug: {verbosity: basic}\n");
        for signal in Signal::ALL {
            let _ = writeln!(
                exporters,
                "  file/{name}: {{path: {path:?}, format: json, append: true, flush_interval: 100ms}}",
                name = signal.name(),
                path = out.join(format!("{}.jsonl", signal.name())),
            );
        }
        let server_tls = match &self.tls.server {
            None => String::new(),
            Some((cert, key)) => {
                let client_ca = self
                    .tls
                    .client_ca
                    .as_ref()
                    .map(|ca| format!(", client_ca_file: {ca:?}"))
                    .unwrap_or_default();
                format!(", tls: {{cert_file: {cert:?}, key_file: {key:?}{client_ca}}}")
            }
        };
        let mut receivers = format!(
            "  otlp:\n    protocols:\n      grpc: {{endpoint: \"{}\"{server_tls}}}\n      \
             http: {{endpoint: \"{}\"{server_tls}}}\n  \
             otelarrow:\n    protocols:\n      grpc: {{endpoint: \"{}\"}}\n",
            self.grpc, self.http, self.arrow
        );
        let mut forwarders = "";
        if let Some(f) = forward {
            let (tls, scheme) = match &self.tls.forward {
                None => ("{insecure: true}".to_owned(), "http"),
                Some(t) => {
                    let client = t
                        .client
                        .as_ref()
                        .map(|(cert, key)| format!(", cert_file: {cert:?}, key_file: {key:?}"))
                        .unwrap_or_default();
                    (
                        format!("{{insecure: false, ca_file: {:?}{client}}}", t.ca),
                        "https",
                    )
                }
            };
            let _ = writeln!(
                exporters,
                "  otlp_grpc: {{endpoint: \"{}\", tls: {tls}}}\n  \
                 otlp_http: {{endpoint: \"{scheme}://{}\", tls: {tls}}}",
                f.grpc, f.http
            );
            let _ = writeln!(
                receivers,
                "  otlp/profiles_http:\n    protocols:\n      grpc: {{endpoint: \"{}\"}}",
                self.profiles_http
            );
            forwarders = ", otlp_grpc, otlp_http";
        }
        if let Some(addr) = self.prometheus {
            let _ = writeln!(exporters, "  prometheus: {{endpoint: \"{addr}\"}}");
        }
        let mut pipelines = String::new();
        for signal in [Signal::Traces, Signal::Metrics, Signal::Logs] {
            let prometheus = if signal == Signal::Metrics && self.prometheus.is_some() {
                ", prometheus"
            } else {
                ""
            };
            let name = signal.name();
            let files = if outputs == Outputs::DebugOnly {
                String::new()
            } else {
                format!(", file/{name}")
            };
            let _ = writeln!(
                pipelines,
                "    {name}: {{receivers: [otlp, otelarrow], exporters: [debug{files}{forwarders}{prometheus}]}}",
            );
        }
        // Collector v0.148.0 panics ("invalid access to shared data") when a profiles pipeline
        // fans out to more than one exporter: marshalling profiles rewrites attributes into
        // dictionary references in place, and fanned-out data is read-only. So every profiles
        // pipeline has exactly one exporter and its own receiver.
        if forward.is_some() {
            pipelines.push_str(
                "    profiles: {receivers: [otlp], exporters: [otlp_grpc]}\n    \
                 profiles/http: {receivers: [otlp/profiles_http], exporters: [otlp_http]}\n",
            );
        } else {
            pipelines.push_str("    profiles: {receivers: [otlp], exporters: [file/profiles]}\n");
        }
        format!(
            "# Generated by crates/otlp-interop for one test run.\n\
             receivers:\n{receivers}\
             exporters:\n{exporters}\
             service:\n  telemetry: {{metrics: {{level: none}}}}\n  pipelines:\n{pipelines}"
        )
    }

    fn launch(&mut self, peercol: &Path) -> Result<(), String> {
        let log = self.dir.join("peercol.log");
        let mut cmd = command(peercol);
        cmd.arg("--config")
            .arg(&self.config)
            .arg("--feature-gates=service.profilesSupport");
        // Only what this run logs counts (a restart appends to the same log).
        let start = std::fs::metadata(&log).map_or(0, |m| m.len() as usize);
        let mut process = Process::start("peercol", cmd, &log);
        let (http, prometheus) = (self.http, self.prometheus);
        // Over TLS the plain-text probe gets an HTTP 400 ("an HTTP request to an HTTPS
        // server"): an answer all the same.
        let tls = self.tls.server.is_some();
        // Ready when it says so, its OTLP/HTTP receiver accepts an empty request and its
        // Prometheus endpoint, if any, answers.
        let ready = wait_until(&mut process, Duration::from_secs(60), || {
            let log = process_log_since(&log, start);
            if !log.contains("Everything is ready") {
                return None;
            }
            match http_request(http, "POST", "/v1/traces", "application/x-protobuf", b"") {
                Ok((status, _)) if status == 200 || (tls && status == 400) => {}
                _ => return None,
            }
            match prometheus.map(|addr| http_request(addr, "GET", "/metrics", "", b"")) {
                None | Some(Ok((200, _))) => Some(()),
                _ => None,
            }
        });
        match ready {
            Ok(()) => {
                self.process = Some(process);
                Ok(())
            }
            Err(e) => {
                process.stop(Duration::from_secs(5));
                Err(format!(
                    "peercol {e}; config:\n{}\nlog tail:\n{}",
                    std::fs::read_to_string(&self.config).unwrap_or_default(),
                    tail(&process_log_since(&log, start), 40)
                ))
            }
        }
    }

    /// Stops the Collector with SIGTERM (it flushes its exporters on the way out) and waits for
    /// it to exit; panics if it does not exit cleanly within 30 seconds.
    pub fn stop(&mut self) {
        if let Some(mut process) = self.process.take() {
            let status = process.stop(Duration::from_secs(30));
            assert!(
                status.is_some_and(|s| s.success()),
                "peercol exited with {status:?}; log tail:\n{}",
                tail(&process.log(), 40)
            );
        }
    }

    /// Starts the Collector again with the same config, on the same ports.
    pub fn restart(&mut self) {
        self.stop();
        let peercol = &peers().peercol;
        // The ports were ours a moment ago; a clash now is a real failure.
        if let Err(e) = self.launch(peercol) {
            panic!("restart: {e}");
        }
    }

    /// Hands the Collector to a thread that, once told through the returned sender, stops it
    /// (SIGTERM: it drains and flushes), leaves it down for `down`, then starts it again with
    /// the same config on the same ports; joining the thread gives the Collector back. For
    /// tests that restart the Collector while an exporter keeps sending.
    pub fn restart_when_told(
        self,
        down: Duration,
    ) -> (
        std::sync::mpsc::Sender<()>,
        std::thread::JoinHandle<Collector>,
    ) {
        let (tell, told) = std::sync::mpsc::channel::<()>();
        let restarter = std::thread::spawn(move || {
            let mut collector = self;
            // A dropped sender restarts it too: the test went on without telling.
            let _ = told.recv();
            collector.stop();
            std::thread::sleep(down);
            collector.restart();
            collector
        });
        (tell, restarter)
    }

    /// The Collector's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().and_then(Process::id)
    }

    /// The file the file exporter writes `signal` to.
    pub fn output(&self, signal: Signal) -> PathBuf {
        self.dir
            .join("out")
            .join(format!("{}.jsonl", signal.name()))
    }

    /// How many times each span id appears in the traces file output so far (the file
    /// exporter appends across restarts; a line being written is skipped).
    pub fn span_id_counts(&self) -> std::collections::BTreeMap<Vec<u8>, usize> {
        let mut ids = std::collections::BTreeMap::<Vec<u8>, usize>::new();
        let text = std::fs::read_to_string(self.output(Signal::Traces)).unwrap_or_default();
        for line in text.lines().filter(|l| !l.is_empty()) {
            let Ok(Request::Traces(t)) = Request::decode(
                Signal::Traces,
                Encoding::Json,
                &Bytes::from(line.to_owned()),
            ) else {
                continue;
            };
            for placed in t.spans() {
                *ids.entry(placed.item.span_id.to_vec()).or_default() += 1;
            }
        }
        ids
    }

    /// The Collector's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("peercol.log")).unwrap_or_default()
    }

    /// Waits (at most `timeout`) until the file exporter has written at least `lines` lines of
    /// `signal`, then decodes every line as an OTLP/JSON request of that signal. Panics with the
    /// Collector's log if the lines do not come or one does not decode.
    pub fn read_output(&self, signal: Signal, lines: usize, timeout: Duration) -> Vec<Request> {
        let path = self.output(signal);
        let deadline = Instant::now() + timeout;
        let text = loop {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            // Only complete lines count: the exporter may be halfway through one.
            let complete = text.matches('\n').count();
            if complete >= lines || Instant::now() >= deadline {
                break text;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let complete: Vec<&str> = text
            .split_inclusive('\n')
            .filter(|l| l.ends_with('\n'))
            .collect();
        assert!(
            complete.len() >= lines,
            "{}: {} lines after {timeout:?}, expected {lines}; Collector log tail:\n{}",
            path.display(),
            complete.len(),
            tail(&self.log(), 40)
        );
        complete
            .iter()
            .enumerate()
            .map(|(i, line)| {
                Request::decode(
                    signal,
                    Encoding::Json,
                    &Bytes::from(line.trim_end().to_owned()),
                )
                .unwrap_or_else(|e| {
                    panic!(
                        "{} line {}: not OTLP/JSON we decode: {e}\n{line}",
                        path.display(),
                        i + 1
                    )
                })
            })
            .collect()
    }
}

/// Where a Collector's traces, metrics and logs pipelines export, besides any [`Forward`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outputs {
    /// The debug exporter and a file exporter per signal.
    Files,
    /// Those and, for metrics, the Prometheus exporter.
    FilesAndPrometheus,
    /// The debug exporter only.
    DebugOnly,
}

fn process_log_since(path: &Path, start: usize) -> String {
    let bytes = std::fs::read(path).unwrap_or_default();
    String::from_utf8_lossy(bytes.get(start..).unwrap_or_default()).into_owned()
}

impl Drop for Collector {
    fn drop(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.stop(Duration::from_secs(5));
        }
        // Keep the config, log and output of a failed test for inspection; clean up otherwise.
        if std::thread::panicking() {
            eprintln!(
                "peercol files kept in {}; log tail:\n{}",
                self.dir.display(),
                tail(&self.log(), 40)
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
