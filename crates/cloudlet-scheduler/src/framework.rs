//! One scheduling cycle, as kube-scheduler's `schedulePod` runs it:
//! PreFilter, Filter over a sample of nodes starting at the round-robin
//! index, PreScore/Score/NormalizeScore with weights, host selection with a
//! seeded tie-break, and the `FitError` message when nothing fits.
//!
//! The framework is sequential: where kube-scheduler's 16 filter workers
//! make the sampled node set depend on timing, cloudlet examines nodes in
//! snapshot order from the start index, which is one of the outcomes
//! kube-scheduler can produce and the only one with
//! `percentageOfNodesToScore: 100`.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use crate::cluster::{Cluster, NodeId, PodId};
use crate::config::{Plugin, Profile};
use crate::plugins::{self, Rejection, interpod, node, resources, spread};
use crate::rng::Rng;

/// `no nodes available to schedule pods`.
pub const ERR_NO_NODES: &str = "no nodes available to schedule pods";

/// Plugin state for one pod's cycle.
#[derive(Debug, Clone, Default)]
pub struct CycleState {
    pub spread: Option<spread::FilterState>,
    pub interpod: Option<interpod::FilterState>,
}

/// One filter plugin's verdict on one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterVerdict {
    pub plugin: Plugin,
    /// `None` when the plugin passed the node.
    pub rejection: Option<Rejection>,
}

/// One score plugin's scores for one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginScore {
    pub plugin: Plugin,
    pub raw: i64,
    pub normalized: i64,
    pub weight: i64,
    pub weighted: i64,
}

/// Why the scheduler did what it did on one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeExplanation {
    pub node: String,
    /// The cycle examined this node (sampling may stop before all nodes).
    pub examined: bool,
    /// Every filter plugin's verdict; the framework stops at the first
    /// rejection, the rest are shown for information.
    pub filters: Vec<FilterVerdict>,
    pub scores: Vec<PluginScore>,
    pub total: Option<i64>,
    pub selected: bool,
}

/// The outcome of one cycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Bind(NodeId),
    Unschedulable(FitError),
}

/// Per-node statuses of a failed cycle (upstream's `Diagnosis`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FitError {
    pub num_all_nodes: usize,
    /// A PreFilter rejection: no per-node histogram.
    pub prefilter_message: Option<String>,
    /// Rejected nodes and why.
    pub statuses: NodeStatuses,
    /// The status of every node not in `statuses`.
    pub absent: Option<Rejection>,
    /// DefaultPreemption's message, `preemption: ...`.
    pub postfilter_message: Option<String>,
}

impl FitError {
    /// `FitError.Error()`: `0/N nodes are available: ...`, reasons counted
    /// and sorted as strings.
    pub fn message(&self) -> String {
        let mut msg = format!("0/{} nodes are available:", self.num_all_nodes);
        if let Some(pre) = &self.prefilter_message {
            msg.push_str(&format!(" {pre}."));
        } else {
            let histogram = reason_histogram(self.num_all_nodes, &self.statuses, self.absent.as_ref());
            if !histogram.is_empty() {
                msg.push_str(&format!(" {}.", histogram.join(", ")));
            }
        }
        if let Some(post) = &self.postfilter_message {
            msg.push_str(&format!(" {post}"));
        }
        msg
    }

    /// True when preemption could help on some node.
    pub fn potential_nodes(&self) -> Vec<NodeId> {
        if self.prefilter_message.is_some() {
            return Vec::new();
        }
        self.statuses.iter().filter(|(_, r)| !r.unresolvable).map(|(n, _)| *n).collect()
    }
}

/// The rejected nodes of a cycle, in the order they were examined (a list,
/// not a map: a failing pod at 5,000 nodes records 5,000 of them, and
/// nothing looks one up by node on the hot path).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeStatuses(Vec<(NodeId, Rejection)>);

impl NodeStatuses {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a node's rejection; each node is recorded once per cycle.
    pub fn insert(&mut self, node: NodeId, rejection: Rejection) {
        self.0.push((node, rejection));
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&NodeId, &Rejection)> {
        self.0.iter().map(|(n, r)| (n, r))
    }

    pub fn values(&self) -> impl Iterator<Item = &Rejection> {
        self.0.iter().map(|(_, r)| r)
    }

    pub fn get(&self, node: NodeId) -> Option<&Rejection> {
        self.0.iter().find(|(n, _)| *n == node).map(|(_, r)| r)
    }
}

