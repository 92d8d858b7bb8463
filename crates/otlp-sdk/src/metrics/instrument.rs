//! [`Instrument`]: an instrument's description, its series, and its collection into one OTLP
//! `Metric` per collection.

use super::aggregate::point::ToNumberValue;
use super::aggregate::point::{Aggregator, PointBase};
use super::exemplar::{ExemplarFilter, Reservoir, exemplar_value};
use super::export::{Collected, PointAttributes, attributes_key};
use super::series::{Pinned, Series, SeriesMap};
use super::view::AttributeFilter;
use otlp_proto::Str;
use otlp_proto::common::KeyValue;
use otlp_proto::metrics::{Metric, MetricData};
use std::sync::{Arc, OnceLock};

/// The description of an instrument, as its metric carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    pub(crate) name: Str,
    pub(crate) description: Str,
    pub(crate) unit: Str,
}

thread_local! {
    /// The attributes a filter kept, reused from one measurement to the next.
    static KEPT: std::cell::RefCell<Vec<KeyValue>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Calls `f` with the attributes of `attributes` that `filter` keeps.
fn filtered<R>(
    filter: &AttributeFilter,
    attributes: &[KeyValue],
    f: impl FnOnce(&[KeyValue]) -> R,
) -> R {
    let kept = |into: &mut Vec<KeyValue>| {
        into.clear();
        into.extend(
            attributes
                .iter()
                .filter(|kv| filter.keep(kv.key.as_str()))
                .cloned(),
        );
    };
    KEPT.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            kept(&mut buf);
            let r = f(&buf);
            buf.clear();
            r
        }
        Err(_) => {
            let mut own = Vec::new();
            kept(&mut own);
            f(&own)
        }
    })
}

impl Descriptor {
    /// The metric of this name, description and unit with `data`.
    pub(crate) fn metric(&self, data: MetricData) -> Metric {
        Metric {
            name: self.name.clone(),
            description: self.description.clone(),
            unit: self.unit.clone(),
            data: Some(data),
            metadata: Vec::new(),
        }
    }

    /// The description of an instrument named `name`, if its name and unit are allowed.
    pub(crate) fn checked(
        name: Str,
        description: Str,
        unit: Str,
    ) -> Result<Descriptor, super::validate::Invalid> {
        super::validate::name(&name)?;
        super::validate::unit(&unit)?;
        Ok(Descriptor {
            name,
            description,
            unit,
        })
    }
}

/// An instrument's state: its series, each aggregating with `A`.
pub(crate) struct Instrument<A: Aggregator> {
    descriptor: Descriptor,
    filter: Option<AttributeFilter>,
    /// The metric data its points go into, empty: which variant, its temporality, monotonicity.
    template: MetricData,
    delta: bool,
    series: SeriesMap<Aggregate<A>>,
    make: Box<dyn Fn() -> A + Send + Sync>,
    exemplars: Option<Arc<Exemplars>>,
}

/// A series' aggregate and its reservoir of exemplars, made by the first measurement offered
/// (a series that never sees one, most of them outside sampled spans, costs a pointer, and
/// its collection reads no more).
#[derive(Debug)]
pub(crate) struct Aggregate<A> {
    pub(crate) value: A,
    reservoir: OnceLock<Box<Reservoir>>,
}

/// Which measurements an instrument offers its series' reservoirs, and how it makes them.
struct Exemplars {
    filter: ExemplarFilter,
    reservoir: Box<dyn Fn() -> Reservoir + Send + Sync>,
}

impl Exemplars {
    /// Offers `v` to the reservoir in `cell` (made now if none yet) if the filter lets it
    /// through now.
    #[inline(never)]
    fn offer<'a, V: ToNumberValue>(
        &self,
        cell: &OnceLock<Box<Reservoir>>,
        v: V,
        dropped: impl IntoIterator<Item = &'a KeyValue>,
    ) {
        if let Some(eligible) = self.filter.eligible() {
            cell.get_or_init(|| Box::new((self.reservoir)())).offer(
                exemplar_value(v.to_number_value()),
                crate::clock::now_unix_nanos(),
                eligible.span,
                dropped,
            );
        }
    }
}

/// A series bound by [`Instrument::bind`]: its aggregate, and what its exemplars need (the
/// instrument's filter and reservoir maker, and the attributes the stream's filter dropped,
/// kept once at binding).
pub(crate) struct BoundSeries<A> {
    series: Pinned<Aggregate<A>>,
    exemplars: Option<(Arc<Exemplars>, Box<[KeyValue]>)>,
}

