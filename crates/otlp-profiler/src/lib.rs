//! The in-process continuous profiler of `otlp`, reached as `otlp::profile` with the
//! `profiles` feature of the `otlp` crate.
//!
//! **Under construction (issue 15).** It is a crate of its own so that its signal handler and
//! global allocator keep their `unsafe` out of the SDK, and so that the SDK does not depend on
//! it.

#![deny(missing_docs)]

mod config;
mod error;
mod sample;

mod block;
mod cpu;
mod threads;
mod unwind;

pub use config::{
    DEFAULT_FREQUENCY, DEFAULT_PERIOD, DEFAULT_SAMPLING_RATE, ProfileConfig, ProfileType,
};
pub use error::{Error, Kind};
pub use sample::MAX_FRAMES;

/// Test hooks for the samplers (not a supported API).
#[doc(hidden)]
pub use cpu::probe as __probe;

#[doc(no_inline)]
pub use otlp_sdk::otlp_proto::profiles;
