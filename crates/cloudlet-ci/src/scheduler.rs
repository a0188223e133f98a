//! The job graph scheduler: a pure core driven by explicit times.
//!
//! A job becomes ready the moment its own `needs` are done (a true graph,
//! not levels). The caller then decides it: skip it (its `if:` was false)
//! or run it as one or more matrix legs. Legs start while the run-wide
//! `max_parallel` and the job's own `strategy.max-parallel` allow, each
//! with a deadline from its `timeout-minutes`. A failing leg cancels the
//! rest of its matrix when `fail-fast` is on and the leg may not continue
//! on error. Status functions at job level are answered here over all
//! transitive ancestors, as GitHub does: a skipped ancestor makes
//! `success()` false without making `failure()` true.
//!
//! The core never reads a clock, sleeps or starts anything: it returns
//! [`Action`]s for the runner to carry out.

use std::collections::VecDeque;
use std::time::Duration;

use cloudlet_core::Timestamp;

/// The result of a job or leg, as `needs.<id>.result` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum JobResult {
    Success,
    Failure,
    Cancelled,
    Skipped,
}

impl JobResult {
    pub fn as_str(self) -> &'static str {
        match self {
            JobResult::Success => "success",
            JobResult::Failure => "failure",
            JobResult::Cancelled => "cancelled",
            JobResult::Skipped => "skipped",
        }
    }
}

/// A job's place in the graph.
#[derive(Clone, Debug)]
pub struct JobNode {
    pub id: String,
    /// Indexes of the jobs it needs.
    pub needs: Vec<usize>,
}

/// How one leg of a job runs.
#[derive(Clone, Debug)]
pub struct LegSpec {
    pub timeout: Duration,
    pub continue_on_error: bool,
}

/// The caller's decision for a ready job.
#[derive(Clone, Debug)]
pub enum Decision {
    Skip,
    Run {
        legs: Vec<LegSpec>,
        fail_fast: bool,
        max_parallel: Option<usize>,
    },
    /// The job could not be prepared (a bad matrix, a bad expression):
    /// it fails without running.
    Fail,
    /// The job deploys to a protected environment: it waits for an
    /// approval ([`Scheduler::approve`] / [`Scheduler::reject`]) and/or
    /// until `not_before` (a wait timer), then proceeds as `then`.
    /// Other jobs keep running meanwhile.
    Wait {
        approval: bool,
        not_before: Option<Timestamp>,
        then: Box<Decision>,
    },
}

/// What the runner must do next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Evaluate the job's `if:` (with [`Scheduler::status`]) and call
    /// [`Scheduler::decide`].
    Decide {
        job: usize,
    },
    Start {
        job: usize,
        leg: usize,
    },
    /// Stop a running leg; it will still report how it finished.
    Cancel {
        job: usize,
        leg: usize,
        reason: CancelReason,
    },
    /// The job is done.
    Finished {
        job: usize,
        result: JobResult,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CancelReason {
    TimedOut,
    FailFast,
    RunCancelled,
    /// A newer job of the same concurrency group with `cancel-in-progress`.
    Concurrency,
}

/// How a leg ended, as the runner saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LegOutcome {
    Success,
    Failure,
    Cancelled,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum LegState {
    Queued,
    Running {
        deadline: Timestamp,
    },
    /// Asked to stop; the reason decides the result when it reports.
    Stopping {
        reason: CancelReason,
    },
    Done(JobResult),
}

#[derive(Clone, Debug)]
enum Phase {
    Waiting,
    Deciding,
    Running {
        legs: Vec<(LegSpec, LegState)>,
        fail_fast: bool,
        max_parallel: Option<usize>,
        tripped: bool,
    },
    /// Held by its environment's protection rules.
    Gated {
        approval: bool,
        not_before: Option<Timestamp>,
        then: Decision,
    },
    /// Decided to run, waiting for its concurrency group.
    Pending {
        legs: Vec<LegSpec>,
        fail_fast: bool,
        max_parallel: Option<usize>,
    },
    Done(JobResult),
}

/// One concurrency group: at most one job running and one pending.
#[derive(Clone, Debug, Default)]
struct Group {
    running: Option<usize>,
    pending: Option<usize>,
}

#[derive(Debug)]
pub struct Scheduler {
    nodes: Vec<JobNode>,
    ancestors: Vec<Vec<usize>>,
    phases: Vec<Phase>,
    max_parallel: usize,
    running: usize,
    run_cancelled: bool,
    pending: VecDeque<Action>,
    /// Each job's concurrency group (lower-cased) and cancel-in-progress.
    concurrency: Vec<Option<(String, bool)>>,
    groups: std::collections::HashMap<String, Group>,
}

fn running(legs: Vec<LegSpec>, fail_fast: bool, max_parallel: Option<usize>) -> Phase {
    Phase::Running {
        legs: legs.into_iter().map(|l| (l, LegState::Queued)).collect(),
        fail_fast,
        max_parallel,
        tripped: false,
    }
}

/// The status functions' answers for one job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JobStatus {
    pub success: bool,
    pub failure: bool,
    pub cancelled: bool,
}

