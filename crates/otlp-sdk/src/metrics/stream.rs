//! Streams: what an instrument records into. An instrument has one stream per view that
//! selects it (one, its default, when none does; none when a view drops it), each with its own
//! name, attribute filter, aggregation and cardinality limit. A stream is an [`Instrument`] of
//! one of four aggregations, chosen when the instrument is made, dispatched by a `match` per
//! measurement (no virtual call, no allocation).

use super::aggregate::exponential::ExponentialHistogram;
use super::aggregate::histogram::Histogram;
use super::aggregate::last_value::LastValue;
use super::aggregate::point::{ExponentialOf, HistogramOf, Report};
use super::aggregate::sum::StripedSum;
use super::config::Temporality;
use super::exemplar::Reservoir;
use super::instrument::{BoundSeries as Bound, Descriptor, Instrument};
use super::meter::Meter;
use super::synchronous::InstrumentValue;
use super::view::{InstrumentKind, Stream as ViewStream, StreamAggregation};
use otlp_proto::common::KeyValue;
use otlp_proto::metrics::{
    AggregationTemporality, ExponentialHistogram as ExponentialData, Gauge as GaugeData,
    Histogram as HistogramData, MetricData, Sum,
};
use std::sync::Arc;

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
    pub(crate) fn new(meter: &Meter, kind: InstrumentKind, spec: ViewStream) -> Self {
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
        let descriptor = Descriptor {
            name: spec.name,
            description: spec.description,
            unit: spec.unit,
        };
        let filter = (!spec.attributes.is_all()).then_some(spec.attributes);
        let limit = spec.cardinality_limit;
        let exemplar_filter = meter.exemplar_filter();
        let for_reservoir = spec.aggregation.clone();
        // One arm runs: each moves the descriptor and the filter into its instrument.
        macro_rules! new {
            ($template:expr, $make:expr) => {
                Instrument::new(descriptor, $template, delta, limit, $make)
                    .with_filter(filter)
                    .with_exemplars(exemplar_filter, move || {
                        Reservoir::for_aggregation(&for_reservoir)
                    })
            };
        }
        match spec.aggregation {
            StreamAggregation::Sum { monotonic } => {
                let template = MetricData::Sum(Sum {
                    data_points: Vec::new(),
                    aggregation_temporality,
                    is_monotonic: monotonic,
                });
                Stream::Sum(meter.register(new!(template, StripedSum::default)))
            }
            StreamAggregation::LastValue => {
                let template = MetricData::Gauge(GaugeData {
                    data_points: Vec::new(),
                });
                Stream::LastValue(meter.register(new!(template, LastValue::default)))
            }
            StreamAggregation::ExplicitHistogram {
                boundaries,
                record_min_max,
                record_sum,
            } => {
                let template = MetricData::Histogram(HistogramData {
                    data_points: Vec::new(),
                    aggregation_temporality,
                });
                let report = Report {
                    min_max: record_min_max,
                    sum: record_sum,
                };
                Stream::Explicit(meter.register(new!(template, move || {
                    HistogramOf::new(Histogram::new(boundaries.clone()), report)
                })))
            }
            StreamAggregation::ExponentialHistogram {
                max_size,
                max_scale,
                record_min_max,
                record_sum,
            } => {
                let template = MetricData::ExponentialHistogram(ExponentialData {
                    data_points: Vec::new(),
                    aggregation_temporality,
                });
                let report = Report {
                    min_max: record_min_max,
                    sum: record_sum,
                };
                Stream::Exponential(meter.register(new!(template, move || {
                    ExponentialOf::new(
                        ExponentialHistogram::new(max_size, i32::from(max_scale)),
                        report,
                    )
                })))
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

/// The streams of one instrument, held by its handle itself (no indirection before the
/// common case of one stream).
pub(crate) enum Streams<T: InstrumentValue> {
    /// A no-op instrument (its name was invalid, or views dropped it).
    None,
    /// The common case: one stream, recorded into without a loop.
    One(Stream<T>),
    Many(Arc<[Stream<T>]>),
}

impl<T: InstrumentValue> Clone for Stream<T> {
    fn clone(&self) -> Self {
        match self {
            Stream::Sum(i) => Stream::Sum(i.clone()),
            Stream::LastValue(i) => Stream::LastValue(i.clone()),
            Stream::Explicit(i) => Stream::Explicit(i.clone()),
            Stream::Exponential(i) => Stream::Exponential(i.clone()),
        }
    }
}

impl<T: InstrumentValue> Clone for Streams<T> {
    fn clone(&self) -> Self {
        match self {
            Streams::None => Streams::None,
            Streams::One(s) => Streams::One(s.clone()),
            Streams::Many(all) => Streams::Many(all.clone()),
        }
    }
}

impl<T: InstrumentValue> Streams<T> {
    pub(crate) fn from_vec(mut streams: Vec<Stream<T>>) -> Self {
        match streams.len() {
            0 => Streams::None,
            1 => streams.pop().map_or(Streams::None, Streams::One),
            _ => Streams::Many(streams.into()),
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
    Sum(Bound<StripedSum<T>>),
    LastValue(Bound<LastValue<T>>),
    Explicit(Bound<HistogramOf<T>>),
    Exponential(Bound<ExponentialOf<T>>),
}

impl<T: InstrumentValue> BoundSeries<T> {
    #[inline]
    fn record(&self, v: T) {
        match self {
            BoundSeries::Sum(s) => s.record(v),
            BoundSeries::LastValue(s) => s.record(v),
            BoundSeries::Explicit(s) => s.record(v),
            BoundSeries::Exponential(s) => s.record(v),
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
