//! The CPU sampler on real work: how CPU time splits between two known functions, threads
//! started late, the share of due samples delivered, span links, and complete stacks down to
//! std's thread start, on whatever profile the tests are built with (no frame pointers).
#![cfg(all(target_os = "linux", target_arch = "x86_64"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use object::{Object, ObjectSymbol};
use otlp_profiler::testing::{Probe, Sample};
use std::hint::black_box;
use std::sync::{Mutex, MutexGuard, OnceLock, mpsc};
use std::time::Duration;

/// One CPU sampler per process: the tests take turns.
static TURN: Mutex<()> = Mutex::new(());

fn turn() -> MutexGuard<'static, ()> {
    TURN.lock().unwrap_or_else(|e| e.into_inner())
}

#[allow(unsafe_code)]
fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is valid for the call.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

#[allow(unsafe_code)]
fn gettid() -> u32 {
    // SAFETY: no preconditions.
    unsafe { libc::gettid() as u32 }
}

#[inline(never)]
fn hot_a(cpu_ns: u64) -> u64 {
    let end = thread_cpu_ns() + cpu_ns;
    let mut x = 0u64;
    while thread_cpu_ns() < end {
        for i in 0..2000 {
            x = black_box(x.wrapping_mul(31).wrapping_add(i));
        }
    }
    x
}

#[inline(never)]
fn hot_b(cpu_ns: u64) -> u64 {
    let end = thread_cpu_ns() + cpu_ns;
    let mut x = 1u64;
    while thread_cpu_ns() < end {
        for i in 0..2000 {
            x = black_box(x.wrapping_mul(37).wrapping_add(i));
        }
    }
    x
}

/// The function symbols of the test binary, at their addresses in memory.
struct Symbols(Vec<(u64, u64, String)>);

fn symbols() -> &'static Symbols {
    static SYMBOLS: OnceLock<Symbols> = OnceLock::new();
    SYMBOLS.get_or_init(|| {
        let data = std::fs::read("/proc/self/exe").unwrap();
        let file = object::File::parse(&*data).unwrap();
        let anchor = file
            .symbols()
            .find(|s| s.name().is_ok_and(|n| n.contains("hot_a")))
            .expect("hot_a in the symbol table");
        let bias = (hot_a as *const () as u64).wrapping_sub(anchor.address());
        let mut all: Vec<(u64, u64, String)> = file
            .symbols()
            .filter(|s| s.kind() == object::SymbolKind::Text && s.size() > 0)
            .map(|s| {
                let start = s.address().wrapping_add(bias);
                (start, start + s.size(), s.name().unwrap_or("").to_owned())
            })
            .collect();
        all.sort();
        Symbols(all)
    })
}

impl Symbols {
    fn name(&self, address: u64) -> Option<&str> {
        let i = self.0.partition_point(|s| s.0 <= address);
        let s = self.0.get(i.checked_sub(1)?)?;
        (address < s.1).then_some(s.2.as_str())
    }
}

/// The names of a sample's frames (`?` outside the test binary), return addresses looked up
/// at their call instruction.
fn names(sample: &Sample) -> Vec<String> {
    let symbols = symbols();
    sample
        .frames
        .iter()
        .enumerate()
        .map(|(i, &a)| {
            let a = if i == 0 { a } else { a - 1 };
            symbols.name(a).unwrap_or("?").to_owned()
        })
        .collect()
}

fn in_fn(sample: &Sample, name: &str) -> bool {
    names(sample).iter().any(|n| n.contains(name))
}

fn sample(hz: u32, work: impl FnOnce()) -> Vec<Sample> {
    symbols();
    let mut probe = Probe::cpu(hz).unwrap();
    work();
    probe.stop();
    probe.drain()
}

/// Runs `work` on `threads` threads that exist before the sampler starts (so their timers
/// are armed at once) and start working after it did.
fn sample_threads(
    hz: u32,
    threads: usize,
    work: impl Fn(usize) + Send + Sync + 'static,
) -> Vec<Sample> {
    let work = std::sync::Arc::new(work);
    let gate = std::sync::Arc::new(std::sync::Barrier::new(threads + 1));
    let workers: Vec<_> = (0..threads)
        .map(|i| {
            let (work, gate) = (work.clone(), gate.clone());
            std::thread::spawn(move || {
                gate.wait();
                work(i);
            })
        })
        .collect();
    sample(hz, move || {
        gate.wait();
        for w in workers {
            w.join().unwrap();
        }
    })
}

