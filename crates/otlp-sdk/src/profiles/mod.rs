//! Profiles as the client exports them: [`ProfilesPayload`], what a profiler (the
//! `otlp-profiler` crate, `otlp::profile`) hands the client, and the profiles pipeline's
//! defaults ([`default_pipeline`]).
//!
//! A profile brings its own dictionary (strings, functions, locations, mappings, stacks, links
//! and attributes, shared by its profiles), so each export is one request: the client adds its
//! resource and the payload's scope.
//!
//! Two ways out, both under the client's resource, through its exporter:
//!
//! - [`OtlpClient::send_profile`](crate::OtlpClient::send_profile) hands the profile to the
//!   client's profiles pipeline and returns at once: queued (a small queue,
//!   [`DEFAULT_QUEUE_SIZE`]), exported by the pipeline's thread with the pipeline's retries and
//!   export timeout, counted in [`OtlpClient::profiles_stats`](crate::OtlpClient::profiles_stats),
//!   and flushed and shut down with the other signals. For profiles made all the time (a
//!   continuous profiler).
//! - [`OtlpClient::export_profile`](crate::OtlpClient::export_profile) exports one profile now
//!   and returns its outcome: no queue, no pipeline accounting. For a one-off profile whose
//!   caller wants to know it arrived.

mod pipeline;

pub(crate) use pipeline::Profiles;
pub use pipeline::{DEFAULT_QUEUE_SIZE, default_pipeline};

use otlp_proto::Str;
use otlp_proto::collector::ExportProfilesServiceRequest;
use otlp_proto::common::InstrumentationScope;
use otlp_proto::profiles::{Profile, ProfilesDictionary, ResourceProfiles, ScopeProfiles};
use otlp_proto::resource::Resource;

/// Profiles sharing one dictionary, and the scope that produced them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProfilesPayload {
    /// The tables the profiles index into (entry 0 of each the zero value).
    pub dictionary: ProfilesDictionary,
    /// The profiles: one per sample type.
    pub profiles: Vec<Profile>,
    /// The scope that produced them (the profiler's name and version).
    pub scope: InstrumentationScope,
    /// The schema URL of the profiles' attributes.
    pub schema_url: Str,
}

impl ProfilesPayload {
    /// The export request of these profiles under `resource`.
    pub fn into_request(self, resource: Resource) -> ExportProfilesServiceRequest {
        ExportProfilesServiceRequest {
            resource_profiles: vec![ResourceProfiles {
                resource: Some(resource),
                scope_profiles: vec![ScopeProfiles {
                    scope: Some(self.scope),
                    profiles: self.profiles,
                    schema_url: self.schema_url,
                }],
                ..ResourceProfiles::default()
            }],
            dictionary: Some(self.dictionary),
        }
    }
}
