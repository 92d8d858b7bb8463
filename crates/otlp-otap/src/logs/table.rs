//! The LOGS table: one row per log record, the root of a logs batch.
//!
//! Columns: `id`, `resource`, `scope` (see [`root`](crate::root)), `schema_url` (the scope's),
//! `time_unix_nano` and `observed_time_unix_nano` (`Timestamp(ns)`), `trace_id`, `span_id`,
//! `severity_number` (`Int32`), `severity_text`, `event_name`, `dropped_attributes_count`,
//! `flags` (`UInt32`) and `body`, a struct of the [value columns](crate::values).

use crate::build::{ids, timestamp, u32s};
use crate::coder::Tables;
use crate::columns::{Columns, column, read, struct_column};
use crate::dict::{Full, StrColumn};
use crate::root::{self, Grouping, Place, Start};
use crate::stream::Table;
use crate::values::{self, ValueBuilder, ValueReader};
use crate::{ArrowPayloadType as T, Error, Result};
use arrow_array::types::{Int32Type, TimestampNanosecondType, UInt32Type};
use arrow_array::{
    Array, ArrayRef, FixedSizeBinaryArray, Int32Array, PrimitiveArray, RecordBatch, StringArray,
    StructArray, TimestampNanosecondArray,
};
use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef};
use bytes::Bytes;
use otlp_proto::Str;
use otlp_proto::collector::ExportLogsServiceRequest;
use otlp_proto::logs::{LogRecord, ResourceLogs, ScopeLogs};
use std::sync::Arc;

/// One log record and where it belongs.
pub(crate) type LogRow<'a> = root::Row<'a, LogRecord>;

/// The LOGS table, rows in request order, grouped by resource and scope.
#[derive(Default)]
pub(crate) struct LogsTable<'a> {
    pub(crate) rows: Vec<LogRow<'a>>,
}

fn body_fields() -> Fields {
    Fields::from(values::fields(DataType::Utf8))
}

impl Table for LogsTable<'_> {
    /// The grouping's ([`root::STR_COLUMNS`]), `schema_url`, `severity_text`, `event_name`.
    const STR_COLUMNS: usize = root::STR_COLUMNS + 3;

    fn kind(&self) -> T {
        T::Logs
    }

    fn schema(&self, dictionary: bool) -> SchemaRef {
        let [id, resource, scope] = root::fields(dictionary);
        let text = StrColumn::data_type(dictionary);
        Arc::new(Schema::new(vec![
            id,
            resource,
            scope,
            Field::new("schema_url", text.clone(), true),
            Field::new("time_unix_nano", timestamp(), true),
            Field::new("observed_time_unix_nano", timestamp(), true),
            Field::new("trace_id", DataType::FixedSizeBinary(16), true),
            Field::new("span_id", DataType::FixedSizeBinary(8), true),
            Field::new("severity_number", DataType::Int32, true),
            Field::new("severity_text", text.clone(), true),
            Field::new("event_name", text, true),
            Field::new("dropped_attributes_count", DataType::UInt32, true),
            Field::new("flags", DataType::UInt32, true),
            Field::new("body", DataType::Struct(body_fields()), true),
        ]))
    }

    fn build(
        &self,
        strs: &mut [StrColumn],
        max_bytes: usize,
    ) -> std::result::Result<Result<RecordBatch>, Full> {
        let (grouping, strs) = strs.split_at_mut(root::STR_COLUMNS.min(strs.len()));
        let [schema_urls, severities, event_names] = strs else {
            return Ok(Err(Error::TooLarge(
                "logs table needs three string columns".into(),
            )));
        };
        // Bodies are mostly distinct: their strings stay plain.
        let mut body_strs = StrColumn::new(false);
        let mut body = ValueBuilder::default();
        root::append(self.rows.iter().map(|r| r.place), grouping, max_bytes)?;
        let mut runs = root::Runs::default();
        for r in &self.rows {
            schema_urls.append_run(r.scope_schema_url, runs.continues(&r.place), max_bytes)?;
            severities.append(&r.item.severity_text, max_bytes)?;
            event_names.append(&r.item.event_name, max_bytes)?;
            let (ty, val) = values::of(r.item.body.as_ref());
            body.append(ty, &val, &mut body_strs, max_bytes)?;
        }
        let dictionary = schema_urls.is_dictionary();
        Ok(self.finish(
            grouping,
            [
                schema_urls.finish(),
                severities.finish(),
                event_names.finish(),
            ],
            body.finish(body_strs.finish()),
            dictionary,
        ))
    }
}

