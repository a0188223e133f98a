//! Benchmarks of `cloudlet ci`, run by `bench/ci` (release build), each
//! printing a Markdown table:
//!
//! - `steps`: per-step and per-job overhead of real runs (jobs of many
//!   `run: "true"` steps, a chain of one-step jobs);
//! - `dag`: makespan of real runs of 60-job graphs of sleeps against their
//!   critical path and act's level-by-level schedule of the same graph,
//!   then the same comparison in simulated time over many graphs;
//! - `cache`: `actions/cache` save and restore throughput for generated
//!   mixed files (`--mb 1024` by default).

use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cloudlet_ci::cache::{Store, version};
use cloudlet_ci::expr::Value;
use cloudlet_ci::runner::{LogSink, RunContext, run_workflow};
use cloudlet_ci::scheduler::JobResult;
use cloudlet_ci::simulate::{critical_path, graph_makespan, level_makespan, random_graph};
use cloudlet_ci::workflow::parse_workflow;
use cloudlet_core::SystemClock;

struct NoLog;

impl LogSink for NoLog {
    fn line(&self, _job: &str, _line: &str) {}
}

type Error = Box<dyn std::error::Error>;

fn out(text: &str) {
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

/// Runs a workflow in `dir` and returns its wall time.
fn run(yaml: &str, dir: &Path, max_parallel: usize) -> Result<Duration, Error> {
    let wf = parse_workflow("bench.yml", yaml).map_err(|e| e.to_string())?;
    let ctx = RunContext {
        workspace: dir.to_path_buf(),
        workflow_path: ".github/workflows/bench.yml".to_owned(),
        event_name: "push".to_owned(),
        event: Value::from_json("{}")?,
        sha: "0".repeat(40),
        git_ref: "refs/heads/main".to_owned(),
        repository: "bench/bench".to_owned(),
        actor: "bench".to_owned(),
        max_parallel,
        run_id: 1,
        run_number: 1,
        data_dir: Some(dir.join(".data")),
        ..RunContext::default()
    };
    let started = Instant::now();
    let report = run_workflow(&wf, &ctx, SystemClock::shared(), Arc::new(NoLog))?;
    let took = started.elapsed();
    if report.conclusion != JobResult::Success {
        return Err(format!("the benchmark run ended {}", report.conclusion.as_str()).into());
    }
    Ok(took)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn steps_bench(dir: &Path) -> Result<(), Error> {
    let job = |steps: usize| {
        let mut y = String::from("on: push\njobs:\n  j:\n    runs-on: ubuntu-latest\n    steps:\n");
        for _ in 0..steps {
            y.push_str("      - run: \"true\"\n");
        }
        y
    };
    let chain = |jobs: usize| {
        let mut y = String::from("on: push\njobs:\n");
        for i in 0..jobs {
            y.push_str(&format!("  j{i}:\n    runs-on: ubuntu-latest\n"));
            if i > 0 {
                y.push_str(&format!("    needs: j{}\n", i - 1));
            }
            y.push_str("    steps:\n      - run: \"true\"\n");
        }
        y
    };
    let runs = 5;
    let (few, many) = (1usize, 201usize);
    let t_few = median((0..runs).map(|_| run(&job(few), dir, 2)).collect::<Result<_, _>>()?);
    let (cpu0, kids0) = (cpu_time(), children_cpu_time());
    let t_many = median((0..runs).map(|_| run(&job(many), dir, 2)).collect::<Result<_, _>>()?);
    let steps_run = (runs * many) as u32;
    let (cpu_step, kids_step) =
        (cpu_time().saturating_sub(cpu0) / steps_run, children_cpu_time().saturating_sub(kids0) / steps_run);
    let per_step = (t_many.saturating_sub(t_few)) / (many - few) as u32;
    // A bare process start on this machine, for scale: what a step cannot undercut.
    let spawn = median(
        (0..50)
            .map(|_| {
                let s = Instant::now();
                std::process::Command::new("bash").args(["-e", "-c", "true"]).status().map(|_| s.elapsed())
            })
            .collect::<Result<_, _>>()?,
    );
    let jobs = 40;
    let t_chain = median((0..runs).map(|_| run(&chain(jobs), dir, 2)).collect::<Result<_, _>>()?);
    let per_job = (t_chain / jobs as u32).saturating_sub(per_step);
    out("| measure | value |\n|---|--:|\n");
    out(&format!("| run of 1 job × {few} step (median of {runs}) | {:.1} ms |\n", ms(t_few)));
    out(&format!("| run of 1 job × {many} steps | {:.1} ms |\n", ms(t_many)));
    out(&format!("| **per step** (`run: \"true\"`, bash) | **{:.2} ms** |\n", ms(per_step)));
    out(&format!("| of which starting `bash -e -c true` alone | {:.2} ms |\n", ms(spawn)));
    out(&format!("| CPU per step: the runner (user + system) | {:.2} ms |\n", ms(cpu_step)));
    out(&format!("| CPU per step: the step's processes | {:.2} ms |\n", ms(kids_step)));
    out(&format!("| chain of {jobs} one-step jobs | {:.1} ms |\n", ms(t_chain)));
    out(&format!("| **per job** (beyond its step) | **{:.2} ms** |\n", ms(per_job)));
    Ok(())
}

fn dag_yaml(nodes: &[cloudlet_ci::scheduler::JobNode], durations: &[Duration]) -> String {
    let mut y = String::from("on: push\njobs:\n");
    for (n, d) in nodes.iter().zip(durations) {
        y.push_str(&format!("  {}:\n    runs-on: ubuntu-latest\n", n.id));
        if !n.needs.is_empty() {
            let needs: Vec<&str> = n.needs.iter().map(|i| nodes[*i].id.as_str()).collect();
            y.push_str(&format!("    needs: [{}]\n", needs.join(", ")));
        }
        y.push_str(&format!("    steps:\n      - run: sleep {:.3}\n", d.as_secs_f64()));
    }
    y
}

fn dag_bench(dir: &Path) -> Result<(), Error> {
    out("Real runs (60 jobs of `sleep`, seeded random graphs, `--max-parallel 60`):\n\n");
    out(
        "| graph (seed) | jobs | critical path | cloudlet makespan | over critical path | act's levels (same graph) | levels / cloudlet |\n",
    );
    out("|---|--:|--:|--:|--:|--:|--:|\n");
    for seed in [1u64, 2, 3] {
        let (nodes, durations) = random_graph(seed, 60, Duration::from_millis(50), Duration::from_millis(600));
        let (cp, _) = critical_path(&nodes, &durations);
        let levels = level_makespan(&nodes, &durations, 60);
        let took = run(&dag_yaml(&nodes, &durations), dir, 60)?;
        out(&format!(
            "| random ({seed}) | 60 | {:.0} ms | {:.0} ms | +{:.0} ms | {:.0} ms | {:.2}× |\n",
            ms(cp),
            ms(took),
            ms(took.saturating_sub(cp)),
            ms(levels),
            levels.as_secs_f64() / took.as_secs_f64()
        ));
    }
    out("\nSimulated time (the same scheduler core; 1,000 random 60-job graphs, jobs of 0.1–5 s):\n\n");
    out(
        "| lanes | graph < levels | graph = levels | graph > levels | mean levels / graph | worst graph / levels | graph = critical path |\n",
    );
    out("|--:|--:|--:|--:|--:|--:|--:|\n");
    for lanes in [2usize, 4, 8, 1000] {
        let (mut better, mut equal, mut worse, mut cp_hits) = (0, 0, 0, 0);
        let (mut ratio_sum, mut worst) = (0.0, 0.0f64);
        let graphs = 1000u64;
        for seed in 1..=graphs {
            let (nodes, d) = random_graph(seed * 7919, 60, Duration::from_millis(100), Duration::from_secs(5));
            let g = graph_makespan(&nodes, &d, lanes);
            let l = level_makespan(&nodes, &d, lanes);
            let (cp, _) = critical_path(&nodes, &d);
            match g.cmp(&l) {
                std::cmp::Ordering::Less => better += 1,
                std::cmp::Ordering::Equal => equal += 1,
                std::cmp::Ordering::Greater => worse += 1,
            }
            cp_hits += usize::from(g == cp);
            ratio_sum += l.as_secs_f64() / g.as_secs_f64();
            worst = worst.max(g.as_secs_f64() / l.as_secs_f64());
        }
        let lanes_s = if lanes >= 1000 { "unbounded".to_owned() } else { lanes.to_string() };
        out(&format!(
            "| {lanes_s} | {better} | {equal} | {worse} | {:.2}× | {worst:.3} | {cp_hits} |\n",
            ratio_sum / graphs as f64
        ));
    }
    Ok(())
}

/// A seeded generator of file contents.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Source-like text (compresses about 3–4×).
    fn text(&mut self, len: usize) -> Vec<u8> {
        const WORDS: &[&str] = &[
            "fn", "let", "mut", "self", "return", "match", "Some", "None", "impl", "pub", "struct", "value", "index",
            "config", "cache", "error", "result", "String", "Vec", "usize", "if", "else", "for", "in", "=>", "{", "}",
            "(", ")", ";", "=", "0", "1", "path", "file", "name", "key", "version",
        ];
        let mut v = Vec::with_capacity(len + 16);
        while v.len() < len {
            let r = self.next();
            if r.is_multiple_of(9) {
                v.extend_from_slice(b"\n    ");
            }
            v.extend_from_slice(WORDS[(r >> 8) as usize % WORDS.len()].as_bytes());
            v.push(b' ');
        }
        v.truncate(len);
        v
    }

    /// Random bytes (incompressible, as archives and images are).
    fn noise(&mut self, len: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(len + 8);
        while v.len() < len {
            v.extend_from_slice(&self.next().to_le_bytes());
        }
        v.truncate(len);
        v
    }

    /// Binary-like: runs of zeros and repeated records between random bits.
    fn binary(&mut self, len: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(len + 4096);
        while v.len() < len {
            let r = self.next();
            let n = 64 + (r as usize % 4096);
            match r % 3 {
                0 => v.resize(v.len() + n, 0),
                1 => {
                    let rec = (r >> 16).to_le_bytes();
                    for _ in 0..n / 8 {
                        v.extend_from_slice(&rec);
                    }
                }
                _ => v.extend_from_slice(&self.noise(n / 4)),
            }
        }
        v.truncate(len);
        v
    }
}

/// Writes `total` bytes of mixed files under `root`: many small and
/// medium files of text, binaries and random data, and a few large ones.
fn make_files(root: &Path, total: u64) -> Result<(usize, [u64; 3]), Error> {
    let mut g = Gen(0x9e37_79b9_7f4a_7c15);
    let mut written = 0u64;
    let mut kinds = [0u64; 3];
    let mut count = 0usize;
    while written < total {
        let r = g.next();
        let size = match r % 100 {
            0..=69 => 1024 + (r >> 8) % (64 * 1024),
            70..=97 => 64 * 1024 + (r >> 8) % (2 * 1024 * 1024),
            _ => 24 * 1024 * 1024 + (r >> 8) % (16 * 1024 * 1024),
        }
        .min(total - written) as usize;
        let kind = ((r >> 32) % 10) as usize;
        let (k, bytes) = match kind {
            0..=3 => (0, g.text(size)),
            4..=6 => (1, g.binary(size)),
            _ => (2, g.noise(size)),
        };
        let dir = root.join(format!("d{}", count % 37)).join(format!("s{}", count % 5));
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join(format!("f{count}.bin")), &bytes)?;
        kinds[k] += size as u64;
        written += size as u64;
        count += 1;
    }
    Ok((count, kinds))
}

