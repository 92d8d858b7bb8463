//! `otlp serve` under hostile input, with its default limits: requests that decode to gigabytes,
//! bombs, deep nesting, bad strings and ids, empty requests. Each gets the answer it should, the
//! process stays within a few hundred MiB, a normal client is served throughout, and everything
//! the server recorded replays with `otlp send`.

mod support;

use bytes::Bytes;
use otlp_proto::collector::{ExportLogsServiceRequest, ExportTraceServiceRequest};
use otlp_proto::common::{AnyValue, ArrayValue, Value};
use otlp_proto::logs::{LogRecord, ResourceLogs, ScopeLogs};
use otlp_proto::trace::{ResourceSpans, ScopeSpans, Span};
use otlp_proto::{Compression, Encoding, Request, Signal, sample};
use std::net::SocketAddr;
use std::time::Duration;
use support::{otlp, recorded, serve, stop};
use test_support::clients::{
    TestClient, compress, export_http, full, grpc_call, h2_client, http1_client, post,
};
use test_support::hostile::{empty_spans_json, empty_spans_protobuf};
use test_support::{run, temp_dir};

/// A logs request whose record's body is an array in an array ... `levels` deep.
fn nested_body(levels: usize) -> Request {
    let mut value = AnyValue::from("leaf");
    for _ in 0..levels {
        value = AnyValue::new(Value::ArrayValue(ArrayValue {
            values: vec![value],
        }));
    }
    Request::Logs(ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![LogRecord {
                    body: Some(value),
                    ..LogRecord::default()
                }],
                ..ScopeLogs::default()
            }],
            ..ResourceLogs::default()
        }],
    })
}

/// A traces request whose one span is named `name`.
fn span_named(name: &str) -> Request {
    Request::Traces(ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![Span {
                    trace_id: vec![7; 16].into(),
                    span_id: vec![8; 8].into(),
                    name: name.to_owned().into(),
                    ..Span::default()
                }],
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    })
}

/// POSTs a raw body to the HTTP listener; returns the status.
async fn post_raw(
    client: &TestClient,
    http: SocketAddr,
    signal: Signal,
    encoding: Encoding,
    compression: Compression,
    body: Bytes,
) -> u16 {
    let mut headers = vec![("content-type", encoding.content_type())];
    if let Some(token) = compression.encoding_token() {
        headers.push(("content-encoding", token));
    }
    post(client, http, signal.http_path(), &headers, full(body))
        .await
        .status
        .as_u16()
}

