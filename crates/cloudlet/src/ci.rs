//! `cloudlet ci run`: flags → a run context (the github context from the
//! local git repository) → `cloudlet_ci::runner`, with the run recorded
//! in the data dir's store as it progresses, its workflow-level
//! concurrency group held there, and live progress on stderr. The
//! history commands are in `history`, the progress view in `progress`.
//! Wiring only: parsing, validation, scheduling and running live in
//! `cloudlet-ci`, SQL in `cloudlet-store`.

mod history;
mod progress;

use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::{Args, Subcommand};
use cloudlet_ci::expr::{Object, Value};
use cloudlet_ci::history::{RunRecorder, RunStatus};
use cloudlet_ci::runner::{RunContext, RunReport, run_workflow, run_workflow_name, workflow_concurrency};
use cloudlet_ci::workflow::{Workflow, parse_workflow};
use cloudlet_core::SystemClock;
use cloudlet_store::{GroupState, NewRun, Store, StoreRecorder};

#[derive(Debug, Args)]
pub(crate) struct CiArgs {
    #[command(subcommand)]
    command: CiCommand,
}

#[derive(Debug, Subcommand)]
enum CiCommand {
    /// Run a workflow of the repository on this machine, as GitHub Actions would
    Run(Box<RunArgs>),
    /// List recorded runs, newest first
    Runs(history::RunsArgs),
    /// One run: its jobs with durations, the job graph with the critical path and exclusive times
    Show(history::ShowArgs),
    /// A run's logs (secrets are never stored)
    Logs(history::LogsArgs),
    /// Success rate, p50/p95 durations, cache hit rate and DORA metrics per environment
    Stats(history::StatsArgs),
    /// Approve a waiting run's deployment to an environment
    Approve(history::DecideArgs),
    /// Reject a waiting run's deployment to an environment (the job fails)
    Reject(history::DecideArgs),
}

#[derive(Debug, Args)]
struct RunArgs {
    /// The repository's root
    #[arg(short = 'C', value_name = "DIR", default_value = ".")]
    dir: PathBuf,
    /// The workflow file [default: the only workflow in .github/workflows the event triggers]
    #[arg(short = 'W', long = "workflow", value_name = "FILE")]
    workflow: Option<PathBuf>,
    /// The event that triggers the run
    #[arg(short = 'e', long = "event", value_name = "EVENT", default_value = "push")]
    event: String,
    /// The git ref of the run [default: the checked-out branch]
    #[arg(long = "ref", value_name = "REF")]
    git_ref: Option<String>,
    /// The event payload (github.event) as a JSON file
    #[arg(long, value_name = "JSON")]
    event_file: Option<PathBuf>,
    /// A workflow_dispatch / workflow_call input
    #[arg(long = "input", value_name = "K=V", value_parser = key_value)]
    inputs: Vec<(String, String)>,
    /// A secret (never printed; masked in logs)
    #[arg(long = "secret", value_name = "K=V", value_parser = key_value)]
    secrets: Vec<(String, String)>,
    /// Secrets from a file of KEY=VALUE lines
    #[arg(long, value_name = "FILE")]
    secret_file: Option<PathBuf>,
    /// A configuration variable (the vars context)
    #[arg(long = "var", value_name = "K=V", value_parser = key_value)]
    vars: Vec<(String, String)>,
    /// Use a local checkout for a remote action: NAME is owner/repo (or owner/repo/path)
    #[arg(long = "action", value_name = "NAME=PATH", value_parser = key_value)]
    actions: Vec<(String, String)>,
    /// Run only this job and the jobs it needs
    #[arg(long = "job", value_name = "ID")]
    job: Option<String>,
    /// How many job legs may run at once [default: the number of cores]
    #[arg(long, value_name = "N")]
    max_parallel: Option<usize>,
    /// Where caches and the run history live [default: as for `cloudlet up`]
    #[arg(long, env = "CLOUDLET_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Print the run as one JSON object at the end (progress goes to stderr)
    #[arg(long)]
    json: bool,
    /// Stream every step's log lines to stderr, prefixed by the job
    #[arg(short, long)]
    verbose: bool,
}

