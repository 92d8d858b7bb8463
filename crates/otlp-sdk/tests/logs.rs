//! Logs and events through the client API, end to end: records made with `LogBuilder` and
//! `EventBuilder`, sent with `OtlpClient` and its loggers to the in-process receiver, and checked
//! field by field.

mod common;

use bytes::Bytes;
use otlp::logs::{EVENT_DOMAIN, EventBuilder, LogBuilder, Severity};
use otlp::pipeline::{AdaptiveBatchConfig, DropReason, Enqueued};
use otlp::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
use otlp::{ClientConfig, OtlpClient, Protocol};
use otlp_proto::Request;
use otlp_proto::common::{AnyValue, KeyValue, Value};
use otlp_proto::logs::{LogRecord, ScopeLogs};
use otlp_proto::trace::Span;
use otlp_receiver::MemorySink;
use serde_json::json;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use test_support::client::{Exported, Harness, WAIT};

async fn setup_with(protocol: Protocol, scheduled_delay: Duration) -> Harness {
    Harness::builder()
        .protocol(protocol)
        .service_name("logs-test")
        .scheduled_delay(scheduled_delay)
        .start(|config| config)
        .await
}

async fn setup() -> Harness {
    setup_with(Protocol::HttpProtobuf, Duration::from_millis(20)).await
}

/// Flushes, then returns every logs request's `ScopeLogs`, one `Vec` per request.
async fn requests_of(t: &Harness) -> Vec<Vec<ScopeLogs>> {
    let mut out = Vec::new();
    for r in t.requests().await {
        let Request::Logs(l) = r else {
            continue;
        };
        assert_eq!(l.resource_logs.len(), 1);
        let rl = l.resource_logs.into_iter().next().expect("resource logs");
        let resource = rl.resource.expect("resource");
        assert_eq!(resource.attributes[0].value, Some("logs-test".into()));
        out.push(rl.scope_logs);
    }
    out
}

/// Flushes, then returns every record received, with its scope name.
async fn records_of(t: &Harness) -> Vec<(String, LogRecord)> {
    let mut out = Vec::new();
    for request in requests_of(t).await {
        for sl in request {
            let scope = sl.scope.expect("scope").name.to_string();
            out.extend(sl.log_records.into_iter().map(|r| (scope.clone(), r)));
        }
    }
    out
}

/// Flushes, then returns every span received.
async fn spans_of(t: &Harness) -> Vec<Span> {
    let traces = t
        .requests()
        .await
        .into_iter()
        .filter(|r| matches!(r, Request::Traces(_)));
    Exported::of(traces)
        .spans
        .into_iter()
        .map(|placed| placed.item)
        .collect()
}

fn attr<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a AnyValue> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
}

fn body_of<'a>(records: &'a [(String, LogRecord)], body: &str) -> &'a LogRecord {
    let mut found = records
        .iter()
        .filter(|(_, r)| r.body.as_ref().and_then(AnyValue::as_str) == Some(body));
    let record = &found
        .next()
        .unwrap_or_else(|| panic!("no record {body:?}"))
        .1;
    assert!(found.next().is_none(), "several records {body:?}");
    record
}

fn kvlist(value: &AnyValue) -> &[KeyValue] {
    match &value.value {
        Some(Value::KvlistValue(l)) => &l.values,
        other => panic!("not a kvlist: {other:?}"),
    }
}

