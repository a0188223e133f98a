//! PodTopologySpread: the `DoNotSchedule` filter (skew against the global
//! minimum, `minDomains`, node inclusion policies) and the `ScheduleAnyway`
//! score with the system default constraints.

use std::collections::{HashMap, HashSet};

use super::{MAX_NODE_SCORE, Rejection};
use crate::cluster::{Cluster, NodeId, PodMatcher};
use crate::config::{Plugin, Profile};
use crate::labels::{Selector, first_untolerated_hard_taint};
use crate::model::{HOSTNAME_LABEL, Node, Pod, SpreadConstraint, Unsatisfiable, ZONE_LABEL};

pub const ERR_CONSTRAINTS: &str = "node(s) didn't match pod topology spread constraints";
pub const ERR_MISSING_LABEL: &str = "node(s) didn't match pod topology spread constraints (missing required label)";

/// `countPodsMatchSelector` for every node: pods on the node in the
/// namespace, not terminating, matching the selector (an empty selector
/// counts nothing).
pub fn counts_per_node(cluster: &Cluster, selector: &Selector, namespace: &str) -> Vec<i64> {
    cluster.counts(&PodMatcher::Spread { namespace: namespace.to_string(), selector: selector.clone() })
}

fn has_all_keys(node: &Node, constraints: &[SpreadConstraint]) -> bool {
    constraints.iter().all(|c| node.labels.contains_key(&c.topology_key))
}

fn passes_inclusion_policies(c: &SpreadConstraint, pod: &Pod, node: &Node) -> bool {
    if c.honor_node_affinity && !pod.matches_node_selector_and_affinity(node) {
        return false;
    }
    if c.honor_node_taints && first_untolerated_hard_taint(&node.taints, &pod.tolerations).is_some() {
        return false;
    }
    true
}

/// PreFilter state for the `DoNotSchedule` constraints.
#[derive(Debug, Clone)]
pub struct FilterState {
    pub constraints: Vec<SpreadConstraint>,
    /// Per constraint: matching pods per topology value.
    pub counts: Vec<HashMap<String, i64>>,
}

pub fn prefilter(cluster: &Cluster, pod: &Pod) -> Option<FilterState> {
    let constraints: Vec<SpreadConstraint> = pod
        .spread_constraints
        .iter()
        .filter(|c| c.when_unsatisfiable == Unsatisfiable::DoNotSchedule)
        .cloned()
        .collect();
    if constraints.is_empty() {
        return None;
    }
    // Count by domain number first (no string work per node), then name
    // the domains that some counted node belongs to.
    let per_node: Vec<Vec<i64>> =
        constraints.iter().map(|c| counts_per_node(cluster, &c.selector, &pod.namespace)).collect();
    let domains: Vec<_> = constraints.iter().map(|c| cluster.domains(&c.topology_key)).collect();
    let mut by_domain: Vec<Vec<Option<i64>>> = domains.iter().map(|d| vec![None; d.values.len()]).collect();
    for (node_id, node) in cluster.nodes.iter().enumerate() {
        if !has_all_keys(node, &constraints) {
            continue;
        }
        for (i, c) in constraints.iter().enumerate() {
            if !passes_inclusion_policies(c, pod, node) {
                continue;
            }
            let domain = domains[i].of_node[node_id] as usize;
            *by_domain[i][domain].get_or_insert(0) += per_node[i][node_id];
        }
    }
    let counts = by_domain
        .iter()
        .zip(&domains)
        .map(|(counts, d)| {
            counts
                .iter()
                .enumerate()
                .filter_map(|(j, c)| c.map(|c| (d.values[j].clone(), c)))
                .collect::<HashMap<_, _>>()
        })
        .collect();
    Some(FilterState { constraints, counts })
}

impl FilterState {
    fn min_match(&self, i: usize) -> i64 {
        let c = &self.constraints[i];
        if (self.counts[i].len() as i64) < i64::from(c.min_domains) {
            return 0;
        }
        self.counts[i].values().copied().min().unwrap_or(i64::from(i32::MAX))
    }
}

pub fn filter(state: &FilterState, pod: &Pod, node: &Node) -> Option<Rejection> {
    for (i, c) in state.constraints.iter().enumerate() {
        let Some(value) = node.labels.get(&c.topology_key) else {
            return Some(
                Rejection::new(Plugin::PodTopologySpread, ERR_MISSING_LABEL, true)
                    .with_detail(format!("node has no label {}", c.topology_key)),
            );
        };
        let min = state.min_match(i);
        let self_match = i64::from(c.selector.matches(&pod.labels));
        let matching = state.counts[i].get(value).copied().unwrap_or(0);
        let skew = matching + self_match - min;
        if skew > i64::from(c.max_skew) {
            return Some(Rejection::new(Plugin::PodTopologySpread, ERR_CONSTRAINTS, false).with_detail(format!(
                "{}={value}: {matching} matching pod(s) + {self_match} - global minimum {min} = skew {skew} > maxSkew {}",
                c.topology_key, c.max_skew
            )));
        }
    }
    None
}

