//! One logs pipeline for every instrumentation scope: records carry the index of their scope in
//! the client's table ([`crate::scopes`], shared with the tracers), and the encoder groups a
//! batch by scope into one request (the shared [`ScopedEncoder`]).

use crate::body::EncodedBody;
use crate::pipeline::{BatchEncoder, PipelineItem, Priority};
use crate::scopes::{RequestKeys, ScopedEncoder, ScopedItem, Scopes};
use otlp_proto::json::JsonWriter;
use otlp_proto::logs::LogRecord;
use otlp_proto::resource::Resource;
use otlp_proto::{Encoding, Message, RevBuf, Signal};
use std::sync::Arc;

/// A record and its scope: what the logs pipeline carries.
#[derive(Debug)]
pub(crate) struct ScopedLogRecord {
    /// The scope's index in the client's table.
    pub(crate) scope: u32,
    pub(crate) record: LogRecord,
}

impl PipelineItem for ScopedLogRecord {
    /// [`Priority::High`] for severity ERROR and above, as for a bare `LogRecord`.
    fn priority(&self) -> Priority {
        self.record.priority()
    }

    fn encoded_size_hint(&self) -> usize {
        self.record.encoded_size_hint()
    }
}

impl ScopedItem for ScopedLogRecord {
    const KEYS: RequestKeys = RequestKeys::LOGS;

    fn scope(&self) -> u32 {
        self.scope
    }

    fn encode(&mut self, buf: &mut RevBuf) {
        self.record.encode_fields(buf);
    }

    fn write_json(&mut self, w: &mut JsonWriter) {
        self.record.write_json(w);
    }
}

/// Encodes records of one resource as an `ExportLogsServiceRequest` with one `ScopeLogs` per
/// scope present in the batch, in order of first appearance; within a scope, records keep
/// their batch order (the shared [`ScopedEncoder`]).
#[derive(Debug)]
pub(crate) struct ScopedLogEncoder(ScopedEncoder);

impl ScopedLogEncoder {
    pub(crate) fn new(resource: Resource, scopes: Arc<Scopes>) -> Self {
        ScopedLogEncoder(ScopedEncoder::with_table(resource, scopes))
    }
}

impl BatchEncoder<ScopedLogRecord> for ScopedLogEncoder {
    const SIGNAL: Signal = Signal::Logs;

    fn encode(&mut self, batch: &mut Vec<ScopedLogRecord>, encoding: Encoding) -> EncodedBody {
        self.0.encode(batch, encoding)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use otlp_proto::ExportRequest;
    use otlp_proto::collector::ExportLogsServiceRequest;

    #[test]
    fn groups_by_scope_and_gives_the_batch_back() {
        let table = Arc::new(Scopes::default());
        let a = table.register("a".into(), None, None);
        let b = table.register("b".into(), None, Some("https://example.com/s".into()));
        let record = |n: i64| LogRecord {
            body: Some(n.into()),
            ..LogRecord::default()
        };
        let items = [(a, 1), (b, 2), (a, 3), (b, 4), (b, 5)];
        let mut batch: Vec<ScopedLogRecord> = items
            .iter()
            .map(|&(scope, n)| ScopedLogRecord {
                scope,
                record: record(n),
            })
            .collect();
        let mut encoder = ScopedLogEncoder::new(Resource::default(), table);
        for encoding in [Encoding::Protobuf, Encoding::Json] {
            let body = encoder.encode(&mut batch, encoding);
            let bodies: Vec<_> = batch.iter().map(|i| i.record.body.clone()).collect();
            let expected: Vec<_> = items.iter().map(|(_, n)| Some((*n).into())).collect();
            assert_eq!(bodies, expected, "batch handed back in order");
            let decoded = match encoding {
                Encoding::Protobuf => ExportLogsServiceRequest::decode(&body.message()),
                Encoding::Json => ExportLogsServiceRequest::from_json(&body.message()),
            }
            .expect("decodes");
            assert_eq!(decoded.item_count(), 5);
            let scopes = &decoded.resource_logs[0].scope_logs;
            assert_eq!(scopes.len(), 2);
            assert_eq!(scopes[0].scope.as_ref().map(|s| &*s.name), Some("a"));
            assert_eq!(scopes[0].log_records, vec![record(1), record(3)]);
            assert_eq!(scopes[1].scope.as_ref().map(|s| &*s.name), Some("b"));
            assert_eq!(scopes[1].schema_url, "https://example.com/s");
            assert_eq!(scopes[1].log_records, vec![record(2), record(4), record(5)]);
        }
    }
}
