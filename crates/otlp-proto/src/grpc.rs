//! gRPC wire details shared by the client and the server: message framing, status codes,
//! `grpc-message` percent-encoding and `grpc-timeout`.
//!
//! OTLP's gRPC services are unary, so a request or response body is exactly one length-prefixed
//! message: a 1-byte compressed flag, a 4-byte big-endian length, then the message.

use crate::{Message, RevBuf};
use std::fmt;
use std::time::Duration;

/// Length of the message prefix.
pub const FRAME_HEADER_LEN: usize = 5;

/// The `content-type` of gRPC requests and responses.
pub const CONTENT_TYPE: &str = "application/grpc";

/// Encodes `msg` and prepends an uncompressed frame header, in one pass.
pub fn encode_frame<M: Message>(msg: &M, buf: &mut RevBuf) {
    let mark = buf.len();
    msg.encode(buf);
    let len = (buf.len() - mark) as u32;
    buf.put_slice(&len.to_be_bytes());
    buf.put_u8(0);
}

/// Prepends a frame header to an already-encoded (possibly compressed) message.
pub fn frame(compressed: bool, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + FRAME_HEADER_LEN);
    out.push(u8::from(compressed));
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// Why a gRPC body is not one well-formed message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameError {
    /// The body is shorter than its header says.
    Truncated,
    /// The body holds more than one message (OTLP calls are unary).
    TrailingData,
    /// The compressed flag is neither 0 nor 1.
    BadFlag(u8),
    /// The declared length exceeds the limit.
    TooLarge {
        /// Declared length.
        len: usize,
        /// Limit.
        limit: usize,
    },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Truncated => f.write_str("gRPC message is truncated"),
            FrameError::TrailingData => f.write_str("more than one gRPC message in a unary call"),
            FrameError::BadFlag(b) => write!(f, "invalid gRPC compressed flag {b}"),
            FrameError::TooLarge { len, limit } => {
                write!(
                    f,
                    "gRPC message of {len} bytes exceeds the limit of {limit}"
                )
            }
        }
    }
}

impl std::error::Error for FrameError {}

/// Reads the frame header of a unary body and returns `(compressed, message bytes)`. An empty
/// body is an empty message (allowed for a response without content).
pub fn decode_frame(
    body: &[u8],
    limit: usize,
) -> Result<(bool, std::ops::Range<usize>), FrameError> {
    if body.is_empty() {
        return Ok((false, 0..0));
    }
    if body.len() < FRAME_HEADER_LEN {
        return Err(FrameError::Truncated);
    }
    let compressed = match body[0] {
        0 => false,
        1 => true,
        b => return Err(FrameError::BadFlag(b)),
    };
    let len = u32::from_be_bytes([body[1], body[2], body[3], body[4]]) as usize;
    if len > limit {
        return Err(FrameError::TooLarge { len, limit });
    }
    let end = FRAME_HEADER_LEN + len;
    match body.len().cmp(&end) {
        std::cmp::Ordering::Less => Err(FrameError::Truncated),
        std::cmp::Ordering::Greater => Err(FrameError::TrailingData),
        std::cmp::Ordering::Equal => Ok((compressed, FRAME_HEADER_LEN..end)),
    }
}

/// gRPC status codes.
#[allow(missing_docs)]
pub mod code {
    pub const OK: i32 = 0;
    pub const CANCELLED: i32 = 1;
    pub const UNKNOWN: i32 = 2;
    pub const INVALID_ARGUMENT: i32 = 3;
    pub const DEADLINE_EXCEEDED: i32 = 4;
    pub const NOT_FOUND: i32 = 5;
    pub const ALREADY_EXISTS: i32 = 6;
    pub const PERMISSION_DENIED: i32 = 7;
    pub const RESOURCE_EXHAUSTED: i32 = 8;
    pub const FAILED_PRECONDITION: i32 = 9;
    pub const ABORTED: i32 = 10;
    pub const OUT_OF_RANGE: i32 = 11;
    pub const UNIMPLEMENTED: i32 = 12;
    pub const INTERNAL: i32 = 13;
    pub const UNAVAILABLE: i32 = 14;
    pub const DATA_LOSS: i32 = 15;
    pub const UNAUTHENTICATED: i32 = 16;
}

