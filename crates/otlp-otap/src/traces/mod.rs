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
use crate::root::{Numbering, Place};
use crate::stream::{ReadLimits, Readers, Writers};
use crate::{ArrowPayloadType, BatchArrowRecords, Error, Result};
use otlp_proto::collector::ExportTraceServiceRequest;
use std::collections::HashMap;
use tables::{EventsTable, LinksTable, SpanRow, SpansTable};

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

/// Encodes trace export requests as the batches of one OTAP stream.
///
/// The encoder keeps one Arrow IPC stream per payload type: the first batch carries each
/// table's schema, later ones only new dictionary values and the records. So every batch it
/// returns must reach the receiver, in order, on the same gRPC stream. When a stream ends
/// (or a batch is lost), call [`reset`](Self::reset) before encoding for a new one.
///
/// Defaults: IPC bodies compressed with zstd level 3 ([`with_zstd_level`](Self::with_zstd_level));
/// at most 4 MiB of dictionary values per table stream
/// ([`with_max_dictionary_bytes`](Self::with_max_dictionary_bytes)), past which the table's
/// stream starts over with fresh dictionaries.
///
/// ```
/// use otlp_otap::{TracesDecoder, TracesEncoder};
/// # fn main() -> otlp_otap::Result<()> {
/// let request = otlp_proto::sample::traces();
/// let (mut encoder, mut decoder) = (TracesEncoder::new(), TracesDecoder::new());
/// for _ in 0..3 {
///     let batch = encoder.encode(&request)?;
///     let back = decoder.decode(&batch)?;
///     assert_eq!(back.resource_spans.len(), request.resource_spans.len());
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct TracesEncoder {
    writers: Writers,
    next_batch_id: i64,
}

impl Default for TracesEncoder {
    fn default() -> Self {
        TracesEncoder::new()
    }
}

impl TracesEncoder {
    /// An encoder for a new stream.
    pub fn new() -> Self {
        TracesEncoder {
            writers: Writers::new(),
            next_batch_id: 0,
        }
    }

    /// Compresses IPC bodies with zstd at `level`, or not at all with `None` (default `Some(3)`).
    pub fn with_zstd_level(mut self, level: Option<i32>) -> Self {
        self.writers.zstd_level = level;
        self
    }

    /// Caps the dictionary values one table stream holds (default 4 MiB); keep it well under
    /// the receiver's state limit divided by the number of tables.
    pub fn with_max_dictionary_bytes(mut self, bytes: usize) -> Self {
        self.writers.max_dictionary_bytes = bytes;
        self
    }

    /// Forgets the IPC streams, for a new gRPC stream: the next batch resends every schema.
    /// Batch ids continue.
    pub fn reset(&mut self) {
        self.writers.reset();
    }

    /// Bytes of dictionary values held for the next batches.
    pub fn held_bytes(&self) -> usize {
        self.writers.held_bytes()
    }

    /// Encodes `request` as the next batch of the stream. An error leaves the encoder reset.
    pub fn encode(&mut self, request: &ExportTraceServiceRequest) -> Result<BatchArrowRecords> {
        let out = self.encode_inner(request);
        if out.is_err() {
            // Some tables may have been written to their streams: start them all over.
            self.writers.reset();
        }
        out
    }

    fn encode_inner(&mut self, request: &ExportTraceServiceRequest) -> Result<BatchArrowRecords> {
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
        let mut numbering = Numbering::default();
        for rs in &request.resource_spans {
            if rs.scope_spans.iter().all(|ss| ss.spans.is_empty()) {
                continue;
            }
            let resource_id = numbering.resource()?;
            if let Some(r) = &rs.resource {
                add(P::ResourceAttrs, u32::from(resource_id), &r.attributes);
            }
            for ss in rs.scope_spans.iter().filter(|ss| !ss.spans.is_empty()) {
                let scope_id = numbering.scope()?;
                if let Some(s) = &ss.scope {
                    add(P::ScopeAttrs, u32::from(scope_id), &s.attributes);
                }
                let place = Place {
                    resource_id,
                    resource: rs.resource.as_ref(),
                    resource_schema_url: &rs.schema_url,
                    scope_id,
                    scope: ss.scope.as_ref(),
                };
                for span in &ss.spans {
                    let span_id = numbering.row("spans")?;
                    add(P::SpanAttrs, u32::from(span_id), &span.attributes);
                    for e in &span.events {
                        let event_id = u32::try_from(events.rows.len())
                            .map_err(|_| Error::TooLarge("more than 2^32 events".into()))?;
                        add(P::SpanEventAttrs, event_id, &e.attributes);
                        events.rows.push((span_id, e));
                    }
                    for l in &span.links {
                        let link_id = u32::try_from(links.rows.len())
                            .map_err(|_| Error::TooLarge("more than 2^32 links".into()))?;
                        add(P::SpanLinkAttrs, link_id, &l.attributes);
                        links.rows.push((span_id, l));
                    }
                    spans.rows.push(SpanRow {
                        place,
                        scope_schema_url: &ss.schema_url,
                        span,
                    });
                }
            }
        }
        // The root payload first: the Go receiver dispatches on the first payload's type. It
        // is sent even when empty, so that every batch has one.
        let mut payloads = vec![self.writers.payload(&spans)?];
        for kind in TRACES_PAYLOADS.into_iter().skip(1) {
            let payload = match kind {
                P::SpanEvents if !events.rows.is_empty() => self.writers.payload(&events)?,
                P::SpanLinks if !links.rows.is_empty() => self.writers.payload(&links)?,
                _ => match attrs.get_mut(&kind) {
                    Some(t) if !t.is_empty() => {
                        t.sort();
                        self.writers.payload(&*t)?
                    }
                    _ => continue,
                },
            };
            payloads.push(payload);
        }
        let batch_id = self.next_batch_id;
        self.next_batch_id += 1;
        Ok(BatchArrowRecords {
            batch_id,
            arrow_payloads: payloads,
            headers: Default::default(),
        })
    }
}

