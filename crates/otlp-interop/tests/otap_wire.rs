//! Our OTLP/Arrow encoding (otlp-otap's stream encoders, sent by the raw `OtapStream` client)
//! against the real Collector's `otelarrowreceiver` (`peercol` v0.148.0): every batch of a
//! stream is answered OK with its own batch id, and what the Collector's file exporter writes is
//! field for field what was sent, after otlp-otap's `normalize_*` (what OTAP does not carry) and
//! in the form `compare::assert_same_in_any_order` compares (the Go decoder's item and map entry
//! order). Traces, logs and metrics: the sample requests, then requests from otlp-proto's proptest
//! strategies, all on one stream, so that dictionaries and delta encodings carry over from batch
//! to batch.
//!
//! This is the conformance check for otlp-otap's encoder: what the Go receiver rejects or alters
//! is a bug on one side or the other.

use otlp_interop::compare::{assert_same_in_any_order, unique_keys};
use otlp_interop::{Collector, temp_dir};
use otlp_otap::StatusCode;
use otlp_proto::collector::{
    ExportLogsServiceRequest, ExportMetricsServiceRequest, ExportTraceServiceRequest,
};
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

/// Sends `requests` of `signal` on one OTAP stream to a fresh Collector, checks that each
/// batch is answered OK with its id and that the file exporter wrote what was sent.
async fn through_the_collector(name: &str, signal: Signal, requests: Vec<Request>) {
    let dir = temp_dir(name);
    let collector = tokio::task::spawn_blocking(move || Collector::start(&dir, None))
        .await
        .expect("join");

    let mut stream = OtapStream::open(&h2_client(), collector.arrow, method(signal), &[]);
    let mut encoder = StreamEncoder::new(signal);
    let requests: Vec<Request> = requests.iter().map(unique_keys).collect();
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_come_back_equal_batch_after_batch() {
    let mut requests = vec![Request::Traces(sample::traces())];
    requests.extend(
        generated(strategies::collector::trace_request())
            .into_iter()
            .map(Request::Traces),
    );
    through_the_collector("otap-wire-traces", Signal::Traces, requests).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_come_back_equal_batch_after_batch() {
    let mut requests = vec![Request::Logs(sample::logs())];
    requests.extend(
        generated(strategies::collector::logs_request())
            .into_iter()
            .map(Request::Logs),
    );
    through_the_collector("otap-wire-logs", Signal::Logs, requests).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_come_back_equal_batch_after_batch() {
    let mut requests = vec![Request::Metrics(sample::metrics())];
    requests.extend(
        generated(strategies::collector::metrics_request())
            .into_iter()
            .map(Request::Metrics),
    );
    through_the_collector("otap-wire-metrics", Signal::Metrics, requests).await;
}
