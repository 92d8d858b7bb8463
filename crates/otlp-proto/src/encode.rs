//! [`RevBuf`]: the protobuf output buffer, written back to front.
//!
//! A nested message is length-prefixed, and its length is only known once it is written. Writing the
//! output from the end towards the start turns that around: the body of a nested message is written
//! first, its length is then simply how far the cursor moved, and the prefix goes in front of it. One
//! pass, no size pre-computation and no length cache (prost measures every nested message once per
//! level of nesting). The gRPC frame header is prepended the same way, for free.

use crate::WireType;
use bytes::Bytes;

/// A growable buffer filled from the back. The written bytes are `self.buf[self.start..]`.
#[derive(Debug, Default, Clone)]
pub struct RevBuf {
    buf: Vec<u8>,
    start: usize,
}

impl RevBuf {
    /// An empty buffer.
    pub fn new() -> Self {
        RevBuf::default()
    }

    /// An empty buffer with room for `cap` bytes.
    pub fn with_capacity(cap: usize) -> Self {
        RevBuf {
            buf: vec![0; cap],
            start: cap,
        }
    }

    /// An empty buffer writing into `storage` (its length, not only its capacity, is the
    /// room: a buffer given back by [`RevBuf::into_parts`] is reused without zeroing it again).
    pub fn from_vec(storage: Vec<u8>) -> Self {
        RevBuf {
            start: storage.len(),
            buf: storage,
        }
    }

    /// The storage and where the written bytes start in it (`storage[start..]`), to hand the
    /// allocation to an owner that recycles it.
    pub fn into_parts(self) -> (Vec<u8>, usize) {
        (self.buf, self.start)
    }

