//! The live cluster as data: objects in, objects, events and writes out.

use serde_json::{Value, json};

use super::*;

const T0: u64 = 1_700_000_000_000;

fn node(name: &str, cpu: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": { "name": name, "labels": { "kubernetes.io/hostname": name } },
        "status": { "allocatable": { "cpu": cpu, "memory": "8Gi", "pods": "110" } },
    })
}

fn pod(name: &str, cpu: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": { "name": name, "labels": { "app": "web" } },
        "spec": { "containers": [{ "name": "c", "image": "nginx", "resources": { "requests": { "cpu": cpu } } }] },
    })
}

fn cluster() -> LiveCluster {
    LiveCluster::new(Vec::new(), Profile::default())
}

fn phase(c: &LiveCluster, name: &str) -> (String, Option<String>) {
    let p = c.get(Kind::Pod, "default", name).expect("pod");
    (p["status"]["phase"].as_str().unwrap_or_default().to_string(), p["spec"]["nodeName"].as_str().map(str::to_string))
}

fn events(c: &LiveCluster, object: &str) -> Vec<(String, String, i64)> {
    c.list(Kind::Event, None)
        .into_iter()
        .filter(|e| e["involvedObject"]["name"] == object)
        .map(|e| {
            (
                e["reason"].as_str().unwrap_or_default().to_string(),
                e["message"].as_str().unwrap_or_default().to_string(),
                e["count"].as_i64().unwrap_or(0),
            )
        })
        .collect()
}

#[test]
fn an_applied_pod_is_scheduled_and_marked_running() {
    let mut c = cluster();
    c.create(Kind::Node, "", node("a", "2"), T0).expect("node");
    let created = c.create(Kind::Pod, "default", pod("p", "500m"), T0 + 1000).expect("pod");
    assert_eq!(created["status"]["phase"], "Running");
    assert_eq!(created["spec"]["nodeName"], "a");
    assert_eq!(created["status"]["startTime"], "2023-11-14T22:13:21Z");
    assert!(created["status"]["podIP"].as_str().is_some_and(|ip| ip.starts_with("10.244.")));
    assert_eq!(events(&c, "p"), vec![("Scheduled".into(), "Successfully assigned default/p to a".into(), 1)]);
    let writes = c.take_writes();
    assert!(writes.iter().any(|w| matches!(w, KubeWrite::Put(o) if o.kind == Kind::Pod && o.name == "p")));
    assert!(c.take_writes().is_empty());
}

#[test]
fn a_cordoned_node_leaves_new_pods_pending_until_uncordoned() {
    let mut c = cluster();
    c.create(Kind::Node, "", node("a", "2"), T0).expect("node");
    c.merge_patch(Kind::Node, "", "a", &json!({ "spec": { "unschedulable": true } }), T0).expect("cordon");
    c.create(Kind::Pod, "default", pod("p", "100m"), T0).expect("pod");
    assert_eq!(phase(&c, "p"), ("Pending".into(), None));
    let p = c.get(Kind::Pod, "default", "p").expect("pod");
    assert_eq!(p["status"]["conditions"][0]["reason"], "Unschedulable");
    let message = "0/1 nodes are available: 1 node(s) were unschedulable. preemption: 0/1 nodes are available: \
                   1 Preemption is not helpful for scheduling.";
    assert_eq!(events(&c, "p"), vec![("FailedScheduling".into(), message.into(), 1)]);
    c.merge_patch(Kind::Node, "", "a", &json!({ "spec": { "unschedulable": null } }), T0).expect("uncordon");
    assert_eq!(phase(&c, "p"), ("Running".into(), Some("a".into())));
}

#[test]
fn errors_are_kubernetes_statuses() {
    let mut c = cluster();
    let e = c.get(Kind::Pod, "default", "x").expect_err("missing");
    assert_eq!((e.code, e.reason, e.message.as_str()), (404, "NotFound", "pods \"x\" not found"));
    c.create(Kind::Node, "", node("a", "2"), T0).expect("node");
    let e = c.create(Kind::Node, "", node("a", "2"), T0).expect_err("twice");
    assert_eq!((e.code, e.message.as_str()), (409, "nodes \"a\" already exists"));
    let e = c.create(Kind::Pod, "default", pod("p", "lots"), T0).expect_err("bad quantity");
    assert_eq!(e.code, 422);
    assert!(e.message.starts_with("Pod \"p\" is invalid: spec.containers[0].resources.requests"), "{}", e.message);
    let e = c.create(Kind::Pod, "nowhere", pod("p", "1"), T0).expect_err("namespace");
    assert_eq!(e.message, "namespaces \"nowhere\" not found");
    let e = c.create(Kind::Pod, "default", pod("Bad_Name", "1"), T0).expect_err("name");
    assert!(e.message.contains("a lowercase RFC 1123 subdomain"), "{}", e.message);
    assert_eq!(e.status()["details"]["kind"], "pods");
}

