//! What the workload prints, one JSON object a line, and its parsing: written and read here
//! only, so that both ends agree.
//!
//! ```text
//! {"type":"sample","t":1.0,"rss_bytes":9437184,"sent":1000,"stats":{"traces":{...},"logs":{...},"metrics":{...}}}
//! {"type":"final","t":121.3,"rss_bytes":9437184,"sent":24000,"shutdown":"ok","stats":{...}}
//! ```
//!
//! `sent` is the number of spans the workload ended (the same number of log records was
//! sent; the counter was added to twice per item).

use otlp::Signal;
use otlp::pipeline::{DropReason, Stats};
use serde_json::{Value, json};

/// The signals the workload sends, in report order.
pub const SIGNALS: [Signal; 3] = [Signal::Traces, Signal::Logs, Signal::Metrics];

/// One pipeline's counters, as the workload reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SignalStats {
    /// Items offered to the pipeline.
    pub accepted: u64,
    /// Items the receiver accepted.
    pub exported: u64,
    /// Items dropped, by reason, in [`DropReason::ALL`]'s order.
    pub dropped: [u64; DropReason::ALL.len()],
    /// Items rejected in partial successes.
    pub rejected: u64,
    /// Items not yet settled.
    pub queued: u64,
    /// Items found in the persistent queue at start.
    pub recovered: u64,
    /// Items in the persistent queue, not yet settled (part of `queued`).
    pub stored: u64,
    /// Requests sent beyond the first of each export.
    pub retried: u64,
    /// Exports that ended.
    pub exports: u64,
}

impl SignalStats {
    /// All drops together.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.iter().sum()
    }

    /// `accepted + recovered == exported + dropped + rejected + queued`.
    pub fn is_consistent(&self) -> bool {
        self.accepted + self.recovered
            == self.exported + self.dropped_total() + self.rejected + self.queued
    }

    /// The drops by reason, those above zero only, as `reason=n` joined by spaces (`-` when
    /// none).
    pub fn dropped_text(&self) -> String {
        let parts: Vec<String> = DropReason::ALL
            .iter()
            .zip(self.dropped)
            .filter(|(_, n)| *n > 0)
            .map(|(reason, n)| format!("{}={n}", reason.name()))
            .collect();
        if parts.is_empty() {
            "-".to_owned()
        } else {
            parts.join(" ")
        }
    }

    /// The counters of a pipeline's `stats`.
    pub fn of(stats: &Stats) -> SignalStats {
        let mut dropped = [0; DropReason::ALL.len()];
        for (slot, reason) in dropped.iter_mut().zip(DropReason::ALL) {
            *slot = stats.dropped.get(reason);
        }
        SignalStats {
            accepted: stats.accepted,
            exported: stats.exported,
            dropped,
            rejected: stats.rejected,
            queued: stats.queued,
            recovered: stats.recovered,
            stored: stats.stored,
            retried: stats.retried,
            exports: stats.exports,
        }
    }

    /// The JSON object the workload prints.
    pub fn to_json(&self) -> Value {
        let dropped: serde_json::Map<String, Value> = DropReason::ALL
            .iter()
            .zip(self.dropped)
            .map(|(r, n)| (r.name().to_owned(), json!(n)))
            .collect();
        json!({
            "accepted": self.accepted,
            "exported": self.exported,
            "dropped": dropped,
            "rejected": self.rejected,
            "queued": self.queued,
            "recovered": self.recovered,
            "stored": self.stored,
            "retried": self.retried,
            "exports": self.exports,
        })
    }

    /// Parses what [`to_json`](Self::to_json) wrote.
    pub fn from_json(value: &Value) -> Option<SignalStats> {
        let n = |key: &str| value.get(key).and_then(Value::as_u64);
        let dropped = value.get("dropped")?;
        let mut by_reason = [0; DropReason::ALL.len()];
        for (slot, reason) in by_reason.iter_mut().zip(DropReason::ALL) {
            *slot = dropped.get(reason.name()).and_then(Value::as_u64)?;
        }
        Some(SignalStats {
            accepted: n("accepted")?,
            exported: n("exported")?,
            dropped: by_reason,
            rejected: n("rejected")?,
            queued: n("queued")?,
            recovered: n("recovered")?,
            stored: n("stored")?,
            retried: n("retried")?,
            exports: n("exports")?,
        })
    }
}

