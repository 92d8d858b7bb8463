//! Span limits: how much a span may hold; what goes over is dropped and counted.

use crate::Error;
use otlp_proto::common::{AnyValue, KeyValue, Value};

/// How many attributes, events and links a span keeps, and how long attribute values may be.
/// What goes over a count limit is dropped and counted in the span's `dropped_*_count`; longer
/// string and byte values are truncated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpanLimits {
    attribute_count: u32,
    event_count: u32,
    link_count: u32,
    attribute_value_length: Option<usize>,
    event_attribute_count: u32,
    link_attribute_count: u32,
}

impl Default for SpanLimits {
    /// 128 of everything, and no value length limit (the specification's defaults).
    fn default() -> Self {
        SpanLimits {
            attribute_count: 128,
            event_count: 128,
            link_count: 128,
            attribute_value_length: None,
            event_attribute_count: 128,
            link_attribute_count: 128,
        }
    }
}

impl SpanLimits {
    /// The most attributes a span keeps.
    pub fn with_attribute_count(mut self, n: u32) -> Self {
        self.attribute_count = n;
        self
    }

    /// The most events a span keeps.
    pub fn with_event_count(mut self, n: u32) -> Self {
        self.event_count = n;
        self
    }

    /// The most links a span keeps.
    pub fn with_link_count(mut self, n: u32) -> Self {
        self.link_count = n;
        self
    }

    /// The longest string (in characters) or byte value kept; longer ones are truncated.
    /// Applies to every element of arrays and maps too.
    pub fn with_attribute_value_length(mut self, n: usize) -> Self {
        self.attribute_value_length = Some(n);
        self
    }

    /// The most attributes an event keeps.
    pub fn with_event_attribute_count(mut self, n: u32) -> Self {
        self.event_attribute_count = n;
        self
    }

    /// The most attributes a link keeps.
    pub fn with_link_attribute_count(mut self, n: u32) -> Self {
        self.link_attribute_count = n;
        self
    }

    /// The span attribute count limit.
    pub fn attribute_count(&self) -> u32 {
        self.attribute_count
    }

    /// The event count limit.
    pub fn event_count(&self) -> u32 {
        self.event_count
    }

    /// The link count limit.
    pub fn link_count(&self) -> u32 {
        self.link_count
    }

    /// The attribute value length limit, if any.
    pub fn attribute_value_length(&self) -> Option<usize> {
        self.attribute_value_length
    }

    /// The per-event attribute count limit.
    pub fn event_attribute_count(&self) -> u32 {
        self.event_attribute_count
    }

    /// The per-link attribute count limit.
    pub fn link_attribute_count(&self) -> u32 {
        self.link_attribute_count
    }

    /// The limits from the environment, looked up through `lookup` (`|k| std::env::var(k).ok()`
    /// for the process environment): `OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`,
    /// `OTEL_SPAN_EVENT_COUNT_LIMIT`, `OTEL_SPAN_LINK_COUNT_LIMIT`,
    /// `OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT`, `OTEL_LINK_ATTRIBUTE_COUNT_LIMIT`,
    /// `OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT`, with the general `OTEL_ATTRIBUTE_COUNT_LIMIT` and
    /// `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT` used where the specific one is unset. Unset or empty
    /// variables keep the defaults; a value that is not a non-negative integer is an error
    /// naming the variable.
    pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Result<SpanLimits, Error> {
        let get = |name: &str| -> Result<Option<u64>, Error> {
            match lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
            {
                None => Ok(None),
                Some(v) => v
                    .parse::<u64>()
                    .map(Some)
                    .map_err(|_| Error::env(name, &v, "expected a non-negative integer")),
            }
        };
        let count = |specific: &str, general: Option<u64>, default: u32| -> Result<u32, Error> {
            Ok(get(specific)?
                .or(general)
                .map_or(default, |n| u32::try_from(n).unwrap_or(u32::MAX)))
        };
        let general_count = get("OTEL_ATTRIBUTE_COUNT_LIMIT")?;
        let general_length = get("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT")?;
        let d = SpanLimits::default();
        Ok(SpanLimits {
            attribute_count: count(
                "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT",
                general_count,
                d.attribute_count,
            )?,
            event_count: count("OTEL_SPAN_EVENT_COUNT_LIMIT", None, d.event_count)?,
            link_count: count("OTEL_SPAN_LINK_COUNT_LIMIT", None, d.link_count)?,
            attribute_value_length: get("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT")?
                .or(general_length)
                .map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
            event_attribute_count: count(
                "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT",
                general_count,
                d.event_attribute_count,
            )?,
            link_attribute_count: count(
                "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT",
                general_count,
                d.link_attribute_count,
            )?,
        })
    }

