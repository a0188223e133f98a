//! Daemon start-to-healthy time: from spawning `cloudlet up` to the first
//! `200` from `GET /_cloudlet/health`, for a new data dir and for a restart
//! on an existing one. Run with `bench/startup` (see bench/README.md).

#[path = "../tests/it/http.rs"]
#[allow(dead_code)]
mod http;

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const RUNS: usize = 30;

fn main() {
    let runs = std::env::var("CLOUDLET_BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(RUNS);
    let mut out = std::io::stdout().lock();
    let fresh = measure(runs, false);
    let restart = measure(runs, true);
    let _ = writeln!(out, "daemon start-to-healthy over {runs} runs each (ms)");
    let _ = writeln!(out, "{:<16} {:>8} {:>8} {:>8} {:>8}", "case", "min", "median", "p95", "max");
    for (name, samples) in [("new data dir", fresh), ("restart", restart)] {
        let _ = writeln!(
            out,
            "{:<16} {:>8.1} {:>8.1} {:>8.1} {:>8.1}",
            name,
            ms(samples[0]),
            ms(samples[samples.len() / 2]),
            ms(samples[(samples.len() * 95).div_ceil(100) - 1]),
            ms(samples[samples.len() - 1])
        );
    }
}

/// Samples, sorted ascending.
fn measure(runs: usize, reuse_dir: bool) -> Vec<Duration> {
    let shared = tempfile::tempdir().expect("tempdir");
    if reuse_dir {
        // Create the store once so every measured run is a restart.
        let (mut child, _) = start(shared.path());
        stop(&mut child);
    }
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let own = tempfile::tempdir().expect("tempdir");
        let dir = if reuse_dir { shared.path() } else { own.path() };
        let began = Instant::now();
        let (mut child, addr) = start(dir);
        loop {
            if matches!(http::get(addr, "/_cloudlet/health"), Ok(response) if response.status == 200) {
                break;
            }
            assert!(began.elapsed() < Duration::from_secs(10), "daemon not healthy after 10 s");
        }
        samples.push(began.elapsed());
        stop(&mut child);
    }
    samples.sort();
    samples
}

/// Starts the daemon on a free port and returns it with its address, read
/// from the banner it prints.
fn start(dir: &std::path::Path) -> (Child, SocketAddr) {
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

fn stop(child: &mut Child) {
    // SIGTERM, as a service manager would.
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let _ = child.wait();
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
