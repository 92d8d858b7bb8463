//! Property tests of both codecs at scale, from structured generators of every message type
//! (`support::strategies`):
//!
//! - **round trips** (here): for every message, `decode(encode(x)) == x` in protobuf and
//!   `from_json(to_json(x)) == x` in OTLP/JSON, both encodings canonical (re-encoding gives the
//!   same bytes) and the JSON valid for serde_json; cut short, both fail (but for protobuf cut
//!   where a top-level field ends); doubles keep their bits; both decoders refuse the same
//!   nesting; our OTLP/JSON rewritten in every other form a receiver must accept (proto names,
//!   integers as numbers or strings, upper-case hex, URL-safe base64, escapes, whitespace,
//!   unknown members) decodes to the same value;
//! - **prost** (here): for every message prost-generated types exist for (all but `google.rpc`),
//!   our bytes are prost's bytes for the same value, decode with prost to that value, and
//!   prost's bytes decode with ours to the original;
//! - **mutations** (`properties/mutations.rs`): valid requests of every signal, encoded and then
//!   damaged (bit flips, byte edits, truncation, insertions, duplicated slices, corrupted length
//!   prefixes; JSON tokens), decode as every request and response type in both encodings
//!   without a panic, each within [`check::DECODE_BOUND`], and whatever decodes survives
//!   re-encoding; decode limits change only whether a request fits; damaged and field-edited
//!   (well-formed but unusual) protobuf decodes as prost decodes it;
//! - **corpus** (`properties/corpus.rs`): every file of `tests/corpus/` decodes as every type
//!   with the outcome recorded in `tests/corpus/expected.txt` (see the README there), and as
//!   prost decodes it.
//!
//! Case counts are small by default (the file runs in about 20 s in a debug build on two cores);
//! `OTLP_PROPTEST_CASES=100000` runs every property with that many cases. Failures are persisted
//! by proptest next to the file that holds the property (`tests/properties.proptest-regressions`,
//! `tests/properties/mutations.proptest-regressions`) and replayed first on every run.

#![allow(clippy::unwrap_used)]

mod support;

use bytes::Bytes;
use otlp_proto::common::{AnyValue, Value};
use otlp_proto::metrics::HistogramDataPoint;
use otlp_proto::{Encoding, Message};
use proptest::prelude::*;
use prost::Message as _;
use support::check::{self, assert_same, decode_everything, json_round_trip, protobuf_round_trip};
use support::strategies::{self as s, collector::request};
use support::to_prost::ToProst;
use support::{json_variants, mutate};

fn config(default: u32) -> ProptestConfig {
    ProptestConfig {
        cases: s::cases(default),
        // Shrinking a nested request can take many steps; stop after a minute with what it has.
        max_shrink_time: 60_000,
        ..ProptestConfig::default()
    }
}

/// Both round trips, and cut short, both encodings fail.
fn round_trips<M: Message>(x: &M) {
    protobuf_round_trip(x);
    json_round_trip(x);
    check::truncations_fail(x);
}

/// Both round trips, and prost agrees on the bytes in both directions.
fn round_trips_and_prost<M>(x: &M)
where
    M: Message + ToProst,
    M::P: prost::Message + Default + PartialEq,
{
    round_trips(x);
    let ours = x.encode_to_bytes();
    let theirs_value = x.to_prost();
    let theirs = theirs_value.encode_to_vec();
    assert_eq!(ours[..], theirs[..], "our protobuf differs from prost's");
    let read_by_prost = M::P::decode(ours).expect("prost decodes our protobuf");
    if !check::holds_nan(x) {
        assert!(
            read_by_prost == theirs_value,
            "prost reads our bytes differently"
        );
    } else {
        assert_eq!(
            read_by_prost.encode_to_vec(),
            theirs,
            "prost reads our bytes differently"
        );
    }
    let read_by_us = M::decode(&Bytes::from(theirs)).expect("we decode prost's protobuf");
    assert_same(&read_by_us, x, "prost's protobuf read by us");
}

/// One round-trip property per message type: `name: Type = strategy => checks;`.
macro_rules! round_trip_properties {
    ($cases:expr; $( $name:ident : $ty:ty = $strategy:expr => $checks:ident; )*) => {
        proptest! {
            #![proptest_config(config($cases))]
            $(
                #[test]
                fn $name(x in $strategy) {
                    $checks::<$ty>(&x);
                }
            )*
        }
    };
}

