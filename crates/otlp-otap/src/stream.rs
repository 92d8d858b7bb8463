//! The Arrow IPC streams of one OTAP stream: one per table (payload type), named by a schema id.
//!
//! The writer side ([`Writers`]) keeps, per payload type, an arrow-rs `StreamWriter` and its
//! dictionary columns: the first payload of a stream carries its schema, later ones only
//! (delta) dictionary batches and the record batch. The reader side ([`Readers`]) keeps one
//! `StreamDecoder` per schema id and counts what it holds against its limits.

use crate::dict::{Full, StrColumn};
use crate::prune::{Paths, paths, prune};
use crate::{ArrowPayload, ArrowPayloadType, Error, Result};
use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_buffer::Buffer;
use arrow_ipc::reader::StreamDecoder;
use arrow_ipc::writer::{DictionaryHandling, IpcWriteOptions, StreamWriter};
use arrow_ipc::{CompressionType, MetadataVersion};
use arrow_schema::{DataType, Schema, SchemaRef};
use bytes::Bytes;
use otlp_proto::Str;
use std::collections::HashMap;

/// The encoder's limit on the dictionary bytes of one table stream, by default.
pub(crate) const DEFAULT_MAX_DICTIONARY_BYTES: usize = 4 << 20;

/// How a table is laid out and built, for [`Writers::payload`].
pub(crate) trait Table {
    /// How many dictionary-encodable string columns the builder uses.
    const STR_COLUMNS: usize;
    /// Its payload type.
    fn kind(&self) -> ArrowPayloadType;
    /// The schema, with dictionary string columns or plain ones.
    fn schema(&self, dictionary: bool) -> SchemaRef;
    /// Builds the batch, taking string columns from `strs` (appending with `max_bytes`).
    fn build(
        &self,
        strs: &mut [StrColumn],
        max_bytes: usize,
    ) -> std::result::Result<Result<RecordBatch>, Full>;
}

struct WriteStream {
    schema_id: Str,
    /// The writer and the schema the first batch set.
    writer: Option<(StreamWriter<Vec<u8>>, SchemaRef)>,
    /// The columns the stream sends even when empty (those its schema has).
    keep: Paths,
    strs: Vec<StrColumn>,
}

impl std::fmt::Debug for WriteStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteStream")
            .field("schema_id", &self.schema_id)
            .field("keep", &self.keep)
            .field("strs", &self.strs)
            .finish_non_exhaustive()
    }
}

/// The writing side: one IPC stream per payload type.
#[derive(Debug)]
pub struct Writers {
    streams: HashMap<ArrowPayloadType, WriteStream>,
    next_schema_id: u64,
    /// Dictionary bytes one stream may hold, over all its dictionary columns.
    pub(crate) max_dictionary_bytes: usize,
    /// zstd level of the IPC body compression, or `None` for none.
    pub(crate) zstd_level: Option<i32>,
}

impl Writers {
    pub(crate) fn new() -> Self {
        Writers {
            streams: HashMap::new(),
            next_schema_id: 0,
            max_dictionary_bytes: DEFAULT_MAX_DICTIONARY_BYTES,
            zstd_level: Some(3),
        }
    }

    /// Forgets every stream: the next payloads start new ones, schemas first.
    pub(crate) fn reset(&mut self) {
        self.streams.clear();
    }

    fn open(&mut self, dictionary: bool, str_columns: usize, keep: Paths) -> WriteStream {
        // Schema ids are unique across payload types: the Go receiver keys its readers by id.
        let schema_id = Str::from(self.next_schema_id.to_string());
        self.next_schema_id += 1;
        WriteStream {
            schema_id,
            writer: None,
            keep,
            strs: (0..str_columns)
                .map(|_| StrColumn::new(dictionary))
                .collect(),
        }
    }

    fn writer(&self, schema: &Schema) -> Result<StreamWriter<Vec<u8>>> {
        // Buffers aligned to 8 bytes (what the Arrow format requires), not arrow-rs's default
        // of 64: a table has dozens of buffers, most of them small, and padding is bytes sent.
        let mut options = IpcWriteOptions::try_new(8, false, MetadataVersion::V5)?
            .with_dictionary_handling(DictionaryHandling::Delta);
        if let Some(level) = self.zstd_level {
            options = options
                .try_with_compression(Some(CompressionType::ZSTD))?
                .try_with_compression_level(Some(level))?;
        }
        Ok(StreamWriter::try_new_with_options(
            Vec::new(),
            schema,
            options,
        )?)
    }

