//! `tracing` spans through our [`OtlpLayer`] against the incumbent, `tracing-opentelemetry`'s
//! layer over opentelemetry-rust 0.33 (`BatchSpanProcessor` + `opentelemetry-otlp` over tonic),
//! in the same run, both exporting over loopback gRPC to the same in-process counting receiver
//! ([`bench_support::Receiver`]).
//!
//! `cargo bench -p otlp-tracing --bench layer` prints the application thread's time per
//! `tracing` span — created with 5 fields (string, i64, f64, bool, string), entered, exited and
//! closed — while the batch processor exports concurrently, sampled (`AlwaysOn`) and not sampled
//! (`AlwaysOff`): medians over interleaved rounds, with the ratio incumbent/ours (above 1: ours
//! is faster). `-- --test` runs a few small rounds, to check that the benchmark works.

#![allow(clippy::print_stdout)]

use bench_support::{Receiver, Row, incumbent_provider, incumbent_runtime, our_client, print_rows};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{Sampler as SdkSampler, SdkTracerProvider};
use otlp::OtlpClient;
use otlp::trace::Sampler;
use otlp_tracing::OtlpLayer;
use std::hint::black_box;
use std::time::{Duration, Instant};
use tracing::Dispatch;
use tracing_subscriber::layer::SubscriberExt as _;

/// Ours: a registry with an [`OtlpLayer`] over an `OtlpClient` exporting over gRPC.
fn ours(receiver: &Receiver, sampler: Sampler, queue: usize) -> (OtlpClient, Dispatch) {
    let client = our_client(receiver, sampler, queue);
    let layer = OtlpLayer::new(client.tracer("svc"));
    let dispatch = Dispatch::new(tracing_subscriber::registry().with(layer));
    (client, dispatch)
}

/// The incumbent: a registry with `tracing_opentelemetry`'s layer over the provider of
/// [`incumbent_provider`].
fn incumbent(
    receiver: &Receiver,
    rt: &tokio::runtime::Runtime,
    sampler: SdkSampler,
    queue: usize,
) -> (SdkTracerProvider, Dispatch) {
    let provider = incumbent_provider(receiver, rt, sampler, queue);
    let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("svc"));
    let dispatch = Dispatch::new(tracing_subscriber::registry().with(layer));
    (provider, dispatch)
}

/// One `tracing` span with 5 fields, entered, exited and closed.
#[inline(never)]
fn span(i: i64) {
    let span = tracing::info_span!(
        "GET /api/users/{id}",
        http.request.method = "GET",
        http.response.status_code = i,
        sampling.ratio = 0.25f64,
        cache.hit = true,
        server.address = "api.example.com",
    );
    let entered = span.enter();
    black_box(&entered);
    drop(entered);
    drop(span);
}

/// Seconds per span for `n` spans under `dispatch`.
fn burst(dispatch: &Dispatch, n: i64) -> f64 {
    tracing::dispatcher::with_default(dispatch, || {
        let t = Instant::now();
        for i in 0..n {
            span(black_box(i));
        }
        t.elapsed().as_secs_f64() / n as f64
    })
}

fn main() {
    let quick = std::env::args().any(|a| a == "--test");
    let receiver = Receiver::start();
    let rt = incumbent_runtime();

    let big = 4_000_000;
    let (our_on, our_on_dispatch) = ours(&receiver, Sampler::AlwaysOn, big);
    let (our_off, our_off_dispatch) = ours(&receiver, Sampler::AlwaysOff, big);
    let (inc_on, inc_on_dispatch) = incumbent(&receiver, &rt, SdkSampler::AlwaysOn, big);
    let (inc_off, inc_off_dispatch) = incumbent(&receiver, &rt, SdkSampler::AlwaysOff, big);
    let flush_ours = |c: &OtlpClient| {
        let _ = c.force_flush_blocking(Duration::from_secs(30));
    };
    let flush_inc = |p: &SdkTracerProvider| {
        let _ = p.force_flush();
    };

    // Warm-up: connections up, allocator and thread-locals warm; every span must arrive.
    let warm = if quick { 500 } else { 5_000 };
    let _ = burst(&our_on_dispatch, warm);
    let _ = burst(&inc_on_dispatch, warm);
    flush_ours(&our_on);
    flush_inc(&inc_on);
    let warmed = receiver.settle(2 * warm as u64);
    assert_eq!(
        warmed,
        2 * warm as u64,
        "both layers deliver every warm-up span"
    );

    // Sampled: bursts timed on the producing thread while the processors export, each followed
    // by an untimed flush so that every round starts from an empty queue.
    let rounds = if quick { 2 } else { 15 };
    let n: i64 = if quick { 1_000 } else { 50_000 };
    let mut sampled = Row::new("sampled, 5 fields, enter+close");
    let mut lost = [0u64; 2];
    for _ in 0..rounds {
        let before = receiver.count();
        sampled.ours.push(burst(&our_on_dispatch, n));
        flush_ours(&our_on);
        lost[0] += n as u64 - (receiver.settle(before + n as u64) - before);

        let before = receiver.count();
        sampled.theirs.push(burst(&inc_on_dispatch, n));
        flush_inc(&inc_on);
        lost[1] += n as u64 - (receiver.settle(before + n as u64) - before);
    }

    // Not sampled: nothing is queued, so time a fixed number of spans.
    let off_n: i64 = if quick { 1_000 } else { 500_000 };
    let mut off = Row::new("not sampled, 5 fields, enter+close");
    for _ in 0..rounds {
        off.ours.push(burst(&our_off_dispatch, off_n));
        off.theirs.push(burst(&inc_off_dispatch, off_n));
    }

    print_rows(
        &format!(
            "Application-thread time per tracing span (median of {rounds} interleaved rounds; \
             sampled: bursts of {n} spans while exporting)"
        ),
        "ns",
        1e9,
        &mut [sampled, off],
        false,
    );
    println!(
        "spans not delivered during the sampled rounds: ours {}, incumbent {}",
        lost[0], lost[1]
    );
    println!("ours (sampled): {:?}", our_on.stats());

    for c in [&our_on, &our_off] {
        let _ = c.shutdown_blocking(Duration::from_secs(10));
    }
    for p in [&inc_on, &inc_off] {
        let _ = p.shutdown();
    }
}
