//! One logs pipeline for every instrumentation scope: records carry the index of their scope in
//! the client's table ([`crate::scopes`], shared with the tracers), and the encoder groups a
//! batch by scope into one request.

use crate::body::EncodedBody;
use crate::pipeline::{BatchEncoder, PipelineItem, Priority};
use crate::scopes::{ScopeCache, Scopes};
use otlp_proto::collector::ExportLogsServiceRequest;
use otlp_proto::logs::{LogRecord, ResourceLogs, ScopeLogs};
use otlp_proto::resource::Resource;
use otlp_proto::{Encoding, Signal};
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

/// Encodes records of one resource as an `ExportLogsServiceRequest` with one `ScopeLogs` per
/// scope present in the batch, in order of first appearance; within a scope, records keep
/// their batch order.
#[derive(Debug)]
pub(crate) struct ScopedLogEncoder {
    request: ExportLogsServiceRequest,
    table: ScopeCache,
    /// The scope index of each `ScopeLogs` of the request being built.
    scopes: Vec<u32>,
    /// The `ScopeLogs` index of each batch item.
    groups: Vec<usize>,
}

impl ScopedLogEncoder {
    pub(crate) fn new(resource: Resource, scopes: Arc<Scopes>) -> Self {
        ScopedLogEncoder {
            table: ScopeCache::new(scopes),
            request: ExportLogsServiceRequest {
                resource_logs: vec![ResourceLogs {
                    resource: Some(resource),
                    ..ResourceLogs::default()
                }],
            },
            scopes: Vec::new(),
            groups: Vec::new(),
        }
    }

    fn group_of(&mut self, scope: u32, scope_logs: &mut Vec<ScopeLogs>) -> usize {
        // Batches hold few scopes: a linear search, starting with the last one used.
        if let Some(&last) = self.groups.last()
            && self.scopes[last] == scope
        {
            return last;
        }
        if let Some(i) = self.scopes.iter().position(|&s| s == scope) {
            return i;
        }
        self.scopes.push(scope);
        let (scope, schema_url) = match self.table.get(scope) {
            Some(s) => (Some(s.scope.clone()), s.schema_url.clone()),
            None => (None, Default::default()),
        };
        scope_logs.push(ScopeLogs {
            scope,
            log_records: Vec::new(),
            schema_url,
        });
        scope_logs.len() - 1
    }
}

impl BatchEncoder<ScopedLogRecord> for ScopedLogEncoder {
    const SIGNAL: Signal = Signal::Logs;

    fn encode(&mut self, batch: &mut Vec<ScopedLogRecord>, encoding: Encoding) -> EncodedBody {
        if self.request.resource_logs.is_empty() {
            self.request.resource_logs.push(ResourceLogs::default());
        }
        self.scopes.clear();
        self.groups.clear();
        let mut scope_logs = Vec::new();
        // Move the records into their scope's group (no copy), remembering where each went.
        for item in batch.iter_mut() {
            let group = self.group_of(item.scope, &mut scope_logs);
            self.groups.push(group);
            scope_logs[group]
                .log_records
                .push(std::mem::take(&mut item.record));
        }
        self.request.resource_logs[0].scope_logs = scope_logs;
        let body = EncodedBody::encode(&self.request, encoding);
        // And back, in the batch's order: each group hands its records back in order.
        let scope_logs = std::mem::take(&mut self.request.resource_logs[0].scope_logs);
        let mut groups: Vec<_> = scope_logs
            .into_iter()
            .map(|s| s.log_records.into_iter())
            .collect();
        for (item, &group) in batch.iter_mut().zip(&self.groups) {
            if let Some(record) = groups[group].next() {
                item.record = record;
            }
        }
        self.scopes.clear();
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use otlp_proto::{ExportRequest, Message};

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
