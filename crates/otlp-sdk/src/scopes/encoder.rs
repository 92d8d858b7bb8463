//! The request encoder every grouping signal shares: a batch of items under one resource,
//! grouped by instrumentation scope ([`ScopeGroups`]: scopes by first appearance, items in
//! batch order), written straight into protobuf (back to front, into a pooled buffer) or
//! OTLP/JSON, without building the request's messages or moving the items.
//!
//! The OTLP requests of every signal have the same shape: `resource_* = 1` of
//! `{ resource = 1, scope_* = 2, schema_url = 3 }`, each scope message
//! `{ scope = 1, items = 2, schema_url = 3 }`. So a signal plugs in by implementing
//! [`ScopedItem`] for what its pipeline carries: its scope index, and how it writes itself
//! as an element of its scope's repeated field.

use super::group::ScopeGroups;
use super::{ScopeCache, Scopes};
use crate::body::EncodedBody;
use crate::buffers::BufferPool;
use bytes::Bytes;
#[cfg(feature = "json")]
use otlp_proto::codec;
use otlp_proto::common::InstrumentationScope;
#[cfg(feature = "json")]
use otlp_proto::json::JsonWriter;
use otlp_proto::resource::Resource;
use otlp_proto::{Encoding, Message, RevBuf, Str, json_key};
use std::sync::Arc;

/// How many items ahead of the one being encoded to prefetch the body of (their header having
/// been fetched [`PREFETCH_DISTANCE`] items before that).
const PREFETCH_DISTANCE: usize = 4;

/// The OTLP/JSON member names of a signal's request, as [`JsonWriter::key`] takes them.
#[derive(Debug, Clone, Copy)]
#[cfg_attr(not(feature = "json"), allow(dead_code))]
pub(crate) struct RequestKeys {
    resources: &'static str,
    scopes: &'static str,
    items: &'static str,
}

#[cfg_attr(not(feature = "json"), allow(dead_code))]
impl RequestKeys {
    /// `ExportTraceServiceRequest`.
    pub(crate) const TRACES: RequestKeys = RequestKeys {
        resources: json_key!("resourceSpans"),
        scopes: json_key!("scopeSpans"),
        items: json_key!("spans"),
    };
    /// `ExportLogsServiceRequest`.
    pub(crate) const LOGS: RequestKeys = RequestKeys {
        resources: json_key!("resourceLogs"),
        scopes: json_key!("scopeLogs"),
        items: json_key!("logRecords"),
    };
    /// `ExportMetricsServiceRequest`.
    pub(crate) const METRICS: RequestKeys = RequestKeys {
        resources: json_key!("resourceMetrics"),
        scopes: json_key!("scopeMetrics"),
        items: json_key!("metrics"),
    };
}

/// An item of a signal whose requests group items by scope: all a signal implements to use
/// [`ScopedEncoder`].
pub(crate) trait ScopedItem {
    /// The signal's request member names.
    #[cfg_attr(not(feature = "json"), allow(dead_code))]
    const KEYS: RequestKeys;

    /// The index of the item's scope (0 for items of an encoder of one scope).
    fn scope(&self) -> u32;

    /// Writes the item's message fields, back to front (the encoder adds the length and the
    /// key of the scope's repeated field).
    fn encode(&mut self, buf: &mut RevBuf);

    /// Writes the item as an OTLP/JSON object.
    #[cfg(feature = "json")]
    fn write_json(&mut self, w: &mut JsonWriter);

    /// A hint that the item is encoded soon: start loading what is found without reading it.
    #[inline]
    fn prefetch_header(&self) {}

    /// A hint that the item is encoded next but a few: start loading the rest of it.
    #[inline]
    fn prefetch_body(&self) {}
}

/// Where an encoder's scopes come from.
#[derive(Debug, Clone)]
pub(super) enum ScopeSource {
    /// The client's table: items name their scope by index.
    Table(ScopeCache),
    /// One scope for every item (the public single-scope encoders).
    One(OneScope),
}

