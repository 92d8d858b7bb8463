//! [`AdaptiveBatchConfig`], [`DropPolicy`] and [`Backpressure`]: how a pipeline queues, batches
//! and sheds load, set in code or read from the `OTEL_BSP_*` / `OTEL_BLRP_*` variables.

use super::persist::PersistentQueue;
use crate::config::env::parse_millis;
use crate::error::Error;
use otlp_proto::Signal;
use std::time::Duration;

/// What to do with an item when the queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum DropPolicy {
    /// Drop the oldest queued item (of either priority) to make room for the new one.
    DropOldest,
    /// Drop the new item (the specification's batch processor behaviour).
    DropNewest,
    /// Drop a queued item chosen at random, or the new one, each with the same chance.
    DropRandom,
    /// Drop a [`Normal`](super::Priority::Normal) item before any
    /// [`High`](super::Priority::High) one: a new normal item is dropped; a new high item
    /// displaces the newest queued normal item, or, when only high items are queued, is dropped
    /// itself. Among items of one priority this is [`DropNewest`](DropPolicy::DropNewest).
    /// The default: ordinary items behave as the specification says, and error spans and
    /// ERROR-and-above logs are the last to go.
    #[default]
    DropLowPriority,
}

/// Whether [`Pipeline::enqueue`](super::Pipeline::enqueue) may wait for room in a full queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Backpressure {
    /// Never wait: a full queue applies the [`DropPolicy`] at once. The default.
    #[default]
    Never,
    /// Block the calling thread up to this long for room, then apply the [`DropPolicy`].
    ///
    /// This blocks: use it on threads that may block (not on an async executor thread, where it
    /// stalls every task of that thread for up to the timeout).
    Wait(Duration),
}

/// How a pipeline queues and batches: sizes adapt between `min_batch_size` and `max_batch_size`
/// to keep export latency near `target_latency` (see [`AimdController`](super::AimdController)).
///
/// [`Default`] reads nothing from the environment; [`AdaptiveBatchConfig::from_env`] overlays the
/// specification's variables for a signal and reports malformed values by name.
///
/// ```
/// use otlp::pipeline::{AdaptiveBatchConfig, DropPolicy};
/// use std::time::Duration;
///
/// let config = AdaptiveBatchConfig::default()
///     .with_max_queue_size(50_000)
///     .with_target_latency(Duration::from_millis(50))
///     .with_drop_policy(DropPolicy::DropOldest);
/// assert_eq!(config.max_queue_size(), 50_000);
/// assert!(config.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct AdaptiveBatchConfig {
    min_batch_size: usize,
    max_batch_size: usize,
    target_latency: Duration,
    max_queue_size: usize,
    max_batch_bytes: usize,
    scheduled_delay: Duration,
    export_timeout: Duration,
    max_concurrent_exports: usize,
    drop_policy: DropPolicy,
    backpressure: Backpressure,
    persistent_queue: Option<PersistentQueue>,
}

impl Default for AdaptiveBatchConfig {
    fn default() -> Self {
        AdaptiveBatchConfig {
            min_batch_size: 64,
            max_batch_size: 1024,
            target_latency: Duration::from_millis(100),
            max_queue_size: 10_000,
            max_batch_bytes: 4 * 1024 * 1024,
            scheduled_delay: Duration::from_secs(1),
            export_timeout: Duration::from_secs(30),
            max_concurrent_exports: 1,
            drop_policy: DropPolicy::default(),
            backpressure: Backpressure::default(),
            persistent_queue: None,
        }
    }
}

/// The variables of one signal's batch processor in the specification.
struct EnvNames {
    schedule_delay: &'static str,
    export_timeout: &'static str,
    max_queue_size: &'static str,
    max_export_batch_size: &'static str,
}

fn env_names(signal: Signal) -> Option<EnvNames> {
    match signal {
        Signal::Traces => Some(EnvNames {
            schedule_delay: "OTEL_BSP_SCHEDULE_DELAY",
            export_timeout: "OTEL_BSP_EXPORT_TIMEOUT",
            max_queue_size: "OTEL_BSP_MAX_QUEUE_SIZE",
            max_export_batch_size: "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
        }),
        Signal::Logs => Some(EnvNames {
            schedule_delay: "OTEL_BLRP_SCHEDULE_DELAY",
            export_timeout: "OTEL_BLRP_EXPORT_TIMEOUT",
            max_queue_size: "OTEL_BLRP_MAX_QUEUE_SIZE",
            max_export_batch_size: "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE",
        }),
        // Metrics are read periodically and profiles have no batch processor variables.
        Signal::Metrics | Signal::Profiles => None,
    }
}

