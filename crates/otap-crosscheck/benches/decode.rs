//! Decode CPU per item: our OTAP decoder (`otlp-otap`, what `otlp-receiver` runs for OTAP
//! streams) against otel-arrow's own Rust decoder (`otel-arrow-dfe-pdata`'s `Consumer`), on
//! the same streams: `otlp-otap`'s `sizes` workload (traces, logs and metrics at 100, 1,000
//! and 5,000 items a batch), five batches a stream, encoded by our encoder with zstd IPC
//! bodies. Both decode a batch into OTLP messages (ours into `otlp-proto`'s request, theirs
//! into prost's); the wire message is decoded beforehand for both. For scale, the same
//! requests' OTLP protobuf decode (`Message::decode`, what the receiver runs for OTLP).
//!
//! A stream's batches depend on the ones before (schemas, delta dictionaries), so each round
//! gives both decoders a fresh stream: the first batch untimed, then the four others timed.
//! `cargo bench -p otap-crosscheck --bench decode` runs criterion's measurements (a whole
//! stream an iteration, first batch included), then prints per-item medians of the steady
//! batches over interleaved rounds and the ratio theirs / ours. `-- --test` runs each once.

#![allow(clippy::print_stdout, missing_docs)]

#[path = "../../otlp-otap/examples/sizes/metrics.rs"]
mod metrics;
#[path = "../../otlp-otap/examples/sizes/workload.rs"]
mod workload;

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput};
use otel_arrow_dfe_pdata::Consumer;
use otel_arrow_dfe_pdata::proto::opentelemetry::arrow::v1::BatchArrowRecords as TheirBatch;
use otlp_otap::{BatchArrowRecords, Decoder, Encoder, Logs, Metrics, Signal, Traces};
use otlp_proto::{ExportRequest, Message};
use prost::Message as _;
use std::hint::black_box;
use std::time::{Duration, Instant};

const SIZES: [usize; 3] = [100, 1_000, 5_000];
const BATCHES: u64 = 5;

/// otel-arrow's decode of one batch of a signal, to a prost OTLP message (dropped after a
/// `black_box`, as ours is).
type Theirs = fn(&mut Consumer, &mut TheirBatch);

fn theirs_traces(c: &mut Consumer, b: &mut TheirBatch) {
    match c.consume_traces_batches(b) {
        Ok(m) => drop(black_box(m)),
        Err(e) => panic!("otel-arrow refuses our traces: {e:?}"),
    }
}

fn theirs_logs(c: &mut Consumer, b: &mut TheirBatch) {
    match c.consume_logs_batches(b) {
        Ok(m) => drop(black_box(m)),
        Err(e) => panic!("otel-arrow refuses our logs: {e:?}"),
    }
}

fn theirs_metrics(c: &mut Consumer, b: &mut TheirBatch) {
    match c.consume_metrics_batches(b) {
        Ok(m) => drop(black_box(m)),
        Err(e) => panic!("otel-arrow refuses our metrics: {e:?}"),
    }
}

/// One signal at one size: the requests as protobuf, and our encoder's stream of them in
/// both message types.
struct Case {
    otlp: Vec<Bytes>,
    ours: Vec<BatchArrowRecords>,
    theirs: Vec<TheirBatch>,
    /// Items of the steady batches (all but the first).
    steady_items: usize,
}

impl Case {
    fn new<S: Signal>(make: fn(usize, u64) -> S::Request, size: usize) -> Self
    where
        S::Request: ExportRequest,
    {
        let requests: Vec<S::Request> = (0..BATCHES).map(|r| make(size, r)).collect();
        let mut encoder = Encoder::<S>::new();
        let ours: Vec<BatchArrowRecords> = requests
            .iter()
            .map(|r| encoder.encode(r).unwrap_or_else(|e| panic!("encode: {e}")))
            .collect();
        let theirs = ours
            .iter()
            .map(|b| {
                TheirBatch::decode(b.encode_to_bytes())
                    .unwrap_or_else(|e| panic!("otel-arrow's message type: {e}"))
            })
            .collect();
        Case {
            otlp: requests.iter().map(Message::encode_to_bytes).collect(),
            ours,
            theirs,
            steady_items: requests[1..].iter().map(ExportRequest::item_count).sum(),
        }
    }

