//! [`Exporter`]: sends export requests of any signal over the configured protocol, and
//! [`ExportOutcome`], what an accepted export reports.

use crate::body::EncodedBody;
use crate::config::{ExporterConfig, Protocol, SignalConfig, signal_index};
use crate::error::Error;
use crate::transport::Route;
use crate::worker::Worker;
use otlp_proto::{Encoding, ExportRequest, Request, Signal};
use std::sync::Arc;

/// What an export that the server accepted reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExportOutcome {
    /// Items (spans, data points, log records, profiles) the server rejected in a partial
    /// success; 0 when everything was accepted.
    pub rejected: i64,
    /// The server's partial-success message (an error, or a warning when nothing was rejected).
    pub message: Option<String>,
    /// Requests sent, the first one included; 0 when exporting is disabled.
    pub attempts: u32,
    /// Size of the request body on the wire: after compression, with the gRPC frame header.
    pub wire_bytes: usize,
    /// Exporting is disabled (`OTEL_SDK_DISABLED=true`): nothing was sent.
    pub disabled: bool,
}

impl ExportOutcome {
    /// Whether the server reported a partial success: items rejected, or a warning.
    pub fn is_partial_success(&self) -> bool {
        self.rejected > 0 || self.message.is_some()
    }

    /// Whether nothing was sent because exporting is disabled.
    pub fn is_disabled(&self) -> bool {
        self.disabled
    }

    fn not_sent() -> Self {
        ExportOutcome {
            disabled: true,
            ..ExportOutcome::default()
        }
    }
}

/// An OTLP exporter for all four signals over gRPC, OTLP/HTTP protobuf or OTLP/HTTP JSON.
///
/// All network I/O runs on a thread the exporter owns (see the [crate docs](crate#runtimes)), so
/// [`export`](Exporter::export) can be awaited from any async runtime, and
/// [`BlockingExporter`](crate::BlockingExporter) works without one. Cloning is cheap and clones
/// share the thread and its connections; the thread stops when the last clone is dropped.
///
/// ```no_run
/// use otlp::{Exporter, ExporterConfig};
/// use otlp_proto::collector::ExportTraceServiceRequest;
///
/// # async fn demo() -> Result<(), otlp::Error> {
/// let exporter = Exporter::new(ExporterConfig::from_env()?)?;
/// let outcome = exporter.export(&ExportTraceServiceRequest::default()).await?;
/// if outcome.is_partial_success() {
///     eprintln!("{} spans rejected: {:?}", outcome.rejected, outcome.message);
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Exporter {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    config: ExporterConfig,
    /// Indexed by `signal_index`.
    signals: Vec<SignalConfig>,
    /// `None` when exporting is disabled.
    worker: Option<Worker>,
}

impl Exporter {
    /// Checks `config`, loads its certificates and starts the worker thread.
    ///
    /// Fails on an invalid configuration (see [`ExporterConfig::resolve`]) or an unreadable
    /// certificate or key file. When exporting is disabled, no thread is started and no file read.
    pub fn new(config: ExporterConfig) -> Result<Exporter, Error> {
        let signals = Signal::ALL
            .into_iter()
            .map(|s| config.resolve(s))
            .collect::<Result<Vec<_>, _>>()?;
        let worker = if config.is_disabled() {
            None
        } else {
            let routes = crate::transport::routes(&config, &signals)?;
            Some(Worker::start(routes)?)
        };
        Ok(Exporter {
            shared: Arc::new(Shared {
                config,
                signals,
                worker,
            }),
        })
    }

    /// The configuration the exporter was built from.
    pub fn config(&self) -> &ExporterConfig {
        &self.shared.config
    }

    /// The effective configuration of one signal (endpoint, protocol, ...).
    pub fn signal_config(&self, signal: Signal) -> &SignalConfig {
        &self.shared.signals[signal_index(signal)]
    }

    /// The protocol one signal is sent with.
    pub fn protocol(&self, signal: Signal) -> Protocol {
        self.signal_config(signal).protocol()
    }

    /// The encoding bodies of `signal` should have for
    /// [`export_encoded`](Exporter::export_encoded) to send them without re-encoding.
    pub fn encoding(&self, signal: Signal) -> Encoding {
        self.protocol(signal).encoding()
    }

    /// Whether exporting is disabled: exports then succeed without sending anything.
    pub fn is_disabled(&self) -> bool {
        self.shared.worker.is_none()
    }

    /// Encodes `request` the way its signal is sent.
    pub fn encode<R: ExportRequest>(&self, request: &R) -> EncodedBody {
        EncodedBody::encode(request, self.encoding(R::SIGNAL))
    }

    /// Exports one request: encodes it once, then sends it with retries until it is accepted,
    /// refused for good, or the timeout passes.
    ///
    /// A partial success is a success: see [`ExportOutcome::rejected`].
    pub async fn export<R: ExportRequest>(&self, request: &R) -> Result<ExportOutcome, Error> {
        if self.is_disabled() {
            return Ok(ExportOutcome::not_sent());
        }
        self.export_encoded(R::SIGNAL, self.encode(request)).await
    }

