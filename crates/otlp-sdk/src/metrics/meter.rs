//! [`Meter`] and its synchronous instruments: [`Counter`], [`UpDownCounter`], [`Histogram`] and
//! [`Gauge`], each recording with attributes given per call or bound once.

// Work in progress (issue 14): `client.meter()` and the readers that make and collect meters
// land next.
#![cfg_attr(not(test), allow(dead_code))]

use super::aggregate::buckets::Boundaries;
use super::aggregate::histogram::{Histogram as HistogramAgg, Measurement};
use super::aggregate::last_value::LastValue;
use super::aggregate::point::{Aggregator, HistogramOf, ToNumberValue};
use super::aggregate::sum::{Number, StripedSum};
use super::instrument::{Descriptor, Instrument};
use super::series::Pinned;
use super::validate;
use otlp_proto::Str;
use otlp_proto::common::{InstrumentationScope, KeyValue};
use otlp_proto::metrics::{
    AggregationTemporality, Gauge as GaugeData, Histogram as HistogramData, Metric, MetricData,
    ScopeMetrics, Sum,
};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

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

/// The default cardinality limit: series per instrument besides the overflow series.
const DEFAULT_CARDINALITY_LIMIT: usize = 2000;

trait Collect: Send + Sync {
    fn collect(&self, start: u64, now: u64) -> Option<Metric>;
}

impl<A: Aggregator> Collect for Instrument<A> {
    fn collect(&self, start: u64, now: u64) -> Option<Metric> {
        Instrument::collect(self, start, now)
    }
}

struct MeterState {
    scope: InstrumentationScope,
    temporality: Temporality,
    instruments: Mutex<Vec<Arc<dyn Collect>>>,
    /// When the meter was made: the start of cumulative points.
    created: u64,
    /// When it was last collected: the start of delta points.
    last: AtomicU64,
}

/// Makes instruments for one instrumentation scope, and collects them.
#[derive(Clone)]
pub struct Meter {
    state: Arc<MeterState>,
}

impl std::fmt::Debug for Meter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Meter")
            .field("scope", &self.state.scope.name)
            .field("temporality", &self.state.temporality)
            .finish_non_exhaustive()
    }
}

impl Meter {
    /// A meter for `scope`, its sums and histograms collected with `temporality`.
    pub(crate) fn new(scope: InstrumentationScope, temporality: Temporality) -> Self {
        let now = crate::clock::now_unix_nanos();
        Meter {
            state: Arc::new(MeterState {
                scope,
                temporality,
                instruments: Mutex::new(Vec::new()),
                created: now,
                last: AtomicU64::new(now),
            }),
        }
    }

    /// The name of the meter's instrumentation scope.
    pub(crate) fn scope_name(&self) -> &Str {
        &self.state.scope.name
    }

