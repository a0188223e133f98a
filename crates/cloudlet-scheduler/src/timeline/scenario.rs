//! Scenario files: an ordered list of timed steps (apply manifests, delete,
//! scale, cordon, uncordon, drain, taint, untaint, expect) run against a
//! [`Timeline`]. The format is documented in `docs/scheduler-scenarios.md`.
//!
//! A scenario file holds one `kind: Scenario` document and, optionally,
//! manifests that join the starting cluster. Errors name the file, the step
//! index and the field. Reading the files named by `apply` is the only I/O.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cloudlet_core::Timestamp;
use serde_json::{Map, Value};

use super::{Event, EventKind, PodPhase, Timeline, TimelineError};
use crate::config::Profile;
use crate::labels::{Effect, Taint};
use crate::load::{self, Document};
use crate::simulate::Report;

/// A bad scenario file or a step that could not run.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {place}: {message}")]
pub struct ScenarioError {
    pub file: String,
    /// `steps[3].taint.effect`, or a top-level field.
    pub place: String,
    pub message: String,
}

/// What a step does.
#[derive(Debug, Clone)]
pub enum Action {
    /// Only move time forward (timers fire, the queue retries).
    Wait,
    Apply(Vec<Document>),
    DeletePod {
        namespace: String,
        name: String,
    },
    DeleteDeployment {
        namespace: String,
        name: String,
    },
    DeleteNode(String),
    Scale {
        namespace: String,
        name: String,
        replicas: i32,
    },
    Cordon(String),
    Uncordon(String),
    Drain {
        node: String,
        force: bool,
    },
    Taint {
        node: String,
        taint: Taint,
    },
    Untaint {
        node: String,
        key: String,
        effect: Option<Effect>,
    },
    Expect(Expectation),
}

impl Action {
    /// The step's key in the file.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Wait => "wait",
            Action::Apply(_) => "apply",
            Action::DeletePod { .. } | Action::DeleteDeployment { .. } | Action::DeleteNode(_) => "delete",
            Action::Scale { .. } => "scale",
            Action::Cordon(_) => "cordon",
            Action::Uncordon(_) => "uncordon",
            Action::Drain { .. } => "drain",
            Action::Taint { .. } => "taint",
            Action::Untaint { .. } => "untaint",
            Action::Expect(_) => "expect",
        }
    }
}

/// What an `expect` step checks.
#[derive(Debug, Clone, Default)]
pub struct Expectation {
    /// `ns/name` → node name, `Pending` or `Absent`.
    pub pods: BTreeMap<String, String>,
    /// Node → pods bound to it.
    pub node_counts: BTreeMap<String, usize>,
    pub running: Option<usize>,
    pub pending: Option<usize>,
    /// Deployment `ns/name` → bound pods.
    pub ready: BTreeMap<String, usize>,
    /// PodDisruptionBudget `ns/name` → `disruptionsAllowed`.
    pub disruptions_allowed: BTreeMap<String, i64>,
}

/// One timed step.
#[derive(Debug, Clone)]
pub struct Step {
    /// Time from the start of the scenario.
    pub at: Duration,
    pub action: Action,
}

/// A parsed scenario file.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub file: String,
    pub name: Option<String>,
    pub seed: Option<u64>,
    /// Keep running timers until this time (default: the last step's).
    pub until: Option<Duration>,
    pub steps: Vec<Step>,
    /// Manifests in the scenario file besides the Scenario document.
    pub manifests: Vec<Document>,
}

/// The outcome of a run.
#[derive(Debug, Clone)]
pub struct ScenarioRun {
    pub start: Timestamp,
    pub events: Vec<Event>,
    pub report: Report,
    /// Failed `expect` checks: `steps[N].expect.FIELD: ...`.
    pub failures: Vec<String>,
}

const STEP_KEYS: &str = "apply, delete, scale, cordon, uncordon, drain, taint, untaint, expect";

