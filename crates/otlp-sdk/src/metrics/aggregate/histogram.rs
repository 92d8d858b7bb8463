//! Explicit-bucket histograms many threads record into at once: per stripe, the bucket counts,
//! the sum, the min and the max, a thread recording into the stripe it was given; collection
//! adds the stripes up (or takes them, for delta temporality, each cell with one atomic swap, so
//! recording never waits for it).
//!
//! There is no count cell: the count is the sum of the bucket counts, so a point's count always
//! equals the sum of its buckets (as OTLP requires) however a take falls among a recording's
//! writes, and a recording costs one atomic fewer.

use std::sync::atomic::{AtomicU64, Ordering};

use otlp_proto::metrics::HistogramDataPoint;

use super::buckets::Boundaries;
use super::sum::{Number, stripes, thread_number};
use std::sync::{Mutex, PoisonError};

/// A value a histogram can record.
pub trait Measurement: Copy + Send + Sync + 'static {
    /// The value as a float (bucket search, sum, min and max are in floats, as in OTLP).
    fn as_f64(self) -> f64;
}

impl Measurement for u64 {
    #[inline]
    fn as_f64(self) -> f64 {
        self as f64
    }
}

impl Measurement for i64 {
    #[inline]
    fn as_f64(self) -> f64 {
        self as f64
    }
}

impl Measurement for f64 {
    #[inline]
    fn as_f64(self) -> f64 {
        self
    }
}

/// Cells per line: 16 × 8 bytes fill two cache lines (adjacent-line prefetch pairs them).
const PER_LINE: usize = 16;

/// Cells alone on their cache lines: a stripe's cells never share a line with another stripe's.
#[repr(align(128))]
#[derive(Debug, Default)]
struct Line([AtomicU64; PER_LINE]);

// Where each cell of a stripe is: the sum, min and max first, then the bucket counts.
const SUM: usize = 0;
const MIN: usize = 1;
const MAX: usize = 2;
const FIRST_BUCKET: usize = 3;

/// One stripe's cells, in whole lines.
#[derive(Debug)]
struct Stripe(Box<[Line]>);

impl Stripe {
    fn new(buckets: usize) -> Self {
        let cells = FIRST_BUCKET + buckets;
        let stripe = Stripe(
            (0..cells.div_ceil(PER_LINE))
                .map(|_| Line::default())
                .collect(),
        );
        stripe
            .cell(MIN)
            .store(f64::INFINITY.to_bits(), Ordering::Relaxed);
        stripe
            .cell(MAX)
            .store(f64::NEG_INFINITY.to_bits(), Ordering::Relaxed);
        stripe
    }

    #[inline]
    fn cell(&self, i: usize) -> &AtomicU64 {
        &self.0[i / PER_LINE].0[i % PER_LINE]
    }
}

/// Lowers (`lower`) or raises a float cell to `v` if `v` is beyond it; no write otherwise, so a
/// steady stream inside the range leaves the line clean.
#[inline]
fn extend_f64(cell: &AtomicU64, v: f64, lower: bool) {
    let beyond = |bits: u64| {
        let current = f64::from_bits(bits);
        if lower { v < current } else { v > current }
    };
    // `Err` means `v` is within the range already: nothing to do.
    let _ = cell.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
        beyond(bits).then_some(v.to_bits())
    });
}

/// An explicit-bucket histogram of one series.
///
/// The first [`stripes`] threads numbered have a stripe of their own, whose bucket counts and
/// sum they add to with a plain load and store (an interval's count or sum is the running
/// value less the value at the last take, which the collector keeps); min and max stay atomic
/// (written only when a value is beyond them), swapped by takes. Later threads share the
/// other stripes.
#[derive(Debug)]
pub struct Histogram {
    boundaries: Boundaries,
    /// `owned` stripes of one writer each, then the shared ones.
    stripes: Box<[Stripe]>,
    owned: usize,
    /// The number of shared stripes less one.
    mask: usize,
    /// The owned stripes' bucket counts at the last take, stripe after stripe.
    taken: Mutex<Box<[u64]>>,
}

