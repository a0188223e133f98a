//! The daemon's simulated live cluster: Kubernetes objects as the API server
//! keeps them (nodes, pods, deployments, PodDisruptionBudgets, priority
//! classes, namespaces, events), and the controllers that act on them in one
//! process: the scheduler (the same cycle as `cloudlet sched simulate`), a
//! ReplicaSet-style controller for deployments, the taint eviction
//! controller for `NoExecute` taints, the disruption controller's budget
//! status, and the Eviction API's budget check.
//!
//! Nodes are declared, not run: a bound pod is marked `Running` with an IP
//! and ready conditions, but no container runs anywhere.
//!
//! Every method is pure over explicit inputs: the caller passes the time
//! (`now_ms`, Unix milliseconds) and takes the resulting [`KubeWrite`]s to
//! make durable before it answers. Nothing here does I/O or reads a clock;
//! the [`KubeStore`] trait is what the store crate implements.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::config::Profile;
use crate::labels::{Effect, Taint, Toleration};
use crate::load::{self, Document, LoadError, Manifests, Origin};
use crate::simulate::{GATED_MESSAGE, Simulation};

/// The kinds the live cluster keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Namespace,
    PriorityClass,
    Node,
    PodDisruptionBudget,
    Deployment,
    Pod,
    Event,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::Namespace,
        Kind::PriorityClass,
        Kind::Node,
        Kind::PodDisruptionBudget,
        Kind::Deployment,
        Kind::Pod,
        Kind::Event,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Namespace => "Namespace",
            Kind::PriorityClass => "PriorityClass",
            Kind::Node => "Node",
            Kind::PodDisruptionBudget => "PodDisruptionBudget",
            Kind::Deployment => "Deployment",
            Kind::Pod => "Pod",
            Kind::Event => "Event",
        }
    }

    pub fn parse(kind: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == kind)
    }

    /// The resource name in URLs and in kubectl's messages (`pods "x" not found`).
    pub fn plural(self) -> &'static str {
        match self {
            Kind::Namespace => "namespaces",
            Kind::PriorityClass => "priorityclasses",
            Kind::Node => "nodes",
            Kind::PodDisruptionBudget => "poddisruptionbudgets",
            Kind::Deployment => "deployments",
            Kind::Pod => "pods",
            Kind::Event => "events",
        }
    }

    pub fn from_plural(plural: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.plural() == plural)
    }

    /// The API group (empty for the core group).
    pub fn group(self) -> &'static str {
        match self {
            Kind::PriorityClass => "scheduling.k8s.io",
            Kind::PodDisruptionBudget => "policy",
            Kind::Deployment => "apps",
            _ => "",
        }
    }

    pub fn api_version(self) -> &'static str {
        match self {
            Kind::PriorityClass => "scheduling.k8s.io/v1",
            Kind::PodDisruptionBudget => "policy/v1",
            Kind::Deployment => "apps/v1",
            _ => "v1",
        }
    }

    /// `pods` or `deployments.apps`: how the API server names a resource in
    /// error messages.
    pub fn qualified(self) -> String {
        match self.group() {
            "" => self.plural().to_string(),
            group => format!("{}.{group}", self.plural()),
        }
    }

    pub fn namespaced(self) -> bool {
        !matches!(self, Kind::Namespace | Kind::PriorityClass | Kind::Node)
    }
}

/// One stored object. `seq` orders creation (the scheduling queue's order
/// among equal priorities) and survives updates.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredObject {
    pub kind: Kind,
    /// Empty for cluster-scoped kinds.
    pub namespace: String,
    pub name: String,
    pub seq: u64,
    pub body: Value,
}

/// A change to make durable.
#[derive(Debug, Clone, PartialEq)]
pub enum KubeWrite {
    Put(StoredObject),
    Delete { kind: Kind, namespace: String, name: String },
}

/// A store failure, with the operation that failed.
#[derive(Debug, thiserror::Error)]
#[error("kube store: {operation} failed")]
pub struct KubeStoreError {
    pub operation: &'static str,
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

/// What the live cluster needs from the store.
pub trait KubeStore: Send + Sync + std::fmt::Debug {
    /// Every object, in `seq` order.
    fn load_kube(&self) -> Result<Vec<StoredObject>, KubeStoreError>;
    /// Applies the writes in one transaction; `Ok` means on disk.
    fn commit_kube(&self, writes: &[KubeWrite]) -> Result<(), KubeStoreError>;
}

/// An API error: Kubernetes' `Status` reason, HTTP code and message.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub code: u16,
    /// `NotFound`, `AlreadyExists`, `Invalid`, `TooManyRequests`, ...
    pub reason: &'static str,
    pub message: String,
    pub kind: Kind,
    pub name: String,
    /// `details.causes`.
    pub causes: Vec<(String, String)>,
}

impl ApiError {
    pub fn not_found(kind: Kind, name: &str) -> ApiError {
        ApiError::new(404, "NotFound", kind, name, format!("{} \"{name}\" not found", kind.qualified()))
    }

    pub fn already_exists(kind: Kind, name: &str) -> ApiError {
        ApiError::new(409, "AlreadyExists", kind, name, format!("{} \"{name}\" already exists", kind.qualified()))
    }

    pub fn invalid(kind: Kind, name: &str, field: &str, detail: &str) -> ApiError {
        let mut e = ApiError::new(
            422,
            "Invalid",
            kind,
            name,
            format!("{} \"{name}\" is invalid: {field}: {detail}", kind.as_str()),
        );
        e.causes.push((field.to_string(), detail.to_string()));
        e
    }

    pub fn bad_request(kind: Kind, name: &str, message: String) -> ApiError {
        ApiError::new(400, "BadRequest", kind, name, message)
    }

    fn new(code: u16, reason: &'static str, kind: Kind, name: &str, message: String) -> ApiError {
        ApiError { code, reason, message, kind, name: name.to_string(), causes: Vec::new() }
    }

    /// The `Status` object the API server answers with.
    pub fn status(&self) -> Value {
        let mut details = json!({ "name": self.name, "kind": self.kind.plural() });
        if !self.kind.group().is_empty() {
            details["group"] = Value::from(self.kind.group());
        }
        if !self.causes.is_empty() {
            details["causes"] = self
                .causes
                .iter()
                .map(|(field_or_reason, message)| {
                    if self.reason == "Invalid" {
                        json!({ "reason": "FieldValueInvalid", "message": message, "field": field_or_reason })
                    } else {
                        json!({ "reason": field_or_reason, "message": message })
                    }
                })
                .collect();
        }
        json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "details": details,
            "code": self.code,
        })
    }
}

