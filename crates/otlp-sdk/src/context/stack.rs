//! The per-thread stack of current contexts (span context and baggage), and its guard.

use super::deferred::ResolveSpan;
use super::signal::{self, SpanIds};
use crate::trace::SpanContext;
use crate::trace::propagation::{Baggage, Context as PropagatedContext};
use std::cell::{Cell, RefCell};
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

/// One entry of the stack: the span context and the baggage current together. The baggage is
/// shared, so that entering a span (which keeps the baggage) costs no allocation.
#[derive(Clone)]
pub(super) struct Frame {
    pub(super) span: FrameSpan,
    pub(super) baggage: Option<Arc<Baggage>>,
}

/// The span part of a frame: a span context, or one looked up only when asked for.
#[derive(Clone)]
pub(super) enum FrameSpan {
    Known(SpanContext),
    /// Made by [`attach_deferred`](super::attach_deferred): `source.resolve(id)` gives the
    /// span context, `None` when there is none, and the frame is then passed over (the one
    /// below counts).
    Deferred {
        source: &'static dyn ResolveSpan,
        id: u64,
        /// The ids current while this frame is on top, found at its push when the signal slot
        /// was tracked then (`None`: not looked up).
        ids: Option<Option<SpanIds>>,
    },
}

impl fmt::Debug for FrameSpan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameSpan::Known(context) => f.debug_tuple("Known").field(context).finish(),
            FrameSpan::Deferred { id, .. } => f.debug_struct("Deferred").field("id", id).finish(),
        }
    }
}

impl FrameSpan {
    /// The span context; `None` for a deferred one that has none.
    fn resolve(self) -> Option<SpanContext> {
        match self {
            FrameSpan::Known(context) => Some(context),
            FrameSpan::Deferred { source, id, .. } => source.resolve(id),
        }
    }

    /// The ids current while this frame is on top, if known without a lookup.
    fn known_ids(&self) -> Option<Option<SpanIds>> {
        match self {
            FrameSpan::Known(context) => Some(SpanIds::of(context)),
            FrameSpan::Deferred { ids, .. } => *ids,
        }
    }
}

impl Frame {
    pub(super) fn from_context(context: PropagatedContext) -> Frame {
        let baggage = (!context.baggage.is_empty()).then(|| Arc::new(context.baggage));
        Frame {
            span: FrameSpan::Known(context.span),
            baggage,
        }
    }

    pub(super) fn to_context(&self) -> PropagatedContext {
        PropagatedContext::new(
            self.span.clone().resolve().unwrap_or(SpanContext::INVALID),
            self.baggage.as_deref().cloned().unwrap_or_default(),
        )
    }
}

thread_local! {
    static STACK: RefCell<Vec<Frame>> = const { RefCell::new(Vec::new()) };
    /// The stack's depth, kept beside it: a `Cell` with nothing to drop is a plain
    /// thread-local read, so a span started with no current context (a root) learns so
    /// without the stack's lazy-registration check and borrow.
    static DEPTH: Cell<usize> = const { Cell::new(0) };
}

/// Pushes `frame` on `stack`, giving back the depth before.
fn push_on(stack: &mut Vec<Frame>, frame: Frame) -> usize {
    let depth = stack.len();
    stack.push(frame);
    DEPTH.set(stack.len());
    depth
}

/// The ids to publish in the signal slot for `span` once it is on top, when the slot is
/// tracked (looking a deferred frame up now, and noting the result in it); `None` when it is
/// not tracked.
#[inline]
fn track(span: &mut FrameSpan) -> Option<Option<SpanIds>> {
    if !signal::tracking() {
        return None;
    }
    Some(track_slow(span))
}

#[cold]
fn track_slow(span: &mut FrameSpan) -> Option<SpanIds> {
    match span {
        FrameSpan::Known(context) => SpanIds::of(context),
        FrameSpan::Deferred { source, id, ids } => {
            let found = match source.resolve(*id) {
                Some(context) => SpanIds::of(&context),
                // Passed over: the context below stays current.
                None => current_ids(),
            };
            *ids = Some(found);
            found
        }
    }
}

