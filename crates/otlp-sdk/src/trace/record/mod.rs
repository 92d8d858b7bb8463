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
//!
//! The parts: the record and its pooled handle ([`RecordedSpan`]) here, its attributes in
//! `attributes`, its encoding in `encode`, and the pool in `pool`, which holds every `unsafe`
//! operation on the pool's memory (records handed between threads, prefetches, the reset that
//! forgets plain attributes). The one other `unsafe` is the attribute written in its slot
//! (`attributes`): built in place, as a helper or a closure in between would build it on the
//! stack and copy it.

use super::context::{SpanContext, TraceFlags, TraceState};
use super::id::{SpanId, TraceId};
use super::limits::SpanLimits;
use crate::pipeline::{PipelineItem, Priority};
use otlp_proto::Str;
use otlp_proto::common::KeyValue;
use otlp_proto::trace as proto;

mod attributes;
mod encode;
mod pool;

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
    /// Set while the record holds an explicit parent given to the span's builder
    /// ([`SpanBuilder::with_parent`](super::SpanBuilder::with_parent)), until the span starts:
    /// see [`SpanRecord::set_explicit_parent`].
    explicit_parent: Option<ParentFlags>,
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

/// What an explicit parent has besides what the started span keeps of it.
#[derive(Debug, Clone, Copy)]
struct ParentFlags {
    flags: TraceFlags,
    remote: bool,
}

impl SpanRecord {
    /// Holds `parent` until the span starts. Its trace id, span id and trace state go where the
    /// started span keeps them anyway (a child's trace id is its parent's, `parent_span_id` is
    /// its span id, and the trace state is inherited unless the sampler replaces it); its trace
    /// flags and remoteness in a small field of their own. So the record stays as small as
    /// before it could hold a parent: every line of it is prefetched, for every span.
    pub(crate) fn set_explicit_parent(&mut self, parent: &SpanContext) {
        self.trace_id = parent.trace_id().to_bytes();
        self.parent_span_id = parent.span_id().to_bytes();
        self.trace_state = parent.trace_state().as_otlp();
        self.explicit_parent = Some(ParentFlags {
            flags: parent.trace_flags(),
            remote: parent.is_remote(),
        });
    }

    /// The explicit parent [`set_explicit_parent`](SpanRecord::set_explicit_parent) put here,
    /// if any (taken: the span starts).
    pub(crate) fn take_explicit_parent(&mut self) -> Option<SpanContext> {
        let ParentFlags { flags, remote } = self.explicit_parent.take()?;
        Some(SpanContext::new(
            TraceId::from_bytes(self.trace_id),
            SpanId::from_bytes(self.parent_span_id),
            flags,
            remote,
            TraceState::from_validated(self.trace_state.clone()),
        ))
    }

    pub(crate) fn is_error(&self) -> bool {
        self.status_code == proto::StatusCode::Error as i32
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
            r.prefetch_header(pool::Intent::Read);
        }
    }

    /// Asks the CPU to start loading the record's attributes (the bulk of what encoding it
    /// reads), so that the load overlaps the encoding of the records before it. A hint only.
    #[inline]
    pub(crate) fn prefetch(&self) {
        if let Some(r) = &self.0 {
            r.prefetch_attributes(pool::Intent::Read);
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

/// A record from the pool with a span's ids, name and times, for the tests of every part.
#[cfg(test)]
fn test_record(limits: SpanLimits) -> RecordedSpan {
    let mut r = RecordedSpan::take(limits);
    let rec = r.get_mut().expect("record");
    rec.trace_id = [1; 16];
    rec.span_id = [2; 8];
    rec.name = "op".into();
    rec.start_time = 10;
    rec.end_time = 20;
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_stays_small() {
        // Every line of it is prefetched, on both threads, for every span.
        let size = std::mem::size_of::<SpanRecord>();
        assert!(size <= 320, "{size}");
    }
}
