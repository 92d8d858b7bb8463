//! [`ContinuousProfiler`]: profiling that never stops, a profile exported through the client
//! every period.

use crate::collector::{check, off_executor, run, spawn};
use crate::config::ProfileConfig;
use crate::error::{Error, Kind};
use crate::source::Sources;
use crate::symbolize::Symbolizer;
use otlp_sdk::OtlpClient;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;

/// Samples the profile types of its configuration until stopped, exporting a profile through
/// the client every period ([`ProfileConfig::with_period`], default 60 s) and once more at
/// the stop.
///
/// ```no_run
/// use otlp_profiler::{ContinuousProfiler, ProfileConfig, ProfileType};
/// # async fn run(client: otlp_sdk::OtlpClient) -> Result<(), otlp_profiler::Error> {
/// let profiler = ContinuousProfiler::start(
///     client.clone(),
///     ProfileConfig::new().with_profile_type(ProfileType::Cpu),
/// )
/// .await?;
/// // ... the service runs ...
/// profiler.stop().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ContinuousProfiler {
    stop: mpsc::Sender<()>,
    thread: Option<JoinHandle<()>>,
    counts: Arc<Counts>,
}

/// What a continuous profiler has exported so far.
#[derive(Debug, Default)]
struct Counts {
    exported: AtomicU64,
    failed: AtomicU64,
}

impl ContinuousProfiler {
    /// Starts sampling; the first profile goes out after one period.
    pub async fn start(client: OtlpClient, config: ProfileConfig) -> Result<Self, Error> {
        ContinuousProfiler::start_blocking(client, config)
    }

    /// [`start`](ContinuousProfiler::start) without a runtime.
    pub fn start_blocking(client: OtlpClient, config: ProfileConfig) -> Result<Self, Error> {
        check(&config)?;
        let sources = Sources::start(&config)?;
        let (stop, stopped) = mpsc::channel();
        let counts = Arc::new(Counts::default());
        let thread_counts = counts.clone();
        let period = config.period;
        let thread = spawn("otlp-profiler", move || {
            let symbolizer = Arc::new(Symbolizer::default());
            run(
                config,
                symbolizer,
                sources,
                &stopped,
                Some(period),
                &mut |profile| {
                    let counter = match client.export_profile_blocking(profile) {
                        Ok(_) => &thread_counts.exported,
                        Err(_) => &thread_counts.failed,
                    };
                    counter.fetch_add(1, Ordering::Relaxed);
                },
            )
        })?;
        Ok(ContinuousProfiler {
            stop,
            thread: Some(thread),
            counts,
        })
    }

    /// Profiles exported so far (each period's, accepted by the receiver).
    pub fn exported(&self) -> u64 {
        self.counts.exported.load(Ordering::Relaxed)
    }

    /// Profiles whose export failed so far (the client's retries spent).
    pub fn failed(&self) -> u64 {
        self.counts.failed.load(Ordering::Relaxed)
    }

    /// Stops sampling and exports the last profile, returning once it is exported.
    pub async fn stop(mut self) -> Result<(), Error> {
        off_executor(move || self.finish()).await?.unwrap_or(Ok(()))
    }

    /// [`stop`](ContinuousProfiler::stop) without a runtime.
    pub fn stop_blocking(mut self) -> Result<(), Error> {
        self.finish()
    }

    fn finish(&mut self) -> Result<(), Error> {
        let _ = self.stop.send(());
        match self.thread.take().map(JoinHandle::join) {
            Some(Err(_)) => Err(Error::new(Kind::System, "the profiler's thread panicked")),
            _ => Ok(()),
        }
    }
}

impl Drop for ContinuousProfiler {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}
