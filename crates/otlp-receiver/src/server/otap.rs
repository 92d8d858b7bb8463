//! OTLP/Arrow (OTAP) streams on the gRPC listener: `ArrowTracesService/ArrowTraces`,
//! `ArrowLogsService/ArrowLogs` and `ArrowMetricsService/ArrowMetrics`, each a bidirectional
//! stream of `BatchArrowRecords` in and `BatchStatus` out.
//!
//! Each stream is served by a task of its own, with its own decoder: the Arrow IPC state
//! (schemas, dictionaries) lives as long as the stream. Batches are handled one at a time, in
//! order: read within the message size limit, decoded within the per-request limits and the
//! memory limit, handed to the sink, and only then answered, so no batch is acknowledged that
//! the sink has not accepted. The answers follow the Collector's `otelarrowreceiver`:
//!
//! - accepted: `OK` (a partial success says what was rejected in the message);
//! - refused by the sink: the refusal's code (`UNAVAILABLE`, `RESOURCE_EXHAUSTED`,
//!   `INVALID_ARGUMENT`, ...), the stream going on;
//! - over the items or decoded size per request, or refused by the memory limiter once
//!   decoded: `RESOURCE_EXHAUSTED`, the stream going on (its state took the batch in);
//! - a batch that does not decode (or would take the stream's state past its limit): answered
//!   `INVALID_ARGUMENT` (`RESOURCE_EXHAUSTED`), and the stream ends with the same status in its
//!   trailers, since the decoder's state is no longer known; the exporter starts a new stream,
//!   with fresh state. A message that is not a batch at all, over the size limit, or refused by
//!   the memory limiter before it is decoded (the batches after it would refer to dictionaries
//!   it carries) ends the stream the same way, unanswered.
//!
//! A stream that sends no batch for the receiver's idle timeout is ended with `UNAVAILABLE`.
//! While a stream is open its connection counts as busy; hyper's HTTP/2 server caps the
//! streams of a connection (200).

use super::otap_headers::BatchHeaders;
use super::{Exchange, Shared};
use crate::body;
use crate::failure::Failure;
use crate::memory::Permit;
use crate::reply::ReplyBody;
use crate::{Ack, Refusal, Transport};
use bytes::{Buf, Bytes, BytesMut};
use http::{HeaderMap, HeaderValue};
use http_body::Frame;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use otlp_otap::{BatchArrowRecords, BatchStatus, LogsDecoder, MetricsDecoder, TracesDecoder};
use otlp_proto::grpc::{self, FrameError, code};
use otlp_proto::{Compression, Encoding, Message, Request, RevBuf, Signal};
use std::sync::Arc;
use tokio::sync::{mpsc, watch};

/// The signals OTAP carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Traces,
    Logs,
    Metrics,
}

impl Kind {
    /// The kind of stream `path` calls, if it is an OTAP method.
    pub(crate) fn of(path: &str) -> Option<Kind> {
        match otlp_otap::signal_of_method(path)? {
            Signal::Traces => Some(Kind::Traces),
            Signal::Logs => Some(Kind::Logs),
            Signal::Metrics => Some(Kind::Metrics),
            _ => None,
        }
    }

    pub(crate) fn signal(self) -> Signal {
        match self {
            Kind::Traces => Signal::Traces,
            Kind::Logs => Signal::Logs,
            Kind::Metrics => Signal::Metrics,
        }
    }
}

/// One stream's decoder.
enum Decoder {
    Traces(TracesDecoder),
    Logs(LogsDecoder),
    Metrics(MetricsDecoder),
}

impl Decoder {
    /// A decoder keeping at most `state` bytes between batches, and letting a payload declare at
    /// most `payload` bytes of decompressed buffers and a row for every `ROW_BYTES` of them.
    fn new(kind: Kind, state: usize, payload: usize) -> Self {
        let rows = (payload / ROW_BYTES).max(1024);
        match kind {
            Kind::Traces => Decoder::Traces(
                TracesDecoder::new()
                    .with_max_state_bytes(state)
                    .with_max_payload_bytes(payload)
                    .with_max_rows(rows),
            ),
            Kind::Logs => Decoder::Logs(
                LogsDecoder::new()
                    .with_max_state_bytes(state)
                    .with_max_payload_bytes(payload)
                    .with_max_rows(rows),
            ),
            Kind::Metrics => Decoder::Metrics(
                MetricsDecoder::new()
                    .with_max_state_bytes(state)
                    .with_max_payload_bytes(payload)
                    .with_max_rows(rows),
            ),
        }
    }