fn array(value: &AnyValue) -> &[AnyValue] {
    match &value.value {
        Some(Value::ArrayValue(a)) => &a.values,
        other => panic!("not an array: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn severity_body_attributes_and_timestamps() {
    for protocol in common::PROTOCOLS {
        let t = setup_with(protocol, Duration::from_millis(20)).await;
        let time = UNIX_EPOCH + Duration::from_nanos(1_700_000_000_123_456_789);
        let observed = UNIX_EPOCH + Duration::from_nanos(1_700_000_001_000_000_000);
        let before = SystemTime::now();
        let _ = t.client.send_log(
            LogBuilder::new()
                .with_severity(Severity::Warn2)
                .with_body_map(json!({
                    "msg": "disk almost full",
                    "disk": { "name": "sda1", "free": { "bytes": 1024, "ratio": 0.05 } },
                    "mounts": ["/", { "path": "/home", "ro": false }, 7],
                    "note": null,
                }))
                .with_attribute("host", "db-1")
                .with_attributes([KeyValue::new("retries", 3i64), KeyValue::new("ok", true)])
                .with_attributes_json(json!({ "region": "eu", "load": 0.75 }))
                .with_timestamp(time)
                .with_observed_timestamp(observed)
                .build(),
        );
        let _ = t.client.send_log(
            LogBuilder::new()
                .with_severity(Severity::Fatal4)
                .with_severity_text("CRITICAL")
                .with_body("plain text")
                .build(),
        );
        let records = records_of(&t).await;
        assert_eq!(records.len(), 2, "{protocol:?}");
        // The default scope is the service's name.
        assert!(records.iter().all(|(scope, _)| scope == "logs-test"));

        let warn = &records
            .iter()
            .find(|(_, r)| r.severity_number == 14)
            .expect("WARN2 record")
            .1;
        assert_eq!(warn.severity_text, "WARN2");
        assert_eq!(warn.time_unix_nano, 1_700_000_000_123_456_789);
        assert_eq!(warn.observed_time_unix_nano, 1_700_000_001_000_000_000);
        let body = kvlist(warn.body.as_ref().expect("body"));
        assert_eq!(attr(body, "msg"), Some(&AnyValue::from("disk almost full")));
        let disk = kvlist(attr(body, "disk").expect("disk"));
        assert_eq!(attr(disk, "name"), Some(&AnyValue::from("sda1")));
        let free = kvlist(attr(disk, "free").expect("free"));
        assert_eq!(attr(free, "bytes"), Some(&AnyValue::from(1024i64)));
        assert_eq!(attr(free, "ratio"), Some(&AnyValue::from(0.05f64)));
        let mounts = array(attr(body, "mounts").expect("mounts"));
        assert_eq!(mounts.len(), 3);
        assert_eq!(mounts[0], AnyValue::from("/"));
        assert_eq!(attr(kvlist(&mounts[1]), "ro"), Some(&AnyValue::from(false)));
        assert_eq!(mounts[2], AnyValue::from(7i64));
        assert_eq!(attr(body, "note"), Some(&AnyValue { value: None }));
        let a = &warn.attributes;
        assert_eq!(attr(a, "host"), Some(&AnyValue::from("db-1")));
        assert_eq!(attr(a, "retries"), Some(&AnyValue::from(3i64)));
        assert_eq!(attr(a, "ok"), Some(&AnyValue::from(true)));
        assert_eq!(attr(a, "region"), Some(&AnyValue::from("eu")));
        assert_eq!(attr(a, "load"), Some(&AnyValue::from(0.75f64)));

        let fatal = body_of(&records, "plain text");
        assert_eq!(fatal.severity_number, 24);
        assert_eq!(fatal.severity_text, "CRITICAL");
        let before = before
            .duration_since(UNIX_EPOCH)
            .expect("after epoch")
            .as_nanos() as u64;
        assert!(fatal.observed_time_unix_nano >= before, "observed at send");
        assert_eq!(
            fatal.time_unix_nano, fatal.observed_time_unix_nano,
            "without a timestamp, the time of sending"
        );
        assert!(fatal.trace_id.is_empty() && fatal.span_id.is_empty());
        assert_eq!(fatal.flags, 0);
        t.client.shutdown(WAIT).await.expect("shutdown");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_are_correlated_with_the_current_span() {
    let t = setup().await;
    let tracer = t.client.tracer("correlation");
    let mut span = tracer.start("handler");
    let span_context = span.span_context().clone();
    let remote = SpanContext::new(
        TraceId::from_bytes([7; 16]),
        SpanId::from_bytes([8; 8]),
        TraceFlags::NONE,
        true,
        TraceState::empty(),
    );
    {
        let _current = span.enter();
        let _ = t
            .client
            .send_log(LogBuilder::new().with_body("inside").build());
        let _ = t
            .client
            .send_event(EventBuilder::new("inside.event").build());
        let _ = t.client.send_log(
            LogBuilder::new()
                .with_body("explicit")
                .with_span_context(&remote)
                .build(),
        );
        let _ = t.client.send_log(
            LogBuilder::new()
                .with_body("detached")
                .without_trace_context()
                .build(),
        );
    }
    span.end();
    let _ = t
        .client
        .send_log(LogBuilder::new().with_body("outside").build());
    // An explicit context outside any span.
    let _ = t.client.send_event(
        EventBuilder::new("explicit.event")
            .with_span_context(&remote)
            .build(),
    );

    let spans = spans_of(&t).await;
    assert_eq!(spans.len(), 1);
    let exported = &spans[0];
    assert_eq!(
        exported.trace_id,
        Bytes::copy_from_slice(&span_context.trace_id().to_bytes())
    );
    let records = records_of(&t).await;
    assert_eq!(records.len(), 6);

    let inside = body_of(&records, "inside");
    assert_eq!(inside.trace_id, exported.trace_id);
    assert_eq!(inside.span_id, exported.span_id);
    assert_eq!(inside.flags, 1, "sampled");
    let event = &records
        .iter()
        .find(|(_, r)| r.event_name == "inside.event")
        .expect("event")
        .1;
    assert_eq!(event.trace_id, exported.trace_id);
    assert_eq!(event.span_id, exported.span_id);

    for record in [
        body_of(&records, "explicit"),
        &records
            .iter()
            .find(|(_, r)| r.event_name == "explicit.event")
            .expect("event")
            .1,
    ] {
        assert_eq!(&record.trace_id[..], &[7; 16]);
        assert_eq!(&record.span_id[..], &[8; 8]);
        assert_eq!(record.flags, 0);
    }
    for body in ["detached", "outside"] {
        let record = body_of(&records, body);
        assert!(record.trace_id.is_empty(), "{body}");
        assert!(record.span_id.is_empty(), "{body}");
        assert_eq!(record.flags, 0, "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_send_event_is_one_record() {
    let t = setup().await;
    let enqueued = t.client.send_event(
        EventBuilder::new("order.created")
            .with_domain("ecommerce")
            .with_attribute("order.id", 1234i64)
            .with_body_map(json!({ "items": [{ "sku": "A-1", "qty": 2 }], "total": 19.5 }))
            .build(),
    );
    assert!(enqueued.is_queued());
    let records = records_of(&t).await;
    assert_eq!(records.len(), 1, "exactly one record per send_event");
    let (scope, event) = &records[0];
    assert_eq!(scope, "logs-test");
    assert!(event.time_unix_nano > 0, "stamped at send");
    assert_eq!(event.event_name, "order.created");
    assert_eq!(event.severity_number, Severity::Info.number());
    assert_eq!(event.severity_text, "INFO");
    assert_eq!(
        attr(&event.attributes, EVENT_DOMAIN),
        Some(&AnyValue::from("ecommerce"))
    );
    assert_eq!(
        attr(&event.attributes, "order.id"),
        Some(&AnyValue::from(1234i64))
    );
    assert_eq!(event.attributes.len(), 2, "no duplicated attributes");
    let items = array(attr(kvlist(event.body.as_ref().expect("body")), "items").expect("items"));
    assert_eq!(attr(kvlist(&items[0]), "qty"), Some(&AnyValue::from(2i64)));

    // Many events, each exactly once, through the client and a logger.
    let logger = t.client.logger("events");
    for i in 0..50i64 {
        let event = EventBuilder::new("tick")
            .with_severity(Severity::Debug)
            .with_attribute("i", i)
            .build();
        let _ = if i % 2 == 0 {
            t.client.send_event(event)
        } else {
            logger.emit_event(event)
        };
    }
    let records = records_of(&t).await;
    let ticks: Vec<i64> = records
        .iter()
        .filter(|(_, r)| r.event_name == "tick")
        .filter_map(|(_, r)| match attr(&r.attributes, "i")?.value {
            Some(Value::IntValue(i)) => Some(i),
            _ => None,
        })
        .collect();
    let mut sorted = ticks.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(ticks.len(), 50, "one record per event");
    assert_eq!(sorted, (0..50).collect::<Vec<_>>());
    let stats = t.client.logs_stats();
    assert_eq!(stats.accepted, 51);
    assert_eq!(stats.exported, 51);
    assert!(stats.is_consistent());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_scopes_share_one_request() {
    // A long scheduled delay: everything waits for the flush, which sends one batch.
    let t = setup_with(Protocol::HttpProtobuf, Duration::from_secs(60)).await;
    let a = t.client.logger("scope-a");
    let b = t.client.logger_with_version(
        "scope-b",
        Some("2.0.0"),
        Some("https://opentelemetry.io/schemas/1.44.0"),
    );
    assert_eq!(a.name(), "scope-a");
    assert_eq!(b.version(), Some("2.0.0"));
    let a_again = t.client.logger("scope-a");
    let _ = a.emit(LogBuilder::new().with_body("a1").build());
    let _ = b.emit(LogBuilder::new().with_body("b1").build());
    let _ = t
        .client
        .send_log(LogBuilder::new().with_body("default").build());
    let _ = a_again.emit(LogBuilder::new().with_body("a2").build());
    let _ = b.emit(
        LogBuilder::new()
            .with_severity(Severity::Error)
            .with_body("b2")
            .build(),
    );

    let requests = requests_of(&t).await;
    assert_eq!(requests.len(), 1, "one request for every scope");
    let scopes = &requests[0];
    assert_eq!(scopes.len(), 3, "{scopes:?}");
    let bodies = |sl: &ScopeLogs| -> Vec<String> {
        sl.log_records
            .iter()
            .filter_map(|r| r.body.as_ref()?.as_str().map(str::to_owned))
            .collect()
    };
    let by_name = |name: &str| {
        scopes
            .iter()
            .find(|sl| sl.scope.as_ref().is_some_and(|s| s.name == name))
            .unwrap_or_else(|| panic!("no scope {name}"))
    };
    let sa = by_name("scope-a");
    assert_eq!(bodies(sa), ["a1", "a2"], "one scope however many loggers");
    let sb = by_name("scope-b");
    // "b2" is an ERROR record: a high-priority item, which the queue may hand out first.
    let mut b_bodies = bodies(sb);
    b_bodies.sort();
    assert_eq!(b_bodies, ["b1", "b2"]);
    assert_eq!(sb.scope.as_ref().map(|s| &*s.version), Some("2.0.0"));
    assert_eq!(sb.schema_url, "https://opentelemetry.io/schemas/1.44.0");
    let default = by_name("logs-test");
    assert_eq!(bodies(default), ["default"]);
    assert_eq!(default.scope.as_ref().map(|s| &*s.version), Some(""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_after_shutdown_are_dropped_and_counted() {
    let t = setup().await;
    let logger = t.client.logger("late");
    for i in 0..10i64 {
        let _ = logger.emit(LogBuilder::new().with_attribute("i", i).build());
    }
    t.client.shutdown(WAIT).await.expect("shutdown");
    let stats = t.client.logs_stats();
    assert_eq!(stats.exported, 10);
    assert!(stats.is_consistent());

    let late = t
        .client
        .send_log(LogBuilder::new().with_body("late").build());
    assert_eq!(late, Enqueued::Dropped(DropReason::AfterShutdown));
    let _ = t.client.send_event(EventBuilder::new("late.event").build());
    let _ = logger.emit(LogBuilder::new().build());
    let _ = t
        .client
        .logger("new-after-shutdown")
        .emit(LogBuilder::new().build());
    let stats = t.client.logs_stats();
    assert_eq!(stats.accepted, 14);
    assert_eq!(stats.exported, 10);
    assert_eq!(stats.dropped.after_shutdown, 4);
    assert_eq!(stats.queued, 0);
    assert!(stats.is_consistent());
    assert_eq!(t.sink.item_count(otlp::Signal::Logs), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_after_a_shutdown_before_any_record_are_counted() {
    let t = setup().await;
    assert_eq!(t.client.logs_stats().accepted, 0);
    t.client.shutdown(WAIT).await.expect("shutdown");
    let late = t
        .client
        .send_log(LogBuilder::new().with_body("late").build());
    assert_eq!(late, Enqueued::Dropped(DropReason::AfterShutdown));
    let stats = t.client.logs_stats();
    assert_eq!(stats.accepted, 1);
    assert_eq!(stats.dropped.after_shutdown, 1);
    assert!(stats.is_consistent());
    // The generic accessor gives the same, and zeros for a signal the client does not carry.
    assert_eq!(t.client.stats_for(otlp::Signal::Logs), stats);
    assert_eq!(t.client.stats_for(otlp::Signal::Metrics).accepted, 0);
    assert_eq!(t.client.stats_for(otlp::Signal::Traces), t.client.stats());
    assert_eq!(t.sink.item_count(otlp::Signal::Logs), 0);
}

#[test]
fn blocking_flush_and_shutdown_cover_logs() {
    // The receiver runs on a multi-thread runtime's workers; this thread has no runtime.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let sink = MemorySink::new();
    let receiver = runtime.block_on(common::receiver(sink.clone()));
    // A long delay: only a flush or the shutdown sends the records.
    let config = ClientConfig::new()
        .with_exporter(common::config(&receiver, Protocol::HttpProtobuf))
        .with_logs_pipeline(
            AdaptiveBatchConfig::default().with_scheduled_delay(Duration::from_secs(60)),
        );
    let client = OtlpClient::new_blocking(config).expect("client");
    let _ = client.send_log(LogBuilder::new().with_body("blocking").build());
    client.force_flush_blocking(WAIT).expect("flush");
    assert_eq!(sink.item_count(otlp::Signal::Logs), 1);
    let _ = client.send_log(LogBuilder::new().with_body("at shutdown").build());
    client.shutdown_blocking(WAIT).expect("shutdown");
    assert_eq!(sink.item_count(otlp::Signal::Logs), 2);
    let stats = client.logs_stats();
    assert_eq!(stats.exported, 2);
    assert!(stats.is_consistent());
    drop(receiver);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_can_be_awaited_and_name_the_drop_reason() {
    let t = setup().await;
    t.client
        .send_log(LogBuilder::new().with_body("queued").build())
        .await
        .expect("queued");
    t.client
        .send_event(EventBuilder::new("queued.event").build())
        .await
        .expect("queued");
    t.client
        .logger("awaited")
        .emit(LogBuilder::new().build())
        .await
        .expect("queued");
    t.client.shutdown(WAIT).await.expect("shutdown");
    let err = t
        .client
        .send_log(LogBuilder::new().with_body("late").build())
        .await
        .expect_err("dropped after shutdown");
    assert!(err.is_dropped(), "{err}");
    assert_eq!(err.drop_reason(), Some(DropReason::AfterShutdown));
    assert!(err.to_string().contains("after_shutdown"), "{err}");
    let err: otlp::OtlpError = t
        .client
        .send_event(EventBuilder::new("late").build())
        .await
        .expect_err("dropped after shutdown");
    assert_eq!(err.drop_reason(), Some(DropReason::AfterShutdown));
    assert_eq!(t.sink.item_count(otlp::Signal::Logs), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_is_an_error_naming_it() {
    // One slot and a long delay: the second record finds the queue full.
    let t = Harness::start(|config| {
        config.with_logs_pipeline(
            AdaptiveBatchConfig::default()
                .with_max_queue_size(1)
                .with_min_batch_size(1)
                .with_max_batch_size(1)
                .with_scheduled_delay(Duration::from_secs(60))
                .with_drop_policy(otlp::pipeline::DropPolicy::DropNewest),
        )
    })
    .await;
    let client = &t.client;
    let results: Vec<_> = (0..50)
        .map(|i| {
            client
                .send_log(LogBuilder::new().with_attribute("i", i).build())
                .into_result()
        })
        .collect();
    let full = results
        .iter()
        .filter_map(|r| r.as_ref().err())
        .find(|e| e.drop_reason() == Some(DropReason::QueueFull))
        .expect("a record found the queue full");
    assert!(
        full.is_dropped() && full.to_string().contains("queue"),
        "{full}"
    );
    client.shutdown(WAIT).await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_scope_is_configurable_and_falls_back_to_otlp() {
    let sink = MemorySink::new();
    let receiver = common::receiver(sink.clone()).await;
    // No resource: without a `service.name`, the default scope is `otlp`.
    let base = || {
        ClientConfig::new()
            .with_exporter(common::config(&receiver, Protocol::HttpProtobuf))
            .with_resource_detection(false)
    };
    let named = OtlpClient::new(base().with_default_scope("checkout.orders"))
        .await
        .expect("client");
    let unnamed = OtlpClient::new(base()).await.expect("client");
    let _ = named.send_log(LogBuilder::new().with_body("named").build());
    let _ = unnamed.send_log(LogBuilder::new().with_body("unnamed").build());
    named.shutdown(WAIT).await.expect("shutdown");
    unnamed.shutdown(WAIT).await.expect("shutdown");
    let mut scopes = Vec::new();
    for r in sink.requests() {
        let Request::Logs(l) = r.request else {
            continue;
        };
        for sl in l.resource_logs.into_iter().flat_map(|rl| rl.scope_logs) {
            let scope = sl.scope.expect("scope");
            let body = sl.log_records[0].body.clone().expect("body");
            scopes.push((scope.name.to_string(), scope.version.to_string(), body));
        }
    }
    scopes.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        scopes,
        [
            (
                "checkout.orders".to_owned(),
                String::new(),
                AnyValue::from("named")
            ),
            (
                "otlp".to_owned(),
                env!("CARGO_PKG_VERSION").to_owned(),
                AnyValue::from("unnamed")
            ),
        ]
    );
}

/// `with_body_map` keeps the object's key order: the SDK turns on `serde_json`'s
/// `preserve_order`, which this crate (the user) gets too, as features unify.
#[test]
fn json_bodies_keep_their_key_order() {
    let record = LogBuilder::new()
        .with_body_map(json!({ "b": 1, "a": 2, "c": { "z": true, "y": false } }))
        .build();
    let body = kvlist(record.body.as_ref().expect("body"));
    let keys: Vec<&str> = body.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(keys, ["b", "a", "c"]);
    let inner = kvlist(attr(body, "c").expect("c"));
    let keys: Vec<&str> = inner.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(keys, ["z", "y"]);
}

#[test]
fn the_guides_names_are_aliases() {
    use otlp::logs::LogSeverity;
    let record = LogBuilder::new().with_severity(LogSeverity::Info).build();
    assert_eq!(record.severity_number, Severity::Info.number());
    let _: fn(otlp::OtlpError) -> otlp::Error = |e| e;
}
