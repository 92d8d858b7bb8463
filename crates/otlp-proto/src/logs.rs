//! `opentelemetry.proto.logs.v1`: log records and events.

use crate::common::{AnyValue, InstrumentationScope, KeyValue};
use crate::resource::Resource;
use crate::{Str, message};
use bytes::Bytes;

message! {
    /// Log records from one resource.
    ResourceLogs {
        /// The resource.
        resource: Option<Resource> = 1 => message "resource";
        /// Records grouped by scope.
        scope_logs: Vec<ScopeLogs> = 2 => repeated "scopeLogs";
        /// Schema URL of the resource's attributes.
        schema_url: Str = 3 => string "schemaUrl";
    }
}

message! {
    /// Log records from one instrumentation scope.
    ScopeLogs {
        /// The scope.
        scope: Option<InstrumentationScope> = 1 => message "scope";
        /// The records.
        log_records: Vec<LogRecord> = 2 => items "logRecords";
        /// Schema URL of the records' attributes.
        schema_url: Str = 3 => string "schemaUrl";
    }
}

message! {
    /// A log record. With `event_name` set it is an event.
    LogRecord {
        /// When the event occurred.
        time_unix_nano: u64 = 1 => fixed64 "timeUnixNano";
        /// [`SeverityNumber`] as an integer.
        severity_number: i32 = 2 => enumeration "severityNumber";
        /// Severity as text, e.g. `WARN`.
        severity_text: Str = 3 => string "severityText";
        /// The body: a string or structured value.
        body: Option<AnyValue> = 5 => message "body";
        /// Record attributes.
        attributes: Vec<KeyValue> = 6 => repeated "attributes";
        /// Attributes dropped by limits.
        dropped_attributes_count: u32 = 7 => uint32 "droppedAttributesCount";
        /// W3C trace flags (low 8 bits).
        flags: u32 = 8 => fixed32 "flags";
        /// Trace id of the active span.
        trace_id: Bytes = 9 => trace_id "traceId";
        /// Span id of the active span.
        span_id: Bytes = 10 => span_id "spanId";
        /// When the record was observed by the pipeline.
        observed_time_unix_nano: u64 = 11 => fixed64 "observedTimeUnixNano";
        /// The event name; makes this record an event.
        event_name: Str = 12 => string "eventName";
    }
}

message! {
    /// `LogsData`: the file and Collector representation of a batch of log records.
    LogsData {
        /// Records by resource.
        resource_logs: Vec<ResourceLogs> = 1 => repeated "resourceLogs";
    }
}

/// Severity numbers, 1 (TRACE) to 24 (FATAL4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(i32)]
#[allow(missing_docs)]
pub enum SeverityNumber {
    Unspecified = 0,
    Trace = 1,
    Trace2 = 2,
    Trace3 = 3,
    Trace4 = 4,
    Debug = 5,
    Debug2 = 6,
    Debug3 = 7,
    Debug4 = 8,
    Info = 9,
    Info2 = 10,
    Info3 = 11,
    Info4 = 12,
    Warn = 13,
    Warn2 = 14,
    Warn3 = 15,
    Warn4 = 16,
    Error = 17,
    Error2 = 18,
    Error3 = 19,
    Error4 = 20,
    Fatal = 21,
    Fatal2 = 22,
    Fatal3 = 23,
    Fatal4 = 24,
}
