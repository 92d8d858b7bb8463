//! [`Registry`]: the slots of one sampler, one per thread, and their conversion to
//! [`RawSample`]s. Collector side only.

use super::slot::Slot;
use super::timer::Timer;
use crate::config::ProfileType;
use crate::sample::RawSample;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// A thread a sampler follows.
pub(crate) struct Tracked {
    pub(crate) slot: Box<Slot>,
    pub(crate) name: Option<Arc<str>>,
    /// The CPU sampler's timer (deleted with the entry); none for the wall-clock samplers.
    pub(crate) timer: Option<Timer>,
    /// The wall-clock samplers' tick of the last signal sent to the thread.
    pub(crate) sent_at: u64,
    /// Signals sent to the thread that the wall-clock samplers no longer wait for.
    pub(crate) written_off: u32,
}

/// The slots of one sampler and the samples taken from them but not yet drained.
pub(crate) struct Registry {
    kind: ProfileType,
    values: [i64; 2],
    pub(crate) threads: HashMap<u32, Tracked>,
    /// Slots of exited threads, reused for new ones (never freed while the sampler runs,
    /// so a late signal never finds freed memory).
    #[allow(clippy::vec_box)] // handlers hold slot addresses: a slot must never move
    free: Vec<Box<Slot>>,
    pub(crate) samples: Vec<(RawSample, u8)>,
    pub(crate) dropped: u64,
    /// Samples taken from slots so far (drained or not).
    pub(crate) collected: u64,
}

/// Samples kept between drains at most; older ones are dropped (counted) past it.
const MAX_PENDING: usize = 1 << 20;

impl Registry {
    pub(crate) fn new(kind: ProfileType, values: [i64; 2]) -> Self {
        Registry {
            kind,
            values,
            threads: HashMap::new(),
            free: Vec::new(),
            samples: Vec::new(),
            dropped: 0,
            collected: 0,
        }
    }

    /// Follows the threads of `tids` (minus `skip`): stops following exited ones and starts
    /// new ones with `arm` (which returns the timer, or `Err` when the thread cannot be
    /// sampled, e.g. it exited meanwhile).
    pub(crate) fn sync<E>(
        &mut self,
        tids: &[u32],
        skip: u32,
        mut arm: impl FnMut(u32, &Slot) -> Result<Option<Timer>, E>,
    ) {
        let gone: Vec<u32> = self
            .threads
            .keys()
            .copied()
            .filter(|t| tids.binary_search(t).is_err())
            .collect();
        for tid in gone {
            if let Some(mut tracked) = self.threads.remove(&tid) {
                drop(tracked.timer.take());
                self.collect_one(tid, &tracked);
                if tracked.slot.outstanding.load(Ordering::Acquire) == 0 {
                    self.free.push(tracked.slot);
                } else {
                    // A signal may still be queued for it: never free it.
                    Box::leak(tracked.slot);
                }
            }
        }
        for &tid in tids {
            if tid == skip || self.threads.contains_key(&tid) {
                continue;
            }
            let slot = match self.free.pop() {
                Some(slot) => slot,
                None => match Slot::new() {
                    Ok(slot) => slot,
                    // Out of memory or mappings: this thread goes unsampled for now.
                    Err(_) => continue,
                },
            };
            match arm(tid, &slot) {
                Ok(timer) => {
                    let name = crate::threads::name(tid).map(Arc::from);
                    self.threads.insert(
                        tid,
                        Tracked {
                            slot,
                            name,
                            timer,
                            sent_at: 0,
                            written_off: 0,
                        },
                    );
                }
                Err(_) => self.free.push(slot),
            }
        }
    }

    /// Moves every slot's entries into `samples`.
    pub(crate) fn collect(&mut self) {
        let tids: Vec<u32> = self.threads.keys().copied().collect();
        for tid in tids {
            if let Some(tracked) = self.threads.remove(&tid) {
                self.collect_one(tid, &tracked);
                self.threads.insert(tid, tracked);
            }
        }
    }

    fn collect_one(&mut self, tid: u32, tracked: &Tracked) {
        self.dropped += tracked.slot.take_dropped();
        let (kind, values) = (self.kind, self.values);
        let samples = &mut self.samples;
        let mut overflow = 0;
        let collected = &mut self.collected;
        tracked.slot.pop_all(|entry| {
            *collected += 1;
            if samples.len() >= MAX_PENDING {
                overflow += 1;
                return;
            }
            let sample = RawSample {
                kind,
                frames: entry.frames[..entry.len.min(entry.frames.len())].to_vec(),
                values: values.map(|v| v.saturating_mul(i64::from(entry.weight.max(1)))),
                link: entry.link,
                thread_id: tid,
                thread_name: tracked.name.clone(),
                thread_state: None,
                timestamp_unix_nano: entry.timestamp,
            };
            samples.push((sample, entry.state));
        });
        self.dropped += overflow;
    }

    /// Deletes every timer (no new CPU samples after this).
    pub(crate) fn disarm(&mut self) {
        for tracked in self.threads.values_mut() {
            drop(tracked.timer.take());
        }
    }

    /// Whether a signal sent to some slot is still unhandled.
    pub(crate) fn any_outstanding(&self) -> bool {
        self.threads
            .values()
            .any(|t| t.slot.outstanding.load(Ordering::Acquire) != 0)
    }

    /// Stops following every thread; returns the slots, to be freed once no signal can
    /// carry them.
    #[allow(clippy::vec_box)] // handlers hold slot addresses: a slot must never move
    pub(crate) fn clear(&mut self) -> Vec<Box<Slot>> {
        let mut slots: Vec<Box<Slot>> = std::mem::take(&mut self.free);
        let tids: Vec<u32> = self.threads.keys().copied().collect();
        for tid in tids {
            if let Some(mut tracked) = self.threads.remove(&tid) {
                drop(tracked.timer.take());
                self.collect_one(tid, &tracked);
                slots.push(tracked.slot);
            }
        }
        slots
    }
}
