//! `common.v1` and `resource.v1`: values, attributes, scopes, entity references, resources.

use super::{bytes, double, i32_any, i64_any, index, text, u32_any, up_to};
use otlp_proto::common::{
    AnyValue, ArrayValue, EntityRef, InstrumentationScope, KeyValue, KeyValueList, Value,
};
use otlp_proto::resource::Resource;
use proptest::option;
use proptest::prelude::*;

/// A value that nests nothing: every scalar variant of the oneof, or no value at all.
fn leaf_value() -> BoxedStrategy<AnyValue> {
    prop_oneof![
        1 => Just(None),
        3 => text().prop_map(|s| Some(Value::StringValue(s))),
        1 => any::<bool>().prop_map(|b| Some(Value::BoolValue(b))),
        2 => i64_any().prop_map(|n| Some(Value::IntValue(n))),
        2 => double().prop_map(|d| Some(Value::DoubleValue(d))),
        1 => bytes().prop_map(|b| Some(Value::BytesValue(b))),
        1 => i32_any().prop_map(|i| Some(Value::StringValueStrindex(i))),
    ]
    .prop_map(|value| AnyValue { value })
    .boxed()
}

/// A key-value pair whose value comes from `value`.
fn key_value_of(value: BoxedStrategy<AnyValue>) -> BoxedStrategy<KeyValue> {
    (text(), option::weighted(0.9, value), index())
        .prop_map(|(key, value, key_strindex)| KeyValue {
            key,
            value,
            key_strindex,
        })
        .boxed()
}

/// Any value, arrays and key-value lists nested up to four levels.
pub fn any_value() -> BoxedStrategy<AnyValue> {
    leaf_value()
        .prop_recursive(4, 24, 3, |inner| {
            prop_oneof![
                up_to(inner.clone(), 3)
                    .prop_map(|values| AnyValue::new(Value::ArrayValue(ArrayValue { values }))),
                up_to(key_value_of(inner), 3)
                    .prop_map(|values| AnyValue::new(Value::KvlistValue(KeyValueList { values }))),
            ]
        })
        .boxed()
}

/// An array of values.
pub fn array_value() -> BoxedStrategy<ArrayValue> {
    up_to(any_value(), 4)
        .prop_map(|values| ArrayValue { values })
        .boxed()
}

/// A map of values.
pub fn key_value_list() -> BoxedStrategy<KeyValueList> {
    up_to(key_value(), 4)
        .prop_map(|values| KeyValueList { values })
        .boxed()
}

/// An attribute.
pub fn key_value() -> BoxedStrategy<KeyValue> {
    key_value_of(any_value())
}

/// Up to three attributes.
pub fn attributes() -> BoxedStrategy<Vec<KeyValue>> {
    up_to(key_value(), 3).boxed()
}

/// An instrumentation scope.
pub fn instrumentation_scope() -> BoxedStrategy<InstrumentationScope> {
    (text(), text(), attributes(), u32_any())
        .prop_map(
            |(name, version, attributes, dropped_attributes_count)| InstrumentationScope {
                name,
                version,
                attributes,
                dropped_attributes_count,
            },
        )
        .boxed()
}

/// An entity reference.
pub fn entity_ref() -> BoxedStrategy<EntityRef> {
    (text(), text(), up_to(text(), 3), up_to(text(), 3))
        .prop_map(
            |(schema_url, r#type, id_keys, description_keys)| EntityRef {
                schema_url,
                r#type,
                id_keys,
                description_keys,
            },
        )
        .boxed()
}

/// A resource.
pub fn resource() -> BoxedStrategy<Resource> {
    (attributes(), u32_any(), up_to(entity_ref(), 2))
        .prop_map(
            |(attributes, dropped_attributes_count, entity_refs)| Resource {
                attributes,
                dropped_attributes_count,
                entity_refs,
            },
        )
        .boxed()
}

/// A value nested `levels` deep (at most `max`): each level an array of one value or a map of
/// one entry, around a scalar. For the recursion limits, which `any_value` never reaches.
pub fn deep_value(max: usize) -> BoxedStrategy<AnyValue> {
    (
        proptest::collection::vec((any::<bool>(), text()), 0..=max),
        leaf_value(),
    )
        .prop_map(|(levels, leaf)| {
            levels.into_iter().fold(leaf, |inner, (array, key)| {
                if array {
                    AnyValue::new(Value::ArrayValue(ArrayValue {
                        values: vec![inner],
                    }))
                } else {
                    AnyValue::new(Value::KvlistValue(KeyValueList {
                        values: vec![KeyValue {
                            key,
                            value: Some(inner),
                            key_strindex: 0,
                        }],
                    }))
                }
            })
        })
        .boxed()
}
