//! `OTEL_RESOURCE_ATTRIBUTES`.

use super::{Detector, Source};
use otlp_proto::common::KeyValue;

/// The attributes in `OTEL_RESOURCE_ATTRIBUTES` (`key=value,key2=value2`, percent-decoded).
/// Malformed entries are skipped. `service.name` is left out when `OTEL_SERVICE_NAME` is set,
/// which takes precedence.
#[derive(Debug, Clone, Copy, Default)]
pub struct EnvDetector;

impl Detector for EnvDetector {
    fn detect(&self, source: &Source) -> Vec<KeyValue> {
        let Some(raw) = source.var("OTEL_RESOURCE_ATTRIBUTES") else {
            return Vec::new();
        };
        let skip_name = source.var("OTEL_SERVICE_NAME").is_some();
        raw.split(',')
            .filter_map(|pair| {
                let (k, v) = pair.split_once('=')?;
                let (k, v) = (decode(k.trim())?, decode(v.trim())?);
                let skip = k.is_empty() || (skip_name && k == "service.name");
                (!skip).then(|| KeyValue::new(k, v))
            })
            .collect()
    }
}

fn decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}