/// The ids of the current span context, from the top frame when it knows them, else looked
/// up (before the stack is borrowed again: a lookup runs an integration's code).
pub(super) fn current_ids() -> Option<SpanIds> {
    if DEPTH.get() == 0 {
        return None;
    }
    let known = STACK
        .try_with(|s| s.borrow().last().map(|f| f.span.known_ids()))
        .ok()
        .flatten()
        .flatten();
    match known {
        Some(ids) => ids,
        None => current_span().and_then(|c| SpanIds::of(&c)),
    }
}

/// Pushes `frame`, giving back the guard that pops it.
pub(super) fn push(frame: Frame) -> ContextGuard {
    let Frame { span, baggage } = frame;
    push_with(span, move |_| baggage)
}

/// Pushes a frame of `span` with the current baggage, in one thread-local access (this is the
/// path of every `Span::enter` and every entered `tracing` span).
pub(super) fn push_keeping_baggage(span: FrameSpan) -> ContextGuard {
    push_with(span, |stack| stack.last().and_then(|f| f.baggage.clone()))
}

/// Pushes a frame of `span` with the baggage `baggage` picks from the stack as it is, and
/// publishes the new top in the signal slot when it is tracked.
#[inline]
fn push_with(
    mut span: FrameSpan,
    baggage: impl FnOnce(&[Frame]) -> Option<Arc<Baggage>>,
) -> ContextGuard {
    let tracked = track(&mut span);
    let depth = STACK
        .try_with(|s| {
            let mut s = s.borrow_mut();
            let baggage = baggage(&s);
            push_on(&mut s, Frame { span, baggage })
        })
        .unwrap_or(0);
    if let Some(ids) = tracked {
        signal::publish(ids);
    }
    ContextGuard {
        depth,
        _not_send: PhantomData,
    }
}

/// The baggage current on this thread, shared.
pub(super) fn current_baggage() -> Option<Arc<Baggage>> {
    STACK
        .try_with(|s| s.borrow().last().and_then(|f| f.baggage.clone()))
        .ok()
        .flatten()
}

/// The current frame, its span context looked up: what a future carries to other threads.
pub(super) fn current_frame() -> Frame {
    Frame {
        span: FrameSpan::Known(current_span().unwrap_or(SpanContext::INVALID)),
        baggage: current_baggage(),
    }
}

/// The current span context: the top frame's, looked up if deferred (passing over deferred
/// frames that have none). `None` when the stack is empty.
pub(super) fn current_span() -> Option<SpanContext> {
    let mut depth = DEPTH.get();
    while depth > 0 {
        // The frame is copied out before a lookup, which may run code of an integration.
        let span = STACK
            .try_with(|s| s.borrow().get(depth - 1).map(|f| f.span.clone()))
            .ok()
            .flatten()?;
        match span.resolve() {
            Some(context) => return Some(context),
            None => depth -= 1,
        }
    }
    None
}

/// Whether no context is current on this thread (one thread-local read): then no span is.
#[inline]
pub(crate) fn is_empty() -> bool {
    DEPTH.get() == 0
}

/// The current span context if it is valid: the implicit parent of a new span.
#[inline]
pub(crate) fn current_parent() -> Option<SpanContext> {
    if DEPTH.get() == 0 {
        return None;
    }
    current_span().filter(SpanContext::is_valid)
}

/// Keeps a context current on this thread; dropping it restores the previous one. Not
/// `Send`: it must be dropped on the thread that made it. Guards should be dropped in reverse
/// order of creation; dropping an outer guard first also ends the inner ones.
#[must_use = "the context is current only while the guard lives"]
pub struct ContextGuard {
    depth: usize,
    _not_send: PhantomData<*const ()>,
}

impl fmt::Debug for ContextGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContextGuard")
            .field("depth", &self.depth)
            .finish()
    }
}

impl Drop for ContextGuard {
    fn drop(&mut self) {
        let _ = STACK.try_with(|s| {
            let mut s = s.borrow_mut();
            s.truncate(self.depth);
            DEPTH.set(s.len());
        });
        if signal::tracking() {
            // After the borrow: the new top may be a deferred frame pushed before tracking
            // started, whose lookup runs an integration's code.
            signal::publish(current_ids());
        }
    }
}
