//! The [`Message`] trait and the macros that define every OTLP message once, for both encodings.

use crate::decode::Reader;
use crate::encode::RevBuf;
use crate::error::DecodeError;
#[cfg(feature = "json")]
use crate::json::{JsonReader, JsonWriter};
use crate::{DecodeLimits, Encoding, WireType};
use bytes::Bytes;
use std::fmt::Debug;

/// A protobuf message, with OTLP/JSON support under the `json` feature. Implemented by
/// [`message!`](crate::message!) for every OTLP type; use the provided methods.
///
#[cfg_attr(feature = "json", doc = "```")]
#[cfg_attr(not(feature = "json"), doc = "```ignore")]
/// use otlp_proto::{Message, common::KeyValue, common::AnyValue};
/// let kv = KeyValue::new("http.method", AnyValue::from("GET"));
/// let wire = kv.encode_to_bytes();
/// assert_eq!(KeyValue::decode(&wire).unwrap(), kv);
/// let json = kv.to_json();
/// assert_eq!(std::str::from_utf8(&json).unwrap(), r#"{"key":"http.method","value":{"stringValue":"GET"}}"#);
/// assert_eq!(KeyValue::from_json(&json.into()).unwrap(), kv);
/// ```
pub trait Message: Default + Clone + PartialEq + Debug + Send + Sync + 'static {
    /// Writes the fields, back to front, into `buf` (no length prefix of its own).
    fn encode_fields(&self, buf: &mut RevBuf);

    /// Decodes one field. Unknown fields are skipped.
    fn merge_field(
        &mut self,
        tag: u32,
        wt: WireType,
        r: &mut Reader<'_>,
    ) -> Result<(), DecodeError>;

    /// Writes the message as an OTLP/JSON object.
    #[cfg(feature = "json")]
    fn write_json(&self, w: &mut JsonWriter);

    /// Decodes one OTLP/JSON field; returns `false` for a key this message does not know.
    #[cfg(feature = "json")]
    fn merge_json_field(&mut self, key: &[u8], r: &mut JsonReader<'_>)
    -> Result<bool, DecodeError>;

    /// Decodes fields until the reader's current message ends.
    fn merge(&mut self, r: &mut Reader<'_>) -> Result<(), DecodeError> {
        while !r.at_end() {
            let (tag, wt) = r.key()?;
            self.merge_field(tag, wt, r)?;
        }
        Ok(())
    }

    /// Decodes an OTLP/JSON object into `self`, skipping unknown keys and `null` values.
    #[cfg(feature = "json")]
    fn read_json(&mut self, r: &mut JsonReader<'_>) -> Result<(), DecodeError> {
        r.begin_object()?;
        let mut first = true;
        while let Some(key) = r.next_key(first)? {
            first = false;
            if r.null()? {
                continue;
            }
            if !self.merge_json_field(&key, r)? {
                r.skip_value()?;
            }
        }
        Ok(())
    }

    /// Encodes into `buf` (appending in front of what it holds).
    fn encode(&self, buf: &mut RevBuf) {
        self.encode_fields(buf);
    }

    /// Encodes into a new buffer.
    fn encode_to_bytes(&self) -> Bytes {
        self.encode_to_bytes_with_capacity(0)
    }

    /// Encodes into a new buffer with room for `len` bytes: a message that knows a bound of
    /// its length is then written without the buffer growing (and copying what it holds).
    fn encode_to_bytes_with_capacity(&self, len: usize) -> Bytes {
        let mut buf = RevBuf::with_capacity(len);
        self.encode_fields(&mut buf);
        buf.into_bytes()
    }

    /// Decodes a protobuf message. Strings and bytes share `buf`'s storage.
    fn decode(buf: &Bytes) -> Result<Self, DecodeError> {
        let mut m = Self::default();
        m.merge(&mut Reader::new(buf))?;
        Ok(m)
    }

    /// Decodes a protobuf message within `limits`, for input from anyone.
    fn decode_with(buf: &Bytes, limits: &DecodeLimits) -> Result<Self, DecodeError> {
        decode_measured(Encoding::Protobuf, buf, limits).map(|(m, _)| m)
    }

    /// Decodes `buf` in `encoding`, limited only in nesting depth. OTLP/JSON in a build without
    /// the `json` feature is an [`Unsupported`](crate::DecodeErrorKind::Unsupported) error.
    fn decode_as(encoding: Encoding, buf: &Bytes) -> Result<Self, DecodeError> {
        decode_measured(encoding, buf, &DecodeLimits::unlimited()).map(|(m, _)| m)
    }

    /// The message as OTLP/JSON text.
    #[cfg(feature = "json")]
    fn to_json(&self) -> Vec<u8> {
        let mut w = JsonWriter::new();
        self.write_json(&mut w);
        w.into_inner()
    }

    /// Decodes OTLP/JSON text (one object, surrounding whitespace allowed).
    #[cfg(feature = "json")]
    fn from_json(src: &Bytes) -> Result<Self, DecodeError> {
        Self::from_json_with(src, &DecodeLimits::unlimited())
    }

    /// Decodes OTLP/JSON text within `limits`, for input from anyone.
    #[cfg(feature = "json")]
    fn from_json_with(src: &Bytes, limits: &DecodeLimits) -> Result<Self, DecodeError> {
        decode_measured(Encoding::Json, src, limits).map(|(m, _)| m)
    }
}

