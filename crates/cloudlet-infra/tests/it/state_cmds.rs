//! The state-side commands end to end, through `commands::*::run` with a
//! real working directory: golden states before/after `state mv`/`rm`
//! (the "after" file is what Terraform 1.0.3 wrote for the same commands),
//! both dialects round-tripping, corrupted and newer states left untouched,
//! workspaces on disk, `fmt` golden files (outputs of Terraform 1.0.3's
//! `fmt`), and the fcntl lock held by a second real process (this test
//! binary re-run as a lock holder), including one killed with SIGKILL.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use cloudlet_infra::backend::local::LocalBackend;
use cloudlet_infra::backend::{Backend as _, LockClock, LockInfo};
use cloudlet_infra::commands::{self, Ctx};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/data").join(name)
}

/// A clock that never waits: sleeping moves it forward, and the first
/// sleep runs `on_sleep` (a test's way to let the lock holder go).
struct TestClock {
    now: Mutex<u64>,
    on_sleep: Mutex<Option<Box<dyn FnOnce() + Send>>>,
    slept: Mutex<Vec<Duration>>,
}

impl TestClock {
    fn new() -> TestClock {
        TestClock {
            now: Mutex::new(1_795_584_045_000_000_000),
            on_sleep: Mutex::new(None),
            slept: Mutex::new(Vec::new()),
        }
    }
}

impl LockClock for TestClock {
    fn now_unix_nanos(&self) -> u64 {
        *self.now.lock().expect("clock")
    }

    fn sleep(&self, duration: Duration) {
        if let Some(f) = self.on_sleep.lock().expect("hook").take() {
            f();
        }
        self.slept.lock().expect("slept").push(duration);
        *self.now.lock().expect("clock") += u64::try_from(duration.as_nanos()).expect("fits");
    }
}

