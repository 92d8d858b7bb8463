//! OTAP streams under the receiver's limits and bad input: each limit answered with a status
//! naming it, the stream over it ended when its state can no longer be trusted, other streams
//! and the connection unaffected, nothing acknowledged that the sink did not get.

mod common;

use bytes::Bytes;
use common::*;
use otlp_otap::{ArrowPayload, ArrowPayloadType, BatchArrowRecords, StatusCode, TracesDecoder};
use otlp_proto::grpc::code;
use otlp_proto::{Request, Signal, sample};
use otlp_receiver::{MemorySink, RunningReceiver};
use std::net::SocketAddr;
use std::time::Duration;
use test_support::otap::{OtapStream, StreamEncoder, frame, method};

/// A traces request of `n` spans (the sample's first span, repeated).
fn spans(n: usize) -> Request {
    let mut request = sample::traces();
    request.resource_spans.truncate(1);
    let rs = &mut request.resource_spans[0];
    rs.scope_spans.truncate(1);
    let span = rs.scope_spans[0].spans[0].clone();
    rs.scope_spans[0].spans = vec![span; n];
    Request::Traces(request)
}

/// Sends one good batch on a new stream of `addr` and checks it is answered OK: the receiver
/// and the connection are fine.
async fn still_serves(client: &TestClient, addr: SocketAddr) {
    let mut stream = OtapStream::open(client, addr, method(Signal::Logs), &[]);
    let status = stream
        .exchange(&StreamEncoder::new(Signal::Logs).encode(&sample::request(Signal::Logs)))
        .await;
    assert_eq!(status.code(), Some(StatusCode::Ok), "{status:?}");
    assert_eq!(stream.finish().await.code, Some(0));
}

async fn memory_receiver(builder: otlp_receiver::ReceiverBuilder) -> (MemorySink, RunningReceiver) {
    let sink = MemorySink::new();
    (sink.clone(), start_with(builder.with_sink(sink)).await)
}

#[tokio::test]
async fn a_stream_over_its_state_limit_is_told_so_and_ended_others_go_on() {
    // A limit between what an empty request's stream holds and what the sample's does.
    let held = |request: &Request| {
        let mut decoder = TracesDecoder::new();
        decoder
            .decode(&StreamEncoder::new(Signal::Traces).encode(request))
            .expect("decodes");
        decoder.held_bytes()
    };
    let small = Request::Traces(Default::default());
    let (small_state, big_state) = (held(&small), held(&sample::request(Signal::Traces)));
    assert!(small_state < big_state, "{small_state} < {big_state}");
    let limit = (small_state + big_state) / 2;
    let (sink, receiver) = memory_receiver(builder().with_otap_state_limit(limit)).await;
    let addr = receiver.grpc_addr().expect("grpc");
    let client = h2_client();

    let mut bystander = OtapStream::open(&client, addr, method(Signal::Traces), &[]);
    let mut bystander_encoder = StreamEncoder::new(Signal::Traces);
    let status = bystander.exchange(&bystander_encoder.encode(&small)).await;
    assert_eq!(status.code(), Some(StatusCode::Ok));

    let mut stream = OtapStream::open(&client, addr, method(Signal::Traces), &[]);
    let batch = StreamEncoder::new(Signal::Traces).encode(&sample::request(Signal::Traces));
    let status = stream.exchange(&batch).await;
    assert_eq!(status.batch_id, batch.batch_id);
    assert_eq!(status.code(), Some(StatusCode::ResourceExhausted));
    assert!(
        status.status_message.contains("state limit")
            && status.status_message.contains(&limit.to_string()),
        "{}",
        status.status_message
    );
    let end = stream.finish().await;
    assert_eq!(end.code, Some(code::RESOURCE_EXHAUSTED), "{end:?}");
    assert!(end.message.contains("state limit"), "{}", end.message);

    let status = bystander.exchange(&bystander_encoder.encode(&small)).await;
    assert_eq!(
        status.code(),
        Some(StatusCode::Ok),
        "the other stream goes on"
    );
    assert_eq!(bystander.finish().await.code, Some(0));
    assert_eq!(sink.requests().len(), 2, "only the bystander's batches");
    receiver.shutdown().await;
}

#[tokio::test]
async fn a_batch_over_the_item_limit_is_refused_and_the_stream_goes_on() {
    let (sink, receiver) = memory_receiver(builder().with_max_items_per_request(3)).await;
    let addr = receiver.grpc_addr().expect("grpc");
    let mut encoder = StreamEncoder::new(Signal::Traces);
    let mut stream = OtapStream::open(&h2_client(), addr, method(Signal::Traces), &[]);
    let status = stream.exchange(&encoder.encode(&spans(4))).await;
    assert_eq!(status.code(), Some(StatusCode::ResourceExhausted));
    assert_eq!(
        &*status.status_message,
        "the traces batch carries more than 3 items, the limit per request"
    );
    let status = stream.exchange(&encoder.encode(&spans(3))).await;
    assert_eq!(status.code(), Some(StatusCode::Ok), "{status:?}");
    assert_eq!(stream.finish().await.code, Some(0));
    let got = sink.requests();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].request.item_count(), 3);
    receiver.shutdown().await;
}

