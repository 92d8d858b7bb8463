//! Deferred frames: a span context made current by reference, looked up only when asked for.

use super::stack::{ContextGuard, FrameSpan, push_keeping_baggage};
use crate::trace::SpanContext;

/// Where the span contexts of an integration's deferred frames are looked up
/// ([`attach_deferred`]): `otlp-tracing` keeps its spans in the `tracing` registry, and
/// implements this for the registry it registered with.
///
/// `resolve` must give the same answer for the same `id` while a frame made with it is on a
/// stack; `None` when the span has no context (it was not recorded), and the frame is then
/// passed over (the context below it is current). It may be called on any thread that pushed
/// such a frame, whenever something asks for the current context, and must not panic.
pub trait ResolveSpan: Sync {
    /// The span context of span `id`, if it has one.
    fn resolve(&self, id: u64) -> Option<SpanContext>;
}

/// Makes the span context that `source.resolve(id)` gives current on this thread until the
/// guard drops (keeping the current baggage), looking it up only when something asks for the
/// current context: a span started, [`SpanContext::current`], a future made to carry the
/// context, or, while [tracked](super::track_current_span), the signal slot.
///
/// For integrations whose spans live elsewhere: entering one (on every poll of an instrumented
/// future) then costs a push, with no lookup, no allocation and no reference count.
#[inline]
pub fn attach_deferred(source: &'static dyn ResolveSpan, id: u64) -> ContextGuard {
    push_keeping_baggage(FrameSpan::Deferred {
        source,
        id,
        ids: None,
    })
}
