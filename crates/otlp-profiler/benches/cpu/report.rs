//! The bench's tables: the overall overhead on the flat workload, the cost per sample on both
//! workloads, and the overhead at 100 Hz derived from it, ours over pprof-rs's.

use super::{Profiler, Run};
use crate::workload::Shape;

/// Stalls longer than this are preemptions (another process ran), not samples: a sample's
/// stall is tens of microseconds at most.
const PREEMPTION_NS: u32 = 250_000;

/// The median and the interquartile range of `v`.
fn quartiles(mut v: Vec<f64>) -> (f64, f64) {
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.75) - at(0.25))
}

fn median(v: Vec<f64>) -> f64 {
    quartiles(v).0
}

/// Per-sample figures of one configuration.
struct PerSample {
    /// Workload threads' extra CPU per sample, µs: median, IQR over rounds.
    cpu: (f64, f64),
    /// The handler's time per run, µs: median, IQR over rounds of each round's median.
    handler: (f64, f64),
    /// The loop's stall at a sample, µs: median, IQR over rounds of each round's median.
    stall: (f64, f64),
    /// The profiler's threads' CPU per wall second of the work, ms: median, IQR.
    threads: (f64, f64),
    /// The profiler's threads' CPU per second with nothing to sample, ms: median, IQR.
    idle: (f64, f64),
}

fn per_sample(runs: &[Run], base: &[Run]) -> PerSample {
    let paired = |f: &dyn Fn(&Run, &Run) -> f64| -> (f64, f64) {
        quartiles(runs.iter().zip(base).map(|(r, b)| f(r, b)).collect())
    };
    PerSample {
        cpu: paired(&|r, b| 1e6 * (r.work_cpu - b.work_cpu) / r.samples.max(1.0)),
        // The median run: a handler preempted midway (its clock is the wall's) is no sample.
        handler: paired(&|r, _| {
            median(
                r.handler_times
                    .iter()
                    .map(|&t| f64::from(t) / 1e3)
                    .collect(),
            )
        }),
        stall: paired(&|r, _| {
            median(
                r.sample_stalls
                    .iter()
                    .filter(|&&g| g <= PREEMPTION_NS)
                    .map(|&g| f64::from(g) / 1e3)
                    .collect(),
            )
        }),
        threads: paired(&|r, _| 1e3 * r.profiler_cpu / r.wall),
        idle: paired(&|r, _| 1e3 * r.profiler_idle),
    }
}

/// Prints the tables for `cells` (shape, profiler) and their runs.
pub fn print(cells: &[(Shape, Profiler)], results: &[Vec<Run>], rounds: usize) {
    let base_of = |shape: Shape| {
        cells
            .iter()
            .position(|&c| c == (shape, Profiler::None))
            .map_or(&[][..], |i| &results[i][..])
    };
    let noise = |shape: Shape| {
        let base = base_of(shape);
        let (m, iqr) = quartiles(base.iter().map(|r| r.work_cpu).collect());
        let preempted: f64 = median(
            base.iter()
                .map(|r| {
                    r.gaps
                        .iter()
                        .filter(|&&g| g > PREEMPTION_NS)
                        .map(|&g| f64::from(g) / 1e9)
                        .sum::<f64>()
                        / r.wall
                })
                .collect(),
        );
        (100.0 * iqr / m, 100.0 * preempted / super::THREADS as f64)
    };

    println!("\n{rounds} rounds; medians, [interquartile ranges]");
    for shape in [Shape::Flat] {
        let base = base_of(shape);
        let base_cpu = median(base.iter().map(|r| r.process_cpu).collect());
        let base_wall = median(base.iter().map(|r| r.wall).collect());
        println!(
            "\n{:<22} {:>9} {:>9} {:>10} {:>10} {:>10} {:>9}",
            "flat, whole process", "CPU s", "wall s", "CPU over", "wall over", "samples", "of due"
        );
        for (&(_, profiler), runs) in cells.iter().zip(results).filter(|(c, _)| c.0 == shape) {
            let cpu = median(runs.iter().map(|r| r.process_cpu).collect());
            let wall = median(runs.iter().map(|r| r.wall).collect());
            let weighted = median(runs.iter().map(|r| r.weighted).collect());
            let of_due = profiler.hz().map_or("-".to_owned(), |hz| {
                format!("{:.1}%", 100.0 * weighted / (cpu * f64::from(hz)))
            });
            println!(
                "{:<22} {:>9.3} {:>9.3} {:>9.2}% {:>9.2}% {:>10.0} {:>9}",
                profiler.name(),
                cpu,
                wall,
                100.0 * (cpu / base_cpu - 1.0),
                100.0 * (wall / base_wall - 1.0),
                weighted,
                of_due
            );
        }
    }

    println!(
        "\n{:<24} {:>7} {:>5} {:>13} {:>13} {:>15} {:>13} {:>13}",
        "per sample",
        "samples",
        "depth",
        "handler us",
        "stall us",
        "work CPU us",
        "threads ms/s",
        "idle ms/s"
    );
    let mut figures = Vec::new();
    for (&(shape, profiler), runs) in cells.iter().zip(results) {
        if profiler == Profiler::None {
            let (spread, preempted) = noise(shape);
            println!(
                "{:<24} (unprofiled: work CPU spread {spread:.2}% (IQR), preempted {preempted:.0}% \
                 of the wall time)",
                format!("{shape:?}").split(' ').next().unwrap_or(""),
            );
            continue;
        }
        let p = per_sample(runs, base_of(shape));
        let samples = median(runs.iter().map(|r| r.samples).collect());
        let depth = median(runs.iter().map(|r| r.depth).collect());
        let cell = |(m, iqr): (f64, f64)| format!("{m:.2} [{iqr:.2}]");
        println!(
            "  {:<22} {:>7.0} {:>5.0} {:>13} {:>13} {:>15} {:>13} {:>13}",
            profiler.name(),
            samples,
            depth,
            cell(p.handler),
            cell(p.stall),
            cell(p.cpu),
            cell(p.threads),
            cell(p.idle),
        );
        figures.push((shape, profiler, p));
    }

    derived(&figures);
}

