//! Kubernetes resource attributes (`k8s.*`), all stable.

use super::push;
use crate::attribute as a;
use otlp_proto::common::KeyValue;

/// The Kubernetes attributes of a resource: cluster, node, namespace, pod, container and the
/// workload that owns the pod.
///
/// ```
/// use otlp_semconv::helpers::K8sResource;
///
/// let attrs = K8sResource::new()
///     .with_namespace("shop")
///     .with_pod_name("cart-7c9f")
///     .with_deployment_name("cart")
///     .build();
/// assert_eq!(attrs[0].key.as_str(), "k8s.namespace.name");
/// ```
#[must_use]
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct K8sResource {
    cluster_name: Option<String>,
    node_name: Option<String>,
    namespace: Option<String>,
    pod_name: Option<String>,
    pod_uid: Option<String>,
    container_name: Option<String>,
    deployment_name: Option<String>,
    daemonset_name: Option<String>,
    statefulset_name: Option<String>,
}

macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident => $field:ident;)*) => {
        $(
            $(#[$doc])*
            pub fn $name(self, value: impl Into<String>) -> Self {
                K8sResource { $field: Some(value.into()), ..self }
            }
        )*
    };
}

impl K8sResource {
    /// No attributes yet.
    pub fn new() -> Self {
        K8sResource::default()
    }

    setters! {
        /// `k8s.cluster.name`.
        with_cluster_name => cluster_name;
        /// `k8s.node.name`.
        with_node_name => node_name;
        /// `k8s.namespace.name`.
        with_namespace => namespace;
        /// `k8s.pod.name`.
        with_pod_name => pod_name;
        /// `k8s.pod.uid`.
        with_pod_uid => pod_uid;
        /// `k8s.container.name`.
        with_container_name => container_name;
        /// `k8s.deployment.name`.
        with_deployment_name => deployment_name;
        /// `k8s.daemonset.name`.
        with_daemonset_name => daemonset_name;
        /// `k8s.statefulset.name`.
        with_statefulset_name => statefulset_name;
    }

    /// The attributes that are set, in a stable order (namespace first).
    #[must_use]
    pub fn build(&self) -> Vec<KeyValue> {
        let mut out = Vec::new();
        for (key, value) in [
            (a::K8S_NAMESPACE_NAME, &self.namespace),
            (a::K8S_POD_NAME, &self.pod_name),
            (a::K8S_POD_UID, &self.pod_uid),
            (a::K8S_CONTAINER_NAME, &self.container_name),
            (a::K8S_NODE_NAME, &self.node_name),
            (a::K8S_CLUSTER_NAME, &self.cluster_name),
            (a::K8S_DEPLOYMENT_NAME, &self.deployment_name),
            (a::K8S_DAEMONSET_NAME, &self.daemonset_name),
            (a::K8S_STATEFULSET_NAME, &self.statefulset_name),
        ] {
            push(&mut out, key, value.clone());
        }
        out
    }
}