impl Scheduler {
    /// `nodes` must form a graph without cycles (validation ensures it).
    pub fn new(nodes: Vec<JobNode>, max_parallel: usize) -> Scheduler {
        let n = nodes.len();
        let mut ancestors = vec![Vec::new(); n];
        for (i, anc) in ancestors.iter_mut().enumerate() {
            let mut seen = vec![false; n];
            let mut stack: Vec<usize> = nodes[i].needs.clone();
            while let Some(a) = stack.pop() {
                if a < n && !seen[a] {
                    seen[a] = true;
                    stack.extend(nodes[a].needs.iter().copied());
                }
            }
            *anc = (0..n).filter(|a| seen[*a]).collect();
        }
        Scheduler {
            concurrency: vec![None; n],
            groups: std::collections::HashMap::new(),
            phases: vec![Phase::Waiting; n],
            nodes,
            ancestors,
            max_parallel: max_parallel.max(1),
            running: 0,
            run_cancelled: false,
            pending: VecDeque::new(),
        }
    }

    pub fn nodes(&self) -> &[JobNode] {
        &self.nodes
    }

    pub fn result(&self, job: usize) -> Option<JobResult> {
        match self.phases.get(job) {
            Some(Phase::Done(r)) => Some(*r),
            _ => None,
        }
    }

    pub fn is_done(&self) -> bool {
        self.phases.iter().all(|p| matches!(p, Phase::Done(_))) && self.pending.is_empty()
    }

    /// Status functions for a job's `if:`, over its transitive ancestors.
    pub fn status(&self, job: usize) -> JobStatus {
        let results: Vec<Option<JobResult>> = self.ancestors[job].iter().map(|a| self.result(*a)).collect();
        JobStatus {
            success: !self.run_cancelled && results.iter().all(|r| *r == Some(JobResult::Success)),
            failure: results.contains(&Some(JobResult::Failure)),
            cancelled: self.run_cancelled,
        }
    }

    /// `success('a', 'b')`-style status over the named jobs and their
    /// ancestors.
    pub fn status_of(&self, jobs: &[usize]) -> JobStatus {
        let mut set: Vec<usize> = Vec::new();
        for j in jobs {
            set.push(*j);
            set.extend(self.ancestors[*j].iter().copied());
        }
        let results: Vec<Option<JobResult>> = set.iter().map(|a| self.result(*a)).collect();
        JobStatus {
            success: !self.run_cancelled && results.iter().all(|r| *r == Some(JobResult::Success)),
            failure: results.contains(&Some(JobResult::Failure)),
            cancelled: self.run_cancelled,
        }
    }

