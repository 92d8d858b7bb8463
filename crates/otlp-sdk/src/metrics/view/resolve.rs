//! From an instrument and the views to the streams it records into: one per view selecting
//! it, or the default stream when none does.

use super::{Aggregation, InstrumentKind, Problem, View, ViewError};
use crate::config::HistogramAggregation;
use crate::metrics::aggregate::buckets::Boundaries;
use crate::metrics::aggregate::exponential::DEFAULT_MAX_SIZE;
use crate::metrics::aggregate::exponential_mapping::MAX_SCALE;
use otlp_proto::Str;
use otlp_proto::common::KeyValue;

/// What views select instruments by, and what a stream inherits from its instrument.
#[derive(Debug, Clone, Copy)]
pub(crate) struct InstrumentInfo<'a> {
    pub(crate) name: &'a Str,
    pub(crate) kind: InstrumentKind,
    pub(crate) unit: &'a Str,
    pub(crate) description: &'a Str,
    pub(crate) meter_name: &'a str,
    pub(crate) meter_version: &'a str,
    pub(crate) meter_schema_url: &'a str,
    /// The boundaries the instrument was made with (`with_boundaries`), checked by its
    /// builder: the default boundaries of its explicit histogram streams.
    pub(crate) advisory_boundaries: Option<&'a Boundaries>,
}

/// What streams get when no view says otherwise: the client's configuration.
#[derive(Debug, Clone)]
pub(crate) struct StreamDefaults {
    /// The aggregation of histograms
    /// (`OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION`).
    pub(crate) histogram: HistogramAggregation,
    /// The cardinality limit (`None`: no limit).
    pub(crate) cardinality_limit: Option<usize>,
}

impl Default for StreamDefaults {
    fn default() -> Self {
        StreamDefaults {
            histogram: HistogramAggregation::ExplicitBucket,
            cardinality_limit: Some(2000),
        }
    }
}

/// An aggregation resolved for one instrument: never a default, never a drop.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum StreamAggregation {
    /// A sum; monotonic for counters, observable counters and histograms.
    Sum { monotonic: bool },
    /// The last value.
    LastValue,
    /// An explicit-bucket histogram. `record_sum` is false for instruments whose measurements
    /// may be negative (the specification: their sum means nothing).
    ExplicitHistogram {
        boundaries: Boundaries,
        record_min_max: bool,
        record_sum: bool,
    },
    /// A base-2 exponential histogram; `record_sum` as for explicit ones.
    ExponentialHistogram {
        max_size: u32,
        max_scale: i8,
        record_min_max: bool,
        record_sum: bool,
    },
}

/// Which attribute keys a stream keeps on its series; the others go to exemplars.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AttributeFilter {
    /// Every key.
    All,
    /// Only these keys (sorted, without duplicates).
    Only(Box<[Box<str>]>),
    /// Every key but these (sorted, without duplicates).
    Except(Box<[Box<str>]>),
}

impl AttributeFilter {
    pub(super) fn only(keys: &[String]) -> Self {
        AttributeFilter::Only(sorted(keys))
    }

    fn except(keys: &[String]) -> Self {
        AttributeFilter::Except(sorted(keys))
    }

    /// Whether every key is kept (the recording path then filters nothing).
    #[inline]
    pub(crate) fn is_all(&self) -> bool {
        matches!(self, AttributeFilter::All)
    }

    /// Whether a series keeps `key`.
    #[inline]
    pub(crate) fn keep(&self, key: &str) -> bool {
        match self {
            AttributeFilter::All => true,
            AttributeFilter::Only(keys) => contains(keys, key),
            AttributeFilter::Except(keys) => !contains(keys, key),
        }
    }

    /// The attributes of `attributes` a series keeps.
    pub(crate) fn kept<'a>(
        &'a self,
        attributes: &'a [KeyValue],
    ) -> impl Iterator<Item = &'a KeyValue> + 'a {
        attributes.iter().filter(|kv| self.keep(&kv.key))
    }

    /// The attributes of `attributes` a series drops: an exemplar's filtered attributes.
    pub(crate) fn dropped<'a>(
        &'a self,
        attributes: &'a [KeyValue],
    ) -> impl Iterator<Item = &'a KeyValue> + 'a {
        attributes.iter().filter(|kv| !self.keep(&kv.key))
    }
}

fn sorted(keys: &[String]) -> Box<[Box<str>]> {
    let mut keys: Vec<Box<str>> = keys.iter().map(|k| k.as_str().into()).collect();
    keys.sort_unstable();
    keys.dedup();
    keys.into()
}

/// A few keys (the usual case) are scanned, which beats a search's branches; more are searched.
#[inline]
fn contains(keys: &[Box<str>], key: &str) -> bool {
    if keys.len() <= 8 {
        keys.iter().any(|k| **k == *key)
    } else {
        keys.binary_search_by(|k| (**k).cmp(key)).is_ok()
    }
}