    /// A counter of `u64` increments.
    pub fn u64_counter(&self, name: impl Into<Str>) -> InstrumentBuilder<'_, Counter<u64>> {
        InstrumentBuilder::new(self, name)
    }
    /// A counter of `f64` increments.
    pub fn f64_counter(&self, name: impl Into<Str>) -> InstrumentBuilder<'_, Counter<f64>> {
        InstrumentBuilder::new(self, name)
    }
    /// A sum that goes up and down, in `i64`.
    pub fn i64_up_down_counter(
        &self,
        name: impl Into<Str>,
    ) -> InstrumentBuilder<'_, UpDownCounter<i64>> {
        InstrumentBuilder::new(self, name)
    }
    /// A sum that goes up and down, in `f64`.
    pub fn f64_up_down_counter(
        &self,
        name: impl Into<Str>,
    ) -> InstrumentBuilder<'_, UpDownCounter<f64>> {
        InstrumentBuilder::new(self, name)
    }
    /// A histogram of `u64` values.
    pub fn u64_histogram(&self, name: impl Into<Str>) -> InstrumentBuilder<'_, Histogram<u64>> {
        InstrumentBuilder::new(self, name)
    }
    /// A histogram of `f64` values.
    pub fn f64_histogram(&self, name: impl Into<Str>) -> InstrumentBuilder<'_, Histogram<f64>> {
        InstrumentBuilder::new(self, name)
    }
    /// A gauge of `i64` values.
    pub fn i64_gauge(&self, name: impl Into<Str>) -> InstrumentBuilder<'_, Gauge<i64>> {
        InstrumentBuilder::new(self, name)
    }
    /// A gauge of `u64` values.
    pub fn u64_gauge(&self, name: impl Into<Str>) -> InstrumentBuilder<'_, Gauge<u64>> {
        InstrumentBuilder::new(self, name)
    }
    /// A gauge of `f64` values.
    pub fn f64_gauge(&self, name: impl Into<Str>) -> InstrumentBuilder<'_, Gauge<f64>> {
        InstrumentBuilder::new(self, name)
    }

    /// Every instrument's metric now (a manual collection; readers call this).
    pub(crate) fn collect(&self) -> ScopeMetrics {
        let now = crate::clock::now_unix_nanos();
        let start = match self.state.temporality {
            Temporality::Cumulative => self.state.created,
            Temporality::Delta => self.state.last.swap(now, Ordering::Relaxed),
        };
        let instruments = self
            .state
            .instruments
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        ScopeMetrics {
            scope: Some(self.state.scope.clone()),
            metrics: instruments
                .iter()
                .filter_map(|i| i.collect(start, now))
                .collect(),
            schema_url: Str::new(),
        }
    }

    fn register<A: Aggregator>(&self, instrument: Instrument<A>) -> Arc<Instrument<A>> {
        let instrument = Arc::new(instrument);
        self.state
            .instruments
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(instrument.clone());
        instrument
    }

    fn temporality(&self) -> AggregationTemporality {
        match self.state.temporality {
            Temporality::Cumulative => AggregationTemporality::Cumulative,
            Temporality::Delta => AggregationTemporality::Delta,
        }
    }
}

/// Why an instrument could not be made as asked: its name or unit (the instrument built from it
/// anyway records nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidInstrument(validate::Invalid);

impl std::fmt::Display for InvalidInstrument {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for InvalidInstrument {}

/// Describes an instrument before it is made: [`with_description`](Self::with_description),
/// [`with_unit`](Self::with_unit), for histograms [`with_boundaries`](Self::with_boundaries).
#[derive(Debug)]
pub struct InstrumentBuilder<'a, I> {
    meter: &'a Meter,
    name: Str,
    description: Str,
    unit: Str,
    boundaries: Option<Vec<f64>>,
    _instrument: std::marker::PhantomData<I>,
}

/// An instrument an [`InstrumentBuilder`] makes.
pub trait Buildable: Sized {
    #[doc(hidden)]
    fn build_in(meter: &Meter, descriptor: Descriptor, boundaries: Option<&[f64]>) -> Self;
    #[doc(hidden)]
    fn noop() -> Self;
}

impl<'a, I: Buildable> InstrumentBuilder<'a, I> {
    fn new(meter: &'a Meter, name: impl Into<Str>) -> Self {
        InstrumentBuilder {
            meter,
            name: name.into(),
            description: Str::new(),
            unit: Str::new(),
            boundaries: None,
            _instrument: std::marker::PhantomData,
        }
    }

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

    /// A histogram's bucket boundaries (default: the specification's, for milliseconds).
    pub fn with_boundaries(mut self, boundaries: impl Into<Vec<f64>>) -> Self {
        self.boundaries = Some(boundaries.into());
        self
    }

    /// The instrument, or why its name or unit is not allowed.
    pub fn try_build(self) -> Result<I, InvalidInstrument> {
        validate::name(&self.name).map_err(InvalidInstrument)?;
        validate::unit(&self.unit).map_err(InvalidInstrument)?;
        let descriptor = Descriptor {
            name: self.name,
            description: self.description,
            unit: self.unit,
        };
        Ok(I::build_in(
            self.meter,
            descriptor,
            self.boundaries.as_deref(),
        ))
    }

