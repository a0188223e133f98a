//! Node-local plugins, with cases restated from upstream's
//! `tainttoleration`, `nodeaffinity`, `nodeports`, `nodeunschedulable` and
//! `imagelocality` tests.

use super::*;
use crate::testing::cluster;

const NODE: &str = "apiVersion: v1\nkind: Node\nmetadata: {name: n1, labels: {zone: a, gen: '5'}}\n";

fn with_pod(node_extra: &str, pod_spec: &str) -> Cluster {
    cluster(&format!(
        "{NODE}{node_extra}\n---\napiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nspec:\n  containers: [{{name: c, image: app}}]\n{pod_spec}\n"
    ))
}

#[test]
fn unschedulable_nodes_need_the_unschedulable_toleration() {
    let c = with_pod("spec: {unschedulable: true}", "");
    assert_eq!(
        node_unschedulable(&c.pods[0], &c.nodes[0]).map(|r| r.reasons.to_vec()),
        Some(vec![ERR_UNSCHEDULABLE.to_string()])
    );
    let c = with_pod(
        "spec: {unschedulable: true}",
        "  tolerations: [{key: node.kubernetes.io/unschedulable, operator: Exists, effect: NoSchedule}]",
    );
    assert_eq!(node_unschedulable(&c.pods[0], &c.nodes[0]), None);
}

#[test]
fn hard_taints_filter_soft_taints_score() {
    let taints = "spec: {taints: [{key: a, value: x, effect: NoSchedule}]}";
    let c = with_pod(taints, "");
    let r = taint_toleration_filter(&c.pods[0], &c.nodes[0], true, false);
    assert_eq!(r.as_ref().map(|r| (r.reasons.to_vec(), r.unresolvable)), Some((vec![ERR_TAINTS.to_string()], true)));
    assert_eq!(r.and_then(|r| r.detail).as_deref(), Some("untolerated taint {a: x} (NoSchedule)"));
    let redacted = taint_toleration_filter(&c.pods[0], &c.nodes[0], true, true).and_then(|r| r.detail);
    assert_eq!(redacted.as_deref(), Some("untolerated taint (redacted)"));
    let c = with_pod(taints, "  tolerations: [{key: a, operator: Equal, value: x, effect: NoSchedule}]");
    assert_eq!(taint_toleration_filter(&c.pods[0], &c.nodes[0], false, false), None);

    let soft =
        "spec: {taints: [{key: a, value: x, effect: PreferNoSchedule}, {key: b, value: y, effect: PreferNoSchedule}]}";
    let c = with_pod(soft, "  tolerations: [{key: a, operator: Exists}]");
    assert_eq!(taint_toleration_filter(&c.pods[0], &c.nodes[0], false, false), None);
    let tolerations = prefer_no_schedule_tolerations(&c.pods[0]);
    assert_eq!(taint_toleration_score(&tolerations, &c.nodes[0]), 1);
    // A toleration for NoSchedule does not count for PreferNoSchedule.
    let c = with_pod(soft, "  tolerations: [{key: a, operator: Exists, effect: NoSchedule}]");
    assert_eq!(taint_toleration_score(&prefer_no_schedule_tolerations(&c.pods[0]), &c.nodes[0]), 2);
    let mut scores = vec![0, 1, 2];
    taint_toleration_normalize(&mut scores);
    assert_eq!(scores, vec![100, 50, 0]);
}

#[test]
fn node_selector_and_required_affinity_must_both_match() {
    let c = with_pod("", "  nodeSelector: {zone: a}");
    assert_eq!(node_affinity_filter(&c.pods[0], &c.nodes[0]), None);
    let c = with_pod("", "  nodeSelector: {zone: b}");
    assert!(node_affinity_filter(&c.pods[0], &c.nodes[0]).is_some());
    let required = "  nodeSelector: {zone: a}\n  affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: [{matchExpressions: [{key: gen, operator: Gt, values: ['6']}]}, {matchExpressions: [{key: gen, operator: Lt, values: ['6']}]}]}}}";
    let c = with_pod("", required);
    assert_eq!(node_affinity_filter(&c.pods[0], &c.nodes[0]), None, "terms are ORed");
    let empty_terms =
        "  affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: []}}}";
    let c = with_pod("", empty_terms);
    assert!(node_affinity_filter(&c.pods[0], &c.nodes[0]).is_some(), "no terms match no node");
}

