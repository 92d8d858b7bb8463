//! From `tracing` fields to OTLP attributes, and the `otel.*` fields that are instructions.

use otlp_proto::Str;
use otlp_proto::common::{AnyValue, KeyValue};
use otlp_sdk::trace::{SpanBuilder, SpanKind};
use std::fmt;
use tracing::field::{Field, Visit};

/// A status set through `otel.status_code`.
#[derive(Clone, Copy)]
pub(crate) enum StatusCode {
    Ok,
    Error,
}

pub(crate) fn parse_kind(s: &str) -> Option<SpanKind> {
    let kinds = [
        ("server", SpanKind::Server),
        ("client", SpanKind::Client),
        ("producer", SpanKind::Producer),
        ("consumer", SpanKind::Consumer),
        ("internal", SpanKind::Internal),
    ];
    kinds
        .into_iter()
        .find(|(name, _)| s.eq_ignore_ascii_case(name))
        .map(|(_, kind)| kind)
}

pub(crate) fn parse_status(s: &str) -> Option<StatusCode> {
    if s.eq_ignore_ascii_case("ok") {
        Some(StatusCode::Ok)
    } else if s.eq_ignore_ascii_case("error") {
        Some(StatusCode::Error)
    } else {
        None
    }
}

/// Where attributes go: a vector (events, log records, updates), or straight into the record
/// of the span being built (new spans: no intermediate buffer, no copy).
pub(crate) trait AttributeSink {
    fn add(&mut self, key: &'static str, value: AnyValue);
}

impl AttributeSink for Vec<KeyValue> {
    fn add(&mut self, key: &'static str, value: AnyValue) {
        self.push(KeyValue::new(key, value));
    }
}

impl AttributeSink for SpanBuilder<'_> {
    #[inline]
    fn add(&mut self, key: &'static str, value: AnyValue) {
        self.add_attribute(key, value);
    }
}

/// Where a [`Visitor`] puts the fields it reads: typed values, and text (which may carry
/// instructions such as `otel.kind` or an event's `message`).
pub(crate) trait Fields {
    fn value(&mut self, field: &Field, value: AnyValue);
    fn string(&mut self, field: &Field, value: Str);
}

/// The one `Visit` implementation: maps each `tracing` field type to an OTLP value.
pub(crate) struct Visitor<'a, F>(pub(crate) &'a mut F);

impl<F: Fields> Visit for Visitor<'_, F> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.value(field, value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.value(field, value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.value(field, int_or_string(value));
    }
    fn record_i128(&mut self, field: &Field, value: i128) {
        self.0.value(field, int_or_string(value));
    }
    fn record_u128(&mut self, field: &Field, value: u128) {
        self.0.value(field, int_or_string(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.value(field, value.into());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        // Short strings are copied inline: no allocation.
        self.0.string(field, Str::copy_from(value));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0.string(field, value.to_string().into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.string(field, format!("{value:?}").into());
    }
}

/// Collects a span's fields: attributes (into `A`), and the `otel.*` instructions.
pub(crate) struct SpanFields<A> {
    pub(crate) attributes: A,
    pub(crate) name: Option<Str>,
    pub(crate) kind: Option<SpanKind>,
    pub(crate) status: Option<StatusCode>,
    pub(crate) status_description: Option<Str>,
}

impl<A> SpanFields<A> {
    pub(crate) fn new(attributes: A) -> Self {
        SpanFields {
            attributes,
            name: None,
            kind: None,
            status: None,
            status_description: None,
        }
    }
}

impl<A: AttributeSink> Fields for SpanFields<A> {
    fn string(&mut self, field: &Field, value: Str) {
        match field.name() {
            "otel.name" => self.name = Some(value),
            "otel.kind" => self.kind = parse_kind(&value),
            "otel.status_code" => self.status = parse_status(&value),
            "otel.status_description" => self.status_description = Some(value),
            name => self.attributes.add(name, value.into()),
        }
    }

    fn value(&mut self, field: &Field, value: AnyValue) {
        self.attributes.add(field.name(), value);
    }
}

pub(crate) fn int_or_string<T: TryInto<i64> + ToString + Copy>(v: T) -> AnyValue {
    v.try_into()
        .map_or_else(|_| AnyValue::from(v.to_string()), AnyValue::from)
}

/// Collects an event's fields: its `message` (the span event's name) and attributes.
#[derive(Default)]
pub(crate) struct EventFields {
    pub(crate) message: Option<Str>,
    pub(crate) attributes: Vec<KeyValue>,
}

impl Fields for EventFields {
    fn value(&mut self, field: &Field, value: AnyValue) {
        self.attributes.add(field.name(), value);
    }

    fn string(&mut self, field: &Field, value: Str) {
        if field.name() == "message" {
            self.message = Some(value);
        } else {
            self.value(field, value.into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsing() {
        assert_eq!(parse_kind("Server"), Some(SpanKind::Server));
        assert_eq!(parse_kind("CONSUMER"), Some(SpanKind::Consumer));
        assert_eq!(parse_kind("nope"), None);
        assert!(matches!(parse_status("OK"), Some(StatusCode::Ok)));
        assert!(matches!(parse_status("error"), Some(StatusCode::Error)));
        assert!(parse_status("unset").is_none());
        assert_eq!(int_or_string(7u64), AnyValue::from(7i64));
        assert_eq!(
            int_or_string(u64::MAX),
            AnyValue::from(u64::MAX.to_string())
        );
    }
}
