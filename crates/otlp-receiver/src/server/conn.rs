//! Listening: the accept loop of each listener, and the task that serves each connection.

use super::Shared;
use crate::Transport;
use crate::reply::ReplyBody;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

/// A client that has not finished its TLS handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Accepts connections until `stop` changes (or its sender is dropped), then closes the listener
/// and waits for open connections to finish their requests. The caller bounds that wait: aborting
/// this task drops every connection with it.
pub(crate) async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    transport: Transport,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
    // Owning the connection tasks here means aborting this task aborts them too.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    // Responses are small and written at once: do not let Nagle hold them.
                    let _ = stream.set_nodelay(true);
                    let watcher = graceful.watcher();
                    connections.spawn(connection(stream, tls.clone(), transport, shared.clone(), watcher));
                }
                // Out of file descriptors and the like: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = stop.changed() => break,
        }
    }
    drop(listener);
    graceful.shutdown().await;
}

/// Serves one connection. Whatever happens to it (bad handshake, protocol error, reset) ends here
/// and concerns no other connection.
async fn connection(
    stream: TcpStream,
    tls: Option<TlsAcceptor>,
    transport: Transport,
    shared: Arc<Shared>,
    watcher: Watcher,
) {
    match tls {
        None => serve_io(TokioIo::new(stream), transport, shared, watcher).await,
        Some(acceptor) => {
            let handshake = acceptor.accept(stream).into_fallible();
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
                Ok(Ok(stream)) => serve_io(TokioIo::new(stream), transport, shared, watcher).await,
                // The handshake failed (no client certificate, wrong CA, ...). rustls has written
                // its alert; closing with unread client bytes in the socket would make the
                // kernel send a reset that can destroy that alert before the client reads it.
                // Close our side first, then drain briefly, so the client sees why.
                Ok(Err((_, mut stream))) => linger_close(&mut stream).await,
                Err(_) => {}
            }
        }
    }
}

/// Shuts down the write side and reads (and discards) what the peer still sends, for a moment.
async fn linger_close(stream: &mut TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let _ = stream.shutdown().await;
    let mut sink = [0u8; 4096];
    let drain = async {
        while let Ok(n) = stream.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(std::time::Duration::from_millis(500), drain).await;
}

async fn serve_io<I>(io: TokioIo<I>, transport: Transport, shared: Arc<Shared>, watcher: Watcher)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |request: http::Request<Incoming>| {
        let shared = shared.clone();
        async move {
            let response: http::Response<ReplyBody> = match transport {
                Transport::Grpc => super::grpc::handle(&shared, request).await,
                Transport::Http => super::http::handle(&shared, request).await,
            };
            Ok::<_, Infallible>(response)
        }
    });
    // Connection errors (resets, protocol violations) are the client's problem: nothing to do.
    match transport {
        Transport::Grpc => {
            // gRPC is HTTP/2 only: cleartext with prior knowledge, or TLS with ALPN h2.
            let mut builder = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
            builder.timer(TokioTimer::new());
            let _ = watcher.watch(builder.serve_connection(io, service)).await;
        }
        Transport::Http => {
            let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            builder.http1().timer(TokioTimer::new());
            builder.http2().timer(TokioTimer::new());
            let _ = watcher.watch(builder.serve_connection(io, service)).await;
        }
    }
}