struct Output {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run_with(
    dir: &Path,
    clock: &TestClock,
    stdin: &str,
    command: fn(&mut Ctx<'_>, &[String]) -> i32,
    args: &[&str],
) -> Output {
    let mut input = stdin.as_bytes();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut n = 0u8;
    let mut random = move || {
        n = n.wrapping_add(1);
        [n; 16]
    };
    let mut ctx = Ctx {
        dir: dir.to_owned(),
        stdin: &mut input,
        stdout: &mut out,
        stderr: &mut err,
        tf_workspace: None,
        who: "tester@host".to_owned(),
        clock,
        random: &mut random,
    };
    let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    let code = command(&mut ctx, &args);
    Output {
        code,
        stdout: String::from_utf8(out).expect("utf-8 stdout"),
        stderr: String::from_utf8(err).expect("utf-8 stderr"),
    }
}

fn run(dir: &Path, command: fn(&mut Ctx<'_>, &[String]) -> i32, args: &[&str]) -> Output {
    run_with(dir, &TestClock::new(), "", command, args)
}

fn state_dir(file: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(data(file), dir.path().join("terraform.tfstate")).expect("copy state");
    dir
}

#[test]
fn state_mv_and_rm_write_what_terraform_wrote() {
    let dir = state_dir("state/before-mv-rm.tfstate");
    let d = dir.path();
    let list = run(d, commands::state::run, &["list"]);
    assert_eq!(list.stdout, "data.local_file.f\nnull_resource.a[0]\nnull_resource.a[1]\nmodule.m.random_pet.p\n");
    let dry = run(d, commands::state::run, &["mv", "-dry-run", "null_resource.a[0]", "null_resource.b"]);
    assert_eq!(dry.stdout, "Would move \"null_resource.a[0]\" to \"null_resource.b\"\n");
    let before = std::fs::read(d.join("terraform.tfstate")).expect("state");
    assert_eq!(before, std::fs::read(data("state/before-mv-rm.tfstate")).expect("golden"), "dry run writes nothing");
    for (src, dst) in
        [("null_resource.a[0]", "null_resource.b"), ("module.m", "module.n"), ("null_resource.a", "null_resource.c")]
    {
        let mv = run(d, commands::state::run, &["mv", src, dst]);
        assert_eq!((mv.code, mv.stderr.as_str()), (0, ""));
        assert_eq!(mv.stdout, format!("Move {src:?} to {dst:?}\nSuccessfully moved 1 object(s).\n"));
    }
    let rm = run(d, commands::state::run, &["rm", "null_resource.b", "data.local_file.f"]);
    assert_eq!(
        rm.stdout,
        "Removed null_resource.b\nRemoved data.local_file.f\nSuccessfully removed 2 resource instance(s).\n"
    );
    let missing = run(d, commands::state::run, &["rm", "null_resource.zzz"]);
    assert_eq!(missing.code, 1);
    assert_eq!(
        missing.stderr,
        "\nError: Invalid target address\n\nNo matching objects found. To view the available instances, use \"terraform\nstate list\". Please modify the address to reference a specific instance.\n\n"
    );
    let after = std::fs::read_to_string(d.join("terraform.tfstate")).expect("state");
    let golden = std::fs::read_to_string(data("state/after-mv-rm.terraform-1.0.3.tfstate")).expect("golden");
    assert_eq!(after, golden);
    let backup = d.join("terraform.tfstate.1795584045.backup");
    assert!(backup.exists(), "the timestamped backup of the state before the first change");
    let show = run(d, commands::state::run, &["show", "module.n.random_pet.p"]);
    assert_eq!(
        show.stdout,
        "# module.n.random_pet.p:\nresource \"random_pet\" \"p\" {\n    id        = \"happy-cat\"\n    length    = 2\n    separator = \"-\"\n}\n"
    );
}

#[test]
fn terraform_and_opentofu_states_round_trip() {
    let tf = std::fs::read_to_string(data("state/outputs.terraform-1.0.3.tfstate")).expect("state");
    let state = cloudlet_infra::state::parse(tf.as_bytes()).expect("reads").expect("some");
    assert_eq!(state.to_json(), tf, "written byte for byte as Terraform 1.0.3 wrote it");

    let tofu = std::fs::read_to_string(data("state/opentofu-dialect.tfstate")).expect("state");
    let state = cloudlet_infra::state::parse(tofu.as_bytes()).expect("reads").expect("some");
    let written: serde_json::Value = serde_json::from_str(&state.to_json()).expect("json");
    let original: serde_json::Value = serde_json::from_str(&tofu).expect("json");
    assert_eq!(written, original, "every unknown field is kept");
}

#[test]
fn corrupted_and_newer_states_are_diagnosed_and_left_untouched() {
    for (file, expected) in [
        (
            "state/corrupted.tfstate",
            "Failed to load state: 2 problems:\n\n- Unsupported state file format: The state file could not be parsed as JSON: syntax error at byte offset 26.\n- Unsupported state file format: The state file does not have a \"version\" attribute, which is required to identify the format version.\n",
        ),
        (
            "state/newer.tfstate",
            "Failed to load state: Unsupported state file format: The state file uses format version 5, which is not supported by Terraform 1.0.3. This state file was created by Terraform 9.0.0.\n",
        ),
    ] {
        let dir = state_dir(file);
        let original = std::fs::read(data(file)).expect("golden");
        let list = run(dir.path(), commands::state::run, &["list"]);
        assert_eq!((list.code, list.stderr.as_str()), (1, expected), "{file}");
        let rm = run(dir.path(), commands::state::run, &["rm", "a.b"]);
        assert_eq!(rm.code, 1);
        assert_eq!(std::fs::read(dir.path().join("terraform.tfstate")).expect("state"), original, "{file} untouched");
        assert!(!dir.path().join(".terraform.tfstate.lock.info").exists(), "the lock is released");
    }
}

#[test]
fn push_refuses_older_or_unrelated_states_without_force() {
    let dir = state_dir("state/before-mv-rm.tfstate");
    let d = dir.path();
    let text = std::fs::read_to_string(data("state/before-mv-rm.tfstate")).expect("state");
    std::fs::write(d.join("low.tfstate"), text.replace("\"serial\": 3", "\"serial\": 1")).expect("write");
    std::fs::write(d.join("other.tfstate"), text.replace("9d7a3c1e-1111", "aaaaaaaa-1111")).expect("write");
    let low = run(d, commands::state::run, &["push", "low.tfstate"]);
    assert_eq!(low.stderr, "Failed to write state: cannot import state with serial 1 over newer state with serial 3\n");
    let other = run(d, commands::state::run, &["push", "other.tfstate"]);
    assert_eq!(
        other.stderr,
        "Failed to write state: cannot import state with lineage \"aaaaaaaa-1111-2222-3333-444455556666\" over unrelated state with lineage \"9d7a3c1e-1111-2222-3333-444455556666\"\n"
    );
    let forced = run(d, commands::state::run, &["push", "-force", "other.tfstate"]);
    assert_eq!(forced.code, 0);
    let pulled = run(d, commands::state::run, &["pull"]);
    assert!(pulled.stdout.contains("\"lineage\": \"aaaaaaaa-1111-2222-3333-444455556666\""));
    assert!(pulled.stdout.contains("\"serial\": 3"), "push keeps the pushed serial");
}

#[test]
fn workspaces_live_where_terraform_puts_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    assert_eq!(run(d, commands::workspace::run, &["list"]).stdout, "* default\n\n");
    let new = run(d, commands::workspace::run, &["new", "dev"]);
    assert!(new.stdout.starts_with("Created and switched to workspace \"dev\"!\n"));
    assert!(d.join("terraform.tfstate.d/dev").is_dir());
    assert_eq!(std::fs::read_to_string(d.join(".terraform/environment")).expect("env"), "dev");
    assert_eq!(run(d, commands::workspace::run, &["new", "dev"]).stderr, "Workspace \"dev\" already exists\n");
    assert_eq!(run(d, commands::workspace::run, &["list"]).stdout, "  default\n* dev\n\n");
    let busy = run(d, commands::workspace::run, &["delete", "dev"]);
    assert_eq!(busy.code, 1);
    assert!(busy.stderr.starts_with("Workspace \"dev\" is your active workspace."));
    std::fs::copy(data("state/before-mv-rm.tfstate"), d.join("terraform.tfstate.d/dev/terraform.tfstate"))
        .expect("copy");
    assert_eq!(run(d, commands::state::run, &["list", "module.m"]).stdout, "module.m.random_pet.p\n");
    assert_eq!(run(d, commands::workspace::run, &["select", "default"]).stdout, "Switched to workspace \"default\".\n");
    let non_empty = run(d, commands::workspace::run, &["delete", "dev"]);
    assert!(non_empty.stderr.starts_with("Workspace \"dev\" is not empty."));
    let forced = run(d, commands::workspace::run, &["delete", "-force", "dev"]);
    assert!(forced.stdout.starts_with("Deleted workspace \"dev\"!\nWARNING: \"dev\" was non-empty."));
    assert!(!d.join("terraform.tfstate.d/dev").exists());
    let bad = run(d, commands::workspace::run, &["new", "bad/name"]);
    assert_eq!(bad.code, 1);
    assert!(bad.stderr.contains("The workspace name \"bad/name\" is not allowed."));
    let missing = run(d, commands::workspace::run, &["select", "nope"]);
    assert_eq!(
        missing.stderr,
        "\nWorkspace \"nope\" doesn't exist.\n\nYou can create this workspace with the \"new\" subcommand.\n"
    );
}

#[test]
fn init_reads_the_backend_block_and_migrates_the_state() {
    let dir = state_dir("state/before-mv-rm.tfstate");
    let d = dir.path();
    std::fs::write(d.join("main.tf"), "terraform {\n  backend \"local\" {\n    path = \"a.tfstate\"\n  }\n}\n")
        .expect("write");
    let asked = run(d, commands::init::run, &[]);
    assert_eq!(asked.code, 1, "the copy needs an answer: {}", asked.stdout);
    assert!(asked.stdout.contains("Do you want to copy existing state to the new backend?"));
    let copied = run_with(d, &TestClock::new(), "yes\n", commands::init::run, &[]);
    assert_eq!(copied.code, 0, "{}", copied.stderr);
    assert!(copied.stdout.contains("Successfully configured the backend \"local\"!"));
    assert!(copied.stdout.contains("cloudlet has been successfully initialized!"));
    let moved = std::fs::read_to_string(d.join("a.tfstate")).expect("new location");
    assert!(moved.contains("\"serial\": 3"), "lineage and serial travel unchanged");
    assert_eq!(std::fs::read(d.join("terraform.tfstate")).expect("old").len(), 0, "the old location is emptied");
    assert!(d.join("terraform.tfstate.backup").exists());
    assert_eq!(run(d, commands::state::run, &["list", "module.m"]).stdout, "module.m.random_pet.p\n");
    std::fs::write(d.join("main.tf"), "terraform {\n  backend \"local\" {}\n}\n").expect("write");
    let forced = run(d, commands::init::run, &["-migrate-state", "-force-copy", "-backend-config=path=b.tfstate"]);
    assert_eq!(forced.code, 0, "{}", forced.stderr);
    assert!(std::fs::read_to_string(d.join("b.tfstate")).expect("b").contains("9d7a3c1e-1111"));
    std::fs::write(d.join("main.tf"), "terraform {\n  backend \"local\" {\n    nope = \"x\"\n  }\n}\n").expect("write");
    let bad = run(d, commands::init::run, &[]);
    assert_eq!(bad.code, 1);
    assert!(bad.stderr.contains("Error: Unsupported argument"));
    assert!(bad.stderr.contains("on main.tf line 3, in terraform:"));
}

#[test]
fn fmt_matches_terraform_fmt() {
    for name in ["basics", "fixes"] {
        let input = std::fs::read_to_string(data(&format!("fmt/{name}.in.tf"))).expect("input");
        let expected = std::fs::read_to_string(data(&format!("fmt/{name}.out.tf"))).expect("output");
        assert_eq!(cloudlet_infra::fmt::format(&input).expect("formats"), expected, "{name}");
        assert_eq!(cloudlet_infra::fmt::format(&expected).expect("formats"), expected, "{name} is stable");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(data("fmt/basics.in.tf"), dir.path().join("main.tf")).expect("copy");
    std::fs::create_dir(dir.path().join("sub")).expect("mkdir");
    std::fs::copy(data("fmt/fixes.out.tf"), dir.path().join("sub/ok.tf")).expect("copy");
    let check = run(dir.path(), commands::fmt::run, &["-check", "-recursive"]);
    assert_eq!((check.code, check.stdout.as_str()), (3, "main.tf\n"));
    assert_eq!(
        std::fs::read(dir.path().join("main.tf")).expect("read"),
        std::fs::read(data("fmt/basics.in.tf")).expect("read"),
        "-check writes nothing"
    );
    let write = run(dir.path(), commands::fmt::run, &[]);
    assert_eq!((write.code, write.stdout.as_str()), (0, "main.tf\n"));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("main.tf")).expect("read"),
        std::fs::read_to_string(data("fmt/basics.out.tf")).expect("read")
    );
}

#[test]
fn validate_reports_in_text_and_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::write(d.join("main.tf"), "variable \"a\" {\n  default = 1\n}\n").expect("write");
    let ok = run(d, commands::validate::run, &[]);
    assert_eq!((ok.code, ok.stdout.as_str()), (0, "Success! The configuration is valid.\n\n"));
    let ok_json = run(d, commands::validate::run, &["-json"]);
    let doc: serde_json::Value = serde_json::from_str(&ok_json.stdout).expect("json");
    assert_eq!(doc["valid"], true);
    assert_eq!(doc["error_count"], 0);
    std::fs::write(d.join("main.tf"), "variable \"a\" {\n  default = 1\n}\nvariable \"a\" {}\n").expect("write");
    let bad = run(d, commands::validate::run, &["-json"]);
    assert_eq!(bad.code, 1);
    let doc: serde_json::Value = serde_json::from_str(&bad.stdout).expect("json");
    assert_eq!((doc["valid"].clone(), doc["error_count"].clone()), (serde_json::json!(false), serde_json::json!(1)));
    let diag = &doc["diagnostics"][0];
    assert_eq!(diag["severity"], "error");
    assert_eq!(diag["range"]["filename"], "main.tf");
    assert_eq!(diag["range"]["start"]["line"], 4, "{diag}");
    let text = run(d, commands::validate::run, &[]);
    assert_eq!(text.code, 1);
    assert!(text.stderr.contains("on main.tf line 4"), "{}", text.stderr);
}

