//! `simulate`: every pending pod through the priority queue, one cycle
//! each, with preemption, retries after the cluster changes, and the
//! report (placements, unschedulable pods with their messages,
//! preemptions, utilisation).
//!
//! Queue order is PrioritySort's: higher priority first, then the order the
//! pods were read. A pod that failed is tried again after a pass in which
//! the cluster changed in a way that can help it (a bind, for pods held back
//! by inter-pod affinity or topology spread; an eviction, for every pod), as
//! kube-scheduler's queue moves such pods back on cluster events.

use std::collections::{BTreeMap, HashMap};

use crate::cluster::{Cluster, NodeId, PodId};
use crate::config::{Plugin, Profile};
use crate::framework::{Decision, FitError, Framework, NodeExplanation};
use crate::load::Manifests;
use crate::model::Resources;
use crate::preemption::{self, PostFilter};

/// The message of a pod held back by scheduling gates (condition reason
/// `SchedulingGated`).
pub const GATED_MESSAGE: &str = "Scheduling is blocked due to non-empty scheduling gates";

/// Why a simulation could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    #[error("{origin}: pod {pod}: spec.nodeName: node {node:?} not found")]
    UnknownNode { origin: String, pod: String, node: String },
    #[error("pod {0} not found in the inputs")]
    UnknownPod(String),
}

/// A pod and where it went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub namespace: String,
    pub name: String,
    pub node: String,
}

/// A pod left pending, and the `FailedScheduling` message of its last
/// attempt (untruncated, as in the `PodScheduled` condition).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub namespace: String,
    pub name: String,
    pub message: String,
}

/// A preemption: the preemptor, the node it was nominated to, the victims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreemptionRecord {
    pub preemptor: (String, String),
    pub node: String,
    pub victims: Vec<(String, String)>,
}

/// Allocatable and allocated (requested) resources of a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeUsage {
    pub name: String,
    pub allocatable: Resources,
    pub allocated: Resources,
    /// Pods bound to the node.
    pub pods: i64,
}

/// The result of a simulation.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Pods placed by this simulation, in the order they were bound.
    pub placements: Vec<Placement>,
    pub unschedulable: Vec<Pending>,
    pub preemptions: Vec<PreemptionRecord>,
    pub nodes: Vec<NodeUsage>,
    /// Scheduling cycles run (attempts, including retries).
    pub attempts: usize,
}

/// The explanation of one pod's last cycle.
#[derive(Debug, Clone)]
pub struct Explanation {
    pub namespace: String,
    pub name: String,
    /// `Scheduled` / `FailedScheduling` text.
    pub outcome: String,
    pub nodes: Vec<NodeExplanation>,
}

/// A simulation in progress: the cluster, the framework and the queue.
#[derive(Debug)]
pub struct Simulation {
    pub cluster: Cluster,
    pub framework: Framework,
    pub budgets: Vec<crate::load::DisruptionBudget>,
    explain_target: Option<PodId>,
    explanation: Option<Explanation>,
}

impl Simulation {
    /// Builds the cluster from manifests and binds the pods that already
    /// have a `nodeName`.
    pub fn new(manifests: Manifests, profile: Profile, seed: u64) -> Result<Self, SimulateError> {
        let Manifests { nodes, pods, namespaces, disruption_budgets, .. } = manifests;
        let mut cluster = Cluster::new(nodes, pods, namespaces);
        for pod_id in 0..cluster.pods.len() {
            if let Some(node) = cluster.pods[pod_id].node_name.clone() {
                let Some(&node_id) = cluster.node_by_name.get(&node) else {
                    let pod = &cluster.pods[pod_id];
                    return Err(SimulateError::UnknownNode { origin: pod.source.clone(), pod: pod.key(), node });
                };
                cluster.bind(pod_id, node_id);
            }
        }
        Ok(Self {
            cluster,
            framework: Framework::new(profile, seed),
            budgets: disruption_budgets,
            explain_target: None,
            explanation: None,
        })
    }

    /// Records the explanation of this pod's last cycle.
    pub fn explain(&mut self, namespace: &str, name: &str) -> Result<(), SimulateError> {
        let id = self.cluster.pods.iter().position(|p| p.namespace == namespace && p.name == name);
        self.explain_target = Some(id.ok_or_else(|| SimulateError::UnknownPod(format!("{namespace}/{name}")))?);
        Ok(())
    }

