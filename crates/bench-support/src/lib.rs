//! Dev-only helpers for the workspace's benchmarks (never published).
//!
//! - [`Receiver`]: an OTLP/gRPC trace service on loopback that counts the spans it receives by
//!   walking the protobuf envelope without decoding them, so that a benchmark's figures are the
//!   exporters' and not the receiver's. Both our SDK and the incumbent export to it.
//! - [`Receiver::settle`]: waits until a count is reached or stops moving.
//! - [`Row`] and [`print_rows`]: medians over interleaved rounds and the incumbent/ours ratio.
//! - [`our_client`], [`incumbent_provider`], [`our_span`]: the two SDKs and the span, configured
//!   alike for every benchmark.

#![allow(clippy::print_stdout)]

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::convert::Infallible;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Reads one varint at `*pos`; `None` when truncated.
fn varint(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*pos)?;
        *pos += 1;
        value |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Some(value);
        }
    }
    None
}

/// Calls `f(field, payload)` for every length-delimited field of the message `buf`, skipping the
/// others. `None` when the message is malformed.
fn for_each_len_field(buf: &[u8], mut f: impl FnMut(u64, &[u8]) -> Option<()>) -> Option<()> {
    let mut pos = 0;
    while pos < buf.len() {
        let key = varint(buf, &mut pos)?;
        match key & 7 {
            0 => {
                varint(buf, &mut pos)?;
            }
            1 => pos += 8,
            5 => pos += 4,
            2 => {
                let len = usize::try_from(varint(buf, &mut pos)?).ok()?;
                let payload = buf.get(pos..pos.checked_add(len)?)?;
                pos += len;
                f(key >> 3, payload)?;
            }
            _ => return None,
        }
    }
    (pos == buf.len()).then_some(())
}

/// Spans in an `ExportTraceServiceRequest`: resource_spans(1) -> scope_spans(2) -> spans(2),
/// counted without decoding the spans.
pub fn count_spans(request: &[u8]) -> Option<u64> {
    let mut n = 0;
    for_each_len_field(request, |field, resource_spans| {
        if field != 1 {
            return Some(());
        }
        for_each_len_field(resource_spans, |field, scope_spans| {
            if field != 2 {
                return Some(());
            }
            for_each_len_field(scope_spans, |field, _span| {
                n += u64::from(field == 2);
                Some(())
            })
        })
    })?;
    Some(n)
}

/// Spans in a gRPC request body (one or more length-prefixed messages, uncompressed).
pub fn count_grpc_body(body: &[u8]) -> Option<u64> {
    let mut n = 0;
    let mut rest = body;
    while !rest.is_empty() {
        let header = rest.get(..5)?;
        if header[0] != 0 {
            return None; // compressed: both clients are configured without compression
        }
        let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
        let message = rest.get(5..5 + len)?;
        n += count_spans(message)?;
        rest = &rest[5 + len..];
    }
    Some(n)
}

/// A gRPC trace service on loopback that counts spans.
pub struct Receiver {
    addr: SocketAddr,
    spans: Arc<AtomicU64>,
    _runtime: tokio::runtime::Runtime,
}

impl Receiver {
    /// Starts the receiver on a free loopback port, on a one-thread runtime of its own.
    pub fn start() -> Receiver {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("receiver")
            .enable_all()
            .build()
            .expect("receiver runtime");
        let spans = Arc::new(AtomicU64::new(0));
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let counter = Arc::clone(&spans);
        runtime.spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                let counter = Arc::clone(&counter);
                tokio::spawn(async move {
                    let service =
                        hyper::service::service_fn(move |req| handle(req, Arc::clone(&counter)));
                    let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Receiver {
            addr,
            spans,
            _runtime: runtime,
        }
    }

    /// `http://127.0.0.1:<port>`, for the exporters' endpoint.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The spans counted so far.
    pub fn count(&self) -> u64 {
        self.spans.load(Ordering::Relaxed)
    }
}

type ResponseBody = http_body_util::combinators::WithTrailers<
    Full<Bytes>,
    std::future::Ready<Option<Result<http::HeaderMap, Infallible>>>,
>;

async fn handle(
    req: Request<Incoming>,
    counter: Arc<AtomicU64>,
) -> Result<Response<ResponseBody>, hyper::Error> {
    let body = req.into_body().collect().await?.to_bytes();
    let status = match count_grpc_body(&body) {
        Some(n) => {
            counter.fetch_add(n, Ordering::Relaxed);
            "0"
        }
        None => "13", // INTERNAL: malformed request
    };
    let mut trailers = http::HeaderMap::new();
    trailers.insert("grpc-status", http::HeaderValue::from_static(status));
    // An empty ExportTraceServiceResponse: the 5-byte frame header and no fields.
    let body = Full::new(Bytes::from_static(&[0, 0, 0, 0, 0]))
        .with_trailers(std::future::ready(Some(Ok(trailers))));
    let response = Response::builder()
        .header("content-type", "application/grpc")
        .body(body)
        .expect("response");
    Ok(response)
}

impl fmt::Debug for Receiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("addr", &self.addr)
            .field("spans", &self.count())
            .finish_non_exhaustive()
    }
}

