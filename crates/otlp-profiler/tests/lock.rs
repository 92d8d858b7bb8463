//! The profiled locks: contention is timed and attributed to where it happened; uncontended
//! locking records nothing.

use otlp_profiler::testing::Probe as Sampling;
use otlp_profiler::testing::{Sample, capture, thread_id};
use otlp_profiler::{Mutex, MutexGuard, RwLock};
use std::sync::{Barrier, PoisonError};
use std::time::{Duration, Instant};

/// Lock sampling is process-wide: one test at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

fn start(every: u32) -> Sampling {
    match Sampling::mutex(every) {
        Ok(session) => session,
        Err(e) => panic!("lock sampling did not start: {e}"),
    }
}

/// The stack seen from inside [`lock_via`], taken once.
#[derive(Default)]
struct Probe {
    frames: [u64; 16],
    taken: bool,
}

/// Locks `m`, capturing the stack into `probe` first if not yet done: where two callers'
/// probes first differ is the return address into the caller, the address a contention
/// stack shows for it.
#[inline(never)]
fn lock_via<'a>(m: &'a Mutex<u64>, probe: &mut Probe) -> MutexGuard<'a, u64> {
    if !probe.taken {
        capture(&mut probe.frames);
        probe.taken = true;
    }
    m.lock()
}

/// The contended site: waits for `m` and returns how long that took.
#[inline(never)]
fn wait_site(m: &Mutex<u64>, probe: &mut Probe) -> Duration {
    let start = Instant::now();
    let mut guard = lock_via(m, probe);
    let waited = start.elapsed();
    *guard += 1;
    waited
}

/// Another site, never contended.
#[inline(never)]
fn other_site(m: &Mutex<u64>, probe: &mut Probe) {
    *lock_via(m, probe) += 1;
}

/// `rounds` times: a holder takes the lock, then the waiter waits `hold` for it at
/// [`wait_site`]. Returns the waiter's total measured wait and thread id.
fn contend(m: &Mutex<u64>, rounds: usize, hold: Duration) -> (Duration, u32) {
    let barrier = Barrier::new(2);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            for _ in 0..rounds {
                let guard = m.lock();
                barrier.wait();
                std::thread::sleep(hold);
                drop(guard);
                // The waiter takes it before the next round.
                barrier.wait();
            }
        });
        let mut total = Duration::ZERO;
        for _ in 0..rounds {
            barrier.wait();
            total += wait_site(m, &mut Probe::default());
            barrier.wait();
        }
        (total, thread_id())
    })
}

fn markers(m: &Mutex<u64>) -> (u64, u64, bool) {
    otlp_profiler::testing::prepare_unwinding();
    let (mut pw, mut po) = (Probe::default(), Probe::default());
    wait_site(m, &mut pw);
    other_site(m, &mut po);
    let (wait, other) = pw
        .frames
        .iter()
        .zip(&po.frames)
        .find(|(a, b)| a != b)
        .map_or((0, 0), |(&a, &b)| (a, b));
    // Each inside its caller's code (a small function), not garbage.
    let inside =
        |marker: u64, site: usize| (1..4096).contains(&(marker as usize).wrapping_sub(site));
    let walkable = inside(wait, wait_site as *const () as usize)
        && inside(other, other_site as *const () as usize);
    // The unwinder reads unwind tables on Linux x86_64: stacks must be complete there on
    // any build. Elsewhere only frame pointers can be walked.
    if cfg!(all(target_os = "linux", target_arch = "x86_64")) {
        assert!(walkable, "stacks not walked: markers {wait:#x} {other:#x}");
    } else if !walkable {
        eprintln!(
            "stacks unwalkable: by-stack checks need RUSTFLAGS=\"-C force-frame-pointers=yes\""
        );
    }
    (wait, other, walkable)
}

fn on_thread(samples: &[Sample], tid: u32) -> Vec<&Sample> {
    samples.iter().filter(|s| s.thread_id == tid).collect()
}

