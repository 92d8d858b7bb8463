//! The sample logs: plain records and an event with a map body, in the sample spans' context.

use super::{CHILD_SPAN_ID, MS, ROOT_SPAN_ID, START, TRACE_ID};
use super::{id, resource, scope};
use crate::Str;
use crate::collector::ExportLogsServiceRequest;
use crate::common::{AnyValue, KeyValue};
use crate::logs::{LogRecord, ResourceLogs, ScopeLogs, SeverityNumber};

/// Three log records: an INFO record inside the root span, a WARN record inside the child span,
/// and the event `order.created` with a map body and the root span's trace context.
pub fn logs() -> ExportLogsServiceRequest {
    let info = LogRecord {
        time_unix_nano: START + 6 * MS,
        observed_time_unix_nano: START + 7 * MS,
        severity_number: SeverityNumber::Info as i32,
        severity_text: Str::from_static("INFO"),
        body: Some(AnyValue::from("handling GET /orders/42")),
        attributes: vec![KeyValue::new("code.function.name", "get_order")],
        flags: 0x01,
        trace_id: id(&TRACE_ID),
        span_id: id(&ROOT_SPAN_ID),
        ..Default::default()
    };
    let warn = LogRecord {
        time_unix_nano: START + 59 * MS,
        observed_time_unix_nano: START + 59 * MS,
        severity_number: SeverityNumber::Warn as i32,
        severity_text: Str::from_static("WARN"),
        body: Some(AnyValue::from("query slow, retrying")),
        attributes: vec![
            KeyValue::new("retry.count", 2_i64),
            KeyValue::new("db.system.name", "postgresql"),
        ],
        dropped_attributes_count: 1,
        flags: 0x01,
        trace_id: id(&TRACE_ID),
        span_id: id(&CHILD_SPAN_ID),
        ..Default::default()
    };
    let event = LogRecord {
        time_unix_nano: START + 100 * MS,
        observed_time_unix_nano: START + 101 * MS,
        severity_number: SeverityNumber::Info as i32,
        severity_text: Str::new(),
        body: Some(AnyValue::from(vec![
            KeyValue::new("order.id", "42"),
            KeyValue::new("order.total", 99.95_f64),
            KeyValue::new("order.items", 3_i64),
            KeyValue::new("order.express", true),
            KeyValue::new(
                "order.skus",
                vec![AnyValue::from("sku-1"), AnyValue::from("sku-2")],
            ),
        ])),
        attributes: vec![KeyValue::new("customer.tier", "gold")],
        dropped_attributes_count: 0,
        flags: 0x01,
        trace_id: id(&TRACE_ID),
        span_id: id(&ROOT_SPAN_ID),
        event_name: Str::from_static("order.created"),
    };
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(resource()),
            scope_logs: vec![ScopeLogs {
                scope: Some(scope()),
                log_records: vec![info, warn, event],
                schema_url: Str::new(),
            }],
            schema_url: Str::new(),
        }],
    }
}
