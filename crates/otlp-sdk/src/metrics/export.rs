//! What the metrics pipeline carries ([`ScopedMetric`]: a metric and the index of its meter's
//! scope in the client's table) and its encoder: the shared scope-grouping encoder, as for
//! spans and log records.

use crate::body::EncodedBody;
use crate::pipeline::{BatchEncoder, PipelineItem};
use crate::scopes::{RequestKeys, ScopedEncoder, ScopedItem, Scopes};
use otlp_proto::json::JsonWriter;
use otlp_proto::metrics::Metric;
use otlp_proto::resource::Resource;
use otlp_proto::{Encoding, Message, RevBuf, Signal};
use std::sync::Arc;

/// A metric and its scope: what the metrics pipeline carries.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ScopedMetric {
    /// The scope's index in the client's table.
    pub(crate) scope: u32,
    pub(crate) metric: Metric,
}

impl PipelineItem for ScopedMetric {
    fn encoded_size_hint(&self) -> usize {
        self.metric.encoded_size_hint()
    }
}

impl ScopedItem for ScopedMetric {
    const KEYS: RequestKeys = RequestKeys::METRICS;

    fn scope(&self) -> u32 {
        self.scope
    }

    fn encode(&mut self, buf: &mut RevBuf) {
        self.metric.encode_fields(buf);
    }

    fn write_json(&mut self, w: &mut JsonWriter) {
        Message::write_json(&self.metric, w);
    }
}

/// Encodes metrics of one resource as an `ExportMetricsServiceRequest` with one
/// `ScopeMetrics` per scope present in the batch.
#[derive(Debug)]
pub(crate) struct ScopedMetricEncoder(ScopedEncoder);

impl ScopedMetricEncoder {
    pub(crate) fn new(resource: Resource, scopes: Arc<Scopes>) -> Self {
        ScopedMetricEncoder(ScopedEncoder::with_table(resource, scopes))
    }
}

impl BatchEncoder<ScopedMetric> for ScopedMetricEncoder {
    const SIGNAL: Signal = Signal::Metrics;

    fn encode(&mut self, batch: &mut Vec<ScopedMetric>, encoding: Encoding) -> EncodedBody {
        self.0.encode(batch, encoding)
    }
}
