//! `opentelemetry.proto.common.v1`: values, attributes and instrumentation scopes.

use crate::{Str, message, oneof};
use bytes::Bytes;

oneof! {
    /// The value held by an [`AnyValue`].
    Value {
        /// A UTF-8 string.
        StringValue(Str) = 1 => string "stringValue" "string_value";
        /// A boolean.
        BoolValue(bool) = 2 => boolean "boolValue" "bool_value";
        /// A 64-bit integer.
        IntValue(i64) = 3 => int64 "intValue" "int_value";
        /// A double.
        DoubleValue(f64) = 4 => double "doubleValue" "double_value";
        /// An array of values.
        ArrayValue(ArrayValue) = 5 => message "arrayValue" "array_value";
        /// A map of values.
        KvlistValue(KeyValueList) = 6 => message "kvlistValue" "kvlist_value";
        /// Raw bytes.
        BytesValue(Bytes) = 7 => bytes "bytesValue" "bytes_value";
        /// An index into a dictionary's string table (profiles).
        StringValueStrindex(i32) = 8 => int32 "stringValueStrindex" "string_value_strindex";
    }
}

message! {
    /// A value of any attribute type. `value: None` is the empty value.
    AnyValue {
        /// The value, if any.
        value: Option<Value> = 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 => oneof "value";
    }
}

message! {
    /// A list of values (a homogeneous array in attribute terms, but any values are allowed).
    ArrayValue {
        /// The elements.
        values: Vec<AnyValue> = 1 => repeated "values";
    }
}

message! {
    /// A list of key-value pairs: a map.
    KeyValueList {
        /// The entries; keys should be unique.
        values: Vec<KeyValue> = 1 => repeated "values";
    }
}

message! {
    /// An attribute: a key and a value.
    KeyValue {
        /// The key.
        key: Str = 1 => string "key";
        /// The value.
        value: Option<AnyValue> = 2 => message "value";
        /// The key as an index into a dictionary's string table (profiles).
        key_strindex: i32 = 3 => int32 "keyStrindex";
    }
}

message! {
    /// The instrumentation library or scope that produced telemetry.
    InstrumentationScope {
        /// Scope name, e.g. a crate name.
        name: Str = 1 => string "name";
        /// Scope version.
        version: Str = 2 => string "version";
        /// Scope attributes.
        attributes: Vec<KeyValue> = 3 => repeated "attributes";
        /// Attributes dropped by limits.
        dropped_attributes_count: u32 = 4 => uint32 "droppedAttributesCount";
    }
}

message! {
    /// A reference to an entity described by resource attributes (development).
    EntityRef {
        /// Schema URL of the entity type.
        schema_url: Str = 1 => string "schemaUrl";
        /// Entity type, e.g. `service`.
        r#type: Str = 2 => string "type";
        /// Resource attribute keys that identify the entity.
        id_keys: Vec<Str> = 3 => repeated_string "idKeys";
        /// Resource attribute keys that describe the entity.
        description_keys: Vec<Str> = 4 => repeated_string "descriptionKeys";
    }
}

impl AnyValue {
    /// A value holding `v`.
    #[inline]
    pub fn new(v: Value) -> Self {
        AnyValue { value: Some(v) }
    }

    /// The string, if this is a string value.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Some(Value::StringValue(s)) => Some(s),
            _ => None,
        }
    }
}

impl KeyValue {
    /// An attribute.
    #[inline]
    pub fn new(key: impl Into<Str>, value: impl Into<AnyValue>) -> Self {
        KeyValue {
            key: key.into(),
            value: Some(value.into()),
            key_strindex: 0,
        }
    }
}

impl From<Value> for AnyValue {
    #[inline]
    fn from(v: Value) -> Self {
        AnyValue::new(v)
    }
}

impl From<&'static str> for AnyValue {
    #[inline]
    fn from(v: &'static str) -> Self {
        AnyValue::new(Value::StringValue(Str::from_static(v)))
    }
}

impl From<String> for AnyValue {
    #[inline]
    fn from(v: String) -> Self {
        AnyValue::new(Value::StringValue(v.into()))
    }
}

impl From<Str> for AnyValue {
    #[inline]
    fn from(v: Str) -> Self {
        AnyValue::new(Value::StringValue(v))
    }
}

impl From<bool> for AnyValue {
    #[inline]
    fn from(v: bool) -> Self {
        AnyValue::new(Value::BoolValue(v))
    }
}

impl From<i64> for AnyValue {
    #[inline]
    fn from(v: i64) -> Self {
        AnyValue::new(Value::IntValue(v))
    }
}

impl From<i32> for AnyValue {
    #[inline]
    fn from(v: i32) -> Self {
        AnyValue::new(Value::IntValue(v.into()))
    }
}

impl From<u32> for AnyValue {
    #[inline]
    fn from(v: u32) -> Self {
        AnyValue::new(Value::IntValue(v.into()))
    }
}

impl From<f32> for AnyValue {
    #[inline]
    fn from(v: f32) -> Self {
        AnyValue::new(Value::DoubleValue(v.into()))
    }
}

impl From<&String> for AnyValue {
    #[inline]
    fn from(v: &String) -> Self {
        AnyValue::new(Value::StringValue(v.into()))
    }
}

impl From<f64> for AnyValue {
    #[inline]
    fn from(v: f64) -> Self {
        AnyValue::new(Value::DoubleValue(v))
    }
}

impl From<Bytes> for AnyValue {
    #[inline]
    fn from(v: Bytes) -> Self {
        AnyValue::new(Value::BytesValue(v))
    }
}

impl From<Vec<AnyValue>> for AnyValue {
    fn from(values: Vec<AnyValue>) -> Self {
        AnyValue::new(Value::ArrayValue(ArrayValue { values }))
    }
}

impl From<Vec<KeyValue>> for AnyValue {
    fn from(values: Vec<KeyValue>) -> Self {
        AnyValue::new(Value::KvlistValue(KeyValueList { values }))
    }
}
