//! DefaultPreemption (PostFilter): eligibility, candidate nodes, victims
//! with the PDB-aware reprieve, picking the node, and the `preemption: ...`
//! message when preemption cannot help.
//!
//! The dry run removes victims from the real [`Cluster`] and puts them back
//! before returning, so each step sees exactly the state the filters would.

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::cluster::{Cluster, NodeId, PodId};
use crate::config::Plugin;
use crate::framework::{FitError, Framework, NodeStatuses};
use crate::load::DisruptionBudget;
use crate::plugins::Rejection;

pub const NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";
pub const NO_VICTIMS: &str = "No preemption victims found for incoming pod";
pub const NOT_ELIGIBLE_NEVER: &str = "not eligible due to preemptionPolicy=Never.";

/// A successful preemption: where the preemptor is nominated and which
/// pods were removed for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preemption {
    pub node: NodeId,
    pub victims: Vec<PodId>,
}

/// The PostFilter result: a preemption, or the message to append to the
/// FitError.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostFilter {
    Preempted(Preemption),
    Failed(String),
}

struct Candidate {
    node: NodeId,
    victims: Vec<PodId>,
    pdb_violations: usize,
}

/// Runs DefaultPreemption for a pod that fit nowhere; on success the
/// victims are already removed from the cluster.
pub fn post_filter(
    fw: &mut Framework,
    cluster: &mut Cluster,
    pod_id: PodId,
    err: &FitError,
    budgets: &[DisruptionBudget],
) -> PostFilter {
    let pod = &cluster.pods[pod_id];
    if pod.preemption_never {
        return PostFilter::Failed(format!("preemption: {NOT_ELIGIBLE_NEVER}"));
    }
    let num_all = cluster.nodes.len();
    let potential_set: std::collections::HashSet<NodeId> = err.potential_nodes().into_iter().collect();
    let potential: Vec<NodeId> = cluster.order.iter().copied().filter(|n| potential_set.contains(n)).collect();
    let not_helpful = |statuses: NodeStatuses| {
        let fit = FitError {
            num_all_nodes: num_all,
            prefilter_message: None,
            statuses,
            absent: Some(Rejection::new(Plugin::DefaultPreemption, NOT_HELPFUL, true)),
            postfilter_message: None,
        };
        PostFilter::Failed(format!("preemption: {}", fit.message()))
    };
    if potential.is_empty() {
        return not_helpful(NodeStatuses::new());
    }
    let n = potential.len();
    let mut wanted = n * fw.profile.min_candidate_nodes_percentage.max(0) as usize / 100;
    wanted = wanted.max(fw.profile.min_candidate_nodes_absolute.max(0) as usize).min(n);
    let offset = fw.rng.below(n);
    let allowed = disruptions_allowed(cluster, budgets);
    let mut candidates = Vec::new();
    let mut statuses = NodeStatuses::new();
    let mut non_violating = 0;
    for i in 0..n {
        let node = potential[(offset + i) % n];
        match select_victims(fw, cluster, pod_id, node, budgets, &allowed) {
            Ok(c) => {
                if c.pdb_violations == 0 {
                    non_violating += 1;
                }
                candidates.push(c);
            }
            Err(rejection) => {
                statuses.insert(node, rejection);
            }
        }
        if non_violating > 0 && candidates.len() >= wanted {
            break;
        }
    }
    if candidates.is_empty() {
        return not_helpful(statuses);
    }
    let best = pick_one(cluster, &candidates);
    let chosen = &candidates[best];
    for victim in &chosen.victims {
        cluster.unbind(*victim);
    }
    PostFilter::Preempted(Preemption { node: chosen.node, victims: chosen.victims.clone() })
}

/// `MoreImportantPod`: higher priority first; at equal priority the pod
/// that started first (`Cluster::start_key`); then by id, for a stable order.
fn importance_order(cluster: &Cluster, pods: &mut [PodId]) {
    pods.sort_by(|a, b| {
        cluster.pods[*b]
            .priority
            .cmp(&cluster.pods[*a].priority)
            .then_with(|| cluster.start_key(*a).cmp(&cluster.start_key(*b)))
            .then(a.cmp(b))
    });
}