    fn decode(&mut self, batch: &BatchArrowRecords) -> otlp_otap::Result<Request> {
        Ok(match self {
            Decoder::Traces(d) => Request::Traces(d.decode(batch)?),
            Decoder::Logs(d) => Request::Logs(d.decode(batch)?),
            Decoder::Metrics(d) => Request::Metrics(d.decode(batch)?),
        })
    }

    fn held_bytes(&self) -> usize {
        match self {
            Decoder::Traces(d) => d.held_bytes(),
            Decoder::Logs(d) => d.held_bytes(),
            Decoder::Metrics(d) => d.held_bytes(),
        }
    }
}

/// What a decoded row takes at least (a span, a log record, an attribute), in bytes: rows are
/// bounded by the decoded-size limit over this, before a payload is decoded.
const ROW_BYTES: usize = 64;

/// Answers and trailers not yet written: a client that stops reading them stops the stream.
const PENDING_REPLIES: usize = 16;

/// Starts serving an OTAP stream of `kind` whose batches arrive in `body`, and returns the
/// body of its answers. `compression` is the call's `grpc-encoding`; `stopping` turns true when
/// the receiver shuts down.
pub(super) fn serve(
    shared: Arc<Shared>,
    kind: Kind,
    compression: Compression,
    headers: HeaderMap,
    body: Incoming,
    stopping: watch::Receiver<bool>,
) -> ReplyBody {
    let (replies, frames) = mpsc::channel(PENDING_REPLIES);
    let decoder = Decoder::new(
        kind,
        shared.otap_state_limit,
        shared.decode_limits.max_decoded_bytes(),
    );
    let state = shared.memory.permit();
    let stream = Stream {
        shared,
        kind,
        compression,
        headers,
        batch_headers: BatchHeaders::new(),
        decoder,
        state,
        replies,
    };
    tokio::spawn(stream.run(Messages::new(body), stopping));
    ReplyBody::streaming(frames)
}

/// How one batch went.
enum Outcome {
    /// Answered; the stream goes on.
    Answered(i64, Result<Ack, Failure>),
    /// The stream ends with `failure`, after answering the batch if its id is known.
    Fatal(Option<i64>, Failure),
}

struct Stream {
    shared: Arc<Shared>,
    kind: Kind,
    compression: Compression,
    headers: HeaderMap,
    /// The HPACK decoder of the batches' own headers.
    batch_headers: BatchHeaders,
    decoder: Decoder,
    /// What the decoder keeps between batches, counted against the memory limit.
    state: Permit,
    replies: mpsc::Sender<Frame<Bytes>>,
}

impl Stream {
    async fn run(mut self, mut messages: Messages, mut stopping: watch::Receiver<bool>) {
        let idle = self.shared.timeouts.idle;
        let limit = self.shared.max_request_size;
        let end = loop {
            let next = tokio::select! {
                next = tokio::time::timeout(idle, messages.next(limit)) => next,
                _ = stopping.wait_for(|stop| *stop) => break Some(Failure::from(Refusal::unavailable(
                    "the receiver is shutting down; open a new stream to send more",
                ))),
            };
            let (compressed, message) = match next {
                Ok(Ok(Some(message))) => message,
                // The client closed its side: every batch has been answered.
                Ok(Ok(None)) => break None,
                Ok(Err(failure)) => break Some(self.unreadable(failure)),
                Err(_) => {
                    break Some(Failure::from(Refusal::unavailable(format!(
                        "no batch received for {idle:?}, the receiver's idle timeout; \
                         open a new stream to send more"
                    ))));
                }
            };
            let mut exchange = Exchange::new(
                self.kind.signal(),
                Transport::Otap,
                Encoding::Protobuf,
                if compressed {
                    self.compression
                } else {
                    Compression::None
                },
            );
            exchange.wire_bytes = message.len() + grpc::FRAME_HEADER_LEN;
            match self.batch(&mut exchange, compressed, message).await {
                Outcome::Answered(batch_id, outcome) => {
                    self.shared.report(&exchange, &outcome);
                    if !self.answer(batch_id, &outcome).await {
                        return;
                    }
                }
                Outcome::Fatal(batch_id, failure) => {
                    let outcome = Err(failure.clone());
                    self.shared.report(&exchange, &outcome);
                    if let Some(batch_id) = batch_id
                        && !self.answer(batch_id, &outcome).await
                    {
                        return;
                    }
                    break Some(failure);
                }
            }
        };
        self.finish(end).await;
    }

