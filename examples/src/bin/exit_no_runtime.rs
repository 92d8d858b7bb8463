//! Exits without `shutdown()` and without any async runtime: a client in `main` and one per
//! thread. Every span, log record and event must still reach the collector (`tests/exit.rs`).

use otlp::logs::{EventBuilder, LogBuilder, LogSeverity};
use otlp::{ClientConfig, OtlpClient, OtlpError};

/// `spans` spans, `logs` log records and one event through `client`.
fn work(client: &OtlpClient, spans: i64, logs: i64) -> Result<(), OtlpError> {
    let tracer = client.tracer("exit");
    for i in 0..spans {
        tracer.in_span("work", |span| span.set_attribute("i", i));
    }
    for i in 0..logs {
        client
            .send_log(
                LogBuilder::new()
                    .with_severity(LogSeverity::Debug)
                    .with_attribute("i", i)
                    .build(),
            )
            .into_result()?;
    }
    client
        .send_event(EventBuilder::new("exit.event").build())
        .into_result()
}

fn main() -> Result<(), OtlpError> {
    let client = OtlpClient::new_blocking(ClientConfig::new())?;
    let threads: Vec<_> = (0..2)
        .map(|_| {
            std::thread::spawn(|| -> Result<(), OtlpError> {
                let client = OtlpClient::new_blocking(ClientConfig::new())?;
                work(&client, 2, 2)
            })
        })
        .collect();
    for t in threads {
        if let Ok(result) = t.join() {
            result?;
        }
    }
    work(&client, 2, 1)
}
