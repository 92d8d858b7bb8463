//! Recording a measurement (work in progress, issue 14): a counter add and a histogram record
//! with 3 attributes built per call, unbound and bound, against the incumbent's
//! `SdkMeterProvider` (opentelemetry_sdk 0.33, a manual reader) in the same run; one thread.
//!
//! `cargo bench -p otlp-sdk --bench metrics`. At the end it prints the medians and the ratio
//! (incumbent / ours).

#![allow(clippy::print_stdout)]

use criterion::Criterion;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_sdk::metrics::{ManualReader, SdkMeterProvider};
use otlp::{ClientConfig, OtlpClient};
use otlp_proto::common::KeyValue;
use std::hint::black_box;
use std::time::Instant;

fn attrs(i: u64) -> [KeyValue; 3] {
    [
        KeyValue::new("http.request.method", "GET"),
        KeyValue::new("http.route", "/api/users/{id}"),
        KeyValue::new("http.response.status_code", 200 + (i & 1) as i64),
    ]
}

fn incumbent_attrs(i: u64) -> [opentelemetry::KeyValue; 3] {
    use opentelemetry::KeyValue as Kv;
    [
        Kv::new("http.request.method", "GET"),
        Kv::new("http.route", "/api/users/{id}"),
        Kv::new("http.response.status_code", 200 + (i & 1) as i64),
    ]
}

/// Median time per call of `f`, in nanoseconds, over 15 rounds.
fn median(f: &mut dyn FnMut(u64)) -> f64 {
    let mut samples = Vec::new();
    for _ in 0..15 {
        let start = Instant::now();
        let n = 200_000u64;
        for i in 0..n {
            f(i);
        }
        samples.push(start.elapsed().as_secs_f64() * 1e9 / n as f64);
    }
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn main() {
    let client = OtlpClient::new_blocking(ClientConfig::new()).expect("client");
    let meter = client.meter("bench");
    let counter = meter.u64_counter("requests").build();
    let histogram = meter.f64_histogram("duration").build();
    let bound = counter.bind(&attrs(0));
    let bound_histogram = histogram.bind(&attrs(0));

    let provider = SdkMeterProvider::builder()
        .with_reader(ManualReader::builder().build())
        .build();
    let theirs = provider.meter("bench");
    let their_counter = theirs.u64_counter("requests").build();
    let their_histogram = theirs.f64_histogram("duration").build();

    let mut c = Criterion::default().configure_from_args();
    c.bench_function("counter_add/ours", |b| {
        let mut i = 0u64;
        b.iter(|| {
            i += 1;
            counter.add(black_box(1), &attrs(i));
        })
    });
    c.bench_function("counter_add/incumbent", |b| {
        let mut i = 0u64;
        b.iter(|| {
            i += 1;
            their_counter.add(black_box(1), &incumbent_attrs(i));
        })
    });
    c.final_summary();
    if std::env::args().any(|a| a == "--test") {
        return;
    }

    let mut rows: Vec<(&str, f64, f64)> = Vec::new();
    for _ in 0..1 {
        let ours = median(&mut |i| counter.add(black_box(1), &attrs(i)));
        let inc = median(&mut |i| their_counter.add(black_box(1), &incumbent_attrs(i)));
        rows.push(("counter add, 3 attributes", ours, inc));
        let ours = median(&mut |i| histogram.record(black_box(i as f64), &attrs(i)));
        let inc = median(&mut |i| their_histogram.record(black_box(i as f64), &incumbent_attrs(i)));
        rows.push(("histogram record, 3 attributes", ours, inc));
        let ours = median(&mut |_| bound.record(black_box(1)));
        rows.push(("bound counter add", ours, 0.0));
        let ours = median(&mut |i| bound_histogram.record(black_box(i as f64)));
        rows.push(("bound histogram record", ours, 0.0));
    }
    print_rows(&rows);
}

/// The table: ours, the incumbent's, and the ratio (incumbent / ours) where both ran.
fn print_rows(rows: &[(&str, f64, f64)]) {
    println!(
        "\n{:<44} {:>10} {:>10} {:>7}",
        "operation", "ours", "incumbent", "ratio"
    );
    for (name, ours, inc) in rows {
        let ratio = if *inc == 0.0 {
            "-".to_owned()
        } else {
            format!("{:.2}x", inc / ours)
        };
        println!("{name:<44} {ours:>7.1} ns {inc:>7.1} ns {ratio:>7}");
    }
}
