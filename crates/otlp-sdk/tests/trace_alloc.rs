//! Spans allocate nothing on the application thread: unsampled ones ever, sampled ones at steady
//! state. Checked with a counting allocator.

use otlp::trace::{Sampler, SpanContext, SpanLimits, Status, Tracer};
use otlp::{ClientConfig, ExporterConfig, OtlpClient};
use otlp_proto::resource::Resource;
use test_support::alloc::allocations_in;

#[global_allocator]
static ALLOCATOR: test_support::alloc::Counting = test_support::alloc::Counting;

fn exercise(tracer: &Tracer) {
    let mut span = tracer
        .span_builder("op")
        .with_parent(&SpanContext::INVALID)
        .start();
    assert!(!span.is_recording());
    span.set_attribute("k", 1i64);
    span.set_attribute("s", "static");
    span.add_event("e", Vec::new());
    span.set_status(Status::Ok);
    span.update_name("renamed");
    {
        let _guard = span.enter();
        let mut child = tracer.start("child");
        child.set_attribute("k", true);
    }
    span.end();
}

#[test]
fn unsampled_spans_allocate_nothing() {
    let client = OtlpClient::new_blocking(
        ClientConfig::new()
            .with_exporter(ExporterConfig::default())
            .with_resource(Resource::default())
            .with_sampler(Sampler::AlwaysOff)
            .with_span_limits(SpanLimits::default())
            .with_traces_pipeline(otlp::pipeline::AdaptiveBatchConfig::default()),
    )
    .expect("client");
    let tracer = client.tracer("alloc");
    // Warm up this thread's id generator and context stack.
    exercise(&tracer);
    assert_eq!(allocations_in(|| exercise(&tracer)), 0);
    let noop = Tracer::noop();
    exercise(&noop);
    assert_eq!(allocations_in(|| exercise(&noop)), 0);
}

#[test]
fn entering_spans_under_baggage_allocates_nothing() {
    let mut baggage = otlp::trace::propagation::Baggage::new();
    assert!(baggage.insert("tenant", "acme"));
    let _current = baggage.clone().attach();
    let noop = Tracer::noop();
    // Warm up this thread's id generator and context stack.
    exercise(&noop);
    assert_eq!(allocations_in(|| exercise(&noop)), 0);
    assert_eq!(otlp::trace::propagation::Baggage::current(), baggage);
}

/// At steady state a *sampled* span allocates nothing on the application thread either: its
/// record comes from the pool (returned by the pipeline's worker after encoding, with its
/// attribute vector's capacity), static keys and short values live inline, the queue has
/// grown once.
#[test]
fn sampled_spans_allocate_nothing_at_steady_state() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (receiver, _sink) = rt
        .block_on(otlp_receiver::Receiver::start_in_memory())
        .expect("receiver starts");
    let endpoint = format!("http://{}", receiver.grpc_addr().expect("grpc listener"));
    let client = OtlpClient::new_blocking(
        ClientConfig::new()
            .with_exporter(
                ExporterConfig::default()
                    .with_protocol(otlp::Protocol::Grpc)
                    .with_endpoint(endpoint),
            )
            .with_resource(Resource::default())
            .with_resource_detection(false)
            .with_sampler(Sampler::AlwaysOn)
            .with_span_limits(SpanLimits::default())
            .with_traces_pipeline(otlp::pipeline::AdaptiveBatchConfig::default()),
    )
    .expect("client");
    let tracer = client.tracer("alloc");
    let burst = |i: i64| {
        for n in 0..200 {
            let mut span = tracer
                .span_builder("GET /api/users/{id}")
                .with_attribute("http.request.method", "GET")
                .with_attribute("http.response.status_code", i * 1000 + n)
                .with_attribute("cache.hit", true)
                .start();
            span.set_attribute("server.address", "api.example.com");
            span.end();
        }
    };
    let flush = || {
        client
            .force_flush_blocking(std::time::Duration::from_secs(20))
            .expect("flushed");
    };
    // Warm-up: the pool, the queue and this thread's caches fill.
    for i in 0..50 {
        burst(i);
        flush();
    }
    let mut total = 0;
    for i in 50..60 {
        total += allocations_in(|| burst(i));
        flush();
    }
    assert_eq!(total, 0, "allocations for 2,000 sampled spans");
    let stats = client.stats();
    assert_eq!(stats.exported, 12_000, "{stats:?}");
    client
        .shutdown_blocking(std::time::Duration::from_secs(20))
        .expect("shut down");
    rt.block_on(receiver.shutdown());
}
