//! A simulated live cluster over time: nodes come and go, pods and
//! Deployments are created, scaled and deleted, nodes are tainted, cordoned
//! and drained, and the scheduler's queue retries pods as the cluster
//! changes, all on an explicit `now` — nothing here reads a clock.
//!
//! Every operation takes the time it happens at and returns the events it
//! caused, worded as the Kubernetes component that would emit them:
//!
//! - kube-scheduler (`default-scheduler`): `Scheduled`, `FailedScheduling`,
//!   `Preempted`.
//! - the taint eviction controller (`taint-eviction-controller`):
//!   `TaintManagerEviction` "Marking for deletion Pod ns/name" and
//!   "Cancelling deletion of Pod ns/name".
//! - the kubelet: `Killing` "Stopping container NAME", `NodeSchedulable`,
//!   `NodeNotSchedulable`.
//! - the node controller: `RegisteredNode`, `RemovingNode`.
//! - the ReplicaSet and Deployment controllers: `SuccessfulCreate`,
//!   `SuccessfulDelete`, `ScalingReplicaSet`.
//! - kubectl's own output for cordon, uncordon, taint and drain
//!   ([`EventKind::Client`]: lines a client prints, not API events).
//!
//! The queue is kube-scheduler's: an active queue in PrioritySort order, a
//! backoff queue (1 s doubling to 10 s per unschedulable attempt), and the
//! unschedulable pods, moved back when a cluster event that can help them
//! happens (decided by the plugins that rejected them) or after 5 minutes
//! (checked every 30 s). [`Timeline::advance`] fires due evictions, backoff
//! expiries, flushes and drain retries in time order, scheduling after each.
//!
//! Simplifications, all documented in `docs/scheduler-scenarios.md`: no
//! containers run, so a bound pod is Running and Ready at once and a
//! deleted pod is gone at once (no grace period); the cluster's objects
//! are the scheduler's model, not stored API objects.

pub mod scenario;

use std::collections::BTreeMap;
use std::time::Duration;

use cloudlet_core::Timestamp;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::Value;

use crate::cluster::{Cluster, NodeId, PodId};
use crate::config::{Plugin, Profile};
use crate::framework::{Framework, truncate_event_message};
use crate::labels::{Effect, Taint, Toleration};
use crate::load::{DisruptionBudget, Document, LoadError, Manifests};
use crate::model::{Node, Pod};
use crate::simulate::{
    CycleOutcome, GATED_MESSAGE, NodeUsage, Pending, Placement, PreemptionRecord, Report, SimulateError, Simulation,
};

/// `podInitialBackoffSeconds`.
pub const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
/// `podMaxBackoffSeconds`.
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// `DefaultPodMaxInUnschedulablePodsDuration`.
pub const MAX_IN_UNSCHEDULABLE: Duration = Duration::from_secs(300);
/// How often the queue looks for unschedulable pods left too long.
pub const FLUSH_PERIOD: Duration = Duration::from_secs(30);
/// `kubectl drain` retries a refused eviction after this long.
pub const DRAIN_RETRY: Duration = Duration::from_secs(5);
/// PodGC deletes the pods of a node that is gone after this quarantine.
pub const ORPHAN_QUARANTINE: Duration = Duration::from_secs(40);
/// The taint the node lifecycle controller adds to a cordoned node.
pub const UNSCHEDULABLE_TAINT: &str = "node.kubernetes.io/unschedulable";
/// The eviction API's refusal (HTTP 429).
pub const PDB_REFUSAL: &str = "Cannot evict pod as it would violate the pod's disruption budget.";
/// The eviction API's error when several budgets select a pod (HTTP 500).
pub const PDB_MULTIPLE: &str =
    "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.";

const SCHEDULER: &str = "default-scheduler";
const TAINT_CONTROLLER: &str = "taint-eviction-controller";
const KUBELET: &str = "kubelet";
const NODE_CONTROLLER: &str = "node-controller";
const RS_CONTROLLER: &str = "replicaset-controller";
const DEPLOYMENT_CONTROLLER: &str = "deployment-controller";
const KUBECTL: &str = "kubectl";

/// Why an operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum TimelineError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Simulate(#[from] SimulateError),
    #[error("nodes \"{0}\" not found")]
    NodeNotFound(String),
    #[error("pods \"{name}\" not found in namespace {namespace}")]
    PodNotFound { namespace: String, name: String },
    #[error("deployments.apps \"{name}\" not found in namespace {namespace}")]
    DeploymentNotFound { namespace: String, name: String },
    #[error("{kind} \"{name}\" already exists")]
    AlreadyExists { kind: &'static str, name: String },
    #[error("taint \"{0}\" not found")]
    TaintNotFound(String),
    #[error("{0}")]
    Invalid(String),
}

/// A Kubernetes API event, or a line a client (kubectl) prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Api,
    Client,
}

/// `Normal` or `Warning`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Normal,
    Warning,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

/// The object an event is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    /// `Pod`, `Node`, `ReplicaSet` or `Deployment`.
    pub kind: &'static str,
    /// Empty for nodes.
    pub namespace: String,
    pub name: String,
}

impl ObjectRef {
    fn node(name: &str) -> Self {
        Self { kind: "Node", namespace: String::new(), name: name.to_string() }
    }

    fn pod(pod: &Pod) -> Self {
        Self { kind: "Pod", namespace: pod.namespace.clone(), name: pod.name.clone() }
    }

    /// `kind/name` or `kind/namespace/name`.
    pub fn display(&self) -> String {
        if self.namespace.is_empty() {
            format!("{}/{}", self.kind.to_lowercase(), self.name)
        } else {
            format!("{}/{}/{}", self.kind.to_lowercase(), self.namespace, self.name)
        }
    }
}

/// Something that happened, when, and who said so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub time: Timestamp,
    pub kind: EventKind,
    pub object: ObjectRef,
    pub event_type: EventType,
    pub reason: String,
    /// The reporting component (`kubectl describe`'s "From").
    pub from: String,
    pub message: String,
}

/// A pod's lifecycle in the simulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodPhase {
    /// Not bound yet.
    Pending,
    /// Bound (no containers run: bound pods count as Running and Ready).
    Running,
    Deleted,
}

impl PodPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            PodPhase::Pending => "Pending",
            PodPhase::Running => "Running",
            PodPhase::Deleted => "Deleted",
        }
    }
}

/// A pod as the timeline's callers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodView {
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub phase: PodPhase,
    pub node: Option<String>,
    pub nominated_node: Option<String>,
    pub priority: i32,
    pub created: Timestamp,
    /// When the pod was bound.
    pub started: Option<Timestamp>,
    /// The last `FailedScheduling` message (or the gated message) while
    /// pending.
    pub message: Option<String>,
    /// `ReplicaSet/NAME` when a ReplicaSet controls the pod.
    pub controlled_by: Option<String>,
    pub containers: Vec<String>,
}

/// A node as the timeline's callers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeView {
    pub name: String,
    pub unschedulable: bool,
    pub taints: Vec<Taint>,
    pub pods: usize,
}

/// A Deployment (or a bare ReplicaSet) as the timeline's callers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentView {
    pub kind: &'static str,
    pub namespace: String,
    pub name: String,
    pub replica_set: String,
    pub replicas: i32,
    /// Pods that exist (pending or running).
    pub current: usize,
    /// Pods bound (ready).
    pub ready: usize,
}

#[derive(Debug, Clone)]
struct PodRecord {
    uid: String,
    created: Timestamp,
    phase: PodPhase,
    node: Option<String>,
    started: Option<Timestamp>,
    owner: Option<usize>,
    containers: Vec<String>,
    daemonset: bool,
    mirror: bool,
    nominated: Option<String>,
    message: Option<String>,
}

