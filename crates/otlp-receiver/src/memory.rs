//! [`MemoryLimiter`]: what all requests in flight may hold together, in the spirit of the
//! Collector's `memory_limiter`, but counted per request rather than sampled from the heap.
//!
//! Each request holds a [`Permit`] from the moment it is routed until it is answered, and grows
//! it by what it keeps: its body as chunks arrive, the body once decompressed, and its decoded
//! messages. A request that would take the total over the limit is refused with HTTP 429 or gRPC
//! `RESOURCE_EXHAUSTED` and a retry hint, so a well-behaved client comes back later, and the
//! receiver serves again as soon as requests in flight finish.

use crate::failure::Failure;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// How long a client refused for memory is asked to wait: requests in flight finish within
/// moments, so a short wait is enough, and the client's own backoff grows it if need be.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Bytes held by the requests in flight, against a limit.
#[derive(Debug)]
pub(crate) struct MemoryLimiter {
    limit: usize,
    in_use: AtomicUsize,
}

impl MemoryLimiter {
    pub(crate) fn new(limit: usize) -> Arc<Self> {
        Arc::new(MemoryLimiter {
            limit,
            in_use: AtomicUsize::new(0),
        })
    }

    /// A permit for a new request, holding nothing yet; refused while the limit is reached.
    pub(crate) fn admit(self: &Arc<Self>) -> Result<Permit, Failure> {
        if self.in_use.load(Ordering::Relaxed) >= self.limit {
            return Err(self.refusal());
        }
        Ok(Permit {
            limiter: self.clone(),
            held: 0,
        })
    }

    /// A permit holding nothing, granted whatever the limit: for what a stream keeps across
    /// its requests (an OTAP decoder's dictionaries), which each request's own admission then
    /// weighs.
    pub(crate) fn permit(self: &Arc<Self>) -> Permit {
        Permit {
            limiter: self.clone(),
            held: 0,
        }
    }

    /// Bytes a request could still take before the limit.
    pub(crate) fn available(&self) -> usize {
        self.limit
            .saturating_sub(self.in_use.load(Ordering::Relaxed))
    }

    fn refusal(&self) -> Failure {
        Failure::over_memory(
            format!(
                "the receiver is over its memory limit ({} bytes held by requests in flight); \
                 retry later",
                self.limit
            ),
            RETRY_AFTER,
        )
    }
}

/// What one request holds of a [`MemoryLimiter`]; released when dropped.
#[derive(Debug)]
pub(crate) struct Permit {
    limiter: Arc<MemoryLimiter>,
    held: usize,
}

impl Permit {
    /// Takes `n` more bytes, or refuses the request if that would pass the limit.
    pub(crate) fn grow(&mut self, n: usize) -> Result<(), Failure> {
        let in_use = &self.limiter.in_use;
        let mut now = in_use.load(Ordering::Relaxed);
        loop {
            let next = now.saturating_add(n);
            if next > self.limiter.limit {
                return Err(self.limiter.refusal());
            }
            match in_use.compare_exchange_weak(now, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => break,
                Err(actual) => now = actual,
            }
        }
        self.held += n;
        Ok(())
    }

    /// Counts `n` bytes already spent (decoded within what [`MemoryLimiter::available`] said),
    /// even if requests that arrived meanwhile took the total over the limit: they are held
    /// either way, and counting them keeps the next requests out until they are released.
    pub(crate) fn spent(&mut self, n: usize) {
        self.limiter.in_use.fetch_add(n, Ordering::Relaxed);
        self.held += n;
    }

    /// Holds exactly `n` bytes from now on, more or fewer than before: what a stream's state
    /// has grown or shrunk to. Counted past the limit as [`spent`](Self::spent) is: the memory is
    /// taken already.
    pub(crate) fn hold(&mut self, n: usize) {
        if n >= self.held {
            self.spent(n - self.held);
        } else {
            self.limiter
                .in_use
                .fetch_sub(self.held - n, Ordering::Relaxed);
            self.held = n;
        }
    }

    /// Bytes a request could still take before the limit.
    pub(crate) fn available(&self) -> usize {
        self.limiter.available()
    }

    /// The answer to a request refused for memory.
    pub(crate) fn refusal(&self) -> Failure {
        self.limiter.refusal()
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.limiter.in_use.fetch_sub(self.held, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;
    use otlp_proto::grpc::code;

    #[test]
    fn requests_are_refused_over_the_limit_and_served_once_others_finish() {
        let limiter = MemoryLimiter::new(100);
        let mut a = limiter.admit().unwrap();
        a.grow(60).unwrap();
        let mut b = limiter.admit().unwrap();
        let refused = b.grow(41).unwrap_err();
        assert_eq!(refused.http, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(refused.grpc, code::RESOURCE_EXHAUSTED);
        assert_eq!(refused.retry_after, Some(RETRY_AFTER));
        assert!(
            refused.message.contains("memory limit"),
            "{}",
            refused.message
        );
        b.grow(40).unwrap();
        assert_eq!(limiter.available(), 0);
        assert!(limiter.admit().is_err(), "full: no new request");
        drop(a);
        assert_eq!(limiter.available(), 60);
        let mut c = limiter.admit().unwrap();
        c.spent(70);
        assert_eq!(limiter.available(), 0, "spent memory counts past the limit");
        drop((b, c));
        assert_eq!(limiter.available(), 100);
    }

    #[test]
    fn a_held_amount_grows_and_shrinks_and_is_released_on_drop() {
        let limiter = MemoryLimiter::new(100);
        let mut state = limiter.permit();
        state.hold(30);
        assert_eq!(limiter.available(), 70);
        state.hold(120);
        assert_eq!(limiter.available(), 0, "held past the limit");
        assert!(limiter.admit().is_err());
        state.hold(10);
        assert_eq!(limiter.available(), 90);
        drop(state);
        assert_eq!(limiter.available(), 100);
    }
}
