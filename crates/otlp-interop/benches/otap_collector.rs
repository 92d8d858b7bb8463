//! End-to-end throughput into the real Collector (`peercol`): the same spans through our
//! `OtlpClient` with `Protocol::Otap` to its `otelarrowreceiver` and with `Protocol::Grpc` to its
//! OTLP receiver (issue 16: OTAP's figure should be at least gRPC's), in alternating rounds
//! against one Collector whose pipelines end in the debug exporter only, so that the figures are
//! the two transports' (ours and the Collector's receiving side) and not a file's.
//!
//! `cargo bench -p otlp-interop --bench otap_collector` prints, per protocol, the median over
//! the rounds of N spans (start with 5 attributes, end: `bench_support::our_span`) from one
//! thread, timed until `force_flush` returned, that is until the Collector acknowledged every
//! batch; and the OTAP/gRPC ratio. Each client keeps its connection (and OTAP its stream)
//! across rounds, as a long-running process does. Every round checks that nothing was dropped.
//!
//! Four clients: OTAP with its messages uncompressed (compression `none` configured: zstd IPC
//! bodies), OTAP with gRPC zstd compression (plain IPC bodies; OTAP's default when no
//! compression is configured), and OTLP/gRPC without and with zstd;
//! OTAP is compared with gRPC of the same message compression.
//!
//! Where the time goes: the CPU time per span of this process (SDK and exporter) and of the
//! Collector over the same rounds (`/proc/<pid>/stat`). Then, on the exporting side, steps
//! of a batch of 1,000 such spans, each timed alone (median of many): otlp-otap's encoding of
//! the request on a stream already past its first batch (a pipeline's stream encodes its span
//! records through the same tables), and reading a protobuf body back into a request (what a
//! direct export's body costs a stream; a gRPC export sends the body as it is).

#![allow(clippy::print_stdout)]

use bench_support::{Row, median, our_span, print_rows_as};
use bytes::Bytes;
use otlp::pipeline::AdaptiveBatchConfig;
use otlp::{ClientConfig, Compression, ExporterConfig, OtlpClient, Protocol};
use otlp_interop::{Collector, temp_dir};
use otlp_otap::TracesEncoder;
use otlp_proto::collector::ExportTraceServiceRequest;
use otlp_proto::common::{InstrumentationScope, KeyValue};
use otlp_proto::resource::Resource;
use otlp_proto::trace::{ResourceSpans, ScopeSpans, Span};
use otlp_proto::{Encoding, Message, Request, Signal};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(120);

/// The resource of every span: `service.name` only.
fn resource() -> Resource {
    Resource {
        attributes: vec![KeyValue::new("service.name", "bench")],
        ..Resource::default()
    }
}

/// A batch of `n` spans as [`our_span`] records them, the request the pipeline exports.
fn batch(n: u64) -> ExportTraceServiceRequest {
    let spans = (0..n)
        .map(|i| Span {
            trace_id: Bytes::copy_from_slice(
                &(u128::from(i + 1) * 0x9e37_79b9_7f4a_7c15).to_be_bytes(),
            ),
            span_id: Bytes::copy_from_slice(&((i + 1) * 0x9e37_79b9).to_be_bytes()),
            name: "GET /api/users/{id}".into(),
            kind: 1,
            start_time_unix_nano: 1_700_000_000_000_000_000 + i * 1_000,
            end_time_unix_nano: 1_700_000_000_000_000_000 + i * 1_000 + 500,
            attributes: vec![
                KeyValue::new("http.request.method", "GET"),
                KeyValue::new("http.response.status_code", i as i64),
                KeyValue::new("sampling.ratio", 0.25f64),
                KeyValue::new("cache.hit", true),
                KeyValue::new("server.address", "api.example.com"),
            ],
            ..Span::default()
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(resource()),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "bench".into(),
                    ..InstrumentationScope::default()
                }),
                spans,
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    }
}

/// The median time of `f` over `runs` runs, in microseconds.
fn micros(runs: usize, mut f: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    median(&mut times)
}

/// Prints the time of each step of a 1,000-span batch on an OTAP stream.
fn otap_steps(runs: usize) {
    let request = batch(1_000);
    let body = request.encode_to_bytes();
    let mut encoder = TracesEncoder::new();
    encoder.encode(&request).expect("encodes");
    let steps = [
        (
            "direct export: body -> request",
            micros(runs, || {
                std::hint::black_box(
                    Request::decode(Signal::Traces, Encoding::Protobuf, &body).expect("decodes"),
                );
            }),
        ),
        (
            "request -> OTAP batch (zstd IPC)",
            micros(runs, || {
                std::hint::black_box(encoder.encode(&request).expect("encodes"));
            }),
        ),
        (
            "for scale: request -> protobuf",
            micros(runs, || {
                std::hint::black_box(request.encode_to_bytes());
            }),
        ),
    ];
    println!("\nSteps per batch of 1,000 spans on the exporting side (median of {runs})");
    for (step, us) in steps {
        println!(
            "{step:<34} {us:>8.0} us  ({:.0} ns/span)",
            us * 1e3 / 1_000.0
        );
    }
}

/// Our client exporting with `protocol` (and `compression`, if any) to `addr`: the default adaptive pipeline, with a queue
/// large enough for a whole round, so that nothing is dropped and the figure is delivery's.
fn client(
    protocol: Protocol,
    compression: Option<Compression>,
    addr: SocketAddr,
    queue: usize,
) -> OtlpClient {
    let mut exporter = ExporterConfig::new()
        .with_protocol(protocol)
        .with_endpoint(format!("http://{addr}"))
        .with_timeout(Duration::from_secs(30));
    if let Some(c) = compression {
        exporter = exporter.with_compression(c);
    }
    OtlpClient::new_blocking(
        ClientConfig::new()
            .with_exporter(exporter)
            .with_resource(resource())
            .with_resource_detection(false)
            .with_traces_pipeline(AdaptiveBatchConfig::default().with_max_queue_size(queue)),
    )
    .expect("our client")
}

