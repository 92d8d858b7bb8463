//! [`DecodeLimits`]: what one decoded request may cost, counted while it is decoded.
//!
//! A request's size on the wire says little about its size once decoded: an empty span is two
//! bytes of protobuf (or `{}` in OTLP/JSON) and a few hundred bytes of memory, so 16 MB of empty
//! spans decode to gigabytes. The decoders therefore keep a budget of items and of decoded bytes
//! and stop as soon as either runs out, before the memory is spent: a vector's capacity is never
//! reserved beyond what the budget still allows.
//!
//! ```
//! # #[cfg(feature = "json")] {
//! use bytes::Bytes;
//! use otlp_proto::{DecodeErrorKind, DecodeLimits, Encoding, Request, Signal};
//!
//! // Three empty spans in one scope.
//! let json = Bytes::from_static(br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{},{},{}]}]}]}"#);
//! let limits = DecodeLimits::unlimited().with_max_items(2);
//! let err = Request::decode_with(Signal::Traces, Encoding::Json, &json, &limits).unwrap_err();
//! assert_eq!(err.kind(), DecodeErrorKind::TooManyItems);
//! assert!(Request::decode(Signal::Traces, Encoding::Json, &json).is_ok());
//! # }
//! ```

use crate::error::DecodeErrorKind;

/// How deeply messages may nest below the request, counted the same way in both codecs: one level
/// per embedded message, whether it arrives as a protobuf length-delimited field or as a JSON
/// object (JSON arrays are not levels of their own, packed protobuf fields neither). An
/// `AnyValue` holding an array of `AnyValue`s is two levels. Deep enough for any real attribute
/// value; shallow enough that decoding cannot exhaust the stack.
pub const MAX_DEPTH: u32 = 100;

/// Limits on what one decoded request may cost: the items it carries (spans, metric data points,
/// log records, profiles: what [`Request::item_count`](crate::Request::item_count) counts) and
/// the memory its decoded messages take beyond the input buffer (an estimate: the size of every
/// element of every repeated field, and of strings and bytes the decoder had to copy).
///
/// Both are counted while decoding; the first item or byte over a limit stops it with
/// [`DecodeErrorKind::TooManyItems`] or [`DecodeErrorKind::TooLarge`]. [`Message::decode`]
/// and [`Request::decode`] decode without these limits (nesting depth is always limited, to
/// [`MAX_DEPTH`]); a server decoding what anyone may send uses
/// [`Request::decode_with`](crate::Request::decode_with).
///
/// [`Message::decode`]: crate::Message::decode
/// [`Request::decode`]: crate::Request::decode
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    max_items: usize,
    max_decoded_bytes: usize,
}

impl DecodeLimits {
    /// No limit on items or decoded bytes.
    pub const fn unlimited() -> Self {
        DecodeLimits {
            max_items: usize::MAX,
            max_decoded_bytes: usize::MAX,
        }
    }

    /// At most `items` items per request.
    pub const fn with_max_items(mut self, items: usize) -> Self {
        self.max_items = items;
        self
    }

    /// At most `bytes` of decoded messages per request.
    pub const fn with_max_decoded_bytes(mut self, bytes: usize) -> Self {
        self.max_decoded_bytes = bytes;
        self
    }

    /// The item limit.
    pub const fn max_items(&self) -> usize {
        self.max_items
    }

    /// The decoded-bytes limit.
    pub const fn max_decoded_bytes(&self) -> usize {
        self.max_decoded_bytes
    }

    pub(crate) fn budget(&self) -> Budget {
        Budget {
            items: self.max_items,
            bytes: self.max_decoded_bytes,
            limit: self.max_decoded_bytes,
        }
    }
}

impl Default for DecodeLimits {
    /// [`DecodeLimits::unlimited`].
    fn default() -> Self {
        DecodeLimits::unlimited()
    }
}

/// What is left of a [`DecodeLimits`] while a request decodes: kept by both readers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Budget {
    items: usize,
    bytes: usize,
    limit: usize,
}

impl Budget {
    pub(crate) const UNLIMITED: Budget = Budget {
        items: usize::MAX,
        bytes: usize::MAX,
        limit: usize::MAX,
    };

    /// Decoded bytes counted so far.
    pub(crate) fn spent(&self) -> usize {
        self.limit - self.bytes
    }

    /// Counts one item.
    #[inline(always)]
    pub(crate) fn item(&mut self) -> Result<(), DecodeErrorKind> {
        match self.items.checked_sub(1) {
            Some(left) => {
                self.items = left;
                Ok(())
            }
            None => Err(DecodeErrorKind::TooManyItems),
        }
    }

    /// Counts `n` decoded bytes.
    #[inline(always)]
    pub(crate) fn spend(&mut self, n: usize) -> Result<(), DecodeErrorKind> {
        match self.bytes.checked_sub(n) {
            Some(left) => {
                self.bytes = left;
                Ok(())
            }
            None => Err(DecodeErrorKind::TooLarge),
        }
    }

    /// How many more items the budget allows.
    #[inline]
    pub(crate) fn items_left(&self) -> usize {
        self.items
    }

