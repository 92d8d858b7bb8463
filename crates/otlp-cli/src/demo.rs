//! `otlp demo`: sends a sample of every signal through every protocol to an embedded receiver,
//! and checks that what arrived is what was sent.

use crate::error::{Failure, Result};
use crate::summary::{self, DemoRow};
use otlp::logs::{EventBuilder, LogBuilder, Severity};
use otlp::metrics::{MetricsConfig, TemporalityPreference};
use otlp::pipeline::AdaptiveBatchConfig;
use otlp::trace::{Sampler, SpanKind, SpanLimits, Status};
use otlp::{ClientConfig, Exporter, ExporterConfig, OtlpClient, Protocol, RetryPolicy};
use otlp_proto::common::{AnyValue, KeyValue, Value};
use otlp_proto::logs::LogRecord;
use otlp_proto::resource::Resource;
use otlp_proto::trace::{self as proto_trace, StatusCode};
use otlp_proto::{Compression, Request, Signal, sample};
use otlp_receiver::{MemorySink, Received, Receiver, Transport};
use std::time::Duration;

/// The arguments of `otlp demo`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Starts a receiver on free loopback ports (gRPC and HTTP), sends one sample request of every
signal (traces, metrics, logs, profiles) through every protocol (grpc with gzip, http/protobuf
with zstd, http/json uncompressed), and prints a table of items sent and received per signal and
protocol. Then it sends a small trace through the SDK API (an `OtlpClient` over gRPC: a server
span \"GET /checkout\" with a \"db.query\" child and a failed \"payment.charge\" child) and
checks that the spans arrived with the right parent links; with it, one log record (WARN, a
structured body) and one event (\"order.created\", domain \"ecommerce\") sent through the same
client inside the server span, checked to arrive once each, correlated with that span; and
metrics recorded through the client's meter (a counter, histograms, a gauge, an up-down counter,
an observable gauge), checked value by value; and a CPU and heap profile of a small workload
(1 kHz, one allocation sampled in every 64 KiB) exported through the same client, checked to
arrive, with its top functions printed. First it prints the resource
detected for this process (`otlp::resource::detect()`,
which reads OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES and the K8S_* variables); the exports
themselves read no environment variables and need no network beyond loopback.

Exits 1 if any request, span or log record did not arrive exactly as sent.")]
pub struct DemoArgs {
    /// How long each export may take, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    timeout: u64,
}

/// The protocols the demo goes through, each with its compression.
const PROTOCOLS: [(Protocol, Compression); 3] = [
    (Protocol::Grpc, Compression::Gzip),
    (Protocol::HttpProtobuf, Compression::Zstd),
    (Protocol::HttpJson, Compression::None),
];

/// Runs the demo.
pub async fn run(args: DemoArgs) -> Result<()> {
    let resource = otlp::resource::detect();
    print_resource(&resource);
    let (receiver, sink) = Receiver::start_in_memory()
        .await
        .map_err(|e| Failure::with_cause("cannot start the embedded receiver", e))?;
    let (Some(grpc), Some(http)) = (receiver.grpc_addr(), receiver.http_addr()) else {
        receiver.shutdown().await;
        return Err(Failure::new(
            "the embedded receiver did not bind both transports",
        ));
    };
    summary::print_line(&summary::listening_line(Some(grpc), Some(http)));

    let timeout = Duration::from_secs(args.timeout.max(1));
    let mut rows = Vec::new();
    let mut setup_error = None;
    for (protocol, compression) in PROTOCOLS {
        let addr = if protocol == Protocol::Grpc {
            grpc
        } else {
            http
        };
        // Nothing from the environment: the demo must behave the same everywhere.
        let config = ExporterConfig::new()
            .with_protocol(protocol)
            .with_endpoint(format!("http://{addr}"))
            .with_compression(compression)
            .with_timeout(timeout)
            .with_retry(RetryPolicy::disabled());
        let exporter = match Exporter::new(config) {
            Ok(exporter) => exporter,
            Err(e) => {
                setup_error = Some(Failure::with_cause(
                    format!("cannot create the {protocol} exporter"),
                    e,
                ));
                break;
            }
        };
        for signal in Signal::ALL {
            let sent = sample::request(signal);
            let before = sink.len();
            let exported = exporter.export_request(&sent).await;
            let arrived = sink.requests().split_off(before.min(sink.len()));
            let problem = match exported {
                Err(e) => Some(format!("export failed: {e}")),
                Ok(_) => check(&sent, &arrived, protocol, compression),
            };
            rows.push(DemoRow {
                signal,
                protocol: protocol.name(),
                compression,
                sent: sent.item_count(),
                received: arrived.iter().map(|r| r.request.item_count()).sum(),
                problem,
            });
        }
    }
    // The same receiver, fed through the SDK API: a client, a tracer and a small trace.
    let sdk_trace = if setup_error.is_none() {
        Some(sdk_trace(grpc, &sink, resource, timeout).await)
    } else {
        None
    };
    receiver.shutdown().await;

    summary::print_line(summary::demo_table(&rows).trim_end());
    if let Some(e) = setup_error {
        return Err(e);
    }
    let sdk_trace = sdk_trace.unwrap_or_else(|| Err("not run".to_owned()));
    match &sdk_trace {
        Ok(lines) => lines.iter().for_each(|line| summary::print_line(line)),
        Err(problem) => summary::print_line(&format!("sdk trace: {problem}")),
    }
    let failed = rows.iter().filter(|r| r.problem.is_some()).count();
    if failed > 0 {
        return Err(Failure::new(format!(
            "{failed} of {} exports did not arrive intact",
            rows.len()
        )));
    }
    if let Err(problem) = sdk_trace {
        return Err(Failure::new(format!(
            "the SDK trace, logs or metrics did not arrive intact: {problem}"
        )));
    }
    summary::print_line(&format!(
        "demo ok: {} signals x {} protocols arrived intact",
        Signal::ALL.len(),
        PROTOCOLS.len()
    ));
    Ok(())
}

/// The spans of the SDK trace: name and parent name (`None` for the root).
const SDK_SPANS: [(&str, Option<&str>); 4] = [
    ("GET /checkout", None),
    ("db.query", Some("GET /checkout")),
    ("payment.charge", Some("GET /checkout")),
    (crate::demo_profiles::PROFILED_SPAN, Some("GET /checkout")),
];

/// Sends a small trace through an [`OtlpClient`] (gRPC) to the receiver at `grpc`: a server
/// span with a database child and a failed child, and a log record and an event inside the
/// server span; then checks what arrived in `sink`. Gives the summary lines (trace, logs), or
/// what went wrong.
async fn sdk_trace(
    grpc: std::net::SocketAddr,
    sink: &MemorySink,
    resource: Resource,
    timeout: Duration,
) -> std::result::Result<Vec<String>, String> {
    // Every setting given: nothing is read from the environment.
    let config = ClientConfig::new()
        .with_exporter(
            ExporterConfig::new()
                .with_protocol(Protocol::Grpc)
                .with_endpoint(format!("http://{grpc}"))
                .with_timeout(timeout)
                .with_retry(RetryPolicy::disabled()),
        )
        .with_resource(resource)
        .with_resource_detection(false)
        .with_sampler(Sampler::AlwaysOn)
        .with_span_limits(SpanLimits::default())
        .with_traces_pipeline(AdaptiveBatchConfig::default())
        .with_logs_pipeline(AdaptiveBatchConfig::default())
        .with_metrics(
            MetricsConfig::new()
                .with_temporality(TemporalityPreference::Cumulative)
                .with_export_interval(None)
                .with_export_timeout(timeout)
                .with_cardinality_limit(Some(otlp::metrics::DEFAULT_CARDINALITY_LIMIT))
                .with_view(crate::demo_metrics::exponential_view()),
        )
        .with_self_metrics(false);
    let client = OtlpClient::new(config)
        .await
        .map_err(|e| format!("cannot create the client: {e}"))?;
    let before = sink.len();
    let tracer = client.tracer("otlp-demo");
    let mut server = tracer
        .span_builder(SDK_SPANS[0].0)
        .with_kind(SpanKind::Server)
        .with_attribute("http.request.method", "GET")
        .with_attribute("url.path", "/checkout")
        .start();
    {
        let _entered = server.enter();
        let mut db = tracer
            .span_builder(SDK_SPANS[1].0)
            .with_kind(SpanKind::Client)
            .with_attribute("db.system.name", "postgresql")
            .start();
        db.add_event("rows fetched", vec![KeyValue::new("rows", 3i64)]);
        db.end();
        let mut payment = tracer.start(SDK_SPANS[2].0);
        let error = std::io::Error::new(std::io::ErrorKind::TimedOut, "payment gateway timed out");
        payment.record_error(&error);
        payment.set_status(Status::error("payment failed"));
        payment.end();
        // Correlated with the server span, which is current here.
        let _ = client.send_log(
            LogBuilder::new()
                .with_severity(Severity::Warn)
                .with_body_map(serde_json::json!({
                    "msg": "payment failed, order kept for retry",
                    "cart": { "items": 3, "total": 59.9 },
                }))
                .with_attribute("payment.provider", "demo-pay")
                .build(),
        );
        let _ = client.send_event(
            EventBuilder::new(SDK_EVENT)
                .with_domain("ecommerce")
                .with_attribute("order.id", 1234i64)
                .build(),
        );
    }
    let profile = crate::demo_profiles::profile(&client, &tracer, server.span_context()).await?;
    server.set_attribute("http.response.status_code", 502i64);
    server.end();
    let recorded = crate::demo_metrics::record(&client);
    let flushed = client.force_flush(timeout).await;
    let _ = client.shutdown(timeout).await;
    flushed.map_err(|e| format!("flush failed: {e}"))?;

    let arrived = sink.requests().split_off(before.min(sink.len()));
    let mut spans: Vec<proto_trace::Span> = Vec::new();
    let mut records: Vec<LogRecord> = Vec::new();
    let mut metrics: Vec<otlp_proto::metrics::Metric> = Vec::new();
    let mut profiles = 0;
    for r in arrived {
        match r.request {
            Request::Traces(t) => spans.extend(
                t.resource_spans
                    .into_iter()
                    .flat_map(|rs| rs.scope_spans)
                    .flat_map(|ss| ss.spans),
            ),
            Request::Logs(l) => records.extend(
                l.resource_logs
                    .into_iter()
                    .flat_map(|rl| rl.scope_logs)
                    .flat_map(|sl| sl.log_records),
            ),
            Request::Metrics(m) => metrics.extend(
                m.resource_metrics
                    .into_iter()
                    .flat_map(|rm| rm.scope_metrics)
                    .flat_map(|sm| sm.metrics),
            ),
            Request::Profiles(p) => {
                profiles += p
                    .resource_profiles
                    .iter()
                    .flat_map(|rp| &rp.scope_profiles)
                    .map(|sp| sp.profiles.len())
                    .sum::<usize>();
            }
        }
    }
    check_sdk_trace(&spans)?;
    check_sdk_logs(&records, &spans)?;
    let metrics_line = crate::demo_metrics::check(&recorded, &metrics)?;
    let profile_lines = crate::demo_profiles::summary(&profile, profiles)?;
    let mut lines = vec![
        format!(
            "sdk trace: {} spans sent through OtlpClient over grpc, {} received, parent links ok",
            SDK_SPANS.len(),
            spans.len()
        ),
        format!(
            "sdk logs: 1 log and 1 event sent through OtlpClient over grpc, {} received, \
             correlated with {:?}",
            records.len(),
            SDK_SPANS[0].0
        ),
        metrics_line,
    ];
    lines.extend(profile_lines);
    Ok(lines)
}

/// The name of the demo's event.
const SDK_EVENT: &str = "order.created";

/// Whether `records` are the demo's log record and event, each once, and both correlated with
/// the server span.
fn check_sdk_logs(
    records: &[LogRecord],
    spans: &[proto_trace::Span],
) -> std::result::Result<(), String> {
    if records.len() != 2 {
        return Err(format!("{} log records arrived, expected 2", records.len()));
    }
    let server = spans
        .iter()
        .find(|s| s.name.as_str() == SDK_SPANS[0].0)
        .ok_or("no server span")?;
    let events = records.iter().filter(|r| r.event_name == SDK_EVENT).count();
    let warnings = records
        .iter()
        .filter(|r| r.severity_number == Severity::Warn.number() && r.event_name.is_empty())
        .count();
    if events != 1 || warnings != 1 {
        return Err(format!(
            "expected one WARN record and one {SDK_EVENT:?} event, got {warnings} and {events}"
        ));
    }
    if records
        .iter()
        .any(|r| r.trace_id != server.trace_id || r.span_id != server.span_id)
    {
        return Err(format!(
            "a log record is not correlated with {:?}",
            SDK_SPANS[0].0
        ));
    }
    Ok(())
}

/// Whether `spans` are the SDK trace: every span once, one trace, each parent link right and
/// the failed span an error with an exception event.
fn check_sdk_trace(spans: &[proto_trace::Span]) -> std::result::Result<(), String> {
    if spans.len() != SDK_SPANS.len() {
        return Err(format!(
            "{} spans arrived, expected {}",
            spans.len(),
            SDK_SPANS.len()
        ));
    }
    let find = |name: &str| {
        spans
            .iter()
            .find(|s| s.name.as_str() == name)
            .ok_or_else(|| format!("no span {name:?} arrived"))
    };
    let root = find(SDK_SPANS[0].0)?;
    for (name, parent) in SDK_SPANS {
        let span = find(name)?;
        if span.trace_id != root.trace_id {
            return Err(format!("{name:?} is in another trace"));
        }
        let expected = match parent {
            Some(parent) => find(parent)?.span_id.clone(),
            None => Default::default(),
        };
        if span.parent_span_id != expected {
            return Err(format!("{name:?} has the wrong parent"));
        }
    }
    let failed = find(SDK_SPANS[2].0)?;
    let is_error = failed
        .status
        .as_ref()
        .is_some_and(|s| s.code == StatusCode::Error as i32);
    if !is_error || !failed.events.iter().any(|e| e.name.as_str() == "exception") {
        return Err(format!(
            "{:?} is not an error with an exception event",
            SDK_SPANS[2].0
        ));
    }
    Ok(())
}

/// Prints the detected resource, one attribute a line, values cut at 72 characters.
fn print_resource(resource: &Resource) {
    summary::print_line(&format!(
        "resource: {} attributes detected",
        resource.attributes.len()
    ));
    for kv in &resource.attributes {
        let mut value = kv.value.as_ref().map_or_else(String::new, show);
        if value.chars().count() > 72 {
            value = value.chars().take(71).chain(['…']).collect();
        }
        summary::print_line(&format!("  {:<28} {value}", kv.key.as_str()));
    }
}

/// A value as text: strings bare, arrays bracketed.
fn show(value: &AnyValue) -> String {
    match &value.value {
        Some(Value::StringValue(s)) => s.as_str().to_owned(),
        Some(Value::IntValue(i)) => i.to_string(),
        Some(Value::DoubleValue(d)) => d.to_string(),
        Some(Value::BoolValue(b)) => b.to_string(),
        Some(Value::ArrayValue(a)) => {
            let items: Vec<String> = a.values.iter().map(show).collect();
            format!("[{}]", items.join(", "))
        }
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

/// What is wrong with the requests that arrived for one export of `sent`, if anything.
fn check(
    sent: &Request,
    arrived: &[Received],
    protocol: Protocol,
    compression: Compression,
) -> Option<String> {
    let [received] = arrived else {
        return Some(format!("{} requests arrived, expected 1", arrived.len()));
    };
    let transport = if protocol == Protocol::Grpc {
        Transport::Grpc
    } else {
        Transport::Http
    };
    let as_sent = (transport, protocol.encoding(), compression);
    let as_received = (received.transport, received.encoding, received.compression);
    if as_received != as_sent {
        return Some(format!(
            "arrived as {} {:?} {}, expected {} {:?} {}",
            as_received.0, as_received.1, as_received.2, as_sent.0, as_sent.1, as_sent.2
        ));
    }
    if received.request != *sent {
        return Some(format!(
            "arrived different from what was sent: {}",
            first_difference(&sent.to_json(), &received.request.to_json())
        ));
    }
    None
}

/// Where two OTLP/JSON texts first differ, with a little context.
fn first_difference(sent: &[u8], received: &[u8]) -> String {
    let at = sent
        .iter()
        .zip(received)
        .position(|(a, b)| a != b)
        .unwrap_or(sent.len().min(received.len()));
    let excerpt = |text: &[u8]| {
        let start = at.saturating_sub(20);
        let end = (at + 40).min(text.len());
        String::from_utf8_lossy(&text[start.min(end)..end]).into_owned()
    };
    format!(
        "OTLP/JSON differs at byte {at}: sent `{}`, received `{}`",
        excerpt(sent),
        excerpt(received)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn difference_is_located() {
        let d = first_difference(br#"{"name":"a"}"#, br#"{"name":"b"}"#);
        assert!(d.starts_with("OTLP/JSON differs at byte 9:"), "{d}");
        let d = first_difference(b"abc", b"abcdef");
        assert!(d.contains("byte 3"), "{d}");
    }
}
