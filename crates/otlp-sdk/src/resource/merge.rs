//! `Merge(old, updating)`: one resource over another.

use otlp_proto::resource::Resource;

/// The specification's `Merge(old, updating)`: every attribute of `old`, with those of
/// `updating` replacing the ones with the same key (keeping the key's first position) and the
/// others added after. Dropped-attribute counts add up; entity references of `updating` replace
/// those of `old` when it has any.
///
/// ```
/// use otlp_proto::common::KeyValue;
/// use otlp_proto::resource::Resource;
///
/// let detected = Resource {
///     attributes: vec![
///         KeyValue::new("service.name", "unknown_service:demo"),
///         KeyValue::new("host.name", "box"),
///     ],
///     ..Resource::default()
/// };
/// let mine = Resource {
///     attributes: vec![KeyValue::new("service.name", "checkout")],
///     ..Resource::default()
/// };
/// let merged = otlp::resource::merge(&detected, &mine);
/// assert_eq!(merged.attributes[0], KeyValue::new("service.name", "checkout"));
/// assert_eq!(merged.attributes.len(), 2);
/// ```
pub fn merge(old: &Resource, updating: &Resource) -> Resource {
    let mut attributes = old.attributes.clone();
    for kv in &updating.attributes {
        match attributes.iter_mut().find(|m| m.key == kv.key) {
            Some(slot) => *slot = kv.clone(),
            None => attributes.push(kv.clone()),
        }
    }
    Resource {
        attributes,
        dropped_attributes_count: old
            .dropped_attributes_count
            .saturating_add(updating.dropped_attributes_count),
        entity_refs: if updating.entity_refs.is_empty() {
            old.entity_refs.clone()
        } else {
            updating.entity_refs.clone()
        },
    }
}
