//! The contended path of the locks: timing the wait, sampling one contention in N with its
//! stack, and [`MutexSource`], which turns that on and hands the samples out.

use crate::config::ProfileType;
use crate::error::{Error, Kind};
use crate::heap::stack;
use crate::sample::{MAX_FRAMES, RawSample, Sampler};
use otlp_sdk::context::SpanIds;
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

/// Whether a [`MutexSource`] samples: the one load a contended acquisition makes when none
/// does.
static ENABLED: AtomicBool = AtomicBool::new(false);
/// Whether a [`MutexSource`] exists (stopped or not): one at a time.
static RUNNING: AtomicBool = AtomicBool::new(false);
/// One contention in this many is sampled.
static EVERY: AtomicU32 = AtomicU32::new(1);

/// Contentions kept between two drains at most; beyond, they are counted and dropped.
const MAX_PENDING: usize = 1 << 16;

struct Contention {
    stack: Box<[u64]>,
    delay_ns: u64,
    every: u32,
    thread_id: u32,
    link: Option<SpanIds>,
    time: u64,
}

struct Pending {
    events: Vec<Contention>,
    dropped: u64,
}

static PENDING: Mutex<Pending> = Mutex::new(Pending {
    events: Vec::new(),
    dropped: 0,
});

thread_local! {
    // Contentions left before this thread samples one (0: sample the next).
    static SKIP: Cell<u32> = const { Cell::new(0) };
}

/// Acquires through `lock` after a failed try-lock, timing and sampling the wait when a
/// [`MutexSource`] runs (a timed acquisition that gives up counts too: it waited).
#[cold]
#[inline(never)]
pub(crate) fn contended<R>(lock: impl FnOnce() -> R) -> R {
    if !ENABLED.load(Ordering::Relaxed) {
        return lock();
    }
    let start = Instant::now();
    let out = lock();
    let delay = start.elapsed();
    let every = EVERY.load(Ordering::Relaxed).max(1);
    let sampled = SKIP
        .try_with(|skip| match skip.get() {
            0 => {
                skip.set(every - 1);
                true
            }
            n => {
                skip.set(n - 1);
                false
            }
        })
        .unwrap_or(false);
    if sampled {
        record(u64::try_from(delay.as_nanos()).unwrap_or(u64::MAX), every);
    }
    out
}

fn record(delay_ns: u64, every: u32) {
    let mut frames = [0u64; MAX_FRAMES];
    let n = stack::capture(&mut frames);
    let event = Contention {
        stack: Box::from(&frames[..n]),
        delay_ns,
        every,
        thread_id: stack::thread_id(),
        link: otlp_sdk::context::current_span_ids(),
        time: otlp_sdk::clock::now_unix_nanos(),
    };
    let mut pending = PENDING.lock().unwrap_or_else(PoisonError::into_inner);
    if pending.events.len() < MAX_PENDING {
        pending.events.push(event);
    } else {
        pending.dropped += 1;
    }
}

/// Lock contention sampling, on while this exists: `mutex` samples ([`drain`](Self::drain)).
#[derive(Debug)]
pub(crate) struct MutexSource {
    dropped: u64,
}

impl MutexSource {
    /// Starts sampling one contended acquisition in `every` (0 is taken as 1).
    ///
    /// Errors: [`Kind::State`] if lock sampling already runs.
    pub(crate) fn start(every: u32) -> Result<Self, Error> {
        if RUNNING
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return Err(Error::new(
                Kind::State,
                "lock contention sampling is already running (one mutex profile at a time)",
            ));
        }
        EVERY.store(every.max(1), Ordering::Relaxed);
        ENABLED.store(true, Ordering::Release);
        Ok(MutexSource { dropped: 0 })
    }
}

/// `Mutex` samples, one per contention sampled since the last drain, their values
/// (contentions, delay in nanoseconds) scaled by the sampling ratio. Stopping keeps what was
/// sampled until the source is dropped (which forgets it and lets another source start).
impl Sampler for MutexSource {
    fn drain(&mut self, sink: &mut dyn FnMut(RawSample)) {
        let (events, dropped) = {
            let mut pending = PENDING.lock().unwrap_or_else(PoisonError::into_inner);
            (
                std::mem::take(&mut pending.events),
                std::mem::take(&mut pending.dropped),
            )
        };
        self.dropped += dropped;
        for event in events {
            let every = i64::from(event.every);
            sink(RawSample {
                kind: ProfileType::Mutex,
                frames: event.stack.into_vec(),
                values: [
                    every,
                    i64::try_from(event.delay_ns)
                        .unwrap_or(i64::MAX)
                        .saturating_mul(every),
                ],
                link: event.link,
                thread_id: event.thread_id,
                thread_name: None,
                thread_state: None,
                timestamp_unix_nano: event.time,
            });
        }
    }

    fn dropped(&self) -> u64 {
        self.dropped
    }

    fn stop(&mut self) {
        ENABLED.store(false, Ordering::Release);
    }
}

impl Drop for MutexSource {
    fn drop(&mut self) {
        ENABLED.store(false, Ordering::Release);
        let mut pending = PENDING.lock().unwrap_or_else(PoisonError::into_inner);
        pending.events.clear();
        pending.dropped = 0;
        drop(pending);
        RUNNING.store(false, Ordering::Release);
    }
}
