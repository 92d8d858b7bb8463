//! The profiler's memory over time: a small service-like workload (one thread computing, one
//! allocating and freeing, one sleeping) runs alone for a while, then under the continuous
//! profiler (CPU at 100 Hz, allocations and live heap at 512 KiB, a profile every window,
//! symbolized in process and handed to a client whose exporter is disabled), printing the
//! process's resident memory (now, and its peak so far) every 30 seconds.
//!
//! `cargo run --release -p otlp-profiler --example profiler_memory -- [MINUTES] [WINDOW_SECS] [REPORT_SECS]`
//! (default 10 minutes, 60-second windows, a line every 30 seconds). The figures go in `docs/benchmarks.md`.

#![allow(clippy::print_stdout)]

use otlp_profiler::{ContinuousProfiler, ProfileConfig, ProfileType, SamplingAllocator};
use otlp_sdk::{ClientConfig, ExporterConfig, OtlpClient};
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[global_allocator]
static ALLOCATOR: SamplingAllocator = SamplingAllocator::system();

/// A `/proc/self/status` figure in KiB (`VmRSS`: resident now, `VmHWM`: the peak so far).
fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

#[inline(never)]
fn compute(stop: &AtomicBool) -> u64 {
    let mut x = 1u64;
    while !stop.load(Ordering::Relaxed) {
        for i in 0..100_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x = x.wrapping_add(i);
        }
    }
    x
}

#[inline(never)]
fn churn(stop: &AtomicBool) -> usize {
    let mut live: Vec<String> = Vec::new();
    let mut n = 0usize;
    while !stop.load(Ordering::Relaxed) {
        live.push(format!("{n:>10} {}", "payload ".repeat(16)));
        if live.len() > 10_000 {
            live.drain(..5_000);
        }
        n += 1;
        if n.is_multiple_of(1000) {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    black_box(live.len())
}

/// Bytes the C allocator has handed out and not had back (its heap in use).
fn heap_in_use_mib() -> f64 {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)]
    // SAFETY: `mallinfo2` reads the C allocator's statistics under its own locks and returns
    // them by value.
    let bytes = unsafe { libc::mallinfo2() }.uordblks;
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let bytes = 0usize;
    bytes as f64 / (1024.0 * 1024.0)
}

/// The highest peak seen by [`report`] (each report resets the kernel's to the current size).
static PEAK_SO_FAR: AtomicU64 = AtomicU64::new(0);

fn report(start: Instant, what: &str) {
    let mib = |field| status_kib(field) as f64 / 1024.0;
    let peak = status_kib("VmHWM:");
    let so_far = PEAK_SO_FAR.fetch_max(peak, Ordering::Relaxed).max(peak);
    println!(
        "t={:>5}s  rss={:>6.1} MiB (anon {:>6.1}, files {:>5.1})  peak={:>6.1} MiB (since the last line {:>6.1})  heap in use={:>6.1} MiB  {what}",
        start.elapsed().as_secs(),
        mib("VmRSS:"),
        mib("RssAnon:"),
        mib("RssFile:"),
        so_far as f64 / 1024.0,
        peak as f64 / 1024.0,
        heap_in_use_mib(),
    );
    // Resets the kernel's peak (`VmHWM`) to the current size, so that each line tells which
    // interval the peak was in; without it (an old kernel) the figure is the peak so far.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let minutes = args.first().copied().unwrap_or(10);
    let window = Duration::from_secs(args.get(1).copied().unwrap_or(60));
    let every = Duration::from_secs(args.get(2).copied().unwrap_or(30));
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = [0, 1, 2]
        .into_iter()
        .map(|i| {
            let stop = stop.clone();
            std::thread::spawn(move || match i {
                0 => black_box(compute(&stop)) as usize,
                1 => churn(&stop),
                _ => {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(Duration::from_millis(50));
                    }
                    0
                }
            })
        })
        .collect();
    let start = Instant::now();
    std::thread::sleep(every);
    report(start, "workload alone (baseline)");
    let client = OtlpClient::new_blocking(
        ClientConfig::new()
            .with_exporter(ExporterConfig::default().with_disabled(true))
            .with_self_metrics(false),
    )?;
    let profiler = ContinuousProfiler::start_blocking(
        client,
        ProfileConfig::new()
            .with_profile_type(ProfileType::Cpu)
            .with_profile_type(ProfileType::HeapAlloc)
            .with_profile_type(ProfileType::Heap)
            .with_period(window),
    )?;
    let end = Instant::now() + Duration::from_secs(60 * minutes);
    while Instant::now() < end {
        std::thread::sleep(every);
        report(
            start,
            &format!("profiling; {} profiles so far", profiler.exported()),
        );
    }
    profiler.stop_blocking()?;
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        let _ = w.join();
    }
    report(start, "stopped");
    Ok(())
}
