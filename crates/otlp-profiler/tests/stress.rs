//! The samplers under load: 16 threads allocating, locking, spawning and ending threads while
//! the CPU sampler runs at 1 kHz with the off-CPU and thread samplers; no crash, no deadlock,
//! every frame inside an executable mapping. `OTLP_PROFILER_STRESS_SECS` sets the duration
//! (default 10 s).
#![cfg(all(target_os = "linux", target_arch = "x86_64"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use otlp_profiler::testing::{self, Probe, Sample};
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// One set of samplers at a time.
static TURN: Mutex<()> = Mutex::new(());

fn seconds() -> u64 {
    std::env::var("OTLP_PROFILER_STRESS_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10)
}

#[inline(never)]
fn churn(shared: &Mutex<Vec<u64>>, stop: &AtomicBool, seed: u64) -> u64 {
    let mut x = seed;
    let mut rounds = 0u64;
    while !stop.load(Ordering::Relaxed) {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let v: Vec<u64> = (0..(x >> 54) + 1).collect();
        {
            let mut g = shared.lock().unwrap();
            g.push(black_box(v.iter().fold(0, |a, b| a ^ b)));
            if g.len() > 1000 {
                g.clear();
            }
        }
        if rounds.is_multiple_of(64) {
            std::thread::spawn(move || {
                black_box((0..10_000u64).fold(x, |a, i| a.rotate_left(5) ^ i))
            })
            .join()
            .unwrap();
        }
        if rounds.is_multiple_of(256) {
            std::thread::sleep(Duration::from_micros(200));
        }
        rounds += 1;
    }
    rounds
}

fn in_executable(frames: &[u64], regions: &[(u64, u64)]) -> bool {
    frames.iter().enumerate().all(|(i, &a)| {
        let a = if i == 0 { a } else { a.wrapping_sub(1) };
        regions.iter().any(|&(s, e)| s <= a && a < e)
    })
}

#[test]
fn sixteen_busy_threads_under_every_sampler() {
    let _turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let mut cpu = Probe::cpu(1000).unwrap();
    let mut block = Probe::block(100).unwrap();
    let mut threads = Probe::threads(10).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let shared = Arc::new(Mutex::new(Vec::new()));
    let (done_tx, done_rx) = mpsc::channel();
    for i in 0..16 {
        let (stop, shared, done) = (stop.clone(), shared.clone(), done_tx.clone());
        std::thread::spawn(move || {
            let rounds = churn(&shared, &stop, i);
            done.send(rounds).unwrap();
        });
    }
    let secs = seconds();
    let mut samples: Vec<Sample> = Vec::new();
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        std::thread::sleep(Duration::from_millis(250));
        samples.extend(cpu.drain());
        samples.extend(block.drain());
        samples.extend(threads.drain());
    }
    stop.store(true, Ordering::Relaxed);
    let deadline = Instant::now() + Duration::from_secs(60);
    for _ in 0..16 {
        let left = deadline.saturating_duration_since(Instant::now());
        done_rx.recv_timeout(left).expect("a worker deadlocked");
    }
    cpu.stop();
    block.stop();
    threads.stop();
    samples.extend(cpu.drain());
    samples.extend(block.drain());
    samples.extend(threads.drain());
    let regions = testing::executable_regions();
    assert!(samples.len() > 1000, "{} samples", samples.len());
    let outside: Vec<_> = samples
        .iter()
        .filter(|s| !in_executable(&s.frames, &regions))
        .collect();
    assert!(
        outside.is_empty(),
        "{} of {} stacks have a frame outside executable mappings, e.g. {:x?}",
        outside.len(),
        samples.len(),
        outside.first().map(|s| &s.frames)
    );
    assert!(samples.iter().any(|s| s.thread_state == Some("sleeping")));
    assert!(samples.iter().any(|s| s.thread_state == Some("running")));
}
