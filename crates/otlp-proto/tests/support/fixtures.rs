//! Realistic OTLP requests built with the incumbent's prost types (`opentelemetry-proto`), used
//! as an independent oracle by the compatibility tests and the codec benchmark.

#![allow(dead_code)]

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::profiles::v1development::ExportProfilesServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue as Array, EntityRef, InstrumentationScope, KeyValue, KeyValueList,
    any_value,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1 as m;
use opentelemetry_proto::tonic::profiles::v1development as p;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};

fn s(v: &str) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::StringValue(v.to_owned())),
    }
}

fn kv(k: &str, v: AnyValue) -> KeyValue {
    KeyValue {
        key: k.to_owned(),
        value: Some(v),
        ..Default::default()
    }
}

fn val(v: any_value::Value) -> AnyValue {
    AnyValue { value: Some(v) }
}

/// Ten attributes of mixed types, as a span from an HTTP service carries.
fn span_attributes(i: usize) -> Vec<KeyValue> {
    use any_value::Value::*;
    vec![
        kv("http.request.method", s("GET")),
        kv(
            "url.full",
            s(&format!("https://shop.example.com/api/v1/items/{i}?q=ü")),
        ),
        kv(
            "http.response.status_code",
            val(IntValue(200 + (i % 3) as i64)),
        ),
        kv("server.port", val(IntValue(8443))),
        kv("network.protocol.version", s("1.1")),
        kv("app.cache_hit", val(BoolValue(i.is_multiple_of(2)))),
        kv("app.latency_ratio", val(DoubleValue(i as f64 * 0.25 - 3.0))),
        kv(
            "user_agent.original",
            s("Mozilla/5.0 (X11; Linux x86_64) \"quoted\""),
        ),
        kv(
            "app.tags",
            val(ArrayValue(Array {
                values: vec![s("a"), s("b"), val(IntValue(-1))],
            })),
        ),
        kv("app.payload", val(BytesValue(vec![0, 1, 2, 254, 255]))),
    ]
}

fn id(len: usize, seed: usize) -> Vec<u8> {
    (0..len).map(|j| (seed * 31 + j * 7 + 1) as u8).collect()
}

fn resource() -> Option<Resource> {
    Some(Resource {
        attributes: vec![
            kv("service.name", s("checkout")),
            kv("service.version", s("1.2.3")),
            kv("host.name", s("node-17")),
        ],
        dropped_attributes_count: 1,
        entity_refs: vec![EntityRef {
            schema_url: "https://opentelemetry.io/schemas/1.38.0".into(),
            r#type: "service".into(),
            id_keys: vec!["service.name".into()],
            description_keys: vec!["service.version".into()],
        }],
    })
}

fn scope() -> Option<InstrumentationScope> {
    Some(InstrumentationScope {
        name: "otlp-bench".into(),
        version: "0.1.0".into(),
        attributes: vec![kv("scope.attr", s("x"))],
        dropped_attributes_count: 0,
    })
}

