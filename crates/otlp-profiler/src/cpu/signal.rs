//! The signal handler shared by the CPU, off-CPU and thread samplers, and its installation.
//!
//! The handler finds its [`Slot`] in the signal's value (set by the timer or by the sender),
//! so it does no lookup; it allocates nothing, takes no lock, and restores `errno`.

// Signals, timers and raw memory reads: the unsafe this module exists for.
#![allow(unsafe_code)]

use super::slot::Slot;
use crate::error::{Error, Kind};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Handlers running now, on any thread.
static IN_HANDLER: AtomicUsize = AtomicUsize::new(0);
/// Users of each installed signal: (signal, count, the action it replaced).
static INSTALLED: Mutex<Vec<(libc::c_int, usize, libc::sighandler_t)>> = Mutex::new(Vec::new());

/// The realtime signal the off-CPU and thread samplers send.
pub(crate) fn wall_signal() -> libc::c_int {
    libc::SIGRTMIN() + 4
}

extern "C" fn on_signal(
    signal: libc::c_int,
    info: *mut libc::siginfo_t,
    context: *mut libc::c_void,
) {
    // SAFETY: errno is this thread's; read and restored so the interrupted code never sees
    // the handler's.
    let errno = unsafe { *libc::__errno_location() };
    IN_HANDLER.fetch_add(1, Ordering::SeqCst);
    // SAFETY: the kernel passes a valid siginfo and ucontext to an SA_SIGINFO handler. Only
    // our timers (SI_TIMER) and our sender (SI_QUEUE) put a slot pointer in the value; a
    // slot lives until no signal carrying it can be pending (see `uninstall` and the
    // samplers' stop).
    unsafe {
        let info = &*info;
        let ours = if signal == libc::SIGPROF {
            info.si_code == libc::SI_TIMER
        } else {
            info.si_code == libc::SI_QUEUE
        };
        let slot = info.si_value().sival_ptr.cast::<Slot>().cast_const();
        if ours && slot.is_null() && signal == libc::SIGPROF {
            // The CPU sampler's process-wide timer, at its own thread: time to look.
            super::watch::wake();
        } else if ours && !slot.is_null() && !context.is_null() {
            let (ip, sp, bp) = registers(context);
            (*slot).record(ip, sp, bp, weight(info, signal));
            if signal == libc::SIGPROF {
                super::watch::check();
            } else {
                (*slot).outstanding.fetch_sub(1, Ordering::Release);
            }
        }
    }
    IN_HANDLER.fetch_sub(1, Ordering::SeqCst);
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = errno };
}

/// Periods a signal stands for: 1, plus the overruns of a timer's signal.
///
/// # Safety
/// `info` is the siginfo the kernel gave the handler.
unsafe fn weight(info: &libc::siginfo_t, signal: libc::c_int) -> u32 {
    if signal != libc::SIGPROF {
        return 1;
    }
    // SAFETY: the caller checked SI_TIMER, whose siginfo holds the overrun count.
    let overrun = unsafe { info.si_overrun() };
    u32::try_from(overrun).unwrap_or(0).saturating_add(1)
}

/// The interrupted instruction, stack and frame pointers.
///
/// # Safety
/// `context` is the ucontext the kernel gave the handler.
#[cfg(target_arch = "x86_64")]
unsafe fn registers(context: *mut libc::c_void) -> (u64, u64, u64) {
    // SAFETY: per the contract.
    let gregs = unsafe { &(*context.cast::<libc::ucontext_t>()).uc_mcontext.gregs };
    let reg = |r: libc::c_int| gregs[usize::try_from(r).unwrap_or(0)] as u64;
    (reg(libc::REG_RIP), reg(libc::REG_RSP), reg(libc::REG_RBP))
}

/// Installs the handler for `signal`: SA_SIGINFO|SA_RESTART|SA_ONSTACK, the samplers'
/// signals masked while it runs (so it never nests on a thread). Refuses when another
/// handler is installed: the samplers chain to no one.
pub(crate) fn install(signal: libc::c_int) -> Result<(), Error> {
    let mut users = INSTALLED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(entry) = users.iter_mut().find(|(s, _, _)| *s == signal) {
        entry.1 += 1;
        return Ok(());
    }
    // SAFETY: sigaction with a null new action only reads the current one into `old`.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    if unsafe { libc::sigaction(signal, std::ptr::null(), &mut old) } != 0 {
        return Err(Error::last_os("sigaction"));
    }
    let handler = on_signal as *const () as usize;
    if old.sa_sigaction != libc::SIG_DFL
        && old.sa_sigaction != libc::SIG_IGN
        && old.sa_sigaction != handler
    {
        return Err(Error::new(
            Kind::State,
            format!(
                "another handler for signal {signal} is installed (another profiler?); the \
                 sampler does not chain to it, so it refuses to start"
            ),
        ));
    }
    // SAFETY: an all-zero sigaction is valid; the mask is initialized by sigemptyset.
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    action.sa_sigaction = handler;
    action.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART | libc::SA_ONSTACK;
    // SAFETY: the mask is a valid sigset_t owned by `action`.
    unsafe {
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaddset(&mut action.sa_mask, libc::SIGPROF);
        libc::sigaddset(&mut action.sa_mask, wall_signal());
    }
    // SAFETY: `action` is fully initialized.
    if unsafe { libc::sigaction(signal, &action, std::ptr::null_mut()) } != 0 {
        return Err(Error::last_os("sigaction"));
    }
    // The default or ignored disposition found, restored by the last `uninstall`.
    let previous = if old.sa_sigaction == handler {
        libc::SIG_DFL
    } else {
        old.sa_sigaction
    };
    users.push((signal, 1, previous));
    Ok(())
}

/// Drops a user of `signal`. The last one sets it to ignored, which discards signals still
/// pending on every thread, waits for running handlers, then restores the action found by
/// `install` (default or ignored):
/// after this returns no handler holds or will get a slot pointer sent with `signal`.
/// Returns whether this was the last user.
pub(crate) fn uninstall(signal: libc::c_int) -> bool {
    let mut users = INSTALLED.lock().unwrap_or_else(|e| e.into_inner());
    let Some(index) = users.iter().position(|(s, _, _)| *s == signal) else {
        return false;
    };
    users[index].1 -= 1;
    if users[index].1 > 0 {
        return false;
    }
    let (_, _, previous) = users.remove(index);
    set_action(signal, libc::SIG_IGN);
    wait_for_handlers();
    set_action(signal, previous);
    true
}

fn set_action(signal: libc::c_int, handler: libc::sighandler_t) {
    // SAFETY: an all-zero sigaction with an empty mask and a plain disposition is valid.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = handler;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(signal, &action, std::ptr::null_mut());
    }
}

/// Waits (bounded) until no handler runs anywhere.
pub(crate) fn wait_for_handlers() {
    let deadline = Instant::now() + Duration::from_secs(1);
    while IN_HANDLER.load(Ordering::SeqCst) != 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_micros(200));
    }
}
