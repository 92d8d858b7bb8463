//! Interoperability with the real OpenTelemetry Collector v0.148.0 (`peercol`, built from its Go
//! modules by `interop/build-peers.sh`):
//!
//! 1. our exporter -> Collector: every signal over every protocol and compression, compared
//!    field by field with what the Collector's file exporter wrote;
//! 2. Collector -> our receiver: the Collector's `otlp_grpc` and `otlp_http` exporters forward
//!    what the Python SDK (and, for profiles, our exporter) sent it to our receiver;
//! 4. failure behaviour: the Collector is stopped mid-stream and restarted on the same ports;
//!    our exporter retries and nothing it was told was accepted is lost.
//!
//! (Check 3, Jaeger, is in `tests/jaeger.rs`.) A peer that fails to build or start fails the
//! test with its output; nothing is skipped.

use otlp::{Exporter, ExporterConfig, Protocol, RetryPolicy};
use otlp_interop::{Collector, Forward, compare, python_sdk, python_sdk_send, tail, temp_dir};
use otlp_proto::common::{KeyValue, Value};
use otlp_proto::logs::LogRecord;
use otlp_proto::resource::Resource;
use otlp_proto::trace::{ResourceSpans, ScopeSpans, Span};
use otlp_proto::{Compression, Request, Signal, sample};
use otlp_receiver::{Received, Receiver, Transport};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

const PROTOCOLS: [Protocol; 3] = [Protocol::Grpc, Protocol::HttpProtobuf, Protocol::HttpJson];
const COMPRESSIONS: [Compression; 3] = [Compression::None, Compression::Gzip, Compression::Zstd];

/// The resource attribute that names the export a resource came from.
const CASE: &str = "interop.case";

fn endpoint(collector: &Collector, protocol: Protocol) -> String {
    match protocol {
        Protocol::Grpc => format!("http://{}", collector.grpc),
        _ => format!("http://{}", collector.http),
    }
}

fn exporter(endpoint: String, protocol: Protocol, compression: Compression) -> Exporter {
    Exporter::new(
        ExporterConfig::new()
            .with_protocol(protocol)
            .with_endpoint(endpoint)
            .with_compression(compression)
            .with_timeout(Duration::from_secs(10))
            .with_retry(RetryPolicy::disabled()),
    )
    .expect("exporter")
}

/// Every resource of `request`.
fn resources_mut(request: &mut Request) -> Vec<&mut Option<Resource>> {
    match request {
        Request::Traces(r) => r
            .resource_spans
            .iter_mut()
            .map(|x| &mut x.resource)
            .collect(),
        Request::Metrics(r) => r
            .resource_metrics
            .iter_mut()
            .map(|x| &mut x.resource)
            .collect(),
        Request::Logs(r) => r
            .resource_logs
            .iter_mut()
            .map(|x| &mut x.resource)
            .collect(),
        Request::Profiles(r) => r
            .resource_profiles
            .iter_mut()
            .map(|x| &mut x.resource)
            .collect(),
    }
}

/// `request` with the attribute `interop.case = case` added to every resource.
fn tagged(mut request: Request, case: &str) -> Request {
    for resource in resources_mut(&mut request) {
        resource
            .get_or_insert_with(Resource::default)
            .attributes
            .push(KeyValue::new(CASE, case.to_owned()));
    }
    request
}

/// The `interop.case` values of the resources of `request`.
fn cases(request: &Request) -> BTreeSet<String> {
    // Profiles' attributes may be dictionary references; resolve them first.
    let mut request = compare::normalize(request.clone());
    resources_mut(&mut request)
        .into_iter()
        .flat_map(|r| r.as_ref().map(|r| r.attributes.clone()).unwrap_or_default())
        .filter(|kv| &*kv.key == CASE)
        .filter_map(|kv| match kv.value.and_then(|v| v.value) {
            Some(Value::StringValue(s)) => Some(s.to_string()),
            _ => None,
        })
        .collect()
}

