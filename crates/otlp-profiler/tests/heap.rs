//! The heap sampler installed as this test binary's global allocator: attribution by stack,
//! in-use against allocated, unbiased weights, reentrancy, many threads.

use otlp_profiler::SamplingAllocator;
use otlp_profiler::testing::{Probe as Sampling, Sample, capture, live_heap, thread_id};
use std::hint::black_box;
use std::sync::{Mutex, MutexGuard, PoisonError};

#[global_allocator]
static GLOBAL: SamplingAllocator = SamplingAllocator::system();

/// Heap sampling is process-wide: one test at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The stack seen from inside [`alloc_in`], taken once.
#[derive(Default)]
struct Probe {
    frames: [u64; 16],
    taken: bool,
}

/// Allocates `size` bytes, capturing the stack into `probe` first if not yet done: it holds,
/// at the index where two sites' probes first differ, the return address into the site, the
/// same address a sampled stack shows for the site's allocations.
#[inline(never)]
fn alloc_in(size: usize, probe: &mut Probe) -> Vec<u8> {
    if !probe.taken {
        capture(&mut probe.frames);
        probe.taken = true;
    }
    black_box(Vec::with_capacity(size))
}

/// Site A: allocates each size, keeping them if `keep`.
#[inline(never)]
fn site_a(sizes: &[usize], keep: Option<&mut Vec<Vec<u8>>>, probe: &mut Probe) {
    let mut keep = keep;
    for &size in sizes {
        let v = alloc_in(size, probe);
        if let Some(keep) = keep.as_deref_mut() {
            keep.push(v);
        }
    }
}

/// Site B: the same as site A, from elsewhere.
#[inline(never)]
fn site_b(sizes: &[usize], keep: Option<&mut Vec<Vec<u8>>>, probe: &mut Probe) {
    let mut keep = keep;
    for &size in sizes {
        let v = alloc_in(size, probe);
        if let Some(keep) = keep.as_deref_mut() {
            keep.push(v);
        }
    }
}

/// (objects, bytes) of the samples whose stack goes through `marker`.
fn totals(samples: &[Sample], marker: u64) -> (i64, i64) {
    totals_by(samples, |s| s.frames.contains(&marker))
}

/// (objects, bytes) of the samples taken on thread `tid`.
fn thread_totals(samples: &[Sample], tid: u32) -> (i64, i64) {
    totals_by(samples, |s| s.thread_id == tid)
}

fn totals_by(samples: &[Sample], keep: impl Fn(&Sample) -> bool) -> (i64, i64) {
    samples
        .iter()
        .filter(|s| keep(s))
        .fold((0, 0), |(o, b), s| (o + s.values[0], b + s.values[1]))
}

fn within(estimate: i64, truth: usize, tolerance: f64) -> bool {
    let truth = truth as f64;
    (estimate as f64 - truth).abs() <= truth * tolerance
}

/// The two sites' markers, and whether stacks can be walked: without frame pointers the
/// walk stops early or reads garbage, and the two markers come out alike or zero.
fn markers() -> (u64, u64, bool) {
    otlp_profiler::testing::prepare_unwinding();
    let (mut pa, mut pb) = (Probe::default(), Probe::default());
    site_a(&[1], None, &mut pa);
    site_b(&[1], None, &mut pb);
    let (ma, mb) = pa
        .frames
        .iter()
        .zip(&pb.frames)
        .find(|(a, b)| a != b)
        .map_or((0, 0), |(&a, &b)| (a, b));
    // Each inside its site's code (a small function), not garbage.
    let inside =
        |marker: u64, site: usize| (1..4096).contains(&(marker as usize).wrapping_sub(site));
    let walkable =
        inside(ma, site_a as *const () as usize) && inside(mb, site_b as *const () as usize);
    // The unwinder reads unwind tables on Linux x86_64: stacks must be complete there on
    // any build. Elsewhere only frame pointers can be walked.
    if cfg!(all(target_os = "linux", target_arch = "x86_64")) {
        assert!(walkable, "stacks not walked: markers {ma:#x} {mb:#x}");
    } else if !walkable {
        eprintln!(
            "stacks unwalkable: by-stack checks need RUSTFLAGS=\"-C force-frame-pointers=yes\""
        );
    }
    (ma, mb, walkable)
}

