//! [`CpuSampler`]: on-CPU sampling with one POSIX timer per thread on that thread's CPU-time
//! clock, delivering SIGPROF to that thread; the handler unwinds into the thread's slot and a
//! collector thread turns slots into [`RawSample`]s.
//!
//! The signal machinery (slots, handler, collector) is shared with the off-CPU and thread
//! samplers of [`crate::block`].

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
mod bell;
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
pub(crate) mod registry;
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
pub(crate) mod runner;
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
pub(crate) mod signal;
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
pub(crate) mod slot;
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
mod stack;
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
pub(crate) mod tasks;
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
mod timer;
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
pub(crate) mod watch;

pub mod probe;

use crate::error::{Error, Kind};
use crate::sample::{RawSample, Sampler};

/// The accepted sampling frequencies, per second.
pub(crate) const FREQUENCIES: std::ops::RangeInclusive<u32> = 1..=10_000;

/// Checks a frequency; the period in nanoseconds.
pub(crate) fn period_ns(frequency_hz: u32) -> Result<u64, Error> {
    if !FREQUENCIES.contains(&frequency_hz) {
        return Err(Error::new(
            Kind::Config,
            format!("sampling frequency {frequency_hz} Hz is outside 1 to 10,000 Hz"),
        ));
    }
    Ok(1_000_000_000 / u64::from(frequency_hz))
}

/// The CPU sampler. At most one runs at a time (it owns SIGPROF).
///
/// Each sampled thread costs one slot: a ring of 64 samples, the unwinder's scratch state,
/// and a 256 KiB walk stack mapped without reserve (only touched pages count).
#[derive(Debug)]
pub(crate) struct CpuSampler {
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    runner: runner::Runner,
}

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
static RUNNING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

impl CpuSampler {
    /// Starts sampling every thread of the process `frequency_hz` times per second of its CPU
    /// time, threads started later included (found after a sample of a running thread or
    /// 20 ms of the process's CPU; see `watch`).
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    pub(crate) fn start(frequency_hz: u32) -> Result<Self, Error> {
        use std::sync::atomic::Ordering;
        let period = period_ns(frequency_hz)?;
        if RUNNING.swap(true, Ordering::AcqRel) {
            return Err(Error::new(Kind::State, "a CPU sampler is already running"));
        }
        let started = Self::start_inner(period);
        if started.is_err() {
            RUNNING.store(false, Ordering::Release);
        }
        started
    }

    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    fn start_inner(period: u64) -> Result<Self, Error> {
        use crate::config::ProfileType;
        crate::unwind::refresh()?;
        // Before the handler goes in: a failure here leaves nothing to undo.
        let mut tasks = tasks::TaskDir::open()?;
        let mut counted = None;
        signal::install(libc::SIGPROF)?;
        let period_i64 = i64::try_from(period).unwrap_or(i64::MAX);
        let registry = registry::Registry::new(ProfileType::Cpu, [1, period_i64]);
        let mut tids = Vec::new();
        let fd = tasks.fd();
        let slow = tick_interval(period);
        let mut idle: Option<timer::Timer> = None;
        let mut listed_at: Option<std::time::Instant> = None;
        let mut refreshed = std::time::Instant::now();
        let mut seen = 0u64;
        // New threads are found by listing `/proc/self/task` when its link count moved (a
        // thread's CPU before its timer is armed is not sampled), and every second all the
        // same (one ending as another starts leaves the count as it was). Waking is most of
        // what this thread costs, so it wakes when told to (`watch`): while sampled threads
        // run, their handlers ring when the count moved; while none ran since the last tick,
        // a timer on the process's CPU time rings after `IDLE_RING` of it, whichever thread
        // used it; otherwise only to empty the slots before they fill (`slow`).
        let tick = move |registry: &mut registry::Registry, me: u32| {
            let now = std::time::Instant::now();
            let links = tasks.links();
            let stale = listed_at.is_none_or(|at| now.duration_since(at) >= SECOND);
            if links.is_none() || links != counted || stale {
                tasks.list(&mut tids);
                counted = links;
                listed_at = Some(now);
                if let Some(links) = links {
                    watch::listed_at(links);
                }
                rescan(registry, &tids, me, period);
            }
            // A stack the tables' mappings lack (a new thread's, unless its stack was reused)
            // is walked the slow way until the mappings are read again: now. Every second,
            // the tables too, if objects were dlopen'ed or closed since.
            let objects = now.duration_since(refreshed) >= SECOND;
            if objects {
                refreshed = now;
            }
            let _ = crate::unwind::refresh_if_stale(objects);
            registry.collect();
            let busy = registry.collected != seen;
            seen = registry.collected;
            // Not on the caller's thread (`me` 0): the timer signals this thread.
            if me != 0 && idle.is_none() {
                idle = timer::Timer::process(me, libc::SIGPROF).ok();
            }
            match &idle {
                // Without the timer (timer_create refused), the old way: look often.
                None if !busy => IDLE_RING,
                Some(t) if !busy && t.set(IDLE_RING_NS).is_err() => IDLE_RING,
                Some(t) if busy => {
                    let _ = t.set(0);
                    slow
                }
                _ => slow.max(IDLE_WAIT),
            }
        };
        let runner = runner::Runner::start("otlp-prof-cpu", libc::SIGPROF, registry, tick);
        // The closure owns `tasks`, so `fd` stays open until the runner stopped, after
        // `watch::stop` (see `stop`).
        if let Ok(runner) = &runner {
            watch::start(fd, runner.bell());
        }
        match runner {
            Ok(runner) => Ok(CpuSampler { runner }),
            Err(e) => Err(e),
        }
    }

