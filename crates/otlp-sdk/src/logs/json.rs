//! JSON values as OTLP `AnyValue`s, for structured log bodies and attributes.

use otlp_proto::common::{AnyValue, ArrayValue, KeyValue, KeyValueList, Value};

/// Converts a JSON value to an OTLP value, keeping its structure and types:
///
/// | JSON | OTLP |
/// |---|---|
/// | object | `kvlist_value`, in the order the keys were written (this crate turns on `serde_json`'s `preserve_order` feature) |
/// | array | `array_value` |
/// | integer that fits an `i64` | `int_value` |
/// | any other number (fraction, exponent, or an integer above `i64::MAX`) | `double_value` |
/// | string | `string_value` |
/// | `true`, `false` | `bool_value` |
/// | `null` | the empty value (`AnyValue { value: None }`) |
///
/// Nesting has no limit beyond the JSON value's own.
pub fn json_to_any_value(json: serde_json::Value) -> AnyValue {
    use serde_json::Value as J;
    match json {
        J::Null => AnyValue { value: None },
        J::Bool(b) => b.into(),
        J::Number(n) => match n.as_i64() {
            Some(i) => i.into(),
            None => n.as_f64().unwrap_or(f64::NAN).into(),
        },
        J::String(s) => s.into(),
        J::Array(items) => AnyValue::new(Value::ArrayValue(ArrayValue {
            values: items.into_iter().map(json_to_any_value).collect(),
        })),
        J::Object(map) => AnyValue::new(Value::KvlistValue(KeyValueList {
            values: json_object_to_attributes(map),
        })),
    }
}

/// A JSON object's entries as attributes, in the map's order.
pub(crate) fn json_object_to_attributes(
    map: serde_json::Map<String, serde_json::Value>,
) -> Vec<KeyValue> {
    map.into_iter()
        .map(|(k, v)| KeyValue {
            key: k.into(),
            value: Some(json_to_any_value(v)),
            key_strindex: 0,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn types_and_nesting() {
        let v = json_to_any_value(json!({
            "s": "x", "i": -3, "u": u64::MAX, "f": 1.5, "b": true, "n": null,
            "a": [1, "two", {"three": 3.0}],
        }));
        let Some(Value::KvlistValue(list)) = v.value else {
            panic!("not a kvlist: {v:?}")
        };
        let get = |k: &str| {
            list.values
                .iter()
                .find(|kv| kv.key == k)
                .and_then(|kv| kv.value.clone())
                .expect("key")
        };
        assert_eq!(get("s"), AnyValue::from("x"));
        assert_eq!(get("i"), AnyValue::from(-3i64));
        assert_eq!(get("u"), AnyValue::from(u64::MAX as f64));
        assert_eq!(get("f"), AnyValue::from(1.5f64));
        assert_eq!(get("b"), AnyValue::from(true));
        assert_eq!(get("n"), AnyValue { value: None });
        let Some(Value::ArrayValue(a)) = get("a").value else {
            panic!("not an array")
        };
        assert_eq!(a.values[0], AnyValue::from(1i64));
        assert_eq!(a.values[1], AnyValue::from("two"));
        assert!(matches!(a.values[2].value, Some(Value::KvlistValue(_))));
    }
}
