//! Small hyper clients for OTLP/HTTP and OTLP/gRPC, for tests that send what an exporter would
//! not: raw bodies, chunked bodies, bad headers, hand-framed gRPC messages.

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use bytes::Bytes;
use http::{HeaderMap, Method, Request as HttpRequest, StatusCode};
use http_body_util::BodyExt;
use http_body_util::combinators::BoxBody;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use otlp_proto::{Compression, Encoding, Message, Request, grpc, rpc};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

/// `data` compressed with `compression`.
pub fn compress(compression: Compression, data: &[u8]) -> Bytes {
    let mut out = Vec::new();
    compression.compress(data, &mut out).expect("compresses");
    out.into()
}

/// A request body of any kind.
pub type TestBody = BoxBody<Bytes, Infallible>;
/// A client over cleartext TCP.
pub type TestClient = Client<HttpConnector, TestBody>;

/// A body of `bytes`, with its `Content-Length`.
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
    /// The HTTP status.
    pub status: StatusCode,
    /// The response headers.
    pub headers: HeaderMap,
    /// The whole body.
    pub body: Bytes,
    /// The trailers, if any.
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

/// Sends `request` and reads the whole response.
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
    /// The HTTP status (200 for every gRPC answer).
    pub http: StatusCode,
    /// The response headers.
    pub headers: HeaderMap,
    /// The response message, unframed, if one was sent.
    pub message: Option<Bytes>,
    /// `grpc-status`.
    pub code: Option<i32>,
    /// `grpc-message`, percent-decoded.
    pub status_message: String,
    /// `grpc-status-details-bin`, decoded.
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

/// The gRPC answer an HTTP/2 response holds.
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
