//! The worker's side of the persistent queue: sending the batches in it, knowing when only
//! they are left at shutdown, and writing everything queued to it on request.

use super::{Chunk, Worker};
use crate::error::{Error, Kind};
use crate::pipeline::item::{BatchEncoder, PipelineItem};
use crate::pipeline::persist::Backlog;
use crate::pipeline::stats::DropReason;
use crate::transport::Outgoing;
use tokio::time::Instant;

impl<T: PipelineItem, E: BatchEncoder<T>> Worker<T, E> {
    /// Starts exports of batches in the persistent queue while slots are free.
    pub(super) fn launch_stored(&mut self, slots: usize) {
        let now = std::time::Instant::now();
        while self.in_flight_items.len() < slots {
            let Some(ready) = self.backlog.as_mut().and_then(|b| b.next_ready(now)) else {
                return;
            };
            let Some(body) = ready.body else {
                // Damaged on disk since it was written: it cannot be sent.
                if let Some(backlog) = &mut self.backlog {
                    backlog.settled(ready.seq);
                }
                let _ = self.unsettled.remove(&ready.chunk);
                self.queue.settle(ready.items, 0, 0, DropReason::Corrupted);
                continue;
            };
            self.launch(Chunk {
                id: ready.chunk,
                items: ready.items,
                full: ready.items >= self.aimd.batch_size(),
                body: Outgoing::Body(body),
                seq: Some(ready.seq),
            });
        }
    }

    /// With a persistent queue, at shutdown: whether everything unsettled is in it, none in
    /// flight, and none may be sent again before `deadline` (a backoff after failures): waiting
    /// longer would change nothing.
    pub(super) fn only_stored_left(&self, deadline: Instant) -> bool {
        let Some(backlog) = &self.backlog else {
            return false;
        };
        self.pending.is_empty()
            && self.in_flight_items.is_empty()
            && backlog
                .retry_at()
                .is_some_and(|t| Instant::from_std(t) >= deadline)
    }

    /// Moves everything queued in memory to the persistent queue (if any) while it has room;
    /// returns how many items stay in memory.
    pub(super) fn store_queued(&mut self) -> usize {
        while self.queue.peek().0 > 0 && self.backlog.as_ref().is_some_and(Backlog::has_room) {
            self.take_batch(self.aimd.batch_size());
        }
        self.queue.peek().0
    }

    /// Writes everything queued to the persistent queue and syncs it.
    pub(super) fn persist(&mut self) -> Result<(), Error> {
        if self.backlog.is_none() {
            return Err(Error::config("this pipeline has no persistent queue"));
        }
        let left = self.store_queued();
        if left > 0 {
            return Err(Error::new(
                Kind::Storage,
                format!(
                    "the persistent queue is full: {left} {} stay in memory",
                    E::SIGNAL.item_name()
                ),
            ));
        }
        let unwritten: usize = self.pending.iter().map(|c| c.items).sum();
        let synced = self.backlog.as_mut().map(Backlog::sync);
        self.update_gauges();
        if unwritten > 0 {
            return Err(Error::new(
                Kind::Storage,
                format!(
                    "{unwritten} {} could not be written to the persistent queue",
                    E::SIGNAL.item_name()
                ),
            ));
        }
        match synced {
            Some(Err(e)) => Err(Error::new(
                Kind::Storage,
                format!("cannot sync the persistent queue: {e}"),
            )),
            _ => Ok(()),
        }
    }
}