fn key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("expected KEY=VALUE, got '{s}'")),
    }
}

pub(crate) fn run(args: CiArgs) -> Result<(), ()> {
    match args.command {
        CiCommand::Run(args) => run_command(*args),
        CiCommand::Runs(args) => history::runs(args),
        CiCommand::Show(args) => history::show(args),
        CiCommand::Logs(args) => history::logs(args),
        CiCommand::Stats(args) => history::stats(args),
        CiCommand::Approve(args) => history::decide(args, true),
        CiCommand::Reject(args) => history::decide(args, false),
    }
}

fn fail(message: &str) -> Result<(), ()> {
    let _ = writeln!(std::io::stderr(), "error: {message}");
    Err(())
}

fn run_command(args: RunArgs) -> Result<(), ()> {
    let dir = match args.dir.canonicalize() {
        Ok(d) => d,
        Err(e) => return fail(&format!("-C {}: {e}", args.dir.display())),
    };
    let (file, wf) = match pick_workflow(&dir, args.workflow.as_deref(), &args.event) {
        Ok(found) => found,
        Err(message) => {
            let _ = writeln!(std::io::stderr(), "{message}");
            return Err(());
        }
    };
    let mut secrets = args.secrets.clone();
    if let Some(f) = &args.secret_file {
        match std::fs::read_to_string(f) {
            Ok(text) => {
                for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
                    match key_value(line) {
                        Ok(kv) => secrets.push(kv),
                        Err(e) => return fail(&format!("{}: {e}", f.display())),
                    }
                }
            }
            Err(e) => return fail(&format!("{}: {e}", f.display())),
        }
    }
    let git = GitInfo::read(&dir);
    let git_ref = args.git_ref.clone().unwrap_or_else(|| git.git_ref.clone());
    let event = match &args.event_file {
        Some(f) => match std::fs::read_to_string(f)
            .map_err(|e| e.to_string())
            .and_then(|t| Value::from_json(&t).map_err(|e| e.to_string()))
        {
            Ok(v) => v,
            Err(e) => return fail(&format!("--event-file {}: {e}", f.display())),
        },
        None => event_payload(&args.event, &git, &git_ref, &args.inputs, first_cron(&wf)),
    };
    let clock = SystemClock::shared();
    let run_id = clock.now().as_unix_millis();
    let mut ctx = RunContext {
        workspace: dir.clone(),
        workflow_path: file,
        event_name: args.event.clone(),
        event,
        sha: git.sha.clone(),
        git_ref,
        repository: git.repository.clone(),
        actor: git.actor.clone(),
        inputs: args.inputs.clone(),
        secrets,
        vars: args.vars.clone(),
        only_job: args.job.clone(),
        max_parallel: args
            .max_parallel
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get)),
        run_id,
        run_number: 1,
        changed_paths: (args.event == "push").then(|| changed_files(&dir)).flatten(),
        actions: args.actions.iter().map(|(k, v)| (k.clone(), dir.join(v))).collect(),
        call: None,
        data_dir: args.data_dir.clone().or_else(|| crate::data_dir::default_data_dir().ok()),
        cancel: Some(cancel_on_ctrl_c()),
        recorder: None,
    };
    let progress = Arc::new(progress::Progress::new(std::io::stderr().is_terminal(), args.verbose));
    // The run's history; without a usable data dir the run still runs.
    let store = match history::open_store(ctx.data_dir.as_deref()) {
        Ok(s) => Some(s),
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "warning: the run is not recorded: {e}");
            None
        }
    };
    let recorder = match &store {
        Some(store) => {
            let new = NewRun {
                repository: ctx.repository.clone(),
                workflow: run_workflow_name(&wf, &ctx),
                workflow_path: ctx.workflow_path.clone(),
                event: ctx.event_name.clone(),
                git_ref: ctx.git_ref.clone(),
                sha: ctx.sha.clone(),
                commit_at: self::git(&dir, &["show", "-s", "--format=%ct", &ctx.sha])
                    .and_then(|s| s.parse().ok())
                    .map(cloudlet_core::Timestamp::from_unix_secs),
                created_at: clock.now(),
                pid: std::process::id(),
                pid_start: history::process_start(std::process::id()).unwrap_or(0),
            };
            match store.ci_create_run(&new) {
                Ok(record) => {
                    ctx.run_id = record.run_id;
                    ctx.run_number = record.run_number;
                    Some(Arc::new(StoreRecorder::new(store.clone(), record.run_id)))
                }
                Err(e) => return fail(&history::error_chain(&e)),
            }
        }
        None => None,
    };
    if let (Some(store), Some(rec)) = (&store, &recorder) {
        match hold_concurrency_group(store, rec.run_id(), &wf, &ctx, &progress) {
            Ok(None) => {}
            Ok(Some(message)) => {
                let _ = store.ci_finish_run(rec.run_id(), "cancelled", clock.now(), Some(&message));
                if args.json {
                    let _ = writeln!(
                        std::io::stdout().lock(),
                        "{}",
                        serde_json::json!({"run_id": rec.run_id().to_string(), "conclusion": "cancelled", "jobs": []})
                    );
                }
                return Err(());
            }
            Err(e) => {
                let _ = store.ci_finish_run(rec.run_id(), "failure", clock.now(), Some(&e));
                return fail(&e);
            }
        }
        if let Err(e) = store.ci_set_status(rec.run_id(), RunStatus::InProgress, clock.now()) {
            return fail(&history::error_chain(&e));
        }
        ctx.recorder = Some(Arc::new(progress::Recorder { store: rec.clone(), progress: progress.clone() }));
    }
    // A newer run of the concurrency group may ask this one to stop.
    let stop_watch = Arc::new(AtomicBool::new(false));
    let cancel_note: Arc<std::sync::Mutex<Option<String>>> = Arc::default();
    if let (Some(rec), Some(cancel)) = (&recorder, &ctx.cancel) {
        let (rec, cancel, stop, note, progress) =
            (rec.clone(), cancel.clone(), stop_watch.clone(), cancel_note.clone(), progress.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                if let Some(message) = rec.cancel_requested() {
                    progress.log("run", &message);
                    if let Ok(mut n) = note.lock() {
                        *n = Some(message);
                    }
                    cancel.store(true, Ordering::SeqCst);
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
        });
    }
    let logs = Arc::new(progress::Logs { store: recorder.clone(), progress: progress.clone() });
    let result = run_workflow(&wf, &ctx, clock.clone(), logs);
    stop_watch.store(true, Ordering::SeqCst);
    if let Some(rec) = &recorder {
        rec.sync();
    }
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            if let (Some(store), Some(rec)) = (&store, &recorder) {
                let _ = store.ci_finish_run(rec.run_id(), "failure", clock.now(), Some(&e.to_string()));
            }
            return fail(&e.to_string());
        }
    };
    if let (Some(store), Some(rec)) = (&store, &recorder) {
        let note = cancel_note.lock().ok().and_then(|n| n.clone());
        if let Err(e) = store.ci_finish_run(rec.run_id(), report.conclusion.as_str(), clock.now(), note.as_deref()) {
            let _ = writeln!(std::io::stderr(), "warning: {}", history::error_chain(&e));
        }
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        let _ = writeln!(out, "{}", report.to_json().to_json_compact());
    } else {
        let _ = out.write_all(summary(&report).as_bytes());
    }
    if report.conclusion == cloudlet_ci::scheduler::JobResult::Success { Ok(()) } else { Err(()) }
}

