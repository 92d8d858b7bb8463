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

#![allow(clippy::print_stdout)]

use bench_support::{Row, our_span, print_rows_as};
use otlp::pipeline::AdaptiveBatchConfig;
use otlp::{ClientConfig, ExporterConfig, OtlpClient, Protocol};
use otlp_interop::{Collector, temp_dir};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(120);

/// Our client exporting with `protocol` to `addr`: the default adaptive pipeline, with a queue
/// large enough for a whole round, so that nothing is dropped and the figure is delivery's.
fn client(protocol: Protocol, addr: SocketAddr, queue: usize) -> OtlpClient {
    OtlpClient::new_blocking(
        ClientConfig::new()
            .with_exporter(
                ExporterConfig::new()
                    .with_protocol(protocol)
                    .with_endpoint(format!("http://{addr}"))
                    .with_timeout(Duration::from_secs(30)),
            )
            .with_resource(otlp_proto::resource::Resource {
                attributes: vec![otlp_proto::common::KeyValue::new("service.name", "bench")],
                ..otlp_proto::resource::Resource::default()
            })
            .with_resource_detection(false)
            .with_traces_pipeline(AdaptiveBatchConfig::default().with_max_queue_size(queue)),
    )
    .expect("our client")
}

/// Sends `n` spans through `client` and returns spans/s until it flushed; panics if any was
/// not exported.
fn round(client: &OtlpClient, n: u64) -> f64 {
    let tracer = client.tracer("bench");
    let before = client.stats();
    let t = Instant::now();
    for i in 0..n as i64 {
        our_span(&tracer, i);
    }
    client.force_flush_blocking(WAIT).expect("flushed");
    let elapsed = t.elapsed().as_secs_f64();
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
    let otap = client(Protocol::Otap, collector.arrow, n as usize);
    let grpc = client(Protocol::Grpc, collector.grpc, n as usize);

    // One unmeasured round each: connections, streams and the Collector's first allocations.
    round(&otap, n.min(10_000));
    round(&grpc, n.min(10_000));

    let mut row = Row::new("spans/s, acknowledged");
    for r in 0..rounds {
        // Alternating which goes first, so that neither always follows the other's garbage.
        if r % 2 == 0 {
            row.ours.push(round(&otap, n));
            row.theirs.push(round(&grpc, n));
        } else {
            row.theirs.push(round(&grpc, n));
            row.ours.push(round(&otap, n));
        }
    }
    print_rows_as(
        &format!(
            "End to end into the Collector (peercol, debug exporter): {n} spans from one thread \
             until flushed (median of {rounds} alternating rounds; ratio OTAP/gRPC)"
        ),
        "k/s",
        1e-3,
        &mut [row],
        true,
        ["OTAP", "gRPC"],
    );
    for (name, c) in [("OTAP", &otap), ("gRPC", &grpc)] {
        println!("{name}: {:?}", c.stats());
        let _ = c.shutdown_blocking(Duration::from_secs(10));
    }
}
