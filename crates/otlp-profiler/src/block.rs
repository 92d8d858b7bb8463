//! [`BlockSampler`] (off-CPU) and [`ThreadSampler`] (every thread's stack and state): a
//! wall-clock ticker thread that signals threads with a realtime signal, handled by the CPU
//! sampler's machinery (slot in the signal's value, unwinding in the handler).
//!
//! Signalling a thread blocked in a system call interrupts it; with SA_RESTART most calls
//! resume, and the rest (sleeps, some waits) return `EINTR`, which std retries.

use crate::error::Error;
#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
use crate::error::Kind;
use crate::sample::{RawSample, Sampler};
use crate::threads::ThreadState;

/// Off-CPU sampling: at each tick, threads found not running are signalled and report where
/// they wait (kind Block, values `[1, period_ns]`).
#[derive(Debug)]
pub(crate) struct BlockSampler {
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    runner: crate::cpu::runner::Runner,
}

/// Thread snapshots: every period, every thread's stack and state (kind Goroutine, values
/// `[1, 0]`; the state goes in the `thread.state` attribute, see [`ThreadSampler::drain`]).
#[derive(Debug)]
pub(crate) struct ThreadSampler {
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    runner: crate::cpu::runner::Runner,
}

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
#[allow(unsafe_code)] // sending signals to threads
mod imp {
    use crate::config::ProfileType;
    use crate::cpu::registry::Registry;
    use crate::cpu::runner::Runner;
    use crate::cpu::signal;
    use crate::cpu::slot::Slot;
    use crate::error::Error;
    use crate::threads::{self, ThreadState};
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    /// Starts a wall-clock sampler of `kind`; `all` signals running threads too.
    pub(super) fn start(
        kind: ProfileType,
        period: u64,
        values: [i64; 2],
        all: bool,
    ) -> Result<Runner, Error> {
        crate::unwind::refresh()?;
        // Before the handler goes in: a failure here leaves nothing to undo.
        let mut tasks = crate::cpu::tasks::TaskDir::open()?;
        let mut tids = Vec::new();
        let sig = signal::wall_signal();
        signal::install(sig)?;
        let registry = Registry::new(kind, values);
        // Ticks per second: the tables are refreshed at least that often (dlopen).
        let per_second = (1_000_000_000 / period.max(1)).max(1);
        let mut ticks = 0u64;
        let interval = Duration::from_nanos(period);
        let tick = move |registry: &mut Registry, me: u32| {
            tasks.list(&mut tids);
            ticks += 1;
            // New threads' stacks are read the slow way until the mappings are read again:
            // at the tick after a walk missed them (see `unwind::refresh_if_stale`).
            let _ = crate::unwind::refresh_if_stale(ticks.is_multiple_of(per_second));
            registry.sync(&tids, me, |_, _| Ok::<_, ()>(None));
            for (&tid, tracked) in &mut registry.threads {
                let Some(state) = threads::state(tid) else {
                    continue;
                };
                // A thread that has not taken the last signal yet is left alone, so signals do
                // not pile up on a thread that cannot take them (stopped, or in an
                // uninterruptible wait). One unanswered for `RESEND_AFTER` ticks is written off
                // (taken by `sigwait`, say), so that a signal that never arrives costs that many
                // samples, not the rest of the run; the count itself still says what may
                // arrive, for the slot's lifetime.
                let out = tracked.slot.outstanding.load(Ordering::Acquire);
                tracked.written_off = tracked.written_off.min(out);
                if out > tracked.written_off
                    && ticks.saturating_sub(tracked.sent_at) >= RESEND_AFTER
                {
                    tracked.written_off = out;
                }
                if (state == ThreadState::Running && !all) || out > tracked.written_off {
                    continue;
                }
                tracked.slot.set_state(encode(state));
                tracked.slot.outstanding.fetch_add(1, Ordering::AcqRel);
                if send(tid, sig, &tracked.slot) {
                    tracked.sent_at = ticks;
                } else {
                    tracked.slot.outstanding.fetch_sub(1, Ordering::AcqRel);
                }
            }
            registry.collect();
            interval
        };
        let name = if all {
            "otlp-prof-threads"
        } else {
            "otlp-prof-block"
        };
        // On failure the runner has already dropped its use of the signal.
        Runner::start(name, sig, registry, tick)
    }