/// CPU time used by this process so far (user + system), from
/// `/proc/self/stat`: with the machine shared, wall time alone says little.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<u64> = after.split_whitespace().map(|f| f.parse().unwrap_or(0)).collect();
    // Fields 14 and 15 of the line (utime, stime) are 11 and 12 after the name; clock ticks of 10 ms.
    let ticks = fields.get(11).copied().unwrap_or(0) + fields.get(12).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

/// CPU time of this process's waited-for children (the steps' shells).
fn children_cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<u64> = after.split_whitespace().map(|f| f.parse().unwrap_or(0)).collect();
    let ticks = fields.get(13).copied().unwrap_or(0) + fields.get(14).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

/// Wall and CPU time of `f`.
fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration, Duration) {
    let (wall, cpu) = (Instant::now(), cpu_time());
    let t = f();
    (t, wall.elapsed(), cpu_time().saturating_sub(cpu))
}

fn cache_bench(dir: &Path, mb: u64) -> Result<(), Error> {
    let total = mb * 1024 * 1024;
    let ws = dir.join("ws");
    let (files, kinds) = make_files(&ws.join("deps"), total)?;
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    out(&format!(
        "{files} files, {:.0} MiB: {:.0} MiB source-like text, {:.0} MiB binary-like, {:.0} MiB random\n\n",
        mib(total),
        mib(kinds[0]),
        mib(kinds[1]),
        mib(kinds[2])
    ));
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    out(&format!(
        "| operation | wall | MiB/s (wall) | CPU | MiB/s on {cores} idle cores (from CPU time) | stored |\n|---|--:|--:|--:|--:|--:|\n"
    ));
    let row = |what: &str, bytes: u64, wall: Duration, cpu: Duration, stored: u64| {
        let cpu_rate = mib(bytes) / cpu.as_secs_f64().max(0.01) * cores as f64;
        out(&format!(
            "| {what} | {:.2} s | {:.0} | {:.2} s | {:.0} | {:.0} MiB |\n",
            wall.as_secs_f64(),
            mib(bytes) / wall.as_secs_f64(),
            cpu.as_secs_f64(),
            cpu_rate,
            mib(stored)
        ));
    };
    let paths = vec![ws.join("deps")];
    let v = version(&["deps".to_owned()]);
    for round in 0..2 {
        let store = Store::new(&dir.join(format!("data{round}")));
        let (saved, wall, cpu) = timed(|| store.save("bench", &v, "refs/heads/main", &ws, &paths, 1));
        let saved = saved?.ok_or("not saved")?;
        row(&format!("save, empty store (round {})", round + 1), saved.bytes, wall, cpu, saved.stored_bytes);
        let (again, wall, cpu) = timed(|| store.save("bench-2", &v, "refs/heads/main", &ws, &paths, 2));
        let again = again?.ok_or("not saved")?;
        row("save of the same files under a new key (contents stored already)", again.bytes, wall, cpu, 0);
        let entry = store.entries().into_iter().find(|e| e.key == "bench").ok_or("entry")?;
        let target = dir.join(format!("restored{round}"));
        let (restored, wall, cpu) = timed(|| store.restore(&entry, &target, 3));
        let restored = restored?;
        row(
            &format!("restore into an empty workspace (round {})", round + 1),
            restored.bytes,
            wall,
            cpu,
            restored.stored_bytes,
        );
        std::fs::remove_dir_all(&target)?;
        std::fs::remove_dir_all(dir.join(format!("data{round}")))?;
    }
    Ok(())
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let what = args.first().map_or("all", String::as_str);
    let mb = args.iter().position(|a| a == "--mb").and_then(|i| args.get(i + 1)).map_or(Ok(1024), |s| s.parse())?;
    let base = match args.iter().position(|a| a == "--dir").and_then(|i| args.get(i + 1)) {
        Some(d) => tempfile::tempdir_in(d)?,
        None => tempfile::tempdir()?,
    };
    if matches!(what, "steps" | "all") {
        out("### per-step and per-job overhead\n\n");
        steps_bench(base.path())?;
        out("\n");
    }
    if matches!(what, "dag" | "all") {
        out("### makespan of 60-job graphs\n\n");
        dag_bench(base.path())?;
        out("\n");
    }
    if matches!(what, "cache" | "all") {
        out("### actions/cache throughput\n\n");
        cache_bench(base.path(), mb)?;
        out("\n");
    }
    Ok(())
}
