//! The current span as an async-signal handler can read it: a per-thread slot of atomics.
//!
//! A sampling profiler's signal handler runs on the interrupted thread, between any two
//! instructions of it, possibly in the middle of a push onto the context stack. It may not
//! borrow the stack (a `RefCell` the interrupted code may hold), allocate, lock or register a
//! thread-local lazily. So the stack also publishes the current span's ids into a slot made
//! of atomics, in a thread-local with a constant initializer and nothing to drop (a plain
//! thread-local read): two copies and a generation counter. The writer fills the copy the
//! generation does not point at, then publishes the new generation (release); a reader loads
//! the generation (acquire) and reads the copy it points at, which nobody writes while the
//! generation stays (the writer is the interrupted thread itself), and checks that the
//! generation did not move.
//!
//! Publishing costs a few stores on every push and pop, and looking up the span of a
//! deferred frame at its push: so it is done only while someone tracks the slot
//! ([`track_current_span`]); otherwise a push or pop pays one relaxed load.

use super::stack;
use crate::trace::{SpanContext, SpanId, TraceFlags, TraceId};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// The ids of a span: what a profiler attaches to a sample. `Copy`, with nothing to drop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpanIds {
    /// The trace id.
    pub trace_id: TraceId,
    /// The span id.
    pub span_id: SpanId,
    /// The trace flags (sampled or not).
    pub trace_flags: TraceFlags,
}

impl SpanIds {
    /// The ids of `context`; `None` when it is invalid.
    pub fn of(context: &SpanContext) -> Option<SpanIds> {
        context.is_valid().then(|| SpanIds {
            trace_id: context.trace_id(),
            span_id: context.span_id(),
            trace_flags: context.trace_flags(),
        })
    }

    fn encode(ids: Option<SpanIds>) -> [u64; 4] {
        let Some(ids) = ids else {
            return [0; 4];
        };
        let trace = ids.trace_id.to_bytes();
        let (high, low) = trace.split_at(8);
        [
            word(high),
            word(low),
            u64::from_ne_bytes(ids.span_id.to_bytes()),
            PRESENT | u64::from(ids.trace_flags.bits()),
        ]
    }

    fn decode(words: [u64; 4]) -> Option<SpanIds> {
        if words[3] & PRESENT == 0 {
            return None;
        }
        let mut trace = [0; 16];
        trace[..8].copy_from_slice(&words[0].to_ne_bytes());
        trace[8..].copy_from_slice(&words[1].to_ne_bytes());
        Some(SpanIds {
            trace_id: TraceId::from_bytes(trace),
            span_id: SpanId::from_bytes(words[2].to_ne_bytes()),
            trace_flags: TraceFlags::new(words[3] as u8),
        })
    }
}

/// Eight bytes as a word (`bytes` is eight long: a half of a trace id).
fn word(bytes: &[u8]) -> u64 {
    let mut w = [0; 8];
    w.copy_from_slice(bytes);
    u64::from_ne_bytes(w)
}

/// Set in the last word of a filled slot (the low byte holds the trace flags).
const PRESENT: u64 = 1 << 8;

/// How many [`TrackingGuard`]s are alive.
static TRACKERS: AtomicUsize = AtomicUsize::new(0);

struct Slot {
    generation: AtomicU64,
    copies: [[AtomicU64; 4]; 2],
}

thread_local! {
    static SLOT: Slot = const {
        Slot {
            generation: AtomicU64::new(0),
            copies: [const { [const { AtomicU64::new(0) }; 4] }; 2],
        }
    };
}

/// Whether the slot is kept current: the one load on a push or pop when it is not.
#[inline]
pub(super) fn tracking() -> bool {
    TRACKERS.load(Ordering::Relaxed) != 0
}

/// Makes `ids` the calling thread's current span in its slot.
pub(super) fn publish(ids: Option<SpanIds>) {
    let words = SpanIds::encode(ids);
    let _ = SLOT.try_with(|slot| {
        // Only this thread writes its slot: the generation it reads is its own last one.
        let next = slot.generation.load(Ordering::Relaxed).wrapping_add(1);
        let copy = &slot.copies[(next & 1) as usize];
        for (cell, word) in copy.iter().zip(words) {
            cell.store(word, Ordering::Relaxed);
        }
        // Release: a reader that sees `next` sees the copy filled.
        slot.generation.store(next, Ordering::Release);
    });
}

/// The span current on the calling thread, as its slot holds it: `None` when no valid span
/// context is current.
///
/// **Async-signal-safe**: it reads a thread-local of atomics (no lock, no allocation, no
/// lazily registered thread-local, no panic), so a signal handler (a profiler's `SIGPROF`)
/// may call it, on the thread it interrupted. The slot is kept current only while a
/// [`TrackingGuard`] lives ([`track_current_span`]); each thread's slot becomes correct at
/// that thread's next push or pop of the context stack (entering or leaving a span, a poll of
/// a future carrying a context) after tracking starts, and goes stale once tracking stops.
///
/// (In a library loaded with `dlopen`, the first access to a thread-local on a thread may
/// allocate, in the C library: a profiler there should call this once on each thread outside
/// the handler.)
#[inline]
pub fn current_span_ids() -> Option<SpanIds> {
    SLOT.try_with(|slot| {
        // The writer is the interrupted thread itself, so the generation cannot move while a
        // handler reads; checked all the same, a few times at most.
        for _ in 0..4 {
            let generation = slot.generation.load(Ordering::Acquire);
            let copy = &slot.copies[(generation & 1) as usize];
            let words = [
                copy[0].load(Ordering::Acquire),
                copy[1].load(Ordering::Acquire),
                copy[2].load(Ordering::Acquire),
                copy[3].load(Ordering::Acquire),
            ];
            if slot.generation.load(Ordering::Acquire) == generation {
                return SpanIds::decode(words);
            }
        }
        None
    })
    .ok()
    .flatten()
}

/// Keeps every thread's signal slot current while it lives; see [`track_current_span`].
#[must_use = "the slot is kept current only while the guard lives"]
#[derive(Debug)]
pub struct TrackingGuard {
    _private: (),
}

impl Drop for TrackingGuard {
    fn drop(&mut self) {
        TRACKERS.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Starts keeping each thread's current span in its signal slot, for
/// [`current_span_ids`], until the guard drops (a profiler holds one while it samples).
///
/// While any guard lives, every push and pop of the context stack also publishes the ids
/// (and the push of a deferred frame looks its span up at once). The calling thread's slot is
/// correct on return; another thread's becomes correct at its next push or pop.
pub fn track_current_span() -> TrackingGuard {
    TRACKERS.fetch_add(1, Ordering::Relaxed);
    publish(stack::current_ids());
    TrackingGuard { _private: () }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_survive_the_slot() {
        let ids = SpanIds {
            trace_id: TraceId::from_bytes(*b"0123456789abcdef"),
            span_id: SpanId::from_bytes(*b"ABCDEFGH"),
            trace_flags: TraceFlags::SAMPLED,
        };
        assert_eq!(SpanIds::decode(SpanIds::encode(Some(ids))), Some(ids));
        let unsampled = SpanIds {
            trace_flags: TraceFlags::NONE,
            ..ids
        };
        assert_eq!(
            SpanIds::decode(SpanIds::encode(Some(unsampled))),
            Some(unsampled)
        );
        assert_eq!(SpanIds::decode(SpanIds::encode(None)), None);
        assert_eq!(SpanIds::of(&SpanContext::INVALID), None);
    }
}
