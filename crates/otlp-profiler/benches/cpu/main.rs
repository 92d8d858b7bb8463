//! The CPU profiler's cost and yield against pprof-rs 0.15 in the same run.
//!
//! A CPU-bound workload (a fixed amount of work on two threads, started after the profiler as a
//! service's new threads are) runs with no profiler, with ours and with pprof-rs at 100 Hz and
//! at 1,000 Hz, in two shapes: flat (the loop right under the thread's entry) and deep (the loop
//! at the bottom of a recursive chain through `dyn Fn` closures and iterator adaptors, a stack
//! of several dozen frames). Rounds take every configuration in turn, so host noise falls on
//! all alike; figures are medians over rounds, spreads interquartile ranges.
//!
//! What is measured, per run:
//! - the process's CPU time and the wall time over the work (the profilers' threads included,
//!   their start and stop, where both symbolize, not): the overall overhead, whose differences
//!   drown in a shared machine's noise at these frequencies;
//! - the samples delivered (signal handler runs) and what they stand for (ours weights a
//!   sample by 1 + its timer's overruns), over the samples due (CPU seconds times frequency);
//! - per sample, where it is paid: on the interrupted workload thread. A handler of the
//!   bench's own ([`hook`]) wraps the profiler's, counts its runs per thread and times each
//!   (median: "handler"). The workload reads the clock every few hundred nanoseconds; the
//!   chunk a handler ran in stalled for the kernel's tick, the signal's delivery and return
//!   and the handler (median over the stalls shorter than a preemption: "stall", what a
//!   sample costs the thread at most, the tick it came with included). And the workload
//!   threads' own CPU clocks (`CLOCK_THREAD_CPUTIME_ID`, the handler's cache damage included),
//!   each round's profiled run minus the same round's unprofiled run over the samples: "work
//!   CPU", honest but inside the noise of a shared machine;
//! - the CPU time of the profiler's own threads (ours: the sampler's and the collector's,
//!   found by name by their thread CPU clocks; pprof-rs has none while it samples), per wall
//!   second during the work and while the process idles before it.
//!
//! The kernel checks CPU timers at its tick (`CONFIG_HZ`), so neither profiler runs its
//! handler more than once per tick and thread: past the tick rate a higher frequency adds
//! weight (ours) or loses samples (pprof-rs), not handler runs. The overhead at 100 Hz is
//! derived from the 100 Hz figures (a sample costs more at a lower frequency, the handler's
//! code and tables colder; the 1,000 Hz ones, with more samples, are printed beside): the
//! stall per sample times 100 samples per CPU second, plus the profiler's threads' CPU per
//! wall second shared over the workload's two threads (as if each had a core:
//! preemption on a shared machine stretches the wall time, not the work).
//!
//! `cargo bench -p otlp-profiler --bench cpu -- --rounds N --seconds S` (S: about the CPU
//! seconds per thread per run; `--verbose` prints each run; `--only NAME` runs only the
//! configurations whose name holds NAME, besides the unprofiled ones).

#![allow(clippy::print_stdout)]

mod hook;
mod report;
mod threads;
mod workload;

use otlp_profiler::{ProfileCollector, ProfileConfig, ProfileType};
use std::time::Duration;
use workload::Shape;

const THREADS: usize = 2;
/// How long the profiler's threads are watched with nothing to sample.
const IDLE: Duration = Duration::from_millis(300);
/// Levels of the deep workload's chain (three functions and a closure each).
const DEEP_LEVELS: u32 = 12;

/// Who samples, at what frequency.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Profiler {
    /// Nobody.
    None,
    /// This crate's CPU profiler.
    Ours(u32),
    /// pprof-rs 0.15.
    Pprof(u32),
}

impl Profiler {
    fn name(self) -> String {
        match self {
            Profiler::None => "no profiler".to_owned(),
            Profiler::Ours(hz) => format!("ours at {hz} Hz"),
            Profiler::Pprof(hz) => format!("pprof-rs at {hz} Hz"),
        }
    }

