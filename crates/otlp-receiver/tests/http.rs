//! OTLP/HTTP: every signal, encoding and compression, and every way a request is refused.

mod common;

use bytes::Bytes;
use common::*;
use http::StatusCode;
use otlp_proto::collector::{ExportLogsServiceResponse, ExportTraceServiceResponse};
use otlp_proto::grpc::code;
use otlp_proto::{Compression, Encoding, ExportResponse, Message, Signal, sample};
use otlp_receiver::{MemorySink, Refusal, RequestSummary, ScriptedSink, Transport};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const ENCODINGS: [Encoding; 2] = [Encoding::Protobuf, Encoding::Json];
const COMPRESSIONS: [Compression; 3] = [Compression::None, Compression::Gzip, Compression::Zstd];

#[tokio::test]
async fn every_signal_encoding_and_compression_arrives_intact() {
    let (sink, receiver) = start_memory().await;
    let addr = receiver.http_addr().expect("http");
    let client = http1_client();
    for signal in Signal::ALL {
        for encoding in ENCODINGS {
            for compression in COMPRESSIONS {
                let case = format!("{signal} {encoding:?} {compression}");
                sink.clear();
                let sent = sample::request(signal);
                let (reply, wire) = export_http(&client, addr, &sent, encoding, compression).await;
                assert_eq!(reply.status, StatusCode::OK, "{case}: {:?}", reply.body);
                assert_eq!(
                    reply.headers["content-type"],
                    encoding.content_type(),
                    "{case}"
                );
                let empty: &[u8] = match encoding {
                    Encoding::Protobuf => b"",
                    Encoding::Json => b"{}",
                };
                assert_eq!(reply.body, empty, "{case}");

                let got = sink.requests();
                assert_eq!(got.len(), 1, "{case}");
                let got = &got[0];
                assert_eq!(got.request, sent, "{case}");
                assert_eq!(got.transport, Transport::Http, "{case}");
                assert_eq!(got.encoding, encoding, "{case}");
                assert_eq!(got.compression, compression, "{case}");
                assert_eq!(got.wire_bytes, wire.len(), "{case}");
                assert_eq!(sink.item_count(signal), sent.item_count(), "{case}");
            }
        }
    }
    receiver.shutdown().await;
}

