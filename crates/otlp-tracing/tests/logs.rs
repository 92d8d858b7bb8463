//! `OtlpLayer` with events as log records (`EventMode::Logs`), end to end: `tracing` events
//! through the layer, exported by an `OtlpClient` to the in-process receiver, and checked there
//! against the exported spans. Every test installs its subscriber with a thread-local guard (no
//! global subscriber).

mod common;

use common::with_default;
use otlp::trace::SpanContext;
use otlp_proto::common::{AnyValue, KeyValue, Value};
use otlp_proto::logs::LogRecord;
use otlp_proto::trace::Span;
use otlp_tracing::{EventMode, OtlpLayer};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use test_support::client::{Exported, Harness};
use tracing::instrument::WithSubscriber;
use tracing::{Dispatch, Subscriber};
use tracing_subscriber::layer::SubscriberExt;

fn subscriber(h: &Harness, layer: impl FnOnce(OtlpLayer) -> OtlpLayer) -> impl Subscriber {
    tracing_subscriber::registry().with(layer(OtlpLayer::from_client(&h.client, "layer")))
}

/// Flushes, then returns every span and every log record received.
async fn received(h: &Harness) -> (Vec<Span>, Vec<LogRecord>) {
    let Exported {
        spans, log_records, ..
    } = h.received().await;
    let spans = spans.into_iter().map(|placed| {
        assert_eq!(placed.scope.expect("scope").name, "layer");
        placed.item
    });
    let records = log_records.into_iter().map(|placed| {
        assert_eq!(placed.scope.expect("scope").name, "layer");
        placed.item
    });
    (spans.collect(), records.collect())
}

fn attr<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a AnyValue> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
}

fn body(record: &LogRecord) -> Option<&str> {
    record.body.as_ref().and_then(AnyValue::as_str)
}

fn with_body<'a>(records: &'a [LogRecord], text: &str) -> Vec<&'a LogRecord> {
    records.iter().filter(|r| body(r) == Some(text)).collect()
}

fn one<'a>(records: &'a [LogRecord], text: &str) -> &'a LogRecord {
    let found = with_body(records, text);
    assert_eq!(found.len(), 1, "records {text:?}: {records:?}");
    found[0]
}

fn span<'a>(spans: &'a [Span], name: &str) -> &'a Span {
    let found: Vec<&Span> = spans.iter().filter(|s| s.name == name).collect();
    assert_eq!(found.len(), 1, "spans {name:?}");
    found[0]
}

fn assert_correlated(record: &LogRecord, span: &Span) {
    assert_eq!(
        record.trace_id,
        span.trace_id,
        "{:?} trace id",
        body(record)
    );
    assert_eq!(record.span_id, span.span_id, "{:?} span id", body(record));
    assert_eq!(record.flags & 0xff, 1, "sampled");
}

fn assert_uncorrelated(record: &LogRecord) {
    assert!(record.trace_id.is_empty(), "{:?}", body(record));
    assert!(record.span_id.is_empty(), "{:?}", body(record));
    assert_eq!(record.flags, 0);
}

