//! The runner: carries out the scheduler's decisions on the host.
//!
//! The main thread drives the [`Scheduler`]: it evaluates each ready job's
//! `if:` with the scheduler's transitive status answers, expands its
//! matrix, and starts one thread per leg. A leg runs its steps one after
//! another as processes (the step's shell, working directory, environment
//! in GitHub's precedence, fresh `GITHUB_ENV`/`GITHUB_OUTPUT`/`GITHUB_PATH`
//! files per step), follows workflow commands in the output, masks
//! secrets, and reports back. Timeouts and fail-fast arrive as cancel
//! requests: SIGINT to the step's process group, SIGTERM after 7.5 s,
//! SIGKILL 2.5 s later, as GitHub does.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cloudlet_core::{SharedClock, Timestamp};

use crate::envfile::{self, EnvFileError};
use crate::expr::{self, FunctionSig, Host, Object, Value};
use crate::history::{CacheHit, LegInfo, RunEvent, RunRecorder};
use crate::matrix;
use crate::scheduler::{Action, Decision, JobNode, JobResult, LegOutcome, LegSpec, Scheduler};
use crate::shell;
use crate::workflow::{self, Job, Step, Workflow};
use crate::yaml::{Node, NodeKind};

/// Where step output goes (already masked).
pub trait LogSink: Send + Sync {
    fn line(&self, job: &str, line: &str);
}

/// Facts about the repository and the event that started the run.
#[derive(Clone, Debug, Default)]
pub struct RunContext {
    pub workspace: PathBuf,
    /// The workflow file, relative to the workspace.
    pub workflow_path: String,
    pub event_name: String,
    pub event: Value,
    pub sha: String,
    pub git_ref: String,
    pub repository: String,
    pub actor: String,
    pub inputs: Vec<(String, String)>,
    pub secrets: Vec<(String, String)>,
    pub vars: Vec<(String, String)>,
    /// Run only this job (and the jobs it needs).
    pub only_job: Option<String>,
    pub max_parallel: usize,
    pub run_id: u64,
    pub run_number: u64,
    /// Files the triggering change touched, for `paths` filters (`None`:
    /// unknown, filters on paths pass).
    pub changed_paths: Option<Vec<String>>,
    /// `--action NAME=PATH`: a local checkout for the remote action NAME
    /// (`owner/repo` or `owner/repo/path`).
    pub actions: Vec<(String, PathBuf)>,
    /// Set when this run is a reusable workflow called by a job.
    pub call: Option<CallArgs>,
    /// Where caches live (`actions/cache`); `None`: caching fails clearly.
    pub data_dir: Option<PathBuf>,
    /// Set to cancel the run (Ctrl-C): running steps are stopped, and jobs
    /// whose `if:` still holds (`always()`) run.
    pub cancel: Option<Arc<AtomicBool>>,
    /// Where the run's history goes, and where approvals come from;
    /// `None`: nothing is recorded and a required approval fails the job.
    pub recorder: Option<Arc<dyn RunRecorder>>,
}

/// What a calling job passes to a reusable workflow.
#[derive(Clone, Debug, Default)]
pub struct CallArgs {
    /// Inputs, typed by the called workflow's declarations.
    pub inputs: Object,
    pub secrets: Vec<(String, String)>,
    /// 1 for a workflow called by the top-level one.
    pub depth: usize,
}

/// How deep reusable workflows may nest (the caller plus nine), as on
/// GitHub.
pub const MAX_CALL_DEPTH: usize = 10;

/// One leg's (or skipped job's) outcome in the run report.
#[derive(Clone, Debug)]
pub struct JobReport {
    pub id: String,
    pub name: String,
    pub matrix: Option<Object>,
    pub result: JobResult,
    pub outputs: Object,
    pub started_at: Timestamp,
    pub finished_at: Timestamp,
}

#[derive(Clone, Debug)]
pub struct RunReport {
    pub run_id: u64,
    pub conclusion: JobResult,
    pub jobs: Vec<JobReport>,
    /// Each job's result and merged outputs (the `jobs` context of a
    /// reusable workflow's outputs).
    pub job_results: Vec<(String, JobResult, Object)>,
    /// The longest chain of `needs` by the jobs' measured durations.
    pub critical_path: Vec<String>,
    /// Every `actions/cache` lookup (hit, partial or miss), also those of
    /// called workflows.
    pub caches: Vec<crate::cache::Lookup>,
}

