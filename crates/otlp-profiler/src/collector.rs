//! [`ProfileCollector`]: starts the samplers a [`ProfileConfig`] asks for, drains them on a
//! thread of its own into a profile (symbolizing there, never in a signal handler or an
//! allocation), and hands the profile over at [`stop`](ProfileCollector::stop).

use crate::config::{ProfileConfig, ProfileType};
use crate::error::{Error, Kind};
use crate::profile::Profile;
use crate::profile::builder::ProfileBuilder;
use crate::sample::RawSample;
use crate::source::Sources;
use crate::symbolize::Symbolizer;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often the collector thread drains the samplers' buffers (each holds far more than
/// this long's samples; a stop or a period's end wakes it at once).
const DRAIN_EVERY: Duration = Duration::from_secs(1);

/// Samples the profile types of its [`ProfileConfig`] between [`start`](ProfileCollector::start)
/// and [`stop`](ProfileCollector::stop).
///
/// ```no_run
/// use otlp_profiler::{ProfileCollector, ProfileConfig, ProfileType};
///
/// # async fn run() -> Result<(), otlp_profiler::Error> {
/// let collector = ProfileCollector::new(
///     ProfileConfig::new()
///         .with_profile_type(ProfileType::Cpu)
///         .with_sampling_frequency(100),
/// )
/// .await?;
/// collector.start().await?;
/// // ... the work to profile ...
/// let profile = collector.stop().await?;
/// for f in profile.top_functions(ProfileType::Cpu, 5) {
///     println!("{:>12} ns  {}", f.self_value, f.name);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ProfileCollector {
    config: ProfileConfig,
    symbolizer: Arc<Symbolizer>,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
enum State {
    #[default]
    Idle,
    Running(Running),
    Stopped,
}

#[derive(Debug)]
struct Running {
    /// Dropping it (or sending) tells the collector thread to finish.
    stop: mpsc::Sender<()>,
    thread: JoinHandle<Result<Profile, Error>>,
}

impl ProfileCollector {
    /// A collector for `config`, checked: a frequency outside 1..=10,000 Hz, a zero sampling
    /// rate or period is an error naming it.
    pub async fn new(config: ProfileConfig) -> Result<ProfileCollector, Error> {
        ProfileCollector::new_blocking(config)
    }

    /// [`new`](ProfileCollector::new) without a runtime.
    pub fn new_blocking(config: ProfileConfig) -> Result<ProfileCollector, Error> {
        check(&config)?;
        Ok(ProfileCollector {
            config,
            symbolizer: Arc::new(Symbolizer::default()),
            state: Mutex::new(State::Idle),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ProfileConfig {
        &self.config
    }

    /// Starts sampling. An error if it was started before, or if a profile type cannot be
    /// sampled here (the error names it: heap profiles need [`SamplingAllocator`](crate::SamplingAllocator)
    /// as the global allocator; CPU, block and thread profiles need Linux).
    pub async fn start(&self) -> Result<(), Error> {
        self.start_blocking()
    }

    /// [`start`](ProfileCollector::start) without a runtime.
    pub fn start_blocking(&self) -> Result<(), Error> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if !matches!(*state, State::Idle) {
            return Err(Error::new(
                Kind::State,
                "the profile collector was started already (make a new one to profile again)",
            ));
        }
        let sources = Sources::start(&self.config)?;
        let (stop, stopped) = mpsc::channel();
        let config = self.config.clone();
        let symbolizer = self.symbolizer.clone();
        let thread = spawn("otlp-profiler", move || {
            collect(config, symbolizer, sources, &stopped)
        })?;
        *state = State::Running(Running { stop, thread });
        Ok(())
    }

    /// Stops sampling and returns the profile of everything sampled since
    /// [`start`](ProfileCollector::start) (or until its configured duration ran out).
    pub async fn stop(&self) -> Result<Profile, Error> {
        let running = self.take_running()?;
        off_executor(move || finish(running))
            .await?
            .unwrap_or_else(|| {
                Err(Error::new(
                    Kind::System,
                    "the profiler's thread ended without a profile",
                ))
            })
    }

    /// [`stop`](ProfileCollector::stop) without a runtime.
    pub fn stop_blocking(&self) -> Result<Profile, Error> {
        finish(self.take_running()?)
    }

    fn take_running(&self) -> Result<Running, Error> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        match std::mem::replace(&mut *state, State::Stopped) {
            State::Running(running) => Ok(running),
            other => {
                let stopped = matches!(other, State::Stopped);
                *state = other;
                Err(Error::new(
                    Kind::State,
                    if stopped {
                        "the profile collector was stopped already"
                    } else {
                        "the profile collector was not started"
                    },
                ))
            }
        }
    }
}

impl Drop for ProfileCollector {
    fn drop(&mut self) {
        // Sampling stops with its collector, its profile dropped.
        if let Ok(running) = self.take_running() {
            let _ = finish(running);
        }
    }
}

fn finish(running: Running) -> Result<Profile, Error> {
    let _ = running.stop.send(());
    running.thread.join().unwrap_or_else(|_| {
        Err(Error::new(
            Kind::System,
            "the profiler's thread panicked; no profile",
        ))
    })
}

/// Starts a profiler thread named `name` running `f`.
pub(crate) fn spawn<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<JoinHandle<T>, Error> {
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(f)
        .map_err(|e| {
            Error::new(Kind::System, "starting the profiler's thread failed").with_source(e)
        })
}

/// Runs `f` on a thread of its own and waits for it without blocking the caller's executor (a
/// stop's last drain, symbolization or export take a while); `None` if the thread ended
/// without an answer.
pub(crate) async fn off_executor<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<Option<T>, Error> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    spawn("otlp-profiler-stop", move || {
        let _ = tx.send(f());
    })?;
    Ok(rx.await.ok())
}

