//! The client's profiles side ([`Profiles`]): its [`SignalHub`] of whole profiles requests, and
//! the pipeline's defaults.

use super::ProfilesPayload;
use crate::hub::{BoxFuture, Component, SignalHub};
use crate::pipeline::{AdaptiveBatchConfig, Enqueued, Pipeline, ProfilesEncoder};
use crate::{Error, Exporter, Signal};
use otlp_proto::collector::ExportProfilesServiceRequest;
use otlp_proto::resource::Resource;
use std::fmt;
use std::sync::Arc;

/// The profiles a client's pipeline holds by default, beside the one being exported and the
/// one encoded ahead. A profile can be megabytes and a continuous profiler makes one a period
/// (a minute by default): a few cover a receiver's short outage without holding much memory.
pub const DEFAULT_QUEUE_SIZE: usize = 4;

// Profiles are big: the default queue stays small.
const _: () = assert!(DEFAULT_QUEUE_SIZE <= 8);

/// The profiles pipeline's configuration when
/// [`ClientConfig::with_profiles_pipeline`](crate::ClientConfig::with_profiles_pipeline) is not
/// given: [`AdaptiveBatchConfig::default`] with a queue of [`DEFAULT_QUEUE_SIZE`] profiles and
/// batches of one (a profile leaves as soon as it is sent: each is a request of its own). The
/// other settings are the defaults: a full queue drops the new profile (counted as
/// `dropped.queue_full`), an export (retries included) is abandoned after 30 s. No environment
/// variable sets it. Start from it to change one setting:
///
/// ```
/// use otlp::ClientConfig;
/// use otlp::pipeline::DropPolicy;
/// use otlp::profiles::default_pipeline;
///
/// let config = ClientConfig::new()
///     .with_profiles_pipeline(default_pipeline().with_drop_policy(DropPolicy::DropOldest));
/// ```
pub fn default_pipeline() -> AdaptiveBatchConfig {
    AdaptiveBatchConfig::default()
        .with_min_batch_size(1)
        .with_max_batch_size(1)
        .with_max_queue_size(DEFAULT_QUEUE_SIZE)
}

/// The profiles side of a client: one pipeline of whole requests (each under the client's
/// resource), started by the first profile sent.
pub(crate) struct Profiles {
    hub: Arc<SignalHub<ExportProfilesServiceRequest>>,
    resource: Resource,
}

impl Profiles {
    /// The profiles side of a client exporting through `exporter` under `resource`; `config`
    /// is validated by the caller.
    pub(crate) fn new(exporter: Exporter, resource: Resource, config: AdaptiveBatchConfig) -> Self {
        let start = Box::new(move |config: &AdaptiveBatchConfig| {
            Pipeline::new(exporter.clone(), ProfilesEncoder, config.clone())
        });
        Profiles {
            hub: Arc::new(SignalHub::new(Signal::Profiles, config, start)),
            resource,
        }
    }

    /// The hub, as the client registers it.
    pub(crate) fn component(&self) -> Arc<dyn Component> {
        self.hub.clone()
    }

    /// `payload` as a request under the client's resource.
    pub(crate) fn request(&self, payload: ProfilesPayload) -> ExportProfilesServiceRequest {
        payload.into_request(self.resource.clone())
    }

    /// Offers `payload` to the pipeline, starting it if needed.
    pub(crate) fn send(&self, payload: ProfilesPayload) -> Enqueued {
        self.hub.enqueue(self.request(payload))
    }

    /// Exports the profiles sent before the call, waiting up to the pipeline's export timeout.
    pub(crate) fn flush(&self) -> BoxFuture<'_, Result<(), Error>> {
        self.hub.force_flush(self.hub.export_timeout())
    }
}

impl fmt::Debug for Profiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Profiles")
            .field("hub", &self.hub)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ExporterConfig;
    use crate::pipeline::DropReason;
    use std::time::Duration;

    fn disabled() -> Exporter {
        Exporter::new(ExporterConfig::default().with_disabled(true)).expect("exporter")
    }

    #[test]
    fn the_default_pipeline_is_valid_small_and_sends_one_profile_a_request() {
        let config = default_pipeline();
        config.validate().expect("valid");
        assert_eq!(config.max_queue_size(), DEFAULT_QUEUE_SIZE);
        assert_eq!((config.min_batch_size(), config.max_batch_size()), (1, 1));
    }

    #[test]
    fn profiles_go_under_the_resource_and_the_pipeline_starts_on_first_use() {
        let resource = Resource {
            attributes: vec![otlp_proto::common::KeyValue::new("service.name", "p")],
            ..Resource::default()
        };
        let profiles = Profiles::new(disabled(), resource.clone(), default_pipeline());
        let component = profiles.component();
        assert!(!component.is_started());
        let request = profiles.request(ProfilesPayload::default());
        assert_eq!(
            request.resource_profiles[0].resource.as_ref(),
            Some(&resource)
        );
        assert!(profiles.send(ProfilesPayload::default()).is_queued());
        assert!(component.is_started());
        crate::blocking::block_on(profiles.flush()).expect("flushed");
        let stats = component.stats();
        assert_eq!((stats.accepted, stats.exported), (1, 1), "{stats:?}");
        crate::blocking::block_on(component.shutdown(Duration::from_secs(5))).expect("shut down");
        assert_eq!(
            profiles.send(ProfilesPayload::default()),
            Enqueued::Dropped(DropReason::AfterShutdown)
        );
        assert!(component.stats().is_consistent());
    }
}
