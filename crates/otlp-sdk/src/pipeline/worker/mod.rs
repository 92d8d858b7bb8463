//! The pipeline's worker: one thread of its own with a current-thread tokio runtime, which
//! takes batches from the queue, encodes each once, exports up to `max_concurrent_exports` at a
//! time, and settles every item in the accounting.

use super::batcher::{AimdController, split_by_size};
use super::config::AdaptiveBatchConfig;
use super::item::{BatchEncoder, PipelineItem};
use super::persist::Backlog;
use super::queue::Queue;
use super::stats::DropReason;
use crate::error::{Error, Kind};
use crate::exporter::Exporter;
use crate::transport::{Connections, ExportOutcome, Outgoing};
use otlp_proto::Encoding;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep_until};

mod closing;
mod stored;

pub(crate) type Reply = oneshot::Sender<Result<(), Error>>;

/// A message from the handle to the worker.
pub(crate) enum Control {
    /// Export everything queued now; answer when it is settled, or at the deadline.
    Flush {
        deadline: std::time::Instant,
        reply: Reply,
    },
    /// Stop taking items, export everything queued, then stop; at the deadline, drop what is
    /// left (counted as [`DropReason::ShutdownTimeout`]).
    Shutdown {
        deadline: std::time::Instant,
        reply: Option<Reply>,
    },
    /// Write everything queued to the persistent queue and sync it.
    Persist { reply: Reply },
}

/// An encoded request (or, for an OTAP stream, the items) waiting for a free export slot.
struct Chunk {
    id: u64,
    items: usize,
    full: bool,
    body: Outgoing,
    /// Its record in the persistent queue.
    seq: Option<u64>,
}

/// A finished export.
struct Done {
    id: u64,
    items: usize,
    full: bool,
    seq: Option<u64>,
    latency: Duration,
    /// `Err(())` when the pipeline's export timeout passed first.
    result: Result<Result<ExportOutcome, Error>, ()>,
}

struct Flush {
    /// The flush covers the items the worker had taken, plus those queued, when it arrived:
    /// it is drained once [`Worker::taken`] reaches this (or the queue runs empty, when the
    /// drop policy evicted some of them).
    goal: u64,
    /// Once drained: settled when every chunk with an id up to this one is.
    upto: Option<u64>,
    deadline: Instant,
    reply: Reply,
}

pub(crate) struct Worker<T, E> {
    queue: Arc<Queue<T>>,
    /// The exporter's routes, with connections on this worker's runtime; `None` when exporting
    /// is disabled.
    connections: Option<Connections>,
    encoder: E,
    encoding: Encoding,
    /// The signal goes over OTAP streams, which take the items themselves.
    #[cfg(feature = "arrow")]
    streams: bool,
    config: AdaptiveBatchConfig,
    aimd: AimdController,
    pending: VecDeque<Chunk>,
    in_flight: JoinSet<Done>,
    /// Items of each chunk in flight, and its record in the persistent queue, by chunk id.
    in_flight_items: HashMap<u64, (usize, Option<u64>)>,
    /// The persistent queue, when configured: every batch goes through it.
    backlog: Option<Backlog>,
    /// Ids of chunks pending or in flight.
    unsettled: BTreeSet<u64>,
    next_id: u64,
    flushes: Vec<Flush>,
    closing: Option<(Instant, Option<Reply>)>,
    /// Items taken from the queue so far.
    taken: u64,
    /// Encoded bytes per item in the last body (0 before the first), to skip the size
    /// estimates when a batch at that rate is far under the byte cap.
    bytes_per_item: usize,
    batch: Vec<T>,
    /// Batches were left in memory for now so that exports in flight get to run: dispatch
    /// again after yielding.
    yield_soon: bool,
    _item: PhantomData<fn(T)>,
}

