//! Encode CPU per item: OTAP against our OTLP protobuf encode, on the same batches (the sizes
//! example's seeded workload: traces, logs and metrics at 100, 1,000 and 5,000 items a batch).
//!
//! - `otlp`: `Message::encode_to_bytes` of the export request, what the SDK's exporter sends
//!   (before gRPC compression);
//! - `otlp+zstd`: the same, then zstd level 3 as `otlp-proto`'s gRPC compression does;
//! - `otap`: the next batch of a long-lived encoder (IPC bodies zstd level 3, the default),
//!   as its protobuf wire message;
//! - `otap plain`: the same without IPC compression (for gRPC-level zstd instead).
//!
//! The encoder cycles through five batches of a size, so that it runs in the steady state of a
//! stream (dictionaries known, new values as deltas). `cargo bench -p otlp-otap --bench encode`
//! runs criterion's measurements, then prints per-item medians over interleaved rounds and
//! the ratios OTAP / OTLP (below 1.5 is issue 16's target). `-- --test` runs each once.

#![allow(clippy::print_stdout, missing_docs)]

#[path = "../examples/sizes/metrics.rs"]
mod metrics;
#[path = "../examples/sizes/workload.rs"]
mod workload;

use criterion::{BenchmarkId, Criterion, Throughput};
use otlp_otap::{Encoder, Logs, Metrics, Signal, Traces};
use otlp_proto::{Compression, Message};
use std::hint::black_box;
use std::time::{Duration, Instant};

const SIZES: [usize; 3] = [100, 1_000, 5_000];
const ROUNDS: u64 = 5;

/// One way of encoding a batch.
#[derive(Clone, Copy, PartialEq)]
enum Way {
    Otlp,
    OtlpZstd,
    Otap,
    OtapPlain,
}

const WAYS: [(Way, &str); 4] = [
    (Way::Otlp, "otlp"),
    (Way::OtlpZstd, "otlp+zstd"),
    (Way::Otap, "otap"),
    (Way::OtapPlain, "otap plain"),
];

/// The batches of one signal and size, and an encoder per OTAP way.
struct Case<S: Signal> {
    requests: Vec<S::Request>,
    otap: Encoder<S>,
    plain: Encoder<S>,
    next: usize,
}

impl<S: Signal> Case<S>
where
    S::Request: Message,
{
    fn new(make: fn(usize, u64) -> S::Request, size: usize) -> Self {
        Case {
            requests: (0..ROUNDS).map(|r| make(size, r)).collect(),
            otap: Encoder::new(),
            plain: Encoder::new().with_zstd_level(None),
            next: 0,
        }
    }

    /// Encodes the next batch `way`, returning the bytes it makes.
    fn encode(&mut self, way: Way) -> usize {
        let request = &self.requests[self.next % self.requests.len()];
        self.next += 1;
        match way {
            Way::Otlp => request.encode_to_bytes().len(),
            Way::OtlpZstd => {
                let mut out = Vec::new();
                match Compression::Zstd.compress(&request.encode_to_bytes(), &mut out) {
                    Ok(()) => out.len(),
                    Err(e) => panic!("zstd: {e}"),
                }
            }
            Way::Otap | Way::OtapPlain => {
                let encoder = if way == Way::Otap {
                    &mut self.otap
                } else {
                    &mut self.plain
                };
                match encoder.encode(request) {
                    Ok(batch) => batch
                        .encode_to_bytes_with_capacity(batch.encoded_len_bound())
                        .len(),
                    Err(e) => panic!("otap encode: {e}"),
                }
            }
        }
    }
}

/// Nanoseconds per item of each way, medians over interleaved rounds.
fn medians<S: Signal>(case: &mut Case<S>, size: usize, rounds: usize) -> [f64; 4]
where
    S::Request: Message,
{
    let mut samples: [Vec<f64>; 4] = Default::default();
    // Enough batches a round for a few milliseconds of work at every size.
    let batches = (20_000 / size).max(2);
    for _ in 0..rounds {
        for (i, (way, _)) in WAYS.iter().enumerate() {
            let start = Instant::now();
            for _ in 0..batches {
                black_box(case.encode(*way));
            }
            samples[i].push(start.elapsed().as_secs_f64() * 1e9 / (batches * size) as f64);
        }
    }
    samples.map(|mut s| {
        s.sort_by(f64::total_cmp);
        s[s.len() / 2]
    })
}

fn signal<S: Signal>(
    c: &mut Criterion,
    name: &str,
    make: fn(usize, u64) -> S::Request,
    quick: bool,
    table: &mut Vec<String>,
) where
    S::Request: Message,
{
    let mut group = c.benchmark_group(format!("encode {name}"));
    for size in SIZES {
        let mut case = Case::<S>::new(make, size);
        group.throughput(Throughput::Elements(size as u64));
        for (way, label) in WAYS {
            group.bench_function(BenchmarkId::new(label, size), |b| {
                b.iter(|| black_box(case.encode(way)))
            });
        }
        let [otlp, otlp_zstd, otap, plain] = medians(&mut case, size, if quick { 1 } else { 15 });
        table.push(format!(
            "{name} | {size} | {otlp:.0} | {otlp_zstd:.0} | {otap:.0} | {plain:.0} | {:.2} | {:.2} | {:.2}",
            otap / otlp,
            plain / otlp,
            otap / otlp_zstd
        ));
    }
    group.finish();
}

fn main() {
    let quick = std::env::args().any(|a| a == "--test");
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
        .configure_from_args();
    let mut table = Vec::new();
    signal::<Traces>(&mut c, "traces", workload::traces, quick, &mut table);
    signal::<Logs>(&mut c, "logs", workload::logs, quick, &mut table);
    signal::<Metrics>(&mut c, "metrics", metrics::metrics, quick, &mut table);
    c.final_summary();
    println!(
        "\nns per item, medians: signal | batch | otlp | otlp+zstd | otap | otap plain | otap/otlp | otap plain/otlp | otap/otlp+zstd"
    );
    println!("---|---|---|---|---|---|---|---|---");
    for row in table {
        println!("{row}");
    }
}
