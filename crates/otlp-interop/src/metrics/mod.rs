//! The metrics workload of the Collector tests (`tests/metrics.rs`) and what each of the
//! Collector's exporters should show of it, computed by hand from the recorded values.
//!
//! Every instrument kind of our SDK (u64 and f64 counters, i64 and f64 up-down counters, u64 and
//! f64 histograms with chosen boundaries, i64, u64 and f64 gauges) records, with attributes, in
//! two collection cycles ([`workload`]); observable instruments (a u64 counter, an i64 up-down
//! counter, an f64 gauge) report, with attributes, what their callbacks observe per cycle
//! ([`observations`]); one f64 histogram is aggregated as a base-2 exponential histogram
//! ([`EXPONENTIAL`]). [`check_export`] checks one cycle's export as the
//! file exporter wrote it (kinds, temporality, values, buckets, times);
//! [`prometheus_differences`] checks a scrape of the Prometheus exporter.

mod export;
mod observed;
mod scrape;

pub use export::{Times, check_export, check_times};
pub use observed::{EXPONENTIAL, Exponential, expected_exponential, metrics_config, observations};
pub use scrape::{
    DROPPED_DELTA, ExpectedSample, expected_samples, prometheus_differences, prometheus_type,
};

use otlp::OtlpClient;
use otlp::metrics::{
    Counter, Gauge, Histogram, ObservableCounter, ObservableGauge, ObservableUpDownCounter,
    UpDownCounter,
};
use otlp_proto::common::KeyValue;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

/// The boundaries of `app.payload.size`.
pub const PAYLOAD_BOUNDS: [f64; 4] = [0.0, 100.0, 1000.0, 10000.0];
/// The boundaries of `app.latency`.
pub const LATENCY_BOUNDS: [f64; 5] = [0.5, 1.0, 5.0, 10.0, 50.0];
/// The scope every instrument is made in.
pub const SCOPE: &str = "interop.metrics";

/// A series: the attributes `http.route` and `http.response.status_code`.
pub type Series = (&'static str, i64);
/// The first series.
pub const A: Series = ("/a", 200);
/// The second series.
pub const B: Series = ("/b", 500);

/// The attributes of `series`.
pub fn attributes((route, code): Series) -> [KeyValue; 2] {
    [
        KeyValue::new("http.route", route),
        KeyValue::new("http.response.status_code", code),
    ]
}

/// What an instrument is, as exported and as the Prometheus exporter shows it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// A monotonic sum; Prometheus: a counter of the total.
    Counter,
    /// A non-monotonic sum; Prometheus: a gauge of the net total.
    UpDown,
    /// The last value.
    Gauge,
    /// A histogram with these boundaries.
    Histogram(&'static [f64]),
    /// A base-2 exponential histogram; Prometheus: a native histogram.
    Exponential,
    /// An observable counter; as [`Kind::Counter`] of the totals observed.
    ObservedCounter,
    /// An observable up-down counter; as [`Kind::UpDown`] of the totals observed.
    ObservedUpDown,
    /// An observable gauge; as [`Kind::Gauge`].
    ObservedGauge,
}

impl Kind {
    /// Whether a delta (or lowmemory) preference makes it delta: counters and histograms,
    /// and, under delta alone, observable counters.
    pub fn is_delta(self, delta: bool, lowmemory: bool) -> bool {
        match self {
            Kind::Counter | Kind::Histogram(_) | Kind::Exponential => delta,
            Kind::ObservedCounter => delta && !lowmemory,
            _ => false,
        }
    }
}

/// One instrument of the workload.
#[derive(Debug, Clone, Copy)]
pub struct Instrument {
    /// OTLP name.
    pub name: &'static str,
    /// OTLP unit.
    pub unit: &'static str,
    /// OTLP description (Prometheus: `# HELP`).
    pub description: &'static str,
    /// The family name the Prometheus exporter (v0.148 defaults) gives it.
    pub family: &'static str,
    /// Its kind.
    pub kind: Kind,
    /// Whether its values are integers (`asInt`).
    pub int: bool,
}

const fn instrument(
    name: &'static str,
    unit: &'static str,
    description: &'static str,
    family: &'static str,
    kind: Kind,
    int: bool,
) -> Instrument {
    Instrument {
        name,
        unit,
        description,
        family,
        kind,
        int,
    }
}

/// Every instrument. The family names follow the exporter's translation: invalid characters
/// to `_`, the unit as a word (`By` -> `bytes`, `ms` -> `milliseconds`, `J` -> `joules`, `Cel`
/// -> `celsius`), braced units (`{request}`) dropped, `_total` on monotonic sums, `_ratio` on
/// gauges of unit `1`.
pub const INSTRUMENTS: [Instrument; 13] = [
    instrument(
        "app.requests",
        "{request}",
        "requests served",
        "app_requests_total",
        Kind::Counter,
        true,
    ),
    instrument(
        "app.energy",
        "J",
        "energy used",
        "app_energy_joules_total",
        Kind::Counter,
        false,
    ),
    instrument(
        "app.queue.depth",
        "{item}",
        "items queued",
        "app_queue_depth",
        Kind::UpDown,
        true,
    ),
    instrument(
        "app.memory.usage",
        "By",
        "memory in use",
        "app_memory_usage_bytes",
        Kind::UpDown,
        false,
    ),
    instrument(
        "app.payload.size",
        "By",
        "payload size",
        "app_payload_size_bytes",
        Kind::Histogram(&PAYLOAD_BOUNDS),
        true,
    ),
    instrument(
        "app.latency",
        "ms",
        "request latency",
        "app_latency_milliseconds",
        Kind::Histogram(&LATENCY_BOUNDS),
        false,
    ),
    instrument(
        "app.temperature",
        "Cel",
        "temperature",
        "app_temperature_celsius",
        Kind::Gauge,
        true,
    ),
    instrument(
        "app.connections",
        "{connection}",
        "open connections",
        "app_connections",
        Kind::Gauge,
        true,
    ),
    instrument(
        "app.cpu.utilization",
        "1",
        "cpu utilization",
        "app_cpu_utilization_ratio",
        Kind::Gauge,
        false,
    ),
    instrument(
        EXPONENTIAL,
        "By",
        "response size",
        "app_response_size_bytes",
        Kind::Exponential,
        false,
    ),
    instrument(
        "app.jobs.completed",
        "{job}",
        "jobs completed",
        "app_jobs_completed_total",
        Kind::ObservedCounter,
        true,
    ),
    instrument(
        "app.threads",
        "{thread}",
        "threads alive",
        "app_threads",
        Kind::ObservedUpDown,
        true,
    ),
    instrument(
        "app.fan.speed",
        "{rpm}",
        "fan speed",
        "app_fan_speed",
        Kind::ObservedGauge,
        false,
    ),
];

fn find(name: &str) -> &'static Instrument {
    INSTRUMENTS
        .iter()
        .find(|i| i.name == name)
        .unwrap_or_else(|| panic!("unknown instrument {name}"))
}