    /// Ours on a fresh stream: the time of the steady batches.
    fn ours<S: Signal>(&self) -> Duration {
        let mut decoder = Decoder::<S>::new();
        let mut steady = Duration::ZERO;
        for (i, batch) in self.ours.iter().enumerate() {
            let start = Instant::now();
            black_box(
                decoder
                    .decode(batch)
                    .unwrap_or_else(|e| panic!("decode: {e}")),
            );
            if i > 0 {
                steady += start.elapsed();
            }
        }
        steady
    }

    /// Theirs on a fresh stream: the time of the steady batches (each batch a fresh copy,
    /// made untimed: their consumer takes the batch mutably).
    fn theirs(&self, decode: Theirs) -> Duration {
        let mut consumer = Consumer::default();
        let mut steady = Duration::ZERO;
        for (i, batch) in self.theirs.iter().enumerate() {
            let mut batch = batch.clone();
            let start = Instant::now();
            decode(&mut consumer, &mut batch);
            if i > 0 {
                steady += start.elapsed();
            }
        }
        steady
    }

    /// The requests' protobuf decode: the time of the same (steady) batches.
    fn otlp<S: Signal>(&self) -> Duration
    where
        S::Request: Message,
    {
        let start = Instant::now();
        for bytes in &self.otlp[1..] {
            black_box(S::Request::decode(bytes).unwrap_or_else(|e| panic!("protobuf: {e}")));
        }
        start.elapsed()
    }
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn signal<S: Signal>(
    c: &mut Criterion,
    name: &str,
    make: fn(usize, u64) -> S::Request,
    decode: Theirs,
    rounds: usize,
    table: &mut Vec<String>,
) where
    S::Request: ExportRequest,
{
    let mut group = c.benchmark_group(format!("decode {name}"));
    for size in SIZES {
        let case = Case::new::<S>(make, size);
        group.throughput(Throughput::Elements(case.steady_items as u64));
        group.bench_function(BenchmarkId::new("ours", size), |b| {
            b.iter(|| case.ours::<S>())
        });
        group.bench_function(BenchmarkId::new("otel-arrow", size), |b| {
            b.iter(|| case.theirs(decode))
        });
        group.bench_function(BenchmarkId::new("otlp protobuf", size), |b| {
            b.iter(|| case.otlp::<S>())
        });
        // Enough streams a round for a few milliseconds of work at every size.
        let streams = (20_000 / size).max(1);
        let per_item = |d: Duration| d.as_secs_f64() * 1e9 / (streams * case.steady_items) as f64;
        let (mut ours, mut theirs, mut otlp) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..rounds {
            ours.push(per_item((0..streams).map(|_| case.ours::<S>()).sum()));
            theirs.push(per_item((0..streams).map(|_| case.theirs(decode)).sum()));
            otlp.push(per_item((0..streams).map(|_| case.otlp::<S>()).sum()));
        }
        let (ours, theirs, otlp) = (median(ours), median(theirs), median(otlp));
        table.push(format!(
            "{name} | {size} | {ours:.0} | {theirs:.0} | {:.2} | {otlp:.0} | {:.2}",
            theirs / ours,
            ours / otlp
        ));
    }
    group.finish();
}

fn main() {
    let quick = std::env::args().any(|a| a == "--test");
    let rounds = if quick { 1 } else { 15 };
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
        .configure_from_args();
    let mut table = Vec::new();
    signal::<Traces>(
        &mut c,
        "traces",
        workload::traces,
        theirs_traces,
        rounds,
        &mut table,
    );
    signal::<Logs>(
        &mut c,
        "logs",
        workload::logs,
        theirs_logs,
        rounds,
        &mut table,
    );
    signal::<Metrics>(
        &mut c,
        "metrics",
        metrics::metrics,
        theirs_metrics,
        rounds,
        &mut table,
    );
    c.final_summary();
    println!(
        "\nns per item, steady batches, medians: signal | batch | ours | otel-arrow (Rust) | otel-arrow / ours | OTLP protobuf decode | ours / protobuf"
    );
    println!("---|---|---|---|---|---|---");
    for row in table {
        println!("{row}");
    }
}
