//! The current span context: a per-thread stack, and a future wrapper that carries a context
//! across `.await`.

use super::context::SpanContext;
use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

thread_local! {
    static STACK: RefCell<Vec<SpanContext>> = const { RefCell::new(Vec::new()) };
}

/// Keeps a span context current on this thread; dropping it restores the previous one. Not
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
        let _ = STACK.try_with(|s| s.borrow_mut().truncate(self.depth));
    }
}

impl SpanContext {
    /// The context current on this thread ([`SpanContext::INVALID`] when none is).
    pub fn current() -> SpanContext {
        STACK
            .try_with(|s| s.borrow().last().cloned())
            .ok()
            .flatten()
            .unwrap_or(SpanContext::INVALID)
    }

    /// Makes this context current on this thread until the guard drops. An invalid context
    /// hides the outer one: spans started under it are roots.
    pub fn attach(self) -> ContextGuard {
        let depth = STACK
            .try_with(|s| {
                let mut s = s.borrow_mut();
                let depth = s.len();
                s.push(self);
                depth
            })
            .unwrap_or(0);
        ContextGuard {
            depth,
            _not_send: PhantomData,
        }
    }
}

/// The current context if it is valid: the implicit parent of a new span.
pub(crate) fn current_parent() -> Option<SpanContext> {
    STACK
        .try_with(|s| s.borrow().last().filter(|c| c.is_valid()).cloned())
        .ok()
        .flatten()
}

/// A future that makes a span context current on every poll, so that spans started inside it,
/// on whichever thread polls it, have that parent. Made by [`FutureExt::with_context`].
pub struct WithSpanContext<F> {
    inner: Pin<Box<F>>,
    context: SpanContext,
}

impl<F> fmt::Debug for WithSpanContext<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WithSpanContext")
            .field("context", &self.context)
            .finish_non_exhaustive()
    }
}

impl<F: Future> Future for WithSpanContext<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        let _guard = this.context.clone().attach();
        this.inner.as_mut().poll(cx)
    }
}

/// Carries a span context across `.await`.
pub trait FutureExt: Future + Sized {
    /// Makes `context` current whenever this future is polled.
    fn with_context(self, context: SpanContext) -> WithSpanContext<Self> {
        WithSpanContext {
            inner: Box::pin(self),
            context,
        }
    }

    /// Makes the context current now current whenever this future is polled (to carry it into
    /// a spawned task).
    fn in_current_context(self) -> WithSpanContext<Self> {
        self.with_context(SpanContext::current())
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
}
