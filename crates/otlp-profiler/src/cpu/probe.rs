//! Hooks for the crate's integration tests (`tests/cpu.rs`, `tests/stress.rs`): the samplers
//! are crate-internal, these wrappers expose them. Not part of the supported API.

use crate::block::{BlockSampler, ThreadSampler};
use crate::error::Error;
use otlp_sdk::context::SpanIds;

/// One sample, as a test sees it.
#[derive(Debug, Clone)]
pub struct Sampled {
    /// Frames, leaf first (the first a program counter, the others return addresses).
    pub frames: Vec<u64>,
    /// The sample's values.
    pub values: [i64; 2],
    /// The span the thread was in.
    pub link: Option<SpanIds>,
    /// The thread's kernel id.
    pub thread_id: u32,
    /// The thread's name.
    pub thread_name: Option<String>,
    /// When it was taken (unix nanoseconds).
    pub timestamp_unix_nano: u64,
    /// The thread's state (thread sampler only).
    pub state: Option<&'static str>,
}

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

fn sampled(s: crate::sample::RawSample, state: Option<&'static str>) -> Sampled {
    Sampled {
        frames: s.frames,
        values: s.values,
        link: s.link,
        thread_id: s.thread_id,
        thread_name: s.thread_name,
        timestamp_unix_nano: s.timestamp_unix_nano,
        state,
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
    pub fn drain(&mut self) -> Vec<Sampled> {
        let mut out = Vec::new();
        match &mut self.0 {
            Inner::Cpu(s) => s.drain(&mut |r| out.push(sampled(r, None))),
            Inner::Block(s) => s.drain(&mut |r| out.push(sampled(r, None))),
            Inner::Threads(s) => {
                s.drain_with_state(&mut |r, st| out.push(sampled(r, st.map(|s| s.name()))))
            }
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
