//! A process-wide [`OtlpClient`], for code that cannot be handed one.
//!
//! Libraries call [`tracer`] to instrument themselves; the application builds a client and
//! [`set_client`]s it at start-up, and [`shutdown`]s it before it exits.
//!
//! # At exit
//!
//! On Unix, a client still set when the process exits (returning from `main`, or
//! `std::process::exit`) is shut down then, within its export timeout (at most 5 s): what it
//! queued is exported even without a [`shutdown`] call. The first [`set_client`] registers
//! an `atexit` handler for that. Elsewhere, call [`shutdown`] (or
//! [`shutdown_blocking`]) before exiting.
//!
//! The handler runs on the thread that called `exit`, after its thread-local values were
//! destroyed and after `main`'s async runtime, if any, was dropped; other threads, the
//! pipelines' workers among them, are still running. So it does the shutdown on a thread of
//! its own (fresh thread-locals, no runtime needed: the workers do the exporting) and waits
//! for it on a condition variable, giving up at the deadline; it never panics across the C
//! boundary. It does not run on `abort`, on a fatal signal, or when `exit` is bypassed
//! (`_exit`).
//!
//! ```no_run
//! use otlp::{ClientConfig, OtlpClient};
//! use std::time::Duration;
//!
//! # async fn demo() -> Result<(), otlp::Error> {
//! otlp::global::set_client(OtlpClient::new(ClientConfig::new()).await?);
//!
//! // Anywhere in the program:
//! otlp::global::tracer("checkout").in_span("load cart", |_span| {});
//!
//! otlp::global::shutdown(Duration::from_secs(5)).await?;
//! # Ok(())
//! # }
//! ```
//!
//! Until a client is set, [`tracer`] gives a no-op tracer ([`Tracer::noop`]): its spans record
//! nothing, but still take their parent's trace id and flags, so that a context extracted
//! from a request and made current is passed on. A tracer obtained that way stays a no-op
//! after a client is set: ask again.

use crate::trace::Tracer;
use crate::{Error, OtlpClient};
use otlp_proto::Str;
use std::sync::{PoisonError, RwLock};
use std::time::Duration;

static CLIENT: RwLock<Option<OtlpClient>> = RwLock::new(None);

/// Makes `client` the global client, giving back the one set before, if any (which keeps
/// running: shut it down if it is no longer wanted). On Unix, the global client is shut down
/// at process exit if it still is set then (see [the module docs](self#at-exit)).
pub fn set_client(client: OtlpClient) -> Option<OtlpClient> {
    exit_hook::register();
    CLIENT
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .replace(client)
}

/// The global client, if one is set.
pub fn client() -> Option<OtlpClient> {
    CLIENT
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

/// A tracer of the global client for the instrumentation scope `name`, or a no-op tracer that
/// still propagates contexts when no client is set.
pub fn tracer(name: impl Into<Str>) -> Tracer {
    match client() {
        Some(c) => c.tracer(name),
        None => Tracer::noop(),
    }
}

/// Takes the global client out and [shuts it down](OtlpClient::shutdown) within `timeout`.
/// Tracers asked for afterwards are no-ops. Without a global client, does nothing.
pub async fn shutdown(timeout: Duration) -> Result<(), Error> {
    let taken = CLIENT
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    match taken {
        Some(c) => c.shutdown(timeout).await,
        None => Ok(()),
    }
}

/// [`shutdown`], blocking the calling thread.
pub fn shutdown_blocking(timeout: Duration) -> Result<(), Error> {
    crate::blocking::block_on(shutdown(timeout))
}

/// Takes the global client out, without waiting on a lock another thread holds.
#[cfg(all(unix, not(otlp_portable)))]
fn take_at_exit() -> Option<OtlpClient> {
    use std::sync::TryLockError;
    // A writer holds the lock for a pointer swap: a few tries are plenty, and a lock held for
    // good (a thread stopped inside `set_client`) must not hang the exit.
    for _ in 0..100 {
        match CLIENT.try_write() {
            Ok(mut slot) => return slot.take(),
            Err(TryLockError::Poisoned(p)) => return p.into_inner().take(),
            Err(TryLockError::WouldBlock) => std::thread::sleep(Duration::from_millis(1)),
        }
    }
    None
}

/// Shuts the global client down at exit, within its deadline. Should the thread not start,
/// the client is dropped here, which waits for its pipelines' last exports just as well.
#[cfg(all(unix, not(otlp_portable)))]
fn shutdown_at_exit() {
    let Some(client) = take_at_exit() else {
        return;
    };
    let deadline = client.exit_deadline();
    let until = std::time::Instant::now() + deadline;
    let (done, wait) = crate::pipeline::DropWait::new(until);
    // A thread of its own: this one's thread-locals are gone (and with them `thread::current`,
    // the clock's anchor, tokio's context), a fresh thread has them all.
    let spawned = crate::thread::spawn("otlp-exit".to_owned(), move || {
        let result = client.shutdown_blocking(deadline);
        let _ = done.send(result);
    });
    if spawned.is_ok() {
        wait.wait();
    }
}

#[cfg(all(unix, not(otlp_portable)))]
mod exit_hook {
    use std::sync::Once;

    /// The handler `atexit` calls.
    extern "C" fn at_exit() {
        // Unwinding out of an `extern "C"` function aborts: contain any panic here.
        let _ = std::panic::catch_unwind(super::shutdown_at_exit);
    }

    /// Registers [`at_exit`], once per process.
    pub(super) fn register() {
        static ONCE: Once = Once::new();
        ONCE.call_once(|| {
            // SAFETY: `atexit` takes a pointer to a function of no arguments returning nothing
            // with the C ABI, which `at_exit` is; it is a plain function item, so it stays valid
            // for the life of the process, as the C library requires. Registration touches
            // only the C library's own list of handlers. A failure (the list is full) just
            // leaves the client to an explicit shutdown, so the result is ignored.
            #[allow(unsafe_code)]
            let _ = unsafe { libc::atexit(at_exit) };
        });
    }
}

#[cfg(any(not(unix), otlp_portable))]
mod exit_hook {
    /// Nothing: without `atexit`, call [`shutdown`](super::shutdown) before exiting.
    pub(super) fn register() {}
}
