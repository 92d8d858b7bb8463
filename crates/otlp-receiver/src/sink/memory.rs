//! [`MemorySink`]: keeps every request in memory, for tests.

use super::{Ack, Refusal, Sink};
use crate::Received;
use otlp_proto::Signal;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::Notify;

/// A sink that keeps every request it receives, and accepts them all.
///
/// Clones share the same storage, so keep one and give another to the receiver:
///
/// ```
/// use otlp_proto::Signal;
/// use otlp_receiver::{MemorySink, Receiver};
///
/// let sink = MemorySink::new();
/// let builder = Receiver::builder().with_sink(sink.clone());
/// assert_eq!(sink.item_count(Signal::Logs), 0);
/// ```
#[derive(Clone, Default)]
pub struct MemorySink {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    state: Mutex<State>,
    // Woken on every change, so waiters re-check their condition instead of polling.
    changed: Notify,
}

#[derive(Default)]
struct State {
    requests: Vec<Received>,
    items: [usize; 4],
}

impl MemorySink {
    /// An empty sink.
    pub fn new() -> Self {
        MemorySink::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere while holding the lock leaves the data consistent: keep going.
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<Received> {
        self.state().requests.clone()
    }

    /// Items (spans, data points, log records or profiles) received so far for `signal`.
    pub fn item_count(&self, signal: Signal) -> usize {
        self.state().items[signal.index()]
    }

    /// Number of requests received so far.
    pub fn len(&self) -> usize {
        self.state().requests.len()
    }

    /// Whether no request has been received.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every request.
    pub fn clear(&self) {
        *self.state() = State::default();
        self.inner.changed.notify_waiters();
    }

    /// Waits until at least `n` items of `signal` have been received, or `timeout` passes.
    /// Returns whether the count was reached.
    pub async fn wait_for_items(&self, signal: Signal, n: usize, timeout: Duration) -> bool {
        self.wait_until(timeout, |s| s.items[signal.index()] >= n)
            .await
    }

    /// Waits until at least `n` requests (of any signal) have been received, or `timeout` passes.
    /// Returns whether the count was reached.
    pub async fn wait_for_requests(&self, n: usize, timeout: Duration) -> bool {
        self.wait_until(timeout, |s| s.requests.len() >= n).await
    }

    async fn wait_until(&self, timeout: Duration, done: impl Fn(&State) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            // Register interest before checking, so a change in between is not missed.
            let changed = self.inner.changed.notified();
            let mut changed = std::pin::pin!(changed);
            changed.as_mut().enable();
            if done(&self.state()) {
                return true;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return done(&self.state());
            }
        }
    }
}

impl Sink for MemorySink {
    fn consume(&self, received: Received) -> Result<Ack, Refusal> {
        {
            let mut state = self.state();
            state.items[received.request.signal().index()] += received.request.item_count();
            state.requests.push(received);
        }
        self.inner.changed.notify_waiters();
        Ok(Ack::ok())
    }
}

impl fmt::Debug for MemorySink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state();
        f.debug_struct("MemorySink")
            .field("requests", &state.requests.len())
            .field("items", &state.items)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Transport;
    use otlp_proto::collector::ExportLogsServiceRequest;
    use otlp_proto::logs::{LogRecord, ResourceLogs, ScopeLogs};
    use otlp_proto::{Compression, Encoding};

    fn logs(n: usize) -> Received {
        let request = ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                scope_logs: vec![ScopeLogs {
                    log_records: vec![LogRecord::default(); n],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        Received {
            request: request.into(),
            transport: Transport::Http,
            encoding: Encoding::Protobuf,
            compression: Compression::None,
            wire_bytes: 0,
            headers: http::HeaderMap::new(),
        }
    }

    #[test]
    fn counts_and_clears() {
        let sink = MemorySink::new();
        assert!(sink.is_empty());
        sink.consume(logs(2)).unwrap();
        sink.clone().consume(logs(3)).unwrap();
        assert_eq!(sink.len(), 2);
        assert_eq!(sink.item_count(Signal::Logs), 5);
        assert_eq!(sink.item_count(Signal::Traces), 0);
        sink.clear();
        assert_eq!((sink.len(), sink.item_count(Signal::Logs)), (0, 0));
    }

    #[tokio::test]
    async fn wait_wakes_on_arrival_and_gives_up_on_timeout() {
        let sink = MemorySink::new();
        assert!(
            !sink
                .wait_for_items(Signal::Logs, 1, Duration::from_millis(1))
                .await
        );
        let feeder = sink.clone();
        let task = tokio::spawn(async move {
            for _ in 0..3 {
                tokio::task::yield_now().await;
                feeder.consume(logs(1)).unwrap();
            }
        });
        assert!(
            sink.wait_for_items(Signal::Logs, 3, Duration::from_secs(60))
                .await
        );
        assert!(sink.wait_for_requests(3, Duration::from_secs(60)).await);
        task.await.unwrap();
    }
}