/// The scope of a single-scope encoder; absent when `scope` is `None`.
#[derive(Debug, Clone, Default)]
pub(super) struct OneScope {
    scope: Option<InstrumentationScope>,
    encoded: Bytes,
    schema_url: Str,
}

/// A scope as a request needs it.
pub(super) struct ScopeParts<'a> {
    /// `None`: no `scope` field.
    pub(super) scope: Option<&'a InstrumentationScope>,
    /// The scope's protobuf encoding.
    encoded: &'a [u8],
    pub(super) schema_url: &'a Str,
}

/// The schema URL of a scope the table does not know (never, for indexes it handed out).
static NO_SCHEMA_URL: Str = Str::new();

impl ScopeSource {
    fn get(&mut self, index: u32) -> ScopeParts<'_> {
        self.refresh(index);
        self.peek(index)
    }

    /// Makes the scope at `index` known to [`peek`](ScopeSource::peek).
    pub(super) fn refresh(&mut self, index: u32) {
        if let ScopeSource::Table(cache) = self {
            cache.refresh(index);
        }
    }

    /// The scope at `index`, as last refreshed.
    pub(super) fn peek(&self, index: u32) -> ScopeParts<'_> {
        match self {
            ScopeSource::Table(cache) => match cache.peek(index) {
                Some(s) => ScopeParts {
                    scope: Some(&s.scope),
                    encoded: &s.encoded,
                    schema_url: &s.schema_url,
                },
                None => ScopeParts {
                    scope: None,
                    encoded: &[],
                    schema_url: &NO_SCHEMA_URL,
                },
            },
            ScopeSource::One(one) => ScopeParts {
                scope: one.scope.as_ref(),
                encoded: &one.encoded,
                schema_url: &one.schema_url,
            },
        }
    }
}

/// Encodes batches of [`ScopedItem`]s under one resource as one request, with one scope
/// message per scope present.
#[derive(Debug, Clone)]
pub(crate) struct ScopedEncoder {
    /// `None`: no `resource` field.
    pub(super) resource: Option<Resource>,
    resource_encoded: Bytes,
    pub(super) scopes: ScopeSource,
    pub(super) groups: ScopeGroups,
    /// The size of the last request of each encoding, to size the next buffer without
    /// regrowing.
    last_len: usize,
    #[cfg_attr(not(feature = "json"), allow(dead_code))]
    last_json_len: usize,
    buffers: Arc<BufferPool>,
}

impl Default for ScopedEncoder {
    /// No resource, one absent scope.
    fn default() -> Self {
        ScopedEncoder::one_scope(None, None)
    }
}

impl ScopedEncoder {
    fn with_source(resource: Option<Resource>, scopes: ScopeSource) -> Self {
        ScopedEncoder {
            resource_encoded: resource
                .as_ref()
                .map_or_else(Bytes::new, Message::encode_to_bytes),
            resource,
            scopes,
            groups: ScopeGroups::default(),
            last_len: 0,
            last_json_len: 0,
            buffers: Arc::default(),
        }
    }

    /// Items name their scope in `table`.
    pub(crate) fn with_table(resource: Resource, table: Arc<Scopes>) -> Self {
        ScopedEncoder::with_source(Some(resource), ScopeSource::Table(ScopeCache::new(table)))
    }

    /// Every item under `scope`.
    pub(crate) fn one_scope(
        resource: Option<Resource>,
        scope: Option<InstrumentationScope>,
    ) -> Self {
        let one = OneScope {
            encoded: scope
                .as_ref()
                .map_or_else(Bytes::new, Message::encode_to_bytes),
            scope,
            schema_url: Str::new(),
        };
        ScopedEncoder::with_source(resource, ScopeSource::One(one))
    }

    /// Sets the schema URL of a single-scope encoder's scope (nothing for a table's scopes,
    /// which have their own).
    pub(crate) fn set_schema_url(&mut self, schema_url: Str) {
        if let ScopeSource::One(one) = &mut self.scopes {
            one.schema_url = schema_url;
        }
    }

