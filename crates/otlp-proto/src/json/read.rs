//! [`JsonReader`]: a pull parser for OTLP/JSON that decodes straight into the message types.
//!
//! Strings without escapes are sliced out of the input ([`Bytes::slice`]) rather than copied.
//! Numbers are accepted as JSON numbers or decimal strings for every integer width, as the OTLP
//! specification requires of receivers; unknown fields are skipped.

use crate::Str;
use crate::decode::RECURSION_LIMIT;
use crate::error::{DecodeError, DecodeErrorKind as K};
use bytes::Bytes;
use std::borrow::Cow;

/// A cursor over OTLP/JSON text.
#[derive(Debug)]
pub struct JsonReader<'a> {
    src: &'a Bytes,
    pos: usize,
    depth: u32,
}

/// A JSON string as read: borrowed from the input when it had no escapes.
enum RawStr<'a> {
    /// `Slice(a, b, s)`: `s` is `src[a..b]`, so those bytes are valid UTF-8 (unsafe code
    /// relies on it: see [`JsonReader::string`]).
    Slice(usize, usize, &'a str),
    Owned(String),
}

impl<'a> JsonReader<'a> {
    /// A reader over `src`.
    pub fn new(src: &'a Bytes) -> Self {
        JsonReader {
            src,
            pos: 0,
            depth: 0,
        }
    }

    fn err(&self, kind: K, detail: &'static str) -> DecodeError {
        DecodeError::new(kind, self.pos, detail)
    }

