//! Hooks for the crate's integration tests (`tests/cpu.rs`, `tests/stress.rs`): the samplers
//! are crate-internal, these wrappers expose them. Not part of the supported API.

use crate::block::{BlockSampler, ThreadSampler};
use crate::error::Error;
use crate::testing::Sample;

enum Inner {
    Cpu(super::CpuSampler),
    Block(BlockSampler),
    Threads(ThreadSampler),
}

/// A running sampler.
pub struct Probe(Inner);

impl std::fmt::Debug for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Probe")
    }
}

impl Probe {
    /// The CPU sampler at `hz`.
    pub fn cpu(hz: u32) -> Result<Probe, Error> {
        super::CpuSampler::start(hz).map(|s| Probe(Inner::Cpu(s)))
    }

    /// The off-CPU sampler at `hz`.
    pub fn block(hz: u32) -> Result<Probe, Error> {
        BlockSampler::start(hz).map(|s| Probe(Inner::Block(s)))
    }

    /// The thread sampler at `hz`.
    pub fn threads(hz: u32) -> Result<Probe, Error> {
        ThreadSampler::start(hz).map(|s| Probe(Inner::Threads(s)))
    }

    /// The samples taken since the last call.
    pub fn drain(&mut self) -> Vec<Sample> {
        let mut out = Vec::new();
        match &mut self.0 {
            Inner::Cpu(s) => s.drain(&mut |r| out.push(Sample::from(r))),
            Inner::Block(s) => s.drain(&mut |r| out.push(Sample::from(r))),
            Inner::Threads(s) => s.drain(&mut |r| out.push(Sample::from(r))),
        }
        out
    }

    /// Samples the CPU sampler lost (0 for the others).
    pub fn dropped(&self) -> u64 {
        match &self.0 {
            Inner::Cpu(s) => s.dropped(),
            _ => 0,
        }
    }

    /// Stops the sampler (samples stay for `drain`).
    pub fn stop(&mut self) {
        match &mut self.0 {
            Inner::Cpu(s) => s.stop(),
            Inner::Block(s) => s.stop(),
            Inner::Threads(s) => s.stop(),
        }
    }
}

/// The calling thread's stack, leaf first, from the return address into the caller of this
/// function (the crate's `capture_here`, after building the unwind tables).
pub fn capture_here(buf: &mut [u64]) -> usize {
    let _ = crate::unwind::refresh();
    crate::unwind::capture_here(buf)
}

/// The executable mappings of the unwinder's current snapshot, `(start, end)`.
pub fn executable_regions() -> Vec<(u64, u64)> {
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    {
        let _ = crate::unwind::refresh();
        crate::unwind::with_exec_regions(<[(u64, u64)]>::to_vec)
    }
    #[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
    Vec::new()
}
