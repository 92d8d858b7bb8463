//! Carriers: where propagators write and read their key-value pairs.

use http::HeaderMap;
use http::header::{HeaderName, HeaderValue};
use std::collections::HashMap;

/// A carrier propagators write into.
pub trait Injector {
    /// Sets `key` to `value`, replacing earlier values. A pair the carrier cannot hold (an
    /// invalid header value, say) is skipped.
    fn set(&mut self, key: &str, value: String);

    /// Removes `key`.
    fn remove(&mut self, key: &str);
}

/// A carrier propagators read from. Keys are lowercase; carriers that ignore case (HTTP
/// headers) match any case.
pub trait Extractor {
    /// The first value of `key`, if it is text.
    fn get(&self, key: &str) -> Option<&str>;

    /// Every value of `key`, in order. A value that is not text is returned as
    /// `"\u{fffd}"` (which no propagator accepts), so that the count stays right.
    fn get_all(&self, key: &str) -> Vec<&str> {
        self.get(key).into_iter().collect()
    }

    /// The keys present.
    fn keys(&self) -> Vec<&str>;
}

impl Injector for HeaderMap {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            self.insert(name, value);
        }
    }

    fn remove(&mut self, key: &str) {
        if let Ok(name) = HeaderName::from_bytes(key.as_bytes()) {
            HeaderMap::remove(self, name);
        }
    }
}

impl Extractor for HeaderMap {
    fn get(&self, key: &str) -> Option<&str> {
        HeaderMap::get(self, key).and_then(|v| v.to_str().ok())
    }

    fn get_all(&self, key: &str) -> Vec<&str> {
        HeaderMap::get_all(self, key)
            .iter()
            .map(|v| v.to_str().unwrap_or("\u{fffd}"))
            .collect()
    }

    fn keys(&self) -> Vec<&str> {
        HeaderMap::keys(self).map(HeaderName::as_str).collect()
    }
}

impl<S: std::hash::BuildHasher> Injector for HashMap<String, String, S> {
    fn set(&mut self, key: &str, value: String) {
        self.insert(key.to_ascii_lowercase(), value);
    }

    fn remove(&mut self, key: &str) {
        HashMap::remove(self, &key.to_ascii_lowercase());
    }
}

impl<S: std::hash::BuildHasher> Extractor for HashMap<String, String, S> {
    fn get(&self, key: &str) -> Option<&str> {
        match HashMap::get(self, key) {
            Some(v) => Some(v.as_str()),
            None => self
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v.as_str()),
        }
    }

    fn keys(&self) -> Vec<&str> {
        HashMap::keys(self).map(String::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_map_and_hash_map_carry_values() {
        let mut h = HeaderMap::new();
        h.set("Traceparent", "a".into());
        h.set("traceparent", "b".into());
        h.set("bad", "line\nbreak".into());
        assert_eq!(Extractor::get(&h, "traceparent"), Some("b"));
        assert_eq!(Extractor::get_all(&h, "TRACEPARENT"), ["b"]);
        assert_eq!(Extractor::keys(&h), ["traceparent"]);
        Injector::remove(&mut h, "traceparent");
        assert!(h.is_empty());

        let mut m: HashMap<String, String> = HashMap::new();
        m.set("Baggage", "k=v".into());
        assert_eq!(Extractor::get(&m, "baggage"), Some("k=v"));
        let upper: HashMap<String, String> = [("Baggage".to_owned(), "x=y".to_owned())].into();
        assert_eq!(Extractor::get(&upper, "baggage"), Some("x=y"));
        Injector::remove(&mut m, "BAGGAGE");
        assert!(m.is_empty());
    }
}