    /// Encodes `table` as the next payload of its stream, without its empty columns (see
    /// [`prune`](crate::prune)). The stream starts over (fresh dictionaries) when a
    /// dictionary is full or a column it left out has values, and goes on with plain
    /// strings when even a fresh dictionary is full.
    pub(crate) fn payload<T: Table>(&mut self, table: &T) -> Result<ArrowPayload> {
        let kind = table.kind();
        let per_column = self.max_dictionary_bytes / T::STR_COLUMNS.max(1);
        // The stream as it is, then a fresh one with dictionaries, then one without; a schema
        // that grows starts one more.
        let mut fresh_tried = false;
        let mut keep = Paths::new();
        for _ in 0..4 {
            let mut stream = match self.streams.remove(&kind) {
                Some(s) => s,
                None if !fresh_tried => {
                    fresh_tried = true;
                    self.open(true, T::STR_COLUMNS, std::mem::take(&mut keep))
                }
                None => self.open(false, T::STR_COLUMNS, std::mem::take(&mut keep)),
            };
            match table.build(&mut stream.strs, per_column) {
                Ok(batch) => {
                    let batch = prune(&batch?, &stream.keep)?;
                    let writer = match stream.writer.take() {
                        None => {
                            stream.keep = paths(&batch.schema());
                            (self.writer(&batch.schema())?, batch.schema())
                        }
                        Some(w) if w.1 == batch.schema() => w,
                        Some(_) => {
                            // New columns: a new stream that keeps the old ones too.
                            keep = stream.keep;
                            keep.extend(paths(&batch.schema()));
                            fresh_tried = !stream.strs.iter().any(StrColumn::is_dictionary);
                            continue;
                        }
                    };
                    let (writer, _) = stream.writer.insert(writer);
                    writer.write(&batch)?;
                    // The next batch's bytes will take about as much room as these.
                    let room = writer.get_ref().len();
                    let record = Bytes::from(std::mem::replace(
                        writer.get_mut(),
                        Vec::with_capacity(room),
                    ));
                    let payload = ArrowPayload::new(stream.schema_id.clone(), kind, record);
                    self.streams.insert(kind, stream);
                    return Ok(payload);
                }
                Err(Full) => {
                    stream.strs.iter_mut().for_each(StrColumn::discard_batch);
                    keep = stream.keep;
                }
            }
        }
        Err(Error::TooLarge(format!(
            "{} does not fit even plain string columns",
            kind.as_str_name()
        )))
    }

    /// Dictionary bytes the streams hold.
    pub(crate) fn held_bytes(&self) -> usize {
        self.streams
            .values()
            .flat_map(|s| s.strs.iter())
            .map(StrColumn::held_bytes)
            .sum()
    }
}

/// An IPC end-of-stream marker: continuation, then a zero length.
const END_OF_STREAM: [u8; 8] = [0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0];

/// Limits on what a decoder holds between batches.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReadLimits {
    /// Bytes of dictionaries (and schemas) held by all streams together.
    pub(crate) max_state_bytes: usize,
    /// Open IPC streams.
    pub(crate) max_streams: usize,
    /// Bytes the compressed buffers of one payload may declare they decompress to.
    pub(crate) max_payload_bytes: usize,
    /// Rows one batch's payloads may declare together.
    pub(crate) max_rows: usize,
}

#[derive(Debug)]
struct ReadStream {
    kind: ArrowPayloadType,
    decoder: StreamDecoder,
    held: usize,
}

/// The reading side: one IPC stream per schema id.
#[derive(Debug)]
pub(crate) struct Readers {
    streams: HashMap<Str, ReadStream>,
    pub(crate) limits: ReadLimits,
    /// Rows the current batch's payloads declared so far.
    batch_rows: usize,
}

impl Readers {
    pub(crate) fn new(limits: ReadLimits) -> Self {
        Readers {
            streams: HashMap::new(),
            limits,
            batch_rows: 0,
        }
    }

    /// Starts counting the rows of a new batch.
    pub(crate) fn begin_batch(&mut self) {
        self.batch_rows = 0;
    }

    /// Forgets every stream.
    pub(crate) fn reset(&mut self) {
        self.streams.clear();
    }

