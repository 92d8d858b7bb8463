//! `metrics.v1`: metrics with every kind of data, their points and exemplars.

use super::common::{attributes, instrumentation_scope, resource};
use super::{
    double, enumeration, i32_any, i64_any, span_id, text, trace_id, u32_any, u64_any, up_to,
};
use otlp_proto::metrics::{
    Buckets, Exemplar, ExemplarValue, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge,
    Histogram, HistogramDataPoint, Metric, MetricData, MetricsData, NumberDataPoint, NumberValue,
    ResourceMetrics, ScopeMetrics, Sum, Summary, SummaryDataPoint, ValueAtQuantile,
};
use proptest::option;
use proptest::prelude::*;

/// Aggregation temporality (0 to 2 defined).
fn temporality() -> BoxedStrategy<i32> {
    enumeration(3)
}

/// An exemplar, with either value or none.
pub fn exemplar() -> BoxedStrategy<Exemplar> {
    let value = prop_oneof![
        double().prop_map(ExemplarValue::AsDouble),
        i64_any().prop_map(ExemplarValue::AsInt),
    ];
    (
        u64_any(),
        option::of(value),
        span_id(),
        trace_id(),
        attributes(),
    )
        .prop_map(
            |(time_unix_nano, value, span_id, trace_id, filtered_attributes)| Exemplar {
                time_unix_nano,
                value,
                span_id,
                trace_id,
                filtered_attributes,
            },
        )
        .boxed()
}

/// A gauge or sum point, with either value or none.
pub fn number_data_point() -> BoxedStrategy<NumberDataPoint> {
    let value = prop_oneof![
        double().prop_map(NumberValue::AsDouble),
        i64_any().prop_map(NumberValue::AsInt),
    ];
    (
        u64_any(),
        u64_any(),
        option::of(value),
        up_to(exemplar(), 2),
        attributes(),
        u32_any(),
    )
        .prop_map(
            |(start_time_unix_nano, time_unix_nano, value, exemplars, attributes, flags)| {
                NumberDataPoint {
                    start_time_unix_nano,
                    time_unix_nano,
                    value,
                    exemplars,
                    attributes,
                    flags,
                }
            },
        )
        .boxed()
}

/// An explicit-bucket histogram point. Bucket counts and bounds are independent: the codecs do
/// not check that there is one more count than bounds, so neither do the generators.
pub fn histogram_data_point() -> BoxedStrategy<HistogramDataPoint> {
    let head = (u64_any(), u64_any(), u64_any(), option::of(double()));
    let buckets = (up_to(u64_any(), 6), up_to(double(), 5));
    let rest = (
        up_to(exemplar(), 2),
        attributes(),
        u32_any(),
        option::of(double()),
        option::of(double()),
    );
    (head, buckets, rest)
        .prop_map(
            |(
                (start_time_unix_nano, time_unix_nano, count, sum),
                (bucket_counts, explicit_bounds),
                (exemplars, attributes, flags, min, max),
            )| HistogramDataPoint {
                start_time_unix_nano,
                time_unix_nano,
                count,
                sum,
                bucket_counts,
                explicit_bounds,
                exemplars,
                attributes,
                flags,
                min,
                max,
            },
        )
        .boxed()
}

/// Buckets of an exponential histogram point.
pub fn buckets() -> BoxedStrategy<Buckets> {
    (i32_any(), up_to(u64_any(), 6))
        .prop_map(|(offset, bucket_counts)| Buckets {
            offset,
            bucket_counts,
        })
        .boxed()
}

/// An exponential-bucket histogram point.
pub fn exponential_histogram_data_point() -> BoxedStrategy<ExponentialHistogramDataPoint> {
    let head = (
        attributes(),
        u64_any(),
        u64_any(),
        u64_any(),
        option::of(double()),
        i32_any(),
        u64_any(),
    );
    let rest = (
        option::of(buckets()),
        option::of(buckets()),
        u32_any(),
        up_to(exemplar(), 2),
        option::of(double()),
        option::of(double()),
        double(),
    );
    (head, rest)
        .prop_map(
            |(
                (attributes, start_time_unix_nano, time_unix_nano, count, sum, scale, zero_count),
                (positive, negative, flags, exemplars, min, max, zero_threshold),
            )| ExponentialHistogramDataPoint {
                attributes,
                start_time_unix_nano,
                time_unix_nano,
                count,
                sum,
                scale,
                zero_count,
                positive,
                negative,
                flags,
                exemplars,
                min,
                max,
                zero_threshold,
            },
        )
        .boxed()
}

