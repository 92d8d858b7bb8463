//! The UNIVARIATE_METRICS table (the root: one row per metric) and the `*_DP_EXEMPLARS`
//! tables, as the encoder builds them.
//!
//! UNIVARIATE_METRICS columns: `id`, `resource`, `scope` (see [`root`](crate::root)),
//! `schema_url` (the scope's), `metric_type` (`UInt8`, see [`metric_type`]), `name`,
//! `description`, `unit`, `aggregation_temporality` (`Int32`) and `is_monotonic`.
//!
//! Exemplar columns: `id` (`UInt32`, delta), `parent_id` (`UInt32`, the point's `id`,
//! quasi-delta on the value: a delta after a row with the same `int_value` and
//! `double_value`), `time_unix_nano`, `int_value`, `double_value`, `span_id`, `trace_id`.

use crate::build::{ids, sequential_u32, timestamp};
use crate::dict::{Full, StrColumn};
use crate::root::{self, Place};
use crate::stream::Table;
use crate::{ArrowPayloadType, Error, Result};
use arrow_array::{
    ArrayRef, BooleanArray, Float64Array, Int32Array, Int64Array, RecordBatch,
    TimestampNanosecondArray, UInt8Array, UInt32Array,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use otlp_proto::metrics::{Exemplar, ExemplarValue, Metric, MetricData};
use std::sync::Arc;

/// The `metric_type` values (pmetric's `MetricType` numbering).
pub(crate) mod metric_type {
    /// A metric without data.
    pub(crate) const EMPTY: u8 = 0;
    /// A gauge.
    pub(crate) const GAUGE: u8 = 1;
    /// A sum.
    pub(crate) const SUM: u8 = 2;
    /// An explicit-bucket histogram.
    pub(crate) const HISTOGRAM: u8 = 3;
    /// An exponential histogram.
    pub(crate) const EXP_HISTOGRAM: u8 = 4;
    /// A summary.
    pub(crate) const SUMMARY: u8 = 5;
}

/// A metric's `metric_type`, `aggregation_temporality` and `is_monotonic`.
fn kind_of(metric: &Metric) -> (u8, i32, bool) {
    use metric_type as t;
    match &metric.data {
        None => (t::EMPTY, 0, false),
        Some(MetricData::Gauge(_)) => (t::GAUGE, 0, false),
        Some(MetricData::Sum(s)) => (t::SUM, s.aggregation_temporality, s.is_monotonic),
        Some(MetricData::Histogram(h)) => (t::HISTOGRAM, h.aggregation_temporality, false),
        Some(MetricData::ExponentialHistogram(h)) => {
            (t::EXP_HISTOGRAM, h.aggregation_temporality, false)
        }
        Some(MetricData::Summary(_)) => (t::SUMMARY, 0, false),
    }
}

/// One metric and where it belongs.
pub(crate) struct MetricRow<'a> {
    pub(crate) place: Place<'a>,
    pub(crate) scope_schema_url: &'a str,
    pub(crate) metric: &'a Metric,
}

/// The UNIVARIATE_METRICS table, rows in request order, grouped by resource and scope.
#[derive(Default)]
pub(crate) struct MetricsTable<'a> {
    pub(crate) rows: Vec<MetricRow<'a>>,
}

impl Table for MetricsTable<'_> {
    /// `schema_url`, `name`, `description`, `unit`.
    const STR_COLUMNS: usize = 4;

    fn kind(&self) -> ArrowPayloadType {
        ArrowPayloadType::UnivariateMetrics
    }

    fn schema(&self, dictionary: bool) -> SchemaRef {
        let [id, resource, scope] = root::fields();
        let text = StrColumn::data_type(dictionary);
        Arc::new(Schema::new(vec![
            id,
            resource,
            scope,
            Field::new("schema_url", text.clone(), true),
            Field::new("metric_type", DataType::UInt8, false),
            Field::new("name", text.clone(), false),
            Field::new("description", text.clone(), true),
            Field::new("unit", text, true),
            Field::new("aggregation_temporality", DataType::Int32, true),
            Field::new("is_monotonic", DataType::Boolean, true),
        ]))
    }

    fn build(
        &self,
        strs: &mut [StrColumn],
        max_bytes: usize,
    ) -> std::result::Result<Result<RecordBatch>, Full> {
        let [schema_urls, names, descriptions, units] = strs else {
            return Ok(Err(Error::TooLarge(
                "metrics table needs four string columns".into(),
            )));
        };
        for r in &self.rows {
            schema_urls.append(r.scope_schema_url, max_bytes)?;
            names.append(&r.metric.name, max_bytes)?;
            descriptions.append(&r.metric.description, max_bytes)?;
            units.append(&r.metric.unit, max_bytes)?;
        }
        let dictionary = names.is_dictionary();
        let strs = [
            schema_urls.finish(),
            names.finish(),
            descriptions.finish(),
            units.finish(),
        ];
        Ok(self.finish(strs, dictionary))
    }
}

