//! The span record: what a recording span fills on the application thread and the pipeline's
//! worker encodes, and the pool that recycles records so that, at steady state, a span costs no
//! allocation at all.
//!
//! Why not build the OTLP `Span` message directly: its ids are `Bytes` (three allocations per
//! span), and a fresh message per span means a fresh attribute `Vec` per span, freed on the
//! worker thread, which makes the allocator's arena lock bounce between the two threads. A
//! [`SpanRecord`] holds its ids inline, and lives in a `Box` that goes back to a pool once the
//! worker has encoded it, keeping the capacity of its vectors: the next span on the
//! application thread takes it from a thread-local cache without a lock or an allocation.
//!
//! Attributes are pushed as they come and de-duplicated (last value wins, first position kept)
//! and limited on the worker, when the span is encoded: the application thread only pushes.

use super::limits::SpanLimits;
use crate::pipeline::{PipelineItem, Priority};
use bytes::Bytes;
use otlp_proto::common::{AnyValue, KeyValue};
use otlp_proto::trace as proto;
use otlp_proto::{Message, RevBuf, Str, WireType};
use std::cell::RefCell;
use std::sync::{Mutex, PoisonError};

/// A span's data, compact: ids inline, no per-span allocation once recycled.
#[derive(Debug, Default)]
pub(crate) struct SpanRecord {
    pub(crate) trace_id: [u8; 16],
    pub(crate) span_id: [u8; 8],
    /// All zero for a root span.
    pub(crate) parent_span_id: [u8; 8],
    pub(crate) trace_state: Str,
    pub(crate) flags: u32,
    pub(crate) kind: i32,
    /// Index of the instrumentation scope in the client's scope table.
    pub(crate) scope: u32,
    pub(crate) start_time: u64,
    pub(crate) end_time: u64,
    pub(crate) name: Str,
    /// As set, duplicates included; see [`SpanRecord::settle_attributes`].
    pub(crate) attributes: Vec<KeyValue>,
    pub(crate) dropped_attributes_count: u32,
    pub(crate) events: Vec<proto::Event>,
    pub(crate) dropped_events_count: u32,
    pub(crate) links: Vec<proto::Link>,
    pub(crate) dropped_links_count: u32,
    pub(crate) status_code: i32,
    pub(crate) status_message: Str,
    /// The limits the span was started under (applied when the attributes settle).
    pub(crate) limits: SpanLimits,
    /// How many attributes make the application thread settle them (see
    /// [`SpanRecord::push_attribute`]); from the limits, once per span.
    settle_at: usize,
    /// Set by [`SpanRecord::encode_fields`] when no attribute owns anything to release
    /// (static or inline strings, scalars: nearly always), so that the reset can forget them
    /// rather than run the generic drop code for every key and value.
    attributes_plain: bool,
}

/// The size of a cache line, for the prefetches.
const CACHE_LINE: usize = 64;

/// How a prefetch asks for a line.
#[derive(Clone, Copy)]
enum Intent {
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
        #[cfg(target_arch = "x86_64")]
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
        #[cfg(not(target_arch = "x86_64"))]
        let _ = (line, intent);
    }
}

impl SpanRecord {
    /// Fetches the record's own lines (its address is known without reading it).
    #[inline]
    fn prefetch_header(&self, intent: Intent) {
        prefetch_lines(
            std::ptr::from_ref(self).cast(),
            std::mem::size_of::<SpanRecord>(),
            intent,
        );
    }

    /// Fetches the record's attribute storage (up to 512 bytes, or the attributes set): reads
    /// the record to find it, so call it once the record's header is at hand.
    #[inline]
    fn prefetch_attributes(&self, intent: Intent) {
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
    }

    /// Pushes an attribute; cheap, since duplicates and the count limit are dealt with when the
    /// span is encoded. A span that keeps setting attributes is compacted here now and then, so
    /// its memory stays bounded by the limit, not by the number of calls.
    #[inline]
    pub(crate) fn push_attribute(&mut self, kv: KeyValue) {
        self.room_for_attribute();
        self.attributes.push(kv);
    }

