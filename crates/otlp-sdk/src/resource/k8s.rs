//! `k8s.*` from the downward API and the service-account namespace file.

use super::{Detector, Source};
use otlp_proto::common::KeyValue;
use otlp_semconv::attribute as a;

/// The namespace file every pod with a service account has.
pub const NAMESPACE_FILE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

/// Kubernetes attributes, from environment variables set through the downward API (see the
/// README for the pod spec) and from the pod's files:
///
/// | variable | attribute | fallback |
/// |---|---|---|
/// | `K8S_POD_NAME` | `k8s.pod.name` | `$HOSTNAME`, when running in Kubernetes |
/// | `K8S_POD_UID` | `k8s.pod.uid` | |
/// | `K8S_NAMESPACE_NAME` | `k8s.namespace.name` | the service-account namespace file |
/// | `K8S_NODE_NAME` | `k8s.node.name` | |
/// | `K8S_CLUSTER_NAME` | `k8s.cluster.name` | |
/// | `K8S_CONTAINER_NAME` | `k8s.container.name` | |
/// | `K8S_DEPLOYMENT_NAME` | `k8s.deployment.name` | derived from a pod name of the form `<deployment>-<replicaset hash>-<suffix>` |
/// | `K8S_DAEMONSET_NAME` | `k8s.daemonset.name` | |
/// | `K8S_STATEFULSET_NAME` | `k8s.statefulset.name` | |
///
/// The process counts as running in Kubernetes when `KUBERNETES_SERVICE_HOST` is set or the
/// namespace file exists; outside it, only the explicit variables are read.
#[derive(Debug, Clone, Copy, Default)]
pub struct K8sDetector;

impl Detector for K8sDetector {
    fn detect(&self, source: &Source) -> Vec<KeyValue> {
        let file_ns = source.read_line(NAMESPACE_FILE);
        let in_k8s = file_ns.is_some() || source.var("KUBERNETES_SERVICE_HOST").is_some();
        let namespace = source.var("K8S_NAMESPACE_NAME").or(file_ns);
        let pod = source
            .var("K8S_POD_NAME")
            .or_else(|| if in_k8s { source.var("HOSTNAME") } else { None });
        let deployment = source
            .var("K8S_DEPLOYMENT_NAME")
            .or_else(|| pod.as_deref().and_then(deployment_of));
        let mut out = Vec::new();
        for (key, value) in [
            (a::K8S_NAMESPACE_NAME, namespace),
            (a::K8S_POD_NAME, pod),
            (a::K8S_POD_UID, source.var("K8S_POD_UID")),
            (a::K8S_CONTAINER_NAME, source.var("K8S_CONTAINER_NAME")),
            (a::K8S_NODE_NAME, source.var("K8S_NODE_NAME")),
            (a::K8S_CLUSTER_NAME, source.var("K8S_CLUSTER_NAME")),
            (a::K8S_DEPLOYMENT_NAME, deployment),
            (a::K8S_DAEMONSET_NAME, source.var("K8S_DAEMONSET_NAME")),
            (a::K8S_STATEFULSET_NAME, source.var("K8S_STATEFULSET_NAME")),
        ] {
            if let Some(v) = value {
                out.push(KeyValue::new(key, v));
            }
        }
        out
    }
}

/// The deployment of a pod named `<deployment>-<hash>-<suffix>`: the ReplicaSet hash uses
/// Kubernetes' safe alphabet (no vowels, no `0`, `1`, `3`) and the suffix is 5 such characters.
pub fn deployment_of(pod: &str) -> Option<String> {
    const SAFE: &str = "bcdfghjklmnpqrstvwxz2456789";
    let safe = |s: &str| s.chars().all(|c| SAFE.contains(c));
    let (rest, suffix) = pod.rsplit_once('-')?;
    let (deployment, hash) = rest.rsplit_once('-')?;
    let ok = suffix.len() == 5
        && safe(suffix)
        && (6..=10).contains(&hash.len())
        && safe(hash)
        && !deployment.is_empty();
    ok.then(|| deployment.to_owned())
}
