//! Runs every `tests/timelines/*.yaml` scenario (a `kind: Scenario` with
//! timed steps, plus the starting cluster's manifests) and compares the
//! event timeline and the final state with `NAME.golden` beside it. Every
//! `expect` step must hold too. `UPDATE_GOLDEN=1` rewrites the golden files
//! (review the diff: they are the specification).

use std::path::Path;

use cloudlet_core::Timestamp;
use cloudlet_scheduler::config::Profile;
use cloudlet_scheduler::timeline::scenario::{Scenario, render_line};

fn render(path: &Path) -> Result<String, String> {
    let scenario = Scenario::read(path).map_err(|e| e.to_string())?;
    let run = scenario
        .run(&[], Profile::default(), scenario.seed.unwrap_or(0), Timestamp::UNIX_EPOCH)
        .map_err(|e| e.to_string())?;
    let mut out = String::from("# events\n");
    for event in &run.events {
        out.push_str(&render_line(event, run.start));
        out.push('\n');
    }
    if !run.failures.is_empty() {
        return Err(format!("expectations failed:\n  {}\n{out}", run.failures.join("\n  ")));
    }
    out.push_str("# pending\n");
    for p in &run.report.unschedulable {
        out.push_str(&format!("{}/{}: {}\n", p.namespace, p.name, p.message));
    }
    out.push_str("# nodes\n");
    for n in &run.report.nodes {
        out.push_str(&format!("{}: {} pods\n", n.name, n.pods));
    }
    Ok(out)
}

#[test]
fn golden_timelines() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/timelines");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/timelines exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 6, "expected the timeline scenarios, found {}", paths.len());
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut failures = Vec::new();
    for path in &paths {
        let golden_path = path.with_extension("golden");
        match render(path) {
            Err(e) => failures.push(format!("{}: {e}", path.display())),
            Ok(got) if update => std::fs::write(&golden_path, got).expect("write golden"),
            Ok(got) => {
                let want = std::fs::read_to_string(&golden_path).unwrap_or_default();
                if got != want {
                    failures.push(format!(
                        "{}: timeline differs from {}\n--- got ---\n{got}--- want ---\n{want}",
                        path.display(),
                        golden_path.display()
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
