//! Observable instruments: [`ObservableCounter`], [`ObservableUpDownCounter`] and
//! [`ObservableGauge`], whose values callbacks report at each collection, and the callbacks
//! themselves: one per instrument ([`ObservableBuilder::with_callback`]) or one for several
//! ([`Meter::register_callback`](super::Meter::register_callback)), which can be unregistered.
//!
//! Each collection runs every callback once, then reports, per instrument, exactly the
//! attribute sets observed during that run (a set not observed is not reported), the last
//! observation of a set winning. Counters' callbacks report totals: under delta temporality the
//! point is the difference from the total the previous collection saw.

use super::aggregate::point::ToNumberValue;
use super::config::Temporality;
use super::export::{Collected, NUMBER_ATTRIBUTES, PointAttributes};
use super::instrument::Descriptor;
use super::series::{OVERFLOW_KEY, canonical_key};
use super::view::{AttributeFilter, InstrumentKind, Stream as ViewStream, StreamAggregation};
use otlp_proto::Str;
use otlp_proto::common::KeyValue;
use otlp_proto::metrics::{
    AggregationTemporality, Gauge, MetricData, NumberDataPoint, NumberValue, Sum,
};
use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex, PoisonError};

/// The number types observable instruments report.
pub trait ObservableValue: ToNumberValue + Send + Sync + 'static {}
impl ObservableValue for u64 {}
impl ObservableValue for i64 {}
impl ObservableValue for f64 {}

/// The observations of one instrument in the current collection, and the totals of the one
/// before (for deltas).
#[derive(Debug, Default)]
struct Round {
    /// Canonical attribute key (as series are keyed) -> value.
    current: HashMap<Vec<u8>, NumberValue>,
    previous: HashMap<Vec<u8>, NumberValue>,
}

/// One stream of an observable instrument.
#[derive(Debug)]
pub struct ObservableState {
    pub(crate) descriptor: Descriptor,
    /// `Some(monotonic)`: a sum; `None`: a gauge.
    sum: Option<bool>,
    temporality: Temporality,
    limit: Option<usize>,
    filter: Option<AttributeFilter>,
    round: Mutex<Round>,
}

fn add(a: &NumberValue, b: &NumberValue) -> NumberValue {
    match (a, b) {
        (NumberValue::AsInt(x), NumberValue::AsInt(y)) => NumberValue::AsInt(x.saturating_add(*y)),
        _ => NumberValue::AsDouble(as_f64(a) + as_f64(b)),
    }
}

fn sub(a: &NumberValue, b: &NumberValue) -> NumberValue {
    match (a, b) {
        (NumberValue::AsInt(x), NumberValue::AsInt(y)) => NumberValue::AsInt(x.saturating_sub(*y)),
        _ => NumberValue::AsDouble(as_f64(a) - as_f64(b)),
    }
}

fn as_f64(v: &NumberValue) -> f64 {
    match v {
        NumberValue::AsInt(i) => *i as f64,
        NumberValue::AsDouble(d) => *d,
    }
}

impl ObservableState {
    /// The stream `stream` of an observable instrument, reported with `temporality` when a
    /// sum.
    pub(crate) fn new(stream: ViewStream, temporality: Temporality) -> Self {
        let sum = match stream.aggregation {
            StreamAggregation::Sum { monotonic } => Some(monotonic),
            // Views refuse histograms for observable instruments.
            _ => None,
        };
        ObservableState {
            descriptor: Descriptor {
                name: stream.name,
                description: stream.description,
                unit: stream.unit,
            },
            sum,
            temporality: if sum.is_some() {
                temporality
            } else {
                Temporality::Cumulative
            },
            limit: stream.cardinality_limit,
            filter: (!stream.attributes.is_all()).then_some(stream.attributes),
            round: Mutex::new(Round::default()),
        }
    }

    /// Records one observation of the current collection.
    fn observe(&self, value: NumberValue, attributes: &[KeyValue]) {
        let key = match &self.filter {
            None => canonical_key(attributes),
            Some(f) => canonical_key(&f.kept(attributes).cloned().collect::<Vec<_>>()),
        };
        let mut round = self.round.lock().unwrap_or_else(PoisonError::into_inner);
        let full = self
            .limit
            .is_some_and(|l| round.current.len() >= l && !round.current.contains_key(&key));
        if full {
            // Past the limit, the overflow series takes the sum of the sets that did not fit
            // (for a gauge, the last of them).
            let key = canonical_key(&[KeyValue::new(OVERFLOW_KEY, true)]);
            let summed = match (self.sum, round.current.get(&key)) {
                (None, _) | (_, None) => value,
                (Some(_), Some(before)) => add(before, &value),
            };
            round.current.insert(key, summed);
            return;
        }
        round.current.insert(key, value);
    }

