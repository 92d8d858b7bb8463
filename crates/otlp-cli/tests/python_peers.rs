//! Interoperability with the real OpenTelemetry Python components in `interop/python`:
//!
//! - the Python SDK's OTLP exporters (gRPC, HTTP/protobuf, HTTP/JSON; with and without gzip) send
//!   to our receiver, and everything they sent is checked after decoding;
//! - our exporter sends every signal over every protocol and compression the Python stub receiver
//!   (built from the official proto stubs) understands, and what the stub decoded must equal what
//!   we sent.
//!
//! The peers are installed by `interop/python/setup.sh` (cached under `target/peers`). If it
//! fails, the tests fail with its output: they never skip silently.

use bytes::Bytes;
use otlp::{Exporter, ExporterConfig, Protocol, RetryPolicy};
use otlp_proto::common::{AnyValue, KeyValue, Value};
use otlp_proto::logs::LogRecord;
use otlp_proto::metrics::{AggregationTemporality, Metric, MetricData, NumberValue};
use otlp_proto::trace::{Span, SpanKind, StatusCode};
use otlp_proto::{Compression, Encoding, Request, Signal, sample};
use otlp_receiver::{Received, Transport};
use serde_json::Value as Json;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use test_support::{Spawned, command, python_peers as peers, python_sdk_send, repo_root, temp_dir};

fn interop(script: &str) -> PathBuf {
    repo_root().join("interop/python").join(script)
}

/// A command running `script` of `interop/python` with `python`, isolated from the caller's
/// OpenTelemetry settings and proxies ([`command`]).
fn python(python: &Path, script: &str) -> Command {
    let mut cmd = command(python);
    cmd.arg(interop(script));
    cmd
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// --------------------------------------------------------------------------------------------
// Python SDK -> our receiver

/// Runs `sdk_send.py` against a fresh in-process receiver; returns its JSON summary and what the
/// receiver got.
async fn python_sdk_sends(protocol: &str, compression: &str) -> (Json, Vec<Received>) {
    let (receiver, sink, addr) = test_support::client::receiver_for(protocol).await;

    let peers = peers();
    let python_path = if protocol == "http/json" {
        &peers.json
    } else {
        &peers.sdk
    };
    let endpoint = format!("http://{addr}");
    let (python, protocol_arg) = (python_path.clone(), protocol.to_owned());
    let extra = ["--compression", compression].map(str::to_owned);
    let summary = tokio::task::spawn_blocking(move || {
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        python_sdk_send(&python, &endpoint, &protocol_arg, &extra)
    })
    .await
    .expect("join");

    // The exports were answered before sdk_send.py exited, so this does not wait in practice.
    let wait = Duration::from_secs(30);
    for (signal, n) in [(Signal::Traces, 2), (Signal::Metrics, 4), (Signal::Logs, 3)] {
        assert!(
            sink.wait_for_items(signal, n, wait).await,
            "{protocol}/{compression}: {} {signal} items arrived, expected {n}",
            sink.item_count(signal)
        );
    }
    receiver.shutdown().await;
    (summary, sink.requests())
}

fn spans(received: &[Received]) -> Vec<Span> {
    let mut out = Vec::new();
    for r in received {
        if let Request::Traces(t) = &r.request {
            for placed in t.spans() {
                assert_resource(placed.resource.map(|r| r.attributes.as_slice()));
                let scope = placed.scope.expect("scope");
                assert_eq!((&*scope.name, &*scope.version), ("py-peer.scope", "0.1.0"));
                out.push(placed.item.clone());
            }
        }
    }
    out
}

fn metrics(received: &[Received]) -> Vec<Metric> {
    let mut out = Vec::new();
    for r in received {
        if let Request::Metrics(m) = &r.request {
            for placed in m.metrics() {
                assert_resource(placed.resource.map(|r| r.attributes.as_slice()));
                out.push(placed.item.clone());
            }
        }
    }
    out
}

fn log_records(received: &[Received]) -> Vec<LogRecord> {
    let mut out = Vec::new();
    for r in received {
        if let Request::Logs(l) = &r.request {
            for placed in l.log_records() {
                assert_resource(placed.resource.map(|r| r.attributes.as_slice()));
                out.push(placed.item.clone());
            }
        }
    }
    out
}

fn assert_resource(attributes: Option<&[KeyValue]>) {
    let attributes = attributes.expect("resource");
    assert_eq!(attr(attributes, "service.name"), &AnyValue::from("py-peer"));
    assert_eq!(attr(attributes, "peer.lang"), &AnyValue::from("python"));
}

fn attr<'a>(attributes: &'a [KeyValue], key: &str) -> &'a AnyValue {
    attributes
        .iter()
        .find(|kv| &*kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .unwrap_or_else(|| panic!("no attribute {key} in {attributes:?}"))
}