#[derive(Debug, Clone)]
struct DeploymentRecord {
    kind: &'static str,
    namespace: String,
    name: String,
    rs_name: String,
    replicas: i32,
    template: Pod,
    containers: Vec<String>,
    deleted: bool,
    generated: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum QueueState {
    Active,
    Backoff,
    Unschedulable,
    Gated,
}

#[derive(Debug, Clone)]
struct QueuedPod {
    state: QueueState,
    unschedulable_count: u32,
    /// PrioritySort's timestamp: when the pod was added or last failed.
    timestamp: Timestamp,
    backoff_until: Timestamp,
    rejectors: Vec<Plugin>,
}

/// A change the queue reacts to.
#[derive(Debug, Clone, Copy)]
enum ClusterEvent {
    NodeAdd,
    NodeUpdate(NodeId),
    NodeDelete,
    AssignedPodAdd,
    AssignedPodDelete,
}

#[derive(Debug, Clone)]
struct Drain {
    node: String,
    /// Pods still to evict and when to try next.
    waiting: Vec<(PodId, Timestamp)>,
}

/// A scheduled taint-manager eviction: when it was first scheduled and
/// when it fires.
#[derive(Debug, Clone, Copy)]
struct ScheduledEviction {
    created: Timestamp,
    fire: Timestamp,
}

/// The simulated cluster and everything in flight.
#[derive(Debug)]
pub struct Timeline {
    sim: Simulation,
    start: Timestamp,
    pods: Vec<PodRecord>,
    deployments: Vec<DeploymentRecord>,
    queue: BTreeMap<PodId, QueuedPod>,
    evictions: BTreeMap<PodId, ScheduledEviction>,
    orphans: BTreeMap<PodId, Timestamp>,
    drains: Vec<Drain>,
    /// PriorityClass and Namespace documents, for objects added later.
    context_documents: Vec<Document>,
    placements: Vec<Placement>,
    preemptions: Vec<PreemptionRecord>,
    uid_counter: u64,
}

impl Timeline {
    /// An empty cluster at `now`.
    pub fn new(profile: Profile, seed: u64, now: Timestamp) -> Self {
        let sim = Simulation::from_cluster(Cluster::new(Vec::new(), Vec::new(), BTreeMap::new()), profile, seed);
        Self {
            sim,
            start: now,
            pods: Vec::new(),
            deployments: Vec::new(),
            queue: BTreeMap::new(),
            evictions: BTreeMap::new(),
            orphans: BTreeMap::new(),
            drains: Vec::new(),
            context_documents: Vec::new(),
            placements: Vec::new(),
            preemptions: Vec::new(),
            uid_counter: 0,
        }
    }

    /// The cluster the manifests describe, as it stands at `now`: pods with
    /// a `nodeName` are bound, the others wait in the active queue (call
    /// [`Timeline::schedule_pending`] to schedule them). No events: the
    /// objects already exist.
    pub fn from_documents(
        documents: &[Document],
        profile: Profile,
        seed: u64,
        now: Timestamp,
    ) -> Result<Self, TimelineError> {
        let manifests = Manifests::build(documents)?;
        let mut sim = Simulation::new(manifests, profile, seed)?;
        for budget in &mut sim.budgets {
            budget.disruptions_allowed = None;
        }
        let mut timeline = Self::new(Profile::default(), seed, now);
        timeline.sim = sim;
        timeline.context_documents = documents.iter().filter(|d| is_context(d)).cloned().collect();
        for pod_id in 0..timeline.sim.cluster.pods.len() {
            let uid = timeline.next_uid(pod_id);
            let node = timeline.sim.cluster.pod_node[pod_id].map(|n| timeline.sim.cluster.nodes[n].name.clone());
            timeline.pods.push(PodRecord {
                uid,
                created: now,
                phase: if node.is_some() { PodPhase::Running } else { PodPhase::Pending },
                started: node.as_ref().map(|_| now),
                node,
                owner: None,
                containers: Vec::new(),
                daemonset: false,
                mirror: false,
                nominated: timeline.sim.cluster.pods[pod_id].nominated_node_name.clone(),
                message: None,
            });
        }
        for doc in documents {
            match kind_of(doc) {
                "Pod" => {
                    let (namespace, name) = meta_name(&doc.value);
                    if let Some(id) = timeline.live_pod(&namespace, &name) {
                        timeline.pods[id].containers = container_names(&doc.value, "/spec");
                        timeline.pods[id].daemonset = controlled_by_kind(&doc.value, "DaemonSet");
                        timeline.pods[id].mirror = is_mirror(&doc.value);
                    }
                }
                "Deployment" | "ReplicaSet" => {
                    let record = timeline.workload_record(doc)?;
                    let index = timeline.deployments.len();
                    let prefix = format!("{}-", record.rs_name);
                    for (id, pod) in timeline.sim.cluster.pods.iter().enumerate() {
                        if pod.namespace == record.namespace
                            && pod.owner_selector.is_some()
                            && pod.name.len() == prefix.len() + 5
                            && pod.name.starts_with(&prefix)
                            && timeline.pods[id].owner.is_none()
                        {
                            timeline.pods[id].owner = Some(index);
                            timeline.pods[id].containers = record.containers.clone();
                        }
                    }
                    timeline.deployments.push(record);
                }
                _ => {}
            }
        }
        let gates = timeline.sim.framework.profile.scheduling_gates;
        for pod_id in 0..timeline.pods.len() {
            if timeline.pods[pod_id].phase == PodPhase::Pending {
                let gated = gates && !timeline.sim.cluster.pods[pod_id].scheduling_gates.is_empty();
                timeline.enqueue(pod_id, now, gated);
            }
        }
        let bound: Vec<(PodId, NodeId)> =
            (0..timeline.pods.len()).filter_map(|p| timeline.sim.cluster.pod_node[p].map(|n| (p, n))).collect();
        for (pod_id, node_id) in bound {
            let mut ignored = Vec::new();
            timeline.process_pod_on_node(now, pod_id, node_id, &mut ignored);
        }
        Ok(timeline)
    }

    /// The time the timeline started at.
    pub fn start(&self) -> Timestamp {
        self.start
    }

    /// The scheduler core (cluster and framework), read-only.
    pub fn simulation(&self) -> &Simulation {
        &self.sim
    }

    /// Creates the objects in the documents (Node, Pod, Deployment,
    /// ReplicaSet, PodDisruptionBudget, PriorityClass, Namespace), as
    /// `kubectl create` would. A Deployment that exists is scaled to the
    /// document's replicas.
    pub fn apply(&mut self, now: Timestamp, documents: &[Document]) -> Result<Vec<Event>, TimelineError> {
        let mut events = Vec::new();
        // Context first, so that pods can name priority classes applied with them.
        for doc in documents.iter().filter(|d| is_context(d)) {
            if kind_of(doc) == "Namespace" {
                let manifests = Manifests::build(std::slice::from_ref(doc))?;
                for (name, labels) in manifests.namespaces {
                    self.sim.cluster.namespaces.insert(name, labels);
                }
            } else {
                self.build(std::slice::from_ref(doc))?;
            }
            self.context_documents.push(doc.clone());
        }
        for doc in documents.iter().filter(|d| !is_context(d)) {
            match kind_of(doc) {
                "Node" => {
                    let mut manifests = self.build(std::slice::from_ref(doc))?;
                    for node in manifests.nodes.drain(..) {
                        events.extend(self.add_node(now, node)?);
                    }
                }
                "Pod" => {
                    let mut manifests = self.build(std::slice::from_ref(doc))?;
                    for pod in manifests.pods.drain(..) {
                        let (namespace, name) = (pod.namespace.clone(), pod.name.clone());
                        events.extend(self.create_pod(now, pod)?);
                        if let Some(id) = self.live_pod(&namespace, &name) {
                            self.pods[id].containers = container_names(&doc.value, "/spec");
                            self.pods[id].daemonset = controlled_by_kind(&doc.value, "DaemonSet");
                            self.pods[id].mirror = is_mirror(&doc.value);
                        }
                    }
                }
                "Deployment" | "ReplicaSet" => {
                    let record = self.workload_record(doc)?;
                    let existing = self.deployments.iter().position(|d| {
                        !d.deleted && d.kind == record.kind && d.namespace == record.namespace && d.name == record.name
                    });
                    match existing {
                        Some(index) => {
                            if self.deployments[index].rs_name != record.rs_name {
                                return Err(TimelineError::Invalid(format!(
                                    "{}: {} {}/{}: changing the pod template of an existing workload is not supported",
                                    doc.origin, record.kind, record.namespace, record.name
                                )));
                            }
                            let replicas = record.replicas;
                            events.extend(self.scale_index(now, index, replicas));
                        }
                        None => {
                            let replicas = record.replicas;
                            let mut record = record;
                            record.replicas = 0;
                            self.deployments.push(record);
                            let index = self.deployments.len() - 1;
                            events.extend(self.scale_index(now, index, replicas));
                        }
                    }
                }
                "PodDisruptionBudget" => {
                    let manifests = self.build(std::slice::from_ref(doc))?;
                    for mut budget in manifests.disruption_budgets {
                        budget.disruptions_allowed = None;
                        self.sim.budgets.retain(|b| !(b.namespace == budget.namespace && b.name == budget.name));
                        self.sim.budgets.push(budget);
                    }
                }
                "List" => {
                    let items: Vec<Document> = doc
                        .value
                        .get("items")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .map(|item| Document { origin: doc.origin.clone(), value: item.clone() })
                        .collect();
                    events.extend(self.apply(now, &items)?);
                }
                kind @ ("Service" | "StatefulSet" | "ReplicationController") => {
                    return Err(TimelineError::Invalid(format!(
                        "{}: kind: {kind} is read by `cloudlet sched simulate -f`, not applied by a scenario step",
                        doc.origin
                    )));
                }
                _ => {
                    // Unknown kinds get the loader's error.
                    self.build(std::slice::from_ref(doc))?;
                }
            }
        }
        Ok(events)
    }

