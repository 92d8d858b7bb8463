//! The synchronous instruments: [`Counter`], [`UpDownCounter`], [`Histogram`] and [`Gauge`],
//! recording with attributes given per call or bound once ([`Bound`]), and the
//! [`InstrumentBuilder`] that makes them.

use super::aggregate::buckets::Boundaries;
use super::aggregate::histogram::Measurement;
use super::aggregate::point::ToNumberValue;
use super::aggregate::sum::Number;
use super::instrument::Descriptor;
use super::meter::{Identity, Meter};
use super::stream::{BoundStreams, Stream, Streams};
use super::validate;
use super::view::{InstrumentKind, Stream as ViewStream};
use otlp_proto::Str;
use otlp_proto::common::KeyValue;

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
pub trait Buildable: Sized + Clone + Send + Sync + 'static {
    #[doc(hidden)]
    const KIND: InstrumentKind;
    #[doc(hidden)]
    fn build_in(meter: &Meter, streams: Vec<ViewStream>) -> Self;
}

impl<'a, I: Buildable> InstrumentBuilder<'a, I> {
    pub(crate) fn start(meter: &'a Meter, name: impl Into<Str>) -> Self {
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

    /// The instrument, or why it cannot be made as asked: its name, unit or boundaries are
    /// not allowed, or a view selecting it cannot apply to it.
    pub fn try_build(self) -> Result<I, InvalidInstrument> {
        self.make(false).map_err(|(e, _)| e)
    }

    /// The instrument. One whose name or unit is not allowed records nothing; one a view
    /// cannot apply to records into its default stream, as if no view selected it (use
    /// [`try_build`](Self::try_build) to learn why).
    pub fn build(self) -> I {
        let meter = self.meter;
        self.make(true).unwrap_or_else(|(_, fallback)| {
            fallback.unwrap_or_else(|| I::build_in(meter, Vec::new()))
        })
    }

    /// The instrument, or why not, with (if `fallback`) what `build` gives instead when a view
    /// cannot apply: the default stream, not kept as the instrument. A bad name, unit or
    /// boundaries have none (a no-op).
    fn make(self, fallback: bool) -> Result<I, (InvalidInstrument, Option<I>)> {
        let invalid = |e| (InvalidInstrument(e), None);
        let descriptor =
            Descriptor::checked(self.name, self.description, self.unit).map_err(invalid)?;
        let boundaries = match self.boundaries.as_deref().map(Boundaries::new) {
            None => None,
            Some(Ok(b)) => Some(b),
            Some(Err(e)) => {
                return Err(invalid(validate::Invalid::Boundaries(
                    descriptor.name.to_string(),
                    e.to_string(),
                )));
            }
        };
        let identity = Identity::new::<I>(I::KIND, &descriptor, self.boundaries.as_deref());
        let meter = self.meter;
        let made = meter.once(identity, || {
            meter
                .streams_for(I::KIND, &descriptor, boundaries.as_ref(), true)
                .map(|streams| I::build_in(meter, streams))
        });
        made.map_err(|e| {
            let fallback = fallback.then(|| {
                let streams = meter
                    .streams_for(I::KIND, &descriptor, boundaries.as_ref(), false)
                    .unwrap_or_default();
                I::build_in(meter, streams)
            });
            (InvalidInstrument::view(&e), fallback)
        })
    }
}

impl InvalidInstrument {
    /// A view selecting the instrument cannot apply to it.
    pub(crate) fn view(e: &super::view::ViewError) -> Self {
        InvalidInstrument(validate::Invalid::View(e.to_string()))
    }
}

/// The number types instruments record, and what each instrument accepts of them.
pub trait InstrumentValue: Number + ToNumberValue + Measurement {
    /// Whether a counter takes `v` (counters only go up: negative increments are dropped).
    #[doc(hidden)]
    fn non_negative(v: Self) -> bool;
}

impl InstrumentValue for u64 {
    #[inline]
    fn non_negative(_: u64) -> bool {
        true
    }
}

impl InstrumentValue for i64 {
    #[inline]
    fn non_negative(v: i64) -> bool {
        v >= 0
    }
}

impl InstrumentValue for f64 {
    #[inline]
    fn non_negative(v: f64) -> bool {
        v >= 0.0
    }
}

macro_rules! instrument {
    ($(#[$m:meta])* $name:ident, $kind:ident, $method:ident, $checked:literal, $verb:literal) => {
        $(#[$m])*
        pub struct $name<T: InstrumentValue> {
            streams: Streams<T>,
        }

        impl<T: InstrumentValue> Clone for $name<T> {
            fn clone(&self) -> Self {
                $name {
                    streams: self.streams.clone(),
                }
            }
        }

        impl<T: InstrumentValue> std::fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("enabled", &self.streams.is_enabled())
                    .finish()
            }
        }

        impl<T: InstrumentValue> $name<T> {
            #[doc = concat!($verb, " `value` in the series of `attributes` (in any order; of a ")]
            /// repeated key, the last value counts).
            #[inline]
            pub fn $method(&self, value: T, attributes: &[KeyValue]) {
                if !$checked || T::non_negative(value) {
                    self.streams.record(value, attributes);
                }
            }

            /// The series of `attributes`, bound: recording into it looks nothing up.
            pub fn bind(&self, attributes: &[KeyValue]) -> Bound<T> {
                Bound {
                    series: self.streams.bind(attributes),
                    checked: $checked,
                }
            }
        }

        impl<T: InstrumentValue> Buildable for $name<T> {
            const KIND: InstrumentKind = InstrumentKind::$kind;
            fn build_in(meter: &Meter, streams: Vec<ViewStream>) -> Self {
                $name {
                    streams: Streams::from_vec(
                        streams
                            .into_iter()
                            .map(|s| Stream::new(meter, InstrumentKind::$kind, s))
                            .collect(),
                    ),
                }
            }
        }
    };
}

instrument!(
    /// A sum that only goes up: requests served, bytes sent. Negative increments are dropped.
    Counter, Counter, add, true, "Adds"
);
instrument!(
    /// A sum that goes up and down: items in a queue, connections open.
    UpDownCounter, UpDownCounter, add, false, "Adds (negative to subtract)"
);
instrument!(
    /// A distribution of values: request durations, payload sizes. Negative values are
    /// dropped, as the specification asks.
    Histogram, Histogram, record, true, "Records"
);
instrument!(
    /// The current value of something sampled when it changes: a temperature, a setting.
    Gauge, Gauge, record, false, "Records"
);

/// One series of an instrument, bound by `bind`: records without looking the series up.
pub struct Bound<T: InstrumentValue> {
    series: BoundStreams<T>,
    /// Whether negative values are dropped (counters, histograms).
    checked: bool,
}

impl<T: InstrumentValue> std::fmt::Debug for Bound<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bound")
            .field("enabled", &self.series.is_enabled())
            .finish()
    }
}

impl<T: InstrumentValue> Bound<T> {
    /// Records `value` in the bound series (an add for counters, a value for histograms and
    /// gauges).
    #[inline]
    pub fn record(&self, value: T) {
        if !self.checked || T::non_negative(value) {
            self.series.record(value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TemporalityPreference;
    use crate::metrics::config::Settings;
    use otlp_proto::common::InstrumentationScope;
    use otlp_proto::metrics::{AggregationTemporality, MetricData, NumberValue, ScopeMetrics};
    use std::sync::Arc;

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
            metrics: m
                .collect()
                .into_iter()
                .map(crate::metrics::export::Collected::into_metric)
                .collect(),
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
