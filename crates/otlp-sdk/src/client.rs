//! The client: one place to configure and start the SDK, and to get tracers from.
//!
//! Traces, then logs and events ([`crate::logs`]); metrics and profiles will get their own
//! methods on [`OtlpClient`] and settings on [`ClientConfig`] next to these.

use crate::logs::{Event, Logger, LogsHub};
use crate::pipeline::{AdaptiveBatchConfig, Enqueued, Pipeline, Stats};
use crate::scopes::Scopes;
use crate::trace::export::TraceEncoder;
use crate::trace::propagation::{
    Context, Extractor, Injector, TextMapPropagator, propagators_from_env,
};
use crate::trace::record::RecordedSpan;
use crate::trace::tracer::ScopeId;
use crate::trace::{Sampler, SpanLimits, Tracer};
use crate::{Error, Exporter, ExporterConfig, Signal};
use otlp_proto::Str;
use otlp_proto::logs::LogRecord;
use otlp_proto::resource::Resource;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

mod self_metrics;

/// How to build an [`OtlpClient`]. Every setting left unset takes its default when the client
/// is built, most of them from the environment.
#[derive(Debug, Clone, Default)]
pub struct ClientConfig {
    exporter: Option<ExporterConfig>,
    resource: Option<Resource>,
    sampler: Option<Sampler>,
    span_limits: Option<SpanLimits>,
    traces_pipeline: Option<AdaptiveBatchConfig>,
    logs_pipeline: Option<AdaptiveBatchConfig>,
    propagator: Option<Arc<dyn TextMapPropagator>>,
    resource_detection: Option<bool>,
    self_metrics: Option<Option<Duration>>,
}

impl ClientConfig {
    /// A configuration with every setting at its default.
    pub fn new() -> Self {
        ClientConfig::default()
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

    /// Exports the SDK's own metrics every `interval` (`None`: never, the default). The
    /// pipelines' [`Stats`] are sent as the `otel.sdk.*` semantic-convention metrics
    /// ([`Stats::to_otlp_metrics`]), each data point with its `otel.component.type` and
    /// `otel.component.name`, through a metrics pipeline of their own (never through the
    /// pipelines they describe), on a thread of their own; [`OtlpClient::shutdown`] sends a
    /// last snapshot.
    ///
    /// Corresponding environment variable: `OTLP_SELF_METRICS_INTERVAL`, in milliseconds
    /// (unset, empty or `0`: off; anything else than a whole number fails the build with an
    /// error naming the variable).
    pub fn with_self_metrics(mut self, interval: Option<Duration>) -> Self {
        self.self_metrics = Some(interval.filter(|i| !i.is_zero()));
        self
    }
}

/// The SDK: exporter, resource, and the per-signal pipelines. Cheap to clone; clones share
/// everything.
///
/// The spans of every tracer go through one traces pipeline (one worker thread), started with
/// the first tracer; each request groups them by instrumentation scope (tracer name, version
/// and schema URL).
#[derive(Clone)]
pub struct OtlpClient {
    inner: Arc<ClientInner>,
}

struct ClientInner {
    exporter: Exporter,
    resource: Resource,
    propagator: Arc<dyn TextMapPropagator>,
    self_metrics: Option<self_metrics::SelfMetrics>,
    sampler: Arc<Sampler>,
    span_limits: SpanLimits,
    traces_pipeline: AdaptiveBatchConfig,
    tracers: Mutex<Vec<Tracer>>,
    /// The instrumentation scopes of every tracer and logger, shared with the encoders.
    scopes: Arc<Scopes>,
    /// Started with the first tracer.
    traces: Mutex<Option<Pipeline<RecordedSpan>>>,
    shut_down: AtomicBool,
    logs: Arc<LogsHub>,
    /// The logger of `send_log` and `send_event` (scope [`crate::logs::DEFAULT_SCOPE`]).
    default_logger: Logger,
}

fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

impl OtlpClient {
    /// Builds a client, filling unset settings from the environment (a malformed variable is an
    /// error naming it). Does not touch the caller's runtime: works under any executor.
    pub async fn new(config: ClientConfig) -> Result<OtlpClient, Error> {
        OtlpClient::build(config)
    }

    /// [`new`](OtlpClient::new), for programs without an async runtime.
    pub fn new_blocking(config: ClientConfig) -> Result<OtlpClient, Error> {
        OtlpClient::build(config)
    }

