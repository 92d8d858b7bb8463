//! 64-byte alloc + free: the system allocator against `SamplingAllocator`, sampling off and
//! sampling on at 512 KiB. Prints the per-pair ratio and nanosecond difference (the target is
//! a fast path at most 10 ns over the system allocator). Run:
//! `RUSTFLAGS="-C force-frame-pointers=yes" cargo bench -p otlp-profiler --bench heap`.

#![allow(clippy::print_stdout)]

use criterion::{Criterion, criterion_group};
use otlp_profiler::SamplingAllocator;
use otlp_profiler::testing::Probe;
use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::time::Instant;

#[global_allocator]
static GLOBAL: SamplingAllocator = SamplingAllocator::system();

const LAYOUT: Layout = match Layout::from_size_align(64, 8) {
    Ok(layout) => layout,
    Err(_) => panic!("64/8 is a valid layout"),
};

#[allow(unsafe_code)]
fn pair<A: GlobalAlloc>(allocator: &A) {
    // SAFETY: a valid non-zero layout; the pointer is freed once, with the same layout.
    unsafe {
        let p = allocator.alloc(black_box(LAYOUT));
        black_box(p);
        if !p.is_null() {
            allocator.dealloc(p, LAYOUT);
        }
    }
}

fn benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("alloc_free_64");
    group.bench_function("system", |b| b.iter(|| pair(&System)));
    group.bench_function("sampling_off", |b| b.iter(|| pair(&GLOBAL)));
    if let Ok(session) = Probe::heap(512 * 1024) {
        group.bench_function("sampling_on_512k", |b| b.iter(|| pair(&GLOBAL)));
        session.end();
    }
    group.finish();
}

/// The median over `rounds` of the mean ns per pair in rounds of `n` pairs.
fn median_ns(rounds: usize, n: u32, mut f: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..n {
                f();
            }
            start.elapsed().as_nanos() as f64 / f64::from(n)
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn report() {
    let (rounds, n) = (31, 200_000);
    let system = median_ns(rounds, n, || pair(&System));
    let off = median_ns(rounds, n, || pair(&GLOBAL));
    let on = match Probe::heap(512 * 1024) {
        Ok(session) => {
            let on = median_ns(rounds, n, || pair(&GLOBAL));
            session.end();
            Some(on)
        }
        Err(e) => {
            println!("sampling could not start: {e}");
            None
        }
    };
    println!("64-byte alloc+free, median of {rounds} x {n}:");
    println!("  system              {system:8.2} ns");
    println!(
        "  sampling off        {off:8.2} ns  ratio {:.2}  {:+.2} ns",
        off / system,
        off - system
    );
    if let Some(on) = on {
        println!(
            "  sampling on, 512KiB {on:8.2} ns  ratio {:.2}  {:+.2} ns",
            on / system,
            on - system
        );
    }
}

criterion_group!(heap, benches);

fn main() {
    heap();
    report();
    Criterion::default().configure_from_args().final_summary();
}