#[test]
fn deployments_keep_their_replicas_and_evictions_respect_budgets() {
    let mut c = cluster();
    c.create(Kind::Node, "", node("a", "4"), T0).expect("node");
    let deployment = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": { "name": "web" },
        "spec": {
            "replicas": 2,
            "selector": { "matchLabels": { "app": "web" } },
            "template": {
                "metadata": { "labels": { "app": "web" } },
                "spec": { "containers": [{ "name": "c", "image": "nginx", "resources": { "requests": { "cpu": "1" } } }] },
            },
        },
    });
    c.create(Kind::Deployment, "default", deployment, T0).expect("deployment");
    let pods: Vec<Value> = c.list(Kind::Pod, Some("default")).into_iter().cloned().collect();
    assert_eq!(pods.len(), 2);
    assert!(pods.iter().all(|p| p["status"]["phase"] == "Running"));
    let d = c.get(Kind::Deployment, "default", "web").expect("deployment");
    assert_eq!(d["status"]["readyReplicas"], 2);
    let pdb = json!({
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
        "metadata": { "name": "web-pdb" },
        "spec": { "minAvailable": 2, "selector": { "matchLabels": { "app": "web" } } },
    });
    c.create(Kind::PodDisruptionBudget, "default", pdb, T0).expect("pdb");
    let status = &c.get(Kind::PodDisruptionBudget, "default", "web-pdb").expect("pdb")["status"];
    assert_eq!(status["disruptionsAllowed"], 0);
    let victim = pods[0]["metadata"]["name"].as_str().expect("name").to_string();
    let e = c.evict("default", &victim, T0).expect_err("budget");
    assert_eq!((e.code, e.reason), (429, "TooManyRequests"));
    assert_eq!(e.causes[0].1, "The disruption budget web-pdb needs 2 healthy pods and has 2 currently");
    // A plain delete is not an eviction; the controller replaces the pod.
    c.delete(Kind::Pod, "default", &victim, T0).expect("delete");
    let after: Vec<&Value> = c.list(Kind::Pod, Some("default"));
    assert_eq!(after.len(), 2);
    assert!(after.iter().all(|p| p["metadata"]["name"] != victim.as_str()));
    c.merge_patch(Kind::Deployment, "default", "web", &json!({ "spec": { "replicas": 1 } }), T0).expect("scale");
    assert_eq!(c.list(Kind::Pod, Some("default")).len(), 1);
    c.delete(Kind::Deployment, "default", "web", T0).expect("delete deployment");
    assert!(c.list(Kind::Pod, Some("default")).is_empty());
}

#[test]
fn no_execute_taints_evict_now_or_after_toleration_seconds() {
    let mut c = cluster();
    c.create(Kind::Node, "", node("a", "4"), T0).expect("node");
    c.create(Kind::Pod, "default", pod("plain", "100m"), T0).expect("pod");
    let mut tolerant = pod("tolerant", "100m");
    tolerant["spec"]["tolerations"] =
        json!([{ "key": "maintenance", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30 }]);
    c.create(Kind::Pod, "default", tolerant, T0).expect("pod");
    let taint = json!({ "spec": { "taints": [{ "key": "maintenance", "value": "now", "effect": "NoExecute" }] } });
    c.merge_patch(Kind::Node, "", "a", &taint, T0 + 1000).expect("taint");
    assert!(c.get(Kind::Pod, "default", "plain").is_err(), "evicted at once");
    assert_eq!(events(&c, "plain")[1].0, "TaintManagerEviction");
    assert!(c.get(Kind::Pod, "default", "tolerant").is_ok());
    c.take_writes();
    assert!(!c.advance(T0 + 30_000));
    assert!(c.get(Kind::Pod, "default", "tolerant").is_ok());
    assert!(c.advance(T0 + 31_000));
    assert!(c.get(Kind::Pod, "default", "tolerant").is_err(), "evicted after 30 s");
}

#[test]
fn time_alone_does_not_retry_pending_pods() {
    let mut c = cluster();
    c.create(Kind::Pod, "default", pod("p", "100m"), T0).expect("pod");
    assert_eq!(events(&c, "p")[0].2, 1);
    c.take_writes();
    assert!(!c.advance(T0 + 60_000));
    assert!(c.take_writes().is_empty(), "an idle cluster writes nothing");
    c.create(Kind::Node, "", node("a", "1"), T0 + 61_000).expect("node");
    assert_eq!(phase(&c, "p"), ("Running".into(), Some("a".into())));
}

#[test]
fn the_state_comes_back_from_the_writes() {
    let mut c = cluster();
    c.create(Kind::Node, "", node("a", "1"), T0).expect("node");
    c.create(Kind::Pod, "default", pod("p1", "600m"), T0).expect("pod");
    c.create(Kind::Pod, "default", pod("p2", "600m"), T0).expect("pod");
    let mut stored: BTreeMap<(Kind, String, String), StoredObject> = BTreeMap::new();
    for w in c.take_writes() {
        match w {
            KubeWrite::Put(o) => {
                stored.insert((o.kind, o.namespace.clone(), o.name.clone()), o);
            }
            KubeWrite::Delete { kind, namespace, name } => {
                stored.remove(&(kind, namespace, name));
            }
        }
    }
    let mut objects: Vec<StoredObject> = stored.into_values().collect();
    objects.sort_by_key(|o| o.seq);
    let mut again = LiveCluster::new(objects, Profile::default());
    assert_eq!(again.list(Kind::Pod, None), c.list(Kind::Pod, None));
    // Deleting the bound pod lets the pending one in, in the restored cluster too.
    again.delete(Kind::Pod, "default", "p1", T0).expect("delete");
    assert_eq!(phase(&again, "p2"), ("Running".into(), Some("a".into())));
}

#[test]
fn times_round_trip() {
    assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00Z");
    assert_eq!(parse_rfc3339("2000-02-29T00:00:00Z"), Some(951_782_400_000));
    assert_eq!(parse_rfc3339("2023-11-14T22:13:20.5Z"), Some(T0));
    assert_eq!(parse_rfc3339("yesterday"), None);
}