impl<T: PipelineItem, E: BatchEncoder<T>> Worker<T, E> {
    /// A worker; `backlog` is the opened persistent queue, whose batches are chunks `1..`.
    pub(crate) fn new(
        queue: Arc<Queue<T>>,
        exporter: Exporter,
        encoder: E,
        config: AdaptiveBatchConfig,
        mut backlog: Option<Backlog>,
    ) -> Self {
        let connections = exporter.connect();
        let mut unsettled = BTreeSet::new();
        let mut next_id = 1;
        if let Some(backlog) = &mut backlog {
            let mut items = 0;
            for (id, n) in backlog.chunks() {
                let _ = unsettled.insert(id);
                next_id = id + 1;
                items += n as u64;
            }
            queue.recover(items, backlog.take_corrupt());
        }
        Worker {
            encoding: exporter.encoding(E::SIGNAL),
            // The persistent queue holds encoded requests, which the stream reads back.
            #[cfg(feature = "arrow")]
            streams: backlog.is_none()
                && connections.as_ref().is_some_and(|c| c.streams(E::SIGNAL)),
            aimd: AimdController::new(&config),
            queue,
            connections,
            encoder,
            config,
            pending: VecDeque::new(),
            in_flight: JoinSet::new(),
            in_flight_items: HashMap::new(),
            backlog,
            unsettled,
            next_id,
            flushes: Vec::new(),
            closing: None,
            taken: 0,
            bytes_per_item: 0,
            batch: Vec::new(),
            yield_soon: false,
            _item: PhantomData,
        }
    }

    /// The worker's loop; returns once shutdown is complete.
    pub(crate) async fn run(mut self, mut control: mpsc::UnboundedReceiver<Control>) {
        loop {
            self.dispatch();
            self.answer_flushes(Instant::now());
            if std::mem::take(&mut self.yield_soon) {
                tokio::task::yield_now().await;
                while let Some(done) = self.in_flight.try_join_next() {
                    if let Ok(done) = done {
                        self.finish(done);
                    }
                }
                continue;
            }
            if let Some(backlog) = &mut self.backlog {
                let _ = backlog.sync_if_due(std::time::Instant::now());
            }
            if let Some((deadline, _)) = &self.closing {
                if (self.unsettled.is_empty() || self.only_stored_left(*deadline))
                    && self.queue.peek().0 == 0
                {
                    // Streams (OTAP) end as finished calls, within the deadline.
                    if let Some(connections) = &self.connections {
                        let deadline = *deadline;
                        let _ =
                            tokio::time::timeout_at(deadline, connections.close_streams()).await;
                    }
                    self.finish_shutdown(Ok(()));
                    return;
                }
                if Instant::now() >= *deadline {
                    let dropped = self.abandon();
                    if dropped == 0 {
                        // What is left is in the persistent queue, for the next start.
                        self.finish_shutdown(Ok(()));
                        return;
                    }
                    self.finish_shutdown(Err(Error::new(
                        Kind::Timeout,
                        format!(
                            "the shutdown deadline passed: {dropped} {} dropped",
                            E::SIGNAL.item_name()
                        ),
                    )));
                    return;
                }
            }
            let wake_at = self.next_wake();
            tokio::select! {
                biased;
                msg = control.recv(), if self.closing.is_none() => match msg {
                    Some(Control::Flush { deadline, reply }) => self.start_flush(Instant::from_std(deadline), reply),
                    Some(Control::Shutdown { deadline, reply }) => self.start_shutdown(Instant::from_std(deadline), reply),
                    Some(Control::Persist { reply }) => { let _ = reply.send(self.persist()); }
                    // Every handle is gone without a shutdown message: shut down at once.
                    None => self.start_shutdown(Instant::now(), None),
                },
                Some(done) = self.in_flight.join_next(), if !self.in_flight.is_empty() => {
                    if let Ok(done) = done {
                        self.finish(done);
                    }
                }
                () = self.queue.wake_worker.notified() => {}
                () = sleep_until(wake_at.unwrap_or_else(Instant::now)), if wake_at.is_some() => {}
            }
        }
    }

    /// When the worker must look again even if nothing wakes it: the scheduled delay of the
    /// oldest item (when an export could start), a flush or shutdown deadline.
    fn next_wake(&self) -> Option<Instant> {
        // With every slot busy, only a finished export can start another: waking for an overdue
        // batch then would spin.
        let can_start = self.pending.is_empty()
            && self.in_flight_items.len() < self.config.max_concurrent_exports();
        let (len, oldest) = self.queue.peek();
        let batch_due = match oldest {
            Some(t) if len > 0 && can_start => {
                Some(Instant::from_std(t) + self.config.scheduled_delay())
            }
            _ => None,
        };
        let flush_due = self.flushes.iter().map(|f| f.deadline).min();
        let close_due = self.closing.as_ref().map(|(d, _)| *d);
        let log_due = self
            .backlog
            .as_ref()
            .and_then(Backlog::next_wake)
            .map(Instant::from_std);
        [batch_due, flush_due, close_due, log_due]
            .into_iter()
            .flatten()
            .min()
    }

