//! Hooks for this crate's integration tests and benches, which cannot reach the crate-internal
//! sources; not part of the API.

use super::source::HeapSource;
use crate::error::Error;
use crate::testing::Sample;

/// Heap sampling, on while this exists.
#[derive(Debug)]
pub struct HeapSession(HeapSource);

/// Starts heap sampling at `rate` bytes.
pub fn start_heap(rate: u64) -> Result<HeapSession, Error> {
    prepare_unwinding();
    HeapSource::start(rate).map(HeapSession)
}

/// Builds the unwind tables the samplers' stack capture reads (the collector does this when
/// it starts heap or lock sampling); without them captures fall back to frame pointers.
pub fn prepare_unwinding() {
    let _ = crate::unwind::refresh();
}

impl HeapSession {
    /// The allocations sampled since the last drain (`heap_alloc`).
    pub fn drain(&mut self) -> Vec<Sample> {
        let mut out = Vec::new();
        self.0.drain(&mut |raw| out.push(Sample::from(raw)));
        out
    }

    /// The sampled allocations still live (`heap`).
    pub fn live(&self) -> Vec<Sample> {
        let mut out = Vec::new();
        self.0.live(&mut |raw| out.push(Sample::from(raw)));
        out
    }

    /// Changes the sampling rate.
    pub fn set_rate(&self, rate: u64) {
        self.0.set_rate(rate);
    }

    /// Samples dropped for want of room.
    pub fn dropped(&self) -> u64 {
        self.0.dropped()
    }

    /// Stops sampling (what was sampled can still be drained).
    pub fn stop(&mut self) {
        self.0.stop();
    }

    /// Stops sampling and forgets every sample.
    pub fn end(self) {
        drop(self);
    }
}

/// The stack capture the samplers use, leaf first (`buf[0]` is in the caller).
#[inline(always)]
pub fn capture(buf: &mut [u64]) -> usize {
    super::stack::capture(buf)
}

/// The calling thread's kernel id, as samples carry it.
pub fn thread_id() -> u32 {
    super::stack::thread_id()
}
