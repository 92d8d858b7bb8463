//! W3C Baggage: the `baggage` header.

use super::{Context, Extractor, Injector, TextMapPropagator};
use std::fmt::Write as _;

/// The most entries a [`Baggage`] holds (the W3C limit).
pub const MAX_BAGGAGE_ENTRIES: usize = 180;
/// The most bytes the `baggage` header of a [`Baggage`] takes (the W3C limit).
pub const MAX_BAGGAGE_BYTES: usize = 4096;

const BAGGAGE: &str = "baggage";

#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    key: String,
    value: String,
    /// The properties after the value (`;prop=1;flag`), as written, without the first `;`.
    metadata: Option<String>,
}

impl Entry {
    /// The length of this entry in the header.
    fn encoded_len(&self) -> usize {
        let mut len = self.key.len() + 1;
        for b in self.value.bytes() {
            len += if is_baggage_octet(b) { 1 } else { 3 };
        }
        len + self.metadata.as_ref().map_or(0, |m| m.len() + 1)
    }
}

/// Name-value pairs propagated with a trace (W3C Baggage), each with optional metadata
/// properties.
///
/// Keys are HTTP tokens; values are any text, percent-encoded in the header. At most
/// [`MAX_BAGGAGE_ENTRIES`] entries and [`MAX_BAGGAGE_BYTES`] bytes of header: what would go
/// beyond is refused by [`Baggage::insert`] and skipped by [`Baggage::parse`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Baggage {
    entries: Vec<Entry>,
}

/// RFC 7230 `tchar`.
fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token_char)
}

/// W3C `baggage-octet`: what a value may hold unencoded. `%` is always encoded, so that
/// decoding gives back the value.
fn is_baggage_octet(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x2b | 0x2d..=0x3a | 0x3c..=0x5b | 0x5d..=0x7e) && b != b'%'
}

