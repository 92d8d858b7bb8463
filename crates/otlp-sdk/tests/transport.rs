//! The transport is built once per exporter and started lazily: `Exporter::new` starts no
//! thread, pipelines send over the routes (and TLS configuration) it built without starting the
//! exporter's I/O thread, and the first direct export starts that thread. Its own test binary,
//! so that no other test's threads are counted. Reads `/proc`, so Linux only.
#![cfg(target_os = "linux")]

mod common;

use common::pipeline::{span, wait_until};
use common::{Pki, base_url, receiver_with};
use otlp::pipeline::{AdaptiveBatchConfig, Pipeline, SpanEncoder};
use otlp::{BlockingExporter, ClientConfig, Exporter, ExporterConfig, OtlpClient, Protocol};
use otlp_proto::{Request, Signal, sample};
use otlp_receiver::MemorySink;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

/// Threads of this process whose name starts with `prefix` (names are cut to 15 bytes).
fn threads(prefix: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .filter(|task| {
            let path = task.as_ref().expect("task").path();
            std::fs::read_to_string(path.join("comm")).is_ok_and(|n| n.starts_with(prefix))
        })
        .count()
}

/// Spans received so far.
fn spans(sink: &MemorySink) -> usize {
    sink.requests()
        .iter()
        .map(|r| match &r.request {
            Request::Traces(t) => t.spans().count(),
            _ => 0,
        })
        .sum()
}

#[test]
fn pipelines_and_direct_exports_share_one_lazily_started_transport() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let pki = Pki::new();
    let sink = MemorySink::new();
    let rx = runtime.block_on(receiver_with(sink.clone(), Some(pki.server_tls())));
    // A CA file of its own, deleted once the exporter has read it.
    let ca = pki.path("ca-read-once.pem");
    std::fs::copy(pki.ca(), &ca).expect("copy CA");
    let config = ExporterConfig::default()
        .with_protocol(Protocol::Grpc)
        .with_endpoint(base_url(&rx, Protocol::Grpc, "https").replace("127.0.0.1", "localhost"))
        .with_certificate(ca.clone())
        .with_timeout(WAIT)
        .with_retry(common::fast_retry());

    let before = threads("otlp-");
    let exporter = Exporter::new(config.clone()).expect("exporter");
    let client = OtlpClient::new_blocking(
        ClientConfig::new()
            .with_exporter(config)
            .with_resource_detection(false)
            .with_self_metrics(false),
    )
    .expect("client");
    assert_eq!(
        threads("otlp-"),
        before,
        "Exporter::new and OtlpClient::new start no thread"
    );
    std::fs::remove_file(&ca).expect("delete the CA file");

    // A pipeline of the exporter sends over its routes: the TLS configuration read by
    // Exporter::new, and no exporter thread.
    let batch = AdaptiveBatchConfig::default().with_scheduled_delay(Duration::from_millis(5));
    let pipeline =
        Pipeline::new(exporter.clone(), SpanEncoder::default(), batch).expect("pipeline");
    let _ = pipeline.enqueue(span(0, false));
    pipeline.force_flush_blocking(WAIT).expect("pipeline flush");
    assert_eq!(spans(&sink), 1, "the pipeline's span arrived");
    assert_eq!(pipeline.stats().exported, 1);

    // So does a client that only uses pipelines.
    client.tracer("transport-test").start("s1").end();
    client.force_flush_blocking(WAIT).expect("client flush");
    assert_eq!(spans(&sink), 2, "the client's span arrived");
    assert_eq!(
        threads("otlp-exporter"),
        0,
        "pipelines start no exporter thread"
    );

    // The first direct export starts the I/O thread, with the same TLS configuration.
    let blocking = BlockingExporter::from(exporter.clone());
    blocking
        .export_request(&sample::request(Signal::Traces))
        .expect("direct export");
    assert!(spans(&sink) > 2, "the direct export arrived");
    assert_eq!(
        threads("otlp-exporter"),
        1,
        "one I/O thread, started lazily"
    );
    blocking
        .export_request(&sample::request(Signal::Logs))
        .expect("second direct export");
    assert_eq!(threads("otlp-exporter"), 1, "still one I/O thread");

    // Dropping the last handles stops every thread.
    client.shutdown_blocking(WAIT).expect("client shutdown");
    pipeline.shutdown_blocking(WAIT).expect("pipeline shutdown");
    drop((client, pipeline, blocking, exporter));
    wait_until("the SDK's threads to stop", || threads("otlp-") == before);
    runtime.block_on(rx.shutdown());
}
