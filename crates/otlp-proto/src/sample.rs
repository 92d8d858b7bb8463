//! Sample export requests: one per signal, deterministic and realistic, covering the shapes
//! each signal can take. For demos (`otlp demo` sends them) and for tests that need a request
//! with a bit of everything in it. Enabled by the `sample` feature.
//!
//! - traces: a server span with a client child and an internal grandchild, attributes of every
//!   value type, events, a link to another trace and every status code;
//! - metrics: a monotonic sum, an up-down sum, a gauge, a histogram, an exponential histogram and
//!   a summary, with an exemplar linking a point to a span;
//! - logs: plain records and an event (`event_name` `order.created`) with a map body, all
//!   carrying the trace context of the sample spans;
//! - profiles: a CPU profile with a full dictionary (mappings, locations with inlined lines,
//!   functions, stacks, attributes with units) and a sample linked to a sample span.
//!
//! Every request shares one resource, whose `demo.greeting` attribute holds non-ASCII text
//! (two-, three- and four-byte UTF-8), quotes and a line break, so that every signal exercises
//! string escaping in both encodings.
//!
//! Everything is deterministic (fixed ids and timestamps), so a test can compare what arrived
//! with a fresh copy, and free of NaN, which would make a request unequal to itself.
//!
//! ```
//! use otlp_proto::{Encoding, Request, Signal, sample};
//!
//! let sent = sample::request(Signal::Logs);
//! assert_eq!(sent.item_count(), 3);
//! let wire = sent.encode(Encoding::Json);
//! assert_eq!(Request::decode(Signal::Logs, Encoding::Json, &wire), Ok(sent));
//! ```

use crate::collector::{
    ExportLogsServiceRequest, ExportMetricsServiceRequest, ExportProfilesServiceRequest,
    ExportTraceServiceRequest,
};
use crate::common::{AnyValue, InstrumentationScope, KeyValue};
use crate::logs::{LogRecord, ResourceLogs, ScopeLogs, SeverityNumber};
use crate::metrics::{
    AggregationTemporality, Buckets, Exemplar, ExemplarValue, ExponentialHistogram,
    ExponentialHistogramDataPoint, Gauge, Histogram, HistogramDataPoint, Metric, MetricData,
    NumberDataPoint, NumberValue, ResourceMetrics, ScopeMetrics, Sum, Summary, SummaryDataPoint,
    ValueAtQuantile,
};
use crate::profiles::{
    Function, KeyValueAndUnit, Line, Link as ProfileLink, Location, Mapping, Profile,
    ProfilesDictionary, ResourceProfiles, Sample, ScopeProfiles, Stack, ValueType,
};
use crate::resource::Resource;
use crate::trace::{
    Event, Link, ResourceSpans, ScopeSpans, Span, SpanKind, Status, StatusCode, span_flags,
};
use crate::{Request, Signal, Str};
use bytes::Bytes;

/// Start of the sample's time window: 2023-11-14T22:13:20Z, in nanoseconds since the epoch.
pub const START: u64 = 1_700_000_000_000_000_000;

/// One millisecond in nanoseconds.
const MS: u64 = 1_000_000;

/// The trace all sample spans belong to.
pub const TRACE_ID: [u8; 16] = [
    0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36,
];
/// The root span (`GET /orders/{id}`, server).
pub const ROOT_SPAN_ID: [u8; 8] = [0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7];
/// The child span (`SELECT orders`, client).
pub const CHILD_SPAN_ID: [u8; 8] = [0x53, 0x99, 0x5c, 0x3f, 0x42, 0xcd, 0x8a, 0xd8];
/// The grandchild span (`render`, internal).
pub const GRANDCHILD_SPAN_ID: [u8; 8] = [0x1c, 0x2d, 0x3e, 0x4f, 0x5a, 0x6b, 0x7c, 0x8d];
/// A span of another trace, which the root span links to.
const LINKED_TRACE_ID: [u8; 16] = [
    0x5b, 0x8e, 0xfb, 0xf7, 0x98, 0xb2, 0x4c, 0x1f, 0x88, 0x2e, 0x01, 0x45, 0x02, 0x61, 0x0a, 0x7c,
];
/// The span of [`LINKED_TRACE_ID`] that the root span links to.
const LINKED_SPAN_ID: [u8; 8] = [0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74];