mod round_trip {
    use super::*;
    use otlp_proto::{collector, common, logs, metrics, profiles, resource, rpc, trace};
    use s::{
        collector as sc, common as cm, logs as lg, metrics as mt, profiles as pf, trace as tr,
    };

    round_trip_properties! { 96;
        any_value: common::AnyValue = cm::any_value() => round_trips_and_prost;
        array_value: common::ArrayValue = cm::array_value() => round_trips_and_prost;
        key_value_list: common::KeyValueList = cm::key_value_list() => round_trips_and_prost;
        key_value: common::KeyValue = cm::key_value() => round_trips_and_prost;
        instrumentation_scope: common::InstrumentationScope =
            cm::instrumentation_scope() => round_trips_and_prost;
        entity_ref: common::EntityRef = cm::entity_ref() => round_trips_and_prost;
        resource: resource::Resource = cm::resource() => round_trips_and_prost;

        span: trace::Span = tr::span() => round_trips_and_prost;
        span_event: trace::Event = tr::event() => round_trips_and_prost;
        span_link: trace::Link = tr::link() => round_trips_and_prost;
        span_status: trace::Status = tr::status() => round_trips_and_prost;
        scope_spans: trace::ScopeSpans = tr::scope_spans() => round_trips_and_prost;
        resource_spans: trace::ResourceSpans = tr::resource_spans() => round_trips_and_prost;
        traces_data: trace::TracesData = tr::traces_data() => round_trips_and_prost;

        exemplar: metrics::Exemplar = mt::exemplar() => round_trips_and_prost;
        number_data_point: metrics::NumberDataPoint =
            mt::number_data_point() => round_trips_and_prost;
        histogram_data_point: metrics::HistogramDataPoint =
            mt::histogram_data_point() => round_trips_and_prost;
        buckets: metrics::Buckets = mt::buckets() => round_trips_and_prost;
        exponential_histogram_data_point: metrics::ExponentialHistogramDataPoint =
            mt::exponential_histogram_data_point() => round_trips_and_prost;
        value_at_quantile: metrics::ValueAtQuantile =
            mt::value_at_quantile() => round_trips_and_prost;
        summary_data_point: metrics::SummaryDataPoint =
            mt::summary_data_point() => round_trips_and_prost;
        gauge: metrics::Gauge = mt::gauge() => round_trips_and_prost;
        sum: metrics::Sum = mt::sum() => round_trips_and_prost;
        histogram: metrics::Histogram = mt::histogram() => round_trips_and_prost;
        exponential_histogram: metrics::ExponentialHistogram =
            mt::exponential_histogram() => round_trips_and_prost;
        summary: metrics::Summary = mt::summary() => round_trips_and_prost;
        metric: metrics::Metric = mt::metric() => round_trips_and_prost;
        scope_metrics: metrics::ScopeMetrics = mt::scope_metrics() => round_trips_and_prost;
        resource_metrics: metrics::ResourceMetrics =
            mt::resource_metrics() => round_trips_and_prost;
        metrics_data: metrics::MetricsData = mt::metrics_data() => round_trips_and_prost;

        log_record: logs::LogRecord = lg::log_record() => round_trips_and_prost;
        scope_logs: logs::ScopeLogs = lg::scope_logs() => round_trips_and_prost;
        resource_logs: logs::ResourceLogs = lg::resource_logs() => round_trips_and_prost;
        logs_data: logs::LogsData = lg::logs_data() => round_trips_and_prost;

        value_type: profiles::ValueType = pf::value_type() => round_trips_and_prost;
        sample: profiles::Sample = pf::sample() => round_trips_and_prost;
        mapping: profiles::Mapping = pf::mapping() => round_trips_and_prost;
        stack: profiles::Stack = pf::stack() => round_trips_and_prost;
        line: profiles::Line = pf::line() => round_trips_and_prost;
        location: profiles::Location = pf::location() => round_trips_and_prost;
        function: profiles::Function = pf::function() => round_trips_and_prost;
        profile_link: profiles::Link = pf::link() => round_trips_and_prost;
        key_value_and_unit: profiles::KeyValueAndUnit =
            pf::key_value_and_unit() => round_trips_and_prost;
        profiles_dictionary: profiles::ProfilesDictionary =
            pf::profiles_dictionary() => round_trips_and_prost;
        profile: profiles::Profile = pf::profile() => round_trips_and_prost;
        scope_profiles: profiles::ScopeProfiles = pf::scope_profiles() => round_trips_and_prost;
        resource_profiles: profiles::ResourceProfiles =
            pf::resource_profiles() => round_trips_and_prost;
        profiles_data: profiles::ProfilesData = pf::profiles_data() => round_trips_and_prost;

        trace_request: collector::ExportTraceServiceRequest =
            sc::trace_request() => round_trips_and_prost;
        metrics_request: collector::ExportMetricsServiceRequest =
            sc::metrics_request() => round_trips_and_prost;
        logs_request: collector::ExportLogsServiceRequest =
            sc::logs_request() => round_trips_and_prost;
        profiles_request: collector::ExportProfilesServiceRequest =
            sc::profiles_request() => round_trips_and_prost;
        trace_response: collector::ExportTraceServiceResponse =
            sc::trace_response() => round_trips_and_prost;
        metrics_response: collector::ExportMetricsServiceResponse =
            sc::metrics_response() => round_trips_and_prost;
        logs_response: collector::ExportLogsServiceResponse =
            sc::logs_response() => round_trips_and_prost;
        profiles_response: collector::ExportProfilesServiceResponse =
            sc::profiles_response() => round_trips_and_prost;
        trace_partial_success: collector::ExportTracePartialSuccess =
            sc::trace_partial_success() => round_trips_and_prost;
        metrics_partial_success: collector::ExportMetricsPartialSuccess =
            sc::metrics_partial_success() => round_trips_and_prost;
        logs_partial_success: collector::ExportLogsPartialSuccess =
            sc::logs_partial_success() => round_trips_and_prost;
        profiles_partial_success: collector::ExportProfilesPartialSuccess =
            sc::profiles_partial_success() => round_trips_and_prost;

        rpc_status: rpc::Status = sc::status() => round_trips;
        rpc_any: rpc::Any = sc::any() => round_trips;
        rpc_retry_info: rpc::RetryInfo = sc::retry_info() => round_trips;
        rpc_duration: rpc::Duration = sc::duration() => round_trips;
    }
}

