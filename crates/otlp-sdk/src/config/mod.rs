//! [`ExporterConfig`]: where and how to export, set in code, read from the `OTEL_EXPORTER_OTLP_*`
//! environment variables, or both.
//!
//! # Precedence
//!
//! Every setting exists once for all signals and once per signal. For one signal, the first of
//! these that is set wins:
//!
//! 1. the per-signal value set in code (`with_signal_*`);
//! 2. the value set in code for all signals (`with_*`);
//! 3. the per-signal environment variable (`OTEL_EXPORTER_OTLP_TRACES_TIMEOUT`);
//! 4. the generic environment variable (`OTEL_EXPORTER_OTLP_TIMEOUT`);
//! 5. the default.
//!
//! Headers are merged by name rather than replaced: the environment's headers (the per-signal
//! variable if set, else the generic one) come first, and headers set in code replace those of the
//! same name.
//!
//! # Endpoints
//!
//! With OTLP/HTTP, an endpoint for all signals is a base URL to which the signal's path is appended
//! (`http://collector:4318` sends traces to `http://collector:4318/v1/traces`), while a per-signal
//! endpoint is used as it is. With gRPC the path of either is ignored: only the scheme, host and
//! port matter. A gRPC endpoint without a scheme (`collector:4317`) uses TLS unless
//! [`with_insecure`](ExporterConfig::with_insecure) is set. The defaults are
//! `http://localhost:4318` for OTLP/HTTP and `http://localhost:4317` for gRPC.
//!
//! ```
//! use otlp::{ExporterConfig, Protocol, Signal};
//! use std::time::Duration;
//!
//! let config = ExporterConfig::default()
//!     .with_protocol(Protocol::HttpProtobuf)
//!     .with_endpoint("https://collector.example.com:4318")
//!     .with_signal_endpoint(Signal::Logs, "https://logs.example.com/ingest")
//!     .with_header("x-api-key", "secret")
//!     .with_timeout(Duration::from_secs(5));
//!
//! let traces = config.resolve(Signal::Traces)?;
//! assert_eq!(traces.endpoint(), "https://collector.example.com:4318/v1/traces");
//! let logs = config.resolve(Signal::Logs)?;
//! assert_eq!(logs.endpoint(), "https://logs.example.com/ingest");
//! # Ok::<(), otlp::Error>(())
//! ```

pub(crate) mod env;
mod metrics;
mod resolve;

pub use metrics::{HistogramAggregation, TemporalityPreference};
pub use resolve::SignalConfig;
pub(crate) use resolve::{TlsFiles, redacted};

use crate::error::Error;
use crate::retry::RetryPolicy;
use otlp_proto::{Compression, Encoding, Signal};
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// The OTLP transport and encoding.
///
/// The default is [`Protocol::HttpProtobuf`], as the OpenTelemetry specification requires of SDKs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Protocol {
    /// OTLP/gRPC: protobuf over HTTP/2 (`grpc`). Needs the `grpc` feature.
    Grpc,
    /// OTLP/HTTP with binary protobuf bodies (`http/protobuf`). Needs the `http` feature.
    #[default]
    HttpProtobuf,
    /// OTLP/HTTP with OTLP/JSON bodies (`http/json`). Needs the `http` and `json` features.
    HttpJson,
    /// OTLP/Arrow (`otap`): traces, logs and metrics as Arrow IPC batches on long-lived gRPC
    /// streams (`ArrowTracesService/ArrowTraces` and its siblings), on the gRPC endpoint
    /// (default `http://localhost:4317`). Needs the `arrow` feature (`otlp`'s `arrow`).
    ///
    /// OTAP has no profiles: they go as OTLP/gRPC to the same endpoint. A server that answers
    /// the Arrow method with `UNIMPLEMENTED` (a plain OTLP receiver) gets that signal as
    /// OTLP/gRPC from then on. A pipeline's batches go on its streams; direct exports
    /// ([`Exporter::export`](crate::Exporter::export)) on streams of the exporter's own, which
    /// [`Exporter::shutdown`](crate::Exporter::shutdown) ends before the process exits.
    /// Streams: [`ExporterConfig::with_otap_streams`] and
    /// [`ExporterConfig::with_otap_max_stream_lifetime`].
    ///
    /// Needs the `grpc` feature (which `arrow` turns on).
    ///
    /// Compression: the configured one ([`ExporterConfig::with_compression`],
    /// `OTEL_EXPORTER_OTLP_COMPRESSION`) applies to the stream's gRPC messages, and then the
    /// Arrow IPC bodies go plain: one compression pass, not two. With none configured, the
    /// stream's messages go zstd where the build has the `zstd` feature (the Go exporter's
    /// default: fewer bytes than zstd IPC bodies, and less work for the Collector); with `none`
    /// configured, or without that feature, the messages go uncompressed and the IPC bodies
    /// are zstd. The unary fallback (OTLP/gRPC) uses the configured compression only, since a
    /// plain OTLP server may lack zstd.
    Otap,
}

