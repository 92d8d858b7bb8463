//! Map and array attribute values as CBOR (RFC 8949), the `ser` column of attribute tables.
//!
//! OTAP keeps scalar attribute values in typed columns and serializes the two nested kinds:
//! a map (`KeyValueList`) as a CBOR map of text keys, an array (`ArrayValue`) as a CBOR
//! array. Inside them a string is a text string, an integer an integer, a double a float, a
//! boolean a simple value, bytes a byte string and an empty value `null`.
//!
//! The writer uses definite lengths and always 8-byte floats (every NaN and -0.0 keep their
//! bits); the reader also takes what other encoders write: indefinite lengths, 2- and 4-byte
//! floats, tags (skipped) and `undefined`.

use bytes::Bytes;
use otlp_proto::Str;
use otlp_proto::common::{AnyValue, ArrayValue, KeyValue, KeyValueList, Value};

/// How deeply nested a value may be; deeper input is refused rather than recursed into.
const MAX_DEPTH: u32 = 64;

/// Appends the CBOR of a map value.
pub(crate) fn write_map(kvs: &[KeyValue], out: &mut Vec<u8>) {
    head(5, kvs.len() as u64, out);
    for kv in kvs {
        head(3, kv.key.len() as u64, out);
        out.extend_from_slice(kv.key.as_bytes());
        write_value(kv.value.as_ref(), out);
    }
}

/// Appends the CBOR of an array value.
pub(crate) fn write_array(values: &[AnyValue], out: &mut Vec<u8>) {
    head(4, values.len() as u64, out);
    for v in values {
        write_value(Some(v), out);
    }
}

fn write_value(v: Option<&AnyValue>, out: &mut Vec<u8>) {
    match v.and_then(|v| v.value.as_ref()) {
        // A string-table index (profiles only) has no OTAP form: it is an empty value.
        None | Some(Value::StringValueStrindex(_)) => out.push(0xf6),
        Some(Value::StringValue(s)) => {
            head(3, s.len() as u64, out);
            out.extend_from_slice(s.as_bytes());
        }
        Some(Value::BoolValue(b)) => out.push(if *b { 0xf5 } else { 0xf4 }),
        Some(Value::IntValue(i)) => {
            if *i >= 0 {
                head(0, *i as u64, out);
            } else {
                head(1, !(*i as u64), out);
            }
        }
        Some(Value::DoubleValue(d)) => {
            out.push(0xfb);
            out.extend_from_slice(&d.to_bits().to_be_bytes());
        }
        Some(Value::BytesValue(b)) => {
            head(2, b.len() as u64, out);
            out.extend_from_slice(b);
        }
        Some(Value::ArrayValue(a)) => write_array(&a.values, out),
        Some(Value::KvlistValue(m)) => write_map(&m.values, out),
    }
}

