//! Semantic comparison of what we sent with what came back out of a peer.
//!
//! Both sides are first decoded by our OTLP decoder, which already absorbs every difference the
//! OTLP/JSON specification allows in the encoding itself: hex id case, int64 values as strings or
//! numbers, `5` vs `5.0` for doubles, omitted default fields, key order. What is left are
//! differences in *content*, and [`normalize`] removes exactly those a faithful peer may
//! introduce, each documented there; everything else must be equal. The comparison then runs on
//! our canonical OTLP/JSON of both sides, field by field ([`diff`]), so a failure names the
//! path of every differing field: a changed id, attribute type or timestamp fails.

use bytes::Bytes;
use otlp_proto::collector::ExportProfilesServiceRequest;
use otlp_proto::common::Value as AnyValueKind;
use otlp_proto::{Encoding, Message, Request};
use serde_json::Value;
use std::collections::HashSet;

/// The canonical form of `request` for comparison: our OTLP/JSON, parsed.
pub fn canonical(request: &Request) -> Value {
    serde_json::from_slice(&request.to_json()).expect("our OTLP/JSON parses")
}

/// Removes the differences a faithful peer may introduce, so that what remains must be equal.
///
/// Observed with Collector v0.148.0 (pdata v1.54.0), OTLP receiver -> file exporter, and with
/// its `otlp_grpc`/`otlp_http` exporters:
///
/// - traces, metrics and logs come out with the same resources, scopes and items in the same
///   order and every field intact: nothing to normalise;
/// - profiles: the dictionary's tables keep their order and indices (no re-indexing), but when
///   marshalling (to OTLP/JSON in the file exporter, to protobuf in the OTLP exporters) pdata
///   turns every resource and scope attribute into references (OTLP v1.10 "reference
///   attributes": `key` -> `key_strindex`, string values -> `string_value_strindex`) and appends
///   the strings it needs to the dictionary's string table. Both are meaning-preserving, so
///   [`resolve_profile_references`] resolves them back and drops string-table entries past the
///   last one the request refers to. A reference that does not resolve is left as it is, so it
///   fails the comparison. It also writes the zero element of the attribute table with an
///   empty value (`{"value":{}}`), which we read as no value.
pub fn normalize(request: Request) -> Request {
    match request {
        Request::Profiles(p) => Request::Profiles(resolve_profile_references(p)),
        other => other,
    }
}

/// Resolves attribute references (`key_strindex`, `string_value_strindex`) in the resource and
/// scope attributes of a profiles request and truncates the string table after the last entry
/// anything in the request refers to. See [`normalize`].
pub fn resolve_profile_references(
    mut request: ExportProfilesServiceRequest,
) -> ExportProfilesServiceRequest {
    request.resolve_attribute_references();
    let Some(dictionary) = request.dictionary.as_mut() else {
        return request;
    };
    // The highest string index still in use after resolution.
    let mut used = 0_i32;
    let mut note = |i: i32| used = used.max(i);
    for m in &dictionary.mapping_table {
        note(m.filename_strindex);
    }
    for f in &dictionary.function_table {
        note(f.name_strindex);
        note(f.system_name_strindex);
        note(f.filename_strindex);
    }
    for a in &dictionary.attribute_table {
        note(a.key_strindex);
        note(a.unit_strindex);
        if let Some(AnyValueKind::StringValueStrindex(i)) =
            a.value.as_ref().and_then(|v| v.value.as_ref())
        {
            note(*i);
        }
    }
    for rp in &request.resource_profiles {
        for sp in &rp.scope_profiles {
            for p in &sp.profiles {
                for vt in p.sample_type.iter().chain(p.period_type.iter()) {
                    note(vt.type_strindex);
                    note(vt.unit_strindex);
                }
            }
        }
    }
    // pdata writes the zero element of the attribute table as `{"value":{}}`: an empty value,
    // which means the same as no value.
    for a in &mut dictionary.attribute_table {
        if a.value.as_ref().is_some_and(|v| v.value.is_none()) {
            a.value = None;
        }
    }
    let keep = usize::try_from(used).unwrap_or(0) + 1;
    dictionary.string_table.truncate(keep);
    request
}

/// The paths at which `got` differs from `want`, each with both values (empty when equal).
pub fn diff(want: &Value, got: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk("", want, got, &mut out);
    out
}

fn walk(path: &str, want: &Value, got: &Value, out: &mut Vec<String>) {
    match (want, got) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, va) in a {
                let p = format!("{path}.{k}");
                match b.get(k) {
                    Some(vb) => walk(&p, va, vb, out),
                    None => out.push(format!("{p}: missing (sent {va})")),
                }
            }
            for (k, vb) in b {
                if !a.contains_key(k) {
                    out.push(format!("{path}.{k}: unexpected {vb}"));
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            if a.len() != b.len() {
                out.push(format!(
                    "{path}: {} elements sent, {} came back",
                    a.len(),
                    b.len()
                ));
            }
            for (i, (va, vb)) in a.iter().zip(b).enumerate() {
                walk(&format!("{path}[{i}]"), va, vb, out);
            }
        }
        _ if want == got => {}
        _ => out.push(format!("{path}: sent {want}, got {got}")),
    }
}

