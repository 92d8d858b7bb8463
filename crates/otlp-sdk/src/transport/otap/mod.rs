//! OTLP/Arrow (OTAP) on a route's gRPC streams: [`export`] sends a pipeline's batch as the
//! next `BatchArrowRecords` of one of the signal's streams and returns when its `BatchStatus`
//! came back, so the pipeline settles the batch's items exactly as for a unary export.
//!
//! - Each stream is a task of the runtime ([`run`]) that owns its `otlp-otap` encoder (IPC
//!   state lives and dies with the stream), numbers its batches and matches the statuses,
//!   which may come in any order, to the batches waiting for them.
//! - A pipeline hands a stream its batch's items ([`StreamBatch`]: span records, log records,
//!   metrics), which the stream's encoder writes straight into Arrow tables; a direct export
//!   hands it a body (an OTLP request), read back first ([`Encoder`]).
//! - A batch is kept by its export until it is acknowledged: when a stream breaks, the
//!   batches it had not acknowledged are encoded again for another stream (fresh IPC state)
//!   by the retry loop of the route, within the route's retry policy and deadline. The items
//!   (or body) are what the pipeline holds in flight anyway: no memory beyond its bounds.
//! - A stream takes new batches for the route's `max_lifetime`, then closes its side and
//!   drains its acknowledgements while a new stream takes the next batches.
//! - A server that does not implement the Arrow method (`UNIMPLEMENTED`, or HTTP 404) gets
//!   the signal as OTLP/gRPC unary requests from then on (items encoded as protobuf then):
//!   nothing is lost.

mod encoder;
mod task;

pub use encoder::StreamBatch;
pub(crate) use encoder::{Encoder, StreamItems, not_this_signal};

use super::Outgoing;
use super::outcome::ExportOutcome;
use super::route::Connections;
use crate::config::Protocol;
use crate::error::{Error, Kind, Status};
use crate::retry;
use otlp_otap::BatchStatus;
use otlp_proto::Signal;
use otlp_proto::grpc::code;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use task::{Stream, run};
use tokio::sync::{mpsc, oneshot};

/// Batches waiting to be encoded by a stream's task: a few, so that a stream that broke
/// leaves few to hand back.
const SUBMIT_BUFFER: usize = 8;

/// The OTAP streams of one runtime's [`Connections`], per signal.
#[derive(Debug, Default)]
pub(crate) struct Streams {
    signals: [SignalStreams; 4],
    /// Every stream's task, for [`Streams::close`].
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

/// One signal's streams.
#[derive(Debug, Default)]
struct SignalStreams {
    pool: Mutex<Vec<Handle>>,
    /// Round robin over the streams.
    next: std::sync::atomic::AtomicUsize,
    /// The server does not implement the Arrow method: send OTLP/gRPC instead.
    fallback: Arc<AtomicBool>,
}

/// A stream's task, as the exports see it.
#[derive(Debug)]
struct Handle {
    submits: mpsc::Sender<Submit>,
    /// Cleared when the stream stops taking batches (lifetime over, broken).
    accepting: Arc<AtomicBool>,
}

/// A batch handed to a stream, and where its answer goes.
pub(super) struct Submit {
    pub(super) batch: Outgoing,
    pub(super) reply: oneshot::Sender<Answer>,
}

/// What became of a submitted batch.
#[derive(Debug)]
pub(super) enum Answer {
    /// The server's status for the batch; and the bytes the batch took on the wire.
    Status(BatchStatus, usize),
    /// Never sent: the stream stopped taking batches first. Another stream takes it.
    NotSent,
    /// The stream failed before the batch's status came back.
    Failed(Error),
}

impl Streams {
    /// A stream of `signal` to submit a batch to: a new one while there are fewer than the
    /// route's count, else the next in turn. Streams that stopped taking batches are forgotten.
    fn stream(&self, connections: &Connections, signal: Signal) -> mpsc::Sender<Submit> {
        let streams = &self.signals[signal.index()];
        let mut pool = streams.pool.lock().unwrap_or_else(PoisonError::into_inner);
        pool.retain(|h| h.accepting.load(Ordering::Acquire) && !h.submits.is_closed());
        let (table, client) = connections.route_parts(signal);
        if pool.len() < table.spec(signal).otap.streams {
            let (submits, rx) = mpsc::channel(SUBMIT_BUFFER);
            let accepting = Arc::new(AtomicBool::new(true));
            let stream = Stream {
                table,
                client,
                signal,
                accepting: accepting.clone(),
                fallback: streams.fallback.clone(),
            };
            let task = tokio::spawn(run(stream, rx));
            let mut tasks = self.tasks.lock().unwrap_or_else(PoisonError::into_inner);
            tasks.retain(|t| !t.is_finished());
            tasks.push(task);
            pool.push(Handle {
                submits: submits.clone(),
                accepting,
            });
            return submits;
        }
        let i = streams.next.fetch_add(1, Ordering::Relaxed) % pool.len();
        pool[i].submits.clone()
    }

