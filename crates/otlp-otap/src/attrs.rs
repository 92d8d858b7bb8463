//! Attribute tables (`*_ATTRS`): one row per attribute, keyed by the `parent_id` of the row
//! (resource, scope, span, event or link) it belongs to.
//!
//! Columns: `parent_id` (`UInt16` for resources, scopes and spans, `UInt32` for events and
//! links), `key`, `type` (`UInt8`, the pcommon value type), and one value column per type:
//! `str`, `int` (`Int64`), `double` (`Float64`), `bool`, `bytes` (`Binary`), and `ser`
//! (`Binary`: maps and arrays as [CBOR](crate::cbor)). `key` and `str` are
//! `Dictionary(UInt16, Utf8)` columns (see [`dict`](crate::dict)).
//!
//! Rows are sorted by type, key, value and parent, and `parent_id` is quasi-delta encoded: a
//! row whose type, key and (non-null, scalar) value equal the previous row's stores the
//! difference from the previous row's parent; any other row stores its parent as is.

use crate::columns::{Columns, column, present, read, required};
use crate::dict::{Full, StrColumn};
use crate::stream::Table;
use crate::{ArrowPayloadType, Error, Result, cbor};
use arrow_array::builder::{
    BinaryBuilder, BooleanBuilder, Float64Builder, Int64Builder, UInt8Builder,
};
use arrow_array::types::{Float64Type, Int64Type, UInt8Type, UInt16Type, UInt32Type};
use arrow_array::{
    Array, ArrayRef, BinaryArray, BooleanArray, PrimitiveArray, RecordBatch, StringArray,
    UInt16Array, UInt32Array,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use bytes::Bytes;
use otlp_proto::Str;
use otlp_proto::common::{AnyValue, KeyValue, Value};
use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

/// The pcommon value types, as the `type` column numbers them.
pub(crate) mod value_type {
    pub(crate) const EMPTY: u8 = 0;
    pub(crate) const STR: u8 = 1;
    pub(crate) const INT: u8 = 2;
    pub(crate) const DOUBLE: u8 = 3;
    pub(crate) const BOOL: u8 = 4;
    pub(crate) const MAP: u8 = 5;
    pub(crate) const SLICE: u8 = 6;
    pub(crate) const BYTES: u8 = 7;
}
use value_type as vt;

/// One attribute's value, as its columns hold it.
#[derive(Debug, Clone, PartialEq)]
enum Val<'a> {
    Empty,
    Str(&'a str),
    Int(i64),
    Double(f64),
    Bool(bool),
    Bytes(&'a [u8]),
    /// A map or array, serialized.
    Ser(Vec<u8>),
}

impl Val<'_> {
    fn type_code(&self, map: bool) -> u8 {
        match self {
            Val::Empty => vt::EMPTY,
            Val::Str(_) => vt::STR,
            Val::Int(_) => vt::INT,
            Val::Double(_) => vt::DOUBLE,
            Val::Bool(_) => vt::BOOL,
            Val::Bytes(_) => vt::BYTES,
            Val::Ser(_) if map => vt::MAP,
            Val::Ser(_) => vt::SLICE,
        }
    }

    fn cmp(&self, other: &Self) -> Ordering {
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

    /// Whether a row with this value continues a run of the previous row's (same key and
    /// type): scalars only, doubles by their bits (as Arrow compares them).
    fn continues(&self, prev: &Self) -> bool {
        match (self, prev) {
            (Val::Double(a), Val::Double(b)) => a.to_bits() == b.to_bits(),
            (Val::Empty, _) | (Val::Ser(_), _) => false,
            (a, b) => a == b,
        }
    }
}

/// An attribute's type code and value, as its row holds them.
fn columns_of(kv: &KeyValue) -> (u8, Val<'_>) {
    let (val, map) = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
        None | Some(Value::StringValueStrindex(_)) => (Val::Empty, false),
        Some(Value::StringValue(s)) => (Val::Str(s), false),
        Some(Value::IntValue(i)) => (Val::Int(*i), false),
        Some(Value::DoubleValue(d)) => (Val::Double(*d), false),
        Some(Value::BoolValue(b)) => (Val::Bool(*b), false),
        Some(Value::BytesValue(b)) => (Val::Bytes(b), false),
        Some(Value::KvlistValue(m)) => {
            let mut out = Vec::new();
            cbor::write_map(&m.values, &mut out);
            (Val::Ser(out), true)
        }
        Some(Value::ArrayValue(a)) => {
            let mut out = Vec::new();
            cbor::write_array(&a.values, &mut out);
            (Val::Ser(out), false)
        }
    };
    (val.type_code(map), val)
}

/// The order of attributes in a table (for one parent): by type, key, then value.
pub(crate) fn table_order(a: &KeyValue, b: &KeyValue) -> Ordering {
    let ((ta, va), (tb, vb)) = (columns_of(a), columns_of(b));
    (ta, &*a.key).cmp(&(tb, &*b.key)).then_with(|| va.cmp(&vb))
}

struct Row<'a> {
    parent: u32,
    key: &'a str,
    ty: u8,
    val: Val<'a>,
}

