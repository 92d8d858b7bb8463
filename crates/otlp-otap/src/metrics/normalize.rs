//! The form of a metrics request that survives OTAP unchanged.

use crate::normalize::{attributes, zeros_if_empty};
use otlp_proto::collector::ExportMetricsServiceRequest;
use otlp_proto::metrics::{Exemplar, Metric, MetricData};

/// `request` as decoding its OTAP encoding gives it back: resources and scopes without
/// metrics dropped, default resources, scopes and exponential histogram buckets absent,
/// metric `metadata` dropped (OTAP's METRIC_ATTRS is not sent), exemplars without a value
/// first within their point, empty exemplar ids all zeros, attributes (of resources, scopes,
/// points and exemplars) in table order (type, key, value), values without a value empty, and
/// the profile-only fields dropped.
///
/// ```
/// use otlp_otap::{decode_metrics, encode_metrics, normalize_metrics};
/// use otlp_proto::Message;
/// let request = otlp_proto::sample::metrics();
/// let back = decode_metrics(&encode_metrics(&request).unwrap()).unwrap();
/// assert_eq!(back.encode_to_bytes(), normalize_metrics(request).encode_to_bytes());
/// ```
pub fn normalize_metrics(mut request: ExportMetricsServiceRequest) -> ExportMetricsServiceRequest {
    request.resource_metrics.retain_mut(|rm| {
        rm.scope_metrics.retain(|sm| !sm.metrics.is_empty());
        if let Some(r) = &mut rm.resource {
            r.entity_refs.clear();
            attributes(&mut r.attributes);
        }
        rm.resource = rm.resource.take().filter(|r| *r != Default::default());
        for sm in &mut rm.scope_metrics {
            if let Some(s) = &mut sm.scope {
                attributes(&mut s.attributes);
            }
            sm.scope = sm.scope.take().filter(|s| *s != Default::default());
            sm.metrics.iter_mut().for_each(metric);
        }
        !rm.scope_metrics.is_empty()
    });
    request
}

/// Sorts the attributes of each point (`$points`) and normalizes its exemplars.
macro_rules! points {
    ($points:expr) => {
        for p in $points.iter_mut() {
            attributes(&mut p.attributes);
            exemplars(&mut p.exemplars);
        }
    };
}

/// Exemplars without a value first (the encoder's table order), attributes sorted, empty
/// ids as zeros.
fn exemplars(exemplars: &mut [Exemplar]) {
    exemplars.sort_by_key(|e| e.value.is_some());
    for e in exemplars {
        attributes(&mut e.filtered_attributes);
        zeros_if_empty(&mut e.trace_id, 16);
        zeros_if_empty(&mut e.span_id, 8);
    }
}

fn metric(m: &mut Metric) {
    m.metadata.clear();
    match &mut m.data {
        Some(MetricData::Gauge(g)) => points!(g.data_points),
        Some(MetricData::Sum(s)) => points!(s.data_points),
        Some(MetricData::Histogram(h)) => points!(h.data_points),
        Some(MetricData::ExponentialHistogram(h)) => {
            points!(h.data_points);
            for p in &mut h.data_points {
                for b in [&mut p.positive, &mut p.negative] {
                    *b = b.take().filter(|b| *b != Default::default());
                }
            }
        }
        Some(MetricData::Summary(s)) => s
            .data_points
            .iter_mut()
            .for_each(|p| attributes(&mut p.attributes)),
        None => {}
    }
}
