//! Metrics over OTAP: [`MetricsEncoder`] and [`MetricsDecoder`].
//!
//! A request becomes up to seventeen tables, the root first:
//!
//! | payload | one row per | keyed by |
//! |---|---|---|
//! | `UNIVARIATE_METRICS` | metric | `id` (u16, delta), `resource.id`, `scope.id` (u16, delta) |
//! | `RESOURCE_ATTRS` | resource attribute | `parent_id` u16 = `resource.id` |
//! | `SCOPE_ATTRS` | scope attribute | `parent_id` u16 = `scope.id` |
//! | `{NUMBER,SUMMARY,HISTOGRAM,EXP_HISTOGRAM}_DATA_POINTS` | data point | `id` u32 (delta), `parent_id` u16 = metric `id` (delta) |
//! | `*_DP_ATTRS` | data point attribute | `parent_id` u32 = point `id` |
//! | `{NUMBER,HISTOGRAM,EXP_HISTOGRAM}_DP_EXEMPLARS` | exemplar | `id` u32 (delta), `parent_id` u32 = point `id` (quasi-delta on the value) |
//! | `*_DP_EXEMPLAR_ATTRS` | exemplar attribute | `parent_id` u32 = exemplar `id` |
//!
//! Gauges and sums share NUMBER_DATA_POINTS; a metric's `metric_type` says which table holds
//! its points. Empty tables are left out; a metric's `metadata` is not sent (the Go receiver
//! rejects METRIC_ATTRS).

mod decode;
mod lists;
mod normalize;
mod points;
mod tables;

use crate::attrs::AttrsTable;
use crate::coder::sealed::Sealed;
use crate::coder::{Decoder, Encoder, Signal, Tables};
use crate::items::{ResourceItems, Visit, of_request, walk};
use crate::stream::Writers;
use crate::{ArrowPayload, ArrowPayloadType, BatchArrowRecords, Error, Result};
use otlp_proto::collector::ExportMetricsServiceRequest;
use otlp_proto::metrics::{
    ExponentialHistogramDataPoint, HistogramDataPoint, Metric, MetricData, NumberDataPoint,
    SummaryDataPoint,
};
use points::{Point, PointsTable};
use std::collections::HashMap;
use tables::{ExemplarsTable, MetricsTable};

pub use normalize::normalize_metrics;

/// The payload types of metrics, the root first.
pub const METRICS_PAYLOADS: [ArrowPayloadType; 17] = [
    ArrowPayloadType::UnivariateMetrics,
    ArrowPayloadType::ResourceAttrs,
    ArrowPayloadType::ScopeAttrs,
    ArrowPayloadType::NumberDataPoints,
    ArrowPayloadType::NumberDpAttrs,
    ArrowPayloadType::NumberDpExemplars,
    ArrowPayloadType::NumberDpExemplarAttrs,
    ArrowPayloadType::SummaryDataPoints,
    ArrowPayloadType::SummaryDpAttrs,
    ArrowPayloadType::HistogramDataPoints,
    ArrowPayloadType::HistogramDpAttrs,
    ArrowPayloadType::HistogramDpExemplars,
    ArrowPayloadType::HistogramDpExemplarAttrs,
    ArrowPayloadType::ExpHistogramDataPoints,
    ArrowPayloadType::ExpHistogramDpAttrs,
    ArrowPayloadType::ExpHistogramDpExemplars,
    ArrowPayloadType::ExpHistogramDpExemplarAttrs,
];

/// Metrics: [`ExportMetricsServiceRequest`], root table `UNIVARIATE_METRICS`.
#[derive(Debug)]
pub struct Metrics;

/// The metrics encoder of one OTAP stream (see [`Encoder`]).
pub type MetricsEncoder = Encoder<Metrics>;

/// The metrics decoder of one OTAP stream (see [`Decoder`]).
pub type MetricsDecoder = Decoder<Metrics>;

