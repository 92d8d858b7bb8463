//! [`Encoder`] and [`Decoder`]: the stream state shared by every signal, around a
//! [`Signal`]'s tables.

use crate::stream::{ReadLimits, Readers, Writers};
use crate::{ArrowPayload, ArrowPayloadType, BatchArrowRecords, Error, Result};
use arrow_array::RecordBatch;
use std::collections::HashMap;
use std::fmt::Debug;
use std::marker::PhantomData;

/// The decoded tables of one batch: the root and the others by payload type.
#[derive(Debug)]
pub struct Tables {
    pub(crate) root: RecordBatch,
    pub(crate) others: HashMap<ArrowPayloadType, RecordBatch>,
}

pub(crate) mod sealed {
    use super::{Tables, Writers};
    use crate::{ArrowPayload, Result};

    /// A signal's tables: the crate-private half of [`Signal`](super::Signal).
    pub trait Sealed {
        /// The export request (the same as `Signal::Request`).
        type Req;
        /// Encodes `request` as the next payloads of `writers`' streams, the root first.
        fn encode(writers: &mut Writers, request: &Self::Req) -> Result<Vec<ArrowPayload>>;
        /// Decodes one batch's tables.
        fn decode(tables: &Tables) -> Result<Self::Req>;
    }
}

/// A signal OTAP carries: its export request and its tables. Implemented by [`Traces`],
/// [`Logs`] and [`Metrics`](crate::Metrics) only.
pub trait Signal: sealed::Sealed<Req = Self::Request> + Debug + 'static {
    /// The OTLP export request.
    type Request: Default;
    /// The payload types of the signal, the root first.
    const PAYLOADS: &'static [ArrowPayloadType];
}

/// Traces: [`ExportTraceServiceRequest`](otlp_proto::collector::ExportTraceServiceRequest),
/// root table `SPANS`.
#[derive(Debug)]
pub struct Traces;

/// Logs: [`ExportLogsServiceRequest`](otlp_proto::collector::ExportLogsServiceRequest), root
/// table `LOGS`.
#[derive(Debug)]
pub struct Logs;

/// Encodes export requests of signal `S` as the batches of one OTAP stream
/// ([`TracesEncoder`](crate::TracesEncoder), [`LogsEncoder`](crate::LogsEncoder)).
///
/// The encoder keeps one Arrow IPC stream per payload type: the first batch carries each
/// table's schema, later ones only new dictionary values and the records. So every batch it
/// returns must reach the receiver, in order, on the same gRPC stream. When a stream ends
/// (or a batch is lost), call [`reset`](Self::reset) before encoding for a new one.
///
/// Defaults: IPC bodies compressed with zstd level 3 ([`with_zstd_level`](Self::with_zstd_level));
/// at most 4 MiB of dictionary values per table stream
/// ([`with_max_dictionary_bytes`](Self::with_max_dictionary_bytes)), past which the table's
/// stream starts over with fresh dictionaries.
///
/// ```
/// use otlp_otap::{TracesDecoder, TracesEncoder};
/// # fn main() -> otlp_otap::Result<()> {
/// let request = otlp_proto::sample::traces();
/// let (mut encoder, mut decoder) = (TracesEncoder::new(), TracesDecoder::new());
/// for _ in 0..3 {
///     let batch = encoder.encode(&request)?;
///     let back = decoder.decode(&batch)?;
///     assert_eq!(back.resource_spans.len(), request.resource_spans.len());
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Encoder<S> {
    writers: Writers,
    next_batch_id: i64,
    signal: PhantomData<S>,
}

impl<S: Signal> Default for Encoder<S> {
    fn default() -> Self {
        Encoder::new()
    }
}

impl<S: Signal> Encoder<S> {
    /// An encoder for a new stream.
    pub fn new() -> Self {
        Encoder {
            writers: Writers::new(),
            next_batch_id: 0,
            signal: PhantomData,
        }
    }

    /// Compresses IPC bodies with zstd at `level`, or not at all with `None` (default `Some(3)`).
    pub fn with_zstd_level(mut self, level: Option<i32>) -> Self {
        self.writers.zstd_level = level;
        self
    }

    /// Caps the dictionary values one table stream holds (default 4 MiB); keep it well under
    /// the receiver's state limit divided by the number of tables.
    pub fn with_max_dictionary_bytes(mut self, bytes: usize) -> Self {
        self.writers.max_dictionary_bytes = bytes;
        self
    }

    /// Forgets the IPC streams, for a new gRPC stream: the next batch resends every schema.
    /// Batch ids continue.
    pub fn reset(&mut self) {
        self.writers.reset();
    }

    /// Bytes of dictionary values held for the next batches.
    pub fn held_bytes(&self) -> usize {
        self.writers.held_bytes()
    }

    /// Encodes `request` as the next batch of the stream, the root payload first (sent even
    /// for an empty request, so that every batch has one). An error leaves the encoder reset.
    pub fn encode(&mut self, request: &S::Request) -> Result<BatchArrowRecords> {
        self.encode_with(|writers| <S as sealed::Sealed>::encode(writers, request))
    }

