//! Traces through the client API, end to end: spans made with `OtlpClient`'s tracers, exported
//! to the in-process receiver, and checked field by field.

mod common;

use bytes::Bytes;
use otlp::pipeline::AdaptiveBatchConfig;
use otlp::trace::{
    FutureExt, Link, Sampler, SpanContext, SpanId, SpanKind, SpanLimits, Status, TraceFlags,
    TraceId, TraceState,
};
use otlp::{ClientConfig, OtlpClient, Protocol};
use otlp_proto::Request;
use otlp_proto::common::{AnyValue, KeyValue};
use otlp_proto::resource::Resource;
use otlp_proto::trace::{Span, StatusCode, span_flags};
use otlp_receiver::MemorySink;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use test_support::client::{Harness, WAIT};

async fn setup(sampler: Sampler, limits: SpanLimits) -> Harness {
    Harness::builder()
        .service_name("traces-test")
        .start(|config| config.with_sampler(sampler).with_span_limits(limits))
        .await
}

/// Flushes, then returns every span received, with its scope name.
async fn spans_of(t: &Harness) -> Vec<(String, Span)> {
    let mut out = Vec::new();
    for placed in t.spans().await {
        let resource = placed.resource.expect("resource");
        assert_eq!(resource.attributes[0].value, Some("traces-test".into()));
        let scope = placed.scope.expect("scope");
        if scope.name == "tree" {
            assert_eq!(scope.version, "1.2.3");
            assert_eq!(placed.schema_url, "https://opentelemetry.io/schemas/1.44.0");
        }
        out.push((scope.name.to_string(), placed.item));
    }
    out
}

fn find<'a>(spans: &'a [(String, Span)], name: &str) -> &'a Span {
    &spans
        .iter()
        .find(|(_, s)| s.name == name)
        .unwrap_or_else(|| panic!("no span {name}"))
        .1
}

fn id_bytes(ctx: &SpanContext) -> (Bytes, Bytes) {
    (
        Bytes::copy_from_slice(&ctx.trace_id().to_bytes()),
        Bytes::copy_from_slice(&ctx.span_id().to_bytes()),
    )
}

fn attr<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a AnyValue> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parent_child_grandchild() {
    let t = setup(Sampler::AlwaysOn, SpanLimits::default()).await;
    let tracer = t.client.tracer_with_version(
        "tree",
        Some("1.2.3"),
        Some("https://opentelemetry.io/schemas/1.44.0"),
    );
    let mut parent = tracer
        .span_builder("parent")
        .with_kind(SpanKind::Server)
        .start();
    let parent_ctx = parent.span_context().clone();
    let child_ctx = {
        let _guard = parent.enter();
        assert_eq!(SpanContext::current(), parent_ctx);
        let mut child = tracer.start("child");
        let ctx = child.span_context().clone();
        let mut grandchild = tracer.span_builder("grandchild").with_parent(&ctx).start();
        grandchild.end();
        child.end();
        ctx
    };
    assert_eq!(SpanContext::current(), SpanContext::INVALID);
    let root = tracer.start("other-root");
    assert_ne!(root.span_context().trace_id(), parent_ctx.trace_id());
    drop(root);
    parent.end();

    let spans = spans_of(&t).await;
    assert_eq!(spans.len(), 4);
    assert!(spans.iter().all(|(scope, _)| scope == "tree"));
    let (p, c, g) = (
        find(&spans, "parent"),
        find(&spans, "child"),
        find(&spans, "grandchild"),
    );
    let (trace_id, parent_id) = id_bytes(&parent_ctx);
    let (_, child_id) = id_bytes(&child_ctx);
    assert_eq!(p.trace_id, trace_id);
    assert_eq!(c.trace_id, trace_id);
    assert_eq!(g.trace_id, trace_id);
    assert_eq!(p.span_id, parent_id);
    assert!(p.parent_span_id.is_empty());
    assert_eq!(c.parent_span_id, parent_id);
    assert_eq!(c.span_id, child_id);
    assert_eq!(g.parent_span_id, child_id);
    assert_eq!(p.kind, SpanKind::Server as i32);
    assert_eq!(c.kind, SpanKind::Internal as i32);
    for s in [p, c, g] {
        assert_eq!(s.flags, 1 | span_flags::CONTEXT_HAS_IS_REMOTE_MASK);
        assert!(s.end_time_unix_nano >= s.start_time_unix_nano && s.start_time_unix_nano > 0);
    }
    assert_eq!(t.client.stats().exported, 4);
    t.client.shutdown(WAIT).await.expect("shutdown");
}

