//! Metrics tables that are valid Arrow but not what the decoder expects (a column of another
//! type, a list of other items, an unknown metric type, a point without a parent): errors
//! that name the problem, never panics.

use arrow_array::{
    ArrayRef, Int32Array, ListArray, RecordBatch, StringArray, UInt8Array, UInt16Array, UInt32Array,
};
use arrow_buffer::OffsetBuffer;
use arrow_ipc::writer::StreamWriter;
use arrow_schema::{DataType, Field};
use bytes::Bytes;
use otlp_otap::{
    ArrowPayload, ArrowPayloadType, BatchArrowRecords, decode_metrics, encode_metrics,
};
use std::sync::Arc;

mod metrics_support;

/// One IPC stream holding `columns` as its only record batch.
fn ipc(columns: Vec<(&str, ArrayRef)>) -> Bytes {
    let batch = RecordBatch::try_from_iter(columns).expect("a valid batch");
    let mut writer = StreamWriter::try_new(Vec::new(), &batch.schema()).expect("writer");
    writer.write(&batch).expect("writes");
    writer.finish().expect("finishes");
    Bytes::from(writer.into_inner().expect("bytes"))
}

/// The every-kind batch with the payload of `kind` replaced by `columns`.
fn with_table(kind: ArrowPayloadType, columns: Vec<(&str, ArrayRef)>) -> BatchArrowRecords {
    let mut batch = encode_metrics(&metrics_support::every_kind()).expect("encodes");
    let at = batch
        .arrow_payloads
        .iter()
        .position(|p| p.payload_type() == Some(kind))
        .expect("the batch has the table");
    let schema_id = batch.arrow_payloads[at].schema_id.clone();
    batch.arrow_payloads[at] = ArrowPayload::new(schema_id, kind, ipc(columns));
    batch
}

fn error(batch: &BatchArrowRecords) -> String {
    decode_metrics(batch).expect_err("refused").to_string()
}

fn u16s(v: &[u16]) -> ArrayRef {
    Arc::new(UInt16Array::from(v.to_vec()))
}

#[test]
fn an_unknown_metric_type_is_an_error_naming_it() {
    let batch = with_table(
        ArrowPayloadType::UnivariateMetrics,
        vec![
            ("id", u16s(&[0])),
            ("metric_type", Arc::new(UInt8Array::from(vec![9]))),
            ("name", Arc::new(StringArray::from(vec!["m"]))),
        ],
    );
    let err = error(&batch);
    assert!(err.contains("metric_type 9"), "{err}");
}

#[test]
fn a_column_of_another_type_is_an_error_naming_it() {
    let batch = with_table(
        ArrowPayloadType::NumberDataPoints,
        vec![
            ("id", Arc::new(UInt32Array::from(vec![0]))),
            ("parent_id", u16s(&[0])),
            ("int_value", Arc::new(StringArray::from(vec!["5"]))),
        ],
    );
    let err = error(&batch);
    assert!(err.contains("int_value"), "{err}");
}

#[test]
fn a_list_of_other_items_is_an_error_naming_it() {
    let items: ArrayRef = Arc::new(Int32Array::from(vec![1, 2]));
    let list = ListArray::try_new(
        Arc::new(Field::new_list_field(DataType::Int32, true)),
        OffsetBuffer::from_lengths([2]),
        items,
        None,
    )
    .expect("a list");
    let batch = with_table(
        ArrowPayloadType::HistogramDataPoints,
        vec![
            ("id", Arc::new(UInt32Array::from(vec![0]))),
            ("parent_id", u16s(&[2])),
            ("bucket_counts", Arc::new(list)),
        ],
    );
    let err = error(&batch);
    assert!(err.contains("bucket_counts"), "{err}");
}

#[test]
fn a_summary_quantile_list_of_numbers_is_an_error() {
    let items: ArrayRef = Arc::new(Int32Array::from(vec![1]));
    let list = ListArray::try_new(
        Arc::new(Field::new_list_field(DataType::Int32, true)),
        OffsetBuffer::from_lengths([1]),
        items,
        None,
    )
    .expect("a list");
    let batch = with_table(
        ArrowPayloadType::SummaryDataPoints,
        vec![("parent_id", u16s(&[4])), ("quantile", Arc::new(list))],
    );
    let err = error(&batch);
    assert!(err.contains("quantile"), "{err}");
}

#[test]
fn a_point_without_a_parent_id_is_an_error() {
    let batch = with_table(
        ArrowPayloadType::NumberDataPoints,
        vec![(
            "parent_id",
            Arc::new(UInt16Array::from(vec![None, Some(1)])),
        )],
    );
    let err = error(&batch);
    assert!(err.contains("parent_id"), "{err}");
    let batch = with_table(
        ArrowPayloadType::ExpHistogramDataPoints,
        vec![("id", Arc::new(UInt32Array::from(vec![0])))],
    );
    let err = error(&batch);
    assert!(err.contains("parent_id"), "{err}");
}

#[test]
fn positive_buckets_that_are_not_a_struct_are_an_error() {
    let batch = with_table(
        ArrowPayloadType::ExpHistogramDataPoints,
        vec![
            ("parent_id", u16s(&[3])),
            ("positive", Arc::new(Int32Array::from(vec![1]))),
        ],
    );
    let err = error(&batch);
    assert!(err.contains("positive"), "{err}");
}
