//! [`Sink`]: where decoded requests go, and the answers a sink gives: [`Ack`] or [`Refusal`].

mod jsonl;
mod memory;
mod scripted;

pub use jsonl::JsonLinesSink;
pub use memory::MemorySink;
pub use scripted::ScriptedSink;

use crate::Received;
use http::StatusCode;
use otlp_proto::grpc::code;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Receives every request the server decodes, and decides the answer.
///
/// The server calls [`delay`](Sink::delay) and then [`consume`](Sink::consume) once per decoded
/// request, from the task serving the connection: a sink is called concurrently for requests on
/// different connections and streams, and must not block for long.
pub trait Sink: Send + Sync + 'static {
    /// Called once per decoded request. Must not block for long.
    ///
    /// `Ok` answers success (or a partial success, see [`Ack::partial`]); `Err` answers with the
    /// status the [`Refusal`] maps to.
    fn consume(&self, received: Received) -> Result<Ack, Refusal>;

    /// How long the server should wait before calling [`consume`](Sink::consume) for the request
    /// at hand, to simulate a slow server without blocking the runtime.
    ///
    /// Called once per decoded request, right before `consume`. The wait is asynchronous, and
    /// counts against the client's `grpc-timeout`: a gRPC call whose deadline passes while waiting
    /// is answered `DEADLINE_EXCEEDED` and never reaches `consume`. Default: `None`.
    fn delay(&self) -> Option<Duration> {
        None
    }
}

impl<S: Sink + ?Sized> Sink for Arc<S> {
    fn consume(&self, received: Received) -> Result<Ack, Refusal> {
        (**self).consume(received)
    }

    fn delay(&self) -> Option<Duration> {
        (**self).delay()
    }
}

impl<S: Sink + ?Sized> Sink for Box<S> {
    fn consume(&self, received: Received) -> Result<Ack, Refusal> {
        (**self).consume(received)
    }

    fn delay(&self) -> Option<Duration> {
        (**self).delay()
    }
}

/// The sink a receiver uses when none is given: accepts everything and keeps nothing.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Discard;

impl Sink for Discard {
    fn consume(&self, _: Received) -> Result<Ack, Refusal> {
        Ok(Ack::ok())
    }
}

/// A sink's acceptance of a request.
///
/// A `rejected` count above zero, or a non-empty `message`, is reported to the client as a
/// partial success (a count of zero with a message is a warning, as OTLP specifies).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ack {
    /// Items (spans, data points, log records or profiles) the sink rejected.
    pub rejected: i64,
    /// Why, or a warning; empty for a full success.
    pub message: String,
}

impl Ack {
    /// Everything was accepted.
    pub fn ok() -> Self {
        Ack::default()
    }

    /// `rejected` items were refused, for the reason in `message`.
    pub fn partial(rejected: i64, message: impl Into<String>) -> Self {
        Ack {
            rejected,
            message: message.into(),
        }
    }

    /// Whether the response carries a `partial_success`.
    pub fn is_partial(&self) -> bool {
        self.rejected > 0 || !self.message.is_empty()
    }
}

/// Why a sink refused a request: the kind maps to an HTTP status and a gRPC code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RefusalKind {
    /// The server cannot take the request now; retryable. HTTP 503, gRPC `UNAVAILABLE`.
    Unavailable,
    /// The client sends too much; retryable. HTTP 429, gRPC `RESOURCE_EXHAUSTED`.
    ResourceExhausted,
    /// The request is wrong and must not be retried. HTTP 400, gRPC `INVALID_ARGUMENT`.
    InvalidArgument,
    /// The server failed. HTTP 500, gRPC `INTERNAL`.
    Internal,
}

impl RefusalKind {
    /// The OTLP/HTTP status code.
    pub fn http_status(self) -> StatusCode {
        match self {
            RefusalKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            RefusalKind::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
            RefusalKind::InvalidArgument => StatusCode::BAD_REQUEST,
            RefusalKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The OTLP/gRPC status code.
    pub fn grpc_code(self) -> i32 {
        match self {
            RefusalKind::Unavailable => code::UNAVAILABLE,
            RefusalKind::ResourceExhausted => code::RESOURCE_EXHAUSTED,
            RefusalKind::InvalidArgument => code::INVALID_ARGUMENT,
            RefusalKind::Internal => code::INTERNAL,
        }
    }
}

/// A sink's refusal of a whole request.
///
/// ```
/// use std::time::Duration;
/// use otlp_receiver::{Refusal, RefusalKind};
///
/// let r = Refusal::unavailable("restarting").with_retry_after(Duration::from_secs(2));
/// assert_eq!(r.kind(), RefusalKind::Unavailable);
/// assert_eq!(r.kind().http_status(), 503);
/// assert_eq!(r.retry_after(), Some(Duration::from_secs(2)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    kind: RefusalKind,
    message: String,
    retry_after: Option<Duration>,
}

impl Refusal {
    fn new(kind: RefusalKind, message: impl Into<String>) -> Self {
        Refusal {
            kind,
            message: message.into(),
            retry_after: None,
        }
    }

    /// HTTP 503 / gRPC `UNAVAILABLE`: try again later.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Refusal::new(RefusalKind::Unavailable, message)
    }

    /// HTTP 429 / gRPC `RESOURCE_EXHAUSTED`: slow down.
    pub fn resource_exhausted(message: impl Into<String>) -> Self {
        Refusal::new(RefusalKind::ResourceExhausted, message)
    }

    /// HTTP 400 / gRPC `INVALID_ARGUMENT`: do not retry.
    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Refusal::new(RefusalKind::InvalidArgument, message)
    }

    /// HTTP 500 / gRPC `INTERNAL`.
    pub fn internal(message: impl Into<String>) -> Self {
        Refusal::new(RefusalKind::Internal, message)
    }

    /// Asks the client to wait `delay` before retrying: a `Retry-After` header (whole seconds,
    /// rounded up) over HTTP, a `google.rpc.RetryInfo` in `grpc-status-details-bin` over gRPC.
    pub fn with_retry_after(mut self, delay: Duration) -> Self {
        self.retry_after = Some(delay);
        self
    }

    /// The kind of refusal.
    pub fn kind(&self) -> RefusalKind {
        self.kind
    }

    /// The message sent to the client.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The delay asked of the client, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}",
            otlp_proto::grpc::code_name(self.kind.grpc_code()),
            self.message
        )
    }
}

impl std::error::Error for Refusal {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusal_kinds_map_to_both_transports() {
        let cases = [
            (Refusal::unavailable("a"), 503, code::UNAVAILABLE),
            (
                Refusal::resource_exhausted("b"),
                429,
                code::RESOURCE_EXHAUSTED,
            ),
            (Refusal::invalid_argument("c"), 400, code::INVALID_ARGUMENT),
            (Refusal::internal("d"), 500, code::INTERNAL),
        ];
        for (refusal, status, grpc) in cases {
            assert_eq!(refusal.kind().http_status(), status);
            assert_eq!(refusal.kind().grpc_code(), grpc);
            assert_eq!(refusal.retry_after(), None);
        }
        let r = Refusal::unavailable("busy").with_retry_after(Duration::from_millis(1500));
        assert_eq!(r.retry_after(), Some(Duration::from_millis(1500)));
        assert_eq!(r.message(), "busy");
        assert_eq!(r.to_string(), "UNAVAILABLE: busy");
    }

    #[test]
    fn ack_partial_only_when_something_to_say() {
        assert!(!Ack::ok().is_partial());
        assert!(Ack::partial(3, "too old").is_partial());
        assert!(Ack::partial(0, "warning").is_partial());
    }
}
