//! OTLP/Arrow (OTAP) streams on the gRPC listener: our encoders' batches, for every signal,
//! several per stream (so dictionaries carry over) and several streams at once, reach the sink
//! as the OTLP requests they encode, each batch answered once, after the sink.

mod common;

use common::*;
use otlp_otap::StatusCode;
use otlp_proto::{Encoding, Request, Signal, sample};
use otlp_receiver::{MemorySink, Refusal, RequestSummary, ScriptedSink, Transport};
use std::sync::{Arc, Mutex};
use test_support::otap::{OtapStream, StreamEncoder, method, normalize};

const SIGNALS: [Signal; 3] = [Signal::Traces, Signal::Logs, Signal::Metrics];

/// Three different requests of `signal`: the sample, the sample again (its dictionaries known
/// by then) and a variant with new strings (delta dictionaries).
fn requests(signal: Signal) -> Vec<Request> {
    let mut variant = sample::request(signal);
    match &mut variant {
        Request::Traces(r) => {
            for span in r
                .resource_spans
                .iter_mut()
                .flat_map(|rs| &mut rs.scope_spans)
                .flat_map(|ss| &mut ss.spans)
            {
                span.name = format!("{}-renamed", span.name).into();
            }
        }
        Request::Logs(r) => {
            for record in r
                .resource_logs
                .iter_mut()
                .flat_map(|rl| &mut rl.scope_logs)
                .flat_map(|sl| &mut sl.log_records)
            {
                record.severity_text = "SEVERE-variant".into();
            }
        }
        Request::Metrics(r) => {
            for metric in r
                .resource_metrics
                .iter_mut()
                .flat_map(|rm| &mut rm.scope_metrics)
                .flat_map(|sm| &mut sm.metrics)
            {
                metric.name = format!("{}.variant", metric.name).into();
            }
        }
        Request::Profiles(_) => unreachable!("OTAP carries no profiles"),
    }
    vec![sample::request(signal), sample::request(signal), variant]
}

/// Protobuf bytes: what equality means here (NaN doubles compare by their bits).
fn bytes(request: &Request) -> bytes::Bytes {
    request.encode(Encoding::Protobuf)
}

#[tokio::test]
async fn every_signal_arrives_as_the_requests_it_encodes_each_batch_answered_ok() {
    let (sink, receiver) = start_memory().await;
    let addr = receiver.grpc_addr().expect("grpc");
    let client = h2_client();
    for signal in SIGNALS {
        sink.clear();
        let sent = requests(signal);
        let mut encoder = StreamEncoder::new(signal);
        let mut stream = OtapStream::open(&client, addr, method(signal), &[("x-tenant", "a")]);
        let mut sizes = Vec::new();
        for request in &sent {
            let batch = encoder.encode(request);
            sizes.push(test_support::otap::frame(&batch).len());
            let status = stream.exchange(&batch).await;
            assert_eq!(status.batch_id, batch.batch_id, "{signal}");
            assert_eq!(
                status.code(),
                Some(StatusCode::Ok),
                "{signal}: {}",
                status.status_message
            );
            // Answered only once the sink has it.
            assert_eq!(sink.requests().len() as i64, batch.batch_id + 1, "{signal}");
        }
        assert!(
            sizes[1] < sizes[0],
            "{signal}: the second batch reuses the dictionaries"
        );
        let headers = stream.headers().expect("answered").clone();
        assert_eq!(headers["content-type"], "application/grpc");
        let end = stream.finish().await;
        assert_eq!(end.code, Some(0), "{signal}: {end:?}");
        assert!(end.statuses.is_empty(), "{signal}: one answer per batch");

        let got = sink.requests();
        assert_eq!(got.len(), sent.len(), "{signal}");
        for ((got, sent), size) in got.iter().zip(&sent).zip(&sizes) {
            assert_eq!(
                bytes(&got.request),
                bytes(&normalize(sent.clone())),
                "{signal}"
            );
            assert_eq!(got.transport, Transport::Otap);
            assert_eq!(got.encoding, Encoding::Protobuf);
            assert_eq!(got.wire_bytes, *size, "{signal}");
            assert_eq!(
                got.headers["x-tenant"], "a",
                "{signal}: the stream's metadata"
            );
        }
    }
    receiver.shutdown().await;
}

