//! One span through the incumbent's OTLP exporter and `tracing-opentelemetry`.

use opentelemetry::trace::TracerProvider as _;
use tracing_subscriber::layer::SubscriberExt;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .build()?;
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .build();
    let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("hello"));
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer))?;
    tracing::info_span!("hello").in_scope(|| tracing::info!("world"));
    provider.shutdown()?;
    Ok(())
}
