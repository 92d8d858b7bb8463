//! Tracers and span builders.

use super::context::{SpanContext, TraceFlags, TraceState};
use super::id::{SpanId, TraceId};
use super::limits::SpanLimits;
use super::record::RecordedSpan;
use super::sampler::{Sampler, SamplingParams};
use super::span::{Link, Recording, Span, link_to_otlp, otlp_flags};
use crate::clock::{now_unix_nanos, to_unix_nanos};
use crate::context::current_parent;
use crate::pipeline::Pipeline;
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

pub(crate) struct TracerInner {
    name: Str,
    version: Option<Str>,
    schema_url: Option<Str>,
    /// The scope's index in the client's scope table.
    scope: u32,
    pub(crate) sampler: Arc<Sampler>,
    /// The sampler never records: builders skip storing attributes.
    never_records: bool,
    pub(crate) limits: SpanLimits,
    pub(crate) pipeline: Option<Pipeline<RecordedSpan>>,
}

/// What identifies a tracer's instrumentation scope.
pub(crate) struct ScopeId {
    pub(crate) name: Str,
    pub(crate) version: Option<Str>,
    pub(crate) schema_url: Option<Str>,
    pub(crate) index: u32,
}

impl Tracer {
    pub(crate) fn new(
        scope: ScopeId,
        sampler: Arc<Sampler>,
        limits: SpanLimits,
        pipeline: Pipeline<RecordedSpan>,
    ) -> Tracer {
        Tracer {
            inner: Arc::new(TracerInner {
                name: scope.name,
                version: scope.version,
                schema_url: scope.schema_url,
                scope: scope.index,
                never_records: sampler.never_records(),
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
                scope: 0,
                sampler: Arc::new(Sampler::AlwaysOff),
                never_records: true,
                limits: SpanLimits::default(),
                pipeline: None,
            }),
        }
    }

    pub(crate) fn inner(&self) -> &TracerInner {
        &self.inner
    }

    /// Whether spans of this tracer can record at all: `false` for the no-op tracer and under
    /// an `AlwaysOff` sampler. Integrations can skip computing attributes when it is `false`
    /// (span builders already ignore them then); spans still carry contexts to propagate.
    pub fn is_enabled(&self) -> bool {
        !self.inner.never_records && self.inner.pipeline.is_some()
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
        let inner = &*self.inner;
        // The name and attributes go straight into a pooled record; a tracer that can never
        // record skips storing them.
        let record = if self.is_enabled() {
            let mut record = RecordedSpan::take(inner.limits);
            if let Some(r) = record.get_mut() {
                r.name = name.into();
            }
            record
        } else {
            RecordedSpan::none()
        };
        SpanBuilder {
            tracer: self,
            kind: SpanKind::Internal,
            record,
            parent: Parent::Current,
            options: None,
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

/// Where the parent comes from. An explicit parent is kept in the builder's record
/// (`SpanRecord::set_explicit_parent`), or, for a tracer that never records, in the options
/// box: so the builder stays small.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Parent {
    Current,
    Explicit,
    Root,
}

/// Describes a span before it starts; made by [`Tracer::span_builder`].
///
/// Small on purpose: each `with_*` call moves the builder, so the name and the attributes live
/// in the pooled record it points to, and the rarely used settings in a box.
pub struct SpanBuilder<'a> {
    tracer: &'a Tracer,
    kind: SpanKind,
    /// Holds no record when the tracer never records. (Not an `Option` around it: the builder
    /// moves with every `with_*` call, and stays two words smaller.)
    record: RecordedSpan,
    parent: Parent,
    options: Option<Box<Options>>,
}

/// The settings most spans do not use.
#[derive(Default)]
struct Options {
    links: Vec<Link>,
    start_time: Option<SystemTime>,
    /// The explicit parent, when there is no record to hold it.
    parent: Option<SpanContext>,
}

impl fmt::Debug for SpanBuilder<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.record.get().map(|r| r.name.as_str());
        f.debug_struct("SpanBuilder")
            .field("name", &name)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl SpanBuilder<'_> {
    fn options(&mut self) -> &mut Options {
        self.options.get_or_insert_with(Box::default)
    }

    /// The span kind (default `Internal`).
    pub fn with_kind(mut self, kind: SpanKind) -> Self {
        self.kind = kind;
        self
    }

    /// Adds an attribute.
    ///
    /// Setting a key again replaces its value. Over the attribute count limit, new keys are
    /// dropped and counted; long values are truncated to the length limit (both applied when
    /// the span is exported, off the application thread).
    #[inline(always)]
    pub fn with_attribute(mut self, key: impl Into<Str>, value: impl Into<AnyValue>) -> Self {
        self.add_attribute(key, value);
        self
    }

    /// Adds an attribute, as [`with_attribute`](SpanBuilder::with_attribute) does, through a
    /// reference: for code that fills a builder in a loop or from a visitor.
    #[inline(always)]
    pub fn add_attribute(&mut self, key: impl Into<Str>, value: impl Into<AnyValue>) {
        if let Some(record) = self.record.get_mut() {
            record.set_attribute(key, value);
        }
    }

    /// Replaces the name given to [`Tracer::span_builder`].
    pub fn with_name(mut self, name: impl Into<Str>) -> Self {
        if let Some(record) = self.record.get_mut() {
            record.name = name.into();
        }
        self
    }

    /// Adds attributes.
    pub fn with_attributes(mut self, attributes: impl IntoIterator<Item = KeyValue>) -> Self {
        if let Some(record) = self.record.get_mut() {
            for kv in attributes {
                record.push_attribute(kv);
            }
        }
        self
    }

