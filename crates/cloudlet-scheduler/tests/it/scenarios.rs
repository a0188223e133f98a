//! Runs every `tests/scenarios/*.yaml`. A scenario file is a manifest file
//! whose first document is cloudlet's own `kind: Scenario`:
//!
//! ```yaml
//! kind: Scenario
//! description: what upstream behaviour this pins down
//! seed: 0                      # optional
//! config: |                    # optional KubeSchedulerConfiguration
//!   apiVersion: kubescheduler.config.k8s.io/v1
//!   ...
//! expect:
//!   placements: {default/a: node-1}        # every placement, exactly
//!   nodeCounts: {node-1: 2}                # or: pods placed per node
//!   unschedulable: {default/b: "0/2 nodes are available: ..."}
//!   preemptions: [{preemptor: default/c, node: node-1, victims: [default/low]}]
//!   explain:                               # one pod's cycle
//!     pod: default/a
//!     scores: {node-1: {NodeResourcesFit: "37/37/37", total: 290}}
//! ```
//!
//! Scores are `raw/normalized/weighted`. Missing sections are not checked,
//! except `unschedulable`, which must list every pending pod whenever
//! `placements` or `nodeCounts` is given.

use std::collections::BTreeMap;
use std::path::Path;

use cloudlet_scheduler::config::Profile;
use cloudlet_scheduler::load::{Manifests, parse_documents};
use cloudlet_scheduler::simulate::Simulation;
use serde_json::Value;

fn as_map(v: Option<&Value>) -> Option<BTreeMap<String, String>> {
    v.and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_string))).collect())
}

fn run(path: &Path) -> Result<(), String> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let docs = parse_documents(&name, &text).map_err(|e| e.to_string())?;
    let (scenario, manifests): (Vec<_>, Vec<_>) =
        docs.into_iter().partition(|d| d.value.get("kind").and_then(Value::as_str) == Some("Scenario"));
    let scenario = scenario.into_iter().next().ok_or("no `kind: Scenario` document")?.value;
    let profile = match scenario.get("config").and_then(Value::as_str) {
        Some(config) => Profile::from_config(&name, config).map_err(|e| e.to_string())?,
        None => Profile::default(),
    };
    let seed = scenario.get("seed").and_then(Value::as_u64).unwrap_or(0);
    let manifests = Manifests::build(&manifests).map_err(|e| e.to_string())?;
    let mut sim = Simulation::new(manifests, profile, seed).map_err(|e| e.to_string())?;
    let expect = scenario.get("expect").cloned().unwrap_or(Value::Null);
    let explain = expect.pointer("/explain/pod").and_then(Value::as_str);
    if let Some(pod) = explain {
        let (ns, n) = pod.split_once('/').ok_or("explain.pod must be NAMESPACE/NAME")?;
        sim.explain(ns, n).map_err(|e| e.to_string())?;
    }
    let report = sim.run();
    let mut failures = Vec::new();

    let placements: BTreeMap<String, String> =
        report.placements.iter().map(|p| (format!("{}/{}", p.namespace, p.name), p.node.clone())).collect();
    let unschedulable: BTreeMap<String, String> =
        report.unschedulable.iter().map(|p| (format!("{}/{}", p.namespace, p.name), p.message.clone())).collect();
    if let Some(want) = as_map(expect.get("placements"))
        && want != placements
    {
        failures.push(format!("placements:\n  want {want:?}\n  got  {placements:?}"));
    }
    if let Some(want) = as_map(expect.get("nodeCounts")) {
        let mut got: BTreeMap<String, String> = BTreeMap::new();
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for node in placements.values() {
            *counts.entry(node).or_default() += 1;
        }
        for (node, n) in counts {
            got.insert(node.to_string(), n.to_string());
        }
        if want != got {
            failures.push(format!("nodeCounts:\n  want {want:?}\n  got  {got:?}"));
        }
    }
    let strict = expect.get("placements").is_some() || expect.get("nodeCounts").is_some();
    match as_map(expect.get("unschedulable")) {
        Some(want) if want != unschedulable => {
            failures.push(format!("unschedulable:\n  want {want:#?}\n  got  {unschedulable:#?}"));
        }
        None if strict && !unschedulable.is_empty() => {
            failures.push(format!("unexpected unschedulable pods: {unschedulable:#?}"));
        }
        _ => {}
    }
    if let Some(want) = expect.get("preemptions").and_then(Value::as_array) {
        let got: Vec<Value> = report
            .preemptions
            .iter()
            .map(|p| {
                serde_json::json!({
                    "preemptor": format!("{}/{}", p.preemptor.0, p.preemptor.1),
                    "node": p.node,
                    "victims": p.victims.iter().map(|(ns, n)| format!("{ns}/{n}")).collect::<Vec<_>>(),
                })
            })
            .collect();
        if *want != got {
            failures.push(format!("preemptions:\n  want {want:?}\n  got  {got:?}"));
        }
    }
    if let Some(want) = expect.pointer("/explain/scores").and_then(Value::as_object) {
        let explanation = sim.explanation().ok_or("the explained pod had no scheduling cycle")?;
        for (node, plugins) in want {
            let Some(got) = explanation.nodes.iter().find(|n| &n.node == node) else {
                failures.push(format!("explain: no node {node}"));
                continue;
            };
            for (plugin, value) in plugins.as_object().into_iter().flatten() {
                let want = value.as_str().map_or_else(|| value.to_string(), str::to_string);
                let have = if plugin == "total" {
                    got.total.map_or_else(|| "none".to_string(), |t| t.to_string())
                } else {
                    got.scores
                        .iter()
                        .find(|s| s.plugin.name() == plugin)
                        .map_or_else(|| "skipped".to_string(), |s| format!("{}/{}/{}", s.raw, s.normalized, s.weighted))
                };
                if want != have {
                    failures.push(format!("explain {node} {plugin}: want {want}, got {have}"));
                }
            }
        }
    }
    if failures.is_empty() { Ok(()) } else { Err(failures.join("\n")) }
}

#[test]
fn golden_scenarios() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|e| e == "yaml")).collect()
        })
        .unwrap_or_default();
    files.sort();
    assert!(files.len() >= 10, "expected the scenario files in {}", dir.display());
    let mut failed = Vec::new();
    for file in &files {
        if let Err(err) = run(file) {
            failed.push(format!("--- {}\n{err}", file.display()));
        }
    }
    assert!(failed.is_empty(), "{} of {} scenarios failed:\n{}", failed.len(), files.len(), failed.join("\n"));
}
