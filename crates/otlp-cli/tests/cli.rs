//! Runs the built `otlp` binary: `demo`, `serve` recording to files, `send` replaying them, and
//! the failures `send` must report clearly.

mod support;

use otlp::{Exporter, ExporterConfig, Protocol, RetryPolicy};
use otlp_proto::{Compression, Signal, sample};
use otlp_receiver::{Ack, Received, Receiver, Refusal, Sink};
use std::path::Path;

use std::time::Duration;
use support::{BIN, otlp, parse_listening, recorded, serve, stop};
use test_support::{Finished, Spawned, command, free_port as closed_port, run, temp_dir};

const PROTOCOLS: [&str; 3] = ["grpc", "http/protobuf", "http/json"];

#[test]
fn demo_sends_every_signal_through_every_protocol() {
    let mut cmd = otlp();
    cmd.arg("demo");
    let done = run("otlp demo", cmd, Duration::from_secs(120));
    done.assert_success();
    for signal in Signal::ALL {
        for protocol in PROTOCOLS {
            let row = done.stdout.lines().find(|l| {
                let cells: Vec<&str> = l.split_whitespace().collect();
                cells.first() == Some(&signal.name()) && cells.get(1) == Some(&protocol)
            });
            let row =
                row.unwrap_or_else(|| panic!("no {signal} {protocol} row in\n{}", done.stdout));
            assert!(row.ends_with(" ok"), "{row}");
        }
    }
    assert!(done.stdout.contains("demo ok"), "{}", done.stdout);
    let sdk = done
        .stdout
        .lines()
        .find(|l| l.starts_with("sdk trace:"))
        .unwrap_or_else(|| panic!("no sdk trace line in\n{}", done.stdout));
    assert_eq!(
        sdk,
        "sdk trace: 4 spans sent through OtlpClient over grpc, 4 received, parent links ok"
    );
    let profiles = done
        .stdout
        .lines()
        .find(|l| l.starts_with("sdk profiles:"))
        .unwrap_or_else(|| panic!("no sdk profiles line in\n{}", done.stdout));
    assert!(
        profiles.contains(
            "6 profiles (CPU, allocations, live heap) sent through OtlpClient over grpc, 6 received"
        ),
        "{profiles}"
    );
    for line in ["  cpu: ", "  heap_alloc: "] {
        assert!(
            done.stdout.contains(line),
            "no {line:?} summary in\n{}",
            done.stdout
        );
    }
    let logs = done
        .stdout
        .lines()
        .find(|l| l.starts_with("sdk logs:"))
        .unwrap_or_else(|| panic!("no sdk logs line in\n{}", done.stdout));
    assert_eq!(
        logs,
        "sdk logs: 1 log and 1 event sent through OtlpClient over grpc, 2 received, \
         correlated with \"GET /checkout\""
    );
    assert!(
        done.stdout.contains("attributes detected"),
        "{}",
        done.stdout
    );
    for key in ["process.pid", "host.arch", "os.type", "service.name"] {
        assert!(
            done.stdout.lines().any(|l| l.trim_start().starts_with(key)),
            "no {key} in the detected resource:\n{}",
            done.stdout
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_records_what_the_library_exports_and_send_replays_it() {
    let dir = temp_dir("serve-send");
    let (first_out, second_out) = (dir.join("first"), dir.join("second"));

    // 1. Export every sample signal to `otlp serve --out`, alternating the protocols.
    let (server, grpc, http) = serve(&first_out);
    for (i, signal) in Signal::ALL.into_iter().enumerate() {
        let (protocol, addr) = match i % 3 {
            0 => (Protocol::Grpc, &grpc),
            1 => (Protocol::HttpProtobuf, &http),
            _ => (Protocol::HttpJson, &http),
        };
        let exporter = Exporter::new(
            ExporterConfig::new()
                .with_protocol(protocol)
                .with_endpoint(format!("http://{addr}"))
                .with_compression(Compression::Gzip)
                .with_timeout(Duration::from_secs(10))
                .with_retry(RetryPolicy::disabled()),
        )
        .expect("exporter");
        let outcome = exporter
            .export_request(&sample::request(signal))
            .await
            .unwrap_or_else(|e| panic!("{signal} over {protocol}: {e}"));
        assert_eq!(outcome.rejected, 0);
        let (line, _) = server.wait_line(Duration::from_secs(10), |l| l.starts_with("request "));
        let expected = format!(
            "request signal={signal} items={} ",
            sample::request(signal).item_count()
        );
        assert!(line.starts_with(&expected), "{line}");
        assert!(
            line.contains(&format!(" protocol={protocol} compression=gzip outcome=ok")),
            "{line}"
        );
    }
    stop(server, Signal::ALL.len());
    for signal in Signal::ALL {
        assert_eq!(
            recorded(&first_out, signal),
            [sample::request(signal)],
            "{signal}"
        );
    }

    // 2. Replay the files to a second server with `otlp send`. The protocol and compression
    // come from the environment; the endpoint variable points nowhere, so the option must win.
    let (server, grpc, _) = serve(&second_out);
    let mut cmd = otlp();
    cmd.env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        .env("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")
        .env(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://127.0.0.1:{}", closed_port()),
        )
        .args(["send", "--timeout", "10", "--endpoint"])
        .arg(format!("http://{grpc}"));
    for signal in Signal::ALL {
        cmd.arg(first_out.join(format!("{}.jsonl", signal.name())));
    }
    let done = run("otlp send", cmd, Duration::from_secs(60));
    done.assert_success();
    let sent: Vec<&str> = done
        .stdout
        .lines()
        .filter(|l| l.starts_with("sent "))
        .collect();
    assert_eq!(sent.len(), Signal::ALL.len(), "{}", done.stdout);
    for (line, signal) in sent.iter().zip(Signal::ALL) {
        let expected = format!(
            "sent signal={signal} items={} attempts=1 source=",
            sample::request(signal).item_count()
        );
        assert!(line.starts_with(&expected), "{line}");
        assert!(
            line.ends_with(&format!("{}.jsonl:1", signal.name())),
            "{line}"
        );
    }
    assert!(
        done.stdout.contains("done requests=4 items=14 rejected=0"),
        "{}",
        done.stdout
    );
    for _ in Signal::ALL {
        let (line, _) = server.wait_line(Duration::from_secs(10), |l| l.starts_with("request "));
        assert!(
            line.contains(" protocol=grpc compression=gzip outcome=ok"),
            "{line}"
        );
    }
    stop(server, Signal::ALL.len());
    for signal in Signal::ALL {
        assert_eq!(
            recorded(&second_out, signal),
            recorded(&first_out, signal),
            "{signal} after the round trip"
        );
    }
    std::fs::remove_dir_all(&dir).expect("clean up");
}

/// Runs `otlp send FILE` against a port nothing listens on, for a file it must refuse before
/// sending anything: checks that it exits 1 without panicking and without sending, and returns
/// what it printed.
fn send_refused(path: &Path) -> Finished {
    let mut cmd = otlp();
    cmd.args(["send", "--timeout", "2", "--endpoint"])
        .arg(format!("http://127.0.0.1:{}", closed_port()))
        .arg(path);
    let done = run("otlp send", cmd, Duration::from_secs(30));
    assert_eq!(done.status.code(), Some(1), "{done:?}");
    assert!(!done.stderr.contains("panicked"), "{}", done.stderr);
    assert!(done.stdout.is_empty(), "sent something: {}", done.stdout);
    done
}

/// The sample traces request as one OTLP/JSON line.
fn traces_line() -> String {
    String::from_utf8(sample::request(Signal::Traces).to_json()).expect("utf-8")
}

#[test]
fn send_names_the_file_and_line_that_does_not_decode() {
    let dir = temp_dir("malformed");
    let path = dir.join("traces.jsonl");
    let good = traces_line();
    std::fs::write(
        &path,
        format!("{good}\n{{\"resourceSpans\": [{{\"scopeSpans\": 7}}]}}\n"),
    )
    .expect("write");
    let done = send_refused(&path);
    let expected = format!(
        "otlp: error: {}:2: not an OTLP/JSON traces export request: ",
        path.display()
    );
    assert!(done.stderr.starts_with(&expected), "{}", done.stderr);

    // A name that says no signal is an error too, unless --signal says it.
    let odd = dir.join("spans-of-tuesday.jsonl");
    std::fs::write(&odd, format!("{good}\n")).expect("write");
    let done = send_refused(&odd);
    assert!(done.stderr.contains("--signal"), "{}", done.stderr);
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn send_refuses_a_line_that_holds_no_resources() {
    let dir = temp_dir("no-resources");
    let path = dir.join("traces.jsonl");
    // A line in another format: the decoder skips keys it does not know, which leaves an empty
    // request. It must be refused, by file and line, before the good line is sent.
    std::fs::write(
        &path,
        format!(
            "{}\n\n{{\"signal\":\"traces\",\"request\":{{}}}}\n",
            traces_line()
        ),
    )
    .expect("write");
    let done = send_refused(&path);
    assert_eq!(
        done.stderr.trim_end(),
        format!(
            "otlp: error: {}:3: holds no resourceSpans: not an OTLP/JSON traces export request",
            path.display()
        )
    );
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn send_to_a_closed_port_fails_within_its_timeout() {
    let dir = temp_dir("closed-port");
    let path = dir.join("logs.jsonl");
    let mut line = sample::request(Signal::Logs).to_json();
    line.push(b'\n');
    std::fs::write(&path, line).expect("write");
    for protocol in ["grpc", "http/protobuf"] {
        let port = closed_port();
        let mut cmd = otlp();
        cmd.args([
            "send",
            "--timeout",
            "1",
            "--protocol",
            protocol,
            "--endpoint",
        ])
        .arg(format!("http://127.0.0.1:{port}"))
        .arg(&path);
        let done = run("otlp send", cmd, Duration::from_secs(30));
        assert_eq!(done.status.code(), Some(1), "{protocol}: {done:?}");
        assert!(
            done.elapsed < Duration::from_secs(15),
            "{protocol}: took {:?}",
            done.elapsed
        );
        let message = done.stderr.trim_end();
        assert!(
            message.starts_with(&format!(
                "otlp: error: {}:1: logs export to http://127.0.0.1:{port}",
                path.display()
            )),
            "{protocol}: {message}"
        );
        assert!(message.contains("refused"), "{protocol}: {message}");
        assert!(!message.contains("panicked"), "{message}");
        assert_eq!(message.lines().count(), 1, "{message}");
    }
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn serve_reports_an_address_in_use_and_bad_options() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let mut cmd = otlp();
    cmd.args(["serve", "--grpc", "127.0.0.1:0", "--http", &addr]);
    let done = run("otlp serve", cmd, Duration::from_secs(30));
    assert_eq!(done.status.code(), Some(1), "{done:?}");
    assert!(
        done.stderr.starts_with(&format!(
            "otlp: error: cannot start the receiver: cannot listen on {addr}"
        )),
        "{}",
        done.stderr
    );

    let mut cmd = otlp();
    cmd.args(["serve", "--grpc", "localhost"]);
    let done = run("otlp serve", cmd, Duration::from_secs(30));
    assert_eq!(done.status.code(), Some(2), "usage errors exit 2: {done:?}");
    assert!(done.stderr.contains("--grpc"), "{}", done.stderr);
}

/// Starts `otlp serve`, HTTP only on a free port, with `options`; returns it and its address.
fn serve_http_with(options: &[&str]) -> (Spawned, String) {
    let mut cmd = otlp();
    cmd.args(["serve", "--grpc", "off", "--http", "127.0.0.1:0"])
        .args(options);
    let server = Spawned::start("otlp serve", cmd);
    let (line, _) = server.wait_line(Duration::from_secs(30), |l| l.starts_with("listening"));
    let (_, http) = parse_listening(&line);
    (server, http)
}

/// What the server sent before closing `stream`, or `None` if it kept it open for 5 seconds
/// (less than any default timeout, so only the option under test can close it).
fn closed_by_server(stream: &mut std::net::TcpStream) -> Option<String> {
    use std::io::{ErrorKind, Read};
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("read timeout");
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return None;
            }
            Err(_) => break,
        }
    }
    Some(String::from_utf8_lossy(&received).into_owned())
}

fn connect(addr: &str) -> std::net::TcpStream {
    std::net::TcpStream::connect(addr).expect("connect")
}

/// Writes the head of an OTLP/HTTP export of `content_length` bytes, and `extra` header lines.
fn write_head(stream: &mut std::net::TcpStream, content_length: usize, extra: &str) {
    use std::io::Write;
    let head = format!(
        "POST /v1/traces HTTP/1.1\r\nhost: test\r\ncontent-type: application/x-protobuf\r\n\
         content-length: {content_length}\r\n{extra}\r\n"
    );
    stream.write_all(head.as_bytes()).expect("write");
}

#[test]
fn serve_applies_the_timeout_and_connection_options() {
    let (server, http) = serve_http_with(&["--header-timeout", "0.3", "--body-timeout", "0.3"]);
    let silent = closed_by_server(&mut connect(&http));
    assert_eq!(silent.as_deref(), Some(""), "--header-timeout");
    let mut short_body = connect(&http);
    write_head(&mut short_body, 100, "");
    let answer = closed_by_server(&mut short_body).expect("--body-timeout");
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
    // The 408 is a request, and reported as one.
    stop(server, 1);

    let (server, http) = serve_http_with(&["--idle-timeout", "0.3", "--max-connections", "2"]);
    let mut served = connect(&http);
    write_head(&mut served, 0, "");
    let answer = closed_by_server(&mut served).expect("--idle-timeout");
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    let mut first = connect(&http);
    let _second = connect(&http);
    let _third = connect(&http);
    assert_eq!(
        closed_by_server(&mut first).as_deref(),
        Some(""),
        "--max-connections: the first makes room for the third"
    );
    stop(server, 1);

    let mut cmd = otlp();
    cmd.args(["serve", "--header-timeout", "0"]);
    let done = run("otlp serve", cmd, Duration::from_secs(30));
    assert_eq!(done.status.code(), Some(2), "usage errors exit 2: {done:?}");
    assert!(done.stderr.contains("--header-timeout"), "{}", done.stderr);

    let mut cmd = otlp();
    cmd.args(["serve", "--grpc", "off", "--http", "127.0.0.1:0"]);
    cmd.args(["--max-connections", "0"]);
    let done = run("otlp serve", cmd, Duration::from_secs(30));
    assert_eq!(done.status.code(), Some(1), "{done:?}");
    assert_eq!(
        done.stderr.trim(),
        "otlp: error: --max-connections must be at least 1"
    );
}

/// With far fewer file descriptors than the connection limit, a crowd of idle connections
/// exhausts them first: the server then evicts the connection idle the longest to accept the
/// next, as at the limit, and a client sending a request is still served.
#[cfg(unix)]
#[test]
fn serve_out_of_file_descriptors_evicts_idle_connections() {
    let mut cmd = command("sh");
    cmd.args([
        "-c",
        "ulimit -n 64 && exec \"$0\" serve --grpc off --http 127.0.0.1:0",
    ])
    .arg(BIN);
    let server = Spawned::start("otlp serve (64 files)", cmd);
    let (line, _) = server.wait_line(Duration::from_secs(30), |l| l.starts_with("listening"));
    let (_, http) = parse_listening(&line);

    let mut crowd: Vec<_> = (0..200).map(|_| connect(&http)).collect();
    let mut client = connect(&http);
    write_head(&mut client, 0, "connection: close\r\n");
    // Read within 5 seconds: less than the header timeout that would free descriptors anyway.
    let answer = closed_by_server(&mut client).unwrap_or_else(|| "(no answer)".to_owned());
    assert!(answer.starts_with("HTTP/1.1 200 "), "served: {answer:?}");
    assert_eq!(
        closed_by_server(&mut crowd[0]).as_deref(),
        Some(""),
        "evicted"
    );
    stop(server, 1);
}

/// Accepts every request but rejects one item of each, as a server dropping old data would.
struct RejectsOne;

impl Sink for RejectsOne {
    fn consume(&self, _: Received) -> Result<Ack, Refusal> {
        Ok(Ack::partial(1, "one record too old"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_reports_partial_success_and_fails() {
    let receiver = Receiver::builder()
        .with_free_loopback_ports()
        .with_sink(RejectsOne)
        .start()
        .await
        .expect("receiver");
    let http = receiver.http_addr().expect("http");
    let dir = temp_dir("partial");
    let path = dir.join("logs.jsonl");
    let mut line = sample::request(Signal::Logs).to_json();
    line.push(b'\n');
    std::fs::write(&path, line).expect("write");
    let mut cmd = otlp();
    cmd.args(["send", "--protocol", "http/json", "--endpoint"])
        .arg(format!("http://{http}"))
        .arg(&path);
    let done = tokio::task::spawn_blocking(move || run("otlp send", cmd, Duration::from_secs(60)))
        .await
        .expect("join");
    receiver.shutdown().await;
    assert_eq!(done.status.code(), Some(1), "{done:?}");
    let source = format!("{}:1", path.display());
    let lines: Vec<&str> = done.stdout.lines().collect();
    assert_eq!(
        lines,
        [
            format!("sent signal=logs items=3 attempts=1 source={source}"),
            format!(
                "partial signal=logs rejected=1 message=\"one record too old\" source={source}"
            ),
            "done requests=1 items=3 rejected=1".to_owned(),
        ],
        "{}",
        done.stderr
    );
    assert_eq!(
        done.stderr.trim_end(),
        "otlp: error: the server rejected 1 item(s); see the `partial` lines"
    );
    std::fs::remove_dir_all(&dir).expect("clean up");
}
