//! `examples/ci/pipeline.yml`, the source document's Final Pipeline, run
//! by the real binary in this repository (a checkout of its commit per
//! job): everything up to the production approval, twice against one data
//! dir, so the second run's build restores its dependencies from the cache;
//! then the whole pipeline, which waits for the production approval until a
//! second process gives it.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use super::cloudlet;

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("repository root")
}

/// Runs the pipeline up to `deploy-staging`; the `--json` report and stderr.
fn run_to_staging(data: &Path, deploy_root: &Path) -> (serde_json::Value, String) {
    let out = cloudlet()
        .args(["ci", "run", "-C"])
        .arg(repository())
        .args([
            "-W",
            "examples/ci/pipeline.yml",
            "-e",
            "workflow_dispatch",
            "--job",
            "deploy-staging",
            "--json",
            "--verbose",
        ])
        .arg("--var")
        .arg(format!("DEPLOY_ROOT={}", deploy_root.display()))
        .arg("--data-dir")
        .arg(data)
        .output()
        .expect("run cloudlet ci");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "the pipeline failed\nstdout:\n{stdout}\nstderr:\n{stderr}");
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON object on stdout");
    (report, stderr)
}

fn results(report: &serde_json::Value) -> Vec<(String, String)> {
    report["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .map(|j| {
            (j["name"].as_str().unwrap_or_default().to_owned(), j["result"].as_str().unwrap_or_default().to_owned())
        })
        .collect()
}

#[test]
fn the_final_pipeline_runs_to_staging_and_caches_its_dependencies() {
    let data = tempfile::tempdir().expect("data dir");
    let deploy = tempfile::tempdir().expect("deploy root");
    let (first, log) = run_to_staging(data.path(), deploy.path());
    let ok = |name: &str| (name.to_owned(), "success".to_owned());
    assert_eq!(
        results(&first),
        vec![
            ok("lint"),
            ok("security-scan"),
            ok("unit-tests"),
            ok("build"),
            ok("integration-tests"),
            ok("deploy-staging")
        ],
        "{log}"
    );
    assert!(log.contains("Cache not found for input keys: deps-"), "{log}");
    assert!(log.contains("fetching salutation 1.4.2"), "{log}");
    assert!(log.contains("Cache saved with key: deps-"), "{log}");
    assert!(log.contains("smoke tests passed on file://"), "{log}");
    let build = first["jobs"].as_array().and_then(|j| j.iter().find(|j| j["id"] == "build")).expect("build job");
    let version = build["outputs"]["version"].as_str().expect("version output");
    assert_eq!(version.len(), 40, "the version is the commit");
    let deployed = std::fs::read_to_string(deploy.path().join("staging/VERSION")).expect("deployed to staging");
    assert_eq!(deployed.trim(), version);
    assert!(!deploy.path().join("production").exists(), "production is not part of this run");

    // The second run restores the dependencies and skips fetching them.
    let (second, log) = run_to_staging(data.path(), deploy.path());
    assert!(results(&second).iter().all(|(_, r)| r == "success"), "{log}");
    assert!(log.contains("Cache restored from key: deps-"), "{log}");
    assert!(log.contains("Cache hit occurred on the primary key deps-"), "{log}");
    assert!(!log.contains("fetching salutation"), "{log}");
    let build = second["jobs"].as_array().and_then(|j| j.iter().find(|j| j["id"] == "build")).expect("build job");
    assert_eq!(build["outputs"]["deps-cache-hit"], "true");
}

/// `cloudlet ci runs --json` over `data`.
fn runs(data: &Path) -> serde_json::Value {
    let out = cloudlet().args(["ci", "runs", "--json", "--data-dir"]).arg(data).output().expect("run cloudlet ci runs");
    serde_json::from_slice(&out.stdout).expect("ci runs --json prints JSON")
}

#[test]
fn the_final_pipeline_waits_for_the_production_approval_given_from_another_terminal() {
    let data = tempfile::tempdir().expect("data dir");
    let deploy = tempfile::tempdir().expect("deploy root");
    let child = cloudlet()
        .args(["ci", "run", "-C"])
        .arg(repository())
        .args(["-W", "examples/ci/pipeline.yml", "-e", "workflow_dispatch", "--json", "--verbose"])
        .arg("--var")
        .arg(format!("DEPLOY_ROOT={}", deploy.path().display()))
        .arg("--data-dir")
        .arg(data.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn cloudlet ci run");
    // Poll the other process's recorded progress until it waits for the approval.
    let start = Instant::now();
    while runs(data.path())[0]["status"] != "waiting" {
        assert!(start.elapsed() < Duration::from_secs(120), "the pipeline never waited for its approval");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(deploy.path().join("staging/VERSION").exists(), "staging is deployed before the approval");
    assert!(!deploy.path().join("production").exists(), "production waits for the approval");
    let id = runs(data.path())[0]["run_id"].as_str().expect("run_id").to_owned();
    let approve = cloudlet()
        .args(["ci", "approve", &id, "production", "--data-dir"])
        .arg(data.path())
        .output()
        .expect("run cloudlet ci approve");
    assert!(approve.status.success(), "{}", String::from_utf8_lossy(&approve.stderr));
    let out = child.wait_with_output().expect("the pipeline ends");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "the pipeline failed\nstdout:\n{stdout}\nstderr:\n{stderr}");
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON object on stdout");
    assert!(results(&report).iter().all(|(_, r)| r == "success"), "{stderr}");
    assert!(results(&report).iter().any(|(name, _)| name == "deploy-production"), "{stderr}");
    let version = std::fs::read_to_string(deploy.path().join("production/VERSION")).expect("deployed to production");
    let staged = std::fs::read_to_string(deploy.path().join("staging/VERSION")).expect("deployed to staging");
    assert_eq!(version, staged, "production runs the build that staging tested");
    assert_eq!(runs(data.path())[0]["conclusion"], "success");
}
