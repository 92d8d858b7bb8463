//! Spans: a recording span fills its pooled record and hands it to the pipeline on end.

use super::context::{SpanContext, TraceFlags, TraceState};
use super::id::TraceId;
use super::limits::SpanLimits;
use super::record::{RecordedSpan, SpanRecord};
use super::sampler::SamplingParams;
use super::tracer::SpanKind;
use super::tracer::Tracer;
use crate::clock::to_unix_nanos;
use crate::context::ContextGuard;
use bytes::Bytes;
use otlp_proto::Str;
use otlp_proto::common::{AnyValue, KeyValue};
use otlp_proto::trace as proto;
use otlp_semconv::attribute as semconv;
use std::fmt;
use std::time::SystemTime;

/// A span's status.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Status {
    /// Not set (the default).
    #[default]
    Unset,
    /// The operation succeeded; final, later statuses are ignored.
    Ok,
    /// The operation failed, with a description.
    Error(Str),
}

impl Status {
    /// An error status with this description.
    pub fn error(description: impl Into<Str>) -> Status {
        Status::Error(description.into())
    }
}

/// A link to another span, with attributes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Link {
    /// The linked span.
    pub context: SpanContext,
    /// The link's attributes.
    pub attributes: Vec<KeyValue>,
}

impl Link {
    /// A link to `context` with `attributes`.
    pub fn new(context: SpanContext, attributes: Vec<KeyValue>) -> Link {
        Link {
            context,
            attributes,
        }
    }
}

pub(crate) fn link_to_otlp(link: Link, limits: &SpanLimits) -> proto::Link {
    let Link {
        context,
        mut attributes,
    } = link;
    let dropped = limits.apply(&mut attributes, limits.link_attribute_count());
    proto::Link {
        trace_id: Bytes::copy_from_slice(&context.trace_id().to_bytes()),
        span_id: Bytes::copy_from_slice(&context.span_id().to_bytes()),
        trace_state: context.trace_state().as_otlp(),
        attributes,
        dropped_attributes_count: dropped,
        flags: otlp_flags(&context),
    }
}

/// The OTLP `flags` field: the trace flags, and whether the context (the parent's, or the
/// linked one's) is remote.
pub(crate) fn otlp_flags(context: &SpanContext) -> u32 {
    use proto::span_flags::{CONTEXT_HAS_IS_REMOTE_MASK, CONTEXT_IS_REMOTE_MASK};
    let remote = if context.is_remote() {
        CONTEXT_IS_REMOTE_MASK
    } else {
        0
    };
    u32::from(context.trace_flags().bits()) | CONTEXT_HAS_IS_REMOTE_MASK | remote
}

pub(crate) struct Recording {
    pub(crate) record: RecordedSpan,
    /// Its pipeline; keeps it alive while the span is open (the limits are in the record).
    pub(crate) tracer: Tracer,
    pub(crate) sampled: bool,
}

/// A span, started by [`SpanBuilder::start`](super::SpanBuilder::start).
///
/// A recording span fills a compact record taken from a pool and enqueues it into the traces
/// pipeline when it ends: on [`end`](Span::end), or when dropped. A non-recording span (one the
/// sampler dropped) holds only its [`SpanContext`]: every operation on it is a branch and a
/// return, and it allocates nothing.
pub struct Span {
    context: SpanContext,
    recording: Option<Recording>,
}

impl Span {
    pub(crate) fn new(context: SpanContext, recording: Option<Recording>) -> Span {
        Span { context, recording }
    }

    /// A span that records nothing, with this context (which it propagates to children).
    pub fn non_recording(context: SpanContext) -> Span {
        Span {
            context,
            recording: None,
        }
    }

    /// The span's context.
    pub fn span_context(&self) -> &SpanContext {
        &self.context
    }

    /// Whether operations on the span take effect: it was sampled (or recorded) and has not
    /// ended.
    pub fn is_recording(&self) -> bool {
        self.recording.is_some()
    }

    /// Makes this span the current one on this thread until the guard drops: spans started
    /// meanwhile without an explicit parent become its children.
    pub fn enter(&self) -> ContextGuard {
        self.context.clone().attach()
    }

