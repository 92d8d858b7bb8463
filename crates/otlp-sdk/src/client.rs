//! The client: one place to configure and start the SDK, and to get tracers from.
//!
//! Traces, logs and events ([`crate::logs`]), metrics ([`crate::metrics`]) and profiles
//! ([`crate::profiles`]): each signal's entry points on [`OtlpClient`] and its settings on
//! [`ClientConfig`].

use crate::hub::{Component, join_all};
use crate::logs::{Event, Logger, Logs};
use crate::metrics::{Meter, MeterBuilder, Metrics};
use crate::pipeline::{
    AdaptiveBatchConfig, DeferScope, Enqueued, PersistentQueue, Stats, drop_deadline,
};
use crate::profiles::Profiles;
use crate::scopes::Scopes;
use crate::trace::component::Traces;
use crate::trace::propagation::{
    Context, Extractor, Injector, TextMapPropagator, propagators_from_env,
};
use crate::trace::{Sampler, SpanLimits, Tracer};
use crate::{EncodedBody, Error, Exporter, ExporterConfig, Signal};
use otlp_proto::Str;
use otlp_proto::logs::LogRecord;
use otlp_proto::resource::Resource;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod config;
mod profiles;
mod self_metrics;

pub use config::ClientConfig;

/// The SDK: exporter, resource, and the per-signal pipelines. Cheap to clone; clones share
/// everything.
///
/// Each signal has one pipeline (one worker thread) per client, started by its first use: the
/// spans of every tracer go through the traces pipeline, the records of every logger through
/// the logs one; each request groups them by instrumentation scope (name, version and schema
/// URL).
///
/// Dropping the last clone (without [`shutdown`](OtlpClient::shutdown)) exports what is
/// queued, waiting for it up to the export timeout (at most 5 s), from any context: inside an
/// async task, during a runtime's shutdown, or without a runtime. A client kept in
/// [`global`](crate::global) is flushed at process exit.
#[derive(Clone)]
pub struct OtlpClient {
    inner: Arc<ClientInner>,
}

struct ClientInner {
    exporter: Exporter,
    resource: Resource,
    propagator: Arc<dyn TextMapPropagator>,
    traces: Traces,
    logs: Logs,
    profiles: Profiles,
    /// Every signal the client carries, for flush, shutdown and statistics. A new signal
    /// registers here, in `build`.
    components: Vec<Arc<dyn Component>>,
    /// Whether any signal has a persistent queue.
    persistent: bool,
    /// The logger of `send_log` and `send_event` ([`ClientConfig::with_default_scope`]).
    default_logger: Logger,
    metrics: Metrics,
    /// Must stay the last field: fields are dropped in order, after `Drop::drop` opened the
    /// scope this closes (see there).
    drop_waits: DropWaits,
}

/// Closes the [`DeferScope`] that `Drop for ClientInner` opens, once every other field (and
/// so every pipeline handle the client held) is dropped.
struct DropWaits(Option<DeferScope>);

