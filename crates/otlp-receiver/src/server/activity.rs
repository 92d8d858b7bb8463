//! What each connection is doing, for its timeouts and for the connection limit: how many
//! requests it has in progress, and since when it has had none.
//!
//! A connection is *busy* from the moment a request head arrives until its response is produced;
//! otherwise it is *idle*, and one of two clocks runs:
//!
//! - the **header** clock, until the connection's first request head has arrived (TLS handshake
//!   and HTTP/2 preface included), and on HTTP/1 from the first byte of each later head;
//! - the **idle** clock, between requests (HTTP/2 frames such as PINGs do not stop it).
//!
//! A connection whose clock runs out is closed; the connection limit evicts the idle connection
//! whose clock started first.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Instant;

/// The time limits of a receiver's connections and requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timeouts {
    /// To receive a complete request head.
    pub(crate) header: Duration,
    /// To receive a request body, from the moment its head arrived.
    pub(crate) body: Duration,
    /// For a connection with no request in progress.
    pub(crate) idle: Duration,
}

/// How a connection is to be closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Close {
    /// Between requests: HTTP/1 closes at once, HTTP/2 sends GOAWAY first.
    Graceful,
    /// With half a request head (or none) received there is nobody to tell: drop it.
    Now,
}

/// What the connection's supervisor should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Keep the connection until this instant, then ask again (`None`: until something changes).
    Keep(Option<Instant>),
    /// Close it.
    Close(Close),
}

/// One connection's activity, shared by its task, its requests, its socket and the registry.
#[derive(Debug)]
pub(crate) struct Activity {
    state: Mutex<State>,
    /// Set while an HTTP/1 connection waits for its next request head, so that the socket
    /// reports the first byte of it (one atomic load per read otherwise).
    watch_reads: AtomicBool,
    /// Wakes the supervisor: the last request ended, a head started, or the registry evicted it.
    changed: Notify,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct State {
    in_progress: usize,
    /// When the last request ended, or when the connection was accepted.
    idle_since: Instant,
    /// Whether any request head has arrived yet.
    served: bool,
    /// On HTTP/1 between requests: when the first byte of the next head arrived.
    head_started: Option<Instant>,
    /// The registry chose this connection to make room for another.
    evicted: bool,
}

impl State {
    /// How to close the connection now: `None` while a request is in progress.
    fn close_how(&self) -> Option<Close> {
        if self.in_progress > 0 {
            None
        // Graceful only when the connection is between requests with nothing half-received.
        } else if self.served && self.head_started.is_none() {
            Some(Close::Graceful)
        } else {
            Some(Close::Now)
        }
    }