/// The sample request of `signal`.
pub fn request(signal: Signal) -> Request {
    match signal {
        Signal::Traces => traces().into(),
        Signal::Metrics => metrics().into(),
        Signal::Logs => logs().into(),
        Signal::Profiles => profiles().into(),
    }
}

fn id<const N: usize>(bytes: &'static [u8; N]) -> Bytes {
    Bytes::from_static(bytes)
}

fn resource() -> Resource {
    Resource {
        attributes: vec![
            KeyValue::new("service.name", "otlp-demo"),
            KeyValue::new("service.version", "0.1.0"),
            KeyValue::new("deployment.environment.name", "demo"),
            KeyValue::new("host.name", "localhost"),
            // Non-ASCII of every UTF-8 width, quotes and a line break: escaping, in every signal.
            KeyValue::new("demo.greeting", "héllo ✓ \"quoted\",\non two lines 🚀"),
        ],
        ..Default::default()
    }
}

fn scope() -> InstrumentationScope {
    InstrumentationScope {
        name: Str::from_static("otlp-proto.sample"),
        version: Str::from_static(env!("CARGO_PKG_VERSION")),
        attributes: vec![KeyValue::new("demo.scope", true)],
        dropped_attributes_count: 0,
    }
}

/// Three spans of one trace: a server span with every attribute type, two events and a link to
/// another trace; its client child, failed with an error status and an exception event; and an
/// internal grandchild with an OK status.
pub fn traces() -> ExportTraceServiceRequest {
    let root = Span {
        trace_id: id(&TRACE_ID),
        span_id: id(&ROOT_SPAN_ID),
        trace_state: Str::from_static("vendor=demo"),
        parent_span_id: Bytes::new(),
        name: Str::from_static("GET /orders/{id}"),
        kind: SpanKind::Server as i32,
        start_time_unix_nano: START,
        end_time_unix_nano: START + 120 * MS,
        attributes: vec![
            KeyValue::new("http.request.method", "GET"),
            KeyValue::new("http.route", "/orders/{id}"),
            KeyValue::new("http.response.status_code", 200_i64),
            KeyValue::new("demo.ratio", 0.25_f64),
            KeyValue::new("demo.cached", false),
            KeyValue::new("demo.payload", Bytes::from_static(b"\x00\x01\xfe\xff")),
            KeyValue::new(
                "demo.tags",
                vec![
                    AnyValue::from("a"),
                    AnyValue::from("b"),
                    AnyValue::from("c"),
                ],
            ),
            KeyValue::new(
                "demo.limits",
                vec![
                    KeyValue::new("max", 100_i64),
                    KeyValue::new("unit", "requests"),
                ],
            ),
        ],
        dropped_attributes_count: 1,
        events: vec![
            Event {
                time_unix_nano: START + 5 * MS,
                name: Str::from_static("request.parsed"),
                attributes: vec![KeyValue::new("http.request.body.size", 0_i64)],
                dropped_attributes_count: 0,
            },
            Event {
                time_unix_nano: START + 110 * MS,
                name: Str::from_static("response.sent"),
                attributes: vec![],
                dropped_attributes_count: 0,
            },
        ],
        dropped_events_count: 0,
        links: vec![Link {
            trace_id: id(&LINKED_TRACE_ID),
            span_id: id(&LINKED_SPAN_ID),
            trace_state: Str::from_static("vendor=other"),
            attributes: vec![KeyValue::new("link.reason", "batch")],
            dropped_attributes_count: 0,
            flags: 0x01
                | span_flags::CONTEXT_HAS_IS_REMOTE_MASK
                | span_flags::CONTEXT_IS_REMOTE_MASK,
        }],
        dropped_links_count: 0,
        status: Some(Status {
            message: Str::new(),
            code: StatusCode::Unset as i32,
        }),
        flags: 0x01 | span_flags::CONTEXT_HAS_IS_REMOTE_MASK,
    };
    let child = Span {
        trace_id: id(&TRACE_ID),
        span_id: id(&CHILD_SPAN_ID),
        parent_span_id: id(&ROOT_SPAN_ID),
        name: Str::from_static("SELECT orders"),
        kind: SpanKind::Client as i32,
        start_time_unix_nano: START + 10 * MS,
        end_time_unix_nano: START + 60 * MS,
        attributes: vec![
            KeyValue::new("db.system.name", "postgresql"),
            KeyValue::new("db.query.text", "SELECT * FROM orders WHERE id = $1"),
        ],
        events: vec![Event {
            time_unix_nano: START + 59 * MS,
            name: Str::from_static("exception"),
            attributes: vec![
                KeyValue::new("exception.type", "TimeoutError"),
                KeyValue::new("exception.message", "statement timeout"),
            ],
            dropped_attributes_count: 0,
        }],
        status: Some(Status {
            message: Str::from_static("statement timeout"),
            code: StatusCode::Error as i32,
        }),
        flags: 0x01 | span_flags::CONTEXT_HAS_IS_REMOTE_MASK,
        ..Default::default()
    };
    let grandchild = Span {
        trace_id: id(&TRACE_ID),
        span_id: id(&GRANDCHILD_SPAN_ID),
        parent_span_id: id(&CHILD_SPAN_ID),
        name: Str::from_static("render"),
        kind: SpanKind::Internal as i32,
        start_time_unix_nano: START + 61 * MS,
        end_time_unix_nano: START + 100 * MS,
        status: Some(Status {
            message: Str::new(),
            code: StatusCode::Ok as i32,
        }),
        flags: 0x01,
        ..Default::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(resource()),
            scope_spans: vec![ScopeSpans {
                scope: Some(scope()),
                spans: vec![root, child, grandchild],
                schema_url: Str::from_static("https://opentelemetry.io/schemas/1.38.0"),
            }],
            schema_url: Str::from_static("https://opentelemetry.io/schemas/1.38.0"),
        }],
    }
}

