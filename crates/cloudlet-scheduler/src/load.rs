//! Kubernetes manifests in: YAML or JSON files (several documents each, or
//! `kind: List`), or directories of them, parsed with the `k8s-openapi`
//! types and turned into the scheduler's model.
//!
//! This module owns every check on input: unknown kinds, malformed
//! quantities, invalid selectors and unsupported features (volumes that need
//! binding, resource claims) are errors that name the file, the document and
//! the field. It reads files only in [`read_paths`]; [`parse_documents`] and
//! [`Manifests::build`] are pure.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::scheduling::v1::PriorityClass;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as ApiQuantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::Value;

use crate::labels::{
    Effect, Labels, NodeSelector, NodeSelectorTerm, Operator, Requirement, Selector, Taint, Toleration,
};
use crate::model::{
    self, AffinityTerm, HostPort, Node, Pod, PodAffinity, Resources, SpreadConstraint, Unsatisfiable,
    WeightedAffinityTerm,
};
use crate::quantity::Quantity;

/// Where a document came from: a file and the document's position in it
/// (from 1; empty documents are not counted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub path: String,
    pub document: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}, document {}", self.path, self.document)
    }
}

/// Why manifests could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not valid YAML or JSON")]
    Syntax {
        path: String,
        #[source]
        source: Box<serde_saphyr::Error>,
    },
    #[error("{origin}: {field}: {message}")]
    Shape { origin: Origin, field: String, message: String },
    #[error("{origin} ({object}): {field}: {message}")]
    Invalid { origin: Origin, object: String, field: String, message: String },
}

/// One parsed document.
#[derive(Debug, Clone)]
pub struct Document {
    pub origin: Origin,
    pub value: Value,
}

/// Reads every file named, and the `.yaml`, `.yml` and `.json` files directly
/// inside every directory named (in name order), as kubectl's `-f` does.
pub fn read_paths(paths: &[PathBuf]) -> Result<Vec<Document>, LoadError> {
    let mut documents = Vec::new();
    for path in paths {
        let read_err = |source| LoadError::Read { path: path.display().to_string(), source };
        if path.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(read_err)?
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "yaml" || e == "yml" || e == "json"))
                .collect();
            files.sort();
            for file in files {
                documents.extend(read_file(&file)?);
            }
        } else {
            documents.extend(read_file(path)?);
        }
    }
    Ok(documents)
}

fn read_file(path: &Path) -> Result<Vec<Document>, LoadError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read { path: name.clone(), source })?;
    parse_documents(&name, &text)
}

/// Parses the documents of one file (YAML, of which JSON is a subset).
pub fn parse_documents(path: &str, text: &str) -> Result<Vec<Document>, LoadError> {
    let values: Vec<Value> = serde_saphyr::from_multiple_with_options(text, yaml_options())
        .map_err(|source| LoadError::Syntax { path: path.to_string(), source: Box::new(source) })?;
    Ok(values
        .into_iter()
        .filter(|v| !v.is_null())
        .enumerate()
        .map(|(i, value)| Document { origin: Origin { path: path.to_string(), document: i + 1 }, value })
        .collect())
}

/// YAML 1.2 booleans only, so that `name: n` or `zone: no` stay strings.
pub fn yaml_options() -> serde_saphyr::Options {
    let mut options = serde_saphyr::Options::default();
    options.strict_booleans = true;
    options
}

/// A PodDisruptionBudget.
#[derive(Debug, Clone)]
pub struct DisruptionBudget {
    pub namespace: String,
    pub name: String,
    pub selector: Selector,
    /// `status.disruptionsAllowed` when the manifest has a status.
    pub disruptions_allowed: Option<i32>,
    pub min_available: Option<IntOrString>,
    pub max_unavailable: Option<IntOrString>,
    pub disrupted_pods: Vec<String>,
}

/// A PriorityClass.
#[derive(Debug, Clone)]
pub struct PriorityClassInfo {
    pub value: i32,
    pub global_default: bool,
    pub preemption_never: bool,
}

/// Everything loaded from the manifests, in the scheduler's model.
#[derive(Debug, Clone, Default)]
pub struct Manifests {
    pub nodes: Vec<Node>,
    /// Pods in the order they were read (deployments expanded in place).
    pub pods: Vec<Pod>,
    /// Namespace labels, including `kubernetes.io/metadata.name`.
    pub namespaces: BTreeMap<String, Labels>,
    pub disruption_budgets: Vec<DisruptionBudget>,
    pub priority_classes: BTreeMap<String, PriorityClassInfo>,
}

const SUPPORTED_KINDS: &str = "Node, Pod, Deployment, ReplicaSet, ReplicationController, StatefulSet, Service, PriorityClass, PodDisruptionBudget, Namespace, List";