/// PreScore state for the `ScheduleAnyway` constraints (the pod's own, or
/// the defaults).
#[derive(Debug, Clone)]
pub struct ScoreState {
    pub constraints: Vec<SpreadConstraint>,
    pub ignored: HashSet<NodeId>,
    pub counts: Vec<HashMap<String, i64>>,
    pub weights: Vec<f64>,
    /// Per constraint, matching pods on each node.
    pub per_node: Vec<Vec<i64>>,
}

/// The constraints scoring uses; `None` when the plugin skips this pod.
fn score_constraints(profile: &Profile, pod: &Pod) -> Vec<SpreadConstraint> {
    if !pod.spread_constraints.is_empty() {
        return pod
            .spread_constraints
            .iter()
            .filter(|c| c.when_unsatisfiable == Unsatisfiable::ScheduleAnyway)
            .cloned()
            .collect();
    }
    let Some(selector) = pod.owner_selector.clone() else { return Vec::new() };
    if selector.is_empty() {
        return Vec::new();
    }
    let defaults: Vec<(i32, String, bool)> = if profile.system_default_spread {
        vec![(3, HOSTNAME_LABEL.to_string(), false), (5, ZONE_LABEL.to_string(), false)]
    } else {
        profile.default_spread_constraints.clone()
    };
    defaults
        .into_iter()
        .filter(|(_, _, hard)| !hard)
        .map(|(max_skew, topology_key, _)| SpreadConstraint {
            max_skew,
            topology_key,
            when_unsatisfiable: Unsatisfiable::ScheduleAnyway,
            selector: selector.clone(),
            min_domains: 1,
            honor_node_affinity: true,
            honor_node_taints: false,
        })
        .collect()
}

pub fn prescore(cluster: &Cluster, profile: &Profile, pod: &Pod, feasible: &[NodeId]) -> Option<ScoreState> {
    let constraints = score_constraints(profile, pod);
    if constraints.is_empty() {
        return None;
    }
    let require_all = !pod.spread_constraints.is_empty() || !profile.system_default_spread;
    let mut ignored = HashSet::new();
    let mut counts: Vec<HashMap<String, i64>> = vec![HashMap::new(); constraints.len()];
    for &node_id in feasible {
        let node = &cluster.nodes[node_id];
        if require_all && !has_all_keys(node, &constraints) {
            ignored.insert(node_id);
            continue;
        }
        for (i, c) in constraints.iter().enumerate() {
            if c.topology_key == HOSTNAME_LABEL {
                continue;
            }
            if let Some(value) = node.labels.get(&c.topology_key) {
                counts[i].entry(value.clone()).or_insert(0);
            }
        }
    }
    let weights = constraints
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let size = if c.topology_key == HOSTNAME_LABEL { feasible.len() - ignored.len() } else { counts[i].len() };
            ((size + 2) as f64).ln()
        })
        .collect();
    let per_node: Vec<Vec<i64>> =
        constraints.iter().map(|c| counts_per_node(cluster, &c.selector, &pod.namespace)).collect();
    for (node_id, node) in cluster.nodes.iter().enumerate() {
        if require_all && !has_all_keys(node, &constraints) {
            continue;
        }
        for (i, c) in constraints.iter().enumerate() {
            if c.topology_key == HOSTNAME_LABEL || !passes_inclusion_policies(c, pod, node) {
                continue;
            }
            let Some(value) = node.labels.get(&c.topology_key) else { continue };
            if let Some(count) = counts[i].get_mut(value) {
                *count += per_node[i][node_id];
            }
        }
    }
    Some(ScoreState { constraints, ignored, counts, weights, per_node })
}

pub fn score(cluster: &Cluster, state: &ScoreState, node_id: NodeId) -> i64 {
    if state.ignored.contains(&node_id) {
        return 0;
    }
    let node = &cluster.nodes[node_id];
    let mut score = 0.0;
    for (i, c) in state.constraints.iter().enumerate() {
        let Some(value) = node.labels.get(&c.topology_key) else { continue };
        let count = if c.topology_key == HOSTNAME_LABEL {
            state.per_node[i][node_id]
        } else {
            state.counts[i].get(value).copied().unwrap_or(0)
        };
        score += count as f64 * state.weights[i] + f64::from(c.max_skew - 1);
    }
    score.round() as i64
}

pub fn normalize(state: &ScoreState, nodes: &[NodeId], scores: &mut [i64]) {
    let mut min = i64::MAX;
    let mut max = 0;
    for (node, s) in nodes.iter().zip(scores.iter()) {
        if state.ignored.contains(node) {
            continue;
        }
        min = min.min(*s);
        max = max.max(*s);
    }
    for (node, s) in nodes.iter().zip(scores.iter_mut()) {
        if state.ignored.contains(node) {
            *s = 0;
        } else if max == 0 {
            *s = MAX_NODE_SCORE;
        } else {
            *s = MAX_NODE_SCORE * (max + min - *s) / max;
        }
    }
}
