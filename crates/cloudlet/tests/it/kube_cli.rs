//! `cloudlet kube ...` against a real daemon: apply and scheduled
//! placements, kubectl's tables and describe events, cordon and the
//! FailedScheduling message, NoExecute evictions, drain against a
//! PodDisruptionBudget, state after `kill -9`, and bad manifests.

use std::path::Path;
use std::process::Output;

use super::*;

const NODES: &str = "\
apiVersion: v1
kind: Node
metadata:
  name: node-a
  labels:
    node-role.kubernetes.io/worker: ''
status:
  allocatable: { cpu: '4', memory: 8Gi, pods: '110' }
---
apiVersion: v1
kind: Node
metadata:
  name: node-b
status:
  allocatable: { cpu: '4', memory: 8Gi, pods: '110' }
";

fn pod(name: &str, cpu: &str, label: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels: {{ app: {label} }}\nspec:\n  containers:\n  \
         - name: main\n    image: nginx:1.27\n    resources:\n      requests: {{ cpu: {cpu}, memory: 64Mi }}\n"
    )
}

fn deployment(name: &str, replicas: u32, cpu: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  replicas: {replicas}\n  \
         selector:\n    matchLabels: {{ app: {name} }}\n  template:\n    metadata:\n      labels: {{ app: {name} }}\n    \
         spec:\n      containers:\n      - name: main\n        image: nginx:1.27\n        resources:\n          \
         requests: {{ cpu: '{cpu}' }}\n"
    )
}

fn kube(daemon: &Daemon, args: &[&str]) -> Output {
    cloudlet()
        .args(["kube", "--endpoint", &format!("http://{}", daemon.addr)])
        .args(args)
        .output()
        .expect("run cloudlet kube")
}

fn ok(output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "exit {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}", output.status);
    stdout
}

fn failed(output: &Output) -> (String, String) {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(1), "stdout:\n{stdout}\nstderr:\n{stderr}");
    (stdout, stderr)
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write manifest");
    path.to_str().expect("utf-8 path").to_string()
}

/// `get pods -o wide` as (name, status, node) rows.
fn pods(daemon: &Daemon) -> Vec<(String, String, String)> {
    let out = ok(&kube(daemon, &["get", "pods", "-o", "wide"]));
    out.lines()
        .skip(1)
        .map(|line| {
            let cells: Vec<&str> = line.split_whitespace().collect();
            (cells[0].to_string(), cells[2].to_string(), cells[6].to_string())
        })
        .collect()
}

