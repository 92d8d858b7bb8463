//! [`LogBuilder`]: a log record, field by field.

use super::json::{json_object_to_attributes, json_to_any_value};
use super::severity::Severity;
use crate::clock::to_unix_nanos;
use crate::trace::{SpanContext, SpanId, TraceId};
use bytes::Bytes;
use otlp_proto::Str;
use otlp_proto::common::{AnyValue, KeyValue};
use otlp_proto::logs::LogRecord;
use std::time::SystemTime;

/// Which span a record is correlated with.
#[derive(Debug, Clone, Default)]
pub(crate) enum Correlation {
    /// The span current on the thread when the record is built (none if no valid one is).
    #[default]
    Current,
    /// This span.
    Explicit(SpanContext),
    /// These ids, without trace flags.
    Ids(TraceId, SpanId),
    /// None.
    Uncorrelated,
}

impl Correlation {
    /// Writes the trace id, span id and flags of the chosen context into `record`.
    pub(crate) fn apply(self, record: &mut LogRecord) {
        let context = match self {
            Correlation::Current => SpanContext::current(),
            Correlation::Explicit(context) => context,
            Correlation::Ids(trace_id, span_id) => {
                // Each id only if valid: all zeros means "none" in OTLP too.
                if trace_id.is_valid() {
                    record.trace_id = Bytes::copy_from_slice(&trace_id.to_bytes());
                }
                if span_id.is_valid() {
                    record.span_id = Bytes::copy_from_slice(&span_id.to_bytes());
                }
                return;
            }
            Correlation::Uncorrelated => return,
        };
        set_trace_context(record, &context);
    }
}

/// Correlates `record` with `context` (nothing when `context` is invalid): `trace_id`,
/// `span_id`, and the W3C trace flags in the low 8 bits of `flags`.
pub(crate) fn set_trace_context(record: &mut LogRecord, context: &SpanContext) {
    if !context.is_valid() {
        return;
    }
    record.trace_id = Bytes::copy_from_slice(&context.trace_id().to_bytes());
    record.span_id = Bytes::copy_from_slice(&context.span_id().to_bytes());
    record.flags = u32::from(context.trace_flags().bits());
}

/// Builds a log record ([`otlp_proto::logs::LogRecord`]), to send with
/// [`OtlpClient::send_log`](crate::OtlpClient::send_log) or [`Logger::emit`](super::Logger::emit).
///
/// Every field is optional. Defaults:
///
/// - severity: unspecified (0), and no severity text unless [`with_severity`] sets both;
/// - body: none;
/// - timestamp (when the event happened) and observed timestamp (when the SDK saw it): the
///   time of sending ([`Logger::emit`](super::Logger::emit)), unless given;
/// - trace context: the span current on this thread when [`build`] is called (see
///   [`SpanContext::current`]): its trace id, span id and trace flags. No valid current span,
///   no correlation.
///
/// The builder does nothing on its own: no clock read, no allocation beyond what the fields
/// need, and [`build`] moves the fields into the record.
///
/// ```
/// use otlp::logs::{LogBuilder, Severity};
/// use serde_json::json;
///
/// let record = LogBuilder::new()
///     .with_severity(Severity::Warn)
///     .with_body_map(json!({ "msg": "disk almost full", "free": { "bytes": 1024 } }))
///     .with_attribute("disk", "/dev/sda1")
///     .build();
/// assert_eq!(record.severity_number, 13);
/// assert_eq!(record.severity_text, "WARN");
/// ```
///
/// [`with_severity`]: LogBuilder::with_severity
/// [`build`]: LogBuilder::build
#[derive(Debug, Clone, Default)]
#[must_use = "a builder does nothing until built and sent"]
pub struct LogBuilder {
    record: LogRecord,
    correlation: Correlation,
}

impl LogBuilder {
    /// An empty record, correlated with the current span when built.
    pub fn new() -> LogBuilder {
        LogBuilder::default()
    }

    /// The severity number and, unless [`with_severity_text`](LogBuilder::with_severity_text)
    /// sets another, its text (`INFO`, `WARN2`, ...). Default: unspecified.
    pub fn with_severity(mut self, severity: Severity) -> Self {
        self.record.severity_number = severity.number();
        if self.record.severity_text.is_empty() {
            self.record.severity_text = Str::from(severity.text());
        }
        self
    }

    /// The severity as the source wrote it (e.g. `warning`, `E`), overriding the text
    /// [`with_severity`](LogBuilder::with_severity) sets.
    pub fn with_severity_text(mut self, text: impl Into<Str>) -> Self {
        self.record.severity_text = text.into();
        self
    }

    /// The body: a string, a number, or any [`AnyValue`]. Default: none.
    pub fn with_body(mut self, body: impl Into<AnyValue>) -> Self {
        self.record.body = Some(body.into());
        self
    }

    /// A structured body from JSON: objects become maps, arrays arrays, integers integers,
    /// other numbers doubles (see [`json_to_any_value`](super::json_to_any_value)).
    pub fn with_body_map(mut self, body: serde_json::Value) -> Self {
        self.record.body = Some(json_to_any_value(body));
        self
    }

    /// Adds an attribute.
    pub fn with_attribute(mut self, key: impl Into<Str>, value: impl Into<AnyValue>) -> Self {
        self.record.attributes.push(KeyValue::new(key, value));
        self
    }

