//! [`Aggregator`]: one trait over the aggregations, so an instrument records into any of them and
//! collects each series as a data point of its metric.

use super::exponential::ExponentialHistogram;
use super::histogram::{Histogram, Measurement};
use super::last_value::LastValue;
use super::sum::{Number, StripedSum};
use otlp_proto::metrics::{
    ExponentialHistogramDataPoint, HistogramDataPoint, MetricData, NumberDataPoint, NumberValue,
};

/// A number as OTLP carries it: integers as `asInt` (an unsigned one past `i64::MAX` saturates),
/// floats as `asDouble`.
pub trait ToNumberValue: Copy {
    /// The OTLP value.
    fn to_number_value(self) -> NumberValue;
}

impl ToNumberValue for u64 {
    fn to_number_value(self) -> NumberValue {
        NumberValue::AsInt(i64::try_from(self).unwrap_or(i64::MAX))
    }
}

impl ToNumberValue for i64 {
    fn to_number_value(self) -> NumberValue {
        NumberValue::AsInt(self)
    }
}

impl ToNumberValue for f64 {
    fn to_number_value(self) -> NumberValue {
        NumberValue::AsDouble(self)
    }
}

/// What a series' point carries besides its aggregate and its attributes (which the
/// collection keeps apart: `metrics::export::PointAttributes`).
#[derive(Debug, Clone, Copy)]
pub struct PointBase {
    pub(crate) start_time_unix_nano: u64,
    pub(crate) time_unix_nano: u64,
}

/// One series' aggregation.
pub trait Aggregator: Send + Sync + 'static {
    /// What a measurement is.
    type Input: Copy;
    /// Records a measurement.
    fn record(&self, v: Self::Input);
    /// Loads the cells a collection reads, so that they are on their way before it needs them
    /// (see `SeriesMap::for_each_ahead`).
    #[inline]
    fn touch(&self) {}
    /// Adds this series' point to `data` (a variant made for this aggregation): everything so
    /// far, or, with `delta`, what came since the last delta collection (then nothing if the
    /// series saw nothing).
    fn collect(&self, delta: bool, base: PointBase, data: &mut MetricData);
}

fn number_point(base: PointBase, value: NumberValue) -> NumberDataPoint {
    NumberDataPoint {
        start_time_unix_nano: base.start_time_unix_nano,
        time_unix_nano: base.time_unix_nano,
        value: Some(value),
        ..NumberDataPoint::default()
    }
}

impl<N: Number + ToNumberValue> Aggregator for StripedSum<N> {
    type Input = N;
    #[inline]
    fn record(&self, v: N) {
        self.add(v);
    }
    #[inline]
    fn touch(&self) {
        StripedSum::touch(self);
    }
    fn collect(&self, delta: bool, base: PointBase, data: &mut MetricData) {
        let value = if delta { self.take() } else { self.value() };
        // A delta of zero: nothing was added (or it cancelled out), nothing to report.
        if delta && value == N::default() {
            return;
        }
        if let MetricData::Sum(sum) = data {
            sum.data_points
                .push(number_point(base, value.to_number_value()));
        }
    }
}

impl<N: Number + ToNumberValue> Aggregator for LastValue<N> {
    type Input = N;
    #[inline]
    fn record(&self, v: N) {
        LastValue::record(self, v);
    }
    fn collect(&self, delta: bool, base: PointBase, data: &mut MetricData) {
        let value = if delta { self.take() } else { self.value() };
        if let (Some(value), MetricData::Gauge(gauge)) = (value, data) {
            gauge
                .data_points
                .push(number_point(base, value.to_number_value()));
        }
    }
}

/// What a histogram's points carry besides their buckets (a view may leave min and max out;
/// the sum is left out for instruments whose values may be negative).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    pub(crate) min_max: bool,
    pub(crate) sum: bool,
}

impl Report {
    /// Everything.
    #[cfg(test)]
    pub(crate) const ALL: Report = Report {
        min_max: true,
        sum: true,
    };
}

/// An explicit-bucket histogram of `M` measurements.
#[derive(Debug)]
pub struct HistogramOf<M>(pub(crate) Histogram, Report, std::marker::PhantomData<M>);

impl<M> HistogramOf<M> {
    pub(crate) fn new(histogram: Histogram, report: Report) -> Self {
        HistogramOf(histogram, report, std::marker::PhantomData)
    }
}

/// A base-2 exponential histogram of `M` measurements.
#[derive(Debug)]
pub struct ExponentialOf<M>(ExponentialHistogram, Report, std::marker::PhantomData<M>);

impl<M> ExponentialOf<M> {
    pub(crate) fn new(histogram: ExponentialHistogram, report: Report) -> Self {
        ExponentialOf(histogram, report, std::marker::PhantomData)
    }
}

impl<M: Measurement> Aggregator for ExponentialOf<M> {
    type Input = M;
    #[inline]
    fn record(&self, v: M) {
        self.0.record(v.as_f64());
    }
    fn collect(&self, delta: bool, base: PointBase, data: &mut MetricData) {
        let before = match data {
            MetricData::ExponentialHistogram(h) => h.data_points.len(),
            _ => return,
        };
        self.0.collect(delta, base, data);
        if let MetricData::ExponentialHistogram(h) = data
            && let Some(point) = h.data_points.get_mut(before)
        {
            if !self.1.min_max {
                point.min = None;
                point.max = None;
            }
            if !self.1.sum {
                point.sum = None;
            }
        }
    }
}

impl<M: Measurement> Aggregator for HistogramOf<M> {
    type Input = M;
    #[inline]
    fn record(&self, v: M) {
        self.0.record(v);
    }
    #[inline]
    fn touch(&self) {
        self.0.touch();
    }
    fn collect(&self, delta: bool, base: PointBase, data: &mut MetricData) {
        let MetricData::Histogram(histogram) = data else {
            return;
        };
        let mut point = HistogramDataPoint {
            start_time_unix_nano: base.start_time_unix_nano,
            time_unix_nano: base.time_unix_nano,
            ..HistogramDataPoint::default()
        };
        if delta {
            self.0.take_into(&mut point);
        } else {
            self.0.read_into(&mut point);
        }
        // A delta point of count 0 may still carry a sum that raced the last take: keep it.
        let empty = point.count == 0 && point.sum.is_none_or(|s| s == 0.0);
        if !self.1.min_max {
            point.min = None;
            point.max = None;
        }
        if !self.1.sum {
            point.sum = None;
        }
        if !(delta && empty) {
            histogram.data_points.push(point);
        }
    }
}

impl Aggregator for ExponentialHistogram {
    type Input = f64;
    #[inline]
    fn record(&self, v: f64) {
        ExponentialHistogram::record(self, v);
    }
    fn collect(&self, delta: bool, base: PointBase, data: &mut MetricData) {
        let MetricData::ExponentialHistogram(histogram) = data else {
            return;
        };
        let mut point = ExponentialHistogramDataPoint {
            start_time_unix_nano: base.start_time_unix_nano,
            time_unix_nano: base.time_unix_nano,
            ..ExponentialHistogramDataPoint::default()
        };
        if delta {
            self.take(&mut point);
        } else {
            self.read(&mut point);
        }
        if !(delta && point.count == 0) {
            histogram.data_points.push(point);
        }
    }
}