fn percent_encode(value: &str, out: &mut String) {
    for b in value.bytes() {
        if is_baggage_octet(b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let raw = s.as_bytes();
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'%' => {
                let hex = std::str::from_utf8(raw.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b if is_baggage_octet(b) => {
                out.push(b);
                i += 1;
            }
            _ => return None,
        }
    }
    String::from_utf8(out).ok()
}

/// Checks `prop;prop=value;...` and gives it back with blanks around names and `=` removed.
fn parse_properties(raw: &str) -> Option<String> {
    let mut out = String::new();
    for prop in raw.split(';') {
        let prop = prop.trim_matches([' ', '\t']);
        if !out.is_empty() {
            out.push(';');
        }
        match prop.split_once('=') {
            None if is_token(prop) => out.push_str(prop),
            Some((k, v)) => {
                let (k, v) = (k.trim_matches([' ', '\t']), v.trim_matches([' ', '\t']));
                if !is_token(k) || !v.bytes().all(|b| is_baggage_octet(b) || b == b'%') {
                    return None;
                }
                out.push_str(k);
                out.push('=');
                out.push_str(v);
            }
            None => return None,
        }
    }
    Some(out)
}

impl Baggage {
    /// Empty baggage.
    pub const fn new() -> Self {
        Baggage {
            entries: Vec::new(),
        }
    }

    /// Parses a `baggage` header value. Invalid entries (bad key, bad percent-encoding, bad
    /// properties) are skipped, as are entries past the limits; a later duplicate key
    /// replaces the earlier one.
    pub fn parse(header: &str) -> Self {
        let mut baggage = Baggage::new();
        baggage.extend_from_header(header);
        baggage
    }

    fn extend_from_header(&mut self, header: &str) {
        for member in header.split(',') {
            let (pair, metadata) = match member.split_once(';') {
                Some((pair, props)) => (pair, Some(props)),
                None => (member, None),
            };
            let Some((key, value)) = pair.split_once('=') else {
                continue;
            };
            let (key, value) = (
                key.trim_matches([' ', '\t']),
                value.trim_matches([' ', '\t']),
            );
            let Some(value) = percent_decode(value) else {
                continue;
            };
            let metadata = match metadata.map(parse_properties) {
                Some(None) => continue,
                Some(Some(m)) => Some(m),
                None => None,
            };
            self.insert_entry(key.to_owned(), value, metadata);
        }
    }

    /// Sets `key` to `value` (without metadata). False, and nothing changed, when the key is
    /// not an HTTP token or the limits would be exceeded.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) -> bool {
        self.insert_entry(key.into(), value.into(), None)
    }

    /// Sets `key` to `value` with metadata properties (`prop=1;flag`, written after the value
    /// and a `;`; empty for none). False, and nothing changed, when the key is not an HTTP
    /// token, the metadata is not a list of properties, or the limits would be exceeded.
    pub fn insert_with_metadata(
        &mut self,
        key: impl Into<String>,
        value: impl Into<String>,
        metadata: &str,
    ) -> bool {
        let metadata = if metadata.trim().is_empty() {
            None
        } else {
            match parse_properties(metadata) {
                Some(m) => Some(m),
                None => return false,
            }
        };
        self.insert_entry(key.into(), value.into(), metadata)
    }

    /// Inserts an entry whose metadata is already checked.
    fn insert_entry(&mut self, key: String, value: String, metadata: Option<String>) -> bool {
        if !is_token(&key) {
            return false;
        }
        let entry = Entry {
            key,
            value,
            metadata,
        };
        let existing = self.entries.iter().position(|e| e.key == entry.key);
        let others = self
            .entries
            .iter()
            .enumerate()
            .filter(|(i, _)| Some(*i) != existing);
        let (count, bytes) = others.fold((0, 0), |(n, b), (_, e)| (n + 1, b + e.encoded_len() + 1));
        if count >= MAX_BAGGAGE_ENTRIES || bytes + entry.encoded_len() > MAX_BAGGAGE_BYTES {
            return false;
        }
        match existing {
            Some(i) => self.entries[i] = entry,
            None => self.entries.push(entry),
        }
        true
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entry(key).map(|e| e.value.as_str())
    }

    /// The metadata properties of `key`, if it has any.
    pub fn metadata(&self, key: &str) -> Option<&str> {
        self.entry(key).and_then(|e| e.metadata.as_deref())
    }

    fn entry(&self, key: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.key == key)
    }

    /// Removes `key`, giving back its value.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        let i = self.entries.iter().position(|e| e.key == key)?;
        Some(self.entries.remove(i).value)
    }

    /// The `(key, value)` pairs, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries
            .iter()
            .map(|e| (e.key.as_str(), e.value.as_str()))
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there is no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The `baggage` header value: `key=value;props` entries joined by `,`, values
    /// percent-encoded. Empty for empty baggage.
    pub fn to_header(&self) -> String {
        let mut out = String::new();
        for (i, e) in self.entries.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&e.key);
            out.push('=');
            percent_encode(&e.value, &mut out);
            if let Some(m) = &e.metadata {
                out.push(';');
                out.push_str(m);
            }
        }
        out
    }
}

/// The W3C Baggage propagator: the `baggage` key.
#[derive(Clone, Copy, Debug, Default)]
pub struct BaggagePropagator;

impl BaggagePropagator {
    /// The propagator.
    pub const fn new() -> Self {
        BaggagePropagator
    }
}

impl TextMapPropagator for BaggagePropagator {
    fn inject(&self, context: &Context, injector: &mut dyn Injector) {
        if context.baggage.is_empty() {
            injector.remove(BAGGAGE);
        } else {
            injector.set(BAGGAGE, context.baggage.to_header());
        }
    }

    /// Several `baggage` values are read in turn.
    fn extract_with_context(&self, context: &Context, extractor: &dyn Extractor) -> Context {
        let values = extractor.get_all(BAGGAGE);
        if values.is_empty() {
            return context.clone();
        }
        let mut baggage = Baggage::new();
        for v in values {
            baggage.extend_from_header(v);
        }
        Context::new(context.span.clone(), baggage)
    }

