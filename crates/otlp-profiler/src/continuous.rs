//! [`ContinuousProfiler`]: profiling that never stops, a profile sent through the client's
//! profiles pipeline every period.

use crate::collector::{check, off_executor, run, spawn};
use crate::config::ProfileConfig;
use crate::error::{Error, Kind};
use crate::source::Sources;
use crate::symbolize::Symbolizer;
use otlp_sdk::OtlpClient;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;

/// Samples the profile types of its configuration until stopped, sending a profile through
/// the client's profiles pipeline every period ([`ProfileConfig::with_period`], default 60 s)
/// and once more at the stop.
///
/// Each profile is handed over with
/// [`OtlpClient::send_profile`](otlp_sdk::OtlpClient::send_profile): the profiler's thread never
/// waits for an export; the pipeline's thread exports it with the client's retries, and
/// [`OtlpClient::profiles_stats`](otlp_sdk::OtlpClient::profiles_stats) counts it (exported,
/// dropped with a reason, queued). A receiver that is down keeps a few profiles queued
/// ([`ClientConfig::with_profiles_pipeline`](otlp_sdk::ClientConfig::with_profiles_pipeline));
/// beyond that, new ones are dropped and counted. The stop flushes the profiles pipeline, so
/// the last window is exported before it returns; dropping the profiler without a stop sends
/// the last profile without waiting for it (the client's flush, shutdown or drop exports it).
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
    /// The stop flushes its profiles pipeline.
    client: OtlpClient,
}

/// What a continuous profiler has handed over so far.
#[derive(Debug, Default)]
struct Counts {
    /// Taken by the client's pipeline.
    exported: AtomicU64,
    /// Refused by it (queue full, client shut down).
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
        let client_for_stop = client.clone();
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
                    let counter = if client.send_profile(profile).is_queued() {
                        &thread_counts.exported
                    } else {
                        &thread_counts.failed
                    };
                    counter.fetch_add(1, Ordering::Relaxed);
                },
            )
        })?;
        Ok(ContinuousProfiler {
            stop,
            thread: Some(thread),
            counts,
            client: client_for_stop,
        })
    }

    /// Profiles handed over to the client's profiles pipeline so far (each period's, and the
    /// last at the stop): queued for export, not yet necessarily exported. What became of
    /// them is [`OtlpClient::profiles_stats`](otlp_sdk::OtlpClient::profiles_stats).
    pub fn exported(&self) -> u64 {
        self.counts.exported.load(Ordering::Relaxed)
    }

    /// Profiles the client's pipeline refused so far: its queue was full (the receiver slow or
    /// down) or the client was shut down. The client counts them too, with their reason.
    pub fn failed(&self) -> u64 {
        self.counts.failed.load(Ordering::Relaxed)
    }

    /// Stops sampling, sends the last profile, and flushes the client's profiles pipeline:
    /// returns once the profiles sent are exported, or fails with [`Kind::Export`] when they
    /// are not settled within the pipeline's export timeout (they are still exported
    /// afterwards if they can be) or the client was shut down first.
    pub async fn stop(mut self) -> Result<(), Error> {
        let client = self.client.clone();
        off_executor(move || self.finish())
            .await?
            .unwrap_or(Ok(()))?;
        client.flush_profiles().await.map_err(flush_failed)
    }

    /// [`stop`](ContinuousProfiler::stop) without a runtime.
    pub fn stop_blocking(mut self) -> Result<(), Error> {
        self.finish()?;
        self.client.flush_profiles_blocking().map_err(flush_failed)
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

/// The error of a stop whose flush did not settle the profiles sent (the source says why: a
/// timeout, or a client shut down).
fn flush_failed(e: otlp_sdk::Error) -> Error {
    Error::new(
        Kind::Export,
        "flushing the client's profiles pipeline at the profiler's stop failed",
    )
    .with_source(e)
}