    /// [`push_attribute`](SpanRecord::push_attribute) from its parts: room is made first, so
    /// that the attribute is built where it is stored rather than built and then copied.
    #[inline(always)]
    pub(crate) fn set_attribute(&mut self, key: impl Into<Str>, value: impl Into<AnyValue>) {
        self.room_for_attribute();
        let len = self.attributes.len();
        if let Some(slot) = self.attributes.spare_capacity_mut().first_mut() {
            slot.write(KeyValue {
                key: key.into(),
                value: Some(value.into()),
                key_strindex: 0,
            });
            // SAFETY: the slot at `len`, within the capacity, was just initialized.
            #[allow(unsafe_code)]
            unsafe {
                self.attributes.set_len(len + 1);
            }
        }
    }

    /// Settles the attributes when there are many (see
    /// [`push_attribute`](SpanRecord::push_attribute)), and makes room for one more.
    #[inline(always)]
    fn room_for_attribute(&mut self) {
        if self.attributes.len() >= self.settle_at {
            self.settle_attributes();
        }
        if self.attributes.len() == self.attributes.capacity() {
            self.attributes.reserve(1);
        }
    }

    /// De-duplicates the attributes (the last value of a key wins, at the key's first
    /// position), keeps at most the count limit of distinct keys (counting the others as
    /// dropped) and truncates values to the length limit.
    pub(crate) fn settle_attributes(&mut self) {
        let attrs = &mut self.attributes;
        let max = self.limits.attribute_count() as usize;
        if has_duplicate_keys(attrs) {
            let mut kept: Vec<KeyValue> = Vec::with_capacity(attrs.len());
            let mut dropped = 0u32;
            for kv in attrs.drain(..) {
                if let Some(existing) = kept.iter_mut().find(|k| k.key == kv.key) {
                    existing.value = kv.value;
                } else if kept.len() < max {
                    kept.push(kv);
                } else {
                    dropped += 1;
                }
            }
            // Keys dropped over the limit may have been set several times: count each once.
            self.dropped_attributes_count = self.dropped_attributes_count.saturating_add(dropped);
            *attrs = kept;
        } else if attrs.len() > max {
            let dropped = attrs.len() - max;
            attrs.truncate(max);
            self.dropped_attributes_count = self
                .dropped_attributes_count
                .saturating_add(u32::try_from(dropped).unwrap_or(u32::MAX));
        }
        if self.limits.attribute_value_length().is_some() {
            for kv in attrs.iter_mut() {
                if let Some(v) = kv.value.as_mut() {
                    self.limits.truncate(v);
                }
            }
        }
    }

    pub(crate) fn is_error(&self) -> bool {
        self.status_code == proto::StatusCode::Error as i32
    }

    /// Writes the span's fields back to front (the body of a `Span` message, attributes
    /// settled beforehand), in field order on the wire.
    pub(crate) fn encode_fields(&mut self, buf: &mut RevBuf) {
        if self.flags != 0 {
            buf.put_fixed32(self.flags);
            buf.put_key(16, WireType::Fixed32);
        }
        if self.status_code != 0 || !self.status_message.is_empty() {
            let mark = buf.len();
            if self.status_code != 0 {
                buf.put_varint(self.status_code as u64);
                buf.put_key(3, WireType::Varint);
            }
            if !self.status_message.is_empty() {
                buf.put_bytes_field(2, self.status_message.as_bytes());
            }
            buf.finish_len_delimited(15, mark);
        }
        put_u32(buf, 14, self.dropped_links_count);
        put_repeated(buf, 13, &self.links);
        put_u32(buf, 12, self.dropped_events_count);
        put_repeated(buf, 11, &self.events);
        put_u32(buf, 10, self.dropped_attributes_count);
        let mut plain = true;
        for kv in self.attributes.iter().rev() {
            plain &= put_attribute(buf, 9, kv);
        }
        self.attributes_plain = plain;
        buf.put_fixed64(self.end_time);
        buf.put_key(8, WireType::Fixed64);
        buf.put_fixed64(self.start_time);
        buf.put_key(7, WireType::Fixed64);
        if self.kind != 0 {
            // Enum values are encoded as int32: a negative one would take ten bytes.
            buf.put_varint(i64::from(self.kind) as u64);
            buf.put_key(6, WireType::Varint);
        }
        if !self.name.is_empty() {
            buf.put_bytes_field(5, self.name.as_bytes());
        }
        if self.parent_span_id != [0; 8] {
            buf.put_bytes_field(4, &self.parent_span_id);
        }
        if !self.trace_state.is_empty() {
            buf.put_bytes_field(3, self.trace_state.as_bytes());
        }
        buf.put_bytes_field(2, &self.span_id);
        buf.put_bytes_field(1, &self.trace_id);
    }

