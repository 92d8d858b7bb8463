//! What goes through a pipeline ([`PipelineItem`]) and how a batch becomes a request body
//! ([`BatchEncoder`]), with the implementations for the four signals' OTLP types. The
//! span, log and metric encoders are the crate's one scope-grouping encoder
//! (`crate::scopes::ScopedEncoder`) with a single scope.

use crate::body::EncodedBody;
use crate::scopes::{RequestKeys, ScopedEncoder, ScopedItem};
use otlp_proto::collector::ExportProfilesServiceRequest;
use otlp_proto::common::{AnyValue, InstrumentationScope, KeyValue, Value};
#[cfg(feature = "json")]
use otlp_proto::json::JsonWriter;
use otlp_proto::logs::LogRecord;
use otlp_proto::metrics::Metric;
use otlp_proto::resource::Resource;
use otlp_proto::trace::{Span, StatusCode};
use otlp_proto::{Encoding, Message, RevBuf, Signal};

/// How hard a full queue tries to keep an item (see
/// [`DropPolicy::DropLowPriority`](super::DropPolicy::DropLowPriority)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Priority {
    /// Ordinary telemetry.
    #[default]
    Normal,
    /// Kept longest: error spans, ERROR-and-above logs.
    High,
}

/// An item a pipeline carries: a span, a log record, a metric, a profile request.
///
/// Both methods are called by the pipeline's worker thread, except [`priority`] which the
/// enqueueing thread calls once per item when the policy is
/// [`DropLowPriority`](super::DropPolicy::DropLowPriority): keep it cheap and non-blocking.
///
/// [`priority`]: PipelineItem::priority
pub trait PipelineItem: Send + 'static {
    /// The item's priority. Default: [`Priority::Normal`].
    fn priority(&self) -> Priority {
        Priority::Normal
    }

    /// An estimate of the item's protobuf-encoded size in bytes, used to split batches under the
    /// byte cap before encoding. It need not be exact: a body that still comes out too large is
    /// split again after encoding.
    fn encoded_size_hint(&self) -> usize;
}

/// Turns a batch of items into one export request body, encoded once.
///
/// Called only from the pipeline's worker thread, never concurrently, and never with more than
/// [`MAX_ITEMS_PER_REQUEST`](BatchEncoder::MAX_ITEMS_PER_REQUEST) items. Must not block:
/// encoding is CPU work on the worker. Retries are not the encoder's concern: the exporter
/// re-sends the same bytes.
pub trait BatchEncoder<T>: Send + 'static {
    /// The signal the bodies are requests of.
    const SIGNAL: Signal;

    /// The most items one request may hold (1 for items that are whole requests).
    const MAX_ITEMS_PER_REQUEST: usize = usize::MAX;

    /// Encodes `batch` as one request in `encoding`.
    ///
    /// The encoder may move the items out of `batch` while encoding (to place them in a request
    /// without copying), but must leave the same items, in the same order, in `batch` when it
    /// returns: the pipeline may split the batch and encode the halves if the body is over the
    /// byte cap.
    fn encode(&mut self, batch: &mut Vec<T>, encoding: Encoding) -> EncodedBody;

    /// For an OTLP/Arrow route: `batch`'s items, taken, as a batch the stream encodes
    /// straight into Arrow; or `None` (the default), and the stream reads the request back
    /// from [`encode`](BatchEncoder::encode)'s body. The SDK's own span, log and metric
    /// encoders hand over their items.
    #[cfg(feature = "arrow")]
    fn stream_batch(&mut self, batch: &mut Vec<T>) -> Option<crate::pipeline::StreamBatch> {
        let _ = batch;
        None
    }
}

fn value_size(v: &AnyValue) -> usize {
    2 + match &v.value {
        None => 0,
        Some(Value::StringValue(s)) => s.len() + 2,
        Some(Value::BytesValue(b)) => b.len() + 2,
        Some(Value::BoolValue(_)) => 2,
        Some(Value::IntValue(_) | Value::DoubleValue(_)) => 9,
        Some(Value::ArrayValue(a)) => 2 + a.values.iter().map(value_size).sum::<usize>(),
        Some(Value::KvlistValue(l)) => 2 + attributes_size(&l.values),
        #[allow(unreachable_patterns)]
        Some(_) => 16,
    }
}

/// An estimate of one attribute's encoded size.
fn kv_size_hint(kv: &KeyValue) -> usize {
    4 + kv.key.len() + kv.value.as_ref().map_or(0, value_size)
}

fn attributes_size(attributes: &[KeyValue]) -> usize {
    attributes.iter().map(kv_size_hint).sum()
}

