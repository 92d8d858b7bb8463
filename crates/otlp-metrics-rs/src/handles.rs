//! What a `metrics` handle records into: one series of an OTLP instrument, per kind.

use metrics::{CounterFn, GaugeFn, HistogramFn};
use otlp_sdk::metrics::Bound;
use std::sync::atomic::{AtomicU64, Ordering};

/// A `metrics` counter: one bound series of a `u64` OTLP counter.
pub(crate) struct CounterHandle {
    pub(crate) series: Bound<u64>,
    /// The highest value given to `absolute` so far: what the next one adds beyond.
    pub(crate) absolute: AtomicU64,
}

impl CounterFn for CounterHandle {
    #[inline]
    fn increment(&self, value: u64) {
        self.series.record(value);
    }

    fn absolute(&self, value: u64) {
        // An OTLP counter takes increments: the part above the highest value seen so far. A
        // lower value (the source restarted) adds nothing; the counter then resumes adding
        // once the source passes its old highest value.
        let previous = self.absolute.fetch_max(value, Ordering::AcqRel);
        if value > previous {
            self.series.record(value - previous);
        }
    }
}

/// A `metrics` gauge: one bound series of an `f64` OTLP gauge, and its current value
/// (`increment` and `decrement` are relative to it).
pub(crate) struct GaugeHandle {
    pub(crate) series: Bound<f64>,
    /// The current value, as `f64` bits.
    pub(crate) value: AtomicU64,
}

impl GaugeHandle {
    fn update(&self, f: impl Fn(f64) -> f64) {
        let mut current = self.value.load(Ordering::Acquire);
        let mut new;
        loop {
            new = f(f64::from_bits(current)).to_bits();
            match self.value.compare_exchange_weak(
                current,
                new,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(actual) => current = actual,
            }
        }
        // Two threads updating at once may record their values in the other order than they
        // set them: whoever records re-reads the value afterwards and records again if it
        // moved, so the gauge ends on the handle's final value.
        loop {
            self.series.record(f64::from_bits(new));
            let now = self.value.load(Ordering::Acquire);
            if now == new {
                break;
            }
            new = now;
        }
    }
}

impl GaugeFn for GaugeHandle {
    fn increment(&self, value: f64) {
        self.update(|v| v + value);
    }

    fn decrement(&self, value: f64) {
        self.update(|v| v - value);
    }

    fn set(&self, value: f64) {
        self.update(|_| value);
    }
}

/// A `metrics` histogram: one bound series of an `f64` OTLP histogram.
pub(crate) struct HistogramHandle {
    pub(crate) series: Bound<f64>,
}

impl HistogramFn for HistogramHandle {
    #[inline]
    fn record(&self, value: f64) {
        self.series.record(value);
    }
}
