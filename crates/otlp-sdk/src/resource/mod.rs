//! Resource detection: the attributes that describe the process, host, container and
//! Kubernetes pod, gathered into an [`otlp_proto::resource::Resource`].
//!
//! ```
//! use otlp::resource::{K8sDetector, ResourceBuilder, Source};
//! use otlp_proto::common::KeyValue;
//!
//! // Every built-in detector, on the real machine:
//! let resource = otlp::resource::detect();
//! assert!(resource.attributes.iter().any(|kv| kv.key.as_str() == "service.name"));
//!
//! // Or pick detectors, point them at a fixture tree and variables, and add your own:
//! let resource = ResourceBuilder::new()
//!     .with_source(Source::fixture("/nonexistent").with_env([("K8S_POD_NAME", "web-0")]))
//!     .with_detector(K8sDetector)
//!     .with_attribute(KeyValue::new("deployment.environment.name", "prod"))
//!     .build();
//! assert_eq!(resource.attributes.len(), 3); // k8s.pod.name, deployment.environment.name, service.name
//! ```
//!
//! # Merging
//!
//! Detectors run in the order given and their attributes are merged with the specification's
//! rule for `Merge(old, updating)`: when a key repeats, **the later value wins** (keeping the
//! key's first position). [`ResourceBuilder::with_default_detectors`] orders them from the least
//! to the most explicit: host, OS, process, container, Kubernetes, service
//! (`OTEL_SERVICE_NAME`, `service.instance.id`), then `OTEL_RESOURCE_ATTRIBUTES`; attributes
//! set in code with [`ResourceBuilder::with_attribute`] come last and win over everything.
//! `OTEL_SERVICE_NAME` wins over a `service.name` in `OTEL_RESOURCE_ATTRIBUTES`. If nothing
//! sets `service.name`, it is `unknown_service:<executable name>`.
//!
//! A resource given to [`ClientConfig::with_resource`](crate::ClientConfig::with_resource) is
//! [merged](merge) over the detected one in the same way: its attributes win, including over
//! `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES` (code beats the environment).
//!
//! # Failure
//!
//! Detection never fails: a missing, unreadable or malformed source yields no attributes.
//! Every detector reads through a [`Source`], so tests run them against fixture trees.

mod container;
mod env;
mod host;
mod k8s;
mod merge;
mod process;
mod service;
mod source;

pub use container::ContainerDetector;
pub use env::EnvDetector;
pub use host::{HostDetector, OsDetector};
pub use k8s::{K8sDetector, NAMESPACE_FILE};
pub use merge::merge;
pub use process::ProcessDetector;
pub use service::ServiceDetector;
pub(crate) use service::service_name;
pub use source::Source;

use otlp_proto::common::{KeyValue, Value};
use otlp_proto::resource::Resource;
use otlp_semconv::attribute as a;
use std::fmt;
use std::sync::Arc;

/// Something that contributes resource attributes. Implementations must not panic and must
/// not block for long: a source they cannot read yields no attributes.
pub trait Detector: Send + Sync + fmt::Debug {
    /// The attributes found through `source`.
    fn detect(&self, source: &Source) -> Vec<KeyValue>;
}

/// Composes detectors and attributes into a [`Resource`]; see the [module docs](self) for the
/// merge order.
#[must_use]
#[derive(Debug, Clone, Default)]
pub struct ResourceBuilder {
    source: Source,
    detectors: Vec<Arc<dyn Detector>>,
    attributes: Vec<KeyValue>,
}

impl ResourceBuilder {
    /// No detectors, the real machine as source.
    pub fn new() -> Self {
        ResourceBuilder::default()
    }

    /// Reads through `source` instead of the real machine.
    pub fn with_source(self, source: Source) -> Self {
        ResourceBuilder { source, ..self }
    }

    /// Adds a detector after those already added (its values win over theirs).
    pub fn with_detector(mut self, detector: impl Detector + 'static) -> Self {
        self.detectors.push(Arc::new(detector));
        self
    }

    /// Adds the built-in detectors: host, OS, process, container, Kubernetes, service, then
    /// `OTEL_RESOURCE_ATTRIBUTES`.
    pub fn with_default_detectors(self) -> Self {
        self.with_detector(HostDetector)
            .with_detector(OsDetector)
            .with_detector(ProcessDetector)
            .with_detector(ContainerDetector)
            .with_detector(K8sDetector)
            .with_detector(ServiceDetector)
            .with_detector(EnvDetector)
    }

    /// Sets an attribute in code; it wins over every detector.
    pub fn with_attribute(mut self, attribute: KeyValue) -> Self {
        self.attributes.push(attribute);
        self
    }

    /// Runs the detectors and merges their attributes (later wins), then the attributes set in
    /// code, then fills `service.name` if nothing set it.
    pub fn build(&self) -> Resource {
        let mut merged: Vec<KeyValue> = Vec::new();
        let detected = self.detectors.iter().flat_map(|d| d.detect(&self.source));
        for kv in detected.chain(self.attributes.iter().cloned()) {
            match merged.iter_mut().find(|m| m.key == kv.key) {
                Some(slot) => *slot = kv,
                None => merged.push(kv),
            }
        }
        if !merged.iter().any(|kv| kv.key.as_str() == a::SERVICE_NAME) {
            let exe = merged
                .iter()
                .find(|kv| kv.key.as_str() == a::PROCESS_EXECUTABLE_NAME)
                .and_then(
                    |kv| match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                        Some(Value::StringValue(s)) => Some(s.as_str().to_owned()),
                        _ => None,
                    },
                )
                .or_else(|| {
                    std::env::current_exe()
                        .ok()
                        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                });
            let name = match exe {
                Some(e) => format!("unknown_service:{e}"),
                None => "unknown_service".to_owned(),
            };
            merged.push(KeyValue::new(a::SERVICE_NAME, name));
        }
        Resource {
            attributes: merged,
            ..Resource::default()
        }
    }
}

/// Every built-in detector on the real machine:
/// `ResourceBuilder::new().with_default_detectors().build()`.
pub fn detect() -> Resource {
    ResourceBuilder::new().with_default_detectors().build()
}
