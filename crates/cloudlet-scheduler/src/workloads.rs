//! Benchmark workloads shaped like kube-scheduler's `scheduler_perf` test
//! cases: the same node and pod templates (4 cpu / 32 GiB / 110-pod nodes;
//! 100m / 500 MiB pods) and the same mix of initial and measured pods.
//! Building a workload is pure; timing it is the caller's business.

use std::collections::BTreeMap;

use crate::labels::{Labels, NodeSelector, NodeSelectorTerm, Operator, Requirement, Selector};
use crate::model::{
    AffinityTerm, HOSTNAME_LABEL, Node, Pod, PodAffinity, Resources, SpreadConstraint, Unsatisfiable,
    WeightedAffinityTerm, ZONE_LABEL,
};

/// A named workload and its upstream defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkloadSpec {
    pub name: &'static str,
    pub nodes: usize,
    pub init_pods: usize,
    pub measured_pods: usize,
    /// scheduler_perf's minimum average throughput (pods/s), where published.
    pub threshold: Option<u32>,
}

pub const WORKLOADS: &[WorkloadSpec] = &[
    WorkloadSpec { name: "SchedulingBasic", nodes: 5000, init_pods: 1000, measured_pods: 10000, threshold: Some(680) },
    WorkloadSpec {
        name: "SchedulingPodAntiAffinity",
        nodes: 5000,
        init_pods: 1000,
        measured_pods: 2000,
        threshold: Some(60),
    },
    WorkloadSpec {
        name: "SchedulingPodAffinity",
        nodes: 5000,
        init_pods: 5000,
        measured_pods: 5000,
        threshold: Some(35),
    },
    WorkloadSpec {
        name: "SchedulingPreferredPodAffinity",
        nodes: 5000,
        init_pods: 5000,
        measured_pods: 5000,
        threshold: Some(90),
    },
    WorkloadSpec {
        name: "SchedulingNodeAffinity",
        nodes: 5000,
        init_pods: 5000,
        measured_pods: 10000,
        threshold: Some(220),
    },
    WorkloadSpec { name: "TopologySpreading", nodes: 5000, init_pods: 5000, measured_pods: 5000, threshold: Some(460) },
    WorkloadSpec {
        name: "PreferredTopologySpreading",
        nodes: 5000,
        init_pods: 5000,
        measured_pods: 5000,
        threshold: Some(340),
    },
    WorkloadSpec { name: "PreemptionBasic", nodes: 1000, init_pods: 4000, measured_pods: 1000, threshold: None },
    WorkloadSpec { name: "Unschedulable", nodes: 5000, init_pods: 20000, measured_pods: 10000, threshold: Some(600) },
];

pub fn spec(name: &str) -> Option<WorkloadSpec> {
    WORKLOADS.iter().copied().find(|w| w.name.eq_ignore_ascii_case(name))
}

/// Nodes, the pods created before measuring, and the measured pods.
#[derive(Debug, Clone)]
pub struct Workload {
    pub nodes: Vec<Node>,
    pub init: Vec<Pod>,
    pub measured: Vec<Pod>,
}

const GI: i64 = 1 << 30;
const MI: i64 = 1 << 20;

fn node(i: usize, zone: Option<String>) -> Node {
    let name = format!("scheduler-perf-{i}");
    let mut labels = Labels::new();
    labels.insert(HOSTNAME_LABEL.into(), name.clone());
    if let Some(zone) = zone {
        labels.insert(ZONE_LABEL.into(), zone);
    }
    Node {
        name,
        labels,
        taints: Vec::new(),
        unschedulable: false,
        allocatable: Resources {
            milli_cpu: 4000,
            memory: 32 * GI,
            ephemeral_storage: 0,
            pods: 110,
            scalar: Vec::new(),
        },
        images: Vec::new(),
    }
}

/// `pod-default.yaml`: one pause container asking for 100m and 500Mi.
fn pod(namespace: &str, name: String, milli_cpu: i64, memory: i64) -> Pod {
    Pod {
        namespace: namespace.into(),
        name,
        labels: Labels::new(),
        priority: 0,
        preemption_never: false,
        requests: Resources { milli_cpu, memory, ..Resources::default() },
        non_zero_milli_cpu: milli_cpu,
        non_zero_memory: memory,
        node_name: None,
        node_selector: BTreeMap::new(),
        required_node_affinity: None,
        preferred_node_affinity: Vec::new(),
        tolerations: Vec::new(),
        host_ports: Vec::new(),
        spread_constraints: Vec::new(),
        owner_selector: None,
        default_spread_selector: None,
        start_time: None,
        nominated_node_name: None,
        affinity: PodAffinity::default(),
        images: vec!["registry.k8s.io/pause:3.10".into()],
        scheduling_gates: Vec::new(),
        terminating: false,
        source: "workload".into(),
    }
}

fn label_selector(key: &str, value: &str) -> Selector {
    Selector::Requirements(vec![Requirement { key: key.into(), op: Operator::In, values: vec![value.into()] }])
}

fn term(key: &str, value: &str, topology_key: &str, namespaces: &[&str]) -> AffinityTerm {
    AffinityTerm {
        namespaces: namespaces.iter().map(|n| n.to_string()).collect(),
        namespace_selector: Selector::Nothing,
        selector: label_selector(key, value),
        topology_key: topology_key.into(),
    }
}

