//! From span records to an export request: the encoder that writes a batch of records of any
//! number of instrumentation scopes straight into protobuf.
//!
//! One traces pipeline serves every tracer of a client: each record carries the index of its
//! scope in the client's table ([`crate::scopes`]), and the encoder groups a batch by scope. The resource and each scope are encoded once,
//! when registered, and copied into every request as bytes; the spans are written from their
//! records directly (no intermediate OTLP message), back to front, into a buffer sized from the
//! previous request.

use super::record::RecordedSpan;
use crate::body::EncodedBody;
use crate::buffers::BufferPool;
use crate::pipeline::BatchEncoder;
use crate::scopes::{ScopeCache, Scopes};
use bytes::Bytes;
use otlp_proto::collector::ExportTraceServiceRequest;
use otlp_proto::resource::Resource;
use otlp_proto::trace::{ResourceSpans, ScopeSpans};
use otlp_proto::{Encoding, Message, Signal, Str};
use std::sync::Arc;

/// How many records ahead of the one being encoded to prefetch the attributes of (their
/// header having been fetched [`PREFETCH_DISTANCE`] records before that).
const PREFETCH_DISTANCE: usize = 4;

/// Encodes batches of span records under one resource, grouped by scope.
#[derive(Debug)]
pub(crate) struct TraceEncoder {
    resource: Resource,
    resource_encoded: Bytes,
    scopes: ScopeCache,
    /// The size of the last request, to size the next buffer without regrowing.
    last_len: usize,
    buffers: Arc<BufferPool>,
}

impl TraceEncoder {
    pub(crate) fn new(resource: Resource, scopes: Arc<Scopes>) -> Self {
        TraceEncoder {
            resource_encoded: resource.encode_to_bytes(),
            resource,
            scopes: ScopeCache::new(scopes),
            last_len: 0,
            buffers: Arc::default(),
        }
    }

    /// Orders the batch by scope (stable), so that each scope's spans are contiguous. Most
    /// batches have one scope and are left as they are.
    fn group_by_scope(batch: &mut [RecordedSpan]) {
        let mut sorted = true;
        let mut last = 0;
        for (i, item) in batch.iter().enumerate() {
            if let Some(r) = item.get() {
                sorted &= i == 0 || r.scope >= last;
                last = r.scope;
            }
        }
        if !sorted {
            batch.sort_by_key(|s| s.get().map_or(0, |r| r.scope));
        }
    }

    /// Settles each record's attributes as it encodes it: one visit per record, whose memory
    /// was written on an application thread's core.
    fn protobuf(&mut self, batch: &mut [RecordedSpan]) -> EncodedBody {
        let mut buf = self.buffers.take(self.last_len + self.last_len / 8 + 64);
        let mark_resource = buf.len();
        // Scope groups, last first (the buffer fills back to front).
        let mut end = batch.len();
        while end > 0 {
            let scope_index = batch[end - 1].get().map_or(0, |r| r.scope);
            let mut start = end;
            while start > 0 && batch[start - 1].get().map_or(0, |r| r.scope) == scope_index {
                start -= 1;
            }
            let mark_scope = buf.len();
            let (schema_url, encoded) = match self.scopes.get(scope_index) {
                Some(s) => (s.schema_url.clone(), s.encoded.clone()),
                None => (Str::new(), Bytes::new()),
            };
            if !schema_url.is_empty() {
                buf.put_bytes_field(3, schema_url.as_bytes());
            }
            for i in (start..end).rev() {
                // Records are scattered, and were written on another core: start loading the
                // header of one two strides ahead (its address is in the batch) and the
                // attributes of one a stride ahead (whose header that made arrive).
                if let Some(far) = i
                    .checked_sub(2 * PREFETCH_DISTANCE)
                    .and_then(|j| batch.get(j))
                {
                    far.prefetch_header();
                }
                if let Some(ahead) = i.checked_sub(PREFETCH_DISTANCE).and_then(|j| batch.get(j)) {
                    ahead.prefetch();
                }
                if let Some(r) = batch[i].get_mut() {
                    r.settle_attributes();
                    let mark = buf.len();
                    r.encode_fields(&mut buf);
                    buf.finish_len_delimited(2, mark);
                }
            }
            buf.put_bytes_field(1, &encoded);
            buf.finish_len_delimited(2, mark_scope);
            end = start;
        }
        buf.put_bytes_field(1, &self.resource_encoded);
        buf.finish_len_delimited(1, mark_resource);
        let len = buf.len();
        self.last_len = len;
        EncodedBody::framed_from(buf, len, &self.buffers)
    }