/// A quantile of a summary point.
pub fn value_at_quantile() -> BoxedStrategy<ValueAtQuantile> {
    (double(), double())
        .prop_map(|(quantile, value)| ValueAtQuantile { quantile, value })
        .boxed()
}

/// A summary point.
pub fn summary_data_point() -> BoxedStrategy<SummaryDataPoint> {
    (
        u64_any(),
        u64_any(),
        u64_any(),
        double(),
        up_to(value_at_quantile(), 3),
        attributes(),
        u32_any(),
    )
        .prop_map(
            |(
                start_time_unix_nano,
                time_unix_nano,
                count,
                sum,
                quantile_values,
                attributes,
                flags,
            )| {
                SummaryDataPoint {
                    start_time_unix_nano,
                    time_unix_nano,
                    count,
                    sum,
                    quantile_values,
                    attributes,
                    flags,
                }
            },
        )
        .boxed()
}

/// A gauge.
pub fn gauge() -> BoxedStrategy<Gauge> {
    up_to(number_data_point(), 3)
        .prop_map(|data_points| Gauge { data_points })
        .boxed()
}

/// A sum.
pub fn sum() -> BoxedStrategy<Sum> {
    (up_to(number_data_point(), 3), temporality(), any::<bool>())
        .prop_map(|(data_points, aggregation_temporality, is_monotonic)| Sum {
            data_points,
            aggregation_temporality,
            is_monotonic,
        })
        .boxed()
}

/// An explicit-bucket histogram.
pub fn histogram() -> BoxedStrategy<Histogram> {
    (up_to(histogram_data_point(), 2), temporality())
        .prop_map(|(data_points, aggregation_temporality)| Histogram {
            data_points,
            aggregation_temporality,
        })
        .boxed()
}

/// An exponential-bucket histogram.
pub fn exponential_histogram() -> BoxedStrategy<ExponentialHistogram> {
    (up_to(exponential_histogram_data_point(), 2), temporality())
        .prop_map(
            |(data_points, aggregation_temporality)| ExponentialHistogram {
                data_points,
                aggregation_temporality,
            },
        )
        .boxed()
}

/// A summary.
pub fn summary() -> BoxedStrategy<Summary> {
    up_to(summary_data_point(), 2)
        .prop_map(|data_points| Summary { data_points })
        .boxed()
}

/// A metric with each kind of data, or none.
pub fn metric() -> BoxedStrategy<Metric> {
    let data = prop_oneof![
        gauge().prop_map(MetricData::Gauge),
        sum().prop_map(MetricData::Sum),
        histogram().prop_map(MetricData::Histogram),
        exponential_histogram().prop_map(MetricData::ExponentialHistogram),
        summary().prop_map(MetricData::Summary),
    ];
    (
        text(),
        text(),
        text(),
        option::weighted(0.9, data),
        attributes(),
    )
        .prop_map(|(name, description, unit, data, metadata)| Metric {
            name,
            description,
            unit,
            data,
            metadata,
        })
        .boxed()
}

/// Metrics of one scope.
pub fn scope_metrics() -> BoxedStrategy<ScopeMetrics> {
    (
        option::of(instrumentation_scope()),
        up_to(metric(), 3),
        text(),
    )
        .prop_map(|(scope, metrics, schema_url)| ScopeMetrics {
            scope,
            metrics,
            schema_url,
        })
        .boxed()
}

/// Metrics of one resource.
pub fn resource_metrics() -> BoxedStrategy<ResourceMetrics> {
    (option::of(resource()), up_to(scope_metrics(), 2), text())
        .prop_map(|(resource, scope_metrics, schema_url)| ResourceMetrics {
            resource,
            scope_metrics,
            schema_url,
        })
        .boxed()
}

/// A batch of metrics.
pub fn metrics_data() -> BoxedStrategy<MetricsData> {
    up_to(resource_metrics(), 2)
        .prop_map(|resource_metrics| MetricsData { resource_metrics })
        .boxed()
}
