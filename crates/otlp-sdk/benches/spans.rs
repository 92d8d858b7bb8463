//! Spans through the whole SDK, ours against the incumbent (opentelemetry-rust 0.33), in the same
//! run, both exporting over loopback gRPC to the same in-process counting receiver.
//!
//! `cargo bench -p otlp-sdk --bench spans` prints:
//!
//! 1. the application thread's cost per span (start with 5 attributes, end) while the batch
//!    processor exports concurrently, sampled and not sampled (`AlwaysOff`);
//! 2. end-to-end throughput: N spans produced by one thread as fast as it can, timed until the
//!    receiver has counted every delivered span, with the incumbent's default queue (2,048, which
//!    drops) and with queues large enough to drop nothing.
//!
//! Figures are medians over interleaved rounds, so both sides see the same machine noise. The
//! receiver counts spans by walking the protobuf envelope without decoding them, so that the
//! figures are the exporters'.

#![allow(clippy::print_stdout)]

use bench_support::{
    Receiver, Row, incumbent_provider, incumbent_runtime, incumbent_span, our_client, our_span,
    print_rows,
};
use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use opentelemetry_sdk::trace::{Sampler as SdkSampler, SdkTracerProvider};
use otlp::OtlpClient;
use otlp::pipeline::AdaptiveBatchConfig;
use otlp::trace::{Sampler, Tracer};
use std::hint::black_box;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// The two SDKs
// ---------------------------------------------------------------------------------------------

/// Ours: an `OtlpClient` exporting over gRPC to the receiver.
fn ours(receiver: &Receiver, sampler: Sampler, queue: usize) -> (OtlpClient, Tracer) {
    let client = our_client(receiver, sampler, queue);
    let tracer = client.tracer("svc");
    (client, tracer)
}

/// The incumbent: see [`incumbent_provider`].
fn incumbent(
    receiver: &Receiver,
    rt: &tokio::runtime::Runtime,
    sampler: SdkSampler,
    queue: usize,
) -> (SdkTracerProvider, opentelemetry_sdk::trace::SdkTracer) {
    let provider = incumbent_provider(receiver, rt, sampler, queue);
    let tracer = provider.tracer("svc");
    (provider, tracer)
}

/// The same span, attributes set after start (the path where a non-recording span can skip them).
#[inline(never)]
fn our_span_set(tracer: &Tracer, i: i64) {
    let mut span = tracer.start("GET /api/users/{id}");
    span.set_attribute("http.request.method", "GET");
    span.set_attribute("http.response.status_code", i);
    span.set_attribute("sampling.ratio", 0.25f64);
    span.set_attribute("cache.hit", true);
    span.set_attribute("server.address", "api.example.com");
    span.end();
}

#[inline(never)]
fn incumbent_span_set(tracer: &opentelemetry_sdk::trace::SdkTracer, i: i64) {
    use opentelemetry::KeyValue as Kv;
    let mut span = tracer.start("GET /api/users/{id}");
    span.set_attribute(Kv::new("http.request.method", "GET"));
    span.set_attribute(Kv::new("http.response.status_code", i));
    span.set_attribute(Kv::new("sampling.ratio", 0.25f64));
    span.set_attribute(Kv::new("cache.hit", true));
    span.set_attribute(Kv::new("server.address", "api.example.com"));
    span.end();
}

// ---------------------------------------------------------------------------------------------
// Measurements
// ---------------------------------------------------------------------------------------------

