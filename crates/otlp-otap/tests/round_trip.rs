//! Encoder -> decoder round trips: the sample requests, requests from otlp-proto's proptest
//! strategies, several batches on one stream, stream resets, and the limits.
//!
//! Equality is after [`normalize_traces`] (what OTAP does not carry, see the crate docs), and
//! compares protobuf bytes, so that NaN doubles compare by their bits.

use otlp_otap::{
    ArrowPayloadType, BatchArrowRecords, Error, TracesDecoder, TracesEncoder, decode_traces,
    encode_traces, normalize_traces,
};
use otlp_proto::Message;
use otlp_proto::collector::ExportTraceServiceRequest;
use proptest::prelude::*;

mod support;

#[path = "../../otlp-proto/tests/support/strategies/mod.rs"]
#[allow(clippy::all, missing_docs, unused)]
mod strategies;

fn assert_round_trip(sent: &ExportTraceServiceRequest, got: &ExportTraceServiceRequest) {
    let want = normalize_traces(sent.clone());
    assert_eq!(
        got.encode_to_bytes(),
        want.encode_to_bytes(),
        "\n got: {got:#?}\nwant: {want:#?}"
    );
}

fn size(batch: &BatchArrowRecords) -> usize {
    batch.encode_to_bytes().len()
}

#[test]
fn the_sample_round_trips_and_the_root_payload_comes_first() {
    let request = otlp_proto::sample::traces();
    let batch = encode_traces(&request).expect("encodes");
    assert_eq!(
        batch.arrow_payloads[0].payload_type(),
        Some(ArrowPayloadType::Spans)
    );
    let ids: std::collections::HashSet<_> = batch
        .arrow_payloads
        .iter()
        .map(|p| p.schema_id.clone())
        .collect();
    assert_eq!(
        ids.len(),
        batch.arrow_payloads.len(),
        "schema ids unique across payload types"
    );
    // Through the wire message too.
    let wire = BatchArrowRecords::decode(&batch.encode_to_bytes()).expect("protobuf");
    let back = decode_traces(&wire).expect("decodes");
    assert_round_trip(&request, &back);
    assert_eq!(
        normalize_traces(back.clone()),
        back,
        "the decoder's output is normalized"
    );
}

#[test]
fn repeated_rows_round_trip_through_the_delta_encodings() {
    let request = support::repetitive();
    let mut encoder = TracesEncoder::new();
    let mut decoder = TracesDecoder::new();
    for _ in 0..2 {
        let batch = encoder.encode(&request).expect("encodes");
        assert_round_trip(&request, &decoder.decode(&batch).expect("decodes"));
    }
}

#[test]
fn later_batches_of_a_stream_are_smaller_and_decode_in_order() {
    let request = otlp_proto::sample::traces();
    let mut encoder = TracesEncoder::new();
    let mut decoder = TracesDecoder::new();
    let batches: Vec<_> = (0..4)
        .map(|_| encoder.encode(&request).expect("encodes"))
        .collect();
    assert_eq!(
        batches.iter().map(|b| b.batch_id).collect::<Vec<_>>(),
        [0, 1, 2, 3]
    );
    assert!(
        size(&batches[1]) < size(&batches[0]) * 3 / 4,
        "{} vs {}",
        size(&batches[1]),
        size(&batches[0])
    );
    for b in &batches {
        assert_round_trip(&request, &decoder.decode(b).expect("decodes"));
    }
    assert!(decoder.held_bytes() > 0 && encoder.held_bytes() > 0);
    // A later batch alone lacks its schemas: a fresh decoder cannot read it.
    assert!(TracesDecoder::new().decode(&batches[2]).is_err());
}

#[test]
fn a_reset_encoder_resends_schemas_under_new_ids() {
    let request = otlp_proto::sample::traces();
    let mut encoder = TracesEncoder::new();
    let first = encoder.encode(&request).expect("encodes");
    encoder.reset();
    let again = encoder.encode(&request).expect("encodes");
    assert!(first.arrow_payloads.iter().all(|p| {
        !again
            .arrow_payloads
            .iter()
            .any(|q| q.schema_id == p.schema_id)
    }));
    assert_round_trip(
        &request,
        &TracesDecoder::new()
            .decode(&again)
            .expect("a fresh decoder reads it"),
    );
    // An old decoder switches streams too: a new schema id for a type replaces its stream.
    let mut decoder = TracesDecoder::new();
    decoder.decode(&first).expect("decodes");
    assert_round_trip(&request, &decoder.decode(&again).expect("decodes"));
}

