//! Reading the columns of a decoded table by name, whatever way the encoder laid them out: a
//! column may be plain or dictionary-encoded (any integer key), and an optional column may be
//! missing (all null). A column of another type is an error naming it, never a panic.

use crate::{ArrowPayloadType, Error, Result};
use arrow_array::cast::AsArray;
use arrow_array::types::ArrowPrimitiveType;
use arrow_array::{
    Array, ArrayRef, BinaryArray, BooleanArray, FixedSizeBinaryArray, PrimitiveArray, RecordBatch,
    StringArray, StructArray,
};

/// Something with named columns: a record batch, or a struct column.
pub(crate) trait Columns {
    /// The column called `name`.
    fn get(&self, name: &str) -> Option<&ArrayRef>;
}

impl Columns for RecordBatch {
    fn get(&self, name: &str) -> Option<&ArrayRef> {
        self.column_by_name(name)
    }
}

impl Columns for StructArray {
    fn get(&self, name: &str) -> Option<&ArrayRef> {
        self.column_by_name(name)
    }
}

/// A typed view of one column: row `i` maps to a valid slot of `values`, or to nothing.
pub(crate) struct Column<'a, A> {
    values: &'a A,
    /// For a dictionary column: each row's index into `values`, `None` where the key is null.
    keys: Option<Vec<Option<usize>>>,
}

impl<'a, A: Array> Column<'a, A> {
    /// The slot of `values` that row `i` holds, if the row is not null.
    pub(crate) fn at(&self, i: usize) -> Option<usize> {
        let j = match &self.keys {
            None => i,
            Some(keys) => (*keys.get(i)?)?,
        };
        (j < self.values.len() && self.values.is_valid(j)).then_some(j)
    }

    /// The underlying values.
    pub(crate) fn values(&self) -> &'a A {
        self.values
    }
}

/// How to view an [`ArrayRef`] as one concrete array type.
pub(crate) trait Typed: Array + Sized + 'static {
    /// The array as this type, if it is one.
    fn view(a: &dyn Array) -> Option<&Self>;
    /// The type's name in errors.
    const NAME: &'static str;
}

impl Typed for StringArray {
    fn view(a: &dyn Array) -> Option<&Self> {
        a.as_string_opt::<i32>()
    }
    const NAME: &'static str = "Utf8";
}

impl Typed for BinaryArray {
    fn view(a: &dyn Array) -> Option<&Self> {
        a.as_binary_opt::<i32>()
    }
    const NAME: &'static str = "Binary";
}

impl Typed for FixedSizeBinaryArray {
    fn view(a: &dyn Array) -> Option<&Self> {
        a.as_fixed_size_binary_opt()
    }
    const NAME: &'static str = "FixedSizeBinary";
}

impl Typed for BooleanArray {
    fn view(a: &dyn Array) -> Option<&Self> {
        a.as_boolean_opt()
    }
    const NAME: &'static str = "Boolean";
}

impl<T: ArrowPrimitiveType> Typed for PrimitiveArray<T> {
    fn view(a: &dyn Array) -> Option<&Self> {
        a.as_primitive_opt::<T>()
    }
    const NAME: &'static str = "a primitive of the expected width";
}

/// The column `name` of `cols` as `A`, plain or dictionary-encoded; `None` if it is absent.
pub(crate) fn column<'a, A: Typed>(
    cols: &'a dyn Columns,
    table: ArrowPayloadType,
    name: &'static str,
) -> Result<Option<Column<'a, A>>> {
    let Some(array) = cols.get(name) else {
        return Ok(None);
    };
    let wrong = |what: &str| Error::Column {
        table,
        column: name,
        problem: format!("expected {} (or a dictionary of it), found {what}", A::NAME),
    };
    if let Some(values) = A::view(array.as_ref()) {
        return Ok(Some(Column { values, keys: None }));
    }
    let Some(dict) = array.as_any_dictionary_opt() else {
        return Err(wrong(&array.data_type().to_string()));
    };
    let values =
        A::view(dict.values().as_ref()).ok_or_else(|| wrong(&array.data_type().to_string()))?;
    let keys = if values.is_empty() {
        vec![None; array.len()]
    } else {
        let normalized = dict.normalized_keys();
        let key_array = dict.keys();
        normalized
            .into_iter()
            .enumerate()
            .map(|(i, k)| key_array.is_valid(i).then_some(k))
            .collect()
    };
    Ok(Some(Column {
        values,
        keys: Some(keys),
    }))
}

