//! A deterministic metrics workload shaped like what a Collector gathers from a fleet: replicas
//! of the three services, each exporting one collection of its SDK's metrics per batch round
//! (a periodic reader every ten seconds, cumulative temporality): HTTP server and database
//! client histograms per route, status and statement, up-down counters of active requests and
//! pool connections, process CPU time, memory and thread counts. A replica's series, start
//! time and rates are fixed; round `r` is its `r`-th collection, so cumulative values grow
//! from batch to batch. A batch of `n` points takes whole replicas until it holds `n`.

use crate::workload::{QUERIES, ROUTES, Rng, SERVICES, START, instance_resource, scope};
use otlp_proto::collector::ExportMetricsServiceRequest;
use otlp_proto::common::KeyValue;
use otlp_proto::metrics::{
    AggregationTemporality, Gauge, Histogram, HistogramDataPoint, Metric, MetricData,
    NumberDataPoint, NumberValue, ResourceMetrics, ScopeMetrics, Sum,
};

/// How often a replica's SDK collects.
const INTERVAL: u64 = 10_000_000_000;
/// The SDK's default explicit bucket bounds for HTTP durations, in seconds.
const HTTP_BOUNDS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];
const DB_BOUNDS: [f64; 9] = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0];
const CUMULATIVE: i32 = AggregationTemporality::Cumulative as i32;

/// One replica's collection: its series are drawn from `shape` (fixed per replica), its
/// values from the round.
struct Collection {
    shape: Rng,
    round: Rng,
    /// Collections since the replica started (grows by one a round).
    age: u64,
    start: u64,
    time: u64,
}

impl Collection {
    /// A cumulative count at this collection for a series of about `rate` a collection.
    fn count(&mut self, rate: u64) -> u64 {
        rate * self.age + self.round.below(rate.max(1))
    }

    fn point(&self, value: NumberValue, attributes: Vec<KeyValue>) -> NumberDataPoint {
        NumberDataPoint {
            start_time_unix_nano: self.start,
            time_unix_nano: self.time,
            value: Some(value),
            attributes,
            ..Default::default()
        }
    }

    /// A cumulative histogram point of `count` values spread over `bounds` around a typical
    /// bucket `peak`.
    fn histogram(
        &mut self,
        bounds: &[f64],
        count: u64,
        peak: usize,
        attributes: Vec<KeyValue>,
    ) -> HistogramDataPoint {
        let mut left = count;
        let mut buckets = vec![0u64; bounds.len() + 1];
        for (i, b) in buckets.iter_mut().enumerate() {
            let share = match i.abs_diff(peak) {
                0 => 45,
                1 => 20,
                2 => 6,
                _ => 1,
            };
            *b = (count * share / 100).min(left);
            left -= *b;
        }
        buckets[peak] += left;
        let mean = bounds[peak.min(bounds.len() - 1)] * 0.7;
        HistogramDataPoint {
            start_time_unix_nano: self.start,
            time_unix_nano: self.time,
            count,
            sum: Some(count as f64 * mean * (0.9 + self.round.below(200) as f64 / 1000.0)),
            bucket_counts: buckets,
            explicit_bounds: bounds.to_vec(),
            min: Some(bounds[0] * 0.3),
            max: Some(bounds[peak.min(bounds.len() - 1)] * (4 + self.shape.below(8)) as f64),
            attributes,
            ..Default::default()
        }
    }
}

fn metric(
    name: &'static str,
    description: &'static str,
    unit: &'static str,
    data: MetricData,
) -> Metric {
    Metric {
        name: name.into(),
        description: description.into(),
        unit: unit.into(),
        data: Some(data),
        metadata: Vec::new(),
    }
}

fn sum(points: Vec<NumberDataPoint>, is_monotonic: bool) -> MetricData {
    MetricData::Sum(Sum {
        data_points: points,
        aggregation_temporality: CUMULATIVE,
        is_monotonic,
    })
}

fn histogram(points: Vec<HistogramDataPoint>) -> MetricData {
    MetricData::Histogram(Histogram {
        data_points: points,
        aggregation_temporality: CUMULATIVE,
    })
}

fn http(c: &mut Collection) -> Vec<Metric> {
    let mut durations = Vec::new();
    for &(method, route) in &ROUTES {
        let rate = 20 + c.shape.below(400);
        let peak = 1 + c.shape.below(6) as usize;
        for (status, share) in [(200i64, 100), (404, 8), (500, 2)] {
            if status != 200 && !c.shape.chance(50) {
                continue;
            }
            let count = c.count(rate * share / 100 + 1);
            durations.push(c.histogram(
                &HTTP_BOUNDS,
                count,
                peak,
                vec![
                    KeyValue::new("http.request.method", method),
                    KeyValue::new("http.response.status_code", status),
                    KeyValue::new("http.route", route),
                    KeyValue::new("network.protocol.version", "1.1"),
                    KeyValue::new("url.scheme", "https"),
                ],
            ));
        }
    }
    let active = ["GET", "POST", "PUT"]
        .into_iter()
        .map(|method| {
            let v = c.round.below(12) as i64;
            c.point(
                NumberValue::AsInt(v),
                vec![
                    KeyValue::new("http.request.method", method),
                    KeyValue::new("url.scheme", "https"),
                ],
            )
        })
        .collect();
    vec![
        metric(
            "http.server.request.duration",
            "Duration of HTTP server requests.",
            "s",
            histogram(durations),
        ),
        metric(
            "http.server.active_requests",
            "Number of active HTTP server requests.",
            "{request}",
            sum(active, false),
        ),
    ]
}