impl Protocol {
    /// The name used by `OTEL_EXPORTER_OTLP_PROTOCOL`: `grpc`, `http/protobuf`, `http/json`
    /// or `otap`.
    pub const fn name(self) -> &'static str {
        match self {
            Protocol::Grpc => "grpc",
            Protocol::HttpProtobuf => "http/protobuf",
            Protocol::HttpJson => "http/json",
            Protocol::Otap => "otap",
        }
    }

    /// How request bodies are encoded (before OTAP turns a batch into Arrow: protobuf).
    pub const fn encoding(self) -> Encoding {
        match self {
            Protocol::Grpc | Protocol::HttpProtobuf | Protocol::Otap => Encoding::Protobuf,
            Protocol::HttpJson => Encoding::Json,
        }
    }

    /// The endpoint used when none is configured.
    pub const fn default_endpoint(self) -> &'static str {
        match self {
            Protocol::Grpc | Protocol::Otap => "http://localhost:4317",
            Protocol::HttpProtobuf | Protocol::HttpJson => "http://localhost:4318",
        }
    }

    /// Whether it is carried by gRPC over HTTP/2 (OTLP/gRPC and OTAP).
    pub const fn is_grpc(self) -> bool {
        matches!(self, Protocol::Grpc | Protocol::Otap)
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Protocol {
    type Err = Error;

    /// Parses `grpc`, `http/protobuf`, `http/json` or `otap` (ASCII case and surrounding
    /// blanks ignored).
    fn from_str(s: &str) -> Result<Self, Error> {
        match s.trim().to_ascii_lowercase().as_str() {
            "grpc" => Ok(Protocol::Grpc),
            "http/protobuf" => Ok(Protocol::HttpProtobuf),
            "http/json" => Ok(Protocol::HttpJson),
            "otap" => Ok(Protocol::Otap),
            _ => Err(Error::config(format!(
                "unknown protocol {s:?} (expected grpc, http/protobuf, http/json or otap)"
            ))),
        }
    }
}

/// A value and where it came from, so that errors found later can name the variable.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Sourced<T> {
    pub(crate) value: T,
    /// The environment variable it was read from; `None` when set in code.
    pub(crate) var: Option<String>,
}

impl<T> Sourced<T> {
    fn code(value: T) -> Self {
        Sourced { value, var: None }
    }

    /// `OTEL_EXPORTER_OTLP_ENDPOINT="x"` or `endpoint "x"`, for error messages.
    pub(crate) fn describe(&self, what: &str) -> String
    where
        T: fmt::Debug,
    {
        match &self.var {
            Some(var) => format!("{var}={:?}", self.value),
            None => format!("{what} {:?}", self.value),
        }
    }
}

/// `url` with any user name and password in its authority (`user:pass@`) shown as
/// `<redacted>@`: they are credentials, and `Debug` output and errors end up in logs.
pub(crate) fn redact_userinfo(url: &str) -> std::borrow::Cow<'_, str> {
    let start = url.find("://").map_or(0, |i| i + 3);
    let end = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| start + i);
    match url[start..end].rfind('@') {
        Some(at) => format!("{}<redacted>{}", &url[..start], &url[start + at..]).into(),
        None => url.into(),
    }
}