/// A request of `n` spans, each with 10 attributes, 2 events and 1 link.
pub fn trace_request(n: usize) -> ExportTraceServiceRequest {
    let spans = (0..n)
        .map(|i| Span {
            trace_id: id(16, i / 8),
            span_id: id(8, i),
            trace_state: if i % 5 == 0 {
                "vendor=abc".into()
            } else {
                String::new()
            },
            parent_span_id: if i % 8 == 0 { vec![] } else { id(8, i - 1) },
            flags: 0x101,
            name: format!("GET /api/v1/items/{}", i % 17),
            kind: (i % 6) as i32,
            start_time_unix_nano: 1_700_000_000_000_000_000 + i as u64 * 1000,
            end_time_unix_nano: 1_700_000_000_000_500_000 + i as u64 * 1000,
            attributes: span_attributes(i),
            dropped_attributes_count: (i % 2) as u32,
            events: vec![
                span::Event {
                    time_unix_nano: 1_700_000_000_000_100_000,
                    name: "cache.lookup".into(),
                    attributes: vec![
                        kv("cache.key", s("item:42")),
                        kv("cache.size", val(any_value::Value::IntValue(17))),
                    ],
                    dropped_attributes_count: 0,
                },
                span::Event {
                    time_unix_nano: 1_700_000_000_000_200_000,
                    name: "exception".into(),
                    attributes: vec![
                        kv("exception.type", s("std::io::Error")),
                        kv(
                            "exception.message",
                            s("connection reset by peer\n\tretrying"),
                        ),
                    ],
                    dropped_attributes_count: 2,
                },
            ],
            dropped_events_count: 0,
            links: vec![span::Link {
                trace_id: id(16, i + 1000),
                span_id: id(8, i + 1000),
                trace_state: "k=v".into(),
                attributes: vec![kv("link.kind", s("follows_from"))],
                dropped_attributes_count: 0,
                flags: 0x301,
            }],
            dropped_links_count: 1,
            status: Some(Status {
                message: if i % 10 == 0 {
                    "boom".into()
                } else {
                    String::new()
                },
                code: if i % 10 == 0 { 2 } else { 1 },
            }),
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: resource(),
            scope_spans: vec![ScopeSpans {
                scope: scope(),
                spans,
                schema_url: "https://opentelemetry.io/schemas/1.38.0".into(),
            }],
            schema_url: String::new(),
        }],
    }
}

fn exemplar(as_int: bool) -> m::Exemplar {
    m::Exemplar {
        filtered_attributes: vec![kv("user", s("u1"))],
        time_unix_nano: 1_700_000_000_000_000_123,
        span_id: id(8, 3),
        trace_id: id(16, 3),
        value: Some(if as_int {
            m::exemplar::Value::AsInt(-42)
        } else {
            m::exemplar::Value::AsDouble(0.5)
        }),
    }
}

/// Every metric kind, every data-point field.
pub fn metrics_request() -> ExportMetricsServiceRequest {
    let attrs = vec![kv("k", s("v")), kv("n", val(any_value::Value::IntValue(7)))];
    let number = |v: m::number_data_point::Value| m::NumberDataPoint {
        attributes: attrs.clone(),
        start_time_unix_nano: 1,
        time_unix_nano: 2,
        exemplars: vec![exemplar(true), exemplar(false)],
        flags: 0,
        value: Some(v),
    };
    let metrics = vec![
        m::Metric {
            name: "requests".into(),
            description: "Requests served".into(),
            unit: "{request}".into(),
            metadata: vec![kv("meta", s("data"))],
            data: Some(m::metric::Data::Sum(m::Sum {
                data_points: vec![
                    number(m::number_data_point::Value::AsInt(i64::MAX)),
                    number(m::number_data_point::Value::AsInt(0)),
                ],
                aggregation_temporality: 2,
                is_monotonic: true,
            })),
        },
        m::Metric {
            name: "temperature".into(),
            unit: "Cel".into(),
            data: Some(m::metric::Data::Gauge(m::Gauge {
                data_points: vec![number(m::number_data_point::Value::AsDouble(-12.75))],
            })),
            ..Default::default()
        },
        m::Metric {
            name: "latency".into(),
            unit: "s".into(),
            data: Some(m::metric::Data::Histogram(m::Histogram {
                data_points: vec![m::HistogramDataPoint {
                    attributes: attrs.clone(),
                    start_time_unix_nano: 10,
                    time_unix_nano: 20,
                    count: 6,
                    sum: Some(0.0),
                    bucket_counts: vec![1, 0, 5],
                    explicit_bounds: vec![0.1, 1.0],
                    exemplars: vec![exemplar(false)],
                    flags: 1,
                    min: Some(-0.5),
                    max: Some(9.25),
                }],
                aggregation_temporality: 1,
            })),
            ..Default::default()
        },
        m::Metric {
            name: "sizes".into(),
            data: Some(m::metric::Data::ExponentialHistogram(
                m::ExponentialHistogram {
                    data_points: vec![m::ExponentialHistogramDataPoint {
                        attributes: attrs.clone(),
                        start_time_unix_nano: 10,
                        time_unix_nano: 20,
                        count: 9,
                        sum: Some(123.5),
                        scale: -3,
                        zero_count: 2,
                        positive: Some(m::exponential_histogram_data_point::Buckets {
                            offset: -2,
                            bucket_counts: vec![1, 2, 3],
                        }),
                        negative: Some(m::exponential_histogram_data_point::Buckets {
                            offset: 5,
                            bucket_counts: vec![],
                        }),
                        flags: 0,
                        exemplars: vec![],
                        min: None,
                        max: Some(99.0),
                        zero_threshold: 1e-9,
                    }],
                    aggregation_temporality: 2,
                },
            )),
            ..Default::default()
        },
        m::Metric {
            name: "rpc.duration".into(),
            data: Some(m::metric::Data::Summary(m::Summary {
                data_points: vec![m::SummaryDataPoint {
                    attributes: attrs,
                    start_time_unix_nano: 1,
                    time_unix_nano: 2,
                    count: 3,
                    sum: 4.5,
                    quantile_values: vec![
                        m::summary_data_point::ValueAtQuantile {
                            quantile: 0.5,
                            value: 1.0,
                        },
                        m::summary_data_point::ValueAtQuantile {
                            quantile: 0.99,
                            value: 3.0,
                        },
                    ],
                    flags: 0,
                }],
            })),
            ..Default::default()
        },
    ];
    ExportMetricsServiceRequest {
        resource_metrics: vec![m::ResourceMetrics {
            resource: resource(),
            scope_metrics: vec![m::ScopeMetrics {
                scope: scope(),
                metrics,
                schema_url: "https://opentelemetry.io/schemas/1.38.0".into(),
            }],
            schema_url: String::new(),
        }],
    }
}

