//! [`Error`]: the one error type of this crate, and [`Status`], the status a server answered with.

use crate::pipeline::DropReason;
use otlp_proto::Signal;
use otlp_proto::grpc;
use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

/// [`Error`] under the name the OpenTelemetry guides use: `otlp::OtlpError`.
pub type OtlpError = Error;

pub(crate) type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// The status an OTLP server answered a failed export with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Status {
    /// An OTLP/HTTP response status.
    Http(http::StatusCode),
    /// A gRPC status code (see [`otlp_proto::grpc::code`]).
    Grpc(i32),
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Status::Http(s) => write!(f, "HTTP {s}"),
            Status::Grpc(c) => write!(f, "gRPC {} ({c})", grpc::code_name(*c)),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// The configuration (in code or in the environment) is invalid.
    Config,
    /// The caller handed over a body that cannot be sent.
    InvalidInput,
    /// No connection could be made.
    Connect,
    /// TLS failed: handshake, certificate verification, or an alert from the server.
    Tls,
    /// The export deadline passed while a request was in flight.
    Timeout,
    /// The connection failed after it was made (reset, closed, HTTP/2 error).
    Transport,
    /// The server answered with an error status.
    Status,
    /// The server's answer is not valid OTLP.
    Protocol,
    /// The exporter's worker thread is gone.
    Shutdown,
    /// An item was dropped instead of queued (see `Error::drop_reason`).
    Dropped,
    /// The persistent queue's files could not be created, locked, read or written.
    Storage,
}

/// Why an exporter stopped retrying a transient failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GaveUp {
    /// [`RetryPolicy::with_max_attempts`](crate::RetryPolicy::with_max_attempts) was reached.
    MaxAttempts,
    /// The next attempt could not start before the export deadline.
    Deadline(Duration),
    /// Retries are disabled.
    Disabled,
}

/// The error of every fallible operation of this crate.
///
/// An error says what failed and why, in its message and through [`source`](StdError::source);
/// the `is_*` predicates sort it for code that reacts to it, and [`status`](Error::status) and
/// [`server_message`](Error::server_message) carry what the server said.
///
/// ```
/// # fn handle(err: otlp::Error) {
/// if err.is_retryable_exhausted() {
///     // Transient failure (server busy, collector down): the batch may be re-queued.
/// } else if let Some(status) = err.status() {
///     // The server refused the data for good (e.g. HTTP 400): drop the batch.
///     eprintln!("rejected with {status}: {}", err.server_message().unwrap_or(""));
/// }
/// # }
/// ```
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: Kind,
    message: String,
    status: Option<Status>,
    server_message: Option<String>,
    signal: Option<Signal>,
    endpoint: Option<String>,
    attempts: u32,
    retryable: bool,
    retry_after: Option<Duration>,
    gave_up: Option<GaveUp>,
    drop_reason: Option<DropReason>,
    source: Option<BoxError>,
}

impl Error {
    pub(crate) fn new(kind: Kind, message: impl Into<String>) -> Self {
        Error {
            inner: Box::new(Inner {
                kind,
                message: message.into(),
                status: None,
                server_message: None,
                signal: None,
                endpoint: None,
                attempts: 0,
                retryable: false,
                retry_after: None,
                gave_up: None,
                drop_reason: None,
                source: None,
            }),
        }
    }

    /// An item dropped instead of queued, for `reason`.
    pub(crate) fn dropped(reason: DropReason) -> Self {
        let why = match reason {
            DropReason::QueueFull => "the queue is full",
            DropReason::AfterShutdown => "the client (or pipeline) is shut down",
            DropReason::ShutdownTimeout => "the shutdown deadline passed",
            DropReason::NonRetryable => "the server refused it",
            DropReason::RetriesExhausted => "the export failed after its retries",
            DropReason::Corrupted => "its batch was damaged in the persistent queue",
        };
        let mut e = Error::new(Kind::Dropped, format!("dropped ({}): {why}", reason.name()));
        e.inner.drop_reason = Some(reason);
        e
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        Error::new(Kind::Config, message)
    }

    /// A malformed environment variable: `NAME="value": expected ...`.
    pub(crate) fn env(var: &str, value: &str, expected: impl fmt::Display) -> Self {
        Error::config(format!("{var}={value:?}: {expected}"))
    }

    /// A failure worth retrying (connection refused, 503, UNAVAILABLE, ...).
    pub(crate) fn retryable(mut self) -> Self {
        self.inner.retryable = true;
        self
    }

