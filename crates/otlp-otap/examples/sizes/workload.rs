//! A deterministic workload shaped like what services emit: a few resources (services) and
//! scopes, traces of several spans sharing a trace id with parent links, span names from a
//! small set, semantic-convention attributes with varying values, nanosecond times with
//! durations from microseconds to seconds, events on some spans, and logs whose bodies are
//! templates filled with varying values. Batch `round` of a size always gives the same data.

use bytes::Bytes;
use otlp_proto::collector::{ExportLogsServiceRequest, ExportTraceServiceRequest};
use otlp_proto::common::{AnyValue, InstrumentationScope, KeyValue};
use otlp_proto::logs::{LogRecord, ResourceLogs, ScopeLogs};
use otlp_proto::resource::Resource;
use otlp_proto::trace::{Event, ResourceSpans, ScopeSpans, Span, Status};

/// splitmix64: small, seeded, good enough for test data.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    pub fn id(&mut self, len: usize) -> Bytes {
        let mut out = Vec::with_capacity(len);
        while out.len() < len {
            out.extend_from_slice(&self.next().to_le_bytes());
        }
        out.truncate(len);
        Bytes::from(out)
    }
    /// A duration spread over orders of magnitude: `lo..hi` nanoseconds, log-uniform.
    pub fn duration(&mut self, lo: u64, hi: u64) -> u64 {
        let (l, h) = ((lo as f64).ln(), (hi as f64).ln());
        let f = (self.below(1 << 20) as f64) / f64::from(1u32 << 20);
        (l + f * (h - l)).exp() as u64
    }
}

pub const SERVICES: [(&str, &str); 3] = [
    ("checkout", "2.14.1"),
    ("catalog", "1.8.0"),
    ("accounts", "3.0.2"),
];
pub const START: u64 = 1_796_000_000_000_000_000;
/// Each batch covers this much time.
const BATCH_NANOS: u64 = 2_000_000_000;

fn resource(service: usize) -> Resource {
    instance_resource(service, service)
}

/// The resource of replica `instance` of `service`.
pub fn instance_resource(service: usize, instance: usize) -> Resource {
    let (name, version) = SERVICES[service];
    Resource {
        attributes: vec![
            KeyValue::new("service.name", name),
            KeyValue::new("service.version", version),
            KeyValue::new(
                "service.instance.id",
                format!("{name}-7d9f8b-{instance}x2k"),
            ),
            KeyValue::new(
                "host.name",
                format!("ip-10-0-{}-17.ec2.internal", instance + 3),
            ),
            KeyValue::new("deployment.environment.name", "production"),
            KeyValue::new("telemetry.sdk.name", "opentelemetry"),
            KeyValue::new("telemetry.sdk.language", "rust"),
            KeyValue::new("telemetry.sdk.version", "0.31.0"),
            KeyValue::new("process.pid", 4_000 + instance as i64),
        ],
        ..Default::default()
    }
}

pub fn scope(name: &'static str) -> Option<InstrumentationScope> {
    Some(InstrumentationScope {
        name: name.into(),
        version: "0.4.2".into(),
        ..Default::default()
    })
}

const SCOPES: [&str; 2] = ["axum-otel", "sqlx-otel"];
pub const ROUTES: [(&str, &str); 6] = [
    ("GET", "/api/users/{id}"),
    ("GET", "/api/orders/{id}"),
    ("POST", "/api/orders"),
    ("GET", "/api/orders/{id}/items"),
    ("PUT", "/api/cart/{id}"),
    ("GET", "/health"),
];
pub const QUERIES: [(&str, &str, &str); 4] = [
    (
        "SELECT",
        "users",
        "SELECT id, name, email FROM users WHERE id = $1",
    ),
    (
        "SELECT",
        "orders",
        "SELECT * FROM orders WHERE user_id = $1 ORDER BY created_at DESC LIMIT 20",
    ),
    (
        "INSERT",
        "orders",
        "INSERT INTO orders (user_id, total, currency) VALUES ($1, $2, $3)",
    ),
    (
        "UPDATE",
        "carts",
        "UPDATE carts SET items = $2, updated_at = now() WHERE id = $1",
    ),
];
const AGENTS: [&str; 3] = [
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
    "okhttp/4.12.0",
    "python-requests/2.32.3",
];

