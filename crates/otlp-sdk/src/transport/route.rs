//! The route table and the send path: [`RouteTable`] is what an exporter's configuration makes
//! of each signal (endpoint, headers, TLS, retries), built once; [`Connections`] are the hyper
//! clients (and their connection pools) of one runtime, made from the table without reading
//! anything again; a [`Route`] is one signal's entry with its client, and sends.

use super::connect::{Connector, TlsFate};
use super::outcome::ExportOutcome;
use super::stream::RequestBody;
use super::{ConnectError, Delivered, Outgoing, grpc, http, tls};
use crate::body::EncodedBody;
use crate::config::{ExporterConfig, Protocol, SignalConfig, TlsFiles, redacted};
use crate::error::{Error, Kind, find_cause, root_cause};
use crate::retry::{self, RetryPolicy};
use ::http::{HeaderMap, Method, Request, Uri};
use bytes::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use otlp_proto::{Compression, Signal};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// One hyper client: its pool holds the connections of the runtime it is used on. The body
/// type is an enum so that unary requests and long-lived streams share the client and its
/// connections.
pub(super) type HttpClient = Client<Connector, RequestBody>;

/// How one signal is sent: where, with which headers, through which client. Immutable.
/// `Debug` shows header names only.
pub(super) struct RouteSpec {
    pub(super) signal: Signal,
    pub(super) protocol: Protocol,
    pub(super) compression: Compression,
    /// The compression of an OTAP route's stream messages: the configured one, or with none
    /// configured zstd where the build has it (the Go exporter's default: plain IPC bodies
    /// under one zstd pass per message, fewer bytes and less CPU for the Collector than zstd
    /// IPC bodies). The unary fallback keeps `compression`: a plain OTLP server may lack zstd.
    #[cfg_attr(not(feature = "arrow"), allow(dead_code))]
    pub(super) stream_compression: Compression,
    pub(super) uri: Uri,
    pub(super) timeout: Duration,
    pub(super) retry: RetryPolicy,
    /// Every header but `grpc-timeout`, built once.
    pub(super) headers: HeaderMap,
    /// Index of the route's client in [`RouteTable::clients`].
    client: usize,
    /// How OTAP uses its streams (for an OTAP route).
    #[cfg_attr(not(feature = "arrow"), allow(dead_code))]
    pub(super) otap: crate::config::OtapStreams,
}

impl fmt::Debug for RouteSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RouteSpec")
            .field("signal", &self.signal)
            .field("protocol", &self.protocol)
            .field("compression", &self.compression)
            .field("stream_compression", &self.stream_compression)
            .field("uri", &self.uri)
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .field("headers", &redacted(&self.headers))
            .field("client", &self.client)
            .field("otap", &self.otap)
            .finish()
    }
}

/// How to make one client: signals with the same TLS files and transport share one, so they
/// share connections.
struct ClientSpec {
    /// The rustls configuration, read from the certificate files once and shared by every
    /// runtime's client; `None` for `http`.
    tls: Option<Arc<tls::ClientConfig>>,
    /// gRPC: HTTP/2 with prior knowledge over `http://`.
    #[cfg_attr(not(feature = "grpc"), allow(dead_code))]
    http2_only: bool,
}

impl fmt::Debug for ClientSpec {
    // The rustls configuration holds the client's private key: only say whether there is one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientSpec")
            .field("tls", &self.tls.is_some())
            .field("http2_only", &self.http2_only)
            .finish()
    }
}

/// The routes of all signals, in [`Signal::index`] order, and the clients they use. Built once
/// per exporter (every certificate file is read here), shared by every runtime that sends.
#[derive(Debug)]
pub(crate) struct RouteTable {
    routes: Vec<RouteSpec>,
    clients: Vec<ClientSpec>,
}

/// What a signal's configuration asks for that this build lacks (an https endpoint is refused
/// by the TLS builder of a build without `tls`).
struct Lacking {
    /// What asks for it: `protocol grpc`, `zstd compression`.
    what: String,
    /// The feature of `otlp` that has it.
    feature: &'static str,
    /// The variable that chooses it.
    variable: &'static str,
}