impl Scenario {
    /// Reads a scenario file.
    pub fn read(path: &Path) -> Result<Self, ScenarioError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
            file: file.clone(),
            place: "file".into(),
            message: e.to_string(),
        })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Self::parse(&file, &text, &base)
    }

    /// Parses scenario text; `base` is where relative `apply` paths start.
    pub fn parse(file: &str, text: &str, base: &Path) -> Result<Self, ScenarioError> {
        let err =
            |place: &str, message: String| ScenarioError { file: file.to_string(), place: place.to_string(), message };
        let documents = load::parse_documents(file, text).map_err(|e| err("file", error_chain(&e)))?;
        let (scenarios, manifests): (Vec<Document>, Vec<Document>) =
            documents.into_iter().partition(|d| d.value.get("kind").and_then(Value::as_str) == Some("Scenario"));
        let doc = match scenarios.as_slice() {
            [one] => one,
            [] => return Err(err("kind", "no `kind: Scenario` document".into())),
            _ => return Err(err("kind", "more than one `kind: Scenario` document".into())),
        };
        let top = doc.value.as_object().ok_or_else(|| err("document", "must be a mapping".into()))?;
        for key in top.keys() {
            if !matches!(key.as_str(), "apiVersion" | "kind" | "metadata" | "description" | "seed" | "until" | "steps")
            {
                return Err(err(
                    key,
                    "unknown field (expected apiVersion, kind, metadata, description, seed, until, steps)".into(),
                ));
            }
        }
        let name = doc.value.pointer("/metadata/name").and_then(Value::as_str).map(str::to_string);
        let seed = match top.get("seed") {
            None => None,
            Some(v) => Some(v.as_u64().ok_or_else(|| err("seed", "must be a non-negative integer".into()))?),
        };
        let until = match top.get("until") {
            None => None,
            Some(v) => Some(parse_duration(v).map_err(|m| err("until", m))?),
        };
        let raw_steps = match top.get("steps") {
            None => Vec::new(),
            Some(Value::Array(steps)) => steps.clone(),
            Some(_) => return Err(err("steps", "must be a list".into())),
        };
        let mut steps = Vec::new();
        let mut last = Duration::ZERO;
        for (i, raw) in raw_steps.iter().enumerate() {
            let place = format!("steps[{i}]");
            let step = parse_step(raw, base).map_err(|(field, message)| {
                let place = if field.is_empty() { place.clone() } else { format!("{place}.{field}") };
                err(&place, message)
            })?;
            if step.at < last {
                return Err(err(
                    &format!("{place}.at"),
                    format!("{} is before the previous step's {}", format_duration(step.at), format_duration(last)),
                ));
            }
            last = step.at;
            steps.push(step);
        }
        Ok(Self { file: file.to_string(), name, seed, until, steps, manifests })
    }

    /// Runs the scenario over the starting cluster (`cluster` plus the
    /// manifests in the scenario file) from `start`.
    pub fn run(
        &self,
        cluster: &[Document],
        profile: Profile,
        seed: u64,
        start: Timestamp,
    ) -> Result<ScenarioRun, ScenarioError> {
        let mut documents = cluster.to_vec();
        documents.extend(self.manifests.iter().cloned());
        let mut timeline = Timeline::from_documents(&documents, profile, seed, start).map_err(|e| ScenarioError {
            file: self.file.clone(),
            place: "cluster".into(),
            message: error_chain(&e),
        })?;
        let mut events = timeline.schedule_pending(start);
        let mut failures = Vec::new();
        for (i, step) in self.steps.iter().enumerate() {
            let now = start + step.at;
            events.extend(timeline.advance(now));
            let place = format!("steps[{i}].{}", step.action.name());
            let step_err = |e: TimelineError| ScenarioError {
                file: self.file.clone(),
                place: place.clone(),
                message: error_chain(&e),
            };
            let caused = match &step.action {
                Action::Wait => Vec::new(),
                Action::Apply(docs) => timeline.apply(now, docs).map_err(step_err)?,
                Action::DeletePod { namespace, name } => timeline.delete_pod(now, namespace, name).map_err(step_err)?,
                Action::DeleteDeployment { namespace, name } => {
                    timeline.delete_deployment(now, namespace, name).map_err(step_err)?
                }
                Action::DeleteNode(node) => timeline.remove_node(now, node).map_err(step_err)?,
                Action::Scale { namespace, name, replicas } => {
                    timeline.scale(now, namespace, name, *replicas).map_err(step_err)?
                }
                Action::Cordon(node) => timeline.cordon(now, node).map_err(step_err)?,
                Action::Uncordon(node) => timeline.uncordon(now, node).map_err(step_err)?,
                Action::Drain { node, force } => timeline.drain(now, node, *force).map_err(step_err)?,
                Action::Taint { node, taint } => timeline.taint(now, node, taint.clone()).map_err(step_err)?,
                Action::Untaint { node, key, effect } => timeline.untaint(now, node, key, *effect).map_err(step_err)?,
                Action::Expect(expect) => {
                    failures.extend(check(&timeline, expect).into_iter().map(|f| format!("{place}.{f}")));
                    Vec::new()
                }
            };
            events.extend(caused);
            events.extend(timeline.schedule_pending(now));
        }
        let last = self.steps.last().map_or(Duration::ZERO, |s| s.at);
        let until = self.until.unwrap_or(last).max(last);
        events.extend(timeline.advance(start + until));
        Ok(ScenarioRun { start, events, report: timeline.report(), failures })
    }
}

