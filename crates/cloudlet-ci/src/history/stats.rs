//! Statistics over recorded runs (pure): success rate and p50/p95
//! durations per workflow and job, the cache hit rate, and the DORA
//! metrics per deployment environment.
//!
//! Definitions (also in the README):
//! - *success rate*: completed runs (jobs) with conclusion `success` over
//!   all completed runs (jobs that ran), skipped jobs not counted;
//! - *p50/p95*: nearest-rank percentiles of completed runs' (jobs')
//!   durations;
//! - *cache hit rate*: `actions/cache` restores whose primary key matched
//!   exactly (`cache-hit: 'true'`) over all restores;
//! - a *deployment* is a leg of a job with an `environment:` that ran;
//!   it succeeded when the leg did;
//! - *deployment frequency*: successful deployments per day over the
//!   window (from `--since`, else the first deployment, to now; at least
//!   one day);
//! - *lead time for changes*: a successful deployment's finish minus the
//!   commit time of its sha (p50 and p95);
//! - *change failure rate*: failed deployments over all deployments.

use std::collections::BTreeMap;

use cloudlet_core::Timestamp;
use serde::Serialize;

use super::{CacheHit, RunDetail, RunStatus};

const DAY_MS: u64 = 86_400_000;

/// A deployment: started, finished, succeeded, the commit time of its sha.
type Deployment = (Timestamp, Timestamp, bool, Option<Timestamp>);

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Stats {
    pub runs: usize,
    pub workflows: Vec<WorkflowStats>,
    pub cache: CacheStats,
    pub environments: Vec<EnvironmentStats>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct WorkflowStats {
    pub workflow: String,
    pub runs: usize,
    pub completed: usize,
    pub succeeded: usize,
    pub success_rate: Option<f64>,
    pub duration_p50_ms: Option<u64>,
    pub duration_p95_ms: Option<u64>,
    pub jobs: Vec<JobStats>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct JobStats {
    pub job: String,
    pub runs: usize,
    pub succeeded: usize,
    pub success_rate: Option<f64>,
    pub duration_p50_ms: Option<u64>,
    pub duration_p95_ms: Option<u64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CacheStats {
    pub lookups: usize,
    pub exact: usize,
    pub partial: usize,
    pub misses: usize,
    pub hit_rate: Option<f64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct EnvironmentStats {
    pub environment: String,
    pub deployments: usize,
    pub successful: usize,
    pub failed: usize,
    pub deployments_per_day: f64,
    pub lead_time_p50_ms: Option<u64>,
    pub lead_time_p95_ms: Option<u64>,
    pub change_failure_rate: Option<f64>,
}

/// The nearest-rank percentile `p` (0..=100) of `values`.
pub fn percentile(values: &[u64], p: u32) -> Option<u64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let rank = (u64::from(p.min(100)) * sorted.len() as u64).div_ceil(100).max(1);
    sorted.get(rank as usize - 1).copied()
}

fn ratio(part: usize, whole: usize) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// Statistics over `runs` (already filtered by workflow), counting runs
/// created at or after `since`, as of `now`.
pub fn compute(runs: &[RunDetail], since: Option<Timestamp>, now: Timestamp) -> Stats {
    let runs: Vec<&RunDetail> = runs.iter().filter(|r| since.is_none_or(|s| r.run.created_at >= s)).collect();
    let mut by_workflow: BTreeMap<&str, Vec<&RunDetail>> = BTreeMap::new();
    for r in &runs {
        by_workflow.entry(r.run.workflow.as_str()).or_default().push(r);
    }
    let mut workflows = Vec::new();
    for (name, wf_runs) in by_workflow {
        let completed: Vec<&&RunDetail> = wf_runs.iter().filter(|r| r.run.status == RunStatus::Completed).collect();
        let succeeded = completed.iter().filter(|r| r.run.conclusion.as_deref() == Some("success")).count();
        let durations: Vec<u64> = completed.iter().filter_map(|r| r.run.duration_ms()).collect();
        let mut jobs: BTreeMap<&str, (usize, usize, Vec<u64>)> = BTreeMap::new();
        for r in &completed {
            for j in &r.jobs {
                let Some(result) = j.result.as_deref().filter(|r| *r != "skipped") else { continue };
                let slot = jobs.entry(j.job_id.as_str()).or_default();
                slot.0 += 1;
                if result == "success" {
                    slot.1 += 1;
                }
                if let Some((s, e)) = j.span() {
                    slot.2.push(e.saturating_duration_since(s).as_millis() as u64);
                }
            }
        }
        workflows.push(WorkflowStats {
            workflow: name.to_owned(),
            runs: wf_runs.len(),
            completed: completed.len(),
            succeeded,
            success_rate: ratio(succeeded, completed.len()),
            duration_p50_ms: percentile(&durations, 50),
            duration_p95_ms: percentile(&durations, 95),
            jobs: jobs
                .into_iter()
                .map(|(job, (n, ok, d))| JobStats {
                    job: job.to_owned(),
                    runs: n,
                    succeeded: ok,
                    success_rate: ratio(ok, n),
                    duration_p50_ms: percentile(&d, 50),
                    duration_p95_ms: percentile(&d, 95),
                })
                .collect(),
        });
    }
    let mut cache = CacheStats::default();
    for c in runs.iter().flat_map(|r| r.caches.iter()) {
        cache.lookups += 1;
        match c.hit {
            CacheHit::Exact => cache.exact += 1,
            CacheHit::Partial => cache.partial += 1,
            CacheHit::Miss => cache.misses += 1,
        }
    }
    cache.hit_rate = ratio(cache.exact, cache.lookups);
    // Deployments by environment: (started, finished, succeeded, commit time).
    let mut deployments: BTreeMap<String, Vec<Deployment>> = BTreeMap::new();
    for r in &runs {
        for j in &r.jobs {
            let Some(env) = &j.environment else { continue };
            for l in &j.legs {
                let (Some(s), Some(e), Some(result)) = (l.started_at, l.finished_at, l.result.as_deref()) else {
                    continue;
                };
                deployments.entry(env.clone()).or_default().push((s, e, result == "success", r.run.commit_at));
            }
        }
    }
    let environments = deployments
        .into_iter()
        .map(|(environment, deps)| {
            let successful = deps.iter().filter(|d| d.2).count();
            let first = deps.iter().map(|d| d.0).min().unwrap_or(now);
            let window_ms = now.saturating_duration_since(since.unwrap_or(first)).as_millis() as u64;
            let lead: Vec<u64> = deps
                .iter()
                .filter(|d| d.2)
                .filter_map(|d| Some(d.1.saturating_duration_since(d.3?).as_millis() as u64))
                .collect();
            EnvironmentStats {
                environment,
                deployments: deps.len(),
                successful,
                failed: deps.len() - successful,
                deployments_per_day: successful as f64 / (window_ms.max(DAY_MS) as f64 / DAY_MS as f64),
                lead_time_p50_ms: percentile(&lead, 50),
                lead_time_p95_ms: percentile(&lead, 95),
                change_failure_rate: ratio(deps.len() - successful, deps.len()),
            }
        })
        .collect();
    Stats { runs: runs.len(), workflows, cache, environments }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{CacheRecord, JobRecord, LegRecord, RunRecord};

    fn t(s: u64) -> Timestamp {
        Timestamp::from_unix_secs(1_000_000 + s)
    }

    fn leg(span: Option<(u64, u64)>, result: &str) -> LegRecord {
        LegRecord {
            leg: 0,
            name: "x".to_owned(),
            matrix_json: None,
            status: "completed".to_owned(),
            result: Some(result.to_owned()),
            outputs_json: "{}".to_owned(),
            started_at: span.map(|s| t(s.0)),
            finished_at: span.map(|s| t(s.1)),
            steps: Vec::new(),
        }
    }

    fn run(id: u64, start: u64, end: u64, conclusion: &str, deploy: Option<(&str, &str)>) -> RunDetail {
        let mut jobs = vec![JobRecord {
            job_id: "build".to_owned(),
            name: "build".to_owned(),
            needs: Vec::new(),
            environment: None,
            result: Some("success".to_owned()),
            legs: vec![leg(Some((start, start + 10)), "success")],
        }];
        if let Some((env, result)) = deploy {
            jobs.push(JobRecord {
                job_id: "deploy".to_owned(),
                name: "deploy".to_owned(),
                needs: vec!["build".to_owned()],
                environment: Some(env.to_owned()),
                result: Some(result.to_owned()),
                legs: vec![leg(Some((start + 10, end)), result)],
            });
        }
        RunDetail {
            run: RunRecord {
                run_id: id,
                run_number: id,
                repository: "o/r".to_owned(),
                workflow: "CI".to_owned(),
                workflow_path: ".github/workflows/ci.yml".to_owned(),
                event: "push".to_owned(),
                git_ref: "refs/heads/main".to_owned(),
                sha: "a".repeat(40),
                commit_at: Some(t(start) - std::time::Duration::from_secs(100)),
                status: RunStatus::Completed,
                conclusion: Some(conclusion.to_owned()),
                created_at: t(start),
                started_at: Some(t(start)),
                finished_at: Some(t(end)),
                pid: 1,
                pid_start: 1,
                note: None,
            },
            jobs,
            approvals: Vec::new(),
            caches: vec![CacheRecord {
                run_id: id,
                job_id: "build".to_owned(),
                key: "k".to_owned(),
                hit: if id == 1 { CacheHit::Miss } else { CacheHit::Exact },
            }],
        }
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<u64> = (1..=20).collect();
        assert_eq!(percentile(&v, 50), Some(10));
        assert_eq!(percentile(&v, 95), Some(19));
        assert_eq!(percentile(&[7], 95), Some(7));
        assert_eq!(percentile(&[], 50), None);
    }

    #[test]
    fn success_rate_durations_cache_and_dora_per_environment() {
        let runs = vec![
            run(1, 0, 30, "success", Some(("production", "success"))),
            run(2, 100, 140, "failure", Some(("production", "failure"))),
            run(3, 200, 220, "success", None),
            run(4, 300, 350, "success", Some(("production", "success"))),
        ];
        let s = compute(&runs, None, t(86_400 * 2));
        let wf = &s.workflows[0];
        assert_eq!((wf.runs, wf.completed, wf.succeeded), (4, 4, 3));
        assert_eq!(wf.success_rate, Some(0.75));
        assert_eq!(wf.duration_p50_ms, Some(30_000));
        assert_eq!(wf.duration_p95_ms, Some(50_000));
        assert_eq!(wf.jobs[0].job, "build");
        assert_eq!(wf.jobs[1].success_rate, Some(2.0 / 3.0));
        assert_eq!((s.cache.lookups, s.cache.exact, s.cache.misses), (4, 3, 1));
        assert_eq!(s.cache.hit_rate, Some(0.75));
        let prod = &s.environments[0];
        assert_eq!((prod.deployments, prod.successful, prod.failed), (3, 2, 1));
        assert_eq!(prod.change_failure_rate, Some(1.0 / 3.0));
        // Two successful deployments over the two days since the first.
        assert!((prod.deployments_per_day - 1.0).abs() < 0.01, "{}", prod.deployments_per_day);
        // Lead times: 30 + 100 s and 50 + 100 s.
        assert_eq!(prod.lead_time_p50_ms, Some(130_000));
        assert_eq!(prod.lead_time_p95_ms, Some(150_000));
        let recent = compute(&runs, Some(t(150)), t(400));
        assert_eq!(recent.runs, 2);
    }
}