    fn build(config: ClientConfig) -> Result<OtlpClient, Error> {
        let exporter_config = match config.exporter {
            Some(c) => c,
            None => ExporterConfig::from_env()?,
        };
        let sampler = match config.sampler {
            Some(s) => s,
            None => Sampler::from_env(process_env)?,
        };
        let span_limits = match config.span_limits {
            Some(l) => l,
            None => SpanLimits::from_env(process_env)?,
        };
        let traces_pipeline = match config.traces_pipeline {
            Some(c) => c,
            None => AdaptiveBatchConfig::from_env(Signal::Traces)?,
        };
        traces_pipeline.validate()?;
        let propagator: Arc<dyn TextMapPropagator> = match config.propagator {
            Some(p) => p,
            None => Arc::new(propagators_from_env(process_env)?),
        };
        let self_metrics_interval = match config.self_metrics {
            Some(i) => i,
            None => self_metrics::interval_from_env(process_env)?,
        };
        let resource = match (config.resource, config.resource_detection.unwrap_or(true)) {
            (Some(r), true) => crate::resource::merge(&crate::resource::detect(), &r),
            (Some(r), false) => r,
            (None, true) => crate::resource::detect(),
            (None, false) => Resource::default(),
        };
        let exporter = Exporter::new(exporter_config)?;
        let logs_pipeline = match config.logs_pipeline {
            Some(c) => c,
            None => AdaptiveBatchConfig::from_env(Signal::Logs)?,
        };
        logs_pipeline.validate()?;
        let logs_queue_capacity = logs_pipeline.max_queue_size();
        // One scope table for every signal: tracers and loggers register into it.
        let scopes = Arc::new(Scopes::default());
        let logs = Arc::new(LogsHub::new(
            exporter.clone(),
            resource.clone(),
            scopes.clone(),
            logs_pipeline,
        ));
        let default_scope = logs.scope(
            Str::from(crate::logs::DEFAULT_SCOPE),
            Some(Str::from(env!("CARGO_PKG_VERSION"))),
            None,
        );
        let default_logger = Logger::new(logs.clone(), default_scope);
        let self_metrics = match self_metrics_interval {
            Some(interval) => Some(self_metrics::SelfMetrics::new(
                &exporter,
                &resource,
                &traces_pipeline,
                logs_queue_capacity,
                interval,
            )?),
            None => None,
        };
        let client = OtlpClient {
            inner: Arc::new(ClientInner {
                exporter,
                resource,
                propagator,
                self_metrics,
                sampler: Arc::new(sampler),
                span_limits,
                traces_pipeline,
                tracers: Mutex::new(Vec::new()),
                scopes,
                traces: Mutex::new(None),
                shut_down: AtomicBool::new(false),
                logs,
                default_logger,
            }),
        };
        if let Some(m) = &client.inner.self_metrics {
            m.start(Arc::downgrade(&client.inner))?;
        }
        Ok(client)
    }

    /// The resource signals are sent under.
    pub fn resource(&self) -> &Resource {
        &self.inner.resource
    }

    /// A tracer for the instrumentation scope `name` (a crate or module name).
    pub fn tracer(&self, name: impl Into<Str>) -> Tracer {
        self.tracer_with_scope(name.into(), None, None)
    }

    /// A tracer for the instrumentation scope `name` at `version`, whose attributes follow the
    /// semantic conventions at `schema_url` (both optional).
    pub fn tracer_with_version(
        &self,
        name: impl Into<Str>,
        version: Option<&str>,
        schema_url: Option<&str>,
    ) -> Tracer {
        self.tracer_with_scope(
            name.into(),
            version.map(|v| Str::from(v.to_owned())),
            schema_url.map(|v| Str::from(v.to_owned())),
        )
    }

    fn tracer_with_scope(
        &self,
        name: Str,
        version: Option<Str>,
        schema_url: Option<Str>,
    ) -> Tracer {
        let mut tracers = self
            .inner
            .tracers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(t) = tracers.iter().find(|t| {
            t.name() == name.as_str()
                && t.version() == version.as_deref()
                && t.schema_url() == schema_url.as_deref()
        }) {
            return t.clone();
        }
        if self.inner.shut_down.load(Ordering::SeqCst) {
            return Tracer::noop();
        }
        let Some(pipeline) = self.traces_pipeline() else {
            // The configuration was validated when the client was built; what is left is a
            // failure to start a thread, and then spans are not recorded rather than lost later.
            return Tracer::noop();
        };
        let index = self
            .inner
            .scopes
            .register(name.clone(), version.clone(), schema_url.clone());
        let tracer = Tracer::new(
            ScopeId {
                name,
                version,
                schema_url,
                index,
            },
            self.inner.sampler.clone(),
            self.inner.span_limits,
            pipeline,
        );
        tracers.push(tracer.clone());
        tracer
    }

    /// The traces pipeline, started on first use.
    fn traces_pipeline(&self) -> Option<Pipeline<RecordedSpan>> {
        let mut traces = self
            .inner
            .traces
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if traces.is_none() {
            crate::trace::record::pool_for_queue(self.inner.traces_pipeline.max_queue_size());
            let encoder = TraceEncoder::new(self.inner.resource.clone(), self.inner.scopes.clone());
            *traces = Pipeline::new(
                self.inner.exporter.clone(),
                encoder,
                self.inner.traces_pipeline.clone(),
            )
            .ok();
        }
        traces.clone()
    }

    /// The pipelines started so far (the traces one, once a tracer exists).
    fn pipelines(&self) -> Vec<Pipeline<RecordedSpan>> {
        self.inner
            .traces
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .cloned()
            .collect()
    }

    /// The traces pipeline's counters and gauges (all instrumentation scopes).
    pub fn stats(&self) -> Stats {
        let pipelines = self.pipelines();
        let mut total = Stats::new(Signal::Traces, 0);
        for p in pipelines {
            total.add(&p.stats());
        }
        total
    }

