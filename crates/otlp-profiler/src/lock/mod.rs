//! Lock contention profiling: [`Mutex`] and [`RwLock`], drop-in locks (the `lock_api` types
//! over `parking_lot`'s raw locks) that time and sample their contended acquisitions, and
//! `MutexSource`, through which a collector turns that on and takes the samples.

mod raw;
mod record;

pub use raw::{RawMutex, RawRwLock};
#[allow(unused_imports)]
pub(crate) use record::MutexSource;

/// A mutual exclusion lock whose contended acquisitions show in the `mutex` profile. Use it
/// as `parking_lot::Mutex` (or `std::sync::Mutex` without poisoning).
///
/// ```
/// use otlp_profiler::Mutex;
///
/// static COUNT: Mutex<u64> = Mutex::new(0);
/// *COUNT.lock() += 1;
/// assert_eq!(*COUNT.lock(), 1);
/// ```
pub type Mutex<T> = lock_api::Mutex<RawMutex, T>;
/// The guard of a locked [`Mutex`].
pub type MutexGuard<'a, T> = lock_api::MutexGuard<'a, RawMutex, T>;
/// A reader-writer lock whose contended acquisitions (shared or exclusive) show in the
/// `mutex` profile. Use it as `parking_lot::RwLock`.
///
/// ```
/// use otlp_profiler::RwLock;
///
/// let lock = RwLock::new(vec![1]);
/// lock.write().push(2);
/// assert_eq!(lock.read().len(), 2);
/// ```
pub type RwLock<T> = lock_api::RwLock<RawRwLock, T>;
/// The guard of a [`RwLock`] read-locked.
pub type RwLockReadGuard<'a, T> = lock_api::RwLockReadGuard<'a, RawRwLock, T>;
/// The guard of a [`RwLock`] write-locked.
pub type RwLockWriteGuard<'a, T> = lock_api::RwLockWriteGuard<'a, RawRwLock, T>;
