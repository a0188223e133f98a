//! `cloudlet infra console`: the real binary, stdin to stdout — printing,
//! `-chdir` into a configuration with `-var`, diagnostics and exit codes.

use std::io::Write as _;
use std::process::Stdio;

use crate::cloudlet;

/// Runs `cloudlet ARGS` with `input` on stdin: (exit code, stdout, stderr).
fn console(args: &[&str], input: &str) -> (i32, String, String) {
    let mut child = cloudlet()
        .args(args)
        .env_remove("TF_WORKSPACE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run cloudlet: {e}"));
    child
        .stdin
        .take()
        .unwrap_or_else(|| panic!("stdin"))
        .write_all(input.as_bytes())
        .unwrap_or_else(|e| panic!("write stdin: {e}"));
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("wait: {e}"));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn console_prints_the_last_value_as_terraform_does() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let chdir = format!("-chdir={}", dir.path().display());
    let (code, out, err) = console(&["infra", &chdir, "console"], "1 + 1\nmerge({a = 1}, {b = tolist([\"x\"])})\n");
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(out, "{\n  \"a\" = 1\n  \"b\" = tolist([\n    \"x\",\n  ])\n}\n");

    let (code, out, _) = console(&["infra", &chdir, "console"], "1/3\n");
    assert_eq!(code, 0);
    assert_eq!(out.len(), 158, "{out}");

    let (code, out, _) = console(&["infra", &chdir, "console"], "1\nexit\n2\n");
    assert_eq!((code, out.as_str()), (0, ""));
}

#[test]
fn console_reports_errors_with_terraform_diagnostics() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let chdir = format!("--chdir={}", dir.path().display());
    let (code, out, err) = console(&["infra", &chdir, "console", "-no-color"], "nosuchfn(1)\n");
    assert_eq!((code, out.as_str()), (1, ""));
    assert_eq!(
        err,
        "\nError: Call to unknown function\n\n  on <console-input> line 1:\n  (source code not available)\n\nThere is no function named \"nosuchfn\".\n\n"
    );

    let (code, _, err) = console(&["infra", "console", "-bogus"], "");
    assert_eq!(code, 1);
    assert!(err.contains("console does not take"), "{err}");
}

#[test]
fn console_sees_the_configuration_variables_and_locals() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    std::fs::write(
        dir.path().join("main.tf"),
        "variable \"name\" {\n  default = \"web\"\n}\nlocals {\n  names = [for i in range(2) : \"${var.name}-${i}\"]\n}\n",
    )
    .unwrap_or_else(|e| panic!("write: {e}"));
    let chdir = format!("-chdir={}", dir.path().display());
    let (code, out, err) = console(&["infra", &chdir, "console", "-var", "name=api"], "local.names\n");
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(out, "[\n  \"api-0\",\n  \"api-1\",\n]\n");

    let (code, _, err) = console(&["infra", &chdir, "console", "-var=nosuch=1"], "1\n");
    assert_eq!(code, 1);
    assert!(err.contains("Value for undeclared variable"), "{err}");
}