fn main() {
    let quick = std::env::args().any(|a| a == "--test");
    let receiver = Receiver::start();
    let rt = incumbent_runtime();

    let n: u64 = if quick { 2_000 } else { 200_000 };
    let big = 4_000_000;
    let (our_on, our_tracer) = ours(&receiver, Sampler::AlwaysOn, big);
    let (our_default, our_default_tracer) = ours(
        &receiver,
        Sampler::AlwaysOn,
        AdaptiveBatchConfig::default().max_queue_size(),
    );
    let (our_off, our_off_tracer) = ours(&receiver, Sampler::AlwaysOff, big);
    let (inc_on, inc_tracer) = incumbent(&receiver, &rt, SdkSampler::AlwaysOn, big);
    let (inc_default, inc_default_tracer) = incumbent(&receiver, &rt, SdkSampler::AlwaysOn, 2048);
    let (inc_off, inc_off_tracer) = incumbent(&receiver, &rt, SdkSampler::AlwaysOff, big);

    let flush_ours = |c: &OtlpClient| {
        let _ = c.force_flush_blocking(Duration::from_secs(30));
    };
    let flush_inc = |p: &SdkTracerProvider| {
        let _ = p.force_flush();
    };

    // Warm-up: connections up, allocator warm.
    for i in 0..5_000 {
        our_span(&our_tracer, i);
        incumbent_span(&inc_tracer, i);
    }
    flush_ours(&our_on);
    flush_inc(&inc_on);
    receiver.settle(10_000);

    // 1. Application-thread cost per span, sampled, while the batch processor exports: a burst of
    // `burst` spans timed on the producing thread, then a flush (untimed) so each round starts
    // from an empty queue.
    let rounds = if quick { 2 } else { 15 };
    let burst: i64 = if quick { 1_000 } else { 50_000 };
    let mut sampled = Row::new("sampled, 5 attributes (builder)");
    let mut sampled_set = Row::new("sampled, 5 set_attribute");
    let mut lost = [0u64; 2];
    for _ in 0..rounds {
        let before = receiver.count();
        let t = Instant::now();
        for i in 0..burst {
            our_span(black_box(&our_tracer), i);
        }
        sampled.ours.push(t.elapsed().as_secs_f64() / burst as f64);
        let t = Instant::now();
        for i in 0..burst {
            our_span_set(black_box(&our_tracer), i);
        }
        sampled_set
            .ours
            .push(t.elapsed().as_secs_f64() / burst as f64);
        flush_ours(&our_on);
        let got = receiver.settle(before + 2 * burst as u64) - before;
        lost[0] += 2 * burst as u64 - got;

        let before = receiver.count();
        let t = Instant::now();
        for i in 0..burst {
            incumbent_span(black_box(&inc_tracer), i);
        }
        sampled
            .theirs
            .push(t.elapsed().as_secs_f64() / burst as f64);
        let t = Instant::now();
        for i in 0..burst {
            incumbent_span_set(black_box(&inc_tracer), i);
        }
        sampled_set
            .theirs
            .push(t.elapsed().as_secs_f64() / burst as f64);
        flush_inc(&inc_on);
        let got = receiver.settle(before + 2 * burst as u64) - before;
        lost[1] += 2 * burst as u64 - got;
    }

    // Not sampled (AlwaysOff): nothing is queued, so time a fixed number of spans.
    let unsampled_n: i64 = if quick { 1_000 } else { 1_000_000 };
    let mut off = Row::new("not sampled, 5 attributes (builder)");
    let mut off_set = Row::new("not sampled, 5 set_attribute");
    for _ in 0..rounds {
        let t = Instant::now();
        for i in 0..unsampled_n {
            our_span(black_box(&our_off_tracer), i);
        }
        off.ours
            .push(t.elapsed().as_secs_f64() / unsampled_n as f64);
        let t = Instant::now();
        for i in 0..unsampled_n {
            incumbent_span(black_box(&inc_off_tracer), i);
        }
        off.theirs
            .push(t.elapsed().as_secs_f64() / unsampled_n as f64);
        let t = Instant::now();
        for i in 0..unsampled_n {
            our_span_set(black_box(&our_off_tracer), i);
        }
        off_set
            .ours
            .push(t.elapsed().as_secs_f64() / unsampled_n as f64);
        let t = Instant::now();
        for i in 0..unsampled_n {
            incumbent_span_set(black_box(&inc_off_tracer), i);
        }
        off_set
            .theirs
            .push(t.elapsed().as_secs_f64() / unsampled_n as f64);
    }

    print_rows(
        &format!(
            "Application-thread time per span (median of {rounds} interleaved rounds; \
             sampled: bursts of {burst} spans while exporting)"
        ),
        "ns",
        1e9,
        &mut [sampled, sampled_set, off, off_set],
        false,
    );
    println!(
        "spans not delivered during the sampled rounds: ours {}, incumbent {}",
        lost[0], lost[1]
    );

    // 2. End to end: `n` spans from one thread as fast as it can, timed until the receiver has
    // counted every delivered span (flush returns after the last export's response).
    let e2e_rounds = if quick { 1 } else { 3 };
    let mut big_row = Row::new("queue large enough (no drops)");
    let mut default_row = Row::new("default queue (10,000 / 2,048)");
    let mut delivered = [[0u64; 2]; 2]; // [big, default][ours, incumbent], last round
    let run = |produce: &dyn Fn(i64), flush: &dyn Fn()| receiver.delivered_rate(n, produce, flush);
    for _ in 0..e2e_rounds {
        let (rate, got) = run(&|i| our_span(&our_tracer, i), &|| flush_ours(&our_on));
        big_row.ours.push(rate);
        delivered[0][0] = got;
        let (rate, got) = run(&|i| incumbent_span(&inc_tracer, i), &|| flush_inc(&inc_on));
        big_row.theirs.push(rate);
        delivered[0][1] = got;
        let (rate, got) = run(&|i| our_span(&our_default_tracer, i), &|| {
            flush_ours(&our_default)
        });
        default_row.ours.push(rate);
        delivered[1][0] = got;
        let (rate, got) = run(&|i| incumbent_span(&inc_default_tracer, i), &|| {
            flush_inc(&inc_default)
        });
        default_row.theirs.push(rate);
        delivered[1][1] = got;
    }
    print_rows(
        &format!(
            "End to end: {n} spans from one thread until counted by the receiver \
             (delivered spans/s, median of {e2e_rounds} rounds)"
        ),
        "k/s",
        1e-3,
        &mut [big_row, default_row],
        true,
    );
    println!(
        "delivered of {n} (last round): no-drop queue: ours {}, incumbent {}; \
         default queue: ours {}, incumbent {}",
        delivered[0][0], delivered[0][1], delivered[1][0], delivered[1][1]
    );
    for (name, c) in [("sampled", &our_on), ("default queue", &our_default)] {
        println!("ours ({name}): {:?}", c.stats());
    }

    for c in [&our_on, &our_default, &our_off] {
        let _ = c.shutdown_blocking(Duration::from_secs(10));
    }
    for p in [&inc_on, &inc_default, &inc_off] {
        let _ = p.shutdown();
    }
}
