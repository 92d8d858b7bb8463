//! Hooks for this crate's integration tests and benches, which cannot reach the crate-internal
//! sources; not part of the API.

use super::source::HeapSource;
use crate::testing::Sample;

/// Builds the unwind tables the samplers' stack capture reads (the collector does this when
/// it starts heap or lock sampling); without them captures fall back to frame pointers.
pub fn prepare_unwinding() {
    let _ = crate::unwind::refresh();
}

/// The sampled allocations still live (`heap`), while a heap [`Probe`](crate::testing::Probe)
/// runs.
pub fn live_heap() -> Vec<Sample> {
    let mut out = Vec::new();
    HeapSource::live(&mut |raw| out.push(Sample::from(raw)));
    out
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
