//! [`Exporter`]: sends export requests of any signal over the configured protocol.

use crate::body::EncodedBody;
use crate::config::{ExporterConfig, Protocol, SignalConfig};
use crate::error::Error;
use crate::transport::{Connections, ExportOutcome, Transport};
use otlp_proto::{Encoding, ExportRequest, Request, Signal};
use std::sync::Arc;

/// An OTLP exporter for all four signals over gRPC, OTLP/HTTP protobuf or OTLP/HTTP JSON.
///
/// All network I/O runs on threads the SDK owns, so [`export`](Exporter::export) can be awaited
/// from any async runtime, and [`BlockingExporter`](crate::BlockingExporter) works without one.
/// Direct exports go through one I/O thread, started by the first of them; pipelines send from
/// their own workers, over the same routes (TLS configuration read once, in
/// [`Exporter::new`]). Cloning is cheap and clones share the thread and its connections; the
/// thread stops when the last clone is dropped.
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
    /// Indexed by [`Signal::index`].
    signals: Vec<SignalConfig>,
    /// `None` when exporting is disabled.
    transport: Option<Transport>,
}

impl Exporter {
    /// Checks `config` and loads its certificates. Starts no thread: the first direct export
    /// starts the I/O thread, and pipelines send from their own workers.
    ///
    /// Fails on an invalid configuration (see [`ExporterConfig::resolve`]) or an unreadable
    /// certificate or key file. When exporting is disabled, no file is read.
    pub fn new(config: ExporterConfig) -> Result<Exporter, Error> {
        let signals = Signal::ALL
            .into_iter()
            .map(|s| config.resolve(s))
            .collect::<Result<Vec<_>, _>>()?;
        let transport = if config.is_disabled() {
            None
        } else {
            Some(Transport::new(&config, &signals)?)
        };
        Ok(Exporter {
            shared: Arc::new(Shared {
                config,
                signals,
                transport,
            }),
        })
    }

    /// The configuration the exporter was built from.
    pub fn config(&self) -> &ExporterConfig {
        &self.shared.config
    }

    /// The effective configuration of one signal (endpoint, protocol, ...).
    pub fn signal_config(&self, signal: Signal) -> &SignalConfig {
        &self.shared.signals[signal.index()]
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
        self.shared.transport.is_none()
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
    /// Compression and gRPC framing happen here, in the calling task, once; the I/O thread
    /// only sends bytes. A body whose encoding differs from [`encoding`](Exporter::encoding) is
    /// decoded and re-encoded first.
    pub async fn export_encoded(
        &self,
        signal: Signal,
        body: EncodedBody,
    ) -> Result<ExportOutcome, Error> {
        match &self.shared.transport {
            Some(transport) => transport.export_encoded(signal, body).await,
            None => Ok(ExportOutcome::not_sent()),
        }
    }

    /// Ends the streams of direct exports gracefully: on an OTAP route each stream closes its
    /// side, waits for the statuses of the batches it sent and for the end of the call (within
    /// the route's timeout), so the server sees finished calls rather than cut ones. Call it
    /// before the process exits; exports after it open new streams. Nothing to do for unary
    /// protocols (each export already ended).
    pub async fn shutdown(&self) -> Result<(), Error> {
        match &self.shared.transport {
            Some(transport) => transport.close_streams().await,
            None => Ok(()),
        }
    }

    /// Connections of their own to this exporter's routes, for a pipeline's worker (see
    /// [`Connections`]); `None` when exporting is disabled.
    pub(crate) fn connect(&self) -> Option<Connections> {
        self.shared.transport.as_ref().map(Transport::connect)
    }

    /// Whether the I/O thread of direct exports has been started.
    #[cfg(test)]
    fn io_started(&self) -> bool {
        self.shared
            .transport
            .as_ref()
            .is_some_and(Transport::io_started)
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

    #[test]
    fn the_io_thread_starts_with_the_first_direct_export() {
        // Nothing listens on the port of a listener just closed.
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port");
        let config = ExporterConfig::default()
            .with_endpoint(format!("http://{addr}"))
            .with_retry(crate::RetryPolicy::default().with_max_attempts(1));
        let exporter = Exporter::new(config).expect("new");
        assert!(!exporter.io_started(), "Exporter::new starts no thread");
        let _ = exporter.connect().expect("enabled");
        assert!(
            !exporter.io_started(),
            "a pipeline's connections start no thread"
        );
        let sent =
            crate::blocking::block_on(exporter.export(&ExportMetricsServiceRequest::default()));
        assert!(sent.is_err(), "nothing listens");
        assert!(exporter.io_started(), "a direct export starts it");
    }
}
