//! `opentelemetry.proto.profiles.v1development` at OTLP v1.10: profiles with a shared dictionary.
//!
//! Every table of [`ProfilesDictionary`] starts with a zero-value element at index 0; samples refer
//! to stacks, stacks to locations, locations to mappings and functions, all by index.

use crate::common::{AnyValue, InstrumentationScope};
use crate::resource::Resource;
use crate::{Str, message};
use bytes::Bytes;

message! {
    /// Lookup tables shared by all profiles of a request.
    ProfilesDictionary {
        /// Binaries and libraries.
        mapping_table: Vec<Mapping> = 1 => repeated "mappingTable";
        /// Code locations.
        location_table: Vec<Location> = 2 => repeated "locationTable";
        /// Functions.
        function_table: Vec<Function> = 3 => repeated "functionTable";
        /// Trace/span links.
        link_table: Vec<Link> = 4 => repeated "linkTable";
        /// Strings; index 0 is the empty string.
        string_table: Vec<Str> = 5 => repeated_string "stringTable";
        /// Attributes with units.
        attribute_table: Vec<KeyValueAndUnit> = 6 => repeated "attributeTable";
        /// Call stacks.
        stack_table: Vec<Stack> = 7 => repeated "stackTable";
    }
}

message! {
    /// `ProfilesData`: the file and Collector representation of a batch of profiles.
    ProfilesData {
        /// Profiles by resource.
        resource_profiles: Vec<ResourceProfiles> = 1 => repeated "resourceProfiles";
        /// Tables shared by all profiles.
        dictionary: Option<ProfilesDictionary> = 2 => message "dictionary";
    }
}

message! {
    /// Profiles from one resource.
    ResourceProfiles {
        /// The resource.
        resource: Option<Resource> = 1 => message "resource";
        /// Profiles grouped by scope.
        scope_profiles: Vec<ScopeProfiles> = 2 => repeated "scopeProfiles";
        /// Schema URL of the resource's attributes.
        schema_url: Str = 3 => string "schemaUrl";
    }
}

message! {
    /// Profiles from one instrumentation scope.
    ScopeProfiles {
        /// The scope.
        scope: Option<InstrumentationScope> = 1 => message "scope";
        /// The profiles.
        profiles: Vec<Profile> = 2 => items "profiles";
        /// Schema URL.
        schema_url: Str = 3 => string "schemaUrl";
    }
}

message! {
    /// One profile: samples of a single sample type over a time window.
    Profile {
        /// What the sample values measure, e.g. `cpu`/`nanoseconds`.
        sample_type: Option<ValueType> = 1 => message "sampleType";
        /// The samples.
        samples: Vec<Sample> = 2 => repeated "samples";
        /// Start of the window, nanoseconds since the Unix epoch.
        time_unix_nano: u64 = 3 => fixed64 "timeUnixNano";
        /// Length of the window.
        duration_nano: u64 = 4 => uint64 "durationNano";
        /// What the sampling period measures.
        period_type: Option<ValueType> = 5 => message "periodType";
        /// Sampling period.
        period: i64 = 6 => int64 "period";
        /// 16-byte profile id (optional).
        profile_id: Bytes = 7 => hex_id "profileId";
        /// Attributes dropped by limits.
        dropped_attributes_count: u32 = 8 => uint32 "droppedAttributesCount";
        /// Format of `original_payload`, e.g. `pprofext`.
        original_payload_format: Str = 9 => string "originalPayloadFormat";
        /// The profile in its original format (optional).
        original_payload: Bytes = 10 => bytes "originalPayload";
        /// Profile attributes (indices into the attribute table).
        attribute_indices: Vec<i32> = 11 => packed_int32 "attributeIndices";
    }
}

message! {
    /// A trace/span pair a sample was recorded under.
    Link {
        /// 16-byte trace id.
        trace_id: Bytes = 1 => trace_id "traceId";
        /// 8-byte span id.
        span_id: Bytes = 2 => span_id "spanId";
    }
}

message! {
    /// A type and unit, as string-table indices.
    ValueType {
        /// Type, e.g. `cpu`.
        type_strindex: i32 = 1 => int32 "typeStrindex";
        /// Unit, e.g. `nanoseconds`.
        unit_strindex: i32 = 2 => int32 "unitStrindex";
    }
}

message! {
    /// A sample: a stack with values and/or timestamps.
    Sample {
        /// Index into the stack table.
        stack_index: i32 = 1 => int32 "stackIndex";
        /// Indices into the attribute table.
        attribute_indices: Vec<i32> = 2 => packed_int32 "attributeIndices";
        /// Index into the link table (0 = no link).
        link_index: i32 = 3 => int32 "linkIndex";
        /// Values, one per observation.
        values: Vec<i64> = 4 => packed_int64 "values";
        /// Timestamps of the observations.
        timestamps_unix_nano: Vec<u64> = 5 => packed_fixed64 "timestampsUnixNano";
    }
}

message! {
    /// A binary or library mapped into memory.
    Mapping {
        /// Start address.
        memory_start: u64 = 1 => uint64 "memoryStart";
        /// End address.
        memory_limit: u64 = 2 => uint64 "memoryLimit";
        /// File offset of the mapping.
        file_offset: u64 = 3 => uint64 "fileOffset";
        /// File name (string-table index).
        filename_strindex: i32 = 4 => int32 "filenameStrindex";
        /// Attributes such as build ids (attribute-table indices).
        attribute_indices: Vec<i32> = 5 => packed_int32 "attributeIndices";
    }
}

