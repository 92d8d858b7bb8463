//! Traces tables back to an `ExportTraceServiceRequest`.

use crate::attrs::{self, ids};
use crate::children::ByParent;
use crate::coder::Tables;
use crate::columns::{Column, Columns, Typed, column, read, required, struct_column};
use crate::root::{Grouping, Start, child};
use crate::{ArrowPayloadType as T, Result};
use arrow_array::types::{DurationNanosecondType, Int32Type, TimestampNanosecondType, UInt32Type};
use arrow_array::{FixedSizeBinaryArray, PrimitiveArray, RecordBatch, StringArray};
use bytes::Bytes;
use otlp_proto::Str;
use otlp_proto::collector::ExportTraceServiceRequest;
use otlp_proto::common::KeyValue;
use otlp_proto::trace::{Event, Link, ResourceSpans, ScopeSpans, Span, Status};

type Attrs = ByParent<KeyValue>;

fn id(bytes: &[u8]) -> Bytes {
    Bytes::copy_from_slice(bytes)
}

/// Events or links by the span id they belong to, each with its attributes. `equal(i, j)`:
/// whether rows `i` and `j` agree on the table's quasi-delta equality column.
fn children<C>(
    batch: &RecordBatch,
    kind: T,
    mut attrs: Attrs,
    equal: impl Fn(usize, usize) -> bool,
    mut make: impl FnMut(usize, Vec<KeyValue>) -> C,
) -> Result<ByParent<C>> {
    let mut out = ByParent::for_rows(batch.num_rows());
    let cols: &dyn Columns = batch;
    let own = ids(cols, kind, "id")?.map(|ids| ids.undelta());
    let parents = attrs::parent_ids(cols, kind)?;
    let mut prev = 0u32;
    for i in 0..batch.num_rows() {
        let encoded = parents.values.get(i).copied().flatten().unwrap_or(0);
        // parent_id is a delta when the row's equality column matches the previous row's.
        let parent = if i > 0 && equal(i - 1, i) {
            parents.add(prev, encoded)
        } else {
            encoded
        };
        prev = parent;
        let own_id = own.as_ref().and_then(|o| o.get(i).copied().flatten());
        let a = attrs.take(own_id);
        out.push(parent, make(i, a));
    }
    Ok(out)
}

/// Whether rows `i` and `j` of an optional column hold the same value (null equals null, and
/// an absent column is all nulls).
fn same<'a, A: Typed>(
    c: &Option<Column<'a, A>>,
    value: impl Fn(&'a A, usize) -> &'a [u8],
    i: usize,
    j: usize,
) -> bool {
    c.as_ref().is_none_or(|c| {
        let v = |r| c.at(r).map(|x| value(c.values(), x));
        v(i) == v(j)
    })
}

fn events(tables: &Tables) -> Result<ByParent<Event>> {
    let attrs = attrs::decode_in(tables, T::SpanEventAttrs)?;
    let Some(b) = tables.others.get(&T::SpanEvents) else {
        return Ok(ByParent::default());
    };
    let k = T::SpanEvents;
    let times = column::<PrimitiveArray<TimestampNanosecondType>>(b, k, "time_unix_nano")?;
    let names = column::<StringArray>(b, k, "name")?;
    let dropped = column::<PrimitiveArray<UInt32Type>>(b, k, "dropped_attributes_count")?;
    children(
        b,
        k,
        attrs,
        |i, j| same(&names, |a, x| a.value(x).as_bytes(), i, j),
        |i, attributes| Event {
            time_unix_nano: read(&times, i) as u64,
            name: Str::copy_from(read(&names, i)),
            attributes,
            dropped_attributes_count: read(&dropped, i),
        },
    )
}

fn links(tables: &Tables) -> Result<ByParent<Link>> {
    let attrs = attrs::decode_in(tables, T::SpanLinkAttrs)?;
    let Some(b) = tables.others.get(&T::SpanLinks) else {
        return Ok(ByParent::default());
    };
    let k = T::SpanLinks;
    let trace_ids = column::<FixedSizeBinaryArray>(b, k, "trace_id")?;
    let span_ids = column::<FixedSizeBinaryArray>(b, k, "span_id")?;
    let states = column::<StringArray>(b, k, "trace_state")?;
    let dropped = column::<PrimitiveArray<UInt32Type>>(b, k, "dropped_attributes_count")?;
    let flags = column::<PrimitiveArray<UInt32Type>>(b, k, "flags")?;
    children(
        b,
        k,
        attrs,
        |i, j| same(&trace_ids, |a, x| a.value(x), i, j),
        |i, attributes| Link {
            trace_id: id(read(&trace_ids, i)),
            span_id: id(read(&span_ids, i)),
            trace_state: Str::copy_from(read(&states, i)),
            attributes,
            dropped_attributes_count: read(&dropped, i),
            flags: read(&flags, i),
        },
    )
}

