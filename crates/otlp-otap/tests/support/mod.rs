//! Requests whose rows repeat (the same attribute on many spans, the same event name or link
//! trace id in a row), so that the delta and quasi-delta encodings are exercised: the generic
//! strategies of otlp-proto rarely repeat a key and value on neighbouring rows.

#![allow(dead_code)]

use bytes::Bytes;
use otlp_proto::Str;
use otlp_proto::collector::ExportTraceServiceRequest;
use otlp_proto::common::{AnyValue, InstrumentationScope, KeyValue};
use otlp_proto::resource::Resource;
use otlp_proto::trace::{Event, Link, ResourceSpans, ScopeSpans, Span};
use proptest::prelude::*;

const KEYS: [&str; 3] = ["http.method", "n", "ok"];

fn pooled_value() -> impl Strategy<Value = AnyValue> {
    prop_oneof![
        prop::sample::select(vec!["GET", "POST", ""]).prop_map(AnyValue::from),
        (0..3i64).prop_map(AnyValue::from),
        prop::sample::select(vec![0.5f64, -0.0, f64::NAN]).prop_map(AnyValue::from),
        any::<bool>().prop_map(AnyValue::from),
        Just(AnyValue::from(Bytes::from_static(b"\x01\x02"))),
        Just(AnyValue::from(vec![AnyValue::from(1i64)])),
        Just(AnyValue { value: None }),
    ]
}

fn pooled_attributes() -> impl Strategy<Value = Vec<KeyValue>> {
    proptest::collection::vec(
        (prop::sample::select(KEYS.to_vec()), pooled_value())
            .prop_map(|(k, v)| KeyValue::new(k, v)),
        0..4,
    )
}

fn trace_id(i: u8) -> Bytes {
    Bytes::from(vec![i; 16])
}

/// A span drawn from the pools: its name, attributes, events and links (by trace id byte).
type SpanParts = (
    &'static str,
    Vec<KeyValue>,
    Vec<(&'static str, Vec<KeyValue>)>,
    Vec<(u8, Vec<KeyValue>)>,
);

fn span_of((name, attributes, events, links): SpanParts, i: usize) -> Span {
    Span {
        trace_id: trace_id(1),
        span_id: Bytes::from(vec![i as u8 + 1; 8]),
        name: Str::from_static(name),
        start_time_unix_nano: 1_700_000_000_000_000_000 + i as u64,
        end_time_unix_nano: 1_700_000_000_000_000_100 + i as u64,
        attributes,
        events: events
            .into_iter()
            .map(|(name, attributes)| Event {
                time_unix_nano: 1_700_000_000_000_000_050,
                name: Str::from_static(name),
                attributes,
                dropped_attributes_count: 0,
            })
            .collect(),
        links: links
            .into_iter()
            .map(|(t, attributes)| Link {
                trace_id: trace_id(t),
                span_id: Bytes::from(vec![9; 8]),
                attributes,
                ..Link::default()
            })
            .collect(),
        ..Span::default()
    }
}

/// Requests of one or two resources and scopes whose spans, events and links draw names,
/// attribute keys and values, and link trace ids from small pools.
pub fn pooled_request() -> impl Strategy<Value = ExportTraceServiceRequest> {
    let span = (
        prop::sample::select(vec!["a", "b"]),
        pooled_attributes(),
        proptest::collection::vec(
            (
                prop::sample::select(vec!["ev", "other"]),
                pooled_attributes(),
            ),
            0..3,
        ),
        proptest::collection::vec((1..3u8, pooled_attributes()), 0..3),
    );
    let scope = (pooled_attributes(), proptest::collection::vec(span, 1..6));
    let resource = (pooled_attributes(), proptest::collection::vec(scope, 1..3));
    proptest::collection::vec(resource, 1..3).prop_map(|resources| {
        let mut i = 0;
        ExportTraceServiceRequest {
            resource_spans: resources
                .into_iter()
                .map(|(attributes, scopes)| ResourceSpans {
                    resource: Some(Resource {
                        attributes,
                        ..Resource::default()
                    }),
                    scope_spans: scopes
                        .into_iter()
                        .map(|(attributes, spans)| ScopeSpans {
                            scope: Some(InstrumentationScope {
                                name: Str::from_static("lib"),
                                attributes,
                                ..InstrumentationScope::default()
                            }),
                            spans: spans
                                .into_iter()
                                .map(|s| {
                                    i += 1;
                                    span_of(s, i)
                                })
                                .collect(),
                            schema_url: Str::new(),
                        })
                        .collect(),
                    schema_url: Str::new(),
                })
                .collect(),
        }
    })
}

/// Six spans with the same attributes, each with two events of the same name and two links
/// to the same trace, all with attributes.
pub fn repetitive() -> ExportTraceServiceRequest {
    let same = || {
        vec![
            KeyValue::new("http.method", "GET"),
            KeyValue::new("n", 1i64),
        ]
    };
    let spans = (0..6)
        .map(|i| {
            span_of(
                (
                    "a",
                    same(),
                    vec![("ev", same()), ("ev", same())],
                    vec![(1, same()), (1, same())],
                ),
                i,
            )
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: same(),
                ..Resource::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..ScopeSpans::default()
            }],
            schema_url: Str::new(),
        }],
    }
}