#[test]
fn cpu_time_splits_75_25_between_two_functions_on_two_threads() {
    let _turn = turn();
    let samples = sample_threads(1000, 2, |i| {
        // Chunks of varying length, so that the kernel's tick cannot alias with the cycle.
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64 ^ i as u64;
        for _ in 0..100 {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let r = 1_000_000 + (seed >> 33) % 2_000_000;
            hot_a(3 * r);
            hot_b(r);
        }
    });
    let weight = |f: &str| -> usize {
        samples
            .iter()
            .filter(|s| in_fn(s, f))
            .map(|s| s.values[0] as usize)
            .sum()
    };
    let (a, b) = (weight("hot_a"), weight("hot_b"));
    assert!(a + b >= 500, "too few samples: {a} + {b}");
    let share = a as f64 * 100.0 / (a + b) as f64;
    assert!(
        (70.0..=80.0).contains(&share),
        "hot_a {share:.1}% ({a} / {b})"
    );
}

fn unix_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// A thread started while the process is idle is found after a little of its own CPU (the
/// sampler's timer on the process's CPU time rings), not at the sampler's next idle tick.
#[test]
fn a_thread_started_after_start_is_sampled() {
    let _turn = turn();
    let (tx, rx) = mpsc::channel();
    let samples = sample(1000, || {
        std::thread::sleep(Duration::from_millis(30));
        std::thread::spawn(move || {
            // (wall clock, own CPU) after each millisecond of work.
            let mut marks = Vec::with_capacity(400);
            for _ in 0..400 {
                hot_a(1_000_000);
                marks.push((unix_ns(), thread_cpu_ns()));
            }
            tx.send((gettid(), marks)).unwrap();
        })
        .join()
        .unwrap();
    });
    let (tid, marks) = rx.recv().unwrap();
    let mine: Vec<_> = samples.iter().filter(|s| s.thread_id == tid).collect();
    let periods: i64 = mine.iter().map(|s| s.values[0]).sum();
    assert!(
        periods >= 200,
        "{periods} periods sampled of the late thread"
    );
    assert!(
        mine.iter()
            .all(|s| s.values[0] >= 1 && s.values[1] == s.values[0] * 1_000_000)
    );
    let first = mine.iter().map(|s| s.timestamp_unix_nano).min().unwrap();
    let start_cpu = marks[0].1 - 1_000_000;
    let before = marks
        .iter()
        .take_while(|(wall, _)| *wall <= first)
        .last()
        .map_or(0, |(_, cpu)| cpu - start_cpu);
    // About 20 ms on a quiet machine; under load the sampler's own thread waits its turn.
    assert!(
        before <= 100_000_000,
        "the late thread used {} ms of CPU before its first sample",
        before / 1_000_000
    );
}

/// While a sampled thread runs, the sampler's thread sleeps up to 250 ms at 100 Hz; a thread
/// started meanwhile is found through the running thread's handler (it watches the thread
/// count and rings), not at that next tick: the running thread takes a few samples between
/// the new thread's start and the new thread's first sample (load stretches both alike), not
/// the 25 a 250 ms wait would give it.
#[test]
fn a_thread_started_while_another_runs_is_found_at_once() {
    let _turn = turn();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let (busy_tx, busy_rx) = mpsc::channel();
    let busy = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            go_rx.recv().unwrap();
            busy_tx.send(gettid()).unwrap();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                black_box(hot_a(1_000_000));
            }
        })
    };
    let (tx, rx) = mpsc::channel();
    let mut rang = 0;
    let samples = sample(100, || {
        go_tx.send(()).unwrap();
        // Long enough for the sampler's thread to have gone to its long sleeps.
        std::thread::sleep(Duration::from_millis(600));
        let before = otlp_profiler::testing::thread_watch_rings();
        std::thread::spawn(move || {
            let started = unix_ns();
            hot_b(300_000_000);
            tx.send((gettid(), started)).unwrap();
        })
        .join()
        .unwrap();
        rang = otlp_profiler::testing::thread_watch_rings() - before;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        busy.join().unwrap();
    });
    assert!(rang >= 1, "no handler rang for the new thread");
    let (late, started) = rx.recv().unwrap();
    let running = busy_rx.recv().unwrap();
    let first = samples
        .iter()
        .filter(|s| s.thread_id == late)
        .map(|s| s.timestamp_unix_nano)
        .min()
        .expect("the late thread was sampled");
    let between = samples
        .iter()
        .filter(|s| s.thread_id == running)
        .filter(|s| (started..first).contains(&s.timestamp_unix_nano))
        .count();
    assert!(
        between <= 10,
        "the running thread took {between} samples before the late one's first, {} ms after it started",
        (first - started) / 1_000_000
    );
}

