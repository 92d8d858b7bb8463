//! The crate's error: what went wrong encoding or decoding OTAP, and where.

use crate::ArrowPayloadType;
use arrow_schema::ArrowError;
use std::fmt;

/// The result of this crate's fallible functions.
pub type Result<T> = std::result::Result<T, Error>;

/// Why a batch could not be encoded or decoded.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// Arrow (building a record batch, or the IPC reader or writer) failed.
    Arrow(ArrowError),
    /// A batch's payloads are not a valid OTAP batch of this signal (missing root payload, the
    /// root payload not first, a payload type twice, an unknown type).
    Payloads(String),
    /// A table lacks a column the decoder needs, or has it with an unexpected type.
    Column {
        /// The table.
        table: ArrowPayloadType,
        /// The column, `struct.child` for a child of a struct column.
        column: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// A value in a table is invalid (an id referring to no row, a malformed serialized value).
    Value {
        /// The table.
        table: ArrowPayloadType,
        /// What is wrong.
        problem: String,
    },
    /// The request does not fit OTAP's id widths (more than 65,536 spans, resources or scopes
    /// in one batch; more than 2^32 events or links).
    TooLarge(String),
    /// The decoder's state (IPC streams and their dictionaries) would exceed its limits.
    StateLimit {
        /// What the state would take, in bytes (or streams, for a stream count).
        would_hold: usize,
        /// The limit.
        limit: usize,
        /// Which limit.
        what: &'static str,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Arrow(e) => write!(f, "arrow: {e}"),
            Error::Payloads(why) => write!(f, "invalid OTAP batch: {why}"),
            Error::Column {
                table,
                column,
                problem,
            } => write!(f, "{} column `{column}`: {problem}", table.as_str_name()),
            Error::Value { table, problem } => write!(f, "{}: {problem}", table.as_str_name()),
            Error::TooLarge(why) => write!(f, "batch too large for OTAP: {why}"),
            Error::StateLimit {
                would_hold,
                limit,
                what,
            } => write!(
                f,
                "OTAP stream state limit: {what} would reach {would_hold}, over the limit of {limit}"
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Arrow(e) => Some(e),
            _ => None,
        }
    }
}

impl From<ArrowError> for Error {
    fn from(e: ArrowError) -> Self {
        Error::Arrow(e)
    }
}
