//! Which instruments a view selects: a name pattern with the specification's wildcards, and
//! exact kind, unit and meter criteria, all of which must hold.

use super::InstrumentKind;
use super::resolve::InstrumentInfo;
use std::fmt;

/// An instrument name, or a pattern of one: `*` matches any run of characters (also none), `?`
/// exactly one. Compared ignoring ASCII case, as instrument names are case-insensitive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NamePattern {
    raw: String,
    /// The pattern's characters, split once so that `?` matches a character, not a byte.
    chars: Box<[char]>,
    wildcard: bool,
}

impl NamePattern {
    pub(crate) fn new(pattern: String) -> Self {
        let chars: Box<[char]> = pattern.chars().collect();
        let wildcard = chars.iter().any(|&c| c == '*' || c == '?');
        NamePattern {
            raw: pattern,
            chars,
            wildcard,
        }
    }

    /// Whether the pattern names one instrument exactly (has no wildcard).
    pub(crate) fn is_exact(&self) -> bool {
        !self.wildcard
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.raw
    }

    pub(crate) fn matches(&self, name: &str) -> bool {
        if !self.wildcard {
            return self.raw.eq_ignore_ascii_case(name);
        }
        let name: Vec<char> = name.chars().collect();
        glob(&self.chars, &name)
    }
}

/// Matches `pattern` against all of `name`. On a mismatch after a `*`, the `*` takes one more
/// character and matching resumes there: only the last `*` ever needs to be retried, so this
/// is linear in practice and never exponential.
fn glob(pattern: &[char], name: &[char]) -> bool {
    let (mut p, mut n) = (0, 0);
    // The position just after the last `*` seen, and where in `name` it started matching.
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p + 1, n));
                p += 1;
            }
            Some(&c) if c == '?' || c.eq_ignore_ascii_case(&name[n]) => {
                p += 1;
                n += 1;
            }
            _ => match star {
                Some((after, from)) => {
                    p = after;
                    n = from + 1;
                    star = Some((after, from + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

/// The instrument selection criteria of a view.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Selector {
    pub(crate) name: Option<NamePattern>,
    pub(crate) kind: Option<InstrumentKind>,
    pub(crate) unit: Option<String>,
    pub(crate) meter_name: Option<String>,
    pub(crate) meter_version: Option<String>,
    pub(crate) meter_schema_url: Option<String>,
}

impl Selector {
    /// Whether no criterion is set (such a view is refused: it would select every instrument
    /// by accident).
    pub(crate) fn is_empty(&self) -> bool {
        *self == Selector::default()
    }

    /// Whether every criterion set holds for `info` (units and meter fields compare exactly).
    pub(crate) fn matches(&self, info: &InstrumentInfo<'_>) -> bool {
        self.name.as_ref().is_none_or(|p| p.matches(info.name))
            && self.kind.is_none_or(|k| k == info.kind)
            && self.unit.as_deref().is_none_or(|u| u == &**info.unit)
            && self
                .meter_name
                .as_deref()
                .is_none_or(|m| m == info.meter_name)
            && (self.meter_version.as_deref()).is_none_or(|v| v == info.meter_version)
            && (self.meter_schema_url.as_deref()).is_none_or(|s| s == info.meter_schema_url)
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        let mut sep = "";
        let mut field = |f: &mut fmt::Formatter<'_>, key: &str, value: &dyn fmt::Debug| {
            let r = write!(f, "{sep}{key}={value:?}");
            sep = ", ";
            r
        };
        if let Some(name) = &self.name {
            field(f, "name", &name.as_str())?;
        }
        if let Some(kind) = &self.kind {
            field(f, "kind", kind)?;
        }
        if let Some(unit) = &self.unit {
            field(f, "unit", unit)?;
        }
        if let Some(meter) = &self.meter_name {
            field(f, "meter", meter)?;
        }
        if let Some(version) = &self.meter_version {
            field(f, "meter_version", version)?;
        }
        if let Some(url) = &self.meter_schema_url {
            field(f, "meter_schema_url", url)?;
        }
        f.write_str("}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, name: &str) -> bool {
        NamePattern::new(pattern.to_owned()).matches(name)
    }

    #[test]
    fn wildcards_follow_the_specification() {
        assert!(m("*", "anything"));
        assert!(m("*", ""));
        assert!(m("http.*", "http.server.duration"));
        assert!(m("http.*", "http."), "* matches nothing too");
        assert!(!m("http.*", "rpc.server.duration"));
        assert!(m("*.duration", "http.server.duration"));
        assert!(m("http.*.duration", "http.server.duration"));
        assert!(!m("http.*.duration", "http.server.duration.max"));
        assert!(m("a*b*c", "aXXbYYbZZc"), "backtracks over the last star");
        assert!(!m("a*b*c", "aXXbYYbZZ"));
        assert!(m("req?", "reqs"));
        assert!(!m("req?", "req"), "? is exactly one character");
        assert!(!m("req?", "reqs2"));
        assert!(m("t?mp", "tèmp"), "? is a character, not a byte");
        assert!(m("**?", "x"));
        assert!(!m("**?", ""));
    }

    #[test]
    fn names_match_exactly_but_ignore_ascii_case() {
        assert!(m("Requests", "requests"));
        assert!(m("HTTP.*", "http.server"));
        assert!(m("h?TP", "Http"));
        assert!(!m("requests", "requests2"));
        assert!(!m("requests", "request"));
        assert!(NamePattern::new("a.b".into()).is_exact());
        assert!(!NamePattern::new("a.*".into()).is_exact());
        assert!(!NamePattern::new("a?".into()).is_exact());
    }
}