/// A table of job legs: name, result, duration; `*` marks the jobs on the
/// critical path.
fn summary(report: &RunReport) -> String {
    let width = report.jobs.iter().map(|j| j.name.chars().count()).max().unwrap_or(3).max(3);
    let mut s = format!("  {:<width$}  {:<9}  DURATION\n", "JOB", "RESULT");
    for j in &report.jobs {
        let d = j.finished_at.saturating_duration_since(j.started_at);
        let mark = if report.critical_path.contains(&j.id) { '*' } else { ' ' };
        s.push_str(&format!("{mark} {:<width$}  {:<9}  {:.1}s\n", j.name, j.result.as_str(), d.as_secs_f64()));
    }
    if report.critical_path.len() > 1 {
        s.push_str(&format!("* critical path: {}\n", report.critical_path.join(" → ")));
    }
    s.push_str(&format!("run {}: {}\n", report.run_id, report.conclusion.as_str()));
    s
}

/// Holds the workflow's concurrency group (if it has one) in the store,
/// waiting as `pending` while another run holds it. `Ok(Some(message))`:
/// a newer run replaced this one before it started.
fn hold_concurrency_group(
    store: &Store,
    run_id: u64,
    wf: &Workflow,
    ctx: &RunContext,
    progress: &progress::Progress,
) -> Result<Option<String>, String> {
    let Some((group, cancel_in_progress)) = workflow_concurrency(wf, ctx).map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    let now = || history::now();
    let state = store
        .ci_enter_group(run_id, &group, cancel_in_progress, &history::alive)
        .map_err(|e| history::error_chain(&e))?;
    if state == GroupState::Running {
        return Ok(None);
    }
    store.ci_set_status(run_id, RunStatus::Pending, now()).map_err(|e| history::error_chain(&e))?;
    progress.log("run", &format!("Waiting for a running workflow of concurrency group '{group}' to finish"));
    loop {
        match store.ci_group_poll(run_id, &history::alive).map_err(|e| history::error_chain(&e))? {
            GroupState::Running => return Ok(None),
            GroupState::Cancelled(message) => {
                progress.log("run", &message);
                return Ok(Some(message));
            }
            GroupState::Pending if ctx.cancel.as_ref().is_some_and(|c| c.load(Ordering::SeqCst)) => {
                return Ok(Some("The run was canceled while it waited for its concurrency group.".to_owned()));
            }
            GroupState::Pending => std::thread::sleep(std::time::Duration::from_millis(200)),
        }
    }
}