/// One trace: a server span, its database and internal children. Spans go to `out[scope]`.
fn trace(rng: &mut Rng, start: u64, out: &mut [Vec<Span>; 2]) {
    let trace_id = rng.id(16);
    let root_id = rng.id(8);
    let (method, route) = *rng.pick(&ROUTES);
    let id = rng.below(90_000) + 10_000;
    let path = route.replace("{id}", &id.to_string());
    let status = match rng.below(100) {
        0..=1 => 500,
        2..=6 => 404,
        _ => 200,
    };
    let duration = rng.duration(200_000, 2_000_000_000);
    let mut children = Vec::new();
    let mut at = start + rng.duration(5_000, 200_000);
    for _ in 0..rng.below(6) {
        let (op, table, text) = *rng.pick(&QUERIES);
        let d = rng.duration(20_000, duration / 4 + 20_001);
        children.push(Span {
            trace_id: trace_id.clone(),
            span_id: rng.id(8),
            parent_span_id: root_id.clone(),
            name: format!("{op} {table}").into(),
            kind: 3,
            start_time_unix_nano: at,
            end_time_unix_nano: at + d,
            attributes: vec![
                KeyValue::new("db.system.name", "postgresql"),
                KeyValue::new("db.namespace", "shop"),
                KeyValue::new("db.operation.name", op),
                KeyValue::new("db.collection.name", table),
                KeyValue::new("db.query.text", text),
                KeyValue::new("server.address", "db-primary.internal"),
                KeyValue::new("server.port", 5432i64),
            ],
            ..Default::default()
        });
        at += d + rng.duration(1_000, 50_000);
    }
    if rng.chance(40) {
        let d = rng.duration(2_000, 300_000);
        children.push(Span {
            trace_id: trace_id.clone(),
            span_id: rng.id(8),
            parent_span_id: root_id.clone(),
            name: "serialize response".into(),
            kind: 1,
            start_time_unix_nano: at,
            end_time_unix_nano: at + d,
            attributes: vec![KeyValue::new("cache.hit", rng.chance(70))],
            ..Default::default()
        });
    }
    let mut events = Vec::new();
    if status == 500 {
        events.push(Event {
            time_unix_nano: start + duration - 1_000,
            name: "exception".into(),
            attributes: vec![
                KeyValue::new("exception.type", "sqlx::Error::PoolTimedOut"),
                KeyValue::new(
                    "exception.message",
                    format!("pool timed out while waiting for an open connection ({id})"),
                ),
            ],
            ..Default::default()
        });
    }
    if rng.chance(10) {
        events.push(Event {
            time_unix_nano: start + duration / 2,
            name: "retry".into(),
            attributes: vec![KeyValue::new("retry.attempt", 1 + rng.below(3) as i64)],
            ..Default::default()
        });
    }
    let server = Span {
        trace_id,
        span_id: root_id,
        name: format!("{method} {route}").into(),
        kind: 2,
        start_time_unix_nano: start,
        end_time_unix_nano: start + duration,
        attributes: vec![
            KeyValue::new("http.request.method", method),
            KeyValue::new("url.path", path),
            KeyValue::new("url.scheme", "https"),
            KeyValue::new("http.route", route),
            KeyValue::new("http.response.status_code", status),
            KeyValue::new("server.address", "api.shop.example"),
            KeyValue::new("server.port", 443i64),
            KeyValue::new(
                "client.address",
                format!("10.1.{}.{}", rng.below(4), rng.below(256)),
            ),
            KeyValue::new("user_agent.original", *rng.pick(&AGENTS)),
            KeyValue::new("network.protocol.version", "1.1"),
        ],
        events,
        status: (status == 500).then(|| Status {
            code: 2,
            message: "internal error".into(),
        }),
        flags: 0x101,
        ..Default::default()
    };
    out[1].extend(children.drain(..).filter(|s| s.kind == 3));
    out[0].extend(children);
    out[0].push(server);
}

/// Batch `round` of a stream of `spans`-span trace requests.
pub fn traces(spans: usize, round: u64) -> ExportTraceServiceRequest {
    let mut rng = Rng(0x07A9 ^ round.wrapping_mul(1_000_003) ^ spans as u64);
    let mut by_service: Vec<[Vec<Span>; 2]> = vec![Default::default(); SERVICES.len()];
    let base = START + round * BATCH_NANOS;
    let mut made = 0;
    while made < spans {
        let service = rng.below(SERVICES.len() as u64) as usize;
        let start = base + rng.below(BATCH_NANOS);
        let before: usize = by_service[service].iter().map(Vec::len).sum();
        trace(&mut rng, start, &mut by_service[service]);
        made += by_service[service].iter().map(Vec::len).sum::<usize>() - before;
    }
    let mut excess = made - spans;
    let mut resource_spans = Vec::new();
    for (service, scopes) in by_service.into_iter().enumerate() {
        let mut scope_spans = Vec::new();
        for (name, mut spans) in SCOPES.into_iter().zip(scopes) {
            let cut = excess.min(spans.len());
            spans.truncate(spans.len() - cut);
            excess -= cut;
            // An SDK exports spans as they end.
            spans.sort_by_key(|s| s.end_time_unix_nano);
            if !spans.is_empty() {
                scope_spans.push(ScopeSpans {
                    scope: scope(name),
                    spans,
                    schema_url: "https://opentelemetry.io/schemas/1.28.0".into(),
                });
            }
        }
        resource_spans.push(ResourceSpans {
            resource: Some(resource(service)),
            scope_spans,
            schema_url: "https://opentelemetry.io/schemas/1.28.0".into(),
        });
    }
    ExportTraceServiceRequest { resource_spans }
}