impl<A: Aggregator> BoundSeries<A>
where
    A::Input: ToNumberValue,
{
    #[inline]
    pub(crate) fn record(&self, v: A::Input) {
        let aggregate = &self.series.aggregator;
        aggregate.value.record(v);
        if let Some((exemplars, dropped)) = &self.exemplars
            && may_offer(exemplars.filter)
        {
            exemplars.offer(&aggregate.reservoir, v, dropped.iter());
        }
    }
}

/// Whether a measurement now might pass `filter`: the check that decides most measurements,
/// inlined. With the default trace-based filter, no context current on this thread means no
/// sampled span, and nothing to offer.
#[inline(always)]
fn may_offer(filter: ExemplarFilter) -> bool {
    !(filter == ExemplarFilter::TraceBased && crate::context::is_empty())
}

/// The exemplars of the last point of `data`.
fn last_exemplars(data: &mut MetricData) -> Option<&mut Vec<otlp_proto::metrics::Exemplar>> {
    match data {
        MetricData::Sum(d) => d.data_points.last_mut().map(|p| &mut p.exemplars),
        MetricData::Gauge(d) => d.data_points.last_mut().map(|p| &mut p.exemplars),
        MetricData::Histogram(d) => d.data_points.last_mut().map(|p| &mut p.exemplars),
        MetricData::ExponentialHistogram(d) => d.data_points.last_mut().map(|p| &mut p.exemplars),
        MetricData::Summary(_) => None,
    }
}

