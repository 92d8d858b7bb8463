//! Tracers and span builders.

use super::context::{SpanContext, TraceFlags, TraceState};
use super::current::current_parent;
use super::id::{SpanId, TraceId};
use super::limits::SpanLimits;
use super::sampler::Sampler;
use super::span::{Link, Recording, Span, link_to_otlp, otlp_flags, unix_nanos};
use crate::pipeline::Pipeline;
use bytes::Bytes;
use otlp_proto::Str;
use otlp_proto::common::{AnyValue, KeyValue};
use otlp_proto::trace as proto;
pub use proto::SpanKind;
use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

/// Makes spans for one instrumentation scope. Cheap to clone (one reference count).
#[derive(Clone)]
pub struct Tracer {
    inner: Arc<TracerInner>,
}

struct TracerInner {
    name: Str,
    version: Option<Str>,
    schema_url: Option<Str>,
    sampler: Arc<Sampler>,
    limits: SpanLimits,
    pipeline: Option<Pipeline<proto::Span>>,
}

impl Tracer {
    pub(crate) fn new(
        name: Str,
        version: Option<Str>,
        schema_url: Option<Str>,
        sampler: Arc<Sampler>,
        limits: SpanLimits,
        pipeline: Pipeline<proto::Span>,
    ) -> Tracer {
        Tracer {
            inner: Arc::new(TracerInner {
                name,
                version,
                schema_url,
                sampler,
                limits,
                pipeline: Some(pipeline),
            }),
        }
    }

    /// A tracer whose spans never record, but still propagate contexts (children of a sampled
    /// parent get the parent's trace id and flags).
    pub fn noop() -> Tracer {
        Tracer {
            inner: Arc::new(TracerInner {
                name: Str::new(),
                version: None,
                schema_url: None,
                sampler: Arc::new(Sampler::AlwaysOff),
                limits: SpanLimits::default(),
                pipeline: None,
            }),
        }
    }

    pub(crate) fn pipeline(&self) -> Option<&Pipeline<proto::Span>> {
        self.inner.pipeline.as_ref()
    }

    /// The instrumentation scope name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The instrumentation scope version, if given.
    pub fn version(&self) -> Option<&str> {
        self.inner.version.as_deref()
    }

    /// The schema URL, if given.
    pub fn schema_url(&self) -> Option<&str> {
        self.inner.schema_url.as_deref()
    }

    /// Starts building a span named `name`.
    pub fn span_builder(&self, name: impl Into<Str>) -> SpanBuilder<'_> {
        SpanBuilder {
            tracer: self,
            name: name.into(),
            kind: SpanKind::Internal,
            attributes: Vec::new(),
            links: Vec::new(),
            start_time: None,
            parent: Parent::Current,
        }
    }

    /// Starts a span named `name` with the current context as parent.
    pub fn start(&self, name: impl Into<Str>) -> Span {
        self.span_builder(name).start()
    }

    /// Runs `f` in a new span named `name`, current for the duration of `f`, and ends the span
    /// when `f` returns.
    pub fn in_span<R>(&self, name: impl Into<Str>, f: impl FnOnce(&mut Span) -> R) -> R {
        let mut span = self.start(name);
        let guard = span.enter();
        let result = f(&mut span);
        drop(guard);
        span.end();
        result
    }
}

impl fmt::Debug for Tracer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tracer")
            .field("name", &self.inner.name)
            .field("version", &self.inner.version)
            .field("schema_url", &self.inner.schema_url)
            .field("sampler", &self.inner.sampler)
            .finish_non_exhaustive()
    }
}

enum Parent {
    Current,
    Explicit(SpanContext),
    Root,
}

/// Describes a span before it starts; made by [`Tracer::span_builder`].
pub struct SpanBuilder<'a> {
    tracer: &'a Tracer,
    name: Str,
    kind: SpanKind,
    attributes: Vec<KeyValue>,
    links: Vec<Link>,
    start_time: Option<SystemTime>,
    parent: Parent,
}

