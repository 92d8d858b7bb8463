//! Values of any type in columns: the `type`, `str`, `int`, `double`, `bool`, `bytes` and
//! `ser` columns that attribute tables and the log body share.
//!
//! `type` is the pcommon value type; the column of that type holds the value and the others
//! are null. Maps and arrays are serialized into `ser` as [CBOR](crate::cbor).

use crate::columns::{Column, Columns, column, present, read};
use crate::dict::{Full, StrColumn};
use crate::{ArrowPayloadType, Result, cbor};
use arrow_array::builder::{
    ArrayBuilder, BinaryBuilder, BooleanBuilder, Float64Builder, Int64Builder,
};
use arrow_array::types::{Float64Type, Int64Type, UInt8Type};
use arrow_array::{
    ArrayRef, BinaryArray, BooleanArray, PrimitiveArray, StringArray, UInt8Array, new_null_array,
};
use arrow_schema::{DataType, Field};
use bytes::Bytes;
use otlp_proto::Str;
use otlp_proto::common::{AnyValue, Value};
use std::cmp::Ordering;
use std::sync::Arc;

/// The pcommon value types, as the `type` column numbers them.
pub(crate) mod vt {
    pub(crate) const EMPTY: u8 = 0;
    pub(crate) const STR: u8 = 1;
    pub(crate) const INT: u8 = 2;
    pub(crate) const DOUBLE: u8 = 3;
    pub(crate) const BOOL: u8 = 4;
    pub(crate) const MAP: u8 = 5;
    pub(crate) const SLICE: u8 = 6;
    pub(crate) const BYTES: u8 = 7;
}

/// One value, as its columns hold it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val<'a> {
    Empty,
    Str(&'a str),
    Int(i64),
    Double(f64),
    Bool(bool),
    Bytes(&'a [u8]),
    /// A map or array, serialized.
    Ser(Vec<u8>),
}

/// A string as a hash key, compared by address before contents (see [`same_str`]).
#[derive(Debug, Clone, Copy, Eq)]
pub(crate) struct StrKey<'a>(pub(crate) &'a str);

impl PartialEq for StrKey<'_> {
    fn eq(&self, other: &Self) -> bool {
        same_str(self.0, other.0)
    }
}

impl std::hash::Hash for StrKey<'_> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

/// Whether `a` and `b` are equal, looking at their addresses first: a key or value that comes
/// from one constant lies at one address, and comparing long strings byte by byte on every
/// row is what grouping them costs otherwise.
pub(crate) fn same_str(a: &str, b: &str) -> bool {
    (std::ptr::eq(a.as_ptr(), b.as_ptr()) && a.len() == b.len()) || a == b
}

/// A [`Val`] as a hash key (see [`Val::key`]).
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) enum ValKey<'a> {
    Empty,
    Str(StrKey<'a>),
    Int(i64),
    Double(u64),
    Bool(bool),
    Bytes(&'a [u8]),
    Ser(&'a [u8]),
}

impl Val<'_> {
    /// The order of values of one type (maps and arrays by their serialization).
    pub(crate) fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Val::Str(a), Val::Str(b)) => a.cmp(b),
            (Val::Int(a), Val::Int(b)) => a.cmp(b),
            (Val::Double(a), Val::Double(b)) => a.total_cmp(b),
            (Val::Bool(a), Val::Bool(b)) => a.cmp(b),
            (Val::Bytes(a), Val::Bytes(b)) => a.cmp(b),
            (Val::Ser(a), Val::Ser(b)) => a.cmp(b),
            _ => Ordering::Equal,
        }
    }

    /// The value as a hash key: two values have equal keys exactly when [`cmp`](Self::cmp)
    /// finds them equal (doubles by their bits, as `total_cmp` orders them).
    pub(crate) fn key(&self) -> ValKey<'_> {
        match self {
            Val::Empty => ValKey::Empty,
            Val::Str(s) => ValKey::Str(StrKey(s)),
            Val::Int(i) => ValKey::Int(*i),
            Val::Double(d) => ValKey::Double(d.to_bits()),
            Val::Bool(b) => ValKey::Bool(*b),
            Val::Bytes(b) => ValKey::Bytes(b),
            Val::Ser(s) => ValKey::Ser(s),
        }
    }

    /// Whether a row with this value continues a run of the previous row's (same key and
    /// type): scalars only, doubles by IEEE `==` as the Go decoder compares them (NaN never
    /// equal, -0.0 equal to 0.0; arrow-rs's kernels, which otel-arrow's Rust decoder uses,
    /// compare bits instead, so the two disagree there: the Collector is the peer that counts).
    pub(crate) fn continues(&self, prev: &Self) -> bool {
        match (self, prev) {
            (Val::Double(a), Val::Double(b)) => a == b,
            (Val::Str(a), Val::Str(b)) => same_str(a, b),
            (Val::Empty, _) | (Val::Ser(_), _) => false,
            (a, b) => a == b,
        }
    }
}

