//! The two metrics settings of the OTLP exporter specification. The exporter only carries them;
//! the metrics SDK reads them from [`ExporterConfig`](crate::ExporterConfig).

use std::fmt;

/// Which aggregation temporality the metrics SDK should prefer
/// (`OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TemporalityPreference {
    /// Cumulative for every instrument kind (`cumulative`).
    #[default]
    Cumulative,
    /// Delta for counters, asynchronous counters and histograms (`delta`).
    Delta,
    /// Delta for synchronous counters and histograms only (`lowmemory`).
    LowMemory,
}

impl TemporalityPreference {
    /// The value used in the environment variable.
    pub const fn name(self) -> &'static str {
        match self {
            TemporalityPreference::Cumulative => "cumulative",
            TemporalityPreference::Delta => "delta",
            TemporalityPreference::LowMemory => "lowmemory",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "cumulative" => Some(TemporalityPreference::Cumulative),
            "delta" => Some(TemporalityPreference::Delta),
            "lowmemory" => Some(TemporalityPreference::LowMemory),
            _ => None,
        }
    }
}

impl fmt::Display for TemporalityPreference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The default aggregation of histogram instruments
/// (`OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum HistogramAggregation {
    /// Explicit bucket boundaries (`explicit_bucket_histogram`).
    #[default]
    ExplicitBucket,
    /// Base-2 exponential buckets (`base2_exponential_bucket_histogram`).
    Base2Exponential,
}

impl HistogramAggregation {
    /// The value used in the environment variable.
    pub const fn name(self) -> &'static str {
        match self {
            HistogramAggregation::ExplicitBucket => "explicit_bucket_histogram",
            HistogramAggregation::Base2Exponential => "base2_exponential_bucket_histogram",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "explicit_bucket_histogram" => Some(HistogramAggregation::ExplicitBucket),
            "base2_exponential_bucket_histogram" => Some(HistogramAggregation::Base2Exponential),
            _ => None,
        }
    }
}

impl fmt::Display for HistogramAggregation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
