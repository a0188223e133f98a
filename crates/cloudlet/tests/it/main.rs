//! End-to-end tests of the `cloudlet` binary: real processes, real TCP.

mod ci_cli;
mod ci_example;
mod cli;
mod daemon;
mod fn_cli;
mod http;
mod infra_aws;
mod infra_cli;
mod kube_cli;
mod lambda_api;
mod sched_cli;
mod tidy;

use std::io::{BufRead as _, BufReader, Read as _};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The binary under test.
fn cloudlet() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cloudlet"));
    // Tests must not depend on the developer's environment.
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("CLOUDLET_") {
            command.env_remove(key);
        }
    }
    command.env_remove("RUST_LOG");
    command
}

/// A running daemon; killed (SIGKILL) if the test forgets to stop it.
struct Daemon {
    child: Child,
    addr: SocketAddr,
    banner: String,
    // Kept open so the daemon never writes into a closed pipe.
    _stdout: BufReader<ChildStdout>,
}

impl Daemon {
    /// Starts `cloudlet up` on a free port and waits for its banner.
    fn start(data_dir: &Path) -> Daemon {
        let mut child = cloudlet()
            .args(["up", "--listen", "127.0.0.1:0", "--log-level", "warn", "--data-dir"])
            .arg(data_dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn cloudlet up");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut banner = String::new();
        let addr = loop {
            let mut line = String::new();
            let n = stdout.read_line(&mut line).expect("read banner");
            if n == 0 {
                let mut stderr = String::new();
                let _ = child.stderr.take().expect("stderr").read_to_string(&mut stderr);
                panic!("cloudlet up exited before printing its address; stderr:\n{stderr}");
            }
            banner.push_str(&line);
            if let Some(url) = line.trim().strip_prefix("listening") {
                break url.trim().trim_start_matches("http://").parse().expect("address in banner");
            }
        };
        // The rest of the banner is already written (it is one write).
        for _ in 0..5 {
            let mut line = String::new();
            stdout.read_line(&mut line).expect("read banner");
            banner.push_str(&line);
        }
        Daemon { child, addr, banner, _stdout: stdout }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill").args(["-s", signal]).arg(self.pid().to_string()).status().expect("kill");
        assert!(status.success(), "kill -s {signal} failed");
    }

    /// Waits for the daemon to exit, failing the test after `limit`.
    fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let began = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(began.elapsed() < limit, "daemon still running {limit:?} after being told to stop");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
