//! From span records to an export request: the traces pipeline's encoder, the shared
//! [`ScopedEncoder`] over pooled span records.
//!
//! One traces pipeline serves every tracer of a client: each record carries the index of its
//! scope in the client's table ([`crate::scopes`]), and a request holds one `ScopeSpans` per
//! scope in the batch (scopes by first appearance, spans in batch order). The resource and each
//! scope are encoded once, when registered, and copied into every request as bytes; the spans
//! are written from their records directly (no intermediate OTLP message), back to front,
//! each record's attributes settled in the same visit as it is encoded.

use super::record::RecordedSpan;
#[cfg(feature = "arrow")]
use super::record::SpanRecord;
use crate::body::EncodedBody;
use crate::pipeline::BatchEncoder;
#[cfg(feature = "arrow")]
use crate::pipeline::StreamBatch;
#[cfg(feature = "arrow")]
use crate::scopes::OtapItem;
use crate::scopes::{RequestKeys, ScopedEncoder, ScopedItem, Scopes};
#[cfg(feature = "arrow")]
use crate::transport::{OtapEncoder, not_this_signal};
#[cfg(feature = "arrow")]
use otlp_otap::{BatchArrowRecords, ResourceItems, SpanView};
#[cfg(feature = "json")]
use otlp_proto::json::JsonWriter;
use otlp_proto::resource::Resource;
use otlp_proto::{Encoding, RevBuf, Signal};
#[cfg(feature = "json")]
use otlp_proto::{Message, trace as proto};
use std::sync::Arc;

impl ScopedItem for RecordedSpan {
    const KEYS: RequestKeys = RequestKeys::TRACES;

    #[inline]
    fn scope(&self) -> u32 {
        self.get().map_or(0, |r| r.scope)
    }

    /// Settles the attributes as it encodes them: one visit per record, whose memory was
    /// written on an application thread's core.
    #[inline]
    fn encode(&mut self, buf: &mut RevBuf) {
        if let Some(r) = self.get_mut() {
            r.settle_attributes();
            r.encode_fields(buf);
        }
    }

    /// Through the OTLP message (OTLP/JSON is not the fast path).
    #[cfg(feature = "json")]
    fn write_json(&mut self, w: &mut JsonWriter) {
        match self.get_mut() {
            Some(r) => {
                r.settle_attributes();
                r.to_otlp().write_json(w);
            }
            None => proto::Span::default().write_json(w),
        }
    }

    #[inline]
    fn prefetch_header(&self) {
        RecordedSpan::prefetch_header(self);
    }

    #[inline]
    fn prefetch_body(&self) {
        self.prefetch();
    }
}

/// Encodes batches of span records under one resource, grouped by scope.
#[derive(Debug)]
pub(crate) struct TraceEncoder(ScopedEncoder);

impl TraceEncoder {
    pub(crate) fn new(resource: Resource, scopes: Arc<Scopes>) -> Self {
        TraceEncoder(ScopedEncoder::with_table(resource, scopes))
    }
}

impl BatchEncoder<RecordedSpan> for TraceEncoder {
    const SIGNAL: Signal = Signal::Traces;

    fn encode(&mut self, batch: &mut Vec<RecordedSpan>, encoding: Encoding) -> EncodedBody {
        self.0.encode(batch, encoding)
    }

    #[cfg(feature = "arrow")]
    fn stream_batch(&mut self, batch: &mut Vec<RecordedSpan>) -> Option<StreamBatch> {
        Some(self.0.stream_batch(batch))
    }
}

/// OTAP streams read span records as they are: the Arrow tables are written from the
/// records' fields.
#[cfg(feature = "arrow")]
impl OtapItem for RecordedSpan {
    type View = SpanRecord;

    fn prepare(&mut self) {
        if let Some(r) = self.get_mut() {
            r.settle_attributes();
        }
    }

    fn view(&self) -> Option<&SpanRecord> {
        self.get()
    }