impl Lacking {
    fn of(sc: &SignalConfig) -> Option<Lacking> {
        let protocol = sc.protocol();
        let feature = match protocol {
            Protocol::Otap if !cfg!(feature = "arrow") => Some("arrow"),
            Protocol::Grpc | Protocol::Otap if !cfg!(feature = "grpc") => Some("grpc"),
            Protocol::HttpProtobuf | Protocol::HttpJson if !cfg!(feature = "http") => Some("http"),
            Protocol::HttpJson if !cfg!(feature = "json") => Some("json"),
            _ => None,
        };
        if let Some(feature) = feature {
            return Some(Lacking {
                what: format!("protocol {}", protocol.name()),
                feature,
                variable: "OTEL_EXPORTER_OTLP_PROTOCOL",
            });
        }
        let compression = sc.compression();
        (!compression.is_available()).then(|| Lacking {
            what: format!("{compression} compression"),
            feature: compression.name(),
            variable: "OTEL_EXPORTER_OTLP_COMPRESSION",
        })
    }

    fn error(&self, sc: &SignalConfig) -> Error {
        Error::config(format!(
            "the {} exporter uses {}, which this build lacks: enable the `{}` feature of otlp, \
             or choose another ({})",
            sc.signal(),
            self.what,
            self.feature,
            self.variable
        ))
    }
}

impl RouteTable {
    /// Builds the table, reading the certificate files. `signals` is in [`Signal::ALL`] order.
    pub(super) fn new(config: &ExporterConfig, signals: &[SignalConfig]) -> Result<Self, Error> {
        let mut tls = tls::TlsBuilder::default();
        let mut keys: Vec<(Option<TlsFiles>, bool)> = Vec::new();
        let mut clients = Vec::new();
        let mut routes = Vec::with_capacity(signals.len());
        for sc in signals {
            if let Some(lacking) = Lacking::of(sc) {
                return Err(lacking.error(sc));
            }
            let grpc = sc.protocol().is_grpc();
            let key = (sc.is_tls().then(|| sc.tls.clone()), grpc);
            let client = match keys.iter().position(|k| *k == key) {
                Some(i) => i,
                None => {
                    let tls = match &key.0 {
                        Some(files) => {
                            // gRPC needs HTTP/2; OTLP/HTTP takes whichever the server prefers.
                            let alpn: &[&[u8]] = if grpc {
                                &[b"h2"]
                            } else {
                                &[b"h2", b"http/1.1"]
                            };
                            Some(tls.build(files, alpn)?)
                        }
                        None => None,
                    };
                    clients.push(ClientSpec {
                        tls,
                        http2_only: grpc,
                    });
                    keys.push(key);
                    clients.len() - 1
                }
            };
            let headers = match sc.protocol() {
                Protocol::Grpc | Protocol::Otap => grpc::headers(sc),
                Protocol::HttpProtobuf | Protocol::HttpJson => http::headers(sc),
            };
            routes.push(RouteSpec {
                signal: sc.signal(),
                protocol: sc.protocol(),
                compression: sc.compression(),
                stream_compression: stream_compression(sc),
                uri: sc.endpoint().clone(),
                timeout: sc.timeout(),
                retry: config.retry().clone(),
                headers,
                client,
                otap: config.otap(),
            });
        }
        Ok(RouteTable { routes, clients })
    }

    pub(super) fn spec(&self, signal: Signal) -> &RouteSpec {
        // Built from every signal's configuration, in index order: never out of range.
        &self.routes[signal.index()]
    }

    /// Whether `signal` goes over OTAP streams: an OTAP route, but for profiles, which OTAP
    /// does not carry (they go as OTLP/gRPC).
    #[cfg(feature = "arrow")]
    pub(super) fn streams(&self, signal: Signal) -> bool {
        self.spec(signal).protocol == Protocol::Otap && signal != Signal::Profiles
    }

    /// `body` as `signal`'s route sends it: in the route's encoding, compressed, framed.
    pub(super) fn wire(&self, signal: Signal, body: EncodedBody) -> Result<Bytes, Error> {
        let spec = self.spec(signal);
        body.into_wire(signal, spec.protocol, spec.compression)
            .map_err(|e| e.during_export(signal, &spec.uri.to_string(), 0))
    }
}