    #[inline]
    fn ws(&mut self) {
        while let Some(&b) = self.src.get(self.pos) {
            if matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    #[inline]
    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.src.get(self.pos).copied()
    }

    #[inline]
    fn expect(&mut self, c: u8, what: &'static str) -> Result<(), DecodeError> {
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.err(K::Syntax, what))
        }
    }

    /// Fails unless only whitespace is left.
    pub fn finish(&mut self) -> Result<(), DecodeError> {
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(self.err(K::Syntax, "trailing characters after the JSON value")),
        }
    }

    /// Consumes `null` if it is next; returns whether it was.
    #[inline]
    pub fn null(&mut self) -> Result<bool, DecodeError> {
        if self.peek() == Some(b'n') {
            self.literal(b"null")?;
            return Ok(true);
        }
        Ok(false)
    }

    fn literal(&mut self, lit: &'static [u8]) -> Result<(), DecodeError> {
        if self.src.get(self.pos..self.pos + lit.len()) == Some(lit) {
            self.pos += lit.len();
            Ok(())
        } else {
            Err(self.err(K::Syntax, "unknown literal"))
        }
    }

    /// Enters an object (`{`), counting nesting depth.
    pub fn begin_object(&mut self) -> Result<(), DecodeError> {
        if self.peek() != Some(b'{') {
            return Err(self.err(K::WrongType, "expected an object"));
        }
        self.pos += 1;
        self.enter()
    }

    fn enter(&mut self) -> Result<(), DecodeError> {
        self.depth += 1;
        if self.depth > RECURSION_LIMIT {
            return Err(self.err(K::TooDeep, ""));
        }
        Ok(())
    }

    /// The next key of the current object, or `None` at its `}`. `first` is true for the first call.
    ///
    /// Keys are compared as bytes against the schema's ASCII names, so they are not checked for
    /// UTF-8: a key that is not valid UTF-8 matches nothing and its value is skipped.
    pub fn next_key(&mut self, first: bool) -> Result<Option<Cow<'a, [u8]>>, DecodeError> {
        match self.peek() {
            Some(b'}') => {
                self.pos += 1;
                self.depth -= 1;
                return Ok(None);
            }
            Some(b',') if !first => self.pos += 1,
            Some(b'"') if first => {}
            _ => return Err(self.err(K::Syntax, "expected a key or '}'")),
        }
        let key = self.raw_key()?;
        self.expect(b':', "expected ':'")?;
        Ok(Some(key))
    }

    /// Enters an array (`[`).
    pub fn begin_array(&mut self) -> Result<(), DecodeError> {
        if self.peek() != Some(b'[') {
            return Err(self.err(K::WrongType, "expected an array"));
        }
        self.pos += 1;
        self.enter()
    }

    /// Whether another element follows in the current array (consumes `,` or `]`).
    pub fn next_elem(&mut self, first: bool) -> Result<bool, DecodeError> {
        match self.peek() {
            Some(b']') => {
                self.pos += 1;
                self.depth -= 1;
                Ok(false)
            }
            Some(b',') if !first => {
                self.pos += 1;
                Ok(true)
            }
            Some(_) if first => Ok(true),
            _ => Err(self.err(K::Syntax, "expected ',' or ']'")),
        }
    }

    fn raw_key(&mut self) -> Result<Cow<'a, [u8]>, DecodeError> {
        if self.peek() != Some(b'"') {
            return Err(self.err(K::Syntax, "expected a key"));
        }
        let src: &'a Bytes = self.src;
        let start = self.pos + 1;
        if let Some((len, _)) = src.get(start..).and_then(find_special) {
            let run = &src[start..start + len];
            if src[start + len] == b'"' {
                self.pos = start + len + 1;
                return Ok(Cow::Borrowed(run));
            }
        }
        Ok(match self.raw_string()? {
            RawStr::Slice(_, _, s) => Cow::Borrowed(s.as_bytes()),
            RawStr::Owned(s) => Cow::Owned(s.into_bytes()),
        })
    }

    fn raw_string(&mut self) -> Result<RawStr<'a>, DecodeError> {
        if self.peek() != Some(b'"') {
            return Err(self.err(K::WrongType, "expected a string"));
        }
        self.pos += 1;
        let src: &'a Bytes = self.src;
        let start = self.pos;
        // Fast path: find the closing quote, then check the run has no escape or control
        // character (the common case for OTLP keys and values).
        let Some((len, ascii)) = find_special(&src[start..]) else {
            return Err(self.err(K::Syntax, "unterminated string"));
        };
        let run = &src[start..start + len];
        let mut i = start;
        if src[start + len] == b'"' {
            self.pos = start + len + 1;
            let s = if ascii {
                // SAFETY: `find_special` returns `ascii` only when no byte of the run before the
                // special byte it found (the closing quote here, at `start + len`) has the high
                // bit set, and `run` is exactly those bytes.
                #[allow(unsafe_code)]
                unsafe {
                    ascii_str(run)
                }
            } else {
                std::str::from_utf8(run).map_err(|_| DecodeError::new(K::InvalidUtf8, start, ""))?
            };
            return Ok(RawStr::Slice(start, start + len, s));
        }
        loop {
            match src.get(i) {
                None => return Err(self.err(K::Syntax, "unterminated string")),
                Some(b'"') => break,
                Some(b'\\') => break,
                Some(&c) if c < 0x20 => {
                    self.pos = i;
                    return Err(self.err(K::Syntax, "control character in string"));
                }
                Some(_) => i += 1,
            }
        }
        // Slow path: the string has escapes.
        let mut out: Vec<u8> = src[start..i].to_vec();
        loop {
            match src.get(i) {
                None => return Err(self.err(K::Syntax, "unterminated string")),
                Some(b'"') => {
                    self.pos = i + 1;
                    let s = String::from_utf8(out)
                        .map_err(|_| DecodeError::new(K::InvalidUtf8, start, ""))?;
                    return Ok(RawStr::Owned(s));
                }
                Some(b'\\') => {
                    let esc = src.get(i + 1).copied();
                    i += 2;
                    let c = match esc {
                        Some(b'"') => b'"',
                        Some(b'\\') => b'\\',
                        Some(b'/') => b'/',
                        Some(b'b') => 0x08,
                        Some(b'f') => 0x0c,
                        Some(b'n') => b'\n',
                        Some(b'r') => b'\r',
                        Some(b't') => b'\t',
                        Some(b'u') => {
                            let (ch, used) = self.unicode_escape(i)?;
                            i += used;
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                            continue;
                        }
                        _ => {
                            self.pos = i;
                            return Err(self.err(K::Syntax, "bad escape"));
                        }
                    };
                    out.push(c);
                }
                Some(&c) if c < 0x20 => {
                    self.pos = i;
                    return Err(self.err(K::Syntax, "control character in string"));
                }
                Some(&c) => {
                    out.push(c);
                    i += 1;
                }
            }
        }
    }

    /// Decodes the 4 hex digits at `i` (after `\u`), joining surrogate pairs. Returns the char
    /// and how many bytes after `i` were used.
    fn unicode_escape(&self, i: usize) -> Result<(char, usize), DecodeError> {
        let hex4 = |at: usize| -> Option<u32> {
            let s = self.src.get(at..at + 4)?;
            u32::from_str_radix(std::str::from_utf8(s).ok()?, 16).ok()
        };
        let bad = || DecodeError::new(K::Syntax, i, "bad \\u escape");
        let hi = hex4(i).ok_or_else(bad)?;
        if (0xD800..0xDC00).contains(&hi) {
            if self.src.get(i + 4..i + 6) == Some(b"\\u") {
                let lo = hex4(i + 6).ok_or_else(bad)?;
                if (0xDC00..0xE000).contains(&lo) {
                    let c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                    return char::from_u32(c).map(|c| (c, 10)).ok_or_else(bad);
                }
            }
            return Err(bad());
        }
        char::from_u32(hi).map(|c| (c, 4)).ok_or_else(bad)
    }

    /// A string value, sliced from the input when possible.
    pub fn string(&mut self) -> Result<Str, DecodeError> {
        Ok(match self.raw_string()? {
            // SAFETY: `raw_string` makes a `Slice(a, b, s)` only with `s` being
            // `self.src[a..b]` as a `&str` (checked ASCII or validated UTF-8), so those bytes
            // are valid UTF-8.
            #[allow(unsafe_code)]
            RawStr::Slice(a, b, _) => unsafe { Str::from_validated_in(self.src, a..b) },
            RawStr::Owned(s) => Str::from(s),
        })
    }

    /// The text of a number token, or of a string holding a number.
    fn number_text(&mut self) -> Result<Cow<'a, str>, DecodeError> {
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

    /// `true` or `false`.
    pub fn bool(&mut self) -> Result<bool, DecodeError> {
        match self.peek() {
            Some(b't') => self.literal(b"true").map(|()| true),
            Some(b'f') => self.literal(b"false").map(|()| false),
            _ => Err(self.err(K::WrongType, "expected a boolean")),
        }
    }

    /// A hex string (trace and span ids), case-insensitive.
    pub fn hex(&mut self) -> Result<Bytes, DecodeError> {
        let at = self.pos;
        let s = self.raw_string()?;
        let s = match &s {
            RawStr::Slice(_, _, s) => *s,
            RawStr::Owned(s) => s.as_str(),
        };
        let b = s.as_bytes();
        if b.len() % 2 != 0 {
            return Err(DecodeError::new(K::BadEncoding, at, "odd-length hex"));
        }
        let mut out = Vec::with_capacity(b.len() / 2);
        for pair in b.chunks_exact(2) {
            match (hex_val(pair[0]), hex_val(pair[1])) {
                (Some(h), Some(l)) => out.push((h << 4) | l),
                _ => return Err(DecodeError::new(K::BadEncoding, at, "non-hex digit")),
            }
        }
        Ok(Bytes::from(out))
    }

    /// A base64 string (standard or URL-safe alphabet, padding optional).
    pub fn base64(&mut self) -> Result<Bytes, DecodeError> {
        let at = self.pos;
        let s = self.raw_string()?;
        let s = match &s {
            RawStr::Slice(_, _, s) => *s,
            RawStr::Owned(s) => s.as_str(),
        };
        crate::base64::decode(s.as_bytes())
            .map(Bytes::from)
            .ok_or_else(|| DecodeError::new(K::BadEncoding, at, "invalid base64"))
    }

    /// Skips any value.
    pub fn skip_value(&mut self) -> Result<(), DecodeError> {
        match self.peek() {
            Some(b'{') => {
                self.begin_object()?;
                let mut first = true;
                while self.next_key(first)?.is_some() {
                    first = false;
                    self.skip_value()?;
                }
                Ok(())
            }
            Some(b'[') => {
                self.begin_array()?;
                let mut first = true;
                while self.next_elem(first)? {
                    first = false;
                    self.skip_value()?;
                }
                Ok(())
            }
            Some(b'"') => self.raw_string().map(drop),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => {
                let at = self.pos;
                let t = self.number_text()?;
                t.parse::<f64>()
                    .map(drop)
                    .map_err(|_| DecodeError::new(K::Syntax, at, "bad number"))
            }
            _ => Err(self.err(K::Syntax, "expected a value")),
        }
    }
}

