//! The observable instruments' callbacks and the base-2 exponential histogram: what they report
//! per cycle, computed by hand.

use super::{A, B, Series};
use otlp::metrics::{Aggregation, MetricsConfig, View};
use std::collections::BTreeMap;

/// The histogram aggregated as a base-2 exponential histogram (by a view: see
/// [`metrics_config`]), with the default maximum size (160 buckets) and scale (20).
pub const EXPONENTIAL: &str = "app.response.size";

/// `config` with the view that makes [`EXPONENTIAL`] a base-2 exponential histogram.
pub fn metrics_config(config: MetricsConfig) -> MetricsConfig {
    config.with_view(
        View::new()
            .with_instrument_name(EXPONENTIAL)
            .with_aggregation(Aggregation::base2_exponential_histogram()),
    )
}

/// What the callbacks observe in cycle `cycle`: (instrument, series, value). Observable
/// instruments report only the series observed by the current callback: `app.jobs.completed`
/// observes `B` only in cycle 2 (a series new to a delta reader: its delta is its total),
/// `app.threads` and `app.fan.speed` observe `B` only in cycle 1 (their cycle-2 exports leave
/// it out; the Prometheus exporter keeps serving its last value).
pub fn observations(cycle: u32) -> Vec<(&'static str, Series, f64)> {
    match cycle {
        1 => vec![
            ("app.jobs.completed", A, 10.0),
            ("app.threads", A, 8.0),
            ("app.threads", B, -3.0),
            ("app.fan.speed", A, 1200.5),
            ("app.fan.speed", B, 300.0),
        ],
        _ => vec![
            ("app.jobs.completed", A, 25.0),
            ("app.jobs.completed", B, 4.0),
            ("app.threads", A, 5.0),
            ("app.fan.speed", A, 900.25),
        ],
    }
}

/// What `name`'s callback observes in cycle `cycle`, per series.
pub(crate) fn observed(name: &str, cycle: u32) -> BTreeMap<Series, f64> {
    observations(cycle)
        .into_iter()
        .filter(|(n, _, _)| *n == name)
        .map(|(_, s, v)| (s, v))
        .collect()
}

/// The points an observable instrument exports in cycle `cycle`: the values observed, or for a
/// `delta` (observable counter) the difference from the previous cycle's observation of the
/// series (from zero for a series the previous callback did not observe).
pub(crate) fn expected_observed(name: &str, cycle: u32, delta: bool) -> BTreeMap<Series, f64> {
    let now = observed(name, cycle);
    if !delta || cycle == 1 {
        return now;
    }
    let before = observed(name, cycle - 1);
    now.into_iter()
        .map(|(s, v)| (s, v - before.get(&s).copied().unwrap_or(0.0)))
        .collect()
}

/// The last value a series of `name` was observed with, up to cycle `cycle` (what the Prometheus
/// exporter keeps serving: it expires series only after 5 minutes unseen).
pub(crate) fn last_observed(name: &str, cycle: u32) -> BTreeMap<Series, f64> {
    let mut out = BTreeMap::new();
    for c in 1..=cycle {
        out.extend(observed(name, c));
    }
    out
}

/// An exponential histogram point, as computed by hand.
#[derive(Debug, Clone, PartialEq)]
pub struct Exponential {
    /// Values recorded.
    pub count: u64,
    /// Their sum.
    pub sum: f64,
    /// The least.
    pub min: f64,
    /// The greatest.
    pub max: f64,
    /// How many were zero.
    pub zero_count: u64,
    /// The scale.
    pub scale: i32,
    /// The positive range's first index.
    pub offset: i32,
    /// The positive range's counts.
    pub counts: Vec<u64>,
}

/// `len` counts, `1` at each of `ones`.
fn ones(len: usize, ones: &[usize]) -> Vec<u64> {
    let mut counts = vec![0; len];
    for i in ones {
        counts[*i] = 1;
    }
    counts
}

/// The point [`EXPONENTIAL`] exports for `series` in cycle `cycle` (`None`: none, or an empty
/// one under delta), computed with the specification's mapping.
///
/// At scale `s` the bucket of index `i` is `(2^(i/2^s), 2^((i+1)/2^s)]` (upper-inclusive), so
/// `2^k` has index `k*2^s - 1`. A histogram starts at scale 20 and, when the indexes of its
/// values span more than 160 buckets, drops to the greatest scale at which they fit.
///
/// - cycle 1, `A`: 0 (the zero bucket), 1, 2 and 4: indexes `-1`, `2^s - 1`, `2^(s+1) - 1` span
///   `2^(s+1) + 1 <= 160` buckets at most at scale 6: offset -1, 129 buckets, the values at
///   0, 64 and 128;
/// - `B`: 1024 = 2^10 alone: scale 20, offset `10*2^20 - 1 = 10485759`, one bucket;
/// - cycle 2, `A` adds 8 = 2^3 (index `3*2^s - 1`): cumulative, the span `3*2^s + 1 <= 160` at
///   most at scale 5: offset -1, 97 buckets, the values at 0, 32, 64 and 96; delta, 8 alone
///   (a delta starts again empty at scale 20): offset `3*2^20 - 1 = 3145727`, one bucket.
pub fn expected_exponential(series: Series, cycle: u32, delta: bool) -> Option<Exponential> {
    let point = |count, sum, min, max, zero_count, scale, offset, counts| Exponential {
        count,
        sum,
        min,
        max,
        zero_count,
        scale,
        offset,
        counts,
    };
    let b = point(1, 1024.0, 1024.0, 1024.0, 0, 20, 10_485_759, vec![1]);
    match (series, cycle, delta) {
        (A, 1, _) => Some(point(4, 7.0, 0.0, 4.0, 1, 6, -1, ones(129, &[0, 64, 128]))),
        (A, _, false) => Some(point(
            5,
            15.0,
            0.0,
            8.0,
            1,
            5,
            -1,
            ones(97, &[0, 32, 64, 96]),
        )),
        (A, _, true) => Some(point(1, 8.0, 8.0, 8.0, 0, 20, 3_145_727, vec![1])),
        (_, 1, _) | (_, _, false) => Some(b),
        (_, _, true) => None,
    }
}
