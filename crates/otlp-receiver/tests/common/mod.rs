//! Shared by the integration tests: a receiver on free ports, and small hyper clients for
//! OTLP/HTTP and OTLP/gRPC. The requests they send are `otlp_proto::sample`'s.

// Each test file uses part of this module.
#![allow(dead_code)]

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use bytes::Bytes;
use http::{HeaderMap, Method, Request as HttpRequest, StatusCode};
use http_body_util::BodyExt;
use http_body_util::combinators::BoxBody;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use otlp_proto::grpc::code;
use otlp_proto::{Compression, Encoding, Message, Request, grpc, rpc};
use otlp_receiver::{
    MemorySink, Receiver, ReceiverBuilder, Refusal, RunningReceiver, ScriptedSink, Sink,
};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A receiver on free loopback ports, both transports.
pub async fn start(sink: impl Sink) -> RunningReceiver {
    start_with(builder().with_sink(sink)).await
}

/// The builder [`start`] uses: both transports on free loopback ports.
pub fn builder() -> ReceiverBuilder {
    Receiver::builder().with_free_loopback_ports()
}

pub async fn start_with(builder: ReceiverBuilder) -> RunningReceiver {
    builder.start().await.expect("receiver starts")
}

/// A receiver on free loopback ports that keeps what it receives, and the sink holding it.
pub async fn start_memory() -> (MemorySink, RunningReceiver) {
    let sink = MemorySink::new();
    let receiver = start(sink.clone()).await;
    (sink, receiver)
}

/// A receiver on free loopback ports accepting requests of at most `max_request_size` bytes.
pub async fn start_limited(sink: impl Sink, max_request_size: usize) -> RunningReceiver {
    start_with(
        builder()
            .with_sink(sink)
            .with_max_request_size(max_request_size),
    )
    .await
}

/// 50 MiB of zeros compressed with each compression there is: zip bombs, each under 1 MiB.
pub fn zip_bombs() -> Vec<(Compression, Bytes)> {
    let zeros = vec![0u8; 50 << 20];
    [Compression::Gzip, Compression::Zstd]
        .into_iter()
        .map(|compression| {
            let bomb = compress(compression, &zeros);
            assert!(
                bomb.len() < 1 << 20,
                "the {compression} bomb itself is small"
            );
            (compression, bomb)
        })
        .collect()
}

/// Every kind of refusal, with the HTTP status and the gRPC code it must be answered with. The
/// messages hold what gRPC must percent-encode.
pub fn refusal_cases() -> [(Refusal, StatusCode, i32); 4] {
    [
        (
            Refusal::unavailable("down for maintenance"),
            StatusCode::SERVICE_UNAVAILABLE,
            code::UNAVAILABLE,
        ),
        (
            Refusal::resource_exhausted("slow down"),
            StatusCode::TOO_MANY_REQUESTS,
            code::RESOURCE_EXHAUSTED,
        ),
        (
            Refusal::invalid_argument("bad data"),
            StatusCode::BAD_REQUEST,
            code::INVALID_ARGUMENT,
        ),
        (
            Refusal::internal("100% broken"),
            StatusCode::INTERNAL_SERVER_ERROR,
            code::INTERNAL,
        ),
    ]
}

/// A sink refusing the [`refusal_cases`] in turn, each with `retry_after`, then once more as
/// `unavailable("no hint")`, without a delay.
pub fn refusing_each_case(retry_after: std::time::Duration) -> ScriptedSink {
    refusal_cases()
        .into_iter()
        .fold(
            ScriptedSink::new(MemorySink::new()),
            |script, (refusal, ..)| script.then_refuse(refusal.with_retry_after(retry_after)),
        )
        .then_refuse(Refusal::unavailable("no hint"))
}

pub fn compress(compression: Compression, data: &[u8]) -> Bytes {
    let mut out = Vec::new();
    compression.compress(data, &mut out).expect("compresses");
    out.into()
}

// ---- clients ---------------------------------------------------------------------------------

pub type TestBody = BoxBody<Bytes, Infallible>;
pub type TestClient = Client<HttpConnector, TestBody>;

pub fn full(bytes: impl Into<Bytes>) -> TestBody {
    http_body_util::Full::new(bytes.into()).boxed()
}

/// A body sent in `parts`, without a `Content-Length` (HTTP/1.1 chunked encoding).
pub fn chunked(parts: Vec<Bytes>) -> TestBody {
    Chunks(parts.into()).boxed()
}

struct Chunks(std::collections::VecDeque<Bytes>);

impl http_body::Body for Chunks {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.0.pop_front().map(|b| Ok(http_body::Frame::data(b))))
    }
}