/// An endpoint for `Debug` output and errors, credentials redacted.
pub(crate) struct RedactedUrl<'a>(pub(crate) &'a Sourced<String>);

impl fmt::Debug for RedactedUrl<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sourced")
            .field("value", &redact_userinfo(&self.0.value))
            .field("var", &self.0.var)
            .finish()
    }
}

impl RedactedUrl<'_> {
    /// Like [`Sourced::describe`], credentials redacted.
    pub(crate) fn describe(&self, what: &str) -> String {
        let value = redact_userinfo(&self.0.value);
        match &self.0.var {
            Some(var) => format!("{var}={value:?}"),
            None => format!("{what} {value:?}"),
        }
    }
}

/// Header names for `Debug` output, each value shown as `<redacted>`: header values are often
/// credentials (`authorization`, API keys), and `Debug` output ends up in logs.
pub(crate) struct RedactedHeaders<'a>(pub(crate) Vec<&'a str>);

impl fmt::Debug for RedactedHeaders<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|name| (name, format_args!("<redacted>"))))
            .finish()
    }
}

/// The settings that exist both for all signals and per signal. `None` means not set here.
/// `Debug` shows header names only.
#[derive(Clone, Default, PartialEq)]
pub(crate) struct Settings {
    pub(crate) endpoint: Option<Sourced<String>>,
    pub(crate) protocol: Option<Protocol>,
    pub(crate) compression: Option<Compression>,
    pub(crate) headers: Option<Vec<(String, String)>>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) insecure: Option<bool>,
    pub(crate) certificate: Option<Sourced<PathBuf>>,
    pub(crate) client_certificate: Option<Sourced<PathBuf>>,
    pub(crate) client_key: Option<Sourced<PathBuf>>,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers = self
            .headers
            .as_ref()
            .map(|h| RedactedHeaders(h.iter().map(|(name, _)| name.as_str()).collect()));
        f.debug_struct("Settings")
            .field("endpoint", &self.endpoint.as_ref().map(RedactedUrl))
            .field("protocol", &self.protocol)
            .field("compression", &self.compression)
            .field("headers", &headers)
            .field("timeout", &self.timeout)
            .field("insecure", &self.insecure)
            .field("certificate", &self.certificate)
            .field("client_certificate", &self.client_certificate)
            .field("client_key", &self.client_key)
            .finish()
    }
}

/// One source of settings (code or environment): for all signals, and per signal.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Layer {
    pub(crate) generic: Settings,
    pub(crate) signals: [Settings; 4],
    pub(crate) disabled: Option<bool>,
    pub(crate) temporality: Option<TemporalityPreference>,
    pub(crate) histogram: Option<HistogramAggregation>,
}

impl Layer {
    fn signal_mut(&mut self, signal: Signal) -> &mut Settings {
        &mut self.signals[signal.index()]
    }
}

/// The configuration of an [`Exporter`](crate::Exporter).
///
/// Build it in code with the `with_*` methods, read it from the environment with
/// [`from_env`](ExporterConfig::from_env), or both; values set in code win over the environment
/// whatever the order of the calls (see the [module docs](self) for the precedence rules).
/// [`Default`] reads nothing from the environment.
///
/// The environment variables are those of the OpenTelemetry specification, each generic
/// (`OTEL_EXPORTER_OTLP_X`) and per signal (`OTEL_EXPORTER_OTLP_{TRACES,METRICS,LOGS,PROFILES}_X`):
/// `ENDPOINT`, `PROTOCOL`, `HEADERS`, `TIMEOUT`, `COMPRESSION`, `INSECURE`, `CERTIFICATE`,
/// `CLIENT_KEY` and `CLIENT_CERTIFICATE`; and `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`,
/// `OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION` and `OTEL_SDK_DISABLED`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExporterConfig {
    code: Layer,
    env: Layer,
    retry: RetryPolicy,
    otap: OtapStreams,
}

