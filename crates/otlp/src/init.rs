//! One line to set up a process: [`init`], [`init_with`] and the [`Init`] builder.

use otlp_sdk::{ClientConfig, Error, OtlpClient};
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Set by the first [`Init::install`]: the global parts are set once per process.
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// Builds the client from the `OTEL_*` environment and sets the process up with it; see
/// [`Init`]. Keep the guard for the life of the program: dropping it flushes and shuts down.
///
/// ```no_run
/// fn main() -> Result<(), otlp::InitError> {
///     let _guard = otlp::init()?;
///     // ... the program: `tracing` spans and events, `log` records, `metrics` macros,
///     // `otlp::global::tracer(..)`, all exported.
///     Ok(())
/// }
/// ```
pub fn init() -> Result<InitGuard, InitError> {
    Init::new().install()
}

/// [`init`] with a client configuration of your own (which still reads the environment for
/// what it does not set: see [`ClientConfig`]).
pub fn init_with(config: ClientConfig) -> Result<InitGuard, InitError> {
    Init::new().with_config(config).install()
}

/// What [`init`] sets up, adjustable. [`Init::install`]:
///
/// 1. builds an [`OtlpClient`] from the configuration (default: [`ClientConfig::new`], the
///    `OTEL_*` environment) and makes it the global client ([`crate::global`]);
/// 2. with the `tracing` feature, makes a `tracing_subscriber` registry with the client's
///    [`OtlpLayer`](otlp_tracing::OtlpLayer) the global default subscriber: spans, and events
///    as log records correlated with them, under the instrumentation scope
///    [`with_scope`](Init::with_scope);
/// 3. with the `log` feature, installs the `log` bridge ([`OtlpLogger`](otlp_log::OtlpLogger),
///    records of `Info` and above unless [`with_log_level`](Init::with_log_level) says
///    otherwise);
/// 4. with the `metrics-rs` feature, installs the `metrics` crate recorder
///    ([`OtlpRecorder`](otlp_metrics_rs::OtlpRecorder));
///
/// and returns an [`InitGuard`] that flushes and shuts the client down when dropped.
///
/// Each global part can be set once per process, so `install` succeeds once: a second call
/// fails with [`InitErrorKind::AlreadyInitialized`]. A part already set by someone else fails
/// the call with an error that names it (`log` and `metrics` cannot be asked beforehand, so the
/// parts installed before the failing one stay installed); leave that part out (`with_*(false)`)
/// to keep yours.
///
/// # With your own `tracing` subscriber
///
/// Leave the subscriber out and add the guard's layer to yours:
///
/// ```no_run
/// # #[cfg(feature = "tracing")]
/// # fn demo() -> Result<(), otlp::InitError> {
/// use tracing_subscriber::layer::SubscriberExt;
/// use tracing_subscriber::util::SubscriberInitExt;
///
/// let guard = otlp::Init::new().with_tracing_subscriber(false).install()?;
/// tracing_subscriber::registry()
///     // .with(tracing_subscriber::fmt::layer()) and your other layers
///     .with(guard.tracing_layer())
///     .init();
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Init {
    config: Option<ClientConfig>,
    scope: String,
    shutdown_timeout: Duration,
    #[cfg(feature = "tracing")]
    tracing: bool,
    #[cfg(feature = "log")]
    log: Option<otlp_log::LevelFilter>,
    #[cfg(feature = "metrics-rs")]
    metrics_rs: bool,
}

impl Default for Init {
    fn default() -> Self {
        Init::new()
    }
}

impl Init {
    /// Everything the enabled features offer, the client from the environment, the scope
    /// `app`, a 5-second shutdown.
    pub fn new() -> Init {
        Init {
            config: None,
            scope: "app".to_owned(),
            shutdown_timeout: Duration::from_secs(5),
            #[cfg(feature = "tracing")]
            tracing: true,
            #[cfg(feature = "log")]
            log: Some(otlp_log::LevelFilter::Info),
            #[cfg(feature = "metrics-rs")]
            metrics_rs: true,
        }
    }

    /// The client's configuration (default [`ClientConfig::new`]).
    pub fn with_config(mut self, config: ClientConfig) -> Self {
        self.config = Some(config);
        self
    }

