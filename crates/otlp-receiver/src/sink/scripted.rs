//! [`ScriptedSink`]: plays a script of answers in front of another sink.

use super::{Ack, Refusal, Sink};
use crate::Received;
use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// A sink that answers the next requests from a script, then passes everything through to the
/// sink it wraps: a misbehaving server for exporter tests.
///
/// Each request takes one step, in order:
///
/// - [`then_refuse`](Self::then_refuse): answer with the refusal; the inner sink never sees the
///   request;
/// - [`then_delay`](Self::then_delay): wait (asynchronously, through [`Sink::delay`]) before
///   passing the request through;
/// - [`then_partial`](Self::then_partial): pass the request through, and answer a partial
///   success instead of the inner sink's acknowledgement (a refusal from the inner sink still
///   wins);
/// - [`then_accept`](Self::then_accept): pass the request through.
///
/// Clones share the script and the counter, so keep one to watch the receiver's copy:
///
/// ```
/// use std::time::Duration;
/// use otlp_receiver::{MemorySink, Refusal, ScriptedSink};
///
/// let memory = MemorySink::new();
/// let script = ScriptedSink::new(memory.clone())
///     .then_refuse(Refusal::unavailable("warming up").with_retry_after(Duration::from_secs(1)))
///     .then_delay(Duration::from_millis(200))
///     .then_partial(1, "one span too old");
/// // Give `script.clone()` to the receiver; `script.requests_seen()` counts what reached it.
/// assert_eq!(script.requests_seen(), 0);
/// assert_eq!(script.remaining_steps(), 3);
/// ```
///
/// Requests the server refuses before they reach a sink (too large, undecodable) take no step.
/// With concurrent requests, steps go to requests in the order the server reaches them.
#[derive(Clone)]
pub struct ScriptedSink {
    inner: Arc<dyn Sink>,
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    script: Mutex<Script>,
    seen: AtomicUsize,
}

#[derive(Default)]
struct Script {
    steps: VecDeque<Step>,
    // Requests that took a delay step in `delay()` and must pass through in `consume()`.
    owed: usize,
}

#[derive(Debug)]
enum Step {
    Accept,
    Refuse(Refusal),
    Delay(Duration),
    Partial(i64, String),
}

impl ScriptedSink {
    /// A sink with an empty script in front of `inner`.
    pub fn new(inner: impl Sink) -> Self {
        ScriptedSink {
            inner: Arc::new(inner),
            shared: Arc::default(),
        }
    }

    fn script(&self) -> MutexGuard<'_, Script> {
        self.shared
            .script
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn then(self, step: Step) -> Self {
        self.script().steps.push_back(step);
        self
    }

    /// The next request passes through to the inner sink.
    pub fn then_accept(self) -> Self {
        self.then(Step::Accept)
    }

    /// The next request is refused with `refusal`.
    pub fn then_refuse(self, refusal: Refusal) -> Self {
        self.then(Step::Refuse(refusal))
    }

    /// The next request waits `delay` before being passed through: a slow server.
    pub fn then_delay(self, delay: Duration) -> Self {
        self.then(Step::Delay(delay))
    }

    /// The next request is passed through and answered with a partial success.
    pub fn then_partial(self, rejected: i64, message: impl Into<String>) -> Self {
        self.then(Step::Partial(rejected, message.into()))
    }

    /// Requests that reached this sink so far, scripted or passed through.
    pub fn requests_seen(&self) -> usize {
        self.shared.seen.load(Ordering::SeqCst)
    }

    /// Steps not yet played.
    pub fn remaining_steps(&self) -> usize {
        self.script().steps.len()
    }
}

