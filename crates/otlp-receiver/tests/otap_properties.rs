//! Properties of OTAP streams through the receiver: random traces, logs and metrics (otlp-proto's
//! strategies) sent as a stream of our encoder's batches reach the sink unchanged (up to
//! otlp-otap's `normalize_*`); random messages and damaged batches never break the receiver:
//! each stream ends with a status, and the connection goes on serving.
//! `OTLP_PROPTEST_CASES` sets the cases per property.

mod common;

use bytes::Bytes;
use common::*;
use otlp_otap::StatusCode;
use otlp_proto::{Encoding, Request, Signal};
use otlp_receiver::{MemorySink, Receiver, RunningReceiver};
use proptest::prelude::*;
use std::sync::{Mutex, OnceLock};
use test_support::otap::{OtapStream, StreamEncoder, frame, method, normalize};
use tokio::runtime::Runtime;

#[path = "../../otlp-proto/tests/support/strategies/mod.rs"]
#[allow(clippy::all, missing_docs, unused)]
mod strategies;

/// One runtime and receiver for every case.
struct Peer {
    runtime: Runtime,
    receiver: RunningReceiver,
    sink: MemorySink,
    client: TestClient,
    /// Held by each case: the properties run on threads of their own, and the sink is shared.
    sink_user: Mutex<()>,
}

fn peer() -> &'static Peer {
    static PEER: OnceLock<Peer> = OnceLock::new();
    PEER.get_or_init(|| {
        let runtime = Runtime::new().expect("runtime");
        let (receiver, sink) = runtime
            .block_on(Receiver::start_in_memory())
            .expect("receiver starts");
        // The client's connection is driven by a task of the runtime.
        let client = runtime.block_on(async { h2_client() });
        Peer {
            runtime,
            receiver,
            sink,
            client,
            sink_user: Mutex::new(()),
        }
    })
}

fn cases(default: u32) -> ProptestConfig {
    ProptestConfig::with_cases(strategies::cases(default))
}

/// Sends `requests` on one stream of `signal`; each must be answered OK and arrive unchanged.
fn round_trip(signal: Signal, requests: Vec<Request>) -> Result<(), TestCaseError> {
    let peer = peer();
    let _alone = peer
        .sink_user
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    peer.sink.clear();
    let addr = peer.receiver.grpc_addr().expect("grpc");
    let end = peer.runtime.block_on(async {
        let mut encoder = StreamEncoder::new(signal);
        let mut stream = OtapStream::open(&peer.client, addr, method(signal), &[]);
        let mut statuses = Vec::new();
        for request in &requests {
            statuses.push(stream.exchange(&encoder.encode(request)).await);
        }
        (statuses, stream.finish().await)
    });
    let (statuses, end) = end;
    for status in &statuses {
        prop_assert_eq!(status.code(), Some(StatusCode::Ok), "{:?}", status);
    }
    prop_assert_eq!(end.code, Some(0), "{:?}", end);
    let got: Vec<_> = peer
        .sink
        .requests()
        .iter()
        .map(|r| r.request.encode(Encoding::Protobuf))
        .collect();
    let want: Vec<_> = requests
        .into_iter()
        .map(|r| normalize(r).encode(Encoding::Protobuf))
        .collect();
    prop_assert_eq!(got, want);
    Ok(())
}

/// Sends `raw` on a stream of traces, then checks the stream ended with a status (not broken)
/// and that a new stream on the same connection is served.
fn survives(raw: Vec<Bytes>) -> Result<(), TestCaseError> {
    let peer = peer();
    let _alone = peer
        .sink_user
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let addr = peer.receiver.grpc_addr().expect("grpc");
    let (end, after) = peer.runtime.block_on(async {
        let mut stream = OtapStream::open(&peer.client, addr, method(Signal::Traces), &[]);
        for bytes in raw {
            if !stream.send_raw(bytes).await {
                break;
            }
        }
        let end = stream.finish().await;
        let mut next = OtapStream::open(&peer.client, addr, method(Signal::Traces), &[]);
        let batch = StreamEncoder::new(Signal::Traces).encode(&Request::Traces(Default::default()));
        let after = next.exchange(&batch).await;
        next.finish().await;
        (end, after)
    });
    prop_assert!(end.code.is_some(), "the stream broke: {:?}", end);
    prop_assert_eq!(after.code(), Some(StatusCode::Ok));
    Ok(())
}

/// Two batches of the sample on one stream, the second's payloads damaged by `cut`/`flip`.
fn damaged(which: usize, cut: usize, flip: Option<(usize, u8)>) -> Vec<Bytes> {
    let mut encoder = StreamEncoder::new(Signal::Traces);
    let request = otlp_proto::sample::request(Signal::Traces);
    let first = encoder.encode(&request);
    let mut second = encoder.encode(&request);
    let n = second.arrow_payloads.len();
    let payload = &mut second.arrow_payloads[which % n];
    let mut record = payload.record.to_vec();
    record.truncate(record.len() - cut % record.len().max(1));
    if let Some((at, xor)) = flip
        && !record.is_empty()
    {
        let at = at % record.len();
        record[at] ^= xor;
    }
    payload.record = record.into();
    vec![frame(&first), frame(&second)]
}

proptest! {
    #![proptest_config(cases(24))]

    #[test]
    fn generated_traces_arrive_unchanged(
        requests in proptest::collection::vec(strategies::collector::trace_request(), 1..4),
    ) {
        round_trip(Signal::Traces, requests.into_iter().map(Request::Traces).collect())?;
    }

    #[test]
    fn generated_logs_arrive_unchanged(
        requests in proptest::collection::vec(strategies::collector::logs_request(), 1..4),
    ) {
        round_trip(Signal::Logs, requests.into_iter().map(Request::Logs).collect())?;
    }

    #[test]
    fn generated_metrics_arrive_unchanged(
        requests in proptest::collection::vec(strategies::collector::metrics_request(), 1..4),
    ) {
        round_trip(Signal::Metrics, requests.into_iter().map(Request::Metrics).collect())?;
    }

    #[test]
    fn random_messages_end_their_stream_with_a_status(
        messages in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..256), 1..3),
        framed in any::<bool>(),
    ) {
        let raw = messages
            .into_iter()
            .map(|m| if framed { Bytes::from(otlp_proto::grpc::frame(false, &m)) } else { Bytes::from(m) })
            .collect();
        survives(raw)?;
    }

    #[test]
    fn damaged_batches_end_their_stream_with_a_status(
        which in any::<usize>(),
        cut in any::<usize>(),
        flip in proptest::option::of((any::<usize>(), 1..=255u8)),
    ) {
        survives(damaged(which, cut, flip))?;
    }
}
