//! The record pool, and every operation on a pooled record's raw memory: the only `unsafe`
//! code of the span record.
//!
//! Records live in `Box`es that come back after encoding: a small cache per thread in front of
//! one shared, bounded stack. The application thread takes records from its cache; the
//! worker's drops fill the worker's cache, which spills to the shared stack in chunks; an
//! application thread whose cache is empty refills it from the shared stack in one lock. So
//! the lock is taken once per [`CHUNK`] spans on each side, and no record is allocated once the
//! pool is warm.
//!
//! Beside the pool: the prefetches that claim a recycled record's lines ahead of use, the
//! reset that forgets attributes owning nothing without reading them, and the write of an
//! attribute straight into the spare capacity of a record's vector.

// The records move between threads by pointer: boxing is the point.
#![allow(clippy::vec_box)]

use super::SpanRecord;
use otlp_proto::Str;
use otlp_proto::common::KeyValue;
use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

/// The size of a cache line, for the prefetches.
const CACHE_LINE: usize = 64;

/// How a prefetch asks for a line.
#[derive(Clone, Copy)]
pub(super) enum Intent {
    /// To read it (the worker, encoding a record).
    Read,
    /// To write it, exclusive (the application thread, about to fill a recycled record).
    Write,
}

/// Asks the CPU to fetch the cache lines of `bytes` bytes from `start` ahead of use: every
/// line the range touches, from the one `start` is in (a range rarely begins on a line
/// boundary, and the line left out would be the one its end is in). A hint only: it never
/// faults and has no effect the program can observe. For writing, `PREFETCHW` where the CPU
/// has it (elsewhere it decodes as a `NOP`).
#[inline(always)]
fn prefetch_lines(start: *const u8, bytes: usize, intent: Intent) {
    if bytes == 0 {
        return;
    }
    let into_line = start.addr() % CACHE_LINE;
    // `wrapping_*` keeps the address computation defined whatever `start` points to.
    let first = start.wrapping_sub(into_line);
    for offset in (0..into_line + bytes).step_by(CACHE_LINE) {
        let line = first.wrapping_add(offset);
        #[cfg(all(target_arch = "x86_64", not(otlp_portable)))]
        // SAFETY: a prefetch never faults, whatever the address, and has no effect the program
        // can observe; `prefetchw` reads no register but `line` and writes none.
        #[allow(unsafe_code)]
        unsafe {
            match intent {
                Intent::Read => {
                    std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                        line.cast::<i8>(),
                    )
                }
                Intent::Write => std::arch::asm!(
                    "prefetchw [{}]",
                    in(reg) line,
                    options(nostack, preserves_flags, readonly)
                ),
            }
        }
        #[cfg(any(not(target_arch = "x86_64"), otlp_portable))]
        let _ = (line, intent);
    }
}

impl SpanRecord {
    /// Fetches the record's own lines (its address is known without reading it).
    #[inline]
    pub(super) fn prefetch_header(&self, intent: Intent) {
        prefetch_lines(
            std::ptr::from_ref(self).cast(),
            std::mem::size_of::<SpanRecord>(),
            intent,
        );
    }

    /// Fetches the record's attribute storage (up to 512 bytes, or the attributes set): reads
    /// the record to find it, so call it once the record's header is at hand.
    #[inline]
    pub(super) fn prefetch_attributes(&self, intent: Intent) {
        let slots = match intent {
            Intent::Read => self.attributes.len(),
            Intent::Write => self.attributes.capacity(),
        };
        prefetch_lines(
            self.attributes.as_ptr().cast(),
            (slots * std::mem::size_of::<KeyValue>()).min(512),
            intent,
        );
    }
}

/// Above this many attribute slots a recycled record gives its vector back to the allocator,
/// so one huge span does not keep its memory in the pool forever.
const KEEP_ATTRIBUTE_CAPACITY: usize = 64;

impl SpanRecord {
    /// Forgets the content, keeping the allocations worth keeping.
    fn reset(&mut self) {
        self.trace_state = Str::new();
        self.name = Str::new();
        if std::mem::take(&mut self.attributes_plain) {
            // SAFETY: no element needs to be initialized for length 0, and the attributes,
            // which own nothing (so forgetting them leaks nothing), are not even read: by now
            // their lines have often left this core's nearer caches.
            #[allow(unsafe_code)]
            unsafe {
                self.attributes.set_len(0);
            }
        } else {
            self.attributes.clear();
        }
        if self.attributes.capacity() > KEEP_ATTRIBUTE_CAPACITY {
            self.attributes = Vec::new();
        }
        self.events = Vec::new();
        self.links = Vec::new();
        self.status_message = Str::new();
        self.dropped_attributes_count = 0;
        self.dropped_events_count = 0;
        self.dropped_links_count = 0;
        self.status_code = 0;
        self.parent_span_id = [0; 8];
        // Taken when the span started with it; still here if its builder was dropped unstarted
        // or told afterwards to make a root span.
        self.explicit_parent = None;
    }
}

/// How many records ahead of the one taken the header is claimed for writing.
const HEADER_AHEAD: usize = 4;
/// How many records ahead of the one taken the attributes are claimed for writing.
const ATTRIBUTES_AHEAD: usize = 2;