/// An HTTP/1.1 client.
pub fn http1_client() -> TestClient {
    Client::builder(TokioExecutor::new()).build_http()
}

/// An HTTP/2 client with prior knowledge (h2c), as gRPC uses.
pub fn h2_client() -> TestClient {
    Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http()
}

/// A response, read to the end.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub trailers: Option<HeaderMap>,
}

impl Reply {
    /// The `google.rpc.Status` of an OTLP/HTTP error body, in the response's content type.
    pub fn rpc_status(&self) -> rpc::Status {
        let json =
            self.headers.get("content-type").map(|v| v.as_bytes()) == Some(b"application/json");
        if json {
            rpc::Status::from_json(&self.body).expect("JSON status body")
        } else {
            rpc::Status::decode(&self.body).expect("protobuf status body")
        }
    }
}

pub async fn send(client: &TestClient, request: HttpRequest<TestBody>) -> Reply {
    let response = client.request(request).await.expect("response");
    let (parts, body) = response.into_parts();
    let collected = body.collect().await.expect("body");
    let trailers = collected.trailers().cloned();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body: collected.to_bytes(),
        trailers,
    }
}

/// A POST of `body` to `path` at `addr`, with `headers`.
pub fn post_request(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    body: TestBody,
) -> HttpRequest<TestBody> {
    let mut request = HttpRequest::builder()
        .method(Method::POST)
        .uri(format!("http://{addr}{path}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.body(body).expect("request")
}

/// POSTs `body` to `path` at `addr` (either listener).
pub async fn post(
    client: &TestClient,
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    body: TestBody,
) -> Reply {
    send(client, post_request(addr, path, headers, body)).await
}

/// POSTs an OTLP request, encoded and compressed as asked.
pub async fn export_http(
    client: &TestClient,
    addr: SocketAddr,
    request: &Request,
    encoding: Encoding,
    compression: Compression,
) -> (Reply, Bytes) {
    let body = compress(compression, &request.encode(encoding));
    let mut headers = vec![("content-type", encoding.content_type())];
    if let Some(token) = compression.encoding_token() {
        headers.push(("content-encoding", token));
    }
    let path = request.signal().http_path();
    (
        post(client, addr, path, &headers, full(body.clone())).await,
        body,
    )
}

// ---- gRPC ------------------------------------------------------------------------------------

/// A gRPC answer: HTTP status, headers, the response message (unframed) and the status from the
/// trailers, or from the headers of a trailers-only response.
#[derive(Debug)]
pub struct GrpcReply {
    pub http: StatusCode,
    pub headers: HeaderMap,
    pub message: Option<Bytes>,
    pub code: Option<i32>,
    pub status_message: String,
    pub details: Option<rpc::Status>,
}

/// Frames `request` as a gRPC message, compressed as asked.
pub fn grpc_body(request: &Request, compression: Compression) -> Bytes {
    let message = request.encode(Encoding::Protobuf);
    match compression {
        Compression::None => grpc::frame(false, &message).into(),
        c => grpc::frame(true, &compress(c, &message)).into(),
    }
}

/// Calls `path` on the gRPC listener with a raw `body`.
pub async fn grpc_call(
    client: &TestClient,
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> GrpcReply {
    let mut all = vec![("content-type", "application/grpc"), ("te", "trailers")];
    all.extend_from_slice(headers);
    grpc_reply(post(client, addr, path, &all, full(body)).await)
}

pub fn grpc_reply(reply: Reply) -> GrpcReply {
    // Trailers-only responses carry the status in the headers.
    let meta = reply
        .trailers
        .clone()
        .unwrap_or_else(|| reply.headers.clone());
    let code = meta
        .get("grpc-status")
        .map(|v| v.to_str().expect("ascii").parse().expect("number"));
    let status_message = meta
        .get("grpc-message")
        .map(|v| grpc::decode_message(v.as_bytes()))
        .unwrap_or_default();
    let details = meta
        .get("grpc-status-details-bin")
        .map(|v| decode_details(v.as_bytes()));
    let message = (!reply.body.is_empty()).then(|| {
        let (compressed, range) = grpc::decode_frame(&reply.body, usize::MAX).expect("one frame");
        assert!(!compressed, "the server answers uncompressed");
        reply.body.slice(range)
    });
    GrpcReply {
        http: reply.status,
        headers: reply.headers,
        message,
        code,
        status_message,
        details,
    }
}

/// Decodes `grpc-status-details-bin`, padded or not, as gRPC peers must accept both.
pub fn decode_details(value: &[u8]) -> rpc::Status {
    let engine = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let raw = engine.decode(value).expect("base64");
    rpc::Status::decode(&raw.into()).expect("google.rpc.Status")
}
