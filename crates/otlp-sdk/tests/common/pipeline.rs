//! Helpers for the pipeline tests: spans that carry their index, a sink that holds requests
//! until released and counts how many it holds at once, an invariant watcher, bounded waits.

use otlp::pipeline::{Pipeline, Stats};
use otlp_proto::Request;
use otlp_proto::trace::{Span, Status, StatusCode};
use otlp_receiver::{Ack, Received, Refusal, Sink};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Every wait in these tests ends after this long, failing the test.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// A span named `s{i}`, with ERROR status when `error`.
pub fn span(i: usize, error: bool) -> Span {
    Span {
        trace_id: vec![1; 16].into(),
        span_id: (i as u64 + 1).to_be_bytes().to_vec().into(),
        name: format!("s{i}").into(),
        status: error.then(|| Status {
            code: StatusCode::Error as i32,
            ..Status::default()
        }),
        ..Span::default()
    }
}

/// The indices of the spans in received trace requests, request by request.
pub fn span_ids(requests: &[Received]) -> Vec<Vec<usize>> {
    requests
        .iter()
        .map(|r| match &r.request {
            Request::Traces(t) => t
                .spans()
                .map(|p| p.item.name[1..].parse().expect("span name is s{i}"))
                .collect(),
            other => panic!("not traces: {other:?}"),
        })
        .collect()
}

/// All span indices received, as a set (asserting none arrived twice).
pub fn span_set(requests: &[Received]) -> BTreeSet<usize> {
    let all: Vec<usize> = span_ids(requests).into_iter().flatten().collect();
    let set: BTreeSet<usize> = all.iter().copied().collect();
    assert_eq!(set.len(), all.len(), "a span arrived twice: {all:?}");
    set
}

/// Polls `cond` until it holds; panics after [`PATIENCE`].
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let until = Instant::now() + PATIENCE;
    while !cond() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// [`wait_until`] for async tests: sleeps on the runtime, so a receiver on it keeps serving.
pub async fn wait_until_async(what: &str, mut cond: impl FnMut() -> bool) {
    let until = Instant::now() + PATIENCE;
    while !cond() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// A server on `listener` that accepts connections and resets them (closing with unread data
/// sends RST); returns a counter of connections and the task, which owns the listener.
pub fn resetting_server(
    listener: tokio::net::TcpListener,
) -> (Arc<AtomicUsize>, tokio::task::JoinHandle<()>) {
    let count = Arc::new(AtomicUsize::new(0));
    let n = count.clone();
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = n.fetch_add(1, Ordering::SeqCst);
            let _ = stream.readable().await;
            drop(stream);
        }
    });
    (count, task)
}

/// A sink that holds each request in `consume` until [`Gate::open`], counting how many it holds
/// at once. It blocks a receiver thread: use it with a multi-thread runtime with a worker per
/// held request and one more, and wait with [`wait_until`] (a blocked worker can stall the
/// runtime's timers, which [`wait_until_async`] needs).
#[derive(Clone, Default)]
pub struct Gate {
    shared: Arc<GateShared>,
}

#[derive(Default)]
struct GateShared {
    open: Mutex<bool>,
    opened: Condvar,
    inside: AtomicUsize,
    max_inside: AtomicUsize,
    requests: Mutex<Vec<Received>>,
}

impl Gate {
    /// Lets every held and future request through.
    pub fn open(&self) {
        *self.shared.open.lock().expect("lock") = true;
        self.shared.opened.notify_all();
    }

    /// Requests held right now.
    pub fn inside(&self) -> usize {
        self.shared.inside.load(Ordering::SeqCst)
    }

    /// The most requests held at once.
    pub fn max_inside(&self) -> usize {
        self.shared.max_inside.load(Ordering::SeqCst)
    }

    /// Requests let through, in order.
    pub fn requests(&self) -> Vec<Received> {
        self.shared.requests.lock().expect("lock").clone()
    }
}

impl Sink for Gate {
    fn consume(&self, received: Received) -> Result<Ack, Refusal> {
        let s = &self.shared;
        let now = s.inside.fetch_add(1, Ordering::SeqCst) + 1;
        s.max_inside.fetch_max(now, Ordering::SeqCst);
        let hold = || {
            let mut open = s.open.lock().expect("lock");
            let until = Instant::now() + PATIENCE;
            while !*open && Instant::now() < until {
                open = s
                    .opened
                    .wait_timeout(open, Duration::from_millis(50))
                    .expect("lock")
                    .0;
            }
        };
        // Holding blocks this runtime worker. On a multi-thread runtime, tell tokio, so the tasks
        // queued behind this one (the HTTP/2 connection itself may sit in this worker's LIFO
        // slot, which other workers cannot steal) move to another thread instead of stalling.
        match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
            Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(hold),
            _ => hold(),
        }
        s.requests.lock().expect("lock").push(received);
        s.inside.fetch_sub(1, Ordering::SeqCst);
        Ok(Ack::ok())
    }
}

/// Samples a pipeline's stats on a thread of its own until dropped, checking the accounting
/// invariant and the queue bound in every sample.
pub struct Watch {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<(usize, usize)>>,
}

impl Watch {
    pub fn new<T: otlp::pipeline::PipelineItem>(pipeline: &Pipeline<T>, max_queue: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s) = (pipeline.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let (mut samples, mut longest) = (0, 0);
            while !s.load(Ordering::SeqCst) {
                let stats = p.stats();
                check(&stats, max_queue);
                samples += 1;
                longest = longest.max(stats.queue_length);
                std::thread::sleep(Duration::from_micros(200));
            }
            (samples, longest)
        });
        Watch {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops sampling; returns (samples taken, longest queue seen). Panics if a sample failed.
    pub fn finish(mut self) -> (usize, usize) {
        self.stop.store(true, Ordering::SeqCst);
        let result = self
            .thread
            .take()
            .expect("running")
            .join()
            .expect("every sample was consistent");
        assert!(result.0 > 0, "took samples");
        result
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// The invariant and the queue bound.
pub fn check(stats: &Stats, max_queue: usize) {
    assert!(
        stats.is_consistent(),
        "accounting invariant broken: {stats:?}"
    );
    assert!(
        stats.queue_length <= max_queue,
        "queue over its bound: {stats:?}"
    );
}
