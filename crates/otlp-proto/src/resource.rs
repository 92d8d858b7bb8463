//! `opentelemetry.proto.resource.v1`: the entity that produces telemetry.

use crate::common::{EntityRef, KeyValue};
use crate::message;

message! {
    /// The entity producing telemetry, described by attributes such as `service.name`.
    Resource {
        /// Resource attributes.
        attributes: Vec<KeyValue> = 1 => repeated "attributes";
        /// Attributes dropped by limits.
        dropped_attributes_count: u32 = 2 => uint32 "droppedAttributesCount";
        /// Entities this resource describes (development).
        entity_refs: Vec<EntityRef> = 3 => repeated "entityRefs";
    }
}