/// Checks an `expect` step against the timeline now.
fn check(timeline: &Timeline, expect: &Expectation) -> Vec<String> {
    let mut failures = Vec::new();
    let pods = timeline.pods();
    for (key, want) in &expect.pods {
        let (namespace, name) = split_key(key);
        let got = match pods.iter().find(|p| p.namespace == namespace && p.name == name) {
            None => "Absent".to_string(),
            Some(p) => p.node.clone().unwrap_or_else(|| p.phase.as_str().to_string()),
        };
        if &got != want {
            failures.push(format!("pods.{key}: expected {want}, got {got}"));
        }
    }
    let nodes = timeline.nodes();
    for (node, want) in &expect.node_counts {
        match nodes.iter().find(|n| &n.name == node) {
            None => failures.push(format!("nodeCounts.{node}: no such node")),
            Some(n) if n.pods != *want => failures.push(format!("nodeCounts.{node}: expected {want}, got {}", n.pods)),
            Some(_) => {}
        }
    }
    let count = |phase: PodPhase| pods.iter().filter(|p| p.phase == phase).count();
    if let Some(want) = expect.running {
        let got = count(PodPhase::Running);
        if got != want {
            failures.push(format!("running: expected {want}, got {got}"));
        }
    }
    if let Some(want) = expect.pending {
        let got = count(PodPhase::Pending);
        if got != want {
            failures.push(format!("pending: expected {want}, got {got}"));
        }
    }
    let deployments = timeline.deployments();
    for (key, want) in &expect.ready {
        let (namespace, name) = split_key(key);
        match deployments.iter().find(|d| d.namespace == namespace && d.name == name) {
            None => failures.push(format!("ready.{key}: no such deployment")),
            Some(d) if d.ready != *want => failures.push(format!("ready.{key}: expected {want}, got {}", d.ready)),
            Some(_) => {}
        }
    }
    for (key, want) in &expect.disruptions_allowed {
        let (namespace, name) = split_key(key);
        match timeline.disruptions_allowed(&namespace, &name) {
            None => failures.push(format!("disruptionsAllowed.{key}: no such PodDisruptionBudget")),
            Some(got) if got != *want => failures.push(format!("disruptionsAllowed.{key}: expected {want}, got {got}")),
            Some(_) => {}
        }
    }
    failures
}

type FieldError = (String, String);

fn field_err(field: &str, message: impl Into<String>) -> FieldError {
    (field.to_string(), message.into())
}

fn parse_step(raw: &Value, base: &Path) -> Result<Step, FieldError> {
    let map = raw.as_object().ok_or_else(|| field_err("", "must be a mapping"))?;
    let at = match map.get("at") {
        None => Duration::ZERO,
        Some(v) => parse_duration(v).map_err(|m| field_err("at", m))?,
    };
    let actions: Vec<(&String, &Value)> = map.iter().filter(|(k, _)| k.as_str() != "at").collect();
    let action = match actions.as_slice() {
        [] => Action::Wait,
        [(key, value)] => parse_action(key, value, base).map_err(|(f, m)| {
            let field = if f.is_empty() { (*key).clone() } else { format!("{key}.{f}") };
            (field, m)
        })?,
        _ => {
            let keys: Vec<&str> = actions.iter().map(|(k, _)| k.as_str()).collect();
            return Err(field_err("", format!("one action per step, found {}", keys.join(", "))));
        }
    };
    Ok(Step { at, action })
}