fn start(rate: u64) -> Sampling {
    match Sampling::heap(rate) {
        Ok(session) => session,
        Err(e) => panic!("heap sampling did not start: {e}"),
    }
}

#[test]
fn two_sites_are_attributed_three_to_one() {
    let _serial = serial();
    let (ma, mb, walkable) = markers();
    let sizes_a = vec![3000usize; 20_000];
    let sizes_b = vec![1000usize; 20_000];
    let mut session = start(8 * 1024);
    site_a(&sizes_a, None, &mut Probe::default());
    site_b(&sizes_b, None, &mut Probe::default());
    // Stopped first, drained after: what was sampled stays, nothing more is.
    session.stop();
    site_a(&sizes_a, None, &mut Probe::default());
    let samples = session.drain();
    session.end();
    let (_, on_thread) = thread_totals(&samples, thread_id());
    assert!(
        within(on_thread, 80_000_000, 0.10),
        "thread bytes {on_thread}"
    );
    if !walkable {
        return;
    }
    let (objects_a, bytes_a) = totals(&samples, ma);
    let (objects_b, bytes_b) = totals(&samples, mb);
    assert!(within(bytes_a, 60_000_000, 0.10), "site A bytes {bytes_a}");
    assert!(within(bytes_b, 20_000_000, 0.10), "site B bytes {bytes_b}");
    // Objects within 5%: each sample stands for a fractional count (3.26 objects at site A),
    // which rounding sample by sample would bias 8% low.
    assert!(
        within(objects_a, 20_000, 0.05),
        "site A objects {objects_a}"
    );
    assert!(
        within(objects_b, 20_000, 0.05),
        "site B objects {objects_b}"
    );
    let ratio = bytes_a as f64 / bytes_b as f64;
    assert!((ratio - 3.0).abs() <= 0.3, "ratio {ratio}");
}

#[test]
fn in_use_counts_what_is_kept_and_alloc_counts_everything() {
    let _serial = serial();
    let (ma, mb, walkable) = markers();
    let sizes = vec![2048usize; 20_000];
    let mut kept = Vec::with_capacity(sizes.len());
    let mut session = start(8 * 1024);
    // Kept on this thread, freed at once on another: thread ids tell them apart even
    // without frame pointers.
    site_a(&sizes, Some(&mut kept), &mut Probe::default());
    let freer = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                site_b(&sizes, None, &mut Probe::default());
                thread_id()
            })
            .join()
    });
    let freer = freer.unwrap_or_else(|_| panic!("the freeing thread panicked"));
    let keeper = thread_id();
    let live = live_heap();
    let allocated = session.drain();
    let (_, live_kept) = thread_totals(&live, keeper);
    let (_, live_freed) = thread_totals(&live, freer);
    let (_, alloc_kept) = thread_totals(&allocated, keeper);
    let (_, alloc_freed) = thread_totals(&allocated, freer);
    let total = 2048 * sizes.len();
    assert!(within(live_kept, total, 0.10), "kept, live {live_kept}");
    assert_eq!(live_freed, 0, "freed, still live");
    assert!(
        within(alloc_kept, total, 0.10),
        "kept, allocated {alloc_kept}"
    );
    assert!(
        within(alloc_freed, total, 0.10),
        "freed, allocated {alloc_freed}"
    );
    if walkable {
        assert_eq!(totals(&live, ma).1, live_kept, "kept, by stack");
        assert_eq!(totals(&live, mb).1, 0, "freed, by stack");
    }

    drop(kept);
    let (_, after) = thread_totals(&live_heap(), keeper);
    assert_eq!(after, 0, "all freed, still live");
    assert_eq!(
        thread_totals(&session.drain(), keeper),
        (0, 0),
        "frees are not allocations"
    );
    session.end();
}

