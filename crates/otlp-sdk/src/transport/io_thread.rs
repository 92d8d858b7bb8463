//! [`IoThread`]: the thread that sends direct exports. Its current-thread tokio runtime drives
//! the [`Connections`] of direct exports; nothing else can reach it.
//!
//! Callers only send a [`Job`] over a channel and wait on a oneshot reply. Sending needs no
//! runtime and waiting works on any executor, or none (see [`crate::blocking`]), so there is no
//! "no reactor running" panic to hit. The thread never waits on a caller, and every reply is
//! either sent or dropped (dropping wakes the caller with an error), so no wait can deadlock.

use super::outcome::ExportOutcome;
use super::route::{Connections, RouteTable};
use crate::error::{Error, Kind};
use bytes::Bytes;
use otlp_proto::Signal;
use std::sync::Arc;
use std::thread::JoinHandle;
use tokio::sync::{mpsc, oneshot};

type Reply = oneshot::Sender<Result<ExportOutcome, Error>>;

/// What one export sends.
pub(super) enum Payload {
    /// Bytes ready for the wire (encoded, compressed and framed by the caller).
    Wire(Bytes),
    /// The next batch of one of the signal's OTAP streams: the stream's task encodes it as
    /// Arrow, in the stream's own IPC state, so it cannot be made ready in the calling task.
    #[cfg(feature = "arrow")]
    Otap(crate::body::EncodedBody),
    /// Not an export: end the thread's OTAP streams (see `Streams::close`), then answer.
    #[cfg(feature = "arrow")]
    CloseStreams,
}

/// One export: which route, what to send, and where to answer.
struct Job {
    signal: Signal,
    payload: Payload,
    reply: Reply,
}

/// The handle to the I/O thread. Dropping it stops the thread.
#[derive(Debug)]
pub(crate) struct IoThread {
    jobs: Option<mpsc::UnboundedSender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl IoThread {
    /// Starts the thread (`otlp-exporter`), with connections of its own to `table`'s routes.
    pub(super) fn start(table: Arc<RouteTable>) -> Result<IoThread, Error> {
        let (jobs, mut queue) = mpsc::unbounded_channel::<Job>();
        let thread =
            crate::thread::spawn_with_runtime("otlp-exporter".into(), move || async move {
                let connections = Connections::new(table);
                while let Some(job) = queue.recv().await {
                    drop(tokio::spawn(run(connections.clone(), job)));
                }
            })?;
        Ok(IoThread {
            jobs: Some(jobs),
            thread: Some(thread),
        })
    }

    /// Hands `payload` to the thread and waits for the outcome. Needs no runtime: the wait is on
    /// a oneshot channel, which any executor can poll.
    pub(super) async fn export(
        &self,
        signal: Signal,
        payload: Payload,
    ) -> Result<ExportOutcome, Error> {
        let gone = || Error::new(Kind::Shutdown, "the exporter's I/O thread has stopped");
        let (reply, answer) = oneshot::channel();
        self.jobs
            .as_ref()
            .ok_or_else(gone)?
            .send(Job {
                signal,
                payload,
                reply,
            })
            .map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

/// Runs one job, and cancels it if its caller stops waiting (the export future was dropped).
async fn run(connections: Connections, job: Job) {
    let Job {
        signal,
        payload,
        mut reply,
    } = job;
    let export = async {
        match payload {
            Payload::Wire(body) => connections.route(signal).export(body).await,
            #[cfg(feature = "arrow")]
            Payload::Otap(body) => {
                connections
                    .export(signal, super::Outgoing::Body(body))
                    .await
            }
            #[cfg(feature = "arrow")]
            Payload::CloseStreams => {
                connections.close_streams().await;
                Ok(ExportOutcome::not_sent())
            }
        }
    };
    tokio::select! {
        biased;
        () = reply.closed() => {}
        outcome = export => {
            let _ = reply.send(outcome);
        }
    }
}

impl Drop for IoThread {
    fn drop(&mut self) {
        // Closing the channel ends the thread's loop; no caller can be waiting any more, since
        // each export borrows the exporter.
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take() {
            // Joining is quick (the runtime only has cancelled work left), but a thread of an
            // async executor must not block at all: there the thread is left to finish alone.
            if tokio::runtime::Handle::try_current().is_err() {
                let _ = thread.join();
            }
        }
    }
}
