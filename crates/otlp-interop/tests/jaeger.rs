//! Check 3: Jaeger v2 (module v1.76.0, in-memory storage) end to end. Traces exported by our
//! exporter over OTLP/gRPC, OTLP/HTTP protobuf and OTLP/HTTP JSON are queried back from
//! `GET /api/v3/traces/{trace_id}` and compared span by span with what was sent: names, parent
//! ids, kinds, timestamps, attributes with their types, status, events and links.

use bytes::Bytes;
use otlp::{Exporter, ExporterConfig, Protocol, RetryPolicy};
use otlp_interop::{Jaeger, compare, tail, temp_dir};
use otlp_proto::collector::ExportTraceServiceRequest;
use otlp_proto::trace::Span;
use otlp_proto::{Encoding, Request, Signal, sample};
use std::collections::BTreeMap;
use std::time::Duration;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The sample traces, moved to a trace id of their own.
fn traces_with_id(trace_id: [u8; 16]) -> ExportTraceServiceRequest {
    let mut request = sample::traces();
    for span in request
        .resource_spans
        .iter_mut()
        .flat_map(|rs| &mut rs.scope_spans)
        .flat_map(|ss| &mut ss.spans)
    {
        span.trace_id = Bytes::copy_from_slice(&trace_id);
    }
    request
}

fn spans(request: &ExportTraceServiceRequest) -> BTreeMap<String, Span> {
    request
        .spans()
        .map(|p| (hex(&p.item.span_id), p.item.clone()))
        .collect()
}

/// What Jaeger is expected to keep of a span. Jaeger's storage model has no place for some OTLP
/// fields, so they are cleared on both sides before comparing (each one observed, see below).
fn comparable(span: &Span) -> Span {
    let mut span = span.clone();
    // Jaeger returns attributes sorted by key (order carries no meaning in OTLP).
    span.attributes.sort_by(|a, b| a.key.cmp(&b.key));
    for event in &mut span.events {
        event.attributes.sort_by(|a, b| a.key.cmp(&b.key));
    }
    for link in &mut span.links {
        link.attributes.sort_by(|a, b| a.key.cmp(&b.key));
    }
    span
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_exported_to_jaeger_are_queried_back_intact() {
    let dir = temp_dir("jaeger");
    let jaeger = tokio::task::spawn_blocking(move || Jaeger::start(&dir))
        .await
        .expect("join");
    let cases = [
        (Protocol::Grpc, 0x01_u8),
        (Protocol::HttpProtobuf, 0x02),
        (Protocol::HttpJson, 0x03),
    ];
    for (protocol, tag) in cases {
        let mut trace_id = sample::TRACE_ID;
        trace_id[0] = tag;
        let sent = traces_with_id(trace_id);
        let endpoint = match protocol {
            Protocol::Grpc => format!("http://{}", jaeger.otlp_grpc),
            _ => format!("http://{}", jaeger.otlp_http),
        };
        let exporter = Exporter::new(
            ExporterConfig::new()
                .with_protocol(protocol)
                .with_endpoint(endpoint)
                .with_timeout(Duration::from_secs(10))
                .with_retry(RetryPolicy::disabled()),
        )
        .expect("exporter");
        exporter.export(&sent).await.unwrap_or_else(|e| {
            panic!("{protocol}: {e}\nJaeger log:\n{}", tail(&jaeger.log(), 30))
        });

        let id = hex(&trace_id);
        let want = spans(&sent);
        let count = want.len();
        let answer =
            tokio::task::block_in_place(|| jaeger.trace(&id, count, Duration::from_secs(20)))
                .unwrap_or_else(|| {
                    panic!(
                        "{protocol}: trace {id} not found in Jaeger; log:\n{}",
                        tail(&jaeger.log(), 30)
                    )
                });
        let result = serde_json::to_vec(&answer["result"]).expect("re-serialize");
        let got = match Request::decode(Signal::Traces, Encoding::Json, &Bytes::from(result)) {
            Ok(Request::Traces(t)) => t,
            other => {
                panic!("{protocol}: Jaeger's answer is not OTLP/JSON traces: {other:?}\n{answer}")
            }
        };
        // The resource and the scope, attributes in any order.
        let sorted = |kvs: &[otlp_proto::common::KeyValue]| {
            let mut kvs = kvs.to_vec();
            kvs.sort_by(|a, b| a.key.cmp(&b.key));
            kvs
        };
        for rs in &got.resource_spans {
            let resource = rs.resource.as_ref().expect("resource");
            let sent_resource = sent.resource_spans[0].resource.as_ref().expect("resource");
            assert_eq!(
                sorted(&resource.attributes),
                sorted(&sent_resource.attributes),
                "{protocol}: resource"
            );
            for ss in &rs.scope_spans {
                let mut scope = ss.scope.clone().expect("scope");
                let mut sent_scope = sent.resource_spans[0].scope_spans[0]
                    .scope
                    .clone()
                    .expect("scope");
                scope.attributes = sorted(&scope.attributes);
                sent_scope.attributes = sorted(&sent_scope.attributes);
                assert_eq!(scope, sent_scope, "{protocol}: scope");
            }
        }
        let got = spans(&got);
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>(),
            "{protocol}: span ids"
        );
        for (span_id, want_span) in &want {
            let what = format!("{protocol}: span {span_id} ({})", want_span.name);
            compare::assert_same(
                &what,
                &Request::from(one_span(comparable(want_span))),
                &Request::from(one_span(comparable(&got[span_id]))),
            );
        }
    }
}

fn one_span(span: Span) -> ExportTraceServiceRequest {
    let mut request = sample::traces();
    request.resource_spans.truncate(1);
    request.resource_spans[0].scope_spans.truncate(1);
    request.resource_spans[0].scope_spans[0].spans = vec![span];
    request
}
