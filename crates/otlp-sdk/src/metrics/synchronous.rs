//! The synchronous instruments: [`Counter`], [`UpDownCounter`], [`Histogram`] and [`Gauge`],
//! recording with attributes given per call or bound once ([`Bound`]), and the
//! [`InstrumentBuilder`] that makes them.

use super::aggregate::buckets::Boundaries;
use super::aggregate::histogram::{Histogram as HistogramAgg, Measurement};
use super::aggregate::last_value::LastValue;
use super::aggregate::point::{Aggregator, HistogramOf, ToNumberValue};
use super::aggregate::sum::{Number, StripedSum};
use super::config::{InstrumentKind, Temporality};
use super::instrument::{Descriptor, Instrument};
use super::meter::Meter;
use super::series::Series;
use super::validate;
use otlp_proto::Str;
use otlp_proto::common::KeyValue;
use otlp_proto::metrics::{
    AggregationTemporality, Gauge as GaugeData, Histogram as HistogramData, MetricData, Sum,
};
use std::sync::Arc;

/// Why an instrument could not be made as asked: its name or unit (the instrument built from it
/// anyway records nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidInstrument(pub(crate) validate::Invalid);

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
    pub(crate) fn new(meter: &'a Meter, name: impl Into<Str>) -> Self {
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
        if let Some(Err(e)) = self.boundaries.as_deref().map(Boundaries::new) {
            return Err(InvalidInstrument(validate::Invalid::Boundaries(
                self.name.to_string(),
                e.to_string(),
            )));
        }
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
    series: Option<Arc<Series<A>>>,
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

/// The metric data an instrument of `kind` collects into, empty, under `temporality`.
fn template(kind: InstrumentKind, temporality: Temporality) -> MetricData {
    let aggregation_temporality = match temporality {
        Temporality::Cumulative => AggregationTemporality::Cumulative,
        Temporality::Delta => AggregationTemporality::Delta,
    } as i32;
    match kind {
        InstrumentKind::Histogram => MetricData::Histogram(HistogramData {
            data_points: Vec::new(),
            aggregation_temporality,
        }),
        InstrumentKind::Gauge | InstrumentKind::ObservableGauge => MetricData::Gauge(GaugeData {
            data_points: Vec::new(),
        }),
        kind => MetricData::Sum(Sum {
            data_points: Vec::new(),
            aggregation_temporality,
            is_monotonic: matches!(
                kind,
                InstrumentKind::Counter | InstrumentKind::ObservableCounter
            ),
        }),
    }
}

/// Makes and registers the instrument of `kind` in `meter`, its series made by `make`.
fn make<A: Aggregator>(
    meter: &Meter,
    kind: InstrumentKind,
    descriptor: Descriptor,
    make: impl Fn() -> A + Send + Sync + 'static,
) -> Option<Arc<Instrument<A>>> {
    let temporality = meter.temporality_of(kind);
    let instrument = Instrument::new(
        descriptor,
        template(kind, temporality),
        temporality == Temporality::Delta,
        meter.cardinality_limit(),
        make,
    );
    Some(meter.register(instrument))
}

impl<T: InstrumentValue<Sum = StripedSum<T>>> Buildable for Counter<T> {
    fn build_in(meter: &Meter, descriptor: Descriptor, _: Option<&[f64]>) -> Self {
        Counter {
            inner: make(
                meter,
                InstrumentKind::Counter,
                descriptor,
                StripedSum::default,
            ),
        }
    }
    fn noop() -> Self {
        Counter { inner: None }
    }
}

impl<T: InstrumentValue<Sum = StripedSum<T>>> Buildable for UpDownCounter<T> {
    fn build_in(meter: &Meter, descriptor: Descriptor, _: Option<&[f64]>) -> Self {
        UpDownCounter {
            inner: make(
                meter,
                InstrumentKind::UpDownCounter,
                descriptor,
                StripedSum::default,
            ),
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
            // `try_build` refused boundaries that cannot be used.
            Some(Err(_)) | None => Boundaries::default(),
        };
        Histogram {
            inner: make(meter, InstrumentKind::Histogram, descriptor, move || {
                HistogramOf::new(HistogramAgg::new(boundaries.clone()))
            }),
        }
    }
    fn noop() -> Self {
        Histogram { inner: None }
    }
}

impl<T: InstrumentValue<Gauge = LastValue<T>>> Buildable for Gauge<T> {
    fn build_in(meter: &Meter, descriptor: Descriptor, _: Option<&[f64]>) -> Self {
        Gauge {
            inner: make(meter, InstrumentKind::Gauge, descriptor, LastValue::default),
        }
    }
    fn noop() -> Self {
        Gauge { inner: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::config::{Settings, TemporalityPreference};
    use otlp_proto::common::InstrumentationScope;
    use otlp_proto::metrics::{NumberValue, ScopeMetrics};

    fn meter(temporality: TemporalityPreference) -> Meter {
        let scope = InstrumentationScope {
            name: Str::from_static("checkout"),
            ..InstrumentationScope::default()
        };
        let settings = Settings {
            temporality,
            ..Settings::default()
        };
        Meter::new(scope, Str::new(), 0, Arc::new(settings))
    }

    fn collect(m: &Meter) -> ScopeMetrics {
        ScopeMetrics {
            scope: Some(m.scope().clone()),
            metrics: m.collect(),
            schema_url: Str::new(),
        }
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
        let m = meter(TemporalityPreference::Cumulative);
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

        let scope = collect(&m);
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
        let m = meter(TemporalityPreference::Delta);
        let c = m.f64_counter("bytes").build();
        c.add(1.5, &[]);
        c.add(-4.0, &[]); // dropped: counters only go up
        let first = collect(&m);
        assert_eq!(values(&first, "bytes"), [NumberValue::AsDouble(1.5)]);
        assert!(collect(&m).metrics.is_empty(), "nothing since");
        c.add(2.0, &[]);
        let third = collect(&m);
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
        let m = meter(TemporalityPreference::Cumulative);
        let err = m.u64_counter("9 lives").try_build().unwrap_err();
        assert!(err.to_string().contains("\"9 lives\""), "{err}");
        let noop = m.u64_counter("bad name").build();
        noop.add(1, &[]);
        noop.bind(&[]).record(1);
        let bad_unit = m.u64_counter("ok").with_unit("µs").try_build();
        assert!(bad_unit.is_err());
        assert!(
            collect(&m).metrics.is_empty(),
            "nothing registered, nothing recorded"
        );
    }
}
