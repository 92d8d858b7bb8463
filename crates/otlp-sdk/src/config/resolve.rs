//! [`SignalConfig`]: the settings of one signal once every precedence rule is applied, and the
//! endpoint resolution rules of the specification.

use super::{Layer, Protocol, RedactedHeaders, Settings, Sourced};
use crate::error::Error;
use http::uri::{PathAndQuery, Scheme, Uri};
use http::{HeaderMap, HeaderName, HeaderValue};
use otlp_proto::{Compression, Signal};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The default export timeout, from the specification.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The effective configuration of one signal: see [`ExporterConfig::resolve`](super::ExporterConfig::resolve).
///
/// `Debug` shows header names, not their values.
#[derive(Clone, PartialEq)]
pub struct SignalConfig {
    signal: Signal,
    protocol: Protocol,
    endpoint: Uri,
    compression: Compression,
    /// Whether a compression was configured (in code or the environment), rather than
    /// [`compression`](Self::compression) being the default.
    pub(crate) compression_configured: bool,
    headers: HeaderMap,
    timeout: Duration,
    pub(crate) tls: TlsFiles,
}

impl fmt::Debug for SignalConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignalConfig")
            .field("signal", &self.signal)
            .field("protocol", &self.protocol)
            .field("endpoint", &self.endpoint)
            .field("compression", &self.compression)
            .field("headers", &redacted(&self.headers))
            .field("timeout", &self.timeout)
            .field("tls", &self.tls)
            .finish()
    }
}

/// The names of `headers`, for `Debug`.
pub(crate) fn redacted(headers: &HeaderMap) -> RedactedHeaders<'_> {
    RedactedHeaders(headers.keys().map(HeaderName::as_str).collect())
}

/// The certificate files of one signal; equal values share a TLS configuration and a client.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct TlsFiles {
    pub(crate) ca: Option<Sourced<PathBuf>>,
    pub(crate) cert: Option<Sourced<PathBuf>>,
    pub(crate) key: Option<Sourced<PathBuf>>,
}

impl SignalConfig {
    /// The signal.
    pub fn signal(&self) -> Signal {
        self.signal
    }

    /// The protocol.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// The URL requests are sent to: with OTLP/HTTP the full URL including the signal path, with
    /// gRPC the scheme and authority followed by the method path.
    pub fn endpoint(&self) -> &Uri {
        &self.endpoint
    }

    /// Whether requests use TLS (an `https` endpoint).
    pub fn is_tls(&self) -> bool {
        self.endpoint.scheme() == Some(&Scheme::HTTPS)
    }

    /// The request compression.
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// The configured headers (gRPC metadata), environment and code merged.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// How long one export may take, retries included.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The PEM file of trusted certificate authorities, if not the system's roots.
    pub fn certificate(&self) -> Option<&Path> {
        self.tls.ca.as_ref().map(|s| s.value.as_path())
    }

    /// The PEM file of the client certificate chain (mutual TLS).
    pub fn client_certificate(&self) -> Option<&Path> {
        self.tls.cert.as_ref().map(|s| s.value.as_path())
    }

    /// The PEM file of the client key (mutual TLS).
    pub fn client_key(&self) -> Option<&Path> {
        self.tls.key.as_ref().map(|s| s.value.as_path())
    }
}

