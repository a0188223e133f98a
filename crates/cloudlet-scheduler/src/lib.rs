//! Kubernetes scheduling with kube-scheduler's semantics, as a pure and
//! deterministic core.
//!
//! **Pinned version: kube-scheduler v1.34** (the patch releases that report
//! `node(s) had untolerated taint(s)`), with the Kubernetes v1.34 API types
//! (`k8s-openapi`'s `v1_34` feature). The profile is v1.34's default profile
//! without the volume plugins (VolumeRestrictions, NodeVolumeLimits,
//! VolumeBinding, VolumeZone) and DynamicResources: PrioritySort,
//! SchedulingGates, NodeUnschedulable, NodeName, TaintToleration,
//! NodeAffinity, NodePorts, NodeResourcesFit, PodTopologySpread,
//! InterPodAffinity, DefaultPreemption, NodeResourcesBalancedAllocation,
//! ImageLocality and DefaultBinder. Version-dependent choices:
//!
//! - NodeResourcesFit: a request above the node's whole allocatable is
//!   `UnschedulableAndUnresolvable` (preemption skips the node).
//! - NodeResourcesBalancedAllocation scores the balance with the pod (not
//!   the change in balance) and skips best-effort pods.
//! - Ties between the best nodes are broken by reservoir sampling over a
//!   seeded generator.
//! - `matchLabelKeys` are merged into the selectors when manifests load.
//!
//! Layout: [`load`] turns manifests into the [`model`]; [`cluster`] holds
//! nodes, pods and per-node aggregates; [`plugins`] are the filters and
//! scores; [`framework`] runs one scheduling cycle; [`preemption`] is the
//! PostFilter; [`simulate`] drives the queue and reports; [`workloads`]
//! builds the benchmark clusters; [`timeline`] runs a simulated cluster
//! over time (scenarios, evictions, drains, the retrying queue). Nothing here does I/O except
//! [`load::read_paths`], and nothing reads a clock.

pub mod cluster;
pub mod config;
pub mod framework;
pub mod labels;
pub mod live;
pub mod load;
pub mod model;
pub mod plugins;
pub mod preemption;
pub mod quantity;
pub mod rng;
pub mod simulate;
pub mod timeline;
pub mod workloads;

#[cfg(test)]
mod testing;
