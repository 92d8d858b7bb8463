//! The CPU profiler's cost and yield against pprof-rs 0.15 in the same run: a CPU-bound
//! workload on two threads, timed with no profiler, with ours and with pprof-rs at 100 Hz and
//! at 1,000 Hz (each configuration in turn, several rounds, medians): the workload's process
//! CPU time and wall time over the unprofiled run's (the profilers' threads included, their
//! start and stop not), and the samples delivered over the samples due (CPU seconds times the
//! frequency). The workload's threads start after the profiler, as a service's new threads do.
//!
//! `cargo bench -p otlp-profiler --bench cpu` (`-- --rounds N` for more rounds).

#![allow(clippy::print_stdout)]

use otlp_profiler::{ProfileCollector, ProfileConfig, ProfileType};
use std::hint::black_box;
use std::time::{Duration, Instant};

const THREADS: usize = 2;
/// Work per thread per run: about two seconds of CPU on the machine the figures come from.
const ITERATIONS: u64 = 1_200_000_000;

#[inline(never)]
fn burn(n: u64, seed: u64) -> u64 {
    let mut x = seed | 1;
    for i in 0..n {
        // xorshift with a dependency chain: the compiler cannot fold it away.
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x = x.wrapping_add(i);
    }
    x
}

fn workload() {
    std::thread::scope(|s| {
        for t in 0..THREADS {
            s.spawn(move || black_box(burn(ITERATIONS, t as u64 + 1)));
        }
    });
}

#[allow(unsafe_code)]
fn process_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `clock_gettime` writes only the `timespec` it is given, which lives on this
    // stack for the call; CLOCK_PROCESS_CPUTIME_ID exists on every Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

#[derive(Clone, Copy, PartialEq)]
enum Config {
    None,
    Ours(u32),
    Pprof(u32),
}

impl Config {
    fn name(self) -> String {
        match self {
            Config::None => "no profiler".to_owned(),
            Config::Ours(hz) => format!("ours at {hz} Hz"),
            Config::Pprof(hz) => format!("pprof-rs at {hz} Hz"),
        }
    }
}

/// One run: the workload's CPU time and wall time (the profiler's own threads included, its
/// start and its stop, which symbolizes, not), and the samples delivered.
fn run(config: Config) -> (f64, f64, f64) {
    let timed = || {
        let cpu0 = process_cpu();
        let wall0 = Instant::now();
        workload();
        (
            (process_cpu() - cpu0).as_secs_f64(),
            wall0.elapsed().as_secs_f64(),
        )
    };
    match config {
        Config::None => {
            let (cpu, wall) = timed();
            (cpu, wall, 0.0)
        }
        Config::Ours(hz) => {
            let collector = ProfileCollector::new_blocking(
                ProfileConfig::new()
                    .with_profile_type(ProfileType::Cpu)
                    .with_sampling_frequency(hz),
            )
            .expect("collector");
            collector.start_blocking().expect("start");
            let (cpu, wall) = timed();
            let profile = collector.stop_blocking().expect("profile");
            (cpu, wall, profile.total(ProfileType::Cpu, 0) as f64)
        }
        Config::Pprof(hz) => {
            let guard = pprof::ProfilerGuardBuilder::default()
                .frequency(hz as i32)
                .blocklist(&["libc", "libgcc", "pthread", "vdso"])
                .build()
                .expect("pprof");
            let (cpu, wall) = timed();
            let report = guard.report().build().expect("report");
            (cpu, wall, report.data.values().map(|&n| n as f64).sum())
        }
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rounds = args
        .iter()
        .position(|a| a == "--rounds")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(5usize);
    let configs = [
        Config::None,
        Config::Ours(100),
        Config::Pprof(100),
        Config::Ours(1000),
        Config::Pprof(1000),
    ];
    let mut results: Vec<Vec<(f64, f64, f64)>> = vec![Vec::new(); configs.len()];
    // A warm-up of each, then rounds taking every configuration in turn, so host noise falls
    // on all alike.
    for &c in &configs {
        run(c);
    }
    for _ in 0..rounds {
        for (c, r) in configs.iter().zip(results.iter_mut()) {
            r.push(run(*c));
        }
    }
    let base_cpu = median(results[0].iter().map(|r| r.0).collect());
    let base_wall = median(results[0].iter().map(|r| r.1).collect());
    println!(
        "\n{:<22} {:>9} {:>9} {:>10} {:>10} {:>10} {:>9}",
        "2 threads, CPU-bound", "CPU s", "wall s", "CPU over", "wall over", "samples", "of due"
    );
    for (c, r) in configs.iter().zip(&results) {
        let cpu = median(r.iter().map(|r| r.0).collect());
        let wall = median(r.iter().map(|r| r.1).collect());
        let samples = median(r.iter().map(|r| r.2).collect());
        let due = match c {
            Config::None => 0.0,
            Config::Ours(hz) | Config::Pprof(hz) => cpu * f64::from(*hz),
        };
        let of_due = if due > 0.0 {
            format!("{:.1}%", 100.0 * samples / due)
        } else {
            "-".to_owned()
        };
        println!(
            "{:<22} {:>9.3} {:>9.3} {:>9.2}% {:>9.2}% {:>10.0} {:>9}",
            c.name(),
            cpu,
            wall,
            100.0 * (cpu / base_cpu - 1.0),
            100.0 * (wall / base_wall - 1.0),
            samples,
            of_due
        );
    }
}