/// Records moved between a thread's cache and the shared stack at a time.
const CHUNK: usize = 64;
/// A thread's cache spills beyond this.
const LOCAL_MAX: usize = 2 * CHUNK;
/// The shared stack keeps at most this many records (about 1 KiB each with their
/// attribute vectors): at least [`SHARED_MIN`], and up to the capacity of the largest
/// traces queue ([`keep_up_to`]): memory a full queue holds anyway. Keeping it means a
/// burst that filled the queue once does not allocate (and fault in fresh pages) again.
static SHARED_MAX: AtomicUsize = AtomicUsize::new(SHARED_MIN);
const SHARED_MIN: usize = 4096;
/// Never more than this, whatever the queue (about 256 MiB of records).
const SHARED_CEILING: usize = 1 << 18;

static SHARED: Mutex<Vec<Box<SpanRecord>>> = Mutex::new(Vec::new());

/// Lets the shared stack keep up to `records` records (a traces queue's capacity).
pub(crate) fn keep_up_to(records: usize) {
    let _ = SHARED_MAX.fetch_max(records.min(SHARED_CEILING), Ordering::Relaxed);
}

thread_local! {
    static LOCAL: RefCell<Vec<Box<SpanRecord>>> = const { RefCell::new(Vec::new()) };
}

fn shared() -> std::sync::MutexGuard<'static, Vec<Box<SpanRecord>>> {
    SHARED.lock().unwrap_or_else(PoisonError::into_inner)
}

#[inline]
pub(super) fn take() -> Box<SpanRecord> {
    LOCAL
        .try_with(|local| {
            let mut local = local.borrow_mut();
            if let Some(r) = local.pop() {
                // The worker read these records last, and often long ago (a burst cycles
                // through many): claim the lines of the ones the next spans will write, far
                // enough ahead for memory to answer: the header of the one
                // [`HEADER_AHEAD`] places on (its address is known), and the attributes of
                // the one [`ATTRIBUTES_AHEAD`] on (whose header an earlier call claimed).
                let len = local.len();
                if let Some(far) = len.checked_sub(HEADER_AHEAD).map(|i| &local[i]) {
                    far.prefetch_header(Intent::Write);
                }
                if let Some(near) = len.checked_sub(ATTRIBUTES_AHEAD).map(|i| &local[i]) {
                    near.prefetch_attributes(Intent::Write);
                }
                return Some(r);
            }
            let mut shared = shared();
            let n = shared.len().min(CHUNK);
            let from = shared.len() - n;
            local.extend(shared.drain(from..));
            drop(shared);
            local.pop()
        })
        .ok()
        .flatten()
        .unwrap_or_else(|| {
            // A fresh record: room for a typical span's attributes in one allocation.
            Box::new(SpanRecord {
                attributes: Vec::with_capacity(8),
                ..SpanRecord::default()
            })
        })
}

pub(super) fn give_back(mut record: Box<SpanRecord>) {
    record.reset();
    // During thread teardown the cache is gone: the record is simply freed.
    let _ = LOCAL.try_with(|local| {
        let mut local = local.borrow_mut();
        local.push(record);
        if local.len() > LOCAL_MAX {
            let keep = LOCAL_MAX - CHUNK;
            let mut shared = shared();
            let room = SHARED_MAX
                .load(Ordering::Relaxed)
                .saturating_sub(shared.len());
            let n = (local.len() - keep).min(room);
            shared.extend(local.drain(keep..keep + n));
            drop(shared);
            // What did not fit is freed, outside the lock.
            local.truncate(keep);
        }
    });
}

#[cfg(test)]
fn local_len() -> usize {
    LOCAL.with(|l| l.borrow().len())
}

#[cfg(test)]
mod tests {
    use super::super::{RecordedSpan, test_record};
    use super::*;
    use crate::trace::{SpanContext, SpanId, SpanLimits, TraceFlags, TraceId, TraceState};
    use otlp_proto::RevBuf;

    #[test]
    fn records_are_recycled_reset_with_their_capacity() {
        let mut r = test_record(SpanLimits::default());
        let rec = r.get_mut().expect("record");
        for i in 0..10i64 {
            rec.push_attribute(KeyValue::new("k", i));
        }
        rec.status_code = 2;
        rec.set_explicit_parent(&SpanContext::new(
            TraceId::from_bytes([1; 16]),
            SpanId::from_bytes([2; 8]),
            TraceFlags::SAMPLED,
            true,
            TraceState::empty(),
        ));
        let ptr: *const SpanRecord = rec;
        drop(r);
        assert!(local_len() >= 1);
        let again = RecordedSpan::take(SpanLimits::default());
        let rec = again.get().expect("record");
        assert!(std::ptr::eq(rec, ptr), "the same box comes back");
        assert!(rec.attributes.is_empty() && rec.attributes.capacity() >= 10);
        assert_eq!((rec.status_code, rec.parent_span_id), (0, [0; 8]));
        assert!(
            rec.explicit_parent.is_none(),
            "an unstarted builder's parent is forgotten"
        );
        // The same after encoding, when the attributes own nothing and are let go unread.
        drop(again);
        let mut r = RecordedSpan::take(SpanLimits::default());
        let rec = r.get_mut().expect("record");
        rec.push_attribute(KeyValue::new("k", "v"));
        rec.push_attribute(KeyValue::new("n", 1i64));
        rec.encode_fields(&mut RevBuf::new());
        assert!(rec.attributes_plain);
        let ptr: *const SpanRecord = rec;
        drop(r);
        let again = RecordedSpan::take(SpanLimits::default());
        let rec = again.get().expect("record");
        assert!(std::ptr::eq(rec, ptr), "the same box comes back");
        assert!(rec.attributes.is_empty() && rec.attributes.capacity() >= 2);
        assert!(
            !rec.attributes_plain,
            "the flag is the encoder's, for one span"
        );
    }
}
