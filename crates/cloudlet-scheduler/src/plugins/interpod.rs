//! InterPodAffinity: required affinity and anti-affinity (the incoming
//! pod's and existing pods'), and the preferred-terms score with
//! `hardPodAffinityWeight`, min-max normalised.

use std::collections::HashMap;

use super::{MAX_NODE_SCORE, Rejection};
use crate::cluster::{Cluster, PodMatcher};
use crate::config::{Plugin, Profile};
use crate::model::{AffinityTerm, Node, Pod};

pub const ERR_AFFINITY: &str = "node(s) didn't match pod affinity rules";
pub const ERR_ANTI_AFFINITY: &str = "node(s) didn't match pod anti-affinity rules";
pub const ERR_EXISTING_ANTI_AFFINITY: &str = "node(s) didn't satisfy existing pods anti-affinity rules";

/// Counts per topology key, then per value.
pub type TopologyCounts = HashMap<String, HashMap<String, i64>>;

fn get(counts: &TopologyCounts, key: &str, value: &str) -> i64 {
    counts.get(key).and_then(|values| values.get(value)).copied().unwrap_or(0)
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

fn bump(counts: &mut TopologyCounts, node: &Node, key: &str, by: i64) {
    let Some(value) = node.labels.get(key) else { return };
    let values = match counts.get_mut(key) {
        Some(values) => values,
        None => counts.entry(key.to_string()).or_default(),
    };
    match values.get_mut(value.as_str()) {
        Some(count) => *count += by,
        None => {
            values.insert(value.clone(), by);
        }
    }
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
                    bump(&mut state.existing_anti_affinity, &cluster.nodes[node_id], &term.topology_key, *count);
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
                bump(&mut state.affinity, &cluster.nodes[node_id], &t.topology_key, *count);
            }
        }
    }
    for t in anti {
        let counts = cluster.counts(&PodMatcher::AllTerms(vec![t.clone()]));
        for (node_id, count) in counts.iter().enumerate().filter(|(_, c)| **c > 0) {
            bump(&mut state.anti_affinity, &cluster.nodes[node_id], &t.topology_key, *count);
        }
    }
    state
}

pub fn filter(cluster: &Cluster, state: &FilterState, pod: &Pod, node: &Node) -> Option<Rejection> {
    // satisfyPodAffinity
    let mut pods_exist = true;
    for term in &pod.affinity.required_affinity {
        let Some(value) = node.labels.get(&term.topology_key) else {
            return Some(
                Rejection::new(Plugin::InterPodAffinity, ERR_AFFINITY, true)
                    .with_detail(format!("node has no label {}", term.topology_key)),
            );
        };
        if get(&state.affinity, &term.topology_key, value) <= 0 {
            pods_exist = false;
        }
    }
    if !pods_exist {
        let own_ns = cluster.namespace_labels(&pod.namespace);
        let first_of_its_kind = state.affinity.is_empty() && matches_all(&pod.affinity.required_affinity, pod, own_ns);
        if !first_of_its_kind {
            return Some(
                Rejection::new(Plugin::InterPodAffinity, ERR_AFFINITY, true)
                    .with_detail("no pod matching the required affinity terms in the node's topology domain".into()),
            );
        }
    }
    // satisfyPodAntiAffinity
    if !state.anti_affinity.is_empty() {
        for term in &pod.affinity.required_anti_affinity {
            if let Some(value) = node.labels.get(&term.topology_key)
                && get(&state.anti_affinity, &term.topology_key, value) > 0
            {
                return Some(Rejection::new(Plugin::InterPodAffinity, ERR_ANTI_AFFINITY, false).with_detail(format!(
                    "a pod matching an anti-affinity term runs in {}={value}",
                    term.topology_key
                )));
            }
        }
    }
    // satisfyExistingPodsAntiAffinity
    if !state.existing_anti_affinity.is_empty() {
        for (key, value) in &node.labels {
            if get(&state.existing_anti_affinity, key, value) > 0 {
                return Some(
                    Rejection::new(Plugin::InterPodAffinity, ERR_EXISTING_ANTI_AFFINITY, false)
                        .with_detail(format!("an existing pod's anti-affinity excludes {key}={value}")),
                );
            }
        }
    }
    None
}

/// PreScore state: score per topology key and value.
#[derive(Debug, Clone, Default)]
pub struct ScoreState {
    pub topology_score: HashMap<String, HashMap<String, i64>>,
}

fn add(scores: &mut HashMap<String, HashMap<String, i64>>, term: &AffinityTerm, node: &Node, weight: i64) {
    bump(scores, node, &term.topology_key, weight);
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
    let mut topology_score: HashMap<String, HashMap<String, i64>> = HashMap::new();
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
            let node = &cluster.nodes[node_id];
            if !node.labels.is_empty() {
                add(&mut topology_score, &w.term, node, sign * i64::from(w.weight) * count);
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
            let node = &cluster.nodes[node_id];
            if node.labels.is_empty() {
                continue;
            }
            for (term, weight) in &matched {
                add(&mut topology_score, term, node, weight * count);
            }
        }
    }
    Some(ScoreState { topology_score })
}

pub fn score(state: &ScoreState, node: &Node) -> i64 {
    let mut score = 0;
    for (key, values) in &state.topology_score {
        if let Some(value) = node.labels.get(key) {
            score += values.get(value).copied().unwrap_or(0);
        }
    }
    score
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
