//! Metrics: encoder -> decoder round trips of the sample, of a request with every metric
//! type (points with attributes and exemplars), and of generated requests, on one stream;
//! equality after [`normalize_metrics`], as protobuf bytes (so NaN doubles compare by bits).

use otlp_otap::{
    ArrowPayloadType, BatchArrowRecords, METRICS_PAYLOADS, MetricsDecoder, MetricsEncoder,
    decode_metrics, encode_metrics, normalize_metrics,
};
use otlp_proto::Message;
use otlp_proto::collector::ExportMetricsServiceRequest;
use proptest::prelude::*;

mod metrics_support;

#[path = "../../otlp-proto/tests/support/strategies/mod.rs"]
#[allow(clippy::all, missing_docs, unused)]
mod strategies;

fn assert_round_trip(sent: &ExportMetricsServiceRequest, got: &ExportMetricsServiceRequest) {
    let want = normalize_metrics(sent.clone());
    assert_eq!(
        got.encode_to_bytes(),
        want.encode_to_bytes(),
        "\n got: {got:#?}\nwant: {want:#?}"
    );
}

fn kinds(batch: &BatchArrowRecords) -> Vec<ArrowPayloadType> {
    batch
        .arrow_payloads
        .iter()
        .map(|p| p.payload_type().expect("known type"))
        .collect()
}

#[test]
fn the_sample_round_trips_with_the_root_payload_first() {
    let request = otlp_proto::sample::metrics();
    let batch = encode_metrics(&request).expect("encodes");
    assert_eq!(kinds(&batch)[0], ArrowPayloadType::UnivariateMetrics);
    let wire = BatchArrowRecords::decode(&batch.encode_to_bytes()).expect("protobuf");
    let back = decode_metrics(&wire).expect("decodes");
    assert_round_trip(&request, &back);
    assert_eq!(
        normalize_metrics(back.clone()),
        back,
        "the output is normalized"
    );
}

#[test]
fn every_metric_type_round_trips_with_attributes_and_exemplars() {
    let request = metrics_support::every_kind();
    let batch = encode_metrics(&request).expect("encodes");
    // Every table is there (the request fills them all), each once, in the listed order.
    assert_eq!(kinds(&batch), METRICS_PAYLOADS);
    let ids: std::collections::HashSet<_> =
        batch.arrow_payloads.iter().map(|p| &p.schema_id).collect();
    assert_eq!(ids.len(), METRICS_PAYLOADS.len(), "schema ids unique");
    assert_round_trip(&request, &decode_metrics(&batch).expect("decodes"));
}

#[test]
fn metadata_is_not_sent_and_empty_scopes_are_left_out() {
    let mut request = metrics_support::every_kind();
    let rm = &mut request.resource_metrics[0];
    rm.scope_metrics[0].metrics[0].metadata = vec![otlp_proto::common::KeyValue::new("m", 1i64)];
    rm.scope_metrics.push(Default::default());
    let back = decode_metrics(&encode_metrics(&request).expect("encodes")).expect("decodes");
    assert!(
        back.resource_metrics[0].scope_metrics[0].metrics[0]
            .metadata
            .is_empty()
    );
    assert_round_trip(&request, &back);
}

#[test]
fn later_batches_are_smaller_and_decode_in_order() {
    let request = metrics_support::every_kind();
    let mut encoder = MetricsEncoder::new();
    let mut decoder = MetricsDecoder::new();
    let batches: Vec<_> = (0..3)
        .map(|_| encoder.encode(&request).expect("encodes"))
        .collect();
    let size = |b: &BatchArrowRecords| b.encode_to_bytes().len();
    assert!(size(&batches[1]) < size(&batches[0]));
    for b in &batches {
        assert_round_trip(&request, &decoder.decode(b).expect("decodes"));
    }
    // A later batch alone lacks its schemas.
    assert!(MetricsDecoder::new().decode(&batches[2]).is_err());
}

#[test]
fn an_empty_request_is_an_empty_root_payload() {
    let empty = ExportMetricsServiceRequest::default();
    let batch = encode_metrics(&empty).expect("encodes");
    assert_eq!(kinds(&batch), [ArrowPayloadType::UnivariateMetrics]);
    assert_eq!(decode_metrics(&batch).expect("decodes"), empty);
}

#[test]
fn other_signals_batches_are_not_metrics_batches() {
    let traces = otlp_otap::encode_traces(&otlp_proto::sample::traces()).expect("encodes");
    assert!(decode_metrics(&traces).is_err());
    let metrics = encode_metrics(&otlp_proto::sample::metrics()).expect("encodes");
    assert!(otlp_otap::decode_logs(&metrics).is_err());
}

fn cases() -> ProptestConfig {
    ProptestConfig::with_cases(strategies::cases(64))
}

proptest! {
    #![proptest_config(cases())]

    #[test]
    fn generated_metrics_round_trip_on_one_stream(
        requests in proptest::collection::vec(strategies::collector::metrics_request(), 1..4),
    ) {
        let mut encoder = MetricsEncoder::new();
        let mut decoder = MetricsDecoder::new();
        for request in &requests {
            let batch = encoder.encode(request).expect("encodes");
            let wire = BatchArrowRecords::decode(&batch.encode_to_bytes()).expect("protobuf");
            let back = decoder.decode(&wire).expect("decodes");
            let want = normalize_metrics(request.clone());
            prop_assert_eq!(back.encode_to_bytes(), want.encode_to_bytes());
        }
    }
}