// --------------------------------------------------------------------------------------------
// 1. Our exporter -> Collector -> file exporter

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_signal_protocol_and_compression_comes_out_of_the_collector_intact() {
    let dir = temp_dir("collector-file");
    let collector = Collector::start(&dir, None);
    let mut sent: BTreeMap<(Signal, String), Request> = BTreeMap::new();
    for protocol in PROTOCOLS {
        for compression in COMPRESSIONS {
            let exporter = exporter(endpoint(&collector, protocol), protocol, compression);
            for signal in Signal::ALL {
                let case = format!("{signal}/{protocol}/{}", compression.name());
                let request = tagged(sample::request(signal), &case);
                let outcome = exporter
                    .export_request(&request)
                    .await
                    .unwrap_or_else(|e| panic!("{case}: {e}\nCollector log:\n{}", collector.log()));
                assert!(!outcome.is_partial_success(), "{case}: {outcome:?}");
                sent.insert((signal, case), request);
            }
        }
    }

    let per_signal = PROTOCOLS.len() * COMPRESSIONS.len();
    for signal in Signal::ALL {
        let lines = collector.read_output(signal, per_signal, Duration::from_secs(30));
        // Without a batch processor the Collector writes one line per export request; each line
        // must therefore hold exactly one of our cases, and every case must show up once.
        let mut seen = BTreeSet::new();
        for got in &lines {
            let got_cases = cases(got);
            let [case] = got_cases.iter().collect::<Vec<_>>()[..] else {
                panic!("{signal}: a line holds the cases {got_cases:?}, expected exactly one");
            };
            assert!(seen.insert(case.clone()), "{case}: written twice");
            let want = &sent[&(signal, case.clone())];
            compare::assert_same(case, want, got);
        }
        assert_eq!(seen.len(), per_signal, "{signal}: cases written: {seen:?}");
    }
}

// --------------------------------------------------------------------------------------------
// 2. Python SDK (and our exporter, for profiles) -> Collector -> otlp_grpc / otlp_http -> us

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Starts a Collector forwarding to `receiver` (on a blocking thread: it polls with sleeps).
async fn forwarding_collector(
    name: &str,
    grpc: std::net::SocketAddr,
    http: std::net::SocketAddr,
) -> Collector {
    let dir = temp_dir(name);
    tokio::task::spawn_blocking(move || Collector::start(&dir, Some(Forward { grpc, http })))
        .await
        .expect("join")
}

