//! Workflow runs as data: each folder under `tests/data/runs/` holds a
//! `workflow.yml` (and any files it needs) and an `expected.json` with the
//! run's conclusion, every job leg's result (and, where given, its name,
//! matrix and outputs), the event, inputs and secrets to pass, and text the
//! log must or must not contain. The run is real: steps are host processes.
//!
//! The folder is committed to a fresh git repository, which is the run's
//! repository: jobs start in empty workspaces and `actions/checkout`
//! materialises that commit, as on GitHub. `"repeat": N` runs the workflow
//! N times against one data dir (caches carry over); the other checks are
//! of the last run, except `"caches"`: the hit kind of every cache lookup
//! of all runs, in order. `"error"` expects the run to be refused with
//! that message before anything runs. `"history"` maps job ids to the
//! results their legs report to the run history (`LegFinished` events), in
//! leg order.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use cloudlet_ci::expr::Value;
use cloudlet_ci::history::{ApprovalRecord, RunEvent, RunRecorder};
use cloudlet_ci::runner::{LogSink, RunContext, run_workflow};
use cloudlet_ci::workflow::parse_workflow;
use cloudlet_core::SystemClock;

#[derive(Default)]
struct Captured(Mutex<Vec<String>>);

impl LogSink for Captured {
    fn line(&self, job: &str, line: &str) {
        if let Ok(mut l) = self.0.lock() {
            l.push(format!("[{job}] {line}"));
        }
    }
}

/// The run history's view of the run: the events, kept in order.
#[derive(Debug, Default)]
struct Events(Mutex<Vec<RunEvent>>);

impl RunRecorder for Events {
    fn record(&self, event: RunEvent) {
        if let Ok(mut e) = self.0.lock() {
            e.push(event);
        }
    }

    fn approval(&self, _environment: &str) -> Option<ApprovalRecord> {
        None
    }

    fn cancel_requested(&self) -> Option<String> {
        None
    }
}

fn copy_dir(from: &Path, to: &Path) {
    let _ = std::fs::create_dir_all(to);
    for e in std::fs::read_dir(from).into_iter().flatten().flatten() {
        let p = e.path();
        let dest = to.join(e.file_name());
        if p.is_dir() {
            copy_dir(&p, &dest);
        } else {
            let _ = std::fs::copy(&p, &dest);
        }
    }
}

