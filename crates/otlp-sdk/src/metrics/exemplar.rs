//! Exemplars: sample measurements kept with the span they were recorded in, the attributes
//! their series dropped, and their time.
//!
//! - [`ExemplarFilter`] says which measurements may become exemplars
//!   (`OTEL_METRICS_EXEMPLAR_FILTER`); the recording path asks it once per measurement
//!   ([`ExemplarFilter::eligible`]), which reads the current span at most once.
//! - A [`Reservoir`] per series keeps some of the eligible ones until the next collection,
//!   which drains it: [`SimpleFixedSize`] (uniform sampling, the specification's algorithm R)
//!   or [`AlignedHistogramBucket`] (the last measurement of each histogram bucket).
//!
//! A reservoir never makes a recording thread wait: its slots sit behind a mutex taken with
//! `try_lock`, and an offer that finds it taken (another thread storing into the same series'
//! reservoir, or a collection draining it) is skipped. Exemplars are samples: losing one
//! under contention changes nothing a reader relies on, while waiting would put a lock's
//! worst case on the recording path.

use super::aggregate::buckets::Boundaries;
use super::view::StreamAggregation;
use crate::context::SpanIds;
use bytes::Bytes;
use otlp_proto::common::KeyValue;
use otlp_proto::metrics::{Exemplar, ExemplarValue, NumberValue};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError};

/// The environment variable choosing the [`ExemplarFilter`].
const ENV: &str = "OTEL_METRICS_EXEMPLAR_FILTER";

/// Which measurements may become exemplars (`OTEL_METRICS_EXEMPLAR_FILTER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ExemplarFilter {
    /// Every measurement (`always_on`).
    AlwaysOn,
    /// None: no exemplars (`always_off`).
    AlwaysOff,
    /// Measurements recorded inside a sampled span (`trace_based`, the default).
    #[default]
    TraceBased,
}

impl ExemplarFilter {
    /// The value used in the environment variable.
    pub const fn name(self) -> &'static str {
        match self {
            ExemplarFilter::AlwaysOn => "always_on",
            ExemplarFilter::AlwaysOff => "always_off",
            ExemplarFilter::TraceBased => "trace_based",
        }
    }

    /// The filter a value of `OTEL_METRICS_EXEMPLAR_FILTER` names (in any ASCII case, as the
    /// specification asks of enumerated values); an error naming the variable and the value
    /// otherwise.
    pub fn from_env_value(value: &str) -> Result<Self, crate::Error> {
        match value.trim().to_ascii_lowercase().as_str() {
            "always_on" => Ok(ExemplarFilter::AlwaysOn),
            "always_off" => Ok(ExemplarFilter::AlwaysOff),
            "trace_based" => Ok(ExemplarFilter::TraceBased),
            _ => Err(crate::Error::env(
                ENV,
                value,
                "expected always_on, always_off or trace_based",
            )),
        }
    }

    /// Whether a measurement recorded now may become an exemplar, and in which span: `None`
    /// when it may not (no reservoir need be offered it).
    #[inline]
    pub(crate) fn eligible(self) -> Option<Eligible> {
        match self {
            ExemplarFilter::AlwaysOff => None,
            ExemplarFilter::AlwaysOn => Some(Eligible {
                span: current_span(),
            }),
            ExemplarFilter::TraceBased => current_span()
                .filter(|ids| ids.trace_flags.is_sampled())
                .map(|ids| Eligible { span: Some(ids) }),
        }
    }
}

impl fmt::Display for ExemplarFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A measurement the filter lets through, with the span current when it was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Eligible {
    pub(crate) span: Option<SpanIds>,
}

/// The ids of the valid span current on this thread, if any (cheap when no context is).
#[inline]
pub(crate) fn current_span() -> Option<SpanIds> {
    crate::context::current_parent().and_then(|context| SpanIds::of(&context))
}

/// An aggregator's value as an exemplar's.
pub(crate) fn exemplar_value(value: NumberValue) -> ExemplarValue {
    match value {
        NumberValue::AsInt(v) => ExemplarValue::AsInt(v),
        NumberValue::AsDouble(v) => ExemplarValue::AsDouble(v),
    }
}

fn as_f64(value: &ExemplarValue) -> f64 {
    match *value {
        ExemplarValue::AsInt(v) => v as f64,
        ExemplarValue::AsDouble(v) => v,
    }
}

