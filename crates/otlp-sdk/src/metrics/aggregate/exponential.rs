//! The base-2 exponential histogram aggregation (OpenTelemetry SDK specification, "Base2
//! Exponential Bucket Histogram Aggregation"): at most `max_size` buckets in each of the
//! positive and negative ranges, both at one scale that starts at `max_scale` and drops (merging
//! neighbouring buckets) whenever a value would not fit otherwise.
//!
//! Each stripe has its own `Mutex`, so a thread records under a lock no other recording thread
//! takes; collection merges the stripes, bringing them to a common scale.
//!
//! Buckets are kept in a `VecDeque<u64>` per range, grown at either end to the indices actually
//! recorded: a histogram of a narrow spread stays small instead of holding `max_size` counters.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

use otlp_proto::metrics::{Buckets, ExponentialHistogramDataPoint};

use super::exponential_mapping::{MAX_SCALE, MIN_SCALE, index, scale_reduction};
use super::sum::{stripe, stripes};

/// The specification's default number of buckets per range.
pub(crate) const DEFAULT_MAX_SIZE: u32 = 160;
/// The fewest buckets that hold any finite value at [`MIN_SCALE`] (indices -2..=0), so the scale
/// never has to drop below it. The specification allows 2; smaller settings are raised to this.
const MIN_MAX_SIZE: u32 = 3;

/// The counts of consecutive buckets, the first at index `offset`.
#[derive(Debug, Clone, Default, PartialEq)]
struct Range {
    offset: i32,
    counts: VecDeque<u64>,
}

impl Range {
    /// The lowest and highest index the range would span with `i` added.
    fn span_with(&self, i: i32) -> (i32, i32) {
        match self.highest() {
            None => (i, i),
            Some(high) => (self.offset.min(i), high.max(i)),
        }
    }

    /// The highest index held, if any.
    fn highest(&self) -> Option<i32> {
        // Fits: every index in the range was computed as an `i32`.
        (!self.counts.is_empty()).then(|| self.offset + (self.counts.len() - 1) as i32)
    }

    /// Adds `n` to bucket `i`, growing the range to reach it.
    fn add(&mut self, i: i32, n: u64) {
        if self.counts.is_empty() {
            self.offset = i;
            self.counts.push_back(n);
            return;
        }
        if i < self.offset {
            for _ in i..self.offset {
                self.counts.push_front(0);
            }
            self.offset = i;
        }
        let at = (i - self.offset) as usize;
        if at >= self.counts.len() {
            self.counts.resize(at + 1, 0);
        }
        self.counts[at] += n;
    }

    /// Lowers the scale by `change`: bucket `i` merges into bucket `i >> change`.
    fn downscale(&mut self, change: i32) {
        if change == 0 || self.counts.is_empty() {
            return;
        }
        let offset = self.offset >> change;
        // In place, front to back: a bucket's new position is never after its old one, and
        // every position before it has already been moved out of.
        let mut last = 0;
        for k in 0..self.counts.len() {
            let to = (((self.offset + k as i32) >> change) - offset) as usize;
            if to != k {
                let n = std::mem::take(&mut self.counts[k]);
                self.counts[to] += n;
            }
            last = to;
        }
        self.counts.truncate(last + 1);
        self.offset = offset;
    }

    /// Writes the range into a point's `Buckets`, reusing its vector.
    fn fill(&self, buckets: &mut Buckets) {
        buckets.offset = if self.counts.is_empty() {
            0
        } else {
            self.offset
        };
        buckets.bucket_counts.clear();
        buckets.bucket_counts.extend(self.counts.iter().copied());
    }
}

/// What one stripe (or the merge of several) has recorded.
#[derive(Debug, Clone, PartialEq)]
struct State {
    scale: i32,
    positive: Range,
    negative: Range,
    zero_count: u64,
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
}

