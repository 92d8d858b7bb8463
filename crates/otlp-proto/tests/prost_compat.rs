//! Our codecs against an independent implementation: prost-generated `opentelemetry-proto` types.
//!
//! For every signal, a rich request encoded by prost decodes with our decoder, and our re-encoding
//! is byte-for-byte what prost wrote (same field order, same default rules). Our OTLP/JSON
//! equals, as a JSON value, what the incumbent's serde mapping writes, and reads back losslessly.

#![allow(clippy::unwrap_used)]

mod support;

use bytes::Bytes;
use otlp_proto::Message;
use otlp_proto::collector as ours;
use prost::Message as _;
use support::fixtures;

fn check<P, O>(theirs: &P)
where
    P: prost::Message + serde::Serialize,
    O: Message,
{
    let wire = Bytes::from(theirs.encode_to_vec());
    let decoded = O::decode(&wire).expect("our decoder reads prost output");
    assert_eq!(
        decoded.encode_to_bytes(),
        wire,
        "re-encoding differs from prost"
    );

    let json = decoded.to_json();
    let ours_value: serde_json::Value = serde_json::from_slice(&json).expect("our JSON parses");
    let theirs_value = serde_json::to_value(theirs).expect("serde JSON");
    assert_eq!(normalize(ours_value), normalize(theirs_value));

    let back = O::from_json(&Bytes::from(json)).expect("our JSON reads back");
    assert_eq!(back, decoded);
}

/// Makes two OTLP/JSON documents comparable: drops empty/default members (the incumbent writes
/// some defaults, we omit them as the protobuf JSON mapping allows) and compares numbers by value.
fn normalize(v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value as V;
    match v {
        V::Object(map) => V::Object(
            map.into_iter()
                .map(|(k, v)| (k, normalize(v)))
                .filter(|(_, v)| !is_default(v))
                .collect(),
        ),
        V::Array(items) => V::Array(items.into_iter().map(normalize).collect()),
        V::String(s) => match s.parse::<f64>() {
            // int64 values are strings in OTLP/JSON; compare them as numbers.
            Ok(f) if s.chars().all(|c| c.is_ascii_digit() || c == '-') => serde_json::json!(f),
            _ => V::String(s),
        },
        V::Number(n) => serde_json::json!(n.as_f64()),
        other => other,
    }
}

fn is_default(v: &serde_json::Value) -> bool {
    use serde_json::Value as V;
    match v {
        V::Null => true,
        V::Bool(b) => !b,
        V::Number(n) => n.as_f64() == Some(0.0),
        V::String(s) => s.is_empty(),
        V::Array(a) => a.is_empty(),
        V::Object(_) => false,
    }
}

#[test]
fn traces_match_prost_and_serde() {
    check::<_, ours::ExportTraceServiceRequest>(&fixtures::trace_request(64));
}

#[test]
fn metrics_match_prost_and_serde() {
    check::<_, ours::ExportMetricsServiceRequest>(&fixtures::metrics_request());
}

#[test]
fn logs_match_prost_and_serde() {
    check::<_, ours::ExportLogsServiceRequest>(&fixtures::logs_request());
}

#[test]
fn profiles_match_prost() {
    let theirs = fixtures::profiles_request();
    let wire = Bytes::from(theirs.encode_to_vec());
    let decoded = ours::ExportProfilesServiceRequest::decode(&wire).unwrap();
    assert_eq!(decoded.encode_to_bytes(), wire);
    let back =
        ours::ExportProfilesServiceRequest::from_json(&Bytes::from(decoded.to_json())).unwrap();
    assert_eq!(back, decoded);
    // Spot-check the decoded structure, so a decoder that skipped everything could not pass.
    let dict = decoded.dictionary.as_ref().unwrap();
    assert_eq!(dict.string_table[5], "main");
    assert_eq!(dict.stack_table[1].location_indices, vec![1, 2]);
    let profile = &decoded.resource_profiles[0].scope_profiles[0].profiles[0];
    assert_eq!(profile.samples[0].values, vec![10_000_000, 20_000_000]);
    assert_eq!(profile.samples[1].values, vec![-1]);
}

#[test]
fn our_encoding_decodes_in_prost() {
    let theirs = fixtures::trace_request(8);
    let ours =
        ours::ExportTraceServiceRequest::decode(&Bytes::from(theirs.encode_to_vec())).unwrap();
    let again =
        opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest::decode(
            ours.encode_to_bytes(),
        )
        .unwrap();
    assert_eq!(again, theirs);
}
