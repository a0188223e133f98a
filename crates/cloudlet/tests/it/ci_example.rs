//! `examples/ci/pipeline.yml`, the source document's Final Pipeline, run
//! by the real binary in this repository (a checkout of its commit per
//! job): everything up to the production approval, twice against one data
//! dir, so the second run's build restores its dependencies from the cache.

use std::path::{Path, PathBuf};

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
