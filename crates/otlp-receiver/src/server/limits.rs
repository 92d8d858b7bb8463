//! The connection limit: a registry of a receiver's open connections (on both listeners) that
//! makes room for a new connection by evicting the one idle the longest, so that a crowd of idle
//! or slow clients cannot lock out a normal one.

use super::activity::Activity;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::time::Instant;

/// The open connections of a receiver.
#[derive(Debug)]
pub(crate) struct Registry {
    max: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    next_id: u64,
    /// Every connection whose task is still running, and whether it was evicted.
    open: HashMap<u64, (Arc<Activity>, bool)>,
    /// Evicted connections still closing (at most a short grace period): they no longer count
    /// toward the limit, or a flood would find every slot taken by connections on their way out.
    evicted: usize,
}

/// A connection's place in the registry, given up when dropped.
#[derive(Debug)]
pub(crate) struct Slot {
    registry: Arc<Registry>,
    id: u64,
    activity: Arc<Activity>,
}

impl Slot {
    /// The connection's activity, which its supervisor, requests and socket update.
    pub(crate) fn activity(&self) -> &Arc<Activity> {
        &self.activity
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut inner = self.registry.inner();
        if let Some((_, true)) = inner.open.remove(&self.id) {
            inner.evicted -= 1;
        }
    }
}

impl Registry {
    /// A registry admitting at most `max` connections at a time (at least one).
    pub(crate) fn new(max: usize) -> Self {
        Registry {
            max: max.max(1),
            inner: Mutex::new(Inner::default()),
        }
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        // Every update leaves the map consistent: a panic elsewhere does not poison it.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a connection accepted now. At the limit, the connection idle the longest is
    /// evicted to make room; if every connection is busy, there is no room: `None`, and the
    /// caller closes the new connection at once.
    pub(crate) fn admit(self: &Arc<Self>) -> Option<Slot> {
        let mut inner = self.inner();
        if inner.open.len() - inner.evicted >= self.max && !inner.evict_idlest() {
            return None;
        }
        let id = inner.next_id;
        inner.next_id += 1;
        let activity = Arc::new(Activity::new(Instant::now()));
        inner.open.insert(id, (activity.clone(), false));
        Some(Slot {
            registry: self.clone(),
            id,
            activity,
        })
    }

    /// Makes room when the process runs out of file descriptors before the limit is reached:
    /// evicts the connection idle the longest, unless an evicted connection is still closing
    /// (its descriptor is about to be freed: evicting more would empty the registry faster than
    /// connections arrive). Whether room is on its way.
    pub(crate) fn free_a_descriptor(&self) -> bool {
        let mut inner = self.inner();
        inner.evicted > 0 || inner.evict_idlest()
    }
}

impl Inner {
    fn evict_idlest(&mut self) -> bool {
        // A candidate may turn busy between the scan and the eviction (its `evict` refuses, and
        // the next scan skips it); bounded, in case connections keep flipping.
        for _ in 0..self.open.len() {
            let candidates = self
                .open
                .iter()
                .filter(|(_, (_, evicted))| !evicted)
                .map(|(id, (activity, _))| (*id, activity.idle_since()));
            let Some(id) = idlest(candidates) else {
                return false;
            };
            if let Some((activity, evicted)) = self.open.get_mut(&id)
                && activity.evict()
            {
                *evicted = true;
                self.evicted += 1;
                return true;
            }
        }
        false
    }
}

/// The candidate idle the longest (`None`: busy); on a tie, the lower key (the older connection).
fn idlest<K: Ord + Copy>(candidates: impl IntoIterator<Item = (K, Option<Instant>)>) -> Option<K> {
    candidates
        .into_iter()
        .filter_map(|(key, since)| since.map(|since| (since, key)))
        .min()
        .map(|(_, key)| key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_idlest_candidate_is_chosen_and_busy_ones_never() {
        let t0 = Instant::now();
        let at = |ms| Some(t0 + Duration::from_millis(ms));
        assert_eq!(idlest([(1, at(30)), (2, at(10)), (3, at(20))]), Some(2));
        assert_eq!(idlest([(1, None), (2, at(10)), (3, None)]), Some(2));
        assert_eq!(
            idlest([(1, at(10)), (2, None), (0, at(10))]),
            Some(0),
            "tie"
        );
        assert_eq!(idlest([(1, None), (2, None)]), None);
        assert_eq!(idlest::<u8>([]), None);
    }

    #[test]
    fn at_the_limit_the_oldest_idle_connection_makes_room() {
        let registry = Arc::new(Registry::new(2));
        let first = registry.admit().expect("room");
        let second = registry.admit().expect("room");
        let third = registry.admit().expect("the first is evicted");
        assert_eq!(first.activity().idle_since(), None, "evicted");
        assert!(second.activity().idle_since().is_some(), "still open");
        assert!(third.activity().idle_since().is_some());
        // The evicted connection, still closing, no longer counts: once the third has gone,
        // there is room for a fourth without evicting the second.
        drop(third);
        let fourth = registry.admit().expect("room");
        assert!(second.activity().idle_since().is_some(), "not evicted");
        let fifth = registry.admit().expect("the second is evicted");
        assert_eq!(second.activity().idle_since(), None);
        drop((first, second));
        assert_eq!(registry.inner().evicted, 0);
        assert_eq!(registry.inner().open.len(), 2);
        drop((fourth, fifth));
        assert!(registry.inner().open.is_empty());
    }

    #[test]
    fn at_the_limit_with_every_connection_busy_there_is_no_room() {
        let registry = Arc::new(Registry::new(2));
        let a = registry.admit().expect("room");
        let b = registry.admit().expect("room");
        let busy_a = a.activity().start_request(true);
        let busy_b = b.activity().start_request(false);
        assert!(registry.admit().is_none());
        assert!(!registry.free_a_descriptor());
        drop(busy_b);
        let c = registry.admit().expect("b is idle again and evicted");
        assert_eq!(b.activity().idle_since(), None);
        assert!(a.activity().is_busy(), "a request in progress is never cut");
        drop((busy_a, c));
    }

    #[test]
    fn out_of_descriptors_one_connection_is_evicted_at_a_time() {
        let registry = Arc::new(Registry::new(10));
        let first = registry.admit().expect("room");
        let second = registry.admit().expect("room");
        assert!(registry.free_a_descriptor());
        assert_eq!(first.activity().idle_since(), None, "evicted");
        assert!(registry.free_a_descriptor(), "the first is still closing");
        assert!(
            second.activity().idle_since().is_some(),
            "so the second stays"
        );
        drop(first);
        assert!(registry.free_a_descriptor());
        assert_eq!(
            second.activity().idle_since(),
            None,
            "evicted once the first is gone"
        );
    }

    #[test]
    fn the_limit_is_at_least_one() {
        let registry = Arc::new(Registry::new(0));
        let only = registry.admit().expect("one connection always fits");
        let next = registry.admit().expect("evicts the idle one");
        assert_eq!(only.activity().idle_since(), None);
        drop(next);
    }
}
