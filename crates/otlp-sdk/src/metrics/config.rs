//! [`MetricsConfig`]: how a client collects and exports metrics, from code or from the
//! `OTEL_*` environment.

use crate::Error;
use std::time::Duration;

/// The environment variable of [`MetricsConfig::with_temporality`].
pub const TEMPORALITY_ENV: &str = "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE";
/// The environment variable of [`MetricsConfig::with_export_interval`].
pub const INTERVAL_ENV: &str = "OTEL_METRIC_EXPORT_INTERVAL";
/// The environment variable of [`MetricsConfig::with_export_timeout`].
pub const TIMEOUT_ENV: &str = "OTEL_METRIC_EXPORT_TIMEOUT";

/// The default export interval (the specification's 60 s).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);
/// The default export timeout (the specification's 30 s).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// The default cardinality limit: series per instrument besides the overflow series.
pub const DEFAULT_CARDINALITY_LIMIT: usize = 2000;

/// Whether each point covers everything since the instrument began, or only the interval since
/// the previous collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Temporality {
    /// Since the start (the default).
    #[default]
    Cumulative,
    /// Since the previous collection.
    Delta,
}

/// The kinds of instrument, as temporality preferences and views tell them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InstrumentKind {
    /// [`Counter`](super::Counter).
    Counter,
    /// [`UpDownCounter`](super::UpDownCounter).
    UpDownCounter,
    /// [`Histogram`](super::Histogram).
    Histogram,
    /// [`Gauge`](super::Gauge).
    Gauge,
    /// [`ObservableCounter`](super::ObservableCounter).
    ObservableCounter,
    /// [`ObservableUpDownCounter`](super::ObservableUpDownCounter).
    ObservableUpDownCounter,
    /// [`ObservableGauge`](super::ObservableGauge).
    ObservableGauge,
}

/// Which temporality each kind of instrument is exported with, as
/// `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE` names the choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TemporalityPreference {
    /// Every kind cumulative (`cumulative`, the default).
    #[default]
    Cumulative,
    /// Counters, observable counters and histograms as deltas; up-down counters cumulative, as
    /// a delta of a level means little (`delta`).
    Delta,
    /// Counters and histograms as deltas (their series can then be forgotten between
    /// collections); observable counters and up-down counters cumulative, as their callbacks
    /// report totals (`lowmemory`).
    LowMemory,
}

impl TemporalityPreference {
    /// The temporality of `kind`'s points. Gauges report their last value under every
    /// preference ([`Temporality::Cumulative`] here: a gauge's series stays until the meter
    /// goes).
    pub fn temporality(self, kind: InstrumentKind) -> Temporality {
        use InstrumentKind as K;
        match (self, kind) {
            (Self::Cumulative, _) | (_, K::Gauge | K::ObservableGauge) => Temporality::Cumulative,
            (Self::Delta, K::Counter | K::ObservableCounter | K::Histogram) => Temporality::Delta,
            (Self::LowMemory, K::Counter | K::Histogram) => Temporality::Delta,
            (_, _) => Temporality::Cumulative,
        }
    }

    /// Parses a value of `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE` (any case).
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "cumulative" => Some(Self::Cumulative),
            "delta" => Some(Self::Delta),
            "lowmemory" => Some(Self::LowMemory),
            _ => None,
        }
    }
}

/// How a client collects and exports metrics. Every setting left unset is read from the
/// environment when the client is built ([`from_env`](MetricsConfig::from_env) for the rules).
#[derive(Debug, Clone, Default)]
pub struct MetricsConfig {
    temporality: Option<TemporalityPreference>,
    interval: Option<Option<Duration>>,
    timeout: Option<Duration>,
    cardinality_limit: Option<Option<usize>>,
}

impl MetricsConfig {
    /// Every setting at its default (the environment's, then the specification's).
    pub fn new() -> Self {
        MetricsConfig::default()
    }

    /// The temporality of each kind of instrument (default
    /// [`TemporalityPreference::Cumulative`]). Environment:
    /// `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE` (`cumulative`, `delta`, `lowmemory`).
    pub fn with_temporality(mut self, preference: TemporalityPreference) -> Self {
        self.temporality = Some(preference);
        self
    }

    /// How often the metrics are collected and exported (default 60 s); `None` exports only
    /// on [`force_flush`](crate::OtlpClient::force_flush) and
    /// [`shutdown`](crate::OtlpClient::shutdown) (a pull set-up reads
    /// [`collect_metrics`](crate::OtlpClient::collect_metrics) instead). Environment:
    /// `OTEL_METRIC_EXPORT_INTERVAL`, in milliseconds.
    pub fn with_export_interval(mut self, interval: Option<Duration>) -> Self {
        self.interval = Some(interval.filter(|i| !i.is_zero()));
        self
    }

    /// How long one export of the collected metrics may take (default 30 s). Environment:
    /// `OTEL_METRIC_EXPORT_TIMEOUT`, in milliseconds.
    pub fn with_export_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The most series an instrument keeps besides the overflow series, which takes the
    /// measurements of every further attribute set with the attribute
    /// `otel.metric.overflow = true` (default 2000); `None`: no limit. Memory grows with the
    /// series actually recorded, never reserved up to the limit. A view can set its own.
    pub fn with_cardinality_limit(mut self, limit: Option<usize>) -> Self {
        self.cardinality_limit = Some(limit);
        self
    }

