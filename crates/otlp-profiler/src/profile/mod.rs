//! [`Profile`]: the samples of one profiling window, symbolized, in the OTLP profiles model;
//! its queries, and its pprof and flame-graph outputs.

pub(crate) mod builder;
mod dictionary;
mod flame;
mod pprof;
mod query;
#[doc(hidden)]
pub mod testing;
mod window;

pub use query::FunctionShare;

use crate::config::ProfileType;
use otlp_sdk::otlp_proto::common::InstrumentationScope;
use otlp_sdk::otlp_proto::profiles::{Profile as OtlpProfile, ProfilesDictionary};
use otlp_sdk::profiles::ProfilesPayload;

/// The instrumentation scope name of the profiler's exports.
pub const SCOPE_NAME: &str = "otlp-profiler";

/// One OTLP profile and what it holds: which profile type, which of its sample types.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TypedProfile {
    pub(crate) kind: ProfileType,
    /// The index of the sample type in [`ProfileType::sample_types`].
    pub(crate) value_index: usize,
    pub(crate) profile: OtlpProfile,
}

/// The samples of one profiling window, symbolized: an OTLP dictionary (strings, functions,
/// locations with their mappings, stacks, trace links and attributes, each table
/// deduplicated, entry 0 the zero value) and one OTLP profile per sample type of each
/// profile type (CPU: `samples/count` and `cpu/nanoseconds`).
///
/// Each OTLP sample has a stack (leaf first), the `thread.id` and `thread.name` attributes,
/// the link of the span it was taken in, and one value and timestamp per observation.
/// Locations and mappings use ELF virtual addresses; mappings carry the
/// `process.executable.build_id.gnu` and `process.executable.build_id.htlhash` attributes.
///
/// Export it with [`OtlpClient::export_profile`](otlp_sdk::OtlpClient::export_profile) (it
/// converts into a [`ProfilesPayload`]), write it as pprof with [`Profile::to_pprof`] or as a
/// flame graph with [`Profile::flamegraph_svg`], or query it:
///
/// ```
/// use otlp_profiler::{Profile, ProfileType};
///
/// fn report(profile: &Profile) -> Result<(), otlp_profiler::Error> {
///     for kind in profile.profile_types() {
///         println!("{}: {} samples", kind.name(), profile.sample_count(kind));
///     }
///     if profile.profile_types().contains(&ProfileType::Cpu) {
///         println!("CPU: {} ns", profile.total(ProfileType::Cpu, 1));
///         for f in profile.top_functions(ProfileType::Cpu, 5) {
///             println!("{:>12} {:>12} {}", f.self_value, f.total_value, f.name);
///         }
///         let gzipped_pprof: Vec<u8> = profile.to_pprof(ProfileType::Cpu)?;
///         let svg: Vec<u8> = profile.flamegraph_svg(ProfileType::Cpu)?;
///         # let _ = (gzipped_pprof, svg);
///     }
///     Ok(())
/// }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub(crate) dictionary: ProfilesDictionary,
    pub(crate) profiles: Vec<TypedProfile>,
}

impl Profile {
    /// The tables the profiles index into.
    pub fn dictionary(&self) -> &ProfilesDictionary {
        &self.dictionary
    }

    /// The OTLP profiles, in export order: each profile type's sample types in the order of
    /// [`ProfileType::sample_types`].
    pub fn otlp_profiles(&self) -> impl Iterator<Item = &OtlpProfile> {
        self.profiles.iter().map(|p| &p.profile)
    }

    /// The OTLP profile of `kind`'s sample type number `value_index`.
    pub fn otlp_profile(&self, kind: ProfileType, value_index: usize) -> Option<&OtlpProfile> {
        self.profiles
            .iter()
            .find(|p| p.kind == kind && p.value_index == value_index)
            .map(|p| &p.profile)
    }

    /// The profile types it holds, in order.
    pub fn profile_types(&self) -> Vec<ProfileType> {
        let mut kinds: Vec<ProfileType> = Vec::new();
        for p in &self.profiles {
            if !kinds.contains(&p.kind) {
                kinds.push(p.kind);
            }
        }
        kinds
    }

    /// How many samples of `kind` were taken (observations, before aggregation).
    pub fn sample_count(&self, kind: ProfileType) -> usize {
        self.profiles
            .iter()
            .find(|p| p.kind == kind)
            .map_or(0, |p| {
                p.profile.samples.iter().map(|s| s.values.len()).sum()
            })
    }

    /// The sum of `kind`'s sample type number `value_index` (for CPU, 0: samples, 1:
    /// nanoseconds); 0 when absent.
    pub fn total(&self, kind: ProfileType, value_index: usize) -> i64 {
        self.otlp_profile(kind, value_index).map_or(0, |p| {
            p.samples
                .iter()
                .flat_map(|s| &s.values)
                .fold(0i64, |a, v| a.saturating_add(*v))
        })
    }
}

impl From<Profile> for ProfilesPayload {
    fn from(profile: Profile) -> Self {
        ProfilesPayload {
            dictionary: profile.dictionary,
            profiles: profile.profiles.into_iter().map(|p| p.profile).collect(),
            scope: InstrumentationScope {
                name: SCOPE_NAME.into(),
                version: env!("CARGO_PKG_VERSION").into(),
                ..InstrumentationScope::default()
            },
            schema_url: Default::default(),
        }
    }
}
