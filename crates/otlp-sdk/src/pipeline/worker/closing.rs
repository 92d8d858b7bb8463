//! Flushes and shutdown: which chunks a flush waits for and when it is answered, draining at
//! shutdown, and what is dropped (or, with a persistent queue, kept on disk) at the deadline.

use super::{Flush, Reply, Worker};
use crate::error::{Error, Kind};
use crate::pipeline::item::{BatchEncoder, PipelineItem};
use crate::pipeline::stats::DropReason;
use tokio::time::Instant;

impl<T: PipelineItem, E: BatchEncoder<T>> Worker<T, E> {
    /// Gives each flush whose items have all been taken (or dropped from the queue) the last
    /// chunk it waits for.
    pub(super) fn mark_drained_flushes(&mut self, queued: usize) {
        let (taken, last) = (self.taken, self.next_id - 1);
        for f in self.flushes.iter_mut().filter(|f| f.upto.is_none()) {
            if taken >= f.goal || queued == 0 {
                f.upto = Some(last);
            }
        }
    }

    /// A flush covers exactly the items queued before it: `dispatch` drains the queue up to
    /// them (one batch ahead at a time) and `answer_flushes` replies once they are settled.
    pub(super) fn start_flush(&mut self, deadline: Instant, reply: Reply) {
        let goal = self.taken + self.queue.peek().0 as u64;
        self.flushes.push(Flush {
            goal,
            upto: None,
            deadline,
            reply,
        });
    }

    /// Nothing is queued after this; `dispatch` drains what is, and the loop stops once all of
    /// it is settled (or the deadline drops the rest).
    pub(super) fn start_shutdown(&mut self, deadline: Instant, reply: Option<Reply>) {
        self.queue.close();
        if let Some(backlog) = &mut self.backlog {
            // One more try now for batches waiting out a backoff: the receiver may be back.
            backlog.end_backoff();
        }
        self.closing = Some((deadline, reply));
    }

    /// Answers the flushes whose items are all settled (`Ok`) or whose deadline passed.
    pub(super) fn answer_flushes(&mut self, now: Instant) {
        let oldest_unsettled = self.unsettled.first().copied().unwrap_or(u64::MAX);
        let mut i = 0;
        while i < self.flushes.len() {
            let f = &self.flushes[i];
            let result = if f.upto.is_some_and(|upto| upto < oldest_unsettled) {
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
    pub(super) fn abandon(&mut self) -> u64 {
        while let Some(done) = self.in_flight.try_join_next() {
            if let Ok(done) = done {
                self.finish(done);
            }
        }
        self.in_flight.abort_all();
        // With a persistent queue, what is still in memory goes to it, for the next start.
        let _ = self.store_queued();
        let mut dropped = 0;
        let in_flight: Vec<(usize, Option<u64>)> =
            self.in_flight_items.drain().map(|(_, v)| v).collect();
        let pending = self.pending.drain(..).map(|c| (c.items, None));
        for (items, seq) in in_flight.into_iter().chain(pending) {
            if let (Some(seq), Some(backlog)) = (seq, &mut self.backlog) {
                backlog.release(seq);
                continue;
            }
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
        if let Some(backlog) = &mut self.backlog {
            let _ = backlog.sync();
        }
        self.unsettled.clear();
        dropped
    }

    pub(super) fn finish_shutdown(&mut self, result: Result<(), Error>) {
        self.update_gauges();
        if let Some(mut backlog) = self.backlog.take() {
            // Closed (and its lock released) before anyone hears of the shutdown, so that a
            // pipeline started next on the directory can open it.
            let _ = backlog.sync();
        }
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