/// The size of a fixed-size reservoir of a stream that is not a histogram. The specification
/// allows the number of CPUs, to spread contention; slots here share one lock however many
/// there are, so more slots would cost memory and buy nothing, and it asks for 1 otherwise.
const DEFAULT_FIXED_SIZE: usize = 1;
/// The most slots of an exponential histogram's reservoir (the specification's
/// `min(20, max_size)`).
const EXPONENTIAL_FIXED_SIZE: usize = 20;

/// One kept measurement.
#[derive(Debug)]
struct Slot {
    value: ExemplarValue,
    time_unix_nano: u64,
    span: Option<SpanIds>,
    filtered_attributes: Vec<KeyValue>,
}

impl Slot {
    fn into_exemplar(self) -> Exemplar {
        let (trace_id, span_id) = match self.span {
            Some(ids) => (
                Bytes::copy_from_slice(&ids.trace_id.to_bytes()),
                Bytes::copy_from_slice(&ids.span_id.to_bytes()),
            ),
            None => (Bytes::new(), Bytes::new()),
        };
        Exemplar {
            time_unix_nano: self.time_unix_nano,
            value: Some(self.value),
            span_id,
            trace_id,
            filtered_attributes: self.filtered_attributes,
        }
    }
}

/// Slots that fill as measurements come: memory grows with the exemplars kept, not with the
/// reservoir's size.
#[derive(Debug, Default)]
struct Slots {
    slots: Mutex<Vec<Option<Slot>>>,
    /// Whether a measurement was stored since the last drain: a collection of a series that
    /// kept none takes no lock.
    filled: AtomicBool,
}

impl Slots {
    /// Stores a measurement in slot `at`, unless another thread holds the slots (see the
    /// module's documentation).
    fn store<'a>(
        &self,
        at: usize,
        value: ExemplarValue,
        time_unix_nano: u64,
        span: Option<SpanIds>,
        filtered: impl IntoIterator<Item = &'a KeyValue>,
    ) {
        let mut slots = match self.slots.try_lock() {
            Ok(slots) => slots,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => return,
        };
        if slots.len() <= at {
            slots.resize_with(at + 1, || None);
        }
        let filtered_attributes = match slots[at].take() {
            // The replaced measurement's vector is reused: no allocation once it is big enough.
            Some(mut old) => {
                old.filtered_attributes.clear();
                old.filtered_attributes
                    .extend(filtered.into_iter().cloned());
                old.filtered_attributes
            }
            None => filtered.into_iter().cloned().collect(),
        };
        slots[at] = Some(Slot {
            value,
            time_unix_nano,
            span,
            filtered_attributes,
        });
        self.filled.store(true, Ordering::Release);
    }

    /// Waits for the slots: collection may wait for an offer's store, never the reverse.
    /// `None` when nothing was stored since the last time.
    fn lock_filled(&self) -> Option<MutexGuard<'_, Vec<Option<Slot>>>> {
        self.filled
            .swap(false, Ordering::Acquire)
            .then(|| self.slots.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn drain_into(slots: &mut [Option<Slot>], into: &mut Vec<Exemplar>) {
        into.extend(
            slots
                .iter_mut()
                .filter_map(Option::take)
                .map(Slot::into_exemplar),
        );
    }
}

/// Keeps at most `size` measurements, each of those offered since the last collection equally
/// likely to be kept: the `n`-th (from 0) takes a slot at random with probability
/// `size / (n + 1)`, the first `size` always. The count restarts at each collection.
#[derive(Debug)]
pub(crate) struct SimpleFixedSize {
    size: u64,
    /// Measurements offered since the last collection. Counted outside the lock so that an
    /// offer that will not be kept (most, once the slots are full) takes no lock.
    seen: AtomicU64,
    slots: Slots,
}

impl SimpleFixedSize {
    /// A reservoir of `size` slots (at least 1).
    pub(crate) fn new(size: usize) -> Self {
        SimpleFixedSize {
            size: size.max(1) as u64,
            seen: AtomicU64::new(0),
            slots: Slots::default(),
        }
    }

