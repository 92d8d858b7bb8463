//! `trace.v1`: spans, their events, links and status, and the containers above them.

use super::common::{attributes, instrumentation_scope, resource};
use super::{enumeration, span_id, text, trace_id, u32_any, u64_any, up_to};
use otlp_proto::trace::{Event, Link, ResourceSpans, ScopeSpans, Span, Status, TracesData};
use proptest::option;
use proptest::prelude::*;

/// A span status (codes 0 to 2 defined).
pub fn status() -> BoxedStrategy<Status> {
    (text(), enumeration(3))
        .prop_map(|(message, code)| Status { message, code })
        .boxed()
}

/// A span event.
pub fn event() -> BoxedStrategy<Event> {
    (u64_any(), text(), attributes(), u32_any())
        .prop_map(
            |(time_unix_nano, name, attributes, dropped_attributes_count)| Event {
                time_unix_nano,
                name,
                attributes,
                dropped_attributes_count,
            },
        )
        .boxed()
}

/// A span link.
pub fn link() -> BoxedStrategy<Link> {
    (
        trace_id(),
        span_id(),
        text(),
        attributes(),
        u32_any(),
        u32_any(),
    )
        .prop_map(
            |(trace_id, span_id, trace_state, attributes, dropped_attributes_count, flags)| Link {
                trace_id,
                span_id,
                trace_state,
                attributes,
                dropped_attributes_count,
                flags,
            },
        )
        .boxed()
}

/// A span (kinds 0 to 5 defined).
pub fn span() -> BoxedStrategy<Span> {
    let ids = (
        trace_id(),
        span_id(),
        text(),
        span_id(),
        text(),
        enumeration(6),
    );
    let times = (u64_any(), u64_any(), u32_any());
    let children = (
        attributes(),
        u32_any(),
        up_to(event(), 2),
        u32_any(),
        up_to(link(), 2),
        u32_any(),
        option::of(status()),
    );
    (ids, times, children)
        .prop_map(
            |(
                (trace_id, span_id, trace_state, parent_span_id, name, kind),
                (start_time_unix_nano, end_time_unix_nano, flags),
                (
                    attributes,
                    dropped_attributes_count,
                    events,
                    dropped_events_count,
                    links,
                    dropped_links_count,
                    status,
                ),
            )| Span {
                trace_id,
                span_id,
                trace_state,
                parent_span_id,
                name,
                kind,
                start_time_unix_nano,
                end_time_unix_nano,
                attributes,
                dropped_attributes_count,
                events,
                dropped_events_count,
                links,
                dropped_links_count,
                status,
                flags,
            },
        )
        .boxed()
}

/// Spans of one scope.
pub fn scope_spans() -> BoxedStrategy<ScopeSpans> {
    (
        option::of(instrumentation_scope()),
        up_to(span(), 3),
        text(),
    )
        .prop_map(|(scope, spans, schema_url)| ScopeSpans {
            scope,
            spans,
            schema_url,
        })
        .boxed()
}

/// Spans of one resource.
pub fn resource_spans() -> BoxedStrategy<ResourceSpans> {
    (option::of(resource()), up_to(scope_spans(), 2), text())
        .prop_map(|(resource, scope_spans, schema_url)| ResourceSpans {
            resource,
            scope_spans,
            schema_url,
        })
        .boxed()
}

/// A batch of spans.
pub fn traces_data() -> BoxedStrategy<TracesData> {
    up_to(resource_spans(), 2)
        .prop_map(|resource_spans| TracesData { resource_spans })
        .boxed()
}