/// Not a test: the lock holder the lock tests start in a second process.
/// It takes the default workspace's lock in `CLOUDLET_TEST_LOCK_DIR`,
/// says `locked`, and lets go when its stdin closes.
#[test]
#[ignore = "helper process for the lock tests"]
fn lock_holder_process() {
    let Ok(dir) = std::env::var("CLOUDLET_TEST_LOCK_DIR") else { return };
    let backend = LocalBackend::new(&dir);
    let info = LockInfo {
        id: "aaaaaaaa-0000-4000-8000-000000000001".to_owned(),
        operation: "OperationTypeApply".to_owned(),
        who: "holder@host".to_owned(),
        version: "1.0.3".to_owned(),
        created: "2026-11-25T05:00:00.5Z".to_owned(),
        ..LockInfo::default()
    };
    let id = backend.lock("default", info).expect("the holder locks");
    let mut out = std::io::stdout().lock();
    writeln!(out, "locked").expect("say locked");
    out.flush().expect("flush");
    drop(out);
    let mut rest = String::new();
    let _ = std::io::stdin().read_line(&mut rest);
    backend.unlock("default", &id).expect("the holder unlocks");
}

fn start_holder(dir: &Path) -> (Child, BufReader<std::process::ChildStdout>) {
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", "state_cmds::lock_holder_process", "--ignored", "--nocapture", "--test-threads=1"])
        .env("CLOUDLET_TEST_LOCK_DIR", dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the holder");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    loop {
        line.clear();
        assert_ne!(stdout.read_line(&mut line).expect("read"), 0, "the holder ended without locking");
        if line.trim_end().ends_with("locked") {
            break;
        }
    }
    (child, stdout)
}

