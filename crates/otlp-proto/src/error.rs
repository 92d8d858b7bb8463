//! The error returned when bytes do not decode.

use std::fmt;

/// What went wrong while decoding protobuf or OTLP/JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// The input ended in the middle of a value.
    Truncated,
    /// A varint was longer than ten bytes.
    BadVarint,
    /// A field tag or wire type is not valid protobuf.
    BadTag,
    /// A field arrived with a wire type its schema does not allow.
    WrongWireType,
    /// A string field is not valid UTF-8.
    InvalidUtf8,
    /// Messages are nested deeper than [`MAX_DEPTH`](crate::MAX_DEPTH) allows.
    TooDeep,
    /// The JSON text is malformed.
    Syntax,
    /// A JSON value has the wrong type for its field.
    WrongType,
    /// A hex or base64 value does not decode.
    BadEncoding,
    /// A number is out of range for its field.
    OutOfRange,
    /// A trace or span id of the wrong length (an id is exactly 16 or 8 bytes, or absent).
    BadId,
    /// The request carries more items than its [`DecodeLimits`](crate::DecodeLimits) allow.
    TooManyItems,
    /// The decoded request would take more memory than its
    /// [`DecodeLimits`](crate::DecodeLimits) allow.
    TooLarge,
    /// The input is in an encoding this build lacks (OTLP/JSON without the `json` feature).
    Unsupported,
}

/// An error from the protobuf or OTLP/JSON decoder: what went wrong and where.
///
/// One pointer wide (the details are boxed), so a decoder's `Result<(), DecodeError>` is
/// returned in a register: every field decoded passes one back.
#[derive(Clone, PartialEq, Eq)]
pub struct DecodeError(Box<Details>);

#[derive(Clone, PartialEq, Eq)]
struct Details {
    kind: DecodeErrorKind,
    offset: usize,
    detail: &'static str,
}

impl DecodeError {
    #[cold]
    #[inline(never)]
    pub(crate) fn new(kind: DecodeErrorKind, offset: usize, detail: &'static str) -> Self {
        DecodeError(Box::new(Details {
            kind,
            offset,
            detail,
        }))
    }

    /// The kind of failure.
    pub fn kind(&self) -> DecodeErrorKind {
        self.0.kind
    }

    /// The byte offset in the input where decoding failed.
    pub fn offset(&self) -> usize {
        self.0.offset
    }
}

impl fmt::Debug for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DecodeError")
            .field("kind", &self.0.kind)
            .field("offset", &self.0.offset)
            .field("detail", &self.0.detail)
            .finish()
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.0.kind {
            DecodeErrorKind::Truncated => "input ends inside a value",
            DecodeErrorKind::BadVarint => "varint longer than 10 bytes",
            DecodeErrorKind::BadTag => "invalid field tag",
            DecodeErrorKind::WrongWireType => "wrong wire type for field",
            DecodeErrorKind::InvalidUtf8 => "string is not valid UTF-8",
            DecodeErrorKind::TooDeep => "messages nested too deeply",
            DecodeErrorKind::Syntax => "malformed JSON",
            DecodeErrorKind::WrongType => "JSON value has the wrong type",
            DecodeErrorKind::BadEncoding => "invalid hex or base64",
            DecodeErrorKind::OutOfRange => "number out of range",
            DecodeErrorKind::BadId => "trace or span id of the wrong length",
            DecodeErrorKind::TooManyItems => "more items than the limit allows",
            DecodeErrorKind::TooLarge => "decodes to more memory than the limit allows",
            DecodeErrorKind::Unsupported => "encoding not supported by this build",
        };
        write!(f, "{what} at byte {}", self.0.offset)?;
        if !self.0.detail.is_empty() {
            write!(f, " ({})", self.0.detail)?;
        }
        Ok(())
    }
}

impl std::error::Error for DecodeError {}
