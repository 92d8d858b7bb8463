//! The client's instrumentation scopes, one table for every signal: a tracer or a logger
//! registers its scope (name, version, schema URL) once and its records carry the scope's index,
//! a `u32`, instead of the scope itself (no reference count per span or log record). Each
//! pipeline's encoder keeps a copy of the table ([`ScopeCache`]), refreshed when a record names
//! a scope registered since.
//!
//! And the one encoder of requests grouped by scope ([`ScopedEncoder`], over the grouping in
//! `group`: scopes in order of first appearance in the batch, items in batch order), which
//! every signal's encoder uses through [`ScopedItem`].

mod encoder;
mod group;
#[cfg(feature = "arrow")]
mod otap;

pub(crate) use encoder::{RequestKeys, ScopedEncoder, ScopedItem};
#[cfg(feature = "arrow")]
pub(crate) use otap::OtapItem;

use bytes::Bytes;
use otlp_proto::common::InstrumentationScope;
use otlp_proto::{Message, Str};
use std::sync::{Arc, PoisonError, RwLock};

/// An instrumentation scope, the schema URL of its telemetry, and the scope's protobuf
/// encoding (made once, copied as bytes into every request).
#[derive(Debug, Clone)]
pub(crate) struct Scope {
    pub(crate) scope: InstrumentationScope,
    pub(crate) schema_url: Str,
    pub(crate) encoded: Bytes,
}

/// The instrumentation scopes of a client; records name their scope by index.
#[derive(Debug, Default)]
pub(crate) struct Scopes {
    entries: RwLock<Vec<Scope>>,
}

impl Scopes {
    /// The index of the scope `name`/`version`/`schema_url`, registering it the first time.
    pub(crate) fn register(&self, name: Str, version: Option<Str>, schema_url: Option<Str>) -> u32 {
        let scope = InstrumentationScope {
            name,
            version: version.unwrap_or_default(),
            ..InstrumentationScope::default()
        };
        self.register_scope(scope, schema_url.unwrap_or_default())
    }

    /// The index of `scope` (with its attributes) and `schema_url`, registering them the first
    /// time.
    pub(crate) fn register_scope(&self, scope: InstrumentationScope, schema_url: Str) -> u32 {
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(i) = entries
            .iter()
            .position(|e| e.scope == scope && e.schema_url == schema_url)
        {
            return i as u32;
        }
        let encoded = scope.encode_to_bytes();
        entries.push(Scope {
            scope,
            schema_url,
            encoded,
        });
        (entries.len() - 1) as u32
    }

    fn snapshot(&self, into: &mut Vec<Scope>) {
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        into.clone_from(&entries);
    }
}

/// An encoder's copy of the scope table: no lock per record.
#[derive(Debug, Clone)]
pub(crate) struct ScopeCache {
    table: Arc<Scopes>,
    known: Vec<Scope>,
}

impl ScopeCache {
    pub(crate) fn new(table: Arc<Scopes>) -> Self {
        ScopeCache {
            table,
            known: Vec::new(),
        }
    }

    /// Copies the table again if it may know `index` and this copy does not (then
    /// [`peek`](ScopeCache::peek) finds any index the table handed out).
    pub(crate) fn refresh(&mut self, index: u32) {
        if index as usize >= self.known.len() {
            self.table.snapshot(&mut self.known);
        }
    }

    /// The scope at `index` as of the last refresh.
    pub(crate) fn peek(&self, index: u32) -> Option<&Scope> {
        self.known.get(index as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_index_per_scope_and_caches_follow_the_table() {
        let table = Arc::new(Scopes::default());
        let a = table.register("a".into(), None, None);
        let b = table.register("a".into(), Some("1.0".into()), None);
        let c = table.register("a".into(), None, Some("https://example.com/1".into()));
        assert_eq!(
            (a, b, c),
            (0, 1, 2),
            "version and schema URL are part of the scope"
        );
        assert_eq!(table.register("a".into(), None, None), a, "registered once");
        let mut cache = ScopeCache::new(table.clone());
        cache.refresh(b);
        let scope = cache.peek(b).expect("known");
        assert_eq!((&*scope.scope.name, &*scope.scope.version), ("a", "1.0"));
        assert_eq!(
            InstrumentationScope::decode(&scope.encoded).expect("decodes"),
            scope.scope
        );
        // A scope registered after the cache's last refresh.
        let d = table.register("d".into(), None, None);
        assert!(cache.peek(d).is_none(), "not refreshed yet");
        cache.refresh(d);
        assert_eq!(cache.peek(d).map(|s| &*s.scope.name), Some("d"));
        cache.refresh(99);
        assert!(cache.peek(99).is_none());
    }
}