    /// Exports a request of any signal; see [`export`](Exporter::export).
    pub async fn export_request(&self, request: &Request) -> Result<ExportOutcome, Error> {
        if self.is_disabled() {
            return Ok(ExportOutcome::not_sent());
        }
        let signal = request.signal();
        let body = EncodedBody::encode_request(request, self.encoding(signal));
        self.export_encoded(signal, body).await
    }

    /// Exports a body encoded by the caller, for pipelines that encode batches themselves.
    ///
    /// Compression and gRPC framing happen here, in the calling task, once; the worker thread
    /// only sends bytes. A body whose encoding differs from [`encoding`](Exporter::encoding) is
    /// decoded and re-encoded first.
    pub async fn export_encoded(
        &self,
        signal: Signal,
        body: EncodedBody,
    ) -> Result<ExportOutcome, Error> {
        let Some(worker) = &self.shared.worker else {
            return Ok(ExportOutcome::not_sent());
        };
        let wire = self.wire(signal, body)?;
        worker.export(signal_index(signal), wire).await
    }

    /// `body` as `signal`'s route sends it: in the route's encoding, compressed, framed.
    fn wire(&self, signal: Signal, body: EncodedBody) -> Result<bytes::Bytes, Error> {
        let sc = self.signal_config(signal);
        body.into_wire(signal, sc.protocol(), sc.compression())
            .map_err(|e| e.during_export(signal, &sc.endpoint().to_string(), 0))
    }

    /// This exporter's transport with connections of its own, for a pipeline's worker: see
    /// [`LocalTransport`]. Falls back to the shared path if the routes cannot be built again
    /// (a certificate file removed since [`Exporter::new`] read it).
    pub(crate) fn local_transport(&self) -> LocalTransport {
        let routes = if self.is_disabled() {
            None
        } else {
            crate::transport::routes(&self.shared.config, &self.shared.signals)
                .ok()
                .map(Arc::from)
        };
        LocalTransport {
            exporter: self.clone(),
            routes,
        }
    }
}

/// An exporter's routes with connections of their own, driven by the runtime of the task that
/// awaits [`LocalTransport::export_encoded`]: a pipeline's worker, which owns its thread and
/// runtime. A batch then goes from the encoder to the socket on one thread, without the
/// hand-off to the exporter's thread and back for every request (and the two thread wake-ups
/// that cost). The connections close when the pipeline's runtime stops.
///
/// Only for runtimes the crate owns, with I/O and timers enabled; everything else goes through
/// [`Exporter`], whose own thread makes it work from any runtime or none.
#[derive(Debug, Clone)]
pub(crate) struct LocalTransport {
    exporter: Exporter,
    /// `None` when exporting is disabled, or the routes could not be built again.
    routes: Option<Arc<[Route]>>,
}

impl LocalTransport {
    /// [`Exporter::export_encoded`], sent from the calling task.
    pub(crate) async fn export_encoded(
        &self,
        signal: Signal,
        body: EncodedBody,
    ) -> Result<ExportOutcome, Error> {
        let Some(route) = self
            .routes
            .as_ref()
            .and_then(|r| r.get(signal_index(signal)))
        else {
            return self.exporter.export_encoded(signal, body).await;
        };
        route.export(self.exporter.wire(signal, body)?).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use otlp_proto::collector::ExportMetricsServiceRequest;

    fn assert_send_sync<T: Send + Sync + 'static>() {}
    fn assert_send<T: Send>(_: &T) {}

    #[test]
    fn handles_errors_and_futures_cross_threads() {
        assert_send_sync::<Exporter>();
        assert_send_sync::<crate::BlockingExporter>();
        assert_send_sync::<Error>();
        assert_send_sync::<ExportOutcome>();
        let exporter = Exporter::new(ExporterConfig::default().with_disabled(true)).expect("new");
        let request = ExportMetricsServiceRequest::default();
        // Spawnable on a multi-thread runtime.
        assert_send(&exporter.export(&request));
        assert_send(&exporter.export_request(&Request::Metrics(request.clone())));
        assert_send(&exporter.export_encoded(Signal::Metrics, exporter.encode(&request)));
    }

    #[test]
    fn bodies_are_encoded_for_each_signal_protocol() {
        let config = ExporterConfig::default()
            .with_protocol(Protocol::Grpc)
            .with_signal_protocol(Signal::Logs, Protocol::HttpJson);
        // Built outside any runtime: the exporter brings its own.
        let exporter = Exporter::new(config).expect("new");
        assert!(!exporter.is_disabled());
        assert_eq!(exporter.encoding(Signal::Traces), Encoding::Protobuf);
        assert_eq!(exporter.encoding(Signal::Logs), Encoding::Json);
        let logs = otlp_proto::collector::ExportLogsServiceRequest::default();
        assert_eq!(exporter.encode(&logs).encoding(), Encoding::Json);
        assert_eq!(exporter.protocol(Signal::Metrics), Protocol::Grpc);
    }
}
