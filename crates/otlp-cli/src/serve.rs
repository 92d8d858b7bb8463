//! `otlp serve`: an OTLP receiver that prints one line per request and can record them to files.

use crate::error::{Failure, Result};
use crate::flames::FlameGraphSink;
use crate::send::parse_secs;
use crate::summary;
use otlp_receiver::{Ack, JsonLinesSink, Received, Receiver, Refusal, Sink};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The arguments of `otlp serve`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Output (stdout, one line per event, flushed at once):
  listening grpc=127.0.0.1:4317 http=127.0.0.1:4318
  request signal=traces items=3 bytes=412 protocol=grpc compression=gzip outcome=ok
  request signal=logs items=2 bytes=950 protocol=otap compression=none outcome=ok
  stopped requests=1

Runs until SIGINT (Ctrl-C) or SIGTERM, then finishes the requests in progress and exits 0.")]
pub struct ServeArgs {
    /// Address of the OTLP/gRPC listener (OTLP/Arrow streams too); port 0 picks a free port,
    /// `off` disables gRPC.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:4317", value_parser = parse_listen)]
    grpc: Listen,

    /// Address of the OTLP/HTTP listener; port 0 picks a free port, `off` disables HTTP.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:4318", value_parser = parse_listen)]
    http: Listen,

    /// Also append every request, as one line of OTLP/JSON, to DIR/traces.jsonl, metrics.jsonl,
    /// logs.jsonl or profiles.jsonl (DIR is created if needed). `otlp send` replays these files.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,

    /// Also write a flame graph (SVG) of every profile received, one per profile type, to
    /// DIR/profiles-<request>-<profile>-<type>.svg (DIR is created if needed).
    #[arg(long, value_name = "DIR")]
    flamegraphs: Option<PathBuf>,

    /// Largest request accepted, both as received and once decompressed (bytes, or with a
    /// KiB, MiB or GiB suffix) [default: 16MiB].
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    max_request_size: Option<usize>,

    /// Most items (spans, data points, log records, profiles) one request may carry
    /// [default: 250000].
    #[arg(long, value_name = "N")]
    max_items_per_request: Option<usize>,

    /// Most memory one request may take once decoded (bytes, or with a KiB, MiB or GiB
    /// suffix) [default: 64MiB].
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    max_decoded_size: Option<usize>,

    /// Most memory all requests in flight may hold together; past it, requests are refused
    /// with 429 / RESOURCE_EXHAUSTED and a retry hint (bytes, or with a KiB, MiB or GiB
    /// suffix) [default: 256MiB].
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    memory_limit: Option<usize>,

    /// Seconds a client has to send a complete request head, from connecting (fractions
    /// allowed); one that has not is disconnected [default: 10].
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    header_timeout: Option<Duration>,

    /// Seconds a client has to send a whole request body, from its head (fractions allowed);
    /// a slower one is answered HTTP 408 or gRPC DEADLINE_EXCEEDED [default: 30].
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    body_timeout: Option<Duration>,

    /// Seconds a connection may stay open with no request in progress (fractions allowed)
    /// [default: 60].
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    idle_timeout: Option<Duration>,

    /// Most connections open at a time, both listeners together; a new one at the limit closes
    /// the connection idle the longest [default: 1024].
    #[arg(long, value_name = "N")]
    max_connections: Option<usize>,

    /// Most memory one OTLP/Arrow stream may keep between its batches (its Arrow schemas and
    /// dictionaries); past it, the stream is answered RESOURCE_EXHAUSTED and ended (bytes, or
    /// with a KiB, MiB or GiB suffix) [default: 64MiB].
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    otap_state_limit: Option<usize>,
}

/// A size in bytes: digits, optionally followed by `KiB`, `MiB` or `GiB` (case-insensitive);
/// at least one byte.
fn parse_size(s: &str) -> std::result::Result<usize, String> {
    let t = s.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(digits);
    let not_a_size = || format!("{s:?} is not a size: expected a number such as 4096 or 16MiB");
    if number.is_empty() {
        return Err(not_a_size());
    }
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "kib" | "k" => 10,
        "mib" | "m" => 20,
        "gib" | "g" => 30,
        _ => return Err(format!("unknown unit {unit:?}: use bytes, KiB, MiB or GiB")),
    };
    let n: usize = number.parse().map_err(|_| not_a_size())?;
    match n.checked_mul(1 << shift) {
        Some(0) => Err("a size must be at least 1 byte".to_owned()),
        Some(bytes) => Ok(bytes),
        None => Err(format!("{s} is too large")),
    }
}

/// A listener address, or `None` for a transport that is switched off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Listen(Option<SocketAddr>);

fn parse_listen(s: &str) -> std::result::Result<Listen, String> {
    if s.eq_ignore_ascii_case("off") {
        return Ok(Listen(None));
    }
    s.parse::<SocketAddr>()
        .map(|a| Listen(Some(a)))
        .map_err(|e| format!("{e}: expected IP:PORT such as 127.0.0.1:4317 or [::1]:0, or `off`"))
}

