//! Helpers shared by the integration tests (the client and receiver are
//! `test_support::client::Harness`).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tracing::Dispatch;

/// Makes `dispatch` the default while the future is polled *and dropped*. `tracing`'s own
/// `with_subscriber` covers only polls, but the registry closes a span's parent through the
/// default subscriber of the thread that drops the child, so a spawned task dropped on a worker
/// thread without it would leak its parent (which then never closes). With a global subscriber,
/// as applications have, none of this is needed.
pub struct WithDefault<F> {
    future: Option<Pin<Box<F>>>,
    dispatch: Dispatch,
}

pub fn with_default<F: Future>(future: F) -> WithDefault<F> {
    WithDefault {
        future: Some(Box::pin(future)),
        dispatch: tracing::dispatcher::get_default(Dispatch::clone),
    }
}

impl<F: Future> Future for WithDefault<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = &mut *self;
        tracing::dispatcher::with_default(&this.dispatch, || {
            let future = this.future.as_mut().expect("polled after completion");
            let poll = future.as_mut().poll(cx);
            if poll.is_ready() {
                this.future = None;
            }
            poll
        })
    }
}

impl<F> Drop for WithDefault<F> {
    fn drop(&mut self) {
        let future = self.future.take();
        tracing::dispatcher::with_default(&self.dispatch, || drop(future));
    }
}
