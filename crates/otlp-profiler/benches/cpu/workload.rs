//! The CPU-bound workload: threads doing a fixed amount of work, either flat (the loop right
//! under the thread's entry) or at the bottom of a deep call chain, each thread timing itself
//! (its own CPU clock) and noting every stall of its loop: a sample's (the profiler's signal
//! handler ran during it, as [`crate::hook`] tells) apart from others (an interrupt, a
//! preemption).

use std::hint::black_box;
use std::time::{Duration, Instant};

/// Where the loop runs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Shape {
    /// Right under the thread's entry: a short stack (the thread start, a closure, the loop).
    Flat,
    /// At the bottom of a recursive chain through closures called as `dyn Fn` and an
    /// iterator's `map` and `fold`, `levels` rounds of it: a stack a service's handler might
    /// have, with several distinct functions per level for the unwinder to look up.
    Deep { levels: u32 },
}

/// xorshift rounds between two clock reads: a few hundred nanoseconds of work, so a stall of
/// a microsecond stands out and the clock reads are a small part of the loop.
const CHUNK: u64 = 256;
/// Stalls noted per thread at most (a run has a few thousand).
const MAX_GAPS: usize = 1 << 16;

/// What one thread measured.
#[derive(Debug, Default, Clone)]
pub struct ThreadRun {
    /// Its CPU time over the work (the signal handlers that interrupted it included: they
    /// run on it).
    pub cpu: Duration,
    /// Stalls of the loop beyond its usual chunk time with no sample in them, nanoseconds.
    pub gaps: Vec<u32>,
    /// Stalls with a sample in them (the tick, the signal's delivery, the handler).
    pub sample_stalls: Vec<u32>,
    /// Handler runs on the thread during the work, and their time.
    pub handler_runs: u64,
    /// Their time, nanoseconds.
    pub handler_ns: u64,
    /// Each one's time, nanoseconds.
    pub handler_times: Vec<u32>,
}

/// Runs `threads` threads, each doing `chunks` chunks of work in `shape`, and returns what
/// each measured and the wall time of the whole.
pub fn run(threads: usize, chunks: u64, shape: Shape) -> (Vec<ThreadRun>, Duration) {
    let wall = Instant::now();
    let runs = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| s.spawn(move || thread_body(chunks, t as u64 + 1, shape)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a workload thread panicked"))
            .collect()
    });
    (runs, wall.elapsed())
}

fn thread_body(chunks: u64, seed: u64, shape: Shape) -> ThreadRun {
    let mut gaps = Stalls {
        other: Vec::with_capacity(MAX_GAPS),
        sampled: Vec::with_capacity(MAX_GAPS),
    };
    let cpu0 = thread_cpu();
    let (runs0, ns0) = crate::hook::this_thread();
    let x = match shape {
        Shape::Flat => timed_burn(chunks, seed, &mut gaps),
        Shape::Deep { levels } => {
            let bottom = |s: u64| timed_burn(chunks, s, &mut gaps);
            let bottom = std::cell::RefCell::new(bottom);
            level_a(levels, seed, &|s| (bottom.borrow_mut())(s))
        }
    };
    let cpu = thread_cpu() - cpu0;
    let (runs, ns) = crate::hook::this_thread();
    black_box(x);
    ThreadRun {
        cpu,
        gaps: gaps.other,
        sample_stalls: gaps.sampled,
        handler_runs: runs - runs0,
        handler_ns: ns - ns0,
        handler_times: crate::hook::times(runs0, runs),
    }
}

/// A thread's stalls, nanoseconds over its fastest chunk.
struct Stalls {
    other: Vec<u32>,
    sampled: Vec<u32>,
}

// Three functions per level, each calling the next through something the compiler cannot see
// through (`dyn Fn`, an opaque slice), with work after the call so no call becomes a jump.
#[inline(never)]
fn level_a(levels: u32, seed: u64, bottom: &dyn Fn(u64) -> u64) -> u64 {
    if levels == 0 {
        return bottom(seed);
    }
    let next: &dyn Fn(u64) -> u64 = &|s| level_b(levels, s, bottom);
    black_box(next)(seed).rotate_left(1)
}

#[inline(never)]
fn level_b(levels: u32, seed: u64, bottom: &dyn Fn(u64) -> u64) -> u64 {
    black_box([seed])
        .iter()
        .map(|&s| level_c(levels, s, bottom))
        .fold(1, u64::wrapping_mul)
}

#[inline(never)]
fn level_c(levels: u32, seed: u64, bottom: &dyn Fn(u64) -> u64) -> u64 {
    let out = level_a(black_box(levels - 1), seed, bottom);
    out ^ u64::from(levels)
}

/// `chunks` chunks of xorshift, the clock read after each; every chunk a sample fell into, and
/// every other that took longer than twice the fastest seen so far, is noted as a stall of its
/// excess over that fastest.
#[inline(never)]
fn timed_burn(chunks: u64, seed: u64, stalls: &mut Stalls) -> u64 {
    let mut x = seed | 1;
    let mut fastest = u64::MAX;
    let (first, first_sampled) = (stalls.other.len(), stalls.sampled.len());
    let mut runs = crate::hook::this_thread().0;
    let mut last = Instant::now();
    for c in 0..chunks {
        for i in 0..CHUNK {
            // xorshift with a dependency chain: the compiler cannot fold it away.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x = x.wrapping_add(i ^ c);
        }
        let now = Instant::now();
        let took = u32::try_from((now - last).as_nanos()).unwrap_or(u32::MAX);
        last = now;
        fastest = fastest.min(u64::from(took));
        let now_runs = crate::hook::this_thread().0;
        if now_runs != runs {
            runs = now_runs;
            if stalls.sampled.len() < MAX_GAPS {
                stalls.sampled.push(took);
            }
        // Twice the fastest chunk: a few hundred ns, below any signal delivery.
        } else if u64::from(took) > 2 * fastest && stalls.other.len() < MAX_GAPS {
            stalls.other.push(took);
        }
    }
    let fastest = u32::try_from(fastest).unwrap_or(0);
    for gap in stalls.other[first..]
        .iter_mut()
        .chain(&mut stalls.sampled[first_sampled..])
    {
        *gap = gap.saturating_sub(fastest);
    }
    x
}

/// The calling thread's CPU time.
pub fn thread_cpu() -> Duration {
    clock(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// The process's CPU time (every thread, the profilers' own included).
pub fn process_cpu() -> Duration {
    clock(libc::CLOCK_PROCESS_CPUTIME_ID)
}

/// Another thread's CPU time, by its kernel id, through its CPU clock
/// (`MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED)`); `None` once it exited.
pub fn tid_cpu(tid: u32) -> Option<Duration> {
    let tid = libc::clockid_t::try_from(tid).ok()?;
    clock_checked((!tid << 3) | 6)
}

fn clock(id: libc::clockid_t) -> Duration {
    clock_checked(id).unwrap_or_default()
}

#[allow(unsafe_code)]
fn clock_checked(id: libc::clockid_t) -> Option<Duration> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `clock_gettime` writes only the `timespec` it is given, which lives on this
    // stack for the call.
    let rc = unsafe { libc::clock_gettime(id, &mut ts) };
    (rc == 0).then(|| Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}
