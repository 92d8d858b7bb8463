//! The transport: one [`Transport`] per exporter, shared by its direct exports and every
//! pipeline of its client.
//!
//! - [`RouteTable`]: one route per signal (endpoint, headers, retries, TLS configuration),
//!   built once by [`Transport::new`], which reads the certificate files; immutable, shared.
//! - [`Connections`]: the table's routes with hyper clients of their own, for one runtime of the
//!   crate's. A pipeline's worker makes its own ([`Transport::connect`]), so a request goes from
//!   the encoder to the socket on one thread; direct exports go through the [`IoThread`],
//!   started by the first of them.
//! - [`Route`](route::Route): the single generic send path all signals and protocols share. A body arrives
//!   fully prepared (encoded, compressed and framed once), so sending or re-sending it only
//!   clones a `Bytes` handle. The protocol-specific parts are small: which headers to send
//!   ([`grpc::headers`], [`http::headers`]) and how to read the answer. A route can also open a
//!   long-lived gRPC stream on the same client ([`Route::open_stream`](route::Route::open_stream)).

mod coalesce;
mod connect;
mod grpc;
mod http;
mod io_thread;
#[cfg(feature = "arrow")]
mod otap;
mod outcome;
mod route;
mod stream;
#[cfg(feature = "tls")]
mod tls;
#[cfg(not(feature = "tls"))]
#[path = "tls_off.rs"]
mod tls;

pub(crate) use connect::ConnectError;
#[cfg(feature = "arrow")]
pub use otap::StreamBatch;
#[cfg(feature = "arrow")]
pub(crate) use otap::{Encoder as OtapEncoder, StreamItems, not_this_signal};
pub use outcome::ExportOutcome;
pub(crate) use route::{Connections, RouteTable};

use crate::body::EncodedBody;
use crate::config::{ExporterConfig, SignalConfig};
use crate::error::{Error, Kind, root_cause};
use ::http::{HeaderMap, HeaderValue, Response};
use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use io_thread::IoThread;
use otlp_proto::{ExportResponse, Signal};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

/// The largest response body read; OTLP responses are a few bytes, so more is a broken server.
const MAX_RESPONSE: usize = 4 << 20;

const USER_AGENT: &str = concat!("OTel-OTLP-Exporter-Rust/", env!("CARGO_PKG_VERSION"));

/// What an export sends: a body, or (to an OTAP stream) a pipeline's items.
#[derive(Debug, Clone)]
pub(crate) enum Outgoing {
    /// An encoded request.
    Body(EncodedBody),
    /// Items the stream encodes (see [`StreamBatch`]).
    #[cfg(feature = "arrow")]
    Stream(StreamBatch),
}

impl Outgoing {
    /// The batch as an encoded request (items are encoded as protobuf now).
    pub(crate) fn into_body(self) -> EncodedBody {
        match self {
            Outgoing::Body(body) => body,
            #[cfg(feature = "arrow")]
            Outgoing::Stream(items) => items.encode_protobuf(),
        }
    }
}

/// An exporter's transport: its route table, built once, and the I/O thread of its direct
/// exports, started by the first of them.
#[derive(Debug)]
pub(crate) struct Transport {
    table: Arc<RouteTable>,
    io: OnceLock<IoThread>,
    /// Held while the I/O thread starts, so that two first exports start one thread.
    starting: Mutex<()>,
}

impl Transport {
    /// Builds the route table (reading every certificate file now, so that a bad one is an
    /// error here). Starts no thread. `signals` is in [`Signal::ALL`] order.
    pub(crate) fn new(config: &ExporterConfig, signals: &[SignalConfig]) -> Result<Self, Error> {
        Ok(Transport {
            table: Arc::new(RouteTable::new(config, signals)?),
            io: OnceLock::new(),
            starting: Mutex::new(()),
        })
    }

    /// Connections of their own to every route, for the runtime of the calling worker; see
    /// [`Connections`]. Cheap: the table is shared, nothing is read again.
    pub(crate) fn connect(&self) -> Connections {
        Connections::new(self.table.clone())
    }

    /// Sends `body` through the I/O thread (started now if this is the first direct export).
    /// Encoding, compression and framing happen here, in the calling task; the thread only
    /// sends bytes. On an OTAP route (but for profiles, which OTAP does not carry) the body
    /// goes to one of the thread's OTAP streams instead, which encodes it as Arrow.
    pub(crate) async fn export_encoded(
        &self,
        signal: Signal,
        body: EncodedBody,
    ) -> Result<ExportOutcome, Error> {
        #[cfg(feature = "arrow")]
        if self.table.streams(signal) {
            return self
                .io()?
                .export(signal, io_thread::Payload::Otap(body))
                .await;
        }
        let wire = self.table.wire(signal, body)?;
        self.io()?
            .export(signal, io_thread::Payload::Wire(wire))
            .await
    }

