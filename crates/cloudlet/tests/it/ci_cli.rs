//! `cloudlet ci run` end to end: a repository in a temporary directory,
//! the real binary, its exit code and its `--json` object.

use std::path::Path;

use super::cloudlet;

fn repo(workflow: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let wf = dir.path().join(".github/workflows");
    std::fs::create_dir_all(&wf).expect("mkdir");
    std::fs::write(wf.join("ci.yml"), workflow).expect("write workflow");
    dir
}

fn run(dir: &Path, extra: &[&str]) -> (bool, String, String) {
    let out = cloudlet().args(["ci", "run", "-C"]).arg(dir).args(extra).output().expect("run cloudlet ci");
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
    let dir = repo(
        "on:\n  push:\n    branches: ['releases/**']\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: touch ran\n",
    );
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