/// A controller that owns pods: its kind, namespace, name and selector
/// (`DefaultSelector` reads the pod's controller's selector).
type Controller = (&'static str, String, String, Selector);

/// A pod template waiting for priority classes and owners to be known.
struct PendingPod {
    origin: Origin,
    field_prefix: &'static str,
    meta: meta::ObjectMeta,
    spec: core::PodSpec,
    raw_spec: Value,
    owner_selector: Option<Selector>,
    status: Option<core::PodStatus>,
}

impl Manifests {
    /// Turns parsed documents into the model.
    pub fn build(documents: &[Document]) -> Result<Self, LoadError> {
        let mut out = Manifests::default();
        for (name, value) in [("system-cluster-critical", 2_000_000_000), ("system-node-critical", 2_000_001_000)] {
            out.priority_classes
                .insert(name.to_string(), PriorityClassInfo { value, global_default: false, preemption_never: false });
        }
        let mut pending = Vec::new();
        let mut replica_sets: Vec<Controller> = Vec::new();
        // Services' `spec.selector`s, by namespace; nil selectors are left
        // out (they select nothing).
        let mut services: Vec<(String, Labels)> = Vec::new();
        let mut flat = Vec::new();
        for doc in documents {
            flatten(doc, &mut flat)?;
        }
        for doc in &flat {
            let origin = &doc.origin;
            let kind = doc.value.get("kind").and_then(Value::as_str).unwrap_or_default();
            let api_version = doc.value.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
            let expected = match kind {
                "Node" | "Pod" | "Namespace" | "Service" | "ReplicationController" => "v1",
                "Deployment" | "ReplicaSet" | "StatefulSet" => "apps/v1",
                "PriorityClass" => "scheduling.k8s.io/v1",
                "PodDisruptionBudget" => "policy/v1",
                "" => return Err(shape(origin, "kind", "missing; every document needs `apiVersion` and `kind`")),
                other => {
                    return Err(shape(
                        origin,
                        "kind",
                        &format!(
                            "unknown kind {other:?} (apiVersion {api_version:?})\nhint: cloudlet's scheduler reads {SUPPORTED_KINDS}"
                        ),
                    ));
                }
            };
            if api_version != expected {
                return Err(shape(
                    origin,
                    "apiVersion",
                    &format!("{kind} must have apiVersion {expected:?}, not {api_version:?}"),
                ));
            }
            match kind {
                "Node" => {
                    let node: core::Node = typed(doc)?;
                    out.nodes.push(convert_node(origin, &node)?);
                }
                "Namespace" => {
                    let ns: core::Namespace = typed(doc)?;
                    let name = required_name(origin, &ns.metadata, "Namespace")?;
                    let mut labels = ns.metadata.labels.clone().unwrap_or_default();
                    labels.insert("kubernetes.io/metadata.name".to_string(), name.clone());
                    out.namespaces.insert(name, labels);
                }
                "PriorityClass" => {
                    let pc: PriorityClass = typed(doc)?;
                    let name = required_name(origin, &pc.metadata, "PriorityClass")?;
                    out.priority_classes.insert(
                        name,
                        PriorityClassInfo {
                            value: pc.value,
                            global_default: pc.global_default.unwrap_or(false),
                            preemption_never: pc.preemption_policy.as_deref() == Some("Never"),
                        },
                    );
                }
                "PodDisruptionBudget" => {
                    let pdb: PodDisruptionBudget = typed(doc)?;
                    out.disruption_budgets.push(convert_pdb(origin, &pdb)?);
                }
                "Pod" => {
                    let pod: core::Pod = typed(doc)?;
                    let spec = pod.spec.ok_or_else(|| shape(origin, "spec", "missing"))?;
                    let raw_spec = doc.value.get("spec").cloned().unwrap_or(Value::Null);
                    pending.push(PendingPod {
                        origin: origin.clone(),
                        field_prefix: "spec",
                        meta: pod.metadata,
                        spec,
                        raw_spec,
                        owner_selector: None,
                        status: pod.status,
                    });
                }
                "Deployment" => {
                    let deployment: Deployment = typed(doc)?;
                    let raw = doc.value.pointer("/spec/template/spec").cloned().unwrap_or(Value::Null);
                    expand_deployment(origin, deployment, raw, &mut pending, &mut replica_sets)?;
                }
                "ReplicaSet" => {
                    let rs: ReplicaSet = typed(doc)?;
                    let raw = doc.value.pointer("/spec/template/spec").cloned().unwrap_or(Value::Null);
                    expand_replica_set(origin, rs, raw, &mut pending, &mut replica_sets)?;
                }
                "ReplicationController" => {
                    let rc: core::ReplicationController = typed(doc)?;
                    let raw = doc.value.pointer("/spec/template/spec").cloned().unwrap_or(Value::Null);
                    expand_replication_controller(origin, rc, raw, &mut pending, &mut replica_sets)?;
                }
                "StatefulSet" => {
                    let ss: StatefulSet = typed(doc)?;
                    let raw = doc.value.pointer("/spec/template/spec").cloned().unwrap_or(Value::Null);
                    expand_stateful_set(origin, ss, raw, &mut pending, &mut replica_sets)?;
                }
                "Service" => {
                    let service: core::Service = typed(doc)?;
                    required_name(origin, &service.metadata, "Service")?;
                    let namespace = service.metadata.namespace.clone().unwrap_or_else(|| "default".into());
                    if let Some(selector) = service.spec.and_then(|s| s.selector) {
                        services.push((namespace, selector));
                    }
                }
                _ => {}
            }
        }
        let global_default =
            out.priority_classes.values().filter(|pc| pc.global_default).max_by_key(|pc| pc.value).cloned();
        for p in pending {
            if let Some(mut pod) = convert_pod(p, &out, global_default.as_ref(), &replica_sets)? {
                pod.default_spread_selector = default_selector(&pod, &services);
                out.pods.push(pod);
            }
        }
        for pod in &out.pods {
            out.namespaces
                .entry(pod.namespace.clone())
                .or_insert_with(|| Labels::from([("kubernetes.io/metadata.name".to_string(), pod.namespace.clone())]));
        }
        let mut seen = std::collections::HashSet::new();
        for node in &out.nodes {
            if !seen.insert(node.name.as_str()) {
                return Err(LoadError::Shape {
                    origin: Origin { path: "(all inputs)".into(), document: 0 },
                    field: "metadata.name".into(),
                    message: format!("node {:?} is declared twice", node.name),
                });
            }
        }
        let mut seen = std::collections::HashSet::new();
        for pod in &out.pods {
            if !seen.insert((pod.namespace.as_str(), pod.name.as_str())) {
                return Err(LoadError::Shape {
                    origin: Origin { path: pod.source.clone(), document: 0 },
                    field: "metadata.name".into(),
                    message: format!("pod {} is declared twice", pod.key()),
                });
            }
        }
        Ok(out)
    }
}

fn flatten(doc: &Document, out: &mut Vec<Document>) -> Result<(), LoadError> {
    if doc.value.get("kind").and_then(Value::as_str) == Some("List") {
        let items = doc
            .value
            .get("items")
            .and_then(Value::as_array)
            .ok_or_else(|| shape(&doc.origin, "items", "a List needs an array of items"))?;
        for item in items {
            out.push(Document { origin: doc.origin.clone(), value: item.clone() });
        }
    } else if !doc.value.is_object() {
        return Err(shape(&doc.origin, "(document)", "a manifest must be a mapping with `apiVersion` and `kind`"));
    } else {
        out.push(doc.clone());
    }
    Ok(())
}

fn shape(origin: &Origin, field: &str, message: &str) -> LoadError {
    LoadError::Shape { origin: origin.clone(), field: field.to_string(), message: message.to_string() }
}

fn typed<T: serde::de::DeserializeOwned>(doc: &Document) -> Result<T, LoadError> {
    serde_path_to_error::deserialize(&doc.value).map_err(|err| {
        let field = err.path().to_string();
        LoadError::Shape { origin: doc.origin.clone(), field, message: err.into_inner().to_string() }
    })
}

fn required_name(origin: &Origin, meta: &meta::ObjectMeta, kind: &str) -> Result<String, LoadError> {
    match meta.name.as_deref() {
        Some(name) if !name.is_empty() => Ok(name.to_string()),
        _ => match meta.generate_name.as_deref() {
            Some(prefix) if !prefix.is_empty() => Ok(format!("{prefix}{}", suffix_for(&origin.to_string()))),
            _ => Err(shape(origin, "metadata.name", &format!("a {kind} needs a name"))),
        },
    }
}

/// Context for errors inside one object.
struct Ctx<'a> {
    origin: &'a Origin,
    object: String,
}

