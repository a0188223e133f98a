//! `cloudlet kube ...`: kubectl's words and output over the daemon's
//! simulated Kubernetes cluster.
//!
//! Every command goes through the daemon's Kubernetes REST API (the same
//! paths kubectl uses), so the CLI is also a test of the API. Output
//! follows kubectl: `pod/web created`, tables with kubectl's columns and
//! ages, `describe` sections and the Events table, and errors such as
//! `Error from server (NotFound): pods "x" not found` with exit status 1.
//! Nodes are simulated: bound pods are marked Running, no container runs.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use cloudlet_core::Clock as _;
use cloudlet_scheduler::live::{self, Kind};
use cloudlet_scheduler::load::{self, Document};
use serde_json::{Value, json};

use crate::client;

/// The annotation kubectl keeps the applied manifest in.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
/// kubectl drain's wait before retrying a refused eviction.
const EVICTION_RETRY: Duration = Duration::from_secs(5);

#[derive(Debug, Args)]
pub(crate) struct KubeArgs {
    /// The daemon to talk to
    #[arg(long, global = true, env = "CLOUDLET_ENDPOINT", value_name = "URL", default_value = "http://127.0.0.1:4566")]
    endpoint: String,

    #[command(subcommand)]
    command: KubeCommand,
}

#[derive(Debug, Args)]
struct NamespaceArgs {
    /// The namespace [default: default]
    #[arg(short = 'n', long = "namespace", value_name = "NS")]
    namespace: Option<String>,
}

#[derive(Debug, Subcommand)]
enum KubeCommand {
    /// Create or update objects from manifests (files or directories)
    Apply {
        #[arg(short = 'f', long = "filename", value_name = "PATH", required = true)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        ns: NamespaceArgs,
    },
    /// List objects: nodes, pods, deployments, namespaces, pdb, priorityclasses, events
    Get {
        resource: String,
        name: Option<String>,
        #[command(flatten)]
        ns: NamespaceArgs,
        /// Every namespace
        #[arg(short = 'A', long = "all-namespaces")]
        all_namespaces: bool,
        /// wide, json, yaml or name
        #[arg(short = 'o', long = "output", value_name = "FORMAT")]
        output: Option<String>,
    },
    /// Show a pod or node in detail, with its events
    Describe {
        resource: String,
        name: String,
        #[command(flatten)]
        ns: NamespaceArgs,
    },
    /// Delete a pod, node, deployment, namespace, pdb or priority class
    Delete {
        resource: String,
        name: String,
        #[command(flatten)]
        ns: NamespaceArgs,
    },
    /// Mark a node unschedulable
    Cordon { node: String },
    /// Mark a node schedulable again
    Uncordon { node: String },
    /// Cordon a node and evict its pods (honouring PodDisruptionBudgets)
    Drain {
        node: String,
        /// Accepted for kubectl compatibility (there are no DaemonSets)
        #[arg(long)]
        ignore_daemonsets: bool,
        /// Evict pods that use emptyDir volumes too
        #[arg(long)]
        delete_emptydir_data: bool,
        /// Evict pods that no controller manages too
        #[arg(long)]
        force: bool,
        /// Give up after this long (0 = wait for ever), e.g. 30s, 2m
        #[arg(long, default_value = "0s", value_name = "DURATION")]
        timeout: String,
    },
    /// Add or remove node taints: KEY=VALUE:EFFECT, KEY:EFFECT, KEY:EFFECT- or KEY-
    Taint {
        /// `nodes` (or `node`, `no`)
        resource: String,
        node: String,
        #[arg(required = true)]
        taints: Vec<String>,
        /// Replace a taint with the same key and effect
        #[arg(long)]
        overwrite: bool,
    },
}

/// A failure, already worded as kubectl words it.
#[derive(Debug)]
struct Failure(String);

impl Failure {
    fn from_status(status: &Value, http: u16) -> Failure {
        let reason = status["reason"].as_str().unwrap_or(if http >= 500 { "InternalError" } else { "Unknown" });
        let message = status["message"].as_str().unwrap_or("unknown error");
        Failure(format!("Error from server ({reason}): {message}"))
    }
}

/// Runs one command; prints kubectl's error on failure and returns `Err`.
pub(crate) fn run(args: KubeArgs) -> Result<(), ()> {
    let result = client::endpoint_addr(&args.endpoint)
        .map_err(|err| Failure(format!("error: {err}")))
        .and_then(|addr| Api { addr, endpoint: args.endpoint.clone() }.run(args.command));
    result.map_err(|Failure(message)| {
        if !message.is_empty() {
            let _ = writeln!(std::io::stderr(), "{message}");
        }
    })
}

struct Api {
    addr: SocketAddr,
    endpoint: String,
}

/// One resource type as kubectl names it.
fn resource(name: &str) -> Result<Kind, Failure> {
    let kind = match name {
        "nodes" | "node" | "no" => Kind::Node,
        "pods" | "pod" | "po" => Kind::Pod,
        "deployments" | "deployment" | "deploy" | "deployments.apps" | "deployment.apps" => Kind::Deployment,
        "namespaces" | "namespace" | "ns" => Kind::Namespace,
        "poddisruptionbudgets" | "poddisruptionbudget" | "pdb" => Kind::PodDisruptionBudget,
        "priorityclasses" | "priorityclass" | "pc" => Kind::PriorityClass,
        "events" | "event" | "ev" => Kind::Event,
        other => {
            return Err(Failure(format!("error: the server doesn't have a resource type \"{other}\"")));
        }
    };
    Ok(kind)
}

/// `pod`, `deployment.apps`: kubectl's singular, qualified name.
fn singular(kind: Kind) -> String {
    let lower = kind.as_str().to_ascii_lowercase();
    match kind.group() {
        "" => lower,
        group => format!("{lower}.{group}"),
    }
}

fn path(kind: Kind, namespace: Option<&str>, name: Option<&str>) -> String {
    let base = match kind.group() {
        "" => "/api/v1".to_string(),
        group => format!("/apis/{group}/v1"),
    };
    let mut path = match namespace {
        Some(ns) if kind.namespaced() => format!("{base}/namespaces/{ns}/{}", kind.plural()),
        _ => format!("{base}/{}", kind.plural()),
    };
    if let Some(name) = name {
        path.push('/');
        path.push_str(name);
    }
    path
}

fn out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    if !text.ends_with('\n') {
        let _ = stdout.write_all(b"\n");
    }
    let _ = stdout.flush();
}

fn now_ms() -> u64 {
    cloudlet_core::SystemClock::new().now().as_unix_millis()
}