/// How [`Protocol::Otap`] uses its gRPC streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OtapStreams {
    /// Streams per signal, at least 1.
    pub(crate) streams: usize,
    /// How long a stream takes new batches before it is closed (its acks drained) and replaced.
    pub(crate) max_lifetime: Duration,
}

impl Default for OtapStreams {
    fn default() -> Self {
        OtapStreams {
            streams: 1,
            // The Go exporter's `max_stream_lifetime` default: below the Collector's keepalive
            // `max_connection_age_grace`.
            max_lifetime: Duration::from_secs(30),
        }
    }
}

impl ExporterConfig {
    /// The default configuration: OTLP/HTTP with protobuf to `http://localhost:4318`, no
    /// compression, a 10 s timeout. Same as [`Default`]; reads nothing from the environment.
    pub fn new() -> Self {
        ExporterConfig::default()
    }

    /// The default configuration overlaid with the `OTEL_EXPORTER_OTLP_*` environment variables
    /// and `OTEL_SDK_DISABLED`.
    ///
    /// Empty variables count as unset. A malformed value is an error that names the variable and
    /// the value, e.g. `OTEL_EXPORTER_OTLP_TIMEOUT="ten": expected milliseconds`; for the
    /// `HEADERS` variables, the variable and what is wrong, never the value (it holds
    /// credentials).
    pub fn from_env() -> Result<Self, Error> {
        ExporterConfig::default().with_env()
    }

    /// Reads the environment variables into this configuration. Values already set in code keep
    /// precedence, and so do values set in code later.
    pub fn with_env(self) -> Result<Self, Error> {
        self.with_env_source(&|name| std::env::var(name).ok())
    }

    /// Like [`with_env`](ExporterConfig::with_env), with the variables looked up through `lookup`
    /// instead of the process environment (for tests, or configuration kept elsewhere).
    ///
    /// ```
    /// use otlp::{ExporterConfig, Protocol, Signal};
    /// use std::collections::HashMap;
    ///
    /// let vars = HashMap::from([
    ///     ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
    ///     ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://traces:4317"),
    /// ]);
    /// let config = ExporterConfig::default()
    ///     .with_env_source(&|name| vars.get(name).map(|v| v.to_string()))?;
    /// assert_eq!(config.resolve(Signal::Traces)?.protocol(), Protocol::Grpc);
    /// assert_eq!(
    ///     config.resolve(Signal::Traces)?.endpoint(),
    ///     "http://traces:4317/opentelemetry.proto.collector.trace.v1.TraceService/Export"
    /// );
    /// # Ok::<(), otlp::Error>(())
    /// ```
    pub fn with_env_source(
        mut self,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, Error> {
        self.env = env::read(lookup)?;
        Ok(self)
    }

    /// The endpoint for all signals. Default: `http://localhost:4318` (OTLP/HTTP) or
    /// `http://localhost:4317` (gRPC). Env: `OTEL_EXPORTER_OTLP_ENDPOINT`.
    ///
    /// For OTLP/HTTP this is a base URL: the signal's path (`/v1/traces`, ...) is appended to it.
    pub fn with_endpoint(mut self, url: impl Into<String>) -> Self {
        self.code.generic.endpoint = Some(Sourced::code(url.into()));
        self
    }

    /// The endpoint for one signal, used as it is (no path appended). Default: the endpoint for
    /// all signals. Env: `OTEL_EXPORTER_OTLP_{SIGNAL}_ENDPOINT`.
    pub fn with_signal_endpoint(mut self, signal: Signal, url: impl Into<String>) -> Self {
        self.code.signal_mut(signal).endpoint = Some(Sourced::code(url.into()));
        self
    }

    /// The protocol for all signals. Default: [`Protocol::HttpProtobuf`].
    /// Env: `OTEL_EXPORTER_OTLP_PROTOCOL`.
    pub fn with_protocol(mut self, protocol: Protocol) -> Self {
        self.code.generic.protocol = Some(protocol);
        self
    }

    /// The protocol for one signal. Default: the protocol for all signals.
    /// Env: `OTEL_EXPORTER_OTLP_{SIGNAL}_PROTOCOL`.
    pub fn with_signal_protocol(mut self, signal: Signal, protocol: Protocol) -> Self {
        self.code.signal_mut(signal).protocol = Some(protocol);
        self
    }

    /// The request compression for all signals. Default: [`Compression::None`].
    /// Env: `OTEL_EXPORTER_OTLP_COMPRESSION` (`gzip`, `zstd` or `none`).
    pub fn with_compression(mut self, compression: Compression) -> Self {
        self.code.generic.compression = Some(compression);
        self
    }

    /// The request compression for one signal. Default: the compression for all signals.
    /// Env: `OTEL_EXPORTER_OTLP_{SIGNAL}_COMPRESSION`.
    pub fn with_signal_compression(mut self, signal: Signal, compression: Compression) -> Self {
        self.code.signal_mut(signal).compression = Some(compression);
        self
    }

    /// Adds a header (gRPC metadata) sent with every request. Default: none.
    /// Env: `OTEL_EXPORTER_OTLP_HEADERS` (`key=value,key2=value2`, percent-encoded values).
    ///
    /// Names and values are checked by [`Exporter::new`](crate::Exporter::new).
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        push_header(&mut self.code.generic, name.into(), value.into());
        self
    }

