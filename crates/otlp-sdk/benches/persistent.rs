//! What the persistent queue costs end to end: spans from one thread as fast as it can, timed
//! until the receiver has counted every one, through ours in memory, ours with a persistent
//! queue (synced every second, the default, and after every batch), and the incumbent
//! (opentelemetry-rust 0.33, which has no persistent queue) in the same run, all over loopback
//! gRPC to one in-process counting receiver.
//!
//! `cargo bench -p otlp-sdk --bench persistent`. Queues are large enough to drop nothing.
//! Figures are medians over interleaved rounds; the ratio is ours / incumbent (higher is
//! better). The application thread's cost per span does not change with the persistent queue
//! (batches are written by the pipeline's worker): see the `spans` benchmark for it.

#![allow(clippy::print_stdout)]

use bench_support::{
    Receiver, Row, incumbent_provider, incumbent_runtime, incumbent_span, our_client_with,
    our_span, print_rows,
};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::Sampler as SdkSampler;
use otlp::pipeline::{AdaptiveBatchConfig, Fsync, PersistentQueue};
use otlp::trace::Sampler;
use std::time::Duration;

fn main() {
    let quick = std::env::args().any(|a| a == "--test");
    let receiver = Receiver::start();
    let rt = incumbent_runtime();
    let n: u64 = if quick { 2_000 } else { 200_000 };
    let rounds = if quick { 1 } else { 5 };
    let big = 4_000_000;
    let dir = std::env::temp_dir().join(format!("otlp-bench-persistent-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);

    let pipeline = || AdaptiveBatchConfig::default().with_max_queue_size(big);
    let queue = |name: &str, fsync: Fsync| {
        PersistentQueue::new(dir.join(name))
            .with_max_bytes(4 << 30)
            .with_fsync(fsync)
    };
    let memory = our_client_with(&receiver, Sampler::AlwaysOn, pipeline());
    let interval = our_client_with(
        &receiver,
        Sampler::AlwaysOn,
        pipeline().with_persistent_queue(queue("interval", Fsync::default())),
    );
    let every = our_client_with(
        &receiver,
        Sampler::AlwaysOn,
        pipeline().with_persistent_queue(queue("every", Fsync::EveryBatch)),
    );
    let incumbent = incumbent_provider(&receiver, &rt, SdkSampler::AlwaysOn, big);
    let inc_tracer = incumbent.tracer("svc");
    let ours = [
        ("in memory", &memory),
        ("persistent queue, fsync every 1 s", &interval),
        ("persistent queue, fsync every batch", &every),
    ];
    let tracers: Vec<_> = ours.iter().map(|(_, c)| c.tracer("svc")).collect();

    let run =
        |produce: &dyn Fn(i64), flush: &dyn Fn()| receiver.delivered_rate(n, produce, flush).0;
    // Warm-up: connections up, files created.
    for (tracer, (_, client)) in tracers.iter().zip(&ours) {
        for i in 0..5_000 {
            our_span(tracer, i);
        }
        let _ = client.force_flush_blocking(Duration::from_secs(30));
    }
    receiver.settle(15_000);

    let mut rows: Vec<Row> = ours.iter().map(|(name, _)| Row::new(name)).collect();
    for _ in 0..rounds {
        for ((tracer, (_, client)), row) in tracers.iter().zip(&ours).zip(rows.iter_mut()) {
            let rate = run(&|i| our_span(tracer, i), &|| {
                let _ = client.force_flush_blocking(Duration::from_secs(60));
            });
            row.ours.push(rate);
        }
        let rate = run(&|i| incumbent_span(&inc_tracer, i), &|| {
            let _ = incumbent.force_flush();
        });
        for row in &mut rows {
            row.theirs.push(rate);
        }
    }
    print_rows(
        &format!(
            "End to end: {n} spans from one thread until counted by the receiver \
             (delivered spans/s, median of {rounds} rounds)"
        ),
        "k/s",
        1e-3,
        &mut rows,
        true,
    );
    for (name, client) in &ours {
        let s = client.stats();
        println!(
            "ours ({name}): exported {}, dropped {}, stored now {} ({} bytes)",
            s.exported,
            s.dropped.total(),
            s.stored,
            s.stored_bytes
        );
        let _ = client.shutdown_blocking(Duration::from_secs(10));
    }
    let _ = incumbent.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
}
