//! OpenTelemetry Protocol for Rust: traces, metrics, logs, events and profiles, exported over
//! OTLP. This is the one crate an application adds; its features switch on the optional parts.
//!
//! An [`OtlpClient`] is the SDK: it owns the resource, the sampler and limits, one batching
//! [`pipeline`] per signal, and the transport that sends what they batch. Tracers
//! ([`OtlpClient::tracer`]) start spans, loggers ([`OtlpClient::logger`]) emit log records and
//! events, and the lower-level [`Exporter`] sends export requests you build yourself.
//!
//! # One line
//!
//! [`init`] builds the client from the `OTEL_*` environment, makes it global and, per feature,
//! installs the `tracing` subscriber, the `log` logger and the `metrics` recorder; the guard
//! flushes and shuts down when dropped. [`Init`] adjusts each part (and shows how to add the
//! `tracing` layer to a subscriber of your own).
//!
//! ```no_run
//! fn main() -> Result<(), otlp::InitError> {
//!     let _guard = otlp::init()?;
//!     // `tracing` spans and events, `log` records, `metrics` macros: exported, correlated.
//!     Ok(())
//! }
//! ```
//!
//! # Feature flags
//!
//! | feature | what it adds |
//! |---|---|
//! | *(none)* | traces, metrics, logs and events, the export pipeline, the exporter, propagation, resource detection, [`init`] |
//! | `http` (default) | OTLP/HTTP with protobuf bodies ([`Protocol::HttpProtobuf`], the specification's default) over HTTP/1.1 |
//! | `json` | OTLP/JSON: protocol `http/json` ([`Protocol::HttpJson`], with `http`) and `otlp_proto`'s JSON codec (`Message::to_json`, `from_json`). Off by default, as http/protobuf is the default protocol and the codec is compile time spent for nothing without it. Without it, `http/json` (in code or `OTEL_EXPORTER_OTLP_PROTOCOL`/`OTEL_EXPORTER_OTLP_*_PROTOCOL`) is a configuration error naming the feature |
//! | `grpc` | OTLP/gRPC ([`Protocol::Grpc`]; HTTP/2 through h2, which OTLP/HTTP then also negotiates over TLS). A protocol whose feature is off is a configuration error naming it |
//! | `tls` | `https` endpoints: TLS and mutual TLS (rustls with the aws-lc-rs provider, which offers the post-quantum X25519MLKEM768 key exchange first; a C and assembly build of its own; system roots or a CA file, client certificates). Without it, an `https` endpoint is a configuration error naming the feature |
//! | `gzip` | gzip request bodies ([`Compression::Gzip`]; flate2, pure Rust) |
//! | `zstd` | zstd request bodies ([`Compression::Zstd`]; the zstd C library, a C build of its own). Without it, a zstd compression (in code or `OTEL_EXPORTER_OTLP_COMPRESSION=zstd`) is a configuration error naming the feature |
//! | `profiles` | `otlp::profile`: the in-process continuous profiler (crate `otlp-profiler`): CPU (per-thread CPU timers), heap and allocations (`SamplingAllocator`), lock contention, off-CPU time and thread snapshots, each sample linked to its span; `client.export_profile(profile)` (now) or `client.send_profile(profile)` (through the profiles pipeline), `ContinuousProfiler`, pprof and flame graphs |
//! | `tracing` | `otlp::tracing`: the [`tracing`](https://docs.rs/tracing) bridge, a `tracing_subscriber` layer (crate `otlp-tracing`) |
//! | `log` | `otlp::log`: the [`log`](https://docs.rs/log) bridge, a `log::Log` exporting records as OTLP log records correlated with the current span (crate `otlp-log`) |
//! | `tower` | `otlp::tower`: [`tower`](https://docs.rs/tower) layers for HTTP and gRPC servers and clients (axum, hyper, tonic): spans by the HTTP and RPC conventions, W3C context extracted and injected, `http.server.request.duration`/`http.client.request.duration` and the RPC histograms; the pre-1.44 RPC names too with `OTEL_SEMCONV_STABILITY_OPT_IN=rpc/dup` (crate `otlp-tower`) |
//! | `axum` | `tower`, with `http.route` from axum's `MatchedPath` |
//! | `reqwest` | `tower`, with `OtlpReqwestMiddleware` for reqwest clients through `reqwest-middleware` |
//! | `metrics-rs` | `otlp::metrics_rs`: the [`metrics`](https://docs.rs/metrics) bridge, a recorder that exports what `metrics::counter!`, `gauge!` and `histogram!` record through this SDK's instruments (crate `otlp-metrics-rs`) |
//! | `arrow` | OTLP/Arrow (OTAP) export: [`Protocol::Otap`] (`OTEL_EXPORTER_OTLP_PROTOCOL=otap`) streams the pipelines' traces, logs and metrics as Arrow batches to an OTAP receiver (the Collector's `otelarrowreceiver`), falling back to OTLP/gRPC where the server has no OTAP; `otlp::arrow` holds the protocol (wire messages, encoders and decoders) |
//!
//! Metrics are [`otlp::metrics`](metrics) (no feature): `client.meter("scope")` makes counters,
//! up-down counters, histograms (explicit or base-2 exponential), gauges and observable
//! instruments; views, exemplars, cardinality limits and a periodic reader exporting through the
//! client's transport come with them:
//!
//! ```no_run
//! # async fn demo() -> Result<(), otlp::OtlpError> {
//! use otlp::metrics::KeyValue;
//! let client = otlp::OtlpClient::new(otlp::ClientConfig::new()).await?;
//! let meter = client.meter("checkout");
//! let orders = meter.u64_counter("orders").with_unit("{order}").build();
//! orders.add(1, &[KeyValue::new("payment.method", "card")]);
//! let latency = meter.f64_histogram("http.server.request.duration").with_unit("s").build();
//! latency.record(0.042, &[KeyValue::new("http.route", "/cart")]);
//! client.shutdown(std::time::Duration::from_secs(5)).await?;
//! # Ok(())
//! # }
//! ```
//!
//! # The crates behind it
//!
//! `otlp` re-exports `otlp-sdk` (the SDK core: everything above but the features) and, per
//! feature, `otlp-profiler`, `otlp-tracing`, `otlp-log`, `otlp-tower`, `otlp-metrics-rs` and `otlp-otap`;
//! wire types and codecs are [`otlp_proto`]. Its own code is [`init`], which knows the features.
//! Depending on `otlp` alone is enough: the others are implementation crates.
//!
//!
//! An [`Exporter`] sends OTLP export requests to a collector over one of the three OTLP
//! transports ([`Protocol`]): gRPC, OTLP/HTTP with protobuf bodies (the default), or OTLP/HTTP
//! with JSON bodies (feature `json`) (or, with the `arrow` feature, OTLP/Arrow streams: `Protocol::Otap`); with
//! gzip or zstd compression, TLS (system roots or a CA file, and client
//! certificates for mutual TLS), custom headers, a timeout, and retries as the specification
//! describes them. The message types and their codecs come from [`otlp_proto`].
//!
//! # The exporter
//!
//! ```no_run
//! use otlp::otlp_proto::collector::ExportTraceServiceRequest;
//! use otlp::{Compression, Exporter, ExporterConfig, Protocol};
//! use std::time::Duration;
//!
//! # async fn demo() -> Result<(), otlp::Error> {
//! // Start from the OTEL_EXPORTER_OTLP_* variables; what is set in code wins over them.
//! let config = ExporterConfig::from_env()?
//!     .with_protocol(Protocol::Grpc)
//!     .with_endpoint("https://collector.example.com:4317")
//!     .with_compression(Compression::Gzip)
//!     .with_header("x-api-key", "secret")
//!     .with_timeout(Duration::from_secs(5));
//! let exporter = Exporter::new(config)?;
//!
//! let outcome = exporter.export(&ExportTraceServiceRequest::default()).await?;
//! println!("accepted after {} attempt(s), {} spans rejected", outcome.attempts, outcome.rejected);
//! # Ok(())
//! # }
//! ```
//!
//! # Traces
//!
//! An [`OtlpClient`] puts the pieces together: the exporter, the resource, a sampler, span
//! limits and one batching [`pipeline`] per signal, shared by every instrumentation scope (one
//! traces pipeline per client, whatever the number of tracers). Its [`trace::Tracer`]s start
//! spans; a span is exported when it ends (or is dropped). Dropping the last clone of a client
//! exports what it queued (bounded by the export timeout), in or out of an async runtime. See
//! [`trace`] for the details.
//!
//! ```no_run
//! use otlp::trace::{SpanKind, Status};
//! use otlp::{ClientConfig, OtlpClient};
//! use std::time::Duration;
//!
//! # async fn demo() -> Result<(), otlp::Error> {
//! // Exporter, resource, sampler, limits and batching from the environment (OTEL_*).
//! let client = OtlpClient::new(ClientConfig::new()).await?;
//! let tracer = client.tracer("checkout");
//!
//! let mut span = tracer
//!     .span_builder("GET /cart")
//!     .with_kind(SpanKind::Server)
//!     .with_attribute("http.request.method", "GET")
//!     .start();
//! {
//!     let _current = span.enter(); // spans started here are children of `span`
//!     tracer.in_span("load cart", |child| child.set_attribute("cart.items", 3i64));
//! }
//! span.set_status(Status::Ok);
//! span.end();
//!
//! client.shutdown(Duration::from_secs(5)).await?;
//! # Ok(())
//! # }
//! ```
//!
//! # Logs and events
//!
//! The same client sends log records and events, correlated with the current span; see
//! [`logs`] for the details.
//!
//! ```no_run
//! use otlp::logs::{EventBuilder, LogBuilder, LogSeverity};
//! use otlp::{ClientConfig, OtlpClient, OtlpError};
//! use serde_json::json;
//!
//! # async fn demo() -> Result<(), OtlpError> {
//! let client = OtlpClient::new(ClientConfig::new()).await?;
//! // `.await?` gives an error when the record was dropped (queue full, client shut down);
//! // without it, the send is fire-and-forget.
//! client
//!     .send_log(
//!         LogBuilder::new()
//!             .with_severity(LogSeverity::Info)
//!             .with_body_map(json!({ "msg": "cart loaded", "items": 3 }))
//!             .build(),
//!     )
//!     .await?;
//! client.send_event(
//!     EventBuilder::new("order.created")
//!         .with_domain("ecommerce")
//!         .with_attribute("order.id", 1234i64)
//!         .build(),
//! );
//! # Ok(())
//! # }
//! ```
//!
//! # Propagation, context, the global client and self-observability
//!
//! - [`context`] is what is current on a thread: the span context and baggage, carried across
//!   `.await` by [`FutureExt`](context::FutureExt), and a per-thread current-span slot that a
//!   signal handler may read ([`context::current_span_ids`]). [`clock`] is the one clock every
//!   timestamp comes from.
//! - [`OtlpClient::inject`] writes the current context — the span context and the W3C
//!   [`Baggage`](trace::propagation::Baggage), both part of what is current on a thread — into
//!   outgoing headers; [`OtlpClient::extract`] reads an incoming one, which
//!   [`Context::attach`](trace::propagation::Context::attach) makes current. The propagators
//!   come from `OTEL_PROPAGATORS` unless [`ClientConfig::with_propagator`] sets them.
//! - [`global`] holds one process-wide client for libraries to get tracers from.
//! - [`ClientConfig::with_self_metrics`] exports the pipelines' own `otel.sdk.*` metrics as
//!   observable instruments, with the application's metrics.
//!
//! # Configuration
//!
//! [`ExporterConfig`] is a builder; [`ExporterConfig::from_env`] reads every `OTEL_EXPORTER_OTLP_*`
//! variable of the specification, generic and per signal, and `OTEL_SDK_DISABLED`. Its docs give
//! the precedence and endpoint rules; [`ExporterConfig::resolve`] shows their result for a signal.
//!
//! # Runtimes
//!
//! All I/O runs on threads the SDK owns, each with a current-thread tokio runtime of its own:
//! each [`Pipeline`](pipeline::Pipeline)'s worker sends its own requests, and direct
//! [`Exporter::export`] calls go through one I/O thread, started by the first of them. The
//! exporter's routes (endpoints, headers, TLS configuration read once from the certificate
//! files) are built once, in [`Exporter::new`], and every one of those runtimes makes its
//! connections from them. So:
//!
//! - everything works the same under a multi-thread tokio runtime, a current-thread one, any
//!   other executor, or none ([`BlockingExporter`], the `*_blocking` methods): nothing touches
//!   the caller's runtime, so there is no "there is no reactor running" panic, and no call
//!   blocks an executor thread waiting for I/O;
//! - no deadlock is possible: an SDK thread never waits on a caller, and a caller waits only for
//!   a reply that the SDK thread either sends or drops (which ends the wait with an error);
//! - dropping an export future cancels that export;
//! - dropping the last handle of a client (or a pipeline) exports what it queued, waiting up to
//!   the export timeout (at most 5 s) from any context, executor threads included: what it
//!   waits for runs on the SDK's own threads. A client in [`global`] is shut down at process
//!   exit (Unix). Call [`OtlpClient::shutdown`] to choose the deadline and see the outcome.
//!
//! What the SDK's threads do is theirs: [`context::is_sdk_thread`] tells integrations to
//! ignore it, so exporting never feeds itself.
//!
//! # Retries and errors
//!
//! Transient failures — gRPC `UNAVAILABLE` and the other retryable codes, HTTP 429, 502, 503 and
//! 504, connection failures — are retried with jittered exponential backoff ([`RetryPolicy`]),
//! honouring the server's `Retry-After` or `RetryInfo`, and never past the export timeout. A retry
//! sends the very same bytes again. Partial success is not an error: it is reported in the
//! [`ExportOutcome`]. Failures are an [`Error`], which carries the server's status and message.
//!
//! # Pipelines
//!
//! Code that batches and encodes on its own sends with [`Exporter::export_encoded`], given an
//! [`EncodedBody`] in the signal's [`Exporter::encoding`]: the body is then never encoded again,
//! whatever the protocol.

