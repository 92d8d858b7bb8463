//! What the metrics pipeline carries ([`ScopedMetric`]: a collected metric and the index of its
//! meter's scope in the client's table) and its encoder: the shared scope-grouping encoder, as
//! for spans and log records.
//!
//! A collection keeps each point's attributes apart from the point ([`PointAttributes`]): a
//! series' key is already the protobuf encoding of its attributes, so the collection copies
//! those bytes (retagged for the point's field) instead of building attribute values, and the
//! protobuf encoder copies them into the request after the point's other fields (field order
//! is free in protobuf). JSON, and the requests [`collect_metrics`](crate::OtlpClient::collect_metrics)
//! returns, decode them into the points first ([`Collected::materialize`]).

use crate::body::EncodedBody;
use crate::pipeline::{BatchEncoder, PipelineItem};
use crate::scopes::{RequestKeys, ScopedEncoder, ScopedItem, Scopes};
use bytes::Bytes;
use otlp_proto::codec;
use otlp_proto::common::KeyValue;
use otlp_proto::decode::Reader;
#[cfg(feature = "json")]
use otlp_proto::json::JsonWriter;
use otlp_proto::metrics::{ExponentialHistogram, Histogram, Metric, MetricData, Sum};
use otlp_proto::resource::Resource;
use otlp_proto::{Encoding, Message, RevBuf, Signal};
use std::sync::Arc;

#[cfg(test)]
mod tests;

/// The key byte of a `KeyValueList`'s `values` (field 1, length-delimited): how series keys
/// tag each attribute.
const LIST_KEY: u8 = 0x0a;

/// The key byte of the `attributes` field of number points (gauges and sums: field 7,
/// length-delimited).
pub(crate) const NUMBER_ATTRIBUTES: u8 = (7 << 3) | 2;

/// The key byte of the `attributes` field of the points of `data` (field 7 of number points,
/// 9 of histogram points, 1 of exponential histogram points; length-delimited).
pub(crate) fn attributes_key(data: &MetricData) -> u8 {
    match data {
        MetricData::Gauge(_) | MetricData::Sum(_) | MetricData::Summary(_) => NUMBER_ATTRIBUTES,
        MetricData::Histogram(_) => (9 << 3) | 2,
        MetricData::ExponentialHistogram(_) => LIST_KEY,
    }
}

/// The attributes of a metric's points, in order: each point's `attributes` field as protobuf
/// bytes.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct PointAttributes {
    bytes: Vec<u8>,
    /// Where each point's bytes end.
    ends: Vec<usize>,
}

impl PointAttributes {
    /// Adds the next point's attributes: `key`, a series key (attributes tagged as a list's
    /// values), retagged with `field_key` (from [`attributes_key`]).
    pub(crate) fn push(&mut self, key: &[u8], field_key: u8) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(key);
        if field_key != LIST_KEY {
            // Each attribute: its key byte, a varint length, the attribute.
            let mut at = start;
            while at < self.bytes.len() {
                self.bytes[at] = field_key;
                let (len, n) = varint(&self.bytes[at + 1..]);
                at += 1 + n + len;
            }
        }
        self.ends.push(self.bytes.len());
    }

    /// How many points have attributes here.
    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.bytes[start..self.ends[i]]
    }
}

/// A varint at the start of `b` (one written by this module's callers, so well formed; a
/// truncated one reads as the rest of the bytes) and its length in bytes.
fn varint(b: &[u8]) -> (usize, usize) {
    let mut v = 0usize;
    for (i, byte) in b.iter().enumerate().take(10) {
        v |= usize::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return (v, i + 1);
        }
    }
    (b.len(), b.len())
}

/// A metric as a collection makes it: its points, and their attributes kept apart.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Collected {
    /// The metric; with [`Collected::attributes`] not empty, its points' own attribute lists
    /// are empty and those are theirs, point for point.
    pub(crate) metric: Metric,
    pub(crate) attributes: PointAttributes,
}

impl Collected {
    /// Moves the attributes kept apart into the points.
    pub(crate) fn materialize(&mut self) {
        if self.attributes.len() == 0 {
            return;
        }
        let PointAttributes { bytes, ends } = std::mem::take(&mut self.attributes);
        let bytes = Bytes::from(bytes);
        match &mut self.metric.data {
            Some(MetricData::Gauge(g)) => {
                fill(&mut g.data_points, &bytes, &ends, |p| &mut p.attributes)
            }
            Some(MetricData::Sum(s)) => {
                fill(&mut s.data_points, &bytes, &ends, |p| &mut p.attributes)
            }
            Some(MetricData::Histogram(h)) => {
                fill(&mut h.data_points, &bytes, &ends, |p| &mut p.attributes)
            }
            Some(MetricData::ExponentialHistogram(h)) => {
                fill(&mut h.data_points, &bytes, &ends, |p| &mut p.attributes)
            }
            Some(MetricData::Summary(_)) | None => {}
        }
    }