#[tracing::instrument(fields(otel.kind = "server"))]
async fn handle(request: u64) {
    tokio::task::yield_now().await;
    tokio::time::sleep(Duration::from_millis(2)).await;
    // After an `.await`, possibly on another worker thread.
    tracing::info!(request, "handled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_in_instrumented_async_fns_are_correlated_records() {
    let setup = Harness::start(|config| config).await;
    let dispatch = Dispatch::new(subscriber(&setup, |l| l));
    let root = async {
        let mut tasks = Vec::new();
        for request in 0..8u64 {
            tasks.push(tokio::spawn(with_default(handle(request))));
        }
        for task in tasks {
            task.await.expect("task");
        }
    }
    .with_subscriber(dispatch);
    root.await;

    let (spans, records) = received(&setup).await;
    assert_eq!(spans.len(), 8);
    let handled = with_body(&records, "handled");
    assert_eq!(handled.len(), 8, "one record per event");
    for request in 0..8i64 {
        let handle = spans
            .iter()
            .find(|s| attr(&s.attributes, "request") == Some(&AnyValue::from(request)))
            .expect("handle span");
        assert_eq!(handle.name, "handle");
        assert!(handle.events.is_empty(), "no span event duplicate");
        let record = handled
            .iter()
            .find(|r| attr(&r.attributes, "request") == Some(&AnyValue::from(request)))
            .expect("record");
        assert_correlated(record, handle);
        assert_eq!(record.severity_number, 9);
        assert_eq!(record.severity_text, "INFO");
    }
}

#[derive(Debug)]
struct Custom;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn severities_fields_location_and_time() {
    let setup = Harness::start(|config| config).await;
    let before = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after epoch")
        .as_nanos() as u64;
    tracing::subscriber::with_default(subscriber(&setup, |l| l), || {
        tracing::info_span!("work").in_scope(|| {
            tracing::trace!("t");
            tracing::debug!("d");
            tracing::info!("i");
            tracing::warn!(disk = "sda1", free = 0.05f64, "w");
            tracing::error!(code = 503u64, retry = false, big = u64::MAX, what = ?Custom, "e");
            tracing::error!(code = 1i64);
        });
    });
    tracing::subscriber::with_default(subscriber(&setup, |l| l.with_location(false)), || {
        tracing::warn!("no location");
    });

    let (spans, records) = received(&setup).await;
    let work = span(&spans, "work");
    assert!(work.events.is_empty());
    assert_eq!(records.len(), 7);
    for (text, number, severity) in [
        ("t", 1, "TRACE"),
        ("d", 5, "DEBUG"),
        ("i", 9, "INFO"),
        ("w", 13, "WARN"),
        ("e", 17, "ERROR"),
    ] {
        let r = one(&records, text);
        assert_eq!(r.severity_number, number, "{text}");
        assert_eq!(r.severity_text, severity, "{text}");
        assert_correlated(r, work);
        assert!(r.time_unix_nano >= before, "timestamp now");
        assert!(r.observed_time_unix_nano >= r.time_unix_nano);
        assert!(attr(&r.attributes, "message").is_none());
        assert!(attr(&r.attributes, "level").is_none());
        assert_eq!(
            attr(&r.attributes, "code.file.path"),
            Some(&AnyValue::from(file!()))
        );
        assert!(matches!(
            attr(&r.attributes, "code.line.number").and_then(|v| v.value.as_ref()),
            Some(Value::IntValue(line)) if *line > 0
        ));
    }
    let w = one(&records, "w");
    assert_eq!(attr(&w.attributes, "disk"), Some(&AnyValue::from("sda1")));
    assert_eq!(attr(&w.attributes, "free"), Some(&AnyValue::from(0.05f64)));
    let e = one(&records, "e");
    assert_eq!(attr(&e.attributes, "code"), Some(&AnyValue::from(503i64)));
    assert_eq!(attr(&e.attributes, "retry"), Some(&AnyValue::from(false)));
    assert_eq!(
        attr(&e.attributes, "big"),
        Some(&AnyValue::from(u64::MAX.to_string()))
    );
    assert_eq!(attr(&e.attributes, "what"), Some(&AnyValue::from("Custom")));
    let no_message = records
        .iter()
        .find(|r| r.body.is_none())
        .expect("record without message");
    assert_eq!(no_message.severity_number, 17);
    assert_eq!(
        attr(&no_message.attributes, "code"),
        Some(&AnyValue::from(1i64))
    );
    let quiet = one(&records, "no location");
    assert!(attr(&quiet.attributes, "code.file.path").is_none());
    assert_uncorrelated(quiet);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn correlation_outside_spans_and_with_explicit_parents() {
    let setup = Harness::start(|config| config).await;
    let tracer = setup.client.tracer("layer");
    let sdk_span = tracer.start("sdk");
    tracing::subscriber::with_default(subscriber(&setup, |l| l), || {
        tracing::info!("outside");
        {
            // No tracing span, but an SDK span is current: the record follows it.
            let _current = sdk_span.enter();
            tracing::info!("sdk context");
        }
        let a = tracing::info_span!("a");
        let b = tracing::info_span!("b");
        let _b = b.enter();
        tracing::info!(parent: &a, "explicit parent");
        tracing::info!("current span");
        // An SDK-internal event is never exported, even inside a user span.
        tracing::info!(target: "otlp::pipeline", "sdk event");
    });
    drop(sdk_span);
    assert!(!SpanContext::current().is_valid());

    let (spans, records) = received(&setup).await;
    assert_eq!(records.len(), 4, "{records:?}");
    assert_uncorrelated(one(&records, "outside"));
    assert_correlated(one(&records, "sdk context"), span(&spans, "sdk"));
    assert_correlated(one(&records, "explicit parent"), span(&spans, "a"));
    assert_correlated(one(&records, "current span"), span(&spans, "b"));
    assert!(spans.iter().all(|s| s.events.is_empty()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_form_per_event() {
    let setup = Harness::start(|config| config).await;
    // A logger given, then span events chosen: span events only.
    tracing::subscriber::with_default(
        subscriber(&setup, |l| l.with_event_mode(EventMode::SpanEvents)),
        || {
            tracing::info_span!("as_span_events").in_scope(|| tracing::info!("span event"));
        },
    );
    // The plain layer has no logger: span events, as before.
    tracing::subscriber::with_default(
        tracing_subscriber::registry().with(OtlpLayer::new(setup.client.tracer("layer"))),
        || {
            tracing::info_span!("plain").in_scope(|| tracing::info!("plain event"));
        },
    );
    let (spans, records) = received(&setup).await;
    assert!(records.is_empty(), "{records:?}");
    assert_eq!(span(&spans, "as_span_events").events.len(), 1);
    assert_eq!(span(&spans, "plain").events.len(), 1);
    let stats = setup.client.logs_stats();
    assert_eq!(stats.accepted, 0);
}
