//! Exits without `shutdown()` from a multi-thread runtime, with a client per task: two tasks
//! that finish, and one still pending when `main` returns (dropped by the runtime's shutdown).
//! Every span, log record and event must still reach the collector (`tests/exit.rs`).
//!
//! Sends 7 spans and 8 log records (5 logs, 3 events).

use otlp::logs::{EventBuilder, LogBuilder, LogSeverity};
use otlp::{ClientConfig, OtlpClient, OtlpError};

/// One task's work: `spans` spans, `logs` log records and one event, through its own client.
async fn work(task: i64, spans: i64, logs: i64) -> Result<OtlpClient, OtlpError> {
    let client = OtlpClient::new(ClientConfig::new()).await?;
    let tracer = client.tracer("exit");
    for i in 0..spans {
        let mut span = tracer
            .span_builder("work")
            .with_attribute("task", task)
            .start();
        span.set_attribute("i", i);
        span.end();
    }
    for i in 0..logs {
        client
            .send_log(
                LogBuilder::new()
                    .with_severity(LogSeverity::Info)
                    .with_attribute("task", task)
                    .with_attribute("i", i)
                    .build(),
            )
            .await?;
    }
    client
        .send_event(
            EventBuilder::new("task.done")
                .with_attribute("task", task)
                .build(),
        )
        .await?;
    Ok(client)
}

#[tokio::main]
async fn main() -> Result<(), OtlpError> {
    let (sent, pending_ready) = tokio::sync::oneshot::channel();
    // Never finishes: the runtime drops it, and its client, when `main` returns.
    tokio::spawn(async move {
        let client = work(0, 1, 1).await;
        let _ = sent.send(());
        std::future::pending::<()>().await;
        drop(client);
    });
    let tasks: Vec<_> = (1..=2)
        .map(|t| tokio::spawn(async move { work(t, 3, 2).await.map(drop) }))
        .collect();
    for t in tasks {
        if let Ok(result) = t.await {
            result?;
        }
    }
    let _ = pending_ready.await;
    Ok(())
}