message! {
    /// A call stack, leaf first.
    Stack {
        /// Indices into the location table.
        location_indices: Vec<i32> = 1 => packed_int32 "locationIndices";
    }
}

message! {
    /// A code location.
    Location {
        /// Index into the mapping table.
        mapping_index: i32 = 1 => int32 "mappingIndex";
        /// Instruction address.
        address: u64 = 2 => uint64 "address";
        /// Source lines; the last is the caller the others were inlined into.
        lines: Vec<Line> = 3 => repeated "lines";
        /// Attribute-table indices.
        attribute_indices: Vec<i32> = 4 => packed_int32 "attributeIndices";
    }
}

message! {
    /// A source line.
    Line {
        /// Index into the function table.
        function_index: i32 = 1 => int32 "functionIndex";
        /// Line number.
        line: i64 = 2 => int64 "line";
        /// Column number.
        column: i64 = 3 => int64 "column";
    }
}

message! {
    /// A function.
    Function {
        /// Human-readable name (string-table index).
        name_strindex: i32 = 1 => int32 "nameStrindex";
        /// Mangled name (string-table index).
        system_name_strindex: i32 = 2 => int32 "systemNameStrindex";
        /// Source file (string-table index).
        filename_strindex: i32 = 3 => int32 "filenameStrindex";
        /// First line of the function.
        start_line: i64 = 4 => int64 "startLine";
    }
}

message! {
    /// An attribute with an optional unit, keyed by string-table index.
    KeyValueAndUnit {
        /// Key (string-table index).
        key_strindex: i32 = 1 => int32 "keyStrindex";
        /// Value.
        value: Option<AnyValue> = 2 => message "value";
        /// Unit (string-table index).
        unit_strindex: i32 = 3 => int32 "unitStrindex";
    }
}

impl crate::collector::ExportProfilesServiceRequest {
    /// Resolves reference attributes (OTLP v1.10: `KeyValue.key_strindex` and
    /// `AnyValue.string_value_strindex`) in the resource and scope attributes against the
    /// dictionary's string table, turning them back into plain keys and strings.
    ///
    /// The Collector (v0.148) writes profile resource and scope attributes in this form; without
    /// resolving them a reader sees empty keys. A reference that does not resolve (an index out of
    /// the table, or a key that disagrees with an explicit one) is left as it is.
    pub fn resolve_attribute_references(&mut self) {
        let Some(dictionary) = self.dictionary.as_ref() else {
            return;
        };
        let table = &dictionary.string_table;
        for rp in &mut self.resource_profiles {
            if let Some(resource) = rp.resource.as_mut() {
                resolve_key_values(&mut resource.attributes, table);
            }
            for sp in &mut rp.scope_profiles {
                if let Some(scope) = sp.scope.as_mut() {
                    resolve_key_values(&mut scope.attributes, table);
                }
            }
        }
    }
}

fn resolve_key_values(kvs: &mut [crate::common::KeyValue], table: &[Str]) {
    for kv in kvs {
        if kv.key_strindex != 0 {
            let resolved = usize::try_from(kv.key_strindex)
                .ok()
                .and_then(|i| table.get(i));
            if let Some(key) = resolved
                && (kv.key.is_empty() || kv.key == *key)
            {
                kv.key = key.clone();
                kv.key_strindex = 0;
            }
        }
        if let Some(value) = kv.value.as_mut() {
            resolve_value(value, table);
        }
    }
}

fn resolve_value(value: &mut AnyValue, table: &[Str]) {
    use crate::common::Value;
    match value.value.as_mut() {
        Some(Value::StringValueStrindex(i)) => {
            if let Some(s) = usize::try_from(*i).ok().and_then(|i| table.get(i)) {
                value.value = Some(Value::StringValue(s.clone()));
            }
        }
        Some(Value::ArrayValue(array)) => {
            for v in &mut array.values {
                resolve_value(v, table);
            }
        }
        Some(Value::KvlistValue(list)) => resolve_key_values(&mut list.values, table),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use crate::collector::ExportProfilesServiceRequest;
    use crate::common::{AnyValue, KeyValue, Value};
    use crate::profiles::{ProfilesDictionary, ResourceProfiles};
    use crate::resource::Resource;

    #[test]
    fn reference_attributes_resolve_and_bad_references_stay() {
        let by_ref = |key: i32, value: i32| KeyValue {
            key_strindex: key,
            value: Some(AnyValue::new(Value::StringValueStrindex(value))),
            ..Default::default()
        };
        let mut request = ExportProfilesServiceRequest {
            resource_profiles: vec![ResourceProfiles {
                resource: Some(Resource {
                    attributes: vec![by_ref(1, 2), by_ref(9, 1)],
                    ..Default::default()
                }),
                ..Default::default()
            }],
            dictionary: Some(ProfilesDictionary {
                string_table: vec!["".into(), "service.name".into(), "checkout".into()],
                ..Default::default()
            }),
        };
        request.resolve_attribute_references();
        let attrs = &request.resource_profiles[0]
            .resource
            .as_ref()
            .unwrap()
            .attributes;
        assert_eq!(attrs[0], KeyValue::new("service.name", "checkout"));
        // Key index 9 is out of the table: left as it was; its value still resolves.
        assert_eq!(attrs[1].key_strindex, 9);
        assert_eq!(
            attrs[1].value.as_ref().unwrap().as_str(),
            Some("service.name")
        );
    }
}