#[tokio::test]
async fn a_message_over_the_size_limit_ends_the_stream() {
    let (sink, receiver) = memory_receiver(builder().with_max_request_size(200)).await;
    let addr = receiver.grpc_addr().expect("grpc");
    let client = h2_client();
    let mut stream = OtapStream::open(&client, addr, method(Signal::Traces), &[]);
    let batch = StreamEncoder::new(Signal::Traces).encode(&spans(50));
    assert!(frame(&batch).len() > 200);
    stream.send(&batch).await;
    assert_eq!(
        stream.recv().await,
        None,
        "no answer: the batch was not read"
    );
    let end = stream.end().expect("ended").clone();
    assert_eq!(end.code, Some(code::RESOURCE_EXHAUSTED), "{end:?}");
    assert!(
        end.message.contains("exceeds the limit of 200"),
        "{}",
        end.message
    );
    assert!(sink.requests().is_empty());
    receiver.shutdown().await;
}

#[tokio::test]
async fn what_is_not_a_batch_ends_its_stream_and_nothing_else() {
    let (sink, receiver) = start_memory().await;
    let addr = receiver.grpc_addr().expect("grpc");
    let client = h2_client();
    let good = StreamEncoder::new(Signal::Traces).encode(&sample::request(Signal::Traces));
    let mut truncated = good.clone();
    for p in &mut truncated.arrow_payloads {
        p.record = p.record.slice(..p.record.len() / 2);
    }
    let garbage_ipc = BatchArrowRecords {
        batch_id: 7,
        arrow_payloads: vec![ArrowPayload::new(
            "0",
            ArrowPayloadType::Spans,
            Bytes::from_static(b"not arrow at all"),
        )],
        ..Default::default()
    };
    let wrong_signal = StreamEncoder::new(Signal::Logs).encode(&sample::request(Signal::Logs));
    for (case, batch) in [
        ("truncated", truncated),
        ("garbage", garbage_ipc),
        ("logs on traces", wrong_signal),
    ] {
        let mut stream = OtapStream::open(&client, addr, method(Signal::Traces), &[]);
        let status = stream.exchange(&batch).await;
        assert_eq!(status.batch_id, batch.batch_id, "{case}");
        assert_eq!(status.code(), Some(StatusCode::InvalidArgument), "{case}");
        assert!(
            status.status_message.contains("cannot decode OTAP batch"),
            "{case}: {}",
            status.status_message
        );
        let end = stream.finish().await;
        assert_eq!(end.code, Some(code::INVALID_ARGUMENT), "{case}: {end:?}");
    }
    // Not a BatchArrowRecords at all, a bad compressed flag, a message cut short by the end.
    for (case, raw, want) in [
        (
            "protobuf",
            Bytes::from(otlp_proto::grpc::frame(false, &[0x12, 0x80])),
            "malformed BatchArrowRecords",
        ),
        (
            "flag",
            Bytes::from_static(&[7, 0, 0, 0, 0]),
            "compressed flag",
        ),
        (
            "cut",
            frame(&good).slice(..20),
            "ended inside a gRPC message",
        ),
    ] {
        let mut stream = OtapStream::open(&client, addr, method(Signal::Traces), &[]);
        stream.send_raw(raw).await;
        let end = stream.finish().await;
        assert!(end.statuses.is_empty(), "{case}");
        assert_eq!(end.code, Some(code::INVALID_ARGUMENT), "{case}: {end:?}");
        assert!(end.message.contains(want), "{case}: {}", end.message);
    }
    assert!(sink.requests().is_empty());
    still_serves(&client, addr).await;
    receiver.shutdown().await;
}

#[tokio::test]
async fn an_idle_stream_is_ended_with_a_status_naming_the_timeout() {
    let (_sink, receiver) =
        memory_receiver(builder().with_idle_timeout(Duration::from_millis(200))).await;
    let addr = receiver.grpc_addr().expect("grpc");
    let mut stream = OtapStream::open(&h2_client(), addr, method(Signal::Metrics), &[]);
    let status = stream
        .exchange(&StreamEncoder::new(Signal::Metrics).encode(&sample::request(Signal::Metrics)))
        .await;
    assert_eq!(status.code(), Some(StatusCode::Ok));
    // Nothing more is sent: the receiver ends the stream.
    assert_eq!(stream.recv().await, None);
    let end = stream.end().expect("ended");
    assert_eq!(end.code, Some(code::UNAVAILABLE), "{end:?}");
    assert!(end.message.contains("idle timeout"), "{}", end.message);
    receiver.shutdown().await;
}

