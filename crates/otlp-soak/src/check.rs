//! The soak's verdicts: every item accounted for ([`Accounting`]), memory flat ([`Memory`]).

use crate::sink::Tally;
use crate::workload::{Sample, SignalStats};
use otlp_proto::Signal;
use std::time::Duration;

/// One signal of one workload: the client's final stats beside what the receiver counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accounting {
    /// The signal.
    pub signal: Signal,
    /// Items the workload made (spans ended, log records sent); `None` for metrics, whose
    /// items the reader makes.
    pub sent: Option<u64>,
    /// The client's final stats, after shutdown.
    pub stats: SignalStats,
    /// Distinct ids answered OK.
    pub ok_distinct: u64,
    /// Items answered OK beyond the first of their id: re-sent after a timeout, the answer
    /// lost (at-least-once delivery).
    pub duplicates: u64,
    /// Items rejected in partial successes, at the receiver.
    pub rejected: u64,
    /// Items of requests refused whole (503).
    pub refused: u64,
    /// Items the client accepted that never arrived (neither answered OK nor rejected).
    pub missing: u64,
    /// Items that arrived though the client counts them dropped (it stopped waiting).
    pub arrived_though_dropped: u64,
    /// Ids the workload never made, and items without an id: none expected.
    pub strangers: u64,
}

impl Accounting {
    /// Holds `stats` (the client's) against `tally` (the receiver's).
    pub fn new(signal: Signal, sent: Option<u64>, stats: SignalStats, tally: &Tally) -> Self {
        let distinct = tally.distinct();
        let beyond = sent.map_or(0, |s| tally.beyond(s));
        Accounting {
            signal,
            sent,
            stats,
            ok_distinct: tally.ok.len() as u64,
            duplicates: tally.ok_items() - tally.ok.len() as u64,
            rejected: tally.rejected_items(),
            refused: tally.refused_items,
            missing: stats.accepted.saturating_sub(distinct),
            arrived_though_dropped: distinct.saturating_sub(stats.exported + stats.rejected),
            strangers: beyond + tally.no_id,
        }
    }

    /// What does not add up, in words; empty when every item is accounted for.
    pub fn problems(&self) -> Vec<String> {
        let s = &self.stats;
        let mut problems = Vec::new();
        let mut fail = |ok: bool, what: String| {
            if !ok {
                problems.push(format!("{}: {what}", self.signal.name()));
            }
        };
        fail(
            s.is_consistent(),
            format!("accepted + recovered != exported + dropped + rejected + queued: {s:?}"),
        );
        // With a persistent queue, what is left after shutdown must be on disk.
        fail(
            s.queued == s.stored,
            format!(
                "{} still queued after shutdown, {} of them in the persistent queue",
                s.queued, s.stored
            ),
        );
        if let Some(sent) = self.sent {
            fail(
                s.accepted == sent,
                format!("{sent} sent but {} accepted", s.accepted),
            );
        }
        // Every item the client counts as exported must have arrived.
        fail(
            self.ok_distinct >= s.exported,
            format!(
                "{} counted exported, {} distinct arrived",
                s.exported, self.ok_distinct
            ),
        );
        fail(
            self.rejected == s.rejected,
            format!(
                "{} rejected by the receiver, {} counted by the client",
                self.rejected, s.rejected
            ),
        );
        // An item that never arrived must be one the client counts as dropped.
        fail(
            self.missing <= s.dropped_total(),
            format!(
                "{} items never arrived, {} counted dropped",
                self.missing,
                s.dropped_total()
            ),
        );
        fail(
            self.strangers == 0,
            format!("{} items the workload never made", self.strangers),
        );
        // A soak through which little passes tests nothing: most items must get through.
        fail(
            s.exported * 2 >= s.accepted && s.accepted > 0,
            format!("only {} of {} exported", s.exported, s.accepted),
        );
        problems
    }
}

/// The RSS curve of a workload, judged: after warm-up, the highest RSS of the second half is
/// above the highest of the first half by at most `bound`. Every chaos phase comes once per
/// cycle, and each half holds at least one cycle's worth, so both halves see the queues at
/// their fullest: what the second adds is growth, not a phase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Memory {
    /// Samples before this time are warm-up.
    pub warmup: Duration,
    /// RSS at the end of warm-up.
    pub after_warmup: u64,
    /// The highest RSS of the first half after warm-up.
    pub first_max: u64,
    /// The highest RSS of the second half.
    pub second_max: u64,
    /// The last sample's RSS.
    pub last: u64,
    /// The allowed growth.
    pub bound: u64,
    /// Samples after warm-up.
    pub samples: usize,
}

