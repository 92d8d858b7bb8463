//! The generated tables hold exactly what the YAML model defines.

use otlp_semconv::info::{AttributeType, Instrument, Stability};
use otlp_semconv::registry;
use xtask::model::{AttrType, Model};

fn model() -> Model {
    let root = xtask::model_root();
    xtask::model::load(&root)
        .unwrap_or_else(|e| panic!("the model must be present at {}: {e}", root.display()))
}

/// Whether an item of this stability is compiled in with the features of this test run.
fn visible(stability: &str) -> bool {
    cfg!(feature = "experimental") || stability == "stable"
}

#[test]
fn counts_match_the_model() {
    let m = model();
    let attrs = m
        .attributes
        .iter()
        .filter(|a| visible(&a.stability))
        .count();
    assert_eq!(registry::ATTRIBUTES.len(), attrs);
    let enum_attrs = m
        .attributes
        .iter()
        .filter(|a| visible(&a.stability) && matches!(a.ty, AttrType::Enum { .. }))
        .count();
    let generated_enums = registry::ATTRIBUTES
        .iter()
        .filter(|a| matches!(a.ty, AttributeType::StringEnum | AttributeType::IntEnum))
        .count();
    assert_eq!(generated_enums, enum_attrs);
    let members: usize = m
        .attributes
        .iter()
        .map(|a| match &a.ty {
            AttrType::Enum { members } => members
                .iter()
                .filter(|mem| {
                    visible(&a.stability) && (a.stability != "stable" || visible(&mem.stability))
                })
                .count(),
            AttrType::Plain(_) => 0,
        })
        .sum();
    assert_eq!(registry::ENUM_MEMBERS.len(), members);
    let metrics = m.metrics.iter().filter(|x| visible(&x.stability)).count();
    assert_eq!(registry::METRICS.len(), metrics);
    for (table, groups) in [
        (registry::EVENTS, &m.events),
        (registry::SPANS, &m.spans),
        (registry::ENTITIES, &m.entities),
    ] {
        assert_eq!(
            table.len(),
            groups.iter().filter(|g| visible(&g.stability)).count()
        );
    }
    if cfg!(feature = "experimental") {
        // The whole registry: the core model's 940 attributes and 541 metrics, give or take
        // future edits, are all there.
        assert!(registry::ATTRIBUTES.len() > 900);
        assert!(registry::METRICS.len() > 500);
    }
}

#[test]
fn every_model_attribute_is_in_the_table_with_its_type() {
    let m = model();
    for a in m.attributes.iter().filter(|a| visible(&a.stability)) {
        let info = registry::ATTRIBUTES
            .iter()
            .find(|i| i.key == a.id)
            .unwrap_or_else(|| panic!("{} missing", a.id));
        let renamed = a.deprecated.as_ref().and_then(|d| d.renamed_to.as_deref());
        assert_eq!(info.renamed_to, renamed, "{}", a.id);
        assert_eq!(
            info.deprecated.is_some(),
            a.deprecated.is_some(),
            "{}",
            a.id
        );
        assert_eq!(info.stability == Stability::Stable, a.stability == "stable");
    }
}

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
