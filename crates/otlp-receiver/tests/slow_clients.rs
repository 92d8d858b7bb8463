//! Clients that are slow, idle or many: the header, body and idle timeouts, and the connection
//! limit. The timeouts under test are a few hundred milliseconds, the others an hour, so only
//! the one under test can end a connection; every wait is bounded by a generous hang guard.

mod common;

use bytes::Bytes;
use common::*;
use http::StatusCode;
use http_body_util::BodyExt;
use hyper_util::rt::{TokioExecutor, TokioIo};
use otlp_proto::grpc::code;
use otlp_proto::{Compression, Encoding, Signal, sample};
use otlp_receiver::{MemorySink, ReceiverBuilder, RunningReceiver, ScriptedSink};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// The timeout under test.
const SHORT: Duration = Duration::from_millis(300);
/// The timeouts not under test.
const HOUR: Duration = Duration::from_secs(3600);
/// How long anything that must end may take before the test fails instead of hanging.
const GUARD: Duration = Duration::from_secs(10);
/// Between the bytes of a trickle: a trickle never pauses long enough for an idle clock.
const TRICKLE_PAUSE: Duration = Duration::from_millis(20);

/// A receiver whose timeouts are all an hour, but those the test sets.
fn patient() -> ReceiverBuilder {
    builder()
        .with_header_timeout(HOUR)
        .with_body_timeout(HOUR)
        .with_idle_timeout(HOUR)
}

fn http_addr(receiver: &RunningReceiver) -> SocketAddr {
    receiver.http_addr().expect("http")
}

fn grpc_addr(receiver: &RunningReceiver) -> SocketAddr {
    receiver.grpc_addr().expect("grpc")
}

/// The head of an OTLP/HTTP protobuf export declaring `content_length` bytes of body.
fn head(content_length: usize) -> Vec<u8> {
    format!(
        "POST /v1/traces HTTP/1.1\r\nhost: test\r\ncontent-type: application/x-protobuf\r\n\
         content-length: {content_length}\r\n\r\n"
    )
    .into_bytes()
}

/// Everything the peer sends until it closes the connection (or resets it).
async fn read_to_close(stream: &mut (impl AsyncRead + Unpin)) -> Vec<u8> {
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = stream.read(&mut buf).await {
        if n == 0 {
            break;
        }
        received.extend_from_slice(&buf[..n]);
    }
    received
}

/// [`read_to_close`] within the hang guard.
async fn closed(stream: &mut (impl AsyncRead + Unpin), what: &str) -> String {
    let received = tokio::time::timeout(GUARD, read_to_close(stream))
        .await
        .unwrap_or_else(|_| panic!("{what}: the server closed the connection"));
    String::from_utf8_lossy(&received).into_owned()
}

/// Reads one response head (the answers here have empty bodies: the head is all of it).
async fn response_head(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let mut byte = [0u8; 1];
    let read = async {
        while !received.ends_with(b"\r\n\r\n") {
            let n = stream.read(&mut byte).await.expect("read");
            assert_ne!(n, 0, "the connection closed before a response");
            received.push(byte[0]);
        }
    };
    tokio::time::timeout(GUARD, read).await.expect("a response");
    String::from_utf8_lossy(&received).into_owned()
}

/// Writes `bytes` one at a time, pausing between them, until done or the peer is gone.
fn trickle(mut writer: impl AsyncWrite + Unpin + Send + 'static, bytes: Vec<u8>) {
    tokio::spawn(async move {
        for byte in bytes {
            if writer.write_all(&[byte]).await.is_err() {
                break;
            }
            tokio::time::sleep(TRICKLE_PAUSE).await;
        }
    });
}

/// A request body that sends a byte, pauses, and sends another, for ever (until dropped).
fn trickled_body() -> TestBody {
    struct Trickle(mpsc::Receiver<Bytes>);
    impl http_body::Body for Trickle {
        type Data = Bytes;
        type Error = Infallible;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
            self.0
                .poll_recv(cx)
                .map(|chunk| chunk.map(|b| Ok(http_body::Frame::data(b))))
        }
    }
    let (tx, rx) = mpsc::channel(1);
    tokio::spawn(async move {
        while tx.send(Bytes::from_static(b"\0")).await.is_ok() {
            tokio::time::sleep(TRICKLE_PAUSE).await;
        }
    });
    Trickle(rx).boxed()
}

// ---- body timeout ----------------------------------------------------------------------------

