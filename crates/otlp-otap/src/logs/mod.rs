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
use crate::root::{Numbering, Place};
use crate::stream::Writers;
use crate::{ArrowPayload, ArrowPayloadType, BatchArrowRecords, Result};
use otlp_proto::collector::ExportLogsServiceRequest;
use table::{LogRow, LogsTable};

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
        use ArrowPayloadType as P;
        let mut logs = LogsTable::default();
        let mut resource_attrs = AttrsTable::new(P::ResourceAttrs);
        let mut scope_attrs = AttrsTable::new(P::ScopeAttrs);
        let mut log_attrs = AttrsTable::new(P::LogAttrs);
        let mut numbering = Numbering::default();
        for rl in &request.resource_logs {
            if rl.scope_logs.iter().all(|sl| sl.log_records.is_empty()) {
                continue;
            }
            let resource_id = numbering.resource()?;
            if let Some(r) = &rl.resource {
                resource_attrs.add(u32::from(resource_id), &r.attributes);
            }
            for sl in rl.scope_logs.iter().filter(|sl| !sl.log_records.is_empty()) {
                let scope_id = numbering.scope()?;
                if let Some(s) = &sl.scope {
                    scope_attrs.add(u32::from(scope_id), &s.attributes);
                }
                let place = Place {
                    resource_id,
                    resource: rl.resource.as_ref(),
                    resource_schema_url: &rl.schema_url,
                    scope_id,
                    scope: sl.scope.as_ref(),
                };
                for record in &sl.log_records {
                    let id = numbering.row("log records")?;
                    log_attrs.add(u32::from(id), &record.attributes);
                    logs.rows.push(LogRow {
                        place,
                        scope_schema_url: &sl.schema_url,
                        item: record,
                    });
                }
            }
        }
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
}

/// Encodes one request as a stream's first batch (a fresh [`LogsEncoder`]).
pub fn encode_logs(request: &ExportLogsServiceRequest) -> Result<BatchArrowRecords> {
    LogsEncoder::new().encode(request)
}

/// Decodes a stream's first batch (a fresh [`LogsDecoder`]).
pub fn decode_logs(batch: &BatchArrowRecords) -> Result<ExportLogsServiceRequest> {
    LogsDecoder::new().decode(batch)
}
