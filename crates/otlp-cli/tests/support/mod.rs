//! Shared by the CLI's integration tests: the built `otlp` binary, `otlp serve` on free ports
//! and what it recorded.

// Each test file uses part of this module.
#![allow(dead_code)]

use bytes::Bytes;
use otlp_proto::{Encoding, Request, Signal};
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use test_support::{Spawned, command};

/// The `otlp` binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_otlp");

/// `otlp` with no OTLP environment variables, so the tests do not depend on the caller's.
pub fn otlp() -> Command {
    command(BIN)
}

/// Starts `otlp serve` on free ports, recording to `out`; returns it with its gRPC and HTTP
/// addresses.
pub fn serve(out: &Path) -> (Spawned, String, String) {
    let mut cmd = otlp();
    cmd.args([
        "serve",
        "--grpc",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
        "--out",
    ])
    .arg(out);
    let server = Spawned::start("otlp serve", cmd);
    let (line, skipped) = server.wait_line(Duration::from_secs(30), |l| l.starts_with("listening"));
    assert!(
        skipped.is_empty(),
        "output before the listening line: {skipped:?}"
    );
    let (grpc, http) = parse_listening(&line);
    (server, grpc, http)
}

/// Stops a server with SIGTERM; checks it exits 0 and says how many requests it served.
pub fn stop(server: Spawned, requests: usize) {
    let rest = server.stop(Duration::from_secs(30));
    assert_eq!(
        rest.last().map(String::as_str),
        Some(format!("stopped requests={requests}").as_str()),
        "{rest:?}"
    );
}

/// The requests recorded in `dir/<signal>.jsonl`.
pub fn recorded(dir: &Path, signal: Signal) -> Vec<Request> {
    let path = dir.join(format!("{}.jsonl", signal.name()));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            let body = Bytes::copy_from_slice(line.as_bytes());
            Request::decode(signal, Encoding::Json, &body)
                .unwrap_or_else(|e| panic!("{}:{}: {e}", path.display(), i + 1))
        })
        .collect()
}

/// Parses `listening grpc=ADDR http=ADDR` into the two addresses.
pub fn parse_listening(line: &str) -> (String, String) {
    let mut grpc = None;
    let mut http = None;
    let mut words = line.split_whitespace();
    assert_eq!(words.next(), Some("listening"), "{line}");
    for word in words {
        match word.split_once('=') {
            Some(("grpc", a)) => grpc = Some(a.to_owned()),
            Some(("http", a)) => http = Some(a.to_owned()),
            _ => panic!("unexpected field {word:?} in {line:?}"),
        }
    }
    (
        grpc.unwrap_or_else(|| panic!("no grpc= in {line:?}")),
        http.unwrap_or_else(|| panic!("no http= in {line:?}")),
    )
}