    /// CPU sampling needs Linux on x86_64.
    #[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
    pub(crate) fn start(frequency_hz: u32) -> Result<Self, Error> {
        period_ns(frequency_hz)?;
        Err(Error::new(
            Kind::Unsupported,
            "CPU sampling needs per-thread CPU timers and an unwinder: Linux on x86_64 only",
        ))
    }
}

/// Samples of kind Cpu, values `[1, period_ns]`; `dropped`: a thread's ring full between two
/// collections.
impl Sampler for CpuSampler {
    fn drain(&mut self, sink: &mut dyn FnMut(RawSample)) {
        #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
        self.runner.drain(&mut |sample, _| sink(sample));
        #[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
        let _ = sink;
    }

    fn dropped(&self) -> u64 {
        #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
        return self.runner.dropped();
        #[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
        0
    }

    fn stop(&mut self) {
        #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
        {
            watch::stop();
            if self.runner.stop() {
                RUNNING.store(false, std::sync::atomic::Ordering::Release);
            }
        }
    }
}

impl Drop for CpuSampler {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
const SECOND: std::time::Duration = std::time::Duration::from_secs(1);

/// Process CPU time after which the idle CPU sampler's thread looks for new threads.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
const IDLE_RING: std::time::Duration = std::time::Duration::from_millis(20);
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
const IDLE_RING_NS: u64 = IDLE_RING.as_nanos() as u64;
/// How long the CPU sampler's thread sleeps while no sampled thread runs (rung earlier when
/// the process uses CPU): for the once-a-second listing and table refresh.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
const IDLE_WAIT: std::time::Duration = std::time::Duration::from_millis(250);

/// How long the CPU sampler's thread sleeps between ticks while sampled threads run: half the
/// time a slot's ring lasts at the timer's rate, from 20 to 250 ms.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn tick_interval(period_ns: u64) -> std::time::Duration {
    use std::time::Duration;
    let ring = period_ns.saturating_mul(slot::RING as u64 / 2);
    Duration::from_nanos(ring).clamp(IDLE_RING, IDLE_WAIT)
}

/// Follows new threads and forgets exited ones. A new thread's stack need not be in the
/// tables' mappings first: its walks read it the slow way and count a miss until the tick
/// reads the mappings again, so a thread on a reused stack costs no read of `/proc/self/maps`.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn rescan(registry: &mut registry::Registry, tids: &[u32], me: u32, period: u64) {
    registry.sync(tids, me, |tid, slot| {
        timer::Timer::arm(tid, period, libc::SIGPROF, slot).map(Some)
    });
}
