//! List columns (histogram buckets and bounds, summary quantiles): building them, and reading
//! one row's items back.

use crate::columns::{Column, Typed};
use crate::{ArrowPayloadType, Error, Result};
use arrow_array::cast::AsArray;
use arrow_array::types::ArrowPrimitiveType;
use arrow_array::{Array, ArrayRef, ListArray};
use arrow_buffer::{OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType, Field};
use std::sync::Arc;

/// A nullable `List<UInt64>` field.
pub(crate) fn u64_list(name: &str) -> Field {
    Field::new_list(name, Field::new_list_field(DataType::UInt64, true), true)
}

/// A list column of rows of `lengths` items, the items (of `item`) one after another in
/// `values`.
pub(crate) fn list(
    item: DataType,
    lengths: impl Iterator<Item = usize>,
    values: ArrayRef,
) -> Result<ArrayRef> {
    let mut offsets = vec![0i32];
    let mut end = 0usize;
    for n in lengths {
        end += n;
        offsets.push(
            i32::try_from(end)
                .map_err(|_| Error::TooLarge("more than 2^31 list items in one table".into()))?,
        );
    }
    let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
    let field = Arc::new(Field::new_list_field(item, true));
    Ok(Arc::new(ListArray::try_new(field, offsets, values, None)?))
}

impl Typed for ListArray {
    fn view(a: &dyn Array) -> Option<&Self> {
        a.as_list_opt::<i32>()
    }
    const NAME: &'static str = "List";
}

/// Row `i`'s items of a list column (none where null or absent).
pub(crate) fn items(col: &Option<Column<'_, ListArray>>, i: usize) -> Option<ArrayRef> {
    let c = col.as_ref()?;
    c.at(i).map(|j| c.values().value(j))
}

/// Row `i` of a list column of `T`, nulls as zeros.
pub(crate) fn primitives<T: ArrowPrimitiveType>(
    col: &Option<Column<'_, ListArray>>,
    i: usize,
    table: ArrowPayloadType,
    column: &'static str,
) -> Result<Vec<T::Native>> {
    let Some(row) = items(col, i) else {
        return Ok(Vec::new());
    };
    let values = row.as_primitive_opt::<T>().ok_or_else(|| Error::Column {
        table,
        column,
        problem: format!("unexpected item type {}", row.data_type()),
    })?;
    Ok(values.iter().map(Option::unwrap_or_default).collect())
}
