//! A record written as an OTLP `Span`: straight into protobuf, back to front, or as the
//! message (for OTLP/JSON and tests).

use super::SpanRecord;
use bytes::Bytes;
use otlp_proto::common::KeyValue;
use otlp_proto::trace as proto;
use otlp_proto::{Message, RevBuf, WireType};

impl SpanRecord {
    /// The parent's span id as OTLP carries it: empty for a root span (all zero in the record).
    #[inline]
    pub(crate) fn parent(&self) -> &[u8] {
        if self.parent_span_id == [0; 8] {
            &[]
        } else {
            &self.parent_span_id
        }
    }

    /// Writes the span's fields back to front (the body of a `Span` message, attributes
    /// settled beforehand), in field order on the wire.
    pub(crate) fn encode_fields(&mut self, buf: &mut RevBuf) {
        if self.flags != 0 {
            buf.put_fixed32(self.flags);
            buf.put_key(16, WireType::Fixed32);
        }
        if self.status_code != 0 || !self.status_message.is_empty() {
            let mark = buf.len();
            if self.status_code != 0 {
                buf.put_varint(self.status_code as u64);
                buf.put_key(3, WireType::Varint);
            }
            if !self.status_message.is_empty() {
                buf.put_bytes_field(2, self.status_message.as_bytes());
            }
            buf.finish_len_delimited(15, mark);
        }
        put_u32(buf, 14, self.dropped_links_count);
        put_repeated(buf, 13, &self.links);
        put_u32(buf, 12, self.dropped_events_count);
        put_repeated(buf, 11, &self.events);
        put_u32(buf, 10, self.dropped_attributes_count);
        let mut plain = true;
        for kv in self.attributes.iter().rev() {
            plain &= put_attribute(buf, 9, kv);
        }
        self.attributes_plain = plain;
        buf.put_fixed64(self.end_time);
        buf.put_key(8, WireType::Fixed64);
        buf.put_fixed64(self.start_time);
        buf.put_key(7, WireType::Fixed64);
        if self.kind != 0 {
            // Enum values are encoded as int32: a negative one would take ten bytes.
            buf.put_varint(i64::from(self.kind) as u64);
            buf.put_key(6, WireType::Varint);
        }
        if !self.name.is_empty() {
            buf.put_bytes_field(5, self.name.as_bytes());
        }
        let parent = self.parent();
        if !parent.is_empty() {
            buf.put_bytes_field(4, parent);
        }
        if !self.trace_state.is_empty() {
            buf.put_bytes_field(3, self.trace_state.as_bytes());
        }
        buf.put_bytes_field(2, &self.span_id);
        buf.put_bytes_field(1, &self.trace_id);
    }

    /// The OTLP message (for the OTLP/JSON encoding and for tests), attributes as they are.
    #[cfg_attr(not(feature = "json"), allow(dead_code))]
    pub(crate) fn to_otlp(&self) -> proto::Span {
        let parent = Bytes::copy_from_slice(self.parent());
        proto::Span {
            trace_id: Bytes::copy_from_slice(&self.trace_id),
            span_id: Bytes::copy_from_slice(&self.span_id),
            trace_state: self.trace_state.clone(),
            parent_span_id: parent,
            name: self.name.clone(),
            kind: self.kind,
            start_time_unix_nano: self.start_time,
            end_time_unix_nano: self.end_time,
            attributes: self.attributes.clone(),
            dropped_attributes_count: self.dropped_attributes_count,
            events: self.events.clone(),
            dropped_events_count: self.dropped_events_count,
            links: self.links.clone(),
            dropped_links_count: self.dropped_links_count,
            status: (self.status_code != 0 || !self.status_message.is_empty()).then(|| {
                proto::Status {
                    message: self.status_message.clone(),
                    code: self.status_code,
                }
            }),
            flags: self.flags,
        }
    }
}

fn put_u32(buf: &mut RevBuf, tag: u32, v: u32) {
    if v != 0 {
        buf.put_varint(u64::from(v));
        buf.put_key(tag, WireType::Varint);
    }
}

/// One attribute as the field `tag`: what `KeyValue`'s message encoding writes, with the
/// scalar and string values (nearly all attributes) written inline rather than through the
/// generic message and oneof code. Returns whether the attribute owns nothing to release
/// (see [`Str::is_plain`]), found on the way.
#[inline]
fn put_attribute(buf: &mut RevBuf, tag: u32, kv: &KeyValue) -> bool {
    use otlp_proto::common::{AnyValue, Value};
    let mark = buf.len();
    if kv.key_strindex != 0 {
        kv.encode_fields(buf);
        buf.finish_len_delimited(tag, mark);
        return false;
    }
    let mut plain = kv.key.is_plain();
    if let Some(value) = &kv.value {
        let value_mark = buf.len();
        match value {
            AnyValue {
                value: Some(Value::StringValue(s)),
            } => {
                plain &= s.is_plain();
                buf.put_bytes_field(1, s.as_bytes());
            }
            AnyValue {
                value: Some(Value::BoolValue(b)),
            } => {
                buf.put_u8(u8::from(*b));
                buf.put_key(2, WireType::Varint);
            }
            AnyValue {
                value: Some(Value::IntValue(i)),
            } => {
                buf.put_varint(*i as u64);
                buf.put_key(3, WireType::Varint);
            }
            AnyValue {
                value: Some(Value::DoubleValue(d)),
            } => {
                buf.put_fixed64(d.to_bits());
                buf.put_key(4, WireType::Fixed64);
            }
            other => {
                plain = false;
                other.encode_fields(buf);
            }
        }
        buf.finish_len_delimited(2, value_mark);
    }
    if !kv.key.is_empty() {
        buf.put_bytes_field(1, kv.key.as_bytes());
    }
    buf.finish_len_delimited(tag, mark);
    plain
}

