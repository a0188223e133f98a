//! NodeResourcesFit (filter and the LeastAllocated, MostAllocated and
//! RequestedToCapacityRatio scores) and NodeResourcesBalancedAllocation,
//! in upstream's int64 arithmetic.

use std::borrow::Cow;

use super::{MAX_NODE_SCORE, Reasons, Rejection};
use crate::cluster::NodeState;
use crate::config::{Plugin, ResourceWeight, ScoringStrategy};
use crate::model::{Node, Pod, is_scalar_resource};

/// NodeResourcesFit Filter (`fitsRequest`). Reasons are in upstream's
/// order; a request larger than the node's whole allocatable makes the
/// rejection unresolvable.
pub fn fit_filter(pod: &Pod, node: &Node, state: &NodeState, detail: bool) -> Option<Rejection> {
    if fits(pod, node, state) {
        return None;
    }
    fit_rejection(pod, node, state, detail)
}

/// The common case, without building any reason: does the pod fit?
fn fits(pod: &Pod, node: &Node, state: &NodeState) -> bool {
    let alloc = &node.allocatable;
    let req = &pod.requests;
    let used = &state.requested;
    let ok = |want: i64, used: i64, capacity: i64| want <= 0 || want <= capacity - used;
    (state.pods.len() as i64) < alloc.pods
        && ok(req.milli_cpu, used.milli_cpu, alloc.milli_cpu)
        && ok(req.memory, used.memory, alloc.memory)
        && ok(req.ephemeral_storage, used.ephemeral_storage, alloc.ephemeral_storage)
        && req.scalar.iter().all(|(name, want)| ok(*want, used.scalar(name), alloc.scalar(name)))
}

fn fit_rejection(pod: &Pod, node: &Node, state: &NodeState, detail: bool) -> Option<Rejection> {
    let mut reasons: Option<Reasons> = None;
    let mut add = |reason: Cow<'static, str>| match reasons.as_mut() {
        Some(r) => r.push(reason),
        None => reasons = Some(Reasons::one(reason)),
    };
    let mut unresolvable = false;
    let mut details = Vec::new();
    let alloc = &node.allocatable;
    if state.pods.len() as i64 + 1 > alloc.pods {
        add(Cow::Borrowed("Too many pods"));
        if detail {
            details.push(format!("pods: {} used of {}", state.pods.len(), alloc.pods));
        }
    }
    let req = &pod.requests;
    if !req.is_zero() {
        let mut check = |name: Cow<'static, str>, want: i64, used: i64, capacity: i64| {
            if want > 0 && want > capacity - used {
                unresolvable |= want > capacity;
                if detail {
                    details.push(format!("{name}: requested {want}, used {used}, allocatable {capacity}"));
                }
                add(match name {
                    Cow::Borrowed("cpu") => Cow::Borrowed("Insufficient cpu"),
                    Cow::Borrowed("memory") => Cow::Borrowed("Insufficient memory"),
                    Cow::Borrowed("ephemeral-storage") => Cow::Borrowed("Insufficient ephemeral-storage"),
                    other => Cow::Owned(format!("Insufficient {other}")),
                });
            }
        };
        check(Cow::Borrowed("cpu"), req.milli_cpu, state.requested.milli_cpu, alloc.milli_cpu);
        check(Cow::Borrowed("memory"), req.memory, state.requested.memory, alloc.memory);
        check(
            Cow::Borrowed("ephemeral-storage"),
            req.ephemeral_storage,
            state.requested.ephemeral_storage,
            alloc.ephemeral_storage,
        );
        for (name, want) in &req.scalar {
            if *want == 0 {
                continue;
            }
            check(Cow::Owned(name.clone()), *want, state.requested.scalar(name), alloc.scalar(name));
        }
    }
    let reasons = reasons?;
    let detail = detail.then(|| details.join("; "));
    Some(Rejection { plugin: Plugin::NodeResourcesFit, reasons, unresolvable, detail })
}

/// A configured resource, resolved once per cycle instead of per node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceKind<'a> {
    Cpu,
    Memory,
    EphemeralStorage,
    Scalar(&'a str),
    Ignored,
}

/// Resolves resource names to kinds, keeping the weights.
pub fn resolve(resources: &[ResourceWeight]) -> Vec<(ResourceKind<'_>, i64)> {
    resources
        .iter()
        .map(|r| {
            let kind = match r.name.as_str() {
                "cpu" => ResourceKind::Cpu,
                "memory" => ResourceKind::Memory,
                "ephemeral-storage" => ResourceKind::EphemeralStorage,
                name if is_scalar_resource(name) => ResourceKind::Scalar(name),
                _ => ResourceKind::Ignored,
            };
            (kind, r.weight)
        })
        .collect()
}

