//! [`RawMutex`] and [`RawRwLock`]: `parking_lot`'s raw locks with an uncontended try-lock
//! first and the contended path timed.

#![allow(unsafe_code)]

use super::record::contended;
use lock_api::{GuardNoSend, RawMutex as _, RawRwLock as _};
use std::time::{Duration, Instant};

/// The raw lock under [`Mutex`](crate::Mutex).
pub struct RawMutex {
    inner: parking_lot::RawMutex,
}

// SAFETY: every operation is the inner lock's; a lock only succeeds through the inner lock's
// `lock` or `try_lock`, so exclusion is the inner lock's.
unsafe impl lock_api::RawMutex for RawMutex {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: RawMutex = RawMutex {
        inner: parking_lot::RawMutex::INIT,
    };
    type GuardMarker = GuardNoSend;

    #[inline]
    fn lock(&self) {
        if !self.inner.try_lock() {
            contended(|| self.inner.lock());
        }
    }

    #[inline]
    fn try_lock(&self) -> bool {
        self.inner.try_lock()
    }

    #[inline]
    unsafe fn unlock(&self) {
        // SAFETY: the caller holds the lock, as `unlock` requires; so it holds the inner one.
        unsafe { self.inner.unlock() }
    }

    #[inline]
    fn is_locked(&self) -> bool {
        self.inner.is_locked()
    }
}

// SAFETY: as for `RawMutex`: the inner lock's fair unlock, under the same contract.
unsafe impl lock_api::RawMutexFair for RawMutex {
    #[inline]
    unsafe fn unlock_fair(&self) {
        // SAFETY: the caller holds the lock, as `unlock_fair` requires.
        unsafe { self.inner.unlock_fair() }
    }

    #[inline]
    unsafe fn bump(&self) {
        // SAFETY: the caller holds the lock, as `bump` requires.
        unsafe { self.inner.bump() }
    }
}

// SAFETY: as for `RawMutex`: the inner lock's timed acquisitions, the contended ones timed.
unsafe impl lock_api::RawMutexTimed for RawMutex {
    type Duration = Duration;
    type Instant = Instant;

    #[inline]
    fn try_lock_for(&self, timeout: Duration) -> bool {
        self.inner.try_lock() || contended(|| self.inner.try_lock_for(timeout))
    }

    #[inline]
    fn try_lock_until(&self, timeout: Instant) -> bool {
        self.inner.try_lock() || contended(|| self.inner.try_lock_until(timeout))
    }
}

/// The raw lock under [`RwLock`](crate::RwLock).
pub struct RawRwLock {
    inner: parking_lot::RawRwLock,
}

// SAFETY: every operation is the inner lock's; a lock only succeeds through the inner lock's
// lock or try-lock calls of the same mode, so the exclusion rules are the inner lock's.
unsafe impl lock_api::RawRwLock for RawRwLock {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: RawRwLock = RawRwLock {
        inner: parking_lot::RawRwLock::INIT,
    };
    type GuardMarker = GuardNoSend;

    #[inline]
    fn lock_shared(&self) {
        if !self.inner.try_lock_shared() {
            contended(|| self.inner.lock_shared());
        }
    }

    #[inline]
    fn try_lock_shared(&self) -> bool {
        self.inner.try_lock_shared()
    }

    #[inline]
    unsafe fn unlock_shared(&self) {
        // SAFETY: the caller holds a shared lock, so it holds one of the inner lock.
        unsafe { self.inner.unlock_shared() }
    }

    #[inline]
    fn lock_exclusive(&self) {
        if !self.inner.try_lock_exclusive() {
            contended(|| self.inner.lock_exclusive());
        }
    }

    #[inline]
    fn try_lock_exclusive(&self) -> bool {
        self.inner.try_lock_exclusive()
    }

    #[inline]
    unsafe fn unlock_exclusive(&self) {
        // SAFETY: the caller holds the exclusive lock, so it holds the inner one's.
        unsafe { self.inner.unlock_exclusive() }
    }

    #[inline]
    fn is_locked(&self) -> bool {
        self.inner.is_locked()
    }

    #[inline]
    fn is_locked_exclusive(&self) -> bool {
        self.inner.is_locked_exclusive()
    }
}

// SAFETY: as for `RawRwLock`: the inner lock's fair unlocks, under the same contracts.
unsafe impl lock_api::RawRwLockFair for RawRwLock {
    #[inline]
    unsafe fn unlock_shared_fair(&self) {
        // SAFETY: the caller holds a shared lock.
        unsafe { self.inner.unlock_shared_fair() }
    }

    #[inline]
    unsafe fn unlock_exclusive_fair(&self) {
        // SAFETY: the caller holds the exclusive lock.
        unsafe { self.inner.unlock_exclusive_fair() }
    }
}

// SAFETY: as for `RawRwLock`: the inner lock's downgrade, under the same contract.
unsafe impl lock_api::RawRwLockDowngrade for RawRwLock {
    #[inline]
    unsafe fn downgrade(&self) {
        // SAFETY: the caller holds the exclusive lock, as `downgrade` requires.
        unsafe { self.inner.downgrade() }
    }
}

impl std::fmt::Debug for RawMutex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawMutex")
            .field("locked", &self.inner.is_locked())
            .finish()
    }
}

impl std::fmt::Debug for RawRwLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawRwLock")
            .field("locked", &self.inner.is_locked())
            .finish()
    }
}
