//! The optional persistent queue: a write-ahead log on disk, so that items accepted before a
//! crash are exported after a restart.
//!
//! With [`AdaptiveBatchConfig::with_persistent_queue`](super::AdaptiveBatchConfig::with_persistent_queue),
//! the pipeline's worker writes each batch it takes from the in-memory queue to a log in the
//! given directory, as the encoded request, before exporting it, and records there when the
//! export is settled. A process that starts on the same directory exports what was left, in the
//! order it was written, before anything new.
//!
//! ```text
//!  enqueue ─► memory queue ─► worker: batch ─► encode ─► append to the log ─► export ─► ack
//!             (bounded, drop                           (segments, CRC per      (retried until
//!              policy applies)                           record, size cap)       the server answers)
//! ```
//!
//! # What is promised
//!
//! - **Durable once written.** A batch is in the log once the worker has taken it from the
//!   memory queue: when it is due (full, or its oldest item has waited the scheduled delay), at a
//!   flush, at shutdown, or when [`Pipeline::persist`](super::Pipeline::persist) asks. Items still
//!   in the memory queue when the process dies are lost, as without a persistent queue; call
//!   `persist` where that matters. A write survives the process being killed as soon as it is
//!   made; surviving a crash of the machine depends on the [`Fsync`] policy.
//! - **At least once across a crash.** Each record is acknowledged in the log when its export is
//!   settled (exported, partly rejected, or refused for good). A batch whose acknowledgement had
//!   not reached the log when the process died is sent again after the restart: the server may
//!   see it twice. Within one process, a batch is exported once per successful export, as without
//!   the log.
//! - **Outages are held on disk, not dropped.** A batch whose export fails for a transient reason
//!   after the exporter's retries stays in the log and is sent again later (with a backoff of
//!   1 s doubling to 30 s), in order; the memory queue keeps draining into the log meanwhile. Only
//!   a refusal for good (e.g. HTTP 400) drops a batch.
//! - **Bounded.** The log holds at most [`max_bytes`](PersistentQueue::with_max_bytes) (plus one
//!   batch). When it is full, batches stay in the memory queue, whose [`DropPolicy`](super::DropPolicy)
//!   then applies.
//! - **Damage is detected.** Every record carries a CRC-32; a torn or corrupted record (a write
//!   cut short by a crash, a damaged disk) ends the readable part of its segment. At start it is
//!   skipped, cut off and counted ([`Stats::corrupt_records`](super::Stats::corrupt_records));
//!   the records before it are exported as usual.
//! - **Accounted for.** Items found in the log at start are counted as
//!   [`Stats::recovered`](super::Stats::recovered) and then settle like any other, so
//!   `accepted + recovered == exported + dropped + rejected + queued` holds, `queued` including
//!   [`Stats::stored`](super::Stats::stored), the items in the log.
//! - **Shutdown keeps them.** At shutdown the memory queue is written to the log; what has not
//!   been exported by the deadline stays there for the next start instead of being dropped.
//!
//! One process at a time: the directory is locked while a pipeline uses it. Give each pipeline a
//! directory of its own; the client's [`ClientConfig::with_persistent_queue`](crate::ClientConfig::with_persistent_queue)
//! and `OTLP_PERSISTENT_QUEUE_DIR` use a subdirectory per signal.

mod backlog;
mod record;
mod wal;

pub(crate) use backlog::Backlog;

use crate::config::env::parse_millis;
use crate::error::Error;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// When the persistent queue asks the operating system to put its writes on disk (`fdatasync`).
///
/// Every write reaches the operating system at once, so a killed process loses nothing that was
/// written; the policy decides what a crash of the machine (power loss, kernel panic) may lose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Fsync {
    /// After every batch written, before it is exported. A machine crash loses no written batch;
    /// each batch costs a disk flush.
    EveryBatch,
    /// At most this long after a write. A machine crash may lose the writes of the last interval.
    Interval(Duration),
    /// Never: the operating system writes back when it chooses.
    Never,
}

impl Default for Fsync {
    /// [`Fsync::Interval`] of one second.
    fn default() -> Self {
        Fsync::Interval(Duration::from_secs(1))
    }
}

/// A pipeline's persistent queue: where, how large, how often synced. See the
/// [module docs](self).
///
/// ```
/// use otlp::pipeline::{AdaptiveBatchConfig, Fsync, PersistentQueue};
/// use std::time::Duration;
///
/// let queue = PersistentQueue::new("/var/lib/my-service/otlp/traces")
///     .with_max_bytes(256 * 1024 * 1024)
///     .with_fsync(Fsync::EveryBatch);
/// let config = AdaptiveBatchConfig::default().with_persistent_queue(queue);
/// assert!(config.persistent_queue().is_some());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct PersistentQueue {
    dir: PathBuf,
    max_bytes: u64,
    segment_bytes: Option<u64>,
    fsync: Fsync,
}

/// The default size cap: 1 GiB.
pub const DEFAULT_MAX_BYTES: u64 = 1 << 30;

