//! The client's resource: what is given in code is merged over what is detected, code beating
//! `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES`, and detection can be turned off.

mod common;

use common::child::in_child;
use otlp::{ClientConfig, ExporterConfig, OtlpClient};
use otlp_proto::common::{KeyValue, Value};
use otlp_proto::resource::Resource;

fn client(config: ClientConfig) -> OtlpClient {
    OtlpClient::new_blocking(config.with_exporter(ExporterConfig::default().with_disabled(true)))
        .expect("client")
}

fn resource(attributes: &[(&str, &str)]) -> Resource {
    Resource {
        attributes: attributes
            .iter()
            .map(|(k, v)| KeyValue::new(k.to_string(), v.to_string()))
            .collect(),
        ..Resource::default()
    }
}

fn string(r: &Resource, key: &str) -> Option<String> {
    r.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
            Value::StringValue(s) => Some(s.as_str().to_owned()),
            _ => None,
        })
}

fn unique_keys(r: &Resource) {
    let mut keys: Vec<&str> = r.attributes.iter().map(|kv| kv.key.as_str()).collect();
    let n = keys.len();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), n, "keys are unique: {keys:?}");
}

#[test]
fn given_attributes_merge_over_the_detected_ones() {
    let c = client(ClientConfig::new().with_resource(resource(&[
        ("service.name", "checkout"),
        ("deployment.environment.name", "prod"),
    ])));
    let r = c.resource();
    assert_eq!(string(r, "service.name").as_deref(), Some("checkout"));
    assert_eq!(
        string(r, "deployment.environment.name").as_deref(),
        Some("prod")
    );
    // Detected attributes are kept.
    assert!(string(r, "service.instance.id").is_some(), "{r:?}");
    assert!(string(r, "process.executable.name").is_some(), "{r:?}");
    assert!(string(r, "host.name").is_some() || string(r, "os.type").is_some());
    unique_keys(r);
}

#[test]
fn without_a_service_name_the_detected_one_stays() {
    if !in_child("without_a_service_name_the_detected_one_stays", &[]) {
        return;
    }
    let c = client(ClientConfig::new().with_resource(resource(&[("team", "payments")])));
    let r = c.resource();
    let name = string(r, "service.name").expect("service.name");
    assert!(name.starts_with("unknown_service:"), "{name}");
    assert_eq!(string(r, "team").as_deref(), Some("payments"));
}

#[test]
fn code_beats_the_environment_which_keeps_its_own_precedence() {
    let vars = [
        ("OTEL_SERVICE_NAME", "from-service-name"),
        (
            "OTEL_RESOURCE_ATTRIBUTES",
            "service.name=from-attributes,team=env,region=eu",
        ),
    ];
    if !in_child(
        "code_beats_the_environment_which_keeps_its_own_precedence",
        &vars,
    ) {
        return;
    }
    // Nothing in code: OTEL_SERVICE_NAME wins over OTEL_RESOURCE_ATTRIBUTES.
    let r = client(ClientConfig::new()).resource().clone();
    assert_eq!(
        string(&r, "service.name").as_deref(),
        Some("from-service-name")
    );
    assert_eq!(string(&r, "team").as_deref(), Some("env"));

    // Attributes in code without service.name: the environment's service.name stays.
    let c = client(ClientConfig::new().with_resource(resource(&[("team", "code")])));
    let r = c.resource();
    assert_eq!(
        string(r, "service.name").as_deref(),
        Some("from-service-name")
    );
    assert_eq!(string(r, "team").as_deref(), Some("code"));
    assert_eq!(string(r, "region").as_deref(), Some("eu"));
    unique_keys(r);

    // service.name in code beats both variables.
    let c = client(ClientConfig::new().with_resource(resource(&[("service.name", "code")])));
    assert_eq!(
        string(c.resource(), "service.name").as_deref(),
        Some("code")
    );
}

#[test]
fn without_detection_only_the_given_resource_is_used() {
    let vars = [("OTEL_RESOURCE_ATTRIBUTES", "team=env")];
    if !in_child("without_detection_only_the_given_resource_is_used", &vars) {
        return;
    }
    let given = resource(&[("service.name", "alone"), ("k", "v")]);
    let c = client(
        ClientConfig::new()
            .with_resource(given.clone())
            .with_resource_detection(false),
    );
    assert_eq!(c.resource(), &given);
    let c = client(ClientConfig::new().with_resource_detection(false));
    assert!(c.resource().attributes.is_empty());
    // With detection on, the variable is read.
    let c = client(ClientConfig::new().with_resource(given));
    assert_eq!(string(c.resource(), "team").as_deref(), Some("env"));
}
