//! [`Stats`]: what a pipeline accepted, exported, dropped and holds, as one consistent snapshot.

use otlp_proto::Signal;

/// Why items were not exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DropReason {
    /// The queue was full and the [`DropPolicy`](super::DropPolicy) chose the item.
    QueueFull,
    /// Shutdown's deadline passed before the item was exported.
    ShutdownTimeout,
    /// The server refused the batch for good (e.g. HTTP 400), or it could not be sent at all.
    NonRetryable,
    /// A transient failure lasted past the retry policy or the export timeout.
    RetriesExhausted,
    /// The item was offered after shutdown began.
    AfterShutdown,
    /// The item's batch in the persistent queue was damaged on disk when read back.
    Corrupted,
}

impl DropReason {
    /// Every reason, in the order of [`Dropped`]'s fields.
    pub const ALL: [DropReason; 6] = [
        DropReason::QueueFull,
        DropReason::ShutdownTimeout,
        DropReason::NonRetryable,
        DropReason::RetriesExhausted,
        DropReason::AfterShutdown,
        DropReason::Corrupted,
    ];

    /// A short name, as used for the `error.type` of `otel.sdk.*` metrics.
    pub const fn name(self) -> &'static str {
        match self {
            DropReason::QueueFull => "queue_full",
            DropReason::ShutdownTimeout => "shutdown_timeout",
            DropReason::NonRetryable => "non_retryable",
            DropReason::RetriesExhausted => "retries_exhausted",
            DropReason::AfterShutdown => "after_shutdown",
            DropReason::Corrupted => "corrupted",
        }
    }
}

/// Items dropped, by reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Dropped {
    /// See [`DropReason::QueueFull`].
    pub queue_full: u64,
    /// See [`DropReason::ShutdownTimeout`].
    pub shutdown_timeout: u64,
    /// See [`DropReason::NonRetryable`].
    pub non_retryable: u64,
    /// See [`DropReason::RetriesExhausted`].
    pub retries_exhausted: u64,
    /// See [`DropReason::AfterShutdown`].
    pub after_shutdown: u64,
    /// See [`DropReason::Corrupted`].
    pub corrupted: u64,
}

impl Dropped {
    /// All drops together.
    pub fn total(&self) -> u64 {
        self.queue_full
            + self.shutdown_timeout
            + self.non_retryable
            + self.retries_exhausted
            + self.after_shutdown
            + self.corrupted
    }

    /// The count for one reason.
    pub fn get(&self, reason: DropReason) -> u64 {
        match reason {
            DropReason::QueueFull => self.queue_full,
            DropReason::ShutdownTimeout => self.shutdown_timeout,
            DropReason::NonRetryable => self.non_retryable,
            DropReason::RetriesExhausted => self.retries_exhausted,
            DropReason::AfterShutdown => self.after_shutdown,
            DropReason::Corrupted => self.corrupted,
        }
    }

    pub(crate) fn add(&mut self, reason: DropReason, n: u64) {
        let slot = match reason {
            DropReason::QueueFull => &mut self.queue_full,
            DropReason::ShutdownTimeout => &mut self.shutdown_timeout,
            DropReason::NonRetryable => &mut self.non_retryable,
            DropReason::RetriesExhausted => &mut self.retries_exhausted,
            DropReason::AfterShutdown => &mut self.after_shutdown,
            DropReason::Corrupted => &mut self.corrupted,
        };
        *slot += n;
    }
}

/// A snapshot of a pipeline's counters and gauges, all taken at one instant.
///
/// Items are counted in pipeline items (spans, log records, metrics, profile requests). Every
/// item offered to [`Pipeline::enqueue`](super::Pipeline::enqueue) is `accepted`, every item
/// found in the [persistent queue](super::persist) at start is `recovered`, and each is then
/// in exactly one of `exported`, `dropped`, `rejected` (refused by the server in a partial
/// success) or `queued` (in the queue, or taken by the worker and not yet settled, `stored` in
/// the persistent queue among them), so
///
/// `accepted + recovered == exported + dropped.total() + rejected + queued`
///
/// holds in every snapshot ([`Stats::is_consistent`]): each change is made under the queue's
/// lock, in one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// The pipeline's signal.
    pub signal: Signal,
    /// Items offered.
    pub accepted: u64,
    /// Items the server accepted.
    pub exported: u64,
    /// Items not exported, by reason.
    pub dropped: Dropped,
    /// Items the server rejected in a partial success (clamped to the batch's item count).
    pub rejected: u64,
    /// Items accepted and not yet settled: queued, or in a batch being encoded, stored or
    /// exported.
    pub queued: u64,
    /// Items found in the persistent queue when the pipeline started (0 without one).
    pub recovered: u64,
    /// Gauge: items in the persistent queue not yet settled (part of `queued`).
    pub stored: u64,
    /// Gauge: bytes of the persistent queue on disk.
    pub stored_bytes: u64,
    /// Damaged or torn records of the persistent queue skipped: at start (each the rest of a
    /// segment), or read back damaged (their items are `dropped.corrupted`).
    pub corrupt_records: u64,
    /// Retries: requests sent beyond the first, summed over all exports.
    pub retried: u64,
    /// Export requests that ended (successfully or not).
    pub exports: u64,
    /// Gauge: items in the queue (at most the configured `max_queue_size`).
    pub queue_length: usize,
    /// Gauge: the adaptive batch size the next batch will have.
    pub batch_size: usize,
    /// Gauge: export requests in flight.
    pub in_flight_exports: usize,
}

impl Stats {
    pub(crate) fn new(signal: Signal, batch_size: usize) -> Self {
        Stats {
            signal,
            accepted: 0,
            exported: 0,
            dropped: Dropped::default(),
            rejected: 0,
            queued: 0,
            recovered: 0,
            stored: 0,
            stored_bytes: 0,
            corrupt_records: 0,
            retried: 0,
            exports: 0,
            queue_length: 0,
            batch_size,
            in_flight_exports: 0,
        }
    }

    /// Whether `accepted + recovered == exported + dropped + rejected + queued`: true in every
    /// snapshot.
    pub fn is_consistent(&self) -> bool {
        self.accepted + self.recovered
            == self.exported + self.dropped.total() + self.rejected + self.queued
    }

    /// Items that left the pipeline one way or another.
    pub fn settled(&self) -> u64 {
        self.exported + self.dropped.total() + self.rejected
    }

    /// Adds `other`'s counters and gauges to these (to sum pipelines of one signal).
    pub(crate) fn add(&mut self, other: &Stats) {
        self.accepted += other.accepted;
        self.exported += other.exported;
        self.dropped.queue_full += other.dropped.queue_full;
        self.dropped.shutdown_timeout += other.dropped.shutdown_timeout;
        self.dropped.non_retryable += other.dropped.non_retryable;
        self.dropped.retries_exhausted += other.dropped.retries_exhausted;
        self.dropped.after_shutdown += other.dropped.after_shutdown;
        self.dropped.corrupted += other.dropped.corrupted;
        self.rejected += other.rejected;
        self.queued += other.queued;
        self.recovered += other.recovered;
        self.stored += other.stored;
        self.stored_bytes += other.stored_bytes;
        self.corrupt_records += other.corrupt_records;
        self.retried += other.retried;
        self.exports += other.exports;
        self.queue_length += other.queue_length;
        self.batch_size += other.batch_size;
        self.in_flight_exports += other.in_flight_exports;
    }
}