#[tokio::test]
async fn http2_with_prior_knowledge_is_served_too() {
    let (sink, receiver) = start_memory().await;
    let sent = sample::request(Signal::Logs);
    let (reply, _) = export_http(
        &h2_client(),
        receiver.http_addr().expect("http"),
        &sent,
        Encoding::Json,
        Compression::Gzip,
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(sink.requests()[0].request, sent);
}

#[tokio::test]
async fn headers_and_content_type_parameters_reach_the_sink() {
    let (sink, receiver) = start_memory().await;
    let sent = sample::request(Signal::Metrics);
    let reply = post(
        &http1_client(),
        receiver.http_addr().expect("http"),
        "/v1/metrics",
        &[
            ("content-type", "Application/JSON; charset=utf-8"),
            ("x-tenant", "blue"),
        ],
        full(sent.encode(Encoding::Json)),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.headers["content-type"], "application/json");
    let got = &sink.requests()[0];
    assert_eq!(got.request, sent);
    assert_eq!(got.headers["x-tenant"], "blue");
}

#[tokio::test]
async fn chunked_bodies_are_joined() {
    let (sink, receiver) = start_memory().await;
    let sent = sample::request(Signal::Traces);
    let wire = sent.encode(Encoding::Protobuf);
    let (a, b) = wire.split_at(wire.len() / 2);
    let reply = post(
        &http1_client(),
        receiver.http_addr().expect("http"),
        "/v1/traces",
        &[("content-type", "application/x-protobuf")],
        chunked(vec![Bytes::copy_from_slice(a), Bytes::copy_from_slice(b)]),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(sink.requests()[0].request, sent);
}

#[tokio::test]
async fn unknown_paths_are_404_and_other_methods_405() {
    let (sink, receiver) = start_memory().await;
    let addr = receiver.http_addr().expect("http");
    let client = http1_client();
    let pb = [("content-type", "application/x-protobuf")];

    for path in ["/", "/v1/trace", "/v1/profiles", "/v1/traces/extra"] {
        let reply = post(&client, addr, path, &pb, full("")).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}");
        let status = reply.rpc_status();
        assert!(
            status.message.contains("/v1/traces"),
            "{}",
            &*status.message
        );
    }

    for method in ["GET", "PUT", "DELETE"] {
        let request = http::Request::builder()
            .method(method)
            .uri(format!("http://{addr}/v1/logs"))
            .body(full(""))
            .expect("request");
        let reply = send(&client, request).await;
        assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
        assert_eq!(reply.headers["allow"], "POST");
    }
    assert!(sink.is_empty());
}

#[tokio::test]
async fn unsupported_content_types_and_encodings_are_415() {
    let (sink, receiver) = start_memory().await;
    let addr = receiver.http_addr().expect("http");
    let client = http1_client();
    let body = || full(sample::request(Signal::Traces).encode(Encoding::Protobuf));

    for headers in [
        &[][..],
        &[("content-type", "text/plain")][..],
        &[("content-type", "application/protobuf-ish")][..],
    ] {
        let reply = post(&client, addr, "/v1/traces", headers, body()).await;
        assert_eq!(
            reply.status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{headers:?}"
        );
        assert!(reply.rpc_status().message.contains("content type"));
    }

    let reply = post(
        &client,
        addr,
        "/v1/traces",
        &[
            ("content-type", "application/json"),
            ("content-encoding", "br"),
        ],
        body(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // The answer is in the request's encoding: JSON here.
    assert_eq!(reply.headers["content-type"], "application/json");
    let status = reply.rpc_status();
    assert!(status.message.contains("\"br\""), "{}", &*status.message);
    assert!(sink.is_empty());
}

#[tokio::test]
async fn oversized_bodies_are_413_declared_or_streamed() {
    let sink = MemorySink::new();
    let receiver = start_limited(sink.clone(), 1 << 20).await;
    let addr = receiver.http_addr().expect("http");
    let client = http1_client();
    let pb = [("content-type", "application/x-protobuf")];
    let big = Bytes::from(vec![0x0a; 2 << 20]);

    let reply = post(&client, addr, "/v1/logs", &pb, full(big.clone())).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        reply
            .rpc_status()
            .message
            .contains("exceeds the limit of 1048576 bytes")
    );

    let reply = post(
        &client,
        addr,
        "/v1/logs",
        &pb,
        chunked(vec![big.slice(..1 << 19); 4]),
    )
    .await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);

    // The same connection pool still works afterwards.
    let (reply, _) = export_http(
        &client,
        addr,
        &sample::request(Signal::Logs),
        Encoding::Protobuf,
        Compression::None,
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(sink.len(), 1);
}

#[tokio::test]
async fn zip_bombs_are_413_without_inflating_them() {
    let sink = MemorySink::new();
    let receiver = start_limited(sink.clone(), 8 << 20).await;
    let addr = receiver.http_addr().expect("http");
    let client = http1_client();
    for (compression, bomb) in zip_bombs() {
        let token = compression.encoding_token().expect("compressed");
        let reply = post(
            &client,
            addr,
            "/v1/traces",
            &[
                ("content-type", "application/x-protobuf"),
                ("content-encoding", token),
            ],
            full(bomb),
        )
        .await;
        assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE, "{compression}");
        let status = reply.rpc_status();
        assert_eq!(
            &*status.message,
            "request exceeds 8388608 bytes after decompression"
        );
        assert_eq!(status.code, code::RESOURCE_EXHAUSTED);
    }
    assert!(sink.is_empty());
}

#[tokio::test]
async fn garbage_is_400_with_the_decode_error() {
    let (sink, receiver) = start_memory().await;
    let addr = receiver.http_addr().expect("http");
    let client = http1_client();

    let reply = post(
        &client,
        addr,
        "/v1/metrics",
        &[("content-type", "application/x-protobuf")],
        full(&b"\x0a\xff\xff\xff\xff\x0f garbage"[..]),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.headers["content-type"], "application/x-protobuf");
    let status = reply.rpc_status();
    assert_eq!(status.code, code::INVALID_ARGUMENT);
    assert!(
        status
            .message
            .starts_with("cannot decode the metrics request as protobuf: "),
        "{}",
        &*status.message
    );

    let reply = post(
        &client,
        addr,
        "/v1/logs",
        &[("content-type", "application/json")],
        full(r#"{"resourceLogs": [ {"scopeLogs": 12} ]}"#),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.headers["content-type"], "application/json");
    assert!(reply.rpc_status().message.contains("as JSON"));

    let reply = post(
        &client,
        addr,
        "/v1/logs",
        &[
            ("content-type", "application/json"),
            ("content-encoding", "gzip"),
        ],
        full("not gzip at all"),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.rpc_status().message.contains("decompress"));
    assert!(sink.is_empty());
}

/// An id that is not one is refused, in both codecs, and nothing is recorded: a 1 MiB
/// `traceId` in OTLP/JSON, a 9-byte span id in protobuf. Absent ids are fine.
#[tokio::test]
async fn ids_of_the_wrong_length_are_400_and_not_recorded() {
    use otlp_proto::Message;
    use otlp_proto::collector::ExportTraceServiceRequest;
    use otlp_proto::trace::{ResourceSpans, ScopeSpans, Span};

    let (sink, receiver) = start_memory().await;
    let addr = receiver.http_addr().expect("http");
    let client = http1_client();

    let huge = format!(
        r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{{"traceId":"{}","spanId":"0102030405060708","name":"x"}}]}}]}}]}}"#,
        "ab".repeat(1 << 20)
    );
    let reply = post(
        &client,
        addr,
        "/v1/traces",
        &[("content-type", "application/json")],
        full(huge),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let message = reply.rpc_status().message;
    assert!(message.contains("trace id is 16 bytes"), "{}", &*message);

    let request = |span_id: Vec<u8>| ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![Span {
                    trace_id: vec![1; 16].into(),
                    span_id: span_id.into(),
                    name: "x".into(),
                    ..Span::default()
                }],
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    };
    let reply = post(
        &client,
        addr,
        "/v1/traces",
        &[("content-type", "application/x-protobuf")],
        full(request(vec![2; 9]).encode_to_bytes()),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let message = reply.rpc_status().message;
    assert!(message.contains("span id is 8 bytes"), "{}", &*message);
    assert!(sink.is_empty(), "nothing refused is recorded");

    // The right lengths, and no id at all, are accepted.
    for span_id in [vec![2; 8], vec![]] {
        let reply = post(
            &client,
            addr,
            "/v1/traces",
            &[("content-type", "application/x-protobuf")],
            full(request(span_id).encode_to_bytes()),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK);
    }
}