/// An attribute table to encode: `(parent id, attribute)` pairs of one payload type.
pub(crate) struct AttrsTable<'a> {
    kind: ArrowPayloadType,
    rows: Vec<Row<'a>>,
}

/// Whether a table's `parent_id` is `UInt32` (event and link attributes) rather than `UInt16`.
fn wide(kind: ArrowPayloadType) -> bool {
    matches!(
        kind,
        ArrowPayloadType::SpanEventAttrs | ArrowPayloadType::SpanLinkAttrs
    )
}

impl<'a> AttrsTable<'a> {
    /// An empty table of `kind`.
    pub(crate) fn new(kind: ArrowPayloadType) -> Self {
        AttrsTable {
            kind,
            rows: Vec::new(),
        }
    }

    /// Adds the attributes of the row `parent`.
    pub(crate) fn add(&mut self, parent: u32, attributes: &'a [KeyValue]) {
        for kv in attributes {
            let (ty, val) = columns_of(kv);
            self.rows.push(Row {
                parent,
                key: &kv.key,
                ty,
                val,
            });
        }
    }

    /// Whether no attribute was added.
    pub(crate) fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Sorts the rows as the quasi-delta encoding wants them.
    pub(crate) fn sort(&mut self) {
        self.rows.sort_by(|a, b| {
            (a.ty, a.key)
                .cmp(&(b.ty, b.key))
                .then_with(|| a.val.cmp(&b.val))
                .then(a.parent.cmp(&b.parent))
        });
    }
}

impl Table for AttrsTable<'_> {
    const STR_COLUMNS: usize = 2;

    fn kind(&self) -> ArrowPayloadType {
        self.kind
    }

    fn schema(&self, dictionary: bool) -> SchemaRef {
        let parent = if wide(self.kind) {
            DataType::UInt32
        } else {
            DataType::UInt16
        };
        Arc::new(Schema::new(vec![
            Field::new("parent_id", parent, false),
            Field::new("key", StrColumn::data_type(dictionary), false),
            Field::new("type", DataType::UInt8, false),
            Field::new("str", StrColumn::data_type(dictionary), true),
            Field::new("int", DataType::Int64, true),
            Field::new("double", DataType::Float64, true),
            Field::new("bool", DataType::Boolean, true),
            Field::new("bytes", DataType::Binary, true),
            Field::new("ser", DataType::Binary, true),
        ]))
    }

    fn build(
        &self,
        strs: &mut [StrColumn],
        max_bytes: usize,
    ) -> std::result::Result<Result<RecordBatch>, Full> {
        let [keys, strings] = strs else {
            return Ok(Err(Error::TooLarge(
                "attribute table needs two string columns".into(),
            )));
        };
        let n = self.rows.len();
        let mut parents = Vec::with_capacity(n);
        let mut types = UInt8Builder::with_capacity(n);
        let mut ints = Int64Builder::with_capacity(n);
        let mut doubles = Float64Builder::with_capacity(n);
        let mut bools = BooleanBuilder::with_capacity(n);
        let mut bytes = BinaryBuilder::new();
        let mut sers = BinaryBuilder::new();
        let mut prev: Option<&Row<'_>> = None;
        for row in &self.rows {
            let delta = prev
                .is_some_and(|p| p.ty == row.ty && p.key == row.key && row.val.continues(&p.val));
            parents.push(match prev {
                Some(p) if delta => row.parent.wrapping_sub(p.parent),
                _ => row.parent,
            });
            prev = Some(row);
            keys.append(row.key, max_bytes)?;
            types.append_value(row.ty);
            match &row.val {
                Val::Str(s) => strings.append(s, max_bytes)?,
                _ => strings.append_null(),
            }
            ints.append_option(match row.val {
                Val::Int(i) => Some(i),
                _ => None,
            });
            doubles.append_option(match row.val {
                Val::Double(d) => Some(d),
                _ => None,
            });
            bools.append_option(match row.val {
                Val::Bool(b) => Some(b),
                _ => None,
            });
            bytes.append_option(match &row.val {
                Val::Bytes(b) => Some(*b),
                _ => None,
            });
            sers.append_option(match &row.val {
                Val::Ser(s) => Some(s.as_slice()),
                _ => None,
            });
        }
        let parent_ids: ArrayRef = if wide(self.kind) {
            Arc::new(UInt32Array::from(parents))
        } else {
            // Ids of u16 tables fit by construction (the encoder numbers at most 65,536 rows).
            Arc::new(UInt16Array::from_iter_values(
                parents.into_iter().map(|p| p as u16),
            ))
        };
        let columns: Vec<ArrayRef> = vec![
            parent_ids,
            keys.finish(),
            Arc::new(types.finish()),
            strings.finish(),
            Arc::new(ints.finish()),
            Arc::new(doubles.finish()),
            Arc::new(bools.finish()),
            Arc::new(bytes.finish()),
            Arc::new(sers.finish()),
        ];
        Ok(
            RecordBatch::try_new(self.schema(keys_are_dict(&columns)), columns)
                .map_err(Error::from),
        )
    }
}