    /// A message that could not be read: reported (it is a request the observer should see
    /// refused), and the stream's end.
    fn unreadable(&self, failure: Failure) -> Failure {
        let exchange = Exchange::new(
            self.kind.signal(),
            Transport::Otap,
            Encoding::Protobuf,
            self.compression,
        );
        self.shared.report(&exchange, &Err(failure.clone()));
        failure
    }

    /// Decodes one message as a batch and hands it to the sink.
    async fn batch(
        &mut self,
        exchange: &mut Exchange,
        compressed: bool,
        message: Bytes,
    ) -> Outcome {
        // Held until the batch is answered: what it takes counts against the memory limit.
        let mut permit = match self.shared.memory.admit() {
            Ok(permit) => permit,
            Err(failure) => return Outcome::Fatal(None, failure),
        };
        if let Err(failure) = permit.grow(message.len()) {
            return Outcome::Fatal(None, failure);
        }
        let compression = if compressed {
            if self.compression == Compression::None {
                return Outcome::Fatal(
                    None,
                    Failure::internal(
                        "message is flagged compressed but no grpc-encoding was sent",
                    ),
                );
            }
            self.compression
        } else {
            Compression::None
        };
        let limit = self.shared.max_request_size;
        let plain = match body::decompress(compression, message, limit, &mut permit) {
            Ok(plain) => plain,
            Err(failure) => return Outcome::Fatal(None, failure),
        };
        let batch = match BatchArrowRecords::decode(&plain) {
            Ok(batch) => batch,
            Err(e) => {
                return Outcome::Fatal(
                    None,
                    Failure::bad_request(format!("malformed BatchArrowRecords message: {e}")),
                );
            }
        };
        let id = batch.batch_id;
        let own = match self.batch_headers.decode(&self.headers, &batch.headers) {
            Ok(own) => own,
            Err(failure) => return Outcome::Fatal(Some(id), failure),
        };
        let decoded = self.decoder.decode(&batch);
        drop((batch, plain));
        // The decoder's dictionaries stay for the next batches: the stream holds them.
        self.state.hold(self.decoder.held_bytes());
        let request = match decoded {
            Ok(request) => request,
            Err(e @ otlp_otap::Error::StateLimit { .. }) => {
                return Outcome::Fatal(
                    Some(id),
                    Failure::too_large(format!(
                        "{e} (the limit of one stream's state); the stream ends: start a new one"
                    )),
                );
            }
            Err(e) => {
                return Outcome::Fatal(
                    Some(id),
                    Failure::bad_request(format!(
                        "cannot decode OTAP batch {id}: {e}; the stream ends"
                    )),
                );
            }
        };
        let signal = self.kind.signal();
        exchange.items = request.item_count();
        let max_items = self.shared.decode_limits.max_items();
        if exchange.items > max_items {
            return Outcome::Answered(
                id,
                Err(Failure::too_large(format!(
                    "the {signal} batch carries more than {max_items} items, the limit per request"
                ))),
            );
        }
        // The request's size as OTLP protobuf stands for what it holds, as in the Collector.
        let size = request.encode(Encoding::Protobuf).len();
        let max_size = self.shared.decode_limits.max_decoded_bytes();
        if size > max_size {
            return Outcome::Answered(
                id,
                Err(Failure::too_large(format!(
                    "the {signal} batch decodes to more than {max_size} bytes of memory, \
                     the limit per request"
                ))),
            );
        }
        if let Err(failure) = permit.grow(size) {
            return Outcome::Answered(id, Err(failure));
        }
        let handed = self.shared.hand_over(exchange, request, own.headers);
        // A batch's own `grpc-timeout` bounds its handling, as a unary call's does.
        let outcome = match own.timeout {
            Some(timeout) => tokio::time::timeout(timeout, handed)
                .await
                .unwrap_or_else(|_| Err(Failure::deadline_exceeded())),
            None => handed.await,
        };
        drop(permit);
        Outcome::Answered(id, outcome)
    }

    /// Sends the `BatchStatus` of batch `batch_id`; false if the client is gone or does not
    /// read its answers.
    async fn answer(&self, batch_id: i64, outcome: &Result<Ack, Failure>) -> bool {
        let status = match outcome {
            Ok(ack) => BatchStatus {
                batch_id,
                status_code: code::OK,
                status_message: if ack.is_partial() {
                    format!(
                        "partial success: {} rejected: {}",
                        ack.rejected, ack.message
                    )
                    .into()
                } else {
                    ack.message.clone().into()
                },
            },
            Err(failure) => BatchStatus {
                batch_id,
                status_code: failure.grpc,
                status_message: failure.message.clone().into(),
            },
        };
        let mut buf = RevBuf::new();
        grpc::encode_frame(&status, &mut buf);
        self.send(Frame::data(buf.into_bytes())).await
    }

