//! [`Bell`]: what a sampler's collector thread sleeps on between ticks: a futex word, so that
//! a signal handler can wake it (`ring` is one atomic swap and, at most, one `FUTEX_WAKE`:
//! async-signal-safe, unlike parking a `std` thread, whose safety there is not promised).

// Raw futex calls: the unsafe this module exists for.
#![allow(unsafe_code)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// A doorbell for one waiting thread: rung (1) or not (0).
#[derive(Debug, Default)]
pub(crate) struct Bell(AtomicU32);

impl Bell {
    /// A bell not rung.
    pub(crate) const fn new() -> Bell {
        Bell(AtomicU32::new(0))
    }

    /// Rings: wakes the waiter, or makes its next `wait` return at once. Async-signal-safe.
    pub(crate) fn ring(&self) {
        if self.0.swap(1, Ordering::Release) == 0 {
            // SAFETY: FUTEX_WAKE on a live, aligned u32 this bell owns; the other arguments
            // are unused by this operation. Its result is not needed: no waiter is fine.
            unsafe {
                libc::syscall(
                    libc::SYS_futex,
                    self.0.as_ptr(),
                    libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
                    1,
                );
            }
        }
    }

    /// Sleeps until rung or `timeout` passed; returns whether it was rung (and un-rings it).
    /// Signals landing on the waiting thread do not end the wait early by themselves.
    pub(crate) fn wait(&self, timeout: Duration) -> bool {
        if self.0.swap(0, Ordering::Acquire) == 1 {
            return true;
        }
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let now = std::time::Instant::now();
            if now >= deadline {
                break;
            }
            let left = deadline - now;
            let ts = libc::timespec {
                tv_sec: libc::time_t::try_from(left.as_secs()).unwrap_or(libc::time_t::MAX),
                tv_nsec: libc::c_long::from(left.subsec_nanos()),
            };
            // SAFETY: FUTEX_WAIT on a live, aligned u32 this bell owns, with a relative
            // timeout that outlives the call; it returns at once if the word is not 0.
            let rc = unsafe {
                libc::syscall(
                    libc::SYS_futex,
                    self.0.as_ptr(),
                    libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
                    0u32,
                    &ts as *const libc::timespec,
                )
            };
            if rc == 0 || self.0.load(Ordering::Acquire) == 1 {
                break;
            }
            // ETIMEDOUT ends the loop at the deadline check; EINTR and EAGAIN go round.
        }
        self.0.swap(0, Ordering::Acquire) == 1
    }
}

#[cfg(test)]
mod tests {
    use super::Bell;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn a_wait_times_out_unrung_and_returns_at_once_when_rung_before() {
        let bell = Bell::new();
        assert!(!bell.wait(Duration::from_millis(5)));
        bell.ring();
        assert!(bell.wait(Duration::from_secs(60)));
        assert!(!bell.wait(Duration::from_millis(1)));
    }

    #[test]
    fn a_ring_from_another_thread_wakes_the_waiter() {
        let bell = Arc::new(Bell::new());
        let ringer = Arc::clone(&bell);
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            ringer.ring();
        });
        assert!(bell.wait(Duration::from_secs(60)));
        t.join().unwrap();
    }
}