fn metric(name: &'static str, unit: &'static str, data: MetricData) -> Metric {
    Metric {
        name: Str::from_static(name),
        description: Str::from_static("sample metric"),
        unit: Str::from_static(unit),
        data: Some(data),
        metadata: vec![],
    }
}

/// One metric of every kind: a monotonic cumulative sum of integers (two points, one with an
/// exemplar), a delta up-down sum, a gauge of doubles, an explicit-bucket histogram, an
/// exponential histogram with positive and negative buckets, and a summary.
pub fn metrics() -> ExportMetricsServiceRequest {
    let end = START + 60_000 * MS;
    let requests = Sum {
        data_points: vec![
            NumberDataPoint {
                start_time_unix_nano: START,
                time_unix_nano: end,
                value: Some(NumberValue::AsInt(1234)),
                exemplars: vec![Exemplar {
                    time_unix_nano: START + 120 * MS,
                    value: Some(ExemplarValue::AsInt(1)),
                    span_id: id(&ROOT_SPAN_ID),
                    trace_id: id(&TRACE_ID),
                    filtered_attributes: vec![KeyValue::new("user.id", "u-42")],
                }],
                attributes: vec![KeyValue::new("http.response.status_code", 200_i64)],
                flags: 0,
            },
            NumberDataPoint {
                start_time_unix_nano: START,
                time_unix_nano: end,
                value: Some(NumberValue::AsInt(7)),
                attributes: vec![KeyValue::new("http.response.status_code", 500_i64)],
                ..Default::default()
            },
        ],
        aggregation_temporality: AggregationTemporality::Cumulative as i32,
        is_monotonic: true,
    };
    let queue = Sum {
        data_points: vec![NumberDataPoint {
            start_time_unix_nano: end - 10_000 * MS,
            time_unix_nano: end,
            value: Some(NumberValue::AsInt(-3)),
            attributes: vec![KeyValue::new("queue", "orders")],
            ..Default::default()
        }],
        aggregation_temporality: AggregationTemporality::Delta as i32,
        is_monotonic: false,
    };
    let temperature = Gauge {
        data_points: vec![NumberDataPoint {
            time_unix_nano: end,
            value: Some(NumberValue::AsDouble(21.5)),
            attributes: vec![KeyValue::new("room", "server")],
            ..Default::default()
        }],
    };
    let latency = Histogram {
        data_points: vec![HistogramDataPoint {
            start_time_unix_nano: START,
            time_unix_nano: end,
            count: 10,
            sum: Some(1234.5),
            bucket_counts: vec![1, 4, 3, 2, 0],
            explicit_bounds: vec![10.0, 50.0, 100.0, 500.0],
            exemplars: vec![Exemplar {
                time_unix_nano: START + 120 * MS,
                value: Some(ExemplarValue::AsDouble(120.0)),
                span_id: id(&ROOT_SPAN_ID),
                trace_id: id(&TRACE_ID),
                filtered_attributes: vec![],
            }],
            attributes: vec![KeyValue::new("http.route", "/orders/{id}")],
            flags: 0,
            min: Some(2.5),
            max: Some(480.0),
        }],
        aggregation_temporality: AggregationTemporality::Cumulative as i32,
    };
    let sizes = ExponentialHistogram {
        data_points: vec![ExponentialHistogramDataPoint {
            attributes: vec![KeyValue::new("direction", "in")],
            start_time_unix_nano: START,
            time_unix_nano: end,
            count: 9,
            sum: Some(42.75),
            scale: 2,
            zero_count: 1,
            positive: Some(Buckets {
                offset: -2,
                bucket_counts: vec![1, 2, 3],
            }),
            negative: Some(Buckets {
                offset: 1,
                bucket_counts: vec![2],
            }),
            flags: 0,
            exemplars: vec![],
            min: Some(-3.0),
            max: Some(20.25),
            zero_threshold: 0.001,
        }],
        aggregation_temporality: AggregationTemporality::Delta as i32,
    };
    let durations = Summary {
        data_points: vec![SummaryDataPoint {
            start_time_unix_nano: START,
            time_unix_nano: end,
            count: 100,
            sum: 5050.0,
            quantile_values: vec![
                ValueAtQuantile {
                    quantile: 0.0,
                    value: 1.0,
                },
                ValueAtQuantile {
                    quantile: 0.5,
                    value: 50.0,
                },
                ValueAtQuantile {
                    quantile: 0.99,
                    value: 99.0,
                },
                ValueAtQuantile {
                    quantile: 1.0,
                    value: 100.0,
                },
            ],
            attributes: vec![KeyValue::new("job", "batch")],
            flags: 0,
        }],
    };
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(resource()),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(scope()),
                metrics: vec![
                    metric(
                        "http.server.requests",
                        "{request}",
                        MetricData::Sum(requests),
                    ),
                    metric("queue.depth.change", "{message}", MetricData::Sum(queue)),
                    metric("room.temperature", "Cel", MetricData::Gauge(temperature)),
                    metric(
                        "http.server.request.duration",
                        "ms",
                        MetricData::Histogram(latency),
                    ),
                    metric(
                        "message.size",
                        "By",
                        MetricData::ExponentialHistogram(sizes),
                    ),
                    metric("job.duration", "s", MetricData::Summary(durations)),
                ],
                schema_url: Str::new(),
            }],
            schema_url: Str::new(),
        }],
    }
}