/// Checks everything the Python workload sends (see `interop/python/README.md`).
fn check_python_workload(protocol: &str, compression: &str, summary: &Json, got: &[Received]) {
    let what = format!("{protocol}/{compression}");
    // How it arrived.
    let (transport, encoding) = match protocol {
        "grpc" => (Transport::Grpc, Encoding::Protobuf),
        "http/protobuf" => (Transport::Http, Encoding::Protobuf),
        _ => (Transport::Http, Encoding::Json),
    };
    let wanted: Compression = compression.parse().expect("compression");
    for r in got {
        assert_eq!((r.transport, r.encoding), (transport, encoding), "{what}");
        // grpc-core sends a message uncompressed, even with gzip configured, when compressing
        // would not shrink it; so over gRPC only some requests need to be compressed.
        if transport == Transport::Http || wanted == Compression::None {
            assert_eq!(r.compression, wanted, "{what}: {:?}", r.request.signal());
        }
    }
    if wanted != Compression::None {
        assert!(
            got.iter().any(|r| r.compression == wanted),
            "{what}: no request arrived compressed"
        );
    }

    // Traces: py-root (SERVER) -> py-child (CLIENT, ERROR "py failed").
    let spans = spans(got);
    assert_eq!(spans.len(), 2, "{what}: {spans:?}");
    let find = |name: &str| {
        spans
            .iter()
            .find(|s| &*s.name == name)
            .unwrap_or_else(|| panic!("{what}: no span {name}"))
    };
    let (root, child) = (find("py-root"), find("py-child"));
    assert_eq!(
        summary["traces"]["names"],
        serde_json::json!(["py-root", "py-child"])
    );
    assert_eq!(
        hex(&root.trace_id),
        summary["trace_id"].as_str().expect("trace_id")
    );
    assert_eq!(
        hex(&root.span_id),
        summary["root_span_id"].as_str().expect("root_span_id")
    );
    assert_eq!(root.trace_id.len(), 16, "{what}");
    assert_eq!(root.span_id.len(), 8, "{what}");
    assert!(root.parent_span_id.is_empty(), "{what}: root has a parent");
    assert_eq!(child.trace_id, root.trace_id, "{what}");
    assert_eq!(child.parent_span_id, root.span_id, "{what}: child's parent");
    assert_ne!(child.span_id, root.span_id, "{what}");
    assert_eq!(root.kind, SpanKind::Server as i32, "{what}");
    assert_eq!(child.kind, SpanKind::Client as i32, "{what}");
    let status = child.status.as_ref().expect("child status");
    assert_eq!(
        (status.code, &*status.message),
        (StatusCode::Error as i32, "py failed")
    );
    assert!(
        root.status
            .as_ref()
            .is_none_or(|s| s.code == StatusCode::Unset as i32),
        "{what}: {:?}",
        root.status
    );
    assert!(root.start_time_unix_nano > 0 && root.end_time_unix_nano >= root.start_time_unix_nano);
    let list = |values: Vec<AnyValue>| AnyValue::from(values);
    let expected_attributes = [
        ("py.str", AnyValue::from("hello")),
        ("py.bool", AnyValue::from(true)),
        ("py.int", AnyValue::from(42_i64)),
        ("py.float", AnyValue::from(3.5_f64)),
        ("py.str_list", list(vec!["a".into(), "b".into()])),
        (
            "py.int_list",
            list(vec![1_i64.into(), 2_i64.into(), 3_i64.into()]),
        ),
        ("py.float_list", list(vec![1.5_f64.into(), 2.5_f64.into()])),
        ("py.bool_list", list(vec![true.into(), false.into()])),
    ];
    for (key, value) in &expected_attributes {
        assert_eq!(attr(&root.attributes, key), value, "{what}: {key}");
    }
    assert_eq!(attr(&child.attributes, "py.child"), &AnyValue::from(true));
    let [event] = root.events.as_slice() else {
        panic!("{what}: root events {:?}", root.events);
    };
    assert_eq!(&*event.name, "py-event");
    assert_eq!(
        attr(&event.attributes, "py.event.attr"),
        &AnyValue::from("event-value")
    );

    // Metrics: py.counter = 7 {k=v}, py.histogram 1/5/50, py.updown = 3, py.gauge = 42.5.
    let metrics = metrics(got);
    let metric = |name: &str| {
        metrics
            .iter()
            .find(|m| &*m.name == name)
            .and_then(|m| m.data.as_ref())
            .unwrap_or_else(|| panic!("{what}: no metric {name} in {metrics:?}"))
    };
    let names: Vec<&str> = metrics.iter().map(|m| &*m.name).collect();
    for name in summary["metrics"]["names"]
        .as_array()
        .expect("metric names")
    {
        assert!(
            names.contains(&name.as_str().expect("name")),
            "{what}: {names:?}"
        );
    }
    let MetricData::Sum(counter) = metric("py.counter") else {
        panic!("{what}: py.counter is not a sum");
    };
    assert!(counter.is_monotonic);
    assert_eq!(
        counter.aggregation_temporality,
        AggregationTemporality::Cumulative as i32
    );
    let [point] = counter.data_points.as_slice() else {
        panic!("{what}: py.counter points {:?}", counter.data_points);
    };
    assert_eq!(point.value, Some(NumberValue::AsInt(7)), "{what}");
    assert_eq!(attr(&point.attributes, "k"), &AnyValue::from("v"));
    let MetricData::Histogram(histogram) = metric("py.histogram") else {
        panic!("{what}: py.histogram is not a histogram");
    };
    let [point] = histogram.data_points.as_slice() else {
        panic!("{what}: py.histogram points {:?}", histogram.data_points);
    };
    assert_eq!((point.count, point.sum), (3, Some(56.0)), "{what}");
    assert_eq!((point.min, point.max), (Some(1.0), Some(50.0)), "{what}");
    assert_eq!(point.bucket_counts.iter().sum::<u64>(), 3, "{what}");
    assert_eq!(point.bucket_counts.len(), point.explicit_bounds.len() + 1);
    let MetricData::Sum(updown) = metric("py.updown") else {
        panic!("{what}: py.updown is not a sum");
    };
    assert!(!updown.is_monotonic);
    assert_eq!(
        updown.data_points[0].value,
        Some(NumberValue::AsInt(3)),
        "{what}"
    );
    let MetricData::Gauge(gauge) = metric("py.gauge") else {
        panic!("{what}: py.gauge is not a gauge");
    };
    assert_eq!(
        gauge.data_points[0].value,
        Some(NumberValue::AsDouble(42.5)),
        "{what}"
    );

    // Logs: a warning, a record inside py-root, and the event py.event.
    let records = log_records(got);
    let body = |r: &LogRecord| match r.body.as_ref().and_then(|b| b.value.as_ref()) {
        Some(Value::StringValue(s)) => s.to_string(),
        other => panic!("{what}: log body {other:?}"),
    };
    let mut bodies: Vec<String> = records.iter().map(body).collect();
    let mut expected: Vec<String> = summary["logs"]["bodies"]
        .as_array()
        .expect("bodies")
        .iter()
        .map(|b| b.as_str().expect("body").to_owned())
        .collect();
    bodies.sort();
    expected.sort();
    assert_eq!(bodies, expected, "{what}");
    let record = |text: &str| {
        records
            .iter()
            .find(|r| body(r) == text)
            .unwrap_or_else(|| panic!("{what}: no log {text:?}"))
    };
    let warning = record("py warning log");
    assert_eq!(warning.severity_number, 13, "{what}");
    assert_eq!(&*warning.severity_text, "WARNING");
    assert_eq!(
        attr(&warning.attributes, "py.log.attr"),
        &AnyValue::from("warn-value")
    );
    assert_eq!(
        attr(&warning.attributes, "py.log.count"),
        &AnyValue::from(1_i64)
    );
    let in_span = record("py log in span");
    assert_eq!(
        hex(&in_span.trace_id),
        summary["trace_id"].as_str().expect("trace_id")
    );
    assert_eq!(
        hex(&in_span.span_id),
        summary["root_span_id"].as_str().expect("span id")
    );
    let event = record("py event log");
    assert_eq!(&*event.event_name, "py.event", "{what}");
    assert_eq!(
        attr(&event.attributes, "py.event.kind"),
        &AnyValue::from("test")
    );
}

