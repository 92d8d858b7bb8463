//! [`BlockingExporter`]: the [`Exporter`] for code without an async runtime.

use crate::body::EncodedBody;
use crate::config::ExporterConfig;
use crate::error::Error;
use crate::exporter::Exporter;
use crate::transport::ExportOutcome;
use otlp_proto::{ExportRequest, Request, Signal};
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

/// An [`Exporter`] with blocking methods, for programs (or threads) without an async runtime.
///
/// It needs no runtime because the exporter does its I/O on its own thread; each call parks the
/// calling thread until the answer comes. Calling it from inside an async task works too, but
/// blocks that executor thread for the duration of the export: prefer [`Exporter`] there.
///
/// ```no_run
/// use otlp::{BlockingExporter, ExporterConfig};
/// use otlp_proto::collector::ExportLogsServiceRequest;
///
/// fn main() -> Result<(), otlp::Error> {
///     let exporter = BlockingExporter::new(ExporterConfig::from_env()?)?;
///     let outcome = exporter.export(&ExportLogsServiceRequest::default())?;
///     println!("sent in {} attempt(s)", outcome.attempts);
///     Ok(())
/// }
/// ```
#[derive(Debug, Clone)]
pub struct BlockingExporter {
    inner: Exporter,
}

impl BlockingExporter {
    /// Builds the exporter; see [`Exporter::new`].
    pub fn new(config: ExporterConfig) -> Result<Self, Error> {
        Exporter::new(config).map(BlockingExporter::from)
    }

    /// The configuration the exporter was built from.
    pub fn config(&self) -> &ExporterConfig {
        self.inner.config()
    }

    /// Whether exporting is disabled.
    pub fn is_disabled(&self) -> bool {
        self.inner.is_disabled()
    }

    /// The async exporter underneath (sharing its thread and connections).
    pub fn as_async(&self) -> &Exporter {
        &self.inner
    }

    /// Exports one request; see [`Exporter::export`].
    pub fn export<R: ExportRequest>(&self, request: &R) -> Result<ExportOutcome, Error> {
        block_on(self.inner.export(request))
    }

    /// Exports a request of any signal; see [`Exporter::export_request`].
    pub fn export_request(&self, request: &Request) -> Result<ExportOutcome, Error> {
        block_on(self.inner.export_request(request))
    }

    /// Exports a body encoded by the caller; see [`Exporter::export_encoded`].
    pub fn export_encoded(
        &self,
        signal: Signal,
        body: EncodedBody,
    ) -> Result<ExportOutcome, Error> {
        block_on(self.inner.export_encoded(signal, body))
    }
}

impl From<Exporter> for BlockingExporter {
    fn from(inner: Exporter) -> Self {
        BlockingExporter { inner }
    }
}

/// Wakes a parked thread.
struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls `future` on this thread, parking between polls. Enough for the exporter's futures,
/// which only wait on a channel filled by the worker thread; unlike tokio's `block_on` it works
/// inside a runtime too, instead of panicking.
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        // A wake-up before the park leaves a token, so none is lost; spurious ones just re-poll.
        thread::park();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_on_waits_for_another_thread() {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let t = thread::spawn(move || {
            thread::sleep(std::time::Duration::from_millis(20));
            let _ = tx.send(42);
        });
        assert_eq!(block_on(rx).expect("sent"), 42);
        t.join().expect("joins");
    }
}