#[tokio::test]
async fn refusals_map_to_statuses_and_retry_after() {
    let script = refusing_each_case(Duration::from_millis(2500));
    let receiver = start(script.clone()).await;
    let client = http1_client();
    for (refusal, status, grpc_code) in refusal_cases() {
        let (reply, _) = export_http(
            &client,
            receiver.http_addr().expect("http"),
            &sample::request(Signal::Traces),
            Encoding::Protobuf,
            Compression::None,
        )
        .await;
        assert_eq!(reply.status, status, "{refusal}");
        assert_eq!(reply.headers["retry-after"], "3", "{refusal}: rounded up");
        let body = reply.rpc_status();
        assert_eq!(body.code, grpc_code);
        assert_eq!(&*body.message, refusal.message());
        assert_eq!(body.retry_delay(), Some(Duration::from_millis(2500)));
    }
    let (reply, _) = export_http(
        &client,
        receiver.http_addr().expect("http"),
        &sample::request(Signal::Traces),
        Encoding::Json,
        Compression::None,
    )
    .await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(!reply.headers.contains_key("retry-after"));
    assert_eq!(&*reply.rpc_status().message, "no hint");
    assert_eq!(script.requests_seen(), 5);
}

#[tokio::test]
async fn partial_success_round_trips_in_both_encodings() {
    let memory = MemorySink::new();
    let script = ScriptedSink::new(memory.clone())
        .then_partial(2, "spans too old")
        .then_partial(0, "just a warning");
    let receiver = start(script).await;
    let addr = receiver.http_addr().expect("http");
    let client = http1_client();

    let (reply, _) = export_http(
        &client,
        addr,
        &sample::request(Signal::Traces),
        Encoding::Protobuf,
        Compression::Gzip,
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    let response = ExportTraceServiceResponse::decode(&reply.body).expect("protobuf response");
    assert_eq!(response.partial_success(), Some((2, "spans too old")));

    let (reply, _) = export_http(
        &client,
        addr,
        &sample::request(Signal::Logs),
        Encoding::Json,
        Compression::None,
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    let response = ExportLogsServiceResponse::from_json(&reply.body).expect("JSON response");
    assert_eq!(response.partial_success(), Some((0, "just a warning")));
    // Partially accepted requests still reach the inner sink.
    assert_eq!(memory.len(), 2);
}

#[tokio::test]
async fn the_observer_sees_each_export_request() {
    let seen: Arc<Mutex<Vec<RequestSummary>>> = Arc::default();
    let log = seen.clone();
    let script = ScriptedSink::new(MemorySink::new())
        .then_accept()
        .then_refuse(Refusal::unavailable("busy"));
    let receiver = start_with(builder().with_sink(script).with_request_observer(move |s| {
        log.lock().expect("lock").push(s.clone());
    }))
    .await;
    let addr = receiver.http_addr().expect("http");
    let client = http1_client();
    let sent = sample::request(Signal::Metrics);
    let (_, wire) = export_http(&client, addr, &sent, Encoding::Protobuf, Compression::Zstd).await;
    export_http(&client, addr, &sent, Encoding::Json, Compression::None).await;
    // Not an export request: not reported.
    post(&client, addr, "/nope", &[], full("")).await;

    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].signal, Signal::Metrics);
    assert_eq!(seen[0].transport, Transport::Http);
    assert_eq!(seen[0].compression, Compression::Zstd);
    assert_eq!(seen[0].items, sent.item_count());
    assert_eq!(seen[0].wire_bytes, wire.len());
    assert_eq!(seen[0].outcome, Ok(()));
    assert_eq!(seen[1].encoding, Encoding::Json);
    assert_eq!(
        seen[1].outcome,
        Err("503 Service Unavailable: busy".to_owned())
    );
}
