//! Small column builders the tables share.

use crate::{ArrowPayloadType, Error, Result};
use arrow_array::builder::FixedSizeBinaryBuilder;
use arrow_array::{ArrayRef, StringArray, UInt32Array};
use arrow_schema::{DataType, TimeUnit};
use std::sync::Arc;

/// Nanoseconds since the epoch.
pub(crate) fn timestamp() -> DataType {
    DataType::Timestamp(TimeUnit::Nanosecond, None)
}

/// The all-zero (invalid) id that stands for an empty one where the id column is required.
const ZEROS: [u8; 16] = [0; 16];

/// An id as a required id column holds it: an empty id as zeros.
pub(crate) fn required_id(id: &[u8], size: usize) -> &[u8] {
    if id.is_empty() { &ZEROS[..size] } else { id }
}

/// A column of ids of `size` bytes. An empty id is a null, or zeros if the column is
/// `required` (otel-arrow's decoders refuse nulls in span and link ids).
pub(crate) fn ids<'a>(
    table: ArrowPayloadType,
    size: i32,
    required: bool,
    values: impl Iterator<Item = &'a [u8]>,
    what: &str,
) -> Result<ArrayRef> {
    let mut b = FixedSizeBinaryBuilder::new(size);
    for v in values {
        if v.is_empty() && !required {
            b.append_null();
        } else {
            b.append_value(required_id(v, size as usize))
                .map_err(|_| Error::Value {
                    table,
                    problem: format!("{what} of {} bytes (must be {size}, or empty)", v.len()),
                })?;
        }
    }
    Ok(Arc::new(b.finish()))
}

/// A delta-encoded `UInt32` id column for rows numbered 0, 1, 2, ...: 0 then 1s.
pub(crate) fn sequential_u32(n: usize) -> ArrayRef {
    Arc::new(UInt32Array::from_iter_values(
        (0..n).map(|i| u32::from(i > 0)),
    ))
}

pub(crate) fn u32s(values: impl Iterator<Item = u32>) -> ArrayRef {
    Arc::new(UInt32Array::from_iter_values(values))
}

pub(crate) fn strings<'a>(values: impl Iterator<Item = &'a str>) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(values))
}
