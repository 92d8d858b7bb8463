//! The form of a request that survives OTAP unchanged (see the crate docs, "What comes back").

use crate::attrs::table_order;
use otlp_proto::collector::{ExportLogsServiceRequest, ExportTraceServiceRequest};
use otlp_proto::common::{AnyValue, KeyValue, Value};

/// `request` as decoding its OTAP encoding gives it back: resources and scopes without spans
/// dropped, default resources, scopes and statuses absent, empty span and link ids all zeros,
/// attributes in table order (type, key, value), values without a value empty, and the
/// profile-only fields dropped.
///
/// ```
/// use otlp_otap::{decode_traces, encode_traces, normalize_traces};
/// use otlp_proto::Message;
/// let request = otlp_proto::sample::traces();
/// let back = decode_traces(&encode_traces(&request).unwrap()).unwrap();
/// assert_eq!(back.encode_to_bytes(), normalize_traces(request).encode_to_bytes());
/// ```
pub fn normalize_traces(mut request: ExportTraceServiceRequest) -> ExportTraceServiceRequest {
    request.resource_spans.retain_mut(|rs| {
        rs.scope_spans.retain(|ss| !ss.spans.is_empty());
        if let Some(r) = &mut rs.resource {
            r.entity_refs.clear();
            attributes(&mut r.attributes);
        }
        rs.resource = rs.resource.take().filter(|r| *r != Default::default());
        for ss in &mut rs.scope_spans {
            if let Some(s) = &mut ss.scope {
                attributes(&mut s.attributes);
            }
            ss.scope = ss.scope.take().filter(|s| *s != Default::default());
            for span in &mut ss.spans {
                zeros_if_empty(&mut span.trace_id, 16);
                zeros_if_empty(&mut span.span_id, 8);
                for l in &mut span.links {
                    zeros_if_empty(&mut l.trace_id, 16);
                    zeros_if_empty(&mut l.span_id, 8);
                }
                attributes(&mut span.attributes);
                span.events
                    .iter_mut()
                    .for_each(|e| attributes(&mut e.attributes));
                span.links
                    .iter_mut()
                    .for_each(|l| attributes(&mut l.attributes));
                span.status = span.status.take().filter(|s| *s != Default::default());
            }
        }
        !rs.scope_spans.is_empty()
    });
    request
}

/// `request` as decoding its OTAP encoding gives it back: resources and scopes without log
/// records dropped, default resources and scopes absent, an empty body absent, attributes in
/// table order (type, key, value), values without a value empty, and the profile-only fields
/// dropped.
///
/// ```
/// use otlp_otap::{decode_logs, encode_logs, normalize_logs};
/// use otlp_proto::Message;
/// let request = otlp_proto::sample::logs();
/// let back = decode_logs(&encode_logs(&request).unwrap()).unwrap();
/// assert_eq!(back.encode_to_bytes(), normalize_logs(request).encode_to_bytes());
/// ```
pub fn normalize_logs(mut request: ExportLogsServiceRequest) -> ExportLogsServiceRequest {
    request.resource_logs.retain_mut(|rl| {
        rl.scope_logs.retain(|sl| !sl.log_records.is_empty());
        if let Some(r) = &mut rl.resource {
            r.entity_refs.clear();
            attributes(&mut r.attributes);
        }
        rl.resource = rl.resource.take().filter(|r| *r != Default::default());
        for sl in &mut rl.scope_logs {
            if let Some(s) = &mut sl.scope {
                attributes(&mut s.attributes);
            }
            sl.scope = sl.scope.take().filter(|s| *s != Default::default());
            for record in &mut sl.log_records {
                attributes(&mut record.attributes);
                if let Some(body) = &mut record.body {
                    value(body);
                }
                record.body = record.body.take().filter(|b| b.value.is_some());
            }
        }
        !rl.scope_logs.is_empty()
    });
    request
}

/// `id` as the required id columns carry it: empty as zeros.
pub(crate) fn zeros_if_empty(id: &mut bytes::Bytes, size: usize) {
    if id.is_empty() {
        *id = bytes::Bytes::from(vec![0; size]);
    }
}

/// Sorts `kvs` into table order, normalizing their values.
pub(crate) fn attributes(kvs: &mut [KeyValue]) {
    kvs.iter_mut().for_each(key_value);
    kvs.sort_by(table_order);
}

fn key_value(kv: &mut KeyValue) {
    kv.key_strindex = 0;
    let v = kv.value.get_or_insert_with(AnyValue::default);
    value(v);
}

fn value(v: &mut AnyValue) {
    match &mut v.value {
        Some(Value::StringValueStrindex(_)) => v.value = None,
        Some(Value::ArrayValue(a)) => a.values.iter_mut().for_each(value),
        // Inside a map, entries keep their order (CBOR maps are written in order).
        Some(Value::KvlistValue(m)) => m.values.iter_mut().for_each(key_value),
        _ => {}
    }
}
