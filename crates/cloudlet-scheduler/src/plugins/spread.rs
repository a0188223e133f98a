//! PodTopologySpread: the `DoNotSchedule` filter (skew against the global
//! minimum, `minDomains`, node inclusion policies) and the `ScheduleAnyway`
//! score with the system default constraints.

use std::sync::Arc;

use super::{MAX_NODE_SCORE, Rejection};
use crate::cluster::{Cluster, Domains, NO_DOMAIN, NodeId, PodMatcher};
use crate::config::{Plugin, Profile};
use crate::labels::{Selector, first_untolerated_hard_taint};
use crate::model::{HOSTNAME_LABEL, Node, Pod, SpreadConstraint, Unsatisfiable, ZONE_LABEL};

pub const ERR_CONSTRAINTS: &str = "node(s) didn't match pod topology spread constraints";
pub const ERR_MISSING_LABEL: &str = "node(s) didn't match pod topology spread constraints (missing required label)";

/// `countPodsMatchSelector` for every node: pods on the node in the
/// namespace, not terminating, matching the selector (an empty selector
/// counts nothing).
pub fn counts_per_node(cluster: &Cluster, selector: &Selector, namespace: &str) -> Arc<Vec<i64>> {
    cluster.counts(&PodMatcher::Spread { namespace: namespace.to_string(), selector: selector.clone() })
}

/// The node has every constraint's topology key.
fn has_all_keys(domains: &[Arc<Domains>], node_id: NodeId) -> bool {
    domains.iter().all(|d| d.of_node[node_id] != NO_DOMAIN)
}

/// The node inclusion policies of the constraints, worked out once per
/// cycle: most pods have no node selector or affinity and no constraint
/// honours taints, and then every node passes.
struct Inclusion {
    /// Per constraint: the policies can exclude some node.
    checks: Vec<bool>,
}

impl Inclusion {
    fn new(cluster: &Cluster, pod: &Pod, constraints: &[SpreadConstraint]) -> Self {
        let has_node_affinity = !pod.node_selector.is_empty() || pod.required_node_affinity.is_some();
        let checks = constraints
            .iter()
            .map(|c| (c.honor_node_affinity && has_node_affinity) || (c.honor_node_taints && cluster.any_taints))
            .collect();
        Self { checks }
    }

    fn passes(&self, i: usize, c: &SpreadConstraint, pod: &Pod, node: &Node) -> bool {
        !self.checks[i] || passes_inclusion_policies(c, pod, node)
    }
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
    /// Per constraint: the topology domains of its key.
    domains: Vec<Arc<Domains>>,
    /// Per constraint: matching pods per domain number; `None` for domains
    /// no counted node belongs to (upstream's map has no entry for them).
    counts: Vec<Vec<Option<i64>>>,
    /// Per constraint: the global minimum (`minMatchNum`).
    min_match: Vec<i64>,
    /// Per constraint: 1 when the incoming pod matches its own selector.
    self_match: Vec<i64>,
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
    // Count by domain number: no string work per node.
    let per_node: Vec<Arc<Vec<i64>>> =
        constraints.iter().map(|c| counts_per_node(cluster, &c.selector, &pod.namespace)).collect();
    let domains: Vec<Arc<Domains>> = constraints.iter().map(|c| cluster.domains(&c.topology_key)).collect();
    let inclusion = Inclusion::new(cluster, pod, &constraints);
    let mut counts: Vec<Vec<Option<i64>>> = domains.iter().map(|d| vec![None; d.values.len()]).collect();
    for (node_id, node) in cluster.nodes.iter().enumerate() {
        if !has_all_keys(&domains, node_id) {
            continue;
        }
        for (i, c) in constraints.iter().enumerate() {
            if !inclusion.passes(i, c, pod, node) {
                continue;
            }
            let domain = domains[i].of_node[node_id] as usize;
            *counts[i][domain].get_or_insert(0) += per_node[i][node_id];
        }
    }
    let min_match = constraints
        .iter()
        .zip(&counts)
        .map(|(c, counts)| {
            let found = counts.iter().flatten().count();
            if (found as i64) < i64::from(c.min_domains) {
                0
            } else {
                counts.iter().flatten().copied().min().unwrap_or(i64::from(i32::MAX))
            }
        })
        .collect();
    let self_match = constraints.iter().map(|c| i64::from(c.selector.matches(&pod.labels))).collect();
    Some(FilterState { constraints, domains, counts, min_match, self_match })
}