impl State {
    /// Nothing recorded: the scale starts at the finest allowed.
    fn empty(max_scale: i32) -> Self {
        State {
            scale: max_scale,
            positive: Range::default(),
            negative: Range::default(),
            zero_count: 0,
            count: 0,
            sum: 0.0,
            // Identities of `min` and `max`: the first value replaces them.
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }

    /// Records `value`; NaN and infinities have no bucket and are dropped.
    fn record(&mut self, value: f64, max_size: u32) {
        if !value.is_finite() {
            return;
        }
        self.count += 1;
        self.sum += value;
        self.min = self.min.min(value);
        self.max = self.max.max(value);
        // The zero threshold is 0: only zeros (of either sign) go to the zero bucket.
        if value == 0.0 {
            self.zero_count += 1;
            return;
        }
        let magnitude = value.abs();
        let mut i = index(magnitude, self.scale);
        let range = if value > 0.0 {
            &self.positive
        } else {
            &self.negative
        };
        let (low, high) = range.span_with(i);
        let change = scale_reduction(low, high, max_size);
        if change > 0 {
            self.downscale(change);
            // The value's bucket at the old scale, merged like the others: it then fits.
            i >>= change;
        }
        let range = if value > 0.0 {
            &mut self.positive
        } else {
            &mut self.negative
        };
        range.add(i, 1);
    }

    /// Lowers the scale of both ranges by `change`.
    fn downscale(&mut self, change: i32) {
        self.positive.downscale(change);
        self.negative.downscale(change);
        self.scale -= change;
        debug_assert!(self.scale >= MIN_SCALE, "{}", self.scale);
    }

    /// Adds `other` in, at the finer of the two scales at which both ranges still fit.
    fn merge(&mut self, other: &State, max_size: u32) {
        if other.count == 0 {
            return;
        }
        if self.count == 0 {
            // `clone_from` reuses this state's bucket storage.
            self.clone_from(other);
            return;
        }
        let mut scale = self.scale.min(other.scale);
        for (mine, theirs) in [
            (&self.positive, &other.positive),
            (&self.negative, &other.negative),
        ] {
            // Both ranges' ends at `scale`, then as much lower as the union needs.
            let ends = |r: &Range, from: i32| {
                r.highest()
                    .map(|high| (r.offset >> (from - scale), high >> (from - scale)))
            };
            let (low, high) = match (ends(mine, self.scale), ends(theirs, other.scale)) {
                (Some(a), Some(b)) => (a.0.min(b.0), a.1.max(b.1)),
                (Some(a), None) | (None, Some(a)) => a,
                (None, None) => continue,
            };
            scale -= scale_reduction(low, high, max_size);
        }
        self.downscale(self.scale - scale);
        let shift = other.scale - scale;
        for (mine, theirs) in [
            (&mut self.positive, &other.positive),
            (&mut self.negative, &other.negative),
        ] {
            for (k, &n) in theirs.counts.iter().enumerate() {
                if n != 0 {
                    mine.add((theirs.offset + k as i32) >> shift, n);
                }
            }
        }
        self.zero_count += other.zero_count;
        self.count += other.count;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    /// Writes the state into `point`: every field but attributes, timestamps, flags and
    /// exemplars, which are the caller's. Vectors already in `point` are reused.
    fn fill(&self, point: &mut ExponentialHistogramDataPoint) {
        point.count = self.count;
        // The data model: the sum is only meaningful for non-negative measurements, so it is
        // left out once a negative value is recorded.
        point.sum = (self.negative.counts.is_empty()).then_some(self.sum);
        point.scale = self.scale;
        point.zero_count = self.zero_count;
        point.zero_threshold = 0.0;
        self.positive
            .fill(point.positive.get_or_insert_with(Buckets::default));
        self.negative
            .fill(point.negative.get_or_insert_with(Buckets::default));
        let any = self.count > 0;
        point.min = any.then_some(self.min);
        point.max = any.then_some(self.max);
    }
}

/// A stripe's state alone on its cache lines, so that locking one does not slow its neighbours.
#[repr(align(128))]
#[derive(Debug)]
struct Stripe(Mutex<State>);

/// An exponential histogram many threads record into.
#[derive(Debug)]
pub(crate) struct ExponentialHistogram {
    max_size: u32,
    max_scale: i32,
    stripes: Box<[Stripe]>,
    /// `stripes.len() - 1`.
    mask: usize,
}

impl Default for ExponentialHistogram {
    fn default() -> Self {
        ExponentialHistogram::new(DEFAULT_MAX_SIZE, MAX_SCALE)
    }
}

impl ExponentialHistogram {
    /// At most `max_size` buckets per range (at least 3), starting at `max_scale` (clamped to
    /// the scales the mapping supports).
    pub(crate) fn new(max_size: u32, max_scale: i32) -> Self {
        let max_scale = max_scale.clamp(MIN_SCALE, MAX_SCALE);
        ExponentialHistogram {
            max_size: max_size.max(MIN_MAX_SIZE),
            max_scale,
            mask: stripes() - 1,
            stripes: (0..stripes())
                .map(|_| Stripe(Mutex::new(State::empty(max_scale))))
                .collect(),
        }
    }

    /// Records `value` (NaN and infinities are ignored).
    #[inline]
    pub(crate) fn record(&self, value: f64) {
        self.stripes[stripe(self.mask)]
            .0
            .lock()
            // A panic while holding the lock leaves counts that are still consistent enough.
            .unwrap_or_else(PoisonError::into_inner)
            .record(value, self.max_size);
    }

    /// Everything recorded so far (cumulative temporality) into `point`.
    pub(crate) fn read(&self, point: &mut ExponentialHistogramDataPoint) {
        let mut total = State::empty(self.max_scale);
        for s in self.stripes.iter() {
            let state = s.0.lock().unwrap_or_else(PoisonError::into_inner);
            total.merge(&state, self.max_size);
        }
        total.fill(point);
    }

    /// Everything recorded since the last take (delta temporality) into `point`, starting again
    /// from empty at `max_scale`. A stripe is swapped out under its lock: a measurement lands
    /// either in this interval or in the next.
    pub(crate) fn take(&self, point: &mut ExponentialHistogramDataPoint) {
        let mut total = State::empty(self.max_scale);
        for s in self.stripes.iter() {
            let taken = std::mem::replace(
                &mut *s.0.lock().unwrap_or_else(PoisonError::into_inner),
                State::empty(self.max_scale),
            );
            total.merge(&taken, self.max_size);
        }
        total.fill(point);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    fn recorded(max_size: u32, max_scale: i32, values: &[f64]) -> State {
        let mut s = State::empty(max_scale);
        for &v in values {
            s.record(v, max_size);
        }
        s
    }

    fn counts(r: &Range) -> (i32, Vec<u64>) {
        (r.offset, r.counts.iter().copied().collect())
    }

    fn point(s: &State) -> ExponentialHistogramDataPoint {
        let mut p = ExponentialHistogramDataPoint::default();
        s.fill(&mut p);
        p
    }

    #[test]
    fn powers_of_two_land_where_the_mapping_says() {
        for e in [-1074, -1022, -3, 0, 1, 7, 1023] {
            // 2^e exactly (`powi` flushes the smallest subnormals to zero).
            let value = if e >= -1022 {
                f64::from_bits(((e + 1023) as u64) << 52)
            } else {
                f64::from_bits(1 << (e + 1074))
            };
            let s = recorded(160, MAX_SCALE, &[value]);
            assert_eq!(s.scale, MAX_SCALE);
            // 2^e is the upper end of bucket (e << scale) - 1.
            assert_eq!(
                counts(&s.positive),
                ((e << MAX_SCALE) - 1, vec![1]),
                "2^{e}"
            );
        }
        // At scale 0 the buckets are (1/2, 1], (1, 2], (2, 4], (4, 8].
        let s = recorded(160, 0, &[1.0, 2.0, 4.0, 8.0, 8.0]);
        assert_eq!((s.scale, counts(&s.positive)), (0, (-1, vec![1, 1, 1, 2])));
    }

    #[test]
    fn a_spread_lowers_the_scale_and_merges_buckets() {
        // Scale 0 holds 1, 2, 4, 8 in buckets -1..=2; 16 (bucket 3) makes five buckets.
        let s = recorded(4, 0, &[1.0, 2.0, 4.0, 8.0, 16.0]);
        // Scale -1, base 4: (1/4, 1] holds 1, (1, 4] holds 2 and 4, (4, 16] holds 8 and 16.
        assert_eq!((s.scale, counts(&s.positive)), (-1, (-1, vec![1, 2, 2])));

        // From scale 20: 2 and 4 are buckets 2^s - 1 and 2^(s+1) - 1, 2^s + 1 buckets apart
        // inclusive, which fits 160 from scale 7 (129 buckets) down.
        let s = recorded(160, MAX_SCALE, &[2.0, 4.0, 3.0]);
        assert_eq!(s.scale, 7);
        assert_eq!(s.positive.offset, 127);
        assert_eq!(s.positive.counts.len(), 129);
        assert_eq!((s.positive.counts[0], s.positive.counts[128]), (1, 1));
        // 3 = 2^1.585: bucket floor(1.585 * 128) = 202, 75 after the first.
        assert_eq!(s.positive.counts[75], 1);
        assert_eq!(s.positive.counts.iter().sum::<u64>(), 3);

        // Lowering the scale lowers the negative range too, which shares it.
        // At scale 0 -1, -2, -4 are in buckets -1, 0, 1; at -1 in -1, 0, 0.
        let s = recorded(4, 0, &[-1.0, -2.0, -4.0, 1.0, 2.0, 4.0, 8.0, 16.0]);
        assert_eq!((s.scale, counts(&s.negative)), (-1, (-1, vec![1, 2])));
    }

    #[test]
    fn negative_values_and_zeros() {
        let s = recorded(160, 0, &[-1.0, -2.0, -2.0, 0.0, -0.0, 3.0]);
        assert_eq!(counts(&s.negative), (-1, vec![1, 2]));
        assert_eq!(counts(&s.positive), (1, vec![1]));
        let p = point(&s);
        assert_eq!((p.count, p.zero_count, p.scale), (6, 2, 0));
        assert_eq!((p.min, p.max), (Some(-2.0), Some(3.0)));
        // A negative value was recorded: no sum, as the data model asks.
        assert_eq!(p.sum, None);
        let negative = p.negative.unwrap();
        assert_eq!((negative.offset, negative.bucket_counts), (-1, vec![1, 2]));
    }

    #[test]
    fn nan_and_infinities_are_not_recorded() {
        let mut s = recorded(
            160,
            MAX_SCALE,
            &[f64::NAN, f64::INFINITY, f64::NEG_INFINITY],
        );
        assert_eq!(s, State::empty(MAX_SCALE));
        let p = point(&s);
        assert_eq!((p.count, p.sum, p.min, p.max), (0, Some(0.0), None, None));
        s.record(1.0, 160);
        s.record(f64::NAN, 160);
        let p = point(&s);
        assert_eq!(
            (p.count, p.sum, p.min, p.max),
            (1, Some(1.0), Some(1.0), Some(1.0))
        );
    }

    #[test]
    fn count_sum_min_and_max() {
        let p = point(&recorded(160, MAX_SCALE, &[0.5, 10.0, 3.25, 0.0, 7.0]));
        assert_eq!((p.count, p.sum), (5, Some(20.75)));
        assert_eq!((p.min, p.max), (Some(0.0), Some(10.0)));
        assert_eq!(p.zero_count, 1);
        let positive = p.positive.unwrap().bucket_counts;
        assert_eq!(positive.iter().sum::<u64>(), 4);
        assert_eq!(p.negative.unwrap().bucket_counts, Vec::<u64>::new());
    }

    #[test]
    fn a_delta_take_resets_and_starts_again_at_the_max_scale() {
        let h = ExponentialHistogram::new(4, 0);
        for v in [1.0, 2.0, 4.0, 8.0, 16.0] {
            h.record(v);
        }
        let mut p = ExponentialHistogramDataPoint::default();
        h.read(&mut p);
        assert_eq!((p.scale, p.count), (-1, 5));
        h.take(&mut p);
        assert_eq!((p.scale, p.count), (-1, 5));
        assert_eq!(p.positive.as_ref().unwrap().bucket_counts, vec![1, 2, 2]);
        // Empty, back at the max scale; the point's vectors are rewritten, not left stale.
        h.take(&mut p);
        assert_eq!((p.scale, p.count, p.min), (0, 0, None));
        assert_eq!(
            p.positive.as_ref().unwrap().bucket_counts,
            Vec::<u64>::new()
        );
        h.record(2.0);
        h.read(&mut p);
        assert_eq!((p.scale, p.count), (0, 1));
        let positive = p.positive.unwrap();
        assert_eq!((positive.offset, positive.bucket_counts), (0, vec![1]));
    }

    /// Dyadic values of both signs (so sums are exact whatever the order), with zeros.
    fn values(seed: u64, n: usize) -> Vec<f64> {
        let mut x = seed;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let v = (x % 100_000) as f64 / 64.0;
                if x & (1 << 40) == 0 { v } else { -v }
            })
            .collect()
    }

    #[test]
    fn merging_stripes_of_different_scales_equals_recording_in_one() {
        for (max_size, max_scale) in [(160, MAX_SCALE), (20, MAX_SCALE), (8, 3), (3, 0)] {
            // A narrow stripe (fine scale), a wide one (coarse), an empty one, a zero-only one.
            let narrow: Vec<f64> = (1..50).map(|k| 100.0 + f64::from(k) / 8.0).collect();
            let wide = values(0x9E37_79B9_7F4A_7C15, 2000);
            let parts = [narrow, wide, vec![], vec![0.0, -0.0]];
            let mut merged = State::empty(max_scale);
            let mut one = State::empty(max_scale);
            for part in &parts {
                let stripe = recorded(max_size, max_scale, part);
                merged.merge(&stripe, max_size);
                for &v in part {
                    one.record(v, max_size);
                }
            }
            assert_ne!(
                recorded(max_size, max_scale, &parts[0]).scale,
                recorded(max_size, max_scale, &parts[1]).scale
            );
            assert_eq!(merged, one, "max_size {max_size}, max_scale {max_scale}");
            // Merging in the other order gives the same too.
            let mut reversed = State::empty(max_scale);
            for part in parts.iter().rev() {
                reversed.merge(&recorded(max_size, max_scale, part), max_size);
            }
            assert_eq!(reversed, one);
        }
    }

    #[test]
    fn stripes_that_fit_alone_merge_at_a_lower_scale() {
        // At scale 0 one stripe holds buckets -1..=0 (1 and 2), the other 2..=3 (8 and 16):
        // five buckets together, so the merge drops to scale -1: buckets -1, 0, 1, 1.
        let mut merged = recorded(4, 0, &[1.0, 2.0]);
        merged.merge(&recorded(4, 0, &[8.0, 16.0]), 4);
        assert_eq!(
            (merged.scale, counts(&merged.positive)),
            (-1, (-1, vec![1, 1, 2]))
        );
        assert_eq!(merged, recorded(4, 0, &[1.0, 2.0, 8.0, 16.0]));
    }

    #[test]
    fn four_threads_lose_no_measurement_while_deltas_are_taken() {
        const THREADS: u64 = 4;
        const RECORDS: u64 = 50_000;
        let h = Arc::new(ExponentialHistogram::new(20, MAX_SCALE));
        let done = Arc::new(AtomicBool::new(false));
        // A collector taking deltas all along, adding up what it sees.
        let collector = {
            let (h, done) = (h.clone(), done.clone());
            std::thread::spawn(move || {
                let mut p = ExponentialHistogramDataPoint::default();
                let mut seen = (0, 0);
                let mut add = |p: &ExponentialHistogramDataPoint| {
                    let buckets = |b: &Option<Buckets>| {
                        b.as_ref()
                            .map_or(0, |b| b.bucket_counts.iter().sum::<u64>())
                    };
                    seen.0 += p.count;
                    seen.1 += p.zero_count + buckets(&p.positive) + buckets(&p.negative);
                };
                while !done.load(Ordering::Acquire) {
                    h.take(&mut p);
                    add(&p);
                }
                h.take(&mut p);
                add(&p);
                seen
            })
        };
        let writers: Vec<_> = (0..THREADS)
            .map(|t| {
                let h = h.clone();
                std::thread::spawn(move || {
                    for v in values(t + 1, RECORDS as usize) {
                        h.record(v);
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        done.store(true, Ordering::Release);
        let (count, in_buckets) = collector.join().unwrap();
        assert_eq!((count, in_buckets), (THREADS * RECORDS, THREADS * RECORDS));
    }
}
