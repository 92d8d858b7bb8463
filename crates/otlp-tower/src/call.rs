//! One HTTP or gRPC call as both sides record it: its span, its duration histogram, and how
//! the response (status line, `grpc-status` in headers or trailers, an error) decides the span's
//! status, `error.type` and the measurement's attributes. Finished exactly once: when the
//! response body ends, fails or is dropped, or when the service fails.

use crate::conventions::RpcConventions;
use crate::request::{Protocol, RequestInfo};
use http::HeaderMap;
use otlp_proto::common::KeyValue;
use otlp_proto::grpc::{code, code_name};
use otlp_sdk::metrics::{Histogram, Meter};
use otlp_sdk::trace::{Span, SpanKind, Status, Tracer};
use otlp_semconv::attribute as a;
use otlp_semconv::metric as m;
use std::time::Instant;

/// The explicit bucket boundaries the semantic conventions advise for request durations, in
/// seconds.
const DURATION_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// Which end of the call this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Server,
    Client,
}

/// What one layer records with: its tracer and its two duration histograms (HTTP, RPC).
#[derive(Debug, Clone)]
pub(crate) struct Instruments {
    pub(crate) tracer: Tracer,
    http: Histogram<f64>,
    rpc: Histogram<f64>,
    side: Side,
    /// The RPC attribute names written.
    conventions: RpcConventions,
}

impl Instruments {
    /// Which end of calls these record.
    pub(crate) fn side(&self) -> Side {
        self.side
    }

    /// The RPC attribute names these write.
    pub(crate) fn conventions(&self) -> RpcConventions {
        self.conventions
    }

    pub(crate) fn set_conventions(&mut self, conventions: RpcConventions) {
        self.conventions = conventions;
    }

    pub(crate) fn new(tracer: Tracer, meter: &Meter, side: Side) -> Self {
        let (http, rpc) = match side {
            Side::Server => (m::HTTP_SERVER_REQUEST_DURATION, m::RPC_SERVER_CALL_DURATION),
            Side::Client => (m::HTTP_CLIENT_REQUEST_DURATION, m::RPC_CLIENT_CALL_DURATION),
        };
        let histogram = |name: &'static str, description: &'static str| {
            meter
                .f64_histogram(name)
                .with_unit("s")
                .with_description(description)
                .with_boundaries(DURATION_BUCKETS.to_vec())
                .build()
        };
        Instruments {
            tracer,
            http: histogram(http, "Duration of HTTP requests."),
            rpc: histogram(rpc, "Duration of RPCs."),
            side,
            // Read once per layer, not per call.
            conventions: RpcConventions::from_env(),
        }
    }
}

/// Whether a gRPC status is an error on `side`: every status but OK for a client; for a
/// server, only those the conventions list (the others are the client's fault).
fn grpc_error(c: i32, side: Side) -> bool {
    match side {
        Side::Client => c != code::OK,
        Side::Server => matches!(
            c,
            code::UNKNOWN
                | code::DEADLINE_EXCEEDED
                | code::UNIMPLEMENTED
                | code::INTERNAL
                | code::UNAVAILABLE
                | code::DATA_LOSS
        ),
    }
}

/// The name of a gRPC status as `rpc.response.status_code` gives it; a code past the
/// specification's is `UNKNOWN`, as gRPC reads it.
fn grpc_name(c: i32) -> &'static str {
    if (code::OK..=code::UNAUTHENTICATED).contains(&c) {
        code_name(c)
    } else {
        "UNKNOWN"
    }
}

/// A call in progress.
#[derive(Debug)]
pub(crate) struct Call {
    span: Span,
    start: Instant,
    instruments: Instruments,
    /// The measurement's attributes known from the request.
    metric_attributes: Vec<KeyValue>,
    grpc: bool,
    http_status: Option<u16>,
    grpc_status: Option<i32>,
    /// Set when the call failed without a status to say so (the service's error, a body
    /// error): the `error.type`.
    failure: Option<String>,
    finished: bool,
}

