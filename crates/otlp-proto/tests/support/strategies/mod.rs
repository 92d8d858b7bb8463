//! `proptest` strategies for every message of `otlp_proto`, one module per package.
//!
//! The generators aim at the edges of each codec rather than at realistic telemetry:
//!
//! - strings: empty, short ASCII, and runs of any `char` mixed with the characters OTLP/JSON must
//!   escape (`"`, `\`, control characters) and non-ASCII up to U+10FFFF, on both sides of the
//!   30-byte boundary where `Str` stops storing inline;
//! - doubles: -0.0, infinities, subnormals, the extremes and `NaN`. Only the canonical `f64::NAN`:
//!   OTLP/JSON writes every NaN as `"NaN"`, so a payload or sign could not survive that round
//!   trip (protobuf copies the 64 bits verbatim; `properties.rs` checks that separately);
//! - integers at their extremes (0, 1, -1, MIN, MAX, 2^63), enums with values the schema does
//!   not define (the codecs keep enums as plain `i32`);
//! - trace ids of 16 bytes and span ids of 8, or empty: the only lengths the decoders accept;
//! - every `oneof` variant and its absence; `AnyValue` recursive to a bounded depth.
//!
//! Collections stay short (mostly 0 to 2 elements per level) so a whole export request is a few
//! kilobytes at most and a debug build runs hundreds of cases a second.

#![allow(dead_code)]

/// Cases per property: `OTLP_PROPTEST_CASES` if set, else `default` (every crate's property
/// tests read the same variable).
pub fn cases(default: u32) -> u32 {
    std::env::var("OTLP_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub mod collector;
pub mod common;
pub mod logs;
pub mod metrics;
pub mod profiles;
pub mod trace;

use bytes::Bytes;
use otlp_proto::Str;
use proptest::collection::vec;
use proptest::prelude::*;

/// A vector of up to `max` elements (inclusive), empty one time in six (not one in `max + 1`: a
/// request whose every level may be empty would be empty too often).
pub fn up_to<S>(s: S, max: usize) -> BoxedStrategy<Vec<S::Value>>
where
    S: Strategy + 'static,
    S::Value: Clone,
{
    prop_oneof![1 => Just(Vec::new()), 5 => vec(s, 1..=max.max(1))].boxed()
}

/// Characters the codecs treat specially, and a few plain ones.
fn tricky_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => prop::sample::select(vec![
            '"', '\\', '/', '\0', '\u{1}', '\u{8}', '\t', '\n', '\u{c}', '\r', '\u{1f}', ' ',
            '\u{7f}', '\u{80}', 'é', 'ß', '\u{2028}', '\u{2029}', '€', '\u{feff}', '\u{fffd}',
            '\u{ffff}', '😀', '\u{10ffff}', '{', '}', '[', ']', ':', ',',
        ]),
        2 => proptest::char::range('a', 'z'),
        1 => any::<char>(),
    ]
}

/// A string: empty, a short identifier, any characters, or a long run (a shared, not inline, `Str`).
pub fn text() -> BoxedStrategy<Str> {
    prop_oneof![
        3 => Just(Str::new()),
        3 => "[a-z][a-z0-9._]{0,14}".prop_map(Str::from),
        3 => vec(tricky_char(), 1..40).prop_map(|c| Str::from(c.into_iter().collect::<String>())),
        1 => "[ -~]{31,120}".prop_map(Str::from),
    ]
    .boxed()
}

/// Raw bytes for `bytes` fields, including empty.
pub fn bytes() -> BoxedStrategy<Bytes> {
    prop_oneof![
        1 => Just(Bytes::new()),
        4 => vec(any::<u8>(), 1..48).prop_map(Bytes::from),
    ]
    .boxed()
}

/// A trace id: 16 bytes, or empty.
pub fn trace_id() -> BoxedStrategy<Bytes> {
    prop_oneof![
        1 => Just(Bytes::new()),
        1 => Just(Bytes::from(vec![0u8; 16])),
        4 => prop::array::uniform16(any::<u8>()).prop_map(|a| Bytes::copy_from_slice(&a)),
    ]
    .boxed()
}

/// A span id: 8 bytes, or empty.
pub fn span_id() -> BoxedStrategy<Bytes> {
    prop_oneof![
        1 => Just(Bytes::new()),
        1 => Just(Bytes::from(vec![0xffu8; 8])),
        4 => prop::array::uniform8(any::<u8>()).prop_map(|a| Bytes::copy_from_slice(&a)),
    ]
    .boxed()
}

/// A double, weighted towards the values codecs get wrong.
pub fn double() -> BoxedStrategy<f64> {
    prop_oneof![
        4 => prop::num::f64::POSITIVE | prop::num::f64::NEGATIVE | prop::num::f64::NORMAL,
        2 => prop::sample::select(vec![
            0.0, -0.0, 1.0, -1.5, 0.1, f64::INFINITY, f64::NEG_INFINITY, f64::NAN, f64::MAX,
            f64::MIN, f64::MIN_POSITIVE, -f64::MIN_POSITIVE, f64::EPSILON, 9007199254740993.0,
            1e21, 1e-7,
        ]),
        1 => prop::num::f64::POSITIVE | prop::num::f64::NEGATIVE | prop::num::f64::SUBNORMAL,
        2 => (-100_000i32..100_000).prop_map(|n| f64::from(n) / 8.0),
    ]
    .boxed()
}

/// A `u64`: extremes, small values, anything.
pub fn u64_any() -> BoxedStrategy<u64> {
    prop_oneof![
        1 => prop::sample::select(vec![0, 1, 127, 128, 1 << 53, (1 << 53) + 1, 1 << 63, u64::MAX]),
        1 => 0..1000u64,
        2 => any::<u64>(),
    ]
    .boxed()
}

/// An `i64`: extremes, small values of both signs, anything.
pub fn i64_any() -> BoxedStrategy<i64> {
    prop_oneof![
        1 => prop::sample::select(vec![0, 1, -1, i64::MIN, i64::MAX, i64::MIN + 1, -(1 << 53) - 1]),
        1 => -1000..1000i64,
        2 => any::<i64>(),
    ]
    .boxed()
}

/// An `i32` (int32, sint32 and enums): extremes, small values, anything.
pub fn i32_any() -> BoxedStrategy<i32> {
    prop_oneof![
        1 => prop::sample::select(vec![0, 1, -1, i32::MIN, i32::MAX, -64, 63]),
        1 => -100..100i32,
        1 => any::<i32>(),
    ]
    .boxed()
}

/// A `u32`: extremes, small values, anything.
pub fn u32_any() -> BoxedStrategy<u32> {
    prop_oneof![
        1 => prop::sample::select(vec![0, 1, 0x100, 0x301, u32::MAX]),
        1 => 0..100u32,
        1 => any::<u32>(),
    ]
    .boxed()
}

/// An enum value: mostly one the schema defines (`0..count`), sometimes any `i32`.
pub fn enumeration(count: i32) -> BoxedStrategy<i32> {
    prop_oneof![4 => 0..count, 1 => i32_any()].boxed()
}

/// A string-table or other table index: mostly 0 (unset), else small or anything.
pub fn index() -> BoxedStrategy<i32> {
    prop_oneof![3 => Just(0), 2 => 1..20i32, 1 => i32_any()].boxed()
}