#[test]
fn contention_is_timed_and_attributed_to_its_site() {
    let _serial = serial();
    let m = Mutex::new(0);
    let (wait_marker, other_marker, walkable) = markers(&m);
    let mut session = start(1);
    let rounds = 10;
    let (waited, tid) = contend(&m, rounds, Duration::from_millis(20));
    // Stopped first, drained after: what was sampled stays, nothing more is.
    session.stop();
    contend(&m, 2, Duration::from_millis(5));
    let samples = session.drain();
    session.end();
    let mine = on_thread(&samples, tid);
    assert_eq!(mine.len(), rounds, "one sample per contention");
    let delay: i64 = mine.iter().map(|s| s.values[1]).sum();
    let contentions: i64 = mine.iter().map(|s| s.values[0]).sum();
    assert_eq!(contentions, rounds as i64);
    let measured = waited.as_nanos() as f64;
    assert!(
        (delay as f64 - measured).abs() <= measured * 0.10,
        "recorded {delay} ns, measured {measured} ns"
    );
    assert!(delay >= (rounds as i64) * 15_000_000, "recorded {delay} ns");
    if walkable {
        assert!(mine.iter().all(|s| s.frames.contains(&wait_marker)));
        assert!(samples.iter().all(|s| !s.frames.contains(&other_marker)));
    }
}

#[test]
fn one_in_n_is_sampled_and_scaled() {
    let _serial = serial();
    let m = Mutex::new(0);

    let mut session = start(4);
    let rounds = 16;
    let (waited, tid) = contend(&m, rounds, Duration::from_millis(5));
    let samples = session.drain();
    session.end();
    let mine = on_thread(&samples, tid);
    assert_eq!(mine.len(), rounds / 4);
    assert!(mine.iter().all(|s| s.values[0] == 4));
    // Scaled by 4, the sampled delays estimate the total; each round waits about as long.
    let delay: i64 = mine.iter().map(|s| s.values[1]).sum();
    let measured = waited.as_nanos() as f64;
    assert!(
        (delay as f64 - measured).abs() <= measured * 0.25,
        "estimated {delay} ns, measured {measured} ns"
    );
}

#[test]
fn uncontended_locking_records_nothing() {
    let _serial = serial();
    let m = Mutex::new(0u64);
    let rw = RwLock::new(0u64);
    let mut session = start(1);
    for _ in 0..100_000 {
        *m.lock() += 1;
        *rw.write() += 1;
        let _ = *rw.read();
    }
    let samples = session.drain();
    session.end();
    assert_eq!(*m.lock(), 100_000);
    assert!(samples.is_empty(), "{} samples", samples.len());
}

#[test]
fn a_contended_rwlock_is_recorded() {
    let _serial = serial();
    let rw = RwLock::new(0u64);
    let barrier = Barrier::new(2);
    let mut session = start(1);
    let tid = std::thread::scope(|scope| {
        scope.spawn(|| {
            let guard = rw.write();
            barrier.wait();
            std::thread::sleep(Duration::from_millis(20));
            drop(guard);
        });
        barrier.wait();
        let _ = *rw.read();
        thread_id()
    });
    let samples = session.drain();
    session.end();
    let mine = on_thread(&samples, tid);
    assert_eq!(mine.len(), 1);
    assert!(mine[0].values[1] >= 10_000_000, "{:?}", mine[0].values);
}

#[test]
fn nothing_is_recorded_while_no_session_runs() {
    let _serial = serial();
    let m = Mutex::new(0);
    contend(&m, 2, Duration::from_millis(5));
    let mut session = start(1);
    let samples = session.drain();
    session.end();
    assert!(samples.is_empty());
    let again = start(1);
    assert_eq!(
        Sampling::mutex(1).map(drop).map_err(|e| e.kind()),
        Err(otlp_profiler::Kind::State)
    );
    again.end();
}

#[test]
fn a_timed_wait_that_gives_up_is_recorded() {
    let _serial = serial();
    let m = Mutex::new(0u64);
    let mut session = start(1);
    let held = m.lock();
    let tid = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                assert!(m.try_lock_for(Duration::from_millis(20)).is_none());
                thread_id()
            })
            .join()
    });
    MutexGuard::unlock_fair(held);
    let tid = tid.unwrap_or_else(|_| panic!("the waiting thread panicked"));
    let samples = session.drain();
    session.end();
    let mine = on_thread(&samples, tid);
    assert_eq!(mine.len(), 1);
    assert!(mine[0].values[1] >= 19_000_000, "{:?}", mine[0].values);
}