    /// The metric with every point's attributes in it.
    pub(crate) fn into_metric(mut self) -> Metric {
        self.materialize();
        self.metric
    }

    fn encoded_size_hint(&self) -> usize {
        self.metric.encoded_size_hint() + self.attributes.bytes.len()
    }

    /// Writes the `Metric` message's fields, back to front.
    fn encode_fields(&mut self, buf: &mut RevBuf) {
        let data = match self.metric.data.take() {
            Some(data) if self.attributes.len() > 0 => data,
            data => {
                self.metric.data = data;
                self.metric.encode_fields(buf);
                return;
            }
        };
        let mark = buf.len();
        let attributes = &self.attributes;
        let field = match &data {
            MetricData::Gauge(g) => {
                encode_points(&g.data_points, attributes, buf);
                5
            }
            MetricData::Sum(s) => {
                Sum {
                    data_points: Vec::new(),
                    ..*s
                }
                .encode_fields(buf);
                encode_points(&s.data_points, attributes, buf);
                7
            }
            MetricData::Histogram(h) => {
                Histogram {
                    data_points: Vec::new(),
                    ..*h
                }
                .encode_fields(buf);
                encode_points(&h.data_points, attributes, buf);
                9
            }
            MetricData::ExponentialHistogram(h) => {
                ExponentialHistogram {
                    data_points: Vec::new(),
                    ..*h
                }
                .encode_fields(buf);
                encode_points(&h.data_points, attributes, buf);
                10
            }
            MetricData::Summary(s) => {
                s.encode_fields(buf);
                11
            }
        };
        buf.finish_len_delimited(field, mark);
        // The name, description, unit and metadata: `data` is out.
        self.metric.encode_fields(buf);
        self.metric.data = Some(data);
    }
}

/// Writes `points` as the repeated field 1 of their data message, each with its attributes.
fn encode_points<P: Message>(points: &[P], attributes: &PointAttributes, buf: &mut RevBuf) {
    for (i, point) in points.iter().enumerate().rev() {
        let mark = buf.len();
        if i < attributes.len() {
            buf.put_slice(attributes.get(i));
        }
        point.encode_fields(buf);
        buf.finish_len_delimited(1, mark);
    }
}

/// Decodes each point's attributes (the bytes up to its end in `ends`) into the point, in one
/// pass over `bytes`. They were encoded by this process, so they decode; were they not, the
/// points left would go without attributes rather than fail the collection.
fn fill<P>(
    points: &mut [P],
    bytes: &Bytes,
    ends: &[usize],
    attributes: impl Fn(&mut P) -> &mut Vec<KeyValue>,
) {
    let mut r = Reader::new(bytes);
    for (point, &end) in points.iter_mut().zip(ends) {
        let list = attributes(point);
        while bytes.len() - r.remaining() < end {
            let mut kv = KeyValue::default();
            let decoded = r
                .key()
                .and_then(|(_, wt)| codec::message::merge_into(&mut kv, wt, &mut r));
            if decoded.is_err() {
                return;
            }
            list.push(kv);
        }
    }
}

/// A metric and its scope: what the metrics pipeline carries.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ScopedMetric {
    /// The scope's index in the client's table.
    pub(crate) scope: u32,
    pub(crate) metric: Collected,
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

    #[cfg(feature = "json")]
    fn write_json(&mut self, w: &mut JsonWriter) {
        self.metric.materialize();
        Message::write_json(&self.metric.metric, w);
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

    #[cfg(feature = "arrow")]
    fn stream_batch(
        &mut self,
        batch: &mut Vec<ScopedMetric>,
    ) -> Option<crate::pipeline::StreamBatch> {
        Some(self.0.stream_batch(batch))
    }
}

#[cfg(feature = "arrow")]
impl crate::scopes::OtapItem for ScopedMetric {
    type View = Metric;

    /// The points' attributes, kept apart as protobuf, placed in the points.
    fn prepare(&mut self) {
        self.metric.materialize();
    }

    fn view(&self) -> Option<&Metric> {
        Some(&self.metric.metric)
    }

    fn encode(
        encoder: &mut crate::transport::OtapEncoder,
        items: &[otlp_otap::ResourceItems<'_, Metric>],
    ) -> otlp_otap::Result<otlp_otap::BatchArrowRecords> {
        match encoder {
            crate::transport::OtapEncoder::Metrics(e) => e.encode_items(items),
            other => Err(crate::transport::not_this_signal(other)),
        }
    }
}
