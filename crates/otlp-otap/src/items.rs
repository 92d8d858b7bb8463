//! Items grouped by resource and scope ([`ResourceItems`], [`ScopeItems`]): what every
//! signal's encoder walks, whether the items come from an export request or from an SDK's own
//! records ([`Encoder::encode_items`](crate::Encoder)), and [`SpanView`], the span as the
//! traces encoder reads it.

use crate::Result;
use crate::root::{Numbering, Place, Row};
use otlp_proto::common::{InstrumentationScope, KeyValue};
use otlp_proto::resource::Resource;
use otlp_proto::trace::{Event, Link, Span};

/// The items of one resource, grouped by instrumentation scope: one `ResourceSpans` (or
/// `ResourceLogs`, `ResourceMetrics`) of a request, by reference.
///
/// An SDK that keeps its own records builds these over them and encodes with
/// `encode_items`, without building the request's messages; [`Encoder::encode`](crate::Encoder::encode)
/// walks a request the same way.
#[derive(Debug, Clone)]
pub struct ResourceItems<'a, T> {
    /// The resource (`None`: no resource field).
    pub resource: Option<&'a Resource>,
    /// The schema URL of the resource's telemetry.
    pub schema_url: &'a str,
    /// The scopes, in the order the batch gives them.
    pub scopes: Vec<ScopeItems<'a, T>>,
}

/// The items of one instrumentation scope, in order.
#[derive(Debug, Clone)]
pub struct ScopeItems<'a, T> {
    /// The scope (`None`: no scope field).
    pub scope: Option<&'a InstrumentationScope>,
    /// The schema URL of the scope's telemetry.
    pub schema_url: &'a str,
    /// The items (spans, log records, metrics).
    pub items: Vec<&'a T>,
}

/// A span as the traces encoder reads it: the fields of an OTLP `Span`, from any record
/// that has them. Implemented by [`Span`]; an SDK implements it for its own span records to
/// encode them without building `Span` messages.
///
/// Ids are bytes as OTLP carries them: an empty parent span id for a root span.
pub trait SpanView {
    /// The trace id (16 bytes).
    fn trace_id(&self) -> &[u8];
    /// The span id (8 bytes).
    fn span_id(&self) -> &[u8];
    /// The W3C trace state.
    fn trace_state(&self) -> &str;
    /// The parent's span id, empty for a root span.
    fn parent_span_id(&self) -> &[u8];
    /// The W3C trace flags and the OTLP span flags.
    fn flags(&self) -> u32;
    /// The span's name.
    fn name(&self) -> &str;
    /// The span kind (`SpanKind` as an integer).
    fn kind(&self) -> i32;
    /// Start time, nanoseconds since the Unix epoch.
    fn start_time_unix_nano(&self) -> u64;
    /// End time, nanoseconds since the Unix epoch.
    fn end_time_unix_nano(&self) -> u64;
    /// The attributes, as they are to be sent (limits applied, no duplicate keys).
    fn attributes(&self) -> &[KeyValue];
    /// Attributes dropped by limits.
    fn dropped_attributes_count(&self) -> u32;
    /// The events.
    fn events(&self) -> &[Event];
    /// Events dropped by limits.
    fn dropped_events_count(&self) -> u32;
    /// The links.
    fn links(&self) -> &[Link];
    /// Links dropped by limits.
    fn dropped_links_count(&self) -> u32;
    /// The status code (`StatusCode` as an integer; 0 when unset).
    fn status_code(&self) -> i32;
    /// The status message.
    fn status_message(&self) -> &str;
}

impl SpanView for Span {
    fn trace_id(&self) -> &[u8] {
        &self.trace_id
    }
    fn span_id(&self) -> &[u8] {
        &self.span_id
    }
    fn trace_state(&self) -> &str {
        &self.trace_state
    }
    fn parent_span_id(&self) -> &[u8] {
        &self.parent_span_id
    }
    fn flags(&self) -> u32 {
        self.flags
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> i32 {
        self.kind
    }
    fn start_time_unix_nano(&self) -> u64 {
        self.start_time_unix_nano
    }
    fn end_time_unix_nano(&self) -> u64 {
        self.end_time_unix_nano
    }
    fn attributes(&self) -> &[KeyValue] {
        &self.attributes
    }
    fn dropped_attributes_count(&self) -> u32 {
        self.dropped_attributes_count
    }
    fn events(&self) -> &[Event] {
        &self.events
    }
    fn dropped_events_count(&self) -> u32 {
        self.dropped_events_count
    }
    fn links(&self) -> &[Link] {
        &self.links
    }
    fn dropped_links_count(&self) -> u32 {
        self.dropped_links_count
    }
    fn status_code(&self) -> i32 {
        self.status.as_ref().map_or(0, |s| s.code)
    }
    fn status_message(&self) -> &str {
        self.status.as_ref().map_or("", |s| &s.message)
    }
}

/// A request's items by reference: `parts` splits each resource message into its resource,
/// schema URL and scope messages, `scope_parts` each scope message into its scope, schema URL
/// and items.
pub(crate) fn of_request<'a, R, S: 'a, T>(
    resources: &'a [R],
    parts: impl Fn(&'a R) -> (Option<&'a Resource>, &'a str, &'a [S]),
    scope_parts: impl Fn(&'a S) -> (Option<&'a InstrumentationScope>, &'a str, &'a [T]),
) -> Vec<ResourceItems<'a, T>> {
    resources
        .iter()
        .map(|r| {
            let (resource, schema_url, scopes) = parts(r);
            ResourceItems {
                resource,
                schema_url,
                scopes: scopes
                    .iter()
                    .map(|s| {
                        let (scope, schema_url, items) = scope_parts(s);
                        ScopeItems {
                            scope,
                            schema_url,
                            items: items.iter().collect(),
                        }
                    })
                    .collect(),
            }
        })
        .collect()
}

/// What [`walk`] meets, in order.
pub(crate) enum Visit<'a, T> {
    /// A resource with items, and its id.
    Resource(u16, &'a Resource),
    /// A scope with items, and its id.
    Scope(u16, &'a InstrumentationScope),
    /// An item, its root row id and where it belongs.
    Item(u16, Row<'a, T>),
}

/// Numbers the resources and scopes that hold items and the items (`what` names them in the
/// error past 65,536), calling `visit` for each in order. Resources and scopes without items
/// are left out: OTAP has no row to hang them on.
pub(crate) fn walk<'a, T>(
    resources: &[ResourceItems<'a, T>],
    what: &str,
    mut visit: impl FnMut(Visit<'a, T>) -> Result<()>,
) -> Result<()> {
    let mut numbering = Numbering::default();
    for rs in resources {
        if rs.scopes.iter().all(|s| s.items.is_empty()) {
            continue;
        }
        let resource_id = numbering.resource()?;
        if let Some(r) = rs.resource {
            visit(Visit::Resource(resource_id, r))?;
        }
        for ss in rs.scopes.iter().filter(|s| !s.items.is_empty()) {
            let scope_id = numbering.scope()?;
            if let Some(s) = ss.scope {
                visit(Visit::Scope(scope_id, s))?;
            }
            let place = Place {
                resource_id,
                resource: rs.resource,
                resource_schema_url: rs.schema_url,
                scope_id,
                scope: ss.scope,
            };
            for &item in &ss.items {
                let id = numbering.row(what)?;
                visit(Visit::Item(
                    id,
                    Row {
                        place,
                        scope_schema_url: ss.schema_url,
                        item,
                    },
                ))?;
            }
        }
    }
    Ok(())
}
