//! `cloudlet ci runs|show|logs|stats|approve|reject`: the run history in
//! the data dir's store, printed as tables or `--json`. Wiring only: the
//! analyses (critical path, exclusive time, statistics) are
//! `cloudlet_ci::history`'s, the SQL is `cloudlet-store`'s.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;
use cloudlet_ci::history::{RunDetail, RunRecord, RunStatus, analysis, stats};
use cloudlet_core::{SystemClock, Timestamp};
use cloudlet_store::{ApprovalOutcome, DATABASE_FILE, RunFilter, Store};
use serde_json::{Value, json};

#[derive(Debug, Args)]
pub(crate) struct StoreArgs {
    /// Where the run history lives [default: as for `cloudlet up`]
    #[arg(long, env = "CLOUDLET_DATA_DIR", value_name = "DIR")]
    pub(crate) data_dir: Option<PathBuf>,
    /// Print JSON instead of a table
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RunsArgs {
    /// Only runs of this workflow (its name or file path)
    #[arg(long, value_name = "W")]
    workflow: Option<String>,
    /// Only runs with this status or conclusion (queued, pending, in_progress, waiting, completed, success, failure, cancelled)
    #[arg(long, value_name = "S")]
    status: Option<String>,
    /// At most N runs, newest first
    #[arg(long, value_name = "N", default_value_t = 20)]
    limit: usize,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Debug, Args)]
pub(crate) struct ShowArgs {
    /// The run id
    run: u64,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Debug, Args)]
pub(crate) struct LogsArgs {
    /// The run id
    run: u64,
    /// Only this job (its id, or a matrix leg's name)
    job: Option<String>,
    /// Only step N (1 for the first step)
    #[arg(long, value_name = "N")]
    step: Option<usize>,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Debug, Args)]
pub(crate) struct StatsArgs {
    /// Only runs of this workflow (its name or file path)
    #[arg(long, value_name = "W")]
    workflow: Option<String>,
    /// Only runs created since: a date (2026-11-01), a time (2026-11-01T12:00:00Z) or an age (30m, 12h, 7d)
    #[arg(long, value_name = "WHEN")]
    since: Option<String>,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Debug, Args)]
