//! OTLP/gRPC: every signal and compression, status codes, trailers and RetryInfo.

mod common;

use bytes::Bytes;
use common::*;
use http::StatusCode;
use otlp_proto::collector::ExportMetricsServiceResponse;
use otlp_proto::grpc::{self, code};
use otlp_proto::{Compression, Encoding, ExportResponse, Message, Signal, sample};
use otlp_receiver::{MemorySink, Refusal, ScriptedSink, Transport};
use std::time::Duration;

#[tokio::test]
async fn every_signal_and_compression_arrives_intact() {
    let (sink, receiver) = start_memory().await;
    let addr = receiver.grpc_addr().expect("grpc");
    let client = h2_client();
    for signal in Signal::ALL {
        for compression in [Compression::None, Compression::Gzip, Compression::Zstd] {
            let case = format!("{signal} {compression}");
            sink.clear();
            let sent = sample::request(signal);
            let body = grpc_body(&sent, compression);
            let headers: Vec<(&str, &str)> = compression
                .encoding_token()
                .map(|t| ("grpc-encoding", t))
                .into_iter()
                .collect();
            let reply = grpc_call(&client, addr, signal.grpc_path(), &headers, body.clone()).await;
            assert_eq!(reply.http, StatusCode::OK, "{case}");
            assert_eq!(
                reply.code,
                Some(code::OK),
                "{case}: {}",
                reply.status_message
            );
            assert_eq!(reply.headers["content-type"], "application/grpc", "{case}");
            assert_eq!(reply.headers["grpc-accept-encoding"], "gzip,zstd", "{case}");
            // An empty Export*ServiceResponse, framed.
            assert_eq!(reply.message.as_deref(), Some(&b""[..]), "{case}");

            let got = sink.requests();
            assert_eq!(got.len(), 1, "{case}");
            assert_eq!(got[0].request, sent, "{case}");
            assert_eq!(got[0].transport, Transport::Grpc, "{case}");
            assert_eq!(got[0].encoding, Encoding::Protobuf, "{case}");
            assert_eq!(got[0].compression, compression, "{case}");
            assert_eq!(got[0].wire_bytes, body.len(), "{case}");
            assert_eq!(got[0].headers["te"], "trailers", "{case}");
        }
    }
    receiver.shutdown().await;
}

#[tokio::test]
async fn an_uncompressed_message_under_grpc_encoding_is_accepted() {
    let (sink, receiver) = start_memory().await;
    let sent = sample::request(Signal::Logs);
    let reply = grpc_call(
        &h2_client(),
        receiver.grpc_addr().expect("grpc"),
        Signal::Logs.grpc_path(),
        &[("grpc-encoding", "gzip")],
        grpc_body(&sent, Compression::None),
    )
    .await;
    assert_eq!(reply.code, Some(code::OK));
    assert_eq!(sink.requests()[0].compression, Compression::None);
    assert_eq!(sink.requests()[0].request, sent);
}

#[tokio::test]
async fn unknown_methods_and_encodings_are_unimplemented() {
    let (sink, receiver) = start_memory().await;
    let addr = receiver.grpc_addr().expect("grpc");
    let client = h2_client();
    let body = grpc_body(&sample::request(Signal::Traces), Compression::None);

    for path in [
        "/opentelemetry.proto.collector.trace.v1.TraceService/Nope",
        "/grpc.health.v1.Health/Check",
        "/v1/traces",
    ] {
        let reply = grpc_call(&client, addr, path, &[], body.clone()).await;
        assert_eq!(
            reply.http,
            StatusCode::OK,
            "{path}: gRPC errors are HTTP 200"
        );
        assert_eq!(reply.code, Some(code::UNIMPLEMENTED), "{path}");
        assert!(reply.message.is_none(), "{path}: trailers-only");
        assert!(
            reply.status_message.contains(path),
            "{}",
            reply.status_message
        );
    }

    let reply = grpc_call(
        &client,
        addr,
        Signal::Traces.grpc_path(),
        &[("grpc-encoding", "snappy")],
        grpc_body(&sample::request(Signal::Traces), Compression::Gzip),
    )
    .await;
    assert_eq!(reply.code, Some(code::UNIMPLEMENTED));
    assert!(
        reply.status_message.contains("\"snappy\" is not supported"),
        "{}",
        reply.status_message
    );
    assert!(sink.is_empty());
}