    /// The configuration with every unset setting read through `lookup` (the process
    /// environment in [`from_env`](MetricsConfig::from_env)); a malformed variable is an error
    /// naming it.
    pub(crate) fn resolve(
        &self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Settings, Error> {
        let temporality = match self.temporality {
            Some(t) => t,
            None => match lookup(TEMPORALITY_ENV).filter(|v| !v.trim().is_empty()) {
                None => TemporalityPreference::default(),
                Some(raw) => TemporalityPreference::parse(&raw).ok_or_else(|| {
                    Error::env(
                        TEMPORALITY_ENV,
                        &raw,
                        "expected `cumulative`, `delta` or `lowmemory`",
                    )
                })?,
            },
        };
        let interval = match self.interval {
            Some(i) => i,
            None => match millis(&lookup, INTERVAL_ENV)? {
                None => Some(DEFAULT_INTERVAL),
                Some(d) if d.is_zero() => None,
                Some(d) => Some(d),
            },
        };
        let timeout = match self.timeout {
            Some(t) => t,
            None => millis(&lookup, TIMEOUT_ENV)?.unwrap_or(DEFAULT_TIMEOUT),
        };
        let cardinality_limit = match self.cardinality_limit {
            Some(Some(0)) => {
                return Err(Error::config(
                    "the cardinality limit must be at least 1 (None turns it off)",
                ));
            }
            Some(l) => l,
            None => Some(DEFAULT_CARDINALITY_LIMIT),
        };
        Ok(Settings {
            temporality,
            interval,
            timeout,
            cardinality_limit,
        })
    }

    /// The configuration of the process environment, checked: what a client built without
    /// [`ClientConfig::with_metrics`](crate::ClientConfig::with_metrics) uses.
    pub fn from_env() -> Result<MetricsConfig, Error> {
        let s = MetricsConfig::new().resolve(|k| std::env::var(k).ok())?;
        Ok(MetricsConfig {
            temporality: Some(s.temporality),
            interval: Some(s.interval),
            timeout: Some(s.timeout),
            cardinality_limit: Some(s.cardinality_limit),
        })
    }
}

/// A whole number of milliseconds from `name`, if set and not empty.
fn millis(lookup: &impl Fn(&str) -> Option<String>, name: &str) -> Result<Option<Duration>, Error> {
    let Some(raw) = lookup(name) else {
        return Ok(None);
    };
    let value = raw.trim();
    if value.is_empty() {
        return Ok(None);
    }
    value
        .parse::<u64>()
        .map(|ms| Some(Duration::from_millis(ms)))
        .map_err(|_| Error::env(name, &raw, "expected a whole number of milliseconds"))
}

/// A [`MetricsConfig`] with every setting decided.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) temporality: TemporalityPreference,
    /// `None`: no periodic export.
    pub(crate) interval: Option<Duration>,
    pub(crate) timeout: Duration,
    pub(crate) cardinality_limit: Option<usize>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            temporality: TemporalityPreference::default(),
            interval: Some(DEFAULT_INTERVAL),
            timeout: DEFAULT_TIMEOUT,
            cardinality_limit: Some(DEFAULT_CARDINALITY_LIMIT),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }

    #[test]
    fn preferences_choose_per_kind_as_the_specification_tables_say() {
        use InstrumentKind as K;
        use Temporality::{Cumulative as C, Delta as D};
        let kinds = [
            K::Counter,
            K::ObservableCounter,
            K::Histogram,
            K::UpDownCounter,
            K::ObservableUpDownCounter,
            K::Gauge,
            K::ObservableGauge,
        ];
        let of = |p: TemporalityPreference| kinds.map(|k| p.temporality(k));
        assert_eq!(of(TemporalityPreference::Cumulative), [C; 7]);
        assert_eq!(of(TemporalityPreference::Delta), [D, D, D, C, C, C, C]);
        assert_eq!(of(TemporalityPreference::LowMemory), [D, C, D, C, C, C, C]);
    }

    #[test]
    fn the_environment_fills_what_code_left_unset() {
        let s = MetricsConfig::new()
            .resolve(env(&[
                (TEMPORALITY_ENV, "LowMemory"),
                (INTERVAL_ENV, "1500"),
                (TIMEOUT_ENV, "250"),
            ]))
            .unwrap();
        assert_eq!(s.temporality, TemporalityPreference::LowMemory);
        assert_eq!(s.interval, Some(Duration::from_millis(1500)));
        assert_eq!(s.timeout, Duration::from_millis(250));
        assert_eq!(s.cardinality_limit, Some(DEFAULT_CARDINALITY_LIMIT));

        let code = MetricsConfig::new()
            .with_temporality(TemporalityPreference::Delta)
            .with_export_interval(None)
            .with_cardinality_limit(None)
            .resolve(env(&[(TEMPORALITY_ENV, "cumulative"), (INTERVAL_ENV, "5")]))
            .unwrap();
        assert_eq!(code.temporality, TemporalityPreference::Delta);
        assert_eq!(code.interval, None);
        assert_eq!(code.cardinality_limit, None);

        let defaults = MetricsConfig::new().resolve(env(&[])).unwrap();
        assert_eq!(defaults.interval, Some(DEFAULT_INTERVAL));
        assert_eq!(defaults.timeout, DEFAULT_TIMEOUT);
    }

    #[test]
    fn malformed_values_are_errors_naming_the_variable() {
        let err = MetricsConfig::new()
            .resolve(env(&[(TEMPORALITY_ENV, "sometimes")]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(TEMPORALITY_ENV) && err.contains("sometimes"),
            "{err}"
        );
        let err = MetricsConfig::new()
            .resolve(env(&[(INTERVAL_ENV, "60s")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains(INTERVAL_ENV), "{err}");
        let err = MetricsConfig::new()
            .with_cardinality_limit(Some(0))
            .resolve(env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("cardinality"), "{err}");
    }
}
