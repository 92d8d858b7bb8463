//! Our messages as the incumbent's prost-generated types (`opentelemetry-proto`), field by field
//! and by name, for the cross-checks of `properties.rs`: a field our macro declared with the
//! wrong number, kind or name would make prost's bytes differ from ours.

#![allow(dead_code)]

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::logs::v1 as pcl;
use opentelemetry_proto::tonic::collector::metrics::v1 as pcm;
use opentelemetry_proto::tonic::collector::profiles::v1development as pcp;
use opentelemetry_proto::tonic::collector::trace::v1 as pct;
use opentelemetry_proto::tonic::common::v1 as pc;
use opentelemetry_proto::tonic::logs::v1 as pl;
use opentelemetry_proto::tonic::metrics::v1 as pm;
use opentelemetry_proto::tonic::profiles::v1development as pp;
use opentelemetry_proto::tonic::resource::v1 as pr;
use opentelemetry_proto::tonic::trace::v1 as pt;
use otlp_proto::{Str, collector, common, logs, metrics, profiles, resource, trace};

/// Converts one of our values to its prost counterpart.
pub trait ToProst {
    /// The prost type.
    type P;
    /// The converted value.
    fn to_prost(&self) -> Self::P;
}

macro_rules! same {
    ($($t:ty),*) => {$(
        impl ToProst for $t {
            type P = $t;
            fn to_prost(&self) -> $t {
                *self
            }
        }
    )*};
}
same!(bool, i32, u32, i64, u64, f64);

impl ToProst for Str {
    type P = String;
    fn to_prost(&self) -> String {
        self.to_string()
    }
}

impl ToProst for Bytes {
    type P = Vec<u8>;
    fn to_prost(&self) -> Vec<u8> {
        self.to_vec()
    }
}

impl<T: ToProst> ToProst for Vec<T> {
    type P = Vec<T::P>;
    fn to_prost(&self) -> Self::P {
        self.iter().map(ToProst::to_prost).collect()
    }
}

impl<T: ToProst> ToProst for Option<T> {
    type P = Option<T::P>;
    fn to_prost(&self) -> Self::P {
        self.as_ref().map(ToProst::to_prost)
    }
}

/// Writes a `ToProst` impl as a struct literal: `convert!(ours => theirs { a, b, c })`.
macro_rules! convert {
    ($ours:ty => $theirs:path { $($f:ident),* $(,)? }) => {
        impl ToProst for $ours {
            type P = $theirs;
            fn to_prost(&self) -> $theirs {
                $theirs { $($f: self.$f.to_prost()),* }
            }
        }
    };
}

