//! Plugins that look at one node at a time: NodeUnschedulable, NodeName,
//! TaintToleration, NodeAffinity, NodePorts and ImageLocality.

use std::collections::HashSet;

use super::{MAX_NODE_SCORE, Rejection, default_normalize};
use crate::cluster::{Cluster, NodeId, NodeState};
use crate::config::Plugin;
use crate::labels::{Effect, Taint, Toleration, first_untolerated_hard_taint, tolerated};
use crate::model::{Node, Pod};

pub const ERR_UNSCHEDULABLE: &str = "node(s) were unschedulable";
pub const ERR_NODE_NAME: &str = "node(s) didn't match the requested node name";
/// The TaintToleration reason since the v1.34 patch releases that carry the
/// fix keeping taint keys and values out of pod status.
pub const ERR_TAINTS: &str = "node(s) had untolerated taint(s)";
pub const ERR_NODE_AFFINITY: &str = "node(s) didn't match Pod's node affinity/selector";
pub const ERR_AFFINITY_CONFLICT: &str = "pod affinity terms conflict";
pub const ERR_PORTS: &str = "node(s) didn't have free ports for the requested pod ports";

pub fn node_unschedulable(pod: &Pod, node: &Node) -> Option<Rejection> {
    if !node.unschedulable {
        return None;
    }
    let taint =
        Taint { key: "node.kubernetes.io/unschedulable".into(), value: String::new(), effect: Effect::NoSchedule };
    if tolerated(&pod.tolerations, &taint) {
        return None;
    }
    Some(Rejection::new(Plugin::NodeUnschedulable, ERR_UNSCHEDULABLE, true))
}

pub fn node_name(pod: &Pod, node: &Node) -> Option<Rejection> {
    match &pod.node_name {
        Some(name) if *name != node.name => Some(Rejection::new(Plugin::NodeName, ERR_NODE_NAME, true)),
        _ => None,
    }
}

/// TaintToleration Filter; `detail` asks for the taint in the rejection
/// (hidden by `redact`).
pub fn taint_toleration_filter(pod: &Pod, node: &Node, detail: bool, redact: bool) -> Option<Rejection> {
    let taint = first_untolerated_hard_taint(&node.taints, &pod.tolerations)?;
    Some(Rejection::new(Plugin::TaintToleration, ERR_TAINTS, true).with_detail(detail, || {
        if redact {
            "untolerated taint (redacted)".to_string()
        } else {
            format!("untolerated taint {{{}: {}}} ({})", taint.key, taint.value, taint.effect.as_str())
        }
    }))
}

/// Tolerations that count for `PreferNoSchedule` taints (no effect, or
/// `PreferNoSchedule`).
pub fn prefer_no_schedule_tolerations(pod: &Pod) -> Vec<Toleration> {
    pod.tolerations.iter().filter(|t| t.effect.is_none_or(|e| e == Effect::PreferNoSchedule)).cloned().collect()
}

pub fn taint_toleration_score(tolerations: &[Toleration], node: &Node) -> i64 {
    node.taints.iter().filter(|t| t.effect == Effect::PreferNoSchedule && !tolerated(tolerations, t)).count() as i64
}

pub fn taint_toleration_normalize(scores: &mut [i64]) {
    default_normalize(scores, true);
}

/// NodeAffinity PreFilter: the node names every required term pins with
/// `metadata.name In [...]`, or `None` when some term does not pin names.
/// `Some(empty)` is the "pod affinity terms conflict" rejection.
pub fn node_affinity_prefilter(pod: &Pod) -> Option<HashSet<String>> {
    let affinity = pod.required_node_affinity.as_ref()?;
    let mut union: HashSet<String> = HashSet::new();
    for term in &affinity.terms {
        let mut term_names: Option<HashSet<String>> = None;
        for field in &term.fields {
            if field.key != "metadata.name" || field.op != crate::labels::Operator::In {
                continue;
            }
            let names: HashSet<String> = field.values.iter().cloned().collect();
            term_names = Some(match term_names {
                None => names,
                Some(prev) => prev.intersection(&names).cloned().collect(),
            });
        }
        // A term that does not pin node names can match any node.
        union.extend(term_names?);
    }
    Some(union)
}

pub fn node_affinity_filter(pod: &Pod, node: &Node) -> Option<Rejection> {
    if pod.matches_node_selector_and_affinity(node) {
        None
    } else {
        Some(Rejection::new(Plugin::NodeAffinity, ERR_NODE_AFFINITY, true))
    }
}

pub fn node_affinity_score(pod: &Pod, node: &Node) -> i64 {
    pod.preferred_node_affinity
        .iter()
        .filter(|(_, t)| t.matches(&node.name, &node.labels))
        .map(|(w, _)| i64::from(*w))
        .sum()
}

pub fn node_ports_filter(pod: &Pod, state: &NodeState) -> Option<Rejection> {
    let conflict = pod.host_ports.iter().any(|want| state.used_ports.iter().any(|used| used.conflicts(want)));
    conflict.then(|| Rejection::new(Plugin::NodePorts, ERR_PORTS, false))
}

const MB: i64 = 1024 * 1024;
const MIN_THRESHOLD: i64 = 23 * MB;
const MAX_CONTAINER_THRESHOLD: i64 = 1000 * MB;

/// ImageLocality: the sizes of the pod's images already on the node, each
/// scaled by the share of nodes that have it, mapped onto 0–100.
pub fn image_locality_score(cluster: &Cluster, pod: &Pod, node_id: NodeId) -> i64 {
    let node = &cluster.nodes[node_id];
    let total_nodes = cluster.nodes.len();
    let mut sum: i64 = 0;
    for image in &pod.images {
        if let Some((_, size)) = node.images.iter().find(|(n, _)| n == image) {
            let nodes_with = cluster.image_node_counts.get(image).copied().unwrap_or(0);
            let spread = nodes_with as f64 / total_nodes as f64;
            sum += (*size as f64 * spread) as i64;
        }
    }
    let max_threshold = MAX_CONTAINER_THRESHOLD * pod.images.len() as i64;
    let sum = sum.clamp(MIN_THRESHOLD, max_threshold.max(MIN_THRESHOLD));
    if max_threshold <= MIN_THRESHOLD {
        return 0;
    }
    MAX_NODE_SCORE * (sum - MIN_THRESHOLD) / (max_threshold - MIN_THRESHOLD)
}

#[cfg(test)]
mod tests;