#[tokio::test]
async fn a_non_grpc_content_type_is_415() {
    let receiver = start(MemorySink::new()).await;
    let reply = post(
        &h2_client(),
        receiver.grpc_addr().expect("grpc"),
        Signal::Traces.grpc_path(),
        &[("content-type", "application/json")],
        full("{}"),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn garbage_is_invalid_argument_with_the_decode_error() {
    let (sink, receiver) = start_memory().await;
    let addr = receiver.grpc_addr().expect("grpc");
    let client = h2_client();

    let garbage = grpc::frame(false, b"\x0a\xff\xff\xff\xff\x0f nope");
    let reply = grpc_call(&client, addr, Signal::Logs.grpc_path(), &[], garbage.into()).await;
    assert_eq!(reply.code, Some(code::INVALID_ARGUMENT));
    assert!(
        reply
            .status_message
            .starts_with("cannot decode the logs request as protobuf: "),
        "{}",
        reply.status_message
    );

    // A frame whose header promises more than the body holds.
    let truncated = Bytes::from_static(&[0, 0, 0, 0, 9, 1, 2]);
    let reply = grpc_call(&client, addr, Signal::Logs.grpc_path(), &[], truncated).await;
    assert_eq!(reply.code, Some(code::INVALID_ARGUMENT));
    assert!(
        reply.status_message.contains("truncated"),
        "{}",
        reply.status_message
    );

    // Flagged compressed, but no grpc-encoding to say how.
    let flagged = grpc::frame(true, b"whatever");
    let reply = grpc_call(&client, addr, Signal::Logs.grpc_path(), &[], flagged.into()).await;
    assert_eq!(reply.code, Some(code::INTERNAL));
    assert!(sink.is_empty());
}

#[tokio::test]
async fn oversized_messages_and_zip_bombs_are_resource_exhausted() {
    let sink = MemorySink::new();
    let receiver = start_limited(sink.clone(), 8 << 20).await;
    let addr = receiver.grpc_addr().expect("grpc");
    let client = h2_client();

    for (compression, bomb) in zip_bombs() {
        let bomb = grpc::frame(true, &bomb);
        assert!(bomb.len() < 1 << 20);
        let token = compression.encoding_token().expect("compressed");
        let reply = grpc_call(
            &client,
            addr,
            Signal::Metrics.grpc_path(),
            &[("grpc-encoding", token)],
            bomb.into(),
        )
        .await;
        assert_eq!(reply.code, Some(code::RESOURCE_EXHAUSTED), "{compression}");
        assert_eq!(
            reply.status_message,
            "request exceeds 8388608 bytes after decompression"
        );
    }

    let big = grpc::frame(false, &vec![0u8; 9 << 20]);
    let reply = grpc_call(&client, addr, Signal::Metrics.grpc_path(), &[], big.into()).await;
    assert_eq!(reply.code, Some(code::RESOURCE_EXHAUSTED));
    assert!(sink.is_empty());

    // The connection is still good.
    let reply = grpc_call(
        &client,
        addr,
        Signal::Metrics.grpc_path(),
        &[],
        grpc_body(&sample::request(Signal::Metrics), Compression::None),
    )
    .await;
    assert_eq!(reply.code, Some(code::OK));
}

#[tokio::test]
async fn refusals_map_to_codes_and_retry_info() {
    let delay = Duration::new(3, 250_000_000);
    let receiver = start(refusing_each_case(delay)).await;
    let addr = receiver.grpc_addr().expect("grpc");
    let client = h2_client();
    let body = grpc_body(&sample::request(Signal::Traces), Compression::None);

    // gRPC answers every refusal with HTTP 200 and the code in the trailers.
    for (refusal, _, expected) in refusal_cases() {
        let reply = grpc_call(&client, addr, Signal::Traces.grpc_path(), &[], body.clone()).await;
        assert_eq!(reply.http, StatusCode::OK);
        assert_eq!(reply.code, Some(expected), "{refusal}");
        assert_eq!(reply.status_message, refusal.message());
        let details = reply.details.expect("grpc-status-details-bin");
        assert_eq!(details.code, expected);
        assert_eq!(details.retry_delay(), Some(delay));
    }
    let reply = grpc_call(&client, addr, Signal::Traces.grpc_path(), &[], body).await;
    assert_eq!(reply.code, Some(code::UNAVAILABLE));
    assert!(reply.details.is_none());
}

#[tokio::test]
async fn retry_info_is_sent_unpadded_and_decodes_either_way() {
    let receiver = start(
        ScriptedSink::new(MemorySink::new())
            .then_refuse(Refusal::unavailable("x").with_retry_after(Duration::from_secs(1))),
    )
    .await;
    let reply = post(
        &h2_client(),
        receiver.grpc_addr().expect("grpc"),
        Signal::Logs.grpc_path(),
        &[("content-type", "application/grpc")],
        full(grpc_body(&sample::request(Signal::Logs), Compression::None)),
    )
    .await;
    let raw = reply.headers["grpc-status-details-bin"].as_bytes().to_vec();
    assert!(!raw.ends_with(b"="), "gRPC sends binary metadata unpadded");
    let mut padded = raw.clone();
    while padded.len() % 4 != 0 {
        padded.push(b'=');
    }
    assert_eq!(decode_details(&raw), decode_details(&padded));
    assert_eq!(
        decode_details(&raw).retry_delay(),
        Some(Duration::from_secs(1))
    );
}

#[tokio::test]
async fn partial_success_round_trips() {
    let memory = MemorySink::new();
    let receiver =
        start(ScriptedSink::new(memory.clone()).then_partial(3, "points out of order")).await;
    let reply = grpc_call(
        &h2_client(),
        receiver.grpc_addr().expect("grpc"),
        Signal::Metrics.grpc_path(),
        &[("grpc-encoding", "zstd")],
        grpc_body(&sample::request(Signal::Metrics), Compression::Zstd),
    )
    .await;
    assert_eq!(reply.code, Some(code::OK));
    let message = reply.message.expect("a response message");
    let response = ExportMetricsServiceResponse::decode(&message).expect("response");
    assert_eq!(response.partial_success(), Some((3, "points out of order")));
    assert_eq!(memory.len(), 1);
}

#[tokio::test]
async fn a_slow_sink_past_the_deadline_is_deadline_exceeded() {
    let memory = MemorySink::new();
    let script = ScriptedSink::new(memory.clone())
        .then_delay(Duration::from_secs(600))
        .then_delay(Duration::from_millis(1));
    let receiver = start(script.clone()).await;
    let addr = receiver.grpc_addr().expect("grpc");
    let client = h2_client();
    let body = grpc_body(&sample::request(Signal::Logs), Compression::None);

    let reply = grpc_call(
        &client,
        addr,
        Signal::Logs.grpc_path(),
        &[("grpc-timeout", "50m")],
        body.clone(),
    )
    .await;
    assert_eq!(reply.code, Some(code::DEADLINE_EXCEEDED));
    assert!(
        memory.is_empty(),
        "a request cut off by its deadline never reaches the sink"
    );

    // A short delay within the deadline: answered normally.
    let reply = grpc_call(
        &client,
        addr,
        Signal::Logs.grpc_path(),
        &[("grpc-timeout", "600S")],
        body,
    )
    .await;
    assert_eq!(reply.code, Some(code::OK));
    assert_eq!(memory.len(), 1);
    assert_eq!(script.remaining_steps(), 0);
}
