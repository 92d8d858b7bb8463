//! Request bodies: a unary request's bytes, or a stream of frames sent as they come; and
//! [`Route::open_stream`], a long-lived gRPC call (client-streaming or bidirectional, as
//! OTLP/Arrow's `ArrowTracesService/ArrowTraces` is) on a route's client and connections.

use super::route::{Route, request_error};
use crate::error::{Error, Kind};
use ::http::uri::PathAndQuery;
use ::http::{Method, Request, Response, Uri};
use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::sync::mpsc;

/// The body of a request: one client, so one connection pool, serves both kinds.
#[derive(Debug)]
pub(crate) enum RequestBody {
    /// A unary request's whole body; `None` once sent (or when empty).
    Full(Option<Bytes>),
    /// Frames sent as they are handed over; the body ends when every sender is dropped.
    Stream(mpsc::Receiver<Bytes>),
}

impl RequestBody {
    /// A unary body, sent in one piece.
    pub(crate) fn full(bytes: Bytes) -> Self {
        RequestBody::Full((!bytes.is_empty()).then_some(bytes))
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            RequestBody::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            RequestBody::Stream(frames) => {
                frames.poll_recv(cx).map(|f| f.map(|b| Ok(Frame::data(b))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, RequestBody::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            RequestBody::Full(bytes) => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
            RequestBody::Stream(_) => SizeHint::default(),
        }
    }
}

/// The server's answer to a stream's request: its headers and the body of its messages.
pub(crate) type ResponseFuture =
    Pin<Box<dyn Future<Output = Result<Response<Incoming>, Error>> + Send>>;

/// An open gRPC stream: frames go out through `frames` (each a gRPC length-prefixed message,
/// as [`otlp_proto::grpc::encode_frame`] writes it); dropping it ends the request. `response`
/// resolves to the server's answer (its body carries the server's messages as they come, its
/// trailers the status). The request goes out when `response` is first polled, and frames
/// may be sent before the server answers: a gRPC server may send its headers only with its
/// first message.
#[cfg_attr(not(any(test, feature = "arrow")), allow(dead_code))]
pub(crate) struct GrpcStream {
    pub(crate) frames: mpsc::Sender<Bytes>,
    pub(crate) response: ResponseFuture,
}

impl std::fmt::Debug for GrpcStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrpcStream").finish_non_exhaustive()
    }
}

