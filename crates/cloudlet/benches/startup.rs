//! Daemon start-to-healthy time: from spawning `cloudlet up` to the first
//! `200` from `GET /_cloudlet/health`, for a new data dir and for a restart
//! on an existing one. Run with `bench/startup` (see bench/README.md).

#[path = "../tests/it/http.rs"]
#[allow(dead_code)]
mod http;

#[path = "support/daemon.rs"]
mod daemon;

use std::io::Write as _;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

const RUNS: usize = 30;

use daemon::start_cloudlet;

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
        let (mut child, _) = start_cloudlet(shared.path());
        stop(&mut child);
    }
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let own = tempfile::tempdir().expect("tempdir");
        let dir = if reuse_dir { shared.path() } else { own.path() };
        let began = Instant::now();
        let (mut child, addr) = start_cloudlet(dir);
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

fn stop(child: &mut Child) {
    // SIGTERM, as a service manager would.
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let _ = child.wait();
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