/// Whether the built `key` column is dictionary-encoded (so the schema matches the stream's).
fn keys_are_dict(columns: &[ArrayRef]) -> bool {
    columns
        .get(1)
        .is_some_and(|c| matches!(c.data_type(), DataType::Dictionary(..)))
}

/// Decodes an attribute table: each parent id's attributes, in table order.
pub(crate) fn decode(
    batch: &RecordBatch,
    kind: ArrowPayloadType,
) -> Result<HashMap<u32, Vec<KeyValue>>> {
    let cols: &dyn Columns = batch;
    let parents = parent_ids(cols, kind)?;
    let keys = required::<StringArray>(cols, kind, "key")?;
    let types = required::<PrimitiveArray<UInt8Type>>(cols, kind, "type")?;
    let strs = column::<StringArray>(cols, kind, "str")?;
    let ints = column::<PrimitiveArray<Int64Type>>(cols, kind, "int")?;
    let doubles = column::<PrimitiveArray<Float64Type>>(cols, kind, "double")?;
    let bools = column::<BooleanArray>(cols, kind, "bool")?;
    let bytes = column::<BinaryArray>(cols, kind, "bytes")?;
    let sers = column::<BinaryArray>(cols, kind, "ser")?;
    let keys = Some(keys);
    let types = Some(types);

    let mut out: HashMap<u32, Vec<KeyValue>> = HashMap::new();
    let mut prev: Option<(u8, &str, Val<'_>, u32)> = None;
    for (i, encoded) in parents.values.iter().enumerate() {
        let encoded = encoded.unwrap_or(0);
        let ty = read(&types, i);
        let key = read(&keys, i);
        let val = match ty {
            vt::EMPTY => Val::Empty,
            vt::STR if present(&strs, i) => Val::Str(read(&strs, i)),
            vt::INT if present(&ints, i) => Val::Int(read(&ints, i)),
            vt::DOUBLE if present(&doubles, i) => Val::Double(read(&doubles, i)),
            vt::BOOL if present(&bools, i) => Val::Bool(read(&bools, i)),
            vt::BYTES if present(&bytes, i) => Val::Bytes(read(&bytes, i)),
            vt::MAP | vt::SLICE => Val::Ser(read(&sers, i).to_vec()),
            // A scalar type whose value is null: its zero value, which never continues a run.
            vt::STR | vt::INT | vt::DOUBLE | vt::BOOL | vt::BYTES => Val::Empty,
            other => {
                return Err(Error::Value {
                    table: kind,
                    problem: format!("unknown attribute type {other} in row {i}"),
                });
            }
        };
        let parent = match &prev {
            Some((pty, pkey, pval, pparent))
                if *pty == ty && *pkey == key && val.continues(pval) =>
            {
                parents.add(*pparent, encoded)
            }
            _ => encoded,
        };
        let value = match (&val, ty) {
            (Val::Empty, vt::STR) => Value::StringValue(Str::new()),
            (Val::Empty, vt::INT) => Value::IntValue(0),
            (Val::Empty, vt::DOUBLE) => Value::DoubleValue(0.0),
            (Val::Empty, vt::BOOL) => Value::BoolValue(false),
            (Val::Empty, vt::BYTES) => Value::BytesValue(Bytes::new()),
            (Val::Empty, _) => {
                out.entry(parent).or_default().push(KeyValue {
                    key: Str::copy_from(key),
                    value: Some(AnyValue { value: None }),
                    key_strindex: 0,
                });
                prev = Some((ty, key, val, parent));
                continue;
            }
            (Val::Str(s), _) => Value::StringValue(Str::copy_from(s)),
            (Val::Int(v), _) => Value::IntValue(*v),
            (Val::Double(v), _) => Value::DoubleValue(*v),
            (Val::Bool(v), _) => Value::BoolValue(*v),
            (Val::Bytes(b), _) => Value::BytesValue(Bytes::copy_from_slice(b)),
            (Val::Ser(s), ty) => {
                let map = ty == vt::MAP;
                if s.is_empty() {
                    // An absent serialization: an empty map or array.
                    if map {
                        Value::KvlistValue(Default::default())
                    } else {
                        Value::ArrayValue(Default::default())
                    }
                } else {
                    cbor::read(s, map)
                        .map_err(|problem| Error::Value {
                            table: kind,
                            problem: format!("row {i}: {problem}"),
                        })?
                        .value
                        .unwrap_or(Value::ArrayValue(Default::default()))
                }
            }
        };
        out.entry(parent).or_default().push(KeyValue {
            key: Str::copy_from(key),
            value: Some(AnyValue::new(value)),
            key_strindex: 0,
        });
        prev = Some((ty, key, val, parent));
    }
    Ok(out)
}

/// An id column as read: each row's value (`None` where null), and the column's width.
#[derive(Debug)]
pub(crate) struct Ids {
    /// The values as stored.
    pub(crate) values: Vec<Option<u32>>,
    /// `u16::MAX` or `u32::MAX`: sums wrap at the column's width.
    pub(crate) mask: u32,
}

impl Ids {
    /// `a + b` in the column's width.
    pub(crate) fn add(&self, a: u32, b: u32) -> u32 {
        a.wrapping_add(b) & self.mask
    }

    /// The delta-encoded column decoded: a running sum over the non-null rows.
    pub(crate) fn undelta(&self) -> Vec<Option<u32>> {
        let mut acc = 0u32;
        self.values
            .iter()
            .map(|v| {
                v.map(|d| {
                    acc = self.add(acc, d);
                    acc
                })
            })
            .collect()
    }
}

/// The `parent_id` column, `UInt16` or `UInt32` (either is accepted in any attribute table).
pub(crate) fn parent_ids(cols: &dyn Columns, kind: ArrowPayloadType) -> Result<Ids> {
    ids(cols, kind, "parent_id")?.ok_or(Error::Column {
        table: kind,
        column: "parent_id",
        problem: "missing".into(),
    })
}

/// An id column of `UInt16` or `UInt32` values (plain or dictionary-encoded).
pub(crate) fn ids(
    cols: &dyn Columns,
    kind: ArrowPayloadType,
    name: &'static str,
) -> Result<Option<Ids>> {
    let Some(array) = cols.get(name) else {
        return Ok(None);
    };
    let len = array.len();
    if let Ok(Some(c)) = column::<PrimitiveArray<UInt16Type>>(cols, kind, name) {
        let values = (0..len)
            .map(|i| c.at(i).map(|j| u32::from(c.values().value(j))))
            .collect();
        return Ok(Some(Ids {
            values,
            mask: u32::from(u16::MAX),
        }));
    }
    let Some(c) = column::<PrimitiveArray<UInt32Type>>(cols, kind, name)? else {
        return Ok(None);
    };
    let values = (0..len)
        .map(|i| c.at(i).map(|j| c.values().value(j)))
        .collect();
    Ok(Some(Ids {
        values,
        mask: u32::MAX,
    }))
}
