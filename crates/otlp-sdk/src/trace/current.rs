//! The current context — span context and baggage — as a per-thread stack, and a future
//! wrapper that carries a context across `.await`.

use super::context::SpanContext;
use super::propagation::{Baggage, Context as PropagatedContext};
use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// One entry of the stack: the span context and the baggage current together. The baggage is
/// shared, so that entering a span (which keeps the baggage) costs no allocation.
#[derive(Clone)]
struct Frame {
    span: FrameSpan,
    baggage: Option<Arc<Baggage>>,
}

/// The span part of a frame: a span context, or one looked up only when asked for.
#[derive(Clone, Debug)]
enum FrameSpan {
    Known(SpanContext),
    /// Made by [`attach_deferred`]: `resolve(id, context)` gives the span context, `None`
    /// when there is none, and the frame is then passed over (the one below counts).
    Deferred {
        id: u64,
        context: usize,
        resolve: Resolve,
    },
}

impl FrameSpan {
    /// The span context; `None` for a deferred one that has none.
    fn resolve(self) -> Option<SpanContext> {
        match self {
            FrameSpan::Known(context) => Some(context),
            FrameSpan::Deferred {
                id,
                context,
                resolve,
            } => resolve(id, context),
        }
    }
}

impl Frame {
    fn from_context(context: PropagatedContext) -> Frame {
        let baggage = (!context.baggage.is_empty()).then(|| Arc::new(context.baggage));
        Frame {
            span: FrameSpan::Known(context.span),
            baggage,
        }
    }

    fn to_context(&self) -> PropagatedContext {
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

/// Pushes `frame`, giving back the depth to truncate to.
fn push(frame: Frame) -> ContextGuard {
    let depth = STACK
        .try_with(|s| push_on(&mut s.borrow_mut(), frame))
        .unwrap_or(0);
    ContextGuard {
        depth,
        _not_send: PhantomData,
    }
}

/// The baggage current on this thread, shared.
fn current_baggage() -> Option<Arc<Baggage>> {
    STACK
        .try_with(|s| s.borrow().last().and_then(|f| f.baggage.clone()))
        .ok()
        .flatten()
}

/// The current frame, its span context looked up: what a future carries to other threads.
fn current_frame() -> Frame {
    let baggage = STACK
        .try_with(|s| s.borrow().last().and_then(|f| f.baggage.clone()))
        .ok()
        .flatten();
    Frame {
        span: FrameSpan::Known(current_span().unwrap_or(SpanContext::INVALID)),
        baggage,
    }
}

/// The current span context: the top frame's, looked up if deferred (passing over deferred
/// frames that have none). `None` when the stack is empty.
fn current_span() -> Option<SpanContext> {
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
    }
}

impl SpanContext {
    /// The span context current on this thread ([`SpanContext::INVALID`] when none is).
    pub fn current() -> SpanContext {
        current_span().unwrap_or(SpanContext::INVALID)
    }

    /// Makes this span context current on this thread until the guard drops, keeping the
    /// current baggage. An invalid context hides the outer span: spans started under it are
    /// roots.
    pub fn attach(self) -> ContextGuard {
        push_keeping_baggage(FrameSpan::Known(self))
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
    /// [extracted](super::propagation::TextMapPropagator::extract) from a request.
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

/// The current span context if it is valid: the implicit parent of a new span.
#[inline]
pub(crate) fn current_parent() -> Option<SpanContext> {
    if DEPTH.get() == 0 {
        return None;
    }
    current_span().filter(SpanContext::is_valid)
}

/// How [`attach_deferred`] looks a span context up: from the span's `id` and the caller's
/// `context` word.
pub type Resolve = fn(id: u64, context: usize) -> Option<SpanContext>;

/// Makes the span context that `resolve(id, context)` gives current on this thread until the
/// guard drops (keeping the current baggage), looking it up only when something asks for the
/// current context: a span started, [`SpanContext::current`], a future made to carry the
/// context.
///
/// For integrations whose spans live elsewhere: `otlp-tracing` keeps its spans in the
/// `tracing` registry, and entering one (on every poll of an instrumented future) then costs a
/// push rather than a lookup. `context` is the integration's to use (which registry, say).
/// `resolve` must give the same answer for the same arguments while the guard lives; when it
/// gives `None`, the frame is passed over and the context below it is current.
pub fn attach_deferred(id: u64, context: usize, resolve: Resolve) -> ContextGuard {
    push_keeping_baggage(FrameSpan::Deferred {
        id,
        context,
        resolve,
    })
}

/// Pushes a frame of `span` with the current baggage, in one thread-local access (this is the
/// path of every `Span::enter` and every entered `tracing` span).
fn push_keeping_baggage(span: FrameSpan) -> ContextGuard {
    let depth = STACK
        .try_with(|s| {
            let mut s = s.borrow_mut();
            let baggage = s.last().and_then(|f| f.baggage.clone());
            push_on(&mut s, Frame { span, baggage })
        })
        .unwrap_or(0);
    ContextGuard {
        depth,
        _not_send: PhantomData,
    }
}

/// A future that makes a context (span context and baggage) current on every poll, so that
/// spans started inside it, on whichever thread polls it, have that parent and see that
/// baggage. Made by [`FutureExt::with_context`].
pub struct WithSpanContext<F> {
    inner: Pin<Box<F>>,
    context: Frame,
}

impl<F> fmt::Debug for WithSpanContext<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WithSpanContext")
            .field("context", &self.context.span)
            .field("baggage", &self.context.baggage)
            .finish_non_exhaustive()
    }
}

impl<F: Future> Future for WithSpanContext<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        let _guard = push(this.context.clone());
        this.inner.as_mut().poll(cx)
    }
}