/// The namespaces that exist without being created.
pub const BUILT_IN_NAMESPACES: [&str; 4] = ["default", "kube-node-lease", "kube-public", "kube-system"];

/// The scheduler's name, in events and `schedulerName`.
pub const SCHEDULER: &str = "default-scheduler";

/// `NoteLengthLimit`: event messages are cut to this many bytes.
const EVENT_MESSAGE_LIMIT: usize = 1024;

type Key = (Kind, String, String);

/// The live cluster.
#[derive(Debug)]
pub struct LiveCluster {
    objects: BTreeMap<Key, StoredObject>,
    /// The last resourceVersion and sequence number handed out.
    revision: u64,
    writes: BTreeMap<Key, Option<StoredObject>>,
    profile: Profile,
}

impl LiveCluster {
    /// The cluster as the store has it.
    pub fn new(objects: Vec<StoredObject>, profile: Profile) -> LiveCluster {
        let mut revision = 0;
        let mut map = BTreeMap::new();
        for object in objects {
            revision = revision.max(object.seq);
            let rv = object.body.pointer("/metadata/resourceVersion").and_then(Value::as_str);
            revision = revision.max(rv.and_then(|r| r.parse().ok()).unwrap_or(0));
            map.insert((object.kind, object.namespace.clone(), object.name.clone()), object);
        }
        LiveCluster { objects: map, revision, writes: BTreeMap::new(), profile }
    }

    /// The writes made since the last call, for the store.
    pub fn take_writes(&mut self) -> Vec<KubeWrite> {
        std::mem::take(&mut self.writes)
            .into_iter()
            .map(|((kind, namespace, name), object)| match object {
                Some(object) => KubeWrite::Put(object),
                None => KubeWrite::Delete { kind, namespace, name },
            })
            .collect()
    }

    /// One object.
    pub fn get(&self, kind: Kind, namespace: &str, name: &str) -> Result<&Value, ApiError> {
        self.objects
            .get(&(kind, scope(kind, namespace), name.to_string()))
            .map(|o| &o.body)
            .ok_or_else(|| ApiError::not_found(kind, name))
    }

    /// Objects of a kind, in one namespace or all, by namespace and name.
    pub fn list(&self, kind: Kind, namespace: Option<&str>) -> Vec<&Value> {
        self.objects
            .iter()
            .filter(|((k, ns, _), _)| *k == kind && namespace.is_none_or(|n| !kind.namespaced() || ns == n))
            .map(|(_, o)| &o.body)
            .collect()
    }

    /// The current resourceVersion, for lists.
    pub fn resource_version(&self) -> String {
        self.revision.to_string()
    }

    /// `POST`: creates an object; `namespace` is the URL's.
    pub fn create(&mut self, kind: Kind, namespace: &str, mut body: Value, now_ms: u64) -> Result<Value, ApiError> {
        let name = self.check_body(kind, namespace, &mut body)?;
        let ns = scope(kind, namespace);
        if self.objects.contains_key(&(kind, ns.clone(), name.clone())) {
            return Err(ApiError::already_exists(kind, &name));
        }
        if kind.namespaced() && !self.namespace_exists(&ns) {
            return Err(ApiError::not_found(Kind::Namespace, &ns));
        }
        self.validate(kind, &name, &body)?;
        let now = rfc3339(now_ms);
        let seq = self.next();
        let meta = meta_mut(&mut body);
        meta.insert("uid".into(), Value::from(uid(seq)));
        meta.insert("creationTimestamp".into(), Value::from(now.clone()));
        match kind {
            Kind::Deployment => {
                meta.insert("generation".into(), Value::from(1));
            }
            Kind::Pod => {
                body["status"] = json!({ "phase": "Pending", "qosClass": qos_class(&body) });
                if let Some(node) = body.pointer("/spec/nodeName").and_then(Value::as_str).map(str::to_string) {
                    self.mark_running(&mut body, &node, now_ms, seq);
                }
            }
            Kind::Node => {
                stamp_no_execute_taints(&mut body, None, &now);
                node_status(&mut body, &now);
            }
            _ => {}
        }
        self.put_at(kind, &ns, &name, seq, body);
        self.settle(now_ms);
        self.get(kind, &ns, &name).cloned()
    }

    /// `PUT`: replaces an object's desired state (status is the cluster's).
    pub fn replace(
        &mut self,
        kind: Kind,
        namespace: &str,
        name: &str,
        mut body: Value,
        now_ms: u64,
    ) -> Result<Value, ApiError> {
        let body_name = self.check_body(kind, namespace, &mut body)?;
        if body_name != name {
            return Err(ApiError::bad_request(
                kind,
                name,
                format!("the name of the object ({body_name}) does not match the name on the URL ({name})"),
            ));
        }
        let ns = scope(kind, namespace);
        let old = self.get(kind, &ns, name)?.clone();
        self.validate(kind, name, &body)?;
        if kind == Kind::Pod && pod_spec_without_mutable(&old) != pod_spec_without_mutable(&body) {
            return Err(ApiError::invalid(
                kind,
                name,
                "spec",
                "Forbidden: pod updates may not change fields other than `spec.containers[*].image`, \
                 `spec.initContainers[*].image`, `spec.activeDeadlineSeconds`, `spec.tolerations` (only \
                 additions to existing tolerations), `spec.terminationGracePeriodSeconds` (allow it to be set \
                 to 1 if it was previously negative)",
            ));
        }
        let now = rfc3339(now_ms);
        for field in ["uid", "creationTimestamp", "generation", "ownerReferences"] {
            if let Some(v) = old.pointer(&format!("/metadata/{field}")) {
                meta_mut(&mut body).insert(field.into(), v.clone());
            }
        }
        match kind {
            Kind::Pod => {
                body["spec"] = old["spec"].clone();
                body["status"] = old["status"].clone();
            }
            Kind::Deployment => {
                if old.get("spec") != body.get("spec") {
                    let generation = old.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(1) + 1;
                    meta_mut(&mut body).insert("generation".into(), Value::from(generation));
                }
                body["status"] = old.get("status").cloned().unwrap_or(Value::Null);
            }
            Kind::Node => {
                stamp_no_execute_taints(&mut body, Some(&old), &now);
                if body.get("status").is_none_or(Value::is_null) {
                    body["status"] = old["status"].clone();
                }
                node_status(&mut body, &now);
            }
            Kind::PodDisruptionBudget => {
                body["status"] = old.get("status").cloned().unwrap_or(Value::Null);
            }
            _ => {}
        }
        if let Some(map) = body.as_object_mut() {
            map.retain(|_, v| !v.is_null());
        }
        self.put(kind, &ns, name, body);
        self.settle(now_ms);
        self.get(kind, &ns, name).cloned()
    }

