//! Columns left out of a table's batch because they say nothing: all null, or all at a zero
//! value that an absent column also means.
//!
//! Every column costs bytes even when empty: its buffers' metadata in the record batch
//! header, and with IPC compression a zstd frame per buffer. The Go encoder leaves such
//! optional columns out and both decoders (Go's and ours) read an absent column as null or
//! zero. Kept always: the ids that link tables and the columns a decoder requires (see
//! [`NEVER`]). Inside the `resource`, `scope` and `status` structs the same holds for each
//! child (`id` kept).
//!
//! A stream's schema only grows: once a column has been sent, later batches of the stream
//! keep it (see [`Writers::payload`](crate::stream::Writers)), so a column that comes and goes
//! does not start a new stream every time.

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, RecordBatch, StructArray};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef};
use std::collections::HashSet;
use std::sync::Arc;

/// Columns never left out: ids, and those the Go or otel-arrow's decoders require.
const NEVER: [&str; 13] = [
    "id",
    "parent_id",
    "key",
    "type",
    "name",
    "metric_type",
    "trace_id",
    "span_id",
    "start_time_unix_nano",
    "duration_time_unix_nano",
    "time_unix_nano",
    "resource",
    "scope",
];

/// Columns whose zero value (0, "") is the field's default, so that all zeros may be left
/// out. Others go only when all null: an attribute's `int` of 0 is a value, and a histogram's
/// `sum` of 0.0 differs from none.
const ZERO_IS_ABSENT: [&str; 17] = [
    "dropped_attributes_count",
    "dropped_events_count",
    "dropped_links_count",
    "flags",
    "trace_state",
    "schema_url",
    "code",
    "status_message",
    "kind",
    "event_name",
    "severity_number",
    "severity_text",
    "description",
    "unit",
    "observed_time_unix_nano",
    "version",
    "name",
];

/// Struct columns whose children are left out one by one.
const STRUCTS: [&str; 3] = ["resource", "scope", "status"];

/// The names of a schema's columns and struct children (`status.code`).
pub(crate) type Paths = HashSet<String>;

/// The column paths of `schema`.
pub(crate) fn paths(schema: &Schema) -> Paths {
    let mut out = Paths::new();
    for f in schema.fields() {
        out.insert(f.name().clone());
        if let DataType::Struct(children) = f.data_type() {
            for c in children {
                out.insert(format!("{}.{}", f.name(), c.name()));
            }
        }
    }
    out
}

/// `batch` without its empty columns, except those in `keep`.
pub(crate) fn prune(batch: &RecordBatch, keep: &Paths) -> Result<RecordBatch, ArrowError> {
    let schema = batch.schema();
    let mut fields = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for (f, c) in schema.fields().iter().zip(batch.columns()) {
        let name = f.name().as_str();
        if STRUCTS.contains(&name)
            && let DataType::Struct(children) = c.data_type()
        {
            let s = c.as_struct();
            let (mut kept_fields, mut kept_columns) = (Vec::new(), Vec::new());
            for (cf, cc) in children.iter().zip(s.columns()) {
                let path = format!("{name}.{}", cf.name());
                if cf.name() == "id" || keep.contains(&path) || !empty(cf.name(), cc) {
                    kept_fields.push(cf.clone());
                    kept_columns.push(Arc::clone(cc));
                }
            }
            if kept_fields.is_empty() && !NEVER.contains(&name) && !keep.contains(name) {
                continue;
            }
            let pruned = StructArray::try_new_with_length(
                kept_fields.into(),
                kept_columns,
                s.nulls().cloned(),
                s.len(),
            )?;
            fields.push(Field::new(
                name,
                pruned.data_type().clone(),
                f.is_nullable(),
            ));
            columns.push(Arc::new(pruned));
        } else if NEVER.contains(&name) || keep.contains(name) || !empty(name, c) {
            fields.push(f.as_ref().clone());
            columns.push(Arc::clone(c));
        }
    }
    let schema: SchemaRef = Arc::new(Schema::new(fields));
    RecordBatch::try_new_with_options(
        schema,
        columns,
        &arrow_array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
    )
}

/// Whether column `name` says nothing: all null, or all zero where zero is absent.
fn empty(name: &str, c: &ArrayRef) -> bool {
    if c.null_count() == c.len() {
        return true;
    }
    if c.null_count() > 0 || !ZERO_IS_ABSENT.contains(&name) {
        return false;
    }
    match c.data_type() {
        DataType::Utf8 => c
            .as_string::<i32>()
            .iter()
            .all(|s| s.is_none_or(str::is_empty)),
        DataType::Dictionary(_, values) if **values == DataType::Utf8 => {
            let d = c.as_any_dictionary();
            let values = d.values().as_string::<i32>();
            d.normalized_keys()
                .into_iter()
                .all(|k| k >= values.len() || values.value(k).is_empty())
        }
        t => match t.primitive_width() {
            Some(width) => {
                let data = c.to_data();
                let start = data.offset() * width;
                data.buffers().first().is_some_and(|b| {
                    b.as_slice()
                        .get(start..start + data.len() * width)
                        .is_some_and(|bytes| bytes.iter().all(|&x| x == 0))
                })
            }
            None => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Int32Array, StringArray, UInt16Array, UInt32Array};

    fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
        RecordBatch::try_from_iter(columns).expect("batch")
    }

    fn names(b: &RecordBatch) -> Vec<String> {
        b.schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    }

    #[test]
    fn empty_optional_columns_go_ids_and_values_stay() {
        let b = batch(vec![
            ("id", Arc::new(UInt16Array::from(vec![0, 0]))),
            ("flags", Arc::new(UInt32Array::from(vec![0, 0]))),
            ("kind", Arc::new(Int32Array::from(vec![0, 2]))),
            ("trace_state", Arc::new(StringArray::from(vec!["", ""]))),
            ("int", Arc::new(arrow_array::Int64Array::from(vec![0, 0]))),
            (
                "double",
                Arc::new(arrow_array::Float64Array::from(vec![None, None])),
            ),
        ]);
        let pruned = prune(&b, &Paths::new()).expect("prunes");
        // `int` zeros are values (an attribute of 0); an all-null `double` says nothing.
        assert_eq!(names(&pruned), ["id", "kind", "int"]);
        assert_eq!(pruned.num_rows(), 2);
        // What the stream already sends stays.
        let keep = Paths::from(["flags".to_string()]);
        assert_eq!(
            names(&prune(&b, &keep).expect("prunes")),
            ["id", "flags", "kind", "int"]
        );
    }

    #[test]
    fn struct_children_go_one_by_one() {
        let status = StructArray::from(vec![
            (
                Arc::new(Field::new("code", DataType::Int32, true)),
                Arc::new(Int32Array::from(vec![0, 2])) as ArrayRef,
            ),
            (
                Arc::new(Field::new("status_message", DataType::Utf8, true)),
                Arc::new(StringArray::from(vec!["", ""])) as ArrayRef,
            ),
        ]);
        let b = batch(vec![("status", Arc::new(status) as ArrayRef)]);
        let pruned = prune(&b, &Paths::new()).expect("prunes");
        assert_eq!(
            paths(&pruned.schema()),
            Paths::from(["status".to_string(), "status.code".to_string()])
        );
        let all_ok = StructArray::from(vec![(
            Arc::new(Field::new("code", DataType::Int32, true)),
            Arc::new(Int32Array::from(vec![0, 0])) as ArrayRef,
        )]);
        let b = batch(vec![("status", Arc::new(all_ok) as ArrayRef)]);
        assert!(names(&prune(&b, &Paths::new()).expect("prunes")).is_empty());
    }
}
