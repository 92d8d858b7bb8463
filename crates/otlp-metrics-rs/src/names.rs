//! From what `metrics` allows to what OTLP instruments accept: names made valid, units in UCUM.

use metrics::Unit;
use otlp_sdk::metrics::valid_instrument_name;
use std::borrow::Cow;

/// `name` made a valid instrument name (the SDK's rule: [`valid_instrument_name`]).
pub(crate) fn instrument_name(name: &str) -> Cow<'_, str> {
    valid_instrument_name(name)
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
        assert_eq!(instrument_name(&long).len(), 255);
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