    /// `PATCH` with a JSON merge patch (RFC 7386), as `kubectl cordon`,
    /// `taint` and `scale` send for these objects.
    pub fn merge_patch(
        &mut self,
        kind: Kind,
        namespace: &str,
        name: &str,
        patch: &Value,
        now_ms: u64,
    ) -> Result<Value, ApiError> {
        let mut body = self.get(kind, namespace, name)?.clone();
        merge(&mut body, patch);
        if kind == Kind::Pod {
            // Only metadata of a pod changes through a patch here.
            let old = self.get(kind, namespace, name)?;
            body["spec"] = old["spec"].clone();
            body["status"] = old["status"].clone();
        }
        self.replace(kind, namespace, name, body, now_ms)
    }

    /// `DELETE`. Pods go at once (no containers to stop); a node's pods are
    /// removed with it (the pod garbage collector's job), a deployment's
    /// pods with the deployment.
    pub fn delete(&mut self, kind: Kind, namespace: &str, name: &str, now_ms: u64) -> Result<Value, ApiError> {
        let ns = scope(kind, namespace);
        let body = self.get(kind, &ns, name)?.clone();
        match kind {
            Kind::Node => {
                for (pod_ns, pod_name) in self.pods_on(name) {
                    self.remove(Kind::Pod, &pod_ns, &pod_name);
                }
            }
            Kind::Deployment => {
                for (pod_ns, pod_name, _) in self.owned_pods(&ns, name) {
                    self.remove(Kind::Pod, &pod_ns, &pod_name);
                }
            }
            Kind::Namespace => {
                if BUILT_IN_NAMESPACES.contains(&name) {
                    return Err(ApiError::new(
                        403,
                        "Forbidden",
                        kind,
                        name,
                        format!("namespaces \"{name}\" is forbidden: this namespace may not be deleted"),
                    ));
                }
                let inside: Vec<Key> =
                    self.objects.keys().filter(|(k, n, _)| k.namespaced() && n == name).cloned().collect();
                for (k, n, o) in inside {
                    self.remove(k, &n, &o);
                }
            }
            _ => {}
        }
        self.remove(kind, &ns, name);
        self.settle(now_ms);
        Ok(body)
    }

    /// The Eviction API: deletes the pod unless that would take a
    /// PodDisruptionBudget below what it needs (429 `TooManyRequests`).
    pub fn evict(&mut self, namespace: &str, name: &str, now_ms: u64) -> Result<(), ApiError> {
        let pod = self.get(Kind::Pod, namespace, name)?.clone();
        let labels = labels_of(&pod);
        let healthy_pod = pod.pointer("/spec/nodeName").is_some();
        let mut matching = Vec::new();
        for pdb in self.list(Kind::PodDisruptionBudget, Some(namespace)) {
            if selector_of(pdb).is_some_and(|s| s.matches(&labels)) {
                matching.push(pdb.clone());
            }
        }
        if matching.len() > 1 {
            return Err(ApiError::new(
                500,
                "InternalError",
                Kind::Pod,
                name,
                "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."
                    .into(),
            ));
        }
        if let Some(pdb) = matching.first()
            && healthy_pod
        {
            let budget = self.budget(pdb);
            if budget.allowed < 1 {
                let mut e = ApiError::new(
                    429,
                    "TooManyRequests",
                    Kind::Pod,
                    name,
                    "Cannot evict pod as it would violate the pod's disruption budget.".into(),
                );
                e.causes.push((
                    "DisruptionBudget".into(),
                    format!(
                        "The disruption budget {} needs {} healthy pods and has {} currently",
                        name_of(pdb),
                        budget.desired,
                        budget.healthy
                    ),
                ));
                return Err(e);
            }
        }
        self.remove(Kind::Pod, namespace, name);
        self.settle(now_ms);
        Ok(())
    }

    /// Lets time pass: evicts pods whose `tolerationSeconds` for a node's
    /// `NoExecute` taint ran out. Returns whether anything changed.
    ///
    /// Nothing else happens with time alone: pending pods are tried again
    /// when the cluster changes, not on every tick, so an idle cluster
    /// writes nothing.
    pub fn advance(&mut self, now_ms: u64) -> bool {
        let before = self.writes.len();
        self.evict_for_taints(now_ms);
        if self.writes.len() != before {
            self.settle(now_ms);
        }
        self.writes.len() != before
    }

    /// Nodes and the pods bound to them, for `kubectl describe node`.
    pub fn pods_on(&self, node: &str) -> Vec<(String, String)> {
        self.objects
            .iter()
            .filter(|((k, _, _), o)| {
                *k == Kind::Pod && o.body.pointer("/spec/nodeName").and_then(Value::as_str) == Some(node)
            })
            .map(|((_, ns, n), _)| (ns.clone(), n.clone()))
            .collect()
    }

    fn next(&mut self) -> u64 {
        self.revision += 1;
        self.revision
    }

    fn namespace_exists(&self, ns: &str) -> bool {
        BUILT_IN_NAMESPACES.contains(&ns) || self.objects.contains_key(&(Kind::Namespace, String::new(), ns.into()))
    }

    /// Checks kind, apiVersion and name, and sets the namespace.
    fn check_body(&self, kind: Kind, namespace: &str, body: &mut Value) -> Result<String, ApiError> {
        let name = body.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string();
        if !body.is_object() {
            return Err(ApiError::bad_request(kind, "", "the request body must be a JSON object".into()));
        }
        let got_kind = body.get("kind").and_then(Value::as_str).unwrap_or_default();
        if got_kind != kind.as_str() {
            return Err(ApiError::bad_request(
                kind,
                &name,
                format!(
                    "the API version in the data ({got_kind}) does not match the expected kind ({})",
                    kind.as_str()
                ),
            ));
        }
        let api_version = body.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
        if api_version != kind.api_version() {
            return Err(ApiError::bad_request(
                kind,
                &name,
                format!(
                    "the API version in the data ({api_version}) does not match the expected API version ({})",
                    kind.api_version()
                ),
            ));
        }
        if name.is_empty() {
            return Err(ApiError::invalid(
                kind,
                "",
                "metadata.name",
                "Required value: name or generateName is required",
            ));
        }
        if !is_dns_subdomain(&name) {
            return Err(ApiError::invalid(
                kind,
                &name,
                "metadata.name",
                &format!(
                    "Invalid value: \"{name}\": a lowercase RFC 1123 subdomain must consist of lower case \
                     alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character \
                     (e.g. 'example.com', regex used for validation is \
                     '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
                ),
            ));
        }
        if kind.namespaced() {
            let given = body.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or(namespace);
            if given != namespace {
                return Err(ApiError::bad_request(
                    kind,
                    &name,
                    "the namespace of the provided object does not match the namespace sent on the request".to_string(),
                ));
            }
            meta_mut(body).insert("namespace".into(), Value::from(namespace));
        } else {
            meta_mut(body).remove("namespace");
        }
        for field in ["uid", "resourceVersion", "creationTimestamp", "generation"] {
            meta_mut(body).remove(field);
        }
        Ok(name)
    }