#[tokio::test]
async fn an_http1_body_trickled_byte_by_byte_is_408_and_the_connection_closed() {
    let receiver = start_with(patient().with_body_timeout(SHORT)).await;
    let stream = TcpStream::connect(http_addr(&receiver))
        .await
        .expect("connect");
    let (mut reader, mut writer) = stream.into_split();
    writer.write_all(&head(1000)).await.expect("head");
    // 20 seconds of body at this pace, if nothing stops it.
    trickle(writer, vec![b'x'; 1000]);

    let answer = closed(&mut reader, "trickled body").await;
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("\r\nconnection: close\r\n"),
        "{answer}"
    );
    assert!(
        answer.contains("request body not received within 300ms"),
        "the message names the limit: {answer}"
    );
}

#[tokio::test]
async fn a_content_length_larger_than_what_is_sent_is_408() {
    let receiver = start_with(patient().with_body_timeout(SHORT)).await;
    let mut stream = TcpStream::connect(http_addr(&receiver))
        .await
        .expect("connect");
    let mut request = head(100);
    request.extend_from_slice(&[0u8; 10]);
    stream.write_all(&request).await.expect("request");

    let answer = closed(&mut stream, "short body").await;
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
    assert!(answer.contains("not received within 300ms"), "{answer}");
}

#[tokio::test]
async fn an_http2_body_trickled_is_deadline_exceeded_on_grpc_and_408_on_http() {
    let receiver = start_with(patient().with_body_timeout(SHORT)).await;
    let client = h2_client();

    let grpc_headers = [("content-type", "application/grpc"), ("te", "trailers")];
    let request = post_request(
        grpc_addr(&receiver),
        Signal::Traces.grpc_path(),
        &grpc_headers,
        trickled_body(),
    );
    let reply = tokio::time::timeout(GUARD, send(&client, request))
        .await
        .expect("the gRPC call ends");
    let reply = grpc_reply(reply);
    assert_eq!(reply.code, Some(code::DEADLINE_EXCEEDED));
    assert_eq!(
        reply.status_message,
        "request body not received within 300ms"
    );

    let request = post_request(
        http_addr(&receiver),
        Signal::Logs.http_path(),
        &[("content-type", "application/json")],
        trickled_body(),
    );
    let reply = tokio::time::timeout(GUARD, send(&client, request))
        .await
        .expect("the HTTP/2 request ends");
    assert_eq!(reply.status, StatusCode::REQUEST_TIMEOUT);
    assert!(
        !reply.headers.contains_key("connection"),
        "no connection header in HTTP/2"
    );
    let status = reply.rpc_status();
    assert_eq!(status.code, code::DEADLINE_EXCEEDED);
    assert_eq!(&*status.message, "request body not received within 300ms");

    // Only the streams ended: the same connections serve on.
    let (reply, _) = export_http(
        &client,
        http_addr(&receiver),
        &sample::request(Signal::Logs),
        Encoding::Protobuf,
        Compression::None,
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
}

// ---- header timeout --------------------------------------------------------------------------

#[tokio::test]
async fn a_trickled_request_head_is_disconnected_without_an_answer() {
    let receiver = start_with(patient().with_header_timeout(SHORT)).await;
    let stream = TcpStream::connect(http_addr(&receiver))
        .await
        .expect("connect");
    let (mut reader, writer) = stream.into_split();
    let mut slow = b"POST /v1/traces HTTP/1.1\r\nx-slow: ".to_vec();
    slow.extend_from_slice(&[b'a'; 1000]);
    trickle(writer, slow);

    let answer = closed(&mut reader, "trickled head").await;
    assert_eq!(answer, "", "no answer to a request never made");
}

#[tokio::test]
async fn a_silent_connection_is_dropped_after_the_header_timeout_on_both_listeners() {
    let receiver = start_with(patient().with_header_timeout(SHORT)).await;
    for addr in [http_addr(&receiver), grpc_addr(&receiver)] {
        let mut silent = TcpStream::connect(addr).await.expect("connect");
        // Half an HTTP/2 preface: on the HTTP listener, the server cannot even tell the
        // protocol yet. (The gRPC listener speaks first: its SETTINGS.)
        let mut half_preface = TcpStream::connect(addr).await.expect("connect");
        half_preface
            .write_all(b"PRI * HTTP/2.0\r\n")
            .await
            .expect("write");
        closed(&mut silent, "silent").await;
        closed(&mut half_preface, "half a preface").await;
    }
}

#[tokio::test]
async fn on_http1_keep_alive_the_next_head_has_the_header_timeout_too() {
    let receiver = start_with(patient().with_header_timeout(SHORT)).await;
    let mut stream = TcpStream::connect(http_addr(&receiver))
        .await
        .expect("connect");
    stream.write_all(&head(0)).await.expect("request");
    assert!(
        response_head(&mut stream)
            .await
            .starts_with("HTTP/1.1 200 ")
    );

    // Idle for longer than the header timeout: the idle clock (an hour) runs, not that one.
    tokio::time::sleep(SHORT * 3).await;
    stream.write_all(&head(0)).await.expect("second request");
    let second = response_head(&mut stream).await;
    assert!(second.starts_with("HTTP/1.1 200 "), "{second}");

    // The first byte of the third head starts the header clock.
    let (mut reader, writer) = stream.into_split();
    let mut slow = b"POST /v1/traces HTTP/1.1\r\nx-slow: ".to_vec();
    slow.extend_from_slice(&[b'a'; 1000]);
    trickle(writer, slow);
    assert_eq!(closed(&mut reader, "trickled third head").await, "");
}

// ---- idle timeout ----------------------------------------------------------------------------

#[tokio::test]
async fn an_idle_http1_keep_alive_connection_is_closed() {
    let receiver = start_with(patient().with_idle_timeout(SHORT)).await;
    let mut stream = TcpStream::connect(http_addr(&receiver))
        .await
        .expect("connect");
    stream.write_all(&head(0)).await.expect("request");
    let answer = closed(&mut stream, "idle keep-alive").await;
    assert!(
        answer.starts_with("HTTP/1.1 200 "),
        "served first: {answer}"
    );
    assert!(
        !answer.to_ascii_lowercase().contains("connection: close"),
        "kept alive at first: {answer}"
    );
}

/// A socket that keeps a copy of everything it reads.
struct Recorded {
    stream: TcpStream,
    read: Arc<Mutex<Vec<u8>>>,
}

impl AsyncRead for Recorded {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.stream).poll_read(cx, buf);
        let mut read = this.read.lock().expect("lock");
        read.extend_from_slice(&buf.filled()[before..]);
        polled
    }
}

