//! Decodes the codec benchmark's 512-span request in a loop, for profilers (`perf`, `callgrind`).
//!
//! ```sh
//! cargo run --release -p otlp-proto --example decode_profile -- both 2000  # ours and prost
//! cargo run --release -p otlp-proto --example decode_profile -- ours 2000  # or `prost` alone
//! cargo run --release -p otlp-proto --example decode_profile -- limits 2000  # with and without
//! valgrind --tool=callgrind --toggle-collect='*decode_ours*' \
//!     target/release/examples/decode_profile ours 20
//! ```
//!
//! Ours decodes within the benchmark's limits, as a server does; each iteration drops the
//! decoded request, as the benchmark does. Whether freed memory goes back to the kernel (and
//! faults in again on the next decode) depends on the heap's state, differently here and in
//! the benchmark; `GLIBC_TUNABLES=glibc.malloc.trim_threshold=1000000000` rules it out.

#![allow(clippy::print_stdout)]

#[path = "../tests/support/fixtures.rs"]
mod fixtures;

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest as Theirs;
use otlp_proto::collector::ExportTraceServiceRequest as Ours;
use otlp_proto::{DecodeLimits, Message};
use prost::Message as _;
use std::hint::black_box;
use std::time::Instant;

/// One decode and drop (`valgrind --tool=callgrind --toggle-collect='*decode_ours*'`).
#[inline(never)]
fn decode_ours(wire: &Bytes, limits: &DecodeLimits) {
    drop(black_box(Ours::decode_with(wire, limits).expect("decodes")));
}

/// The same without limits (`Message::decode`), to see what counting them costs.
#[inline(never)]
fn decode_unlimited(wire: &Bytes) {
    drop(black_box(Ours::decode(wire).expect("decodes")));
}

#[inline(never)]
fn decode_prost(wire: &Bytes) {
    drop(black_box(Theirs::decode(&wire[..]).expect("decodes")));
}

fn main() {
    let mut args = std::env::args().skip(1);
    let who = args.next().unwrap_or_else(|| "both".into());
    let n: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(2000);
    // What the benchmark keeps alive beside the decoder (the heap's state decides whether freed
    // memory goes back to the kernel, to fault in again on the next decode).
    let theirs = fixtures::trace_request(512);
    let wire = Bytes::from(theirs.encode_to_vec());
    let ours = Ours::decode(&wire).expect("decodes");
    let json = Bytes::from(ours.to_json());
    let limits = DecodeLimits::unlimited()
        .with_max_items(100_000)
        .with_max_decoded_bytes(64 << 20);
    let time = |f: &mut dyn FnMut(), n: u32| {
        let start = Instant::now();
        for _ in 0..n {
            f();
        }
        start.elapsed().as_secs_f64() / f64::from(n) * 1e6
    };
    let mut ours_op = || decode_ours(&wire, &limits);
    let mut prost_op = || decode_prost(&wire);
    let mut unlimited_op = || decode_unlimited(&wire);
    match who.as_str() {
        "ours" => println!("ours: {:.1} us per decode", time(&mut ours_op, n)),
        "unlimited" => println!("unlimited: {:.1} us per decode", time(&mut unlimited_op, n)),
        "limits" => {
            // Interleaved rounds of 20 decodes each: with limits, without.
            let (mut a, mut b) = (Vec::new(), Vec::new());
            for _ in 0..n / 20 {
                a.push(time(&mut ours_op, 20));
                b.push(time(&mut unlimited_op, 20));
            }
            a.sort_by(f64::total_cmp);
            b.sort_by(f64::total_cmp);
            let (a, b) = (a[a.len() / 2], b[b.len() / 2]);
            println!("limited {a:.1} us, unlimited {b:.1} us");
        }
        "prost" => println!("prost: {:.1} us per decode", time(&mut prost_op, n)),
        _ => {
            // Interleaved rounds of 20 decodes each, as the benchmark's ratio table runs them.
            let (mut a, mut b) = (Vec::new(), Vec::new());
            for _ in 0..n / 20 {
                a.push(time(&mut ours_op, 20));
                b.push(time(&mut prost_op, 20));
            }
            a.sort_by(f64::total_cmp);
            b.sort_by(f64::total_cmp);
            let (a, b) = (a[a.len() / 2], b[b.len() / 2]);
            println!("ours {a:.1} us, prost {b:.1} us: {:.2}x", b / a);
        }
    }
    black_box((theirs, ours, json));
}
