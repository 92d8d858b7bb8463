//! `OtlpLayer` end to end: `tracing` spans and events through the layer, exported by an
//! `OtlpClient` to the in-process receiver, and checked there. Every test installs its
//! subscriber with a thread-local guard (no global subscriber).

mod common;

use common::with_default;
use otlp::trace::SpanContext;
use otlp_proto::common::AnyValue;
use otlp_proto::trace::{Span, SpanKind, StatusCode};
use otlp_tracing::{EventMode, OtlpLayer};
use std::time::Duration;
use test_support::client::Harness;
use tracing::instrument::WithSubscriber;
use tracing::{Dispatch, Instrument, Subscriber};
use tracing_subscriber::layer::SubscriberExt;

fn subscriber(h: &Harness, layer: impl FnOnce(OtlpLayer) -> OtlpLayer) -> impl Subscriber {
    tracing_subscriber::registry().with(layer(OtlpLayer::new(h.client.tracer("layer"))))
}

/// Flushes, then returns every span received.
async fn spans_of(h: &Harness) -> Vec<Span> {
    let mut out = Vec::new();
    for placed in h.spans().await {
        assert_eq!(placed.scope.expect("scope").name, "layer");
        out.push(placed.item);
    }
    out
}

fn find<'a>(spans: &'a [Span], name: &str) -> &'a Span {
    let mut found = spans.iter().filter(|s| s.name == name);
    let span = found
        .next()
        .unwrap_or_else(|| panic!("no span {name:?} in {:?}", names(spans)));
    assert!(found.next().is_none(), "several spans named {name:?}");
    span
}

fn names(spans: &[Span]) -> Vec<String> {
    spans.iter().map(|s| s.name.to_string()).collect()
}

fn attr<'a>(attributes: &'a [otlp_proto::common::KeyValue], key: &str) -> Option<&'a AnyValue> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
}