fn delivered(hz: u32, cpu_ns: u64) {
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let (done_tx, done_rx) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        go_rx.recv().unwrap();
        let start = thread_cpu_ns();
        hot_a(cpu_ns);
        done_tx.send((gettid(), thread_cpu_ns() - start)).unwrap();
    });
    let samples = sample(hz, || {
        go_tx.send(()).unwrap();
        worker.join().unwrap();
    });
    let (tid, used) = done_rx.recv().unwrap();
    let due = used * u64::from(hz) / 1_000_000_000;
    // A sample stands for values[0] periods (timer overruns below the kernel's tick).
    let got: u64 = samples
        .iter()
        .filter(|s| s.thread_id == tid)
        .map(|s| s.values[0] as u64)
        .sum();
    assert!(
        got * 100 >= due * 95,
        "{hz} Hz: {got} samples of {due} due ({used} ns of CPU)"
    );
}

#[test]
fn at_least_95_percent_of_due_samples_arrive_at_100_hz() {
    let _turn = turn();
    delivered(100, 1_000_000_000);
}

#[test]
fn at_least_95_percent_of_due_samples_arrive_at_1000_hz() {
    let _turn = turn();
    delivered(1000, 500_000_000);
}

#[test]
fn samples_in_a_span_carry_its_ids_and_others_none() {
    let _turn = turn();
    let client = otlp_sdk::OtlpClient::new_blocking(
        otlp_sdk::ClientConfig::new()
            .with_exporter(otlp_sdk::ExporterConfig::default().with_disabled(true)),
    )
    .unwrap();
    let tracer = client.tracer("profiler-test");
    let _tracking = otlp_sdk::context::track_current_span();
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let samples = sample_threads(1000, 1, move |_| {
        tracer.in_span("burn", |span| {
            let ids = otlp_sdk::context::SpanIds::of(span.span_context());
            tx.lock().unwrap().send(ids).unwrap();
            hot_a(150_000_000);
        });
        hot_b(150_000_000);
    });
    let ids = rx.recv().unwrap().expect("a valid span");
    let inside: Vec<_> = samples.iter().filter(|s| in_fn(s, "hot_a")).collect();
    let outside: Vec<_> = samples.iter().filter(|s| in_fn(s, "hot_b")).collect();
    // Periods, not signals: under load a thread's timer fires less often, with overruns.
    let periods = |samples: &[&Sample]| samples.iter().map(|s| s.values[0]).sum::<i64>();
    let (a, b) = (periods(&inside), periods(&outside));
    assert!(a >= 50 && b >= 50, "{a} / {b} periods");
    assert!(
        inside.iter().all(|s| s.link == Some(ids)),
        "a sample in the span lacks its ids"
    );
    assert!(
        outside.iter().all(|s| s.link.is_none()),
        "a sample outside the span has ids"
    );
}

