//! `cloudlet sched`: the real binary on manifest files — the JSON contract,
//! explanations, and errors that name the file, document and field.

use std::path::Path;

use crate::cloudlet;

const CLUSTER: &str = "\
apiVersion: v1
kind: Node
metadata: {name: big}
status: {allocatable: {cpu: '4', memory: 8Gi, pods: '110', nvidia.com/gpu: '2'}}
---
apiVersion: v1
kind: Node
metadata: {name: tainted}
spec: {taints: [{key: dedicated, value: infra, effect: NoSchedule}]}
status: {allocatable: {cpu: '8', memory: 8Gi, pods: '110'}}
---
apiVersion: v1
kind: Pod
metadata: {name: gpu-job}
spec: {containers: [{name: c, image: trainer, resources: {limits: {nvidia.com/gpu: '1'}, requests: {cpu: 1500m, memory: 2Gi}}}]}
---
apiVersion: v1
kind: Pod
metadata: {name: huge}
spec: {containers: [{name: c, image: app, resources: {requests: {cpu: '6'}}}]}
";

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    path.display().to_string()
}

fn run(args: &[&str]) -> (bool, String, String) {
    let out = cloudlet().args(args).output().unwrap_or_else(|e| panic!("run cloudlet: {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn simulate_prints_the_json_contract() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file = write(dir.path(), "cluster.yaml", CLUSTER);
    let (ok, stdout, stderr) = run(&["sched", "simulate", "-f", &file, "-o", "json"]);
    assert!(ok, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(report["placements"], serde_json::json!([{"namespace": "default", "name": "gpu-job", "node": "big"}]));
    assert_eq!(
        report["unschedulable"],
        serde_json::json!([{"namespace": "default", "name": "huge", "message":
            "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint(s). preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."}])
    );
    assert_eq!(report["preemptions"], serde_json::json!([]));
    assert_eq!(
        report["nodes"][0],
        serde_json::json!({"name": "big",
            "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110", "nvidia.com/gpu": "2"},
            "allocated": {"cpu": "1500m", "memory": "2Gi", "pods": "1", "nvidia.com/gpu": "1"}})
    );
}

#[test]
fn explain_shows_every_node_and_can_redact_taints() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file = write(dir.path(), "cluster.yaml", CLUSTER);
    let (ok, stdout, stderr) = run(&["sched", "explain", "-f", &file, "default/huge"]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("untolerated taint {dedicated: infra} (NoSchedule)"), "{stdout}");
    assert!(stdout.contains("NodeResourcesFit: Insufficient cpu"), "{stdout}");
    let (ok, stdout, _) = run(&["sched", "explain", "-f", &file, "default/huge", "--redact", "-o", "json"]);
    assert!(ok);
    assert!(!stdout.contains("infra"), "{stdout}");
    let explanation: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(explanation["nodes"].as_array().map(Vec::len), Some(2));
}

#[test]
fn bad_manifests_name_file_document_and_field() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file = write(
        dir.path(),
        "bad.yaml",
        "apiVersion: v1\nkind: Node\nmetadata: {name: n}\nstatus: {allocatable: {cpu: lots}}\n",
    );
    let (ok, _, stderr) = run(&["sched", "simulate", "-f", &file]);
    assert!(!ok);
    assert!(
        stderr
            .contains(&format!("{file}, document 1 (Node n): status.allocatable.cpu: \"lots\": quantities must match")),
        "{stderr}"
    );
}

#[test]
fn bench_reports_pods_per_second() {
    let (ok, stdout, stderr) = run(&[
        "sched",
        "bench",
        "--workload",
        "SchedulingBasic",
        "--nodes",
        "50",
        "--pods",
        "200",
        "--init-pods",
        "10",
        "-o",
        "json",
    ]);
    assert!(ok, "{stderr}");
    let result: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(result["scheduled"], 200);
    assert!(result["pods_per_second"].as_f64().is_some_and(|p| p > 0.0), "{stdout}");
}

