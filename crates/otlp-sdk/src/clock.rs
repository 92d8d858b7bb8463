//! The SDK's one wall clock, as nanoseconds since the Unix epoch: what OTLP timestamps are.
//!
//! Spans (start and end), span events, log records (observed time), the SDK's own metrics and
//! the `tracing` bridge all read [`now_unix_nanos`], so that their timestamps agree with each
//! other: an event added after a span started is not stamped before that start.
//!
//! A span reads the clock twice, on the application thread, so the read is on the hot path.
//! `SystemTime::now()` goes through the vDSO's `CLOCK_REALTIME` (a sequence lock, the
//! time-stamp counter, a conversion) and then `Duration` arithmetic. Where the kernel itself
//! keeps time with the time-stamp counter (x86-64 Linux with the `tsc` clock source: the kernel
//! has checked that the counter is invariant and synchronized across cores), the counter is
//! read directly and converted with a per-thread anchor to `CLOCK_REALTIME`, taken again every
//! 20 ms: the error stays well under a microsecond, and the clock follows the system's (NTP
//! steps and slews included) within that period. Elsewhere, or until the counter's rate is
//! calibrated (the first 10 ms after the first read), `CLOCK_REALTIME` is read each time.
//!
//! # Signal handlers
//!
//! [`now_unix_nanos`] is **not** async-signal-safe: the process's first reading reads the
//! kernel's clock source from `/sys` and initializes a `OnceLock`, and each thread's anchor is
//! a plain thread-local that a handler could interrupt half written. A signal handler (a
//! profiler's) calls [`now_signal_safe`] instead: `clock_gettime(CLOCK_REALTIME)` alone, which
//! POSIX lists as async-signal-safe, and which [`now_unix_nanos`] follows within a
//! microsecond.

use std::time::{SystemTime, UNIX_EPOCH};

/// Nanoseconds since the Unix epoch, now: the SDK's clock (not async-signal-safe; see the
/// [module docs](self)).
#[inline]
pub fn now_unix_nanos() -> u64 {
    #[cfg(all(target_arch = "x86_64", target_os = "linux", not(otlp_portable)))]
    if let Some(now) = tsc::now() {
        return now;
    }
    realtime()
}

/// `CLOCK_REALTIME`, read through the vDSO (no system call) with one multiply-add, instead of
/// `SystemTime`'s checked `u128` arithmetic.
#[cfg(all(unix, not(otlp_portable)))]
#[inline]
#[allow(unsafe_code)]
fn realtime() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_REALTIME is always supported, and on
    // the impossible failure `ts` stays zeroed, which the fallback below handles.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    if rc != 0 || ts.tv_sec < 0 {
        // Not reached: CLOCK_REALTIME cannot fail, and is past the epoch.
        return 0;
    }
    (ts.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec as u64)
}

#[cfg(any(not(unix), otlp_portable))]
#[inline]
fn realtime() -> u64 {
    to_unix_nanos(SystemTime::now())
}

/// Nanoseconds since the Unix epoch, now, read from `CLOCK_REALTIME` alone: async-signal-safe
/// on Unix (POSIX lists `clock_gettime` as such), for signal handlers. It agrees with
/// [`now_unix_nanos`] within a microsecond. (Off Unix it reads `SystemTime`, and there are no
/// such signals.)
#[inline]
pub fn now_signal_safe() -> u64 {
    realtime()
}

/// `t` as nanoseconds since the Unix epoch (0 before it, saturating far after it).
pub fn to_unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

#[cfg(all(target_arch = "x86_64", target_os = "linux", not(otlp_portable)))]
mod tsc {
    //! The time-stamp counter as a wall clock.
    //!
    //! - The counter's rate (nanoseconds per tick, 32.32 fixed point) is measured against
    //!   `CLOCK_REALTIME` from the process's first reading: once 10 ms have passed, and ever
    //!   more precisely as the baseline grows (each re-anchoring thread refines it).
    //! - Each thread converts from its own anchor, a (counter, realtime) pair it takes again
    //!   every [`REANCHOR_NS`], or when the counter reads behind the anchor (a core whose counter
    //!   lags by a few cycles). A re-anchor reads `CLOCK_REALTIME` once: amortized, nothing.

    use std::cell::Cell;
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

    /// How long a thread extrapolates from one anchor.
    pub(crate) const REANCHOR_NS: u64 = 20_000_000;
    /// The shortest baseline the rate is measured over.
    const MIN_BASELINE_NS: u64 = 10_000_000;

    const UNKNOWN: u8 = 0;
    const USABLE: u8 = 1;
    const UNUSABLE: u8 = 2;
    static MODE: AtomicU8 = AtomicU8::new(UNKNOWN);
    /// The first (counter, realtime) pair of the process.
    static ORIGIN: OnceLock<(u64, u64)> = OnceLock::new();
    /// A (counter, realtime) pair whose realtime read took longer than this many ticks (the
    /// thread was interrupted or descheduled in between) is not used: its midpoint is unsure.
    const MAX_READ_TICKS: u64 = 10_000;
    /// Nanoseconds per tick, 32.32 fixed point; 0 until calibrated.
    static SCALE: AtomicU64 = AtomicU64::new(0);