impl Signal for Metrics {
    type Request = ExportMetricsServiceRequest;
    const PAYLOADS: &'static [ArrowPayloadType] = &METRICS_PAYLOADS;
}

/// The non-root tables of a batch being encoded, by payload type.
#[derive(Default)]
struct Children<'a> {
    number: PointsTable<'a, NumberDataPoint>,
    histogram: PointsTable<'a, HistogramDataPoint>,
    exp_histogram: PointsTable<'a, ExponentialHistogramDataPoint>,
    summary: PointsTable<'a, SummaryDataPoint>,
    exemplars: HashMap<ArrowPayloadType, ExemplarsTable<'a>>,
    attrs: HashMap<ArrowPayloadType, AttrsTable<'a>>,
}

fn too_many(what: &str) -> Error {
    Error::TooLarge(format!("more than 2^32 {what} in one batch"))
}

impl<'a> Children<'a> {
    fn attrs(&mut self, kind: ArrowPayloadType) -> &mut AttrsTable<'a> {
        self.attrs
            .entry(kind)
            .or_insert_with(|| AttrsTable::new(kind))
    }

    /// Adds `points` of the metric `metric` to `table`, with their attributes and exemplars.
    fn add<P: Point>(
        &mut self,
        table: fn(&mut Self) -> &mut PointsTable<'a, P>,
        metric: u16,
        points: &'a [P],
    ) -> Result<()> {
        for p in points {
            let id = u32::try_from(table(self).rows.len()).map_err(|_| too_many("points"))?;
            self.attrs(P::ATTRS).add(id, p.attributes());
            if let Some((kind, _)) = P::EXEMPLARS
                && !p.exemplars().is_empty()
            {
                let exemplars = self.exemplars.entry(kind).or_insert(ExemplarsTable {
                    kind,
                    rows: Vec::new(),
                });
                exemplars.rows.extend(p.exemplars().iter().map(|e| (id, e)));
            }
            table(self).rows.push((metric, p));
        }
        Ok(())
    }

    /// Puts the exemplar tables in table order and adds their attributes, keyed by the ids
    /// that order gives them.
    fn order_exemplars(&mut self) -> Result<()> {
        use ArrowPayloadType as P;
        for (kind, attrs_kind) in [
            (P::NumberDpExemplars, P::NumberDpExemplarAttrs),
            (P::HistogramDpExemplars, P::HistogramDpExemplarAttrs),
            (P::ExpHistogramDpExemplars, P::ExpHistogramDpExemplarAttrs),
        ] {
            let Some(mut table) = self.exemplars.remove(&kind) else {
                continue;
            };
            table.order();
            u32::try_from(table.rows.len()).map_err(|_| too_many("exemplars"))?;
            let attrs = self.attrs(attrs_kind);
            for (id, (_, e)) in (0u32..).zip(&table.rows) {
                attrs.add(id, &e.filtered_attributes);
            }
            self.exemplars.insert(kind, table);
        }
        Ok(())
    }

    /// The payload of `kind`, if it has rows.
    fn payload(
        &mut self,
        writers: &mut Writers,
        kind: ArrowPayloadType,
    ) -> Result<Option<ArrowPayload>> {
        use ArrowPayloadType as P;
        let some = |rows: usize| rows > 0;
        Ok(match kind {
            P::NumberDataPoints if some(self.number.rows.len()) => {
                Some(writers.payload(&self.number)?)
            }
            P::HistogramDataPoints if some(self.histogram.rows.len()) => {
                Some(writers.payload(&self.histogram)?)
            }
            P::ExpHistogramDataPoints if some(self.exp_histogram.rows.len()) => {
                Some(writers.payload(&self.exp_histogram)?)
            }
            P::SummaryDataPoints if some(self.summary.rows.len()) => {
                Some(writers.payload(&self.summary)?)
            }
            _ => {
                if let Some(t) = self.exemplars.get(&kind).filter(|t| some(t.rows.len())) {
                    Some(writers.payload(t)?)
                } else if let Some(t) = self.attrs.get_mut(&kind).filter(|t| !t.is_empty()) {
                    t.sort();
                    Some(writers.payload(&*t)?)
                } else {
                    None
                }
            }
        })
    }
}