impl LogsTable<'_> {
    fn finish(
        &self,
        grouping: &mut [StrColumn],
        [schema_urls, severities, event_names]: [ArrayRef; 3],
        body: Vec<ArrayRef>,
        dictionary: bool,
    ) -> Result<RecordBatch> {
        let places: Vec<Place<'_>> = self.rows.iter().map(|r| r.place).collect();
        let [id, resource, scope] = root::columns(&places, grouping)?;
        let logs = || self.rows.iter().map(|r| r.item);
        let body = StructArray::try_new(body_fields(), body, None)?;
        // Times are u64 on the wire and i64 in Arrow: the bits carry over both ways.
        let columns: Vec<ArrayRef> = vec![
            id,
            resource,
            scope,
            schema_urls,
            Arc::new(TimestampNanosecondArray::from_iter_values(
                logs().map(|l| l.time_unix_nano as i64),
            )),
            Arc::new(TimestampNanosecondArray::from_iter_values(
                logs().map(|l| l.observed_time_unix_nano as i64),
            )),
            ids(
                T::Logs,
                16,
                false,
                logs().map(|l| &l.trace_id[..]),
                "trace_id",
            )?,
            ids(T::Logs, 8, false, logs().map(|l| &l.span_id[..]), "span_id")?,
            Arc::new(Int32Array::from_iter_values(
                logs().map(|l| l.severity_number),
            )),
            severities,
            event_names,
            u32s(logs().map(|l| l.dropped_attributes_count)),
            u32s(logs().map(|l| l.flags)),
            Arc::new(body),
        ];
        Ok(RecordBatch::try_new(self.schema(dictionary), columns)?)
    }
}

/// Decodes a logs batch's tables.
pub(crate) fn decode(tables: &Tables) -> Result<ExportLogsServiceRequest> {
    let b: &dyn Columns = &tables.root;
    let k = T::Logs;
    let mut log_attrs = crate::attrs::decode_in(tables, T::LogAttrs)?;
    let mut grouping = Grouping::new(
        b,
        k,
        crate::attrs::decode_in(tables, T::ResourceAttrs)?,
        crate::attrs::decode_in(tables, T::ScopeAttrs)?,
    )?;
    let time = column::<PrimitiveArray<TimestampNanosecondType>>(b, k, "time_unix_nano")?;
    let observed =
        column::<PrimitiveArray<TimestampNanosecondType>>(b, k, "observed_time_unix_nano")?;
    let trace_id = column::<FixedSizeBinaryArray>(b, k, "trace_id")?;
    let span_id = column::<FixedSizeBinaryArray>(b, k, "span_id")?;
    let severity_number = column::<PrimitiveArray<Int32Type>>(b, k, "severity_number")?;
    let severity_text = column::<StringArray>(b, k, "severity_text")?;
    let event_name = column::<StringArray>(b, k, "event_name")?;
    let dropped = column::<PrimitiveArray<UInt32Type>>(b, k, "dropped_attributes_count")?;
    let flags = column::<PrimitiveArray<UInt32Type>>(b, k, "flags")?;
    let body_struct = struct_column(b, k, "body")?;
    let body = body_struct.map(|s| ValueReader::new(s, k)).transpose()?;
    let bad = |problem: String| Error::Value { table: k, problem };

    let mut out = ExportLogsServiceRequest::default();
    for i in 0..tables.root.num_rows() {
        for start in grouping.starts(i) {
            match start {
                Start::Resource(resource, schema_url) => out.resource_logs.push(ResourceLogs {
                    resource,
                    scope_logs: Vec::new(),
                    schema_url,
                }),
                Start::Scope(scope, schema_url) => out
                    .resource_logs
                    .last_mut()
                    .ok_or_else(|| grouping.orphan())?
                    .scope_logs
                    .push(ScopeLogs {
                        scope,
                        log_records: Vec::new(),
                        schema_url,
                    }),
            }
        }
        let body = match (&body, body_struct) {
            (Some(r), Some(s)) if s.is_valid(i) => {
                let (ty, val) = r.val(i).map_err(bad)?;
                Some(values::to_any(ty, &val).map_err(|p| bad(format!("body of row {i}: {p}")))?)
            }
            _ => None,
        };
        let own = grouping.id(i);
        let record = LogRecord {
            time_unix_nano: read(&time, i) as u64,
            severity_number: read(&severity_number, i),
            severity_text: Str::copy_from(read(&severity_text, i)),
            // An empty body is no body.
            body: body.filter(|b| b.value.is_some()),
            attributes: log_attrs.take(own),
            dropped_attributes_count: read(&dropped, i),
            flags: read(&flags, i),
            trace_id: Bytes::copy_from_slice(read(&trace_id, i)),
            span_id: Bytes::copy_from_slice(read(&span_id, i)),
            observed_time_unix_nano: read(&observed, i) as u64,
            event_name: Str::copy_from(read(&event_name, i)),
        };
        out.resource_logs
            .last_mut()
            .and_then(|r| r.scope_logs.last_mut())
            .ok_or_else(|| grouping.orphan())?
            .log_records
            .push(record);
    }
    Ok(out)
}