/// `"count reason"` strings sorted with Go's `sort.Strings`.
pub fn reason_histogram(num_all_nodes: usize, statuses: &NodeStatuses, absent: Option<&Rejection>) -> Vec<String> {
    // Few distinct reasons, many nodes: a short list beats a map.
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for status in statuses.values() {
        for reason in status.reasons.iter() {
            match counts.iter_mut().find(|(r, _)| *r == reason) {
                Some((_, c)) => *c += 1,
                None => counts.push((reason, 1)),
            }
        }
    }
    if statuses.len() < num_all_nodes
        && let Some(absent) = absent
    {
        for reason in absent.reasons.iter() {
            let missing = num_all_nodes - statuses.len();
            match counts.iter_mut().find(|(r, _)| *r == reason) {
                Some((_, c)) => *c += missing,
                None => counts.push((reason, missing)),
            }
        }
    }
    let mut out: Vec<String> = counts.into_iter().map(|(reason, n)| format!("{n} {reason}")).collect();
    out.sort();
    out
}

/// Truncates an event message the way the event recorder does (1024 bytes:
/// 1020 and `" ..."`).
pub fn truncate_event_message(message: &str) -> String {
    const LIMIT: usize = 1024;
    if message.len() <= LIMIT {
        return message.to_string();
    }
    let mut cut = LIMIT - 4;
    while !message.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{} ...", &message[..cut])
}

/// `numFeasibleNodesToFind`.
pub fn num_feasible_nodes_to_find(percentage: Option<i32>, num_all_nodes: usize) -> usize {
    const MIN_FEASIBLE: usize = 100;
    if num_all_nodes < MIN_FEASIBLE {
        return num_all_nodes;
    }
    let mut pct = i64::from(percentage.unwrap_or(0));
    if pct == 0 {
        pct = 50 - num_all_nodes as i64 / 125;
        if pct < 5 {
            pct = 5;
        }
    }
    let n = (num_all_nodes as i64 * pct / 100) as usize;
    n.max(MIN_FEASIBLE)
}

/// The result of one cycle, with its explanation when asked for.
#[derive(Debug, Clone)]
pub struct Cycle {
    pub decision: Decision,
    pub explanation: Option<Vec<NodeExplanation>>,
    /// Nodes the filters examined.
    pub evaluated_nodes: usize,
}

/// The scheduler's framework with its profile and the state that persists
/// across cycles (the round-robin start index and the random source).
#[derive(Debug, Clone)]
pub struct Framework {
    pub profile: Profile,
    pub next_start_node_index: usize,
    pub rng: Rng,
    /// Hide taint keys and values in explanations.
    pub redact: bool,
    /// Pods nominated to a node and not bound, for the current cycle: the
    /// ones of at least the scheduled pod's priority count on their node
    /// while it is filtered ([`Framework::run_filters_with_nominated`]),
    /// never while scoring. The caller sets and clears them.
    pub nominees: Vec<(PodId, NodeId)>,
    score_cache: RefCell<ScoreCache>,
}

/// NodeResourcesFit and BalancedAllocation scores depend only on the pod's
/// requests and the node's aggregates, so they are remembered per request
/// shape and node, against the node's version: replicas of one workload
/// recompute only the nodes that changed since the last replica.
#[derive(Debug, Clone, Default)]
struct ScoreCache {
    entries: HashMap<ShapeKey, Vec<VersionedScore>>,
}

/// A plugin and the pod's requests (cpu, memory, storage, non-zero cpu and
/// memory).
type ShapeKey = (Plugin, [i64; 5]);
/// A node's version and the score computed at it.
type VersionedScore = (u64, i64);

/// More request shapes than this and the cache starts again.
const MAX_CACHED_SHAPES: usize = 64;

impl ScoreCache {
    fn scores(
        &mut self,
        cluster: &Cluster,
        plugin: Plugin,
        pod: &crate::model::Pod,
        feasible: &[NodeId],
        compute: impl Fn(NodeId) -> i64,
    ) -> Vec<i64> {
        if !pod.requests.scalar.is_empty() {
            return feasible.iter().map(|n| compute(*n)).collect();
        }
        let r = &pod.requests;
        let key = (plugin, [r.milli_cpu, r.memory, r.ephemeral_storage, pod.non_zero_milli_cpu, pod.non_zero_memory]);
        if !self.entries.contains_key(&key) && self.entries.len() >= MAX_CACHED_SHAPES {
            self.entries.clear();
        }
        let entry = self.entries.entry(key).or_insert_with(|| vec![(u64::MAX, 0); cluster.nodes.len()]);
        feasible
            .iter()
            .map(|&n| {
                let version = cluster.states[n].version;
                let slot = &mut entry[n];
                if slot.0 != version {
                    *slot = (version, compute(n));
                }
                slot.1
            })
            .collect()
    }
}

