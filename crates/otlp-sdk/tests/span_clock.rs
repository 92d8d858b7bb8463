//! Span events and span start and end are stamped by the same clock: an event added right after
//! a span starts lies between its start and its end, to the nanosecond, over long enough for
//! the clock to re-anchor many times.

use std::time::{Duration, Instant};
use test_support::client::Harness;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_lie_between_start_and_end() {
    let h = Harness::builder()
        .scheduled_delay(Duration::from_millis(10))
        .start(|config| config)
        .await;
    let client = &h.client;
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
    let mut checked = 0;
    for placed in h.spans().await {
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
    assert!(checked >= made / 2, "{checked} of {made} spans exported");
}
