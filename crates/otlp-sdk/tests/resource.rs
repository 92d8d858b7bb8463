//! Resource detectors against fixture trees (cgroup v1 and v2, Docker, containerd, CRI-O,
//! Kubernetes, unreadable files) and against the real machine.

use otlp::resource::{
    ContainerDetector, Detector, EnvDetector, HostDetector, K8sDetector, OsDetector,
    ProcessDetector, ResourceBuilder, ServiceDetector, Source, detect,
};
use otlp_proto::common::{KeyValue, Value};
use std::path::PathBuf;

fn fixture(name: &str) -> Source {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/resource")
        .join(name);
    assert!(root.is_dir(), "fixture {name} missing");
    Source::fixture(root)
}

fn get(attrs: &[KeyValue], key: &str) -> Option<Value> {
    attrs
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.clone())
}

fn string(attrs: &[KeyValue], key: &str) -> Option<String> {
    match get(attrs, key)? {
        Value::StringValue(s) => Some(s.as_str().to_owned()),
        other => panic!("{key} is not a string: {other:?}"),
    }
}

fn keys(attrs: &[KeyValue]) -> Vec<&str> {
    attrs.iter().map(|kv| kv.key.as_str()).collect()
}

#[test]
fn cgroup_v1_docker() {
    let s = fixture("cgroup-v1-docker");
    let c = ContainerDetector.detect(&s);
    assert_eq!(
        string(&c, "container.id").as_deref(),
        Some("3f4e5d6c7b8a99887766554433221100ffeeddccbbaa00112233445566778899")
    );
    assert_eq!(
        string(&c, "container.runtime.name").as_deref(),
        Some("docker")
    );
    let h = HostDetector.detect(&s);
    assert_eq!(string(&h, "host.name").as_deref(), Some("web-1"));
    assert_eq!(
        string(&h, "host.id").as_deref(),
        Some("0f1e2d3c4b5a69788796a5b4c3d2e1f0")
    );
    let o = OsDetector.detect(&s);
    assert_eq!(string(&o, "os.name").as_deref(), Some("Debian GNU/Linux"));
    assert_eq!(string(&o, "os.version").as_deref(), Some("12"));
    assert_eq!(
        string(&o, "os.description").as_deref(),
        Some("Debian GNU/Linux 12 (bookworm)")
    );
}

#[test]
fn cgroup_v2_docker_from_mountinfo() {
    let s = fixture("cgroup-v2-docker");
    let c = ContainerDetector.detect(&s);
    assert_eq!(
        string(&c, "container.id").as_deref(),
        Some("a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90")
    );
    assert_eq!(
        string(&c, "container.runtime.name").as_deref(),
        Some("docker")
    );
    let o = OsDetector.detect(&s);
    assert_eq!(string(&o, "os.version").as_deref(), Some("3.20.3"));
    assert!(get(&HostDetector.detect(&s), "host.id").is_none());
}

