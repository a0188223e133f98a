//! InterPodAffinity: required affinity and anti-affinity (the incoming
//! pod's and existing pods'), and the preferred-terms score with
//! `hardPodAffinityWeight`, min-max normalised.

use super::{MAX_NODE_SCORE, Rejection};
use std::sync::Arc;

use crate::cluster::{Cluster, Domains, NO_DOMAIN, NodeId, PodMatcher};
use crate::config::{Plugin, Profile};
use crate::model::{AffinityTerm, Pod};

pub const ERR_AFFINITY: &str = "node(s) didn't match pod affinity rules";
pub const ERR_ANTI_AFFINITY: &str = "node(s) didn't match pod anti-affinity rules";
pub const ERR_EXISTING_ANTI_AFFINITY: &str = "node(s) didn't satisfy existing pods anti-affinity rules";

/// Counts per topology key and domain, indexed by the cluster's domain
/// numbering so that looking a node up never hashes a string.
#[derive(Debug, Clone, Default)]
pub struct TopologyCounts {
    keys: Vec<(String, Arc<Domains>, Vec<i64>)>,
    touched: bool,
}

impl TopologyCounts {
    fn bump(&mut self, cluster: &Cluster, node_id: NodeId, key: &str, by: i64) {
        let i = match self.keys.iter().position(|(k, ..)| k == key) {
            Some(i) => i,
            None => {
                let domains = cluster.domains(key);
                let n = domains.values.len();
                self.keys.push((key.to_string(), domains, vec![0; n]));
                self.keys.len() - 1
            }
        };
        let (_, domains, counts) = &mut self.keys[i];
        let domain = domains.of_node[node_id];
        if domain != NO_DOMAIN {
            counts[domain as usize] += by;
            self.touched = true;
        }
    }

    /// The count of the node's domain under `key` (0 when none).
    fn get(&self, node_id: NodeId, key: &str) -> i64 {
        self.keys.iter().find(|(k, ..)| k == key).map_or(0, |(_, domains, counts)| {
            let domain = domains.of_node[node_id];
            if domain == NO_DOMAIN { 0 } else { counts[domain as usize] }
        })
    }

    /// Upstream's `len(map) == 0`: nothing was ever counted.
    pub fn is_empty(&self) -> bool {
        !self.touched
    }

    /// The first key whose count for the node's domain is positive.
    fn positive_on(&self, node_id: NodeId) -> Option<(&str, &str)> {
        self.keys.iter().find_map(|(key, domains, counts)| {
            let domain = domains.of_node[node_id];
            (domain != NO_DOMAIN && counts[domain as usize] > 0)
                .then(|| (key.as_str(), domains.values[domain as usize].as_str()))
        })
    }

    /// Sum over keys of the node's domain counts.
    fn sum_on(&self, node_id: NodeId) -> i64 {
        self.keys.iter().map(|(k, ..)| self.get(node_id, k)).sum()
    }
}

/// PreFilter state.
#[derive(Debug, Clone, Default)]
pub struct FilterState {
    /// Existing pods' required anti-affinity terms that match the incoming pod.
    pub existing_anti_affinity: TopologyCounts,
    /// Existing pods matching all of the incoming pod's required affinity terms.
    pub affinity: TopologyCounts,
    /// Existing pods matching each incoming required anti-affinity term.
    pub anti_affinity: TopologyCounts,
}

fn matches_all(terms: &[AffinityTerm], pod: &Pod, ns_labels: &crate::labels::Labels) -> bool {
    terms.iter().all(|t| t.matches(&pod.namespace, &pod.labels, ns_labels))
}

pub fn prefilter(cluster: &Cluster, pod: &Pod) -> FilterState {
    let mut state = FilterState::default();
    let pod_ns_labels = cluster.namespace_labels(&pod.namespace);
    if cluster.nodes_with_required_anti_affinity_pods > 0 {
        for group in cluster.affinity_groups.iter().filter(|g| g.total > 0) {
            for term in &group.affinity.required_anti_affinity {
                if !term.matches(&pod.namespace, &pod.labels, pod_ns_labels) {
                    continue;
                }
                for (node_id, count) in group.per_node.iter().enumerate().filter(|(_, c)| **c > 0) {
                    state.existing_anti_affinity.bump(cluster, node_id, &term.topology_key, *count);
                }
            }
        }
    }
    let affinity = &pod.affinity.required_affinity;
    let anti = &pod.affinity.required_anti_affinity;
    if affinity.is_empty() && anti.is_empty() {
        return state;
    }
    // Per node, the pods matching all the affinity terms and each
    // anti-affinity term, from the cluster's counters.
    if !affinity.is_empty() {
        let counts = cluster.counts(&PodMatcher::AllTerms(affinity.clone()));
        for (node_id, count) in counts.iter().enumerate().filter(|(_, c)| **c > 0) {
            for t in affinity {
                state.affinity.bump(cluster, node_id, &t.topology_key, *count);
            }
        }
    }
    for t in anti {
        let counts = cluster.counts(&PodMatcher::AllTerms(vec![t.clone()]));
        for (node_id, count) in counts.iter().enumerate().filter(|(_, c)| **c > 0) {
            state.anti_affinity.bump(cluster, node_id, &t.topology_key, *count);
        }
    }
    state
}

