//! [`ProfileConfig`] and [`ProfileType`]: what a [`ProfileCollector`](crate::ProfileCollector)
//! samples, how often, and for how long.

use std::time::Duration;

/// A kind of profile. A collector samples one or several.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ProfileType {
    /// On-CPU time: each thread sampled on its own CPU-time clock (`samples/count`,
    /// `cpu/nanoseconds`).
    Cpu,
    /// Live heap: sampled allocations not yet freed (`inuse_objects/count`,
    /// `inuse_space/bytes`). Needs [`SamplingAllocator`](crate::SamplingAllocator) as the
    /// global allocator.
    Heap,
    /// Allocations: every sampled allocation, freed or not (`alloc_objects/count`,
    /// `alloc_space/bytes`). Needs [`SamplingAllocator`](crate::SamplingAllocator).
    HeapAlloc,
    /// Off-CPU time: threads found not running by a wall-clock sampler, where they wait
    /// (`contentions/count`, `delay/nanoseconds`).
    Block,
    /// Lock contention on the profiler's [`Mutex`](crate::Mutex) and [`RwLock`](crate::RwLock)
    /// (`contentions/count`, `delay/nanoseconds`).
    Mutex,
    /// Threads: a periodic snapshot of every thread's stack and state (`threads/count`); the
    /// name follows Go's goroutine profile.
    Goroutine,
}

impl ProfileType {
    /// Every type.
    pub const ALL: [ProfileType; 6] = [
        ProfileType::Cpu,
        ProfileType::Heap,
        ProfileType::HeapAlloc,
        ProfileType::Block,
        ProfileType::Mutex,
        ProfileType::Goroutine,
    ];

    /// The sample types of this profile, as (type, unit) pairs, in the order of a sample's
    /// values.
    pub fn sample_types(self) -> &'static [(&'static str, &'static str)] {
        match self {
            ProfileType::Cpu => &[("samples", "count"), ("cpu", "nanoseconds")],
            ProfileType::Heap => &[("inuse_objects", "count"), ("inuse_space", "bytes")],
            ProfileType::HeapAlloc => &[("alloc_objects", "count"), ("alloc_space", "bytes")],
            ProfileType::Block | ProfileType::Mutex => {
                &[("contentions", "count"), ("delay", "nanoseconds")]
            }
            ProfileType::Goroutine => &[("threads", "count")],
        }
    }

    /// The name used in configuration and in the profile's attributes.
    pub fn name(self) -> &'static str {
        match self {
            ProfileType::Cpu => "cpu",
            ProfileType::Heap => "heap",
            ProfileType::HeapAlloc => "heap_alloc",
            ProfileType::Block => "block",
            ProfileType::Mutex => "mutex",
            ProfileType::Goroutine => "goroutine",
        }
    }
}

/// The default CPU sampling frequency, per thread: 100 Hz.
pub const DEFAULT_FREQUENCY: u32 = 100;
/// The default mean bytes between heap samples: 512 KiB, as Go's runtime.
pub const DEFAULT_SAMPLING_RATE: u64 = 512 * 1024;
/// The default period of continuous profiling: 60 s.
pub const DEFAULT_PERIOD: Duration = Duration::from_secs(60);

/// What a collector samples.
///
/// ```
/// use otlp_profiler::{ProfileConfig, ProfileType};
/// use std::time::Duration;
///
/// let config = ProfileConfig::new()
///     .with_profile_type(ProfileType::Cpu)
///     .with_profile_type(ProfileType::Heap)
///     .with_sampling_frequency(100)
///     .with_sampling_rate(512 * 1024)
///     .with_duration(Duration::from_secs(30));
/// assert_eq!(config.profile_types(), [ProfileType::Cpu, ProfileType::Heap]);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileConfig {
    pub(crate) types: Vec<ProfileType>,
    pub(crate) frequency: u32,
    pub(crate) sampling_rate: u64,
    pub(crate) duration: Option<Duration>,
    pub(crate) period: Duration,
    pub(crate) mutex_sampling: u32,
}

impl Default for ProfileConfig {
    fn default() -> Self {
        ProfileConfig {
            types: Vec::new(),
            frequency: DEFAULT_FREQUENCY,
            sampling_rate: DEFAULT_SAMPLING_RATE,
            duration: None,
            period: DEFAULT_PERIOD,
            mutex_sampling: 1,
        }
    }
}

impl ProfileConfig {
    /// No profile type yet (a collector with none samples CPU), 100 Hz, 512 KiB, no duration,
    /// a 60 s continuous period.
    pub fn new() -> Self {
        ProfileConfig::default()
    }

    /// Adds a profile type (several may be sampled at once).
    pub fn with_profile_type(mut self, kind: ProfileType) -> Self {
        if !self.types.contains(&kind) {
            self.types.push(kind);
        }
        self
    }

    /// CPU samples per second of each thread's CPU time (default 100; 1 to 10,000).
    pub fn with_sampling_frequency(mut self, hz: u32) -> Self {
        self.frequency = hz;
        self
    }

    /// Mean bytes allocated between two heap samples (default 512 KiB).
    pub fn with_sampling_rate(mut self, bytes: u64) -> Self {
        self.sampling_rate = bytes;
        self
    }

    /// Stop by itself after `duration` (`stop` returns what was sampled until then).
    pub fn with_duration(mut self, duration: Duration) -> Self {
        self.duration = Some(duration);
        self
    }

    /// The period of continuous profiling: a profile exported every `period` (default 60 s).
    pub fn with_period(mut self, period: Duration) -> Self {
        self.period = period;
        self
    }

    /// Record one in `n` contended lock acquisitions (default 1: all).
    pub fn with_mutex_sampling(mut self, n: u32) -> Self {
        self.mutex_sampling = n.max(1);
        self
    }

    /// The profile types, in the order added; CPU alone when none was.
    pub fn profile_types(&self) -> Vec<ProfileType> {
        if self.types.is_empty() {
            vec![ProfileType::Cpu]
        } else {
            self.types.clone()
        }
    }
}