/// Decodes `body` (protobuf, or one OTLP/JSON object) within `limits`; returns the message and
/// the decoded bytes counted, what it takes in memory beyond `body`.
pub(crate) fn decode_measured<M: Message>(
    encoding: Encoding,
    body: &Bytes,
    limits: &DecodeLimits,
) -> Result<(M, usize), DecodeError> {
    let mut m = M::default();
    let spent = match encoding {
        Encoding::Protobuf => {
            let mut r = Reader::with_limits(body, limits);
            m.merge(&mut r)?;
            r.decoded_bytes()
        }
        #[cfg(feature = "json")]
        Encoding::Json => {
            let mut r = JsonReader::with_limits(body, limits);
            m.read_json(&mut r)?;
            r.finish()?;
            r.decoded_bytes()
        }
        #[cfg(not(feature = "json"))]
        Encoding::Json => return Err(crate::request::json_unavailable()),
    };
    Ok((m, spent))
}

/// A protobuf `oneof`: an enum whose variants are fields of the containing message.
pub trait Oneof: Clone + PartialEq + Debug + Send + Sync + 'static {
    /// Writes the variant that is set.
    fn encode(&self, buf: &mut RevBuf);
    /// Decodes the variant with field number `tag` into `slot`.
    fn merge(
        slot: &mut Option<Self>,
        tag: u32,
        wt: WireType,
        r: &mut Reader<'_>,
    ) -> Result<(), DecodeError>;
    /// Writes the variant as a field of the enclosing JSON object.
    #[cfg(feature = "json")]
    fn write_json(&self, w: &mut JsonWriter);
    /// Decodes the JSON field `key` if it names a variant; returns whether it did.
    #[cfg(feature = "json")]
    fn read_json(
        slot: &mut Option<Self>,
        key: &[u8],
        r: &mut JsonReader<'_>,
    ) -> Result<bool, DecodeError>;
}

