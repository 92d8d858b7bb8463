//! Retries, failures and partial success against a misbehaving receiver.
//!
//! No test measures time. Where a test must show that the server's delay was honoured, the
//! exporter's own backoff is made longer than the deadline: without the server's delay the export
//! could only fail.

mod common;

use common::{PROTOCOLS, config, receiver};
use otlp::{Exporter, ExporterConfig, Protocol, RetryPolicy, Status};
use otlp_proto::grpc::code;
use otlp_proto::{Signal, sample};
use otlp_receiver::{MemorySink, Receiver, Refusal, ScriptedSink};
use std::time::Duration;

/// Backoff so long that only a server-provided delay can make a retry fit in the deadline.
fn backoff_beyond_deadline(config: ExporterConfig) -> ExporterConfig {
    config
        .with_timeout(Duration::from_secs(20))
        .with_retry(RetryPolicy::default().with_initial_backoff(Duration::from_secs(120)))
}

#[tokio::test]
async fn http_503_with_retry_after_is_retried_after_the_server_delay() {
    for protocol in [Protocol::HttpProtobuf, Protocol::HttpJson] {
        let memory = MemorySink::new();
        let script = ScriptedSink::new(memory.clone()).then_refuse(
            Refusal::unavailable("warming up").with_retry_after(Duration::from_secs(1)),
        );
        let rx = receiver(script.clone()).await;
        let exporter =
            Exporter::new(backoff_beyond_deadline(config(&rx, protocol))).expect("exporter");
        let outcome = exporter
            .export_request(&sample::request(Signal::Traces))
            .await
            .expect("succeeds on the retry");
        assert_eq!(outcome.attempts, 2, "{protocol}");
        assert_eq!(script.requests_seen(), 2, "{protocol}");
        assert_eq!(memory.requests().len(), 1, "{protocol}: accepted once");
        assert_eq!(
            memory.requests()[0].request,
            sample::request(Signal::Traces)
        );
        rx.shutdown().await;
    }
}

#[tokio::test]
async fn grpc_unavailable_with_retry_info_is_retried_after_the_server_delay() {
    let memory = MemorySink::new();
    let script = ScriptedSink::new(memory.clone())
        .then_refuse(Refusal::unavailable("busy").with_retry_after(Duration::from_millis(200)))
        // RESOURCE_EXHAUSTED is retryable only with RetryInfo, which this one has.
        .then_refuse(
            Refusal::resource_exhausted("quota").with_retry_after(Duration::from_millis(200)),
        );
    let rx = receiver(script).await;
    let exporter =
        Exporter::new(backoff_beyond_deadline(config(&rx, Protocol::Grpc))).expect("exporter");
    let outcome = exporter
        .export_request(&sample::request(Signal::Metrics))
        .await
        .expect("succeeds on the third attempt");
    assert_eq!(outcome.attempts, 3);
    assert_eq!(memory.requests().len(), 1);
    assert_eq!(
        memory.requests()[0].request,
        sample::request(Signal::Metrics)
    );
    rx.shutdown().await;
}

#[tokio::test]
async fn transient_failures_without_a_server_delay_use_the_backoff() {
    let memory = MemorySink::new();
    // HTTP 429 without Retry-After, gRPC UNAVAILABLE without RetryInfo: retried on backoff.
    for (protocol, refusal) in [
        (
            Protocol::HttpProtobuf,
            Refusal::resource_exhausted("slow down"),
        ),
        (Protocol::Grpc, Refusal::unavailable("restarting")),
    ] {
        let script = ScriptedSink::new(memory.clone())
            .then_refuse(refusal.clone())
            .then_refuse(refusal);
        let rx = receiver(script).await;
        let exporter = Exporter::new(config(&rx, protocol)).expect("exporter");
        let outcome = exporter
            .export_request(&sample::request(Signal::Logs))
            .await
            .expect("third attempt succeeds");
        assert_eq!(outcome.attempts, 3, "{protocol}");
        rx.shutdown().await;
    }
}