fn parse_action(key: &str, value: &Value, base: &Path) -> Result<Action, FieldError> {
    Ok(match key {
        "apply" => Action::Apply(parse_apply(value, base)?),
        "delete" => {
            let map = object(value, &["pod", "deployment", "node"])?;
            match map.iter().next() {
                Some((kind, v)) if map.len() == 1 => {
                    let target = string(v).map_err(|m| field_err(kind, m))?;
                    match kind.as_str() {
                        "pod" => {
                            let (namespace, name) = split_key(&target);
                            Action::DeletePod { namespace, name }
                        }
                        "deployment" => {
                            let (namespace, name) = split_key(&target);
                            Action::DeleteDeployment { namespace, name }
                        }
                        _ => Action::DeleteNode(target),
                    }
                }
                _ => return Err(field_err("", "give exactly one of pod, deployment, node")),
            }
        }
        "scale" => {
            let map = object(value, &["deployment", "replicas"])?;
            let target = string(map.get("deployment").ok_or_else(|| field_err("deployment", "required"))?)
                .map_err(|m| field_err("deployment", m))?;
            let replicas = map
                .get("replicas")
                .ok_or_else(|| field_err("replicas", "required"))?
                .as_i64()
                .and_then(|r| i32::try_from(r).ok())
                .filter(|r| *r >= 0)
                .ok_or_else(|| field_err("replicas", "must be a non-negative integer"))?;
            let (namespace, name) = split_key(&target);
            Action::Scale { namespace, name, replicas }
        }
        "cordon" => Action::Cordon(string(value).map_err(|m| field_err("", m))?),
        "uncordon" => Action::Uncordon(string(value).map_err(|m| field_err("", m))?),
        "drain" => match value {
            Value::String(node) => Action::Drain { node: node.clone(), force: false },
            _ => {
                let map = object(value, &["node", "force"])?;
                let node = string(map.get("node").ok_or_else(|| field_err("node", "required"))?)
                    .map_err(|m| field_err("node", m))?;
                let force = match map.get("force") {
                    None => false,
                    Some(v) => v.as_bool().ok_or_else(|| field_err("force", "must be true or false"))?,
                };
                Action::Drain { node, force }
            }
        },
        "taint" => {
            let map = object(value, &["node", "key", "value", "effect"])?;
            let node = required_string(map, "node")?;
            let key = required_string(map, "key")?;
            let value = match map.get("value") {
                None => String::new(),
                Some(v) => string(v).map_err(|m| field_err("value", m))?,
            };
            let effect = parse_effect(&required_string(map, "effect")?)?;
            Action::Taint { node, taint: Taint { key, value, effect } }
        }
        "untaint" => {
            let map = object(value, &["node", "key", "effect"])?;
            let node = required_string(map, "node")?;
            let key = required_string(map, "key")?;
            let effect = match map.get("effect") {
                None => None,
                Some(v) => Some(parse_effect(&string(v).map_err(|m| field_err("effect", m))?)?),
            };
            Action::Untaint { node, key, effect }
        }
        "expect" => Action::Expect(parse_expect(value)?),
        other => return Err(field_err("", format!("unknown action `{other}` (expected one of {STEP_KEYS})"))),
    })
}

fn parse_effect(text: &str) -> Result<Effect, FieldError> {
    Effect::parse(text)
        .ok_or_else(|| field_err("effect", format!("{text:?}: must be NoSchedule, PreferNoSchedule or NoExecute")))
}

fn parse_apply(value: &Value, base: &Path) -> Result<Vec<Document>, FieldError> {
    let items: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    let mut documents = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let field = if matches!(value, Value::Array(_)) { format!("[{i}]") } else { String::new() };
        match item {
            Value::String(path) => {
                let path: PathBuf = base.join(path);
                let docs = load::read_paths(&[path]).map_err(|e| field_err(&field, error_chain(&e)))?;
                documents.extend(docs);
            }
            Value::Object(map) if map.contains_key("kind") => documents.push(Document {
                origin: load::Origin { path: format!("inline apply{field}"), document: 1 },
                value: (*item).clone(),
            }),
            _ => return Err(field_err(&field, "must be a path or a manifest with a `kind`")),
        }
    }
    Ok(documents)
}

