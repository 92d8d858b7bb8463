//! A raw OTLP/Arrow (OTAP) stream client: one bidirectional gRPC call on an HTTP/2 connection
//! ([`clients::h2_client`](crate::clients::h2_client)), `BatchArrowRecords` (or any bytes) sent
//! as gRPC messages, `BatchStatus` answers read back, then the call's final status.
//!
//! It sends what it is given, well-formed or not, and waits for nothing but what the test asks
//! for, so it works against any OTAP server: ours, or the Collector's `otelarrowreceiver` (which
//! sends its response headers only with its first answer).
//!
//! ```no_run
//! # async fn example(addr: std::net::SocketAddr) {
//! use test_support::clients::h2_client;
//! use test_support::otap::{OtapStream, method};
//! let request = otlp_proto::collector::ExportTraceServiceRequest::default();
//! let batch = otlp_otap::encode_traces(&request).expect("encodes");
//! let mut stream = OtapStream::open(&h2_client(), addr, method(otlp_proto::Signal::Traces), &[]);
//! stream.send(&batch).await;
//! let status = stream.recv().await.expect("an answer");
//! assert_eq!(status.batch_id, batch.batch_id);
//! let end = stream.finish().await;
//! assert_eq!(end.code, Some(0));
//! # }
//! ```

use super::*;

/// One open OTAP call.
pub struct OtapStream {
    sender: Option<mpsc::Sender<Bytes>>,
    pending: Option<JoinHandle<Result<Response, String>>>,
    body: Option<UnsyncBoxBody<Bytes, String>>,
    buffer: BytesMut,
    headers: Option<HeaderMap>,
    end: Option<OtapEnd>,
}

impl std::fmt::Debug for OtapStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtapStream")
            .field("sending", &self.sender.is_some())
            .field("headers", &self.headers)
            .field("end", &self.end)
            .finish_non_exhaustive()
    }
}

/// How a call ended.
#[derive(Debug, Clone, Default)]
pub struct OtapEnd {
    /// `grpc-status` from the trailers (or the headers of a trailers-only answer); `None` if the
    /// call broke without one (a reset, a dropped connection).
    pub code: Option<i32>,
    /// `grpc-message`, percent-decoded.
    pub message: String,
    /// What broke the call, when it broke.
    pub error: Option<String>,
    /// The answers not yet read when [`OtapStream::finish`] was called.
    pub statuses: Vec<BatchStatus>,
}

impl OtapStream {
    /// Opens a call of `path` (see [`method`]) at `addr`, with `headers` added to gRPC's. The
    /// request is sent in the background: nothing waits for the server here.
    pub fn open(
        client: &TestClient,
        addr: SocketAddr,
        path: &str,
        headers: &[(&str, &str)],
    ) -> OtapStream {
        let (sender, frames) = mpsc::channel(16);
        let mut all = vec![("content-type", "application/grpc"), ("te", "trailers")];
        all.extend_from_slice(headers);
        let request = post_request(addr, path, &all, ChannelBody(frames).boxed());
        let client = client.clone();
        let pending = tokio::spawn(async move {
            let response = client.request(request).await.map_err(|e| e.to_string())?;
            Ok(response.map(|body| body.map_err(|e| e.to_string()).boxed_unsync()))
        });
        OtapStream {
            sender: Some(sender),
            pending: Some(pending),
            body: None,
            buffer: BytesMut::new(),
            headers: None,
            end: None,
        }
    }

    /// Sends `batch`, uncompressed. Returns false if the server no longer reads the call.
    pub async fn send(&mut self, batch: &BatchArrowRecords) -> bool {
        self.send_raw(frame(batch)).await
    }

    /// Sends `bytes` as they are (framed or not). Returns false if the server no longer reads
    /// the call.
    pub async fn send_raw(&mut self, bytes: Bytes) -> bool {
        let Some(sender) = &self.sender else {
            return false;
        };
        matches!(
            tokio::time::timeout(WAIT, sender.send(bytes)).await,
            Ok(Ok(()))
        )
    }

