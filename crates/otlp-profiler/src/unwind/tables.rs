//! The published snapshot (unwind tables and mappings), its refresh, and the walks that read
//! it: [`unwind_from`] for signal handlers and [`capture_here`] for the heap and lock samplers.

// Signals, timers and raw memory reads: the unsafe this module exists for.
#![allow(unsafe_code)]

use super::maps::{self, Region};
use super::modules::{self, Loaded};
use crate::error::Error;
use framehop::x86_64::{CacheX86_64, UnwindRegsX86_64, UnwinderX86_64};
use framehop::{MustNotAllocateDuringUnwind, Unwinder};
use std::sync::Mutex;
use std::sync::atomic::{AtomicI32, AtomicPtr, AtomicU64, AtomicUsize, Ordering};

type Tables64 = UnwinderX86_64<Vec<u8>, MustNotAllocateDuringUnwind>;

/// What a walk reads, immutable once published.
struct Snapshot {
    unwinder: Tables64,
    writable: Vec<Region>,
    executable: Vec<Region>,
}

/// The published snapshot; null until the first [`refresh`].
static CURRENT: AtomicPtr<Snapshot> = AtomicPtr::new(std::ptr::null_mut());
/// Walks in progress: a replaced snapshot is freed only once this was seen at zero after the
/// swap (SeqCst on both sides, so a walk counted after that load sees the new pointer).
static READERS: AtomicUsize = AtomicUsize::new(0);
/// Walks whose stack pointer lay in no mapping of the snapshot (a stack mapped after it was
/// taken: a new thread's, unless the C library reused an old one).
static STACK_MISSES: AtomicU64 = AtomicU64::new(0);
/// [`STACK_MISSES`] when the published snapshot's mappings were read: the misses it covers.
static MISSES_COVERED: AtomicU64 = AtomicU64::new(0);
/// Stack reads a walk outside the snapshot's mappings makes at most (each a system call).
const CHECKED_READS: usize = 512;
/// This process's id, for `process_vm_readv` (0 until the first [`refresh`]).
static OWN_PID: AtomicI32 = AtomicI32::new(0);

/// Refresh-side state: the objects already in the tables, and replaced snapshots not yet freed.
struct Builder {
    loaded: Vec<Loaded>,
    unwinder: Tables64,
    #[allow(clippy::vec_box)] // walks may hold a retired snapshot's address: it must not move
    retired: Vec<Box<Snapshot>>,
}

static BUILDER: Mutex<Option<Builder>> = Mutex::new(None);

/// Caches for [`capture_here`], taken and given back with atomic swaps (a cache holds the
/// DWARF evaluation state, boxed, so making one allocates: they are made by [`refresh`]).
const CAPTURE_CACHES: usize = 8;
static CAPTURE_POOL: [AtomicPtr<UnwindCache>; CAPTURE_CACHES] =
    [const { AtomicPtr::new(std::ptr::null_mut()) }; CAPTURE_CACHES];

/// A walk's scratch state (rule cache, DWARF evaluation storage), preallocated so that a walk
/// never allocates. One per thread of walks: a walk needs it exclusively.
pub(crate) struct UnwindCache(CacheX86_64<MustNotAllocateDuringUnwind>);

impl UnwindCache {
    /// A new cache (allocates: make it outside handlers).
    pub(crate) fn new() -> Self {
        UnwindCache(CacheX86_64::new_in())
    }
}

impl std::fmt::Debug for UnwindCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UnwindCache")
    }
}

/// Rebuilds the snapshot: adds objects loaded since the last call (dlopen), drops unloaded
/// ones, rereads the mappings (new threads' stacks), publishes, and frees replaced snapshots
/// no walk can hold. Call it from a collector thread, never from a handler or an allocator.
pub(crate) fn refresh() -> Result<(), Error> {
    refresh_inner(None)
}

/// [`refresh`] when the snapshot is stale: a walk missed a stack since its mappings were read
/// ([`stacks_missed`]: a new thread's), or, with `objects`, objects were loaded or unloaded
/// since; otherwise nothing (a miss is two atomic loads, listing the loaded objects is cheap,
/// reading `/proc/self/maps` is most of a refresh).
pub(crate) fn refresh_if_stale(objects: bool) -> Result<(), Error> {
    refresh_inner(Some(objects))
}

/// Whether a walk missed a stack since the published snapshot's mappings were read.
/// Async-signal-safe (atomics).
pub(crate) fn stacks_missed() -> bool {
    STACK_MISSES.load(Ordering::Relaxed) != MISSES_COVERED.load(Ordering::Relaxed)
}

