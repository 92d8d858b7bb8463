//! The limits on what requests may cost, over both transports: items and decoded size per
//! request (refused for good: 413 / `RESOURCE_EXHAUSTED` without a retry hint), and memory held
//! by all requests in flight (refused for now: 429 / `RESOURCE_EXHAUSTED` with one).

mod common;

use common::*;
use http::StatusCode;
use otlp_proto::collector::ExportLogsServiceRequest;
use otlp_proto::grpc::code;
use otlp_proto::logs::{LogRecord, ResourceLogs, ScopeLogs};
use otlp_proto::{Compression, Encoding, Request, Signal};
use otlp_receiver::{MemorySink, ScriptedSink};
use std::net::SocketAddr;
use std::time::Duration;

/// A logs request of `n` records, each with a 100-byte body.
fn records(n: usize) -> Request {
    Request::Logs(ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![
                    LogRecord {
                        body: Some("x".repeat(100).into()),
                        ..LogRecord::default()
                    };
                    n
                ],
                ..ScopeLogs::default()
            }],
            ..ResourceLogs::default()
        }],
    })
}

async fn grpc_export(addr: SocketAddr, request: &Request) -> GrpcReply {
    let path = request.signal().grpc_path();
    let body = grpc_body(request, Compression::None);
    grpc_call(&h2_client(), addr, path, &[], body).await
}

#[tokio::test]
async fn requests_over_the_item_or_decoded_size_limit_are_refused_for_good() {
    let sink = MemorySink::new();
    let receiver = start_with(
        builder()
            .with_sink(sink.clone())
            .with_max_items_per_request(10)
            .with_max_decoded_size(64 << 10),
    )
    .await;
    let http = receiver.http_addr().expect("http");
    let grpc = receiver.grpc_addr().expect("grpc");
    let h1 = http1_client();

    for (request, says) in [
        (
            records(11),
            "carries more than 10 items, the limit per request",
        ),
        (
            // Within the item limit, but each record's attributes take memory once decoded.
            {
                let mut r = records(1);
                if let Request::Logs(logs) = &mut r {
                    logs.resource_logs[0].scope_logs[0].log_records[0].attributes =
                        vec![otlp_proto::common::KeyValue::new("k", 1i64); 1000];
                }
                r
            },
            "decodes to more than 65536 bytes of memory, the limit per request",
        ),
    ] {
        for encoding in [Encoding::Protobuf, Encoding::Json] {
            let (reply, _) = export_http(&h1, http, &request, encoding, Compression::Gzip).await;
            assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE, "{encoding:?}");
            assert!(!reply.headers.contains_key("retry-after"));
            let status = reply.rpc_status();
            assert_eq!(status.code, code::RESOURCE_EXHAUSTED);
            assert!(status.message.contains(says), "{}", status.message);
        }
        let reply = grpc_export(grpc, &request).await;
        assert_eq!(reply.code, Some(code::RESOURCE_EXHAUSTED));
        assert!(
            reply.status_message.contains(says),
            "{}",
            reply.status_message
        );
        assert!(
            reply.details.is_none(),
            "no retry hint: the request will never fit"
        );
    }
    assert!(sink.is_empty(), "nothing refused reaches the sink");

    let (reply, _) = export_http(&h1, http, &records(10), Encoding::Json, Compression::None).await;
    assert_eq!(reply.status, StatusCode::OK, "at the limit is within it");
    assert_eq!(sink.item_count(Signal::Logs), 10);
    receiver.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_memory_limit_requests_wait_their_turn() {
    // The first request waits in the sink, holding what it took; the limit leaves no room for a
    // second one meanwhile.
    let request = records(200);
    let sink = ScriptedSink::new(MemorySink::new()).then_delay(Duration::from_secs(1));
    let receiver = start_with(
        builder()
            .with_sink(sink.clone())
            .with_memory_limit(100 << 10),
    )
    .await;
    let http = receiver.http_addr().expect("http");
    let grpc = receiver.grpc_addr().expect("grpc");
    let h1 = http1_client();

    let first = {
        let (h1, request) = (h1.clone(), request.clone());
        tokio::spawn(async move {
            export_http(&h1, http, &request, Encoding::Protobuf, Compression::None)
                .await
                .0
        })
    };
    tokio::time::timeout(Duration::from_secs(10), async {
        while sink.remaining_steps() > 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the first request reaches the sink");

    let (reply, _) = export_http(&h1, http, &request, Encoding::Json, Compression::None).await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(reply.headers["retry-after"], "1");
    let status = reply.rpc_status();
    assert_eq!(status.code, code::RESOURCE_EXHAUSTED);
    assert!(
        status.message.contains("memory limit"),
        "{}",
        status.message
    );
    assert_eq!(status.retry_delay(), Some(Duration::from_secs(1)));

    let reply = grpc_export(grpc, &request).await;
    assert_eq!(reply.code, Some(code::RESOURCE_EXHAUSTED));
    let details = reply.details.expect("a retry hint");
    assert_eq!(details.retry_delay(), Some(Duration::from_secs(1)));

    // Once the first is answered, its memory is free again.
    let first = first.await.expect("task");
    assert_eq!(first.status, StatusCode::OK);
    let reply = grpc_export(grpc, &request).await;
    assert_eq!(reply.code, Some(code::OK));
    assert_eq!(sink.requests_seen(), 2);
    receiver.shutdown().await;
}
