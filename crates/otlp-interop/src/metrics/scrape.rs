//! What a scrape of the Prometheus exporter should show of the workload.

use super::observed::last_observed;
use super::{A, EXPONENTIAL, INSTRUMENTS, Kind, window};
use crate::prometheus::Exposition;

/// A sample a scrape should show: (sample name, labels besides `job`, value).
pub type ExpectedSample = (String, Vec<(&'static str, String)>, f64);

/// What a scrape should show for one client after both cycles (the exporter shows totals,
/// whatever the temporality it was sent in, and keeps a series its last export left out).
///
/// The exponential histogram: the exporter (v0.148.0,
/// `exporter/prometheusexporter/collector.go`, `convertExponentialHistogram`) makes it a
/// Prometheus native histogram (`prometheus.NewConstNativeHistogram`, scale capped at 8, no
/// classic buckets), `# TYPE histogram`. The text format 0.0.4 served without an `Accept`
/// header has no native buckets: `expfmt` (prometheus/common v0.67.5, `text_create.go`)
/// writes the classic buckets there are (none) and, as none is `+Inf`, one
/// `_bucket{le="+Inf"}` of the count; then `_sum` and `_count`.
///
/// Sent `delta`, the exporter adds each point to the last (`accumulator.go`,
/// `accumulateExponentialHistogramValues`), downscaling the finer one to the coarser scale
/// (`downscaleBucketSide`). That downscale merges buckets in place and, for a first bucket whose
/// index is not a multiple of the factor, adds its count to itself: `A`'s cycle-2 delta (8 alone,
/// scale 20, index 3145727) merged into cycle 1's (scale 6) counts 2 in bucket 191, so the
/// buckets hold 6 values of 5, `NewConstNativeHistogram` refuses the point ("the sum of all
/// bucket populations exceeds the count of observations", logged as "failed to convert metric
/// app.response.size") and the scrape leaves the series out ([`DROPPED_DELTA`]). `B`, not
/// recorded in cycle 2, keeps its cycle-1 point.
pub fn expected_samples(delta: bool) -> Vec<ExpectedSample> {
    let mut out = Vec::new();
    for i in INSTRUMENTS {
        let family = i.family.to_owned();
        if matches!(
            i.kind,
            Kind::ObservedCounter | Kind::ObservedUpDown | Kind::ObservedGauge
        ) {
            // The last total (a delta exporter's deltas add up to it) or value observed.
            for (series, value) in last_observed(i.name, 2) {
                out.push((family.clone(), labels_of(series), value));
            }
            continue;
        }
        for (series, values) in window(i.name, 2, false) {
            let labels = labels_of(series);
            let family = family.clone();
            match i.kind {
                Kind::ObservedCounter | Kind::ObservedUpDown | Kind::ObservedGauge => {}
                Kind::Exponential if delta && series == A => {}
                Kind::Exponential => {
                    let mut inf = labels.clone();
                    inf.push(("le", "+Inf".to_owned()));
                    let count = values.len() as f64;
                    out.push((format!("{family}_bucket"), inf, count));
                    out.push((format!("{family}_sum"), labels.clone(), values.iter().sum()));
                    out.push((format!("{family}_count"), labels, count));
                }
                Kind::Counter | Kind::UpDown => out.push((family, labels, values.iter().sum())),
                Kind::Gauge => out.push((family, labels, *values.last().expect("a value"))),
                Kind::Histogram(bounds) => {
                    // Prometheus buckets are cumulative: `le` counts every value <= the bound.
                    for bound in bounds.iter().copied().chain([f64::INFINITY]) {
                        let count = values.iter().filter(|v| **v <= bound).count();
                        let mut labels = labels.clone();
                        let le = if bound.is_infinite() {
                            "+Inf".to_owned()
                        } else {
                            bound.to_string()
                        };
                        labels.push(("le", le));
                        out.push((format!("{family}_bucket"), labels, count as f64));
                    }
                    out.push((format!("{family}_sum"), labels.clone(), values.iter().sum()));
                    out.push((format!("{family}_count"), labels, values.len() as f64));
                }
            }
        }
    }
    out
}

/// The exponential histogram series a scrape leaves out when it was sent delta (see
/// [`expected_samples`]).
pub const DROPPED_DELTA: (&str, &str) = ("app_response_size_bytes", "/a");

fn labels_of(series: super::Series) -> Vec<(&'static str, String)> {
    vec![
        ("http_route", series.0.to_owned()),
        ("http_response_status_code", series.1.to_string()),
    ]
}

/// The `# TYPE` the exporter gives `kind`.
pub fn prometheus_type(kind: Kind) -> &'static str {
    match kind {
        Kind::Counter | Kind::ObservedCounter => "counter",
        Kind::UpDown | Kind::Gauge | Kind::ObservedUpDown | Kind::ObservedGauge => "gauge",
        Kind::Histogram(_) | Kind::Exponential => "histogram",
    }
}

/// Every difference between a scrape and what the client whose `service.name` (the `job`
/// label) is `job` recorded, `delta` or not; empty when they match.
pub fn prometheus_differences(job: &str, delta: bool, scraped: &Exposition) -> Vec<String> {
    let mut problems = Vec::new();
    for i in INSTRUMENTS {
        let kind = prometheus_type(i.kind);
        if scraped.types.get(i.family).map(String::as_str) != Some(kind) {
            problems.push(format!(
                "# TYPE {}: {:?}, expected {kind}",
                i.family,
                scraped.types.get(i.family)
            ));
        }
        if scraped.helps.get(i.family).map(String::as_str) != Some(i.description) {
            problems.push(format!(
                "# HELP {}: {:?}",
                i.family,
                scraped.helps.get(i.family)
            ));
        }
    }
    if delta {
        let (family, route) = DROPPED_DELTA;
        debug_assert_eq!(family, super::find(EXPONENTIAL).family);
        for suffix in ["_bucket", "_sum", "_count"] {
            let name = format!("{family}{suffix}");
            let labels = [("job", job), ("http_route", route)];
            if let Some(sample) = scraped.find(&name, &labels).next() {
                problems.push(format!(
                    "{sample:?}: expected dropped (the delta merge bug)"
                ));
            }
        }
    }
    for (name, labels, want) in expected_samples(delta) {
        let mut with_job: Vec<(&str, &str)> =
            labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
        with_job.push(("job", job));
        match scraped.value(&name, &with_job) {
            // The exporter adds a histogram's decimals in another order than we do.
            Ok(got) if (got - want).abs() <= 1e-9 * want.abs().max(1.0) => {}
            Ok(got) => problems.push(format!("{name} {with_job:?}: {got}, recorded {want}")),
            Err(e) => problems.push(e),
        }
    }
    problems
}
