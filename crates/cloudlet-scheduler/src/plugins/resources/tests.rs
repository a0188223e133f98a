//! NodeResourcesFit and BalancedAllocation, with cases restated from
//! upstream's `noderesources` tests.

use super::*;
use crate::config::{ResourceWeight, ScoringStrategy};
use crate::testing::{cluster, node, pod};

fn cpu_mem() -> Vec<ResourceWeight> {
    vec![ResourceWeight { name: "cpu".into(), weight: 1 }, ResourceWeight { name: "memory".into(), weight: 1 }]
}

/// Scores of the last pod in the YAML (pending) on every node.
fn scores(yaml: &str, strategy: &ScoringStrategy) -> (Vec<i64>, Vec<i64>) {
    let c = cluster(yaml);
    let p = &c.pods[c.pods.len() - 1];
    let fit =
        (0..c.nodes.len()).map(|n| fit_score(p, &c.nodes[n], &c.states[n], strategy, &resolve(&cpu_mem()))).collect();
    let balanced =
        (0..c.nodes.len()).map(|n| balanced_score(p, &c.nodes[n], &c.states[n], &resolve(&cpu_mem()))).collect();
    (fit, balanced)
}

#[test]
fn differently_sized_nodes_nothing_scheduled() {
    let yaml = format!("{}{}{}", node("n1", 4000, 10000, ""), node("n2", 6000, 10000, ""), pod("p", 3000, 5000, None));
    let (least, balanced) = scores(&yaml, &ScoringStrategy::LeastAllocated);
    assert_eq!(least, vec![37, 50]);
    assert_eq!(balanced, vec![87, 100]);
    let (most, _) = scores(&yaml, &ScoringStrategy::MostAllocated);
    assert_eq!(most, vec![62, 50]);
    let (ratio, _) = scores(&yaml, &ScoringStrategy::RequestedToCapacityRatio(vec![(0, 0), (100, 100)]));
    // cpu 75, memory 50 → round(125 / 2)
    assert_eq!(ratio, vec![63, 50]);
}

#[test]
fn existing_pods_count_towards_requested() {
    let yaml = format!(
        "{}{}{}{}{}",
        node("n1", 10000, 20000, ""),
        node("n2", 10000, 20000, ""),
        pod("a", 3000, 0, Some("n1")),
        pod("b", 3000, 5000, Some("n2")),
        pod("p", 3000, 5000, None)
    );
    // A pod with no memory request counts as 200Mi for Fit (non-zero
    // defaults) but as 0 for BalancedAllocation; here the request is an
    // explicit 0, which stays 0.
    let (least, balanced) = scores(&yaml, &ScoringStrategy::LeastAllocated);
    assert_eq!(least, vec![(40 + 75) / 2, (40 + 50) / 2]);
    assert_eq!(balanced, vec![82, 95]);
}

#[test]
fn missing_requests_use_the_scheduler_defaults_for_scoring_only() {
    let yaml = format!(
        "{}apiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nspec:\n  containers: [{{name: c, image: app}}]\n",
        node("n1", 1000, 1 << 30, "")
    );
    let c = cluster(&yaml);
    let p = &c.pods[0];
    assert_eq!((p.requests.milli_cpu, p.requests.memory), (0, 0));
    assert_eq!((p.non_zero_milli_cpu, p.non_zero_memory), (100, 200 << 20));
    // cpu (1000-100)*100/1000 = 90, memory (1024-200)*100/1024 = 80
    assert_eq!(fit_score(p, &c.nodes[0], &c.states[0], &ScoringStrategy::LeastAllocated, &resolve(&cpu_mem())), 85);
    assert!(is_best_effort_for(p, &cpu_mem()));
}

#[test]
fn fit_filter_reports_every_insufficient_resource() {
    let yaml = format!("{}{}{}", node("n1", 1000, 1000, ""), pod("a", 600, 600, Some("n1")), pod("p", 600, 600, None));
    let c = cluster(&yaml);
    let r = fit_filter(&c.pods[1], &c.nodes[0], &c.states[0], false);
    let r = r.map(|r| (r.reasons.to_vec(), r.unresolvable));
    assert_eq!(r, Some((vec!["Insufficient cpu".to_string(), "Insufficient memory".to_string()], false)));
}

#[test]
fn a_request_above_allocatable_is_unresolvable() {
    let yaml = format!("{}{}", node("n1", 1000, 1000, ""), pod("p", 2000, 10, None));
    let c = cluster(&yaml);
    let r = fit_filter(&c.pods[0], &c.nodes[0], &c.states[0], false).map(|r| (r.reasons.to_vec(), r.unresolvable));
    assert_eq!(r, Some((vec!["Insufficient cpu".to_string()], true)));
}

#[test]
fn too_many_pods_even_for_empty_requests() {
    let yaml = "apiVersion: v1\nkind: Node\nmetadata: {name: n1}\nstatus: {allocatable: {cpu: '1', memory: 1Gi, pods: '1'}}\n---\n\
apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {nodeName: n1, containers: [{name: c, image: x}]}\n---\n\
apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: x}]}\n";
    let c = cluster(yaml);
    let r = fit_filter(&c.pods[1], &c.nodes[0], &c.states[0], false).map(|r| r.reasons.to_vec());
    assert_eq!(r, Some(vec!["Too many pods".to_string()]));
}

#[test]
fn extended_resources_are_checked_only_when_requested() {
    let yaml = "apiVersion: v1\nkind: Node\nmetadata: {name: n1}\nstatus: {allocatable: {cpu: '4', memory: 4Gi, pods: '10', nvidia.com/gpu: '1'}}\n---\n\
apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: x, resources: {limits: {nvidia.com/gpu: '2'}}}]}\n";
    let c = cluster(yaml);
    // Requests default to limits.
    assert_eq!(c.pods[0].requests.scalar("nvidia.com/gpu"), 2);
    let r = fit_filter(&c.pods[0], &c.nodes[0], &c.states[0], false).map(|r| (r.reasons.to_vec(), r.unresolvable));
    assert_eq!(r, Some((vec!["Insufficient nvidia.com/gpu".to_string()], true)));
}

#[test]
fn three_resources_use_the_standard_deviation() {
    let yaml = "apiVersion: v1\nkind: Node\nmetadata: {name: n1}\nstatus: {allocatable: {cpu: '4', memory: 4Gi, pods: '10', nvidia.com/gpu: '4'}}\n---\n\
apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: x, resources: {requests: {cpu: '1', memory: 2Gi, nvidia.com/gpu: '3'}}}]}\n";
    let c = cluster(yaml);
    let resources = vec![
        ResourceWeight { name: "cpu".into(), weight: 1 },
        ResourceWeight { name: "memory".into(), weight: 1 },
        ResourceWeight { name: "nvidia.com/gpu".into(), weight: 1 },
    ];
    // fractions .25 .5 .75: mean .5, std sqrt((.0625+0+.0625)/3) = 0.2041 → 79
    assert_eq!(balanced_score(&c.pods[0], &c.nodes[0], &c.states[0], &resolve(&resources)), 79);
}

#[test]
fn broken_linear_interpolates_between_points() {
    let shape = vec![(0, 100), (50, 50), (100, 0)];
    assert_eq!(broken_linear(&shape, 0), 100);
    assert_eq!(broken_linear(&shape, 25), 75);
    assert_eq!(broken_linear(&shape, 75), 25);
    assert_eq!(broken_linear(&[(10, 20)], 50), 20);
}
