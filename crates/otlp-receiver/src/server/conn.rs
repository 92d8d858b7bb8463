//! Listening: the accept loop of each listener, and the task that serves and supervises each
//! connection (its timeouts, eviction and shutdown).

use super::Shared;
use super::activity::{Activity, Close, Verdict, Watched};
use super::limits::Slot;
use crate::Transport;
use crate::reply::ReplyBody;
use http::Version;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

/// How long a connection being closed for idleness or eviction may take to go (an HTTP/2 client
/// answering the GOAWAY's PING, say) before it is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

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
    // Owning the connection tasks here means aborting this task aborts them too.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    // At the limit with every connection busy: dropping it closes it at once.
                    let Some(slot) = shared.connections.admit() else { continue };
                    // Responses are small and written at once: do not let Nagle hold them.
                    let _ = stream.set_nodelay(true);
                    connections.spawn(connection(
                        stream,
                        slot,
                        tls.clone(),
                        transport,
                        shared.clone(),
                        stop.clone(),
                    ));
                }
                // Out of file descriptors before the connection limit: make room as the limit
                // would, then retry soon. Other errors: back off instead of spinning.
                Err(e) => {
                    let pause = if out_of_descriptors(&e) && shared.connections.free_a_descriptor() {
                        Duration::from_millis(1)
                    } else {
                        Duration::from_millis(50)
                    };
                    tokio::time::sleep(pause).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            _ = stop.changed() => break,
        }
    }
    drop(listener);
    // Every connection saw `stop` too, and is finishing its requests.
    while connections.join_next().await.is_some() {}
}

/// `EMFILE` or `ENFILE` (the same numbers on Linux, the BSDs and macOS).
fn out_of_descriptors(e: &io::Error) -> bool {
    cfg!(unix) && matches!(e.raw_os_error(), Some(23 | 24))
}

/// Serves one connection until it ends, times out, is evicted or the receiver stops. Whatever
/// happens to it (bad handshake, protocol error, reset) ends here and concerns no other
/// connection.
async fn connection(
    stream: TcpStream,
    slot: Slot,
    tls: Option<TlsAcceptor>,
    transport: Transport,
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
) {
    let activity = slot.activity().clone();
    let timeouts = shared.timeouts;
    let (close, closing) = watch::channel(false);
    let stream = Watched::new(stream, activity.clone());
    let serving = serve_stream(stream, tls, transport, shared, activity.clone(), closing);
    supervise(serving, &activity, &timeouts, stop, &close).await;
    // Only now does the connection leave the registry: it is closed.
    drop(slot);
}

/// Drives `serving` while watching the connection's clocks: asks it to close gracefully (through
/// `close`) when it has been idle too long, is evicted or the receiver stops, and drops it when a
/// graceful close is pointless (no complete head yet) or, but for stopping, takes longer than
/// [`CLOSE_GRACE`].
async fn supervise(
    serving: impl Future<Output = ()>,
    activity: &Activity,
    timeouts: &super::activity::Timeouts,
    mut stop: watch::Receiver<bool>,
    close: &watch::Sender<bool>,
) {
    tokio::pin!(serving);
    // Set once closing for idleness or eviction: when to give up waiting.
    let mut give_up: Option<Instant> = None;
    let mut stopping = false;
    loop {
        let deadline = match (give_up, stopping) {
            (None, false) => match activity.verdict(Instant::now(), timeouts) {
                Verdict::Keep(deadline) => deadline,
                Verdict::Close(Close::Now) => return,
                Verdict::Close(Close::Graceful) => {
                    let _ = close.send(true);
                    give_up = Some(Instant::now() + CLOSE_GRACE);
                    continue;
                }
            },
            // Stopping: the receiver's shutdown timeout bounds the wait.
            (None, true) => None,
            (Some(at), _) => Some(at),
        };
        tokio::select! {
            () = &mut serving => return,
            () = sleep_until(deadline) => {
                if give_up.is_some() {
                    // A request that began just as the connection was chosen may finish.
                    if !activity.is_busy() {
                        return;
                    }
                    give_up = Some(Instant::now() + CLOSE_GRACE);
                }
            }
            () = activity.changed() => {}
            _ = stop.changed(), if !stopping => {
                // Without a complete head there is no request to finish: no reason to wait.
                if activity.close_how() == Some(Close::Now) {
                    return;
                }
                stopping = true;
                let _ = close.send(true);
            }
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// The TLS handshake if any, then HTTP.
async fn serve_stream(
    stream: Watched<TcpStream>,
    tls: Option<TlsAcceptor>,
    transport: Transport,
    shared: Arc<Shared>,
    activity: Arc<Activity>,
    closing: watch::Receiver<bool>,
) {
    let Some(acceptor) = tls else {
        let io = TokioIo::new(stream);
        return serve_io(io, transport, shared, activity, closing).await;
    };
    // The header timeout bounds the handshake: the supervisor drops a connection without a head.
    match acceptor.accept(stream).into_fallible().await {
        Ok(stream) => {
            let io = TokioIo::new(stream);
            serve_io(io, transport, shared, activity, closing).await;
        }
        // The handshake failed (no client certificate, wrong CA, ...). rustls has written its
        // alert; closing with unread client bytes in the socket would make the kernel send a
        // reset that can destroy that alert before the client reads it. Close our side first,
        // then drain briefly, so the client sees why.
        Err((_, mut stream)) => linger_close(stream.get_mut()).await,
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
    let _ = tokio::time::timeout(Duration::from_millis(500), drain).await;
}

/// Serves connection `conn` to its end; once the receiver is closing (`closing` turns true),
/// shuts it down gracefully and lets it finish. A macro, as hyper's two connection types share
/// these methods but no trait.
macro_rules! until_closed {
    ($conn:expr, $closing:ident) => {{
        let conn = $conn;
        tokio::pin!(conn);
        let shutting_down = tokio::select! {
            _ = conn.as_mut() => false,
            _ = $closing.wait_for(|c| *c) => true,
        };
        if shutting_down {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }};
}

async fn serve_io<I>(
    io: TokioIo<I>,
    transport: Transport,
    shared: Arc<Shared>,
    activity: Arc<Activity>,
    mut closing: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let stopping = closing.clone();
    let service = service_fn(move |request: http::Request<Incoming>| {
        let shared = shared.clone();
        let stopping = stopping.clone();
        // From the head's arrival until the response is produced (the end of its body, for a
        // streaming call), the connection is busy.
        let busy = activity.start_request(request.version() < Version::HTTP_2);
        async move {
            let response: http::Response<ReplyBody> = match transport {
                Transport::Http => super::http::handle(&shared, request).await,
                Transport::Grpc | Transport::Otap => {
                    super::grpc::handle(&shared, request, stopping).await
                }
            };
            Ok::<_, Infallible>(response.map(|body| body.holding(busy)))
        }
    });
    // Connection errors (resets, protocol violations) are the client's problem: nothing to do.
    match transport {
        // The gRPC listener serves OTAP streams too.
        Transport::Grpc | Transport::Otap => {
            // gRPC is HTTP/2 only: cleartext with prior knowledge, or TLS with ALPN h2.
            let mut builder = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
            builder.timer(TokioTimer::new());
            until_closed!(builder.serve_connection(io, service), closing);
        }
        Transport::Http => {
            let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            // hyper's own header timeout would also run between requests, cutting the idle
            // timeout short: the supervisor keeps both clocks instead.
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(None);
            builder.http2().timer(TokioTimer::new());
            until_closed!(builder.serve_connection(io, service), closing);
        }
    }
}
