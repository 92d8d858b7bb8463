//! [`Reader`]: the protobuf input cursor.
//!
//! Strings and bytes are returned as slices of the request buffer ([`Bytes::slice`]), so decoding a
//! request does one allocation per message and repeated field, not one per string.

use crate::error::{DecodeError, DecodeErrorKind as K};
use crate::limits::{Budget, MAX_DEPTH};
use crate::{DecodeLimits, Str, WireType};
use bytes::Bytes;

/// A cursor over a protobuf message.
#[derive(Debug)]
pub struct Reader<'a> {
    data: &'a Bytes,
    /// `data`'s bytes, read without going through the `Bytes` each time.
    buf: &'a [u8],
    pos: usize,
    end: usize,
    depth: u32,
    last_key: u64,
    budget: Budget,
}

impl<'a> Reader<'a> {
    /// A reader over the whole buffer, limited only in nesting depth.
    pub fn new(data: &'a Bytes) -> Self {
        Reader {
            data,
            buf: data,
            pos: 0,
            end: data.len(),
            depth: 0,
            last_key: 0,
            budget: Budget::UNLIMITED,
        }
    }

    /// A reader over the whole buffer that stops when the request it decodes exceeds `limits`.
    pub fn with_limits(data: &'a Bytes, limits: &DecodeLimits) -> Self {
        Reader {
            budget: limits.budget(),
            ..Reader::new(data)
        }
    }

    /// Counts one item of the request against the item limit.
    #[inline(always)]
    pub fn count_item(&mut self) -> Result<(), DecodeError> {
        self.budget.item().map_err(|kind| self.err(kind, ""))
    }

    /// Counts `n` decoded bytes against the decoded-bytes limit.
    #[inline(always)]
    pub fn spend(&mut self, n: usize) -> Result<(), DecodeError> {
        self.budget.spend(n).map_err(|kind| self.err(kind, ""))
    }

    /// Decoded bytes counted so far (what the decoded messages take beyond the input).
    pub fn decoded_bytes(&self) -> usize {
        self.budget.spent()
    }

    /// How many more items the item limit allows.
    #[inline]
    pub(crate) fn items_left(&self) -> usize {
        self.budget.items_left()
    }

    /// How many elements of `size` bytes the decoded-bytes budget still allows.
    #[inline]
    pub(crate) fn affordable(&self, size: usize) -> usize {
        self.budget.affordable(size)
    }

    /// Bytes left in the current message.
    #[inline]
    pub fn remaining(&self) -> usize {
        self.end - self.pos
    }

    /// Whether the current message has no bytes left.
    #[inline]
    pub fn at_end(&self) -> bool {
        self.pos >= self.end
    }

    /// An error at the current position; `pub(crate)` for the checks of the field codecs.
    pub(crate) fn err(&self, kind: K, detail: &'static str) -> DecodeError {
        DecodeError::new(kind, self.pos, detail)
    }

    /// Reads a varint.
    #[inline(always)]
    pub fn varint(&mut self) -> Result<u64, DecodeError> {
        // Most keys, lengths and small integers fit in one byte.
        if self.pos < self.end {
            let b = self.buf[self.pos];
            if b < 0x80 {
                self.pos += 1;
                return Ok(u64::from(b));
            }
        }
        self.varint_slow()
    }

