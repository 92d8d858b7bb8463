//! Strings: the fast scan for a string's end ([`find_special`]), unescaping, and the string
//! values and keys built on them (sliced from the input when they hold no escape).

use super::JsonReader;
use crate::Str;
use crate::error::{DecodeError, DecodeErrorKind as K};
use bytes::Bytes;
use std::borrow::Cow;

/// A JSON string as read: borrowed from the input when it had no escapes.
pub(super) enum RawStr<'a> {
    /// `Slice(a, b, s)`: `s` is `src[a..b]`, so those bytes are valid UTF-8 (unsafe code
    /// relies on it: see [`JsonReader::string`]).
    Slice(usize, usize, &'a str),
    Owned(String),
}

impl<'a> JsonReader<'a> {
    pub(super) fn raw_key(&mut self) -> Result<Cow<'a, [u8]>, DecodeError> {
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

    pub(super) fn raw_string(&mut self) -> Result<RawStr<'a>, DecodeError> {
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
            RawStr::Owned(s) => {
                self.spend(s.len())?;
                Str::from(s)
            }
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(s: &'static str) -> (Bytes,) {
        (Bytes::from_static(s.as_bytes()),)
    }

    #[test]
    fn escapes_and_surrogates_decode() {
        let (b,) = reader(r#""a\n\u00e9\ud83d\ude00\"""#);
        assert_eq!(JsonReader::new(&b).string().unwrap(), "a\né😀\"");
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
}