    fn encode(
        encoder: &mut OtapEncoder,
        items: &[ResourceItems<'_, SpanRecord>],
    ) -> otlp_otap::Result<BatchArrowRecords> {
        match encoder {
            OtapEncoder::Traces(e) => e.encode_items(items),
            other => Err(not_this_signal(other)),
        }
    }
}

#[cfg(feature = "arrow")]
impl SpanView for SpanRecord {
    fn trace_id(&self) -> &[u8] {
        &self.trace_id
    }
    fn span_id(&self) -> &[u8] {
        &self.span_id
    }
    fn trace_state(&self) -> &str {
        &self.trace_state
    }
    fn parent_span_id(&self) -> &[u8] {
        self.parent()
    }
    fn flags(&self) -> u32 {
        self.flags
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> i32 {
        self.kind
    }
    fn start_time_unix_nano(&self) -> u64 {
        self.start_time
    }
    fn end_time_unix_nano(&self) -> u64 {
        self.end_time
    }
    fn attributes(&self) -> &[otlp_proto::common::KeyValue] {
        &self.attributes
    }
    fn dropped_attributes_count(&self) -> u32 {
        self.dropped_attributes_count
    }
    fn events(&self) -> &[proto::Event] {
        &self.events
    }
    fn dropped_events_count(&self) -> u32 {
        self.dropped_events_count
    }
    fn links(&self) -> &[proto::Link] {
        &self.links
    }
    fn dropped_links_count(&self) -> u32 {
        self.dropped_links_count
    }
    fn status_code(&self) -> i32 {
        self.status_code
    }
    fn status_message(&self) -> &str {
        &self.status_message
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::SpanLimits;
    use otlp_proto::collector::ExportTraceServiceRequest;
    use otlp_proto::common::KeyValue;
    use otlp_proto::trace::ScopeSpans;

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
        // Scope b first: scopes come in order of first appearance, not of index.
        let mut batch = vec![span(b, "1"), span(a, "2"), span(b, "3")];
        let body = encoder.encode(&mut batch, Encoding::Protobuf);
        let names: Vec<&str> = batch
            .iter()
            .map(|s| s.get().map_or("", |r| r.name.as_str()))
            .collect();
        assert_eq!(names, ["1", "2", "3"], "the batch is left in its order");
        let decoded = ExportTraceServiceRequest::decode(&body.message()).expect("decodes");
        let groups = &decoded.resource_spans[0].scope_spans;
        assert_eq!(groups.len(), 2);
        let names = |g: &ScopeSpans| {
            g.spans
                .iter()
                .map(|s| s.name.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(groups[0].scope.as_ref().map(|s| s.name.as_str()), Some("b"));
        assert_eq!(names(&groups[0]), ["1", "3"], "batch order within a scope");
        assert_eq!(
            groups[0].schema_url,
            "https://opentelemetry.io/schemas/1.37.0"
        );
        assert_eq!(names(&groups[1]), ["2"]);
        let span = &groups[1].spans[0];
        assert_eq!(span.attributes.len(), 1, "duplicates settled");
        assert_eq!(span.attributes[0].value, Some("second".into()));
        // Each span exactly as its (settled) record's message encodes.
        let record = batch[1].get().expect("record");
        assert_eq!(span.encode_to_bytes(), record.to_otlp().encode_to_bytes());
        // JSON: the same request.
        let json = encoder.encode(&mut batch, Encoding::Json);
        let from_json = ExportTraceServiceRequest::from_json(&json.message()).expect("json");
        assert_eq!(from_json, decoded);
    }

    /// An OTAP stream given the batch's records (attributes not settled yet, a root span and
    /// a child, two scopes) encodes the batch the request of the protobuf body would make,
    /// and the fallback sends that body.
    #[cfg(feature = "arrow")]
    #[test]
    fn a_stream_batch_encodes_as_the_body_does() {
        use crate::transport::OtapEncoder;
        use otlp_otap::TracesEncoder;
        let scopes = Arc::new(Scopes::default());
        let a = scopes.register("a".into(), None, None);
        let b = scopes.register("b".into(), Some("1.0".into()), Some("https://s".into()));
        let resource = Resource {
            attributes: vec![KeyValue::new("service.name", "svc")],
            ..Resource::default()
        };
        let batch = || {
            let mut child = span(a, "2");
            if let Some(r) = child.get_mut() {
                r.parent_span_id = [9; 8];
                r.status_code = proto::StatusCode::Error as i32;
                r.status_message = "broke".into();
                r.events.push(proto::Event {
                    name: "retry".into(),
                    ..proto::Event::default()
                });
            }
            vec![span(b, "1"), child, span(b, "3")]
        };
        let mut encoder = TraceEncoder::new(resource, scopes);
        let body = encoder.encode(&mut batch(), Encoding::Protobuf);
        let request = ExportTraceServiceRequest::decode(&body.message()).expect("decodes");
        let want = TracesEncoder::new().encode(&request).expect("encodes");
        let mut items = batch();
        let stream = encoder.stream_batch(&mut items).expect("items");
        assert!(items.is_empty(), "the items are the stream's");
        let mut otap = OtapEncoder::Traces(TracesEncoder::new());
        let got = stream.encode_otap(&mut otap).expect("encodes");
        assert_eq!(got.encode_to_bytes(), want.encode_to_bytes());
        // Again (a retry on a new stream): the same tables.
        let mut otap = OtapEncoder::Traces(TracesEncoder::new());
        let again = stream.encode_otap(&mut otap).expect("encodes");
        assert_eq!(again.encode_to_bytes(), want.encode_to_bytes());
        assert_eq!(stream.encode_protobuf(), body, "the fallback's body");
    }
}
