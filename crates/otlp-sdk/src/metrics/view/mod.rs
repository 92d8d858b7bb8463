//! Views: which instruments a [`View`] selects (name with wildcards, kind, unit, meter) and
//! how their measurements become metric streams (renamed, re-described, attribute keys kept or
//! dropped, another aggregation or other buckets, another cardinality limit).
//!
//! A view that cannot apply is an error ([`ViewError`]): [`View::validate`] reports what is
//! wrong with the view alone, when it is configured; what depends on the instrument (an
//! aggregation its kind cannot take) is reported when the instrument is made.

mod resolve;
mod selector;
#[cfg(test)]
mod tests;

pub(crate) use resolve::{
    AttributeFilter, InstrumentInfo, Stream, StreamAggregation, StreamDefaults, resolve,
};

use super::aggregate::buckets::{BadBoundaries, Boundaries};
use super::aggregate::exponential::DEFAULT_MAX_SIZE;
use super::aggregate::exponential_mapping::{MAX_SCALE, MIN_SCALE};
use super::validate;
use otlp_proto::Str;
use selector::{NamePattern, Selector};
use std::fmt;

/// The kinds of instrument, as views select them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InstrumentKind {
    /// A synchronous sum that only goes up.
    Counter,
    /// A synchronous sum that goes up and down.
    UpDownCounter,
    /// A synchronous distribution of values.
    Histogram,
    /// A synchronous current value.
    Gauge,
    /// An asynchronous (callback) sum that only goes up.
    ObservableCounter,
    /// An asynchronous (callback) sum that goes up and down.
    ObservableUpDownCounter,
    /// An asynchronous (callback) current value.
    ObservableGauge,
}

impl InstrumentKind {
    /// Whether measurements come from callbacks at collection rather than from calls.
    pub fn is_observable(self) -> bool {
        matches!(
            self,
            InstrumentKind::ObservableCounter
                | InstrumentKind::ObservableUpDownCounter
                | InstrumentKind::ObservableGauge
        )
    }
}

/// How a view aggregates the measurements of the instruments it selects.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Aggregation {
    /// The instrument kind's default (the specification's table): sums for counters and
    /// up-down counters, last value for gauges, a histogram for histograms.
    #[default]
    Default,
    /// Nothing: the instrument's measurements are dropped and no stream is exported.
    Drop,
    /// The sum of the measurements (monotonic for counters and histograms).
    Sum,
    /// The last measurement.
    LastValue,
    /// A histogram over explicit bucket boundaries (strictly increasing, finite; a boundary
    /// is the upper end of its bucket), with or without the minimum and maximum.
    ExplicitBucketHistogram {
        /// The bucket boundaries.
        boundaries: Vec<f64>,
        /// Whether points carry the minimum and maximum.
        record_min_max: bool,
    },
    /// A base-2 exponential histogram of at most `max_size` buckets per sign (at least 2),
    /// starting at `max_scale` (in `-10..=20`) and scaled down to fit.
    Base2ExponentialHistogram {
        /// Buckets per sign (the specification's default: 160).
        max_size: u32,
        /// The highest scale (the specification's default: 20).
        max_scale: i8,
        /// Whether points carry the minimum and maximum.
        record_min_max: bool,
    },
}

impl Aggregation {
    /// An exponential histogram with the specification's defaults: 160 buckets, scale 20,
    /// minimum and maximum recorded.
    pub fn base2_exponential_histogram() -> Self {
        Aggregation::Base2ExponentialHistogram {
            max_size: DEFAULT_MAX_SIZE,
            max_scale: MAX_SCALE as i8,
            record_min_max: true,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Aggregation::Default => "default",
            Aggregation::Drop => "drop",
            Aggregation::Sum => "sum",
            Aggregation::LastValue => "last value",
            Aggregation::ExplicitBucketHistogram { .. } => "explicit bucket histogram",
            Aggregation::Base2ExponentialHistogram { .. } => "base-2 exponential histogram",
        }
    }
}

