//! [`SamplingAllocator`]: a [`GlobalAlloc`] wrapper that samples allocations for the heap
//! profiles.

#![allow(unsafe_code)]

use super::countdown::{FIRST_EPOCH, OFF, PROBING, RATE, STATE, THREAD, ThreadState, weights};
use super::{live, stack};
use crate::sample::MAX_FRAMES;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set by an allocation seen while [`PROBING`]: the allocator is the global one.
pub(crate) static SEEN: AtomicBool = AtomicBool::new(false);

/// A global allocator that samples allocations for the `heap` and `heap_alloc` profiles,
/// wrapping another allocator (the system one by default).
///
/// Until a collector starts a heap profile it passes every call straight through, after one
/// relaxed atomic load. While one runs, each thread counts down the bytes it allocates and
/// samples the allocation that crosses zero (intervals drawn from an exponential distribution
/// whose mean is the sampling rate, 512 KiB by default): it captures that allocation's stack
/// and keeps it, weighted to stand for the allocations it represents, until it is freed.
///
/// ```
/// use otlp_profiler::SamplingAllocator;
///
/// #[global_allocator]
/// static A: SamplingAllocator = SamplingAllocator::system();
/// # fn main() {}
/// ```
///
/// Wrapping another allocator:
///
/// ```
/// use otlp_profiler::SamplingAllocator;
/// use std::alloc::System;
///
/// static A: SamplingAllocator<System> = SamplingAllocator::new(System);
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct SamplingAllocator<A: GlobalAlloc = System> {
    inner: A,
}

impl SamplingAllocator<System> {
    /// The sampling allocator over the system allocator.
    pub const fn system() -> Self {
        SamplingAllocator { inner: System }
    }
}

impl<A: GlobalAlloc> SamplingAllocator<A> {
    /// The sampling allocator over `inner`.
    pub const fn new(inner: A) -> Self {
        SamplingAllocator { inner }
    }

    /// The wrapped allocator.
    pub fn inner(&self) -> &A {
        &self.inner
    }
}

/// Counts `size` bytes allocated at `address` against this thread's countdown, sampling the
/// allocation when it crosses zero. `state` is the non-[`OFF`] value of [`STATE`].
#[inline(always)]
fn on_alloc(state: u32, address: *mut u8, size: usize) {
    if address.is_null() {
        return;
    }
    let _ = THREAD.try_with(|t| {
        let left = t.remaining.get().wrapping_sub(size as i64);
        t.remaining.set(left);
        if left <= 0 || t.epoch.get() != state {
            slow_path(t, state, address as usize, size);
        }
    });
}

#[cold]
#[inline(never)]
fn slow_path(t: &ThreadState, state: u32, address: usize, size: usize) {
    if state == PROBING {
        SEEN.store(true, Ordering::Relaxed);
        return;
    }
    if t.busy.get() {
        // The profiler's own allocation: not sampled (the countdown is restored on leaving).
        return;
    }
    if t.epoch.get() != state {
        // A countdown drawn in an earlier session (or none yet): draw one for this session
        // and count this allocation against it, without sampling it.
        t.redraw(state);
        let left = t.remaining.get().saturating_sub(size as i64);
        t.remaining.set(left);
        if left > 0 {
            return;
        }
    }
    let rate = RATE.load(Ordering::Relaxed).max(1);
    t.guarded(|| sample(address, size as u64, rate));
    t.redraw(state);
}

/// Captures the stack and records one sampled allocation (the thread is guarded).
fn sample(address: usize, size: u64, rate: u64) {
    let mut frames = [0u64; MAX_FRAMES];
    let n = stack::capture(&mut frames);
    let (objects, bytes) = weights(size, rate);
    let thread_id = stack::thread_id();
    // Taken before the table's lock, so that it is held only for the table's own work.
    let link = otlp_sdk::context::current_span_ids();
    let time = otlp_sdk::clock::now_unix_nanos();
    live::record(address, &frames[..n], |stack: Arc<[u64]>| live::Sampled {
        stack,
        objects,
        bytes,
        thread_id,
        link,
        time,
    });
}

/// Drops `address` from the live table if it was sampled. `state` is the value of [`STATE`].
#[inline(always)]
fn on_free(state: u32, address: *mut u8) {
    if state >= FIRST_EPOCH && live::may_be_live(address as usize) {
        free_slow(address as usize);
    }
}

#[cold]
#[inline(never)]
fn free_slow(address: usize) {
    live::forget(address);
}

// SAFETY: every call is forwarded to `inner` with the caller's arguments unchanged, so the
// inner allocator's guarantees hold; the bookkeeping around it never touches the memory.
unsafe impl<A: GlobalAlloc> GlobalAlloc for SamplingAllocator<A> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `alloc`'s contract, passed on as is.
        let address = unsafe { self.inner.alloc(layout) };
        let state = STATE.load(Ordering::Relaxed);
        if state != OFF {
            on_alloc(state, address, layout.size());
        }
        address
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `alloc_zeroed`'s contract, passed on as is.
        let address = unsafe { self.inner.alloc_zeroed(layout) };
        let state = STATE.load(Ordering::Relaxed);
        if state != OFF {
            on_alloc(state, address, layout.size());
        }
        address
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let state = STATE.load(Ordering::Relaxed);
        if state != OFF {
            on_free(state, ptr);
        }
        // SAFETY: the caller upholds `dealloc`'s contract, passed on as is.
        unsafe { self.inner.dealloc(ptr, layout) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // Forgotten before the inner call: once it returns, another thread may be handed the
        // same address. (Should the inner realloc fail, the old block stays allocated but is
        // no longer tracked: a sample lost, never a wrong one.)
        let state = STATE.load(Ordering::Relaxed);
        if state != OFF {
            on_free(state, ptr);
        }
        // SAFETY: the caller upholds `realloc`'s contract, passed on as is.
        let address = unsafe { self.inner.realloc(ptr, layout, new_size) };
        if state != OFF {
            on_alloc(state, address, new_size);
        }
        address
    }
}
