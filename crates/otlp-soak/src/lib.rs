//! Chaos and soak test of the SDK's export pipeline (test-only, unpublished).
//!
//! A workload process (`soak-workload`, a real [`otlp::OtlpClient`]) sends spans, log records
//! and a counter at a steady rate for a set duration, sampling its own RSS, and prints its
//! pipelines' final stats after shutdown. The driver ([`run`]) runs one workload per protocol
//! against one of our receivers on fixed loopback ports, and plays a chaos [`schedule`] on the
//! receiver: restarts (down for a few seconds, back on the same ports), slow answers (some
//! past the client's timeout), 503/`UNAVAILABLE`, partial success. Its sink
//! ([`sink::CountingSink`]) counts every item by id; [`check`] then holds the two sides
//! against each other (every item accounted for) and the RSS curve against a bound (memory
//! flat), and [`report`] prints the figures. `docs/soak.md` says how to run the hour.

pub mod check;
mod driver;
pub mod report;
pub mod schedule;
pub mod sink;
pub mod workload;

pub use driver::{Outcome, SoakConfig, WorkloadRun, run};

/// The attribute carrying each span's and log record's sequence number (0, 1, 2, ... per
/// workload): the receiver counts items by it, so duplicates and missing items are exact.
pub const SEQ_ATTRIBUTE: &str = "soak.seq";

/// The counter the workload adds every item to; each collection exports it as one metric of
/// one data point, identified by the point's timestamp.
pub const COUNTER: &str = "soak.items";