#[tokio::test]
async fn streams_at_once_on_one_connection_each_keep_their_own_state() {
    let (sink, receiver) = start_memory().await;
    let addr = receiver.grpc_addr().expect("grpc");
    let client = h2_client();
    // Two streams per signal, their batches interleaved: each stream's dictionaries are its own.
    let mut streams: Vec<(Signal, StreamEncoder, OtapStream)> = SIGNALS
        .into_iter()
        .chain(SIGNALS)
        .map(|signal| {
            let stream = OtapStream::open(&client, addr, method(signal), &[]);
            (signal, StreamEncoder::new(signal), stream)
        })
        .collect();
    let mut want = Vec::new();
    for round in 0..3 {
        for (signal, encoder, stream) in &mut streams {
            let request = requests(*signal).swap_remove(round);
            let status = stream.exchange(&encoder.encode(&request)).await;
            assert_eq!(status.code(), Some(StatusCode::Ok), "{signal}: {status:?}");
            assert_eq!(status.batch_id, round as i64);
            want.push(bytes(&normalize(request)));
        }
    }
    for (signal, _, stream) in streams {
        let end = stream.finish().await;
        assert_eq!(end.code, Some(0), "{signal}: {end:?}");
    }
    let mut got: Vec<_> = sink.requests().iter().map(|r| bytes(&r.request)).collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);
    receiver.shutdown().await;
}

#[tokio::test]
async fn a_sink_refusal_is_the_batch_status_and_the_stream_goes_on() {
    let memory = MemorySink::new();
    let sink = ScriptedSink::new(memory.clone())
        .then_refuse(Refusal::unavailable("pipeline full"))
        .then_refuse(Refusal::invalid_argument("bad tenant"));
    let receiver = start(sink).await;
    let addr = receiver.grpc_addr().expect("grpc");
    let mut encoder = StreamEncoder::new(Signal::Logs);
    let mut stream = OtapStream::open(&h2_client(), addr, method(Signal::Logs), &[]);
    let mut codes = Vec::new();
    for request in requests(Signal::Logs) {
        let status = stream.exchange(&encoder.encode(&request)).await;
        codes.push((status.code(), status.status_message.to_string()));
    }
    assert_eq!(
        codes,
        [
            (Some(StatusCode::Unavailable), "pipeline full".to_owned()),
            (Some(StatusCode::InvalidArgument), "bad tenant".to_owned()),
            (Some(StatusCode::Ok), String::new()),
        ]
    );
    assert_eq!(stream.finish().await.code, Some(0));
    // Only the batch acknowledged OK reached the sink behind the script.
    let got = memory.requests();
    assert_eq!(got.len(), 1);
    assert_eq!(
        bytes(&got[0].request),
        bytes(&normalize(requests(Signal::Logs).swap_remove(2)))
    );
    receiver.shutdown().await;
}

#[tokio::test]
async fn the_observer_counts_otap_batches_and_their_items() {
    let seen: Arc<Mutex<Vec<RequestSummary>>> = Arc::default();
    let log = seen.clone();
    let receiver =
        start_with(builder().with_request_observer(move |s| log.lock().unwrap().push(s.clone())))
            .await;
    let addr = receiver.grpc_addr().expect("grpc");
    let request = sample::request(Signal::Traces);
    let mut encoder = StreamEncoder::new(Signal::Traces);
    let mut stream = OtapStream::open(&h2_client(), addr, method(Signal::Traces), &[]);
    for _ in 0..2 {
        stream.exchange(&encoder.encode(&request)).await;
    }
    stream.finish().await;
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    for s in seen.iter() {
        assert_eq!(s.transport, Transport::Otap);
        assert_eq!(s.signal, Signal::Traces);
        assert_eq!(s.items, request.item_count());
        assert_eq!(s.outcome, Ok(()));
        assert!(s.to_string().starts_with("traces otap protobuf"), "{s}");
    }
    receiver.shutdown().await;
}

#[tokio::test]
async fn otlp_export_calls_are_served_beside_otap_streams() {
    let (sink, receiver) = start_memory().await;
    let addr = receiver.grpc_addr().expect("grpc");
    let client = h2_client();
    let mut encoder = StreamEncoder::new(Signal::Traces);
    let mut stream = OtapStream::open(&client, addr, method(Signal::Traces), &[]);
    let request = sample::request(Signal::Traces);
    stream.exchange(&encoder.encode(&request)).await;
    // A unary call on the same connection while the stream is open.
    let reply = grpc_call(
        &client,
        addr,
        Signal::Traces.grpc_path(),
        &[],
        grpc_body(&request, otlp_proto::Compression::None),
    )
    .await;
    assert_eq!(reply.code, Some(0), "{}", reply.status_message);
    stream.exchange(&encoder.encode(&request)).await;
    assert_eq!(stream.finish().await.code, Some(0));
    let transports: Vec<_> = sink.requests().iter().map(|r| r.transport).collect();
    assert_eq!(
        transports,
        [Transport::Otap, Transport::Grpc, Transport::Otap]
    );
    receiver.shutdown().await;
}