    fn fields(&self) -> &[&'static str] {
        &[BAGGAGE]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderMap;
    use std::collections::HashMap;

    #[test]
    fn parses_values_properties_and_percent_encoding() {
        let b = Baggage::parse(" k1 = v1 , k2=v%202;prop=1, k3=%E2%9C%93;flag ; p = x");
        assert_eq!(b.len(), 3);
        assert_eq!(b.get("k1"), Some("v1"));
        assert_eq!(b.get("k2"), Some("v 2"));
        assert_eq!(b.metadata("k2"), Some("prop=1"));
        assert_eq!(b.get("k3"), Some("✓"));
        assert_eq!(b.metadata("k3"), Some("flag;p=x"));
        assert_eq!(b.metadata("k1"), None);
        assert_eq!(b.to_header(), "k1=v1,k2=v%202;prop=1,k3=%E2%9C%93;flag;p=x");
    }

    #[test]
    fn encodes_what_is_not_a_baggage_octet() {
        let mut b = Baggage::new();
        assert!(b.insert("user", "a b,c;d\"e\\f%g=h"));
        assert_eq!(b.to_header(), "user=a%20b%2Cc%3Bd%22e%5Cf%25g=h");
        assert_eq!(Baggage::parse(&b.to_header()), b);
        assert!(!b.insert("bad key", "v"));
        assert!(!b.insert("", "v"));
        assert!(!b.insert_with_metadata("k", "v", "a b"));
        assert!(b.insert("user", "new"));
        assert_eq!(b.len(), 1);
        assert_eq!(b.remove("user").as_deref(), Some("new"));
        assert!(b.is_empty() && b.to_header().is_empty());
    }

    #[test]
    fn invalid_entries_are_skipped() {
        let b = Baggage::parse(
            "ok=1,noequals,bad key=2,=3,pct=%zz,trunc=%4,utf=%FF,sp=a b,props=1;bad prop,,dup=1,dup=2",
        );
        assert_eq!(b.iter().collect::<Vec<_>>(), [("ok", "1"), ("dup", "2")]);
        for garbage in ["", ",,,", "%%%", "\u{fffd}", "a=\u{fffd}", ";;=", "=;"] {
            assert!(Baggage::parse(garbage).is_empty(), "{garbage:?}");
        }
    }

    #[test]
    fn limits_are_kept() {
        let header: Vec<String> = (0..200).map(|i| format!("k{i}=v")).collect();
        let b = Baggage::parse(&header.join(","));
        assert_eq!(b.len(), MAX_BAGGAGE_ENTRIES);
        assert_eq!(b.get("k179"), Some("v"));
        assert_eq!(b.get("k180"), None);

        let big = "x".repeat(1000);
        let header: Vec<String> = (0..5).map(|i| format!("k{i}={big}")).collect();
        let b = Baggage::parse(&header.join(","));
        assert_eq!(b.len(), 4);
        assert!(b.to_header().len() <= MAX_BAGGAGE_BYTES);
        let mut b = Baggage::new();
        assert!(!b.insert("k", "x".repeat(MAX_BAGGAGE_BYTES)));
        assert!(b.insert("k", "x".repeat(MAX_BAGGAGE_BYTES - 2)));
        assert_eq!(b.to_header().len(), MAX_BAGGAGE_BYTES);
        // Replacing an entry frees its room.
        assert!(b.insert("k", "y".repeat(MAX_BAGGAGE_BYTES - 2)));
        // Encoded size counts: each space takes three bytes.
        let mut b = Baggage::new();
        assert!(!b.insert("k", " ".repeat(1400)));
        assert!(b.insert("k", " ".repeat(1364)));
    }

    #[test]
    fn propagator_round_trips_and_joins_headers() {
        let p = BaggagePropagator::new();
        let mut baggage = Baggage::new();
        baggage.insert("tenant", "acme corp");
        baggage.insert_with_metadata("region", "eu", "ttl=60");
        let cx = Context::new(crate::trace::SpanContext::INVALID, baggage.clone());
        let mut headers = HeaderMap::new();
        p.inject(&cx, &mut headers);
        assert_eq!(headers["baggage"], "tenant=acme%20corp,region=eu;ttl=60");
        assert_eq!(p.extract(&headers).baggage, baggage);

        let mut map: HashMap<String, String> = HashMap::new();
        p.inject(&cx, &mut map);
        assert_eq!(p.extract(&map).baggage, baggage);

        let mut two = HeaderMap::new();
        two.append("baggage", http::HeaderValue::from_static("a=1"));
        two.append("baggage", http::HeaderValue::from_static("b=2"));
        let got = p.extract(&two).baggage;
        assert_eq!(got.iter().collect::<Vec<_>>(), [("a", "1"), ("b", "2")]);

        p.inject(&Context::default(), &mut headers);
        assert!(headers.get("baggage").is_none());
    }
}
