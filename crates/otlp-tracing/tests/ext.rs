//! `OtlpSpanExt`: a `tracing` span's OTLP context, a remote parent set on an `#[instrument]`ed
//! server span, and links, attributes and status set through the span, all checked in the
//! exported spans.

use otlp::OtlpClient;
use otlp::trace::propagation::{Context, TextMapPropagator, TraceContextPropagator};
use otlp::trace::{Sampler, SpanContext, SpanId, Status, TraceFlags, TraceId, TraceState};
use otlp_proto::common::AnyValue;
use otlp_proto::trace::{Span, SpanKind, StatusCode};
use otlp_tracing::{OtlpLayer, OtlpSpanExt};
use std::collections::HashMap;
use test_support::client::Harness;
use tracing::Subscriber;
use tracing_subscriber::layer::SubscriberExt;

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT: &str = "00f067aa0ba902b7";

fn subscriber(client: &OtlpClient) -> impl Subscriber + use<> {
    tracing_subscriber::registry().with(OtlpLayer::new(client.tracer("ext")))
}

/// Flushes, then returns every span received.
async fn spans(h: &Harness) -> Vec<Span> {
    h.spans()
        .await
        .into_iter()
        .map(|placed| placed.item)
        .collect()
}

fn find<'a>(spans: &'a [Span], name: &str) -> &'a Span {
    spans
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no span {name:?}"))
}

fn incoming(flags: &str) -> Context {
    let headers = HashMap::from([(
        "traceparent".to_owned(),
        format!("00-{TRACE}-{PARENT}-{flags}"),
    )]);
    let context = TraceContextPropagator.extract(&headers);
    assert!(context.span.is_valid() && context.span.is_remote());
    context
}

/// The server function: its span's parent comes from the request's headers.
#[tracing::instrument(fields(otel.kind = "server"), skip(headers))]
fn handle(headers: &Context, user: u64) -> SpanContext {
    let span = tracing::Span::current();
    span.set_parent(headers);
    let _child = tracing::info_span!("load").entered();
    span.context()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instrumented_server_span_takes_the_extracted_remote_parent() {
    let h = &Harness::start(|config| config).await;
    let client = &h.client;
    let context = tracing::subscriber::with_default(subscriber(client), || {
        // A local span is current: the remote parent replaces it.
        let _outer = tracing::info_span!("outer").entered();
        handle(&incoming("01"), 7)
    });
    let spans = spans(h).await;
    let server = find(&spans, "handle");
    assert_eq!(hex(&server.trace_id), TRACE);
    assert_eq!(hex(&server.parent_span_id), PARENT);
    assert_eq!(server.kind, SpanKind::Server as i32);
    assert_eq!(
        attr(server, "user"),
        Some(&AnyValue::from(7i64)),
        "fields kept"
    );
    // Remote parent, sampled.
    assert_eq!(server.flags & 0x3ff, 0x301);
    assert_eq!(context.trace_id().to_bytes().as_slice(), &*server.trace_id);
    assert_eq!(context.span_id().to_bytes().as_slice(), &*server.span_id);
    assert!(context.is_sampled());
    let load = find(&spans, "load");
    assert_eq!(load.trace_id, server.trace_id);
    assert_eq!(load.parent_span_id, server.span_id);
    let outer = find(&spans, "outer");
    assert_ne!(outer.trace_id, server.trace_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsampled_remote_parent_is_honoured_under_parent_based() {
    let h = &Harness::start(|config| config).await;
    let client = &h.client;
    let context =
        tracing::subscriber::with_default(subscriber(client), || handle(&incoming("00"), 8));
    assert_eq!(hex(&context.trace_id().to_bytes()), TRACE);
    assert!(
        !context.is_sampled(),
        "the remote parent's sampled flag counts"
    );
    let spans = spans(h).await;
    assert!(spans.is_empty(), "nothing exported: {spans:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_span_the_sampler_dropped_is_started_again_under_a_sampled_remote_parent() {
    // Roots are never sampled; children of a sampled remote parent are (ParentBased).
    let h =
        &Harness::start(|config| config.with_sampler(Sampler::parent_based(Sampler::AlwaysOff)))
            .await;
    let client = &h.client;
    let context =
        tracing::subscriber::with_default(subscriber(client), || handle(&incoming("01"), 9));
    assert!(context.is_sampled());
    let spans = spans(h).await;
    let server = find(&spans, "handle");
    assert_eq!(hex(&server.trace_id), TRACE);
    assert_eq!(hex(&server.parent_span_id), PARENT);
    assert_eq!(server.kind, SpanKind::Server as i32);
    assert_eq!(find(&spans, "load").parent_span_id, server.span_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_attributes_and_status_set_through_the_span_are_exported() {
    let h = &Harness::start(|config| config).await;
    let client = &h.client;
    let linked = SpanContext::new(
        TraceId::from_bytes([7; 16]),
        SpanId::from_bytes([8; 8]),
        TraceFlags::SAMPLED,
        true,
        TraceState::empty(),
    );
    let (context, nested) = tracing::subscriber::with_default(subscriber(client), || {
        let span = tracing::info_span!("work");
        span.add_link(linked.clone());
        span.add_link(SpanContext::INVALID);
        span.set_attribute("cart.items", 3i64);
        span.set_attribute("user.name", "ada");
        span.set_status(Status::error("out of stock"));
        let nested = span.in_scope(|| tracing::info_span!("nested").context());
        (span.context(), nested)
    });
    assert!(context.is_valid() && nested.is_valid());
    let spans = spans(h).await;
    let work = find(&spans, "work");
    assert_eq!(context.trace_id().to_bytes().as_slice(), &*work.trace_id);
    assert_eq!(context.span_id().to_bytes().as_slice(), &*work.span_id);
    let nested_span = find(&spans, "nested");
    assert_eq!(
        nested.span_id().to_bytes().as_slice(),
        &*nested_span.span_id
    );
    assert_eq!(nested_span.parent_span_id, work.span_id);
    assert_eq!(work.links.len(), 1);
    assert_eq!(&*work.links[0].trace_id, &[7; 16]);
    assert_eq!(&*work.links[0].span_id, &[8; 8]);
    assert_eq!(attr(work, "cart.items"), Some(&AnyValue::from(3i64)));
    assert_eq!(attr(work, "user.name"), Some(&AnyValue::from("ada")));
    let status = work.status.as_ref().expect("status");
    assert_eq!(status.code, StatusCode::Error as i32);
    assert_eq!(status.message, "out of stock");
}

#[test]
fn spans_not_recorded_have_the_invalid_context() {
    // No subscriber at all.
    let span = tracing::info_span!("nowhere");
    assert_eq!(span.context(), SpanContext::INVALID);
    span.set_attribute("ignored", true);
    // A subscriber without the layer.
    tracing::subscriber::with_default(tracing_subscriber::registry(), || {
        let span = tracing::info_span!("no layer");
        assert_eq!(span.context(), SpanContext::INVALID);
        span.set_parent(&Context::default());
    });
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn attr<'a>(span: &'a Span, key: &str) -> Option<&'a AnyValue> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
}