/// Runs the receiver until SIGINT or SIGTERM.
pub async fn run(args: ServeArgs) -> Result<()> {
    let requests = Arc::new(AtomicU64::new(0));
    let counter = requests.clone();
    let mut builder = Receiver::builder().with_request_observer(move |s| {
        counter.fetch_add(1, Ordering::Relaxed);
        summary::print_line(&summary::request_line(s));
    });
    builder = match args.grpc.0 {
        Some(addr) => builder.with_grpc_addr(addr),
        None => builder.without_grpc(),
    };
    builder = match args.http.0 {
        Some(addr) => builder.with_http_addr(addr),
        None => builder.without_http(),
    };
    if let Some(bytes) = args.max_request_size {
        builder = builder.with_max_request_size(bytes);
    }
    if let Some(items) = args.max_items_per_request {
        builder = builder.with_max_items_per_request(items);
    }
    if let Some(bytes) = args.max_decoded_size {
        builder = builder.with_max_decoded_size(bytes);
    }
    if let Some(bytes) = args.memory_limit {
        builder = builder.with_memory_limit(bytes);
    }
    if let Some(timeout) = args.header_timeout {
        builder = builder.with_header_timeout(timeout);
    }
    if let Some(timeout) = args.body_timeout {
        builder = builder.with_body_timeout(timeout);
    }
    if let Some(timeout) = args.idle_timeout {
        builder = builder.with_idle_timeout(timeout);
    }
    if let Some(max) = args.max_connections {
        if max == 0 {
            return Err(Failure::new("--max-connections must be at least 1"));
        }
        builder = builder.with_max_connections(max);
    }
    if let Some(bytes) = args.otap_state_limit {
        builder = builder.with_otap_state_limit(bytes);
    }
    let jsonl = match &args.out {
        Some(dir) => Some(
            JsonLinesSink::create(dir)
                .map_err(|e| Failure::with_cause("cannot record requests (--out)", e))?,
        ),
        None => None,
    };
    builder = match (jsonl, &args.flamegraphs) {
        (jsonl, Some(dir)) => builder
            .with_sink(FlameGraphSink::new(dir, OptionalSink(jsonl)).map_err(|e| {
                Failure::with_cause("cannot write flame graphs (--flamegraphs)", e)
            })?),
        (Some(jsonl), None) => builder.with_sink(jsonl),
        (None, None) => builder,
    };
    // Listen for the signals before announcing the addresses: a script that reads the
    // `listening` line and stops the server at once must get a clean shutdown.
    let stop = shutdown_signal()?;
    let receiver = builder
        .start()
        .await
        .map_err(|e| Failure::with_cause("cannot start the receiver", e))?;
    summary::print_line(&summary::listening_line(
        receiver.grpc_addr(),
        receiver.http_addr(),
    ));
    stop.await;
    receiver.shutdown().await;
    summary::print_line(&summary::stopped_line(requests.load(Ordering::Relaxed)));
    Ok(())
}

/// A sink or none: what `--out` gives the flame graphs to pass requests on to.
struct OptionalSink<S>(Option<S>);

impl<S: Sink> Sink for OptionalSink<S> {
    fn consume(&self, received: Received) -> std::result::Result<Ack, Refusal> {
        match &self.0 {
            Some(sink) => sink.consume(received),
            None => Ok(Ack::ok()),
        }
    }
}

/// Registers for SIGINT and SIGTERM; the future completes when either arrives.
fn shutdown_signal() -> Result<impl Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let register = |kind: SignalKind, name: &str| {
            signal(kind).map_err(|e| Failure::with_cause(format!("cannot handle {name}"), e))
        };
        let mut interrupt = register(SignalKind::interrupt(), "SIGINT")?;
        let mut terminate = register(SignalKind::terminate(), "SIGTERM")?;
        Ok(async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            // Without a handler, Ctrl-C kills the process, which is the best left to do.
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses() {
        assert_eq!(
            parse_listen("127.0.0.1:0"),
            Ok(Listen(Some(([127, 0, 0, 1], 0).into())))
        );
        assert_eq!(parse_listen("OFF"), Ok(Listen(None)));
        let err = parse_listen("localhost:4317").unwrap_err();
        assert!(err.contains("expected IP:PORT"), "{err}");
    }

    #[test]
    fn sizes_take_binary_units() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("16MiB"), Ok(16 << 20));
        assert_eq!(parse_size("2 gib"), Ok(2 << 30));
        assert_eq!(parse_size("64k"), Ok(64 << 10));
        assert!(parse_size("0").unwrap_err().contains("at least 1 byte"));
        assert!(parse_size("12MB").unwrap_err().contains("unknown unit"));
        assert!(parse_size("lots").unwrap_err().contains("not a size"));
        assert!(
            parse_size("99999999999999999999GiB")
                .unwrap_err()
                .contains("not a size")
        );
    }
}
