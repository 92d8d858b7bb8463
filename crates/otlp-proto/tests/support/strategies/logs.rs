//! `logs.v1`: log records and the containers above them.

use super::common::{any_value, attributes, instrumentation_scope, resource};
use super::{enumeration, span_id, text, trace_id, u32_any, u64_any, up_to};
use otlp_proto::logs::{LogRecord, LogsData, ResourceLogs, ScopeLogs};
use proptest::option;
use proptest::prelude::*;

/// A log record (severity numbers 0 to 24 defined).
pub fn log_record() -> BoxedStrategy<LogRecord> {
    let head = (u64_any(), enumeration(25), text(), option::of(any_value()));
    let rest = (
        attributes(),
        u32_any(),
        u32_any(),
        trace_id(),
        span_id(),
        u64_any(),
        text(),
    );
    (head, rest)
        .prop_map(
            |(
                (time_unix_nano, severity_number, severity_text, body),
                (
                    attributes,
                    dropped_attributes_count,
                    flags,
                    trace_id,
                    span_id,
                    observed_time_unix_nano,
                    event_name,
                ),
            )| LogRecord {
                time_unix_nano,
                severity_number,
                severity_text,
                body,
                attributes,
                dropped_attributes_count,
                flags,
                trace_id,
                span_id,
                observed_time_unix_nano,
                event_name,
            },
        )
        .boxed()
}

/// Records of one scope.
pub fn scope_logs() -> BoxedStrategy<ScopeLogs> {
    (
        option::of(instrumentation_scope()),
        up_to(log_record(), 3),
        text(),
    )
        .prop_map(|(scope, log_records, schema_url)| ScopeLogs {
            scope,
            log_records,
            schema_url,
        })
        .boxed()
}

/// Records of one resource.
pub fn resource_logs() -> BoxedStrategy<ResourceLogs> {
    (option::of(resource()), up_to(scope_logs(), 2), text())
        .prop_map(|(resource, scope_logs, schema_url)| ResourceLogs {
            resource,
            scope_logs,
            schema_url,
        })
        .boxed()
}

/// A batch of log records.
pub fn logs_data() -> BoxedStrategy<LogsData> {
    up_to(resource_logs(), 2)
        .prop_map(|resource_logs| LogsData { resource_logs })
        .boxed()
}
