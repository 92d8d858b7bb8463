//! OTLP/Arrow (OTAP): telemetry as Arrow IPC streams, the OpenTelemetry protocol of the
//! otel-arrow project.
//!
//! OTAP sends the same data as OTLP, but column by column: each export request becomes a few
//! Arrow tables (for traces: spans, their attributes, events, links, ...), each table the next
//! record batch of an Arrow IPC stream that lives as long as the gRPC stream carrying it. Values
//! repeated across requests (attribute keys, span names) are sent once per stream as
//! dictionary entries, and the columns compress well; that is where the bandwidth saving over
//! OTLP comes from.
//!
//! This crate holds the protocol, without I/O:
//!
//! - the wire messages of `ArrowTracesService` / `ArrowLogsService` / `ArrowMetricsService`:
//!   [`BatchArrowRecords`] (one batch: its payloads, root table first), [`ArrowPayload`] (one
//!   table: a schema id, an [`ArrowPayloadType`] and IPC bytes) and [`BatchStatus`] (the
//!   receiver's answer, a [`StatusCode`]), all with `otlp-proto`'s protobuf codec
//!   ([`otlp_proto::Message`]);
//! - traces, logs and metrics: [`TracesEncoder`]/[`TracesDecoder`],
//!   [`LogsEncoder`]/[`LogsDecoder`] and [`MetricsEncoder`]/[`MetricsDecoder`] (forms of one
//!   [`Encoder`] and [`Decoder`]), stateful like the streams they serve, and the one-shot
//!   [`encode_traces`], [`decode_traces`], [`encode_logs`], [`decode_logs`],
//!   [`encode_metrics`] and [`decode_metrics`].
//!
//! # Example
//!
//! ```
//! use otlp_otap::{TracesDecoder, TracesEncoder};
//! use otlp_proto::Message;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let request = otlp_proto::sample::traces();
//! let mut encoder = TracesEncoder::new();
//! let mut decoder = TracesDecoder::new();
//!
//! let first = encoder.encode(&request)?;   // schemas, dictionaries, records
//! let second = encoder.encode(&request)?;  // records only: the dictionaries are known
//! assert!(second.encode_to_bytes().len() < first.encode_to_bytes().len());
//!
//! let spans = |r: &otlp_proto::collector::ExportTraceServiceRequest| {
//!     r.resource_spans.iter().flat_map(|rs| &rs.scope_spans).map(|ss| ss.spans.len()).sum::<usize>()
//! };
//! assert_eq!(spans(&decoder.decode(&first)?), spans(&request));
//! assert_eq!(spans(&decoder.decode(&second)?), spans(&request));
//! # Ok(())
//! # }
//! ```
//!
//! # What comes back
//!
//! Decoding gives the request that was encoded, up to what OTAP does not carry
//! ([`normalize_traces`], [`normalize_logs`] and [`normalize_metrics`] make a request into
//! that form):
//!
//! - attributes come back sorted by type, key and value within each resource, scope, span,
//!   event, link, data point and exemplar (the encoder sorts attribute tables so that equal
//!   values sit together);
//! - resources and scopes without spans (log records, metrics) are left out;
//! - a metric's `metadata` is dropped (the Go receiver rejects OTAP's METRIC_ATTRS table);
//! - an empty trace or span id of a span, link or exemplar is sent as zeros (otel-arrow's
//!   decoders require these ids), and comes back so;
//! - within a data point, exemplars without a value come first (the order in which the Go
//!   decoder's and otel-arrow's Rust decoder's parent ids agree);
//! - an absent resource, scope or span status and one with every field at its default are
//!   the same (the decoder gives `None`), and so are an absent log body and an empty one, and
//!   absent and empty exponential histogram buckets; an
//!   attribute without a value is an empty value;
//! - what only profiles use is dropped: `Resource::entity_refs`, `KeyValue::key_strindex`, and
//!   string-table values (`StringValueStrindex`, which become empty values).
//!
//! # Interoperability
//!
//! The layout follows what the Go decoder of the Collector's `otelarrowreceiver` reads: the
//! column names and types of the otel-arrow schemas, `Dictionary(UInt16, Utf8)` string columns
//! with delta dictionaries, zstd IPC body compression, optional columns left out when they hold
//! nothing (all null, or all zero where zero is the default), one IPC stream per payload type with
//! schema ids unique across types, the root payload first, and the delta and quasi-delta id
//! encodings applied unconditionally (the Go decoder always undoes them). The `otap-crosscheck`
//! crate's tests check it against the otel-arrow project's own Rust codec
//! (`otel-arrow-dfe-pdata`), both ways.

#![deny(missing_docs)]

mod attrs;
mod build;
mod cbor;
mod children;
mod coder;
mod columns;
mod dict;
mod error;
mod items;
mod logs;
mod metrics;
mod normalize;
mod preflight;
mod prune;
mod root;
mod stream;
mod traces;
mod values;
mod wire;

pub use coder::{Decoder, Encoder, Logs, Signal, Traces};
pub use error::{Error, Result};
pub use items::{ResourceItems, ScopeItems, SpanView};
pub use logs::{LOGS_PAYLOADS, LogsDecoder, LogsEncoder, decode_logs, encode_logs};
pub use metrics::{
    METRICS_PAYLOADS, Metrics, MetricsDecoder, MetricsEncoder, decode_metrics, encode_metrics,
    normalize_metrics,
};
pub use normalize::{normalize_logs, normalize_traces};
pub use traces::{TRACES_PAYLOADS, TracesDecoder, TracesEncoder, decode_traces, encode_traces};
pub use wire::{
    ArrowPayload, ArrowPayloadType, BatchArrowRecords, BatchStatus, METHODS, StatusCode,
    grpc_method, signal_of_method,
};
