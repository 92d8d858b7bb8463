//! Our metrics SDK -> the real OpenTelemetry Collector v0.148.0 (`peercol`), whose metrics
//! pipeline ends in the file exporter and the contrib Prometheus exporter.
//!
//! Clients record every instrument kind of [`otlp_interop::metrics`] (u64 and f64 counters, i64
//! and f64 up-down counters, u64 and f64 histograms with chosen boundaries, i64, u64 and f64
//! gauges; observable u64 counter, i64 up-down counter and f64 gauge whose callbacks observe
//! per-cycle values; an f64 histogram made a base-2 exponential histogram by a view), with
//! attributes, in two collection cycles, and export each cycle to the Collector:
//!
//! - one client per protocol (gRPC, HTTP/protobuf, HTTP/JSON) collected by hand
//!   (`collect_metrics`) and sent with an [`Exporter`], so that what was sent is known;
//! - one client per protocol and temporality preference (cumulative, delta, lowmemory)
//!   exporting itself on `force_flush`.
//!
//! Then:
//!
//! 1. each line the file exporter wrote holds the values recorded, computed by hand (sums, last
//!    values, buckets, min, max, int or double, temporality, start and time ordering), and, for
//!    the hand-collected clients, equals semantically ([`compare`]) the request we sent;
//! 2. a scrape of the Prometheus exporter shows, under the names its translation gives (v0.148
//!    defaults: see [`otlp_interop::metrics::INSTRUMENTS`]), the right `# TYPE` and `# HELP`,
//!    and the totals, last values and histogram `_bucket{le=...}` (cumulative), `_sum` and
//!    `_count` of what was recorded; the exponential histogram as a native histogram (in the
//!    text format: `+Inf` bucket, `_sum`, `_count`), except a delta series the exporter fails to
//!    merge (see [`otlp_interop::metrics::expected_samples`]).
//!
//! Each client's resource is `service.name = <case>` alone, the exporter's `job` label, so one
//! Collector serves every case.

use otlp::metrics::{MetricsConfig, TemporalityPreference};
use otlp::{ClientConfig, Exporter, ExporterConfig, OtlpClient, Protocol, RetryPolicy};
use otlp_interop::metrics::{
    INSTRUMENTS, Instruments, SCOPE, Times, check_export, check_times, expected_samples,
    metrics_config, prometheus_differences, prometheus_type,
};
use otlp_interop::prometheus::{Exposition, scrape};
use otlp_interop::{Collector, compare, tail, temp_dir};
use otlp_proto::collector::ExportMetricsServiceRequest;
use otlp_proto::common::{KeyValue, Value};
use otlp_proto::resource::Resource;
use otlp_proto::{Request, Signal};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const PROTOCOLS: [Protocol; 3] = [Protocol::Grpc, Protocol::HttpProtobuf, Protocol::HttpJson];

fn endpoint(collector: &Collector, protocol: Protocol) -> String {
    match protocol {
        Protocol::Grpc => format!("http://{}", collector.grpc),
        _ => format!("http://{}", collector.http),
    }
}

fn exporter_config(collector: &Collector, protocol: Protocol) -> ExporterConfig {
    ExporterConfig::new()
        .with_protocol(protocol)
        .with_endpoint(endpoint(collector, protocol))
        .with_timeout(Duration::from_secs(10))
        .with_retry(RetryPolicy::disabled())
}

/// A client whose resource is `service.name = case` alone.
async fn client(case: &str, exporter: ExporterConfig, metrics: MetricsConfig) -> OtlpClient {
    let resource = Resource {
        attributes: vec![KeyValue::new("service.name", case.to_owned())],
        ..Default::default()
    };
    OtlpClient::new(
        ClientConfig::new()
            .with_exporter(exporter)
            .with_resource(resource)
            .with_resource_detection(false)
            .with_metrics(metrics),
    )
    .await
    .expect("client")
}

/// The `service.name` of the request's resources (one name per request).
fn case_of(request: &ExportMetricsServiceRequest) -> String {
    let names: Vec<String> = request
        .resource_metrics
        .iter()
        .flat_map(|rm| rm.resource.iter().flat_map(|r| r.attributes.iter()))
        .filter(|kv| &*kv.key == "service.name")
        .filter_map(
            |kv| match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(Value::StringValue(s)) => Some(s.to_string()),
                _ => None,
            },
        )
        .collect();
    let [name] = &names[..] else {
        panic!("service names {names:?} in one request");
    };
    name.clone()
}

/// The file exporter's lines, `total` of them, per case, in the order written.
fn written_per_case(
    collector: &Collector,
    total: usize,
) -> BTreeMap<String, Vec<ExportMetricsServiceRequest>> {
    let lines = collector.read_output(Signal::Metrics, total, Duration::from_secs(30));
    let mut got: BTreeMap<String, Vec<ExportMetricsServiceRequest>> = BTreeMap::new();
    for line in lines {
        let Request::Metrics(m) = line else {
            panic!("a metrics line that is not metrics");
        };
        got.entry(case_of(&m)).or_default().push(m);
    }
    got
}

