//! What a scrape of the Prometheus exporter should show of the workload.

use super::{INSTRUMENTS, Kind, window};
use crate::prometheus::Exposition;

/// A sample a scrape should show: (sample name, labels besides `job`, value).
pub type ExpectedSample = (String, Vec<(&'static str, String)>, f64);

/// What a scrape should show for one client after both cycles (the exporter shows totals,
/// whatever the temporality it was sent in).
pub fn expected_samples() -> Vec<ExpectedSample> {
    let mut out = Vec::new();
    for i in INSTRUMENTS {
        for (series, values) in window(i.name, 2, false) {
            let labels = vec![
                ("http_route", series.0.to_owned()),
                ("http_response_status_code", series.1.to_string()),
            ];
            let family = i.family.to_owned();
            match i.kind {
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

/// The `# TYPE` the exporter gives `kind`.
pub fn prometheus_type(kind: Kind) -> &'static str {
    match kind {
        Kind::Counter => "counter",
        Kind::UpDown | Kind::Gauge => "gauge",
        Kind::Histogram(_) => "histogram",
    }
}

/// Every difference between a scrape and what the client whose `service.name` (the `job`
/// label) is `job` recorded; empty when they match.
pub fn prometheus_differences(job: &str, scraped: &Exposition) -> Vec<String> {
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
    for (name, labels, want) in expected_samples() {
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