proptest! {
    #![proptest_config(config(512))]

    /// Protobuf carries a double's 64 bits verbatim (NaN payloads and signs included) wherever
    /// it is present: a oneof variant, an optional field, a packed element. OTLP/JSON carries
    /// every bit of every double but NaN, which it writes as `"NaN"`.
    #[test]
    fn double_bits_survive(bits in any::<u64>()) {
        let d = f64::from_bits(bits);
        let value = AnyValue::new(Value::DoubleValue(d));
        let point = HistogramDataPoint {
            sum: Some(d),
            min: Some(d),
            explicit_bounds: vec![d, 1.0, d],
            ..Default::default()
        };
        let same_bits = |a: f64, json: bool| {
            if json && d.is_nan() { a.is_nan() } else { a.to_bits() == bits }
        };
        for json in [false, true] {
            let v = if json {
                AnyValue::from_json(&Bytes::from(value.to_json())).unwrap()
            } else {
                AnyValue::decode(&value.encode_to_bytes()).unwrap()
            };
            let Some(Value::DoubleValue(got)) = v.value else { panic!("{v:?}") };
            prop_assert!(same_bits(got, json), "{got:e} from {d:e} (json: {json})");
            let p = if json {
                HistogramDataPoint::from_json(&Bytes::from(point.to_json())).unwrap()
            } else {
                HistogramDataPoint::decode(&point.encode_to_bytes()).unwrap()
            };
            for got in [p.sum.unwrap(), p.min.unwrap(), p.explicit_bounds[0], p.explicit_bounds[2]] {
                prop_assert!(same_bits(got, json), "{got:e} from {d:e} (json: {json})");
            }
        }
    }
}