#[test]
fn stacks_reach_std_thread_start() {
    let _turn = turn();
    let samples = sample_threads(1000, 1, |_| {
        hot_a(600_000_000);
    });
    let hot: Vec<_> = samples.iter().filter(|s| in_fn(s, "hot_a")).collect();
    // Signals, not periods: under load a thread's timer fires less often, with overruns.
    assert!(hot.len() >= 20, "{} samples in hot_a", hot.len());
    let complete = hot.iter().filter(|s| in_fn(s, "thread_start")).count();
    assert!(
        complete * 100 >= hot.len() * 98,
        "{complete} of {} stacks reach std's thread start; one: {:?}",
        hot.len(),
        hot.iter()
            .find(|s| !in_fn(s, "thread_start"))
            .map(|s| names(s))
    );
}

/// A thread started after the sampler, on a stack mapped after the unwinder's snapshot of the
/// mappings (a size the C library has not cached), is walked through checked reads until the
/// snapshot is taken again: its stacks are complete from its first sample.
#[test]
fn a_new_stack_is_walked_from_its_first_sample() {
    let _turn = turn();
    let (tx, rx) = mpsc::channel();
    let mut misses = 0;
    let samples = sample(1000, || {
        let before = otlp_profiler::testing::stack_misses();
        std::thread::Builder::new()
            .stack_size(24 << 20)
            .spawn(move || {
                tx.send(gettid()).unwrap();
                hot_a(300_000_000)
            })
            .unwrap()
            .join()
            .unwrap();
        misses = otlp_profiler::testing::stack_misses() - before;
    });
    let tid = rx.recv().unwrap();
    let mut mine: Vec<_> = samples.iter().filter(|s| s.thread_id == tid).collect();
    mine.sort_by_key(|s| s.timestamp_unix_nano);
    assert!(mine.len() >= 20, "{} samples of the new thread", mine.len());
    assert!(
        misses >= 1,
        "the new thread's stack was in the snapshot already"
    );
    let first = mine[0];
    assert!(
        in_fn(first, "thread_start"),
        "the first sample: {:?}",
        names(first)
    );
    let complete = mine.iter().filter(|s| in_fn(s, "thread_start")).count();
    assert!(
        complete * 100 >= mine.len() * 98,
        "{complete} of {}",
        mine.len()
    );
}

#[test]
fn a_second_sampler_is_refused_and_bad_frequencies_named() {
    let _turn = turn();
    let mut first = Probe::cpu(100).unwrap();
    let second = Probe::cpu(100).unwrap_err();
    assert_eq!(second.kind(), otlp_profiler::Kind::State);
    first.stop();
    assert_eq!(
        Probe::cpu(0).unwrap_err().kind(),
        otlp_profiler::Kind::Config
    );
    assert_eq!(
        Probe::cpu(20_000).unwrap_err().kind(),
        otlp_profiler::Kind::Config
    );
    let mut again = Probe::cpu(100).unwrap();
    again.stop();
}

#[test]
fn capture_here_sees_its_callers() {
    #[inline(never)]
    fn outer_frame(buf: &mut [u64]) -> usize {
        black_box(otlp_profiler::testing::capture_here(buf))
    }
    let mut buf = [0u64; 64];
    let n = outer_frame(&mut buf);
    assert!(n >= 3, "{n} frames");
    let names: Vec<_> = buf[..n]
        .iter()
        .map(|&a| symbols().name(a - 1).unwrap_or("?"))
        .collect();
    assert!(names.iter().any(|n| n.contains("outer_frame")), "{names:?}");
    assert!(
        names
            .iter()
            .any(|n| n.contains("capture_here_sees_its_callers")),
        "{names:?}"
    );
}

extern "C" fn foreign_handler(_: libc::c_int) {}

#[test]
#[allow(unsafe_code)]
fn another_sigprof_handler_is_refused_with_a_clear_error() {
    let _turn = turn();
    // SAFETY: installs and then restores a do-nothing SIGPROF handler; no timer fires meanwhile.
    let previous = unsafe { libc::signal(libc::SIGPROF, foreign_handler as *const () as usize) };
    let refused = Probe::cpu(100);
    // SAFETY: as above.
    unsafe { libc::signal(libc::SIGPROF, previous) };
    let error = refused.unwrap_err();
    assert_eq!(error.kind(), otlp_profiler::Kind::State);
    assert!(error.to_string().contains("another handler"), "{error}");
    Probe::cpu(100).unwrap().stop();
}