    /// The metric of this collection's observations (`None` when nothing was observed), and
    /// the start of the next round.
    pub(crate) fn collect(&self, created: u64, last: u64, now: u64) -> Option<Collected> {
        let mut round = self.round.lock().unwrap_or_else(PoisonError::into_inner);
        let current = std::mem::take(&mut round.current);
        let delta = self.temporality == Temporality::Delta;
        let start = if delta { last } else { created };
        let mut points = Vec::with_capacity(current.len());
        let mut attributes = PointAttributes::default();
        let mut totals = HashMap::with_capacity(if delta { current.len() } else { 0 });
        for (key, value) in current {
            let reported = match (delta, round.previous.get(&key)) {
                (true, Some(before)) => sub(&value, before),
                _ => value.clone(),
            };
            attributes.push(&key, NUMBER_ATTRIBUTES);
            if delta {
                totals.insert(key, value);
            }
            points.push(NumberDataPoint {
                start_time_unix_nano: start,
                time_unix_nano: now,
                value: Some(reported),
                ..NumberDataPoint::default()
            });
        }
        // Only the sets seen this time: a set that stops being observed is forgotten.
        round.previous = totals;
        drop(round);
        if points.is_empty() {
            return None;
        }
        let temporality = if delta {
            AggregationTemporality::Delta
        } else {
            AggregationTemporality::Cumulative
        };
        let data = match self.sum {
            None => MetricData::Gauge(Gauge {
                data_points: points,
            }),
            Some(monotonic) => MetricData::Sum(Sum {
                data_points: points,
                aggregation_temporality: temporality as i32,
                is_monotonic: monotonic,
            }),
        };
        Some(Collected {
            metric: self.descriptor.metric(data),
            attributes,
        })
    }
}

/// What a single-instrument callback reports through.
#[derive(Debug)]
pub struct Observer<'a, T> {
    states: &'a [Arc<ObservableState>],
    _value: PhantomData<fn(T)>,
}

impl<T: ObservableValue> Observer<'_, T> {
    /// Reports `value` for the attribute set `attributes` (in any order; of a repeated key the
    /// last value counts).
    pub fn observe(&self, value: T, attributes: &[KeyValue]) {
        let value = value.to_number_value();
        for state in self.states {
            state.observe(value.clone(), attributes);
        }
    }
}

/// A callback of one instrument (of its streams).
pub(crate) type InstrumentCallback = Arc<dyn Fn(&[Arc<ObservableState>]) + Send + Sync>;

macro_rules! observable {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        pub struct $name<T> {
            pub(crate) states: Arc<[Arc<ObservableState>]>,
            _value: PhantomData<fn(T)>,
        }

        impl<T> Clone for $name<T> {
            fn clone(&self) -> Self {
                $name {
                    states: self.states.clone(),
                    _value: PhantomData,
                }
            }
        }

        impl<T> std::fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name))
                    .field(
                        "streams",
                        &self.states.iter().map(|s| &s.descriptor.name).collect::<Vec<_>>(),
                    )
                    .finish()
            }
        }

        impl<T> FromObservable for $name<T> {
            const KIND: InstrumentKind = InstrumentKind::$name;
            fn from_states(states: Vec<Arc<ObservableState>>) -> Self {
                $name {
                    states: states.into(),
                    _value: PhantomData,
                }
            }
        }

        impl<T: ObservableValue> AsObservable for $name<T> {
            type Value = T;
            fn observable_states(&self) -> &[Arc<ObservableState>] {
                &self.states
            }
        }
    };
}

observable!(
    /// A total that only goes up, read by a callback: CPU time used, bytes received so far.
    ObservableCounter
);
observable!(
    /// A total that goes up and down, read by a callback: memory in use, items queued.
    ObservableUpDownCounter
);
observable!(
    /// A value sampled by a callback: a temperature, a queue's fill ratio.
    ObservableGauge
);

/// An observable instrument an [`ObservableBuilder`] makes.
pub trait FromObservable {
    #[doc(hidden)]
    const KIND: InstrumentKind;
    #[doc(hidden)]
    fn from_states(states: Vec<Arc<ObservableState>>) -> Self;
}

/// An observable instrument, as [`Observations::observe`] takes it.
pub trait AsObservable {
    /// The numbers it reports.
    type Value: ObservableValue;
    #[doc(hidden)]
    fn observable_states(&self) -> &[Arc<ObservableState>];
}

/// What a callback of several instruments
/// ([`Meter::register_callback`](super::Meter::register_callback)) reports through.
#[derive(Debug)]
pub struct Observations<'a> {
    /// The meter's observable instruments: observations of others are ignored.
    pub(crate) known: &'a [Arc<ObservableState>],
}

