//! The global client: a no-op tracer that still propagates until a client is set, then the
//! client's tracers, and shutdown. One test, as the global client is process-wide.

mod common;

use otlp::trace::{Sampler, SpanContext, SpanId, TraceFlags, TraceId, TraceState};
use otlp::{ClientConfig, OtlpClient, Protocol};
use otlp_proto::Request;
use otlp_proto::common::KeyValue;
use otlp_proto::resource::Resource;
use otlp_receiver::MemorySink;
use std::time::Duration;

fn named(receiver: &otlp_receiver::RunningReceiver, name: &str) -> ClientConfig {
    ClientConfig::new()
        .with_exporter(common::config(receiver, Protocol::HttpProtobuf))
        .with_resource(Resource {
            attributes: vec![KeyValue::new("service.name", name.to_owned())],
            ..Resource::default()
        })
        .with_resource_detection(false)
        .with_sampler(Sampler::AlwaysOn)
}

fn service_name(c: &OtlpClient) -> Option<String> {
    c.resource().attributes[0]
        .value
        .as_ref()
        .and_then(|v| v.as_str().map(str::to_owned))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn global_client_lifecycle() {
    assert!(otlp::global::client().is_none());

    // No client: a no-op tracer whose spans record nothing but continue the current trace.
    let remote = SpanContext::new(
        TraceId::from_bytes([7; 16]),
        SpanId::from_bytes([8; 8]),
        TraceFlags::SAMPLED,
        true,
        TraceState::empty(),
    );
    {
        let _current = remote.clone().attach();
        let span = otlp::global::tracer("early").start("not recorded");
        assert!(!span.is_recording());
        assert_eq!(span.span_context().trace_id(), remote.trace_id());
    }

    let sink = MemorySink::new();
    let receiver = common::receiver(sink.clone()).await;
    let first = OtlpClient::new(named(&receiver, "first"))
        .await
        .expect("client");
    let second = OtlpClient::new(named(&receiver, "second"))
        .await
        .expect("client");
    assert!(otlp::global::set_client(first).is_none());
    let previous = otlp::global::set_client(second).expect("the first client");
    assert_eq!(service_name(&previous).as_deref(), Some("first"));
    let current = otlp::global::client().expect("set");
    assert_eq!(service_name(&current).as_deref(), Some("second"));
    drop(current);
    previous
        .shutdown(Duration::from_secs(5))
        .await
        .expect("shutdown first");

    let mut span = otlp::global::tracer("late").start("recorded");
    assert!(span.is_recording());
    span.end();
    otlp::global::shutdown(Duration::from_secs(10))
        .await
        .expect("shutdown");
    assert!(otlp::global::client().is_none());
    assert!(!otlp::global::tracer("after").start("x").is_recording());
    otlp::global::shutdown(Duration::from_secs(1))
        .await
        .expect("nothing to shut down");

    let names: Vec<(String, String)> = sink
        .requests()
        .into_iter()
        .filter_map(|r| match r.request {
            Request::Traces(t) => Some(t),
            _ => None,
        })
        .flat_map(|t| {
            t.spans()
                .map(|p| {
                    let service = p.resource.expect("resource").attributes[0]
                        .value
                        .as_ref()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default();
                    (service, p.item.name.to_string())
                })
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(names, [("second".to_owned(), "recorded".to_owned())]);
}
