//! A metrics request that fills every metrics table: each metric type, points with
//! attributes, exemplars with attributes (repeated values, for the quasi-delta encoding),
//! and the optional parts both present and absent.

use bytes::Bytes;
use otlp_proto::collector::ExportMetricsServiceRequest;
use otlp_proto::common::{InstrumentationScope, KeyValue};
use otlp_proto::metrics::{
    Buckets, Exemplar, ExemplarValue, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge,
    Histogram, HistogramDataPoint, Metric, MetricData, NumberDataPoint, NumberValue,
    ResourceMetrics, ScopeMetrics, Sum, Summary, SummaryDataPoint, ValueAtQuantile,
};
use otlp_proto::resource::Resource;

fn exemplars(n: u64) -> Vec<Exemplar> {
    let exemplar = |i: u64, value| Exemplar {
        time_unix_nano: 1_700_000_000_000_000_000 + i,
        value,
        span_id: if i.is_multiple_of(2) {
            Bytes::from(vec![i as u8 + 1; 8])
        } else {
            Bytes::new()
        },
        trace_id: if i.is_multiple_of(3) {
            Bytes::from(vec![i as u8 + 7; 16])
        } else {
            Bytes::new()
        },
        filtered_attributes: vec![KeyValue::new("ex", i as i64), KeyValue::new("b", "x")],
    };
    // Equal values in a row, within a point and across points: quasi-delta runs.
    vec![
        exemplar(n, Some(ExemplarValue::AsDouble(2.5))),
        exemplar(n + 1, Some(ExemplarValue::AsInt(5))),
        exemplar(n + 2, None),
        exemplar(n + 3, None),
        exemplar(n + 4, Some(ExemplarValue::AsDouble(2.5))),
    ]
}

fn attrs(i: u64) -> Vec<KeyValue> {
    vec![
        KeyValue::new("host", "a"),
        KeyValue::new("i", i as i64),
        KeyValue::new("cpu", 0.5),
    ]
}

fn metric(name: &'static str, data: MetricData) -> Metric {
    Metric {
        name: name.into(),
        description: format!("{name} described").into(),
        unit: "1".into(),
        data: Some(data),
        metadata: Vec::new(),
    }
}

fn number(i: u64, value: Option<NumberValue>) -> NumberDataPoint {
    NumberDataPoint {
        start_time_unix_nano: 1_000 + i,
        time_unix_nano: 2_000 + i,
        value,
        exemplars: exemplars(i),
        attributes: attrs(i),
        flags: (i % 2) as u32,
    }
}

fn histogram(i: u64) -> HistogramDataPoint {
    HistogramDataPoint {
        start_time_unix_nano: 10,
        time_unix_nano: 20 + i,
        count: 7 + i,
        sum: (i == 0).then_some(12.5),
        bucket_counts: vec![1, 2, 4],
        explicit_bounds: vec![1.0, 10.0],
        exemplars: exemplars(i),
        attributes: attrs(i),
        flags: 0,
        min: Some(0.5),
        max: (i == 0).then_some(99.0),
    }
}

fn exp_histogram(i: u64) -> ExponentialHistogramDataPoint {
    ExponentialHistogramDataPoint {
        attributes: attrs(i),
        start_time_unix_nano: 10,
        time_unix_nano: 20,
        count: 3,
        sum: Some(-1.5),
        scale: -3,
        zero_count: 1,
        positive: Some(Buckets {
            offset: -2,
            bucket_counts: vec![1, 0, 3],
        }),
        negative: (i == 0).then(|| Buckets {
            offset: 5,
            bucket_counts: Vec::new(),
        }),
        flags: 1,
        exemplars: exemplars(i),
        min: None,
        max: Some(4.0),
        zero_threshold: 1e-9,
    }
}

fn summary(i: u64) -> SummaryDataPoint {
    SummaryDataPoint {
        start_time_unix_nano: 1,
        time_unix_nano: 2,
        count: 10 + i,
        sum: 55.5,
        quantile_values: (0..i)
            .map(|q| ValueAtQuantile {
                quantile: q as f64 / 4.0,
                value: q as f64 * 3.0,
            })
            .collect(),
        attributes: attrs(i),
        flags: 0,
    }
}

/// Two resources; the first with two scopes and every metric type, the second with a gauge.
pub fn every_kind() -> ExportMetricsServiceRequest {
    let all = vec![
        metric(
            "gauge",
            MetricData::Gauge(Gauge {
                data_points: vec![
                    number(0, Some(NumberValue::AsInt(-4))),
                    number(1, Some(NumberValue::AsDouble(f64::NAN))),
                    number(2, None),
                ],
            }),
        ),
        metric(
            "sum",
            MetricData::Sum(Sum {
                data_points: vec![number(3, Some(NumberValue::AsDouble(1.25)))],
                aggregation_temporality: 2,
                is_monotonic: true,
            }),
        ),
        metric(
            "histogram",
            MetricData::Histogram(Histogram {
                data_points: vec![histogram(0), histogram(1)],
                aggregation_temporality: 1,
            }),
        ),
        metric(
            "exp_histogram",
            MetricData::ExponentialHistogram(ExponentialHistogram {
                data_points: vec![exp_histogram(0), exp_histogram(1)],
                aggregation_temporality: 2,
            }),
        ),
        metric(
            "summary",
            MetricData::Summary(Summary {
                data_points: vec![summary(0), summary(3)],
            }),
        ),
        Metric {
            name: "no data".into(),
            ..Default::default()
        },
        metric(
            "sum without points",
            MetricData::Sum(Sum {
                data_points: Vec::new(),
                aggregation_temporality: 1,
                is_monotonic: false,
            }),
        ),
    ];
    let scope = |name: &'static str| {
        Some(InstrumentationScope {
            name: name.into(),
            version: "1.0".into(),
            attributes: vec![KeyValue::new("scope.attr", true)],
            dropped_attributes_count: 1,
        })
    };
    ExportMetricsServiceRequest {
        resource_metrics: vec![
            ResourceMetrics {
                resource: Some(Resource {
                    attributes: vec![KeyValue::new("service.name", "svc")],
                    ..Default::default()
                }),
                scope_metrics: vec![
                    ScopeMetrics {
                        scope: scope("first"),
                        metrics: all,
                        schema_url: "https://example.com/scope".into(),
                    },
                    ScopeMetrics {
                        scope: None,
                        metrics: vec![metric(
                            "gauge",
                            MetricData::Gauge(Gauge {
                                data_points: vec![number(9, Some(NumberValue::AsInt(1)))],
                            }),
                        )],
                        schema_url: "".into(),
                    },
                ],
                schema_url: "https://example.com/resource".into(),
            },
            ResourceMetrics {
                resource: None,
                scope_metrics: vec![ScopeMetrics {
                    scope: scope("second"),
                    metrics: vec![metric(
                        "gauge",
                        MetricData::Gauge(Gauge {
                            data_points: vec![number(4, Some(NumberValue::AsInt(-4)))],
                        }),
                    )],
                    schema_url: "".into(),
                }],
                schema_url: "".into(),
            },
        ],
    }
}
