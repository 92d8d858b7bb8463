//! Typed helpers: builders that produce correctly typed attributes for common conventions.
//!
//! Each builder has `with_*` setters and a `build()` that returns the attributes as
//! [`KeyValue`]s, with integers as `int`, ratios as `double` and
//! lists as arrays, as the conventions require. Unset fields produce no attribute.

#[cfg(feature = "experimental")]
mod genai;
mod k8s;
#[cfg(feature = "experimental")]
mod kafka;

#[cfg(feature = "experimental")]
#[cfg_attr(docsrs, doc(cfg(feature = "experimental")))]
pub use genai::{GenAiSpan, TokenUsage};
pub use k8s::K8sResource;
#[cfg(feature = "experimental")]
#[cfg_attr(docsrs, doc(cfg(feature = "experimental")))]
pub use kafka::KafkaMessage;

use otlp_proto::common::{AnyValue, KeyValue};

/// Pushes `key = value` when `value` is set.
pub(crate) fn push<V: Into<AnyValue>>(
    out: &mut Vec<KeyValue>,
    key: &'static str,
    value: Option<V>,
) {
    if let Some(v) = value {
        out.push(KeyValue::new(key, v));
    }
}
