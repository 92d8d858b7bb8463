//! A SIGPROF handler of the bench's own wrapped around whichever profiler's handler is
//! installed: it counts the handler's runs on each thread and times them (two clock reads
//! through the vDSO, the same for both profilers), so the workload can tell a sample's stall
//! from any other and the handler's own cost is measured exactly, sample by sample.

// Signal dispositions: the unsafe this module exists for.
#![allow(unsafe_code)]

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// The wrapped handler (an `sa_sigaction` address); 0 when none.
static WRAPPED: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Handler runs on this thread.
    static RUNS: Cell<u64> = const { Cell::new(0) };
    /// Their time on this thread, nanoseconds.
    static NANOS: Cell<u64> = const { Cell::new(0) };
    /// The last runs' times, nanoseconds, by run number modulo its length.
    static EACH: [Cell<u32>; KEPT] = const { [const { Cell::new(0) }; KEPT] };
}

/// Handler times kept per thread (a run takes a few hundred samples per thread).
const KEPT: usize = 4096;

/// Handler runs on this thread so far, and their time in nanoseconds.
pub fn this_thread() -> (u64, u64) {
    (RUNS.with(Cell::get), NANOS.with(Cell::get))
}

/// The times of this thread's handler runs numbered `from..to` (as [`this_thread`] counts
/// them; the last [`KEPT`] at most), nanoseconds.
pub fn times(from: u64, to: u64) -> Vec<u32> {
    let from = from.max(to.saturating_sub(KEPT as u64));
    EACH.with(|each| {
        (from..to)
            .map(|n| each[(n % KEPT as u64) as usize].get())
            .collect()
    })
}

type Action = extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void);

extern "C" fn timed(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    let start = Instant::now();
    let wrapped = WRAPPED.load(Ordering::Acquire);
    if wrapped != 0 {
        // SAFETY: `wrap` stored the address of an SA_SIGINFO handler, which takes these
        // arguments; the kernel's arguments are passed on unchanged.
        let action: Action = unsafe { std::mem::transmute::<usize, Action>(wrapped) };
        action(signal, info, context);
    }
    let took = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
    // Const-initialized thread-locals without destructors: plain TLS reads, signal-safe.
    let run = RUNS.with(Cell::get);
    EACH.with(|each| {
        each[(run % KEPT as u64) as usize].set(u32::try_from(took).unwrap_or(u32::MAX))
    });
    RUNS.with(|c| c.set(run + 1));
    NANOS.with(|c| c.set(c.get() + took));
}

/// Wraps the installed SIGPROF handler (call after the profiler started); the profiler's
/// own stop removes the wrapper with its handler.
pub fn wrap() {
    // SAFETY: sigaction with a null new action only reads the current one.
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: as above; `action` is valid for the call.
    if unsafe { libc::sigaction(libc::SIGPROF, std::ptr::null(), &mut action) } != 0 {
        panic!("sigaction: {}", std::io::Error::last_os_error());
    }
    assert!(
        action.sa_flags & libc::SA_SIGINFO != 0,
        "the profiler's SIGPROF handler is not an SA_SIGINFO one"
    );
    WRAPPED.store(action.sa_sigaction, Ordering::Release);
    // Its flags and mask kept: only the entry point changes.
    action.sa_sigaction = timed as *const () as usize;
    // SAFETY: `action` is the installed action with another entry point of the same kind.
    if unsafe { libc::sigaction(libc::SIGPROF, &action, std::ptr::null_mut()) } != 0 {
        panic!("sigaction: {}", std::io::Error::last_os_error());
    }
}
