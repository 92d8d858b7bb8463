//! Recording and collecting metrics (work in progress, issue 14), against the incumbent's
//! `SdkMeterProvider` (opentelemetry_sdk 0.33, a manual reader) in the same run: a counter add
//! and a histogram record with 3 attributes built per call, unbound and bound; the incumbent's
//! base-2 exponential histogram (through a view); one and two threads recording into the same
//! series and into distinct series; collecting 10,000 series and encoding them for export.
//!
//! `cargo bench -p otlp-sdk --bench metrics` (`-- collection` for the collection alone). At the end it prints the medians and the ratios
//! (incumbent / ours, or ours / incumbent for throughputs).

#![allow(clippy::print_stdout)]

use criterion::Criterion;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_sdk::metrics::{
    Aggregation, InstrumentKind, ManualReader, Pipeline, SdkMeterProvider, Stream, Temporality,
    data::ResourceMetrics, reader::MetricReader,
};
use otlp::{ClientConfig, OtlpClient};
use otlp_proto::common::KeyValue;
use std::hint::black_box;
use std::sync::{Arc, Barrier, Weak};
use std::time::{Duration, Instant};

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
    if std::env::args().any(|a| a == "collection") {
        collection();
        return;
    }
    let config =
        ClientConfig::new()
            .with_exporter(otlp::ExporterConfig::default().with_disabled(true))
            .with_metrics(
                otlp::metrics::MetricsConfig::new()
                    .with_export_interval(None)
                    .with_view(
                        otlp::metrics::View::new()
                            .with_instrument_name("exponential")
                            .with_aggregation(
                                otlp::metrics::Aggregation::base2_exponential_histogram(),
                            ),
                    ),
            );
    let client = OtlpClient::new_blocking(config).expect("client");
    let meter = client.meter("bench");
    let counter = meter.u64_counter("requests").build();
    let histogram = meter.f64_histogram("duration").build();
    let exponential = meter.f64_histogram("exponential").build();
    let bound_exponential = exponential.bind(&attrs(0));
    let bound = counter.bind(&attrs(0));
    let bound_histogram = histogram.bind(&attrs(0));

    let provider = SdkMeterProvider::builder()
        .with_reader(ManualReader::builder().build())
        .with_view(|i: &opentelemetry_sdk::metrics::Instrument| {
            (i.name() == "exponential").then(|| {
                Stream::builder()
                    .with_aggregation(Aggregation::Base2ExponentialHistogram {
                        max_size: 160,
                        max_scale: 20,
                        record_min_max: true,
                    })
                    .build()
                    .expect("a valid stream")
            })
        })
        .build();
    let theirs = provider.meter("bench");
    let their_counter = theirs.u64_counter("requests").build();
    let their_histogram = theirs.f64_histogram("duration").build();
    let their_exponential = theirs.f64_histogram("exponential").build();

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
        let ours =
            median(&mut |i| exponential.record(black_box((i % 1000) as f64 + 0.5), &attrs(i)));
        let inc = median(&mut |i| {
            their_exponential.record(black_box((i % 1000) as f64 + 0.5), &incumbent_attrs(i))
        });
        rows.push(("exponential histogram record, 3 attributes", ours, inc));
        let ours = median(&mut |i| bound_exponential.record(black_box((i % 1000) as f64 + 0.5)));
        rows.push(("bound exponential histogram record", ours, 0.0));
    }
    print_rows(&rows);
    threads(&counter, &their_counter);
    collection();
}

/// Total records per microsecond of `threads` threads each running `f(thread, i)` 1,000,000
/// times (the median of 5 runs).
fn throughput(threads: usize, f: &(dyn Fn(usize, u64) + Sync)) -> f64 {
    const N: u64 = 1_000_000;
    let mut samples: Vec<f64> = (0..5)
        .map(|_| {
            let start = Barrier::new(threads + 1);
            std::thread::scope(|s| {
                for t in 0..threads {
                    let start = &start;
                    s.spawn(move || {
                        start.wait();
                        for i in 0..N {
                            f(t, i);
                        }
                    });
                }
                start.wait();
                let began = Instant::now();
                // The scope ends when every thread is done.
                began
            })
            .elapsed()
        })
        .map(|elapsed| (threads as u64 * N) as f64 / elapsed.as_secs_f64() / 1e6)
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// One and two threads adding to one series, and to a series each.
fn threads(counter: &otlp::metrics::Counter<u64>, theirs: &opentelemetry::metrics::Counter<u64>) {
    let same = |_: usize, _: u64| counter.add(black_box(1), &attrs(0));
    let distinct = |t: usize, _: u64| counter.add(black_box(1), &attrs(t as u64));
    let their_same = |_: usize, _: u64| theirs.add(black_box(1), &incumbent_attrs(0));
    let their_distinct = |t: usize, _: u64| theirs.add(black_box(1), &incumbent_attrs(t as u64));
    println!(
        "\n{:<28} {:>9} {:>9} {:>7} {:>9} {:>9} {:>7} {:>9}",
        "counter add, M/s in total",
        "ours 1",
        "ours 2",
        "scale",
        "inc. 1",
        "inc. 2",
        "scale",
        "2 vs 2"
    );
    for (name, ours, inc) in [
        (
            "same series",
            &same as &(dyn Fn(usize, u64) + Sync),
            &their_same as &(dyn Fn(usize, u64) + Sync),
        ),
        ("distinct series", &distinct, &their_distinct),
    ] {
        let (o1, o2) = (throughput(1, ours), throughput(2, ours));
        let (i1, i2) = (throughput(1, inc), throughput(2, inc));
        println!(
            "{name:<28} {o1:>9.1} {o2:>9.1} {:>6.2}x {i1:>9.1} {i2:>9.1} {:>6.2}x {:>8.2}x",
            o2 / o1,
            i2 / i1,
            o2 / i2
        );
    }
}

/// The incumbent's manual reader, shared with the provider so that the benchmark can collect.
#[derive(Debug, Clone)]
struct Shared(Arc<ManualReader>);

impl MetricReader for Shared {
    fn register_pipeline(&self, pipeline: Weak<Pipeline>) {
        self.0.register_pipeline(pipeline)
    }
    fn collect(&self, rm: &mut ResourceMetrics) -> opentelemetry_sdk::error::OTelSdkResult {
        self.0.collect(rm)
    }
    fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
        self.0.force_flush()
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> opentelemetry_sdk::error::OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }
    fn temporality(&self, kind: InstrumentKind) -> Temporality {
        self.0.temporality(kind)
    }
}

