//! From what `metrics` allows to what OTLP instruments accept: names made valid, units in UCUM.

use metrics::Unit;
use std::borrow::Cow;

/// Longest instrument name the specification allows, in bytes.
const MAX_NAME_LEN: usize = 255;

/// What a name not starting with an ASCII letter is prefixed with.
pub(crate) const PREFIX: &str = "metric_";

/// `name` made a valid instrument name: each character other than an ASCII letter, digit, `_`,
/// `.`, `-` or `/` becomes `_`; a name not starting with an ASCII letter (an empty one too)
/// gets the prefix `metric_`; the result is cut at 255 bytes. A valid name is kept as is,
/// without allocating.
pub(crate) fn instrument_name(name: &str) -> Cow<'_, str> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/');
    let starts_well = name.starts_with(|c: char| c.is_ascii_alphabetic());
    if starts_well && name.len() <= MAX_NAME_LEN && name.chars().all(allowed) {
        return Cow::Borrowed(name);
    }
    let mut out = String::with_capacity(name.len() + PREFIX.len());
    if !starts_well {
        out.push_str(PREFIX);
    }
    out.extend(name.chars().map(|c| if allowed(c) { c } else { '_' }));
    // Only ASCII is left: cutting at any byte is at a character boundary.
    out.truncate(MAX_NAME_LEN);
    Cow::Owned(out)
}

/// The UCUM form of a `metrics` unit, as OTLP expects it.
pub(crate) fn ucum(unit: Unit) -> &'static str {
    match unit {
        Unit::Count => "1",
        Unit::Percent => "%",
        Unit::Seconds => "s",
        Unit::Milliseconds => "ms",
        Unit::Microseconds => "us",
        Unit::Nanoseconds => "ns",
        Unit::Tebibytes => "TiBy",
        Unit::Gibibytes => "GiBy",
        Unit::Mebibytes => "MiBy",
        Unit::Kibibytes => "KiBy",
        Unit::Bytes => "By",
        Unit::TerabitsPerSecond => "Tbit/s",
        Unit::GigabitsPerSecond => "Gbit/s",
        Unit::MegabitsPerSecond => "Mbit/s",
        Unit::KilobitsPerSecond => "kbit/s",
        Unit::BitsPerSecond => "bit/s",
        Unit::CountPerSecond => "1/s",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_names_are_kept_and_invalid_ones_repaired() {
        assert!(matches!(
            instrument_name("http.server.requests"),
            Cow::Borrowed("http.server.requests")
        ));
        assert_eq!(instrument_name("cache hits"), "cache_hits");
        assert_eq!(instrument_name("9lives"), "metric_9lives");
        assert_eq!(instrument_name("_private"), "metric__private");
        assert_eq!(instrument_name(""), "metric_");
        assert_eq!(instrument_name("temp°C"), "temp_C");
        let long = "a".repeat(300);
        assert_eq!(instrument_name(&long).len(), MAX_NAME_LEN);
    }

    #[test]
    fn units_are_ucum() {
        assert_eq!(ucum(Unit::Seconds), "s");
        assert_eq!(ucum(Unit::Kibibytes), "KiBy");
        assert_eq!(ucum(Unit::BitsPerSecond), "bit/s");
        assert_eq!(ucum(Unit::Count), "1");
        assert_eq!(ucum(Unit::CountPerSecond), "1/s");
    }
}