    pub(crate) fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.inner.source = Some(source.into());
        self
    }

    pub(crate) fn with_status(mut self, status: Status, server_message: Option<String>) -> Self {
        self.inner.status = Some(status);
        self.inner.server_message = server_message.filter(|m| !m.is_empty());
        self
    }

    pub(crate) fn with_retry_after(mut self, delay: Option<Duration>) -> Self {
        self.inner.retry_after = delay;
        self
    }

    pub(crate) fn gave_up(mut self, why: GaveUp) -> Self {
        self.inner.gave_up = Some(why);
        self
    }

    /// Adds where the failure happened; done once, when the export ends.
    pub(crate) fn during_export(mut self, signal: Signal, endpoint: &str, attempts: u32) -> Self {
        self.inner.signal = Some(signal);
        self.inner.endpoint = Some(endpoint.to_owned());
        self.inner.attempts = attempts;
        self
    }

    /// The delay the server asked for (`Retry-After`, gRPC `RetryInfo`).
    pub(crate) fn retry_after(&self) -> Option<Duration> {
        self.inner.retry_after
    }

    /// Whether the configuration is invalid: a malformed environment variable, an endpoint that
    /// is not a URL, an unreadable certificate file.
    pub fn is_config(&self) -> bool {
        self.inner.kind == Kind::Config
    }

    /// Whether the body handed to [`Exporter::export_encoded`](crate::Exporter::export_encoded)
    /// could not be sent (a malformed gRPC frame, or a body that does not decode for transcoding).
    pub fn is_invalid_input(&self) -> bool {
        self.inner.kind == Kind::InvalidInput
    }

    /// Whether no connection could be made to the endpoint (refused, unreachable, DNS failure).
    pub fn is_connect(&self) -> bool {
        self.inner.kind == Kind::Connect
    }

    /// Whether TLS failed: the server's certificate was not trusted, or the server refused ours.
    pub fn is_tls(&self) -> bool {
        self.inner.kind == Kind::Tls
    }

    /// Whether the export deadline ([`ExporterConfig::with_timeout`](crate::ExporterConfig::with_timeout))
    /// ended the export: a request was still in flight, or no time was left for another retry.
    pub fn is_timeout(&self) -> bool {
        self.inner.kind == Kind::Timeout || matches!(self.inner.gave_up, Some(GaveUp::Deadline(_)))
    }

    /// Whether the last failure was transient but the exporter stopped retrying it: the retry
    /// policy's attempts ran out, the deadline left no room, or retries are disabled. The batch
    /// was not accepted and may be sent again later.
    pub fn is_retryable_exhausted(&self) -> bool {
        self.inner.gave_up.is_some()
    }

    /// Whether the last failure was transient (a retry could succeed).
    pub fn is_retryable(&self) -> bool {
        self.inner.retryable
    }

    /// Whether the server answered with an error status; see [`status`](Error::status).
    pub fn is_status(&self) -> bool {
        self.inner.kind == Kind::Status
    }

    /// Whether the server's answer was not valid OTLP (missing `grpc-status`, corrupt frame).
    pub fn is_protocol(&self) -> bool {
        self.inner.kind == Kind::Protocol
    }

    /// Whether the persistent queue's directory or files could not be used: not creatable,
    /// locked by another process, unreadable, or written in a newer format.
    pub fn is_storage(&self) -> bool {
        self.inner.kind == Kind::Storage
    }

    /// Whether the exporter's worker thread stopped before answering.
    pub fn is_shutdown(&self) -> bool {
        self.inner.kind == Kind::Shutdown
    }

    /// Whether an item (a log record, an event) was dropped instead of queued; see
    /// [`drop_reason`](Error::drop_reason).
    pub fn is_dropped(&self) -> bool {
        self.inner.kind == Kind::Dropped
    }

    /// Why the item was dropped, for an [`is_dropped`](Error::is_dropped) error: the queue was
    /// full, the client was shut down, ...
    pub fn drop_reason(&self) -> Option<DropReason> {
        self.inner.drop_reason
    }

    /// The status the server answered with, for an error status.
    pub fn status(&self) -> Option<Status> {
        self.inner.status
    }

    /// What the server said about the failure: `grpc-message`, the message of a
    /// `google.rpc.Status` body, or the text of an HTTP error body.
    pub fn server_message(&self) -> Option<&str> {
        self.inner.server_message.as_deref()
    }

    /// The signal being exported, for an export error.
    pub fn signal(&self) -> Option<Signal> {
        self.inner.signal
    }

    /// How many requests were sent (0 when the export failed before sending).
    pub fn attempts(&self) -> u32 {
        self.inner.attempts
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        let mut d = f.debug_struct("Error");
        d.field("kind", &i.kind).field("message", &i.message);
        if let Some(s) = &i.status {
            d.field("status", s);
        }
        if let Some(m) = &i.server_message {
            d.field("server_message", m);
        }
        if let Some(s) = &i.signal {
            d.field("signal", s);
        }
        if i.attempts > 0 {
            d.field("attempts", &i.attempts);
        }
        if let Some(g) = &i.gave_up {
            d.field("gave_up", g);
        }
        if let Some(r) = &i.drop_reason {
            d.field("drop_reason", r);
        }
        if let Some(s) = &i.source {
            d.field("source", s);
        }
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        if let (Some(signal), Some(endpoint)) = (i.signal, &i.endpoint) {
            write!(f, "{signal} export to {endpoint} failed")?;
            match i.attempts {
                0 => {}
                1 => f.write_str(" after 1 attempt")?,
                n => write!(f, " after {n} attempts")?,
            }
            match i.gave_up {
                Some(GaveUp::MaxAttempts) => f.write_str(" (retry limit reached)")?,
                Some(GaveUp::Deadline(t)) => {
                    write!(
                        f,
                        " (no time left to retry within the {t:?} export deadline)"
                    )?;
                }
                Some(GaveUp::Disabled) => f.write_str(" (retries disabled)")?,
                None => {}
            }
            f.write_str(": ")?;
        }
        f.write_str(&i.message)?;
        if let Some(m) = &i.server_message {
            write!(f, ": {m}")?;
        }
        Ok(())
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.inner.source.as_deref().map(|e| e as _)
    }
}