impl MetricsTable<'_> {
    fn finish(
        &self,
        [schema_urls, names, descriptions, units]: [ArrayRef; 4],
        dictionary: bool,
    ) -> Result<RecordBatch> {
        let places: Vec<Place<'_>> = self.rows.iter().map(|r| r.place).collect();
        let [id, resource, scope] = root::columns(&places)?;
        let kinds: Vec<_> = self.rows.iter().map(|r| kind_of(r.metric)).collect();
        let columns: Vec<ArrayRef> = vec![
            id,
            resource,
            scope,
            schema_urls,
            Arc::new(UInt8Array::from_iter_values(kinds.iter().map(|k| k.0))),
            names,
            descriptions,
            units,
            Arc::new(Int32Array::from_iter_values(kinds.iter().map(|k| k.1))),
            Arc::new(BooleanArray::from_iter(kinds.iter().map(|k| Some(k.2)))),
        ];
        Ok(RecordBatch::try_new(self.schema(dictionary), columns)?)
    }
}

/// An exemplar's value as its `int_value` and `double_value` columns hold it.
pub(crate) type ExemplarValueColumns = (Option<i64>, Option<f64>);

/// An exemplar's value as its two columns hold it.
pub(crate) fn exemplar_value(e: &Exemplar) -> ExemplarValueColumns {
    match e.value {
        Some(ExemplarValue::AsInt(v)) => (Some(v), None),
        Some(ExemplarValue::AsDouble(v)) => (None, Some(v)),
        None => (None, None),
    }
}

/// Whether an exemplar row's `parent_id` is a delta: its value columns equal the previous
/// row's (null equal to null; doubles compared as Go's `==` does them).
pub(crate) fn continues(prev: ExemplarValueColumns, row: ExemplarValueColumns) -> bool {
    prev == row
}

/// An exemplar table: `(point id, exemplar)` rows in request order.
pub(crate) struct ExemplarsTable<'a> {
    pub(crate) kind: ArrowPayloadType,
    pub(crate) rows: Vec<(u32, &'a Exemplar)>,
}

impl Table for ExemplarsTable<'_> {
    const STR_COLUMNS: usize = 0;

    fn kind(&self) -> ArrowPayloadType {
        self.kind
    }

    fn schema(&self, _dictionary: bool) -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("id", DataType::UInt32, true),
            Field::new("parent_id", DataType::UInt32, false),
            Field::new("time_unix_nano", timestamp(), true),
            Field::new("int_value", DataType::Int64, true),
            Field::new("double_value", DataType::Float64, true),
            Field::new("span_id", DataType::FixedSizeBinary(8), true),
            Field::new("trace_id", DataType::FixedSizeBinary(16), true),
        ]))
    }

    fn build(
        &self,
        _strs: &mut [StrColumn],
        _max_bytes: usize,
    ) -> std::result::Result<Result<RecordBatch>, Full> {
        Ok(self.finish())
    }
}

impl ExemplarsTable<'_> {
    fn finish(&self) -> Result<RecordBatch> {
        let ex = || self.rows.iter().map(|(_, e)| *e);
        let mut prev: Option<(u32, ExemplarValueColumns)> = None;
        let parents = UInt32Array::from_iter_values(self.rows.iter().map(|(parent, e)| {
            let value = exemplar_value(e);
            let v = match prev {
                Some((p, pv)) if continues(pv, value) => parent.wrapping_sub(p),
                _ => *parent,
            };
            prev = Some((*parent, value));
            v
        }));
        let columns: Vec<ArrayRef> = vec![
            sequential_u32(self.rows.len()),
            Arc::new(parents),
            Arc::new(TimestampNanosecondArray::from_iter_values(
                ex().map(|e| e.time_unix_nano as i64),
            )),
            Arc::new(Int64Array::from_iter(ex().map(|e| exemplar_value(e).0))),
            Arc::new(Float64Array::from_iter(ex().map(|e| exemplar_value(e).1))),
            ids(self.kind, 8, false, ex().map(|e| &e.span_id[..]), "span_id")?,
            ids(
                self.kind,
                16,
                false,
                ex().map(|e| &e.trace_id[..]),
                "trace_id",
            )?,
        ];
        Ok(RecordBatch::try_new(self.schema(false), columns)?)
    }
}
