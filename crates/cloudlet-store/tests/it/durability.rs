//! Durability across `kill -9`: a child process writes and reports each
//! acknowledged write, the parent kills it with SIGKILL mid-stream, and a new
//! handle must find every acknowledged write.
//!
//! The child is this same test binary, re-run with an environment variable
//! that turns `child_writer` into the writing loop.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use super::*;

const CHILD_DIR_ENV: &str = "CLOUDLET_STORE_TEST_CHILD_DIR";

#[test]
fn acknowledged_writes_survive_sigkill() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", "durability::child_writer", "--nocapture", "--test-threads=1"])
        .env(CHILD_DIR_ENV, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("child stdout");

    // Kill the child after it has acknowledged 200 writes: it is still
    // writing as fast as it can, so the kill lands mid-transaction.
    let mut acknowledged = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("child output");
        if let Some(key) = line.strip_prefix("ACK ") {
            acknowledged.push(key.to_owned());
            if acknowledged.len() == 200 {
                break;
            }
        }
    }
    // SIGKILL: std's `kill` sends it on Unix.
    child.kill().expect("kill -9 the child");
    child.wait().expect("reap child");
    assert_eq!(acknowledged.len(), 200, "child stopped before acknowledging 200 writes");

    let store = open(dir.path());
    for key in &acknowledged {
        assert_eq!(store.get_meta(key).expect("read").as_deref(), Some("written"), "acknowledged {key} was lost");
    }
    assert_eq!(store.daemon_starts().expect("starts").len(), 1, "the child's start record was lost");
}

/// The writing loop when run as a child; without the variable it checks
/// nothing and returns, so it is harmless in a normal test run.
#[test]
#[allow(clippy::print_stdout, reason = "stdout is the channel to the parent test")]
fn child_writer() {
    let Some(dir) = std::env::var_os(CHILD_DIR_ENV) else {
        return;
    };
    let store = open(Path::new(&dir));
    store.record_daemon_start(t0(), std::process::id(), "test").expect("record start");
    for i in 0.. {
        let key = format!("key-{i}");
        store.set_meta(&key, "written").expect("write");
        // Only now may the write be reported as acknowledged.
        println!("ACK {key}");
    }
}