impl Api {
    fn request(&self, method: &str, path: &str, body: Option<&Value>) -> Result<(u16, Value), Failure> {
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let content_type = if method == "PATCH" { "application/merge-patch+json" } else { "application/json" };
        let headers: Vec<(&str, &str)> = if body.is_some() { vec![("Content-Type", content_type)] } else { Vec::new() };
        let response =
            client::send(self.addr, method, path, &headers, &bytes, Duration::from_secs(60)).map_err(|_| {
                let host = self.endpoint.trim_start_matches("http://").trim_end_matches('/');
                Failure(format!(
                    "The connection to the server {host} was refused - did you specify the right host or port?"
                ))
            })?;
        let value: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
        Ok((response.status, value))
    }

    /// A request that must succeed.
    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, Failure> {
        let (status, value) = self.request(method, path, body)?;
        if (200..300).contains(&status) { Ok(value) } else { Err(Failure::from_status(&value, status)) }
    }

    fn run(&self, command: KubeCommand) -> Result<(), Failure> {
        match command {
            KubeCommand::Apply { files, ns } => self.apply(&files, ns.namespace.as_deref()),
            KubeCommand::Get { resource: r, name, ns, all_namespaces, output } => {
                let kind = resource(&r)?;
                let namespace = ns.namespace.unwrap_or_else(|| "default".into());
                self.get(kind, name.as_deref(), (!all_namespaces).then_some(namespace.as_str()), output.as_deref())
            }
            KubeCommand::Describe { resource: r, name, ns } => {
                let kind = resource(&r)?;
                let namespace = ns.namespace.unwrap_or_else(|| "default".into());
                let text = match kind {
                    Kind::Pod => self.describe_pod(&namespace, &name)?,
                    Kind::Node => self.describe_node(&name)?,
                    other => {
                        return Err(Failure(format!(
                            "error: cloudlet kube describes pods and nodes, not {}",
                            other.plural()
                        )));
                    }
                };
                out(&text);
                Ok(())
            }
            KubeCommand::Delete { resource: r, name, ns } => {
                let kind = resource(&r)?;
                let namespace = ns.namespace.unwrap_or_else(|| "default".into());
                self.call("DELETE", &path(kind, Some(&namespace), Some(&name)), None)?;
                out(&format!("{} \"{name}\" deleted", singular(kind)));
                Ok(())
            }
            KubeCommand::Cordon { node } => self.cordon(&node, true).map(|line| out(&line)),
            KubeCommand::Uncordon { node } => self.cordon(&node, false).map(|line| out(&line)),
            KubeCommand::Drain { node, ignore_daemonsets: _, delete_emptydir_data, force, timeout } => {
                let timeout = parse_duration(&timeout).ok_or_else(|| {
                    Failure(format!("error: invalid argument \"{timeout}\" for \"--timeout\" flag: time: invalid duration \"{timeout}\""))
                })?;
                self.drain(&node, delete_emptydir_data, force, timeout)
            }
            KubeCommand::Taint { resource: r, node, taints, overwrite } => {
                if resource(&r)? != Kind::Node {
                    return Err(Failure(format!("error: invalid resource type {r}, only node types are supported")));
                }
                self.taint(&node, &taints, overwrite)
            }
        }
    }

    fn apply(&self, files: &[PathBuf], namespace: Option<&str>) -> Result<(), Failure> {
        let documents =
            load::read_paths(files).map_err(|err| Failure(format!("error: {:#}", cloudlet_core::ErrorChain(&err))))?;
        let mut flat: Vec<Document> = Vec::new();
        for doc in documents {
            match doc.value.get("kind").and_then(Value::as_str) {
                Some("List") => {
                    for item in doc.value["items"].as_array().cloned().unwrap_or_default() {
                        flat.push(Document { origin: doc.origin.clone(), value: item });
                    }
                }
                _ => flat.push(doc),
            }
        }
        let mut failures = Vec::new();
        for doc in flat {
            match self.apply_one(&doc, namespace) {
                Ok(line) => out(&line),
                Err(Failure(message)) => {
                    let _ = writeln!(std::io::stderr(), "{message}");
                    failures.push(());
                }
            }
        }
        // Each failure is printed where it happened, as kubectl does.
        if failures.is_empty() { Ok(()) } else { Err(Failure(String::new())) }
    }

    fn apply_one(&self, doc: &Document, namespace: Option<&str>) -> Result<String, Failure> {
        let origin = format!("\"{}\" (document {})", doc.origin.path, doc.origin.document);
        let value = &doc.value;
        if !value.is_object() {
            return Err(Failure(format!(
                "error: error validating {origin}: the document is not a mapping with apiVersion and kind"
            )));
        }
        let name = value.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
        let kind_text = value.get("kind").and_then(Value::as_str).unwrap_or_default();
        let api_version = value.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
        if kind_text.is_empty() || api_version.is_empty() {
            let missing = if kind_text.is_empty() { "kind" } else { "apiVersion" };
            return Err(Failure(format!("error: error validating {origin}: error validating data: {missing} not set")));
        }
        let ns_of_doc = value.pointer("/metadata/namespace").and_then(Value::as_str);
        let ns = ns_of_doc.or(namespace).unwrap_or("default").to_string();
        let kind = live::applicable(kind_text).filter(|k| k.api_version() == api_version).ok_or_else(|| {
            Failure(format!(
                "error: resource mapping not found for name: \"{name}\" namespace: \"{}\" from {origin}: no matches \
                 for kind \"{kind_text}\" in version \"{api_version}\"\nensure CRDs are installed first \
                 (cloudlet kube applies Node, Pod, Deployment, PodDisruptionBudget, PriorityClass, Namespace)",
                ns_of_doc.unwrap_or_default()
            ))
        })?;
        if let (Some(given), Some(flag)) = (ns_of_doc, namespace)
            && given != flag
        {
            return Err(Failure(format!(
                "error: the namespace from the provided object \"{given}\" does not match the namespace \"{flag}\". You must pass '--namespace={given}' to perform this operation."
            )));
        }
        let mut manifest = value.clone();
        if let Some(meta) = manifest.get_mut("metadata").and_then(Value::as_object_mut)
            && let Some(annotations) = meta.get_mut("annotations").and_then(Value::as_object_mut)
        {
            annotations.remove(LAST_APPLIED);
        }
        let applied = manifest.to_string();
        let mut body = manifest.clone();
        body["metadata"]["annotations"][LAST_APPLIED] = Value::from(applied.clone());
        if kind.namespaced() {
            body["metadata"]["namespace"] = Value::from(ns.clone());
        }
        let object = format!("{}/{name}", singular(kind));
        let item = path(kind, Some(&ns), Some(name));
        let (status, existing) = self.request("GET", &item, None)?;
        let wrap = |action: &str, value: &Value, status: u16| {
            let Failure(message) = Failure::from_status(value, status);
            let message = message.replacen("): ", &format!("): error when {action} {origin}: "), 1);
            Failure(message)
        };
        match status {
            404 => {
                let (status, created) = self.request("POST", &path(kind, Some(&ns), None), Some(&body))?;
                if !(200..300).contains(&status) {
                    return Err(wrap("creating", &created, status));
                }
                Ok(format!("{object} created"))
            }
            200 => {
                let previous = existing.pointer("/metadata/annotations").and_then(|a| a.get(LAST_APPLIED));
                if previous.and_then(Value::as_str) == Some(applied.as_str()) {
                    return Ok(format!("{object} unchanged"));
                }
                if kind == Kind::Pod {
                    // Pods keep their spec; kubectl's merge leaves what is bound alone.
                    body["spec"] = existing["spec"].clone();
                }
                let (status, replaced) = self.request("PUT", &item, Some(&body))?;
                if !(200..300).contains(&status) {
                    return Err(wrap("patching", &replaced, status));
                }
                Ok(format!("{object} configured"))
            }
            _ => Err(wrap("retrieving current configuration of", &existing, status)),
        }
    }