impl Drop for ClientInner {
    fn drop(&mut self) {
        // The pipelines whose last handle goes with the client send their shutdowns now, and
        // the `drop_waits` field, dropped last, waits for all of them: side by side, within
        // one deadline, rather than one signal after the other.
        self.drop_waits.0 = Some(DeferScope::open());
    }
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
        let persistent = match config.persistent_queue {
            Some(q) => Some(q),
            None => PersistentQueue::from_env_source(&process_env)?,
        };
        let with_queue = |signal: Signal, c: AdaptiveBatchConfig| match &persistent {
            Some(q) if c.persistent_queue().is_none() => {
                c.with_persistent_queue(q.clone().in_subdir(&signal.to_string()))
            }
            _ => c,
        };
        let traces_pipeline = match config.traces_pipeline {
            Some(c) => c,
            None => AdaptiveBatchConfig::from_env(Signal::Traces)?,
        };
        let traces_pipeline = with_queue(Signal::Traces, traces_pipeline);
        traces_pipeline.validate()?;
        let propagator: Arc<dyn TextMapPropagator> = match config.propagator {
            Some(p) => p,
            None => Arc::new(propagators_from_env(process_env)?),
        };
        let self_metrics = match config.self_metrics {
            Some(on) => on,
            None => self_metrics::enabled_from_env(process_env)?,
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
        let logs_pipeline = with_queue(Signal::Logs, logs_pipeline);
        logs_pipeline.validate()?;
        let profiles_pipeline = with_queue(
            Signal::Profiles,
            config
                .profiles_pipeline
                .unwrap_or_else(crate::profiles::default_pipeline),
        );
        profiles_pipeline.validate()?;
        let any_persistent = persistent.is_some()
            || [&traces_pipeline, &logs_pipeline, &profiles_pipeline]
                .iter()
                .any(|c| c.persistent_queue().is_some());
        let metrics_settings = config
            .metrics
            .unwrap_or_default()
            .resolve(exporter.config(), process_env)?;
        // One scope table for every signal: tracers and loggers register into it.
        let scopes = Arc::new(Scopes::default());
        let traces = Traces::new(
            exporter.clone(),
            resource.clone(),
            scopes.clone(),
            sampler,
            span_limits,
            traces_pipeline,
        );
        let logs = Logs::new(
            exporter.clone(),
            resource.clone(),
            scopes.clone(),
            logs_pipeline,
        );
        let metrics = Metrics::new(
            exporter.clone(),
            resource.clone(),
            scopes,
            metrics_settings,
            persistent.map(|q| q.in_subdir(&Signal::Metrics.to_string())),
        );
        let profiles = Profiles::new(exporter.clone(), resource.clone(), profiles_pipeline);
        let default_logger = match config.default_scope {
            Some(name) => logs.logger(name, None, None),
            None => match crate::resource::service_name(&resource) {
                Some(name) => logs.logger(Str::from(name.to_owned()), None, None),
                None => logs.logger(
                    Str::from(crate::logs::DEFAULT_SCOPE),
                    Some(Str::from(env!("CARGO_PKG_VERSION"))),
                    None,
                ),
            },
        };
        let components = vec![
            traces.component(),
            logs.component(),
            metrics.component(),
            profiles.component(),
        ];
        let client = OtlpClient {
            inner: Arc::new(ClientInner {
                exporter,
                resource,
                propagator,
                traces,
                logs,
                profiles,
                components,
                persistent: any_persistent,
                default_logger,
                metrics,
                drop_waits: DropWaits(None),
            }),
        };
        if self_metrics {
            let meter = client
                .meter_builder("otlp")
                .with_version(env!("CARGO_PKG_VERSION"))
                .build();
            let described: Vec<_> = client
                .components()
                .iter()
                .filter(|c| c.signal() != Signal::Metrics)
                .cloned()
                .collect();
            self_metrics::register(&meter, &described, &client.inner.exporter);
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
        self.inner.traces.tracer(name, version, schema_url)
    }

    /// The meter of the instrumentation scope `name` (a crate or module name): the same meter
    /// for the same name. See [`crate::metrics`].
    pub fn meter(&self, name: impl Into<Str>) -> Meter {
        self.meter_builder(name).build()
    }

    /// A meter of the instrumentation scope `name` with a version, schema URL or attributes.
    pub fn meter_builder(&self, name: impl Into<Str>) -> MeterBuilder<'_> {
        MeterBuilder {
            metrics: &self.inner.metrics,
            scope: otlp_proto::common::InstrumentationScope {
                name: name.into(),
                ..Default::default()
            },
            schema_url: Str::new(),
        }
    }

    /// Every meter's metrics now, as one export request under the client's resource: a manual
    /// reader, for tests and pull exporters. It shares the aggregation state of the periodic
    /// export: with delta temporality, each collection (this, a periodic export, a flush)
    /// reports what came since whichever was last.
    pub fn collect_metrics(&self) -> otlp_proto::collector::ExportMetricsServiceRequest {
        self.inner.metrics.collect_request()
    }