pub fn filter(cluster: &Cluster, state: &FilterState, pod: &Pod, node_id: NodeId, detail: bool) -> Option<Rejection> {
    let node = &cluster.nodes[node_id];
    // satisfyPodAffinity
    let mut pods_exist = true;
    for term in &pod.affinity.required_affinity {
        if !node.labels.contains_key(&term.topology_key) {
            return Some(
                Rejection::new(Plugin::InterPodAffinity, ERR_AFFINITY, true)
                    .with_detail(detail, || format!("node has no label {}", term.topology_key)),
            );
        }
        if state.affinity.get(node_id, &term.topology_key) <= 0 {
            pods_exist = false;
        }
    }
    if !pods_exist {
        let own_ns = cluster.namespace_labels(&pod.namespace);
        let first_of_its_kind = state.affinity.is_empty() && matches_all(&pod.affinity.required_affinity, pod, own_ns);
        if !first_of_its_kind {
            return Some(Rejection::new(Plugin::InterPodAffinity, ERR_AFFINITY, true).with_detail(detail, || {
                "no pod matching the required affinity terms in the node's topology domain".into()
            }));
        }
    }
    // satisfyPodAntiAffinity
    if !state.anti_affinity.is_empty() {
        for term in &pod.affinity.required_anti_affinity {
            if let Some(value) = node.labels.get(&term.topology_key)
                && state.anti_affinity.get(node_id, &term.topology_key) > 0
            {
                return Some(
                    Rejection::new(Plugin::InterPodAffinity, ERR_ANTI_AFFINITY, false).with_detail(detail, || {
                        format!("a pod matching an anti-affinity term runs in {}={value}", term.topology_key)
                    }),
                );
            }
        }
    }
    // satisfyExistingPodsAntiAffinity
    if let Some((key, value)) = state.existing_anti_affinity.positive_on(node_id) {
        return Some(
            Rejection::new(Plugin::InterPodAffinity, ERR_EXISTING_ANTI_AFFINITY, false)
                .with_detail(detail, || format!("an existing pod's anti-affinity excludes {key}={value}")),
        );
    }
    None
}

/// PreScore state: score per topology key and value.
#[derive(Debug, Clone, Default)]
pub struct ScoreState {
    pub topology_score: TopologyCounts,
}

/// Returns `None` when the plugin skips this pod.
pub fn prescore(cluster: &Cluster, profile: &Profile, pod: &Pod) -> Option<ScoreState> {
    let has_constraints =
        !pod.affinity.preferred_affinity.is_empty() || !pod.affinity.preferred_anti_affinity.is_empty();
    if profile.ignore_preferred_terms_of_existing_pods && !has_constraints {
        return None;
    }
    if !has_constraints && cluster.nodes_with_affinity_pods == 0 {
        return Some(ScoreState::default());
    }
    let mut topology_score = TopologyCounts::default();
    // The incoming pod's preferred terms against every bound pod, counted
    // per node by the cluster's counters.
    let incoming = pod
        .affinity
        .preferred_affinity
        .iter()
        .map(|w| (w, 1))
        .chain(pod.affinity.preferred_anti_affinity.iter().map(|w| (w, -1)));
    for (w, sign) in incoming {
        let counts = cluster.counts(&PodMatcher::AllTerms(vec![w.term.clone()]));
        for (node_id, count) in counts.iter().enumerate().filter(|(_, c)| **c > 0) {
            if !cluster.nodes[node_id].labels.is_empty() {
                topology_score.bump(cluster, node_id, &w.term.topology_key, sign * i64::from(w.weight) * count);
            }
        }
    }
    // Bound pods' own terms against the incoming pod, once per group of
    // pods with identical terms, weighted by how many are on each node.
    let pod_ns_labels = cluster.namespace_labels(&pod.namespace);
    for group in cluster.affinity_groups.iter().filter(|g| g.total > 0) {
        let a = &group.affinity;
        let mut matched: Vec<(&AffinityTerm, i64)> = Vec::new();
        if profile.hard_pod_affinity_weight > 0 {
            for t in &a.required_affinity {
                if t.matches(&pod.namespace, &pod.labels, pod_ns_labels) {
                    matched.push((t, profile.hard_pod_affinity_weight));
                }
            }
        }
        if !profile.ignore_preferred_terms_of_existing_pods {
            for w in &a.preferred_affinity {
                if w.term.matches(&pod.namespace, &pod.labels, pod_ns_labels) {
                    matched.push((&w.term, i64::from(w.weight)));
                }
            }
            for w in &a.preferred_anti_affinity {
                if w.term.matches(&pod.namespace, &pod.labels, pod_ns_labels) {
                    matched.push((&w.term, -i64::from(w.weight)));
                }
            }
        }
        if matched.is_empty() {
            continue;
        }
        for (node_id, count) in group.per_node.iter().enumerate().filter(|(_, c)| **c > 0) {
            if cluster.nodes[node_id].labels.is_empty() {
                continue;
            }
            for (term, weight) in &matched {
                topology_score.bump(cluster, node_id, &term.topology_key, weight * count);
            }
        }
    }
    Some(ScoreState { topology_score })
}

pub fn score(state: &ScoreState, node_id: NodeId) -> i64 {
    state.topology_score.sum_on(node_id)
}

pub fn normalize(state: &ScoreState, scores: &mut [i64]) {
    if state.topology_score.is_empty() {
        return;
    }
    let min = scores.iter().copied().min().unwrap_or(0);
    let max = scores.iter().copied().max().unwrap_or(0);
    let diff = max - min;
    for s in scores.iter_mut() {
        let f = if diff > 0 { MAX_NODE_SCORE as f64 * ((*s - min) as f64 / diff as f64) } else { 0.0 };
        *s = f as i64;
    }
}