    /// Adds links; links to invalid contexts are ignored.
    pub fn with_links(mut self, links: impl IntoIterator<Item = Link>) -> Self {
        self.options().links.extend(links);
        self
    }

    /// The start time (default: when [`start`](SpanBuilder::start) is called).
    pub fn with_start_time(mut self, time: SystemTime) -> Self {
        self.options().start_time = Some(time);
        self
    }

    /// An explicit parent, instead of the current context. An invalid one makes a root span.
    pub fn with_parent(mut self, parent: &SpanContext) -> Self {
        if !parent.is_valid() {
            self.parent = Parent::Root;
            return self;
        }
        self.parent = Parent::Explicit;
        match self.record.get_mut() {
            Some(r) => r.set_explicit_parent(parent),
            None => self.options().parent = Some(parent.clone()),
        }
        self
    }

    /// Makes a root span, whatever the current context.
    pub fn with_no_parent(mut self) -> Self {
        self.parent = Parent::Root;
        self
    }

    /// Samples and starts the span.
    pub fn start(self) -> Span {
        let SpanBuilder {
            tracer,
            kind,
            mut record,
            parent,
            options,
        } = self;
        let (links, start_time, explicit) = match options {
            Some(o) => (Some(o.links), o.start_time, o.parent),
            None => (None, None, None),
        };
        let inner = &*tracer.inner;
        let parent = match parent {
            Parent::Current => current_parent(),
            Parent::Explicit => {
                explicit.or_else(|| record.get_mut().and_then(|r| r.take_explicit_parent()))
            }
            Parent::Root => None,
        };
        let trace_id = parent
            .as_ref()
            .map_or_else(TraceId::random, |p| p.trace_id());
        let span_id = SpanId::random();
        let mut recorded = record;
        let Some(record) = recorded.get_mut() else {
            // Never recorded: only the context, for children. A no-op tracer keeps the parent's
            // sampled flag (it decides nothing); an always-off sampler decided "not sampled".
            let sampled =
                inner.pipeline.is_none() && parent.as_ref().is_some_and(SpanContext::is_sampled);
            return Span::non_recording(non_recording_context(
                parent.as_ref(),
                trace_id,
                span_id,
                sampled,
            ));
        };
        // Built-in samplers decide from the parent and trace id alone (no parameters to
        // gather, nothing added); a custom one gets everything.
        let (decision, trace_state, added) =
            match inner.sampler.builtin_decision(parent.as_ref(), trace_id) {
                Some(decision) => (decision, None, None),
                None => {
                    let result = inner.sampler.sample(&SamplingParams {
                        parent: parent.as_ref(),
                        trace_id,
                        name: &record.name,
                        kind,
                        attributes: &record.attributes,
                        links: links.as_deref().unwrap_or_default(),
                    });
                    let added = (!result.attributes.is_empty()).then_some(result.attributes);
                    (result.decision, result.trace_state, added)
                }
            };
        let state = match (trace_state, &parent) {
            (Some(state), _) => state,
            (None, Some(p)) => p.trace_state().clone(),
            (None, None) => TraceState::empty(),
        };
        let flags = parent
            .as_ref()
            .map_or(TraceFlags::NONE, SpanContext::trace_flags)
            .with_sampled(decision.is_sampled());
        let context = SpanContext::new(trace_id, span_id, flags, false, state);
        if inner.pipeline.is_none() || !decision.is_recording() {
            return Span::non_recording(context);
        }
        // Attributes a custom sampler added.
        if let Some(added) = added {
            for kv in added {
                record.push_attribute(kv);
            }
        }
        if let Some(links) = links {
            let limits = inner.limits;
            for link in links.into_iter().filter(|l| l.context.is_valid()) {
                if record.links.len() < limits.link_count() as usize {
                    record.links.push(link_to_otlp(link, &limits));
                } else {
                    record.dropped_links_count += 1;
                }
            }
        }
        record.trace_id = trace_id.to_bytes();
        record.span_id = span_id.to_bytes();
        record.parent_span_id = parent.as_ref().map_or([0; 8], |p| p.span_id().to_bytes());
        // A record comes with an empty trace state (unless it held an explicit parent's):
        // copy only a real one.
        if !context.trace_state().is_empty() || !record.trace_state.is_empty() {
            record.trace_state = context.trace_state().as_otlp();
        }
        record.kind = kind as i32;
        record.scope = inner.scope;
        record.start_time = start_time.map_or_else(now_unix_nanos, to_unix_nanos);
        record.flags = parent.as_ref().map_or_else(
            || otlp_flags(&context),
            |p| (otlp_flags(p) & !0xff) | u32::from(context.trace_flags().bits()),
        );
        Span::new(
            context,
            Some(Recording {
                record: recorded,
                tracer: tracer.clone(),
                sampled: decision.is_sampled(),
            }),
        )
    }
}

/// The context of a span that never records: the parent's trace, flags and state, a new span
/// id, and the given sampled flag.
fn non_recording_context(
    parent: Option<&SpanContext>,
    trace_id: TraceId,
    span_id: SpanId,
    sampled: bool,
) -> SpanContext {
    let (flags, state) = match parent {
        Some(p) => (p.trace_flags(), p.trace_state().clone()),
        None => (TraceFlags::NONE, TraceState::empty()),
    };
    SpanContext::new(trace_id, span_id, flags.with_sampled(sampled), false, state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builder_stays_four_words_and_a_parent_tag() {
        // It moves on every `with_*` call: the explicit parent lives in the record it points to.
        assert_eq!(
            std::mem::size_of::<SpanBuilder<'_>>(),
            4 * std::mem::size_of::<usize>()
        );
    }
}
