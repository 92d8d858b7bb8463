//! [`Receiver`] and its [`ReceiverBuilder`]: addresses, limits, TLS, sink and observer.

use crate::memory::MemoryLimiter;
use crate::running::RunningReceiver;
use crate::server::activity::Timeouts;
use crate::server::limits::Registry;
use crate::server::{Shared, conn};
use crate::sink::Discard;
use crate::summary::Observer;
use crate::{Error, MemorySink, RequestSummary, Sink, TlsConfig, Transport};
use otlp_proto::DecodeLimits;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

const DEFAULT_GRPC_ADDR: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 4317);
const DEFAULT_HTTP_ADDR: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 4318);
/// The Collector's default limit for a request, compressed or not.
const DEFAULT_MAX_REQUEST_SIZE: usize = 16 << 20;
/// Items per request: thirty times the Collector's default batch, far beyond what an exporter
/// sends at once.
const DEFAULT_MAX_ITEMS: usize = 250_000;
/// Memory one decoded request may take: a 16 MiB request of realistic spans decodes to about
/// three times its size.
const DEFAULT_MAX_DECODED_SIZE: usize = 64 << 20;
/// Memory all requests in flight may hold together.
const DEFAULT_MEMORY_LIMIT: usize = 256 << 20;
const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);
/// Plenty for a client on a slow network to send a head; the Collector allows a minute, but a
/// head is a few hundred bytes.
const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// 16 MiB in 30 seconds is about 4.5 Mbit/s.
const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// The Collector's idle timeout. Exporters send every few seconds, so their connections stay.
const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Far more than the exporters of a small deployment open. Where a process may open fewer files,
/// running out of them evicts the same way.
const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// otlp-otap's own default: far more than the dictionaries of a realistic stream, and counted
/// against the memory limit while held.
const DEFAULT_OTAP_STATE_LIMIT: usize = 64 << 20;
/// gRPC is HTTP/2 only; OTLP/HTTP speaks both versions.
const GRPC_ALPN: &[&[u8]] = &[b"h2"];
const HTTP_ALPN: &[&[u8]] = &[b"h2", b"http/1.1"];

/// An OTLP receiver. Configure one with [`Receiver::builder`].
#[derive(Debug, Clone, Copy)]
pub struct Receiver;

impl Receiver {
    /// A builder with the defaults: gRPC on `127.0.0.1:4317`, HTTP on `127.0.0.1:4318`, no TLS,
    /// requests of at most 16 MiB (250,000 items, 64 MiB once decoded), 256 MiB held by all
    /// requests in flight, header, body and idle timeouts of 10, 30 and 60 seconds, at most 1024
    /// connections, 64 MiB of state per OTAP stream, and a sink that accepts and discards
    /// everything.
    pub fn builder() -> ReceiverBuilder {
        ReceiverBuilder::default()
    }

    /// Starts a receiver serving both transports on free loopback ports and keeping what
    /// arrives in a new [`MemorySink`], returned with it: the in-process peer of tests, demos
    /// and examples. Short for `Receiver::builder().with_free_loopback_ports()
    /// .with_sink(sink.clone()).start()`.
    pub async fn start_in_memory() -> Result<(RunningReceiver, MemorySink), Error> {
        let sink = MemorySink::new();
        let receiver = Receiver::builder()
            .with_free_loopback_ports()
            .with_sink(sink.clone())
            .start()
            .await?;
        Ok((receiver, sink))
    }
}

/// Configures and starts a receiver.
///
/// ```no_run
/// use std::time::Duration;
/// use otlp_receiver::{JsonLinesSink, Receiver};
///
/// # fn main() -> Result<(), otlp_receiver::Error> {
/// let dir = std::env::temp_dir().join("otlp-receiver-builder-doc");
/// let builder = Receiver::builder()
///     .with_http_addr("0.0.0.0:4318".parse().expect("valid address"))
///     .without_grpc()
///     .with_max_request_size(4 << 20)
///     .with_sink(JsonLinesSink::create(&dir)?)
///     .with_request_observer(|summary| eprintln!("{summary}"));
/// // builder.start().await? binds the listener and serves until shutdown.
/// # Ok(())
/// # }
/// ```
pub struct ReceiverBuilder {
    grpc_addr: Option<SocketAddr>,
    http_addr: Option<SocketAddr>,
    max_request_size: usize,
    decode_limits: DecodeLimits,
    memory_limit: usize,
    tls: Option<TlsConfig>,
    sink: Arc<dyn Sink>,
    observer: Option<Observer>,
    shutdown_timeout: Duration,
    timeouts: Timeouts,
    max_connections: usize,
    otap_state_limit: usize,
}

