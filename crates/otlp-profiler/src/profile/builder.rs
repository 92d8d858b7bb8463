//! [`ProfileBuilder`]: aggregates [`RawSample`]s, then symbolizes them into a [`Profile`].

use super::dictionary::{AttrValue, Dictionary};
use super::window::{Collected, Window, call_address, is_summed};
use super::{Profile, TypedProfile};
use crate::config::{ProfileConfig, ProfileType};
use crate::mappings::{Mapped, Mappings};
use crate::sample::RawSample;
use crate::symbolize::{Frame, Symbolizer};
use otlp_sdk::otlp_proto::profiles::{Profile as OtlpProfile, Sample, ValueType};
use std::collections::HashMap;
use std::sync::Arc;

/// Whether a function is part of how heap and lock samples are taken (the profiler's own
/// code, the global allocator's shims, `lock_api`'s wrappers), not of the program sampled.
fn is_sampling_machinery(name: &str) -> bool {
    let name = name.trim_start_matches('<');
    name.starts_with("otlp_profiler::")
        || name.starts_with("lock_api::")
        || name.starts_with("__rust_alloc")
        || name.starts_with("__rust_realloc")
        || name.starts_with("__rustc::__rust_")
}

/// A frame's mapping (if any), address (virtual in its file) and symbols.
type Resolved<'a> = (Option<&'a Mapped>, u64, Arc<[Frame]>);

