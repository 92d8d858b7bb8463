//! [`Sources`]: the samplers one collector runs, one per kind of evidence, each drained into
//! [`RawSample`]s the same way.

use crate::block::{BlockSampler, ThreadSampler};
use crate::collector::wants;
use crate::config::{ProfileConfig, ProfileType};
use crate::cpu::CpuSampler;
use crate::error::Error;
use crate::heap::HeapSource;
use crate::lock::MutexSource;
use crate::sample::RawSample;
use otlp_sdk::context::{TrackingGuard, track_current_span};
use std::time::{Duration, Instant};

/// How often every thread's stack and state is taken for the thread profile.
const THREAD_SNAPSHOTS_HZ: u32 = 1;

/// The samplers a configuration asks for.
#[derive(Debug, Default)]
pub(crate) struct Sources {
    cpu: Option<CpuSampler>,
    block: Option<BlockSampler>,
    threads: Option<ThreadSampler>,
    heap: Option<HeapSource>,
    /// Whether the live heap is reported at the end (the `Heap` type), besides the
    /// allocations (`HeapAlloc`).
    live_heap: bool,
    alloc_heap: bool,
    mutex: Option<MutexSource>,
    /// Keeps every thread's current span where a signal handler can read it, while sampling.
    tracking: Option<TrackingGuard>,
    /// When the unwind tables were last rebuilt for the heap and lock samplers (the CPU
    /// sampler's own thread keeps them current when it runs).
    unwind_refreshed: Option<Instant>,
}

/// How often the unwind tables are rebuilt for the heap and lock samplers, so that threads
/// and libraries that came since unwind fully.
const UNWIND_REFRESH: Duration = Duration::from_secs(1);

impl Sources {
    /// Starts every sampler `config` needs; if one fails, those started are stopped and the
    /// error names the one that failed.
    pub(crate) fn start(config: &ProfileConfig) -> Result<Sources, Error> {
        let mut sources = Sources {
            tracking: Some(track_current_span()),
            ..Sources::default()
        };
        if let Err(e) = sources.start_all(config) {
            sources.stop();
            return Err(e);
        }
        Ok(sources)
    }

    fn start_all(&mut self, config: &ProfileConfig) -> Result<(), Error> {
        if [
            ProfileType::Heap,
            ProfileType::HeapAlloc,
            ProfileType::Mutex,
        ]
        .iter()
        .any(|&k| wants(config, k))
        {
            // Built before the first sample; off Linux x86_64 stacks come from frame pointers.
            let _ = crate::unwind::refresh();
            self.unwind_refreshed = Some(Instant::now());
        }
        if wants(config, ProfileType::Heap) || wants(config, ProfileType::HeapAlloc) {
            self.heap = Some(HeapSource::start(config.sampling_rate)?);
            self.live_heap = wants(config, ProfileType::Heap);
            self.alloc_heap = wants(config, ProfileType::HeapAlloc);
        }
        if wants(config, ProfileType::Mutex) {
            self.mutex = Some(MutexSource::start(config.mutex_sampling)?);
        }
        if wants(config, ProfileType::Cpu) {
            self.cpu = Some(CpuSampler::start(config.frequency)?);
        }
        if wants(config, ProfileType::Block) {
            self.block = Some(BlockSampler::start(config.frequency)?);
        }
        if wants(config, ProfileType::Goroutine) {
            self.threads = Some(ThreadSampler::start(THREAD_SNAPSHOTS_HZ)?);
        }
        Ok(())
    }

    /// Hands every sample taken since the last drain to `sink`.
    pub(crate) fn drain(&mut self, sink: &mut dyn FnMut(RawSample)) {
        if self.cpu.is_none()
            && let Some(at) = self.unwind_refreshed
            && at.elapsed() >= UNWIND_REFRESH
        {
            let _ = crate::unwind::refresh();
            self.unwind_refreshed = Some(Instant::now());
        }
        if let Some(cpu) = &mut self.cpu {
            cpu.drain(sink);
        }
        if let Some(block) = &mut self.block {
            block.drain(sink);
        }
        if let Some(threads) = &mut self.threads {
            threads.drain(sink);
        }
        if let Some(heap) = &mut self.heap {
            if self.alloc_heap {
                heap.drain(sink);
            } else {
                // Allocation samples not asked for: drained all the same, so they do not pile up.
                heap.drain(&mut |_| {});
            }
        }
        if let Some(mutex) = &mut self.mutex {
            mutex.drain(sink);
        }
    }

    /// Stops every sampler (samples taken before stay to be drained).
    pub(crate) fn stop(&mut self) {
        if let Some(cpu) = &mut self.cpu {
            cpu.stop();
        }
        if let Some(block) = &mut self.block {
            block.stop();
        }
        if let Some(threads) = &mut self.threads {
            threads.stop();
        }
        if let Some(mutex) = &mut self.mutex {
            mutex.stop();
        }
        if let Some(heap) = &mut self.heap {
            heap.stop();
        }
        self.tracking = None;
    }

    /// What is reported as a snapshot at the end of a profile: the live heap.
    pub(crate) fn snapshot(&mut self, sink: &mut dyn FnMut(RawSample)) {
        if let (Some(heap), true) = (&self.heap, self.live_heap) {
            heap.live(sink);
        }
    }
}
