//! Ids from their bytes: `[u8; 16]` into a [`TraceId`], `[u8; 8]` into a [`SpanId`], so that
//! APIs taking `impl Into<TraceId>` accept raw bytes too
//! ([`LogBuilder::with_trace_context`](crate::logs::LogBuilder::with_trace_context)).

use super::id::{SpanId, TraceId};

impl From<[u8; 16]> for TraceId {
    fn from(bytes: [u8; 16]) -> TraceId {
        TraceId::from_bytes(bytes)
    }
}

impl From<[u8; 8]> for SpanId {
    fn from(bytes: [u8; 8]) -> SpanId {
        SpanId::from_bytes(bytes)
    }
}

impl From<TraceId> for [u8; 16] {
    fn from(id: TraceId) -> [u8; 16] {
        id.to_bytes()
    }
}

impl From<SpanId> for [u8; 8] {
    fn from(id: SpanId) -> [u8; 8] {
        id.to_bytes()
    }
}
