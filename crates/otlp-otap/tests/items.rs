//! `encode_items`: a batch grouped by resource and scope, from records that are not OTLP
//! messages (a span type of its own, as an SDK keeps), encodes to exactly the batch the
//! request holding the same items does, on a stream of several batches.

use otlp_otap::{
    LogsEncoder, MetricsEncoder, ResourceItems, ScopeItems, SpanView, TracesDecoder, TracesEncoder,
};
use otlp_proto::Message;
use otlp_proto::collector::{
    ExportLogsServiceRequest, ExportMetricsServiceRequest, ExportTraceServiceRequest,
};
use otlp_proto::common::KeyValue;
use otlp_proto::trace::{Event, Link, Span};
use proptest::prelude::*;

mod support;

#[path = "../../otlp-proto/tests/support/strategies/mod.rs"]
#[allow(clippy::all, missing_docs, unused)]
mod strategies;

/// A span record as an SDK keeps one: ids inline, a zero parent for a root span, the status
/// as two fields.
struct Record {
    trace_id: [u8; 16],
    span_id: [u8; 8],
    parent: [u8; 8],
    span: Span,
}

fn inline<const N: usize>(id: &[u8]) -> [u8; N] {
    let mut out = [0; N];
    let n = id.len().min(N);
    out[..n].copy_from_slice(&id[..n]);
    out
}

impl Record {
    fn of(span: &Span) -> Record {
        Record {
            trace_id: inline(&span.trace_id),
            span_id: inline(&span.span_id),
            parent: inline(&span.parent_span_id),
            span: span.clone(),
        }
    }
}

impl SpanView for Record {
    fn trace_id(&self) -> &[u8] {
        &self.trace_id
    }
    fn span_id(&self) -> &[u8] {
        &self.span_id
    }
    fn trace_state(&self) -> &str {
        &self.span.trace_state
    }
    fn parent_span_id(&self) -> &[u8] {
        if self.parent == [0; 8] {
            &[]
        } else {
            &self.parent
        }
    }
    fn flags(&self) -> u32 {
        self.span.flags
    }
    fn name(&self) -> &str {
        &self.span.name
    }
    fn kind(&self) -> i32 {
        self.span.kind
    }
    fn start_time_unix_nano(&self) -> u64 {
        self.span.start_time_unix_nano
    }
    fn end_time_unix_nano(&self) -> u64 {
        self.span.end_time_unix_nano
    }
    fn attributes(&self) -> &[KeyValue] {
        &self.span.attributes
    }
    fn dropped_attributes_count(&self) -> u32 {
        self.span.dropped_attributes_count
    }
    fn events(&self) -> &[Event] {
        &self.span.events
    }
    fn dropped_events_count(&self) -> u32 {
        self.span.dropped_events_count
    }
    fn links(&self) -> &[Link] {
        &self.span.links
    }
    fn dropped_links_count(&self) -> u32 {
        self.span.dropped_links_count
    }
    fn status_code(&self) -> i32 {
        self.span.status.as_ref().map_or(0, |s| s.code)
    }
    fn status_message(&self) -> &str {
        self.span.status.as_ref().map_or("", |s| &s.message)
    }
}

/// The request's spans as records: ids of the sizes OTAP carries (as an SDK makes them).
fn records(request: &ExportTraceServiceRequest) -> Vec<Vec<Vec<Record>>> {
    request
        .resource_spans
        .iter()
        .map(|rs| {
            rs.scope_spans
                .iter()
                .map(|ss| ss.spans.iter().map(Record::of).collect())
                .collect()
        })
        .collect()
}

/// `request` with its ids as the records hold them (16 and 8 bytes, an absent parent empty).
fn with_inline_ids(mut request: ExportTraceServiceRequest) -> ExportTraceServiceRequest {
    for span in request
        .resource_spans
        .iter_mut()
        .flat_map(|rs| &mut rs.scope_spans)
        .flat_map(|ss| &mut ss.spans)
    {
        let r = Record::of(span);
        span.trace_id = r.trace_id.to_vec().into();
        span.span_id = r.span_id.to_vec().into();
        span.parent_span_id = r.parent_span_id().to_vec().into();
    }
    request
}