    /// Encodes `batch` as one request, leaving the batch as it was (in the same order).
    pub(crate) fn encode<T: ScopedItem>(
        &mut self,
        batch: &mut [T],
        encoding: Encoding,
    ) -> EncodedBody {
        self.groups.group(batch.iter().map(T::scope));
        match encoding {
            Encoding::Protobuf => self.protobuf(batch),
            #[cfg(feature = "json")]
            Encoding::Json => self.json(batch),
            // A build without JSON has no http/json route: protobuf, as the body says.
            #[cfg(not(feature = "json"))]
            Encoding::Json => self.protobuf(batch),
        }
    }

    fn protobuf<T: ScopedItem>(&mut self, batch: &mut [T]) -> EncodedBody {
        let ScopedEncoder {
            resource,
            resource_encoded,
            scopes,
            groups,
            last_len,
            buffers,
            ..
        } = self;
        let mut buf = buffers.take(*last_len + *last_len / 8 + 64);
        let mark_resource = buf.len();
        let order = groups.order();
        // Last scope first: the buffer fills back to front.
        for group in groups.groups().iter().rev() {
            let scope = scopes.get(group.scope);
            let mark_scope = buf.len();
            if !scope.schema_url.is_empty() {
                buf.put_bytes_field(3, scope.schema_url.as_bytes());
            }
            for p in group.positions().rev() {
                // Items may be scattered in memory (pooled records, written on another core):
                // start loading the header of one two strides ahead and the body of one a
                // stride ahead (whose header that made arrive).
                if let Some(far) = p
                    .checked_sub(2 * PREFETCH_DISTANCE)
                    .and_then(|q| order.get(q))
                    .and_then(|&i| batch.get(i))
                {
                    far.prefetch_header();
                }
                if let Some(near) = p
                    .checked_sub(PREFETCH_DISTANCE)
                    .and_then(|q| order.get(q))
                    .and_then(|&i| batch.get(i))
                {
                    near.prefetch_body();
                }
                if let Some(item) = order.get(p).and_then(|&i| batch.get_mut(i)) {
                    let mark = buf.len();
                    item.encode(&mut buf);
                    buf.finish_len_delimited(2, mark);
                }
            }
            if scope.scope.is_some() {
                buf.put_bytes_field(1, scope.encoded);
            }
            buf.finish_len_delimited(2, mark_scope);
        }
        if resource.is_some() {
            buf.put_bytes_field(1, resource_encoded);
        }
        buf.finish_len_delimited(1, mark_resource);
        let len = buf.len();
        *last_len = len;
        EncodedBody::framed_from(buf, len, buffers)
    }