/// The median milliseconds of each of `fs`, run in turns (one warm-up each, then 11 rounds of
/// all of them), so that every one is timed under the same conditions: the allocator's state
/// left by one (a freed heap top given back to the system, say) falls on all alike.
fn medians_ms(fs: &mut [&mut dyn FnMut() -> usize]) -> Vec<f64> {
    for f in fs.iter_mut() {
        black_box(f());
    }
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); fs.len()];
    for _ in 0..11 {
        for (f, samples) in fs.iter_mut().zip(samples.iter_mut()) {
            let start = Instant::now();
            black_box(f());
            samples.push(start.elapsed().as_secs_f64() * 1e3);
        }
    }
    samples
        .into_iter()
        .map(|mut s| {
            s.sort_by(f64::total_cmp);
            s[s.len() / 2]
        })
        .collect()
}

/// Collecting 10,000 series (10 counters of 1,000 series, under the default cardinality limit
/// of 2,000): as a request (ours: `collect_metrics`; theirs: a manual reader's collect), and
/// encoded for export (ours: `collect_metrics_encoded`, what the periodic export does; theirs:
/// the reader's collect, the conversion to the OTLP request and its encoding, what their
/// exporter does).
fn collection() {
    const INSTRUMENTS: usize = 10;
    const SERIES: i64 = 1_000;
    let series = |i: i64| {
        [
            KeyValue::new("http.route", "/api/users/{id}"),
            KeyValue::new("shard", i),
        ]
    };
    let config = ClientConfig::new()
        .with_exporter(otlp::ExporterConfig::default().with_disabled(true))
        .with_metrics(otlp::metrics::MetricsConfig::new().with_export_interval(None));
    let client = OtlpClient::new_blocking(config).expect("client");
    let meter = client.meter("collection");
    for n in 0..INSTRUMENTS {
        let counter = meter.u64_counter(format!("requests.{n}")).build();
        (0..SERIES).for_each(|i| counter.add(1, &series(i)));
    }
    let reader = Shared(Arc::new(ManualReader::builder().build()));
    let provider = SdkMeterProvider::builder()
        .with_reader(reader.clone())
        .build();
    let theirs = provider.meter("collection");
    for n in 0..INSTRUMENTS {
        let counter = theirs.u64_counter(format!("requests.{n}")).build();
        (0..SERIES).for_each(|i| {
            counter.add(
                1,
                &[
                    opentelemetry::KeyValue::new("http.route", "/api/users/{id}"),
                    opentelemetry::KeyValue::new("shard", i),
                ],
            )
        });
    }
    let mut rm = ResourceMetrics::default();
    let mut rm2 = ResourceMetrics::default();
    let times = medians_ms(&mut [
        &mut || client.collect_metrics().resource_metrics.len(),
        &mut || {
            client
                .collect_metrics_encoded(otlp_proto::Encoding::Protobuf)
                .len()
        },
        &mut || {
            reader.collect(&mut rm).expect("collected");
            rm.scope_metrics().count()
        },
        &mut || {
            reader.collect(&mut rm2).expect("collected");
            let request =
                opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest::from(
                    &rm2,
                );
            prost::Message::encode_to_vec(&request).len()
        },
    ]);
    let (ours_collect, ours, inc_collect, inc) = (times[0], times[1], times[2], times[3]);
    println!(
        "\n{:<44} {:>10} {:>10} {:>7}",
        "10,000 series", "ours", "incumbent", "ratio"
    );
    for (name, ours, inc) in [
        ("collect as a request", ours_collect, inc_collect),
        ("collect and encode for export", ours, inc),
    ] {
        println!(
            "{name:<44} {ours:>7.2} ms {inc:>7.2} ms {:>6.2}x",
            inc / ours
        );
    }
}

/// The table: ours, the incumbent's, and the ratio (incumbent / ours) where both ran.
fn print_rows(rows: &[(&str, f64, f64)]) {
    println!(
        "\n{:<44} {:>10} {:>10} {:>7}",
        "operation", "ours", "incumbent", "ratio"
    );
    for (name, ours, inc) in rows {
        let ratio = if *inc == 0.0 || *ours == 0.0 {
            "-".to_owned()
        } else {
            format!("{:.2}x", inc / ours)
        };
        // Zero: not measured on that side.
        let ns = |v: f64| {
            if v == 0.0 {
                "-".to_owned()
            } else {
                format!("{v:.1} ns")
            }
        };
        println!("{name:<44} {:>10} {:>10} {ratio:>7}", ns(*ours), ns(*inc));
    }
}