    /// Registers a node.
    pub fn add_node(&mut self, now: Timestamp, node: Node) -> Result<Vec<Event>, TimelineError> {
        if self.sim.cluster.node_by_name.contains_key(&node.name) {
            return Err(TimelineError::AlreadyExists { kind: "nodes", name: node.name });
        }
        let mut events = vec![api(
            now,
            ObjectRef::node(&node.name),
            EventType::Normal,
            "RegisteredNode",
            NODE_CONTROLLER,
            format!("Node {0} event: Registered Node {0} in Controller", node.name),
        )];
        let mut nodes = self.sim.cluster.nodes.clone();
        nodes.push(node);
        self.rebuild(nodes);
        let id = self.sim.cluster.nodes.len() - 1;
        self.process_node(now, id, &mut events);
        self.move_pods(now, ClusterEvent::NodeAdd);
        Ok(events)
    }

    /// Deletes a node; PodGC deletes its pods after its 40 s quarantine.
    pub fn remove_node(&mut self, now: Timestamp, name: &str) -> Result<Vec<Event>, TimelineError> {
        self.node_id(name)?;
        let events = vec![api(
            now,
            ObjectRef::node(name),
            EventType::Normal,
            "RemovingNode",
            NODE_CONTROLLER,
            format!("Node {name} event: Removing Node {name} from Controller"),
        )];
        let nodes: Vec<Node> = self.sim.cluster.nodes.iter().filter(|n| n.name != name).cloned().collect();
        for (pod_id, record) in self.pods.iter().enumerate() {
            if record.phase == PodPhase::Running && record.node.as_deref() == Some(name) {
                self.orphans.insert(pod_id, now + ORPHAN_QUARANTINE);
                self.evictions.remove(&pod_id);
            }
        }
        self.drains.retain(|d| d.node != name);
        self.rebuild(nodes);
        self.move_pods(now, ClusterEvent::NodeDelete);
        Ok(events)
    }

    /// Creates a pod (bound at once when it names a node).
    pub fn create_pod(&mut self, now: Timestamp, pod: Pod) -> Result<Vec<Event>, TimelineError> {
        if self.live_pod(&pod.namespace, &pod.name).is_some() {
            return Err(TimelineError::AlreadyExists { kind: "pods", name: pod.name });
        }
        let node = match &pod.node_name {
            Some(node) => Some(self.node_id(node)?),
            None => None,
        };
        let mut events = Vec::new();
        self.insert_pod(now, pod, None, Vec::new(), node, &mut events);
        Ok(events)
    }

    /// Deletes a pod (`kubectl delete pod`).
    pub fn delete_pod(&mut self, now: Timestamp, namespace: &str, name: &str) -> Result<Vec<Event>, TimelineError> {
        let id = self
            .live_pod(namespace, name)
            .ok_or_else(|| TimelineError::PodNotFound { namespace: namespace.to_string(), name: name.to_string() })?;
        let mut events = Vec::new();
        self.delete(now, id, &mut events);
        Ok(events)
    }

    /// Scales a Deployment (or a bare ReplicaSet) named `namespace/name`.
    pub fn scale(
        &mut self,
        now: Timestamp,
        namespace: &str,
        name: &str,
        replicas: i32,
    ) -> Result<Vec<Event>, TimelineError> {
        if replicas < 0 {
            return Err(TimelineError::Invalid(format!("replicas: {replicas}: must be greater than or equal to 0")));
        }
        let index = self.deployment_index(namespace, name)?;
        Ok(self.scale_index(now, index, replicas))
    }

    /// Deletes a Deployment (or bare ReplicaSet) and, through the garbage
    /// collector, its pods.
    pub fn delete_deployment(
        &mut self,
        now: Timestamp,
        namespace: &str,
        name: &str,
    ) -> Result<Vec<Event>, TimelineError> {
        let index = self.deployment_index(namespace, name)?;
        self.deployments[index].deleted = true;
        let mut events = Vec::new();
        let owned: Vec<PodId> = (0..self.pods.len())
            .filter(|p| self.pods[*p].owner == Some(index) && self.pods[*p].phase != PodPhase::Deleted)
            .collect();
        for pod_id in owned {
            self.delete(now, pod_id, &mut events);
        }
        Ok(events)
    }

    /// `kubectl cordon`: marks the node unschedulable; the node lifecycle
    /// controller adds `node.kubernetes.io/unschedulable:NoSchedule`.
    pub fn cordon(&mut self, now: Timestamp, node: &str) -> Result<Vec<Event>, TimelineError> {
        let id = self.node_id(node)?;
        let mut events = Vec::new();
        if self.sim.cluster.nodes[id].unschedulable {
            events.push(client(
                now,
                ObjectRef::node(node),
                EventType::Normal,
                "Cordon",
                format!("node/{node} already cordoned"),
            ));
            return Ok(events);
        }
        events.push(client(now, ObjectRef::node(node), EventType::Normal, "Cordon", format!("node/{node} cordoned")));
        events.push(api(
            now,
            ObjectRef::node(node),
            EventType::Normal,
            "NodeNotSchedulable",
            KUBELET,
            format!("Node {node} status is now: NodeNotSchedulable"),
        ));
        let mut nodes = self.sim.cluster.nodes.clone();
        nodes[id].unschedulable = true;
        let taint = Taint { key: UNSCHEDULABLE_TAINT.into(), value: String::new(), effect: Effect::NoSchedule };
        if !nodes[id].taints.contains(&taint) {
            nodes[id].taints.push(taint);
        }
        self.update_node(now, nodes, id, &mut events);
        Ok(events)
    }

    /// `kubectl uncordon`.
    pub fn uncordon(&mut self, now: Timestamp, node: &str) -> Result<Vec<Event>, TimelineError> {
        let id = self.node_id(node)?;
        let mut events = Vec::new();
        self.drains.retain(|d| d.node != node);
        if !self.sim.cluster.nodes[id].unschedulable {
            events.push(client(
                now,
                ObjectRef::node(node),
                EventType::Normal,
                "Uncordon",
                format!("node/{node} already uncordoned"),
            ));
            return Ok(events);
        }
        events.push(client(
            now,
            ObjectRef::node(node),
            EventType::Normal,
            "Uncordon",
            format!("node/{node} uncordoned"),
        ));
        events.push(api(
            now,
            ObjectRef::node(node),
            EventType::Normal,
            "NodeSchedulable",
            KUBELET,
            format!("Node {node} status is now: NodeSchedulable"),
        ));
        let mut nodes = self.sim.cluster.nodes.clone();
        nodes[id].unschedulable = false;
        nodes[id].taints.retain(|t| !(t.key == UNSCHEDULABLE_TAINT && t.effect == Effect::NoSchedule));
        self.update_node(now, nodes, id, &mut events);
        Ok(events)
    }

    /// `kubectl taint nodes NODE key=value:effect --overwrite`. A
    /// `NoExecute` taint evicts pods that do not tolerate it at once, and
    /// pods that tolerate it for `tolerationSeconds` when those run out.
    pub fn taint(&mut self, now: Timestamp, node: &str, taint: Taint) -> Result<Vec<Event>, TimelineError> {
        let id = self.node_id(node)?;
        let mut nodes = self.sim.cluster.nodes.clone();
        let taints = &mut nodes[id].taints;
        match taints.iter_mut().find(|t| t.key == taint.key && t.effect == taint.effect) {
            Some(existing) => existing.value = taint.value,
            None => taints.push(taint),
        }
        let mut events =
            vec![client(now, ObjectRef::node(node), EventType::Normal, "Taint", format!("node/{node} tainted"))];
        self.update_node(now, nodes, id, &mut events);
        Ok(events)
    }

    /// `kubectl taint nodes NODE key[:effect]-`: removes the taints with
    /// the key (and effect, when given). Scheduled evictions the node no
    /// longer calls for are cancelled.
    pub fn untaint(
        &mut self,
        now: Timestamp,
        node: &str,
        key: &str,
        effect: Option<Effect>,
    ) -> Result<Vec<Event>, TimelineError> {
        let id = self.node_id(node)?;
        let mut nodes = self.sim.cluster.nodes.clone();
        let before = nodes[id].taints.len();
        nodes[id].taints.retain(|t| !(t.key == key && effect.is_none_or(|e| e == t.effect)));
        if nodes[id].taints.len() == before {
            let shown = match effect {
                Some(e) => format!("{key}:{}", effect_name(e)),
                None => key.to_string(),
            };
            return Err(TimelineError::TaintNotFound(shown));
        }
        let mut events =
            vec![client(now, ObjectRef::node(node), EventType::Normal, "Taint", format!("node/{node} untainted"))];
        self.update_node(now, nodes, id, &mut events);
        Ok(events)
    }

