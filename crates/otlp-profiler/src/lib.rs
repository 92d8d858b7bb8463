//! The in-process continuous profiler of `otlp`, reached as `otlp::profile` with the
//! `profiles` feature of the `otlp` crate.
//!
//! **Not built yet: this crate has no API.** It is where the profiler will live (CPU samples
//! from per-thread CPU-time timers, sampled heap allocations, lock contention, blocking and
//! thread snapshots, exported as OTLP profiles with each sample linked to the span it ran
//! under). It is a crate of its own so that its signal handler and global allocator keep
//! their `unsafe` out of the SDK, and so that the SDK does not depend on it.
//!
//! What it builds on is in the SDK already: the per-thread current-span slot that a signal
//! handler may read ([`otlp_sdk::context`]), the clock ([`otlp_sdk::clock`]), and the
//! profiles wire types ([`otlp_sdk::otlp_proto::profiles`]).

#[doc(no_inline)]
pub use otlp_sdk::otlp_proto::profiles;