impl Sink for ScriptedSink {
    fn delay(&self) -> Option<Duration> {
        let own = {
            let mut script = self.script();
            match script.steps.front() {
                Some(Step::Refuse(_)) => return None,
                Some(&Step::Delay(delay)) => {
                    script.steps.pop_front();
                    script.owed += 1;
                    Some(delay)
                }
                _ => None,
            }
        };
        // The request will reach the inner sink: add whatever it wants to wait too.
        match (own, self.inner.delay()) {
            (Some(a), Some(b)) => Some(a.saturating_add(b)),
            (a, b) => a.or(b),
        }
    }

    fn consume(&self, received: Received) -> Result<Ack, Refusal> {
        self.shared.seen.fetch_add(1, Ordering::SeqCst);
        let step = {
            let mut script = self.script();
            if script.owed > 0 {
                script.owed -= 1;
                None
            } else {
                script.steps.pop_front()
            }
        };
        match step {
            None | Some(Step::Accept) | Some(Step::Delay(_)) => self.inner.consume(received),
            Some(Step::Refuse(refusal)) => Err(refusal),
            Some(Step::Partial(rejected, message)) => self
                .inner
                .consume(received)
                .map(|_| Ack::partial(rejected, message)),
        }
    }
}

impl fmt::Debug for ScriptedSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScriptedSink")
            .field("steps", &self.script().steps)
            .field("requests_seen", &self.requests_seen())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MemorySink, RefusalKind, Transport};
    use otlp_proto::collector::ExportTraceServiceRequest;
    use otlp_proto::{Compression, Encoding};

    fn received() -> Received {
        Received {
            request: ExportTraceServiceRequest::default().into(),
            transport: Transport::Grpc,
            encoding: Encoding::Protobuf,
            compression: Compression::None,
            wire_bytes: 0,
            headers: http::HeaderMap::new(),
        }
    }

    /// Calls the sink the way the server does.
    fn serve(sink: &impl Sink) -> (Option<Duration>, Result<Ack, Refusal>) {
        (sink.delay(), sink.consume(received()))
    }

    #[test]
    fn plays_steps_in_order_then_passes_through() {
        let memory = MemorySink::new();
        let sink = ScriptedSink::new(memory.clone())
            .then_refuse(Refusal::unavailable("down"))
            .then_delay(Duration::from_secs(3))
            .then_partial(2, "too old")
            .then_accept();

        let (delay, answer) = serve(&sink);
        assert_eq!(delay, None);
        assert_eq!(answer.unwrap_err().kind(), RefusalKind::Unavailable);
        assert_eq!(memory.len(), 0);

        let (delay, answer) = serve(&sink);
        assert_eq!(delay, Some(Duration::from_secs(3)));
        assert_eq!(answer.unwrap(), Ack::ok());
        assert_eq!(memory.len(), 1);

        let (delay, answer) = serve(&sink);
        assert_eq!(delay, None);
        assert_eq!(answer.unwrap(), Ack::partial(2, "too old"));
        assert_eq!(memory.len(), 2);

        for _ in 0..3 {
            assert_eq!(serve(&sink), (None, Ok(Ack::ok())));
        }
        assert_eq!(memory.len(), 5);
        assert_eq!(sink.requests_seen(), 6);
        assert_eq!(sink.remaining_steps(), 0);
    }

    #[test]
    fn a_delay_step_taken_by_consume_alone_still_passes_through() {
        let sink = ScriptedSink::new(MemorySink::new())
            .then_delay(Duration::from_secs(1))
            .then_refuse(Refusal::internal("x"));
        assert!(sink.consume(received()).is_ok());
        assert!(sink.consume(received()).is_err());
        assert!(sink.consume(received()).is_ok());
    }

    #[test]
    fn nested_scripts_add_their_delays() {
        let inner = ScriptedSink::new(MemorySink::new()).then_delay(Duration::from_secs(1));
        let outer = ScriptedSink::new(inner.clone()).then_delay(Duration::from_secs(2));
        assert_eq!(serve(&outer).0, Some(Duration::from_secs(3)));
        assert_eq!(inner.requests_seen(), 1);
        assert_eq!(serve(&outer), (None, Ok(Ack::ok())));
    }
}