impl PipelineItem for Span {
    /// [`Priority::High`] for a span whose status is ERROR.
    fn priority(&self) -> Priority {
        match &self.status {
            Some(s) if s.code == StatusCode::Error as i32 => Priority::High,
            _ => Priority::Normal,
        }
    }

    fn encoded_size_hint(&self) -> usize {
        let events: usize = self
            .events
            .iter()
            .map(|e| 14 + e.name.len() + attributes_size(&e.attributes))
            .sum();
        let links: usize = self
            .links
            .iter()
            .map(|l| 34 + l.trace_state.len() + attributes_size(&l.attributes))
            .sum();
        let status = self.status.as_ref().map_or(0, |s| 6 + s.message.len());
        64 + self.trace_id.len()
            + self.span_id.len()
            + self.parent_span_id.len()
            + self.trace_state.len()
            + self.name.len()
            + attributes_size(&self.attributes)
            + events
            + links
            + status
    }
}

impl PipelineItem for LogRecord {
    /// [`Priority::High`] for severity ERROR (17) and above.
    fn priority(&self) -> Priority {
        if self.severity_number >= 17 {
            Priority::High
        } else {
            Priority::Normal
        }
    }

    fn encoded_size_hint(&self) -> usize {
        40 + self.severity_text.len()
            + self.body.as_ref().map_or(0, value_size)
            + attributes_size(&self.attributes)
            + self.trace_id.len()
            + self.span_id.len()
            + self.event_name.len()
    }
}

impl PipelineItem for Metric {
    fn encoded_size_hint(&self) -> usize {
        // Data points are not walked: 64 bytes each is a typical small point with a few
        // attributes; the byte cap is enforced on the encoded body anyway.
        16 + self.name.len()
            + self.description.len()
            + self.unit.len()
            + 64 * self.data_point_count()
    }
}

/// A whole profiles request is one item: its profiles share the request's dictionary, so two
/// requests cannot be merged into one.
impl PipelineItem for ExportProfilesServiceRequest {
    fn encoded_size_hint(&self) -> usize {
        // Never batched with another item, so the estimate never decides a split.
        0
    }
}

/// The OTLP items of the public single-scope encoders: all under the encoder's one scope.
macro_rules! one_scope_item {
    ($item:ty, $keys:ident) => {
        impl ScopedItem for $item {
            const KEYS: RequestKeys = RequestKeys::$keys;

            #[inline]
            fn scope(&self) -> u32 {
                0
            }

            #[inline]
            fn encode(&mut self, buf: &mut RevBuf) {
                self.encode_fields(buf);
            }

            #[cfg(feature = "json")]
            fn write_json(&mut self, w: &mut JsonWriter) {
                Message::write_json(self, w);
            }
        }
    };
}

one_scope_item!(Span, TRACES);
one_scope_item!(LogRecord, LOGS);
one_scope_item!(Metric, METRICS);

/// Encodes spans of one resource and one instrumentation scope as an
/// `ExportTraceServiceRequest`.
#[derive(Debug, Clone, Default)]
pub struct SpanEncoder(ScopedEncoder);

impl SpanEncoder {
    /// An encoder putting every span under `resource` and `scope`.
    pub fn new(resource: Option<Resource>, scope: Option<InstrumentationScope>) -> Self {
        SpanEncoder(ScopedEncoder::one_scope(resource, scope))
    }

    /// Sends the scope's spans with this schema URL (`ScopeSpans.schema_url`).
    pub fn with_schema_url(mut self, schema_url: impl Into<otlp_proto::Str>) -> Self {
        self.0.set_schema_url(schema_url.into());
        self
    }
}

impl BatchEncoder<Span> for SpanEncoder {
    const SIGNAL: Signal = Signal::Traces;

    fn encode(&mut self, batch: &mut Vec<Span>, encoding: Encoding) -> EncodedBody {
        self.0.encode(batch, encoding)
    }
}

/// Encodes log records of one resource and one instrumentation scope as an
/// `ExportLogsServiceRequest`.
#[derive(Debug, Clone, Default)]
pub struct LogEncoder(ScopedEncoder);

impl LogEncoder {
    /// An encoder putting every record under `resource` and `scope`.
    pub fn new(resource: Option<Resource>, scope: Option<InstrumentationScope>) -> Self {
        LogEncoder(ScopedEncoder::one_scope(resource, scope))
    }
}

impl BatchEncoder<LogRecord> for LogEncoder {
    const SIGNAL: Signal = Signal::Logs;

    fn encode(&mut self, batch: &mut Vec<LogRecord>, encoding: Encoding) -> EncodedBody {
        self.0.encode(batch, encoding)
    }
}

/// Encodes metrics of one resource and one instrumentation scope as an
/// `ExportMetricsServiceRequest`.
#[derive(Debug, Clone, Default)]
pub struct MetricEncoder(ScopedEncoder);