/// Decodes the trace batches of one OTAP stream.
///
/// It keeps an IPC reader per schema id, with its schema and dictionaries, for the batches
/// that follow. What it holds is bounded: at most [`with_max_state_bytes`](Self::with_max_state_bytes)
/// (default 64 MiB) of dictionaries and schemas, which also caps what one payload may declare
/// it decompresses to, and at most [`with_max_streams`](Self::with_max_streams) (default 32)
/// IPC streams. Past a limit, [`decode`](Self::decode) returns [`Error::StateLimit`]. After
/// any error the stream's state is unreliable: end the gRPC stream (the Go receiver does),
/// or [`reset`](Self::reset).
#[derive(Debug)]
pub struct TracesDecoder {
    readers: Readers,
}

impl Default for TracesDecoder {
    fn default() -> Self {
        TracesDecoder::new()
    }
}

impl TracesDecoder {
    /// A decoder for a new stream.
    pub fn new() -> Self {
        TracesDecoder {
            readers: Readers::new(ReadLimits {
                max_state_bytes: 64 << 20,
                max_streams: 32,
            }),
        }
    }

    /// Caps the dictionary and schema bytes held across batches (default 64 MiB).
    pub fn with_max_state_bytes(mut self, bytes: usize) -> Self {
        self.readers.limits.max_state_bytes = bytes;
        self
    }

    /// Caps the IPC streams open at once (default 32).
    pub fn with_max_streams(mut self, streams: usize) -> Self {
        self.readers.limits.max_streams = streams;
        self
    }

    /// Forgets every IPC stream, for a new gRPC stream.
    pub fn reset(&mut self) {
        self.readers.reset();
    }

    /// Bytes of dictionaries and schemas held for the next batches.
    pub fn held_bytes(&self) -> usize {
        self.readers.held_bytes()
    }

    /// Decodes one batch. Payloads may come in any order (the Go receiver wants the root
    /// first; this decoder does not); each type at most once, all of them traces tables, the
    /// root among them (a batch without any payload is an empty request).
    pub fn decode(&mut self, batch: &BatchArrowRecords) -> Result<ExportTraceServiceRequest> {
        let mut spans = None;
        let mut others = HashMap::new();
        for p in &batch.arrow_payloads {
            let kind = p
                .payload_type()
                .filter(|k| TRACES_PAYLOADS.contains(k))
                .ok_or_else(|| {
                    Error::Payloads(format!("payload type {} is not a traces table", p.r#type))
                })?;
            if kind == ArrowPayloadType::Spans && spans.is_some() || others.contains_key(&kind) {
                return Err(Error::Payloads(format!(
                    "two {} payloads",
                    kind.as_str_name()
                )));
            }
            let record = self.readers.read(p, kind)?;
            if kind == ArrowPayloadType::Spans {
                spans = Some(record);
            } else {
                others.insert(kind, record);
            }
        }
        let Some(spans) = spans else {
            // otel-arrow's producer sends an empty request as a batch without payloads.
            if batch.arrow_payloads.is_empty() {
                return Ok(ExportTraceServiceRequest::default());
            }
            return Err(Error::Payloads("no SPANS payload".into()));
        };
        // The tables passed arrow-rs's validation; the guard is for what it may have missed.
        crate::stream::guarded(|| decode::decode(&decode::Tables { spans, others }))?
    }
}

/// Encodes one request as a stream's first batch (a fresh [`TracesEncoder`]).
pub fn encode_traces(request: &ExportTraceServiceRequest) -> Result<BatchArrowRecords> {
    TracesEncoder::new().encode(request)
}

/// Decodes a stream's first batch (a fresh [`TracesDecoder`]).
pub fn decode_traces(batch: &BatchArrowRecords) -> Result<ExportTraceServiceRequest> {
    TracesDecoder::new().decode(batch)
}