    /// Ends every stream: each closes its side, waits for the statuses of the batches it sent
    /// and the end of the call (within its route's timeout), and returns. Exports after this
    /// open new streams; one in flight keeps its stream until it is answered.
    pub(crate) async fn close(&self) {
        for streams in &self.signals {
            streams
                .pool
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clear();
        }
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(PoisonError::into_inner));
        for task in tasks {
            let _ = task.await;
        }
    }

    fn fallback(&self, signal: Signal) -> bool {
        self.signals[signal.index()]
            .fallback
            .load(Ordering::Acquire)
    }
}

/// Sends `batch` as a batch of one of `signal`'s OTAP streams, with the route's retries: a
/// retryable status (`UNAVAILABLE`, `RESOURCE_EXHAUSTED`, ...) or a broken stream sends it
/// again (on a new stream, encoded afresh); another status fails the export for good.
pub(super) async fn export(
    connections: &Connections,
    signal: Signal,
    batch: Outgoing,
) -> Result<ExportOutcome, Error> {
    let route = connections.route(signal);
    let spec = route.spec;
    let streams = connections.otap();
    if !streams.fallback(signal) {
        let (result, attempts) = retry::run(&spec.retry, spec.timeout, |_, _| {
            attempt(connections, streams, signal, &batch)
        })
        .await;
        match result {
            Ok(wire_bytes) => {
                return Ok(ExportOutcome {
                    rejected: 0,
                    message: None,
                    attempts,
                    wire_bytes,
                    disabled: false,
                });
            }
            // Found out on this export: it goes unary like the ones after it.
            Err(_) if streams.fallback(signal) => {}
            Err(e) => return Err(e.during_export(signal, &spec.uri.to_string(), attempts)),
        }
    }
    let wire = batch
        .into_body()
        .into_wire(signal, Protocol::Grpc, spec.compression)?;
    route.export(wire).await
}

/// One attempt: submits the batch to a stream taking batches and waits for its status.
async fn attempt(
    connections: &Connections,
    streams: &Streams,
    signal: Signal,
    batch: &Outgoing,
) -> Result<usize, Error> {
    loop {
        if streams.fallback(signal) {
            return Err(Error::new(
                Kind::Status,
                "the server does not implement OTLP/Arrow",
            ));
        }
        let submits = streams.stream(connections, signal);
        let (reply, answer) = oneshot::channel();
        let submit = Submit {
            batch: batch.clone(),
            reply,
        };
        if submits.send(submit).await.is_err() {
            // The stream ended meanwhile: the next one takes the batch.
            continue;
        }
        match answer.await {
            Ok(Answer::Status(status, bytes)) => return status_result(&status).map(|()| bytes),
            Ok(Answer::NotSent) => continue,
            Ok(Answer::Failed(e)) => return Err(e),
            Err(_) => {
                return Err(
                    Error::new(Kind::Transport, "the OTAP stream ended before answering")
                        .retryable(),
                );
            }
        }
    }
}

/// A batch's status as an export result: OK, a retryable failure (the codes the Go exporter
/// retries, with the OTLP specification's), or a permanent one.
fn status_result(status: &BatchStatus) -> Result<(), Error> {
    let c = status.status_code;
    if c == code::OK {
        return Ok(());
    }
    let message = (!status.status_message.is_empty()).then(|| status.status_message.to_string());
    let err = Error::new(
        Kind::Status,
        format!(
            "the OTAP receiver answered the batch with {}",
            Status::Grpc(c)
        ),
    )
    .with_status(Status::Grpc(c), message);
    // RESOURCE_EXHAUSTED from an OTAP receiver is its memory limiter: transient.
    if c == code::RESOURCE_EXHAUSTED || retry::is_retryable_grpc(c, false) {
        Err(err.retryable())
    } else {
        Err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_and_permanent_statuses() {
        let s = |c| BatchStatus {
            batch_id: 0,
            status_code: c,
            status_message: "why".into(),
        };
        assert!(status_result(&s(code::OK)).is_ok());
        for c in [code::UNAVAILABLE, code::RESOURCE_EXHAUSTED, code::ABORTED] {
            assert!(
                status_result(&s(c)).expect_err("fails").is_retryable(),
                "{c}"
            );
        }
        for c in [
            code::INVALID_ARGUMENT,
            code::UNAUTHENTICATED,
            code::PERMISSION_DENIED,
        ] {
            let e = status_result(&s(c)).expect_err("fails");
            assert!(!e.is_retryable(), "{c}");
            assert_eq!(e.server_message(), Some("why"));
        }
    }
}