impl Framework {
    pub fn new(profile: Profile, seed: u64) -> Self {
        Self {
            profile,
            next_start_node_index: 0,
            rng: Rng::new(seed),
            redact: false,
            nominees: Vec::new(),
            score_cache: RefCell::default(),
        }
    }

    pub fn prefilter(&self, cluster: &Cluster, pod_id: PodId) -> CycleState {
        let pod = &cluster.pods[pod_id];
        let enabled = |p| self.profile.filters.contains(&p);
        CycleState {
            spread: if enabled(Plugin::PodTopologySpread) { spread::prefilter(cluster, pod) } else { None },
            interpod: enabled(Plugin::InterPodAffinity).then(|| interpod::prefilter(cluster, pod)),
        }
    }

    /// Runs one filter plugin on a node.
    pub fn run_filter(
        &self,
        plugin: Plugin,
        cluster: &Cluster,
        state: &CycleState,
        pod_id: PodId,
        node_id: NodeId,
    ) -> Option<Rejection> {
        self.run_filter_with(plugin, cluster, state, pod_id, node_id, false)
    }

    /// Runs one filter plugin on a node; `detail` asks for the rejection's
    /// formatted detail (explanations only).
    pub fn run_filter_with(
        &self,
        plugin: Plugin,
        cluster: &Cluster,
        state: &CycleState,
        pod_id: PodId,
        node_id: NodeId,
        detail: bool,
    ) -> Option<Rejection> {
        let pod = &cluster.pods[pod_id];
        let node = &cluster.nodes[node_id];
        match plugin {
            Plugin::NodeUnschedulable => node::node_unschedulable(pod, node),
            Plugin::NodeName => node::node_name(pod, node),
            Plugin::TaintToleration => node::taint_toleration_filter(pod, node, detail, self.redact),
            Plugin::NodeAffinity => node::node_affinity_filter(pod, node),
            Plugin::NodePorts => node::node_ports_filter(pod, &cluster.states[node_id]),
            Plugin::NodeResourcesFit => resources::fit_filter(pod, node, &cluster.states[node_id], detail),
            Plugin::PodTopologySpread => state.spread.as_ref().and_then(|s| spread::filter(s, node_id, detail)),
            Plugin::InterPodAffinity => {
                state.interpod.as_ref().and_then(|s| interpod::filter(cluster, s, pod, node_id, detail))
            }
            _ => None,
        }
    }

    /// `RunFilterPlugins`: the first rejection wins.
    pub fn run_filters(
        &self,
        cluster: &Cluster,
        state: &CycleState,
        pod_id: PodId,
        node_id: NodeId,
    ) -> Option<Rejection> {
        self.profile.filters.iter().find_map(|p| self.run_filter(*p, cluster, state, pod_id, node_id))
    }

    /// The nominees of at least this pod's priority nominated to the node
    /// (the pod itself and bound pods excluded).
    fn nominees_on(&self, cluster: &Cluster, pod_id: PodId, node_id: NodeId) -> Vec<PodId> {
        if self.nominees.is_empty() {
            return Vec::new();
        }
        let priority = cluster.pods[pod_id].priority;
        self.nominees
            .iter()
            .filter(|(p, n)| {
                *n == node_id && *p != pod_id && cluster.pod_node[*p].is_none() && cluster.pods[*p].priority >= priority
            })
            .map(|(p, _)| *p)
            .collect()
    }

    /// `RunFilterPluginsWithNominatedPods`: when nominees of at least the
    /// pod's priority are nominated to the node, the filters run first with
    /// them added to the node (and to the PreFilter state), then without
    /// them; the node fits only if both passes do. `filters` is the second
    /// pass's plugin list (the first runs every filter of the profile).
    pub fn run_filters_with_nominated(
        &self,
        cluster: &Cluster,
        state: &CycleState,
        filters: &[Plugin],
        pod_id: PodId,
        node_id: NodeId,
    ) -> Option<Rejection> {
        let nominees = self.nominees_on(cluster, pod_id, node_id);
        if !nominees.is_empty() {
            let mut with = cluster.clone();
            for nominee in nominees {
                with.bind(nominee, node_id);
            }
            let state_with = self.prefilter(&with, pod_id);
            let first =
                self.profile.filters.iter().find_map(|p| self.run_filter(*p, &with, &state_with, pod_id, node_id));
            if first.is_some() {
                return first;
            }
        }
        filters.iter().find_map(|p| self.run_filter(*p, cluster, state, pod_id, node_id))
    }