    /// The scheduler's loader is the validator: the object alone (with the
    /// priority classes) must load.
    fn validate(&self, kind: Kind, name: &str, body: &Value) -> Result<(), ApiError> {
        if kind == Kind::Event {
            return Err(ApiError::new(
                405,
                "MethodNotAllowed",
                kind,
                name,
                "events are written by cloudlet's controllers only".into(),
            ));
        }
        let mut docs: Vec<Document> = self
            .list(Kind::PriorityClass, None)
            .into_iter()
            .filter(|pc| kind != Kind::PriorityClass || name_of(pc) != name)
            .map(document)
            .collect();
        docs.push(document(body));
        Manifests::build(&docs).map(|_| ()).map_err(|err| load_error(kind, name, &err))
    }

    /// Puts an object with a new resourceVersion, keeping its sequence.
    fn put(&mut self, kind: Kind, ns: &str, name: &str, body: Value) {
        let seq = self.objects.get(&(kind, ns.to_string(), name.to_string())).map(|o| o.seq);
        let seq = match seq {
            Some(seq) => seq,
            None => self.next(),
        };
        self.put_at(kind, ns, name, seq, body);
    }

    fn put_at(&mut self, kind: Kind, ns: &str, name: &str, seq: u64, mut body: Value) {
        let rv = self.next();
        meta_mut(&mut body).insert("resourceVersion".into(), Value::from(rv.to_string()));
        let key = (kind, ns.to_string(), name.to_string());
        let object = StoredObject { kind, namespace: ns.to_string(), name: name.to_string(), seq, body };
        self.objects.insert(key.clone(), object.clone());
        self.writes.insert(key, Some(object));
    }

    /// Puts only if the body changed (controllers' status updates).
    fn put_if_changed(&mut self, kind: Kind, ns: &str, name: &str, body: Value) {
        let unchanged = self.objects.get(&(kind, ns.to_string(), name.to_string())).is_some_and(|o| {
            let mut old = o.body.clone();
            meta_mut(&mut old).remove("resourceVersion");
            let mut new = body.clone();
            meta_mut(&mut new).remove("resourceVersion");
            old == new
        });
        if !unchanged {
            self.put(kind, ns, name, body);
        }
    }

    fn remove(&mut self, kind: Kind, ns: &str, name: &str) {
        let key = (kind, ns.to_string(), name.to_string());
        if self.objects.remove(&key).is_some() {
            self.writes.insert(key, None);
        }
    }

    /// Runs the controllers until the cluster is quiet: deployments, taint
    /// evictions, the scheduler, then budget and deployment status.
    fn settle(&mut self, now_ms: u64) {
        // Evictions first, so that the deployments replace what they took
        // and the scheduler places the replacements in the same round.
        for _ in 0..4 {
            self.evict_for_taints(now_ms);
            self.run_deployments(now_ms);
            if !self.schedule(now_ms) {
                break;
            }
        }
        self.update_budgets();
        self.update_deployment_status(now_ms);
    }

    /// Every object as a loader document (pods in creation order).
    fn documents(&self, kinds: &[Kind]) -> Vec<Document> {
        let mut objects: Vec<&StoredObject> = self.objects.values().filter(|o| kinds.contains(&o.kind)).collect();
        objects.sort_by_key(|o| o.seq);
        objects.into_iter().map(|o| document(&o.body)).collect()
    }

    /// One scheduling pass over every pending pod. Returns whether pods
    /// were preempted (deleted), which may wake the controllers.
    fn schedule(&mut self, now_ms: u64) -> bool {
        let pending_any =
            self.objects.values().any(|o| o.kind == Kind::Pod && o.body.pointer("/spec/nodeName").is_none());
        if !pending_any {
            return false;
        }
        let docs =
            self.documents(&[Kind::Namespace, Kind::PriorityClass, Kind::Node, Kind::PodDisruptionBudget, Kind::Pod]);
        let manifests = match Manifests::build(&docs) {
            Ok(m) => m,
            Err(err) => {
                self.mark_all_pending(&format!("cloudlet cannot schedule: {}", error_text(&err)), now_ms);
                return false;
            }
        };
        let mut sim = match Simulation::new(manifests, self.profile.clone(), self.revision) {
            Ok(sim) => sim,
            Err(err) => {
                self.mark_all_pending(&format!("cloudlet cannot schedule: {err}"), now_ms);
                return false;
            }
        };
        let report = sim.run();
        let mut preempted = false;
        for p in &report.preemptions {
            let preemptor_uid = self
                .get(Kind::Pod, &p.preemptor.0, &p.preemptor.1)
                .ok()
                .and_then(|b| b.pointer("/metadata/uid").and_then(Value::as_str).map(str::to_string))
                .unwrap_or_default();
            for (ns, name) in &p.victims {
                let Ok(victim) = self.get(Kind::Pod, ns, name).cloned() else { continue };
                self.event(
                    &victim,
                    "Normal",
                    "Preempted",
                    &format!("Preempted by pod {preemptor_uid} on node {}", p.node),
                    SCHEDULER,
                    now_ms,
                );
                self.remove(Kind::Pod, ns, name);
                preempted = true;
            }
            if let Ok(mut preemptor) = self.get(Kind::Pod, &p.preemptor.0, &p.preemptor.1).cloned() {
                preemptor["status"]["nominatedNodeName"] = Value::from(p.node.clone());
                self.put(Kind::Pod, &p.preemptor.0, &p.preemptor.1, preemptor);
            }
        }
        for placement in &report.placements {
            let Ok(mut pod) = self.get(Kind::Pod, &placement.namespace, &placement.name).cloned() else { continue };
            let seq = self.objects[&(Kind::Pod, placement.namespace.clone(), placement.name.clone())].seq;
            self.mark_running(&mut pod, &placement.node, now_ms, seq);
            if let Some(status) = pod.get_mut("status").and_then(Value::as_object_mut) {
                status.remove("nominatedNodeName");
            }
            self.put(Kind::Pod, &placement.namespace, &placement.name, pod.clone());
            self.event(
                &pod,
                "Normal",
                "Scheduled",
                &format!("Successfully assigned {}/{} to {}", placement.namespace, placement.name, placement.node),
                SCHEDULER,
                now_ms,
            );
        }
        for pending in &report.unschedulable {
            let Ok(mut pod) = self.get(Kind::Pod, &pending.namespace, &pending.name).cloned() else { continue };
            let gated = pending.message == GATED_MESSAGE;
            let reason = if gated { "SchedulingGated" } else { "Unschedulable" };
            set_condition(&mut pod, "PodScheduled", "False", Some(reason), Some(&pending.message), now_ms);
            self.put_if_changed(Kind::Pod, &pending.namespace, &pending.name, pod.clone());
            if !gated {
                self.event(&pod, "Warning", "FailedScheduling", &pending.message, SCHEDULER, now_ms);
            }
        }
        preempted
    }