#[tokio::test]
async fn permanent_refusals_are_not_retried_and_carry_status_and_message() {
    for protocol in PROTOCOLS {
        let memory = MemorySink::new();
        let script = ScriptedSink::new(memory.clone())
            .then_refuse(Refusal::invalid_argument("span 3 has no trace id"));
        let rx = receiver(script.clone()).await;
        let exporter = Exporter::new(config(&rx, protocol)).expect("exporter");
        let err = exporter
            .export_request(&sample::request(Signal::Traces))
            .await
            .expect_err("refused");
        let expected = match protocol {
            Protocol::Grpc => Status::Grpc(code::INVALID_ARGUMENT),
            _ => Status::Http(http::StatusCode::BAD_REQUEST),
        };
        assert_eq!(err.status(), Some(expected), "{protocol}: {err}");
        assert_eq!(
            err.server_message(),
            Some("span 3 has no trace id"),
            "{protocol}"
        );
        assert!(err.is_status() && !err.is_retryable(), "{protocol}");
        assert!(
            !err.is_retryable_exhausted() && !err.is_timeout(),
            "{protocol}"
        );
        assert_eq!(err.attempts(), 1, "{protocol}");
        assert_eq!(err.signal(), Some(Signal::Traces));
        assert_eq!(script.requests_seen(), 1, "{protocol}: not retried");
        let msg = err.to_string();
        assert!(msg.contains("span 3 has no trace id"), "{msg}");
        assert!(msg.contains("traces export to http://127.0.0.1:"), "{msg}");
        assert!(memory.is_empty());
        rx.shutdown().await;
    }
}

#[tokio::test]
async fn grpc_resource_exhausted_without_retry_info_is_not_retried() {
    let script =
        ScriptedSink::new(MemorySink::new()).then_refuse(Refusal::resource_exhausted("no"));
    let rx = receiver(script.clone()).await;
    let exporter = Exporter::new(config(&rx, Protocol::Grpc)).expect("exporter");
    let err = exporter
        .export_request(&sample::request(Signal::Logs))
        .await
        .expect_err("refused");
    assert_eq!(err.status(), Some(Status::Grpc(code::RESOURCE_EXHAUSTED)));
    assert_eq!(err.attempts(), 1);
    assert_eq!(script.requests_seen(), 1);
    rx.shutdown().await;
}

#[tokio::test]
async fn retries_stop_at_the_attempt_limit() {
    for protocol in [Protocol::Grpc, Protocol::HttpProtobuf] {
        let mut script = ScriptedSink::new(MemorySink::new());
        for _ in 0..5 {
            script = script.then_refuse(Refusal::unavailable("down for maintenance"));
        }
        let rx = receiver(script.clone()).await;
        let exporter = Exporter::new(
            config(&rx, protocol).with_retry(common::fast_retry().with_max_attempts(3)),
        )
        .expect("exporter");
        let err = exporter
            .export_request(&sample::request(Signal::Traces))
            .await
            .expect_err("keeps failing");
        assert!(
            err.is_retryable_exhausted() && err.is_retryable(),
            "{err:?}"
        );
        assert!(!err.is_timeout());
        assert_eq!(err.attempts(), 3);
        assert_eq!(script.requests_seen(), 3);
        assert_eq!(err.server_message(), Some("down for maintenance"));
        assert!(err.to_string().contains("retry limit"), "{err}");
        rx.shutdown().await;
    }
}

#[tokio::test]
async fn connection_refused_is_retried_until_the_deadline() {
    // A port that was just free: nothing listens there.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port");
    for protocol in [Protocol::Grpc, Protocol::HttpJson] {
        let exporter = Exporter::new(
            ExporterConfig::default()
                .with_protocol(protocol)
                .with_endpoint(format!("http://{addr}"))
                .with_timeout(Duration::from_millis(800))
                .with_retry(common::fast_retry().with_max_attempts(1000)),
        )
        .expect("exporter");
        let err = exporter
            .export_request(&sample::request(Signal::Traces))
            .await
            .expect_err("nothing listens");
        assert!(err.is_connect(), "{protocol}: {err:?}");
        assert!(
            err.is_retryable_exhausted() && err.is_timeout(),
            "{protocol}: {err:?}"
        );
        assert!(err.attempts() > 1, "{protocol}: retried");
        assert_eq!(err.status(), None);
        let msg = err.to_string();
        assert!(msg.contains("cannot connect"), "{msg}");
        assert!(msg.contains("deadline"), "{msg}");
    }
}