#[test]
fn an_empty_request_is_an_empty_root_payload() {
    let empty = ExportTraceServiceRequest::default();
    let batch = encode_traces(&empty).expect("encodes");
    assert_eq!(batch.arrow_payloads.len(), 1);
    assert_eq!(decode_traces(&batch).expect("decodes"), empty);
}

#[test]
fn full_dictionaries_start_the_stream_over_and_huge_ones_go_plain() {
    let mut request = otlp_proto::sample::traces();
    let mut encoder = TracesEncoder::new().with_max_dictionary_bytes(64);
    let mut decoder = TracesDecoder::new();
    for round in 0..3 {
        let mut r = request.clone();
        for rs in &mut r.resource_spans {
            for ss in &mut rs.scope_spans {
                for (i, s) in ss.spans.iter_mut().enumerate() {
                    s.name = format!("{round}-{i}-a-rather-long-span-name").into();
                }
            }
        }
        let batch = encoder.encode(&r).expect("encodes");
        assert_round_trip(&r, &decoder.decode(&batch).expect("decodes"));
        request = r;
    }
    assert!(encoder.held_bytes() <= 64 * 8);
}

#[test]
fn decoder_limits_are_errors_that_say_so() {
    let batch = encode_traces(&otlp_proto::sample::traces()).expect("encodes");
    let err = TracesDecoder::new()
        .with_max_state_bytes(16)
        .decode(&batch)
        .expect_err("over");
    assert!(matches!(err, Error::StateLimit { .. }), "{err}");
    assert!(err.to_string().contains("limit"), "{err}");
    let err = TracesDecoder::new()
        .with_max_streams(1)
        .decode(&batch)
        .expect_err("over");
    assert!(matches!(err, Error::StateLimit { limit: 1, .. }), "{err}");
}

#[test]
fn batches_that_are_not_traces_batches_are_refused() {
    let batch = encode_traces(&otlp_proto::sample::traces()).expect("encodes");
    let mut no_root = batch.clone();
    no_root.arrow_payloads.remove(0);
    assert!(decode_traces(&no_root).is_err());
    let mut twice = batch.clone();
    let dup = twice.arrow_payloads[0].clone();
    twice.arrow_payloads.push(dup);
    assert!(decode_traces(&twice).is_err());
    let mut foreign = batch.clone();
    foreign.arrow_payloads[1].r#type = ArrowPayloadType::Logs as i32;
    assert!(decode_traces(&foreign).is_err());
    assert_eq!(
        decode_traces(&BatchArrowRecords::default()).expect("no payloads: an empty request"),
        ExportTraceServiceRequest::default()
    );
}

fn cases() -> ProptestConfig {
    ProptestConfig::with_cases(strategies::cases(64))
}

proptest! {
    #![proptest_config(cases())]

    #[test]
    fn generated_traces_round_trip_on_one_stream(
        requests in proptest::collection::vec(strategies::collector::trace_request(), 1..4),
    ) {
        let mut encoder = TracesEncoder::new();
        let mut decoder = TracesDecoder::new();
        for request in &requests {
            let batch = encoder.encode(request).expect("encodes");
            let wire = BatchArrowRecords::decode(&batch.encode_to_bytes()).expect("protobuf");
            let back = decoder.decode(&wire).expect("decodes");
            let want = normalize_traces(request.clone());
            prop_assert_eq!(back.encode_to_bytes(), want.encode_to_bytes());
        }
    }

    #[test]
    fn pooled_traces_round_trip_on_one_stream(
        requests in proptest::collection::vec(support::pooled_request(), 1..4),
    ) {
        let mut encoder = TracesEncoder::new();
        let mut decoder = TracesDecoder::new();
        for request in &requests {
            let back = decoder.decode(&encoder.encode(request).expect("encodes")).expect("decodes");
            let want = normalize_traces(request.clone());
            prop_assert_eq!(back.encode_to_bytes(), want.encode_to_bytes());
        }
    }
}

