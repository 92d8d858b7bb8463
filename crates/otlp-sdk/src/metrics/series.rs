//! The series of an instrument: one per distinct set of attributes, found by a canonical key so
//! that the same attributes in any order, or with a key repeated (the last value wins, as the
//! specification asks of attribute collections), find the same series; and a cardinality limit
//! past which measurements go to one overflow series, `otel.metric.overflow = true`.

use otlp_proto::RevBuf;
use otlp_proto::codec;
use otlp_proto::common::KeyValue;
use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, PoisonError, RwLock};

/// The attribute the overflow series carries.
pub(crate) const OVERFLOW_KEY: &str = "otel.metric.overflow";

thread_local! {
    /// Scratch for building keys: reused, so finding an existing series allocates nothing.
    static SCRATCH: RefCell<(Vec<usize>, RevBuf)> = RefCell::new((Vec::new(), RevBuf::new()));
}

/// Writes the canonical key of `attrs` into `buf`: the attributes sorted by key, the last of each
/// repeated key kept, encoded as the protobuf `values` of a `KeyValueList`. `order` is scratch.
fn canonical(attrs: &[KeyValue], order: &mut Vec<usize>, buf: &mut RevBuf) {
    order.clear();
    order.extend(0..attrs.len());
    // Stable: among equal keys the later attribute stays later, so the last one can be kept.
    order.sort_by(|&a, &b| attrs[a].key.as_bytes().cmp(attrs[b].key.as_bytes()));
    buf.clear();
    // The buffer is written back to front: walk from the end, keeping each key's last attribute.
    let mut next_key: Option<&[u8]> = None;
    for &i in order.iter().rev() {
        let key = attrs[i].key.as_bytes();
        if next_key == Some(key) {
            continue;
        }
        next_key = Some(key);
        codec::message::encode_always(1, &attrs[i], buf);
    }
}

/// A hasher for keys already canonical: multiply and rotate over eight bytes at a time (keys
/// are short and come from the program, not from a network, so no keyed hash is needed).
#[derive(Default, Clone, Copy)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
    }
    fn write_u64(&mut self, v: u64) {
        // Keys hash themselves once (`Key::hash`): the map takes that hash as it is.
        self.0 = v;
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// The hash of a canonical key, computed once per lookup.
#[inline]
fn hash_key(bytes: &[u8]) -> u64 {
    let mut hasher = KeyHasher::default();
    hasher.write(bytes);
    // The length too, so that keys differing only in trailing zero bytes differ.
    hasher.0 ^ bytes.len() as u64
}

/// A key as the map stores it: its canonical bytes and their hash.
struct Key {
    hash: u64,
    bytes: Box<[u8]>,
}

/// A key stored or probed: lets the map find a stored [`Key`] from borrowed bytes and a hash
/// computed once.
trait KeyLike {
    fn key_hash(&self) -> u64;
    fn key_bytes(&self) -> &[u8];
}

impl KeyLike for Key {
    fn key_hash(&self) -> u64 {
        self.hash
    }
    fn key_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// A lookup's key: borrowed bytes and their hash.
struct Probe<'a> {
    hash: u64,
    bytes: &'a [u8],
}

impl KeyLike for Probe<'_> {
    fn key_hash(&self) -> u64 {
        self.hash
    }
    fn key_bytes(&self) -> &[u8] {
        self.bytes
    }
}

impl std::hash::Hash for dyn KeyLike + '_ {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.key_hash());
    }
}

impl PartialEq for dyn KeyLike + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.key_hash() == other.key_hash() && self.key_bytes() == other.key_bytes()
    }
}

impl Eq for dyn KeyLike + '_ {}

impl std::hash::Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash && self.bytes == other.bytes
    }
}

impl Eq for Key {}

impl<'a> std::borrow::Borrow<dyn KeyLike + 'a> for Key {
    fn borrow(&self) -> &(dyn KeyLike + 'a) {
        self
    }
}

#[derive(Default, Clone, Copy)]
struct BuildKeyHasher;

impl BuildHasher for BuildKeyHasher {
    type Hasher = KeyHasher;
    fn build_hasher(&self) -> KeyHasher {
        KeyHasher::default()
    }
}

type Shard<S> = RwLock<HashMap<Key, Arc<S>, BuildKeyHasher>>;

/// One series: its attributes (canonical: sorted, one value per key) and its aggregator.
#[derive(Debug)]
pub(crate) struct Series<S> {
    pub(crate) attributes: Vec<KeyValue>,
    pub(crate) aggregator: S,
}

/// An instrument's series, each an `S` (its aggregator), with the attributes it was made for.
pub(crate) struct SeriesMap<S> {
    /// Tells this map's entries in the per-thread cache from other maps'.
    id: u64,
    shards: Box<[Shard<Series<S>>]>,
    series: AtomicUsize,
    limit: Option<usize>,
    overflow: OnceLock<Arc<Series<S>>>,
}

