//! [`RunningReceiver`]: the handle of a started receiver.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// A receiver that is serving. Dropping it stops the servers at once; [`shutdown`](Self::shutdown)
/// stops them gracefully.
pub struct RunningReceiver {
    grpc_addr: Option<SocketAddr>,
    http_addr: Option<SocketAddr>,
    stop: watch::Sender<bool>,
    // One accept loop per listener; each owns its connections' tasks.
    tasks: JoinSet<()>,
    shutdown_timeout: Duration,
}

impl RunningReceiver {
    pub(crate) fn new(
        grpc_addr: Option<SocketAddr>,
        http_addr: Option<SocketAddr>,
        stop: watch::Sender<bool>,
        tasks: JoinSet<()>,
        shutdown_timeout: Duration,
    ) -> Self {
        RunningReceiver {
            grpc_addr,
            http_addr,
            stop,
            tasks,
            shutdown_timeout,
        }
    }

    /// The address the gRPC listener is bound to (with the actual port when 0 was asked for),
    /// or `None` if gRPC is disabled.
    pub fn grpc_addr(&self) -> Option<SocketAddr> {
        self.grpc_addr
    }

    /// The address the HTTP listener is bound to (with the actual port when 0 was asked for),
    /// or `None` if HTTP is disabled.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http_addr
    }

    /// Stops accepting connections, lets requests in progress finish (HTTP/2 clients get a
    /// GOAWAY, idle HTTP/1.1 connections are closed, connections without a complete request head
    /// are dropped), and returns once every connection is closed
    /// or the shutdown timeout (5 seconds by default) has passed, whichever comes first; the
    /// connections still open then are dropped. The listeners are closed when this returns.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        let mut tasks = std::mem::take(&mut self.tasks);
        let finished = async { while tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(self.shutdown_timeout, finished)
            .await
            .is_err()
        {
            tasks.shutdown().await;
        }
    }
}

impl Drop for RunningReceiver {
    fn drop(&mut self) {
        // Dropping the JoinSet aborts the accept loops, and with them every connection.
        let _ = self.stop.send(true);
        self.tasks.abort_all();
    }
}

impl fmt::Debug for RunningReceiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunningReceiver")
            .field("grpc_addr", &self.grpc_addr)
            .field("http_addr", &self.http_addr)
            .finish_non_exhaustive()
    }
}
