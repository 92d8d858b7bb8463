//! The profiler through its public API only: `ProfileCollector` start/stop and its errors, the
//! CPU split between two functions read from the symbolized profile, samples linked to the
//! span they ran under, the export through a client to a receiver, and the continuous mode
//! (through the client's profiles pipeline, flushed at the stop, async and blocking).

use otlp_profiler::{ContinuousProfiler, Kind, ProfileCollector, ProfileConfig, ProfileType};
use otlp_receiver::{MemorySink, Receiver, RunningReceiver, ScriptedSink};
use otlp_sdk::otlp_proto::Request;
use otlp_sdk::otlp_proto::Signal;
use otlp_sdk::{ClientConfig, OtlpClient, Protocol};
use std::hint::black_box;
use std::time::{Duration, Instant};
use test_support::client::{WAIT, exporter_config, receiver_for};

/// Burns about `ms` milliseconds of this thread's CPU.
fn spin(ms: u64, seed: u64) -> u64 {
    let start = thread_cpu();
    let mut x = seed | 1;
    while thread_cpu() - start < Duration::from_millis(ms) {
        for i in 0..10_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x = x.wrapping_add(i);
        }
    }
    black_box(x)
}

/// One CPU sampler per process: the tests take turns.
fn turn() -> std::sync::MutexGuard<'static, ()> {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    TURN.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[allow(unsafe_code)]
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `clock_gettime` writes only the `timespec` it is given, alive for the call.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

#[inline(never)]
fn busy_three_quarters(ms: u64) -> u64 {
    black_box(spin(ms, 3))
}

