//! A record's attributes: pushed as they come on the application thread, settled (duplicates
//! resolved, the count limit applied, values truncated) on the worker when the span is
//! encoded.

use super::SpanRecord;
use otlp_proto::Str;
use otlp_proto::common::{AnyValue, KeyValue};

impl SpanRecord {
    /// Pushes an attribute; cheap, since duplicates and the count limit are dealt with when the
    /// span is encoded. A span that keeps setting attributes is compacted here now and then, so
    /// its memory stays bounded by the limit, not by the number of calls.
    #[inline]
    pub(crate) fn push_attribute(&mut self, kv: KeyValue) {
        self.room_for_attribute();
        self.attributes.push(kv);
    }

    /// [`push_attribute`](SpanRecord::push_attribute) from its parts: room is made first, so
    /// that the attribute is built where it is stored rather than built and then copied.
    #[inline(always)]
    pub(crate) fn set_attribute(&mut self, key: impl Into<Str>, value: impl Into<AnyValue>) {
        self.room_for_attribute();
        let len = self.attributes.len();
        if let Some(slot) = self.attributes.spare_capacity_mut().first_mut() {
            // The conversions inside the literal, the literal inside `write`: the attribute is
            // built in the slot. (Through a helper taking the parts, or a closure, it was built
            // on the stack and copied.)
            slot.write(KeyValue {
                key: key.into(),
                value: Some(value.into()),
                key_strindex: 0,
            });
            // SAFETY: the slot at `len`, within the capacity, was just initialized.
            #[allow(unsafe_code)]
            unsafe {
                self.attributes.set_len(len + 1);
            }
        }
    }

    /// Settles the attributes when there are many (see
    /// [`push_attribute`](SpanRecord::push_attribute)), and makes room for one more.
    #[inline(always)]
    fn room_for_attribute(&mut self) {
        if self.attributes.len() >= self.settle_at {
            self.settle_attributes();
        }
        if self.attributes.len() == self.attributes.capacity() {
            self.attributes.reserve(1);
        }
    }

    /// De-duplicates the attributes (the last value of a key wins, at the key's first
    /// position), keeps at most the count limit of distinct keys (counting the others as
    /// dropped) and truncates values to the length limit.
    pub(crate) fn settle_attributes(&mut self) {
        let attrs = &mut self.attributes;
        let max = self.limits.attribute_count() as usize;
        if has_duplicate_keys(attrs) {
            let mut kept: Vec<KeyValue> = Vec::with_capacity(attrs.len());
            let mut dropped = 0u32;
            for kv in attrs.drain(..) {
                if let Some(existing) = kept.iter_mut().find(|k| k.key == kv.key) {
                    existing.value = kv.value;
                } else if kept.len() < max {
                    kept.push(kv);
                } else {
                    dropped += 1;
                }
            }
            // Keys dropped over the limit may have been set several times: count each once.
            self.dropped_attributes_count = self.dropped_attributes_count.saturating_add(dropped);
            *attrs = kept;
        } else if attrs.len() > max {
            let dropped = attrs.len() - max;
            attrs.truncate(max);
            self.dropped_attributes_count = self
                .dropped_attributes_count
                .saturating_add(u32::try_from(dropped).unwrap_or(u32::MAX));
        }
        if self.limits.attribute_value_length().is_some() {
            for kv in attrs.iter_mut() {
                if let Some(v) = kv.value.as_mut() {
                    self.limits.truncate(v);
                }
            }
        }
    }
}

/// Up to this many attributes, duplicates are looked for by fingerprint first.
const FINGERPRINTED: usize = 16;

/// Whether two attributes share a key. Each key's fingerprint (its length and three of its
/// bytes) sets one bit of a 64-bit filter; only a key whose bit is already set is compared
/// with the earlier ones, by fingerprint and then in full. So the usual case, a handful of
/// distinct keys, costs a few integer operations per key rather than a string compare per pair.
fn has_duplicate_keys(attrs: &[KeyValue]) -> bool {
    if attrs.len() > FINGERPRINTED {
        return attrs
            .iter()
            .enumerate()
            .any(|(i, kv)| attrs[..i].iter().any(|earlier| earlier.key == kv.key));
    }
    let mut prints = [0u64; FINGERPRINTED];
    let mut seen = 0u64;
    for (i, kv) in attrs.iter().enumerate() {
        let print = fingerprint(kv.key.as_bytes());
        let bit = 1u64 << (print.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58);
        if seen & bit != 0
            && prints
                .iter()
                .zip(attrs)
                .take(i)
                .any(|(&p, earlier)| p == print && earlier.key == kv.key)
        {
            return true;
        }
        seen |= bit;
        if let Some(slot) = prints.get_mut(i) {
            *slot = print;
        }
    }
    false
}

