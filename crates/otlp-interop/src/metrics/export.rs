//! The check of one cycle's export against the recorded values.

use super::observed::{expected_exponential, expected_observed};
use super::{A, B, INSTRUMENTS, Kind, SCOPE, Series, find, window};
use otlp::metrics::TemporalityPreference;
use otlp_proto::collector::ExportMetricsServiceRequest;
use otlp_proto::common::{KeyValue, Value};
use otlp_proto::metrics::{AggregationTemporality, ExponentialHistogram, MetricData, NumberValue};
use std::collections::BTreeMap;

fn series_of(what: &str, attrs: &[KeyValue]) -> Series {
    let (mut route, mut code) = (None, None);
    for kv in attrs {
        match (&*kv.key, kv.value.as_ref().and_then(|v| v.value.as_ref())) {
            ("http.route", Some(Value::StringValue(s))) => route = Some(s.to_string()),
            ("http.response.status_code", Some(Value::IntValue(i))) => code = Some(*i),
            _ => panic!("{what}: unexpected attribute {kv:?}"),
        }
    }
    match (route.as_deref(), code) {
        (Some("/a"), Some(200)) => A,
        (Some("/b"), Some(500)) => B,
        other => panic!("{what}: unknown series {other:?}"),
    }
}

/// Each point's (instrument, series) -> (start, time), for the ordering checks across cycles.
pub type Times = BTreeMap<(&'static str, Series), (u64, u64)>;

/// Whether a client of temporality preference `preference` exports `kind` as delta: counters
/// and histograms under delta and lowmemory, observable counters under delta alone (up-down
/// counters and gauges stay cumulative: the specification's preferences).
pub fn is_delta(preference: TemporalityPreference, kind: Kind) -> bool {
    use TemporalityPreference as P;
    kind.is_delta(preference != P::Cumulative, preference == P::LowMemory)
}

/// Checks the export of cycle `cycle` (as the file exporter wrote it) against the values
/// recorded and observed, for a client of temporality preference `preference` ([`is_delta`]).
/// A delta series that recorded nothing in the cycle may be left out or be zero. Returns the
/// points' times.
pub fn check_export(
    what: &str,
    preference: TemporalityPreference,
    cycle: u32,
    got: &ExportMetricsServiceRequest,
) -> Times {
    let scopes: Vec<_> = got
        .resource_metrics
        .iter()
        .flat_map(|rm| rm.scope_metrics.iter())
        .collect();
    let [sm] = scopes[..] else {
        panic!("{what}: {} scopes", scopes.len())
    };
    assert_eq!(sm.scope.as_ref().map(|s| &*s.name), Some(SCOPE), "{what}");
    let mut names: Vec<&str> = sm.metrics.iter().map(|m| &*m.name).collect();
    names.sort_unstable();
    let mut want_names: Vec<&str> = INSTRUMENTS.iter().map(|i| i.name).collect();
    want_names.sort_unstable();
    assert_eq!(names, want_names, "{what}: metrics");
    let mut times = Times::new();
    for m in &sm.metrics {
        let i = find(&m.name);
        let w = format!("{what}: {}", i.name);
        assert_eq!((&*m.unit, &*m.description), (i.unit, i.description), "{w}");
        let is_delta = is_delta(preference, i.kind);
        let temporality = if is_delta {
            AggregationTemporality::Delta
        } else {
            AggregationTemporality::Cumulative
        } as i32;
        let recorded = window(i.name, cycle, is_delta);
        let mut note = |series: Series, start: u64, time: u64| {
            assert!(start <= time, "{w}: start {start} after time {time}");
            assert!(
                times.insert((i.name, series), (start, time)).is_none(),
                "{w}: {series:?} twice"
            );
        };
        match (i.kind, m.data.as_ref()) {
            (
                Kind::Counter | Kind::UpDown | Kind::ObservedCounter | Kind::ObservedUpDown,
                Some(MetricData::Sum(s)),
            ) => {
                let observed = matches!(i.kind, Kind::ObservedCounter | Kind::ObservedUpDown);
                let monotonic = matches!(i.kind, Kind::Counter | Kind::ObservedCounter);
                assert_eq!(
                    (s.is_monotonic, s.aggregation_temporality),
                    (monotonic, temporality),
                    "{w}"
                );
                let mut got = BTreeMap::new();
                for p in &s.data_points {
                    let series = series_of(&w, &p.attributes);
                    got.insert(series, number(&w, i.int, p.value.as_ref()));
                    note(series, p.start_time_unix_nano, p.time_unix_nano);
                }
                let want: BTreeMap<Series, f64> = if observed {
                    // Only the series the callback observed in this cycle.
                    expected_observed(i.name, cycle, is_delta)
                } else {
                    got.retain(|series, v| {
                        recorded.contains_key(series) || !(is_delta && *v == 0.0)
                    });
                    recorded.iter().map(|(s, v)| (*s, v.iter().sum())).collect()
                };
                assert_eq!(got, want, "{w}");
            }
            (Kind::Gauge, Some(MetricData::Gauge(g))) => {
                // A series not recorded in this cycle may keep its last value.
                let earlier = window(i.name, cycle, false);
                for p in &g.data_points {
                    let series = series_of(&w, &p.attributes);
                    let values = recorded
                        .get(&series)
                        .or_else(|| earlier.get(&series))
                        .expect("recorded");
                    assert_eq!(
                        number(&w, i.int, p.value.as_ref()),
                        *values.last().expect("a value"),
                        "{w}: {series:?}"
                    );
                    note(series, p.start_time_unix_nano, p.time_unix_nano);
                }
                for series in recorded.keys() {
                    assert!(
                        times.contains_key(&(i.name, *series)),
                        "{w}: {series:?} missing"
                    );
                }
            }
            (Kind::ObservedGauge, Some(MetricData::Gauge(g))) => {
                let mut got = BTreeMap::new();
                for p in &g.data_points {
                    let series = series_of(&w, &p.attributes);
                    got.insert(series, number(&w, i.int, p.value.as_ref()));
                    note(series, p.start_time_unix_nano, p.time_unix_nano);
                }
                // Exactly the series the callback observed in this cycle.
                assert_eq!(got, expected_observed(i.name, cycle, false), "{w}");
            }
            (Kind::Exponential, Some(MetricData::ExponentialHistogram(h))) => {
                assert_eq!(h.aggregation_temporality, temporality, "{w}");
                for series in check_exponential(&w, is_delta, cycle, h) {
                    note(series.0, series.1, series.2);
                }
                for series in recorded.keys() {
                    assert!(
                        times.contains_key(&(i.name, *series)),
                        "{w}: {series:?} missing"
                    );
                }
            }
            (Kind::Histogram(bounds), Some(MetricData::Histogram(h))) => {
                assert_eq!(h.aggregation_temporality, temporality, "{w}");
                for p in &h.data_points {
                    let series = series_of(&w, &p.attributes);
                    note(series, p.start_time_unix_nano, p.time_unix_nano);
                    let Some(values) = recorded.get(&series) else {
                        assert!(
                            is_delta && p.count == 0,
                            "{w}: {series:?} recorded nothing: {p:?}"
                        );
                        continue;
                    };
                    assert_eq!(p.explicit_bounds, bounds, "{w}");
                    let mut counts = vec![0_u64; bounds.len() + 1];
                    for v in values {
                        // Upper-inclusive: a value on a bound belongs to the bucket it ends.
                        counts[bounds.iter().take_while(|b| v > b).count()] += 1;
                    }
                    assert_eq!(
                        p.bucket_counts, counts,
                        "{w}: {series:?} buckets of {values:?}"
                    );
                    assert_eq!(p.count, values.len() as u64, "{w}: {series:?}");
                    let sum: f64 = values.iter().sum();
                    assert!(
                        p.sum.is_some_and(|s| (s - sum).abs() < 1e-9),
                        "{w}: sum {:?}, recorded {sum}",
                        p.sum
                    );
                    assert_eq!(
                        p.min,
                        values.iter().copied().reduce(f64::min),
                        "{w}: {series:?} min"
                    );
                    assert_eq!(
                        p.max,
                        values.iter().copied().reduce(f64::max),
                        "{w}: {series:?} max"
                    );
                }
                for series in recorded.keys() {
                    assert!(
                        times.contains_key(&(i.name, *series)),
                        "{w}: {series:?} missing"
                    );
                }
            }
            (kind, data) => panic!("{w}: expected {kind:?}, got {data:?}"),
        }
    }
    times
}

/// Checks each point of the exponential histogram against [`expected_exponential`]; returns
/// each point's (series, start, time).
fn check_exponential(
    w: &str,
    is_delta: bool,
    cycle: u32,
    h: &ExponentialHistogram,
) -> Vec<(Series, u64, u64)> {
    let mut out = Vec::new();
    for p in &h.data_points {
        let series = series_of(w, &p.attributes);
        out.push((series, p.start_time_unix_nano, p.time_unix_nano));
        let Some(want) = expected_exponential(series, cycle, is_delta) else {
            assert!(
                is_delta && p.count == 0,
                "{w}: {series:?} recorded nothing: {p:?}"
            );
            continue;
        };
        let positive = p.positive.clone().unwrap_or_default();
        let got = super::Exponential {
            count: p.count,
            sum: p.sum.unwrap_or(f64::NAN),
            min: p.min.unwrap_or(f64::NAN),
            max: p.max.unwrap_or(f64::NAN),
            zero_count: p.zero_count,
            scale: p.scale,
            offset: positive.offset,
            counts: positive.bucket_counts,
        };
        assert_eq!(got, want, "{w}: {series:?}");
        assert!(
            p.negative
                .as_ref()
                .is_none_or(|n| n.bucket_counts.is_empty()),
            "{w}: {series:?}: negative buckets {:?}",
            p.negative
        );
        assert_eq!(p.zero_threshold, 0.0, "{w}: {series:?}");
    }
    out
}

fn number(what: &str, int: bool, value: Option<&NumberValue>) -> f64 {
    match value {
        Some(NumberValue::AsInt(i)) if int => *i as f64,
        Some(NumberValue::AsDouble(d)) if !int => *d,
        other => panic!(
            "{what}: {other:?}, expected an {} value",
            if int { "int" } else { "double" }
        ),
    }
}

/// Checks the times of cycle 2 against cycle 1's: later, and starting where cycle 1 ended for
/// delta points, where cycle 1 started for cumulative ones.
pub fn check_times(what: &str, preference: TemporalityPreference, first: &Times, second: &Times) {
    for ((name, series), (start, time)) in second {
        let Some((start1, time1)) = first.get(&(*name, *series)) else {
            continue;
        };
        assert!(
            time > time1,
            "{what}: {name} {series:?}: time {time} not after {time1}"
        );
        let i = find(name);
        match i.kind {
            Kind::Gauge | Kind::ObservedGauge => {}
            kind if is_delta(preference, kind) => {
                assert_eq!(
                    start, time1,
                    "{what}: {name} {series:?}: a delta point starts where the last ended"
                );
            }
            _ => assert_eq!(
                start, start1,
                "{what}: {name} {series:?}: a cumulative point keeps its start"
            ),
        }
    }
}