    /// The instrument; one whose name or unit is not allowed records nothing (use
    /// [`try_build`](Self::try_build) to learn why).
    pub fn build(self) -> I {
        self.try_build().unwrap_or_else(|_| I::noop())
    }
}

macro_rules! instrument {
    ($(#[$m:meta])* $name:ident, $bound:ident, $method:ident) => {
        $(#[$m])*
        pub struct $name<T: InstrumentValue> {
            inner: Option<Arc<Instrument<T::$bound>>>,
        }

        impl<T: InstrumentValue> Clone for $name<T> {
            fn clone(&self) -> Self {
                $name { inner: self.inner.clone() }
            }
        }

        impl<T: InstrumentValue> std::fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("enabled", &self.inner.is_some())
                    .finish()
            }
        }

        impl<T: InstrumentValue> $name<T> {
            /// Records `value` in the series of `attributes` (in any order; of a repeated key,
            /// the last value counts).
            #[inline]
            pub fn $method(&self, value: T, attributes: &[KeyValue]) {
                if let Some(inner) = &self.inner
                    && T::$method(value)
                {
                    inner.record(value, attributes);
                }
            }

            /// The series of `attributes`, bound: recording into it looks nothing up.
            pub fn bind(&self, attributes: &[KeyValue]) -> Bound<T::$bound> {
                Bound {
                    series: self.inner.as_ref().map(|i| i.bind(attributes)),
                    accept: T::$method,
                }
            }
        }
    };
}

/// One series of an instrument, bound by `bind`: records without looking the series up.
pub struct Bound<A: Aggregator> {
    series: Option<Pinned<A>>,
    accept: fn(A::Input) -> bool,
}

impl<A: Aggregator> std::fmt::Debug for Bound<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bound")
            .field("enabled", &self.series.is_some())
            .finish()
    }
}

impl<A: Aggregator> Bound<A> {
    /// Records `value` in the bound series.
    #[inline]
    pub fn record(&self, value: A::Input) {
        if let Some(series) = &self.series
            && (self.accept)(value)
        {
            series.aggregator.record(value);
        }
    }
}

/// The number types instruments record, and what each instrument accepts of them.
pub trait InstrumentValue: Number + ToNumberValue + Measurement {
    #[doc(hidden)]
    type Sum: Aggregator<Input = Self>;
    #[doc(hidden)]
    type Histogram: Aggregator<Input = Self>;
    #[doc(hidden)]
    type Gauge: Aggregator<Input = Self>;
    /// Whether a counter takes `v` (counters only go up: negative increments are dropped).
    #[doc(hidden)]
    fn add(v: Self) -> bool;
    /// Whether a histogram takes `v` (negative values are dropped, as the specification asks).
    #[doc(hidden)]
    fn record(v: Self) -> bool;
}

macro_rules! value {
    ($t:ty, $nonneg:expr) => {
        impl InstrumentValue for $t {
            type Sum = StripedSum<$t>;
            type Histogram = HistogramOf<$t>;
            type Gauge = LastValue<$t>;
            #[inline]
            fn add(v: $t) -> bool {
                $nonneg(v)
            }
            #[inline]
            fn record(v: $t) -> bool {
                $nonneg(v)
            }
        }
    };
}
value!(u64, |_| true);
value!(i64, |v| v >= 0);
value!(f64, |v: f64| v >= 0.0);

instrument!(
    /// A sum that only goes up: requests served, bytes sent.
    Counter, Sum, add
);
instrument!(
    /// A distribution of values: request durations, payload sizes.
    Histogram, Histogram, record
);

/// A sum that goes up and down: items in a queue, connections open.
pub struct UpDownCounter<T: InstrumentValue> {
    inner: Option<Arc<Instrument<T::Sum>>>,
}

impl<T: InstrumentValue> std::fmt::Debug for UpDownCounter<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpDownCounter")
            .field("enabled", &self.inner.is_some())
            .finish()
    }
}

impl<T: InstrumentValue> UpDownCounter<T> {
    /// Adds `value` (negative to subtract) to the series of `attributes`.
    #[inline]
    pub fn add(&self, value: T, attributes: &[KeyValue]) {
        if let Some(inner) = &self.inner {
            inner.record(value, attributes);
        }
    }
}