    /// Adds attributes.
    pub fn with_attributes(mut self, attributes: impl IntoIterator<Item = KeyValue>) -> Self {
        self.record.attributes.extend(attributes);
        self
    }

    /// Adds the entries of a JSON object as attributes (anything but an object adds nothing).
    pub fn with_attributes_json(mut self, attributes: serde_json::Value) -> Self {
        if let serde_json::Value::Object(map) = attributes {
            self.record
                .attributes
                .extend(json_object_to_attributes(map));
        }
        self
    }

    /// When the event happened (`time_unix_nano`). Default: the time the record is sent.
    pub fn with_timestamp(mut self, time: SystemTime) -> Self {
        self.record.time_unix_nano = to_unix_nanos(time);
        self
    }

    /// When the event was observed (`observed_time_unix_nano`). Default: the time it is sent.
    pub fn with_observed_timestamp(mut self, time: SystemTime) -> Self {
        self.record.observed_time_unix_nano = to_unix_nanos(time);
        self
    }

    /// Correlates the record with the span `span_id` of trace `trace_id` instead of the current
    /// span. Either takes the id type ([`TraceId`], [`SpanId`]) or its bytes (`[u8; 16]`,
    /// `[u8; 8]`); an all-zero id is left out. The record gets no trace flags (`flags` stays 0):
    /// [`with_span_context`](LogBuilder::with_span_context) carries them too.
    ///
    /// ```
    /// use otlp::logs::LogBuilder;
    ///
    /// let record = LogBuilder::new()
    ///     .with_body("payment captured")
    ///     .with_trace_context([0x4b; 16], [0xf0; 8])
    ///     .build();
    /// assert_eq!(&record.trace_id[..], &[0x4b; 16]);
    /// assert_eq!(&record.span_id[..], &[0xf0; 8]);
    /// ```
    pub fn with_trace_context(
        mut self,
        trace_id: impl Into<TraceId>,
        span_id: impl Into<SpanId>,
    ) -> Self {
        self.correlation = Correlation::Ids(trace_id.into(), span_id.into());
        self
    }

    /// Correlates the record with `context` (trace id, span id and trace flags) instead of the
    /// current span. An invalid context leaves the record uncorrelated.
    pub fn with_span_context(mut self, context: &SpanContext) -> Self {
        self.correlation = Correlation::Explicit(context.clone());
        self
    }

    /// Leaves the record uncorrelated, even inside a span.
    pub fn without_trace_context(mut self) -> Self {
        self.correlation = Correlation::Uncorrelated;
        self
    }

    /// The event name (`event_name`): a record with one is an event. See also
    /// [`EventBuilder`](super::EventBuilder).
    pub fn with_event_name(mut self, name: impl Into<Str>) -> Self {
        self.record.event_name = name.into();
        self
    }

    /// The record, correlated as chosen.
    pub fn build(self) -> LogRecord {
        let mut record = self.record;
        self.correlation.apply(&mut record);
        record
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::{TraceFlags, TraceState};

    fn ctx() -> SpanContext {
        SpanContext::new(
            TraceId::from_bytes([1; 16]),
            SpanId::from_bytes([2; 8]),
            TraceFlags::SAMPLED,
            false,
            TraceState::empty(),
        )
    }

    #[test]
    fn fields_and_correlation() {
        let r = LogBuilder::new()
            .with_severity(Severity::Error2)
            .with_body("boom")
            .with_attribute("k", 1i64)
            .with_timestamp(std::time::UNIX_EPOCH + std::time::Duration::from_nanos(42))
            .build();
        assert_eq!(r.severity_number, 18);
        assert_eq!(r.severity_text, "ERROR2");
        assert_eq!(r.body, Some(AnyValue::from("boom")));
        assert_eq!(r.time_unix_nano, 42);
        assert_eq!(r.observed_time_unix_nano, 0);
        assert!(r.trace_id.is_empty(), "no current span");

        let text_first = LogBuilder::new()
            .with_severity_text("warning")
            .with_severity(Severity::Warn)
            .build();
        assert_eq!(text_first.severity_text, "warning");

        let _guard = ctx().attach();
        let current = LogBuilder::new().build();
        assert_eq!(&current.trace_id[..], &[1; 16]);
        assert_eq!(&current.span_id[..], &[2; 8]);
        assert_eq!(current.flags, 1);
        assert!(
            LogBuilder::new()
                .without_trace_context()
                .build()
                .trace_id
                .is_empty()
        );
        let invalid = LogBuilder::new()
            .with_span_context(&SpanContext::INVALID)
            .build();
        assert!(invalid.span_id.is_empty());
        let explicit = LogBuilder::new()
            .with_trace_context(TraceId::from_bytes([3; 16]), [4; 8])
            .build();
        assert_eq!(&explicit.trace_id[..], &[3; 16]);
        assert_eq!(&explicit.span_id[..], &[4; 8]);
        assert_eq!(explicit.flags, 0, "no flags without a span context");
        let zeros = LogBuilder::new()
            .with_trace_context([0; 16], [0; 8])
            .build();
        assert!(zeros.trace_id.is_empty() && zeros.span_id.is_empty());
    }
}