pub fn filter(state: &FilterState, node_id: NodeId, detail: bool) -> Option<Rejection> {
    for (i, c) in state.constraints.iter().enumerate() {
        let domain = state.domains[i].of_node[node_id];
        if domain == NO_DOMAIN {
            return Some(
                Rejection::new(Plugin::PodTopologySpread, ERR_MISSING_LABEL, true)
                    .with_detail(detail, || format!("node has no label {}", c.topology_key)),
            );
        }
        let min = state.min_match[i];
        let self_match = state.self_match[i];
        let matching = state.counts[i][domain as usize].unwrap_or(0);
        let skew = matching + self_match - min;
        if skew > i64::from(c.max_skew) {
            return Some(Rejection::new(Plugin::PodTopologySpread, ERR_CONSTRAINTS, false).with_detail(detail, || {
                format!(
                    "{}={}: {matching} matching pod(s) + {self_match} - global minimum {min} = skew {skew} > maxSkew {}",
                    c.topology_key,
                    state.domains[i].values[domain as usize],
                    c.max_skew
                )
            }));
        }
    }
    None
}

/// PreScore state for the `ScheduleAnyway` constraints (the pod's own, or
/// the defaults).
#[derive(Debug, Clone)]
pub struct ScoreState {
    pub constraints: Vec<SpreadConstraint>,
    /// Per node: ignored (lacks a required topology key).
    ignored: Vec<bool>,
    domains: Vec<Arc<Domains>>,
    /// Per constraint (other than hostname): matching pods per domain
    /// number, `None` for domains without a filtered node.
    counts: Vec<Vec<Option<i64>>>,
    pub weights: Vec<f64>,
    /// Per constraint, matching pods on each node.
    per_node: Vec<Arc<Vec<i64>>>,
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
    let Some(selector) = pod.default_spread_selector.clone() else { return Vec::new() };
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
    let domains: Vec<Arc<Domains>> = constraints.iter().map(|c| cluster.domains(&c.topology_key)).collect();
    let is_hostname: Vec<bool> = constraints.iter().map(|c| c.topology_key == HOSTNAME_LABEL).collect();
    let mut ignored = vec![false; cluster.nodes.len()];
    let mut num_ignored = 0;
    let mut counts: Vec<Vec<Option<i64>>> = domains.iter().map(|d| vec![None; d.values.len()]).collect();
    let mut sizes = vec![0usize; constraints.len()];
    for &node_id in feasible {
        if require_all && !has_all_keys(&domains, node_id) {
            ignored[node_id] = true;
            num_ignored += 1;
            continue;
        }
        for i in 0..constraints.len() {
            let domain = domains[i].of_node[node_id];
            if is_hostname[i] || domain == NO_DOMAIN {
                continue;
            }
            let slot = &mut counts[i][domain as usize];
            if slot.is_none() {
                *slot = Some(0);
                sizes[i] += 1;
            }
        }
    }
    let weights = (0..constraints.len())
        .map(|i| {
            let size = if is_hostname[i] { feasible.len() - num_ignored } else { sizes[i] };
            ((size + 2) as f64).ln()
        })
        .collect();
    let per_node: Vec<Arc<Vec<i64>>> =
        constraints.iter().map(|c| counts_per_node(cluster, &c.selector, &pod.namespace)).collect();
    if (0..constraints.len()).any(|i| !is_hostname[i]) {
        let inclusion = Inclusion::new(cluster, pod, &constraints);
        for (node_id, node) in cluster.nodes.iter().enumerate() {
            if require_all && !has_all_keys(&domains, node_id) {
                continue;
            }
            for (i, c) in constraints.iter().enumerate() {
                let domain = domains[i].of_node[node_id];
                if is_hostname[i] || domain == NO_DOMAIN || !inclusion.passes(i, c, pod, node) {
                    continue;
                }
                if let Some(count) = counts[i][domain as usize].as_mut() {
                    *count += per_node[i][node_id];
                }
            }
        }
    }
    Some(ScoreState { constraints, ignored, domains, counts, weights, per_node })
}

pub fn score(state: &ScoreState, node_id: NodeId) -> i64 {
    if state.ignored[node_id] {
        return 0;
    }
    let mut score = 0.0;
    for (i, c) in state.constraints.iter().enumerate() {
        let domain = state.domains[i].of_node[node_id];
        if domain == NO_DOMAIN {
            continue;
        }
        let count = if c.topology_key == HOSTNAME_LABEL {
            state.per_node[i][node_id]
        } else {
            state.counts[i][domain as usize].unwrap_or(0)
        };
        score += count as f64 * state.weights[i] + f64::from(c.max_skew - 1);
    }
    score.round() as i64
}

pub fn normalize(state: &ScoreState, nodes: &[NodeId], scores: &mut [i64]) {
    let mut min = i64::MAX;
    let mut max = 0;
    for (node, s) in nodes.iter().zip(scores.iter()) {
        if state.ignored[*node] {
            continue;
        }
        min = min.min(*s);
        max = max.max(*s);
    }
    for (node, s) in nodes.iter().zip(scores.iter_mut()) {
        if state.ignored[*node] {
            *s = 0;
        } else if max == 0 {
            *s = MAX_NODE_SCORE;
        } else {
            *s = MAX_NODE_SCORE * (max + min - *s) / max;
        }
    }
}
