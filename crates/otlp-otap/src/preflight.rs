//! A look at an IPC payload's message headers before arrow-rs decodes it.
//!
//! A compressed IPC buffer starts with the length it decompresses to, and the reader allocates
//! that much up front: a few bytes of input could ask for terabytes, and a failed allocation
//! aborts the process. So before decoding, the headers are walked: every message must be whole
//! (no message continues into the next payload), and the lengths the buffers declare must add
//! up to no more than the decoder's state limit.

use crate::{Error, Result};
use bytes::Bytes;

const CONTINUATION: [u8; 4] = [0xff; 4];

/// Checks `record`, the IPC bytes of one payload: what its buffers declare they decompress to
/// (at most `max_decompressed` bytes) and the rows its record batches declare (`rows.0` were
/// declared before it in its batch, which may hold `rows.1`). Returns the rows it declares.
pub(crate) fn check(
    record: &Bytes,
    max_decompressed: usize,
    rows: (usize, usize),
) -> Result<usize> {
    let (before, max_rows) = rows;
    let bad = |why: String| Error::Payloads(format!("IPC payload: {why}"));
    let mut pos = 0usize;
    let mut declared = 0u64;
    let mut rows = 0usize;
    while pos < record.len() {
        let mut word = record
            .get(pos..pos + 4)
            .ok_or_else(|| bad("truncated message length".into()))?;
        if word == CONTINUATION {
            pos += 4;
            word = record
                .get(pos..pos + 4)
                .ok_or_else(|| bad("truncated message length".into()))?;
        }
        let mut len = [0u8; 4];
        len.copy_from_slice(word);
        let len = u32::from_le_bytes(len) as usize;
        pos += 4;
        if len == 0 {
            // End of stream: nothing may follow.
            if pos != record.len() {
                return Err(bad("bytes after the end-of-stream marker".into()));
            }
            break;
        }
        let meta = record
            .get(pos..pos.saturating_add(len))
            .ok_or_else(|| bad("truncated message header".into()))?;
        let message = arrow_ipc::root_as_message(meta)
            .map_err(|e| bad(format!("invalid message header: {e}")))?;
        pos += len;
        let body_len = usize::try_from(message.bodyLength())
            .map_err(|_| bad("negative body length".into()))?;
        let body = record
            .get(pos..pos.saturating_add(body_len))
            .ok_or_else(|| bad("truncated message body".into()))?;
        pos += body_len;
        let batch = message
            .header_as_record_batch()
            .or_else(|| message.header_as_dictionary_batch().and_then(|d| d.data()));
        let Some(batch) = batch else { continue };
        // Rows cost nothing to declare (a column of nulls needs no values), and each becomes
        // an item or part of one: counted for the caller's limit.
        let declared_rows =
            usize::try_from(batch.length()).map_err(|_| bad("negative row count".into()))?;
        rows = rows.saturating_add(declared_rows);
        if before.saturating_add(rows) > max_rows {
            return Err(Error::Payloads(format!(
                "the batch's payloads declare {} rows or more, more than the {max_rows} a \
                 batch may hold",
                before.saturating_add(rows)
            )));
        }
        if batch.compression().is_none() {
            continue;
        }
        for buf in batch.buffers().into_iter().flatten() {
            if buf.length() < 8 {
                continue;
            }
            let at =
                usize::try_from(buf.offset()).map_err(|_| bad("negative buffer offset".into()))?;
            let prefix = body
                .get(at..at.saturating_add(8))
                .ok_or_else(|| bad("buffer outside its message body".into()))?;
            let mut n = [0u8; 8];
            n.copy_from_slice(prefix);
            // -1 marks a buffer stored uncompressed: its size is its length, already in hand.
            let n = i64::from_le_bytes(n);
            if n > 0 {
                declared = declared.saturating_add(n as u64);
            }
        }
        if declared > max_decompressed as u64 {
            return Err(Error::StateLimit {
                would_hold: usize::try_from(declared).unwrap_or(usize::MAX),
                limit: max_decompressed,
                what: "decompressed IPC bytes of one payload",
            });
        }
    }
    Ok(rows)
}
