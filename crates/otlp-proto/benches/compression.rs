//! zstd request bodies, compressed and decompressed: ours (`Compression::compress` and
//! `decompress`, a context per thread, the frame declaring its size) against the way the
//! incumbent's transport does it (tonic 0.14's zstd codec: a new `zstd::stream::read::Encoder`
//! or `Decoder` per message, copied through), in the same run, on trace requests of 10, 100 and
//! 1,000 spans (the codec bench's realistic spans).
//!
//! `cargo bench -p otlp-proto --bench compression` runs the criterion groups, then prints the
//! medians of interleaved rounds and the ratio of the incumbent's way's time to ours (above
//! 1.0: ours is faster).

#![allow(clippy::print_stdout, missing_docs)]

#[path = "../tests/support/fixtures.rs"]
mod fixtures;

use criterion::{BenchmarkId, Criterion, Throughput};
use otlp_proto::Compression;
use prost::Message as _;
use std::hint::black_box;
use std::io::Read;
use std::time::{Duration, Instant};

const SPANS: [usize; 3] = [10, 100, 1_000];
/// The level tonic uses (`zstd::DEFAULT_COMPRESSION_LEVEL`) and ours.
const LEVEL: i32 = 3;

/// tonic's zstd compression of one message: a fresh reading encoder, copied into `out`.
fn theirs_compress(body: &[u8], out: &mut Vec<u8>) {
    let mut encoder = match zstd::stream::read::Encoder::new(body, LEVEL) {
        Ok(e) => e,
        Err(e) => panic!("zstd: {e}"),
    };
    if let Err(e) = std::io::copy(&mut encoder, out) {
        panic!("zstd: {e}");
    }
}

/// tonic's zstd decompression of one message: a fresh reading decoder, copied into `out`.
fn theirs_decompress(body: &[u8], out: &mut Vec<u8>) {
    let mut decoder = match zstd::stream::read::Decoder::new(body) {
        Ok(d) => d,
        Err(e) => panic!("zstd: {e}"),
    };
    if let Err(e) = decoder.read_to_end(out) {
        panic!("zstd: {e}");
    }
}

fn ours_compress(body: &[u8], out: &mut Vec<u8>) {
    if let Err(e) = Compression::Zstd.compress(body, out) {
        panic!("zstd: {e}");
    }
}

fn ours_decompress(body: &[u8], out: &mut Vec<u8>) {
    match Compression::Zstd.decompress(body, 64 << 20) {
        Ok(bytes) => *out = bytes,
        Err(e) => panic!("zstd: {e}"),
    }
}

type Way = (&'static str, &'static str, fn(&[u8], &mut Vec<u8>));

const WAYS: [Way; 4] = [
    ("compress", "ours", ours_compress),
    ("compress", "tonic", theirs_compress),
    ("decompress", "ours", ours_decompress),
    ("decompress", "tonic", theirs_decompress),
];

fn main() {
    let quick = std::env::args().any(|a| a == "--test");
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
        .configure_from_args();
    let mut table = Vec::new();
    for spans in SPANS {
        let body = fixtures::trace_request(spans).encode_to_vec();
        let mut compressed = Vec::new();
        ours_compress(&body, &mut compressed);
        let mut group = c.benchmark_group(format!("zstd {spans} spans"));
        group.throughput(Throughput::Bytes(body.len() as u64));
        let input = |op: &str| if op == "compress" { &body } else { &compressed };
        for (op, who, f) in WAYS {
            let mut out = Vec::new();
            group.bench_function(BenchmarkId::new(op, who), |b| {
                b.iter(|| {
                    out.clear();
                    f(black_box(input(op)), &mut out);
                    black_box(out.len())
                })
            });
        }
        group.finish();
        // Interleaved rounds, medians (microseconds a body).
        let rounds = if quick { 1 } else { 21 };
        let calls = (2_000 / spans).max(4);
        let mut samples: [Vec<f64>; 4] = Default::default();
        let mut out = Vec::new();
        for _ in 0..rounds {
            for (i, (op, _, f)) in WAYS.iter().enumerate() {
                let start = Instant::now();
                for _ in 0..calls {
                    out.clear();
                    f(black_box(input(op)), &mut out);
                }
                samples[i].push(start.elapsed().as_secs_f64() * 1e6 / calls as f64);
            }
        }
        let [c_ours, c_theirs, d_ours, d_theirs] = samples.map(|mut s| {
            s.sort_by(f64::total_cmp);
            s[s.len() / 2]
        });
        table.push(format!(
            "{spans} | {} | {} | {c_ours:.1} | {c_theirs:.1} | {:.2} | {d_ours:.1} | {d_theirs:.1} | {:.2}",
            body.len(),
            compressed.len(),
            c_theirs / c_ours,
            d_theirs / d_ours,
        ));
    }
    c.final_summary();
    println!(
        "\nus a body, medians: spans | body bytes | zstd bytes | compress ours | tonic | tonic/ours | decompress ours | tonic | tonic/ours"
    );
    println!("---|---|---|---|---|---|---|---|---");
    for row in table {
        println!("{row}");
    }
}