impl Ctx<'_> {
    fn err(&self, field: impl Into<String>, message: impl Into<String>) -> LoadError {
        LoadError::Invalid {
            origin: self.origin.clone(),
            object: self.object.clone(),
            field: field.into(),
            message: message.into(),
        }
    }

    fn quantity(&self, field: &str, q: &ApiQuantity) -> Result<Quantity, LoadError> {
        let parsed = Quantity::parse(&q.0).map_err(|e| self.err(field, format!("{:?}: {e}", q.0)))?;
        if parsed.is_negative() {
            return Err(self.err(field, format!("{:?}: must be greater than or equal to 0", q.0)));
        }
        Ok(parsed)
    }
}

fn convert_node(origin: &Origin, node: &core::Node) -> Result<Node, LoadError> {
    let name = required_name(origin, &node.metadata, "Node")?;
    let ctx = Ctx { origin, object: format!("Node {name}") };
    let mut labels = node.metadata.labels.clone().unwrap_or_default();
    labels.entry(model::HOSTNAME_LABEL.to_string()).or_insert_with(|| name.clone());
    let spec = node.spec.clone().unwrap_or_default();
    let mut taints = Vec::new();
    for (i, t) in spec.taints.iter().flatten().enumerate() {
        let effect = Effect::parse(&t.effect).ok_or_else(|| {
            ctx.err(
                format!("spec.taints[{i}].effect"),
                format!("unsupported value {:?}: must be NoSchedule, PreferNoSchedule or NoExecute", t.effect),
            )
        })?;
        if t.key.is_empty() {
            return Err(ctx.err(format!("spec.taints[{i}].key"), "must not be empty"));
        }
        taints.push(Taint { key: t.key.clone(), value: t.value.clone().unwrap_or_default(), effect });
    }
    let status = node.status.clone().unwrap_or_default();
    // The kubelet reports allocatable; a manifest may give only capacity
    // (allocatable then equals capacity, as the API server's defaulting does).
    let (list, field) = match (&status.allocatable, &status.capacity) {
        (Some(a), _) => (a.clone(), "status.allocatable"),
        (None, Some(c)) => (c.clone(), "status.capacity"),
        (None, None) => (BTreeMap::new(), "status.allocatable"),
    };
    let mut allocatable = Resources::default();
    for (resource, q) in &list {
        let field = format!("{field}.{resource}");
        let q = ctx.quantity(&field, q)?;
        match resource.as_str() {
            "cpu" => allocatable.milli_cpu = q.milli_value(),
            "memory" => allocatable.memory = q.value(),
            "ephemeral-storage" => allocatable.ephemeral_storage = q.value(),
            "pods" => allocatable.pods = q.value(),
            other if model::is_scalar_resource(other) => allocatable.add_scalar(other, q.value()),
            _ => {}
        }
    }
    let mut images = Vec::new();
    for image in status.images.iter().flatten() {
        for n in image.names.iter().flatten() {
            images.push((n.clone(), image.size_bytes.unwrap_or(0)));
        }
    }
    Ok(Node { name, labels, taints, unschedulable: spec.unschedulable.unwrap_or(false), allocatable, images })
}

fn convert_pdb(origin: &Origin, pdb: &PodDisruptionBudget) -> Result<DisruptionBudget, LoadError> {
    let name = required_name(origin, &pdb.metadata, "PodDisruptionBudget")?;
    let namespace = pdb.metadata.namespace.clone().unwrap_or_else(|| "default".into());
    let ctx = Ctx { origin, object: format!("PodDisruptionBudget {namespace}/{name}") };
    let spec = pdb.spec.clone().unwrap_or_default();
    let selector = label_selector(&ctx, "spec.selector", spec.selector.as_ref())?;
    let status = pdb.status.as_ref();
    Ok(DisruptionBudget {
        namespace,
        name,
        selector,
        disruptions_allowed: status.map(|s| s.disruptions_allowed),
        min_available: spec.min_available,
        max_unavailable: spec.max_unavailable,
        disrupted_pods: status
            .and_then(|s| s.disrupted_pods.as_ref())
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default(),
    })
}

fn label_selector(ctx: &Ctx<'_>, field: &str, selector: Option<&meta::LabelSelector>) -> Result<Selector, LoadError> {
    let Some(selector) = selector else { return Ok(Selector::Nothing) };
    let mut reqs = Vec::new();
    for (key, value) in selector.match_labels.iter().flatten() {
        reqs.push(Requirement { key: key.clone(), op: Operator::In, values: vec![value.clone()] });
    }
    for (i, expr) in selector.match_expressions.iter().flatten().enumerate() {
        let field = format!("{field}.matchExpressions[{i}]");
        let op = Operator::parse(&expr.operator, false).ok_or_else(|| {
            ctx.err(
                format!("{field}.operator"),
                format!("{:?} is not a valid label selector operator (In, NotIn, Exists, DoesNotExist)", expr.operator),
            )
        })?;
        let req = Requirement { key: expr.key.clone(), op, values: expr.values.clone().unwrap_or_default() };
        req.validate().map_err(|m| ctx.err(field, m))?;
        reqs.push(req);
    }
    Ok(Selector::Requirements(reqs))
}