const LEVELS: [(i32, &str, u64); 4] = [
    (5, "DEBUG", 20),
    (9, "INFO", 65),
    (13, "WARN", 10),
    (17, "ERROR", 5),
];

/// Batch `round` of a stream of `records`-record log requests.
pub fn logs(records: usize, round: u64) -> ExportLogsServiceRequest {
    let mut rng = Rng(0x1065 ^ round.wrapping_mul(1_000_003) ^ records as u64);
    let mut by_service: Vec<[Vec<LogRecord>; 2]> = vec![Default::default(); SERVICES.len()];
    let base = START + round * BATCH_NANOS;
    let step = BATCH_NANOS / records.max(1) as u64;
    let mut context: Option<(Bytes, Bytes)> = None;
    for i in 0..records {
        let service = rng.below(SERVICES.len() as u64) as usize;
        let time = base + i as u64 * step + rng.below(step);
        let mut roll = rng.below(100);
        let &(severity, text, _) = LEVELS
            .iter()
            .find(|(_, _, share)| {
                let hit = roll < *share;
                roll = roll.saturating_sub(*share);
                hit
            })
            .unwrap_or(&LEVELS[1]);
        let id = rng.below(90_000) + 10_000;
        let ms = rng.duration(100_000, 3_000_000_000) as f64 / 1e6;
        let (scope, body, attributes) = match rng.below(5) {
            0 => {
                let (method, route) = *rng.pick(&ROUTES);
                let status = *rng.pick(&[200i64, 200, 200, 201, 404, 500]);
                (
                    0,
                    format!(
                        "{method} {} completed with {status} in {ms:.2} ms",
                        route.replace("{id}", &id.to_string())
                    ),
                    vec![
                        KeyValue::new("http.request.method", method),
                        KeyValue::new("http.response.status_code", status),
                    ],
                )
            }
            1 => (
                0,
                format!(
                    "user {id} logged in from 10.1.{}.{}",
                    rng.below(4),
                    rng.below(256)
                ),
                vec![KeyValue::new("user.id", id as i64)],
            ),
            2 => (
                1,
                format!("cache miss for key order:{id}"),
                vec![KeyValue::new("cache.name", "orders")],
            ),
            3 => {
                let (_, table, text) = *rng.pick(&QUERIES);
                (
                    1,
                    format!("query on {table} took {ms:.3} ms: {text}"),
                    vec![KeyValue::new("db.system.name", "postgresql")],
                )
            }
            _ => (
                0,
                format!(
                    "retrying request to payments.internal:8443 (attempt {})",
                    1 + rng.below(3)
                ),
                vec![KeyValue::new("server.address", "payments.internal")],
            ),
        };
        let mut attributes = attributes;
        attributes.push(KeyValue::new(
            "thread.name",
            format!("tokio-runtime-worker-{}", rng.below(8)),
        ));
        // Records of a request share its trace context; some are outside any request.
        if context.is_none() || rng.chance(30) {
            context = rng.chance(80).then(|| (rng.id(16), rng.id(8)));
        }
        let (trace_id, span_id) = context.clone().unwrap_or_default();
        by_service[service][scope].push(LogRecord {
            time_unix_nano: time,
            observed_time_unix_nano: time + rng.duration(2_000, 400_000),
            severity_number: severity,
            severity_text: text.into(),
            body: Some(AnyValue::from(body)),
            attributes,
            flags: u32::from(!trace_id.is_empty()),
            trace_id,
            span_id,
            ..Default::default()
        });
    }
    let resource_logs = by_service
        .into_iter()
        .enumerate()
        .map(|(service, scopes)| ResourceLogs {
            resource: Some(resource(service)),
            scope_logs: SCOPES
                .into_iter()
                .zip(scopes)
                .filter(|(_, r)| !r.is_empty())
                .map(|(name, log_records)| ScopeLogs {
                    scope: scope(name),
                    log_records,
                    schema_url: "https://opentelemetry.io/schemas/1.28.0".into(),
                })
                .collect(),
            schema_url: "https://opentelemetry.io/schemas/1.28.0".into(),
        })
        .collect();
    ExportLogsServiceRequest { resource_logs }
}