    /// Starts exports while slots are free, taking new batches from the queue when one is due.
    ///
    /// At most one batch is encoded ahead of the free slots, also while a flush or shutdown
    /// drains the queue: memory stays bounded by the queue and a few request buffers, however
    /// much was queued when the flush came.
    fn dispatch(&mut self) {
        let slots = self.config.max_concurrent_exports();
        let mut stored = 0;
        loop {
            while self.in_flight_items.len() < slots
                && let Some(chunk) = self.pending.pop_front()
            {
                self.launch(chunk);
            }
            self.launch_stored(slots);
            if !self.pending.is_empty() {
                break;
            }
            let (len, oldest) = self.queue.peek();
            self.mark_drained_flushes(len);
            let size = self.aimd.batch_size();
            let draining = self.closing.is_some() || self.flushes.iter().any(|f| f.upto.is_none());
            let due = oldest.is_some_and(|t| t.elapsed() >= self.config.scheduled_delay());
            if len == 0 || (len < size && !due && !draining) {
                break;
            }
            if let Some(backlog) = &self.backlog {
                // With a persistent queue, due batches go to disk whether or not a slot is
                // free: an outage fills the log, not memory. A full log leaves them queued.
                if !backlog.has_room() {
                    break;
                }
                // A few at a time: the exports in flight run on this thread too.
                if stored == 2 {
                    self.yield_soon = true;
                    break;
                }
                stored += 1;
            } else if self.in_flight_items.len() >= slots && len < size && !draining {
                // Every slot busy: encode the next full batch now, so that it leaves the moment
                // a slot frees (the pipe stays full). A partial batch waits: it may still fill,
                // unless a flush or shutdown wants it.
                break;
            }
            self.take_batch(size);
        }
        self.update_gauges();
    }

    /// Takes up to `max` items and encodes them into pending chunks.
    fn take_batch(&mut self, max: usize) {
        let mut batch = std::mem::take(&mut self.batch);
        let n = self.queue.take(max, &mut batch);
        self.taken += n as u64;
        let full = n >= self.aimd.batch_size();
        self.encode_chunks(&mut batch, full);
        self.batch = batch;
    }

    /// Splits `batch` by size estimate under the byte cap and encodes each part; leaves `batch`
    /// empty.
    fn encode_chunks(&mut self, batch: &mut Vec<T>, full: bool) {
        // The estimates read every item once more before encoding (on another core's cache
        // lines, for items made on an application thread): when the last body's rate puts this
        // batch under half the cap, encode it straight away. The body's size is checked anyway,
        // and halved when over the cap.
        if self.bytes_per_item > 0
            && batch.len() <= E::MAX_ITEMS_PER_REQUEST
            && batch.len().saturating_mul(self.bytes_per_item) <= self.config.max_batch_bytes() / 2
        {
            self.encode_chunk(batch, full);
            return;
        }
        let scale = match self.encoding {
            Encoding::Protobuf => 1,
            // OTLP/JSON is about twice as large: hex ids, quoted keys.
            Encoding::Json => 2,
        };
        let lengths = split_by_size(
            batch
                .iter()
                .map(|i| i.encoded_size_hint().saturating_mul(scale)),
            self.config.max_batch_bytes(),
            E::MAX_ITEMS_PER_REQUEST.max(1),
        );
        if lengths.len() == 1 {
            self.encode_chunk(batch, full);
            return;
        }
        let mut rest = std::mem::take(batch);
        for len in lengths {
            let tail = rest.split_off(len);
            self.encode_chunk(&mut rest, full);
            rest = tail;
        }
    }

    /// Encodes `items` as one request, halving it while the body is over the byte cap; leaves
    /// `items` empty. A single item over the cap is sent alone: the server decides.
    fn encode_chunk(&mut self, items: &mut Vec<T>, full: bool) {
        if items.is_empty() {
            return;
        }
        #[cfg(feature = "arrow")]
        if self.streams {
            let n = items.len();
            if let Some(batch) = self.encoder.stream_batch(items) {
                // The estimates split the batch under the byte cap (OTAP batches are smaller
                // than their OTLP requests): nothing to measure after encoding.
                self.push_chunk(n, full, Outgoing::Stream(batch));
                items.clear();
                return;
            }
        }
        let body = self.encoder.encode(items, self.encoding);
        self.bytes_per_item = body.len().div_ceil(items.len());
        if body.len() > self.config.max_batch_bytes() && items.len() > 1 {
            drop(body);
            let mut second = items.split_off(items.len() / 2);
            self.encode_chunk(items, full);
            self.encode_chunk(&mut second, full);
            return;
        }
        self.push_chunk(items.len(), full, Outgoing::Body(body));
        items.clear();
    }