// The guide links items of the optional crates; without their features those links cannot
// resolve. docs.rs and the test command build the docs with every feature, where they must.
#![cfg_attr(
    not(all(
        feature = "tracing",
        feature = "log",
        feature = "metrics-rs",
        feature = "tower",
        feature = "profiles",
        feature = "arrow"
    )),
    allow(rustdoc::broken_intra_doc_links)
)]

mod init;

#[doc(inline)]
pub use otlp_sdk::*;

pub use init::{Init, InitError, InitErrorKind, InitGuard, init, init_with};

/// The in-process continuous profiler (feature `profiles`): see the
/// [`otlp_profiler`](https://docs.rs/otlp-profiler) crate docs, re-exported here whole.
///
/// ```toml
/// otlp = { version = "0.1", features = ["profiles"] }
/// ```
#[cfg(feature = "profiles")]
pub mod profile {
    #[doc(inline)]
    pub use otlp_profiler::*;
}

/// The [`tracing`](https://docs.rs/tracing) bridge (feature `tracing`): `OtlpLayer`, a
/// `tracing_subscriber` layer that records `tracing` spans as OTLP spans and events as span
/// events, log records or measurements. See the `otlp-tracing` crate.
#[cfg(feature = "tracing")]
pub mod tracing {
    #[doc(inline)]
    pub use otlp_tracing::*;
}

