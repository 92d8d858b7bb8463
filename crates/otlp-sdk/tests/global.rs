//! The global client: a no-op tracer that still propagates until a client is set, then the
//! client's tracers, and shutdown. One test, as the global client is process-wide.

use otlp::OtlpClient;
use otlp::trace::{Sampler, SpanContext, SpanId, TraceFlags, TraceId, TraceState};
use std::time::Duration;
use test_support::client::{Exported, Harness};

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

    let h = Harness::builder()
        .service_name("first")
        .start(|config| config.with_sampler(Sampler::AlwaysOn))
        .await;
    let second = OtlpClient::new(h.config("second").with_sampler(Sampler::AlwaysOn))
        .await
        .expect("client");
    let Harness {
        client: first,
        sink,
        receiver: _receiver,
        ..
    } = h;
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

    let requests = sink.requests().into_iter().map(|r| r.request);
    let names: Vec<(String, String)> = Exported::of(requests)
        .spans
        .into_iter()
        .map(|p| {
            let service = p.resource.expect("resource").attributes[0]
                .value
                .as_ref()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            (service, p.item.name.to_string())
        })
        .collect();
    assert_eq!(names, [("second".to_owned(), "recorded".to_owned())]);
}
