//! [`Str`]: an immutable UTF-8 string that shares its storage.

use bytes::Bytes;
use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;

/// An immutable UTF-8 string that is cheap to decode, clone and drop.
///
/// Short strings (up to 30 bytes: most attribute keys and many values) live inline, with no
/// allocation and no reference count. Longer ones share the request buffer they were decoded from
/// ([`Bytes`]). `&'static str` values (attribute keys and names in code) are held as the
/// reference itself: no allocation, and nothing to do to clone or drop them. `Str` dereferences
/// to `str`, so it reads like one.
///
/// ```
/// use otlp_proto::Str;
/// let key = Str::from_static("service.name");
/// let owned = Str::from(String::from("checkout"));
/// assert_eq!(&*key, "service.name");
/// assert_eq!(owned, "checkout");
/// ```
#[derive(Clone)]
pub struct Str(Repr);

const INLINE_CAP: usize = 30;

#[derive(Clone)]
enum Repr {
    Inline {
        len: u8,
        buf: [u8; INLINE_CAP],
    },
    Shared(Bytes),
    /// Fits beside the others: the enum stays 40 bytes (checked below).
    Static(&'static str),
}

const _: () = assert!(std::mem::size_of::<Str>() == 40);

/// Whether `s` (at most 32 bytes) is ASCII, so UTF-8: overlapping word loads, kept in registers
/// (most strings of a request are short and ASCII; [`std::str::from_utf8`] walks them byte by
/// byte up to an aligned word).
#[inline(always)]
fn short_is_ascii(s: &[u8]) -> bool {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let n = s.len();
    let w = |i: usize| u64::from_le_bytes(s[i..i + 8].try_into().unwrap_or([0xff; 8]));
    if n >= 16 {
        (w(0) | w(8) | w(n - 16) | w(n - 8)) & HIGH == 0
    } else if n >= 8 {
        (w(0) | w(n - 8)) & HIGH == 0
    } else if n >= 4 {
        let w = |i: usize| u32::from_le_bytes(s[i..i + 4].try_into().unwrap_or([0xff; 4]));
        (w(0) | w(n - 4)) & 0x8080_8080 == 0
    } else {
        s.iter().all(u8::is_ascii)
    }
}

impl Default for Str {
    fn default() -> Self {
        Str::new()
    }
}

impl Str {
    /// An empty string.
    pub const fn new() -> Self {
        Str(Repr::Inline {
            len: 0,
            buf: [0; INLINE_CAP],
        })
    }

    /// A string from a `&'static str`, without allocating.
    pub const fn from_static(s: &'static str) -> Self {
        Str(Repr::Static(s))
    }

    fn inline(s: &[u8]) -> Option<Self> {
        if s.len() > INLINE_CAP {
            return None;
        }
        let mut buf = [0; INLINE_CAP];
        buf[..s.len()].copy_from_slice(s);
        Some(Str(Repr::Inline {
            len: s.len() as u8,
            buf,
        }))
    }

    /// Makes `self` the inline string `s` (at most [`INLINE_CAP`] bytes), written where it
    /// lies: two overlapping copies of a fixed size rather than a `memcpy` call, and no copy of
    /// a string built aside (reading back bytes just stored by narrower, overlapping writes
    /// stalls the load).
    #[inline(always)]
    fn set_inline(&mut self, s: &[u8]) {
        let n = s.len();
        *self = Str::new();
        let Repr::Inline { len, buf } = &mut self.0 else {
            return;
        };
        if n >= 16 {
            buf[..16].copy_from_slice(&s[..16]);
            buf[n - 16..n].copy_from_slice(&s[n - 16..]);
        } else if n >= 8 {
            buf[..8].copy_from_slice(&s[..8]);
            buf[n - 8..n].copy_from_slice(&s[n - 8..]);
        } else if n >= 4 {
            buf[..4].copy_from_slice(&s[..4]);
            buf[n - 4..n].copy_from_slice(&s[n - 4..]);
        } else if n > 0 {
            buf[0] = s[0];
            buf[n / 2] = s[n / 2];
            buf[n - 1] = s[n - 1];
        }
        *len = n as u8;
    }

    /// A copy of `s`: inline (no allocation) up to 30 bytes, else one shared allocation.
    #[inline]
    pub fn copy_from(s: &str) -> Self {
        Str::inline(s.as_bytes())
            .unwrap_or_else(|| Str(Repr::Shared(Bytes::copy_from_slice(s.as_bytes()))))
    }