/// `status.disruptionsAllowed` of each budget: as given in the manifest, or
/// computed from the bound pods it selects as the disruption controller
/// would (all bound pods count as healthy).
fn disruptions_allowed(cluster: &Cluster, budgets: &[DisruptionBudget]) -> Vec<i64> {
    budgets
        .iter()
        .map(|b| {
            if let Some(allowed) = b.disruptions_allowed {
                return i64::from(allowed);
            }
            let healthy = cluster
                .pods
                .iter()
                .enumerate()
                .filter(|(id, p)| {
                    cluster.pod_node[*id].is_some()
                        && p.namespace == b.namespace
                        && !b.selector.is_empty()
                        && b.selector.matches(&p.labels)
                })
                .count() as i64;
            let scaled = |v: &IntOrString| match v {
                IntOrString::Int(i) => i64::from(*i),
                IntOrString::String(s) => {
                    let pct: i64 = s.trim_end_matches('%').parse().unwrap_or(0);
                    (pct * healthy + 99) / 100
                }
            };
            let desired = match (&b.min_available, &b.max_unavailable) {
                (Some(min), _) => scaled(min),
                (None, Some(max)) => (healthy - scaled(max)).max(0),
                (None, None) => healthy,
            };
            (healthy - desired).max(0)
        })
        .collect()
}

/// Splits victims into PDB-violating and not, keeping their order.
fn split_by_pdb(
    cluster: &Cluster,
    pods: &[PodId],
    budgets: &[DisruptionBudget],
    allowed: &[i64],
) -> (Vec<PodId>, Vec<PodId>) {
    let mut left = allowed.to_vec();
    let mut violating = Vec::new();
    let mut ok = Vec::new();
    for &id in pods {
        let pod = &cluster.pods[id];
        let mut violated = false;
        if !pod.labels.is_empty() {
            for (i, b) in budgets.iter().enumerate() {
                if b.namespace != pod.namespace || b.selector.is_empty() || !b.selector.matches(&pod.labels) {
                    continue;
                }
                if b.disrupted_pods.contains(&pod.name) {
                    continue;
                }
                left[i] -= 1;
                if left[i] < 0 {
                    violated = true;
                }
            }
        }
        if violated { violating.push(id) } else { ok.push(id) }
    }
    (violating, ok)
}

fn fits(fw: &Framework, cluster: &Cluster, pod_id: PodId, node: NodeId) -> Result<(), Rejection> {
    let state = fw.prefilter(cluster, pod_id);
    match fw.run_filters_with_nominated(cluster, &state, &fw.profile.filters, pod_id, node) {
        None => Ok(()),
        Some(r) => Err(r),
    }
}

/// `SelectVictimsOnNode`. Leaves the cluster as it found it.
fn select_victims(
    fw: &Framework,
    cluster: &mut Cluster,
    pod_id: PodId,
    node: NodeId,
    budgets: &[DisruptionBudget],
    allowed: &[i64],
) -> Result<Candidate, Rejection> {
    let priority = cluster.pods[pod_id].priority;
    let mut potential: Vec<PodId> =
        cluster.states[node].pods.iter().copied().filter(|p| cluster.pods[*p].priority < priority).collect();
    if potential.is_empty() {
        return Err(Rejection::new(Plugin::DefaultPreemption, NO_VICTIMS, true));
    }
    for p in &potential {
        cluster.unbind(*p);
    }
    if let Err(rejection) = fits(fw, cluster, pod_id, node) {
        for p in &potential {
            cluster.bind(*p, node);
        }
        return Err(rejection);
    }
    importance_order(cluster, &mut potential);
    let (violating, non_violating) = split_by_pdb(cluster, &potential, budgets, allowed);
    let mut victims = Vec::new();
    let mut pdb_violations = 0;
    for (list, counts) in [(&violating, true), (&non_violating, false)] {
        for &p in list {
            cluster.bind(p, node);
            if fits(fw, cluster, pod_id, node).is_err() {
                cluster.unbind(p);
                victims.push(p);
                if counts {
                    pdb_violations += 1;
                }
            }
        }
    }
    for v in &victims {
        cluster.bind(*v, node);
    }
    importance_order(cluster, &mut victims);
    Ok(Candidate { node, victims, pdb_violations })
}

/// `pickOneNodeForPreemption`.
fn pick_one(cluster: &Cluster, candidates: &[Candidate]) -> usize {
    let key = |c: &Candidate| {
        let priorities: Vec<i64> = c.victims.iter().map(|v| i64::from(cluster.pods[*v].priority)).collect();
        let highest = priorities.iter().copied().max().unwrap_or(i64::MIN);
        let sum: i64 = priorities.iter().map(|p| p + i64::from(i32::MAX) + 1).sum();
        // `GetEarliestPodStartTime`: the earliest start among the
        // highest-priority victims; the latest such start wins.
        let earliest = c
            .victims
            .iter()
            .filter(|v| i64::from(cluster.pods[**v].priority) == highest)
            .map(|v| cluster.start_key(*v))
            .min()
            .unwrap_or((u8::MAX, i128::MAX));
        (c.pdb_violations, highest, sum, c.victims.len(), std::cmp::Reverse(earliest))
    };
    let mut best = 0;
    for i in 1..candidates.len() {
        if key(&candidates[i]) < key(&candidates[best]) {
            best = i;
        }
    }
    best
}