impl Default for ReceiverBuilder {
    fn default() -> Self {
        ReceiverBuilder {
            grpc_addr: Some(DEFAULT_GRPC_ADDR),
            http_addr: Some(DEFAULT_HTTP_ADDR),
            max_request_size: DEFAULT_MAX_REQUEST_SIZE,
            decode_limits: DecodeLimits::unlimited()
                .with_max_items(DEFAULT_MAX_ITEMS)
                .with_max_decoded_bytes(DEFAULT_MAX_DECODED_SIZE),
            memory_limit: DEFAULT_MEMORY_LIMIT,
            tls: None,
            sink: Arc::new(Discard),
            observer: None,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            timeouts: Timeouts {
                header: DEFAULT_HEADER_TIMEOUT,
                body: DEFAULT_BODY_TIMEOUT,
                idle: DEFAULT_IDLE_TIMEOUT,
            },
            max_connections: DEFAULT_MAX_CONNECTIONS,
            otap_state_limit: DEFAULT_OTAP_STATE_LIMIT,
        }
    }
}

impl ReceiverBuilder {
    /// Serves OTLP/gRPC on `addr` (port 0 picks a free port; see
    /// [`RunningReceiver::grpc_addr`]). Default: `127.0.0.1:4317`.
    pub fn with_grpc_addr(mut self, addr: SocketAddr) -> Self {
        self.grpc_addr = Some(addr);
        self
    }

    /// Serves OTLP/HTTP on `addr` (port 0 picks a free port; see
    /// [`RunningReceiver::http_addr`]). Default: `127.0.0.1:4318`.
    pub fn with_http_addr(mut self, addr: SocketAddr) -> Self {
        self.http_addr = Some(addr);
        self
    }

