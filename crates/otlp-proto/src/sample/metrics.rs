//! The sample metrics: one metric of every kind, with an exemplar linking a point to a span.

use super::{MS, ROOT_SPAN_ID, START, TRACE_ID};
use super::{id, resource, scope};
use crate::Str;
use crate::collector::ExportMetricsServiceRequest;
use crate::common::KeyValue;
use crate::metrics::{
    AggregationTemporality, Buckets, Exemplar, ExemplarValue, ExponentialHistogram,
    ExponentialHistogramDataPoint, Gauge, Histogram, HistogramDataPoint, Metric, MetricData,
    NumberDataPoint, NumberValue, ResourceMetrics, ScopeMetrics, Sum, Summary, SummaryDataPoint,
    ValueAtQuantile,
};

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