    /// Sends `batch` and waits for the next answer: the one to `batch` on a server that
    /// answers in order, as ours does. Fails the test if the call ends first.
    pub async fn exchange(&mut self, batch: &BatchArrowRecords) -> BatchStatus {
        self.send(batch).await;
        match self.recv().await {
            Some(status) => status,
            None => panic!(
                "the OTAP call ended instead of answering batch {}: {:?}",
                batch.batch_id, self.end
            ),
        }
    }

    /// Ends the sending side: the server then answers what it has and ends the call.
    pub fn close_send(&mut self) {
        self.sender = None;
    }

    /// The response headers, once the server sent them (after the first [`recv`](Self::recv)).
    pub fn headers(&self) -> Option<&HeaderMap> {
        self.headers.as_ref()
    }

    /// The next answer, or `None` once the call has ended (see [`end`](Self::end)). Fails the
    /// test if nothing comes within a minute.
    pub async fn recv(&mut self) -> Option<BatchStatus> {
        tokio::time::timeout(WAIT, self.next())
            .await
            .expect("the OTAP server answers within a minute")
    }

    /// How the call ended, once [`recv`](Self::recv) returned `None`.
    pub fn end(&self) -> Option<&OtapEnd> {
        self.end.as_ref()
    }

    /// Closes the sending side and reads the call to its end: the answers not read yet and the
    /// final status.
    pub async fn finish(mut self) -> OtapEnd {
        self.close_send();
        let mut statuses = Vec::new();
        while let Some(status) = self.recv().await {
            statuses.push(status);
        }
        let mut end = self.end.take().unwrap_or_default();
        end.statuses = statuses;
        end
    }

    async fn next(&mut self) -> Option<BatchStatus> {
        if self.end.is_some() {
            return None;
        }
        if let Some(pending) = self.pending.take() {
            let response = match pending.await {
                Ok(Ok(response)) => response,
                Ok(Err(e)) => return self.broken(e),
                Err(e) => return self.broken(e.to_string()),
            };
            let (parts, body) = response.into_parts();
            self.headers = Some(parts.headers);
            self.body = Some(body);
        }
        loop {
            if let Some(status) = self.message() {
                return Some(status);
            }
            let body = self.body.as_mut()?;
            match body.frame().await {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => self.buffer.extend_from_slice(&data),
                    Err(frame) => {
                        let trailers = frame.into_trailers().unwrap_or_default();
                        return self.ended(&trailers);
                    }
                },
                Some(Err(e)) => return self.broken(e),
                None => {
                    // A trailers-only answer carries its status in the headers.
                    let headers = self.headers.clone().unwrap_or_default();
                    return self.ended(&headers);
                }
            }
        }
    }

    /// The first answer in the buffer, if it arrived whole.
    fn message(&mut self) -> Option<BatchStatus> {
        if self.buffer.len() < grpc::FRAME_HEADER_LEN {
            return None;
        }
        let len = u32::from_be_bytes([
            self.buffer[1],
            self.buffer[2],
            self.buffer[3],
            self.buffer[4],
        ]) as usize;
        if self.buffer.len() < grpc::FRAME_HEADER_LEN + len {
            return None;
        }
        assert_eq!(self.buffer[0], 0, "the server answers uncompressed");
        self.buffer.advance(grpc::FRAME_HEADER_LEN);
        let message = self.buffer.split_to(len).freeze();
        Some(BatchStatus::decode(&message).expect("a BatchStatus"))
    }

    fn ended(&mut self, meta: &HeaderMap) -> Option<BatchStatus> {
        self.end = Some(OtapEnd {
            code: meta
                .get("grpc-status")
                .and_then(|v| v.to_str().ok()?.parse().ok()),
            message: meta
                .get("grpc-message")
                .map(|v| grpc::decode_message(v.as_bytes()))
                .unwrap_or_default(),
            ..OtapEnd::default()
        });
        None
    }

    fn broken(&mut self, error: String) -> Option<BatchStatus> {
        self.end = Some(OtapEnd {
            error: Some(error),
            ..OtapEnd::default()
        });
        None
    }
}

/// A request body of the chunks a channel delivers, ending when its sender is dropped.
struct ChannelBody(mpsc::Receiver<Bytes>);

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0
            .poll_recv(cx)
            .map(|chunk| chunk.map(|c| Ok(Frame::data(c))))
    }
}