/// Series a thread recorded into lately, found again by comparing the attributes as the call
/// site passes them: no key to build, no lock, no reference counted on a hit.
struct Cached {
    map: u64,
    attributes: Vec<KeyValue>,
    series: Arc<dyn std::any::Any + Send + Sync>,
}

/// How many series a thread keeps at hand, across all instruments.
const CACHED: usize = 16;

thread_local! {
    static CACHE: RefCell<Vec<Cached>> = const { RefCell::new(Vec::new()) };
}

const SHARDS: usize = 16;

/// The shard a key lives in: the top bits of its hash (the map uses the low ones).
#[inline]
fn shard_of(hash: u64) -> usize {
    (hash >> 60) as usize % SHARDS
}

impl<S> SeriesMap<S> {
    /// A map holding at most `limit` series besides the overflow one (`None`: no limit).
    pub(crate) fn new(limit: Option<usize>) -> Self {
        static IDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        SeriesMap {
            id: IDS.fetch_add(1, Ordering::Relaxed),
            shards: (0..SHARDS).map(|_| RwLock::default()).collect(),
            series: AtomicUsize::new(0),
            limit,
            overflow: OnceLock::new(),
        }
    }

    /// The series of `attrs`, made with `make` if it is new; the overflow series once the limit
    /// is reached.
    pub(crate) fn get(&self, attrs: &[KeyValue], make: impl FnOnce() -> S) -> Arc<Series<S>> {
        SCRATCH.with(|scratch| {
            let mut scratch = scratch.borrow_mut();
            let (order, buf) = &mut *scratch;
            canonical(attrs, order, buf);
            let key = buf.as_slice();
            let probe = Probe {
                hash: hash_key(key),
                bytes: key,
            };
            let shard = &self.shards[shard_of(probe.hash)];
            if let Some(found) = shard
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .get(&probe as &dyn KeyLike)
            {
                return found.clone();
            }
            let mut map = shard.write().unwrap_or_else(PoisonError::into_inner);
            if let Some(found) = map.get(&probe as &dyn KeyLike) {
                return found.clone();
            }
            if self
                .limit
                .is_some_and(|limit| self.series.load(Ordering::Relaxed) >= limit)
            {
                drop(map);
                return self.overflow(make);
            }
            self.series.fetch_add(1, Ordering::Relaxed);
            // A new series (the rare path): keep its attributes as the key has them.
            let mut attributes: Vec<KeyValue> = Vec::with_capacity(order.len());
            for &i in order.iter().rev() {
                if attributes.last().is_none_or(|k| k.key != attrs[i].key) {
                    attributes.push(attrs[i].clone());
                }
            }
            attributes.reverse();
            let series = Arc::new(Series {
                attributes,
                aggregator: make(),
            });
            let stored = Key {
                hash: probe.hash,
                bytes: key.into(),
            };
            map.insert(stored, series.clone());
            series
        })
    }

    /// Calls `f` on the series of `attributes` (made with `make` if new): from the thread's
    /// cache when this thread recorded into it lately with the same attributes in the same
    /// order, else under the shard's read lock; without counting a reference to it either way.
    #[inline]
    pub(crate) fn with<R>(
        &self,
        attrs: &[KeyValue],
        make: impl FnOnce() -> S,
        f: impl Fn(&Series<S>) -> R,
    ) -> R
    where
        S: Send + Sync + 'static,
    {
        let cached = CACHE.try_with(|cache| {
            let cache = cache.try_borrow().ok()?;
            let hit = cache
                .iter()
                .find(|c| c.map == self.id && c.attributes == attrs)?;
            hit.series.downcast_ref::<Series<S>>().map(&f)
        });
        if let Ok(Some(r)) = cached {
            return r;
        }
        let series = self.get(attrs, make);
        let _ = CACHE.try_with(|cache| {
            if let Ok(mut cache) = cache.try_borrow_mut() {
                if cache.len() >= CACHED {
                    cache.remove(0);
                }
                cache.push(Cached {
                    map: self.id,
                    attributes: attrs.to_vec(),
                    series: series.clone(),
                });
            }
        });
        f(&series)
    }

    /// [`SeriesMap::with`] without the thread's cache.
    #[allow(dead_code)]
    fn with_uncached<R>(
        &self,
        attrs: &[KeyValue],
        make: impl FnOnce() -> S,
        f: impl FnOnce(&Series<S>) -> R,
    ) -> R {
        let found = SCRATCH.with(|scratch| {
            let mut scratch = scratch.borrow_mut();
            let (order, buf) = &mut *scratch;
            canonical(attrs, order, buf);
            let key = buf.as_slice();
            let probe = Probe {
                hash: hash_key(key),
                bytes: key,
            };
            let map = self.shards[shard_of(probe.hash)]
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            match map.get(&probe as &dyn KeyLike) {
                Some(series) => Ok(f(series)),
                None => Err(f),
            }
        });
        match found {
            Ok(r) => r,
            Err(f) => f(&self.get(attrs, make)),
        }
    }