fn point_count(data: &MetricData) -> usize {
    match data {
        MetricData::Sum(d) => d.data_points.len(),
        MetricData::Gauge(d) => d.data_points.len(),
        MetricData::Histogram(d) => d.data_points.len(),
        MetricData::ExponentialHistogram(d) => d.data_points.len(),
        MetricData::Summary(d) => d.data_points.len(),
    }
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
            filter: None,
            template,
            delta,
            series: if delta {
                SeriesMap::new_delta(cardinality_limit)
            } else {
                SeriesMap::new(cardinality_limit)
            },
            make: Box::new(make),
            exemplars: None,
        }
    }

    /// Offers measurements `filter` lets through to a reservoir per series, made by
    /// `reservoir` (none with [`ExemplarFilter::AlwaysOff`]).
    pub(crate) fn with_exemplars(
        mut self,
        filter: ExemplarFilter,
        reservoir: impl Fn() -> Reservoir + Send + Sync + 'static,
    ) -> Self {
        self.exemplars = (filter != ExemplarFilter::AlwaysOff).then(|| {
            Arc::new(Exemplars {
                filter,
                reservoir: Box::new(reservoir),
            })
        });
        self
    }

    /// A new series' aggregate.
    fn aggregate(&self) -> Aggregate<A> {
        Aggregate {
            value: (self.make)(),
            reservoir: OnceLock::new(),
        }
    }

    /// Keeps only the attributes `filter` keeps (`None`: all).
    pub(crate) fn with_filter(mut self, filter: Option<AttributeFilter>) -> Self {
        self.filter = filter;
        self
    }

    /// Whether its points cover the interval since the previous collection.
    pub(crate) fn is_delta(&self) -> bool {
        self.delta
    }

    /// Records `v` in the series of `attributes`.
    #[inline]
    pub(crate) fn record(&self, v: A::Input, attributes: &[KeyValue])
    where
        A::Input: ToNumberValue,
    {
        let make = || self.aggregate();
        let record = |series: &Series<Aggregate<A>>| {
            series.aggregator.value.record(v);
            // The instrument's filter first: the series' reservoir is touched only for a
            // measurement that may become an exemplar.
            if let Some(e) = &self.exemplars
                && may_offer(e.filter)
            {
                let reservoir = &series.aggregator.reservoir;
                match &self.filter {
                    None => e.offer(reservoir, v, []),
                    Some(f) => e.offer(reservoir, v, f.dropped(attributes)),
                }
            }
        };
        match &self.filter {
            None => self.series.with(attributes, make, record),
            Some(filter) => filtered(filter, attributes, |kept| {
                self.series.with(kept, make, record)
            }),
        }
    }

    /// The series of `attributes`, to record into without looking it up again (kept while the
    /// handle lives: a delta instrument does not forget it).
    pub(crate) fn bind(&self, attributes: &[KeyValue]) -> BoundSeries<A> {
        let make = || self.aggregate();
        let series = match &self.filter {
            None => self.series.pin(attributes, make),
            Some(filter) => filtered(filter, attributes, |kept| self.series.pin(kept, make)),
        };
        let exemplars = self.exemplars.as_ref().map(|e| {
            let dropped: Box<[KeyValue]> = match &self.filter {
                None => Box::default(),
                Some(f) => f.dropped(attributes).cloned().collect(),
            };
            (e.clone(), dropped)
        });
        BoundSeries { series, exemplars }
    }

    /// The metric of every series' point at `now` (points of cumulative series start at
    /// `start`, those of delta series at the previous collection, which the caller passes as
    /// `start`); `None` when no series has a point to report.
    pub(crate) fn collect(&self, start: u64, now: u64) -> Option<Collected> {
        let mut data = self.template.clone();
        let field_key = attributes_key(&data);
        let mut attributes = PointAttributes::default();
        let base = PointBase {
            start_time_unix_nano: start,
            time_unix_nano: now,
        };
        // Says whether the series had a point: under delta, series without are forgotten.
        let mut collect = |key: &[u8], aggregate: &Aggregate<A>| {
            let before = point_count(&data);
            aggregate.value.collect(self.delta, base, &mut data);
            let had_point = point_count(&data) > before;
            if had_point {
                attributes.push(key, field_key);
                if let Some(reservoir) = aggregate.reservoir.get()
                    && let Some(exemplars) = last_exemplars(&mut data)
                {
                    reservoir.collect(exemplars);
                }
            }
            had_point
        };
        // The series' cells, fetched ahead.
        let touch = |aggregate: &Aggregate<A>| aggregate.value.touch();
        if self.delta {
            self.series.for_each_delta(touch, collect);
        } else {
            self.series.for_each_ahead(touch, |key, aggregate| {
                collect(key, aggregate);
            });
        }
        (point_count(&data) > 0).then(|| Collected {
            metric: self.descriptor.metric(data),
            attributes,
        })
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
        c.bind(&put).record(5);
        let metric = c
            .collect(100, 200)
            .map(crate::metrics::export::Collected::into_metric)
            .expect("points");
        assert_eq!(metric.name, "requests");
        assert_eq!(metric.unit, "{request}");
        assert_eq!(
            sums(&metric),
            [
                (get.to_vec(), NumberValue::AsInt(5), 100, 200),
                (put.to_vec(), NumberValue::AsInt(5), 100, 200),
            ]
        );
        let again = c
            .collect(100, 300)
            .map(crate::metrics::export::Collected::into_metric)
            .expect("points");
        assert_eq!(sums(&again)[0].1, NumberValue::AsInt(5), "cumulative keeps");
    }

    #[test]
    fn a_delta_counter_reports_what_came_since_the_last_collection() {
        let c = counter(true);
        let attrs = [KeyValue::new("route", "/a")];
        c.record(4, &attrs);
        assert_eq!(
            sums(
                &c.collect(100, 200)
                    .map(crate::metrics::export::Collected::into_metric)
                    .expect("points")
            )[0]
            .1,
            NumberValue::AsInt(4)
        );
        assert!(
            c.collect(200, 300)
                .map(crate::metrics::export::Collected::into_metric)
                .is_none(),
            "nothing since"
        );
        c.record(1, &attrs);
        let next = c
            .collect(300, 400)
            .map(crate::metrics::export::Collected::into_metric)
            .expect("points");
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
            HistogramOf::<f64>::new(
                Histogram::new(Boundaries::default()),
                crate::metrics::aggregate::point::Report::ALL,
            )
        });
        for v in [1.0, 7.0, 7.5, 20000.0] {
            h.record(v, &[]);
        }
        let metric = h
            .collect(0, 1)
            .map(crate::metrics::export::Collected::into_metric)
            .expect("points");
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

    #[test]
    fn a_filter_keeps_only_its_keys_and_merges_what_it_drops() {
        let c =
            counter(false).with_filter(Some(AttributeFilter::Only(vec!["method".into()].into())));
        let get = KeyValue::new("method", "GET");
        c.record(1, &[get.clone(), KeyValue::new("user", "a")]);
        c.record(2, &[KeyValue::new("user", "b"), get.clone()]);
        c.bind(&[get.clone(), KeyValue::new("user", "c")]).record(4);
        let metric = c
            .collect(0, 1)
            .map(crate::metrics::export::Collected::into_metric)
            .expect("points");
        assert_eq!(sums(&metric), [(vec![get], NumberValue::AsInt(7), 0, 1)]);
    }
}
