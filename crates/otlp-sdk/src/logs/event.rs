//! [`EventBuilder`] and [`Event`]: named log records.

use super::builder::LogBuilder;
use super::severity::Severity;
use crate::trace::{SpanContext, SpanId, TraceId};
use otlp_proto::Str;
use otlp_proto::common::{AnyValue, KeyValue};
use otlp_proto::logs::LogRecord;
use std::time::SystemTime;

/// The attribute [`EventBuilder::with_domain`] sets.
pub const EVENT_DOMAIN: &str = "event.domain";

/// An event: a log record with a name (`event_name`, field 12 of the OTLP `LogRecord`), made by
/// an [`EventBuilder`]. Send it with [`OtlpClient::send_event`](crate::OtlpClient::send_event) or
/// [`Logger::emit_event`](super::Logger::emit_event): it is exported as exactly one record.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    record: LogRecord,
}

impl Event {
    /// The event's name.
    pub fn name(&self) -> &str {
        &self.record.event_name
    }

    /// The record that will be exported.
    pub fn record(&self) -> &LogRecord {
        &self.record
    }

    /// The record that will be exported, to send as a plain log record.
    pub fn into_record(self) -> LogRecord {
        self.record
    }
}

impl From<Event> for LogRecord {
    fn from(event: Event) -> LogRecord {
        event.record
    }
}

/// Builds an [`Event`]: a named log record, severity [`Severity::Info`] unless set, correlated
/// with the current span like [`LogBuilder`](super::LogBuilder) records.
///
/// ```
/// use otlp::logs::{EventBuilder, Severity};
/// use serde_json::json;
///
/// let event = EventBuilder::new("order.created")
///     .with_domain("ecommerce")
///     .with_attribute("order.id", 1234i64)
///     .with_body_map(json!({ "items": [{ "sku": "A-1", "qty": 2 }], "total": 19.5 }))
///     .build();
/// assert_eq!(event.name(), "order.created");
/// assert_eq!(event.record().severity_number, Severity::Info.number());
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until built and sent"]
pub struct EventBuilder {
    /// Everything but the severity is a log record's: the setters delegate to it.
    log: LogBuilder,
    severity: Severity,
    severity_text: Option<Str>,
}

impl EventBuilder {
    /// An event named `name` (for example `order.created`; by convention a dotted name).
    pub fn new(name: impl Into<Str>) -> EventBuilder {
        EventBuilder {
            log: LogBuilder::new().with_event_name(name),
            severity: Severity::Info,
            severity_text: None,
        }
    }

    /// The event's domain, as the attribute `event.domain` ([`EVENT_DOMAIN`]).
    pub fn with_domain(self, domain: impl Into<Str>) -> Self {
        self.with_attribute(EVENT_DOMAIN, domain.into())
    }

    /// The severity (default [`Severity::Info`]); its text too, unless
    /// [`with_severity_text`](EventBuilder::with_severity_text) sets another.
    pub fn with_severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }

    /// The severity text (default the severity's own, e.g. `INFO`).
    pub fn with_severity_text(mut self, text: impl Into<Str>) -> Self {
        self.severity_text = Some(text.into());
        self
    }

    fn map(mut self, f: impl FnOnce(LogBuilder) -> LogBuilder) -> Self {
        self.log = f(self.log);
        self
    }

    /// Adds an attribute.
    pub fn with_attribute(self, key: impl Into<Str>, value: impl Into<AnyValue>) -> Self {
        self.map(|l| l.with_attribute(key, value))
    }

    /// Adds attributes.
    pub fn with_attributes(self, attributes: impl IntoIterator<Item = KeyValue>) -> Self {
        self.map(|l| l.with_attributes(attributes))
    }

    /// Adds the entries of a JSON object as attributes (anything but an object adds nothing).
    pub fn with_attributes_json(self, attributes: serde_json::Value) -> Self {
        self.map(|l| l.with_attributes_json(attributes))
    }

    /// The body (the event's payload).
    pub fn with_body(self, body: impl Into<AnyValue>) -> Self {
        self.map(|l| l.with_body(body))
    }

    /// A structured body from JSON (see [`LogBuilder::with_body_map`]).
    pub fn with_body_map(self, body: serde_json::Value) -> Self {
        self.map(|l| l.with_body_map(body))
    }

    /// When the event happened. Default: the time it is sent.
    pub fn with_timestamp(self, time: SystemTime) -> Self {
        self.map(|l| l.with_timestamp(time))
    }

    /// When the event was observed. Default: the time it is sent.
    pub fn with_observed_timestamp(self, time: SystemTime) -> Self {
        self.map(|l| l.with_observed_timestamp(time))
    }

    /// Correlates the event with the span `span_id` of trace `trace_id` instead of the current
    /// span (ids or their bytes); see [`LogBuilder::with_trace_context`].
    pub fn with_trace_context(
        self,
        trace_id: impl Into<TraceId>,
        span_id: impl Into<SpanId>,
    ) -> Self {
        self.map(|l| l.with_trace_context(trace_id, span_id))
    }

    /// Correlates the event with `context` (ids and trace flags) instead of the current span.
    pub fn with_span_context(self, context: &SpanContext) -> Self {
        self.map(|l| l.with_span_context(context))
    }

    /// Leaves the event uncorrelated, even inside a span.
    pub fn without_trace_context(self) -> Self {
        self.map(LogBuilder::without_trace_context)
    }

    /// The event, correlated as chosen.
    pub fn build(self) -> Event {
        let mut log = self.log;
        if let Some(text) = self.severity_text {
            log = log.with_severity_text(text);
        }
        // Sets the text only where none was given.
        log = log.with_severity(self.severity);
        Event {
            record: log.build(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_domain_and_default_severity() {
        let e = EventBuilder::new("order.created")
            .with_domain("ecommerce")
            .with_attribute("n", 2i64)
            .build();
        assert_eq!(e.name(), "order.created");
        let r = e.into_record();
        assert_eq!(r.event_name, "order.created");
        assert_eq!(r.severity_number, 9);
        assert_eq!(r.severity_text, "INFO");
        assert_eq!(r.attributes[0], KeyValue::new(EVENT_DOMAIN, "ecommerce"));
        assert_eq!(r.attributes[1], KeyValue::new("n", 2i64));
        let warn = EventBuilder::new("x").with_severity(Severity::Warn).build();
        assert_eq!(warn.record().severity_text, "WARN");
    }
}