    fn hz(self) -> Option<u32> {
        match self {
            Profiler::None => None,
            Profiler::Ours(hz) | Profiler::Pprof(hz) => Some(hz),
        }
    }
}

/// What one run measured.
#[derive(Debug, Default, Clone)]
pub struct Run {
    /// The process's CPU time over the work, seconds.
    pub process_cpu: f64,
    /// Wall time of the work, seconds.
    pub wall: f64,
    /// The workload threads' CPU time together, seconds.
    pub work_cpu: f64,
    /// Every workload thread's stalls without a sample, nanoseconds.
    pub gaps: Vec<u32>,
    /// Every workload thread's stalls with a sample, nanoseconds.
    pub sample_stalls: Vec<u32>,
    /// Handler runs on the workload threads.
    pub handler_runs: u64,
    /// Their time, nanoseconds.
    pub handler_ns: u64,
    /// Each one's time, nanoseconds.
    pub handler_times: Vec<u32>,
    /// Signal handler runs that left a sample.
    pub samples: f64,
    /// The periods those samples stand for.
    pub weighted: f64,
    /// The profiler's own threads' CPU time over the work, seconds.
    pub profiler_cpu: f64,
    /// Their CPU time per second while the process was idle just before the work, seconds.
    pub profiler_idle: f64,
    /// Each of them by name.
    pub profiler_threads: Vec<(String, f64)>,
    /// The profiler's threads' CPU time after its start returned and before the work, seconds.
    pub profiler_start: f64,
    /// Frames per sample, mean (inlined functions counted).
    pub depth: f64,
}

fn run(profiler: Profiler, shape: Shape, chunks: u64) -> Run {
    let work = |run: &mut Run| {
        let cpu0 = workload::process_cpu();
        let (threads, wall) = workload::run(THREADS, chunks, shape);
        run.process_cpu = (workload::process_cpu() - cpu0).as_secs_f64();
        run.wall = wall.as_secs_f64();
        run.work_cpu = threads
            .iter()
            .map(|t| t.cpu)
            .sum::<Duration>()
            .as_secs_f64();
        run.handler_runs = threads.iter().map(|t| t.handler_runs).sum();
        run.handler_ns = threads.iter().map(|t| t.handler_ns).sum();
        for t in threads {
            run.gaps.extend(t.gaps);
            run.sample_stalls.extend(t.sample_stalls);
            run.handler_times.extend(t.handler_times);
        }
    };
    let mut out = Run::default();
    match profiler {
        Profiler::None => work(&mut out),
        Profiler::Ours(hz) => {
            let collector = ProfileCollector::new_blocking(
                ProfileConfig::new()
                    .with_profile_type(ProfileType::Cpu)
                    .with_sampling_frequency(hz),
            )
            .expect("collector");
            collector.start_blocking().expect("start");
            hook::wrap();
            // Ours: the CPU sampler's thread and the collector's.
            let own = threads::wait_named("otlp-prof", 2);
            out.profiler_start = threads::settle(&own).as_secs_f64();
            // Their cost with nothing to sample: waking, listing threads, collecting.
            let idle0 = threads::cpu(&own);
            std::thread::sleep(IDLE);
            out.profiler_idle = (threads::cpu(&own) - idle0).as_secs_f64() / IDLE.as_secs_f64();
            let each0: Vec<_> = own.iter().map(|&t| threads::cpu(&[t])).collect();
            work(&mut out);
            for (&t, c0) in own.iter().zip(each0) {
                let used = (threads::cpu(&[t]) - c0).as_secs_f64();
                out.profiler_cpu += used;
                out.profiler_threads.push((threads::name(t), used));
            }
            let profile = collector.stop_blocking().expect("profile");
            out.samples = profile.sample_count(ProfileType::Cpu) as f64;
            out.weighted = profile.total(ProfileType::Cpu, 0) as f64;
            let (mut frames, mut n) = (0.0, 0.0);
            for line in profile.folded_stacks(ProfileType::Cpu) {
                let (stack, count) = line.rsplit_once(' ').unwrap_or((&line, "0"));
                let count: f64 = count.parse().unwrap_or(0.0);
                frames += count * (stack.matches(';').count() + 1) as f64;
                n += count;
            }
            out.depth = frames / n.max(1.0);
        }
        Profiler::Pprof(hz) => {
            let guard = pprof::ProfilerGuardBuilder::default()
                .frequency(hz as i32)
                .blocklist(&["libc", "libgcc", "pthread", "vdso"])
                .build()
                .expect("pprof");
            hook::wrap();
            work(&mut out);
            let report = guard.report().build().expect("report");
            let (mut frames, mut n) = (0.0, 0.0);
            for (stack, &count) in &report.data {
                let count = count as f64;
                frames += count * stack.frames.iter().map(Vec::len).sum::<usize>() as f64;
                n += count;
            }
            out.samples = n;
            out.weighted = n;
            out.depth = frames / n.max(1.0);
        }
    }
    out
}

fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rounds: usize = arg(&args, "--rounds", 7);
    let seconds: f64 = arg(&args, "--seconds", 1.0);
    let verbose = args.iter().any(|a| a == "--verbose");
    // `--only "ours at 1000"`: the unprofiled runs and the configurations named so (to watch
    // one under an outside profiler).
    let only: String = arg(&args, "--only", String::new());
    let chunks = calibrate(seconds);
    let profilers = [
        Profiler::None,
        Profiler::Ours(100),
        Profiler::Pprof(100),
        Profiler::Ours(1000),
        Profiler::Pprof(1000),
    ];
    let shapes = [
        Shape::Flat,
        Shape::Deep {
            levels: DEEP_LEVELS,
        },
    ];
    let cells: Vec<(Shape, Profiler)> = shapes
        .iter()
        .flat_map(|&s| profilers.iter().map(move |&p| (s, p)))
        .filter(|(_, p)| *p == Profiler::None || p.name().contains(&only))
        .collect();
    let mut results: Vec<Vec<Run>> = vec![Vec::new(); cells.len()];
    // A warm-up of each (not kept), then the rounds.
    for &(shape, profiler) in &cells {
        run(profiler, shape, chunks / 4);
    }
    for round in 0..rounds {
        for (&(shape, profiler), runs) in cells.iter().zip(results.iter_mut()) {
            let r = run(profiler, shape, chunks);
            if verbose {
                println!(
                    "round {round} {shape:?} {:<20} work CPU {:.4} s, {} samples, {} handled \
                     ({:.1} us each), {} stalls ({:.1} ms), profiler threads {:.2} ms \
                     (before the work {:.2} ms, idle {:.2} ms/s)",
                    profiler.name(),
                    r.work_cpu,
                    r.samples,
                    r.handler_runs,
                    r.handler_ns as f64 / 1e3 / r.handler_runs.max(1) as f64,
                    r.gaps.len(),
                    r.gaps.iter().map(|&g| f64::from(g)).sum::<f64>() / 1e6,
                    r.profiler_cpu * 1e3,
                    r.profiler_start * 1e3,
                    r.profiler_idle * 1e3,
                );
                for (name, cpu) in &r.profiler_threads {
                    println!("    {name}: {:.2} ms", cpu * 1e3);
                }
            }
            if verbose {
                let mut hist = [0u32; 12];
                let mut sampled = [0u32; 12];
                for (h, gaps) in [(&mut hist, &r.gaps), (&mut sampled, &r.sample_stalls)] {
                    for &g in gaps {
                        h[(32 - (g / 1000).leading_zeros() as usize).min(11)] += 1;
                    }
                }
                println!("    stalls by us (<1,<2,<4..): {hist:?}\n    sampled: {sampled:?}");
            }
            runs.push(r);
        }
    }
    report::print(&cells, &results, rounds);
}

/// Chunks of work per thread that take about `seconds` of CPU.
fn calibrate(seconds: f64) -> u64 {
    let probe = 20_000;
    let (threads, _) = workload::run(1, probe, Shape::Flat);
    let per_chunk = threads[0].cpu.as_secs_f64() / probe as f64;
    (seconds / per_chunk.max(1e-9)) as u64
}