impl AdaptiveBatchConfig {
    /// The defaults overlaid with the batch processor variables of `signal`: `OTEL_BSP_*` for
    /// traces, `OTEL_BLRP_*` for logs (`SCHEDULE_DELAY`, `EXPORT_TIMEOUT` in milliseconds,
    /// `MAX_QUEUE_SIZE`, `MAX_EXPORT_BATCH_SIZE`); metrics and profiles have none. For every
    /// signal, `OTLP_PERSISTENT_QUEUE_DIR` turns on a [persistent queue](super::persist) in its
    /// subdirectory named for the signal (`traces`, `logs`, ...), with
    /// `OTLP_PERSISTENT_QUEUE_MAX_BYTES` and `OTLP_PERSISTENT_QUEUE_FSYNC` (`batch`, `never`, or
    /// milliseconds). Empty values count as unset; a malformed one is an error naming the
    /// variable.
    pub fn from_env(signal: Signal) -> Result<Self, Error> {
        AdaptiveBatchConfig::default().with_env_source(signal, &|name| std::env::var(name).ok())
    }

    /// Like [`from_env`](AdaptiveBatchConfig::from_env) on this configuration, with the variables
    /// looked up through `lookup`.
    ///
    /// ```
    /// use otlp::pipeline::AdaptiveBatchConfig;
    /// use otlp::Signal;
    ///
    /// let err = AdaptiveBatchConfig::default()
    ///     .with_env_source(Signal::Logs, &|name| {
    ///         (name == "OTEL_BLRP_MAX_QUEUE_SIZE").then(|| "lots".to_string())
    ///     })
    ///     .unwrap_err();
    /// assert!(err.to_string().contains("OTEL_BLRP_MAX_QUEUE_SIZE"));
    /// ```
    pub fn with_env_source(
        mut self,
        signal: Signal,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, Error> {
        if let Some(queue) = PersistentQueue::from_env_source(lookup)? {
            self.persistent_queue = Some(queue.in_subdir(&signal.to_string()));
        }
        let Some(names) = env_names(signal) else {
            return Ok(self);
        };
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let millis = |name: &str| -> Result<Option<Duration>, Error> {
            get(name)
                .map(|v| {
                    parse_millis(&v).ok_or_else(|| Error::env(name, &v, "expected milliseconds"))
                })
                .transpose()
        };
        let count = |name: &str| -> Result<Option<usize>, Error> {
            get(name)
                .map(|v| match v.trim().parse::<usize>() {
                    Ok(n) if n > 0 => Ok(n),
                    _ => Err(Error::env(name, &v, "expected a positive whole number")),
                })
                .transpose()
        };
        if let Some(d) = millis(names.schedule_delay)? {
            self.scheduled_delay = d;
        }
        if let Some(d) = millis(names.export_timeout)? {
            self.export_timeout = d;
        }
        if let Some(n) = count(names.max_queue_size)? {
            self.max_queue_size = n;
        }
        if let Some(n) = count(names.max_export_batch_size)? {
            self.max_batch_size = n;
            self.min_batch_size = self.min_batch_size.min(n);
        }
        // The specification: a batch size above the queue size is clamped to it.
        self.max_batch_size = self.max_batch_size.min(self.max_queue_size);
        self.min_batch_size = self.min_batch_size.min(self.max_batch_size);
        Ok(self)
    }

    /// Checks that the sizes are consistent: all positive, `min_batch_size <= max_batch_size <=
    /// max_queue_size`, and a positive `target_latency`. [`Pipeline::new`](super::Pipeline::new)
    /// calls it.
    pub fn validate(&self) -> Result<(), Error> {
        let fail = |what: String| {
            Err(Error::config(format!(
                "invalid batch configuration: {what}"
            )))
        };
        if self.min_batch_size == 0 || self.max_queue_size == 0 || self.max_batch_bytes == 0 {
            return fail("sizes must be positive".into());
        }
        if self.max_concurrent_exports == 0 {
            return fail("max_concurrent_exports must be at least 1".into());
        }
        if self.min_batch_size > self.max_batch_size {
            return fail(format!(
                "min_batch_size {} is above max_batch_size {}",
                self.min_batch_size, self.max_batch_size
            ));
        }
        if self.max_batch_size > self.max_queue_size {
            return fail(format!(
                "max_batch_size {} is above max_queue_size {}",
                self.max_batch_size, self.max_queue_size
            ));
        }
        if self.target_latency.is_zero() {
            return fail("target_latency must be positive".into());
        }
        if let Some(queue) = &self.persistent_queue {
            queue.validate()?;
        }
        Ok(())
    }

    /// The smallest batch the controller shrinks to. Default: 64.
    pub fn with_min_batch_size(mut self, n: usize) -> Self {
        self.min_batch_size = n;
        self
    }

    /// The largest batch the controller grows to (batches start at the minimum). Default: 1024.
    /// Env: `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`, `OTEL_BLRP_MAX_EXPORT_BATCH_SIZE`.
    pub fn with_max_batch_size(mut self, n: usize) -> Self {
        self.max_batch_size = n;
        self
    }

    /// The export latency the batch size is steered to: it grows while exports take less than
    /// half of it and halves when one takes longer. Default: 100 ms.
    pub fn with_target_latency(mut self, latency: Duration) -> Self {
        self.target_latency = latency;
        self
    }

    /// The most items queued, both priorities together. Default: 10 000. Env:
    /// `OTEL_BSP_MAX_QUEUE_SIZE`, `OTEL_BLRP_MAX_QUEUE_SIZE`.
    pub fn with_max_queue_size(mut self, n: usize) -> Self {
        self.max_queue_size = n;
        self
    }

    /// The largest request body, encoded and before compression: a batch over it is split,
    /// never dropped (an item that alone is larger is sent alone). Default: 4 MiB.
    pub fn with_max_batch_bytes(mut self, bytes: usize) -> Self {
        self.max_batch_bytes = bytes;
        self
    }

    /// The longest an item waits for its batch to fill: when the oldest queued item is this old,
    /// whatever is queued is sent. Default: 1 s (the specification's is 5 s for spans and 1 s
    /// for logs; with adaptive batching, full batches leave sooner anyway). Env:
    /// `OTEL_BSP_SCHEDULE_DELAY`, `OTEL_BLRP_SCHEDULE_DELAY` (milliseconds).
    pub fn with_scheduled_delay(mut self, delay: Duration) -> Self {
        self.scheduled_delay = delay;
        self
    }

    /// The longest one export (retries included) may take before the pipeline abandons it and
    /// counts its items as dropped (retries exhausted). Default: 30 s. Env:
    /// `OTEL_BSP_EXPORT_TIMEOUT`, `OTEL_BLRP_EXPORT_TIMEOUT` (milliseconds). The exporter's own
    /// timeout ([`ExporterConfig::with_timeout`](crate::ExporterConfig::with_timeout)) applies
    /// too; the shorter one wins.
    pub fn with_export_timeout(mut self, timeout: Duration) -> Self {
        self.export_timeout = timeout;
        self
    }

    /// How many export requests may be in flight at once. Default: 1.
    pub fn with_max_concurrent_exports(mut self, n: usize) -> Self {
        self.max_concurrent_exports = n;
        self
    }

    /// What a full queue drops. Default: [`DropPolicy::DropLowPriority`].
    pub fn with_drop_policy(mut self, policy: DropPolicy) -> Self {
        self.drop_policy = policy;
        self
    }

    /// Whether enqueueing may wait for room. Default: [`Backpressure::Never`].
    pub fn with_backpressure(mut self, backpressure: Backpressure) -> Self {
        self.backpressure = backpressure;
        self
    }

    /// Keeps batches in a [persistent queue](super::persist) on disk, so that what was taken
    /// from the memory queue survives a crash and outages are held on disk. Default: none.
    pub fn with_persistent_queue(mut self, queue: PersistentQueue) -> Self {
        self.persistent_queue = Some(queue);
        self
    }

    /// The persistent queue, if any.
    pub fn persistent_queue(&self) -> Option<&PersistentQueue> {
        self.persistent_queue.as_ref()
    }

    /// See [`with_min_batch_size`](Self::with_min_batch_size).
    pub fn min_batch_size(&self) -> usize {
        self.min_batch_size
    }

    /// See [`with_max_batch_size`](Self::with_max_batch_size).
    pub fn max_batch_size(&self) -> usize {
        self.max_batch_size
    }

    /// See [`with_target_latency`](Self::with_target_latency).
    pub fn target_latency(&self) -> Duration {
        self.target_latency
    }

    /// See [`with_max_queue_size`](Self::with_max_queue_size).
    pub fn max_queue_size(&self) -> usize {
        self.max_queue_size
    }

    /// See [`with_max_batch_bytes`](Self::with_max_batch_bytes).
    pub fn max_batch_bytes(&self) -> usize {
        self.max_batch_bytes
    }

    /// See [`with_scheduled_delay`](Self::with_scheduled_delay).
    pub fn scheduled_delay(&self) -> Duration {
        self.scheduled_delay
    }

    /// See [`with_export_timeout`](Self::with_export_timeout).
    pub fn export_timeout(&self) -> Duration {
        self.export_timeout
    }

    /// See [`with_max_concurrent_exports`](Self::with_max_concurrent_exports).
    pub fn max_concurrent_exports(&self) -> usize {
        self.max_concurrent_exports
    }

    /// See [`with_drop_policy`](Self::with_drop_policy).
    pub fn drop_policy(&self) -> DropPolicy {
        self.drop_policy
    }

    /// See [`with_backpressure`](Self::with_backpressure).
    pub fn backpressure(&self) -> Backpressure {
        self.backpressure
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn read(signal: Signal, vars: &[(&str, &str)]) -> Result<AdaptiveBatchConfig, Error> {
        let vars: HashMap<_, _> = vars.iter().copied().collect();
        AdaptiveBatchConfig::default()
            .with_env_source(signal, &|name| vars.get(name).map(|v| v.to_string()))
    }

    #[test]
    fn defaults_are_the_documented_ones_and_valid() {
        let c = AdaptiveBatchConfig::default();
        assert_eq!(
            (c.min_batch_size(), c.max_batch_size(), c.max_queue_size()),
            (64, 1024, 10_000)
        );
        assert_eq!(c.target_latency(), Duration::from_millis(100));
        assert_eq!(c.max_batch_bytes(), 4 << 20);
        assert_eq!(c.max_concurrent_exports(), 1);
        assert_eq!(c.drop_policy(), DropPolicy::DropLowPriority);
        assert_eq!(c.backpressure(), Backpressure::Never);
        c.validate().expect("defaults are valid");
    }

    #[test]
    fn bsp_and_blrp_variables_are_read_for_their_signal_only() {
        let vars = [
            ("OTEL_BSP_SCHEDULE_DELAY", "250"),
            ("OTEL_BSP_EXPORT_TIMEOUT", "7000"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "4096"),
            ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "32"),
            ("OTEL_BLRP_MAX_QUEUE_SIZE", "123"),
        ];
        let traces = read(Signal::Traces, &vars).expect("valid");
        assert_eq!(traces.scheduled_delay(), Duration::from_millis(250));
        assert_eq!(traces.export_timeout(), Duration::from_secs(7));
        assert_eq!(traces.max_queue_size(), 4096);
        assert_eq!(traces.max_batch_size(), 32);
        assert_eq!(traces.min_batch_size(), 32, "min follows a smaller max");
        traces.validate().expect("valid");
        let logs = read(Signal::Logs, &vars).expect("valid");
        assert_eq!(logs.max_queue_size(), 123);
        assert_eq!(logs.max_batch_size(), 123, "clamped to the queue size");
        assert_eq!(logs.scheduled_delay(), Duration::from_secs(1));
        logs.validate().expect("valid");
        assert_eq!(
            read(Signal::Metrics, &vars).expect("none read"),
            AdaptiveBatchConfig::default()
        );
        // Empty counts as unset.
        assert_eq!(
            read(Signal::Traces, &[("OTEL_BSP_MAX_QUEUE_SIZE", " ")]).expect("unset"),
            AdaptiveBatchConfig::default()
        );
    }

    #[test]
    fn malformed_values_name_the_variable() {
        for (var, value) in [
            ("OTEL_BSP_SCHEDULE_DELAY", "soon"),
            ("OTEL_BSP_EXPORT_TIMEOUT", "-1"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "0"),
            ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "1.5"),
        ] {
            let err = read(Signal::Traces, &[(var, value)]).expect_err(var);
            assert!(err.is_config(), "{err}");
            assert!(err.to_string().contains(var), "{err}");
            assert!(err.to_string().contains(value), "{err}");
        }
        let err = read(Signal::Logs, &[("OTEL_BLRP_SCHEDULE_DELAY", "1s")]).expect_err("ms only");
        assert!(
            err.to_string()
                .starts_with("OTEL_BLRP_SCHEDULE_DELAY=\"1s\""),
            "{err}"
        );
    }

    #[test]
    fn validate_rejects_inconsistent_sizes() {
        let base = AdaptiveBatchConfig::default();
        for bad in [
            base.clone().with_min_batch_size(0),
            base.clone().with_min_batch_size(2000),
            base.clone().with_max_batch_size(20_000),
            base.clone().with_max_concurrent_exports(0),
            base.clone().with_max_batch_bytes(0),
            base.clone().with_target_latency(Duration::ZERO),
        ] {
            assert!(bad.validate().expect_err("invalid").is_config());
        }
    }
}
