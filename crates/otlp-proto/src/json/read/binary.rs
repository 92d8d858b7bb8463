//! Bytes carried in strings: hex (trace and span ids) and base64 (every other `bytes` field).

use super::JsonReader;
use super::string::RawStr;
use crate::error::{DecodeError, DecodeErrorKind as K};
use bytes::Bytes;

impl JsonReader<'_> {
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
        self.spend(b.len() / 2)?;
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
        let decoded = crate::base64::decode(s.as_bytes());
        if let Some(d) = &decoded {
            self.spend(d.len())?;
        }
        decoded
            .map(Bytes::from)
            .ok_or_else(|| DecodeError::new(K::BadEncoding, at, "invalid base64"))
    }
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
}
