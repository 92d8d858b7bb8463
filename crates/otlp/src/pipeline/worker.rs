//! The pipeline's worker: one thread of its own with a current-thread tokio runtime, which
//! takes batches from the queue, encodes each once, exports up to `max_concurrent_exports` at a
//! time, and settles every item in the accounting.

use super::batcher::{AimdController, split_by_size};
use super::config::AdaptiveBatchConfig;
use super::item::{BatchEncoder, PipelineItem};
use super::queue::Queue;
use super::stats::DropReason;
use crate::body::EncodedBody;
use crate::error::{Error, Kind};
use crate::exporter::{ExportOutcome, Exporter};
use otlp_proto::Encoding;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep_until};

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
}

/// An encoded request waiting for a free export slot.
struct Chunk {
    id: u64,
    items: usize,
    full: bool,
    body: EncodedBody,
}

/// A finished export.
struct Done {
    id: u64,
    items: usize,
    full: bool,
    latency: Duration,
    /// `Err(())` when the pipeline's export timeout passed first.
    result: Result<Result<ExportOutcome, Error>, ()>,
}

struct Flush {
    /// Settled when every chunk with an id up to this one is.
    upto: u64,
    deadline: Instant,
    reply: Reply,
}

pub(crate) struct Worker<T, E> {
    queue: Arc<Queue<T>>,
    exporter: Exporter,
    encoder: E,
    encoding: Encoding,
    config: AdaptiveBatchConfig,
    aimd: AimdController,
    pending: VecDeque<Chunk>,
    in_flight: JoinSet<Done>,
    /// Items of each chunk in flight, by chunk id.
    in_flight_items: HashMap<u64, usize>,
    /// Ids of chunks pending or in flight.
    unsettled: BTreeSet<u64>,
    next_id: u64,
    flushes: Vec<Flush>,
    closing: Option<(Instant, Option<Reply>)>,
    batch: Vec<T>,
    _item: PhantomData<fn(T)>,
}

impl<T: PipelineItem, E: BatchEncoder<T>> Worker<T, E> {
    pub(crate) fn new(
        queue: Arc<Queue<T>>,
        exporter: Exporter,
        encoder: E,
        config: AdaptiveBatchConfig,
    ) -> Self {
        Worker {
            encoding: exporter.encoding(E::SIGNAL),
            aimd: AimdController::new(&config),
            queue,
            exporter,
            encoder,
            config,
            pending: VecDeque::new(),
            in_flight: JoinSet::new(),
            in_flight_items: HashMap::new(),
            unsettled: BTreeSet::new(),
            next_id: 1,
            flushes: Vec::new(),
            closing: None,
            batch: Vec::new(),
            _item: PhantomData,
        }
    }