#[test]
fn a_second_process_waits_for_the_lock_with_lock_timeout() {
    let dir = state_dir("state/before-mv-rm.tfstate");
    let d = dir.path();
    let (mut child, _out) = start_holder(d);
    let refused = run(d, commands::state::run, &["rm", "null_resource.a"]);
    assert_eq!(refused.code, 1);
    assert_eq!(
        refused.stderr,
        "\nError: Error acquiring the state lock\n\nError message: resource temporarily unavailable\nLock Info:\n  ID:        aaaaaaaa-0000-4000-8000-000000000001\n  Path:      terraform.tfstate\n  Operation: OperationTypeApply\n  Who:       holder@host\n  Version:   1.0.3\n  Created:   2026-11-25 05:00:00.5 +0000 UTC\n  Info:      \n\n\nTerraform acquires a state lock to protect the state from being written\nby multiple users at the same time. Please resolve the issue above and try\nagain. For most commands, you can disable locking with the \"-lock=false\"\nflag, but this is not recommended.\n"
    );
    // With -lock-timeout the command retries after 1 s on the clock; the
    // first wait lets the holder release its lock and exit.
    let clock = TestClock::new();
    let stdin = child.stdin.take().expect("stdin");
    let holder = Mutex::new(Some(child));
    let holder_ref: &'static Mutex<Option<Child>> = Box::leak(Box::new(holder));
    *clock.on_sleep.lock().expect("hook") = Some(Box::new(move || {
        drop(stdin);
        if let Some(mut c) = holder_ref.lock().expect("holder").take() {
            assert!(c.wait().expect("holder exits").success());
        }
    }));
    let waited = run_with(d, &clock, "", commands::state::run, &["rm", "-lock-timeout=30s", "null_resource.a"]);
    assert_eq!(waited.code, 0, "{}", waited.stderr);
    assert_eq!(*clock.slept.lock().expect("slept"), [Duration::from_secs(1)]);
    assert!(!d.join(".terraform.tfstate.lock.info").exists());
}

