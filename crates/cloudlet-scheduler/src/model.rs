//! The scheduler's own model of nodes and pods: everything a plugin reads,
//! computed once from the Kubernetes objects when they are loaded (requests
//! summed, selectors compiled, priorities resolved), so scheduling never
//! touches the API types or parses a string.

use std::collections::BTreeMap;

use crate::labels::{Labels, NodeSelector, NodeSelectorTerm, Selector, Taint, Toleration};

/// `DefaultMilliCPURequest`: what a container without a cpu request counts as
/// when scoring spreads load.
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
/// `DefaultMemoryRequest`: 200 MiB.
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

pub const HOSTNAME_LABEL: &str = "kubernetes.io/hostname";
pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";
pub const REGION_LABEL: &str = "topology.kubernetes.io/region";

/// An amount of every resource the scheduler accounts for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    pub milli_cpu: i64,
    pub memory: i64,
    pub ephemeral_storage: i64,
    /// Allocatable pods (nodes only).
    pub pods: i64,
    /// Extended resources, hugepages and other scalar resources, by name,
    /// sorted by name.
    pub scalar: Vec<(String, i64)>,
}

impl Resources {
    pub fn scalar(&self, name: &str) -> i64 {
        self.scalar.iter().find(|(n, _)| n == name).map_or(0, |(_, v)| *v)
    }

    pub fn add_scalar(&mut self, name: &str, amount: i64) {
        match self.scalar.binary_search_by(|(n, _)| n.as_str().cmp(name)) {
            Ok(i) => self.scalar[i].1 += amount,
            Err(i) => self.scalar.insert(i, (name.to_string(), amount)),
        }
    }

    pub fn add(&mut self, other: &Self) {
        self.milli_cpu += other.milli_cpu;
        self.memory += other.memory;
        self.ephemeral_storage += other.ephemeral_storage;
        self.pods += other.pods;
        for (name, amount) in &other.scalar {
            self.add_scalar(name, *amount);
        }
    }

    pub fn sub(&mut self, other: &Self) {
        self.milli_cpu -= other.milli_cpu;
        self.memory -= other.memory;
        self.ephemeral_storage -= other.ephemeral_storage;
        self.pods -= other.pods;
        for (name, amount) in &other.scalar {
            self.add_scalar(name, -amount);
        }
    }

    /// The amount of one named resource: milli-units for cpu, whole units
    /// otherwise.
    pub fn get(&self, name: &str) -> i64 {
        match name {
            "cpu" => self.milli_cpu,
            "memory" => self.memory,
            "ephemeral-storage" => self.ephemeral_storage,
            "pods" => self.pods,
            _ => self.scalar(name),
        }
    }

    pub fn is_zero(&self) -> bool {
        self.milli_cpu == 0
            && self.memory == 0
            && self.ephemeral_storage == 0
            && self.scalar.iter().all(|(_, v)| *v == 0)
    }
}

/// True for resource names the scheduler accounts as scalar resources:
/// extended resources (`vendor/name` outside `kubernetes.io/`), hugepages,
/// `kubernetes.io/`-prefixed native resources and attachable volumes.
pub fn is_scalar_resource(name: &str) -> bool {
    name.starts_with("hugepages-")
        || name.starts_with("attachable-volumes-")
        || name.contains("kubernetes.io/")
        || (name.contains('/') && !name.starts_with("requests."))
}

/// A node as the scheduler sees it.
#[derive(Debug, Clone)]
pub struct Node {
    pub name: String,
    pub labels: Labels,
    pub taints: Vec<Taint>,
    pub unschedulable: bool,
    pub allocatable: Resources,
    /// `status.images`: every name of an image, with its size in bytes.
    pub images: Vec<(String, i64)>,
}

/// A host port a pod asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPort {
    /// `0.0.0.0` when the manifest gives no host IP.
    pub ip: String,
    pub protocol: String,
    pub port: i32,
}

impl HostPort {
    /// `HostPortInfo.CheckConflict`: the wildcard address conflicts with
    /// every address.
    pub fn conflicts(&self, other: &HostPort) -> bool {
        self.port == other.port
            && self.protocol == other.protocol
            && (self.ip == other.ip || self.ip == "0.0.0.0" || other.ip == "0.0.0.0")
    }
}

/// A pod (anti-)affinity term, with its namespaces resolved.
#[derive(Debug, Clone)]
pub struct AffinityTerm {
    /// Namespaces named in the term, or the pod's own when the term names
    /// none and has no namespace selector.
    pub namespaces: Vec<String>,
    pub namespace_selector: Selector,
    pub selector: Selector,
    pub topology_key: String,
}

impl AffinityTerm {
    /// `AffinityTerm.Matches`: the pod is in one of the namespaces (or its
    /// namespace's labels match the namespace selector) and its labels match.
    pub fn matches(&self, pod_namespace: &str, pod_labels: &Labels, namespace_labels: &Labels) -> bool {
        (self.namespaces.iter().any(|n| n == pod_namespace) || self.namespace_selector.matches(namespace_labels))
            && self.selector.matches(pod_labels)
    }
}

#[derive(Debug, Clone)]
pub struct WeightedAffinityTerm {
    pub weight: i32,
    pub term: AffinityTerm,
}