pub(crate) struct DecideArgs {
    /// The run id
    run: u64,
    /// The environment the run waits for
    environment: String,
    /// A comment recorded with the decision
    #[arg(long, value_name = "TEXT", default_value = "")]
    comment: String,
    /// Where the run history lives [default: as for `cloudlet up`]
    #[arg(long, env = "CLOUDLET_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

/// The wall clock's time.
pub(crate) fn now() -> Timestamp {
    use cloudlet_core::Clock as _;
    SystemClock::new().now()
}

fn fail(message: &str) -> Result<(), ()> {
    let _ = writeln!(std::io::stderr(), "error: {message}");
    Err(())
}

fn print(text: &str) {
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

fn print_json(v: &Value) {
    print(&format!("{v}\n"));
}

/// Opens the store in the data dir (creating it if needed).
pub(crate) fn open_store(data_dir: Option<&Path>) -> Result<Arc<Store>, String> {
    let dir = match data_dir {
        Some(d) => d.to_path_buf(),
        None => crate::data_dir::default_data_dir().map_err(|e| e.to_string())?,
    };
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create the data dir `{}`: {e}", dir.display()))?;
    Store::open(&dir.join(DATABASE_FILE), now()).map(Arc::new).map_err(|e| error_chain(&e))
}

pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(x) = source {
        s.push_str(&format!(": {x}"));
        source = x.source();
    }
    s
}

/// The start time of process `pid` (clock ticks since boot, from
/// `/proc/<pid>/stat`), which tells a live process from a reused pid.
pub(crate) fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields count from the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Whether the process that recorded a run still runs.
pub(crate) fn alive(pid: u32, start: u64) -> bool {
    if process_start(std::process::id()).is_none() {
        // No /proc here: assume the best rather than end live runs.
        return true;
    }
    process_start(pid) == Some(start)
}

/// Completes the runs whose process died (`kill -9`, a crash), so the
/// history says so instead of showing them running forever.
fn reap(store: &Store) -> Result<(), String> {
    let runs = store.ci_runs(&RunFilter::default()).map_err(|e| error_chain(&e))?;
    for r in runs.iter().filter(|r| r.status != RunStatus::Completed) {
        if !alive(r.pid, r.pid_start) {
            let note = format!("the runner process (pid {}) ended without completing the run", r.pid);
            store.ci_mark_dead(r.run_id, &note).map_err(|e| error_chain(&e))?;
        }
    }
    Ok(())
}

fn time(t: Option<Timestamp>) -> Value {
    t.map_or(Value::Null, |t| Value::String(t.to_rfc3339_millis()))
}

fn duration_ms(start: Option<Timestamp>, end: Option<Timestamp>) -> Value {
    match (start, end) {
        (Some(s), Some(e)) => json!(e.saturating_duration_since(s).as_millis() as u64),
        _ => Value::Null,
    }
}

/// The documented shape of one run in `ci runs --json`.
fn run_json(r: &RunRecord) -> Value {
    json!({
        "run_id": r.run_id.to_string(),
        "run_number": r.run_number,
        "workflow": r.workflow,
        "status": r.status.as_str(),
        "conclusion": r.conclusion,
        "event": r.event,
        "ref": r.git_ref,
        "sha": r.sha,
        "started_at": time(r.started_at),
        "finished_at": time(r.finished_at),
        "duration_ms": duration_ms(r.started_at, r.finished_at),
        "note": r.note,
    })
}

fn secs(ms: Option<u64>) -> String {
    ms.map_or_else(|| "-".to_owned(), |m| format!("{:.1}s", m as f64 / 1000.0))
}

fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> =
        (0..cols).map(|c| rows.iter().filter_map(|r| r.get(c)).map(|s| s.chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for r in rows {
        let line: Vec<String> = r.iter().enumerate().map(|(i, s)| format!("{s:<w$}", w = widths[i])).collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

pub(crate) fn runs(args: RunsArgs) -> Result<(), ()> {
    let store = match open_store(args.store.data_dir.as_deref()) {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    if let Err(e) = reap(&store) {
        return fail(&e);
    }
    if let Some(s) = &args.status
        && RunStatus::parse(s).is_none()
        && !["success", "failure", "cancelled"].contains(&s.as_str())
    {
        return fail(&format!(
            "--status {s}: hint: use one of queued, pending, in_progress, waiting, completed, success, failure, cancelled"
        ));
    }
    let filter = RunFilter {
        workflow: args.workflow.clone(),
        status: args.status.clone(),
        limit: Some(args.limit),
        since: None,
    };
    let runs = match store.ci_runs(&filter) {
        Ok(r) => r,
        Err(e) => return fail(&error_chain(&e)),
    };
    if args.store.json {
        print_json(&Value::Array(runs.iter().map(run_json).collect()));
        return Ok(());
    }
    let mut rows = vec![
        ["RUN", "#", "WORKFLOW", "STATUS", "CONCLUSION", "EVENT", "REF", "SHA", "STARTED", "DURATION"]
            .map(str::to_owned)
            .to_vec(),
    ];
    for r in &runs {
        rows.push(vec![
            r.run_id.to_string(),
            r.run_number.to_string(),
            r.workflow.clone(),
            r.status.as_str().to_owned(),
            r.conclusion.clone().unwrap_or_else(|| "-".to_owned()),
            r.event.clone(),
            r.git_ref.trim_start_matches("refs/heads/").to_owned(),
            r.sha.chars().take(7).collect(),
            r.started_at.map_or_else(|| "-".to_owned(), |t| t.to_rfc3339_millis()),
            secs(r.duration_ms()),
        ]);
    }
    print(&table(&rows));
    Ok(())
}

fn load(store: &Store, run: u64) -> Result<RunDetail, String> {
    reap(store)?;
    match store.ci_run_detail(run) {
        Ok(Some(d)) => Ok(d),
        Ok(None) => Err(format!("there is no run {run} in the history; hint: `cloudlet ci runs` lists them")),
        Err(e) => Err(error_chain(&e)),
    }
}

pub(crate) fn show(args: ShowArgs) -> Result<(), ()> {
    let detail = match open_store(args.store.data_dir.as_deref()).and_then(|s| load(&s, args.run)) {
        Ok(d) => d,
        Err(e) => return fail(&e),
    };
    let path = analysis::critical_path(&detail.jobs);
    let excl = analysis::exclusive_times(&detail.jobs);
    if args.store.json {
        let jobs: Vec<Value> = detail
            .jobs
            .iter()
            .enumerate()
            .map(|(i, j)| {
                let span = j.span();
                json!({
                    "id": j.job_id,
                    "name": j.name,
                    "needs": j.needs,
                    "environment": j.environment,
                    "result": j.result,
                    "started_at": time(span.map(|s| s.0)),
                    "finished_at": time(span.map(|s| s.1)),
                    "duration_ms": duration_ms(span.map(|s| s.0), span.map(|s| s.1)),
                    "exclusive_ms": span.map(|_| excl[i].as_millis() as u64),
                    "critical": path.contains(&i),
                    "legs": j.legs.iter().map(|l| json!({
                        "name": l.name,
                        "matrix": l.matrix_json.as_deref().and_then(|m| serde_json::from_str::<Value>(m).ok()),
                        "status": l.status,
                        "result": l.result,
                        "outputs": serde_json::from_str::<Value>(&l.outputs_json).unwrap_or(Value::Null),
                        "started_at": time(l.started_at),
                        "finished_at": time(l.finished_at),
                        "duration_ms": duration_ms(l.started_at, l.finished_at),
                        "steps": l.steps.iter().map(|s| json!({
                            "number": s.step,
                            "name": s.name,
                            "outcome": s.outcome,
                            "conclusion": s.conclusion,
                            "started_at": s.started_at.to_rfc3339_millis(),
                            "finished_at": time(s.finished_at),
                            "duration_ms": duration_ms(Some(s.started_at), s.finished_at),
                        })).collect::<Vec<_>>(),
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        let approvals: Vec<Value> = detail
            .approvals
            .iter()
            .map(|a| {
                json!({
                    "environment": a.environment,
                    "decision": if a.approved { "approved" } else { "rejected" },
                    "actor": a.actor,
                    "comment": a.comment,
                    "at": a.at.to_rfc3339_millis(),
                })
            })
            .collect();
        let caches: Vec<Value> =
            detail.caches.iter().map(|c| json!({"job": c.job_id, "key": c.key, "hit": c.hit.as_str()})).collect();
        let mut run = run_json(&detail.run);
        if let Value::Object(o) = &mut run {
            o.insert("repository".to_owned(), json!(detail.run.repository));
            o.insert("workflow_path".to_owned(), json!(detail.run.workflow_path));
        }
        print_json(&json!({
            "run": run,
            "jobs": jobs,
            "critical_path": path.iter().map(|i| detail.jobs[*i].job_id.clone()).collect::<Vec<_>>(),
            "approvals": approvals,
            "caches": caches,
        }));
        return Ok(());
    }
    let r = &detail.run;
    let mut out = format!(
        "run {} · {} #{} · {} on {} ({}) · {}{}\n",
        r.run_id,
        r.workflow,
        r.run_number,
        r.event,
        r.git_ref,
        r.sha.chars().take(7).collect::<String>(),
        r.status.as_str(),
        r.conclusion.as_ref().map_or_else(String::new, |c| format!(": {c}")),
    );
    if let Some(ms) = r.duration_ms() {
        out.push_str(&format!("took {}\n", secs(Some(ms))));
    }
    if let Some(note) = &r.note {
        out.push_str(&format!("note: {note}\n"));
    }
    out.push('\n');
    out.push_str(&analysis::draw(&detail.jobs));
    for a in &detail.approvals {
        out.push_str(&format!(
            "{} '{}' by {} at {}{}\n",
            if a.approved { "approved" } else { "rejected" },
            a.environment,
            a.actor,
            a.at.to_rfc3339_millis(),
            if a.comment.is_empty() { String::new() } else { format!(": {}", a.comment) }
        ));
    }
    print(&out);
    Ok(())
}

pub(crate) fn logs(args: LogsArgs) -> Result<(), ()> {
    let store = match open_store(args.store.data_dir.as_deref()) {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    let detail = match load(&store, args.run) {
        Ok(d) => d,
        Err(e) => return fail(&e),
    };
    let chunks = match store.ci_logs(args.run) {
        Ok(c) => c,
        Err(e) => return fail(&error_chain(&e)),
    };
    // A job id selects all its legs; a leg's name selects that leg. Jobs of
    // a called reusable workflow are logged as `caller / callee`, as GitHub
    // shows them: the caller selects them all, the full name one of them.
    let selected: Option<Vec<String>> = match &args.job {
        None => None,
        Some(want) => {
            let mut names: Vec<String> = Vec::new();
            for j in &detail.jobs {
                if j.job_id.eq_ignore_ascii_case(want) || j.name == *want {
                    names.extend(j.legs.iter().map(|l| l.name.clone()));
                    names.push(j.job_id.clone());
                } else {
                    names.extend(j.legs.iter().filter(|l| l.name == *want).map(|l| l.name.clone()));
                }
            }
            let stored: Vec<&str> = chunks.iter().map(|c| c.leg_name.as_str()).collect();
            let mut nested: Vec<String> = Vec::new();
            for name in stored {
                let within = names.iter().any(|n| is_called_from(name, n)) || selects_called(name, want);
                if within && !names.iter().chain(&nested).any(|n| n == name) {
                    nested.push(name.to_owned());
                }
            }
            names.extend(nested);
            if names.is_empty() {
                let ids: Vec<&str> = detail.jobs.iter().map(|j| j.job_id.as_str()).collect();
                return fail(&format!("run {} has no job '{want}' (its jobs: {})", args.run, ids.join(", ")));
            }
            Some(names)
        }
    };
    let chunks: Vec<_> = chunks
        .into_iter()
        .filter(|c| selected.as_ref().is_none_or(|names| names.contains(&c.leg_name)))
        .filter(|c| args.step.is_none_or(|s| c.step == s))
        .collect();
    if args.store.json {
        let v: Vec<Value> = chunks
            .iter()
            .map(|c| json!({"job": c.leg_name, "step": c.step, "lines": c.text.lines().collect::<Vec<_>>()}))
            .collect();
        print_json(&Value::Array(v));
        return Ok(());
    }
    let mut out = String::new();
    for c in &chunks {
        for line in c.text.lines() {
            out.push_str(&format!("[{}] {line}\n", c.leg_name));
        }
    }
    print(&out);
    Ok(())
}

/// Whether the log of `leg` is that of a job inside the reusable workflow
/// that the leg named `caller` called (`caller / callee`, at any depth).
fn is_called_from(leg: &str, caller: &str) -> bool {
    leg.strip_prefix(caller).is_some_and(|rest| rest.starts_with(" / "))
}

/// Whether `want`, a called job's displayed name (`caller / callee`, spaces
/// around `/` optional), selects the log of `leg`: that job, its matrix
/// legs (`caller / callee (1)`) and the jobs it called in turn.
fn selects_called(leg: &str, want: &str) -> bool {
    if !want.contains('/') {
        return false;
    }
    let want = want.split('/').map(str::trim).collect::<Vec<_>>().join(" / ");
    leg == want || is_called_from(leg, &want) || leg.strip_prefix(&want).is_some_and(|rest| rest.starts_with(" ("))
}

/// `--since`: a date, an RFC 3339 time, or an age (`30m`, `12h`, `7d`).
fn parse_since(s: &str, now: Timestamp) -> Result<Timestamp, String> {
    let hint =
        || format!("--since {s}: expected a date (2026-11-01), a time (2026-11-01T12:00:00Z) or an age (30m, 12h, 7d)");
    if let Some((n, unit)) = s.len().checked_sub(1).map(|i| s.split_at(i))
        && let Ok(n) = n.parse::<u64>()
    {
        let secs = match unit {
            "m" => n * 60,
            "h" => n * 3600,
            "d" => n * 86_400,
            _ => return Err(hint()),
        };
        return Ok(Timestamp::from_unix_nanos(now.as_unix_nanos().saturating_sub(secs.saturating_mul(1_000_000_000))));
    }
    let (date, clock) = s.split_once('T').unwrap_or((s, "00:00:00Z"));
    let d: Vec<i64> = date.split('-').map(|p| p.parse().map_err(|_| hint())).collect::<Result<_, _>>()?;
    let clock = clock.trim_end_matches('Z');
    let c: Vec<i64> =
        clock.split(':').map(|p| p.parse::<f64>().map(|v| v as i64).map_err(|_| hint())).collect::<Result<_, _>>()?;
    if d.len() != 3 || !(1..=12).contains(&d[1]) || !(1..=31).contains(&d[2]) || c.is_empty() || c.len() > 3 {
        return Err(hint());
    }
    // Days from civil (Howard Hinnant), for the proleptic Gregorian calendar.
    let (y, m) = if d[1] <= 2 { (d[0] - 1, d[1] + 9) } else { (d[0], d[1] - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d[2] - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + c[0] * 3600 + c.get(1).copied().unwrap_or(0) * 60 + c.get(2).copied().unwrap_or(0);
    u64::try_from(secs).map(Timestamp::from_unix_secs).map_err(|_| hint())
}

pub(crate) fn stats(args: StatsArgs) -> Result<(), ()> {
    let now = now();
    let since = match args.since.as_deref().map(|s| parse_since(s, now)).transpose() {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    let store = match open_store(args.store.data_dir.as_deref()) {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    if let Err(e) = reap(&store) {
        return fail(&e);
    }
    let filter = RunFilter { workflow: args.workflow.clone(), since, ..RunFilter::default() };
    let details = match store.ci_run_details(&filter) {
        Ok(d) => d,
        Err(e) => return fail(&error_chain(&e)),
    };
    let s = stats::compute(&details, since, now);
    if args.store.json {
        print_json(&serde_json::to_value(&s).unwrap_or(Value::Null));
        return Ok(());
    }
    let pct = |r: Option<f64>| r.map_or_else(|| "-".to_owned(), |r| format!("{:.0}%", r * 100.0));
    let mut rows = vec![["WORKFLOW / JOB", "RUNS", "SUCCESS", "P50", "P95"].map(str::to_owned).to_vec()];
    for w in &s.workflows {
        rows.push(vec![
            w.workflow.clone(),
            w.completed.to_string(),
            pct(w.success_rate),
            secs(w.duration_p50_ms),
            secs(w.duration_p95_ms),
        ]);
        for j in &w.jobs {
            rows.push(vec![
                format!("  {}", j.job),
                j.runs.to_string(),
                pct(j.success_rate),
                secs(j.duration_p50_ms),
                secs(j.duration_p95_ms),
            ]);
        }
    }
    let mut out = table(&rows);
    out.push_str(&format!(
        "\ncache: {} restores, {} exact hits, {} partial, {} misses; hit rate {}\n",
        s.cache.lookups,
        s.cache.exact,
        s.cache.partial,
        s.cache.misses,
        pct(s.cache.hit_rate)
    ));
    if !s.environments.is_empty() {
        let mut rows = vec![
            ["ENVIRONMENT", "DEPLOYMENTS", "PER DAY", "LEAD TIME P50", "LEAD TIME P95", "CHANGE FAILURE RATE"]
                .map(str::to_owned)
                .to_vec(),
        ];
        for e in &s.environments {
            rows.push(vec![
                e.environment.clone(),
                e.deployments.to_string(),
                format!("{:.2}", e.deployments_per_day),
                secs(e.lead_time_p50_ms),
                secs(e.lead_time_p95_ms),
                pct(e.change_failure_rate),
            ]);
        }
        out.push('\n');
        out.push_str(&table(&rows));
    }
    print(&out);
    Ok(())
}

/// Who decides: the git user, else the login name.
fn actor() -> String {
    std::process::Command::new("git")
        .args(["config", "user.name"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "cloudlet".to_owned())
}

pub(crate) fn decide(args: DecideArgs, approved: bool) -> Result<(), ()> {
    let store = match open_store(args.data_dir.as_deref()) {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    if let Err(e) = reap(&store) {
        return fail(&e);
    }
    let who = actor();
    let outcome = store.ci_decide(args.run, &args.environment, approved, &who, &args.comment, now());
    match outcome {
        Ok(ApprovalOutcome::Recorded) => {
            let verb = if approved { "approved" } else { "rejected" };
            print(&format!("run {}: deployment to '{}' {verb} by {who}\n", args.run, args.environment));
            Ok(())
        }
        Ok(ApprovalOutcome::NoSuchRun) => {
            fail(&format!("there is no run {} in the history; hint: `cloudlet ci runs --status waiting`", args.run))
        }
        Ok(ApprovalOutcome::NotWaiting { waiting_for }) if waiting_for.is_empty() => {
            fail(&format!("run {} is not waiting for an approval", args.run))
        }
        Ok(ApprovalOutcome::NotWaiting { waiting_for }) => fail(&format!(
            "run {} is not waiting for environment '{}'; it waits for: {}",
            args.run,
            args.environment,
            waiting_for.join(", ")
        )),
        Ok(ApprovalOutcome::AlreadyDecided(a)) => fail(&format!(
            "the deployment of run {} to '{}' was already {} by {} at {}",
            args.run,
            a.environment,
            if a.approved { "approved" } else { "rejected" },
            a.actor,
            a.at.to_rfc3339_millis()
        )),
        Err(e) => fail(&error_chain(&e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn called_jobs_are_selected_by_caller_or_displayed_name() {
        assert!(is_called_from("call / build", "call"));
        assert!(is_called_from("call (1) / build / inner", "call (1)"));
        assert!(!is_called_from("call", "call"));
        assert!(!is_called_from("caller / build", "call"));
        assert!(selects_called("call / build", "call / build"));
        assert!(selects_called("call / build", "call/build"));
        assert!(selects_called("call / build (linux)", "call / build"));
        assert!(selects_called("call / build / inner", "call / build"));
        assert!(!selects_called("call / builder", "call / build"));
        assert!(!selects_called("call / test", "call / build"));
        assert!(!selects_called("call", "call"));
    }

    #[test]
    fn since_takes_dates_times_and_ages() {
        let now = Timestamp::from_unix_secs(1_764_000_000);
        assert_eq!(parse_since("2025-11-24", now), Ok(Timestamp::from_unix_secs(1_763_942_400)));
        assert_eq!(parse_since("2025-11-24T16:00:00Z", now), Ok(Timestamp::from_unix_secs(1_764_000_000)));
        assert_eq!(parse_since("2h", now), Ok(Timestamp::from_unix_secs(1_764_000_000 - 7200)));
        assert_eq!(parse_since("7d", now), Ok(Timestamp::from_unix_secs(1_764_000_000 - 7 * 86_400)));
        assert!(parse_since("yesterday", now).expect_err("not a date").contains("expected a date"));
        assert!(parse_since("5w", now).is_err());
    }

    #[test]
    fn a_live_process_is_told_from_a_dead_one() {
        let me = std::process::id();
        let start = process_start(me).expect("/proc on Linux");
        assert!(alive(me, start));
        assert!(!alive(me, start + 1));
    }
}