/// Selects instruments and says how their measurements are exported.
///
/// Selection: every criterion set must hold ([`with_instrument_name`](Self::with_instrument_name),
/// [`with_instrument_kind`](Self::with_instrument_kind), [`with_instrument_unit`](Self::with_instrument_unit),
/// [`with_meter_name`](Self::with_meter_name), [`with_meter_version`](Self::with_meter_version),
/// [`with_meter_schema_url`](Self::with_meter_schema_url)); at least one must be set. Every view
/// that selects an instrument makes one stream of it; an instrument no view selects gets the
/// default stream.
///
/// ```
/// use otlp_sdk::metrics::{Aggregation, View};
/// let view = View::new()
///     .with_instrument_name("http.server.request.duration")
///     .with_aggregation(Aggregation::ExplicitBucketHistogram {
///         boundaries: vec![0.005, 0.01, 0.05, 0.1, 0.5, 1.0],
///         record_min_max: true,
///     })
///     .with_excluded_attribute_keys(["user.id"]);
/// assert!(view.validate().is_ok());
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct View {
    label: Option<String>,
    selector: Selector,
    name: Option<Str>,
    description: Option<Str>,
    allowed_keys: Option<Vec<String>>,
    excluded_keys: Option<Vec<String>>,
    aggregation: Aggregation,
    /// `None`: the configured default; `Some(None)`: no limit.
    cardinality_limit: Option<Option<usize>>,
}

impl View {
    /// A view selecting nothing yet and changing nothing.
    pub fn new() -> Self {
        View::default()
    }

    /// A label naming the view in errors (default: its selection criteria).
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// Selects instruments by name: exact (ignoring ASCII case, as instrument names are
    /// case-insensitive), or a pattern where `*` matches any run of characters and `?` one.
    pub fn with_instrument_name(mut self, pattern: impl Into<String>) -> Self {
        self.selector.name = Some(NamePattern::new(pattern.into()));
        self
    }

    /// Selects instruments of this kind.
    pub fn with_instrument_kind(mut self, kind: InstrumentKind) -> Self {
        self.selector.kind = Some(kind);
        self
    }

    /// Selects instruments of this unit (compared exactly: units are case-sensitive).
    pub fn with_instrument_unit(mut self, unit: impl Into<String>) -> Self {
        self.selector.unit = Some(unit.into());
        self
    }

    /// Selects instruments of the meter of this name (compared exactly).
    pub fn with_meter_name(mut self, name: impl Into<String>) -> Self {
        self.selector.meter_name = Some(name.into());
        self
    }

    /// Selects instruments of meters of this version (compared exactly).
    pub fn with_meter_version(mut self, version: impl Into<String>) -> Self {
        self.selector.meter_version = Some(version.into());
        self
    }

    /// Selects instruments of meters of this schema URL (compared exactly).
    pub fn with_meter_schema_url(mut self, url: impl Into<String>) -> Self {
        self.selector.meter_schema_url = Some(url.into());
        self
    }

