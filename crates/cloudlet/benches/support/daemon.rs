//! Starting `cloudlet up` for a benchmark: the release binary on a free port
//! with a given data dir; the address is read from the banner it prints.

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

/// Starts the daemon and returns it with its address.
pub(crate) fn start_cloudlet(dir: &std::path::Path) -> (Child, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cloudlet"))
        .args(["up", "--listen", "127.0.0.1:0", "--log-level", "warn", "--data-dir"])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn cloudlet");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let addr = loop {
        let line = lines.next().expect("banner").expect("read banner");
        if let Some(url) = line.trim().strip_prefix("listening") {
            break url.trim().trim_start_matches("http://").parse().expect("address in banner");
        }
    };
    (child, addr)
}