impl Histogram {
    /// An empty histogram over `boundaries`.
    pub(crate) fn new(boundaries: Boundaries) -> Self {
        Histogram::with_owned(boundaries, stripes())
    }

    /// A histogram whose threads numbered below `owned` have a stripe of their own.
    fn with_owned(boundaries: Boundaries, owned: usize) -> Self {
        let stripes: Box<[Stripe]> = (0..owned + stripes())
            .map(|_| Stripe::new(boundaries.buckets()))
            .collect();
        Histogram {
            // Per owned stripe: its bucket counts and its sum at the last take.
            taken: Mutex::new(vec![0; owned * (boundaries.buckets() + 1)].into_boxed_slice()),
            boundaries,
            mask: stripes.len() - owned - 1,
            owned,
            stripes,
        }
    }

    /// The stripe this thread records into, and whether it is its own.
    #[inline]
    fn mine(&self) -> (&Stripe, bool) {
        let n = thread_number();
        match self.stripes.get(n) {
            Some(own) if n < self.owned => (own, true),
            _ => (&self.stripes[self.owned + (n & self.mask)], false),
        }
    }

    /// Records `v`; NaN is ignored (it has no bucket, and would poison the sum). Negative
    /// values are recorded: only the API refuses them, for histogram instruments.
    #[inline]
    pub(crate) fn record<M: Measurement>(&self, v: M) {
        let v = v.as_f64();
        if v.is_nan() {
            return;
        }
        let (stripe, own) = self.mine();
        if own {
            // The only writer of its stripe: a plain add, no read-modify-write.
            let sum = stripe.cell(SUM);
            let total = f64::from_bits(sum.load(Ordering::Relaxed)) + v;
            sum.store(total.to_bits(), Ordering::Relaxed);
        } else {
            <f64 as Number>::add_to(stripe.cell(SUM), v);
        }
        extend_f64(stripe.cell(MIN), v, true);
        extend_f64(stripe.cell(MAX), v, false);
        // Last, and releasing: a collector that takes this count (acquiring) then finds the sum,
        // min and max above in the same take, so a counted value is never missing from them.
        let count = stripe.cell(FIRST_BUCKET + self.boundaries.bucket(v));
        if own {
            // The only writer of this cell: no other add can come between.
            count.store(count.load(Ordering::Relaxed) + 1, Ordering::Release);
        } else {
            count.fetch_add(1, Ordering::Release);
        }
    }

    /// Loads each stripe's first line (see `Aggregator::touch`).
    #[inline]
    pub(crate) fn touch(&self) {
        for stripe in self.stripes.iter() {
            std::hint::black_box(stripe.cell(SUM).load(Ordering::Relaxed));
        }
    }

    /// Fills `point`'s count, sum, bucket counts, bounds, min and max with everything recorded
    /// so far (cumulative temporality). Attributes, timestamps, exemplars and flags are the
    /// caller's; `point`'s vectors are reused.
    pub(crate) fn read_into(&self, point: &mut HistogramDataPoint) {
        self.collect_into(point, false);
    }

    /// Fills `point` as [`Histogram::read_into`] does, with what was recorded since the last
    /// take, starting again from empty (delta temporality). A recording racing the take may
    /// have its sum, min or max in this point and its count in the next, never the reverse;
    /// over all points every recording is counted and summed exactly once. So a delta point
    /// of count 0 may still carry a sum (report it rather than drop it if totals matter), and
    /// one of count above 0 may lack a min and max (its values' went into the point before).
    pub(crate) fn take_into(&self, point: &mut HistogramDataPoint) {
        self.collect_into(point, true);
    }

