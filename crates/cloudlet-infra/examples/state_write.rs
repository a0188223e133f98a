//! Times writing a 10,000-resource state: `State::to_json` of freshly
//! applied objects, of a state read back from its file, and the local
//! backend's `write_state` (read the stored snapshot, compare, back up,
//! write) as an apply's snapshot does it. Run by `bench/infra` with
//! `cargo run --release -p cloudlet-infra --example state_write`.

use std::io::Write as _;
use std::time::{Duration, Instant};

use cloudlet_infra::backend::Backend as _;
use cloudlet_infra::backend::local::LocalBackend;
use cloudlet_infra::state::{IndexKey, InstanceState, Mode, ResourceState, State};
use serde_json::{Map, Value, json};

/// 4 × 2,000 `terraform_data` with an object input, 1,000 `random_id`,
/// 1,000 `random_integer`: the shape `bench/infra` applies.
fn sample(serial_tag: &str) -> State {
    let mut state = State::new([7; 16]);
    let mut add = |type_: &str, name: &str, provider: &str, attrs: &dyn Fn(usize) -> Value, n: usize| {
        let instances = (0..n)
            .map(|i| {
                let Value::Object(map) = attrs(i) else { return InstanceState::new(None, Map::new()) };
                InstanceState::new(Some(IndexKey::Int(i as i64)), map)
            })
            .collect();
        state.resources.push(ResourceState {
            module: None,
            mode: Mode::Managed,
            type_: type_.into(),
            name: name.into(),
            each: Some("list".into()),
            provider: format!("provider[\"{provider}\"]"),
            instances,
            extra: Map::new(),
        });
    };
    for b in 0..4 {
        let data = |i: usize| {
            let input = json!({"name": format!("d{b}-{i}"), "tags": {"team": serial_tag}});
            let ty = json!(["object", {"name": "string", "tags": ["object", {"team": "string"}]}]);
            json!({
                "id": format!("{:08x}-1b2c-4d5e-8f70-{:012x}", i * 7919 + b, i),
                "input": {"value": input, "type": ty},
                "output": {"value": input, "type": ty},
                "triggers_replace": null,
            })
        };
        add("terraform_data", &format!("d{b}"), "terraform.io/builtin/terraform", &data, 2000);
    }
    let rid = |i: usize| {
        json!({"b64_std": format!("q{i:010}A="), "b64_url": format!("q{i:010}A"), "byte_length": 8,
               "dec": format!("{}", 1_000_000_007u64 * i as u64), "hex": format!("{i:016x}"),
               "id": format!("q{i:010}A"), "keepers": null, "prefix": null})
    };
    add("random_id", "r", "registry.terraform.io/hashicorp/random", &rid, 1000);
    let rint = |i: usize| {
        json!({"id": format!("{}", i * 31 % 100_000), "keepers": null, "max": 100000, "min": 1,
               "result": i * 31 % 100_000, "seed": null})
    };
    add("random_integer", "i", "registry.terraform.io/hashicorp/random", &rint, 1000);
    state
}

fn best(runs: usize, mut f: impl FnMut()) -> Duration {
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn main() {
    let fresh = sample("infra");
    let text = fresh.to_json();
    let Ok(Some(read_back)) = cloudlet_infra::state::parse(text.as_bytes()) else {
        let _ = writeln!(std::io::stderr(), "the sample state does not read back");
        std::process::exit(1);
    };
    let fresh_ms = best(5, || drop(fresh.to_json()));
    let read_ms = best(5, || drop(read_back.to_json()));
    let Ok(dir) = tempfile::tempdir() else { std::process::exit(1) };
    let backend = LocalBackend::new(dir.path());
    // Alternate two contents so every write changes the stored snapshot.
    let other = sample("platform");
    let mut flip = false;
    let mut failed = None;
    let write_ms = best(5, || {
        flip = !flip;
        if let Err(e) = backend.write_state("default", if flip { &fresh } else { &other }) {
            failed = Some(e.to_string());
        }
    });
    if let Some(e) = failed {
        let _ = writeln!(std::io::stderr(), "write_state failed: {e}");
        std::process::exit(1);
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "| to_json, 10,000 applied objects ({:.1} MB) | {:.0} ms |",
        text.len() as f64 / 1e6,
        ms(fresh_ms)
    );
    let _ = writeln!(out, "| to_json, the same state read back from its file | {:.0} ms |", ms(read_ms));
    let _ = writeln!(out, "| local backend write_state (read, compare, back up, write) | {:.0} ms |", ms(write_ms));
}