fn assert_child(child: &Span, parent: &Span) {
    assert_eq!(child.trace_id, parent.trace_id, "{} trace id", child.name);
    assert_eq!(
        child.parent_span_id, parent.span_id,
        "{} should be a child of {}",
        child.name, parent.name
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_spans_make_a_tree() {
    let setup = Harness::start(|config| config).await;
    let tracer = setup.client.tracer("layer");
    tracing::subscriber::with_default(subscriber(&setup, |l| l), || {
        let root = tracing::info_span!("root");
        let _root = root.enter();
        {
            let child = tracing::info_span!("child");
            let _child = child.enter();
            tracing::debug_span!("grandchild").in_scope(|| {
                // A span made with the SDK directly nests under the entered tracing span.
                tracer.in_span("sdk", |_| {});
                assert!(SpanContext::current().is_valid());
            });
        }
        // An explicit parent, not the current span.
        let detached = tracing::info_span!("detached");
        tracing::info_span!(parent: &detached, "explicit").in_scope(|| {});
        // An explicit root.
        let new_root = tracing::info_span!(parent: None, "new_root");
        new_root.follows_from(&detached);
    });
    assert!(!SpanContext::current().is_valid(), "contexts are detached");

    let spans = spans_of(&setup).await;
    assert_eq!(spans.len(), 7, "{:?}", names(&spans));
    let root = find(&spans, "root");
    assert!(root.parent_span_id.is_empty());
    assert_child(find(&spans, "child"), root);
    assert_child(find(&spans, "grandchild"), find(&spans, "child"));
    assert_child(find(&spans, "sdk"), find(&spans, "grandchild"));
    assert_child(find(&spans, "detached"), root);
    assert_child(find(&spans, "explicit"), find(&spans, "detached"));
    let new_root = find(&spans, "new_root");
    assert!(new_root.parent_span_id.is_empty());
    assert_ne!(new_root.trace_id, root.trace_id);
    assert_eq!(new_root.links.len(), 1, "follows_from becomes a link");
    assert_eq!(new_root.links[0].span_id, find(&spans, "detached").span_id);
    for span in &spans {
        assert!(span.end_time_unix_nano >= span.start_time_unix_nano);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_context_is_the_parent_of_a_top_level_span() {
    let setup = Harness::start(|config| config).await;
    let tracer = setup.client.tracer("layer");
    let outer = tracer.start("sdk_outer");
    tracing::subscriber::with_default(subscriber(&setup, |l| l), || {
        let _current = outer.enter();
        tracing::info_span!("inner").in_scope(|| {});
    });
    drop(outer);
    let spans = spans_of(&setup).await;
    assert_child(find(&spans, "inner"), find(&spans, "sdk_outer"));
}

#[derive(Debug)]
struct Custom;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fields_become_typed_attributes() {
    let setup = Harness::start(|config| config).await;
    tracing::subscriber::with_default(subscriber(&setup, |l| l), || {
        let span = tracing::warn_span!(
            "typed",
            s = "text",
            i = -3i64,
            u = 7u64,
            big = u64::MAX,
            f = 1.5f64,
            b = true,
            d = ?Custom,
            later = tracing::field::Empty,
        );
        span.record("later", 9i64);
        span.record("s", "replaced");
    });
    let spans = spans_of(&setup).await;
    let span = find(&spans, "typed");
    let a = &span.attributes;
    assert_eq!(attr(a, "s"), Some(&AnyValue::from("replaced")));
    assert_eq!(attr(a, "i"), Some(&AnyValue::from(-3i64)));
    assert_eq!(attr(a, "u"), Some(&AnyValue::from(7i64)));
    assert_eq!(attr(a, "big"), Some(&AnyValue::from(u64::MAX.to_string())));
    assert_eq!(attr(a, "f"), Some(&AnyValue::from(1.5f64)));
    assert_eq!(attr(a, "b"), Some(&AnyValue::from(true)));
    assert_eq!(attr(a, "d"), Some(&AnyValue::from("Custom")));
    assert_eq!(attr(a, "later"), Some(&AnyValue::from(9i64)));
    assert_eq!(attr(a, "level"), Some(&AnyValue::from("WARN")));
    assert_eq!(attr(a, "code.file.path"), Some(&AnyValue::from(file!())));
    assert!(matches!(
        attr(a, "code.line.number").and_then(|v| v.value.as_ref()),
        Some(otlp_proto::common::Value::IntValue(line)) if *line > 0
    ));
    assert_eq!(span.kind, SpanKind::Internal as i32);
    assert!(span.status.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otel_fields_override_name_kind_and_status() {
    let setup = Harness::start(|config| config).await;
    tracing::subscriber::with_default(subscriber(&setup, |l| l.with_location(false)), || {
        tracing::info_span!("handler", otel.name = "GET /cart", otel.kind = "server")
            .in_scope(|| {});
        tracing::info_span!("call", otel.kind = "client", otel.status_code = "ok").in_scope(|| {});
        let failing = tracing::info_span!(
            "failing",
            otel.kind = "consumer",
            otel.status_code = tracing::field::Empty,
            otel.status_description = tracing::field::Empty,
        );
        failing.record("otel.status_description", "boom");
        failing.record("otel.status_code", "error");
        let renamed = tracing::info_span!("before", otel.name = tracing::field::Empty);
        renamed.record("otel.name", "after");
    });
    let spans = spans_of(&setup).await;
    let handler = find(&spans, "GET /cart");
    assert_eq!(handler.kind, SpanKind::Server as i32);
    assert!(attr(&handler.attributes, "otel.kind").is_none());
    assert!(attr(&handler.attributes, "code.file.path").is_none());
    let call = find(&spans, "call");
    assert_eq!(call.kind, SpanKind::Client as i32);
    assert_eq!(
        call.status.as_ref().map(|s| s.code),
        Some(StatusCode::Ok as i32)
    );
    let failing = find(&spans, "failing");
    assert_eq!(failing.kind, SpanKind::Consumer as i32);
    let status = failing.status.as_ref().expect("status");
    assert_eq!(status.code, StatusCode::Error as i32);
    assert_eq!(status.message, "boom");
    find(&spans, "after");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_become_span_events() {
    let setup = Harness::start(|config| config).await;
    tracing::subscriber::with_default(subscriber(&setup, |l| l), || {
        tracing::info!("outside any span: dropped");
        let span = tracing::info_span!("with_events");
        span.in_scope(|| {
            tracing::info!(items = 3u64, user = "ann", "cart loaded");
            tracing::error!(retry = false, "gave up");
        });
        tracing::warn!(parent: &span, "explicit parent");
    });
    tracing::subscriber::with_default(
        subscriber(&setup, |l| l.with_event_mode(EventMode::Ignore)),
        || {
            tracing::info_span!("quiet").in_scope(|| tracing::info!("ignored"));
        },
    );
    let spans = spans_of(&setup).await;
    assert_eq!(spans.len(), 2, "{:?}", names(&spans));
    let span = find(&spans, "with_events");
    let events: Vec<&str> = span.events.iter().map(|e| &*e.name).collect();
    assert_eq!(events, ["cart loaded", "gave up", "explicit parent"]);
    let loaded = &span.events[0].attributes;
    assert_eq!(attr(loaded, "items"), Some(&AnyValue::from(3i64)));
    assert_eq!(attr(loaded, "user"), Some(&AnyValue::from("ann")));
    assert_eq!(attr(loaded, "level"), Some(&AnyValue::from("INFO")));
    assert!(attr(loaded, "message").is_none());
    assert_eq!(
        attr(&span.events[1].attributes, "retry"),
        Some(&AnyValue::from(false))
    );
    assert!(find(&spans, "quiet").events.is_empty());
}

#[tracing::instrument(fields(otel.kind = "server"))]
async fn handle(request: u64, tracer: otlp::trace::Tracer) {
    load(request).await;
    tokio::time::sleep(Duration::from_millis(2)).await;
    tracing::info!("handled");
    // An SDK span made after an `.await`, possibly on another worker thread.
    tracer.in_span(format!("sdk-{request}"), |_| {});
}

#[tracing::instrument]
async fn load(request: u64) {
    tokio::task::yield_now().await;
    tracing::debug_span!("query", request).in_scope(|| {});
    tokio::time::sleep(Duration::from_millis(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instrumented_async_fns_on_a_multi_thread_runtime() {
    let setup = Harness::start(|config| config).await;
    let tracer = setup.client.tracer("layer");
    let dispatch = Dispatch::new(subscriber(&setup, |l| l));
    let batch = tracing::dispatcher::with_default(&dispatch, || tracing::info_span!("batch"));
    let root = async {
        let mut tasks = Vec::new();
        for request in 0..8u64 {
            let span = tracing::info_span!("request", request);
            let task = with_default(handle(request, tracer.clone()).instrument(span));
            tasks.push(tokio::spawn(task));
        }
        for task in tasks {
            task.await.expect("task");
        }
    }
    .instrument(batch)
    .with_subscriber(dispatch);
    root.await;

    let spans = spans_of(&setup).await;
    // batch + 8 × (request, handle, load, query, sdk)
    assert_eq!(spans.len(), 41, "{:?}", names(&spans));
    let batch = find(&spans, "batch");
    let id = |span: &Span| span.span_id.clone();
    for request in 0..8i64 {
        let with = |name: &str| {
            let matching: Vec<&Span> = spans
                .iter()
                .filter(|s| {
                    s.name == name
                        && attr(&s.attributes, "request") == Some(&AnyValue::from(request))
                })
                .collect();
            assert_eq!(matching.len(), 1, "{name} {request}");
            matching[0]
        };
        let req = with("request");
        let handle = with("handle");
        let load = with("load");
        let query = with("query");
        assert_child(req, batch);
        assert_child(handle, req);
        assert_child(load, handle);
        assert_child(query, load);
        assert_eq!(handle.kind, SpanKind::Server as i32);
        assert_eq!(handle.events.len(), 1);
        let sdk = find(&spans, &format!("sdk-{request}"));
        assert_child(sdk, handle);
        assert_ne!(id(req), id(handle));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_targets_are_ignored() {
    let setup = Harness::start(|config| config).await;
    tracing::subscriber::with_default(subscriber(&setup, |l| l), || {
        tracing::info_span!("user").in_scope(|| {
            tracing::info_span!(target: "otlp::exporter", "internal").in_scope(|| {
                tracing::info!(target: "otlp_proto", "sdk event");
                tracing::info!("user event");
                tracing::info_span!("nested_user").in_scope(|| {});
            });
        });
        tracing::info!(target: "otlp", "sdk event outside");
    });
    // Nothing made on the SDK's own threads (those that marked themselves) is recorded; a
    // thread's name does not make it the SDK's.
    for (marked, name) in [(true, "on_sdk_thread"), (false, "on_named_thread")] {
        let subscriber = subscriber(&setup, |l| l);
        std::thread::Builder::new()
            .name("otlp-whatever".into())
            .spawn(move || {
                if marked {
                    otlp::context::mark_sdk_thread();
                }
                tracing::subscriber::with_default(subscriber, || {
                    tracing::info_span!(target: "h2", "thread", otel.name = name)
                        .in_scope(|| tracing::info!("thread event"));
                });
            })
            .expect("thread")
            .join()
            .expect("join");
    }
    let spans = spans_of(&setup).await;
    assert_eq!(spans.len(), 3, "{:?}", names(&spans));
    let named = find(&spans, "on_named_thread");
    assert_eq!(named.events.len(), 1, "events too are recorded there");
    let user = find(&spans, "user");
    assert_child(find(&spans, "nested_user"), user);
    let events: Vec<&str> = user.events.iter().map(|e| &*e.name).collect();
    assert_eq!(events, ["user event"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entered_spans_are_the_sdk_context_looked_up_when_asked() {
    use otlp::trace::FutureExt;
    let setup = Harness::start(|config| config).await;
    let tracer = setup.client.tracer("layer");
    let (outer_context, carried) =
        tracing::subscriber::with_default(subscriber(&setup, |l| l), || {
            let outer = tracing::info_span!("outer");
            let _outer = outer.enter();
            let outer_context = SpanContext::current();
            assert!(outer_context.is_valid());
            // A span the layer leaves alone (the SDK's own target) is passed over.
            tracing::info_span!(target: "otlp::internal", "ignored").in_scope(|| {
                assert_eq!(SpanContext::current(), outer_context);
                tracer.in_span("sdk_under_ignored", |_| {});
            });
            // A future carrying the current context takes it as it is now: it outlives the span.
            let carried = async { SpanContext::current() }.in_current_context();
            (outer_context, carried)
        });
    assert!(!SpanContext::current().is_valid());
    assert_eq!(carried.await, outer_context);
    let spans = spans_of(&setup).await;
    assert_eq!(
        find(&spans, "outer").span_id.as_ref(),
        outer_context.span_id().to_bytes()
    );
    assert_child(find(&spans, "sdk_under_ignored"), find(&spans, "outer"));
}