/// `(allocatable, requested-with-pod)` of one configured resource, the way
/// `resourceAllocationScorer` builds them; `(0, 0)` for a resource that is
/// skipped. `use_requested` is true for BalancedAllocation (actual requests)
/// and false for Fit (non-zero defaults for cpu and memory).
fn allocation(
    pod: &Pod,
    node: &Node,
    state: &NodeState,
    resource: ResourceKind<'_>,
    use_requested: bool,
) -> (i64, i64) {
    let alloc = &node.allocatable;
    match resource {
        ResourceKind::Cpu if use_requested => (alloc.milli_cpu, state.requested.milli_cpu + pod.requests.milli_cpu),
        ResourceKind::Cpu => (alloc.milli_cpu, state.non_zero_milli_cpu + pod.non_zero_milli_cpu),
        ResourceKind::Memory if use_requested => (alloc.memory, state.requested.memory + pod.requests.memory),
        ResourceKind::Memory => (alloc.memory, state.non_zero_memory + pod.non_zero_memory),
        ResourceKind::EphemeralStorage => {
            (alloc.ephemeral_storage, state.requested.ephemeral_storage + pod.requests.ephemeral_storage)
        }
        ResourceKind::Scalar(name) => {
            let want = pod.requests.scalar(name);
            if want == 0 { (0, 0) } else { (alloc.scalar(name), state.requested.scalar(name) + want) }
        }
        ResourceKind::Ignored => (0, 0),
    }
}

/// The pod's requests for the configured resources, as BalancedAllocation's
/// PreScore sees them (actual requests).
pub fn is_best_effort_for(pod: &Pod, resources: &[ResourceWeight]) -> bool {
    resources.iter().all(|r| match r.name.as_str() {
        "cpu" => pod.requests.milli_cpu == 0,
        "memory" => pod.requests.memory == 0,
        name => pod.requests.get(name) == 0,
    })
}

pub fn fit_score(
    pod: &Pod,
    node: &Node,
    state: &NodeState,
    strategy: &ScoringStrategy,
    resources: &[(ResourceKind<'_>, i64)],
) -> i64 {
    let mut node_score: i64 = 0;
    let mut weight_sum: i64 = 0;
    for &(kind, weight) in resources {
        let (cap, req) = allocation(pod, node, state, kind, false);
        if cap == 0 {
            continue;
        }
        let score = match strategy {
            ScoringStrategy::LeastAllocated => {
                if req > cap {
                    0
                } else {
                    (cap - req) * MAX_NODE_SCORE / cap
                }
            }
            ScoringStrategy::MostAllocated => req.min(cap) * MAX_NODE_SCORE / cap,
            ScoringStrategy::RequestedToCapacityRatio(shape) => {
                let utilization = if req > cap { 100 } else { req * 100 / cap };
                let score = broken_linear(shape, utilization);
                // Only resources that score count towards the average.
                if score <= 0 {
                    continue;
                }
                score
            }
        };
        node_score += score * weight;
        weight_sum += weight;
    }
    if weight_sum == 0 {
        return 0;
    }
    match strategy {
        ScoringStrategy::RequestedToCapacityRatio(_) => (node_score as f64 / weight_sum as f64).round() as i64,
        _ => node_score / weight_sum,
    }
}

/// `helper.BuildBrokenLinearFunction` over `(utilization, score)` points.
fn broken_linear(shape: &[(i64, i64)], p: i64) -> i64 {
    for (i, (u, s)) in shape.iter().enumerate() {
        if p <= *u {
            if i == 0 {
                return shape[0].1;
            }
            let (u0, s0) = shape[i - 1];
            return s0 + (s - s0) * (p - u0) / (u - u0);
        }
    }
    shape.last().map_or(0, |(_, s)| *s)
}

/// NodeResourcesBalancedAllocation (v1.34 form: the balance with the pod).
pub fn balanced_score(pod: &Pod, node: &Node, state: &NodeState, resources: &[(ResourceKind<'_>, i64)]) -> i64 {
    // Two resources (the default) need no allocation.
    let mut first_two = [0.0; 2];
    let mut all = Vec::new();
    let mut n = 0;
    let mut total = 0.0;
    for &(kind, _) in resources {
        let (cap, req) = allocation(pod, node, state, kind, true);
        if cap == 0 {
            continue;
        }
        let f = (req as f64 / cap as f64).min(1.0);
        total += f;
        if n < 2 {
            first_two[n] = f;
        } else {
            if all.is_empty() {
                all.extend_from_slice(&first_two);
            }
            all.push(f);
        }
        n += 1;
    }
    let std = match n {
        2 => ((first_two[0] - first_two[1]) / 2.0).abs(),
        n if n > 2 => {
            let mean = total / n as f64;
            let sum: f64 = all.iter().map(|f| (f - mean) * (f - mean)).sum();
            (sum / n as f64).sqrt()
        }
        _ => 0.0,
    };
    ((1.0 - std) * MAX_NODE_SCORE as f64) as i64
}

#[cfg(test)]
mod tests;
