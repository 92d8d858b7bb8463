//! [`CpuSampler`]: on-CPU sampling with one POSIX timer per thread on that thread's CPU-time
//! clock, delivering SIGPROF to that thread; the handler unwinds into the thread's slot and a
//! collector thread turns slots into [`RawSample`]s.
//!
//! The signal machinery (slots, handler, collector) is shared with the off-CPU and thread
//! samplers of [`crate::block`].

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
    /// time, threads started later included (found within 20 ms).
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
        let mut ticks = 0u64;
        // Every tick: new threads (a thread's CPU before its timer is armed is not sampled)
        // and the slots (a slot's 64 entries last 64 ms at the fastest a timer fires, once
        // per kernel tick at 1,000 Hz). Waking and listing are most of what this thread
        // costs, hence no more often; threads are listed when their count moved, and every
        // 100 ms all the same (one ending as another starts leaves the count as it was).
        let tick = move |registry: &mut registry::Registry, me: u32| {
            let now = tasks.count();
            if now.is_none() || now != counted || ticks.is_multiple_of(5) {
                tasks.list(&mut tids);
                counted = now;
                // Every second, the tables even without new threads (objects dlopen'ed since).
                rescan(registry, &tids, me, period, ticks.is_multiple_of(50));
            }
            ticks += 1;
            registry.collect();
        };
        let runner = runner::Runner::start(
            "otlp-prof-cpu",
            libc::SIGPROF,
            registry,
            std::time::Duration::from_millis(20),
            tick,
        );
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

/// Follows new threads (arming their timers after the tables know their stacks) and forgets
/// exited ones.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn rescan(registry: &mut registry::Registry, tids: &[u32], me: u32, period: u64, refresh: bool) {
    if refresh
        || tids
            .iter()
            .any(|t| *t != me && !registry.threads.contains_key(t))
    {
        // A failed refresh keeps the old tables: new threads then get one-frame stacks.
        let _ = crate::unwind::refresh();
    }
    registry.sync(tids, me, |tid, slot| {
        timer::Timer::arm(tid, period, libc::SIGPROF, slot).map(Some)
    });
}
