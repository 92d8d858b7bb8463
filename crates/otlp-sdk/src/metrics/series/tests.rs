//! The series map: keys, the cardinality limit, the thread cache, forgetting stale series.

use super::cache::CACHED;
use super::*;
use std::sync::atomic::{AtomicBool, AtomicU64};

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
        map.attributes_of(&a).unwrap(),
        [kv("a", 1), kv("b", 2), kv("c", 3)],
        "kept sorted"
    );
    let other = map.get(&[kv("a", 1), kv("b", 3), kv("c", 3)], AtomicU64::default);
    assert!(!Arc::ptr_eq(&a, &other));
    let empty = map.get(&[], AtomicU64::default);
    assert!(map.attributes_of(&empty).unwrap().is_empty());
    assert_eq!(map.len(), 3);
}

#[test]
fn a_repeated_key_keeps_its_last_value() {
    let map = SeriesMap::<AtomicU64>::new(None);
    let s = map.get(&[kv("k", 1), kv("z", 0), kv("k", 2)], AtomicU64::default);
    assert_eq!(map.attributes_of(&s).unwrap(), [kv("k", 2), kv("z", 0)]);
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
    map.for_each(|key, n| seen.push((decode_key(key), n.load(Ordering::Relaxed))));
    assert_eq!(seen.len(), 3);
    assert_eq!(
        seen.last(),
        Some(&(vec![KeyValue::new(OVERFLOW_KEY, true)], 3)),
        "three measurements past the limit"
    );
    // Existing series are still found at the limit.
    let first = map.get(&[kv("v", 0)], AtomicU64::default);
    assert_eq!(map.attributes_of(&first).unwrap(), [kv("v", 0)]);
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

/// A delta collection of `map`: the values taken, by attributes; a series reports if non-zero.
fn take(map: &SeriesMap<AtomicU64>) -> Vec<(Vec<KeyValue>, u64)> {
    let mut taken = Vec::new();
    map.for_each_delta(
        |_| {},
        |key, n| {
            let v = n.swap(0, Ordering::Relaxed);
            if v > 0 {
                taken.push((decode_key(key), v));
            }
            v > 0
        },
    );
    taken
}

fn add(map: &SeriesMap<AtomicU64>, attrs: &[KeyValue], v: u64) {
    map.with(attrs, AtomicU64::default, |s| {
        s.aggregator.fetch_add(v, Ordering::Relaxed)
    });
}

#[test]
fn a_delta_series_not_updated_for_an_interval_is_forgotten() {
    let map = SeriesMap::<AtomicU64>::new_delta(Some(2));
    add(&map, &[kv("a", 1)], 1);
    add(&map, &[kv("b", 1)], 2);
    add(&map, &[kv("c", 1)], 4); // past the limit: overflow
    assert_eq!(map.len(), 2);
    assert_eq!(take(&map).len(), 3);
    add(&map, &[kv("a", 1)], 8);
    // "b" had nothing in this interval: gone, its place free again.
    assert_eq!(take(&map), [(vec![kv("a", 1)], 8)]);
    assert_eq!(map.len(), 1);
    add(&map, &[kv("c", 1)], 16);
    assert_eq!(map.len(), 2, "a new series is taken under the limit again");
    let mut seen = take(&map);
    seen.sort_by_key(|(_, v)| *v);
    assert_eq!(seen, [(vec![kv("c", 1)], 16)]);
    assert_eq!(map.len(), 1, "\"a\" went quiet");
    // A forgotten series comes back empty when recorded into again.
    add(&map, &[kv("b", 1)], 32);
    assert_eq!(take(&map), [(vec![kv("b", 1)], 32)]);
}

#[test]
fn a_cumulative_map_forgets_nothing() {
    let map = SeriesMap::<AtomicU64>::new(None);
    add(&map, &[kv("a", 1)], 1);
    take(&map);
    take(&map);
    assert_eq!(map.len(), 1);
}

#[test]
fn a_bound_delta_series_is_kept_while_bound() {
    let map = SeriesMap::<AtomicU64>::new_delta(None);
    let bound = map.pin(&[kv("a", 1)], AtomicU64::default);
    let again = map.pin(&[kv("a", 1)], AtomicU64::default);
    bound.aggregator.fetch_add(3, Ordering::Relaxed);
    assert_eq!(take(&map).len(), 1);
    assert!(take(&map).is_empty());
    drop(again);
    assert_eq!(map.len(), 1, "still bound once");
    bound.aggregator.fetch_add(5, Ordering::Relaxed);
    assert_eq!(
        take(&map),
        [(vec![kv("a", 1)], 5)],
        "recorded into the kept series"
    );
    drop(bound);
    take(&map);
    assert_eq!(map.len(), 0, "forgotten once unbound and quiet");
}

#[test]
fn delta_totals_are_exact_while_series_are_forgotten() {
    const THREADS: u64 = 4;
    const ROUNDS: u64 = 20_000;
    const SERIES: i64 = 1024;
    let map = Arc::new(SeriesMap::<AtomicU64>::new_delta(None));
    let done = Arc::new(AtomicBool::new(false));
    let collector = {
        let (map, done) = (map.clone(), done.clone());
        std::thread::spawn(move || {
            let mut total = 0;
            let mut collections = 0;
            // At least 50 collections, and on until the writers are done.
            while collections < 50 || !done.load(Ordering::Acquire) {
                total += take(&map).iter().map(|(_, v)| v).sum::<u64>();
                collections += 1;
                std::thread::yield_now();
            }
            total + take(&map).iter().map(|(_, v)| v).sum::<u64>()
        })
    };
    let writers: Vec<_> = (0..THREADS)
        .map(|t| {
            let map = map.clone();
            std::thread::spawn(move || {
                for r in 0..ROUNDS {
                    // Series come and go: each thread sweeps its own range and a shared one.
                    let v = (r as i64 * 7 + t as i64) % SERIES;
                    add(&map, &[kv("s", v), kv("t", (t % 2) as i64)], 1);
                    add(&map, &[kv("s", v)], 2);
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    done.store(true, Ordering::Release);
    assert_eq!(collector.join().unwrap(), THREADS * ROUNDS * 3);
    assert!(map.len() <= 2 * SERIES as usize);
}

#[test]
fn a_delta_instrument_forgets_its_quiet_series_but_not_its_bound_ones() {
    use crate::metrics::aggregate::sum::StripedSum;
    use crate::metrics::instrument::{Descriptor, Instrument};
    use otlp_proto::Str;
    use otlp_proto::metrics::{MetricData, Sum};
    let descriptor = Descriptor {
        name: Str::from_static("requests"),
        description: Str::new(),
        unit: Str::new(),
    };
    let template = MetricData::Sum(Sum::default());
    let counter = Instrument::new(
        descriptor,
        template,
        true,
        Some(2),
        StripedSum::<u64>::default,
    );
    let points = |now| match counter
        .collect(0, now)
        .map(crate::metrics::export::Collected::into_metric)
        .and_then(|m| m.data)
    {
        Some(MetricData::Sum(sum)) => sum.data_points.len(),
        _ => 0,
    };
    let bound = counter.bind(&[kv("bound", 1)]);
    counter.record(1, &[kv("quiet", 1)]);
    bound.record(1);
    assert_eq!(points(1), 2);
    assert_eq!(points(2), 0, "nothing since");
    // "quiet" was forgotten: the limit of 2 has room for a new series again.
    counter.record(5, &[kv("new", 1)]);
    bound.record(2);
    let metric = counter
        .collect(2, 3)
        .map(crate::metrics::export::Collected::into_metric)
        .and_then(|m| m.data);
    let Some(MetricData::Sum(sum)) = metric else {
        panic!("{metric:?}");
    };
    let mut seen: Vec<_> = sum
        .data_points
        .iter()
        .map(|p| (p.attributes.clone(), p.value.clone()))
        .collect();
    seen.sort_by_key(|(a, _)| format!("{a:?}"));
    use otlp_proto::metrics::NumberValue::AsInt;
    assert_eq!(
        seen,
        [
            (vec![kv("bound", 1)], Some(AsInt(2))),
            (vec![kv("new", 1)], Some(AsInt(5))),
        ],
        "no overflow series: the bound series kept, the quiet one freed"
    );
}
