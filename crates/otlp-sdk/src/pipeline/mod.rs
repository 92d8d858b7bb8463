//! The export pipeline: one bounded queue, adaptive batching, drop policies, backpressure,
//! concurrent exports and exact accounting, shared by every signal.
//!
//! A [`Pipeline`] carries items of one signal (spans, log records, metrics, profile requests:
//! anything implementing [`PipelineItem`]) from application threads to an [`Exporter`]:
//!
//! ```text
//!  app threads ──enqueue──► bounded queue ──► worker thread (own current-thread runtime)
//!                          (two priorities,     take a batch (AIMD size) ─► split under byte cap
//!                           one budget)         ─► encode once (BatchEncoder) ─► send
//!                                               (up to max_concurrent_exports in flight)
//! ```
//!
//! - [`Pipeline::enqueue`] never blocks (unless [`Backpressure::Wait`] is chosen) and allocates
//!   nothing per item: a push under a short lock. A full queue applies the [`DropPolicy`].
//! - The batch size adapts to export latency ([`AimdController`]); a batch also leaves when its
//!   oldest item has waited the scheduled delay; a batch over the byte cap is split, never dropped.
//! - The worker sends its requests itself, on its own runtime, over the exporter's routes (built
//!   once, TLS files read once) with connections of its own: no hand-off to another thread per
//!   request.
//! - Each request body is encoded once; the exporter's retries re-send the same bytes. While
//!   every export slot is busy, the worker encodes the next full batch ahead, so it leaves the
//!   moment a slot frees (memory: the queue's bound plus that one batch).
//! - [`Pipeline::stats`] returns exact counters: `accepted == exported + dropped + rejected +
//!   queued` in every snapshot (see [`Stats`]); [`Stats::to_otlp_metrics`] turns a snapshot into
//!   the `otel.sdk.*` semantic-convention metrics.
//! - Optionally, batches go through a [persistent queue](persist) on disk
//!   ([`AdaptiveBatchConfig::with_persistent_queue`]): what was taken from memory survives a
//!   crash, and an outage fills the disk instead of dropping.
//!
//! # Runtimes
//!
//! The worker owns a thread with a current-thread tokio runtime, so a pipeline works the same
//! under a multi-thread runtime, a current-thread runtime or none: no "no reactor running"
//! panic, and no `block_on` inside the caller's runtime. Flush and shutdown are messages to the
//! worker answered on a oneshot channel: the async forms await the answer, the blocking forms
//! park the calling thread (which is never the worker, so they cannot deadlock; from an async
//! task prefer the async forms, which do not block the executor thread). Dropping the last handle
//! without a shutdown asks the worker to export what is queued and stop, and waits for it (up to
//! the export timeout, at most 5 s) in any context, an executor thread included: nothing the
//! wait depends on runs on the dropping thread, so a program that drops its last handle and
//! exits loses nothing that could be sent in time.
//!
//! # No feedback loop
//!
//! Neither the pipeline nor the exporter emits telemetry of its own through a pipeline, and
//! neither logs through `tracing` or `log`: a future bridge from `tracing` cannot feed the
//! exporter's own activity back into it. Self-observability goes through [`Pipeline::stats`];
//! its OTLP form is sent through another pipeline, never the one it describes.
//!
//! # Example
//!
//! ```no_run
//! use otlp::pipeline::{AdaptiveBatchConfig, Pipeline, SpanEncoder};
//! use otlp::{Exporter, ExporterConfig, Signal};
//! use otlp_proto::trace::Span;
//! use std::time::Duration;
//!
//! # fn main() -> Result<(), otlp::Error> {
//! let exporter = Exporter::new(ExporterConfig::from_env()?)?;
//! let config = AdaptiveBatchConfig::from_env(Signal::Traces)?;
//! let spans = Pipeline::new(exporter, SpanEncoder::default(), config)?;
//! spans.enqueue(Span::default());
//! spans.shutdown_blocking(Duration::from_secs(5))?;
//! let stats = spans.stats();
//! assert!(stats.is_consistent());
//! # Ok(())
//! # }
//! ```

