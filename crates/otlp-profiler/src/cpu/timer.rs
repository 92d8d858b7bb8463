//! [`Timer`]: a POSIX timer on one thread's CPU-time clock (or the process's) that signals
//! one thread.

// Signals, timers and raw memory reads: the unsafe this module exists for.
#![allow(unsafe_code)]

use super::slot::Slot;
use crate::error::Error;

/// An armed per-thread CPU-time timer; deleted on drop.
pub(crate) struct Timer(libc::timer_t);

// SAFETY: a timer id is a process-wide handle, usable from any thread.
unsafe impl Send for Timer {}

impl std::fmt::Debug for Timer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Timer")
    }
}

/// The CPU-time clock of thread `tid` (the kernel's `MAKE_THREAD_CPUCLOCK(tid,
/// CPUCLOCK_SCHED)`): per-thread flag 4, scheduler clock 2, the id inverted above them.
fn thread_cpu_clock(tid: u32) -> libc::clockid_t {
    let tid = libc::clockid_t::try_from(tid).unwrap_or(0);
    (!tid << 3) | 6
}

impl Timer {
    /// Arms a timer firing `signal` at thread `tid` every `period_ns` of its CPU time, the
    /// signal's value pointing at `slot`.
    pub(crate) fn arm(
        tid: u32,
        period_ns: u64,
        signal: libc::c_int,
        slot: &Slot,
    ) -> Result<Timer, Error> {
        let value = std::ptr::from_ref(slot).cast_mut().cast();
        let timer = Timer::create(thread_cpu_clock(tid), tid, signal, value)?;
        timer.set(period_ns)?;
        Ok(timer)
    }

    /// Makes a timer, disarmed, firing `signal` at thread `tid` every so much of the whole
    /// process's CPU time, with a null value (no slot: the handler takes no sample).
    pub(crate) fn process(tid: u32, signal: libc::c_int) -> Result<Timer, Error> {
        Timer::create(
            libc::CLOCK_PROCESS_CPUTIME_ID,
            tid,
            signal,
            std::ptr::null_mut(),
        )
    }

    fn create(
        clock: libc::clockid_t,
        tid: u32,
        signal: libc::c_int,
        value: *mut libc::c_void,
    ) -> Result<Timer, Error> {
        // SAFETY: an all-zero sigevent is a valid value; the fields used are set below.
        let mut event: libc::sigevent = unsafe { std::mem::zeroed() };
        event.sigev_notify = libc::SIGEV_THREAD_ID;
        event.sigev_signo = signal;
        event.sigev_notify_thread_id = libc::c_int::try_from(tid).unwrap_or(0);
        event.sigev_value = libc::sigval { sival_ptr: value };
        let mut id: libc::timer_t = std::ptr::null_mut();
        // SAFETY: `event` and `id` are valid for the call.
        if unsafe { libc::timer_create(clock, &mut event, &mut id) } != 0 {
            return Err(Error::last_os("timer_create"));
        }
        Ok(Timer(id))
    }

    /// Fires every `period_ns` of the timer's clock from now on; 0 disarms it.
    pub(crate) fn set(&self, period_ns: u64) -> Result<(), Error> {
        let period = libc::timespec {
            tv_sec: libc::time_t::try_from(period_ns / 1_000_000_000).unwrap_or(0),
            tv_nsec: libc::c_long::try_from(period_ns % 1_000_000_000).unwrap_or(0),
        };
        let spec = libc::itimerspec {
            it_interval: period,
            it_value: period,
        };
        // SAFETY: `self.0` is a live timer; `spec` is valid for the call.
        if unsafe { libc::timer_settime(self.0, 0, &spec, std::ptr::null_mut()) } != 0 {
            return Err(Error::last_os("timer_settime"));
        }
        Ok(())
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        // SAFETY: the id came from timer_create and is deleted once, here.
        unsafe {
            libc::timer_delete(self.0);
        }
    }
}