    #[inline(never)]
    fn varint_slow(&mut self) -> Result<u64, DecodeError> {
        let buf = &self.buf[..self.end];
        let mut result = 0u64;
        let mut shift = 0;
        let mut pos = self.pos;
        loop {
            let Some(&b) = buf.get(pos) else {
                return Err(self.err(K::Truncated, "varint"));
            };
            pos += 1;
            result |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                self.pos = pos;
                return Ok(result);
            }
            shift += 7;
            if shift >= 70 {
                return Err(self.err(K::BadVarint, ""));
            }
        }
    }

    /// Reads a field key; returns the field number and wire type.
    #[inline(always)]
    pub fn key(&mut self) -> Result<(u32, WireType), DecodeError> {
        let k = self.varint()?;
        self.last_key = k;
        let wt = match k & 7 {
            0 => WireType::Varint,
            1 => WireType::Fixed64,
            2 => WireType::Len,
            3 => WireType::StartGroup,
            4 => WireType::EndGroup,
            5 => WireType::Fixed32,
            _ => return Err(self.err(K::BadTag, "wire type 6 or 7")),
        };
        let tag = k >> 3;
        if tag == 0 || tag > u64::from(u32::MAX >> 3) {
            return Err(self.err(K::BadTag, "field number out of range"));
        }
        Ok((tag as u32, wt))
    }

    #[inline(always)]
    fn take(&mut self, n: usize) -> Result<usize, DecodeError> {
        if self.end - self.pos < n {
            return Err(self.err(K::Truncated, "value"));
        }
        let at = self.pos;
        self.pos += n;
        Ok(at)
    }

    /// Reads a little-endian `u32`.
    #[inline]
    pub fn fixed32(&mut self) -> Result<u32, DecodeError> {
        let at = self.take(4)?;
        let mut b = [0u8; 4];
        b.copy_from_slice(&self.buf[at..at + 4]);
        Ok(u32::from_le_bytes(b))
    }

    /// Reads a little-endian `u64`.
    #[inline]
    pub fn fixed64(&mut self) -> Result<u64, DecodeError> {
        let at = self.take(8)?;
        let mut b = [0u8; 8];
        b.copy_from_slice(&self.buf[at..at + 8]);
        Ok(u64::from_le_bytes(b))
    }

    #[inline(always)]
    fn len_prefix(&mut self) -> Result<usize, DecodeError> {
        let n = self.varint()?;
        if n > (self.end - self.pos) as u64 {
            return Err(self.err(K::Truncated, "length-delimited field"));
        }
        Ok(n as usize)
    }

    /// Reads a length-delimited field as a slice of the input.
    #[inline]
    pub fn bytes(&mut self) -> Result<Bytes, DecodeError> {
        let n = self.len_prefix()?;
        let at = self.take(n)?;
        Ok(self.data.slice(at..at + n))
    }

    /// Reads a length-delimited field as a borrowed slice.
    #[inline]
    pub fn raw(&mut self) -> Result<&'a [u8], DecodeError> {
        let n = self.len_prefix()?;
        let at = self.take(n)?;
        Ok(&self.buf[at..at + n])
    }

    /// Reads a string field, checking UTF-8.
    #[inline]
    pub fn string(&mut self) -> Result<Str, DecodeError> {
        let mut s = Str::new();
        self.string_into(&mut s)?;
        Ok(s)
    }

    /// Reads a string field into `s`, checking UTF-8.
    #[inline(always)]
    pub(crate) fn string_into(&mut self, s: &mut Str) -> Result<(), DecodeError> {
        let n = self.len_prefix()?;
        let at = self.pos;
        self.pos += n;
        s.set_utf8_in(self.data, at..at + n)
            .map_err(|_| DecodeError::new(K::InvalidUtf8, at, ""))
    }

    /// Counts the run of fields with the key just read that starts here (the one about to be
    /// decoded and those right after it). Encoders write a repeated field's elements together, so
    /// this is its size; repeated fields reserve it once instead of growing (and copying) their
    /// vector four or five times. Stopping at the first other key keeps the look-ahead short.
    pub fn count_repeats(&self) -> usize {
        if self.last_key < 0x80 && self.last_key & 7 == WireType::Len as u64 {
            return self.count_len_repeats(self.last_key as u8);
        }
        let mut probe = Reader {
            data: self.data,
            buf: self.buf,
            pos: self.pos,
            end: self.end,
            depth: MAX_DEPTH - 1,
            last_key: self.last_key,
            budget: Budget::UNLIMITED,
        };
        let wt = match self.last_key & 7 {
            0 => WireType::Varint,
            1 => WireType::Fixed64,
            2 => WireType::Len,
            5 => WireType::Fixed32,
            _ => return 1,
        };
        let mut count = 1;
        if probe.skip(0, wt).is_err() {
            return 1;
        }
        while !probe.at_end() {
            let Ok(k) = probe.varint() else { break };
            if k != self.last_key {
                break;
            }
            count += 1;
            let w = match k & 7 {
                0 => WireType::Varint,
                1 => WireType::Fixed64,
                2 => WireType::Len,
                5 => WireType::Fixed32,
                _ => break,
            };
            if probe.skip(0, w).is_err() {
                break;
            }
        }
        count
    }

    /// [`Reader::count_repeats`] for a length-delimited field with a one-byte key (field numbers
    /// up to 15: most repeated message and string fields of OTLP), a loop over lengths and keys.
    #[inline]
    fn count_len_repeats(&self, key: u8) -> usize {
        let buf = &self.buf[..self.end];
        let mut pos = self.pos;
        let mut count = 0;
        while let Some((len, width)) = varint_at(buf, pos) {
            count += 1;
            pos = match usize::try_from(len)
                .ok()
                .and_then(|len| (pos + width).checked_add(len))
            {
                Some(next) => next,
                None => break,
            };
            if buf.get(pos) != Some(&key) {
                break;
            }
            pos += 1;
        }
        count.max(1)
    }

    /// Runs `f` over the body of a nested message, one level deeper, then restores the bounds.
    #[inline]
    pub fn nested<T>(
        &mut self,
        f: impl FnOnce(&mut Reader<'a>) -> Result<T, DecodeError>,
    ) -> Result<T, DecodeError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.err(K::TooDeep, ""));
        }
        self.depth += 1;
        let out = self.packed(f);
        self.depth -= 1;
        out
    }

    /// Runs `f` over the body of a length-delimited field (a packed repeated scalar, which is
    /// not a level of nesting), then restores the bounds.
    #[inline]
    pub fn packed<T>(
        &mut self,
        f: impl FnOnce(&mut Reader<'a>) -> Result<T, DecodeError>,
    ) -> Result<T, DecodeError> {
        let n = self.len_prefix()?;
        let outer_end = self.end;
        self.end = self.pos + n;
        let out = f(self);
        if out.is_ok() && self.pos != self.end {
            return Err(self.err(K::Truncated, "nested message"));
        }
        self.end = outer_end;
        out
    }

    /// Skips a field of the given wire type.
    pub fn skip(&mut self, tag: u32, wt: WireType) -> Result<(), DecodeError> {
        match wt {
            WireType::Varint => self.varint().map(drop),
            WireType::Fixed64 => self.take(8).map(drop),
            WireType::Fixed32 => self.take(4).map(drop),
            WireType::Len => {
                let n = self.len_prefix()?;
                self.take(n).map(drop)
            }
            WireType::StartGroup => {
                if self.depth >= MAX_DEPTH {
                    return Err(self.err(K::TooDeep, "group"));
                }
                self.depth += 1;
                let r = loop {
                    if self.at_end() {
                        break Err(self.err(K::Truncated, "group"));
                    }
                    let (t, w) = match self.key() {
                        Ok(k) => k,
                        Err(e) => break Err(e),
                    };
                    if w == WireType::EndGroup {
                        break if t == tag {
                            Ok(())
                        } else {
                            Err(self.err(K::BadTag, "mismatched end group"))
                        };
                    }
                    if let Err(e) = self.skip(t, w) {
                        break Err(e);
                    }
                };
                self.depth -= 1;
                r
            }
            WireType::EndGroup => Err(self.err(K::BadTag, "unexpected end group")),
        }
    }

    /// An error for a field that arrived with a wire type its schema does not allow.
    pub fn wrong_wire_type(&self) -> DecodeError {
        self.err(K::WrongWireType, "")
    }
}

/// The varint at `buf[pos..]` and its width, if one is there.
#[inline(always)]
fn varint_at(buf: &[u8], pos: usize) -> Option<(u64, usize)> {
    let b = *buf.get(pos)?;
    if b < 0x80 {
        return Some((u64::from(b), 1));
    }
    let mut result = u64::from(b & 0x7f);
    let mut i = 1;
    loop {
        let b = *buf.get(pos + i)?;
        result |= u64::from(b & 0x7f) << (7 * i);
        i += 1;
        if b < 0x80 {
            return Some((result, i));
        }
        if i == 10 {
            return None;
        }
    }
}
