//! [`ModeSink`]: a sink switched at runtime between answering normally, slowly, `503` /
//! `UNAVAILABLE`, and partial success; the soak's misbehaving receiver. `ScriptedSink` plays
//! steps per request, which cannot express "slow for the next ten seconds".
//!
//! ```
//! use std::time::Duration;
//! use otlp_receiver::MemorySink;
//! use test_support::chaos::{Mode, ModeSink};
//!
//! let sink = ModeSink::new(MemorySink::new());
//! // Give `sink.clone()` to the receiver; switch the shared mode from anywhere.
//! sink.set(Mode::Slow { min: Duration::from_millis(100), max: Duration::from_secs(2) });
//! sink.set(Mode::Normal);
//! ```

use otlp_receiver::{Ack, Received, Refusal, Sink};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// How a [`ModeSink`] answers, until switched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Passes every request through to the inner sink.
    #[default]
    Normal,
    /// Waits between `min` and `max` (spread evenly over successive requests, deterministic)
    /// before passing the request through.
    Slow {
        /// The shortest wait.
        min: Duration,
        /// The longest wait.
        max: Duration,
    },
    /// Refuses every request with HTTP 503 / gRPC `UNAVAILABLE`, asking the client to retry
    /// after `retry_after`; the inner sink never sees it.
    Unavailable {
        /// The delay asked of the client.
        retry_after: Duration,
    },
    /// Passes the request through, then answers a partial success rejecting `rejected` items
    /// (at most the request's item count).
    Partial {
        /// Items rejected per request.
        rejected: i64,
    },
}

/// A sink answering as its current [`Mode`] says, in front of another sink. Clones share the
/// mode.
#[derive(Clone)]
pub struct ModeSink {
    inner: Arc<dyn Sink>,
    mode: Arc<Mutex<Mode>>,
    // Successive slow requests take successive points of the [min, max] range.
    slow_requests: Arc<AtomicU64>,
}

impl ModeSink {
    /// A sink in [`Mode::Normal`] in front of `inner`.
    pub fn new(inner: impl Sink) -> Self {
        ModeSink {
            inner: Arc::new(inner),
            mode: Arc::default(),
            slow_requests: Arc::default(),
        }
    }

    /// Switches to `mode`, for requests reaching the sink from now on.
    pub fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap_or_else(PoisonError::into_inner) = mode;
    }

    /// The current mode.
    pub fn mode(&self) -> Mode {
        *self.mode.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Sink for ModeSink {
    fn delay(&self) -> Option<Duration> {
        let own = match self.mode() {
            Mode::Slow { min, max } => {
                // A low-discrepancy walk over the range (golden ratio): every stretch of
                // requests sees short and long waits alike.
                let n = self.slow_requests.fetch_add(1, Ordering::Relaxed);
                let fraction = (n as f64 * 0.618_033_988_75).fract();
                Some(min + max.saturating_sub(min).mul_f64(fraction))
            }
            _ => None,
        };
        match (own, self.inner.delay()) {
            (Some(a), Some(b)) => Some(a.saturating_add(b)),
            (a, b) => a.or(b),
        }
    }

    fn consume(&self, received: Received) -> Result<Ack, Refusal> {
        match self.mode() {
            Mode::Unavailable { retry_after } => {
                Err(Refusal::unavailable("chaos: unavailable").with_retry_after(retry_after))
            }
            Mode::Partial { rejected } => {
                let items = i64::try_from(received.request.item_count()).unwrap_or(i64::MAX);
                let rejected = rejected.min(items);
                self.inner
                    .consume(received)
                    .map(|_| Ack::partial(rejected, "chaos: partial success"))
            }
            Mode::Normal | Mode::Slow { .. } => self.inner.consume(received),
        }
    }
}

impl std::fmt::Debug for ModeSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModeSink")
            .field("mode", &self.mode())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use otlp_proto::collector::ExportTraceServiceRequest;
    use otlp_proto::trace::{ResourceSpans, ScopeSpans, Span};
    use otlp_proto::{Compression, Encoding};
    use otlp_receiver::{MemorySink, RefusalKind, Transport};

    fn received(spans: usize) -> Received {
        let request = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![Span::default(); spans],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        Received {
            request: request.into(),
            transport: Transport::Grpc,
            encoding: Encoding::Protobuf,
            compression: Compression::None,
            wire_bytes: 0,
            headers: http::HeaderMap::new(),
        }
    }

    #[test]
    fn each_mode_answers_as_it_says() {
        let memory = MemorySink::new();
        let sink = ModeSink::new(memory.clone());
        assert_eq!(
            (sink.delay(), sink.consume(received(3))),
            (None, Ok(Ack::ok()))
        );

        let (min, max) = (Duration::from_millis(100), Duration::from_millis(1100));
        sink.set(Mode::Slow { min, max });
        let delays: Vec<_> = (0..20).map(|_| sink.delay().unwrap()).collect();
        assert!(delays.iter().all(|d| (min..=max).contains(d)), "{delays:?}");
        assert!(delays.iter().any(|d| *d < Duration::from_millis(300)));
        assert!(delays.iter().any(|d| *d > Duration::from_millis(900)));
        assert_eq!(sink.consume(received(1)), Ok(Ack::ok()));

        sink.set(Mode::Unavailable {
            retry_after: Duration::from_secs(1),
        });
        let refusal = sink.consume(received(2)).unwrap_err();
        assert_eq!(refusal.kind(), RefusalKind::Unavailable);
        assert_eq!(refusal.retry_after(), Some(Duration::from_secs(1)));

        sink.set(Mode::Partial { rejected: 2 });
        assert_eq!(sink.consume(received(5)).unwrap().rejected, 2);
        assert_eq!(sink.consume(received(1)).unwrap().rejected, 1);

        sink.set(Mode::Normal);
        assert_eq!(sink.delay(), None);
        // Refused requests never reached the inner sink; all the others did.
        assert_eq!(memory.len(), 4);
    }
}
