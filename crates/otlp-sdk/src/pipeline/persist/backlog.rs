//! [`Backlog`]: the worker's side of the persistent queue — the batches in the log not yet
//! settled, which of them are in flight, and when a failed one may go again.

use super::PersistentQueue;
use super::wal::{Stored, Wal};
use crate::body::EncodedBody;
use crate::error::Error;
use bytes::Bytes;
use otlp_proto::Encoding;
use std::collections::BTreeMap;
use std::io;
use std::time::{Duration, Instant};

const MIN_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

struct Entry {
    stored: Stored,
    /// The worker's chunk id for it.
    chunk: u64,
    /// The payload, while it is still in memory (a batch about to be sent).
    body: Option<Bytes>,
    in_flight: bool,
}

/// A batch from the log, ready to be sent.
pub(crate) struct Ready {
    pub(crate) seq: u64,
    pub(crate) chunk: u64,
    pub(crate) items: usize,
    /// `None` when its record was damaged on disk since it was written: the worker drops it.
    pub(crate) body: Option<EncodedBody>,
}

/// The batches of a pipeline's persistent queue not yet settled, oldest first.
pub(crate) struct Backlog {
    wal: Wal,
    entries: BTreeMap<u64, Entry>,
    /// After a transient failure, nothing is sent before this.
    retry_at: Option<Instant>,
    backoff: Duration,
    stored_items: u64,
    corrupt: u64,
    /// Bytes of payloads kept in memory, and the most that may be.
    kept: usize,
    keep_budget: usize,
}

impl Backlog {
    /// Opens the log; the batches found in it get chunk ids from `first_chunk` on, in order.
    /// Up to `keep_budget` bytes of batches just written stay in memory too, so that a healthy
    /// pipeline does not read back what it wrote.
    pub(crate) fn open(
        config: &PersistentQueue,
        first_chunk: u64,
        keep_budget: usize,
    ) -> Result<Backlog, Error> {
        config.validate()?;
        let (wal, recovery) = Wal::open(config)?;
        let mut backlog = Backlog {
            wal,
            entries: BTreeMap::new(),
            retry_at: None,
            backoff: MIN_BACKOFF,
            stored_items: 0,
            corrupt: recovery.corrupt,
            kept: 0,
            keep_budget,
        };
        for (chunk, stored) in (first_chunk..).zip(recovery.records) {
            backlog.insert(stored, chunk, None);
        }
        Ok(backlog)
    }

    fn insert(&mut self, stored: Stored, chunk: u64, body: Option<Bytes>) {
        self.stored_items += u64::from(stored.items);
        let _ = self.entries.insert(
            stored.seq,
            Entry {
                stored,
                chunk,
                body,
                in_flight: false,
            },
        );
    }

    /// The chunk ids and item counts of the batches, oldest first.
    pub(crate) fn chunks(&self) -> impl Iterator<Item = (u64, usize)> + '_ {
        self.entries
            .values()
            .map(|e| (e.chunk, e.stored.items as usize))
    }

    /// Whether the log is under its size cap (one more batch may take it over by that batch).
    pub(crate) fn has_room(&self) -> bool {
        self.wal.has_room(0)
    }

    /// Writes a batch to the log as chunk `chunk`, keeping its payload in memory too while the
    /// budget allows. On failure the batch is not in the log.
    pub(crate) fn store(&mut self, body: &EncodedBody, items: usize, chunk: u64) -> io::Result<()> {
        let message = body.message();
        let items = u32::try_from(items).map_err(io::Error::other)?;
        let stored = self.wal.append(body.encoding(), items, &message)?;
        let keep = self.kept + message.len() <= self.keep_budget;
        if keep {
            self.kept += message.len();
        }
        self.insert(stored, chunk, keep.then_some(message));
        Ok(())
    }

    /// The oldest batch neither in flight nor waiting out a backoff, marked in flight.
    pub(crate) fn next_ready(&mut self, now: Instant) -> Option<Ready> {
        if self.retry_at.is_some_and(|t| now < t) {
            return None;
        }
        let entry = self.entries.values_mut().find(|e| !e.in_flight)?;
        entry.in_flight = true;
        let stored = entry.stored;
        let payload = match entry.body.take() {
            Some(bytes) => {
                self.kept -= bytes.len().min(self.kept);
                Some(bytes)
            }
            None => self.wal.read(&stored).ok().flatten(),
        };
        let body = payload.map(|bytes| match stored.encoding {
            Encoding::Protobuf => EncodedBody::protobuf(bytes),
            Encoding::Json => EncodedBody::json(bytes),
        });
        if body.is_none() {
            self.corrupt += 1;
        }
        Some(Ready {
            seq: stored.seq,
            chunk: entry.chunk,
            items: stored.items as usize,
            body,
        })
    }

    /// The batch is settled (exported, partly rejected, refused for good, or unreadable): it
    /// is acknowledged in the log. A failed acknowledgement only means it is sent again after a
    /// restart.
    pub(crate) fn settled(&mut self, seq: u64) {
        if let Some(entry) = self.entries.remove(&seq) {
            self.stored_items -= u64::from(entry.stored.items).min(self.stored_items);
            let _ = self.wal.ack(&entry.stored);
        }
        self.retry_at = None;
        self.backoff = MIN_BACKOFF;
    }

    /// The batch failed for a transient reason: it stays, and nothing is sent for a while.
    pub(crate) fn failed(&mut self, seq: u64, now: Instant) {
        if let Some(entry) = self.entries.get_mut(&seq) {
            entry.in_flight = false;
        }
        let at = now + self.backoff;
        self.retry_at = Some(self.retry_at.map_or(at, |t| t.max(at)));
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
    }

    /// Sends again without waiting for the backoff to end (the next failure starts a new one).
    pub(crate) fn end_backoff(&mut self) {
        self.retry_at = None;
    }

    /// The batch's export was cancelled (shutdown): it stays in the log.
    pub(crate) fn release(&mut self, seq: u64) {
        if let Some(entry) = self.entries.get_mut(&seq) {
            entry.in_flight = false;
        }
    }

    /// Whether a batch waits to be sent (not in flight).
    pub(crate) fn waiting(&self) -> bool {
        self.entries.values().any(|e| !e.in_flight)
    }

    /// When a batch may be sent again after a failure (if one waits for that).
    pub(crate) fn retry_at(&self) -> Option<Instant> {
        self.retry_at.filter(|_| self.waiting())
    }

    /// When the worker must wake for the log: a backoff ending, or a sync falling due.
    pub(crate) fn next_wake(&self) -> Option<Instant> {
        [self.retry_at(), self.wal.sync_due()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Syncs when the interval policy says so.
    pub(crate) fn sync_if_due(&mut self, now: Instant) -> io::Result<()> {
        match self.wal.sync_due() {
            Some(due) if due <= now => self.wal.sync(),
            _ => Ok(()),
        }
    }

    /// Syncs now, whatever the policy.
    pub(crate) fn sync(&mut self) -> io::Result<()> {
        self.wal.sync()
    }

    /// Items in the log, not yet settled.
    pub(crate) fn stored_items(&self) -> u64 {
        self.stored_items
    }

    /// Bytes of the log on disk.
    pub(crate) fn bytes(&self) -> u64 {
        self.wal.bytes()
    }

    /// Damaged records found since the last call (at start, or read back since).
    pub(crate) fn take_corrupt(&mut self) -> u64 {
        std::mem::take(&mut self.corrupt)
    }
}
