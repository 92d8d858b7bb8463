//! The traces tables as the encoder builds them: SPANS (the root), SPAN_EVENTS and SPAN_LINKS.
//! Their attribute tables are [`AttrsTable`](crate::attrs::AttrsTable)s.

use crate::build::{ids, required_id, sequential_u32, strings, timestamp, u32s};
use crate::dict::{Full, StrColumn};
use crate::items::SpanView;
use crate::root::{self, Place};
use crate::stream::Table;
use crate::{ArrowPayloadType, Error, Result};
use arrow_array::{
    ArrayRef, DurationNanosecondArray, Int32Array, RecordBatch, StructArray,
    TimestampNanosecondArray, UInt16Array,
};
use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use otlp_proto::trace::{Event, Link};
use std::sync::Arc;

fn status_fields() -> Fields {
    Fields::from(vec![
        Field::new("code", DataType::Int32, true),
        Field::new("status_message", DataType::Utf8, true),
    ])
}

/// The SPANS table: one row per span, in request order, grouped by resource and scope.
pub(crate) struct SpansTable<'a, S> {
    pub(crate) rows: Vec<root::Row<'a, S>>,
}

impl<S> Default for SpansTable<'_, S> {
    fn default() -> Self {
        SpansTable { rows: Vec::new() }
    }
}

impl<S: SpanView> Table for SpansTable<'_, S> {
    /// The grouping's ([`root::STR_COLUMNS`]), `name`, `schema_url`.
    const STR_COLUMNS: usize = root::STR_COLUMNS + 2;

    fn kind(&self) -> ArrowPayloadType {
        ArrowPayloadType::Spans
    }

    fn schema(&self, dictionary: bool) -> SchemaRef {
        let [id, resource, scope] = root::fields(dictionary);
        Arc::new(Schema::new(vec![
            id,
            resource,
            scope,
            Field::new("schema_url", StrColumn::data_type(dictionary), true),
            Field::new("start_time_unix_nano", timestamp(), false),
            Field::new(
                "duration_time_unix_nano",
                DataType::Duration(TimeUnit::Nanosecond),
                false,
            ),
            Field::new("trace_id", DataType::FixedSizeBinary(16), true),
            Field::new("span_id", DataType::FixedSizeBinary(8), true),
            Field::new("trace_state", DataType::Utf8, true),
            Field::new("parent_span_id", DataType::FixedSizeBinary(8), true),
            Field::new("flags", DataType::UInt32, true),
            Field::new("name", StrColumn::data_type(dictionary), false),
            Field::new("kind", DataType::Int32, true),
            Field::new("dropped_attributes_count", DataType::UInt32, true),
            Field::new("dropped_events_count", DataType::UInt32, true),
            Field::new("dropped_links_count", DataType::UInt32, true),
            Field::new("status", DataType::Struct(status_fields()), true),
        ]))
    }

    fn build(
        &self,
        strs: &mut [StrColumn],
        max_bytes: usize,
    ) -> std::result::Result<Result<RecordBatch>, Full> {
        let (grouping, strs) = strs.split_at_mut(root::STR_COLUMNS.min(strs.len()));
        let [names, schema_urls] = strs else {
            return Ok(Err(Error::TooLarge(
                "spans table needs two string columns".into(),
            )));
        };
        root::append(self.rows.iter().map(|r| r.place), grouping, max_bytes)?;
        let mut runs = root::Runs::default();
        for r in &self.rows {
            names.append(r.item.name(), max_bytes)?;
            schema_urls.append_run(r.scope_schema_url, runs.continues(&r.place), max_bytes)?;
        }
        let dictionary = names.is_dictionary();
        Ok(self.finish(grouping, names.finish(), schema_urls.finish(), dictionary))
    }
}

impl<S: SpanView> SpansTable<'_, S> {
    fn finish(
        &self,
        grouping: &mut [StrColumn],
        names: ArrayRef,
        schema_urls: ArrayRef,
        dictionary: bool,
    ) -> Result<RecordBatch> {
        let rows = &self.rows;
        let spans = || rows.iter().map(|r| r.item);
        let places: Vec<Place<'_>> = rows.iter().map(|r| r.place).collect();
        let [ids_column, resource, scope] = root::columns(&places, grouping)?;
        let status = StructArray::try_new(
            status_fields(),
            vec![
                Arc::new(Int32Array::from_iter_values(
                    spans().map(|s| s.status_code()),
                )),
                strings(spans().map(|s| s.status_message())),
            ],
            None,
        )?;
        // Times are u64 on the wire and i64 in Arrow: the bits carry over both ways.
        let columns: Vec<ArrayRef> = vec![
            ids_column,
            resource,
            scope,
            schema_urls,
            Arc::new(TimestampNanosecondArray::from_iter_values(
                spans().map(|s| s.start_time_unix_nano() as i64),
            )),
            Arc::new(DurationNanosecondArray::from_iter_values(spans().map(
                |s| {
                    s.end_time_unix_nano()
                        .wrapping_sub(s.start_time_unix_nano()) as i64
                },
            ))),
            ids(
                ArrowPayloadType::Spans,
                16,
                true,
                spans().map(|s| s.trace_id()),
                "trace_id",
            )?,
            ids(
                ArrowPayloadType::Spans,
                8,
                true,
                spans().map(|s| s.span_id()),
                "span_id",
            )?,
            strings(spans().map(|s| s.trace_state())),
            ids(
                ArrowPayloadType::Spans,
                8,
                false,
                spans().map(|s| s.parent_span_id()),
                "parent_span_id",
            )?,
            u32s(spans().map(|s| s.flags())),
            names,
            Arc::new(Int32Array::from_iter_values(spans().map(|s| s.kind()))),
            u32s(spans().map(|s| s.dropped_attributes_count())),
            u32s(spans().map(|s| s.dropped_events_count())),
            u32s(spans().map(|s| s.dropped_links_count())),
            Arc::new(status),
        ];
        Ok(RecordBatch::try_new(self.schema(dictionary), columns)?)
    }
}