/// The current value of something sampled when it changes: a temperature, a setting.
pub struct Gauge<T: InstrumentValue> {
    inner: Option<Arc<Instrument<T::Gauge>>>,
}

impl<T: InstrumentValue> std::fmt::Debug for Gauge<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gauge")
            .field("enabled", &self.inner.is_some())
            .finish()
    }
}

impl<T: InstrumentValue> Gauge<T> {
    /// Records `value` as the series' current value.
    #[inline]
    pub fn record(&self, value: T, attributes: &[KeyValue]) {
        if let Some(inner) = &self.inner {
            inner.record(value, attributes);
        }
    }
}

fn sum_template(meter: &Meter, monotonic: bool) -> MetricData {
    MetricData::Sum(Sum {
        data_points: Vec::new(),
        aggregation_temporality: meter.temporality() as i32,
        is_monotonic: monotonic,
    })
}

fn delta(meter: &Meter) -> bool {
    meter.state.temporality == Temporality::Delta
}

impl<T: InstrumentValue<Sum = StripedSum<T>>> Buildable for Counter<T> {
    fn build_in(meter: &Meter, descriptor: Descriptor, _: Option<&[f64]>) -> Self {
        let instrument = Instrument::new(
            descriptor,
            sum_template(meter, true),
            delta(meter),
            Some(DEFAULT_CARDINALITY_LIMIT),
            StripedSum::default,
        );
        Counter {
            inner: Some(meter.register(instrument)),
        }
    }
    fn noop() -> Self {
        Counter { inner: None }
    }
}

impl<T: InstrumentValue<Sum = StripedSum<T>>> Buildable for UpDownCounter<T> {
    fn build_in(meter: &Meter, descriptor: Descriptor, _: Option<&[f64]>) -> Self {
        // Up-down counters are cumulative under every preference but `delta`'s for monotonic
        // sums; kept with the meter's choice until temporality preferences land.
        let instrument = Instrument::new(
            descriptor,
            sum_template(meter, false),
            delta(meter),
            Some(DEFAULT_CARDINALITY_LIMIT),
            StripedSum::default,
        );
        UpDownCounter {
            inner: Some(meter.register(instrument)),
        }
    }
    fn noop() -> Self {
        UpDownCounter { inner: None }
    }
}

impl<T: InstrumentValue<Histogram = HistogramOf<T>>> Buildable for Histogram<T> {
    fn build_in(meter: &Meter, descriptor: Descriptor, boundaries: Option<&[f64]>) -> Self {
        let boundaries = match boundaries.map(Boundaries::new) {
            Some(Ok(b)) => b,
            // Boundaries that cannot be used: the default ones (views will refuse them at
            // configuration; here there is no error to return but the name's).
            Some(Err(_)) | None => Boundaries::default(),
        };
        let template = MetricData::Histogram(HistogramData {
            data_points: Vec::new(),
            aggregation_temporality: meter.temporality() as i32,
        });
        let instrument = Instrument::new(
            descriptor,
            template,
            delta(meter),
            Some(DEFAULT_CARDINALITY_LIMIT),
            move || HistogramOf::new(HistogramAgg::new(boundaries.clone())),
        );
        Histogram {
            inner: Some(meter.register(instrument)),
        }
    }
    fn noop() -> Self {
        Histogram { inner: None }
    }
}