/// The index of the first byte that ends the fast path of a string (`"`, `\\` or a control
/// character), and whether every byte before it is ASCII (then no UTF-8 validation is needed).
/// Scans eight bytes at a time (SWAR): the lowest flagged byte of each word is exact.
#[inline]
fn find_special(s: &[u8]) -> Option<(usize, bool)> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut chunks = s.chunks_exact(8);
    let mut base = 0;
    let mut seen = 0u64;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_le_bytes(word);
        let quote = w ^ (ONES * u64::from(b'"'));
        let slash = w ^ (ONES * u64::from(b'\\'));
        let flags = (quote.wrapping_sub(ONES) & !quote)
            | (slash.wrapping_sub(ONES) & !slash)
            | (w.wrapping_sub(ONES * 0x20) & !w);
        let flags = flags & HIGH;
        if flags != 0 {
            let bit = flags.trailing_zeros();
            // Bytes below the special one: mask = all bits under its byte.
            let below = (1u64 << (bit - 7)) - 1;
            seen |= w & below;
            return Some((base + (bit / 8) as usize, seen & HIGH == 0));
        }
        seen |= w;
        base += 8;
    }
    let rest = chunks.remainder();
    let i = rest
        .iter()
        .position(|&c| c == b'"' || c == b'\\' || c < 0x20)?;
    let ascii = seen & HIGH == 0 && rest[..i].is_ascii();
    Some((base + i, ascii))
}