#[test]
fn apply_get_describe_cordon_and_taint() {
    let data = tempfile::tempdir().expect("tempdir");
    let manifests = tempfile::tempdir().expect("tempdir");
    let daemon = Daemon::start(data.path());
    let nodes = write(manifests.path(), "nodes.yaml", NODES);
    let apps = write(
        manifests.path(),
        "apps.yaml",
        &format!("{}---\n{}", pod("solo", "500m", "solo"), deployment("web", 2, "1")),
    );

    assert_eq!(ok(&kube(&daemon, &["apply", "-f", &nodes])), "node/node-a created\nnode/node-b created\n");
    assert_eq!(ok(&kube(&daemon, &["apply", "-f", &apps])), "pod/solo created\ndeployment.apps/web created\n");
    assert_eq!(ok(&kube(&daemon, &["apply", "-f", &apps])), "pod/solo unchanged\ndeployment.apps/web unchanged\n");
    let relabelled = write(manifests.path(), "solo.yaml", &pod("solo", "500m", "solo2"));
    assert_eq!(ok(&kube(&daemon, &["apply", "-f", &relabelled])), "pod/solo configured\n");

    let out = ok(&kube(&daemon, &["get", "nodes"]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "NAME     STATUS   ROLES    AGE   VERSION");
    assert!(lines[1].starts_with("node-a   Ready    worker   "), "{out}");
    assert!(lines[2].starts_with("node-b   Ready    <none>   "), "{out}");

    let out = ok(&kube(&daemon, &["get", "pods", "-o", "wide"]));
    assert!(out.starts_with("NAME "), "{out}");
    let header = out.lines().next().unwrap_or_default();
    assert!(header.contains(" IP ") && header.ends_with("   NOMINATED NODE   READINESS GATES"), "{out}");
    let rows = pods(&daemon);
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert!(rows.iter().all(|(_, status, node)| status == "Running" && node.starts_with("node-")), "{rows:?}");
    assert!(rows.iter().filter(|(name, _, _)| name.starts_with("web-")).count() == 2);
    let out = ok(&kube(&daemon, &["get", "deployments"]));
    assert!(out.lines().nth(1).is_some_and(|l| l.starts_with("web    2/2     2            2           ")), "{out}");
    assert_eq!(ok(&kube(&daemon, &["get", "pods", "solo", "-o", "name"])), "pod/solo\n");
    let json: serde_json::Value =
        serde_json::from_str(&ok(&kube(&daemon, &["get", "pod", "solo", "-o", "json"]))).expect("json");
    assert_eq!(json["status"]["phase"], "Running");
    assert!(ok(&kube(&daemon, &["get", "pod", "solo", "-o", "yaml"])).contains("\n  phase: Running\n"));

    let out = ok(&kube(&daemon, &["describe", "pod", "solo"]));
    let node = rows.iter().find(|r| r.0 == "solo").map(|r| r.2.clone()).expect("solo row");
    assert!(out.starts_with("Name:             solo\nNamespace:        default\nPriority:         0\n"), "{out}");
    assert!(out.contains(&format!("Node:             {node}/\n")), "{out}");
    assert!(out.contains("Status:           Running\n"), "{out}");
    assert!(out.contains("no container runs"), "{out}");
    assert!(out.contains("Events:\n  Type    Reason     Age   From               Message\n"), "{out}");
    assert!(out.contains(&format!("default-scheduler  Successfully assigned default/solo to {node}\n")), "{out}");

    // Cordon both nodes: a new pod stays Pending with the scheduler's message.
    assert_eq!(ok(&kube(&daemon, &["cordon", "node-a"])), "node/node-a cordoned\n");
    assert_eq!(ok(&kube(&daemon, &["cordon", "node-a"])), "node/node-a already cordoned\n");
    ok(&kube(&daemon, &["cordon", "node-b"]));
    assert!(ok(&kube(&daemon, &["get", "nodes"])).contains("Ready,SchedulingDisabled"));
    let late = write(manifests.path(), "late.yaml", &pod("late", "100m", "late"));
    ok(&kube(&daemon, &["apply", "-f", &late]));
    assert!(pods(&daemon).contains(&("late".into(), "Pending".into(), "<none>".into())));
    let out = ok(&kube(&daemon, &["describe", "pod", "late"]));
    assert!(out.contains("  Warning  FailedScheduling  "), "{out}");
    assert!(
        out.contains(
            "  default-scheduler  0/2 nodes are available: 2 node(s) were unschedulable. preemption: 0/2 nodes are \
             available: 2 Preemption is not helpful for scheduling.\n"
        ),
        "{out}"
    );
    assert_eq!(ok(&kube(&daemon, &["uncordon", "node-b"])), "node/node-b uncordoned\n");
    assert!(pods(&daemon).contains(&("late".into(), "Running".into(), "node-b".into())));
    ok(&kube(&daemon, &["uncordon", "node-a"]));

    // A NoExecute taint evicts what does not tolerate it; the deployment's
    // pods come back elsewhere, the bare pods do not.
    assert_eq!(ok(&kube(&daemon, &["taint", "nodes", "node-a", "maintenance=now:NoExecute"])), "node/node-a tainted\n");
    let rows = pods(&daemon);
    assert!(rows.iter().all(|r| r.2 != "node-a"), "{rows:?}");
    assert_eq!(rows.iter().filter(|r| r.0.starts_with("web-") && r.1 == "Running").count(), 2, "{rows:?}");
    let out = ok(&kube(&daemon, &["describe", "node", "node-a"]));
    assert!(out.contains("Taints:             maintenance=now:NoExecute\n"), "{out}");
    let (_, stderr) = failed(&kube(&daemon, &["taint", "nodes", "node-a", "maintenance=later:NoExecute"]));
    assert!(stderr.contains("already has maintenance taint(s) with same effect(s)"), "{stderr}");
    assert_eq!(ok(&kube(&daemon, &["taint", "nodes", "node-a", "maintenance:NoExecute-"])), "node/node-a untainted\n");

    let (_, stderr) = failed(&kube(&daemon, &["get", "pod", "nope"]));
    assert_eq!(stderr, "Error from server (NotFound): pods \"nope\" not found\n");
    let (_, stderr) = failed(&kube(&daemon, &["delete", "deployment", "nope"]));
    assert_eq!(stderr, "Error from server (NotFound): deployments.apps \"nope\" not found\n");
    assert_eq!(ok(&kube(&daemon, &["delete", "pod", "late"])), "pod \"late\" deleted\n");
    assert_eq!(ok(&kube(&daemon, &["delete", "deployment", "web"])), "deployment.apps \"web\" deleted\n");
    let rows = pods(&daemon);
    assert!(rows.iter().all(|r| r.0 == "solo"), "only the bare pod may be left: {rows:?}");
    let out = kube(&daemon, &["get", "pods", "-n", "kube-system"]);
    assert_eq!(String::from_utf8_lossy(&out.stderr), "No resources found in kube-system namespace.\n");
}

#[test]
fn drain_waits_for_the_disruption_budget_then_finishes() {
    let data = tempfile::tempdir().expect("tempdir");
    let manifests = tempfile::tempdir().expect("tempdir");
    let daemon = Daemon::start(data.path());
    let nodes = write(manifests.path(), "nodes.yaml", NODES);
    ok(&kube(&daemon, &["apply", "-f", &nodes]));
    ok(&kube(&daemon, &["cordon", "node-b"]));
    let pdb = "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n  name: web-pdb\nspec:\n  minAvailable: 1\n  \
               selector:\n    matchLabels: { app: web }\n";
    let apps = write(manifests.path(), "apps.yaml", &format!("{}---\n{pdb}", deployment("web", 2, "1")));
    ok(&kube(&daemon, &["apply", "-f", &apps]));
    assert!(pods(&daemon).iter().all(|r| r.2 == "node-a"));
    let out = ok(&kube(&daemon, &["get", "pdb"]));
    assert!(out.contains("web-pdb   1               N/A               1                     "), "{out}");

    // With node-b cordoned the first eviction's replacement cannot run, so
    // the budget refuses the second until the timeout.
    let (stdout, stderr) = failed(&kube(&daemon, &["drain", "node-a", "--ignore-daemonsets", "--timeout", "1s"]));
    assert!(stdout.starts_with("node/node-a cordoned\nevicting pod default/web-"), "{stdout}");
    assert_eq!(stdout.matches(" evicted\n").count(), 1, "{stdout}");
    assert!(
        stderr.contains("(will retry after 5s): Cannot evict pod as it would violate the pod's disruption budget.\n"),
        "{stderr}"
    );
    assert!(stderr.contains("global timeout reached: 1s"), "{stderr}");
    assert!(stderr.contains("There are pending nodes to be drained:\n node-a\n"), "{stderr}");

    ok(&kube(&daemon, &["uncordon", "node-b"]));
    let stdout = ok(&kube(&daemon, &["drain", "node-a", "--ignore-daemonsets"]));
    assert!(stdout.starts_with("node/node-a already cordoned\nevicting pod default/web-"), "{stdout}");
    assert!(stdout.ends_with(" evicted\nnode/node-a drained\n"), "{stdout}");
    let rows = pods(&daemon);
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r.1 == "Running" && r.2 == "node-b"), "{rows:?}");

    // A pod no controller manages needs --force.
    let bare = write(manifests.path(), "bare.yaml", &pod("bare", "100m", "bare"));
    ok(&kube(&daemon, &["apply", "-f", &bare]));
    let (_, stderr) = failed(&kube(&daemon, &["drain", "node-b"]));
    assert!(
        stderr.contains("cannot delete Pods that declare no controller (use --force to override): default/bare"),
        "{stderr}"
    );
}