/// Walks `err` and its sources and returns the first of type `T`, looking inside `io::Error`s too
/// (tokio-rustls and hyper wrap their causes in them).
pub(crate) fn find_cause<'a, T: StdError + 'static>(
    err: &'a (dyn StdError + 'static),
) -> Option<&'a T> {
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(t) = e.downcast_ref::<T>() {
            return Some(t);
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && let Some(t) = io.get_ref().and_then(|inner| inner.downcast_ref::<T>())
        {
            return Some(t);
        }
        next = e.source();
    }
    None
}

/// The innermost message of an error chain: the part a person needs ("Connection refused").
pub(crate) fn root_cause(err: &(dyn StdError + 'static)) -> String {
    let mut last = err;
    while let Some(next) = last.source() {
        last = next;
    }
    last.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_gives_context_status_and_server_message() {
        let err = Error::new(Kind::Status, "server answered HTTP 400 Bad Request")
            .with_status(
                Status::Http(http::StatusCode::BAD_REQUEST),
                Some("bad data".into()),
            )
            .during_export(Signal::Logs, "http://h:4318/v1/logs", 1);
        assert_eq!(
            err.to_string(),
            "logs export to http://h:4318/v1/logs failed after 1 attempt: \
             server answered HTTP 400 Bad Request: bad data"
        );
        assert!(err.is_status() && !err.is_retryable_exhausted() && !err.is_timeout());
        assert_eq!(err.server_message(), Some("bad data"));
    }

    #[test]
    fn gave_up_on_deadline_is_a_timeout_and_exhausted() {
        let err = Error::new(Kind::Connect, "cannot connect")
            .retryable()
            .gave_up(GaveUp::Deadline(Duration::from_secs(2)))
            .during_export(Signal::Traces, "http://h/v1/traces", 3);
        assert!(err.is_timeout() && err.is_retryable_exhausted() && err.is_connect());
        assert!(err.to_string().contains("after 3 attempts"));
        assert!(err.to_string().contains("export deadline"), "{err}");
        assert_eq!(Status::Grpc(14).to_string(), "gRPC UNAVAILABLE (14)");
    }

    #[test]
    fn causes_are_found_through_io_errors() {
        #[derive(Debug)]
        struct Marker;
        impl fmt::Display for Marker {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("marker")
            }
        }
        impl StdError for Marker {}
        let io = std::io::Error::other(Marker);
        let err = Error::new(Kind::Transport, "x").with_source(io);
        assert!(find_cause::<Marker>(&err).is_some());
        assert_eq!(root_cause(&err), "marker");
    }
}