pub(super) fn resolve(code: &Layer, env: &Layer, signal: Signal) -> Result<SignalConfig, Error> {
    let i = signal.index();
    // Highest precedence first; see the module docs of `config`.
    let order = [
        &code.signals[i],
        &code.generic,
        &env.signals[i],
        &env.generic,
    ];
    fn first<T: Clone>(order: &[&Settings; 4], f: impl Fn(&Settings) -> Option<&T>) -> Option<T> {
        order.iter().find_map(|s| f(s)).cloned()
    }
    let protocol = first(&order, |s| s.protocol.as_ref()).unwrap_or_default();
    let insecure = first(&order, |s| s.insecure.as_ref()).unwrap_or(false);
    // Layers 0 and 2 are per-signal: their endpoint is used as it is.
    let endpoint = order
        .iter()
        .enumerate()
        .find_map(|(n, s)| s.endpoint.as_ref().map(|e| (e, n % 2 == 0)));
    let tls = TlsFiles {
        ca: first(&order, |s| s.certificate.as_ref()),
        cert: first(&order, |s| s.client_certificate.as_ref()),
        key: first(&order, |s| s.client_key.as_ref()),
    };
    match (&tls.cert, &tls.key) {
        (Some(c), None) => {
            return Err(Error::config(format!(
                "{} is set without a client key",
                c.describe("client certificate")
            )));
        }
        (None, Some(k)) => {
            return Err(Error::config(format!(
                "{} is set without a client certificate",
                k.describe("client key")
            )));
        }
        _ => {}
    }
    let compression = first(&order, |s| s.compression.as_ref());
    Ok(SignalConfig {
        signal,
        protocol,
        endpoint: endpoint_uri(protocol, signal, endpoint, insecure)?,
        compression: compression.unwrap_or_default(),
        compression_configured: compression.is_some(),
        headers: merge_headers(code, env, i)?,
        timeout: first(&order, |s| s.timeout.as_ref()).unwrap_or(DEFAULT_TIMEOUT),
        tls,
    })
}

/// Applies the specification's endpoint rules; see the module docs of `config`.
fn endpoint_uri(
    protocol: Protocol,
    signal: Signal,
    endpoint: Option<(&Sourced<String>, bool)>,
    insecure: bool,
) -> Result<Uri, Error> {
    let default = Sourced {
        value: protocol.default_endpoint().to_owned(),
        var: None,
    };
    let (raw, per_signal) = endpoint.unwrap_or((&default, false));
    let bad = |why: &str| {
        Error::config(format!(
            "{}: {why}",
            super::RedactedUrl(raw).describe("endpoint")
        ))
    };
    let uri: Uri = raw.value.trim().parse().map_err(|_| bad("not a URL"))?;
    if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
        // Not sent as credentials by OTLP exporters, and shown wherever the endpoint is.
        return Err(bad(
            "a user name or password in the URL is not supported; send credentials in a \
             header (OTEL_EXPORTER_OTLP_HEADERS, or with_header)",
        ));
    }
    let scheme = match uri.scheme_str() {
        Some("http") => Scheme::HTTP,
        Some("https") => Scheme::HTTPS,
        // The specification's `insecure` only matters for a gRPC endpoint without a scheme.
        None if protocol.is_grpc() && !insecure => Scheme::HTTPS,
        None if protocol.is_grpc() => Scheme::HTTP,
        None => return Err(bad("expected a URL starting with http:// or https://")),
        Some(other) => {
            return Err(bad(&format!(
                "unsupported scheme {other:?} (expected http or https)"
            )));
        }
    };
    let Some(authority) = uri.authority().filter(|a| !a.host().is_empty()) else {
        return Err(bad("the URL has no host"));
    };
    let path = match protocol {
        // OTAP: the OTLP path, for the unary fallback; streams name their own method.
        Protocol::Grpc | Protocol::Otap => PathAndQuery::from_static(signal.grpc_path()),
        Protocol::HttpProtobuf | Protocol::HttpJson if per_signal => uri
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/")),
        Protocol::HttpProtobuf | Protocol::HttpJson => {
            let base = uri.path().trim_end_matches('/');
            let mut p = format!("{base}{}", signal.http_path());
            if let Some(q) = uri.query() {
                p.push('?');
                p.push_str(q);
            }
            PathAndQuery::try_from(p).map_err(|_| bad("not a URL"))?
        }
    };
    Uri::builder()
        .scheme(scheme)
        .authority(authority.clone())
        .path_and_query(path)
        .build()
        .map_err(|_| bad("not a URL"))
}

