//! Hooks for this crate's integration tests and benches, which cannot reach the crate-internal
//! samplers and profile builder: not part of the supported API (hidden from the docs; it may
//! change in any release). One module, so the hooks live in one place.

use crate::block::{BlockSampler, ThreadSampler};
use crate::config::ProfileType;
use crate::cpu::CpuSampler;
use crate::error::Error;
use crate::heap::HeapSource;
use crate::lock::MutexSource;
use crate::sample::{RawSample, Sampler};
use otlp_sdk::context::SpanIds;
use std::sync::Arc;

pub use crate::cpu::probe::*;
pub use crate::heap::testing::*;
pub use crate::profile::testing::*;

/// A sample as the samplers take it and the profile builder reads it (the crate's internal
/// `RawSample`, its fields open to tests).
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Its profile type.
    pub kind: ProfileType,
    /// Instruction addresses, leaf first: a program counter, then return addresses.
    pub frames: Vec<u64>,
    /// The values, in the order of [`ProfileType::sample_types`].
    pub values: [i64; 2],
    /// The span the thread was in.
    pub link: Option<SpanIds>,
    /// The thread's kernel id.
    pub thread_id: u32,
    /// The thread's name.
    pub thread_name: Option<String>,
    /// The thread's state (thread snapshots only).
    pub thread_state: Option<&'static str>,
    /// When it was taken (unix nanoseconds).
    pub timestamp_unix_nano: u64,
}

impl From<RawSample> for Sample {
    fn from(raw: RawSample) -> Self {
        Sample {
            kind: raw.kind,
            frames: raw.frames,
            values: raw.values,
            link: raw.link,
            thread_id: raw.thread_id,
            thread_name: raw.thread_name.map(|n| n.to_string()),
            thread_state: raw.thread_state,
            timestamp_unix_nano: raw.timestamp_unix_nano,
        }
    }
}

impl From<Sample> for RawSample {
    fn from(s: Sample) -> Self {
        RawSample {
            kind: s.kind,
            frames: s.frames,
            values: s.values,
            link: s.link,
            thread_id: s.thread_id,
            thread_name: s.thread_name.map(Arc::from),
            thread_state: s.thread_state,
            timestamp_unix_nano: s.timestamp_unix_nano,
        }
    }
}

/// A running sampler, any of the five (started alone, without a collector).
pub struct Probe(Box<dyn Sampler>);

impl std::fmt::Debug for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Probe")
    }
}

impl Probe {
    /// The CPU sampler at `hz`.
    pub fn cpu(hz: u32) -> Result<Probe, Error> {
        Ok(Probe(Box::new(CpuSampler::start(hz)?)))
    }

    /// The off-CPU sampler at `hz`.
    pub fn block(hz: u32) -> Result<Probe, Error> {
        Ok(Probe(Box::new(BlockSampler::start(hz)?)))
    }

    /// The thread sampler at `hz`.
    pub fn threads(hz: u32) -> Result<Probe, Error> {
        Ok(Probe(Box::new(ThreadSampler::start(hz)?)))
    }

    /// Heap sampling at `rate` bytes (its drains are the allocations; [`live_heap`] the live
    /// ones), after building the unwind tables as the collector does.
    pub fn heap(rate: u64) -> Result<Probe, Error> {
        prepare_unwinding();
        Ok(Probe(crate::heap::boxed(HeapSource::start(rate)?)))
    }

    /// Lock contention sampling, one contention in `every`, after building the unwind tables.
    pub fn mutex(every: u32) -> Result<Probe, Error> {
        prepare_unwinding();
        Ok(Probe(Box::new(MutexSource::start(every)?)))
    }

    /// The samples taken since the last call.
    pub fn drain(&mut self) -> Vec<Sample> {
        let mut out = Vec::new();
        self.0.drain(&mut |r| out.push(Sample::from(r)));
        out
    }

    /// Samples the sampler lost for want of room.
    pub fn dropped(&self) -> u64 {
        self.0.dropped()
    }

    /// Stops the sampler (samples stay for [`drain`](Probe::drain)).
    pub fn stop(&mut self) {
        self.0.stop();
    }

    /// Stops the sampler and forgets its samples.
    pub fn end(self) {
        drop(self);
    }
}

/// How many times a running thread's SIGPROF handler found the thread count moved and rang
/// the CPU sampler's bell for a listing, since the process started (0 off Linux x86_64).
pub fn thread_watch_rings() -> u64 {
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    return crate::cpu::watch::rings();
    #[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
    0
}

/// The realtime signal the off-CPU and thread samplers send to threads (`None` off Linux
/// x86_64): for tests of a thread that blocks or takes it.
pub fn wall_signal() -> Option<i32> {
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    return Some(crate::cpu::signal::wall_signal());
    #[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
    None
}

/// Walks so far whose stack lay outside the unwinder's snapshot of the mappings (a stack
/// mapped since, walked through checked reads); 0 off Linux x86_64.
pub fn stack_misses() -> u64 {
    crate::unwind::stack_misses()
}
