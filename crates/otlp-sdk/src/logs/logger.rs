//! [`Logger`]: emits records under one instrumentation scope, through the client's logs
//! pipeline; and the hub that starts that pipeline on first use.

use super::encoder::{ScopedLogEncoder, ScopedLogRecord};
use super::event::Event;
use crate::pipeline::{AdaptiveBatchConfig, DropReason, Enqueued, Pipeline, Stats};
use crate::scopes::Scopes;
use crate::{Error, Exporter, Signal};
use otlp_proto::Str;
use otlp_proto::logs::LogRecord;
use otlp_proto::resource::Resource;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

/// The client's logs side: one pipeline for every scope, started by the first record.
pub(crate) struct LogsHub {
    exporter: Exporter,
    resource: Resource,
    /// The client's scope table, shared with its tracers.
    scopes: Arc<Scopes>,
    config: AdaptiveBatchConfig,
    pipeline: OnceLock<Pipeline<ScopedLogRecord>>,
    state: Mutex<HubState>,
    /// Records offered when there was no pipeline to count them: after a shutdown that came
    /// before the first record, or when the pipeline could not be started.
    unstarted_dropped: AtomicU64,
}

#[derive(Default)]
struct HubState {
    /// No pipeline will be started any more: the client shut down, or starting failed.
    closed: bool,
}

impl LogsHub {
    pub(crate) fn new(
        exporter: Exporter,
        resource: Resource,
        scopes: Arc<Scopes>,
        config: AdaptiveBatchConfig,
    ) -> Self {
        LogsHub {
            exporter,
            resource,
            scopes,
            config,
            pipeline: OnceLock::new(),
            state: Mutex::new(HubState::default()),
            unstarted_dropped: AtomicU64::new(0),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, HubState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A logger's handle on the scope `name`/`version`/`schema_url`, registered in the
    /// client's table on first request.
    pub(crate) fn scope(
        &self,
        name: Str,
        version: Option<Str>,
        schema_url: Option<Str>,
    ) -> LoggerScope {
        let index = self
            .scopes
            .register(name.clone(), version.clone(), schema_url);
        LoggerScope {
            index,
            name,
            version,
        }
    }

    /// The pipeline, started now if this is the first record; `None` once closed.
    fn pipeline(&self) -> Option<&Pipeline<ScopedLogRecord>> {
        if let Some(p) = self.pipeline.get() {
            return Some(p);
        }
        // Started under the lock, which `close` also takes: no pipeline starts after a shutdown.
        let mut state = self.state();
        if state.closed {
            return None;
        }
        if self.pipeline.get().is_none() {
            let encoder = ScopedLogEncoder::new(self.resource.clone(), self.scopes.clone());
            match Pipeline::new(self.exporter.clone(), encoder, self.config.clone()) {
                Ok(p) => {
                    let _ = self.pipeline.set(p);
                }
                // The configuration was validated with the client: what is left is a failure to
                // start a thread. Records are then dropped, and counted.
                Err(_) => {
                    state.closed = true;
                    return None;
                }
            }
        }
        self.pipeline.get()
    }

    fn emit(&self, scope: u32, mut record: LogRecord) -> Enqueued {
        if record.observed_time_unix_nano == 0 {
            record.observed_time_unix_nano = crate::clock::now_unix_nanos();
        }
        match self.pipeline() {
            Some(p) => p.enqueue(ScopedLogRecord { scope, record }),
            None => {
                let _ = self.unstarted_dropped.fetch_add(1, Ordering::Relaxed);
                Enqueued::Dropped(DropReason::AfterShutdown)
            }
        }
    }

    /// The pipeline if it was started (flush and shutdown have nothing to do otherwise).
    fn started(&self) -> Option<Pipeline<ScopedLogRecord>> {
        self.pipeline.get().cloned()
    }

    /// Whether the logs pipeline has started (it starts with the first record).
    pub(crate) fn is_started(&self) -> bool {
        self.pipeline.get().is_some()
    }

    pub(crate) fn stats(&self) -> Stats {
        let mut stats = match self.pipeline.get() {
            Some(p) => p.stats(),
            None => Stats::new(Signal::Logs, 0),
        };
        let unstarted = self.unstarted_dropped.load(Ordering::Relaxed);
        stats.accepted += unstarted;
        stats.dropped.after_shutdown += unstarted;
        stats
    }

    pub(crate) async fn force_flush(&self, timeout: Duration) -> Result<(), Error> {
        match self.started() {
            Some(p) => p.force_flush(timeout).await,
            None => Ok(()),
        }
    }

    /// Stops starting pipelines, and shuts down the one started, if any.
    pub(crate) async fn shutdown(&self, timeout: Duration) -> Result<(), Error> {
        let started = {
            let mut state = self.state();
            state.closed = true;
            self.started()
        };
        match started {
            Some(p) => p.shutdown(timeout).await,
            None => Ok(()),
        }
    }
}

impl fmt::Debug for LogsHub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogsHub")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// A logger's scope: its index in the client's table, and its name and version for
/// [`Logger::name`] and [`Logger::version`].
#[derive(Clone)]
pub(crate) struct LoggerScope {
    index: u32,
    name: Str,
    version: Option<Str>,
}

/// Emits log records and events under one instrumentation scope, from
/// [`OtlpClient::logger`](crate::OtlpClient::logger). Cheap to clone; clones and every other
/// logger of the client share one logs pipeline.
///
/// A logger made by [`Logger::noop`] drops everything without counting it.
#[derive(Clone)]
pub struct Logger {
    inner: Option<(Arc<LogsHub>, LoggerScope)>,
}

impl Logger {
    pub(crate) fn new(hub: Arc<LogsHub>, scope: LoggerScope) -> Logger {
        Logger {
            inner: Some((hub, scope)),
        }
    }

    /// A logger that drops every record (for code that must hold a logger when telemetry is
    /// off).
    pub fn noop() -> Logger {
        Logger { inner: None }
    }

    /// The instrumentation scope's name (empty for a no-op logger).
    pub fn name(&self) -> &str {
        self.inner.as_ref().map_or("", |(_, s)| &s.name)
    }

    /// The instrumentation scope's version, if one was given.
    pub fn version(&self) -> Option<&str> {
        self.inner
            .as_ref()
            .and_then(|(_, s)| s.version.as_deref())
            .filter(|v| !v.is_empty())
    }

    /// Sends `record` under this logger's scope, setting its observed timestamp to now if it
    /// has none. Never blocks (unless the pipeline is configured with
    /// [`Backpressure::Wait`](crate::pipeline::Backpressure::Wait)); after the client shut
    /// down the record is dropped and counted in [`OtlpClient::logs_stats`](crate::OtlpClient::logs_stats).
    pub fn emit(&self, record: LogRecord) -> Enqueued {
        match &self.inner {
            Some((hub, scope)) => hub.emit(scope.index, record),
            None => Enqueued::Dropped(DropReason::AfterShutdown),
        }
    }

    /// Sends `event` (one record) under this logger's scope.
    pub fn emit_event(&self, event: Event) -> Enqueued {
        self.emit(event.into_record())
    }
}

impl fmt::Debug for Logger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Logger")
            .field("name", &self.name())
            .field("version", &self.version())
            .finish()
    }
}
