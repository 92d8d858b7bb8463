//! The independent check: the otel-arrow project's own Rust codec (`otel-arrow-dfe-pdata`)
//! decodes what our encoder writes to the same traces, and our decoder reads what it encodes.
//!
//! Both sides are compared after [`normalize_traces`], as protobuf bytes.

use otel_arrow_dfe_pdata::{Consumer, Producer};
use otlp_otap::{
    BatchArrowRecords, LogsDecoder, LogsEncoder, TracesDecoder, TracesEncoder, normalize_logs,
    normalize_traces,
};
use otlp_proto::collector::{ExportLogsServiceRequest, ExportTraceServiceRequest};
use otlp_proto::{Message, Request, Signal};
use proptest::prelude::*;

mod peer;
#[path = "../../otlp-otap/tests/support/mod.rs"]
mod support;

#[path = "../../otlp-proto/tests/support/strategies/mod.rs"]
#[allow(clippy::all, missing_docs, unused)]
mod strategies;

/// `request` without what otel-arrow-dfe-pdata 0.62 loses decoding any OTAP batch: it writes a
/// link's `dropped_attributes_count` under the span's field number (10, not 5), which OTLP
/// decoders skip, so every link comes back with 0.
fn without_pdata_gaps(mut request: ExportTraceServiceRequest) -> ExportTraceServiceRequest {
    for span in request
        .resource_spans
        .iter_mut()
        .flat_map(|rs| &mut rs.scope_spans)
        .flat_map(|ss| &mut ss.spans)
    {
        span.links
            .iter_mut()
            .for_each(|l| l.dropped_attributes_count = 0);
    }
    request
}

/// `request` as otel-arrow's encoder passes it on (attribute doubles of -0.0 as 0.0), with
/// spans, and each span's events and links, in a fixed order: otel-arrow's
/// encoder sorts its spans, event and link tables (by name, trace id, ...), and a decoder gives
/// rows in table order.
fn children_sorted(request: ExportTraceServiceRequest) -> ExportTraceServiceRequest {
    let mut request = normalize_traces(request);
    for rs in &mut request.resource_spans {
        rs.resource
            .iter_mut()
            .for_each(|r| unsigned_zeros(&mut r.attributes));
    }
    for ss in request
        .resource_spans
        .iter_mut()
        .flat_map(|rs| &mut rs.scope_spans)
    {
        ss.scope
            .iter_mut()
            .for_each(|s| unsigned_zeros(&mut s.attributes));
        for span in &mut ss.spans {
            unsigned_zeros(&mut span.attributes);
            span.events
                .iter_mut()
                .for_each(|e| unsigned_zeros(&mut e.attributes));
            span.links
                .iter_mut()
                .for_each(|l| unsigned_zeros(&mut l.attributes));
            span.events.sort_by_cached_key(|e| e.encode_to_bytes());
            span.links.sort_by_cached_key(|l| l.encode_to_bytes());
        }
        ss.spans.sort_by_cached_key(|s| s.encode_to_bytes());
    }
    request
}

/// Attribute doubles without NaN (as 1.0) or -0.0 (as 0.0). For the quasi-delta encoding of
/// attribute parent ids, the Go decoder (which we follow) compares doubles with IEEE `==` and
/// otel-arrow's Rust decoder by their bits, so the two read repeated NaN or signed-zero values
/// differently; and otel-arrow's encoder writes a double equal to zero as a null (read back
/// as 0.0).
fn unsigned_zeros(attributes: &mut [otlp_proto::common::KeyValue]) {
    use otlp_proto::common::Value;
    for kv in attributes {
        if let Some(Value::DoubleValue(d)) = kv.value.as_mut().and_then(|v| v.value.as_mut()) {
            if d.is_nan() {
                *d = 1.0;
            } else if *d == 0.0 {
                *d = 0.0;
            }
        }
    }
}

/// [`unsigned_zeros`] on every attribute of a traces request.
fn comparable_traces(mut request: ExportTraceServiceRequest) -> ExportTraceServiceRequest {
    for rs in &mut request.resource_spans {
        rs.resource
            .iter_mut()
            .for_each(|r| unsigned_zeros(&mut r.attributes));
        for ss in &mut rs.scope_spans {
            ss.scope
                .iter_mut()
                .for_each(|s| unsigned_zeros(&mut s.attributes));
            for span in &mut ss.spans {
                unsigned_zeros(&mut span.attributes);
                span.events
                    .iter_mut()
                    .for_each(|e| unsigned_zeros(&mut e.attributes));
                span.links
                    .iter_mut()
                    .for_each(|l| unsigned_zeros(&mut l.attributes));
            }
        }
    }
    request
}