#[tokio::test]
async fn a_memory_limiter_refusal_once_decoded_is_the_batch_status_and_the_stream_goes_on() {
    let request = sample::request(Signal::Traces);
    let first = StreamEncoder::new(Signal::Traces).encode(&request);
    // Room for the batch's message, not for the request it decodes to as well.
    let limit = frame(&first).len() + 16;
    let (sink, receiver) = memory_receiver(builder().with_memory_limit(limit)).await;
    let addr = receiver.grpc_addr().expect("grpc");
    let mut stream = OtapStream::open(&h2_client(), addr, method(Signal::Traces), &[]);
    let status = stream.exchange(&first).await;
    assert_eq!(
        status.code(),
        Some(StatusCode::ResourceExhausted),
        "{status:?}"
    );
    assert!(
        status.status_message.contains("memory limit"),
        "{}",
        status.status_message
    );
    let end = stream.finish().await;
    assert_eq!(end.code, Some(0), "{end:?}");
    assert!(
        sink.requests().is_empty(),
        "nothing acknowledged, nothing delivered"
    );
    receiver.shutdown().await;
}

#[tokio::test]
async fn a_memory_limiter_refusal_before_decoding_ends_the_stream_unacknowledged() {
    let (sink, receiver) = memory_receiver(builder().with_memory_limit(64)).await;
    let addr = receiver.grpc_addr().expect("grpc");
    let mut stream = OtapStream::open(&h2_client(), addr, method(Signal::Traces), &[]);
    stream
        .send(&StreamEncoder::new(Signal::Traces).encode(&sample::request(Signal::Traces)))
        .await;
    assert_eq!(
        stream.recv().await,
        None,
        "no OK for a batch the sink never saw"
    );
    let end = stream.end().expect("ended");
    assert_eq!(end.code, Some(code::RESOURCE_EXHAUSTED), "{end:?}");
    assert!(end.message.contains("memory limit"), "{}", end.message);
    assert!(sink.requests().is_empty());
    receiver.shutdown().await;
}

#[tokio::test]
async fn what_a_streams_decoder_keeps_counts_against_the_memory_limit() {
    let request = sample::request(Signal::Traces);
    let batch = StreamEncoder::new(Signal::Traces).encode(&request);
    let mut decoder = TracesDecoder::new();
    let decoded = decoder.decode(&batch).expect("decodes");
    let message = frame(&batch).len() - otlp_proto::grpc::FRAME_HEADER_LEN;
    let size = otlp_proto::Message::encode_to_bytes(&decoded).len();
    // Exactly room for one batch in flight beside one stream's state.
    let limit = message + decoder.held_bytes() + size;
    let (sink, receiver) = memory_receiver(builder().with_memory_limit(limit)).await;
    let addr = receiver.grpc_addr().expect("grpc");
    let client = h2_client();
    let mut holding = OtapStream::open(&client, addr, method(Signal::Traces), &[]);
    let status = holding.exchange(&batch).await;
    assert_eq!(status.code(), Some(StatusCode::Ok), "{status:?}");

    // While the first stream keeps its dictionaries, a second has no room for the same batch.
    let mut second = OtapStream::open(&client, addr, method(Signal::Traces), &[]);
    let status = second.exchange(&batch).await;
    assert_eq!(
        status.code(),
        Some(StatusCode::ResourceExhausted),
        "{status:?}"
    );
    assert!(status.status_message.contains("memory limit"), "{status:?}");
    second.finish().await;

    // Once it ends, its state is given back.
    assert_eq!(holding.finish().await.code, Some(0));
    let mut third = OtapStream::open(&client, addr, method(Signal::Traces), &[]);
    let status = third.exchange(&batch).await;
    assert_eq!(status.code(), Some(StatusCode::Ok), "{status:?}");
    third.finish().await;
    assert_eq!(sink.requests().len(), 2);
    receiver.shutdown().await;
}

#[tokio::test]
async fn a_stream_that_keeps_sending_outlives_the_connections_idle_timeout() {
    // The connection has had no new call for several idle timeouts, but its stream is busy.
    let idle = Duration::from_secs(2);
    let (sink, receiver) = memory_receiver(builder().with_idle_timeout(idle)).await;
    let addr = receiver.grpc_addr().expect("grpc");
    let request = sample::request(Signal::Logs);
    let mut encoder = StreamEncoder::new(Signal::Logs);
    let mut stream = OtapStream::open(&h2_client(), addr, method(Signal::Logs), &[]);
    for _ in 0..15 {
        let status = stream.exchange(&encoder.encode(&request)).await;
        assert_eq!(status.code(), Some(StatusCode::Ok), "{status:?}");
        tokio::time::sleep(idle / 7).await;
    }
    assert_eq!(stream.finish().await.code, Some(0));
    assert_eq!(sink.requests().len(), 15);
    receiver.shutdown().await;
}
