//! A stream's task: the gRPC call, its encoder, the batches waiting for their status.

use super::{Answer, Encoder, Submit};
use crate::body::EncodedBody;
use crate::config::Protocol;
use crate::error::{Error, Kind, Status};
use crate::transport::grpc::{GrpcStatus, http_status_error};
use crate::transport::route::{HttpClient, Route, RouteTable};
use crate::transport::stream::GrpcStream;
use bytes::{Buf, Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::{Frame, Incoming};
use otlp_otap::BatchStatus;
use otlp_proto::grpc::{FRAME_HEADER_LEN, code};
use otlp_proto::{Compression, Message, Signal};
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// Frames waiting to be sent on a stream: more than the batches a pipeline has in flight.
const FRAME_BUFFER: usize = 64;

/// The largest `BatchStatus` message read; they are a few bytes.
const MAX_STATUS: usize = 1 << 20;

/// What a stream's task owns.
pub(super) struct Stream {
    pub(super) table: Arc<RouteTable>,
    pub(super) client: HttpClient,
    pub(super) signal: Signal,
    pub(super) accepting: Arc<AtomicBool>,
    pub(super) fallback: Arc<AtomicBool>,
}

/// Awaits `f` if there is one; never completes otherwise.
async fn maybe<F: Future + Unpin>(f: &mut Option<F>) -> F::Output {
    match f {
        Some(f) => f.await,
        None => std::future::pending().await,
    }
}

/// The next frame of the response body, if the body has arrived; never completes otherwise.
async fn next_frame(body: &mut Option<Incoming>) -> Option<Result<Frame<Bytes>, hyper::Error>> {
    match body {
        Some(b) => b.frame().await,
        None => std::future::pending().await,
    }
}

/// Why a stream ends, for the batches still waiting.
enum End {
    /// Every batch sent was answered, and no more are taken.
    Drained,
    /// The stream failed: the batches waiting may be sent again.
    Failed(Error),
}

/// A stream's task: opens the gRPC call, encodes and sends what is submitted, matches the
/// statuses to the batches, closes its side at the end of its lifetime, and answers every
/// batch it took before it returns.
pub(super) async fn run(stream: Stream, mut submits: mpsc::Receiver<Submit>) {
    let signal = stream.signal;
    let spec = stream.table.spec(signal);
    let route = Route {
        spec,
        client: &stream.client,
    };
    let opened = match (
        otlp_otap::grpc_method(signal),
        Encoder::new(signal, spec.stream_compression),
    ) {
        (Some(path), Some(encoder)) => route.open_stream(path, FRAME_BUFFER).map(|s| (s, encoder)),
        _ => Err(Error::new(
            Kind::InvalidInput,
            format!("OTAP carries no {signal}"),
        )),
    };
    let (GrpcStream { frames, response }, mut encoder) = match opened {
        Ok(o) => o,
        Err(e) => {
            stream.accepting.store(false, Ordering::Release);
            submits.close();
            while let Ok(s) = submits.try_recv() {
                let _ = s.reply.send(Answer::Failed(copy_error(&e)));
            }
            return;
        }
    };
    let mut frames = Some(frames);
    let mut response = Some(response);
    let mut body: Option<Incoming> = None;
    let mut inbound = BytesMut::new();
    let mut response_compression = Compression::None;
    let mut waiting: HashMap<i64, (oneshot::Sender<Answer>, usize)> = HashMap::new();
    let mut taking = true;
    let mut sent_any = false;
    let close_at = Instant::now() + spec.otap.max_lifetime;
    // Once the stream takes no more batches, the server has the route's timeout to answer
    // the ones it has: a stream never outlives its batches' exports for long.
    let mut drain_by: Option<Instant> = None;

    let end = loop {
        if !taking && waiting.is_empty() {
            break End::Drained;
        }
        if !taking && drain_by.is_none() {
            drain_by = Some(Instant::now() + spec.timeout);
        }
        tokio::select! {
            () = tokio::time::sleep_until(drain_by.unwrap_or(close_at)), if drain_by.is_some() => {
                let e = Error::new(Kind::Timeout, "the OTAP stream's last batches were not answered in time");
                break End::Failed(e.retryable());
            }
            submit = submits.recv(), if taking => match submit {
                Some(s) => {
                    let batch = match encoder.encode(signal, &s.batch) {
                        Ok(b) => b,
                        Err(e) => {
                            let _ = s.reply.send(Answer::Failed(e));
                            // The encoder started its IPC streams over: not on this stream.
                            taking = false;
                            frames = None;
                            continue;
                        }
                    };
                    let id = batch.batch_id;
                    let wire = match EncodedBody::protobuf_sized(&batch, batch.encoded_len_bound())
                        .into_wire(signal, Protocol::Grpc, spec.stream_compression)
                    {
                        Ok(w) => w,
                        Err(e) => {
                            let _ = s.reply.send(Answer::Failed(e));
                            taking = false;
                            frames = None;
                            continue;
                        }
                    };
                    let len = wire.len();
                    let sent = frames.as_ref().is_some_and(|f| f.try_send(wire).is_ok());
                    if sent {
                        sent_any = true;
                        let _ = waiting.insert(id, (s.reply, len));
                    } else {
                        // The request's body is gone (the connection broke) or the server
                        // stopped reading: this stream is done; the batch is retried.
                        let e = Error::new(Kind::Transport, "the OTAP stream stopped taking frames")
                            .retryable();
                        let _ = s.reply.send(Answer::Failed(e));
                        taking = false;
                        frames = None;
                    }
                }
                // Every handle is gone: finish what was sent.
                None => {
                    taking = false;
                    frames = None;
                }
            },
            () = tokio::time::sleep_until(close_at), if taking && sent_any => {
                // Closing our side tells the server no more batches come; it answers the
                // ones it has, then ends the call.
                taking = false;
                frames = None;
            }
            answered = maybe(&mut response) => {
                response = None;
                let r = match answered {
                    Ok(r) => r,
                    Err(e) => break End::Failed(e),
                };
                // Trailers-only: the call ended at once, with its status in the headers.
                if let Some(status) = GrpcStatus::from_headers(r.headers()) {
                    break End::Failed(call_failed(&stream, status.code, status.into_result()));
                }
                if r.status() != http::StatusCode::OK {
                    let c = if r.status() == http::StatusCode::NOT_FOUND { code::UNIMPLEMENTED } else { code::UNKNOWN };
                    break End::Failed(call_failed(&stream, c, Err(http_status_error(r.status()))));
                }
                response_compression = r
                    .headers()
                    .get("grpc-encoding")
                    .and_then(|v| v.to_str().ok())
                    .and_then(Compression::from_encoding_token)
                    .unwrap_or(Compression::None);
                body = Some(r.into_body());
            }
            frame = next_frame(&mut body) => match frame {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => {
                        inbound.extend_from_slice(&data);
                        if let Err(e) = answer_statuses(&mut inbound, response_compression, &mut waiting) {
                            break End::Failed(e);
                        }
                    }
                    Err(frame) => {
                        let status = frame
                            .trailers_ref()
                            .and_then(GrpcStatus::from_headers);
                        let e = match status {
                            Some(s) => call_failed(&stream, s.code, s.into_result()),
                            None => broken_without_status(),
                        };
                        break End::Failed(e);
                    }
                },
                Some(Err(e)) => {
                    let msg = format!("the OTAP stream broke: {e}");
                    break End::Failed(Error::new(Kind::Transport, msg).retryable().with_source(e));
                }
                None => break End::Failed(broken_without_status()),
            },
        }
    };
    stream.accepting.store(false, Ordering::Release);
    drop(frames);
    submits.close();
    // Ended well: our side is closed; read the call to its end (the server's trailers), so
    // that it ends as a finished call, not a cut one.
    if matches!(end, End::Drained) && (response.is_some() || body.is_some()) {
        let _ = tokio::time::timeout(spec.timeout, async {
            if let Some(r) = response.take() {
                match r.await {
                    Ok(r) => body = Some(r.into_body()),
                    Err(_) => return,
                }
            }
            while let Some(Ok(_)) = next_frame(&mut body).await {}
        })
        .await;
    }
    let failed = match end {
        End::Drained => None,
        End::Failed(e) => Some(e),
    };
    for (_, (reply, _)) in waiting.drain() {
        let e = match &failed {
            Some(e) => copy_error(e),
            None => Error::new(Kind::Transport, "the OTAP stream ended").retryable(),
        };
        let _ = reply.send(Answer::Failed(e));
    }
    // Batches queued behind: on a stream that ended well, straight to the next stream; on a
    // failed one, failed too, so that their retries wait their backoff rather than spin on
    // streams that fail at once (a server gone).
    while let Ok(s) = submits.try_recv() {
        let answer = match &failed {
            Some(e) => Answer::Failed(copy_error(e)),
            None => Answer::NotSent,
        };
        let _ = s.reply.send(answer);
    }
}

