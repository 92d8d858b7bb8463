//! [`Coalesce`]: gathers the small writes of an HTTP/2 connection into fewer, larger ones.
//!
//! An HTTP/2 peer caps the frames sent to it (16 KiB unless it says more, and most servers,
//! the Collector's included, do not), and the `h2` crate hands each frame to the socket on its
//! own and flushes after it. A 250 KB export request then costs sixteen `writev` calls, sixteen
//! segments through the kernel and, on a receiver quicker than the sender, sixteen wake-ups of
//! its thread: on a two-core machine, a quarter of the exporting thread's time went there.
//!
//! The connection writes into a buffer of [`CAPACITY`] bytes instead, sent when it is full and
//! when the connection has nothing more to write: a flush is put off once (the task is woken,
//! so it is polled again at once) and done at the next flush or read, by which time every
//! frame the connection had ready was added. A flush with nothing written since the last one
//! therefore always reaches the socket: no data waits for a timer.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The most a write gathers: one loopback segment, several frames.
pub(crate) const CAPACITY: usize = 64 * 1024;

/// A stream whose writes are gathered; see the [module](self).
#[derive(Debug)]
pub(crate) struct Coalesce<S> {
    inner: S,
    /// Bytes accepted and not yet written, from `sent` on.
    pending: Vec<u8>,
    sent: usize,
    /// A flush was put off, and nothing was written since.
    deferred: bool,
}

impl<S> Coalesce<S> {
    pub(crate) fn new(inner: S) -> Self {
        Coalesce {
            inner,
            pending: Vec::new(),
            sent: 0,
            deferred: false,
        }
    }

    pub(crate) fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The stream itself, bypassing what is pending (a read here writes nothing first).
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    pub(crate) fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }
}

impl<S: AsyncWrite + Unpin> Coalesce<S> {
    /// Writes out what is pending; `Ready(Ok)` once all of it is written.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.pending.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending[self.sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        self.pending.clear();
        self.sent = 0;
        Poll::Ready(Ok(()))
    }

    /// Makes room for `want` more bytes (up to the capacity), writing out what is pending when
    /// they would not fit.
    fn poll_room(&mut self, cx: &mut Context<'_>, want: usize) -> Poll<io::Result<usize>> {
        self.deferred = false;
        if self.pending.len() + want > CAPACITY && !self.pending.is_empty() {
            ready!(self.poll_drain(cx))?;
        }
        if self.pending.capacity() == 0 {
            self.pending.reserve_exact(CAPACITY);
        }
        Poll::Ready(Ok(CAPACITY - self.pending.len()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Coalesce<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let room = ready!(this.poll_room(cx, buf.len()))?;
        if this.pending.is_empty() && buf.len() >= CAPACITY {
            // Large enough on its own: no copy.
            return Pin::new(&mut this.inner).poll_write(cx, buf);
        }
        let n = buf.len().min(room);
        this.pending.extend_from_slice(&buf[..n]);
        Poll::Ready(Ok(n))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let total = bufs.iter().map(|b| b.len()).sum();
        let mut room = ready!(this.poll_room(cx, total))?;
        let mut n = 0;
        for buf in bufs {
            let take = buf.len().min(room);
            this.pending.extend_from_slice(&buf[..take]);
            n += take;
            room -= take;
            if room == 0 {
                break;
            }
        }
        Poll::Ready(Ok(n))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.pending.is_empty() {
            return Pin::new(&mut this.inner).poll_flush(cx);
        }
        if !this.deferred {
            // More frames may follow in this same poll of the connection: put the write off
            // until its next flush or read, and make sure there is one.
            this.deferred = true;
            cx.waker().wake_by_ref();
            return Poll::Ready(Ok(()));
        }
        ready!(this.poll_drain(cx))?;
        this.deferred = false;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Coalesce<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        // What was put off goes out before waiting for an answer to it. Not written yet (the
        // socket is full) is fine: the write registered this task to be woken.
        if !this.pending.is_empty()
            && let Poll::Ready(Err(e)) = this.poll_drain(cx)
        {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A sink that records each write it receives, and accepts at most `limit` bytes a call.
    #[derive(Clone, Default)]
    struct Recorder {
        writes: Arc<Mutex<Vec<usize>>>,
        bytes: Arc<Mutex<Vec<u8>>>,
        limit: Option<usize>,
    }

    impl AsyncWrite for Recorder {
        fn poll_write(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            let n = self.limit.map_or(buf.len(), |l| buf.len().min(l));
            self.writes.lock().expect("lock").push(n);
            self.bytes
                .lock()
                .expect("lock")
                .extend_from_slice(&buf[..n]);
            Poll::Ready(Ok(n))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    impl AsyncRead for Recorder {
        fn poll_read(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    fn frame(i: usize) -> Vec<u8> {
        vec![i as u8; 16 * 1024 + 9]
    }

    #[tokio::test]
    async fn frames_flushed_one_by_one_go_out_in_few_writes_and_in_order() {
        let sink = Recorder::default();
        let mut io = Coalesce::new(sink.clone());
        let mut expected = Vec::new();
        for i in 0..16 {
            let f = frame(i);
            io.write_all(&f).await.expect("write");
            // What h2 does after every frame: the first flush of a burst is put off.
            io.flush().await.expect("flush");
            expected.extend_from_slice(&f);
        }
        let writes = sink.writes.lock().expect("lock").clone();
        assert!(
            writes.len() <= 5,
            "{} writes for 16 frames: {writes:?}",
            writes.len()
        );
        assert!(writes.iter().all(|&w| w <= CAPACITY));
        // A flush with nothing written since the last one sends everything.
        io.flush().await.expect("flush");
        assert_eq!(*sink.bytes.lock().expect("lock"), expected);
        assert!(io.pending.is_empty());
    }

    #[tokio::test]
    async fn a_read_sends_what_was_put_off_first() {
        let sink = Recorder::default();
        let mut io = Coalesce::new(sink.clone());
        io.write_all(b"request").await.expect("write");
        io.flush().await.expect("flush");
        assert!(sink.bytes.lock().expect("lock").is_empty(), "put off");
        let mut answer = [0u8; 4];
        let _ = io.read(&mut answer).await.expect("read");
        assert_eq!(*sink.bytes.lock().expect("lock"), b"request");
    }

    #[tokio::test]
    async fn partial_writes_and_shutdown_lose_nothing() {
        let sink = Recorder {
            limit: Some(1000),
            ..Recorder::default()
        };
        let mut io = Coalesce::new(sink.clone());
        let mut expected = Vec::new();
        for i in 0..10 {
            let f = frame(i);
            io.write_all(&f).await.expect("write");
            expected.extend_from_slice(&f);
        }
        // Over the capacity in one write: passed through when nothing is pending.
        let big = vec![0xab; CAPACITY + 1];
        io.shutdown().await.expect("shutdown");
        assert_eq!(*sink.bytes.lock().expect("lock"), expected);
        let mut io = Coalesce::new(sink.clone());
        io.write_all(&big).await.expect("write");
        io.flush().await.expect("flush");
        io.flush().await.expect("flush");
        expected.extend_from_slice(&big);
        assert_eq!(*sink.bytes.lock().expect("lock"), expected);
    }
}
