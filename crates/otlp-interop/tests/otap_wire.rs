//! Our OTLP/Arrow encoding (otlp-otap's stream encoders, sent by the raw `OtapStream` client)
//! against the real Collector's `otelarrowreceiver` (`peercol` v0.148.0): every batch of a
//! stream is answered OK with its own batch id, and what the Collector's file exporter writes is
//! field for field what was sent, after otlp-otap's `normalize_*` (what OTAP does not carry) and
//! in the form `compare::assert_same_in_any_order` compares (the Go decoder's item and map entry
//! order, pdata's all-zero ids). Traces, logs and metrics: the sample requests, then requests
//! from otlp-proto's proptest strategies (with repeated attribute keys removed: OTLP forbids
//! them and pdata keeps one), all on one stream, so that dictionaries and delta encodings carry
//! over from batch to batch; traces also with uncompressed IPC bodies, and with dictionaries
//! that fill up (the table streams start over, a batch too large for one goes plain).
//!
//! This is the conformance check for otlp-otap's encoder: what the Go receiver rejects or alters
//! is a bug on one side or the other.

use otlp_interop::compare::{assert_same_in_any_order, unique_keys};
use otlp_interop::{Collector, temp_dir};
use otlp_otap::{BatchArrowRecords, StatusCode, TracesEncoder};
use otlp_proto::collector::{
    ExportLogsServiceRequest, ExportMetricsServiceRequest, ExportTraceServiceRequest,
};
use otlp_proto::common::KeyValue;
use otlp_proto::{Request, Signal, sample};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use std::time::Duration;
use test_support::clients::h2_client;
use test_support::otap::{OtapStream, StreamEncoder, method, normalize};

#[path = "../../otlp-proto/tests/support/strategies/mod.rs"]
#[allow(clippy::all, missing_docs, unused)]
mod strategies;

const WAIT: Duration = Duration::from_secs(30);

/// Generated requests per signal, after the sample (`OTLP_PROPTEST_CASES` overrides): enough
/// batches on one stream for dictionaries and deltas to carry over, few enough for a quick run.
fn generated<T: std::fmt::Debug>(strategy: impl Strategy<Value = T>) -> Vec<T> {
    // Deterministic: a failure names a batch that the next run sends again.
    let mut runner = TestRunner::deterministic();
    (0..strategies::cases(20))
        .map(|_| {
            strategy
                .new_tree(&mut runner)
                .expect("the strategy generates")
                .current()
        })
        .collect()
}

/// The resources of every request in `requests`, in order, as one request.
fn merged(signal: Signal, requests: impl IntoIterator<Item = Request>) -> Request {
    let mut out = match signal {
        Signal::Traces => Request::Traces(ExportTraceServiceRequest::default()),
        Signal::Logs => Request::Logs(ExportLogsServiceRequest::default()),
        Signal::Metrics => Request::Metrics(ExportMetricsServiceRequest::default()),
        Signal::Profiles => panic!("OTAP carries no profiles"),
    };
    for request in requests {
        match (&mut out, request) {
            (Request::Traces(o), Request::Traces(r)) => o.resource_spans.extend(r.resource_spans),
            (Request::Logs(o), Request::Logs(r)) => o.resource_logs.extend(r.resource_logs),
            (Request::Metrics(o), Request::Metrics(r)) => {
                o.resource_metrics.extend(r.resource_metrics)
            }
            (_, r) => panic!("a {} request among {signal}", r.signal()),
        }
    }
    out
}