    fn get(
        &self,
        kind: Kind,
        name: Option<&str>,
        namespace: Option<&str>,
        output: Option<&str>,
    ) -> Result<(), Failure> {
        let format = output.unwrap_or("");
        if !matches!(format, "" | "wide" | "json" | "yaml" | "name") {
            return Err(Failure(format!(
                "error: unable to match a printer suitable for the output format \"{format}\", allowed formats are: json,name,wide,yaml"
            )));
        }
        let items: Vec<Value> = match name {
            Some(name) => {
                vec![self.call("GET", &path(kind, Some(namespace.unwrap_or("default")), Some(name)), None)?]
            }
            None => {
                let list = self.call("GET", &path(kind, namespace, None), None)?;
                list["items"].as_array().cloned().unwrap_or_default()
            }
        };
        match format {
            "json" | "yaml" => {
                let value = match (name, items.first()) {
                    (Some(_), Some(one)) => one.clone(),
                    _ => {
                        json!({ "apiVersion": "v1", "items": items, "kind": "List", "metadata": { "resourceVersion": "" } })
                    }
                };
                if format == "json" {
                    out(&pretty_json(&value))
                } else {
                    out(&yaml(&value))
                }
                return Ok(());
            }
            "name" => {
                for item in &items {
                    out(&format!("{}/{}", singular(kind), name_of(item)));
                }
                return Ok(());
            }
            _ => {}
        }
        if items.is_empty() {
            let message = match namespace {
                Some(ns) if kind.namespaced() => format!("No resources found in {ns} namespace."),
                _ => "No resources found".to_string(),
            };
            let _ = writeln!(std::io::stderr(), "{message}");
            return Ok(());
        }
        let wide = format == "wide";
        let now = now_ms();
        let all = namespace.is_none() && kind.namespaced();
        let mut rows: Vec<Vec<String>> = vec![header(kind, wide)];
        for item in &items {
            rows.push(row(kind, item, wide, now));
        }
        if all {
            rows[0].insert(0, "NAMESPACE".into());
            for (row, item) in rows.iter_mut().skip(1).zip(&items) {
                row.insert(0, item.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("").into());
            }
        }
        out(&table(&rows, 3));
        Ok(())
    }

