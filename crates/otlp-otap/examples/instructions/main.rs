//! Encodes (or decodes) batches of the `sizes` example's workload, for counting the
//! instructions an item costs (`scripts/instructions.sh` runs it under cachegrind): a count
//! that, unlike time, does not move with what else the machine runs.
//!
//! `instructions SIGNAL SIZE WAY N`: SIGNAL `traces`, `logs` or `metrics`; SIZE items a batch;
//! WAY `otlp` (protobuf), `otlp+zstd` (then zstd over the message, as gRPC compression does),
//! `otap` (zstd IPC bodies), `plain` (no IPC compression) or `plain+zstd` (no IPC compression,
//! zstd over the message: the SDK's OTAP default where it has zstd), or, decoding,
//! `otlp-decode` (protobuf) or `decode` (our OTAP stream of the batches, zstd IPC bodies, a
//! fresh decoder every five batches); N batches after five to warm up (the encoder's stream
//! state, as in `benches/encode.rs`). Prints nothing.

#![allow(missing_docs)]

#[path = "../sizes/metrics.rs"]
mod metrics;
#[path = "../sizes/workload.rs"]
mod workload;

use otlp_otap::{Decoder, Encoder, Logs, Metrics, Signal, Traces};
use otlp_proto::{Compression, Message};
use std::hint::black_box;
use std::process::ExitCode;

fn run<S: Signal>(make: fn(usize, u64) -> S::Request, size: usize, way: &str, n: usize)
where
    S::Request: Message,
{
    let requests: Vec<_> = (0..5).map(|r| make(size, r)).collect();
    if way.ends_with("decode") {
        decode::<S>(&requests, way, n);
        return;
    }
    let mut encoder: Encoder<S> = match way {
        "plain" | "plain+zstd" => Encoder::new().with_zstd_level(None),
        _ => Encoder::new(),
    };
    let mut compressed = Vec::new();
    for request in requests.iter().cycle().take(5 + n) {
        let message = if way.starts_with("otlp") {
            request.encode_to_bytes()
        } else {
            match encoder.encode(request) {
                Ok(batch) => batch.encode_to_bytes_with_capacity(batch.encoded_len_bound()),
                Err(e) => panic!("otap encode: {e}"),
            }
        };
        if way.ends_with("+zstd") {
            compressed.clear();
            if let Err(e) = Compression::Zstd.compress(&message, &mut compressed) {
                panic!("zstd: {e}");
            }
            black_box(&compressed);
        }
        black_box(message);
    }
}

/// Decodes `5 + n` batches of `requests`: as protobuf (`otlp-decode`), or (`decode`) from our
/// encoder's stream of them, zstd IPC bodies, a fresh decoder every five batches (a stream's
/// batches depend on the ones before).
fn decode<S: Signal>(requests: &[S::Request], way: &str, n: usize)
where
    S::Request: Message,
{
    if way == "otlp-decode" {
        let bytes: Vec<_> = requests.iter().map(Message::encode_to_bytes).collect();
        for b in bytes.iter().cycle().take(5 + n) {
            black_box(S::Request::decode(b).unwrap_or_else(|e| panic!("protobuf: {e}")));
        }
        return;
    }
    let mut encoder = Encoder::<S>::new();
    let stream: Vec<_> = requests
        .iter()
        .map(|r| {
            encoder
                .encode(r)
                .unwrap_or_else(|e| panic!("otap encode: {e}"))
        })
        .collect();
    let mut decoder = Decoder::<S>::new();
    for (i, batch) in stream.iter().cycle().take(5 + n).enumerate() {
        if i % stream.len() == 0 {
            decoder = Decoder::new();
        }
        black_box(
            decoder
                .decode(batch)
                .unwrap_or_else(|e| panic!("otap decode: {e}")),
        );
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let parsed = match args.as_slice() {
        [signal, size, way, n] => size.parse().ok().zip(n.parse().ok()).and_then(|(s, n)| {
            [
                "otlp",
                "otlp+zstd",
                "otap",
                "plain",
                "plain+zstd",
                "decode",
                "otlp-decode",
            ]
            .contains(&way.as_str())
            .then_some((signal.as_str(), s, way.as_str(), n))
        }),
        _ => None,
    };
    let Some((signal, size, way, n)) = parsed else {
        eprintln!(
            "usage: instructions traces|logs|metrics SIZE otlp|otlp+zstd|otap|plain|plain+zstd|decode|otlp-decode N"
        );
        return ExitCode::FAILURE;
    };
    match signal {
        "traces" => run::<Traces>(workload::traces, size, way, n),
        "logs" => run::<Logs>(workload::logs, size, way, n),
        "metrics" => run::<Metrics>(metrics::metrics, size, way, n),
        _ => {
            eprintln!("unknown signal {signal}: traces, logs or metrics");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
