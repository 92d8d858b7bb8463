//! The data-point tables as the encoder builds them: NUMBER, HISTOGRAM, EXP_HISTOGRAM and
//! SUMMARY_DATA_POINTS, one [`PointsTable`] each, told apart by their [`Point`] type.
//!
//! Every one starts with `id` (`UInt32`, delta), `parent_id` (`UInt16`, the metric's `id`,
//! delta), `start_time_unix_nano` and `time_unix_nano`; the columns after those are the point
//! type's.

use super::lists::{list, u64_list};
use crate::build::{sequential_u32, timestamp, u32s};
use crate::dict::{Full, StrColumn};
use crate::stream::Table;
use crate::{ArrowPayloadType, Error, Result};
use arrow_array::{
    ArrayRef, Float64Array, Int32Array, Int64Array, RecordBatch, StructArray,
    TimestampNanosecondArray, UInt16Array, UInt64Array,
};
use arrow_buffer::NullBuffer;
use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef};
use otlp_proto::common::KeyValue;
use otlp_proto::metrics::{
    Buckets, Exemplar, ExponentialHistogramDataPoint, HistogramDataPoint, NumberDataPoint,
    NumberValue, SummaryDataPoint,
};
use std::sync::Arc;

/// A data point type and its table's own columns.
pub(crate) trait Point {
    /// Its table.
    const KIND: ArrowPayloadType;
    /// Its attributes' table.
    const ATTRS: ArrowPayloadType;
    /// Its exemplars' table and their attributes' table (summaries have none).
    const EXEMPLARS: Option<(ArrowPayloadType, ArrowPayloadType)>;
    /// Start of the aggregation interval and time of the point.
    fn times(&self) -> (u64, u64);
    /// The point's attributes.
    fn attributes(&self) -> &[KeyValue];
    /// The point's exemplars.
    fn exemplars(&self) -> &[Exemplar];
    /// The fields after the four every data-point table starts with.
    fn fields() -> Vec<Field>;
    /// Those columns for `points`.
    fn columns(points: &[&Self]) -> Result<Vec<ArrayRef>>;
}

/// Points of one type: `(metric id, point)` rows in request order.
pub(crate) struct PointsTable<'a, P> {
    pub(crate) rows: Vec<(u16, &'a P)>,
}

impl<P> Default for PointsTable<'_, P> {
    fn default() -> Self {
        PointsTable { rows: Vec::new() }
    }
}

impl<P: Point> Table for PointsTable<'_, P> {
    const STR_COLUMNS: usize = 0;

    fn kind(&self) -> ArrowPayloadType {
        P::KIND
    }

    fn schema(&self, _dictionary: bool) -> SchemaRef {
        let mut fields = vec![
            Field::new("id", DataType::UInt32, true),
            Field::new("parent_id", DataType::UInt16, false),
            Field::new("start_time_unix_nano", timestamp(), true),
            Field::new("time_unix_nano", timestamp(), true),
        ];
        fields.extend(P::fields());
        Arc::new(Schema::new(fields))
    }

    fn build(
        &self,
        _strs: &mut [StrColumn],
        _max_bytes: usize,
    ) -> std::result::Result<Result<RecordBatch>, Full> {
        Ok(self.finish())
    }
}

impl<P: Point> PointsTable<'_, P> {
    fn finish(&self) -> Result<RecordBatch> {
        // parent_id is delta encoded: points follow their metrics, so the deltas are small.
        let mut prev = 0u16;
        let parents = UInt16Array::from_iter_values(self.rows.iter().map(|(parent, _)| {
            let d = parent.wrapping_sub(prev);
            prev = *parent;
            d
        }));
        let times = |f: fn((u64, u64)) -> u64| -> ArrayRef {
            // Times are u64 on the wire and i64 in Arrow: the bits carry over both ways.
            Arc::new(TimestampNanosecondArray::from_iter_values(
                self.rows.iter().map(|(_, p)| f(p.times()) as i64),
            ))
        };
        let mut columns: Vec<ArrayRef> = vec![
            sequential_u32(self.rows.len()),
            Arc::new(parents),
            times(|t| t.0),
            times(|t| t.1),
        ];
        let points: Vec<&P> = self.rows.iter().map(|(_, p)| *p).collect();
        columns.extend(P::columns(&points)?);
        Ok(RecordBatch::try_new(self.schema(false), columns)?)
    }
}

fn f64s(values: impl Iterator<Item = Option<f64>>) -> ArrayRef {
    Arc::new(Float64Array::from_iter(values))
}

