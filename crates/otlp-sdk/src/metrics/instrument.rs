//! [`Instrument`]: an instrument's description, its series, and its collection into one OTLP
//! `Metric` per collection.

use super::aggregate::point::{Aggregator, PointBase};
use super::series::{Pinned, SeriesMap};
use otlp_proto::Str;
use otlp_proto::common::KeyValue;
use otlp_proto::metrics::{Metric, MetricData};

/// The description of an instrument, as its metric carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    pub(crate) name: Str,
    pub(crate) description: Str,
    pub(crate) unit: Str,
}

/// An instrument's state: its series, each aggregating with `A`.
pub(crate) struct Instrument<A: Aggregator> {
    descriptor: Descriptor,
    /// The metric data its points go into, empty: which variant, its temporality, monotonicity.
    template: MetricData,
    delta: bool,
    series: SeriesMap<A>,
    make: Box<dyn Fn() -> A + Send + Sync>,
}

impl<A: Aggregator> Instrument<A> {
    /// An instrument collecting into `template`'s kind of data (delta if `delta`), its series
    /// made by `make`, at most `cardinality_limit` of them besides the overflow series.
    pub(crate) fn new(
        descriptor: Descriptor,
        template: MetricData,
        delta: bool,
        cardinality_limit: Option<usize>,
        make: impl Fn() -> A + Send + Sync + 'static,
    ) -> Self {
        Instrument {
            descriptor,
            template,
            delta,
            series: if delta {
                SeriesMap::new_delta(cardinality_limit)
            } else {
                SeriesMap::new(cardinality_limit)
            },
            make: Box::new(make),
        }
    }

    /// Records `v` in the series of `attributes`.
    #[inline]
    pub(crate) fn record(&self, v: A::Input, attributes: &[KeyValue]) {
        self.series.with(attributes, &*self.make, |series| {
            series.aggregator.record(v)
        });
    }

    /// The series of `attributes`, to record into without looking it up again (kept while the
    /// handle lives).
    pub(crate) fn bind(&self, attributes: &[KeyValue]) -> Pinned<A> {
        self.series.pin(attributes, &*self.make)
    }

    /// The metric of every series' point at `now` (points of cumulative series start at
    /// `start`, those of delta series at the previous collection, which the caller passes as
    /// `start`); `None` when no series has a point to report.
    pub(crate) fn collect(&self, start: u64, now: u64) -> Option<Metric> {
        let mut data = self.template.clone();
        // Says whether the series had a point: under delta, series without are forgotten.
        let mut collect = |attributes: &[KeyValue], aggregator: &A| {
            let base = PointBase {
                attributes,
                start_time_unix_nano: start,
                time_unix_nano: now,
            };
            let before = points(&data);
            aggregator.collect(self.delta, base, &mut data);
            points(&data) > before
        };
        if self.delta {
            self.series.for_each_delta(collect);
        } else {
            self.series.for_each(|attributes, aggregator| {
                collect(attributes, aggregator);
            });
        }
        (points(&data) > 0).then(|| Metric {
            name: self.descriptor.name.clone(),
            description: self.descriptor.description.clone(),
            unit: self.descriptor.unit.clone(),
            data: Some(data),
            metadata: Vec::new(),
        })
    }
}

