//! Logs and events: build log records, send them through the client's logs pipeline,
//! correlated with the current span.
//!
//! # The pieces
//!
//! - [`LogBuilder`] builds a record ([`otlp_proto::logs::LogRecord`]): a [`Severity`] (one of
//!   the 24 OTLP levels, with its text), a body (a string, any [`AnyValue`], or JSON through
//!   [`LogBuilder::with_body_map`]), attributes, timestamps and a trace context.
//! - [`EventBuilder`] builds an [`Event`]: a record with a name (`event_name`), an optional
//!   domain (the `event.domain` attribute), and severity `INFO` unless told otherwise.
//! - [`OtlpClient::send_log`] and [`OtlpClient::send_event`] send them under the client's
//!   default instrumentation scope (the service name unless
//!   [`ClientConfig::with_default_scope`](crate::ClientConfig::with_default_scope) says
//!   otherwise); [`OtlpClient::logger`] gives a [`Logger`] that sends under a scope of your
//!   choice (a crate or module name).
//! - Sending never waits: the result ([`Enqueued`](crate::pipeline::Enqueued)) says at once
//!   whether the record was queued. Ignore it, or `.await` it for a `Result` whose error names
//!   why the record was dropped (queue full, client shut down).
//!
//! # Correlation with traces
//!
//! Unless told otherwise, a record is correlated with the span current on the thread when it is
//! *built* ([`SpanContext::current`]: a span entered with [`Span::enter`], or a context made
//! current by [`FutureExt::with_context`]): the record carries that span's trace id, span id
//! and trace flags, so a backend can show the log next to the span. Outside any span the record
//! is uncorrelated. [`LogBuilder::with_trace_context`] picks another span by its trace and span
//! ids, [`LogBuilder::with_span_context`] by its context (say one extracted from an incoming
//! request), [`LogBuilder::without_trace_context`] none.
//!
//! # Timestamps
//!
//! `time_unix_nano` (when it happened) is `with_timestamp`'s, or else the time the record is
//! sent: the data model allows it to be unknown, but a record sent without one is taken to
//! have happened when it was sent, which is what a reader expects to see.
//! `observed_time_unix_nano` (when the SDK saw it) is set when the record is sent, unless
//! `with_observed_timestamp` set it. Both come from one clock read.
//!
//! # The pipeline
//!
//! A client has one logs [`Pipeline`](crate::pipeline::Pipeline), started by its first record,
//! configured by [`ClientConfig::with_logs_pipeline`](crate::ClientConfig::with_logs_pipeline)
//! (default [`AdaptiveBatchConfig::from_env`](crate::pipeline::AdaptiveBatchConfig::from_env)
//! for logs: `OTEL_BLRP_*`). Records of every scope share it; each export request holds one
//! `ScopeLogs` per scope present in the batch. Records of severity `ERROR` and above are high
//! priority: a full queue with [`DropPolicy::DropLowPriority`](crate::pipeline::DropPolicy)
//! drops them last. [`OtlpClient::force_flush`] and [`OtlpClient::shutdown`] cover it;
//! [`OtlpClient::logs_stats`] gives its counters. Records sent after shutdown are dropped and
//! counted (`dropped.after_shutdown`).
//!
//! # Example
//!
//! ```no_run
//! use otlp::logs::{EventBuilder, LogBuilder, LogSeverity};
//! use otlp::{ClientConfig, OtlpClient, OtlpError};
//! use serde_json::json;
//! use std::time::Duration;
//!
//! # async fn demo() -> Result<(), OtlpError> {
//! let client = OtlpClient::new(ClientConfig::new()).await?;
//!
//! client
//!     .send_log(
//!         LogBuilder::new()
//!             .with_severity(LogSeverity::Warn)
//!             .with_body_map(json!({ "msg": "slow query", "query": { "table": "orders", "ms": 870 } }))
//!             .with_attribute("db.system.name", "postgresql")
//!             .build(),
//!     )
//!     .await?;
//!
//! let tracer = client.tracer("checkout");
//! tracer.in_span("place order", |_span| {
//!     // Correlated with "place order": same trace id, its span id.
//!     client.send_event(
//!         EventBuilder::new("order.created")
//!             .with_domain("ecommerce")
//!             .with_attribute("order.id", 1234i64)
//!             .build(),
//!     );
//! });
//!
//! // Records under a scope of their own.
//! let logger = client.logger("payments");
//! logger.emit(LogBuilder::new().with_severity(LogSeverity::Error).with_body("card declined").build());
//!
//! client.shutdown(Duration::from_secs(5)).await?;
//! # Ok(())
//! # }
//! ```
//!
//! [`AnyValue`]: otlp_proto::common::AnyValue
//! [`OtlpClient::send_log`]: crate::OtlpClient::send_log
//! [`OtlpClient::send_event`]: crate::OtlpClient::send_event
//! [`OtlpClient::logger`]: crate::OtlpClient::logger
//! [`OtlpClient::force_flush`]: crate::OtlpClient::force_flush
//! [`OtlpClient::shutdown`]: crate::OtlpClient::shutdown
//! [`OtlpClient::logs_stats`]: crate::OtlpClient::logs_stats
//! [`SpanContext::current`]: crate::trace::SpanContext::current
//! [`Span::enter`]: crate::trace::Span::enter
//! [`FutureExt::with_context`]: crate::trace::FutureExt::with_context

mod builder;
mod encoder;
mod event;
mod json;
mod logger;
mod severity;

pub use builder::LogBuilder;
pub use event::{EVENT_DOMAIN, Event, EventBuilder};
pub use json::json_to_any_value;
pub use logger::Logger;
pub use severity::Severity;
/// [`Severity`] under the name the OpenTelemetry guides use.
pub use severity::Severity as LogSeverity;

pub(crate) use logger::Logs;

/// The instrumentation scope of records sent with [`OtlpClient::send_log`] and
/// [`OtlpClient::send_event`] when neither
/// [`ClientConfig::with_default_scope`](crate::ClientConfig::with_default_scope) nor the
/// resource's `service.name` gives one: `otlp`, this SDK's name, with its version. Use
/// [`OtlpClient::logger`] to send under your own.
///
/// [`OtlpClient::send_log`]: crate::OtlpClient::send_log
/// [`OtlpClient::send_event`]: crate::OtlpClient::send_event
/// [`OtlpClient::logger`]: crate::OtlpClient::logger
pub const DEFAULT_SCOPE: &str = "otlp";