    #[derive(Clone, Copy)]
    struct Anchor {
        ticks: u64,
        ns: u64,
        scale: u64,
        /// Ticks after `ticks` at which to re-anchor (0: re-anchor at the next read).
        span: u64,
    }

    thread_local! {
        static ANCHOR: Cell<Anchor> = const {
            Cell::new(Anchor { ticks: 0, ns: 0, scale: 0, span: 0 })
        };
    }

    #[inline]
    #[allow(unsafe_code)]
    fn ticks() -> u64 {
        // SAFETY: RDTSC is part of x86-64's baseline and reads a counter; it has no effect.
        unsafe { std::arch::x86_64::_rdtsc() }
    }

    /// Now, from the counter; `None` where the counter is not the kernel's clock source.
    #[inline]
    pub(crate) fn now() -> Option<u64> {
        if MODE.load(Ordering::Relaxed) == UNUSABLE {
            return None;
        }
        let t = ticks();
        let a = ANCHOR.try_with(Cell::get).ok()?;
        let dt = t.wrapping_sub(a.ticks);
        if dt < a.span {
            return Some(a.ns + to_ns(dt, a.scale));
        }
        reanchor()
    }

    /// `ticks` at `scale` (32.32 nanoseconds per tick), in nanoseconds.
    #[inline]
    fn to_ns(ticks: u64, scale: u64) -> u64 {
        ((u128::from(ticks) * u128::from(scale)) >> 32) as u64
    }

    /// Takes a new anchor for this thread, refining the rate on the way.
    #[cold]
    fn reanchor() -> Option<u64> {
        if MODE.load(Ordering::Relaxed) == UNKNOWN {
            let usable = std::fs::read_to_string(
                "/sys/devices/system/clocksource/clocksource0/current_clocksource",
            )
            .is_ok_and(|s| is_tsc(&s));
            MODE.store(if usable { USABLE } else { UNUSABLE }, Ordering::Relaxed);
            if !usable {
                return None;
            }
        }
        let Some((t, ns)) = pair() else {
            // Interrupted three times in a row: this reading alone, and try again next time.
            return Some(super::realtime());
        };
        let &(origin_ticks, origin_ns) = ORIGIN.get_or_init(|| (t, ns));
        let elapsed_ns = ns.saturating_sub(origin_ns);
        let elapsed_ticks = t.wrapping_sub(origin_ticks);
        let mut scale = SCALE.load(Ordering::Relaxed);
        if elapsed_ns >= MIN_BASELINE_NS
            && elapsed_ticks > 0
            && elapsed_ticks < u64::MAX / 2
            && let Some(s) = rate(elapsed_ns, elapsed_ticks)
        {
            scale = s;
            SCALE.store(s, Ordering::Relaxed);
        }
        let span = if scale == 0 {
            0
        } else {
            ((u128::from(REANCHOR_NS) << 32) / u128::from(scale)).min(u128::from(u64::MAX)) as u64
        };
        let previous = ANCHOR.try_with(Cell::get).ok()?;
        let (ns, scale) = continue_from(previous, t, ns, scale);
        let _ = ANCHOR.try_with(|a| {
            a.set(Anchor {
                ticks: t,
                ns,
                scale,
                span,
            });
        });
        Some(ns)
    }

    /// Where a thread's new anchor starts, and its rate. The old anchor may have run a little
    /// ahead of `CLOCK_REALTIME` (the rate is measured, not exact): starting from `ns` would
    /// take the thread's clock back, and a span event stamped just before could come after the
    /// span's end. So the new anchor starts where the old one is now and runs slower by what it
    /// is ahead, meeting `CLOCK_REALTIME` after a period. A lead of a millisecond or more is
    /// not the rate's error but the system clock set back: followed at once.
    fn continue_from(previous: Anchor, t: u64, ns: u64, scale: u64) -> (u64, u64) {
        const MAX_LEAD_NS: u64 = 1_000_000;
        let dt = t.wrapping_sub(previous.ticks);
        if previous.scale == 0 || scale == 0 || dt >= u64::MAX / 2 {
            return (ns, scale);
        }
        let extrapolated = previous.ns.saturating_add(to_ns(dt, previous.scale));
        let lead = extrapolated.saturating_sub(ns);
        if lead == 0 || lead >= MAX_LEAD_NS {
            return (ns, scale);
        }
        // REANCHOR_NS - lead nanoseconds over the ticks of REANCHOR_NS: the slower rate.
        let slower = (u128::from(scale) * u128::from(REANCHOR_NS - lead)) / u128::from(REANCHOR_NS);
        (extrapolated, slower as u64)
    }

    /// A realtime reading and the counter at that moment (the midpoint of two counter reads
    /// around it), unless each of three tries was interrupted.
    fn pair() -> Option<(u64, u64)> {
        (0..3).find_map(|_| {
            let before = ticks();
            let ns = super::realtime();
            let took = ticks().wrapping_sub(before);
            (took <= MAX_READ_TICKS).then_some((before + took / 2, ns))
        })
    }