#[test]
fn cgroup_v2_containerd() {
    let s = fixture("cgroup-v2-containerd");
    let c = ContainerDetector.detect(&s);
    assert_eq!(
        string(&c, "container.id").as_deref(),
        Some("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
    );
    assert_eq!(
        string(&c, "container.runtime.name").as_deref(),
        Some("containerd")
    );
    let h = HostDetector.detect(&s);
    assert_eq!(string(&h, "host.name").as_deref(), Some("ip-10-0-1-17"));
    // /etc/machine-id is absent: /var/lib/dbus/machine-id is used.
    assert_eq!(
        string(&h, "host.id").as_deref(),
        Some("9b8a7c6d5e4f30211203f4e5d6c7b8a9")
    );
    let o = OsDetector.detect(&s);
    assert!(
        string(&o, "os.description")
            .unwrap_or_default()
            .contains("6.8.0-1019-aws")
    );
}

#[test]
fn kubernetes_from_files_and_downward_api() {
    let s = fixture("k8s").with_env([
        ("KUBERNETES_SERVICE_HOST", "10.96.0.1"),
        ("HOSTNAME", "cart-7c9f8d6b5-x2k4p"),
        ("K8S_NODE_NAME", "node-a"),
        ("K8S_POD_UID", "5f3c1e2a-1b2c-4d5e-8f90-a1b2c3d4e5f6"),
        ("K8S_CLUSTER_NAME", "prod-eu"),
        ("K8S_CONTAINER_NAME", "cart"),
    ]);
    let k = K8sDetector.detect(&s);
    assert_eq!(string(&k, "k8s.namespace.name").as_deref(), Some("shop"));
    assert_eq!(
        string(&k, "k8s.pod.name").as_deref(),
        Some("cart-7c9f8d6b5-x2k4p")
    );
    assert_eq!(string(&k, "k8s.deployment.name").as_deref(), Some("cart"));
    assert_eq!(string(&k, "k8s.node.name").as_deref(), Some("node-a"));
    assert_eq!(string(&k, "k8s.cluster.name").as_deref(), Some("prod-eu"));
    assert_eq!(string(&k, "k8s.container.name").as_deref(), Some("cart"));
    assert_eq!(
        string(&k, "k8s.pod.uid").as_deref(),
        Some("5f3c1e2a-1b2c-4d5e-8f90-a1b2c3d4e5f6")
    );
    let c = ContainerDetector.detect(&s);
    assert_eq!(
        string(&c, "container.runtime.name").as_deref(),
        Some("cri-o")
    );
    assert_eq!(
        string(&c, "container.id").as_deref(),
        Some("fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210")
    );
}

#[test]
fn kubernetes_explicit_variables_win_and_workloads_come_from_env() {
    let s = fixture("k8s").with_env([
        ("K8S_NAMESPACE_NAME", "other"),
        ("K8S_POD_NAME", "db-0"),
        ("K8S_STATEFULSET_NAME", "db"),
        ("K8S_DAEMONSET_NAME", "agent"),
    ]);
    let k = K8sDetector.detect(&s);
    assert_eq!(string(&k, "k8s.namespace.name").as_deref(), Some("other"));
    assert_eq!(string(&k, "k8s.pod.name").as_deref(), Some("db-0"));
    assert_eq!(string(&k, "k8s.statefulset.name").as_deref(), Some("db"));
    assert_eq!(string(&k, "k8s.daemonset.name").as_deref(), Some("agent"));
    assert!(
        get(&k, "k8s.deployment.name").is_none(),
        "db-0 is no deployment pod"
    );
}

#[test]
fn outside_kubernetes_nothing_is_guessed() {
    let s = fixture("cgroup-v1-docker").with_env([("HOSTNAME", "cart-7c9f8d6b5-x2k4p")]);
    assert!(K8sDetector.detect(&s).is_empty());
}

#[test]
fn missing_or_unreadable_sources_yield_nothing() {
    for s in [
        fixture("unreadable"),
        Source::fixture("/nonexistent/otlp-fixture"),
    ] {
        assert!(ContainerDetector.detect(&s).is_empty());
        assert!(K8sDetector.detect(&s).is_empty());
        assert!(EnvDetector.detect(&s).is_empty());
        let h = HostDetector.detect(&s);
        assert!(get(&h, "host.id").is_none() && get(&h, "host.name").is_none());
        let p = ProcessDetector.detect(&s);
        assert!(
            get(&p, "process.pid").is_none(),
            "no pid from a tree without /proc"
        );
        // The whole pipeline still builds a resource.
        let r = ResourceBuilder::new()
            .with_source(s)
            .with_default_detectors()
            .build();
        assert!(string(&r.attributes, "service.name").is_some());
    }
}

#[test]
fn merge_order_later_wins_and_code_wins_last() {
    let s = Source::fixture("/nonexistent").with_env([
        (
            "OTEL_RESOURCE_ATTRIBUTES",
            "service.name=from-attrs,team=a%2Cb,bad,k8s.pod.name=override",
        ),
        ("OTEL_SERVICE_NAME", "from-service-name"),
        ("K8S_POD_NAME", "from-downward-api"),
    ]);
    let r = ResourceBuilder::new()
        .with_source(s)
        .with_default_detectors()
        .with_attribute(KeyValue::new("team", "code"))
        .build();
    let a = &r.attributes;
    assert_eq!(
        string(a, "service.name").as_deref(),
        Some("from-service-name")
    );
    assert_eq!(string(a, "k8s.pod.name").as_deref(), Some("override"));
    assert_eq!(string(a, "team").as_deref(), Some("code"));
    let ks = keys(a);
    let mut dedup = ks.clone();
    dedup.sort_unstable();
    dedup.dedup();
    assert_eq!(ks.len(), dedup.len(), "keys are unique: {ks:?}");

    let only_env = Source::fixture("/nonexistent").with_env([(
        "OTEL_RESOURCE_ATTRIBUTES",
        "service.name=from-attrs,team=a%2Cb",
    )]);
    let e = EnvDetector.detect(&only_env);
    assert_eq!(string(&e, "service.name").as_deref(), Some("from-attrs"));
    assert_eq!(string(&e, "team").as_deref(), Some("a,b"));
}

#[test]
fn service_instance_id_is_a_stable_uuid() {
    let s = Source::fixture("/nonexistent");
    let a = string(&ServiceDetector.detect(&s), "service.instance.id").unwrap_or_default();
    let b = string(&ServiceDetector.detect(&s), "service.instance.id").unwrap_or_default();
    assert_eq!(a, b);
    assert_eq!(a.len(), 36);
    assert_eq!(a.as_bytes()[14], b'4', "{a} is a v4 UUID");
}

#[test]
fn the_real_machine() {
    let r = detect();
    let a = &r.attributes;
    assert!(
        matches!(get(a, "process.pid"), Some(Value::IntValue(p)) if p == i64::from(std::process::id()))
    );
    let exe = string(a, "process.executable.name").unwrap_or_default();
    assert!(exe.starts_with("resource"), "{exe}");
    assert!(string(a, "host.arch").is_some());
    assert!(string(a, "os.type").is_some());
    assert_eq!(string(a, "process.runtime.name").as_deref(), Some("rust"));
    assert!(string(a, "service.name").is_some_and(|n| !n.is_empty()));
}