impl Observations<'_> {
    /// Reports `value` of `instrument` for `attributes`. An instrument of another meter (or a
    /// no-op one, its name invalid) is ignored, as the specification asks.
    pub fn observe<I: AsObservable>(
        &self,
        instrument: &I,
        value: I::Value,
        attributes: &[KeyValue],
    ) {
        let value = value.to_number_value();
        for state in instrument.observable_states() {
            if self.known.iter().any(|k| Arc::ptr_eq(k, state)) {
                state.observe(value.clone(), attributes);
            }
        }
    }
}

/// A callback of several instruments.
pub(crate) type MeterCallback = Arc<dyn Fn(&Observations<'_>) + Send + Sync>;

/// Wraps a user callback of one instrument.
pub(crate) fn instrument_callback<T: ObservableValue>(
    f: impl Fn(&Observer<'_, T>) + Send + Sync + 'static,
) -> InstrumentCallback {
    Arc::new(move |states: &[Arc<ObservableState>]| {
        f(&Observer {
            states,
            _value: PhantomData,
        })
    })
}

/// A callback registered with [`Meter::register_callback`](super::Meter::register_callback):
/// it runs at every collection until [`unregister`](Registration::unregister)ed (dropping the
/// registration keeps the callback).
#[derive(Debug)]
pub struct Registration {
    pub(crate) meter: std::sync::Weak<dyn Unregister>,
    pub(crate) id: u64,
}

impl Registration {
    /// Removes the callback: later collections no longer run it. Returns whether it was still
    /// registered.
    pub fn unregister(self) -> bool {
        self.meter.upgrade().is_some_and(|m| m.unregister(self.id))
    }
}

/// Whatever holds registered callbacks: the meter.
pub(crate) trait Unregister: Send + Sync + std::fmt::Debug {
    fn unregister(&self, id: u64) -> bool;
}

/// Describes an observable instrument before it is made: its description, unit and callbacks.
pub struct ObservableBuilder<'a, I, T> {
    pub(crate) meter: &'a super::Meter,
    pub(crate) name: Str,
    pub(crate) description: Str,
    pub(crate) unit: Str,
    pub(crate) callbacks: Vec<InstrumentCallback>,
    pub(crate) _instrument: PhantomData<fn() -> (I, T)>,
}

impl<I: FromObservable, T> std::fmt::Debug for ObservableBuilder<'_, I, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObservableBuilder")
            .field("name", &self.name)
            .field("kind", &I::KIND)
            .field("callbacks", &self.callbacks.len())
            .finish()
    }
}

impl<'a, I: FromObservable, T> ObservableBuilder<'a, I, T> {
    pub(crate) fn start(meter: &'a super::Meter, name: impl Into<Str>) -> Self {
        ObservableBuilder {
            meter,
            name: name.into(),
            description: Str::new(),
            unit: Str::new(),
            callbacks: Vec::new(),
            _instrument: PhantomData,
        }
    }
}