impl RunReport {
    /// The documented `--json` object.
    pub fn to_json(&self) -> Value {
        let mut o = Object::new();
        o.set("run_id", Value::string(self.run_id.to_string()));
        o.set("conclusion", Value::string(self.conclusion.as_str()));
        let jobs = self
            .jobs
            .iter()
            .map(|j| {
                let mut jo = Object::new();
                jo.set("id", Value::string(&j.id));
                jo.set("name", Value::string(&j.name));
                jo.set("matrix", j.matrix.clone().map_or(Value::Null, Value::object));
                jo.set("result", Value::string(j.result.as_str()));
                jo.set("outputs", Value::object(j.outputs.clone()));
                jo.set("started_at", Value::string(j.started_at.to_rfc3339_millis()));
                jo.set("finished_at", Value::string(j.finished_at.to_rfc3339_millis()));
                Value::object(jo)
            })
            .collect();
        o.set("jobs", Value::array(jobs));
        Value::object(o)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("job '{0}' is not in the workflow")]
    UnknownJob(String),
    #[error("the workflow is not triggered by '{event}' (its events: {events})")]
    NotTriggered { event: String, events: String },
    #[error("the workflow is not triggered: {0}")]
    Filtered(String),
    #[error(
        "{file}:{line}:{col}: job '{job}' uses `{key}`, which needs a container runtime; cloudlet ci runs jobs on the host"
    )]
    NeedsContainer { file: String, line: usize, col: usize, job: String, key: String },
    #[error("{0}")]
    Evaluation(String),
    #[error("{file}:{line}:{col}: uses: {uses}: {message}")]
    LocalAction { file: String, line: usize, col: usize, uses: String, message: String },
    #[error("{0}")]
    Invalid(String),
    #[error("input '{0}' is required")]
    MissingInput(String),
    #[error("could not prepare the runner's temporary directory {path}")]
    Temp {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// One leg, planned when its job was decided.
#[derive(Clone, Debug)]
struct LegPlan {
    combo: Option<Object>,
    name: String,
    contexts: Object,
    /// Its index among the job's legs.
    leg: usize,
}

struct LegDone {
    job: usize,
    leg: usize,
    outcome: LegOutcome,
    outputs: Object,
    /// The called workflow's jobs, for a reusable-workflow job.
    nested: Vec<JobReport>,
    started_at: Timestamp,
    finished_at: Timestamp,
}

/// Runs a validated workflow to the end.
pub fn run_workflow(
    wf: &Workflow,
    ctx: &RunContext,
    clock: SharedClock,
    log: Arc<dyn LogSink>,
) -> Result<RunReport, RunError> {
    if ctx.call.is_some() {
        if crate::reusable::interface(wf).is_none() {
            return Err(RunError::Invalid(format!("{} is not triggered by workflow_call", wf.file)));
        }
    } else if !wf.events.iter().any(|e| e.value == ctx.event_name) {
        return Err(RunError::NotTriggered {
            event: ctx.event_name.clone(),
            events: wf.events.iter().map(|e| e.value.as_str()).collect::<Vec<_>>().join(", "),
        });
    }
    let payload = |path: &[&str]| -> Option<String> {
        let mut v = &ctx.event;
        for p in path {
            v = v.as_object()?.get(p)?;
        }
        v.as_str().map(str::to_owned)
    };
    if ctx.call.is_none() {
        crate::filters::check_trigger(
            wf.on.as_ref(),
            &ctx.event_name,
            &ctx.git_ref,
            payload(&["pull_request", "base", "ref"]).as_deref(),
            payload(&["action"]).as_deref(),
            ctx.changed_paths.as_deref(),
        )
        .map_err(RunError::Filtered)?;
    }
    let jobs = select_jobs(wf, ctx.only_job.as_deref())?;
    if let Some((job, k)) = jobs.iter().find_map(|j| j.container_key.as_ref().map(|k| (j, k))) {
        return Err(RunError::NeedsContainer {
            file: wf.file.clone(),
            line: k.pos.line,
            col: k.pos.col,
            job: job.id.clone(),
            key: k.value.clone(),
        });
    }
    check_local_actions(&wf.file, jobs.iter().flat_map(|j| j.steps.iter()), &ctx.workspace, 0)?;
    // Environments' rules are read (and checked) before anything runs.
    environments(&ctx.workspace).map_err(|e| RunError::Invalid(e.to_string()))?;
    let mut resolve = |uses: &str| read_called_workflow(&ctx.workspace, &ctx.actions, uses);
    crate::reusable::check_calls(wf, &mut resolve).map_err(|e| RunError::Invalid(e.to_string()))?;
    let inputs = match &ctx.call {
        Some(call) => call.inputs.clone(),
        None => inputs_context(wf, ctx)?,
    };
    // Unique per run, also for the nested runs of reusable workflows.
    static RUNS: AtomicU64 = AtomicU64::new(0);
    let seq = RUNS.fetch_add(1, Ordering::SeqCst);
    let temp = std::env::temp_dir().join(format!("cloudlet-ci-{}-{}-{seq}", ctx.run_id, std::process::id()));
    std::fs::create_dir_all(temp.join("_runner_file_commands"))
        .map_err(|source| RunError::Temp { path: temp.clone(), source })?;
    let event_path = temp.join("event.json");
    std::fs::write(&event_path, ctx.event.to_json_pretty())
        .map_err(|source| RunError::Temp { path: event_path.clone(), source })?;

    let mut base = Object::new();
    let mut github = github_context(wf, ctx, &event_path);
    // github.event.inputs: every workflow_dispatch input, as strings.
    if ctx.event_name == "workflow_dispatch"
        && let Value::Object(g) = &github
        && let Some(Value::Object(event)) = g.get("event")
    {
        let mut event = (**event).clone();
        let strings: Object =
            inputs.iter().map(|(k, v)| (k.to_owned(), Value::string(v.to_display_string()))).collect();
        event.set("inputs", Value::object(strings));
        let mut g = (**g).clone();
        g.set("event", Value::object(event));
        github = Value::object(g);
    }
    base.set("github", github);
    base.set("inputs", Value::object(inputs));
    base.set("vars", pairs_object(&ctx.vars));
    let mut secrets = Object::new();
    secrets.set("GITHUB_TOKEN", Value::string(""));
    let run_secrets = ctx.call.as_ref().map_or(&ctx.secrets, |c| &c.secrets);
    for (k, v) in run_secrets {
        secrets.set(k, Value::string(v));
    }
    base.set("secrets", Value::object(secrets));
    let masks: Vec<String> = run_secrets.iter().map(|(_, v)| v.clone()).filter(|v| !v.is_empty()).collect();

    // Workflow env: github, secrets, inputs, vars.
    let wf_env = eval_env(&wf.env, &base).map_err(RunError::Evaluation)?;

    let nodes: Vec<JobNode> = jobs
        .iter()
        .map(|j| JobNode {
            id: j.id.clone(),
            needs: j
                .needs
                .iter()
                .filter_map(|n| jobs.iter().position(|o| o.id.eq_ignore_ascii_case(&n.value)))
                .collect(),
        })
        .collect();
    let mut sched = Scheduler::new(nodes, ctx.max_parallel);
    let shared = Arc::new(Shared {
        workspace: ctx.workspace.clone(),
        temp: temp.clone(),
        wf_env,
        defaults: (wf.defaults.shell.clone().map(|s| s.value), wf.defaults.working_directory.clone().map(|s| s.value)),
        masks: Mutex::new(masks),
        log,
        clock: clock.clone(),
        counter: AtomicU64::new(0),
        base_env: default_env(wf, ctx, &temp, &event_path),
        actions: ctx.actions.clone(),
        ctx: ctx.clone(),
        dirty_noticed: AtomicBool::new(false),
        cache_lookups: Mutex::new(Vec::new()),
    });
    let mut plans: Vec<Vec<LegPlan>> = vec![Vec::new(); jobs.len()];
    let mut leg_outputs: Vec<Vec<Option<Object>>> = vec![Vec::new(); jobs.len()];
    let mut job_outputs: Vec<Object> = vec![Object::new(); jobs.len()];
    let mut cancels: HashMap<(usize, usize), Arc<AtomicBool>> = HashMap::new();
    let mut reports: Vec<(usize, usize, JobReport)> = Vec::new();
    let (tx, rx) = mpsc::channel::<LegDone>();

    let mut cancel_seen = false;
    // Jobs waiting for their environment's rules, and the environment.
    let mut waiting: HashMap<usize, String> = HashMap::new();
    loop {
        if !cancel_seen && ctx.cancel.as_ref().is_some_and(|c| c.load(Ordering::SeqCst)) {
            cancel_seen = true;
            shared.log("run", "Cancelling the run");
            sched.cancel_run();
        }
        let now = clock.now();
        let actions = sched.poll(now);
        let mut progressed = !actions.is_empty();
        let _ = &mut progressed;
        for a in actions {
            match a {
                Action::Decide { job } => {
                    let decision = decide(&jobs[job], job, &sched, &base, &job_outputs, &jobs, &shared);
                    match decision {
                        Ok((d, legs, group, environment)) => {
                            if let Some((g, cancel_in_progress)) = group {
                                sched.set_concurrency(job, &g, cancel_in_progress);
                            }
                            record_decided(&shared, &jobs[job], &jobs, &d, &legs, environment.as_deref(), now);
                            if let (Decision::Wait { .. }, Some(env)) = (&d, environment) {
                                waiting.insert(job, env);
                            }
                            if matches!(d, Decision::Skip) {
                                reports.push((job, 0, skipped_report(&jobs[job], now)));
                            }
                            leg_outputs[job] = vec![None; legs.len()];
                            plans[job] = legs;
                            sched.decide(job, d);
                        }
                        Err(message) => {
                            shared.log(&jobs[job].id, &format!("Error: {message}"));
                            record_decided(&shared, &jobs[job], &jobs, &Decision::Fail, &[], None, now);
                            reports.push((
                                job,
                                0,
                                JobReport { result: JobResult::Failure, ..skipped_report(&jobs[job], now) },
                            ));
                            sched.decide(job, Decision::Fail);
                        }
                    }
                }
                Action::Start { job, leg } => {
                    if waiting.remove(&job).is_some() {
                        shared.event(RunEvent::JobReleased { job: jobs[job].id.clone(), at: now });
                    }
                    let cancel = Arc::new(AtomicBool::new(false));
                    cancels.insert((job, leg), cancel.clone());
                    let plan = plans[job][leg].clone();
                    let job_def = jobs[job].clone();
                    let shared = shared.clone();
                    let tx = tx.clone();
                    std::thread::spawn(move || {
                        let started_at = shared.clock.now();
                        shared.event(RunEvent::LegStarted { job: job_def.id.clone(), leg, at: started_at });
                        let (outcome, outputs, nested) = match &job_def.uses {
                            Some(_) => run_called(&job_def, &plan, &shared, &cancel),
                            None => {
                                let (o, out) = run_leg(&job_def, &plan, &shared, &cancel);
                                (o, out, Vec::new())
                            }
                        };
                        let finished_at = shared.clock.now();
                        // The history learns how the leg ended from the
                        // scheduler (`record`), which knows a leg stopped by
                        // its `timeout-minutes` failed rather than was cancelled.
                        let _ = tx.send(LegDone { job, leg, outcome, outputs, nested, started_at, finished_at });
                    });
                }
                Action::Cancel { job, leg, reason } => {
                    if let Some(c) = cancels.get(&(job, leg)) {
                        shared.log(&plans[job][leg].name, &format!("Cancelling: {reason:?}"));
                        c.store(true, Ordering::SeqCst);
                    }
                }
                Action::Finished { job, result } => {
                    if waiting.remove(&job).is_some() {
                        shared.event(RunEvent::JobReleased { job: jobs[job].id.clone(), at: now });
                    }
                    shared.event(RunEvent::JobFinished { job: jobs[job].id.clone(), result, at: now });
                }
            }
        }
        // Jobs held for an approval learn the reviewers' decisions.
        for (job, needs_approval) in sched.gated() {
            let Some(env) = waiting.get(&job) else { continue };
            let decided = if needs_approval { ctx.recorder.as_ref().and_then(|r| r.approval(env)) } else { None };
            if let Some(a) = decided {
                progressed = true;
                let comment = if a.comment.is_empty() { String::new() } else { format!(": {}", a.comment) };
                if a.approved {
                    shared.log(&jobs[job].id, &format!("Deployment to '{env}' approved by {}{comment}", a.actor));
                    sched.approve(job);
                } else {
                    shared.log(&jobs[job].id, &format!("Deployment to '{env}' rejected by {}{comment}", a.actor));
                    shared.log(&jobs[job].id, "The deployment was rejected or didn't satisfy other protection rules.");
                    sched.reject(job);
                    // Its legs never run, and fail as the job does.
                    let now = clock.now();
                    for (l, plan) in plans[job].iter().enumerate() {
                        reports.push((
                            job,
                            l,
                            JobReport {
                                id: jobs[job].id.clone(),
                                name: plan.name.clone(),
                                matrix: plan.combo.clone(),
                                result: JobResult::Failure,
                                outputs: Object::new(),
                                started_at: now,
                                finished_at: now,
                            },
                        ));
                    }
                }
            }
        }
        if sched.is_done() {
            break;
        }
        // Record every leg that has finished; poll again at once if anything happened.
        while let Ok(done) = rx.try_recv() {
            progressed = true;
            record(done, &mut sched, &plans, &mut leg_outputs, &mut job_outputs, &mut reports, &jobs, &shared);
        }
        if progressed {
            continue;
        }
        let wait = match sched.next_deadline() {
            Some(d) => Duration::from_nanos(d.as_unix_nanos().saturating_sub(clock.now().as_unix_nanos())),
            None => Duration::from_secs(3600),
        };
        // Wake at least every 100 ms to notice a cancelled run.
        let wait = if ctx.cancel.is_some() { wait.min(Duration::from_millis(100)) } else { wait };
        // A waiting job polls the store for approvals (a cheap indexed read).
        let wait = if waiting.is_empty() { wait } else { wait.min(Duration::from_millis(200)) };
        match rx.recv_timeout(wait.max(Duration::from_millis(1))) {
            Ok(done) => {
                record(done, &mut sched, &plans, &mut leg_outputs, &mut job_outputs, &mut reports, &jobs, &shared)
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    // Legs that never started (cancelled by fail-fast) are reported too.
    let end = clock.now();
    for (j, legs) in plans.iter().enumerate() {
        for (l, plan) in legs.iter().enumerate() {
            if !reports.iter().any(|(rj, rl, _)| *rj == j && *rl == l) {
                reports.push((
                    j,
                    l,
                    JobReport {
                        id: jobs[j].id.clone(),
                        name: plan.name.clone(),
                        matrix: plan.combo.clone(),
                        result: JobResult::Cancelled,
                        outputs: Object::new(),
                        started_at: end,
                        finished_at: end,
                    },
                ));
            }
        }
    }
    // The run's artifacts stay in the data dir for later runs' `run-id`
    // downloads (a called workflow's go with its caller's run).
    if let (Some(data), None) = (&ctx.data_dir, &ctx.call) {
        keep_artifacts(&temp.join("artifacts"), &kept_artifacts_dir(data, ctx.run_id), &shared);
    }
    let _ = std::fs::remove_dir_all(&temp);
    reports.sort_by_key(|(j, l, _)| (*j, *l));
    let results: Vec<JobResult> = (0..jobs.len()).filter_map(|j| sched.result(j)).collect();
    let conclusion = if results.contains(&JobResult::Failure) {
        JobResult::Failure
    } else if results.contains(&JobResult::Cancelled) {
        JobResult::Cancelled
    } else {
        JobResult::Success
    };
    let job_results = (0..jobs.len())
        .map(|j| (jobs[j].id.clone(), sched.result(j).unwrap_or(JobResult::Skipped), job_outputs[j].clone()))
        .collect();
    // Each job's span: its first leg's start to its last leg's end.
    let durations: Vec<Duration> = (0..jobs.len())
        .map(|j| {
            let spans = reports.iter().filter(|(rj, _, r)| *rj == j && r.id == jobs[j].id);
            let start = spans.clone().map(|(_, _, r)| r.started_at).min();
            let end = spans.map(|(_, _, r)| r.finished_at).max();
            match (start, end) {
                (Some(s), Some(e)) => e.saturating_duration_since(s),
                _ => Duration::ZERO,
            }
        })
        .collect();
    let (_, path) = crate::simulate::critical_path(sched.nodes(), &durations);
    let critical_path = path.into_iter().map(|j| jobs[j].id.clone()).collect();
    Ok(RunReport {
        run_id: ctx.run_id,
        conclusion,
        jobs: reports.into_iter().map(|(_, _, r)| r).collect(),
        job_results,
        critical_path,
        caches: shared.cache_lookups.lock().map(|mut l| std::mem::take(&mut *l)).unwrap_or_default(),
    })
}

#[allow(clippy::too_many_arguments, reason = "the run loop's state, borrowed piecewise")]
fn record(
    done: LegDone,
    sched: &mut Scheduler,
    plans: &[Vec<LegPlan>],
    leg_outputs: &mut [Vec<Option<Object>>],
    job_outputs: &mut [Object],
    reports: &mut Vec<(usize, usize, JobReport)>,
    jobs: &[Job],
    shared: &Shared,
) {
    let plan = &plans[done.job][done.leg];
    sched.leg_finished(done.job, done.leg, done.outcome);
    // Matrix legs' outputs merge; the last leg to finish wins.
    for (k, v) in done.outputs.iter() {
        job_outputs[done.job].set(k, v.clone());
    }
    leg_outputs[done.job][done.leg] = Some(done.outputs.clone());
    let result = sched.leg_result(done.job, done.leg).unwrap_or(match done.outcome {
        LegOutcome::Success => JobResult::Success,
        LegOutcome::Failure => JobResult::Failure,
        LegOutcome::Cancelled => JobResult::Cancelled,
    });
    shared.event(RunEvent::LegFinished {
        job: jobs[done.job].id.clone(),
        leg: done.leg,
        result,
        outputs_json: Value::object(done.outputs.clone()).to_json_compact(),
        at: done.finished_at,
    });
    reports.push((
        done.job,
        done.leg,
        JobReport {
            id: jobs[done.job].id.clone(),
            name: plan.name.clone(),
            matrix: plan.combo.clone(),
            result,
            outputs: done.outputs,
            started_at: done.started_at,
            finished_at: done.finished_at,
        },
    ));
    for r in done.nested {
        reports.push((done.job, done.leg, r));
    }
}

fn skipped_report(job: &Job, now: Timestamp) -> JobReport {
    JobReport {
        id: job.id.clone(),
        name: job.name.as_ref().map_or_else(|| job.id.clone(), |n| n.value.clone()),
        matrix: None,
        result: JobResult::Skipped,
        outputs: Object::new(),
        started_at: now,
        finished_at: now,
    }
}

/// Every local action the steps use must exist and be valid before
/// anything runs (composite actions are checked down to their own local
/// actions).
fn check_local_actions<'a>(
    file: &str,
    steps: impl Iterator<Item = &'a Step>,
    workspace: &Path,
    depth: usize,
) -> Result<(), RunError> {
    for step in steps {
        let Some(u) = &step.uses else { continue };
        let Some(rel) = u.value.strip_prefix("./") else { continue };
        let fail = |message: String| RunError::LocalAction {
            file: file.to_owned(),
            line: u.pos.line,
            col: u.pos.col,
            uses: u.value.clone(),
            message,
        };
        if depth >= MAX_ACTION_DEPTH {
            return Err(fail(format!("actions may nest at most {MAX_ACTION_DEPTH} deep")));
        }
        let def = crate::action::load_action(&workspace.join(rel), u.value.trim_end_matches('/')).map_err(fail)?;
        if let crate::action::ActionRuns::Composite(inner) = &def.runs {
            check_local_actions(file, inner.iter(), workspace, depth + 1)?;
        }
    }
    Ok(())
}

/// The text of a called workflow: `./path` in the workspace, or a remote
/// one through `--action owner/repo=PATH`.
fn read_called_workflow(workspace: &Path, actions: &[(String, PathBuf)], uses: &str) -> Result<String, String> {
    let path = match uses.strip_prefix("./") {
        Some(rel) => workspace.join(rel),
        None => mapped_action(actions, uses).ok_or_else(|| {
            format!(
                "cloudlet ci does not download workflows; map a local checkout with --action {}=PATH",
                uses.split('/').take(2).collect::<Vec<_>>().join("/")
            )
        })?,
    };
    std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Log lines of a called workflow, under the calling job's name.
struct PrefixLog {
    inner: Arc<dyn LogSink>,
    prefix: String,
}

impl LogSink for PrefixLog {
    fn line(&self, job: &str, line: &str) {
        self.inner.line(&format!("{} / {job}", self.prefix), line);
    }
}

/// Runs a reusable-workflow job: the called workflow as a nested run with
/// the job's inputs and secrets, its outputs from the `jobs` context.
fn run_called(
    job: &Job,
    plan: &LegPlan,
    shared: &Shared,
    cancel: &Arc<AtomicBool>,
) -> (LegOutcome, Object, Vec<JobReport>) {
    let fail = |message: String| {
        shared.log(&plan.name, &format!("Error: {message}"));
        (LegOutcome::Failure, Object::new(), Vec::new())
    };
    let Some(uses) = &job.uses else { return fail("not a reusable-workflow job".to_owned()) };
    let depth = shared.ctx.call.as_ref().map_or(0, |c| c.depth) + 1;
    if depth >= MAX_CALL_DEPTH {
        return fail(format!("Nested reusable workflow depth exceeded {}.", MAX_CALL_DEPTH - 1));
    }
    let text = match read_called_workflow(&shared.workspace, &shared.actions, &uses.value) {
        Ok(t) => t,
        Err(e) => return fail(format!("uses: {}: {e}", uses.value)),
    };
    let callee = match workflow::parse_workflow(&uses.value, &text) {
        Ok(wf) => wf,
        Err(e) => return fail(e.to_string()),
    };
    let iface = crate::reusable::interface(&callee).unwrap_or_default();
    let host = expr::NoHost;
    let mut inputs = Object::new();
    for input in &iface.inputs {
        let given = job.with.iter().find(|(k, _)| k.eq_ignore_ascii_case(&input.name)).map(|(_, v)| v);
        let value = match (given, &input.default) {
            (Some(v), _) | (None, Some(v)) => match eval_node(v, &plan.contexts, &[], &host) {
                Ok(v) => crate::reusable::typed(&input.ty, v),
                Err(e) => return fail(format!("with.{}: {e}", input.name)),
            },
            (None, None) => crate::reusable::zero(&input.ty),
        };
        inputs.set(&input.name, value);
    }
    let caller_secrets: Vec<(String, String)> = plan
        .contexts
        .get("secrets")
        .and_then(Value::as_object)
        .map(|o| {
            o.iter().filter(|(k, _)| *k != "GITHUB_TOKEN").map(|(k, v)| (k.to_owned(), v.to_display_string())).collect()
        })
        .unwrap_or_default();
    let secrets = match &job.secrets {
        Some(n) if n.as_str() == Some("inherit") => caller_secrets,
        Some(n) => {
            let mut out = Vec::new();
            for (k, v) in n.as_map().unwrap_or_default() {
                match eval_node(v, &plan.contexts, &[], &host) {
                    Ok(val) => out.push((k.as_str().unwrap_or_default().to_owned(), val.to_display_string())),
                    Err(e) => return fail(format!("secrets: {e}")),
                }
            }
            out
        }
        None => Vec::new(),
    };
    let mut sub = shared.ctx.clone();
    // The calling job is what the history records.
    sub.recorder = None;
    sub.workflow_path = uses.value.clone();
    sub.only_job = None;
    sub.changed_paths = None;
    sub.cancel = Some(cancel.clone());
    sub.call = Some(CallArgs { inputs: inputs.clone(), secrets, depth });
    let log: Arc<dyn LogSink> = Arc::new(PrefixLog { inner: shared.log.clone(), prefix: plan.name.clone() });
    let report = match run_workflow(&callee, &sub, shared.clock.clone(), log) {
        Ok(r) => r,
        Err(e) => return fail(e.to_string()),
    };
    let mut jobs_ctx = Object::new();
    for (id, result, outputs) in &report.job_results {
        let mut o = Object::new();
        o.set("result", Value::string(result.as_str()));
        o.set("outputs", Value::object(outputs.clone()));
        jobs_ctx.set(id, Value::object(o));
    }
    let mut ctx = Object::new();
    for name in ["github", "vars"] {
        ctx.set(name, plan.contexts.get(name).cloned().unwrap_or_default());
    }
    ctx.set("inputs", Value::object(inputs));
    ctx.set("jobs", Value::object(jobs_ctx));
    let mut outputs = Object::new();
    for (name, value) in &iface.outputs {
        match eval_string(&value.value, &ctx, &[], &host) {
            Ok(v) => outputs.set(name, Value::String(v)),
            Err(e) => shared.log(&plan.name, &format!("Error: outputs.{name}: {e}")),
        }
    }
    let outcome = match report.conclusion {
        JobResult::Success | JobResult::Skipped => LegOutcome::Success,
        JobResult::Failure => LegOutcome::Failure,
        JobResult::Cancelled => LegOutcome::Cancelled,
    };
    if let Ok(mut l) = shared.cache_lookups.lock() {
        l.extend(report.caches.iter().cloned());
    }
    let nested = report
        .jobs
        .into_iter()
        .map(|r| JobReport { id: format!("{}/{}", job.id, r.id), name: format!("{} / {}", plan.name, r.name), ..r })
        .collect();
    (outcome, outputs, nested)
}

/// The jobs to run: all, or one job and everything it needs.
fn select_jobs(wf: &Workflow, only: Option<&str>) -> Result<Vec<Job>, RunError> {
    let Some(only) = only else { return Ok(wf.jobs.clone()) };
    let mut keep: Vec<String> = vec![only.to_owned()];
    let mut i = 0;
    while i < keep.len() {
        let job = wf
            .jobs
            .iter()
            .find(|j| j.id.eq_ignore_ascii_case(&keep[i]))
            .ok_or_else(|| RunError::UnknownJob(keep[i].clone()))?;
        for n in &job.needs {
            if !keep.iter().any(|k| k.eq_ignore_ascii_case(&n.value)) {
                keep.push(n.value.clone());
            }
        }
        i += 1;
    }
    Ok(wf.jobs.iter().filter(|j| keep.iter().any(|k| k.eq_ignore_ascii_case(&j.id))).cloned().collect())
}

/// The `inputs` context: `workflow_dispatch` inputs typed by their
/// declarations, with defaults.
fn inputs_context(wf: &Workflow, ctx: &RunContext) -> Result<Object, RunError> {
    let mut o = Object::new();
    let decls = wf.on.as_ref().and_then(|on| on.get(&ctx.event_name)).and_then(|e| e.get("inputs"));
    let pairs = decls.and_then(Node::as_map).unwrap_or_default();
    if ctx.event_name == "workflow_dispatch" {
        let unexpected: Vec<String> = ctx
            .inputs
            .iter()
            .filter(|(k, _)| !pairs.iter().any(|(d, _)| d.as_str() == Some(k.as_str())))
            .map(|(k, _)| format!("\"{k}\""))
            .collect();
        if !unexpected.is_empty() {
            return Err(RunError::Invalid(format!("Unexpected inputs provided: [{}]", unexpected.join(", "))));
        }
    }
    for (k, def) in pairs {
        let name = k.as_str().unwrap_or_default();
        let given = ctx.inputs.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
        let ty = def.get("type").and_then(Node::as_str).unwrap_or("string");
        let required = def.get("required").and_then(Node::as_str) == Some("true");
        let text = match (given, def.get("default")) {
            (Some(v), _) => v,
            (None, Some(d)) => d.as_str().unwrap_or_default().to_owned(),
            (None, None) if required => return Err(RunError::MissingInput(name.to_owned())),
            (None, None) => String::new(),
        };
        let value = match ty {
            "boolean" => match text.as_str() {
                "true" => Value::Bool(true),
                "false" | "" => Value::Bool(false),
                other => {
                    return Err(RunError::Invalid(format!(
                        "input '{name}' is a boolean: expected true or false, got '{other}'"
                    )));
                }
            },
            "number" => {
                let n = expr::js_parse_number(&text);
                if n.is_nan() {
                    return Err(RunError::Invalid(format!("input '{name}' is a number, got '{text}'")));
                }
                Value::Number(n)
            }
            "choice" => {
                let options: Vec<&str> = def
                    .get("options")
                    .and_then(Node::as_seq)
                    .unwrap_or_default()
                    .iter()
                    .filter_map(Node::as_str)
                    .collect();
                if !text.is_empty() && !options.contains(&text.as_str()) {
                    return Err(RunError::Invalid(format!(
                        "input '{name}' must be one of: {}; got '{text}'",
                        options.join(", ")
                    )));
                }
                Value::String(text)
            }
            _ => Value::String(text),
        };
        o.set(name, value);
    }
    for (k, v) in &ctx.inputs {
        if o.get(k).is_none() {
            o.set(k, Value::string(v));
        }
    }
    Ok(o)
}

fn pairs_object(pairs: &[(String, String)]) -> Value {
    let mut o = Object::new();
    for (k, v) in pairs {
        o.set(k, Value::string(v));
    }
    Value::object(o)
}

fn ref_name(git_ref: &str) -> (&str, &str) {
    if let Some(b) = git_ref.strip_prefix("refs/heads/") {
        (b, "branch")
    } else if let Some(t) = git_ref.strip_prefix("refs/tags/") {
        (t, "tag")
    } else {
        (git_ref, "branch")
    }
}

fn github_context(wf: &Workflow, ctx: &RunContext, event_path: &Path) -> Value {
    let (name, kind) = ref_name(&ctx.git_ref);
    let owner = ctx.repository.split('/').next().unwrap_or_default();
    let mut g = Object::new();
    let s = |v: &str| Value::string(v);
    g.set("action", s("__run"));
    g.set("actor", s(&ctx.actor));
    g.set("api_url", s("https://api.github.com"));
    g.set("base_ref", s(""));
    g.set("event", ctx.event.clone());
    g.set("event_name", s(&ctx.event_name));
    g.set("event_path", s(&event_path.to_string_lossy()));
    g.set("graphql_url", s("https://api.github.com/graphql"));
    g.set("head_ref", s(""));
    g.set("ref", s(&ctx.git_ref));
    g.set("ref_name", s(name));
    g.set("ref_protected", Value::Bool(false));
    g.set("ref_type", s(kind));
    g.set("repository", s(&ctx.repository));
    g.set("repository_owner", s(owner));
    g.set("retention_days", s("90"));
    g.set("run_attempt", s("1"));
    g.set("run_id", s(&ctx.run_id.to_string()));
    g.set("run_number", s(&ctx.run_number.to_string()));
    g.set("server_url", s("https://github.com"));
    g.set("sha", s(&ctx.sha));
    g.set("token", s(""));
    g.set("triggering_actor", s(&ctx.actor));
    g.set("workflow", s(&workflow_name(wf, ctx)));
    g.set("workflow_ref", s(&format!("{}/{}@{}", ctx.repository, ctx.workflow_path, ctx.git_ref)));
    g.set("workspace", s(&ctx.workspace.to_string_lossy()));
    Value::object(g)
}

fn workflow_name(wf: &Workflow, ctx: &RunContext) -> String {
    wf.name.as_ref().map_or_else(|| ctx.workflow_path.clone(), |n| n.value.clone())
}

/// The workflow's name as the run reports it (`GITHUB_WORKFLOW`): its
/// `name:`, else its file path.
pub fn run_workflow_name(wf: &Workflow, ctx: &RunContext) -> String {
    workflow_name(wf, ctx)
}

/// The workflow-level `concurrency` group and `cancel-in-progress`,
/// evaluated with the `github`, `inputs` and `vars` contexts; `None`
/// without one.
pub fn workflow_concurrency(wf: &Workflow, ctx: &RunContext) -> Result<Option<(String, bool)>, RunError> {
    let Some(node) = &wf.concurrency else { return Ok(None) };
    let mut contexts = Object::new();
    contexts.set("github", github_context(wf, ctx, Path::new("")));
    contexts.set("inputs", Value::object(inputs_context(wf, ctx)?));
    contexts.set("vars", pairs_object(&ctx.vars));
    let v = eval_node(node, &contexts, &[], &expr::NoHost)
        .map_err(|e| RunError::Evaluation(format!("concurrency: {e}")))?;
    Ok(Some(match &v {
        Value::Object(o) => (
            o.get("group").map(Value::to_display_string).unwrap_or_default(),
            o.get("cancel-in-progress").is_some_and(Value::is_truthy),
        ),
        other => (other.to_display_string(), false),
    }))
}

/// `runner.arch` / `RUNNER_ARCH` in GitHub's spelling.
fn runner_arch() -> &'static str {
    match std::env::consts::ARCH {
        "aarch64" => "ARM64",
        "x86" => "X86",
        "arm" => "ARM",
        _ => "X64",
    }
}

/// Default environment variables every step sees (they win over `env:`).
fn default_env(wf: &Workflow, ctx: &RunContext, temp: &Path, event_path: &Path) -> Vec<(String, String)> {
    let (name, kind) = ref_name(&ctx.git_ref);
    let arch = runner_arch();
    let owner = ctx.repository.split('/').next().unwrap_or_default();
    let v = |k: &str, val: &str| (k.to_owned(), val.to_owned());
    vec![
        v("CI", "true"),
        v("GITHUB_ACTIONS", "true"),
        v("GITHUB_ACTOR", &ctx.actor),
        v("GITHUB_API_URL", "https://api.github.com"),
        v("GITHUB_EVENT_NAME", &ctx.event_name),
        v("GITHUB_EVENT_PATH", &event_path.to_string_lossy()),
        v("GITHUB_GRAPHQL_URL", "https://api.github.com/graphql"),
        v("GITHUB_REF", &ctx.git_ref),
        v("GITHUB_REF_NAME", name),
        v("GITHUB_REF_PROTECTED", "false"),
        v("GITHUB_REF_TYPE", kind),
        v("GITHUB_REPOSITORY", &ctx.repository),
        v("GITHUB_REPOSITORY_OWNER", owner),
        v("GITHUB_RETENTION_DAYS", "90"),
        v("GITHUB_RUN_ATTEMPT", "1"),
        v("GITHUB_RUN_ID", &ctx.run_id.to_string()),
        v("GITHUB_RUN_NUMBER", &ctx.run_number.to_string()),
        v("GITHUB_SERVER_URL", "https://github.com"),
        v("GITHUB_SHA", &ctx.sha),
        v("GITHUB_TRIGGERING_ACTOR", &ctx.actor),
        v("GITHUB_WORKFLOW", &workflow_name(wf, ctx)),
        v("GITHUB_WORKSPACE", &ctx.workspace.to_string_lossy()),
        v("RUNNER_ARCH", arch),
        v("RUNNER_ENVIRONMENT", "self-hosted"),
        v("RUNNER_NAME", "cloudlet"),
        v("RUNNER_OS", "Linux"),
        v("RUNNER_TEMP", &temp.to_string_lossy()),
        v("RUNNER_TOOL_CACHE", &temp.join("tool-cache").to_string_lossy()),
    ]
}

/// What every leg thread shares.
struct Shared {
    workspace: PathBuf,
    temp: PathBuf,
    wf_env: Vec<(String, String)>,
    defaults: (Option<String>, Option<String>),
    masks: Mutex<Vec<String>>,
    log: Arc<dyn LogSink>,
    clock: SharedClock,
    counter: AtomicU64,
    base_env: Vec<(String, String)>,
    /// `--action NAME=PATH`: local checkouts standing in for remote actions.
    actions: Vec<(String, PathBuf)>,
    /// The run's context, for the runs of reusable workflows it calls.
    ctx: RunContext,
    /// The notice that uncommitted changes are not checked out is given once.
    dirty_noticed: AtomicBool,
    /// Every `actions/cache` lookup of the run, for its report.
    cache_lookups: Mutex<Vec<crate::cache::Lookup>>,
}

impl Shared {
    fn mask(&self, line: &str) -> String {
        let masks = self.masks.lock().map(|m| m.clone()).unwrap_or_default();
        let mut out = line.to_owned();
        for m in masks.iter().filter(|m| !m.is_empty()) {
            out = out.replace(m.as_str(), "***");
        }
        out
    }

    fn log(&self, job: &str, line: &str) {
        self.log.line(job, &self.mask(line));
    }

    /// Reports to the run's history, if it keeps one.
    fn event(&self, event: RunEvent) {
        if let Some(r) = &self.ctx.recorder {
            r.record(event);
        }
    }

    fn next_id(&self) -> u64 {
        self.counter.fetch_add(1, Ordering::SeqCst)
    }
}

/// Status functions for a job's `if:`.
struct JobIfHost<'a> {
    sched: &'a Scheduler,
    job: usize,
}

impl Host for JobIfHost<'_> {
    fn status(&self, name: &str, args: &[Value]) -> Result<bool, String> {
        let st = if args.is_empty() {
            self.sched.status(self.job)
        } else {
            let mut idx = Vec::new();
            for a in args {
                let id = a.to_display_string();
                let i = self
                    .sched
                    .nodes()
                    .iter()
                    .position(|n| n.id.eq_ignore_ascii_case(&id))
                    .ok_or_else(|| format!("{name}(): unknown job '{id}'"))?;
                idx.push(i);
            }
            self.sched.status_of(&idx)
        };
        Ok(match name {
            "success" => st.success,
            "failure" => st.failure,
            "cancelled" => st.cancelled,
            _ => true,
        })
    }
}

/// Evaluates an `if:`, adding GitHub's implicit `success() &&` when the
/// condition calls no status function.
fn eval_if(raw: Option<&str>, contexts: &Object, functions: &[FunctionSig], host: &dyn Host) -> Result<bool, String> {
    let text = match raw {
        Some(r) if !r.trim().is_empty() => expr::if_condition_text(r).map_err(|e| e.to_string())?,
        _ => "success()".to_owned(),
    };
    let names: Vec<String> = contexts.iter().map(|(k, _)| k.to_owned()).collect();
    let parsed = expr::parse(&text, &names, functions).map_err(|e| e.to_string())?;
    if !parsed.as_ref().is_some_and(expr::calls_status_function) && !host.status("success", &[])? {
        return Ok(false);
    }
    let v = expr::evaluate(parsed.as_ref(), &text, contexts, host).map_err(|e| e.to_string())?;
    Ok(v.is_truthy())
}

/// Evaluates `${{ }}` inside a YAML node, keeping its shape.
fn eval_node(n: &Node, contexts: &Object, functions: &[FunctionSig], host: &dyn Host) -> Result<Value, String> {
    Ok(match &n.kind {
        NodeKind::Scalar { text, .. } if text.contains("${{") => {
            expr::eval_template(text, contexts, functions, host).map_err(|e| e.to_string())?
        }
        NodeKind::Scalar { .. } => n.to_value(),
        NodeKind::Seq(items) => {
            Value::array(items.iter().map(|i| eval_node(i, contexts, functions, host)).collect::<Result<_, _>>()?)
        }
        NodeKind::Map(pairs) => {
            let mut o = Object::new();
            for (k, v) in pairs {
                o.set(k.as_str().unwrap_or_default(), eval_node(v, contexts, functions, host)?);
            }
            Value::object(o)
        }
    })
}

fn eval_string(s: &str, contexts: &Object, functions: &[FunctionSig], host: &dyn Host) -> Result<String, String> {
    expr::eval_template(s, contexts, functions, host).map(|v| v.to_display_string()).map_err(|e| e.to_string())
}

fn eval_env(env: &[(String, Node)], contexts: &Object) -> Result<Vec<(String, String)>, String> {
    env.iter()
        .map(|(k, v)| {
            let val = eval_node(v, contexts, &[], &expr::NoHost).map_err(|e| format!("env.{k}: {e}"))?;
            Ok((k.clone(), val.to_display_string()))
        })
        .collect()
}

/// A decision, its legs, and the job's concurrency group (name and
/// cancel-in-progress).
type Decided = (Decision, Vec<LegPlan>, Option<(String, bool)>, Option<String>);

/// Decides a ready job: its `if:`, then its matrix legs.
fn decide(
    job: &Job,
    index: usize,
    sched: &Scheduler,
    base: &Object,
    job_outputs: &[Object],
    jobs: &[Job],
    shared: &Shared,
) -> Result<Decided, String> {
    let mut needs = Object::new();
    for n in &job.needs {
        if let Some(i) = jobs.iter().position(|j| j.id.eq_ignore_ascii_case(&n.value)) {
            let mut o = Object::new();
            o.set("result", Value::string(sched.result(i).map_or("skipped", JobResult::as_str)));
            o.set("outputs", Value::object(job_outputs[i].clone()));
            needs.set(&jobs[i].id, Value::object(o));
        }
    }
    let mut ctx = Object::new();
    for name in workflow::JOB_IF_CONTEXTS {
        if let Some(v) = base.get(name) {
            ctx.set(*name, v.clone());
        }
    }
    ctx.set("needs", Value::object(needs));
    let host = JobIfHost { sched, job: index };
    let run = eval_if(job.if_cond.as_ref().map(|c| c.value.as_str()), &ctx, workflow::JOB_STATUS_FUNCTIONS, &host)
        .map_err(|e| format!("{}: if: {e}", job.id))?;
    if !run {
        return Ok((Decision::Skip, Vec::new(), None, None));
    }
    if let Some(k) = &job.container_key {
        return Err(format!(
            "{}:{}: `{}` needs a container runtime; cloudlet ci runs jobs on the host",
            job.id, k.pos.line, k.value
        ));
    }
    // The environment's protection rules: all must pass before the job
    // is sent to a runner, as on GitHub.
    let mut environment = None;
    let mut gate = crate::environments::Gate::Open;
    if let Some(env) = &job.environment {
        let name = match env.get("name") {
            Some(n) => eval_node(n, &ctx, &[], &expr::NoHost)?,
            None => eval_node(env, &ctx, &[], &expr::NoHost)?,
        }
        .to_display_string();
        gate = environments(&shared.workspace).map_err(|e| e.to_string())?.gate(&name, &shared.ctx.git_ref);
        match &gate {
            crate::environments::Gate::BranchNotAllowed(message) => return Err(format!("{}: {message}", job.id)),
            crate::environments::Gate::Wait { approval: true, .. } if shared.ctx.recorder.is_none() => {
                return Err(format!(
                    "{}: environment '{name}' requires an approval ({}), and this run keeps no history to wait in; the job did not run",
                    job.id,
                    crate::environments::FILE
                ));
            }
            _ => {}
        }
        environment = Some(name);
    }
    let strategy = job.strategy.clone().unwrap_or_default();
    let combos: Vec<Option<Object>> = match &strategy.matrix {
        Some(m) => {
            let v = eval_node(m, &ctx, &[], &expr::NoHost).map_err(|e| format!("{}: strategy.matrix: {e}", job.id))?;
            matrix::expand(&v).map_err(|e| format!("{}: strategy.matrix: {e}", job.id))?.into_iter().map(Some).collect()
        }
        None => vec![None],
    };
    let fail_fast = match &strategy.fail_fast {
        Some(n) => eval_node(n, &ctx, &[], &expr::NoHost)?.is_truthy(),
        None => true,
    };
    let max_parallel = match &strategy.max_parallel {
        Some(n) => {
            let v = eval_node(n, &ctx, &[], &expr::NoHost)?.to_number();
            (v.is_finite() && v >= 1.0).then_some(v as usize)
        }
        None => None,
    };
    let total = combos.len();
    let mut legs = Vec::with_capacity(total);
    let mut specs = Vec::with_capacity(total);
    for (i, combo) in combos.into_iter().enumerate() {
        let mut leg_ctx = base.clone();
        leg_ctx.set("needs", ctx.get("needs").cloned().unwrap_or(Value::Null));
        let mut strat = Object::new();
        strat.set("fail-fast", Value::Bool(fail_fast));
        strat.set("job-index", Value::Number(i as f64));
        strat.set("job-total", Value::Number(total as f64));
        strat.set("max-parallel", Value::Number(max_parallel.unwrap_or(total) as f64));
        leg_ctx.set("strategy", Value::object(strat));
        leg_ctx.set("matrix", combo.clone().map_or_else(|| Value::object(Object::new()), Value::object));
        let base_name = job.name.as_ref().map_or_else(|| job.id.clone(), |n| n.value.clone());
        let name = if base_name.contains("${{") {
            eval_string(&base_name, &leg_ctx, &[], &expr::NoHost)?
        } else {
            combo.as_ref().map_or_else(|| base_name.clone(), |c| matrix::leg_name(&base_name, c))
        };
        let continue_on_error = match &job.continue_on_error {
            Some(n) => eval_node(n, &leg_ctx, &[], &expr::NoHost)?.is_truthy(),
            None => false,
        };
        let timeout_min = match &job.timeout_minutes {
            Some(n) => eval_node(n, &leg_ctx, &[], &expr::NoHost)?.to_number(),
            None => 360.0,
        };
        let timeout = Duration::from_secs_f64(if timeout_min.is_finite() && timeout_min > 0.0 {
            timeout_min * 60.0
        } else {
            360.0 * 60.0
        });
        specs.push(LegSpec { timeout, continue_on_error });
        legs.push(LegPlan { combo, name, contexts: leg_ctx, leg: i });
    }
    // The job's concurrency group, evaluated with its first leg's contexts.
    let group = match (&job.concurrency, legs.first()) {
        (Some(n), Some(first)) => {
            let v = eval_node(n, &first.contexts, &[], &expr::NoHost)?;
            match &v {
                Value::Object(o) => Some((
                    o.get("group").map(Value::to_display_string).unwrap_or_default(),
                    o.get("cancel-in-progress").is_some_and(Value::is_truthy),
                )),
                other => Some((other.to_display_string(), false)),
            }
        }
        _ => None,
    };
    let run = Decision::Run { legs: specs, fail_fast, max_parallel };
    let decision = match gate {
        crate::environments::Gate::Wait { approval, wait_timer_minutes } => Decision::Wait {
            approval,
            not_before: (wait_timer_minutes > 0)
                .then(|| shared.clock.now() + Duration::from_secs(wait_timer_minutes * 60)),
            then: Box::new(run),
        },
        _ => run,
    };
    Ok((decision, legs, group, environment))
}

/// Status functions and `hashFiles` inside a running job.
struct StepHost<'a> {
    failed: bool,
    cancelled: bool,
    workspace: &'a Path,
}