const SCENARIO_CLUSTER: &str = "\
apiVersion: v1
kind: Node
metadata: {name: n1}
status: {allocatable: {cpu: '2', memory: 8Gi, pods: '110'}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      tolerations: [{key: maint, operator: Exists, effect: NoExecute, tolerationSeconds: 30}]
      containers: [{name: web, image: nginx, resources: {requests: {cpu: '1'}}}]
";

const SCENARIO: &str = "\
kind: Scenario
steps:
  - at: 10s
    taint: {node: n1, key: maint, effect: NoExecute}
  - at: 39s
    expect: {ready: {default/web: 1}}
  - at: 40s
    expect: {ready: {default/web: 1}, pending: 0}
  - at: 1m
    untaint: {node: n1, key: maint}
";

#[test]
fn scenario_prints_the_timeline_and_json_events() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let cluster = write(dir.path(), "cluster.yaml", SCENARIO_CLUSTER);
    let scenario = write(dir.path(), "scenario.yaml", SCENARIO);
    let (ok, stdout, stderr) = run(&["sched", "simulate", "-f", &cluster, "--scenario", &scenario, "-o", "json"]);
    assert!(ok, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(report["failedExpectations"], serde_json::json!([]));
    let events = report["events"].as_array().unwrap_or_else(|| panic!("events array: {stdout}"));
    let eviction = events
        .iter()
        .find(|e| e["reason"] == "TaintManagerEviction")
        .unwrap_or_else(|| panic!("no eviction in {stdout}"));
    assert_eq!(eviction["time"], "40s");
    assert_eq!(eviction["from"], "taint-eviction-controller");
    let pod = eviction["object"]["name"].as_str().unwrap_or_default().to_string();
    assert_eq!(eviction["message"], format!("Marking for deletion Pod default/{pod}"));
    // The replacement tolerates the taint for 30 s too: it is placed at
    // once, and removing the taint at 1m cancels its eviction.
    let last = events.last().unwrap_or_else(|| panic!("events: {stdout}"));
    assert_eq!((last["time"].as_str(), last["reason"].as_str()), (Some("1m0s"), Some("TaintManagerEviction")));
    assert!(last["message"].as_str().is_some_and(|m| m.starts_with("Cancelling deletion of Pod default/web-")));
    assert_eq!(report["placements"].as_array().map(Vec::len), Some(2), "{stdout}");
    assert_eq!(report["unschedulable"], serde_json::json!([]));

    let (ok, stdout, stderr) = run(&["sched", "simulate", "-f", &cluster, "--scenario", &scenario]);
    assert!(ok, "{stderr}");
    assert!(stdout.lines().next().is_some_and(|l| l.starts_with("TIME") && l.contains("MESSAGE")), "{stdout}");
    assert!(stdout.contains("(kubectl)"), "{stdout}");
    assert!(stdout.contains("Marking for deletion Pod default/web-"), "{stdout}");
}

#[test]
fn scenario_failures_name_the_file_step_and_field() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let cluster = write(dir.path(), "cluster.yaml", SCENARIO_CLUSTER);
    let wrong = write(dir.path(), "wrong.yaml", "kind: Scenario\nsteps:\n- at: 5s\n  expect: {pending: 3}\n");
    let (ok, stdout, stderr) = run(&["sched", "simulate", "-f", &cluster, "--scenario", &wrong]);
    assert!(!ok, "{stdout}");
    assert!(stderr.contains(&format!("{wrong}: 1 expectation(s) failed")), "{stderr}");
    assert!(stderr.contains("steps[0].expect.pending: expected 3, got 0"), "{stderr}");

    let bad = write(dir.path(), "bad.yaml", "kind: Scenario\nsteps:\n- at: 5s\n  drain: {node: n1, gently: true}\n");
    let (ok, _, stderr) = run(&["sched", "simulate", "-f", &cluster, "--scenario", &bad]);
    assert!(!ok);
    assert!(
        stderr.contains(&format!("{bad}: steps[0].drain.gently: unknown field (expected node, force)")),
        "{stderr}"
    );

    let missing = write(dir.path(), "missing.yaml", "kind: Scenario\nsteps:\n- at: 5s\n  cordon: n9\n");
    let (ok, _, stderr) = run(&["sched", "simulate", "-f", &cluster, "--scenario", &missing]);
    assert!(!ok);
    assert!(stderr.contains(&format!("{missing}: steps[0].cordon: nodes \"n9\" not found")), "{stderr}");
}