/// What cycle 1 or 2 records: (instrument, series, value). Every instrument records in both
/// cycles; some series only in one.
pub fn workload(cycle: u32) -> Vec<(&'static str, Series, f64)> {
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
            (EXPONENTIAL, A, 0.0),
            (EXPONENTIAL, A, 1.0),
            (EXPONENTIAL, A, 2.0),
            (EXPONENTIAL, A, 4.0),
            (EXPONENTIAL, B, 1024.0),
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
            (EXPONENTIAL, A, 8.0),
        ],
    }
}

/// The instruments of one client.
#[derive(Debug)]
pub struct Instruments {
    requests: Counter<u64>,
    energy: Counter<f64>,
    queue: UpDownCounter<i64>,
    memory: UpDownCounter<f64>,
    payload: Histogram<u64>,
    latency: Histogram<f64>,
    temperature: Gauge<i64>,
    connections: Gauge<u64>,
    cpu: Gauge<f64>,
    response: Histogram<f64>,
    /// The cycle the callbacks report ([`observations`]).
    cycle: Arc<AtomicU32>,
    _jobs: ObservableCounter<u64>,
    _threads: ObservableUpDownCounter<i64>,
    _fan: ObservableGauge<f64>,
}

/// What `name`'s callback observes in the cycle `cycle` holds.
fn observe_now(name: &'static str, cycle: &AtomicU32) -> Vec<([KeyValue; 2], f64)> {
    observed::observed(name, cycle.load(Ordering::SeqCst))
        .into_iter()
        .map(|(series, v)| (attributes(series), v))
        .collect()
}

impl Instruments {
    /// Makes every instrument of [`INSTRUMENTS`] in `client`'s meter [`SCOPE`].
    pub fn new(client: &OtlpClient) -> Instruments {
        let meter = client.meter(SCOPE);
        macro_rules! build {
            ($method:ident, $name:literal) => {{
                let i = find($name);
                meter
                    .$method($name)
                    .with_unit(i.unit)
                    .with_description(i.description)
            }};
        }
        let cycle = Arc::new(AtomicU32::new(0));
        let (c1, c2, c3) = (cycle.clone(), cycle.clone(), cycle.clone());
        // The observed values are exact in every type they are observed as.
        let jobs = build!(u64_observable_counter, "app.jobs.completed")
            .with_callback(move |o| {
                for (attrs, v) in observe_now("app.jobs.completed", &c1) {
                    o.observe(v as u64, &attrs);
                }
            })
            .build();
        let threads = build!(i64_observable_up_down_counter, "app.threads")
            .with_callback(move |o| {
                for (attrs, v) in observe_now("app.threads", &c2) {
                    o.observe(v as i64, &attrs);
                }
            })
            .build();
        let fan = build!(f64_observable_gauge, "app.fan.speed")
            .with_callback(move |o| {
                for (attrs, v) in observe_now("app.fan.speed", &c3) {
                    o.observe(v, &attrs);
                }
            })
            .build();
        Instruments {
            response: build!(f64_histogram, "app.response.size").build(),
            cycle,
            _jobs: jobs,
            _threads: threads,
            _fan: fan,
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

    /// Records cycle `cycle` of [`workload`], and makes the callbacks observe cycle `cycle` of
    /// [`observations`].
    pub fn record(&self, cycle: u32) {
        self.cycle.store(cycle, Ordering::SeqCst);
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
                EXPONENTIAL => self.response.record(v, &attrs),
                other => panic!("unknown instrument {other}"),
            }
        }
    }
}

/// The values recorded into `name` per series, in cycle `cycle` alone (`delta`) or in every
/// cycle up to it.
pub(crate) fn window(name: &str, cycle: u32, delta: bool) -> BTreeMap<Series, Vec<f64>> {
    let mut out = BTreeMap::<Series, Vec<f64>>::new();
    let first = if delta { cycle } else { 1 };
    for c in first..=cycle {
        for (n, series, v) in workload(c) {
            if n == name {
                out.entry(series).or_default().push(v);
            }
        }
    }
    out
}
