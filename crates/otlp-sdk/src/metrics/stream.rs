//! Streams: what an instrument records into. An instrument has one stream per view that
//! selects it (one, its default, when none does; none when a view drops it), each with its own
//! name, attribute filter, aggregation and cardinality limit. A stream is an [`Instrument`] of
//! one of four aggregations, chosen when the instrument is made, dispatched by a `match` per
//! measurement (no virtual call, no allocation).

use super::aggregate::buckets::Boundaries;
use super::aggregate::exponential::ExponentialHistogram;
use super::aggregate::histogram::Histogram;
use super::aggregate::last_value::LastValue;
use super::aggregate::point::{ExponentialOf, HistogramOf};
use super::aggregate::sum::StripedSum;
use super::config::{InstrumentKind, Temporality};
use super::instrument::{AttributeFilter, Descriptor, Instrument};
use super::meter::Meter;
use super::series::Series;
use super::synchronous::InstrumentValue;
use crate::config::HistogramAggregation;
use otlp_proto::common::KeyValue;
use otlp_proto::metrics::{
    AggregationTemporality, ExponentialHistogram as ExponentialData, Gauge as GaugeData,
    Histogram as HistogramData, MetricData, Sum,
};
use std::sync::Arc;

/// The specification's default exponential histogram size, in buckets per range.
pub(crate) const DEFAULT_MAX_SIZE: u32 = 160;
/// The specification's default (and highest) exponential histogram scale.
pub(crate) const DEFAULT_MAX_SCALE: i32 = 20;

/// How a stream aggregates, decided (never "the default").
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum StreamAggregation {
    Sum,
    LastValue,
    Explicit {
        boundaries: Boundaries,
        record_min_max: bool,
    },
    Exponential {
        max_size: u32,
        max_scale: i32,
        record_min_max: bool,
    },
}

/// A stream as views (or the defaults) decide it.
#[derive(Debug, Clone)]
pub(crate) struct StreamSpec {
    pub(crate) descriptor: Descriptor,
    pub(crate) filter: Option<AttributeFilter>,
    pub(crate) aggregation: StreamAggregation,
    pub(crate) cardinality_limit: Option<usize>,
}

/// One stream of an instrument recording `T`.
pub(crate) enum Stream<T: InstrumentValue> {
    Sum(Arc<Instrument<StripedSum<T>>>),
    LastValue(Arc<Instrument<LastValue<T>>>),
    Explicit(Arc<Instrument<HistogramOf<T>>>),
    Exponential(Arc<Instrument<ExponentialOf<T>>>),
}

impl<T: InstrumentValue> Stream<T> {
    /// Makes the stream `spec` of an instrument of `kind` in `meter`, and registers it for
    /// collection.
    pub(crate) fn new(meter: &Meter, kind: InstrumentKind, spec: StreamSpec) -> Self {
        let temporality = match spec.aggregation {
            // A last value has no temporality; its series stay from one collection to the next.
            StreamAggregation::LastValue => Temporality::Cumulative,
            _ => meter.temporality_of(kind),
        };
        let delta = temporality == Temporality::Delta;
        let aggregation_temporality = match temporality {
            Temporality::Cumulative => AggregationTemporality::Cumulative,
            Temporality::Delta => AggregationTemporality::Delta,
        } as i32;
        let StreamSpec {
            descriptor,
            filter,
            aggregation,
            cardinality_limit,
        } = spec;
        let instrument =
            |template: MetricData| (descriptor, template, delta, cardinality_limit, filter);
        match aggregation {
            StreamAggregation::Sum => {
                let template = MetricData::Sum(Sum {
                    data_points: Vec::new(),
                    aggregation_temporality,
                    // Counters and histograms only take non-negative values.
                    is_monotonic: matches!(
                        kind,
                        InstrumentKind::Counter | InstrumentKind::Histogram
                    ),
                });
                let (d, t, delta, limit, filter) = instrument(template);
                Stream::Sum(meter.register(
                    Instrument::new(d, t, delta, limit, StripedSum::default).with_filter(filter),
                ))
            }
            StreamAggregation::LastValue => {
                let template = MetricData::Gauge(GaugeData {
                    data_points: Vec::new(),
                });
                let (d, t, delta, limit, filter) = instrument(template);
                Stream::LastValue(meter.register(
                    Instrument::new(d, t, delta, limit, LastValue::default).with_filter(filter),
                ))
            }
            StreamAggregation::Explicit {
                boundaries,
                record_min_max,
            } => {
                let template = MetricData::Histogram(HistogramData {
                    data_points: Vec::new(),
                    aggregation_temporality,
                });
                let (d, t, delta, limit, filter) = instrument(template);
                Stream::Explicit(
                    meter.register(
                        Instrument::new(d, t, delta, limit, move || {
                            HistogramOf::new(Histogram::new(boundaries.clone()), record_min_max)
                        })
                        .with_filter(filter),
                    ),
                )
            }
            StreamAggregation::Exponential {
                max_size,
                max_scale,
                record_min_max,
            } => {
                let template = MetricData::ExponentialHistogram(ExponentialData {
                    data_points: Vec::new(),
                    aggregation_temporality,
                });
                let (d, t, delta, limit, filter) = instrument(template);
                Stream::Exponential(
                    meter.register(
                        Instrument::new(d, t, delta, limit, move || {
                            ExponentialOf::new(
                                ExponentialHistogram::new(max_size, max_scale),
                                record_min_max,
                            )
                        })
                        .with_filter(filter),
                    ),
                )
            }
        }
    }