/// Carries a context across `.await`.
pub trait FutureExt: Future + Sized {
    /// Makes `context` current whenever this future is polled: a [`SpanContext`] (with no
    /// baggage) or a whole [`propagation::Context`](PropagatedContext) (span context and
    /// baggage).
    fn with_context(self, context: impl Into<PropagatedContext>) -> WithSpanContext<Self> {
        WithSpanContext {
            inner: Box::pin(self),
            context: Frame::from_context(context.into()),
        }
    }

    /// Makes the context current now (span context and baggage) current whenever this future
    /// is polled (to carry it into a spawned task).
    fn in_current_context(self) -> WithSpanContext<Self> {
        WithSpanContext {
            inner: Box::pin(self),
            context: current_frame(),
        }
    }
}

impl<F: Future> FutureExt for F {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::context::{TraceFlags, TraceState};
    use crate::trace::id::{SpanId, TraceId};

    fn ctx(n: u8) -> SpanContext {
        SpanContext::new(
            TraceId::from_bytes([n; 16]),
            SpanId::from_bytes([n; 8]),
            TraceFlags::SAMPLED,
            false,
            TraceState::empty(),
        )
    }

    #[test]
    fn nesting() {
        assert_eq!(SpanContext::current(), SpanContext::INVALID);
        let a = ctx(1).attach();
        {
            let _b = ctx(2).attach();
            assert_eq!(SpanContext::current(), ctx(2));
            let _hide = SpanContext::INVALID.attach();
            assert!(current_parent().is_none());
        }
        assert_eq!(SpanContext::current(), ctx(1));
        drop(a);
        assert_eq!(SpanContext::current(), SpanContext::INVALID);
    }

    #[test]
    fn deferred_frames_are_looked_up_only_when_asked_and_passed_over_when_empty() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static LOOKUPS: AtomicUsize = AtomicUsize::new(0);
        fn resolve(id: u64, context: usize) -> Option<SpanContext> {
            LOOKUPS.fetch_add(1, Ordering::SeqCst);
            // Even ids have a context (built from the id and the context word), odd ones none.
            id.is_multiple_of(2)
                .then(|| ctx((id + context as u64) as u8))
        }
        let before = LOOKUPS.load(Ordering::SeqCst);
        let outer = ctx(1).attach();
        let with = attach_deferred(4, 1, resolve);
        assert_eq!(
            LOOKUPS.load(Ordering::SeqCst),
            before,
            "entering looks nothing up"
        );
        assert_eq!(SpanContext::current(), ctx(5));
        assert_eq!(current_parent(), Some(ctx(5)));
        let without = attach_deferred(3, 0, resolve);
        assert_eq!(
            current_parent(),
            Some(ctx(5)),
            "an empty frame is passed over"
        );
        drop((without, with));
        assert_eq!(current_parent(), Some(ctx(1)));
        let empty = attach_deferred(7, 0, resolve);
        assert_eq!(current_parent(), Some(ctx(1)));
        drop(outer);
        drop(empty);
        assert!(current_parent().is_none());
        let _only_empty = attach_deferred(9, 0, resolve);
        assert!(current_parent().is_none());
        assert_eq!(SpanContext::current(), SpanContext::INVALID);
    }

    #[test]
    fn the_implicit_parent_follows_every_way_the_stack_changes() {
        assert!(current_parent().is_none());
        let outer = ctx(1).attach();
        assert_eq!(current_parent(), Some(ctx(1)));
        let inner = PropagatedContext::new(ctx(2), Baggage::new()).attach();
        assert_eq!(current_parent(), Some(ctx(2)));
        // The outer guard dropped first ends the inner context too.
        drop(outer);
        assert!(current_parent().is_none());
        drop(inner);
        assert!(current_parent().is_none());
        let _again = Baggage::new().attach();
        assert!(
            current_parent().is_none(),
            "an invalid span context is no parent"
        );
        let _span = ctx(3).attach();
        assert_eq!(current_parent(), Some(ctx(3)));
    }

    #[test]
    fn baggage_is_part_of_the_current_context() {
        let mut baggage = Baggage::new();
        assert!(baggage.insert("tenant", "acme"));
        let outer = PropagatedContext::new(ctx(1), baggage.clone()).attach();
        assert_eq!(Baggage::current(), baggage);
        assert_eq!(SpanContext::current(), ctx(1));
        {
            // Entering a span keeps the baggage.
            let _span = ctx(2).attach();
            assert_eq!(Baggage::current(), baggage);
            assert_eq!(PropagatedContext::current().span, ctx(2));
            // Attaching other baggage keeps the span.
            let mut other = Baggage::new();
            assert!(other.insert("k", "v"));
            let _b = other.clone().attach();
            assert_eq!(
                PropagatedContext::current(),
                PropagatedContext::new(ctx(2), other)
            );
        }
        assert_eq!(
            PropagatedContext::current(),
            PropagatedContext::new(ctx(1), baggage)
        );
        drop(outer);
        assert!(Baggage::current().is_empty());
        assert_eq!(PropagatedContext::current(), PropagatedContext::default());
    }

    #[test]
    fn futures_carry_baggage() {
        let mut baggage = Baggage::new();
        assert!(baggage.insert("k", "v"));
        let fut = {
            let _g = PropagatedContext::new(ctx(3), baggage.clone()).attach();
            async { (SpanContext::current(), Baggage::current()) }.in_current_context()
        };
        assert!(Baggage::current().is_empty());
        let (span, got) = crate::blocking::block_on(fut);
        assert_eq!((span, got), (ctx(3), baggage));
    }
}
