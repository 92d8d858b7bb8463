//! Noticing new threads from inside the SIGPROF handler, so that the CPU sampler's thread
//! need not wake often to look for them while sampled threads are busy.
//!
//! A thread is sampled once its timer is armed, which the sampler's thread does after it saw
//! the thread in `/proc/self/task`. While sampled threads run, their handlers compare the
//! directory's link count (one `fstat`, async-signal-safe) with the count the sampler last
//! listed at, and ring its bell when they differ; the sampler's thread then lists and arms at
//! once instead of at its next tick. While no sampled thread runs, no handler runs to notice:
//! a timer on the whole process's CPU time, at the sampler's thread, rings it instead (see
//! [`wake`]) as soon as any thread, new ones included, used a little CPU.

// The handler's side: a raw descriptor and a bell reached through statics.
#![allow(unsafe_code)]

use super::bell::Bell;
use std::sync::atomic::{AtomicI32, AtomicPtr, AtomicU64, Ordering};

/// The descriptor of the sampler's open `/proc/self/task`, or -1 when no sampler watches.
static TASKS_FD: AtomicI32 = AtomicI32::new(-1);
/// The directory's link count when the sampler last listed the threads.
static KNOWN: AtomicU64 = AtomicU64::new(0);
/// The sampler thread's bell (null when no sampler watches).
static BELL: AtomicPtr<Bell> = AtomicPtr::new(std::ptr::null_mut());
/// When a handler last looked at the link count (Unix nanoseconds).
static CHECKED_AT: AtomicU64 = AtomicU64::new(0);
/// How often handlers look at the link count at most, whatever the number of threads sampled:
/// an `fstat` costs about a third of a handler's run.
const CHECK_EVERY_NS: u64 = 20_000_000;
/// Times a handler rang for a listing, since the process started (for tests).
static RINGS: AtomicU64 = AtomicU64::new(0);

/// Times a handler found the thread count moved and rang for a listing.
pub(crate) fn rings() -> u64 {
    RINGS.load(Ordering::Relaxed)
}

/// Starts watching: handlers ring `bell` when the link count of `fd` moves from the one last
/// given to [`listed_at`].
///
/// `bell` and `fd` must stay valid until [`stop`] was called and the SIGPROF handler was
/// uninstalled (which waits for running handlers).
pub(crate) fn start(fd: i32, bell: &Bell) {
    BELL.store(std::ptr::from_ref(bell).cast_mut(), Ordering::Release);
    TASKS_FD.store(fd, Ordering::Release);
}

/// Records the link count the sampler listed the threads at.
pub(crate) fn listed_at(known: u64) {
    KNOWN.store(known, Ordering::Relaxed);
}

/// Stops watching; handlers already past the check may still ring the bell until SIGPROF is
/// uninstalled.
pub(crate) fn stop() {
    TASKS_FD.store(-1, Ordering::Release);
    BELL.store(std::ptr::null_mut(), Ordering::Release);
}

/// The sampler's bell, while one watches.
fn bell() -> Option<&'static Bell> {
    let bell = BELL.load(Ordering::Acquire);
    // SAFETY: a non-null bell is the sampler's, valid until SIGPROF is uninstalled (see
    // `start`), which cannot happen while a handler (the only caller) runs.
    unsafe { bell.as_ref() }
}

/// Called by the SIGPROF handler for the CPU sampler's process-wide timer: rings its bell.
/// Async-signal-safe.
pub(crate) fn wake() {
    if let Some(bell) = bell() {
        bell.ring();
    }
}

/// Called by the SIGPROF handler after a sample: rings the sampler's bell when the number of
/// threads moved since its last listing; looks at most every `CHECK_EVERY_NS` (a new thread
/// is then found within that much of a running thread's time). Async-signal-safe: atomics, a
/// clock read, `fstat` and a futex wake.
pub(crate) fn check() {
    let fd = TASKS_FD.load(Ordering::Acquire);
    if fd < 0 {
        return;
    }
    let now = otlp_sdk::clock::now_signal_safe();
    let last = CHECKED_AT.load(Ordering::Relaxed);
    // A clock stepped back counts as due; of handlers racing here, one looks.
    if (last <= now && now - last < CHECK_EVERY_NS)
        || CHECKED_AT
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
    {
        return;
    }
    // A descriptor closed and reused since the load gives another file's count: one
    // needless listing.
    // A stack outside the tables' mappings: the sampler's thread reads them again.
    let missed = crate::unwind::stacks_missed();
    let moved = super::tasks::links_of(fd).is_some_and(|l| l != KNOWN.load(Ordering::Relaxed));
    if !missed && !moved {
        return;
    }
    if let Some(bell) = bell() {
        RINGS.fetch_add(1, Ordering::Relaxed);
        bell.ring();
    }
}
