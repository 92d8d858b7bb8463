//! Our metrics SDK -> the real OpenTelemetry Collector v0.148.0 (`peercol`), whose metrics
//! pipeline ends in the file exporter and the contrib Prometheus exporter.
//!
//! One client per protocol (gRPC, HTTP/protobuf, HTTP/JSON) records every instrument kind (u64
//! and f64 counters, i64 and f64 up-down counters, u64 and f64 histograms with chosen
//! boundaries, i64, u64 and f64 gauges), with attributes, in two collection cycles, and exports
//! each cycle to the Collector. Then:
//!
//! 1. each line the file exporter wrote equals, semantically ([`compare`]), the request we sent;
//! 2. a scrape of the Prometheus exporter shows, under the names the exporter's translation
//!    gives (v0.148 defaults: dots and other invalid characters to `_`, the unit as a word
//!    suffix, `_total` on monotonic sums, `_ratio` on gauges of unit `1`, braced units dropped),
//!    the totals, last values and histogram buckets (`_bucket{le=...}`, cumulative, `_sum`,
//!    `_count`) of what was recorded, computed here by hand.
//!
//! The client is resource-tagged per case (`service.name`, the exporter's `job` label), so
//! one Collector serves every case.

use otlp::{ClientConfig, Exporter, ExporterConfig, OtlpClient, Protocol, RetryPolicy};
use otlp_interop::prometheus::{Exposition, scrape};
use otlp_interop::{Collector, compare, tail, temp_dir};
use otlp_proto::collector::ExportMetricsServiceRequest;
use otlp_proto::common::{KeyValue, Value};
use otlp_proto::metrics::{AggregationTemporality, MetricData};
use otlp_proto::resource::Resource;
use otlp_proto::{Request, Signal};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const PROTOCOLS: [Protocol; 3] = [Protocol::Grpc, Protocol::HttpProtobuf, Protocol::HttpJson];
const PAYLOAD_BOUNDS: [f64; 4] = [0.0, 100.0, 1000.0, 10000.0];
const LATENCY_BOUNDS: [f64; 5] = [0.5, 1.0, 5.0, 10.0, 50.0];

