//! What a stream encodes and how: a stream's [`Encoder`] (its Arrow IPC state) takes either a
//! body (an OTLP request, read back) or a pipeline's own items ([`StreamBatch`]), which it
//! encodes straight into Arrow tables.

use crate::body::EncodedBody;
use crate::error::{Error, Kind};
use crate::transport::Outgoing;
use otlp_otap::{BatchArrowRecords, LogsEncoder, MetricsEncoder, TracesEncoder};
use otlp_proto::{Compression, Request, Signal};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

/// The zstd level of IPC bodies on streams whose messages go uncompressed.
const IPC_ZSTD_LEVEL: i32 = 3;

/// A stream's encoder: one Arrow IPC state per stream.
pub(crate) enum Encoder {
    Traces(TracesEncoder),
    Logs(LogsEncoder),
    Metrics(MetricsEncoder),
}

impl Encoder {
    /// The encoder of a stream of `signal` whose gRPC messages are compressed with
    /// `compression`. The IPC bodies are compressed (zstd) only when the messages are not: one
    /// pass over the bytes, not two, as the Go exporter does by default (its IPC compression
    /// is off, its gRPC compression zstd); and one zstd frame per message compresses better
    /// than one per Arrow buffer.
    pub(super) fn new(signal: Signal, compression: Compression) -> Option<Self> {
        let level = (compression == Compression::None).then_some(IPC_ZSTD_LEVEL);
        match signal {
            Signal::Traces => Some(Encoder::Traces(TracesEncoder::new().with_zstd_level(level))),
            Signal::Logs => Some(Encoder::Logs(LogsEncoder::new().with_zstd_level(level))),
            Signal::Metrics => Some(Encoder::Metrics(
                MetricsEncoder::new().with_zstd_level(level),
            )),
            _ => None,
        }
    }

    /// `batch` as the stream's next OTAP batch: a pipeline's items encoded straight from them,
    /// or the OTLP request of a body (a direct export's), read back first.
    pub(super) fn encode(
        &mut self,
        signal: Signal,
        batch: &Outgoing,
    ) -> Result<BatchArrowRecords, Error> {
        let encoded = match batch {
            Outgoing::Body(body) => self.encode_body(signal, body)?,
            Outgoing::Stream(items) => items.encode_otap(self),
        };
        encoded.map_err(|e| {
            Error::new(
                Kind::InvalidInput,
                format!("the {signal} batch cannot be encoded as OTAP: {e}"),
            )
        })
    }

    fn encode_body(
        &mut self,
        signal: Signal,
        body: &EncodedBody,
    ) -> Result<otlp_otap::Result<BatchArrowRecords>, Error> {
        let request = Request::decode(signal, body.encoding(), &body.message()).map_err(|e| {
            Error::new(
                Kind::InvalidInput,
                format!("the {signal} body does not decode: {e}"),
            )
        })?;
        Ok(match (self, request) {
            (Encoder::Traces(e), Request::Traces(r)) => e.encode(&r),
            (Encoder::Logs(e), Request::Logs(r)) => e.encode(&r),
            (Encoder::Metrics(e), Request::Metrics(r)) => e.encode(&r),
            (other, _) => Err(not_this_signal(other)),
        })
    }
}

/// A pipeline's batch as its items, for an OTAP stream to encode (see [`StreamBatch`]).
pub(crate) trait StreamItems: Send {
    /// The items as `encoder`'s next batch; again on another stream if this one breaks.
    fn encode_otap(&mut self, encoder: &mut Encoder) -> otlp_otap::Result<BatchArrowRecords>;
    /// The items as an OTLP protobuf request (the fallback to OTLP/gRPC).
    fn encode_protobuf(&mut self) -> EncodedBody;
}

/// A batch a pipeline hands to an OTLP/Arrow stream as its items (spans, log records,
/// metrics) rather than as an encoded request: the stream encodes them straight into its
/// Arrow tables, with no OTLP message in between. Made by the SDK's own encoders through
/// [`BatchEncoder::stream_batch`](crate::pipeline::BatchEncoder::stream_batch); the items are
/// kept until the batch is acknowledged, for a retry on another stream.
#[derive(Clone)]
pub struct StreamBatch(Arc<Mutex<Box<dyn StreamItems>>>);

impl fmt::Debug for StreamBatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StreamBatch")
    }
}

impl StreamBatch {
    pub(crate) fn new(items: impl StreamItems + 'static) -> Self {
        StreamBatch(Arc::new(Mutex::new(Box::new(items))))
    }

    pub(crate) fn encode_otap(
        &self,
        encoder: &mut Encoder,
    ) -> otlp_otap::Result<BatchArrowRecords> {
        // One attempt at a time holds the batch: the lock is never contended.
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .encode_otap(encoder)
    }

    /// The items as an OTLP protobuf request.
    pub(crate) fn encode_protobuf(&self) -> EncodedBody {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .encode_protobuf()
    }
}

/// The error of a batch (items or a body) given to a stream of another signal's encoder.
pub(crate) fn not_this_signal(encoder: &Encoder) -> otlp_otap::Error {
    let signal = match encoder {
        Encoder::Traces(_) => "traces",
        Encoder::Logs(_) => "logs",
        Encoder::Metrics(_) => "metrics",
    };
    otlp_otap::Error::Payloads(format!("a batch of another signal on a {signal} stream"))
}
