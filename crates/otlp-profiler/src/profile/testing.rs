//! Support for tests outside the crate: a [`Profile`] built from hand-made samples, through
//! the same builder and symbolizer as a collector's. Not a stable API.

use super::Profile;
use super::builder::ProfileBuilder;
use crate::config::{ProfileConfig, ProfileType};
use crate::sample::RawSample;
use crate::symbolize::Symbolizer;
use otlp_sdk::context::SpanIds;
use std::sync::{Arc, OnceLock};

/// A sample as a sampler would take it (see the crate's `RawSample`).
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticSample {
    /// Its profile type.
    pub kind: ProfileType,
    /// Instruction addresses, leaf first; all but the first are return addresses.
    pub frames: Vec<u64>,
    /// The values, in the order of [`ProfileType::sample_types`].
    pub values: [i64; 2],
    /// The span it was taken in.
    pub link: Option<SpanIds>,
    /// The thread's kernel id.
    pub thread_id: u32,
    /// The thread's name.
    pub thread_name: Option<String>,
    /// When it was taken.
    pub timestamp_unix_nano: u64,
}

/// The profile of `samples` taken from `start_unix_nano` to `end_unix_nano` under `config`.
pub fn build_profile(
    config: &ProfileConfig,
    samples: Vec<SyntheticSample>,
    start_unix_nano: u64,
    end_unix_nano: u64,
) -> Profile {
    // One symbolizer for every profile of the process, as a collector keeps one.
    static SYMBOLIZER: OnceLock<Arc<Symbolizer>> = OnceLock::new();
    let symbolizer = SYMBOLIZER.get_or_init(Arc::default).clone();
    let mut builder = ProfileBuilder::new(config, start_unix_nano, symbolizer);
    for s in samples {
        builder.add(RawSample {
            kind: s.kind,
            frames: s.frames,
            values: s.values,
            link: s.link,
            thread_id: s.thread_id,
            thread_name: s.thread_name,
            thread_state: None,
            timestamp_unix_nano: s.timestamp_unix_nano,
        });
    }
    builder.finish(end_unix_nano)
}
