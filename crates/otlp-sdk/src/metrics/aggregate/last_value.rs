//! The last value of a gauge: one atomic for the value, one for whether (and since when) a value
//! was recorded.
//!
//! Not striped, unlike sums and histograms: a last value has one winner, so stripes would have to
//! be told apart at collection by when each was written (a clock or a shared sequence per
//! recording, as contended as the one cell). A recording is a plain store, never a
//! read-modify-write loop, so sharing the line costs threads little.

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use super::sum::Number;

// What `LastValue::state` says, in increasing order so that a take is one `fetch_min`.
/// Nothing recorded yet.
const NEVER: u8 = 0;
/// Recorded before the last take, not since.
const COLLECTED: u8 = 1;
/// Recorded since the last take.
const FRESH: u8 = 2;

/// The last value recorded into a gauge series.
#[derive(Debug, Default)]
pub struct LastValue<N: Number> {
    bits: AtomicU64,
    state: AtomicU8,
    _number: std::marker::PhantomData<N>,
}

impl<N: Number> LastValue<N> {
    /// Records `v`, replacing the value before it.
    #[inline]
    pub(crate) fn record(&self, v: N) {
        self.bits.store(v.to_bits(), Ordering::Relaxed);
        // After the value, releasing it: a collector that sees `FRESH` sees this value or a
        // later one.
        self.state.store(FRESH, Ordering::Release);
    }

    /// The last value ever recorded, if any (cumulative temporality).
    pub(crate) fn value(&self) -> Option<N> {
        (self.state.load(Ordering::Acquire) != NEVER)
            .then(|| N::from_bits(self.bits.load(Ordering::Relaxed)))
    }

    /// The last value if one was recorded since the last take (delta temporality). A
    /// recording racing the take may be reported now and again at the next take (its value
    /// stored before this take, its state after), never lost.
    pub(crate) fn take(&self) -> Option<N> {
        // `FRESH` becomes `COLLECTED`; `NEVER` stays, so a later `value` still says none.
        (self.state.fetch_min(COLLECTED, Ordering::AcqRel) == FRESH)
            .then(|| N::from_bits(self.bits.load(Ordering::Relaxed)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn cumulative_reports_the_last_value_ever_recorded() {
        let g = LastValue::<i64>::default();
        assert_eq!(g.value(), None, "nothing recorded");
        g.record(5);
        g.record(-7);
        assert_eq!(g.value(), Some(-7));
        assert_eq!(g.value(), Some(-7), "a read changes nothing");
        assert_eq!(g.take(), Some(-7));
        assert_eq!(
            g.value(),
            Some(-7),
            "nor does a take, for cumulative readers"
        );
    }

    #[test]
    fn delta_reports_only_what_was_recorded_since_the_last_take() {
        let g = LastValue::<f64>::default();
        assert_eq!(g.take(), None, "nothing recorded");
        assert_eq!(
            g.value(),
            None,
            "a take on nothing recorded is still nothing"
        );
        g.record(0.5);
        g.record(-2.25);
        assert_eq!(g.take(), Some(-2.25));
        assert_eq!(g.take(), None, "nothing since");
        // The same value again is a new recording.
        g.record(-2.25);
        assert_eq!(g.take(), Some(-2.25));
        let u = LastValue::<u64>::default();
        u.record(u64::MAX);
        assert_eq!((u.take(), u.value()), (Some(u64::MAX), Some(u64::MAX)));
    }

    #[test]
    fn threads_racing_a_collector_leave_a_recorded_value() {
        let g = Arc::new(LastValue::<u64>::default());
        let writers: Vec<_> = (1..=4u64)
            .map(|t| {
                let g = g.clone();
                std::thread::spawn(move || {
                    for i in 0..10_000 {
                        g.record(t * 100_000 + i);
                    }
                })
            })
            .collect();
        for _ in 0..1000 {
            if let Some(v) = g.take() {
                assert!((100_000..500_000).contains(&v), "{v}");
            }
        }
        for w in writers {
            w.join().unwrap();
        }
        // The last recording of some thread wins, and is reported once more at most.
        let last = g.value().unwrap();
        assert_eq!(last % 100_000, 9_999, "{last}");
        let _ = g.take();
        assert_eq!(g.take(), None);
    }
}
