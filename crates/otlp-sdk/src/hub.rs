//! [`SignalHub`]: a client's side of one signal, and [`Component`], how the client sees it.
//!
//! Every signal of an [`OtlpClient`](crate::OtlpClient) goes through one hub: it starts the
//! signal's [`Pipeline`] on first use (no thread for a signal never used), refuses to start one
//! after the client shut down, counts what was offered while no pipeline existed, and flushes,
//! shuts down and describes the pipeline. The client holds its hubs as a list of
//! [`Component`]s, so flush, shutdown and statistics iterate over that list and a new signal
//! registers in one place.

use crate::pipeline::{AdaptiveBatchConfig, DropReason, Enqueued, Pipeline, PipelineItem, Stats};
use crate::{Error, Signal};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

/// A boxed future, as [`Component`]'s async methods return.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Starts a signal's pipeline: builds its encoder (and whatever the signal sizes for its
/// queue) and calls [`Pipeline::new`].
pub(crate) type Start<T> =
    Box<dyn Fn(&AdaptiveBatchConfig) -> Result<Pipeline<T>, Error> + Send + Sync>;

/// One signal of a client: its pipeline, started on first use.
pub(crate) struct SignalHub<T: PipelineItem> {
    signal: Signal,
    config: AdaptiveBatchConfig,
    start: Start<T>,
    pipeline: OnceLock<Pipeline<T>>,
    /// No pipeline starts once this is set (the client shut down, or starting failed). Also
    /// the lock a start happens under, so that no start can slip past a shutdown.
    closed: Mutex<bool>,
    /// Items offered while there was no pipeline to count them: after a shutdown that came
    /// before the first item, or when the pipeline could not be started.
    unstarted_dropped: AtomicU64,
}

impl<T: PipelineItem> SignalHub<T> {
    /// A hub for `signal` whose pipeline, once needed, `start` makes from `config` (validated
    /// by the caller).
    pub(crate) fn new(signal: Signal, config: AdaptiveBatchConfig, start: Start<T>) -> Self {
        SignalHub {
            signal,
            config,
            start,
            pipeline: OnceLock::new(),
            closed: Mutex::new(false),
            unstarted_dropped: AtomicU64::new(0),
        }
    }

    /// The pipeline, started now if this is its first use; `None` if closed before it started.
    /// (A pipeline shut down still takes items, and counts them as dropped.)
    pub(crate) fn pipeline(&self) -> Option<&Pipeline<T>> {
        if let Some(p) = self.pipeline.get() {
            return Some(p);
        }
        let mut closed = self.closed.lock().unwrap_or_else(PoisonError::into_inner);
        if *closed {
            return None;
        }
        if self.pipeline.get().is_none() {
            match (self.start)(&self.config) {
                Ok(p) => {
                    let _ = self.pipeline.set(p);
                }
                // The configuration was validated with the client: what is left is a failure
                // to start a thread. Items are then dropped, and counted.
                Err(_) => {
                    *closed = true;
                    return None;
                }
            }
        }
        self.pipeline.get()
    }

    /// Whether no pipeline will start any more (the client shut down, or starting failed).
    pub(crate) fn is_closed(&self) -> bool {
        *self.closed.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The pipeline if it was started.
    pub(crate) fn started(&self) -> Option<&Pipeline<T>> {
        self.pipeline.get()
    }

    /// Offers `item`, starting the pipeline if needed; without one (closed), the item is
    /// dropped and counted as [`DropReason::AfterShutdown`].
    pub(crate) fn enqueue(&self, item: T) -> Enqueued {
        match self.pipeline() {
            Some(p) => p.enqueue(item),
            None => {
                let _ = self.unstarted_dropped.fetch_add(1, Ordering::Relaxed);
                Enqueued::Dropped(DropReason::AfterShutdown)
            }
        }
    }
}

impl<T: PipelineItem> fmt::Debug for SignalHub<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignalHub")
            .field("signal", &self.signal)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// What the client needs of each signal it carries. Implemented by every [`SignalHub`].
pub(crate) trait Component: Send + Sync {
    /// The signal.
    fn signal(&self) -> Signal;

