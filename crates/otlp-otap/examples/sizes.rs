//! Bytes on the wire, OTAP against OTLP: batches of the sample's spans (fresh ids and times per
//! copy), each batch the third of its stream (schemas and most dictionaries already sent), OTAP
//! with and without IPC body compression, each also under gRPC-level zstd. The data is
//! synthetic and very repetitive (copies of three spans): a smoke check of sizes, not the
//! benchmark of the issue.
//!
//! `cargo run -p otlp-otap --example sizes` (sizes do not depend on the profile; a release
//! build would also build the crate's heavy dev-dependency, otel-arrow-dfe-pdata, in release)

// The table is the output.
#![allow(clippy::print_stdout)]

use otlp_otap::TracesEncoder;
use otlp_proto::collector::ExportTraceServiceRequest;
use otlp_proto::{Compression, Message};

/// `spans` spans: copies of the sample's, each copy its own trace, a millisecond later.
fn batch(spans: usize, round: u64) -> ExportTraceServiceRequest {
    let sample = otlp_proto::sample::traces();
    let mut request = sample.clone();
    let template: Vec<_> = sample.resource_spans[0].scope_spans[0].spans.clone();
    let out = &mut request.resource_spans[0].scope_spans[0].spans;
    out.clear();
    for i in 0..spans {
        let mut s = template[i % template.len()].clone();
        let copy = (round * 1_000_000 + (i / template.len()) as u64).to_le_bytes();
        let mut trace_id = s.trace_id.to_vec();
        trace_id[..8].copy_from_slice(&copy);
        s.trace_id = trace_id.into();
        let mut span_id = s.span_id.to_vec();
        span_id[..4].copy_from_slice(&copy[..4]);
        s.span_id = span_id.into();
        let shift = (i as u64) * 1_000_000;
        s.start_time_unix_nano += shift;
        s.end_time_unix_nano += shift;
        out.push(s);
    }
    request
}

fn zstd(bytes: &[u8]) -> usize {
    let mut out = Vec::new();
    Compression::Zstd
        .compress(bytes, &mut out)
        .map_or(bytes.len(), |()| out.len())
}

/// The third batch of a stream of `spans`-span batches: its OTAP bytes.
fn otap(spans: usize, ipc_zstd: Option<i32>) -> Vec<u8> {
    let mut encoder = TracesEncoder::new().with_zstd_level(ipc_zstd);
    let mut last = Vec::new();
    for round in 0..3 {
        match encoder.encode(&batch(spans, round)) {
            Ok(b) => last = b.encode_to_bytes().to_vec(),
            Err(e) => eprintln!("encode: {e}"),
        }
    }
    last
}

fn main() {
    println!(
        "spans | OTLP | OTLP+zstd | OTAP (IPC zstd) | + gRPC zstd | OTAP (plain IPC) + gRPC zstd"
    );
    for spans in [100, 1_000, 5_000] {
        let otlp = batch(spans, 2).encode_to_bytes();
        let compressed = otap(spans, Some(3));
        let plain = otap(spans, None);
        println!(
            "{spans} | {} | {} | {} | {} | {}",
            otlp.len(),
            zstd(&otlp),
            compressed.len(),
            zstd(&compressed),
            zstd(&plain)
        );
    }
}