    /// The instrumentation scope of the `tracing` layer's spans, log records and measurements
    /// and of the `metrics` recorder's instruments (default `app`). `log` records are scoped by
    /// their target.
    pub fn with_scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = scope.into();
        self
    }

    /// How long the guard's drop waits for the last exports (default 5 s).
    pub fn with_shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// Whether to set the global `tracing` subscriber (default on). Off, add
    /// [`InitGuard::tracing_layer`] to your own.
    #[cfg(feature = "tracing")]
    pub fn with_tracing_subscriber(mut self, enabled: bool) -> Self {
        self.tracing = enabled;
        self
    }

    /// Whether to install the `log` bridge (default on).
    #[cfg(feature = "log")]
    pub fn with_log(mut self, enabled: bool) -> Self {
        self.log = enabled.then_some(self.log.unwrap_or(otlp_log::LevelFilter::Info));
        self
    }

    /// The most verbose `log` level exported (default `Info`); also `log`'s global maximum.
    #[cfg(feature = "log")]
    pub fn with_log_level(mut self, level: otlp_log::LevelFilter) -> Self {
        self.log = Some(level);
        self
    }

    /// Whether to install the `metrics` crate recorder (default on).
    #[cfg(feature = "metrics-rs")]
    pub fn with_metrics_recorder(mut self, enabled: bool) -> Self {
        self.metrics_rs = enabled;
        self
    }

    /// Sets the process up (see [`Init`]); once per process.
    pub fn install(self) -> Result<InitGuard, InitError> {
        if INSTALLED.swap(true, Ordering::AcqRel) {
            return Err(InitError::new(
                InitErrorKind::AlreadyInitialized,
                "otlp was already initialized in this process: the global client, subscriber, \
                 logger and recorder are set once; make more clients with OtlpClient::new",
            ));
        }
        // Until a global part is set, a failure leaves the process as it was: a later call
        // may try again.
        let nothing_set = |e: InitError| {
            INSTALLED.store(false, Ordering::Release);
            e
        };
        #[cfg(feature = "tracing")]
        if self.tracing && otlp_tracing::global_subscriber_is_set() {
            return Err(nothing_set(InitError::new(
                InitErrorKind::TracingSubscriber,
                "a global tracing subscriber is already set: call \
                 Init::with_tracing_subscriber(false) and add InitGuard::tracing_layer() to it",
            )));
        }
        let config = self.config.unwrap_or_default();
        let client = OtlpClient::new_blocking(config).map_err(|e| {
            nothing_set(
                InitError::new(InitErrorKind::Client, format!("the client: {e}")).with_source(e),
            )
        })?;
        let guard = InitGuard {
            client: client.clone(),
            scope: self.scope,
            timeout: self.shutdown_timeout,
        };
        #[cfg(feature = "tracing")]
        if self.tracing {
            guard.tracing_layer().install().map_err(|_| {
                InitError::new(
                    InitErrorKind::TracingSubscriber,
                    "a global tracing subscriber was set meanwhile",
                )
            })?;
        }
        #[cfg(feature = "log")]
        if let Some(level) = self.log {
            otlp_log::OtlpLogger::new(&client)
                .with_max_level(level)
                .install()
                .map_err(|_| {
                    InitError::new(
                        InitErrorKind::Logger,
                        "a `log` logger is already installed: call Init::with_log(false) to \
                         keep it",
                    )
                })?;
        }
        #[cfg(feature = "metrics-rs")]
        if self.metrics_rs {
            otlp_metrics_rs::OtlpRecorder::with_scope(&client, guard.scope.clone())
                .install()
                .map_err(|_| {
                    InitError::new(
                        InitErrorKind::MetricsRecorder,
                        "a `metrics` recorder is already installed: call \
                         Init::with_metrics_recorder(false) to keep it",
                    )
                })?;
        }
        let _ = otlp_sdk::global::set_client(client);
        Ok(guard)
    }
}

/// The client [`init`] set up; dropping it flushes and shuts the client down (within the
/// shutdown timeout), which ends the export of every signal.
#[derive(Debug)]
#[must_use = "dropping the guard shuts the client down"]
pub struct InitGuard {
    client: OtlpClient,
    scope: String,
    timeout: Duration,
}

impl InitGuard {
    /// The client (also [`crate::global::client`]).
    pub fn client(&self) -> &OtlpClient {
        &self.client
    }

    /// The instrumentation scope of the `tracing` layer and the `metrics` recorder.
    pub fn scope(&self) -> &str {
        &self.scope
    }

    /// A `tracing` layer exporting through the client under the guard's scope: for a
    /// subscriber of your own (see [`Init`]).
    #[cfg(feature = "tracing")]
    pub fn tracing_layer(&self) -> otlp_tracing::OtlpLayer {
        otlp_tracing::OtlpLayer::from_client(&self.client, &self.scope)
    }

    /// Flushes and shuts the client down now, saying how it went (the drop does the same and
    /// keeps quiet).
    pub fn shutdown(self) -> Result<(), Error> {
        self.client.shutdown_blocking(self.timeout)
    }
}

impl Drop for InitGuard {
    fn drop(&mut self) {
        let _ = self.client.shutdown_blocking(self.timeout);
    }
}

/// Why [`Init::install`] failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InitErrorKind {
    /// `init` already ran in this process.
    AlreadyInitialized,
    /// The client could not be built (its configuration, usually the environment).
    Client,
    /// A global `tracing` subscriber is already set.
    TracingSubscriber,
    /// A `log` logger is already installed.
    Logger,
    /// A `metrics` recorder is already installed.
    MetricsRecorder,
}

/// [`Init::install`] failed: what, and why.
#[derive(Debug)]
pub struct InitError {
    kind: InitErrorKind,
    message: String,
    source: Option<Error>,
}

impl InitError {
    fn new(kind: InitErrorKind, message: impl Into<String>) -> Self {
        InitError {
            kind,
            message: message.into(),
            source: None,
        }
    }

    fn with_source(mut self, source: Error) -> Self {
        self.source = Some(source);
        self
    }

    /// What failed.
    pub fn kind(&self) -> InitErrorKind {
        self.kind
    }
}

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "otlp::init: {}", self.message)
    }
}

impl std::error::Error for InitError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}
