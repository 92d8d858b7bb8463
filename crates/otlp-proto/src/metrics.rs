//! `opentelemetry.proto.metrics.v1`: metrics and their data points.

use crate::common::{InstrumentationScope, KeyValue};
use crate::resource::Resource;
use crate::{Str, message, oneof};
use bytes::Bytes;

message! {
    /// Metrics from one resource.
    ResourceMetrics {
        /// The resource.
        resource: Option<Resource> = 1 => message "resource";
        /// Metrics grouped by scope.
        scope_metrics: Vec<ScopeMetrics> = 2 => repeated "scopeMetrics";
        /// Schema URL of the resource's attributes.
        schema_url: Str = 3 => string "schemaUrl";
    }
}

message! {
    /// Metrics from one instrumentation scope.
    ScopeMetrics {
        /// The scope.
        scope: Option<InstrumentationScope> = 1 => message "scope";
        /// The metrics.
        metrics: Vec<Metric> = 2 => repeated "metrics";
        /// Schema URL of the metrics' attributes.
        schema_url: Str = 3 => string "schemaUrl";
    }
}

oneof! {
    /// The data of a [`Metric`].
    MetricData {
        /// Last-value points.
        Gauge(Gauge) = 5 => message "gauge" "gauge";
        /// Summed points.
        Sum(Sum) = 7 => message "sum" "sum";
        /// Explicit-bucket histogram points.
        Histogram(Histogram) = 9 => message "histogram" "histogram";
        /// Exponential-bucket histogram points.
        ExponentialHistogram(ExponentialHistogram) = 10 => message "exponentialHistogram" "exponential_histogram";
        /// Quantile summaries (legacy).
        Summary(Summary) = 11 => message "summary" "summary";
    }
}

message! {
    /// A metric: name, description, unit and data.
    Metric {
        /// Metric name.
        name: Str = 1 => string "name";
        /// Description.
        description: Str = 2 => string "description";
        /// UCUM unit.
        unit: Str = 3 => string "unit";
        /// The data points.
        data: Option<MetricData> = 5 | 7 | 9 | 10 | 11 => oneof "data";
        /// Extra metadata (not identifying).
        metadata: Vec<KeyValue> = 12 => repeated "metadata";
    }
}

message! {
    /// A gauge.
    Gauge {
        /// Points.
        data_points: Vec<NumberDataPoint> = 1 => items "dataPoints";
    }
}

message! {
    /// A sum.
    Sum {
        /// Points.
        data_points: Vec<NumberDataPoint> = 1 => items "dataPoints";
        /// [`AggregationTemporality`] as an integer.
        aggregation_temporality: i32 = 2 => enumeration "aggregationTemporality";
        /// Whether the sum only increases.
        is_monotonic: bool = 3 => boolean "isMonotonic";
    }
}

message! {
    /// An explicit-bucket histogram.
    Histogram {
        /// Points.
        data_points: Vec<HistogramDataPoint> = 1 => items "dataPoints";
        /// [`AggregationTemporality`] as an integer.
        aggregation_temporality: i32 = 2 => enumeration "aggregationTemporality";
    }
}

message! {
    /// An exponential-bucket histogram.
    ExponentialHistogram {
        /// Points.
        data_points: Vec<ExponentialHistogramDataPoint> = 1 => items "dataPoints";
        /// [`AggregationTemporality`] as an integer.
        aggregation_temporality: i32 = 2 => enumeration "aggregationTemporality";
    }
}

message! {
    /// A summary.
    Summary {
        /// Points.
        data_points: Vec<SummaryDataPoint> = 1 => items "dataPoints";
    }
}

oneof! {
    /// The value of a [`NumberDataPoint`].
    NumberValue {
        /// A double value.
        AsDouble(f64) = 4 => double "asDouble" "as_double";
        /// An integer value.
        AsInt(i64) = 6 => sfixed64 "asInt" "as_int";
    }
}

message! {
    /// A gauge or sum point.
    NumberDataPoint {
        /// Start of the aggregation interval.
        start_time_unix_nano: u64 = 2 => fixed64 "startTimeUnixNano";
        /// Time of the point.
        time_unix_nano: u64 = 3 => fixed64 "timeUnixNano";
        /// The value.
        value: Option<NumberValue> = 4 | 6 => oneof "value";
        /// Exemplars.
        exemplars: Vec<Exemplar> = 5 => repeated "exemplars";
        /// Point attributes.
        attributes: Vec<KeyValue> = 7 => repeated "attributes";
        /// [`data_point_flags`] bits.
        flags: u32 = 8 => uint32 "flags";
    }
}