/// A value's type code and columns.
pub(crate) fn of(v: Option<&AnyValue>) -> (u8, Val<'_>) {
    match v.and_then(|v| v.value.as_ref()) {
        // A string-table index (profiles only) has no OTAP form: it is an empty value.
        None | Some(Value::StringValueStrindex(_)) => (vt::EMPTY, Val::Empty),
        Some(Value::StringValue(s)) => (vt::STR, Val::Str(s)),
        Some(Value::IntValue(i)) => (vt::INT, Val::Int(*i)),
        Some(Value::DoubleValue(d)) => (vt::DOUBLE, Val::Double(*d)),
        Some(Value::BoolValue(b)) => (vt::BOOL, Val::Bool(*b)),
        Some(Value::BytesValue(b)) => (vt::BYTES, Val::Bytes(b)),
        Some(Value::KvlistValue(m)) => {
            let mut out = Vec::new();
            cbor::write_map(&m.values, &mut out);
            (vt::MAP, Val::Ser(out))
        }
        Some(Value::ArrayValue(a)) => {
            let mut out = Vec::new();
            cbor::write_array(&a.values, &mut out);
            (vt::SLICE, Val::Ser(out))
        }
    }
}

/// The value columns' fields, `str` of type `str_type`.
pub(crate) fn fields(str_type: DataType) -> Vec<Field> {
    vec![
        Field::new("type", DataType::UInt8, false),
        Field::new("str", str_type, true),
        Field::new("int", DataType::Int64, true),
        Field::new("double", DataType::Float64, true),
        Field::new("bool", DataType::Boolean, true),
        Field::new("bytes", DataType::Binary, true),
        Field::new("ser", DataType::Binary, true),
    ]
}

/// Builds the value columns (but `str`, a stream's [`StrColumn`]).
///
/// A row fills one of the five typed columns and leaves the others null, and most tables use
/// one or two of them: a typed column is only built once a row has a value for it, its nulls
/// written in runs (a column no row used comes out all null, and [`prune`](crate::prune)
/// leaves it out).
#[derive(Default)]
pub(crate) struct ValueBuilder {
    types: Vec<u8>,
    ints: Sparse<Int64Builder>,
    doubles: Sparse<Float64Builder>,
    bools: Sparse<BooleanBuilder>,
    bytes: Sparse<BinaryBuilder>,
    sers: Sparse<BinaryBuilder>,
}

/// An Arrow builder that can take a run of nulls at once.
trait Pad: ArrayBuilder + Default {
    fn pad(&mut self, n: usize);
}

macro_rules! pad {
    ($($t:ty),*) => {$(
        impl Pad for $t {
            fn pad(&mut self, n: usize) {
                self.append_nulls(n);
            }
        }
    )*};
}
pad!(Int64Builder, Float64Builder, BooleanBuilder, BinaryBuilder);

/// A nullable column made only when a row has a value for it.
#[derive(Default)]
struct Sparse<B> {
    builder: Option<B>,
}

impl<B: Pad> Sparse<B> {
    /// The builder, with nulls up to row `row` (the row about to be appended).
    fn at(&mut self, row: usize) -> &mut B {
        let b = self.builder.get_or_insert_with(B::default);
        let len = b.len();
        if len < row {
            b.pad(row - len);
        }
        b
    }

    /// The column of `rows` rows of type `data_type`.
    fn finish(&mut self, rows: usize, data_type: &DataType) -> ArrayRef {
        if self.builder.is_none() {
            return new_null_array(data_type, rows);
        }
        self.at(rows).finish()
    }
}

impl ValueBuilder {
    /// Appends one value, its string (if any) to `strs`.
    pub(crate) fn append(
        &mut self,
        ty: u8,
        val: &Val<'_>,
        strs: &mut StrColumn,
        max_bytes: usize,
    ) -> std::result::Result<(), Full> {
        let row = self.types.len();
        match val {
            Val::Str(s) => strs.append(s, max_bytes)?,
            _ => strs.append_null(),
        }
        self.types.push(ty);
        match val {
            Val::Empty | Val::Str(_) => {}
            Val::Int(i) => self.ints.at(row).append_value(*i),
            Val::Double(d) => self.doubles.at(row).append_value(*d),
            Val::Bool(b) => self.bools.at(row).append_value(*b),
            Val::Bytes(b) => self.bytes.at(row).append_value(b),
            Val::Ser(s) => self.sers.at(row).append_value(s),
        }
        Ok(())
    }

