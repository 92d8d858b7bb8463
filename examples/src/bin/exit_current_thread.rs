//! Exits without `shutdown()` from a current-thread runtime, through the global client
//! (`otlp::global`), which is shut down at process exit. Every span, log record and event must
//! still reach the collector (`tests/exit.rs`).

use otlp::logs::{EventBuilder, LogBuilder, LogSeverity};
use otlp::{ClientConfig, OtlpClient, OtlpError};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), OtlpError> {
    otlp::global::set_client(OtlpClient::new(ClientConfig::new()).await?);
    let tasks: Vec<_> = (0..5i64)
        .map(|i| {
            tokio::spawn(async move {
                otlp::global::tracer("exit").in_span("work", |span| {
                    span.set_attribute("i", i);
                });
            })
        })
        .collect();
    for t in tasks {
        let _ = t.await;
    }
    if let Some(client) = otlp::global::client() {
        for i in 0..3i64 {
            client
                .send_log(
                    LogBuilder::new()
                        .with_severity(LogSeverity::Warn)
                        .with_attribute("i", i)
                        .build(),
                )
                .await?;
        }
        for i in 0..2i64 {
            client
                .send_event(
                    EventBuilder::new("exit.event")
                        .with_attribute("i", i)
                        .build(),
                )
                .await?;
        }
    }
    Ok(())
}