    /// Ends the I/O thread's OTAP streams gracefully (see [`crate::Exporter::shutdown`]).
    pub(crate) async fn close_streams(&self) -> Result<(), Error> {
        #[cfg(feature = "arrow")]
        if let Some(io) = self.io.get() {
            io.export(Signal::Traces, io_thread::Payload::CloseStreams)
                .await?;
        }
        Ok(())
    }

    /// The I/O thread, started on first use. A failed start is returned and tried again by the
    /// next export.
    fn io(&self) -> Result<&IoThread, Error> {
        if let Some(io) = self.io.get() {
            return Ok(io);
        }
        let _starting = self.starting.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(io) = self.io.get() {
            return Ok(io);
        }
        let io = IoThread::start(self.table.clone())?;
        Ok(self.io.get_or_init(|| io))
    }

    /// Whether the I/O thread has been started.
    #[cfg(test)]
    pub(crate) fn io_started(&self) -> bool {
        self.io.get().is_some()
    }
}

/// The headers every request carries first, so that configured ones can replace them.
fn base_headers(sc: &SignalConfig) -> HeaderMap {
    let mut map = HeaderMap::with_capacity(sc.headers().len() + 6);
    map.insert(
        ::http::header::USER_AGENT,
        HeaderValue::from_static(USER_AGENT),
    );
    for (name, value) in sc.headers() {
        map.insert(name.clone(), value.clone());
    }
    map
}

/// What a successful request reported back.
#[derive(Debug, Default)]
pub(crate) struct Delivered {
    pub(super) rejected: i64,
    pub(super) message: Option<String>,
}

/// Reads a whole response body and its trailers, up to [`MAX_RESPONSE`] bytes.
async fn collect(response: Response<Incoming>) -> Result<(Bytes, Option<HeaderMap>), Error> {
    let collected = Limited::new(response.into_body(), MAX_RESPONSE)
        .collect()
        .await
        .map_err(|e| {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                Error::new(
                    Kind::Protocol,
                    format!("response body exceeds {MAX_RESPONSE} bytes"),
                )
            } else {
                let msg = format!("reading the response failed: {}", root_cause(&*e));
                Error::new(Kind::Transport, msg).retryable().with_source(e)
            }
        })?;
    let trailers = collected.trailers().cloned();
    Ok((collected.to_bytes(), trailers))
}

/// The partial success a response reports, if any: `(rejected, message)`. A partial success with
/// nothing rejected and no message means full success and is dropped.
fn partial_success(
    signal: Signal,
    encoding: otlp_proto::Encoding,
    body: &Bytes,
) -> Result<Delivered, otlp_proto::DecodeError> {
    use otlp_proto::collector::*;
    fn decode<R: ExportResponse>(
        encoding: otlp_proto::Encoding,
        body: &Bytes,
    ) -> Result<Delivered, otlp_proto::DecodeError> {
        let response = R::decode_as(encoding, body)?;
        let Some((rejected, message)) = response.partial_success() else {
            return Ok(Delivered::default());
        };
        Ok(Delivered {
            rejected,
            message: (!message.is_empty()).then(|| message.to_owned()),
        })
    }
    if body.is_empty() {
        return Ok(Delivered::default());
    }
    match signal {
        Signal::Traces => decode::<ExportTraceServiceResponse>(encoding, body),
        Signal::Metrics => decode::<ExportMetricsServiceResponse>(encoding, body),
        Signal::Logs => decode::<ExportLogsServiceResponse>(encoding, body),
        Signal::Profiles => decode::<ExportProfilesServiceResponse>(encoding, body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use otlp_proto::Message;
    use otlp_proto::collector::ExportLogsServiceResponse;

    #[test]
    fn partial_success_is_read_in_both_encodings() {
        let response = ExportLogsServiceResponse::rejecting(3, "too old");
        for (encoding, body) in [
            (otlp_proto::Encoding::Protobuf, response.encode_to_bytes()),
            (otlp_proto::Encoding::Json, Bytes::from(response.to_json())),
        ] {
            let d = partial_success(Signal::Logs, encoding, &body).expect("decodes");
            assert_eq!((d.rejected, d.message.as_deref()), (3, Some("too old")));
        }
        let empty = partial_success(Signal::Logs, otlp_proto::Encoding::Json, &Bytes::new())
            .expect("empty body");
        assert_eq!((empty.rejected, empty.message), (0, None));
        let ok = ExportLogsServiceResponse::rejecting(0, "").encode_to_bytes();
        let d = partial_success(Signal::Logs, otlp_proto::Encoding::Protobuf, &ok).expect("ok");
        assert_eq!((d.rejected, d.message), (0, None));
    }
}