    /// Validates `bytes` as UTF-8 and wraps them without copying (short strings are copied inline).
    pub fn from_utf8(bytes: Bytes) -> Result<Self, std::str::Utf8Error> {
        std::str::from_utf8(&bytes)?;
        Ok(Str::inline(&bytes).unwrap_or(Str(Repr::Shared(bytes))))
    }

    /// Validates `buf[range]` as UTF-8; short strings are copied inline, long ones share `buf`.
    #[inline]
    pub fn from_utf8_in(
        buf: &Bytes,
        range: std::ops::Range<usize>,
    ) -> Result<Self, std::str::Utf8Error> {
        let mut s = Str::new();
        s.set_utf8_in(buf, range)?;
        Ok(s)
    }

    /// [`Str::from_utf8_in`] into `self` (the protobuf decoder's string fields).
    #[inline(always)]
    pub(crate) fn set_utf8_in(
        &mut self,
        buf: &Bytes,
        range: std::ops::Range<usize>,
    ) -> Result<(), std::str::Utf8Error> {
        let s = &buf[range.clone()];
        if s.len() <= INLINE_CAP {
            if !short_is_ascii(s) {
                std::str::from_utf8(s)?;
            }
            self.set_inline(s);
        } else {
            if !s.is_ascii() {
                std::str::from_utf8(s)?;
            }
            *self = Str(Repr::Shared(buf.slice(range)));
        }
        Ok(())
    }

    /// Like [`Str::from_utf8_in`] for bytes the caller has already validated as UTF-8.
    ///
    /// # Safety
    ///
    /// `buf[range]` must be valid UTF-8: [`Str::as_str`] reads a `Str`'s bytes as `str`
    /// without checking them again.
    // Only the JSON reader has bytes it validated itself.
    #[cfg(feature = "json")]
    #[allow(unsafe_code)]
    pub(crate) unsafe fn from_validated_in(buf: &Bytes, range: std::ops::Range<usize>) -> Self {
        debug_assert!(std::str::from_utf8(&buf[range.clone()]).is_ok());
        Str::inline(&buf[range.clone()]).unwrap_or_else(|| Str(Repr::Shared(buf.slice(range))))
    }

    /// The string as `&str`.
    #[inline]
    #[allow(unsafe_code)]
    pub fn as_str(&self) -> &str {
        // SAFETY: every constructor either takes a `str`/`String` or validates with
        // `std::str::from_utf8` (`set_utf8_in` first checks for ASCII, which is UTF-8, and
        // calls it otherwise; `from_validated_in`'s callers promise it), and the bytes are
        // immutable afterwards. Re-validating on every read would make each string access
        // O(len) on the encode hot path.
        unsafe { std::str::from_utf8_unchecked(self.as_bytes()) }
    }

    /// The UTF-8 bytes.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, buf } => &buf[..usize::from(*len)],
            Repr::Shared(b) => b,
            Repr::Static(s) => s.as_bytes(),
        }
    }

    /// Whether the string owns nothing that dropping it would release (it is inline or
    /// `&'static`): such strings can be forgotten instead of dropped.
    #[inline]
    pub fn is_plain(&self) -> bool {
        !matches!(self.0, Repr::Shared(_))
    }

    /// The string as [`Bytes`] (copies an inline string).
    pub fn into_bytes(self) -> Bytes {
        match self.0 {
            Repr::Inline { len, buf } => Bytes::copy_from_slice(&buf[..usize::from(len)]),
            Repr::Shared(b) => b,
            Repr::Static(s) => Bytes::from_static(s.as_bytes()),
        }
    }
}