#[test]
fn metadata_name_terms_narrow_the_nodes_in_prefilter() {
    let by_name = "  affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: [{matchFields: [{key: metadata.name, operator: In, values: [n1]}]}, {matchFields: [{key: metadata.name, operator: In, values: [n2]}]}]}}}";
    let c = with_pod("", by_name);
    let names = node_affinity_prefilter(&c.pods[0]).map(|s| {
        let mut v: Vec<String> = s.into_iter().collect();
        v.sort();
        v
    });
    assert_eq!(names, Some(vec!["n1".to_string(), "n2".to_string()]));
    let mixed = "  affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: [{matchFields: [{key: metadata.name, operator: In, values: [n1]}]}, {matchExpressions: [{key: zone, operator: Exists}]}]}}}";
    let c = with_pod("", mixed);
    assert_eq!(node_affinity_prefilter(&c.pods[0]), None);
}

#[test]
fn preferred_node_affinity_sums_matching_weights() {
    let preferred = "  affinity: {nodeAffinity: {preferredDuringSchedulingIgnoredDuringExecution: [{weight: 2, preference: {matchExpressions: [{key: zone, operator: In, values: [a]}]}}, {weight: 5, preference: {matchExpressions: [{key: gen, operator: Exists}]}}, {weight: 9, preference: {matchExpressions: [{key: zone, operator: In, values: [b]}]}}]}}";
    let c = with_pod("", preferred);
    assert_eq!(node_affinity_score(&c.pods[0], &c.nodes[0]), 7);
}

#[test]
fn host_ports_conflict_on_the_same_protocol_and_port() {
    let yaml = format!(
        "{NODE}---\napiVersion: v1\nkind: Pod\nmetadata: {{name: a}}\nspec: {{nodeName: n1, containers: [{{name: c, image: x, ports: [{{containerPort: 80, hostPort: 8080}}]}}]}}\n---\n\
apiVersion: v1\nkind: Pod\nmetadata: {{name: tcp}}\nspec: {{containers: [{{name: c, image: x, ports: [{{containerPort: 80, hostPort: 8080, hostIP: 127.0.0.1}}]}}]}}\n---\n\
apiVersion: v1\nkind: Pod\nmetadata: {{name: udp}}\nspec: {{containers: [{{name: c, image: x, ports: [{{containerPort: 80, hostPort: 8080, protocol: UDP}}]}}]}}\n"
    );
    let c = cluster(&yaml);
    let r = node_ports_filter(&c.pods[1], &c.states[0]).map(|r| (r.reasons.to_vec(), r.unresolvable));
    assert_eq!(r, Some((vec![ERR_PORTS.to_string()], false)));
    assert_eq!(node_ports_filter(&c.pods[2], &c.states[0]), None);
}

#[test]
fn image_locality_scales_by_spread_and_thresholds() {
    let mb = 1024 * 1024;
    let yaml = format!(
        "apiVersion: v1\nkind: Node\nmetadata: {{name: n1}}\nstatus: {{images: [{{names: ['gcr.io/40:latest', 'gcr.io/40:v1'], sizeBytes: {}}}, {{names: ['gcr.io/300:latest'], sizeBytes: {}}}]}}\n---\n\
apiVersion: v1\nkind: Node\nmetadata: {{name: n2}}\nstatus: {{images: [{{names: ['gcr.io/250:latest'], sizeBytes: {}}}]}}\n---\n\
apiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nspec: {{containers: [{{name: a, image: gcr.io/40}}, {{name: b, image: gcr.io/250}}]}}\n",
        40 * mb,
        300 * mb,
        250 * mb
    );
    let c = cluster(&yaml);
    // n1: 40MB × 1/2 = 20MB < 23MB threshold → 0.
    assert_eq!(image_locality_score(&c, &c.pods[0], 0), 0);
    // n2: 250MB × 1/2 = 125MB → 100 × (125-23) / (2000-23) = 5
    assert_eq!(image_locality_score(&c, &c.pods[0], 1), 5);
}