impl Sealed for Metrics {
    type Req = ExportMetricsServiceRequest;

    fn decode(tables: &Tables) -> Result<ExportMetricsServiceRequest> {
        decode::decode(tables)
    }

    fn encode(
        writers: &mut Writers,
        request: &ExportMetricsServiceRequest,
    ) -> Result<Vec<ArrowPayload>> {
        let items = of_request(
            &request.resource_metrics,
            |rm| (rm.resource.as_ref(), &*rm.schema_url, &*rm.scope_metrics),
            |sm| (sm.scope.as_ref(), &*sm.schema_url, &*sm.metrics),
        );
        encode_metrics_of(writers, &items)
    }
}

impl Encoder<Metrics> {
    /// Encodes metrics grouped by resource and scope (an SDK's own batch) as the next batch
    /// of the stream: the same batch [`encode`](Encoder::encode) makes of the request that
    /// holds them, without the request.
    pub fn encode_items(
        &mut self,
        items: &[ResourceItems<'_, Metric>],
    ) -> Result<BatchArrowRecords> {
        self.encode_with(|writers| encode_metrics_of(writers, items))
    }
}

/// The tables of `items`, the root first.
fn encode_metrics_of(
    writers: &mut Writers,
    items: &[ResourceItems<'_, Metric>],
) -> Result<Vec<ArrowPayload>> {
    use ArrowPayloadType as P;
    let mut metrics = MetricsTable::default();
    let mut children = Children::default();
    walk(items, "metrics", |visit| {
        match visit {
            Visit::Resource(id, r) => children
                .attrs(P::ResourceAttrs)
                .add(u32::from(id), &r.attributes),
            Visit::Scope(id, s) => children
                .attrs(P::ScopeAttrs)
                .add(u32::from(id), &s.attributes),
            Visit::Item(id, row) => {
                match &row.item.data {
                    Some(MetricData::Gauge(g)) => {
                        children.add(|c| &mut c.number, id, &g.data_points)?
                    }
                    Some(MetricData::Sum(s)) => {
                        children.add(|c| &mut c.number, id, &s.data_points)?
                    }
                    Some(MetricData::Histogram(h)) => {
                        children.add(|c| &mut c.histogram, id, &h.data_points)?
                    }
                    Some(MetricData::ExponentialHistogram(h)) => {
                        children.add(|c| &mut c.exp_histogram, id, &h.data_points)?
                    }
                    Some(MetricData::Summary(s)) => {
                        children.add(|c| &mut c.summary, id, &s.data_points)?
                    }
                    None => {}
                }
                metrics.rows.push(row);
            }
        }
        Ok(())
    })?;
    children.order_exemplars()?;
    // The root payload first: the Go receiver dispatches on the first payload's type. It
    // is sent even when empty, so that every batch has one.
    let mut payloads = vec![writers.payload(&metrics)?];
    for kind in METRICS_PAYLOADS.into_iter().skip(1) {
        payloads.extend(children.payload(writers, kind)?);
    }
    Ok(payloads)
}

/// Encodes one request as a stream's first batch (a fresh [`MetricsEncoder`]).
pub fn encode_metrics(request: &ExportMetricsServiceRequest) -> Result<BatchArrowRecords> {
    MetricsEncoder::new().encode(request)
}

/// Decodes a stream's first batch (a fresh [`MetricsDecoder`]).
pub fn decode_metrics(batch: &BatchArrowRecords) -> Result<ExportMetricsServiceRequest> {
    MetricsDecoder::new().decode(batch)
}
