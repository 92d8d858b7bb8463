//! A scripted OTLP/Arrow (OTAP) server for the exporter's tests: an HTTP/2 server decoding
//! `ArrowTracesService/ArrowTraces`, `ArrowLogsService/ArrowLogs` and
//! `ArrowMetricsService/ArrowMetrics` streams with `otlp-otap`'s decoders (one per stream,
//! as a receiver keeps), answering each batch as its [`Script`] says, and serving the OTLP/gRPC
//! unary `Export` methods too (the fallback's target).
//!
//! Only what the exporter's tests need: no TLS, no limits. What it accepted (batches answered
//! OK, unary requests) is in [`OtapServer::requests`].
//!
//! ```no_run
//! # async fn demo() {
//! use test_support::otap::{OtapServer, Script};
//! let server = OtapServer::start(Script::default()).await;
//! let endpoint = server.endpoint(); // http://127.0.0.1:port
//! // ... export to it with Protocol::Otap ...
//! let requests = server.requests();
//! # }
//! ```

use bytes::{Buf, Bytes, BytesMut};
use http::{HeaderMap, HeaderValue, Request, Response};
use http_body::{Body, Frame};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use otlp_otap::{
    BatchArrowRecords, BatchStatus, LogsDecoder, MetricsDecoder, StatusCode, TracesDecoder,
};
use otlp_proto::grpc::FRAME_HEADER_LEN;
use otlp_proto::{Compression, Encoding, Message, Signal};
use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// The largest message the server decompresses.
const MAX_MESSAGE: usize = 64 << 20;

/// How the server answers.
#[derive(Debug, Default, Clone)]
pub struct Script {
    /// Answer every Arrow call `UNIMPLEMENTED` (a plain OTLP receiver); OTLP/gRPC unary
    /// exports are served as always.
    pub unimplemented: bool,
    /// The statuses of the next batches received, in order; `OK` once it is empty.
    pub statuses: VecDeque<StatusCode>,
    /// Hold acknowledgements until this many are held, then send them newest first
    /// (out of order); held ones also go after a quiet moment, or when the client ends its
    /// side. 0 or 1: in order.
    pub reverse_acks: usize,
    /// Reset a stream when it receives its batch number `n` (1-based), without answering
    /// it; for the first [`resets`](Self::resets) streams that get that far.
    pub reset_at_batch: Option<usize>,
    /// How many streams [`reset_at_batch`](Self::reset_at_batch) resets.
    pub resets: usize,
}

/// What the server saw and accepted.
#[derive(Debug, Default)]
struct Shared {
    script: Mutex<Script>,
    /// Batches answered OK and unary requests, in the order accepted.
    accepted: Mutex<Vec<otlp_proto::Request>>,
    /// Batches decoded and answered with an error status.
    refused: Mutex<Vec<otlp_proto::Request>>,
    /// The request headers of each Arrow stream, in the order opened.
    stream_headers: Mutex<Vec<HeaderMap>>,
    streams: AtomicUsize,
    batches: AtomicUsize,
    unary: AtomicUsize,
    /// Acknowledgements sent after one of a later batch.
    reordered: AtomicUsize,
    resets_done: AtomicUsize,
    /// Streams whose client ended its side (the request body finished), not cut.
    ended: AtomicUsize,
}

/// A running scripted OTAP server; stops when dropped.
#[derive(Debug)]
pub struct OtapServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    tasks: Option<JoinSet<()>>,
}

