//! The per-thread byte countdown: the global switch and rate, each thread's remaining bytes
//! and PRNG, the exponential draw and the unbiasing weights.

use std::cell::Cell;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// Sampling off: the allocator passes everything through.
pub(crate) const OFF: u32 = 0;
/// `HeapSource::start` is checking that the allocator is installed.
pub(crate) const PROBING: u32 = 1;
/// The first epoch: values from here on mean sampling, each start taking a new one so that
/// threads redraw countdowns drawn at an older rate.
pub(crate) const FIRST_EPOCH: u32 = 2;

/// [`OFF`], [`PROBING`] or the current sampling epoch: the one load of the fast path.
pub(crate) static STATE: AtomicU32 = AtomicU32::new(OFF);
/// Mean bytes between samples.
pub(crate) static RATE: AtomicU64 = AtomicU64::new(crate::config::DEFAULT_SAMPLING_RATE);

/// One thread's sampler state. `const`-initialized with no destructor, so reading it never
/// allocates nor registers anything, even on a thread being torn down.
pub(crate) struct ThreadState {
    /// Bytes left before the next sample.
    pub(crate) remaining: Cell<i64>,
    /// The epoch `remaining` was drawn in.
    pub(crate) epoch: Cell<u32>,
    /// xorshift64* state (0: not seeded).
    rng: Cell<u64>,
    /// Set while this thread is sampling (or draining): its allocations then pass through.
    pub(crate) busy: Cell<bool>,
    /// Set while this thread holds the live table's lock: what it frees then was allocated by
    /// the profiler itself, unsampled, and must not take the lock again.
    pub(crate) in_table: Cell<bool>,
}

thread_local! {
    pub(crate) static THREAD: ThreadState = const {
        ThreadState {
            remaining: Cell::new(0),
            epoch: Cell::new(OFF),
            rng: Cell::new(0),
            busy: Cell::new(false),
            in_table: Cell::new(false),
        }
    };
}

impl ThreadState {
    /// A fresh countdown for `epoch`, drawn at the current rate.
    pub(crate) fn redraw(&self, epoch: u32) {
        let rate = RATE.load(Ordering::Relaxed).max(1);
        let draw = exponential(self.next_unit(), rate);
        self.remaining.set(draw);
        self.epoch.set(epoch);
    }

    /// A uniform draw in (0, 1].
    fn next_unit(&self) -> f64 {
        let mut x = self.rng.get();
        if x == 0 {
            x = seed(self as *const ThreadState as u64);
        }
        // xorshift64*: cheap, and ample for spacing samples.
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng.set(x);
        let out = x.wrapping_mul(0x2545_F491_4F6C_DD1D);
        // The top 53 bits, shifted to (0, 1]: never 0, so its logarithm is finite.
        ((out >> 11) + 1) as f64 / (1u64 << 53) as f64
    }

    /// Marks the thread busy: its allocations pass through unsampled, and do not count down
    /// (the countdown is restored by [`leave`](Self::leave)), so the profiler's own
    /// allocations neither recurse nor bring the next sample closer.
    pub(crate) fn enter(&self) -> Saved {
        Saved {
            busy: self.busy.replace(true),
            remaining: self.remaining.get(),
        }
    }

    /// Undoes [`enter`](Self::enter).
    pub(crate) fn leave(&self, saved: Saved) {
        self.remaining.set(saved.remaining);
        self.busy.set(saved.busy);
    }

    /// Runs `f` with this thread marked busy.
    pub(crate) fn guarded<R>(&self, f: impl FnOnce() -> R) -> R {
        let saved = self.enter();
        let out = f();
        self.leave(saved);
        out
    }
}

/// What [`ThreadState::enter`] saved.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Saved {
    busy: bool,
    remaining: i64,
}

/// Runs `f` on the calling thread with its allocations unsampled (the profiler's own work).
pub(crate) fn unsampled<R>(f: impl FnOnce() -> R) -> R {
    let saved = THREAD.try_with(ThreadState::enter);
    let out = f();
    if let Ok(saved) = saved {
        let _ = THREAD.try_with(|t| t.leave(saved));
    }
    out
}

/// A seed from the thread's address and the clock, never 0.
fn seed(address: u64) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0x9E37_79B9_7F4A_7C15);
    let mut z = address ^ nanos.rotate_left(32) ^ 0x9E37_79B9_7F4A_7C15;
    // splitmix64 finalizer: spreads the few varying bits of address and clock.
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    if z == 0 { 1 } else { z }
}

/// An exponential draw of mean `rate` from a uniform `u` in (0, 1], at least 1 byte.
fn exponential(u: f64, rate: u64) -> i64 {
    let x = -u.ln() * rate as f64;
    if x >= i64::MAX as f64 {
        i64::MAX
    } else {
        (x as i64).max(1)
    }
}

/// The probability that an allocation of `size` bytes is sampled at mean interval `rate`.
fn sampled_probability(size: u64, rate: u64) -> f64 {
    // -expm1(-x) = 1 - e^-x, accurate for the small x of small allocations.
    -(-(size as f64) / rate.max(1) as f64).exp_m1()
}

/// The unbiased weights of one sampled allocation of `size` bytes: (objects, bytes) it stands
/// for, `1 / p` and `size / p` with `p = 1 - exp(-size / rate)`.
pub(crate) fn weights(size: u64, rate: u64) -> (f64, f64) {
    let p = sampled_probability(size.max(1), rate);
    if p <= 0.0 {
        return (0.0, 0.0);
    }
    (1.0 / p, size as f64 / p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_draws_have_the_rate_as_mean() {
        let state = ThreadState {
            remaining: Cell::new(0),
            epoch: Cell::new(0),
            rng: Cell::new(0),
            busy: Cell::new(false),
            in_table: Cell::new(false),
        };
        let n = 200_000;
        let sum: f64 = (0..n)
            .map(|_| exponential(state.next_unit(), 4096) as f64)
            .sum();
        let mean = sum / n as f64;
        assert!((mean - 4096.0).abs() < 4096.0 * 0.02, "mean {mean}");
    }

    #[test]
    fn weights_tend_to_size_for_large_allocations_and_to_rate_for_small() {
        let (objects, bytes) = weights(100 * 1024 * 1024, 512 * 1024);
        assert!((objects - 1.0).abs() < 1e-9);
        assert!((bytes - 100.0 * 1024.0 * 1024.0).abs() < 1.0);
        let (objects, bytes) = weights(8, 512 * 1024);
        assert!((bytes - 512.0 * 1024.0).abs() < 8.0, "{bytes}");
        assert!((objects - 65536.0).abs() < 1.0, "{objects}");
    }
}