/// How many points `data` holds.
fn points(data: &MetricData) -> usize {
    match data {
        MetricData::Sum(d) => d.data_points.len(),
        MetricData::Gauge(d) => d.data_points.len(),
        MetricData::Histogram(d) => d.data_points.len(),
        MetricData::ExponentialHistogram(d) => d.data_points.len(),
        MetricData::Summary(d) => d.data_points.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::aggregate::buckets::Boundaries;
    use crate::metrics::aggregate::histogram::Histogram;
    use crate::metrics::aggregate::point::HistogramOf;
    use crate::metrics::aggregate::sum::StripedSum;
    use otlp_proto::metrics::{AggregationTemporality, NumberValue, Sum};

    fn descriptor(name: &'static str) -> Descriptor {
        Descriptor {
            name: Str::from_static(name),
            description: Str::from_static("what it counts"),
            unit: Str::from_static("{request}"),
        }
    }

    fn counter(delta: bool) -> Instrument<StripedSum<u64>> {
        let temporality = if delta {
            AggregationTemporality::Delta
        } else {
            AggregationTemporality::Cumulative
        };
        let template = MetricData::Sum(Sum {
            data_points: Vec::new(),
            aggregation_temporality: temporality as i32,
            is_monotonic: true,
        });
        Instrument::new(
            descriptor("requests"),
            template,
            delta,
            None,
            StripedSum::default,
        )
    }

    fn sums(metric: &Metric) -> Vec<(Vec<KeyValue>, NumberValue, u64, u64)> {
        let Some(MetricData::Sum(sum)) = &metric.data else {
            panic!("not a sum: {metric:?}");
        };
        let mut points: Vec<_> = sum
            .data_points
            .iter()
            .map(|p| {
                let value = p.value.clone().expect("a value");
                (
                    p.attributes.clone(),
                    value,
                    p.start_time_unix_nano,
                    p.time_unix_nano,
                )
            })
            .collect();
        points.sort_by(|a, b| format!("{:?}", a.0).cmp(&format!("{:?}", b.0)));
        points
    }

    #[test]
    fn a_cumulative_counter_reports_every_series_every_time() {
        let c = counter(false);
        let get = [KeyValue::new("method", "GET")];
        let put = [KeyValue::new("method", "PUT")];
        c.record(2, &get);
        c.record(3, &get);
        c.bind(&put).aggregator.record(5);
        let metric = c.collect(100, 200).expect("points");
        assert_eq!(metric.name, "requests");
        assert_eq!(metric.unit, "{request}");
        assert_eq!(
            sums(&metric),
            [
                (get.to_vec(), NumberValue::AsInt(5), 100, 200),
                (put.to_vec(), NumberValue::AsInt(5), 100, 200),
            ]
        );
        let again = c.collect(100, 300).expect("points");
        assert_eq!(sums(&again)[0].1, NumberValue::AsInt(5), "cumulative keeps");
    }

    #[test]
    fn a_delta_counter_reports_what_came_since_the_last_collection() {
        let c = counter(true);
        let attrs = [KeyValue::new("route", "/a")];
        c.record(4, &attrs);
        assert_eq!(
            sums(&c.collect(100, 200).expect("points"))[0].1,
            NumberValue::AsInt(4)
        );
        assert!(c.collect(200, 300).is_none(), "nothing since");
        c.record(1, &attrs);
        let next = c.collect(300, 400).expect("points");
        assert_eq!(
            sums(&next),
            [(attrs.to_vec(), NumberValue::AsInt(1), 300, 400)]
        );
    }

    #[test]
    fn a_histogram_reports_its_buckets() {
        let template = MetricData::Histogram(otlp_proto::metrics::Histogram {
            data_points: Vec::new(),
            aggregation_temporality: AggregationTemporality::Cumulative as i32,
        });
        let h = Instrument::new(descriptor("latency"), template, false, None, || {
            HistogramOf::<f64>::new(Histogram::new(Boundaries::default()))
        });
        for v in [1.0, 7.0, 7.5, 20000.0] {
            h.record(v, &[]);
        }
        let metric = h.collect(0, 1).expect("points");
        let Some(MetricData::Histogram(histogram)) = metric.data else {
            panic!("not a histogram");
        };
        let point = &histogram.data_points[0];
        assert_eq!(point.count, 4);
        assert_eq!(point.sum, Some(20015.5));
        assert_eq!((point.min, point.max), (Some(1.0), Some(20000.0)));
        assert_eq!(&point.bucket_counts[..3], [0, 1, 2]);
        assert_eq!(point.bucket_counts[15], 1);
    }
}