impl<T: InstrumentValue<Gauge = LastValue<T>>> Buildable for Gauge<T> {
    fn build_in(meter: &Meter, descriptor: Descriptor, _: Option<&[f64]>) -> Self {
        let template = MetricData::Gauge(GaugeData {
            data_points: Vec::new(),
        });
        let instrument = Instrument::new(
            descriptor,
            template,
            delta(meter),
            Some(DEFAULT_CARDINALITY_LIMIT),
            LastValue::default,
        );
        Gauge {
            inner: Some(meter.register(instrument)),
        }
    }
    fn noop() -> Self {
        Gauge { inner: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use otlp_proto::metrics::NumberValue;

    fn meter(temporality: Temporality) -> Meter {
        let scope = InstrumentationScope {
            name: Str::from_static("checkout"),
            ..InstrumentationScope::default()
        };
        Meter::new(scope, temporality)
    }

    fn values(scope: &ScopeMetrics, name: &str) -> Vec<NumberValue> {
        let metric = scope.metrics.iter().find(|m| m.name == name).expect(name);
        let points = match &metric.data {
            Some(MetricData::Sum(s)) => &s.data_points,
            Some(MetricData::Gauge(g)) => &g.data_points,
            other => panic!("{other:?}"),
        };
        points
            .iter()
            .map(|p| p.value.clone().expect("value"))
            .collect()
    }

    #[test]
    fn instruments_record_and_collect_into_their_scope() {
        let m = meter(Temporality::Cumulative);
        let requests = m.u64_counter("requests").with_unit("{request}").build();
        let queue = m.i64_up_down_counter("queue.depth").build();
        let temperature = m.f64_gauge("temperature").with_unit("Cel").build();
        let latency = m
            .f64_histogram("latency")
            .with_boundaries([1.0, 10.0])
            .build();
        let route = [KeyValue::new("route", "/cart")];
        requests.add(2, &route);
        requests.bind(&route).record(3);
        queue.add(5, &[]);
        queue.add(-2, &[]);
        temperature.record(21.5, &[]);
        temperature.record(22.0, &[]);
        latency.record(0.5, &[]);
        latency.record(-1.0, &[]); // dropped: histograms take no negative values
        latency.record(50.0, &[]);

        let scope = m.collect();
        assert_eq!(
            scope.scope.as_ref().map(|s| s.name.as_str()),
            Some("checkout")
        );
        assert_eq!(values(&scope, "requests"), [NumberValue::AsInt(5)]);
        assert_eq!(values(&scope, "queue.depth"), [NumberValue::AsInt(3)]);
        assert_eq!(values(&scope, "temperature"), [NumberValue::AsDouble(22.0)]);
        let latency = scope.metrics.iter().find(|m| m.name == "latency").unwrap();
        let Some(MetricData::Histogram(h)) = &latency.data else {
            panic!("not a histogram");
        };
        assert_eq!(h.data_points[0].bucket_counts, [1, 0, 1]);
        assert_eq!(h.data_points[0].explicit_bounds, [1.0, 10.0]);
    }

    #[test]
    fn delta_meters_report_the_interval_and_start_where_the_last_ended() {
        let m = meter(Temporality::Delta);
        let c = m.f64_counter("bytes").build();
        c.add(1.5, &[]);
        c.add(-4.0, &[]); // dropped: counters only go up
        let first = m.collect();
        assert_eq!(values(&first, "bytes"), [NumberValue::AsDouble(1.5)]);
        assert!(m.collect().metrics.is_empty(), "nothing since");
        c.add(2.0, &[]);
        let third = m.collect();
        let Some(MetricData::Sum(sum)) = &third.metrics[0].data else {
            panic!("not a sum");
        };
        assert_eq!(
            sum.aggregation_temporality,
            AggregationTemporality::Delta as i32
        );
        assert!(sum.is_monotonic);
        let point = &sum.data_points[0];
        assert!(point.start_time_unix_nano < point.time_unix_nano);
    }

    #[test]
    fn an_invalid_name_is_an_error_and_the_instrument_records_nothing() {
        let m = meter(Temporality::Cumulative);
        let err = m.u64_counter("9 lives").try_build().unwrap_err();
        assert!(err.to_string().contains("\"9 lives\""), "{err}");
        let noop = m.u64_counter("bad name").build();
        noop.add(1, &[]);
        noop.bind(&[]).record(1);
        let bad_unit = m.u64_counter("ok").with_unit("µs").try_build();
        assert!(bad_unit.is_err());
        assert!(
            m.collect().metrics.is_empty(),
            "nothing registered, nothing recorded"
        );
    }
}