    /// The earliest leg deadline or wait timer, for the runner's wait.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        self.phases
            .iter()
            .filter_map(|p| match p {
                Phase::Gated { not_before, .. } => *not_before,
                Phase::Running { legs, .. } => legs
                    .iter()
                    .filter_map(|(_, s)| match s {
                        LegState::Running { deadline } => Some(*deadline),
                        _ => None,
                    })
                    .min(),
                _ => None,
            })
            .min()
    }

    /// Cancels the whole run: running legs are stopped; jobs not yet
    /// decided are still offered (an `always()` job may run).
    pub fn cancel_run(&mut self) {
        self.run_cancelled = true;
        for (j, p) in self.phases.iter_mut().enumerate() {
            if matches!(p, Phase::Gated { .. }) {
                *p = Phase::Done(JobResult::Cancelled);
                self.pending.push_back(Action::Finished { job: j, result: JobResult::Cancelled });
                continue;
            }
            if let Phase::Running { legs, .. } = p {
                for (l, (_, s)) in legs.iter_mut().enumerate() {
                    match s {
                        LegState::Running { .. } => {
                            *s = LegState::Stopping { reason: CancelReason::RunCancelled };
                            self.pending.push_back(Action::Cancel {
                                job: j,
                                leg: l,
                                reason: CancelReason::RunCancelled,
                            });
                        }
                        LegState::Queued => *s = LegState::Done(JobResult::Cancelled),
                        _ => {}
                    }
                }
            }
        }
    }

    /// Everything to do at `now`: timeouts, newly ready jobs, legs that
    /// may start, jobs that finished.
    pub fn poll(&mut self, now: Timestamp) -> Vec<Action> {
        let mut out: Vec<Action> = self.pending.drain(..).collect();
        // Timeouts.
        for (j, p) in self.phases.iter_mut().enumerate() {
            if let Phase::Running { legs, .. } = p {
                for (l, (_, s)) in legs.iter_mut().enumerate() {
                    if let LegState::Running { deadline } = s
                        && *deadline <= now
                    {
                        *s = LegState::Stopping { reason: CancelReason::TimedOut };
                        out.push(Action::Cancel { job: j, leg: l, reason: CancelReason::TimedOut });
                    }
                }
            }
        }
        // Gates whose approval came and whose timer ran out open.
        for j in 0..self.phases.len() {
            if let Phase::Gated { approval: false, not_before, .. } = &self.phases[j]
                && not_before.is_none_or(|t| t <= now)
                && let Phase::Gated { then, .. } = std::mem::replace(&mut self.phases[j], Phase::Deciding)
            {
                self.apply(j, then);
            }
        }
        out.extend(self.pending.drain(..));
        loop {
            let before = out.len();
            self.settle(&mut out);
            // Ready jobs, in file order.
            for j in 0..self.nodes.len() {
                if matches!(self.phases[j], Phase::Waiting)
                    && self.nodes[j].needs.iter().all(|n| self.result(*n).is_some())
                {
                    self.phases[j] = Phase::Deciding;
                    out.push(Action::Decide { job: j });
                }
            }
            self.start_legs(now, &mut out);
            if out.len() == before {
                break;
            }
        }
        out
    }

    /// Puts a job in a concurrency group (names compare ignoring case),
    /// before [`Scheduler::decide`]: GitHub's rules, one running and one
    /// pending; a newer job cancels the pending one, and with
    /// `cancel_in_progress` the running one too.
    pub fn set_concurrency(&mut self, job: usize, group: &str, cancel_in_progress: bool) {
        if let Some(slot) = self.concurrency.get_mut(job) {
            *slot = Some((group.to_lowercase(), cancel_in_progress));
        }
    }

    /// Records the decision for a job offered by [`Action::Decide`].
    pub fn decide(&mut self, job: usize, decision: Decision) {
        if !matches!(self.phases.get(job), Some(Phase::Deciding)) {
            return;
        }
        self.apply(job, decision);
    }

    /// The jobs held by their environments' rules, and whether each still
    /// needs an approval.
    pub fn gated(&self) -> Vec<(usize, bool)> {
        self.phases
            .iter()
            .enumerate()
            .filter_map(|(j, p)| match p {
                Phase::Gated { approval, .. } => Some((j, *approval)),
                _ => None,
            })
            .collect()
    }

    /// A reviewer approved the deployment of a gated job; it proceeds once
    /// its wait timer (if any) has run out.
    pub fn approve(&mut self, job: usize) {
        if let Some(Phase::Gated { approval, .. }) = self.phases.get_mut(job) {
            *approval = false;
        }
    }

    /// A reviewer rejected the deployment: the job fails without running,
    /// and its dependents follow the usual rules for a failed need.
    pub fn reject(&mut self, job: usize) {
        if let Some(p @ Phase::Gated { .. }) = self.phases.get_mut(job) {
            *p = Phase::Done(JobResult::Failure);
            self.pending.push_back(Action::Finished { job, result: JobResult::Failure });
        }
    }

    fn apply(&mut self, job: usize, decision: Decision) {
        self.phases[job] = match decision {
            Decision::Wait { approval, not_before, then } => Phase::Gated { approval, not_before, then: *then },
            Decision::Skip => Phase::Done(JobResult::Skipped),
            Decision::Fail => Phase::Done(JobResult::Failure),
            Decision::Run { legs, .. } if legs.is_empty() => Phase::Done(JobResult::Skipped),
            Decision::Run { legs, fail_fast, max_parallel } => match self.concurrency[job].clone() {
                Some((group, cancel_in_progress)) => {
                    self.enter_group(job, &group, cancel_in_progress, legs, fail_fast, max_parallel)
                }
                None => running(legs, fail_fast, max_parallel),
            },
        };
        if let Phase::Done(result) = self.phases[job] {
            self.pending.push_back(Action::Finished { job, result });
        }
    }

    fn enter_group(
        &mut self,
        job: usize,
        group: &str,
        cancel_in_progress: bool,
        legs: Vec<LegSpec>,
        fail_fast: bool,
        max_parallel: Option<usize>,
    ) -> Phase {
        let g = self.groups.entry(group.to_owned()).or_default();
        let Some(holder) = g.running else {
            g.running = Some(job);
            return running(legs, fail_fast, max_parallel);
        };
        if let Some(p) = g.pending.replace(job) {
            self.phases[p] = Phase::Done(JobResult::Cancelled);
            self.pending.push_back(Action::Finished { job: p, result: JobResult::Cancelled });
        }
        if cancel_in_progress && let Phase::Running { legs: held, .. } = &mut self.phases[holder] {
            for (l, (_, st)) in held.iter_mut().enumerate() {
                match st {
                    LegState::Running { .. } => {
                        *st = LegState::Stopping { reason: CancelReason::Concurrency };
                        self.pending.push_back(Action::Cancel {
                            job: holder,
                            leg: l,
                            reason: CancelReason::Concurrency,
                        });
                    }
                    LegState::Queued => *st = LegState::Done(JobResult::Cancelled),
                    _ => {}
                }
            }
        }
        Phase::Pending { legs, fail_fast, max_parallel }
    }

    /// A finished job leaves its group; the pending job starts.
    fn leave_group(&mut self, job: usize) {
        let Some((group, _)) = self.concurrency[job].clone() else { return };
        let Some(g) = self.groups.get_mut(&group) else { return };
        if g.running != Some(job) {
            return;
        }
        g.running = g.pending.take();
        if let Some(next) = g.running
            && let Phase::Pending { legs, fail_fast, max_parallel } =
                std::mem::replace(&mut self.phases[next], Phase::Deciding)
        {
            self.phases[next] = if self.run_cancelled {
                self.pending.push_back(Action::Finished { job: next, result: JobResult::Cancelled });
                Phase::Done(JobResult::Cancelled)
            } else {
                running(legs, fail_fast, max_parallel)
            };
        }
    }

    /// A finished leg's result as the scheduler settled it (a leg stopped
    /// by its timeout failed, whatever its process reported), until its job
    /// is settled by the next `poll`.
    pub fn leg_result(&self, job: usize, leg: usize) -> Option<JobResult> {
        match self.phases.get(job)? {
            Phase::Running { legs, .. } => match legs.get(leg)? {
                (_, LegState::Done(r)) => Some(*r),
                _ => None,
            },
            _ => None,
        }
    }

    /// Records how a started leg ended.
    pub fn leg_finished(&mut self, job: usize, leg: usize, outcome: LegOutcome) {
        let Some(Phase::Running { legs, fail_fast, tripped, .. }) = self.phases.get_mut(job) else { return };
        let Some((spec, state)) = legs.get_mut(leg) else { return };
        let result = match (&*state, outcome) {
            (LegState::Stopping { reason: CancelReason::TimedOut }, _) => JobResult::Failure,
            (_, LegOutcome::Success) => JobResult::Success,
            (_, LegOutcome::Failure) => JobResult::Failure,
            (_, LegOutcome::Cancelled) => JobResult::Cancelled,
        };
        if matches!(state, LegState::Running { .. } | LegState::Stopping { .. }) {
            self.running -= 1;
        }
        *state = LegState::Done(result);
        if result == JobResult::Failure && !spec.continue_on_error && *fail_fast && !*tripped {
            *tripped = true;
            for (l, (_, s)) in legs.iter_mut().enumerate() {
                match s {
                    LegState::Queued => *s = LegState::Done(JobResult::Cancelled),
                    LegState::Running { .. } => {
                        *s = LegState::Stopping { reason: CancelReason::FailFast };
                        self.pending.push_back(Action::Cancel { job, leg: l, reason: CancelReason::FailFast });
                    }
                    _ => {}
                }
            }
        }
    }

    /// Turns jobs whose legs are all done into finished jobs.
    fn settle(&mut self, out: &mut Vec<Action>) {
        for j in 0..self.phases.len() {
            let Phase::Running { legs, .. } = &self.phases[j] else { continue };
            let mut results = Vec::with_capacity(legs.len());
            for (spec, s) in legs {
                match s {
                    LegState::Done(r) => {
                        // A leg that may continue on error does not fail its job.
                        let r =
                            if *r == JobResult::Failure && spec.continue_on_error { JobResult::Success } else { *r };
                        results.push(r);
                    }
                    _ => {
                        results.clear();
                        break;
                    }
                }
            }
            if results.len() != legs.len() {
                continue;
            }
            let result = if results.contains(&JobResult::Failure) {
                JobResult::Failure
            } else if results.contains(&JobResult::Cancelled) {
                JobResult::Cancelled
            } else if results.iter().all(|r| *r == JobResult::Skipped) {
                JobResult::Skipped
            } else {
                JobResult::Success
            };
            self.phases[j] = Phase::Done(result);
            out.push(Action::Finished { job: j, result });
            self.leave_group(j);
        }
    }

    fn start_legs(&mut self, now: Timestamp, out: &mut Vec<Action>) {
        for j in 0..self.phases.len() {
            let Phase::Running { legs, max_parallel, .. } = &mut self.phases[j] else { continue };
            let limit = max_parallel.unwrap_or(usize::MAX).max(1);
            let mut active =
                legs.iter().filter(|(_, s)| matches!(s, LegState::Running { .. } | LegState::Stopping { .. })).count();
            for (l, (spec, s)) in legs.iter_mut().enumerate() {
                if self.running >= self.max_parallel || active >= limit {
                    break;
                }
                if *s == LegState::Queued {
                    let deadline = Timestamp::from_unix_nanos(
                        now.as_unix_nanos().saturating_add(u64::try_from(spec.timeout.as_nanos()).unwrap_or(u64::MAX)),
                    );
                    *s = LegState::Running { deadline };
                    self.running += 1;
                    active += 1;
                    out.push(Action::Start { job: j, leg: l });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    fn graph(spec: &[(&str, &[usize])]) -> Vec<JobNode> {
        spec.iter().map(|(id, needs)| JobNode { id: (*id).to_owned(), needs: needs.to_vec() }).collect()
    }

    fn leg() -> LegSpec {
        LegSpec { timeout: 360 * MIN, continue_on_error: false }
    }

    fn run1() -> Decision {
        Decision::Run { legs: vec![leg()], fail_fast: true, max_parallel: None }
    }

    fn t(secs: u64) -> Timestamp {
        Timestamp::from_unix_secs(1_000 + secs)
    }

    /// Decides every offered job with `decide`, returns the actions other
    /// than `Decide`.
    fn step(s: &mut Scheduler, now: Timestamp, decide: &dyn Fn(&Scheduler, usize) -> Decision) -> Vec<Action> {
        let mut all = Vec::new();
        loop {
            let actions = s.poll(now);
            if actions.is_empty() {
                return all;
            }
            for a in actions {
                if let Action::Decide { job } = a {
                    let d = decide(s, job);
                    s.decide(job, d);
                } else {
                    all.push(a);
                }
            }
        }
    }

    fn default_if(s: &Scheduler, job: usize) -> Decision {
        if s.status(job).success { run1() } else { Decision::Skip }
    }

    #[test]
    fn a_job_starts_when_its_own_needs_finish_not_its_level() {
        // a(short) → c ; b(long) → d. c must start while b still runs.
        let mut s = Scheduler::new(graph(&[("a", &[]), ("b", &[]), ("c", &[0]), ("d", &[1])]), 8);
        let first = step(&mut s, t(0), &default_if);
        assert_eq!(first, vec![Action::Start { job: 0, leg: 0 }, Action::Start { job: 1, leg: 0 }]);
        s.leg_finished(0, 0, LegOutcome::Success);
        let next = step(&mut s, t(1), &default_if);
        assert_eq!(
            next,
            vec![Action::Finished { job: 0, result: JobResult::Success }, Action::Start { job: 2, leg: 0 }]
        );
        assert_eq!(s.result(1), None, "b is still running while c starts");
    }

    #[test]
    fn max_parallel_bounds_running_legs() {
        let mut s = Scheduler::new(graph(&[("a", &[]), ("b", &[]), ("c", &[])]), 2);
        let started = step(&mut s, t(0), &default_if);
        assert_eq!(started.len(), 2);
        s.leg_finished(1, 0, LegOutcome::Success);
        let next = step(&mut s, t(1), &default_if);
        assert!(next.contains(&Action::Start { job: 2, leg: 0 }));
    }

    #[test]
    fn skipped_ancestors_make_every_status_false_transitively() {
        // fail → suc1, suc2 (success() || failure()) → next (default if): next is skipped.
        let mut s = Scheduler::new(graph(&[("fail", &[]), ("suc1", &[0]), ("suc2", &[0]), ("next", &[1, 2])]), 8);
        let decide = |s: &Scheduler, job: usize| {
            let st = s.status(job);
            let run = if job == 1 || job == 2 { st.success || st.failure } else { st.success };
            if run { run1() } else { Decision::Skip }
        };
        step(&mut s, t(0), &decide);
        s.leg_finished(0, 0, LegOutcome::Failure);
        step(&mut s, t(1), &decide);
        s.leg_finished(1, 0, LegOutcome::Success);
        s.leg_finished(2, 0, LegOutcome::Success);
        step(&mut s, t(2), &decide);
        assert_eq!(s.result(3), Some(JobResult::Skipped));
        // With a skipped ancestor, success() and failure() are both false.
        let mut s = Scheduler::new(graph(&[("a", &[]), ("b", &[0]), ("c", &[1])]), 8);
        let decide = |s: &Scheduler, job: usize| if job == 0 { Decision::Skip } else { default_if(s, job) };
        step(&mut s, t(0), &decide);
        assert_eq!(s.status(2), JobStatus { success: false, failure: false, cancelled: false });
        assert_eq!(s.result(2), Some(JobResult::Skipped));
        assert!(s.is_done());
    }

    #[test]
    fn fail_fast_cancels_the_rest_of_that_matrix_only() {
        let mut s = Scheduler::new(graph(&[("m", &[]), ("other", &[])]), 3);
        let decide = |_: &Scheduler, job: usize| {
            if job == 0 {
                Decision::Run { legs: vec![leg(), leg(), leg()], fail_fast: true, max_parallel: Some(2) }
            } else {
                run1()
            }
        };
        let started = step(&mut s, t(0), &decide);
        assert_eq!(
            started,
            vec![Action::Start { job: 0, leg: 0 }, Action::Start { job: 0, leg: 1 }, Action::Start { job: 1, leg: 0 }]
        );
        s.leg_finished(0, 0, LegOutcome::Failure);
        let next = step(&mut s, t(1), &decide);
        assert_eq!(next, vec![Action::Cancel { job: 0, leg: 1, reason: CancelReason::FailFast }]);
        s.leg_finished(0, 1, LegOutcome::Cancelled);
        let next = step(&mut s, t(2), &decide);
        assert_eq!(next, vec![Action::Finished { job: 0, result: JobResult::Failure }]);
        assert_eq!(s.result(1), None, "another job is not cancelled by fail-fast");
    }

    #[test]
    fn continue_on_error_legs_neither_trip_fail_fast_nor_fail_the_job() {
        let mut s = Scheduler::new(graph(&[("m", &[])]), 4);
        let decide = |_: &Scheduler, _: usize| Decision::Run {
            legs: vec![LegSpec { timeout: MIN, continue_on_error: true }, leg()],
            fail_fast: true,
            max_parallel: None,
        };
        step(&mut s, t(0), &decide);
        s.leg_finished(0, 0, LegOutcome::Failure);
        assert!(step(&mut s, t(1), &decide).is_empty());
        s.leg_finished(0, 1, LegOutcome::Success);
        step(&mut s, t(2), &decide);
        assert_eq!(s.result(0), Some(JobResult::Success));
    }

    #[test]
    fn timeouts_come_from_the_injected_time() {
        let mut s = Scheduler::new(graph(&[("a", &[])]), 1);
        let decide = |_: &Scheduler, _: usize| Decision::Run {
            legs: vec![LegSpec { timeout: 5 * MIN, continue_on_error: false }],
            fail_fast: true,
            max_parallel: None,
        };
        step(&mut s, t(0), &decide);
        assert_eq!(s.next_deadline(), Some(t(300)));
        assert!(step(&mut s, t(299), &decide).is_empty());
        assert_eq!(
            step(&mut s, t(300), &decide),
            vec![Action::Cancel { job: 0, leg: 0, reason: CancelReason::TimedOut }]
        );
        s.leg_finished(0, 0, LegOutcome::Cancelled);
        step(&mut s, t(301), &decide);
        assert_eq!(s.result(0), Some(JobResult::Failure));
    }

    #[test]
    fn concurrency_groups_keep_one_running_and_one_pending() {
        // Three independent jobs in one group (case differs), no cancel-in-progress.
        let mut s = Scheduler::new(graph(&[("a", &[]), ("b", &[]), ("c", &[])]), 8);
        for j in 0..3 {
            s.set_concurrency(j, if j == 1 { "Deploy" } else { "deploy" }, false);
        }
        let started = step(&mut s, t(0), &default_if);
        // a runs; b waits; c replaces b, which is cancelled.
        assert_eq!(
            started,
            vec![Action::Finished { job: 1, result: JobResult::Cancelled }, Action::Start { job: 0, leg: 0 }]
        );
        s.leg_finished(0, 0, LegOutcome::Success);
        let next = step(&mut s, t(1), &default_if);
        assert_eq!(
            next,
            vec![Action::Finished { job: 0, result: JobResult::Success }, Action::Start { job: 2, leg: 0 }]
        );
    }

    #[test]
    fn cancel_in_progress_stops_the_running_job() {
        // `old` runs; `new` arrives (after `trigger`) in the same group.
        let mut s = Scheduler::new(graph(&[("old", &[]), ("trigger", &[]), ("new", &[1])]), 8);
        s.set_concurrency(0, "g", true);
        s.set_concurrency(2, "G", true);
        let started = step(&mut s, t(0), &default_if);
        assert_eq!(started, vec![Action::Start { job: 0, leg: 0 }, Action::Start { job: 1, leg: 0 }]);
        s.leg_finished(1, 0, LegOutcome::Success);
        let next = step(&mut s, t(1), &default_if);
        assert_eq!(
            next,
            vec![
                Action::Finished { job: 1, result: JobResult::Success },
                Action::Cancel { job: 0, leg: 0, reason: CancelReason::Concurrency },
            ]
        );
        s.leg_finished(0, 0, LegOutcome::Cancelled);
        let next = step(&mut s, t(2), &default_if);
        assert_eq!(
            next,
            vec![Action::Finished { job: 0, result: JobResult::Cancelled }, Action::Start { job: 2, leg: 0 }]
        );
        // Arriving together, the newer job cancels the older before it starts.
        let mut s = Scheduler::new(graph(&[("a", &[]), ("b", &[])]), 8);
        s.set_concurrency(0, "g", true);
        s.set_concurrency(1, "g", true);
        let actions = step(&mut s, t(0), &default_if);
        assert_eq!(
            actions,
            vec![Action::Finished { job: 0, result: JobResult::Cancelled }, Action::Start { job: 1, leg: 0 }]
        );
    }

    #[test]
    fn a_cancelled_run_still_offers_always_jobs() {
        let mut s = Scheduler::new(graph(&[("a", &[]), ("cleanup", &[0]), ("next", &[0])]), 4);
        let decide = |s: &Scheduler, job: usize| match job {
            1 => run1(), // if: always()
            _ => default_if(s, job),
        };
        step(&mut s, t(0), &decide);
        s.cancel_run();
        assert_eq!(
            step(&mut s, t(1), &decide),
            vec![Action::Cancel { job: 0, leg: 0, reason: CancelReason::RunCancelled }]
        );
        s.leg_finished(0, 0, LegOutcome::Cancelled);
        let next = step(&mut s, t(2), &decide);
        assert!(next.contains(&Action::Start { job: 1, leg: 0 }));
        assert_eq!(s.result(2), Some(JobResult::Skipped));
        assert!(s.status(2).cancelled);
    }

    fn gated(approval: bool, not_before: Option<Timestamp>) -> Decision {
        Decision::Wait { approval, not_before, then: Box::new(run1()) }
    }

    #[test]
    fn a_job_waiting_for_approval_lets_the_others_run_and_starts_when_approved() {
        // build → deploy (approval) → smoke; lint runs beside.
        let mut s = Scheduler::new(graph(&[("build", &[]), ("deploy", &[0]), ("smoke", &[1]), ("lint", &[])]), 4);
        let decide = |s: &Scheduler, job: usize| if job == 1 { gated(true, None) } else { default_if(s, job) };
        step(&mut s, t(0), &decide);
        s.leg_finished(0, 0, LegOutcome::Success);
        assert_eq!(step(&mut s, t(1), &decide), vec![Action::Finished { job: 0, result: JobResult::Success }]);
        assert_eq!(s.gated(), vec![(1, true)]);
        // Nothing happens while it waits, however long.
        assert!(step(&mut s, t(10_000), &decide).is_empty());
        s.leg_finished(3, 0, LegOutcome::Success);
        assert_eq!(step(&mut s, t(10_001), &decide), vec![Action::Finished { job: 3, result: JobResult::Success }]);
        s.approve(1);
        assert_eq!(step(&mut s, t(10_002), &decide), vec![Action::Start { job: 1, leg: 0 }]);
        assert!(s.gated().is_empty());
    }

    #[test]
    fn a_rejected_deployment_fails_the_job_and_skips_its_dependents() {
        let mut s = Scheduler::new(graph(&[("deploy", &[]), ("smoke", &[0]), ("report", &[1])]), 4);
        let decide = |s: &Scheduler, job: usize| match job {
            0 => gated(true, None),
            2 => run1(), // if: always()
            _ => default_if(s, job),
        };
        assert!(step(&mut s, t(0), &decide).is_empty());
        s.reject(0);
        let actions = step(&mut s, t(1), &decide);
        assert_eq!(actions[0], Action::Finished { job: 0, result: JobResult::Failure });
        assert_eq!(s.result(1), Some(JobResult::Skipped));
        assert!(actions.contains(&Action::Start { job: 2, leg: 0 }));
    }

    #[test]
    fn a_wait_timer_opens_at_its_deadline_and_a_cancelled_run_ends_the_wait() {
        let mut s = Scheduler::new(graph(&[("qa", &[]), ("prod", &[])]), 4);
        let decide = |_: &Scheduler, job: usize| match job {
            0 => gated(false, Some(t(120))),
            _ => gated(true, Some(t(60))),
        };
        assert!(step(&mut s, t(0), &decide).is_empty());
        assert_eq!(s.next_deadline(), Some(t(60)));
        assert!(step(&mut s, t(119), &decide).is_empty());
        assert_eq!(step(&mut s, t(120), &decide), vec![Action::Start { job: 0, leg: 0 }]);
        // prod's timer ran out, but it still needs its approval.
        assert_eq!(s.gated(), vec![(1, true)]);
        s.cancel_run();
        let actions = step(&mut s, t(121), &decide);
        assert!(actions.contains(&Action::Finished { job: 1, result: JobResult::Cancelled }), "{actions:?}");
    }
}