#[tokio::test]
async fn a_server_slower_than_the_timeout_is_a_timeout() {
    for protocol in PROTOCOLS {
        let script = ScriptedSink::new(MemorySink::new()).then_delay(Duration::from_secs(30));
        let rx = receiver(script).await;
        let exporter =
            Exporter::new(config(&rx, protocol).with_timeout(Duration::from_millis(300)))
                .expect("exporter");
        let err = exporter
            .export_request(&sample::request(Signal::Traces))
            .await
            .expect_err("too slow");
        assert!(err.is_timeout(), "{protocol}: {err:?}");
        assert!(!err.is_retryable_exhausted(), "{protocol}");
        assert_eq!(err.attempts(), 1);
        assert!(err.to_string().contains("deadline"), "{err}");
        // Dropped, not shut down: the delayed request would hold a graceful shutdown.
        drop(rx);
    }
}

#[tokio::test]
async fn partial_success_is_returned_as_data() {
    for protocol in PROTOCOLS {
        let memory = MemorySink::new();
        let script = ScriptedSink::new(memory.clone()).then_partial(2, "2 spans are too old");
        let rx = receiver(script).await;
        let exporter = Exporter::new(config(&rx, protocol)).expect("exporter");
        let outcome = exporter
            .export_request(&sample::request(Signal::Traces))
            .await
            .expect("a partial success is a success");
        assert!(outcome.is_partial_success(), "{protocol}");
        assert_eq!(outcome.rejected, 2, "{protocol}");
        assert_eq!(
            outcome.message.as_deref(),
            Some("2 spans are too old"),
            "{protocol}"
        );
        assert_eq!(outcome.attempts, 1);
        assert_eq!(memory.len(), 1);
        rx.shutdown().await;
    }
}

#[tokio::test]
async fn retries_disabled_means_one_attempt() {
    let script = ScriptedSink::new(MemorySink::new()).then_refuse(Refusal::unavailable("x"));
    let rx = receiver(script.clone()).await;
    let exporter =
        Exporter::new(config(&rx, Protocol::HttpProtobuf).with_retry(RetryPolicy::disabled()))
            .expect("exporter");
    let err = exporter
        .export_request(&sample::request(Signal::Traces))
        .await
        .expect_err("not retried");
    assert!(err.is_retryable_exhausted() && err.is_retryable());
    assert_eq!(err.attempts(), 1);
    assert_eq!(script.requests_seen(), 1);
    rx.shutdown().await;
}

/// Our receiver's memory limit refuses with a retry hint (HTTP 429 + `Retry-After`, gRPC
/// `RESOURCE_EXHAUSTED` + `RetryInfo`); our exporter waits that long and delivers. One request is
/// held in a slow sink, taking the memory the limit allows, while the exporter sends another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_receivers_memory_limit_is_retried_after_its_hint() {
    let request = sample::request(Signal::Logs);
    let body = request.encode(otlp_proto::Encoding::Protobuf);
    for protocol in PROTOCOLS {
        let memory = MemorySink::new();
        let script = ScriptedSink::new(memory.clone()).then_delay(Duration::from_secs(2));
        // Room for one request in flight (its body and decoded messages), not two.
        let rx = Receiver::builder()
            .with_free_loopback_ports()
            .with_sink(script.clone())
            .with_memory_limit(body.len() * 2 + 4096)
            .start()
            .await
            .expect("receiver starts");
        let holder = Exporter::new(config(&rx, Protocol::Grpc)).expect("exporter");
        let held = {
            let request = request.clone();
            tokio::spawn(async move { holder.export_request(&request).await })
        };
        tokio::time::timeout(Duration::from_secs(10), async {
            while script.remaining_steps() > 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .expect("the first request reaches the sink");

        let exporter =
            Exporter::new(backoff_beyond_deadline(config(&rx, protocol))).expect("exporter");
        let outcome = exporter
            .export_request(&request)
            .await
            .expect("succeeds once the held request is answered");
        assert!(outcome.attempts >= 2, "{protocol}: refused first");
        held.await
            .expect("task")
            .expect("the held request succeeds");
        assert_eq!(memory.requests().len(), 2, "{protocol}: both delivered");
        rx.shutdown().await;
    }
}
