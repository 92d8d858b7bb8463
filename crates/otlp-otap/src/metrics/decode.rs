//! Metrics tables back to an `ExportMetricsServiceRequest`.

use super::lists::{items, primitives};
use super::tables::{ExemplarParents, metric_type};
use crate::attrs::{self, ids};
use crate::children::ByParent;
use crate::coder::Tables;
use crate::columns::{Column, Columns, column, present, read, required, struct_column};
use crate::root::{Grouping, Start};
use crate::{ArrowPayloadType as T, Error, Result};
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float64Type, Int32Type, Int64Type, TimestampNanosecondType, UInt8Type, UInt32Type, UInt64Type,
};
use arrow_array::{
    Array, BooleanArray, FixedSizeBinaryArray, ListArray, PrimitiveArray, RecordBatch, StringArray,
    StructArray,
};
use bytes::Bytes;
use otlp_proto::Str;
use otlp_proto::collector::ExportMetricsServiceRequest;
use otlp_proto::common::KeyValue;
use otlp_proto::metrics::{
    Buckets, Exemplar, ExemplarValue, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge,
    Histogram, HistogramDataPoint, Metric, MetricData, NumberDataPoint, NumberValue,
    ResourceMetrics, ScopeMetrics, Sum, Summary, SummaryDataPoint, ValueAtQuantile,
};

type Times<'a> = Option<Column<'a, PrimitiveArray<TimestampNanosecondType>>>;
type F64s<'a> = Option<Column<'a, PrimitiveArray<Float64Type>>>;
type U64s<'a> = Option<Column<'a, PrimitiveArray<UInt64Type>>>;

/// Row `i` of an optional nullable double column: `None` where null or absent.
fn opt_f64(col: &F64s<'_>, i: usize) -> Option<f64> {
    present(col, i).then(|| read(col, i))
}

/// The exemplars of an exemplar table, by the id of the point they belong to.
fn exemplars(tables: &Tables, kind: T, attrs_kind: T) -> Result<ByParent<Exemplar>> {
    let mut attrs = attrs::decode_in(tables, attrs_kind)?;
    let Some(b) = tables.others.get(&kind) else {
        return Ok(ByParent::default());
    };
    let cols: &dyn Columns = b;
    let own = ids(cols, kind, "id")?.map(|ids| ids.undelta());
    let parents = attrs::parent_ids(cols, kind)?;
    let times: Times<'_> = column(cols, kind, "time_unix_nano")?;
    let ints = column::<PrimitiveArray<Int64Type>>(cols, kind, "int_value")?;
    let doubles: F64s<'_> = column(cols, kind, "double_value")?;
    let span_ids = column::<FixedSizeBinaryArray>(cols, kind, "span_id")?;
    let trace_ids = column::<FixedSizeBinaryArray>(cols, kind, "trace_id")?;
    let mut out = ByParent::for_rows(b.num_rows());
    let mut encoding = ExemplarParents::default();
    for i in 0..b.num_rows() {
        // As the Go decoder reads it: an int value wins over a double one.
        let value = if present(&ints, i) {
            Some(ExemplarValue::AsInt(read(&ints, i)))
        } else {
            opt_f64(&doubles, i).map(ExemplarValue::AsDouble)
        };
        let stored = parents.values.get(i).copied().flatten().unwrap_or(0);
        let parent = encoding.decode(stored, value.clone());
        let own_id = own.as_ref().and_then(|o| o.get(i).copied().flatten());
        out.push(
            parent,
            Exemplar {
                time_unix_nano: read(&times, i) as u64,
                value,
                span_id: Bytes::copy_from_slice(read(&span_ids, i)),
                trace_id: Bytes::copy_from_slice(read(&trace_ids, i)),
                filtered_attributes: attrs.take(own_id),
            },
        );
    }
    Ok(out)
}

/// What every data point has, read from its table's row.
struct Common {
    start: u64,
    time: u64,
    attributes: Vec<KeyValue>,
    exemplars: Vec<Exemplar>,
}

