//! Sums that many threads add to at once without sharing a cache line: one cell per stripe, a
//! thread adding to the stripe it was given, collection adding the stripes up (or taking them,
//! for delta temporality, each with one atomic swap, so recording never waits for it).

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

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
    /// Whether a cell only one thread writes may be added to with a plain load and store, and
    /// an interval's sum be its value less the value at the last take (wrapping integers: the
    /// difference is exact; not floats).
    const OWNED: bool = false;
}

impl Number for u64 {
    const OWNED: bool = true;
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
    const OWNED: bool = true;
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

thread_local! {
    /// This thread's number, given as it first records (round robin); `usize::MAX` until then.
    /// A `const` cell with nothing to drop: reading it is one load, with no lazy state to check.
    static MINE: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// This thread's number: threads are numbered as they first record, round robin.
#[inline]
pub(super) fn thread_number() -> usize {
    let n = MINE.with(Cell::get);
    if n == usize::MAX { number_thread() } else { n }
}

/// This thread's stripe among `mask + 1` (a power of two; aggregators keep their mask rather
/// than ask [`stripes`] on each recording).
#[inline]
pub(super) fn stripe(mask: usize) -> usize {
    thread_number() & mask
}

#[cold]
fn number_thread() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    // Never `usize::MAX`, which means "not numbered yet".
    let n = NEXT.fetch_add(1, Ordering::Relaxed) & (usize::MAX >> 1);
    MINE.with(|mine| mine.set(n));
    n
}

/// A sum of `N` many threads add to.
///
/// Integer sums give each of the first [`stripes`] threads numbered a cell of its own, which it
/// adds to with a plain load and store (no locked read-modify-write, the cost of an add); the
/// collector only reads those cells, taking an interval as the difference from the previous
/// take. Later threads, and float sums, add atomically to a shared cell of their stripe, which
/// a take swaps to zero.
#[derive(Debug)]
pub struct StripedSum<N: Number> {
    /// A stripe's owned and shared cells share its lines: a series stays as small (and as quick
    /// to collect) as with one cell per stripe, at the cost of the owner sharing its line with
    /// the late threads of its stripe.
    blocks: Box<[Block]>,
    /// Threads numbered below this own `blocks[n].owned` (0 for floats).
    owned: usize,
    /// `stripes() - 1`: the shared cell of a thread is its number masked.
    mask: usize,
    /// Held by takes: one at a time moves `Block::taken` on (delta temporality).
    taking: Mutex<()>,
    _number: std::marker::PhantomData<N>,
}

/// A stripe's cells, alone on their cache line (two lines: adjacent-line prefetch pairs them).
#[repr(align(128))]
#[derive(Debug, Default)]
struct Block {
    /// Written by one thread only, with plain stores.
    owned: AtomicU64,
    shared: AtomicU64,
    /// `owned` at the last take: written by takes only (once per collection, so sharing the
    /// owner's line costs nothing that matters), kept here rather than in an allocation of its
    /// own that collection would have to fetch too.
    taken: AtomicU64,
}

impl<N: Number> Default for StripedSum<N> {
    fn default() -> Self {
        StripedSum::with_owned(if N::OWNED { stripes() } else { 0 })
    }
}

impl<N: Number> StripedSum<N> {
    /// A sum whose threads numbered below `owned` have a cell of their own.
    fn with_owned(owned: usize) -> Self {
        // Zero is all-zero bits for every `Number` (0, 0 and 0.0).
        StripedSum {
            blocks: (0..owned.max(stripes()))
                .map(|_| Block::default())
                .collect(),
            owned,
            mask: stripes() - 1,
            taking: Mutex::new(()),
            _number: std::marker::PhantomData,
        }
    }

    /// Adds `v`.
    #[inline]
    pub(crate) fn add(&self, v: N) {
        let n = thread_number();
        if n < self.owned {
            // This thread is the cell's only writer: no other add can come between.
            let cell = &self.blocks[n].owned;
            let sum = N::from_bits(cell.load(Ordering::Relaxed)).plus(v);
            cell.store(sum.to_bits(), Ordering::Relaxed);
        } else {
            N::add_to(&self.blocks[n & self.mask].shared, v);
        }
    }

    /// Loads each stripe's line (see `Aggregator::touch`).
    #[inline]
    pub(crate) fn touch(&self) {
        for b in self.blocks.iter() {
            std::hint::black_box(b.owned.load(Ordering::Relaxed));
        }
    }

    /// The sum so far, or since the last take if there was one (cumulative temporality).
    pub(crate) fn value(&self) -> N {
        self.collect(false)
    }

    /// The sum since the last take, starting again from zero (delta temporality). A shared
    /// cell is taken with one swap, an owned one by reading it (its writer never waits): an
    /// add lands either in this interval or in the next, never lost.
    pub(crate) fn take(&self) -> N {
        self.collect(true)
    }

    /// Since the start, or since the last take; with `take`, starting a new interval.
    fn collect(&self, take: bool) -> N {
        // Only takes move `taken`, one at a time (a read alone needs no lock).
        let _taking = take.then(|| self.taking.lock().unwrap_or_else(PoisonError::into_inner));
        let owned = self.blocks[..self.owned].iter().map(|b| {
            let now = b.owned.load(Ordering::Relaxed);
            let before = if take {
                b.taken.swap(now, Ordering::Relaxed)
            } else {
                b.taken.load(Ordering::Relaxed)
            };
            // Wrapping: exact for the integers that have owned cells.
            N::from_bits(now.wrapping_sub(before))
        });
        let shared = self.blocks[..=self.mask].iter().map(|b| {
            N::from_bits(if take {
                b.shared.swap(0, Ordering::Relaxed)
            } else {
                b.shared.load(Ordering::Relaxed)
            })
        });
        owned.chain(shared).fold(N::default(), N::plus)
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
        let owned = StripedSum::<i64>::with_owned(4096);
        owned.add(-3);
        assert_eq!((owned.value(), owned.take(), owned.take()), (-3, -3, 0));
        owned.add(5);
        assert_eq!((owned.take(), owned.value()), (5, 0), "since the last take");
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
        // Every test thread owns a cell of `sum` (read-only takes), none of `float`'s (swaps).
        let sum = Arc::new(StripedSum::<u64>::with_owned(4096));
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