/// Three log records: an INFO record inside the root span, a WARN record inside the child span,
/// and the event `order.created` with a map body and the root span's trace context.
pub fn logs() -> ExportLogsServiceRequest {
    let info = LogRecord {
        time_unix_nano: START + 6 * MS,
        observed_time_unix_nano: START + 7 * MS,
        severity_number: SeverityNumber::Info as i32,
        severity_text: Str::from_static("INFO"),
        body: Some(AnyValue::from("handling GET /orders/42")),
        attributes: vec![KeyValue::new("code.function.name", "get_order")],
        flags: 0x01,
        trace_id: id(&TRACE_ID),
        span_id: id(&ROOT_SPAN_ID),
        ..Default::default()
    };
    let warn = LogRecord {
        time_unix_nano: START + 59 * MS,
        observed_time_unix_nano: START + 59 * MS,
        severity_number: SeverityNumber::Warn as i32,
        severity_text: Str::from_static("WARN"),
        body: Some(AnyValue::from("query slow, retrying")),
        attributes: vec![
            KeyValue::new("retry.count", 2_i64),
            KeyValue::new("db.system.name", "postgresql"),
        ],
        dropped_attributes_count: 1,
        flags: 0x01,
        trace_id: id(&TRACE_ID),
        span_id: id(&CHILD_SPAN_ID),
        ..Default::default()
    };
    let event = LogRecord {
        time_unix_nano: START + 100 * MS,
        observed_time_unix_nano: START + 101 * MS,
        severity_number: SeverityNumber::Info as i32,
        severity_text: Str::new(),
        body: Some(AnyValue::from(vec![
            KeyValue::new("order.id", "42"),
            KeyValue::new("order.total", 99.95_f64),
            KeyValue::new("order.items", 3_i64),
            KeyValue::new("order.express", true),
            KeyValue::new(
                "order.skus",
                vec![AnyValue::from("sku-1"), AnyValue::from("sku-2")],
            ),
        ])),
        attributes: vec![KeyValue::new("customer.tier", "gold")],
        dropped_attributes_count: 0,
        flags: 0x01,
        trace_id: id(&TRACE_ID),
        span_id: id(&ROOT_SPAN_ID),
        event_name: Str::from_static("order.created"),
    };
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(resource()),
            scope_logs: vec![ScopeLogs {
                scope: Some(scope()),
                log_records: vec![info, warn, event],
                schema_url: Str::new(),
            }],
            schema_url: Str::new(),
        }],
    }
}