    /// The filters that can reject a node for this pod, in order; the
    /// others pass every node (e.g. NodePorts for a pod without host ports).
    fn active_filters(&self, cluster: &Cluster, state: &CycleState, pod_id: PodId) -> Vec<Plugin> {
        let pod = &cluster.pods[pod_id];
        let any_unschedulable = cluster.any_unschedulable;
        let any_taints = cluster.any_taints;
        self.profile
            .filters
            .iter()
            .copied()
            .filter(|p| match p {
                Plugin::NodeUnschedulable => any_unschedulable,
                Plugin::NodeName => pod.node_name.is_some(),
                Plugin::TaintToleration => any_taints,
                Plugin::NodeAffinity => !pod.node_selector.is_empty() || pod.required_node_affinity.is_some(),
                Plugin::NodePorts => !pod.host_ports.is_empty(),
                Plugin::PodTopologySpread => state.spread.is_some(),
                Plugin::InterPodAffinity => state.interpod.as_ref().is_some_and(|s| {
                    !pod.affinity.required_affinity.is_empty()
                        || !pod.affinity.required_anti_affinity.is_empty()
                        || !s.existing_anti_affinity.is_empty()
                }),
                _ => true,
            })
            .collect()
    }

    /// Schedules one pod: returns the node to bind it to, or why none fits
    /// (without running preemption; see [`crate::preemption`]).
    pub fn schedule(&mut self, cluster: &Cluster, pod_id: PodId, explain: bool) -> Cycle {
        let num_all = cluster.nodes.len();
        let pod = &cluster.pods[pod_id];
        if num_all == 0 {
            let err = FitError {
                num_all_nodes: 0,
                prefilter_message: Some(ERR_NO_NODES.into()),
                statuses: NodeStatuses::new(),
                absent: None,
                postfilter_message: None,
            };
            return Cycle {
                decision: Decision::Unschedulable(err),
                explanation: explain.then(Vec::new),
                evaluated_nodes: 0,
            };
        }
        // PreFilter.
        let mut nodes: std::borrow::Cow<'_, [NodeId]> = std::borrow::Cow::Borrowed(&cluster.order);
        let mut absent = None;
        if self.profile.filters.contains(&Plugin::NodeAffinity)
            && let Some(names) = node::node_affinity_prefilter(pod)
        {
            if names.is_empty() {
                let absent = Rejection::new(Plugin::NodeAffinity, node::ERR_AFFINITY_CONFLICT, true);
                let err = FitError {
                    num_all_nodes: num_all,
                    prefilter_message: Some(node::ERR_AFFINITY_CONFLICT.into()),
                    statuses: NodeStatuses::new(),
                    absent: Some(absent),
                    postfilter_message: None,
                };
                return Cycle {
                    decision: Decision::Unschedulable(err),
                    explanation: explain.then(Vec::new),
                    evaluated_nodes: 0,
                };
            }
            let names: HashSet<&str> = names.iter().map(String::as_str).collect();
            nodes.to_mut().retain(|n| names.contains(cluster.nodes[*n].name.as_str()));
            absent =
                Some(Rejection::new(Plugin::NodeAffinity, "node(s) didn't satisfy plugin(s) [NodeAffinity]", true));
        }
        let state = self.prefilter(cluster, pod_id);

        // Filter, from the round-robin start, until enough nodes fit.
        let mut to_find = num_feasible_nodes_to_find(self.profile.percentage_of_nodes_to_score, nodes.len());
        if self.profile.scores.is_empty() {
            to_find = 1;
        }
        let mut feasible = Vec::new();
        let mut statuses = NodeStatuses::new();
        let mut processed = 0;
        let filters = self.active_filters(cluster, &state, pod_id);
        if !nodes.is_empty() {
            let start = self.next_start_node_index % nodes.len();
            for i in 0..nodes.len() {
                if feasible.len() >= to_find {
                    break;
                }
                let node_id = nodes[(start + i) % nodes.len()];
                processed += 1;
                match self.run_filters_with_nominated(cluster, &state, &filters, pod_id, node_id) {
                    None => feasible.push(node_id),
                    Some(rejection) => {
                        statuses.insert(node_id, rejection);
                    }
                }
            }
            self.next_start_node_index = (start + processed) % nodes.len();
        }

        let mut explanation =
            explain.then(|| self.explain_filters(cluster, &state, pod_id, &nodes, &feasible, &statuses));
        if feasible.is_empty() {
            let err = FitError {
                num_all_nodes: num_all,
                prefilter_message: None,
                statuses,
                absent,
                postfilter_message: None,
            };
            return Cycle { decision: Decision::Unschedulable(err), explanation, evaluated_nodes: processed };
        }
        if feasible.len() == 1 {
            if let Some(nodes) = explanation.as_mut() {
                mark_selected(nodes, &cluster.nodes[feasible[0]].name);
            }
            return Cycle { decision: Decision::Bind(feasible[0]), explanation, evaluated_nodes: processed };
        }

        let scores = self.score(cluster, pod_id, &feasible);
        let totals: Vec<i64> = (0..feasible.len()).map(|i| scores.iter().map(|s| s.1[i].weighted).sum()).collect();
        let selected = self.select_host(&totals);
        if let Some(nodes) = explanation.as_mut() {
            for (i, node_id) in feasible.iter().enumerate() {
                let name = &cluster.nodes[*node_id].name;
                if let Some(n) = nodes.iter_mut().find(|n| &n.node == name) {
                    n.scores = scores.iter().map(|(_, per_node)| per_node[i].clone()).collect();
                    n.total = Some(totals[i]);
                }
            }
            mark_selected(nodes, &cluster.nodes[feasible[selected]].name);
        }
        Cycle { decision: Decision::Bind(feasible[selected]), explanation, evaluated_nodes: processed }
    }