#[test]
fn the_cluster_survives_kill_9() {
    let data = tempfile::tempdir().expect("tempdir");
    let manifests = tempfile::tempdir().expect("tempdir");
    let nodes = write(manifests.path(), "nodes.yaml", NODES);
    let apps = write(manifests.path(), "solo.yaml", &pod("solo", "500m", "solo"));
    let mut daemon = Daemon::start(data.path());
    ok(&kube(&daemon, &["apply", "-f", &nodes, "-f", &apps]));
    ok(&kube(&daemon, &["cordon", "node-b"]));
    let before = pods(&daemon);
    daemon.signal("KILL");
    daemon.wait_exit(Duration::from_secs(5));
    drop(daemon);

    let daemon = Daemon::start(data.path());
    assert_eq!(pods(&daemon), before);
    assert!(ok(&kube(&daemon, &["get", "nodes"])).contains("node-b   Ready,SchedulingDisabled"));
    assert_eq!(ok(&kube(&daemon, &["apply", "-f", &apps])), "pod/solo unchanged\n");
    let node = &before.iter().find(|r| r.0 == "solo").expect("solo").2;
    let out = ok(&kube(&daemon, &["describe", "pod", "solo"]));
    assert!(out.contains(&format!("Successfully assigned default/solo to {node}")), "{out}");
}

#[test]
fn bad_manifests_name_the_file_document_and_field() {
    let data = tempfile::tempdir().expect("tempdir");
    let manifests = tempfile::tempdir().expect("tempdir");
    let daemon = Daemon::start(data.path());
    let text = format!(
        "{}---\n{}---\napiVersion: v1\nkind: Widget\nmetadata:\n  name: w\n",
        NODES.split("---").next().expect("first node"),
        pod("greedy", "lots", "x")
    );
    let bad = write(manifests.path(), "bad.yaml", &text);
    let (stdout, stderr) = failed(&kube(&daemon, &["apply", "-f", &bad]));
    assert_eq!(stdout, "node/node-a created\n");
    assert!(
        stderr.contains(&format!(
            "Error from server (Invalid): error when creating \"{bad}\" (document 2): Pod \"greedy\" is invalid: \
             spec.containers[0].resources.requests"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("from \"{bad}\" (document 3): no matches for kind \"Widget\" in version \"v1\"")),
        "{stderr}"
    );

    let broken = write(manifests.path(), "broken.yaml", "kind: Pod\n  metadata: [\n");
    let (_, stderr) = failed(&kube(&daemon, &["apply", "-f", &broken]));
    assert!(stderr.starts_with(&format!("error: {broken}: not valid YAML or JSON")), "{stderr}");
}
