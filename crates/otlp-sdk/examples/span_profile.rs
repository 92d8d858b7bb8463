//! A harness for profiling the span path alone (our SDK only, no incumbent): the same span as
//! `benches/spans.rs`, exported over loopback gRPC to the counting receiver of
//! `crates/bench-support`, with the knobs the benchmark keeps fixed. Run it under `perf record`
//! or `valgrind --tool=callgrind` to see where a span's time goes.
//!
//! ```sh
//! cargo run --release -p otlp-sdk --example span_profile -- burst   # app-thread time per span
//! cargo run --release -p otlp-sdk --example span_profile -- e2e     # end-to-end throughput
//! cargo run --release -p otlp-sdk --example span_profile -- off     # not sampled (AlwaysOff)
//! ```
//!
//! Environment: `BURST` (spans per timed burst, default 50,000), `ROUNDS` (default 40),
//! `CONCURRENCY` (`max_concurrent_exports`, default 1), `BATCH` (`max_batch_size`, default
//! 1,024). `burst` prints the median wall time and on-CPU time of the producing thread per span;
//! `e2e` the delivered spans per second and the process's CPU time per span.

#![allow(clippy::print_stdout)]

use bench_support::{Receiver, median, our_client_with, our_span as span};
use otlp::pipeline::AdaptiveBatchConfig;
use otlp::trace::Sampler;
use std::hint::black_box;
use std::time::{Duration, Instant};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_else(|| "burst".into());
    let receiver = Receiver::start();
    let sampler = if mode == "off" {
        Sampler::AlwaysOff
    } else {
        Sampler::AlwaysOn
    };
    let client = our_client_with(
        &receiver,
        sampler,
        AdaptiveBatchConfig::default()
            .with_max_queue_size(4_000_000)
            .with_max_concurrent_exports(env("CONCURRENCY", 1))
            .with_max_batch_size(env("BATCH", 1024)),
    );
    let tracer = client.tracer("svc");
    let flush = || {
        let _ = client.force_flush_blocking(Duration::from_secs(30));
    };
    match mode.as_str() {
        "off" => {
            for _ in 0..5 {
                let n = 10_000_000;
                let t = Instant::now();
                for i in 0..n {
                    span(black_box(&tracer), i);
                }
                println!("not sampled: {:.1} ns", per_span(t.elapsed(), n));
            }
        }
        "e2e" => {
            let n = 200_000;
            let mut rates = Vec::new();
            for _ in 0..7 {
                let before = receiver.count();
                let (cpu, process) = (thread_cpu(), process_cpu());
                let t = Instant::now();
                for i in 0..n {
                    span(black_box(&tracer), i);
                }
                let produced = t.elapsed();
                flush();
                let got = receiver.settle(before + n as u64) - before;
                let elapsed = t.elapsed();
                rates.push(got as f64 / elapsed.as_secs_f64() / 1e3);
                println!(
                    "produced in {produced:?}, delivered {got} in {elapsed:?}: {:.0} k/s; \
                     CPU per span: producer {:.0} ns, process {:.0} ns",
                    rates[rates.len() - 1],
                    per_span(thread_cpu() - cpu, n),
                    per_span(process_cpu() - process, n),
                );
            }
            println!("median {:.0} k spans/s", median(&mut rates));
        }
        _ => {
            let burst = env("BURST", 50_000) as i64;
            let (mut wall, mut cpu) = (Vec::new(), Vec::new());
            for _ in 0..env("ROUNDS", 40) {
                let c = thread_cpu();
                let t = Instant::now();
                for i in 0..burst {
                    span(black_box(&tracer), i);
                }
                wall.push(per_span(t.elapsed(), burst));
                cpu.push(per_span(thread_cpu() - c, burst));
                flush();
            }
            println!(
                "sampled, bursts of {burst}: median {:.1} ns per span (on CPU {:.1} ns)",
                median(&mut wall),
                median(&mut cpu)
            );
        }
    }
    let _ = client.shutdown_blocking(Duration::from_secs(10));
}

fn per_span(d: Duration, n: i64) -> f64 {
    d.as_secs_f64() * 1e9 / n as f64
}

#[allow(unsafe_code)]
fn cpu_clock(clock: libc::clockid_t) -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// CPU time of the calling thread.
fn thread_cpu() -> Duration {
    cpu_clock(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// CPU time of the whole process (every thread: producer, pipeline, exporter, receiver).
fn process_cpu() -> Duration {
    cpu_clock(libc::CLOCK_PROCESS_CPUTIME_ID)
}
