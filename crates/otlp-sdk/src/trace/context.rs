//! The propagated part of a span: ids, flags and the W3C trace state.

use super::id::{SpanId, TraceId};
use otlp_proto::Str;
use std::fmt;

/// The W3C trace flags; bit 0 is "sampled".
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TraceFlags(u8);

impl TraceFlags {
    /// No flag set.
    pub const NONE: TraceFlags = TraceFlags(0);
    /// The sampled flag.
    pub const SAMPLED: TraceFlags = TraceFlags(1);

    /// Flags with these bits.
    pub const fn new(bits: u8) -> Self {
        TraceFlags(bits)
    }

    /// The bits.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Whether the sampled bit is set.
    pub const fn is_sampled(self) -> bool {
        self.0 & 1 == 1
    }

    /// These flags with the sampled bit set or cleared.
    pub const fn with_sampled(self, sampled: bool) -> Self {
        TraceFlags(if sampled { self.0 | 1 } else { self.0 & !1 })
    }
}

impl fmt::Debug for TraceFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceFlags({:02x})", self.0)
    }
}

/// The W3C `tracestate` list, kept as its validated string form.
///
/// [`TraceState::parse`] checks every list member against the W3C key and value rules, at most
/// 32 members and no duplicate key; anything invalid gives the empty state.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct TraceState(
    // `None` for the empty state (never `Some("")`): nearly every span has the empty state,
    // and `None` is written and copied as one byte, not as a 40-byte `Str`.
    Option<Str>,
);

/// The most list members a trace state may hold.
pub const MAX_TRACE_STATE_ENTRIES: usize = 32;

fn is_key_char(c: u8) -> bool {
    matches!(c, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'*' | b'/')
}

/// The W3C `key` rule: a simple key, or `tenant@system`.
pub(crate) fn valid_key(key: &str) -> bool {
    let k = key.as_bytes();
    match key.split_once('@') {
        None => {
            !k.is_empty()
                && k.len() <= 256
                && k[0].is_ascii_lowercase()
                && k.iter().all(|&c| is_key_char(c))
        }
        Some((tenant, system)) => {
            let (t, s) = (tenant.as_bytes(), system.as_bytes());
            !t.is_empty()
                && t.len() <= 241
                && (t[0].is_ascii_lowercase() || t[0].is_ascii_digit())
                && t.iter().all(|&c| is_key_char(c))
                && !s.is_empty()
                && s.len() <= 14
                && s[0].is_ascii_lowercase()
                && s.iter().all(|&c| is_key_char(c))
        }
    }
}

/// The W3C `value` rule: 1 to 256 printable ASCII characters except `,` and `=`, not ending in
/// a space.
pub(crate) fn valid_value(value: &str) -> bool {
    let v = value.as_bytes();
    !v.is_empty()
        && v.len() <= 256
        && v[v.len() - 1] != b' '
        && v.iter()
            .all(|&c| (0x20..=0x7e).contains(&c) && c != b',' && c != b'=')
}

impl TraceState {
    /// The empty trace state.
    pub const fn empty() -> Self {
        TraceState(None)
    }

    fn from_string(s: String) -> Self {
        TraceState((!s.is_empty()).then(|| s.into()))
    }

    /// Parses a `tracestate` header value; an invalid one gives the empty state. Empty list
    /// members and optional whitespace around members are allowed and dropped.
    pub fn parse(header: &str) -> Self {
        let mut members: Vec<(&str, &str)> = Vec::new();
        for member in header.split(',') {
            let member = member.trim_matches([' ', '\t']);
            if member.is_empty() {
                continue;
            }
            let Some((key, value)) = member.split_once('=') else {
                return TraceState::empty();
            };
            if !valid_key(key)
                || !valid_value(value)
                || members.len() == MAX_TRACE_STATE_ENTRIES
                || members.iter().any(|(k, _)| *k == key)
            {
                return TraceState::empty();
            }
            members.push((key, value));
        }
        if members.is_empty() {
            return TraceState::empty();
        }
        let mut out = String::with_capacity(header.len());
        for (i, (k, v)) in members.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(k);
            out.push('=');
            out.push_str(v);
        }
        TraceState::from_string(out)
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// The members, in order.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &str)> {
        self.as_str().split(',').filter_map(|m| m.split_once('='))
    }

    /// A state with `key=value` first and any earlier `key` removed, as W3C asks of a vendor
    /// updating its entry; `None` when the key or value is invalid.
    pub fn with_entry(&self, key: &str, value: &str) -> Option<TraceState> {
        if !valid_key(key) || !valid_value(value) {
            return None;
        }
        let mut out = format!("{key}={value}");
        for (k, v) in self
            .entries()
            .filter(|(k, _)| *k != key)
            .take(MAX_TRACE_STATE_ENTRIES - 1)
        {
            out.push(',');
            out.push_str(k);
            out.push('=');
            out.push_str(v);
        }
        Some(TraceState::from_string(out))
    }

    /// The header form (`k=v,k2=v2`), empty for the empty state.
    pub fn as_str(&self) -> &str {
        self.0.as_ref().map_or("", |s| s.as_str())
    }

    /// Whether there is no member.
    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    pub(crate) fn as_otlp(&self) -> Str {
        self.0.clone().unwrap_or_default()
    }

    /// A trace state validated before (an explicit parent's, read back from a span record).
    pub(crate) fn from_validated(state: Str) -> TraceState {
        TraceState((!state.is_empty()).then_some(state))
    }
}