    fn verdict(&self, now: Instant, timeouts: &Timeouts) -> Verdict {
        // Only an idle connection is evicted, but a request may have begun since: let it finish.
        let Some(how) = self.close_how() else {
            return Verdict::Keep(None);
        };
        if self.evicted {
            return Verdict::Close(how);
        }
        let deadline = match (self.served, self.head_started) {
            (false, _) => self.idle_since.checked_add(timeouts.header),
            (true, Some(started)) => started.checked_add(timeouts.header),
            (true, None) => self.idle_since.checked_add(timeouts.idle),
        };
        match deadline {
            Some(deadline) if deadline <= now => Verdict::Close(how),
            // A deadline past the end of time (`None`) never comes.
            deadline => Verdict::Keep(deadline),
        }
    }
}

impl Activity {
    /// A connection accepted at `now`, with no request yet.
    pub(crate) fn new(now: Instant) -> Self {
        Activity {
            state: Mutex::new(State {
                in_progress: 0,
                idle_since: now,
                served: false,
                head_started: None,
                evicted: false,
            }),
            watch_reads: AtomicBool::new(false),
            changed: Notify::new(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // The state stays consistent whatever panicked while holding it.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A request head arrived: the connection is busy until the guard is dropped. `http1`
    /// says whether, once idle again, the first byte of the next head starts the header clock.
    pub(crate) fn start_request(self: &Arc<Self>, http1: bool) -> RequestGuard {
        let mut state = self.state();
        self.watch_reads.store(false, Ordering::Relaxed);
        state.in_progress += 1;
        state.served = true;
        state.head_started = None;
        RequestGuard {
            activity: self.clone(),
            http1,
        }
    }

    /// What to do with the connection at `now`.
    pub(crate) fn verdict(&self, now: Instant, timeouts: &Timeouts) -> Verdict {
        self.state().verdict(now, timeouts)
    }

    /// How to close the connection now (when the receiver stops): `None` while a request is in
    /// progress.
    pub(crate) fn close_how(&self) -> Option<Close> {
        self.state().close_how()
    }

    /// Whether a request is in progress.
    pub(crate) fn is_busy(&self) -> bool {
        self.state().in_progress > 0
    }

    /// Resolves when the connection turns idle, a head starts or the connection is evicted.
    pub(crate) async fn changed(&self) {
        self.changed.notified().await;
    }

    /// Since when the connection has been idle, if it is idle and not already evicted: what
    /// the registry orders eviction candidates by.
    pub(crate) fn idle_since(&self) -> Option<Instant> {
        let state = self.state();
        (state.in_progress == 0 && !state.evicted).then_some(state.idle_since)
    }

    /// Marks the connection evicted and wakes its supervisor, unless it is busy (or was evicted
    /// already). Checked and set under one lock, so a request that has just begun is never cut.
    pub(crate) fn evict(&self) -> bool {
        let mut state = self.state();
        if state.in_progress > 0 || state.evicted {
            return false;
        }
        state.evicted = true;
        drop(state);
        self.changed.notify_one();
        true
    }

    /// Bytes arrived on the connection.
    fn on_read(&self) {
        if self.watch_reads.load(Ordering::Relaxed)
            && self.watch_reads.swap(false, Ordering::Relaxed)
        {
            let mut state = self.state();
            if state.in_progress == 0 && state.head_started.is_none() {
                state.head_started = Some(Instant::now());
                drop(state);
                self.changed.notify_one();
            }
        }
    }
}

/// Held while a request is in progress.
#[derive(Debug)]
pub(crate) struct RequestGuard {
    activity: Arc<Activity>,
    http1: bool,
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        let mut state = self.activity.state();
        state.in_progress = state.in_progress.saturating_sub(1);
        if state.in_progress > 0 {
            return;
        }
        state.idle_since = Instant::now();
        // Under the lock, so a request starting concurrently cannot be overtaken.
        self.activity
            .watch_reads
            .store(self.http1, Ordering::Relaxed);
        drop(state);
        // The supervisor waits for this to start the idle clock.
        self.activity.changed.notify_one();
    }
}

/// A socket that tells its connection's [`Activity`] when bytes arrive.
#[derive(Debug)]
pub(crate) struct Watched<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S> Watched<S> {
    pub(crate) fn new(inner: S, activity: Arc<Activity>) -> Self {
        Watched { inner, activity }
    }

    pub(crate) fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.activity.on_read();
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Timeouts = Timeouts {
        header: Duration::from_secs(10),
        body: Duration::from_secs(30),
        idle: Duration::from_secs(60),
    };

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn the_header_clock_runs_from_accept_until_the_first_request() {
        let t0 = Instant::now();
        let a = Arc::new(Activity::new(t0));
        assert_eq!(a.verdict(t0, &T), Verdict::Keep(Some(t0 + secs(10))));
        assert_eq!(a.verdict(t0 + secs(10), &T), Verdict::Close(Close::Now));
        let guard = a.start_request(true);
        // A request in progress is never timed out here (the body timeout bounds it).
        assert_eq!(a.verdict(t0 + secs(1000), &T), Verdict::Keep(None));
        assert!(a.is_busy());
        drop(guard);
        assert!(!a.is_busy());
        let Verdict::Keep(Some(deadline)) = a.verdict(t0, &T) else {
            panic!("an idle connection has a deadline");
        };
        assert!(
            deadline >= t0 + secs(60),
            "the idle clock, not the header one"
        );
    }

    #[test]
    fn on_http1_the_first_byte_of_the_next_head_starts_the_header_clock() {
        let t0 = Instant::now();
        let a = Arc::new(Activity::new(t0));
        drop(a.start_request(true));
        let idle_since = a.idle_since().expect("idle");
        a.on_read();
        let started = a.state().head_started.expect("the head has begun");
        assert_eq!(
            a.verdict(started, &T),
            Verdict::Keep(Some(started + secs(10)))
        );
        assert_eq!(
            a.verdict(started + secs(10), &T),
            Verdict::Close(Close::Now),
            "half a head is dropped, not closed gracefully"
        );
        assert_eq!(a.idle_since(), Some(idle_since), "still idle for eviction");
        // Only the first byte counts.
        a.on_read();
        assert_eq!(a.state().head_started, Some(started));
    }

    #[test]
    fn on_http2_reads_between_requests_do_not_start_a_header_clock() {
        let t0 = Instant::now();
        let a = Arc::new(Activity::new(t0));
        drop(a.start_request(false));
        a.on_read();
        assert_eq!(a.state().head_started, None);
        let idle_since = a.idle_since().expect("idle");
        assert_eq!(
            a.verdict(idle_since + secs(60), &T),
            Verdict::Close(Close::Graceful)
        );
    }

    #[test]
    fn concurrent_requests_keep_the_connection_busy_until_the_last_ends() {
        let a = Arc::new(Activity::new(Instant::now()));
        let first = a.start_request(false);
        let second = a.start_request(false);
        drop(first);
        assert!(a.is_busy());
        assert_eq!(a.idle_since(), None);
        drop(second);
        assert!(a.idle_since().is_some());
    }

    #[test]
    fn eviction_spares_busy_connections_and_happens_once() {
        let t0 = Instant::now();
        let a = Arc::new(Activity::new(t0));
        let guard = a.start_request(true);
        assert!(!a.evict(), "busy");
        drop(guard);
        assert!(a.evict());
        assert!(!a.evict(), "already evicted");
        assert_eq!(a.idle_since(), None, "no longer a candidate");
        assert_eq!(a.verdict(t0, &T), Verdict::Close(Close::Graceful));

        let fresh = Activity::new(t0);
        assert_eq!(fresh.close_how(), Some(Close::Now));
        assert!(fresh.evict());
        assert_eq!(fresh.verdict(t0, &T), Verdict::Close(Close::Now));
    }

    #[test]
    fn huge_timeouts_never_expire() {
        let t0 = Instant::now();
        let forever = Timeouts {
            header: Duration::MAX,
            body: Duration::MAX,
            idle: Duration::MAX,
        };
        assert_eq!(Activity::new(t0).verdict(t0, &forever), Verdict::Keep(None));
    }
}