/// The routes of a [`RouteTable`] with clients of their own, for one runtime: the runtime of
/// the tasks that send through them opens and drives their connections. Cloning is cheap and
/// shares the clients (and so the connections).
///
/// Only for runtimes the crate owns, with I/O and timers enabled (the transport's I/O thread,
/// a pipeline's worker): a request then goes from the encoder to the socket on one thread.
#[derive(Debug, Clone)]
pub(crate) struct Connections {
    inner: Arc<ConnectionsInner>,
}

#[derive(Debug)]
struct ConnectionsInner {
    table: Arc<RouteTable>,
    /// Indexed like [`RouteTable::clients`].
    clients: Vec<HttpClient>,
    /// The OTAP streams of this runtime, per signal.
    #[cfg(feature = "arrow")]
    otap: super::otap::Streams,
}

impl Connections {
    /// Clients for every route of `table`. Reads no file; opens no connection yet.
    pub(super) fn new(table: Arc<RouteTable>) -> Self {
        let clients = table
            .clients
            .iter()
            .map(|c| {
                let mut builder = Client::builder(TokioExecutor::new());
                builder
                    .timer(TokioTimer::new())
                    .pool_timer(TokioTimer::new())
                    .pool_idle_timeout(Duration::from_secs(90));
                // Only gRPC routes are HTTP/2-only, and they exist only with the `grpc` feature.
                #[cfg(feature = "grpc")]
                builder.http2_only(c.http2_only);
                builder.build(Connector::new(c.tls.clone().map(tls::connector)))
            })
            .collect();
        Connections {
            inner: Arc::new(ConnectionsInner {
                table,
                clients,
                #[cfg(feature = "arrow")]
                otap: super::otap::Streams::default(),
            }),
        }
    }

    /// `signal`'s route.
    pub(crate) fn route(&self, signal: Signal) -> Route<'_> {
        let spec = self.inner.table.spec(signal);
        Route {
            spec,
            client: &self.inner.clients[spec.client],
        }
    }

    /// The table and the client of `signal`'s route, for a task that outlives this handle.
    #[cfg(feature = "arrow")]
    pub(super) fn route_parts(&self, signal: Signal) -> (Arc<RouteTable>, HttpClient) {
        let spec = self.inner.table.spec(signal);
        (
            self.inner.table.clone(),
            self.inner.clients[spec.client].clone(),
        )
    }

    /// Ends this runtime's OTAP streams gracefully (each closes its side, waits for its acks
    /// and the call's end); nothing to do without them.
    pub(crate) async fn close_streams(&self) {
        #[cfg(feature = "arrow")]
        self.inner.otap.close().await;
    }

    /// The OTAP streams of this runtime.
    #[cfg(feature = "arrow")]
    pub(super) fn otap(&self) -> &super::otap::Streams {
        &self.inner.otap
    }

    /// Sends `batch`, from the calling task. On an OTAP route (but for profiles, which OTAP
    /// does not carry), it goes as the next batch of one of the signal's Arrow streams (a
    /// pipeline's items as they are); otherwise it is prepared for the wire (encoding,
    /// compression, framing) and sent.
    pub(crate) async fn export(
        &self,
        signal: Signal,
        batch: Outgoing,
    ) -> Result<ExportOutcome, Error> {
        #[cfg(feature = "arrow")]
        if self.streams(signal) {
            return super::otap::export(self, signal, batch).await;
        }
        let wire = self.inner.table.wire(signal, batch.into_body())?;
        self.route(signal).export(wire).await
    }

    /// Whether `signal` goes over OTAP streams (items can be handed to them as they are).
    #[cfg(feature = "arrow")]
    pub(crate) fn streams(&self, signal: Signal) -> bool {
        self.inner.table.streams(signal)
    }
}

/// One signal's route and the client it sends through.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Route<'a> {
    pub(super) spec: &'a RouteSpec,
    pub(super) client: &'a HttpClient,
}