    fn events_for(&self, namespace: Option<&str>, object: &Value) -> Result<Vec<Value>, Failure> {
        let name = name_of(object);
        let kind = object["kind"].as_str().unwrap_or_default();
        let selector = format!("involvedObject.name%3D{name},involvedObject.kind%3D{kind}");
        let base = match namespace {
            Some(ns) => format!("/api/v1/namespaces/{ns}/events"),
            None => "/api/v1/events".to_string(),
        };
        let list = self.call("GET", &format!("{base}?fieldSelector={selector}"), None)?;
        let uid = object.pointer("/metadata/uid");
        let mut events: Vec<Value> = list["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|e| e.pointer("/involvedObject/uid") == uid)
            .collect();
        events.sort_by_key(|e| e["lastTimestamp"].as_str().and_then(live::parse_rfc3339).unwrap_or(0));
        Ok(events)
    }

    fn describe_pod(&self, namespace: &str, name: &str) -> Result<String, Failure> {
        let pod = self.call("GET", &path(Kind::Pod, Some(namespace), Some(name)), None)?;
        let events = self.events_for(Some(namespace), &pod)?;
        Ok(describe_pod_text(&pod, &events, now_ms()))
    }

    fn describe_node(&self, name: &str) -> Result<String, Failure> {
        let node = self.call("GET", &path(Kind::Node, None, Some(name)), None)?;
        let pods = self.call("GET", &format!("/api/v1/pods?fieldSelector=spec.nodeName%3D{name}"), None)?;
        let pods = pods["items"].as_array().cloned().unwrap_or_default();
        let events = self.events_for(None, &node)?;
        Ok(describe_node_text(&node, &pods, &events, now_ms()))
    }

    /// Returns the line kubectl prints.
    fn cordon(&self, node: &str, cordon: bool) -> Result<String, Failure> {
        let item = path(Kind::Node, None, Some(node));
        let current = self.call("GET", &item, None)?;
        let is = current.pointer("/spec/unschedulable").and_then(Value::as_bool).unwrap_or(false);
        let word = if cordon { "cordoned" } else { "uncordoned" };
        if is == cordon {
            return Ok(format!("node/{node} already {word}"));
        }
        let patch = json!({ "spec": { "unschedulable": if cordon { Value::Bool(true) } else { Value::Null } } });
        self.call("PATCH", &item, Some(&patch))?;
        Ok(format!("node/{node} {word}"))
    }

    fn drain(&self, node: &str, delete_emptydir_data: bool, force: bool, timeout: Duration) -> Result<(), Failure> {
        out(&self.cordon(node, true)?);
        let pods = self.call("GET", &format!("/api/v1/pods?fieldSelector=spec.nodeName%3D{node}"), None)?;
        let pods = pods["items"].as_array().cloned().unwrap_or_default();
        let key = |p: &Value| {
            format!("{}/{}", p.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or(""), name_of(p))
        };
        let unmanaged: Vec<String> =
            pods.iter().filter(|p| p.pointer("/metadata/ownerReferences/0").is_none()).map(key).collect();
        let local: Vec<String> = pods
            .iter()
            .filter(|p| {
                p.pointer("/spec/volumes")
                    .and_then(Value::as_array)
                    .is_some_and(|v| v.iter().any(|v| v.get("emptyDir").is_some()))
            })
            .map(key)
            .collect();
        let mut problems = Vec::new();
        if !unmanaged.is_empty() && !force {
            problems.push(format!(
                "cannot delete Pods that declare no controller (use --force to override): {}",
                unmanaged.join(", ")
            ));
        }
        if !local.is_empty() && !delete_emptydir_data {
            problems.push(format!(
                "cannot delete Pods with local storage (use --delete-emptydir-data to override): {}",
                local.join(", ")
            ));
        }
        if !problems.is_empty() {
            let joined = problems.join(", ");
            return Err(Failure(format!(
                "error: unable to drain node \"{node}\" due to error: {joined}, continuing command...\n\
                 There are pending nodes to be drained:\n {node}\n{}",
                problems.join("\n")
            )));
        }
        if !unmanaged.is_empty() {
            let _ = writeln!(
                std::io::stderr(),
                "Warning: deleting Pods that declare no controller: {}",
                unmanaged.join(", ")
            );
        }
        let deadline = (!timeout.is_zero()).then(|| Instant::now() + timeout);
        let mut error = None;
        for pod in &pods {
            let ns = pod.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("default");
            let name = name_of(pod);
            let eviction = json!({
                "apiVersion": "policy/v1",
                "kind": "Eviction",
                "metadata": { "name": name, "namespace": ns },
            });
            loop {
                out(&format!("evicting pod {ns}/{name}"));
                let (status, body) =
                    self.request("POST", &format!("/api/v1/namespaces/{ns}/pods/{name}/eviction"), Some(&eviction))?;
                if (200..300).contains(&status) || status == 404 {
                    out(&format!("pod/{name} evicted"));
                    break;
                }
                let message = body["message"].as_str().unwrap_or("eviction refused").to_string();
                if status != 429 {
                    error = Some(format!("error when evicting pods/\"{name}\" -n \"{ns}\": {message}"));
                    break;
                }
                let wait = match deadline {
                    Some(d) => {
                        let left = d.saturating_duration_since(Instant::now());
                        if left.is_zero() {
                            error = Some(format!(
                                "error when evicting pods/\"{name}\" -n \"{ns}\": global timeout reached: {}",
                                format_duration(timeout)
                            ));
                            break;
                        }
                        left.min(EVICTION_RETRY)
                    }
                    None => EVICTION_RETRY,
                };
                let _ = writeln!(
                    std::io::stderr(),
                    "error when evicting pods/\"{name}\" -n \"{ns}\" (will retry after 5s): {message}"
                );
                std::thread::sleep(wait);
            }
            if error.is_some() {
                break;
            }
        }
        if let Some(error) = error {
            return Err(Failure(format!(
                "There are pending pods in node \"{node}\" when an error occurred: {error}\n\
                 error: unable to drain node \"{node}\" due to error: {error}, continuing command...\n\
                 There are pending nodes to be drained:\n {node}\n{error}"
            )));
        }
        out(&format!("node/{node} drained"));
        Ok(())
    }

    fn taint(&self, node: &str, specs: &[String], overwrite: bool) -> Result<(), Failure> {
        let item = path(Kind::Node, None, Some(node));
        let current = self.call("GET", &item, None)?;
        let mut taints: Vec<Value> =
            current.pointer("/spec/taints").and_then(Value::as_array).cloned().unwrap_or_default();
        let mut removed_any = false;
        let mut added_any = false;
        for spec in specs {
            if let Some(remove) = spec.strip_suffix('-') {
                let (key, effect) = match remove.split_once(':') {
                    Some((k, e)) => (k, Some(e)),
                    None => (remove, None),
                };
                let before = taints.len();
                taints.retain(|t| !(t["key"] == key && effect.is_none_or(|e| t["effect"] == e)));
                if taints.len() == before {
                    return Err(Failure(format!("error: taint \"{remove}\" not found")));
                }
                removed_any = true;
                continue;
            }
            let (key_value, effect) = spec
                .rsplit_once(':')
                .ok_or_else(|| Failure(format!("error: invalid taint spec: {spec}, unknown taint spec")))?;
            if !matches!(effect, "NoSchedule" | "PreferNoSchedule" | "NoExecute") {
                return Err(Failure(format!(
                    "error: invalid taint spec: {spec}, invalid taint effect: {effect}, unsupported taint effect"
                )));
            }
            let (key, value) = match key_value.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => (key_value, None),
            };
            if key.is_empty() {
                return Err(Failure(format!("error: invalid taint spec: {spec}, the key must not be empty")));
            }
            if let Some(existing) = taints.iter().position(|t| t["key"] == key && t["effect"] == effect) {
                if !overwrite {
                    return Err(Failure(format!(
                        "error: node {node} already has {key} taint(s) with same effect(s) and --overwrite is false"
                    )));
                }
                taints.remove(existing);
            }
            let mut taint = json!({ "key": key, "effect": effect });
            if let Some(value) = value {
                taint["value"] = Value::from(value);
            }
            taints.push(taint);
            added_any = true;
        }
        let patch = json!({ "spec": { "taints": if taints.is_empty() { Value::Null } else { Value::from(taints) } } });
        self.call("PATCH", &item, Some(&patch))?;
        let word = if added_any || !removed_any { "tainted" } else { "untainted" };
        out(&format!("node/{node} {word}"));
        Ok(())
    }
}

fn name_of(value: &Value) -> &str {
    value.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default()
}