    /// `kubectl drain NODE --ignore-daemonsets [--force]`: cordons the
    /// node, then evicts its pods through the eviction API. An eviction a
    /// PodDisruptionBudget refuses is retried every 5 s (by
    /// [`Timeline::advance`]) until the budget allows it. Mirror pods are
    /// skipped and DaemonSet pods ignored, as kubectl does; pods without a
    /// controller stop the drain unless `force`.
    pub fn drain(&mut self, now: Timestamp, node: &str, force: bool) -> Result<Vec<Event>, TimelineError> {
        let mut events = self.cordon(now, node)?;
        let node_ref = ObjectRef::node(node);
        let on_node: Vec<PodId> = (0..self.pods.len())
            .filter(|p| self.pods[*p].phase == PodPhase::Running && self.pods[*p].node.as_deref() == Some(node))
            .collect();
        let mut daemonsets = Vec::new();
        let mut unmanaged = Vec::new();
        let mut evict = Vec::new();
        for pod_id in on_node {
            let record = &self.pods[pod_id];
            let key = self.sim.cluster.pods[pod_id].key();
            if record.mirror {
                continue;
            }
            if record.daemonset {
                daemonsets.push(key);
                continue;
            }
            if record.owner.is_none() && self.sim.cluster.pods[pod_id].owner_selector.is_none() {
                unmanaged.push(key);
            }
            evict.push(pod_id);
        }
        if !unmanaged.is_empty() && !force {
            events.push(client(
                now,
                node_ref,
                EventType::Warning,
                "DrainFailed",
                format!(
                    "error: unable to drain node \"{node}\" due to error: cannot delete Pods that declare no controller (use --force to override): {}",
                    unmanaged.join(", ")
                ),
            ));
            return Ok(events);
        }
        let mut warnings = Vec::new();
        if !daemonsets.is_empty() {
            warnings.push(format!("ignoring DaemonSet-managed Pods: {}", daemonsets.join(", ")));
        }
        if !unmanaged.is_empty() {
            warnings.push(format!("deleting Pods that declare no controller: {}", unmanaged.join(", ")));
        }
        if !warnings.is_empty() {
            events.push(client(
                now,
                node_ref.clone(),
                EventType::Warning,
                "Drain",
                format!("Warning: {}", warnings.join("; ")),
            ));
        }
        self.drains.retain(|d| d.node != node);
        self.drains.push(Drain { node: node.to_string(), waiting: evict.into_iter().map(|p| (p, now)).collect() });
        self.run_drains(now, &mut events);
        Ok(events)
    }

    /// The next time something is due (an eviction, a backoff expiry, a
    /// queue flush, a drain retry, PodGC), if anything is.
    pub fn next_wakeup(&self) -> Option<Timestamp> {
        let evictions = self.evictions.values().map(|e| e.fire);
        let orphans = self.orphans.values().copied();
        let backoff = self.queue.values().filter(|q| q.state == QueueState::Backoff).map(|q| q.backoff_until);
        let flush =
            self.queue.values().filter(|q| q.state == QueueState::Unschedulable).map(|q| self.flush_due(q.timestamp));
        let drains = self.drains.iter().flat_map(|d| d.waiting.iter().map(|(_, t)| *t));
        evictions.chain(orphans).chain(backoff).chain(flush).chain(drains).min()
    }

    /// Fires everything due up to `now`, in time order, running scheduling
    /// cycles after each instant.
    pub fn advance(&mut self, now: Timestamp) -> Vec<Event> {
        let mut events = Vec::new();
        while let Some(t) = self.next_wakeup() {
            if t > now {
                break;
            }
            self.fire(t, &mut events);
            events.extend(self.schedule_pending(t));
        }
        events
    }

    /// Runs scheduling cycles at `now` until the active queue is empty
    /// (pods whose backoff ended by `now` join it first).
    pub fn schedule_pending(&mut self, now: Timestamp) -> Vec<Event> {
        let mut events = Vec::new();
        for q in self.queue.values_mut() {
            if q.state == QueueState::Backoff && q.backoff_until <= now {
                q.state = QueueState::Active;
            }
        }
        while let Some(pod_id) = self.pop_active() {
            self.schedule_one(now, pod_id, &mut events);
        }
        events
    }

    /// Every pod not deleted, in creation order.
    pub fn pods(&self) -> Vec<PodView> {
        (0..self.pods.len()).filter(|p| self.pods[*p].phase != PodPhase::Deleted).map(|p| self.pod_view(p)).collect()
    }

    /// One pod, if it exists.
    pub fn pod(&self, namespace: &str, name: &str) -> Option<PodView> {
        self.live_pod(namespace, name).map(|p| self.pod_view(p))
    }

    /// Every node, in the order they were added.
    pub fn nodes(&self) -> Vec<NodeView> {
        self.sim
            .cluster
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| NodeView {
                name: n.name.clone(),
                unschedulable: n.unschedulable,
                taints: n.taints.clone(),
                pods: self.sim.cluster.states[i].pods.len(),
            })
            .collect()
    }

    /// Every Deployment and bare ReplicaSet not deleted.
    pub fn deployments(&self) -> Vec<DeploymentView> {
        self.deployments
            .iter()
            .enumerate()
            .filter(|(_, d)| !d.deleted)
            .map(|(i, d)| {
                let owned = self.pods.iter().filter(|p| p.owner == Some(i) && p.phase != PodPhase::Deleted);
                DeploymentView {
                    kind: d.kind,
                    namespace: d.namespace.clone(),
                    name: d.name.clone(),
                    replica_set: d.rs_name.clone(),
                    replicas: d.replicas,
                    current: owned.clone().count(),
                    ready: owned.filter(|p| p.phase == PodPhase::Running).count(),
                }
            })
            .collect()
    }

    /// `status.disruptionsAllowed` of a PodDisruptionBudget now, as the
    /// disruption controller computes it.
    pub fn disruptions_allowed(&self, namespace: &str, name: &str) -> Option<i64> {
        let budget = self.sim.budgets.iter().find(|b| b.namespace == namespace && b.name == name)?;
        Some(self.allowed(budget))
    }

    /// The report so far: every placement and preemption in order, the
    /// pods still pending with their last message, and node usage.
    pub fn report(&self) -> Report {
        let unschedulable = (0..self.pods.len())
            .filter(|p| self.pods[*p].phase == PodPhase::Pending)
            .map(|p| {
                let pod = &self.sim.cluster.pods[p];
                Pending {
                    namespace: pod.namespace.clone(),
                    name: pod.name.clone(),
                    message: self.pods[p].message.clone().unwrap_or_default(),
                }
            })
            .collect();
        Report {
            placements: self.placements.clone(),
            unschedulable,
            preemptions: self.preemptions.clone(),
            nodes: self.usage(),
            attempts: 0,
        }
    }

    /// Allocatable vs allocated per node.
    pub fn usage(&self) -> Vec<NodeUsage> {
        self.sim.usage()
    }

    // ---- internals ----

    fn pod_view(&self, p: PodId) -> PodView {
        let record = &self.pods[p];
        let pod = &self.sim.cluster.pods[p];
        PodView {
            namespace: pod.namespace.clone(),
            name: pod.name.clone(),
            uid: record.uid.clone(),
            phase: record.phase,
            node: record.node.clone(),
            nominated_node: record.nominated.clone(),
            priority: pod.priority,
            created: record.created,
            started: record.started,
            message: if record.phase == PodPhase::Pending { record.message.clone() } else { None },
            controlled_by: record.owner.map(|o| format!("ReplicaSet/{}", self.deployments[o].rs_name)),
            containers: record.containers.clone(),
        }
    }

    fn next_uid(&mut self, pod_id: PodId) -> String {
        self.uid_counter += 1;
        let seed = format!("{}/{}", self.uid_counter, pod_id);
        let a = fnv(&seed, 0xcbf2_9ce4_8422_2325);
        let b = fnv(&seed, 0x8422_2325_cbf2_9ce4);
        let hex = format!("{a:016x}{b:016x}");
        format!("{}-{}-4{}-a{}-{}", &hex[0..8], &hex[8..12], &hex[13..16], &hex[17..20], &hex[20..32])
    }

    fn build(&self, documents: &[Document]) -> Result<Manifests, TimelineError> {
        let mut all: Vec<Document> =
            self.context_documents.iter().filter(|d| kind_of(d) == "PriorityClass").cloned().collect();
        all.extend(documents.iter().cloned());
        Ok(Manifests::build(&all)?)
    }