    pub fn explanation(&self) -> Option<&Explanation> {
        self.explanation.as_ref()
    }

    /// Pods waiting to be scheduled, in PrioritySort order.
    fn queue(&self) -> Vec<PodId> {
        let mut queue: Vec<PodId> =
            (0..self.cluster.pods.len()).filter(|p| self.cluster.pod_node[*p].is_none()).collect();
        queue.sort_by(|a, b| self.cluster.pods[*b].priority.cmp(&self.cluster.pods[*a].priority).then(a.cmp(b)));
        queue
    }

    /// A simulation over a cluster built elsewhere (benchmarks).
    pub fn from_cluster(cluster: Cluster, profile: Profile, seed: u64) -> Self {
        Self {
            cluster,
            framework: Framework::new(profile, seed),
            budgets: Vec::new(),
            explain_target: None,
            explanation: None,
        }
    }

    /// Schedules every pending pod and reports.
    pub fn run(&mut self) -> Report {
        let queue = self.queue();
        self.run_pods(queue)
    }

    /// Schedules the given pods (in PrioritySort order) and reports.
    pub fn run_pods(&mut self, mut queue: Vec<PodId>) -> Report {
        queue.sort_by(|a, b| self.cluster.pods[*b].priority.cmp(&self.cluster.pods[*a].priority).then(a.cmp(b)));
        let mut report = Report::default();
        let mut pending: BTreeMap<PodId, (String, RetryOn)> = BTreeMap::new();
        let gates = self.framework.profile.scheduling_gates;
        let mut evicted: std::collections::HashSet<PodId> = std::collections::HashSet::new();
        let nominated: Vec<PodId> =
            (0..self.cluster.pods.len()).filter(|p| self.cluster.pods[*p].nominated_node_name.is_some()).collect();
        loop {
            let mut bound_any = false;
            let mut evicted_any = false;
            for &pod_id in &queue {
                if evicted.contains(&pod_id) || self.cluster.pod_node[pod_id].is_some() {
                    continue;
                }
                if gates && !self.cluster.pods[pod_id].scheduling_gates.is_empty() {
                    pending.insert(pod_id, (GATED_MESSAGE.to_string(), RetryOn::Never));
                    continue;
                }
                report.attempts += 1;
                let own = self.cluster.pods[pod_id]
                    .nominated_node_name
                    .as_ref()
                    .and_then(|n| self.cluster.node_by_name.get(n).copied());
                match self.attempt_with_nominees(pod_id, &mut report, own, &nominated, &evicted) {
                    Attempt::Bound => {
                        pending.remove(&pod_id);
                        bound_any = true;
                    }
                    Attempt::Preempted(victims) => {
                        evicted_any = true;
                        evicted.extend(victims);
                        report.attempts += 1;
                        let node =
                            report.preemptions.last().and_then(|p| self.cluster.node_by_name.get(&p.node).copied());
                        match self.attempt_with_nominees(pod_id, &mut report, node, &nominated, &evicted) {
                            Attempt::Bound => {
                                pending.remove(&pod_id);
                                bound_any = true;
                            }
                            Attempt::Failed(message, retry) | Attempt::FailedAfterPreemption(message, retry) => {
                                pending.insert(pod_id, (message, retry));
                            }
                            Attempt::Preempted(more) => evicted.extend(more),
                        }
                    }
                    Attempt::Failed(message, retry) | Attempt::FailedAfterPreemption(message, retry) => {
                        pending.insert(pod_id, (message, retry));
                    }
                }
            }
            queue = pending
                .iter()
                .filter(|(_, (_, retry))| evicted_any || (bound_any && *retry == RetryOn::Bind))
                .map(|(id, _)| *id)
                .collect();
            queue.sort_by(|a, b| self.cluster.pods[*b].priority.cmp(&self.cluster.pods[*a].priority).then(a.cmp(b)));
            if queue.is_empty() {
                break;
            }
        }
        for (pod_id, (message, _)) in pending {
            let pod = &self.cluster.pods[pod_id];
            report.unschedulable.push(Pending { namespace: pod.namespace.clone(), name: pod.name.clone(), message });
        }
        report.nodes = self.usage();
        report
    }

