//! The per-thread cache of recent series: the last [`CACHED`] series a thread recorded into,
//! across instruments, found again by the attributes exactly as the call site passed them (same
//! order, same values), so a hit builds no key, takes no lock and counts no reference.
//!
//! Sound only for maps that never remove a series: an entry keeps its series alive, and a
//! thread recording through it does so without any lock a remover could take. Maps that forget
//! stale series (delta temporality) do not use it.

use super::Series;
use otlp_proto::Str;
use otlp_proto::common::{AnyValue, KeyValue, Value};
use std::any::Any;
use std::cell::RefCell;
use std::sync::Arc;

/// How many series a thread keeps at hand, across all instruments.
pub(super) const CACHED: usize = 16;

struct Cached {
    /// Which map the series is of.
    map: u64,
    attributes: Vec<KeyValue>,
    /// Owns the series (an `Arc<Series<S>>` of that map's `S`), keeping it alive as long as
    /// the entry.
    series: Arc<dyn Any + Send + Sync>,
    /// The same series' address, read on a hit without `downcast_ref`'s call through the
    /// vtable for the type id (measured: a tenth of an unbound counter add).
    at: *const (),
}

thread_local! {
    static CACHE: RefCell<Vec<Cached>> = const { RefCell::new(Vec::new()) };
}

/// Equal strings: the same bytes in the same place first (`&'static str` keys and values, shared
/// buffers), so most hits compare no bytes.
#[inline]
fn same_str(a: &Str, b: &Str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && (std::ptr::eq(a.as_ptr(), b.as_ptr()) || a == b)
}

/// Equal values as the series key sees them: floats by their bits, as they are encoded (so a
/// NaN finds its series again, and `-0.0` is not `0.0`).
#[inline]
fn same_value(a: &Option<AnyValue>, b: &Option<AnyValue>) -> bool {
    match (a, b) {
        (Some(AnyValue { value: Some(x) }), Some(AnyValue { value: Some(y) })) => match (x, y) {
            (Value::StringValue(x), Value::StringValue(y)) => same_str(x, y),
            (Value::IntValue(x), Value::IntValue(y)) => x == y,
            (Value::BoolValue(x), Value::BoolValue(y)) => x == y,
            (Value::DoubleValue(x), Value::DoubleValue(y)) => x.to_bits() == y.to_bits(),
            (x, y) => x == y,
        },
        _ => a == b,
    }
}

#[inline]
fn same_attributes(a: &[KeyValue], b: &[KeyValue]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(a, b)| {
            same_str(&a.key, &b.key)
                && a.key_strindex == b.key_strindex
                && same_value(&a.value, &b.value)
        })
}

/// `f` on the series of map `map` this thread cached for `attrs`, if any.
#[inline]
pub(super) fn find<S: Send + Sync + 'static, R>(
    map: u64,
    attrs: &[KeyValue],
    f: impl FnOnce(&Series<S>) -> R,
) -> Option<R> {
    CACHE
        .try_with(|cache| {
            let cache = cache.try_borrow().ok()?;
            let hit = cache
                .iter()
                .find(|c| c.map == map && same_attributes(&c.attributes, attrs))?;
            debug_assert!(hit.series.is::<Series<S>>());
            // SAFETY: map ids are unique in the process (`SeriesMap::new` counts them and never
            // reuses one) and a `SeriesMap<S>` inserts only its own `Arc<Series<S>>` under its
            // id (`insert` is called by `SeriesMap::<S>::with` with `self.id`), so an entry of
            // map `map` holds a `Series<S>` at `at`; `hit.series` keeps it alive while the
            // cache is borrowed, which lasts as long as the reference given to `f`.
            #[allow(unsafe_code)]
            let series = unsafe { &*hit.at.cast::<Series<S>>() };
            Some(f(series))
        })
        .ok()
        .flatten()
}

/// Keeps `series` at hand for `attrs` of map `map`, in place of the oldest entry if full.
pub(super) fn insert<S: Send + Sync + 'static>(
    map: u64,
    attrs: &[KeyValue],
    series: Arc<Series<S>>,
) {
    let _ = CACHE.try_with(|cache| {
        if let Ok(mut cache) = cache.try_borrow_mut() {
            if cache.len() >= CACHED {
                // The oldest entry's vector is reused: a thread going round more series than
                // the cache holds still records without allocating.
                let mut oldest = cache.remove(0);
                oldest.map = map;
                oldest.attributes.clear();
                oldest.attributes.extend_from_slice(attrs);
                oldest.at = Arc::as_ptr(&series).cast();
                oldest.series = series;
                cache.push(oldest);
            } else {
                cache.push(Cached {
                    map,
                    attributes: attrs.to_vec(),
                    at: Arc::as_ptr(&series).cast(),
                    series,
                });
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_match_by_value_not_by_place() {
        let owned = |k: &str, v: &str| KeyValue::new(k.to_owned(), v.to_owned());
        let a = [KeyValue::new("k", "v"), KeyValue::new("n", 1.5)];
        let b = [owned("k", "v"), KeyValue::new("n", 1.5)];
        assert!(same_attributes(&a, &b));
        assert!(!same_attributes(
            &a,
            &[owned("k", "w"), KeyValue::new("n", 1.5)]
        ));
        assert!(!same_attributes(
            &a,
            &[owned("k", "v"), KeyValue::new("n", 2.5)]
        ));
        assert!(!same_attributes(&a, &a[..1]));
        assert!(!same_attributes(
            &[KeyValue::new("z", 0.0)],
            &[KeyValue::new("z", -0.0)]
        ));
        let nan = [KeyValue::new("z", f64::NAN)];
        assert!(same_attributes(&nan, &nan.clone()));
        assert!(!same_attributes(
            &[KeyValue::new("i", 1)],
            &[KeyValue::new("i", 1.0)]
        ));
        let empty = KeyValue {
            value: None,
            ..KeyValue::new("e", 0)
        };
        assert!(!same_attributes(
            std::slice::from_ref(&empty),
            &[KeyValue::new("e", 0)]
        ));
        let same = [empty.clone()];
        assert!(same_attributes(std::slice::from_ref(&empty), &same));
    }
}
