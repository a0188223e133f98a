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