message! {
    /// An explicit-bucket histogram point.
    HistogramDataPoint {
        /// Start of the aggregation interval.
        start_time_unix_nano: u64 = 2 => fixed64 "startTimeUnixNano";
        /// Time of the point.
        time_unix_nano: u64 = 3 => fixed64 "timeUnixNano";
        /// Number of values.
        count: u64 = 4 => fixed64 "count";
        /// Sum of values, when meaningful.
        sum: Option<f64> = 5 => opt_double "sum";
        /// Count per bucket (one more than `explicit_bounds`).
        bucket_counts: Vec<u64> = 6 => packed_fixed64 "bucketCounts";
        /// Bucket upper bounds.
        explicit_bounds: Vec<f64> = 7 => packed_double "explicitBounds";
        /// Exemplars.
        exemplars: Vec<Exemplar> = 8 => repeated "exemplars";
        /// Point attributes.
        attributes: Vec<KeyValue> = 9 => repeated "attributes";
        /// [`data_point_flags`] bits.
        flags: u32 = 10 => uint32 "flags";
        /// Minimum value.
        min: Option<f64> = 11 => opt_double "min";
        /// Maximum value.
        max: Option<f64> = 12 => opt_double "max";
    }
}

message! {
    /// Buckets of an exponential histogram point.
    Buckets {
        /// Index of the first bucket.
        offset: i32 = 1 => sint32 "offset";
        /// Count per bucket.
        bucket_counts: Vec<u64> = 2 => packed_uint64 "bucketCounts";
    }
}

message! {
    /// An exponential-bucket histogram point.
    ExponentialHistogramDataPoint {
        /// Point attributes.
        attributes: Vec<KeyValue> = 1 => repeated "attributes";
        /// Start of the aggregation interval.
        start_time_unix_nano: u64 = 2 => fixed64 "startTimeUnixNano";
        /// Time of the point.
        time_unix_nano: u64 = 3 => fixed64 "timeUnixNano";
        /// Number of values.
        count: u64 = 4 => fixed64 "count";
        /// Sum of values.
        sum: Option<f64> = 5 => opt_double "sum";
        /// Resolution.
        scale: i32 = 6 => sint32 "scale";
        /// Count of values in the zero bucket.
        zero_count: u64 = 7 => fixed64 "zeroCount";
        /// Positive buckets.
        positive: Option<Buckets> = 8 => message "positive";
        /// Negative buckets.
        negative: Option<Buckets> = 9 => message "negative";
        /// [`data_point_flags`] bits.
        flags: u32 = 10 => uint32 "flags";
        /// Exemplars.
        exemplars: Vec<Exemplar> = 11 => repeated "exemplars";
        /// Minimum value.
        min: Option<f64> = 12 => opt_double "min";
        /// Maximum value.
        max: Option<f64> = 13 => opt_double "max";
        /// Width of the zero bucket.
        zero_threshold: f64 = 14 => double "zeroThreshold";
    }
}

message! {
    /// A quantile of a summary point.
    ValueAtQuantile {
        /// Quantile in [0, 1].
        quantile: f64 = 1 => double "quantile";
        /// Value at that quantile.
        value: f64 = 2 => double "value";
    }
}

message! {
    /// A summary point.
    SummaryDataPoint {
        /// Start of the aggregation interval.
        start_time_unix_nano: u64 = 2 => fixed64 "startTimeUnixNano";
        /// Time of the point.
        time_unix_nano: u64 = 3 => fixed64 "timeUnixNano";
        /// Number of values.
        count: u64 = 4 => fixed64 "count";
        /// Sum of values.
        sum: f64 = 5 => double "sum";
        /// Quantiles.
        quantile_values: Vec<ValueAtQuantile> = 6 => repeated "quantileValues";
        /// Point attributes.
        attributes: Vec<KeyValue> = 7 => repeated "attributes";
        /// [`data_point_flags`] bits.
        flags: u32 = 8 => uint32 "flags";
    }
}

oneof! {
    /// The value of an [`Exemplar`].
    ExemplarValue {
        /// A double value.
        AsDouble(f64) = 3 => double "asDouble" "as_double";
        /// An integer value.
        AsInt(i64) = 6 => sfixed64 "asInt" "as_int";
    }
}

message! {
    /// A sample measurement recorded with its trace context.
    Exemplar {
        /// When it was recorded.
        time_unix_nano: u64 = 2 => fixed64 "timeUnixNano";
        /// The measurement.
        value: Option<ExemplarValue> = 3 | 6 => oneof "value";
        /// Span that was active.
        span_id: Bytes = 4 => span_id "spanId";
        /// Trace that was active.
        trace_id: Bytes = 5 => trace_id "traceId";
        /// Attributes not already on the point.
        filtered_attributes: Vec<KeyValue> = 7 => repeated "filteredAttributes";
    }
}

message! {
    /// `MetricsData`: the file and Collector representation of a batch of metrics.
    MetricsData {
        /// Metrics by resource.
        resource_metrics: Vec<ResourceMetrics> = 1 => repeated "resourceMetrics";
    }
}

/// How a sum or histogram relates successive points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum AggregationTemporality {
    /// Not specified.
    Unspecified = 0,
    /// Each point covers the interval since the previous one.
    Delta = 1,
    /// Each point covers the interval since a fixed start.
    Cumulative = 2,
}

/// Bits of the data points' `flags`.
pub mod data_point_flags {
    /// The point has no recorded value.
    pub const NO_RECORDED_VALUE_MASK: u32 = 1;
}
