//! Dev-only helpers shared by the workspace's integration tests (unpublished; only
//! `[dev-dependencies]` and the test-only `otlp-interop` crate use it).
//!
//! - [`command`]: a command isolated from the caller's OpenTelemetry settings and proxies;
//! - [`run`] runs a command to completion, [`Spawned`] keeps one running with its stdout read
//!   line by line, [`Process`] keeps a long-running peer logging to a file; every wait is
//!   bounded, and a child is stopped when its handle drops;
//! - [`python_peers`] installs (once per test binary, cached) and finds the Python
//!   OpenTelemetry SDK virtualenvs of `interop/python`;
//! - [`alloc::Counting`]: a counting global allocator, for tests that bound allocations;
//! - [`clients`]: hyper clients for OTLP/HTTP and OTLP/gRPC that send anything, raw bodies and
//!   hand-framed gRPC messages included;
//! - [`otap`]: a raw OTLP/Arrow (OTAP) stream client (`BatchArrowRecords` out, `BatchStatus`
//!   back), reusing [`clients`]' HTTP/2 client;
//! - [`hostile`]: requests built to hurt a receiver (decode amplification);
//! - [`pki::Pki`]: a throwaway CA with server, client, expired and wrong-host certificates;
//! - [`otap`]: a scripted OTLP/Arrow server (acks in or out of order, error statuses, stream
//!   resets, `UNIMPLEMENTED`, going away and coming back);
//! - [`chaos::ModeSink`]: a sink switched at runtime between normal, slow, 503/`UNAVAILABLE`
//!   and partial-success answers (the soak's misbehaving receiver);
//! - [`client::Harness`]: an `OtlpClient` exporting to an in-process receiver, and the spans
//!   and log records it received, flushed first (the end-to-end tests' set-up);
//! - [`temp_dir`], [`free_port`], [`tail`], [`repo_root`]: the small things every harness
//!   needs.
//!
//! Helpers panic with what the child printed: they are for tests, where a panic is the
//! failure report.

#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod alloc;
pub mod chaos;
pub mod client;
pub mod clients;
pub mod hostile;
pub mod otap;
pub mod pki;
mod process;

pub use process::{Finished, Process, Spawned, run};

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A command running `program` without the caller's `OTEL_*` variables (they would change what
/// an OpenTelemetry SDK, ours or a peer's, or the Collector does) and with loopback exempt from
/// proxies (both `requests` and grpc-core honour `no_proxy`; the peers talk over loopback only).
pub fn command(program: impl AsRef<OsStr>) -> Command {
    let mut cmd = Command::new(program);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("OTEL_") {
            cmd.env_remove(name);
        }
    }
    cmd.env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost");
    cmd
}

/// A fresh, empty directory for one test, under the system temp directory, unique per test
/// binary.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("otlp-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the test's temp dir");
    dir
}

/// A loopback port that was free a moment ago (bound to port 0, then released): nothing
/// listens on it, and a peer started right after can usually take it (harnesses that start
/// peers retry with new ports when another process took it first).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// A loopback port that was free a moment ago and lies below the kernel's ephemeral range
/// (`/proc/sys/net/ipv4/ip_local_port_range`), for a server restarted on the same port: while
/// it is down, no connection or `bind(0)` of another test can be given that port (a port from
/// [`free_port`] can be, and the restart then fails). Ports in 20000..(the range's start) are
/// tried at random.
pub fn free_port_for_restarts() -> u16 {
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse::<u16>().ok())
        .filter(|&low| low > 21_000)
        .unwrap_or(32_768);
    for _ in 0..1000 {
        let port = fastrand::u16(20_000..low);
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    free_port()
}

/// The last `lines` lines of `text`.
pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The interpreters of the two Python virtualenvs of `interop/python`.
#[derive(Debug)]
pub struct PythonPeers {
    /// The SDK with the protobuf exporters, the proto stubs and grpcio.
    pub sdk: PathBuf,
    /// The SDK with the OTLP/JSON HTTP exporter.
    pub json: PathBuf,
}

/// Runs `interop/python/setup.sh` once per test binary (idempotent, and fast once the
/// virtualenvs exist under `target/peers`) and returns the interpreters it reports. A failed
/// install fails the test with the script's output: a peer that cannot be installed is a test
/// failure, never a skip.
pub fn python_peers() -> &'static PythonPeers {
    static PEERS: OnceLock<PythonPeers> = OnceLock::new();
    PEERS.get_or_init(|| {
        let mut cmd = command("bash");
        cmd.arg(repo_root().join("interop/python/setup.sh"))
            .current_dir(repo_root());
        // A cold install downloads and builds wheels; setup.sh bounds each pip run itself.
        let name = "interop/python/setup.sh (installs the Python peers)";
        let done = run(name, cmd, Duration::from_secs(40 * 60));
        done.assert_success();
        PythonPeers {
            sdk: done.line_value("PY_SDK=").into(),
            json: done.line_value("PY_JSON=").into(),
        }
    })
}

/// Runs `interop/python/sdk_send.py` with `python` (one of [`python_peers`]'s interpreters)
/// against `endpoint` over `protocol`, with `extra` arguments, bounded to two minutes, and
/// returns the JSON summary it prints last. The script sends a fixed set of spans, metrics and
/// logs through the Python SDK's exporters. Blocking: from async code, call it through
/// `spawn_blocking`. Panics, with what the script printed, if it fails.
pub fn python_sdk_send(
    python: &Path,
    endpoint: &str,
    protocol: &str,
    extra: &[&str],
) -> serde_json::Value {
    let mut cmd = command(python);
    cmd.arg(repo_root().join("interop/python/sdk_send.py"))
        .args(["--endpoint", endpoint, "--protocol", protocol])
        .args(["--timeout", "10", "--deadline", "90"])
        .args(extra);
    let name = format!("sdk_send.py --protocol {protocol} {}", extra.join(" "));
    let done = run(&name, cmd, Duration::from_secs(120));
    done.assert_success();
    done.stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("no JSON summary from {name}:\n{}", done.stdout))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_skip_proxies_and_finish_within_bounds() {
        let mut cmd = command("sh");
        cmd.args(["-c", "echo $no_proxy; echo KEY=value; echo err >&2"]);
        let done = run("sh", cmd, Duration::from_secs(20));
        done.assert_success();
        assert_eq!(done.stdout, "127.0.0.1,localhost\nKEY=value\n");
        assert_eq!(done.stderr.trim(), "err");
        assert_eq!(done.line_value("KEY="), "value");
        assert_eq!(tail("a\nb\nc", 2), "b\nc");
        assert_eq!(tail("a", 5), "a");
    }

    #[test]
    fn the_callers_otel_settings_are_removed() {
        let cmd = command("true");
        let inherited: Vec<_> = std::env::vars_os()
            .filter(|(k, _)| k.to_string_lossy().starts_with("OTEL_"))
            .map(|(k, _)| k)
            .collect();
        for name in inherited {
            assert!(
                cmd.get_envs().any(|(k, v)| k == name && v.is_none()),
                "{name:?} is passed on"
            );
        }
    }

    #[test]
    #[should_panic(expected = "did not exit within")]
    fn a_command_past_its_timeout_is_killed_and_fails() {
        let mut cmd = command("sleep");
        cmd.arg("30");
        let _ = run("sleep", cmd, Duration::from_millis(300));
    }
}
