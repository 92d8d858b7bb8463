//! [`MetricsConfig`]: how a client collects and exports metrics, from code or from the
//! `OTEL_*` environment.

use super::exemplar::ExemplarFilter;
use super::view::{InstrumentKind, View};
use crate::Error;
use crate::config::{HistogramAggregation, TemporalityPreference};
use std::time::Duration;

/// The environment variable of [`MetricsConfig::with_exemplar_filter`].
pub const EXEMPLAR_FILTER_ENV: &str = "OTEL_METRICS_EXEMPLAR_FILTER";
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

/// The temporality of `kind`'s points under `preference`, as the specification's tables say.
/// Gauges report their last value under every preference ([`Temporality::Cumulative`] here: a
/// gauge's series stays until the meter goes).
pub fn temporality_of(preference: TemporalityPreference, kind: InstrumentKind) -> Temporality {
    use InstrumentKind as K;
    use TemporalityPreference as P;
    match (preference, kind) {
        (P::Cumulative, _) | (_, K::Gauge | K::ObservableGauge) => Temporality::Cumulative,
        (P::Delta, K::Counter | K::ObservableCounter | K::Histogram) => Temporality::Delta,
        (P::LowMemory, K::Counter | K::Histogram) => Temporality::Delta,
        (_, _) => Temporality::Cumulative,
    }
}

/// How a client collects and exports metrics. Every setting left unset is read from the
/// environment when the client is built: `OTEL_METRIC_EXPORT_INTERVAL`,
/// `OTEL_METRIC_EXPORT_TIMEOUT` (milliseconds) and `OTEL_METRICS_EXEMPLAR_FILTER` (see each
/// `with_*` method), a malformed value an error naming the variable.
#[derive(Debug, Clone, Default)]
pub struct MetricsConfig {
    temporality: Option<TemporalityPreference>,
    histogram: Option<HistogramAggregation>,
    interval: Option<Option<Duration>>,
    timeout: Option<Duration>,
    cardinality_limit: Option<Option<usize>>,
    views: Vec<View>,
    exemplar_filter: Option<ExemplarFilter>,
}

impl MetricsConfig {
    /// Every setting at its default (the environment's, then the specification's).
    pub fn new() -> Self {
        MetricsConfig::default()
    }

    /// The temporality of each kind of instrument (default: the exporter's
    /// [`temporality_preference`](crate::ExporterConfig::temporality_preference), which reads
    /// `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`: `cumulative`, the default, `delta`
    /// or `lowmemory`; see [`temporality_of`] for what each means per kind).
    pub fn with_temporality(mut self, preference: TemporalityPreference) -> Self {
        self.temporality = Some(preference);
        self
    }