    /// The worker's loop; returns once shutdown is complete.
    pub(crate) async fn run(mut self, mut control: mpsc::UnboundedReceiver<Control>) {
        loop {
            self.dispatch();
            self.answer_flushes(Instant::now());
            if let Some((deadline, _)) = &self.closing {
                if self.unsettled.is_empty() && self.queue.peek().0 == 0 {
                    self.finish_shutdown(Ok(()));
                    return;
                }
                if Instant::now() >= *deadline {
                    let dropped = self.abandon();
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
        [batch_due, flush_due, close_due]
            .into_iter()
            .flatten()
            .min()
    }

    /// Starts exports while slots are free, taking new batches from the queue when one is due.
    fn dispatch(&mut self) {
        let slots = self.config.max_concurrent_exports();
        loop {
            while self.in_flight_items.len() < slots
                && let Some(chunk) = self.pending.pop_front()
            {
                self.launch(chunk);
            }
            if !self.pending.is_empty() {
                break;
            }
            let (len, oldest) = self.queue.peek();
            let size = self.aimd.batch_size();
            let due = oldest.is_some_and(|t| t.elapsed() >= self.config.scheduled_delay());
            if len == 0 || (len < size && !due && self.closing.is_none()) {
                break;
            }
            // Every slot busy: encode the next full batch now, so that it leaves the moment a
            // slot frees (the pipe stays full). A partial batch waits: it may still fill.
            if self.in_flight_items.len() >= slots && len < size {
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
        let full = n >= self.aimd.batch_size();
        self.encode_chunks(&mut batch, full);
        self.batch = batch;
    }

    /// Splits `batch` by size estimate under the byte cap and encodes each part; leaves `batch`
    /// empty.
    fn encode_chunks(&mut self, batch: &mut Vec<T>, full: bool) {
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
        let body = self.encoder.encode(items, self.encoding);
        if body.len() > self.config.max_batch_bytes() && items.len() > 1 {
            drop(body);
            let mut second = items.split_off(items.len() / 2);
            self.encode_chunk(items, full);
            self.encode_chunk(&mut second, full);
            return;
        }
        let id = self.next_id;
        self.next_id += 1;
        let _ = self.unsettled.insert(id);
        self.pending.push_back(Chunk {
            id,
            items: items.len(),
            full,
            body,
        });
        items.clear();
    }

    fn launch(&mut self, chunk: Chunk) {
        let Chunk {
            id,
            items,
            full,
            body,
        } = chunk;
        let _ = self.in_flight_items.insert(id, items);
        let exporter = self.exporter.clone();
        let timeout = self.config.export_timeout();
        let _ = self.in_flight.spawn(async move {
            let start = Instant::now();
            let result = tokio::time::timeout(timeout, exporter.export_encoded(E::SIGNAL, body))
                .await
                .map_err(|_| ());
            Done {
                id,
                items,
                full,
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
            latency,
            result,
        } = done;
        let _ = self.in_flight_items.remove(&id);
        let _ = self.unsettled.remove(&id);
        let succeeded = match result {
            Ok(Ok(outcome)) => {
                // A partial success counts the server's rejections, at most the batch.
                let rejected = usize::try_from(outcome.rejected.max(0))
                    .unwrap_or(usize::MAX)
                    .min(items);
                self.queue.record_export(outcome.attempts.saturating_sub(1));
                self.queue
                    .settle(items, items - rejected, rejected, DropReason::NonRetryable);
                true
            }
            Ok(Err(err)) => {
                self.queue.record_export(err.attempts().saturating_sub(1));
                self.queue.settle(items, 0, 0, drop_reason(&err));
                false
            }
            Err(()) => {
                self.queue.record_export(0);
                self.queue.settle(items, 0, 0, DropReason::RetriesExhausted);
                false
            }
        };
        let _ = self.aimd.on_export(latency, full, succeeded);
        self.update_gauges();
    }

    fn update_gauges(&self) {
        // Counted from the accounting, not the task set, which still holds aborted tasks.
        self.queue
            .set_gauges(self.aimd.batch_size(), self.in_flight_items.len());
    }

    /// Takes everything queued now into pending chunks, so that a flush or shutdown covers
    /// exactly the items queued before it.
    fn take_everything(&mut self) {
        let mut batch = std::mem::take(&mut self.batch);
        loop {
            let size = self.aimd.batch_size();
            if self.queue.take(size, &mut batch) == 0 {
                break;
            }
            let full = batch.len() >= size;
            self.encode_chunks(&mut batch, full);
        }
        self.batch = batch;
    }

    fn start_flush(&mut self, deadline: Instant, reply: Reply) {
        self.take_everything();
        self.flushes.push(Flush {
            upto: self.next_id - 1,
            deadline,
            reply,
        });
    }

    fn start_shutdown(&mut self, deadline: Instant, reply: Option<Reply>) {
        self.queue.close();
        self.take_everything();
        self.closing = Some((deadline, reply));
    }

    /// Answers the flushes whose items are all settled (`Ok`) or whose deadline passed.
    fn answer_flushes(&mut self, now: Instant) {
        let oldest_unsettled = self.unsettled.first().copied().unwrap_or(u64::MAX);
        let mut i = 0;
        while i < self.flushes.len() {
            let f = &self.flushes[i];
            let result = if f.upto < oldest_unsettled {
                Ok(())
            } else if now >= f.deadline {
                Err(Error::new(
                    Kind::Timeout,
                    "the flush deadline passed before the queued items were exported",
                ))
            } else {
                i += 1;
                continue;
            };
            let _ = self.flushes.swap_remove(i).reply.send(result);
        }
    }

    /// At the shutdown deadline: settles finished exports, then counts everything else as
    /// dropped ([`DropReason::ShutdownTimeout`]) and cancels it. Returns how many were dropped.
    fn abandon(&mut self) -> u64 {
        while let Some(done) = self.in_flight.try_join_next() {
            if let Ok(done) = done {
                self.finish(done);
            }
        }
        self.in_flight.abort_all();
        let mut dropped = 0;
        let in_flight: Vec<usize> = self.in_flight_items.drain().map(|(_, n)| n).collect();
        let pending: Vec<usize> = self.pending.drain(..).map(|c| c.items).collect();
        for items in in_flight.into_iter().chain(pending) {
            self.queue.settle(items, 0, 0, DropReason::ShutdownTimeout);
            dropped += items as u64;
        }
        // Nothing can be queued after close, but settle anything that raced in before it.
        let mut batch = Vec::new();
        while self.queue.take(usize::MAX, &mut batch) > 0 {
            self.queue
                .settle(batch.len(), 0, 0, DropReason::ShutdownTimeout);
            dropped += batch.len() as u64;
            batch.clear();
        }
        self.unsettled.clear();
        dropped
    }

    fn finish_shutdown(&mut self, result: Result<(), Error>) {
        self.update_gauges();
        if result.is_ok() {
            self.answer_flushes(Instant::now());
        }
        for flush in self.flushes.drain(..) {
            let _ = flush.reply.send(Err(Error::new(
                Kind::Shutdown,
                "the pipeline shut down before the flush completed",
            )));
        }
        if let Some((_, Some(reply))) = self.closing.take() {
            let _ = reply.send(result);
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
