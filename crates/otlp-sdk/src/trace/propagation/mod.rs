//! Context propagation: reading and writing trace context and baggage in carriers such as HTTP
//! headers.
//!
//! - [`inject`] and [`extract`] read and write the W3C `traceparent` and `tracestate` headers
//!   of an [`http::HeaderMap`] directly.
//! - A [`TextMapPropagator`] works on any carrier through the [`Injector`] and [`Extractor`]
//!   traits (implemented for [`http::HeaderMap`] and `HashMap<String, String>`), and on a
//!   [`Context`]: the [`SpanContext`] plus the [`Baggage`].
//! - [`TraceContextPropagator`] (W3C Trace Context), [`BaggagePropagator`] (W3C Baggage) and
//!   [`CompositePropagator`] (several in turn) are the propagators;
//!   [`propagators_from_env`] builds the composite `OTEL_PROPAGATORS` names.
//!
//! A [`Context`] is also what is *current* on a thread: [`Context::current`] and
//! [`Context::attach`] read and set the span context and the baggage together,
//! [`Baggage::current`] the baggage alone. [`OtlpClient::inject`](crate::OtlpClient::inject)
//! writes the current context with the client's propagator, and
//! [`OtlpClient::extract`](crate::OtlpClient::extract) reads one to attach.

mod baggage;
mod carrier;
mod composite;
mod traceparent;

pub use baggage::{Baggage, BaggagePropagator, MAX_BAGGAGE_BYTES, MAX_BAGGAGE_ENTRIES};
pub use carrier::{Extractor, Injector};
pub use composite::{CompositePropagator, propagators_from_env};
pub use traceparent::{TRACEPARENT, TRACESTATE, TraceContextPropagator, extract, inject};

use super::SpanContext;
use std::fmt;

/// What a propagator carries across a process boundary: the span context and the baggage.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Context {
    /// The span context; [`SpanContext::INVALID`] when none was found.
    pub span: SpanContext,
    /// The baggage; empty when none was found.
    pub baggage: Baggage,
}

impl Context {
    /// A context with this span context and baggage.
    pub fn new(span: SpanContext, baggage: Baggage) -> Context {
        Context { span, baggage }
    }

    /// A context with this span context and no baggage.
    pub fn from_span(span: SpanContext) -> Context {
        Context {
            span,
            baggage: Baggage::new(),
        }
    }
}

impl From<SpanContext> for Context {
    fn from(span: SpanContext) -> Context {
        Context::from_span(span)
    }
}

/// Writes a [`Context`] into a carrier and reads it back.
///
/// Propagators never fail: what they cannot read is ignored, what they cannot write is skipped.
pub trait TextMapPropagator: Send + Sync + fmt::Debug {
    /// Writes the parts of `context` this propagator handles into `injector`.
    fn inject(&self, context: &Context, injector: &mut dyn Injector);

    /// Reads the parts this propagator handles from `extractor` into a copy of `context`,
    /// keeping the other parts.
    fn extract_with_context(&self, context: &Context, extractor: &dyn Extractor) -> Context;

    /// Reads a context from `extractor`: what is missing or invalid is left empty.
    fn extract(&self, extractor: &dyn Extractor) -> Context {
        self.extract_with_context(&Context::default(), extractor)
    }

    /// The carrier keys this propagator writes and reads.
    fn fields(&self) -> &[&'static str];
}
