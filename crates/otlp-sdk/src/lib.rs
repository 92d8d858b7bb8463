//! The SDK core of [`otlp`](https://docs.rs/otlp): the client, tracers and spans, loggers and
//! events, the current context, the export pipeline, the exporter and its transport.
//!
//! Applications and libraries depend on the `otlp` crate, which re-exports everything here and
//! adds, behind its features, the profiler and the ecosystem bridges; its documentation is the
//! guide. This crate exists so that those optional pieces (the profiler's signal handler and
//! allocator, the `tracing` bridge) can build on the SDK without the SDK depending on them.

mod blocking;
mod body;
mod buffers;
mod client;
pub mod clock;
pub mod config;
pub mod context;
mod error;
mod exporter;
pub mod global;
mod hub;
pub mod logs;
pub mod metrics;
pub mod pipeline;
pub mod profiles;
pub mod resource;
mod retry;
mod scopes;
mod thread;
pub mod trace;
mod transport;

pub use blocking::BlockingExporter;
pub use body::EncodedBody;
pub use client::{ClientConfig, OtlpClient};
pub use config::{ExporterConfig, Protocol, SignalConfig};
pub use error::{Error, OtlpError, Status};
pub use exporter::Exporter;
pub use retry::RetryPolicy;
pub use transport::ExportOutcome;

pub use otlp_proto;
pub use otlp_proto::{Compression, Encoding, ExportRequest, Request, Signal};