mod batcher;
mod config;
mod drop_wait;
mod item;
pub mod persist;
mod queue;
mod stats;
mod telemetry;
mod worker;

#[cfg(feature = "arrow")]
pub use crate::transport::StreamBatch;
pub use batcher::AimdController;
pub use config::{AdaptiveBatchConfig, Backpressure, DropPolicy};
pub use item::{
    BatchEncoder, LogEncoder, MetricEncoder, PipelineItem, Priority, ProfilesEncoder, SpanEncoder,
};
pub use persist::{Fsync, PersistentQueue};
pub use queue::Enqueued;
pub use stats::{DropReason, Dropped, Stats};

use crate::blocking::block_on;
use crate::error::{Error, Kind};
use crate::exporter::Exporter;
use otlp_proto::Signal;
use queue::Queue;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use worker::{Control, Worker};

pub(crate) use drop_wait::{DeferScope, DropWait, drop_deadline};

/// A handle to a running pipeline of items `T`. Cheap to clone; clones share the queue and the
/// worker, and any of them may enqueue from any thread.
///
/// See the [module docs](self) for the design and guarantees.
pub struct Pipeline<T: PipelineItem> {
    inner: Arc<Inner<T>>,
}

impl<T: PipelineItem> Clone for Pipeline<T> {
    fn clone(&self) -> Self {
        Pipeline {
            inner: self.inner.clone(),
        }
    }
}

struct Inner<T: PipelineItem> {
    signal: Signal,
    queue: Arc<Queue<T>>,
    control: mpsc::UnboundedSender<Control>,
    thread: Mutex<Option<JoinHandle<()>>>,
    shut_down: AtomicBool,
    drop_wait: Duration,
    persistent: bool,
}

impl<T: PipelineItem> Pipeline<T> {
    /// Starts a pipeline exporting through `exporter`, encoding batches with `encoder`.
    ///
    /// Fails when `config` is invalid ([`AdaptiveBatchConfig::validate`]), its persistent queue
    /// cannot be opened ([`Error::is_storage`]: not creatable, in use by another process, or of
    /// a newer format), or the worker thread or its runtime cannot be started. Needs no async
    /// runtime.
    pub fn new<E: BatchEncoder<T>>(
        exporter: Exporter,
        encoder: E,
        config: AdaptiveBatchConfig,
    ) -> Result<Self, Error> {
        config.validate()?;
        let signal = E::SIGNAL;
        let queue = Arc::new(Queue::new(
            Stats::new(signal, config.min_batch_size()),
            config.max_queue_size(),
            config.drop_policy(),
            config.backpressure(),
        ));
        let drop_wait = drop_deadline(config.export_timeout());
        let (control, messages) = mpsc::unbounded_channel();
        // Opened here, so that a directory in use or unreadable fails `new`.
        let persistent = config.persistent_queue().is_some();
        let backlog = match config.persistent_queue() {
            // Batches in memory beside the log: four of the largest.
            Some(persistent) => Some(persist::Backlog::open(
                persistent,
                1,
                config.max_batch_bytes().saturating_mul(4),
            )?),
            None => None,
        };
        let worker = Worker::new(queue.clone(), exporter, encoder, config, backlog);
        // The worker sends its requests itself, on its own runtime (`Connections`).
        let thread =
            crate::thread::spawn_with_runtime(format!("otlp-pipeline-{signal}"), move || {
                worker.run(messages)
            })?;
        Ok(Pipeline {
            inner: Arc::new(Inner {
                signal,
                queue,
                control,
                thread: Mutex::new(Some(thread)),
                shut_down: AtomicBool::new(false),
                drop_wait,
                persistent,
            }),
        })
    }

    /// Whether batches go through a [persistent queue](persist).
    pub fn has_persistent_queue(&self) -> bool {
        self.inner.persistent
    }

    /// The signal this pipeline exports.
    pub fn signal(&self) -> Signal {
        self.inner.signal
    }