pub(crate) fn decode(tables: &Tables) -> Result<ExportTraceServiceRequest> {
    spans(tables, events(tables)?, links(tables)?)
}

fn spans(
    tables: &Tables,
    mut events: ByParent<Event>,
    mut links: ByParent<Link>,
) -> Result<ExportTraceServiceRequest> {
    let b: &dyn Columns = &tables.root;
    let k = T::Spans;
    let mut span_attrs = attrs::decode_in(tables, T::SpanAttrs)?;
    let mut grouping = Grouping::new(
        b,
        k,
        attrs::decode_in(tables, T::ResourceAttrs)?,
        attrs::decode_in(tables, T::ScopeAttrs)?,
    )?;
    let status = struct_column(b, k, "status")?;
    let st_code = child::<PrimitiveArray<Int32Type>>(status, T::Spans, "code")?;
    let st_message = child::<StringArray>(status, T::Spans, "status_message")?;
    let start = column::<PrimitiveArray<TimestampNanosecondType>>(b, k, "start_time_unix_nano")?;
    let duration =
        column::<PrimitiveArray<DurationNanosecondType>>(b, k, "duration_time_unix_nano")?;
    let trace_id = column::<FixedSizeBinaryArray>(b, k, "trace_id")?;
    let span_id = column::<FixedSizeBinaryArray>(b, k, "span_id")?;
    let trace_state = column::<StringArray>(b, k, "trace_state")?;
    let parent_span_id = column::<FixedSizeBinaryArray>(b, k, "parent_span_id")?;
    let flags = column::<PrimitiveArray<UInt32Type>>(b, k, "flags")?;
    let name = Some(required::<StringArray>(b, k, "name")?);
    let kind = column::<PrimitiveArray<Int32Type>>(b, k, "kind")?;
    let dropped_attrs = column::<PrimitiveArray<UInt32Type>>(b, k, "dropped_attributes_count")?;
    let dropped_events = column::<PrimitiveArray<UInt32Type>>(b, k, "dropped_events_count")?;
    let dropped_links = column::<PrimitiveArray<UInt32Type>>(b, k, "dropped_links_count")?;

    let mut out = ExportTraceServiceRequest::default();
    for i in 0..tables.root.num_rows() {
        for start in grouping.starts(i) {
            match start {
                Start::Resource(resource, schema_url) => out.resource_spans.push(ResourceSpans {
                    resource,
                    scope_spans: Vec::new(),
                    schema_url,
                }),
                Start::Scope(scope, schema_url) => out
                    .resource_spans
                    .last_mut()
                    .ok_or_else(|| grouping.orphan())?
                    .scope_spans
                    .push(ScopeSpans {
                        scope,
                        spans: Vec::new(),
                        schema_url,
                    }),
            }
        }
        let own = grouping.id(i);
        let start_ns = read(&start, i) as u64;
        let st = Status {
            message: Str::copy_from(read(&st_message, i)),
            code: read(&st_code, i),
        };
        let span = Span {
            trace_id: id(read(&trace_id, i)),
            span_id: id(read(&span_id, i)),
            trace_state: Str::copy_from(read(&trace_state, i)),
            parent_span_id: id(read(&parent_span_id, i)),
            name: Str::copy_from(read(&name, i)),
            kind: read(&kind, i),
            start_time_unix_nano: start_ns,
            end_time_unix_nano: start_ns.wrapping_add(read(&duration, i) as u64),
            attributes: span_attrs.take(own),
            dropped_attributes_count: read(&dropped_attrs, i),
            events: events.take(own),
            dropped_events_count: read(&dropped_events, i),
            links: links.take(own),
            dropped_links_count: read(&dropped_links, i),
            status: (st != Status::default()).then_some(st),
            flags: read(&flags, i),
        };
        out.resource_spans
            .last_mut()
            .and_then(|r| r.scope_spans.last_mut())
            .ok_or_else(|| grouping.orphan())?
            .spans
            .push(span);
    }
    Ok(out)
}
