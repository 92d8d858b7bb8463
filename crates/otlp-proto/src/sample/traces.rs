//! The sample traces: three spans of one trace, with attributes of every value type, events, a
//! link and every status code.

use super::{CHILD_SPAN_ID, GRANDCHILD_SPAN_ID, MS, ROOT_SPAN_ID, START, TRACE_ID};
use super::{id, resource, scope};
use crate::Str;
use crate::collector::ExportTraceServiceRequest;
use crate::common::{AnyValue, KeyValue};
use crate::trace::{
    Event, Link, ResourceSpans, ScopeSpans, Span, SpanKind, Status, StatusCode, span_flags,
};
use bytes::Bytes;

/// A span of another trace, which the root span links to.
const LINKED_TRACE_ID: [u8; 16] = [
    0x5b, 0x8e, 0xfb, 0xf7, 0x98, 0xb2, 0x4c, 0x1f, 0x88, 0x2e, 0x01, 0x45, 0x02, 0x61, 0x0a, 0x7c,
];
/// The span of [`LINKED_TRACE_ID`] that the root span links to.
const LINKED_SPAN_ID: [u8; 8] = [0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74];

/// Three spans of one trace: a server span with every attribute type, two events and a link to
/// another trace; its client child, failed with an error status and an exception event; and an
/// internal grandchild with an OK status.
pub fn traces() -> ExportTraceServiceRequest {
    let root = Span {
        trace_id: id(&TRACE_ID),
        span_id: id(&ROOT_SPAN_ID),
        trace_state: Str::from_static("vendor=demo"),
        parent_span_id: Bytes::new(),
        name: Str::from_static("GET /orders/{id}"),
        kind: SpanKind::Server as i32,
        start_time_unix_nano: START,
        end_time_unix_nano: START + 120 * MS,
        attributes: vec![
            KeyValue::new("http.request.method", "GET"),
            KeyValue::new("http.route", "/orders/{id}"),
            KeyValue::new("http.response.status_code", 200_i64),
            KeyValue::new("demo.ratio", 0.25_f64),
            KeyValue::new("demo.cached", false),
            KeyValue::new("demo.payload", Bytes::from_static(b"\x00\x01\xfe\xff")),
            KeyValue::new(
                "demo.tags",
                vec![
                    AnyValue::from("a"),
                    AnyValue::from("b"),
                    AnyValue::from("c"),
                ],
            ),
            KeyValue::new(
                "demo.limits",
                vec![
                    KeyValue::new("max", 100_i64),
                    KeyValue::new("unit", "requests"),
                ],
            ),
        ],
        dropped_attributes_count: 1,
        events: vec![
            Event {
                time_unix_nano: START + 5 * MS,
                name: Str::from_static("request.parsed"),
                attributes: vec![KeyValue::new("http.request.body.size", 0_i64)],
                dropped_attributes_count: 0,
            },
            Event {
                time_unix_nano: START + 110 * MS,
                name: Str::from_static("response.sent"),
                attributes: vec![],
                dropped_attributes_count: 0,
            },
        ],
        dropped_events_count: 0,
        links: vec![Link {
            trace_id: id(&LINKED_TRACE_ID),
            span_id: id(&LINKED_SPAN_ID),
            trace_state: Str::from_static("vendor=other"),
            attributes: vec![KeyValue::new("link.reason", "batch")],
            dropped_attributes_count: 0,
            flags: 0x01
                | span_flags::CONTEXT_HAS_IS_REMOTE_MASK
                | span_flags::CONTEXT_IS_REMOTE_MASK,
        }],
        dropped_links_count: 0,
        status: Some(Status {
            message: Str::new(),
            code: StatusCode::Unset as i32,
        }),
        flags: 0x01 | span_flags::CONTEXT_HAS_IS_REMOTE_MASK,
    };
    let child = Span {
        trace_id: id(&TRACE_ID),
        span_id: id(&CHILD_SPAN_ID),
        parent_span_id: id(&ROOT_SPAN_ID),
        name: Str::from_static("SELECT orders"),
        kind: SpanKind::Client as i32,
        start_time_unix_nano: START + 10 * MS,
        end_time_unix_nano: START + 60 * MS,
        attributes: vec![
            KeyValue::new("db.system.name", "postgresql"),
            KeyValue::new("db.query.text", "SELECT * FROM orders WHERE id = $1"),
        ],
        events: vec![Event {
            time_unix_nano: START + 59 * MS,
            name: Str::from_static("exception"),
            attributes: vec![
                KeyValue::new("exception.type", "TimeoutError"),
                KeyValue::new("exception.message", "statement timeout"),
            ],
            dropped_attributes_count: 0,
        }],
        status: Some(Status {
            message: Str::from_static("statement timeout"),
            code: StatusCode::Error as i32,
        }),
        flags: 0x01 | span_flags::CONTEXT_HAS_IS_REMOTE_MASK,
        ..Default::default()
    };
    let grandchild = Span {
        trace_id: id(&TRACE_ID),
        span_id: id(&GRANDCHILD_SPAN_ID),
        parent_span_id: id(&CHILD_SPAN_ID),
        name: Str::from_static("render"),
        kind: SpanKind::Internal as i32,
        start_time_unix_nano: START + 61 * MS,
        end_time_unix_nano: START + 100 * MS,
        status: Some(Status {
            message: Str::new(),
            code: StatusCode::Ok as i32,
        }),
        flags: 0x01,
        ..Default::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(resource()),
            scope_spans: vec![ScopeSpans {
                scope: Some(scope()),
                spans: vec![root, child, grandchild],
                schema_url: Str::from_static("https://opentelemetry.io/schemas/1.38.0"),
            }],
            schema_url: Str::from_static("https://opentelemetry.io/schemas/1.38.0"),
        }],
    }
}
