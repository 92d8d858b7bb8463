//! The pipeline's cost on the application thread: `Pipeline::enqueue` from 1 and 2 threads while
//! the worker drains the queue concurrently, against the incumbent's `BatchSpanProcessor::on_end`
//! (opentelemetry_sdk 0.33) in the same run.
//!
//! `cargo bench -p otlp-sdk --bench enqueue`. Exporters do nothing (ours disabled, the incumbent's a
//! no-op `SpanExporter`), so that only the hand-off to the batch processor and its batching are
//! measured. `payload/N` enqueues a 64-byte item from N threads at once (wall time per item per
//! thread). `span/N` hands over a finished span with 5 attributes from N threads: ours an OTLP
//! `Span` message to `Pipeline::enqueue`, the incumbent a `SpanData` to `on_end`, each built
//! outside the timed loop. Both queues are deep enough never to drop. At the end the benchmark
//! prints the medians of both and the ratio (incumbent / ours).

#![allow(clippy::print_stdout)]

use bench_support::{Row, print_rows};
use criterion::{Criterion, Throughput};
use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, SpanData, SpanEvents, SpanExporter, SpanLinks,
    SpanProcessor,
};
use otlp::pipeline::{AdaptiveBatchConfig, BatchEncoder, Pipeline, PipelineItem, SpanEncoder};
use otlp::{EncodedBody, Encoding, Exporter, ExporterConfig, Signal};
use otlp_proto::common::KeyValue;
use otlp_proto::trace::Span;
use std::cell::RefCell;
use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime};

/// A plain 64-byte item: the queue's cost without the item's.
struct Item([u64; 8]);

impl PipelineItem for Item {
    fn encoded_size_hint(&self) -> usize {
        std::mem::size_of_val(&self.0)
    }
}

/// Encodes nothing: the benchmark is about the application thread.
struct Nothing;

impl BatchEncoder<Item> for Nothing {
    const SIGNAL: Signal = Signal::Traces;

    fn encode(&mut self, _batch: &mut Vec<Item>, _encoding: Encoding) -> EncodedBody {
        EncodedBody::protobuf(bytes::Bytes::new())
    }
}

fn config() -> AdaptiveBatchConfig {
    // A queue deep enough that the producers never fill it: this measures the accepted path.
    AdaptiveBatchConfig::default()
        .with_max_queue_size(4_000_000)
        .with_max_batch_size(4096)
}

fn exporter() -> Exporter {
    Exporter::new(ExporterConfig::default().with_disabled(true)).expect("exporter")
}

fn span(i: u64) -> Span {
    Span {
        trace_id: vec![7; 16].into(),
        span_id: i.to_be_bytes().to_vec().into(),
        name: "GET /api/users/{id}".into(),
        kind: 2,
        start_time_unix_nano: 1_700_000_000_000_000_000 + i,
        end_time_unix_nano: 1_700_000_000_000_100_000 + i,
        attributes: vec![
            KeyValue::new("http.request.method", "GET"),
            KeyValue::new("http.route", "/api/users/{id}"),
            KeyValue::new("http.response.status_code", 200i64),
            KeyValue::new("server.address", "api.example.com"),
            KeyValue::new("user_agent.original", "bench/1.0"),
        ],
        ..Span::default()
    }
}

/// The incumbent's span for the same hand-off.
fn span_data(i: u64) -> SpanData {
    use opentelemetry::KeyValue as Kv;
    let now = SystemTime::now();
    SpanData {
        span_context: SpanContext::new(
            TraceId::from_bytes([7; 16]),
            SpanId::from_bytes(i.max(1).to_be_bytes()),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        ),
        parent_span_id: SpanId::INVALID,
        parent_span_is_remote: false,
        span_kind: SpanKind::Server,
        name: "GET /api/users/{id}".into(),
        start_time: now,
        end_time: now,
        attributes: vec![
            Kv::new("http.request.method", "GET"),
            Kv::new("http.route", "/api/users/{id}"),
            Kv::new("http.response.status_code", 200i64),
            Kv::new("server.address", "api.example.com"),
            Kv::new("user_agent.original", "bench/1.0"),
        ],
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status: Status::Unset,
        instrumentation_scope: opentelemetry::InstrumentationScope::builder("bench").build(),
    }
}

/// The incumbent's exporter, doing nothing.
#[derive(Debug)]
struct NoopExporter;

impl SpanExporter for NoopExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        drop(black_box(batch));
        Ok(())
    }
}