    /// Appends the string value `s`, which the caller knows equals the last one appended to
    /// `strs` (a run in a sorted table): see [`StrColumn::append_repeat`].
    pub(crate) fn append_repeated_str(
        &mut self,
        s: &str,
        strs: &mut StrColumn,
        max_bytes: usize,
    ) -> std::result::Result<(), Full> {
        strs.append_repeat(s, max_bytes)?;
        self.types.push(vt::STR);
        Ok(())
    }

    /// The columns in [`fields`] order, with `strs` as `str`.
    pub(crate) fn finish(mut self, strs: ArrayRef) -> Vec<ArrayRef> {
        let rows = self.types.len();
        vec![
            Arc::new(UInt8Array::from(std::mem::take(&mut self.types))),
            strs,
            self.ints.finish(rows, &DataType::Int64),
            self.doubles.finish(rows, &DataType::Float64),
            self.bools.finish(rows, &DataType::Boolean),
            self.bytes.finish(rows, &DataType::Binary),
            self.sers.finish(rows, &DataType::Binary),
        ]
    }
}

/// Reads the value columns of a table or struct.
pub(crate) struct ValueReader<'a> {
    types: Option<Column<'a, PrimitiveArray<UInt8Type>>>,
    strs: Option<Column<'a, StringArray>>,
    ints: Option<Column<'a, PrimitiveArray<Int64Type>>>,
    doubles: Option<Column<'a, PrimitiveArray<Float64Type>>>,
    bools: Option<Column<'a, BooleanArray>>,
    bytes: Option<Column<'a, BinaryArray>>,
    sers: Option<Column<'a, BinaryArray>>,
}

impl<'a> ValueReader<'a> {
    pub(crate) fn new(cols: &'a dyn Columns, kind: ArrowPayloadType) -> Result<Self> {
        Ok(ValueReader {
            types: column(cols, kind, "type")?,
            strs: column(cols, kind, "str")?,
            ints: column(cols, kind, "int")?,
            doubles: column(cols, kind, "double")?,
            bools: column(cols, kind, "bool")?,
            bytes: column(cols, kind, "bytes")?,
            sers: column(cols, kind, "ser")?,
        })
    }

    /// Row `i`'s type and value. A scalar type whose value is null reads as `Empty` (its
    /// zero value, see [`to_any`]), which never continues a run.
    pub(crate) fn val(&self, i: usize) -> std::result::Result<(u8, Val<'a>), String> {
        let ty = read(&self.types, i);
        let val = match ty {
            vt::EMPTY => Val::Empty,
            vt::STR if present(&self.strs, i) => Val::Str(read(&self.strs, i)),
            vt::INT if present(&self.ints, i) => Val::Int(read(&self.ints, i)),
            vt::DOUBLE if present(&self.doubles, i) => Val::Double(read(&self.doubles, i)),
            vt::BOOL if present(&self.bools, i) => Val::Bool(read(&self.bools, i)),
            vt::BYTES if present(&self.bytes, i) => Val::Bytes(read(&self.bytes, i)),
            vt::MAP | vt::SLICE => Val::Ser(read(&self.sers, i).to_vec()),
            vt::STR | vt::INT | vt::DOUBLE | vt::BOOL | vt::BYTES => Val::Empty,
            other => return Err(format!("unknown value type {other} in row {i}")),
        };
        Ok((ty, val))
    }
}

/// The value a row holds.
pub(crate) fn to_any(ty: u8, val: &Val<'_>) -> std::result::Result<AnyValue, String> {
    let value = match (val, ty) {
        (Val::Empty, vt::STR) => Value::StringValue(Str::new()),
        (Val::Empty, vt::INT) => Value::IntValue(0),
        (Val::Empty, vt::DOUBLE) => Value::DoubleValue(0.0),
        (Val::Empty, vt::BOOL) => Value::BoolValue(false),
        (Val::Empty, vt::BYTES) => Value::BytesValue(Bytes::new()),
        (Val::Empty, _) => return Ok(AnyValue { value: None }),
        (Val::Str(s), _) => Value::StringValue(Str::copy_from(s)),
        (Val::Int(v), _) => Value::IntValue(*v),
        (Val::Double(v), _) => Value::DoubleValue(*v),
        (Val::Bool(v), _) => Value::BoolValue(*v),
        (Val::Bytes(b), _) => Value::BytesValue(Bytes::copy_from_slice(b)),
        // An absent serialization: an empty map or array.
        (Val::Ser(s), vt::MAP) if s.is_empty() => Value::KvlistValue(Default::default()),
        (Val::Ser(s), _) if s.is_empty() => Value::ArrayValue(Default::default()),
        (Val::Ser(s), ty) => return cbor::read(s, ty == vt::MAP),
    };
    Ok(AnyValue::new(value))
}
