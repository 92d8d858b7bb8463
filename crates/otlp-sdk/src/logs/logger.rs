//! [`Logger`]: emits records under one instrumentation scope, through the client's logs
//! pipeline; and [`Logs`], the client's logs side (its [`SignalHub`] and scopes).

use super::encoder::{ScopedLogEncoder, ScopedLogRecord};
use super::event::Event;
use crate::hub::{Component, SignalHub};
use crate::pipeline::{AdaptiveBatchConfig, DropReason, Enqueued, Pipeline};
use crate::scopes::Scopes;
use crate::{Exporter, Signal};
use otlp_proto::Str;
use otlp_proto::logs::LogRecord;
use otlp_proto::resource::Resource;
use std::fmt;
use std::sync::Arc;

/// The client's logs side: one pipeline for every scope, started by the first record, behind
/// the client's [`SignalHub`].
pub(crate) struct Logs {
    hub: Arc<SignalHub<ScopedLogRecord>>,
    /// The client's scope table, shared with its tracers.
    scopes: Arc<Scopes>,
}

impl Logs {
    /// The logs side of a client exporting through `exporter` under `resource`; `config` is
    /// validated by the caller.
    pub(crate) fn new(
        exporter: Exporter,
        resource: Resource,
        scopes: Arc<Scopes>,
        config: AdaptiveBatchConfig,
    ) -> Self {
        let encoder_scopes = scopes.clone();
        let start = Box::new(move |config: &AdaptiveBatchConfig| {
            let encoder = ScopedLogEncoder::new(resource.clone(), encoder_scopes.clone());
            Pipeline::new(exporter.clone(), encoder, config.clone())
        });
        Logs {
            hub: Arc::new(SignalHub::new(Signal::Logs, config, start)),
            scopes,
        }
    }

    /// The hub, as the client registers it.
    pub(crate) fn component(&self) -> Arc<dyn Component> {
        self.hub.clone()
    }

    /// A logger of the scope `name`/`version`/`schema_url`, registered in the client's table
    /// on first request.
    pub(crate) fn logger(
        &self,
        name: Str,
        version: Option<Str>,
        schema_url: Option<Str>,
    ) -> Logger {
        let index = self
            .scopes
            .register(name.clone(), version.clone(), schema_url);
        Logger {
            inner: Some((
                self.hub.clone(),
                LoggerScope {
                    index,
                    name,
                    version,
                },
            )),
        }
    }
}

impl fmt::Debug for Logs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Logs")
            .field("hub", &self.hub)
            .finish_non_exhaustive()
    }
}

/// Stamps `record` with the time now where it has none (one clock read for both), and offers
/// it to the pipeline.
fn emit(hub: &SignalHub<ScopedLogRecord>, scope: u32, mut record: LogRecord) -> Enqueued {
    if record.observed_time_unix_nano == 0 || record.time_unix_nano == 0 {
        let now = crate::clock::now_unix_nanos();
        if record.observed_time_unix_nano == 0 {
            record.observed_time_unix_nano = now;
        }
        // The data model allows an unknown time, but a record sent without one happened
        // when it was sent: that is what a reader of `send_log` expects to see.
        if record.time_unix_nano == 0 {
            record.time_unix_nano = now;
        }
    }
    hub.enqueue(ScopedLogRecord { scope, record })
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
    inner: Option<(Arc<SignalHub<ScopedLogRecord>>, LoggerScope)>,
}

impl Logger {
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

    /// Sends `record` under this logger's scope, setting its observed timestamp, and its
    /// timestamp, to now where it has none. Never blocks (unless the pipeline is configured
    /// with [`Backpressure::Wait`](crate::pipeline::Backpressure::Wait)); after the client shut
    /// down the record is dropped and counted in
    /// [`OtlpClient::logs_stats`](crate::OtlpClient::logs_stats).
    ///
    /// The result says at once whether the record was queued; ignore it, or `.await` it for a
    /// `Result` (`logger.emit(record).await?`: an error names why the record was dropped). See
    /// [`Enqueued`].
    pub fn emit(&self, record: LogRecord) -> Enqueued {
        match &self.inner {
            Some((hub, scope)) => emit(hub, scope.index, record),
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