    #[inline]
    fn record(&self, v: T, attributes: &[KeyValue]) {
        match self {
            Stream::Sum(i) => i.record(v, attributes),
            Stream::LastValue(i) => i.record(v, attributes),
            Stream::Explicit(i) => i.record(v, attributes),
            Stream::Exponential(i) => i.record(v, attributes),
        }
    }

    fn bind(&self, attributes: &[KeyValue]) -> BoundSeries<T> {
        match self {
            Stream::Sum(i) => BoundSeries::Sum(i.bind(attributes)),
            Stream::LastValue(i) => BoundSeries::LastValue(i.bind(attributes)),
            Stream::Explicit(i) => BoundSeries::Explicit(i.bind(attributes)),
            Stream::Exponential(i) => BoundSeries::Exponential(i.bind(attributes)),
        }
    }
}

/// The streams of one instrument.
pub(crate) enum Streams<T: InstrumentValue> {
    /// A no-op instrument (its name was invalid, or views dropped it).
    None,
    /// The common case: one stream, recorded into without a loop.
    One(Stream<T>),
    Many(Box<[Stream<T>]>),
}

impl<T: InstrumentValue> Streams<T> {
    pub(crate) fn from_vec(mut streams: Vec<Stream<T>>) -> Self {
        match streams.len() {
            0 => Streams::None,
            1 => streams.pop().map_or(Streams::None, Streams::One),
            _ => Streams::Many(streams.into_boxed_slice()),
        }
    }

    pub(crate) fn is_enabled(&self) -> bool {
        !matches!(self, Streams::None)
    }

    #[inline]
    pub(crate) fn record(&self, v: T, attributes: &[KeyValue]) {
        match self {
            Streams::None => {}
            Streams::One(s) => s.record(v, attributes),
            Streams::Many(all) => all.iter().for_each(|s| s.record(v, attributes)),
        }
    }

    pub(crate) fn bind(&self, attributes: &[KeyValue]) -> BoundStreams<T> {
        match self {
            Streams::None => BoundStreams::None,
            Streams::One(s) => BoundStreams::One(s.bind(attributes)),
            Streams::Many(all) => {
                BoundStreams::Many(all.iter().map(|s| s.bind(attributes)).collect())
            }
        }
    }
}

/// One stream's series, bound.
pub(crate) enum BoundSeries<T: InstrumentValue> {
    Sum(Arc<Series<StripedSum<T>>>),
    LastValue(Arc<Series<LastValue<T>>>),
    Explicit(Arc<Series<HistogramOf<T>>>),
    Exponential(Arc<Series<ExponentialOf<T>>>),
}

impl<T: InstrumentValue> BoundSeries<T> {
    #[inline]
    fn record(&self, v: T) {
        use super::aggregate::point::Aggregator;
        match self {
            BoundSeries::Sum(s) => s.aggregator.record(v),
            BoundSeries::LastValue(s) => s.aggregator.record(v),
            BoundSeries::Explicit(s) => s.aggregator.record(v),
            BoundSeries::Exponential(s) => s.aggregator.record(v),
        }
    }
}

/// The series of every stream of an instrument for one attribute set.
pub(crate) enum BoundStreams<T: InstrumentValue> {
    None,
    One(BoundSeries<T>),
    Many(Box<[BoundSeries<T>]>),
}

impl<T: InstrumentValue> BoundStreams<T> {
    pub(crate) fn is_enabled(&self) -> bool {
        !matches!(self, BoundStreams::None)
    }

    #[inline]
    pub(crate) fn record(&self, v: T) {
        match self {
            BoundStreams::None => {}
            BoundStreams::One(s) => s.record(v),
            BoundStreams::Many(all) => all.iter().for_each(|s| s.record(v)),
        }
    }
}

/// The stream an instrument of `kind` gets when no view selects it.
pub(crate) fn default_spec(
    meter: &Meter,
    kind: InstrumentKind,
    descriptor: Descriptor,
    advisory_boundaries: Option<Boundaries>,
) -> StreamSpec {
    let aggregation = match kind {
        InstrumentKind::Counter
        | InstrumentKind::UpDownCounter
        | InstrumentKind::ObservableCounter
        | InstrumentKind::ObservableUpDownCounter => StreamAggregation::Sum,
        InstrumentKind::Gauge | InstrumentKind::ObservableGauge => StreamAggregation::LastValue,
        InstrumentKind::Histogram => match (meter.default_histogram(), advisory_boundaries) {
            (HistogramAggregation::Base2Exponential, _) => StreamAggregation::Exponential {
                max_size: DEFAULT_MAX_SIZE,
                max_scale: DEFAULT_MAX_SCALE,
                record_min_max: true,
            },
            (HistogramAggregation::ExplicitBucket, boundaries) => StreamAggregation::Explicit {
                boundaries: boundaries.unwrap_or_default(),
                record_min_max: true,
            },
        },
    };
    StreamSpec {
        descriptor,
        filter: None,
        aggregation,
        cardinality_limit: meter.cardinality_limit(),
    }
}