    /// Exports every span ended and every log record sent before the call, waiting up to `timeout` for it to settle.
    pub async fn force_flush(&self, timeout: Duration) -> Result<(), Error> {
        // The signals flush side by side, each up to the same deadline.
        let traces = async {
            for p in self.pipelines() {
                p.force_flush(timeout).await?;
            }
            Ok(())
        };
        let (logs, traces) = tokio::join!(self.inner.logs.force_flush(timeout), traces);
        logs.and(traces)
    }

    /// [`force_flush`](OtlpClient::force_flush), blocking the calling thread.
    pub fn force_flush_blocking(&self, timeout: Duration) -> Result<(), Error> {
        crate::blocking::block_on(self.force_flush(timeout))
    }

    /// Exports what is queued and stops every pipeline (traces and logs), waiting up to
    /// `timeout`. Spans ended and log records sent afterwards are dropped and counted; tracers
    /// of new scopes made afterwards do not record.
    pub async fn shutdown(&self, timeout: Duration) -> Result<(), Error> {
        self.inner.shut_down.store(true, Ordering::SeqCst);
        let deadline = Instant::now() + timeout;
        // The signals shut down side by side, each up to the same deadline.
        let traces = async {
            let mut result = Ok(());
            for p in self.pipelines() {
                if let Err(e) = p.shutdown(timeout).await {
                    result = Err(e);
                }
            }
            result
        };
        let (logs, traces) = tokio::join!(self.inner.logs.shutdown(timeout), traces);
        let mut result = logs.and(traces);
        if let Some(m) = &self.inner.self_metrics {
            let left = deadline.saturating_duration_since(Instant::now());
            if let Err(e) = m.shutdown(self, left).await {
                result = Err(e);
            }
        }
        result
    }

    /// [`shutdown`](OtlpClient::shutdown), blocking the calling thread.
    pub fn shutdown_blocking(&self, timeout: Duration) -> Result<(), Error> {
        crate::blocking::block_on(self.shutdown(timeout))
    }

    /// The propagator [`inject`](OtlpClient::inject) and [`extract`](OtlpClient::extract) use
    /// ([`ClientConfig::with_propagator`]).
    pub fn propagator(&self) -> &dyn TextMapPropagator {
        &*self.inner.propagator
    }

    /// Writes the context current on this thread — span context and baggage
    /// ([`Context::current`]) — into `carrier` (an [`http::HeaderMap`], a
    /// `HashMap<String, String>` or any [`Injector`]) with the client's propagator.
    pub fn inject(&self, carrier: &mut dyn Injector) {
        self.inner.propagator.inject(&Context::current(), carrier);
    }

    /// Reads a context — span context and baggage — from `carrier` with the client's
    /// propagator. [`Context::attach`] makes it current, so that spans started under it are its
    /// children and [`Baggage::current`](crate::trace::propagation::Baggage::current) sees its
    /// baggage.
    pub fn extract(&self, carrier: &dyn Extractor) -> Context {
        self.inner.propagator.extract(carrier)
    }
}

// Logs and events: the logic is in `crate::logs`; these are the client's entry points.
impl OtlpClient {
    /// A logger for the instrumentation scope `name` (a crate or module name). Loggers of every
    /// scope share the client's one logs pipeline; a scope asked for twice is the same scope.
    pub fn logger(&self, name: impl Into<Str>) -> Logger {
        self.logger_with_version(name, None, None)
    }

    /// A logger for the instrumentation scope `name` at `version`, whose attributes follow the
    /// semantic conventions at `schema_url` (both optional).
    pub fn logger_with_version(
        &self,
        name: impl Into<Str>,
        version: Option<&str>,
        schema_url: Option<&str>,
    ) -> Logger {
        let scope = self.inner.logs.scope(
            name.into(),
            version.map(|v| Str::from(v.to_owned())),
            schema_url.map(|v| Str::from(v.to_owned())),
        );
        Logger::new(self.inner.logs.clone(), scope)
    }

    /// Sends a log record (made with [`LogBuilder`](crate::logs::LogBuilder)) under the
    /// [`DEFAULT_SCOPE`](crate::logs::DEFAULT_SCOPE) instrumentation scope. See
    /// [`Logger::emit`].
    pub fn send_log(&self, record: LogRecord) -> Enqueued {
        self.inner.default_logger.emit(record)
    }

    /// Sends an event (made with [`EventBuilder`](crate::logs::EventBuilder)) as one log record
    /// under the [`DEFAULT_SCOPE`](crate::logs::DEFAULT_SCOPE) instrumentation scope.
    pub fn send_event(&self, event: Event) -> Enqueued {
        self.inner.default_logger.emit_event(event)
    }

    /// The logs pipeline's counters and gauges (all zero before the first record).
    pub fn logs_stats(&self) -> Stats {
        self.inner.logs.stats()
    }
}

impl fmt::Debug for OtlpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtlpClient")
            .field("exporter", &self.inner.exporter)
            .field("sampler", &self.inner.sampler)
            .field("span_limits", &self.inner.span_limits)
            .finish_non_exhaustive()
    }
}