    /// Adds several headers; see [`with_header`](ExporterConfig::with_header).
    pub fn with_headers<K, V>(mut self, headers: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        for (k, v) in headers {
            push_header(&mut self.code.generic, k.into(), v.into());
        }
        self
    }

    /// Adds a header sent with the requests of one signal only.
    /// Env: `OTEL_EXPORTER_OTLP_{SIGNAL}_HEADERS`.
    pub fn with_signal_header(
        mut self,
        signal: Signal,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Self {
        push_header(self.code.signal_mut(signal), name.into(), value.into());
        self
    }

    /// How long one export may take, retries included, for all signals. Default: 10 s.
    /// Env: `OTEL_EXPORTER_OTLP_TIMEOUT` (milliseconds).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.code.generic.timeout = Some(timeout);
        self
    }

    /// How long one export of one signal may take. Default: the timeout for all signals.
    /// Env: `OTEL_EXPORTER_OTLP_{SIGNAL}_TIMEOUT` (milliseconds).
    pub fn with_signal_timeout(mut self, signal: Signal, timeout: Duration) -> Self {
        self.code.signal_mut(signal).timeout = Some(timeout);
        self
    }

    /// Whether a gRPC endpoint given without a scheme (`collector:4317`) is reached without TLS.
    /// Default: `false`. Env: `OTEL_EXPORTER_OTLP_INSECURE`.
    ///
    /// An endpoint's `http://` or `https://` scheme always wins over this setting.
    pub fn with_insecure(mut self, insecure: bool) -> Self {
        self.code.generic.insecure = Some(insecure);
        self
    }

    /// A PEM file of the certificate authorities trusted to verify the server, instead of the
    /// system's root certificates. Default: the system's roots. Env: `OTEL_EXPORTER_OTLP_CERTIFICATE`.
    pub fn with_certificate(mut self, path: impl Into<PathBuf>) -> Self {
        self.code.generic.certificate = Some(Sourced::code(path.into()));
        self
    }

    /// A PEM file of the client certificate chain presented to the server (mutual TLS); needs
    /// [`with_client_key`](ExporterConfig::with_client_key). Default: none.
    /// Env: `OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE`.
    pub fn with_client_certificate(mut self, path: impl Into<PathBuf>) -> Self {
        self.code.generic.client_certificate = Some(Sourced::code(path.into()));
        self
    }

