//! Every signal over every protocol and compression arrives at the receiver as it was sent.

mod common;

use common::{PROTOCOLS, config, receiver};
use otlp::{EncodedBody, Exporter, Protocol};
use otlp_proto::{Compression, Encoding, Signal, sample};
use otlp_receiver::{MemorySink, Transport};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_signal_protocol_and_compression_round_trips() {
    let sink = MemorySink::new();
    let rx = receiver(sink.clone()).await;
    for protocol in PROTOCOLS {
        for compression in [Compression::None, Compression::Gzip, Compression::Zstd] {
            let exporter = Exporter::new(config(&rx, protocol).with_compression(compression))
                .expect("exporter");
            for signal in Signal::ALL {
                let case = format!("{signal} over {protocol} with {compression}");
                sink.clear();
                let request = sample::request(signal);
                let outcome = exporter.export_request(&request).await.expect(&case);
                assert_eq!(outcome.attempts, 1, "{case}");
                assert_eq!(
                    (outcome.rejected, outcome.message.as_deref()),
                    (0, None),
                    "{case}"
                );
                assert!(!outcome.disabled);

                let received = sink.requests();
                assert_eq!(received.len(), 1, "{case}");
                let got = &received[0];
                assert_eq!(got.request, request, "{case}");
                let transport = match protocol {
                    Protocol::Grpc => Transport::Grpc,
                    _ => Transport::Http,
                };
                assert_eq!(got.transport, transport, "{case}");
                assert_eq!(got.encoding, protocol.encoding(), "{case}");
                assert_eq!(got.compression, compression, "{case}");
                assert_eq!(got.wire_bytes, outcome.wire_bytes, "{case}");
            }
        }
    }
    rx.shutdown().await;
}

#[tokio::test]
async fn typed_and_pre_encoded_exports_arrive_alike() {
    use otlp_proto::collector::ExportLogsServiceRequest;
    let sink = MemorySink::new();
    let rx = receiver(sink.clone()).await;
    let otlp_proto::Request::Logs(logs) = sample::request(Signal::Logs) else {
        unreachable!("sample::request(Logs) is a logs request")
    };
    for protocol in PROTOCOLS {
        let exporter = Exporter::new(config(&rx, protocol)).expect("exporter");
        sink.clear();
        // Typed.
        exporter
            .export::<ExportLogsServiceRequest>(&logs)
            .await
            .expect("typed");
        // Encoded by the caller in the protocol's own encoding.
        let body = exporter.encode(&logs);
        assert_eq!(body.encoding(), exporter.encoding(Signal::Logs));
        exporter
            .export_encoded(Signal::Logs, body)
            .await
            .expect("encoded");
        // Encoded in the other encoding: transcoded.
        let other = match exporter.encoding(Signal::Logs) {
            Encoding::Protobuf => Encoding::Json,
            Encoding::Json => Encoding::Protobuf,
        };
        let body = EncodedBody::encode(&logs, other);
        exporter
            .export_encoded(Signal::Logs, body)
            .await
            .expect("transcoded");
        let got = sink.requests();
        assert_eq!(got.len(), 3, "{protocol}");
        for r in got {
            assert_eq!(
                r.request,
                otlp_proto::Request::Logs(logs.clone()),
                "{protocol}"
            );
        }
    }
    rx.shutdown().await;
}

#[tokio::test]
async fn custom_headers_arrive_on_every_protocol() {
    let sink = MemorySink::new();
    let rx = receiver(sink.clone()).await;
    for protocol in PROTOCOLS {
        let exporter = Exporter::new(
            config(&rx, protocol)
                .with_header("x-api-key", "s3cret")
                .with_headers([("x-tenant", "acme"), ("x-team", "core")])
                .with_signal_header(Signal::Metrics, "x-tenant", "metrics-tenant"),
        )
        .expect("exporter");
        sink.clear();
        exporter
            .export_request(&sample::request(Signal::Traces))
            .await
            .expect("traces");
        exporter
            .export_request(&sample::request(Signal::Metrics))
            .await
            .expect("metrics");
        let got = sink.requests();
        let traces = &got[0].headers;
        assert_eq!(traces["x-api-key"], "s3cret", "{protocol}");
        assert_eq!(traces["x-tenant"], "acme", "{protocol}");
        assert_eq!(traces["x-team"], "core", "{protocol}");
        let ua = traces["user-agent"].to_str().expect("ascii");
        assert!(ua.starts_with("OTel-OTLP-Exporter-Rust/"), "{ua}");
        assert_eq!(got[1].headers["x-tenant"], "metrics-tenant", "{protocol}");
        assert_eq!(got[1].headers["x-api-key"], "s3cret", "{protocol}");
        if protocol == Protocol::Grpc {
            assert_eq!(traces["te"], "trailers");
            assert!(traces.contains_key("grpc-timeout"));
        }
    }
    rx.shutdown().await;
}

#[tokio::test]
async fn user_agent_can_be_replaced() {
    let sink = MemorySink::new();
    let rx = receiver(sink.clone()).await;
    let exporter =
        Exporter::new(config(&rx, Protocol::HttpProtobuf).with_header("user-agent", "my-app/2.0"))
            .expect("exporter");
    exporter
        .export_request(&sample::request(Signal::Logs))
        .await
        .expect("export");
    assert_eq!(sink.requests()[0].headers["user-agent"], "my-app/2.0");
    rx.shutdown().await;
}

#[tokio::test]
async fn per_signal_endpoints_are_used_as_is() {
    let sink = MemorySink::new();
    let rx = receiver(sink.clone()).await;
    let base = common::base_url(&rx, Protocol::HttpProtobuf, "http");
    // The generic endpoint points nowhere; the per-signal one has the full path.
    let exporter = Exporter::new(
        config(&rx, Protocol::HttpProtobuf)
            .with_endpoint("http://127.0.0.1:9/unused")
            .with_signal_endpoint(Signal::Profiles, format!("{base}/v1development/profiles")),
    )
    .expect("exporter");
    assert_eq!(
        exporter
            .signal_config(Signal::Profiles)
            .endpoint()
            .to_string(),
        format!("{base}/v1development/profiles")
    );
    let sent = sample::request(Signal::Profiles);
    exporter.export_request(&sent).await.expect("export");
    assert_eq!(sink.item_count(Signal::Profiles), sent.item_count());
    rx.shutdown().await;
}