/// Like [`column`], for a column the table cannot do without.
pub(crate) fn required<'a, A: Typed>(
    cols: &'a dyn Columns,
    table: ArrowPayloadType,
    name: &'static str,
) -> Result<Column<'a, A>> {
    column(cols, table, name)?.ok_or(Error::Column {
        table,
        column: name,
        problem: "missing".into(),
    })
}

/// The struct column `name`, if present.
pub(crate) fn struct_column<'a>(
    cols: &'a dyn Columns,
    table: ArrowPayloadType,
    name: &'static str,
) -> Result<Option<&'a StructArray>> {
    match cols.get(name) {
        None => Ok(None),
        Some(a) => a.as_struct_opt().map(Some).ok_or_else(|| Error::Column {
            table,
            column: name,
            problem: format!("expected a struct, found {}", a.data_type()),
        }),
    }
}

/// Row accessors that read a missing column or a null as the type's zero value.
pub(crate) trait Read<'a> {
    /// What a row reads as.
    type Out;
    /// Row `i`, or the default for a null or absent value.
    fn read(col: &Option<Column<'a, Self>>, i: usize) -> Self::Out
    where
        Self: Sized;
}

impl<'a> Read<'a> for StringArray {
    type Out = &'a str;
    fn read(col: &Option<Column<'a, Self>>, i: usize) -> &'a str {
        col.as_ref()
            .and_then(|c| c.at(i).map(|j| c.values().value(j)))
            .unwrap_or("")
    }
}

impl<'a> Read<'a> for BinaryArray {
    type Out = &'a [u8];
    fn read(col: &Option<Column<'a, Self>>, i: usize) -> &'a [u8] {
        col.as_ref()
            .and_then(|c| c.at(i).map(|j| c.values().value(j)))
            .unwrap_or(&[])
    }
}

impl<'a> Read<'a> for FixedSizeBinaryArray {
    type Out = &'a [u8];
    fn read(col: &Option<Column<'a, Self>>, i: usize) -> &'a [u8] {
        col.as_ref()
            .and_then(|c| c.at(i).map(|j| c.values().value(j)))
            .unwrap_or(&[])
    }
}

impl<'a> Read<'a> for BooleanArray {
    type Out = bool;
    fn read(col: &Option<Column<'a, Self>>, i: usize) -> bool {
        col.as_ref()
            .and_then(|c| c.at(i).map(|j| c.values().value(j)))
            .unwrap_or(false)
    }
}

impl<'a, T: ArrowPrimitiveType> Read<'a> for PrimitiveArray<T> {
    type Out = T::Native;
    fn read(col: &Option<Column<'a, Self>>, i: usize) -> T::Native {
        col.as_ref()
            .and_then(|c| c.at(i).map(|j| c.values().value(j)))
            .unwrap_or_default()
    }
}

/// Row `i` of an optional column, the zero value where null or absent.
pub(crate) fn read<'a, A: Typed + Read<'a>>(col: &Option<Column<'a, A>>, i: usize) -> A::Out {
    A::read(col, i)
}

/// Whether row `i` of an optional column holds a value.
pub(crate) fn present<A: Array>(col: &Option<Column<'_, A>>, i: usize) -> bool {
    col.as_ref().and_then(|c| c.at(i)).is_some()
}
