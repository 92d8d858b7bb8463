//! [`Sources`]: the samplers one collector runs, one per kind of evidence, each drained into
//! [`RawSample`]s the same way.

use crate::block::{BlockSampler, ThreadSampler};
use crate::collector::wants;
use crate::config::{ProfileConfig, ProfileType};
use crate::cpu::CpuSampler;
use crate::error::Error;
use crate::heap::{self, HeapSource};
use crate::lock::MutexSource;
use crate::sample::{RawSample, Sampler};
use otlp_sdk::context::{TrackingGuard, track_current_span};
use std::time::{Duration, Instant};

/// How often every thread's stack and state is taken for the thread profile.
const THREAD_SNAPSHOTS_HZ: u32 = 1;

/// The samplers a configuration asks for.
#[derive(Default)]
pub(crate) struct Sources {
    /// In the order they are drained and stopped.
    samplers: Vec<Box<dyn Sampler>>,
    cpu: bool,
    /// Whether the live heap is reported at the end (the `Heap` type).
    live_heap: bool,
    /// Keeps every thread's current span where a signal handler can read it, while sampling.
    tracking: Option<TrackingGuard>,
    /// When the unwind tables were last rebuilt for the heap and lock samplers (the CPU
    /// sampler's own thread keeps them current when it runs).
    unwind_refreshed: Option<Instant>,
}

impl std::fmt::Debug for Sources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sources")
            .field("samplers", &self.samplers.len())
            .field("cpu", &self.cpu)
            .field("live_heap", &self.live_heap)
            .finish_non_exhaustive()
    }
}

/// A sampler whose samples nobody asked for: drained all the same, so they do not pile up.
struct Unreported<S>(S);

impl<S: Sampler> Sampler for Unreported<S> {
    fn drain(&mut self, _: &mut dyn FnMut(RawSample)) {
        self.0.drain(&mut |_| {});
    }

    fn stop(&mut self) {
        self.0.stop();
    }
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
        let heap = wants(config, ProfileType::Heap) || wants(config, ProfileType::HeapAlloc);
        if heap || wants(config, ProfileType::Mutex) {
            // Built before the first sample; off Linux x86_64 stacks come from frame pointers.
            let _ = crate::unwind::refresh();
            self.unwind_refreshed = Some(Instant::now());
        }
        if wants(config, ProfileType::Cpu) {
            self.samplers
                .push(Box::new(CpuSampler::start(config.frequency)?));
            self.cpu = true;
        }
        if wants(config, ProfileType::Block) {
            self.samplers
                .push(Box::new(BlockSampler::start(config.frequency)?));
        }
        if wants(config, ProfileType::Goroutine) {
            self.samplers
                .push(Box::new(ThreadSampler::start(THREAD_SNAPSHOTS_HZ)?));
        }
        if heap {
            let source = HeapSource::start(config.sampling_rate)?;
            self.samplers
                .push(if wants(config, ProfileType::HeapAlloc) {
                    heap::boxed(source)
                } else {
                    heap::boxed(Unreported(source))
                });
            self.live_heap = wants(config, ProfileType::Heap);
        }
        if wants(config, ProfileType::Mutex) {
            self.samplers
                .push(Box::new(MutexSource::start(config.mutex_sampling)?));
        }
        Ok(())
    }

    /// Hands every sample taken since the last drain to `sink`.
    pub(crate) fn drain(&mut self, sink: &mut dyn FnMut(RawSample)) {
        // Without the CPU sampler (which does it), the tables follow new stacks (a walk missed
        // one: `unwind::refresh_if_stale`) and loaded objects here, once a second at most.
        if !self.cpu
            && let Some(at) = self.unwind_refreshed
            && at.elapsed() >= UNWIND_REFRESH
        {
            let _ = crate::unwind::refresh_if_stale(true);
            self.unwind_refreshed = Some(Instant::now());
        }
        for sampler in &mut self.samplers {
            sampler.drain(sink);
        }
    }

    /// Stops every sampler (samples taken before stay to be drained).
    pub(crate) fn stop(&mut self) {
        for sampler in &mut self.samplers {
            sampler.stop();
        }
        self.tracking = None;
    }

    /// What is reported as a snapshot at the end of a profile: the live heap.
    pub(crate) fn snapshot(&mut self, sink: &mut dyn FnMut(RawSample)) {
        if self.live_heap {
            HeapSource::live(sink);
        }
    }
}
