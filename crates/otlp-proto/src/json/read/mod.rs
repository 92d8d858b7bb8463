//! [`JsonReader`]: a pull parser for OTLP/JSON that decodes straight into the message types.
//!
//! Strings without escapes are sliced out of the input ([`Bytes::slice`]) rather than copied.
//! Numbers are accepted as JSON numbers or decimal strings for every integer width, as the OTLP
//! specification requires of receivers; unknown fields are skipped.
//!
//! This module holds the reader and its structure (whitespace, literals, objects, arrays,
//! skipping); `string` scans and unescapes strings, `number` reads numbers, and `binary`
//! decodes the hex and base64 strings that carry bytes.

mod binary;
mod number;
mod string;

use crate::DecodeLimits;
use crate::error::{DecodeError, DecodeErrorKind as K};
use crate::limits::{Budget, MAX_DEPTH};
use bytes::Bytes;
use std::borrow::Cow;

/// A cursor over OTLP/JSON text.
#[derive(Debug)]
pub struct JsonReader<'a> {
    src: &'a Bytes,
    pos: usize,
    /// Objects entered: messages, the levels [`MAX_DEPTH`] counts, as the protobuf reader does.
    objects: u32,
    /// Arrays entered: not levels of a message, but bounded too, as `skip_value` recurses into
    /// them (a message within the depth limit never holds more arrays than objects on one path).
    arrays: u32,
    budget: Budget,
}

impl<'a> JsonReader<'a> {
    /// A reader over `src`, limited only in nesting depth.
    pub fn new(src: &'a Bytes) -> Self {
        JsonReader {
            src,
            pos: 0,
            objects: 0,
            arrays: 0,
            budget: Budget::UNLIMITED,
        }
    }

    /// A reader over `src` that stops when the request it decodes exceeds `limits`.
    pub fn with_limits(src: &'a Bytes, limits: &DecodeLimits) -> Self {
        JsonReader {
            budget: limits.budget(),
            ..JsonReader::new(src)
        }
    }

    /// Counts one item of the request against the item limit.
    #[inline(always)]
    pub fn count_item(&mut self) -> Result<(), DecodeError> {
        self.budget.item().map_err(|kind| self.err(kind, ""))
    }

    /// Decoded bytes counted so far (what the decoded messages take beyond the input).
    pub fn decoded_bytes(&self) -> usize {
        self.budget.spent()
    }

    /// How many elements of `size` bytes the decoded-bytes budget still allows.
    #[inline]
    pub(crate) fn affordable(&self, size: usize) -> usize {
        self.budget.affordable(size)
    }

    /// Counts `n` decoded bytes against the decoded-bytes limit.
    #[inline(always)]
    pub fn spend(&mut self, n: usize) -> Result<(), DecodeError> {
        self.budget.spend(n).map_err(|kind| self.err(kind, ""))
    }

    /// An error at the current position; `pub(crate)` for the checks of the field codecs.
    pub(crate) fn err(&self, kind: K, detail: &'static str) -> DecodeError {
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

    /// Enters an object (`{`), one level of nesting: the outermost object is the request, and
    /// [`MAX_DEPTH`] more levels may nest below it.
    pub fn begin_object(&mut self) -> Result<(), DecodeError> {
        if self.peek() != Some(b'{') {
            return Err(self.err(K::WrongType, "expected an object"));
        }
        if self.objects > MAX_DEPTH {
            return Err(self.err(K::TooDeep, ""));
        }
        self.pos += 1;
        self.objects += 1;
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
                self.objects -= 1;
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
        if self.arrays > MAX_DEPTH {
            return Err(self.err(K::TooDeep, "arrays"));
        }
        self.pos += 1;
        self.arrays += 1;
        Ok(())
    }

    /// Whether another element follows in the current array (consumes `,` or `]`).
    pub fn next_elem(&mut self, first: bool) -> Result<bool, DecodeError> {
        match self.peek() {
            Some(b']') => {
                self.pos += 1;
                self.arrays -= 1;
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

    /// `true` or `false`.
    pub fn bool(&mut self) -> Result<bool, DecodeError> {
        match self.peek() {
            Some(b't') => self.literal(b"true").map(|()| true),
            Some(b'f') => self.literal(b"false").map(|()| false),
            _ => Err(self.err(K::WrongType, "expected a boolean")),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_nesting_is_refused() {
        let text = "[".repeat(500);
        let b = Bytes::from(text);
        let err = JsonReader::new(&b).skip_value().unwrap_err();
        assert_eq!(err.kind(), K::TooDeep);
    }
}
