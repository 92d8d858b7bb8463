//! Profiles as the client exports them: [`ProfilesPayload`], what a profiler (the
//! `otlp-profiler` crate, `otlp::profile`) hands [`OtlpClient::export_profile`](crate::OtlpClient::export_profile).
//!
//! A profile brings its own dictionary (strings, functions, locations, mappings, stacks, links
//! and attributes, shared by its profiles), so each export is one request: the client adds its
//! resource and the payload's scope.

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