/// A major type and its argument, in the shortest form.
fn head(major: u8, n: u64, out: &mut Vec<u8>) {
    let m = major << 5;
    if n < 24 {
        out.push(m | n as u8);
    } else if n <= u64::from(u8::MAX) {
        out.extend_from_slice(&[m | 24, n as u8]);
    } else if n <= u64::from(u16::MAX) {
        out.push(m | 25);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else if n <= u64::from(u32::MAX) {
        out.push(m | 26);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(m | 27);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// Decodes a map value (`want_map`) or an array value from the whole of `src`.
pub(crate) fn read(src: &[u8], want_map: bool) -> Result<AnyValue, String> {
    let mut r = Reader { src, pos: 0 };
    let v = r.value(0)?;
    if r.pos != src.len() {
        return Err(format!("{} bytes after the value", src.len() - r.pos));
    }
    match (&v.value, want_map) {
        (Some(Value::KvlistValue(_)), true) | (Some(Value::ArrayValue(_)), false) => Ok(v),
        _ => Err(format!(
            "expected a CBOR {}",
            if want_map { "map" } else { "array" }
        )),
    }
}

struct Reader<'a> {
    src: &'a [u8],
    pos: usize,
}

/// The argument of a head: a number, or "indefinite length".
enum Arg {
    N(u64),
    Indefinite,
}

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8, String> {
        let b = *self.src.get(self.pos).ok_or("truncated CBOR")?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: u64) -> Result<&[u8], String> {
        let n = usize::try_from(n).map_err(|_| "CBOR length out of range")?;
        if self.src.len() - self.pos < n {
            return Err("truncated CBOR".into());
        }
        let s = &self.src[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn be(&mut self, n: u64) -> Result<u64, String> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |a, &b| (a << 8) | u64::from(b)))
    }

    fn head(&mut self) -> Result<(u8, u8, Arg), String> {
        let b = self.byte()?;
        let (major, info) = (b >> 5, b & 0x1f);
        let arg = match info {
            0..=23 => Arg::N(u64::from(info)),
            24 => Arg::N(self.be(1)?),
            25 => Arg::N(self.be(2)?),
            26 => Arg::N(self.be(4)?),
            27 => Arg::N(self.be(8)?),
            31 => Arg::Indefinite,
            _ => return Err(format!("reserved CBOR additional info {info}")),
        };
        Ok((major, info, arg))
    }

    fn at_break(&mut self) -> bool {
        if self.src.get(self.pos) == Some(&0xff) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// A byte or text string, definite or in chunks.
    fn string(&mut self, major: u8, arg: Arg) -> Result<Vec<u8>, String> {
        match arg {
            Arg::N(n) => Ok(self.take(n)?.to_vec()),
            Arg::Indefinite => {
                let mut out = Vec::new();
                while !self.at_break() {
                    match self.head()? {
                        (m, _, Arg::N(n)) if m == major => out.extend_from_slice(self.take(n)?),
                        _ => return Err("bad chunk in an indefinite CBOR string".into()),
                    }
                }
                Ok(out)
            }
        }
    }

    /// Calls `item` for each element of a definite or indefinite container.
    fn each(
        &mut self,
        arg: Arg,
        mut item: impl FnMut(&mut Self) -> Result<(), String>,
    ) -> Result<(), String> {
        match arg {
            Arg::N(n) => {
                for _ in 0..n {
                    item(self)?;
                }
            }
            Arg::Indefinite => {
                while !self.at_break() {
                    item(self)?;
                }
            }
        }
        Ok(())
    }

    fn value(&mut self, depth: u32) -> Result<AnyValue, String> {
        if depth > MAX_DEPTH {
            return Err("CBOR nested too deeply".into());
        }
        let (major, info, arg) = self.head()?;
        let v = match (major, arg) {
            (0, Arg::N(n)) => {
                Value::IntValue(i64::try_from(n).map_err(|_| "CBOR integer out of range")?)
            }
            (1, Arg::N(n)) => {
                let n = i64::try_from(n).map_err(|_| "CBOR integer out of range")?;
                Value::IntValue(-1 - n)
            }
            (2, arg) => Value::BytesValue(Bytes::from(self.string(2, arg)?)),
            (3, arg) => {
                let s = String::from_utf8(self.string(3, arg)?)
                    .map_err(|_| "CBOR text is not UTF-8")?;
                Value::StringValue(Str::from(s))
            }
            (4, arg) => {
                let mut values = Vec::new();
                self.each(arg, |r| {
                    values.push(r.value(depth + 1)?);
                    Ok(())
                })?;
                Value::ArrayValue(ArrayValue { values })
            }
            (5, arg) => {
                let mut values = Vec::new();
                self.each(arg, |r| {
                    let key = match r.head()? {
                        (3, _, arg) => String::from_utf8(r.string(3, arg)?)
                            .map_err(|_| "CBOR map key is not UTF-8")?,
                        _ => return Err("CBOR map key is not a text string".into()),
                    };
                    let value = r.value(depth + 1)?;
                    values.push(KeyValue {
                        key: Str::from(key),
                        value: Some(value),
                        key_strindex: 0,
                    });
                    Ok(())
                })?;
                Value::KvlistValue(KeyValueList { values })
            }
            // A tag: the value it annotates.
            (6, Arg::N(_)) => return self.value(depth + 1),
            (7, Arg::N(n)) => match (info, n) {
                (20, _) => Value::BoolValue(false),
                (21, _) => Value::BoolValue(true),
                (22 | 23, _) => return Ok(AnyValue { value: None }),
                (25, half) => Value::DoubleValue(f16_to_f64(half as u16)),
                (26, single) => Value::DoubleValue(f64::from(f32::from_bits(single as u32))),
                (27, double) => Value::DoubleValue(f64::from_bits(double)),
                _ => return Err(format!("unsupported CBOR simple value {info}")),
            },
            _ => return Err(format!("unsupported CBOR item (major type {major})")),
        };
        Ok(AnyValue { value: Some(v) })
    }
}

/// An IEEE half-precision float, widened.
fn f16_to_f64(h: u16) -> f64 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = i32::from((h >> 10) & 0x1f);
    let frac = f64::from(h & 0x3ff);
    sign * match exp {
        0 => frac * 2f64.powi(-24),
        31 if frac == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        _ => (1.0 + frac / 1024.0) * 2f64.powi(exp - 15),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(kvs: Vec<KeyValue>) -> Vec<u8> {
        let mut out = Vec::new();
        write_map(&kvs, &mut out);
        out
    }

    #[test]
    fn writes_rfc_8949_encodings() {
        let kvs = vec![
            KeyValue::new("a", 1i64),
            KeyValue::new("b", -500i64),
            KeyValue::new("c", true),
            KeyValue::new("d", "xy"),
        ];
        let want = [
            0xa4, 0x61, b'a', 0x01, 0x61, b'b', 0x39, 0x01, 0xf3, 0x61, b'c', 0xf5, 0x61, b'd',
            0x62, b'x', b'y',
        ];
        assert_eq!(map(kvs), want);
        let mut out = Vec::new();
        write_array(
            &[AnyValue::from(1.5f64), AnyValue { value: None }],
            &mut out,
        );
        assert_eq!(out, [0x82, 0xfb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0, 0xf6]);
    }

    #[test]
    fn reads_what_other_encoders_write() {
        // Indefinite map {"k": [half 1.0, single 2.5, undefined]} with a tagged value.
        let src = [
            0xbf, 0x61, b'k', 0x9f, 0xf9, 0x3c, 0x00, 0xfa, 0x40, 0x20, 0, 0, 0xc1, 0xf7, 0xff,
            0xff,
        ];
        let v = read(&src, true).expect("valid CBOR");
        let want = AnyValue::from(vec![KeyValue::new(
            "k",
            AnyValue::from(vec![
                AnyValue::from(1.0f64),
                AnyValue::from(2.5f64),
                AnyValue { value: None },
            ]),
        )]);
        assert_eq!(v, want);
    }

    #[test]
    fn bad_input_is_an_error() {
        for bad in [
            &[][..],
            &[0xa1, 0x61],
            &[0xa1, 0x01, 0x01],
            &[0x82, 0x01],
            &[0x9f, 0x01],
            &[0x1c],
            &[0x81, 0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
            &[0x80, 0x00],
        ] {
            assert!(
                read(bad, false).is_err() && read(bad, true).is_err(),
                "{bad:?}"
            );
        }
        let deep = vec![0x81; 200];
        assert!(read(&deep, false).is_err());
        assert!(
            read(&[0xa0], false).is_err(),
            "a map where an array is expected"
        );
    }
}