    /// A Deployment or ReplicaSet document as a record: its ReplicaSet's
    /// name and one pod as the template (built with one replica).
    fn workload_record(&self, doc: &Document) -> Result<DeploymentRecord, TimelineError> {
        let kind = if kind_of(doc) == "Deployment" { "Deployment" } else { "ReplicaSet" };
        let replicas = match doc.value.pointer("/spec/replicas") {
            None | Some(Value::Null) => 1,
            Some(v) => v.as_i64().and_then(|r| i32::try_from(r).ok()).filter(|r| *r >= 0).ok_or_else(|| {
                TimelineError::Invalid(format!("{}: spec.replicas: must be a non-negative integer", doc.origin))
            })?,
        };
        let mut one = doc.clone();
        if let Some(spec) = one.value.get_mut("spec").and_then(Value::as_object_mut) {
            spec.insert("replicas".into(), Value::from(1));
        }
        let manifests = self.build(std::slice::from_ref(&one))?;
        let template = manifests
            .pods
            .into_iter()
            .next()
            .ok_or_else(|| TimelineError::Invalid(format!("{}: {kind} has no pod template", doc.origin)))?;
        let (_, name) = meta_name(&doc.value);
        let rs_name = template.name.get(..template.name.len().saturating_sub(6)).unwrap_or(&template.name).to_string();
        Ok(DeploymentRecord {
            kind,
            namespace: template.namespace.clone(),
            name,
            rs_name,
            replicas,
            containers: container_names(&doc.value, "/spec/template/spec"),
            template,
            deleted: false,
            generated: 0,
        })
    }

    fn deployment_index(&self, namespace: &str, name: &str) -> Result<usize, TimelineError> {
        self.deployments.iter().position(|d| !d.deleted && d.namespace == namespace && d.name == name).ok_or_else(
            || TimelineError::DeploymentNotFound { namespace: namespace.to_string(), name: name.to_string() },
        )
    }

    fn node_id(&self, name: &str) -> Result<NodeId, TimelineError> {
        self.sim.cluster.node_by_name.get(name).copied().ok_or_else(|| TimelineError::NodeNotFound(name.to_string()))
    }

    fn live_pod(&self, namespace: &str, name: &str) -> Option<PodId> {
        (0..self.pods.len()).find(|p| {
            self.pods[*p].phase != PodPhase::Deleted
                && self.sim.cluster.pods[*p].namespace == namespace
                && self.sim.cluster.pods[*p].name == name
        })
    }

    /// Builds the cluster again over a new node list (ids change), keeping
    /// pods, bindings, the random source and the round-robin index.
    fn rebuild(&mut self, nodes: Vec<Node>) {
        let pods = std::mem::take(&mut self.sim.cluster.pods);
        let namespaces = std::mem::take(&mut self.sim.cluster.namespaces);
        let bind_order = std::mem::take(&mut self.sim.cluster.bind_order);
        let next_bind_order = self.sim.cluster.next_bind_order;
        let mut cluster = Cluster::new(nodes, pods, namespaces);
        for (pod_id, record) in self.pods.iter().enumerate() {
            if record.phase != PodPhase::Running || self.orphans.contains_key(&pod_id) {
                continue;
            }
            if let Some(&node) = record.node.as_ref().and_then(|n| cluster.node_by_name.get(n)) {
                cluster.bind(pod_id, node);
            }
        }
        cluster.bind_order = bind_order;
        cluster.next_bind_order = next_bind_order;
        let old = &self.sim.framework;
        let mut framework = Framework::new(old.profile.clone(), 0);
        framework.rng = old.rng.clone();
        framework.next_start_node_index = old.next_start_node_index;
        framework.redact = old.redact;
        self.sim.cluster = cluster;
        self.sim.framework = framework;
    }

    fn update_node(&mut self, now: Timestamp, nodes: Vec<Node>, id: NodeId, events: &mut Vec<Event>) {
        self.rebuild(nodes);
        self.process_node(now, id, events);
        self.move_pods(now, ClusterEvent::NodeUpdate(id));
    }

    /// The taint manager's pass over every pod on a node after its taints
    /// changed.
    fn process_node(&mut self, now: Timestamp, node: NodeId, events: &mut Vec<Event>) {
        let pods = self.sim.cluster.states[node].pods.clone();
        for pod_id in pods {
            self.process_pod_on_node(now, pod_id, node, events);
        }
    }

    /// `processPodOnNode`: evict now, schedule an eviction at the smallest
    /// `tolerationSeconds`, or cancel a scheduled one.
    fn process_pod_on_node(&mut self, now: Timestamp, pod_id: PodId, node: NodeId, events: &mut Vec<Event>) {
        let taints: Vec<Taint> =
            self.sim.cluster.nodes[node].taints.iter().filter(|t| t.effect == Effect::NoExecute).cloned().collect();
        if taints.is_empty() {
            self.cancel_eviction(now, pod_id, events);
            return;
        }
        let tolerations = &self.sim.cluster.pods[pod_id].tolerations;
        let used: Option<Vec<&Toleration>> =
            taints.iter().map(|taint| tolerations.iter().find(|t| t.tolerates(taint))).collect();
        let Some(used) = used else {
            self.cancel_eviction(now, pod_id, events);
            self.taint_evict(now, pod_id, events);
            return;
        };
        let Some(seconds) = min_toleration_seconds(&used) else {
            self.cancel_eviction(now, pod_id, events);
            return;
        };
        let wait = Duration::from_secs(seconds);
        let mut start = now;
        if let Some(existing) = self.evictions.get(&pod_id).copied() {
            start = existing.created;
            if start + wait < now + wait {
                return;
            }
            self.cancel_eviction(now, pod_id, events);
        }
        if seconds == 0 {
            self.taint_evict(now, pod_id, events);
            return;
        }
        self.evictions.insert(pod_id, ScheduledEviction { created: start, fire: now + wait });
    }

    fn cancel_eviction(&mut self, now: Timestamp, pod_id: PodId, events: &mut Vec<Event>) {
        if self.evictions.remove(&pod_id).is_some() {
            let pod = &self.sim.cluster.pods[pod_id];
            events.push(api(
                now,
                ObjectRef::pod(pod),
                EventType::Normal,
                "TaintManagerEviction",
                TAINT_CONTROLLER,
                format!("Cancelling deletion of Pod {}", pod.key()),
            ));
        }
    }

    fn taint_evict(&mut self, now: Timestamp, pod_id: PodId, events: &mut Vec<Event>) {
        let pod = &self.sim.cluster.pods[pod_id];
        events.push(api(
            now,
            ObjectRef::pod(pod),
            EventType::Normal,
            "TaintManagerEviction",
            TAINT_CONTROLLER,
            format!("Marking for deletion Pod {}", pod.key()),
        ));
        self.delete(now, pod_id, events);
    }

    /// Adds a pod: bound at once to `node`, or queued.
    fn insert_pod(
        &mut self,
        now: Timestamp,
        pod: Pod,
        owner: Option<usize>,
        containers: Vec<String>,
        node: Option<NodeId>,
        events: &mut Vec<Event>,
    ) -> PodId {
        let gated = self.sim.framework.profile.scheduling_gates && !pod.scheduling_gates.is_empty();
        let pod_id = self.sim.cluster.add_pod(pod);
        let uid = self.next_uid(pod_id);
        self.pods.push(PodRecord {
            uid,
            created: now,
            phase: PodPhase::Pending,
            node: None,
            started: None,
            owner,
            containers,
            daemonset: false,
            mirror: false,
            nominated: None,
            message: None,
        });
        match node {
            Some(node) => self.bound(now, pod_id, node, events, false),
            None => self.enqueue(pod_id, now, gated),
        }
        pod_id
    }

    fn enqueue(&mut self, pod_id: PodId, now: Timestamp, gated: bool) {
        if gated {
            self.pods[pod_id].message = Some(GATED_MESSAGE.to_string());
        }
        self.queue.insert(
            pod_id,
            QueuedPod {
                state: if gated { QueueState::Gated } else { QueueState::Active },
                unschedulable_count: 0,
                timestamp: now,
                backoff_until: now,
                rejectors: Vec::new(),
            },
        );
    }

    /// Records a binding (the cluster already has it unless `bind`).
    fn bound(&mut self, now: Timestamp, pod_id: PodId, node: NodeId, events: &mut Vec<Event>, scheduled: bool) {
        if self.sim.cluster.pod_node[pod_id].is_none() {
            self.sim.cluster.bind(pod_id, node);
        }
        self.queue.remove(&pod_id);
        let node_name = self.sim.cluster.nodes[node].name.clone();
        let record = &mut self.pods[pod_id];
        record.phase = PodPhase::Running;
        record.node = Some(node_name.clone());
        record.started = Some(now);
        record.nominated = None;
        record.message = None;
        if scheduled {
            let pod = &self.sim.cluster.pods[pod_id];
            events.push(api(
                now,
                ObjectRef::pod(pod),
                EventType::Normal,
                "Scheduled",
                SCHEDULER,
                format!("Successfully assigned {} to {}", pod.key(), node_name),
            ));
            self.placements.push(Placement {
                namespace: pod.namespace.clone(),
                name: pod.name.clone(),
                node: node_name,
            });
        }
        self.process_pod_on_node(now, pod_id, node, events);
        if self.pods[pod_id].phase == PodPhase::Running {
            self.move_pods(now, ClusterEvent::AssignedPodAdd);
        }
    }