/// Panics, listing every differing field, unless `got` equals `want` after [`normalize`].
pub fn assert_same(what: &str, want: &Request, got: &Request) {
    let (want_n, got_n) = (normalize(want.clone()), normalize(got.clone()));
    if want_n == got_n {
        return;
    }
    let differences = diff(&canonical(&want_n), &canonical(&got_n));
    panic!(
        "{what}: what came back differs from what was sent in {} field(s):\n  {}",
        differences.len(),
        differences.join("\n  ")
    );
}

/// `request` with the items of each scope sorted by their protobuf encoding: an order that
/// depends on content only.
fn sorted(request: Request) -> Request {
    fn sort<T: Message>(items: &mut [T]) {
        items.sort_by_cached_key(|i| i.encode_to_bytes());
    }
    match request {
        Request::Traces(mut r) => {
            for ss in r
                .resource_spans
                .iter_mut()
                .flat_map(|rs| &mut rs.scope_spans)
            {
                sort(&mut ss.spans);
            }
            Request::Traces(r)
        }
        Request::Logs(mut r) => {
            for sl in r.resource_logs.iter_mut().flat_map(|rl| &mut rl.scope_logs) {
                sort(&mut sl.log_records);
            }
            Request::Logs(r)
        }
        Request::Metrics(mut r) => {
            for sm in r
                .resource_metrics
                .iter_mut()
                .flat_map(|rm| &mut rm.scope_metrics)
            {
                sort(&mut sm.metrics);
            }
            Request::Metrics(r)
        }
        other => other,
    }
}

/// Rewrites `v`, a request's canonical JSON, into the form [`assert_same_in_any_order`]
/// compares: the entries of every map value (`kvlistValue`) sorted by key, and no all-zero
/// trace or span id (pdata holds ids as fixed arrays, where all zeros is "no id", and its
/// OTLP/JSON omits them).
fn comparable(v: &mut Value) {
    match v {
        Value::Object(fields) => {
            if let Some(Value::Array(entries)) = fields
                .get_mut("kvlistValue")
                .and_then(|kv| kv.get_mut("values"))
            {
                entries.sort_by(|a, b| a["key"].as_str().cmp(&b["key"].as_str()));
            }
            fields.retain(|name, value| {
                !(matches!(name.as_str(), "traceId" | "spanId" | "parentSpanId")
                    && value
                        .as_str()
                        .is_some_and(|id| id.bytes().all(|b| b == b'0')))
            });
            fields.values_mut().for_each(comparable);
        }
        Value::Array(items) => items.iter_mut().for_each(comparable),
        _ => {}
    }
}

/// `request` with only the first entry of each key in every attribute list and map value.
/// OTLP requires unique keys, but generated requests do not keep to that, and the Collector
/// (pdata) keeps one entry per key: sending such requests through it tests nothing but that.
pub fn unique_keys(request: &Request) -> Request {
    let mut json = canonical(request);
    drop_repeated_keys(&mut json);
    let bytes = serde_json::to_vec(&json).expect("JSON serializes");
    Request::decode(request.signal(), Encoding::Json, &Bytes::from(bytes))
        .expect("our OTLP/JSON, with entries removed, decodes")
}

fn drop_repeated_keys(v: &mut Value) {
    match v {
        Value::Object(fields) => {
            for (name, field) in fields.iter_mut() {
                let entries = match (name.as_str(), &mut *field) {
                    ("attributes" | "filteredAttributes", Value::Array(entries)) => Some(entries),
                    ("kvlistValue", Value::Object(kv)) => match kv.get_mut("values") {
                        Some(Value::Array(entries)) => Some(entries),
                        _ => None,
                    },
                    _ => None,
                };
                if let Some(entries) = entries {
                    // Canonical JSON omits an empty key.
                    let mut seen = HashSet::new();
                    entries.retain(|e| seen.insert(e["key"].as_str().unwrap_or("").to_owned()));
                }
                drop_repeated_keys(field);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(drop_repeated_keys),
        _ => {}
    }
}

/// Panics, naming every differing field, unless `got` equals `want` once both are in a form
/// that OTLP/Arrow through the Collector's `otelarrowreceiver` keeps: the items of each scope
/// in one order (the Go decoder gives them back in its own), the entries of every map value
/// sorted by key (it rebuilds them through Go maps, whose order is random) and no all-zero ids
/// (pdata's "no id"). Both sides should already be normalized for what OTAP does not carry
/// (otlp-otap's `normalize_*`), and keys be unique ([`unique_keys`]).
pub fn assert_same_in_any_order(what: &str, want: &Request, got: &Request) {
    let (mut want, mut got) = (
        canonical(&sorted(want.clone())),
        canonical(&sorted(got.clone())),
    );
    comparable(&mut want);
    comparable(&mut got);
    let differences = diff(&want, &got);
    assert!(
        differences.is_empty(),
        "{what}: what came back differs from what was sent in {} field(s):\n  {}",
        differences.len(),
        differences.join("\n  ")
    );
}