    /// Offers an item. Never blocks, except up to the configured wait with
    /// [`Backpressure::Wait`] when the queue is full; allocates nothing beyond the queue's own
    /// growth. After shutdown began, the item is dropped ([`DropReason::AfterShutdown`]).
    #[inline]
    pub fn enqueue(&self, item: T) -> Enqueued {
        self.inner.queue.push(item)
    }

    /// The counters and gauges, as one consistent snapshot.
    pub fn stats(&self) -> Stats {
        self.inner.queue.snapshot()
    }

    /// Exports everything queued before the call, and waits until it is settled (exported,
    /// rejected or dropped with a reason) or `timeout` passes (an [`Error::is_timeout`] error;
    /// the items are still exported afterwards). Never blocks the executor thread.
    pub async fn force_flush(&self, timeout: Duration) -> Result<(), Error> {
        let (reply, answer) = oneshot::channel();
        self.send(Control::Flush {
            deadline: std::time::Instant::now() + timeout,
            reply,
        })?;
        answer.await.map_err(|_| stopped())?
    }

    /// Writes every item queued to the [persistent queue](persist) and syncs it to disk,
    /// whatever the [`Fsync`] policy: once this returns `Ok`, the items survive a crash of the
    /// process or the machine. Does not wait for their export. An error when the pipeline has
    /// no persistent queue ([`Error::is_config`]), or when it is full or cannot be written
    /// ([`Error::is_storage`]: the items stay queued in memory).
    pub async fn persist(&self) -> Result<(), Error> {
        let (reply, answer) = oneshot::channel();
        self.send(Control::Persist { reply })?;
        answer.await.map_err(|_| stopped())?
    }

    /// [`persist`](Pipeline::persist), blocking the calling thread.
    pub fn persist_blocking(&self) -> Result<(), Error> {
        block_on(self.persist())
    }

    /// [`force_flush`](Pipeline::force_flush), blocking the calling thread.
    pub fn force_flush_blocking(&self, timeout: Duration) -> Result<(), Error> {
        block_on(self.force_flush(timeout))
    }

    /// Stops accepting items, exports everything queued, and stops the worker. Items still
    /// unsettled when `timeout` passes are dropped ([`DropReason::ShutdownTimeout`]) and the
    /// result is an [`Error::is_timeout`] error. A second call is an [`Error::is_shutdown`]
    /// error. Never blocks the executor thread.
    pub async fn shutdown(&self, timeout: Duration) -> Result<(), Error> {
        if self.inner.shut_down.swap(true, Ordering::SeqCst) {
            return Err(Error::new(
                Kind::Shutdown,
                "the pipeline is already shut down",
            ));
        }
        let (reply, answer) = oneshot::channel();
        self.send(Control::Shutdown {
            deadline: std::time::Instant::now() + timeout,
            reply: Some(reply),
        })?;
        answer.await.map_err(|_| stopped())?
    }

    /// [`shutdown`](Pipeline::shutdown), blocking the calling thread.
    pub fn shutdown_blocking(&self, timeout: Duration) -> Result<(), Error> {
        block_on(self.shutdown(timeout))
    }

    fn send(&self, message: Control) -> Result<(), Error> {
        self.inner.control.send(message).map_err(|_| stopped())
    }
}

fn stopped() -> Error {
    Error::new(Kind::Shutdown, "the pipeline's worker has stopped")
}

impl<T: PipelineItem> Drop for Inner<T> {
    fn drop(&mut self) {
        // The worker exits once its shutdown is done (or its control channel closes): the
        // thread is not joined, the shutdown's answer is what is waited for (`drop_wait.rs`).
        drop(
            self.thread
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
        if self.shut_down.swap(true, Ordering::SeqCst) {
            return;
        }
        let deadline = std::time::Instant::now() + self.drop_wait;
        let (reply, wait) = DropWait::new(deadline);
        let sent = self.control.send(Control::Shutdown {
            deadline,
            reply: Some(reply),
        });
        if sent.is_ok() {
            wait.wait_or_defer();
        }
    }
}

impl<T: PipelineItem> fmt::Debug for Pipeline<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pipeline")
            .field("signal", &self.inner.signal)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}
