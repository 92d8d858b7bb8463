//! Decoding damaged input never panics: random bytes as a batch, and valid batches (traces,
//! logs, metrics) with their
//! IPC payloads truncated, flipped, overwritten or replaced, on a fresh stream and mid-stream.
//! Every outcome is an `Ok` or an `Err`; a panic fails the property.

use bytes::Bytes;
use otlp_otap::{
    BatchArrowRecords, LogsDecoder, LogsEncoder, MetricsDecoder, MetricsEncoder, TracesDecoder,
    TracesEncoder,
};
use otlp_proto::Message;
use proptest::prelude::*;

mod metrics_support;
#[path = "../../otlp-proto/tests/support/strategies/mod.rs"]
#[allow(clippy::all, missing_docs, unused)]
mod strategies;

/// What to do to one payload's IPC bytes.
#[derive(Debug, Clone)]
enum Damage {
    Truncate(usize),
    Flip(usize, u8),
    Overwrite(usize, Vec<u8>),
    Replace(Vec<u8>),
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        any::<usize>().prop_map(Damage::Truncate),
        (any::<usize>(), 1..=255u8).prop_map(|(at, bits)| Damage::Flip(at, bits)),
        (
            any::<usize>(),
            proptest::collection::vec(any::<u8>(), 1..16)
        )
            .prop_map(|(at, b)| Damage::Overwrite(at, b)),
        proptest::collection::vec(any::<u8>(), 0..256).prop_map(Damage::Replace),
    ]
}

fn apply(record: &Bytes, d: &Damage) -> Bytes {
    let mut v = record.to_vec();
    let n = v.len().max(1);
    match d {
        Damage::Truncate(at) => v.truncate(at % n),
        Damage::Flip(at, bits) => {
            if let Some(b) = v.get_mut(at % n) {
                *b ^= bits;
            }
        }
        Damage::Overwrite(at, bytes) => {
            for (i, b) in bytes.iter().enumerate() {
                if let Some(slot) = v.get_mut(at % n + i) {
                    *slot = *b;
                }
            }
        }
        Damage::Replace(bytes) => v = bytes.clone(),
    }
    Bytes::from(v)
}

/// The sample's first two batches on one stream.
fn stream() -> [BatchArrowRecords; 2] {
    let request = otlp_proto::sample::traces();
    let mut encoder = TracesEncoder::new();
    let first = encoder.encode(&request).expect("encodes");
    let second = encoder.encode(&request).expect("encodes");
    [first, second]
}

fn cases() -> ProptestConfig {
    ProptestConfig::with_cases(strategies::cases(512))
}

proptest! {
    #![proptest_config(cases())]

    #[test]
    fn random_bytes_as_a_batch(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(batch) = BatchArrowRecords::decode(&Bytes::from(bytes)) {
            let _ = TracesDecoder::new().decode(&batch);
            let _ = MetricsDecoder::new().decode(&batch);
        }
    }

    #[test]
    fn damaged_payloads(which in any::<usize>(), d in damage(), mid_stream in any::<bool>()) {
        let [first, second] = stream();
        let mut decoder = TracesDecoder::new();
        let mut victim = if mid_stream {
            decoder.decode(&first).expect("the undamaged first batch decodes");
            second
        } else {
            first
        };
        let i = which % victim.arrow_payloads.len();
        victim.arrow_payloads[i].record = apply(&victim.arrow_payloads[i].record, &d);
        let _ = decoder.decode(&victim);
    }

    #[test]
    fn damaged_logs_payloads(which in any::<usize>(), d in damage(), mid_stream in any::<bool>()) {
        let request = otlp_proto::sample::logs();
        let mut encoder = LogsEncoder::new();
        let first = encoder.encode(&request).expect("encodes");
        let mut decoder = LogsDecoder::new();
        let mut victim = if mid_stream {
            decoder.decode(&first).expect("the undamaged first batch decodes");
            encoder.encode(&request).expect("encodes")
        } else {
            first
        };
        let i = which % victim.arrow_payloads.len();
        victim.arrow_payloads[i].record = apply(&victim.arrow_payloads[i].record, &d);
        let _ = decoder.decode(&victim);
    }

    #[test]
    fn damaged_metrics_payloads(which in any::<usize>(), d in damage(), mid_stream in any::<bool>()) {
        // Every metrics table, so that each gets damaged.
        let request = metrics_support::every_kind();
        let mut encoder = MetricsEncoder::new();
        let first = encoder.encode(&request).expect("encodes");
        let mut decoder = MetricsDecoder::new();
        let mut victim = if mid_stream {
            decoder.decode(&first).expect("the undamaged first batch decodes");
            encoder.encode(&request).expect("encodes")
        } else {
            first
        };
        let i = which % victim.arrow_payloads.len();
        victim.arrow_payloads[i].record = apply(&victim.arrow_payloads[i].record, &d);
        let _ = decoder.decode(&victim);
    }
}

