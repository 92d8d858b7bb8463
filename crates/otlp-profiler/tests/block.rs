//! The off-CPU (block) sampler: a thread sleeping in a known function shows there, with the
//! sampler's period as each sample's value.
//!
//! Alone in its test binary: run in one process right after `stress.rs`'s sixteen threads
//! under every sampler, the sleeper here was sometimes sampled once or three times instead of
//! about sixty (the other threads normally); see the notes.
#![cfg(all(target_os = "linux", target_arch = "x86_64"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use otlp_profiler::testing::Probe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

#[inline(never)]
fn sleepy_wait(stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A return address inside `sleepy_wait`: the frame of its call to `sleep`, found by taking
/// the stack from inside a function it calls would need a hook; instead the symbol's range.
fn sleepy_range() -> (u64, u64) {
    use object::{Object, ObjectSymbol};
    let data = std::fs::read("/proc/self/exe").unwrap();
    let file = object::File::parse(&*data).unwrap();
    let symbol = file
        .symbols()
        .find(|s| s.name().is_ok_and(|n| n.contains("sleepy_wait")))
        .expect("sleepy_wait in the symbol table");
    let start = sleepy_wait as *const () as u64;
    (start, start + symbol.size())
}

#[test]
fn a_sleeping_thread_shows_where_it_waits() {
    let (start, end) = sleepy_range();
    let stop = Arc::new(AtomicBool::new(false));
    let (tid_tx, tid_rx) = mpsc::channel();
    let sleeper = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            // SAFETY: no preconditions.
            #[allow(unsafe_code)]
            let tid = unsafe { libc::gettid() } as u32;
            tid_tx.send(tid).unwrap();
            sleepy_wait(&stop);
        })
    };
    let tid = tid_rx.recv().unwrap();
    let mut block = Probe::block(100).unwrap();
    std::thread::sleep(Duration::from_millis(600));
    block.stop();
    stop.store(true, Ordering::Relaxed);
    sleeper.join().unwrap();
    let samples = block.drain();
    let mine: Vec<_> = samples.iter().filter(|s| s.thread_id == tid).collect();
    assert!(
        mine.len() >= 10,
        "{} off-CPU samples of the sleeper",
        mine.len()
    );
    let waiting = mine
        .iter()
        .filter(|s| s.frames.iter().skip(1).any(|&a| start < a && a <= end))
        .count();
    assert!(
        waiting * 10 >= mine.len() * 9,
        "{waiting} of {} samples in sleepy_wait",
        mine.len()
    );
    assert!(mine.iter().all(|s| s.values == [1, 10_000_000]));
}