    fn collect_into(&self, point: &mut HistogramDataPoint, take: bool) {
        let get = |cell: &AtomicU64, reset: f64| {
            if take {
                cell.swap(reset.to_bits(), Ordering::Acquire)
            } else {
                cell.load(Ordering::Acquire)
            }
        };
        point.bucket_counts.clear();
        point.bucket_counts.resize(self.boundaries.buckets(), 0);
        point.explicit_bounds.clear();
        point
            .explicit_bounds
            .extend_from_slice(self.boundaries.as_slice());
        let (mut sum, mut min, mut max) = (0.0, f64::INFINITY, f64::NEG_INFINITY);
        let mut taken = self.taken.lock().unwrap_or_else(PoisonError::into_inner);
        let buckets = self.boundaries.buckets();
        let mut taken = taken.chunks_exact_mut(buckets + 1);
        for stripe in &self.stripes {
            // Buckets first: see `record` (zero is all-zero bits, as a count and as a float).
            // An owned stripe is only read: its interval is the difference from the last take.
            let mut last = taken.next();
            for (i, count) in point.bucket_counts.iter_mut().enumerate() {
                let cell = stripe.cell(FIRST_BUCKET + i);
                *count += match last.as_deref_mut() {
                    Some(last) => {
                        let now = cell.load(Ordering::Acquire);
                        let before = if take {
                            std::mem::replace(&mut last[i], now)
                        } else {
                            last[i]
                        };
                        now.wrapping_sub(before)
                    }
                    None if take => cell.swap(0, Ordering::Acquire),
                    None => cell.load(Ordering::Acquire),
                };
            }
            sum += match last {
                // The owner's running total: the interval's sum is what it gained since the
                // last take (a difference of two totals, exact to their last bit).
                Some(last) => {
                    let now = stripe.cell(SUM).load(Ordering::Acquire);
                    let before = if take {
                        std::mem::replace(&mut last[buckets], now)
                    } else {
                        last[buckets]
                    };
                    f64::from_bits(now) - f64::from_bits(before)
                }
                None => f64::from_bits(get(stripe.cell(SUM), 0.0)),
            };
            min = min.min(f64::from_bits(get(stripe.cell(MIN), f64::INFINITY)));
            max = max.max(f64::from_bits(get(stripe.cell(MAX), f64::NEG_INFINITY)));
        }
        point.count = point.bucket_counts.iter().sum();
        point.sum = Some(sum);
        // `min > max` when the interval's values had their min and max in an earlier take (see
        // `take_into`): none to report then, rather than infinities no one recorded.
        let known = point.count > 0 && min <= max;
        point.min = known.then_some(min);
        point.max = known.then_some(max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;

    fn read(h: &Histogram) -> HistogramDataPoint {
        let mut p = HistogramDataPoint::default();
        h.read_into(&mut p);
        p
    }

    fn take(h: &Histogram) -> HistogramDataPoint {
        let mut p = HistogramDataPoint::default();
        h.take_into(&mut p);
        p
    }

    fn histogram(bounds: &[f64]) -> Histogram {
        Histogram::new(Boundaries::new(bounds).unwrap())
    }

    #[test]
    fn values_land_in_upper_inclusive_buckets() {
        let h = histogram(&[0.0, 10.0, 100.0]);
        for v in [
            -5.0,
            0.0,
            1e-9,
            10.0,
            10.000001,
            100.0,
            100.5,
            f64::INFINITY,
        ] {
            h.record(v);
        }
        h.record(-0.0f64);
        h.record(10u64);
        h.record(-3i64);
        let p = read(&h);
        // (-inf, 0]: -5, 0, -0, -3; (0, 10]: 1e-9, 10, 10u64; (10, 100]: 10.000001, 100;
        // (100, inf): 100.5, inf.
        assert_eq!(p.bucket_counts, [4, 3, 2, 2]);
        assert_eq!(p.explicit_bounds, [0.0, 10.0, 100.0]);
        assert_eq!(p.count, 11);
    }

    #[test]
    fn count_sum_min_max_and_nan_ignored() {
        let h = histogram(&[1.0]);
        let empty = read(&h);
        assert_eq!((empty.count, empty.sum), (0, Some(0.0)));
        assert_eq!(
            (empty.min, empty.max),
            (None, None),
            "no min/max without values"
        );
        assert_eq!(empty.bucket_counts, [0, 0]);
        for v in [2.5, f64::NAN, -1.5, 0.5] {
            h.record(v);
        }
        h.record(4u64);
        let p = read(&h);
        assert_eq!(p.count, 4, "NaN is not counted");
        assert_eq!(p.sum, Some(5.5), "nor summed");
        assert_eq!((p.min, p.max), (Some(-1.5), Some(4.0)));
        assert_eq!(p.bucket_counts, [2, 2], "nor put in a bucket");
    }

    #[test]
    fn take_resets_and_read_keeps() {
        let h = histogram(&[1.0]);
        h.record(3.0);
        h.record(0.5);
        assert_eq!(read(&h), read(&h), "a read changes nothing");
        let first = take(&h);
        assert_eq!((first.count, first.sum), (2, Some(3.5)));
        assert_eq!((first.min, first.max), (Some(0.5), Some(3.0)));
        let empty = take(&h);
        assert_eq!(
            (empty.count, empty.sum, empty.min, empty.max),
            (0, Some(0.0), None, None)
        );
        assert_eq!(empty.bucket_counts, [0, 0]);
        // Min and max start again from the next value, not from the last interval's.
        h.record(2.0);
        let second = take(&h);
        assert_eq!((second.min, second.max), (Some(2.0), Some(2.0)));
        assert_eq!(second.bucket_counts, [0, 1]);
        // A reused point is overwritten, not added to.
        let mut p = first.clone();
        h.record(0.25);
        h.take_into(&mut p);
        assert_eq!((p.count, p.bucket_counts.as_slice()), (1, &[1, 0][..]));
    }

    #[test]
    fn a_count_whose_min_and_max_went_into_an_earlier_take_has_none() {
        let h = histogram(&[1.0]);
        h.record(0.5);
        // As an earlier take would, had it come between this recording's min/max and its count.
        let (mine, _) = h.mine();
        mine.cell(MIN)
            .store(f64::INFINITY.to_bits(), Ordering::Relaxed);
        mine.cell(MAX)
            .store(f64::NEG_INFINITY.to_bits(), Ordering::Relaxed);
        let p = take(&h);
        assert_eq!((p.count, p.min, p.max), (1, None, None));
    }

    #[test]
    fn four_threads_lose_nothing_while_deltas_are_taken() {
        const THREADS: u64 = 4;
        const RECORDS: u64 = 100_000;
        // Values 0..8 over boundaries 1, 3, 5: buckets hold 2, 2, 2 and 2 values of every 8.
        // Every test thread has a stripe of its own (counts read, not swapped, by takes).
        let h = Arc::new(Histogram::with_owned(
            Boundaries::new(&[1.0, 3.0, 5.0]).unwrap(),
            4096,
        ));
        let done = Arc::new(AtomicBool::new(false));
        let collector = {
            let (h, done) = (h.clone(), done.clone());
            std::thread::spawn(move || {
                let (mut buckets, mut count, mut sum) = ([0u64; 4], 0u64, 0.0f64);
                let mut points = 0;
                let mut add = |p: &HistogramDataPoint| {
                    for (total, c) in buckets.iter_mut().zip(&p.bucket_counts) {
                        *total += c;
                    }
                    count += p.count;
                    sum += p.sum.unwrap_or(0.0);
                    if let (Some(min), Some(max)) = (p.min, p.max) {
                        assert!((0.0..=7.0).contains(&min) && (min..=7.0).contains(&max));
                    }
                };
                let mut p = HistogramDataPoint::default();
                while !done.load(Ordering::Acquire) {
                    h.take_into(&mut p);
                    assert_eq!(p.count, p.bucket_counts.iter().sum::<u64>());
                    add(&p);
                    points += 1;
                }
                h.take_into(&mut p);
                add(&p);
                (buckets, count, sum, points)
            })
        };
        let writers: Vec<_> = (0..THREADS)
            .map(|_| {
                let h = h.clone();
                std::thread::spawn(move || {
                    for i in 0..RECORDS {
                        h.record(i % 8);
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        done.store(true, Ordering::Release);
        let (buckets, count, sum, points) = collector.join().unwrap();
        let all = THREADS * RECORDS;
        assert!(
            points > 1,
            "the collector took deltas while threads recorded"
        );
        assert_eq!(count, all);
        assert_eq!(buckets, [all / 4; 4], "per bucket too");
        // Integers well below 2^53 add exactly in floating point.
        assert_eq!(sum, (THREADS * (RECORDS / 8) * 28) as f64);
    }
}