#[test]
fn weights_are_unbiased_over_many_sizes() {
    let _serial = serial();
    // Mostly small sizes, some medium, a few larger than the rate.
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let sizes: Vec<usize> = (0..300_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            match x % 100 {
                0 => 16 * 1024 + (x >> 8) as usize % (512 * 1024),
                1..=10 => 512 + (x >> 8) as usize % (16 * 1024),
                _ => 16 + (x >> 8) as usize % 496,
            }
        })
        .collect();
    let true_bytes: usize = sizes.iter().sum();
    let mut session = start(32 * 1024);
    site_a(&sizes, None, &mut Probe::default());
    let samples = session.drain();
    session.end();
    let (objects, bytes) = thread_totals(&samples, thread_id());
    assert!(
        within(bytes, true_bytes, 0.10),
        "estimated {bytes}, true {true_bytes}"
    );
    assert!(
        within(objects, sizes.len(), 0.10),
        "estimated {objects} objects, true {}",
        sizes.len()
    );
}

#[test]
fn allocations_made_while_sampling_pass_through() {
    let _serial = serial();
    let (marker, _, walkable) = markers();
    let sizes = vec![24usize; 5_000];
    // A rate of one byte samples every allocation: were the sampler's own allocations sampled
    // in turn, this would recurse without end or deadlock, or count more than the site made.
    let mut session = start(1);
    site_a(&sizes, None, &mut Probe::default());
    let samples = session.drain();
    session.end();
    let tid = thread_id();
    let on_thread: Vec<&Sample> = samples.iter().filter(|s| s.thread_id == tid).collect();
    assert_eq!(on_thread.len(), sizes.len());
    assert!(on_thread.iter().all(|s| s.values == [1, 24]), "weights");
    if walkable {
        assert!(on_thread.iter().all(|s| s.frames.contains(&marker)));
    }
}

#[test]
fn a_reallocated_block_is_live_once_at_its_new_size() {
    let _serial = serial();
    // Every allocation sampled, each growth a realloc: the old block must leave the live
    // table as the new one enters it.
    let mut session = start(1);
    let mut v: Vec<u8> = Vec::with_capacity(16);
    for _ in 0..12 {
        v.reserve_exact(v.capacity() * 2 - v.len());
        v.extend(std::iter::repeat_n(1u8, v.capacity() - v.len()));
    }
    let tid = thread_id();
    let live: Vec<Sample> = live_heap()
        .into_iter()
        .filter(|s| s.thread_id == tid)
        .collect();
    let allocated = thread_totals(&session.drain(), tid);
    assert_eq!(live.len(), 1, "{live:?}");
    assert_eq!(live[0].values, [1, v.capacity() as i64]);
    assert_eq!(allocated.0, 13, "one allocation and twelve reallocations");
    drop(v);
    assert!(live_heap().iter().all(|s| s.thread_id != tid));
    session.end();
}

#[test]
fn many_threads_are_sampled_each_on_its_own() {
    let _serial = serial();
    let threads = 8;
    let per_thread = 1536 * 10_000;
    let mut session = start(8 * 1024);
    let tids: Vec<u32> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|i| {
                scope.spawn(move || {
                    let sizes = vec![1536usize; 10_000];
                    if i % 2 == 0 {
                        site_a(&sizes, None, &mut Probe::default());
                    } else {
                        site_b(&sizes, None, &mut Probe::default());
                    }
                    thread_id()
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    let samples = session.drain();
    session.end();
    assert_eq!(tids.len(), threads);
    for tid in tids {
        let (_, bytes) = thread_totals(&samples, tid);
        assert!(within(bytes, per_thread, 0.10), "thread {tid}: {bytes}");
    }
}

#[test]
fn a_second_session_is_refused_and_a_zero_rate_too() {
    let _serial = serial();
    let session = start(1024);
    let again = Sampling::heap(1024).map(drop);
    assert_eq!(again.map_err(|e| e.kind()), Err(otlp_profiler::Kind::State));
    session.end();
    assert_eq!(
        Sampling::heap(0).map(drop).map_err(|e| e.kind()),
        Err(otlp_profiler::Kind::Config)
    );
}
