//! Hooks for this crate's integration tests and benches, which cannot reach the crate-internal
//! samplers and profile builder: not part of the supported API (hidden from the docs; it may
//! change in any release). One module, so the hooks live in one place.

use crate::config::ProfileType;
use crate::sample::RawSample;
use otlp_sdk::context::SpanIds;

pub use crate::cpu::probe::*;
pub use crate::heap::testing::*;
pub use crate::lock::testing::*;
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
            thread_name: raw.thread_name,
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
            thread_name: s.thread_name,
            thread_state: s.thread_state,
            timestamp_unix_nano: s.timestamp_unix_nano,
        }
    }
}