impl Host for StepHost<'_> {
    fn status(&self, name: &str, _args: &[Value]) -> Result<bool, String> {
        Ok(match name {
            "success" => !self.failed && !self.cancelled,
            "failure" => self.failed,
            "cancelled" => self.cancelled,
            _ => true,
        })
    }

    fn hash_files(&self, patterns: &[String]) -> Result<String, String> {
        crate::hash_files::hash_files(self.workspace, patterns)
    }
}

/// The mutable state of one running leg.
struct LegState {
    name: String,
    /// Its index among the job's legs (for the run history).
    leg: usize,
    contexts: Object,
    /// Values written to `GITHUB_ENV` so far.
    env_added: Vec<(String, String)>,
    paths_added: Vec<String>,
    steps: Object,
    failed: bool,
    run_count: usize,
    /// Post steps registered by JavaScript actions.
    posts: Vec<PostStep>,
    /// Process groups of the leg's steps: what they left running is ended
    /// with the job, as GitHub cleans up orphan processes.
    process_groups: Vec<i32>,
}

fn run_leg(job: &Job, plan: &LegPlan, shared: &Shared, cancel: &AtomicBool) -> (LegOutcome, Object) {
    let mut st = LegState {
        name: plan.name.clone(),
        leg: plan.leg,
        contexts: plan.contexts.clone(),
        env_added: Vec::new(),
        paths_added: Vec::new(),
        steps: Object::new(),
        failed: false,
        run_count: 0,
        posts: Vec::new(),
        process_groups: Vec::new(),
    };
    // Job env: github, needs, strategy, matrix, vars, secrets, inputs.
    let job_env = match eval_env(&job.env, &st.contexts) {
        Ok(env) => env,
        Err(e) => {
            shared.log(&st.name, &format!("Error: {e}"));
            return (LegOutcome::Failure, Object::new());
        }
    };
    let mut runner = Object::new();
    runner.set("name", Value::string("cloudlet"));
    runner.set("os", Value::string("Linux"));
    runner.set("arch", Value::string(runner_arch()));
    runner.set("temp", Value::string(shared.temp.to_string_lossy()));
    runner.set("tool_cache", Value::string(shared.temp.join("tool-cache").to_string_lossy()));
    runner.set("debug", Value::string(""));
    runner.set("environment", Value::string("self-hosted"));
    st.contexts.set("runner", Value::object(runner));
    let workspace = match leg_workspace(shared) {
        Ok(w) => w,
        Err(e) => {
            shared.log(&st.name, &format!("Error: {e}"));
            return (LegOutcome::Failure, Object::new());
        }
    };
    if let Some(mut github) = st.contexts.get("github").and_then(Value::as_object).cloned() {
        github.set("workspace", Value::string(workspace.to_string_lossy()));
        st.contexts.set("github", Value::object(github));
    }
    let exec = Exec { job, job_env: &job_env, shared, cancel, workspace };
    run_steps(&job.steps, &[], &exec, &mut st, 0);
    // Post steps of JavaScript actions, last registered first.
    let posts = std::mem::take(&mut st.posts);
    for post in posts.into_iter().rev() {
        run_post(&post, &exec, &mut st);
    }
    for pgid in std::mem::take(&mut st.process_groups) {
        if let Some(pid) = rustix::process::Pid::from_raw(pgid) {
            // Fails harmlessly when the group is already gone.
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
    }
    // Job outputs, evaluated at the end of the job.
    let mut outputs = Object::new();
    let env_ctx = merged_env(&shared.wf_env, &job_env, &st.env_added, &[]);
    st.contexts.set("env", pairs_object(&env_ctx));
    st.contexts.set("steps", Value::object(st.steps.clone()));
    let secrets: Vec<String> = st
        .contexts
        .get("secrets")
        .and_then(Value::as_object)
        .map(|o| o.values().map(Value::to_display_string).filter(|v| !v.is_empty()).collect())
        .unwrap_or_default();
    for (k, v) in &job.outputs {
        match eval_string(&v.value, &st.contexts, &[], &expr::NoHost) {
            // As GitHub does: an output that may carry a secret is dropped.
            Ok(s) if secrets.iter().any(|x| s.contains(x.as_str())) => {
                shared.log(&st.name, &format!("Warning: Skip output '{k}' since it may contain secret."));
            }
            Ok(s) => outputs.set(k, Value::String(s)),
            Err(e) => shared.log(&st.name, &format!("Error: outputs.{k}: {e}")),
        }
    }
    let outcome = if cancel.load(Ordering::SeqCst) {
        LegOutcome::Cancelled
    } else if st.failed {
        LegOutcome::Failure
    } else {
        LegOutcome::Success
    };
    (outcome, outputs)
}

/// A new, empty workspace for one leg under the run's temporary directory:
/// `<temp>/w<n>/<repository name>`, as GitHub's `work/<repo>/<repo>`.
fn leg_workspace(shared: &Shared) -> Result<PathBuf, String> {
    let name = shared.ctx.repository.rsplit('/').next().filter(|n| !n.is_empty()).unwrap_or("workspace");
    let dir = shared.temp.join(format!("w{}", shared.next_id())).join(name);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(dir)
}

/// What every step of one leg runs with.
struct Exec<'a> {
    job: &'a Job,
    job_env: &'a [(String, String)],
    shared: &'a Shared,
    cancel: &'a AtomicBool,
    /// The leg's own workspace (`GITHUB_WORKSPACE`): empty until a
    /// checkout fills it, as on GitHub.
    workspace: PathBuf,
}

