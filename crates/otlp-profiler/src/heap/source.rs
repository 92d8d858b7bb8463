//! [`HeapSource`]: how a collector starts and stops heap sampling and takes its samples.

use super::allocator::SEEN;
use super::countdown::{FIRST_EPOCH, OFF, PROBING, RATE, STATE, unsampled};
use super::live::{self, Sampled};
use crate::config::ProfileType;
use crate::error::{Error, Kind};
use crate::sample::{RawSample, Sampler};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// Whether a [`HeapSource`] exists: heap sampling is process-wide, one at a time.
static RUNNING: AtomicBool = AtomicBool::new(false);
/// The last epoch handed out.
static EPOCH: AtomicU32 = AtomicU32::new(FIRST_EPOCH - 1);

/// Heap sampling, on while this exists: samples of `heap_alloc` ([`drain`](Self::drain)) and
/// `heap` ([`live`](Self::live)).
#[derive(Debug)]
pub(crate) struct HeapSource {
    dropped: u64,
    carry: Carry,
}

/// Integer sample values from fractional weights without bias: each value is rounded down and
/// the fraction left is carried to the next sample (rounding each alone would lose up to half
/// an object per sample: 8% of the objects of 3,000-byte allocations sampled every 8 KiB).
#[derive(Debug, Default)]
struct Carry([f64; 2]);

impl Carry {
    fn values(&mut self, weights: [f64; 2]) -> [i64; 2] {
        let mut out = [0i64; 2];
        for ((o, c), w) in out.iter_mut().zip(&mut self.0).zip(weights) {
            let total = *c + w;
            let whole = total.floor();
            *c = total - whole;
            *o = whole as i64;
        }
        out
    }
}

impl HeapSource {
    /// Starts sampling, one allocation per `rate` bytes on average.
    ///
    /// Errors: [`Kind::Config`] for a zero rate, [`Kind::State`] if heap sampling already
    /// runs, [`Kind::Unsupported`] if [`SamplingAllocator`](crate::SamplingAllocator) is not
    /// the global allocator.
    pub(crate) fn start(rate: u64) -> Result<Self, Error> {
        if rate == 0 {
            return Err(Error::new(
                Kind::Config,
                "the heap sampling rate is 0 bytes; it must be at least 1",
            ));
        }
        if RUNNING
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return Err(Error::new(
                Kind::State,
                "heap sampling is already running (one heap profile at a time)",
            ));
        }
        if !installed() {
            RUNNING.store(false, Ordering::Release);
            return Err(Error::new(
                Kind::Unsupported,
                "heap profiles need the sampling allocator: install it with \
                 `#[global_allocator] static A: otlp_profiler::SamplingAllocator = \
                 otlp_profiler::SamplingAllocator::system();`",
            ));
        }
        live::clear();
        RATE.store(rate, Ordering::Relaxed);
        let mut epoch = EPOCH.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
        if epoch < FIRST_EPOCH {
            // Wrapped around (after four billion starts): skip the reserved values.
            epoch = FIRST_EPOCH;
            EPOCH.store(epoch, Ordering::Relaxed);
        }
        STATE.store(epoch, Ordering::Release);
        Ok(HeapSource {
            dropped: 0,
            carry: Carry::default(),
        })
    }

    /// Hands `sink` a `Heap` sample (values: weighted objects, weighted bytes) for each sampled
    /// allocation not yet freed (none while no heap sampling runs).
    pub(crate) fn live(sink: &mut dyn FnMut(RawSample)) {
        unsampled(|| {
            let mut carry = Carry::default();
            for sampled in &live::snapshot_live() {
                sink(raw(ProfileType::Heap, sampled, &mut carry));
            }
        });
    }
}

/// `HeapAlloc` samples (values: weighted objects, weighted bytes), one per allocation sampled
/// since the last drain. Stopping keeps what was sampled until the source is dropped (which
/// forgets it and lets another source start).
impl Sampler for HeapSource {
    fn drain(&mut self, sink: &mut dyn FnMut(RawSample)) {
        unsampled(|| {
            let (pending, dropped) = live::take_pending();
            self.dropped += dropped;
            for sampled in &pending {
                sink(raw(ProfileType::HeapAlloc, sampled, &mut self.carry));
            }
        });
    }

    fn dropped(&self) -> u64 {
        self.dropped
    }

    fn stop(&mut self) {
        STATE.store(OFF, Ordering::Release);
    }
}

/// Boxes a heap sampler (or a wrapper of one) for a list of samplers, the box itself
/// unsampled: started, the sampler would otherwise record its own box as the program's.
pub(crate) fn boxed(sampler: impl Sampler + 'static) -> Box<dyn Sampler> {
    unsampled(|| Box::new(sampler))
}

impl Drop for HeapSource {
    fn drop(&mut self) {
        STATE.store(OFF, Ordering::Release);
        live::clear();
        RUNNING.store(false, Ordering::Release);
    }
}

/// Whether allocations go through the sampling allocator: one is made while probing.
fn installed() -> bool {
    SEEN.store(false, Ordering::Relaxed);
    STATE.store(PROBING, Ordering::SeqCst);
    let probe = std::hint::black_box(Box::new(std::hint::black_box(0u64)));
    drop(probe);
    STATE.store(OFF, Ordering::SeqCst);
    SEEN.load(Ordering::Relaxed)
}

fn raw(kind: ProfileType, sampled: &Sampled, carry: &mut Carry) -> RawSample {
    RawSample {
        kind,
        frames: sampled.stack.to_vec(),
        values: carry.values([sampled.objects, sampled.bytes]),
        link: sampled.link,
        thread_id: sampled.thread_id,
        thread_name: None,
        thread_state: None,
        timestamp_unix_nano: sampled.time,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carried_values_add_up_to_the_weights() {
        // 3,000-byte allocations sampled every 8 KiB: each stands for 3.26 objects.
        let (objects, bytes) = super::super::countdown::weights(3000, 8 * 1024);
        let mut carry = Carry::default();
        let (mut sum_objects, mut sum_bytes) = (0i64, 0i64);
        for _ in 0..6000 {
            let [o, b] = carry.values([objects, bytes]);
            sum_objects += o;
            sum_bytes += b;
        }
        // Rounding each alone would give 3 objects a sample: 8% short.
        assert!(
            (sum_objects as f64 - 6000.0 * objects).abs() <= 1.0,
            "{sum_objects}"
        );
        assert!(
            (sum_bytes as f64 - 6000.0 * bytes).abs() <= 1.0,
            "{sum_bytes}"
        );
    }

    // The library's own test binary keeps the system allocator: starting must say so.
    #[test]
    fn start_without_the_sampling_allocator_is_unsupported() {
        let err = HeapSource::start(1024).map(drop).err();
        let err = err.unwrap_or_else(|| panic!("started without the sampling allocator"));
        assert_eq!(err.kind(), Kind::Unsupported);
        assert!(err.to_string().contains("#[global_allocator]"), "{err}");
        // And it left nothing running.
        assert_eq!(STATE.load(Ordering::Relaxed), OFF);
        assert!(!RUNNING.load(Ordering::Relaxed));
    }
}