    /// Queues a chunk of `items` items for a free export slot.
    /// With a persistent queue, the chunk is written to it (and sent from there); when that
    /// fails, it is sent from memory like any other.
    fn push_chunk(&mut self, items: usize, full: bool, body: Outgoing) {
        let id = self.next_id;
        self.next_id += 1;
        let _ = self.unsettled.insert(id);
        if let (Some(backlog), Outgoing::Body(encoded)) = (&mut self.backlog, &body)
            && backlog.store(encoded, items, id).is_ok()
        {
            return;
        }
        self.pending.push_back(Chunk {
            id,
            items,
            full,
            body,
            seq: None,
        });
    }

    fn launch(&mut self, chunk: Chunk) {
        let Chunk {
            id,
            items,
            full,
            body,
            seq,
        } = chunk;
        let _ = self.in_flight_items.insert(id, (items, seq));
        let connections = self.connections.clone();
        let timeout = self.config.export_timeout();
        let _ = self.in_flight.spawn(async move {
            let start = Instant::now();
            let export = async {
                match &connections {
                    Some(c) => c.export(E::SIGNAL, body).await,
                    None => Ok(ExportOutcome::not_sent()),
                }
            };
            let result = tokio::time::timeout(timeout, export).await.map_err(|_| ());
            Done {
                id,
                items,
                full,
                seq,
                latency: start.elapsed(),
                result,
            }
        });
    }

    /// Settles a finished export and feeds its latency to the controller.
    fn finish(&mut self, done: Done) {
        let Done {
            id,
            items,
            full,
            seq,
            latency,
            result,
        } = done;
        let _ = self.in_flight_items.remove(&id);
        // Requests sent beyond the first, and the batch's items as exported, rejected (a partial
        // success counts the server's rejections, at most the batch) or dropped for `reason`.
        let (retries, exported, rejected, reason) = match &result {
            Ok(Ok(outcome)) => {
                let rejected = usize::try_from(outcome.rejected.max(0))
                    .unwrap_or(usize::MAX)
                    .min(items);
                let retries = outcome.attempts.saturating_sub(1);
                (
                    retries,
                    items - rejected,
                    rejected,
                    DropReason::NonRetryable,
                )
            }
            Ok(Err(err)) => (err.attempts().saturating_sub(1), 0, 0, drop_reason(err)),
            Err(()) => (0, 0, 0, DropReason::RetriesExhausted),
        };
        let succeeded = matches!(result, Ok(Ok(_)));
        self.queue.record_export(retries);
        let kept = match (seq, &mut self.backlog) {
            // A transient failure stays in the log, unsettled, and goes again after a backoff.
            (Some(seq), Some(backlog)) if !succeeded && reason == DropReason::RetriesExhausted => {
                backlog.failed(seq, std::time::Instant::now());
                true
            }
            (Some(seq), Some(backlog)) => {
                backlog.settled(seq);
                false
            }
            _ => false,
        };
        if !kept {
            let _ = self.unsettled.remove(&id);
            self.queue.settle(items, exported, rejected, reason);
        }
        let _ = self.aimd.on_export(latency, full, succeeded);
        self.update_gauges();
    }

    fn update_gauges(&mut self) {
        // Counted from the accounting, not the task set, which still holds aborted tasks.
        self.queue
            .set_gauges(self.aimd.batch_size(), self.in_flight_items.len());
        if let Some(backlog) = &mut self.backlog {
            let corrupt = backlog.take_corrupt();
            self.queue
                .set_stored(backlog.stored_items(), backlog.bytes(), corrupt);
        }
    }
}

/// Why a failed export's items are dropped.
fn drop_reason(err: &Error) -> DropReason {
    if err.is_retryable_exhausted() || err.is_retryable() || err.is_timeout() {
        DropReason::RetriesExhausted
    } else {
        DropReason::NonRetryable
    }
}
