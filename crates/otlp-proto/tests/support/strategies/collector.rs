//! `collector.*`: the four export requests and responses; `google.rpc.Status` and its parts.

use super::logs::resource_logs;
use super::metrics::resource_metrics;
use super::profiles::{profiles_dictionary, resource_profiles};
use super::trace::resource_spans;
use super::{bytes, i32_any, i64_any, text, up_to};
use otlp_proto::Request;
use otlp_proto::collector::*;
use otlp_proto::rpc::{Any, Duration, RetryInfo, Status};
use proptest::option;
use proptest::prelude::*;

/// A trace export request.
pub fn trace_request() -> BoxedStrategy<ExportTraceServiceRequest> {
    up_to(resource_spans(), 2)
        .prop_map(|resource_spans| ExportTraceServiceRequest { resource_spans })
        .boxed()
}

/// A metrics export request.
pub fn metrics_request() -> BoxedStrategy<ExportMetricsServiceRequest> {
    up_to(resource_metrics(), 2)
        .prop_map(|resource_metrics| ExportMetricsServiceRequest { resource_metrics })
        .boxed()
}

/// A logs export request.
pub fn logs_request() -> BoxedStrategy<ExportLogsServiceRequest> {
    up_to(resource_logs(), 2)
        .prop_map(|resource_logs| ExportLogsServiceRequest { resource_logs })
        .boxed()
}

/// A profiles export request.
pub fn profiles_request() -> BoxedStrategy<ExportProfilesServiceRequest> {
    (
        up_to(resource_profiles(), 2),
        option::of(profiles_dictionary()),
    )
        .prop_map(
            |(resource_profiles, dictionary)| ExportProfilesServiceRequest {
                resource_profiles,
                dictionary,
            },
        )
        .boxed()
}

/// A request of any signal.
pub fn request() -> BoxedStrategy<Request> {
    prop_oneof![
        trace_request().prop_map(Request::from),
        metrics_request().prop_map(Request::from),
        logs_request().prop_map(Request::from),
        profiles_request().prop_map(Request::from),
    ]
    .boxed()
}

/// Generates `$partial` (a count and a message) and `$response` (with or without it).
macro_rules! response {
    ($partial_fn:ident, $partial:ident { $count:ident }, $response_fn:ident, $response:ident) => {
        #[doc = concat!("`", stringify!($partial), "`.")]
        pub fn $partial_fn() -> BoxedStrategy<$partial> {
            (i64_any(), text())
                .prop_map(|($count, error_message)| $partial {
                    $count,
                    error_message,
                })
                .boxed()
        }

        #[doc = concat!("`", stringify!($response), "`, with or without a partial success.")]
        pub fn $response_fn() -> BoxedStrategy<$response> {
            option::of($partial_fn())
                .prop_map(|partial_success| $response { partial_success })
                .boxed()
        }
    };
}

response!(
    trace_partial_success,
    ExportTracePartialSuccess { rejected_spans },
    trace_response,
    ExportTraceServiceResponse
);
response!(
    metrics_partial_success,
    ExportMetricsPartialSuccess {
        rejected_data_points
    },
    metrics_response,
    ExportMetricsServiceResponse
);
response!(
    logs_partial_success,
    ExportLogsPartialSuccess {
        rejected_log_records
    },
    logs_response,
    ExportLogsServiceResponse
);
response!(
    profiles_partial_success,
    ExportProfilesPartialSuccess { rejected_profiles },
    profiles_response,
    ExportProfilesServiceResponse
);

/// `google.protobuf.Duration`.
pub fn duration() -> BoxedStrategy<Duration> {
    (i64_any(), i32_any())
        .prop_map(|(seconds, nanos)| Duration { seconds, nanos })
        .boxed()
}

/// `google.rpc.RetryInfo`.
pub fn retry_info() -> BoxedStrategy<RetryInfo> {
    option::of(duration())
        .prop_map(|retry_delay| RetryInfo { retry_delay })
        .boxed()
}

/// `google.protobuf.Any`: arbitrary bytes, or a packed `RetryInfo` under its type URL.
pub fn any() -> BoxedStrategy<Any> {
    use otlp_proto::Message;
    prop_oneof![
        (text(), bytes()).prop_map(|(type_url, value)| Any { type_url, value }),
        retry_info().prop_map(|info| Any {
            type_url: otlp_proto::rpc::RETRY_INFO_TYPE_URL.into(),
            value: info.encode_to_bytes(),
        }),
    ]
    .boxed()
}

/// `google.rpc.Status`.
pub fn status() -> BoxedStrategy<Status> {
    (i32_any(), text(), up_to(any(), 2))
        .prop_map(|(code, message, details)| Status {
            code,
            message,
            details,
        })
        .boxed()
}