/// A root payload of a few hundred bytes declaring 1.2 million rows of null names (zstd makes
/// the offsets nothing): 1.2 million spans if decoded. Refused before decoding, by the row
/// limit (default 1 Mi); decoded when the limit allows it.
#[test]
fn a_payload_declaring_a_million_null_rows_is_refused_before_decoding() {
    use arrow_array::RecordBatch;
    use arrow_schema::{DataType, Field, Schema};
    use std::sync::Arc;
    let [first, _] = stream();
    let rows = 1_200_000;
    let schema = Arc::new(Schema::new(vec![Field::new("name", DataType::Utf8, true)]));
    let names = arrow_array::StringArray::new_null(rows);
    let nulls = RecordBatch::try_new(schema.clone(), vec![Arc::new(names)]).expect("batch");
    let mut record = Vec::new();
    let zstd = arrow_ipc::writer::IpcWriteOptions::default()
        .try_with_compression(Some(arrow_ipc::CompressionType::ZSTD))
        .expect("zstd");
    let mut writer =
        arrow_ipc::writer::StreamWriter::try_new_with_options(&mut record, &schema, zstd)
            .expect("writer");
    writer.write(&nulls).expect("write");
    writer.finish().expect("finish");
    drop(writer);
    assert!(record.len() < 1024, "{} bytes", record.len());
    let mut batch = first.clone();
    batch.arrow_payloads.truncate(1);
    batch.arrow_payloads[0].record = Bytes::from(record);
    let Err(err) = TracesDecoder::new().decode(&batch) else {
        panic!("a million null rows decoded");
    };
    assert!(
        err.to_string()
            .contains("more than the 1048576 a batch may hold"),
        "{err}"
    );
    let spans: usize = TracesDecoder::new()
        .with_max_rows(rows)
        .decode(&batch)
        .expect("within the limit")
        .resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .map(|s| s.spans.len())
        .sum();
    assert_eq!(spans, rows);
}

#[test]
fn a_payload_that_declares_a_huge_decompressed_size_is_refused_before_allocating() {
    let [first, _] = stream();
    // Find a compressed buffer's 8-byte length prefix (the encoder writes zstd bodies) and
    // make it claim an exabyte: the decoder must refuse, not try to allocate it.
    let record = first.arrow_payloads[0].record.to_vec();
    let declared: Vec<usize> = (0..record.len().saturating_sub(8))
        .filter(|&at| {
            let n = i64::from_le_bytes(record[at..at + 8].try_into().expect("8 bytes"));
            (1..1 << 20).contains(&n)
                && record.get(at + 8..at + 12) == Some(&[0x28, 0xb5, 0x2f, 0xfd][..])
        })
        .collect();
    assert!(
        !declared.is_empty(),
        "the payload has zstd-compressed buffers"
    );
    let mut huge = record.clone();
    huge[declared[0]..declared[0] + 8].copy_from_slice(&(1i64 << 60).to_le_bytes());
    let mut batch = first.clone();
    batch.arrow_payloads[0].record = Bytes::from(huge);
    let err = TracesDecoder::new().decode(&batch).expect_err("refused");
    assert!(err.to_string().contains("decompressed"), "{err}");
    // The same limit, set low, refuses the undamaged batch too.
    let err = TracesDecoder::new()
        .with_max_payload_bytes(64)
        .decode(&first)
        .expect_err("over the payload limit");
    assert!(err.to_string().contains("decompressed"), "{err}");
}