/// `run` as `&str`, for bytes already known to be ASCII.
///
/// # Safety
///
/// Every byte of `run` must be ASCII (below 0x80), which makes it valid UTF-8.
#[inline]
#[allow(unsafe_code)]
unsafe fn ascii_str(run: &[u8]) -> &str {
    debug_assert!(run.is_ascii());
    // SAFETY: ASCII is valid UTF-8, and the caller promises `run` is ASCII.
    unsafe { std::str::from_utf8_unchecked(run) }
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
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

    #[test]
    fn escapes_and_surrogates_decode() {
        let (b,) = reader(r#""a\n\u00e9\ud83d\ude00\"""#);
        assert_eq!(JsonReader::new(&b).string().unwrap(), "a\né😀\"");
    }

    #[test]
    fn hex_is_case_insensitive_and_checked() {
        let (b,) = reader(r#""0aFF""#);
        assert_eq!(&JsonReader::new(&b).hex().unwrap()[..], &[0x0a, 0xff]);
        let (b,) = reader(r#""0g""#);
        assert_eq!(
            JsonReader::new(&b).hex().unwrap_err().kind(),
            K::BadEncoding
        );
    }

    #[test]
    fn base64_round_trips_both_alphabets() {
        let (b,) = reader(r#""Zm9vYmE=""#);
        assert_eq!(&JsonReader::new(&b).base64().unwrap()[..], b"fooba");
        let (b,) = reader(r#""-_8""#);
        assert_eq!(&JsonReader::new(&b).base64().unwrap()[..], &[0xfb, 0xff]);
    }

    #[test]
    fn special_byte_search_matches_a_plain_scan() {
        let samples: [&[u8]; 6] = [
            b"plain ascii text that is long enough\"",
            b"\xc3\xa9\xc3\xa9 unicode \\ escape",
            b"ctrl \x01 here",
            b"0123456\"",
            b"no terminator at all in this one",
            b"\xff\xfe\x80\x81\x9f\xa0\"x",
        ];
        for s in samples {
            for start in 0..s.len() {
                let s = &s[start..];
                let want = s.iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20);
                let got = find_special(s);
                assert_eq!(got.map(|g| g.0), want, "{s:?}");
                if let (Some((at, ascii)), Some(_)) = (got, want) {
                    assert_eq!(ascii, s[..at].is_ascii(), "{s:?}");
                }
            }
        }
    }

    #[test]
    fn deep_nesting_is_refused() {
        let text = "[".repeat(500);
        let b = Bytes::from(text);
        let err = JsonReader::new(&b).skip_value().unwrap_err();
        assert_eq!(err.kind(), K::TooDeep);
    }
}