#[inline(never)]
fn busy_one_quarter(ms: u64) -> u64 {
    black_box(spin(ms, 5))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

fn cpu(hz: u32) -> ProfileConfig {
    ProfileConfig::new()
        .with_profile_type(ProfileType::Cpu)
        .with_sampling_frequency(hz)
}

#[test]
fn bad_configurations_and_calls_are_errors_naming_the_problem() {
    let _turn = turn();
    let e = ProfileCollector::new_blocking(cpu(0)).unwrap_err();
    assert_eq!(e.kind(), Kind::Config);
    assert!(e.to_string().contains("frequency 0 Hz"), "{e}");
    let e = ProfileCollector::new_blocking(ProfileConfig::new().with_sampling_rate(0)).unwrap_err();
    assert!(e.to_string().contains("sampling rate 0"), "{e}");

    let collector = ProfileCollector::new_blocking(cpu(100)).unwrap();
    let e = collector.stop_blocking().unwrap_err();
    assert_eq!(e.kind(), Kind::State);
    assert!(e.to_string().contains("not started"), "{e}");
    collector.start_blocking().unwrap();
    let e = collector.start_blocking().unwrap_err();
    assert!(e.to_string().contains("started already"), "{e}");
    collector.stop_blocking().unwrap();
    let e = collector.stop_blocking().unwrap_err();
    assert!(e.to_string().contains("stopped already"), "{e}");
}

#[test]
fn heap_profiles_without_the_sampling_allocator_are_refused_by_name() {
    let collector =
        ProfileCollector::new_blocking(ProfileConfig::new().with_profile_type(ProfileType::Heap))
            .unwrap();
    let e = collector.start_blocking().unwrap_err();
    assert_eq!(e.kind(), Kind::Unsupported);
    assert!(e.to_string().contains("SamplingAllocator"), "{e}");
}

#[test]
fn the_cpu_split_between_two_functions_is_measured() {
    let _turn = turn();
    let collector = ProfileCollector::new_blocking(cpu(1000)).unwrap();
    collector.start_blocking().unwrap();
    std::thread::scope(|s| {
        s.spawn(|| busy_three_quarters(900));
        s.spawn(|| busy_one_quarter(300));
    });
    let profile = collector.stop_blocking().unwrap();
    let top = profile.top_functions(ProfileType::Cpu, 50);
    let share = |name: &str| -> f64 {
        top.iter()
            .filter(|f| f.name.contains(name))
            .map(|f| f.total_value as f64)
            .fold(0.0, f64::max)
    };
    let (a, b) = (share("busy_three_quarters"), share("busy_one_quarter"));
    assert!(a > 0.0 && b > 0.0, "both functions sampled: {top:?}");
    let a_share = 100.0 * a / (a + b);
    assert!(
        (70.0..=80.0).contains(&a_share),
        "75/25 expected, measured {a_share:.1}/{:.1}: {top:?}",
        100.0 - a_share
    );
}

#[test]
fn samples_in_a_span_carry_its_ids_and_others_none() {
    let _turn = turn();
    let client = OtlpClient::new_blocking(
        ClientConfig::new().with_exporter(otlp_sdk::ExporterConfig::default().with_disabled(true)),
    )
    .unwrap();
    let tracer = client.tracer("profiled");
    let collector = ProfileCollector::new_blocking(cpu(1000)).unwrap();
    collector.start_blocking().unwrap();
    let ids = {
        let span = tracer.span_builder("work").start();
        let ids = span.span_context().clone();
        let _in = span.enter();
        busy_three_quarters(200);
        ids
    };
    busy_one_quarter(200);
    let profile = collector.stop_blocking().unwrap();
    let by_span = profile.value_by_span(ProfileType::Cpu);
    let linked: i64 = by_span
        .iter()
        .filter(|(t, s, _)| *t == ids.trace_id() && *s == ids.span_id())
        .map(|(_, _, v)| v)
        .sum();
    assert!(linked > 0, "no sample carries the span: {by_span:?}");
    assert!(
        by_span
            .iter()
            .all(|(t, s, _)| *t == ids.trace_id() && *s == ids.span_id()),
        "only the one span: {by_span:?}"
    );
    let total = profile.total(ProfileType::Cpu, 1);
    assert!(
        total > linked,
        "samples outside the span carry no link: {total} in all, {linked} linked"
    );
}

#[test]
fn a_profile_is_exported_through_the_client() {
    let _turn = turn();
    runtime().block_on(async {
        let (receiver, sink, _) = receiver_for("grpc").await;
        let client = OtlpClient::new(
            ClientConfig::new().with_exporter(exporter_config(&receiver, Protocol::Grpc)),
        )
        .await
        .unwrap();
        let collector = ProfileCollector::new(cpu(1000)).await.unwrap();
        collector.start().await.unwrap();
        busy_three_quarters(100);
        let profile = collector.stop().await.unwrap();
        let samples = profile.sample_count(ProfileType::Cpu);
        assert!(samples > 0);
        client.export_profile(profile).await.unwrap();
        assert!(sink.wait_for_items(Signal::Profiles, 1, WAIT).await);
        client.shutdown(WAIT).await.unwrap();
    });
}

/// A receiver that answers each of its first requests after `delay`, so that a profile sent
/// at a stop is still in flight unless the stop waits for it.
async fn slow_receiver(delay: Duration) -> (RunningReceiver, MemorySink) {
    let memory = MemorySink::new();
    let mut script = ScriptedSink::new(memory.clone());
    for _ in 0..64 {
        script = script.then_delay(delay);
    }
    let receiver = Receiver::builder()
        .with_free_loopback_ports()
        .with_sink(script)
        .start()
        .await
        .expect("receiver starts");
    (receiver, memory)
}

/// The profiles requests `sink` received.
fn profile_requests(sink: &MemorySink) -> u64 {
    let requests = sink.requests().into_iter();
    requests
        .filter(|r| matches!(r.request, Request::Profiles(_)))
        .count() as u64
}

/// After a stop: the profiles went through the client's profiles pipeline and were all
/// exported (the stop flushed it), one request each, and the accounting balances. Returns how
/// many.
fn exported_through_the_pipeline(client: &OtlpClient, sink: &MemorySink) -> u64 {
    let s = client.profiles_stats();
    // accepted == exported + dropped + rejected + queued
    assert!(s.is_consistent(), "{s:?}");
    assert_eq!((s.exported, s.queued), (s.accepted, 0), "{s:?}");
    assert_eq!(profile_requests(sink), s.exported, "{s:?}");
    s.exported
}

#[test]
fn the_continuous_mode_sends_every_period_through_the_pipeline_and_flushes_at_the_stop() {
    let _turn = turn();
    runtime().block_on(async {
        let (receiver, sink) = slow_receiver(Duration::from_millis(100)).await;
        let client = OtlpClient::new(
            ClientConfig::new().with_exporter(exporter_config(&receiver, Protocol::HttpProtobuf)),
        )
        .await
        .unwrap();
        let profiler = ContinuousProfiler::start(
            client.clone(),
            cpu(200).with_period(Duration::from_millis(300)),
        )
        .await
        .unwrap();
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(1000) {
            busy_one_quarter(20);
        }
        profiler.stop().await.unwrap();
        // A period's at least (the first symbolization is slow in a debug build, so later
        // periods may merge), and the last profile at the stop.
        let exported = exported_through_the_pipeline(&client, &sink);
        assert!(exported >= 2, "{exported} profiles");
        client.shutdown(WAIT).await.unwrap();
    });
}

#[test]
fn the_continuous_mode_without_a_runtime_flushes_at_the_blocking_stop() {
    let _turn = turn();
    let rt = runtime();
    let (receiver, sink) = rt.block_on(slow_receiver(Duration::from_millis(300)));
    let client = OtlpClient::new_blocking(
        ClientConfig::new().with_exporter(exporter_config(&receiver, Protocol::Grpc)),
    )
    .unwrap();
    let profiler = ContinuousProfiler::start_blocking(
        client.clone(),
        cpu(200).with_period(Duration::from_secs(60)),
    )
    .unwrap();
    busy_one_quarter(50);
    profiler.stop_blocking().unwrap();
    // No period ended: the one profile is the stop's, exported before the stop returned.
    assert_eq!(exported_through_the_pipeline(&client, &sink), 1);
    client.shutdown_blocking(WAIT).unwrap();
}
