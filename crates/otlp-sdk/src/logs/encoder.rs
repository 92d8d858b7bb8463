//! One logs pipeline for every instrumentation scope: records carry the index of their scope in
//! the client's table ([`crate::scopes`], shared with the tracers), and the encoder groups a
//! batch by scope into one request (the shared [`ScopedEncoder`]).

use crate::body::EncodedBody;
use crate::pipeline::{BatchEncoder, PipelineItem, Priority};
use crate::scopes::{RequestKeys, ScopedEncoder, ScopedItem, Scopes};
#[cfg(feature = "json")]
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

    #[cfg(feature = "json")]
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

    #[cfg(feature = "arrow")]
    fn stream_batch(
        &mut self,
        batch: &mut Vec<ScopedLogRecord>,
    ) -> Option<crate::pipeline::StreamBatch> {
        Some(self.0.stream_batch(batch))
    }
}

#[cfg(feature = "arrow")]
impl crate::scopes::OtapItem for ScopedLogRecord {
    type View = LogRecord;

    fn view(&self) -> Option<&LogRecord> {
        Some(&self.record)
    }

    fn encode(
        encoder: &mut crate::transport::OtapEncoder,
        items: &[otlp_otap::ResourceItems<'_, LogRecord>],
    ) -> otlp_otap::Result<otlp_otap::BatchArrowRecords> {
        match encoder {
            crate::transport::OtapEncoder::Logs(e) => e.encode_items(items),
            other => Err(crate::transport::not_this_signal(other)),
        }
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

    /// An OTAP stream given the batch's records encodes the batch the request of the
    /// protobuf body would make (grouped by scope the same way), and the fallback sends that
    /// body.
    #[cfg(feature = "arrow")]
    #[test]
    fn a_stream_batch_encodes_as_the_body_does() {
        use crate::transport::OtapEncoder;
        let table = Arc::new(Scopes::default());
        let a = table.register("a".into(), None, None);
        let b = table.register(
            "b".into(),
            Some("2".into()),
            Some("https://example.com/s".into()),
        );
        let resource = Resource {
            attributes: vec![otlp_proto::common::KeyValue::new("service.name", "svc")],
            ..Resource::default()
        };
        let batch = || -> Vec<ScopedLogRecord> {
            [(b, 1i64), (a, 2), (b, 3)]
                .iter()
                .map(|&(scope, n)| ScopedLogRecord {
                    scope,
                    record: LogRecord {
                        body: Some(n.into()),
                        attributes: vec![otlp_proto::common::KeyValue::new("n", n)],
                        ..LogRecord::default()
                    },
                })
                .collect()
        };
        let mut encoder = ScopedLogEncoder::new(resource, table);
        let body = encoder.encode(&mut batch(), Encoding::Protobuf);
        let request = ExportLogsServiceRequest::decode(&body.message()).expect("decodes");
        let want = otlp_otap::LogsEncoder::new()
            .encode(&request)
            .expect("encodes");
        let mut items = batch();
        let stream = encoder.stream_batch(&mut items).expect("items");
        assert!(items.is_empty(), "the items are the stream's");
        let mut otap = OtapEncoder::Logs(otlp_otap::LogsEncoder::new());
        let got = stream.encode_otap(&mut otap).expect("encodes");
        assert_eq!(got.encode_to_bytes(), want.encode_to_bytes());
        assert_eq!(stream.encode_protobuf(), body, "the fallback's body");
        let mut traces = OtapEncoder::Traces(otlp_otap::TracesEncoder::new());
        assert!(
            stream.encode_otap(&mut traces).is_err(),
            "not on a traces stream"
        );
    }
}