impl fmt::Debug for SpanBuilder<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpanBuilder")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl SpanBuilder<'_> {
    /// The span kind (default `Internal`).
    pub fn with_kind(mut self, kind: SpanKind) -> Self {
        self.kind = kind;
        self
    }

    /// Adds an attribute.
    pub fn with_attribute(mut self, key: impl Into<Str>, value: impl Into<AnyValue>) -> Self {
        // One allocation for the usual handful of attributes, instead of growing 4 -> 8 -> 16.
        if self.attributes.capacity() == 0 {
            self.attributes.reserve(8);
        }
        self.attributes.push(KeyValue::new(key, value));
        self
    }

    /// Adds attributes.
    pub fn with_attributes(mut self, attributes: impl IntoIterator<Item = KeyValue>) -> Self {
        self.attributes.extend(attributes);
        self
    }

    /// Adds links; links to invalid contexts are ignored.
    pub fn with_links(mut self, links: impl IntoIterator<Item = Link>) -> Self {
        self.links.extend(links);
        self
    }

    /// The start time (default: when [`start`](SpanBuilder::start) is called).
    pub fn with_start_time(mut self, time: SystemTime) -> Self {
        self.start_time = Some(time);
        self
    }

    /// An explicit parent, instead of the current context. An invalid one makes a root span.
    pub fn with_parent(mut self, parent: &SpanContext) -> Self {
        self.parent = Parent::Explicit(parent.clone());
        self
    }

    /// Makes a root span, whatever the current context.
    pub fn with_no_parent(mut self) -> Self {
        self.parent = Parent::Root;
        self
    }

    /// Samples and starts the span.
    pub fn start(self) -> Span {
        let tracer = &*self.tracer.inner;
        let parent = match self.parent {
            Parent::Current => current_parent(),
            Parent::Explicit(p) => Some(p).filter(SpanContext::is_valid),
            Parent::Root => None,
        };
        let trace_id = parent
            .as_ref()
            .map_or_else(TraceId::random, |p| p.trace_id());
        let decision = tracer.sampler.should_sample(parent.as_ref(), trace_id);
        let (flags, state) = match &parent {
            Some(p) => (p.trace_flags(), p.trace_state().clone()),
            None => (TraceFlags::NONE, TraceState::empty()),
        };
        let context = SpanContext::new(
            trace_id,
            SpanId::random(),
            flags.with_sampled(decision.is_sampled()),
            false,
            state,
        );
        let Some(pipeline) = tracer.pipeline.as_ref().filter(|_| decision.is_recording()) else {
            return Span::non_recording(context);
        };

        let limits = tracer.limits;
        let mut attributes = Vec::with_capacity(self.attributes.len());
        let mut dropped_attributes_count = 0;
        for kv in self.attributes {
            if let Some(existing) = attributes
                .iter_mut()
                .find(|a: &&mut KeyValue| a.key == kv.key)
            {
                *existing = kv;
            } else if attributes.len() < limits.attribute_count() as usize {
                attributes.push(kv);
            } else {
                dropped_attributes_count += 1;
            }
        }
        limits.apply(&mut attributes, limits.attribute_count());
        let mut links = Vec::new();
        let mut dropped_links_count = 0;
        for link in self.links.into_iter().filter(|l| l.context.is_valid()) {
            if links.len() < limits.link_count() as usize {
                links.push(link_to_otlp(link, &limits));
            } else {
                dropped_links_count += 1;
            }
        }
        let data = proto::Span {
            trace_id: Bytes::copy_from_slice(&trace_id.to_bytes()),
            span_id: Bytes::copy_from_slice(&context.span_id().to_bytes()),
            trace_state: context.trace_state().as_otlp(),
            parent_span_id: parent.as_ref().map_or_else(Bytes::new, |p| {
                Bytes::copy_from_slice(&p.span_id().to_bytes())
            }),
            name: self.name,
            kind: self.kind as i32,
            start_time_unix_nano: unix_nanos(self.start_time.unwrap_or_else(SystemTime::now)),
            end_time_unix_nano: 0,
            attributes,
            dropped_attributes_count,
            events: Vec::new(),
            dropped_events_count: 0,
            links,
            dropped_links_count,
            status: None,
            flags: parent.as_ref().map_or_else(
                || otlp_flags(&context),
                |p| (otlp_flags(p) & !0xff) | u32::from(context.trace_flags().bits()),
            ),
        };
        Span::new(
            context,
            Some(Box::new(Recording {
                data,
                limits,
                sampled: decision.is_sampled(),
                pipeline: pipeline.clone(),
            })),
        )
    }
}