    /// Offers a measurement; `filtered` (the attributes its series dropped) is read only if
    /// it is kept.
    pub(crate) fn offer<'a>(
        &self,
        value: ExemplarValue,
        time_unix_nano: u64,
        span: Option<SpanIds>,
        filtered: impl IntoIterator<Item = &'a KeyValue>,
    ) {
        let n = self.seen.fetch_add(1, Ordering::Relaxed);
        let at = if n < self.size {
            n
        } else {
            fastrand::u64(..=n)
        };
        if at < self.size {
            // `at` is below `size`, a `usize`.
            self.slots
                .store(at as usize, value, time_unix_nano, span, filtered);
        }
    }

    /// Moves the kept measurements into `into` as exemplars, and starts over.
    pub(crate) fn collect(&self, into: &mut Vec<Exemplar>) {
        self.seen.store(0, Ordering::Relaxed);
        if let Some(mut slots) = self.slots.lock_filled() {
            Slots::drain_into(&mut slots, into);
        }
    }
}

/// Keeps the last measurement of each bucket of a histogram's boundaries (a boundary belongs
/// to the bucket it ends, as in the histogram).
#[derive(Debug)]
pub(crate) struct AlignedHistogramBucket {
    boundaries: Boundaries,
    slots: Slots,
}

impl AlignedHistogramBucket {
    /// A reservoir of one slot per bucket of `boundaries`.
    pub(crate) fn new(boundaries: Boundaries) -> Self {
        AlignedHistogramBucket {
            boundaries,
            slots: Slots::default(),
        }
    }

    /// Offers a measurement; `filtered` is read only if it is kept (always, unless contended).
    pub(crate) fn offer<'a>(
        &self,
        value: ExemplarValue,
        time_unix_nano: u64,
        span: Option<SpanIds>,
        filtered: impl IntoIterator<Item = &'a KeyValue>,
    ) {
        let bucket = self.boundaries.bucket(as_f64(&value));
        self.slots
            .store(bucket, value, time_unix_nano, span, filtered);
    }

    /// Moves the kept measurements into `into` as exemplars, in bucket order, and starts over.
    pub(crate) fn collect(&self, into: &mut Vec<Exemplar>) {
        if let Some(mut slots) = self.slots.lock_filled() {
            Slots::drain_into(&mut slots, into);
        }
    }
}

/// The reservoir the specification gives a stream's aggregation.
#[derive(Debug)]
pub(crate) enum Reservoir {
    /// Uniform sampling into a few slots.
    FixedSize(SimpleFixedSize),
    /// The last measurement of each histogram bucket.
    Aligned(AlignedHistogramBucket),
}

impl Reservoir {
    /// Explicit histograms of more than one bucket: one slot per bucket; exponential
    /// histograms: `min(20, max_size)` sampled slots; other aggregations: one sampled slot.
    pub(crate) fn for_aggregation(aggregation: &StreamAggregation) -> Self {
        match aggregation {
            StreamAggregation::ExplicitHistogram { boundaries, .. } if boundaries.buckets() > 1 => {
                Reservoir::Aligned(AlignedHistogramBucket::new(boundaries.clone()))
            }
            StreamAggregation::ExponentialHistogram { max_size, .. } => {
                let size = usize::try_from(*max_size).unwrap_or(EXPONENTIAL_FIXED_SIZE);
                Reservoir::FixedSize(SimpleFixedSize::new(size.min(EXPONENTIAL_FIXED_SIZE)))
            }
            _ => Reservoir::FixedSize(SimpleFixedSize::new(DEFAULT_FIXED_SIZE)),
        }
    }

    /// Offers an eligible measurement; `filtered` (the attributes its series dropped) is read
    /// only if it is kept.
    #[inline]
    pub(crate) fn offer<'a>(
        &self,
        value: ExemplarValue,
        time_unix_nano: u64,
        span: Option<SpanIds>,
        filtered: impl IntoIterator<Item = &'a KeyValue>,
    ) {
        match self {
            Reservoir::FixedSize(r) => r.offer(value, time_unix_nano, span, filtered),
            Reservoir::Aligned(r) => r.offer(value, time_unix_nano, span, filtered),
        }
    }

    /// Moves the kept measurements into `into` as exemplars, and starts over.
    pub(crate) fn collect(&self, into: &mut Vec<Exemplar>) {
        match self {
            Reservoir::FixedSize(r) => r.collect(into),
            Reservoir::Aligned(r) => r.collect(into),
        }
    }
}

#[cfg(test)]
mod tests;