#[tokio::test]
async fn shutdown_ends_open_streams_with_a_status_after_their_answers() {
    let (sink, receiver) = start_memory().await;
    let addr = receiver.grpc_addr().expect("grpc");
    let mut encoder = StreamEncoder::new(Signal::Traces);
    let mut stream = OtapStream::open(&h2_client(), addr, method(Signal::Traces), &[]);
    let status = stream
        .exchange(&encoder.encode(&sample::request(Signal::Traces)))
        .await;
    assert_eq!(status.code(), Some(StatusCode::Ok));
    let ((), next) = tokio::join!(receiver.shutdown(), stream.recv());
    assert_eq!(next, None);
    let end = stream.end().expect("ended");
    assert_eq!(
        end.code,
        Some(otlp_proto::grpc::code::UNAVAILABLE),
        "{end:?}"
    );
    assert!(end.message.contains("shutting down"), "{}", end.message);
    assert_eq!(sink.requests().len(), 1);
}

#[tokio::test]
async fn batches_compressed_under_grpc_encoding_are_read_and_so_are_uncompressed_ones() {
    let (sink, receiver) = start_memory().await;
    let addr = receiver.grpc_addr().expect("grpc");
    let request = sample::request(Signal::Metrics);
    let mut encoder = StreamEncoder::new(Signal::Metrics);
    let headers = [("grpc-encoding", "zstd")];
    let mut stream = OtapStream::open(&h2_client(), addr, method(Signal::Metrics), &headers);
    let message = otlp_proto::Message::encode_to_bytes(&encoder.encode(&request));
    let compressed = otlp_proto::Compression::Zstd;
    let framed = bytes::Bytes::from(otlp_proto::grpc::frame(
        true,
        &compress(compressed, &message),
    ));
    stream.send_raw(framed.clone()).await;
    let status = stream.recv().await.expect("answered");
    assert_eq!(status.code(), Some(StatusCode::Ok), "{status:?}");
    let status = stream.exchange(&encoder.encode(&request)).await;
    assert_eq!(status.code(), Some(StatusCode::Ok), "{status:?}");
    assert_eq!(stream.finish().await.code, Some(0));
    let got = sink.requests();
    assert_eq!(got.len(), 2);
    assert_eq!(
        (got[0].compression, got[0].wire_bytes),
        (compressed, framed.len())
    );
    assert_eq!(got[1].compression, otlp_proto::Compression::None);
    for got in got {
        assert_eq!(bytes(&got.request), bytes(&normalize(request.clone())));
    }
    receiver.shutdown().await;
}

/// HPACK-encoded headers of `headers`, by `encoder` (one per stream, as the Go exporter keeps).
fn hpack(encoder: &mut fluke_hpack::Encoder<'_>, headers: &[(&str, &str)]) -> bytes::Bytes {
    let block = encoder.encode(headers.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())));
    bytes::Bytes::from(block)
}

/// A batch's own headers (`BatchArrowRecords.headers`) take precedence over the stream's, which
/// fill in the rest; a batch without them gets the stream's.
#[tokio::test]
async fn a_batchs_own_headers_reach_the_sink_over_the_streams() {
    let (sink, receiver) = start_memory().await;
    let addr = receiver.grpc_addr().expect("grpc");
    let stream_headers = [("x-tenant", "a"), ("authorization", "stream")];
    let mut stream = OtapStream::open(&h2_client(), addr, method(Signal::Logs), &stream_headers);
    let mut encoder = StreamEncoder::new(Signal::Logs);
    let mut headers = fluke_hpack::Encoder::new();
    let own = [("authorization", "batch"), ("x-batch", "1")];
    for (i, request) in requests(Signal::Logs).iter().enumerate() {
        let mut batch = encoder.encode(request);
        if i != 1 {
            batch.headers = hpack(&mut headers, &own);
        }
        let status = stream.exchange(&batch).await;
        assert_eq!(
            status.code(),
            Some(StatusCode::Ok),
            "{}",
            status.status_message
        );
    }
    assert_eq!(stream.finish().await.code, Some(0));
    let got = sink.requests();
    assert_eq!(got.len(), 3);
    for (i, got) in got.iter().enumerate() {
        let h = &got.headers;
        assert_eq!(h["x-tenant"], "a", "batch {i}");
        if i == 1 {
            assert_eq!(h["authorization"], "stream");
            assert!(h.get("x-batch").is_none());
        } else {
            assert_eq!(h["authorization"], "batch", "batch {i}");
            assert_eq!(h["x-batch"], "1", "batch {i}");
            assert_eq!(h.get_all("authorization").iter().count(), 1);
        }
    }
    receiver.shutdown().await;
}