/// [`unsigned_zeros`] on every attribute of a logs request.
fn comparable_logs(mut request: ExportLogsServiceRequest) -> ExportLogsServiceRequest {
    for rl in &mut request.resource_logs {
        rl.resource
            .iter_mut()
            .for_each(|r| unsigned_zeros(&mut r.attributes));
        for sl in &mut rl.scope_logs {
            sl.scope
                .iter_mut()
                .for_each(|s| unsigned_zeros(&mut s.attributes));
            sl.log_records
                .iter_mut()
                .for_each(|r| unsigned_zeros(&mut r.attributes));
        }
    }
    request
}

/// Our batch, decoded by otel-arrow's consumer, as OTLP.
fn theirs_decode(
    consumer: &mut Consumer,
    batch: &BatchArrowRecords,
) -> Result<ExportTraceServiceRequest, String> {
    match peer::decode(consumer, batch, Signal::Traces)? {
        Request::Traces(r) => Ok(r),
        other => Err(format!("not traces: {other:?}")),
    }
}

/// `request` encoded by otel-arrow's producer, as our batch (see [`peer::encode`]).
fn theirs_encode(
    producer: &mut Producer,
    request: &ExportTraceServiceRequest,
) -> BatchArrowRecords {
    peer::encode(producer, &Request::Traces(request.clone()))
}

fn same(got: ExportTraceServiceRequest, sent: &ExportTraceServiceRequest) -> Result<(), String> {
    let (got, want) = (normalize_traces(got), normalize_traces(sent.clone()));
    if got.encode_to_bytes() == want.encode_to_bytes() {
        Ok(())
    } else {
        Err(format!("\n got: {got:#?}\nwant: {want:#?}"))
    }
}

#[test]
fn otel_arrow_decodes_our_stream_of_the_sample() {
    for request in [otlp_proto::sample::traces(), support::repetitive()] {
        otel_arrow_decodes_our_stream_of(request);
    }
}

fn otel_arrow_decodes_our_stream_of(request: ExportTraceServiceRequest) {
    let mut encoder = TracesEncoder::new();
    let mut consumer = Consumer::default();
    for _ in 0..3 {
        let batch = encoder.encode(&request).expect("encodes");
        let got = theirs_decode(&mut consumer, &batch).expect("otel-arrow decodes ours");
        same(got, &without_pdata_gaps(request.clone())).expect("the same traces");
    }
}

#[test]
fn we_decode_otel_arrows_stream_of_the_sample() {
    for request in [otlp_proto::sample::traces(), support::repetitive()] {
        we_decode_otel_arrows_stream_of(request);
    }
}

fn we_decode_otel_arrows_stream_of(request: ExportTraceServiceRequest) {
    let mut producer = Producer::new();
    let mut decoder = TracesDecoder::new();
    for _ in 0..3 {
        let batch = theirs_encode(&mut producer, &request);
        let got = decoder.decode(&batch).expect("we decode theirs");
        same(children_sorted(got), &children_sorted(request.clone())).expect("the same traces");
    }
}

/// `request` with values otel-arrow's codec passes on: it computes the end time as
/// `start + duration` in `i64` and panics on overflow (in debug builds), and writes no end
/// time for a span starting at 0, so generated times are folded into `1..2^62` with the end
/// after the start; it drops a span kind or status code outside the defined ones, so those are
/// folded into range too. Our codec keeps all of these (`round_trip.rs` covers the extremes).
fn realistic(mut request: ExportTraceServiceRequest) -> ExportTraceServiceRequest {
    const RANGE: u64 = 1 << 62;
    for span in request
        .resource_spans
        .iter_mut()
        .flat_map(|rs| &mut rs.scope_spans)
        .flat_map(|ss| &mut ss.spans)
    {
        let start = 1 + span.start_time_unix_nano % RANGE;
        let duration = span
            .end_time_unix_nano
            .wrapping_sub(span.start_time_unix_nano)
            % RANGE;
        span.start_time_unix_nano = start;
        span.end_time_unix_nano = start + duration;
        span.kind = span.kind.rem_euclid(6);
        if let Some(status) = &mut span.status {
            status.code = status.code.rem_euclid(3);
        }
    }
    request
}

fn cases() -> ProptestConfig {
    ProptestConfig::with_cases(strategies::cases(48))
}

proptest! {
    #![proptest_config(cases())]

    #[test]
    fn generated_traces_cross_both_ways(
        requests in proptest::collection::vec(
            prop_oneof![
                strategies::collector::trace_request().prop_map(realistic),
                support::pooled_request(),
            ]
            .prop_map(comparable_traces),
            1..3,
        ),
    ) {
        let (mut encoder, mut consumer) = (TracesEncoder::new(), Consumer::default());
        let (mut producer, mut decoder) = (Producer::new(), TracesDecoder::new());
        for request in &requests {
            let ours = encoder.encode(request).expect("encodes");
            let got = theirs_decode(&mut consumer, &ours);
            prop_assert!(got.is_ok(), "otel-arrow refuses ours: {:?}", got.err());
            let r = same(got.expect("checked"), &without_pdata_gaps(request.clone()));
            prop_assert!(r.is_ok(), "otel-arrow decodes ours differently: {}", r.err().unwrap_or_default());

            let theirs = theirs_encode(&mut producer, request);
            let got = decoder.decode(&theirs);
            prop_assert!(got.is_ok(), "we refuse otel-arrow's: {:?}", got.err());
            let r = same(children_sorted(got.expect("checked")), &children_sorted(request.clone()));
            prop_assert!(r.is_ok(), "we decode otel-arrow's differently: {}", r.err().unwrap_or_default());
        }
    }
}

