//! Queries of a [`Profile`]: top functions, values by span, and reading profiles back from
//! an export request.

use super::{Profile, TypedProfile};
use crate::config::ProfileType;
use crate::error::{Error, Kind};
use otlp_sdk::otlp_proto::collector::ExportProfilesServiceRequest;
use otlp_sdk::otlp_proto::profiles::{Location, Profile as OtlpProfile, ProfilesDictionary};
use otlp_sdk::trace::{SpanId, TraceId};
use std::collections::{HashMap, HashSet};

/// A function's share of a profile: what it spent itself (as the leaf) and in total (with
/// its callees).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionShare {
    /// The demangled function name (`file+0xaddress` when the address did not resolve).
    pub name: String,
    /// The sum of the values of the samples where it is the leaf function.
    pub self_value: i64,
    /// The sum of the values of the samples where it is on the stack (once per sample).
    pub total_value: i64,
}

impl Profile {
    /// The `n` functions with the largest self value in `kind`'s main sample type (the last
    /// of [`ProfileType::sample_types`]: CPU nanoseconds, bytes, delay, threads), largest
    /// first (ties: larger total, then name).
    pub fn top_functions(&self, kind: ProfileType, n: usize) -> Vec<FunctionShare> {
        let Some(p) = self.main_profile(kind) else {
            return Vec::new();
        };
        let mut shares: HashMap<String, (i64, i64)> = HashMap::new();
        for sample in &p.samples {
            let value = sample.values.iter().fold(0i64, |a, v| a.saturating_add(*v));
            let names = self.stack_names(sample.stack_index);
            if let Some(leaf) = names.first() {
                shares.entry(leaf.clone()).or_default().0 += value;
            }
            let mut seen = HashSet::new();
            for name in names {
                if seen.insert(name.clone()) {
                    shares.entry(name).or_default().1 += value;
                }
            }
        }
        let mut out: Vec<FunctionShare> = shares
            .into_iter()
            .map(|(name, (self_value, total_value))| FunctionShare {
                name,
                self_value,
                total_value,
            })
            .collect();
        out.sort_by(|a, b| {
            (b.self_value, b.total_value, &a.name).cmp(&(a.self_value, a.total_value, &b.name))
        });
        out.truncate(n);
        out
    }