/// A sink that takes `delay` over each request.
struct Slow(MemorySink, std::time::Duration);

impl otlp_receiver::Sink for Slow {
    fn consume(&self, received: otlp_receiver::Received) -> Result<otlp_receiver::Ack, Refusal> {
        self.0.consume(received)
    }

    fn delay(&self) -> Option<std::time::Duration> {
        Some(self.1)
    }
}

/// A batch's own `grpc-timeout` bounds its handling: past it the batch is answered
/// `DEADLINE_EXCEEDED` and never reaches the sink, and the stream goes on. Headers the client
/// cannot have meant (not HPACK) end the stream.
#[tokio::test]
async fn a_batchs_own_grpc_timeout_bounds_it_and_bad_hpack_ends_the_stream() {
    let memory = MemorySink::new();
    let receiver = start(Slow(memory.clone(), std::time::Duration::from_millis(300))).await;
    let addr = receiver.grpc_addr().expect("grpc");
    let mut stream = OtapStream::open(&h2_client(), addr, method(Signal::Traces), &[]);
    let mut encoder = StreamEncoder::new(Signal::Traces);
    let mut headers = fluke_hpack::Encoder::new();
    let sent = requests(Signal::Traces);
    let mut batch = encoder.encode(&sent[0]);
    batch.headers = hpack(&mut headers, &[("grpc-timeout", "20m")]);
    let status = stream.exchange(&batch).await;
    assert_eq!(
        status.code(),
        Some(StatusCode::DeadlineExceeded),
        "{status:?}"
    );
    // Without a deadline of its own the next batch waits for the sink.
    let status = stream.exchange(&encoder.encode(&sent[1])).await;
    assert_eq!(
        status.code(),
        Some(StatusCode::Ok),
        "{}",
        status.status_message
    );
    assert_eq!(memory.requests().len(), 1);
    let mut bad = encoder.encode(&sent[2]);
    bad.headers = bytes::Bytes::from_static(&[0xff, 0xff, 0x7f]);
    let status = stream.exchange(&bad).await;
    assert_ne!(status.code(), Some(StatusCode::Ok));
    assert!(status.status_message.contains("HPACK"), "{status:?}");
    let end = stream.finish().await;
    assert_ne!(end.code, Some(0), "{end:?}");
    receiver.shutdown().await;
}

/// Rows are bounded before a payload is decoded: one for every 64 bytes of the decoded-size
/// limit (a row of nulls costs a few bits of IPC and becomes a whole span). Past it the
/// stream ends with a status that says so, and the sink sees nothing.
#[tokio::test]
async fn a_batch_with_more_rows_than_the_decoded_size_allows_ends_the_stream() {
    let memory = MemorySink::new();
    // 64,000 bytes: 1,000 rows, raised to the floor of 1,024 a batch.
    let receiver = start_with(
        builder()
            .with_sink(memory.clone())
            .with_max_decoded_size(64_000),
    )
    .await;
    let addr = receiver.grpc_addr().expect("grpc");
    let mut stream = OtapStream::open(&h2_client(), addr, method(Signal::Traces), &[]);
    let mut many = sample::traces();
    let spans = &mut many.resource_spans[0].scope_spans[0].spans;
    let one = spans[0].clone();
    spans.clear();
    for i in 0..1_500u32 {
        let mut span = one.clone();
        span.span_id = bytes::Bytes::copy_from_slice(&u64::from(i + 1).to_be_bytes());
        spans.push(span);
    }
    let mut encoder = StreamEncoder::new(Signal::Traces);
    let status = stream
        .exchange(&encoder.encode(&Request::Traces(many)))
        .await;
    assert_ne!(status.code(), Some(StatusCode::Ok));
    assert!(
        status
            .status_message
            .contains("more than the 1024 a batch may hold"),
        "{status:?}"
    );
    assert_ne!(stream.finish().await.code, Some(0));
    assert!(memory.requests().is_empty());
    receiver.shutdown().await;
}