    /// One cycle with the pods nominated in the manifests
    /// (`status.nominatedNodeName`, not yet bound) whose priority is at least
    /// this pod's counted on their nominated nodes while filtering, in two
    /// passes as upstream's `RunFilterPluginsWithNominatedPods` (scores never
    /// see them); `nominated` is this pod's own nomination, checked first.
    fn attempt_with_nominees(
        &mut self,
        pod_id: PodId,
        report: &mut Report,
        nominated: Option<NodeId>,
        candidates: &[PodId],
        evicted: &std::collections::HashSet<PodId>,
    ) -> Attempt {
        let priority = self.cluster.pods[pod_id].priority;
        let gates = self.framework.profile.scheduling_gates;
        let nominees: Vec<(PodId, NodeId)> = candidates
            .iter()
            .copied()
            .filter(|p| *p != pod_id && self.cluster.pod_node[*p].is_none() && !evicted.contains(p))
            .filter_map(|p| {
                let pod = &self.cluster.pods[p];
                if pod.priority < priority || (gates && !pod.scheduling_gates.is_empty()) {
                    return None;
                }
                let node = self.cluster.node_by_name.get(pod.nominated_node_name.as_ref()?)?;
                Some((p, *node))
            })
            .collect();
        self.framework.nominees = nominees;
        let attempt = self.attempt(pod_id, report, nominated);
        self.framework.nominees.clear();
        attempt
    }

    /// One cycle; `nominated` is checked first (after a preemption).
    fn attempt(&mut self, pod_id: PodId, report: &mut Report, nominated: Option<NodeId>) -> Attempt {
        match self.cycle(pod_id, nominated) {
            CycleOutcome::Bound(node) => {
                let pod = &self.cluster.pods[pod_id];
                report.placements.push(Placement {
                    namespace: pod.namespace.clone(),
                    name: pod.name.clone(),
                    node: self.cluster.nodes[node].name.clone(),
                });
                Attempt::Bound
            }
            CycleOutcome::Preempted { node, victims, .. } => {
                let pod = &self.cluster.pods[pod_id];
                report.preemptions.push(PreemptionRecord {
                    preemptor: (pod.namespace.clone(), pod.name.clone()),
                    node: self.cluster.nodes[node].name.clone(),
                    victims: victims
                        .iter()
                        .map(|v| (self.cluster.pods[*v].namespace.clone(), self.cluster.pods[*v].name.clone()))
                        .collect(),
                });
                Attempt::Preempted(victims)
            }
            CycleOutcome::Failed { message, rejectors } => {
                let retry =
                    if rejectors.iter().any(|p| matches!(p, Plugin::InterPodAffinity | Plugin::PodTopologySpread)) {
                        RetryOn::Bind
                    } else {
                        RetryOn::Eviction
                    };
                if nominated.is_some() {
                    Attempt::FailedAfterPreemption(message, retry)
                } else {
                    Attempt::Failed(message, retry)
                }
            }
        }
    }

    /// One scheduling cycle of one pod, binding it on success; `nominated`
    /// (the node a preemption nominated it to) is checked first. On a
    /// preemption the victims are already removed from the cluster.
    pub fn cycle(&mut self, pod_id: PodId, nominated: Option<NodeId>) -> CycleOutcome {
        let explain = self.explain_target == Some(pod_id);
        if let Some(node) = nominated {
            let state = self.framework.prefilter(&self.cluster, pod_id);
            let filters = &self.framework.profile.filters;
            if self.framework.run_filters_with_nominated(&self.cluster, &state, filters, pod_id, node).is_none() {
                if explain {
                    let cycle = self.framework.clone().schedule(&self.cluster, pod_id, true);
                    self.record_explanation(pod_id, cycle.explanation.unwrap_or_default(), Some(node), None);
                }
                self.cluster.bind(pod_id, node);
                return CycleOutcome::Bound(node);
            }
        }
        let cycle = self.framework.schedule(&self.cluster, pod_id, explain);
        match cycle.decision {
            Decision::Bind(node) => {
                if explain {
                    self.record_explanation(pod_id, cycle.explanation.unwrap_or_default(), Some(node), None);
                }
                self.cluster.bind(pod_id, node);
                CycleOutcome::Bound(node)
            }
            Decision::Unschedulable(mut err) => {
                let rejectors = rejectors(&err);
                if self.framework.profile.preemption && err.num_all_nodes > 0 {
                    match preemption::post_filter(&mut self.framework, &mut self.cluster, pod_id, &err, &self.budgets) {
                        PostFilter::Preempted(p) => {
                            let message = err.message();
                            if explain {
                                self.record_explanation(
                                    pod_id,
                                    cycle.explanation.unwrap_or_default(),
                                    None,
                                    Some(message.clone()),
                                );
                            }
                            return CycleOutcome::Preempted { node: p.node, victims: p.victims, message, rejectors };
                        }
                        PostFilter::Failed(message) => err.postfilter_message = Some(message),
                    }
                }
                let message = err.message();
                if explain {
                    self.record_explanation(pod_id, cycle.explanation.unwrap_or_default(), None, Some(message.clone()));
                }
                CycleOutcome::Failed { message, rejectors }
            }
        }
    }