fn run_case(dir: &Path) -> Result<(), String> {
    let ws = tempfile::tempdir().map_err(|e| e.to_string())?;
    copy_dir(dir, ws.path());
    let git = |args: &[&str]| -> Result<String, String> {
        let out = std::process::Command::new("git")
            .arg("-C")
            .arg(ws.path())
            .args(["-c", "user.name=tester", "-c", "user.email=tester@example.com", "-c", "commit.gpgsign=false"])
            .args(args)
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!("git {args:?}: {}", String::from_utf8_lossy(&out.stderr)));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    git(&["init", "-q", "-b", "main"])?;
    git(&["add", "-A"])?;
    git(&["commit", "-q", "-m", "case"])?;
    let sha = git(&["rev-parse", "HEAD"])?;
    // `{{sha}}` in the expectations is the commit made here.
    let expected_text = std::fs::read_to_string(dir.join("expected.json")).map_err(|e| e.to_string())?;
    let expected = Value::from_json(&expected_text.replace("{{sha}}", &sha)).map_err(|e| e.to_string())?;
    let expected = expected.as_object().cloned().unwrap_or_default();
    // Changes made after the commit, which checkouts must not carry.
    for (name, text) in expected.get("uncommitted").and_then(Value::as_object).into_iter().flat_map(|o| o.iter()) {
        std::fs::write(ws.path().join(name), text.to_display_string()).map_err(|e| e.to_string())?;
    }
    let data = tempfile::tempdir().map_err(|e| e.to_string())?;
    let text = std::fs::read_to_string(dir.join("workflow.yml")).map_err(|e| e.to_string())?;
    let wf = parse_workflow("workflow.yml", &text).map_err(|e| e.to_string())?;
    let pairs = |key: &str| -> Vec<(String, String)> {
        expected
            .get(key)
            .and_then(Value::as_object)
            .map(|o| o.iter().map(|(k, v)| (k.to_owned(), v.to_display_string())).collect())
            .unwrap_or_default()
    };
    let ctx = RunContext {
        workspace: ws.path().to_path_buf(),
        workflow_path: ".github/workflows/workflow.yml".to_owned(),
        event_name: expected.get("event").and_then(Value::as_str).unwrap_or("push").to_owned(),
        inputs: pairs("inputs"),
        event: Value::from_json("{}").unwrap_or_default(),
        sha,
        git_ref: "refs/heads/main".to_owned(),
        repository: "cloudlet/test".to_owned(),
        actor: "tester".to_owned(),
        secrets: pairs("secrets"),
        max_parallel: 4,
        data_dir: Some(data.path().to_path_buf()),
        run_id: 1,
        run_number: 1,
        ..RunContext::default()
    };
    // `"error"`: the run is refused with this message and nothing runs.
    let want_error = expected.get("error").and_then(Value::as_str);
    let repeat = expected.get("repeat").map_or(1, |v| v.to_number() as usize).max(1);
    let mut caches = Vec::new();
    let mut last = None;
    for i in 0..repeat {
        let log = Arc::new(Captured::default());
        let events = Arc::new(Events::default());
        let ctx = RunContext {
            run_id: i as u64 + 1,
            run_number: i as u64 + 1,
            // Only where asked: a recorder changes how environments gate.
            recorder: expected.get("history").map(|_| events.clone() as Arc<dyn RunRecorder>),
            ..ctx.clone()
        };
        let report = match (run_workflow(&wf, &ctx, SystemClock::shared(), log.clone()), want_error) {
            (Ok(r), None) => r,
            (Err(e), Some(want)) if e.to_string().contains(want) => {
                let lines = log.0.lock().map(|l| l.len()).unwrap_or(0);
                return if lines == 0 { Ok(()) } else { Err(format!("{lines} log lines: something ran")) };
            }
            (Ok(_), Some(want)) => return Err(format!("the run started; expected the error {want:?}")),
            (Err(e), _) => return Err(e.to_string()),
        };
        caches.extend(report.caches.iter().map(|c| c.hit.as_str()));
        last = Some((report, log, events));
    }
    let Some((report, log, events)) = last else { return Err("no run".to_owned()) };
    let lines = log.0.lock().map(|l| l.join("\n")).unwrap_or_default();
    let fail = |msg: String| Err(format!("{msg}\n--- log ---\n{lines}"));
    let want_conclusion = expected.get("conclusion").and_then(Value::as_str).unwrap_or("success");
    if report.conclusion.as_str() != want_conclusion {
        return fail(format!("conclusion {} != {want_conclusion}", report.conclusion.as_str()));
    }
    let want_jobs = expected.get("jobs").and_then(Value::as_array).unwrap_or_default();
    if want_jobs.len() != report.jobs.len() {
        return fail(format!("{} job entries, expected {}", report.jobs.len(), want_jobs.len()));
    }
    for (want, got) in want_jobs.iter().zip(&report.jobs) {
        let Some(want) = want.as_object() else { continue };
        let field = |k: &str| want.get(k).and_then(Value::as_str);
        if field("id").is_some_and(|id| id != got.id) || field("result") != Some(got.result.as_str()) {
            return fail(format!(
                "{} ({}): result {}, expected {:?}",
                got.id,
                got.name,
                got.result.as_str(),
                want.iter().collect::<Vec<_>>()
            ));
        }
        if field("name").is_some_and(|n| n != got.name) {
            return fail(format!("name {:?}, expected {:?}", got.name, field("name")));
        }
        if let Some(m) = want.get("matrix") {
            let got_m = got.matrix.clone().map_or(Value::Null, Value::object);
            if !m.deep_eq(&got_m) {
                return fail(format!("{}: matrix {}", got.name, got_m.to_json_compact()));
            }
        }
        if let Some(outputs) = want.get("outputs").and_then(Value::as_object) {
            for (k, v) in outputs.iter() {
                let g = got.outputs.get(k).cloned().unwrap_or_default();
                if !g.deep_eq(v) {
                    return fail(format!("{}: output {k} = {}", got.id, g.to_json_compact()));
                }
            }
        }
    }
    if let Some(want) = expected.get("history").and_then(Value::as_object) {
        let events = events.0.lock().map(|e| e.clone()).unwrap_or_default();
        for (job, results) in want.iter() {
            let want: Vec<String> =
                results.as_array().unwrap_or_default().iter().map(Value::to_display_string).collect();
            let mut got: Vec<(usize, &str)> = events
                .iter()
                .filter_map(|e| match e {
                    RunEvent::LegFinished { job: j, leg, result, .. } if j == job => Some((*leg, result.as_str())),
                    _ => None,
                })
                .collect();
            got.sort_unstable();
            let got: Vec<&str> = got.into_iter().map(|(_, r)| r).collect();
            if got != want {
                return fail(format!("{job}: the history has legs {got:?}, expected {want:?}"));
            }
        }
    }
    if let Some(want) = expected.get("caches").and_then(Value::as_array) {
        let want: Vec<String> = want.iter().map(Value::to_display_string).collect();
        if want != caches {
            return fail(format!("cache lookups {caches:?}, expected {want:?}"));
        }
    }
    for s in expected.get("log_contains").and_then(Value::as_array).unwrap_or_default() {
        let s = s.to_display_string();
        if !lines.contains(&s) {
            return fail(format!("the log lacks {s:?}"));
        }
    }
    for s in expected.get("log_excludes").and_then(Value::as_array).unwrap_or_default() {
        let s = s.to_display_string();
        if lines.contains(&s) {
            return fail(format!("the log contains {s:?}"));
        }
    }
    Ok(())
}

#[test]
fn workflow_runs_match_their_expected_results() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/runs");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root).into_iter().flatten().flatten().map(|e| e.path()).collect();
    dirs.retain(|d| d.join("workflow.yml").is_file());
    dirs.sort();
    assert!(dirs.len() >= 6, "found {} cases", dirs.len());
    let failures: Vec<String> = dirs
        .iter()
        .filter_map(|d| run_case(d).err().map(|e| format!("{}: {e}", d.file_name().unwrap_or_default().display())))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
