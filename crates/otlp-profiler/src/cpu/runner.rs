//! [`Runner`]: the collector thread a sampler owns, ticking over its [`Registry`], and the
//! sampler's orderly stop.

use super::bell::Bell;
use super::registry::Registry;
use super::signal;
use super::slot::Slot;
use crate::error::Error;
use crate::sample::RawSample;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

struct Shared {
    registry: Mutex<Registry>,
    stop: AtomicBool,
    bell: Bell,
}

/// A running sampler: its registry, its signal, its collector thread.
pub(crate) struct Runner {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    signal: libc::c_int,
    running: bool,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("signal", &self.signal)
            .field("running", &self.running)
            .finish()
    }
}

fn lock(registry: &Mutex<Registry>) -> MutexGuard<'_, Registry> {
    registry.lock().unwrap_or_else(|e| e.into_inner())
}

impl Runner {
    /// Starts a collector thread named `name` calling `tick(registry, own thread id)`, which
    /// returns how long to wait before the next tick (a ring of [`Runner::bell`] ends the wait
    /// early), after one first `tick` on the caller's thread. `signal` must be installed.
    pub(crate) fn start(
        name: &str,
        signal: libc::c_int,
        registry: Registry,
        mut tick: impl FnMut(&mut Registry, u32) -> Duration + Send + 'static,
    ) -> Result<Runner, Error> {
        let shared = Arc::new(Shared {
            registry: Mutex::new(registry),
            stop: AtomicBool::new(false),
            bell: Bell::new(),
        });
        let first = tick(&mut lock(&shared.registry), 0);
        let inner = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                let me = crate::threads::current();
                let mut wait = first;
                loop {
                    inner.bell.wait(wait);
                    if inner.stop.load(Ordering::Acquire) {
                        break;
                    }
                    wait = tick(&mut lock(&inner.registry), me);
                }
            });
        match thread {
            Ok(thread) => Ok(Runner {
                shared,
                thread: Some(thread),
                signal,
                running: true,
            }),
            Err(e) => {
                let mut runner = Runner {
                    shared,
                    thread: None,
                    signal,
                    running: true,
                };
                runner.stop();
                Err(Error::new(
                    crate::error::Kind::System,
                    "spawning the collector thread failed",
                )
                .with_source(e))
            }
        }
    }

    /// The bell the collector thread waits on between ticks: ringing it makes the thread tick
    /// now. Lives as long as the runner.
    pub(crate) fn bell(&self) -> &Bell {
        &self.shared.bell
    }

    /// Hands every sample taken so far (and its recorded state byte) to `sink`.
    pub(crate) fn drain(&mut self, sink: &mut dyn FnMut(RawSample, u8)) {
        let samples = {
            let mut registry = lock(&self.shared.registry);
            registry.collect();
            std::mem::take(&mut registry.samples)
        };
        for (sample, state) in samples {
            sink(sample, state);
        }
    }

    /// Samples lost so far (full rings, full buffer).
    pub(crate) fn dropped(&self) -> u64 {
        lock(&self.shared.registry).dropped
    }

    /// Stops the thread and the timers, keeps what was sampled for the next `drain`, and frees
    /// the slots once no signal can carry them. Idempotent: true the first time.
    pub(crate) fn stop(&mut self) -> bool {
        if !self.running {
            return false;
        }
        self.running = false;
        self.shared.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            self.shared.bell.ring();
            let _ = thread.join();
        }
        let mut registry = lock(&self.shared.registry);
        registry.disarm();
        // Signals already sent by a wall-clock sampler: give their threads time to take them.
        let deadline = Instant::now() + Duration::from_millis(200);
        while registry.any_outstanding() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        let last = signal::uninstall(self.signal);
        registry.collect();
        for slot in registry.clear() {
            free(slot, last);
        }
        true
    }
}

/// Frees a slot no signal can reach any more; when another sampler still uses the signal, a
/// slot with a signal outstanding is leaked instead (it may yet be delivered).
fn free(slot: Box<Slot>, signal_gone: bool) {
    if signal_gone || slot.outstanding.load(Ordering::Acquire) == 0 {
        drop(slot);
    } else {
        Box::leak(slot);
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        self.stop();
    }
}
