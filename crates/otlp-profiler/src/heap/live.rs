//! The side tables of sampled allocations: those taken since the last drain, and those still
//! live (address -> stack, size, weights), with a counting filter that lets a free skip the
//! lock when its address was never sampled.

use super::countdown::{Saved, THREAD, ThreadState};
use otlp_sdk::context::SpanIds;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// One sampled allocation.
#[derive(Debug, Clone)]
pub(crate) struct Sampled {
    /// Its stack, leaf first, shared by every sample of the same stack.
    pub(crate) stack: Arc<[u64]>,
    /// The objects it stands for (`1 / p`).
    pub(crate) objects: f64,
    /// The bytes it stands for (`size / p`).
    pub(crate) bytes: f64,
    /// The allocating thread.
    pub(crate) thread_id: u32,
    /// The span the thread was in.
    pub(crate) link: Option<SpanIds>,
    /// When it was allocated (unix nanoseconds).
    pub(crate) time: u64,
}

/// Samples kept between two drains at most; beyond, they are counted and dropped.
const MAX_PENDING: usize = 1 << 20;

struct Tables {
    stacks: BTreeMap<Arc<[u64]>, ()>,
    live: BTreeMap<usize, Sampled>,
    pending: Vec<Sampled>,
    dropped: u64,
}

static TABLES: Mutex<Tables> = Mutex::new(Tables {
    stacks: BTreeMap::new(),
    live: BTreeMap::new(),
    pending: Vec::new(),
    dropped: 0,
});

const FILTER_BITS: u32 = 16;
/// How many live sampled addresses hash to each bucket: 0 lets a free skip the table.
static FILTER: [AtomicU32; 1 << FILTER_BITS] = [const { AtomicU32::new(0) }; 1 << FILTER_BITS];

fn bucket(address: usize) -> &'static AtomicU32 {
    let h = ((address as u64) >> 4).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - FILTER_BITS);
    &FILTER[h as usize]
}

/// Whether `address` may be a live sampled allocation (false: certainly not).
#[inline(always)]
pub(crate) fn may_be_live(address: usize) -> bool {
    bucket(address).load(Ordering::Relaxed) != 0
}

/// The table lock, held with the thread marked so that what it frees meanwhile (the tables'
/// own memory, allocated unsampled) skips the table instead of taking the lock again.
struct Locked {
    tables: MutexGuard<'static, Tables>,
    saved: Option<Saved>,
}

impl Locked {
    fn acquire() -> Locked {
        let saved = THREAD
            .try_with(|t| {
                t.in_table.set(true);
                ThreadState::enter(t)
            })
            .ok();
        Locked {
            tables: TABLES.lock().unwrap_or_else(PoisonError::into_inner),
            saved,
        }
    }
}

impl Drop for Locked {
    fn drop(&mut self) {
        if let Some(saved) = self.saved {
            let _ = THREAD.try_with(|t| {
                t.in_table.set(false);
                t.leave(saved);
            });
        }
    }
}

/// Records a sampled allocation at `address` with its stack `frames`.
pub(crate) fn record(
    address: usize,
    frames: &[u64],
    mut sample: impl FnMut(Arc<[u64]>) -> Sampled,
) {
    let mut locked = Locked::acquire();
    let tables = &mut *locked.tables;
    let stack = match tables.stacks.get_key_value(frames) {
        Some((stack, ())) => Arc::clone(stack),
        None => {
            let stack: Arc<[u64]> = Arc::from(frames);
            tables.stacks.insert(Arc::clone(&stack), ());
            stack
        }
    };
    let sampled = sample(stack);
    if tables.pending.len() < MAX_PENDING {
        tables.pending.push(sampled.clone());
    } else {
        tables.dropped += 1;
    }
    if tables.live.insert(address, sampled).is_none() {
        bucket(address).fetch_add(1, Ordering::Relaxed);
    }
}

/// Forgets `address` if it is a live sampled allocation (it is being freed).
pub(crate) fn forget(address: usize) {
    if THREAD.try_with(|t| t.in_table.get()).unwrap_or(false) {
        return;
    }
    let mut locked = Locked::acquire();
    if locked.tables.live.remove(&address).is_some() {
        bucket(address).fetch_sub(1, Ordering::Relaxed);
    }
}

/// The samples taken since the last call, and how many were dropped for want of room.
pub(crate) fn take_pending() -> (Vec<Sampled>, u64) {
    let mut locked = Locked::acquire();
    let pending = std::mem::take(&mut locked.tables.pending);
    let dropped = std::mem::take(&mut locked.tables.dropped);
    // Stacks nothing else holds any more (freed, drained before) go, keeping the table to what
    // is live or pending.
    locked
        .tables
        .stacks
        .retain(|stack, ()| Arc::strong_count(stack) > 1);
    (pending, dropped)
}

/// A copy of the live sampled allocations.
pub(crate) fn snapshot_live() -> Vec<Sampled> {
    let locked = Locked::acquire();
    // Sized up front: growing would free under the lock.
    let mut out = Vec::with_capacity(locked.tables.live.len());
    out.extend(locked.tables.live.values().cloned());
    out
}

/// Empties every table (sampling has stopped). Stacks go too: nothing refers to them after.
pub(crate) fn clear() {
    let mut locked = Locked::acquire();
    let tables = &mut *locked.tables;
    tables.live.clear();
    tables.pending.clear();
    tables.stacks.clear();
    tables.dropped = 0;
    for bucket in &FILTER {
        bucket.store(0, Ordering::Relaxed);
    }
}