impl MetricEncoder {
    /// An encoder putting every metric under `resource` and `scope`.
    pub fn new(resource: Option<Resource>, scope: Option<InstrumentationScope>) -> Self {
        MetricEncoder(ScopedEncoder::one_scope(resource, scope))
    }
}

impl BatchEncoder<Metric> for MetricEncoder {
    const SIGNAL: Signal = Signal::Metrics;

    fn encode(&mut self, batch: &mut Vec<Metric>, encoding: Encoding) -> EncodedBody {
        self.0.encode(batch, encoding)
    }
}

/// Encodes a profiles request as it is (one request per export).
#[derive(Debug, Clone, Copy, Default)]
pub struct ProfilesEncoder;

impl BatchEncoder<ExportProfilesServiceRequest> for ProfilesEncoder {
    const SIGNAL: Signal = Signal::Profiles;
    const MAX_ITEMS_PER_REQUEST: usize = 1;

    fn encode(
        &mut self,
        batch: &mut Vec<ExportProfilesServiceRequest>,
        encoding: Encoding,
    ) -> EncodedBody {
        match batch.first() {
            Some(request) => EncodedBody::encode(request, encoding),
            None => EncodedBody::encode(&ExportProfilesServiceRequest::default(), encoding),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use otlp_proto::collector::{
        ExportLogsServiceRequest, ExportMetricsServiceRequest, ExportTraceServiceRequest,
    };
    use otlp_proto::trace::Status;
    use otlp_proto::{ExportRequest, sample};

    #[test]
    fn priorities_follow_status_and_severity() {
        let mut span = Span::default();
        assert_eq!(span.priority(), Priority::Normal);
        span.status = Some(Status {
            code: StatusCode::Error as i32,
            ..Status::default()
        });
        assert_eq!(span.priority(), Priority::High);
        let mut log = LogRecord {
            severity_number: 13, // WARN
            ..LogRecord::default()
        };
        assert_eq!(log.priority(), Priority::Normal);
        log.severity_number = 17; // ERROR
        assert_eq!(log.priority(), Priority::High);
        log.severity_number = 21; // FATAL
        assert_eq!(log.priority(), Priority::High);
    }

    #[test]
    fn encoders_give_back_the_batch_and_encode_it_whole() {
        let request = sample::traces();
        let spans: Vec<Span> = request.resource_spans[0].scope_spans[0].spans.clone();
        let mut batch = spans.clone();
        let mut encoder = SpanEncoder::new(
            request.resource_spans[0].resource.clone(),
            request.resource_spans[0].scope_spans[0].scope.clone(),
        );
        for encoding in [Encoding::Protobuf, Encoding::Json] {
            let body = encoder.encode(&mut batch, encoding);
            assert_eq!(batch, spans, "items handed back");
            let decoded = match encoding {
                Encoding::Protobuf => ExportTraceServiceRequest::decode(&body.message()),
                Encoding::Json => ExportTraceServiceRequest::from_json(&body.message()),
            }
            .expect("decodes");
            assert_eq!(decoded.item_count(), spans.len());
            assert_eq!(decoded.resource_spans[0].scope_spans[0].spans, spans);
        }
        // The estimate is in the right range of the real size.
        let real = EncodedBody::encode(&request, Encoding::Protobuf).len();
        let hint: usize = spans.iter().map(PipelineItem::encoded_size_hint).sum();
        assert!(
            hint * 3 >= real && hint <= real * 3,
            "hint {hint}, real {real}"
        );

        let logs = sample::logs();
        let records = logs.resource_logs[0].scope_logs[0].log_records.clone();
        let mut batch = records.clone();
        let body = LogEncoder::default().encode(&mut batch, Encoding::Protobuf);
        assert_eq!(batch, records);
        let decoded = ExportLogsServiceRequest::decode(&body.message()).expect("decodes");
        assert_eq!(decoded.item_count(), records.len());

        let metrics = sample::metrics();
        let items = metrics.resource_metrics[0].scope_metrics[0].metrics.clone();
        let mut batch = items.clone();
        let body = MetricEncoder::default().encode(&mut batch, Encoding::Protobuf);
        let decoded = ExportMetricsServiceRequest::decode(&body.message()).expect("decodes");
        assert_eq!(decoded.resource_metrics[0].scope_metrics[0].metrics, items);

        let profiles = sample::profiles();
        let body = ProfilesEncoder.encode(&mut vec![profiles.clone()], Encoding::Protobuf);
        assert_eq!(
            ExportProfilesServiceRequest::decode(&body.message()).expect("decodes"),
            profiles
        );
    }
}
