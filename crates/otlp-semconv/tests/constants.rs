//! The generated constants and tables, checked by name: what users rely on. (The checks
//! against the semantic-conventions model itself are `cargo run -p xtask -- semconv --check`,
//! since the model is not part of the repository.)

use otlp_semconv::info::{AttributeType, Instrument, Stability};
use otlp_semconv::registry;

#[test]
fn stable_names_and_types() {
    use otlp_semconv::attribute as a;
    assert_eq!(a::HTTP_REQUEST_METHOD, "http.request.method");
    assert_eq!(a::http_request_method::GET, "GET");
    assert_eq!(a::K8S_POD_NAME, "k8s.pod.name");
    assert_eq!(a::SERVICE_NAME, "service.name");
    assert_eq!(
        otlp_semconv::metric::HTTP_SERVER_REQUEST_DURATION,
        "http.server.request.duration"
    );
    let info = lookup("http.request.method");
    assert_eq!(info.ty, AttributeType::StringEnum);
    assert_eq!(info.stability, Stability::Stable);
    assert_eq!(lookup("http.response.status_code").ty, AttributeType::Int);
    assert_eq!(lookup("http.request.header").ty, AttributeType::StringArray);
    assert!(lookup("http.request.header").template);
    let metric = registry::METRICS
        .iter()
        .find(|m| m.name == "http.server.request.duration")
        .expect("metric");
    assert_eq!(
        (metric.instrument, metric.unit),
        (Instrument::Histogram, "s")
    );
    assert_eq!(
        otlp_semconv::SCHEMA_URL,
        "https://opentelemetry.io/schemas/1.44.0"
    );
}

#[cfg(feature = "experimental")]
#[test]
fn experimental_names_and_types() {
    use otlp_semconv::attribute as a;
    assert_eq!(a::MESSAGING_KAFKA_OFFSET, "messaging.kafka.offset");
    assert_eq!(lookup("messaging.kafka.offset").ty, AttributeType::Int);
    assert_eq!(a::GEN_AI_USAGE_INPUT_TOKENS, "gen_ai.usage.input_tokens");
    assert_eq!(lookup("gen_ai.usage.input_tokens").ty, AttributeType::Int);
    assert_eq!(
        lookup("gen_ai.request.temperature").ty,
        AttributeType::Double
    );
    assert_eq!(
        lookup("gen_ai.response.finish_reasons").ty,
        AttributeType::StringArray
    );
    assert_eq!(
        lookup("messaging.kafka.message.tombstone").ty,
        AttributeType::Boolean
    );
    // GenAI comes from the GenAI registry (v1.41.0), not the core registry's deprecated stubs.
    assert_eq!(lookup("gen_ai.request.model").deprecated, None);
    assert_eq!(a::gen_ai_operation_name::CHAT, "chat");
    assert_eq!(a::gen_ai_provider_name::OPENAI, "openai");
    assert_eq!(
        otlp_semconv::event::GEN_AI_CLIENT_INFERENCE_OPERATION_DETAILS,
        "gen_ai.client.inference.operation.details"
    );
    assert_eq!(otlp_semconv::entity::K8S_POD, "k8s.pod");
    assert_eq!(otlp_semconv::span::HTTP_CLIENT, "http.client");
    // An int enum keeps integer values.
    let int_members: Vec<_> = registry::ENUM_MEMBERS
        .iter()
        .filter(|m| matches!(m.value, otlp_semconv::info::EnumValue::Int(_)))
        .collect();
    assert!(!int_members.is_empty());
    for m in int_members {
        assert_eq!(
            lookup(m.attribute).ty,
            AttributeType::IntEnum,
            "{}",
            m.attribute
        );
    }
}

#[cfg(feature = "experimental")]
#[test]
#[allow(deprecated)]
fn deprecated_names_carry_their_replacement() {
    use otlp_semconv::attribute as a;
    let offset = lookup("messaging.kafka.message.offset");
    assert_eq!(offset.renamed_to, Some("messaging.kafka.offset"));
    assert_eq!(
        offset.deprecated,
        Some("Replaced by `messaging.kafka.offset`.")
    );
    assert_eq!(
        a::MESSAGING_KAFKA_MESSAGE_OFFSET,
        "messaging.kafka.message.offset"
    );
    assert_eq!(
        lookup("gen_ai.system").renamed_to,
        Some("gen_ai.provider.name")
    );
    assert_eq!(a::GEN_AI_SYSTEM, "gen_ai.system");
    // A deprecated key whose Rust name its replacement took gets a suffix.
    assert_eq!(a::FEATURE_FLAG_PROVIDER_NAME, "feature_flag.provider.name");
    assert_eq!(
        a::FEATURE_FLAG_PROVIDER_NAME_DEPRECATED,
        "feature_flag.provider_name"
    );
    for info in registry::ATTRIBUTES {
        if let Some(to) = info.renamed_to {
            assert_eq!(
                info.deprecated,
                Some(format!("Replaced by `{to}`.").as_str())
            );
        }
    }
}

fn lookup(key: &str) -> otlp_semconv::info::AttributeInfo {
    *registry::ATTRIBUTES
        .iter()
        .find(|a| a.key == key)
        .unwrap_or_else(|| panic!("{key} missing"))
}
