//! Manual spans: a tree of spans with attributes, events and status.
//!
//! Exports where `OTEL_EXPORTER_OTLP_ENDPOINT` says, or, when it is unset, to a receiver started
//! in-process, and then prints what that receiver got.
//!
//! ```text
//! cargo run -p examples --bin manual_spans
//! ```

use examples::{BoxError, EmbeddedReceiver, WAIT, client_for};
use otlp::trace::{SpanKind, Status};
use otlp_proto::common::KeyValue;
use std::io::Write as _;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let embedded = EmbeddedReceiver::unless_endpoint_set().await?;
    let client = client_for(
        "manual-spans",
        embedded.as_ref().map(|r| r.endpoint.as_str()),
    )
    .await?;
    let tracer = client.tracer("manual_spans");

    // A root span, with attributes given at start.
    let mut job = tracer
        .span_builder("nightly-report")
        .with_kind(SpanKind::Internal)
        .with_attribute("report.kind", "sales")
        .start();
    {
        // Spans started while `job` is entered take it as parent.
        let _entered = job.enter();
        let mut load = tracer.start("load");
        load.set_attribute("rows", 1200i64);
        load.add_event("cache miss", vec![KeyValue::new("table", "orders")]);
        load.end();

        // Or give the parent explicitly; a failed step records its error.
        let mut render = tracer
            .span_builder("render")
            .with_parent(job.span_context())
            .start();
        let error = std::io::Error::other("template not found");
        render.record_error(&error);
        render.set_status(Status::error("render failed"));
        render.end();
    }
    job.set_status(Status::Ok);
    job.end();
    client.shutdown(WAIT).await?;

    if let Some(embedded) = embedded {
        let mut out = std::io::stdout().lock();
        for (service, span) in embedded.spans() {
            writeln!(
                out,
                "{service}: {} ({} attributes, {} events)",
                span.name.as_str(),
                span.attributes.len(),
                span.events.len()
            )?;
        }
        embedded.receiver.shutdown().await;
    }
    Ok(())
}