/// A call that ended without a status: cut, as far as the batches waiting know.
fn broken_without_status() -> Error {
    Error::new(
        Kind::Transport,
        "the OTAP stream ended without a grpc-status",
    )
    .retryable()
}

/// `e` again, for each batch it fails: its message, status and whether it may be retried.
fn copy_error(e: &Error) -> Error {
    let mut copy = Error::new(Kind::Transport, e.to_string());
    if let Some(s) = e.status() {
        copy = copy.with_status(s, e.server_message().map(str::to_owned));
    }
    if e.is_retryable() {
        copy.retryable()
    } else {
        copy
    }
}

/// The error of a call the server ended with `code`; `UNIMPLEMENTED` switches the signal to
/// OTLP/gRPC (said once).
fn call_failed(stream: &Stream, c: i32, result: Result<(), Error>) -> Error {
    if c == code::UNIMPLEMENTED {
        if !stream.fallback.swap(true, Ordering::AcqRel) {
            eprintln!(
                "otlp: {} does not implement OTLP/Arrow for {}: sending them as OTLP/gRPC",
                stream
                    .table
                    .spec(stream.signal)
                    .uri
                    .authority()
                    .map_or("the server", |a| a.as_str()),
                stream.signal
            );
        }
        return Error::new(Kind::Status, "the server does not implement OTLP/Arrow")
            .with_status(Status::Grpc(c), None);
    }
    match result {
        // A call that ends OK while batches wait: they were not answered.
        Ok(()) => Error::new(Kind::Transport, "the OTAP stream ended before answering").retryable(),
        // The call's status says nothing of the batches: they may be sent again.
        Err(e) if e.is_retryable() => e,
        Err(e) => Error::new(Kind::Transport, format!("the OTAP stream ended: {e}")).retryable(),
    }
}

