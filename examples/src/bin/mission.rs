//! The program a new user writes from the mission's examples: a client from the environment, a
//! span with attributes, a structured log and an event correlated with the span, each send
//! checked with `?`.
//!
//! ```text
//! OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 OTEL_SERVICE_NAME=shop \
//!     cargo run -p examples --bin mission
//! ```
//!
//! No `shutdown()` at the end: dropping the client exports what it queued (within the export
//! timeout). `tests/mission.rs` runs it against an in-process receiver.

use otlp::logs::{EventBuilder, LogBuilder, LogSeverity};
use otlp::{ClientConfig, OtlpClient, OtlpError};
use serde_json::json;

#[tokio::main]
async fn main() -> Result<(), OtlpError> {
    let config = ClientConfig::new();
    let client = OtlpClient::new(config).await?;

    let mut span = client
        .tracer("svc")
        .span_builder("op")
        .with_attribute("order.id", 1234i64)
        .start();
    span.set_attribute("order.total", 99.5);

    client
        .send_log(
            LogBuilder::new()
                .with_severity(LogSeverity::Info)
                .with_body_map(json!({ "message": "order placed", "order_id": 1234, "items": 3 }))
                .build(),
        )
        .await?;

    let trace_id = span.span_context().trace_id().to_bytes();
    let span_id = span.span_context().span_id().to_bytes();
    client
        .send_event(
            EventBuilder::new("order.created")
                .with_domain("ecommerce")
                .with_attribute("order.id", 1234i64)
                .with_trace_context(trace_id, span_id)
                .build(),
        )
        .await?;

    span.end();
    Ok(())
}
