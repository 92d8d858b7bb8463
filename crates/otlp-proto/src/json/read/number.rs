//! Numbers: integers of every width and doubles, each accepted as a JSON number or as a string
//! holding one, as OTLP/JSON requires of receivers.

use super::JsonReader;
use super::string::RawStr;
use crate::error::{DecodeError, DecodeErrorKind as K};
use bytes::Bytes;
use std::borrow::Cow;

impl<'a> JsonReader<'a> {
    /// The text of a number token, or of a string holding a number.
    pub(super) fn number_text(&mut self) -> Result<Cow<'a, str>, DecodeError> {
        match self.peek() {
            Some(b'"') => Ok(match self.raw_string()? {
                RawStr::Slice(_, _, s) => Cow::Borrowed(s.trim()),
                RawStr::Owned(s) => Cow::Owned(s.trim().to_owned()),
            }),
            Some(b'-' | b'0'..=b'9') => {
                let src: &'a Bytes = self.src;
                let start = self.pos;
                while let Some(&b) = src.get(self.pos) {
                    if matches!(b, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') {
                        self.pos += 1;
                    } else {
                        break;
                    }
                }
                // Only ASCII was consumed.
                let s = std::str::from_utf8(&src[start..self.pos])
                    .map_err(|_| self.err(K::Syntax, "number"))?;
                Ok(Cow::Borrowed(s))
            }
            _ => Err(self.err(K::WrongType, "expected a number")),
        }
    }

    fn integer(&mut self, min: i128, max: i128) -> Result<i128, DecodeError> {
        let at = self.pos;
        let text = self.number_text()?;
        // Fast path: plain decimal digits (with an optional sign), which is nearly every value.
        let digits = text.strip_prefix('-').unwrap_or(&text);
        if !digits.is_empty() && digits.len() <= 19 && digits.bytes().all(|c| c.is_ascii_digit()) {
            let mut v: i128 = 0;
            for c in digits.bytes() {
                v = v * 10 + i128::from(c - b'0');
            }
            if text.starts_with('-') {
                v = -v;
            }
            if v < min || v > max {
                return Err(DecodeError::new(K::OutOfRange, at, ""));
            }
            return Ok(v);
        }
        let v = match text.parse::<i128>() {
            Ok(v) => v,
            Err(_) => {
                // Exponent or fraction notation is allowed when the value is integral.
                let f: f64 = text
                    .parse()
                    .map_err(|_| DecodeError::new(K::WrongType, at, "not an integer"))?;
                if f.fract() != 0.0 || !f.is_finite() {
                    return Err(DecodeError::new(K::WrongType, at, "not an integer"));
                }
                f as i128
            }
        };
        if v < min || v > max {
            return Err(DecodeError::new(K::OutOfRange, at, ""));
        }
        Ok(v)
    }

    /// A `uint64` (number or decimal string).
    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        self.integer(0, i128::from(u64::MAX)).map(|v| v as u64)
    }

    /// An `int64` (number or decimal string).
    pub fn i64(&mut self) -> Result<i64, DecodeError> {
        self.integer(i128::from(i64::MIN), i128::from(i64::MAX))
            .map(|v| v as i64)
    }

    /// A `uint32`.
    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        self.integer(0, i128::from(u32::MAX)).map(|v| v as u32)
    }

    /// An `int32` (also used for enums, which OTLP/JSON writes as integers).
    pub fn i32(&mut self) -> Result<i32, DecodeError> {
        self.integer(i128::from(i32::MIN), i128::from(i32::MAX))
            .map(|v| v as i32)
    }

    /// A double: a number, a numeric string, or `"NaN"`, `"Infinity"`, `"-Infinity"`.
    pub fn f64(&mut self) -> Result<f64, DecodeError> {
        let at = self.pos;
        let text = self.number_text()?;
        match &*text {
            "NaN" => Ok(f64::NAN),
            "Infinity" => Ok(f64::INFINITY),
            "-Infinity" => Ok(f64::NEG_INFINITY),
            t => t
                .parse()
                .map_err(|_| DecodeError::new(K::WrongType, at, "not a number")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(s: &'static str) -> (Bytes,) {
        (Bytes::from_static(s.as_bytes()),)
    }

    #[test]
    fn integers_accept_numbers_and_strings() {
        let (b,) = reader(r#"["12", 13, "-4", 1e2, "18446744073709551615"]"#);
        let mut r = JsonReader::new(&b);
        r.begin_array().unwrap();
        assert!(r.next_elem(true).unwrap());
        assert_eq!(r.u64().unwrap(), 12);
        assert!(r.next_elem(false).unwrap());
        assert_eq!(r.u32().unwrap(), 13);
        assert!(r.next_elem(false).unwrap());
        assert_eq!(r.i64().unwrap(), -4);
        assert!(r.next_elem(false).unwrap());
        assert_eq!(r.i32().unwrap(), 100);
        assert!(r.next_elem(false).unwrap());
        assert_eq!(r.u64().unwrap(), u64::MAX);
        assert!(!r.next_elem(false).unwrap());
    }

    #[test]
    fn out_of_range_is_an_error() {
        let (b,) = reader(r#""4294967296""#);
        let err = JsonReader::new(&b).u32().unwrap_err();
        assert_eq!(err.kind(), K::OutOfRange);
    }
}
