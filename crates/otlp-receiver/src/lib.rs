//! An OTLP receiver: the server side of the OpenTelemetry Protocol, for tests, tools and
//! small collectors.
//!
//! A [`Receiver`] serves the four OTLP signals (traces, metrics, logs and profiles) over both
//! transports the specification defines:
//!
//! - **OTLP/gRPC** on port 4317: HTTP/2 (cleartext with prior knowledge, or TLS with ALPN `h2`),
//!   `grpc-encoding` gzip or zstd, status codes and `RetryInfo` in the trailers;
//! - **OTLP/HTTP** on port 4318: HTTP/1.1 or HTTP/2, `application/x-protobuf` or
//!   `application/json` bodies, `Content-Encoding` gzip or zstd, and error bodies holding a
//!   `google.rpc.Status`.
//!
//! Every request goes through the same steps whatever its signal or transport: its body is read
//! within a size limit, decompressed within the same limit (so a zip bomb costs nothing), decoded
//! without copying its strings and within limits on its items and decoded size (counted while
//! decoding, so a request of millions of empty spans is refused before it costs memory), and
//! handed as a [`Received`] to a [`Sink`]. The sink answers with an [`Ack`] (possibly a partial
//! success) or a [`Refusal`], which the server turns into the status code each transport expects.
//!
//! The gRPC listener also serves OTLP/Arrow (OTAP): the `ArrowTracesService`,
//! `ArrowLogsService` and `ArrowMetricsService` bidirectional streams of the otel-arrow
//! project. Each stream keeps its own Arrow decoder state (bounded per stream, see
//! [`ReceiverBuilder::with_otap_state_limit`]); each batch is decoded to the same request the
//! OTLP path produces, handed to the same sink (as [`Transport::Otap`]), under the same limits,
//! and answered with a `BatchStatus` once the sink has answered.
//!
//! A memory limiter counts what all requests in flight hold and refuses, with HTTP 429 or gRPC
//! `RESOURCE_EXHAUSTED` and a retry hint, those that would pass it. The limits, their defaults
//! and how to change them are on [`ReceiverBuilder`]; `docs/limits.md` in the repository says
//! what the receiver guarantees under bad input and overload.
//!
//! Slow, idle and numerous clients are bounded too, each limit set on [`ReceiverBuilder`]: a
//! client has 10 seconds to send a complete request head (from connecting, TLS handshake
//! included), or is disconnected; 30 seconds from the head to send the whole body, or is answered
//! HTTP `408` / gRPC `DEADLINE_EXCEEDED`; and a connection with no request in progress is closed
//! after 60 seconds (HTTP/2 with a GOAWAY). At most 1024 connections are open at a time: a new
//! one at the limit evicts the connection idle the longest, so a crowd of idle or trickling
//! connections cannot lock out a client that sends its requests.
//!
//! Sinks included:
//!
//! - [`MemorySink`] keeps everything in memory, for assertions in tests;
//! - [`JsonLinesSink`] appends each request as one line of OTLP/JSON to a file per signal, the
//!   shape the Collector's file exporter writes;
//! - [`ScriptedSink`] plays a script of refusals, delays and partial successes in front of another
//!   sink, to test how an exporter copes with a misbehaving server.
//!
//! # Example
//!
//! Start a receiver on free ports, and wait for spans to arrive:
//!
//! ```
//! use std::time::Duration;
//! use otlp_proto::Signal;
//! use otlp_receiver::Receiver;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
//! # rt.block_on(async {
//! // Both transports on free loopback ports, what arrives kept in memory; for anything else
//! // (addresses, TLS, limits, another sink), `Receiver::builder()`.
//! let (receiver, sink) = Receiver::start_in_memory().await?;
//!
//! let endpoint = format!("http://{}/v1/traces", receiver.http_addr().expect("HTTP is on"));
//! // ... point an exporter at `endpoint`, then:
//! let arrived = sink.wait_for_items(Signal::Traces, 1, Duration::from_millis(10)).await;
//! assert!(!arrived, "nothing was sent to {endpoint}");
//!
//! receiver.shutdown().await;
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! # })
//! # }
//! ```
//!
//! # Writing a sink
//!
//! A sink is called once per decoded request, on the server's runtime, so it must not block for
//! long. To simulate a slow server, return a duration from [`Sink::delay`]: the server sleeps
//! asynchronously before calling [`Sink::consume`].
//!
//! ```
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! use otlp_receiver::{Ack, Received, Refusal, Sink};
//!
//! /// Accepts the first hundred spans, then asks clients to back off.
//! #[derive(Default)]
//! struct Quota(AtomicUsize);
//!
//! impl Sink for Quota {
//!     fn consume(&self, received: Received) -> Result<Ack, Refusal> {
//!         let items = received.request.item_count();
//!         if self.0.fetch_add(items, Ordering::Relaxed) + items > 100 {
//!             return Err(Refusal::resource_exhausted("quota exceeded"));
//!         }
//!         Ok(Ack::ok())
//!     }
//! }
//! ```

mod body;
mod builder;
mod error;
mod failure;
mod memory;
mod reply;
mod running;
mod server;
mod sink;
mod summary;
mod tls;

use std::fmt;

pub use builder::{Receiver, ReceiverBuilder};
pub use error::Error;
pub use running::RunningReceiver;
pub use sink::{Ack, JsonLinesSink, MemorySink, Refusal, RefusalKind, ScriptedSink, Sink};
pub use summary::RequestSummary;
pub use tls::TlsConfig;

/// The transport a request arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// OTLP/gRPC.
    Grpc,
    /// OTLP/HTTP.
    Http,
    /// OTLP/Arrow (OTAP): one batch of an Arrow stream, on the gRPC listener.
    Otap,
}

impl Transport {
    /// `grpc`, `http` or `otap`.
    pub const fn name(self) -> &'static str {
        match self {
            Transport::Grpc => "grpc",
            Transport::Http => "http",
            Transport::Otap => "otap",
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One decoded export request, as a [`Sink`] receives it.
#[derive(Debug, Clone)]
pub struct Received {
    /// The request. Its strings share the buffer the body was read into.
    pub request: otlp_proto::Request,
    /// The transport it arrived on.
    pub transport: Transport,
    /// Protobuf (always, for gRPC and OTAP, whose batch envelope is protobuf) or JSON.
    pub encoding: otlp_proto::Encoding,
    /// The compression of the body as received. For gRPC this is the compression of the message
    /// itself: a message sent uncompressed under `grpc-encoding: gzip` counts as uncompressed.
    /// For OTAP, the compression of the batch's gRPC message (the Arrow tables inside may be
    /// compressed too, and are not counted here).
    pub compression: otlp_proto::Compression,
    /// Size of the body as received, before decompression (for gRPC, including the 5-byte
    /// message prefix; for OTAP, the batch's gRPC message, prefix included).
    pub wire_bytes: usize,
    /// The request headers (for gRPC, the metadata; for OTAP, the stream's).
    pub headers: http::HeaderMap,
}
