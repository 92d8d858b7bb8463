//! Trace and span ids: the `hex_id` codec with the id's length checked while decoding.

use super::*;
use crate::error::DecodeErrorKind;

/// Trace and span ids: `bytes` on the wire, hex in OTLP/JSON, of one exact length or absent.
/// Any other length is refused while decoding, in both codecs, as the Collector refuses it: an
/// id that is not one is no id a backend can use, and a receiver must not record it.
macro_rules! id_codec {
    ($name:ident, $len:literal, $detail:literal) => {
        #[doc = concat!("A ", $detail, ".")]
        pub mod $name {
            pub use super::hex_id::{encode, encode_always};
            #[cfg(feature = "json")]
            pub use super::hex_id::{json, json_always};
            use super::*;

            fn check(v: &Bytes) -> bool {
                v.is_empty() || v.len() == $len
            }
            #[inline]
            pub fn merge(
                v: &mut Bytes,
                wt: WireType,
                r: &mut Reader<'_>,
            ) -> Result<(), DecodeError> {
                super::bytes::merge(v, wt, r)?;
                if check(v) {
                    Ok(())
                } else {
                    Err(r.err(DecodeErrorKind::BadId, concat!("a ", $detail)))
                }
            }
            pub use merge as merge_value;
            #[cfg(feature = "json")]
            #[inline]
            pub fn read_json(v: &mut Bytes, r: &mut JsonReader<'_>) -> Result<(), DecodeError> {
                super::hex_id::read_json(v, r)?;
                if check(v) {
                    Ok(())
                } else {
                    Err(r.err(DecodeErrorKind::BadId, concat!("a ", $detail)))
                }
            }
            #[cfg(feature = "json")]
            pub use read_json as read_json_value;
        }
    };
}

id_codec!(
    trace_id,
    16,
    "trace id is 16 bytes (32 hex digits) or absent"
);
id_codec!(span_id, 8, "span id is 8 bytes (16 hex digits) or absent");

#[cfg(test)]
mod tests {
    use crate::DecodeErrorKind;
    use crate::Message;
    #[cfg(feature = "json")]
    use crate::logs::LogRecord;
    use crate::trace::{Link, Span};
    #[cfg(feature = "json")]
    use bytes::Bytes;

    fn span(trace: usize, span: usize, parent: usize) -> Span {
        Span {
            trace_id: vec![1; trace].into(),
            span_id: vec![2; span].into(),
            parent_span_id: vec![3; parent].into(),
            ..Span::default()
        }
    }

    #[test]
    fn ids_of_their_length_or_absent_decode_in_both_codecs() {
        for s in [span(16, 8, 8), span(16, 8, 0), span(0, 0, 0)] {
            assert_eq!(Span::decode(&s.encode_to_bytes()).expect("protobuf"), s);
            #[cfg(feature = "json")]
            assert_eq!(Span::from_json(&Bytes::from(s.to_json())).expect("json"), s);
        }
    }

    #[test]
    fn ids_of_any_other_length_are_refused_in_both_codecs() {
        for s in [
            span(17, 8, 0),
            span(15, 8, 0),
            span(16, 9, 0),
            span(16, 8, 1),
        ] {
            let e = Span::decode(&s.encode_to_bytes()).expect_err("protobuf");
            assert_eq!(e.kind(), DecodeErrorKind::BadId, "{e}");
            #[cfg(feature = "json")]
            {
                let e = Span::from_json(&Bytes::from(s.to_json())).expect_err("json");
                assert_eq!(e.kind(), DecodeErrorKind::BadId, "{e}");
            }
        }
        let link = Link {
            trace_id: vec![1; 16].into(),
            span_id: vec![2; 4].into(),
            ..Link::default()
        };
        assert!(Link::decode(&link.encode_to_bytes()).is_err());
    }

    #[cfg(feature = "json")]
    #[test]
    fn a_json_id_of_the_wrong_length_is_named_in_the_error() {
        let record = LogRecord {
            trace_id: vec![1; 1 << 20].into(),
            ..LogRecord::default()
        };
        let e = LogRecord::from_json(&Bytes::from(record.to_json())).expect_err("json");
        assert!(e.to_string().contains("trace id is 16 bytes"), "{e}");
    }
}
