//! Property tests: the protobuf and OTLP/JSON decoders never panic on arbitrary input, and what
//! they accept survives a round trip.

#![allow(clippy::unwrap_used)]

mod support;

use bytes::Bytes;
use otlp_proto::collector::*;
use otlp_proto::{Encoding, Message, Request, Signal};
use proptest::prelude::*;
use prost::Message as _;
use support::fixtures;

/// Decodes `input` as every request type, in both encodings; whatever decodes must re-encode and
/// decode to the same value.
fn decode_all(input: &[u8]) {
    let body = Bytes::copy_from_slice(input);
    for signal in Signal::ALL {
        for encoding in [Encoding::Protobuf, Encoding::Json] {
            if let Ok(req) = Request::decode(signal, encoding, &body) {
                let again = Request::decode(signal, encoding, &req.encode(encoding))
                    .expect("our own output decodes");
                // NaN != NaN; compare encodings, which are deterministic.
                assert_eq!(
                    again.encode(Encoding::Protobuf),
                    req.encode(Encoding::Protobuf)
                );
            }
        }
    }
    let _ = otlp_proto::rpc::Status::decode(&body);
    let _ = ExportTraceServiceResponse::decode(&body);
    let _ = ExportTraceServiceResponse::from_json(&body);
}

fn seeds() -> Vec<Vec<u8>> {
    let mut v = vec![
        fixtures::trace_request(3).encode_to_vec(),
        fixtures::metrics_request().encode_to_vec(),
        fixtures::logs_request().encode_to_vec(),
        fixtures::profiles_request().encode_to_vec(),
    ];
    let json: Vec<Vec<u8>> = v
        .iter()
        .zip(Signal::ALL)
        .map(|(w, s)| {
            Request::decode(s, Encoding::Protobuf, &Bytes::from(w.clone()))
                .unwrap()
                .to_json()
        })
        .collect();
    v.extend(json);
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..512)) {
        decode_all(&input);
    }

    #[test]
    fn mutated_requests_never_panic(
        which in 0usize..8,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..8),
    ) {
        let mut input = seeds().swap_remove(which);
        for (at, byte, op) in edits {
            if input.is_empty() { break; }
            let i = at.index(input.len());
            match op {
                0 => input[i] = byte,
                1 => input.insert(i, byte),
                _ => input.truncate(i),
            }
        }
        decode_all(&input);
    }

    #[test]
    fn json_like_text_never_panics(text in r#"[\[\]{}",:0-9a-zA-Z\\\- .eE]{0,200}"#) {
        decode_all(text.as_bytes());
    }
}

#[test]
fn deeply_nested_values_are_refused_not_a_stack_overflow() {
    // AnyValue { array_value: ArrayValue { values: [AnyValue { ... }] } }, 5,000 levels deep.
    fn wrap(tag: u8, body: Vec<u8>) -> Vec<u8> {
        let mut out = vec![tag];
        let mut n = body.len() as u64;
        loop {
            let b = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(b);
                break;
            }
            out.push(b | 0x80);
        }
        out.extend(body);
        out
    }
    let mut body = Vec::new();
    for _ in 0..5_000 {
        body = wrap(0x2a, wrap(0x0a, body));
    }
    let err = otlp_proto::common::AnyValue::decode(&Bytes::from(body)).unwrap_err();
    assert_eq!(err.kind(), otlp_proto::DecodeErrorKind::TooDeep);

    let json = format!("{}{}", "{\"arrayValue\":{\"values\":[".repeat(10_000), "");
    let err = otlp_proto::common::AnyValue::from_json(&Bytes::from(json)).unwrap_err();
    assert_eq!(err.kind(), otlp_proto::DecodeErrorKind::TooDeep);
}

#[test]
fn wrong_wire_types_and_bad_utf8_are_errors() {
    // Span.name (field 5) sent as a varint.
    let err = otlp_proto::trace::Span::decode(&Bytes::from_static(&[0x28, 0x01])).unwrap_err();
    assert_eq!(err.kind(), otlp_proto::DecodeErrorKind::WrongWireType);
    // Span.name holding invalid UTF-8.
    let err =
        otlp_proto::trace::Span::decode(&Bytes::from_static(&[0x2a, 0x01, 0xff])).unwrap_err();
    assert_eq!(err.kind(), otlp_proto::DecodeErrorKind::InvalidUtf8);
    // Unknown fields are skipped.
    let span =
        otlp_proto::trace::Span::decode(&Bytes::from_static(&[0xf8, 0x07, 0x01, 0x2a, 0x01, b'x']))
            .unwrap();
    assert_eq!(span.name, "x");
}

#[test]
fn json_decoder_follows_the_otlp_rules() {
    let text = r#"{"resource_spans":[{"scopeSpans":[{"spans":[{
        "traceId":"0102030405060708090A0B0C0D0E0F10","spanId":"0102030405060708",
        "name":"n","kind":2,"startTimeUnixNano":1700000000000000000,"endTimeUnixNano":"1700000000000000001",
        "attributes":[{"key":"i","value":{"intValue":"-5"}},{"key":"d","value":{"doubleValue":"NaN"}}],
        "unknownField":{"nested":[1,2,{"x":null}]},
        "status":null
    }]}]}]}"#;
    let req = ExportTraceServiceRequest::from_json(&Bytes::from_static(text.as_bytes())).unwrap();
    let span = &req.resource_spans[0].scope_spans[0].spans[0];
    assert_eq!(
        &span.trace_id[..],
        &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]
    );
    assert_eq!(span.kind, 2);
    assert_eq!(span.start_time_unix_nano, 1_700_000_000_000_000_000);
    assert_eq!(span.end_time_unix_nano, 1_700_000_000_000_000_001);
    assert!(span.status.is_none());
    let out = String::from_utf8(req.to_json()).unwrap();
    assert!(out.contains(r#""traceId":"0102030405060708090a0b0c0d0e0f10""#));
    assert!(out.contains(r#""startTimeUnixNano":"1700000000000000000""#));
    assert!(out.contains(r#""intValue":"-5""#));
    assert!(out.contains(r#""doubleValue":"NaN""#));
    assert!(out.contains(r#""kind":2"#));
}