/// The workflow to run: `-W FILE`, or the only workflow the event triggers.
fn pick_workflow(dir: &Path, file: Option<&Path>, event: &str) -> Result<(String, Workflow), String> {
    let load = |path: &Path| -> Result<(String, Workflow), String> {
        let display = path.strip_prefix(dir).unwrap_or(path).to_string_lossy().into_owned();
        let text = std::fs::read_to_string(path).map_err(|e| format!("error: {display}: {e}"))?;
        let wf = parse_workflow(&display, &text).map_err(|e| e.to_string())?;
        for w in &wf.warnings {
            let _ = writeln!(std::io::stderr(), "{display}:{}:{}: warning: {}", w.pos.line, w.pos.col, w.message);
        }
        Ok((display, wf))
    };
    if let Some(f) = file {
        let path = if f.is_absolute() { f.to_path_buf() } else { dir.join(f) };
        return load(&path);
    }
    let wf_dir = dir.join(".github/workflows");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&wf_dir)
        .map_err(|e| format!("error: {}: {e}", wf_dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yml" || x == "yaml"))
        .collect();
    paths.sort();
    let mut triggered = Vec::new();
    for p in paths {
        let (name, wf) = load(&p)?;
        if wf.events.iter().any(|e| e.value == event) {
            triggered.push((name, wf));
        }
    }
    match triggered.len() {
        1 => Ok(triggered.remove(0)),
        0 => Err(format!("error: no workflow in {} is triggered by '{event}'", wf_dir.display())),
        _ => Err(format!(
            "error: several workflows are triggered by '{event}': {}\nhint: choose one with -W FILE",
            triggered.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ")
        )),
    }
}

/// What the local git repository says about the run.
struct GitInfo {
    sha: String,
    git_ref: String,
    repository: String,
    actor: String,
    default_branch: String,
}

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git").arg("-C").arg(dir).args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned()).filter(|s| !s.is_empty())
}