/// The environment's headers (per-signal variable if set, else the generic one), then those set
/// in code for all signals, then those set in code for this signal; later ones replace earlier
/// ones of the same name.
fn merge_headers(code: &Layer, env: &Layer, i: usize) -> Result<HeaderMap, Error> {
    let env_headers = env.signals[i]
        .headers
        .as_ref()
        .or(env.generic.headers.as_ref());
    let layers = [
        env_headers,
        code.generic.headers.as_ref(),
        code.signals[i].headers.as_ref(),
    ];
    let mut map = HeaderMap::new();
    for (name, value) in layers.into_iter().flatten().flatten() {
        let n = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| Error::config(format!("header {name:?}: not a valid header name")))?;
        let v = HeaderValue::from_str(value)
            .map_err(|_| Error::config(format!("header {name:?}: not a valid header value")))?;
        map.insert(n, v);
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use crate::config::{ExporterConfig, Protocol};
    use otlp_proto::{Compression, Signal};
    use std::collections::HashMap;
    use std::time::Duration;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    fn with_env(config: ExporterConfig, vars: &[(&str, &str)]) -> ExporterConfig {
        config
            .with_env_source(&env(vars))
            .expect("valid environment")
    }

    fn endpoint(config: &ExporterConfig, signal: Signal) -> String {
        config
            .resolve(signal)
            .expect("resolves")
            .endpoint()
            .to_string()
    }

    #[test]
    fn credentials_in_urls_are_redacted_and_nothing_else() {
        use super::super::redact_userinfo;
        for (url, shown) in [
            (
                "https://u:p@host:4318/v1",
                "https://<redacted>@host:4318/v1",
            ),
            ("http://token@host", "http://<redacted>@host"),
            ("u:p@host:4317", "<redacted>@host:4317"),
            ("http://host/path@x?q=a@b", "http://host/path@x?q=a@b"),
            ("http://host:4318", "http://host:4318"),
        ] {
            assert_eq!(redact_userinfo(url), shown, "{url}");
        }
    }

    #[test]
    fn defaults_follow_the_specification() {
        let config = ExporterConfig::default();
        let traces = config.resolve(Signal::Traces).expect("resolves");
        assert_eq!(traces.protocol(), Protocol::HttpProtobuf);
        assert_eq!(traces.endpoint(), "http://localhost:4318/v1/traces");
        assert_eq!(traces.timeout(), Duration::from_secs(10));
        assert_eq!(traces.compression(), Compression::None);
        assert!(traces.headers().is_empty() && !traces.is_tls());
        assert_eq!(
            endpoint(&config, Signal::Profiles),
            "http://localhost:4318/v1development/profiles"
        );
        let grpc = ExporterConfig::default().with_protocol(Protocol::Grpc);
        assert_eq!(
            endpoint(&grpc, Signal::Metrics),
            "http://localhost:4317/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"
        );
    }

    #[test]
    fn generic_http_endpoints_are_bases_and_per_signal_ones_are_used_as_is() {
        for base in ["http://c:4318", "http://c:4318/"] {
            let c = ExporterConfig::default().with_endpoint(base);
            assert_eq!(endpoint(&c, Signal::Logs), "http://c:4318/v1/logs");
        }
        let c = ExporterConfig::default().with_endpoint("https://c/otlp/?tenant=a");
        assert_eq!(
            endpoint(&c, Signal::Traces),
            "https://c/otlp/v1/traces?tenant=a"
        );
        let c = ExporterConfig::default()
            .with_endpoint("http://c:4318/otlp")
            .with_signal_endpoint(Signal::Metrics, "http://m:9000/custom/path")
            .with_signal_endpoint(Signal::Logs, "http://l:9000");
        assert_eq!(endpoint(&c, Signal::Traces), "http://c:4318/otlp/v1/traces");
        assert_eq!(endpoint(&c, Signal::Metrics), "http://m:9000/custom/path");
        assert_eq!(endpoint(&c, Signal::Logs), "http://l:9000/");
        // The same rules apply to the environment variables.
        let c = with_env(
            ExporterConfig::default(),
            &[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318/otlp/"),
                ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "http://l:1/logs-in"),
            ],
        );
        assert_eq!(
            endpoint(&c, Signal::Profiles),
            "http://c:4318/otlp/v1development/profiles"
        );
        assert_eq!(endpoint(&c, Signal::Logs), "http://l:1/logs-in");
    }

    #[test]
    fn grpc_endpoints_ignore_the_path_and_insecure_picks_a_missing_scheme() {
        let path = Signal::Traces.grpc_path();
        let c = ExporterConfig::default()
            .with_protocol(Protocol::Grpc)
            .with_endpoint("http://c:4317/ignored/");
        assert_eq!(endpoint(&c, Signal::Traces), format!("http://c:4317{path}"));
        let c = ExporterConfig::default()
            .with_protocol(Protocol::Grpc)
            .with_signal_endpoint(Signal::Traces, "https://t:443/x");
        assert_eq!(endpoint(&c, Signal::Traces), format!("https://t:443{path}"));
        let c = ExporterConfig::default()
            .with_protocol(Protocol::Grpc)
            .with_endpoint("c:4317");
        assert_eq!(
            endpoint(&c, Signal::Traces),
            format!("https://c:4317{path}")
        );
        assert!(c.resolve(Signal::Traces).expect("resolves").is_tls());
        let c = c.with_insecure(true);
        assert_eq!(endpoint(&c, Signal::Traces), format!("http://c:4317{path}"));
        // The scheme wins over `insecure`.
        let c = with_env(
            ExporterConfig::default(),
            &[
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://c:4317"),
                ("OTEL_EXPORTER_OTLP_INSECURE", "true"),
            ],
        );
        assert_eq!(
            endpoint(&c, Signal::Traces),
            format!("https://c:4317{path}")
        );
    }

    #[test]
    fn per_signal_env_beats_generic_env() {
        let c = with_env(
            ExporterConfig::default(),
            &[
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
                ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc"),
                ("OTEL_EXPORTER_OTLP_TIMEOUT", "1000"),
                ("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "2000"),
                ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
                ("OTEL_EXPORTER_OTLP_LOGS_COMPRESSION", "zstd"),
                ("OTEL_EXPORTER_OTLP_HEADERS", "a=generic,b=generic"),
                ("OTEL_EXPORTER_OTLP_PROFILES_HEADERS", "a=profiles"),
                ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/generic.pem"),
                ("OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE", "/logs.pem"),
            ],
        );
        let r = |s| c.resolve(s).expect("resolves");
        assert_eq!(r(Signal::Traces).protocol(), Protocol::Grpc);
        assert_eq!(r(Signal::Metrics).protocol(), Protocol::HttpJson);
        assert_eq!(r(Signal::Traces).timeout(), Duration::from_secs(1));
        assert_eq!(r(Signal::Metrics).timeout(), Duration::from_secs(2));
        assert_eq!(r(Signal::Traces).compression(), Compression::Gzip);
        assert_eq!(r(Signal::Logs).compression(), Compression::Zstd);
        assert_eq!(r(Signal::Traces).headers().len(), 2);
        // A per-signal HEADERS variable replaces the generic one.
        let profiles = r(Signal::Profiles);
        assert_eq!(profiles.headers()["a"], "profiles");
        assert!(profiles.headers().get("b").is_none());
        assert_eq!(r(Signal::Logs).certificate(), Some("/logs.pem".as_ref()));
        assert_eq!(
            r(Signal::Traces).certificate(),
            Some("/generic.pem".as_ref())
        );
    }

    #[test]
    fn code_beats_env_whatever_the_call_order() {
        let vars = [
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://env-traces:1"),
            ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "1"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "a=env,b=env"),
            ("OTEL_SDK_DISABLED", "true"),
        ];
        let in_code = |c: ExporterConfig| {
            c.with_protocol(Protocol::HttpProtobuf)
                .with_endpoint("http://code:4318")
                .with_timeout(Duration::from_secs(3))
                .with_header("a", "code")
                .with_disabled(false)
        };
        let before = in_code(with_env(ExporterConfig::default(), &vars));
        let after = with_env(in_code(ExporterConfig::default()), &vars);
        assert_eq!(before, after);
        let traces = before.resolve(Signal::Traces).expect("resolves");
        assert_eq!(traces.protocol(), Protocol::HttpProtobuf);
        // The generic endpoint in code beats the per-signal one from the environment.
        assert_eq!(traces.endpoint(), "http://code:4318/v1/traces");
        assert_eq!(traces.timeout(), Duration::from_secs(3));
        assert_eq!(traces.headers()["a"], "code");
        assert_eq!(traces.headers()["b"], "env");
        assert!(!before.is_disabled());
        assert!(with_env(ExporterConfig::default(), &vars).is_disabled());
    }

    #[test]
    fn per_signal_code_beats_generic_code() {
        let c = ExporterConfig::default()
            .with_compression(Compression::Gzip)
            .with_signal_compression(Signal::Logs, Compression::Zstd)
            .with_protocol(Protocol::Grpc)
            .with_signal_protocol(Signal::Metrics, Protocol::HttpJson)
            .with_timeout(Duration::from_secs(1))
            .with_signal_timeout(Signal::Profiles, Duration::from_secs(9))
            .with_header("k", "all")
            .with_signal_header(Signal::Traces, "k", "traces");
        let r = |s| c.resolve(s).expect("resolves");
        assert_eq!(r(Signal::Logs).compression(), Compression::Zstd);
        assert_eq!(r(Signal::Traces).compression(), Compression::Gzip);
        assert_eq!(r(Signal::Metrics).protocol(), Protocol::HttpJson);
        assert_eq!(
            r(Signal::Metrics).endpoint(),
            "http://localhost:4318/v1/metrics"
        );
        assert_eq!(r(Signal::Profiles).timeout(), Duration::from_secs(9));
        assert_eq!(r(Signal::Traces).headers()["k"], "traces");
        assert_eq!(r(Signal::Logs).headers()["k"], "all");
    }

    #[test]
    fn invalid_endpoints_and_headers_are_reported_with_their_origin() {
        let err = |c: ExporterConfig| c.resolve(Signal::Traces).expect_err("invalid").to_string();
        let c = with_env(
            ExporterConfig::default(),
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://c")],
        );
        assert_eq!(
            err(c),
            r#"OTEL_EXPORTER_OTLP_ENDPOINT="ftp://c": unsupported scheme "ftp" (expected http or https)"#
        );
        let msg = err(ExporterConfig::default().with_endpoint("collector:4318"));
        assert!(
            msg.starts_with(r#"endpoint "collector:4318": expected a URL"#),
            "{msg}"
        );
        let msg = err(ExporterConfig::default().with_endpoint("not a url"));
        assert!(msg.contains("not a URL"), "{msg}");
        let msg = err(ExporterConfig::default().with_header("bad name", "v"));
        assert!(msg.contains("not a valid header name"), "{msg}");
        let msg = err(ExporterConfig::default().with_client_certificate("/c.pem"));
        assert!(msg.contains("without a client key"), "{msg}");
        let c = with_env(
            ExporterConfig::default(),
            &[("OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", "/k.pem")],
        );
        let msg = err(c);
        assert!(
            msg.starts_with("OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY="),
            "{msg}"
        );
    }

    #[test]
    fn protocol_names_parse() {
        for p in [
            Protocol::Grpc,
            Protocol::HttpProtobuf,
            Protocol::HttpJson,
            Protocol::Otap,
        ] {
            assert_eq!(p.name().parse::<Protocol>().expect("parses"), p);
        }
        assert_eq!(
            " HTTP/JSON ".parse::<Protocol>().expect("parses"),
            Protocol::HttpJson
        );
        assert!("http".parse::<Protocol>().is_err());
        assert_eq!(Protocol::default(), Protocol::HttpProtobuf);
    }

    #[test]
    fn otap_resolves_as_grpc_to_the_grpc_endpoint() {
        let config = ExporterConfig::default().with_protocol(Protocol::Otap);
        let traces = config.resolve(Signal::Traces).expect("valid");
        assert_eq!(traces.protocol(), Protocol::Otap);
        assert_eq!(
            traces.endpoint(),
            "http://localhost:4317/opentelemetry.proto.collector.trace.v1.TraceService/Export"
        );
        let vars =
            |name: &str| (name == "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL").then(|| "otap".to_owned());
        let from_env = ExporterConfig::default()
            .with_env_source(&vars)
            .expect("valid");
        assert_eq!(
            from_env.resolve(Signal::Logs).expect("valid").protocol(),
            Protocol::Otap
        );
        assert_eq!(
            from_env.resolve(Signal::Traces).expect("valid").protocol(),
            Protocol::HttpProtobuf
        );
    }
}