    /// Deletes a pod: frees its node, stops its containers, lets its
    /// ReplicaSet replace it.
    fn delete(&mut self, now: Timestamp, pod_id: PodId, events: &mut Vec<Event>) {
        self.delete_pod_record(now, pod_id, events, true);
    }

    /// Deletes a pod; `replace` lets its ReplicaSet react (not when the
    /// ReplicaSet itself deletes it).
    fn delete_pod_record(&mut self, now: Timestamp, pod_id: PodId, events: &mut Vec<Event>, replace: bool) {
        let was_bound = self.sim.cluster.pod_node[pod_id].is_some();
        if self.pods[pod_id].phase == PodPhase::Deleted {
            return;
        }
        let was_running = self.pods[pod_id].phase == PodPhase::Running && !self.orphans.contains_key(&pod_id);
        self.pods[pod_id].phase = PodPhase::Deleted;
        self.queue.remove(&pod_id);
        self.evictions.remove(&pod_id);
        self.orphans.remove(&pod_id);
        for drain in &mut self.drains {
            drain.waiting.retain(|(p, _)| *p != pod_id);
        }
        self.sim.cluster.unbind(pod_id);
        if was_running {
            let pod = &self.sim.cluster.pods[pod_id];
            for container in &self.pods[pod_id].containers {
                events.push(api(
                    now,
                    ObjectRef::pod(pod),
                    EventType::Normal,
                    "Killing",
                    KUBELET,
                    format!("Stopping container {container}"),
                ));
            }
        }
        if was_bound {
            self.move_pods(now, ClusterEvent::AssignedPodDelete);
        }
        if let Some(owner) = self.pods[pod_id].owner.filter(|o| replace && !self.deployments[*o].deleted) {
            self.reconcile(now, owner, events);
        }
    }

    fn scale_index(&mut self, now: Timestamp, index: usize, replicas: i32) -> Vec<Event> {
        let mut events = Vec::new();
        let record = &mut self.deployments[index];
        let old = record.replicas;
        record.replicas = replicas;
        if record.kind == "Deployment" && old != replicas {
            let direction = if replicas > old { "up" } else { "down" };
            events.push(api(
                now,
                ObjectRef { kind: "Deployment", namespace: record.namespace.clone(), name: record.name.clone() },
                EventType::Normal,
                "ScalingReplicaSet",
                DEPLOYMENT_CONTROLLER,
                format!("Scaled {direction} replica set {} from {old} to {replicas}", record.rs_name),
            ));
        }
        self.reconcile(now, index, &mut events);
        events
    }

    /// The ReplicaSet controller: create or delete pods until the count
    /// matches. Deletion order is `getPodsToDelete`'s.
    fn reconcile(&mut self, now: Timestamp, index: usize, events: &mut Vec<Event>) {
        let active: Vec<PodId> = (0..self.pods.len())
            .filter(|p| self.pods[*p].owner == Some(index) && self.pods[*p].phase != PodPhase::Deleted)
            .collect();
        let want = self.deployments[index].replicas.max(0) as usize;
        let rs_ref = ObjectRef {
            kind: "ReplicaSet",
            namespace: self.deployments[index].namespace.clone(),
            name: self.deployments[index].rs_name.clone(),
        };
        if active.len() < want {
            for _ in active.len()..want {
                let name = self.generate_name(index);
                let record = &self.deployments[index];
                let mut pod = record.template.clone();
                pod.name = name.clone();
                pod.node_name = None;
                let containers = record.containers.clone();
                events.push(api(
                    now,
                    rs_ref.clone(),
                    EventType::Normal,
                    "SuccessfulCreate",
                    RS_CONTROLLER,
                    format!("Created pod: {name}"),
                ));
                self.insert_pod(now, pod, Some(index), containers, None, events);
            }
        } else if active.len() > want {
            let victims = self.pods_to_delete(now, &active, active.len() - want);
            for pod_id in victims {
                let name = self.sim.cluster.pods[pod_id].name.clone();
                events.push(api(
                    now,
                    rs_ref.clone(),
                    EventType::Normal,
                    "SuccessfulDelete",
                    RS_CONTROLLER,
                    format!("Deleted pod: {name}"),
                ));
                self.delete_pod_record(now, pod_id, events, false);
            }
        }
    }

    /// `getPodsToDelete` with `ActivePodsWithRanks` and
    /// LogarithmicScaleDown: unassigned pods first, then pending before
    /// running, not ready before ready, more replicas on the same node
    /// first, then ready for less time, then newer (both in log2 buckets of
    /// their age), then by UID.
    fn pods_to_delete(&self, now: Timestamp, active: &[PodId], count: usize) -> Vec<PodId> {
        let mut per_node: BTreeMap<&str, usize> = BTreeMap::new();
        for p in active {
            if let Some(node) = self.pods[*p].node.as_deref() {
                *per_node.entry(node).or_default() += 1;
            }
        }
        let rank = |p: PodId| self.pods[p].node.as_deref().map_or(0, |n| per_node.get(n).copied().unwrap_or(0));
        let bucket = |t: Option<Timestamp>| t.map(|t| log2_bucket(now.saturating_duration_since(t)));
        let mut sorted = active.to_vec();
        sorted.sort_by(|&a, &b| {
            let (ra, rb) = (&self.pods[a], &self.pods[b]);
            let assigned = |r: &PodRecord| r.node.is_some();
            let running = |r: &PodRecord| r.phase == PodPhase::Running;
            assigned(ra)
                .cmp(&assigned(rb))
                .then(running(ra).cmp(&running(rb)))
                .then(rank(b).cmp(&rank(a)))
                .then(bucket(ra.started).cmp(&bucket(rb.started)))
                .then(bucket(Some(ra.created)).cmp(&bucket(Some(rb.created))))
                .then(ra.uid.cmp(&rb.uid))
        });
        sorted.truncate(count);
        sorted
    }

    /// `NAME-xxxxx` with the controllers' alphabet, never used before in the
    /// namespace.
    fn generate_name(&mut self, index: usize) -> String {
        loop {
            let record = &mut self.deployments[index];
            record.generated += 1;
            let seed = format!("{}/{}/{}", record.namespace, record.rs_name, record.generated);
            let name = format!("{}-{}", record.rs_name, suffix(fnv(&seed, 0xcbf2_9ce4_8422_2325)));
            let namespace = &record.namespace;
            if !self.sim.cluster.pods.iter().any(|p| &p.namespace == namespace && p.name == name) {
                return name;
            }
        }
    }

    /// The best pod in the active queue: higher priority, then earlier
    /// timestamp, then created first.
    fn pop_active(&mut self) -> Option<PodId> {
        let best = self
            .queue
            .iter()
            .filter(|(_, q)| q.state == QueueState::Active)
            .min_by(|(a, qa), (b, qb)| {
                let (pa, pb) = (self.sim.cluster.pods[**a].priority, self.sim.cluster.pods[**b].priority);
                pb.cmp(&pa).then(qa.timestamp.cmp(&qb.timestamp)).then(a.cmp(b))
            })
            .map(|(id, _)| *id)?;
        Some(best)
    }

    fn schedule_one(&mut self, now: Timestamp, pod_id: PodId, events: &mut Vec<Event>) {
        let nominated =
            self.pods[pod_id].nominated.as_ref().and_then(|n| self.sim.cluster.node_by_name.get(n)).copied();
        // Pods of equal or higher priority nominated to a node count on it
        // only while this pod is filtered, in two passes
        // (RunFilterPluginsWithNominatedPods); scores never see them.
        let priority = self.sim.cluster.pods[pod_id].priority;
        let nominees: Vec<(PodId, NodeId)> = (0..self.pods.len())
            .filter(|p| *p != pod_id && self.pods[*p].phase == PodPhase::Pending)
            .filter(|p| self.sim.cluster.pods[*p].priority >= priority)
            .filter_map(|p| {
                let node = self.pods[p].nominated.as_ref()?;
                self.sim.cluster.node_by_name.get(node).map(|n| (p, *n))
            })
            .collect();
        self.sim.framework.nominees = nominees;
        let outcome = self.sim.cycle(pod_id, nominated);
        self.sim.framework.nominees.clear();
        match outcome {
            CycleOutcome::Bound(node) => self.bound(now, pod_id, node, events, true),
            CycleOutcome::Failed { message, rejectors } => self.failed(now, pod_id, message, rejectors, events),
            CycleOutcome::Preempted { node, victims, message, rejectors } => {
                let node_name = self.sim.cluster.nodes[node].name.clone();
                self.failed(now, pod_id, message, rejectors, events);
                self.pods[pod_id].nominated = Some(node_name.clone());
                let preemptor = &self.sim.cluster.pods[pod_id];
                self.preemptions.push(PreemptionRecord {
                    preemptor: (preemptor.namespace.clone(), preemptor.name.clone()),
                    node: node_name.clone(),
                    victims: victims
                        .iter()
                        .map(|v| (self.sim.cluster.pods[*v].namespace.clone(), self.sim.cluster.pods[*v].name.clone()))
                        .collect(),
                });
                let uid = self.pods[pod_id].uid.clone();
                for victim in victims {
                    let pod = &self.sim.cluster.pods[victim];
                    events.push(api(
                        now,
                        ObjectRef::pod(pod),
                        EventType::Normal,
                        "Preempted",
                        SCHEDULER,
                        format!("Preempted by pod {uid} on node {node_name}"),
                    ));
                    // The preemption removed the victim from the cluster
                    // already; count it as bound until deleted.
                    self.delete(now, victim, events);
                    self.move_pods(now, ClusterEvent::AssignedPodDelete);
                }
            }
        }
    }