    fn mark_all_pending(&mut self, message: &str, now_ms: u64) {
        let pending: Vec<Key> = self
            .objects
            .iter()
            .filter(|(k, o)| k.0 == Kind::Pod && o.body.pointer("/spec/nodeName").is_none())
            .map(|(k, _)| k.clone())
            .collect();
        for (_, ns, name) in pending {
            let Ok(mut pod) = self.get(Kind::Pod, &ns, &name).cloned() else { continue };
            set_condition(&mut pod, "PodScheduled", "False", Some("SchedulerError"), Some(message), now_ms);
            self.put_if_changed(Kind::Pod, &ns, &name, pod);
        }
    }

    /// A bound pod as the kubelet would report it, without running anything.
    fn mark_running(&self, pod: &mut Value, node: &str, now_ms: u64, seq: u64) {
        let now = rfc3339(now_ms);
        pod["spec"]["nodeName"] = Value::from(node);
        let ip = format!("10.244.{}.{}", (seq / 250) % 256, seq % 250 + 2);
        let host_ip = self
            .get(Kind::Node, "", node)
            .ok()
            .and_then(|n| n.pointer("/status/addresses")?.as_array().cloned())
            .and_then(|a| {
                a.iter().find(|a| a["type"] == "InternalIP").and_then(|a| a["address"].as_str().map(str::to_string))
            });
        let containers: Vec<Value> = pod
            .pointer("/spec/containers")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|c| {
                json!({
                    "name": c["name"],
                    "image": c["image"],
                    "imageID": "",
                    "ready": true,
                    "started": true,
                    "restartCount": 0,
                    "state": { "running": { "startedAt": now } },
                })
            })
            .collect();
        let qos = qos_class(pod);
        let status = json!({
            "phase": "Running",
            "podIP": ip,
            "podIPs": [{ "ip": ip }],
            "startTime": now,
            "qosClass": qos,
            "containerStatuses": containers,
        });
        pod["status"] = status;
        if let Some(host_ip) = host_ip {
            pod["status"]["hostIP"] = Value::from(host_ip.clone());
            pod["status"]["hostIPs"] = json!([{ "ip": host_ip }]);
        }
        for condition in ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"] {
            set_condition(pod, condition, "True", None, None, now_ms);
        }
    }

    /// Records an event, or counts a repeat of the same one (kubectl shows
    /// `(x3 over 2m)`).
    fn event(&mut self, object: &Value, kind: &str, reason: &str, message: &str, component: &str, now_ms: u64) {
        let now = rfc3339(now_ms);
        let involved_kind = object.get("kind").and_then(Value::as_str).unwrap_or_default().to_string();
        let ns = object.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("default").to_string();
        let name = name_of(object).to_string();
        let involved_uid = object.pointer("/metadata/uid").cloned().unwrap_or(Value::Null);
        let message = truncate(message);
        let existing = self
            .objects
            .values()
            .filter(|o| o.kind == Kind::Event && o.namespace == ns)
            .find(|o| {
                o.body["involvedObject"]["uid"] == involved_uid
                    && o.body["reason"] == reason
                    && o.body["message"].as_str() == Some(message.as_str())
            })
            .map(|o| (o.name.clone(), o.body.clone()));
        if let Some((event_name, mut body)) = existing {
            body["count"] = Value::from(body["count"].as_i64().unwrap_or(1) + 1);
            body["lastTimestamp"] = Value::from(now);
            self.put(Kind::Event, &ns, &event_name, body);
            return;
        }
        let seq = self.next();
        let event_name = format!("{name}.{seq:016x}");
        let body = json!({
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "name": event_name,
                "namespace": ns,
                "uid": uid(seq),
                "creationTimestamp": now,
            },
            "involvedObject": {
                "apiVersion": object.get("apiVersion").cloned().unwrap_or(Value::Null),
                "kind": involved_kind,
                "namespace": if involved_kind == "Node" { Value::Null } else { Value::from(ns.clone()) },
                "name": name,
                "uid": involved_uid,
            },
            "reason": reason,
            "message": message,
            "source": { "component": component },
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
            "type": kind,
            "reportingComponent": component,
            "reportingInstance": "",
        });
        self.put_at(Kind::Event, &ns, &event_name, seq, body);
    }

    /// Pods owned (through their ReplicaSet) by a deployment: namespace,
    /// name and the ReplicaSet's name.
    fn owned_pods(&self, ns: &str, deployment: &str) -> Vec<(String, String, String)> {
        let prefix = format!("{deployment}-");
        self.objects
            .values()
            .filter(|o| o.kind == Kind::Pod && o.namespace == ns)
            .filter_map(|o| {
                let owner = o.body.pointer("/metadata/ownerReferences/0")?;
                let rs = owner["name"].as_str()?;
                let hash = o.body.pointer("/metadata/labels/pod-template-hash")?.as_str()?;
                (owner["kind"] == "ReplicaSet" && rs.strip_prefix(&prefix) == Some(hash))
                    .then(|| (o.namespace.clone(), o.name.clone(), rs.to_string()))
            })
            .collect()
    }

    /// The ReplicaSet controller, folded into the deployment: pods of an
    /// old template are replaced at once, then the count is made right.
    fn run_deployments(&mut self, now_ms: u64) {
        let deployments: Vec<(String, String, Value)> = self
            .objects
            .values()
            .filter(|o| o.kind == Kind::Deployment)
            .map(|o| (o.namespace.clone(), o.name.clone(), o.body.clone()))
            .collect();
        for (ns, name, deployment) in deployments {
            let template = deployment.pointer("/spec/template").cloned().unwrap_or(Value::Null);
            let hash = template_hash(&ns, &name, &template);
            let rs = format!("{name}-{hash}");
            let replicas = deployment.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1).max(0);
            let owned = self.owned_pods(&ns, &name);
            let mut current = Vec::new();
            let mut old: BTreeMap<String, usize> = BTreeMap::new();
            for (pod_ns, pod_name, pod_rs) in owned {
                if pod_rs == rs {
                    current.push(pod_name);
                } else {
                    self.remove(Kind::Pod, &pod_ns, &pod_name);
                    *old.entry(pod_rs).or_default() += 1;
                }
            }
            for (old_rs, count) in old {
                self.event(
                    &deployment,
                    "Normal",
                    "ScalingReplicaSet",
                    &format!("Scaled down replica set {old_rs} from {count} to 0"),
                    "deployment-controller",
                    now_ms,
                );
            }
            let have = current.len() as i64;
            if have < replicas {
                for _ in have..replicas {
                    let seq = self.next();
                    let pod_name = format!("{rs}-{}", encode(fnv(&format!("{rs}/{seq}")), 5));
                    let mut pod = json!({
                        "apiVersion": "v1",
                        "kind": "Pod",
                        "metadata": template.get("metadata").cloned().unwrap_or_else(|| json!({})),
                        "spec": template.get("spec").cloned().unwrap_or_else(|| json!({})),
                    });
                    let meta = meta_mut(&mut pod);
                    meta.insert("name".into(), Value::from(pod_name.clone()));
                    meta.insert("namespace".into(), Value::from(ns.clone()));
                    meta.insert("uid".into(), Value::from(uid(seq)));
                    meta.insert("creationTimestamp".into(), Value::from(rfc3339(now_ms)));
                    meta.insert(
                        "ownerReferences".into(),
                        json!([{
                            "apiVersion": "apps/v1",
                            "kind": "ReplicaSet",
                            "name": rs,
                            "uid": uid_of_name(&format!("{ns}/{rs}")),
                            "controller": true,
                            "blockOwnerDeletion": true,
                        }]),
                    );
                    let labels = meta.entry("labels").or_insert_with(|| json!({}));
                    labels["pod-template-hash"] = Value::from(hash.clone());
                    pod["status"] = json!({ "phase": "Pending", "qosClass": qos_class(&pod) });
                    self.put_at(Kind::Pod, &ns, &pod_name, seq, pod);
                }
                if have == 0 {
                    self.event(
                        &deployment,
                        "Normal",
                        "ScalingReplicaSet",
                        &format!("Scaled up replica set {rs} from 0 to {replicas}"),
                        "deployment-controller",
                        now_ms,
                    );
                }
            } else if have > replicas {
                // Pending pods go first, then the newest.
                let mut victims: Vec<(bool, u64, String)> = current
                    .iter()
                    .map(|p| {
                        let o = &self.objects[&(Kind::Pod, ns.clone(), p.clone())];
                        (o.body.pointer("/spec/nodeName").is_some(), u64::MAX - o.seq, p.clone())
                    })
                    .collect();
                victims.sort();
                for (_, _, pod_name) in victims.into_iter().take((have - replicas) as usize) {
                    self.remove(Kind::Pod, &ns, &pod_name);
                }
                self.event(
                    &deployment,
                    "Normal",
                    "ScalingReplicaSet",
                    &format!("Scaled down replica set {rs} from {have} to {replicas}"),
                    "deployment-controller",
                    now_ms,
                );
            }
        }
    }

    fn update_deployment_status(&mut self, now_ms: u64) {
        let deployments: Vec<(String, String, Value)> = self
            .objects
            .values()
            .filter(|o| o.kind == Kind::Deployment)
            .map(|o| (o.namespace.clone(), o.name.clone(), o.body.clone()))
            .collect();
        for (ns, name, mut deployment) in deployments {
            let owned = self.owned_pods(&ns, &name);
            let ready = owned
                .iter()
                .filter(|(pns, pname, _)| {
                    self.objects[&(Kind::Pod, pns.clone(), pname.clone())].body.pointer("/spec/nodeName").is_some()
                })
                .count();
            let replicas = owned.len();
            let wanted = deployment.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
            let mut status = json!({
                "observedGeneration": deployment.pointer("/metadata/generation").cloned().unwrap_or(Value::from(1)),
                "replicas": replicas,
                "updatedReplicas": replicas,
                "readyReplicas": ready,
                "availableReplicas": ready,
            });
            if ready < replicas {
                status["unavailableReplicas"] = Value::from(replicas - ready);
            }
            let available = i64::try_from(ready).unwrap_or(i64::MAX) >= wanted;
            let old_conditions = deployment.pointer("/status/conditions").cloned();
            deployment["status"] = status;
            if let Some(c) = old_conditions {
                deployment["status"]["conditions"] = c;
            }
            let (s, reason, message) = if available {
                ("True", "MinimumReplicasAvailable", "Deployment has minimum availability.")
            } else {
                ("False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability.")
            };
            set_condition(&mut deployment, "Available", s, Some(reason), Some(message), now_ms);
            self.put_if_changed(Kind::Deployment, &ns, &name, deployment);
        }
    }

    /// The disruption controller: each budget's status from the pods it
    /// selects (bound pods are the healthy ones).
    fn update_budgets(&mut self) {
        let pdbs: Vec<(String, String, Value)> = self
            .objects
            .values()
            .filter(|o| o.kind == Kind::PodDisruptionBudget)
            .map(|o| (o.namespace.clone(), o.name.clone(), o.body.clone()))
            .collect();
        for (ns, name, mut pdb) in pdbs {
            let b = self.budget(&pdb);
            let generation = pdb.pointer("/metadata/generation").cloned().unwrap_or(Value::from(1));
            let conditions = json!([{
                "type": "DisruptionAllowed",
                "status": if b.allowed > 0 { "True" } else { "False" },
                "reason": if b.allowed > 0 { "SufficientPods" } else { "InsufficientPods" },
                "message": "",
                "lastTransitionTime": pdb.pointer("/metadata/creationTimestamp").cloned().unwrap_or(Value::Null),
            }]);
            pdb["status"] = json!({
                "observedGeneration": generation,
                "disruptionsAllowed": b.allowed,
                "currentHealthy": b.healthy,
                "desiredHealthy": b.desired,
                "expectedPods": b.expected,
                "conditions": conditions,
            });
            self.put_if_changed(Kind::PodDisruptionBudget, &ns, &name, pdb);
        }
    }

    fn budget(&self, pdb: &Value) -> Budget {
        let ns = pdb.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("default");
        let selector = selector_of(pdb);
        let (mut expected, mut healthy) = (0_i64, 0_i64);
        for pod in self.list(Kind::Pod, Some(ns)) {
            if selector.as_ref().is_some_and(|s| s.matches(&labels_of(pod))) {
                expected += 1;
                if pod.pointer("/spec/nodeName").is_some() {
                    healthy += 1;
                }
            }
        }
        let scaled = |v: &Value| -> i64 {
            match v {
                Value::Number(n) => n.as_i64().unwrap_or(0),
                Value::String(s) => {
                    let pct: i64 = s.trim_end_matches('%').parse().unwrap_or(0);
                    (pct * expected + 99) / 100
                }
                _ => 0,
            }
        };
        let desired = match (pdb.pointer("/spec/minAvailable"), pdb.pointer("/spec/maxUnavailable")) {
            (Some(min), _) => scaled(min),
            (None, Some(max)) => (expected - scaled(max)).max(0),
            (None, None) => expected,
        };
        Budget { expected, healthy, desired, allowed: (healthy - desired).max(0) }
    }

    /// The taint eviction controller: pods bound to a node with a
    /// `NoExecute` taint they do not tolerate are deleted at once; pods that
    /// tolerate it for `tolerationSeconds` are deleted when that runs out
    /// (counted from the taint's `timeAdded`).
    fn evict_for_taints(&mut self, now_ms: u64) {
        let nodes: Vec<(String, Vec<(Taint, u64)>)> = self
            .objects
            .values()
            .filter(|o| o.kind == Kind::Node)
            .map(|o| (o.name.clone(), no_execute_taints(&o.body)))
            .filter(|(_, t)| !t.is_empty())
            .collect();
        for (node, taints) in nodes {
            for (ns, name) in self.pods_on(&node) {
                let Ok(pod) = self.get(Kind::Pod, &ns, &name).cloned() else { continue };
                let tolerations = tolerations_of(&pod);
                let mut deadline: Option<u64> = None;
                let mut evict = false;
                for (taint, added_ms) in &taints {
                    let matching: Vec<&Toleration> = tolerations.iter().filter(|t| t.tolerates(taint)).collect();
                    if matching.is_empty() {
                        evict = true;
                        break;
                    }
                    if matching.iter().all(|t| t.toleration_seconds.is_some()) {
                        let seconds = matching.iter().filter_map(|t| t.toleration_seconds).min().unwrap_or(0).max(0);
                        let at = added_ms.saturating_add(u64::try_from(seconds).unwrap_or(0).saturating_mul(1000));
                        deadline = Some(deadline.map_or(at, |d: u64| d.min(at)));
                    }
                }
                if evict || deadline.is_some_and(|d| d <= now_ms) {
                    self.event(
                        &pod,
                        "Normal",
                        "TaintManagerEviction",
                        &format!("Marking for deletion Pod {ns}/{name}"),
                        "taint-eviction-controller",
                        now_ms,
                    );
                    self.remove(Kind::Pod, &ns, &name);
                }
            }
        }
    }
}

