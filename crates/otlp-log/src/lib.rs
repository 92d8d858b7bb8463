//! A [`log`] crate logger that exports what `log::info!` and its siblings record as OTLP log
//! records, through an [`OtlpClient`]'s logs pipeline.
//!
//! [`OtlpLogger`] is a [`log::Log`]: install it once per process ([`OtlpLogger::install`], or
//! `otlp::init()` with the `log` feature), and every enabled record becomes an OTLP log record:
//!
//! - **severity** from the level: `Error` 17 (ERROR), `Warn` 13 (WARN), `Info` 9 (INFO),
//!   `Debug` 5 (DEBUG), `Trace` 1 (TRACE), the first number of each OTLP range, with the
//!   level's name as severity text;
//! - **body**: the formatted message;
//! - **instrumentation scope**: the record's target (by default its module path), as the
//!   OpenTelemetry log bridge specification asks of a logger name; at most
//!   [`MAX_TARGET_SCOPES`] of them, after which records go under the scope `log` with their
//!   target as the attribute `log.target`;
//! - **attributes**: the record's key-values (`log::info!(user = 42; "...")`), typed: integers,
//!   floats, booleans and strings as themselves, a `u64` above `i64::MAX` and anything else as
//!   its `Display` string; and the code location (`code.file.path`, `code.line.number`) unless
//!   [`OtlpLogger::with_location`] turns it off;
//! - **trace context**: the span current on the thread ([`SpanContext::current`]), so a record
//!   logged inside a span carries its trace id, span id and flags;
//! - **time**: the SDK's clock, when the record is logged.
//!
//! Records are filtered by level ([`OtlpLogger::with_max_level`], default `Info`, also set as
//! `log`'s global maximum by `install`). Records made on the SDK's own threads
//! ([`otlp_sdk::context::is_sdk_thread`]: the exporter's I/O thread and the pipelines'
//! threads, where rustls and hyper log) and records whose target starts with `otlp` are
//! dropped: exporting a record must not make more records to export.
//!
//! `log::logger().flush()` flushes the client (waiting at most 5 seconds).
//!
//! # Example
//!
//! ```no_run
//! use otlp::{ClientConfig, OtlpClient};
//! use otlp_log::OtlpLogger;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let client = OtlpClient::new_blocking(ClientConfig::new())?;
//! OtlpLogger::new(&client)
//!     .with_max_level(log::LevelFilter::Debug)
//!     .install()?;
//!
//! // INFO, body "order placed", attributes order_id = 42 (an integer) and express = true.
//! log::info!(order_id = 42, express = true; "order placed");
//! # Ok(())
//! # }
//! ```

pub use log::LevelFilter;

use log::kv::{self, VisitSource};
use log::{Level, Log, Metadata, Record};
use otlp_proto::common::{AnyValue, KeyValue};
use otlp_sdk::OtlpClient;
use otlp_sdk::context::is_sdk_thread;
use otlp_sdk::logs::{LogBuilder, Logger, Severity};
use otlp_sdk::trace::SpanContext;
use otlp_semconv::attribute as semconv;
use std::collections::HashMap;
use std::fmt;
use std::sync::{PoisonError, RwLock};
use std::time::{Duration, UNIX_EPOCH};

/// The most targets that get an instrumentation scope of their own; records of further
/// targets share the scope `log` and carry their target as `log.target`. Targets are module
/// paths, a bounded set in a program; the cap is for a program that makes them up.
pub const MAX_TARGET_SCOPES: usize = 1024;

/// How long `flush` waits for the client's pipelines.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// The scope of records past [`MAX_TARGET_SCOPES`].
const SHARED_SCOPE: &str = "log";

/// A [`log::Log`] that exports records as OTLP log records (see the [crate] docs).
pub struct OtlpLogger {
    client: OtlpClient,
    /// One logger (scope) per target, made on first use.
    loggers: RwLock<HashMap<Box<str>, Logger>>,
    shared: Logger,
    max_level: LevelFilter,
    location: bool,
}

impl fmt::Debug for OtlpLogger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtlpLogger")
            .field("max_level", &self.max_level)
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

/// `install` found another logger installed.
#[derive(Debug)]
pub struct InstallError(());

impl fmt::Display for InstallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a `log` logger is already installed in this process")
    }
}

impl std::error::Error for InstallError {}

impl OtlpLogger {
    /// A logger exporting through `client`'s logs pipeline. Defaults: records of level `Info`
    /// and above, with their code location.
    pub fn new(client: &OtlpClient) -> OtlpLogger {
        OtlpLogger {
            client: client.clone(),
            loggers: RwLock::new(HashMap::new()),
            shared: client.logger(SHARED_SCOPE),
            max_level: LevelFilter::Info,
            location: true,
        }
    }

    /// Exports records of `level` and above (default `Info`); `LevelFilter::Off` exports none.
    pub fn with_max_level(mut self, level: LevelFilter) -> Self {
        self.max_level = level;
        self
    }

    /// Whether records carry `code.file.path` and `code.line.number` (default `true`).
    pub fn with_location(mut self, location: bool) -> Self {
        self.location = location;
        self
    }

    /// The most verbose level exported.
    pub fn max_level(&self) -> LevelFilter {
        self.max_level
    }

