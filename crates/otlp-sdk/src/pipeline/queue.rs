//! The bounded queue between application threads and the worker, and the pipeline's counters.
//!
//! One `Mutex` guards the items and the counters together, so that every change of the
//! accounting happens in one critical section and any snapshot is exact. An enqueue holds the
//! lock for a push (and, on a full queue, a pop): tens of nanoseconds, with no allocation once
//! the deque has grown. The worker takes whole batches at a time, so it holds the lock once per
//! batch, not once per item. With [`DropPolicy::DropLowPriority`] items go to one of two deques by
//! priority, sharing one capacity budget; with the other policies priority is ignored and one
//! deque keeps the exact arrival order the policy needs.

use super::config::{Backpressure, DropPolicy};
use super::item::{PipelineItem, Priority};
use super::stats::{DropReason, Stats};
use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Instant;
use tokio::sync::Notify;

/// What became of an item handed to [`Pipeline::enqueue`](super::Pipeline::enqueue) (or sent
/// with [`OtlpClient::send_log`](crate::OtlpClient::send_log),
/// [`send_event`](crate::OtlpClient::send_event), [`Logger::emit`](crate::logs::Logger::emit)).
///
/// Known the moment the call returns: nothing waits. It can be ignored (it is not
/// `#[must_use]`: a dropped record is counted in the pipeline's [`Stats`](super::Stats)
/// anyway), inspected, or `.await`ed, which gives a `Result` for `?`:
///
/// ```no_run
/// # async fn demo(client: otlp::OtlpClient) -> Result<(), otlp::OtlpError> {
/// use otlp::logs::LogBuilder;
///
/// client.send_log(LogBuilder::new().with_body("fire and forget").build());
/// client.send_log(LogBuilder::new().with_body("queued, or an error").build()).await?;
/// # Ok(())
/// # }
/// ```
///
/// The `Ok` of the awaited form means *queued*, not exported:
/// [`OtlpClient::force_flush`](crate::OtlpClient::force_flush) waits for the export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Enqueued {
    /// The item is queued.
    Queued,
    /// The item is queued, and another one was dropped to make room for it
    /// ([`DropReason::QueueFull`]).
    QueuedDisplacing,
    /// The item was dropped, for this reason.
    Dropped(DropReason),
}

impl Enqueued {
    /// Whether the item itself is queued.
    pub fn is_queued(self) -> bool {
        !matches!(self, Enqueued::Dropped(_))
    }

    /// `Ok` when the item is queued (even if another one was dropped to make room for it);
    /// an error naming the [`DropReason`] ([`Error::drop_reason`](crate::Error::drop_reason))
    /// when it was dropped.
    pub fn into_result(self) -> Result<(), crate::Error> {
        match self {
            Enqueued::Queued | Enqueued::QueuedDisplacing => Ok(()),
            Enqueued::Dropped(reason) => Err(crate::Error::dropped(reason)),
        }
    }
}

/// `.await` gives [`Enqueued::into_result`], at once: the outcome is known when the call
/// returns.
impl std::future::IntoFuture for Enqueued {
    type Output = Result<(), crate::Error>;
    type IntoFuture = std::future::Ready<Result<(), crate::Error>>;

    fn into_future(self) -> Self::IntoFuture {
        std::future::ready(self.into_result())
    }
}

pub(crate) struct Queue<T> {
    state: Mutex<State<T>>,
    /// Signalled when room is made, for callers waiting under [`Backpressure::Wait`].
    room: Condvar,
    /// Wakes the worker: first item queued (the scheduled delay starts), or a batch is ready.
    pub(crate) wake_worker: Notify,
    capacity: usize,
    policy: DropPolicy,
    backpressure: Backpressure,
}

