//! [`Connector`]: TCP through hyper-util's `HttpConnector`, writes gathered by
//! [`Coalesce`], then TLS through tokio-rustls for `https` endpoints. Written here rather than taken from hyper-rustls to keep TLS failures
//! recognisable (certificate errors are not retried) and to pull in no second crypto provider.

use super::coalesce::Coalesce;
use super::tls::{TlsConnector, TlsError};
use crate::error::{BoxError, find_cause, root_cause};
use http::Uri;
use http::uri::Scheme;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::rt::TokioIo;
#[cfg(feature = "tls")]
use rustls_pki_types::ServerName;
use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use tokio::net::TcpStream;
#[cfg(feature = "tls")]
use tokio_rustls::client::TlsStream;
use tower_service::Service;

/// Opens connections for the hyper client of one route.
#[derive(Clone)]
pub(crate) struct Connector {
    http: HttpConnector,
    /// Present for `https` routes only.
    tls: Option<TlsConnector>,
}

impl Connector {
    pub(crate) fn new(tls: Option<TlsConnector>) -> Self {
        let mut http = HttpConnector::new();
        // The scheme is checked here, not by HttpConnector, which only accepts `http`.
        http.enforce_http(false);
        http.set_nodelay(true);
        Connector { http, tls }
    }
}

impl fmt::Debug for Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connector")
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

/// Why a connection could not be made. The exporter tells TLS failures from the others.
#[derive(Debug)]
pub(crate) struct ConnectError {
    tls: bool,
    target: String,
    source: BoxError,
}

impl ConnectError {
    pub(crate) fn is_tls(&self) -> bool {
        self.tls
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.tls {
            write!(f, "TLS handshake with {} failed", self.target)?;
        } else {
            write!(f, "cannot connect to {}", self.target)?;
        }
        match find_cause::<TlsError>(&*self.source) {
            Some(tls) => write!(f, ": {}", super::tls::describe(tls)),
            None => write!(f, ": {}", root_cause(&*self.source)),
        }
    }
}

impl std::error::Error for ConnectError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}

impl Service<Uri> for Connector {
    type Response = Conn;
    type Error = ConnectError;
    type Future = Pin<Box<dyn Future<Output = Result<Conn, ConnectError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ConnectError>> {
        self.http.poll_ready(cx).map_err(|e| ConnectError {
            tls: false,
            target: "the endpoint".into(),
            source: e.into(),
        })
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let mut http = self.http.clone();
        let tls = self.tls.clone();
        Box::pin(async move {
            let target = dst.authority().map_or_else(String::new, |a| a.to_string());
            let https = dst.scheme() == Some(&Scheme::HTTPS);
            let host = dst.host().unwrap_or_default();
            // IPv6 literals come bracketed in URIs and bare in certificates.
            let host = host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned();
            std::future::poll_fn(|cx| http.poll_ready(cx))
                .await
                .map_err(|e| ConnectError {
                    tls: false,
                    target: target.clone(),
                    source: e.into(),
                })?;
            let tcp = http.call(dst).await.map_err(|e| ConnectError {
                tls: false,
                target: target.clone(),
                source: e.into(),
            })?;
            let tcp = Coalesce::new(tcp.into_inner());
            if !https {
                return Ok(Conn::Plain(TokioIo::new(tcp)));
            }
            let tls_error = |source: BoxError| ConnectError {
                tls: true,
                target: host.clone(),
                source,
            };
            #[cfg(not(feature = "tls"))]
            {
                let _ = (tls, tcp);
                Err(tls_error(
                    "TLS is not built in (the `tls` feature of otlp)".into(),
                ))
            }
            #[cfg(feature = "tls")]
            {
                let connector = tls.ok_or_else(|| tls_error("no TLS configuration".into()))?;
                let name =
                    ServerName::try_from(host.clone()).map_err(|e| tls_error(Box::new(e)))?;
                let stream = connector
                    .connect(name, tcp)
                    .await
                    .map_err(|e| tls_error(Box::new(e)))?;
                let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2".as_slice());
                Ok(Conn::Tls {
                    io: Box::new(TokioIo::new(stream)),
                    h2,
                    fate: TlsFate::default(),
                    broken: None,
                })
            }
        })
    }
}

/// A connection, plain or TLS.
#[derive(Debug)]
pub(crate) enum Conn {
    Plain(TokioIo<Coalesce<TcpStream>>),
    #[cfg(feature = "tls")]
    Tls {
        // Boxed: a TLS stream is a kilobyte, a TCP stream a few words.
        io: Box<TokioIo<TlsStream<Coalesce<TcpStream>>>>,
        /// Whether ALPN chose HTTP/2, which tells the pool to multiplex on this connection.
        h2: bool,
        fate: TlsFate,
        /// A write that failed because the server closed: held while what the server sent
        /// before closing is read (see [`Conn::tls_io`]).
        broken: Option<io::Error>,
    },
}

