//! `profiles.v1development`: the dictionary and every table row type, profiles and samples.
//!
//! Table indices are generated independently of the tables: the codecs do not resolve them, so
//! an index out of its table must survive a round trip as well as one inside it.

use super::common::{any_value, instrumentation_scope, resource};
use super::{bytes, i32_any, i64_any, index, span_id, text, trace_id, u32_any, u64_any, up_to};
use bytes::Bytes;
use otlp_proto::profiles::{
    Function, KeyValueAndUnit, Line, Link, Location, Mapping, Profile, ProfilesData,
    ProfilesDictionary, ResourceProfiles, Sample, ScopeProfiles, Stack, ValueType,
};
use proptest::option;
use proptest::prelude::*;

/// Indices into a table (packed `int32`).
fn indices() -> BoxedStrategy<Vec<i32>> {
    prop_oneof![3 => up_to(index(), 4), 1 => up_to(i32_any(), 4)].boxed()
}

/// A profile id: 16 bytes or absent, sometimes another length (the decoders do not check it).
fn profile_id() -> BoxedStrategy<Bytes> {
    prop_oneof![
        2 => Just(Bytes::new()),
        3 => prop::array::uniform16(any::<u8>()).prop_map(|a| Bytes::copy_from_slice(&a)),
        1 => bytes(),
    ]
    .boxed()
}

/// A type and unit.
pub fn value_type() -> BoxedStrategy<ValueType> {
    (index(), index())
        .prop_map(|(type_strindex, unit_strindex)| ValueType {
            type_strindex,
            unit_strindex,
        })
        .boxed()
}

/// A sample.
pub fn sample() -> BoxedStrategy<Sample> {
    (
        index(),
        indices(),
        index(),
        up_to(i64_any(), 4),
        up_to(u64_any(), 3),
    )
        .prop_map(
            |(stack_index, attribute_indices, link_index, values, timestamps_unix_nano)| Sample {
                stack_index,
                attribute_indices,
                link_index,
                values,
                timestamps_unix_nano,
            },
        )
        .boxed()
}

/// A mapping.
pub fn mapping() -> BoxedStrategy<Mapping> {
    (u64_any(), u64_any(), u64_any(), index(), indices())
        .prop_map(
            |(memory_start, memory_limit, file_offset, filename_strindex, attribute_indices)| {
                Mapping {
                    memory_start,
                    memory_limit,
                    file_offset,
                    filename_strindex,
                    attribute_indices,
                }
            },
        )
        .boxed()
}

/// A call stack.
pub fn stack() -> BoxedStrategy<Stack> {
    indices()
        .prop_map(|location_indices| Stack { location_indices })
        .boxed()
}

/// A source line.
pub fn line() -> BoxedStrategy<Line> {
    (index(), i64_any(), i64_any())
        .prop_map(|(function_index, line, column)| Line {
            function_index,
            line,
            column,
        })
        .boxed()
}

/// A code location.
pub fn location() -> BoxedStrategy<Location> {
    (index(), u64_any(), up_to(line(), 3), indices())
        .prop_map(
            |(mapping_index, address, lines, attribute_indices)| Location {
                mapping_index,
                address,
                lines,
                attribute_indices,
            },
        )
        .boxed()
}

/// A function.
pub fn function() -> BoxedStrategy<Function> {
    (index(), index(), index(), i64_any())
        .prop_map(
            |(name_strindex, system_name_strindex, filename_strindex, start_line)| Function {
                name_strindex,
                system_name_strindex,
                filename_strindex,
                start_line,
            },
        )
        .boxed()
}

/// A trace/span link.
pub fn link() -> BoxedStrategy<Link> {
    (trace_id(), span_id())
        .prop_map(|(trace_id, span_id)| Link { trace_id, span_id })
        .boxed()
}

/// An attribute with a unit.
pub fn key_value_and_unit() -> BoxedStrategy<KeyValueAndUnit> {
    (index(), option::of(any_value()), index())
        .prop_map(|(key_strindex, value, unit_strindex)| KeyValueAndUnit {
            key_strindex,
            value,
            unit_strindex,
        })
        .boxed()
}

/// A dictionary with every table.
pub fn profiles_dictionary() -> BoxedStrategy<ProfilesDictionary> {
    (
        up_to(mapping(), 2),
        up_to(location(), 3),
        up_to(function(), 3),
        up_to(link(), 2),
        up_to(text(), 5),
        up_to(key_value_and_unit(), 3),
        up_to(stack(), 3),
    )
        .prop_map(
            |(
                mapping_table,
                location_table,
                function_table,
                link_table,
                string_table,
                attribute_table,
                stack_table,
            )| ProfilesDictionary {
                mapping_table,
                location_table,
                function_table,
                link_table,
                string_table,
                attribute_table,
                stack_table,
            },
        )
        .boxed()
}

/// A profile.
pub fn profile() -> BoxedStrategy<Profile> {
    let head = (
        option::of(value_type()),
        up_to(sample(), 3),
        u64_any(),
        u64_any(),
        option::of(value_type()),
        i64_any(),
    );
    let tail = (profile_id(), u32_any(), text(), bytes(), indices());
    (head, tail)
        .prop_map(
            |(
                (sample_type, samples, time_unix_nano, duration_nano, period_type, period),
                (
                    profile_id,
                    dropped_attributes_count,
                    original_payload_format,
                    original_payload,
                    attribute_indices,
                ),
            )| Profile {
                sample_type,
                samples,
                time_unix_nano,
                duration_nano,
                period_type,
                period,
                profile_id,
                dropped_attributes_count,
                original_payload_format,
                original_payload,
                attribute_indices,
            },
        )
        .boxed()
}

/// Profiles of one scope.
pub fn scope_profiles() -> BoxedStrategy<ScopeProfiles> {
    (
        option::of(instrumentation_scope()),
        up_to(profile(), 2),
        text(),
    )
        .prop_map(|(scope, profiles, schema_url)| ScopeProfiles {
            scope,
            profiles,
            schema_url,
        })
        .boxed()
}

/// Profiles of one resource.
pub fn resource_profiles() -> BoxedStrategy<ResourceProfiles> {
    (option::of(resource()), up_to(scope_profiles(), 2), text())
        .prop_map(|(resource, scope_profiles, schema_url)| ResourceProfiles {
            resource,
            scope_profiles,
            schema_url,
        })
        .boxed()
}

/// A batch of profiles with its dictionary.
pub fn profiles_data() -> BoxedStrategy<ProfilesData> {
    (
        up_to(resource_profiles(), 2),
        option::of(profiles_dictionary()),
    )
        .prop_map(|(resource_profiles, dictionary)| ProfilesData {
            resource_profiles,
            dictionary,
        })
        .boxed()
}