/// A JavaScript action's `post`, run at the end of the job.
struct PostStep {
    name: String,
    post_if: Option<String>,
    kind: PostKind,
}

enum PostKind {
    /// A JavaScript action's `post` script.
    Node { dir: PathBuf, script: String, env: Vec<(String, String)> },
    /// `actions/cache`'s save, after a successful job without an exact hit.
    CacheSave { key: String, version: String, path_input: String },
}

/// Runs a list of steps (a job's, or a composite action's with its
/// `outer_env`) with GitHub's `if:`, outcome and conclusion rules.
fn run_steps(steps: &[Step], outer_env: &[(String, String)], x: &Exec<'_>, st: &mut LegState, depth: usize) {
    for (i, step) in steps.iter().enumerate() {
        let cancelled = x.cancel.load(Ordering::SeqCst);
        let mut job_ctx = Object::new();
        let status = if cancelled {
            "cancelled"
        } else if st.failed {
            "failure"
        } else {
            "success"
        };
        job_ctx.set("status", Value::string(status));
        st.contexts.set("job", Value::object(job_ctx));
        let env_ctx = merged_env(&x.shared.wf_env, x.job_env, &st.env_added, outer_env);
        st.contexts.set("env", pairs_object(&env_ctx));
        st.contexts.set("steps", Value::object(st.steps.clone()));
        let host = StepHost { failed: st.failed, cancelled, workspace: &x.workspace };
        let display = step_display_name(step, i);
        let run_it = match eval_if(
            step.if_cond.as_ref().map(|c| c.value.as_str()),
            &st.contexts,
            &workflow::step_if_functions(),
            &host,
        ) {
            Ok(b) => b,
            Err(e) => {
                x.shared.log(&st.name, &format!("Error: step '{display}': if: {e}"));
                st.failed = true;
                record_step(st, step, "failure", "failure", Object::new());
                continue;
            }
        };
        if !run_it {
            record_step(st, step, "skipped", "skipped", Object::new());
            if depth == 0 {
                step_event(x, st, i, &display, Some("skipped"));
            }
            continue;
        }
        if depth == 0 {
            step_event(x, st, i, &display, None);
        }
        x.shared.log(&st.name, &format!("Run {display}"));
        let (outcome, outputs) = match run_step(step, outer_env, x, st, &host, depth) {
            Ok(r) => r,
            Err(e) => {
                x.shared.log(&st.name, &format!("Error: {e}"));
                (false, Object::new())
            }
        };
        let coe = match &step.continue_on_error {
            Some(n) => {
                eval_node(n, &st.contexts, &[crate::expr::HASH_FILES], &host).map(|v| v.is_truthy()).unwrap_or(false)
            }
            None => false,
        };
        let outcome_s = if outcome {
            "success"
        } else if x.cancel.load(Ordering::SeqCst) {
            "cancelled"
        } else {
            "failure"
        };
        let conclusion = if outcome_s == "failure" && coe { "success" } else { outcome_s };
        if conclusion == "failure" {
            st.failed = true;
        }
        record_step(st, step, outcome_s, conclusion, outputs);
        if depth == 0 {
            x.shared.event(RunEvent::StepFinished {
                job: x.job.id.clone(),
                leg: st.leg,
                step: i + 1,
                outcome: outcome_s.to_owned(),
                conclusion: conclusion.to_owned(),
                at: x.shared.clock.now(),
            });
        }
    }
}

