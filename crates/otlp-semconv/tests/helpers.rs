//! The typed helpers produce the right keys and value types.

use otlp_proto::common::{KeyValue, Value};
use otlp_semconv::helpers::K8sResource;

fn value<'a>(attrs: &'a [KeyValue], key: &str) -> &'a Value {
    attrs
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
        .unwrap_or_else(|| panic!("{key} missing"))
}

fn string(attrs: &[KeyValue], key: &str) -> String {
    match value(attrs, key) {
        Value::StringValue(s) => s.as_str().to_owned(),
        other => panic!("{key} is not a string: {other:?}"),
    }
}

#[test]
fn k8s_resource() {
    let attrs = K8sResource::new()
        .with_cluster_name("prod")
        .with_namespace("shop")
        .with_pod_name("cart-7c9f")
        .with_pod_uid("1234")
        .with_node_name("node-1")
        .with_statefulset_name("db")
        .build();
    assert_eq!(attrs.len(), 6);
    assert_eq!(string(&attrs, "k8s.namespace.name"), "shop");
    assert_eq!(string(&attrs, "k8s.pod.uid"), "1234");
    assert_eq!(string(&attrs, "k8s.statefulset.name"), "db");
    assert!(K8sResource::new().build().is_empty());
}

#[cfg(feature = "experimental")]
#[test]
fn genai_span() {
    use otlp_semconv::helpers::{GenAiSpan, TokenUsage};
    let attrs = GenAiSpan::new("chat", "openai")
        .with_legacy_system(true)
        .with_request_model("gpt-4o")
        .with_max_tokens(256)
        .with_temperature(0.5)
        .with_top_p(0.9)
        .with_response_id("r1")
        .with_response_model("gpt-4o-2024")
        .with_finish_reasons(["stop", "length"])
        .with_usage(TokenUsage {
            input_tokens: 10,
            output_tokens: 20,
        })
        .build();
    assert_eq!(string(&attrs, "gen_ai.operation.name"), "chat");
    assert_eq!(string(&attrs, "gen_ai.provider.name"), "openai");
    assert_eq!(string(&attrs, "gen_ai.system"), "openai");
    assert_eq!(string(&attrs, "gen_ai.request.model"), "gpt-4o");
    assert!(matches!(
        value(&attrs, "gen_ai.request.max_tokens"),
        Value::IntValue(256)
    ));
    assert!(
        matches!(value(&attrs, "gen_ai.request.temperature"), Value::DoubleValue(t) if *t == 0.5)
    );
    assert!(matches!(value(&attrs, "gen_ai.request.top_p"), Value::DoubleValue(t) if *t == 0.9));
    assert_eq!(string(&attrs, "gen_ai.response.id"), "r1");
    assert_eq!(string(&attrs, "gen_ai.response.model"), "gpt-4o-2024");
    match value(&attrs, "gen_ai.response.finish_reasons") {
        Value::ArrayValue(a) => {
            let v: Vec<_> = a
                .values
                .iter()
                .map(|v| match &v.value {
                    Some(Value::StringValue(s)) => s.as_str().to_owned(),
                    other => panic!("not a string: {other:?}"),
                })
                .collect();
            assert_eq!(v, ["stop", "length"]);
        }
        other => panic!("not an array: {other:?}"),
    }
    assert!(matches!(
        value(&attrs, "gen_ai.usage.input_tokens"),
        Value::IntValue(10)
    ));
    assert!(matches!(
        value(&attrs, "gen_ai.usage.output_tokens"),
        Value::IntValue(20)
    ));
    // Without the legacy flag, no deprecated key.
    let plain = GenAiSpan::new("chat", "openai").build();
    assert_eq!(plain.len(), 2);
}

#[cfg(feature = "experimental")]
#[test]
fn kafka_message() {
    use otlp_semconv::helpers::KafkaMessage;
    let attrs = KafkaMessage::new("orders")
        .with_consumer_group("billing")
        .with_partition(3)
        .with_offset(42)
        .with_key("k1")
        .with_tombstone(true)
        .build();
    assert_eq!(string(&attrs, "messaging.system"), "kafka");
    assert_eq!(string(&attrs, "messaging.destination.name"), "orders");
    assert_eq!(string(&attrs, "messaging.consumer.group.name"), "billing");
    assert_eq!(string(&attrs, "messaging.destination.partition.id"), "3");
    assert!(matches!(
        value(&attrs, "messaging.kafka.offset"),
        Value::IntValue(42)
    ));
    assert_eq!(string(&attrs, "messaging.kafka.message.key"), "k1");
    assert!(matches!(
        value(&attrs, "messaging.kafka.message.tombstone"),
        Value::BoolValue(true)
    ));
    assert_eq!(KafkaMessage::new("t").build().len(), 2);
}