    /// Gives a span that has just started another parent, as if it had been started under
    /// `parent` (an invalid one makes it a root): its trace id, parent span id, trace flags and
    /// state become the new parent's, its span id stays, and the tracer's sampler decides again
    /// (under `ParentBased`, a remote parent's sampled flag is honoured), which may stop the
    /// span recording. For integrations that learn the parent only after starting the span
    /// (`otlp-tracing`'s `set_parent`); spans already started under this one keep the old
    /// trace. A span that did not record has nothing to re-sample and is left as it is.
    #[doc(hidden)]
    pub fn set_parent(&mut self, parent: &SpanContext) {
        let Some(recording) = self.recording.as_mut() else {
            return;
        };
        let Some(rec) = recording.record.get_mut() else {
            return;
        };
        let parent = Some(parent).filter(|p| p.is_valid());
        let trace_id = match parent {
            Some(p) => p.trace_id(),
            // Already a root: it keeps its trace.
            None if rec.parent_span_id == [0; 8] => TraceId::from_bytes(rec.trace_id),
            None => TraceId::random(),
        };
        let result = recording.tracer.inner().sampler.sample(&SamplingParams {
            parent,
            trace_id,
            name: &rec.name,
            kind: span_kind(rec.kind),
            attributes: &rec.attributes,
            links: &[],
        });
        let state = match (result.trace_state, parent) {
            (Some(state), _) => state,
            (None, Some(p)) => p.trace_state().clone(),
            (None, None) => TraceState::empty(),
        };
        let flags = parent
            .map_or(TraceFlags::NONE, SpanContext::trace_flags)
            .with_sampled(result.decision.is_sampled());
        self.context = SpanContext::new(trace_id, self.context.span_id(), flags, false, state);
        if !result.decision.is_recording() {
            // Dropped unexported, like a span the sampler dropped at start.
            self.recording = None;
            return;
        }
        for kv in result.attributes {
            rec.push_attribute(kv);
        }
        rec.trace_id = trace_id.to_bytes();
        rec.parent_span_id = parent.map_or([0; 8], |p| p.span_id().to_bytes());
        rec.trace_state = self.context.trace_state().as_otlp();
        rec.flags = parent.map_or_else(
            || otlp_flags(&self.context),
            |p| (otlp_flags(p) & !0xff) | u32::from(flags.bits()),
        );
        recording.sampled = result.decision.is_sampled();
    }

    #[inline]
    fn record(&mut self) -> Option<&mut SpanRecord> {
        self.recording.as_mut()?.record.get_mut()
    }

    /// Sets an attribute, replacing the value of an existing key. Over the attribute count
    /// limit a new key is dropped and counted; long values are truncated (both applied when the
    /// span is exported, off the application thread).
    #[inline]
    pub fn set_attribute(&mut self, key: impl Into<Str>, value: impl Into<AnyValue>) {
        if let Some(rec) = self.record() {
            rec.set_attribute(key, value);
        }
    }

    /// Sets several attributes, as [`set_attribute`](Span::set_attribute) does.
    pub fn set_attributes(&mut self, attributes: impl IntoIterator<Item = KeyValue>) {
        if let Some(rec) = self.record() {
            for kv in attributes {
                rec.push_attribute(kv);
            }
        }
    }

    /// Adds an event, timestamped now by the SDK's [clock](crate::clock) (the one that stamps
    /// the span's start and end; never before the start).
    pub fn add_event(&mut self, name: impl Into<Str>, attributes: Vec<KeyValue>) {
        if let Some(rec) = self.record() {
            let time = crate::clock::now_unix_nanos().max(rec.start_time);
            push_event(rec, name.into(), time, attributes);
        }
    }

    /// Adds an event with a given time. Over the event count limit it is dropped and counted;
    /// its attributes are limited by the per-event limit.
    pub fn add_event_with_timestamp(
        &mut self,
        name: impl Into<Str>,
        time: SystemTime,
        attributes: Vec<KeyValue>,
    ) {
        if let Some(rec) = self.record() {
            push_event(rec, name.into(), to_unix_nanos(time), attributes);
        }
    }

    /// Adds a link to another span. Over the link count limit it is dropped and counted.
    pub fn add_link(&mut self, context: SpanContext, attributes: Vec<KeyValue>) {
        if !context.is_valid() {
            return;
        }
        let Some(rec) = self.record() else {
            return;
        };
        let limits = rec.limits;
        if rec.links.len() >= limits.link_count() as usize {
            rec.dropped_links_count += 1;
            return;
        }
        rec.links
            .push(link_to_otlp(Link::new(context, attributes), &limits));
    }

