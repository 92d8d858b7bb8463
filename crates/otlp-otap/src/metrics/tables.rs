//! The UNIVARIATE_METRICS table (the root: one row per metric) and the `*_DP_EXEMPLARS`
//! tables, as the encoder builds them.
//!
//! UNIVARIATE_METRICS columns: `id`, `resource`, `scope` (see [`root`](crate::root)),
//! `schema_url` (the scope's), `metric_type` (`UInt8`, see [`metric_type`]), `name`,
//! `description`, `unit`, `aggregation_temporality` (`Int32`) and `is_monotonic`.
//!
//! Exemplar columns: `id` (`UInt32`, delta), `parent_id` (`UInt32`, the point's `id`,
//! quasi-delta on the value, see [`ExemplarParents`]), `time_unix_nano`, `int_value`,
//! `double_value`, `span_id` and `trace_id` (an empty id as zeros: the Go decoder refuses
//! other lengths).

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
pub(crate) type MetricRow<'a> = root::Row<'a, Metric>;

/// The UNIVARIATE_METRICS table, rows in request order, grouped by resource and scope.
#[derive(Default)]
pub(crate) struct MetricsTable<'a> {
    pub(crate) rows: Vec<MetricRow<'a>>,
}

impl Table for MetricsTable<'_> {
    /// The grouping's ([`root::STR_COLUMNS`]), `schema_url`, `name`, `description`, `unit`.
    const STR_COLUMNS: usize = root::STR_COLUMNS + 4;

    fn kind(&self) -> ArrowPayloadType {
        ArrowPayloadType::UnivariateMetrics
    }

    fn schema(&self, dictionary: bool) -> SchemaRef {
        let [id, resource, scope] = root::fields(dictionary);
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
        let (grouping, strs) = strs.split_at_mut(root::STR_COLUMNS.min(strs.len()));
        let [schema_urls, names, descriptions, units] = strs else {
            return Ok(Err(Error::TooLarge(
                "metrics table needs four string columns".into(),
            )));
        };
        root::append(self.rows.iter().map(|r| r.place), grouping, max_bytes)?;
        let mut runs = root::Runs::default();
        for r in &self.rows {
            schema_urls.append_run(r.scope_schema_url, runs.continues(&r.place), max_bytes)?;
            names.append(&r.item.name, max_bytes)?;
            descriptions.append(&r.item.description, max_bytes)?;
            units.append(&r.item.unit, max_bytes)?;
        }
        let dictionary = names.is_dictionary();
        let strs = [
            schema_urls.finish(),
            names.finish(),
            descriptions.finish(),
            units.finish(),
        ];
        Ok(self.finish(grouping, strs, dictionary))
    }
}