impl Route<'_> {
    /// Sends `body` (ready for the wire) with retries, within the route's timeout.
    pub(crate) async fn export(self, body: Bytes) -> Result<ExportOutcome, Error> {
        let spec = self.spec;
        let body = &body;
        let (result, attempts) = retry::run(&spec.retry, spec.timeout, |_, deadline| {
            self.send(body, deadline)
        })
        .await;
        match result {
            Ok(d) => Ok(ExportOutcome {
                rejected: d.rejected,
                message: d.message,
                attempts,
                wire_bytes: body.len(),
                disabled: false,
            }),
            Err(e) => Err(e.during_export(spec.signal, &spec.uri.to_string(), attempts)),
        }
    }

    /// One attempt. The body is shared, never copied: a retry re-sends the same bytes.
    async fn send(self, body: &Bytes, deadline: Instant) -> Result<Delivered, Error> {
        let spec = self.spec;
        let mut request = Request::new(RequestBody::full(body.clone()));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = spec.uri.clone();
        *request.headers_mut() = spec.headers.clone();
        if spec.protocol.is_grpc() {
            grpc::set_timeout(request.headers_mut(), deadline);
        }
        let response = self.client.request(request).await.map_err(request_error)?;
        match spec.protocol {
            Protocol::Grpc | Protocol::Otap => grpc::read_response(spec.signal, response).await,
            Protocol::HttpProtobuf | Protocol::HttpJson => {
                http::read_response(spec.signal, spec.protocol.encoding(), response).await
            }
        }
    }
}

/// Sorts a failed request: TLS failures are permanent, connection failures and broken
/// connections are transient.
pub(super) fn request_error(e: hyper_util::client::legacy::Error) -> Error {
    if let Some(tls) = find_cause::<tls::TlsError>(&e) {
        let msg = match find_cause::<ConnectError>(&e) {
            Some(c) => c.to_string(),
            None => format!("TLS failed: {}", tls::describe(tls)),
        };
        return Error::new(Kind::Tls, msg).with_source(e);
    }
    // The connection may have died of a TLS alert the request never saw.
    let fate = e.connect_info().and_then(|info| {
        let mut extensions = ::http::Extensions::new();
        info.get_extras(&mut extensions);
        extensions.get::<TlsFate>().and_then(|f| f.error().cloned())
    });
    if let Some(tls) = fate {
        let msg = format!("TLS failed: {}", tls::describe(&tls));
        return Error::new(Kind::Tls, msg).with_source(e);
    }
    if let Some(c) = find_cause::<ConnectError>(&e) {
        let kind = if c.is_tls() { Kind::Tls } else { Kind::Connect };
        // A TLS failure without a rustls error is I/O during the handshake: transient.
        return Error::new(kind, c.to_string()).retryable().with_source(e);
    }
    if e.is_connect() {
        let msg = format!("cannot connect: {}", root_cause(&e));
        return Error::new(Kind::Connect, msg).retryable().with_source(e);
    }
    let msg = format!("request failed: {}", root_cause(&e));
    Error::new(Kind::Transport, msg).retryable().with_source(e)
}

/// See [`RouteSpec::stream_compression`].
fn stream_compression(sc: &SignalConfig) -> Compression {
    match sc.protocol() {
        Protocol::Otap if !sc.compression_configured && Compression::Zstd.is_available() => {
            Compression::Zstd
        }
        _ => sc.compression(),
    }
}

/// Without the `arrow` feature, an OTAP route is a configuration error that says why.
#[cfg(all(test, not(feature = "arrow")))]
mod tests {
    use super::*;

    #[test]
    fn otap_needs_the_arrow_feature() {
        let config = ExporterConfig::default().with_protocol(Protocol::Otap);
        let signals = Signal::ALL
            .into_iter()
            .map(|s| config.resolve(s))
            .collect::<Result<Vec<_>, _>>()
            .expect("valid");
        let err = RouteTable::new(&config, &signals).expect_err("no arrow");
        assert!(
            err.is_config() && err.to_string().contains("`arrow`"),
            "{err}"
        );
    }
}