#[cfg(feature = "tls")]
impl Conn {
    /// A write (or flush) on a TLS connection, recording the TLS error that ends it.
    ///
    /// A server that refuses the client's certificate (Go's, for one) sends its alert and closes
    /// without reading the request the client already sent, so the kernel resets the connection
    /// and a write fails with a broken pipe while the alert still waits to be read. Such a write
    /// error is held until a read has taken in what the server sent (readiness arrives with the
    /// reset, so the wait is the kernel's), then returned: the fate then says why.
    fn tls_io<T>(
        io: &mut TokioIo<TlsStream<Coalesce<TcpStream>>>,
        fate: &TlsFate,
        broken: &mut Option<io::Error>,
        cx: &mut Context<'_>,
        op: impl FnOnce(
            Pin<&mut TokioIo<TlsStream<Coalesce<TcpStream>>>>,
            &mut Context<'_>,
        ) -> Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if broken.is_none() {
            match fate.observe(op(Pin::new(io), cx)) {
                Poll::Ready(Err(e))
                    if fate.error().is_none()
                        && matches!(
                            e.kind(),
                            io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
                        ) =>
                {
                    *broken = Some(e);
                }
                other => return other,
            }
        }
        // Straight from the socket into rustls: a read through the TLS stream (or `Coalesce`)
        // would first retry sending what the failed write left, and fail the same way.
        let (tcp, tls) = io.inner_mut().get_mut();
        let mut scratch = [0u8; 4096];
        // Bounded: application data past a few records is not an alert worth waiting for.
        for _ in 0..4 {
            let mut buf = tokio::io::ReadBuf::new(&mut scratch);
            match tokio::io::AsyncRead::poll_read(Pin::new(tcp.get_mut()), cx, &mut buf) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(())) if !buf.filled().is_empty() => {
                    let mut data = buf.filled();
                    while !data.is_empty() && matches!(tls.read_tls(&mut data), Ok(n) if n > 0) {}
                    if let Err(e) = tls.process_new_packets() {
                        let _ = fate.0.set(e);
                        break;
                    }
                }
                // The end of the stream or an error: nothing more to learn.
                Poll::Ready(_) => break,
            }
        }
        Poll::Ready(Err(broken
            .take()
            .unwrap_or_else(|| io::ErrorKind::BrokenPipe.into())))
    }
}

/// The TLS error that ended a connection, if one did.
///
/// A TLS 1.3 server refuses a client certificate with an alert that arrives after the client's
/// side of the handshake is done, so the request sees only "connection closed". The connection
/// records the alert here and hands this slot to the client's pool (as connection info), where
/// the failed request finds it: the error then says why, and is not retried.
#[derive(Debug, Clone, Default)]
pub(crate) struct TlsFate(Arc<OnceLock<TlsError>>);

impl TlsFate {
    pub(crate) fn error(&self) -> Option<&TlsError> {
        self.0.get()
    }

    #[cfg(feature = "tls")]
    fn observe<T>(&self, poll: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if let Poll::Ready(Err(e)) = &poll
            && let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<TlsError>())
        {
            let _ = self.0.set(tls.clone());
        }
        poll
    }
}

impl Connection for Conn {
    fn connected(&self) -> Connected {
        match self {
            Conn::Plain(io) => io.inner().get_ref().connected(),
            #[cfg(feature = "tls")]
            Conn::Tls { io, h2, fate, .. } => {
                let connected = io
                    .inner()
                    .get_ref()
                    .0
                    .get_ref()
                    .connected()
                    .extra(fate.clone());
                if *h2 {
                    connected.negotiated_h2()
                } else {
                    connected
                }
            }
        }
    }
}

impl Read for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(io) => Pin::new(io).poll_read(cx, buf),
            #[cfg(feature = "tls")]
            Conn::Tls {
                io, fate, broken, ..
            } => Conn::tls_io(io, fate, broken, cx, |io, cx| io.poll_read(cx, buf)),
        }
    }
}

impl Write for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(io) => Pin::new(io).poll_write(cx, buf),
            #[cfg(feature = "tls")]
            Conn::Tls {
                io, fate, broken, ..
            } => Conn::tls_io(io, fate, broken, cx, |io, cx| io.poll_write(cx, buf)),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(io) => Pin::new(io).poll_flush(cx),
            #[cfg(feature = "tls")]
            Conn::Tls {
                io, fate, broken, ..
            } => Conn::tls_io(io, fate, broken, cx, |io, cx| io.poll_flush(cx)),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(io) => Pin::new(io).poll_shutdown(cx),
            #[cfg(feature = "tls")]
            Conn::Tls { io, .. } => Pin::new(io).poll_shutdown(cx),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Conn::Plain(io) => io.is_write_vectored(),
            #[cfg(feature = "tls")]
            Conn::Tls { io, .. } => io.is_write_vectored(),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(io) => Pin::new(io).poll_write_vectored(cx, bufs),
            #[cfg(feature = "tls")]
            Conn::Tls {
                io, fate, broken, ..
            } => Conn::tls_io(io, fate, broken, cx, |io, cx| {
                io.poll_write_vectored(cx, bufs)
            }),
        }
    }
}