    /// A PEM file of the private key of the client certificate (PKCS#8, PKCS#1 or SEC1).
    /// Default: none. Env: `OTEL_EXPORTER_OTLP_CLIENT_KEY`.
    pub fn with_client_key(mut self, path: impl Into<PathBuf>) -> Self {
        self.code.generic.client_key = Some(Sourced::code(path.into()));
        self
    }

    /// How failed exports are retried. Default: [`RetryPolicy::default`]. No environment variable.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// How many gRPC streams [`Protocol::Otap`] opens per signal. Default: 1 (each stream has
    /// its own Arrow dictionaries: one stream compresses best, and carries several batches
    /// awaiting their acknowledgement at once). At least 1. No environment variable.
    pub fn with_otap_streams(mut self, streams: usize) -> Self {
        self.otap.streams = streams.max(1);
        self
    }

    /// How long a [`Protocol::Otap`] stream takes new batches; then it is closed once its
    /// batches are acknowledged, and a new stream (with fresh Arrow state) takes its place, as
    /// the Go exporter's `max_stream_lifetime`. Default: 30 s; keep it below the receiver's
    /// `max_connection_age_grace`. No environment variable.
    pub fn with_otap_max_stream_lifetime(mut self, lifetime: Duration) -> Self {
        self.otap.max_lifetime = lifetime;
        self
    }

    /// Disables exporting: every export succeeds at once without sending anything, and says so
    /// ([`ExportOutcome::is_disabled`](crate::ExportOutcome::is_disabled)). Default: `false`.
    /// Env: `OTEL_SDK_DISABLED`.
    pub fn with_disabled(mut self, disabled: bool) -> Self {
        self.code.disabled = Some(disabled);
        self
    }

    /// The temporality the metrics SDK should prefer. Not used by the exporter itself.
    /// Default: [`TemporalityPreference::Cumulative`].
    /// Env: `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`.
    pub fn with_temporality_preference(mut self, preference: TemporalityPreference) -> Self {
        self.code.temporality = Some(preference);
        self
    }

    /// The default aggregation of histogram instruments for the metrics SDK. Not used by the
    /// exporter itself. Default: [`HistogramAggregation::ExplicitBucket`].
    /// Env: `OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION`.
    pub fn with_histogram_aggregation(mut self, aggregation: HistogramAggregation) -> Self {
        self.code.histogram = Some(aggregation);
        self
    }

    /// Whether exporting is disabled (in code, or by `OTEL_SDK_DISABLED=true`).
    pub fn is_disabled(&self) -> bool {
        self.code.disabled.or(self.env.disabled).unwrap_or(false)
    }

    /// The retry policy.
    pub fn retry(&self) -> &RetryPolicy {
        &self.retry
    }

    /// The [`Protocol::Otap`] streams per signal.
    pub fn otap_streams(&self) -> usize {
        self.otap.streams
    }

    /// The [`Protocol::Otap`] stream lifetime.
    pub fn otap_max_stream_lifetime(&self) -> Duration {
        self.otap.max_lifetime
    }

    pub(crate) fn otap(&self) -> OtapStreams {
        self.otap
    }

    /// The metrics temporality preference.
    pub fn temporality_preference(&self) -> TemporalityPreference {
        self.code
            .temporality
            .or(self.env.temporality)
            .unwrap_or_default()
    }

    /// The default histogram aggregation.
    pub fn histogram_aggregation(&self) -> HistogramAggregation {
        self.code
            .histogram
            .or(self.env.histogram)
            .unwrap_or_default()
    }

    /// The effective configuration of one signal, with every precedence rule applied and the
    /// endpoint resolved to the URL requests go to.
    ///
    /// Fails when a value set in code is invalid (an endpoint that is not a URL, a header name
    /// that is not a valid HTTP header name, a client certificate without its key).
    pub fn resolve(&self, signal: Signal) -> Result<SignalConfig, Error> {
        resolve::resolve(&self.code, &self.env, signal)
    }
}

fn push_header(settings: &mut Settings, name: String, value: String) {
    settings
        .headers
        .get_or_insert_with(Vec::new)
        .push((name, value));
}
