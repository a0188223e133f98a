//! The cluster the scheduler sees: nodes in the scheduler's snapshot order,
//! every pod, and per-node aggregates kept up to date as pods are bound
//! (upstream's `NodeInfo`), so that plugins never walk every pod to learn a
//! node's requested resources, used ports or pods with affinity.
//!
//! Binding and unbinding are the only mutations; both are O(pods on the
//! node) plus one predicate per cached counter.
//!
//! Counters ([`PodMatcher`]) answer "how many bound pods on each node match
//! this selector or these affinity terms" in O(nodes) instead of O(pods):
//! the first question builds the counter with one pass over the pods, and
//! every bind and unbind after that keeps it current. Replicas of one
//! workload ask the same questions, so at 5,000 nodes and 100,000 pods the
//! topology spread and inter-pod affinity plugins never walk every pod.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::labels::{Labels, Selector};
use crate::model::{self, AffinityTerm, HostPort, Node, Pod, PodAffinity, Resources};

/// A question about bound pods, answered per node by [`Cluster::counts`].
#[derive(Debug, Clone)]
pub enum PodMatcher {
    /// PodTopologySpread's `countPodsMatchSelector`: pods in the namespace,
    /// not terminating, matching a non-empty selector.
    Spread { namespace: String, selector: Selector },
    /// Pods matching every one of the terms.
    AllTerms(Vec<AffinityTerm>),
}

impl PodMatcher {
    fn key(&self) -> String {
        format!("{self:?}")
    }

    fn matches(&self, pod: &Pod, namespace_labels: &Labels) -> bool {
        match self {
            PodMatcher::Spread { namespace, selector } => {
                !pod.terminating && pod.namespace == *namespace && !selector.is_empty() && selector.matches(&pod.labels)
            }
            PodMatcher::AllTerms(terms) => {
                terms.iter().all(|t| t.matches(&pod.namespace, &pod.labels, namespace_labels))
            }
        }
    }
}

/// The topology domains of one label key: each node's domain (`u32::MAX`
/// when the node lacks the key) and each domain's value.
#[derive(Debug, Clone)]
pub struct Domains {
    pub of_node: Vec<u32>,
    pub values: Vec<String>,
}

/// No domain: the node lacks the key.
pub const NO_DOMAIN: u32 = u32::MAX;

/// Bound pods that share the same affinity terms, counted per node.
#[derive(Debug, Clone)]
pub struct AffinityGroup {
    pub affinity: PodAffinity,
    pub per_node: Vec<i64>,
    pub total: i64,
}

/// Counters kept up to date by bind and unbind; bounded, cleared when full.
#[derive(Debug, Clone, Default)]
struct Counters {
    /// Shared with the callers of [`Cluster::counts`] for the length of a
    /// cycle; a bind copies a counter only if someone still holds it.
    entries: HashMap<String, (PodMatcher, Arc<Vec<i64>>)>,
}

/// More distinct questions than this and the cache starts again.
const MAX_COUNTERS: usize = 512;

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
    /// Changes whenever a pod is bound to or removed from the node, so
    /// scores that depend only on the node can be cached against it.
    pub version: u64,
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
    /// Per pod, the order in which it was first bound (its start, for pods
    /// whose manifest has no `status.startTime`); preemption's dry runs
    /// re-bind pods without changing it.
    pub bind_order: Vec<Option<u64>>,
    /// The next value of `bind_order`.
    pub next_bind_order: u64,
    pub namespaces: BTreeMap<String, Labels>,
    /// For every image name: how many nodes have it.
    pub image_node_counts: HashMap<String, usize>,
    /// How many nodes have pods with affinity / required anti-affinity.
    pub nodes_with_affinity_pods: usize,
    pub nodes_with_required_anti_affinity_pods: usize,
    /// Bound pods with pod (anti-)affinity, grouped by identical terms, with
    /// per-node counts: plugins evaluate each group's terms once instead of
    /// once per pod.
    pub affinity_groups: Vec<AffinityGroup>,
    group_index: HashMap<String, usize>,
    pod_group: HashMap<PodId, usize>,
    domains: RefCell<HashMap<String, Arc<Domains>>>,
    /// Some node is cordoned / has taints (filters skip the check if not).
    pub any_unschedulable: bool,
    pub any_taints: bool,
    empty_labels: Labels,
    counters: RefCell<Counters>,
}

