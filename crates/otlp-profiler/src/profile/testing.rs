//! Support for tests outside the crate: a [`Profile`] built from hand-made samples, through
//! the same builder and symbolizer as a collector's. Not a stable API.

use super::Profile;
use super::builder::ProfileBuilder;
use crate::config::ProfileConfig;
use crate::sample::RawSample;
use crate::symbolize::Symbolizer;
use crate::testing::Sample;
use std::sync::{Arc, OnceLock};

/// The profile of `samples` taken from `start_unix_nano` to `end_unix_nano` under `config`.
pub fn build_profile(
    config: &ProfileConfig,
    samples: Vec<Sample>,
    start_unix_nano: u64,
    end_unix_nano: u64,
) -> Profile {
    // One symbolizer for every profile of the process, as a collector keeps one.
    static SYMBOLIZER: OnceLock<Arc<Symbolizer>> = OnceLock::new();
    let symbolizer = SYMBOLIZER.get_or_init(Arc::default).clone();
    let mut builder = ProfileBuilder::new(config, start_unix_nano, symbolizer);
    for s in samples {
        builder.add(RawSample::from(s));
    }
    builder.finish(end_unix_nano)
}