/// Our logs batch, decoded by otel-arrow's consumer, as OTLP.
fn theirs_decode_logs(
    consumer: &mut Consumer,
    batch: &BatchArrowRecords,
) -> Result<ExportLogsServiceRequest, String> {
    match peer::decode(consumer, batch, Signal::Logs)? {
        Request::Logs(r) => Ok(r),
        other => Err(format!("not logs: {other:?}")),
    }
}

/// `request` encoded by otel-arrow's producer, as our batch (see [`peer::encode`]).
fn theirs_encode_logs(
    producer: &mut Producer,
    request: &ExportLogsServiceRequest,
) -> BatchArrowRecords {
    peer::encode(producer, &Request::Logs(request.clone()))
}

fn same_logs(got: ExportLogsServiceRequest, sent: &ExportLogsServiceRequest) -> Result<(), String> {
    let (got, want) = (normalize_logs(got), normalize_logs(sent.clone()));
    if got.encode_to_bytes() == want.encode_to_bytes() {
        Ok(())
    } else {
        Err(format!("\n got: {got:#?}\nwant: {want:#?}"))
    }
}

/// Log records as otel-arrow's encoder passes them on: sorted within each scope (it sorts its
/// LOGS table), all-zero trace and span ids empty (it writes them as nulls), attribute
/// doubles and a body double of -0.0 as 0.0 (its own decoder reads such a body back as 0.0).
fn records_sorted(request: ExportLogsServiceRequest) -> ExportLogsServiceRequest {
    let mut request = normalize_logs(request);
    for rl in &mut request.resource_logs {
        rl.resource
            .iter_mut()
            .for_each(|r| unsigned_zeros(&mut r.attributes));
    }
    for sl in request
        .resource_logs
        .iter_mut()
        .flat_map(|rl| &mut rl.scope_logs)
    {
        sl.scope
            .iter_mut()
            .for_each(|s| unsigned_zeros(&mut s.attributes));
        for r in &mut sl.log_records {
            unsigned_zeros(&mut r.attributes);
            if let Some(otlp_proto::common::Value::DoubleValue(d)) =
                r.body.as_mut().and_then(|b| b.value.as_mut())
                && *d == 0.0
            {
                *d = 0.0;
            }
            for id in [&mut r.trace_id, &mut r.span_id] {
                if id.iter().all(|&b| b == 0) {
                    *id = Default::default();
                }
            }
        }
        sl.log_records.sort_by_cached_key(|r| r.encode_to_bytes());
    }
    request
}

#[test]
fn logs_cross_both_ways() {
    let request = otlp_proto::sample::logs();
    let (mut encoder, mut consumer) = (LogsEncoder::new(), Consumer::default());
    let (mut producer, mut decoder) = (Producer::new(), LogsDecoder::new());
    for _ in 0..3 {
        let got = theirs_decode_logs(&mut consumer, &encoder.encode(&request).expect("encodes"))
            .expect("otel-arrow decodes ours");
        same_logs(got, &request).expect("the same logs");
        let got = decoder
            .decode(&theirs_encode_logs(&mut producer, &request))
            .expect("we decode theirs");
        same_logs(records_sorted(got), &records_sorted(request.clone())).expect("the same logs");
    }
}

proptest! {
    #![proptest_config(cases())]

    #[test]
    fn generated_logs_cross_both_ways(
        requests in proptest::collection::vec(
            strategies::collector::logs_request().prop_map(comparable_logs),
            1..3,
        ),
    ) {
        let (mut encoder, mut consumer) = (LogsEncoder::new(), Consumer::default());
        let (mut producer, mut decoder) = (Producer::new(), LogsDecoder::new());
        for request in &requests {
            let got = theirs_decode_logs(&mut consumer, &encoder.encode(request).expect("encodes"));
            prop_assert!(got.is_ok(), "otel-arrow refuses ours: {:?}", got.err());
            let r = same_logs(got.expect("checked"), request);
            prop_assert!(r.is_ok(), "otel-arrow decodes ours differently: {}", r.err().unwrap_or_default());

            let got = decoder.decode(&theirs_encode_logs(&mut producer, request));
            prop_assert!(got.is_ok(), "we refuse otel-arrow's: {:?}", got.err());
            let r = same_logs(records_sorted(got.expect("checked")), &records_sorted(request.clone()));
            prop_assert!(r.is_ok(), "we decode otel-arrow's differently: {}", r.err().unwrap_or_default());
        }
    }
}