    /// Sets the status: `Ok` is final, `Error` replaces `Unset` or an earlier `Error`, and
    /// `Unset` is ignored, as the specification asks.
    pub fn set_status(&mut self, status: Status) {
        let Some(rec) = self.record() else {
            return;
        };
        if rec.status_code == proto::StatusCode::Ok as i32 {
            return;
        }
        match status {
            Status::Unset => {}
            Status::Ok => {
                rec.status_code = proto::StatusCode::Ok as i32;
                rec.status_message = Str::new();
            }
            Status::Error(message) => {
                rec.status_code = proto::StatusCode::Error as i32;
                rec.status_message = message;
            }
        }
    }

    /// Records an error as an `exception` event (semantic conventions): `exception.type` is the
    /// error's Rust type name when known statically (a `dyn Error` gives none),
    /// `exception.message` its `Display`, and `exception.stacktrace` the backtrace of this call
    /// when backtraces are enabled (`RUST_BACKTRACE` or `RUST_LIB_BACKTRACE`, as
    /// [`std::backtrace::Backtrace::capture`] decides). Does not change the status; call
    /// [`set_status`](Span::set_status) for that.
    pub fn record_error<E: std::error::Error + ?Sized>(&mut self, error: &E) {
        if self.recording.is_none() {
            return;
        }
        let mut attributes = Vec::with_capacity(3);
        let type_name = std::any::type_name::<E>();
        if !type_name.starts_with("dyn ") {
            attributes.push(KeyValue::new(semconv::EXCEPTION_TYPE, type_name));
        }
        attributes.push(KeyValue::new(semconv::EXCEPTION_MESSAGE, error.to_string()));
        let backtrace = std::backtrace::Backtrace::capture();
        if backtrace.status() == std::backtrace::BacktraceStatus::Captured {
            attributes.push(KeyValue::new(
                semconv::EXCEPTION_STACKTRACE,
                backtrace.to_string(),
            ));
        }
        self.add_event("exception", attributes);
    }

    /// Renames the span.
    pub fn update_name(&mut self, name: impl Into<Str>) {
        if let Some(rec) = self.record() {
            rec.name = name.into();
        }
    }

    /// Ends the span now. Only the first end counts; afterwards the span no longer records.
    #[inline]
    pub fn end(&mut self) {
        if self.recording.is_some() {
            self.finish(crate::clock::now_unix_nanos());
        }
    }

    /// Ends the span at `time`. Only the first end counts.
    pub fn end_with_timestamp(&mut self, time: SystemTime) {
        if self.recording.is_some() {
            self.finish(to_unix_nanos(time));
        }
    }

    fn finish(&mut self, end_time: u64) {
        let Some(Recording {
            mut record,
            tracer,
            sampled,
        }) = self.recording.take()
        else {
            return;
        };
        if !sampled {
            return;
        }
        if let Some(rec) = record.get_mut() {
            rec.end_time = end_time.max(rec.start_time);
        }
        if let Some(pipeline) = tracer.inner().pipeline.as_ref() {
            let _ = pipeline.enqueue(record);
        }
    }
}

/// The kind a record holds, as the sampler takes it.
fn span_kind(kind: i32) -> SpanKind {
    [
        SpanKind::Internal,
        SpanKind::Server,
        SpanKind::Client,
        SpanKind::Producer,
        SpanKind::Consumer,
    ]
    .into_iter()
    .find(|k| *k as i32 == kind)
    .unwrap_or(SpanKind::Unspecified)
}

/// Adds an event to `rec`, within the event count limit and the per-event attribute limit.
fn push_event(rec: &mut SpanRecord, name: Str, time_unix_nano: u64, mut attributes: Vec<KeyValue>) {
    let limits = rec.limits;
    if rec.events.len() >= limits.event_count() as usize {
        rec.dropped_events_count += 1;
        return;
    }
    let dropped = limits.apply(&mut attributes, limits.event_attribute_count());
    rec.events.push(proto::Event {
        time_unix_nano,
        name,
        attributes,
        dropped_attributes_count: dropped,
    });
}

impl Drop for Span {
    fn drop(&mut self) {
        self.end();
    }
}

impl fmt::Debug for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Span")
            .field("context", &self.context)
            .field("recording", &self.is_recording())
            .finish()
    }
}