impl Memory {
    /// Judges `samples` of a run of `duration`: warm-up is the first tenth, at least 10 s.
    pub fn new(samples: &[Sample], duration: Duration, bound: u64) -> Memory {
        let warmup = (duration / 10).max(Duration::from_secs(10));
        let after: Vec<&Sample> = samples
            .iter()
            .filter(|s| s.t >= warmup.as_secs_f64())
            .collect();
        let end = after.last().map_or(0.0, |s| s.t);
        let middle = (warmup.as_secs_f64() + end) / 2.0;
        let max_of = |first: bool| {
            after
                .iter()
                .filter(|s| (s.t < middle) == first)
                .map(|s| s.rss_bytes)
                .max()
                .unwrap_or(0)
        };
        Memory {
            warmup,
            after_warmup: after.first().map_or(0, |s| s.rss_bytes),
            first_max: max_of(true),
            second_max: max_of(false),
            last: after.last().map_or(0, |s| s.rss_bytes),
            bound,
            samples: after.len(),
        }
    }

    /// What is wrong with the curve, in words; empty when memory stayed flat.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.samples < 4 {
            problems.push(format!("only {} RSS samples after warm-up", self.samples));
        }
        if self.first_max == 0 || self.second_max > self.first_max + self.bound {
            problems.push(format!(
                "RSS grew: max {} MiB in the second half, {} MiB in the first (bound +{} MiB)",
                mib(self.second_max),
                mib(self.first_max),
                mib(self.bound)
            ));
        }
        problems
    }
}

/// `bytes` in MiB, one decimal.
pub fn mib(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / (1024.0 * 1024.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn stats(accepted: u64, exported: u64, rejected: u64, dropped: u64) -> SignalStats {
        SignalStats {
            accepted,
            exported,
            rejected,
            dropped: [0, 0, 0, dropped, 0, 0],
            ..SignalStats::default()
        }
    }

    fn tally(ok: impl IntoIterator<Item = u64>, rejected: impl IntoIterator<Item = u64>) -> Tally {
        let mut t = Tally::default();
        for id in ok {
            *t.ok.entry(id).or_default() += 1;
        }
        t.rejected = rejected
            .into_iter()
            .map(|id| (id, 1))
            .collect::<HashMap<_, _>>();
        t
    }

    #[test]
    fn accounted_items_pass_with_duplicates_and_drops_that_arrived() {
        // 100 sent: 90 exported (one of them twice), 2 rejected, 8 dropped of which 3 arrived.
        let t = tally((0..93).chain([5]), [93, 94]);
        let a = Accounting::new(Signal::Traces, Some(100), stats(100, 90, 2, 8), &t);
        assert_eq!(a.problems(), Vec::<String>::new());
        assert_eq!(
            (a.duplicates, a.missing, a.arrived_though_dropped),
            (1, 5, 3)
        );
    }

    #[test]
    fn a_missing_item_a_stranger_or_a_miscount_fails() {
        let s = stats(100, 98, 2, 0);
        // Item 7 counted exported never arrived.
        let missing = tally((0..98).filter(|&i| i != 7), [98, 99]);
        let problems = Accounting::new(Signal::Logs, Some(100), s, &missing).problems();
        assert_eq!(problems.len(), 2, "{problems:?}");
        // An id the workload never made.
        let stranger = tally((0..98).chain([100]), [98, 99]);
        assert_eq!(
            Accounting::new(Signal::Logs, Some(100), s, &stranger)
                .problems()
                .len(),
            1
        );
        // Rejected counts disagree; still queued; inconsistent.
        let ok = tally(0..98, [98, 99]);
        let cases = [
            stats(100, 99, 1, 0),
            SignalStats { queued: 1, ..s },
            stats(101, 98, 2, 0),
        ];
        for bad in cases {
            assert!(
                !Accounting::new(Signal::Logs, None, bad, &ok)
                    .problems()
                    .is_empty(),
                "{bad:?}"
            );
        }
    }

    fn curve(rss: impl Fn(u64) -> u64) -> Vec<Sample> {
        (0..=120)
            .map(|t| Sample {
                t: t as f64,
                rss_bytes: rss(t),
                sent: 0,
                stats: Default::default(),
            })
            .collect()
    }

    #[test]
    fn a_flat_curve_with_spikes_passes_a_leak_fails() {
        const MB: u64 = 1 << 20;
        let d = Duration::from_secs(120);
        // Outages fill the queues once per minute: spikes in both halves.
        let flat = Memory::new(
            &curve(|t| 20 * MB + (t % 60 > 30) as u64 * 5 * MB),
            d,
            8 * MB,
        );
        assert_eq!(flat.problems(), Vec::<String>::new());
        assert_eq!((flat.first_max, flat.second_max), (25 * MB, 25 * MB));
        // 200 KiB a second: 11 MiB more by the end of the second half.
        let leak = Memory::new(&curve(|t| 20 * MB + t * 200 * 1024), d, 8 * MB);
        assert_eq!(leak.problems().len(), 1, "{leak:?}");
        assert_eq!(Memory::new(&[], d, 8 * MB).problems().len(), 2);
    }
}