impl OtapServer {
    /// Starts a server on a free loopback port.
    pub async fn start(script: Script) -> OtapServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let shared = Arc::new(Shared {
            script: Mutex::new(script),
            ..Shared::default()
        });
        let mut server = OtapServer {
            addr,
            shared,
            tasks: None,
        };
        server.serve(listener);
        server
    }

    fn serve(&mut self, listener: tokio::net::TcpListener) {
        let mut tasks = JoinSet::new();
        let shared = self.shared.clone();
        let connections = Arc::new(Mutex::new(JoinSet::new()));
        let _ = tasks.spawn(async move {
            // Connections die with the accept task (aborting it drops this set).
            let connections = connections;
            while let Ok((tcp, _)) = listener.accept().await {
                let shared = shared.clone();
                let service = hyper::service::service_fn(move |request| {
                    let shared = shared.clone();
                    async move { Ok::<_, Infallible>(handle(shared, request).await) }
                });
                let _ = connections.lock().unwrap().spawn(async move {
                    let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tcp), service)
                        .await;
                });
            }
        });
        self.tasks = Some(tasks);
    }

    /// `http://addr`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Goes away: closes the listener and every connection (streams break).
    pub fn stop(&mut self) {
        // Dropping the set aborts the accept task, which drops the connections' set.
        self.tasks = None;
    }

    /// Comes back on the same port, with the same script and records.
    pub async fn restart(&mut self) {
        self.stop();
        let listener = loop {
            match tokio::net::TcpListener::bind(self.addr).await {
                Ok(l) => break l,
                // The old socket may linger a moment.
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
            }
        };
        self.serve(listener);
    }

    /// Replaces the script (for the batches from now on).
    pub fn set_script(&self, script: Script) {
        *self.shared.script.lock().unwrap() = script;
    }

    /// The requests accepted: batches answered OK (decoded) and unary exports, in order.
    pub fn requests(&self) -> Vec<otlp_proto::Request> {
        self.shared.accepted.lock().unwrap().clone()
    }

    /// The batches answered with an error status (decoded).
    pub fn refused(&self) -> Vec<otlp_proto::Request> {
        self.shared.refused.lock().unwrap().clone()
    }

    /// The request headers of each Arrow stream, in the order opened.
    pub fn stream_headers(&self) -> Vec<HeaderMap> {
        self.shared.stream_headers.lock().unwrap().clone()
    }

    /// Arrow streams opened.
    pub fn streams(&self) -> usize {
        self.shared.streams.load(Ordering::SeqCst)
    }

    /// Streams whose client ended its side cleanly (its request body finished), rather than
    /// cutting the stream or the connection.
    pub fn streams_ended(&self) -> usize {
        self.shared.ended.load(Ordering::SeqCst)
    }

    /// Arrow batches received (answered or not).
    pub fn batches(&self) -> usize {
        self.shared.batches.load(Ordering::SeqCst)
    }

    /// OTLP/gRPC unary exports received.
    pub fn unary(&self) -> usize {
        self.shared.unary.load(Ordering::SeqCst)
    }

    /// Acknowledgements sent after that of a later batch of the same stream.
    pub fn reordered(&self) -> usize {
        self.shared.reordered.load(Ordering::SeqCst)
    }

    /// Streams reset by [`Script::reset_at_batch`].
    pub fn resets(&self) -> usize {
        self.shared.resets_done.load(Ordering::SeqCst)
    }
}

/// A response body fed through a channel; an `Err` resets the stream.
struct ChannelBody(mpsc::UnboundedReceiver<Result<Frame<Bytes>, std::io::Error>>);

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        self.0.poll_recv(cx)
    }
}

fn grpc_response(
    status: Option<i32>,
) -> (
    Response<ChannelBody>,
    mpsc::UnboundedSender<Result<Frame<Bytes>, std::io::Error>>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let mut response = Response::new(ChannelBody(rx));
    let headers = response.headers_mut();
    headers.insert("content-type", HeaderValue::from_static("application/grpc"));
    if let Some(code) = status {
        headers.insert("grpc-status", HeaderValue::from(code));
        drop(tx);
        let (tx, _) = mpsc::unbounded_channel();
        return (response, tx);
    }
    (response, tx)
}

fn trailers(code: i32) -> Frame<Bytes> {
    let mut map = HeaderMap::new();
    map.insert("grpc-status", HeaderValue::from(code));
    Frame::trailers(map)
}

fn frame<M: Message>(message: &M) -> Bytes {
    let mut buf = otlp_proto::RevBuf::new();
    otlp_proto::grpc::encode_frame(message, &mut buf);
    buf.into_bytes()
}

async fn handle(shared: Arc<Shared>, request: Request<Incoming>) -> Response<ChannelBody> {
    let path = request.uri().path().to_owned();
    if let Some(signal) = otlp_otap::signal_of_method(&path) {
        if shared.script.lock().unwrap().unimplemented {
            return grpc_response(Some(otlp_proto::grpc::code::UNIMPLEMENTED)).0;
        }
        let (response, tx) = grpc_response(None);
        drop(tokio::spawn(arrow_stream(shared, signal, request, tx)));
        return response;
    }
    match Signal::ALL.into_iter().find(|s| s.grpc_path() == path) {
        Some(signal) => unary(shared, signal, request).await,
        None => grpc_response(Some(otlp_proto::grpc::code::UNIMPLEMENTED)).0,
    }
}

/// The compression a request's `grpc-encoding` names (none when absent or unknown).
fn request_compression(headers: &HeaderMap) -> Compression {
    headers
        .get("grpc-encoding")
        .and_then(|v| v.to_str().ok())
        .and_then(Compression::from_encoding_token)
        .unwrap_or(Compression::None)
}

/// An OTLP/gRPC unary export, accepted.
async fn unary(
    shared: Arc<Shared>,
    signal: Signal,
    request: Request<Incoming>,
) -> Response<ChannelBody> {
    let compression = request_compression(request.headers());
    let body = request
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let (compressed, range) = otlp_proto::grpc::decode_frame(&body, MAX_MESSAGE).expect("frame");
    let mut message = body.slice(range);
    if compressed {
        message = compression
            .decompress(&message, MAX_MESSAGE)
            .expect("decompress")
            .into();
    }
    let decoded =
        otlp_proto::Request::decode(signal, Encoding::Protobuf, &message).expect("request");
    let _ = shared.unary.fetch_add(1, Ordering::SeqCst);
    shared.accepted.lock().unwrap().push(decoded);
    let (response, tx) = grpc_response(None);
    let _ = tx.send(Ok(Frame::data(Bytes::from_static(&[0, 0, 0, 0, 0]))));
    let _ = tx.send(Ok(trailers(0)));
    response
}