/// How many leaf frames of a heap or lock sample are the sampling itself: from the leaf,
/// through the profiler's code and the library code it calls (`std`, `core`, `alloc`), up to
/// and with the outermost frame of the profiler or the allocator shims; never the whole stack.
/// The last frame of a location is the function the others were inlined into.
fn own_frames(resolved: &[Resolved<'_>]) -> usize {
    let mut own = 0;
    for (i, (_, _, frames)) in resolved.iter().enumerate() {
        let Some(outer) = frames.last() else { break };
        if is_sampling_machinery(&outer.name) {
            own = i + 1;
        } else if !is_library(&outer.name) {
            break;
        }
    }
    own.min(resolved.len().saturating_sub(1))
}

/// Whether a function is of Rust's standard libraries.
fn is_library(name: &str) -> bool {
    let name = name.trim_start_matches('<');
    ["std::", "core::", "alloc::"]
        .iter()
        .any(|p| name.starts_with(p))
}

/// Collects the samples of one profiling window. Samples with the same kind, stack, span
/// and thread aggregate into one OTLP sample keeping every observation's value and
/// timestamp. Nothing is symbolized before [`finish`](ProfileBuilder::finish).
pub(crate) struct ProfileBuilder {
    types: Vec<ProfileType>,
    frequency: u32,
    sampling_rate: u64,
    mutex_sampling: u32,
    start_unix_nano: u64,
    symbolizer: Arc<Symbolizer>,
    window: Window,
}

impl ProfileBuilder {
    /// A builder for a window starting at `start_unix_nano`, of `config`'s profile types.
    pub(crate) fn new(
        config: &ProfileConfig,
        start_unix_nano: u64,
        symbolizer: Arc<Symbolizer>,
    ) -> Self {
        ProfileBuilder {
            types: config.profile_types(),
            frequency: config.frequency.max(1),
            sampling_rate: config.sampling_rate,
            mutex_sampling: config.mutex_sampling.max(1),
            start_unix_nano,
            symbolizer,
            window: Window::default(),
        }
    }

    /// Adds a sample, aggregating it with an identical one.
    pub(crate) fn add(&mut self, sample: RawSample) {
        let kind = sample.kind;
        self.window.add(sample);
        if !self.types.contains(&kind) {
            self.types.push(kind);
        }
    }

    /// The period type and period of `kind`'s profiles.
    fn period(&self, kind: ProfileType) -> (&'static str, &'static str, i64) {
        let per_second = 1_000_000_000 / i64::from(self.frequency);
        match kind {
            ProfileType::Cpu => ("cpu", "nanoseconds", per_second),
            ProfileType::Heap | ProfileType::HeapAlloc => (
                "space",
                "bytes",
                i64::try_from(self.sampling_rate).unwrap_or(i64::MAX),
            ),
            ProfileType::Mutex => ("contentions", "count", i64::from(self.mutex_sampling)),
            ProfileType::Block => ("delay", "nanoseconds", per_second),
            ProfileType::Goroutine => ("threads", "count", 1),
        }
    }

    /// Symbolizes the samples and builds the profile of the window ending at `end_unix_nano`:
    /// one OTLP profile per sample type of each profile type.
    pub(crate) fn finish(mut self, end_unix_nano: u64) -> Profile {
        let samples = std::mem::take(&mut self.window).finish();
        // Without /proc (not Linux) every location is unmapped: raw addresses, no lines.
        let mappings = Mappings::read_self_with(&self.symbolizer).unwrap_or_default();
        let symbols = self.symbolize(&samples, &mappings);
        let mut dict = Dictionary::new();
        let mut stacks = Vec::with_capacity(samples.keys().len());
        for key in samples.keys() {
            let resolved: Vec<Resolved<'_>> = samples
                .frames(key)
                .enumerate()
                .map(|(depth, pc)| {
                    let addr = call_address(depth, pc);
                    match mappings.find(addr) {
                        Some(m) => {
                            let vaddr = m.vaddr(addr);
                            (Some(m), vaddr, symbols.frames(&m.path, vaddr))
                        }
                        None => (None, addr, Arc::from(Vec::new())),
                    }
                })
                .collect();
            // Heap and lock samples are taken inside the profiler: their leaf frames are its
            // own (and the allocator shims); the stack starts where the program called.
            let own = match key.kind {
                ProfileType::Heap | ProfileType::HeapAlloc | ProfileType::Mutex => {
                    own_frames(&resolved)
                }
                _ => 0,
            };
            let locations = resolved[own..]
                .iter()
                .map(|(m, vaddr, frames)| match m {
                    Some(m) => {
                        let mapping = dict.mapping(m);
                        dict.location(mapping, *vaddr, frames)
                    }
                    None => dict.location(0, *vaddr, &[]),
                })
                .collect();
            let stack_index = dict.stack(locations);
            let link_index = key.link.map_or(0, |(t, s)| dict.link(t, s));
            let mut attribute_indices =
                vec![dict.attribute("thread.id", AttrValue::Int(i64::from(key.thread_id)))];
            if let Some(name) = samples.thread_name(key) {
                attribute_indices
                    .push(dict.attribute("thread.name", AttrValue::Str(name.to_owned())));
            }
            if let Some(state) = key.thread_state {
                attribute_indices
                    .push(dict.attribute("thread.state", AttrValue::Str(state.to_owned())));
            }
            attribute_indices.sort_unstable();
            stacks.push((stack_index, link_index, attribute_indices));
        }
        drop(symbols);
        let profile_id = random_id();
        let mut profiles = Vec::new();
        for &kind in &self.types {
            let (period_name, period_unit, period) = self.period(kind);
            let period_type = ValueType {
                type_strindex: dict.string(period_name),
                unit_strindex: dict.string(period_unit),
            };
            for (value_index, (name, unit)) in kind.sample_types().iter().enumerate() {
                let sample_type = ValueType {
                    type_strindex: dict.string(name),
                    unit_strindex: dict.string(unit),
                };
                let otlp_samples = samples
                    .keys()
                    .iter()
                    .enumerate()
                    .zip(&stacks)
                    .filter(|((_, key), _)| key.kind == kind)
                    .map(|((i, _), (stack_index, link_index, attrs))| {
                        let obs = samples.observations(i);
                        Sample {
                            stack_index: *stack_index,
                            attribute_indices: attrs.clone(),
                            link_index: *link_index,
                            values: obs.iter().map(|(v, _)| v[value_index]).collect(),
                            timestamps_unix_nano: if is_summed(kind) {
                                Vec::new()
                            } else {
                                obs.iter().map(|(_, t)| *t).collect()
                            },
                        }
                    })
                    .collect();
                profiles.push(TypedProfile {
                    kind,
                    value_index,
                    profile: OtlpProfile {
                        sample_type: Some(sample_type),
                        samples: otlp_samples,
                        time_unix_nano: self.start_unix_nano,
                        duration_nano: end_unix_nano.saturating_sub(self.start_unix_nano),
                        period_type: Some(period_type.clone()),
                        period,
                        profile_id: profile_id.clone(),
                        ..OtlpProfile::default()
                    },
                });
            }
        }
        let profile = Profile {
            dictionary: dict.finish(),
            profiles,
        };
        self.symbolizer.release_memory();
        profile
    }

    /// The frames of every address in the window's stacks, resolved a file at a time.
    fn symbolize(&self, samples: &Collected, mappings: &Mappings) -> Symbols {
        let mut by_file: HashMap<&std::path::Path, Vec<u64>> = HashMap::new();
        for addr in samples.call_addresses() {
            if let Some(m) = mappings.find(addr) {
                by_file.entry(&m.path).or_default().push(m.vaddr(addr));
            }
        }
        let files = by_file
            .into_iter()
            .map(|(path, mut vaddrs)| {
                vaddrs.sort_unstable();
                vaddrs.dedup();
                let frames = self.symbolizer.symbolize_all(path, &vaddrs);
                (path.to_path_buf(), (vaddrs, frames))
            })
            .collect();
        Symbols { files }
    }
}

/// A file's addresses (sorted) and the frames of each.
type FileSymbols = (Vec<u64>, Vec<Arc<[Frame]>>);

/// A window's addresses and their frames, per file.
struct Symbols {
    files: HashMap<std::path::PathBuf, FileSymbols>,
}

impl Symbols {
    fn frames(&self, path: &std::path::Path, vaddr: u64) -> Arc<[Frame]> {
        self.files
            .get(path)
            .and_then(|(vaddrs, frames)| frames.get(vaddrs.binary_search(&vaddr).ok()?).cloned())
            .unwrap_or_else(|| Arc::from(Vec::new()))
    }
}

/// 16 random bytes, from the generator the SDK makes trace ids with.
fn random_id() -> bytes::Bytes {
    bytes::Bytes::copy_from_slice(&otlp_sdk::trace::TraceId::random().to_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use otlp_sdk::context::SpanIds;
    use otlp_sdk::profiles::ProfilesPayload;
    use otlp_sdk::trace::{SpanId, TraceFlags, TraceId};

    fn raw(kind: ProfileType, thread_name: Option<&str>, link: Option<u8>) -> RawSample {
        RawSample {
            kind,
            frames: vec![0x10, 0x20],
            values: [1, 5],
            link: link.map(|b| SpanIds {
                trace_id: TraceId::from_bytes([b; 16]),
                span_id: SpanId::from_bytes([b; 8]),
                trace_flags: TraceFlags::SAMPLED,
            }),
            thread_id: 1,
            thread_name: thread_name.map(std::sync::Arc::from),
            thread_state: None,
            timestamp_unix_nano: 5,
        }
    }

    fn string(p: &Profile, i: i32) -> &str {
        p.dictionary.string_table[i as usize].as_str()
    }

    #[test]
    fn each_type_has_its_period_and_sample_types() {
        let mut config = ProfileConfig::new()
            .with_sampling_frequency(250)
            .with_sampling_rate(4096)
            .with_mutex_sampling(3);
        for kind in ProfileType::ALL {
            config = config.with_profile_type(kind);
        }
        let p = ProfileBuilder::new(&config, 10, Arc::default()).finish(30);
        assert_eq!(p.profile_types(), ProfileType::ALL);
        let expected = [
            (ProfileType::Cpu, "cpu", "nanoseconds", 4_000_000),
            (ProfileType::Heap, "space", "bytes", 4096),
            (ProfileType::HeapAlloc, "space", "bytes", 4096),
            (ProfileType::Block, "delay", "nanoseconds", 4_000_000),
            (ProfileType::Mutex, "contentions", "count", 3),
            (ProfileType::Goroutine, "threads", "count", 1),
        ];
        for (kind, name, unit, period) in expected {
            for (i, (t, u)) in kind.sample_types().iter().enumerate() {
                let o = p.otlp_profile(kind, i).unwrap();
                let st = o.sample_type.as_ref().unwrap();
                assert_eq!(
                    (string(&p, st.type_strindex), string(&p, st.unit_strindex)),
                    (*t, *u)
                );
                let pt = o.period_type.as_ref().unwrap();
                let got = (string(&p, pt.type_strindex), string(&p, pt.unit_strindex));
                assert_eq!((got, o.period), ((name, unit), period), "{kind:?}");
                assert_eq!((o.time_unix_nano, o.duration_nano), (10, 20));
            }
        }
        // Block and Mutex share sample types: the period type tells them apart on reading.
        let request = ProfilesPayload::from(p.clone()).into_request(Default::default());
        assert_eq!(Profile::from_request(&request).unwrap(), [p]);
    }

    #[test]
    fn only_identical_samples_aggregate() {
        let config = ProfileConfig::new().with_profile_type(ProfileType::Mutex);
        let mut b = ProfileBuilder::new(&config, 0, Arc::default());
        b.add(raw(ProfileType::Mutex, Some("a"), None));
        b.add(raw(ProfileType::Mutex, Some("a"), None));
        b.add(raw(ProfileType::Mutex, Some("b"), None));
        b.add(raw(ProfileType::Mutex, Some("a"), Some(1)));
        b.add(raw(ProfileType::Heap, Some("a"), None));
        b.add(raw(ProfileType::Heap, Some("a"), None));
        b.add(raw(ProfileType::Heap, Some("b"), None));
        let p = b.finish(1);
        assert_eq!(p.profile_types(), [ProfileType::Mutex, ProfileType::Heap]);
        // Kept one by one, with their times.
        let mutex = p.otlp_profile(ProfileType::Mutex, 1).unwrap();
        let values: Vec<&[i64]> = mutex.samples.iter().map(|s| &s.values[..]).collect();
        assert_eq!(values, [&[5, 5][..], &[5], &[5]]);
        assert_eq!(mutex.samples[0].timestamps_unix_nano, [5, 5]);
        assert_eq!(p.sample_count(ProfileType::Mutex), 4);
        assert_eq!(p.total(ProfileType::Mutex, 0), 4);
        // Heap samples summed: one value per distinct sample, no times.
        let heap = p.otlp_profile(ProfileType::Heap, 1).unwrap();
        let values: Vec<&[i64]> = heap.samples.iter().map(|s| &s.values[..]).collect();
        assert_eq!(values, [&[10][..], &[5]]);
        assert!(
            heap.samples
                .iter()
                .all(|s| s.timestamps_unix_nano.is_empty())
        );
        assert_eq!(p.total(ProfileType::Heap, 0), 3);
        // The same stack in every sample: one stack entry besides the zero one.
        assert_eq!(p.dictionary.stack_table.len(), 2);
    }
}
