//! The command line: help, version and clear errors for bad flags.

use super::*;

fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let output = cloudlet().args(args).output().expect("run cloudlet");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn version_and_help() {
    let (code, stdout, _) = run(&["--version"]);
    assert_eq!(code, Some(0));
    assert_eq!(stdout.trim(), format!("cloudlet {}", env!("CARGO_PKG_VERSION")));

    let (code, stdout, _) = run(&["--help"]);
    assert_eq!(code, Some(0));
    assert!(stdout.contains("Usage: cloudlet"), "{stdout}");
    assert!(stdout.contains("up"), "{stdout}");

    let (code, stdout, _) = run(&["up", "--help"]);
    assert_eq!(code, Some(0));
    for expected in ["--listen <ADDR>", "127.0.0.1:4566", "--data-dir <DIR>", "CLOUDLET_DATA_DIR", "--log-level"] {
        assert!(stdout.contains(expected), "`up --help` lacks {expected}:\n{stdout}");
    }
}

#[test]
fn bad_flags_get_clear_errors() {
    let cases: &[(&[&str], &str)] = &[
        (&["up", "--listen", "not-an-address"], "invalid value 'not-an-address' for '--listen <ADDR>'"),
        (&["up", "--lisen", "127.0.0.1:1"], "unexpected argument '--lisen'"),
        (&["up", "--region", "Mars"], "invalid region `Mars`"),
        (&["up", "--account-id", "12"], "expected 12 digits"),
        (&["upp"], "unrecognized subcommand 'upp'"),
        (&[], "Usage: cloudlet"),
    ];
    for (args, expected) in cases {
        let (code, stdout, stderr) = run(args);
        assert_eq!(code, Some(2), "{args:?}: exit code; stderr:\n{stderr}");
        assert!(stdout.is_empty(), "{args:?}: usage errors go to stderr");
        assert!(stderr.contains(expected), "{args:?}: expected {expected:?} in:\n{stderr}");
    }
    // clap suggests the flag that was meant.
    let (_, _, stderr) = run(&["up", "--lisen", "127.0.0.1:1"]);
    assert!(stderr.contains("--listen"), "{stderr}");
}