fn put_repeated<M: Message>(buf: &mut RevBuf, tag: u32, items: &[M]) {
    for item in items.iter().rev() {
        let mark = buf.len();
        item.encode_fields(buf);
        buf.finish_len_delimited(tag, mark);
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_record as record;
    use super::*;
    use crate::pipeline::PipelineItem;
    use crate::trace::SpanLimits;
    use otlp_proto::Str;
    use otlp_proto::common::{AnyValue, ArrayValue, KeyValueList, Value};

    #[test]
    fn encodes_exactly_as_the_otlp_message() {
        let mut r = record(SpanLimits::default());
        let rec = r.get_mut().expect("record");
        rec.parent_span_id = [3; 8];
        rec.trace_state = "a=b".into();
        rec.kind = proto::SpanKind::Server as i32;
        rec.flags = 0x301;
        rec.push_attribute(KeyValue::new("k", "v"));
        rec.push_attribute(KeyValue::new("n", 7i64));
        // Every kind of value, and the edge cases of the inline attribute encoding.
        rec.push_attribute(KeyValue::new("negative", -3i64));
        rec.push_attribute(KeyValue::new("big", i64::MAX));
        rec.push_attribute(KeyValue::new("yes", true));
        rec.push_attribute(KeyValue::new("no", false));
        rec.push_attribute(KeyValue::new("ratio", 0.25f64));
        rec.push_attribute(KeyValue::new("zero", 0.0f64));
        rec.push_attribute(KeyValue::new("empty string", ""));
        rec.push_attribute(KeyValue::new("long", "x".repeat(300)));
        rec.push_attribute(KeyValue::new("", "empty key"));
        rec.push_attribute(KeyValue::new(
            "bytes",
            AnyValue {
                value: Some(Value::BytesValue(Bytes::from_static(b"\x00\x01"))),
            },
        ));
        rec.push_attribute(KeyValue::new(
            "array",
            AnyValue {
                value: Some(Value::ArrayValue(ArrayValue {
                    values: vec![AnyValue::from(1i64), AnyValue::from("a")],
                })),
            },
        ));
        rec.push_attribute(KeyValue::new(
            "map",
            AnyValue {
                value: Some(Value::KvlistValue(KeyValueList {
                    values: vec![KeyValue::new("inner", true)],
                })),
            },
        ));
        rec.push_attribute(KeyValue::new("empty value", AnyValue { value: None }));
        rec.push_attribute(KeyValue {
            key: "no value".into(),
            value: None,
            key_strindex: 0,
        });
        rec.push_attribute(KeyValue {
            key: Str::new(),
            value: Some(AnyValue::from(1i64)),
            key_strindex: 4,
        });
        rec.events.push(proto::Event {
            time_unix_nano: 15,
            name: "e".into(),
            ..proto::Event::default()
        });
        rec.dropped_links_count = 2;
        rec.status_code = proto::StatusCode::Error as i32;
        rec.status_message = "boom".into();
        rec.settle_attributes();
        let mut ours = RevBuf::new();
        rec.encode_fields(&mut ours);
        let expected = rec.to_otlp().encode_to_bytes();
        assert_eq!(ours.as_slice(), &expected[..]);
        // And a minimal span: no optional field written.
        let mut r = record(SpanLimits::default());
        let rec = r.get_mut().expect("record");
        let mut ours = RevBuf::new();
        rec.encode_fields(&mut ours);
        assert_eq!(ours.as_slice(), &rec.to_otlp().encode_to_bytes()[..]);
    }

    #[test]
    fn encoding_finds_whether_the_attributes_own_anything() {
        let encode = |attributes: Vec<KeyValue>| {
            let mut r = record(SpanLimits::default());
            let rec = r.get_mut().expect("record");
            for kv in attributes {
                rec.push_attribute(kv);
            }
            rec.encode_fields(&mut RevBuf::new());
            rec.attributes_plain
        };
        let long = "a value longer than thirty bytes, so shared".to_string();
        assert!(encode(vec![]));
        assert!(encode(vec![
            KeyValue::new("static", "value"),
            KeyValue::new(String::from("inline key"), String::from("inline value")),
            KeyValue::new("n", 1i64),
            KeyValue::new("b", true),
            KeyValue::new("d", 0.5f64),
        ]));
        assert!(!encode(vec![
            KeyValue::new("k", "v"),
            KeyValue::new("long", long.clone())
        ]));
        assert!(!encode(vec![KeyValue::new(long, 1i64)]));
        assert!(!encode(vec![KeyValue::new(
            "bytes",
            Bytes::from_static(b"x")
        )]));
        assert!(!encode(vec![KeyValue::new(
            "array",
            AnyValue::new(Value::ArrayValue(ArrayValue { values: vec![] }))
        )]));
        // A record that was never encoded (a span dropped by policy) is dropped normally.
        let r = record(SpanLimits::default());
        assert!(!r.get().expect("record").attributes_plain);
    }

    #[test]
    fn the_size_hint_is_in_the_range_of_the_encoded_size() {
        let mut r = record(SpanLimits::default());
        let rec = r.get_mut().expect("record");
        rec.name = "GET /api/users/{id}".into();
        rec.push_attribute(KeyValue::new("http.request.method", "GET"));
        rec.push_attribute(KeyValue::new("http.response.status_code", 200i64));
        rec.push_attribute(KeyValue::new("server.address", "api.example.com"));
        rec.push_attribute(KeyValue::new("cache.hit", true));
        let mut buf = RevBuf::new();
        rec.encode_fields(&mut buf);
        let real = buf.len();
        let hint = r.encoded_size_hint();
        assert!(
            hint * 2 >= real && hint <= real * 2,
            "hint {hint}, real {real}"
        );
    }
}