/// A series: the attributes `http.route` and `http.response.status_code`.
type Series = (&'static str, i64);
const A: Series = ("/a", 200);
const B: Series = ("/b", 500);

fn attributes((route, code): Series) -> [KeyValue; 2] {
    [
        KeyValue::new("http.route", route),
        KeyValue::new("http.response.status_code", code),
    ]
}

/// How the Prometheus exporter shows an instrument: its family name and type.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Shown {
    /// A monotonic sum: the total.
    Counter,
    /// A non-monotonic sum: the net total, as a gauge.
    Net,
    /// The last value.
    Gauge,
    /// A histogram with these boundaries.
    Histogram(&'static [f64]),
}

/// Every instrument: (OTLP name, unit, description, Prometheus family name, how shown).
const INSTRUMENTS: [(&str, &str, &str, &str, Shown); 9] = [
    (
        "app.requests",
        "{request}",
        "requests served",
        "app_requests_total",
        Shown::Counter,
    ),
    (
        "app.energy",
        "J",
        "energy used",
        "app_energy_joules_total",
        Shown::Counter,
    ),
    (
        "app.queue.depth",
        "{item}",
        "items queued",
        "app_queue_depth",
        Shown::Net,
    ),
    (
        "app.memory.usage",
        "By",
        "memory in use",
        "app_memory_usage_bytes",
        Shown::Net,
    ),
    (
        "app.payload.size",
        "By",
        "payload size",
        "app_payload_size_bytes",
        Shown::Histogram(&PAYLOAD_BOUNDS),
    ),
    (
        "app.latency",
        "ms",
        "request latency",
        "app_latency_milliseconds",
        Shown::Histogram(&LATENCY_BOUNDS),
    ),
    (
        "app.temperature",
        "Cel",
        "temperature",
        "app_temperature_celsius",
        Shown::Gauge,
    ),
    (
        "app.connections",
        "{connection}",
        "open connections",
        "app_connections",
        Shown::Gauge,
    ),
    (
        "app.cpu.utilization",
        "1",
        "cpu utilization",
        "app_cpu_utilization_ratio",
        Shown::Gauge,
    ),
];

/// What each cycle records: (instrument, series, value).
fn workload(cycle: u32) -> Vec<(&'static str, Series, f64)> {
    match cycle {
        1 => vec![
            ("app.requests", A, 3.0),
            ("app.requests", A, 4.0),
            ("app.requests", B, 10.0),
            ("app.energy", A, 0.25),
            ("app.queue.depth", A, 5.0),
            ("app.queue.depth", A, -2.0),
            ("app.memory.usage", A, 1024.5),
            ("app.payload.size", A, 0.0),
            ("app.payload.size", A, 100.0),
            ("app.payload.size", A, 150.0),
            ("app.payload.size", A, 20000.0),
            ("app.latency", A, 0.25),
            ("app.latency", A, 1.0),
            ("app.latency", A, 7.5),
            ("app.latency", B, 60.0),
            ("app.temperature", A, 21.0),
            ("app.temperature", A, -3.0),
            ("app.connections", A, 12.0),
            ("app.cpu.utilization", A, 0.75),
        ],
        _ => vec![
            ("app.requests", A, 5.0),
            ("app.energy", A, 1.5),
            ("app.queue.depth", A, -1.0),
            ("app.queue.depth", B, 7.0),
            ("app.memory.usage", A, -512.25),
            ("app.payload.size", A, 1000.0),
            ("app.latency", A, 0.5),
            ("app.latency", A, 49.9),
            ("app.temperature", A, 19.0),
            ("app.connections", B, 4.0),
            ("app.cpu.utilization", A, 0.5),
        ],
    }
}

/// The instruments of one client, recording a cycle of [`workload`].
struct Instruments {
    requests: otlp::metrics::Counter<u64>,
    energy: otlp::metrics::Counter<f64>,
    queue: otlp::metrics::UpDownCounter<i64>,
    memory: otlp::metrics::UpDownCounter<f64>,
    payload: otlp::metrics::Histogram<u64>,
    latency: otlp::metrics::Histogram<f64>,
    temperature: otlp::metrics::Gauge<i64>,
    connections: otlp::metrics::Gauge<u64>,
    cpu: otlp::metrics::Gauge<f64>,
}

impl Instruments {
    fn new(client: &OtlpClient) -> Instruments {
        let meter = client.meter("interop.metrics");
        let meta = |name: &str| {
            let (_, unit, description, _, _) = INSTRUMENTS
                .iter()
                .find(|i| i.0 == name)
                .expect("a known instrument");
            (*unit, *description)
        };
        macro_rules! build {
            ($method:ident, $name:literal) => {{
                let (unit, description) = meta($name);
                meter
                    .$method($name)
                    .with_unit(unit)
                    .with_description(description)
            }};
        }
        Instruments {
            requests: build!(u64_counter, "app.requests").build(),
            energy: build!(f64_counter, "app.energy").build(),
            queue: build!(i64_up_down_counter, "app.queue.depth").build(),
            memory: build!(f64_up_down_counter, "app.memory.usage").build(),
            payload: build!(u64_histogram, "app.payload.size")
                .with_boundaries(PAYLOAD_BOUNDS.to_vec())
                .build(),
            latency: build!(f64_histogram, "app.latency")
                .with_boundaries(LATENCY_BOUNDS.to_vec())
                .build(),
            temperature: build!(i64_gauge, "app.temperature").build(),
            connections: build!(u64_gauge, "app.connections").build(),
            cpu: build!(f64_gauge, "app.cpu.utilization").build(),
        }
    }

    fn record(&self, cycle: u32) {
        for (name, series, v) in workload(cycle) {
            let attrs = attributes(series);
            // The workload's values are exact in every type they are recorded as.
            match name {
                "app.requests" => self.requests.add(v as u64, &attrs),
                "app.energy" => self.energy.add(v, &attrs),
                "app.queue.depth" => self.queue.add(v as i64, &attrs),
                "app.memory.usage" => self.memory.add(v, &attrs),
                "app.payload.size" => self.payload.record(v as u64, &attrs),
                "app.latency" => self.latency.record(v, &attrs),
                "app.temperature" => self.temperature.record(v as i64, &attrs),
                "app.connections" => self.connections.record(v as u64, &attrs),
                "app.cpu.utilization" => self.cpu.record(v, &attrs),
                other => panic!("unknown instrument {other}"),
            }
        }
    }
}

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
async fn client(case: &str, exporter: ExporterConfig) -> OtlpClient {
    let resource = Resource {
        attributes: vec![KeyValue::new("service.name", case.to_owned())],
        ..Default::default()
    };
    OtlpClient::new(
        ClientConfig::new()
            .with_exporter(exporter)
            .with_resource(resource)
            .with_resource_detection(false),
    )
    .await
    .expect("client")
}

/// The `service.name` of the request's (single) resource.
fn case_of(request: &ExportMetricsServiceRequest) -> String {
    let attrs = request
        .resource_metrics
        .iter()
        .flat_map(|rm| rm.resource.iter().flat_map(|r| r.attributes.iter()));
    let names: Vec<String> = attrs
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

/// What we sent holds every instrument once, of the kind and temporality it should have.
fn assert_every_instrument(case: &str, sent: &ExportMetricsServiceRequest) {
    let metrics: Vec<_> = sent
        .resource_metrics
        .iter()
        .flat_map(|rm| rm.scope_metrics.iter())
        .flat_map(|sm| sm.metrics.iter())
        .collect();
    assert_eq!(metrics.len(), INSTRUMENTS.len(), "{case}: {metrics:?}");
    let cumulative = AggregationTemporality::Cumulative as i32;
    for (name, unit, description, _, shown) in INSTRUMENTS {
        let m = metrics
            .iter()
            .find(|m| &*m.name == name)
            .unwrap_or_else(|| panic!("{case}: {name} not sent"));
        assert_eq!(
            (&*m.unit, &*m.description),
            (unit, description),
            "{case}: {name}"
        );
        let ok = match (shown, m.data.as_ref()) {
            (Shown::Counter, Some(MetricData::Sum(s))) => {
                s.is_monotonic && s.aggregation_temporality == cumulative
            }
            (Shown::Net, Some(MetricData::Sum(s))) => {
                !s.is_monotonic && s.aggregation_temporality == cumulative
            }
            (Shown::Gauge, Some(MetricData::Gauge(_))) => true,
            (Shown::Histogram(bounds), Some(MetricData::Histogram(h))) => {
                h.aggregation_temporality == cumulative
                    && h.data_points.iter().all(|p| p.explicit_bounds == bounds)
            }
            _ => false,
        };
        assert!(
            ok,
            "{case}: {name} is not a cumulative {shown:?}: {:?}",
            m.data
        );
    }
}

// --------------------------------------------------------------------------------------------
// The Prometheus side

/// A sample a scrape should show: (sample name, labels besides `job`, value).
type ExpectedSample = (String, Vec<(&'static str, String)>, f64);

/// What a scrape should show for one case, after both cycles.
fn expected_samples() -> Vec<ExpectedSample> {
    let mut recorded: BTreeMap<(&str, Series), Vec<f64>> = BTreeMap::new();
    for cycle in [1, 2] {
        for (name, series, v) in workload(cycle) {
            recorded.entry((name, series)).or_default().push(v);
        }
    }
    let mut out = Vec::new();
    for ((name, series), values) in recorded {
        let (_, _, _, family, shown) = INSTRUMENTS
            .into_iter()
            .find(|i| i.0 == name)
            .expect("a known instrument");
        let labels = vec![
            ("http_route", series.0.to_owned()),
            ("http_response_status_code", series.1.to_string()),
        ];
        match shown {
            Shown::Counter | Shown::Net => {
                out.push((family.to_owned(), labels, values.iter().sum()))
            }
            Shown::Gauge => out.push((family.to_owned(), labels, *values.last().expect("a value"))),
            Shown::Histogram(bounds) => {
                // Prometheus buckets are cumulative: `le` counts every value <= the bound.
                for bound in bounds.iter().copied().chain([f64::INFINITY]) {
                    let count = values.iter().filter(|v| **v <= bound).count();
                    let mut labels = labels.clone();
                    let le = if bound.is_infinite() {
                        "+Inf".to_owned()
                    } else {
                        bound.to_string()
                    };
                    labels.push(("le", le));
                    out.push((format!("{family}_bucket"), labels, count as f64));
                }
                out.push((format!("{family}_sum"), labels.clone(), values.iter().sum()));
                out.push((format!("{family}_count"), labels, values.len() as f64));
            }
        }
    }
    out
}

/// Every difference between the scrape and what `case` recorded (empty when it matches).
fn prometheus_differences(case: &str, scraped: &Exposition) -> Vec<String> {
    let mut problems = Vec::new();
    for (_, _, description, family, shown) in INSTRUMENTS {
        let kind = match shown {
            Shown::Counter => "counter",
            Shown::Net | Shown::Gauge => "gauge",
            Shown::Histogram(_) => "histogram",
        };
        if scraped.types.get(family).map(String::as_str) != Some(kind) {
            problems.push(format!(
                "# TYPE {family}: {:?}, expected {kind}",
                scraped.types.get(family)
            ));
        }
        if scraped.helps.get(family).map(String::as_str) != Some(description) {
            problems.push(format!("# HELP {family}: {:?}", scraped.helps.get(family)));
        }
    }
    for (name, labels, want) in expected_samples() {
        let mut with_job: Vec<(&str, &str)> =
            labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
        with_job.push(("job", case));
        match scraped.value(&name, &with_job) {
            // The histogram sums add decimals in another order than we do.
            Ok(got) if (got - want).abs() <= 1e-9 * want.abs().max(1.0) => {}
            Ok(got) => problems.push(format!("{name} {with_job:?}: {got}, recorded {want}")),
            Err(e) => problems.push(e),
        }
    }
    problems
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
                prometheus_differences(case, &scraped)
                    .into_iter()
                    .map(move |p| format!("{case}: {p}"))
            })
            .collect();
        if problems.is_empty() {
            return scraped;
        }
        if Instant::now() >= deadline {
            panic!(
                "the Prometheus exporter's exposition differs from what was recorded:\n  {}\n\
                 Collector log tail:\n{}",
                problems.join("\n  "),
                tail(&collector.log(), 30)
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

// --------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_instrument_over_every_protocol_comes_out_of_the_file_and_prometheus_exporters() {
    let dir = temp_dir("collector-metrics");
    let collector = tokio::task::spawn_blocking(move || Collector::start_with_prometheus(&dir))
        .await
        .expect("join");
    let mut sent: BTreeMap<String, Vec<ExportMetricsServiceRequest>> = BTreeMap::new();
    for protocol in PROTOCOLS {
        let case = format!("metrics-{protocol}-cumulative").replace('/', "-");
        let config = exporter_config(&collector, protocol);
        let client = client(&case, config.clone()).await;
        let instruments = Instruments::new(&client);
        let exporter = Exporter::new(config).expect("exporter");
        for cycle in [1, 2] {
            instruments.record(cycle);
            let request = client.collect_metrics();
            assert_every_instrument(&case, &request);
            let outcome = exporter
                .export(&request)
                .await
                .unwrap_or_else(|e| panic!("{case}: {e}\nCollector log:\n{}", collector.log()));
            assert!(!outcome.is_partial_success(), "{case}: {outcome:?}");
            sent.entry(case.clone()).or_default().push(request);
        }
        client
            .shutdown(Duration::from_secs(5))
            .await
            .expect("shutdown");
    }

    // 1. The file exporter: one line per export, in order per case, equal to what was sent.
    let total: usize = sent.values().map(Vec::len).sum();
    let lines = collector.read_output(Signal::Metrics, total, Duration::from_secs(30));
    let mut got: BTreeMap<String, Vec<ExportMetricsServiceRequest>> = BTreeMap::new();
    for line in lines {
        let Request::Metrics(m) = line else {
            panic!("a metrics line that is not metrics");
        };
        got.entry(case_of(&m)).or_default().push(m);
    }
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

    // 2. The Prometheus exporter: names, types, help and values of every case.
    let cases: Vec<String> = sent.keys().cloned().collect();
    let scraped = tokio::task::spawn_blocking({
        let cases = cases.clone();
        move || {
            let scraped = assert_scrape(&collector, &cases, Duration::from_secs(30));
            drop(collector);
            scraped
        }
    })
    .await
    .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    // The labels of a sample: the attributes' (dots to `_`), the scope's and `job` (the
    // resource's service.name; no `instance` without a service.instance.id).
    let wanted = [("job", cases[0].as_str()), ("http_route", "/a")];
    let sample = scraped
        .find("app_requests_total", &wanted)
        .next()
        .expect("a sample");
    let keys: Vec<&str> = sample.labels.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "http_response_status_code",
            "http_route",
            "job",
            "otel_scope_name",
            "otel_scope_schema_url",
            "otel_scope_version"
        ],
        "{sample:?}"
    );
    assert_eq!(sample.labels["otel_scope_name"], "interop.metrics");
}

/// The values that make a scrape check fail: a wrong total, a missing bucket.
#[test]
fn the_prometheus_check_fails_on_wrong_values() {
    let case = "c";
    let mut text = String::new();
    for (name, labels, value) in expected_samples() {
        let mut pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
        pairs.push(format!("job=\"{case}\""));
        text.push_str(&format!("{name}{{{}}} {value}\n", pairs.join(",")));
    }
    for (_, _, description, family, shown) in INSTRUMENTS {
        let kind = match shown {
            Shown::Counter => "counter",
            Shown::Net | Shown::Gauge => "gauge",
            Shown::Histogram(_) => "histogram",
        };
        text.push_str(&format!(
            "# HELP {family} {description}\n# TYPE {family} {kind}\n"
        ));
    }
    let good = Exposition::parse(&text).expect("parses");
    assert_eq!(prometheus_differences(case, &good), Vec::<String>::new());
    let wrong = text.replace(
        "app_requests_total{http_route=\"/a\",http_response_status_code=\"200\",job=\"c\"} 12",
        "app_requests_total{http_route=\"/a\",http_response_status_code=\"200\",job=\"c\"} 11",
    );
    assert_ne!(wrong, text);
    assert_eq!(
        prometheus_differences(case, &Exposition::parse(&wrong).expect("parses")).len(),
        1
    );
    let missing: String = text
        .lines()
        .filter(|l| !l.contains("le=\"+Inf\""))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(
        prometheus_differences(case, &Exposition::parse(&missing).expect("parses")).len(),
        3
    );
}
