//! Attribute tables (`*_ATTRS`): one row per attribute, keyed by the `parent_id` of the row
//! (resource, scope, span, event, link or log record) it belongs to.
//!
//! Columns: `parent_id` (`UInt16` for resources, scopes, spans and log records, `UInt32` for
//! events and links), `key`, and the [value columns](crate::values) (`type`, `str`, `int`,
//! `double`, `bool`, `bytes`, `ser`). `key` and `str` are `Dictionary(UInt16, Utf8)` columns
//! (see [`dict`](crate::dict)).
//!
//! Rows are sorted by type, key, value and parent, and `parent_id` is quasi-delta encoded: a
//! row whose type, key and (non-null, scalar) value equal the previous row's stores the
//! difference from the previous row's parent; any other row stores its parent as is.

use crate::children::ByParent;
use crate::coder::Tables;
use crate::columns::{Columns, column, read, required};
use crate::dict::{Full, StrColumn};
use crate::stream::Table;
use crate::values::{self, StrKey, Val, ValKey, ValueBuilder, ValueReader, same_str};
use crate::{ArrowPayloadType, Error, Result};
use arrow_array::types::{UInt8Type, UInt16Type, UInt32Type};
use arrow_array::{
    Array, ArrayRef, PrimitiveArray, RecordBatch, StringArray, UInt16Array, UInt32Array,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use otlp_proto::Str;
use otlp_proto::common::KeyValue;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

/// The order of attributes in a table (for one parent): by type, key, then value.
pub(crate) fn table_order(a: &KeyValue, b: &KeyValue) -> Ordering {
    let ((ta, va), (tb, vb)) = (values::of(a.value.as_ref()), values::of(b.value.as_ref()));
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
    /// Whether the rows came in order of their parents (as the encoders add them).
    by_parent: bool,
    /// The rows' indexes in table order, once [sorted](Self::sort) (the rows stay where
    /// they were added).
    order: Vec<u32>,
}

/// A row's identity for [`Recent`]: its key's address and length, its type, and its value's
/// address and length (a string) or bits (a scalar).
type Identity = (usize, usize, u8, u64, u64);

/// The groups of the rows seen last, by their rows' identity: keys and many values come
/// from a few constants, so most rows find their group here without hashing their strings.
/// A borrowed string cannot change while borrowed: equal addresses and lengths are equal
/// strings, so a row found here is in the group the hash map would give it.
struct Recent {
    slots: Box<[(Identity, u32)]>,
}

impl Default for Recent {
    fn default() -> Self {
        // No row has a null key address: an empty slot matches nothing.
        Recent {
            slots: vec![((0, 0, 0, 0, 0), 0); 256].into_boxed_slice(),
        }
    }
}

impl Recent {
    /// The row's slot and identity, or `None` for a value without one (bytes, maps, arrays,
    /// empty).
    fn slot(&self, row: &Row<'_>) -> Option<(usize, Identity)> {
        let (a, b) = match row.val {
            Val::Str(s) => (s.as_ptr() as u64, s.len() as u64),
            Val::Int(v) => (v as u64, 0),
            Val::Double(v) => (v.to_bits(), 0),
            Val::Bool(v) => (u64::from(v), 0),
            _ => return None,
        };
        let key = row.key.as_ptr() as usize;
        let mix = (key >> 3) ^ row.key.len() ^ ((a >> 3) as usize) ^ (b as usize).rotate_left(7);
        Some((mix % self.slots.len(), (key, row.key.len(), row.ty, a, b)))
    }

    fn group(&self, slot: usize, id: Identity) -> Option<u32> {
        self.slots
            .get(slot)
            .and_then(|&(seen, group)| (seen == id).then_some(group))
    }

    fn keep(&mut self, slot: usize, id: Identity, group: u32) {
        if let Some(s) = self.slots.get_mut(slot) {
            *s = (id, group);
        }
    }
}

/// The place of each of `0..n` in the order `cmp` sorts them.
fn ranks(n: usize, mut cmp: impl FnMut(usize, usize) -> Ordering) -> Vec<u32> {
    let mut sorted: Vec<usize> = (0..n).collect();
    sorted.sort_unstable_by(|&a, &b| cmp(a, b));
    let mut rank = vec![0u32; n];
    for (r, &i) in sorted.iter().enumerate() {
        rank[i] = u32::try_from(r).unwrap_or(u32::MAX);
    }
    rank
}

/// Whether a table's `parent_id` is `UInt32` (event, link, data point and exemplar
/// attributes) rather than `UInt16` (those of the root tables' rows, resources and scopes).
fn wide(kind: ArrowPayloadType) -> bool {
    use ArrowPayloadType as P;
    !matches!(
        kind,
        P::ResourceAttrs | P::ScopeAttrs | P::SpanAttrs | P::LogAttrs | P::MetricAttrs
    )
}

impl<'a> AttrsTable<'a> {
    /// An empty table of `kind`.
    pub(crate) fn new(kind: ArrowPayloadType) -> Self {
        AttrsTable {
            kind,
            rows: Vec::new(),
            by_parent: true,
            order: Vec::new(),
        }
    }

    /// Adds the attributes of the row `parent`.
    pub(crate) fn add(&mut self, parent: u32, attributes: &'a [KeyValue]) {
        if self.rows.last().is_some_and(|last| last.parent > parent) {
            self.by_parent = false;
        }
        for kv in attributes {
            let (ty, val) = values::of(kv.value.as_ref());
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

    /// Sorts the rows as the quasi-delta encoding wants them: by type, key, value, then parent.
    ///
    /// Most rows repeat a (type, key, value) another row has (a route, a method, a user agent):
    /// rows are grouped by it through a hash map (after a look in [`Recent`], which answers
    /// most rows by address), only the distinct groups are compared, and the rows are then
    /// sorted by the group's rank and their parent, integers.
    pub(crate) fn sort(&mut self) {
        let mut groups: HashMap<(u8, StrKey<'_>, ValKey<'_>), u32, foldhash::fast::RandomState> =
            HashMap::with_capacity_and_hasher(self.rows.len(), Default::default());
        // For each group, a row of it; for each row, its group.
        let mut firsts: Vec<usize> = Vec::new();
        let mut group_of: Vec<u32> = Vec::with_capacity(self.rows.len());
        let mut recent = Recent::default();
        for (i, row) in self.rows.iter().enumerate() {
            let seen = recent.slot(row);
            if let Some(group) = seen.and_then(|(slot, id)| recent.group(slot, id)) {
                group_of.push(group);
                continue;
            }
            let next = u32::try_from(firsts.len()).unwrap_or(u32::MAX);
            let group = *groups
                .entry((row.ty, StrKey(row.key), row.val.key()))
                .or_insert_with(|| {
                    firsts.push(i);
                    next
                });
            if let Some((slot, id)) = seen {
                recent.keep(slot, id, group);
            }
            group_of.push(group);
        }
        drop(groups);
        let rows = &self.rows;
        // The distinct (type, key) pairs ranked once, so that sorting the groups compares
        // two integers before it compares values, not two key strings that are mostly equal.
        let mut keys: HashMap<(u8, StrKey<'_>), u32, foldhash::fast::RandomState> =
            HashMap::default();
        let mut key_firsts: Vec<usize> = Vec::new();
        let mut key_of: Vec<u32> = firsts
            .iter()
            .map(|&first| {
                let row = &rows[first];
                let next = u32::try_from(key_firsts.len()).unwrap_or(u32::MAX);
                *keys.entry((row.ty, StrKey(row.key))).or_insert_with(|| {
                    key_firsts.push(first);
                    next
                })
            })
            .collect();
        drop(keys);
        let key_rank = ranks(key_firsts.len(), |a, b| {
            let (a, b) = (&rows[key_firsts[a]], &rows[key_firsts[b]]);
            (a.ty, a.key).cmp(&(b.ty, b.key))
        });
        for key in &mut key_of {
            *key = key_rank[*key as usize];
        }
        let rank = ranks(firsts.len(), |a, b| {
            key_of[a]
                .cmp(&key_of[b])
                .then_with(|| rows[firsts[a]].val.cmp(&rows[firsts[b]].val))
        });
        // Rows added in order of their parents need only a stable sort by rank: a counting
        // sort, linear; others sort by (rank, parent).
        let index = |i: usize| u32::try_from(i).unwrap_or(u32::MAX);
        self.order = if self.by_parent {
            let mut starts = vec![0usize; rank.len() + 1];
            for &group in &group_of {
                starts[rank[group as usize] as usize + 1] += 1;
            }
            for r in 1..starts.len() {
                starts[r] += starts[r - 1];
            }
            let mut order = vec![0u32; rows.len()];
            for (i, &group) in group_of.iter().enumerate() {
                let at = &mut starts[rank[group as usize] as usize];
                order[*at] = index(i);
                *at += 1;
            }
            order
        } else {
            let mut keyed: Vec<(u32, u32, u32)> = group_of
                .iter()
                .zip(rows)
                .enumerate()
                .map(|(i, (&group, row))| (rank[group as usize], row.parent, index(i)))
                .collect();
            keyed.sort_unstable();
            keyed.into_iter().map(|(_, _, i)| i).collect()
        };
    }

    /// The rows in table order: as [sorted](Self::sort), or as added before that.
    fn sorted(&self) -> impl Iterator<Item = &Row<'a>> {
        let ordered = (!self.order.is_empty())
            .then(|| self.order.iter().filter_map(|&i| self.rows.get(i as usize)));
        let added = self.order.is_empty().then(|| self.rows.iter());
        ordered
            .into_iter()
            .flatten()
            .chain(added.into_iter().flatten())
    }
}

impl Table for AttrsTable<'_> {
    /// `key`, `str`.
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
        let mut fields = vec![
            Field::new("parent_id", parent, false),
            Field::new("key", StrColumn::data_type(dictionary), false),
        ];
        fields.extend(values::fields(StrColumn::data_type(dictionary)));
        Arc::new(Schema::new(fields))
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
        let mut parents = Vec::with_capacity(self.rows.len());
        let mut values = ValueBuilder::default();
        let mut prev: Option<&Row<'_>> = None;
        // Rows are sorted by type, key and value: a key or string value equal to the previous
        // row's repeats its dictionary entry without another lookup.
        for row in self.sorted() {
            let same_key = prev.is_some_and(|p| p.ty == row.ty && same_str(p.key, row.key));
            let same_val = same_key && prev.is_some_and(|p| row.val.continues(&p.val));
            parents.push(match prev {
                Some(p) if same_val => row.parent.wrapping_sub(p.parent),
                _ => row.parent,
            });
            if same_key {
                keys.append_repeat(row.key, max_bytes)?;
            } else {
                keys.append(row.key, max_bytes)?;
            }
            match &row.val {
                Val::Str(s) if same_val => values.append_repeated_str(s, strings, max_bytes)?,
                val => values.append(row.ty, val, strings, max_bytes)?,
            }
            prev = Some(row);
        }
        let parent_ids: ArrayRef = if wide(self.kind) {
            Arc::new(UInt32Array::from(parents))
        } else {
            // Ids of u16 tables fit by construction (the encoder numbers at most 65,536 rows).
            Arc::new(UInt16Array::from_iter_values(
                parents.into_iter().map(|p| p as u16),
            ))
        };
        let dictionary = keys.is_dictionary();
        let mut columns: Vec<ArrayRef> = vec![parent_ids, keys.finish()];
        columns.extend(values.finish(strings.finish()));
        Ok(RecordBatch::try_new(self.schema(dictionary), columns).map_err(Error::from))
    }
}

/// The attribute table of `kind` in `tables`, decoded (no attributes where the batch has no
/// such table).
pub(crate) fn decode_in(tables: &Tables, kind: ArrowPayloadType) -> Result<ByParent<KeyValue>> {
    tables
        .others
        .get(&kind)
        .map_or(Ok(ByParent::default()), |b| decode(b, kind))
}

/// Decodes an attribute table: each parent id's attributes, in table order.
pub(crate) fn decode(batch: &RecordBatch, kind: ArrowPayloadType) -> Result<ByParent<KeyValue>> {
    let cols: &dyn Columns = batch;
    let parents = parent_ids(cols, kind)?;
    let keys = Some(required::<StringArray>(cols, kind, "key")?);
    required::<PrimitiveArray<UInt8Type>>(cols, kind, "type")?;
    let values = ValueReader::new(cols, kind)?;
    let bad = |problem: String| Error::Value {
        table: kind,
        problem,
    };

    let mut out = Vec::with_capacity(batch.num_rows());
    let mut prev: Option<(u8, &str, Val<'_>, u32)> = None;
    for (i, encoded) in parents.values.iter().enumerate() {
        let encoded = encoded.unwrap_or(0);
        let key = read(&keys, i);
        let (ty, val) = values.val(i).map_err(bad)?;
        let parent = match &prev {
            Some((pty, pkey, pval, pparent))
                if *pty == ty && *pkey == key && val.continues(pval) =>
            {
                parents.add(*pparent, encoded)
            }
            _ => encoded,
        };
        let value = values::to_any(ty, &val).map_err(|p| bad(format!("row {i}: {p}")))?;
        out.push((
            parent,
            KeyValue {
                key: Str::copy_from(key),
                value: Some(value),
                key_strindex: 0,
            },
        ));
        prev = Some((ty, key, val, parent));
    }
    Ok(ByParent::from_pairs(batch.num_rows(), out))
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

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::cast::AsArray;
    use otlp_proto::common::AnyValue;

    /// The SPAN_ATTRS `parent_id` column the encoder writes for `(parent, key, value)` rows.
    fn parents(rows: &[(u32, KeyValue)]) -> Vec<u16> {
        let mut table = AttrsTable::new(ArrowPayloadType::SpanAttrs);
        for (parent, kv) in rows {
            table.add(*parent, std::slice::from_ref(kv));
        }
        table.sort();
        let mut strs = [StrColumn::new(true), StrColumn::new(true)];
        let batch = table
            .build(&mut strs, usize::MAX)
            .map_err(|_| "full")
            .and_then(|b| b.map_err(|_| "arrow"))
            .expect("builds");
        let column = batch.column_by_name("parent_id").expect("has parent_id");
        column.as_primitive::<UInt16Type>().values().to_vec()
    }

    #[test]
    fn parent_ids_are_deltas_after_an_equal_key_and_value_as_go_compares_them() {
        let kv = |v: AnyValue| KeyValue::new("k", v);
        // Equal strings: the second is a delta. Another key starts over.
        let rows = [
            (3, kv("a".into())),
            (7, kv("a".into())),
            (9, KeyValue::new("z", "a")),
        ];
        assert_eq!(parents(&rows), [3, 4, 9]);
        // -0.0 == 0.0 for Go (a delta), NaN != NaN (absolute).
        let rows = [(5, kv((-0.0f64).into())), (8, kv(0.0f64.into()))];
        assert_eq!(parents(&rows), [5, 3]);
        let rows = [(2, kv(f64::NAN.into())), (6, kv(f64::NAN.into()))];
        assert_eq!(parents(&rows), [2, 6]);
        // Maps, arrays and empty values never continue a run.
        let map = || kv(AnyValue::from(vec![KeyValue::new("x", 1i64)]));
        assert_eq!(parents(&[(1, map()), (4, map())]), [1, 4]);
        let empty = || kv(AnyValue { value: None });
        assert_eq!(parents(&[(1, empty()), (4, empty())]), [1, 4]);
    }

    /// The rows in the order the grouped sort must give: compared field by field.
    fn compared(rows: &[(u32, KeyValue)]) -> Vec<(u32, String, u8, String)> {
        let mut table = AttrsTable::new(ArrowPayloadType::SpanAttrs);
        for (parent, kv) in rows {
            table.add(*parent, std::slice::from_ref(kv));
        }
        table.rows.sort_by(|a, b| {
            (a.ty, a.key)
                .cmp(&(b.ty, b.key))
                .then_with(|| a.val.cmp(&b.val))
                .then(a.parent.cmp(&b.parent))
        });
        described(&table)
    }

    fn described(table: &AttrsTable<'_>) -> Vec<(u32, String, u8, String)> {
        table
            .sorted()
            .map(|r| (r.parent, r.key.to_owned(), r.ty, format!("{:?}", r.val)))
            .collect()
    }

    proptest::proptest! {
        #[test]
        fn the_grouped_sort_orders_rows_as_comparing_them_does(
            picks in proptest::collection::vec((0u32..40, 0usize..5, 0usize..12), 0..300),
            in_order in proptest::bool::ANY,
        ) {
            // Parents in order (the encoders' case, sorted by counting) or in any order.
            let mut picks = picks;
            if in_order {
                picks.sort_by_key(|&(p, _, _)| p);
            }
            let keys = ["http.route", "http.method", "a", "http.request.method"];
            let values: [AnyValue; 12] = [
                "GET".into(), "POST".into(), "".into(), 7i64.into(), (-3i64).into(),
                0.0f64.into(), (-0.0f64).into(), f64::NAN.into(), true.into(),
                // Equal strings at other addresses: a short string is copied into each clone,
                // a long one shared by them; "GET" also as a copy of its own.
                String::from("GET").into(),
                String::from("a value longer than a string kept inline").into(),
                String::from("a").into(),
            ];
            // Repeated keys and values of every scalar type; one key also copied per row.
            let rows: Vec<(u32, KeyValue)> = picks
                .iter()
                .map(|&(p, k, v)| {
                    let key = match keys.get(k) {
                        Some(&k) => Str::from(k),
                        None => Str::from(String::from("http.route")),
                    };
                    (p, KeyValue { key, value: Some(values[v].clone()), key_strindex: 0 })
                })
                .collect();
            let mut table = AttrsTable::new(ArrowPayloadType::SpanAttrs);
            for (parent, kv) in &rows {
                table.add(*parent, std::slice::from_ref(kv));
            }
            table.sort();
            proptest::prop_assert_eq!(described(&table), compared(&rows));
        }
    }
}