    fn overflow(&self, make: impl FnOnce() -> S) -> Arc<Series<S>> {
        self.overflow
            .get_or_init(|| {
                Arc::new(Series {
                    attributes: vec![KeyValue::new(OVERFLOW_KEY, true)],
                    aggregator: make(),
                })
            })
            .clone()
    }

    /// Series made so far, the overflow one not counted.
    pub(crate) fn len(&self) -> usize {
        self.series.load(Ordering::Relaxed)
    }

    /// Calls `f` on every series, the overflow one last.
    pub(crate) fn for_each(&self, mut f: impl FnMut(&[KeyValue], &S)) {
        for shard in self.shards.iter() {
            let map = shard.read().unwrap_or_else(PoisonError::into_inner);
            for series in map.values() {
                f(&series.attributes, &series.aggregator);
            }
        }
        if let Some(overflow) = self.overflow.get() {
            f(&overflow.attributes, &overflow.aggregator);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    fn kv(k: &str, v: i64) -> KeyValue {
        KeyValue::new(k.to_owned(), v)
    }

    #[test]
    fn the_same_attributes_in_any_order_find_one_series() {
        let map = SeriesMap::<AtomicU64>::new(None);
        let a = map.get(&[kv("a", 1), kv("b", 2), kv("c", 3)], AtomicU64::default);
        let b = map.get(&[kv("c", 3), kv("a", 1), kv("b", 2)], AtomicU64::default);
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(
            a.attributes,
            [kv("a", 1), kv("b", 2), kv("c", 3)],
            "kept sorted"
        );
        let other = map.get(&[kv("a", 1), kv("b", 3), kv("c", 3)], AtomicU64::default);
        assert!(!Arc::ptr_eq(&a, &other));
        let empty = map.get(&[], AtomicU64::default);
        assert!(empty.attributes.is_empty());
        assert_eq!(map.len(), 3);
    }

    #[test]
    fn a_repeated_key_keeps_its_last_value() {
        let map = SeriesMap::<AtomicU64>::new(None);
        let s = map.get(&[kv("k", 1), kv("z", 0), kv("k", 2)], AtomicU64::default);
        assert_eq!(s.attributes, [kv("k", 2), kv("z", 0)]);
        let same = map.get(&[kv("z", 0), kv("k", 2)], AtomicU64::default);
        assert!(Arc::ptr_eq(&s, &same));
    }

    #[test]
    fn past_the_limit_measurements_go_to_the_overflow_series() {
        let map = SeriesMap::<AtomicU64>::new(Some(2));
        for v in 0..5 {
            map.get(&[kv("v", v)], AtomicU64::default)
                .aggregator
                .fetch_add(1, Ordering::Relaxed);
        }
        assert_eq!(map.len(), 2);
        let mut seen = Vec::new();
        map.for_each(|attrs, n| seen.push((attrs.to_vec(), n.load(Ordering::Relaxed))));
        assert_eq!(seen.len(), 3);
        assert_eq!(
            seen.last(),
            Some(&(vec![KeyValue::new(OVERFLOW_KEY, true)], 3)),
            "three measurements past the limit"
        );
        // Existing series are still found at the limit.
        let first = map.get(&[kv("v", 0)], AtomicU64::default);
        assert_eq!(first.attributes, [kv("v", 0)]);
    }

    #[test]
    fn without_a_limit_every_set_is_a_series() {
        let map = SeriesMap::<AtomicU64>::new(None);
        for v in 0..5000 {
            map.get(&[kv("v", v)], AtomicU64::default);
        }
        assert_eq!(map.len(), 5000);
    }

    #[test]
    fn the_thread_cache_finds_the_same_series_as_the_map() {
        let a = SeriesMap::<AtomicU64>::new(None);
        let b = SeriesMap::<AtomicU64>::new(None);
        let add = |map: &SeriesMap<AtomicU64>, attrs: &[KeyValue]| {
            map.with(attrs, AtomicU64::default, |s| {
                s.aggregator.fetch_add(1, Ordering::Relaxed)
            });
        };
        // More sets than the cache holds, in both orders, into two maps.
        for round in 0..3 {
            for v in 0..(CACHED as i64 + 4) {
                add(&a, &[kv("x", v), kv("y", round)]);
                add(&a, &[kv("y", round), kv("x", v)]);
                add(&b, &[kv("x", v), kv("y", round)]);
            }
        }
        let total = |map: &SeriesMap<AtomicU64>| {
            let mut sum = 0;
            map.for_each(|_, n| sum += n.load(Ordering::Relaxed));
            sum
        };
        assert_eq!(a.len(), 3 * (CACHED + 4), "orders share a series");
        assert_eq!(total(&a), 2 * 3 * (CACHED as u64 + 4));
        assert_eq!(
            total(&b),
            3 * (CACHED as u64 + 4),
            "maps do not share cache entries"
        );
    }
}