/// One stream's decoder.
enum Decoder {
    Traces(TracesDecoder),
    Logs(LogsDecoder),
    Metrics(MetricsDecoder),
}

impl Decoder {
    fn decode(&mut self, batch: &BatchArrowRecords) -> otlp_otap::Result<otlp_proto::Request> {
        Ok(match self {
            Decoder::Traces(d) => otlp_proto::Request::Traces(d.decode(batch)?),
            Decoder::Logs(d) => otlp_proto::Request::Logs(d.decode(batch)?),
            Decoder::Metrics(d) => otlp_proto::Request::Metrics(d.decode(batch)?),
        })
    }
}

/// Serves one Arrow stream: decodes each batch, answers as scripted.
async fn arrow_stream(
    shared: Arc<Shared>,
    signal: Signal,
    request: Request<Incoming>,
    tx: mpsc::UnboundedSender<Result<Frame<Bytes>, std::io::Error>>,
) {
    let _ = shared.streams.fetch_add(1, Ordering::SeqCst);
    shared
        .stream_headers
        .lock()
        .unwrap()
        .push(request.headers().clone());
    let compression = request_compression(request.headers());
    let mut decoder = match signal {
        Signal::Traces => Decoder::Traces(TracesDecoder::new()),
        Signal::Logs => Decoder::Logs(LogsDecoder::new()),
        _ => Decoder::Metrics(MetricsDecoder::new()),
    };
    let mut body = request.into_body();
    let mut inbound = BytesMut::new();
    let mut received = 0usize;
    let mut held: Vec<BatchStatus> = Vec::new();
    let mut highest_sent: Option<i64> = None;
    let send = |status: BatchStatus, highest: &mut Option<i64>| {
        if highest.is_some_and(|h| h > status.batch_id) {
            let _ = shared.reordered.fetch_add(1, Ordering::SeqCst);
        }
        *highest = Some(highest.map_or(status.batch_id, |h| h.max(status.batch_id)));
        let _ = tx.send(Ok(Frame::data(frame(&status))));
    };
    loop {
        // Held acknowledgements go after a quiet moment too: the client may be waiting for
        // them before it sends more.
        let next = if held.is_empty() {
            body.frame().await
        } else {
            match tokio::time::timeout(std::time::Duration::from_millis(50), body.frame()).await {
                Ok(next) => next,
                Err(_) => {
                    for status in held.drain(..).rev() {
                        send(status, &mut highest_sent);
                    }
                    continue;
                }
            }
        };
        let Some(next) = next else {
            let _ = shared.ended.fetch_add(1, Ordering::SeqCst);
            break;
        };
        let Ok(frame) = next else { return };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        inbound.extend_from_slice(&data);
        while inbound.len() >= FRAME_HEADER_LEN {
            let len = u32::from_be_bytes([inbound[1], inbound[2], inbound[3], inbound[4]]) as usize;
            if inbound.len() < FRAME_HEADER_LEN + len {
                break;
            }
            let compressed = inbound[0] == 1;
            inbound.advance(FRAME_HEADER_LEN);
            let mut message = inbound.split_to(len).freeze();
            if compressed {
                message = compression
                    .decompress(&message, MAX_MESSAGE)
                    .expect("decompress")
                    .into();
            }
            let batch = BatchArrowRecords::decode(&message).expect("a BatchArrowRecords");
            let _ = shared.batches.fetch_add(1, Ordering::SeqCst);
            received += 1;
            let reset = {
                let script = shared.script.lock().unwrap();
                script.reset_at_batch == Some(received)
                    && shared.resets_done.load(Ordering::SeqCst) < script.resets
            };
            if reset {
                let _ = shared.resets_done.fetch_add(1, Ordering::SeqCst);
                let _ = tx.send(Err(std::io::Error::other("scripted reset")));
                return;
            }
            // Decoding keeps the stream's IPC state whatever the answer.
            let decoded = decoder.decode(&batch);
            let (code, reverse) = {
                let mut script = shared.script.lock().unwrap();
                let code = script.statuses.pop_front().unwrap_or(StatusCode::Ok);
                (code, script.reverse_acks)
            };
            let code = match (&decoded, code) {
                (Err(_), _) => StatusCode::InvalidArgument,
                (Ok(_), c) => c,
            };
            match (decoded, code) {
                (Ok(request), StatusCode::Ok) => shared.accepted.lock().unwrap().push(request),
                (Ok(request), _) => shared.refused.lock().unwrap().push(request),
                (Err(_), _) => {}
            }
            held.push(BatchStatus {
                batch_id: batch.batch_id,
                status_code: code as i32,
                status_message: if code == StatusCode::Ok {
                    "".into()
                } else {
                    "scripted".into()
                },
            });
            if held.len() >= reverse.max(1) {
                for status in held.drain(..).rev() {
                    send(status, &mut highest_sent);
                }
            }
        }
    }
    for status in held.drain(..).rev() {
        send(status, &mut highest_sent);
    }
    let _ = tx.send(Ok(trailers(0)));
}
