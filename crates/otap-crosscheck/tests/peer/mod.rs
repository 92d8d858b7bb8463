//! The peer's two directions, for any signal: our batch decoded by otel-arrow's consumer, and a
//! request encoded by otel-arrow's producer as our batch.

// Each test file uses part of this module.
#![allow(dead_code)]

use otel_arrow_dfe_pdata::proto::opentelemetry::arrow::v1::BatchArrowRecords as TheirBatch;
use otel_arrow_dfe_pdata::{
    Consumer, OtapArrowRecords, OtlpProtoBytes, Producer, TryFromWithOptions,
};
use otlp_otap::BatchArrowRecords;
use otlp_proto::{Encoding, Message, Request, Signal};
use prost::Message as _;
use test_support::otap::normalize;

/// `batch` (of `signal`), decoded by otel-arrow's consumer, as the OTLP request it holds.
pub fn decode(
    consumer: &mut Consumer,
    batch: &BatchArrowRecords,
    signal: Signal,
) -> Result<Request, String> {
    let mut theirs = TheirBatch::decode(batch.encode_to_bytes()).map_err(|e| e.to_string())?;
    let otlp = match signal {
        Signal::Traces => consumer
            .consume_traces_batches(&mut theirs)
            .map(|m| m.encode_to_vec()),
        Signal::Logs => consumer
            .consume_logs_batches(&mut theirs)
            .map(|m| m.encode_to_vec()),
        Signal::Metrics => consumer
            .consume_metrics_batches(&mut theirs)
            .map(|m| m.encode_to_vec()),
        Signal::Profiles => return Err("OTAP carries no profiles".into()),
    }
    .map_err(|e| format!("{e:?}"))?;
    Request::decode(signal, Encoding::Protobuf, &otlp.into()).map_err(|e| e.to_string())
}

/// `request` encoded by otel-arrow's producer, as our batch. It goes in normalized: otel-arrow's
/// encoder writes empty span and link ids as nulls, which its own schema check then refuses;
/// normalized, they are the zeros OTAP carries.
pub fn encode(producer: &mut Producer, request: &Request) -> BatchArrowRecords {
    let otlp = normalize(request.clone()).encode(Encoding::Protobuf);
    let otlp = match request.signal() {
        Signal::Traces => OtlpProtoBytes::ExportTracesRequest(otlp),
        Signal::Logs => OtlpProtoBytes::ExportLogsRequest(otlp),
        Signal::Metrics => OtlpProtoBytes::ExportMetricsRequest(otlp),
        Signal::Profiles => unreachable!("OTAP carries no profiles"),
    };
    let mut records =
        OtapArrowRecords::try_from_with_default(otlp).expect("otel-arrow converts OTLP");
    let batch = producer
        .produce_bar(&mut records)
        .expect("otel-arrow encodes");
    BatchArrowRecords::decode(&batch.encode_to_vec().into()).expect("our protobuf reads theirs")
}