fn incumbent_processor() -> BatchSpanProcessor {
    BatchSpanProcessor::builder(NoopExporter)
        .with_batch_config(
            BatchConfigBuilder::default()
                .with_max_export_batch_size(512)
                .with_max_queue_size(4_000_000)
                .build(),
        )
        .build()
}

/// Waits until the worker has exported everything, so that each sample starts from an empty queue.
fn drain<T: PipelineItem>(pipeline: &Pipeline<T>) {
    let _ = pipeline.force_flush_blocking(Duration::from_secs(60));
}

/// Times `threads` threads each handing over `iters` items with `hand`, built beforehand with
/// `make` (in rounds of at most [`ROUND`] items, to bound memory); returns the wall time (per
/// item per thread is that over `iters`).
fn timed<I: Send>(
    threads: u64,
    iters: u64,
    make: impl Fn(u64) -> I + Sync,
    hand: impl Fn(I) + Sync,
) -> Duration {
    let mut total = Duration::ZERO;
    let mut done = 0;
    while done < iters {
        let n = (iters - done).min(ROUND);
        let prepared: Vec<Vec<I>> = (0..threads)
            .map(|t| (done..done + n).map(|i| make(i ^ (t << 32))).collect())
            .collect();
        let start = Instant::now();
        std::thread::scope(|s| {
            for items in prepared {
                let hand = &hand;
                let _ = s.spawn(move || {
                    for item in items {
                        hand(item);
                    }
                });
            }
        });
        total += start.elapsed();
        done += n;
    }
    total
}

/// Items per thread built ahead of one timed round.
const ROUND: u64 = 50_000;

fn enqueue(c: &mut Criterion) {
    let mut group = c.benchmark_group("enqueue");
    group
        .throughput(Throughput::Elements(1))
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30);
    // Per-item times of every sample, for the ratio printed at the end.
    let rows = RefCell::new(Vec::<Row>::new());
    let record = |name: &'static str, ours: bool, elapsed: Duration, iters: u64| {
        // Criterion's first warm-up calls time a handful of items, thread start-up included.
        if iters < 1_000 {
            return;
        }
        let mut rows = rows.borrow_mut();
        let i = match rows.iter().position(|r| r.name == name) {
            Some(i) => i,
            None => {
                rows.push(Row::new(name));
                rows.len() - 1
            }
        };
        let per_item = elapsed.as_secs_f64() / iters.max(1) as f64;
        if ours {
            rows[i].ours.push(per_item);
        } else {
            rows[i].theirs.push(per_item);
        }
    };

    for threads in [1u64, 2] {
        let pipeline = Pipeline::new(exporter(), Nothing, config()).expect("pipeline");
        group.bench_function(format!("payload/{threads}"), |b| {
            b.iter_custom(|iters| {
                let elapsed = timed(
                    threads,
                    iters,
                    |i| Item([i; 8]),
                    |item| {
                        let _ = black_box(pipeline.enqueue(item));
                    },
                );
                drain(&pipeline);
                elapsed
            });
        });
        let s = pipeline.stats();
        assert!(s.is_consistent() && s.dropped.total() == 0, "{s:?}");
    }

    for threads in [1u64, 2] {
        let name: &'static str = if threads == 1 {
            "span, 1 thread"
        } else {
            "span, 2 threads"
        };
        let pipeline =
            Pipeline::new(exporter(), SpanEncoder::default(), config()).expect("pipeline");
        group.bench_function(format!("span/{threads}/ours"), |b| {
            b.iter_custom(|iters| {
                let elapsed = timed(threads, iters, span, |s| {
                    let _ = black_box(pipeline.enqueue(s));
                });
                drain(&pipeline);
                record(name, true, elapsed, iters);
                elapsed
            });
        });
        let s = pipeline.stats();
        assert!(s.is_consistent() && s.dropped.total() == 0, "{s:?}");

        let processor = incumbent_processor();
        group.bench_function(format!("span/{threads}/incumbent"), |b| {
            b.iter_custom(|iters| {
                let elapsed = timed(threads, iters, span_data, |s| processor.on_end(s));
                let _ = processor.force_flush();
                record(name, false, elapsed, iters);
                elapsed
            });
        });
        let _ = processor.shutdown();
    }
    group.finish();
    print_rows(
        "Hand-off of a finished span to the batch processor (median of criterion's samples)",
        "ns",
        1e9,
        &mut rows.borrow_mut(),
        false,
    );
}

criterion::criterion_group!(benches, enqueue);
criterion::criterion_main!(benches);
