//! The pipeline's cost on the application thread: `Pipeline::enqueue` from 1 and 2 threads while
//! the worker drains the queue concurrently.
//!
//! `cargo bench -p otlp --bench enqueue`. The exporter is disabled (exports succeed without I/O)
//! so that only the queue and the worker's batching are measured. `payload/N` enqueues a 64-byte
//! item from N threads at once (wall time per item per thread); `span/1` a realistic span (5
//! attributes) whose construction is excluded with `iter_batched`. The comparison with the
//! incumbent needs the span API (issue #5) and is not here yet.

use criterion::{BatchSize, Criterion, Throughput};
use otlp::pipeline::{AdaptiveBatchConfig, BatchEncoder, Pipeline, PipelineItem, SpanEncoder};
use otlp::{EncodedBody, Encoding, Exporter, ExporterConfig, Signal};
use otlp_proto::common::KeyValue;
use otlp_proto::trace::Span;
use std::hint::black_box;
use std::time::{Duration, Instant};

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

/// Waits until the worker has exported everything, so that each sample starts from an empty queue.
fn drain<T: PipelineItem>(pipeline: &Pipeline<T>) {
    let _ = pipeline.force_flush_blocking(Duration::from_secs(60));
}

fn enqueue(c: &mut Criterion) {
    let mut group = c.benchmark_group("enqueue");
    group
        .throughput(Throughput::Elements(1))
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30);

    for threads in [1u64, 2] {
        let pipeline = Pipeline::new(exporter(), Nothing, config()).expect("pipeline");
        group.bench_function(format!("payload/{threads}"), |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                std::thread::scope(|s| {
                    for t in 0..threads {
                        let p = &pipeline;
                        let _ = s.spawn(move || {
                            for i in 0..iters {
                                let _ = black_box(p.enqueue(Item([i ^ t; 8])));
                            }
                        });
                    }
                });
                let elapsed = start.elapsed();
                drain(&pipeline);
                elapsed
            });
        });
        let s = pipeline.stats();
        assert!(s.is_consistent() && s.dropped.total() == 0, "{s:?}");
    }

    let pipeline = Pipeline::new(exporter(), SpanEncoder::default(), config()).expect("pipeline");
    group.bench_function("span/1", |b| {
        b.iter_batched(
            || span(1),
            |s| black_box(pipeline.enqueue(s)),
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

criterion::criterion_group!(benches, enqueue);
criterion::criterion_main!(benches);
