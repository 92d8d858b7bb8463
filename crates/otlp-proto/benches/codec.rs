//! Codec throughput on a realistic 512-span request (10 attributes, 2 events, 1 link per span),
//! ours against prost (`opentelemetry-proto`) and its serde JSON mapping, in the same run.
//!
//! `cargo bench -p otlp-proto --bench codec` runs the criterion groups, then prints the ratio of
//! the incumbent's time to ours for each operation (above 1.0 means we are faster). Ours
//! decodes within [`DecodeLimits`], as a server does; both sides' decode times include dropping
//! the decoded request.

#![allow(clippy::print_stdout)]

#[path = "../tests/support/fixtures.rs"]
mod fixtures;

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest as Theirs;
use otlp_proto::collector::ExportTraceServiceRequest as Ours;
use otlp_proto::json::JsonWriter;
use otlp_proto::{DecodeLimits, Message, RevBuf};
use prost::Message as _;
use std::hint::black_box;
use std::time::{Duration, Instant};

const SPANS: usize = 512;

/// What a server decodes with (the receiver's kind of limits): our protobuf and JSON decode
/// figures are for the limited path, the one that input from anyone takes.
const LIMITS: DecodeLimits = DecodeLimits::unlimited()
    .with_max_items(100_000)
    .with_max_decoded_bytes(64 << 20);

struct Inputs {
    theirs: Theirs,
    ours: Ours,
    wire: Bytes,
    json: Bytes,
}

fn inputs() -> Inputs {
    let theirs = fixtures::trace_request(SPANS);
    let wire = Bytes::from(theirs.encode_to_vec());
    let ours = Ours::decode(&wire).expect("decodes");
    let json = Bytes::from(ours.to_json());
    Inputs {
        theirs,
        ours,
        wire,
        json,
    }
}

/// (operation, implementation, one call).
type Op<'a> = (&'static str, &'static str, Box<dyn FnMut() + 'a>);

/// The eight operations, each as a closure run once per call.
fn ops(i: &Inputs) -> Vec<Op<'_>> {
    let mut rev = RevBuf::with_capacity(i.wire.len());
    let mut vec = Vec::with_capacity(i.wire.len());
    let mut json_ours = Vec::with_capacity(i.json.len());
    let mut json_theirs = Vec::with_capacity(i.json.len());
    vec![
        (
            "protobuf_encode",
            "ours",
            Box::new(move || {
                rev.clear();
                i.ours.encode(&mut rev);
                black_box(rev.len());
            }),
        ),
        (
            "protobuf_encode",
            "prost",
            Box::new(move || {
                vec.clear();
                i.theirs.encode(&mut vec).expect("capacity");
                black_box(vec.len());
            }),
        ),
        (
            "protobuf_decode",
            "ours",
            Box::new(move || {
                black_box(Ours::decode_with(&i.wire, &LIMITS).expect("decodes"));
            }),
        ),
        (
            "protobuf_decode",
            "prost",
            Box::new(move || {
                black_box(Theirs::decode(&i.wire[..]).expect("decodes"));
            }),
        ),
        (
            "json_encode",
            "ours",
            Box::new(move || {
                let mut w = JsonWriter::with_buffer(std::mem::take(&mut json_ours));
                i.ours.write_json(&mut w);
                json_ours = w.into_inner();
                black_box(json_ours.len());
            }),
        ),
        (
            "json_encode",
            "serde",
            Box::new(move || {
                json_theirs.clear();
                serde_json::to_writer(&mut json_theirs, &i.theirs).expect("serializes");
                black_box(json_theirs.len());
            }),
        ),
        (
            "json_decode",
            "ours",
            Box::new(move || {
                black_box(Ours::from_json_with(&i.json, &LIMITS).expect("decodes"));
            }),
        ),
        (
            "json_decode",
            "serde",
            Box::new(move || {
                black_box(serde_json::from_slice::<Theirs>(&i.json).expect("decodes"));
            }),
        ),
    ]
}

fn criterion_groups(c: &mut Criterion, i: &Inputs) {
    let mut ops = ops(i);
    for chunk in ops.chunks_mut(2) {
        let name = chunk[0].0;
        let bytes = if name.starts_with("json") {
            i.json.len()
        } else {
            i.wire.len()
        };
        let mut group = c.benchmark_group(name);
        group.throughput(Throughput::Bytes(bytes as u64));
        for (_, who, f) in chunk.iter_mut() {
            group.bench_function(BenchmarkId::from_parameter(*who), |b| b.iter(&mut *f));
        }
        group.finish();
    }
}

/// Median time per call over interleaved rounds, so both sides see the same machine noise.
fn ratios(i: &Inputs) {
    let mut ops = ops(i);
    let rounds = 15;
    let per_round = Duration::from_millis(40);
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); ops.len()];
    for _ in 0..rounds {
        for (k, (_, _, f)) in ops.iter_mut().enumerate() {
            let start = Instant::now();
            let mut n = 0u32;
            while start.elapsed() < per_round {
                f();
                n += 1;
            }
            samples[k].push(start.elapsed().as_secs_f64() / f64::from(n));
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    println!(
        "\n{SPANS}-span request: protobuf {} bytes, JSON {} bytes",
        i.wire.len(),
        i.json.len()
    );
    println!(
        "{:<16} {:>12} {:>12} {:>8}",
        "operation", "ours", "incumbent", "ratio"
    );
    for k in (0..ops.len()).step_by(2) {
        let ours = median(&mut samples[k]);
        let theirs = median(&mut samples[k + 1]);
        println!(
            "{:<16} {:>9.1} us {:>9.1} us {:>7.2}x  ({})",
            ops[k].0,
            ours * 1e6,
            theirs * 1e6,
            theirs / ours,
            ops[k + 1].1
        );
    }
}

fn main() {
    let i = inputs();
    let mut c = Criterion::default().configure_from_args();
    criterion_groups(&mut c, &i);
    c.final_summary();
    // `cargo test --benches` runs each benchmark once as a smoke test; skip the timing there.
    if !std::env::args().any(|a| a == "--test") {
        ratios(&i);
    }
}
