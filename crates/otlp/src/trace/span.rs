//! Spans: a recording span builds its OTLP message directly and hands it to the pipeline on end.

use super::context::SpanContext;
use super::current::ContextGuard;
use super::limits::SpanLimits;
use crate::pipeline::Pipeline;
use bytes::Bytes;
use otlp_proto::Str;
use otlp_proto::common::{AnyValue, KeyValue};
use otlp_proto::trace as proto;
use otlp_semconv::attribute as semconv;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

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

pub(crate) fn unix_nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
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
    pub(crate) data: proto::Span,
    pub(crate) limits: SpanLimits,
    pub(crate) sampled: bool,
    pub(crate) pipeline: Pipeline<proto::Span>,
}

/// A span, started by [`SpanBuilder::start`](super::SpanBuilder::start).
///
/// A recording span holds its `otlp_proto::trace::Span` and enqueues it into the traces
/// pipeline when it ends: on [`end`](Span::end), or when dropped. A non-recording span (one the
/// sampler dropped) holds only its [`SpanContext`]: every operation on it is a branch and a
/// return, and it allocates nothing.
pub struct Span {
    context: SpanContext,
    recording: Option<Box<Recording>>,
}

impl Span {
    pub(crate) fn new(context: SpanContext, recording: Option<Box<Recording>>) -> Span {
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

    /// Sets an attribute, replacing the value of an existing key. Over the attribute count
    /// limit a new key is dropped and counted; long values are truncated.
    pub fn set_attribute(&mut self, key: impl Into<Str>, value: impl Into<AnyValue>) {
        let Some(r) = self.recording.as_deref_mut() else {
            return;
        };
        let key = key.into();
        let mut value = value.into();
        r.limits.truncate(&mut value);
        let attributes = &mut r.data.attributes;
        if let Some(kv) = attributes.iter_mut().find(|kv| kv.key == key) {
            kv.value = Some(value);
        } else if attributes.len() < r.limits.attribute_count() as usize {
            attributes.push(KeyValue {
                key,
                value: Some(value),
                key_strindex: 0,
            });
        } else {
            r.data.dropped_attributes_count += 1;
        }
    }

    /// Sets several attributes, as [`set_attribute`](Span::set_attribute) does.
    pub fn set_attributes(&mut self, attributes: impl IntoIterator<Item = KeyValue>) {
        if self.recording.is_none() {
            return;
        }
        for kv in attributes {
            self.set_attribute(kv.key, kv.value.unwrap_or_default());
        }
    }

    /// Adds an event, timestamped now.
    pub fn add_event(&mut self, name: impl Into<Str>, attributes: Vec<KeyValue>) {
        if self.recording.is_some() {
            self.add_event_with_timestamp(name, SystemTime::now(), attributes);
        }
    }

    /// Adds an event with a given time. Over the event count limit it is dropped and counted;
    /// its attributes are limited by the per-event limit.
    pub fn add_event_with_timestamp(
        &mut self,
        name: impl Into<Str>,
        time: SystemTime,
        mut attributes: Vec<KeyValue>,
    ) {
        let Some(r) = self.recording.as_deref_mut() else {
            return;
        };
        if r.data.events.len() >= r.limits.event_count() as usize {
            r.data.dropped_events_count += 1;
            return;
        }
        let dropped = r
            .limits
            .apply(&mut attributes, r.limits.event_attribute_count());
        r.data.events.push(proto::Event {
            time_unix_nano: unix_nanos(time),
            name: name.into(),
            attributes,
            dropped_attributes_count: dropped,
        });
    }

    /// Adds a link to another span. Over the link count limit it is dropped and counted.
    pub fn add_link(&mut self, context: SpanContext, attributes: Vec<KeyValue>) {
        let Some(r) = self.recording.as_deref_mut() else {
            return;
        };
        if !context.is_valid() {
            return;
        }
        if r.data.links.len() >= r.limits.link_count() as usize {
            r.data.dropped_links_count += 1;
            return;
        }
        r.data
            .links
            .push(link_to_otlp(Link::new(context, attributes), &r.limits));
    }

    /// Sets the status: `Ok` is final, `Error` replaces `Unset` or an earlier `Error`, and
    /// `Unset` is ignored, as the specification asks.
    pub fn set_status(&mut self, status: Status) {
        let Some(r) = self.recording.as_deref_mut() else {
            return;
        };
        let current = r.data.status.as_ref().map_or(0, |s| s.code);
        if current == proto::StatusCode::Ok as i32 {
            return;
        }
        r.data.status = match status {
            Status::Unset => return,
            Status::Ok => Some(proto::Status {
                code: proto::StatusCode::Ok as i32,
                message: Str::new(),
            }),
            Status::Error(message) => Some(proto::Status {
                code: proto::StatusCode::Error as i32,
                message,
            }),
        };
    }

    /// Records an error as an `exception` event (semantic conventions): `exception.type` is the
    /// error's Rust type name when known statically (a `dyn Error` gives none), and
    /// `exception.message` its `Display`. Does not change the status; call
    /// [`set_status`](Span::set_status) for that.
    pub fn record_error<E: std::error::Error + ?Sized>(&mut self, error: &E) {
        if self.recording.is_none() {
            return;
        }
        let mut attributes = Vec::with_capacity(2);
        let type_name = std::any::type_name::<E>();
        if !type_name.starts_with("dyn ") {
            attributes.push(KeyValue::new(semconv::EXCEPTION_TYPE, type_name));
        }
        attributes.push(KeyValue::new(semconv::EXCEPTION_MESSAGE, error.to_string()));
        self.add_event("exception", attributes);
    }

    /// Renames the span.
    pub fn update_name(&mut self, name: impl Into<Str>) {
        if let Some(r) = self.recording.as_deref_mut() {
            r.data.name = name.into();
        }
    }

    /// Ends the span now. Only the first end counts; afterwards the span no longer records.
    pub fn end(&mut self) {
        if self.recording.is_some() {
            self.end_with_timestamp(SystemTime::now());
        }
    }

    /// Ends the span at `time`. Only the first end counts.
    pub fn end_with_timestamp(&mut self, time: SystemTime) {
        let Some(r) = self.recording.take() else {
            return;
        };
        let Recording {
            mut data,
            sampled,
            pipeline,
            ..
        } = *r;
        if sampled {
            data.end_time_unix_nano = unix_nanos(time).max(data.start_time_unix_nano);
            pipeline.enqueue(data);
        }
    }
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
