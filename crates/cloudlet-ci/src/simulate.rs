//! Schedules a job graph on paper: the makespan cloudlet's scheduler
//! achieves for given job durations, the makespan of a level-by-level
//! schedule (each level waits for the whole previous level, as act
//! stages jobs), and the critical path. Pure: time is simulated, so the
//! same numbers come out on any machine.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

use cloudlet_core::Timestamp;

use crate::scheduler::{Action, Decision, JobNode, LegOutcome, LegSpec, Scheduler};

/// The makespan of cloudlet's scheduler with `max_parallel` lanes.
pub fn graph_makespan(nodes: &[JobNode], durations: &[Duration], max_parallel: usize) -> Duration {
    let start = Timestamp::from_unix_secs(0);
    let mut s = Scheduler::new(nodes.to_vec(), max_parallel);
    let mut running: BinaryHeap<Reverse<(u64, usize)>> = BinaryHeap::new();
    let mut now = start;
    loop {
        let mut actions = s.poll(now);
        while !actions.is_empty() {
            for a in actions {
                match a {
                    Action::Decide { job } => s.decide(
                        job,
                        Decision::Run {
                            legs: vec![LegSpec {
                                timeout: Duration::from_secs(u64::MAX / 4),
                                continue_on_error: false,
                            }],
                            fail_fast: true,
                            max_parallel: None,
                        },
                    ),
                    Action::Start { job, .. } => {
                        let end =
                            now.as_unix_nanos() + u64::try_from(durations[job].as_nanos()).unwrap_or(u64::MAX / 4);
                        running.push(Reverse((end, job)));
                    }
                    Action::Cancel { .. } | Action::Finished { .. } => {}
                }
            }
            actions = s.poll(now);
        }
        let Some(Reverse((end, job))) = running.pop() else { break };
        now = Timestamp::from_unix_nanos(end);
        s.leg_finished(job, 0, LegOutcome::Success);
    }
    now.saturating_duration_since(start)
}

/// Each job's level: 0 without needs, else one more than its deepest need.
pub fn levels(nodes: &[JobNode]) -> Vec<usize> {
    let mut level: Vec<Option<usize>> = vec![None; nodes.len()];
    fn visit(i: usize, nodes: &[JobNode], level: &mut Vec<Option<usize>>, depth: usize) -> usize {
        if let Some(l) = level[i] {
            return l;
        }
        if depth > nodes.len() {
            return 0;
        }
        let l = nodes[i].needs.iter().map(|n| visit(*n, nodes, level, depth + 1) + 1).max().unwrap_or(0);
        level[i] = Some(l);
        l
    }
    (0..nodes.len()).map(|i| visit(i, nodes, &mut level, 0)).collect()
}

/// The makespan when each level starts only after the previous level
/// finished completely, `max_parallel` jobs at a time within a level
/// (longest first).
pub fn level_makespan(nodes: &[JobNode], durations: &[Duration], max_parallel: usize) -> Duration {
    let lv = levels(nodes);
    let top = lv.iter().copied().max().unwrap_or(0);
    let mut total = Duration::ZERO;
    for l in 0..=top {
        let mut ds: Vec<Duration> = (0..nodes.len()).filter(|i| lv[*i] == l).map(|i| durations[i]).collect();
        ds.sort_by(|a, b| b.cmp(a));
        let mut lanes = vec![Duration::ZERO; max_parallel.max(1)];
        for d in ds {
            if let Some(lane) = lanes.iter_mut().min() {
                *lane += d;
            }
        }
        total += lanes.into_iter().max().unwrap_or(Duration::ZERO);
    }
    total
}