/// Everything of one kind that arrived over `transport`.
fn arrived(got: &[Received], transport: Transport) -> (Vec<Span>, Vec<String>, Vec<LogRecord>) {
    let (mut spans, mut metrics, mut logs) = (Vec::new(), Vec::new(), Vec::new());
    for r in got.iter().filter(|r| r.transport == transport) {
        match &r.request {
            Request::Traces(t) => spans.extend(t.spans().map(|p| p.item.clone())),
            Request::Metrics(m) => metrics.extend(m.metrics().map(|p| p.item.name.to_string())),
            Request::Logs(l) => logs.extend(l.log_records().map(|p| p.item.clone())),
            Request::Profiles(_) => {}
        }
    }
    (spans, metrics, logs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collector_forwards_python_sdk_data_to_our_receiver_over_grpc_and_http() {
    let python = tokio::task::spawn_blocking(|| python_sdk().to_owned())
        .await
        .expect("join");
    for protocol in ["grpc", "http/protobuf"] {
        let (receiver, sink) = Receiver::start_in_memory()
            .await
            .expect("start our receiver");
        let collector = forwarding_collector(
            "collector-forward-python",
            receiver.grpc_addr().expect("grpc"),
            receiver.http_addr().expect("http"),
        )
        .await;
        let endpoint = if protocol == "grpc" {
            format!("http://{}", collector.grpc)
        } else {
            format!("http://{}", collector.http)
        };
        let (python, protocol_arg) = (python.clone(), protocol.to_owned());
        let summary = tokio::task::spawn_blocking(move || {
            python_sdk_send(&python, &endpoint, &protocol_arg, &[])
        })
        .await
        .expect("join");

        // Everything twice: once through otlp_grpc, once through otlp_http.
        let wait = Duration::from_secs(30);
        for (signal, n) in [(Signal::Traces, 2), (Signal::Metrics, 4), (Signal::Logs, 3)] {
            assert!(
                sink.wait_for_items(signal, 2 * n, wait).await,
                "{protocol}: {} {signal} items arrived, expected {}; Collector log:\n{}",
                sink.item_count(signal),
                2 * n,
                tail(&collector.log(), 30)
            );
        }
        let got = sink.requests();
        for transport in [Transport::Grpc, Transport::Http] {
            let what = format!("Python {protocol} -> Collector -> {transport:?}");
            let (spans, metrics, logs) = arrived(&got, transport);
            let names: BTreeSet<&str> = spans.iter().map(|s| &*s.name).collect();
            assert_eq!(names, BTreeSet::from(["py-root", "py-child"]), "{what}");
            let trace_id = summary["trace_id"].as_str().expect("trace_id");
            let root_id = summary["root_span_id"].as_str().expect("root_span_id");
            for span in &spans {
                assert_eq!(hex(&span.trace_id), trace_id, "{what}");
            }
            let child = spans
                .iter()
                .find(|s| &*s.name == "py-child")
                .expect("child");
            assert_eq!(
                hex(&child.parent_span_id),
                root_id,
                "{what}: the child's parent"
            );
            let root = spans.iter().find(|s| &*s.name == "py-root").expect("root");
            assert_eq!(root.events.len(), 1, "{what}");
            assert_eq!(&*root.events[0].name, "py-event", "{what}");
            assert!(
                root.attributes.iter().any(|kv| &*kv.key == "py.int_list"),
                "{what}: {:?}",
                root.attributes
            );
            for name in summary["metrics"]["names"]
                .as_array()
                .expect("metric names")
            {
                let name = name.as_str().expect("name");
                assert!(
                    metrics.iter().any(|m| m == name),
                    "{what}: {name} not in {metrics:?}"
                );
            }
            let mut bodies: Vec<String> = logs
                .iter()
                .map(|r| match r.body.as_ref().and_then(|b| b.value.as_ref()) {
                    Some(Value::StringValue(s)) => s.to_string(),
                    other => panic!("{what}: log body {other:?}"),
                })
                .collect();
            let mut expected: Vec<String> = summary["logs"]["bodies"]
                .as_array()
                .expect("bodies")
                .iter()
                .map(|b| b.as_str().expect("body").to_owned())
                .collect();
            bodies.sort();
            expected.sort();
            assert_eq!(bodies, expected, "{what}");
            assert!(
                logs.iter().any(|r| &*r.event_name == "py.event"),
                "{what}: no event py.event"
            );
        }
        drop(collector);
        receiver.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collector_forwards_our_profiles_to_our_receiver_intact() {
    let (receiver, sink) = Receiver::start_in_memory()
        .await
        .expect("start our receiver");
    let collector = forwarding_collector(
        "collector-forward-profiles",
        receiver.grpc_addr().expect("grpc"),
        receiver.http_addr().expect("http"),
    )
    .await;
    // Profiles sent to the Collector's main OTLP receiver leave through otlp_grpc; those sent
    // to its second receiver leave through otlp_http.
    let sent = sample::request(Signal::Profiles);
    for addr in [collector.grpc, collector.profiles_http] {
        let exporter = exporter(format!("http://{addr}"), Protocol::Grpc, Compression::None);
        exporter
            .export_request(&sent)
            .await
            .expect("export profiles");
    }
    assert!(
        sink.wait_for_items(Signal::Profiles, 2, Duration::from_secs(30))
            .await,
        "{} profiles arrived, expected 2; Collector log:\n{}",
        sink.item_count(Signal::Profiles),
        tail(&collector.log(), 30)
    );
    let got = sink.requests();
    for transport in [Transport::Grpc, Transport::Http] {
        let what = format!("profiles -> Collector -> {transport:?}");
        let forwarded: Vec<&Received> = got.iter().filter(|r| r.transport == transport).collect();
        let [one] = forwarded[..] else {
            panic!("{what}: {} requests", forwarded.len());
        };
        compare::assert_same(&what, &sent, &one.request);
    }
    drop(collector);
    receiver.shutdown().await;
}

// --------------------------------------------------------------------------------------------
// 4. The Collector stopped mid-stream and restarted on the same ports

/// Batch `i` of the stream: one span with a span id unique to the batch.
fn batch(i: u64) -> Request {
    let mut span = sample::traces().resource_spans[0].scope_spans[0].spans[0].clone();
    span.span_id = bytes::Bytes::copy_from_slice(&(0x1000 + i).to_be_bytes());
    span.name = format!("batch {i}").into();
    span.links.clear();
    let mut request = sample::traces();
    request.resource_spans = vec![ResourceSpans {
        scope_spans: vec![ScopeSpans {
            spans: vec![span],
            ..request.resource_spans[0].scope_spans[0].clone()
        }],
        ..request.resource_spans[0].clone()
    }];
    request.into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exporter_retries_across_a_collector_restart_and_nothing_accepted_is_lost() {
    const BATCHES: u64 = 60;
    const STOP_AT: u64 = 20;
    for protocol in [Protocol::Grpc, Protocol::HttpProtobuf] {
        let dir = temp_dir("collector-restart");
        let collector = tokio::task::spawn_blocking(move || Collector::start(&dir, None))
            .await
            .expect("join");
        let exporter = Exporter::new(
            ExporterConfig::new()
                .with_protocol(protocol)
                .with_endpoint(endpoint(&collector, protocol))
                .with_timeout(Duration::from_secs(30))
                .with_retry(
                    RetryPolicy::default()
                        .with_max_attempts(1000)
                        .with_initial_backoff(Duration::from_millis(100))
                        .with_max_backoff(Duration::from_millis(500)),
                ),
        )
        .expect("exporter");

        // The restart runs on its own thread while the stream goes on: SIGTERM (the Collector
        // drains and flushes), two seconds down, then the same config on the same ports.
        let (stop, restarter) = collector.restart_when_told(Duration::from_secs(2));
        let mut retried = 0;
        for i in 0..BATCHES {
            if i == STOP_AT {
                stop.send(()).expect("signal the restarter");
            }
            match exporter.export_request(&batch(i)).await {
                Ok(outcome) => {
                    assert!(!outcome.is_partial_success(), "batch {i}: {outcome:?}");
                    if outcome.attempts > 1 {
                        retried += 1;
                    }
                }
                Err(e) => panic!("{protocol}: batch {i} failed: {e}"),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let collector = tokio::task::spawn_blocking(move || restarter.join().expect("restarter"))
            .await
            .expect("join");
        // While the Collector was down, some export must have needed more than one attempt;
        // otherwise this test did not test anything.
        assert!(
            retried > 0,
            "{protocol}: no export was retried across the restart"
        );

        // Every span id on the Collector's side, over both runs (the file exporter appends).
        // A batch may show up twice: if the first Collector had written it but its answer was
        // lost in the shutdown, our exporter rightly sent it again. "Nothing accepted is lost"
        // means every batch shows up at least once; duplicates are counted and reported.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let (unique, total) = loop {
            let ids = collector.span_id_counts();
            let total: usize = ids.values().sum();
            if ids.len() as u64 >= BATCHES || std::time::Instant::now() >= deadline {
                break (ids, total);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let missing: Vec<u64> = (0..BATCHES)
            .filter(|i| !unique.contains_key((0x1000 + i).to_be_bytes().as_slice()))
            .collect();
        assert!(
            missing.is_empty(),
            "{protocol}: batches accepted by the exporter but not on the Collector's side: {missing:?}; \
             Collector log:\n{}",
            tail(&collector.log(), 30)
        );
        assert_eq!(
            unique.len() as u64,
            BATCHES,
            "{protocol}: unexpected span ids"
        );
        eprintln!(
            "{protocol}: {BATCHES} batches, {retried} retried, {} written ({} duplicates)",
            total,
            total - unique.len()
        );
    }
}
