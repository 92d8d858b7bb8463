//! The independent check for metrics: the otel-arrow project's own Rust codec
//! (`otel-arrow-dfe-pdata`) decodes what our encoder writes to the same metrics, and our
//! decoder reads what it encodes.
//!
//! Both sides are compared after [`normalize_metrics`], as protobuf bytes.

use otel_arrow_dfe_pdata::proto::opentelemetry::arrow::v1::BatchArrowRecords as TheirBatch;
use otel_arrow_dfe_pdata::{
    Consumer, OtapArrowRecords, OtlpProtoBytes, Producer, TryFromWithOptions,
};
use otlp_otap::{BatchArrowRecords, MetricsDecoder, MetricsEncoder, normalize_metrics};
use otlp_proto::Message;
use otlp_proto::collector::ExportMetricsServiceRequest;
use prost::Message as _;

mod metrics_support;

/// Our batch, decoded by otel-arrow's consumer, as OTLP.
fn theirs_decode(
    consumer: &mut Consumer,
    batch: &BatchArrowRecords,
) -> Result<ExportMetricsServiceRequest, String> {
    let mut theirs = TheirBatch::decode(batch.encode_to_bytes()).map_err(|e| e.to_string())?;
    let otlp = consumer
        .consume_metrics_batches(&mut theirs)
        .map_err(|e| format!("{e:?}"))?;
    ExportMetricsServiceRequest::decode(&otlp.encode_to_vec().into()).map_err(|e| e.to_string())
}

/// `request` (normalized) encoded by otel-arrow's producer, as our batch.
fn theirs_encode(
    producer: &mut Producer,
    request: &ExportMetricsServiceRequest,
) -> BatchArrowRecords {
    let otlp =
        OtlpProtoBytes::ExportMetricsRequest(normalize_metrics(request.clone()).encode_to_bytes());
    let mut records =
        OtapArrowRecords::try_from_with_default(otlp).expect("otel-arrow converts OTLP");
    let theirs = producer
        .produce_bar(&mut records)
        .expect("otel-arrow encodes");
    BatchArrowRecords::decode(&theirs.encode_to_vec().into()).expect("our protobuf reads theirs")
}

fn same(got: ExportMetricsServiceRequest, want: ExportMetricsServiceRequest) -> Result<(), String> {
    let (got, want) = (normalize_metrics(got), normalize_metrics(want));
    if got.encode_to_bytes() == want.encode_to_bytes() {
        return Ok(());
    }
    // The requests are long: show where they part.
    let (got, want) = (format!("{got:#?}"), format!("{want:#?}"));
    let (g, w): (Vec<_>, Vec<_>) = (got.lines().collect(), want.lines().collect());
    let at = g.iter().zip(&w).take_while(|(a, b)| a == b).count();
    let around = |v: &[&str]| v[at.saturating_sub(12)..(at + 8).min(v.len())].join("\n");
    Err(format!(
        "line {at}:\n got: {}\nwant: {}",
        around(&g),
        around(&w)
    ))
}

/// Sorts `items` by their protobuf bytes.
fn by_bytes<M: Message>(items: &mut [M]) {
    items.sort_by_cached_key(|m| m.encode_to_bytes());
}

/// Exemplars as otel-arrow's encoder passes them on: empty trace and span ids as zeros.
fn zero_ids(exemplars: &mut [otlp_proto::metrics::Exemplar]) {
    for e in &mut *exemplars {
        for (id, size) in [(&mut e.trace_id, 16), (&mut e.span_id, 8)] {
            if id.is_empty() {
                *id = vec![0; size].into();
            }
        }
    }
    by_bytes(exemplars);
}

/// `request` normalized, with metrics, points and exemplars in a fixed order (otel-arrow's
/// encoder sorts its metrics, data-point and exemplar tables, and a decoder gives rows in
/// table order), and the exemplar ids as otel-arrow's encoder writes them.
fn sorted(request: ExportMetricsServiceRequest) -> ExportMetricsServiceRequest {
    use otlp_proto::metrics::MetricData;
    let mut request = normalize_metrics(request);
    for sm in request
        .resource_metrics
        .iter_mut()
        .flat_map(|rm| &mut rm.scope_metrics)
    {
        for m in &mut sm.metrics {
            match &mut m.data {
                Some(MetricData::Gauge(g)) => {
                    g.data_points
                        .iter_mut()
                        .for_each(|p| zero_ids(&mut p.exemplars));
                    by_bytes(&mut g.data_points);
                }
                Some(MetricData::Sum(s)) => {
                    s.data_points
                        .iter_mut()
                        .for_each(|p| zero_ids(&mut p.exemplars));
                    by_bytes(&mut s.data_points);
                }
                Some(MetricData::Histogram(h)) => {
                    h.data_points
                        .iter_mut()
                        .for_each(|p| zero_ids(&mut p.exemplars));
                    by_bytes(&mut h.data_points);
                }
                Some(MetricData::ExponentialHistogram(h)) => {
                    h.data_points
                        .iter_mut()
                        .for_each(|p| zero_ids(&mut p.exemplars));
                    by_bytes(&mut h.data_points);
                }
                Some(MetricData::Summary(s)) => by_bytes(&mut s.data_points),
                None => {}
            }
        }
        by_bytes(&mut sm.metrics);
    }
    request
}

fn requests() -> [ExportMetricsServiceRequest; 2] {
    [otlp_proto::sample::metrics(), metrics_support::every_kind()]
}

#[test]
fn otel_arrow_decodes_our_stream() {
    for request in requests() {
        let mut encoder = MetricsEncoder::new();
        let mut consumer = Consumer::default();
        for _ in 0..3 {
            let batch = encoder.encode(&request).expect("encodes");
            let got = theirs_decode(&mut consumer, &batch).expect("otel-arrow decodes ours");
            same(got, request.clone()).expect("the same metrics");
        }
    }
}

#[test]
fn we_decode_otel_arrows_stream() {
    for request in requests() {
        let mut producer = Producer::new();
        let mut decoder = MetricsDecoder::new();
        for _ in 0..3 {
            let batch = theirs_encode(&mut producer, &request);
            let got = decoder.decode(&batch).expect("we decode theirs");
            same(sorted(got), sorted(request.clone())).expect("the same metrics");
        }
    }
}
