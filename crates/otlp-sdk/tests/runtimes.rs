//! The exporter works the same from a multi-thread runtime, a current-thread runtime, a foreign
//! executor, and a program with no runtime at all.

mod common;

use common::{PROTOCOLS, config, receiver};
use otlp::{BlockingExporter, Exporter};
use otlp_proto::{Signal, sample};
use otlp_receiver::{MemorySink, RunningReceiver, ScriptedSink};
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

async fn export_every_signal(exporter: &Exporter, sink: &MemorySink) {
    for signal in Signal::ALL {
        let request = sample::request(signal);
        exporter
            .export_request(&request)
            .await
            .unwrap_or_else(|e| panic!("{signal}: {e}"));
        assert_eq!(sink.requests().last().map(|r| &r.request), Some(&request));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_a_multi_thread_runtime() {
    let sink = MemorySink::new();
    let rx = receiver(sink.clone()).await;
    for protocol in PROTOCOLS {
        let exporter = Exporter::new(config(&rx, protocol)).expect("exporter");
        export_every_signal(&exporter, &sink).await;
        // Clones share the worker; concurrent exports from spawned tasks.
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let exporter = exporter.clone();
                tokio::spawn(async move {
                    exporter
                        .export_request(&sample::request(Signal::Logs))
                        .await
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("task").expect("export");
        }
        // Dropped on a runtime thread: must neither block nor panic.
        drop(exporter);
    }
    rx.shutdown().await;
}

/// The receiver runs on the same single thread as the caller: had the export blocked that
/// thread, or needed a reactor of its own there, the receiver could never answer.
#[tokio::test(flavor = "current_thread")]
async fn from_a_current_thread_runtime_that_also_runs_the_server() {
    let sink = MemorySink::new();
    let rx = receiver(sink.clone()).await;
    for protocol in PROTOCOLS {
        let exporter = Exporter::new(config(&rx, protocol)).expect("exporter");
        export_every_signal(&exporter, &sink).await;
        drop(exporter);
    }
    rx.shutdown().await;
}

/// Starts a receiver on a runtime of its own thread, and returns it with that runtime.
fn background_receiver(sink: MemorySink) -> (tokio::runtime::Runtime, RunningReceiver) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let rx = rt.block_on(receiver(sink));
    (rt, rx)
}

#[test]
fn blocking_exporter_without_any_runtime() {
    let sink = MemorySink::new();
    let (rt, rx) = background_receiver(sink.clone());
    assert!(
        tokio::runtime::Handle::try_current().is_err(),
        "this thread has no runtime"
    );
    for protocol in PROTOCOLS {
        let exporter = BlockingExporter::new(config(&rx, protocol)).expect("exporter");
        for signal in Signal::ALL {
            let request = sample::request(signal);
            let outcome = exporter.export_request(&request).expect("export");
            assert_eq!(outcome.attempts, 1);
            assert_eq!(sink.requests().last().map(|r| &r.request), Some(&request));
        }
        let otlp_proto::Request::Traces(traces) = sample::request(Signal::Traces) else {
            unreachable!("sample::request(Traces) is a traces request")
        };
        exporter.export(&traces).expect("typed export");
        let body = exporter.as_async().encode(&traces);
        exporter
            .export_encoded(Signal::Traces, body)
            .expect("encoded export");
        // Dropped outside any runtime: the worker thread is joined.
        drop(exporter);
    }
    rt.block_on(rx.shutdown());
}

/// A minimal executor that is not tokio: polls on this thread, parks in between.
fn foreign_block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let mut future = std::pin::pin!(future);
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::park();
    }
}

#[test]
fn async_export_on_a_foreign_executor() {
    let sink = MemorySink::new();
    let (rt, rx) = background_receiver(sink.clone());
    for protocol in PROTOCOLS {
        let exporter = Exporter::new(config(&rx, protocol)).expect("exporter");
        foreign_block_on(export_every_signal(&exporter, &sink));
    }
    rt.block_on(rx.shutdown());
}

#[test]
fn exporter_built_in_one_runtime_is_used_in_another_and_outlives_both() {
    let sink = MemorySink::new();
    let (server_rt, rx) = background_receiver(sink.clone());
    let first = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let exporter = first
        .block_on(async { Exporter::new(config(&rx, otlp::Protocol::Grpc)).expect("exporter") });
    drop(first);
    let second = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    second.block_on(export_every_signal(&exporter, &sink));
    drop(second);
    // And still usable with no runtime at all.
    BlockingExporter::from(exporter)
        .export_request(&sample::request(Signal::Logs))
        .expect("export");
    server_rt.block_on(rx.shutdown());
}

#[tokio::test]
async fn an_abandoned_export_does_not_hold_up_the_next() {
    let memory = MemorySink::new();
    let script = ScriptedSink::new(memory.clone()).then_delay(Duration::from_secs(30));
    let rx = receiver(script).await;
    let exporter = Exporter::new(config(&rx, otlp::Protocol::HttpProtobuf)).expect("exporter");
    let request = sample::request(Signal::Traces);
    // Gives up on the slow export, then exports again with the same exporter.
    let abandoned = tokio::time::timeout(
        Duration::from_millis(200),
        exporter.export_request(&request),
    )
    .await;
    assert!(abandoned.is_err(), "the server delays the first request");
    let outcome = exporter
        .export_request(&request)
        .await
        .expect("second export");
    assert_eq!(outcome.attempts, 1);
    assert_eq!(memory.requests().last().map(|r| &r.request), Some(&request));
    drop(rx);
}
