//! `service.*` from `OTEL_SERVICE_NAME`, and a per-process `service.instance.id`.

use super::{Detector, Source};
use otlp_proto::common::KeyValue;
use otlp_proto::resource::Resource;
use otlp_semconv::attribute as a;
use std::sync::OnceLock;

/// `service.name` from `OTEL_SERVICE_NAME`, and `service.instance.id`: a random UUID (v4) made
/// once per process, so every resource the process builds carries the same one.
///
/// When no detector or attribute provides `service.name`, [`super::ResourceBuilder::build`] adds
/// `unknown_service:<executable name>`, as the specification asks.
#[derive(Debug, Clone, Copy, Default)]
pub struct ServiceDetector;

impl Detector for ServiceDetector {
    fn detect(&self, source: &Source) -> Vec<KeyValue> {
        let mut out = Vec::new();
        if let Some(name) = source.var("OTEL_SERVICE_NAME") {
            out.push(KeyValue::new(a::SERVICE_NAME, name));
        }
        out.push(KeyValue::new(
            a::SERVICE_INSTANCE_ID,
            instance_id().to_owned(),
        ));
        out
    }
}

/// This process's `service.instance.id`.
pub fn instance_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let mut b = [0u8; 16];
        for x in &mut b {
            *x = fastrand::u8(..);
        }
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
        format!(
            "{}-{}-{}-{}-{}",
            &hex[..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..]
        )
    })
}

/// The resource's `service.name`, if it has a non-empty one.
pub(crate) fn service_name(resource: &Resource) -> Option<&str> {
    resource
        .attributes
        .iter()
        .rev()
        .find(|kv| kv.key.as_str() == a::SERVICE_NAME)
        .and_then(|kv| kv.value.as_ref()?.as_str())
        .filter(|name| !name.is_empty())
}
