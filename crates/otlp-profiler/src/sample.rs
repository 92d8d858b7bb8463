//! [`RawSample`]: one sample as a source (the CPU sampler, the heap sampler, the lock
//! wrappers, the off-CPU and thread samplers) hands it to the profile builder, before
//! symbolization.

use crate::config::ProfileType;
use otlp_sdk::context::SpanIds;
use std::sync::Arc;

/// How many frames a stack keeps at most (deeper stacks keep their leaf-most frames).
pub const MAX_FRAMES: usize = 128;

/// A source of samples, whatever it samples: what the collector drains and stops.
pub(crate) trait Sampler: Send {
    /// Hands every sample taken since the last call to `sink`.
    fn drain(&mut self, sink: &mut dyn FnMut(RawSample));

    /// Stops sampling; what was sampled stays for the next [`drain`](Self::drain).
    fn stop(&mut self);

    /// Samples lost so far for want of room between two drains.
    fn dropped(&self) -> u64 {
        0
    }
}

/// One sample, unsymbolized.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RawSample {
    /// Which profile it belongs to.
    pub(crate) kind: ProfileType,
    /// Instruction addresses, leaf first: `frames[0]` is where the thread was (a program
    /// counter); the others are return addresses (the builder looks up `address - 1` for
    /// those, the call instruction).
    pub(crate) frames: Vec<u64>,
    /// The values, in the order of [`ProfileType::sample_types`] (unused trailing ones 0).
    pub(crate) values: [i64; 2],
    /// The span the thread was in, if tracked.
    pub(crate) link: Option<SpanIds>,
    /// The thread (kernel id), and its name if known.
    pub(crate) thread_id: u32,
    pub(crate) thread_name: Option<Arc<str>>,
    /// The thread's state when sampled (`thread.state`: thread snapshots only).
    pub(crate) thread_state: Option<&'static str>,
    /// When it was taken.
    pub(crate) timestamp_unix_nano: u64,
}
