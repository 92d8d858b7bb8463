//! The sample profile: a CPU profile with a full dictionary and a sample linked to a span.

use super::{MS, ROOT_SPAN_ID, START, TRACE_ID};
use super::{id, resource, scope};
use crate::Str;
use crate::collector::ExportProfilesServiceRequest;
use crate::common::AnyValue;
use crate::profiles::{
    Function, KeyValueAndUnit, Line, Link as ProfileLink, Location, Mapping, Profile,
    ProfilesDictionary, ResourceProfiles, Sample, ScopeProfiles, Stack, ValueType,
};
use bytes::Bytes;

/// The strings of the sample profile's dictionary; index 0 is the empty string.
const STRINGS: [&str; 14] = [
    "",
    "cpu",
    "nanoseconds",
    "samples",
    "count",
    "main",
    "handle_order",
    "render",
    "src/main.rs",
    "/usr/bin/orders",
    "thread.name",
    "process.executable.build_id.htlhash",
    "worker-1",
    "_ZN6orders6render17h0123456789abcdefE",
];

/// A CPU profile of two stacks with a full dictionary: a mapping with a build id, locations (one
/// with an inlined frame), functions, stacks, attributes with units and a link to the root span.
pub fn profiles() -> ExportProfilesServiceRequest {
    let dictionary = ProfilesDictionary {
        mapping_table: vec![
            Mapping::default(),
            Mapping {
                memory_start: 0x0040_0000,
                memory_limit: 0x0080_0000,
                file_offset: 0x1000,
                filename_strindex: 9,
                attribute_indices: vec![2],
            },
        ],
        location_table: vec![
            Location::default(),
            // render, inlined into handle_order.
            Location {
                mapping_index: 1,
                address: 0x0040_1234,
                lines: vec![
                    Line {
                        function_index: 3,
                        line: 88,
                        column: 9,
                    },
                    Line {
                        function_index: 2,
                        line: 40,
                        column: 5,
                    },
                ],
                attribute_indices: vec![],
            },
            // handle_order.
            Location {
                mapping_index: 1,
                address: 0x0040_2000,
                lines: vec![Line {
                    function_index: 2,
                    line: 42,
                    column: 1,
                }],
                attribute_indices: vec![],
            },
            // main.
            Location {
                mapping_index: 1,
                address: 0x0040_0100,
                lines: vec![Line {
                    function_index: 1,
                    line: 3,
                    column: 1,
                }],
                attribute_indices: vec![1],
            },
        ],
        function_table: vec![
            Function::default(),
            Function {
                name_strindex: 5,
                system_name_strindex: 5,
                filename_strindex: 8,
                start_line: 1,
            },
            Function {
                name_strindex: 6,
                system_name_strindex: 6,
                filename_strindex: 8,
                start_line: 30,
            },
            Function {
                name_strindex: 7,
                system_name_strindex: 13,
                filename_strindex: 8,
                start_line: 80,
            },
        ],
        link_table: vec![
            ProfileLink::default(),
            ProfileLink {
                trace_id: id(&TRACE_ID),
                span_id: id(&ROOT_SPAN_ID),
            },
        ],
        string_table: STRINGS.iter().map(|s| Str::from_static(s)).collect(),
        attribute_table: vec![
            KeyValueAndUnit::default(),
            KeyValueAndUnit {
                key_strindex: 10,
                value: Some(AnyValue::from("worker-1")),
                unit_strindex: 0,
            },
            KeyValueAndUnit {
                key_strindex: 11,
                value: Some(AnyValue::from("0123456789abcdef")),
                unit_strindex: 0,
            },
        ],
        stack_table: vec![
            Stack::default(),
            // Leaf first: render (inlined) <- main.
            Stack {
                location_indices: vec![1, 3],
            },
            Stack {
                location_indices: vec![2, 3],
            },
        ],
    };
    let profile = Profile {
        sample_type: Some(ValueType {
            type_strindex: 1,
            unit_strindex: 2,
        }),
        samples: vec![
            Sample {
                stack_index: 1,
                attribute_indices: vec![1],
                link_index: 1,
                values: vec![10_000_000, 20_000_000],
                timestamps_unix_nano: vec![START + 20 * MS, START + 40 * MS],
            },
            Sample {
                stack_index: 2,
                attribute_indices: vec![1],
                link_index: 0,
                values: vec![30_000_000],
                timestamps_unix_nano: vec![START + 90 * MS],
            },
        ],
        time_unix_nano: START,
        duration_nano: 1_000 * MS,
        period_type: Some(ValueType {
            type_strindex: 1,
            unit_strindex: 2,
        }),
        period: 10_000_000,
        profile_id: id(&[
            0x0f, 0x1e, 0x2d, 0x3c, 0x4b, 0x5a, 0x69, 0x78, 0x87, 0x96, 0xa5, 0xb4, 0xc3, 0xd2,
            0xe1, 0xf0,
        ]),
        dropped_attributes_count: 0,
        original_payload_format: Str::new(),
        original_payload: Bytes::new(),
        attribute_indices: vec![1],
    };
    ExportProfilesServiceRequest {
        resource_profiles: vec![ResourceProfiles {
            resource: Some(resource()),
            scope_profiles: vec![ScopeProfiles {
                scope: Some(scope()),
                profiles: vec![profile],
                schema_url: Str::new(),
            }],
            schema_url: Str::new(),
        }],
        dictionary: Some(dictionary),
    }
}