    /// The OTLP message (for the OTLP/JSON encoding and for tests), attributes as they are.
    pub(crate) fn to_otlp(&self) -> proto::Span {
        let parent = if self.parent_span_id == [0; 8] {
            Bytes::new()
        } else {
            Bytes::copy_from_slice(&self.parent_span_id)
        };
        proto::Span {
            trace_id: Bytes::copy_from_slice(&self.trace_id),
            span_id: Bytes::copy_from_slice(&self.span_id),
            trace_state: self.trace_state.clone(),
            parent_span_id: parent,
            name: self.name.clone(),
            kind: self.kind,
            start_time_unix_nano: self.start_time,
            end_time_unix_nano: self.end_time,
            attributes: self.attributes.clone(),
            dropped_attributes_count: self.dropped_attributes_count,
            events: self.events.clone(),
            dropped_events_count: self.dropped_events_count,
            links: self.links.clone(),
            dropped_links_count: self.dropped_links_count,
            status: (self.status_code != 0 || !self.status_message.is_empty()).then(|| {
                proto::Status {
                    message: self.status_message.clone(),
                    code: self.status_code,
                }
            }),
            flags: self.flags,
        }
    }
}

/// Up to this many attributes, duplicates are looked for by fingerprint first.
const FINGERPRINTED: usize = 16;

/// Whether two attributes share a key. Each key's fingerprint (its length and three of its
/// bytes) sets one bit of a 64-bit filter; only a key whose bit is already set is compared
/// with the earlier ones, by fingerprint and then in full. So the usual case, a handful of
/// distinct keys, costs a few integer operations per key rather than a string compare per pair.
fn has_duplicate_keys(attrs: &[KeyValue]) -> bool {
    if attrs.len() > FINGERPRINTED {
        return attrs
            .iter()
            .enumerate()
            .any(|(i, kv)| attrs[..i].iter().any(|earlier| earlier.key == kv.key));
    }
    let mut prints = [0u64; FINGERPRINTED];
    let mut seen = 0u64;
    for (i, kv) in attrs.iter().enumerate() {
        let print = fingerprint(kv.key.as_bytes());
        let bit = 1u64 << (print.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58);
        if seen & bit != 0
            && prints
                .iter()
                .zip(attrs)
                .take(i)
                .any(|(&p, earlier)| p == print && earlier.key == kv.key)
        {
            return true;
        }
        seen |= bit;
        if let Some(slot) = prints.get_mut(i) {
            *slot = print;
        }
    }
    false
}

/// A summary of `key` that equal keys share: its length and its first, middle and last bytes.
#[inline]
fn fingerprint(key: &[u8]) -> u64 {
    let n = key.len();
    match (key.first(), key.get(n / 2), key.last()) {
        (Some(&first), Some(&middle), Some(&last)) => {
            (n as u64) | u64::from(first) << 32 | u64::from(middle) << 40 | u64::from(last) << 48
        }
        _ => 0,
    }
}

fn put_u32(buf: &mut RevBuf, tag: u32, v: u32) {
    if v != 0 {
        buf.put_varint(u64::from(v));
        buf.put_key(tag, WireType::Varint);
    }
}

