//! The worker thread: every socket, timer and connection pool of an exporter lives on one thread
//! of its own, in a current-thread tokio runtime that nothing else can reach.
//!
//! Callers only send a [`Job`] over a channel and wait on a oneshot reply. Sending needs no
//! runtime and waiting works on any executor, or none (see [`crate::blocking`]), so there is no
//! "no reactor running" panic to hit. The worker never waits on a caller, and every reply is
//! either sent or dropped (dropping wakes the caller with an error), so no wait can deadlock.

use crate::error::{Error, Kind};
use crate::exporter::ExportOutcome;
use crate::transport::Route;
use bytes::Bytes;
use std::sync::Arc;
use std::thread::JoinHandle;
use tokio::sync::{mpsc, oneshot};

type Reply = oneshot::Sender<Result<ExportOutcome, Error>>;

/// One export: which route, the bytes ready for the wire, and where to answer.
struct Job {
    route: usize,
    body: Bytes,
    reply: Reply,
}

/// The handle to the worker thread. Dropping it stops the thread.
#[derive(Debug)]
pub(crate) struct Worker {
    jobs: Option<mpsc::UnboundedSender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl Worker {
    /// Starts the thread with its runtime. The runtime is built here so that failing to build it
    /// is an error of [`Exporter::new`](crate::Exporter::new), not of a later export.
    pub(crate) fn start(routes: Vec<Route>) -> Result<Worker, Error> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| {
                Error::new(
                    Kind::Shutdown,
                    format!("cannot start the exporter runtime: {e}"),
                )
                .with_source(e)
            })?;
        let routes: Arc<[Route]> = routes.into();
        let (jobs, mut queue) = mpsc::unbounded_channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("otlp-exporter".into())
            .spawn(move || {
                crate::context::mark_sdk_thread();
                runtime.block_on(async move {
                    while let Some(job) = queue.recv().await {
                        tokio::spawn(run(routes.clone(), job));
                    }
                });
                // Dropping the runtime here cancels what is left: exports whose callers are gone.
            })
            .map_err(|e| {
                Error::new(
                    Kind::Shutdown,
                    format!("cannot start the exporter thread: {e}"),
                )
                .with_source(e)
            })?;
        Ok(Worker {
            jobs: Some(jobs),
            thread: Some(thread),
        })
    }

    /// Hands `body` to the worker and waits for the outcome. Needs no runtime: the wait is on a
    /// oneshot channel, which any executor can poll.
    pub(crate) async fn export(&self, route: usize, body: Bytes) -> Result<ExportOutcome, Error> {
        let gone = || Error::new(Kind::Shutdown, "the exporter's worker thread has stopped");
        let (reply, answer) = oneshot::channel();
        self.jobs
            .as_ref()
            .ok_or_else(gone)?
            .send(Job { route, body, reply })
            .map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

/// Runs one job, and cancels it if its caller stops waiting (the export future was dropped).
async fn run(routes: Arc<[Route]>, job: Job) {
    let Job {
        route,
        body,
        mut reply,
    } = job;
    let Some(route) = routes.get(route) else {
        return;
    };
    tokio::select! {
        biased;
        () = reply.closed() => {}
        outcome = route.export(body) => {
            let _ = reply.send(outcome);
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Closing the channel ends the worker's loop; no caller can be waiting any more, since
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