/// The [`log`](https://docs.rs/log) bridge (feature `log`): `OtlpLogger`, a `log::Log` that
/// exports records as OTLP log records (severity, body, typed key-values, the target as the
/// instrumentation scope), correlated with the current span. See the `otlp-log` crate.
#[cfg(feature = "log")]
pub mod log {
    #[doc(inline)]
    pub use otlp_log::*;
}

/// [`tower`](https://docs.rs/tower) layers for HTTP and gRPC (feature `tower`; `axum` adds
/// `http.route` from axum's `MatchedPath`): `OtlpServerLayer` for servers (axum, hyper, tonic)
/// and `OtlpClientLayer` for clients, with spans, W3C context propagation and the request
/// duration histograms of the semantic conventions. See the `otlp-tower` crate.
#[cfg(feature = "tower")]
pub mod tower {
    #[doc(inline)]
    pub use otlp_tower::*;
}

/// The [`metrics`](https://docs.rs/metrics) bridge (feature `metrics-rs`): `OtlpRecorder`, a
/// `metrics::Recorder` that records `metrics::counter!`, `gauge!` and `histogram!` into OTLP
/// instruments. See the `otlp-metrics-rs` crate.
#[cfg(feature = "metrics-rs")]
pub mod metrics_rs {
    #[doc(inline)]
    pub use otlp_metrics_rs::*;
}

/// OTLP/Arrow (OTAP) (feature `arrow`): the protocol itself, for code that speaks it
/// directly — the wire messages of the Arrow services and the stateful encoders and decoders
/// between OTLP requests and Arrow IPC streams. Exporting over OTAP needs none of it: choose
/// [`Protocol::Otap`]. See the `otlp-otap` crate.
#[cfg(feature = "arrow")]
pub mod arrow {
    #[doc(inline)]
    pub use otlp_otap::*;
}
