//! [`OtlpSpanExt`]: the OTLP side of a `tracing::Span`.

use crate::OtlpLayer;
use otlp_proto::Str;
use otlp_proto::common::AnyValue;
use otlp_sdk::trace::propagation::Context as PropagatedContext;
use otlp_sdk::trace::{SpanContext, Status};

/// The OTLP span behind a `tracing` span, as [`OtlpLayer`] records it: its context, and what
/// can be set on it beyond fields. Implemented for [`tracing::Span`].
///
/// Each call reaches the layer through the span's subscriber (the dispatcher the layer
/// registered with), so it works wherever the span is, on any thread. A span the layer did
/// not record (disabled, ignored, or under a subscriber without an [`OtlpLayer`]) has the
/// invalid context, and the setters do nothing.
pub trait OtlpSpanExt {
    /// The OTLP span context of the span; [`SpanContext::INVALID`] if it was not recorded.
    fn context(&self) -> SpanContext;

    /// Makes the span context of `parent` (for instance one extracted from an incoming
    /// request's `traceparent`) the parent of the OTLP span: it takes the parent's trace id and
    /// trace state, its parent span id becomes the parent's span id, and the sampler decides
    /// again with the new parent (under `ParentBased`, a remote parent's sampled flag is
    /// honoured). An invalid context makes it a root.
    ///
    /// Call it right after creating the span (an `#[instrument]`ed function's first line),
    /// before entering it elsewhere or starting spans under it: spans already started under
    /// it keep the old trace. `parent`'s baggage is not used: attach it for that. (A span the
    /// sampler dropped at creation, which the new parent makes sampled, is started again with
    /// its name and kind: the fields given at creation are not known any more.)
    fn set_parent(&self, parent: &PropagatedContext);

    /// Links the OTLP span to `context` (ignored if invalid).
    fn add_link(&self, context: SpanContext);

    /// Sets an attribute of the OTLP span, replacing the value of an existing key.
    fn set_attribute(&self, key: impl Into<Str>, value: impl Into<AnyValue>);

    /// Sets the status of the OTLP span (`Ok` is final). An `otel.status_code` field, applied
    /// when the span closes, comes after it.
    fn set_status(&self, status: Status);
}

impl OtlpSpanExt for tracing::Span {
    fn context(&self) -> SpanContext {
        with_data(self, |data, _, _| data.span.span_context().clone())
            .unwrap_or(SpanContext::INVALID)
    }

    fn set_parent(&self, parent: &PropagatedContext) {
        with_data(self, |data, layer, metadata| {
            if data.span.is_recording() {
                data.span.set_parent(&parent.span);
            } else {
                data.span = layer
                    .tracer
                    .span_builder(metadata.name())
                    .with_kind(data.kind)
                    .with_parent(&parent.span)
                    .start();
            }
        });
    }

    fn add_link(&self, context: SpanContext) {
        with_data(self, |data, _, _| data.span.add_link(context, Vec::new()));
    }

    fn set_attribute(&self, key: impl Into<Str>, value: impl Into<AnyValue>) {
        let (key, value) = (key.into(), value.into());
        with_data(self, |data, _, _| data.span.set_attribute(key, value));
    }

    fn set_status(&self, status: Status) {
        with_data(self, |data, _, _| data.span.set_status(status));
    }
}

/// Runs `f` on the layer's data of `span`: `None` when the span is disabled, its subscriber
/// has no registered [`OtlpLayer`], or the layer did not record it.
fn with_data<R>(
    span: &tracing::Span,
    f: impl FnOnce(&mut crate::OtelData, &OtlpLayer, &'static tracing::Metadata<'static>) -> R,
) -> Option<R> {
    span.with_subscriber(|(id, dispatch)| {
        let layer = dispatch.downcast_ref::<OtlpLayer>()?;
        let with_data = layer.registered.get()?.with_data;
        let mut f = Some(f);
        let mut out = None;
        with_data(dispatch, id, &mut |data, metadata| {
            if let Some(f) = f.take() {
                out = Some(f(data, layer, metadata));
            }
        });
        out
    })
    .flatten()
}