/// Builds a workload with the given sizes.
pub fn build(name: &str, nodes: usize, init_pods: usize, measured_pods: usize) -> Option<Workload> {
    let spec = spec(name)?;
    let zones = |i: usize| match spec.name {
        "SchedulingPodAffinity" | "SchedulingNodeAffinity" => Some("zone1".to_string()),
        "TopologySpreading" | "PreferredTopologySpreading" => Some(format!("moon-{}", i % 3)),
        _ => None,
    };
    let nodes: Vec<Node> = (0..nodes).map(|i| node(i, zones(i))).collect();
    let basic = |ns: &str, prefix: &str, i: usize| pod(ns, format!("{prefix}-{i}"), 100, 500 * MI);
    let (init, measured): (Vec<Pod>, Vec<Pod>) = match spec.name {
        "SchedulingBasic" => (
            (0..init_pods).map(|i| basic("sched-setup", "init", i)).collect(),
            (0..measured_pods).map(|i| basic("sched-test", "pod", i)).collect(),
        ),
        "SchedulingPodAntiAffinity" => {
            let make = |ns: &str, prefix: &str, i: usize| {
                let mut p = basic(ns, prefix, i);
                p.labels.insert("color".into(), "green".into());
                p.affinity.declared = true;
                p.affinity.required_anti_affinity =
                    vec![term("color", "green", HOSTNAME_LABEL, &["sched-test", "sched-setup"])];
                p
            };
            (
                (0..init_pods).map(|i| make("sched-setup", "init", i)).collect(),
                (0..measured_pods).map(|i| make("sched-test", "pod", i)).collect(),
            )
        }
        "SchedulingPodAffinity" | "SchedulingPreferredPodAffinity" => {
            let preferred = spec.name == "SchedulingPreferredPodAffinity";
            let make = |ns: &str, prefix: &str, i: usize| {
                let mut p = basic(ns, prefix, i);
                p.labels.insert("foo".into(), "bar".into());
                p.affinity.declared = true;
                let key = if preferred { HOSTNAME_LABEL } else { ZONE_LABEL };
                let t = term("foo", "bar", key, &["sched-test", "sched-setup"]);
                if preferred {
                    p.affinity.preferred_affinity = vec![WeightedAffinityTerm { weight: 1, term: t }];
                } else {
                    p.affinity.required_affinity = vec![t];
                }
                p
            };
            (
                (0..init_pods).map(|i| make("sched-setup", "init", i)).collect(),
                (0..measured_pods).map(|i| make("sched-test", "pod", i)).collect(),
            )
        }
        "SchedulingNodeAffinity" => {
            let make = |ns: &str, prefix: &str, i: usize| {
                let mut p = basic(ns, prefix, i);
                p.required_node_affinity = Some(NodeSelector {
                    terms: vec![NodeSelectorTerm {
                        labels: vec![Requirement {
                            key: ZONE_LABEL.into(),
                            op: Operator::In,
                            values: vec!["zone1".into(), "zone2".into()],
                        }],
                        fields: Vec::new(),
                    }],
                });
                p
            };
            (
                (0..init_pods).map(|i| make("sched-setup", "init", i)).collect(),
                (0..measured_pods).map(|i| make("sched-test", "pod", i)).collect(),
            )
        }
        "TopologySpreading" | "PreferredTopologySpreading" => {
            let hard = spec.name == "TopologySpreading";
            let make = |i: usize| {
                let mut p = basic("sched-test", "pod", i);
                p.labels.insert("color".into(), "blue".into());
                p.spread_constraints = vec![SpreadConstraint {
                    max_skew: 5,
                    topology_key: ZONE_LABEL.into(),
                    when_unsatisfiable: if hard { Unsatisfiable::DoNotSchedule } else { Unsatisfiable::ScheduleAnyway },
                    selector: label_selector("color", "blue"),
                    min_domains: 1,
                    honor_node_affinity: true,
                    honor_node_taints: false,
                }];
                p
            };
            ((0..init_pods).map(|i| basic("sched-setup", "init", i)).collect(), (0..measured_pods).map(make).collect())
        }
        "PreemptionBasic" => {
            let low = |i: usize| {
                let mut p = pod("sched-setup", format!("low-{i}"), 900, 500 * MI);
                p.priority = 1;
                p
            };
            let high = |i: usize| {
                let mut p = pod("sched-test", format!("high-{i}"), 3000, 500 * MI);
                p.priority = 10;
                p
            };
            ((0..init_pods).map(low).collect(), (0..measured_pods).map(high).collect())
        }
        "Unschedulable" => {
            let large = |i: usize| pod("sched-setup", format!("large-{i}"), 9000, 500 * MI);
            ((0..init_pods).map(large).collect(), (0..measured_pods).map(|i| basic("sched-test", "pod", i)).collect())
        }
        _ => return None,
    };
    Some(Workload { nodes, init, measured })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_workload_builds_with_the_sizes_asked_for() {
        for w in WORKLOADS {
            let built = build(w.name, 10, 3, 4).map(|b| (b.nodes.len(), b.init.len(), b.measured.len()));
            assert_eq!(built, Some((10, 3, 4)), "{}", w.name);
        }
        assert!(build("Nope", 1, 1, 1).is_none());
    }
}