impl Cluster {
    pub fn new(nodes: Vec<Node>, pods: Vec<Pod>, mut namespaces: BTreeMap<String, Labels>) -> Self {
        for pod in &pods {
            if !namespaces.contains_key(&pod.namespace) {
                let labels = Labels::from([("kubernetes.io/metadata.name".to_string(), pod.namespace.clone())]);
                namespaces.insert(pod.namespace.clone(), labels);
            }
        }
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
        let bind_order = vec![None; pods.len()];
        let any_unschedulable = nodes.iter().any(|n| n.unschedulable);
        let any_taints = nodes.iter().any(|n| !n.taints.is_empty());
        Self {
            nodes,
            node_by_name,
            order,
            states,
            pods,
            pod_node,
            bind_order,
            next_bind_order: 0,
            namespaces,
            image_node_counts,
            nodes_with_affinity_pods: 0,
            nodes_with_required_anti_affinity_pods: 0,
            affinity_groups: Vec::new(),
            group_index: HashMap::new(),
            pod_group: HashMap::new(),
            domains: RefCell::default(),
            any_unschedulable,
            any_taints,
            empty_labels: Labels::new(),
            counters: RefCell::new(Counters::default()),
        }
    }

    /// The topology domains of a label key (nodes never change, so each key
    /// is worked out once).
    pub fn domains(&self, key: &str) -> Arc<Domains> {
        if let Some(d) = self.domains.borrow().get(key) {
            return Arc::clone(d);
        }
        let mut index: HashMap<&str, u32> = HashMap::new();
        let mut values = Vec::new();
        let of_node = self
            .nodes
            .iter()
            .map(|n| match n.labels.get(key) {
                Some(v) => *index.entry(v.as_str()).or_insert_with(|| {
                    values.push(v.clone());
                    (values.len() - 1) as u32
                }),
                None => NO_DOMAIN,
            })
            .collect();
        let d = Arc::new(Domains { of_node, values });
        self.domains.borrow_mut().insert(key.to_string(), Arc::clone(&d));
        d
    }

    /// For every node, how many bound pods match (shared, not copied).
    pub fn counts(&self, matcher: &PodMatcher) -> Arc<Vec<i64>> {
        let key = matcher.key();
        if let Some((_, counts)) = self.counters.borrow().entries.get(&key) {
            return Arc::clone(counts);
        }
        let mut counts = vec![0; self.nodes.len()];
        for (node_id, state) in self.states.iter().enumerate() {
            for &pod_id in &state.pods {
                let pod = &self.pods[pod_id];
                if matcher.matches(pod, self.namespace_labels(&pod.namespace)) {
                    counts[node_id] += 1;
                }
            }
        }
        let mut counters = self.counters.borrow_mut();
        if counters.entries.len() >= MAX_COUNTERS {
            counters.entries.clear();
        }
        let counts = Arc::new(counts);
        counters.entries.insert(key, (matcher.clone(), Arc::clone(&counts)));
        counts
    }