/// CPU time (user and system) that process `pid` (`self` for this one) used so far, from
/// `/proc/<pid>/stat`, in seconds at Linux's usual 100 ticks a second; zero where unreadable.
fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name (which is in parentheses and may hold spaces): state is
    // the first, utime the 12th, stime the 13th.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// One protocol's figures, one entry per round.
#[derive(Default)]
struct Cpu {
    /// Our process's CPU per span, in seconds.
    ours: Vec<f64>,
    /// The Collector's CPU per span, in seconds.
    collector: Vec<f64>,
}

/// Sends `n` spans through `client` and returns spans/s until it flushed, recording in `cpu` the
/// CPU time per span of this process and of the Collector (`pid`); panics if any span was not
/// exported.
fn round(client: &OtlpClient, n: u64, pid: &str, cpu: &mut Cpu) -> f64 {
    let tracer = client.tracer("bench");
    let before = client.stats();
    let (ours, collector) = (cpu_seconds("self"), cpu_seconds(pid));
    let t = Instant::now();
    for i in 0..n as i64 {
        our_span(&tracer, i);
    }
    client.force_flush_blocking(WAIT).expect("flushed");
    let elapsed = t.elapsed().as_secs_f64();
    cpu.ours.push((cpu_seconds("self") - ours) / n as f64);
    cpu.collector
        .push((cpu_seconds(pid) - collector) / n as f64);
    let after = client.stats();
    assert_eq!(
        (
            after.exported - before.exported,
            after.dropped.total() - before.dropped.total()
        ),
        (n, 0),
        "every span exported, none dropped: {after:?}"
    );
    n as f64 / elapsed
}

fn main() {
    let quick = std::env::args().any(|a| a == "--test");
    let n: u64 = if quick { 2_000 } else { 200_000 };
    let rounds = if quick { 1 } else { 5 };

    let dir = temp_dir("otap-bench");
    let collector = Collector::start_sink(&dir);
    // OTAP with its messages uncompressed (`none` configured: zstd IPC bodies), OTAP with
    // gRPC zstd (plain IPC bodies; the default with no compression configured, as the Go
    // exporter's), and OTLP/gRPC without and with zstd.
    let zstd = Some(Compression::Zstd);
    let clients = [
        (
            "OTAP",
            client(
                Protocol::Otap,
                Some(Compression::None),
                collector.arrow,
                n as usize,
            ),
        ),
        (
            "OTAP, gRPC zstd",
            client(Protocol::Otap, zstd, collector.arrow, n as usize),
        ),
        (
            "gRPC",
            client(Protocol::Grpc, None, collector.grpc, n as usize),
        ),
        (
            "gRPC, zstd",
            client(Protocol::Grpc, zstd, collector.grpc, n as usize),
        ),
    ];

    let pid = collector.pid().expect("the Collector runs").to_string();

    // One unmeasured round each: connections, streams and the Collector's first allocations.
    for (_, c) in &clients {
        round(c, n.min(10_000), &pid, &mut Cpu::default());
    }

    let mut rates: [Vec<f64>; 4] = Default::default();
    let mut cpu: [Cpu; 4] = Default::default();
    for r in 0..rounds {
        // Rotating which goes first, so that none always follows another's garbage.
        for k in 0..clients.len() {
            let i = (r + k) % clients.len();
            rates[i].push(round(&clients[i].1, n, &pid, &mut cpu[i]));
        }
    }
    let [otap, otap_zstd, grpc, grpc_zstd] = rates;
    let [otap_cpu, otap_zstd_cpu, grpc_cpu, grpc_zstd_cpu] = cpu;
    print_rows_as(
        &format!(
            "End to end into the Collector (peercol, debug exporter): {n} spans from one thread \
             until flushed (median of {rounds} rotating rounds; ratio OTAP/gRPC)"
        ),
        "k/s",
        1e-3,
        &mut [
            Row {
                name: "spans/s, uncompressed messages",
                ours: otap,
                theirs: grpc,
            },
            Row {
                name: "spans/s, zstd messages",
                ours: otap_zstd,
                theirs: grpc_zstd,
            },
        ],
        true,
        ["OTAP", "gRPC"],
    );
    let mut cpu_rows = [
        Row {
            name: "CPU/span, this process",
            ours: otap_cpu.ours,
            theirs: grpc_cpu.ours,
        },
        Row {
            name: "CPU/span, this process, zstd",
            ours: otap_zstd_cpu.ours,
            theirs: grpc_zstd_cpu.ours,
        },
        Row {
            name: "CPU/span, the Collector",
            ours: otap_cpu.collector,
            theirs: grpc_cpu.collector,
        },
        Row {
            name: "CPU/span, the Collector, zstd",
            ours: otap_zstd_cpu.collector,
            theirs: grpc_zstd_cpu.collector,
        },
    ];
    print_rows_as(
        "Where the time goes: CPU time per span over the same rounds (ratio gRPC/OTAP)",
        "ns",
        1e9,
        &mut cpu_rows,
        false,
        ["OTAP", "gRPC"],
    );
    for (name, c) in &clients {
        println!("{name}: {:?}", c.stats());
        let _ = c.shutdown_blocking(Duration::from_secs(10));
    }
    otap_steps(if quick { 3 } else { 200 });
}