#[derive(Debug)]
struct Oops;

impl std::fmt::Display for Oops {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("it broke")
    }
}

impl std::error::Error for Oops {}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attributes_events_links_status_errors() {
    let t = setup(Sampler::AlwaysOn, SpanLimits::default()).await;
    let tracer = t.client.tracer("fields");
    let remote = SpanContext::new(
        TraceId::from_bytes([7; 16]),
        SpanId::from_bytes([8; 8]),
        TraceFlags::SAMPLED,
        true,
        TraceState::parse("vendor=x"),
    );
    let start = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let mut span = tracer
        .span_builder("op")
        .with_kind(SpanKind::Client)
        .with_attribute("str", "v")
        .with_attribute("owned", String::from("o"))
        .with_attribute("bool", true)
        .with_attribute("int", 42i64)
        .with_attribute("float", 1.5f64)
        .with_attribute("bytes", Bytes::from_static(b"\x00\x01"))
        .with_attribute("array", vec![AnyValue::from(1i64), AnyValue::from(2i64)])
        .with_attribute("map", vec![KeyValue::new("k", "v")])
        .with_links([Link::new(
            remote.clone(),
            vec![KeyValue::new("why", "batch")],
        )])
        .with_start_time(start)
        .start();
    span.set_attribute("int", 43i64);
    span.set_attribute("late", "yes");
    span.add_event("cache.miss", vec![KeyValue::new("key", "abc")]);
    span.add_link(SpanContext::INVALID, Vec::new());
    let mut other = tracer.span_builder("linked").with_no_parent().start();
    span.add_link(other.span_context().clone(), Vec::new());
    other.end();
    span.record_error(&Oops);
    let boxed: Box<dyn std::error::Error> = Box::new(Oops);
    span.record_error(boxed.as_ref());
    span.set_status(Status::error("bad"));
    span.update_name("renamed");
    span.end_with_timestamp(start + Duration::from_millis(5));
    assert!(!span.is_recording());
    span.set_attribute("after-end", true);

    let spans = spans_of(&t).await;
    let s = find(&spans, "renamed");
    assert_eq!(s.start_time_unix_nano, 1_700_000_000_000_000_000);
    assert_eq!(s.end_time_unix_nano, 1_700_000_000_005_000_000);
    assert_eq!(s.kind, SpanKind::Client as i32);
    let a = &s.attributes;
    assert_eq!(a.len(), 9);
    assert_eq!(attr(a, "str"), Some(&"v".into()));
    assert_eq!(attr(a, "owned"), Some(&"o".into()));
    assert_eq!(attr(a, "bool"), Some(&true.into()));
    assert_eq!(attr(a, "int"), Some(&43i64.into()));
    assert_eq!(attr(a, "float"), Some(&1.5f64.into()));
    assert_eq!(
        attr(a, "bytes"),
        Some(&Bytes::from_static(b"\x00\x01").into())
    );
    assert_eq!(
        attr(a, "array"),
        Some(&vec![AnyValue::from(1i64), AnyValue::from(2i64)].into())
    );
    assert_eq!(attr(a, "map"), Some(&vec![KeyValue::new("k", "v")].into()));
    assert_eq!(attr(a, "late"), Some(&"yes".into()));
    assert!(attr(a, "after-end").is_none());

    assert_eq!(s.links.len(), 2);
    let l = &s.links[0];
    assert_eq!((l.trace_id.clone(), l.span_id.clone()), id_bytes(&remote));
    assert_eq!(&*l.trace_state, "vendor=x");
    assert_eq!(attr(&l.attributes, "why"), Some(&"batch".into()));
    assert_eq!(
        l.flags,
        1 | span_flags::CONTEXT_HAS_IS_REMOTE_MASK | span_flags::CONTEXT_IS_REMOTE_MASK
    );

    assert_eq!(s.events.len(), 3);
    assert_eq!(s.events[0].name, "cache.miss");
    assert_eq!(attr(&s.events[0].attributes, "key"), Some(&"abc".into()));
    let exception = &s.events[1];
    assert_eq!(exception.name, "exception");
    let ty = attr(&exception.attributes, "exception.type")
        .and_then(AnyValue::as_str)
        .expect("exception.type");
    assert!(ty.ends_with("Oops"), "{ty}");
    assert_eq!(
        attr(&exception.attributes, "exception.message"),
        Some(&"it broke".into())
    );
    // A stack trace exactly when backtraces are enabled in this process (the test command sets
    // RUST_BACKTRACE=1).
    let enabled =
        std::backtrace::Backtrace::capture().status() == std::backtrace::BacktraceStatus::Captured;
    let trace = attr(&exception.attributes, "exception.stacktrace");
    assert_eq!(trace.is_some(), enabled, "{trace:?}");
    let dyn_exception = &s.events[2];
    assert!(attr(&dyn_exception.attributes, "exception.type").is_none());
    assert_eq!(
        attr(&dyn_exception.attributes, "exception.message"),
        Some(&"it broke".into())
    );