/// Sends `requests` of `signal` on one OTAP stream to a fresh Collector, encoded by `encoder`,
/// checks that each batch is answered OK with its id and that the file exporter wrote what was
/// sent; returns the batches sent.
async fn through_the_collector(
    name: &str,
    signal: Signal,
    mut encoder: StreamEncoder,
    requests: Vec<Request>,
) -> Vec<BatchArrowRecords> {
    let dir = temp_dir(name);
    let collector = tokio::task::spawn_blocking(move || Collector::start(&dir, None))
        .await
        .expect("join");

    let mut stream = OtapStream::open(&h2_client(), collector.arrow, method(signal), &[]);
    let requests: Vec<Request> = requests.iter().map(unique_keys).collect();
    let mut batches = Vec::new();
    for (i, request) in requests.iter().enumerate() {
        let batch = encoder.encode(request);
        let status = stream.exchange(&batch).await;
        assert_eq!(
            (status.batch_id, status.code()),
            (batch.batch_id, Some(StatusCode::Ok)),
            "{signal} batch {i} answered {:?} ({}); it was {request:#?}",
            status.code(),
            status.status_message,
        );
        batches.push(batch);
    }
    let end = stream.finish().await;
    assert_eq!(end.code, Some(0), "{signal}: the call ended {end:?}");

    // The file exporter writes one line per batch, an empty one too.
    let got = {
        let collector = &collector;
        tokio::task::block_in_place(|| collector.read_output(signal, requests.len(), WAIT))
    };
    assert_eq!(got.len(), requests.len(), "{signal}: one line per batch");
    assert_same_in_any_order(
        &format!("{signal}: {} batches", requests.len()),
        &merged(signal, requests.into_iter().map(normalize)),
        &merged(signal, got.into_iter().map(normalize)),
    );
    batches
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_come_back_equal_batch_after_batch() {
    let mut requests = vec![Request::Traces(sample::traces())];
    requests.extend(
        generated(strategies::collector::trace_request())
            .into_iter()
            .map(Request::Traces),
    );
    through_the_collector(
        "otap-wire-traces",
        Signal::Traces,
        StreamEncoder::new(Signal::Traces),
        requests,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_come_back_equal_batch_after_batch() {
    let mut requests = vec![Request::Logs(sample::logs())];
    requests.extend(
        generated(strategies::collector::logs_request())
            .into_iter()
            .map(Request::Logs),
    );
    through_the_collector(
        "otap-wire-logs",
        Signal::Logs,
        StreamEncoder::new(Signal::Logs),
        requests,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_come_back_equal_batch_after_batch() {
    let mut requests = vec![Request::Metrics(sample::metrics())];
    requests.extend(
        generated(strategies::collector::metrics_request())
            .into_iter()
            .map(Request::Metrics),
    );
    through_the_collector(
        "otap-wire-metrics",
        Signal::Metrics,
        StreamEncoder::new(Signal::Metrics),
        requests,
    )
    .await;
}

/// A traces request of `n` spans numbered from `first`, each with a name and `attributes`
/// string attributes no other span has: every one a new value for the stream's string
/// dictionaries.
fn distinct_spans(first: usize, n: usize, attributes: usize) -> Request {
    let mut request = sample::traces();
    request.resource_spans.truncate(1);
    request.resource_spans[0].scope_spans.truncate(1);
    let scope = &mut request.resource_spans[0].scope_spans[0];
    let template = scope.spans[0].clone();
    scope.spans = (first..first + n)
        .map(|i| {
            let mut span = template.clone();
            span.span_id = bytes::Bytes::copy_from_slice(&(i as u64 + 1).to_be_bytes());
            span.name = format!("span {i}").into();
            span.attributes = (0..attributes)
                .map(|a| KeyValue::new(format!("unique.{a}"), format!("value {i}.{a}")))
                .collect();
            span
        })
        .collect();
    Request::Traces(request)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uncompressed_ipc_bodies_come_back_equal() {
    let mut requests = vec![Request::Traces(sample::traces())];
    requests.extend(
        generated(strategies::collector::trace_request())
            .into_iter()
            .map(Request::Traces),
    );
    let encoder = StreamEncoder::Traces(TracesEncoder::new().with_zstd_level(None));
    through_the_collector("otap-wire-plain", Signal::Traces, encoder, requests).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_dictionaries_start_the_stream_over_and_the_collector_follows() {
    // A small dictionary cap, so that a few batches of new strings fill the dictionaries (the
    // table streams start over under new schema ids), and a last batch whose strings alone are
    // more than the cap (sent with plain string columns). The default cap behaves alike, after
    // megabytes of strings or 65,536 values.
    const CAP: usize = 4 * 1024;
    let mut requests: Vec<Request> = (0..12).map(|b| distinct_spans(b * 100, 100, 1)).collect();
    requests.push(distinct_spans(1_200, 500, 2));
    let encoder = StreamEncoder::Traces(TracesEncoder::new().with_max_dictionary_bytes(CAP));
    let batches =
        through_the_collector("otap-wire-dictionaries", Signal::Traces, encoder, requests).await;
    let roots: std::collections::BTreeSet<_> = batches
        .iter()
        .map(|b| b.arrow_payloads[0].schema_id.clone())
        .collect();
    assert!(
        roots.len() > 2,
        "the spans table's stream started over at most once: {roots:?}"
    );
}
