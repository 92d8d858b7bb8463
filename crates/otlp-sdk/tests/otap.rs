//! `Protocol::Otap` against the scripted OTAP server (`test_support::otap`): what a pipeline
//! sends arrives equal (after `otlp_otap::normalize_*`), the accounting balances, and so it
//! does through out-of-order acknowledgements, error statuses, stream resets, a server that
//! goes away and comes back, stream lifetime rotation, and a server without OTAP (fallback to
//! OTLP/gRPC). Then an `OtlpClient`, unchanged, over OTAP, and OTAP over TLS to
//! `otlp-receiver`.

mod common;

use otlp::pipeline::{
    AdaptiveBatchConfig, LogEncoder, MetricEncoder, Pipeline, ProfilesEncoder, SpanEncoder, Stats,
};
use otlp::{ClientConfig, Exporter, ExporterConfig, OtlpClient, Protocol, RetryPolicy};
use otlp_otap::StatusCode;
use otlp_proto::collector::{
    ExportLogsServiceRequest, ExportMetricsServiceRequest, ExportTraceServiceRequest,
};
use otlp_proto::common::KeyValue;
use otlp_proto::logs::{LogRecord, ResourceLogs, ScopeLogs};
use otlp_proto::metrics::{Metric, ResourceMetrics, ScopeMetrics};
use otlp_proto::trace::{ResourceSpans, ScopeSpans, Span};
use otlp_proto::{Compression, Request, sample};
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;
use test_support::client::WAIT;
use test_support::otap::{OtapServer, Script};

/// Quick retries, enough of them to outlast a restart.
fn patient_retry() -> RetryPolicy {
    RetryPolicy::default()
        .with_max_attempts(1000)
        .with_initial_backoff(Duration::from_millis(10))
        .with_max_backoff(Duration::from_millis(50))
}

fn exporter_config(server: &OtapServer) -> ExporterConfig {
    ExporterConfig::default()
        .with_protocol(Protocol::Otap)
        .with_endpoint(server.endpoint())
        .with_timeout(WAIT)
        .with_retry(patient_retry())
}

fn batches(size: usize, concurrency: usize) -> AdaptiveBatchConfig {
    AdaptiveBatchConfig::default()
        .with_min_batch_size(size)
        .with_max_batch_size(size)
        .with_max_concurrent_exports(concurrency)
        .with_scheduled_delay(Duration::from_millis(5))
        .with_export_timeout(WAIT)
}

/// `n` distinct spans made from the sample's, and the request they form.
fn spans(n: usize) -> (Vec<Span>, ExportTraceServiceRequest) {
    let sample = sample::traces();
    let rs = &sample.resource_spans[0];
    let ss = &rs.scope_spans[0];
    let spans: Vec<Span> = (0..n)
        .map(|i| {
            let mut s = ss.spans[i % ss.spans.len()].clone();
            s.span_id = (i as u64 + 1).to_be_bytes().to_vec().into();
            s.name = format!("span-{i}").into();
            s.attributes.push(KeyValue::new("i", i as i64));
            s
        })
        .collect();
    let request = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: rs.resource.clone(),
            scope_spans: vec![ScopeSpans {
                scope: ss.scope.clone(),
                spans: spans.clone(),
                schema_url: ss.schema_url.clone(),
            }],
            schema_url: rs.schema_url.clone(),
        }],
    };
    (spans, request)
}

/// A pipeline of the sample's spans (its resource and scope) exporting with `config`.
fn span_pipeline(config: ExporterConfig, batching: AdaptiveBatchConfig) -> Pipeline<Span> {
    let sample = sample::traces();
    let rs = &sample.resource_spans[0];
    let encoder = SpanEncoder::new(rs.resource.clone(), rs.scope_spans[0].scope.clone())
        .with_schema_url(rs.scope_spans[0].schema_url.clone());
    Pipeline::new(Exporter::new(config).expect("exporter"), encoder, batching).expect("pipeline")
}

/// The normalized spans of the traces requests, by span id: each once (a batch sent again
/// after a broken stream may have been accepted twice), and the (resource, scope) groups.
fn spans_by_id(requests: &[Request]) -> BTreeMap<Vec<u8>, Span> {
    let mut out = BTreeMap::new();
    for r in requests {
        if let Request::Traces(t) = r {
            for rs in otlp_otap::normalize_traces(t.clone()).resource_spans {
                for ss in rs.scope_spans {
                    for s in ss.spans {
                        let _ = out.insert(s.span_id.to_vec(), s);
                    }
                }
            }
        }
    }
    out
}

