//! The series of an instrument: one per distinct set of attributes, found by a canonical key so
//! that the same attributes in any order, or with a key repeated (the last value wins, as the
//! specification asks of attribute collections), find the same series; and a cardinality limit
//! past which measurements go to one overflow series, `otel.metric.overflow = true`.
//!
//! Maps of delta instruments forget the series that had nothing to report in an interval
//! ([`SeriesMap::for_each_delta`]), so their memory follows the series actually seen. Removing
//! a series safely shapes how such maps are recorded into:
//! - a recording finds its series and records into it under the shard's read lock, and a series
//!   is removed under the shard's write lock, so no recording is ever half-way into a series as
//!   it goes (its measurement would be lost). The per-thread cache, which records with no lock,
//!   is therefore for maps that never remove (cumulative ones);
//! - a series is removed only if, under that write lock, it still has nothing to report: a
//!   measurement that came between the collection's look and the removal is reported, not lost;
//! - a bound series ([`Pinned`]) is never removed while the handle lives.

mod cache;
mod key;
#[cfg(test)]
mod tests;

use key::{BuildKeyHasher, Key, KeyLike, Probe, SCRATCH, canonical, hash_key};
use otlp_proto::common::KeyValue;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, PoisonError, RwLock, RwLockWriteGuard};

/// The attribute the overflow series carries.
pub(crate) const OVERFLOW_KEY: &str = "otel.metric.overflow";

type Shard<S> = RwLock<HashMap<Key, Arc<S>, BuildKeyHasher>>;

/// One series: its aggregator. Its attributes are its key in the map (canonical: sorted, one
/// value per key, encoded as protobuf), which a collection copies into the points as they are.
#[derive(Debug)]
pub(crate) struct Series<S> {
    pub(crate) aggregator: S,
    /// Bound handles ([`Pinned`]) to this series: it is not forgotten while there are any.
    pins: AtomicUsize,
}

impl<S> Series<S> {
    fn new(aggregator: S) -> Self {
        Series {
            aggregator,
            pins: AtomicUsize::new(0),
        }
    }
}

/// A series held by a bound handle: the map keeps it (and does not forget it, under delta
/// temporality) until this is dropped. Dereferences to the [`Series`].
#[derive(Debug)]
pub(crate) struct Pinned<S>(Arc<Series<S>>);

impl<S> std::ops::Deref for Pinned<S> {
    type Target = Series<S>;
    #[inline]
    fn deref(&self) -> &Series<S> {
        &self.0
    }
}

impl<S> Drop for Pinned<S> {
    fn drop(&mut self) {
        // No lock needed: at worst the series is kept one collection longer.
        self.0.pins.fetch_sub(1, Ordering::Release);
    }
}

/// An instrument's series, each an `S` (its aggregator), with the attributes it was made for.
pub(crate) struct SeriesMap<S> {
    /// Tells this map's entries in the per-thread cache from other maps'.
    id: u64,
    shards: Box<[Shard<Series<S>>]>,
    series: AtomicUsize,
    limit: Option<usize>,
    /// The overflow series and its key.
    overflow: OnceLock<(Key, Arc<Series<S>>)>,
    /// Whether stale series are forgotten (delta temporality): then no per-thread cache.
    forgets: bool,
}

const SHARDS: usize = 16;

/// The canonical key of `attrs` (sorted by key, the last of a repeated key kept, encoded as
/// the protobuf `values` of a `KeyValueList`): what the map keys series by, for those who
/// keep sets of attributes elsewhere.
pub(crate) fn canonical_key(attrs: &[KeyValue]) -> Vec<u8> {
    SCRATCH.with(|scratch| {
        let mut scratch = scratch.borrow_mut();
        let (order, buf) = &mut *scratch;
        canonical(attrs, order, buf);
        buf.as_slice().to_vec()
    })
}

/// How many series ahead a collection touches the next one.
const AHEAD: usize = 4;

/// The shard a key lives in: the top bits of its hash (the map uses the low ones).
#[inline]
fn shard_of(hash: u64) -> usize {
    (hash >> 60) as usize % SHARDS
}

