//! Quickstart: a client configured from the `OTEL_*` environment variables, one span, shutdown.
//!
//! ```text
//! OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4317 OTEL_SERVICE_NAME=quickstart \
//!     cargo run -p examples --bin quickstart
//! ```

use otlp::{ClientConfig, OtlpClient};
use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), otlp::Error> {
    // Everything not set in the config (exporter, sampler, limits, resource) comes from the
    // environment; a malformed variable is an error naming it.
    let client = OtlpClient::new(ClientConfig::new()).await?;
    let tracer = client.tracer("quickstart");
    tracer.in_span("hello", |span| {
        span.set_attribute("greeting", "hello, world");
    });
    // Shutdown flushes what is queued.
    client.shutdown(Duration::from_secs(10)).await
}
