//! Sample export requests: one per signal, deterministic and realistic, covering the shapes
//! each signal can take. For demos (`otlp demo` sends them) and for tests that need a request
//! with a bit of everything in it. Enabled by the `sample` feature.
//!
//! - traces: a server span with a client child and an internal grandchild, attributes of every
//!   value type, events, a link to another trace and every status code;
//! - metrics: a monotonic sum, an up-down sum, a gauge, a histogram, an exponential histogram and
//!   a summary, with an exemplar linking a point to a span;
//! - logs: plain records and an event (`event_name` `order.created`) with a map body, all
//!   carrying the trace context of the sample spans;
//! - profiles: a CPU profile with a full dictionary (mappings, locations with inlined lines,
//!   functions, stacks, attributes with units) and a sample linked to a sample span.
//!
//! Every request shares one resource, whose `demo.greeting` attribute holds non-ASCII text
//! (two-, three- and four-byte UTF-8), quotes and a line break, so that every signal exercises
//! string escaping in both encodings.
//!
//! Everything is deterministic (fixed ids and timestamps), so a test can compare what arrived
//! with a fresh copy, and free of NaN, which would make a request unequal to itself.
//!
//! ```
//! use otlp_proto::{Encoding, Request, Signal, sample};
//!
//! let sent = sample::request(Signal::Logs);
//! assert_eq!(sent.item_count(), 3);
//! let wire = sent.encode_to_bytes();
//! assert_eq!(Request::decode(Signal::Logs, Encoding::Protobuf, &wire), Ok(sent));
//! ```
//!
//! This module holds what the requests share (ids, timestamps, resource and scope) and
//! [`request`]; each signal's request is built in a submodule of its own.

mod logs;
mod metrics;
mod profiles;
mod traces;

pub use logs::logs;
pub use metrics::metrics;
pub use profiles::profiles;
pub use traces::traces;

use crate::common::{InstrumentationScope, KeyValue};
use crate::resource::Resource;
use crate::{Request, Signal, Str};
use bytes::Bytes;

/// Start of the sample's time window: 2023-11-14T22:13:20Z, in nanoseconds since the epoch.
pub const START: u64 = 1_700_000_000_000_000_000;

/// One millisecond in nanoseconds.
const MS: u64 = 1_000_000;

/// The trace all sample spans belong to.
pub const TRACE_ID: [u8; 16] = [
    0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36,
];
/// The root span (`GET /orders/{id}`, server).
pub const ROOT_SPAN_ID: [u8; 8] = [0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7];
/// The child span (`SELECT orders`, client).
pub const CHILD_SPAN_ID: [u8; 8] = [0x53, 0x99, 0x5c, 0x3f, 0x42, 0xcd, 0x8a, 0xd8];
/// The grandchild span (`render`, internal).
pub const GRANDCHILD_SPAN_ID: [u8; 8] = [0x1c, 0x2d, 0x3e, 0x4f, 0x5a, 0x6b, 0x7c, 0x8d];

/// The sample request of `signal`.
pub fn request(signal: Signal) -> Request {
    match signal {
        Signal::Traces => traces().into(),
        Signal::Metrics => metrics().into(),
        Signal::Logs => logs().into(),
        Signal::Profiles => profiles().into(),
    }
}

fn id<const N: usize>(bytes: &'static [u8; N]) -> Bytes {
    Bytes::from_static(bytes)
}

fn resource() -> Resource {
    Resource {
        attributes: vec![
            KeyValue::new("service.name", "otlp-demo"),
            KeyValue::new("service.version", "0.1.0"),
            KeyValue::new("deployment.environment.name", "demo"),
            KeyValue::new("host.name", "localhost"),
            // Non-ASCII of every UTF-8 width, quotes and a line break: escaping, in every signal.
            KeyValue::new("demo.greeting", "héllo ✓ \"quoted\",\non two lines 🚀"),
        ],
        ..Default::default()
    }
}

fn scope() -> InstrumentationScope {
    InstrumentationScope {
        name: Str::from_static("otlp-proto.sample"),
        version: Str::from_static(env!("CARGO_PKG_VERSION")),
        attributes: vec![KeyValue::new("demo.scope", true)],
        dropped_attributes_count: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(feature = "json")]
    use crate::Encoding;

    #[cfg(feature = "json")]
    #[test]
    fn every_sample_round_trips_both_encodings() {
        for signal in Signal::ALL {
            let sample = request(signal);
            assert_eq!(sample.signal(), signal);
            assert!(sample.item_count() > 0, "{signal}");
            for encoding in [Encoding::Protobuf, Encoding::Json] {
                let wire = sample.encode(encoding);
                let back = Request::decode(signal, encoding, &wire);
                assert_eq!(back.as_ref(), Ok(&sample), "{signal} {encoding:?}");
            }
        }
    }

    #[test]
    fn item_counts() {
        assert_eq!(traces().resource_spans[0].scope_spans[0].spans.len(), 3);
        assert_eq!(request(Signal::Traces).item_count(), 3);
        // 2 + 1 + 1 + 1 + 1 + 1 data points.
        assert_eq!(request(Signal::Metrics).item_count(), 7);
        assert_eq!(request(Signal::Logs).item_count(), 3);
        assert_eq!(request(Signal::Profiles).item_count(), 1);
    }

    #[cfg(feature = "json")]
    #[test]
    fn every_request_exercises_string_escaping() {
        // What tests of the JSON codecs and of the JSON lines sink rely on: characters of every
        // UTF-8 width, quotes and a line break, in every signal (OTLP/JSON escapes the quotes
        // and the line break, and writes the rest as UTF-8).
        let written = r#"héllo ✓ \"quoted\",\non two lines 🚀"#;
        for signal in Signal::ALL {
            let json = String::from_utf8(request(signal).to_json()).expect("UTF-8");
            assert!(json.contains(written), "{signal}: {json}");
        }
    }
}