    /// The same request as OTLP messages (for OTLP/JSON, which is not the fast path).
    fn request(&mut self, batch: &[RecordedSpan]) -> ExportTraceServiceRequest {
        let mut scope_spans: Vec<ScopeSpans> = Vec::new();
        let mut current = None;
        for r in batch.iter().filter_map(RecordedSpan::get) {
            if current != Some(r.scope) {
                current = Some(r.scope);
                let (scope, schema_url) = match self.scopes.get(r.scope) {
                    Some(s) => (Some(s.scope.clone()), s.schema_url.clone()),
                    None => (None, Str::new()),
                };
                scope_spans.push(ScopeSpans {
                    scope,
                    spans: Vec::new(),
                    schema_url,
                });
            }
            if let Some(group) = scope_spans.last_mut() {
                group.spans.push(r.to_otlp());
            }
        }
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(self.resource.clone()),
                scope_spans,
                schema_url: Str::new(),
            }],
        }
    }
}

impl BatchEncoder<RecordedSpan> for TraceEncoder {
    const SIGNAL: Signal = Signal::Traces;

    fn encode(&mut self, batch: &mut Vec<RecordedSpan>, encoding: Encoding) -> EncodedBody {
        Self::group_by_scope(batch);
        match encoding {
            Encoding::Protobuf => self.protobuf(batch),
            Encoding::Json => {
                for r in batch.iter_mut().filter_map(RecordedSpan::get_mut) {
                    r.settle_attributes();
                }
                EncodedBody::encode(&self.request(batch), encoding)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::SpanLimits;
    use otlp_proto::common::KeyValue;

    fn span(scope: u32, name: &'static str) -> RecordedSpan {
        let mut s = RecordedSpan::take(SpanLimits::default());
        let r = s.get_mut().expect("record");
        r.trace_id = [7; 16];
        r.span_id = [scope as u8 + 1; 8];
        r.name = name.into();
        r.scope = scope;
        r.start_time = 1;
        r.end_time = 2;
        r.push_attribute(KeyValue::new("k", "first"));
        r.push_attribute(KeyValue::new("k", "second"));
        s
    }

    #[test]
    fn groups_by_scope_and_matches_the_message_encoding() {
        let scopes = Arc::new(Scopes::default());
        let a = scopes.register("a".into(), None, None);
        let b = scopes.register(
            "b".into(),
            Some("1.0".into()),
            Some("https://opentelemetry.io/schemas/1.37.0".into()),
        );
        let resource = Resource {
            attributes: vec![KeyValue::new("service.name", "svc")],
            ..Resource::default()
        };
        let mut encoder = TraceEncoder::new(resource, scopes);
        let mut batch = vec![span(a, "1"), span(b, "2"), span(a, "3")];
        let body = encoder.encode(&mut batch, Encoding::Protobuf);
        let decoded = ExportTraceServiceRequest::decode(&body.message()).expect("decodes");
        // The message form of the same (now grouped and settled) batch encodes identically.
        assert_eq!(decoded, encoder.request(&batch));
        assert_eq!(body.message(), encoder.request(&batch).encode_to_bytes());
        let groups = &decoded.resource_spans[0].scope_spans;
        assert_eq!(groups.len(), 2);
        let names = |g: &ScopeSpans| {
            g.spans
                .iter()
                .map(|s| s.name.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(groups[0].scope.as_ref().map(|s| s.name.as_str()), Some("a"));
        assert_eq!(names(&groups[0]), ["1", "3"], "stable within a scope");
        assert_eq!(names(&groups[1]), ["2"]);
        assert_eq!(
            groups[1].schema_url,
            "https://opentelemetry.io/schemas/1.37.0"
        );
        let attrs = &groups[0].spans[0].attributes;
        assert_eq!(attrs.len(), 1, "duplicates settled");
        assert_eq!(attrs[0].value, Some("second".into()));
        // JSON goes through the messages.
        let json = encoder.encode(&mut batch, Encoding::Json);
        let from_json = ExportTraceServiceRequest::from_json(&json.message()).expect("json");
        assert_eq!(from_json, decoded);
    }
}