#[test]
fn a_killed_holder_leaves_lock_info_that_force_unlock_clears() {
    let dir = state_dir("state/before-mv-rm.tfstate");
    let d = dir.path();
    let (mut child, _out) = start_holder(d);
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    let info = d.join(".terraform.tfstate.lock.info");
    assert!(info.exists(), "the lock info outlives its process");
    let wrong = run(d, commands::force_unlock::run, &["-force", "not-the-id"]);
    assert_eq!(wrong.code, 1);
    let asked =
        run_with(d, &TestClock::new(), "no\n", commands::force_unlock::run, &["aaaaaaaa-0000-4000-8000-000000000001"]);
    assert_eq!((asked.code, asked.stdout.ends_with("force-unlock cancelled.\n")), (1, true));
    let cleared = run(d, commands::force_unlock::run, &["-force", "aaaaaaaa-0000-4000-8000-000000000001"]);
    assert_eq!(cleared.code, 0, "{}", cleared.stderr);
    assert!(cleared.stdout.starts_with("Terraform state has been successfully unlocked!"));
    assert!(!info.exists());

    // Without force-unlock the next command simply takes the dead lock.
    let (mut child, _out) = start_holder(d);
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    let next = run(d, commands::state::run, &["rm", "null_resource.a"]);
    assert_eq!(next.code, 0, "{}", next.stderr);
    assert!(!info.exists());
}
