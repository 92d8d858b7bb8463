//! The wall clock, as nanoseconds since the Unix epoch: what OTLP timestamps are.
//!
//! A span reads the clock twice, on the application thread. `SystemTime::now()` followed by
//! `duration_since(UNIX_EPOCH)` and the conversion to nanoseconds costs about a hundred
//! instructions around the clock read itself (checked subtraction, `u128` arithmetic); on Unix
//! this reads `CLOCK_REALTIME` directly (the vDSO, no system call) and does one multiply-add.

use std::time::{SystemTime, UNIX_EPOCH};

/// Nanoseconds since the Unix epoch, now.
#[cfg(unix)]
#[inline]
#[allow(unsafe_code)]
pub(crate) fn now_unix_nanos() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_REALTIME is always supported, and on
    // the impossible failure `ts` stays zeroed, which the fallback below handles.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    if rc != 0 || ts.tv_sec < 0 {
        return to_unix_nanos(SystemTime::now());
    }
    (ts.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec as u64)
}

/// Nanoseconds since the Unix epoch, now.
#[cfg(not(unix))]
#[inline]
pub(crate) fn now_unix_nanos() -> u64 {
    to_unix_nanos(SystemTime::now())
}

/// `t` as nanoseconds since the Unix epoch (0 before it, saturating far after it).
pub(crate) fn to_unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agrees_with_system_time() {
        let before = to_unix_nanos(SystemTime::now());
        let now = now_unix_nanos();
        let after = to_unix_nanos(SystemTime::now());
        assert!(before <= now && now <= after, "{before} {now} {after}");
        assert_eq!(to_unix_nanos(UNIX_EPOCH), 0);
        assert_eq!(
            to_unix_nanos(UNIX_EPOCH + std::time::Duration::from_nanos(5)),
            5
        );
    }
}