    /// Bytes written so far.
    #[inline]
    pub fn len(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Whether nothing has been written.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The written bytes, in wire order.
    pub fn as_slice(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    /// Forgets the content and keeps the allocation, so steady-state encoding allocates nothing.
    pub fn clear(&mut self) {
        self.start = self.buf.len();
    }

    /// The written bytes as [`Bytes`], without copying.
    pub fn into_bytes(self) -> Bytes {
        let start = self.start;
        Bytes::from(self.buf).slice(start..)
    }

    #[cold]
    fn grow(&mut self, need: usize) {
        let len = self.len();
        let new_cap = (self.buf.len() * 2).max(len + need).max(256);
        let mut fresh = vec![0u8; new_cap];
        fresh[new_cap - len..].copy_from_slice(&self.buf[self.start..]);
        self.buf = fresh;
        self.start = new_cap - len;
    }

    /// Makes room for `n` more bytes in front and returns them.
    #[inline]
    fn front(&mut self, n: usize) -> &mut [u8] {
        if self.start < n {
            self.grow(n);
        }
        self.start -= n;
        &mut self.buf[self.start..self.start + n]
    }

    /// Prepends raw bytes.
    #[inline]
    pub fn put_slice(&mut self, s: &[u8]) {
        copy(self.front(s.len()), s);
    }

    /// Prepends one byte.
    #[inline]
    pub fn put_u8(&mut self, b: u8) {
        if self.start == 0 {
            self.grow(1);
        }
        self.start -= 1;
        // One store: most keys and lengths are a single byte, so this is the hot path.
        if let Some(slot) = self.buf.get_mut(self.start) {
            *slot = b;
        }
    }

    /// Prepends a base-128 varint.
    #[inline]
    pub fn put_varint(&mut self, v: u64) {
        if v < 0x80 {
            self.put_u8(v as u8);
        } else {
            self.put_long_varint(v);
        }
    }

    /// A varint of two bytes or more, kept out of line so the one-byte case inlines small.
    #[inline(never)]
    fn put_long_varint(&mut self, mut v: u64) {
        let n = varint_len(v);
        let out = self.front(n);
        for b in out.iter_mut().take(n - 1) {
            *b = (v as u8) | 0x80;
            v >>= 7;
        }
        out[n - 1] = v as u8;
    }

    /// Prepends a field key.
    #[inline]
    pub fn put_key(&mut self, tag: u32, wt: WireType) {
        let key = ((tag as u64) << 3) | wt as u64;
        // Field numbers under 16 (nearly all of OTLP's) make a one-byte key, known when the
        // tag is a constant.
        if key < 0x80 {
            self.put_u8(key as u8);
        } else {
            self.put_long_varint(key);
        }
    }

    /// Prepends a little-endian `u32`.
    #[inline]
    pub fn put_fixed32(&mut self, v: u32) {
        self.front(4).copy_from_slice(&v.to_le_bytes());
    }

    /// Prepends a little-endian `u64`.
    #[inline]
    pub fn put_fixed64(&mut self, v: u64) {
        self.front(8).copy_from_slice(&v.to_le_bytes());
    }

    /// Prepends a length-delimited field whose body was written since `mark` (a [`RevBuf::len`]).
    #[inline]
    pub fn finish_len_delimited(&mut self, tag: u32, mark: usize) {
        let n = self.len() - mark;
        self.put_varint(n as u64);
        self.put_key(tag, WireType::Len);
    }

    /// Prepends a length-delimited field with the given body.
    #[inline(always)]
    pub fn put_bytes_field(&mut self, tag: u32, body: &[u8]) {
        let key = (u64::from(tag) << 3) | WireType::Len as u64;
        if key < 0x80 && body.len() < 0x80 {
            // A one-byte key and length (keys, names, short values, ids): one room check.
            let out = self.front(body.len() + 2);
            if let [k, len, rest @ ..] = out {
                *k = key as u8;
                *len = body.len() as u8;
                copy(rest, body);
            }
            return;
        }
        self.put_slice(body);
        self.put_varint(body.len() as u64);
        self.put_key(tag, WireType::Len);
    }
}

/// `dst.copy_from_slice(src)` (equal lengths), with the short copies most fields are (keys,
/// names, short values, ids) done inline as two overlapping fixed-size moves instead of a call
/// to `memcpy`.
#[inline(always)]
pub(crate) fn copy(dst: &mut [u8], src: &[u8]) {
    let n = src.len();
    if n != dst.len() {
        // Only a caller's bug: the standard copy reports it (with its panic). The check also
        // lets the compiler drop the bounds checks below.
        dst.copy_from_slice(src);
        return;
    }
    macro_rules! overlapping {
        ($w:literal) => {{
            let (head, tail) = (&src[..$w], &src[n - $w..]);
            dst[..$w].copy_from_slice(head);
            dst[n - $w..].copy_from_slice(tail);
        }};
    }
    match n {
        0 => {}
        1..=3 => {
            dst[0] = src[0];
            dst[n / 2] = src[n / 2];
            dst[n - 1] = src[n - 1];
        }
        4..=7 => overlapping!(4),
        8..=15 => overlapping!(8),
        16..=32 => overlapping!(16),
        _ => dst.copy_from_slice(src),
    }
}

/// How many bytes the varint encoding of `v` takes.
#[inline]
pub fn varint_len(v: u64) -> usize {
    // 1 byte per started group of 7 bits, at least one.
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_fields_short_and_long() {
        for (tag, n) in [(1, 0), (1, 5), (15, 127), (15, 128), (16, 5), (2047, 300)] {
            let body = vec![7u8; n];
            let mut b = RevBuf::new();
            b.put_bytes_field(tag, &body);
            let mut want = RevBuf::new();
            want.put_slice(&body);
            want.put_varint(n as u64);
            want.put_key(tag, WireType::Len);
            assert_eq!(b.as_slice(), want.as_slice(), "tag {tag}, {n} bytes");
        }
        let mut b = RevBuf::new();
        b.put_bytes_field(1, b"ab");
        assert_eq!(b.as_slice(), &[0x0a, 2, b'a', b'b']);
    }

    #[test]
    fn short_and_long_copies_are_exact() {
        let src: Vec<u8> = (0..100u8).collect();
        for n in 0..=100 {
            let mut b = RevBuf::new();
            b.put_u8(0xff);
            b.put_slice(&src[..n]);
            b.put_u8(0xee);
            let mut want = vec![0xee];
            want.extend_from_slice(&src[..n]);
            want.push(0xff);
            assert_eq!(b.as_slice(), &want[..], "{n} bytes");
        }
    }

    #[test]
    fn varints_match_the_spec() {
        let mut b = RevBuf::new();
        b.put_varint(300);
        assert_eq!(b.as_slice(), &[0xac, 0x02]);
        b.clear();
        b.put_varint(u64::MAX);
        assert_eq!(b.len(), 10);
        assert_eq!(varint_len(0), 1);
        assert_eq!(varint_len(127), 1);
        assert_eq!(varint_len(128), 2);
    }

    #[test]
    fn grows_and_keeps_order() {
        let mut b = RevBuf::new();
        for i in (0..1000u32).rev() {
            b.put_fixed32(i);
        }
        let bytes = b.into_bytes();
        assert_eq!(bytes.len(), 4000);
        assert_eq!(&bytes[4..8], &1u32.to_le_bytes());
    }
}