fn header(kind: Kind, wide: bool) -> Vec<String> {
    let cols: &[&str] = match (kind, wide) {
        (Kind::Node, false) => &["NAME", "STATUS", "ROLES", "AGE", "VERSION"],
        (Kind::Node, true) => &[
            "NAME",
            "STATUS",
            "ROLES",
            "AGE",
            "VERSION",
            "INTERNAL-IP",
            "EXTERNAL-IP",
            "OS-IMAGE",
            "KERNEL-VERSION",
            "CONTAINER-RUNTIME",
        ],
        (Kind::Pod, false) => &["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
        (Kind::Pod, true) => {
            &["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED NODE", "READINESS GATES"]
        }
        (Kind::Deployment, false) => &["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
        (Kind::Deployment, true) => {
            &["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"]
        }
        (Kind::Namespace, _) => &["NAME", "STATUS", "AGE"],
        (Kind::PodDisruptionBudget, _) => &["NAME", "MIN AVAILABLE", "MAX UNAVAILABLE", "ALLOWED DISRUPTIONS", "AGE"],
        (Kind::PriorityClass, _) => &["NAME", "VALUE", "GLOBAL-DEFAULT", "AGE", "PREEMPTIONPOLICY"],
        (Kind::Event, _) => &["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
    };
    cols.iter().map(|c| c.to_string()).collect()
}

fn text(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => "<none>".into(),
    }
}

fn age(value: Option<&Value>, now: u64) -> String {
    match value.and_then(Value::as_str).and_then(live::parse_rfc3339) {
        Some(then) => human_duration(now.saturating_sub(then) / 1000),
        None => "<unknown>".into(),
    }
}

/// kubectl's `duration.HumanDuration`.
pub(crate) fn human_duration(seconds: u64) -> String {
    let minutes = seconds / 60;
    let hours = seconds / 3600;
    if seconds < 120 {
        format!("{seconds}s")
    } else if minutes < 10 {
        match seconds % 60 {
            0 => format!("{minutes}m"),
            s => format!("{minutes}m{s}s"),
        }
    } else if minutes < 180 {
        format!("{minutes}m")
    } else if hours < 8 {
        match minutes % 60 {
            0 => format!("{hours}h"),
            m => format!("{hours}h{m}m"),
        }
    } else if hours < 48 {
        format!("{hours}h")
    } else if hours < 24 * 8 {
        match hours % 24 {
            0 => format!("{}d", hours / 24),
            h => format!("{}d{h}h", hours / 24),
        }
    } else if hours < 24 * 365 * 2 {
        format!("{}d", hours / 24)
    } else if hours < 24 * 365 * 8 {
        match (hours / 24) % 365 {
            0 => format!("{}y", hours / 24 / 365),
            d => format!("{}y{d}d", hours / 24 / 365),
        }
    } else {
        format!("{}y", hours / 24 / 365)
    }
}

fn node_status(node: &Value) -> String {
    let ready = node
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
        .map(|c| if c["status"] == "True" { "Ready" } else { "NotReady" })
        .unwrap_or("Unknown");
    if node.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true) {
        format!("{ready},SchedulingDisabled")
    } else {
        ready.to_string()
    }
}

fn node_roles(node: &Value) -> String {
    let roles: Vec<&str> = node
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|l| l.keys().filter_map(|k| k.strip_prefix("node-role.kubernetes.io/")).collect())
        .unwrap_or_default();
    if roles.is_empty() { "<none>".into() } else { roles.join(",") }
}

fn pod_status(pod: &Value) -> String {
    if pod.pointer("/metadata/deletionTimestamp").is_some() {
        return "Terminating".into();
    }
    pod.pointer("/status/phase").and_then(Value::as_str).unwrap_or("Pending").to_string()
}

fn pod_ready(pod: &Value) -> String {
    let total = pod.pointer("/spec/containers").and_then(Value::as_array).map_or(0, Vec::len);
    let ready = pod
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .map_or(0, |s| s.iter().filter(|c| c["ready"] == true).count());
    format!("{ready}/{total}")
}

fn selector_text(selector: Option<&Value>) -> String {
    let Some(labels) = selector.and_then(|s| s.get("matchLabels")).and_then(Value::as_object) else {
        return "<none>".into();
    };
    labels.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())).collect::<Vec<_>>().join(",")
}

fn row(kind: Kind, item: &Value, wide: bool, now: u64) -> Vec<String> {
    let name = name_of(item).to_string();
    let created = age(item.pointer("/metadata/creationTimestamp"), now);
    let mut row = match kind {
        Kind::Node => {
            let version = item.pointer("/status/nodeInfo/kubeletVersion").and_then(Value::as_str).unwrap_or("");
            let mut r = vec![name, node_status(item), node_roles(item), created, version.to_string()];
            if wide {
                let address = |t: &str| {
                    item.pointer("/status/addresses")
                        .and_then(Value::as_array)
                        .and_then(|a| a.iter().find(|a| a["type"] == t))
                        .and_then(|a| a["address"].as_str())
                        .unwrap_or("<none>")
                        .to_string()
                };
                let info = |f: &str| {
                    item.pointer(&format!("/status/nodeInfo/{f}"))
                        .and_then(Value::as_str)
                        .filter(|s| !s.is_empty())
                        .unwrap_or("<unknown>")
                        .to_string()
                };
                r.extend([
                    address("InternalIP"),
                    address("ExternalIP"),
                    info("osImage"),
                    info("kernelVersion"),
                    info("containerRuntimeVersion"),
                ]);
            }
            r
        }
        Kind::Pod => {
            let mut r = vec![name, pod_ready(item), pod_status(item), "0".into(), created];
            if wide {
                let or_none = |p: &str| item.pointer(p).and_then(Value::as_str).unwrap_or("<none>").to_string();
                r.extend([
                    or_none("/status/podIP"),
                    or_none("/spec/nodeName"),
                    or_none("/status/nominatedNodeName"),
                    "<none>".into(),
                ]);
            }
            r
        }
        Kind::Deployment => {
            let num = |p: &str| item.pointer(p).and_then(Value::as_i64).unwrap_or(0);
            let wanted = item.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
            let mut r = vec![
                name,
                format!("{}/{wanted}", num("/status/readyReplicas")),
                num("/status/updatedReplicas").to_string(),
                num("/status/availableReplicas").to_string(),
                created,
            ];
            if wide {
                let containers: Vec<&Value> = item
                    .pointer("/spec/template/spec/containers")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .collect();
                let join = |f: &str| containers.iter().filter_map(|c| c[f].as_str()).collect::<Vec<_>>().join(",");
                r.extend([join("name"), join("image"), selector_text(item.pointer("/spec/selector"))]);
            }
            r
        }
        Kind::Namespace => vec![name, "Active".into(), created],
        Kind::PodDisruptionBudget => {
            let or_na = |p: &str| item.pointer(p).map_or("N/A".to_string(), |v| text(Some(v)));
            vec![
                name,
                or_na("/spec/minAvailable"),
                or_na("/spec/maxUnavailable"),
                text(item.pointer("/status/disruptionsAllowed")),
                created,
            ]
        }
        Kind::PriorityClass => vec![
            name,
            text(item.get("value")),
            item.get("globalDefault").and_then(Value::as_bool).unwrap_or(false).to_string(),
            created,
            item.get("preemptionPolicy").and_then(Value::as_str).unwrap_or("PreemptLowerPriority").to_string(),
        ],
        Kind::Event => {
            let object = format!(
                "{}/{}",
                item.pointer("/involvedObject/kind").and_then(Value::as_str).unwrap_or_default().to_ascii_lowercase(),
                item.pointer("/involvedObject/name").and_then(Value::as_str).unwrap_or_default()
            );
            vec![
                age(item.get("lastTimestamp"), now),
                text(item.get("type")),
                text(item.get("reason")),
                object,
                text(item.get("message")),
            ]
        }
    };
    row.iter_mut().filter(|c| c.is_empty() && kind != Kind::Node).for_each(|c| *c = "<none>".into());
    row
}

/// Aligns columns as kubectl's tabwriter does (`padding` spaces between
/// columns, none after the last).
fn table(rows: &[Vec<String>], padding: usize) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0; columns];
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut text = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if i + 1 < row.len() {
                line.push_str(&" ".repeat(widths[i] - cell.chars().count() + padding));
            }
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