proptest! {
    #![proptest_config(config(512))]

    /// Both decoders refuse the same nesting: a value one accepts, the other accepts too (else a
    /// request received in protobuf could be written as OTLP/JSON that no reader takes back).
    #[test]
    fn nesting_limits_agree(body in s::common::deep_value(60)) {
        let x = logs_with_body(body);
        let pb = otlp_proto::collector::ExportLogsServiceRequest::decode(&x.encode_to_bytes());
        let json = otlp_proto::collector::ExportLogsServiceRequest::from_json(&Bytes::from(x.to_json()));
        match (pb, json) {
            (Ok(a), Ok(b)) => {
                assert_same(&a, &x, "protobuf");
                assert_same(&b, &x, "OTLP/JSON");
            }
            (Err(a), Err(b)) => {
                prop_assert_eq!(a.kind(), otlp_proto::DecodeErrorKind::TooDeep);
                prop_assert_eq!(b.kind(), otlp_proto::DecodeErrorKind::TooDeep);
            }
            (pb, json) => prop_assert!(false, "protobuf: {:?}, OTLP/JSON: {:?}", pb.err(), json.err()),
        }
    }
}

proptest! {
    #![proptest_config(config(256))]

    /// Our OTLP/JSON rewritten into the other forms a receiver must take (proto field names, 64-bit
    /// integers as numbers and 32-bit ones as strings, doubles as strings, upper-case hex ids,
    /// URL-safe unpadded base64, `\u` escapes, whitespace, unknown members) decodes to the same
    /// request.
    #[test]
    fn json_variants_decode_alike(req in request(), v in json_variants::variant()) {
        let text = json_variants::rewrite(&req.to_json(), &v);
        if let Err(e) = serde_json::from_slice::<serde_json::Value>(&text) {
            panic!("the rewrite is not JSON ({e}): {}", String::from_utf8_lossy(&text));
        }
        let back = otlp_proto::Request::decode(req.signal(), Encoding::Json, &Bytes::from(text.clone()));
        let back = back.unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&text)));
        prop_assert!(check::same_request(&back, &req), "{}", String::from_utf8_lossy(&text));
    }

    /// The same for `google.rpc.Status` (base64 `Any` values, 64-bit seconds).
    #[test]
    fn json_variants_decode_alike_rpc(x in s::collector::status(), v in json_variants::variant()) {
        let text = Bytes::from(json_variants::rewrite(&x.to_json(), &v));
        let back = otlp_proto::rpc::Status::from_json(&text)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&text)));
        assert_same(&back, &x, &String::from_utf8_lossy(&text));
    }
}

/// What the rewrites of `json_variants` write, on one small span.
#[test]
fn json_variants_rewrite_as_documented() {
    use otlp_proto::common::KeyValue;
    let span = otlp_proto::trace::Span {
        trace_id: Bytes::from(vec![0xab; 16]),
        name: "é/😀".into(),
        kind: 2,
        start_time_unix_nano: 1_700_000_000_000_000_000,
        attributes: vec![
            KeyValue::new("d", 0.5),
            KeyValue::new("b", Bytes::from_static(&[0xfb, 0xff])),
        ],
        ..Default::default()
    };
    let all = json_variants::Variant {
        snake_case: true,
        int64_as_numbers: true,
        int32_as_strings: true,
        doubles_as_strings: true,
        upper_case_ids: true,
        url_safe_base64: true,
        escape_everything: true,
        ..Default::default()
    };
    let text = String::from_utf8(json_variants::rewrite(&span.to_json(), &all)).unwrap();
    assert_eq!(
        text,
        [
            r#"{"\u0074race_id":"ABABABABABABABABABABABABABABABAB","\u006eame":"\u00E9\/\uD83D\uDE00","#,
            r#""\u006bind":"2","\u0073tart_time_unix_nano":1700000000000000000,"\u0061ttributes":["#,
            r#"{"\u006bey":"d","\u0076alue":{"\u0064ouble_value":"0.5"}},"#,
            r#"{"\u006bey":"b","\u0076alue":{"\u0062ytes_value":"-_8"}}]}"#,
        ]
        .concat()
    );
    let back = otlp_proto::trace::Span::from_json(&Bytes::from(text)).unwrap();
    assert_eq!(back, span);
}

/// A logs request of one record with `body`.
fn logs_with_body(body: AnyValue) -> otlp_proto::collector::ExportLogsServiceRequest {
    otlp_proto::collector::ExportLogsServiceRequest {
        resource_logs: vec![otlp_proto::logs::ResourceLogs {
            scope_logs: vec![otlp_proto::logs::ScopeLogs {
                log_records: vec![otlp_proto::logs::LogRecord {
                    body: Some(body),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

#[path = "properties/corpus.rs"]
mod corpus;
#[path = "properties/mutations.rs"]
mod mutations;