/// The inter-pod affinity of a pod.
#[derive(Debug, Clone, Default)]
pub struct PodAffinity {
    pub required_affinity: Vec<AffinityTerm>,
    pub required_anti_affinity: Vec<AffinityTerm>,
    pub preferred_affinity: Vec<WeightedAffinityTerm>,
    pub preferred_anti_affinity: Vec<WeightedAffinityTerm>,
    /// `pod.spec.affinity.podAffinity` or `.podAntiAffinity` is set, even if
    /// empty (upstream's `PodsWithAffinity`).
    pub declared: bool,
}

/// `whenUnsatisfiable`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unsatisfiable {
    DoNotSchedule,
    ScheduleAnyway,
}

/// A topology spread constraint with its selector merged with
/// `matchLabelKeys` and its policies defaulted.
#[derive(Debug, Clone)]
pub struct SpreadConstraint {
    pub max_skew: i32,
    pub topology_key: String,
    pub when_unsatisfiable: Unsatisfiable,
    pub selector: Selector,
    pub min_domains: i32,
    pub honor_node_affinity: bool,
    pub honor_node_taints: bool,
}

/// A pod as the scheduler sees it.
#[derive(Debug, Clone)]
pub struct Pod {
    pub namespace: String,
    pub name: String,
    pub labels: Labels,
    pub priority: i32,
    /// `preemptionPolicy: Never`.
    pub preemption_never: bool,
    /// The requests that count against allocatable (`PodRequests`).
    pub requests: Resources,
    /// cpu and memory with the non-zero defaults for containers that do
    /// not ask (`NonMissingContainerRequests`), used by scoring.
    pub non_zero_milli_cpu: i64,
    pub non_zero_memory: i64,
    /// `spec.nodeName` from the manifest.
    pub node_name: Option<String>,
    pub node_selector: BTreeMap<String, String>,
    pub required_node_affinity: Option<NodeSelector>,
    /// Preferred node affinity terms with a non-zero weight and at least one
    /// requirement.
    pub preferred_node_affinity: Vec<(i32, NodeSelectorTerm)>,
    pub tolerations: Vec<Toleration>,
    pub host_ports: Vec<HostPort>,
    /// The pod's own spread constraints (both kinds).
    pub spread_constraints: Vec<SpreadConstraint>,
    /// The selector of the ReplicaSet (or other controller) that owns the
    /// pod, for the system default spread constraints.
    pub owner_selector: Option<Selector>,
    /// `helper.DefaultSelector`: the selectors of the Services that select
    /// the pod and of its controller, ANDed; what the system default spread
    /// constraints count. `None` when empty (the defaults do nothing).
    pub default_spread_selector: Option<Selector>,
    /// `status.startTime` from the manifest, in nanoseconds since the epoch.
    pub start_time: Option<i128>,
    /// `status.nominatedNodeName` of a pod that is not bound.
    pub nominated_node_name: Option<String>,
    pub affinity: PodAffinity,
    /// Normalised image names of init and app containers, in that order.
    pub images: Vec<String>,
    pub scheduling_gates: Vec<String>,
    /// `metadata.deletionTimestamp` is set.
    pub terminating: bool,
    /// Where the pod came from (file and document), for messages.
    pub source: String,
}

impl Pod {
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// Passes the node's `nodeSelector` and required node affinity
    /// (`GetRequiredNodeAffinity(pod).Match(node)`).
    pub fn matches_node_selector_and_affinity(&self, node: &Node) -> bool {
        self.node_selector.iter().all(|(k, v)| node.labels.get(k) == Some(v))
            && self.required_node_affinity.as_ref().is_none_or(|ns| ns.matches(&node.name, &node.labels))
    }
}

/// `normalizedImageName`: an image without a tag means `:latest`.
pub fn normalized_image_name(name: &str) -> String {
    let colon = name.rfind(':');
    let slash = name.rfind('/');
    let has_tag = match (colon, slash) {
        (Some(c), Some(s)) => c > s,
        (Some(_), None) => true,
        (None, _) => false,
    };
    if has_tag { name.to_string() } else { format!("{name}:latest") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_names_without_tags_mean_latest() {
        assert_eq!(normalized_image_name("nginx"), "nginx:latest");
        assert_eq!(normalized_image_name("nginx:1.25"), "nginx:1.25");
        assert_eq!(normalized_image_name("registry:5000/app"), "registry:5000/app:latest");
        assert_eq!(normalized_image_name("registry:5000/app:v1"), "registry:5000/app:v1");
    }

    #[test]
    fn scalar_resource_names() {
        assert!(is_scalar_resource("nvidia.com/gpu"));
        assert!(is_scalar_resource("hugepages-2Mi"));
        assert!(!is_scalar_resource("cpu"));
        assert!(!is_scalar_resource("foo"));
    }

    #[test]
    fn wildcard_host_ports_conflict_with_every_address() {
        let any = HostPort { ip: "0.0.0.0".into(), protocol: "TCP".into(), port: 80 };
        let one = HostPort { ip: "10.0.0.1".into(), protocol: "TCP".into(), port: 80 };
        let other = HostPort { ip: "10.0.0.2".into(), protocol: "TCP".into(), port: 80 };
        let udp = HostPort { protocol: "UDP".into(), ..any.clone() };
        assert!(any.conflicts(&one));
        assert!(!one.conflicts(&other));
        assert!(!any.conflicts(&udp));
    }
}