async fn python_sdk_to_rust_receiver(protocol: &str) {
    for compression in ["none", "gzip"] {
        let (summary, got) = python_sdk_sends(protocol, compression).await;
        check_python_workload(protocol, compression, &summary, &got);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_grpc_exporters_to_rust_receiver() {
    python_sdk_to_rust_receiver("grpc").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_http_protobuf_exporters_to_rust_receiver() {
    python_sdk_to_rust_receiver("http/protobuf").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_http_json_exporters_to_rust_receiver() {
    python_sdk_to_rust_receiver("http/json").await;
}

// --------------------------------------------------------------------------------------------
// Our exporter -> Python stub receiver

/// What the stub should have recorded for one export.
struct Expected {
    signal: Signal,
    transport: &'static str,
    encoding: &'static str,
    content_type: &'static str,
    request: Request,
}

/// Every protocol and compression the stub accepts. grpcio (the stub's gRPC server) cannot do
/// zstd: grpc core refuses `grpc-encoding: zstd` before the request reaches Python, so zstd is
/// only exercised over HTTP.
const COMBINATIONS: [(Protocol, Compression); 8] = [
    (Protocol::Grpc, Compression::None),
    (Protocol::Grpc, Compression::Gzip),
    (Protocol::HttpProtobuf, Compression::None),
    (Protocol::HttpProtobuf, Compression::Gzip),
    (Protocol::HttpProtobuf, Compression::Zstd),
    (Protocol::HttpJson, Compression::None),
    (Protocol::HttpJson, Compression::Gzip),
    (Protocol::HttpJson, Compression::Zstd),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_exporter_to_python_stub_receiver() {
    let dir = temp_dir("python-stub");
    let out = dir.join("stub.jsonl");
    let mut cmd = python(&peers().sdk, "stub_receiver.py");
    cmd.args(["--grpc-port", "0", "--http-port", "0", "--out"])
        .arg(&out);
    // Killed on drop, so a failing assertion does not leave it running.
    let stub = Spawned::start("stub_receiver.py", cmd);
    let (ready, _) = stub.wait_line(Duration::from_secs(60), |l| l.starts_with("READY "));
    let port = |key: &str| -> u16 {
        ready
            .split_whitespace()
            .find_map(|w| w.strip_prefix(key))
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no {key} in {ready:?}"))
    };
    let (grpc_port, http_port) = (port("grpc="), port("http="));

    let mut expected = Vec::new();
    for (protocol, compression) in COMBINATIONS {
        let port = if protocol == Protocol::Grpc {
            grpc_port
        } else {
            http_port
        };
        let exporter = Exporter::new(
            ExporterConfig::new()
                .with_protocol(protocol)
                .with_endpoint(format!("http://127.0.0.1:{port}"))
                .with_compression(compression)
                .with_timeout(Duration::from_secs(10))
                .with_retry(RetryPolicy::disabled()),
        )
        .expect("exporter");
        for signal in Signal::ALL {
            let request = sample::request(signal);
            if let Err(e) = exporter.export_request(&request).await {
                panic!(
                    "{signal} over {protocol} with {compression}: {e}\nstub stderr:\n{}",
                    stub.stderr()
                );
            }
            expected.push(Expected {
                signal,
                transport: if protocol == Protocol::Grpc {
                    "grpc"
                } else {
                    "http"
                },
                encoding: compression.encoding_token().unwrap_or("identity"),
                content_type: match protocol {
                    Protocol::Grpc | Protocol::Otap => "application/grpc",
                    Protocol::HttpProtobuf => "application/x-protobuf",
                    Protocol::HttpJson => "application/json",
                },
                request,
            });
        }
    }

    // The stub writes each line before answering, and the exports ran one after another, so
    // the lines are there, in order; poll briefly in case the file is still being flushed.
    let deadline = Instant::now() + Duration::from_secs(30);
    let lines = loop {
        let text = std::fs::read_to_string(&out).unwrap_or_default();
        let lines: Vec<String> = text.lines().map(str::to_owned).collect();
        if lines.len() >= expected.len() || Instant::now() >= deadline {
            break lines;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        lines.len(),
        expected.len(),
        "stub recorded {} requests, expected {}; stderr:\n{}",
        lines.len(),
        expected.len(),
        stub.stderr()
    );
    for (i, (line, want)) in lines.iter().zip(&expected).enumerate() {
        let record: Json = serde_json::from_str(line).expect("stub line is JSON");
        let what = format!(
            "line {} ({} over {} {})",
            i + 1,
            want.signal,
            want.content_type,
            want.encoding
        );
        assert_eq!(record["signal"], want.signal.name(), "{what}");
        assert_eq!(record["transport"], want.transport, "{what}");
        assert_eq!(record["content_type"], want.content_type, "{what}");
        // Our exporter compresses every gRPC message it is told to (unlike grpc-core), so the
        // encoding the stub saw on the wire is the configured one for both transports.
        assert_eq!(record["encoding"], want.encoding, "{what}");
        // The stub's OTLP/JSON omits default values, as ours does, and our decoder reads
        // omitted fields as defaults, so the decoded request must be exactly what we sent.
        let json = serde_json::to_vec(&record["request"]).expect("re-serialize");
        let got = Request::decode(want.signal, Encoding::Json, &Bytes::from(json))
            .unwrap_or_else(|e| panic!("{what}: the stub's OTLP/JSON does not decode: {e}"));
        assert_eq!(got, want.request, "{what}");
    }

    stub.stop(Duration::from_secs(30));
    std::fs::remove_dir_all(&dir).expect("clean up");
}
