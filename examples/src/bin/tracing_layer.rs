//! The `tracing` layer: an app instrumented with `tracing` only (`#[tracing::instrument]` on
//! async fns, `info!` / `warn!` events, `otel.kind` / `otel.status_code` fields), whose spans
//! become OTLP spans and whose events become log records correlated with them, through
//! `otlp_tracing::OtlpLayer` in a `tracing_subscriber` registry.
//!
//! It exports where `OTEL_EXPORTER_OTLP_ENDPOINT` says, or, when it is unset, to a receiver
//! started in-process, and then it prints the spans and log records that receiver got.
//!
//! ```text
//! cargo run -p examples --bin tracing_layer
//! ```

use examples::{BoxError, EmbeddedReceiver, TRACING_SCOPE, WAIT, client_for, hex, process_orders};
use otlp_tracing::OtlpLayer;
use std::io::Write as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let embedded = EmbeddedReceiver::unless_endpoint_set().await?;
    let endpoint = embedded.as_ref().map(|r| r.endpoint.as_str());
    let client = client_for("tracing-example", endpoint).await?;
    // Spans through client.tracer(TRACING_SCOPE), events through client.logger(TRACING_SCOPE).
    tracing_subscriber::registry()
        .with(OtlpLayer::from_client(&client, TRACING_SCOPE))
        .try_init()?;

    let outcome = process_orders().await?;
    // Shutdown flushes the spans and log records still queued.
    client.shutdown(WAIT).await?;

    let mut out = std::io::stdout().lock();
    for (order, accepted) in &outcome.orders {
        let verdict = if *accepted { "accepted" } else { "rejected" };
        writeln!(out, "order {order}: {verdict}")?;
    }
    if let Some(embedded) = embedded {
        let spans = embedded.spans();
        let records = embedded.log_records();
        writeln!(out, "{} spans, {} log records:", spans.len(), records.len())?;
        for (_, span) in &spans {
            writeln!(
                out,
                "  span {:<15} trace={} span={} parent={}",
                span.name.as_str(),
                hex(&span.trace_id),
                hex(&span.span_id),
                hex(&span.parent_span_id)
            )?;
        }
        for record in &records {
            let body = match record.body.as_ref().and_then(|b| b.value.as_ref()) {
                Some(otlp_proto::common::Value::StringValue(s)) => s.as_str().to_owned(),
                _ => String::new(),
            };
            writeln!(
                out,
                "  log  {:<5} {body:?} trace={} span={}",
                record.severity_text.as_str(),
                hex(&record.trace_id),
                hex(&record.span_id)
            )?;
        }
        embedded.receiver.shutdown().await;
    }
    Ok(())
}
