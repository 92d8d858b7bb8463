//! Logs over OTAP: [`LogsEncoder`] and [`LogsDecoder`].
//!
//! A request becomes up to four tables, the root first:
//!
//! | payload | one row per | keyed by |
//! |---|---|---|
//! | `LOGS` | log record | `id` (u16, delta), `resource.id`, `scope.id` (u16, delta) |
//! | `RESOURCE_ATTRS` | resource attribute | `parent_id` u16 = `resource.id` |
//! | `SCOPE_ATTRS` | scope attribute | `parent_id` u16 = `scope.id` |
//! | `LOG_ATTRS` | log record attribute | `parent_id` u16 = log `id` |

mod table;

use crate::attrs::AttrsTable;
use crate::coder::sealed::Sealed;
use crate::coder::{Decoder, Encoder, Logs, Signal, Tables};
use crate::items::{ResourceItems, Visit, of_request, walk};
use crate::stream::Writers;
use crate::{ArrowPayload, ArrowPayloadType, BatchArrowRecords, Result};
use otlp_proto::collector::ExportLogsServiceRequest;
use otlp_proto::logs::LogRecord;
use table::LogsTable;

/// The payload types of logs, the root first.
pub const LOGS_PAYLOADS: [ArrowPayloadType; 4] = [
    ArrowPayloadType::Logs,
    ArrowPayloadType::ResourceAttrs,
    ArrowPayloadType::ScopeAttrs,
    ArrowPayloadType::LogAttrs,
];

/// The logs encoder of one OTAP stream (see [`Encoder`]).
pub type LogsEncoder = Encoder<Logs>;

/// The logs decoder of one OTAP stream (see [`Decoder`]).
pub type LogsDecoder = Decoder<Logs>;

impl Signal for Logs {
    type Request = ExportLogsServiceRequest;
    const PAYLOADS: &'static [ArrowPayloadType] = &LOGS_PAYLOADS;
}

impl Sealed for Logs {
    type Req = ExportLogsServiceRequest;

    fn decode(tables: &Tables) -> Result<ExportLogsServiceRequest> {
        table::decode(tables)
    }

    fn encode(
        writers: &mut Writers,
        request: &ExportLogsServiceRequest,
    ) -> Result<Vec<ArrowPayload>> {
        let items = of_request(
            &request.resource_logs,
            |rl| (rl.resource.as_ref(), &*rl.schema_url, &*rl.scope_logs),
            |sl| (sl.scope.as_ref(), &*sl.schema_url, &*sl.log_records),
        );
        encode_records(writers, &items)
    }
}

impl Encoder<Logs> {
    /// Encodes log records grouped by resource and scope (an SDK's own batch) as the next
    /// batch of the stream: the same batch [`encode`](Encoder::encode) makes of the request
    /// that holds them, without the request.
    pub fn encode_items(
        &mut self,
        items: &[ResourceItems<'_, LogRecord>],
    ) -> Result<BatchArrowRecords> {
        self.encode_with(|writers| encode_records(writers, items))
    }
}

/// The tables of `items`, the root first.
fn encode_records(
    writers: &mut Writers,
    items: &[ResourceItems<'_, LogRecord>],
) -> Result<Vec<ArrowPayload>> {
    use ArrowPayloadType as P;
    let mut logs = LogsTable::default();
    let mut resource_attrs = AttrsTable::new(P::ResourceAttrs);
    let mut scope_attrs = AttrsTable::new(P::ScopeAttrs);
    let mut log_attrs = AttrsTable::new(P::LogAttrs);
    walk(items, "log records", |visit| {
        match visit {
            Visit::Resource(id, r) => resource_attrs.add(u32::from(id), &r.attributes),
            Visit::Scope(id, s) => scope_attrs.add(u32::from(id), &s.attributes),
            Visit::Item(id, row) => {
                log_attrs.add(u32::from(id), &row.item.attributes);
                logs.rows.push(row);
            }
        }
        Ok(())
    })?;
    // The root payload first: the Go receiver dispatches on the first payload's type.
    let mut payloads = vec![writers.payload(&logs)?];
    for mut t in [resource_attrs, scope_attrs, log_attrs] {
        if !t.is_empty() {
            t.sort();
            payloads.push(writers.payload(&t)?);
        }
    }
    Ok(payloads)
}

/// Encodes one request as a stream's first batch (a fresh [`LogsEncoder`]).
pub fn encode_logs(request: &ExportLogsServiceRequest) -> Result<BatchArrowRecords> {
    LogsEncoder::new().encode(request)
}

/// Decodes a stream's first batch (a fresh [`LogsDecoder`]).
pub fn decode_logs(batch: &BatchArrowRecords) -> Result<ExportLogsServiceRequest> {
    LogsDecoder::new().decode(batch)
}