/// `stale_only`: `None` always rebuilds; `Some(objects)` only when [`refresh_if_stale`] says.
fn refresh_inner(stale_only: Option<bool>) -> Result<(), Error> {
    // SAFETY: getpid has no preconditions.
    OWN_PID.store(unsafe { libc::getpid() }, Ordering::Relaxed);
    // Read before the mappings: misses after this may be of stacks the read does not see.
    let misses = STACK_MISSES.load(Ordering::Relaxed);
    let missed = misses != MISSES_COVERED.load(Ordering::Relaxed);
    if stale_only == Some(false) && !missed {
        return Ok(());
    }
    let now = modules::loaded();
    if stale_only.is_some() && !missed {
        let guard = BUILDER.lock().unwrap_or_else(|e| e.into_inner());
        if guard.as_ref().is_some_and(|b| b.loaded == now) {
            return Ok(());
        }
    }
    let maps = maps::read()?;
    let mut guard = BUILDER.lock().unwrap_or_else(|e| e.into_inner());
    let builder = guard.get_or_insert_with(|| Builder {
        loaded: Vec::new(),
        unwinder: UnwinderX86_64::new(),
        retired: Vec::new(),
    });
    for gone in builder.loaded.iter().filter(|l| !now.contains(l)) {
        builder.unwinder.remove_module(gone.code.start);
    }
    for new in now.iter().filter(|l| !builder.loaded.contains(l)) {
        if let Some(module) = modules::module(new) {
            builder.unwinder.add_module(module);
        }
    }
    builder.loaded = now;
    // Modules share their parsed data (Arc): this clone copies only the module list.
    let snapshot = Box::new(Snapshot {
        unwinder: builder.unwinder.clone(),
        writable: maps.writable,
        executable: maps.executable,
    });
    MISSES_COVERED.store(misses, Ordering::Relaxed);
    let old = CURRENT.swap(Box::into_raw(snapshot), Ordering::SeqCst);
    if !old.is_null() {
        // SAFETY: `old` came from Box::into_raw in an earlier refresh and was just unpublished;
        // it is freed below only once no walk can hold it.
        builder.retired.push(unsafe { Box::from_raw(old) });
    }
    // Walks are short: a few retired snapshots wait for a quiet instant; past a bound, wait
    // for one here (bounded too) rather than let them pile up.
    let patience = if builder.retired.len() > 16 { 200 } else { 1 };
    for _ in 0..patience {
        if READERS.load(Ordering::SeqCst) == 0 {
            builder.retired.clear();
            break;
        }
        std::thread::sleep(std::time::Duration::from_micros(50));
    }
    for slot in &CAPTURE_POOL {
        if slot.load(Ordering::Acquire).is_null() {
            let cache = Box::into_raw(Box::new(UnwindCache::new()));
            if slot
                .compare_exchange(
                    std::ptr::null_mut(),
                    cache,
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                )
                .is_err()
            {
                // SAFETY: `cache` was never published.
                drop(unsafe { Box::from_raw(cache) });
            }
        }
    }
    Ok(())
}

/// Walks the stack of a thread stopped at `ip` with stack pointer `sp` and frame pointer `bp`
/// into `out`, leaf first (`out[0] = ip`, then return addresses); returns the frame count.
///
/// Async-signal-safe: no allocation, no lock. Every stack read is bounded by the writable
/// mapping holding `sp` in the published snapshot. With `sp` in no mapping of the snapshot (a
/// stack mapped since: a new thread's), the walk reads through `process_vm_readv` instead,
/// which fails rather than faults on unmapped memory (a system call a read, up to
/// `CHECKED_READS`), and counts a miss ([`stack_misses`]) for the samplers' threads to take a
/// new snapshot; where that call is refused, the stack is `ip` alone, as without a snapshot.
pub(crate) fn unwind_from(
    ip: u64,
    sp: u64,
    bp: u64,
    cache: &mut UnwindCache,
    out: &mut [u64],
) -> usize {
    if out.is_empty() {
        return 0;
    }
    READERS.fetch_add(1, Ordering::SeqCst);
    let current = CURRENT.load(Ordering::SeqCst);
    let count = if current.is_null() {
        out[0] = ip;
        1
    } else {
        // SAFETY: a published snapshot is freed only after READERS was seen at zero once it
        // was unpublished; this walk is counted in READERS.
        walk(unsafe { &*current }, ip, sp, bp, cache, out)
    };
    READERS.fetch_sub(1, Ordering::SeqCst);
    count
}

fn walk(
    snapshot: &Snapshot,
    ip: u64,
    sp: u64,
    bp: u64,
    cache: &mut UnwindCache,
    out: &mut [u64],
) -> usize {
    let Some((low, high)) = maps::stack_bounds(&snapshot.writable, sp) else {
        STACK_MISSES.fetch_add(1, Ordering::Relaxed);
        let mut left = CHECKED_READS;
        let mut read_checked = |address: u64| {
            if left == 0 || !address.is_multiple_of(8) {
                return Err(());
            }
            left -= 1;
            read_own(address).ok_or(())
        };
        return frames_into(snapshot, ip, sp, bp, cache, out, &mut read_checked);
    };
    let mut read_stack = |address: u64| {
        if address < low
            || !address.is_multiple_of(8)
            || address.checked_add(8).is_none_or(|e| e > high)
        {
            return Err(());
        }
        // SAFETY: [low, high) is a mapping of the snapshot holding the interrupted thread's
        // stack pointer: that thread's stack, mapped while the thread runs (it is the one
        // interrupted, or the caller); the address is aligned and inside it.
        Ok(unsafe { std::ptr::read_volatile(address as *const u64) })
    };
    frames_into(snapshot, ip, sp, bp, cache, out, &mut read_stack)
}

