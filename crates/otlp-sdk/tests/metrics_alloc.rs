//! Recording on an existing series allocates nothing: every synchronous instrument, bound or
//! unbound, with 0, 3 and 8 attributes, and a thread going round more series than its cache of
//! recent ones holds; under cumulative and delta temporality (delta series are found under the
//! shard's read lock, not the thread's cache). Checked with a counting allocator.

use otlp::metrics::{MetricsConfig, TemporalityPreference};
use otlp::{ClientConfig, ExporterConfig, OtlpClient};
use otlp_proto::common::KeyValue;
use test_support::alloc::allocations_in;

#[global_allocator]
static ALLOCATOR: test_support::alloc::Counting = test_support::alloc::Counting;

/// Attribute sets of 0, 3 and 8 attributes: static strings, short owned strings (held inline),
/// a long owned one (shared storage), integers, floats and booleans.
fn attribute_sets() -> Vec<Vec<KeyValue>> {
    let three = vec![
        KeyValue::new("http.request.method", "GET"),
        KeyValue::new("http.route", String::from("/api/users/{id}")),
        KeyValue::new("http.response.status_code", 200i64),
    ];
    let mut eight = three.clone();
    eight.extend([
        KeyValue::new(
            "server.address",
            "a-rather-long-host-name.example.internal".to_owned(),
        ),
        KeyValue::new("server.port", 8080i64),
        KeyValue::new("ratio", 0.5),
        KeyValue::new("cached", true),
        KeyValue::new(String::from("tenant"), "acme"),
    ]);
    vec![Vec::new(), three, eight]
}

/// The temporalities every test runs under.
const PREFERENCES: [TemporalityPreference; 2] = [
    TemporalityPreference::Cumulative,
    TemporalityPreference::Delta,
];

fn client(preference: TemporalityPreference) -> OtlpClient {
    let config = ClientConfig::new()
        .with_exporter(ExporterConfig::default().with_disabled(true))
        .with_metrics(MetricsConfig::new().with_temporality(preference));
    OtlpClient::new_blocking(config).expect("client")
}

/// Runs `record` on every set twice (the first time makes the series and warms this thread's
/// cache), then checks that recording on every set again allocates nothing.
fn allocates_nothing(what: &str, sets: &[Vec<KeyValue>], record: impl Fn(&[KeyValue])) {
    for _ in 0..2 {
        sets.iter().for_each(|s| record(s));
    }
    let n = allocations_in(|| {
        for _ in 0..3 {
            sets.iter().for_each(|s| record(s));
        }
    });
    assert_eq!(n, 0, "{what}: {n} allocations");
}

#[test]
fn unbound_recording_on_existing_series_allocates_nothing() {
    PREFERENCES.into_iter().for_each(unbound);
}

fn unbound(preference: TemporalityPreference) {
    let client = client(preference);
    let meter = client.meter("alloc");
    let sets = attribute_sets();
    let counter = meter.u64_counter("c").build();
    let f_counter = meter.f64_counter("fc").build();
    let up_down = meter.i64_up_down_counter("ud").build();
    let f_up_down = meter.f64_up_down_counter("fud").build();
    let histogram = meter.f64_histogram("h").build();
    let u_histogram = meter.u64_histogram("uh").build();
    let gauge = meter.f64_gauge("g").build();
    let i_gauge = meter.i64_gauge("ig").build();
    let u_gauge = meter.u64_gauge("ug").build();
    allocates_nothing("counter", &sets, |a| counter.add(1, a));
    allocates_nothing("f64 counter", &sets, |a| f_counter.add(1.5, a));
    allocates_nothing("up-down counter", &sets, |a| up_down.add(-1, a));
    allocates_nothing("f64 up-down counter", &sets, |a| f_up_down.add(-0.5, a));
    allocates_nothing("histogram", &sets, |a| histogram.record(12.5, a));
    allocates_nothing("u64 histogram", &sets, |a| u_histogram.record(7, a));
    allocates_nothing("gauge", &sets, |a| gauge.record(21.5, a));
    allocates_nothing("i64 gauge", &sets, |a| i_gauge.record(-3, a));
    allocates_nothing("u64 gauge", &sets, |a| u_gauge.record(3, a));
    // The attributes in another order find the same series, through the map.
    let reversed: Vec<Vec<KeyValue>> = sets
        .iter()
        .map(|s| s.iter().rev().cloned().collect())
        .collect();
    allocates_nothing("counter, reordered", &reversed, |a| counter.add(1, a));
}

#[test]
fn going_round_more_series_than_the_thread_caches_allocates_nothing() {
    PREFERENCES.into_iter().for_each(many);
}

fn many(preference: TemporalityPreference) {
    let client = client(preference);
    let meter = client.meter("alloc.many");
    let counter = meter.u64_counter("c").build();
    let histogram = meter.f64_histogram("h").build();
    // More sets than the per-thread cache of recent series holds: each recording misses it.
    let sets: Vec<Vec<KeyValue>> = (0..40i64)
        .map(|i| {
            vec![
                KeyValue::new("route", "/x"),
                KeyValue::new("shard", i),
                KeyValue::new("region", "eu"),
            ]
        })
        .collect();
    allocates_nothing("counter", &sets, |a| counter.add(1, a));
    allocates_nothing("histogram", &sets, |a| histogram.record(1.0, a));
}

#[test]
fn bound_recording_allocates_nothing() {
    PREFERENCES.into_iter().for_each(bound);
}

fn bound(preference: TemporalityPreference) {
    let client = client(preference);
    let meter = client.meter("alloc.bound");
    let counter = meter.u64_counter("c").build();
    let f_counter = meter.f64_counter("fc").build();
    let histogram = meter.f64_histogram("h").build();
    let u_histogram = meter.u64_histogram("uh").build();
    for attrs in attribute_sets() {
        let c = counter.bind(&attrs);
        let fc = f_counter.bind(&attrs);
        let h = histogram.bind(&attrs);
        let uh = u_histogram.bind(&attrs);
        c.record(1);
        fc.record(0.5);
        h.record(3.0);
        uh.record(3);
        let n = allocations_in(|| {
            for v in 0..100u64 {
                c.record(v);
                fc.record(v as f64);
                h.record(v as f64);
                uh.record(v);
            }
        });
        assert_eq!(n, 0, "{} attributes: {n} allocations", attrs.len());
    }
}