/// Checks each case's two exports against the recorded values, and their times.
/// A case's preference: the last word of its name (`-collected`: cumulative).
fn preference_of(case: &str) -> TemporalityPreference {
    if case.ends_with("-delta") {
        TemporalityPreference::Delta
    } else if case.ends_with("-lowmemory") {
        TemporalityPreference::LowMemory
    } else {
        TemporalityPreference::Cumulative
    }
}

fn check_cases(got: &BTreeMap<String, Vec<ExportMetricsServiceRequest>>) {
    for (case, requests) in got {
        let preference = preference_of(case);
        let times: Vec<Times> = (1..)
            .zip(requests)
            .map(|(cycle, r)| check_export(&format!("{case} cycle {cycle}"), preference, cycle, r))
            .collect();
        let [first, second] = &times[..] else {
            panic!("{case}: {} exports written, expected 2", times.len());
        };
        check_times(case, preference, first, second);
    }
}

/// Scrapes until the exposition matches what every case recorded or `timeout` passes (the
/// exporter serves what it has consumed; the last export may still be on its way).
fn assert_scrape(collector: &Collector, cases: &[String], timeout: Duration) -> Exposition {
    let addr = collector.prometheus.expect("the Prometheus exporter");
    let deadline = Instant::now() + timeout;
    loop {
        let scraped = scrape(addr).unwrap_or_else(|e| panic!("{e}"));
        let problems: Vec<String> = cases
            .iter()
            .flat_map(|case| {
                let delta = preference_of(case) != TemporalityPreference::Cumulative;
                prometheus_differences(case, delta, &scraped)
                    .into_iter()
                    .map(move |p| format!("{case}: {p}"))
            })
            .collect();
        if problems.is_empty() {
            return scraped;
        }
        assert!(
            Instant::now() < deadline,
            "the Prometheus exporter's exposition differs from what was recorded:\n  {}\n\
             Collector log tail:\n{}",
            problems.join("\n  "),
            tail(&collector.log(), 30)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Scrapes (on a blocking thread: it polls with sleeps), then stops the Collector; returns
/// the scrape and the Collector's log.
async fn scrape_and_stop(collector: Collector, cases: Vec<String>) -> (Exposition, String) {
    tokio::task::spawn_blocking(move || {
        let scraped = assert_scrape(&collector, &cases, Duration::from_secs(30));
        let log = collector.log();
        drop(collector);
        (scraped, log)
    })
    .await
    .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
}

/// The labels of a sample: the attributes' (dots to `_`), the scope's and `job` (the
/// resource's service.name; no `instance` without a service.instance.id).
fn assert_labels(scraped: &Exposition, case: &str) {
    let wanted = [("job", case), ("http_route", "/a")];
    let sample = scraped
        .find("app_requests_total", &wanted)
        .next()
        .expect("a sample");
    let keys: Vec<&str> = sample.labels.keys().map(String::as_str).collect();
    let want = [
        "http_response_status_code",
        "http_route",
        "job",
        "otel_scope_name",
        "otel_scope_schema_url",
        "otel_scope_version",
    ];
    assert_eq!(keys, want, "{sample:?}");
    assert_eq!(sample.labels["otel_scope_name"], SCOPE);
}

// --------------------------------------------------------------------------------------------

/// The Collector with its file and Prometheus exporters, writing into a fresh directory named
/// after `case` (started off the runtime's threads: it waits for the Collector to listen).
async fn collector_with_prometheus(case: &str) -> Collector {
    let dir = temp_dir(case);
    tokio::task::spawn_blocking(move || Collector::start_with_prometheus(&dir))
        .await
        .expect("join")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_instrument_over_every_protocol_comes_out_of_the_file_and_prometheus_exporters() {
    let collector = collector_with_prometheus("collector-metrics").await;
    let mut sent: BTreeMap<String, Vec<ExportMetricsServiceRequest>> = BTreeMap::new();
    // Kept until the file is read: a client's shutdown may export once more.
    let mut clients = Vec::new();
    for protocol in PROTOCOLS {
        let case = format!("metrics-{protocol}-collected").replace('/', "-");
        let config = exporter_config(&collector, protocol);
        // No periodic export: only what is collected here is sent.
        let metrics = metrics_config(MetricsConfig::new().with_export_interval(None));
        let client = client(&case, config.clone(), metrics).await;
        let instruments = Instruments::new(&client);
        let exporter = Exporter::new(config).expect("exporter");
        for cycle in [1, 2] {
            instruments.record(cycle);
            let request = client.collect_metrics();
            let outcome = exporter
                .export(&request)
                .await
                .unwrap_or_else(|e| panic!("{case}: {e}\nCollector log:\n{}", collector.log()));
            assert!(!outcome.is_partial_success(), "{case}: {outcome:?}");
            sent.entry(case.clone()).or_default().push(request);
        }
        clients.push(client);
    }

    // 1. The file exporter: one line per export, in order per case, equal to what was sent and
    //    to what was recorded.
    let got = written_per_case(&collector, sent.values().map(Vec::len).sum());
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        sent.keys().collect::<Vec<_>>(),
        "cases written"
    );
    for (case, requests) in &sent {
        assert_eq!(got[case].len(), requests.len(), "{case}: lines written");
        for (i, (want, got)) in requests.iter().zip(&got[case]).enumerate() {
            let what = format!("{case} export {}", i + 1);
            compare::assert_same(
                &what,
                &Request::from(want.clone()),
                &Request::from(got.clone()),
            );
        }
    }
    check_cases(&got);
    for client in clients {
        client
            .shutdown(Duration::from_secs(5))
            .await
            .expect("shutdown");
    }

    // 2. The Prometheus exporter: names, types, help and values of every case.
    let cases: Vec<String> = sent.keys().cloned().collect();
    let (scraped, log) = scrape_and_stop(collector, cases.clone()).await;
    assert_labels(&scraped, &cases[0]);
    assert!(!log.contains("failed to convert metric"), "{log}");
}

/// The client's own export path: its metrics reader collects and exports on `force_flush`,
/// with the temporality preference of its [`MetricsConfig`].
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_instrument_in_both_temporalities_flushed_by_the_client_comes_out_intact() {
    let collector = collector_with_prometheus("collector-metrics-flush").await;
    let preferences = [
        ("cumulative", TemporalityPreference::Cumulative),
        ("delta", TemporalityPreference::Delta),
        // Delta for counters and histograms, cumulative for observable counters.
        ("lowmemory", TemporalityPreference::LowMemory),
    ];
    let (mut cases, mut clients) = (Vec::new(), Vec::new());
    for protocol in PROTOCOLS {
        for (name, preference) in preferences {
            let case = format!("metrics-{protocol}-{name}").replace('/', "-");
            // No periodic export: each cycle ends with one force_flush, one export.
            let metrics = metrics_config(
                MetricsConfig::new()
                    .with_temporality(preference)
                    .with_export_interval(None),
            );
            let client = client(&case, exporter_config(&collector, protocol), metrics).await;
            let instruments = Instruments::new(&client);
            for cycle in [1, 2] {
                instruments.record(cycle);
                client
                    .force_flush(Duration::from_secs(10))
                    .await
                    .unwrap_or_else(|e| panic!("{case}: {e}\nCollector log:\n{}", collector.log()));
            }
            cases.push(case);
            // Kept until the file is read: a client's shutdown may export once more.
            clients.push(client);
        }
    }
    let got = written_per_case(&collector, 2 * cases.len());
    let mut sorted = cases.clone();
    sorted.sort();
    assert_eq!(
        got.keys().cloned().collect::<Vec<_>>(),
        sorted,
        "cases written"
    );
    check_cases(&got);
    for client in clients {
        client
            .shutdown(Duration::from_secs(5))
            .await
            .expect("shutdown");
    }
    let (scraped, log) = scrape_and_stop(collector, cases.clone()).await;
    assert_labels(&scraped, &cases[0]);
    // Why the delta exponential series is not served: see `expected_samples`.
    assert!(
        log.contains(
            "failed to convert metric app.response.size: the sum of all bucket populations \
             exceeds the count of observations"
        ),
        "{}",
        tail(&log, 30)
    );
}

/// The scrape check fails on a wrong total and on missing buckets.
#[test]
fn the_prometheus_check_fails_on_wrong_values() {
    let job = "c";
    let mut text = String::new();
    for (name, labels, value) in expected_samples(false) {
        let mut pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
        pairs.push(format!("job=\"{job}\""));
        text.push_str(&format!("{name}{{{}}} {value}\n", pairs.join(",")));
    }
    for i in INSTRUMENTS {
        let (family, kind) = (i.family, prometheus_type(i.kind));
        text.push_str(&format!(
            "# HELP {family} {}\n# TYPE {family} {kind}\n",
            i.description
        ));
    }
    let good = Exposition::parse(&text).expect("parses");
    assert_eq!(
        prometheus_differences(job, false, &good),
        Vec::<String>::new()
    );
    // Sent delta, the exponential histogram's /a series must be absent.
    assert_eq!(prometheus_differences(job, true, &good).len(), 3);
    let total = "app_requests_total{http_route=\"/a\",http_response_status_code=\"200\",job=\"c\"}";
    let wrong = text.replace(&format!("{total} 12"), &format!("{total} 11"));
    assert_ne!(wrong, text);
    let wrong = Exposition::parse(&wrong).expect("parses");
    assert_eq!(prometheus_differences(job, false, &wrong).len(), 1);
    let missing: String = text
        .lines()
        .filter(|l| !l.contains("le=\"+Inf\""))
        .map(|l| format!("{l}\n"))
        .collect();
    let missing = Exposition::parse(&missing).expect("parses");
    // One +Inf bucket per histogram series: payload /a, latency /a and /b, response /a and /b.
    assert_eq!(prometheus_differences(job, false, &missing).len(), 5);
}