    fn record_explanation(
        &mut self,
        pod_id: PodId,
        nodes: Vec<NodeExplanation>,
        node: Option<NodeId>,
        failure: Option<String>,
    ) {
        let pod = &self.cluster.pods[pod_id];
        let outcome = match (node, failure) {
            (Some(node), _) => {
                format!("Successfully assigned {}/{} to {}", pod.namespace, pod.name, self.cluster.nodes[node].name)
            }
            (None, Some(message)) => message,
            (None, None) => String::new(),
        };
        self.explanation =
            Some(Explanation { namespace: pod.namespace.clone(), name: pod.name.clone(), outcome, nodes });
    }

    /// Allocatable vs allocated per node, in input order.
    pub fn usage(&self) -> Vec<NodeUsage> {
        self.cluster
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| NodeUsage {
                name: n.name.clone(),
                allocatable: n.allocatable.clone(),
                allocated: self.cluster.states[i].requested.clone(),
                pods: self.cluster.states[i].pods.len() as i64,
            })
            .collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RetryOn {
    /// Only an eviction (freed resources) can help.
    Eviction,
    /// A new bound pod can help (inter-pod affinity, topology spread).
    Bind,
    /// Never (gated).
    Never,
}

/// The plugins that rejected the pod on some node (empty when a PreFilter
/// rejected it or there are no nodes): the queue moves the pod back only on
/// cluster events these plugins care about.
pub fn rejectors(err: &FitError) -> Vec<Plugin> {
    let mut plugins: Vec<Plugin> = err.statuses.values().chain(err.absent.as_ref()).map(|r| r.plugin).collect();
    plugins.sort_by_key(|p| p.name());
    plugins.dedup();
    plugins
}

/// What one scheduling cycle did ([`Simulation::cycle`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CycleOutcome {
    /// Bound to the node.
    Bound(NodeId),
    /// DefaultPreemption removed the victims and nominated the pod to
    /// `node`; the pod itself stays pending this cycle. `message` is the
    /// cycle's `FailedScheduling` text.
    Preempted { node: NodeId, victims: Vec<PodId>, message: String, rejectors: Vec<Plugin> },
    /// No node fits; the `FailedScheduling` text and the rejecting plugins.
    Failed { message: String, rejectors: Vec<Plugin> },
}

enum Attempt {
    Bound,
    Preempted(Vec<PodId>),
    Failed(String, RetryOn),
    FailedAfterPreemption(String, RetryOn),
}

/// Totals over every node.
pub fn totals(nodes: &[NodeUsage]) -> (Resources, Resources, i64) {
    let mut allocatable = Resources::default();
    let mut allocated = Resources::default();
    let mut pods = 0;
    for n in nodes {
        allocatable.add(&n.allocatable);
        allocated.add(&n.allocated);
        pods += n.pods;
    }
    (allocatable, allocated, pods)
}

/// Pending pods grouped by message, largest group first.
pub fn pending_by_reason(pending: &[Pending]) -> Vec<(String, Vec<String>)> {
    let mut groups: HashMap<&str, Vec<String>> = HashMap::new();
    for p in pending {
        groups.entry(p.message.as_str()).or_default().push(format!("{}/{}", p.namespace, p.name));
    }
    let mut out: Vec<(String, Vec<String>)> = groups.into_iter().map(|(m, pods)| (m.to_string(), pods)).collect();
    out.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
    out
}