    /// Ends the stream: `grpc-status` OK, or `failure`'s code and message.
    async fn finish(self, failure: Option<Failure>) {
        let mut trailers = HeaderMap::new();
        match failure {
            None => {
                trailers.insert("grpc-status", HeaderValue::from(code::OK));
            }
            Some(failure) => {
                trailers.insert("grpc-status", HeaderValue::from(failure.grpc));
                if let Ok(message) = HeaderValue::try_from(grpc::encode_message(&failure.message)) {
                    trailers.insert("grpc-message", message);
                }
            }
        }
        let wait = self.shared.timeouts.idle;
        let replies = self.replies.clone();
        // What the stream holds (its decoder's state) is given back before its end is told.
        drop(self);
        let _ = tokio::time::timeout(wait, replies.send(Frame::trailers(trailers))).await;
    }

    /// Queues `frame` for the client, waiting at most the idle timeout for room.
    async fn send(&self, frame: Frame<Bytes>) -> bool {
        let wait = self.shared.timeouts.idle;
        matches!(
            tokio::time::timeout(wait, self.replies.send(frame)).await,
            Ok(Ok(()))
        )
    }
}

/// The gRPC messages of a request body, one at a time.
struct Messages {
    body: Incoming,
    buffer: BytesMut,
}

impl Messages {
    fn new(body: Incoming) -> Self {
        Messages {
            body,
            buffer: BytesMut::new(),
        }
    }

    /// The next message and whether it is compressed, `None` at the end of the body; a message
    /// declaring more than `limit` bytes is refused as soon as its prefix arrives.
    async fn next(&mut self, limit: usize) -> Result<Option<(bool, Bytes)>, Failure> {
        loop {
            if let Some(message) = self.complete(limit)? {
                return Ok(Some(message));
            }
            match self.body.frame().await {
                None if self.buffer.is_empty() => return Ok(None),
                None => {
                    return Err(Failure::bad_request(
                        "the stream ended inside a gRPC message",
                    ));
                }
                Some(Err(e)) => {
                    return Err(Failure::bad_request(format!("cannot read the stream: {e}")));
                }
                Some(Ok(frame)) => {
                    // Trailers carry nothing OTAP needs.
                    if let Ok(data) = frame.into_data() {
                        self.buffer.extend_from_slice(&data);
                    }
                }
            }
        }
    }

    /// The first message of the buffer, if it has arrived whole.
    fn complete(&mut self, limit: usize) -> Result<Option<(bool, Bytes)>, Failure> {
        let Some(prefix) = self.buffer.get(..grpc::FRAME_HEADER_LEN) else {
            return Ok(None);
        };
        let compressed = match prefix[0] {
            0 => false,
            1 => true,
            flag => {
                return Err(Failure::bad_request(FrameError::BadFlag(flag).to_string()));
            }
        };
        let len = u32::from_be_bytes([prefix[1], prefix[2], prefix[3], prefix[4]]) as usize;
        if len > limit {
            return Err(Failure::too_large(format!(
                "{} bytes (the receiver's request size limit)",
                FrameError::TooLarge { len, limit }
            )));
        }
        if self.buffer.len() < grpc::FRAME_HEADER_LEN + len {
            return Ok(None);
        }
        self.buffer.advance(grpc::FRAME_HEADER_LEN);
        Ok(Some((compressed, self.buffer.split_to(len).freeze())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_methods_map_to_their_signals() {
        assert_eq!(
            Kind::of("/opentelemetry.proto.experimental.arrow.v1.ArrowTracesService/ArrowTraces")
                .map(Kind::signal),
            Some(Signal::Traces)
        );
        assert_eq!(
            Kind::of("/opentelemetry.proto.experimental.arrow.v1.ArrowLogsService/ArrowLogs")
                .map(Kind::signal),
            Some(Signal::Logs)
        );
        assert_eq!(
            Kind::of("/opentelemetry.proto.experimental.arrow.v1.ArrowMetricsService/ArrowMetrics")
                .map(Kind::signal),
            Some(Signal::Metrics)
        );
        assert_eq!(Kind::of(Signal::Traces.grpc_path()), None);
        assert_eq!(
            Kind::of("/opentelemetry.proto.experimental.arrow.v1.ArrowTracesService/ArrowLogs"),
            None
        );
    }
}