    fn failed(
        &mut self,
        now: Timestamp,
        pod_id: PodId,
        message: String,
        rejectors: Vec<Plugin>,
        events: &mut Vec<Event>,
    ) {
        let pod = &self.sim.cluster.pods[pod_id];
        events.push(api(
            now,
            ObjectRef::pod(pod),
            EventType::Warning,
            "FailedScheduling",
            SCHEDULER,
            truncate_event_message(&message),
        ));
        self.pods[pod_id].message = Some(message);
        if let Some(q) = self.queue.get_mut(&pod_id) {
            q.unschedulable_count += 1;
            q.timestamp = now;
            q.backoff_until = now + backoff(q.unschedulable_count);
            q.state = QueueState::Unschedulable;
            q.rejectors = rejectors;
        }
    }

    /// Moves unschedulable pods an event can help to the backoff queue (or
    /// the active queue when their backoff is over).
    fn move_pods(&mut self, now: Timestamp, event: ClusterEvent) {
        let candidates: Vec<PodId> =
            self.queue.iter().filter(|(_, q)| q.state == QueueState::Unschedulable).map(|(id, _)| *id).collect();
        for pod_id in candidates {
            let helps = {
                let q = &self.queue[&pod_id];
                q.rejectors.is_empty() || q.rejectors.iter().any(|p| self.helps(*p, event, pod_id))
            };
            if helps {
                self.requeue(now, pod_id);
            }
        }
    }

    fn requeue(&mut self, now: Timestamp, pod_id: PodId) {
        if let Some(q) = self.queue.get_mut(&pod_id) {
            q.state = if q.backoff_until > now { QueueState::Backoff } else { QueueState::Active };
        }
    }

    /// The events each plugin registers for, with the queueing hints of
    /// NodeUnschedulable and TaintToleration.
    fn helps(&self, plugin: Plugin, event: ClusterEvent, pod_id: PodId) -> bool {
        match event {
            ClusterEvent::NodeAdd => true,
            ClusterEvent::NodeUpdate(node) => {
                let node = &self.sim.cluster.nodes[node];
                let pod = &self.sim.cluster.pods[pod_id];
                let tolerates_all = node
                    .taints
                    .iter()
                    .filter(|t| matches!(t.effect, Effect::NoSchedule | Effect::NoExecute))
                    .all(|t| pod.tolerations.iter().any(|tol| tol.tolerates(t)));
                match plugin {
                    Plugin::NodeUnschedulable => {
                        !node.unschedulable
                            || pod.tolerations.iter().any(|tol| {
                                tol.tolerates(&Taint {
                                    key: UNSCHEDULABLE_TAINT.into(),
                                    value: String::new(),
                                    effect: Effect::NoSchedule,
                                })
                            })
                    }
                    Plugin::TaintToleration => tolerates_all,
                    Plugin::PodTopologySpread => true,
                    _ => false,
                }
            }
            ClusterEvent::NodeDelete => plugin == Plugin::PodTopologySpread,
            ClusterEvent::AssignedPodAdd => matches!(plugin, Plugin::InterPodAffinity | Plugin::PodTopologySpread),
            ClusterEvent::AssignedPodDelete => matches!(
                plugin,
                Plugin::NodeResourcesFit | Plugin::NodePorts | Plugin::InterPodAffinity | Plugin::PodTopologySpread
            ),
        }
    }

    /// The first 30 s flush tick at which a pod that became unschedulable
    /// at `since` has waited more than 5 minutes.
    fn flush_due(&self, since: Timestamp) -> Timestamp {
        let period = FLUSH_PERIOD.as_nanos() as u64;
        let base = (since + MAX_IN_UNSCHEDULABLE).saturating_duration_since(self.start).as_nanos() as u64;
        let ticks = base / period + 1;
        self.start + Duration::from_nanos(ticks.saturating_mul(period))
    }

    /// Fires everything due at exactly `t`.
    fn fire(&mut self, t: Timestamp, events: &mut Vec<Event>) {
        let due: Vec<PodId> = self.evictions.iter().filter(|(_, e)| e.fire <= t).map(|(p, _)| *p).collect();
        for pod_id in due {
            self.evictions.remove(&pod_id);
            self.taint_evict(t, pod_id, events);
        }
        let orphans: Vec<PodId> = self.orphans.iter().filter(|(_, at)| **at <= t).map(|(p, _)| *p).collect();
        for pod_id in orphans {
            self.delete(t, pod_id, events);
        }
        let mut flushed = Vec::new();
        for (id, q) in &self.queue {
            if q.state == QueueState::Unschedulable && self.flush_due(q.timestamp) <= t {
                flushed.push(*id);
            }
        }
        for pod_id in flushed {
            self.requeue(t, pod_id);
        }
        for q in self.queue.values_mut() {
            if q.state == QueueState::Backoff && q.backoff_until <= t {
                q.state = QueueState::Active;
            }
        }
        self.run_drains(t, events);
    }

    /// Tries the drain evictions due at `now`.
    fn run_drains(&mut self, now: Timestamp, events: &mut Vec<Event>) {
        let mut index = 0;
        while index < self.drains.len() {
            let node = self.drains[index].node.clone();
            let due: Vec<PodId> =
                self.drains[index].waiting.iter().filter(|(_, t)| *t <= now).map(|(p, _)| *p).collect();
            for pod_id in due {
                let pod = &self.sim.cluster.pods[pod_id];
                let pod_ref = ObjectRef::pod(pod);
                let (namespace, name) = (pod.namespace.clone(), pod.name.clone());
                events.push(client(
                    now,
                    pod_ref.clone(),
                    EventType::Normal,
                    "Evicting",
                    format!("evicting pod {namespace}/{name}"),
                ));
                match self.evict(pod_id) {
                    Ok(()) => {
                        self.delete(now, pod_id, events);
                        events.push(client(now, pod_ref, EventType::Normal, "Evicted", format!("pod/{name} evicted")));
                    }
                    Err(message) => {
                        let retry = message == PDB_REFUSAL;
                        let suffix = if retry { " (will retry after 5s)" } else { "" };
                        events.push(client(
                            now,
                            pod_ref,
                            EventType::Warning,
                            "EvictionRefused",
                            format!("error when evicting pods/\"{name}\" -n \"{namespace}\"{suffix}: {message}"),
                        ));
                        if let Some(drain) = self.drains.get_mut(index) {
                            if retry {
                                for entry in drain.waiting.iter_mut().filter(|(p, _)| *p == pod_id) {
                                    entry.1 = now + DRAIN_RETRY;
                                }
                            } else {
                                drain.waiting.retain(|(p, _)| *p != pod_id);
                            }
                        }
                    }
                }
            }
            if self.drains[index].waiting.is_empty() {
                self.drains.remove(index);
                events.push(client(
                    now,
                    ObjectRef::node(&node),
                    EventType::Normal,
                    "Drained",
                    format!("node/{node} drained"),
                ));
            } else {
                index += 1;
            }
        }
    }

    /// The eviction API's check: at most one budget, with a disruption
    /// allowed.
    fn evict(&self, pod_id: PodId) -> Result<(), String> {
        let pod = &self.sim.cluster.pods[pod_id];
        let budgets: Vec<&DisruptionBudget> = self
            .sim
            .budgets
            .iter()
            .filter(|b| b.namespace == pod.namespace && !b.selector.is_empty() && b.selector.matches(&pod.labels))
            .collect();
        match budgets.as_slice() {
            [] => Ok(()),
            [budget] => {
                if self.allowed(budget) > 0 {
                    Ok(())
                } else {
                    Err(PDB_REFUSAL.to_string())
                }
            }
            _ => Err(PDB_MULTIPLE.to_string()),
        }
    }