/// Checks what can be checked before anything starts.
pub(crate) fn check(config: &ProfileConfig) -> Result<(), Error> {
    if !(1..=10_000).contains(&config.frequency) {
        return Err(Error::new(
            Kind::Config,
            format!(
                "sampling frequency {} Hz is out of range (1 to 10,000 Hz)",
                config.frequency
            ),
        ));
    }
    if config.sampling_rate == 0 {
        return Err(Error::new(
            Kind::Config,
            "heap sampling rate 0: give the mean bytes between samples (default 512 KiB)",
        ));
    }
    if config.period.is_zero() {
        return Err(Error::new(Kind::Config, "continuous profiling period 0"));
    }
    if config.duration.is_some_and(|d| d.is_zero()) {
        return Err(Error::new(Kind::Config, "profiling duration 0"));
    }
    Ok(())
}

/// The collector thread: drains `sources` into a profile until told to stop or the duration
/// runs out, then stops them and finishes the profile.
fn collect(
    config: ProfileConfig,
    symbolizer: Arc<Symbolizer>,
    sources: Sources,
    stopped: &mpsc::Receiver<()>,
) -> Result<Profile, Error> {
    let mut last = None;
    run(config, symbolizer, sources, stopped, None, &mut |p| {
        last = Some(p)
    });
    last.ok_or_else(|| Error::new(Kind::System, "the profiler finished without a profile"))
}

/// How long after a profile is handed over its memory is given back to the system.
const GIVE_BACK_AFTER: Duration = Duration::from_secs(5);

/// Drains `sources` until told to stop (or the configured duration runs out), handing a
/// profile to `done` every `period` if one is given, and always at the end.
pub(crate) fn run(
    config: ProfileConfig,
    symbolizer: Arc<Symbolizer>,
    mut sources: Sources,
    stopped: &mpsc::Receiver<()>,
    period: Option<Duration>,
    done: &mut dyn FnMut(Profile),
) {
    let started = Instant::now();
    let deadline = config.duration.map(|d| started + d);
    let new_builder = || {
        ProfileBuilder::new(
            &config,
            otlp_sdk::clock::now_unix_nanos(),
            symbolizer.clone(),
        )
    };
    let mut builder = new_builder();
    let mut period_end = period.map(|p| started + p);
    // When to hand memory back to the system after a profile went out: by then its export
    // has freed the request (on the pipeline's thread, into this thread's heap).
    let mut give_back_at: Option<Instant> = None;
    loop {
        let now = Instant::now();
        let wait = [deadline, period_end]
            .into_iter()
            .flatten()
            .map(|t| t.saturating_duration_since(now))
            .fold(DRAIN_EVERY, Duration::min);
        match stopped.recv_timeout(wait) {
            Err(RecvTimeoutError::Timeout) => {}
            // Told to stop, or the collector is gone.
            Ok(()) | Err(RecvTimeoutError::Disconnected) => break,
        }
        sources.drain(&mut |s: RawSample| builder.add(s));
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            break;
        }
        if give_back_at.is_some_and(|t| now >= t) {
            symbolizer.release_memory();
            give_back_at = None;
        }
        if let (Some(end), Some(p)) = (period_end, period)
            && now >= end
        {
            sources.snapshot(&mut |s: RawSample| builder.add(s));
            let finished = std::mem::replace(&mut builder, new_builder());
            done(finished.finish(otlp_sdk::clock::now_unix_nanos()));
            give_back_at = Some(now + GIVE_BACK_AFTER);
            period_end = Some(end + p);
        }
    }
    // The live heap as it is at the end, then what the samplers took up to their stop.
    sources.snapshot(&mut |s: RawSample| builder.add(s));
    sources.stop();
    sources.drain(&mut |s: RawSample| builder.add(s));
    done(builder.finish(otlp_sdk::clock::now_unix_nanos()));
}

/// The profile types of `config` that need `kind`'s sampler.
pub(crate) fn wants(config: &ProfileConfig, kind: ProfileType) -> bool {
    config.profile_types().contains(&kind)
}