/// The most memory the process has had resident, from `/proc`.
#[cfg(target_os = "linux")]
fn peak_resident_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM");
    kib * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_holds_against_hostile_input_and_its_recordings_replay() {
    let dir = temp_dir("hostile");
    let out = dir.join("recorded");
    let (server, grpc, http) = serve(&out);
    let (grpc, http): (SocketAddr, SocketAddr) = (
        grpc.parse().expect("address"),
        http.parse().expect("address"),
    );
    let h1 = http1_client();

    // 1. Decode amplification, several at once: 15.8 MB of empty spans (7.9 million), the same
    // gzipped to a few KB, and 15.6 MB of `{}` spans. Each would decode to gigabytes.
    let pb = empty_spans_protobuf(7_900_000);
    let gz = compress(Compression::Gzip, &pb);
    let json = empty_spans_json(5_200_000);
    assert!(pb.len() < 16 << 20 && json.len() < 16 << 20 && gz.len() < 1 << 20);
    let mut flood = tokio::task::JoinSet::new();
    for _ in 0..3 {
        for (encoding, compression, body) in [
            (Encoding::Protobuf, Compression::None, pb.clone()),
            (Encoding::Protobuf, Compression::Gzip, gz.clone()),
            (Encoding::Json, Compression::None, json.clone()),
        ] {
            let client = h1.clone();
            flood.spawn(async move {
                let status =
                    post_raw(&client, http, Signal::Traces, encoding, compression, body).await;
                (encoding, compression, status)
            });
        }
    }
    // A normal client is served meanwhile: at once, or after the retry hint it is given if the
    // flood holds the memory limit at that moment (as an OTLP exporter would retry).
    let normal = sample::request(Signal::Logs);
    let mut attempts = 0;
    loop {
        attempts += 1;
        let (reply, _) =
            export_http(&h1, http, &normal, Encoding::Protobuf, Compression::None).await;
        match reply.status.as_u16() {
            200 => break,
            429 if attempts < 30 => {
                assert_eq!(reply.headers["retry-after"], "1");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            status => panic!("a normal request during the flood: {status}"),
        }
    }
    while let Some(done) = flood.join_next().await {
        let (encoding, compression, status) = done.expect("task");
        // 413: over the per-request limits; 429: over the memory limit, come back later.
        assert!(
            status == 413 || status == 429,
            "{encoding:?} {compression}: {status}"
        );
    }

    // 2. A zip bomb stops at the request size limit.
    let bomb = compress(Compression::Gzip, &vec![0u8; 50 << 20]);
    let status = post_raw(
        &h1,
        http,
        Signal::Traces,
        Encoding::Protobuf,
        Compression::Gzip,
        bomb,
    );
    assert_eq!(status.await, 413);

    // 3. Nesting: the same depth is accepted or refused in both encodings. 35 levels of arrays
    // is fine (and recorded, so it must replay); 60 is too deep.
    for encoding in [Encoding::Protobuf, Encoding::Json] {
        let (reply, _) =
            export_http(&h1, http, &nested_body(35), encoding, Compression::None).await;
        assert_eq!(reply.status.as_u16(), 200, "{encoding:?}, 35 levels");
        let (reply, _) =
            export_http(&h1, http, &nested_body(60), encoding, Compression::None).await;
        assert_eq!(reply.status.as_u16(), 400, "{encoding:?}, 60 levels");
    }

    // 4. A string that is not UTF-8, and an id of the wrong length, are refused.
    let wire = span_named("AAAA").encode(Encoding::Protobuf).to_vec();
    let at = wire.windows(4).position(|w| w == b"AAAA").expect("name");
    let mut bad = wire.clone();
    bad[at..at + 4].copy_from_slice(&[0xff, 0xfe, 0xff, 0xfe]);
    let status = post_raw(
        &h1,
        http,
        Signal::Traces,
        Encoding::Protobuf,
        Compression::None,
        bad.into(),
    );
    assert_eq!(status.await, 400);
    let long_id = format!(
        r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{{"traceId":"{}"}}]}}]}}]}}"#,
        "ab".repeat(1 << 19)
    );
    let status = post_raw(
        &h1,
        http,
        Signal::Traces,
        Encoding::Json,
        Compression::None,
        long_id.into(),
    );
    assert_eq!(status.await, 400);

    // 5. Empty requests are acknowledged (nothing in them to refuse) but not recorded.
    for encoding in [Encoding::Protobuf, Encoding::Json] {
        let status = post_raw(
            &h1,
            http,
            Signal::Metrics,
            encoding,
            Compression::None,
            Bytes::new(),
        );
        assert!(matches!(status.await, 200 | 400), "{encoding:?}");
    }
    let h2 = h2_client();
    let empty_call = grpc_call(&h2, grpc, Signal::Metrics.grpc_path(), &[], Bytes::new()).await;
    assert!(empty_call.code.is_some(), "{empty_call:?}");

    // 6. Good requests of every signal, over both transports, are recorded.
    for signal in Signal::ALL {
        let (reply, _) = export_http(
            &h1,
            http,
            &sample::request(signal),
            Encoding::Json,
            Compression::Gzip,
        )
        .await;
        assert_eq!(reply.status.as_u16(), 200, "{signal}");
    }

    #[cfg(target_os = "linux")]
    {
        let peak = peak_resident_bytes(server.id());
        assert!(
            peak < 400 << 20,
            "otlp serve peaked at {} MiB resident",
            peak >> 20
        );
    }
    // Every export request is answered and counted: the flood, the normal one (each attempt), the bomb, four
    // nestings, two bad strings, three empty requests and the four samples.
    let requests = 3 * 3 + attempts + 1 + 4 + 2 + 3 + Signal::ALL.len();
    stop(server, requests);

    // 7. Every line recorded replays with `otlp send`, to a second server that records the
    // same requests.
    let again = dir.join("replayed");
    let (second, _, second_http) = serve(&again);
    let mut cmd = otlp();
    cmd.args([
        "send",
        "--timeout",
        "10",
        "--protocol",
        "http/protobuf",
        "--endpoint",
    ])
    .arg(format!("http://{second_http}"));
    let mut files = 0;
    for signal in Signal::ALL {
        let file = out.join(format!("{}.jsonl", signal.name()));
        if file.exists() {
            cmd.arg(file);
            files += 1;
        }
    }
    assert_eq!(files, Signal::ALL.len(), "every signal recorded something");
    let done = run("otlp send", cmd, Duration::from_secs(60));
    done.assert_success();
    let lines: usize = Signal::ALL.iter().map(|&s| recorded(&out, s).len()).sum();
    stop(second, lines);
    for signal in Signal::ALL {
        assert_eq!(recorded(&again, signal), recorded(&out, signal), "{signal}");
        assert!(
            recorded(&out, signal)
                .iter()
                .all(|r| r.resource_count() > 0),
            "{signal}: an empty request was recorded"
        );
    }
    std::fs::remove_dir_all(&dir).expect("clean up");
}
