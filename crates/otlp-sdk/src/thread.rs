//! Where the SDK's threads start: [`spawn`] for a plain thread, [`spawn_with_runtime`] for one
//! that runs a current-thread tokio runtime of its own (the transport's I/O thread, each
//! pipeline's worker). Every thread the SDK starts goes through [`spawn`].

use crate::error::{Error, Kind};
use std::future::Future;
use std::thread::JoinHandle;

/// Starts a thread named `name` running `main`. Failing to start it is an error that names the
/// thread, never a panic.
pub(crate) fn spawn<F>(name: String, main: F) -> Result<JoinHandle<()>, Error>
where
    F: FnOnce() + Send + 'static,
{
    std::thread::Builder::new()
        .name(name.clone())
        .spawn(move || {
            // Marked, so that integrations ignore what runs here (hyper's and h2's own
            // `tracing` spans, say) rather than export it and feed it back.
            crate::context::mark_sdk_thread();
            main()
        })
        .map_err(|e| start_error(&name, "thread", e))
}

/// Starts a thread named `name` that runs the future `main` makes on a current-thread tokio
/// runtime with I/O and timers enabled, and returns once the future does (dropping the runtime
/// cancels whatever tasks are left).
///
/// The runtime is built before the thread starts, so that failing to build it is an error of
/// the caller, not a silent death of the thread. The future is made on the new thread, so it
/// need not be `Send`.
pub(crate) fn spawn_with_runtime<F, Fut>(name: String, main: F) -> Result<JoinHandle<()>, Error>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| start_error(&name, "runtime", e))?;
    spawn(name, move || runtime.block_on(main()))
}

fn start_error(name: &str, what: &str, e: std::io::Error) -> Error {
    Error::new(
        Kind::Shutdown,
        format!("cannot start the {what} of {name}: {e}"),
    )
    .with_source(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_thread_is_named_and_runs_its_runtime() {
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = spawn_with_runtime("otlp-test-thread".into(), move || async move {
            // Timers work: the runtime has them enabled.
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            let name = std::thread::current().name().map(str::to_owned);
            let _ = tx.send(name);
        })
        .expect("starts");
        thread.join().expect("joins");
        assert_eq!(rx.recv().expect("ran").as_deref(), Some("otlp-test-thread"));
    }
}