fn parse_expect(value: &Value) -> Result<Expectation, FieldError> {
    let map = object(value, &["pods", "nodeCounts", "running", "pending", "ready", "disruptionsAllowed"])?;
    let mut out = Expectation::default();
    let counts = |field: &str| -> Result<BTreeMap<String, i64>, FieldError> {
        let Some(v) = map.get(field) else { return Ok(BTreeMap::new()) };
        let m = v.as_object().ok_or_else(|| field_err(field, "must be a mapping"))?;
        m.iter()
            .map(|(k, v)| {
                v.as_i64()
                    .map(|n| (k.clone(), n))
                    .ok_or_else(|| field_err(&format!("{field}.{k}"), "must be an integer"))
            })
            .collect()
    };
    let non_negative = |field: &str| -> Result<BTreeMap<String, usize>, FieldError> {
        counts(field)?
            .into_iter()
            .map(|(k, n)| {
                usize::try_from(n)
                    .map(|n| (k.clone(), n))
                    .map_err(|_| field_err(&format!("{field}.{k}"), "must be 0 or more"))
            })
            .collect()
    };
    if let Some(v) = map.get("pods") {
        let m = v.as_object().ok_or_else(|| field_err("pods", "must be a mapping"))?;
        for (k, v) in m {
            out.pods.insert(k.clone(), string(v).map_err(|e| field_err(&format!("pods.{k}"), e))?);
        }
    }
    out.node_counts = non_negative("nodeCounts")?;
    out.ready = non_negative("ready")?;
    out.disruptions_allowed = counts("disruptionsAllowed")?;
    for (field, slot) in [("running", &mut out.running), ("pending", &mut out.pending)] {
        if let Some(v) = map.get(field) {
            *slot = Some(
                v.as_u64()
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or_else(|| field_err(field, "must be 0 or more"))?,
            );
        }
    }
    Ok(out)
}

fn object<'a>(value: &'a Value, allowed: &[&str]) -> Result<&'a Map<String, Value>, FieldError> {
    let map = value.as_object().ok_or_else(|| field_err("", "must be a mapping"))?;
    for key in map.keys() {
        if !allowed.contains(&key.as_str()) {
            return Err(field_err(key, format!("unknown field (expected {})", allowed.join(", "))));
        }
    }
    Ok(map)
}

fn string(value: &Value) -> Result<String, String> {
    match value {
        Value::String(s) if !s.is_empty() => Ok(s.clone()),
        Value::String(_) => Err("must not be empty".into()),
        _ => Err("must be a string".into()),
    }
}

fn required_string(map: &Map<String, Value>, field: &str) -> Result<String, FieldError> {
    string(map.get(field).ok_or_else(|| field_err(field, "required"))?).map_err(|m| field_err(field, m))
}

/// `NAMESPACE/NAME`, or `NAME` in `default`.
fn split_key(key: &str) -> (String, String) {
    match key.split_once('/') {
        Some((ns, name)) => (ns.to_string(), name.to_string()),
        None => ("default".to_string(), key.to_string()),
    }
}

/// Go-style durations (`90s`, `1m30s`, `500ms`, `2h`) or a number of
/// seconds.
pub fn parse_duration(value: &Value) -> Result<Duration, String> {
    if let Some(n) = value.as_u64() {
        return Ok(Duration::from_secs(n));
    }
    let text = value.as_str().ok_or("must be a duration such as 30s, 1m30s or 500ms")?;
    let bad = || format!("{text:?}: not a duration (use e.g. 30s, 1m30s, 500ms, 2h)");
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(rest.len());
        if digits == 0 {
            return Err(bad());
        }
        let number: f64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        total += Duration::try_from_secs_f64(number * scale).map_err(|_| bad())?;
    }
    Ok(total)
}