impl PartialEq for Str {
    #[inline]
    fn eq(&self, other: &Str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Str {}

impl PartialOrd for Str {
    fn partial_cmp(&self, other: &Str) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Str {
    fn cmp(&self, other: &Str) -> std::cmp::Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl std::hash::Hash for Str {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl Deref for Str {
    type Target = str;
    #[inline]
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Str {
    #[inline]
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Str {
    #[inline]
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl From<&'static str> for Str {
    #[inline]
    fn from(s: &'static str) -> Self {
        Str::from_static(s)
    }
}

impl From<String> for Str {
    #[inline]
    fn from(s: String) -> Self {
        Str::inline(s.as_bytes()).unwrap_or_else(|| Str(Repr::Shared(Bytes::from(s.into_bytes()))))
    }
}

impl From<&String> for Str {
    fn from(s: &String) -> Self {
        Str::inline(s.as_bytes())
            .unwrap_or_else(|| Str(Repr::Shared(Bytes::copy_from_slice(s.as_bytes()))))
    }
}

impl From<Box<str>> for Str {
    fn from(s: Box<str>) -> Self {
        Str::from(String::from(s))
    }
}

impl From<std::borrow::Cow<'static, str>> for Str {
    fn from(s: std::borrow::Cow<'static, str>) -> Self {
        match s {
            std::borrow::Cow::Borrowed(b) => Str::from_static(b),
            std::borrow::Cow::Owned(o) => Str::from(o),
        }
    }
}

impl PartialEq<str> for Str {
    #[inline]
    fn eq(&self, other: &str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl PartialEq<&str> for Str {
    #[inline]
    fn eq(&self, other: &&str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl fmt::Debug for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_invalid_utf8() {
        assert!(Str::from_utf8(Bytes::from_static(&[0xff, 0xfe])).is_err());
        assert_eq!(Str::from_utf8(Bytes::from_static(b"ok")).unwrap(), "ok");
    }

    #[test]
    fn inline_and_shared_strings_behave_alike() {
        let long = "x".repeat(100);
        let buf = Bytes::from(format!("short{long}"));
        let short = Str::from_utf8_in(&buf, 0..5).unwrap();
        let shared = Str::from_utf8_in(&buf, 5..105).unwrap();
        assert_eq!(short, "short");
        assert_eq!(shared.as_str(), long);
        assert_eq!(Str::from(long.clone()), shared);
        assert_eq!(shared.clone().into_bytes(), long.as_bytes());
        assert!(Str::from_utf8_in(&Bytes::from_static(&[b'a', 0xff]), 0..2).is_err());
    }

    #[test]
    fn every_length_is_copied_and_checked() {
        let text: String = ('a'..='z').chain('A'..='Z').collect();
        let buf = Bytes::from(format!("{text}é{text}"));
        for start in 0..8 {
            for len in 0..=40 {
                let range = start..start + len;
                let s = Str::from_utf8_in(&buf, range.clone()).unwrap();
                assert_eq!(s.as_bytes(), &buf[range], "{start}+{len}");
                assert_eq!(Str::copy_from(&text[start..start + len]), s);
            }
        }
        // The two-byte `é` at 52..54: whole, split, at every place in short and long strings.
        for start in 15..=54 {
            for end in start..=70 {
                let r = Str::from_utf8_in(&buf, start..end);
                let valid = start == end || start != 53 && end != 53;
                assert_eq!(r.is_ok(), valid, "{start}..{end}");
                if let Ok(s) = r {
                    assert_eq!(s.as_str(), std::str::from_utf8(&buf[start..end]).unwrap());
                }
            }
        }
    }

    #[test]
    fn static_strings_behave_like_the_others() {
        const KEY: Str = Str::from_static("http.request.method");
        let from_static = Str::from("a static string longer than thirty bytes");
        let copied = Str::copy_from("a static string longer than thirty bytes");
        assert_eq!(from_static, copied);
        assert_eq!(KEY, Str::copy_from("http.request.method"));
        assert_eq!(&*KEY.clone(), "http.request.method");
        assert_eq!(
            from_static.clone().into_bytes(),
            Bytes::from_static(b"a static string longer than thirty bytes")
        );
        assert_eq!(Str::from(""), Str::new());
        let mut set = std::collections::HashSet::new();
        set.insert(copied);
        assert!(set.contains("a static string longer than thirty bytes"));
    }

    #[test]
    fn copies_compare_equal_to_their_source() {
        let short = Str::copy_from("short");
        let long = Str::copy_from(&"x".repeat(100));
        assert_eq!(short, "short");
        assert_eq!(long.len(), 100);
        assert_eq!(long, Str::from("x".repeat(100)));
    }

    #[test]
    fn static_and_owned_compare_equal() {
        assert_eq!(Str::from_static("a.b"), Str::from(String::from("a.b")));
        assert_eq!(Str::new().len(), 0);
    }
}