    /// Serves both transports on `127.0.0.1`, each on a free port the system picks (read them
    /// back from [`RunningReceiver::grpc_addr`] and [`RunningReceiver::http_addr`]): what tests,
    /// demos and tools running a receiver of their own want.
    pub fn with_free_loopback_ports(self) -> Self {
        let any = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 0);
        self.with_grpc_addr(any).with_http_addr(any)
    }

    /// Does not serve gRPC (until [`with_grpc_addr`](Self::with_grpc_addr) is called again).
    pub fn without_grpc(mut self) -> Self {
        self.grpc_addr = None;
        self
    }

    /// Does not serve HTTP (until [`with_http_addr`](Self::with_http_addr) is called again).
    pub fn without_http(mut self) -> Self {
        self.http_addr = None;
        self
    }

    /// The largest request accepted, in bytes, checked on the body as received and again after
    /// decompression: larger requests get HTTP 413 or gRPC `RESOURCE_EXHAUSTED`, and a zip bomb
    /// is stopped after `bytes` of output. Default: 16 MiB.
    pub fn with_max_request_size(mut self, bytes: usize) -> Self {
        self.max_request_size = bytes;
        self
    }

    /// The most items (spans, metric data points, log records or profiles) one request may
    /// carry: more, counted while decoding, get HTTP 413 or gRPC `RESOURCE_EXHAUSTED`.
    /// Default: 250,000.
    pub fn with_max_items_per_request(mut self, items: usize) -> Self {
        self.decode_limits = self.decode_limits.with_max_items(items);
        self
    }

    /// The most memory one decoded request may take beyond its body (its messages, counted
    /// while decoding: a small body of many empty items can decode to far more than its size):
    /// more get HTTP 413 or gRPC `RESOURCE_EXHAUSTED`. Default: 64 MiB.
    pub fn with_max_decoded_size(mut self, bytes: usize) -> Self {
        self.decode_limits = self.decode_limits.with_max_decoded_bytes(bytes);
        self
    }

    /// The most memory all requests in flight may hold together: bodies as they arrive,
    /// decompressed, and decoded, until each is answered. A request that would pass it is
    /// refused with HTTP 429 or gRPC `RESOURCE_EXHAUSTED` and a retry hint of one second
    /// (`Retry-After`, `RetryInfo`), and requests are served again as soon as those in flight
    /// finish. What a sink keeps after accepting a request (a [`MemorySink`] keeps everything)
    /// is the sink's and not counted. Default: 256 MiB.
    pub fn with_memory_limit(mut self, bytes: usize) -> Self {
        self.memory_limit = bytes;
        self
    }

    /// Serves both transports over TLS (gRPC with ALPN `h2`; HTTP with `h2` and `http/1.1`).
    /// Default: cleartext.
    pub fn with_tls(mut self, tls: TlsConfig) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Where decoded requests go. Default: a sink that accepts and discards everything.
    pub fn with_sink(mut self, sink: impl Sink) -> Self {
        self.sink = Arc::new(sink);
        self
    }

    /// Calls `observer` once per export request after it is answered, with a summary of it (see
    /// [`RequestSummary`] for which requests are reported). Called from the connection's task:
    /// keep it quick. Default: none.
    pub fn with_request_observer(
        mut self,
        observer: impl Fn(&RequestSummary) + Send + Sync + 'static,
    ) -> Self {
        self.observer = Some(Arc::new(observer));
        self
    }

    /// How long [`RunningReceiver::shutdown`] waits for requests in progress before dropping
    /// their connections. Default: 5 seconds.
    pub fn with_shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// How long a client has to send a complete request head, counted from the moment its
    /// connection is accepted (so including the TLS handshake and the HTTP/2 preface) and, on an
    /// HTTP/1.1 connection kept alive, from the first byte of each later head. A client that has
    /// not is disconnected without an answer: it has not said what it wants. Default: 10 seconds.
    ///
    /// Must not be zero. This and the other timeouts are disabled by a duration as long as
    /// [`Duration::MAX`].
    pub fn with_header_timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.header = timeout;
        self
    }

    /// How long a client has to send a request body in full, counted from the moment the
    /// request head arrived. A body still incomplete then (trickled, or shorter than its
    /// `Content-Length`) is answered HTTP `408 Request Timeout` (and the HTTP/1.1 connection
    /// closed) or gRPC `DEADLINE_EXCEEDED`, with a message naming the limit. Default: 30 seconds.
    pub fn with_body_timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.body = timeout;
        self
    }

    /// How long a connection may stay open without a request in progress: an idle HTTP/1.1
    /// connection is then closed, an idle HTTP/2 connection sent a GOAWAY and closed. Default:
    /// 60 seconds, as the Collector.
    pub fn with_idle_timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.idle = timeout;
        self
    }

    /// The most connections the receiver keeps open, both listeners together. When a client
    /// connects at the limit, the connection that has been idle the longest (no request in
    /// progress, including connections that never sent a complete request head) is closed to
    /// make room; if every connection has a request in progress, the new one is closed at once.
    /// So a crowd of idle or slow connections cannot lock out a working client. The same
    /// eviction happens when the process runs out of file descriptors first. Must be at least 1.
    /// Default: 1024.
    pub fn with_max_connections(mut self, max: usize) -> Self {
        self.max_connections = max;
        self
    }

    /// The most memory one OTLP/Arrow (OTAP) stream may keep between its batches: the Arrow
    /// schemas and dictionaries its decoder holds for the batches that follow. A batch that
    /// would take it past the limit is answered `RESOURCE_EXHAUSTED`, with a message naming the
    /// limit, and the stream ends (the exporter starts a new one, with fresh state). What
    /// streams hold counts against the [memory limit](Self::with_memory_limit) too. OTAP
    /// streams share the gRPC listener and its other limits: each batch counts as a request for
    /// the [request size](Self::with_max_request_size) (its gRPC message, before and after
    /// decompression), the [items](Self::with_max_items_per_request) and the
    /// [decoded size](Self::with_max_decoded_size) (which also bounds what each of its Arrow
    /// tables may declare it decompresses to, and its rows: one for every 64 bytes, checked
    /// before a table is decoded, since a row of nulls costs a few bits and becomes a whole
    /// span), and a stream sending no batch for the
    /// [idle timeout](Self::with_idle_timeout) is ended with `UNAVAILABLE`. Default: 64 MiB.
    pub fn with_otap_state_limit(mut self, bytes: usize) -> Self {
        self.otap_state_limit = bytes;
        self
    }

    /// Binds the listeners and starts serving in background tasks of the current Tokio runtime.
    ///
    /// When this returns, both listeners are bound and accepting. Fails if an address cannot be
    /// bound, the TLS material does not load, both transports are disabled, or a timeout or
    /// limit is zero (a decoded size of zero is allowed: it admits only empty requests).
    pub async fn start(self) -> Result<RunningReceiver, Error> {
        if self.grpc_addr.is_none() && self.http_addr.is_none() {
            return Err(Error::config(
                "both gRPC and HTTP are disabled: nothing to serve",
            ));
        }
        let Timeouts { header, body, idle } = self.timeouts;
        for (zero, complaint) in [
            (
                header.is_zero(),
                "the header timeout is zero: every connection would be closed at once",
            ),
            (
                body.is_zero(),
                "the body timeout is zero: every request would time out",
            ),
            (
                idle.is_zero(),
                "the idle timeout is zero: every connection would be closed at once",
            ),
            (
                self.max_connections == 0,
                "the connection limit is zero: no client could connect",
            ),
            (
                self.max_request_size == 0,
                "the request size limit is zero: every request would be refused",
            ),
            (
                self.decode_limits.max_items() == 0,
                "the item limit per request is zero: every request would be refused",
            ),
            (
                self.memory_limit == 0,
                "the memory limit is zero: every request would be refused",
            ),
            (
                self.otap_state_limit == 0,
                "the OTAP state limit is zero: every OTAP stream would be refused",
            ),
        ] {
            if zero {
                return Err(Error::config(complaint));
            }
        }
        let tls = self
            .tls
            .as_ref()
            .map(TlsConfig::server_config)
            .transpose()?;
        let acceptor = |alpn: &[&[u8]]| {
            tls.as_ref().map(|config| {
                let mut config = config.clone();
                config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
                TlsAcceptor::from(Arc::new(config))
            })
        };
        // Bind everything before spawning anything, so a failure leaves nothing behind.
        let grpc = match self.grpc_addr {
            Some(addr) => Some(bind(addr).await?),
            None => None,
        };
        let http = match self.http_addr {
            Some(addr) => Some(bind(addr).await?),
            None => None,
        };

        let shared = Arc::new(Shared {
            sink: self.sink,
            observer: self.observer,
            max_request_size: self.max_request_size,
            decode_limits: self.decode_limits,
            memory: MemoryLimiter::new(self.memory_limit),
            timeouts: self.timeouts,
            connections: Arc::new(Registry::new(self.max_connections)),
            otap_state_limit: self.otap_state_limit,
        });
        let (stop, _) = watch::channel(false);
        let mut tasks = JoinSet::new();
        let mut spawn =
            |(listener, addr): (TcpListener, SocketAddr), transport: Transport, alpn: &[&[u8]]| {
                tasks.spawn(conn::serve(
                    listener,
                    acceptor(alpn),
                    transport,
                    shared.clone(),
                    stop.subscribe(),
                ));
                addr
            };
        let grpc_addr = grpc.map(|l| spawn(l, Transport::Grpc, GRPC_ALPN));
        let http_addr = http.map(|l| spawn(l, Transport::Http, HTTP_ALPN));
        Ok(RunningReceiver::new(
            grpc_addr,
            http_addr,
            stop,
            tasks,
            self.shutdown_timeout,
        ))
    }
}

async fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), Error> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| Error::bind(addr, e))?;
    let local = listener.local_addr().map_err(|e| Error::bind(addr, e))?;
    Ok((listener, local))
}

impl fmt::Debug for ReceiverBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReceiverBuilder")
            .field("grpc_addr", &self.grpc_addr)
            .field("http_addr", &self.http_addr)
            .field("max_request_size", &self.max_request_size)
            .field("max_items_per_request", &self.decode_limits.max_items())
            .field("max_decoded_size", &self.decode_limits.max_decoded_bytes())
            .field("memory_limit", &self.memory_limit)
            .field("tls", &self.tls)
            .field("observer", &self.observer.is_some())
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("header_timeout", &self.timeouts.header)
            .field("body_timeout", &self.timeouts.body)
            .field("idle_timeout", &self.timeouts.idle)
            .field("max_connections", &self.max_connections)
            .field("otap_state_limit", &self.otap_state_limit)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_otlp_ports() {
        let b = Receiver::builder();
        assert_eq!(b.grpc_addr, Some(DEFAULT_GRPC_ADDR));
        assert_eq!(
            b.http_addr.map(|a| a.to_string()).as_deref(),
            Some("127.0.0.1:4318")
        );
        assert_eq!(b.max_request_size, 16 * 1024 * 1024);
        let b = b
            .without_grpc()
            .without_http()
            .with_grpc_addr(DEFAULT_HTTP_ADDR);
        assert_eq!(b.grpc_addr, Some(DEFAULT_HTTP_ADDR));
        assert_eq!(b.http_addr, None);
    }

    #[test]
    fn timeouts_and_connection_limit_have_documented_defaults_and_show_in_debug() {
        let b = Receiver::builder();
        assert_eq!(
            b.timeouts,
            Timeouts {
                header: Duration::from_secs(10),
                body: Duration::from_secs(30),
                idle: Duration::from_secs(60),
            }
        );
        assert_eq!(b.max_connections, 1024);
        let debug = format!("{b:?}");
        for field in [
            "header_timeout: 10s",
            "body_timeout: 30s",
            "idle_timeout: 60s",
            "max_connections: 1024",
        ] {
            assert!(debug.contains(field), "{field} in {debug}");
        }
        let b = b
            .with_header_timeout(Duration::from_millis(1))
            .with_body_timeout(Duration::from_millis(2))
            .with_idle_timeout(Duration::from_millis(3))
            .with_max_connections(4);
        assert_eq!(
            (b.timeouts.header, b.timeouts.body, b.timeouts.idle),
            (
                Duration::from_millis(1),
                Duration::from_millis(2),
                Duration::from_millis(3)
            )
        );
        assert_eq!(b.max_connections, 4);
    }

    #[tokio::test]
    async fn a_zero_timeout_or_connection_limit_is_a_config_error() {
        let zeros = [
            Receiver::builder().with_header_timeout(Duration::ZERO),
            Receiver::builder().with_body_timeout(Duration::ZERO),
            Receiver::builder().with_idle_timeout(Duration::ZERO),
            Receiver::builder().with_max_connections(0),
            Receiver::builder().with_max_request_size(0),
            Receiver::builder().with_max_items_per_request(0),
            Receiver::builder().with_memory_limit(0),
            Receiver::builder().with_otap_state_limit(0),
        ];
        let names = [
            "header",
            "body",
            "idle",
            "connection limit",
            "request size",
            "item limit",
            "memory limit",
            "OTAP state limit",
        ];
        for (builder, what) in zeros.into_iter().zip(names) {
            let err = builder
                .with_free_loopback_ports()
                .start()
                .await
                .unwrap_err();
            assert!(err.is_config(), "{err}");
            assert!(err.to_string().contains(what), "{err}");
        }
    }

    #[test]
    fn free_loopback_ports_are_port_zero_on_127_0_0_1() {
        let b = Receiver::builder()
            .without_http()
            .with_free_loopback_ports();
        let any = Some("127.0.0.1:0".parse().unwrap());
        assert_eq!((b.grpc_addr, b.http_addr), (any, any));
    }

    #[tokio::test]
    async fn nothing_to_serve_is_a_config_error() {
        let err = Receiver::builder()
            .without_grpc()
            .without_http()
            .start()
            .await
            .unwrap_err();
        assert!(err.is_config(), "{err}");
    }

    #[tokio::test]
    async fn a_taken_port_is_a_bind_error() {
        let taken = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let err = Receiver::builder()
            .without_grpc()
            .with_http_addr(taken.local_addr().unwrap())
            .start()
            .await
            .unwrap_err();
        assert!(err.is_bind(), "{err}");
    }
}
