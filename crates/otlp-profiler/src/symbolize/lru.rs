//! [`Lru`]: a map holding at most `capacity` entries, dropping the least recently used.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

/// A bounded map. Every `get` and `insert` marks the entry as the most recently used; an
/// insert beyond the capacity drops the least recently used entry. Both are O(log n): the
/// order lives in a `BTreeMap` keyed by a use counter.
#[derive(Debug)]
pub(crate) struct Lru<K, V> {
    capacity: usize,
    entries: HashMap<K, (V, u64)>,
    order: BTreeMap<u64, K>,
    clock: u64,
}

impl<K: Hash + Eq + Clone, V> Lru<K, V> {
    /// An empty map keeping at most `capacity` entries (at least one).
    pub(crate) fn new(capacity: usize) -> Self {
        Lru {
            capacity: capacity.max(1),
            entries: HashMap::new(),
            order: BTreeMap::new(),
            clock: 0,
        }
    }

    /// The value of `key`, now the most recently used.
    pub(crate) fn get(&mut self, key: &K) -> Option<&V> {
        let (_, used) = self.entries.get_mut(key)?;
        self.clock += 1;
        self.order.remove(used);
        *used = self.clock;
        self.order.insert(self.clock, key.clone());
        self.entries.get(key).map(|(v, _)| v)
    }

    /// Sets `key` to `value`, dropping the least recently used entry when full.
    pub(crate) fn insert(&mut self, key: K, value: V) {
        self.clock += 1;
        if let Some((_, used)) = self.entries.insert(key.clone(), (value, self.clock)) {
            self.order.remove(&used);
        }
        self.order.insert(self.clock, key);
        while self.entries.len() > self.capacity {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            self.entries.remove(&oldest);
        }
    }

    /// Drops every entry.
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
        self.order.clear();
    }

    /// How many entries it holds.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::Lru;

    #[test]
    fn keeps_the_most_recently_used() {
        let mut lru = Lru::new(2);
        lru.insert(1, "a");
        lru.insert(2, "b");
        assert_eq!(lru.get(&1), Some(&"a"));
        lru.insert(3, "c");
        assert_eq!(lru.len(), 2);
        assert_eq!(lru.get(&2), None, "2 was the least recently used");
        assert_eq!(lru.get(&1), Some(&"a"));
        assert_eq!(lru.get(&3), Some(&"c"));
        lru.insert(3, "d");
        assert_eq!(lru.len(), 2);
        assert_eq!(lru.get(&3), Some(&"d"));
    }
}