/// The points of a data-point table, by the id of the metric they belong to. `make` builds
/// row `i`'s point from the table and what every point has.
fn points<P>(
    tables: &Tables,
    kind: T,
    attrs_kind: T,
    exemplars_kinds: Option<(T, T)>,
    mut make: impl FnMut(usize, Common) -> Result<P>,
) -> Result<ByParent<P>> {
    let mut attrs = attrs::decode_in(tables, attrs_kind)?;
    let mut exemplars = match exemplars_kinds {
        Some((k, a)) => exemplars(tables, k, a)?,
        None => ByParent::default(),
    };
    let Some(b) = tables.others.get(&kind) else {
        return Ok(ByParent::default());
    };
    let cols: &dyn Columns = b;
    let own = ids(cols, kind, "id")?.map(|ids| ids.undelta());
    let parents = attrs::parent_ids(cols, kind)?.undelta();
    let start: Times<'_> = column(cols, kind, "start_time_unix_nano")?;
    let time: Times<'_> = column(cols, kind, "time_unix_nano")?;
    let mut out = ByParent::for_rows(b.num_rows());
    for (i, parent) in parents.into_iter().enumerate() {
        let parent = parent.ok_or_else(|| Error::Value {
            table: kind,
            problem: format!("row {i} has no parent_id"),
        })?;
        let own_id = own.as_ref().and_then(|o| o.get(i).copied().flatten());
        let common = Common {
            start: read(&start, i) as u64,
            time: read(&time, i) as u64,
            attributes: attrs.take(own_id),
            exemplars: exemplars.take(own_id),
        };
        out.push(parent, make(i, common)?);
    }
    Ok(out)
}

fn number_points(tables: &Tables) -> Result<ByParent<NumberDataPoint>> {
    let k = T::NumberDataPoints;
    let Some(b) = tables.others.get(&k) else {
        return Ok(ByParent::default());
    };
    let ints = column::<PrimitiveArray<Int64Type>>(b, k, "int_value")?;
    let doubles: F64s<'_> = column(b, k, "double_value")?;
    let flags = column::<PrimitiveArray<UInt32Type>>(b, k, "flags")?;
    points(
        tables,
        k,
        T::NumberDpAttrs,
        Some((T::NumberDpExemplars, T::NumberDpExemplarAttrs)),
        |i, c| {
            let value = if present(&ints, i) {
                Some(NumberValue::AsInt(read(&ints, i)))
            } else {
                opt_f64(&doubles, i).map(NumberValue::AsDouble)
            };
            Ok(NumberDataPoint {
                start_time_unix_nano: c.start,
                time_unix_nano: c.time,
                value,
                exemplars: c.exemplars,
                attributes: c.attributes,
                flags: read(&flags, i),
            })
        },
    )
}

fn histogram_points(tables: &Tables) -> Result<ByParent<HistogramDataPoint>> {
    let k = T::HistogramDataPoints;
    let Some(b) = tables.others.get(&k) else {
        return Ok(ByParent::default());
    };
    let count: U64s<'_> = column(b, k, "count")?;
    let sum: F64s<'_> = column(b, k, "sum")?;
    let bucket_counts = column::<ListArray>(b, k, "bucket_counts")?;
    let bounds = column::<ListArray>(b, k, "explicit_bounds")?;
    let flags = column::<PrimitiveArray<UInt32Type>>(b, k, "flags")?;
    let min: F64s<'_> = column(b, k, "min")?;
    let max: F64s<'_> = column(b, k, "max")?;
    points(
        tables,
        k,
        T::HistogramDpAttrs,
        Some((T::HistogramDpExemplars, T::HistogramDpExemplarAttrs)),
        |i, c| {
            Ok(HistogramDataPoint {
                start_time_unix_nano: c.start,
                time_unix_nano: c.time,
                count: read(&count, i),
                sum: opt_f64(&sum, i),
                bucket_counts: primitives::<UInt64Type>(&bucket_counts, i, k, "bucket_counts")?,
                explicit_bounds: primitives::<Float64Type>(&bounds, i, k, "explicit_bounds")?,
                exemplars: c.exemplars,
                attributes: c.attributes,
                flags: read(&flags, i),
                min: opt_f64(&min, i),
                max: opt_f64(&max, i),
            })
        },
    )
}