struct Budget {
    expected: i64,
    healthy: i64,
    desired: i64,
    allowed: i64,
}

fn scope(kind: Kind, namespace: &str) -> String {
    if kind.namespaced() { namespace.to_string() } else { String::new() }
}

fn meta_mut(body: &mut Value) -> &mut Map<String, Value> {
    if !body.is_object() {
        *body = json!({});
    }
    if !body["metadata"].is_object() {
        body["metadata"] = json!({});
    }
    body["metadata"].as_object_mut().expect("metadata was made an object above")
}

fn name_of(body: &Value) -> &str {
    body.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default()
}

fn document(body: &Value) -> Document {
    let kind = body.get("kind").and_then(Value::as_str).unwrap_or_default();
    let ns = body.pointer("/metadata/namespace").and_then(Value::as_str);
    let path = match ns {
        Some(ns) => format!("{kind} {ns}/{}", name_of(body)),
        None => format!("{kind} {}", name_of(body)),
    };
    Document { origin: Origin { path, document: 1 }, value: body.clone() }
}

fn error_text(err: &LoadError) -> String {
    match err {
        LoadError::Shape { field, message, .. } | LoadError::Invalid { field, message, .. } => {
            format!("{field}: {message}")
        }
        other => other.to_string(),
    }
}

fn load_error(kind: Kind, name: &str, err: &LoadError) -> ApiError {
    match err {
        LoadError::Shape { field, message, .. } | LoadError::Invalid { field, message, .. } => {
            let field = field.trim_start_matches('.');
            ApiError::invalid(kind, name, if field.is_empty() { "(object)" } else { field }, message)
        }
        other => ApiError::bad_request(kind, name, other.to_string()),
    }
}