fn u64s(values: impl Iterator<Item = u64>) -> ArrayRef {
    Arc::new(UInt64Array::from_iter_values(values))
}

/// The `quantile` list's item: a struct of `quantile` and `value`.
pub(crate) fn quantile_fields() -> Fields {
    Fields::from(vec![
        Field::new("quantile", DataType::Float64, true),
        Field::new("value", DataType::Float64, true),
    ])
}

/// The `positive` / `negative` struct of an exponential histogram point.
pub(crate) fn buckets_fields() -> Fields {
    Fields::from(vec![
        Field::new("offset", DataType::Int32, true),
        u64_list("bucket_counts"),
    ])
}

fn buckets_column(buckets: &[Option<&Buckets>]) -> Result<ArrayRef> {
    let counts: Vec<u64> = buckets
        .iter()
        .flatten()
        .flat_map(|b| b.bucket_counts.iter().copied())
        .collect();
    let lengths = buckets
        .iter()
        .map(|b| b.map_or(0, |b| b.bucket_counts.len()));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int32Array::from_iter_values(
            buckets.iter().map(|b| b.map_or(0, |b| b.offset)),
        )),
        list(DataType::UInt64, lengths, u64s(counts.into_iter()))?,
    ];
    let nulls = NullBuffer::from_iter(buckets.iter().map(Option::is_some));
    Ok(Arc::new(StructArray::try_new(
        buckets_fields(),
        columns,
        Some(nulls),
    )?))
}

impl Point for NumberDataPoint {
    const KIND: ArrowPayloadType = ArrowPayloadType::NumberDataPoints;
    const ATTRS: ArrowPayloadType = ArrowPayloadType::NumberDpAttrs;
    const EXEMPLARS: Option<(ArrowPayloadType, ArrowPayloadType)> = Some((
        ArrowPayloadType::NumberDpExemplars,
        ArrowPayloadType::NumberDpExemplarAttrs,
    ));

    fn times(&self) -> (u64, u64) {
        (self.start_time_unix_nano, self.time_unix_nano)
    }
    fn attributes(&self) -> &[KeyValue] {
        &self.attributes
    }
    fn exemplars(&self) -> &[Exemplar] {
        &self.exemplars
    }

    fn fields() -> Vec<Field> {
        vec![
            Field::new("int_value", DataType::Int64, true),
            Field::new("double_value", DataType::Float64, true),
            Field::new("flags", DataType::UInt32, true),
        ]
    }

    fn columns(points: &[&Self]) -> Result<Vec<ArrayRef>> {
        let p = || points.iter();
        Ok(vec![
            Arc::new(Int64Array::from_iter(p().map(|p| match p.value {
                Some(NumberValue::AsInt(v)) => Some(v),
                _ => None,
            }))),
            f64s(p().map(|p| match p.value {
                Some(NumberValue::AsDouble(v)) => Some(v),
                _ => None,
            })),
            u32s(p().map(|p| p.flags)),
        ])
    }
}

impl Point for HistogramDataPoint {
    const KIND: ArrowPayloadType = ArrowPayloadType::HistogramDataPoints;
    const ATTRS: ArrowPayloadType = ArrowPayloadType::HistogramDpAttrs;
    const EXEMPLARS: Option<(ArrowPayloadType, ArrowPayloadType)> = Some((
        ArrowPayloadType::HistogramDpExemplars,
        ArrowPayloadType::HistogramDpExemplarAttrs,
    ));

    fn times(&self) -> (u64, u64) {
        (self.start_time_unix_nano, self.time_unix_nano)
    }
    fn attributes(&self) -> &[KeyValue] {
        &self.attributes
    }
    fn exemplars(&self) -> &[Exemplar] {
        &self.exemplars
    }

    fn fields() -> Vec<Field> {
        vec![
            Field::new("count", DataType::UInt64, true),
            Field::new("sum", DataType::Float64, true),
            u64_list("bucket_counts"),
            Field::new_list(
                "explicit_bounds",
                Field::new_list_field(DataType::Float64, true),
                true,
            ),
            Field::new("flags", DataType::UInt32, true),
            Field::new("min", DataType::Float64, true),
            Field::new("max", DataType::Float64, true),
        ]
    }

