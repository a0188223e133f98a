//! Helpers for unit tests: clusters and pods from YAML text.

use crate::cluster::Cluster;
use crate::load::{Manifests, parse_documents};
use crate::simulate::Simulation;

/// Loads manifests from YAML text, panicking with the error (tests only).
pub(crate) fn manifests(yaml: &str) -> Manifests {
    let docs = match parse_documents("test.yaml", yaml) {
        Ok(docs) => docs,
        Err(err) => panic!("{err}"),
    };
    match Manifests::build(&docs) {
        Ok(m) => m,
        Err(err) => panic!("{err}"),
    }
}

/// A simulation over the manifests (bound pods bound), default profile.
pub(crate) fn simulation(yaml: &str) -> Simulation {
    match Simulation::new(manifests(yaml), crate::config::Profile::default(), 0) {
        Ok(sim) => sim,
        Err(err) => panic!("{err}"),
    }
}

/// The cluster of a simulation.
pub(crate) fn cluster(yaml: &str) -> Cluster {
    simulation(yaml).cluster
}

/// A node manifest with cpu (millis), memory (bytes) and labels.
pub(crate) fn node(name: &str, milli_cpu: i64, memory: i64, labels: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Node\nmetadata:\n  name: {name}\n  labels: {{{labels}}}\nstatus:\n  allocatable: {{cpu: {milli_cpu}m, memory: \"{memory}\", pods: \"110\"}}\n---\n"
    )
}

/// A pod manifest asking for cpu (millis) and memory (bytes), optionally bound.
pub(crate) fn pod(name: &str, milli_cpu: i64, memory: i64, node: Option<&str>) -> String {
    let node = node.map_or_else(String::new, |n| format!("  nodeName: {n}\n"));
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n{node}  containers:\n  - name: c\n    image: app\n    resources: {{requests: {{cpu: {milli_cpu}m, memory: \"{memory}\"}}}}\n---\n"
    )
}
