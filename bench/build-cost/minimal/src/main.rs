//! One span through the SDK's own API.

fn main() -> Result<(), otlp::Error> {
    let client = otlp::OtlpClient::new_blocking(otlp::ClientConfig::new())?;
    client.tracer("hello").in_span("hello", |span| span.set_attribute("world", true));
    client.shutdown_blocking(std::time::Duration::from_secs(5))
}