/// The walk itself, reading the stack with `read_stack`.
fn frames_into(
    snapshot: &Snapshot,
    ip: u64,
    sp: u64,
    bp: u64,
    cache: &mut UnwindCache,
    out: &mut [u64],
    mut read_stack: &mut dyn FnMut(u64) -> Result<u64, ()>,
) -> usize {
    let regs = UnwindRegsX86_64::new(ip, sp, bp);
    let mut frames = snapshot
        .unwinder
        .iter_frames(ip, regs, &mut cache.0, &mut read_stack);
    let mut count = 0;
    while count < out.len() {
        match frames.next() {
            Ok(Some(frame)) => {
                out[count] = frame.address();
                count += 1;
            }
            Ok(None) | Err(_) => break,
        }
    }
    if count == 0 {
        out[0] = ip;
        count = 1;
    }
    count
}

/// The 8 bytes at `address` of this process, through `process_vm_readv`: `None` where nothing
/// readable is mapped (or the call is refused), never a fault. Async-signal-safe: one system
/// call, its `errno` restored by the handler.
fn read_own(address: u64) -> Option<u64> {
    let mut value = 0u64;
    let local = libc::iovec {
        iov_base: (&raw mut value).cast(),
        iov_len: 8,
    };
    let remote = libc::iovec {
        iov_base: address as *mut libc::c_void,
        iov_len: 8,
    };
    let pid = match OWN_PID.load(Ordering::Relaxed) {
        // SAFETY: getpid has no preconditions.
        0 => unsafe { libc::getpid() },
        pid => pid,
    };
    // SAFETY: `local` is 8 writable bytes on this stack; the kernel reads `remote` from this
    // process's memory and reports a failure for memory not mapped readable instead of
    // faulting; nothing is written but `value`.
    let read = unsafe { libc::process_vm_readv(pid, &local, 1, &remote, 1, 0) };
    (read == 8).then_some(value)
}

/// Walks so far whose stack lay outside the published snapshot: when this moves, a stack
/// was mapped since the last [`refresh`] (a new thread's).
pub(crate) fn stack_misses() -> u64 {
    STACK_MISSES.load(Ordering::Relaxed)
}

/// The current thread's stack into `buf`, leaf first: `buf[0]` is the return address into the
/// caller of `capture_here`; returns the frame count (0 when no snapshot was published yet or
/// every preallocated cache is in use by other threads).
///
/// Safe to call from inside a global allocator: it does not allocate or lock, and makes no
/// system call unless the thread's stack is newer than the tables' mappings (see
/// [`unwind_from`]). The tables must have been built by [`refresh`] beforehand (the sampler
/// that calls this should call `refresh` when it starts, outside the allocator).
#[inline(never)]
pub(crate) fn capture_here(buf: &mut [u64]) -> usize {
    let (ip, sp, bp): (u64, u64, u64);
    // SAFETY: reads three registers, writes nothing else, touches no memory.
    unsafe {
        std::arch::asm!(
            "lea {ip}, [rip]",
            "mov {sp}, rsp",
            "mov {bp}, rbp",
            ip = out(reg) ip,
            sp = out(reg) sp,
            bp = out(reg) bp,
            options(nomem, nostack, preserves_flags),
        );
    }
    let Some((index, cache)) = take_cache() else {
        return 0;
    };
    // One frame more than asked for: the first, inside this function, is dropped.
    let mut frames = [0u64; crate::sample::MAX_FRAMES + 1];
    let want = buf.len().min(crate::sample::MAX_FRAMES) + 1;
    // SAFETY: the pool slot was swapped to null, so this thread has the cache exclusively.
    let count = unwind_from(ip, sp, bp, unsafe { &mut *cache }, &mut frames[..want]);
    CAPTURE_POOL[index].store(cache, Ordering::Release);
    let kept = count.saturating_sub(1);
    buf[..kept].copy_from_slice(&frames[1..count.max(1)]);
    kept
}

fn take_cache() -> Option<(usize, *mut UnwindCache)> {
    CAPTURE_POOL.iter().enumerate().find_map(|(i, slot)| {
        let cache = slot.swap(std::ptr::null_mut(), Ordering::Acquire);
        (!cache.is_null()).then_some((i, cache))
    })
}

/// Calls `f` with the executable mappings of the current snapshot (empty before [`refresh`]).
pub(crate) fn with_exec_regions<T>(f: impl FnOnce(&[(u64, u64)]) -> T) -> T {
    let _guard = BUILDER.lock().unwrap_or_else(|e| e.into_inner());
    let current = CURRENT.load(Ordering::SeqCst);
    if current.is_null() {
        return f(&[]);
    }
    // SAFETY: snapshots are freed only under BUILDER, held here.
    let snapshot = unsafe { &*current };
    let regions: Vec<(u64, u64)> = snapshot
        .executable
        .iter()
        .map(|r| (r.start, r.end))
        .collect();
    f(&regions)
}