// common, resource
convert!(common::AnyValue => pc::AnyValue { value });
convert!(common::ArrayValue => pc::ArrayValue { values });
convert!(common::KeyValueList => pc::KeyValueList { values });
convert!(common::KeyValue => pc::KeyValue { key, value, key_strindex });
convert!(common::InstrumentationScope => pc::InstrumentationScope {
    name, version, attributes, dropped_attributes_count
});
convert!(common::EntityRef => pc::EntityRef { schema_url, r#type, id_keys, description_keys });
convert!(resource::Resource => pr::Resource { attributes, dropped_attributes_count, entity_refs });

impl ToProst for common::Value {
    type P = pc::any_value::Value;
    fn to_prost(&self) -> Self::P {
        use common::Value as V;
        use pc::any_value::Value as P;
        match self {
            V::StringValue(s) => P::StringValue(s.to_prost()),
            V::BoolValue(b) => P::BoolValue(*b),
            V::IntValue(n) => P::IntValue(*n),
            V::DoubleValue(d) => P::DoubleValue(*d),
            V::ArrayValue(a) => P::ArrayValue(a.to_prost()),
            V::KvlistValue(l) => P::KvlistValue(l.to_prost()),
            V::BytesValue(b) => P::BytesValue(b.to_prost()),
            V::StringValueStrindex(i) => P::StringValueStrindex(*i),
        }
    }
}

// trace
convert!(trace::ResourceSpans => pt::ResourceSpans { resource, scope_spans, schema_url });
convert!(trace::ScopeSpans => pt::ScopeSpans { scope, spans, schema_url });
convert!(trace::Span => pt::Span {
    trace_id, span_id, trace_state, parent_span_id, flags, name, kind, start_time_unix_nano,
    end_time_unix_nano, attributes, dropped_attributes_count, events, dropped_events_count,
    links, dropped_links_count, status,
});
convert!(trace::Event => pt::span::Event {
    time_unix_nano, name, attributes, dropped_attributes_count
});
convert!(trace::Link => pt::span::Link {
    trace_id, span_id, trace_state, attributes, dropped_attributes_count, flags
});
convert!(trace::Status => pt::Status { message, code });
convert!(trace::TracesData => pt::TracesData { resource_spans });

// metrics
convert!(metrics::ResourceMetrics => pm::ResourceMetrics { resource, scope_metrics, schema_url });
convert!(metrics::ScopeMetrics => pm::ScopeMetrics { scope, metrics, schema_url });
convert!(metrics::Metric => pm::Metric { name, description, unit, metadata, data });
convert!(metrics::Gauge => pm::Gauge { data_points });
convert!(metrics::Sum => pm::Sum { data_points, aggregation_temporality, is_monotonic });
convert!(metrics::Histogram => pm::Histogram { data_points, aggregation_temporality });
convert!(metrics::ExponentialHistogram => pm::ExponentialHistogram {
    data_points, aggregation_temporality
});
convert!(metrics::Summary => pm::Summary { data_points });
convert!(metrics::NumberDataPoint => pm::NumberDataPoint {
    attributes, start_time_unix_nano, time_unix_nano, exemplars, flags, value
});
convert!(metrics::HistogramDataPoint => pm::HistogramDataPoint {
    attributes, start_time_unix_nano, time_unix_nano, count, sum, bucket_counts,
    explicit_bounds, exemplars, flags, min, max,
});
convert!(metrics::ExponentialHistogramDataPoint => pm::ExponentialHistogramDataPoint {
    attributes, start_time_unix_nano, time_unix_nano, count, sum, scale, zero_count, positive,
    negative, flags, exemplars, min, max, zero_threshold,
});
convert!(metrics::Buckets => pm::exponential_histogram_data_point::Buckets {
    offset, bucket_counts
});
convert!(metrics::SummaryDataPoint => pm::SummaryDataPoint {
    attributes, start_time_unix_nano, time_unix_nano, count, sum, quantile_values, flags
});
convert!(metrics::ValueAtQuantile => pm::summary_data_point::ValueAtQuantile { quantile, value });
convert!(metrics::Exemplar => pm::Exemplar {
    filtered_attributes, time_unix_nano, span_id, trace_id, value
});
convert!(metrics::MetricsData => pm::MetricsData { resource_metrics });

impl ToProst for metrics::MetricData {
    type P = pm::metric::Data;
    fn to_prost(&self) -> Self::P {
        use metrics::MetricData as D;
        use pm::metric::Data as P;
        match self {
            D::Gauge(g) => P::Gauge(g.to_prost()),
            D::Sum(s) => P::Sum(s.to_prost()),
            D::Histogram(h) => P::Histogram(h.to_prost()),
            D::ExponentialHistogram(h) => P::ExponentialHistogram(h.to_prost()),
            D::Summary(s) => P::Summary(s.to_prost()),
        }
    }
}

impl ToProst for metrics::NumberValue {
    type P = pm::number_data_point::Value;
    fn to_prost(&self) -> Self::P {
        match self {
            metrics::NumberValue::AsDouble(d) => Self::P::AsDouble(*d),
            metrics::NumberValue::AsInt(n) => Self::P::AsInt(*n),
        }
    }
}

impl ToProst for metrics::ExemplarValue {
    type P = pm::exemplar::Value;
    fn to_prost(&self) -> Self::P {
        match self {
            metrics::ExemplarValue::AsDouble(d) => Self::P::AsDouble(*d),
            metrics::ExemplarValue::AsInt(n) => Self::P::AsInt(*n),
        }
    }
}

// logs
convert!(logs::ResourceLogs => pl::ResourceLogs { resource, scope_logs, schema_url });
convert!(logs::ScopeLogs => pl::ScopeLogs { scope, log_records, schema_url });
convert!(logs::LogRecord => pl::LogRecord {
    time_unix_nano, observed_time_unix_nano, severity_number, severity_text, body, attributes,
    dropped_attributes_count, flags, trace_id, span_id, event_name,
});
convert!(logs::LogsData => pl::LogsData { resource_logs });

// profiles
convert!(profiles::ProfilesDictionary => pp::ProfilesDictionary {
    mapping_table, location_table, function_table, link_table, string_table, attribute_table,
    stack_table,
});
convert!(profiles::ProfilesData => pp::ProfilesData { resource_profiles, dictionary });
convert!(profiles::ResourceProfiles => pp::ResourceProfiles {
    resource, scope_profiles, schema_url
});
convert!(profiles::ScopeProfiles => pp::ScopeProfiles { scope, profiles, schema_url });
convert!(profiles::Profile => pp::Profile {
    sample_type, samples, time_unix_nano, duration_nano, period_type, period, profile_id,
    dropped_attributes_count, original_payload_format, original_payload, attribute_indices,
});
convert!(profiles::Link => pp::Link { trace_id, span_id });
convert!(profiles::ValueType => pp::ValueType { type_strindex, unit_strindex });
convert!(profiles::Sample => pp::Sample {
    stack_index, attribute_indices, link_index, values, timestamps_unix_nano
});
convert!(profiles::Mapping => pp::Mapping {
    memory_start, memory_limit, file_offset, filename_strindex, attribute_indices
});
convert!(profiles::Stack => pp::Stack { location_indices });
convert!(profiles::Location => pp::Location {
    mapping_index, address, lines, attribute_indices
});
convert!(profiles::Line => pp::Line { function_index, line, column });
convert!(profiles::Function => pp::Function {
    name_strindex, system_name_strindex, filename_strindex, start_line
});
convert!(profiles::KeyValueAndUnit => pp::KeyValueAndUnit { key_strindex, value, unit_strindex });

// collector
convert!(collector::ExportTraceServiceRequest => pct::ExportTraceServiceRequest { resource_spans });
convert!(collector::ExportTraceServiceResponse => pct::ExportTraceServiceResponse {
    partial_success
});
convert!(collector::ExportTracePartialSuccess => pct::ExportTracePartialSuccess {
    rejected_spans, error_message
});
convert!(collector::ExportMetricsServiceRequest => pcm::ExportMetricsServiceRequest {
    resource_metrics
});
convert!(collector::ExportMetricsServiceResponse => pcm::ExportMetricsServiceResponse {
    partial_success
});
convert!(collector::ExportMetricsPartialSuccess => pcm::ExportMetricsPartialSuccess {
    rejected_data_points, error_message
});
convert!(collector::ExportLogsServiceRequest => pcl::ExportLogsServiceRequest { resource_logs });
convert!(collector::ExportLogsServiceResponse => pcl::ExportLogsServiceResponse {
    partial_success
});
convert!(collector::ExportLogsPartialSuccess => pcl::ExportLogsPartialSuccess {
    rejected_log_records, error_message
});
convert!(collector::ExportProfilesServiceRequest => pcp::ExportProfilesServiceRequest {
    resource_profiles, dictionary
});
convert!(collector::ExportProfilesServiceResponse => pcp::ExportProfilesServiceResponse {
    partial_success
});
convert!(collector::ExportProfilesPartialSuccess => pcp::ExportProfilesPartialSuccess {
    rejected_profiles, error_message
});