impl Route<'_> {
    /// Opens a gRPC call of method `path` (for example
    /// `/opentelemetry.proto.experimental.arrow.v1.ArrowTracesService/ArrowTraces`) to this
    /// route's server, with the route's headers, on the route's client: an HTTP/2 stream beside
    /// the unary exports, on the same connections. Up to `buffer` frames wait to be sent.
    ///
    /// Not for OTLP/HTTP routes, whose connections may be HTTP/1.1.
    #[cfg_attr(not(any(test, feature = "arrow")), allow(dead_code))]
    pub(crate) fn open_stream(
        self,
        path: &'static str,
        buffer: usize,
    ) -> Result<GrpcStream, Error> {
        let spec = self.spec;
        if !spec.protocol.is_grpc() {
            return Err(Error::new(
                Kind::InvalidInput,
                format!(
                    "the {} route is not gRPC: it cannot open a stream",
                    spec.signal
                ),
            ));
        }
        let mut parts = spec.uri.clone().into_parts();
        parts.path_and_query = Some(PathAndQuery::from_static(path));
        let uri = Uri::from_parts(parts).map_err(|e| {
            Error::new(
                Kind::InvalidInput,
                format!("invalid method path {path:?}: {e}"),
            )
        })?;
        let (frames, rx) = mpsc::channel(buffer.max(1));
        let mut request = Request::new(RequestBody::Stream(rx));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = uri;
        *request.headers_mut() = spec.headers.clone();
        // The stream's messages may be compressed apart from the route's unary requests.
        super::grpc::set_encoding(request.headers_mut(), spec.stream_compression);
        let pending = self.client.request(request);
        let response: ResponseFuture =
            Box::pin(async move { pending.await.map_err(request_error) });
        Ok(GrpcStream { frames, response })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::Transport;
    use crate::{ExporterConfig, Protocol};
    use http_body_util::BodyExt;
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use otlp_proto::Signal;
    use std::time::Duration;

    const METHOD: &str =
        "/opentelemetry.proto.experimental.arrow.v1.ArrowTracesService/ArrowTraces";

    /// An HTTP/2 server that echoes every data frame of a request's body back in its response's
    /// body, as it arrives, and checks the method path.
    async fn echo_server() -> std::net::SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        drop(tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let service = hyper::service::service_fn(|request: Request<Incoming>| async move {
                    let path_ok = request.uri().path() == METHOD;
                    let (tx, rx) = mpsc::channel::<Bytes>(8);
                    let mut body = request.into_body();
                    drop(tokio::spawn(async move {
                        while let Some(Ok(frame)) = body.frame().await {
                            if let Ok(data) = frame.into_data()
                                && tx.send(data).await.is_err()
                            {
                                return;
                            }
                        }
                    }));
                    let status = if path_ok { 200 } else { 404 };
                    Response::builder()
                        .status(status)
                        .body(RequestBody::Stream(rx))
                });
                drop(tokio::spawn(
                    hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tcp), service),
                ));
            }
        }));
        addr
    }

    #[tokio::test]
    async fn a_bidi_stream_carries_frames_both_ways_on_a_route() {
        let addr = echo_server().await;
        let config = ExporterConfig::default()
            .with_protocol(Protocol::Grpc)
            .with_endpoint(format!("http://{addr}"));
        let signals = Signal::ALL
            .into_iter()
            .map(|s| config.resolve(s))
            .collect::<Result<Vec<_>, _>>()
            .expect("valid");
        let transport = Transport::new(&config, &signals).expect("transport");
        let connections = transport.connect();
        let GrpcStream { frames, response } = connections
            .route(Signal::Traces)
            .open_stream(METHOD, 4)
            .expect("opens");
        let response = response.await.expect("answered");
        assert_eq!(response.status(), 200, "the method path reached the server");
        let mut replies = response.into_body();
        // Each frame comes back before the next is sent: the two directions are live together.
        for i in 0..3u8 {
            let frame = Bytes::from(vec![0, 0, 0, 0, 1, i]);
            frames.send(frame.clone()).await.expect("sent");
            let echoed = tokio::time::timeout(Duration::from_secs(10), replies.frame())
                .await
                .expect("echoed in time")
                .expect("a frame")
                .expect("no error")
                .into_data()
                .expect("data");
            assert_eq!(echoed, frame);
        }
        drop(frames);
        // The end of the stream may come as an empty DATA frame first.
        loop {
            let end = tokio::time::timeout(Duration::from_secs(10), replies.frame())
                .await
                .expect("closing the request ends the response in time");
            match end {
                None => break,
                Some(Ok(frame)) => assert!(
                    frame.data_ref().is_some_and(Bytes::is_empty),
                    "nothing after the last echo: {frame:?}"
                ),
                Some(Err(e)) => panic!("the response failed: {e}"),
            }
        }
    }

    #[tokio::test]
    async fn streams_are_only_for_grpc_routes() {
        let config = ExporterConfig::default().with_protocol(Protocol::HttpProtobuf);
        let signals = Signal::ALL
            .into_iter()
            .map(|s| config.resolve(s))
            .collect::<Result<Vec<_>, _>>()
            .expect("valid");
        let transport = Transport::new(&config, &signals).expect("transport");
        let err = transport
            .connect()
            .route(Signal::Logs)
            .open_stream(METHOD, 1)
            .expect_err("not gRPC");
        assert!(err.is_invalid_input(), "{err}");
    }
}
