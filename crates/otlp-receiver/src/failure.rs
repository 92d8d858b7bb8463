//! [`Failure`]: why a request was not accepted, with its answer on each transport.

use crate::Refusal;
use http::StatusCode;
use otlp_proto::grpc::code;
use otlp_proto::rpc;
use std::time::Duration;

/// A request the server answers with an error. Every check produces one of these, so both
/// transports share one mapping from cause to HTTP status and gRPC code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    pub(crate) http: StatusCode,
    pub(crate) grpc: i32,
    pub(crate) message: String,
    pub(crate) retry_after: Option<Duration>,
}

impl Failure {
    fn new(http: StatusCode, grpc: i32, message: impl Into<String>) -> Self {
        Failure {
            http,
            grpc,
            message: message.into(),
            retry_after: None,
        }
    }

    /// No such endpoint or method.
    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Failure::new(StatusCode::NOT_FOUND, code::UNIMPLEMENTED, message)
    }

    /// OTLP endpoints only take POST.
    pub(crate) fn method_not_allowed(message: impl Into<String>) -> Self {
        Failure::new(StatusCode::METHOD_NOT_ALLOWED, code::UNIMPLEMENTED, message)
    }

    /// A content type or encoding the server does not speak.
    pub(crate) fn unsupported(message: impl Into<String>) -> Self {
        Failure::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            code::UNIMPLEMENTED,
            message,
        )
    }

    /// The body is larger than the limit, on the wire or once decompressed.
    pub(crate) fn too_large(message: impl Into<String>) -> Self {
        Failure::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            code::RESOURCE_EXHAUSTED,
            message,
        )
    }

    /// The requests in flight hold as much memory as the receiver allows: come back later.
    pub(crate) fn over_memory(message: impl Into<String>, retry_after: Duration) -> Self {
        Failure {
            retry_after: Some(retry_after),
            ..Failure::new(
                StatusCode::TOO_MANY_REQUESTS,
                code::RESOURCE_EXHAUSTED,
                message,
            )
        }
    }

    /// The body does not decompress or decode.
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Failure::new(StatusCode::BAD_REQUEST, code::INVALID_ARGUMENT, message)
    }

    /// A protocol error on the server's side of the contract.
    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Failure::new(StatusCode::INTERNAL_SERVER_ERROR, code::INTERNAL, message)
    }

    /// The client's `grpc-timeout` passed before the request was handled.
    pub(crate) fn deadline_exceeded() -> Self {
        Failure::new(
            StatusCode::GATEWAY_TIMEOUT,
            code::DEADLINE_EXCEEDED,
            "deadline exceeded before the request was handled",
        )
    }

    /// The request body did not arrive in full within the body timeout. gRPC has no code for a
    /// slow client; `DEADLINE_EXCEEDED` says what happened, and OTLP exporters retry it.
    pub(crate) fn request_timeout(message: impl Into<String>) -> Self {
        Failure::new(
            StatusCode::REQUEST_TIMEOUT,
            code::DEADLINE_EXCEEDED,
            message,
        )
    }

    /// The `google.rpc.Status` sent in an HTTP error body or the gRPC details trailer.
    pub(crate) fn status(&self) -> rpc::Status {
        match self.retry_after {
            Some(delay) => rpc::Status::with_retry_delay(self.grpc, self.message.clone(), delay),
            None => rpc::Status {
                code: self.grpc,
                message: self.message.clone().into(),
                details: Vec::new(),
            },
        }
    }
}

impl From<Refusal> for Failure {
    fn from(refusal: Refusal) -> Self {
        let kind = refusal.kind();
        Failure {
            http: kind.http_status(),
            grpc: kind.grpc_code(),
            retry_after: refusal.retry_after(),
            message: refusal.message().to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusal_keeps_its_retry_delay_in_the_status() {
        let f =
            Failure::from(Refusal::unavailable("busy").with_retry_after(Duration::from_secs(7)));
        assert_eq!(
            (f.http, f.grpc),
            (StatusCode::SERVICE_UNAVAILABLE, code::UNAVAILABLE)
        );
        let status = f.status();
        assert_eq!(status.code, code::UNAVAILABLE);
        assert_eq!(&*status.message, "busy");
        assert_eq!(status.retry_delay(), Some(Duration::from_secs(7)));
        assert!(Failure::bad_request("x").status().details.is_empty());
    }
}
