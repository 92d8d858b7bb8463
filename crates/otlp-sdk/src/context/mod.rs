//! The current context: the span context and the W3C baggage current on a thread.
//!
//! - **A per-thread stack** of frames (span context and baggage): [`Span::enter`] and
//!   [`SpanContext::attach`] push a span context (keeping the current baggage),
//!   [`propagation::Context::attach`] both, [`Baggage::attach`] a baggage (keeping the
//!   current span context); dropping the [`ContextGuard`] pops. Spans started without an
//!   explicit parent take its top as parent; [`SpanContext::current`] and
//!   [`Baggage::current`] read it.
//! - **Futures**: [`FutureExt::with_context`] makes a context current on every poll, so it
//!   crosses `.await` and threads.
//! - **Deferred frames** ([`attach_deferred`]): an integration whose spans live elsewhere (the
//!   `tracing` registry) pushes a reference to its span, looked up through its
//!   [`ResolveSpan`] only when something asks for the current context.
//! - **The signal slot** ([`current_span_ids`]): the current span's ids in per-thread atomics
//!   that an async-signal handler (a profiler) may read, kept current while a
//!   [`TrackingGuard`] lives.
//! - **SDK threads** ([`is_sdk_thread`]): the threads the SDK starts mark themselves, so that
//!   integrations leave alone the telemetry made on them.
//!
//! [`Span::enter`]: crate::trace::Span::enter
//! [`propagation::Context::attach`]: crate::trace::propagation::Context::attach

mod deferred;
mod future;
mod signal;
mod stack;
#[cfg(test)]
mod tests;
mod thread;

pub use deferred::{ResolveSpan, attach_deferred};
pub use future::{FutureExt, WithSpanContext};
pub use signal::{SpanIds, TrackingGuard, current_span_ids, track_current_span};
pub use stack::ContextGuard;
pub(crate) use stack::{current_parent, is_empty};
pub use thread::{is_sdk_thread, mark_sdk_thread};

use crate::trace::SpanContext;
use crate::trace::propagation::{Baggage, Context as PropagatedContext};
use stack::{Frame, FrameSpan, current_baggage, current_frame, current_span, push};

impl SpanContext {
    /// The span context current on this thread ([`SpanContext::INVALID`] when none is).
    pub fn current() -> SpanContext {
        current_span().unwrap_or(SpanContext::INVALID)
    }

    /// Makes this span context current on this thread until the guard drops, keeping the
    /// current baggage. An invalid context hides the outer span: spans started under it are
    /// roots.
    pub fn attach(self) -> ContextGuard {
        stack::push_keeping_baggage(FrameSpan::Known(self))
    }
}

impl PropagatedContext {
    /// The context current on this thread: span context and baggage (the default, invalid and
    /// empty, when none is).
    pub fn current() -> PropagatedContext {
        current_frame().to_context()
    }

    /// Makes this span context *and* this baggage current on this thread until the guard drops
    /// (an empty baggage hides the outer one), for instance a context just
    /// [extracted](crate::trace::propagation::TextMapPropagator::extract) from a request.
    pub fn attach(self) -> ContextGuard {
        push(Frame::from_context(self))
    }
}

impl Baggage {
    /// The baggage current on this thread (empty when none is).
    pub fn current() -> Baggage {
        current_baggage().as_deref().cloned().unwrap_or_default()
    }

    /// Makes this baggage current on this thread, with the current span context, until the
    /// guard drops.
    pub fn attach(self) -> ContextGuard {
        let span = SpanContext::current();
        push(Frame::from_context(PropagatedContext::new(span, self)))
    }
}