    /// How histograms aggregate when no view says otherwise (default: the exporter's
    /// [`histogram_aggregation`](crate::ExporterConfig::histogram_aggregation), which reads
    /// `OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION`: explicit buckets unless
    /// `base2_exponential_bucket_histogram`). Exponential histograms keep at most 160 buckets
    /// per sign at scale 20 at most, lowered to fit.
    pub fn with_default_histogram_aggregation(mut self, histogram: HistogramAggregation) -> Self {
        self.histogram = Some(histogram);
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

    /// Adds a view: how the instruments it selects are exported (renamed, re-described, their
    /// attribute keys kept or dropped, aggregated otherwise, with their own cardinality
    /// limit, or dropped). A view that cannot be valid for any instrument (a rename selecting
    /// by wildcard, bad boundaries, ...) fails the client's build with an error naming it; one
    /// whose aggregation does not fit an instrument it selects is that instrument's
    /// [`try_build`](super::InstrumentBuilder::try_build) error.
    pub fn with_view(mut self, view: View) -> Self {
        self.views.push(view);
        self
    }

    /// Which measurements may become exemplars (default [`ExemplarFilter::TraceBased`]: those
    /// recorded inside a sampled span). Environment: `OTEL_METRICS_EXEMPLAR_FILTER`
    /// (`always_on`, `always_off`, `trace_based`).
    pub fn with_exemplar_filter(mut self, filter: ExemplarFilter) -> Self {
        self.exemplar_filter = Some(filter);
        self
    }

    /// The configuration with every unset setting taken from `exporter` (temporality, default
    /// histogram aggregation) or read through `lookup` (the process environment); a malformed
    /// variable is an error naming it.
    pub(crate) fn resolve(
        &self,
        exporter: &crate::ExporterConfig,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Settings, Error> {
        let temporality = self
            .temporality
            .unwrap_or(exporter.temporality_preference());
        let histogram = self.histogram.unwrap_or(exporter.histogram_aggregation());
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
        for view in &self.views {
            view.validate()
                .map_err(|e| Error::config(format!("invalid metrics view: {e}")))?;
        }
        let exemplar_filter = match self.exemplar_filter {
            Some(f) => f,
            None => match lookup(EXEMPLAR_FILTER_ENV).filter(|v| !v.trim().is_empty()) {
                Some(raw) => ExemplarFilter::from_env_value(&raw)?,
                None => ExemplarFilter::default(),
            },
        };
        Ok(Settings {
            views: self.views.clone(),
            exemplar_filter,
            temporality,
            histogram,
            interval,
            timeout,
            cardinality_limit,
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
    pub(crate) histogram: HistogramAggregation,
    /// `None`: no periodic export.
    pub(crate) interval: Option<Duration>,
    pub(crate) timeout: Duration,
    pub(crate) cardinality_limit: Option<usize>,
    pub(crate) views: Vec<View>,
    pub(crate) exemplar_filter: ExemplarFilter,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            views: Vec::new(),
            exemplar_filter: ExemplarFilter::default(),
            temporality: TemporalityPreference::default(),
            histogram: HistogramAggregation::default(),
            interval: Some(DEFAULT_INTERVAL),
            timeout: DEFAULT_TIMEOUT,
            cardinality_limit: Some(DEFAULT_CARDINALITY_LIMIT),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ExporterConfig;

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
        let of = |p: TemporalityPreference| kinds.map(|k| temporality_of(p, k));
        assert_eq!(of(TemporalityPreference::Cumulative), [C; 7]);
        assert_eq!(of(TemporalityPreference::Delta), [D, D, D, C, C, C, C]);
        assert_eq!(of(TemporalityPreference::LowMemory), [D, C, D, C, C, C, C]);
    }

    #[test]
    fn the_exporter_and_the_environment_fill_what_code_left_unset() {
        let exporter = ExporterConfig::new()
            .with_temporality_preference(TemporalityPreference::LowMemory)
            .with_histogram_aggregation(HistogramAggregation::Base2Exponential);
        let s = MetricsConfig::new()
            .resolve(
                &exporter,
                env(&[(INTERVAL_ENV, "1500"), (TIMEOUT_ENV, "250")]),
            )
            .unwrap();
        assert_eq!(s.temporality, TemporalityPreference::LowMemory);
        assert_eq!(s.histogram, HistogramAggregation::Base2Exponential);
        assert_eq!(s.interval, Some(Duration::from_millis(1500)));
        assert_eq!(s.timeout, Duration::from_millis(250));
        assert_eq!(s.cardinality_limit, Some(DEFAULT_CARDINALITY_LIMIT));

        let code = MetricsConfig::new()
            .with_temporality(TemporalityPreference::Delta)
            .with_default_histogram_aggregation(HistogramAggregation::ExplicitBucket)
            .with_export_interval(None)
            .with_cardinality_limit(None)
            .resolve(&exporter, env(&[(INTERVAL_ENV, "5")]))
            .unwrap();
        assert_eq!(code.temporality, TemporalityPreference::Delta);
        assert_eq!(code.histogram, HistogramAggregation::ExplicitBucket);
        assert_eq!(code.interval, None);
        assert_eq!(code.cardinality_limit, None);

        let defaults = MetricsConfig::new()
            .resolve(&ExporterConfig::new(), env(&[]))
            .unwrap();
        assert_eq!(defaults.temporality, TemporalityPreference::Cumulative);
        assert_eq!(defaults.interval, Some(DEFAULT_INTERVAL));
        assert_eq!(defaults.timeout, DEFAULT_TIMEOUT);
    }

    #[test]
    fn malformed_values_are_errors_naming_the_variable() {
        let exporter = ExporterConfig::new();
        let err = MetricsConfig::new()
            .resolve(&exporter, env(&[(INTERVAL_ENV, "60s")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains(INTERVAL_ENV), "{err}");
        let err = MetricsConfig::new()
            .with_cardinality_limit(Some(0))
            .resolve(&exporter, env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("cardinality"), "{err}");
        let err = MetricsConfig::new()
            .resolve(&exporter, env(&[(EXEMPLAR_FILTER_ENV, "sometimes")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains(EXEMPLAR_FILTER_ENV), "{err}");
        let err = MetricsConfig::new()
            .with_view(
                View::new()
                    .with_instrument_name("http.*")
                    .with_name("renamed"),
            )
            .resolve(&exporter, env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("http.*"), "{err}");
    }

    #[test]
    fn the_exemplar_filter_comes_from_code_or_the_environment() {
        let exporter = ExporterConfig::new();
        let s = MetricsConfig::new()
            .resolve(&exporter, env(&[(EXEMPLAR_FILTER_ENV, "ALWAYS_ON")]))
            .unwrap();
        assert_eq!(s.exemplar_filter, ExemplarFilter::AlwaysOn);
        let s = MetricsConfig::new()
            .with_exemplar_filter(ExemplarFilter::AlwaysOff)
            .resolve(&exporter, env(&[(EXEMPLAR_FILTER_ENV, "always_on")]))
            .unwrap();
        assert_eq!(s.exemplar_filter, ExemplarFilter::AlwaysOff);
        let s = MetricsConfig::new().resolve(&exporter, env(&[])).unwrap();
        assert_eq!(s.exemplar_filter, ExemplarFilter::TraceBased);
    }
}