fn step_display_name(step: &Step, i: usize) -> String {
    if let Some(n) = &step.name {
        return n.value.clone();
    }
    if let Some(r) = &step.run {
        return r.value.lines().next().unwrap_or_default().to_owned();
    }
    step.uses.as_ref().map_or_else(|| format!("step {}", i + 1), |u| u.value.clone())
}

fn record_step(st: &mut LegState, step: &Step, outcome: &str, conclusion: &str, outputs: Object) {
    let Some(id) = &step.id else { return };
    let mut o = Object::new();
    o.set("outputs", Value::object(outputs));
    o.set("outcome", Value::string(outcome));
    o.set("conclusion", Value::string(conclusion));
    st.steps.set(&id.value, Value::object(o));
}

/// env in precedence order: workflow < job < GITHUB_ENV < step.
fn merged_env(
    wf: &[(String, String)],
    job: &[(String, String)],
    added: &[(String, String)],
    step: &[(String, String)],
) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (k, v) in wf.iter().chain(job).chain(added).chain(step) {
        match out.iter_mut().find(|(ok, _)| ok == k) {
            Some(slot) => slot.1 = v.clone(),
            None => out.push((k.clone(), v.clone())),
        }
    }
    out
}

/// The deepest composite actions may nest, as on GitHub.
const MAX_ACTION_DEPTH: usize = 10;

/// Runs one step; `Ok((succeeded, outputs))`.
fn run_step(
    step: &Step,
    outer_env: &[(String, String)],
    x: &Exec<'_>,
    st: &mut LegState,
    host: &StepHost<'_>,
    depth: usize,
) -> Result<(bool, Object), String> {
    let funcs = [crate::expr::HASH_FILES];
    let shared = x.shared;
    // github.action / GITHUB_ACTION: the step's id, else __run, __run_2, ….
    st.run_count += 1;
    let action = match &step.id {
        Some(id) => id.value.clone(),
        None if st.run_count == 1 => "__run".to_owned(),
        None => format!("__run_{}", st.run_count),
    };
    if let Some(mut github) = st.contexts.get("github").and_then(Value::as_object).cloned() {
        github.set("action", Value::string(&action));
        st.contexts.set("github", Value::object(github));
    }
    let prior_env = merged_env(&shared.wf_env, x.job_env, &st.env_added, outer_env);
    st.contexts.set("env", pairs_object(&prior_env));
    let mut step_env = outer_env.to_vec();
    for (k, v) in &step.env {
        let val = eval_node(v, &st.contexts, &funcs, host)?.to_display_string();
        step_env.push((k.clone(), val));
    }
    let env = merged_env(&shared.wf_env, x.job_env, &st.env_added, &step_env);
    st.contexts.set("env", pairs_object(&env));
    if let Some(u) = &step.uses
        && let Some(kind) = builtin_cache(&u.value)
    {
        return run_cache(step, kind, x, st, host);
    }
    if let Some(u) = &step.uses
        && let Some(result) = run_builtin_setup(&u.value, step, x, st, host)
    {
        return result;
    }
    if let Some(u) = &step.uses {
        let dir = match u.value.strip_prefix("./") {
            Some(rel) => x.workspace.join(rel),
            None => mapped_action(&shared.actions, &u.value).ok_or_else(|| {
                format!(
                    "uses: {} (line {}): cloudlet ci does not download actions; map a local checkout with --action {}=PATH",
                    u.value,
                    u.pos.line,
                    u.value.split('@').next().unwrap_or(&u.value)
                )
            })?,
        };
        if depth >= MAX_ACTION_DEPTH {
            return Err(format!("uses: {}: actions may nest at most {MAX_ACTION_DEPTH} deep", u.value));
        }
        return run_action(step, &u.value, &dir, &step_env, x, st, host, depth, &action);
    }
    let Some(run) = &step.run else { return Err("the step has neither run nor uses".to_owned()) };
    let script = eval_string(&run.value, &st.contexts, &funcs, host)?;
    let shell_name = match &step.shell {
        Some(s) => Some(eval_string(&s.value, &st.contexts, &funcs, host)?),
        None => match &x.job.defaults.shell {
            Some(s) => Some(eval_string(&s.value, &st.contexts, &funcs, host)?),
            None => shared.defaults.0.clone(),
        },
    };
    let wd = match &step.working_directory {
        Some(w) => Some(eval_string(&w.value, &st.contexts, &funcs, host)?),
        None => match &x.job.defaults.working_directory {
            Some(w) => Some(eval_string(&w.value, &st.contexts, &funcs, host)?),
            None => shared.defaults.1.clone(),
        },
    };
    let cwd = match wd {
        Some(w) => x.workspace.join(w),
        None => x.workspace.clone(),
    };
    if !cwd.is_dir() {
        return Err(format!("the working directory '{}' does not exist", cwd.display()));
    }
    let path = search_path(st);
    let mut cmd =
        shell::shell_command(shell_name.as_deref(), shell::on_path("bash", &path)).map_err(|e| e.to_string())?;
    if cmd.program == "python" && !shell::on_path("python", &path) && shell::on_path("python3", &path) {
        cmd.program = "python3".to_owned();
    }
    let resolved = std::env::split_paths(&path)
        .map(|d| d.join(&cmd.program))
        .find(|p| p.is_file())
        .map_or_else(|| cmd.program.clone(), |p| p.to_string_lossy().into_owned());
    shared.log(&st.name, &format!("shell: {resolved} {}", cmd.args.join(" ")));
    let n = shared.next_id();
    let script_path = shared.temp.join(format!("step-{n}{}", cmd.extension));
    std::fs::write(&script_path, format!("{}{script}{}", cmd.prelude, cmd.postlude))
        .map_err(|e| format!("{}: {e}", script_path.display()))?;
    let timeout = match &step.timeout_minutes {
        Some(n) => {
            let m = eval_node(n, &st.contexts, &funcs, host)?.to_number();
            (m.is_finite() && m > 0.0).then(|| Duration::from_secs_f64(m * 60.0))
        }
        None => None,
    };
    let args = cmd.args_for(&script_path.to_string_lossy());
    let result = exec_process(&cmd.program, &args, &cwd, &env, &[], &action, x, st, timeout);
    let _ = std::fs::remove_file(&script_path);
    result.map(|(ok, outputs, _)| (ok, outputs))
}

/// The environments' protection rules in `.cloudlet/environments.yml`
/// (none when the file does not exist).
fn environments(workspace: &Path) -> Result<crate::environments::Environments, crate::environments::EnvironmentsError> {
    match std::fs::read_to_string(workspace.join(crate::environments::FILE)) {
        Ok(text) => crate::environments::parse(crate::environments::FILE, &text),
        Err(_) => Ok(crate::environments::Environments::default()),
    }
}

