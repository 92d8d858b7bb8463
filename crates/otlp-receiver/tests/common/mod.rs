//! Shared by the integration tests: a receiver on free ports, zip bombs and refusal cases; the
//! OTLP/HTTP and OTLP/gRPC clients are `test_support::clients`, re-exported here.

// Each test file uses part of this module.
#![allow(dead_code)]

use bytes::Bytes;
use http::StatusCode;
use otlp_proto::Compression;
use otlp_proto::grpc::code;
use otlp_receiver::{
    MemorySink, Receiver, ReceiverBuilder, Refusal, RunningReceiver, ScriptedSink, Sink,
};
pub use test_support::clients::*;

/// A receiver on free loopback ports, both transports.
pub async fn start(sink: impl Sink) -> RunningReceiver {
    start_with(builder().with_sink(sink)).await
}

/// The builder [`start`] uses: both transports on free loopback ports.
pub fn builder() -> ReceiverBuilder {
    Receiver::builder().with_free_loopback_ports()
}

pub async fn start_with(builder: ReceiverBuilder) -> RunningReceiver {
    builder.start().await.expect("receiver starts")
}

/// A receiver on free loopback ports that keeps what it receives, and the sink holding it.
pub async fn start_memory() -> (MemorySink, RunningReceiver) {
    let sink = MemorySink::new();
    let receiver = start(sink.clone()).await;
    (sink, receiver)
}

/// A receiver on free loopback ports accepting requests of at most `max_request_size` bytes.
pub async fn start_limited(sink: impl Sink, max_request_size: usize) -> RunningReceiver {
    start_with(
        builder()
            .with_sink(sink)
            .with_max_request_size(max_request_size),
    )
    .await
}

/// 50 MiB of zeros compressed with each compression there is: zip bombs, each under 1 MiB.
pub fn zip_bombs() -> Vec<(Compression, Bytes)> {
    let zeros = vec![0u8; 50 << 20];
    [Compression::Gzip, Compression::Zstd]
        .into_iter()
        .map(|compression| {
            let bomb = compress(compression, &zeros);
            assert!(
                bomb.len() < 1 << 20,
                "the {compression} bomb itself is small"
            );
            (compression, bomb)
        })
        .collect()
}

/// Every kind of refusal, with the HTTP status and the gRPC code it must be answered with. The
/// messages hold what gRPC must percent-encode.
pub fn refusal_cases() -> [(Refusal, StatusCode, i32); 4] {
    [
        (
            Refusal::unavailable("down for maintenance"),
            StatusCode::SERVICE_UNAVAILABLE,
            code::UNAVAILABLE,
        ),
        (
            Refusal::resource_exhausted("slow down"),
            StatusCode::TOO_MANY_REQUESTS,
            code::RESOURCE_EXHAUSTED,
        ),
        (
            Refusal::invalid_argument("bad data"),
            StatusCode::BAD_REQUEST,
            code::INVALID_ARGUMENT,
        ),
        (
            Refusal::internal("100% broken"),
            StatusCode::INTERNAL_SERVER_ERROR,
            code::INTERNAL,
        ),
    ]
}

/// A sink refusing the [`refusal_cases`] in turn, each with `retry_after`, then once more as
/// `unavailable("no hint")`, without a delay.
pub fn refusing_each_case(retry_after: std::time::Duration) -> ScriptedSink {
    refusal_cases()
        .into_iter()
        .fold(
            ScriptedSink::new(MemorySink::new()),
            |script, (refusal, ..)| script.then_refuse(refusal.with_retry_after(retry_after)),
        )
        .then_refuse(Refusal::unavailable("no hint"))
}