/// One attribute as the field `tag`: what `KeyValue`'s message encoding writes, with the
/// scalar and string values (nearly all attributes) written inline rather than through the
/// generic message and oneof code. Returns whether the attribute owns nothing to release
/// (see [`Str::is_plain`]), found on the way.
#[inline]
fn put_attribute(buf: &mut RevBuf, tag: u32, kv: &KeyValue) -> bool {
    use otlp_proto::common::{AnyValue, Value};
    let mark = buf.len();
    if kv.key_strindex != 0 {
        kv.encode_fields(buf);
        buf.finish_len_delimited(tag, mark);
        return false;
    }
    let mut plain = kv.key.is_plain();
    if let Some(value) = &kv.value {
        let value_mark = buf.len();
        match value {
            AnyValue {
                value: Some(Value::StringValue(s)),
            } => {
                plain &= s.is_plain();
                buf.put_bytes_field(1, s.as_bytes());
            }
            AnyValue {
                value: Some(Value::BoolValue(b)),
            } => {
                buf.put_u8(u8::from(*b));
                buf.put_key(2, WireType::Varint);
            }
            AnyValue {
                value: Some(Value::IntValue(i)),
            } => {
                buf.put_varint(*i as u64);
                buf.put_key(3, WireType::Varint);
            }
            AnyValue {
                value: Some(Value::DoubleValue(d)),
            } => {
                buf.put_fixed64(d.to_bits());
                buf.put_key(4, WireType::Fixed64);
            }
            other => {
                plain = false;
                other.encode_fields(buf);
            }
        }
        buf.finish_len_delimited(2, value_mark);
    }
    if !kv.key.is_empty() {
        buf.put_bytes_field(1, kv.key.as_bytes());
    }
    buf.finish_len_delimited(tag, mark);
    plain
}

fn put_repeated<M: Message>(buf: &mut RevBuf, tag: u32, items: &[M]) {
    for item in items.iter().rev() {
        let mark = buf.len();
        item.encode_fields(buf);
        buf.finish_len_delimited(tag, mark);
    }
}

/// A pooled [`SpanRecord`]: what the traces pipeline carries. Dropping it (after the worker
/// encoded it, or when a span is not exported) returns the record to the pool.
#[derive(Debug)]
pub(crate) struct RecordedSpan(Option<Box<SpanRecord>>);

/// Lets the record pool keep as many records as a traces queue of `capacity` holds.
pub(crate) fn pool_for_queue(capacity: usize) {
    pool::keep_up_to(capacity);
}

impl RecordedSpan {
    /// A record from the pool (the calling thread's cache first), reset.
    #[inline]
    pub(crate) fn take(limits: SpanLimits) -> RecordedSpan {
        let mut record = pool::take();
        record.settle_at = 2 * (limits.attribute_count() as usize).max(32);
        record.limits = limits;
        RecordedSpan(Some(record))
    }

    /// No record: what a tracer that never records holds.
    #[inline]
    pub(crate) const fn none() -> RecordedSpan {
        RecordedSpan(None)
    }

    #[inline]
    pub(crate) fn get(&self) -> Option<&SpanRecord> {
        self.0.as_deref()
    }

    #[inline]
    pub(crate) fn get_mut(&mut self) -> Option<&mut SpanRecord> {
        self.0.as_deref_mut()
    }

    /// Asks the CPU to start loading the record's header (its fields), without reading it.
    /// A hint only.
    #[inline]
    pub(crate) fn prefetch_header(&self) {
        if let Some(r) = &self.0 {
            r.prefetch_header(Intent::Read);
        }
    }

    /// Asks the CPU to start loading the record's attributes (the bulk of what encoding it
    /// reads), so that the load overlaps the encoding of the records before it. A hint only.
    #[inline]
    pub(crate) fn prefetch(&self) {
        if let Some(r) = &self.0 {
            r.prefetch_attributes(Intent::Read);
        }
    }
}

impl Drop for RecordedSpan {
    fn drop(&mut self) {
        if let Some(record) = self.0.take() {
            pool::give_back(record);
        }
    }
}