fn node_selector_term(
    ctx: &Ctx<'_>,
    field: &str,
    term: &core::NodeSelectorTerm,
) -> Result<NodeSelectorTerm, LoadError> {
    let mut out = NodeSelectorTerm::default();
    for (list, name, target) in
        [(&term.match_expressions, "matchExpressions", 0), (&term.match_fields, "matchFields", 1)]
    {
        for (i, expr) in list.iter().flatten().enumerate() {
            let field = format!("{field}.{name}[{i}]");
            let op = Operator::parse(&expr.operator, target == 0).ok_or_else(|| {
                ctx.err(
                    format!("{field}.operator"),
                    format!("{:?} is not a valid node selector operator", expr.operator),
                )
            })?;
            let req = Requirement { key: expr.key.clone(), op, values: expr.values.clone().unwrap_or_default() };
            req.validate().map_err(|m| ctx.err(field.clone(), m))?;
            if target == 1 {
                if req.key != "metadata.name" {
                    return Err(
                        ctx.err(format!("{field}.key"), format!("{:?}: only metadata.name is supported", req.key))
                    );
                }
                if !matches!(req.op, Operator::In | Operator::NotIn) || req.values.len() != 1 {
                    return Err(ctx.err(field, "must be In or NotIn with exactly one value for metadata.name"));
                }
                out.fields.push(req);
            } else {
                out.labels.push(req);
            }
        }
    }
    Ok(out)
}

fn affinity_term(
    ctx: &Ctx<'_>,
    field: &str,
    term: &core::PodAffinityTerm,
    pod_ns: &str,
    pod_labels: &Labels,
) -> Result<AffinityTerm, LoadError> {
    if term.topology_key.is_empty() {
        return Err(ctx.err(format!("{field}.topologyKey"), "can not be empty"));
    }
    let selector = label_selector(ctx, &format!("{field}.labelSelector"), term.label_selector.as_ref())?
        .with_label_values(term.match_label_keys.as_deref().unwrap_or_default(), pod_labels, Operator::In)
        .with_label_values(term.mismatch_label_keys.as_deref().unwrap_or_default(), pod_labels, Operator::NotIn);
    let namespace_selector =
        label_selector(ctx, &format!("{field}.namespaceSelector"), term.namespace_selector.as_ref())?;
    let mut namespaces = term.namespaces.clone().unwrap_or_default();
    if namespaces.is_empty() && term.namespace_selector.is_none() {
        namespaces.push(pod_ns.to_string());
    }
    Ok(AffinityTerm { namespaces, namespace_selector, selector, topology_key: term.topology_key.clone() })
}

/// Volume sources that never influence scheduling.
const HARMLESS_VOLUMES: &[&str] =
    &["configMap", "secret", "emptyDir", "downwardAPI", "projected", "hostPath", "image", "gitRepo"];

fn check_unsupported(ctx: &Ctx<'_>, prefix: &str, raw_spec: &Value) -> Result<(), LoadError> {
    if let Some(volumes) = raw_spec.get("volumes").and_then(Value::as_array) {
        for (i, volume) in volumes.iter().enumerate() {
            if let Some(obj) = volume.as_object() {
                for key in obj.keys().filter(|k| *k != "name") {
                    if !HARMLESS_VOLUMES.contains(&key.as_str()) {
                        return Err(ctx.err(
                            format!("{prefix}.volumes[{i}].{key}"),
                            format!("{key} volumes are not supported by cloudlet's scheduler (volume binding, zones and limits are not modelled)\nhint: remove the volume, or use emptyDir, configMap, secret, projected or hostPath"),
                        ));
                    }
                }
            }
        }
    }
    if raw_spec.get("resourceClaims").and_then(Value::as_array).is_some_and(|a| !a.is_empty()) {
        return Err(ctx.err(
            format!("{prefix}.resourceClaims"),
            "resource claims (dynamic resource allocation) are not supported by cloudlet's scheduler",
        ));
    }
    Ok(())
}

