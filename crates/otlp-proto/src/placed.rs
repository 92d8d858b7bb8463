//! The items of an export request, each with where it sits: [`Placed`], from
//! [`ExportTraceServiceRequest::spans`], [`ExportLogsServiceRequest::log_records`] and
//! [`ExportMetricsServiceRequest::metrics`].
//!
//! On the wire, items are grouped by resource and then by instrumentation scope; whoever reads a
//! request (a test, a sink, a query) usually wants the items, each with its resource and scope.
//!
//! ```
//! use otlp_proto::collector::ExportTraceServiceRequest;
//! use otlp_proto::common::InstrumentationScope;
//! use otlp_proto::trace::{ResourceSpans, ScopeSpans, Span};
//!
//! let request = ExportTraceServiceRequest {
//!     resource_spans: vec![ResourceSpans {
//!         scope_spans: vec![ScopeSpans {
//!             scope: Some(InstrumentationScope { name: "checkout".into(), ..Default::default() }),
//!             spans: vec![Span { name: "GET /cart".into(), ..Default::default() }],
//!             ..Default::default()
//!         }],
//!         ..Default::default()
//!     }],
//! };
//! let placed: Vec<_> = request.spans().collect();
//! assert_eq!(placed.len(), 1);
//! assert_eq!(placed[0].item.name, "GET /cart");
//! assert_eq!(placed[0].scope.map(|s| s.name.as_str()), Some("checkout"));
//! assert!(placed[0].resource.is_none());
//! ```

use crate::collector::{
    ExportLogsServiceRequest, ExportMetricsServiceRequest, ExportTraceServiceRequest,
};
use crate::common::InstrumentationScope;
use crate::logs::LogRecord;
use crate::metrics::Metric;
use crate::resource::Resource;
use crate::trace::Span;

/// An item of an export request, with its resource and instrumentation scope (each `None` when
/// the request leaves it out) and its scope group's schema URL.
#[derive(Debug)]
pub struct Placed<'a, T> {
    /// The resource the item's group is under.
    pub resource: Option<&'a Resource>,
    /// The instrumentation scope of the item's group.
    pub scope: Option<&'a InstrumentationScope>,
    /// The schema URL of the item's scope group (empty when none).
    pub schema_url: &'a str,
    /// The item.
    pub item: &'a T,
}

// Not derived: a derive would ask `T: Clone` and `T: Copy`, and the fields are references.
impl<T> Clone for Placed<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Placed<'_, T> {}

/// Flattens `groups` (resource groups holding scope groups holding items) into [`Placed`].
macro_rules! placed {
    ($groups:expr, $scopes:ident, $items:ident) => {
        $groups.iter().flat_map(|group| {
            let resource = group.resource.as_ref();
            group.$scopes.iter().flat_map(move |scoped| {
                scoped.$items.iter().map(move |item| Placed {
                    resource,
                    scope: scoped.scope.as_ref(),
                    schema_url: &scoped.schema_url,
                    item,
                })
            })
        })
    };
}

impl ExportTraceServiceRequest {
    /// Every span, in request order, with its resource and scope.
    pub fn spans(&self) -> impl Iterator<Item = Placed<'_, Span>> {
        placed!(self.resource_spans, scope_spans, spans)
    }
}

impl ExportLogsServiceRequest {
    /// Every log record, in request order, with its resource and scope.
    pub fn log_records(&self) -> impl Iterator<Item = Placed<'_, LogRecord>> {
        placed!(self.resource_logs, scope_logs, log_records)
    }
}

impl ExportMetricsServiceRequest {
    /// Every metric, in request order, with its resource and scope.
    pub fn metrics(&self) -> impl Iterator<Item = Placed<'_, Metric>> {
        placed!(self.resource_metrics, scope_metrics, metrics)
    }
}

#[cfg(test)]
mod tests {
    use crate::collector::ExportLogsServiceRequest;
    use crate::common::{InstrumentationScope, KeyValue};
    use crate::logs::{LogRecord, ResourceLogs, ScopeLogs};
    use crate::resource::Resource;

    fn scope(name: &str) -> Option<InstrumentationScope> {
        Some(InstrumentationScope {
            name: name.to_owned().into(),
            ..InstrumentationScope::default()
        })
    }

    fn record(body: &str) -> LogRecord {
        LogRecord {
            body: Some(body.to_owned().into()),
            ..LogRecord::default()
        }
    }

    #[test]
    fn every_item_in_order_with_its_resource_scope_and_schema() {
        let resource = Resource {
            attributes: vec![KeyValue::new("service.name", "a")],
            ..Resource::default()
        };
        let request = ExportLogsServiceRequest {
            resource_logs: vec![
                ResourceLogs {
                    resource: Some(resource.clone()),
                    scope_logs: vec![
                        ScopeLogs {
                            scope: scope("one"),
                            log_records: vec![record("1"), record("2")],
                            schema_url: "https://example.com/1".into(),
                        },
                        ScopeLogs {
                            scope: None,
                            log_records: vec![],
                            ..ScopeLogs::default()
                        },
                        ScopeLogs {
                            scope: scope("two"),
                            log_records: vec![record("3")],
                            ..ScopeLogs::default()
                        },
                    ],
                    ..ResourceLogs::default()
                },
                ResourceLogs {
                    resource: None,
                    scope_logs: vec![ScopeLogs {
                        scope: None,
                        log_records: vec![record("4")],
                        ..ScopeLogs::default()
                    }],
                    ..ResourceLogs::default()
                },
            ],
        };
        let placed: Vec<_> = request.log_records().collect();
        let bodies: Vec<_> = placed
            .iter()
            .map(|p| p.item.body.as_ref().and_then(|b| b.as_str()).unwrap_or(""))
            .collect();
        assert_eq!(bodies, ["1", "2", "3", "4"]);
        let scopes: Vec<_> = placed
            .iter()
            .map(|p| p.scope.map(|s| s.name.to_string()))
            .collect();
        assert_eq!(
            scopes,
            [
                Some("one".into()),
                Some("one".into()),
                Some("two".into()),
                None
            ]
        );
        assert_eq!(placed[0].resource, Some(&resource));
        assert_eq!(placed[2].resource, Some(&resource));
        assert_eq!(placed[3].resource, None);
        assert_eq!(placed[1].schema_url, "https://example.com/1");
        assert_eq!(placed[2].schema_url, "");
    }
}
