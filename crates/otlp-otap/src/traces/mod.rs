//! Traces over OTAP: [`TracesEncoder`] turns export requests into [`BatchArrowRecords`] and
//! [`TracesDecoder`] turns them back, each keeping the IPC state of one OTAP stream.
//!
//! A request becomes up to eight tables, the root first:
//!
//! | payload | one row per | keyed by |
//! |---|---|---|
//! | `SPANS` | span | `id` (u16, delta), `resource.id`, `scope.id` (u16, delta) |
//! | `RESOURCE_ATTRS` | resource attribute | `parent_id` u16 = `resource.id` |
//! | `SCOPE_ATTRS` | scope attribute | `parent_id` u16 = `scope.id` |
//! | `SPAN_ATTRS` | span attribute | `parent_id` u16 = span `id` |
//! | `SPAN_EVENTS` | event | `id` u32 (delta), `parent_id` u16 = span `id` (quasi-delta on `name`) |
//! | `SPAN_EVENT_ATTRS` | event attribute | `parent_id` u32 = event `id` |
//! | `SPAN_LINKS` | link | `id` u32 (delta), `parent_id` u16 = span `id` (quasi-delta on `trace_id`) |
//! | `SPAN_LINK_ATTRS` | link attribute | `parent_id` u32 = link `id` |
//!
//! Empty tables are left out. Spans keep the request's order, grouped as the request groups
//! them: the decoder starts a new resource (scope) where `resource.id` (`scope.id`) changes.

mod decode;
mod tables;

use crate::attrs::AttrsTable;
use crate::coder::sealed::Sealed;
use crate::coder::{Decoder, Encoder, Signal, Tables, Traces};
use crate::items::{ResourceItems, SpanView, Visit, of_request, walk};
use crate::stream::Writers;
use crate::{ArrowPayload, ArrowPayloadType, BatchArrowRecords, Error, Result};
use otlp_proto::collector::ExportTraceServiceRequest;
use std::collections::HashMap;
use tables::{EventsTable, LinksTable, SpansTable};

/// The payload types of traces, the root first.
pub const TRACES_PAYLOADS: [ArrowPayloadType; 8] = [
    ArrowPayloadType::Spans,
    ArrowPayloadType::ResourceAttrs,
    ArrowPayloadType::ScopeAttrs,
    ArrowPayloadType::SpanAttrs,
    ArrowPayloadType::SpanEvents,
    ArrowPayloadType::SpanEventAttrs,
    ArrowPayloadType::SpanLinks,
    ArrowPayloadType::SpanLinkAttrs,
];

/// The traces encoder of one OTAP stream (see [`Encoder`]).
pub type TracesEncoder = Encoder<Traces>;

/// The traces decoder of one OTAP stream (see [`Decoder`]).
pub type TracesDecoder = Decoder<Traces>;

impl Signal for Traces {
    type Request = ExportTraceServiceRequest;
    const PAYLOADS: &'static [ArrowPayloadType] = &TRACES_PAYLOADS;
}

impl Sealed for Traces {
    type Req = ExportTraceServiceRequest;

    fn decode(tables: &Tables) -> Result<ExportTraceServiceRequest> {
        decode::decode(tables)
    }

    fn encode(
        writers: &mut Writers,
        request: &ExportTraceServiceRequest,
    ) -> Result<Vec<ArrowPayload>> {
        let items = of_request(
            &request.resource_spans,
            |rs| (rs.resource.as_ref(), &*rs.schema_url, &*rs.scope_spans),
            |ss| (ss.scope.as_ref(), &*ss.schema_url, &*ss.spans),
        );
        encode_spans(writers, &items)
    }
}

impl Encoder<Traces> {
    /// Encodes spans of any [`SpanView`] (an SDK's own span records), grouped by resource and
    /// scope, as the next batch of the stream: the same batch [`encode`](Encoder::encode) makes
    /// of the request that holds them, without the request.
    pub fn encode_items<S: SpanView>(
        &mut self,
        items: &[ResourceItems<'_, S>],
    ) -> Result<BatchArrowRecords> {
        self.encode_with(|writers| encode_spans(writers, items))
    }
}

/// The tables of `items`, the root first.
fn encode_spans<S: SpanView>(
    writers: &mut Writers,
    items: &[ResourceItems<'_, S>],
) -> Result<Vec<ArrowPayload>> {
    use ArrowPayloadType as P;
    let mut spans = SpansTable::default();
    let mut events = EventsTable::default();
    let mut links = LinksTable::default();
    let mut attrs: HashMap<P, AttrsTable<'_>> = [
        P::ResourceAttrs,
        P::ScopeAttrs,
        P::SpanAttrs,
        P::SpanEventAttrs,
        P::SpanLinkAttrs,
    ]
    .into_iter()
    .map(|k| (k, AttrsTable::new(k)))
    .collect();
    let mut add = |k: P, parent: u32, a| {
        if let Some(t) = attrs.get_mut(&k) {
            t.add(parent, a);
        }
    };
    walk(items, "spans", |visit| {
        match visit {
            Visit::Resource(id, r) => add(P::ResourceAttrs, u32::from(id), &r.attributes),
            Visit::Scope(id, s) => add(P::ScopeAttrs, u32::from(id), &s.attributes),
            Visit::Item(span_id, row) => {
                let span = row.item;
                add(P::SpanAttrs, u32::from(span_id), span.attributes());
                for e in span.events() {
                    let event_id = u32::try_from(events.rows.len())
                        .map_err(|_| Error::TooLarge("more than 2^32 events".into()))?;
                    add(P::SpanEventAttrs, event_id, &e.attributes);
                    events.rows.push((span_id, e));
                }
                for l in span.links() {
                    let link_id = u32::try_from(links.rows.len())
                        .map_err(|_| Error::TooLarge("more than 2^32 links".into()))?;
                    add(P::SpanLinkAttrs, link_id, &l.attributes);
                    links.rows.push((span_id, l));
                }
                spans.rows.push(row);
            }
        }
        Ok(())
    })?;
    // The root payload first: the Go receiver dispatches on the first payload's type. It
    // is sent even when empty, so that every batch has one.
    let mut payloads = vec![writers.payload(&spans)?];
    for kind in TRACES_PAYLOADS.into_iter().skip(1) {
        let payload = match kind {
            P::SpanEvents if !events.rows.is_empty() => writers.payload(&events)?,
            P::SpanLinks if !links.rows.is_empty() => writers.payload(&links)?,
            _ => match attrs.get_mut(&kind) {
                Some(t) if !t.is_empty() => {
                    t.sort();
                    writers.payload(&*t)?
                }
                _ => continue,
            },
        };
        payloads.push(payload);
    }
    Ok(payloads)
}

/// Encodes one request as a stream's first batch (a fresh [`TracesEncoder`]).
pub fn encode_traces(request: &ExportTraceServiceRequest) -> Result<BatchArrowRecords> {
    TracesEncoder::new().encode(request)
}

/// Decodes a stream's first batch (a fresh [`TracesDecoder`]).
pub fn decode_traces(batch: &BatchArrowRecords) -> Result<ExportTraceServiceRequest> {
    TracesDecoder::new().decode(batch)
}