impl Receiver {
    /// Waits until the count reaches `target` or stops moving for 300 ms (30 s at most);
    /// returns the count.
    pub fn settle(&self, target: u64) -> u64 {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut last = self.count();
        let mut still = Instant::now();
        loop {
            let now = self.count();
            if now >= target || Instant::now() > deadline {
                return now;
            }
            if now != last {
                last = now;
                still = Instant::now();
            } else if still.elapsed() > Duration::from_millis(300) {
                return now;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    }

    /// End to end: runs `produce` for `0..n` as fast as it can, then `flush`, and waits until
    /// the receiver has counted them ([`settle`](Receiver::settle)); returns the delivered
    /// items per second over the whole time, and how many were delivered.
    pub fn delivered_rate(&self, n: u64, produce: &dyn Fn(i64), flush: &dyn Fn()) -> (f64, u64) {
        let before = self.count();
        let t = Instant::now();
        for i in 0..n as i64 {
            produce(i);
        }
        flush();
        let got = self.settle(before + n) - before;
        (got as f64 / t.elapsed().as_secs_f64(), got)
    }
}

/// The median of `v` (sorting it).
pub fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// One measurement: the per-round figures of ours and of the incumbent.
#[derive(Debug, Clone, Default)]
pub struct Row {
    /// What is measured.
    pub name: &'static str,
    /// Our figure, one per round.
    pub ours: Vec<f64>,
    /// The incumbent's figure, one per round.
    pub theirs: Vec<f64>,
}

impl Row {
    /// An empty row.
    pub fn new(name: &'static str) -> Row {
        Row {
            name,
            ..Row::default()
        }
    }
}

/// Prints each row's medians (times `scale`, in `unit`) with the min and max, and the ratio
/// incumbent/ours (`ours/incumbent` when `higher_is_better`, so that above 1 is always ours
/// ahead).
pub fn print_rows(title: &str, unit: &str, scale: f64, rows: &mut [Row], higher_is_better: bool) {
    print_rows_as(
        title,
        unit,
        scale,
        rows,
        higher_is_better,
        ["ours", "incumbent"],
    );
}

/// [`print_rows`] for two contenders other than ours and the incumbent: `labels` names the
/// [`Row::ours`] and [`Row::theirs`] columns, in that order.
pub fn print_rows_as(
    title: &str,
    unit: &str,
    scale: f64,
    rows: &mut [Row],
    higher_is_better: bool,
    labels: [&str; 2],
) {
    println!("\n{title}");
    println!(
        "{:<34} {:>22} {:>22} {:>8}",
        "measurement",
        format!("{} [min, max]", labels[0]),
        format!("{} [min, max]", labels[1]),
        "ratio"
    );
    for r in rows.iter_mut() {
        if r.ours.is_empty() || r.theirs.is_empty() {
            continue;
        }
        let o = median(&mut r.ours);
        let t = median(&mut r.theirs);
        let (olo, ohi) = (r.ours[0], r.ours[r.ours.len() - 1]);
        let (tlo, thi) = (r.theirs[0], r.theirs[r.theirs.len() - 1]);
        let ratio = if higher_is_better { o / t } else { t / o };
        println!(
            "{:<34} {:>8.1} {unit} [{:.0}, {:.0}] {:>8.1} {unit} [{:.0}, {:.0}] {:>7.2}x",
            r.name,
            o * scale,
            olo * scale,
            ohi * scale,
            t * scale,
            tlo * scale,
            thi * scale,
            ratio
        );
    }
}

/// Our SDK as both benchmarks configure it: an `OtlpClient` exporting over gRPC to `receiver`,
/// with a one-attribute resource (`service.name = bench`, no detection, as the incumbent's),
/// `sampler`, and the default adaptive batching with a queue of `queue`.
pub fn our_client(
    receiver: &Receiver,
    sampler: otlp::trace::Sampler,
    queue: usize,
) -> otlp::OtlpClient {
    our_client_with(
        receiver,
        sampler,
        otlp::pipeline::AdaptiveBatchConfig::default().with_max_queue_size(queue),
    )
}

/// [`our_client`] with the traces pipeline configured by `pipeline`.
pub fn our_client_with(
    receiver: &Receiver,
    sampler: otlp::trace::Sampler,
    pipeline: otlp::pipeline::AdaptiveBatchConfig,
) -> otlp::OtlpClient {
    use otlp::{ClientConfig, ExporterConfig, OtlpClient, Protocol};
    OtlpClient::new_blocking(
        ClientConfig::new()
            .with_exporter(
                ExporterConfig::default()
                    .with_protocol(Protocol::Grpc)
                    .with_endpoint(receiver.endpoint())
                    .with_timeout(Duration::from_secs(10)),
            )
            .with_resource(otlp_proto::resource::Resource {
                attributes: vec![otlp_proto::common::KeyValue::new("service.name", "bench")],
                ..otlp_proto::resource::Resource::default()
            })
            .with_resource_detection(false)
            .with_sampler(sampler)
            .with_traces_pipeline(pipeline),
    )
    .expect("our client")
}

/// The span both span benchmarks (and the profiling harness) time: start with 5 attributes
/// (static keys; string, i64, f64, bool, string), end.
#[inline(never)]
pub fn our_span(tracer: &otlp::trace::Tracer, i: i64) {
    let mut span = tracer
        .span_builder("GET /api/users/{id}")
        .with_attribute("http.request.method", "GET")
        .with_attribute("http.response.status_code", i)
        .with_attribute("sampling.ratio", 0.25f64)
        .with_attribute("cache.hit", true)
        .with_attribute("server.address", "api.example.com")
        .start();
    span.end();
}

/// The incumbent's form of [`our_span`]: the same span the way the issue describes it (start
/// with 5 attributes, end), through its idiomatic API.
#[inline(never)]
pub fn incumbent_span(tracer: &opentelemetry_sdk::trace::SdkTracer, i: i64) {
    use opentelemetry::KeyValue as Kv;
    use opentelemetry::trace::{Span as _, Tracer as _};
    let mut span = tracer
        .span_builder("GET /api/users/{id}")
        .with_attributes([
            Kv::new("http.request.method", "GET"),
            Kv::new("http.response.status_code", i),
            Kv::new("sampling.ratio", 0.25f64),
            Kv::new("cache.hit", true),
            Kv::new("server.address", "api.example.com"),
        ])
        .start(tracer);
    span.end();
}

/// The runtime the incumbent's tonic channel lives on (one worker thread, `incumbent-tonic`),
/// for [`incumbent_provider`].
pub fn incumbent_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("incumbent-tonic")
        .enable_all()
        .build()
        .expect("runtime")
}

/// The incumbent as both benchmarks configure it: an `SdkTracerProvider` with a
/// `BatchSpanProcessor` (batch 512, its own thread, queue of `queue`) and
/// `opentelemetry_otlp::SpanExporter` over tonic to `receiver`, built inside `rt` (tonic's
/// channel needs it); resource `service.name = bench`.
pub fn incumbent_provider(
    receiver: &Receiver,
    rt: &tokio::runtime::Runtime,
    sampler: opentelemetry_sdk::trace::Sampler,
    queue: usize,
) -> opentelemetry_sdk::trace::SdkTracerProvider {
    use opentelemetry_otlp::WithExportConfig as _;
    use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider};
    let _guard = rt.enter();
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(receiver.endpoint())
        .with_timeout(Duration::from_secs(10))
        .build()
        .expect("incumbent exporter");
    let processor = BatchSpanProcessor::builder(exporter)
        .with_batch_config(
            BatchConfigBuilder::default()
                .with_max_export_batch_size(512)
                .with_max_queue_size(queue)
                .build(),
        )
        .build();
    SdkTracerProvider::builder()
        .with_span_processor(processor)
        .with_sampler(sampler)
        .with_resource(
            opentelemetry_sdk::Resource::builder_empty()
                .with_service_name("bench")
                .build(),
        )
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_spans_in_grpc_frames() {
        // ExportTraceServiceRequest { resource_spans: [{ scope_spans: [{ spans: [{}, {}] }] }] }
        let scope_spans = [0x12, 0x00, 0x12, 0x00];
        let mut resource_spans = vec![0x12, scope_spans.len() as u8];
        resource_spans.extend(scope_spans);
        let mut request = vec![0x0a, resource_spans.len() as u8];
        request.extend(&resource_spans);
        assert_eq!(count_spans(&request), Some(2));
        let mut body = vec![0, 0, 0, 0, request.len() as u8];
        body.extend(&request);
        body.extend_from_within(..);
        assert_eq!(count_grpc_body(&body), Some(4));
        assert_eq!(count_grpc_body(&body[..body.len() - 1]), None);
        assert_eq!(count_grpc_body(&[1, 0, 0, 0, 0]), None);
    }

    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 3.0);
    }
}