    #[cfg(feature = "json")]
    fn json<T: ScopedItem>(&mut self, batch: &mut [T]) -> EncodedBody {
        let ScopedEncoder {
            resource,
            scopes,
            groups,
            last_json_len,
            ..
        } = self;
        let keys = T::KEYS;
        let mut w = JsonWriter::with_buffer(Vec::with_capacity(*last_json_len + 64));
        w.begin_object();
        w.key(keys.resources);
        w.begin_array();
        w.elem();
        w.begin_object();
        codec::message::json(json_key!("resource"), resource, &mut w);
        if !groups.groups().is_empty() {
            w.key(keys.scopes);
            w.begin_array();
            for group in groups.groups() {
                let scope = scopes.get(group.scope);
                w.elem();
                w.begin_object();
                if let Some(s) = scope.scope {
                    codec::message::json_always(json_key!("scope"), s, &mut w);
                }
                w.key(keys.items);
                w.begin_array();
                for &i in groups.order().get(group.positions()).unwrap_or_default() {
                    if let Some(item) = batch.get_mut(i) {
                        w.elem();
                        item.write_json(&mut w);
                    }
                }
                w.end_array();
                codec::string::json(json_key!("schemaUrl"), scope.schema_url, &mut w);
                w.end_object();
            }
            w.end_array();
        }
        w.end_object();
        w.end_array();
        w.end_object();
        let text = w.into_inner();
        *last_json_len = text.len();
        EncodedBody::json(Bytes::from(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use otlp_proto::collector::ExportLogsServiceRequest;
    use otlp_proto::common::KeyValue;
    use otlp_proto::logs::{LogRecord, ResourceLogs, ScopeLogs};

    /// A log record and its scope index: the smallest item a grouping signal carries.
    #[derive(Debug, Clone, PartialEq)]
    struct Item(u32, LogRecord);

    impl ScopedItem for Item {
        const KEYS: RequestKeys = RequestKeys::LOGS;
        fn scope(&self) -> u32 {
            self.0
        }
        fn encode(&mut self, buf: &mut RevBuf) {
            self.1.encode_fields(buf);
        }
        #[cfg(feature = "json")]
        fn write_json(&mut self, w: &mut JsonWriter) {
            self.1.write_json(w);
        }
    }

    fn item(scope: u32, n: i64) -> Item {
        Item(
            scope,
            LogRecord {
                body: Some(n.into()),
                ..LogRecord::default()
            },
        )
    }

    /// Both encodings of `batch` are exactly those of `expected` through the messages.
    fn assert_encodes_as(
        encoder: &mut ScopedEncoder,
        batch: &[Item],
        expected: &ExportLogsServiceRequest,
    ) {
        let mut items = batch.to_vec();
        let body = encoder.encode(&mut items, Encoding::Protobuf);
        assert_eq!(items, batch, "the batch is left as it was");
        assert_eq!(body.message(), expected.encode_to_bytes());
        let json = encoder.encode(&mut items, Encoding::Json);
        assert_eq!(json.message(), expected.to_json());
    }

    fn scope_logs(scope: Option<&str>, schema_url: &'static str, items: &[&Item]) -> ScopeLogs {
        ScopeLogs {
            scope: scope.map(|name| InstrumentationScope {
                name: Str::copy_from(name),
                ..InstrumentationScope::default()
            }),
            log_records: items.iter().map(|i| i.1.clone()).collect(),
            schema_url: schema_url.into(),
        }
    }

    #[test]
    fn a_table_encoder_writes_one_scope_message_per_scope_by_first_appearance() {
        let table = Arc::new(Scopes::default());
        let a = table.register("a".into(), None, None);
        let b = table.register("b".into(), None, Some("https://example.com/s".into()));
        let resource = Resource {
            attributes: vec![KeyValue::new("service.name", "svc")],
            ..Resource::default()
        };
        let mut encoder = ScopedEncoder::with_table(resource.clone(), table);
        let batch = [item(b, 1), item(a, 2), item(b, 3), item(a, 4), item(99, 5)];
        let expected = ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: Some(resource),
                scope_logs: vec![
                    scope_logs(Some("b"), "https://example.com/s", &[&batch[0], &batch[2]]),
                    scope_logs(Some("a"), "", &[&batch[1], &batch[3]]),
                    // An index the table never handed out: no scope.
                    scope_logs(None, "", &[&batch[4]]),
                ],
                ..ResourceLogs::default()
            }],
        };
        assert_encodes_as(&mut encoder, &batch, &expected);
    }

    #[test]
    fn a_single_scope_encoder_writes_what_it_was_given_and_nothing_else() {
        let mut encoder = ScopedEncoder::default();
        encoder.set_schema_url("https://example.com/1".into());
        let batch = [item(0, 1), item(0, 2)];
        let expected = ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: None,
                scope_logs: vec![scope_logs(
                    None,
                    "https://example.com/1",
                    &[&batch[0], &batch[1]],
                )],
                ..ResourceLogs::default()
            }],
        };
        assert_encodes_as(&mut encoder, &batch, &expected);
        // An empty scope and resource are still written, as the messages write them.
        let mut encoder = ScopedEncoder::one_scope(
            Some(Resource::default()),
            Some(InstrumentationScope::default()),
        );
        let expected = ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: Some(Resource::default()),
                scope_logs: vec![ScopeLogs {
                    scope: Some(InstrumentationScope::default()),
                    ..scope_logs(None, "", &[&batch[0], &batch[1]])
                }],
                ..ResourceLogs::default()
            }],
        };
        assert_encodes_as(&mut encoder, &batch, &expected);
    }
}