/// The received spans equal the sent ones, and so do their resource and scope.
fn assert_spans_arrived(server: &OtapServer, expected: &ExportTraceServiceRequest) {
    let requests = server.requests();
    let got = spans_by_id(&requests);
    let want = spans_by_id(&[Request::Traces(expected.clone())]);
    assert_eq!(got.len(), want.len(), "span count");
    assert!(got == want, "the spans differ");
    let want_group = otlp_otap::normalize_traces(expected.clone()).resource_spans[0].clone();
    for r in &requests {
        let Request::Traces(t) = r else { continue };
        for rs in otlp_otap::normalize_traces(t.clone()).resource_spans {
            assert_eq!(rs.resource, want_group.resource);
            assert_eq!(rs.scope_spans[0].scope, want_group.scope_spans[0].scope);
        }
    }
}

fn assert_balanced(stats: &Stats, exported: u64) {
    assert!(stats.is_consistent(), "{stats:?}");
    assert_eq!(stats.queued, 0, "{stats:?}");
    assert_eq!(stats.exported, exported, "{stats:?}");
    assert_eq!(
        stats.accepted,
        stats.exported + stats.dropped.total(),
        "{stats:?}"
    );
}

async fn send_spans(pipeline: &Pipeline<Span>, spans: &[Span]) {
    for s in spans {
        let _ = pipeline.enqueue(s.clone());
    }
    pipeline.force_flush(WAIT).await.expect("flushed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_logs_and_metrics_arrive_equal() {
    let server = OtapServer::start(Script::default()).await;
    let (items, expected) = spans(60);
    let traces = span_pipeline(exporter_config(&server), batches(16, 2));
    send_spans(&traces, &items).await;
    assert_spans_arrived(&server, &expected);
    assert_balanced(&traces.stats(), 60);

    let logs_sample = sample::logs();
    let rl = &logs_sample.resource_logs[0];
    let sl = &rl.scope_logs[0];
    let logs = Pipeline::new(
        Exporter::new(exporter_config(&server)).expect("exporter"),
        LogEncoder::new(rl.resource.clone(), sl.scope.clone()),
        batches(4, 2),
    )
    .expect("pipeline");
    for r in &sl.log_records {
        let _ = logs.enqueue(r.clone());
    }
    logs.force_flush(WAIT).await.expect("flushed");
    let got: Vec<LogRecord> = server
        .requests()
        .into_iter()
        .filter_map(|r| match r {
            Request::Logs(l) => Some(otlp_otap::normalize_logs(l)),
            _ => None,
        })
        .flat_map(|l| l.resource_logs)
        .flat_map(|rl| rl.scope_logs)
        .flat_map(|sl| sl.log_records)
        .collect();
    let want = otlp_otap::normalize_logs(ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: rl.resource.clone(),
            scope_logs: vec![ScopeLogs {
                scope: sl.scope.clone(),
                log_records: sl.log_records.clone(),
                schema_url: Default::default(),
            }],
            schema_url: Default::default(),
        }],
    });
    assert_eq!(got, want.resource_logs[0].scope_logs[0].log_records);
    assert_balanced(&logs.stats(), sl.log_records.len() as u64);

    let metrics_sample = sample::metrics();
    let rm = &metrics_sample.resource_metrics[0];
    let sm = &rm.scope_metrics[0];
    let metrics = Pipeline::new(
        Exporter::new(exporter_config(&server)).expect("exporter"),
        MetricEncoder::new(rm.resource.clone(), sm.scope.clone()),
        batches(1000, 1),
    )
    .expect("pipeline");
    for m in &sm.metrics {
        let _ = metrics.enqueue(m.clone());
    }
    metrics.force_flush(WAIT).await.expect("flushed");
    let got: Vec<Metric> = server
        .requests()
        .into_iter()
        .filter_map(|r| match r {
            Request::Metrics(m) => Some(otlp_otap::normalize_metrics(m)),
            _ => None,
        })
        .flat_map(|m| m.resource_metrics)
        .flat_map(|rm| rm.scope_metrics)
        .flat_map(|sm| sm.metrics)
        .collect();
    let want = otlp_otap::normalize_metrics(ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: rm.resource.clone(),
            scope_metrics: vec![ScopeMetrics {
                scope: sm.scope.clone(),
                metrics: sm.metrics.clone(),
                schema_url: Default::default(),
            }],
            schema_url: Default::default(),
        }],
    });
    assert_eq!(got, want.resource_metrics[0].scope_metrics[0].metrics);
    assert_balanced(&metrics.stats(), sm.metrics.len() as u64);
    assert_eq!(server.unary(), 0, "all of it streamed");
    assert_eq!(server.streams(), 3, "one stream per signal");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_order_acks_settle_their_own_batches() {
    // The first batch is answered UNAVAILABLE after later batches' OK: that batch, not another,
    // must be sent again, or its items are missing.
    let server = OtapServer::start(Script {
        reverse_acks: 3,
        statuses: VecDeque::from([StatusCode::Unavailable]),
        ..Script::default()
    })
    .await;
    let (items, expected) = spans(120);
    let traces = span_pipeline(exporter_config(&server), batches(10, 4));
    send_spans(&traces, &items).await;
    assert!(server.reordered() > 0, "some acks came out of order");
    assert_eq!(spans_by_id(&server.refused()).len(), 10);
    assert_spans_arrived(&server, &expected);
    let stats = traces.stats();
    assert_balanced(&stats, 120);
    assert_eq!(stats.retried, 1, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retryable_statuses_are_retried_and_others_drop_the_batch() {
    let server = OtapServer::start(Script {
        statuses: VecDeque::from([
            StatusCode::Unavailable,
            StatusCode::ResourceExhausted,
            StatusCode::InvalidArgument,
        ]),
        ..Script::default()
    })
    .await;
    let (items, _) = spans(30);
    // One batch at a time: the first batch meets the three statuses.
    let traces = span_pipeline(exporter_config(&server), batches(10, 1));
    send_spans(&traces, &items).await;
    let stats = traces.stats();
    assert_balanced(&stats, 20);
    assert_eq!(stats.dropped.non_retryable, 10, "{stats:?}");
    assert_eq!(stats.retried, 2, "{stats:?}");
    // Exactly the refused batch is missing (which items it held is the batcher's choice).
    let got = spans_by_id(&server.requests());
    assert_eq!(got.len(), 20);
    let sent: Vec<Vec<u8>> = items.iter().map(|s| s.span_id.to_vec()).collect();
    assert!(got.keys().all(|id| sent.contains(id)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_resets_lose_nothing() {
    let server = OtapServer::start(Script {
        reset_at_batch: Some(3),
        resets: 2,
        ..Script::default()
    })
    .await;
    let (items, expected) = spans(100);
    let traces = span_pipeline(exporter_config(&server), batches(10, 2));
    send_spans(&traces, &items).await;
    assert_eq!(server.resets(), 2);
    assert!(server.streams() >= 3, "new streams after the resets");
    assert_spans_arrived(&server, &expected);
    assert_balanced(&traces.stats(), 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restart_loses_nothing() {
    let mut server = OtapServer::start(Script::default()).await;
    let (items, expected) = spans(100);
    let traces = span_pipeline(exporter_config(&server), batches(10, 2));
    send_spans(&traces, &items[..50]).await;
    server.stop();
    for s in &items[50..] {
        let _ = traces.enqueue(s.clone());
    }
    // The exports fail (connection refused) and retry meanwhile.
    tokio::time::sleep(Duration::from_millis(200)).await;
    server.restart().await;
    traces.force_flush(WAIT).await.expect("flushed");
    assert!(server.streams() >= 2, "a new stream after the restart");
    assert_spans_arrived(&server, &expected);
    let stats = traces.stats();
    assert_balanced(&stats, 100);
    // Failed attempts waited their backoff: they are counted as retries.
    assert!(stats.retried > 0, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_rotate_at_their_lifetime_with_fresh_arrow_state() {
    let server = OtapServer::start(Script::default()).await;
    let (items, expected) = spans(50);
    // A lifetime shorter than a batch's round trip: every stream takes one batch.
    let config = exporter_config(&server).with_otap_max_stream_lifetime(Duration::from_nanos(1));
    let traces = span_pipeline(config, batches(10, 1));
    for chunk in items.chunks(10) {
        send_spans(&traces, chunk).await;
    }
    // A stream that did not start its IPC streams over would not decode (INVALID_ARGUMENT).
    assert!(server.streams() >= 2, "{} streams", server.streams());
    assert_spans_arrived(&server, &expected);
    assert_balanced(&traces.stats(), 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_streams_share_a_signal() {
    let server = OtapServer::start(Script::default()).await;
    let (items, expected) = spans(100);
    let config = exporter_config(&server).with_otap_streams(3);
    let traces = span_pipeline(config, batches(5, 4));
    send_spans(&traces, &items).await;
    assert_eq!(server.streams(), 3);
    assert_spans_arrived(&server, &expected);
    assert_balanced(&traces.stats(), 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unimplemented_falls_back_to_otlp_grpc() {
    let server = OtapServer::start(Script {
        unimplemented: true,
        ..Script::default()
    })
    .await;
    let (items, expected) = spans(40);
    let traces = span_pipeline(exporter_config(&server), batches(10, 2));
    send_spans(&traces, &items).await;
    assert_eq!(server.batches(), 0);
    assert!(server.unary() >= 4, "the batches went as OTLP/gRPC");
    assert_spans_arrived(&server, &expected);
    assert_balanced(&traces.stats(), 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_carry_the_routes_headers_and_compression() {
    // None configured: the stream's messages go zstd (plain IPC bodies inside), as the Go
    // exporter's default; `none` configured: no message compression (zstd IPC bodies).
    for (configured, expected_encoding) in [
        (None, Some("zstd")),
        (Some(Compression::None), None),
        (Some(Compression::Gzip), Some("gzip")),
        (Some(Compression::Zstd), Some("zstd")),
    ] {
        let server = OtapServer::start(Script::default()).await;
        let (items, expected) = spans(30);
        let mut config = exporter_config(&server).with_header("x-tenant", "blue");
        if let Some(c) = configured {
            config = config.with_compression(c);
        }
        let traces = span_pipeline(config, batches(10, 2));
        send_spans(&traces, &items).await;
        assert_spans_arrived(&server, &expected);
        assert_balanced(&traces.stats(), 30);
        let headers = server.stream_headers();
        assert_eq!(headers.len(), 1);
        assert_eq!(headers[0]["x-tenant"], "blue");
        assert_eq!(
            headers[0]
                .get("grpc-encoding")
                .map(|v| v.to_str().expect("ascii")),
            expected_encoding,
            "{configured:?}"
        );
    }
}

/// Profiles, which OTAP does not carry, go as OTLP/gRPC; a direct export of another signal
/// goes over a stream of the exporter's own, which `shutdown` ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profiles_go_as_otlp_grpc_and_direct_exports_stream() {
    let server = OtapServer::start(Script::default()).await;
    let exporter = Exporter::new(exporter_config(&server)).expect("exporter");
    let profiles =
        Pipeline::new(exporter.clone(), ProfilesEncoder, batches(1, 1)).expect("pipeline");
    let _ = profiles.enqueue(sample::profiles());
    profiles.force_flush(WAIT).await.expect("flushed");
    assert_balanced(&profiles.stats(), 1);
    for _ in 0..2 {
        let outcome = exporter
            .export_request(&Request::Traces(sample::traces()))
            .await
            .expect("exported");
        assert_eq!(outcome.attempts, 1);
    }
    assert_eq!(server.unary(), 1);
    assert_eq!(server.streams(), 1, "both direct exports on one stream");
    assert_eq!(server.streams_ended(), 0);
    exporter.shutdown().await.expect("streams ended");
    assert_eq!(
        server.streams_ended(),
        1,
        "shutdown ends the stream cleanly"
    );
    let requests = server.requests();
    assert_eq!(requests[0], Request::Profiles(sample::profiles()));
    let traces = Request::Traces(otlp_otap::normalize_traces(sample::traces()));
    assert_eq!(requests[1..], [traces.clone(), traces]);
    // After it, a direct export opens a new stream.
    exporter
        .export_request(&Request::Traces(sample::traces()))
        .await
        .expect("exported after shutdown");
    assert_eq!(server.streams(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_otlp_client_exports_over_otap_unchanged() {
    let server = OtapServer::start(Script::default()).await;
    let batching = AdaptiveBatchConfig::default().with_scheduled_delay(Duration::from_millis(5));
    let client = OtlpClient::new(
        ClientConfig::new()
            .with_exporter(exporter_config(&server))
            .with_resource_detection(false)
            .with_traces_pipeline(batching.clone())
            .with_logs_pipeline(batching),
    )
    .await
    .expect("client");
    let tracer = client.tracer("otap");
    for i in 0..20 {
        tracer.start(format!("work-{i}")).end();
    }
    let logger = client.logger("otap");
    for i in 0..10i64 {
        let _ = logger.emit(LogRecord {
            attributes: vec![KeyValue::new("i", i)],
            ..LogRecord::default()
        });
    }
    client.meter("otap").u64_counter("jobs").build().add(3, &[]);
    client.force_flush(WAIT).await.expect("flushed");
    let requests = server.requests();
    let spans = spans_by_id(&requests);
    let names: Vec<String> = spans.values().map(|s| s.name.to_string()).collect();
    assert_eq!(names.len(), 20, "{names:?}");
    let logs: usize = requests
        .iter()
        .map(|r| match r {
            Request::Logs(l) => l
                .resource_logs
                .iter()
                .flat_map(|r| &r.scope_logs)
                .map(|s| s.log_records.len())
                .sum(),
            _ => 0,
        })
        .sum();
    assert_eq!(logs, 10);
    let jobs = requests.iter().any(|r| match r {
        Request::Metrics(m) => m
            .resource_metrics
            .iter()
            .flat_map(|r| &r.scope_metrics)
            .flat_map(|s| &s.metrics)
            .any(|m| m.name == "jobs"),
        _ => false,
    });
    assert!(jobs, "the counter arrived");
    assert_eq!(server.unary(), 0);
    let stats = client.stats();
    assert!(stats.is_consistent() && stats.queued == 0, "{stats:?}");
    assert_eq!(stats.dropped.total(), 0, "{stats:?}");
    assert_eq!(server.streams_ended(), 0);
    client.shutdown(WAIT).await.expect("shut down");
    // Every stream (one per signal) ended as a finished call.
    assert_eq!(server.streams(), 3);
    assert_eq!(server.streams_ended(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otap_streams_run_over_tls_with_a_custom_ca() {
    let pki = common::Pki::new();
    let sink = otlp_receiver::MemorySink::new();
    let rx = common::receiver_with(sink.clone(), Some(pki.server_tls())).await;
    let endpoint = common::base_url(&rx, Protocol::Grpc, "https").replace("127.0.0.1", "localhost");
    let config = ExporterConfig::default()
        .with_protocol(Protocol::Otap)
        .with_endpoint(endpoint.clone())
        .with_certificate(pki.ca())
        .with_timeout(WAIT)
        .with_retry(patient_retry());
    let (spans, expected) = spans(300);
    let pipeline = span_pipeline(config, batches(100, 2));
    send_spans(&pipeline, &spans).await;
    assert_balanced(&pipeline.stats(), 300);
    let received = sink.requests();
    assert!(!received.is_empty());
    assert!(
        received
            .iter()
            .all(|r| r.transport == otlp_receiver::Transport::Otap),
        "every batch came over OTAP: {:?}",
        received.iter().map(|r| r.transport).collect::<Vec<_>>()
    );
    let requests: Vec<Request> = received.into_iter().map(|r| r.request).collect();
    assert_eq!(
        spans_by_id(&requests),
        spans_by_id(&[Request::Traces(expected)])
    );
    pipeline.shutdown(WAIT).await.expect("shutdown");

    // Without the CA the server is not trusted: the stream never opens and nothing is sent
    // as plain OTLP instead (the fallback is for servers without OTAP, not for bad TLS).
    sink.clear();
    let untrusting = ExporterConfig::default()
        .with_protocol(Protocol::Otap)
        .with_endpoint(endpoint)
        .with_timeout(Duration::from_secs(2))
        .with_retry(RetryPolicy::default().with_max_attempts(1));
    let pipeline = span_pipeline(untrusting, batches(10, 1));
    for s in &spans[..10] {
        let _ = pipeline.enqueue(s.clone());
    }
    let _ = pipeline.force_flush(Duration::from_secs(5)).await;
    let stats = pipeline.stats();
    assert_eq!(stats.exported, 0, "{stats:?}");
    assert!(sink.requests().is_empty());
    rx.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_persistent_queue_what_was_stored_goes_over_the_stream() {
    let dir = test_support::temp_dir("otap-persistent");
    let queue =
        || otlp::pipeline::PersistentQueue::new(&dir).with_fsync(otlp::pipeline::Fsync::Never);
    let server = OtapServer::start(Script::default()).await;
    let (items, expected) = spans(60);
    let traces = span_pipeline(
        exporter_config(&server),
        batches(16, 2).with_persistent_queue(queue()),
    );
    send_spans(&traces, &items).await;
    assert_spans_arrived(&server, &expected);
    assert_balanced(&traces.stats(), 60);
    traces.shutdown(WAIT).await.expect("shutdown");
    // Settled on the stream: acknowledged in the log, nothing for the next start.
    let again = span_pipeline(
        exporter_config(&server),
        batches(16, 2).with_persistent_queue(queue()),
    );
    assert_eq!(again.stats().recovered, 0, "{:?}", again.stats());
}
