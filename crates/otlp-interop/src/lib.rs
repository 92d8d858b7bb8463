//! Test harness for the interoperability checks against the real OpenTelemetry Collector
//! (`peercol`, v0.148.0) and Jaeger v2 (module v1.76.0), both built from their Go modules by
//! `interop/build-peers.sh`. Only the tests of this crate use it.
//!
//! - [`peers`] builds the peers once per test binary (cached; a failed build fails the test with
//!   the script's output, it never skips);
//! - [`Collector`] and [`Jaeger`] start a peer on free loopback ports with a generated config,
//!   wait (bounded) until it answers, and stop it when dropped (SIGTERM, then SIGKILL);
//! - [`compare`] defines what "semantically equal" means for data that went through a peer;
//! - [`prometheus`] parses what the Collector's Prometheus exporter serves;
//! - [`metrics`] is the metrics workload of the Collector tests and what each exporter should
//!   show of it.
//!
//! Every wait is bounded; every failure message carries the tail of the peer's log.

mod collector;
pub mod compare;
mod jaeger;
pub mod metrics;
pub mod prometheus;

pub use collector::{Collector, CollectorTls, Forward, ForwardTls};
pub use jaeger::Jaeger;

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub use test_support::{
    Finished, Process, command, free_port, python_peers, python_sdk_send, repo_root, run, tail,
    temp_dir,
};

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

// ------------------------------------------------------------------------------------------
// Building the peers

/// The Go peers' binaries.
#[derive(Debug)]
pub struct Peers {
    /// The Collector (`peercol`).
    pub peercol: PathBuf,
    /// Jaeger v2.
    pub jaeger: PathBuf,
}

/// Runs `interop/build-peers.sh` once per test binary (a few seconds when the binaries are
/// current; minutes for a cold build) and returns the binaries it reports. Panics with the
/// script's output if it fails: a peer that cannot be built is a test failure, not a skip.
pub fn peers() -> &'static Peers {
    static PEERS: OnceLock<Peers> = OnceLock::new();
    PEERS.get_or_init(|| {
        let mut cmd = command("bash");
        cmd.arg(repo_root().join("interop/build-peers.sh"))
            .current_dir(repo_root());
        let done = run("interop/build-peers.sh", cmd, Duration::from_secs(45 * 60));
        done.assert_success();
        eprintln!("{}", done.stderr.trim_end());
        Peers {
            peercol: done.line_value("PEERCOL=").into(),
            jaeger: done.line_value("JAEGER=").into(),
        }
    })
}

/// The interpreter of the Python SDK virtualenv that `interop/python/setup.sh` installs
/// ([`python_peers`]).
pub fn python_sdk() -> &'static Path {
    &python_peers().sdk
}

// ------------------------------------------------------------------------------------------
// A tiny HTTP/1.0 client: enough for readiness probes and Jaeger's query API, without pulling
// an HTTP client into the workspace.

/// Sends one HTTP/1.0 request to `addr` and returns the status code and the body. HTTP/1.0 makes
/// the server close the connection after the response and never use chunked encoding.
pub fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
) -> std::io::Result<(u16, Vec<u8>)> {
    let timeout = Duration::from_secs(5);
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let mut head = format!("{method} {path} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n");
    if !body.is_empty() || method == "POST" {
        let _ = write!(
            head,
            "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
            body.len()
        );
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    // Read until the head is complete and then as much body as Content-Length says (or to the
    // end of the stream without one): some servers keep the connection open regardless.
    let mut response = Vec::new();
    let mut buf = [0_u8; 16 * 1024];
    let mut expected: Option<(usize, usize)> = None; // (head end, body length)
    loop {
        if let Some((start, len)) = expected
            && response.len() >= start + len
        {
            break;
        }
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        response.extend_from_slice(&buf[..n]);
        if expected.is_none()
            && let Some(split) = response.windows(4).position(|w| w == b"\r\n\r\n")
        {
            let head = String::from_utf8_lossy(&response[..split]).to_ascii_lowercase();
            expected = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .map(|len| (split + 4, len));
        }
    }
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no end of the response head"))?;
    let head = String::from_utf8_lossy(&response[..split]);
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line in {head:?}")))?;
    Ok((status, response[split + 4..].to_vec()))
}

/// Polls `probe` every 100 ms until it returns `Some`, `process` exits, or `timeout` passes.
fn wait_until<T>(
    process: &mut Process,
    timeout: Duration,
    mut probe: impl FnMut() -> Option<T>,
) -> Result<T, String> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = probe() {
            return Ok(v);
        }
        if let Some(status) = process.exited() {
            return Err(format!("exited ({status}) before it was ready"));
        }
        if Instant::now() >= deadline {
            return Err(format!("not ready within {timeout:?}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