/// One metric stream of an instrument: what it is exported as and how it aggregates.
#[derive(Debug, Clone, PartialEq)]
pub struct Stream {
    pub(crate) name: Str,
    pub(crate) description: Str,
    pub(crate) unit: Str,
    pub(crate) attributes: AttributeFilter,
    pub(crate) aggregation: StreamAggregation,
    /// The most series besides the overflow series; `None`: no limit.
    pub(crate) cardinality_limit: Option<usize>,
}

/// The streams of the instrument `info` describes under `views`: one per view selecting it
/// (none for a view that drops it), or the default stream when no view selects it. An error
/// when a selecting view is invalid or its aggregation cannot apply to the instrument's kind.
pub(crate) fn resolve(
    views: &[View],
    info: &InstrumentInfo<'_>,
    defaults: &StreamDefaults,
) -> Result<Vec<Stream>, ViewError> {
    let mut streams = Vec::new();
    let mut selected = false;
    for view in views.iter().filter(|v| v.selector.matches(info)) {
        selected = true;
        view.validate()?;
        let aggregation = match &view.aggregation {
            Aggregation::Drop => continue,
            Aggregation::Default => default_aggregation(info, defaults),
            other => of_view(other, info).map_err(|problem| view.error(problem))?,
        };
        let attributes = match (&view.allowed_keys, &view.excluded_keys) {
            (Some(allowed), _) => AttributeFilter::only(allowed),
            (None, Some(excluded)) => AttributeFilter::except(excluded),
            (None, None) => AttributeFilter::All,
        };
        streams.push(Stream {
            name: view.name.clone().unwrap_or_else(|| info.name.clone()),
            description: (view.description.clone()).unwrap_or_else(|| info.description.clone()),
            unit: info.unit.clone(),
            attributes,
            aggregation,
            cardinality_limit: view.cardinality_limit.unwrap_or(defaults.cardinality_limit),
        });
    }
    if !selected {
        streams.push(Stream {
            name: info.name.clone(),
            description: info.description.clone(),
            unit: info.unit.clone(),
            attributes: AttributeFilter::All,
            aggregation: default_aggregation(info, defaults),
            cardinality_limit: defaults.cardinality_limit,
        });
    }
    Ok(streams)
}

/// Kinds whose measurements never go down: their sums are monotonic, their histograms' sums
/// meaningful.
fn non_negative(kind: InstrumentKind) -> bool {
    matches!(
        kind,
        InstrumentKind::Counter | InstrumentKind::Histogram | InstrumentKind::ObservableCounter
    )
}

/// The specification's default aggregation of each kind ("Default Aggregation").
fn default_aggregation(info: &InstrumentInfo<'_>, defaults: &StreamDefaults) -> StreamAggregation {
    match info.kind {
        InstrumentKind::Counter
        | InstrumentKind::UpDownCounter
        | InstrumentKind::ObservableCounter
        | InstrumentKind::ObservableUpDownCounter => StreamAggregation::Sum {
            monotonic: non_negative(info.kind),
        },
        InstrumentKind::Gauge | InstrumentKind::ObservableGauge => StreamAggregation::LastValue,
        InstrumentKind::Histogram => match defaults.histogram {
            HistogramAggregation::ExplicitBucket => StreamAggregation::ExplicitHistogram {
                boundaries: info.advisory_boundaries.cloned().unwrap_or_default(),
                record_min_max: true,
                record_sum: true,
            },
            HistogramAggregation::Base2Exponential => StreamAggregation::ExponentialHistogram {
                max_size: DEFAULT_MAX_SIZE,
                max_scale: MAX_SCALE as i8,
                record_min_max: true,
                record_sum: true,
            },
        },
    }
}

/// A view's explicit aggregation for the instrument. Sums and last values apply to every kind
/// (the specification gives the monotonicity of a sum of each kind). Histograms apply to the
/// synchronous kinds only: an asynchronous instrument's observations are already totals or
/// current values, whose distribution means nothing; the specification names exactly this as
/// a view that cannot apply.
fn of_view(
    aggregation: &Aggregation,
    info: &InstrumentInfo<'_>,
) -> Result<StreamAggregation, Problem> {
    let incompatible =
        || Problem::Incompatible(aggregation.name(), info.name.to_string(), info.kind);
    let record_sum = non_negative(info.kind);
    Ok(match aggregation {
        // Handled by the caller; kept total so that a new variant is a compile error here.
        Aggregation::Default | Aggregation::Drop => return Err(incompatible()),
        Aggregation::Sum => StreamAggregation::Sum {
            monotonic: non_negative(info.kind),
        },
        Aggregation::LastValue => StreamAggregation::LastValue,
        _ if info.kind.is_observable() => return Err(incompatible()),
        Aggregation::ExplicitBucketHistogram {
            boundaries,
            record_min_max,
        } => StreamAggregation::ExplicitHistogram {
            boundaries: Boundaries::new(boundaries).map_err(Problem::Boundaries)?,
            record_min_max: *record_min_max,
            record_sum,
        },
        &Aggregation::Base2ExponentialHistogram {
            max_size,
            max_scale,
            record_min_max,
        } => StreamAggregation::ExponentialHistogram {
            max_size,
            max_scale,
            record_min_max,
            record_sum,
        },
    })
}