fn labels_of(body: &Value) -> crate::labels::Labels {
    body.pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect())
        .unwrap_or_default()
}

fn selector_of(pdb: &Value) -> Option<crate::labels::Selector> {
    let doc = document(pdb);
    let manifests = Manifests::build(std::slice::from_ref(&doc)).ok()?;
    let b = manifests.disruption_budgets.into_iter().next()?;
    (!b.selector.is_empty()).then_some(b.selector)
}

fn tolerations_of(pod: &Value) -> Vec<Toleration> {
    let mut pod = pod.clone();
    // Only the tolerations matter; the loader wants a bound pod to stay
    // unbound-agnostic, so drop the node name and status.
    if let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) {
        spec.remove("nodeName");
    }
    let doc = document(&pod);
    Manifests::build(std::slice::from_ref(&doc))
        .ok()
        .and_then(|m| m.pods.into_iter().next())
        .map(|p| p.tolerations)
        .unwrap_or_default()
}

fn no_execute_taints(node: &Value) -> Vec<(Taint, u64)> {
    node.pointer("/spec/taints")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|t| t["effect"] == "NoExecute")
        .map(|t| {
            let added = t["timeAdded"].as_str().and_then(parse_rfc3339).unwrap_or(0);
            let taint = Taint {
                key: t["key"].as_str().unwrap_or_default().to_string(),
                value: t["value"].as_str().unwrap_or_default().to_string(),
                effect: Effect::NoExecute,
            };
            (taint, added)
        })
        .collect()
}

/// The API server sets `timeAdded` on `NoExecute` taints.
fn stamp_no_execute_taints(node: &mut Value, old: Option<&Value>, now: &str) {
    let old_taints = old.and_then(|o| o.pointer("/spec/taints")).and_then(Value::as_array).cloned().unwrap_or_default();
    if let Some(taints) = node.pointer_mut("/spec/taints").and_then(Value::as_array_mut) {
        for taint in taints {
            if taint["effect"] != "NoExecute" || taint.get("timeAdded").is_some_and(|t| !t.is_null()) {
                continue;
            }
            let previous = old_taints
                .iter()
                .find(|o| o["key"] == taint["key"] && o["effect"] == taint["effect"] && o["value"] == taint["value"])
                .and_then(|o| o.get("timeAdded").cloned());
            taint["timeAdded"] = previous.unwrap_or_else(|| Value::from(now));
        }
    }
}