fn database(c: &mut Collection) -> Vec<Metric> {
    let mut durations = Vec::new();
    for &(op, table, _) in &QUERIES {
        let rate = 50 + c.shape.below(900);
        let count = c.count(rate);
        let peak = c.shape.below(3) as usize;
        durations.push(c.histogram(
            &DB_BOUNDS,
            count,
            peak,
            vec![
                KeyValue::new("db.collection.name", table),
                KeyValue::new("db.namespace", "shop"),
                KeyValue::new("db.operation.name", op),
                KeyValue::new("db.system.name", "postgresql"),
                KeyValue::new("server.address", "db-primary.internal"),
            ],
        ));
    }
    let used = c.round.below(10) as i64;
    let connections = [("idle", 10 - used), ("used", used)]
        .into_iter()
        .map(|(state, v)| {
            c.point(
                NumberValue::AsInt(v),
                vec![
                    KeyValue::new("db.client.connection.pool.name", "shop"),
                    KeyValue::new("db.client.connection.state", state),
                ],
            )
        })
        .collect();
    vec![
        metric(
            "db.client.operation.duration",
            "Duration of database client operations.",
            "s",
            histogram(durations),
        ),
        metric(
            "db.client.connection.count",
            "The number of connections that are currently in state described by the state attribute.",
            "{connection}",
            sum(connections, false),
        ),
    ]
}

fn process(c: &mut Collection) -> Vec<Metric> {
    let busy = 1 + c.shape.below(40);
    let cpu = ["user", "system"]
        .into_iter()
        .map(|mode| {
            let seconds = (busy * c.age) as f64 / 10.0 + c.round.below(1_000_000) as f64 / 1e6;
            c.point(
                NumberValue::AsDouble(seconds),
                vec![KeyValue::new("cpu.mode", mode)],
            )
        })
        .collect();
    let rss = (60 << 20) + c.shape.below(200 << 20) + c.round.below(4 << 20);
    let memory = vec![c.point(NumberValue::AsInt(rss as i64), Vec::new())];
    let virt = vec![c.point(NumberValue::AsInt((rss * 3) as i64), Vec::new())];
    let threads = 8 + c.shape.below(24) as i64;
    let threads = vec![c.point(NumberValue::AsInt(threads), Vec::new())];
    let utilization = c.round.below(10_000) as f64 / 10_000.0;
    let utilization = vec![c.point(NumberValue::AsDouble(utilization), Vec::new())];
    vec![
        metric(
            "process.cpu.time",
            "Total CPU seconds broken down by different CPU modes.",
            "s",
            sum(cpu, true),
        ),
        metric(
            "process.memory.usage",
            "The amount of physical memory in use.",
            "By",
            sum(memory, false),
        ),
        metric(
            "process.memory.virtual",
            "The amount of committed virtual memory.",
            "By",
            sum(virt, false),
        ),
        metric(
            "process.thread.count",
            "Process threads count.",
            "{thread}",
            sum(threads, false),
        ),
        metric(
            "process.cpu.utilization",
            "Difference in process.cpu.time since the last measurement, divided by the elapsed time and number of CPUs available to the process.",
            "1",
            MetricData::Gauge(Gauge {
                data_points: utilization,
            }),
        ),
    ]
}

fn points(m: &Metric) -> usize {
    match &m.data {
        Some(MetricData::Sum(s)) => s.data_points.len(),
        Some(MetricData::Gauge(g)) => g.data_points.len(),
        Some(MetricData::Histogram(h)) => h.data_points.len(),
        _ => 0,
    }
}

/// Batch `round` of a stream of `n`-point metrics requests.
pub fn metrics(n: usize, round: u64) -> ExportMetricsServiceRequest {
    let mut resource_metrics = Vec::new();
    let mut made = 0;
    let mut instance = 0;
    while made < n {
        let service = instance % SERVICES.len();
        let mut shape = Rng(0x3E7 ^ (instance as u64).wrapping_mul(0x9E37));
        let started = 1 + shape.below(50_000);
        let phase = shape.below(INTERVAL);
        let mut c = Collection {
            round: Rng(shape.next() ^ round.wrapping_mul(1_000_003)),
            shape,
            age: started + round,
            start: START - started * INTERVAL,
            time: START + round * INTERVAL + phase,
        };
        let scopes = [
            ("axum-otel", http(&mut c)),
            ("sqlx-otel", database(&mut c)),
            ("process-metrics", process(&mut c)),
        ];
        let mut scope_metrics = Vec::new();
        for (name, mut metrics) in scopes {
            // Whole metrics, except that the last one is cut to fill the batch exactly.
            let mut kept = Vec::new();
            for mut m in metrics.drain(..) {
                let room = n - made;
                if room == 0 {
                    break;
                }
                truncate(&mut m, room);
                made += points(&m);
                kept.push(m);
            }
            if !kept.is_empty() {
                scope_metrics.push(ScopeMetrics {
                    scope: scope(name),
                    metrics: kept,
                    schema_url: "https://opentelemetry.io/schemas/1.28.0".into(),
                });
            }
        }
        resource_metrics.push(ResourceMetrics {
            resource: Some(instance_resource(service, instance)),
            scope_metrics,
            schema_url: "https://opentelemetry.io/schemas/1.28.0".into(),
        });
        instance += 1;
    }
    ExportMetricsServiceRequest { resource_metrics }
}

fn truncate(m: &mut Metric, n: usize) {
    match &mut m.data {
        Some(MetricData::Sum(s)) => s.data_points.truncate(n),
        Some(MetricData::Gauge(g)) => g.data_points.truncate(n),
        Some(MetricData::Histogram(h)) => h.data_points.truncate(n),
        _ => {}
    }
}