/// The longest chain of `needs` by duration, and its jobs in order.
pub fn critical_path(nodes: &[JobNode], durations: &[Duration]) -> (Duration, Vec<usize>) {
    let lv = levels(nodes);
    let mut order: Vec<usize> = (0..nodes.len()).collect();
    order.sort_by_key(|i| lv[*i]);
    let mut finish = vec![Duration::ZERO; nodes.len()];
    let mut prev: Vec<Option<usize>> = vec![None; nodes.len()];
    for &i in &order {
        let (start, p) = nodes[i]
            .needs
            .iter()
            .map(|n| (finish[*n], Some(*n)))
            .max_by_key(|(f, _)| *f)
            .unwrap_or((Duration::ZERO, None));
        finish[i] = start + durations[i];
        prev[i] = p;
    }
    let Some(end) = (0..nodes.len()).max_by_key(|i| finish[*i]) else { return (Duration::ZERO, Vec::new()) };
    let mut path = vec![end];
    while let Some(p) = prev[*path.last().unwrap_or(&end)] {
        path.push(p);
    }
    path.reverse();
    (finish[end], path)
}

/// A reproducible random job graph of `n` jobs for tests and benchmarks:
/// each job needs up to three earlier ones, and lasts `min..max`. The
/// same seed gives the same graph on any machine (xorshift64).
pub fn random_graph(seed: u64, n: usize, min: Duration, max: Duration) -> (Vec<JobNode>, Vec<Duration>) {
    let mut state = seed.max(1);
    let mut next = move |m: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        if m == 0 { 0 } else { state % m }
    };
    let span = u64::try_from(max.saturating_sub(min).as_millis()).unwrap_or(u64::MAX).max(1);
    let mut nodes = Vec::with_capacity(n);
    let mut durations = Vec::with_capacity(n);
    for i in 0..n {
        let k = if i == 0 { 0 } else { next(4) as usize };
        let mut needs: Vec<usize> = (0..k).map(|_| next(i as u64) as usize).collect();
        needs.sort_unstable();
        needs.dedup();
        nodes.push(JobNode { id: format!("j{i}"), needs });
        durations.push(min + Duration::from_millis(next(span)));
    }
    (nodes, durations)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|s| Duration::from_secs(*s)).collect()
    }

    fn graph(needs: &[&[usize]]) -> Vec<JobNode> {
        needs.iter().enumerate().map(|(i, n)| JobNode { id: format!("j{i}"), needs: n.to_vec() }).collect()
    }

    #[test]
    fn a_graph_beats_levels_where_levels_mislead() {
        // a(2) → c(10), b(10) → d(1): by graph 12 s, by levels 10 + 10.
        let g = graph(&[&[], &[], &[0], &[1]]);
        let d = secs(&[2, 10, 10, 1]);
        assert_eq!(graph_makespan(&g, &d, 8), Duration::from_secs(12));
        assert_eq!(level_makespan(&g, &d, 8), Duration::from_secs(20));
        assert_eq!(critical_path(&g, &d), (Duration::from_secs(12), vec![0, 2]));
    }

    #[test]
    fn sixty_job_graphs_meet_their_critical_path_and_never_lose_to_levels() {
        // A deterministic pseudo-random DAG: each job needs up to 3 earlier ones.
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move |m: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % m
        };
        for _ in 0..20 {
            let mut needs: Vec<Vec<usize>> = Vec::new();
            let mut d = Vec::new();
            for i in 0..60 {
                let k = if i == 0 { 0 } else { next(4) as usize };
                let mut n: Vec<usize> = (0..k).map(|_| next(i as u64) as usize).collect();
                n.sort_unstable();
                n.dedup();
                needs.push(n);
                d.push(Duration::from_millis(100 + next(5_000)));
            }
            let g: Vec<JobNode> =
                needs.into_iter().enumerate().map(|(i, n)| JobNode { id: format!("j{i}"), needs: n }).collect();
            let (cp, _) = critical_path(&g, &d);
            assert_eq!(graph_makespan(&g, &d, 1_000), cp, "unbounded lanes finish on the critical path");
            for lanes in [2, 4, 8] {
                let by_graph = graph_makespan(&g, &d, lanes);
                assert!(by_graph >= cp);
                assert!(by_graph <= level_makespan(&g, &d, lanes) + d.iter().max().copied().unwrap_or_default());
            }
            assert!(graph_makespan(&g, &d, 1_000) <= level_makespan(&g, &d, 1_000));
        }
    }
}