struct State<T> {
    high: VecDeque<T>,
    normal: VecDeque<T>,
    /// Counters; `queued` and `queue_length` are filled in by `snapshot`.
    stats: Stats,
    /// Items the worker took and has not settled yet.
    in_worker: u64,
    /// When the oldest queued item arrived, or (after a batch was taken and items were left)
    /// when that batch was taken.
    oldest: Option<Instant>,
    closed: bool,
    waiting: usize,
}

impl<T> State<T> {
    fn len(&self) -> usize {
        self.high.len() + self.normal.len()
    }
}

impl<T: PipelineItem> Queue<T> {
    pub(crate) fn new(
        stats: Stats,
        capacity: usize,
        policy: DropPolicy,
        backpressure: Backpressure,
    ) -> Self {
        Queue {
            state: Mutex::new(State {
                high: VecDeque::new(),
                normal: VecDeque::new(),
                stats,
                in_worker: 0,
                oldest: None,
                closed: false,
                waiting: 0,
            }),
            room: Condvar::new(),
            wake_worker: Notify::new(),
            capacity,
            policy,
            backpressure,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // The lock is never held across anything that can panic halfway through an update.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `item`, applying the drop policy (after waiting, with backpressure) when full.
    // Every ended span comes through here: inlined into the caller's push path.
    #[inline]
    pub(crate) fn push(&self, item: T) -> Enqueued {
        let high = self.policy == DropPolicy::DropLowPriority && item.priority() == Priority::High;
        let mut st = self.lock();
        st.stats.accepted += 1;
        if let Backpressure::Wait(timeout) = self.backpressure
            && st.len() >= self.capacity
            && !st.closed
        {
            let deadline = Instant::now() + timeout;
            st.waiting += 1;
            while st.len() >= self.capacity && !st.closed {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                st = self
                    .room
                    .wait_timeout(st, left)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            st.waiting -= 1;
        }
        if st.closed {
            st.stats.dropped.add(DropReason::AfterShutdown, 1);
            drop(st);
            return Enqueued::Dropped(DropReason::AfterShutdown);
        }
        let mut outcome = Enqueued::Queued;
        // Dropped after the lock is released: freeing an item can be slow.
        let mut victim = None;
        if st.len() >= self.capacity {
            let len = st.len();
            victim = match self.policy {
                DropPolicy::DropNewest => None,
                DropPolicy::DropOldest => st.normal.pop_front(),
                DropPolicy::DropRandom => match fastrand::usize(..=len) {
                    i if i == len => None,
                    i => st.normal.swap_remove_back(i),
                },
                DropPolicy::DropLowPriority if high => st.normal.pop_back(),
                DropPolicy::DropLowPriority => None,
            };
            st.stats.dropped.add(DropReason::QueueFull, 1);
            if victim.is_none() {
                drop(st);
                drop(item);
                return Enqueued::Dropped(DropReason::QueueFull);
            }
            outcome = Enqueued::QueuedDisplacing;
        }
        if high {
            st.high.push_back(item);
        } else {
            st.normal.push_back(item);
        }
        let len = st.len();
        let wake = len == 1 || len == st.stats.batch_size;
        if len == 1 {
            st.oldest = Some(Instant::now());
        }
        drop(st);
        drop(victim);
        if wake {
            self.wake_worker.notify_one();
        }
        outcome
    }

    /// Moves up to `max` items (high priority first) into `out`; they stay counted as queued
    /// until [`settle`](Queue::settle)d.
    pub(crate) fn take(&self, max: usize, out: &mut Vec<T>) -> usize {
        let mut st = self.lock();
        let from_high = st.high.len().min(max);
        out.extend(st.high.drain(..from_high));
        let from_normal = st.normal.len().min(max - from_high);
        out.extend(st.normal.drain(..from_normal));
        let n = from_high + from_normal;
        st.in_worker += n as u64;
        st.oldest = if st.len() == 0 {
            None
        } else {
            st.oldest.map(|_| Instant::now())
        };
        let wake_waiters = n > 0 && st.waiting > 0;
        drop(st);
        if wake_waiters {
            self.room.notify_all();
        }
        n
    }

    /// Items queued, and when the oldest arrived.
    pub(crate) fn peek(&self) -> (usize, Option<Instant>) {
        let st = self.lock();
        (st.len(), st.oldest)
    }

    /// Accounts for `items` the worker took: `exported` of them accepted by the server,
    /// `rejected` refused in a partial success, the rest dropped for `reason`.
    pub(crate) fn settle(
        &self,
        items: usize,
        exported: usize,
        rejected: usize,
        reason: DropReason,
    ) {
        let mut st = self.lock();
        let items = items as u64;
        st.in_worker -= items.min(st.in_worker);
        let exported = (exported as u64).min(items);
        let rejected = (rejected as u64).min(items - exported);
        st.stats.exported += exported;
        st.stats.rejected += rejected;
        st.stats.dropped.add(reason, items - exported - rejected);
    }

    /// Records one finished export request and its retries.
    pub(crate) fn record_export(&self, retries: u32) {
        let mut st = self.lock();
        st.stats.exports += 1;
        st.stats.retried += u64::from(retries);
    }

    /// Counts `items` found in the persistent queue at start: recovered, and queued until
    /// settled.
    pub(crate) fn recover(&self, items: u64, corrupt: u64) {
        let mut st = self.lock();
        st.stats.recovered += items;
        st.stats.corrupt_records += corrupt;
        st.in_worker += items;
    }

    /// Updates the persistent queue's gauges, and counts damaged records found since the last
    /// update.
    pub(crate) fn set_stored(&self, items: u64, bytes: u64, corrupt: u64) {
        let mut st = self.lock();
        st.stats.stored = items;
        st.stats.stored_bytes = bytes;
        st.stats.corrupt_records += corrupt;
    }

    /// Updates the gauges the worker owns.
    pub(crate) fn set_gauges(&self, batch_size: usize, in_flight_exports: usize) {
        let mut st = self.lock();
        st.stats.batch_size = batch_size;
        st.stats.in_flight_exports = in_flight_exports;
    }

    /// From now on every item offered is dropped ([`DropReason::AfterShutdown`]); callers
    /// waiting for room stop waiting.
    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.room.notify_all();
    }

    pub(crate) fn snapshot(&self) -> Stats {
        let st = self.lock();
        let mut stats = st.stats;
        stats.queue_length = st.len();
        stats.queued = st.len() as u64 + st.in_worker;
        stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use otlp_proto::Signal;

    #[derive(Debug, PartialEq)]
    struct Item(u32, Priority);

    impl PipelineItem for Item {
        fn priority(&self) -> Priority {
            self.1
        }
        fn encoded_size_hint(&self) -> usize {
            1
        }
    }

    fn queue(policy: DropPolicy) -> Queue<Item> {
        Queue::new(
            Stats::new(Signal::Traces, 100),
            3,
            policy,
            Backpressure::Never,
        )
    }

    fn fill(q: &Queue<Item>, items: &[(u32, Priority)]) -> Vec<Enqueued> {
        items.iter().map(|&(n, p)| q.push(Item(n, p))).collect()
    }

    fn ids(q: &Queue<Item>) -> Vec<u32> {
        let mut out = Vec::new();
        q.take(usize::MAX, &mut out);
        out.iter().map(|i| i.0).collect()
    }

    const N: Priority = Priority::Normal;
    const H: Priority = Priority::High;

    #[test]
    fn drop_newest_and_drop_oldest_keep_order() {
        let q = queue(DropPolicy::DropNewest);
        let r = fill(&q, &[(1, N), (2, H), (3, N), (4, H)]);
        assert_eq!(r[3], Enqueued::Dropped(DropReason::QueueFull));
        assert_eq!(ids(&q), [1, 2, 3], "priority ignored: one deque");
        let q = queue(DropPolicy::DropOldest);
        let r = fill(&q, &[(1, N), (2, H), (3, N), (4, N), (5, N)]);
        assert_eq!(r[4], Enqueued::QueuedDisplacing);
        assert_eq!(ids(&q), [3, 4, 5]);
        let s = q.snapshot();
        assert_eq!((s.accepted, s.dropped.queue_full, s.queued), (5, 2, 3));
        assert!(s.is_consistent());
    }

    #[test]
    fn drop_low_priority_keeps_high_items() {
        let q = queue(DropPolicy::DropLowPriority);
        let r = fill(
            &q,
            &[
                (1, N),
                (2, N),
                (3, N),
                (4, N),
                (5, H),
                (6, H),
                (7, H),
                (8, H),
            ],
        );
        assert_eq!(
            r[3],
            Enqueued::Dropped(DropReason::QueueFull),
            "new normal goes"
        );
        assert_eq!(
            r[4],
            Enqueued::QueuedDisplacing,
            "newest normal goes for a high"
        );
        assert_eq!(
            r[7],
            Enqueued::Dropped(DropReason::QueueFull),
            "only high left"
        );
        assert_eq!(ids(&q), [5, 6, 7], "high items first");
        assert!(q.snapshot().is_consistent());
    }

    #[test]
    fn drop_random_keeps_the_bound_and_the_count() {
        let q = queue(DropPolicy::DropRandom);
        for i in 0..100 {
            let _ = q.push(Item(i, N));
            let s = q.snapshot();
            assert!(s.queue_length <= 3);
            assert!(s.is_consistent());
        }
        let s = q.snapshot();
        assert_eq!(s.dropped.queue_full, 97);
        assert_eq!(ids(&q).len(), 3);
    }

    #[test]
    fn closed_queue_drops_and_settle_accounts() {
        let q = queue(DropPolicy::DropNewest);
        let _ = fill(&q, &[(1, N), (2, N), (3, N)]);
        let mut out = Vec::new();
        assert_eq!(q.take(2, &mut out), 2);
        let s = q.snapshot();
        assert_eq!((s.queue_length, s.queued), (1, 3));
        q.settle(2, 1, 1, DropReason::NonRetryable);
        q.close();
        assert_eq!(
            q.push(Item(9, H)),
            Enqueued::Dropped(DropReason::AfterShutdown)
        );
        let s = q.snapshot();
        assert_eq!((s.exported, s.rejected, s.queued, s.accepted), (1, 1, 1, 4));
        assert_eq!(s.dropped.after_shutdown, 1);
        assert!(s.is_consistent());
    }

    #[test]
    fn backpressure_waits_for_room_then_applies_the_policy() {
        let q = std::sync::Arc::new(Queue::new(
            Stats::new(Signal::Logs, 100),
            1,
            DropPolicy::DropNewest,
            Backpressure::Wait(std::time::Duration::from_secs(30)),
        ));
        assert_eq!(q.push(Item(1, N)), Enqueued::Queued);
        let q2 = q.clone();
        let waiter = std::thread::spawn(move || q2.push(Item(2, N)));
        // Wait (bounded) until the producer is blocked, then make room.
        let until = Instant::now() + std::time::Duration::from_secs(10);
        while q.lock().waiting == 0 && Instant::now() < until {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        assert_eq!(q.lock().waiting, 1, "the producer waits for room");
        assert_eq!(ids(&q), [1]);
        assert_eq!(waiter.join().expect("joins"), Enqueued::Queued);
        // A zero wait applies the policy at once.
        let q = Queue::new(
            Stats::new(Signal::Logs, 100),
            1,
            DropPolicy::DropNewest,
            Backpressure::Wait(std::time::Duration::ZERO),
        );
        let _ = q.push(Item(1, N));
        assert_eq!(q.push(Item(2, N)), Enqueued::Dropped(DropReason::QueueFull));
    }
}
