//! The independent encoder: batches the otel-arrow project's own Rust codec
//! (`otel-arrow-dfe-pdata`) produces, several per stream, reach the sink as the requests they
//! encode.
//!
//! otel-arrow's encoder sorts its tables (spans by name, log records, data points ...), so the
//! requests come back in its order: both sides are compared with every list of items sorted
//! (by their protobuf bytes), after otlp-otap's `normalize_*`.

#[path = "../../otlp-receiver/tests/common/mod.rs"]
mod common;
mod peer;

use common::*;
use otel_arrow_dfe_pdata::Producer;
use otlp_otap::StatusCode;
use otlp_proto::{Encoding, Message, Request, Signal, sample};
use test_support::otap::{OtapStream, method, normalize};

fn by_bytes<M: Message>(items: &mut [M]) {
    items.sort_by_cached_key(|m| m.encode_to_bytes());
}

/// `request` normalized, with every list of items (and of their events, links, data points)
/// in protobuf-byte order.
fn sorted(request: Request) -> Vec<u8> {
    use otlp_proto::metrics::MetricData;
    let mut request = normalize(request);
    match &mut request {
        Request::Traces(r) => {
            for ss in r
                .resource_spans
                .iter_mut()
                .flat_map(|rs| &mut rs.scope_spans)
            {
                for span in &mut ss.spans {
                    by_bytes(&mut span.events);
                    by_bytes(&mut span.links);
                }
                by_bytes(&mut ss.spans);
            }
        }
        Request::Logs(r) => {
            for sl in r.resource_logs.iter_mut().flat_map(|rl| &mut rl.scope_logs) {
                by_bytes(&mut sl.log_records);
            }
        }
        Request::Metrics(r) => {
            for sm in r
                .resource_metrics
                .iter_mut()
                .flat_map(|rm| &mut rm.scope_metrics)
            {
                for m in &mut sm.metrics {
                    match &mut m.data {
                        Some(MetricData::Gauge(g)) => by_bytes(&mut g.data_points),
                        Some(MetricData::Sum(s)) => by_bytes(&mut s.data_points),
                        Some(MetricData::Histogram(h)) => by_bytes(&mut h.data_points),
                        Some(MetricData::ExponentialHistogram(h)) => by_bytes(&mut h.data_points),
                        Some(MetricData::Summary(s)) => by_bytes(&mut s.data_points),
                        None => {}
                    }
                }
                by_bytes(&mut sm.metrics);
            }
        }
        Request::Profiles(_) => {}
    }
    request.encode(Encoding::Protobuf).to_vec()
}

#[tokio::test]
async fn otel_arrows_batches_reach_the_sink_as_the_requests_they_encode() {
    let (sink, receiver) = start_memory().await;
    let addr = receiver.grpc_addr().expect("grpc");
    let client = h2_client();
    for signal in [Signal::Traces, Signal::Logs, Signal::Metrics] {
        sink.clear();
        let request = sample::request(signal);
        let mut producer = Producer::new();
        let mut stream = OtapStream::open(&client, addr, method(signal), &[]);
        for _ in 0..3 {
            let batch = peer::encode(&mut producer, &request);
            let status = stream.exchange(&batch).await;
            assert_eq!(status.batch_id, batch.batch_id, "{signal}");
            assert_eq!(
                status.code(),
                Some(StatusCode::Ok),
                "{signal}: {}",
                status.status_message
            );
        }
        assert_eq!(stream.finish().await.code, Some(0), "{signal}");
        let got = sink.requests();
        assert_eq!(got.len(), 3, "{signal}");
        for got in got {
            assert_eq!(got.request.item_count(), request.item_count(), "{signal}");
            assert_eq!(
                sorted(got.request),
                sorted(request.clone()),
                "{signal}: the same request"
            );
        }
    }
    receiver.shutdown().await;
}