impl Call {
    /// Starts the call's span (a child of the context current on this thread).
    pub(crate) fn start(instruments: &Instruments, request: RequestInfo) -> Call {
        let kind = match instruments.side {
            Side::Server => SpanKind::Server,
            Side::Client => SpanKind::Client,
        };
        let span = instruments
            .tracer
            .span_builder(request.span_name)
            .with_kind(kind)
            .with_attributes(request.span_attributes)
            .start();
        Call {
            span,
            start: Instant::now(),
            instruments: instruments.clone(),
            metric_attributes: request.metric_attributes,
            grpc: matches!(request.protocol, Protocol::Grpc),
            http_status: None,
            grpc_status: None,
            failure: None,
            finished: false,
        }
    }

    /// The call's span, to make current and to propagate.
    pub(crate) fn span(&self) -> &Span {
        &self.span
    }

    /// The response's status line and headers (a gRPC status here is a trailers-only answer).
    pub(crate) fn response(&mut self, status: http::StatusCode, headers: &HeaderMap) {
        self.http_status = Some(status.as_u16());
        self.trailers(headers);
    }

    /// Trailers (or headers) that may hold `grpc-status`.
    pub(crate) fn trailers(&mut self, headers: &HeaderMap) {
        if let Some(code) = headers
            .get("grpc-status")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u32>().ok())
            .and_then(|v| i32::try_from(v).ok())
        {
            self.grpc_status = Some(code);
        }
    }

    /// The call failed with no status to say why: `error_type` (a low-cardinality name).
    pub(crate) fn fail(&mut self, error_type: impl Into<String>) {
        self.failure.get_or_insert_with(|| error_type.into());
    }

    /// Ends the span and records the duration (once).
    pub(crate) fn finish(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        let elapsed = self.start.elapsed().as_secs_f64();
        let side = self.instruments.side;
        let mut attributes = std::mem::take(&mut self.metric_attributes);
        let error_type = if self.grpc {
            // A call that ended without a status was cut short.
            let code = self.grpc_status.unwrap_or(if self.failure.is_some() {
                code::UNKNOWN
            } else {
                code::CANCELLED
            });
            let name = grpc_name(code);
            let kv = KeyValue::new(a::RPC_RESPONSE_STATUS_CODE, name);
            self.span.set_attribute(kv.key.clone(), name);
            attributes.push(kv);
            if let Some(old) = self.instruments.conventions.old_status(code) {
                self.span.set_attribute(old.key.clone(), i64::from(code));
                attributes.push(old);
            }
            grpc_error(code, side).then(|| name.to_owned())
        } else {
            let status = self.http_status;
            if let Some(code) = status {
                let kv = KeyValue::new(a::HTTP_RESPONSE_STATUS_CODE, i64::from(code));
                self.span
                    .set_attribute(a::HTTP_RESPONSE_STATUS_CODE, i64::from(code));
                attributes.push(kv);
            }
            // Servers: 5xx are errors (4xx are the client's); clients: 4xx and 5xx.
            let threshold = if side == Side::Server { 500 } else { 400 };
            match status {
                Some(code) if code >= threshold => Some(code.to_string()),
                _ => None,
            }
        };
        if let Some(error) = error_type.or_else(|| self.failure.clone()) {
            self.span.set_attribute(a::ERROR_TYPE, error.clone());
            self.span.set_status(Status::Error(error.clone().into()));
            attributes.push(KeyValue::new(a::ERROR_TYPE, error));
        }
        self.span.end();
        let histogram = if self.grpc {
            &self.instruments.rpc
        } else {
            &self.instruments.http
        };
        histogram.record(elapsed, &attributes);
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_errors_per_side() {
        for c in 0..17 {
            assert_eq!(grpc_error(c, Side::Client), c != 0, "{c}");
        }
        let server: Vec<&str> = (0..17)
            .filter(|&c| grpc_error(c, Side::Server))
            .map(grpc_name)
            .collect();
        assert_eq!(
            server,
            [
                "UNKNOWN",
                "DEADLINE_EXCEEDED",
                "UNIMPLEMENTED",
                "INTERNAL",
                "UNAVAILABLE",
                "DATA_LOSS"
            ]
        );
        assert_eq!((grpc_name(5), grpc_name(17)), ("NOT_FOUND", "UNKNOWN"));
    }
}