    let status = s.status.as_ref().expect("status");
    assert_eq!(status.code, StatusCode::Error as i32);
    assert_eq!(status.message, "bad");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_rules() {
    let t = setup(Sampler::AlwaysOn, SpanLimits::default()).await;
    let tracer = t.client.tracer("status");
    tracer.in_span("ok-is-final", |span| {
        span.set_status(Status::Ok);
        span.set_status(Status::error("ignored"));
    });
    tracer.in_span("unset-ignored", |span| {
        span.set_status(Status::error("first"));
        span.set_status(Status::Unset);
    });
    let spans = spans_of(&t).await;
    let ok = find(&spans, "ok-is-final").status.clone().expect("status");
    assert_eq!(ok.code, StatusCode::Ok as i32);
    let err = find(&spans, "unset-ignored")
        .status
        .clone()
        .expect("status");
    assert_eq!(
        (err.code, &*err.message),
        (StatusCode::Error as i32, "first")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_drop_and_count() {
    let limits = SpanLimits::default()
        .with_attribute_count(2)
        .with_event_count(1)
        .with_link_count(1)
        .with_attribute_value_length(3)
        .with_event_attribute_count(1)
        .with_link_attribute_count(0);
    let t = setup(Sampler::AlwaysOn, limits).await;
    let tracer = t.client.tracer("limits");
    let linked = |n: u8| {
        Link::new(
            SpanContext::new(
                TraceId::from_bytes([n; 16]),
                SpanId::from_bytes([n; 8]),
                TraceFlags::SAMPLED,
                false,
                TraceState::empty(),
            ),
            vec![KeyValue::new("a", 1i64)],
        )
    };
    let mut span = tracer
        .span_builder("limited")
        .with_attribute("a", "abcdef")
        .with_attribute("b", 1i64)
        .with_attribute("c", 2i64)
        .with_links([linked(1), linked(2)])
        .start();
    span.set_attribute("d", 3i64);
    span.set_attribute("a", "xyzxyz");
    span.add_event(
        "e1",
        vec![KeyValue::new("x", 1i64), KeyValue::new("y", 2i64)],
    );
    span.add_event("e2", Vec::new());
    span.add_link(linked(3).context, Vec::new());
    span.end();

    let spans = spans_of(&t).await;
    let s = find(&spans, "limited");
    assert_eq!(s.attributes.len(), 2);
    assert_eq!(attr(&s.attributes, "a"), Some(&"xyz".into()));
    assert_eq!(s.dropped_attributes_count, 2);
    assert_eq!(s.events.len(), 1);
    assert_eq!(s.dropped_events_count, 1);
    assert_eq!(s.events[0].attributes.len(), 1);
    assert_eq!(s.events[0].dropped_attributes_count, 1);
    assert_eq!(s.links.len(), 1);
    assert_eq!(s.dropped_links_count, 2);
    assert_eq!(s.links[0].dropped_attributes_count, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsampled_spans_are_never_exported() {
    let t = setup(Sampler::default(), SpanLimits::default()).await;
    let tracer = t.client.tracer("unsampled");
    let remote_unsampled = SpanContext::new(
        TraceId::from_bytes([3; 16]),
        SpanId::from_bytes([4; 8]),
        TraceFlags::NONE,
        true,
        TraceState::empty(),
    );
    let mut span = tracer
        .span_builder("not-sampled")
        .with_parent(&remote_unsampled)
        .start();
    assert!(!span.is_recording());
    assert!(!span.span_context().is_sampled());
    assert_eq!(span.span_context().trace_id(), remote_unsampled.trace_id());
    span.set_attribute("k", "v");
    span.add_event("e", Vec::new());
    {
        // Children of an unsampled local parent are not sampled either.
        let _guard = span.enter();
        let child = tracer.start("child-not-sampled");
        assert!(!child.is_recording());
    }
    span.end();
    let sampled = tracer.start("sampled");
    assert!(sampled.is_recording());
    drop(sampled);

    let spans = spans_of(&t).await;
    let names: Vec<&str> = spans.iter().map(|(_, s)| &*s.name).collect();
    assert_eq!(names, ["sampled"]);
    assert_eq!(t.client.stats().accepted, 1);

    let off = setup(Sampler::AlwaysOff, SpanLimits::default()).await;
    let tracer = off.client.tracer("off");
    for _ in 0..10 {
        tracer.in_span("dropped", |span| assert!(!span.is_recording()));
    }
    assert!(spans_of(&off).await.is_empty());
    assert_eq!(off.client.stats().accepted, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ratio_sampling_decisions() {
    let t = setup(Sampler::TraceIdRatioBased(0.5), SpanLimits::default()).await;
    let tracer = t.client.tracer("ratio");
    let n = 2000;
    let mut expected = std::collections::BTreeSet::new();
    for i in 0..n {
        let span = tracer.start(format!("s{i}"));
        if span.span_context().is_sampled() {
            assert!(span.is_recording());
            expected.insert(format!("s{i}"));
        } else {
            assert!(!span.is_recording());
        }
    }
    let got: std::collections::BTreeSet<String> = spans_of(&t)
        .await
        .into_iter()
        .map(|(_, s)| s.name.to_string())
        .collect();
    assert_eq!(got, expected);
    let fraction = got.len() as f64 / n as f64;
    assert!((fraction - 0.5).abs() < 0.06, "{fraction}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn context_crosses_await() {
    let t = setup(Sampler::AlwaysOn, SpanLimits::default()).await;
    let tracer = t.client.tracer("async");
    let parent = tracer.start("parent");
    let ctx = parent.span_context().clone();
    let task_tracer = tracer.clone();
    let handle = tokio::spawn(
        async move {
            let mut seen = Vec::new();
            for i in 0..5 {
                tokio::time::sleep(Duration::from_millis(2)).await;
                tokio::task::yield_now().await;
                seen.push(SpanContext::current());
                task_tracer.start(format!("child{i}")).end();
            }
            seen
        }
        .with_context(ctx.clone()),
    );
    let seen = handle.await.expect("task");
    assert!(seen.iter().all(|c| *c == ctx));
    // Not leaked into the spawning thread.
    assert_eq!(SpanContext::current(), SpanContext::INVALID);
    drop(parent);

    let spans = spans_of(&t).await;
    let (_, parent_id) = id_bytes(&ctx);
    for i in 0..5 {
        assert_eq!(find(&spans, &format!("child{i}")).parent_span_id, parent_id);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_on_drop_exactly_once() {
    let t = setup(Sampler::AlwaysOn, SpanLimits::default()).await;
    let tracer = t.client.tracer("drop");
    {
        let _span = tracer.start("dropped");
    }
    let mut twice = tracer.start("ended-twice");
    twice.end();
    twice.end();
    drop(twice);
    let before = SystemTime::now();
    let spans = spans_of(&t).await;
    assert_eq!(spans.len(), 2);
    let s = find(&spans, "dropped");
    let before = before
        .duration_since(UNIX_EPOCH)
        .expect("after epoch")
        .as_nanos() as u64;
    assert!(s.end_time_unix_nano > 0 && s.end_time_unix_nano <= before);
    t.client.shutdown(WAIT).await.expect("shutdown");
    tracer.start("after-shutdown").end();
    assert_eq!(t.client.stats().dropped.after_shutdown, 1);
    assert!(!t.client.tracer("new-scope").start("x").is_recording());
}

#[test]
fn blocking_client() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let sink = MemorySink::new();
    let receiver = rt.block_on(common::receiver(sink.clone()));
    let client = OtlpClient::new_blocking(
        ClientConfig::new()
            .with_exporter(common::config(&receiver, Protocol::Grpc))
            .with_resource(Resource::default())
            .with_sampler(Sampler::AlwaysOn)
            .with_span_limits(SpanLimits::default())
            .with_traces_pipeline(AdaptiveBatchConfig::default()),
    )
    .expect("client");
    client
        .tracer("blocking")
        .in_span("work", |span| span.set_attribute("k", 1i64));
    client.shutdown_blocking(WAIT).expect("shutdown");
    assert_eq!(sink.item_count(otlp::Signal::Traces), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_parent_from_traceparent() {
    use otlp::trace::propagation::{extract, inject};
    let t = setup(Sampler::default(), SpanLimits::default()).await;
    let tracer = t.client.tracer("w3c");
    let mut incoming = http::HeaderMap::new();
    incoming.insert(
        "traceparent",
        http::HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
    );
    incoming.insert("tracestate", http::HeaderValue::from_static("congo=t61"));
    let remote = extract(&incoming).expect("valid traceparent");
    let server = tracer
        .span_builder("server")
        .with_kind(SpanKind::Server)
        .with_parent(&remote)
        .start();
    let mut outgoing = http::HeaderMap::new();
    inject(server.span_context(), &mut outgoing);
    let expected = format!(
        "00-4bf92f3577b34da6a3ce929d0e0e4736-{}-01",
        server.span_context().span_id()
    );
    assert_eq!(outgoing["traceparent"], expected.as_str());
    assert_eq!(outgoing["tracestate"], "congo=t61");
    drop(server);

    let spans = spans_of(&t).await;
    let s = find(&spans, "server");
    assert_eq!(
        s.parent_span_id,
        Bytes::from_static(&[0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7])
    );
    assert_eq!(&*s.trace_state, "congo=t61");
    assert_eq!(
        s.flags,
        1 | span_flags::CONTEXT_HAS_IS_REMOTE_MASK | span_flags::CONTEXT_IS_REMOTE_MASK
    );
}

/// Keeps spans whose name starts with "keep", adds an attribute and a trace-state entry, and
/// records what it was shown.
#[derive(Debug, Default)]
struct NameSampler {
    seen: std::sync::Mutex<Vec<(String, SpanKind, usize, usize)>>,
}

impl otlp::trace::ShouldSample for NameSampler {
    fn should_sample(
        &self,
        params: &otlp::trace::SamplingParams<'_>,
    ) -> otlp::trace::SamplingResult {
        self.seen.lock().expect("lock").push((
            params.name.to_owned(),
            params.kind,
            params.attributes.len(),
            params.links.len(),
        ));
        let decision = if params.name.starts_with("keep") {
            otlp::trace::SamplingDecision::RecordAndSample
        } else {
            otlp::trace::SamplingDecision::Drop
        };
        otlp::trace::SamplingResult {
            decision,
            attributes: vec![KeyValue::new("sampler.rule", "by-name")],
            trace_state: TraceState::empty().with_entry("smp", "name"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_sampler_sees_the_span_and_shapes_it() {
    let sampler = std::sync::Arc::new(NameSampler::default());
    // A wrapper, so the test keeps a handle on what the sampler saw.
    #[derive(Debug)]
    struct Shared(std::sync::Arc<NameSampler>);
    impl otlp::trace::ShouldSample for Shared {
        fn should_sample(
            &self,
            params: &otlp::trace::SamplingParams<'_>,
        ) -> otlp::trace::SamplingResult {
            self.0.should_sample(params)
        }
    }
    let setup = setup(
        Sampler::custom(Shared(sampler.clone())),
        SpanLimits::default(),
    )
    .await;
    let tracer = setup.client.tracer("custom");
    let link = SpanContext::new(
        TraceId::from_bytes([3; 16]),
        SpanId::from_bytes([4; 8]),
        TraceFlags::SAMPLED,
        true,
        TraceState::empty(),
    );
    let kept = tracer
        .span_builder("keep me")
        .with_kind(SpanKind::Server)
        .with_attribute("a", 1i64)
        .with_attribute("b", 2i64)
        .with_links([Link::new(link, Vec::new())])
        .start();
    assert!(kept.span_context().is_sampled());
    assert_eq!(kept.span_context().trace_state().get("smp"), Some("name"));
    let dropped = tracer.span_builder("drop me").start();
    assert!(!dropped.is_recording());
    drop((kept, dropped));
    let spans = spans_of(&setup).await;
    assert_eq!(spans.len(), 1);
    let span = find(&spans, "keep me");
    assert_eq!(attr(&span.attributes, "a"), Some(&AnyValue::from(1i64)));
    assert_eq!(
        attr(&span.attributes, "sampler.rule"),
        Some(&AnyValue::from("by-name")),
        "the sampler's attributes are added"
    );
    assert_eq!(span.trace_state, "smp=name");
    let seen = sampler.seen.lock().expect("lock").clone();
    assert_eq!(
        seen,
        vec![
            ("keep me".to_owned(), SpanKind::Server, 2, 1),
            ("drop me".to_owned(), SpanKind::Internal, 0, 0)
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tracers_share_one_pipeline_and_requests_group_by_scope() {
    let setup = setup(Sampler::AlwaysOn, SpanLimits::default()).await;
    let a = setup.client.tracer("scope-a");
    let b = setup
        .client
        .tracer_with_version("scope-b", Some("2.0"), None);
    for i in 0..5 {
        a.start(format!("a{i}"));
        b.start(format!("b{i}"));
    }
    setup.client.force_flush(WAIT).await.expect("flush");
    let stats = setup.client.stats();
    assert_eq!((stats.accepted, stats.exported), (10, 10), "{stats:?}");
    let mut names = std::collections::BTreeMap::<String, Vec<String>>::new();
    for r in setup.sink.requests() {
        let Request::Traces(t) = r.request else {
            panic!("not traces")
        };
        assert_eq!(t.resource_spans.len(), 1);
        let groups = &t.resource_spans[0].scope_spans;
        let scopes: Vec<&str> = groups
            .iter()
            .map(|g| g.scope.as_ref().map_or("", |s| s.name.as_str()))
            .collect();
        let mut unique = scopes.clone();
        unique.dedup();
        assert_eq!(unique, scopes, "one group per scope in a request");
        for g in groups {
            let scope = g.scope.clone().expect("scope");
            if scope.name == "scope-b" {
                assert_eq!(scope.version, "2.0");
            }
            names
                .entry(scope.name.to_string())
                .or_default()
                .extend(g.spans.iter().map(|s| s.name.to_string()));
        }
    }
    assert_eq!(names["scope-a"], ["a0", "a1", "a2", "a3", "a4"]);
    assert_eq!(names["scope-b"], ["b0", "b1", "b2", "b3", "b4"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_parent_setting_wins() {
    let setup = setup(Sampler::AlwaysOn, SpanLimits::default()).await;
    let tracer = setup.client.tracer("parents");
    let remote = SpanContext::new(
        TraceId::from_bytes([5; 16]),
        SpanId::from_bytes([6; 8]),
        TraceFlags::SAMPLED,
        true,
        TraceState::parse("k=v"),
    );
    let other = SpanContext::new(
        TraceId::from_bytes([7; 16]),
        SpanId::from_bytes([8; 8]),
        TraceFlags::SAMPLED,
        false,
        TraceState::empty(),
    );
    let root = tracer
        .span_builder("root after all")
        .with_parent(&remote)
        .with_no_parent()
        .start();
    let second = tracer
        .span_builder("second parent")
        .with_parent(&remote)
        .with_parent(&other)
        .start();
    let invalid = tracer
        .span_builder("invalid parent")
        .with_parent(&remote)
        .with_parent(&SpanContext::INVALID)
        .start();
    assert_ne!(root.span_context().trace_id(), remote.trace_id());
    assert_eq!(second.span_context().trace_id(), other.trace_id());
    drop((root, second, invalid));
    let spans = spans_of(&setup).await;
    let root = find(&spans, "root after all");
    assert!(root.parent_span_id.is_empty());
    assert!(root.trace_state.is_empty());
    let second = find(&spans, "second parent");
    assert_eq!(&second.parent_span_id[..], &[8; 8]);
    assert_eq!(&second.trace_id[..], &[7; 16]);
    assert!(second.trace_state.is_empty());
    assert_eq!(
        second.flags,
        1 | span_flags::CONTEXT_HAS_IS_REMOTE_MASK,
        "local parent"
    );
    let invalid = find(&spans, "invalid parent");
    assert!(
        invalid.parent_span_id.is_empty(),
        "an invalid parent makes a root"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_builder_filled_through_a_reference_and_renamed() {
    let setup = setup(Sampler::AlwaysOn, SpanLimits::default()).await;
    let tracer = setup.client.tracer("filled");
    let mut builder = tracer.span_builder("placeholder");
    for (key, value) in [("a", 1i64), ("b", 2), ("a", 3)] {
        builder.add_attribute(key, value);
    }
    builder
        .with_name("visited")
        .with_attribute("c", true)
        .start()
        .end();
    let spans = spans_of(&setup).await;
    assert!(spans.iter().all(|(_, s)| s.name != "placeholder"));
    let s = find(&spans, "visited");
    assert_eq!(s.attributes.len(), 3, "{:?}", s.attributes);
    assert_eq!(
        attr(&s.attributes, "a"),
        Some(&3i64.into()),
        "the last value wins"
    );
    assert_eq!(attr(&s.attributes, "b"), Some(&2i64.into()));
    assert_eq!(attr(&s.attributes, "c"), Some(&true.into()));
}
