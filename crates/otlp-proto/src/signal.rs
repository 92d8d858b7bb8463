//! [`Signal`]: the four OTLP signals, their HTTP paths and gRPC methods, and the request types
//! that belong to each.

use crate::Message;
use crate::collector::*;
use std::fmt;
use std::str::FromStr;

/// An OTLP signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Signal {
    /// Spans.
    Traces,
    /// Metrics.
    Metrics,
    /// Log records and events.
    Logs,
    /// Profiles (v1development).
    Profiles,
}

impl Signal {
    /// All signals, in a fixed order.
    pub const ALL: [Signal; 4] = [
        Signal::Traces,
        Signal::Metrics,
        Signal::Logs,
        Signal::Profiles,
    ];

    /// The signal's position in [`Signal::ALL`] (0 to 3), for tables with one entry per signal.
    pub const fn index(self) -> usize {
        match self {
            Signal::Traces => 0,
            Signal::Metrics => 1,
            Signal::Logs => 2,
            Signal::Profiles => 3,
        }
    }

    /// Lower-case name: `traces`, `metrics`, `logs`, `profiles`.
    pub const fn name(self) -> &'static str {
        match self {
            Signal::Traces => "traces",
            Signal::Metrics => "metrics",
            Signal::Logs => "logs",
            Signal::Profiles => "profiles",
        }
    }

    /// The upper-case name used in per-signal environment variables (`OTEL_EXPORTER_OTLP_TRACES_*`).
    pub const fn env_name(self) -> &'static str {
        match self {
            Signal::Traces => "TRACES",
            Signal::Metrics => "METRICS",
            Signal::Logs => "LOGS",
            Signal::Profiles => "PROFILES",
        }
    }

    /// The OTLP/HTTP path. Profiles use `/v1development/profiles`, as the Collector does.
    pub const fn http_path(self) -> &'static str {
        match self {
            Signal::Traces => "/v1/traces",
            Signal::Metrics => "/v1/metrics",
            Signal::Logs => "/v1/logs",
            Signal::Profiles => "/v1development/profiles",
        }
    }

    /// The gRPC method path.
    pub const fn grpc_path(self) -> &'static str {
        match self {
            Signal::Traces => "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
            Signal::Metrics => "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
            Signal::Logs => "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
            Signal::Profiles => {
                "/opentelemetry.proto.collector.profiles.v1development.ProfilesService/Export"
            }
        }
    }

    /// The signal served at an OTLP/HTTP path.
    pub fn from_http_path(path: &str) -> Option<Signal> {
        Signal::ALL.into_iter().find(|s| s.http_path() == path)
    }

    /// The signal served at a gRPC method path.
    pub fn from_grpc_path(path: &str) -> Option<Signal> {
        Signal::ALL.into_iter().find(|s| s.grpc_path() == path)
    }

    /// What the partial-success count of this signal counts.
    pub const fn item_name(self) -> &'static str {
        match self {
            Signal::Traces => "spans",
            Signal::Metrics => "data points",
            Signal::Logs => "log records",
            Signal::Profiles => "profiles",
        }
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The error for a string that names no signal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownSignal(pub String);

impl fmt::Display for UnknownSignal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown signal {:?} (expected traces, metrics, logs or profiles)",
            self.0
        )
    }
}

impl std::error::Error for UnknownSignal {}

impl FromStr for Signal {
    type Err = UnknownSignal;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "traces" | "trace" | "spans" => Ok(Signal::Traces),
            "metrics" | "metric" => Ok(Signal::Metrics),
            "logs" | "log" => Ok(Signal::Logs),
            "profiles" | "profile" => Ok(Signal::Profiles),
            _ => Err(UnknownSignal(s.to_owned())),
        }
    }
}

/// An export request of one signal. Lets the transports and the receiver stay generic.
pub trait ExportRequest: Message {
    /// The signal this request carries.
    const SIGNAL: Signal;
    /// The matching response.
    type Response: ExportResponse;
    /// Items in the request: spans, metric data points, log records or profiles.
    fn item_count(&self) -> usize;
}

/// An export response, which may report a partial success.
pub trait ExportResponse: Message {
    /// `(rejected item count, error message)` when the server reported a partial success
    /// (a count of 0 with a message is a warning).
    fn partial_success(&self) -> Option<(i64, &str)>;
    /// A response reporting that `rejected` items were refused.
    fn rejecting(rejected: i64, message: &str) -> Self;
}

macro_rules! export_pair {
    ($req:ident, $resp:ident, $partial:ident, $field:ident, $signal:expr, |$r:ident| $count:expr) => {
        impl ExportRequest for $req {
            const SIGNAL: Signal = $signal;
            type Response = $resp;
            fn item_count(&self) -> usize {
                let $r = self;
                $count
            }
        }
        impl ExportResponse for $resp {
            fn partial_success(&self) -> Option<(i64, &str)> {
                self.partial_success
                    .as_ref()
                    .map(|p| (p.$field, &*p.error_message))
            }
            fn rejecting(rejected: i64, message: &str) -> Self {
                $resp {
                    partial_success: Some($partial {
                        $field: rejected,
                        error_message: String::from(message).into(),
                    }),
                }
            }
        }
    };
}

export_pair!(
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
    ExportTracePartialSuccess,
    rejected_spans,
    Signal::Traces,
    |r| r
        .resource_spans
        .iter()
        .flat_map(|rs| &rs.scope_spans)
        .map(|ss| ss.spans.len())
        .sum()
);
export_pair!(
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
    ExportMetricsPartialSuccess,
    rejected_data_points,
    Signal::Metrics,
    |r| r
        .resource_metrics
        .iter()
        .flat_map(|rm| &rm.scope_metrics)
        .flat_map(|sm| &sm.metrics)
        .map(crate::metrics::Metric::data_point_count)
        .sum()
);
export_pair!(
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
    ExportLogsPartialSuccess,
    rejected_log_records,
    Signal::Logs,
    |r| r
        .resource_logs
        .iter()
        .flat_map(|rl| &rl.scope_logs)
        .map(|sl| sl.log_records.len())
        .sum()
);
export_pair!(
    ExportProfilesServiceRequest,
    ExportProfilesServiceResponse,
    ExportProfilesPartialSuccess,
    rejected_profiles,
    Signal::Profiles,
    |r| r
        .resource_profiles
        .iter()
        .flat_map(|rp| &rp.scope_profiles)
        .map(|sp| sp.profiles.len())
        .sum()
);

impl crate::metrics::Metric {
    /// The number of data points this metric holds.
    pub fn data_point_count(&self) -> usize {
        use crate::metrics::MetricData as D;
        match &self.data {
            Some(D::Gauge(g)) => g.data_points.len(),
            Some(D::Sum(s)) => s.data_points.len(),
            Some(D::Histogram(h)) => h.data_points.len(),
            Some(D::ExponentialHistogram(h)) => h.data_points.len(),
            Some(D::Summary(s)) => s.data_points.len(),
            None => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_round_trip() {
        for s in Signal::ALL {
            assert_eq!(Signal::from_http_path(s.http_path()), Some(s));
            assert_eq!(Signal::from_grpc_path(s.grpc_path()), Some(s));
            assert_eq!(s.name().parse::<Signal>().unwrap(), s);
        }
        assert_eq!(Signal::from_http_path("/v1/profiles"), None);
        assert!("spam".parse::<Signal>().is_err());
    }

    #[test]
    fn index_is_the_position_in_all() {
        for (i, s) in Signal::ALL.into_iter().enumerate() {
            assert_eq!(s.index(), i, "{s}");
        }
    }
}