    /// The disruption controller's `disruptionsAllowed`: healthy (bound)
    /// pods minus the desired healthy count. `maxUnavailable` and a
    /// percentage `minAvailable` count against the controllers' replicas;
    /// a pod without a known controller then allows nothing.
    fn allowed(&self, budget: &DisruptionBudget) -> i64 {
        let selected: Vec<PodId> = (0..self.pods.len())
            .filter(|p| {
                let pod = &self.sim.cluster.pods[*p];
                self.pods[*p].phase != PodPhase::Deleted
                    && pod.namespace == budget.namespace
                    && !budget.selector.is_empty()
                    && budget.selector.matches(&pod.labels)
            })
            .collect();
        let healthy = selected.iter().filter(|p| self.sim.cluster.pod_node[**p].is_some()).count() as i64;
        let expected_from_controllers = || -> Option<i64> {
            let mut owners: Vec<usize> = Vec::new();
            for p in &selected {
                owners.push(self.pods[*p].owner?);
            }
            owners.sort_unstable();
            owners.dedup();
            Some(owners.iter().map(|o| i64::from(self.deployments[*o].replicas)).sum())
        };
        let scaled = |v: &IntOrString, total: i64| -> Option<i64> {
            match v {
                IntOrString::Int(i) => Some(i64::from(*i)),
                IntOrString::String(s) => {
                    let pct: i64 = s.strip_suffix('%')?.parse().ok()?;
                    Some((pct * total + 99) / 100)
                }
            }
        };
        let desired = match (&budget.min_available, &budget.max_unavailable) {
            (Some(IntOrString::Int(min)), _) => Some(i64::from(*min)),
            (Some(min), _) => expected_from_controllers().and_then(|e| scaled(min, e)),
            (None, Some(max)) => expected_from_controllers().and_then(|e| Some(e - scaled(max, e)?)),
            (None, None) => None,
        };
        match desired {
            Some(desired) => (healthy - desired).max(0),
            None => 0,
        }
    }
}

fn api(time: Timestamp, object: ObjectRef, event_type: EventType, reason: &str, from: &str, message: String) -> Event {
    Event {
        time,
        kind: EventKind::Api,
        object,
        event_type,
        reason: reason.to_string(),
        from: from.to_string(),
        message,
    }
}

fn client(time: Timestamp, object: ObjectRef, event_type: EventType, reason: &str, message: String) -> Event {
    Event {
        time,
        kind: EventKind::Client,
        object,
        event_type,
        reason: reason.to_string(),
        from: KUBECTL.to_string(),
        message,
    }
}

/// `calculateBackoffDuration`: 1 s doubled per further unschedulable
/// attempt, at most 10 s.
pub fn backoff(unschedulable_count: u32) -> Duration {
    let mut d = INITIAL_BACKOFF;
    for _ in 1..unschedulable_count {
        d *= 2;
        if d >= MAX_BACKOFF {
            return MAX_BACKOFF;
        }
    }
    d
}

/// `getMinTolerationTime`: the smallest `tolerationSeconds` (negative
/// counts as 0), or `None` when every toleration lasts forever.
fn min_toleration_seconds(used: &[&Toleration]) -> Option<u64> {
    if used.is_empty() {
        return Some(0);
    }
    used.iter().filter_map(|t| t.toleration_seconds).map(|s| s.max(0) as u64).min()
}

/// `logarithmicRankDiff`'s rank of an age: floor(log2(nanoseconds)), or
/// -1 for no age.
fn log2_bucket(age: Duration) -> i64 {
    let nanos = u64::try_from(age.as_nanos()).unwrap_or(u64::MAX);
    if nanos == 0 { -1 } else { 63 - i64::from(nanos.leading_zeros()) }
}

fn effect_name(e: Effect) -> &'static str {
    match e {
        Effect::NoSchedule => "NoSchedule",
        Effect::PreferNoSchedule => "PreferNoSchedule",
        Effect::NoExecute => "NoExecute",
    }
}

fn kind_of(doc: &Document) -> &str {
    doc.value.get("kind").and_then(Value::as_str).unwrap_or("")
}

fn is_context(doc: &Document) -> bool {
    matches!(kind_of(doc), "PriorityClass" | "Namespace")
}

fn meta_name(value: &Value) -> (String, String) {
    let namespace = value.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("default");
    let name = value.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
    (namespace.to_string(), name.to_string())
}

fn container_names(value: &Value, spec: &str) -> Vec<String> {
    value
        .pointer(&format!("{spec}/containers"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("name").and_then(Value::as_str).map(str::to_string))
        .collect()
}

fn controlled_by_kind(value: &Value, kind: &str) -> bool {
    value.pointer("/metadata/ownerReferences").and_then(Value::as_array).into_iter().flatten().any(|o| {
        o.get("kind").and_then(Value::as_str) == Some(kind)
            && o.get("controller").and_then(Value::as_bool) == Some(true)
    })
}

fn is_mirror(value: &Value) -> bool {
    value.pointer("/metadata/annotations/kubernetes.io~1config.mirror").is_some()
}

fn fnv(text: &str, basis: u64) -> u64 {
    let mut hash = basis;
    for b in text.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// Five characters of the alphabet controllers use for generated names.
fn suffix(mut value: u64) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut out = String::with_capacity(5);
    for _ in 0..5 {
        out.push(char::from(ALPHABET[(value % ALPHABET.len() as u64) as usize]));
        value /= ALPHABET.len() as u64;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::parse_documents;

    fn at(secs: u64) -> Timestamp {
        Timestamp::UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn timeline(text: &str) -> Timeline {
        let docs = parse_documents("t.yaml", text).expect("yaml");
        Timeline::from_documents(&docs, Profile::default(), 0, at(0)).expect("cluster")
    }

    const TWO_NODES: &str = "\
kind: Node
apiVersion: v1
metadata: {name: n1}
status: {allocatable: {cpu: '2', memory: 8Gi, pods: '110'}}
---
kind: Node
apiVersion: v1
metadata: {name: n2}
status: {allocatable: {cpu: '2', memory: 8Gi, pods: '110'}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 4
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx, resources: {requests: {cpu: '1'}}}]}
";

    #[test]
    fn backoff_doubles_up_to_ten_seconds() {
        let secs: Vec<u64> = (1..=6).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(secs, vec![1, 2, 4, 8, 10, 10]);
    }

    #[test]
    fn an_idle_cluster_has_nothing_due() {
        let mut t = timeline(TWO_NODES);
        let events = t.schedule_pending(at(0));
        assert_eq!(events.iter().filter(|e| e.reason == "Scheduled").count(), 4);
        assert_eq!(t.next_wakeup(), None);
        assert!(t.advance(at(3600)).is_empty());
    }

    #[test]
    fn budgets_count_against_deployment_replicas() {
        let mut t = timeline(&format!(
            "{TWO_NODES}---\napiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {{name: pct}}\n\
             spec: {{maxUnavailable: '25%', selector: {{matchLabels: {{app: web}}}}}}\n"
        ));
        t.schedule_pending(at(0));
        // 4 replicas, 25% may be unavailable (rounded up): one disruption.
        assert_eq!(t.disruptions_allowed("default", "pct"), Some(1));
        let doomed = t.pods().into_iter().find(|p| p.node.as_deref() == Some("n1")).expect("a pod on n1");
        t.cordon(at(1), "n1").expect("cordon");
        t.cordon(at(1), "n2").expect("cordon");
        t.delete_pod(at(1), "default", &doomed.name).expect("delete");
        t.schedule_pending(at(1));
        // The replacement cannot be placed: 3 healthy of 4 wanted.
        assert_eq!(t.disruptions_allowed("default", "pct"), Some(0));
        assert_eq!(t.pods().iter().filter(|p| p.phase == PodPhase::Pending).count(), 1);
    }

    #[test]
    fn unknown_objects_are_errors_not_panics() {
        let mut t = timeline(TWO_NODES);
        assert_eq!(t.cordon(at(0), "n9").expect_err("no node").to_string(), "nodes \"n9\" not found");
        assert_eq!(
            t.scale(at(0), "default", "api", 2).expect_err("no deployment").to_string(),
            "deployments.apps \"api\" not found in namespace default"
        );
        assert_eq!(t.untaint(at(0), "n1", "k", None).expect_err("no taint").to_string(), "taint \"k\" not found");
        let node = t.simulation().cluster.nodes[0].clone();
        assert!(matches!(t.add_node(at(0), node), Err(TimelineError::AlreadyExists { .. })));
    }

    #[test]
    fn kinds_only_the_loader_reads_are_refused_by_apply() {
        let mut t = timeline(TWO_NODES);
        let docs = parse_documents(
            "s.yaml",
            "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {selector: {app: web}}\n",
        )
        .expect("yaml");
        assert_eq!(
            t.apply(at(0), &docs).expect_err("refused").to_string(),
            "s.yaml, document 1: kind: Service is read by `cloudlet sched simulate -f`, not applied by a scenario step"
        );
    }
}