/// Defines an OTLP message: the struct and its [`Message`] implementation.
///
/// Each field is `name: Type = number => kind "jsonName";` where `kind` names a module of
/// [`codec`](crate::codec). A `oneof` is a field of kind `oneof` listing all its numbers
/// (`value: Option<V> = 4 | 6 => oneof "value";`). Declare fields in field-number order (a
/// `oneof` at its smallest number): they are written in that order, as prost does.
#[macro_export]
#[doc(hidden)]
macro_rules! message {
    (
        $(#[$m:meta])*
        $name:ident {
            $( $(#[$fm:meta])* $field:ident : $ty:ty = $($tag:literal)|+ => $kind:ident $json:literal ; )*
        }
    ) => {
        $(#[$m])*
        #[derive(Clone, PartialEq, Debug, Default)]
        pub struct $name {
            $( $(#[$fm])* pub $field: $ty, )*
        }

        impl $crate::Message for $name {
            #[inline]
            fn encode_fields(&self, buf: &mut $crate::RevBuf) {
                $crate::__rev_encode!(self buf; $( ($field [$($tag)|+] $kind) )*);
            }

            #[inline]
            #[allow(clippy::manual_range_patterns)]
            fn merge_field(
                &mut self,
                tag: u32,
                wt: $crate::WireType,
                r: &mut $crate::decode::Reader<'_>,
            ) -> Result<(), $crate::DecodeError> {
                match tag {
                    $( $($tag)|+ => $crate::__merge!($kind, self.$field, tag, wt, r), )*
                    _ => r.skip(tag, wt),
                }
            }

            $crate::__message_json!($( ($field $kind $json) )*);
        }
    };
}

// The JSON methods of `message!` and `oneof!` come from these helpers, defined once with the
// `json` feature and once without: a `cfg` written in an exported macro's expansion would be
// tested against the features of the crate calling it (otlp-otap defines messages too), not
// against this crate's, which decide whether the `Message` trait has those methods.

/// The OTLP/JSON methods of a [`message!`](crate::message!) type.
#[cfg(feature = "json")]
#[macro_export]
#[doc(hidden)]
macro_rules! __message_json {
    ($( ($field:ident $kind:ident $json:literal) )*) => {
        fn write_json(&self, w: &mut $crate::json::JsonWriter) {
            w.begin_object();
            $( $crate::codec::$kind::json($crate::json_key!($json), &self.$field, w); )*
            w.end_object();
        }

        fn merge_json_field(
            &mut self,
            key: &[u8],
            r: &mut $crate::json::JsonReader<'_>,
        ) -> Result<bool, $crate::DecodeError> {
            $( if $crate::__json_field!($kind, self.$field, key, $json, stringify!($field), r)? {
                return Ok(true);
            } )*
            Ok(false)
        }
    };
}

/// Without the `json` feature a message has no OTLP/JSON methods.
#[cfg(not(feature = "json"))]
#[macro_export]
#[doc(hidden)]
macro_rules! __message_json {
    ($($t:tt)*) => {};
}

/// Expands field encoders in reverse order (the buffer is written back to front).
#[macro_export]
#[doc(hidden)]
macro_rules! __rev_encode {
    ($s:ident $b:ident;) => {};
    ($s:ident $b:ident; ($f:ident [$t:literal $(| $more:literal)*] $k:ident) $($rest:tt)*) => {
        $crate::__rev_encode!($s $b; $($rest)*);
        $crate::codec::$k::encode($t, &$s.$f, $b);
    };
}

/// Decodes one protobuf field; a `oneof` also needs the field number to pick its variant.
#[macro_export]
#[doc(hidden)]
macro_rules! __merge {
    (oneof, $f:expr, $tag:ident, $wt:ident, $r:ident) => {
        $crate::Oneof::merge(&mut $f, $tag, $wt, $r)
    };
    ($k:ident, $f:expr, $tag:ident, $wt:ident, $r:ident) => {
        $crate::codec::$k::merge(&mut $f, $wt, $r)
    };
}

/// Decodes one JSON field if `key` names it; a `oneof` is keyed by its variants' names.
#[macro_export]
#[doc(hidden)]
macro_rules! __json_field {
    (oneof, $f:expr, $key:ident, $json:literal, $name:expr, $r:ident) => {
        $crate::Oneof::read_json(&mut $f, $key, $r)
    };
    ($k:ident, $f:expr, $key:ident, $json:literal, $name:expr, $r:ident) => {
        if $key == $json.as_bytes() || $key == $name.as_bytes() {
            $crate::codec::$k::read_json(&mut $f, $r).map(|()| true)
        } else {
            Ok(false)
        }
    };
}

/// Defines a `oneof` enum and its [`Oneof`] implementation. Each variant is
/// `Name(Type) = number => kind "jsonName" "proto_name";`.
#[macro_export]
#[doc(hidden)]
macro_rules! oneof {
    (
        $(#[$m:meta])*
        $name:ident {
            $( $(#[$vm:meta])* $variant:ident ( $ty:ty ) = $tag:literal => $kind:ident $json:literal $alt:literal ; )+
        }
    ) => {
        $(#[$m])*
        #[derive(Clone, PartialEq, Debug)]
        pub enum $name {
            $( $(#[$vm])* $variant($ty), )+
        }

        impl $crate::Oneof for $name {
            #[inline]
            fn encode(&self, buf: &mut $crate::RevBuf) {
                match self {
                    $( $name::$variant(v) => $crate::codec::$kind::encode_always($tag, v, buf), )+
                }
            }

            #[inline]
            fn merge(
                slot: &mut Option<Self>,
                tag: u32,
                wt: $crate::WireType,
                r: &mut $crate::decode::Reader<'_>,
            ) -> Result<(), $crate::DecodeError> {
                match tag {
                    $( $tag => {
                        // The member already set, seen again: a message merges into it, as
                        // protobuf parsers do (a scalar's `merge_value` overwrites it).
                        if let Some($name::$variant(v)) = slot {
                            return $crate::codec::$kind::merge_value(v, wt, r);
                        }
                        let mut v: $ty = Default::default();
                        $crate::codec::$kind::merge_value(&mut v, wt, r)?;
                        *slot = Some($name::$variant(v));
                        Ok(())
                    } )+
                    _ => r.skip(tag, wt),
                }
            }

            $crate::__oneof_json!($name; $( ($variant $ty, $kind $json $alt) )+);
        }
    };
}

/// The OTLP/JSON methods of a [`oneof!`](crate::oneof!) type.
#[cfg(feature = "json")]
#[macro_export]
#[doc(hidden)]
macro_rules! __oneof_json {
    ($name:ident; $( ($variant:ident $ty:ty, $kind:ident $json:literal $alt:literal) )+) => {
        fn write_json(&self, w: &mut $crate::json::JsonWriter) {
            match self {
                $( $name::$variant(v) => $crate::codec::$kind::json_always($crate::json_key!($json), v, w), )+
            }
        }

        #[allow(unreachable_patterns)]
        fn read_json(
            slot: &mut Option<Self>,
            key: &[u8],
            r: &mut $crate::json::JsonReader<'_>,
        ) -> Result<bool, $crate::DecodeError> {
            match key {
                $( k if k == $json.as_bytes() || k == $alt.as_bytes() => {
                    let mut v: $ty = Default::default();
                    $crate::codec::$kind::read_json_value(&mut v, r)?;
                    *slot = Some($name::$variant(v));
                    Ok(true)
                } )+
                _ => Ok(false),
            }
        }
    };
}

/// Without the `json` feature a oneof has no OTLP/JSON methods.
#[cfg(not(feature = "json"))]
#[macro_export]
#[doc(hidden)]
macro_rules! __oneof_json {
    ($($t:tt)*) => {};
}

/// Formats a JSON member key as the writer wants it: `,"name":`.
#[macro_export]
#[doc(hidden)]
macro_rules! json_key {
    ($json:literal) => {
        concat!(",\"", $json, "\":")
    };
}

#[cfg(test)]
mod tests {
    use crate::Message;
    use crate::common::{AnyValue, KeyValue, Value};
    use crate::metrics::{Gauge, Metric, MetricData, NumberDataPoint, Sum};
    use bytes::Bytes;

    fn decode<M: Message>(parts: &[&M]) -> M {
        let wire: Vec<u8> = parts.iter().flat_map(|m| m.encode_to_bytes()).collect();
        M::decode(&Bytes::from(wire)).expect("decodes")
    }

    #[test]
    fn a_oneof_member_seen_twice_merges_if_a_message_and_is_replaced_if_not() {
        // Protobuf parsers merge repeated instances of an embedded message, oneof members too
        // (the conformance suite's ValidDataOneof.MESSAGE.Merge); prost does.
        let a = AnyValue::from(vec![KeyValue::new("a", 1)]);
        let b = AnyValue::from(vec![KeyValue::new("b", 2)]);
        assert_eq!(
            decode(&[&a, &b]),
            AnyValue::from(vec![KeyValue::new("a", 1), KeyValue::new("b", 2)])
        );
        let point = |v: i64| NumberDataPoint {
            value: Some(crate::metrics::NumberValue::AsInt(v)),
            ..NumberDataPoint::default()
        };
        let gauge = |v: i64| Metric {
            data: Some(MetricData::Gauge(Gauge {
                data_points: vec![point(v)],
            })),
            ..Metric::default()
        };
        let both = Metric {
            data: Some(MetricData::Gauge(Gauge {
                data_points: vec![point(1), point(2)],
            })),
            ..Metric::default()
        };
        assert_eq!(decode(&[&gauge(1), &gauge(2)]), both);
        // Another member replaces the first; a scalar member seen twice keeps the last value.
        let sum = Metric {
            data: Some(MetricData::Sum(Sum::default())),
            ..Metric::default()
        };
        assert_eq!(decode(&[&gauge(1), &sum]), sum);
        let (x, y) = (AnyValue::from("x"), AnyValue::from("y"));
        assert_eq!(decode(&[&x, &y]), y);
        assert_eq!(
            decode(&[&a, &y]).value,
            Some(Value::StringValue("y".into()))
        );
    }
}