    /// How many more elements of `size` bytes the budget allows (what a vector may reserve).
    #[inline]
    pub(crate) fn affordable(&self, size: usize) -> usize {
        self.bytes.checked_div(size).unwrap_or(usize::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    // The codecs compared are protobuf and OTLP/JSON: those tests need the `json` feature.
    #[cfg(feature = "json")]
    use crate::{
        DecodeErrorKind as K, Encoding, Request, Signal,
        collector::ExportLogsServiceRequest,
        common::{AnyValue, ArrayValue, Value},
        logs::{LogRecord, ResourceLogs, ScopeLogs},
    };
    #[cfg(feature = "json")]
    use bytes::Bytes;

    #[cfg(feature = "json")]
    fn logs(records: Vec<LogRecord>) -> Request {
        Request::Logs(ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                scope_logs: vec![ScopeLogs {
                    log_records: records,
                    ..ScopeLogs::default()
                }],
                ..ResourceLogs::default()
            }],
        })
    }

    #[cfg(feature = "json")]
    fn decode(request: &Request, encoding: Encoding, limits: &DecodeLimits) -> Result<Request, K> {
        let body = request.encode(encoding);
        Request::decode_with(request.signal(), encoding, &body, limits).map_err(|e| e.kind())
    }

    #[cfg(feature = "json")]
    const BOTH: [Encoding; 2] = [Encoding::Protobuf, Encoding::Json];

    #[cfg(feature = "json")]
    #[test]
    fn items_are_counted_in_both_codecs_up_to_the_limit() {
        let request = logs(vec![LogRecord::default(); 10]);
        for encoding in BOTH {
            let ten = DecodeLimits::unlimited().with_max_items(10);
            assert_eq!(decode(&request, encoding, &ten).as_ref(), Ok(&request));
            let nine = DecodeLimits::unlimited().with_max_items(9);
            assert_eq!(decode(&request, encoding, &nine), Err(K::TooManyItems));
        }
    }

    #[cfg(feature = "json")]
    #[test]
    fn decoded_bytes_are_counted_in_both_codecs() {
        // Empty records: a couple of bytes each on the wire, a whole `LogRecord` each in memory.
        let request = logs(vec![LogRecord::default(); 1000]);
        let records = 1000 * size_of::<LogRecord>();
        for encoding in BOTH {
            let body = request.encode(encoding);
            assert!(body.len() < 4000, "{encoding:?}: {}", body.len());
            let enough = DecodeLimits::unlimited().with_max_decoded_bytes(records + 4096);
            assert_eq!(decode(&request, encoding, &enough).as_ref(), Ok(&request));
            let short = DecodeLimits::unlimited().with_max_decoded_bytes(records / 2);
            assert_eq!(decode(&request, encoding, &short), Err(K::TooLarge));
        }
    }

    /// A log record whose body is an array holding an array ... `levels` deep.
    #[cfg(feature = "json")]
    fn nested_body(levels: usize) -> Request {
        let mut value = AnyValue::from("leaf");
        for _ in 0..levels {
            value = AnyValue::new(Value::ArrayValue(ArrayValue {
                values: vec![value],
            }));
        }
        logs(vec![LogRecord {
            body: Some(value),
            ..LogRecord::default()
        }])
    }

    #[cfg(feature = "json")]
    #[test]
    fn both_codecs_refuse_nesting_at_the_same_depth() {
        // Request > ResourceLogs > ScopeLogs > LogRecord > AnyValue: four levels, then two per
        // array (ArrayValue > AnyValue).
        let deepest_accepted = (MAX_DEPTH as usize - 4) / 2;
        for levels in [1, 30, 40, deepest_accepted, deepest_accepted + 1, 80] {
            let request = nested_body(levels);
            let outcomes = BOTH.map(|e| decode(&request, e, &DecodeLimits::unlimited()).is_ok());
            assert_eq!(outcomes[0], outcomes[1], "{levels} levels: {outcomes:?}");
            assert_eq!(outcomes[0], levels <= deepest_accepted, "{levels} levels");
        }
        let too_deep = nested_body(deepest_accepted + 1);
        for encoding in BOTH {
            let err = decode(&too_deep, encoding, &DecodeLimits::unlimited());
            assert_eq!(err, Err(K::TooDeep), "{encoding:?}");
        }
    }

    #[cfg(feature = "json")]
    #[test]
    fn json_arrays_are_bounded_even_where_nothing_is_decoded() {
        // An unknown key's value is skipped, recursively: arrays alone must not exhaust the stack.
        let text = format!(r#"{{"unknown":{}}}"#, "[".repeat(100_000));
        let err = Request::decode(Signal::Logs, Encoding::Json, &Bytes::from(text)).unwrap_err();
        assert_eq!(err.kind(), K::TooDeep);
    }

    #[test]
    fn a_budget_runs_out_at_its_limit_not_before() {
        let mut b = DecodeLimits::unlimited()
            .with_max_items(2)
            .with_max_decoded_bytes(10)
            .budget();
        assert_eq!((b.item(), b.item()), (Ok(()), Ok(())));
        assert_eq!(b.item(), Err(DecodeErrorKind::TooManyItems));
        assert_eq!(b.affordable(3), 3);
        assert_eq!(b.spend(10), Ok(()));
        assert_eq!(b.spend(1), Err(DecodeErrorKind::TooLarge));
        assert_eq!(b.affordable(0), usize::MAX);
        assert_eq!(Budget::UNLIMITED.affordable(1), usize::MAX);
    }
}
