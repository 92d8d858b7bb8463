//! Traces: tracers, spans, sampling, limits and the current span context.
//!
//! A [`Tracer`] (from [`OtlpClient::tracer`](crate::OtlpClient::tracer)) starts spans through a
//! [`SpanBuilder`]. The [`Sampler`] decides at start whether a span records; a recording span
//! fills a compact record (ids inline, attributes pushed as they come) taken from a pool, and on
//! end (or drop) enqueues it into the client's one traces [`Pipeline`](crate::pipeline::Pipeline)
//! (shared by all its tracers); the pipeline's worker applies the [`SpanLimits`], encodes the
//! record straight into the request and returns it to the pool, so a span costs no allocation
//! at steady state. A span the sampler dropped carries only its [`SpanContext`] and does
//! nothing else.
//!
//! The current context (span context and baggage, per thread) is [`crate::context`]:
//! [`Span::enter`] and [`SpanContext::attach`] make a span context current, spans started
//! without an explicit parent take it as parent, and [`FutureExt::with_context`] carries a
//! context across `.await`. [`propagation`] reads and writes the W3C `traceparent`,
//! `tracestate` and `baggage` headers, in HTTP headers or any other carrier.

pub(crate) mod component;
mod context;
pub(crate) mod export;
mod id;
mod id_conv;
mod limits;
pub mod propagation;
pub(crate) mod record;
mod sampler;
mod span;
pub(crate) mod tracer;

pub use crate::context::{ContextGuard, FutureExt, WithSpanContext};
pub use context::{MAX_TRACE_STATE_ENTRIES, SpanContext, TraceFlags, TraceState};
pub use id::{ParseIdError, SpanId, TraceId};
pub use limits::SpanLimits;
pub use sampler::{
    CustomSampler, Sampler, SamplingDecision, SamplingParams, SamplingResult, ShouldSample,
};
pub use span::{Link, Span, Status};
pub use tracer::{SpanBuilder, SpanKind, Tracer};
