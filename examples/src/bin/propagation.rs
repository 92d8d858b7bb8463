//! Propagation: two HTTP services on loopback. The frontend calls the backend, injecting
//! `traceparent` and `baggage`; the backend extracts them and continues the trace.
//!
//! Both export where `OTEL_EXPORTER_OTLP_ENDPOINT` says, or, when it is unset, to a receiver
//! started in-process, and then it prints the spans that receiver got.
//!
//! ```text
//! cargo run -p examples --bin propagation
//! ```

use examples::{BoxError, EmbeddedReceiver, WAIT, client_for, hex, run_propagation};
use std::io::Write as _;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let embedded = EmbeddedReceiver::unless_endpoint_set().await?;
    let endpoint = embedded.as_ref().map(|r| r.endpoint.as_str());
    let frontend = client_for("frontend", endpoint).await?;
    let backend = client_for("backend", endpoint).await?;
    let outcome = run_propagation(&frontend, &backend).await?;
    frontend.shutdown(WAIT).await?;
    backend.shutdown(WAIT).await?;

    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "trace {}: frontend span {} -> backend span {} (backend saw tenant={:?})",
        outcome.client_span.trace_id(),
        outcome.client_span.span_id(),
        outcome.server_span.span_id(),
        outcome.tenant_seen_by_backend
    )?;
    if let Some(embedded) = embedded {
        for (service, span) in embedded.spans() {
            writeln!(
                out,
                "  {service:<9} {:<15} trace={} span={} parent={}",
                span.name.as_str(),
                hex(&span.trace_id),
                hex(&span.span_id),
                hex(&span.parent_span_id)
            )?;
        }
        embedded.receiver.shutdown().await;
    }
    Ok(())
}
