//! The demo's profiles: the CPU and heap profiler run over a small workload of the demo's own
//! (a checksum burning CPU, a renderer allocating), inside a span, and the profile goes out
//! through the client like every other signal.

use otlp::OtlpClient;
use otlp::profile::{Profile, ProfileCollector, ProfileConfig, ProfileType};
use otlp::trace::{SpanContext, Tracer};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// The span the profiled work runs under.
pub(crate) const PROFILED_SPAN: &str = "profiled.work";

/// Burns CPU for about `d`: a checksum over a buffer, again and again.
#[inline(never)]
fn demo_checksum(d: Duration) -> u64 {
    let data: Vec<u8> = (0..64 * 1024).map(|i| (i % 251) as u8).collect();
    let start = Instant::now();
    let mut sum = 0u64;
    while start.elapsed() < d {
        for chunk in data.chunks(8) {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            sum = (sum ^ u64::from_le_bytes(w)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
    black_box(sum)
}

/// Allocates: renders lines of text, keeping one in a hundred.
#[inline(never)]
fn demo_render(lines: usize) -> Vec<String> {
    let mut kept = Vec::new();
    for i in 0..lines {
        let line = format!("{i:>8} {}", "row ".repeat(64));
        if i % 100 == 0 {
            kept.push(line);
        } else {
            black_box(line);
        }
    }
    kept
}

/// Profiles the workload (CPU at 1 kHz, allocations and the live heap) under a span of
/// `tracer`, child of `parent`, exports the profile through `client`, and gives it.
pub(crate) async fn profile(
    client: &OtlpClient,
    tracer: &Tracer,
    parent: &SpanContext,
) -> Result<Profile, String> {
    let config = ProfileConfig::new()
        .with_profile_type(ProfileType::Cpu)
        .with_profile_type(ProfileType::HeapAlloc)
        .with_profile_type(ProfileType::Heap)
        .with_sampling_frequency(1000)
        .with_sampling_rate(64 * 1024);
    let collector = ProfileCollector::new(config)
        .await
        .map_err(|e| format!("cannot make the profiler: {e}"))?;
    collector
        .start()
        .await
        .map_err(|e| format!("cannot start the profiler: {e}"))?;
    let kept = {
        let span = tracer
            .span_builder(PROFILED_SPAN)
            .with_parent(parent)
            .start();
        let _entered = span.enter();
        demo_checksum(Duration::from_millis(300));
        demo_render(20_000)
    };
    let profile = collector
        .stop()
        .await
        .map_err(|e| format!("profiling failed: {e}"))?;
    drop(kept);
    client
        .export_profile(profile.clone())
        .await
        .map_err(|e| format!("exporting the profile failed: {e}"))?;
    Ok(profile)
}

/// The summary lines of `profile`, which arrived as `received` profiles; an error when nothing
/// of it arrived or the workload's functions are not in it.
pub(crate) fn summary(profile: &Profile, received: usize) -> Result<Vec<String>, String> {
    let sent = profile.otlp_profiles().count();
    if received != sent {
        return Err(format!(
            "{sent} profiles exported through OtlpClient, {received} received"
        ));
    }
    let mut lines = vec![format!(
        "sdk profiles: {sent} profiles (CPU, allocations, live heap) sent through OtlpClient \
         over grpc, {received} received; {} CPU samples, {} ms of them in {PROFILED_SPAN:?}",
        profile.sample_count(ProfileType::Cpu),
        profile
            .value_by_span(ProfileType::Cpu)
            .iter()
            .map(|(_, _, v)| v)
            .sum::<i64>()
            / 1_000_000,
    )];
    for (kind, unit, wanted) in [
        (ProfileType::Cpu, "ms", "demo_checksum"),
        (ProfileType::HeapAlloc, "KiB", "demo_render"),
    ] {
        let all = profile.top_functions(kind, usize::MAX);
        let Some(ours) = all.iter().find(|f| f.name.contains(wanted)) else {
            return Err(format!("{wanted} is not in the {} profile", kind.name()));
        };
        let whole: i64 = all.iter().map(|f| f.self_value).sum();
        let scale = if unit == "ms" { 1_000_000 } else { 1024 };
        lines.push(format!(
            "  {}: {} {unit} in all, {} {unit} under {wanted}; top functions by self {unit}:",
            kind.name(),
            whole / scale,
            ours.total_value / scale
        ));
        for f in all.iter().take(5) {
            lines.push(format!(
                "    {:>8}  {}",
                f.self_value / scale,
                short(&f.name)
            ));
        }
    }
    Ok(lines)
}

/// A function name without its hash suffix and at most 90 characters.
fn short(name: &str) -> String {
    let name = match name.rfind("::h") {
        Some(i) if name.len() - i == 19 => &name[..i],
        _ => name,
    };
    name.chars().take(90).collect()
}