impl fmt::Debug for TraceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceState({:?})", self.as_str())
    }
}

impl fmt::Display for TraceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What identifies a span across process boundaries.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct SpanContext {
    trace_id: TraceId,
    span_id: SpanId,
    trace_flags: TraceFlags,
    trace_state: TraceState,
    is_remote: bool,
}

impl SpanContext {
    /// The invalid context: no trace, no span.
    pub const INVALID: SpanContext = SpanContext {
        trace_id: TraceId::INVALID,
        span_id: SpanId::INVALID,
        trace_flags: TraceFlags::NONE,
        trace_state: TraceState::empty(),
        is_remote: false,
    };

    /// A context with these parts.
    pub fn new(
        trace_id: TraceId,
        span_id: SpanId,
        trace_flags: TraceFlags,
        is_remote: bool,
        trace_state: TraceState,
    ) -> Self {
        SpanContext {
            trace_id,
            span_id,
            trace_flags,
            trace_state,
            is_remote,
        }
    }

    /// The trace id.
    pub fn trace_id(&self) -> TraceId {
        self.trace_id
    }

    /// The span id.
    pub fn span_id(&self) -> SpanId {
        self.span_id
    }

    /// The trace flags.
    pub fn trace_flags(&self) -> TraceFlags {
        self.trace_flags
    }

    /// The trace state.
    pub fn trace_state(&self) -> &TraceState {
        &self.trace_state
    }

    /// Whether the context came from another process (was extracted from a carrier).
    pub fn is_remote(&self) -> bool {
        self.is_remote
    }

    /// Whether the sampled flag is set.
    pub fn is_sampled(&self) -> bool {
        self.trace_flags.is_sampled()
    }

    /// Whether both ids are valid.
    pub fn is_valid(&self) -> bool {
        self.trace_id.is_valid() && self.span_id.is_valid()
    }
}

impl fmt::Debug for SpanContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpanContext")
            .field("trace_id", &format_args!("{}", self.trace_id))
            .field("span_id", &format_args!("{}", self.span_id))
            .field("trace_flags", &self.trace_flags)
            .field("trace_state", &self.trace_state.as_str())
            .field("is_remote", &self.is_remote)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_state_validation() {
        let ts = TraceState::parse("rojo=00f067aa0ba902b7, congo=t61rcWkgMzE ,,");
        assert_eq!(ts.as_str(), "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
        assert_eq!(ts.get("congo"), Some("t61rcWkgMzE"));
        assert!(
            TraceState::parse("tenant@sys=v")
                .get("tenant@sys")
                .is_some()
        );
        for bad in [
            "Upper=1",
            "a=b=c",
            "a=1,a=2",
            "k",
            "k=\u{1}",
            "1abc=x",
            "t@toolongsystemid=x",
        ] {
            assert!(TraceState::parse(bad).is_empty(), "{bad}");
        }
        let many: Vec<String> = (0..33).map(|i| format!("k{i}=v")).collect();
        assert!(TraceState::parse(&many.join(",")).is_empty());
        assert_eq!(
            TraceState::parse(&many[..32].join(",")).entries().count(),
            32
        );
        let updated = ts.with_entry("congo", "new").expect("valid");
        assert_eq!(updated.as_str(), "congo=new,rojo=00f067aa0ba902b7");
        assert!(ts.with_entry("Bad", "x").is_none());
    }

    #[test]
    fn flags() {
        assert!(TraceFlags::SAMPLED.is_sampled());
        assert!(!TraceFlags::SAMPLED.with_sampled(false).is_sampled());
        assert!(!SpanContext::INVALID.is_valid());
    }
}