impl PersistentQueue {
    /// A persistent queue in `dir` (created if missing), with a size cap of
    /// [`DEFAULT_MAX_BYTES`] and [`Fsync::default`].
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        PersistentQueue {
            dir: dir.into(),
            max_bytes: DEFAULT_MAX_BYTES,
            segment_bytes: None,
            fsync: Fsync::default(),
        }
    }

    /// The most the log may hold on disk, in bytes (default 1 GiB). At least 1 MiB.
    pub fn with_max_bytes(mut self, bytes: u64) -> Self {
        self.max_bytes = bytes;
        self
    }

    /// The size at which the log starts a new segment file (default a sixteenth of the cap,
    /// between 1 and 16 MiB). Space is given back a whole segment at a time, so a log that is
    /// all sent still holds up to one segment (per signal) on disk.
    pub fn with_segment_bytes(mut self, bytes: u64) -> Self {
        self.segment_bytes = Some(bytes);
        self
    }

    /// When writes are synced to disk (default [`Fsync::Interval`] of 1 s).
    pub fn with_fsync(mut self, fsync: Fsync) -> Self {
        self.fsync = fsync;
        self
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The size cap in bytes.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// The segment size in bytes.
    pub fn segment_bytes(&self) -> u64 {
        self.segment_bytes
            .unwrap_or_else(|| (self.max_bytes / 16).clamp(1 << 20, 16 << 20))
    }

    /// The sync policy.
    pub fn fsync(&self) -> Fsync {
        self.fsync
    }

    /// The same queue in `dir`'s subdirectory `name` (one per signal).
    pub(crate) fn in_subdir(mut self, name: &str) -> Self {
        self.dir.push(name);
        self
    }

    pub(crate) fn validate(&self) -> Result<(), Error> {
        if self.max_bytes < 1 << 20 {
            return Err(Error::config(format!(
                "the persistent queue's max_bytes {} is below the minimum of 1 MiB",
                self.max_bytes
            )));
        }
        if self.segment_bytes() == 0 || self.segment_bytes() > self.max_bytes {
            return Err(Error::config(format!(
                "the persistent queue's segment_bytes {} must be positive and at most max_bytes {}",
                self.segment_bytes(),
                self.max_bytes
            )));
        }
        if matches!(self.fsync, Fsync::Interval(d) if d.is_zero()) {
            return Err(Error::config(
                "the persistent queue's fsync interval must be positive (or use Fsync::EveryBatch)",
            ));
        }
        Ok(())
    }

    /// Reads `OTLP_PERSISTENT_QUEUE_DIR` (unset or empty: no persistent queue),
    /// `OTLP_PERSISTENT_QUEUE_MAX_BYTES` and `OTLP_PERSISTENT_QUEUE_FSYNC` (`batch`, `never`, or an
    /// interval in milliseconds) through `lookup`; a malformed value is an error naming the
    /// variable.
    pub(crate) fn from_env_source(
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, Error> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let Some(dir) = get(ENV_DIR) else {
            return Ok(None);
        };
        let mut queue = PersistentQueue::new(dir.trim());
        if let Some(v) = get(ENV_MAX_BYTES) {
            queue.max_bytes = v
                .trim()
                .parse::<u64>()
                .map_err(|_| Error::env(ENV_MAX_BYTES, &v, "expected a number of bytes"))?;
        }
        if let Some(v) = get(ENV_FSYNC) {
            queue.fsync = match v.trim() {
                "batch" => Fsync::EveryBatch,
                "never" => Fsync::Never,
                other => match parse_millis(other) {
                    Some(d) if !d.is_zero() => Fsync::Interval(d),
                    _ => {
                        return Err(Error::env(
                            ENV_FSYNC,
                            &v,
                            "expected `batch`, `never` or a positive number of milliseconds",
                        ));
                    }
                },
            };
        }
        queue.validate()?;
        Ok(Some(queue))
    }
}

const ENV_DIR: &str = "OTLP_PERSISTENT_QUEUE_DIR";
const ENV_MAX_BYTES: &str = "OTLP_PERSISTENT_QUEUE_MAX_BYTES";
const ENV_FSYNC: &str = "OTLP_PERSISTENT_QUEUE_FSYNC";

#[cfg(test)]
mod tests {
    use super::*;

    fn read(vars: &[(&str, &str)]) -> Result<Option<PersistentQueue>, Error> {
        PersistentQueue::from_env_source(&|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn environment_sets_dir_cap_and_fsync() {
        assert_eq!(read(&[]).unwrap(), None);
        assert_eq!(read(&[(ENV_DIR, " ")]).unwrap(), None);
        let q = read(&[
            (ENV_DIR, "/tmp/q"),
            (ENV_MAX_BYTES, "2097152"),
            (ENV_FSYNC, "250"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(q.dir(), Path::new("/tmp/q"));
        assert_eq!(q.max_bytes(), 2 << 20);
        assert_eq!(q.fsync(), Fsync::Interval(Duration::from_millis(250)));
        assert_eq!(q.segment_bytes(), 1 << 20);
        let q = read(&[(ENV_DIR, "/q"), (ENV_FSYNC, "batch")])
            .unwrap()
            .unwrap();
        assert_eq!(q.fsync(), Fsync::EveryBatch);
        assert_eq!(q.max_bytes(), DEFAULT_MAX_BYTES);
    }

    #[test]
    fn malformed_values_name_the_variable() {
        for (var, value) in [
            (ENV_MAX_BYTES, "lots"),
            (ENV_FSYNC, "sometimes"),
            (ENV_FSYNC, "0"),
        ] {
            let err = read(&[(ENV_DIR, "/q"), (var, value)]).unwrap_err();
            assert!(err.is_config());
            assert!(err.to_string().contains(var), "{err}");
        }
        let err = read(&[(ENV_DIR, "/q"), (ENV_MAX_BYTES, "1000")]).unwrap_err();
        assert!(err.to_string().contains("1 MiB"), "{err}");
    }
}