/// Records a decided job: its legs, its needs, its environment, and
/// whether it waits for the environment's rules.
fn record_decided(
    shared: &Shared,
    job: &Job,
    jobs: &[Job],
    decision: &Decision,
    legs: &[LegPlan],
    environment: Option<&str>,
    now: Timestamp,
) {
    if shared.ctx.recorder.is_none() {
        return;
    }
    let name = job.name.as_ref().map_or_else(|| job.id.clone(), |n| n.value.clone());
    let mut infos: Vec<LegInfo> = legs
        .iter()
        .map(|l| LegInfo {
            name: l.name.clone(),
            matrix_json: l.combo.clone().map(|c| Value::object(c).to_json_compact()),
        })
        .collect();
    if infos.is_empty() {
        infos.push(LegInfo { name: name.clone(), matrix_json: None });
    }
    let needs = job
        .needs
        .iter()
        .filter_map(|n| jobs.iter().find(|j| j.id.eq_ignore_ascii_case(&n.value)).map(|j| j.id.clone()))
        .collect();
    shared.event(RunEvent::JobDecided {
        job: job.id.clone(),
        name,
        needs,
        environment: environment.map(str::to_owned),
        legs: infos,
        skipped: matches!(decision, Decision::Skip),
        at: now,
    });
    if let (Decision::Wait { approval, .. }, Some(env)) = (decision, environment) {
        let why = if *approval { "an approval" } else { "its wait timer" };
        shared.log(&job.id, &format!("Waiting for {why} to deploy to '{env}'"));
        shared.event(RunEvent::JobWaiting { job: job.id.clone(), environment: env.to_owned(), at: now });
    }
}

/// Records a step starting (and, for a skipped step, finishing).
fn step_event(x: &Exec<'_>, st: &LegState, i: usize, display: &str, skipped: Option<&str>) {
    let at = x.shared.clock.now();
    x.shared.event(RunEvent::StepStarted {
        job: x.job.id.clone(),
        leg: st.leg,
        step: i + 1,
        name: display.to_owned(),
        at,
    });
    if let Some(s) = skipped {
        x.shared.event(RunEvent::StepFinished {
            job: x.job.id.clone(),
            leg: st.leg,
            step: i + 1,
            outcome: s.to_owned(),
            conclusion: s.to_owned(),
            at,
        });
    }
}

/// `actions/checkout`, the artifact actions, `actions/setup-node` and
/// `actions/setup-python`, built in for the host: a setup action accepts the host's interpreter when its
/// version matches the one asked for, else fails naming both. `None` for
/// any other action.
fn run_builtin_setup(
    uses: &str,
    step: &Step,
    x: &Exec<'_>,
    st: &mut LegState,
    host: &StepHost<'_>,
) -> Option<Result<(bool, Object), String>> {
    let name = uses.split('@').next()?.to_ascii_lowercase();
    let input = |k: &str| -> Result<String, String> {
        match step.with.iter().find(|(wk, _)| wk == k) {
            Some((_, v)) => Ok(eval_node(v, &st.contexts, &[crate::expr::HASH_FILES], host)?.to_display_string()),
            None => Ok(String::new()),
        }
    };
    let result = (|| -> Result<(bool, Object), String> {
        let mut outputs = Object::new();
        match name.as_str() {
            "actions/checkout" => checkout_step(&input, x, st).map(|o| (true, o)),
            "actions/upload-artifact" => upload_artifact(&input, x, st).map(|o| (true, o)),
            "actions/download-artifact" => download_artifact(&input, x, st).map(|o| (true, o)),
            "actions/setup-node" | "actions/setup-python" => {
                let (program, wanted_key, out_key) = if name.ends_with("node") {
                    ("node", "node-version", "node-version")
                } else {
                    ("python3", "python-version", "python-version")
                };
                let wanted = input(wanted_key)?;
                let out = Command::new(program)
                    .arg("--version")
                    .env("PATH", search_path(st))
                    .output()
                    .map_err(|e| format!("{uses}: '{program}' is not on PATH ({e})"))?;
                let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
                let have = text.trim().trim_start_matches("Python ").trim_start_matches('v').to_owned();
                let want = wanted.trim().trim_start_matches('v').trim_end_matches(".x").to_owned();
                let matches = want.is_empty()
                    || want == "latest"
                    || want == "lts/*"
                    || have == want
                    || have.starts_with(&format!("{want}."));
                if !matches {
                    return Err(format!(
                        "{uses}: {wanted_key} {wanted} was asked for, and the host has {program} {have}; cloudlet ci uses the host's interpreter"
                    ));
                }
                x.shared.log(&st.name, &format!("Using the host's {program} {have}"));
                outputs.set(out_key, Value::string(&have));
                Ok((true, outputs))
            }
            _ => Err(String::new()),
        }
    })();
    match result {
        Err(e) if e.is_empty() => None,
        other => Some(other),
    }
}

/// `actions/checkout`: the commit (or `ref`) of the run's repository in
/// the leg's workspace (or `path` under it), from the local repository;
/// `repository` may name another one mapped with `--action`.
fn checkout_step(
    input: &dyn Fn(&str) -> Result<String, String>,
    x: &Exec<'_>,
    st: &LegState,
) -> Result<Object, String> {
    let shared = x.shared;
    let repository = input("repository")?;
    let source = if repository.is_empty() || repository.eq_ignore_ascii_case(&shared.ctx.repository) {
        shared.workspace.clone()
    } else {
        mapped_action(&shared.actions, &repository).ok_or_else(|| {
            format!("actions/checkout: cloudlet ci does not clone {repository}; map a local checkout with --action {repository}=PATH")
        })?
    };
    let path = input("path")?;
    let dest = if path.is_empty() { x.workspace.clone() } else { x.workspace.join(&path) };
    if !dest.starts_with(&x.workspace) || path.split('/').any(|c| c == "..") {
        return Err(format!("actions/checkout: path '{path}' is not under the workspace {}", x.workspace.display()));
    }
    let fetch_depth = match input("fetch-depth")?.trim() {
        "" => 1,
        d => d.parse::<usize>().map_err(|_| format!("actions/checkout: fetch-depth '{d}' is not a number"))?,
    };
    let clean = input("clean")? != "false";
    if source == shared.workspace
        && !shared.dirty_noticed.swap(true, Ordering::SeqCst)
        && crate::checkout::is_dirty(&source) == Some(true)
    {
        shared.log(
            "run",
            &format!(
                "Notice: {} has uncommitted changes; jobs check out commit {} without them",
                source.display(),
                shared.ctx.sha.get(..7).unwrap_or(&shared.ctx.sha)
            ),
        );
    }
    let git_ref = input("ref")?;
    let req = crate::checkout::Request {
        source: &source,
        dest: &dest,
        git_ref: &git_ref,
        default_sha: &shared.ctx.sha,
        fetch_depth,
        clean,
    };
    let done = crate::checkout::checkout(&req).map_err(|e| format!("actions/checkout: {e}"))?;
    shared.log(&st.name, &format!("Checked out {} into {} ({})", done.commit, dest.display(), done.how));
    let mut out = Object::new();
    out.set("ref", Value::string(if git_ref.is_empty() { &shared.ctx.git_ref } else { &git_ref }));
    out.set("commit", Value::string(&done.commit));
    Ok(out)
}

/// The run's artifacts: `<runner temp>/artifacts/<name>/…`.
fn artifacts_dir(x: &Exec<'_>) -> PathBuf {
    x.shared.temp.join("artifacts")
}

/// Where a finished run's artifacts are kept: `<data dir>/artifacts/<run id>`.
fn kept_artifacts_dir(data_dir: &Path, run_id: u64) -> PathBuf {
    data_dir.join("artifacts").join(run_id.to_string())
}

/// Moves a finished run's artifacts to `dest` (replacing what a run of the
/// same id left there); a failure is logged, never fails the run.
fn keep_artifacts(from: &Path, dest: &Path, shared: &Shared) {
    if !from.is_dir() {
        return;
    }
    let moved = (|| -> Result<(), String> {
        if dest.exists() {
            std::fs::remove_dir_all(dest).map_err(|e| format!("{}: {e}", dest.display()))?;
        }
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        if std::fs::rename(from, dest).is_ok() {
            return Ok(());
        }
        // Another file system: copy.
        for rel in crate::hash_files::matched_files(from, &["**".to_owned()])? {
            let target = dest.join(&rel);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
            }
            std::fs::copy(from.join(&rel), &target).map_err(|e| format!("{rel}: {e}"))?;
        }
        Ok(())
    })();
    if let Err(e) = moved {
        shared.log("run", &format!("Warning: the run's artifacts were not kept: {e}"));
    }
}

/// `actions/upload-artifact` (v4): files under the least common ancestor
/// of the search paths, an immutable name unless `overwrite`.
fn upload_artifact(
    input: &dyn Fn(&str) -> Result<String, String>,
    x: &Exec<'_>,
    st: &LegState,
) -> Result<Object, String> {
    let name = Some(input("name")?).filter(|n| !n.is_empty()).unwrap_or_else(|| "artifact".to_owned());
    if name.contains(['/', '\\', ':', '<', '>', '|', '*', '?', '"']) {
        return Err(format!("The artifact name is not valid: {name}"));
    }
    let ws = &x.workspace;
    let lines: Vec<String> =
        input("path")?.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect();
    if lines.is_empty() {
        return Err("Input required and not supplied: path".to_owned());
    }
    // The search roots: each include's path up to its first wildcard.
    let roots: Vec<PathBuf> = lines
        .iter()
        .filter(|l| !l.starts_with('!'))
        .map(|l| {
            let before: Vec<&str> = l.split('/').take_while(|seg| !seg.contains(['*', '?', '['])).collect();
            let p = ws.join(before.join("/"));
            if p.is_file() { p.parent().map_or(p.clone(), Path::to_path_buf) } else { p }
        })
        .collect();
    let mut root = roots.first().cloned().unwrap_or_else(|| ws.clone());
    for r in &roots[1..] {
        while !r.starts_with(&root) {
            if !root.pop() {
                break;
            }
        }
    }
    let files: Vec<PathBuf> =
        crate::hash_files::matched_files(ws, &lines)?.into_iter().map(|rel| ws.join(rel)).collect();
    if files.is_empty() {
        let msg =
            format!("No files were found with the provided path: {}. No artifacts will be uploaded.", lines.join(", "));
        return match input("if-no-files-found")?.as_str() {
            "error" => Err(msg),
            "ignore" => Ok(Object::new()),
            _ => {
                x.shared.log(&st.name, &format!("Warning: {msg}"));
                Ok(Object::new())
            }
        };
    }
    let dest = artifacts_dir(x).join(&name);
    if dest.exists() {
        if input("overwrite")? != "true" {
            return Err("Failed to CreateArtifact: Received non-retryable error: Failed request: (409) Conflict: an artifact with this name already exists on the workflow run".to_owned());
        }
        std::fs::remove_dir_all(&dest).map_err(|e| format!("{}: {e}", dest.display()))?;
    }
    for f in &files {
        let rel = f.strip_prefix(&root).unwrap_or(f);
        let target = dest.join(rel);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        std::fs::copy(f, &target).map_err(|e| format!("{}: {e}", f.display()))?;
    }
    x.shared.log(&st.name, &format!("Artifact {name} has been successfully uploaded ({} files)", files.len()));
    let mut out = Object::new();
    out.set("artifact-id", Value::string(&name));
    Ok(out)
}

/// `actions/download-artifact` (v4): one artifact by `name`, or all (or
/// those matching `pattern`) into a directory each, or together with
/// `merge-multiple`; with `run-id`, those of that earlier run, kept in the
/// data dir.
fn download_artifact(
    input: &dyn Fn(&str) -> Result<String, String>,
    x: &Exec<'_>,
    st: &LegState,
) -> Result<Object, String> {
    let run_id = input("run-id")?;
    let dir = if run_id.is_empty() {
        artifacts_dir(x)
    } else {
        let id: u64 = run_id.trim().parse().map_err(|_| format!("run-id: '{run_id}' is not a run id"))?;
        let data = x.shared.ctx.data_dir.as_ref().ok_or(
            "download-artifact with run-id needs a data dir (--data-dir or CLOUDLET_DATA_DIR), where runs keep their artifacts",
        )?;
        let dir = kept_artifacts_dir(data, id);
        if !dir.is_dir() {
            return Err(format!("Unable to download artifact(s): no artifacts are kept for run {id}"));
        }
        dir
    };
    let path =
        Some(input("path")?).filter(|p| !p.is_empty()).map_or_else(|| x.workspace.clone(), |p| x.workspace.join(p));
    let name = input("name")?;
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned())).collect())
        .unwrap_or_default();
    names.sort();
    let copy_tree = |from: &Path, to: &Path| -> Result<(), String> {
        let root = from.to_path_buf();
        for rel in crate::hash_files::matched_files(&root, &["**".to_owned()])? {
            let target = to.join(&rel);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
            }
            std::fs::copy(root.join(&rel), &target).map_err(|e| format!("{rel}: {e}"))?;
        }
        Ok(())
    };
    if !name.is_empty() {
        if !names.contains(&name) {
            return Err(format!("Unable to download artifact(s): Artifact not found for name: {name}"));
        }
        copy_tree(&dir.join(&name), &path)?;
    } else {
        let pattern = input("pattern")?;
        let merge = input("merge-multiple")? == "true";
        for n in names.iter().filter(|n| pattern.is_empty() || crate::filters::pattern_matches(&pattern, n)) {
            copy_tree(&dir.join(n), &if merge { path.clone() } else { path.join(n) })?;
        }
    }
    x.shared.log(&st.name, &format!("Artifacts downloaded to {}", path.display()));
    let mut out = Object::new();
    out.set("download-path", Value::string(path.to_string_lossy()));
    Ok(out)
}

/// Which of the built-in `actions/cache` actions a `uses:` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CacheKind {
    /// `actions/cache`: restore now, save after a successful job.
    RestoreAndSave,
    Restore,
    Save,
}

fn builtin_cache(uses: &str) -> Option<CacheKind> {
    let name = uses.split('@').next()?.to_ascii_lowercase();
    match name.as_str() {
        "actions/cache" => Some(CacheKind::RestoreAndSave),
        "actions/cache/restore" => Some(CacheKind::Restore),
        "actions/cache/save" => Some(CacheKind::Save),
        _ => None,
    }
}