/// A declared node is Ready (there is no kubelet to say otherwise).
fn node_status(node: &mut Value, now: &str) {
    if !node.get("status").is_some_and(Value::is_object) {
        node["status"] = json!({});
    }
    let status = &mut node["status"];
    if status.get("allocatable").is_none()
        && let Some(capacity) = status.get("capacity").cloned()
    {
        status["allocatable"] = capacity;
    }
    let has_ready =
        status.get("conditions").and_then(Value::as_array).is_some_and(|c| c.iter().any(|c| c["type"] == "Ready"));
    if !has_ready {
        let conditions = status.get("conditions").and_then(Value::as_array).cloned().unwrap_or_default();
        let mut conditions = conditions;
        conditions.push(json!({
            "type": "Ready",
            "status": "True",
            "reason": "KubeletReady",
            "message": "cloudlet simulates this node: no kubelet runs and no containers start",
            "lastHeartbeatTime": now,
            "lastTransitionTime": now,
        }));
        status["conditions"] = Value::from(conditions);
    }
}

fn set_condition(body: &mut Value, kind: &str, status: &str, reason: Option<&str>, message: Option<&str>, now_ms: u64) {
    if !body.get("status").is_some_and(Value::is_object) {
        body["status"] = json!({});
    }
    let conditions = body["status"].as_object_mut().map(|s| s.entry("conditions").or_insert_with(|| json!([])));
    let Some(Value::Array(conditions)) = conditions else { return };
    let mut condition = json!({ "type": kind, "status": status, "lastProbeTime": null });
    if let Some(reason) = reason {
        condition["reason"] = Value::from(reason);
    }
    if let Some(message) = message {
        condition["message"] = Value::from(message);
    }
    match conditions.iter_mut().find(|c| c["type"] == kind) {
        Some(existing) => {
            let transition = if existing["status"] == status {
                existing.get("lastTransitionTime").cloned().unwrap_or(Value::from(rfc3339(now_ms)))
            } else {
                Value::from(rfc3339(now_ms))
            };
            condition["lastTransitionTime"] = transition;
            *existing = condition;
        }
        None => {
            condition["lastTransitionTime"] = Value::from(rfc3339(now_ms));
            conditions.push(condition);
        }
    }
}

/// `BestEffort`, `Burstable` or `Guaranteed`, from the containers'
/// requests and limits (cpu and memory).
fn qos_class(pod: &Value) -> &'static str {
    let containers: Vec<&Value> = ["containers", "initContainers"]
        .iter()
        .filter_map(|f| pod.pointer(&format!("/spec/{f}")).and_then(Value::as_array))
        .flatten()
        .collect();
    let mut any = false;
    let mut guaranteed = true;
    for c in &containers {
        for resource in ["cpu", "memory"] {
            let request = c.pointer(&format!("/resources/requests/{resource}"));
            let limit = c.pointer(&format!("/resources/limits/{resource}"));
            any |= request.is_some() || limit.is_some();
            let effective_request = request.or(limit);
            if limit.is_none() || effective_request != limit {
                guaranteed = false;
            }
        }
    }
    match (any, guaranteed) {
        (false, _) => "BestEffort",
        (true, true) => "Guaranteed",
        (true, false) => "Burstable",
    }
}

/// The parts of a pod's spec that an update may not change.
fn pod_spec_without_mutable(pod: &Value) -> Value {
    let mut spec = pod.get("spec").cloned().unwrap_or(Value::Null);
    if let Some(map) = spec.as_object_mut() {
        for field in ["nodeName", "tolerations", "activeDeadlineSeconds", "terminationGracePeriodSeconds"] {
            map.remove(field);
        }
        for list in ["containers", "initContainers"] {
            if let Some(Value::Array(cs)) = map.get_mut(list) {
                for c in cs {
                    if let Some(c) = c.as_object_mut() {
                        c.remove("image");
                    }
                }
            }
        }
    }
    spec
}

/// RFC 7386 JSON merge patch.
fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    if let Value::Object(map) = target {
        for (k, v) in patch {
            if v.is_null() {
                map.remove(k);
            } else {
                merge(map.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    }
}

fn is_dns_subdomain(name: &str) -> bool {
    name.len() <= 253
        && name.split('.').all(|part| {
            !part.is_empty()
                && part.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !part.starts_with('-')
                && !part.ends_with('-')
        })
}

fn truncate(message: &str) -> String {
    if message.len() <= EVENT_MESSAGE_LIMIT {
        return message.to_string();
    }
    let mut cut = EVENT_MESSAGE_LIMIT - 4;
    while !message.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{} ...", &message[..cut])
}

fn uid(seq: u64) -> String {
    let h = fnv(&seq.to_string());
    format!("{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}", h >> 32, (h >> 16) & 0xffff, h & 0xfff, seq & 0xfff, seq)
}

fn uid_of_name(name: &str) -> String {
    let h = fnv(name);
    let l = fnv(&format!("{name}#"));
    format!("{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}", h >> 32, (h >> 16) & 0xffff, h & 0xfff, l & 0xfff, l >> 16)
}

/// `pod-template-hash`: a hash of the template, in Kubernetes' safe alphabet.
fn template_hash(ns: &str, name: &str, template: &Value) -> String {
    encode(fnv(&format!("{ns}/{name}/{template}")), 10)
}

fn fnv(text: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// Kubernetes' `SafeEncodeString` alphabet (no vowels, no look-alikes).
fn encode(mut value: u64, len: usize) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut out = String::with_capacity(len);
    for _ in 0..len {
        out.push(char::from(ALPHABET[(value % ALPHABET.len() as u64) as usize]));
        value /= ALPHABET.len() as u64;
    }
    out
}

/// Unix milliseconds as Kubernetes writes times: `2006-01-02T15:04:05Z`.
pub fn rfc3339(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Parses `2006-01-02T15:04:05Z` (fractions and offsets of `Z` only) to Unix
/// milliseconds.
pub fn parse_rfc3339(text: &str) -> Option<u64> {
    let text = text.strip_suffix('Z')?;
    let (date, time) = text.split_once('T')?;
    let mut date = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, d) = (date.next()??, date.next()??, date.next()??);
    let time = time.split('.').next()?;
    let mut time = time.split(':').map(|p| p.parse::<i64>().ok());
    let (h, min, s) = (time.next()??, time.next()??, time.next()??);
    let days = days_from_civil(y, m, d);
    let secs = days * 86_400 + h * 3600 + min * 60 + s;
    u64::try_from(secs).ok().map(|s| s * 1000)
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses manifests for `apply` (kubectl's `-f`): re-exported so the CLI
/// and the daemon read YAML the same way.
pub use load::parse_documents;

/// The kinds `cloudlet kube apply` accepts.
pub fn applicable(kind: &str) -> Option<Kind> {
    Kind::parse(kind).filter(|k| *k != Kind::Event)
}

#[cfg(test)]
mod tests;