impl PipelineItem for RecordedSpan {
    /// [`Priority::High`] for a span whose status is ERROR.
    fn priority(&self) -> Priority {
        match self.get() {
            Some(r) if r.is_error() => Priority::High,
            _ => Priority::Normal,
        }
    }

    /// From the record's header only (counts and lengths it holds inline), so this pass does
    /// not pull every attribute across from the application thread's cache: 48 bytes an
    /// attribute, 64 an event or link. The pipeline checks the encoded size anyway and halves a
    /// body over the byte cap, so long values cost at worst one re-encoding.
    fn encoded_size_hint(&self) -> usize {
        let Some(r) = self.get() else { return 0 };
        64 + 16
            + 8
            + 8
            + r.trace_state.len()
            + r.name.len()
            + r.status_message.len()
            + 48 * r.attributes.len()
            + 64 * (r.events.len() + r.links.len())
    }
}

/// The record pool: a small cache per thread in front of one shared, bounded stack.
///
/// The application thread takes records from its cache; the worker's drops fill the worker's
/// cache, which spills to the shared stack in chunks; an application thread whose cache is
/// empty refills it from the shared stack in one lock. So the lock is taken once per
/// [`CHUNK`] spans on each side, and no record is allocated once the pool is warm.
// The records move between threads by pointer: boxing is the point.
#[allow(clippy::vec_box)]
mod pool {
    use super::{Mutex, PoisonError, RefCell, SpanRecord};
    use std::sync::atomic::{AtomicUsize, Ordering};

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
                        far.prefetch_header(super::Intent::Write);
                    }
                    if let Some(near) = len.checked_sub(ATTRIBUTES_AHEAD).map(|i| &local[i]) {
                        near.prefetch_attributes(super::Intent::Write);
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
    pub(super) fn local_len() -> usize {
        LOCAL.with(|l| l.borrow().len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use otlp_proto::common::{AnyValue, ArrayValue, KeyValueList, Value};

    fn record(limits: SpanLimits) -> RecordedSpan {
        let mut r = RecordedSpan::take(limits);
        let rec = r.get_mut().expect("record");
        rec.trace_id = [1; 16];
        rec.span_id = [2; 8];
        rec.name = "op".into();
        rec.start_time = 10;
        rec.end_time = 20;
        r
    }

    #[test]
    fn encodes_exactly_as_the_otlp_message() {
        let mut r = record(SpanLimits::default());
        let rec = r.get_mut().expect("record");
        rec.parent_span_id = [3; 8];
        rec.trace_state = "a=b".into();
        rec.kind = proto::SpanKind::Server as i32;
        rec.flags = 0x301;
        rec.push_attribute(KeyValue::new("k", "v"));
        rec.push_attribute(KeyValue::new("n", 7i64));
        // Every kind of value, and the edge cases of the inline attribute encoding.
        rec.push_attribute(KeyValue::new("negative", -3i64));
        rec.push_attribute(KeyValue::new("big", i64::MAX));
        rec.push_attribute(KeyValue::new("yes", true));
        rec.push_attribute(KeyValue::new("no", false));
        rec.push_attribute(KeyValue::new("ratio", 0.25f64));
        rec.push_attribute(KeyValue::new("zero", 0.0f64));
        rec.push_attribute(KeyValue::new("empty string", ""));
        rec.push_attribute(KeyValue::new("long", "x".repeat(300)));
        rec.push_attribute(KeyValue::new("", "empty key"));
        rec.push_attribute(KeyValue::new(
            "bytes",
            AnyValue {
                value: Some(Value::BytesValue(Bytes::from_static(b"\x00\x01"))),
            },
        ));
        rec.push_attribute(KeyValue::new(
            "array",
            AnyValue {
                value: Some(Value::ArrayValue(ArrayValue {
                    values: vec![AnyValue::from(1i64), AnyValue::from("a")],
                })),
            },
        ));
        rec.push_attribute(KeyValue::new(
            "map",
            AnyValue {
                value: Some(Value::KvlistValue(KeyValueList {
                    values: vec![KeyValue::new("inner", true)],
                })),
            },
        ));
        rec.push_attribute(KeyValue::new("empty value", AnyValue { value: None }));
        rec.push_attribute(KeyValue {
            key: "no value".into(),
            value: None,
            key_strindex: 0,
        });
        rec.push_attribute(KeyValue {
            key: Str::new(),
            value: Some(AnyValue::from(1i64)),
            key_strindex: 4,
        });
        rec.events.push(proto::Event {
            time_unix_nano: 15,
            name: "e".into(),
            ..proto::Event::default()
        });
        rec.dropped_links_count = 2;
        rec.status_code = proto::StatusCode::Error as i32;
        rec.status_message = "boom".into();
        rec.settle_attributes();
        let mut ours = RevBuf::new();
        rec.encode_fields(&mut ours);
        let expected = rec.to_otlp().encode_to_bytes();
        assert_eq!(ours.as_slice(), &expected[..]);
        // And a minimal span: no optional field written.
        let mut r = record(SpanLimits::default());
        let rec = r.get_mut().expect("record");
        let mut ours = RevBuf::new();
        rec.encode_fields(&mut ours);
        assert_eq!(ours.as_slice(), &rec.to_otlp().encode_to_bytes()[..]);
    }

    #[test]
    fn encoding_finds_whether_the_attributes_own_anything() {
        let encode = |attributes: Vec<KeyValue>| {
            let mut r = record(SpanLimits::default());
            let rec = r.get_mut().expect("record");
            for kv in attributes {
                rec.push_attribute(kv);
            }
            rec.encode_fields(&mut RevBuf::new());
            rec.attributes_plain
        };
        let long = "a value longer than thirty bytes, so shared".to_string();
        assert!(encode(vec![]));
        assert!(encode(vec![
            KeyValue::new("static", "value"),
            KeyValue::new(String::from("inline key"), String::from("inline value")),
            KeyValue::new("n", 1i64),
            KeyValue::new("b", true),
            KeyValue::new("d", 0.5f64),
        ]));
        assert!(!encode(vec![
            KeyValue::new("k", "v"),
            KeyValue::new("long", long.clone())
        ]));
        assert!(!encode(vec![KeyValue::new(long, 1i64)]));
        assert!(!encode(vec![KeyValue::new(
            "bytes",
            Bytes::from_static(b"x")
        )]));
        assert!(!encode(vec![KeyValue::new(
            "array",
            AnyValue::new(Value::ArrayValue(ArrayValue { values: vec![] }))
        )]));
        // A record that was never encoded (a span dropped by policy) is dropped normally.
        let r = record(SpanLimits::default());
        assert!(!r.get().expect("record").attributes_plain);
    }

    #[test]
    fn duplicate_keys_are_found_whatever_their_fingerprints() {
        let kvs = |keys: &[&str]| -> Vec<KeyValue> {
            keys.iter()
                .map(|k| KeyValue::new(k.to_string(), 1i64))
                .collect()
        };
        // Same length, first, middle and last bytes: one fingerprint, different keys.
        assert_eq!(fingerprint(b"a1xyz9b"), fingerprint(b"a2xyz8b"));
        assert!(!has_duplicate_keys(&kvs(&["a1xyz9b", "a2xyz8b"])));
        assert!(has_duplicate_keys(&kvs(&["x", "a1xyz9b", "y", "a1xyz9b"])));
        assert!(has_duplicate_keys(&kvs(&["", "k", ""])));
        assert!(!has_duplicate_keys(&kvs(&["", "k"])));
        // Beyond the fingerprinted count, the plain comparison.
        let many: Vec<String> = (0..40).map(|i| format!("key.{i}")).collect();
        let mut keys: Vec<&str> = many.iter().map(String::as_str).collect();
        assert!(!has_duplicate_keys(&kvs(&keys)));
        keys.push("key.7");
        assert!(has_duplicate_keys(&kvs(&keys)));
        // And within it, every pair position.
        for i in 0..FINGERPRINTED {
            for j in 0..i {
                let mut keys: Vec<&str> =
                    many[..FINGERPRINTED].iter().map(String::as_str).collect();
                keys[i] = keys[j];
                assert!(has_duplicate_keys(&kvs(&keys)), "{j} and {i}");
            }
        }
    }

    #[test]
    fn the_size_hint_is_in_the_range_of_the_encoded_size() {
        let mut r = record(SpanLimits::default());
        let rec = r.get_mut().expect("record");
        rec.name = "GET /api/users/{id}".into();
        rec.push_attribute(KeyValue::new("http.request.method", "GET"));
        rec.push_attribute(KeyValue::new("http.response.status_code", 200i64));
        rec.push_attribute(KeyValue::new("server.address", "api.example.com"));
        rec.push_attribute(KeyValue::new("cache.hit", true));
        let mut buf = RevBuf::new();
        rec.encode_fields(&mut buf);
        let real = buf.len();
        let hint = r.encoded_size_hint();
        assert!(
            hint * 2 >= real && hint <= real * 2,
            "hint {hint}, real {real}"
        );
    }

    #[test]
    fn attributes_settle_last_value_first_position_under_the_limit() {
        let mut r = record(SpanLimits::default().with_attribute_count(2));
        let rec = r.get_mut().expect("record");
        rec.push_attribute(KeyValue::new("a", 1i64));
        rec.push_attribute(KeyValue::new("b", 2i64));
        rec.push_attribute(KeyValue::new("a", 3i64));
        rec.push_attribute(KeyValue::new("c", 4i64));
        rec.push_attribute(KeyValue::new("c", 5i64));
        rec.settle_attributes();
        let got: Vec<(String, Option<AnyValue>)> = rec
            .attributes
            .iter()
            .map(|kv| (kv.key.to_string(), kv.value.clone()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("a".to_owned(), Some(AnyValue::from(3i64))),
                ("b".to_owned(), Some(AnyValue::from(2i64)))
            ]
        );
        assert_eq!(
            rec.dropped_attributes_count, 2,
            "c set twice, dropped twice"
        );
        // Without duplicates, only the limit applies.
        let mut r = record(SpanLimits::default().with_attribute_count(1));
        let rec = r.get_mut().expect("record");
        rec.push_attribute(KeyValue::new("a", 1i64));
        rec.push_attribute(KeyValue::new("b", 2i64));
        rec.settle_attributes();
        assert_eq!(rec.attributes.len(), 1);
        assert_eq!(rec.dropped_attributes_count, 1);
    }

    #[test]
    fn a_span_setting_one_key_forever_stays_bounded() {
        let mut r = record(SpanLimits::default());
        let rec = r.get_mut().expect("record");
        for i in 0..100_000i64 {
            rec.push_attribute(KeyValue::new("same", i));
        }
        assert!(
            rec.attributes.len() <= 2 * 128 + 1,
            "{}",
            rec.attributes.len()
        );
        rec.settle_attributes();
        assert_eq!(rec.attributes.len(), 1);
        assert_eq!(
            rec.attributes[0].value,
            Some(AnyValue::from(99_999i64)),
            "last value wins"
        );
    }

    #[test]
    fn records_are_recycled_reset_with_their_capacity() {
        let mut r = record(SpanLimits::default());
        let rec = r.get_mut().expect("record");
        for i in 0..10i64 {
            rec.push_attribute(KeyValue::new("k", i));
        }
        rec.status_code = 2;
        let ptr: *const SpanRecord = rec;
        drop(r);
        assert!(pool::local_len() >= 1);
        let again = RecordedSpan::take(SpanLimits::default());
        let rec = again.get().expect("record");
        assert!(std::ptr::eq(rec, ptr), "the same box comes back");
        assert!(rec.attributes.is_empty() && rec.attributes.capacity() >= 10);
        assert_eq!((rec.status_code, rec.parent_span_id), (0, [0; 8]));
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
