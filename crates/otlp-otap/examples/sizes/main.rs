//! Bytes on the wire, OTAP against OTLP/protobuf + zstd, on the same realistic data (the
//! `workload` and `metrics` modules): traces, logs and metrics at 100, 1,000 and 5,000 items
//! (spans, log records, data points) a batch. The encode benchmark (`benches/encode.rs`) uses
//! the same batches.
//!
//! Each OTAP stream sends five batches of a size: the first carries schemas and the first
//! dictionaries, the later ones ("steady", their mean) mostly records. OTAP is measured three
//! ways: zstd IPC bodies (the encoder's default), plain IPC under gRPC zstd, and both. OTLP is
//! the same batches as protobuf under zstd level 3, what `otlp-proto`'s gRPC compression uses.
//! The ratio is OTLP+zstd bytes over OTAP bytes (above 1: OTAP is smaller). Then, per table,
//! the steady bytes of each payload at batch 1,000.
//!
//! `cargo run -p otlp-otap --example sizes` (sizes do not depend on the profile). With
//! `OTAP_SIZES_DUMP=DIR` it also writes every batch to DIR: the OTLP requests
//! (`traces-1000-0.pb`, ...) and our two OTAP streams of them (`ours-zstd-...`,
//! `ours-plain-...`, `BatchArrowRecords` protobuf), which `scripts/otap-reference.sh` hands to
//! otel-arrow's Go implementation.

// The tables are the output.
#![allow(clippy::print_stdout)]

mod metrics;
mod workload;

use otlp_otap::{BatchArrowRecords, Encoder, Logs, Metrics, Signal, Traces};
use otlp_proto::{Compression, Message};
use std::collections::BTreeMap;

const SIZES: [usize; 3] = [100, 1_000, 5_000];
const BATCHES: u64 = 5;

fn zstd(bytes: &[u8]) -> usize {
    let mut out = Vec::new();
    Compression::Zstd
        .compress(bytes, &mut out)
        .map_or(bytes.len(), |()| out.len())
}

/// The batches of one stream of `size`-item requests, with IPC zstd at `level`.
fn stream<S: Signal>(
    make: fn(usize, u64) -> S::Request,
    size: usize,
    level: Option<i32>,
) -> Vec<BatchArrowRecords> {
    let mut encoder = Encoder::<S>::new().with_zstd_level(level);
    (0..BATCHES)
        .filter_map(|round| match encoder.encode(&make(size, round)) {
            Ok(b) => Some(b),
            Err(e) => {
                eprintln!("encode: {e}");
                None
            }
        })
        .collect()
}

/// The first batch's size and the mean of the others.
fn first_and_steady(sizes: impl Iterator<Item = usize>) -> (usize, usize) {
    let sizes: Vec<usize> = sizes.collect();
    let rest = &sizes[1.min(sizes.len())..];
    let first = sizes.first().copied().unwrap_or(0);
    (first, rest.iter().sum::<usize>() / rest.len().max(1))
}

/// Writes `bytes` to `dir/file` for `OTAP_SIZES_DUMP`, saying so if it cannot.
fn write(dir: &std::path::Path, file: String, bytes: &[u8]) {
    let path = dir.join(file);
    if let Err(e) = std::fs::write(&path, bytes) {
        eprintln!("{}: {e}", path.display());
    }
}

fn ratio(otlp: usize, otap: usize) -> f64 {
    otlp as f64 / otap.max(1) as f64
}

fn signal<S: Signal>(name: &str, make: fn(usize, u64) -> S::Request)
where
    S::Request: Message,
{
    println!(
        "\n{name}: batch | OTLP+zstd (steady) | OTAP IPC zstd | ratio | OTAP plain IPC + gRPC zstd | ratio | OTAP IPC zstd + gRPC zstd | ratio"
    );
    println!("---|---|---|---|---|---|---|---");
    let mut per_table = BTreeMap::new();
    let dump = std::env::var_os("OTAP_SIZES_DUMP").map(std::path::PathBuf::from);
    for size in SIZES {
        if let Some(dir) = &dump {
            for round in 0..BATCHES {
                let request = make(size, round).encode_to_bytes();
                write(dir, format!("{name}-{size}-{round}.pb"), &request);
            }
        }
        let (_, otlp) =
            first_and_steady((0..BATCHES).map(|r| zstd(&make(size, r).encode_to_bytes())));
        let zstd_ipc = stream::<S>(make, size, Some(3));
        let plain_ipc = stream::<S>(make, size, None);
        let wire = |b: &BatchArrowRecords| b.encode_to_bytes().len();
        let (a_first, a) = first_and_steady(zstd_ipc.iter().map(wire));
        let (b_first, b) = first_and_steady(plain_ipc.iter().map(|b| zstd(&b.encode_to_bytes())));
        let (c_first, c) = first_and_steady(zstd_ipc.iter().map(|b| zstd(&b.encode_to_bytes())));
        if let Some(dir) = &dump {
            for (way, stream) in [("zstd", &zstd_ipc), ("plain", &plain_ipc)] {
                for (round, batch) in stream.iter().enumerate() {
                    let file = format!("ours-{way}-{name}-{size}-{round}.bar");
                    write(dir, file, &batch.encode_to_bytes());
                }
            }
        }
        println!(
            "{size} | {otlp} | {a_first} / {a} | {:.2} | {b_first} / {b} | {:.2} | {c_first} / {c} | {:.2}",
            ratio(otlp, a),
            ratio(otlp, b),
            ratio(otlp, c)
        );
        if size == 1_000 {
            for batch in &zstd_ipc[1..] {
                for p in &batch.arrow_payloads {
                    let name = p.payload_type().map_or("?", |t| t.as_str_name());
                    *per_table.entry(name).or_insert(0) += p.record.len();
                }
            }
        }
    }
    println!("\n{name} at 1,000, steady, IPC zstd: payload | bytes");
    println!("---|---");
    for (table, bytes) in per_table {
        println!("{table} | {}", bytes / (BATCHES as usize - 1));
    }
}

fn main() {
    signal::<Traces>("traces", workload::traces);
    signal::<Logs>("logs", workload::logs);
    signal::<Metrics>("metrics", metrics::metrics);
}