/// The overhead at 100 Hz, ours against pprof-rs's: the loop's stall per sample at 100 Hz (the
/// tick, the signal, the handler: what a sample costs the workload thread at most; a sample
/// costs more at 100 Hz than at 1,000 Hz, the handler's code and tables colder between
/// samples) times 100 samples per CPU second, plus the profiler's threads' CPU per wall second
/// at 100 Hz shared over the workload's threads (as if each had a core: preemption on a shared
/// machine stretches the wall time, not the work). The 1,000 Hz figures beside.
fn derived(figures: &[(Shape, Profiler, PerSample)]) {
    let find = |shape: Shape, p: Profiler| {
        figures
            .iter()
            .find(|f| f.0 == shape && f.1 == p)
            .map(|f| &f.2)
    };
    println!(
        "\n{:<9} {:>16} {:>16} {:>7} {:>16} {:>16} {:>7} {:>14} {:>14} {:>7}",
        "at 100 Hz",
        "ours handler us",
        "pprof-rs",
        "ratio",
        "ours stall us",
        "pprof-rs",
        "ratio",
        "ours overhead",
        "pprof-rs",
        "ratio"
    );
    let mut shapes: Vec<Shape> = Vec::new();
    for f in figures {
        if !shapes.contains(&f.0) {
            shapes.push(f.0);
        }
    }
    for shape in shapes {
        let (Some(ours), Some(theirs), Some(ours100), Some(theirs100)) = (
            find(shape, Profiler::Ours(1000)),
            find(shape, Profiler::Pprof(1000)),
            find(shape, Profiler::Ours(100)),
            find(shape, Profiler::Pprof(100)),
        ) else {
            continue;
        };
        // Percent of the workload's CPU: its threads busy, THREADS CPU seconds a second.
        let overhead = |at100: &PerSample| {
            100.0 * (100.0 * at100.stall.0 / 1e6 + at100.threads.0 / 1e3 / super::THREADS as f64)
        };
        let (o, t) = (overhead(ours100), overhead(theirs100));
        let pair = |a: f64, b: f64| format!("{a:.2} ({b:.2})");
        println!(
            "{:<9} {:>16} {:>16} {:>7.2} {:>16} {:>16} {:>7.2} {:>13.3}% {:>13.3}% {:>7.2}",
            format!("{shape:?}").split(' ').next().unwrap_or(""),
            pair(ours100.handler.0, ours.handler.0),
            pair(theirs100.handler.0, theirs.handler.0),
            ours100.handler.0 / theirs100.handler.0,
            pair(ours100.stall.0, ours.stall.0),
            pair(theirs100.stall.0, theirs.stall.0),
            ours100.stall.0 / theirs100.stall.0,
            o,
            t,
            o / t,
        );
    }
}
