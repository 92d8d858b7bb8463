//! What dropping the last handle of a pipeline waits for, and how.
//!
//! The last handle sends the worker a shutdown (deadline: the export timeout, capped at
//! [`DROP_FLUSH_LIMIT`]) and waits for its answer, blocking the dropping thread up to that
//! deadline, from any context: an async executor's thread (multi-thread or current-thread
//! runtime), a runtime shutting down, no runtime, a thread-local destructor. It is safe there
//! because nothing the wait depends on runs on the dropping thread: the worker has a thread and
//! a runtime of its own, and the wait is a condition variable, not an executor. (A collector
//! served by the very thread that drops the pipeline, say an in-process receiver on the same
//! current-thread runtime, cannot answer meanwhile: the drop then returns at the deadline.)
//!
//! A client drops several pipelines (one per signal, and the self-metrics one): so that they
//! shut down side by side within one deadline rather than one after the other, the client
//! opens a [`DeferScope`] first; pipelines dropped on that thread meanwhile send their shutdown
//! at once and leave the waiting to the scope's end.

use super::worker::Reply;
use crate::Error;
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// The longest a dropped pipeline waits for its worker to export what is queued.
pub(crate) const DROP_FLUSH_LIMIT: Duration = Duration::from_secs(5);

/// How long dropping a pipeline whose export timeout is `export_timeout` may wait.
pub(crate) fn drop_deadline(export_timeout: Duration) -> Duration {
    export_timeout.min(DROP_FLUSH_LIMIT)
}

/// Beyond the deadline sent to the worker: time for its answer to arrive.
const ANSWER_MARGIN: Duration = Duration::from_millis(200);

/// A shutdown sent by a drop, and its answer to wait for.
pub(crate) struct DropWait {
    answer: oneshot::Receiver<Result<(), Error>>,
    until: Instant,
}

impl DropWait {
    /// The reply channel to send with the shutdown, and the wait for it, bounded by
    /// `deadline` (the one sent).
    pub(crate) fn new(deadline: Instant) -> (Reply, DropWait) {
        let (reply, answer) = oneshot::channel();
        let wait = DropWait {
            answer,
            until: deadline + ANSWER_MARGIN,
        };
        (reply, wait)
    }

    /// Waits now, or at the end of the thread's open [`DeferScope`].
    pub(crate) fn wait_or_defer(self) {
        let mut this = Some(self);
        let _ = DEFERRED.try_with(|d| {
            if let Ok(mut d) = d.try_borrow_mut()
                && let Some(frame) = d.last_mut()
            {
                frame.extend(this.take());
            }
        });
        if let Some(this) = this {
            this.wait();
        }
    }

    /// Waits for the answer, up to the deadline.
    pub(crate) fn wait(self) {
        let until = self.until;
        // `unconstrained`: inside a task, tokio's cooperative budget would otherwise make the
        // channel look empty once the task's budget is spent.
        let _ = wait_until(tokio::task::unconstrained(self.answer), until);
    }
}

thread_local! {
    /// Per open scope (innermost last), the waits left for its end.
    static DEFERRED: RefCell<Vec<Vec<DropWait>>> = const { RefCell::new(Vec::new()) };
}

/// While one is open on a thread, pipelines dropped on it leave their wait to its end, which
/// waits for all of them (each up to its own deadline, so together up to the latest one).
#[derive(Debug)]
pub(crate) struct DeferScope {
    opened: bool,
}

impl DeferScope {
    /// Opens a scope on this thread.
    pub(crate) fn open() -> DeferScope {
        let opened = DEFERRED
            .try_with(|d| d.try_borrow_mut().map(|mut d| d.push(Vec::new())).is_ok())
            .unwrap_or(false);
        DeferScope { opened }
    }
}

impl Drop for DeferScope {
    fn drop(&mut self) {
        if !self.opened {
            return;
        }
        let waits = DEFERRED
            .try_with(|d| d.try_borrow_mut().ok().and_then(|mut d| d.pop()))
            .ok()
            .flatten()
            .unwrap_or_default();
        for wait in waits {
            wait.wait();
        }
    }
}

/// Wakes the waiting thread through a condition variable: no thread-local state (unlike
/// parking, which needs `thread::current()`), so it works in thread-local destructors and
/// exit handlers too.
#[derive(Default)]
struct Signal {
    woken: Mutex<bool>,
    cond: Condvar,
}

impl Wake for Signal {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        *self.woken.lock().unwrap_or_else(PoisonError::into_inner) = true;
        self.cond.notify_one();
    }
}

/// Polls `future` on this thread until it completes or `until` passes (`None` then). For
/// futures that are completed by another thread (a channel the worker answers on): it runs no
/// executor.
fn wait_until<F: Future>(future: F, until: Instant) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    let signal = Arc::new(Signal::default());
    let waker = Waker::from(signal.clone());
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(out) = Pin::as_mut(&mut future).poll(&mut cx) {
            return Some(out);
        }
        let mut woken = signal.woken.lock().unwrap_or_else(PoisonError::into_inner);
        while !*woken {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            woken = signal
                .cond
                .wait_timeout(woken, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        *woken = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_until_returns_the_answer_or_gives_up() {
        let (tx, rx) = oneshot::channel::<u32>();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            let _ = tx.send(7);
        });
        let far = Instant::now() + Duration::from_secs(10);
        assert_eq!(wait_until(rx, far).map(Result::ok), Some(Some(7)));
        t.join().expect("joins");

        let (_tx, rx) = oneshot::channel::<u32>();
        let start = Instant::now();
        assert!(wait_until(rx, start + Duration::from_millis(50)).is_none());
        assert!(start.elapsed() >= Duration::from_millis(50));
    }

    #[test]
    fn a_scope_defers_waits_to_its_end() {
        let scope = DeferScope::open();
        let (reply, wait) = DropWait::new(Instant::now() + Duration::from_secs(10));
        wait.wait_or_defer();
        // Deferred: the answer can come after the "drop".
        let _ = reply.send(Ok(()));
        let start = Instant::now();
        drop(scope);
        assert!(start.elapsed() < Duration::from_secs(1));
    }
}