/// The grouping's strings repeat on every row of a root table: they are dictionary columns (a
/// plain column pays an offset per row, which compresses poorly).
#[test]
fn grouping_strings_are_dictionary_columns() {
    use arrow_schema::DataType;
    let batch = encode_traces(&otlp_proto::sample::traces()).expect("encodes");
    let record = std::io::Cursor::new(batch.arrow_payloads[0].record.to_vec());
    let reader = arrow_ipc::reader::StreamReader::try_new(record, None).expect("an IPC stream");
    let schema = reader.schema();
    for (parent, child) in [
        ("resource", "schema_url"),
        ("scope", "name"),
        ("scope", "version"),
    ] {
        let field = schema.field_with_name(parent).expect("a grouping column");
        let DataType::Struct(fields) = field.data_type() else {
            unreachable!("{parent} is a struct: {field:?}")
        };
        let (_, f) = fields.find(child).expect("a grouping child");
        assert!(
            matches!(f.data_type(), DataType::Dictionary(..)),
            "{parent}.{child}: {:?}",
            f.data_type()
        );
    }
}

/// The column names of a stream's first payload.
fn columns(payload: &otlp_otap::ArrowPayload) -> Vec<String> {
    let record = std::io::Cursor::new(payload.record.to_vec());
    let reader = arrow_ipc::reader::StreamReader::try_new(record, None).expect("an IPC stream");
    let schema = reader.schema();
    schema.fields().iter().map(|f| f.name().clone()).collect()
}

/// Columns with nothing to say (here: no span has a status, a trace state, flags or dropped
/// counts) are left out; when a later batch has values for one, the table's stream starts
/// over with a schema that has it, and keeps it for the batches after.
#[test]
fn empty_columns_are_left_out_until_they_have_values() {
    let plain = |mut r: ExportTraceServiceRequest| {
        for span in r
            .resource_spans
            .iter_mut()
            .flat_map(|rs| &mut rs.scope_spans)
            .flat_map(|ss| &mut ss.spans)
        {
            span.status = None;
            span.trace_state = Default::default();
            span.flags = 0;
            span.dropped_attributes_count = 0;
            span.dropped_events_count = 0;
            span.dropped_links_count = 0;
        }
        r
    };
    let quiet = plain(otlp_proto::sample::traces());
    let mut loud = quiet.clone();
    let span = &mut loud.resource_spans[0].scope_spans[0].spans[0];
    span.trace_state = "vendor=1".into();
    span.dropped_links_count = 2;

    let (mut encoder, mut decoder) = (TracesEncoder::new(), TracesDecoder::new());
    let first = encoder.encode(&quiet).expect("encodes");
    let cols = columns(&first.arrow_payloads[0]);
    for gone in ["status", "trace_state", "flags", "dropped_links_count"] {
        assert!(!cols.iter().any(|c| c == gone), "{gone} left out: {cols:?}");
    }
    assert!(cols.iter().any(|c| c == "span_id"), "{cols:?}");
    assert_round_trip(&quiet, &decoder.decode(&first).expect("decodes"));

    let second = encoder.encode(&loud).expect("encodes");
    let spans = &second.arrow_payloads[0];
    assert_ne!(
        spans.schema_id, first.arrow_payloads[0].schema_id,
        "a new stream"
    );
    let cols = columns(spans);
    for now in ["trace_state", "dropped_links_count"] {
        assert!(cols.iter().any(|c| c == now), "{now} sent: {cols:?}");
    }
    assert_round_trip(&loud, &decoder.decode(&second).expect("decodes"));

    // The quiet request again: the stream goes on, its columns kept.
    let third = encoder.encode(&quiet).expect("encodes");
    assert_eq!(third.arrow_payloads[0].schema_id, spans.schema_id);
    assert_round_trip(&quiet, &decoder.decode(&third).expect("decodes"));
}