    /// `selectHost`: the highest total; ties broken by reservoir sampling.
    fn select_host(&mut self, totals: &[i64]) -> usize {
        let mut selected = 0;
        let mut max = totals[0];
        let mut count = 1;
        for (i, total) in totals.iter().enumerate().skip(1) {
            if *total > max {
                max = *total;
                selected = i;
                count = 1;
            } else if *total == max {
                count += 1;
                if self.rng.below(count) == 0 {
                    selected = i;
                }
            }
        }
        selected
    }

    /// Runs every score plugin over the feasible nodes: per plugin, one
    /// score per node (raw, normalised, weighted).
    pub fn score(&self, cluster: &Cluster, pod_id: PodId, feasible: &[NodeId]) -> Vec<(Plugin, Vec<PluginScore>)> {
        let pod = &cluster.pods[pod_id];
        let mut out = Vec::new();
        for &(plugin, weight) in &self.profile.scores {
            let (raw, normalized): (Vec<i64>, Vec<i64>) = match plugin {
                Plugin::TaintToleration if !cluster.any_taints => {
                    // No node has a taint: every raw score is 0, every
                    // normalised score 100.
                    (vec![0; feasible.len()], vec![plugins::MAX_NODE_SCORE; feasible.len()])
                }
                Plugin::TaintToleration => {
                    let tolerations = node::prefer_no_schedule_tolerations(pod);
                    let raw: Vec<i64> = feasible
                        .iter()
                        .map(|n| node::taint_toleration_score(&tolerations, &cluster.nodes[*n]))
                        .collect();
                    let mut norm = raw.clone();
                    node::taint_toleration_normalize(&mut norm);
                    (raw, norm)
                }
                Plugin::NodeAffinity => {
                    if pod.preferred_node_affinity.is_empty() {
                        continue;
                    }
                    let raw: Vec<i64> =
                        feasible.iter().map(|n| node::node_affinity_score(pod, &cluster.nodes[*n])).collect();
                    let mut norm = raw.clone();
                    plugins::default_normalize(&mut norm, false);
                    (raw, norm)
                }
                Plugin::NodeResourcesFit => {
                    let kinds = resources::resolve(&self.profile.fit_resources);
                    let raw = self.score_cache.borrow_mut().scores(cluster, plugin, pod, feasible, |n| {
                        resources::fit_score(
                            pod,
                            &cluster.nodes[n],
                            &cluster.states[n],
                            &self.profile.fit_strategy,
                            &kinds,
                        )
                    });
                    (raw.clone(), raw)
                }
                Plugin::NodeResourcesBalancedAllocation => {
                    if resources::is_best_effort_for(pod, &self.profile.balanced_resources) {
                        continue;
                    }
                    let kinds = resources::resolve(&self.profile.balanced_resources);
                    let raw = self.score_cache.borrow_mut().scores(cluster, plugin, pod, feasible, |n| {
                        resources::balanced_score(pod, &cluster.nodes[n], &cluster.states[n], &kinds)
                    });
                    (raw.clone(), raw)
                }
                Plugin::ImageLocality if !pod.images.iter().any(|i| cluster.image_node_counts.contains_key(i)) => {
                    // None of the pod's images is on any node.
                    (vec![0; feasible.len()], vec![0; feasible.len()])
                }
                Plugin::ImageLocality => {
                    let raw: Vec<i64> = feasible.iter().map(|n| node::image_locality_score(cluster, pod, *n)).collect();
                    (raw.clone(), raw)
                }
                Plugin::PodTopologySpread => {
                    let Some(state) = spread::prescore(cluster, &self.profile, pod, feasible) else { continue };
                    let raw: Vec<i64> = feasible.iter().map(|n| spread::score(&state, *n)).collect();
                    let mut norm = raw.clone();
                    spread::normalize(&state, feasible, &mut norm);
                    (raw, norm)
                }
                Plugin::InterPodAffinity => {
                    let Some(state) = interpod::prescore(cluster, &self.profile, pod) else { continue };
                    if state.topology_score.is_empty() {
                        // Nothing to score: all 0, and normalising leaves them.
                        let zeros = vec![0; feasible.len()];
                        out.push((
                            plugin,
                            zeros
                                .iter()
                                .map(|_| PluginScore { plugin, raw: 0, normalized: 0, weight, weighted: 0 })
                                .collect(),
                        ));
                        continue;
                    }
                    let raw: Vec<i64> = feasible.iter().map(|n| interpod::score(&state, *n)).collect();
                    let mut norm = raw.clone();
                    interpod::normalize(&state, &mut norm);
                    (raw, norm)
                }
                _ => continue,
            };
            let per_node = raw
                .iter()
                .zip(&normalized)
                .map(|(r, n)| PluginScore { plugin, raw: *r, normalized: *n, weight, weighted: n * weight })
                .collect();
            out.push((plugin, per_node));
        }
        out
    }