impl GitInfo {
    fn read(dir: &Path) -> GitInfo {
        let sha = git(dir, &["rev-parse", "HEAD"]).unwrap_or_else(|| "0".repeat(40));
        let git_ref = git(dir, &["symbolic-ref", "-q", "HEAD"]).unwrap_or_else(|| sha.clone());
        let repository = git(dir, &["config", "--get", "remote.origin.url"])
            .and_then(|url| {
                let trimmed = url.trim_end_matches('/').trim_end_matches(".git");
                let mut parts = trimmed.rsplit(['/', ':']);
                let name = parts.next()?;
                let owner = parts.next()?;
                Some(format!("{owner}/{name}"))
            })
            .unwrap_or_else(|| {
                let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                format!("local/{name}")
            });
        let actor = git(dir, &["config", "user.name"])
            .or_else(|| std::env::var("USER").ok())
            .unwrap_or_else(|| "cloudlet".to_owned());
        let default_branch = git(dir, &["symbolic-ref", "-q", "--short", "refs/remotes/origin/HEAD"])
            .and_then(|b| b.split_once('/').map(|(_, b)| b.to_owned()))
            .unwrap_or_else(|| "main".to_owned());
        GitInfo { sha, git_ref, repository, actor, default_branch }
    }
}

/// A flag set by the first Ctrl-C (the run is cancelled as on GitHub:
/// steps get SIGINT, `always()` jobs still run); a second Ctrl-C exits.
fn cancel_on_ctrl_c() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let set = flag.clone();
    std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_io().build() else { return };
        rt.block_on(async {
            if tokio::signal::ctrl_c().await.is_ok() {
                set.store(true, Ordering::SeqCst);
                let _ = writeln!(std::io::stderr(), "cancelling the run (Ctrl-C again to exit at once)");
            }
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        });
    });
    flag
}

/// The files the last commit changed (all of them for a first commit).
fn changed_files(dir: &Path) -> Option<Vec<String>> {
    let list = git(dir, &["diff", "--name-only", "HEAD~1", "HEAD"])
        .or_else(|| git(dir, &["ls-tree", "-r", "--name-only", "HEAD"]))?;
    Some(list.lines().map(str::to_owned).collect())
}

/// A minimal webhook payload for the event, from the repository.
/// The first `on.schedule` cron, which a `schedule` run reports as
/// `github.event.schedule`.
fn first_cron(wf: &Workflow) -> Option<String> {
    let on = wf.on.as_ref()?;
    let first = on.get("schedule")?.as_seq()?.first()?;
    first.get("cron")?.as_str().map(str::to_owned)
}

fn event_payload(
    event: &str,
    git: &GitInfo,
    git_ref: &str,
    inputs: &[(String, String)],
    schedule: Option<String>,
) -> Value {
    let s = |v: &str| Value::string(v);
    let (owner, name) = git.repository.split_once('/').unwrap_or(("local", &git.repository));
    let mut owner_o = Object::new();
    owner_o.set("login", s(owner));
    let mut repo = Object::new();
    repo.set("name", s(name));
    repo.set("full_name", s(&git.repository));
    repo.set("owner", Value::object(owner_o));
    repo.set("default_branch", s(&git.default_branch));
    let mut e = Object::new();
    e.set("ref", s(git_ref));
    e.set("repository", Value::object(repo));
    let mut sender = Object::new();
    sender.set("login", s(&git.actor));
    e.set("sender", Value::object(sender));
    match event {
        "push" => {
            e.set("before", s(&"0".repeat(40)));
            e.set("after", s(&git.sha));
            let mut head = Object::new();
            head.set("id", s(&git.sha));
            e.set("head_commit", Value::object(head));
        }
        "workflow_dispatch" => {
            let mut i = Object::new();
            for (k, v) in inputs {
                i.set(k, s(v));
            }
            e.set("inputs", Value::object(i));
        }
        "schedule" => e.set("schedule", s(&schedule.unwrap_or_default())),
        _ => {}
    }
    Value::object(e)
}
