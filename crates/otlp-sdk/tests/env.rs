//! Configuration from `OTEL_EXPORTER_OTLP_*` variables, end to end, and `OTEL_SDK_DISABLED`.
//! The variables come from a map through `with_env_source`: no test touches the process env.

mod common;

use common::{base_url, receiver};
use otlp::{BlockingExporter, Exporter, ExporterConfig, Protocol};
use otlp_proto::{Compression, Signal, sample};
use otlp_receiver::{MemorySink, Transport};
use std::collections::HashMap;

fn from_vars(vars: &[(&str, String)]) -> Result<ExporterConfig, otlp::Error> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    ExporterConfig::default().with_env_source(&|name| map.get(name).cloned())
}

#[tokio::test]
async fn generic_and_per_signal_variables_drive_the_exporter() {
    let sink = MemorySink::new();
    let rx = receiver(sink.clone()).await;
    let http = base_url(&rx, Protocol::HttpProtobuf, "http");
    let grpc = base_url(&rx, Protocol::Grpc, "http");
    let config = from_vars(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", http.clone()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json".into()),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip".into()),
        (
            "OTEL_EXPORTER_OTLP_HEADERS",
            "authorization=Bearer%20abc,x-tenant=acme".into(),
        ),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "5000".into()),
        // Traces: gRPC to the other port, zstd, their own headers.
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc".into()),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", grpc),
        ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "zstd".into()),
        (
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
            "x-tenant=tracing".into(),
        ),
        // Logs: a per-signal endpoint is used as it is.
        (
            "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
            format!("{http}/v1/logs"),
        ),
        ("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "http/protobuf".into()),
        ("OTEL_EXPORTER_OTLP_LOGS_COMPRESSION", "none".into()),
    ])
    .expect("valid environment");
    let exporter = Exporter::new(config).expect("exporter");
    for signal in [Signal::Traces, Signal::Metrics, Signal::Logs] {
        exporter
            .export_request(&sample::request(signal))
            .await
            .unwrap_or_else(|e| panic!("{signal}: {e}"));
    }
    let got = sink.requests();
    let (traces, metrics, logs) = (&got[0], &got[1], &got[2]);
    assert_eq!(traces.request, sample::request(Signal::Traces));
    assert_eq!(traces.transport, Transport::Grpc);
    assert_eq!(traces.compression, Compression::Zstd);
    assert_eq!(traces.headers["x-tenant"], "tracing");
    assert!(
        traces.headers.get("authorization").is_none(),
        "replaced by the per-signal variable"
    );

    assert_eq!(metrics.request, sample::request(Signal::Metrics));
    assert_eq!(metrics.transport, Transport::Http);
    assert_eq!(metrics.encoding, otlp_proto::Encoding::Json);
    assert_eq!(metrics.compression, Compression::Gzip);
    assert_eq!(metrics.headers["authorization"], "Bearer abc");
    assert_eq!(metrics.headers["x-tenant"], "acme");

    assert_eq!(logs.request, sample::request(Signal::Logs));
    assert_eq!(logs.encoding, otlp_proto::Encoding::Protobuf);
    assert_eq!(logs.compression, Compression::None);
    rx.shutdown().await;
}

#[tokio::test]
async fn code_wins_over_the_environment() {
    let sink = MemorySink::new();
    let rx = receiver(sink.clone()).await;
    let config = from_vars(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9".into()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc".into()),
        (
            "OTEL_EXPORTER_OTLP_HEADERS",
            "x-from=env,x-env-only=yes".into(),
        ),
    ])
    .expect("valid environment")
    .with_protocol(Protocol::HttpProtobuf)
    .with_endpoint(base_url(&rx, Protocol::HttpProtobuf, "http"))
    .with_header("x-from", "code");
    let exporter = Exporter::new(config).expect("exporter");
    exporter
        .export_request(&sample::request(Signal::Metrics))
        .await
        .expect("export");
    let got = &sink.requests()[0];
    assert_eq!(got.transport, Transport::Http);
    assert_eq!(got.headers["x-from"], "code");
    assert_eq!(got.headers["x-env-only"], "yes");
    rx.shutdown().await;
}

#[test]
fn malformed_variables_are_reported_by_name() {
    let err = from_vars(&[("OTEL_EXPORTER_OTLP_TIMEOUT", "ten".into())]).expect_err("invalid");
    assert!(err.is_config());
    assert_eq!(
        err.to_string(),
        r#"OTEL_EXPORTER_OTLP_TIMEOUT="ten": expected milliseconds"#
    );
    let err =
        from_vars(&[("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "udp".into())]).expect_err("invalid");
    assert!(
        err.to_string()
            .starts_with(r#"OTEL_EXPORTER_OTLP_METRICS_PROTOCOL="udp""#),
        "{err}"
    );
    // Errors found when the exporter is built still name their variable.
    let config = from_vars(&[("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "localhost:4318".into())])
        .expect("a URI, checked later against the protocol");
    let err = Exporter::new(config).expect_err("no scheme for OTLP/HTTP");
    assert!(
        err.to_string()
            .starts_with("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT="),
        "{err}"
    );
}

#[tokio::test]
async fn sdk_disabled_makes_exports_succeeding_no_ops() {
    let sink = MemorySink::new();
    let rx = receiver(sink.clone()).await;
    let config = from_vars(&[
        ("OTEL_SDK_DISABLED", "true".into()),
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            base_url(&rx, Protocol::HttpProtobuf, "http"),
        ),
        // Never read when disabled.
        (
            "OTEL_EXPORTER_OTLP_CERTIFICATE",
            "/nonexistent/ca.pem".into(),
        ),
    ])
    .expect("valid environment");
    assert!(config.is_disabled());
    let exporter = Exporter::new(config.clone()).expect("exporter");
    assert!(exporter.is_disabled());
    for signal in Signal::ALL {
        let outcome = exporter
            .export_request(&sample::request(signal))
            .await
            .expect("no-op");
        assert!(outcome.is_disabled() && outcome.disabled, "{signal}");
        assert_eq!((outcome.attempts, outcome.wire_bytes), (0, 0));
    }
    let body = exporter.encode(&otlp_proto::collector::ExportLogsServiceRequest::default());
    assert!(
        exporter
            .export_encoded(Signal::Logs, body)
            .await
            .expect("no-op")
            .disabled
    );

    let blocking = BlockingExporter::new(config.clone()).expect("exporter");
    assert!(blocking.is_disabled());
    assert!(
        blocking
            .export_request(&sample::request(Signal::Traces))
            .expect("no-op")
            .disabled
    );
    assert!(sink.is_empty(), "nothing was sent");

    // Code can switch it back on.
    let exporter = Exporter::new(config.with_disabled(false)).expect("exporter");
    assert!(!exporter.is_disabled());
    assert!(
        !exporter
            .export_request(&sample::request(Signal::Traces))
            .await
            .expect("sent")
            .disabled
    );
    assert_eq!(sink.len(), 1);
    rx.shutdown().await;
}
