//! `cloudlet ci` end to end: a repository in a temporary directory, the
//! real binary, its exit code and its `--json` objects; the run history
//! with several processes at once (a run waiting for an approval given
//! from another process, a concurrency group across runs, a killed run).

use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use super::cloudlet;

fn repo(workflow: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let wf = dir.path().join(".github/workflows");
    std::fs::create_dir_all(&wf).expect("mkdir");
    std::fs::write(wf.join("ci.yml"), workflow).expect("write workflow");
    dir
}

fn run(dir: &Path, extra: &[&str]) -> (bool, String, String) {
    let out = cloudlet()
        .args(["ci", "run", "-C"])
        .arg(dir)
        .arg("--data-dir")
        .arg(dir.join(".cloudlet-data"))
        .args(extra)
        .output()
        .expect("run cloudlet ci");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_successful_run_exits_zero_and_prints_the_documented_json() {
    let dir = repo(
        "on: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    outputs:\n      v: ${{ steps.s.outputs.v }}\n    steps:\n      - id: s\n        run: echo v=${{ matrix.n }}-$CI >> $GITHUB_OUTPUT\n    strategy:\n      matrix:\n        n: [1]\n",
    );
    let (ok, stdout, stderr) = run(dir.path(), &["--json"]);
    assert!(ok, "stderr:\n{stderr}");
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON object on stdout");
    assert_eq!(v["conclusion"], "success");
    assert!(v["run_id"].is_string());
    let job = &v["jobs"][0];
    assert_eq!(job["id"], "build");
    assert_eq!(job["name"], "build (1)");
    assert_eq!(job["matrix"], serde_json::json!({"n": 1}));
    assert_eq!(job["result"], "success");
    assert_eq!(job["outputs"], serde_json::json!({"v": "1-true"}));
    let started = job["started_at"].as_str().unwrap_or_default();
    assert!(started.ends_with('Z') && started.len() == "2026-01-01T00:00:00.000Z".len(), "{started}");
}

#[test]
fn a_failed_run_exits_non_zero() {
    let dir = repo("on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: exit 3\n");
    let (ok, stdout, _) = run(dir.path(), &["--json"]);
    assert!(!ok);
    assert!(stdout.contains(r#""conclusion":"failure""#), "{stdout}");
}

#[test]
fn bad_workflows_name_file_line_col_and_run_nothing() {
    let dir = repo(
        "on: push\njobs:\n  a:\n    runs-on: x\n    needs: b\n    steps:\n      - run: touch ran\n  b:\n    runs-on: x\n    needs: a\n    steps:\n      - run: touch ran\n  c:\n    runs-on: x\n    steps:\n      - run: touch ran\n",
    );
    let (ok, _, stderr) = run(dir.path(), &[]);
    assert!(!ok);
    assert!(
        stderr.contains(
            ".github/workflows/ci.yml:5:12: Job 'a' depends on job 'b' which creates a cycle in the dependency graph."
        ),
        "{stderr}"
    );
    assert!(!dir.path().join("ran").exists(), "a step ran despite the invalid workflow");
}

#[test]
fn container_jobs_are_refused_before_anything_runs() {
    let dir = repo(
        "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: touch ran\n  db:\n    runs-on: x\n    services:\n      pg: {image: postgres}\n    steps:\n      - run: touch ran\n",
    );
    let (ok, _, stderr) = run(dir.path(), &[]);
    assert!(!ok);
    assert!(
        stderr.contains(".github/workflows/ci.yml:9:5: job 'db' uses `services`, which needs a container runtime"),
        "{stderr}"
    );
    assert!(!dir.path().join("ran").exists());
}

#[test]
fn branch_filters_decide_whether_the_workflow_runs() {
    let dir = repo("");
    // Each job has a workspace of its own: the step marks the repository.
    let ran = dir.path().join("ran");
    std::fs::write(
        dir.path().join(".github/workflows/ci.yml"),
        format!(
            "on:\n  push:\n    branches: ['releases/**']\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: touch {}\n",
            ran.display()
        ),
    )
    .expect("write workflow");
    let (ok, _, stderr) = run(dir.path(), &["--ref", "refs/heads/main"]);
    assert!(!ok);
    assert!(stderr.contains("branch 'main' matches none of on.push.branches"), "{stderr}");
    let (ok, _, stderr) = run(dir.path(), &["--ref", "refs/heads/releases/v1/rc"]);
    assert!(ok, "{stderr}");
    assert!(dir.path().join("ran").exists());
}

#[test]
fn missing_local_actions_are_refused_before_anything_runs() {
    let dir = repo(
        "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: touch ran\n      - uses: ./missing-action\n",
    );
    let (ok, _, stderr) = run(dir.path(), &[]);
    assert!(!ok);
    assert!(
        stderr.contains(
            ".github/workflows/ci.yml:7:15: uses: ./missing-action: Can't find 'action.yml' or 'action.yaml'"
        ),
        "{stderr}"
    );
    assert!(!dir.path().join("ran").exists());
}

/// The data dir of a test repository.
fn data(dir: &Path) -> PathBuf {
    dir.join(".cloudlet-data")
}

/// `cloudlet ci <args> --data-dir <data>`, run to the end.
fn ci(data: &Path, args: &[&str]) -> Output {
    cloudlet().arg("ci").args(args).arg("--data-dir").arg(data).output().expect("run cloudlet ci")
}

fn json_of(out: &Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}\nstderr: {}", String::from_utf8_lossy(&out.stderr)))
}

/// A `cloudlet ci run --json` in the background.
fn spawn_run(dir: &Path) -> Child {
    cloudlet()
        .args(["ci", "run", "--json", "-C"])
        .arg(dir)
        .arg("--data-dir")
        .arg(data(dir))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn cloudlet ci run")
}

/// Polls (another process's progress) until `done` holds, for at most a minute.
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < Duration::from_secs(60), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn runs(dir: &Path) -> serde_json::Value {
    json_of(&ci(&data(dir), &["runs", "--json"]))
}

const DEPLOY: &str = "on: push\njobs:\n  build:\n    runs-on: x\n    steps:\n      - run: echo built\n  deploy:\n    needs: build\n    runs-on: x\n    environment: production\n    steps:\n      - run: echo deploying\n  smoke:\n    needs: deploy\n    runs-on: x\n    steps:\n      - run: echo smoke\n";

fn approval_repo() -> tempfile::TempDir {
    let dir = repo(DEPLOY);
    std::fs::create_dir_all(dir.path().join(".cloudlet")).expect("mkdir");
    std::fs::write(dir.path().join(".cloudlet/environments.yml"), "production:\n  approval: required\n")
        .expect("write environments");
    dir
}

/// Starts a run that waits for production's approval; returns it and its id.
fn waiting_run(dir: &Path) -> (Child, String) {
    let child = spawn_run(dir);
    wait_until("the run to wait for an approval", || runs(dir)[0]["status"] == "waiting");
    let listed = runs(dir);
    assert_eq!(listed[0]["conclusion"], serde_json::Value::Null);
    let id = listed[0]["run_id"].as_str().expect("run_id is a string").to_owned();
    (child, id)
}

fn result_of(report: &serde_json::Value, job: &str) -> String {
    let jobs = report["jobs"].as_array().cloned().unwrap_or_default();
    jobs.iter()
        .find(|j| j["id"] == job)
        .map(|j| j["result"].as_str().unwrap_or_default().to_owned())
        .unwrap_or_default()
}

#[test]
fn a_run_waits_for_an_approval_given_from_another_process() {
    let dir = approval_repo();
    let (child, id) = waiting_run(dir.path());
    // Approving an environment the run does not wait for is refused.
    let wrong = ci(&data(dir.path()), &["approve", &id, "staging"]);
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("it waits for: production"));
    let ok = ci(&data(dir.path()), &["approve", &id, "production", "--comment", "ship it"]);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let out = child.wait_with_output().expect("run ends");
    assert!(out.status.success(), "stderr:\n{}", String::from_utf8_lossy(&out.stderr));
    let report = json_of(&out);
    assert_eq!(report["run_id"], id.as_str());
    assert_eq!((result_of(&report, "deploy"), result_of(&report, "smoke")), ("success".into(), "success".into()));
    let again = ci(&data(dir.path()), &["approve", &id, "production"]);
    assert!(!again.status.success());
    let shown = json_of(&ci(&data(dir.path()), &["show", &id, "--json"]));
    assert_eq!(shown["run"]["status"], "completed");
    assert_eq!(shown["run"]["conclusion"], "success");
    assert_eq!(shown["approvals"][0]["decision"], "approved");
    assert_eq!(shown["approvals"][0]["comment"], "ship it");
    assert_eq!(shown["critical_path"], serde_json::json!(["build", "deploy", "smoke"]));
}

#[test]
fn a_rejected_deployment_fails_its_job_and_skips_the_jobs_that_need_it() {
    let dir = approval_repo();
    let (child, id) = waiting_run(dir.path());
    let no = ci(&data(dir.path()), &["reject", &id, "production"]);
    assert!(no.status.success(), "{}", String::from_utf8_lossy(&no.stderr));
    let out = child.wait_with_output().expect("run ends");
    assert!(!out.status.success());
    let report = json_of(&out);
    assert_eq!(report["conclusion"], "failure");
    assert_eq!((result_of(&report, "deploy"), result_of(&report, "smoke")), ("failure".into(), "skipped".into()));
    let listed = runs(dir.path());
    assert_eq!((listed[0]["status"].as_str(), listed[0]["conclusion"].as_str()), (Some("completed"), Some("failure")));
    let logs = ci(&data(dir.path()), &["logs", &id, "deploy"]);
    let text = String::from_utf8_lossy(&logs.stdout);
    assert!(text.contains("The deployment was rejected or didn't satisfy other protection rules."), "{text}");
    assert!(!text.contains("deploying"), "{text}");
}

#[test]
fn cancel_in_progress_cancels_the_run_of_another_process() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
    let (second, started, never) = (p("second"), p("started"), p("never"));
    let wf = format!(
        "on: push\nconcurrency:\n  group: deploy\n  cancel-in-progress: true\njobs:\n  hold:\n    runs-on: x\n    steps:\n      - run: test -f {second} || {{ touch {started}; while [ ! -f {never} ]; do sleep 0.1; done; }}\n"
    );
    let wf_dir = dir.path().join(".github/workflows");
    std::fs::create_dir_all(&wf_dir).expect("mkdir");
    std::fs::write(wf_dir.join("ci.yml"), wf).expect("write workflow");
    let first = spawn_run(dir.path());
    wait_until("the first run's step to start", || Path::new(&started).exists());
    std::fs::write(&second, "").expect("touch");
    let (ok, stdout, stderr) = run(dir.path(), &["--json"]);
    assert!(ok, "the newer run must run once the older is cancelled:\n{stderr}");
    assert!(stdout.contains(r#""conclusion":"success""#), "{stdout}");
    let out = first.wait_with_output().expect("first run ends");
    assert!(!out.status.success());
    assert_eq!(json_of(&out)["conclusion"], "cancelled");
    let message = "Canceling since a higher priority waiting request for 'deploy' exists";
    assert!(String::from_utf8_lossy(&out.stderr).contains(message));
    let listed = runs(dir.path());
    assert_eq!(listed[1]["conclusion"], "cancelled");
    assert_eq!(listed[1]["note"], message);
    assert_eq!(listed[0]["conclusion"], "success");
}

#[test]
fn show_logs_and_stats_read_the_recorded_runs() {
    let dir = repo(
        "name: Pipeline\non: push\njobs:\n  setup:\n    runs-on: x\n    steps:\n      - run: echo \"setting up with $TOKEN\"\n        env:\n          TOKEN: ${{ secrets.TOKEN }}\n      - run: echo second step\n  test:\n    needs: setup\n    runs-on: x\n    strategy:\n      matrix:\n        n: [1, 2]\n    steps:\n      - run: echo test ${{ matrix.n }}\n  deploy:\n    needs: test\n    runs-on: x\n    environment: staging\n    steps:\n      - run: echo deploy\n",
    );
    for _ in 0..2 {
        let (ok, _, stderr) = run(dir.path(), &["--secret", "TOKEN=hunter2"]);
        assert!(ok, "{stderr}");
        assert!(!stderr.contains("hunter2"));
    }
    let data = data(dir.path());
    let listed = json_of(&ci(&data, &["runs", "--json", "--workflow", "Pipeline", "--limit", "1"]));
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    let id = listed[0]["run_id"].as_str().expect("id").to_owned();
    for key in ["workflow", "status", "conclusion", "event", "ref", "sha", "started_at", "finished_at", "duration_ms"] {
        assert!(listed[0].get(key).is_some(), "runs --json lacks {key}");
    }
    assert_eq!(listed[0]["workflow"], "Pipeline");
    assert_eq!(listed[0]["run_number"], 2);
    let shown = json_of(&ci(&data, &["show", &id, "--json"]));
    assert_eq!(shown["critical_path"][0], "setup");
    assert_eq!(shown["critical_path"].as_array().and_then(|a| a.last()).cloned(), Some("deploy".into()));
    let test = &shown["jobs"][1];
    assert_eq!(test["legs"].as_array().map(Vec::len), Some(2));
    assert_eq!(test["legs"][1]["matrix"], serde_json::json!({"n": 2}));
    assert!(test["exclusive_ms"].is_u64() && test["duration_ms"].is_u64());
    assert_eq!(shown["jobs"][0]["legs"][0]["steps"][1]["name"], "echo second step");
    let text = String::from_utf8_lossy(&ci(&data, &["show", &id]).stdout).into_owned();
    assert!(text.contains("* critical path: setup → test → deploy"), "{text}");
    let setup_logs = String::from_utf8_lossy(&ci(&data, &["logs", &id, "setup", "--step", "1"]).stdout).into_owned();
    assert!(setup_logs.contains("[setup] setting up with ***"), "{setup_logs}");
    assert!(!setup_logs.contains("second step") && !setup_logs.contains("hunter2"), "{setup_logs}");
    let leg = json_of(&ci(&data, &["logs", &id, "test (2)", "--json"]));
    assert!(leg.as_array().is_some_and(|chunks| chunks.iter().all(|c| c["job"] == "test (2)")));
    assert!(leg.to_string().contains("test 2"));
    let missing = ci(&data, &["logs", &id, "nope"]);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("has no job 'nope' (its jobs: setup, test, deploy)"));
    let stats = json_of(&ci(&data, &["stats", "--json", "--since", "1d"]));
    assert_eq!(stats["workflows"][0]["workflow"], "Pipeline");
    assert_eq!(stats["workflows"][0]["completed"], 2);
    assert_eq!(stats["workflows"][0]["success_rate"], 1.0);
    assert_eq!(stats["environments"][0]["environment"], "staging");
    assert_eq!(stats["environments"][0]["deployments"], 2);
    assert_eq!(stats["environments"][0]["change_failure_rate"], 0.0);
    // The secret is nowhere in the store.
    for file in std::fs::read_dir(&data).expect("data dir").filter_map(Result::ok) {
        let bytes = std::fs::read(file.path()).unwrap_or_default();
        assert!(!bytes.windows(7).any(|w| w == b"hunter2"), "{} holds the secret", file.path().display());
    }
}

#[test]
fn logs_select_jobs_of_called_workflows_by_their_displayed_name_or_caller() {
    let dir = repo(
        "on: push\njobs:\n  call:\n    uses: ./.github/workflows/called.yml\n  after:\n    needs: call\n    runs-on: x\n    steps:\n      - run: echo after\n",
    );
    std::fs::write(
        dir.path().join(".github/workflows/called.yml"),
        "on: workflow_call\njobs:\n  build:\n    runs-on: x\n    steps:\n      - run: echo building\n  test:\n    name: Unit tests\n    runs-on: x\n    strategy:\n      matrix:\n        n: [1, 2]\n    steps:\n      - run: echo testing ${{ matrix.n }}\n",
    )
    .expect("write the called workflow");
    let (ok, _, stderr) = run(dir.path(), &[]);
    assert!(ok, "{stderr}");
    let data = data(dir.path());
    let id = runs(dir.path())[0]["run_id"].as_str().expect("id").to_owned();
    let text = |job: &str| String::from_utf8_lossy(&ci(&data, &["logs", &id, job]).stdout).into_owned();
    let build = text("call / build");
    assert!(build.contains("[call / build] building"), "{build}");
    assert!(!build.contains("testing") && !build.contains("after"), "{build}");
    let tests = text("call/Unit tests");
    assert!(tests.contains("[call / Unit tests (1)] testing 1"), "{tests}");
    assert!(tests.contains("[call / Unit tests (2)] testing 2"), "{tests}");
    assert!(!tests.contains("building"), "{tests}");
    let all = json_of(&ci(&data, &["logs", &id, "call", "--json"]));
    let jobs: Vec<&str> = all.as_array().expect("chunks").iter().filter_map(|c| c["job"].as_str()).collect();
    for want in ["call / build", "call / Unit tests (1)", "call / Unit tests (2)"] {
        assert!(jobs.contains(&want), "{jobs:?} lacks {want}");
    }
    assert!(!jobs.contains(&"after"), "{jobs:?}");
    let missing = ci(&data, &["logs", &id, "call / deploy"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("has no job 'call / deploy'"));
}

#[test]
fn a_killed_run_is_completed_as_a_failure_when_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
    let (started, stop) = (p("started"), p("stop"));
    let wf = format!(
        "on: push\njobs:\n  hold:\n    runs-on: x\n    steps:\n      - run: touch {started}; while [ ! -f {stop} ]; do sleep 0.1; done\n"
    );
    let wf_dir = dir.path().join(".github/workflows");
    std::fs::create_dir_all(&wf_dir).expect("mkdir");
    std::fs::write(wf_dir.join("ci.yml"), wf).expect("write workflow");
    let mut child = spawn_run(dir.path());
    wait_until("the step to start", || Path::new(&started).exists());
    assert_eq!(runs(dir.path())[0]["status"], "in_progress");
    child.kill().expect("kill -9");
    child.wait().expect("reap");
    // The orphaned step ends too.
    std::fs::write(&stop, "").expect("touch");
    let listed = runs(dir.path());
    assert_eq!((listed[0]["status"].as_str(), listed[0]["conclusion"].as_str()), (Some("completed"), Some("failure")));
    assert!(listed[0]["note"].as_str().is_some_and(|n| n.contains("ended without completing the run")), "{listed}");
    let id = listed[0]["run_id"].as_str().expect("id").to_owned();
    let shown = json_of(&ci(&data(dir.path()), &["show", &id, "--json"]));
    assert_eq!(shown["jobs"][0]["legs"][0]["result"], "cancelled");
    assert_eq!(shown["jobs"][0]["legs"][0]["steps"][0]["conclusion"], serde_json::Value::Null);
}