impl<S> SeriesMap<S> {
    /// A map holding at most `limit` series besides the overflow one (`None`: no limit), every
    /// series kept once seen (cumulative temporality).
    pub(crate) fn new(limit: Option<usize>) -> Self {
        static IDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        SeriesMap {
            id: IDS.fetch_add(1, Ordering::Relaxed),
            shards: (0..SHARDS).map(|_| RwLock::default()).collect(),
            series: AtomicUsize::new(0),
            limit,
            overflow: OnceLock::new(),
            forgets: false,
        }
    }

    /// A map as [`SeriesMap::new`] makes, whose series with nothing to report in an interval
    /// are forgotten by [`SeriesMap::for_each_delta`] (delta temporality).
    pub(crate) fn new_delta(limit: Option<usize>) -> Self {
        SeriesMap {
            forgets: true,
            ..SeriesMap::new(limit)
        }
    }

    /// Calls `f` on the series of `attrs` (made with `make` if new; the overflow series once the
    /// limit is reached) under its shard's lock, so that the series cannot be forgotten
    /// meanwhile. `f` gets the `Arc` only to clone it; it runs under a write lock when the series
    /// is new.
    fn locked<R>(
        &self,
        attrs: &[KeyValue],
        make: impl FnOnce() -> S,
        f: impl FnOnce(&Arc<Series<S>>) -> R,
    ) -> R {
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
            {
                let map = shard.read().unwrap_or_else(PoisonError::into_inner);
                if let Some(found) = map.get(&probe as &dyn KeyLike) {
                    return f(found);
                }
            }
            let mut map = shard.write().unwrap_or_else(PoisonError::into_inner);
            if let Some(found) = map.get(&probe as &dyn KeyLike) {
                return f(found);
            }
            if self
                .limit
                .is_some_and(|limit| self.series.load(Ordering::Relaxed) >= limit)
            {
                drop(map);
                // The overflow series is never forgotten: no lock needed.
                return f(self.overflow(make));
            }
            self.series.fetch_add(1, Ordering::Relaxed);
            let series = Arc::new(Series::new(make()));
            let stored = Key {
                hash: probe.hash,
                bytes: key.into(),
            };
            let r = f(&series);
            map.insert(stored, series);
            r
        })
    }

    /// The series of `attrs`, made with `make` if it is new; the overflow series once the limit
    /// is reached. Not pinned: for maps that never forget, and tests.
    pub(crate) fn get(&self, attrs: &[KeyValue], make: impl FnOnce() -> S) -> Arc<Series<S>> {
        self.locked(attrs, make, Arc::clone)
    }

    /// The series of `attrs` as [`SeriesMap::get`] finds it, pinned: kept until the returned
    /// handle drops, for bound instruments.
    pub(crate) fn pin(&self, attrs: &[KeyValue], make: impl FnOnce() -> S) -> Pinned<S> {
        // Counted under the shard's lock, so no removal sees the series unpinned meanwhile.
        Pinned(self.locked(attrs, make, |series| {
            series.pins.fetch_add(1, Ordering::Relaxed);
            series.clone()
        }))
    }

    /// Calls `f` on the series of `attributes` (made with `make` if new) without counting a
    /// reference to it: in a map that never forgets, from the thread's cache when this thread
    /// recorded into it lately with the same attributes in the same order; else (and always
    /// in a map that forgets) under the shard's read lock.
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
        if self.forgets {
            return self.locked(attrs, make, |series| f(series));
        }
        if let Some(r) = cache::find(self.id, attrs, &f) {
            return r;
        }
        let series = self.get(attrs, make);
        let r = f(&series);
        cache::insert(self.id, attrs, series);
        r
    }

    fn overflow(&self, make: impl FnOnce() -> S) -> &Arc<Series<S>> {
        &self
            .overflow
            .get_or_init(|| {
                let mut buf = otlp_proto::RevBuf::new();
                canonical(
                    &[KeyValue::new(OVERFLOW_KEY, true)],
                    &mut Vec::new(),
                    &mut buf,
                );
                let key = Key {
                    hash: hash_key(buf.as_slice()),
                    bytes: buf.as_slice().into(),
                };
                (key, Arc::new(Series::new(make())))
            })
            .1
    }

    /// Series kept now, the overflow one not counted.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.series.load(Ordering::Relaxed)
    }

    /// Calls `f` on every series, with its key (the protobuf bytes of its attributes as
    /// `KeyValueList.values`), the overflow one last.
    pub(crate) fn for_each(&self, f: impl FnMut(&[u8], &S)) {
        self.for_each_ahead(|_| {}, f);
    }

    /// [`for_each`](Self::for_each), calling `touch` on the series a few places ahead of the
    /// one `f` collects (and loading its key): series live in allocations of their own, so a
    /// collection is bound by the latency of fetching each; touching ahead fetches several at
    /// once.
    pub(crate) fn for_each_ahead(&self, touch: impl Fn(&S), mut f: impl FnMut(&[u8], &S)) {
        // Every series reports: none is forgotten, whatever the map.
        self.for_each_delta(touch, |key, aggregator| {
            f(key, aggregator);
            true
        });
    }

    /// Calls `f` on every series, the overflow one last, as a delta collection does: `f` takes
    /// the series' interval and says whether it had a point to report. In a map made by
    /// [`SeriesMap::new_delta`], series that had none and are not bound are forgotten (their
    /// cardinality freed). Recording is held up only while a stale series is checked again and
    /// removed, never while the others are collected.
    pub(crate) fn for_each_delta(&self, touch: impl Fn(&S), mut f: impl FnMut(&[u8], &S) -> bool) {
        let mut stale: Vec<(Key, Arc<Series<S>>)> = Vec::new();
        for shard in self.shards.iter() {
            {
                let map = shard.read().unwrap_or_else(PoisonError::into_inner);
                let mut ahead = map.iter().skip(AHEAD);
                for (key, series) in map.iter() {
                    if let Some((next_key, next)) = ahead.next() {
                        std::hint::black_box(next_key.bytes.first());
                        touch(&next.aggregator);
                    }
                    let reported = f(&key.bytes, &series.aggregator);
                    if self.forgets && !reported && series.pins.load(Ordering::Relaxed) == 0 {
                        stale.push((key.clone(), series.clone()));
                    }
                }
            }
            if !stale.is_empty() {
                let mut map = shard.write().unwrap_or_else(PoisonError::into_inner);
                self.forget(&mut map, &stale, &mut f);
                stale.clear();
            }
        }
        if let Some((key, overflow)) = self.overflow.get() {
            f(&key.bytes, &overflow.aggregator);
        }
    }

    /// Removes those of `stale` that are still unbound and have still nothing to report, under
    /// the write lock `map` (so no recording is in them): a measurement that came since the
    /// first look is collected by `f` now and keeps its series.
    fn forget(
        &self,
        map: &mut RwLockWriteGuard<'_, HashMap<Key, Arc<Series<S>>, BuildKeyHasher>>,
        stale: &[(Key, Arc<Series<S>>)],
        f: &mut impl FnMut(&[u8], &S) -> bool,
    ) {
        for (key, series) in stale {
            if series.pins.load(Ordering::Acquire) != 0 || f(&key.bytes, &series.aggregator) {
                continue;
            }
            if map.remove(key).is_some() {
                self.series.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }

    /// The attributes of `series`, found by a walk of the map.
    #[cfg(test)]
    pub(crate) fn attributes_of(&self, series: &Arc<Series<S>>) -> Option<Vec<KeyValue>> {
        let found = self.shards.iter().find_map(|shard| {
            let map = shard.read().unwrap_or_else(PoisonError::into_inner);
            map.iter()
                .find(|(_, s)| Arc::ptr_eq(s, series))
                .map(|(key, _)| key.bytes.clone())
        });
        found.map(|key| decode_key(&key))
    }
}

/// The attributes a key encodes (tests).
#[cfg(test)]
pub(crate) fn decode_key(key: &[u8]) -> Vec<KeyValue> {
    use otlp_proto::Message as _;
    let bytes = bytes::Bytes::copy_from_slice(key);
    otlp_proto::common::KeyValueList::decode(&bytes)
        .expect("a key decodes")
        .values
}