/// Reads the complete gRPC messages at the front of `inbound` as statuses and answers their
/// batches; what remains is the start of the next message.
fn answer_statuses(
    inbound: &mut BytesMut,
    compression: Compression,
    waiting: &mut HashMap<i64, (oneshot::Sender<Answer>, usize)>,
) -> Result<(), Error> {
    let bad = |why: String| Error::new(Kind::Protocol, format!("invalid OTAP status: {why}"));
    while inbound.len() >= FRAME_HEADER_LEN {
        let len = u32::from_be_bytes([inbound[1], inbound[2], inbound[3], inbound[4]]) as usize;
        if len > MAX_STATUS {
            return Err(bad(format!("a message of {len} bytes")));
        }
        if inbound.len() < FRAME_HEADER_LEN + len {
            break;
        }
        let compressed = inbound[0];
        inbound.advance(FRAME_HEADER_LEN);
        let mut message = inbound.split_to(len).freeze();
        match compressed {
            0 => {}
            1 if compression != Compression::None => {
                message = compression
                    .decompress(&message, MAX_STATUS)
                    .map_err(|e| bad(e.to_string()))?
                    .into();
            }
            f => {
                return Err(bad(format!(
                    "compressed flag {f} without a known grpc-encoding"
                )));
            }
        }
        let status = BatchStatus::decode(&message).map_err(|e| bad(e.to_string()))?;
        // An id not waiting (already answered, or never sent) is ignored.
        if let Some((reply, bytes)) = waiting.remove(&status.batch_id) {
            let _ = reply.send(Answer::Status(status, bytes));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(id: i64, c: i32) -> Bytes {
        let s = BatchStatus {
            batch_id: id,
            status_code: c,
            status_message: "".into(),
        };
        let mut buf = otlp_proto::RevBuf::new();
        otlp_proto::grpc::encode_frame(&s, &mut buf);
        buf.into_bytes()
    }

    #[test]
    fn statuses_answer_their_batches_in_any_order_and_across_frames() {
        let mut waiting = HashMap::new();
        let mut answers = Vec::new();
        for id in 0..3 {
            let (tx, rx) = oneshot::channel();
            let _ = waiting.insert(id, (tx, 10));
            answers.push(rx);
        }
        let mut all = BytesMut::new();
        all.extend_from_slice(&status(2, code::OK));
        all.extend_from_slice(&status(0, code::UNAVAILABLE));
        all.extend_from_slice(&status(1, code::OK));
        // The first two and a half, then the rest.
        let cut = all.len() - 3;
        let mut inbound = BytesMut::from(&all[..cut]);
        answer_statuses(&mut inbound, Compression::None, &mut waiting).expect("valid");
        assert_eq!(waiting.len(), 1, "two answered, the third incomplete");
        inbound.extend_from_slice(&all[cut..]);
        answer_statuses(&mut inbound, Compression::None, &mut waiting).expect("valid");
        assert!(waiting.is_empty() && inbound.is_empty());
        let codes: Vec<i32> = answers
            .into_iter()
            .map(|mut rx| match rx.try_recv().expect("answered") {
                Answer::Status(s, _) => s.status_code,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(codes, [code::UNAVAILABLE, code::OK, code::OK]);
    }
}
