//! Logs: encoder -> decoder round trips of the sample and of generated requests, on one
//! stream; equality after [`normalize_logs`], as protobuf bytes.

use otlp_otap::{
    ArrowPayloadType, BatchArrowRecords, LogsDecoder, LogsEncoder, decode_logs, encode_logs,
    normalize_logs,
};
use otlp_proto::Message;
use otlp_proto::collector::ExportLogsServiceRequest;
use proptest::prelude::*;

#[path = "../../otlp-proto/tests/support/strategies/mod.rs"]
#[allow(clippy::all, missing_docs, unused)]
mod strategies;

fn assert_round_trip(sent: &ExportLogsServiceRequest, got: &ExportLogsServiceRequest) {
    let want = normalize_logs(sent.clone());
    assert_eq!(
        got.encode_to_bytes(),
        want.encode_to_bytes(),
        "\n got: {got:#?}\nwant: {want:#?}"
    );
}

#[test]
fn the_sample_round_trips_with_the_root_payload_first() {
    let request = otlp_proto::sample::logs();
    let batch = encode_logs(&request).expect("encodes");
    assert_eq!(
        batch.arrow_payloads[0].payload_type(),
        Some(ArrowPayloadType::Logs)
    );
    let wire = BatchArrowRecords::decode(&batch.encode_to_bytes()).expect("protobuf");
    assert_round_trip(&request, &decode_logs(&wire).expect("decodes"));
}

#[test]
fn later_batches_are_smaller_and_decode_in_order() {
    let request = otlp_proto::sample::logs();
    let mut encoder = LogsEncoder::new();
    let mut decoder = LogsDecoder::new();
    let first = encoder.encode(&request).expect("encodes");
    let second = encoder.encode(&request).expect("encodes");
    assert!(second.encode_to_bytes().len() < first.encode_to_bytes().len());
    assert_round_trip(&request, &decoder.decode(&first).expect("decodes"));
    assert_round_trip(&request, &decoder.decode(&second).expect("decodes"));
}

#[test]
fn a_traces_batch_is_not_a_logs_batch() {
    let traces = otlp_otap::encode_traces(&otlp_proto::sample::traces()).expect("encodes");
    assert!(decode_logs(&traces).is_err());
}

fn cases() -> ProptestConfig {
    ProptestConfig::with_cases(strategies::cases(64))
}

proptest! {
    #![proptest_config(cases())]

    #[test]
    fn generated_logs_round_trip_on_one_stream(
        requests in proptest::collection::vec(strategies::collector::logs_request(), 1..4),
    ) {
        let mut encoder = LogsEncoder::new();
        let mut decoder = LogsDecoder::new();
        for request in &requests {
            let batch = encoder.encode(request).expect("encodes");
            let back = decoder.decode(&batch).expect("decodes");
            let want = normalize_logs(request.clone());
            prop_assert_eq!(back.encode_to_bytes(), want.encode_to_bytes());
        }
    }
}