/// Lines with `\t`-separated cells, aligned block by block (a line without
/// a tab ends a block), as `kubectl describe`'s tabwriter does.
fn tabbed(lines: &[String]) -> String {
    let mut text = String::new();
    let mut block: Vec<Vec<String>> = Vec::new();
    let flush = |block: &mut Vec<Vec<String>>, text: &mut String| {
        if !block.is_empty() {
            text.push_str(&table(block, 2));
            block.clear();
        }
    };
    for line in lines {
        if line.contains('\t') {
            block.push(line.split('\t').map(str::to_string).collect());
        } else {
            flush(&mut block, &mut text);
            text.push_str(line);
            text.push('\n');
        }
    }
    flush(&mut block, &mut text);
    text
}

/// `Mon, 02 Jan 2006 15:04:05 -0700`, in UTC.
fn describe_time(value: Option<&Value>) -> String {
    let Some(ms) = value.and_then(Value::as_str).and_then(live::parse_rfc3339) else { return "<unset>".into() };
    let iso = live::rfc3339(ms);
    let days = ms / 86_400_000;
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(days % 7) as usize];
    let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let month: usize = iso[5..7].parse().unwrap_or(1);
    format!("{weekday}, {} {} {} {} +0000", &iso[8..10], months[month.saturating_sub(1) % 12], &iso[0..4], &iso[11..19])
}

fn map_lines(lines: &mut Vec<String>, label: &str, map: Option<&Value>, separator: &str) {
    let entries: Vec<(String, String)> = map
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect())
        .unwrap_or_default();
    if entries.is_empty() {
        lines.push(format!("{label}\t<none>"));
    }
    for (i, (k, v)) in entries.iter().enumerate() {
        let head = if i == 0 { label } else { "" };
        lines.push(format!("{head}\t{k}{separator}{v}"));
    }
}

fn events_lines(lines: &mut Vec<String>, events: &[Value], now: u64) {
    if events.is_empty() {
        lines.push("Events:\t<none>".into());
        return;
    }
    lines.push("Events:".into());
    lines.push("  Type\tReason\tAge\tFrom\tMessage".into());
    lines.push("  ----\t------\t----\t----\t-------".into());
    for e in events {
        let count = e["count"].as_i64().unwrap_or(1);
        let last = age(e.get("lastTimestamp"), now);
        let shown =
            if count > 1 { format!("{last} (x{count} over {})", age(e.get("firstTimestamp"), now)) } else { last };
        lines.push(format!(
            "  {}\t{}\t{shown}\t{}\t{}",
            text(e.get("type")),
            text(e.get("reason")),
            e.pointer("/source/component").and_then(Value::as_str).unwrap_or_default(),
            e["message"].as_str().unwrap_or_default().trim_end(),
        ));
    }
}

fn describe_pod_text(pod: &Value, events: &[Value], now: u64) -> String {
    let s = |p: &str| pod.pointer(p).and_then(Value::as_str).unwrap_or_default().to_string();
    let mut lines = vec![
        format!("Name:\t{}", s("/metadata/name")),
        format!("Namespace:\t{}", s("/metadata/namespace")),
        format!("Priority:\t{}", pod.pointer("/spec/priority").and_then(Value::as_i64).unwrap_or(0)),
    ];
    if let Some(pc) = pod.pointer("/spec/priorityClassName").and_then(Value::as_str) {
        lines.push(format!("Priority Class Name:\t{pc}"));
    }
    let sa = pod.pointer("/spec/serviceAccountName").and_then(Value::as_str).unwrap_or("default");
    lines.push(format!("Service Account:\t{sa}"));
    match pod.pointer("/spec/nodeName").and_then(Value::as_str) {
        Some(node) => lines.push(format!("Node:\t{node}/{}", s("/status/hostIP"))),
        None => lines.push("Node:\t<none>".into()),
    }
    if let Some(start) = pod.pointer("/status/startTime") {
        lines.push(format!("Start Time:\t{}", describe_time(Some(start))));
    }
    map_lines(&mut lines, "Labels:", pod.pointer("/metadata/labels"), "=");
    let annotations = pod.pointer("/metadata/annotations").cloned().map(|mut a| {
        if let Some(m) = a.as_object_mut() {
            m.remove(LAST_APPLIED);
        }
        a
    });
    map_lines(&mut lines, "Annotations:", annotations.as_ref(), ": ");
    lines.push(format!("Status:\t{}", pod_status(pod)));
    let ip = pod.pointer("/status/podIP").and_then(Value::as_str);
    lines.push(format!("IP:\t{}", ip.unwrap_or("")));
    match ip {
        Some(ip) => {
            lines.push("IPs:".into());
            lines.push(format!("  IP:\t{ip}"));
        }
        None => lines.push("IPs:\t<none>".into()),
    }
    if let Some(owner) = pod.pointer("/metadata/ownerReferences/0") {
        lines.push(format!("Controlled By:\t{}/{}", text(owner.get("kind")), text(owner.get("name"))));
    }
    if let Some(nominated) = pod.pointer("/status/nominatedNodeName").and_then(Value::as_str) {
        lines.push(format!("NominatedNodeName:\t{nominated}"));
    }
    lines.push("Containers:".into());
    let statuses = pod.pointer("/status/containerStatuses").and_then(Value::as_array).cloned().unwrap_or_default();
    for c in pod.pointer("/spec/containers").and_then(Value::as_array).into_iter().flatten() {
        let name = c["name"].as_str().unwrap_or_default();
        lines.push(format!("  {name}:"));
        lines.push(format!("    Image:\t{}", text(c.get("image"))));
        let ports: Vec<String> = c["ports"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| format!("{}/{}", text(p.get("containerPort")), p["protocol"].as_str().unwrap_or("TCP")))
            .collect();
        lines.push(format!("    Port:\t{}", if ports.is_empty() { "<none>".into() } else { ports.join(", ") }));
        lines.push("    Host Port:\t<none>".into());
        let status = statuses.iter().find(|s| s["name"] == name);
        match status.and_then(|s| s.pointer("/state/running/startedAt")) {
            Some(started) => {
                lines.push("    State:\tRunning (simulated by cloudlet: no container runs)".into());
                lines.push(format!("      Started:\t{}", describe_time(Some(started))));
            }
            None => {
                lines.push("    State:\tWaiting".into());
                lines.push("      Reason:\tPodScheduled is not yet true".into());
            }
        }
        lines
            .push(format!("    Ready:\t{}", if status.is_some_and(|s| s["ready"] == true) { "True" } else { "False" }));
        lines.push("    Restart Count:\t0".into());
        for (label, field) in [("Limits", "limits"), ("Requests", "requests")] {
            if let Some(map) = c.pointer(&format!("/resources/{field}")).and_then(Value::as_object) {
                lines.push(format!("    {label}:"));
                for (k, v) in map {
                    lines.push(format!("      {k}:\t{}", text(Some(v))));
                }
            }
        }
        lines.push("    Environment:\t<none>".into());
    }
    let conditions = pod.pointer("/status/conditions").and_then(Value::as_array).cloned().unwrap_or_default();
    if !conditions.is_empty() {
        lines.push("Conditions:".into());
        lines.push("  Type\tStatus".into());
        for c in &conditions {
            lines.push(format!("  {}\t{}", text(c.get("type")), text(c.get("status"))));
        }
    }
    lines.push(format!("QoS Class:\t{}", s("/status/qosClass")));
    map_lines(&mut lines, "Node-Selectors:", pod.pointer("/spec/nodeSelector"), "=");
    let tolerations: Vec<String> = pod
        .pointer("/spec/tolerations")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|t| {
            let mut s = t["key"].as_str().unwrap_or_default().to_string();
            if t["operator"] != "Exists"
                && let Some(v) = t["value"].as_str()
            {
                s.push_str(&format!("={v}"));
            }
            if let Some(e) = t["effect"].as_str() {
                s.push_str(&format!(":{e}"));
            }
            if t["operator"] == "Exists" && t["key"].is_null() {
                s = format!("op=Exists{s}");
            } else if t["operator"] == "Exists" {
                s.push_str(" op=Exists");
            }
            if let Some(seconds) = t["tolerationSeconds"].as_i64() {
                s.push_str(&format!(" for {seconds}s"));
            }
            s
        })
        .collect();
    if tolerations.is_empty() {
        lines.push("Tolerations:\t<none>".into());
    }
    for (i, t) in tolerations.iter().enumerate() {
        lines.push(format!("{}\t{t}", if i == 0 { "Tolerations:" } else { "" }));
    }
    events_lines(&mut lines, events, now);
    tabbed(&lines)
}

