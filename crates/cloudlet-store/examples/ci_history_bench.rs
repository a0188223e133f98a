//! Per-step overhead of `cloudlet ci run` with the run history recorded,
//! run by `bench/ci history` (release build): the path `cloudlet ci run`
//! takes — a run row, a `StoreRecorder` taking every event and log line,
//! its final sync and the run's conclusion — against the same workflows
//! run with no history. Prints a Markdown table.
//!
//! `--runs N` (default 5) sets how many runs each median is over.

use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cloudlet_ci::expr::Value;
use cloudlet_ci::history::RunStatus;
use cloudlet_ci::runner::{LogSink, RunContext, run_workflow};
use cloudlet_ci::scheduler::JobResult;
use cloudlet_ci::workflow::parse_workflow;
use cloudlet_core::{Clock as _, SystemClock};
use cloudlet_store::{NewRun, Store, StoreRecorder};

type Error = Box<dyn std::error::Error>;

/// Log lines go where `cloudlet ci run` sends them: into the history.
struct Logs(Option<Arc<StoreRecorder>>);

impl LogSink for Logs {
    fn line(&self, job: &str, line: &str) {
        if let Some(r) = &self.0 {
            r.log_line(job, line);
        }
    }
}

fn out(s: &str) {
    let _ = std::io::stdout().lock().write_all(s.as_bytes());
}

/// One real run of `yaml`; with `store`, recorded as `cloudlet ci run` does.
fn run(yaml: &str, dir: &Path, store: Option<&Arc<Store>>) -> Result<Duration, Error> {
    let wf = parse_workflow("bench.yml", yaml).map_err(|e| e.to_string())?;
    let clock = SystemClock::shared();
    let started = Instant::now();
    let mut ctx = RunContext {
        workspace: dir.to_path_buf(),
        workflow_path: ".github/workflows/bench.yml".to_owned(),
        event_name: "push".to_owned(),
        event: Value::from_json("{}")?,
        sha: "0".repeat(40),
        git_ref: "refs/heads/main".to_owned(),
        repository: "bench/bench".to_owned(),
        actor: "bench".to_owned(),
        max_parallel: 2,
        run_id: 1,
        run_number: 1,
        data_dir: Some(dir.join(".data")),
        ..RunContext::default()
    };
    let recorder = match store {
        Some(store) => {
            let record = store.ci_create_run(&NewRun {
                repository: ctx.repository.clone(),
                workflow: "bench".to_owned(),
                workflow_path: ctx.workflow_path.clone(),
                event: ctx.event_name.clone(),
                git_ref: ctx.git_ref.clone(),
                sha: ctx.sha.clone(),
                commit_at: None,
                created_at: clock.now(),
                pid: std::process::id(),
                pid_start: 0,
            })?;
            ctx.run_id = record.run_id;
            ctx.run_number = record.run_number;
            store.ci_set_status(record.run_id, RunStatus::InProgress, clock.now())?;
            let rec = Arc::new(StoreRecorder::new(store.clone(), record.run_id));
            ctx.recorder = Some(rec.clone());
            Some(rec)
        }
        None => None,
    };
    let report = run_workflow(&wf, &ctx, clock.clone(), Arc::new(Logs(recorder.clone())))?;
    if let (Some(store), Some(rec)) = (store, &recorder) {
        rec.sync();
        store.ci_finish_run(rec.run_id(), report.conclusion.as_str(), clock.now(), None)?;
    }
    let took = started.elapsed();
    if report.conclusion != JobResult::Success {
        return Err(format!("the benchmark run ended {}", report.conclusion.as_str()).into());
    }
    Ok(took)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runs: usize =
        args.iter().position(|a| a == "--runs").and_then(|i| args.get(i + 1)).map_or(Ok(5), |s| s.parse())?;
    let runs = runs.max(1);
    let tmp = tempfile::tempdir()?;
    let store = Arc::new(Store::open(&tmp.path().join("cloudlet.db"), SystemClock::new().now())?);
    let job = |steps: usize| {
        let mut y = String::from("on: push\njobs:\n  j:\n    runs-on: ubuntu-latest\n    steps:\n");
        for _ in 0..steps {
            y.push_str("      - run: \"true\"\n");
        }
        y
    };
    let (few, many) = (1usize, 201usize);
    out("| measure | no history | with history |\n|---|--:|--:|\n");
    let mut rows = Vec::new();
    for steps in [few, many] {
        // The two kinds alternate so the machine's load falls on both alike.
        let (mut bare, mut recorded) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            bare.push(run(&job(steps), tmp.path(), None)?);
            recorded.push(run(&job(steps), tmp.path(), Some(&store))?);
        }
        rows.push([median(bare), median(recorded)]);
    }
    for (i, steps) in [few, many].into_iter().enumerate() {
        out(&format!(
            "| run of 1 job × {steps} step{} (median of {runs}) | {:.1} ms | {:.1} ms |\n",
            if steps == 1 { "" } else { "s" },
            ms(rows[i][0]),
            ms(rows[i][1])
        ));
    }
    let per_step: Vec<Duration> = (0..2).map(|k| rows[1][k].saturating_sub(rows[0][k]) / (many - few) as u32).collect();
    out(&format!(
        "| **per step** (`run: \"true\"`, bash) | **{:.2} ms** | **{:.2} ms** |\n",
        ms(per_step[0]),
        ms(per_step[1])
    ));
    let detail = store.ci_run_details(&Default::default())?;
    out(&format!("\n{} runs recorded in the history.\n", detail.len()));
    Ok(())
}
