//! `otlp serve`: an OTLP receiver that prints one line per request and can record them to files.

use crate::error::{Failure, Result};
use crate::send::parse_secs;
use crate::summary;
use otlp_receiver::{JsonLinesSink, Receiver};
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
  stopped requests=1

Runs until SIGINT (Ctrl-C) or SIGTERM, then finishes the requests in progress and exits 0.")]
pub struct ServeArgs {
    /// Address of the OTLP/gRPC listener; port 0 picks a free port, `off` disables gRPC.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:4317", value_parser = parse_listen)]
    grpc: Listen,

    /// Address of the OTLP/HTTP listener; port 0 picks a free port, `off` disables HTTP.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:4318", value_parser = parse_listen)]
    http: Listen,

    /// Also append every request, as one line of OTLP/JSON, to DIR/traces.jsonl, metrics.jsonl,
    /// logs.jsonl or profiles.jsonl (DIR is created if needed). `otlp send` replays these files.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,

    /// Largest request accepted, in bytes, both as received and once decompressed
    /// [default: 16777216].
    #[arg(long, value_name = "BYTES")]
    max_request_size: Option<usize>,

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
        if bytes == 0 {
            return Err(Failure::new("--max-request-size must be at least 1 byte"));
        }
        builder = builder.with_max_request_size(bytes);
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
    if let Some(dir) = &args.out {
        let sink = JsonLinesSink::create(dir)
            .map_err(|e| Failure::with_cause("cannot record requests (--out)", e))?;
        builder = builder.with_sink(sink);
    }
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
}