/// Kubernetes' alphabet for generated name suffixes (no vowels, no
/// look-alike characters).
const SUFFIX_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// A deterministic 64-bit FNV-1a hash.
fn fnv(text: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

fn encode(mut value: u64, len: usize) -> String {
    let mut out = String::with_capacity(len);
    for _ in 0..len {
        let n = SUFFIX_ALPHABET.len() as u64;
        out.push(char::from(SUFFIX_ALPHABET[(value % n) as usize]));
        value /= n;
    }
    out
}

/// A five-character suffix, like the ones controllers generate, but derived
/// from the input so that every run names pods the same way.
fn suffix_for(seed: &str) -> String {
    encode(fnv(seed), 5)
}

fn expand_deployment(
    origin: &Origin,
    deployment: Deployment,
    raw_spec: Value,
    pending: &mut Vec<PendingPod>,
    replica_sets: &mut Vec<Controller>,
) -> Result<(), LoadError> {
    let name = required_name(origin, &deployment.metadata, "Deployment")?;
    let namespace = deployment.metadata.namespace.clone().unwrap_or_else(|| "default".into());
    let ctx = Ctx { origin, object: format!("Deployment {namespace}/{name}") };
    let spec = deployment.spec.ok_or_else(|| ctx.err("spec", "missing"))?;
    let template_json = serde_json::to_string(&raw_spec).unwrap_or_default();
    let hash = encode(fnv(&format!("{namespace}/{name}/{template_json}")), 10);
    let rs_name = format!("{name}-{hash}");
    let mut selector = spec.selector.clone();
    selector.match_labels.get_or_insert_with(BTreeMap::new).insert("pod-template-hash".into(), hash.clone());
    let mut template = spec.template;
    template
        .metadata
        .get_or_insert_with(Default::default)
        .labels
        .get_or_insert_with(BTreeMap::new)
        .insert("pod-template-hash".into(), hash);
    let rs = ReplicaSet {
        metadata: meta::ObjectMeta { name: Some(rs_name), namespace: Some(namespace), ..Default::default() },
        spec: Some(k8s_openapi::api::apps::v1::ReplicaSetSpec {
            replicas: spec.replicas,
            selector,
            template: Some(template),
            ..Default::default()
        }),
        status: None,
    };
    expand_replica_set_named(&ctx, origin, rs, raw_spec, pending, replica_sets)
}

fn expand_replica_set(
    origin: &Origin,
    rs: ReplicaSet,
    raw_spec: Value,
    pending: &mut Vec<PendingPod>,
    replica_sets: &mut Vec<Controller>,
) -> Result<(), LoadError> {
    let name = required_name(origin, &rs.metadata, "ReplicaSet")?;
    let namespace = rs.metadata.namespace.clone().unwrap_or_else(|| "default".into());
    let ctx = Ctx { origin, object: format!("ReplicaSet {namespace}/{name}") };
    expand_replica_set_named(&ctx, origin, rs, raw_spec, pending, replica_sets)
}

fn expand_replica_set_named(
    ctx: &Ctx<'_>,
    origin: &Origin,
    rs: ReplicaSet,
    raw_spec: Value,
    pending: &mut Vec<PendingPod>,
    replica_sets: &mut Vec<Controller>,
) -> Result<(), LoadError> {
    let name = required_name(origin, &rs.metadata, "ReplicaSet")?;
    let namespace = rs.metadata.namespace.clone().unwrap_or_else(|| "default".into());
    let spec = rs.spec.ok_or_else(|| ctx.err("spec", "missing"))?;
    let selector = label_selector(ctx, "spec.selector", Some(&spec.selector))?;
    if selector.is_empty() {
        return Err(ctx.err("spec.selector", "empty selector is invalid for a ReplicaSet or Deployment"));
    }
    let owner = Owner { kind: "ReplicaSet", api_version: "apps/v1", namespace, name };
    expand_owned(ctx, owner, selector, spec.template, spec.replicas, raw_spec, Naming::Generated, pending, replica_sets)
}

fn expand_replication_controller(
    origin: &Origin,
    rc: core::ReplicationController,
    raw_spec: Value,
    pending: &mut Vec<PendingPod>,
    replica_sets: &mut Vec<Controller>,
) -> Result<(), LoadError> {
    let name = required_name(origin, &rc.metadata, "ReplicationController")?;
    let namespace = rc.metadata.namespace.clone().unwrap_or_else(|| "default".into());
    let ctx = Ctx { origin, object: format!("ReplicationController {namespace}/{name}") };
    let spec = rc.spec.ok_or_else(|| ctx.err("spec", "missing"))?;
    // The API server defaults an empty selector to the template's labels.
    let template_labels = spec.template.as_ref().and_then(|t| t.metadata.as_ref()).and_then(|m| m.labels.clone());
    let labels = spec.selector.clone().filter(|s| !s.is_empty()).or(template_labels).unwrap_or_default();
    if labels.is_empty() {
        return Err(ctx.err("spec.selector", "Required value: neither the selector nor the template has labels"));
    }
    let selector = label_selector(
        &ctx,
        "spec.selector",
        Some(&meta::LabelSelector { match_labels: Some(labels), match_expressions: None }),
    )?;
    let owner = Owner { kind: "ReplicationController", api_version: "v1", namespace, name };
    expand_owned(
        &ctx,
        owner,
        selector,
        spec.template,
        spec.replicas,
        raw_spec,
        Naming::Generated,
        pending,
        replica_sets,
    )
}

fn expand_stateful_set(
    origin: &Origin,
    ss: StatefulSet,
    raw_spec: Value,
    pending: &mut Vec<PendingPod>,
    replica_sets: &mut Vec<Controller>,
) -> Result<(), LoadError> {
    let name = required_name(origin, &ss.metadata, "StatefulSet")?;
    let namespace = ss.metadata.namespace.clone().unwrap_or_else(|| "default".into());
    let ctx = Ctx { origin, object: format!("StatefulSet {namespace}/{name}") };
    let spec = ss.spec.ok_or_else(|| ctx.err("spec", "missing"))?;
    let selector = label_selector(&ctx, "spec.selector", Some(&spec.selector))?;
    if selector.is_empty() {
        return Err(ctx.err("spec.selector", "empty selector is invalid for a StatefulSet"));
    }
    if spec.volume_claim_templates.as_ref().is_some_and(|v| !v.is_empty()) {
        return Err(ctx.err(
            "spec.volumeClaimTemplates",
            "not supported: claims need volume binding, which cloudlet's scheduler does not simulate",
        ));
    }
    let start = spec.ordinals.as_ref().and_then(|o| o.start).unwrap_or(0);
    if start < 0 {
        return Err(ctx.err("spec.ordinals.start", "must be greater than or equal to 0"));
    }
    let template_json = serde_json::to_string(&raw_spec).unwrap_or_default();
    let revision = format!("{name}-{}", encode(fnv(&format!("{namespace}/{name}/{template_json}")), 10));
    let owner = Owner { kind: "StatefulSet", api_version: "apps/v1", namespace, name };
    let naming = Naming::Ordinal { start, revision };
    expand_owned(&ctx, owner, selector, spec.template.into(), spec.replicas, raw_spec, naming, pending, replica_sets)
}

/// The controller a set of pods is expanded from.
struct Owner {
    kind: &'static str,
    api_version: &'static str,
    namespace: String,
    name: String,
}

/// How a controller names its pods.
enum Naming {
    /// `name-xxxxx`: a generated suffix (ReplicaSets, ReplicationControllers).
    Generated,
    /// `name-0`, `name-1`, ... from `start`, with the labels the StatefulSet
    /// controller sets (`controller-revision-hash`,
    /// `statefulset.kubernetes.io/pod-name`, `apps.kubernetes.io/pod-index`).
    Ordinal { start: i32, revision: String },
}

#[allow(clippy::too_many_arguments)]
fn expand_owned(
    ctx: &Ctx<'_>,
    owner: Owner,
    selector: Selector,
    template: Option<core::PodTemplateSpec>,
    replicas: Option<i32>,
    raw_spec: Value,
    naming: Naming,
    pending: &mut Vec<PendingPod>,
    replica_sets: &mut Vec<Controller>,
) -> Result<(), LoadError> {
    let Owner { kind, api_version, namespace, name } = owner;
    let template = template.ok_or_else(|| ctx.err("spec.template", "missing"))?;
    let mut template_meta = template.metadata.unwrap_or_default();
    let labels = template_meta.labels.clone().unwrap_or_default();
    if !selector.matches(&labels) {
        return Err(ctx.err("spec.template.metadata.labels", "`selector` does not match template `labels`"));
    }
    let pod_spec = template.spec.ok_or_else(|| ctx.err("spec.template.spec", "missing"))?;
    let replicas = replicas.unwrap_or(1);
    if replicas < 0 {
        return Err(ctx.err("spec.replicas", "must be greater than or equal to 0"));
    }
    replica_sets.push((kind, namespace.clone(), name.clone(), selector.clone()));
    template_meta.namespace = Some(namespace.clone());
    template_meta.owner_references = Some(vec![meta::OwnerReference {
        api_version: api_version.into(),
        kind: kind.into(),
        name: name.clone(),
        controller: Some(true),
        ..Default::default()
    }]);
    let mut used = std::collections::HashSet::new();
    for i in 0..replicas {
        let mut meta = template_meta.clone();
        match &naming {
            Naming::Generated => {
                let mut suffix = suffix_for(&format!("{namespace}/{name}/{i}"));
                let mut salt = 0;
                while !used.insert(suffix.clone()) {
                    salt += 1;
                    suffix = suffix_for(&format!("{namespace}/{name}/{i}/{salt}"));
                }
                meta.name = Some(format!("{name}-{suffix}"));
            }
            Naming::Ordinal { start, revision } => {
                let ordinal = i64::from(*start) + i64::from(i);
                let pod_name = format!("{name}-{ordinal}");
                let labels = meta.labels.get_or_insert_with(BTreeMap::new);
                labels.insert("controller-revision-hash".into(), revision.clone());
                labels.insert("statefulset.kubernetes.io/pod-name".into(), pod_name.clone());
                labels.insert("apps.kubernetes.io/pod-index".into(), ordinal.to_string());
                meta.name = Some(pod_name);
            }
        }
        meta.generate_name = None;
        pending.push(PendingPod {
            origin: ctx.origin.clone(),
            field_prefix: "spec.template.spec",
            meta,
            spec: pod_spec.clone(),
            raw_spec: raw_spec.clone(),
            owner_selector: Some(selector.clone()),
            status: None,
        });
    }
    Ok(())
}

/// `helper.DefaultSelector`: the selectors of the Services in the pod's
/// namespace that select it, and of its controller (ReplicationController,
/// ReplicaSet or StatefulSet), ANDed; `None` when that is empty.
fn default_selector(pod: &Pod, services: &[(String, Labels)]) -> Option<Selector> {
    let mut set = Labels::new();
    for (namespace, selector) in services {
        if *namespace == pod.namespace && selector.iter().all(|(k, v)| pod.labels.get(k) == Some(v)) {
            set.extend(selector.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
    }
    let mut requirements: Vec<Requirement> =
        set.into_iter().map(|(key, value)| Requirement { key, op: Operator::In, values: vec![value] }).collect();
    if let Some(Selector::Requirements(owner)) = &pod.owner_selector {
        requirements.extend(owner.iter().cloned());
    }
    (!requirements.is_empty()).then_some(Selector::Requirements(requirements))
}

fn add_requests(
    ctx: &Ctx<'_>,
    field: &str,
    resources: Option<&core::ResourceRequirements>,
) -> Result<BTreeMap<String, Quantity>, LoadError> {
    let mut out = BTreeMap::new();
    let Some(resources) = resources else { return Ok(out) };
    // The API server defaults a missing request to the limit.
    for (name, q) in resources.limits.iter().flatten() {
        out.insert(name.clone(), ctx.quantity(&format!("{field}.limits.{name}"), q)?);
    }
    for (name, q) in resources.requests.iter().flatten() {
        out.insert(name.clone(), ctx.quantity(&format!("{field}.requests.{name}"), q)?);
    }
    Ok(out)
}

type QuantityList = BTreeMap<String, Quantity>;

fn list_add(into: &mut QuantityList, from: &QuantityList) {
    for (name, q) in from {
        let entry = into.entry(name.clone()).or_default();
        *entry = entry.saturating_add(*q);
    }
}

fn list_max(into: &mut QuantityList, from: &QuantityList) {
    for (name, q) in from {
        let entry = into.entry(name.clone()).or_default();
        if *q > *entry {
            *entry = *q;
        }
    }
}

/// `resourcehelper.PodRequests`: app containers summed, sidecars added,
/// init containers as a running maximum, pod-level requests where given,
/// overhead on top. With `defaults`, containers missing a cpu or memory
/// request count as the scheduler's defaults.
fn pod_requests(
    containers: &[QuantityList],
    init_containers: &[(QuantityList, bool)],
    pod_level: &QuantityList,
    overhead: &QuantityList,
    defaults: bool,
) -> QuantityList {
    let with_defaults = |list: &QuantityList| {
        let mut list = list.clone();
        if defaults {
            list.entry("cpu".into()).or_insert_with(|| Quantity::from_millis(model::DEFAULT_MILLI_CPU_REQUEST));
            list.entry("memory".into()).or_insert_with(|| Quantity::from_units(model::DEFAULT_MEMORY_REQUEST));
        }
        list
    };
    let mut reqs = QuantityList::new();
    for c in containers {
        list_add(&mut reqs, &with_defaults(c));
    }
    let mut restartable = QuantityList::new();
    let mut init_max = QuantityList::new();
    for (c, is_sidecar) in init_containers {
        let c = with_defaults(c);
        let effective = if *is_sidecar {
            list_add(&mut reqs, &c);
            list_add(&mut restartable, &c);
            restartable.clone()
        } else {
            let mut tmp = c.clone();
            list_add(&mut tmp, &restartable);
            tmp
        };
        list_max(&mut init_max, &effective);
    }
    list_max(&mut reqs, &init_max);
    for (name, q) in pod_level {
        if name == "cpu" || name == "memory" || name.starts_with("hugepages-") {
            reqs.insert(name.clone(), *q);
        }
    }
    list_add(&mut reqs, overhead);
    reqs
}

fn to_resources(list: &QuantityList) -> Resources {
    let mut out = Resources::default();
    for (name, q) in list {
        match name.as_str() {
            "cpu" => out.milli_cpu = q.milli_value(),
            "memory" => out.memory = q.value(),
            "ephemeral-storage" => out.ephemeral_storage = q.value(),
            other if model::is_scalar_resource(other) => out.add_scalar(other, q.value()),
            _ => {}
        }
    }
    out
}

fn convert_pod(
    p: PendingPod,
    manifests: &Manifests,
    global_default: Option<&PriorityClassInfo>,
    replica_sets: &[Controller],
) -> Result<Option<Pod>, LoadError> {
    let origin = &p.origin;
    let name = required_name(origin, &p.meta, "Pod")?;
    let namespace = p.meta.namespace.clone().unwrap_or_else(|| "default".into());
    let ctx = Ctx { origin, object: format!("Pod {namespace}/{name}") };
    let prefix = p.field_prefix;
    let phase = p.status.as_ref().and_then(|s| s.phase.as_deref());
    let start_time = p.status.as_ref().and_then(|s| s.start_time.as_ref()).map(|t| t.0.as_nanosecond());
    if matches!(phase, Some("Succeeded" | "Failed")) {
        return Ok(None);
    }
    check_unsupported(&ctx, prefix, &p.raw_spec)?;
    let spec = &p.spec;
    let labels = p.meta.labels.clone().unwrap_or_default();
    if spec.containers.is_empty() {
        return Err(ctx.err(format!("{prefix}.containers"), "a pod needs at least one container"));
    }
    if let Some(scheduler) = spec.scheduler_name.as_deref()
        && scheduler != "default-scheduler"
        && spec.node_name.is_none()
    {
        return Err(ctx.err(
            format!("{prefix}.schedulerName"),
            format!("{scheduler:?}: only default-scheduler pods can be simulated\nhint: remove schedulerName or set spec.nodeName"),
        ));
    }

    let mut containers = Vec::new();
    let mut images = Vec::new();
    let mut host_ports = Vec::new();
    let mut ports_of = |field: String, c: &core::Container| -> Result<(), LoadError> {
        for (j, port) in c.ports.iter().flatten().enumerate() {
            let host_port = port.host_port.unwrap_or(0);
            if host_port <= 0 {
                continue;
            }
            let protocol = port.protocol.clone().unwrap_or_else(|| "TCP".into());
            if !matches!(protocol.as_str(), "TCP" | "UDP" | "SCTP") {
                return Err(ctx.err(
                    format!("{field}.ports[{j}].protocol"),
                    format!("unsupported value {protocol:?}: must be TCP, UDP or SCTP"),
                ));
            }
            let ip = port.host_ip.clone().filter(|ip| !ip.is_empty()).unwrap_or_else(|| "0.0.0.0".into());
            host_ports.push(HostPort { ip, protocol, port: host_port });
        }
        Ok(())
    };
    let mut init_containers = Vec::new();
    for (i, c) in spec.init_containers.iter().flatten().enumerate() {
        let field = format!("{prefix}.initContainers[{i}]");
        let sidecar = c.restart_policy.as_deref() == Some("Always");
        init_containers.push((add_requests(&ctx, &format!("{field}.resources"), c.resources.as_ref())?, sidecar));
        if let Some(image) = &c.image {
            images.push(model::normalized_image_name(image));
        }
        if sidecar {
            ports_of(field, c)?;
        }
    }
    for (i, c) in spec.containers.iter().enumerate() {
        let field = format!("{prefix}.containers[{i}]");
        containers.push(add_requests(&ctx, &format!("{field}.resources"), c.resources.as_ref())?);
        if let Some(image) = &c.image {
            images.push(model::normalized_image_name(image));
        }
        ports_of(field, c)?;
    }
    let pod_level = add_requests(&ctx, &format!("{prefix}.resources"), spec.resources.as_ref())?;
    let mut overhead = QuantityList::new();
    for (name, q) in spec.overhead.iter().flatten() {
        overhead.insert(name.clone(), ctx.quantity(&format!("{prefix}.overhead.{name}"), q)?);
    }
    let requests = to_resources(&pod_requests(&containers, &init_containers, &pod_level, &overhead, false));
    let non_zero = pod_requests(&containers, &init_containers, &pod_level, &overhead, true);

    // Priority, as the Priority admission plugin resolves it.
    let (priority, class_never) = match spec.priority_class_name.as_deref().filter(|n| !n.is_empty()) {
        Some(class) => {
            let pc = manifests.priority_classes.get(class).ok_or_else(|| {
                ctx.err(format!("{prefix}.priorityClassName"), format!("no PriorityClass with name {class} was found"))
            })?;
            (pc.value, pc.preemption_never)
        }
        None => match (spec.priority, global_default) {
            (Some(priority), _) => (priority, false),
            (None, Some(pc)) => (pc.value, pc.preemption_never),
            (None, None) => (0, false),
        },
    };
    let preemption_never = match spec.preemption_policy.as_deref() {
        Some("Never") => true,
        Some("PreemptLowerPriority") => false,
        Some(other) => {
            return Err(ctx.err(
                format!("{prefix}.preemptionPolicy"),
                format!("unsupported value {other:?}: must be Never or PreemptLowerPriority"),
            ));
        }
        None => class_never,
    };

    let mut tolerations = Vec::new();
    for (i, t) in spec.tolerations.iter().flatten().enumerate() {
        let field = format!("{prefix}.tolerations[{i}]");
        let exists = match t.operator.as_deref().unwrap_or("Equal") {
            "Exists" => true,
            "Equal" | "" => false,
            other => {
                return Err(ctx.err(
                    format!("{field}.operator"),
                    format!("unsupported value {other:?}: must be Exists or Equal"),
                ));
            }
        };
        let effect = match t.effect.as_deref().unwrap_or("") {
            "" => None,
            e => Some(
                Effect::parse(e)
                    .ok_or_else(|| ctx.err(format!("{field}.effect"), format!("unsupported value {e:?}")))?,
            ),
        };
        let key = t.key.clone().unwrap_or_default();
        if key.is_empty() && !exists {
            return Err(ctx.err(
                format!("{field}.operator"),
                "must be Exists when `key` is empty, which means \"match all values and all keys\"",
            ));
        }
        tolerations.push(Toleration {
            key,
            exists,
            value: t.value.clone().unwrap_or_default(),
            effect,
            toleration_seconds: t.toleration_seconds,
        });
    }

    let mut required_node_affinity = None;
    let mut preferred_node_affinity = Vec::new();
    let mut affinity = PodAffinity::default();
    if let Some(a) = &spec.affinity {
        if let Some(na) = &a.node_affinity {
            if let Some(req) = &na.required_during_scheduling_ignored_during_execution {
                let field = format!("{prefix}.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution");
                let mut terms = Vec::new();
                for (i, term) in req.node_selector_terms.iter().enumerate() {
                    terms.push(node_selector_term(&ctx, &format!("{field}.nodeSelectorTerms[{i}]"), term)?);
                }
                required_node_affinity = Some(NodeSelector { terms });
            }
            for (i, pref) in na.preferred_during_scheduling_ignored_during_execution.iter().flatten().enumerate() {
                let field =
                    format!("{prefix}.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[{i}]");
                if !(1..=100).contains(&pref.weight) {
                    return Err(ctx.err(format!("{field}.weight"), "must be in the range 1-100"));
                }
                let term = node_selector_term(&ctx, &format!("{field}.preference"), &pref.preference)?;
                if !term.is_empty() {
                    preferred_node_affinity.push((pref.weight, term));
                }
            }
        }
        let terms =
            |field: String, list: &Option<Vec<core::PodAffinityTerm>>| -> Result<Vec<AffinityTerm>, LoadError> {
                list.iter()
                    .flatten()
                    .enumerate()
                    .map(|(i, t)| affinity_term(&ctx, &format!("{field}[{i}]"), t, &namespace, &labels))
                    .collect()
            };
        let weighted = |field: String,
                        list: &Option<Vec<core::WeightedPodAffinityTerm>>|
         -> Result<Vec<WeightedAffinityTerm>, LoadError> {
            list.iter()
                .flatten()
                .enumerate()
                .map(|(i, t)| {
                    if !(1..=100).contains(&t.weight) {
                        return Err(ctx.err(format!("{field}[{i}].weight"), "must be in the range 1-100"));
                    }
                    Ok(WeightedAffinityTerm {
                        weight: t.weight,
                        term: affinity_term(
                            &ctx,
                            &format!("{field}[{i}].podAffinityTerm"),
                            &t.pod_affinity_term,
                            &namespace,
                            &labels,
                        )?,
                    })
                })
                .collect()
        };
        if let Some(pa) = &a.pod_affinity {
            affinity.declared = true;
            let f = format!("{prefix}.affinity.podAffinity");
            affinity.required_affinity = terms(
                format!("{f}.requiredDuringSchedulingIgnoredDuringExecution"),
                &pa.required_during_scheduling_ignored_during_execution,
            )?;
            affinity.preferred_affinity = weighted(
                format!("{f}.preferredDuringSchedulingIgnoredDuringExecution"),
                &pa.preferred_during_scheduling_ignored_during_execution,
            )?;
        }
        if let Some(pa) = &a.pod_anti_affinity {
            affinity.declared = true;
            let f = format!("{prefix}.affinity.podAntiAffinity");
            affinity.required_anti_affinity = terms(
                format!("{f}.requiredDuringSchedulingIgnoredDuringExecution"),
                &pa.required_during_scheduling_ignored_during_execution,
            )?;
            affinity.preferred_anti_affinity = weighted(
                format!("{f}.preferredDuringSchedulingIgnoredDuringExecution"),
                &pa.preferred_during_scheduling_ignored_during_execution,
            )?;
        }
    }

    let mut spread_constraints = Vec::new();
    for (i, c) in spec.topology_spread_constraints.iter().flatten().enumerate() {
        let field = format!("{prefix}.topologySpreadConstraints[{i}]");
        if c.max_skew < 1 {
            return Err(ctx.err(format!("{field}.maxSkew"), "must be greater than zero"));
        }
        if c.topology_key.is_empty() {
            return Err(ctx.err(format!("{field}.topologyKey"), "can not be empty"));
        }
        let when_unsatisfiable = match c.when_unsatisfiable.as_str() {
            "DoNotSchedule" => Unsatisfiable::DoNotSchedule,
            "ScheduleAnyway" => Unsatisfiable::ScheduleAnyway,
            other => {
                return Err(ctx.err(
                    format!("{field}.whenUnsatisfiable"),
                    format!("unsupported value {other:?}: must be DoNotSchedule or ScheduleAnyway"),
                ));
            }
        };
        if let Some(min) = c.min_domains {
            if min < 1 {
                return Err(ctx.err(format!("{field}.minDomains"), "must be greater than zero"));
            }
            if when_unsatisfiable != Unsatisfiable::DoNotSchedule {
                return Err(ctx
                    .err(format!("{field}.minDomains"), "can only use minDomains if whenUnsatisfiable=DoNotSchedule"));
            }
        }
        let policy = |name: &str, value: Option<&str>, default: bool| -> Result<bool, LoadError> {
            match value {
                None => Ok(default),
                Some("Honor") => Ok(true),
                Some("Ignore") => Ok(false),
                Some(other) => Err(
                    ctx.err(format!("{field}.{name}"), format!("unsupported value {other:?}: must be Honor or Ignore"))
                ),
            }
        };
        let selector = label_selector(&ctx, &format!("{field}.labelSelector"), c.label_selector.as_ref())?
            .with_label_values(c.match_label_keys.as_deref().unwrap_or_default(), &labels, Operator::In);
        spread_constraints.push(SpreadConstraint {
            max_skew: c.max_skew,
            topology_key: c.topology_key.clone(),
            when_unsatisfiable,
            selector,
            min_domains: c.min_domains.unwrap_or(1),
            honor_node_affinity: policy("nodeAffinityPolicy", c.node_affinity_policy.as_deref(), true)?,
            honor_node_taints: policy("nodeTaintsPolicy", c.node_taints_policy.as_deref(), false)?,
        });
    }

    let owner_selector = p.owner_selector.clone().or_else(|| {
        let owner = p.meta.owner_references.iter().flatten().find(|o| o.controller == Some(true))?;
        replica_sets
            .iter()
            .find(|(kind, ns, n, _)| *kind == owner.kind && *ns == namespace && *n == owner.name)
            .map(|(_, _, _, s)| s.clone())
    });

    Ok(Some(Pod {
        namespace,
        name,
        labels,
        priority,
        preemption_never,
        requests,
        non_zero_milli_cpu: non_zero.get("cpu").map_or(0, |q| q.milli_value()),
        non_zero_memory: non_zero.get("memory").map_or(0, |q| q.value()),
        node_name: spec.node_name.clone().filter(|n| !n.is_empty()),
        node_selector: spec.node_selector.clone().unwrap_or_default(),
        required_node_affinity,
        preferred_node_affinity,
        tolerations,
        host_ports,
        spread_constraints,
        owner_selector,
        default_spread_selector: None,
        start_time,
        nominated_node_name: p
            .status
            .as_ref()
            .and_then(|s| s.nominated_node_name.clone())
            .filter(|n| !n.is_empty() && spec.node_name.as_deref().is_none_or(str::is_empty)),
        affinity,
        images,
        scheduling_gates: spec.scheduling_gates.iter().flatten().map(|g| g.name.clone()).collect(),
        terminating: p.meta.deletion_timestamp.is_some(),
        source: origin.to_string(),
    }))
}

#[cfg(test)]
mod tests;