/// The `positive` or `negative` buckets of an exponential histogram table.
struct BucketsColumn<'a> {
    s: &'a StructArray,
    offset: Option<Column<'a, PrimitiveArray<Int32Type>>>,
    counts: Option<Column<'a, ListArray>>,
}

impl<'a> BucketsColumn<'a> {
    fn new(b: &'a RecordBatch, name: &'static str) -> Result<Option<Self>> {
        let k = T::ExpHistogramDataPoints;
        let Some(s) = struct_column(b, k, name)? else {
            return Ok(None);
        };
        Ok(Some(BucketsColumn {
            s,
            offset: column(s, k, "offset")?,
            counts: column(s, k, "bucket_counts")?,
        }))
    }

    fn at(this: &Option<Self>, i: usize) -> Result<Option<Buckets>> {
        let Some(c) = this.as_ref().filter(|c| c.s.is_valid(i)) else {
            return Ok(None);
        };
        let buckets = Buckets {
            offset: read(&c.offset, i),
            bucket_counts: primitives::<UInt64Type>(
                &c.counts,
                i,
                T::ExpHistogramDataPoints,
                "bucket_counts",
            )?,
        };
        // Empty buckets and none are the same (pmetric always has them).
        Ok((buckets != Buckets::default()).then_some(buckets))
    }
}

fn exp_histogram_points(tables: &Tables) -> Result<ByParent<ExponentialHistogramDataPoint>> {
    let k = T::ExpHistogramDataPoints;
    let Some(b) = tables.others.get(&k) else {
        return Ok(ByParent::default());
    };
    let count: U64s<'_> = column(b, k, "count")?;
    let sum: F64s<'_> = column(b, k, "sum")?;
    let scale = column::<PrimitiveArray<Int32Type>>(b, k, "scale")?;
    let zero_count: U64s<'_> = column(b, k, "zero_count")?;
    let positive = BucketsColumn::new(b, "positive")?;
    let negative = BucketsColumn::new(b, "negative")?;
    let flags = column::<PrimitiveArray<UInt32Type>>(b, k, "flags")?;
    let min: F64s<'_> = column(b, k, "min")?;
    let max: F64s<'_> = column(b, k, "max")?;
    let zero_threshold: F64s<'_> = column(b, k, "zero_threshold")?;
    points(
        tables,
        k,
        T::ExpHistogramDpAttrs,
        Some((T::ExpHistogramDpExemplars, T::ExpHistogramDpExemplarAttrs)),
        |i, c| {
            Ok(ExponentialHistogramDataPoint {
                attributes: c.attributes,
                start_time_unix_nano: c.start,
                time_unix_nano: c.time,
                count: read(&count, i),
                sum: opt_f64(&sum, i),
                scale: read(&scale, i),
                zero_count: read(&zero_count, i),
                positive: BucketsColumn::at(&positive, i)?,
                negative: BucketsColumn::at(&negative, i)?,
                flags: read(&flags, i),
                exemplars: c.exemplars,
                min: opt_f64(&min, i),
                max: opt_f64(&max, i),
                zero_threshold: read(&zero_threshold, i),
            })
        },
    )
}

fn summary_points(tables: &Tables) -> Result<ByParent<SummaryDataPoint>> {
    let k = T::SummaryDataPoints;
    let Some(b) = tables.others.get(&k) else {
        return Ok(ByParent::default());
    };
    let count: U64s<'_> = column(b, k, "count")?;
    let sum: F64s<'_> = column(b, k, "sum")?;
    let quantiles = column::<ListArray>(b, k, "quantile")?;
    let flags = column::<PrimitiveArray<UInt32Type>>(b, k, "flags")?;
    points(tables, k, T::SummaryDpAttrs, None, |i, c| {
        let mut quantile_values = Vec::new();
        if let Some(row) = items(&quantiles, i) {
            let s = row.as_struct_opt().ok_or_else(|| Error::Column {
                table: k,
                column: "quantile",
                problem: format!("expected a list of structs, found {}", row.data_type()),
            })?;
            let q: F64s<'_> = column(s, k, "quantile")?;
            let v: F64s<'_> = column(s, k, "value")?;
            quantile_values = (0..s.len())
                .map(|j| ValueAtQuantile {
                    quantile: read(&q, j),
                    value: read(&v, j),
                })
                .collect();
        }
        Ok(SummaryDataPoint {
            start_time_unix_nano: c.start,
            time_unix_nano: c.time,
            count: read(&count, i),
            sum: read(&sum, i),
            quantile_values,
            attributes: c.attributes,
            flags: read(&flags, i),
        })
    })
}

