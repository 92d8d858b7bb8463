//! [`Slot`]: a thread's preallocated sample buffer, written by the signal handler on that
//! thread (one producer) and read by the collector (one consumer).

// Signals, timers and raw memory reads: the unsafe this module exists for.
#![allow(unsafe_code)]

use super::stack::WalkStack;
use crate::error::Error;
use crate::sample::MAX_FRAMES;
use crate::unwind::UnwindCache;
use otlp_sdk::context::SpanIds;
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering};

/// Samples a slot holds before the collector empties it (drops are counted past that).
pub(crate) const RING: usize = 64;
/// Marks a live slot, checked by the handler before it writes.
const MAGIC: u64 = 0x6f74_6c70_5052_4f46;

/// One sample as the handler leaves it.
pub(crate) struct Entry {
    pub(crate) len: usize,
    pub(crate) timestamp: u64,
    pub(crate) link: Option<SpanIds>,
    /// The state the sender saw (thread sampler), as [`Slot::set_state`] stored it.
    pub(crate) state: u8,
    /// Periods this sample stands for: 1 plus the timer's overruns (the kernel checks CPU
    /// timers at its tick, so a period shorter than the tick fires once for several).
    pub(crate) weight: u32,
    pub(crate) frames: [u64; MAX_FRAMES],
}

/// A thread's buffer: a fixed ring of entries and the unwinder's scratch state.
pub(crate) struct Slot {
    magic: AtomicU64,
    stack: WalkStack,
    cache: UnsafeCell<UnwindCache>,
    entries: Box<[UnsafeCell<Entry>]>,
    head: AtomicUsize,
    tail: AtomicUsize,
    dropped: AtomicU64,
    /// Signals sent to this slot's thread and not yet handled (off-CPU and thread samplers).
    pub(crate) outstanding: AtomicU32,
    state: AtomicU8,
}

// SAFETY: the cells are written only by the handler on the slot's one thread (signals that
// reach it are masked while it runs, so it never nests), and entries are read by the one
// collector only between `tail` and `head`, published with release/acquire.
unsafe impl Sync for Slot {}
// SAFETY: as above; nothing in a slot is tied to the thread that made it.
unsafe impl Send for Slot {}

impl Slot {
    /// A slot, all of it allocated now.
    pub(crate) fn new() -> Result<Box<Slot>, Error> {
        let entries = (0..RING)
            .map(|_| {
                UnsafeCell::new(Entry {
                    len: 0,
                    timestamp: 0,
                    link: None,
                    state: 0,
                    weight: 0,
                    frames: [0; MAX_FRAMES],
                })
            })
            .collect();
        Ok(Box::new(Slot {
            magic: AtomicU64::new(MAGIC),
            stack: WalkStack::new()?,
            cache: UnsafeCell::new(UnwindCache::new()),
            entries,
            head: AtomicUsize::new(0),
            tail: AtomicUsize::new(0),
            dropped: AtomicU64::new(0),
            outstanding: AtomicU32::new(0),
            state: AtomicU8::new(0),
        }))
    }

    /// Stores the state the next sample records.
    pub(crate) fn set_state(&self, state: u8) {
        self.state.store(state, Ordering::Relaxed);
    }

    /// Takes a sample of the thread stopped at `ip`/`sp`/`bp`, on the slot's own stack.
    /// Async-signal-safe.
    ///
    /// # Safety
    /// Only the handler running on this slot's thread may call it, never nested.
    pub(crate) unsafe fn record(&self, ip: u64, sp: u64, bp: u64, weight: u32) {
        let mut call = Call {
            slot: self,
            regs: [ip, sp, bp],
            weight,
        };
        // SAFETY: the walk stack is this slot's, used only here (see the contract); `on_stack`
        // does not unwind (nothing in it panics: slices are bounded by their lengths).
        unsafe {
            self.stack
                .run(on_stack, (&raw mut call).cast::<libc::c_void>());
        }
    }

    /// The body of [`record`](Self::record).
    ///
    /// # Safety
    /// As `record`.
    unsafe fn record_here(&self, ip: u64, sp: u64, bp: u64, weight: u32) {
        if self.magic.load(Ordering::Relaxed) != MAGIC {
            return;
        }
        let head = self.head.load(Ordering::Relaxed);
        let tail = self.tail.load(Ordering::Acquire);
        if head.wrapping_sub(tail) >= RING {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        // SAFETY: the consumer reads only entries below `head`, so this one is ours until
        // the store below; the cache is this thread's alone (see `Sync`).
        let (entry, cache) = unsafe {
            (
                &mut *self.entries[head % RING].get(),
                &mut *self.cache.get(),
            )
        };
        entry.len = crate::unwind::unwind_from(ip, sp, bp, cache, &mut entry.frames);
        entry.timestamp = otlp_sdk::clock::now_signal_safe();
        entry.link = otlp_sdk::context::current_span_ids();
        entry.state = self.state.load(Ordering::Relaxed);
        entry.weight = weight;
        self.head.store(head.wrapping_add(1), Ordering::Release);
    }

    /// Hands every recorded entry to `f`, oldest first, and frees them. One consumer only.
    pub(crate) fn pop_all(&self, mut f: impl FnMut(&Entry)) {
        let head = self.head.load(Ordering::Acquire);
        let mut tail = self.tail.load(Ordering::Relaxed);
        while tail != head {
            // SAFETY: entries in [tail, head) were published by the producer and are not
            // written again until `tail` moves past them.
            f(unsafe { &*self.entries[tail % RING].get() });
            tail = tail.wrapping_add(1);
            self.tail.store(tail, Ordering::Release);
        }
    }

    /// Samples lost to a full ring since the last call.
    pub(crate) fn take_dropped(&self) -> u64 {
        self.dropped.swap(0, Ordering::Relaxed)
    }
}

/// What `record` passes across the stack switch.
struct Call<'a> {
    slot: &'a Slot,
    regs: [u64; 3],
    weight: u32,
}

extern "C" fn on_stack(arg: *mut libc::c_void) {
    // SAFETY: `arg` is the `Call` on the handler's stack, alive for the switch; the contract
    // of `record` holds for `record_here`.
    unsafe {
        let call = &*arg.cast::<Call<'_>>();
        let [ip, sp, bp] = call.regs;
        call.slot.record_here(ip, sp, bp, call.weight);
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.magic.store(0, Ordering::Relaxed);
    }
}