    /// Every meter's metrics now, as [`collect_metrics`](OtlpClient::collect_metrics) collects
    /// them, encoded the way the periodic export encodes them: for pull exporters that serve
    /// or store OTLP bytes (the body [`Exporter::export_encoded`](crate::Exporter::export_encoded)
    /// takes). Quicker than encoding [`collect_metrics`](OtlpClient::collect_metrics)'s request:
    /// the points' attributes go from the series into the bytes as they are.
    ///
    /// ```
    /// use otlp::{ClientConfig, ExporterConfig, OtlpClient};
    /// use otlp_proto::collector::ExportMetricsServiceRequest;
    /// use otlp_proto::{Encoding, Message};
    ///
    /// let config = ClientConfig::new().with_exporter(ExporterConfig::default().with_disabled(true));
    /// let client = OtlpClient::new_blocking(config)?;
    /// client.meter("shop").u64_counter("orders").build().add(1, &[]);
    /// let body = client.collect_metrics_encoded(Encoding::Protobuf);
    /// let request = ExportMetricsServiceRequest::decode(&body.message())?;
    /// assert_eq!(request.resource_metrics[0].scope_metrics[0].metrics[0].name, "orders");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn collect_metrics_encoded(&self, encoding: otlp_proto::Encoding) -> EncodedBody {
        self.inner.metrics.collect_encoded(encoding)
    }

    /// The metrics pipeline's counters and gauges (its items are metrics, one per instrument
    /// per collection); see [`stats_for`](OtlpClient::stats_for).
    pub fn metrics_stats(&self) -> Stats {
        self.stats_for(Signal::Metrics)
    }

    /// The signals this client carries.
    fn components(&self) -> &[Arc<dyn Component>] {
        &self.inner.components
    }

    /// The traces pipeline's counters and gauges (all instrumentation scopes); see
    /// [`stats_for`](OtlpClient::stats_for).
    pub fn stats(&self) -> Stats {
        self.stats_for(Signal::Traces)
    }

    /// The counters and gauges of `signal`'s pipeline (all instrumentation scopes): all zero
    /// before its first item, and for a signal the client does not carry. Items offered while
    /// no pipeline could take them (after a shutdown that came before the first one) count as
    /// accepted and dropped (`after_shutdown`).
    pub fn stats_for(&self, signal: Signal) -> Stats {
        let mut total = Stats::new(signal, 0);
        for c in self.components().iter().filter(|c| c.signal() == signal) {
            total.add(&c.stats());
        }
        total
    }

    /// Exports everything sent before the call (spans ended, log records, profiles, and the
    /// metrics collected now), waiting up to `timeout` for it to settle. The signals flush side
    /// by side, each up to the same deadline.
    pub async fn force_flush(&self, timeout: Duration) -> Result<(), Error> {
        join_all(
            self.components()
                .iter()
                .map(|c| c.force_flush(timeout))
                .collect(),
        )
        .await
    }

    /// Writes every item queued in the signals with a [persistent
    /// queue](crate::pipeline::persist) to it and syncs it to disk: once this returns `Ok`,
    /// they survive a crash of the process or the machine (see
    /// [`Pipeline::persist`](crate::pipeline::Pipeline::persist)). Does not wait for their export.
    /// An [`Error::is_config`] error when no signal has a persistent queue.
    pub async fn persist(&self) -> Result<(), Error> {
        if !self.inner.persistent {
            return Err(Error::config("this client has no persistent queue"));
        }
        join_all(self.components().iter().map(|c| c.persist()).collect()).await
    }

    /// [`force_flush`](OtlpClient::force_flush), blocking the calling thread.
    pub fn force_flush_blocking(&self, timeout: Duration) -> Result<(), Error> {
        crate::blocking::block_on(self.force_flush(timeout))
    }

    /// Exports what is queued and stops every pipeline (traces, logs, profiles, then metrics),
    /// waiting up to `timeout`. Spans ended, log records and profiles sent afterwards are
    /// dropped and counted; tracers of new scopes made afterwards do not record.
    pub async fn shutdown(&self, timeout: Duration) -> Result<(), Error> {
        let deadline = Instant::now() + timeout;
        // The signals shut down side by side, each up to the same deadline; metrics last, so
        // that their last collection reads the other pipelines' final counts (the SDK's own
        // metrics describe them).
        let (metrics, others): (Vec<_>, Vec<_>) = self
            .components()
            .iter()
            .partition(|c| c.signal() == Signal::Metrics);
        let first = join_all(others.iter().map(|c| c.shutdown(timeout)).collect()).await;
        let left = deadline.saturating_duration_since(Instant::now());
        let last = join_all(metrics.iter().map(|c| c.shutdown(left)).collect()).await;
        first.and(last)
    }

    /// [`shutdown`](OtlpClient::shutdown), blocking the calling thread.
    pub fn shutdown_blocking(&self, timeout: Duration) -> Result<(), Error> {
        crate::blocking::block_on(self.shutdown(timeout))
    }

    /// How long a shutdown at drop or at exit may take: the longest export timeout of the
    /// client's pipelines, capped as a dropped pipeline's wait is.
    // Only the exit hook asks, and it exists on Unix only.
    #[cfg_attr(any(not(unix), otlp_portable), allow(dead_code))]
    pub(crate) fn exit_deadline(&self) -> Duration {
        self.components()
            .iter()
            .map(|c| drop_deadline(c.export_timeout()))
            .max()
            .unwrap_or(Duration::ZERO)
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
        self.inner.logs.logger(
            name.into(),
            version.map(|v| Str::from(v.to_owned())),
            schema_url.map(|v| Str::from(v.to_owned())),
        )
    }

    /// Sends a log record (made with [`LogBuilder`](crate::logs::LogBuilder)) under the
    /// client's default instrumentation scope ([`ClientConfig::with_default_scope`]: the
    /// service name unless set). See [`Logger::emit`]: the record's timestamps default to now,
    /// and the result can be ignored or awaited:
    ///
    /// ```no_run
    /// # async fn demo(client: otlp::OtlpClient) -> Result<(), otlp::OtlpError> {
    /// use otlp::logs::{LogBuilder, LogSeverity};
    /// use serde_json::json;
    ///
    /// client
    ///     .send_log(
    ///         LogBuilder::new()
    ///             .with_severity(LogSeverity::Info)
    ///             .with_body_map(json!({ "msg": "order placed", "order": 1234 }))
    ///             .build(),
    ///     )
    ///     .await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn send_log(&self, record: LogRecord) -> Enqueued {
        self.inner.default_logger.emit(record)
    }

    /// Sends an event (made with [`EventBuilder`](crate::logs::EventBuilder)) as one log record
    /// under the client's default instrumentation scope; like
    /// [`send_log`](OtlpClient::send_log).
    pub fn send_event(&self, event: Event) -> Enqueued {
        self.inner.default_logger.emit_event(event)
    }

    /// The logs pipeline's counters and gauges (all zero before the first record); see
    /// [`stats_for`](OtlpClient::stats_for).
    pub fn logs_stats(&self) -> Stats {
        self.stats_for(Signal::Logs)
    }
}

impl fmt::Debug for OtlpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtlpClient")
            .field("exporter", &self.inner.exporter)
            .field("sampler", self.inner.traces.sampler())
            .field("span_limits", &self.inner.traces.limits())
            .finish_non_exhaustive()
    }
}