    /// What the streams hold, in bytes.
    pub(crate) fn held_bytes(&self) -> usize {
        self.streams.values().map(|s| s.held).sum()
    }

    /// Decodes the one record batch `payload` carries. On error the payload's stream is
    /// dropped (its state is no longer known); the caller should end the OTAP stream.
    pub(crate) fn read(
        &mut self,
        payload: &ArrowPayload,
        kind: ArrowPayloadType,
    ) -> Result<RecordBatch> {
        let id = &payload.schema_id;
        let mut stream = match self.streams.remove(id) {
            Some(s) if s.kind == kind => s,
            Some(s) => {
                return Err(Error::Payloads(format!(
                    "schema id {id:?} names a {} stream, not {}",
                    s.kind.as_str_name(),
                    kind.as_str_name()
                )));
            }
            None => {
                // A new schema id for a payload type replaces that type's stream.
                self.streams.retain(|_, s| s.kind != kind);
                if self.streams.len() >= self.limits.max_streams {
                    return Err(Error::StateLimit {
                        would_hold: self.streams.len() + 1,
                        limit: self.limits.max_streams,
                        what: "IPC streams",
                    });
                }
                ReadStream {
                    kind,
                    decoder: StreamDecoder::new(),
                    held: 0,
                }
            }
        };
        let rows = crate::preflight::check(
            &payload.record,
            self.limits.max_payload_bytes,
            (self.batch_rows, self.limits.max_rows),
        )?;
        self.batch_rows = self.batch_rows.saturating_add(rows);
        let mut buffer = Buffer::from(payload.record.to_vec());
        let mut batch = None;
        while !buffer.is_empty() {
            if let Some(b) = guarded(|| stream.decoder.decode(&mut buffer))??
                && batch.replace(b).is_some()
            {
                return Err(Error::Payloads(format!(
                    "a {} payload holds more than one record batch",
                    kind.as_str_name()
                )));
            }
        }
        if batch.is_none() {
            // arrow-rs's decoder reads a message's body on its next pass over bytes, so a last
            // record batch with an empty body (no rows, no buffers) waits for bytes that never
            // come. Bytes after it let it finish; they are not consumed (it returns the batch
            // first) and are dropped here, so the stream reads on as before.
            let mut nudge = Buffer::from(END_OF_STREAM.to_vec());
            batch = guarded(|| stream.decoder.decode(&mut nudge))??;
        }
        let Some(batch) = batch else {
            return Err(Error::Payloads(format!(
                "a {} payload holds no record batch",
                kind.as_str_name()
            )));
        };
        stream.held = dictionary_bytes(batch.columns()) + schema_bytes(&batch.schema());
        let total = self.held_bytes() + stream.held;
        if total > self.limits.max_state_bytes {
            return Err(Error::StateLimit {
                would_hold: total,
                limit: self.limits.max_state_bytes,
                what: "dictionary and schema bytes",
            });
        }
        self.streams.insert(id.clone(), stream);
        Ok(batch)
    }
}

/// Bytes of the dictionaries behind `columns` (what the IPC reader keeps for later batches).
fn dictionary_bytes(columns: &[ArrayRef]) -> usize {
    columns
        .iter()
        .map(|c| match c.data_type() {
            DataType::Dictionary(..) => c.as_any_dictionary().values().get_array_memory_size(),
            DataType::Struct(_) => dictionary_bytes(c.as_struct().columns()),
            _ => 0,
        })
        .sum()
}

/// A rough size of a schema as held in memory.
fn schema_bytes(schema: &SchemaRef) -> usize {
    schema
        .flattened_fields()
        .iter()
        .map(|f| 64 + f.name().len())
        .sum()
}

/// Runs a step of arrow-rs on untrusted bytes, turning a panic into an error.
///
/// arrow-rs's IPC reader checks message headers but, reading damaged buffers, can still panic
/// (a boolean or offset buffer shorter than its array says) before it validates the arrays.
/// Such a panic leaves nothing shared half-updated: the stream it happened in is dropped with
/// the error. (Under `panic = "abort"` it aborts instead; the preflight check stops the most
/// likely cases first.)
pub(crate) fn guarded<T>(step: impl FnOnce() -> T) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(step)).map_err(|_| {
        Error::Payloads("IPC payload: damaged buffers (arrow-rs could not read them)".into())
    })
}