/// The canonical name of a gRPC status code (`UNAVAILABLE`).
pub fn code_name(c: i32) -> &'static str {
    const NAMES: [&str; 17] = [
        "OK",
        "CANCELLED",
        "UNKNOWN",
        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
        "UNAUTHENTICATED",
    ];
    usize::try_from(c)
        .ok()
        .and_then(|i| NAMES.get(i))
        .copied()
        .unwrap_or("UNKNOWN_CODE")
}

/// Percent-encodes a `grpc-message` value (printable ASCII except `%` is kept).
pub fn encode_message(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    for &b in msg.as_bytes() {
        if (0x20..0x7f).contains(&b) && b != b'%' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes a percent-encoded `grpc-message` value; invalid escapes are kept as they are.
pub fn decode_message(raw: &[u8]) -> String {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%' && i + 2 < raw.len() {
            let hex = std::str::from_utf8(&raw[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(b) = hex {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(raw[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The trailer carrying a binary `google.rpc.Status` with error details (e.g. `RetryInfo`).
pub const STATUS_DETAILS_HEADER: &str = "grpc-status-details-bin";

/// Encodes a status for the [`STATUS_DETAILS_HEADER`] trailer (unpadded base64 of its protobuf).
pub fn encode_status_details(status: &crate::rpc::Status) -> String {
    crate::base64::encode_unpadded(&status.encode_to_bytes())
}

/// Decodes a [`STATUS_DETAILS_HEADER`] value (padded or not); `None` when it is not a status.
pub fn decode_status_details(value: &[u8]) -> Option<crate::rpc::Status> {
    let raw = crate::base64::decode(value)?;
    crate::rpc::Status::decode(&raw.into()).ok()
}

/// Formats a `grpc-timeout` header value (at most 8 digits, as the spec requires).
pub fn format_timeout(d: Duration) -> String {
    let millis = d.as_millis();
    if millis < 100_000_000 {
        format!("{}m", millis.max(1))
    } else {
        format!("{}S", d.as_secs().min(99_999_999))
    }
}

/// Parses a `grpc-timeout` header value.
pub fn parse_timeout(v: &str) -> Option<Duration> {
    if v.len() < 2 || v.len() > 9 {
        return None;
    }
    let (digits, unit) = v.split_at(v.len() - 1);
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.checked_mul(3600)?),
        "M" => Duration::from_secs(n.checked_mul(60)?),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::KeyValue;

    #[test]
    fn frame_round_trip() {
        let kv = KeyValue::new("k", "v");
        let mut buf = RevBuf::new();
        encode_frame(&kv, &mut buf);
        let body = buf.as_slice();
        let (compressed, range) = decode_frame(body, 1 << 20).unwrap();
        assert!(!compressed);
        assert_eq!(&body[range], &kv.encode_to_bytes()[..]);
    }

    #[test]
    fn frame_errors_are_reported() {
        assert_eq!(decode_frame(&[0, 0, 0], 10), Err(FrameError::Truncated));
        assert_eq!(
            decode_frame(&[2, 0, 0, 0, 0], 10),
            Err(FrameError::BadFlag(2))
        );
        assert_eq!(
            decode_frame(&[0, 0, 0, 0, 1, 9, 9], 10),
            Err(FrameError::TrailingData)
        );
        assert!(matches!(
            decode_frame(&[0, 0xff, 0, 0, 0], 10),
            Err(FrameError::TooLarge { .. })
        ));
    }

    #[test]
    fn messages_and_timeouts() {
        let m = "bad 100% \u{e9}";
        assert_eq!(decode_message(encode_message(m).as_bytes()), m);
        assert_eq!(
            parse_timeout(&format_timeout(Duration::from_secs(10))),
            Some(Duration::from_secs(10))
        );
        assert_eq!(parse_timeout("5S"), Some(Duration::from_secs(5)));
        assert_eq!(parse_timeout("x"), None);
        assert_eq!(code_name(14), "UNAVAILABLE");
        assert_eq!(code_name(99), "UNKNOWN_CODE");
    }

    #[test]
    fn status_details_round_trip() {
        let status = crate::rpc::Status::with_retry_delay(
            code::UNAVAILABLE,
            "busy",
            Duration::from_millis(1500),
        );
        let header = encode_status_details(&status);
        assert!(!header.ends_with('='));
        let back = decode_status_details(header.as_bytes()).unwrap();
        assert_eq!(back, status);
        assert_eq!(back.retry_delay(), Some(Duration::from_millis(1500)));
        assert_eq!(decode_status_details(b"!!"), None);
    }
}
