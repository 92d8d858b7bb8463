//! Synthetic samples whose frames are functions of the test binary, so that symbolization
//! is checked without the CPU sampler.

#![allow(dead_code)] // Each test binary uses a part.

use otlp_profiler::testing::{Sample, build_profile};
use otlp_profiler::{Profile, ProfileConfig, ProfileType};
use otlp_sdk::context::SpanIds;
use otlp_sdk::trace::{SpanId, TraceFlags, TraceId};
use std::hint::black_box;

#[inline(never)]
fn leaf_fn_alpha() -> u64 {
    black_box(1)
}

#[inline(never)]
fn middle_fn_beta() -> u64 {
    black_box(leaf_fn_alpha() + 1)
}

#[inline(never)]
fn root_fn_gamma() -> u64 {
    black_box(middle_fn_beta() + 1)
}

fn addr(f: fn() -> u64) -> u64 {
    f as *const () as u64
}

pub const MS10: i64 = 10_000_000;

pub fn span() -> SpanIds {
    SpanIds {
        trace_id: TraceId::from_bytes([0xaa; 16]),
        span_id: SpanId::from_bytes([0xbb; 8]),
        trace_flags: TraceFlags::SAMPLED,
    }
}

pub fn sample(frames: Vec<u64>, t: u64, link: Option<SpanIds>, thread: u32) -> Sample {
    Sample {
        kind: ProfileType::Cpu,
        frames,
        values: [1, MS10],
        link,
        thread_id: thread,
        thread_name: (thread == 7).then(|| "worker".to_owned()),
        thread_state: None,
        timestamp_unix_nano: t,
    }
}

/// Two identical samples in a span (alpha <- beta <- gamma), one outside (beta <- gamma).
pub fn cpu_profile() -> Profile {
    assert_eq!(root_fn_gamma(), 3);
    // Return addresses point after a call: +1 lands inside the caller.
    let full = vec![
        addr(leaf_fn_alpha),
        addr(middle_fn_beta) + 1,
        addr(root_fn_gamma) + 1,
    ];
    let short = vec![addr(middle_fn_beta), addr(root_fn_gamma) + 1];
    let config = ProfileConfig::new()
        .with_profile_type(ProfileType::Cpu)
        .with_sampling_frequency(100);
    build_profile(
        &config,
        vec![
            sample(full.clone(), 1_001, Some(span()), 7),
            sample(short, 1_003, None, 8),
            sample(full, 1_002, Some(span()), 7),
        ],
        1_000,
        2_000,
    )
}