fn assert_traces_alike(requests: &[ExportTraceServiceRequest]) {
    let (mut from_requests, mut from_items) = (TracesEncoder::new(), TracesEncoder::new());
    let mut decoder = TracesDecoder::new();
    for request in requests {
        let request = with_inline_ids(request.clone());
        let records = records(&request);
        let items: Vec<ResourceItems<'_, Record>> = request
            .resource_spans
            .iter()
            .zip(&records)
            .map(|(rs, scopes)| ResourceItems {
                resource: rs.resource.as_ref(),
                schema_url: &rs.schema_url,
                scopes: rs
                    .scope_spans
                    .iter()
                    .zip(scopes)
                    .map(|(ss, records)| ScopeItems {
                        scope: ss.scope.as_ref(),
                        schema_url: &ss.schema_url,
                        items: records.iter().collect(),
                    })
                    .collect(),
            })
            .collect();
        let want = from_requests.encode(&request).expect("the request encodes");
        let got = from_items.encode_items(&items).expect("the items encode");
        assert_eq!(got.encode_to_bytes(), want.encode_to_bytes());
        decoder.decode(&got).expect("decodes");
    }
}

#[test]
fn span_records_encode_as_their_request_does() {
    let sample = otlp_proto::sample::traces();
    assert_traces_alike(&[sample.clone(), support::repetitive(), sample]);
}

#[test]
fn an_empty_batch_still_has_its_root_payload() {
    let items: Vec<ResourceItems<'_, Record>> = Vec::new();
    let batch = TracesEncoder::new().encode_items(&items).expect("encodes");
    assert_eq!(batch.arrow_payloads.len(), 1);
    let empty = TracesEncoder::new()
        .encode(&ExportTraceServiceRequest::default())
        .expect("encodes");
    assert_eq!(batch.encode_to_bytes(), empty.encode_to_bytes());
}

#[test]
fn log_records_and_metrics_encode_as_their_requests_do() {
    let logs: ExportLogsServiceRequest = otlp_proto::sample::logs();
    let (mut a, mut b) = (LogsEncoder::new(), LogsEncoder::new());
    for _ in 0..3 {
        let items: Vec<_> = logs
            .resource_logs
            .iter()
            .map(|rl| ResourceItems {
                resource: rl.resource.as_ref(),
                schema_url: &rl.schema_url,
                scopes: rl
                    .scope_logs
                    .iter()
                    .map(|sl| ScopeItems {
                        scope: sl.scope.as_ref(),
                        schema_url: &sl.schema_url,
                        items: sl.log_records.iter().collect(),
                    })
                    .collect(),
            })
            .collect();
        assert_eq!(
            b.encode_items(&items).expect("encodes").encode_to_bytes(),
            a.encode(&logs).expect("encodes").encode_to_bytes()
        );
    }
    let metrics: ExportMetricsServiceRequest = otlp_proto::sample::metrics();
    let (mut a, mut b) = (MetricsEncoder::new(), MetricsEncoder::new());
    for _ in 0..3 {
        let items: Vec<_> = metrics
            .resource_metrics
            .iter()
            .map(|rm| ResourceItems {
                resource: rm.resource.as_ref(),
                schema_url: &rm.schema_url,
                scopes: rm
                    .scope_metrics
                    .iter()
                    .map(|sm| ScopeItems {
                        scope: sm.scope.as_ref(),
                        schema_url: &sm.schema_url,
                        items: sm.metrics.iter().collect(),
                    })
                    .collect(),
            })
            .collect();
        assert_eq!(
            b.encode_items(&items).expect("encodes").encode_to_bytes(),
            a.encode(&metrics).expect("encodes").encode_to_bytes()
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(strategies::cases(32)))]

    #[test]
    fn generated_span_records_encode_as_their_requests_do(
        requests in proptest::collection::vec(strategies::collector::trace_request(), 1..3),
    ) {
        assert_traces_alike(&requests);
    }
}