    /// The next batch, of the payloads `tables` writes; an error resets the streams.
    pub(crate) fn encode_with(
        &mut self,
        tables: impl FnOnce(&mut Writers) -> Result<Vec<ArrowPayload>>,
    ) -> Result<BatchArrowRecords> {
        match tables(&mut self.writers) {
            Ok(arrow_payloads) => {
                let batch_id = self.next_batch_id;
                self.next_batch_id += 1;
                Ok(BatchArrowRecords {
                    batch_id,
                    arrow_payloads,
                    headers: Default::default(),
                })
            }
            Err(e) => {
                // Some tables may have been written to their streams: start them all over.
                self.writers.reset();
                Err(e)
            }
        }
    }
}

/// Decodes the batches of signal `S` of one OTAP stream
/// ([`TracesDecoder`](crate::TracesDecoder), [`LogsDecoder`](crate::LogsDecoder)).
///
/// It keeps an IPC reader per schema id, with its schema and dictionaries, for the batches
/// that follow. What it holds is bounded: at most [`with_max_state_bytes`](Self::with_max_state_bytes)
/// (default 64 MiB) of dictionaries and schemas and at most
/// [`with_max_streams`](Self::with_max_streams) (default 32) IPC streams; and a payload may
/// declare at most [`with_max_payload_bytes`](Self::with_max_payload_bytes) (default 64 MiB)
/// of decompressed buffers, a batch [`with_max_rows`](Self::with_max_rows) rows (default 1 Mi):
/// a few hundred bytes of IPC can declare a million rows of nulls, each of which would become
/// a span, a log record or an attribute. Past a limit, [`decode`](Self::decode) returns
/// [`Error::StateLimit`] (rows: [`Error::Payloads`]), before decoding the payload. After
/// any error the stream's state is unreliable: end the gRPC stream (the Go receiver does),
/// or [`reset`](Self::reset).
#[derive(Debug)]
pub struct Decoder<S> {
    readers: Readers,
    signal: PhantomData<S>,
}

impl<S: Signal> Default for Decoder<S> {
    fn default() -> Self {
        Decoder::new()
    }
}

impl<S: Signal> Decoder<S> {
    /// A decoder for a new stream.
    pub fn new() -> Self {
        Decoder {
            readers: Readers::new(ReadLimits {
                max_state_bytes: 64 << 20,
                max_streams: 32,
                max_payload_bytes: 64 << 20,
                max_rows: 1 << 20,
            }),
            signal: PhantomData,
        }
    }

    /// Caps the dictionary and schema bytes held across batches (default 64 MiB).
    pub fn with_max_state_bytes(mut self, bytes: usize) -> Self {
        self.readers.limits.max_state_bytes = bytes;
        self
    }

    /// Caps what the compressed buffers of one payload may declare they decompress to
    /// (default 64 MiB), checked before decompressing.
    pub fn with_max_payload_bytes(mut self, bytes: usize) -> Self {
        self.readers.limits.max_payload_bytes = bytes;
        self
    }

    /// Caps the rows a batch's payloads may declare together (default 1,048,576), checked
    /// before each is decoded: every row becomes an item (span, log record, data point) or one
    /// of its attributes, events or links.
    pub fn with_max_rows(mut self, rows: usize) -> Self {
        self.readers.limits.max_rows = rows;
        self
    }

    /// Caps the IPC streams open at once (default 32).
    pub fn with_max_streams(mut self, streams: usize) -> Self {
        self.readers.limits.max_streams = streams;
        self
    }

    /// Forgets every IPC stream, for a new gRPC stream.
    pub fn reset(&mut self) {
        self.readers.reset();
    }

    /// Bytes of dictionaries and schemas held for the next batches.
    pub fn held_bytes(&self) -> usize {
        self.readers.held_bytes()
    }

    /// Decodes one batch. Payloads may come in any order (the Go receiver wants the root
    /// first; this decoder does not); each type at most once, all of them tables of the
    /// signal, the root among them (a batch without any payload is an empty request).
    pub fn decode(&mut self, batch: &BatchArrowRecords) -> Result<S::Request> {
        self.readers.begin_batch();
        let root_kind = S::PAYLOADS[0];
        let mut root = None;
        let mut others = HashMap::new();
        for p in &batch.arrow_payloads {
            let kind = p
                .payload_type()
                .filter(|k| S::PAYLOADS.contains(k))
                .ok_or_else(|| {
                    Error::Payloads(format!(
                        "payload type {} is not one of this signal's",
                        p.r#type
                    ))
                })?;
            if kind == root_kind && root.is_some() || others.contains_key(&kind) {
                return Err(Error::Payloads(format!(
                    "two {} payloads",
                    kind.as_str_name()
                )));
            }
            let record = self.readers.read(p, kind)?;
            if kind == root_kind {
                root = Some(record);
            } else {
                others.insert(kind, record);
            }
        }
        let Some(root) = root else {
            // otel-arrow's producer sends an empty request as a batch without payloads.
            if batch.arrow_payloads.is_empty() {
                return Ok(S::Request::default());
            }
            return Err(Error::Payloads(format!(
                "no {} payload",
                root_kind.as_str_name()
            )));
        };
        // The tables passed arrow-rs's validation; the guard is for what it may have missed.
        crate::stream::guarded(|| <S as sealed::Sealed>::decode(&Tables { root, others }))?
    }
}