fn describe_node_text(node: &Value, pods: &[Value], events: &[Value], now: u64) -> String {
    let s = |p: &str| node.pointer(p).and_then(Value::as_str).unwrap_or_default().to_string();
    let mut lines = vec![format!("Name:\t{}", s("/metadata/name")), format!("Roles:\t{}", node_roles(node))];
    map_lines(&mut lines, "Labels:", node.pointer("/metadata/labels"), "=");
    let annotations = node.pointer("/metadata/annotations").cloned().map(|mut a| {
        if let Some(m) = a.as_object_mut() {
            m.remove(LAST_APPLIED);
        }
        a
    });
    map_lines(&mut lines, "Annotations:", annotations.as_ref(), ": ");
    lines.push(format!("CreationTimestamp:\t{}", describe_time(node.pointer("/metadata/creationTimestamp"))));
    let taints: Vec<String> = node
        .pointer("/spec/taints")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|t| match t["value"].as_str() {
            Some(v) => format!("{}={v}:{}", text(t.get("key")), text(t.get("effect"))),
            None => format!("{}:{}", text(t.get("key")), text(t.get("effect"))),
        })
        .collect();
    if taints.is_empty() {
        lines.push("Taints:\t<none>".into());
    }
    for (i, t) in taints.iter().enumerate() {
        lines.push(format!("{}\t{t}", if i == 0 { "Taints:" } else { "" }));
    }
    let unschedulable = node.pointer("/spec/unschedulable").and_then(Value::as_bool).unwrap_or(false);
    lines.push(format!("Unschedulable:\t{unschedulable}"));
    lines.push("Conditions:".into());
    lines.push("  Type\tStatus\tLastHeartbeatTime\tLastTransitionTime\tReason\tMessage".into());
    lines.push("  ----\t------\t-----------------\t------------------\t------\t-------".into());
    for c in node.pointer("/status/conditions").and_then(Value::as_array).into_iter().flatten() {
        lines.push(format!(
            "  {}\t{}\t{}\t{}\t{}\t{}",
            text(c.get("type")),
            text(c.get("status")),
            describe_time(c.get("lastHeartbeatTime")),
            describe_time(c.get("lastTransitionTime")),
            text(c.get("reason")),
            text(c.get("message")),
        ));
    }
    let allocatable = node.pointer("/status/allocatable").and_then(Value::as_object).cloned().unwrap_or_default();
    for (label, field) in [("Capacity:", "capacity"), ("Allocatable:", "allocatable")] {
        let map = node.pointer(&format!("/status/{field}")).and_then(Value::as_object).cloned();
        let map = map.or_else(|| (field == "capacity").then(|| allocatable.clone())).unwrap_or_default();
        lines.push(label.into());
        for (k, v) in &map {
            lines.push(format!("  {k}:\t{}", text(Some(v))));
        }
    }
    lines.push(format!("Non-terminated Pods:\t({} in total)", pods.len()));
    lines.push("  Namespace\tName\tCPU Requests\tCPU Limits\tMemory Requests\tMemory Limits\tAge".into());
    lines.push("  ---------\t----\t------------\t----------\t---------------\t-------------\t---".into());
    let alloc = |resource: &str, milli: bool| -> i64 {
        allocatable.get(resource).and_then(Value::as_str).map_or(0, |q| quantity(q, milli))
    };
    let (alloc_cpu, alloc_mem) = (alloc("cpu", true), alloc("memory", false));
    let pct = |v: i64, total: i64| if total > 0 { (v as f64 / total as f64 * 100.0) as i64 } else { 0 };
    let mut totals = [0_i64; 4];
    for pod in pods {
        let sums = pod_resources(pod);
        for (t, v) in totals.iter_mut().zip(sums) {
            *t += v;
        }
        lines.push(format!(
            "  {}\t{}\t{} ({}%)\t{} ({}%)\t{} ({}%)\t{} ({}%)\t{}",
            text(pod.pointer("/metadata/namespace")),
            name_of(pod),
            format_cpu(sums[0]),
            pct(sums[0], alloc_cpu),
            format_cpu(sums[1]),
            pct(sums[1], alloc_cpu),
            format_bytes(sums[2]),
            pct(sums[2], alloc_mem),
            format_bytes(sums[3]),
            pct(sums[3], alloc_mem),
            age(pod.pointer("/metadata/creationTimestamp"), now),
        ));
    }
    lines.push("Allocated resources:".into());
    lines.push("  (Total limits may be over 100 percent, i.e., overcommitted.)".into());
    lines.push("  Resource\tRequests\tLimits".into());
    lines.push("  --------\t--------\t------".into());
    lines.push(format!(
        "  cpu\t{} ({}%)\t{} ({}%)",
        format_cpu(totals[0]),
        pct(totals[0], alloc_cpu),
        format_cpu(totals[1]),
        pct(totals[1], alloc_cpu)
    ));
    lines.push(format!(
        "  memory\t{} ({}%)\t{} ({}%)",
        format_bytes(totals[2]),
        pct(totals[2], alloc_mem),
        format_bytes(totals[3]),
        pct(totals[3], alloc_mem)
    ));
    events_lines(&mut lines, events, now);
    tabbed(&lines)
}

