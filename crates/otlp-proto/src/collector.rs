//! `opentelemetry.proto.collector.*`: the export requests and responses of the four services.

use crate::logs::ResourceLogs;
use crate::metrics::ResourceMetrics;
use crate::profiles::{ProfilesDictionary, ResourceProfiles};
use crate::trace::ResourceSpans;
use crate::{Str, message};

message! {
    /// `TraceService/Export` request.
    ExportTraceServiceRequest {
        /// Spans by resource.
        resource_spans: Vec<ResourceSpans> = 1 => repeated "resourceSpans";
    }
}

message! {
    /// `TraceService/Export` response.
    ExportTraceServiceResponse {
        /// Set when part of the request was rejected.
        partial_success: Option<ExportTracePartialSuccess> = 1 => message "partialSuccess";
    }
}

message! {
    /// Spans the server rejected.
    ExportTracePartialSuccess {
        /// How many spans were rejected.
        rejected_spans: i64 = 1 => int64 "rejectedSpans";
        /// Why.
        error_message: Str = 2 => string "errorMessage";
    }
}

message! {
    /// `MetricsService/Export` request.
    ExportMetricsServiceRequest {
        /// Metrics by resource.
        resource_metrics: Vec<ResourceMetrics> = 1 => repeated "resourceMetrics";
    }
}

message! {
    /// `MetricsService/Export` response.
    ExportMetricsServiceResponse {
        /// Set when part of the request was rejected.
        partial_success: Option<ExportMetricsPartialSuccess> = 1 => message "partialSuccess";
    }
}

message! {
    /// Data points the server rejected.
    ExportMetricsPartialSuccess {
        /// How many data points were rejected.
        rejected_data_points: i64 = 1 => int64 "rejectedDataPoints";
        /// Why.
        error_message: Str = 2 => string "errorMessage";
    }
}

message! {
    /// `LogsService/Export` request.
    ExportLogsServiceRequest {
        /// Log records by resource.
        resource_logs: Vec<ResourceLogs> = 1 => repeated "resourceLogs";
    }
}

message! {
    /// `LogsService/Export` response.
    ExportLogsServiceResponse {
        /// Set when part of the request was rejected.
        partial_success: Option<ExportLogsPartialSuccess> = 1 => message "partialSuccess";
    }
}

message! {
    /// Log records the server rejected.
    ExportLogsPartialSuccess {
        /// How many log records were rejected.
        rejected_log_records: i64 = 1 => int64 "rejectedLogRecords";
        /// Why.
        error_message: Str = 2 => string "errorMessage";
    }
}

message! {
    /// `ProfilesService/Export` request (v1development).
    ExportProfilesServiceRequest {
        /// Profiles by resource.
        resource_profiles: Vec<ResourceProfiles> = 1 => repeated "resourceProfiles";
        /// Tables shared by all profiles of the request.
        dictionary: Option<ProfilesDictionary> = 2 => message "dictionary";
    }
}

message! {
    /// `ProfilesService/Export` response.
    ExportProfilesServiceResponse {
        /// Set when part of the request was rejected.
        partial_success: Option<ExportProfilesPartialSuccess> = 1 => message "partialSuccess";
    }
}

message! {
    /// Profiles the server rejected.
    ExportProfilesPartialSuccess {
        /// How many profiles were rejected.
        rejected_profiles: i64 = 1 => int64 "rejectedProfiles";
        /// Why.
        error_message: Str = 2 => string "errorMessage";
    }
}