/// One line of the workload's output: a periodic sample, or the final one.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Seconds since the workload started sending.
    pub t: f64,
    /// Its resident set size then.
    pub rss_bytes: u64,
    /// Spans ended so far (as many log records were sent).
    pub sent: u64,
    /// Each signal's stats, in [`SIGNALS`]' order.
    pub stats: [SignalStats; 3],
}

impl Sample {
    /// The stats of `signal`.
    pub fn of(&self, signal: Signal) -> SignalStats {
        SIGNALS
            .iter()
            .position(|&s| s == signal)
            .map(|i| self.stats[i])
            .unwrap_or_default()
    }

    /// The line the workload prints: `kind` is `sample` or `final`; `extra` fields are added.
    pub fn line(&self, kind: &str, extra: &[(&str, Value)]) -> String {
        let stats: serde_json::Map<String, Value> = SIGNALS
            .iter()
            .zip(&self.stats)
            .map(|(signal, s)| (signal.name().to_owned(), s.to_json()))
            .collect();
        let mut line = json!({
            "type": kind,
            "t": self.t,
            "rss_bytes": self.rss_bytes,
            "sent": self.sent,
            "stats": stats,
        });
        if let Some(obj) = line.as_object_mut() {
            for (k, v) in extra {
                obj.insert((*k).to_owned(), v.clone());
            }
        }
        line.to_string()
    }

    /// Parses a line [`line`](Self::line) wrote.
    pub fn parse(value: &Value) -> Option<Sample> {
        let stats = value.get("stats")?;
        let mut all = [SignalStats::default(); 3];
        for (slot, signal) in all.iter_mut().zip(SIGNALS) {
            *slot = SignalStats::from_json(stats.get(signal.name())?)?;
        }
        Some(Sample {
            t: value.get("t")?.as_f64()?,
            rss_bytes: value.get("rss_bytes")?.as_u64()?,
            sent: value.get("sent")?.as_u64()?,
            stats: all,
        })
    }
}

/// Everything a workload printed.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    /// The periodic samples, in order.
    pub samples: Vec<Sample>,
    /// The last line, after shutdown.
    pub last: Sample,
    /// `ok`, or the shutdown's error.
    pub shutdown: String,
}

impl Output {
    /// Parses the workload's stdout lines; lines that are not its JSON are ignored.
    pub fn parse(lines: &[String]) -> Result<Output, String> {
        let mut samples = Vec::new();
        let mut last = None;
        for line in lines {
            let Ok(value) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            let kind = value.get("type").and_then(Value::as_str);
            let sample = Sample::parse(&value);
            match (kind, sample) {
                (Some("sample"), Some(s)) => samples.push(s),
                (Some("final"), Some(s)) => {
                    let shutdown = value.get("shutdown").and_then(Value::as_str);
                    last = Some((s, shutdown.unwrap_or("?").to_owned()));
                }
                _ => return Err(format!("unexpected workload line: {line}")),
            }
        }
        let (last, shutdown) = last.ok_or("the workload printed no final line")?;
        Ok(Output {
            samples,
            last,
            shutdown,
        })
    }
}

/// The resident set size of this process (`VmRSS` of `/proc/self/status`: `statm`'s resident
/// pages, already multiplied by the page size), or 0 where there is no `/proc`.
pub fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip() {
        let logs = SignalStats {
            accepted: 9,
            exported: 5,
            dropped: [1, 0, 0, 2, 0, 0],
            rejected: 1,
            ..SignalStats::default()
        };
        let sample = Sample {
            t: 1.5,
            rss_bytes: 4096,
            sent: 7,
            stats: [SignalStats::default(), logs, SignalStats::default()],
        };
        let line = sample.line("final", &[("shutdown", json!("ok"))]);
        let out = Output::parse(&["noise".to_owned(), line]).unwrap();
        assert_eq!(out.shutdown, "ok");
        assert_eq!(out.last.sent, 7);
        assert_eq!(out.last, sample);
        assert_eq!(
            out.last.of(Signal::Logs).dropped_text(),
            "queue_full=1 retries_exhausted=2"
        );
        assert!(logs.is_consistent());
        assert!(!SignalStats { queued: 1, ..logs }.is_consistent());
        assert!(out.samples.is_empty());
        assert!(rss_bytes() > 0);
    }
}
