//! [`Str`]: an immutable UTF-8 string that shares its storage.

use bytes::Bytes;
use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;

/// An immutable UTF-8 string backed by [`Bytes`].
///
/// Decoding a request slices strings out of the request buffer instead of allocating one `String`
/// per field, and `&'static str` keys become strings without any allocation. `Str` dereferences to
/// `str`, so it reads like one.
///
/// ```
/// use otlp_proto::Str;
/// let key = Str::from_static("service.name");
/// let owned = Str::from(String::from("checkout"));
/// assert_eq!(&*key, "service.name");
/// assert_eq!(owned, "checkout");
/// ```
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Str(Bytes);

impl Str {
    /// An empty string.
    pub const fn new() -> Self {
        Str(Bytes::new())
    }

    /// A string from a `&'static str`, without allocating.
    pub const fn from_static(s: &'static str) -> Self {
        Str(Bytes::from_static(s.as_bytes()))
    }

    /// Validates `bytes` as UTF-8 and wraps them without copying.
    pub fn from_utf8(bytes: Bytes) -> Result<Self, std::str::Utf8Error> {
        std::str::from_utf8(&bytes)?;
        Ok(Str(bytes))
    }

    /// The string as `&str`.
    #[allow(unsafe_code)]
    pub fn as_str(&self) -> &str {
        // SAFETY: every constructor either takes a `str`/`String` or validates with
        // `std::str::from_utf8`, and the bytes are immutable afterwards. Re-validating on every
        // read would make each string access O(len) on the encode hot path.
        unsafe { std::str::from_utf8_unchecked(&self.0) }
    }

    /// The UTF-8 bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The shared buffer behind this string.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }
}

impl Deref for Str {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Str {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Str {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl From<&'static str> for Str {
    fn from(s: &'static str) -> Self {
        Str::from_static(s)
    }
}

impl From<String> for Str {
    fn from(s: String) -> Self {
        Str(Bytes::from(s.into_bytes()))
    }
}

impl From<&String> for Str {
    fn from(s: &String) -> Self {
        Str(Bytes::copy_from_slice(s.as_bytes()))
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
    fn eq(&self, other: &str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl PartialEq<&str> for Str {
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
    fn static_and_owned_compare_equal() {
        assert_eq!(Str::from_static("a.b"), Str::from(String::from("a.b")));
        assert_eq!(Str::new().len(), 0);
    }
}