/// The cache paths of a `path` input: plain paths (absolute, `~`, or in
/// the workspace) and workspace globs with `!` exclusions.
fn cache_paths(input: &str, workspace: &Path) -> Result<Vec<PathBuf>, String> {
    let mut paths = Vec::new();
    let mut relative = Vec::new();
    for line in input.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let expanded = match line.strip_prefix("~/") {
            Some(rest) => PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(rest),
            None => PathBuf::from(line),
        };
        if expanded.is_absolute() {
            paths.push(expanded);
        } else {
            relative.push(line.to_owned());
        }
    }
    // With globs or exclusions, workspace lines are patterns (in order, `!`
    // excludes); otherwise they are plain paths, which may not exist yet.
    if relative.iter().any(|l| l.starts_with('!') || l.contains(['*', '?', '['])) {
        for rel in crate::hash_files::matched_files(workspace, &relative)? {
            paths.push(workspace.join(rel));
        }
    } else {
        paths.extend(relative.iter().map(|l| workspace.join(l)));
    }
    Ok(paths)
}

/// The cache store of the data dir, with the size limit of
/// `CLOUDLET_CI_CACHE_SIZE_LIMIT` (bytes, or with a K/M/G suffix) when set.
fn cache_store(x: &Exec<'_>) -> Result<crate::cache::Store, String> {
    let dir =
        x.shared.ctx.data_dir.as_ref().ok_or("actions/cache needs a data dir (--data-dir or CLOUDLET_DATA_DIR)")?;
    let store = crate::cache::Store::new(dir);
    Ok(match std::env::var("CLOUDLET_CI_CACHE_SIZE_LIMIT") {
        Ok(text) if !text.trim().is_empty() => store.with_size_limit(parse_size(&text).ok_or_else(|| {
            format!("CLOUDLET_CI_CACHE_SIZE_LIMIT: '{text}' is not a size (bytes, or a number with K, M or G)")
        })?),
        _ => store,
    })
}

/// `10G`, `512M`, `64K` or bytes (binary units, as GitHub's 10 GB).
fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim();
    let (num, unit) = match t.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => t.split_at(i),
        None => (t, ""),
    };
    let n: u64 = num.parse().ok()?;
    let mult: u64 = match unit.trim().to_ascii_uppercase().trim_end_matches('B').trim_end_matches('I') {
        "" => 1,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        "T" => 1 << 40,
        _ => return None,
    };
    n.checked_mul(mult)
}

fn cache_save(key: &str, version: &str, paths: &[PathBuf], x: &Exec<'_>, st: &LegState) -> Result<(), String> {
    let store = cache_store(x)?;
    let now = x.shared.clock.now().as_unix_millis();
    let started = std::time::Instant::now();
    if let Some(t) = store.save(key, version, &x.shared.ctx.git_ref, &x.workspace, paths, now)? {
        let secs = started.elapsed().as_secs_f64().max(1e-6);
        x.shared.log(
            &st.name,
            &format!(
                "Cache saved with key: {key} ({} files, {:.1} MB, {:.0} MB/s)",
                t.files,
                t.bytes as f64 / 1e6,
                t.bytes as f64 / 1e6 / secs
            ),
        );
    } else {
        x.shared.log(
            &st.name,
            &format!("Failed to save: Unable to reserve cache with key {key}, another job may be creating this cache."),
        );
    }
    Ok(())
}

/// Runs a built-in `actions/cache` step.
fn run_cache(
    step: &Step,
    kind: CacheKind,
    x: &Exec<'_>,
    st: &mut LegState,
    host: &StepHost<'_>,
) -> Result<(bool, Object), String> {
    let funcs = [crate::expr::HASH_FILES];
    let mut with = Object::new();
    for (k, v) in &step.with {
        with.set(k, Value::String(eval_node(v, &st.contexts, &funcs, host)?.to_display_string()));
    }
    let input = |k: &str| with.get(k).map(Value::to_display_string).unwrap_or_default();
    let key = input("key");
    if key.is_empty() {
        return Err("Input required and not supplied: key".to_owned());
    }
    crate::cache::validate_key(&key)?;
    let path_input = input("path");
    if path_input.trim().is_empty() {
        return Err("Input required and not supplied: path".to_owned());
    }
    let lines: Vec<String> = path_input.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect();
    let version = crate::cache::version(&lines);
    if kind == CacheKind::Save {
        let paths = cache_paths(&path_input, &x.workspace)?;
        cache_save(&key, &version, &paths, x, st)?;
        return Ok((true, Object::new()));
    }
    let restore_keys: Vec<String> =
        input("restore-keys").lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect();
    for k in &restore_keys {
        crate::cache::validate_key(k)?;
    }
    let default_branch = x
        .shared
        .ctx
        .event
        .as_object()
        .and_then(|e| e.get("repository"))
        .and_then(Value::as_object)
        .and_then(|r| r.get("default_branch"))
        .map_or_else(|| "main".to_owned(), Value::to_display_string);
    let mut scopes = vec![x.shared.ctx.git_ref.clone()];
    let default_ref = format!("refs/heads/{default_branch}");
    if scopes[0] != default_ref {
        scopes.push(default_ref);
    }
    let store = cache_store(x)?;
    let hit = crate::cache::lookup(&store.entries(), &key, &restore_keys, &version, &scopes);
    let mut outputs = Object::new();
    let exact = hit.as_ref().is_some_and(|h| h.exact);
    x.shared.event(RunEvent::CacheLookup {
        job: x.job.id.clone(),
        leg: st.leg,
        key: key.clone(),
        hit: match &hit {
            Some(h) if h.exact => CacheHit::Exact,
            Some(_) => CacheHit::Partial,
            None => CacheHit::Miss,
        },
    });
    let lookup = crate::cache::Lookup {
        job: x.job.id.clone(),
        leg: st.name.clone(),
        key: key.clone(),
        matched_key: hit.as_ref().map(|h| h.entry.key.clone()),
        hit: match &hit {
            Some(h) if h.exact => crate::cache::HitKind::Exact,
            Some(_) => crate::cache::HitKind::Partial,
            None => crate::cache::HitKind::Miss,
        },
    };
    if let Ok(mut l) = x.shared.cache_lookups.lock() {
        l.push(lookup);
    }
    outputs.set("cache-hit", Value::string(if exact { "true" } else { "false" }));
    if kind == CacheKind::Restore {
        outputs.set("cache-primary-key", Value::string(&key));
        outputs.set("cache-matched-key", Value::string(hit.as_ref().map(|h| h.entry.key.as_str()).unwrap_or("")));
    }
    match &hit {
        Some(h) => {
            if input("lookup-only") != "true" {
                let started = std::time::Instant::now();
                let now = x.shared.clock.now().as_unix_millis();
                let t = store.restore(&h.entry, &x.workspace, now)?;
                let secs = started.elapsed().as_secs_f64().max(1e-6);
                x.shared.log(
                    &st.name,
                    &format!(
                        "Restored {} files, {:.1} MB ({:.0} MB/s)",
                        t.files,
                        t.bytes as f64 / 1e6,
                        t.bytes as f64 / 1e6 / secs
                    ),
                );
            }
            x.shared.log(&st.name, &format!("Cache restored from key: {}", h.entry.key));
        }
        None => {
            let mut all = vec![key.clone()];
            all.extend(restore_keys.iter().cloned());
            if input("fail-on-cache-miss") == "true" {
                return Err(format!(
                    "Failed to restore cache entry. Exiting as fail-on-cache-miss is set. Input key: {key}"
                ));
            }
            x.shared.log(&st.name, &format!("Cache not found for input keys: {}", all.join(", ")));
        }
    }
    if kind == CacheKind::RestoreAndSave {
        if exact {
            x.shared.log(&st.name, &format!("Cache hit occurred on the primary key {key}, not saving cache."));
        } else {
            st.posts.push(PostStep {
                name: format!("Post {}", step.uses.as_ref().map_or("actions/cache", |u| u.value.as_str())),
                post_if: Some("success()".to_owned()),
                kind: PostKind::CacheSave { key, version, path_input },
            });
        }
    }
    Ok((true, outputs))
}

/// `PATH` for a step: the job's `GITHUB_PATH` additions, newest first,
/// before the host's.
fn search_path(st: &LegState) -> String {
    let host_path = std::env::var("PATH").unwrap_or_default();
    if st.paths_added.is_empty() { host_path } else { format!("{}:{host_path}", st.paths_added.join(":")) }
}

/// The local checkout mapped to a remote action (`--action NAME=PATH`):
/// `owner/repo[/path]@ref` → PATH[/path].
fn mapped_action(map: &[(String, PathBuf)], uses: &str) -> Option<PathBuf> {
    let name = uses.split('@').next()?;
    let mut parts = name.splitn(3, '/');
    let repo = format!("{}/{}", parts.next()?, parts.next()?);
    let sub = parts.next();
    let (_, dir) = map.iter().find(|(k, _)| k.eq_ignore_ascii_case(name) || k.eq_ignore_ascii_case(&repo))?;
    Some(match sub {
        Some(s) if !map.iter().any(|(k, _)| k.eq_ignore_ascii_case(name)) => dir.join(s),
        _ => dir.clone(),
    })
}

/// Runs a local (or mapped) action: a composite's steps, or a JavaScript
/// action's `main` with `INPUT_*` variables.
#[allow(clippy::too_many_arguments)]
fn run_action(
    step: &Step,
    uses: &str,
    dir: &Path,
    step_env: &[(String, String)],
    x: &Exec<'_>,
    st: &mut LegState,
    host: &StepHost<'_>,
    depth: usize,
    action_id: &str,
) -> Result<(bool, Object), String> {
    let funcs = [crate::expr::HASH_FILES];
    let def = crate::action::load_action(dir, uses.trim_end_matches('/'))?;
    let mut inputs = Object::new();
    for (k, v) in &step.with {
        if !def.inputs.iter().any(|i| i.name.eq_ignore_ascii_case(k)) {
            let valid: Vec<String> = def.inputs.iter().map(|i| format!("'{}'", i.name)).collect();
            x.shared
                .log(&st.name, &format!("Warning: Unexpected input(s) '{k}', valid inputs are [{}]", valid.join(", ")));
        }
        inputs.set(k, Value::String(eval_node(v, &st.contexts, &funcs, host)?.to_display_string()));
    }
    for i in &def.inputs {
        if inputs.get(&i.name).is_none() {
            let value = match &i.default {
                Some(d) => eval_string(d, &st.contexts, &funcs, host)?,
                None => String::new(),
            };
            inputs.set(&i.name, Value::String(value));
        }
    }
    let action_path = dir.to_string_lossy().into_owned();
    match def.runs {
        crate::action::ActionRuns::Composite(steps) => {
            let saved_steps = std::mem::take(&mut st.steps);
            let saved_failed = std::mem::replace(&mut st.failed, false);
            let saved = ["inputs", "secrets", "github"].map(|k| st.contexts.get(k).cloned());
            st.contexts.set("inputs", Value::object(inputs));
            st.contexts.set("secrets", Value::object(Object::new()));
            if let Some(mut github) = st.contexts.get("github").and_then(Value::as_object).cloned() {
                github.set("action_path", Value::string(&action_path));
                st.contexts.set("github", Value::object(github));
            }
            let mut env = step_env.to_vec();
            env.push(("GITHUB_ACTION_PATH".to_owned(), action_path));
            run_steps(&steps, &env, x, st, depth + 1);
            st.contexts.set("steps", Value::object(st.steps.clone()));
            let mut outputs = Object::new();
            let mut ok = !st.failed;
            for (name, value) in &def.outputs {
                if let Some(v) = value {
                    match eval_string(&v.value, &st.contexts, &funcs, host) {
                        Ok(s) => outputs.set(name, Value::String(s)),
                        Err(e) => {
                            x.shared.log(&st.name, &format!("Error: {uses}: outputs.{name}: {e}"));
                            ok = false;
                        }
                    }
                }
            }
            st.steps = saved_steps;
            st.failed = saved_failed;
            for (k, v) in ["inputs", "secrets", "github"].into_iter().zip(saved) {
                st.contexts.set(k, v.unwrap_or_default());
            }
            Ok((ok, outputs))
        }
        crate::action::ActionRuns::Node { main, post, post_if } => {
            let path = search_path(st);
            if !shell::on_path("node", &path) {
                return Err(format!("uses: {uses}: a JavaScript action needs Node.js ('node' on PATH)"));
            }
            let mut extra: Vec<(String, String)> =
                inputs.iter().map(|(k, v)| (crate::action::input_env_name(k), v.to_display_string())).collect();
            extra.push(("GITHUB_ACTION_PATH".to_owned(), action_path));
            let env = merged_env(&x.shared.wf_env, x.job_env, &st.env_added, step_env);
            let script = dir.join(&main).to_string_lossy().into_owned();
            let (ok, outputs, state) =
                exec_process("node", &[script], &x.workspace, &env, &extra, action_id, x, st, None)?;
            if let Some(post) = post {
                let mut penv = extra.clone();
                penv.extend(state.into_iter().map(|(k, v)| (format!("STATE_{k}"), v)));
                penv.extend(env);
                st.posts.push(PostStep {
                    name: format!("Post {uses}"),
                    post_if,
                    kind: PostKind::Node { dir: dir.to_path_buf(), script: post, env: penv },
                });
            }
            Ok((ok, outputs))
        }
    }
}

