//! Hooks for this crate's integration tests, which cannot reach the crate-internal sources;
//! not part of the API.

use super::record::MutexSource;
use crate::error::Error;
use crate::testing::Sample;

/// Lock contention sampling, on while this exists.
#[derive(Debug)]
pub struct MutexSession(MutexSource);

/// Starts sampling one contention in `every`.
pub fn start_mutex(every: u32) -> Result<MutexSession, Error> {
    crate::heap::testing::prepare_unwinding();
    MutexSource::start(every).map(MutexSession)
}

impl MutexSession {
    /// The contentions sampled since the last drain.
    pub fn drain(&mut self) -> Vec<Sample> {
        let mut out = Vec::new();
        self.0.drain(&mut |raw| out.push(Sample::from(raw)));
        out
    }

    /// Changes how many contentions go to one sample.
    pub fn set_every(&self, every: u32) {
        self.0.set_every(every);
    }

    /// Contentions dropped for want of room.
    pub fn dropped(&self) -> u64 {
        self.0.dropped()
    }

    /// Stops sampling (what was sampled can still be drained).
    pub fn stop(&mut self) {
        self.0.stop();
    }

    /// Stops sampling and forgets every sample.
    pub fn end(self) {
        drop(self);
    }
}
