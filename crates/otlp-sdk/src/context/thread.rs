//! Which threads are the SDK's own.

use std::cell::Cell;

thread_local! {
    /// Nothing to drop and a constant start: reading it is a plain thread-local read.
    static SDK_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// Marks the calling thread as one of the SDK's own (an exporter's I/O thread, a pipeline's
/// worker, the self-metrics thread): integrations such as `otlp-tracing` leave what is
/// recorded on it alone, so that exporting telemetry never makes more of it. Called first
/// thing on each thread the SDK starts; not meant for other threads.
#[doc(hidden)]
pub fn mark_sdk_thread() {
    let _ = SDK_THREAD.try_with(|marked| marked.set(true));
}

/// Whether the calling thread is one of the SDK's own (see [`mark_sdk_thread`]): telemetry
/// made there (by hyper, h2, rustls under the exporter) must not be exported, or exporting
/// would feed itself.
#[inline]
pub fn is_sdk_thread() -> bool {
    SDK_THREAD.try_with(Cell::get).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_marked_threads_are_the_sdks() {
        let named = std::thread::Builder::new()
            .name("otlp-not-marked".into())
            .spawn(is_sdk_thread)
            .and_then(|t| t.join().map_err(|_| std::io::Error::other("panicked")));
        assert!(!named.expect("thread ran"), "a name does not make it ours");
        let marked = std::thread::spawn(|| {
            mark_sdk_thread();
            is_sdk_thread()
        })
        .join();
        assert!(marked.expect("thread ran"));
        assert!(!is_sdk_thread());
    }
}
