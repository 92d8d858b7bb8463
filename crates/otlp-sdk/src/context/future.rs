//! Carrying a context across `.await`.

use super::stack::{Frame, current_frame, push};
use crate::trace::propagation::Context as PropagatedContext;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

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
    /// Makes `context` current whenever this future is polled: a
    /// [`SpanContext`](crate::trace::SpanContext) (with no baggage) or a whole
    /// [`propagation::Context`](PropagatedContext) (span context and baggage).
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