/// The strings of the sample profile's dictionary; index 0 is the empty string.
const STRINGS: [&str; 14] = [
    "",
    "cpu",
    "nanoseconds",
    "samples",
    "count",
    "main",
    "handle_order",
    "render",
    "src/main.rs",
    "/usr/bin/orders",
    "thread.name",
    "process.executable.build_id.htlhash",
    "worker-1",
    "_ZN6orders6render17h0123456789abcdefE",
];

/// A CPU profile of two stacks with a full dictionary: a mapping with a build id, locations (one
/// with an inlined frame), functions, stacks, attributes with units and a link to the root span.
pub fn profiles() -> ExportProfilesServiceRequest {
    let dictionary = ProfilesDictionary {
        mapping_table: vec![
            Mapping::default(),
            Mapping {
                memory_start: 0x0040_0000,
                memory_limit: 0x0080_0000,
                file_offset: 0x1000,
                filename_strindex: 9,
                attribute_indices: vec![2],
            },
        ],
        location_table: vec![
            Location::default(),
            // render, inlined into handle_order.
            Location {
                mapping_index: 1,
                address: 0x0040_1234,
                lines: vec![
                    Line {
                        function_index: 3,
                        line: 88,
                        column: 9,
                    },
                    Line {
                        function_index: 2,
                        line: 40,
                        column: 5,
                    },
                ],
                attribute_indices: vec![],
            },
            // handle_order.
            Location {
                mapping_index: 1,
                address: 0x0040_2000,
                lines: vec![Line {
                    function_index: 2,
                    line: 42,
                    column: 1,
                }],
                attribute_indices: vec![],
            },
            // main.
            Location {
                mapping_index: 1,
                address: 0x0040_0100,
                lines: vec![Line {
                    function_index: 1,
                    line: 3,
                    column: 1,
                }],
                attribute_indices: vec![1],
            },
        ],
        function_table: vec![
            Function::default(),
            Function {
                name_strindex: 5,
                system_name_strindex: 5,
                filename_strindex: 8,
                start_line: 1,
            },
            Function {
                name_strindex: 6,
                system_name_strindex: 6,
                filename_strindex: 8,
                start_line: 30,
            },
            Function {
                name_strindex: 7,
                system_name_strindex: 13,
                filename_strindex: 8,
                start_line: 80,
            },
        ],
        link_table: vec![
            ProfileLink::default(),
            ProfileLink {
                trace_id: id(&TRACE_ID),
                span_id: id(&ROOT_SPAN_ID),
            },
        ],
        string_table: STRINGS.iter().map(|s| Str::from_static(s)).collect(),
        attribute_table: vec![
            KeyValueAndUnit::default(),
            KeyValueAndUnit {
                key_strindex: 10,
                value: Some(AnyValue::from("worker-1")),
                unit_strindex: 0,
            },
            KeyValueAndUnit {
                key_strindex: 11,
                value: Some(AnyValue::from("0123456789abcdef")),
                unit_strindex: 0,
            },
        ],
        stack_table: vec![
            Stack::default(),
            // Leaf first: render (inlined) <- main.
            Stack {
                location_indices: vec![1, 3],
            },
            Stack {
                location_indices: vec![2, 3],
            },
        ],
    };
    let profile = Profile {
        sample_type: Some(ValueType {
            type_strindex: 1,
            unit_strindex: 2,
        }),
        samples: vec![
            Sample {
                stack_index: 1,
                attribute_indices: vec![1],
                link_index: 1,
                values: vec![10_000_000, 20_000_000],
                timestamps_unix_nano: vec![START + 20 * MS, START + 40 * MS],
            },
            Sample {
                stack_index: 2,
                attribute_indices: vec![1],
                link_index: 0,
                values: vec![30_000_000],
                timestamps_unix_nano: vec![START + 90 * MS],
            },
        ],
        time_unix_nano: START,
        duration_nano: 1_000 * MS,
        period_type: Some(ValueType {
            type_strindex: 1,
            unit_strindex: 2,
        }),
        period: 10_000_000,
        profile_id: id(&[
            0x0f, 0x1e, 0x2d, 0x3c, 0x4b, 0x5a, 0x69, 0x78, 0x87, 0x96, 0xa5, 0xb4, 0xc3, 0xd2,
            0xe1, 0xf0,
        ]),
        dropped_attributes_count: 0,
        original_payload_format: Str::new(),
        original_payload: Bytes::new(),
        attribute_indices: vec![1],
    };
    ExportProfilesServiceRequest {
        resource_profiles: vec![ResourceProfiles {
            resource: Some(resource()),
            scope_profiles: vec![ScopeProfiles {
                scope: Some(scope()),
                profiles: vec![profile],
                schema_url: Str::new(),
            }],
            schema_url: Str::new(),
        }],
        dictionary: Some(dictionary),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Encoding;

    #[test]
    fn every_sample_round_trips_both_encodings() {
        for signal in Signal::ALL {
            let sample = request(signal);
            assert_eq!(sample.signal(), signal);
            assert!(sample.item_count() > 0, "{signal}");
            for encoding in [Encoding::Protobuf, Encoding::Json] {
                let wire = sample.encode(encoding);
                let back = Request::decode(signal, encoding, &wire);
                assert_eq!(back.as_ref(), Ok(&sample), "{signal} {encoding:?}");
            }
        }
    }

    #[test]
    fn item_counts() {
        assert_eq!(traces().resource_spans[0].scope_spans[0].spans.len(), 3);
        assert_eq!(request(Signal::Traces).item_count(), 3);
        // 2 + 1 + 1 + 1 + 1 + 1 data points.
        assert_eq!(request(Signal::Metrics).item_count(), 7);
        assert_eq!(request(Signal::Logs).item_count(), 3);
        assert_eq!(request(Signal::Profiles).item_count(), 1);
    }

    #[test]
    fn every_request_exercises_string_escaping() {
        // What tests of the JSON codecs and of the JSON lines sink rely on: characters of every
        // UTF-8 width, quotes and a line break, in every signal (OTLP/JSON escapes the quotes
        // and the line break, and writes the rest as UTF-8).
        let written = r#"héllo ✓ \"quoted\",\non two lines 🚀"#;
        for signal in Signal::ALL {
            let json = String::from_utf8(request(signal).to_json()).expect("UTF-8");
            assert!(json.contains(written), "{signal}: {json}");
        }
    }
}
