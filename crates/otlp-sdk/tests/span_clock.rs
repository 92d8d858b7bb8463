//! Span events and span start and end are stamped by the same clock: an event added right after
//! a span starts lies between its start and its end, to the nanosecond, over long enough for
//! the clock to re-anchor many times.

use otlp::pipeline::AdaptiveBatchConfig;
use otlp::{ClientConfig, ExporterConfig, OtlpClient, Protocol};
use otlp_proto::Request;
use otlp_receiver::Receiver;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_lie_between_start_and_end() {
    let (receiver, sink) = Receiver::start_in_memory().await.expect("receiver");
    let endpoint = format!("http://{}", receiver.http_addr().expect("http"));
    let client = OtlpClient::new(
        ClientConfig::new()
            .with_exporter(
                ExporterConfig::default()
                    .with_protocol(Protocol::HttpProtobuf)
                    .with_endpoint(endpoint),
            )
            .with_traces_pipeline(
                AdaptiveBatchConfig::default().with_scheduled_delay(Duration::from_millis(10)),
            ),
    )
    .await
    .expect("client");
    let tracer = client.tracer("clock");
    // From the process's first reading (before the rate is known) through many re-anchors.
    let start = Instant::now();
    let mut made = 0;
    while start.elapsed() < Duration::from_millis(300) {
        for _ in 0..100 {
            let mut span = tracer.start("span");
            span.add_event("right after start", Vec::new());
            span.end();
            made += 1;
        }
        // Leave the queue room.
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    client
        .force_flush(Duration::from_secs(20))
        .await
        .expect("flush");
    let mut checked = 0;
    for r in sink.requests() {
        let Request::Traces(t) = r.request else {
            continue;
        };
        for placed in t.spans() {
            let span = placed.item;
            let event = span.events[0].time_unix_nano;
            assert!(
                span.start_time_unix_nano <= event && event <= span.end_time_unix_nano,
                "event at {event} outside [{}, {}]",
                span.start_time_unix_nano,
                span.end_time_unix_nano
            );
            checked += 1;
        }
    }
    assert!(checked >= made / 2, "{checked} of {made} spans exported");
}
