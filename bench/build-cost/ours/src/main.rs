//! One span through `otlp::init()` and the `tracing` layer.

fn main() -> Result<(), otlp::InitError> {
    let _guard = otlp::init()?;
    tracing::info_span!("hello").in_scope(|| tracing::info!("world"));
    Ok(())
}
