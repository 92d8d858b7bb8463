//! The soak's figures as text: the run, the accounting table, the RSS curves.

use crate::Outcome;
use crate::check::mib;
use crate::schedule;
use std::fmt::Write;

/// At most this many points of each RSS curve are printed.
const CURVE_POINTS: usize = 24;

/// The report of `outcome`: a header line, one table row per workload and signal, the RSS
/// verdict and curve per workload, and the problems, if any.
pub fn text(outcome: &Outcome) -> String {
    let c = &outcome.config;
    let [restarts, slow, unavailable, partial] = schedule::counts(&outcome.steps);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "soak: {} s sending, {} spans/s + {} logs/s per workload ({}), export timeout {:?}, \
         chaos cycle {} s: {restarts} restarts, {slow} slow, {unavailable} unavailable, \
         {partial} partial-success phases; {:.0} s in all",
        c.duration.as_secs(),
        c.rate,
        c.rate,
        c.protocols.join(", "),
        c.export_timeout,
        c.cycle.as_secs(),
        outcome.elapsed.as_secs_f64(),
    );
    let _ = writeln!(
        out,
        "\n| workload | signal | sent | accepted | exported | rejected | dropped | queued | \
         retried | arrived | duplicates | rejected at rx | refused (503) | missing | \
         arrived though dropped |"
    );
    let _ = writeln!(out, "|{}", "---|".repeat(15));
    for w in &outcome.workloads {
        for a in &w.accounting {
            let s = &a.stats;
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                w.protocol,
                a.signal.name(),
                a.sent.map_or("-".to_owned(), |n| n.to_string()),
                s.accepted,
                s.exported,
                s.rejected,
                s.dropped_text(),
                s.queued,
                s.retried,
                a.ok_distinct,
                a.duplicates,
                a.rejected,
                a.refused,
                a.missing,
                a.arrived_though_dropped,
            );
        }
    }
    for w in &outcome.workloads {
        let m = &w.memory;
        let verdict = if m.problems().is_empty() {
            "flat"
        } else {
            "GREW"
        };
        let _ = writeln!(
            out,
            "\nRSS {} (MiB): after warm-up ({} s) {}, max first half {}, max second half {}, \
             last {}; bound +{}: {verdict}; shutdown: {}",
            w.protocol,
            m.warmup.as_secs(),
            mib(m.after_warmup),
            mib(m.first_max),
            mib(m.second_max),
            mib(m.last),
            mib(m.bound),
            w.output.shutdown,
        );
        let samples = &w.output.samples;
        let every = samples.len().div_ceil(CURVE_POINTS).max(1);
        let points: Vec<String> = samples
            .iter()
            .step_by(every)
            .map(|s| format!("{:.0}s:{}", s.t, mib(s.rss_bytes)))
            .collect();
        let _ = writeln!(out, "  curve: {}", points.join(" "));
    }
    let problems = outcome.problems();
    if problems.is_empty() {
        let _ = writeln!(out, "\nevery item accounted for; memory flat");
    } else {
        let _ = writeln!(out, "\nPROBLEMS:");
        for p in problems {
            let _ = writeln!(out, "- {p}");
        }
    }
    out
}