    fn explain_filters(
        &self,
        cluster: &Cluster,
        state: &CycleState,
        pod_id: PodId,
        nodes: &[NodeId],
        feasible: &[NodeId],
        statuses: &NodeStatuses,
    ) -> Vec<NodeExplanation> {
        let in_list: HashSet<NodeId> = nodes.iter().copied().collect();
        let examined: HashSet<NodeId> = feasible.iter().copied().chain(statuses.iter().map(|(n, _)| *n)).collect();
        cluster
            .order
            .iter()
            .map(|&node_id| {
                let examined = examined.contains(&node_id);
                let filters = if in_list.contains(&node_id) {
                    let verdicts = |cluster: &Cluster, state: &CycleState| -> Vec<FilterVerdict> {
                        self.profile
                            .filters
                            .iter()
                            .map(|p| FilterVerdict {
                                plugin: *p,
                                rejection: self.run_filter_with(*p, cluster, state, pod_id, node_id, true),
                            })
                            .collect()
                    };
                    // With nominees on the node, a rejection of the first
                    // pass (nominees added) is the node's verdict.
                    let nominees = self.nominees_on(cluster, pod_id, node_id);
                    let first = (!nominees.is_empty()).then(|| {
                        let mut with = cluster.clone();
                        for nominee in nominees {
                            with.bind(nominee, node_id);
                        }
                        verdicts(&with, &self.prefilter(&with, pod_id))
                    });
                    match first {
                        Some(first) if first.iter().any(|v| v.rejection.is_some()) => first,
                        _ => verdicts(cluster, state),
                    }
                } else {
                    vec![FilterVerdict {
                        plugin: Plugin::NodeAffinity,
                        rejection: Some(Rejection::new(
                            Plugin::NodeAffinity,
                            "node(s) didn't satisfy plugin(s) [NodeAffinity]",
                            true,
                        )),
                    }]
                };
                NodeExplanation {
                    node: cluster.nodes[node_id].name.clone(),
                    examined,
                    filters,
                    scores: Vec::new(),
                    total: None,
                    selected: false,
                }
            })
            .collect()
    }
}