/// Decodes a metrics batch's tables.
pub(crate) fn decode(tables: &Tables) -> Result<ExportMetricsServiceRequest> {
    let mut number = number_points(tables)?;
    let mut histogram = histogram_points(tables)?;
    let mut exp_histogram = exp_histogram_points(tables)?;
    let mut summary = summary_points(tables)?;
    let b: &dyn Columns = &tables.root;
    let k = T::UnivariateMetrics;
    let mut grouping = Grouping::new(
        b,
        k,
        attrs::decode_in(tables, T::ResourceAttrs)?,
        attrs::decode_in(tables, T::ScopeAttrs)?,
    )?;
    let types = Some(required::<PrimitiveArray<UInt8Type>>(b, k, "metric_type")?);
    let names = column::<StringArray>(b, k, "name")?;
    let descriptions = column::<StringArray>(b, k, "description")?;
    let units = column::<StringArray>(b, k, "unit")?;
    let temporality = column::<PrimitiveArray<Int32Type>>(b, k, "aggregation_temporality")?;
    let monotonic = column::<BooleanArray>(b, k, "is_monotonic")?;

    let mut out = ExportMetricsServiceRequest::default();
    for i in 0..tables.root.num_rows() {
        for start in grouping.starts(i) {
            match start {
                Start::Resource(resource, schema_url) => {
                    out.resource_metrics.push(ResourceMetrics {
                        resource,
                        scope_metrics: Vec::new(),
                        schema_url,
                    })
                }
                Start::Scope(scope, schema_url) => out
                    .resource_metrics
                    .last_mut()
                    .ok_or_else(|| grouping.orphan())?
                    .scope_metrics
                    .push(ScopeMetrics {
                        scope,
                        metrics: Vec::new(),
                        schema_url,
                    }),
            }
        }
        let own = grouping.id(i);
        let aggregation_temporality = read(&temporality, i);
        let data = match read(&types, i) {
            metric_type::EMPTY => None,
            metric_type::GAUGE => Some(MetricData::Gauge(Gauge {
                data_points: number.take(own),
            })),
            metric_type::SUM => Some(MetricData::Sum(Sum {
                data_points: number.take(own),
                aggregation_temporality,
                is_monotonic: read(&monotonic, i),
            })),
            metric_type::HISTOGRAM => Some(MetricData::Histogram(Histogram {
                data_points: histogram.take(own),
                aggregation_temporality,
            })),
            metric_type::EXP_HISTOGRAM => {
                Some(MetricData::ExponentialHistogram(ExponentialHistogram {
                    data_points: exp_histogram.take(own),
                    aggregation_temporality,
                }))
            }
            metric_type::SUMMARY => Some(MetricData::Summary(Summary {
                data_points: summary.take(own),
            })),
            other => {
                return Err(Error::Value {
                    table: k,
                    problem: format!("row {i}: unknown metric_type {other}"),
                });
            }
        };
        let metric = Metric {
            name: Str::copy_from(read(&names, i)),
            description: Str::copy_from(read(&descriptions, i)),
            unit: Str::copy_from(read(&units, i)),
            data,
            metadata: Vec::new(),
        };
        out.resource_metrics
            .last_mut()
            .and_then(|r| r.scope_metrics.last_mut())
            .ok_or_else(|| grouping.orphan())?
            .metrics
            .push(metric);
    }
    Ok(out)
}
