//! The in-process continuous profiler of `otlp`, reached as `otlp::profile` with the
//! `profiles` feature of the `otlp` crate.
//!
//! **Under construction (issue 15).** It is a crate of its own so that its signal handler and
//! global allocator keep their `unsafe` out of the SDK, and so that the SDK does not depend on
//! it.

#![deny(missing_docs)]

mod config;
mod error;
mod heap;
mod lock;
mod sample;

pub use config::{
    DEFAULT_FREQUENCY, DEFAULT_PERIOD, DEFAULT_SAMPLING_RATE, ProfileConfig, ProfileType,
};
pub use error::{Error, Kind};
pub use heap::SamplingAllocator;
#[doc(hidden)]
pub use heap::testing as heap_testing;
#[doc(hidden)]
pub use lock::testing as lock_testing;
pub use lock::{Mutex, MutexGuard, RawMutex, RawRwLock, RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use sample::MAX_FRAMES;

#[doc(no_inline)]
pub use otlp_sdk::otlp_proto::profiles;