/// Log records and an event with a nested map body, trace context and every field.
pub fn logs_request() -> ExportLogsServiceRequest {
    use any_value::Value::*;
    let body = val(KvlistValue(KeyValueList {
        values: vec![
            kv("order_id", s("o-1")),
            kv("amount", val(DoubleValue(99.95))),
            kv(
                "items",
                val(ArrayValue(Array {
                    values: vec![
                        val(KvlistValue(KeyValueList {
                            values: vec![kv("sku", s("A1")), kv("qty", val(IntValue(2)))],
                        })),
                        val(BoolValue(false)),
                    ],
                })),
            ),
            kv("empty", AnyValue { value: None }),
        ],
    }));
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: resource(),
            scope_logs: vec![ScopeLogs {
                scope: scope(),
                log_records: vec![
                    LogRecord {
                        time_unix_nano: 1_700_000_000_000_000_001,
                        observed_time_unix_nano: 1_700_000_000_000_000_002,
                        severity_number: 13,
                        severity_text: "WARN".into(),
                        body: Some(s("disk almost full: 93%")),
                        attributes: vec![kv("disk", s("/dev/sda1"))],
                        dropped_attributes_count: 0,
                        flags: 1,
                        trace_id: id(16, 9),
                        span_id: id(8, 9),
                        event_name: String::new(),
                    },
                    LogRecord {
                        time_unix_nano: 1_700_000_000_000_000_003,
                        observed_time_unix_nano: 1_700_000_000_000_000_004,
                        severity_number: 9,
                        severity_text: "INFO".into(),
                        body: Some(body),
                        attributes: vec![kv("event.domain", s("ecommerce"))],
                        dropped_attributes_count: 3,
                        flags: 0,
                        trace_id: vec![],
                        span_id: vec![],
                        event_name: "order.created".into(),
                    },
                ],
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

/// A CPU profile with a full dictionary: mappings, locations with inlined lines, functions,
/// links to spans, attributes with units and stacks.
pub fn profiles_request() -> ExportProfilesServiceRequest {
    let strings: Vec<String> = [
        "",
        "cpu",
        "nanoseconds",
        "samples",
        "count",
        "main",
        "work",
        "src/main.rs",
        "/usr/bin/app",
        "thread.name",
        "process.executable.build_id.htlhash",
        "worker-1",
        "abc123",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    let dictionary = p::ProfilesDictionary {
        mapping_table: vec![
            p::Mapping::default(),
            p::Mapping {
                memory_start: 0x400000,
                memory_limit: 0x800000,
                file_offset: 0x1000,
                filename_strindex: 8,
                attribute_indices: vec![2],
            },
        ],
        location_table: vec![
            p::Location::default(),
            p::Location {
                mapping_index: 1,
                address: 0x401234,
                lines: vec![
                    p::Line {
                        function_index: 2,
                        line: 42,
                        column: 7,
                    },
                    p::Line {
                        function_index: 1,
                        line: 10,
                        column: 0,
                    },
                ],
                attribute_indices: vec![],
            },
            p::Location {
                mapping_index: 1,
                address: 0x405678,
                lines: vec![p::Line {
                    function_index: 1,
                    line: 3,
                    column: 1,
                }],
                attribute_indices: vec![1],
            },
        ],
        function_table: vec![
            p::Function::default(),
            p::Function {
                name_strindex: 5,
                system_name_strindex: 5,
                filename_strindex: 7,
                start_line: 1,
            },
            p::Function {
                name_strindex: 6,
                system_name_strindex: 6,
                filename_strindex: 7,
                start_line: 40,
            },
        ],
        link_table: vec![
            p::Link {
                trace_id: vec![0; 16],
                span_id: vec![0; 8],
            },
            p::Link {
                trace_id: id(16, 5),
                span_id: id(8, 5),
            },
        ],
        string_table: strings,
        attribute_table: vec![
            p::KeyValueAndUnit::default(),
            p::KeyValueAndUnit {
                key_strindex: 9,
                value: Some(s("worker-1")),
                unit_strindex: 0,
            },
            p::KeyValueAndUnit {
                key_strindex: 10,
                value: Some(AnyValue {
                    value: Some(any_value::Value::StringValueStrindex(12)),
                }),
                unit_strindex: 0,
            },
        ],
        stack_table: vec![
            p::Stack::default(),
            p::Stack {
                location_indices: vec![1, 2],
            },
            p::Stack {
                location_indices: vec![2],
            },
        ],
    };
    let profile = p::Profile {
        sample_type: Some(p::ValueType {
            type_strindex: 1,
            unit_strindex: 2,
        }),
        samples: vec![
            p::Sample {
                stack_index: 1,
                attribute_indices: vec![1],
                link_index: 1,
                values: vec![10_000_000, 20_000_000],
                timestamps_unix_nano: vec![1_700_000_000_000_000_000, 1_700_000_000_010_000_000],
            },
            p::Sample {
                stack_index: 2,
                attribute_indices: vec![],
                link_index: 0,
                values: vec![-1],
                timestamps_unix_nano: vec![],
            },
        ],
        time_unix_nano: 1_700_000_000_000_000_000,
        duration_nano: 10_000_000_000,
        period_type: Some(p::ValueType {
            type_strindex: 1,
            unit_strindex: 2,
        }),
        period: 10_000_000,
        profile_id: id(16, 77),
        dropped_attributes_count: 0,
        original_payload_format: "pprofext".into(),
        original_payload: vec![1, 2, 3],
        attribute_indices: vec![1],
    };
    ExportProfilesServiceRequest {
        resource_profiles: vec![p::ResourceProfiles {
            resource: resource(),
            scope_profiles: vec![p::ScopeProfiles {
                scope: scope(),
                profiles: vec![profile],
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
        dictionary: Some(dictionary),
    }
}