    /// Ticks after which a signal a thread has not taken counts as lost.
    const RESEND_AFTER: u64 = 10;

    /// The kernel's siginfo for `rt_tgsigqueueinfo`, queue layout (128 bytes).
    #[repr(C)]
    struct QueueInfo {
        signo: libc::c_int,
        errno: libc::c_int,
        code: libc::c_int,
        _pad: libc::c_int,
        pid: libc::pid_t,
        uid: libc::uid_t,
        value: *mut libc::c_void,
        _rest: [u64; 12],
    }

    /// Queues `sig` at thread `tid` with `slot` as its value.
    fn send(tid: u32, sig: libc::c_int, slot: &Slot) -> bool {
        // SAFETY: getpid and getuid have no preconditions.
        let (pid, uid) = unsafe { (libc::getpid(), libc::getuid()) };
        let info = QueueInfo {
            signo: sig,
            errno: 0,
            code: libc::SI_QUEUE,
            _pad: 0,
            pid,
            uid,
            value: std::ptr::from_ref(slot).cast_mut().cast(),
            _rest: [0; 12],
        };
        let Ok(tid) = libc::pid_t::try_from(tid) else {
            return false;
        };
        // SAFETY: `info` is a valid 128-byte siginfo for the call; the target is a thread of
        // this process.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_rt_tgsigqueueinfo,
                pid,
                tid,
                sig,
                std::ptr::from_ref(&info),
            )
        };
        rc == 0
    }

    pub(super) fn encode(state: ThreadState) -> u8 {
        state as u8 + 1
    }
}

/// The state a sample's byte names (0: none recorded).
#[allow(dead_code)]
fn decode(byte: u8) -> Option<ThreadState> {
    [
        ThreadState::Running,
        ThreadState::Sleeping,
        ThreadState::DiskWait,
        ThreadState::Stopped,
        ThreadState::Other,
    ]
    .into_iter()
    .find(|s| *s as u8 + 1 == byte)
}

#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
fn unsupported() -> Error {
    Error::new(
        Kind::Unsupported,
        "off-CPU and thread sampling need Linux on x86_64",
    )
}

impl BlockSampler {
    /// Starts looking at every thread `frequency_hz` times per second of wall time.
    pub(crate) fn start(frequency_hz: u32) -> Result<Self, Error> {
        let period = crate::cpu::period_ns(frequency_hz)?;
        #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
        {
            let value = i64::try_from(period).unwrap_or(i64::MAX);
            let runner = imp::start(crate::config::ProfileType::Block, period, [1, value], false)?;
            Ok(BlockSampler { runner })
        }
        #[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
        {
            let _ = period;
            Err(unsupported())
        }
    }
}

impl Sampler for BlockSampler {
    fn drain(&mut self, sink: &mut dyn FnMut(RawSample)) {
        #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
        self.runner.drain(&mut |sample, _| sink(sample));
        #[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
        let _ = sink;
    }

    fn stop(&mut self) {
        #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
        self.runner.stop();
    }
}

impl ThreadSampler {
    /// Starts taking every thread's stack and state `frequency_hz` times per second.
    pub(crate) fn start(frequency_hz: u32) -> Result<Self, Error> {
        let period = crate::cpu::period_ns(frequency_hz)?;
        #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
        {
            let runner = imp::start(crate::config::ProfileType::Goroutine, period, [1, 0], true)?;
            Ok(ThreadSampler { runner })
        }
        #[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
        {
            let _ = period;
            Err(unsupported())
        }
    }
}

/// Each sample carries the thread's state when it was signalled (`thread_state`:
/// [`ThreadState::name`]).
impl Sampler for ThreadSampler {
    fn drain(&mut self, sink: &mut dyn FnMut(RawSample)) {
        #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
        self.runner.drain(&mut |mut sample, state| {
            sample.thread_state = decode(state).map(ThreadState::name);
            sink(sample)
        });
        #[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
        let _ = sink;
    }

    fn stop(&mut self) {
        #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
        self.runner.stop();
    }
}