    /// The capacity of the signal's queue (for the `otel.sdk.processor.queue.capacity` metric).
    fn queue_capacity(&self) -> usize;

    /// The bound on a flush at drop or exit: the signal's export timeout, capped.
    #[cfg_attr(any(not(unix), otlp_portable), allow(dead_code))]
    fn export_timeout(&self) -> Duration;

    /// Whether the pipeline has started.
    fn is_started(&self) -> bool;

    /// The counters and gauges, items offered while there was no pipeline included (as
    /// `accepted` and `dropped.after_shutdown`); all zero before the first item.
    fn stats(&self) -> Stats;

    /// Exports everything offered before the call, up to `timeout`.
    fn force_flush(&self, timeout: Duration) -> BoxFuture<'_, Result<(), Error>>;

    /// Starts no pipeline any more, and shuts down the one started, up to `timeout`.
    fn shutdown(&self, timeout: Duration) -> BoxFuture<'_, Result<(), Error>>;

    /// Writes what is queued to the persistent queue, if the started pipeline has one.
    fn persist(&self) -> BoxFuture<'_, Result<(), Error>>;
}

impl<T: PipelineItem> Component for SignalHub<T> {
    fn signal(&self) -> Signal {
        self.signal
    }

    fn queue_capacity(&self) -> usize {
        self.config.max_queue_size()
    }

    fn export_timeout(&self) -> Duration {
        self.config.export_timeout()
    }

    fn is_started(&self) -> bool {
        self.pipeline.get().is_some()
    }

    fn stats(&self) -> Stats {
        let mut stats = match self.pipeline.get() {
            Some(p) => p.stats(),
            None => Stats::new(self.signal, 0),
        };
        let unstarted = self.unstarted_dropped.load(Ordering::Relaxed);
        stats.accepted += unstarted;
        stats.dropped.after_shutdown += unstarted;
        stats
    }

    fn force_flush(&self, timeout: Duration) -> BoxFuture<'_, Result<(), Error>> {
        let started = self.started().cloned();
        Box::pin(async move {
            match started {
                Some(p) => p.force_flush(timeout).await,
                None => Ok(()),
            }
        })
    }

    fn persist(&self) -> BoxFuture<'_, Result<(), Error>> {
        let started = self.started().cloned();
        Box::pin(async move {
            match started {
                Some(p) if p.has_persistent_queue() => p.persist().await,
                _ => Ok(()),
            }
        })
    }

    fn shutdown(&self, timeout: Duration) -> BoxFuture<'_, Result<(), Error>> {
        let started = {
            let mut closed = self.closed.lock().unwrap_or_else(PoisonError::into_inner);
            *closed = true;
            self.started().cloned()
        };
        Box::pin(async move {
            match started {
                Some(p) => p.shutdown(timeout).await,
                None => Ok(()),
            }
        })
    }
}

/// Runs `futures` side by side and returns the first error, if any, once all are done.
pub(crate) async fn join_all(futures: Vec<BoxFuture<'_, Result<(), Error>>>) -> Result<(), Error> {
    JoinAll {
        futures: futures.into_iter().map(Some).collect(),
        error: None,
    }
    .await
}

struct JoinAll<'a> {
    futures: Vec<Option<BoxFuture<'a, Result<(), Error>>>>,
    error: Option<Error>,
}

impl Future for JoinAll<'_> {
    type Output = Result<(), Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let mut pending = false;
        for slot in &mut this.futures {
            if let Some(f) = slot {
                match f.as_mut().poll(cx) {
                    Poll::Ready(result) => {
                        *slot = None;
                        if let Err(e) = result {
                            this.error.get_or_insert(e);
                        }
                    }
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            return Poll::Pending;
        }
        match this.error.take() {
            Some(e) => Poll::Ready(Err(e)),
            None => Poll::Ready(Ok(())),
        }
    }
}