    /// Truncates `value` to the value length limit, in place.
    pub(crate) fn truncate(&self, value: &mut AnyValue) {
        if let Some(max) = self.attribute_value_length {
            truncate_value(value, max);
        }
    }

    /// Truncates the values of `attributes` and keeps at most `max` of them; returns how many
    /// were dropped.
    pub(crate) fn apply(&self, attributes: &mut Vec<KeyValue>, max: u32) -> u32 {
        let max = max as usize;
        let dropped = attributes.len().saturating_sub(max);
        attributes.truncate(max);
        if self.attribute_value_length.is_some() {
            for kv in attributes.iter_mut() {
                if let Some(v) = kv.value.as_mut() {
                    self.truncate(v);
                }
            }
        }
        u32::try_from(dropped).unwrap_or(u32::MAX)
    }
}

fn truncate_value(value: &mut AnyValue, max: usize) {
    match value.value.as_mut() {
        Some(Value::StringValue(s)) => {
            if let Some((cut, _)) = s.as_str().char_indices().nth(max) {
                *s = s.as_str()[..cut].to_owned().into();
            }
        }
        Some(Value::BytesValue(b)) => b.truncate(max),
        Some(Value::ArrayValue(a)) => a.values.iter_mut().for_each(|v| truncate_value(v, max)),
        Some(Value::KvlistValue(m)) => m
            .values
            .iter_mut()
            .filter_map(|kv| kv.value.as_mut())
            .for_each(|v| truncate_value(v, max)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_env_and_fallbacks() {
        let vars = [
            ("OTEL_ATTRIBUTE_COUNT_LIMIT", "10"),
            ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "5"),
            ("OTEL_SPAN_EVENT_COUNT_LIMIT", "3"),
            ("OTEL_SPAN_LINK_COUNT_LIMIT", "2"),
            ("OTEL_LINK_ATTRIBUTE_COUNT_LIMIT", "1"),
            ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "4"),
        ];
        let lookup = |k: &str| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        };
        let l = SpanLimits::from_env(lookup).expect("valid");
        assert_eq!(l.attribute_count(), 5);
        assert_eq!(l.event_count(), 3);
        assert_eq!(l.link_count(), 2);
        assert_eq!(l.event_attribute_count(), 10);
        assert_eq!(l.link_attribute_count(), 1);
        assert_eq!(l.attribute_value_length(), Some(4));
        assert_eq!(
            SpanLimits::from_env(|_| None).expect("valid"),
            SpanLimits::default()
        );
        let err = SpanLimits::from_env(|k: &str| {
            (k == "OTEL_SPAN_EVENT_COUNT_LIMIT").then(|| "lots".to_owned())
        })
        .expect_err("malformed");
        assert!(err.to_string().contains("OTEL_SPAN_EVENT_COUNT_LIMIT"));
    }

    #[test]
    fn truncation() {
        let l = SpanLimits::default().with_attribute_value_length(3);
        let mut v = AnyValue::from(vec![AnyValue::from("héllo"), AnyValue::from(7i64)]);
        l.truncate(&mut v);
        assert_eq!(
            v,
            AnyValue::from(vec![AnyValue::from("hél"), AnyValue::from(7i64)])
        );
        let mut attrs = vec![KeyValue::new("a", "abcdef"), KeyValue::new("b", true)];
        assert_eq!(l.apply(&mut attrs, 1), 1);
        assert_eq!(attrs, vec![KeyValue::new("a", "abc")]);
    }
}