/// Go's `Duration.String` for whole milliseconds: `0s`, `500ms`, `1.5s`,
/// `1m30s`, `1h0m0s`.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return "0s".into();
    }
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let hours = ms / 3_600_000;
    let minutes = (ms / 60_000) % 60;
    let seconds = (ms / 1000) % 60;
    let frac = ms % 1000;
    let secs = if frac == 0 {
        format!("{seconds}s")
    } else {
        format!("{seconds}.{}s", format!("{frac:03}").trim_end_matches('0'))
    };
    if hours > 0 {
        format!("{hours}h{minutes}m{secs}")
    } else if minutes > 0 {
        format!("{minutes}m{secs}")
    } else {
        secs
    }
}

/// One event on one line: `TIME TYPE REASON OBJECT FROM: MESSAGE`, with
/// the time since `start`; client output is marked `(kubectl)`.
pub fn render_line(event: &Event, start: Timestamp) -> String {
    let time = format_duration(event.time.saturating_duration_since(start));
    let from = match event.kind {
        EventKind::Api => event.from.clone(),
        EventKind::Client => "(kubectl)".to_string(),
    };
    format!(
        "{time} {} {} {} {from}: {}",
        event.event_type.as_str(),
        event.reason,
        event.object.display(),
        event.message
    )
}

/// An error and its sources, joined with `: `.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_print_like_go() {
        for (text, secs) in [("0s", 0.0), ("90s", 90.0), ("1m30s", 90.0), ("500ms", 0.5), ("2h", 7200.0), ("1.5s", 1.5)]
        {
            let d = parse_duration(&Value::from(text)).expect("valid");
            assert_eq!(d.as_secs_f64(), secs, "{text}");
        }
        assert_eq!(parse_duration(&Value::from(45)).expect("number"), Duration::from_secs(45));
        assert!(parse_duration(&Value::from("10")).is_err());
        assert!(parse_duration(&Value::from("5x")).is_err());
        assert_eq!(format_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(format_duration(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_duration(Duration::from_millis(500)), "500ms");
        assert_eq!(format_duration(Duration::from_secs(120)), "2m0s");
    }

    fn parse_err(text: &str) -> String {
        Scenario::parse("s.yaml", text, Path::new(".")).expect_err("should fail").to_string()
    }

    #[test]
    fn errors_name_the_file_step_and_field() {
        assert_eq!(
            parse_err(
                "kind: Scenario\nsteps:\n- at: 0s\n  cordon: a\n- at: 5s\n  taint: {node: a, key: k, effect: Never}\n"
            ),
            "s.yaml: steps[1].taint.effect: \"Never\": must be NoSchedule, PreferNoSchedule or NoExecute"
        );
        assert_eq!(
            parse_err("kind: Scenario\nsteps:\n- at: 10s\n  cordon: a\n- at: 5s\n  uncordon: a\n"),
            "s.yaml: steps[1].at: 5s is before the previous step's 10s"
        );
        assert_eq!(
            parse_err("kind: Scenario\nsteps:\n- at: soon\n  cordon: a\n"),
            "s.yaml: steps[0].at: \"soon\": not a duration (use e.g. 30s, 1m30s, 500ms, 2h)"
        );
        assert_eq!(
            parse_err("kind: Scenario\nsteps:\n- reboot: a\n"),
            format!("s.yaml: steps[0].reboot: unknown action `reboot` (expected one of {STEP_KEYS})")
        );
        assert_eq!(
            parse_err("kind: Scenario\nsteps:\n- scale: {deployment: web, replicas: -1}\n"),
            "s.yaml: steps[0].scale.replicas: must be a non-negative integer"
        );
        assert_eq!(
            parse_err("kind: Scenario\nsteps:\n- cordon: a\n  uncordon: a\n"),
            "s.yaml: steps[0]: one action per step, found cordon, uncordon"
        );
        assert_eq!(
            parse_err("kind: Scenario\nsteps:\n- expect: {running: 1, ready: {web: many}}\n"),
            "s.yaml: steps[0].expect.ready.web: must be an integer"
        );
        assert_eq!(parse_err("kind: Pod\n"), "s.yaml: kind: no `kind: Scenario` document");
        assert!(parse_err("kind: Scenario\nsteps:\n- apply: missing.yaml\n").starts_with("s.yaml: steps[0].apply: "));
    }
}