/// cpu requests, cpu limits (millicores), memory requests, memory limits
/// (bytes), summed over the pod's containers.
fn pod_resources(pod: &Value) -> [i64; 4] {
    let mut sums = [0; 4];
    for c in pod.pointer("/spec/containers").and_then(Value::as_array).into_iter().flatten() {
        let get = |p: &str, milli| c.pointer(p).and_then(Value::as_str).map_or(0, |q| quantity(q, milli));
        sums[0] += get("/resources/requests/cpu", true);
        sums[1] += get("/resources/limits/cpu", true);
        sums[2] += get("/resources/requests/memory", false);
        sums[3] += get("/resources/limits/memory", false);
    }
    sums
}

fn quantity(text: &str, milli: bool) -> i64 {
    match cloudlet_scheduler::quantity::Quantity::parse(text) {
        Ok(q) if milli => q.milli_value(),
        Ok(q) => q.value(),
        Err(_) => 0,
    }
}

fn format_cpu(milli: i64) -> String {
    if milli % 1000 == 0 { (milli / 1000).to_string() } else { format!("{milli}m") }
}

fn format_bytes(bytes: i64) -> String {
    for (suffix, unit) in [("Ti", 1_i64 << 40), ("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)] {
        if bytes != 0 && bytes % unit == 0 {
            return format!("{}{suffix}", bytes / unit);
        }
    }
    bytes.to_string()
}

/// Go's `time.ParseDuration` for the units drain's `--timeout` uses.
fn parse_duration(text: &str) -> Option<Duration> {
    if text == "0" {
        return Some(Duration::ZERO);
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(rest.len());
        let number: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += Duration::from_secs_f64(number * seconds);
        rest = &rest[unit_len..];
    }
    Some(total)
}

/// Go's `Duration.String` for whole and fractional seconds.
fn format_duration(d: Duration) -> String {
    let secs = d.as_secs();
    let millis = d.subsec_millis();
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let seconds = if millis == 0 { format!("{s}s") } else { format!("{s}.{millis:03}s").replace("0s", "s") };
    match (h, m) {
        (0, 0) => seconds,
        (0, m) => format!("{m}m{seconds}"),
        (h, m) => format!("{h}h{m}m{seconds}"),
    }
}

/// JSON as kubectl prints it: four-space indents.
fn pretty_json(value: &Value) -> String {
    let two = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
    // JSON strings never hold a raw newline, so every line starts with
    // indentation only.
    two.lines()
        .map(|line| {
            let indent = line.len() - line.trim_start_matches(' ').len();
            format!("{}{}", " ".repeat(indent * 2), &line[indent..])
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// YAML as kubectl prints it: block style, two-space indents, lists not
/// indented under their key, strings quoted only when they must be.
fn yaml(value: &Value) -> String {
    let mut out = String::new();
    yaml_into(value, 0, &mut out);
    out
}

fn yaml_into(value: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                out.push_str(&format!("{pad}{}:", yaml_scalar_str(k)));
                yaml_child(v, indent, out, false);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for item in items {
                out.push_str(&format!("{pad}-"));
                yaml_child(item, indent, out, true);
            }
        }
        other => {
            out.push_str(&pad);
            out.push_str(&yaml_scalar(other));
            out.push('\n');
        }
    }
}

/// The value after `key:` or `-`.
fn yaml_child(v: &Value, indent: usize, out: &mut String, in_list: bool) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            if in_list {
                // The first key goes on the dash's line.
                let mut inner = String::new();
                yaml_into(v, indent + 2, &mut inner);
                out.push(' ');
                out.push_str(inner.trim_start());
            } else {
                out.push('\n');
                yaml_into(v, indent + 2, out);
            }
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            yaml_into(v, if in_list { indent + 2 } else { indent }, out);
        }
        scalar => {
            out.push(' ');
            out.push_str(&yaml_scalar(scalar));
            out.push('\n');
        }
    }
}

fn yaml_scalar(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => yaml_scalar_str(s),
        Value::Array(_) => "[]".into(),
        Value::Object(_) => "{}".into(),
    }
}

fn yaml_scalar_str(s: &str) -> String {
    let plain = !s.is_empty()
        && !s.starts_with(|c: char| " -?:,[]{}#&*!|>'\"%@`0123456789.+~".contains(c))
        && !s.ends_with(' ')
        && !s.contains(": ")
        && !s.contains(" #")
        && !s.contains('\n')
        && !matches!(s, "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "y" | "n" | "~");
    let numeric_like = s.parse::<f64>().is_ok();
    if plain && !numeric_like {
        s.to_string()
    } else if !s.contains('\n') && !s.contains('\'') {
        format!("'{s}'")
    } else {
        serde_json::to_string(s).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_as_kubectl_prints_them() {
        let cases = [
            (0, "0s"),
            (119, "119s"),
            (120, "2m"),
            (125, "2m5s"),
            (600, "10m"),
            (3 * 3600 + 60, "3h1m"),
            (9 * 3600, "9h"),
        ];
        for (seconds, want) in cases {
            assert_eq!(human_duration(seconds), want, "{seconds}");
        }
        assert_eq!(human_duration(50 * 3600), "2d2h");
        assert_eq!(human_duration(30 * 86_400), "30d");
        assert_eq!(human_duration(3 * 365 * 86_400 + 86_400), "3y1d");
    }

    #[test]
    fn durations_and_tables() {
        assert_eq!(parse_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("soon"), None);
        assert_eq!(format_duration(Duration::from_secs(90)), "1m30s");
        let rows = vec![vec!["NAME".to_string(), "STATUS".into()], vec!["a-long-name".into(), "Ready".into()]];
        assert_eq!(table(&rows, 3), "NAME          STATUS\na-long-name   Ready\n");
    }

    #[test]
    fn yaml_is_block_style() {
        // `n` is a YAML 1.1 boolean, so kubectl's YAML quotes it as a key too.
        let value = json!({ "kind": "Pod", "metadata": { "name": "web", "labels": { "app": "x" } },
            "spec": { "containers": [{ "name": "c", "ports": [{ "containerPort": 80 }] }] }, "n": "123" });
        let want = "kind: Pod\nmetadata:\n  labels:\n    app: x\n  name: web\n'n': '123'\nspec:\n  containers:\n  - name: c\n    ports:\n    - containerPort: 80\n";
        assert_eq!(yaml(&value), want);
    }
}