/// A JavaScript action's post step, under its `post-if` (default
/// `always()`), evaluated against the job's status.
fn run_post(post: &PostStep, x: &Exec<'_>, st: &mut LegState) {
    let cancelled = x.cancel.load(Ordering::SeqCst);
    let host = StepHost { failed: st.failed, cancelled, workspace: &x.workspace };
    let cond = post.post_if.clone().unwrap_or_else(|| "always()".to_owned());
    match eval_if(Some(&cond), &st.contexts, &workflow::step_if_functions(), &host) {
        Ok(false) => return,
        Ok(true) => {}
        Err(e) => {
            x.shared.log(&st.name, &format!("Error: {}: post-if: {e}", post.name));
            st.failed = true;
            return;
        }
    }
    x.shared.log(&st.name, &format!("Run {}", post.name));
    let (dir, script, env) = match &post.kind {
        PostKind::Node { dir, script, env } => (dir, script, env),
        PostKind::CacheSave { key, version, path_input } => {
            // Paths are matched now: the job has made its files.
            let saved = cache_paths(path_input, &x.workspace).and_then(|paths| cache_save(key, version, &paths, x, st));
            if let Err(e) = saved {
                x.shared.log(&st.name, &format!("Warning: {e}"));
            }
            return;
        }
    };
    let script = dir.join(script).to_string_lossy().into_owned();
    let (env, extra): (Vec<_>, Vec<_>) = env
        .iter()
        .cloned()
        .partition(|(k, _)| !k.starts_with("INPUT_") && !k.starts_with("STATE_") && k != "GITHUB_ACTION_PATH");
    match exec_process("node", &[script], &x.workspace, &env, &extra, "post", x, st, None) {
        Ok((true, _, _)) => {}
        Ok((false, _, _)) => st.failed = true,
        Err(e) => {
            x.shared.log(&st.name, &format!("Error: {}: {e}", post.name));
            st.failed = true;
        }
    }
}

/// How a process ended: success, its outputs, and its saved state.
type Executed = (bool, Object, Vec<(String, String)>);

/// Runs one process with fresh file-command files, then applies them:
/// `GITHUB_ENV` and `GITHUB_PATH` to the job, `GITHUB_OUTPUT` as the
/// outputs, `GITHUB_STATE` returned for a post step.
#[allow(clippy::too_many_arguments)]
fn exec_process(
    program: &str,
    args: &[String],
    cwd: &Path,
    env: &[(String, String)],
    extra: &[(String, String)],
    action: &str,
    x: &Exec<'_>,
    st: &mut LegState,
    timeout: Option<Duration>,
) -> Result<Executed, String> {
    let shared = x.shared;
    let n = shared.next_id();
    let files = shared.temp.join("_runner_file_commands");
    let file = |prefix: &str| files.join(format!("{prefix}_{n}"));
    let (env_file, out_file, path_file, summary_file, state_file) =
        (file("set_env"), file("set_output"), file("add_path"), file("step_summary"), file("save_state"));
    for f in [&env_file, &out_file, &path_file, &summary_file, &state_file] {
        std::fs::write(f, "").map_err(|e| format!("{}: {e}", f.display()))?;
    }
    let mut proc = Command::new(program);
    proc.args(args).current_dir(cwd).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    for (k, v) in env.iter().chain(extra) {
        proc.env(k, v);
    }
    for (k, v) in &shared.base_env {
        proc.env(k, v);
    }
    proc.env("GITHUB_WORKSPACE", &x.workspace);
    let path_str = |p: &Path| p.to_string_lossy().into_owned();
    proc.env("PATH", search_path(st))
        .env("GITHUB_JOB", &x.job.id)
        .env("GITHUB_ACTION", action)
        .env("GITHUB_ENV", path_str(&env_file))
        .env("GITHUB_OUTPUT", path_str(&out_file))
        .env("GITHUB_PATH", path_str(&path_file))
        .env("GITHUB_STEP_SUMMARY", path_str(&summary_file))
        .env("GITHUB_STATE", path_str(&state_file));
    let mut commands = Commands::default();
    let ok = spawn_and_wait(&mut proc, &st.name, shared, x.cancel, timeout, &mut commands, &mut st.process_groups)?
        && !commands.failed;

    // File commands, processed after the step.
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    let mut ok = ok;
    match envfile::parse_env_file(&read(&env_file)) {
        Ok(pairs) => {
            for (k, v) in pairs {
                if k.starts_with("GITHUB_") || k.starts_with("RUNNER_") || k == "NODE_OPTIONS" || k == "CI" {
                    shared.log(&st.name, &format!("Warning: can't set the default variable {k} with GITHUB_ENV"));
                    continue;
                }
                match st.env_added.iter_mut().find(|(ek, _)| *ek == k) {
                    Some(slot) => slot.1 = v,
                    None => st.env_added.push((k, v)),
                }
            }
        }
        Err(e) => ok = file_command_failed(shared, &st.name, "GITHUB_ENV", &e),
    }
    let mut outputs = Object::new();
    for (k, v) in commands.outputs {
        outputs.set(k, Value::String(v));
    }
    match envfile::parse_env_file(&read(&out_file)) {
        Ok(pairs) => {
            for (k, v) in pairs {
                outputs.set(k, Value::String(v));
            }
        }
        Err(e) => ok = file_command_failed(shared, &st.name, "GITHUB_OUTPUT", &e),
    }
    let state = match envfile::parse_env_file(&read(&state_file)) {
        Ok(pairs) => pairs,
        Err(e) => {
            ok = file_command_failed(shared, &st.name, "GITHUB_STATE", &e);
            Vec::new()
        }
    };
    envfile::prepend_paths(&mut st.paths_added, &envfile::parse_path_file(&read(&path_file)));
    // The step summary (GitHub-flavoured Markdown) goes to the log, up to 1 MiB.
    let summary = read(&summary_file);
    if summary.len() > 1024 * 1024 {
        shared.log(
            &st.name,
            &format!(
                "Error: $GITHUB_STEP_SUMMARY upload aborted, supports content up to a size of 1024k, got {}k.",
                summary.len() / 1024
            ),
        );
    } else if !summary.trim().is_empty() {
        shared.log(&st.name, "Summary:");
        for line in summary.lines() {
            shared.log(&st.name, &format!("  {line}"));
        }
    }
    for f in [&env_file, &out_file, &path_file, &summary_file, &state_file] {
        let _ = std::fs::remove_file(f);
    }
    Ok((ok, outputs, state))
}

fn file_command_failed(shared: &Shared, leg: &str, file: &str, e: &EnvFileError) -> bool {
    shared.log(leg, &format!("Error: {file}: {e}"));
    false
}

enum Out {
    Line(String),
    Closed,
}

/// Starts the step's process in its own process group, streams its output
/// through the workflow-command filter, and stops it on cancel or timeout.
fn spawn_and_wait(
    proc: &mut Command,
    leg: &str,
    shared: &Shared,
    cancel: &AtomicBool,
    timeout: Option<Duration>,
    commands: &mut Commands,
    process_groups: &mut Vec<i32>,
) -> Result<bool, String> {
    use std::os::unix::process::CommandExt;
    proc.process_group(0);
    let mut child = proc.spawn().map_err(|e| format!("could not start the shell: {e}"))?;
    process_groups.push(child.id() as i32);
    let pid = rustix::process::Pid::from_raw(child.id() as i32);
    let (tx, rx) = mpsc::channel::<Out>();
    for pipe in [
        child.stdout.take().map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
        child.stderr.take().map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
    ]
    .into_iter()
    .flatten()
    {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                if tx.send(Out::Line(line)).is_err() {
                    break;
                }
            }
            let _ = tx.send(Out::Closed);
        });
    }
    drop(tx);
    let deadline = timeout.map(|t| shared.clock.now() + t);
    let mut open = 2;
    let mut signals_sent = 0u8;
    let mut signalled_at: Option<Timestamp> = None;
    let mut exited: Option<std::process::ExitStatus> = None;
    let mut exited_at: Option<Timestamp> = None;
    loop {
        match rx.recv_timeout(Duration::from_millis(if exited.is_some() { 20 } else { 100 })) {
            Ok(Out::Line(l)) => commands.handle(&l, leg, shared),
            Ok(Out::Closed) => open -= 1,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => open = 0,
        }
        if exited.is_none() {
            exited = child.try_wait().map_err(|e| e.to_string())?;
            if exited.is_some() {
                exited_at = Some(shared.clock.now());
            }
        }
        if open == 0 {
            let status = match exited {
                Some(s) => s,
                None => child.wait().map_err(|e| e.to_string())?,
            };
            return Ok(status.success() && signals_sent == 0);
        }
        // A background process may keep the pipes open after the step's
        // shell exited: give its output a moment, then move on.
        if let (Some(status), Some(at)) = (exited, exited_at)
            && shared.clock.now().saturating_duration_since(at) >= Duration::from_millis(500)
        {
            return Ok(status.success() && signals_sent == 0);
        }
        let now = shared.clock.now();
        let stop = cancel.load(Ordering::SeqCst) || deadline.is_some_and(|d| now >= d);
        if stop && exited.is_none() {
            let since = signalled_at.map(|t| now.saturating_duration_since(t));
            let (signal, next) = match (signals_sent, since) {
                (0, _) => (Some(rustix::process::Signal::INT), 1),
                (1, Some(d)) if d >= Duration::from_millis(7500) => (Some(rustix::process::Signal::TERM), 2),
                (2, Some(d)) if d >= Duration::from_millis(2500) => (Some(rustix::process::Signal::KILL), 3),
                _ => (None, signals_sent),
            };
            if let (Some(sig), Some(pid)) = (signal, pid) {
                if signals_sent == 0 && deadline.is_some_and(|d| now >= d) {
                    shared.log(leg, "Error: The step has timed out.");
                }
                let _ = rustix::process::kill_process_group(pid, sig);
                signals_sent = next;
                signalled_at = Some(now);
            }
        }
    }
}

/// Workflow commands in a step's output (`::add-mask::`, `::group::`,
/// `::error …::`, `::stop-commands::`, …).
#[derive(Default)]
struct Commands {
    stopped_until: Option<String>,
    /// `::set-output name=…::` values (deprecated, still honoured).
    outputs: Vec<(String, String)>,
    /// A disabled command was used: the step fails.
    failed: bool,
}

impl Commands {
    fn handle(&mut self, line: &str, leg: &str, shared: &Shared) {
        if let Some(token) = &self.stopped_until {
            if line.trim() == format!("::{token}::") {
                self.stopped_until = None;
            } else {
                shared.log(leg, line);
            }
            return;
        }
        let Some(rest) = line.trim_start().strip_prefix("::") else {
            shared.log(leg, line);
            return;
        };
        let Some((head, message)) = rest.split_once("::") else {
            shared.log(leg, line);
            return;
        };
        let (name, props) = match head.split_once(' ') {
            Some((n, p)) => (n, p),
            None => (head, ""),
        };
        match name {
            "add-mask" => {
                let v = message.trim().to_owned();
                if !v.is_empty()
                    && let Ok(mut m) = shared.masks.lock()
                {
                    m.push(v);
                }
            }
            "stop-commands" => self.stopped_until = Some(message.to_owned()),
            "set-output" => {
                shared.log(leg, "Warning: The `set-output` command is deprecated and will be disabled soon. Please upgrade to using Environment Files. For more information see: https://github.blog/changelog/2022-10-11-github-actions-deprecating-save-state-and-set-output-commands/");
                if let Some(name) = props.split(',').find_map(|p| p.trim().strip_prefix("name=")) {
                    self.outputs.push((name.to_owned(), message.to_owned()));
                }
            }
            "set-env" | "add-path" => {
                shared.log(leg, &format!("Error: Unable to process command '{line}' successfully."));
                shared.log(leg, &format!("Error: The `{name}` command is disabled. Please upgrade to using Environment Files or opt into unsecure command execution by setting the `ACTIONS_ALLOW_UNSECURE_COMMANDS` environment variable to `true`. For more information see: https://github.blog/changelog/2020-10-01-github-actions-deprecating-set-env-and-add-path-commands/"));
                self.failed = true;
            }
            "group" => shared.log(leg, &format!("▸ {message}")),
            "endgroup" => {}
            "debug" => {
                if std::env::var("RUNNER_DEBUG").is_ok_and(|v| v == "1") {
                    shared.log(leg, &format!("Debug: {message}"));
                }
            }
            "error" | "warning" | "notice" => {
                let label = match name {
                    "error" => "Error",
                    "warning" => "Warning",
                    _ => "Notice",
                };
                let mut at = String::new();
                let prop =
                    |k: &str| props.split(',').find_map(|p| p.trim().strip_prefix(&format!("{k}="))).map(str::to_owned);
                if let Some(f) = prop("file") {
                    at = format!(" ({f}{})", prop("line").map(|l| format!(":{l}")).unwrap_or_default());
                }
                shared.log(leg, &format!("{label}{at}: {message}"));
            }
            _ => shared.log(leg, line),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn cache_size_limits_read_like_githubs_settings() {
        assert_eq!(parse_size("10G"), Some(10 << 30));
        assert_eq!(parse_size("512 MB"), Some(512 << 20));
        assert_eq!(parse_size("64KiB"), Some(64 << 10));
        assert_eq!(parse_size("1000"), Some(1000));
        assert_eq!(parse_size("ten"), None);
        assert_eq!(parse_size("5X"), None);
        assert_eq!(parse_size("99999999999999T"), None);
    }
}
