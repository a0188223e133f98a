//! The cluster the scheduler sees: nodes in the scheduler's snapshot order,
//! every pod, and per-node aggregates kept up to date as pods are bound
//! (upstream's `NodeInfo`), so that plugins never walk every pod to learn a
//! node's requested resources, used ports or pods with affinity.
//!
//! Binding and unbinding are the only mutations; both are O(pods on the node).

use std::collections::{BTreeMap, HashMap};

use crate::labels::Labels;
use crate::model::{self, HostPort, Node, Pod, Resources};

/// Index of a node in [`Cluster::nodes`].
pub type NodeId = usize;
/// Index of a pod in [`Cluster::pods`].
pub type PodId = usize;

/// Aggregates of the pods bound to one node.
#[derive(Debug, Clone, Default)]
pub struct NodeState {
    /// Sum of the bound pods' requests (`NodeInfo.Requested`).
    pub requested: Resources,
    /// cpu and memory with non-zero defaults (`NodeInfo.NonZeroRequested`).
    pub non_zero_milli_cpu: i64,
    pub non_zero_memory: i64,
    pub pods: Vec<PodId>,
    /// Bound pods that declare pod affinity or anti-affinity.
    pub pods_with_affinity: Vec<PodId>,
    /// Bound pods with required anti-affinity terms.
    pub pods_with_required_anti_affinity: Vec<PodId>,
    pub used_ports: Vec<HostPort>,
}

/// Nodes, pods and where each pod is bound.
#[derive(Debug, Clone)]
pub struct Cluster {
    pub nodes: Vec<Node>,
    pub node_by_name: HashMap<String, NodeId>,
    /// Node ids in the scheduler's snapshot order: zones interleaved
    /// (node 0 of each zone, then node 1 of each zone, ...).
    pub order: Vec<NodeId>,
    pub states: Vec<NodeState>,
    pub pods: Vec<Pod>,
    pub pod_node: Vec<Option<NodeId>>,
    pub namespaces: BTreeMap<String, Labels>,
    /// For every image name: how many nodes have it.
    pub image_node_counts: HashMap<String, usize>,
    /// How many nodes have pods with affinity / required anti-affinity.
    pub nodes_with_affinity_pods: usize,
    pub nodes_with_required_anti_affinity_pods: usize,
    empty_labels: Labels,
}

impl Cluster {
    pub fn new(nodes: Vec<Node>, pods: Vec<Pod>, namespaces: BTreeMap<String, Labels>) -> Self {
        let node_by_name = nodes.iter().enumerate().map(|(i, n)| (n.name.clone(), i)).collect();
        let order = zone_interleaved_order(&nodes);
        let mut image_node_counts: HashMap<String, usize> = HashMap::new();
        for node in &nodes {
            let mut names: Vec<&str> = node.images.iter().map(|(n, _)| n.as_str()).collect();
            names.sort_unstable();
            names.dedup();
            for name in names {
                *image_node_counts.entry(name.to_string()).or_default() += 1;
            }
        }
        let states = vec![NodeState::default(); nodes.len()];
        let pod_node = vec![None; pods.len()];
        Self {
            nodes,
            node_by_name,
            order,
            states,
            pods,
            pod_node,
            namespaces,
            image_node_counts,
            nodes_with_affinity_pods: 0,
            nodes_with_required_anti_affinity_pods: 0,
            empty_labels: Labels::new(),
        }
    }

    /// Labels of a namespace (empty for one never seen).
    pub fn namespace_labels(&self, namespace: &str) -> &Labels {
        self.namespaces.get(namespace).unwrap_or(&self.empty_labels)
    }

    /// Adds a pod (not yet bound); returns its id.
    pub fn add_pod(&mut self, pod: Pod) -> PodId {
        if !self.namespaces.contains_key(&pod.namespace) {
            let labels = Labels::from([("kubernetes.io/metadata.name".to_string(), pod.namespace.clone())]);
            self.namespaces.insert(pod.namespace.clone(), labels);
        }
        self.pods.push(pod);
        self.pod_node.push(None);
        self.pods.len() - 1
    }

    /// Binds a pod to a node and updates the node's aggregates.
    pub fn bind(&mut self, pod_id: PodId, node_id: NodeId) {
        debug_assert!(self.pod_node[pod_id].is_none());
        let pod = &self.pods[pod_id];
        let state = &mut self.states[node_id];
        state.requested.add(&pod.requests);
        state.non_zero_milli_cpu += pod.non_zero_milli_cpu;
        state.non_zero_memory += pod.non_zero_memory;
        state.pods.push(pod_id);
        if pod.affinity.declared {
            if state.pods_with_affinity.is_empty() {
                self.nodes_with_affinity_pods += 1;
            }
            state.pods_with_affinity.push(pod_id);
        }
        if !pod.affinity.required_anti_affinity.is_empty() {
            if state.pods_with_required_anti_affinity.is_empty() {
                self.nodes_with_required_anti_affinity_pods += 1;
            }
            state.pods_with_required_anti_affinity.push(pod_id);
        }
        state.used_ports.extend(pod.host_ports.iter().cloned());
        self.pod_node[pod_id] = Some(node_id);
    }

    /// Removes a pod from its node (preemption, deletion).
    pub fn unbind(&mut self, pod_id: PodId) {
        let Some(node_id) = self.pod_node[pod_id].take() else { return };
        let pod = &self.pods[pod_id];
        let state = &mut self.states[node_id];
        state.requested.sub(&pod.requests);
        state.non_zero_milli_cpu -= pod.non_zero_milli_cpu;
        state.non_zero_memory -= pod.non_zero_memory;
        state.pods.retain(|p| *p != pod_id);
        if pod.affinity.declared {
            state.pods_with_affinity.retain(|p| *p != pod_id);
            if state.pods_with_affinity.is_empty() {
                self.nodes_with_affinity_pods -= 1;
            }
        }
        if !pod.affinity.required_anti_affinity.is_empty() {
            state.pods_with_required_anti_affinity.retain(|p| *p != pod_id);
            if state.pods_with_required_anti_affinity.is_empty() {
                self.nodes_with_required_anti_affinity_pods -= 1;
            }
        }
        for port in &pod.host_ports {
            if let Some(i) = state.used_ports.iter().position(|p| p == port) {
                state.used_ports.swap_remove(i);
            }
        }
    }
}

/// `nodeTree.list()`: zones (region + zone labels) in order of first
/// appearance; one node from each zone in turn.
pub fn zone_interleaved_order(nodes: &[Node]) -> Vec<NodeId> {
    let mut zones: Vec<(String, Vec<NodeId>)> = Vec::new();
    let mut zone_index: HashMap<String, usize> = HashMap::new();
    for (id, node) in nodes.iter().enumerate() {
        let region = node.labels.get(model::REGION_LABEL).map_or("", String::as_str);
        let zone = node.labels.get(model::ZONE_LABEL).map_or("", String::as_str);
        let key = if region.is_empty() && zone.is_empty() { String::new() } else { format!("{region}:\x00:{zone}") };
        let index = *zone_index.entry(key.clone()).or_insert_with(|| {
            zones.push((key, Vec::new()));
            zones.len() - 1
        });
        zones[index].1.push(id);
    }
    let mut order = Vec::with_capacity(nodes.len());
    let mut round = 0;
    while order.len() < nodes.len() {
        for (_, ids) in &zones {
            if let Some(id) = ids.get(round) {
                order.push(*id);
            }
        }
        round += 1;
    }
    order
}