/// A summary of `key` that equal keys share: its length and its first, middle and last bytes.
#[inline]
fn fingerprint(key: &[u8]) -> u64 {
    let n = key.len();
    match (key.first(), key.get(n / 2), key.last()) {
        (Some(&first), Some(&middle), Some(&last)) => {
            (n as u64) | u64::from(first) << 32 | u64::from(middle) << 40 | u64::from(last) << 48
        }
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_record as record;
    use super::*;
    use crate::trace::SpanLimits;

    #[test]
    fn duplicate_keys_are_found_whatever_their_fingerprints() {
        let kvs = |keys: &[&str]| -> Vec<KeyValue> {
            keys.iter()
                .map(|k| KeyValue::new(k.to_string(), 1i64))
                .collect()
        };
        // Same length, first, middle and last bytes: one fingerprint, different keys.
        assert_eq!(fingerprint(b"a1xyz9b"), fingerprint(b"a2xyz8b"));
        assert!(!has_duplicate_keys(&kvs(&["a1xyz9b", "a2xyz8b"])));
        assert!(has_duplicate_keys(&kvs(&["x", "a1xyz9b", "y", "a1xyz9b"])));
        assert!(has_duplicate_keys(&kvs(&["", "k", ""])));
        assert!(!has_duplicate_keys(&kvs(&["", "k"])));
        // Beyond the fingerprinted count, the plain comparison.
        let many: Vec<String> = (0..40).map(|i| format!("key.{i}")).collect();
        let mut keys: Vec<&str> = many.iter().map(String::as_str).collect();
        assert!(!has_duplicate_keys(&kvs(&keys)));
        keys.push("key.7");
        assert!(has_duplicate_keys(&kvs(&keys)));
        // And within it, every pair position.
        for i in 0..FINGERPRINTED {
            for j in 0..i {
                let mut keys: Vec<&str> =
                    many[..FINGERPRINTED].iter().map(String::as_str).collect();
                keys[i] = keys[j];
                assert!(has_duplicate_keys(&kvs(&keys)), "{j} and {i}");
            }
        }
    }

    #[test]
    fn attributes_settle_last_value_first_position_under_the_limit() {
        let mut r = record(SpanLimits::default().with_attribute_count(2));
        let rec = r.get_mut().expect("record");
        rec.push_attribute(KeyValue::new("a", 1i64));
        rec.push_attribute(KeyValue::new("b", 2i64));
        rec.push_attribute(KeyValue::new("a", 3i64));
        rec.push_attribute(KeyValue::new("c", 4i64));
        rec.push_attribute(KeyValue::new("c", 5i64));
        rec.settle_attributes();
        let got: Vec<(String, Option<AnyValue>)> = rec
            .attributes
            .iter()
            .map(|kv| (kv.key.to_string(), kv.value.clone()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("a".to_owned(), Some(AnyValue::from(3i64))),
                ("b".to_owned(), Some(AnyValue::from(2i64)))
            ]
        );
        assert_eq!(
            rec.dropped_attributes_count, 2,
            "c set twice, dropped twice"
        );
        // Without duplicates, only the limit applies.
        let mut r = record(SpanLimits::default().with_attribute_count(1));
        let rec = r.get_mut().expect("record");
        rec.push_attribute(KeyValue::new("a", 1i64));
        rec.push_attribute(KeyValue::new("b", 2i64));
        rec.settle_attributes();
        assert_eq!(rec.attributes.len(), 1);
        assert_eq!(rec.dropped_attributes_count, 1);
    }

    #[test]
    fn a_span_setting_one_key_forever_stays_bounded() {
        let mut r = record(SpanLimits::default());
        let rec = r.get_mut().expect("record");
        for i in 0..100_000i64 {
            rec.push_attribute(KeyValue::new("same", i));
        }
        assert!(
            rec.attributes.len() <= 2 * 128 + 1,
            "{}",
            rec.attributes.len()
        );
        rec.settle_attributes();
        assert_eq!(rec.attributes.len(), 1);
        assert_eq!(
            rec.attributes[0].value,
            Some(AnyValue::from(99_999i64)),
            "last value wins"
        );
    }
}