    fn columns(points: &[&Self]) -> Result<Vec<ArrayRef>> {
        let p = || points.iter();
        let counts = u64s(p().flat_map(|p| p.bucket_counts.iter().copied()));
        let bounds = f64s(p().flat_map(|p| p.explicit_bounds.iter().map(|b| Some(*b))));
        Ok(vec![
            u64s(p().map(|p| p.count)),
            f64s(p().map(|p| p.sum)),
            list(DataType::UInt64, p().map(|p| p.bucket_counts.len()), counts)?,
            list(
                DataType::Float64,
                p().map(|p| p.explicit_bounds.len()),
                bounds,
            )?,
            u32s(p().map(|p| p.flags)),
            f64s(p().map(|p| p.min)),
            f64s(p().map(|p| p.max)),
        ])
    }
}

impl Point for ExponentialHistogramDataPoint {
    const KIND: ArrowPayloadType = ArrowPayloadType::ExpHistogramDataPoints;
    const ATTRS: ArrowPayloadType = ArrowPayloadType::ExpHistogramDpAttrs;
    const EXEMPLARS: Option<(ArrowPayloadType, ArrowPayloadType)> = Some((
        ArrowPayloadType::ExpHistogramDpExemplars,
        ArrowPayloadType::ExpHistogramDpExemplarAttrs,
    ));

    fn times(&self) -> (u64, u64) {
        (self.start_time_unix_nano, self.time_unix_nano)
    }
    fn attributes(&self) -> &[KeyValue] {
        &self.attributes
    }
    fn exemplars(&self) -> &[Exemplar] {
        &self.exemplars
    }

    fn fields() -> Vec<Field> {
        vec![
            Field::new("count", DataType::UInt64, true),
            Field::new("sum", DataType::Float64, true),
            Field::new("scale", DataType::Int32, true),
            Field::new("zero_count", DataType::UInt64, true),
            Field::new("positive", DataType::Struct(buckets_fields()), true),
            Field::new("negative", DataType::Struct(buckets_fields()), true),
            Field::new("flags", DataType::UInt32, true),
            Field::new("min", DataType::Float64, true),
            Field::new("max", DataType::Float64, true),
            Field::new("zero_threshold", DataType::Float64, true),
        ]
    }

    fn columns(points: &[&Self]) -> Result<Vec<ArrayRef>> {
        let p = || points.iter();
        let positive: Vec<_> = p().map(|p| p.positive.as_ref()).collect();
        let negative: Vec<_> = p().map(|p| p.negative.as_ref()).collect();
        Ok(vec![
            u64s(p().map(|p| p.count)),
            f64s(p().map(|p| p.sum)),
            Arc::new(Int32Array::from_iter_values(p().map(|p| p.scale))),
            u64s(p().map(|p| p.zero_count)),
            buckets_column(&positive)?,
            buckets_column(&negative)?,
            u32s(p().map(|p| p.flags)),
            f64s(p().map(|p| p.min)),
            f64s(p().map(|p| p.max)),
            f64s(p().map(|p| Some(p.zero_threshold))),
        ])
    }
}

impl Point for SummaryDataPoint {
    const KIND: ArrowPayloadType = ArrowPayloadType::SummaryDataPoints;
    const ATTRS: ArrowPayloadType = ArrowPayloadType::SummaryDpAttrs;
    const EXEMPLARS: Option<(ArrowPayloadType, ArrowPayloadType)> = None;

    fn times(&self) -> (u64, u64) {
        (self.start_time_unix_nano, self.time_unix_nano)
    }
    fn attributes(&self) -> &[KeyValue] {
        &self.attributes
    }
    fn exemplars(&self) -> &[Exemplar] {
        &[]
    }

    fn fields() -> Vec<Field> {
        vec![
            Field::new("count", DataType::UInt64, true),
            Field::new("sum", DataType::Float64, true),
            Field::new_list(
                "quantile",
                Field::new_list_field(DataType::Struct(quantile_fields()), true),
                true,
            ),
            Field::new("flags", DataType::UInt32, true),
        ]
    }

    fn columns(points: &[&Self]) -> Result<Vec<ArrayRef>> {
        let p = || points.iter();
        let q = || p().flat_map(|p| p.quantile_values.iter());
        let quantiles = StructArray::try_new(
            quantile_fields(),
            vec![
                f64s(q().map(|q| Some(q.quantile))),
                f64s(q().map(|q| Some(q.value))),
            ],
            None,
        )
        .map_err(Error::from)?;
        Ok(vec![
            u64s(p().map(|p| p.count)),
            f64s(p().map(|p| Some(p.sum))),
            list(
                DataType::Struct(quantile_fields()),
                p().map(|p| p.quantile_values.len()),
                Arc::new(quantiles),
            )?,
            u32s(p().map(|p| p.flags)),
        ])
    }
}
