//! [`ClientConfig`]: every setting of a client, each defaulting (mostly from the environment)
//! when the client is built.

use crate::ExporterConfig;
// Named in the docs only.
use crate::pipeline::{AdaptiveBatchConfig, PersistentQueue};
use crate::trace::propagation::TextMapPropagator;
use crate::trace::{Sampler, SpanLimits};
use otlp_proto::Str;
use otlp_proto::resource::Resource;
use std::sync::Arc;
#[cfg(doc)]
use {super::OtlpClient, crate::pipeline::Stats, crate::trace::propagation::propagators_from_env};

/// How to build an [`OtlpClient`]. Every setting left unset takes its default when the client
/// is built, most of them from the environment.
#[derive(Debug, Clone, Default)]
pub struct ClientConfig {
    pub(super) exporter: Option<ExporterConfig>,
    pub(super) resource: Option<Resource>,
    pub(super) sampler: Option<Sampler>,
    pub(super) span_limits: Option<SpanLimits>,
    pub(super) traces_pipeline: Option<AdaptiveBatchConfig>,
    pub(super) logs_pipeline: Option<AdaptiveBatchConfig>,
    pub(super) profiles_pipeline: Option<AdaptiveBatchConfig>,
    pub(super) propagator: Option<Arc<dyn TextMapPropagator>>,
    pub(super) resource_detection: Option<bool>,
    pub(super) self_metrics: Option<bool>,
    pub(super) default_scope: Option<Str>,
    pub(super) metrics: Option<crate::metrics::MetricsConfig>,
    pub(super) persistent_queue: Option<PersistentQueue>,
}

impl ClientConfig {
    /// A configuration with every setting at its default.
    pub fn new() -> Self {
        ClientConfig::default()
    }

    /// Keeps every signal's batches in a [persistent queue](crate::pipeline::persist) in a
    /// subdirectory of `queue`'s directory per signal (`traces`, `metrics`, `logs`,
    /// `profiles`), for each pipeline that has none of its own. Default: none, or what
    /// `OTLP_PERSISTENT_QUEUE_DIR` (with `OTLP_PERSISTENT_QUEUE_MAX_BYTES` and
    /// `OTLP_PERSISTENT_QUEUE_FSYNC`) says.
    pub fn with_persistent_queue(mut self, queue: PersistentQueue) -> Self {
        self.persistent_queue = Some(queue);
        self
    }

    /// The exporter configuration (default [`ExporterConfig::from_env`]).
    pub fn with_exporter(mut self, config: ExporterConfig) -> Self {
        self.exporter = Some(config);
        self
    }

    /// Attributes of the resource every signal is sent under. They are
    /// [merged](crate::resource::merge) over the detected resource
    /// ([`resource::detect`](crate::resource::detect), which reads `OTEL_SERVICE_NAME` and
    /// `OTEL_RESOURCE_ATTRIBUTES`): on a key both have, the value given here wins, so a
    /// `service.name` given here replaces the detected one (and its `unknown_service:<exe>`
    /// fallback). Without this setting the detected resource is used as is; with
    /// [`with_resource_detection(false)`](ClientConfig::with_resource_detection), this resource
    /// alone.
    pub fn with_resource(mut self, resource: Resource) -> Self {
        self.resource = Some(resource);
        self
    }

    /// The trace sampler (default [`Sampler::from_env`] on the process environment, which is
    /// `ParentBased(AlwaysOn)` when `OTEL_TRACES_SAMPLER` is unset).
    pub fn with_sampler(mut self, sampler: Sampler) -> Self {
        self.sampler = Some(sampler);
        self
    }

    /// The span limits (default [`SpanLimits::from_env`] on the process environment).
    pub fn with_span_limits(mut self, limits: SpanLimits) -> Self {
        self.span_limits = Some(limits);
        self
    }

    /// The batching of spans (default [`AdaptiveBatchConfig::from_env`] for traces).
    pub fn with_traces_pipeline(mut self, config: AdaptiveBatchConfig) -> Self {
        self.traces_pipeline = Some(config);
        self
    }

    /// The batching of log records and events (default [`AdaptiveBatchConfig::from_env`] for
    /// logs, which reads `OTEL_BLRP_*`).
    pub fn with_logs_pipeline(mut self, config: AdaptiveBatchConfig) -> Self {
        self.logs_pipeline = Some(config);
        self
    }

    /// The queueing of profiles sent with [`OtlpClient::send_profile`] (default
    /// [`profiles::default_pipeline`](crate::profiles::default_pipeline): a queue of
    /// [`DEFAULT_QUEUE_SIZE`](crate::profiles::DEFAULT_QUEUE_SIZE) profiles, one per request).
    pub fn with_profiles_pipeline(mut self, config: AdaptiveBatchConfig) -> Self {
        self.profiles_pipeline = Some(config);
        self
    }

    /// The propagator of [`OtlpClient::inject`] and [`OtlpClient::extract`] (default
    /// [`propagators_from_env`] on the process environment: `OTEL_PROPAGATORS`, which is
    /// `tracecontext,baggage` when unset; a malformed value fails the build with an error
    /// naming the variable).
    pub fn with_propagator(mut self, propagator: impl TextMapPropagator + 'static) -> Self {
        self.propagator = Some(Arc::new(propagator));
        self
    }

    /// Whether to detect the resource (default `true`): the host, OS, process, container,
    /// Kubernetes and service detectors, `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES`
    /// ([`resource::detect`](crate::resource::detect)). With `false`, signals are sent under
    /// the resource given to [`with_resource`](ClientConfig::with_resource) alone, or an empty
    /// one.
    pub fn with_resource_detection(mut self, detect: bool) -> Self {
        self.resource_detection = Some(detect);
        self
    }

    /// Whether to export the SDK's own metrics (default `false`): the traces and logs
    /// pipelines' [`Stats`] as the `otel.sdk.*` semantic-convention metrics
    /// ([`Stats::to_otlp_metrics`]), each data point with its `otel.component.type` and
    /// `otel.component.name`. They are observable instruments of the meter `otlp`, exported
    /// with the application's metrics ([`with_metrics`](ClientConfig::with_metrics): same
    /// interval, same pipeline); [`OtlpClient::shutdown`] reads them once the other signals
    /// have shut down.
    ///
    /// Corresponding environment variable: `OTLP_SELF_METRICS` (`true` or `false`; anything
    /// else fails the build with an error naming the variable).
    pub fn with_self_metrics(mut self, enabled: bool) -> Self {
        self.self_metrics = Some(enabled);
        self
    }

    /// How metrics are collected and exported (default [`MetricsConfig::new`]: every setting
    /// from the `OTEL_*` environment, then the specification's defaults).
    ///
    /// [`MetricsConfig::new`]: crate::metrics::MetricsConfig::new
    pub fn with_metrics(mut self, config: crate::metrics::MetricsConfig) -> Self {
        self.metrics = Some(config);
        self
    }

    /// The instrumentation scope of the records sent with [`OtlpClient::send_log`] and
    /// [`OtlpClient::send_event`] (default: the resource's `service.name`, or
    /// [`DEFAULT_SCOPE`](crate::logs::DEFAULT_SCOPE) when it has none).
    /// [`OtlpClient::logger`] sends under a scope of your choice instead.
    pub fn with_default_scope(mut self, name: impl Into<Str>) -> Self {
        self.default_scope = Some(name.into());
        self
    }
}