fn mark_selected(nodes: &mut [NodeExplanation], name: &str) {
    if let Some(n) = nodes.iter_mut().find(|n| n.node == name) {
        n.selected = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_matches_upstream_counts() {
        assert_eq!(num_feasible_nodes_to_find(None, 50), 50);
        assert_eq!(num_feasible_nodes_to_find(None, 500), 230);
        assert_eq!(num_feasible_nodes_to_find(None, 1000), 420);
        assert_eq!(num_feasible_nodes_to_find(None, 5000), 500);
        assert_eq!(num_feasible_nodes_to_find(None, 6250), 312);
        assert_eq!(num_feasible_nodes_to_find(None, 15000), 750);
        assert_eq!(num_feasible_nodes_to_find(Some(100), 5000), 5000);
        assert_eq!(num_feasible_nodes_to_find(Some(1), 5000), 100);
    }

    fn cluster_of(nodes: usize, pods: usize) -> Cluster {
        let w = crate::workloads::build("SchedulingBasic", nodes, 0, pods);
        let w = w.unwrap_or_else(|| panic!("workload"));
        Cluster::new(w.nodes, w.measured, std::collections::BTreeMap::new())
    }

    #[test]
    fn filtering_resumes_where_the_previous_pod_stopped() {
        let cluster = cluster_of(150, 3);
        let mut fw = Framework::new(Profile::default(), 0);
        // 150 nodes: 49% → 73, raised to the minimum of 100 feasible nodes.
        let first = fw.schedule(&cluster, 0, true);
        assert_eq!((first.evaluated_nodes, fw.next_start_node_index), (100, 100));
        let examined = first.explanation.map(|e| e.iter().filter(|n| n.examined).count());
        assert_eq!(examined, Some(100));
        let second = fw.schedule(&cluster, 1, false);
        assert_eq!((second.evaluated_nodes, fw.next_start_node_index), (100, 50));
        // Every node is an equal best, so the choice is the seeded tie-break;
        // the same seed replays it.
        let mut again = Framework::new(Profile::default(), 0);
        assert_eq!(again.schedule(&cluster, 0, false).decision, first.decision);
    }

    #[test]
    fn cached_resource_scores_equal_fresh_ones() {
        let mut cluster = cluster_of(7, 40);
        let mut cached = Framework::new(Profile::default(), 3);
        for pod in 0..40 {
            let feasible: Vec<NodeId> = (0..7).collect();
            let fresh = Framework::new(Profile::default(), 3).score(&cluster, pod, &feasible);
            assert_eq!(cached.score(&cluster, pod, &feasible), fresh, "pod {pod}");
            if let Decision::Bind(node) = cached.schedule(&cluster, pod, false).decision {
                cluster.bind(pod, node);
            }
        }
        assert!(cluster.states.iter().all(|s| s.pods.len() >= 5), "pods spread over every node");
    }

    #[test]
    fn snapshot_order_interleaves_zones() {
        let mut nodes = cluster_of(5, 0).nodes;
        for (node, zone) in nodes.iter_mut().zip(["a", "a", "a", "b", "b"]) {
            node.labels.insert(crate::model::ZONE_LABEL.into(), zone.into());
        }
        assert_eq!(crate::cluster::zone_interleaved_order(&nodes), vec![0, 3, 1, 4, 2]);
    }

    #[test]
    fn histogram_sorts_as_strings() {
        let mut statuses = NodeStatuses::new();
        for i in 0..10 {
            statuses.insert(i, Rejection::new(Plugin::NodeResourcesFit, "Insufficient cpu", false));
        }
        for i in 10..12 {
            statuses.insert(i, Rejection::new(Plugin::TaintToleration, node::ERR_TAINTS, true));
        }
        let err =
            FitError { num_all_nodes: 12, prefilter_message: None, statuses, absent: None, postfilter_message: None };
        assert_eq!(err.message(), "0/12 nodes are available: 10 Insufficient cpu, 2 node(s) had untolerated taint(s).");
    }

    #[test]
    fn long_messages_are_truncated_for_events() {
        let long = "x".repeat(2000);
        let cut = truncate_event_message(&long);
        assert_eq!(cut.len(), 1024);
        assert!(cut.ends_with(" ..."));
        assert_eq!(truncate_event_message("short"), "short");
    }
}
