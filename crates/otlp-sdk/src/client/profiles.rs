//! Profiles: the logic is in [`crate::profiles`]; these are the client's entry points.

use super::OtlpClient;
use crate::pipeline::{Enqueued, Stats};
use crate::profiles::ProfilesPayload;
use crate::{Error, ExportOutcome, Signal};

impl OtlpClient {
    /// Sends profiles through the client's profiles pipeline, under the client's resource.
    /// Never blocks (unless the pipeline is configured with
    /// [`Backpressure::Wait`](crate::pipeline::Backpressure::Wait)), like
    /// [`send_log`](OtlpClient::send_log): the pipeline's thread exports the profile with its
    /// retries and export timeout, [`force_flush`](OtlpClient::force_flush) and
    /// [`shutdown`](OtlpClient::shutdown) include it, and
    /// [`profiles_stats`](OtlpClient::profiles_stats) counts it. The queue is small
    /// ([`ClientConfig::with_profiles_pipeline`](crate::ClientConfig::with_profiles_pipeline));
    /// a profile that finds it full, or comes after the shutdown, is dropped and counted.
    ///
    /// `profile` makes a [`ProfilesPayload`]: the profiler's `Profile` (`otlp::profile`,
    /// feature `profiles`), or a payload built by hand. The result says at once whether the
    /// profile was queued; ignore it, or `.await` it for a `Result` (see [`Enqueued`]). Use this
    /// for profiles made all the time (a continuous profiler), and
    /// [`export_profile`](OtlpClient::export_profile) to export one now and learn its outcome.
    pub fn send_profile(&self, profile: impl Into<ProfilesPayload>) -> Enqueued {
        self.inner.profiles.send(profile.into())
    }

    /// Exports the profiles sent with [`send_profile`](OtlpClient::send_profile) before the
    /// call, waiting up to the profiles pipeline's export timeout: the other signals are left
    /// alone (a continuous profiler's stop calls it).
    pub async fn flush_profiles(&self) -> Result<(), Error> {
        self.inner.profiles.flush().await
    }

    /// [`flush_profiles`](OtlpClient::flush_profiles), blocking the calling thread.
    pub fn flush_profiles_blocking(&self) -> Result<(), Error> {
        crate::blocking::block_on(self.flush_profiles())
    }

    /// Exports profiles now, under the client's resource, through the client's exporter
    /// (protocol, compression, TLS and retries as for every signal), returning once the
    /// receiver accepted them (a partial success is a success) or the export failed. `profile`
    /// makes a [`ProfilesPayload`]: the profiler's `Profile` (`otlp::profile`, feature
    /// `profiles`), or a payload built by hand.
    ///
    /// No queue: the caller waits for the export, learns its outcome, and the profiles
    /// pipeline's statistics do not count it. Use it for a one-off profile whose arrival
    /// matters to the caller; [`send_profile`](OtlpClient::send_profile) for profiles made
    /// periodically, which should never hold up their maker.
    pub async fn export_profile(
        &self,
        profile: impl Into<ProfilesPayload>,
    ) -> Result<ExportOutcome, Error> {
        let request = self.inner.profiles.request(profile.into());
        self.inner.exporter.export(&request).await
    }

    /// [`export_profile`](OtlpClient::export_profile), waiting on the calling thread (no
    /// runtime needed).
    pub fn export_profile_blocking(
        &self,
        profile: impl Into<ProfilesPayload>,
    ) -> Result<ExportOutcome, Error> {
        crate::blocking::block_on(self.export_profile(profile))
    }

    /// The profiles pipeline's counters and gauges (its items are profiles requests, one per
    /// [`send_profile`](OtlpClient::send_profile); all zero before the first); see
    /// [`stats_for`](OtlpClient::stats_for).
    pub fn profiles_stats(&self) -> Stats {
        self.stats_for(Signal::Profiles)
    }
}
