//! Sums that many threads add to at once without sharing a cache line: one cell per stripe, a
//! thread adding to the stripe it was given, collection adding the stripes up (or taking them,
//! for delta temporality, each with one atomic swap, so recording never waits for it).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// A value a sum can hold: how it adds into, and reads from, a 64-bit cell.
pub trait Number: Copy + Default + PartialEq + std::fmt::Debug + Send + Sync + 'static {
    /// Adds `v` to the cell.
    fn add_to(cell: &AtomicU64, v: Self);
    /// The cell's bits as a value.
    fn from_bits(bits: u64) -> Self;
    /// The value as a cell's bits (the inverse of `from_bits`).
    fn to_bits(self) -> u64;
    /// Sums two values.
    fn plus(self, other: Self) -> Self;
}

impl Number for u64 {
    #[inline]
    fn add_to(cell: &AtomicU64, v: Self) {
        cell.fetch_add(v, Ordering::Relaxed);
    }
    fn from_bits(bits: u64) -> Self {
        bits
    }
    fn to_bits(self) -> u64 {
        self
    }
    fn plus(self, other: Self) -> Self {
        self.wrapping_add(other)
    }
}

impl Number for i64 {
    #[inline]
    fn add_to(cell: &AtomicU64, v: Self) {
        // Two's complement: adding the bits wrapping is adding the signed values.
        cell.fetch_add(v as u64, Ordering::Relaxed);
    }
    fn from_bits(bits: u64) -> Self {
        bits as i64
    }
    fn to_bits(self) -> u64 {
        self as u64
    }
    fn plus(self, other: Self) -> Self {
        self.wrapping_add(other)
    }
}

impl Number for f64 {
    #[inline]
    fn add_to(cell: &AtomicU64, v: Self) {
        // No atomic float add: compare and swap, uncontended on a thread's own stripe.
        let mut bits = cell.load(Ordering::Relaxed);
        loop {
            let next = (f64::from_bits(bits) + v).to_bits();
            match cell.compare_exchange_weak(bits, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return,
                Err(actual) => bits = actual,
            }
        }
    }
    fn from_bits(bits: u64) -> Self {
        f64::from_bits(bits)
    }
    fn to_bits(self) -> u64 {
        f64::to_bits(self)
    }
    fn plus(self, other: Self) -> Self {
        self + other
    }
}

/// A cell alone on its cache line (two lines: adjacent-line prefetch pairs them).
#[repr(align(128))]
#[derive(Debug, Default)]
struct Padded(AtomicU64);

/// How many stripes: the threads that can run at once, rounded up to a power of two, at most 16.
pub(super) fn stripes() -> usize {
    static STRIPES: OnceLock<usize> = OnceLock::new();
    *STRIPES.get_or_init(|| {
        std::thread::available_parallelism()
            .map_or(1, usize::from)
            .clamp(1, 16)
            .next_power_of_two()
    })
}

/// This thread's stripe: threads are numbered as they first record, round robin.
#[inline]
pub(super) fn stripe() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static MINE: usize = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    MINE.with(|n| *n) & (stripes() - 1)
}

/// A sum of `N` many threads add to.
#[derive(Debug)]
pub struct StripedSum<N: Number> {
    cells: Box<[Padded]>,
    _number: std::marker::PhantomData<N>,
}

impl<N: Number> Default for StripedSum<N> {
    fn default() -> Self {
        StripedSum {
            cells: (0..stripes())
                // Zero is all-zero bits for every `Number` (0, 0 and 0.0).
                .map(|_| Padded(AtomicU64::new(0)))
                .collect(),
            _number: std::marker::PhantomData,
        }
    }
}

impl<N: Number> StripedSum<N> {
    /// Adds `v`.
    #[inline]
    pub(crate) fn add(&self, v: N) {
        N::add_to(&self.cells[stripe()].0, v);
    }

    /// The sum so far (cumulative temporality).
    pub(crate) fn value(&self) -> N {
        self.cells
            .iter()
            .map(|c| N::from_bits(c.0.load(Ordering::Relaxed)))
            .fold(N::default(), N::plus)
    }

    /// The sum since the last take, starting again from zero (delta temporality). Each stripe is
    /// taken with one swap: an add lands either in this interval or in the next, never lost.
    pub(crate) fn take(&self) -> N {
        self.cells
            .iter()
            .map(|c| N::from_bits(c.0.swap(0, Ordering::Relaxed)))
            .fold(N::default(), N::plus)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;

    #[test]
    fn sums_of_every_number_type() {
        let u = StripedSum::<u64>::default();
        u.add(3);
        u.add(4);
        assert_eq!((u.value(), u.take(), u.value()), (7, 7, 0));
        let i = StripedSum::<i64>::default();
        i.add(5);
        i.add(-8);
        assert_eq!(i.value(), -3);
        let f = StripedSum::<f64>::default();
        f.add(0.25);
        f.add(-1.0);
        assert_eq!(f.value(), -0.75);
    }

    #[test]
    fn four_threads_lose_no_update_while_deltas_are_taken() {
        const THREADS: u64 = 4;
        const ADDS: u64 = 200_000;
        let sum = Arc::new(StripedSum::<u64>::default());
        let float = Arc::new(StripedSum::<f64>::default());
        let done = Arc::new(AtomicBool::new(false));
        // A collector taking deltas all along, as a delta reader would.
        let collector = {
            let (sum, float, done) = (sum.clone(), float.clone(), done.clone());
            std::thread::spawn(move || {
                let (mut total, mut total_f) = (0u64, 0.0f64);
                while !done.load(Ordering::Acquire) {
                    total += sum.take();
                    total_f += float.take();
                }
                (total + sum.take(), total_f + float.take())
            })
        };
        let writers: Vec<_> = (0..THREADS)
            .map(|_| {
                let (sum, float) = (sum.clone(), float.clone());
                std::thread::spawn(move || {
                    for _ in 0..ADDS {
                        sum.add(1);
                        float.add(0.5);
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        done.store(true, Ordering::Release);
        let (total, total_f) = collector.join().unwrap();
        assert_eq!(total, THREADS * ADDS);
        // Halves add exactly in binary floating point at these magnitudes.
        assert_eq!(total_f, (THREADS * ADDS) as f64 / 2.0);
    }
}
