//! `opentelemetry.proto.trace.v1`: spans.

use crate::common::{InstrumentationScope, KeyValue};
use crate::resource::Resource;
use crate::{Str, message};
use bytes::Bytes;

message! {
    /// Spans from one resource.
    ResourceSpans {
        /// The resource; absent means unknown.
        resource: Option<Resource> = 1 => message "resource";
        /// Spans grouped by instrumentation scope.
        scope_spans: Vec<ScopeSpans> = 2 => repeated "scopeSpans";
        /// Schema URL of the resource's attributes.
        schema_url: Str = 3 => string "schemaUrl";
    }
}

message! {
    /// Spans from one instrumentation scope.
    ScopeSpans {
        /// The scope.
        scope: Option<InstrumentationScope> = 1 => message "scope";
        /// The spans.
        spans: Vec<Span> = 2 => items "spans";
        /// Schema URL of the spans' attributes.
        schema_url: Str = 3 => string "schemaUrl";
    }
}

message! {
    /// A span: one operation within a trace.
    Span {
        /// 16-byte trace id.
        trace_id: Bytes = 1 => trace_id "traceId";
        /// 8-byte span id.
        span_id: Bytes = 2 => span_id "spanId";
        /// W3C `tracestate`.
        trace_state: Str = 3 => string "traceState";
        /// Parent span id; empty for a root span.
        parent_span_id: Bytes = 4 => span_id "parentSpanId";
        /// Operation name.
        name: Str = 5 => string "name";
        /// [`SpanKind`] as an integer.
        kind: i32 = 6 => enumeration "kind";
        /// Start time, nanoseconds since the Unix epoch.
        start_time_unix_nano: u64 = 7 => fixed64 "startTimeUnixNano";
        /// End time, nanoseconds since the Unix epoch.
        end_time_unix_nano: u64 = 8 => fixed64 "endTimeUnixNano";
        /// Span attributes.
        attributes: Vec<KeyValue> = 9 => repeated "attributes";
        /// Attributes dropped by limits.
        dropped_attributes_count: u32 = 10 => uint32 "droppedAttributesCount";
        /// Timed events.
        events: Vec<Event> = 11 => repeated "events";
        /// Events dropped by limits.
        dropped_events_count: u32 = 12 => uint32 "droppedEventsCount";
        /// Links to other spans.
        links: Vec<Link> = 13 => repeated "links";
        /// Links dropped by limits.
        dropped_links_count: u32 = 14 => uint32 "droppedLinksCount";
        /// Outcome.
        status: Option<Status> = 15 => message "status";
        /// W3C trace flags (low 8 bits) and [`span_flags`] bits.
        flags: u32 = 16 => fixed32 "flags";
    }
}

message! {
    /// A timed event within a span (`Span.Event`).
    Event {
        /// When it happened, nanoseconds since the Unix epoch.
        time_unix_nano: u64 = 1 => fixed64 "timeUnixNano";
        /// Event name.
        name: Str = 2 => string "name";
        /// Event attributes.
        attributes: Vec<KeyValue> = 3 => repeated "attributes";
        /// Attributes dropped by limits.
        dropped_attributes_count: u32 = 4 => uint32 "droppedAttributesCount";
    }
}

message! {
    /// A link from a span to another span (`Span.Link`).
    Link {
        /// Trace id of the linked span.
        trace_id: Bytes = 1 => trace_id "traceId";
        /// Span id of the linked span.
        span_id: Bytes = 2 => span_id "spanId";
        /// W3C `tracestate` of the linked span.
        trace_state: Str = 3 => string "traceState";
        /// Link attributes.
        attributes: Vec<KeyValue> = 4 => repeated "attributes";
        /// Attributes dropped by limits.
        dropped_attributes_count: u32 = 5 => uint32 "droppedAttributesCount";
        /// W3C trace flags and [`span_flags`] bits.
        flags: u32 = 6 => fixed32 "flags";
    }
}

message! {
    /// A span's outcome.
    Status {
        /// Description, for errors.
        message: Str = 2 => string "message";
        /// [`StatusCode`] as an integer.
        code: i32 = 3 => enumeration "code";
    }
}

message! {
    /// `TracesData`: the file and Collector representation of a batch of spans.
    TracesData {
        /// Spans by resource.
        resource_spans: Vec<ResourceSpans> = 1 => repeated "resourceSpans";
    }
}

/// What kind of operation a span represents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum SpanKind {
    /// Not specified.
    Unspecified = 0,
    /// An internal operation.
    Internal = 1,
    /// Handling a synchronous request.
    Server = 2,
    /// Making a synchronous request.
    Client = 3,
    /// Sending a message.
    Producer = 4,
    /// Receiving a message.
    Consumer = 5,
}

/// A span status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum StatusCode {
    /// Not set.
    Unset = 0,
    /// Explicitly successful.
    Ok = 1,
    /// Failed.
    Error = 2,
}

/// Bits of `Span.flags` and `Link.flags` beyond the W3C trace flags.
pub mod span_flags {
    /// Mask of the W3C trace flags.
    pub const TRACE_FLAGS_MASK: u32 = 0x0000_00FF;
    /// Set when whether the parent is remote is known.
    pub const CONTEXT_HAS_IS_REMOTE_MASK: u32 = 0x0000_0100;
    /// Set when the parent (or linked span) is remote.
    pub const CONTEXT_IS_REMOTE_MASK: u32 = 0x0000_0200;
}
