//! Arbitrary bytes never crash the server: every request gets an answer, and the server still
//! serves valid requests afterwards.

mod common;

use bytes::Bytes;
use common::*;
use http::StatusCode;
use otlp_proto::grpc::{self, code};
use otlp_proto::{Compression, Encoding, Signal, sample};
use otlp_receiver::MemorySink;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// Statuses a well-behaved server may give arbitrary bytes.
fn acceptable_http(status: StatusCode) -> bool {
    matches!(status.as_u16(), 200 | 400 | 413)
}

#[test]
fn arbitrary_bodies_never_crash_the_server() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let sink = MemorySink::new();
    let receiver = runtime.block_on(start_limited(sink.clone(), 64 << 10));
    let http_addr = receiver.http_addr().expect("http");
    let grpc_addr = receiver.grpc_addr().expect("grpc");
    let (h1, h2) = runtime.block_on(async { (http1_client(), h2_client()) });

    let signals = prop::sample::select(Signal::ALL.to_vec());
    let encodings = prop::sample::select(vec![Encoding::Protobuf, Encoding::Json]);
    let compressions = prop::sample::select(vec![
        Compression::None,
        Compression::Gzip,
        Compression::Zstd,
    ]);
    // Mostly raw bytes, sometimes a valid request with bytes flipped, so the decoders get past
    // the first byte now and then.
    let bodies = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..2048),
        (
            prop::sample::select(Signal::ALL.to_vec()),
            any::<prop::sample::Index>(),
            any::<u8>()
        )
            .prop_map(|(signal, at, byte)| {
                let mut wire = sample::request(signal).encode(Encoding::Protobuf).to_vec();
                let i = at.index(wire.len());
                wire[i] ^= byte | 1;
                wire
            }),
    ];

    let mut runner = TestRunner::new(Config {
        cases: 96,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(
            &(signals, encodings, compressions, bodies, any::<bool>()),
            |(signal, encoding, compression, body, compress_it)| {
                runtime.block_on(async {
                    // Half the time the bytes are really compressed; otherwise they only claim to be.
                    let body = if compress_it {
                        compress(compression, &body)
                    } else {
                        Bytes::from(body)
                    };
                    let mut headers = vec![("content-type", encoding.content_type())];
                    if let Some(token) = compression.encoding_token() {
                        headers.push(("content-encoding", token));
                    }
                    let reply = post(
                        &h1,
                        http_addr,
                        signal.http_path(),
                        &headers,
                        full(body.clone()),
                    )
                    .await;
                    prop_assert!(acceptable_http(reply.status), "HTTP {}", reply.status);

                    let mut headers = Vec::new();
                    if let Some(token) = compression.encoding_token() {
                        headers.push(("grpc-encoding", token));
                    }
                    // Both well-framed and raw bodies.
                    for grpc_body in [
                        Bytes::from(grpc::frame(
                            compress_it && compression != Compression::None,
                            &body,
                        )),
                        body.clone(),
                    ] {
                        let reply =
                            grpc_call(&h2, grpc_addr, signal.grpc_path(), &headers, grpc_body)
                                .await;
                        prop_assert_eq!(reply.http, StatusCode::OK);
                        prop_assert!(
                            matches!(
                                reply.code,
                                Some(
                                    code::OK
                                        | code::INVALID_ARGUMENT
                                        | code::RESOURCE_EXHAUSTED
                                        | code::INTERNAL
                                )
                            ),
                            "gRPC {:?}: {}",
                            reply.code,
                            reply.status_message
                        );
                    }
                    Ok(())
                })
            },
        )
        .expect("no input crashes the server");

    // Still serving, on both transports.
    runtime.block_on(async {
        sink.clear();
        let (reply, _) = export_http(
            &h1,
            http_addr,
            &sample::request(Signal::Logs),
            Encoding::Json,
            Compression::Gzip,
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK);
        let reply = grpc_call(
            &h2,
            grpc_addr,
            Signal::Traces.grpc_path(),
            &[],
            grpc_body(&sample::request(Signal::Traces), Compression::None),
        )
        .await;
        assert_eq!(reply.code, Some(code::OK));
        assert_eq!(sink.len(), 2);
        receiver.shutdown().await;
    });
}