impl<I, T: ObservableValue> ObservableBuilder<'_, I, T> {
    /// What the instrument measures, for people.
    pub fn with_description(mut self, description: impl Into<Str>) -> Self {
        self.description = description.into();
        self
    }

    /// The unit, in UCUM (`ms`, `By`, `{request}`).
    pub fn with_unit(mut self, unit: impl Into<Str>) -> Self {
        self.unit = unit.into();
        self
    }

    /// A callback reporting the instrument's values at each collection (several may be
    /// given). For callbacks that must be removable, or that report several instruments, use
    /// [`Meter::register_callback`](super::Meter::register_callback).
    pub fn with_callback(
        mut self,
        callback: impl Fn(&Observer<'_, T>) + Send + Sync + 'static,
    ) -> Self {
        self.callbacks.push(instrument_callback(callback));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use otlp_proto::metrics::Metric;

    fn state(
        kind: InstrumentKind,
        temporality: Temporality,
        limit: Option<usize>,
    ) -> ObservableState {
        let aggregation = match kind {
            InstrumentKind::ObservableGauge => StreamAggregation::LastValue,
            kind => StreamAggregation::Sum {
                monotonic: kind == InstrumentKind::ObservableCounter,
            },
        };
        let stream = ViewStream {
            name: Str::from_static("cpu.time"),
            description: Str::new(),
            unit: Str::from_static("s"),
            attributes: AttributeFilter::All,
            aggregation,
            cardinality_limit: limit,
        };
        ObservableState::new(stream, temporality)
    }

    fn points(metric: &Metric) -> Vec<(Vec<KeyValue>, NumberValue)> {
        let points = match &metric.data {
            Some(MetricData::Sum(s)) => &s.data_points,
            Some(MetricData::Gauge(g)) => &g.data_points,
            other => panic!("{other:?}"),
        };
        let mut out: Vec<_> = points
            .iter()
            .map(|p| (p.attributes.clone(), p.value.clone().expect("value")))
            .collect();
        out.sort_by(|a, b| format!("{:?}", a.0).cmp(&format!("{:?}", b.0)));
        out
    }

    #[test]
    fn only_the_sets_observed_in_this_round_are_reported_last_one_winning() {
        let s = state(
            InstrumentKind::ObservableGauge,
            Temporality::Cumulative,
            None,
        );
        let a = [KeyValue::new("core", 0i64)];
        let b = [KeyValue::new("core", 1i64)];
        s.observe(NumberValue::AsDouble(1.0), &a);
        s.observe(NumberValue::AsDouble(2.0), &a);
        s.observe(NumberValue::AsDouble(5.0), &b);
        let first = s
            .collect(0, 0, 10)
            .map(Collected::into_metric)
            .expect("points");
        assert_eq!(
            points(&first),
            [
                (a.to_vec(), NumberValue::AsDouble(2.0)),
                (b.to_vec(), NumberValue::AsDouble(5.0)),
            ]
        );
        s.observe(NumberValue::AsDouble(3.0), &b);
        let second = s
            .collect(0, 10, 20)
            .map(Collected::into_metric)
            .expect("points");
        assert_eq!(points(&second), [(b.to_vec(), NumberValue::AsDouble(3.0))]);
        assert!(
            s.collect(0, 20, 30).map(Collected::into_metric).is_none(),
            "nothing observed"
        );
    }

    #[test]
    fn delta_counters_report_the_difference_from_the_previous_total() {
        let s = state(InstrumentKind::ObservableCounter, Temporality::Delta, None);
        s.observe(NumberValue::AsInt(10), &[]);
        let first = s
            .collect(0, 0, 10)
            .map(Collected::into_metric)
            .expect("points");
        assert_eq!(points(&first), [(vec![], NumberValue::AsInt(10))]);
        s.observe(NumberValue::AsInt(25), &[]);
        let second = s
            .collect(0, 10, 20)
            .map(Collected::into_metric)
            .expect("points");
        assert_eq!(points(&second), [(vec![], NumberValue::AsInt(15))]);
        let Some(MetricData::Sum(sum)) = &second.data else {
            panic!("a sum");
        };
        assert!(sum.is_monotonic);
        assert_eq!(
            sum.aggregation_temporality,
            AggregationTemporality::Delta as i32
        );
        assert_eq!(sum.data_points[0].start_time_unix_nano, 10);
        // Not observed once: forgotten, so its next total counts from zero again.
        assert!(s.collect(0, 20, 30).map(Collected::into_metric).is_none());
        s.observe(NumberValue::AsInt(30), &[]);
        assert_eq!(
            points(
                &s.collect(0, 30, 40)
                    .map(Collected::into_metric)
                    .expect("points")
            ),
            [(vec![], NumberValue::AsInt(30))]
        );
    }

    #[test]
    fn past_the_limit_observations_go_to_the_overflow_set() {
        let s = state(
            InstrumentKind::ObservableUpDownCounter,
            Temporality::Cumulative,
            Some(2),
        );
        for i in 0..5i64 {
            s.observe(NumberValue::AsInt(i), &[KeyValue::new("i", i)]);
        }
        let got = points(
            &s.collect(0, 0, 1)
                .map(Collected::into_metric)
                .expect("points"),
        );
        assert_eq!(got.len(), 3);
        let overflow = got
            .iter()
            .find(|(a, _)| a[0].key == OVERFLOW_KEY)
            .expect("an overflow set");
        assert_eq!(overflow.1, NumberValue::AsInt(2 + 3 + 4));
    }

    #[test]
    fn attributes_in_any_order_are_one_set() {
        let s = state(
            InstrumentKind::ObservableGauge,
            Temporality::Cumulative,
            None,
        );
        s.observe(
            NumberValue::AsInt(1),
            &[KeyValue::new("b", 1i64), KeyValue::new("a", 1i64)],
        );
        s.observe(
            NumberValue::AsInt(2),
            &[
                KeyValue::new("a", 0i64),
                KeyValue::new("b", 1i64),
                KeyValue::new("a", 1i64),
            ],
        );
        let got = points(
            &s.collect(0, 0, 1)
                .map(Collected::into_metric)
                .expect("points"),
        );
        assert_eq!(
            got,
            [(
                vec![KeyValue::new("a", 1i64), KeyValue::new("b", 1i64)],
                NumberValue::AsInt(2)
            )]
        );
    }
}