    fn update_counters(&mut self, pod_id: PodId, node_id: NodeId, delta: i64) {
        let pod = &self.pods[pod_id];
        let namespace_labels = self.namespaces.get(&pod.namespace).unwrap_or(&self.empty_labels);
        for (matcher, counts) in self.counters.get_mut().entries.values_mut() {
            if matcher.matches(pod, namespace_labels) {
                Arc::make_mut(counts)[node_id] += delta;
            }
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
        self.bind_order.push(None);
        self.pods.len() - 1
    }

    /// Binds a pod to a node and updates the node's aggregates.
    pub fn bind(&mut self, pod_id: PodId, node_id: NodeId) {
        debug_assert!(self.pod_node[pod_id].is_none());
        let pod = &self.pods[pod_id];
        let state = &mut self.states[node_id];
        state.version += 1;
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
        if self.bind_order[pod_id].is_none() {
            self.bind_order[pod_id] = Some(self.next_bind_order);
            self.next_bind_order += 1;
        }
        self.update_counters(pod_id, node_id, 1);
        if self.pods[pod_id].affinity.declared {
            let a = &self.pods[pod_id].affinity;
            let key = format!(
                "{:?}|{:?}|{:?}|{:?}",
                a.required_affinity, a.required_anti_affinity, a.preferred_affinity, a.preferred_anti_affinity
            );
            let group = match self.group_index.get(&key) {
                Some(g) => *g,
                None => {
                    self.affinity_groups.push(AffinityGroup {
                        affinity: a.clone(),
                        per_node: vec![0; self.nodes.len()],
                        total: 0,
                    });
                    self.group_index.insert(key, self.affinity_groups.len() - 1);
                    self.affinity_groups.len() - 1
                }
            };
            self.affinity_groups[group].per_node[node_id] += 1;
            self.affinity_groups[group].total += 1;
            self.pod_group.insert(pod_id, group);
        }
    }

    /// `GetPodStartTime` as an ordering key, earlier first:
    /// `status.startTime` from the manifest; else the order of binding,
    /// after every manifest time (upstream uses "now" for a pod without a
    /// start time); a pod never bound comes last.
    pub fn start_key(&self, pod_id: PodId) -> (u8, i128) {
        match (self.pods[pod_id].start_time, self.bind_order[pod_id]) {
            (Some(time), _) => (0, time),
            (None, Some(order)) => (1, i128::from(order)),
            (None, None) => (2, 0),
        }
    }

    /// Unbinds a pod that was bound only for the length of another pod's
    /// cycle, forgetting that bind's place in the start order.
    pub fn unbind_temporary(&mut self, pod_id: PodId, order_before: Option<u64>) {
        self.unbind(pod_id);
        self.bind_order[pod_id] = order_before;
    }

    /// Removes a pod from its node (preemption, deletion).
    pub fn unbind(&mut self, pod_id: PodId) {
        let Some(node_id) = self.pod_node[pod_id].take() else { return };
        self.update_counters(pod_id, node_id, -1);
        if let Some(group) = self.pod_group.remove(&pod_id) {
            self.affinity_groups[group].per_node[node_id] -= 1;
            self.affinity_groups[group].total -= 1;
        }
        let pod = &self.pods[pod_id];
        let state = &mut self.states[node_id];
        state.version += 1;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::{Manifests, parse_documents};

    #[test]
    fn start_order_is_manifest_time_then_first_bind() {
        let yaml = "apiVersion: v1\nkind: Node\nmetadata: {name: n}\nstatus: {allocatable: {cpu: '4', memory: 8Gi, pods: '110'}}\n---\n\
apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c, image: x}]}\n---\n\
apiVersion: v1\nkind: Pod\nmetadata: {name: b}\nspec: {containers: [{name: c, image: x}]}\n---\n\
apiVersion: v1\nkind: Pod\nmetadata: {name: c}\nspec: {containers: [{name: c, image: x}]}\nstatus: {startTime: '2030-01-01T00:00:00Z'}\n";
        let m = Manifests::build(&parse_documents("m.yaml", yaml).expect("valid YAML")).expect("valid manifests");
        let mut cluster = Cluster::new(m.nodes, m.pods, m.namespaces);
        assert_eq!(cluster.start_key(0), (2, 0), "never bound");
        cluster.bind(1, 0);
        cluster.bind(0, 0);
        assert!(cluster.start_key(1) < cluster.start_key(0), "b bound first");
        assert!(cluster.start_key(2) < cluster.start_key(1), "a manifest time comes before any bind");
        // A dry-run unbind and re-bind keeps the original order.
        cluster.unbind(1);
        cluster.bind(1, 0);
        assert!(cluster.start_key(1) < cluster.start_key(0));
        // A temporary bind is forgotten.
        cluster.unbind(0);
        cluster.unbind(1);
        cluster.bind(1, 0);
        cluster.unbind_temporary(1, None);
        assert_eq!(cluster.start_key(1), (2, 0));
    }
}
