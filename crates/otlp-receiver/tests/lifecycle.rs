//! Starting, stopping, and the sinks as a receiver drives them.

mod common;

use bytes::Bytes;
use common::*;
use http::StatusCode;
use otlp_proto::grpc::code;
use otlp_proto::{Compression, Encoding, Request, Signal, sample};
use otlp_receiver::{JsonLinesSink, MemorySink, Receiver, ScriptedSink};
use std::time::Duration;

#[tokio::test]
async fn port_zero_binds_both_listeners_before_start_returns() {
    let receiver = start(MemorySink::new()).await;
    let grpc = receiver.grpc_addr().expect("grpc");
    let http = receiver.http_addr().expect("http");
    assert_ne!(grpc.port(), 0);
    assert_ne!(http.port(), 0);
    assert_ne!(grpc, http);
    // Bound means connectable right away.
    tokio::net::TcpStream::connect(grpc)
        .await
        .expect("gRPC listener");
    tokio::net::TcpStream::connect(http)
        .await
        .expect("HTTP listener");
}

#[tokio::test]
async fn a_disabled_transport_has_no_address() {
    let receiver = Receiver::builder()
        .with_free_loopback_ports()
        .without_grpc()
        .start()
        .await
        .expect("start");
    assert!(receiver.grpc_addr().is_none());
    assert!(receiver.http_addr().is_some());
}

#[tokio::test]
async fn shutdown_releases_the_ports() {
    let receiver = start(MemorySink::new()).await;
    let grpc = receiver.grpc_addr().expect("grpc");
    let http = receiver.http_addr().expect("http");
    receiver.shutdown().await;
    let again = Receiver::builder()
        .with_grpc_addr(grpc)
        .with_http_addr(http)
        .start()
        .await
        .expect("the same ports are free again");
    again.shutdown().await;
}

#[tokio::test]
async fn shutdown_is_bounded_by_requests_in_progress() {
    let memory = MemorySink::new();
    let script = ScriptedSink::new(memory.clone()).then_delay(Duration::from_secs(3600));
    let receiver = start_with(
        builder()
            .with_sink(script.clone())
            .with_shutdown_timeout(Duration::from_millis(100)),
    )
    .await;
    let addr = receiver.grpc_addr().expect("grpc");
    let client = h2_client();
    let call = tokio::spawn(async move {
        let body = grpc_body(&sample::request(Signal::Logs), Compression::None);
        let headers = [("content-type", "application/grpc")];
        client
            .request(post_request(
                addr,
                Signal::Logs.grpc_path(),
                &headers,
                full(body),
            ))
            .await
    });
    // The request is parked in its hour-long delay once the script step is taken.
    let mut parked = false;
    for _ in 0..6_000 {
        if script.remaining_steps() == 0 {
            parked = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(parked, "the request reached the sink's delay");
    // A shutdown that waited for the hour-long request would fail here instead of hanging.
    tokio::time::timeout(Duration::from_secs(60), receiver.shutdown())
        .await
        .expect("shutdown gives up on the request after its timeout");
    let outcome = call.await.expect("client task");
    assert!(
        outcome.is_err() || outcome.is_ok_and(|r| r.status() == StatusCode::OK),
        "the client sees its connection go"
    );
    assert!(
        memory.is_empty(),
        "the delayed request never reached the sink"
    );
}

#[tokio::test]
async fn dropping_the_handle_stops_the_servers() {
    let receiver = start(MemorySink::new()).await;
    let http = receiver.http_addr().expect("http");
    drop(receiver);
    // The accept loops are aborted on the runtime: wait (boundedly) until the port is free.
    let mut rebound = None;
    for _ in 0..500 {
        if let Ok(r) = Receiver::builder()
            .without_grpc()
            .with_http_addr(http)
            .start()
            .await
        {
            rebound = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(rebound.is_some(), "the port was released");
}

#[tokio::test]
async fn json_lines_sink_writes_one_decodable_request_per_line() {
    let dir = std::env::temp_dir().join(format!("otlp-receiver-jsonl-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let receiver = start(JsonLinesSink::create(&dir).expect("sink")).await;
    let h1 = http1_client();
    let h2 = h2_client();
    for signal in Signal::ALL {
        let (reply, _) = export_http(
            &h1,
            receiver.http_addr().expect("http"),
            &sample::request(signal),
            Encoding::Protobuf,
            Compression::Gzip,
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK);
        let reply = grpc_call(
            &h2,
            receiver.grpc_addr().expect("grpc"),
            signal.grpc_path(),
            &[],
            grpc_body(&sample::request(signal), Compression::None),
        )
        .await;
        assert_eq!(reply.code, Some(code::OK));
    }
    receiver.shutdown().await;

    // A new sink on the same directory appends.
    let receiver = start(JsonLinesSink::create(&dir).expect("sink")).await;
    let (reply, _) = export_http(
        &h1,
        receiver.http_addr().expect("http"),
        &sample::request(Signal::Traces),
        Encoding::Json,
        Compression::None,
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    receiver.shutdown().await;

    for signal in Signal::ALL {
        let path = dir.join(format!("{}.jsonl", signal.name()));
        let text = std::fs::read_to_string(&path).expect("file");
        let lines: Vec<&str> = text.lines().collect();
        let expected = if signal == Signal::Traces { 3 } else { 2 };
        assert_eq!(lines.len(), expected, "{}", path.display());
        for line in lines {
            let json = Bytes::copy_from_slice(line.as_bytes());
            let request =
                Request::decode(signal, Encoding::Json, &json).expect("a valid OTLP/JSON line");
            assert_eq!(request, sample::request(signal));
        }
    }
    assert!(text_starts(&dir, Signal::Traces, "{\"resourceSpans\":["));
    assert!(text_starts(
        &dir,
        Signal::Profiles,
        "{\"resourceProfiles\":["
    ));
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

fn text_starts(dir: &std::path::Path, signal: Signal, prefix: &str) -> bool {
    std::fs::read_to_string(dir.join(format!("{}.jsonl", signal.name())))
        .is_ok_and(|t| t.starts_with(prefix))
}

#[tokio::test]
async fn memory_sink_wait_for_items_follows_arrivals() {
    let (sink, receiver) = start_memory().await;
    let addr = receiver.http_addr().expect("http");
    assert!(
        !sink
            .wait_for_items(Signal::Metrics, 1, Duration::from_millis(20))
            .await
    );
    let sent = sample::request(Signal::Metrics);
    // Two requests' worth of data points: the waiter needs both.
    let per_request = sent.item_count();
    assert!(per_request > 0, "the sample has data points");
    let waiter = {
        let sink = sink.clone();
        tokio::spawn(async move {
            sink.wait_for_items(Signal::Metrics, 2 * per_request, Duration::from_secs(120))
                .await
        })
    };
    let client = http1_client();
    for _ in 0..2 {
        export_http(&client, addr, &sent, Encoding::Protobuf, Compression::None).await;
    }
    assert!(waiter.await.expect("waiter"));
    assert_eq!(sink.item_count(Signal::Metrics), 2 * per_request);
    assert_eq!(sink.item_count(Signal::Traces), 0);
}