/// The SPAN_EVENTS table: `(span id, event)` rows in request order.
#[derive(Default)]
pub(crate) struct EventsTable<'a> {
    pub(crate) rows: Vec<(u16, &'a Event)>,
}

impl Table for EventsTable<'_> {
    /// `name`.
    const STR_COLUMNS: usize = 1;

    fn kind(&self) -> ArrowPayloadType {
        ArrowPayloadType::SpanEvents
    }

    fn schema(&self, dictionary: bool) -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("id", DataType::UInt32, true),
            Field::new("parent_id", DataType::UInt16, false),
            Field::new("time_unix_nano", timestamp(), true),
            Field::new("name", StrColumn::data_type(dictionary), false),
            Field::new("dropped_attributes_count", DataType::UInt32, true),
        ]))
    }

    fn build(
        &self,
        strs: &mut [StrColumn],
        max_bytes: usize,
    ) -> std::result::Result<Result<RecordBatch>, Full> {
        let [names] = strs else {
            return Ok(Err(Error::TooLarge(
                "events table needs one string column".into(),
            )));
        };
        for (_, e) in &self.rows {
            names.append(&e.name, max_bytes)?;
        }
        let dictionary = names.is_dictionary();
        // parent_id is quasi-delta encoded against `name`: a delta after an equal name.
        let mut prev: Option<(u16, &str)> = None;
        let parents = UInt16Array::from_iter_values(self.rows.iter().map(|(parent, e)| {
            let v = match prev {
                Some((p, name)) if name == &*e.name => parent.wrapping_sub(p),
                _ => *parent,
            };
            prev = Some((*parent, &e.name));
            v
        }));
        let columns: Vec<ArrayRef> = vec![
            sequential_u32(self.rows.len()),
            Arc::new(parents),
            Arc::new(TimestampNanosecondArray::from_iter_values(
                self.rows.iter().map(|(_, e)| e.time_unix_nano as i64),
            )),
            names.finish(),
            u32s(self.rows.iter().map(|(_, e)| e.dropped_attributes_count)),
        ];
        Ok(RecordBatch::try_new(self.schema(dictionary), columns).map_err(Error::from))
    }
}

/// The SPAN_LINKS table: `(span id, link)` rows in request order.
#[derive(Default)]
pub(crate) struct LinksTable<'a> {
    pub(crate) rows: Vec<(u16, &'a Link)>,
}

impl Table for LinksTable<'_> {
    const STR_COLUMNS: usize = 0;

    fn kind(&self) -> ArrowPayloadType {
        ArrowPayloadType::SpanLinks
    }

    fn schema(&self, _dictionary: bool) -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("id", DataType::UInt32, true),
            Field::new("parent_id", DataType::UInt16, false),
            Field::new("trace_id", DataType::FixedSizeBinary(16), true),
            Field::new("span_id", DataType::FixedSizeBinary(8), true),
            Field::new("trace_state", DataType::Utf8, true),
            Field::new("dropped_attributes_count", DataType::UInt32, true),
            Field::new("flags", DataType::UInt32, true),
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

impl LinksTable<'_> {
    fn finish(&self) -> Result<RecordBatch> {
        let links = || self.rows.iter().map(|(_, l)| *l);
        // parent_id is quasi-delta encoded against `trace_id` as written.
        let mut prev: Option<(u16, &[u8])> = None;
        let parents = UInt16Array::from_iter_values(self.rows.iter().map(|(parent, l)| {
            let trace_id = required_id(&l.trace_id, 16);
            let v = match prev {
                Some((p, prev_id)) if prev_id == trace_id => parent.wrapping_sub(p),
                _ => *parent,
            };
            prev = Some((*parent, trace_id));
            v
        }));
        let columns: Vec<ArrayRef> = vec![
            sequential_u32(self.rows.len()),
            Arc::new(parents),
            ids(
                ArrowPayloadType::SpanLinks,
                16,
                true,
                links().map(|l| &l.trace_id[..]),
                "link trace_id",
            )?,
            ids(
                ArrowPayloadType::SpanLinks,
                8,
                true,
                links().map(|l| &l.span_id[..]),
                "link span_id",
            )?,
            strings(links().map(|l| &*l.trace_state)),
            u32s(links().map(|l| l.dropped_attributes_count)),
            u32s(links().map(|l| l.flags)),
        ];
        Ok(RecordBatch::try_new(self.schema(false), columns)?)
    }
}
