//! The log's on-disk format: a segment header, then records, each a fixed header and a payload,
//! checked by a CRC-32.
//!
//! ```text
//! segment: "OTLPWAL\0" | version u32 | reserved u32 | record | record | ...
//! record:  magic u32 | payload length u32 | crc32 u32 | kind u8 | encoding u8 | reserved u16
//!          | seq u64 | items u32 | payload
//! ```
//!
//! Integers are little-endian. The CRC covers everything after itself (the rest of the header
//! and the payload), so a record cut short or changed anywhere fails it.

use otlp_proto::Encoding;

/// The first bytes of every segment file.
pub(super) const SEGMENT_MAGIC: &[u8; 8] = b"OTLPWAL\0";
/// The format version this build writes and reads.
pub(super) const VERSION: u32 = 1;
pub(super) const SEGMENT_HEADER_LEN: usize = 16;
pub(super) const HEADER_LEN: usize = 28;
const RECORD_MAGIC: u32 = u32::from_le_bytes(*b"OTWQ");
/// Larger than any batch the pipeline writes: a length above it is damage, not data.
const MAX_PAYLOAD: u32 = 1 << 30;

/// What a record says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// An encoded export request of `items` items.
    Batch,
    /// The batch with this `seq` is settled.
    Ack,
}

/// A record's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Header {
    pub(super) kind: Kind,
    pub(super) encoding: Encoding,
    pub(super) seq: u64,
    pub(super) items: u32,
    pub(super) len: u32,
}

/// A segment file's header.
pub(super) fn segment_header() -> [u8; SEGMENT_HEADER_LEN] {
    let mut out = [0; SEGMENT_HEADER_LEN];
    out[..8].copy_from_slice(SEGMENT_MAGIC);
    out[8..12].copy_from_slice(&VERSION.to_le_bytes());
    out
}

/// The version of a segment whose first bytes are `bytes`, or `None` when they are not a
/// segment header (too short, or not ours).
pub(super) fn segment_version(bytes: &[u8]) -> Option<u32> {
    let head = bytes.get(..SEGMENT_HEADER_LEN)?;
    if &head[..8] != SEGMENT_MAGIC {
        return None;
    }
    Some(u32::from_le_bytes([head[8], head[9], head[10], head[11]]))
}

/// The header of a record with `payload`, ready to be written in front of it.
pub(super) fn encode_header(
    kind: Kind,
    encoding: Encoding,
    seq: u64,
    items: u32,
    payload: &[u8],
) -> [u8; HEADER_LEN] {
    let mut h = [0; HEADER_LEN];
    h[0..4].copy_from_slice(&RECORD_MAGIC.to_le_bytes());
    // The pipeline splits batches far below 4 GiB; `read` refuses anything over MAX_PAYLOAD.
    h[4..8].copy_from_slice(
        &u32::try_from(payload.len())
            .unwrap_or(u32::MAX)
            .to_le_bytes(),
    );
    h[12] = match kind {
        Kind::Batch => 1,
        Kind::Ack => 2,
    };
    h[13] = match encoding {
        Encoding::Protobuf => 0,
        Encoding::Json => 1,
    };
    h[16..24].copy_from_slice(&seq.to_le_bytes());
    h[24..28].copy_from_slice(&items.to_le_bytes());
    let crc = crc(&h[12..], payload);
    h[8..12].copy_from_slice(&crc.to_le_bytes());
    h
}

fn crc(header_rest: &[u8], payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(header_rest);
    hasher.update(payload);
    hasher.finalize()
}

/// Reads the record at the start of `bytes`: its header and payload, or `None` when what is
/// there is not a whole, intact record (cut short, damaged, or not a record at all).
pub(super) fn read(bytes: &[u8]) -> Option<(Header, &[u8])> {
    let h = bytes.get(..HEADER_LEN)?;
    let word = |at: usize| u32::from_le_bytes([h[at], h[at + 1], h[at + 2], h[at + 3]]);
    if word(0) != RECORD_MAGIC {
        return None;
    }
    let len = word(4);
    if len > MAX_PAYLOAD {
        return None;
    }
    let payload = bytes.get(HEADER_LEN..HEADER_LEN + len as usize)?;
    if crc(&h[12..], payload) != word(8) {
        return None;
    }
    let header = decode_checked_header(h, len)?;
    Some((header, payload))
}

/// Checks a payload read on its own against the header it was written with.
pub(super) fn payload_intact(header: &[u8; HEADER_LEN], payload: &[u8]) -> bool {
    let stored = u32::from_le_bytes([header[8], header[9], header[10], header[11]]);
    crc(&header[12..], payload) == stored
}

fn decode_checked_header(h: &[u8], len: u32) -> Option<Header> {
    let kind = match h[12] {
        1 => Kind::Batch,
        2 => Kind::Ack,
        _ => return None,
    };
    let encoding = match h[13] {
        0 => Encoding::Protobuf,
        1 => Encoding::Json,
        _ => return None,
    };
    let mut seq = [0; 8];
    seq.copy_from_slice(&h[16..24]);
    Some(Header {
        kind,
        encoding,
        seq: u64::from_le_bytes(seq),
        items: u32::from_le_bytes([h[24], h[25], h[26], h[27]]),
        len,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(payload: &[u8]) -> Vec<u8> {
        let mut out = encode_header(Kind::Batch, Encoding::Json, 7, 3, payload).to_vec();
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn a_record_reads_back() {
        let bytes = record(b"{\"resourceSpans\":[]}");
        let (h, payload) = read(&bytes).unwrap();
        assert_eq!(
            h,
            Header {
                kind: Kind::Batch,
                encoding: Encoding::Json,
                seq: 7,
                items: 3,
                len: 20
            }
        );
        assert_eq!(payload, b"{\"resourceSpans\":[]}");
        let mut header = [0; HEADER_LEN];
        header.copy_from_slice(&bytes[..HEADER_LEN]);
        assert!(payload_intact(&header, payload));
        assert!(!payload_intact(&header, b"{\"resourceSpans\":[1]}"));
    }

    #[test]
    fn every_cut_and_every_flipped_bit_is_refused() {
        let bytes = record(b"0123456789abcdef");
        for cut in 0..bytes.len() {
            assert!(read(&bytes[..cut]).is_none(), "cut at {cut}");
        }
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut damaged = bytes.clone();
                damaged[i] ^= 1 << bit;
                assert!(read(&damaged).is_none(), "byte {i} bit {bit}");
            }
        }
    }

    #[test]
    fn segment_headers_are_recognised() {
        assert_eq!(segment_version(&segment_header()), Some(VERSION));
        assert_eq!(segment_version(&segment_header()[..10]), None);
        assert_eq!(segment_version(b"OTLPWAX\0\x01\0\0\0\0\0\0\0"), None);
    }
}