impl MetricsTable<'_> {
    fn finish(
        &self,
        grouping: &mut [StrColumn],
        [schema_urls, names, descriptions, units]: [ArrayRef; 4],
        dictionary: bool,
    ) -> Result<RecordBatch> {
        let places: Vec<Place<'_>> = self.rows.iter().map(|r| r.place).collect();
        let [id, resource, scope] = root::columns(&places, grouping)?;
        let kinds: Vec<_> = self.rows.iter().map(|r| kind_of(r.item)).collect();
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

/// The quasi-delta encoding of exemplar `parent_id`s, as the Go decoder undoes it: a row
/// without a value always stores the difference from the previous row's parent; a row with a
/// value stores it when the last row with a value had the same one (same type, and equal as
/// Go's `==` compares doubles), and its parent as is otherwise.
///
/// otel-arrow's Rust decoder compares each row with the one just before instead; the two agree
/// when the rows without a value come first, which is how the encoder orders them.
#[derive(Default)]
pub(crate) struct ExemplarParents {
    prev_parent: u32,
    last_value: Option<ExemplarValue>,
}

impl ExemplarParents {
    /// Whether a row with `value` stores a delta; the row becomes the previous one.
    fn is_delta(&mut self, value: Option<ExemplarValue>) -> bool {
        let Some(value) = value else {
            return true;
        };
        let delta = match (&self.last_value, &value) {
            (Some(ExemplarValue::AsInt(a)), ExemplarValue::AsInt(b)) => a == b,
            (Some(ExemplarValue::AsDouble(a)), ExemplarValue::AsDouble(b)) => a == b,
            _ => false,
        };
        self.last_value = Some(value);
        delta
    }

    /// The `parent_id` to store for the next row, of `parent` and `value`.
    pub(crate) fn encode(&mut self, parent: u32, value: Option<ExemplarValue>) -> u32 {
        let stored = if self.is_delta(value) {
            parent.wrapping_sub(self.prev_parent)
        } else {
            parent
        };
        self.prev_parent = parent;
        stored
    }

    /// The parent of the next row, which stores `stored` and has `value`.
    pub(crate) fn decode(&mut self, stored: u32, value: Option<ExemplarValue>) -> u32 {
        let parent = if self.is_delta(value) {
            self.prev_parent.wrapping_add(stored)
        } else {
            stored
        };
        self.prev_parent = parent;
        parent
    }
}

/// An exemplar table: `(point id, exemplar)` rows, those without a value first (see
/// [`ExemplarParents`]), otherwise in request order; a row's exemplar id is its index.
pub(crate) struct ExemplarsTable<'a> {
    pub(crate) kind: ArrowPayloadType,
    pub(crate) rows: Vec<(u32, &'a Exemplar)>,
}

impl ExemplarsTable<'_> {
    /// Puts the rows in table order (a stable partition: those without a value first).
    pub(crate) fn order(&mut self) {
        self.rows.sort_by_key(|(_, e)| e.value.is_some());
    }
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
        let mut encoding = ExemplarParents::default();
        let parents = UInt32Array::from_iter_values(
            self.rows
                .iter()
                .map(|(parent, e)| encoding.encode(*parent, e.value.clone())),
        );
        let value = |e: &Exemplar| match e.value {
            Some(ExemplarValue::AsInt(v)) => (Some(v), None),
            Some(ExemplarValue::AsDouble(v)) => (None, Some(v)),
            None => (None, None),
        };
        let columns: Vec<ArrayRef> = vec![
            sequential_u32(self.rows.len()),
            Arc::new(parents),
            Arc::new(TimestampNanosecondArray::from_iter_values(
                ex().map(|e| e.time_unix_nano as i64),
            )),
            Arc::new(Int64Array::from_iter(ex().map(|e| value(e).0))),
            Arc::new(Float64Array::from_iter(ex().map(|e| value(e).1))),
            ids(self.kind, 8, true, ex().map(|e| &e.span_id[..]), "span_id")?,
            ids(
                self.kind,
                16,
                true,
                ex().map(|e| &e.trace_id[..]),
                "trace_id",
            )?,
        ];
        Ok(RecordBatch::try_new(self.schema(false), columns)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exemplar_parent_ids_follow_the_go_decoder() {
        use ExemplarValue::{AsDouble, AsInt};
        // (parent, value, what the Go decoder expects stored).
        let rows = [
            (3, Some(AsInt(5)), 3),
            (4, None, 1),                // no value: always a delta
            (4, Some(AsInt(5)), 0),      // equal to the last value (the row between has none)
            (6, Some(AsDouble(5.0)), 6), // another type
            (7, Some(AsDouble(5.0)), 1),
            (9, Some(AsDouble(f64::NAN)), 9),
            (9, Some(AsDouble(f64::NAN)), 9), // NaN != NaN
            (2, Some(AsDouble(-0.0)), 2),
            (5, Some(AsDouble(0.0)), 3), // -0.0 == 0.0
        ];
        let mut encoding = ExemplarParents::default();
        let mut decoding = ExemplarParents::default();
        for (parent, value, stored) in rows {
            assert_eq!(
                encoding.encode(parent, value.clone()),
                stored,
                "{parent} {value:?}"
            );
            assert_eq!(decoding.decode(stored, value), parent);
        }
    }
}