    /// Makes this the process's `log` logger and sets `log`'s maximum level to this logger's.
    /// Fails (and installs nothing) when a logger is already installed: `log` takes one per
    /// process.
    pub fn install(self) -> Result<(), InstallError> {
        let level = self.max_level;
        log::set_boxed_logger(Box::new(self)).map_err(|_| InstallError(()))?;
        log::set_max_level(level);
        Ok(())
    }

    /// The logger of `target`'s scope, and whether the record must name its target (the
    /// shared scope).
    fn logger(&self, target: &str) -> (Logger, bool) {
        let loggers = self.loggers.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(l) = loggers.get(target) {
            return (l.clone(), false);
        }
        let full = loggers.len() >= MAX_TARGET_SCOPES;
        drop(loggers);
        if full {
            return (self.shared.clone(), true);
        }
        let mut loggers = self.loggers.write().unwrap_or_else(PoisonError::into_inner);
        let logger = loggers
            .entry(target.into())
            .or_insert_with(|| self.client.logger(target.to_owned()))
            .clone();
        (logger, false)
    }
}

/// The OTLP severity of a `log` level: the first number of each OTLP range.
pub fn severity(level: Level) -> Severity {
    match level {
        Level::Error => Severity::Error,
        Level::Warn => Severity::Warn,
        Level::Info => Severity::Info,
        Level::Debug => Severity::Debug,
        Level::Trace => Severity::Trace,
    }
}

/// Records this logger leaves alone: see "No feedback loop" in the crate docs.
fn ignored(target: &str) -> bool {
    target.starts_with("otlp") || is_sdk_thread()
}

impl Log for OtlpLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= self.max_level && !ignored(metadata.target())
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let (logger, name_target) = self.logger(record.target());
        let mut attributes = Vec::with_capacity(record.key_values().count() + 3);
        let _ = record.key_values().visit(&mut Attributes(&mut attributes));
        if name_target {
            attributes.push(KeyValue::new("log.target", record.target().to_owned()));
        }
        if self.location {
            if let Some(file) = record.file() {
                attributes.push(KeyValue::new(semconv::CODE_FILE_PATH, file.to_owned()));
            }
            if let Some(line) = record.line() {
                attributes.push(KeyValue::new(semconv::CODE_LINE_NUMBER, i64::from(line)));
            }
        }
        let body = match record.args().as_str() {
            Some(s) => AnyValue::from(s),
            None => AnyValue::from(record.args().to_string()),
        };
        let now = UNIX_EPOCH + Duration::from_nanos(otlp_sdk::clock::now_unix_nanos());
        let built = LogBuilder::new()
            .with_severity(severity(record.level()))
            .with_body(body)
            .with_attributes(attributes)
            .with_timestamp(now)
            .with_observed_timestamp(now)
            .with_span_context(&SpanContext::current())
            .build();
        let _ = logger.emit(built);
    }

    fn flush(&self) {
        let _ = self.client.force_flush_blocking(FLUSH_TIMEOUT);
    }
}

/// Collects a record's key-values as typed attributes.
struct Attributes<'a>(&'a mut Vec<KeyValue>);

impl<'kvs> VisitSource<'kvs> for Attributes<'_> {
    fn visit_pair(&mut self, key: kv::Key<'kvs>, value: kv::Value<'kvs>) -> Result<(), kv::Error> {
        self.0
            .push(KeyValue::new(key.as_str().to_owned(), typed(&value)));
        Ok(())
    }
}

/// A `log` value as the OTLP value of its type.
fn typed(value: &kv::Value<'_>) -> AnyValue {
    if let Some(b) = value.to_bool() {
        AnyValue::from(b)
    } else if let Some(i) = value.to_i64() {
        AnyValue::from(i)
    } else if let Some(f) = value.to_f64().filter(|_| value.to_u64().is_none()) {
        AnyValue::from(f)
    } else if let Some(s) = value.to_borrowed_str() {
        AnyValue::from(s.to_owned())
    } else {
        // A u64 above i64::MAX, a char, an error, anything Display.
        AnyValue::from(value.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use otlp_proto::common::Value;

    #[test]
    fn levels_map_to_the_first_number_of_each_range() {
        let numbers: Vec<i32> = [
            Level::Trace,
            Level::Debug,
            Level::Info,
            Level::Warn,
            Level::Error,
        ]
        .into_iter()
        .map(|l| severity(l).number())
        .collect();
        assert_eq!(numbers, [1, 5, 9, 13, 17]);
    }

    #[test]
    fn values_keep_their_types() {
        let v = |value: kv::Value<'_>| typed(&value).value;
        assert_eq!(v(kv::Value::from(-3i64)), Some(Value::IntValue(-3)));
        assert_eq!(v(kv::Value::from(7u8)), Some(Value::IntValue(7)));
        assert_eq!(v(kv::Value::from(0.5f64)), Some(Value::DoubleValue(0.5)));
        assert_eq!(v(kv::Value::from(true)), Some(Value::BoolValue(true)));
        assert_eq!(
            v(kv::Value::from("a b")),
            Some(Value::StringValue("a b".into()))
        );
        assert_eq!(
            v(kv::Value::from(u64::MAX)),
            Some(Value::StringValue(u64::MAX.to_string().into()))
        );
        assert_eq!(
            v(kv::Value::from_display(&std::net::Ipv4Addr::LOCALHOST)),
            Some(Value::StringValue("127.0.0.1".into()))
        );
    }
}
