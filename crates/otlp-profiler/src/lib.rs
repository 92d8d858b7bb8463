//! The in-process continuous profiler of `otlp`, reached as `otlp::profile` with the
//! `profiles` feature of the `otlp` crate.
//!
//! A [`ProfileCollector`] samples what its [`ProfileConfig`] asks for between `start` and
//! `stop`, and gives a [`Profile`]: OTLP profiles (one per sample type, sharing one
//! dictionary), each sample linked to the span it ran under. Export it with
//! `client.export_profile(profile).await?` (now, returning the outcome) or hand it to the
//! client's profiles pipeline with `client.send_profile(profile)` (queued, never waiting),
//! write it as pprof or as a flame graph, or ask it for its top functions. A
//! [`ContinuousProfiler`] sends a profile through the client's profiles pipeline every period
//! instead (its retries, its accounting in `client.profiles_stats()`), and flushes that
//! pipeline at its stop.
//!
//! ```no_run
//! use otlp_profiler::{ProfileCollector, ProfileConfig, ProfileType};
//! use std::time::Duration;
//!
//! # async fn run(client: otlp_sdk::OtlpClient) -> Result<(), Box<dyn std::error::Error>> {
//! let collector = ProfileCollector::new(
//!     ProfileConfig::new()
//!         .with_profile_type(ProfileType::Cpu)
//!         .with_sampling_frequency(100)
//!         .with_duration(Duration::from_secs(30)),
//! )
//! .await?;
//! collector.start().await?;
//! // ... the work to profile ...
//! let profile = collector.stop().await?;
//! client.export_profile(profile).await?;
//! # Ok(()) }
//! ```
//!
//! # What is sampled, and how
//!
//! | type | evidence | sample types |
//! |---|---|---|
//! | [`ProfileType::Cpu`] | each thread's own CPU-time timer (`timer_create`, a thread-directed `SIGPROF`): fair across threads, threads started later included | `samples/count`, `cpu/nanoseconds` |
//! | [`ProfileType::HeapAlloc`], [`ProfileType::Heap`] | [`SamplingAllocator`] as the global allocator: one allocation in every 512 KiB (on average, exponentially spaced), weighted to be unbiased | `alloc_objects/count`, `alloc_space/bytes`; `inuse_objects/count`, `inuse_space/bytes` |
//! | [`ProfileType::Mutex`] | this crate's [`Mutex`] and [`RwLock`]: the contended slow path, timed | `contentions/count`, `delay/nanoseconds` |
//! | [`ProfileType::Block`] | a wall-clock sampler: threads found not running, where they wait | `contentions/count`, `delay/nanoseconds` |
//! | [`ProfileType::Goroutine`] | every thread's stack and state, each period | `threads/count` |
//!
//! The signal handler is async-signal-safe by construction: it allocates nothing, takes no
//! lock and initializes nothing lazily; it unwinds with unwind tables parsed beforehand, every
//! read bounded by the thread's stack, into a buffer made for the thread beforehand, which the
//! collector's thread drains and symbolizes.
//!
//! # Build options
//!
//! - **Default release build**: complete stacks. The unwinder reads the unwind tables
//!   (`.eh_frame`) every Rust and C binary carries; no frame pointers are needed, and std,
//!   which ships without them, unwinds like the rest.
//! - **`debug = "line-tables-only"`** (or more) in the profile: file and line in every frame.
//!   Without debug info, frames are named from the symbol table, without lines.
//! - **`strip = true`**: no names in process; the mappings still carry the executable's build id
//!   (`process.executable.build_id.gnu` and `.htlhash`) for symbolization elsewhere.
//! - **`panic = "abort"`**: unwind tables stay (they are needed for backtraces); a build with
//!   `-C force-unwind-tables=no` loses them, and stacks stop at the first frame without one.
//! - **`-C force-frame-pointers=yes`**: not needed; it changes nothing in the stacks.
//!
//! # Platforms
//!
//! CPU, block and thread profiles need Linux (per-thread CPU clocks and thread-directed
//! signals); elsewhere `start` says so with [`Kind::Unsupported`]. Heap and lock profiles work
//! wherever the crate builds.

#![deny(missing_docs)]

mod block;
mod collector;
mod config;
mod continuous;
mod cpu;
mod error;
mod heap;
mod lock;
mod mappings;
mod profile;
mod sample;
mod source;
mod symbolize;
#[doc(hidden)]
pub mod testing;
mod threads;
mod unwind;

pub use collector::ProfileCollector;
pub use config::{
    DEFAULT_FREQUENCY, DEFAULT_PERIOD, DEFAULT_SAMPLING_RATE, ProfileConfig, ProfileType,
};
pub use continuous::ContinuousProfiler;
pub use error::{Error, Kind};
pub use heap::SamplingAllocator;
pub use lock::{Mutex, MutexGuard, RawMutex, RawRwLock, RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use profile::{FunctionShare, Profile, SCOPE_NAME};
pub use sample::MAX_FRAMES;

#[doc(no_inline)]
pub use otlp_sdk::otlp_proto::profiles;