    /// Nanoseconds per tick over a baseline, 32.32 fixed point; `None` if absurd.
    fn rate(ns: u64, ticks: u64) -> Option<u64> {
        let scale = (u128::from(ns) << 32) / u128::from(ticks);
        // Counters tick between about 10 MHz and 10 GHz.
        let (slowest, fastest) = (100u128 << 32, (1u128 << 32) / 10);
        (fastest..=slowest).contains(&scale).then_some(scale as u64)
    }

    /// Whether the kernel's clock source, as sysfs names it, is the time-stamp counter.
    fn is_tsc(current_clocksource: &str) -> bool {
        current_clocksource.trim() == "tsc"
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn only_the_tsc_clock_source_qualifies() {
            assert!(is_tsc("tsc\n"));
            assert!(!is_tsc("kvm-clock\n"));
            assert!(!is_tsc("hpet"));
            assert!(!is_tsc(""));
        }

        /// Where the kernel keeps time with the counter, the counter's rate is calibrated
        /// within the first tens of milliseconds and readings then come from it.
        #[test]
        fn calibrates_where_the_kernel_uses_the_counter() {
            let source = std::fs::read_to_string(
                "/sys/devices/system/clocksource/clocksource0/current_clocksource",
            )
            .unwrap_or_default();
            let start = std::time::Instant::now();
            while start.elapsed() < std::time::Duration::from_millis(30) {
                let _ = now();
            }
            if is_tsc(&source) {
                let scale = SCALE.load(Ordering::Relaxed);
                assert_ne!(scale, 0, "calibrated");
                let a = ANCHOR.with(Cell::get);
                // Another thread may have refined the rate since this one anchored.
                assert!(a.span > 0 && a.scale != 0, "anchored");
            } else {
                assert_eq!(now(), None, "not the clock source: {source}");
            }
        }

        #[test]
        fn a_new_anchor_never_takes_the_clock_back() {
            let scale = rate(1_000_000_000, 3_000_000_000).expect("3 GHz");
            let old = Anchor {
                ticks: 1_000,
                ns: 5_000_000_000,
                scale,
                span: 60_000_000,
            };
            // 20 ms later the old anchor says 500 ns more than CLOCK_REALTIME.
            let t = 1_000 + 60_000_000;
            let ahead = old.ns + to_ns(t - old.ticks, scale);
            let (ns, slower) = continue_from(old, t, ahead - 500, scale);
            assert_eq!(ns, ahead, "continues where the old anchor is");
            assert!(slower < scale);
            // A period later it meets CLOCK_REALTIME, within a nanosecond or two.
            let met = ns + to_ns(60_000_000, slower);
            assert!(met.abs_diff(ahead - 500 + 20_000_000) < 3, "{met}");
            // Behind, or the system clock set back by more than a millisecond: followed.
            assert_eq!(
                continue_from(old, t, ahead + 500, scale),
                (ahead + 500, scale)
            );
            assert_eq!(
                continue_from(old, t, ahead - 5_000_000, scale).0,
                ahead - 5_000_000
            );
            // No rate yet: nothing to continue.
            let first = Anchor { scale: 0, ..old };
            assert_eq!(continue_from(first, t, 7, scale), (7, scale));
        }

        #[test]
        fn rates_in_fixed_point() {
            // 3 GHz: a third of a nanosecond per tick.
            let s = rate(1_000_000_000, 3_000_000_000).expect("3 GHz");
            assert_eq!(
                to_ns(3_000_000_000, s),
                999_999_999,
                "rounded down, within 1 ns"
            );
            assert_eq!(to_ns(3, s), 0);
            assert_eq!(to_ns(30_000, s), 9_999);
            // 1 MHz and 100 GHz are not counters.
            assert_eq!(rate(1_000_000_000, 1_000_000), None);
            assert_eq!(rate(1_000_000_000, 100_000_000_000), None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions() {
        assert_eq!(to_unix_nanos(UNIX_EPOCH), 0);
        assert_eq!(
            to_unix_nanos(UNIX_EPOCH + std::time::Duration::from_nanos(5)),
            5
        );
    }

    /// Over 60 ms (before and after the counter's rate is known, across re-anchors), every
    /// reading lies between `CLOCK_REALTIME` read just before and just after it, give or take
    /// 20 microseconds (the extrapolation's error is far smaller), and readings on one thread
    /// never go back by more than that.
    #[test]
    fn agrees_with_the_system_clock() {
        let slack = 20_000;
        let start = std::time::Instant::now();
        let mut last = 0;
        let mut readings = 0;
        while start.elapsed() < std::time::Duration::from_millis(60) {
            let before = realtime();
            let now = now_unix_nanos();
            let after = realtime();
            assert!(
                before <= now + slack && now <= after + slack,
                "{before} {now} {after}"
            );
            assert!(now + slack >= last, "went back: {last} then {now}");
            last = now;
            readings += 1;
        }
        assert!(readings > 100);
    }
}