impl AsyncWrite for Recorded {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// The frame types and (for GOAWAY) error codes of an HTTP/2 server's byte stream.
fn goaway_codes(mut bytes: &[u8]) -> Vec<u32> {
    let mut codes = Vec::new();
    while bytes.len() >= 9 {
        let len = usize::from(bytes[0]) << 16 | usize::from(bytes[1]) << 8 | usize::from(bytes[2]);
        let Some(payload) = bytes.get(9..9 + len) else {
            break;
        };
        if bytes[3] == 0x7 && len >= 8 {
            codes.push(u32::from_be_bytes([
                payload[4], payload[5], payload[6], payload[7],
            ]));
        }
        bytes = &bytes[9 + len..];
    }
    codes
}

#[tokio::test]
async fn an_idle_http2_connection_gets_a_goaway_and_is_closed_on_both_listeners() {
    let receiver = start_with(patient().with_idle_timeout(SHORT)).await;
    for (addr, path, headers) in [
        (
            grpc_addr(&receiver),
            Signal::Traces.grpc_path(),
            [("content-type", "application/grpc"), ("te", "trailers")],
        ),
        (
            http_addr(&receiver),
            Signal::Traces.http_path(),
            [
                ("content-type", "application/x-protobuf"),
                ("te", "trailers"),
            ],
        ),
    ] {
        let read = Arc::new(Mutex::new(Vec::new()));
        let stream = TcpStream::connect(addr).await.expect("connect");
        let io = TokioIo::new(Recorded {
            stream,
            read: read.clone(),
        });
        let (mut sender, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
            .await
            .expect("h2 handshake");
        let conn = tokio::spawn(conn);
        let body = if path.starts_with("/v1/") {
            Bytes::new()
        } else {
            grpc_body(&sample::request(Signal::Traces), Compression::None)
        };
        let response = sender
            .send_request(post_request(addr, path, &headers, full(body)))
            .await
            .expect("served");
        assert_eq!(response.status(), StatusCode::OK);
        response.into_body().collect().await.expect("body");

        tokio::time::timeout(GUARD, conn)
            .await
            .expect("the server closes the idle connection")
            .expect("connection task")
            .expect("a clean close");
        let codes = goaway_codes(&read.lock().expect("lock"));
        assert_eq!(codes.first(), Some(&0), "a GOAWAY with NO_ERROR: {codes:?}");
    }
}

// ---- shutdown --------------------------------------------------------------------------------

#[tokio::test]
async fn shutdown_does_not_wait_for_connections_without_a_request() {
    let receiver = start_with(patient().with_shutdown_timeout(HOUR)).await;
    let mut silent = Vec::new();
    for addr in [http_addr(&receiver), grpc_addr(&receiver)] {
        silent.push(TcpStream::connect(addr).await.expect("connect"));
    }
    let mut half_head = TcpStream::connect(http_addr(&receiver))
        .await
        .expect("connect");
    half_head
        .write_all(b"POST /v1/traces HTTP/1.1\r\nx-slow: ")
        .await
        .expect("write");
    // And one idle between requests, closed gracefully.
    let mut served = TcpStream::connect(http_addr(&receiver))
        .await
        .expect("connect");
    served.write_all(&head(0)).await.expect("request");
    assert!(
        response_head(&mut served)
            .await
            .starts_with("HTTP/1.1 200 ")
    );

    tokio::time::timeout(GUARD, receiver.shutdown())
        .await
        .expect("shutdown does not wait for them");
    for stream in silent.iter_mut().chain([&mut half_head, &mut served]) {
        closed(stream, "at shutdown").await;
    }
}

// ---- connection limit ------------------------------------------------------------------------

#[tokio::test]
async fn a_crowd_of_idle_connections_does_not_lock_out_clients() {
    const LIMIT: usize = 16;
    const CROWD: usize = 200;
    let sink = MemorySink::new();
    let receiver = start_with(
        patient()
            .with_sink(sink.clone())
            .with_max_connections(LIMIT),
    )
    .await;

    // Both listeners, in turn: silent connections, half heads and half prefaces.
    let mut crowd = Vec::new();
    for i in 0..CROWD {
        let addr = if i % 2 == 0 {
            http_addr(&receiver)
        } else {
            grpc_addr(&receiver)
        };
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        match i % 4 {
            0 => {
                stream
                    .write_all(b"POST /v1/traces HTTP/1.1\r\nx-slow: ")
                    .await
            }
            1 => stream.write_all(b"PRI * HTTP/2.0\r\n").await,
            _ => Ok(()),
        }
        .expect("write");
        crowd.push(stream);
    }

    let (reply, _) = tokio::time::timeout(
        GUARD,
        export_http(
            &http1_client(),
            http_addr(&receiver),
            &sample::request(Signal::Logs),
            Encoding::Protobuf,
            Compression::None,
        ),
    )
    .await
    .expect("the HTTP client is served");
    assert_eq!(reply.status, StatusCode::OK);
    let reply = tokio::time::timeout(
        GUARD,
        grpc_call(
            &h2_client(),
            grpc_addr(&receiver),
            Signal::Traces.grpc_path(),
            &[],
            grpc_body(&sample::request(Signal::Traces), Compression::None),
        ),
    )
    .await
    .expect("the gRPC client is served");
    assert_eq!(reply.code, Some(code::OK));
    assert_eq!(sink.len(), 2);

    // The oldest made room, and are closed, not left hanging. (The newest LIMIT - 2 may remain
    // open, beside the two clients'.)
    for (i, stream) in crowd.iter_mut().enumerate().take(CROWD - LIMIT) {
        let answer = closed(stream, &format!("crowd connection {i}")).await;
        assert!(
            !answer.contains("HTTP/1.1"),
            "crowd connection {i}: {answer}"
        );
    }
}

#[tokio::test]
async fn at_the_limit_with_every_connection_busy_a_new_one_is_closed_at_once() {
    let memory = MemorySink::new();
    let delay = Duration::from_secs(2);
    let script = ScriptedSink::new(memory.clone())
        .then_delay(delay)
        .then_delay(delay);
    let receiver = start_with(patient().with_sink(script.clone()).with_max_connections(2)).await;
    let addr = http_addr(&receiver);
    let mut busy = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream.write_all(&head(0)).await.expect("request");
        busy.push(stream);
    }
    // Both requests are parked in the sink's delay once both script steps are taken.
    let parked = async {
        while script.remaining_steps() > 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(GUARD, parked)
        .await
        .expect("both requests reach the sink");

    let mut refused = TcpStream::connect(addr).await.expect("the kernel accepts");
    assert_eq!(closed(&mut refused, "a third connection").await, "");

    // The busy ones are answered, then idle: evictable, so there is room again.
    for stream in &mut busy {
        assert!(response_head(stream).await.starts_with("HTTP/1.1 200 "));
    }
    let (reply, _) = export_http(
        &http1_client(),
        addr,
        &sample::request(Signal::Metrics),
        Encoding::Json,
        Compression::None,
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(memory.len(), 3);
}