    /// Exports the stream under this name (default: the instrument's). Only for a view
    /// selecting one instrument by its exact name: otherwise several would share the name.
    pub fn with_name(mut self, name: impl Into<Str>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Exports the stream with this description (default: the instrument's).
    pub fn with_description(mut self, description: impl Into<Str>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Keeps only these attribute keys (default: all); the others' values are aggregated
    /// together, and kept on exemplars.
    pub fn with_allowed_attribute_keys<K: Into<String>>(
        mut self,
        keys: impl IntoIterator<Item = K>,
    ) -> Self {
        self.allowed_keys = Some(keys.into_iter().map(Into::into).collect());
        self
    }

    /// Drops these attribute keys (default: none); their values are aggregated together, and
    /// kept on exemplars.
    pub fn with_excluded_attribute_keys<K: Into<String>>(
        mut self,
        keys: impl IntoIterator<Item = K>,
    ) -> Self {
        self.excluded_keys = Some(keys.into_iter().map(Into::into).collect());
        self
    }

    /// The aggregation (default: [`Aggregation::Default`], the instrument kind's).
    pub fn with_aggregation(mut self, aggregation: Aggregation) -> Self {
        self.aggregation = aggregation;
        self
    }

    /// The most series per stream besides the overflow series; `None` for no limit (default:
    /// the client's limit, 2000 unless configured).
    pub fn with_cardinality_limit(mut self, limit: Option<usize>) -> Self {
        self.cardinality_limit = Some(limit);
        self
    }

    /// Checks what can be checked without an instrument: selection criteria, the new name,
    /// the aggregation's parameters, the cardinality limit, the attribute keys.
    pub fn validate(&self) -> Result<(), ViewError> {
        self.problem()
            .map_or(Ok(()), |problem| Err(self.error(problem)))
    }

    fn problem(&self) -> Option<Problem> {
        if self.selector.is_empty() {
            return Some(Problem::NoSelector);
        }
        if let Some(name) = &self.name {
            if !self
                .selector
                .name
                .as_ref()
                .is_some_and(NamePattern::is_exact)
            {
                return Some(Problem::RenameOfSeveral(name.to_string()));
            }
            if let Err(invalid) = validate::name(name) {
                return Some(Problem::Name(invalid));
            }
        }
        if self.allowed_keys.is_some() && self.excluded_keys.is_some() {
            return Some(Problem::AllowedAndExcluded);
        }
        if self.cardinality_limit == Some(Some(0)) {
            return Some(Problem::ZeroCardinalityLimit);
        }
        match &self.aggregation {
            Aggregation::ExplicitBucketHistogram { boundaries, .. } => {
                Boundaries::new(boundaries).err().map(Problem::Boundaries)
            }
            &Aggregation::Base2ExponentialHistogram {
                max_size,
                max_scale,
                ..
            } => {
                if max_size < 2 {
                    Some(Problem::ExponentialSize(max_size))
                } else if !(MIN_SCALE..=MAX_SCALE).contains(&i32::from(max_scale)) {
                    Some(Problem::ExponentialScale(max_scale))
                } else {
                    None
                }
            }
            _ => None,
        }
    }

    fn error(&self, problem: Problem) -> ViewError {
        ViewError {
            view: self.to_string(),
            problem,
        }
    }
}

impl fmt::Display for View {
    /// The view's label, or else its selection criteria.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.label {
            Some(label) => write!(f, "{label:?}"),
            None => self.selector.fmt(f),
        }
    }
}

/// What is wrong with a view.
#[derive(Debug, Clone, PartialEq)]
enum Problem {
    NoSelector,
    RenameOfSeveral(String),
    Name(validate::Invalid),
    AllowedAndExcluded,
    ZeroCardinalityLimit,
    Boundaries(BadBoundaries),
    ExponentialSize(u32),
    ExponentialScale(i8),
    /// The aggregation cannot apply to this instrument (name, kind).
    Incompatible(&'static str, String, InstrumentKind),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::NoSelector => f.write_str("selects no instrument: set at least one criterion"),
            Problem::RenameOfSeveral(name) => write!(
                f,
                "renames to {name:?} but does not select one instrument by its exact name \
                 (several instruments would share the name)"
            ),
            Problem::Name(invalid) => write!(f, "renames to an invalid name: {invalid}"),
            Problem::AllowedAndExcluded => {
                f.write_str("sets both allowed and excluded attribute keys: choose one")
            }
            Problem::ZeroCardinalityLimit => {
                f.write_str("sets a cardinality limit of 0 (use None for no limit, or at least 1)")
            }
            Problem::Boundaries(bad) => bad.fmt(f),
            Problem::ExponentialSize(size) => write!(
                f,
                "sets an exponential histogram of max_size {size}: at least 2 are needed"
            ),
            Problem::ExponentialScale(scale) => write!(
                f,
                "sets an exponential histogram of max_scale {scale}: it must be in \
                 {MIN_SCALE}..={MAX_SCALE}"
            ),
            Problem::Incompatible(aggregation, name, kind) => write!(
                f,
                "cannot apply the {aggregation} aggregation to instrument {name:?}, \
                 an {kind:?}: histograms of asynchronous instruments' observations have no meaning"
            ),
        }
    }
}

/// A view that cannot apply, naming the view (its label or selection criteria) and the
/// problem.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewError {
    view: String,
    problem: Problem,
}

impl fmt::Display for ViewError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "view {}: {}", self.view, self.problem)
    }
}

impl std::error::Error for ViewError {}