    /// `kind`'s main value (see [`top_functions`](Profile::top_functions)) per span the
    /// samples were taken in: `(trace id, span id, value)`, largest first. A span's CPU time
    /// is `value_by_span(ProfileType::Cpu)`, filtered by its trace id.
    pub fn value_by_span(&self, kind: ProfileType) -> Vec<(TraceId, SpanId, i64)> {
        let Some(p) = self.main_profile(kind) else {
            return Vec::new();
        };
        let mut by_link: HashMap<usize, i64> = HashMap::new();
        for sample in &p.samples {
            let Ok(i) = usize::try_from(sample.link_index) else {
                continue;
            };
            if i == 0 {
                continue;
            }
            let value = sample.values.iter().fold(0i64, |a, v| a.saturating_add(*v));
            *by_link.entry(i).or_default() += value;
        }
        let mut out: Vec<(TraceId, SpanId, i64)> = by_link
            .into_iter()
            .filter_map(|(i, value)| {
                let link = self.dictionary.link_table.get(i)?;
                let trace: [u8; 16] = link.trace_id.as_ref().try_into().ok()?;
                let span: [u8; 8] = link.span_id.as_ref().try_into().ok()?;
                Some((TraceId::from_bytes(trace), SpanId::from_bytes(span), value))
            })
            .collect();
        out.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.to_bytes().cmp(&b.0.to_bytes())));
        out
    }

    /// The profiles of an export request (as `otlp serve` receives them): one [`Profile`] per
    /// scope, sharing the request's dictionary. Profiles whose sample type is not one of
    /// [`ProfileType`]'s are left out.
    ///
    /// Fails when the request has profiles but no dictionary, or when a sample refers to a
    /// stack, location, function or string the dictionary does not have.
    pub fn from_request(request: &ExportProfilesServiceRequest) -> Result<Vec<Profile>, Error> {
        let mut out = Vec::new();
        for scope in request
            .resource_profiles
            .iter()
            .flat_map(|r| &r.scope_profiles)
        {
            if scope.profiles.is_empty() {
                continue;
            }
            let dictionary = request.dictionary.clone().ok_or_else(|| {
                Error::new(Kind::Output, "the request has profiles but no dictionary")
            })?;
            let mut profiles = Vec::new();
            for p in &scope.profiles {
                check_indices(p, &dictionary)?;
                if let Some((kind, value_index)) = classify(p, &dictionary) {
                    profiles.push(TypedProfile {
                        kind,
                        value_index,
                        profile: p.clone(),
                    });
                }
            }
            out.push(Profile {
                dictionary,
                profiles,
            });
        }
        Ok(out)
    }

    /// The profile of `kind`'s main (last) sample type.
    pub(crate) fn main_profile(&self, kind: ProfileType) -> Option<&OtlpProfile> {
        self.otlp_profile(kind, kind.sample_types().len() - 1)
    }

    /// The string at `index`, empty when out of the table.
    pub(crate) fn string(&self, index: i32) -> &str {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.dictionary.string_table.get(i))
            .map_or("", |s| s.as_str())
    }

    /// The location at `index`.
    pub(crate) fn location(&self, index: i32) -> Option<&Location> {
        self.dictionary
            .location_table
            .get(usize::try_from(index).ok()?)
    }

    /// The function names of a location: inlined first, the caller last; one
    /// `file+0xaddress` name when it has no lines.
    pub(crate) fn location_names(&self, location: &Location) -> Vec<String> {
        let names: Vec<String> = location
            .lines
            .iter()
            .filter_map(|l| {
                let f = self
                    .dictionary
                    .function_table
                    .get(usize::try_from(l.function_index).ok()?)?;
                Some(self.string(f.name_strindex).to_owned())
            })
            .collect();
        if !names.is_empty() {
            return names;
        }
        let file = usize::try_from(location.mapping_index)
            .ok()
            .and_then(|i| self.dictionary.mapping_table.get(i))
            .map_or("", |m| self.string(m.filename_strindex));
        let file = file.rsplit('/').next().unwrap_or(file);
        vec![format!("{file}+0x{:x}", location.address)]
    }

    /// The function names of stack `index`, leaf first (inlined frames expanded).
    pub(crate) fn stack_names(&self, index: i32) -> Vec<String> {
        let Some(stack) = usize::try_from(index)
            .ok()
            .and_then(|i| self.dictionary.stack_table.get(i))
        else {
            return Vec::new();
        };
        stack
            .location_indices
            .iter()
            .filter_map(|&i| self.location(i))
            .flat_map(|l| self.location_names(l))
            .collect()
    }
}

/// Which profile type and sample type `p` is, from its sample and period types' names.
fn classify(p: &OtlpProfile, d: &ProfilesDictionary) -> Option<(ProfileType, usize)> {
    let name = |i: i32| {
        usize::try_from(i)
            .ok()
            .and_then(|i| d.string_table.get(i))
            .map_or("", |s| s.as_str())
    };
    let sample_type = name(p.sample_type.as_ref()?.type_strindex);
    let period_type = p.period_type.as_ref().map_or("", |t| name(t.type_strindex));
    let kinds: &[ProfileType] = match sample_type {
        "contentions" | "delay" if period_type == "contentions" => &[ProfileType::Mutex],
        _ => &ProfileType::ALL,
    };
    kinds.iter().find_map(|&kind| {
        let i = kind
            .sample_types()
            .iter()
            .position(|(t, _)| *t == sample_type)?;
        Some((kind, i))
    })
}

/// Fails when a sample of `p` refers past the dictionary's tables.
fn check_indices(p: &OtlpProfile, d: &ProfilesDictionary) -> Result<(), Error> {
    let within = |i: i32, len: usize| usize::try_from(i).is_ok_and(|i| i < len);
    for s in &p.samples {
        let stack = usize::try_from(s.stack_index)
            .ok()
            .and_then(|i| d.stack_table.get(i))
            .ok_or_else(|| bad("stack", s.stack_index))?;
        for &l in &stack.location_indices {
            let location = usize::try_from(l)
                .ok()
                .and_then(|i| d.location_table.get(i))
                .ok_or_else(|| bad("location", l))?;
            for line in &location.lines {
                if !within(line.function_index, d.function_table.len()) {
                    return Err(bad("function", line.function_index));
                }
            }
        }
        if !within(s.link_index, d.link_table.len().max(1)) {
            return Err(bad("link", s.link_index));
        }
    }
    Ok(())
}

fn bad(table: &str, index: i32) -> Error {
    Error::new(
        Kind::Output,
        format!("a sample refers to {table} {index}, which the dictionary does not have"),
    )
}
