//! `cloudlet sched ...`: the scheduler from the command line, without the
//! daemon. Reads manifests (and a scheduler configuration), runs the pure
//! scheduler core from `cloudlet-scheduler`, and prints tables for people or
//! the documented JSON for scripts. `bench` times the core on generated
//! clusters; timing is the only clock this module reads.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::{Args, Subcommand, ValueEnum};
use cloudlet_core::Timestamp;
use cloudlet_scheduler::config::{ConfigError, Profile};
use cloudlet_scheduler::framework::NodeExplanation;
use cloudlet_scheduler::load::{self, LoadError, Manifests};
use cloudlet_scheduler::model::Resources;
use cloudlet_scheduler::quantity::{format_bytes, format_cpu_millis};
use cloudlet_scheduler::simulate::{self, Explanation, Report, SimulateError, Simulation};
use cloudlet_scheduler::timeline::scenario::{Scenario, ScenarioError, format_duration};
use cloudlet_scheduler::timeline::{Event, EventKind};
use cloudlet_scheduler::workloads;
use serde_json::{Map, Value, json};

#[derive(Debug, Args)]
pub(crate) struct SchedArgs {
    #[command(subcommand)]
    pub(crate) command: SchedCommand,
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Output {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub(crate) struct Inputs {
    /// Manifest files or directories (YAML or JSON; repeatable)
    #[arg(short = 'f', long = "filename", value_name = "PATH", required = true)]
    files: Vec<PathBuf>,
    /// A KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1)
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Seed for random tie-breaks; the same seed replays the same run
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output format
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Output::Table)]
    output: Output,
}

#[derive(Debug, Subcommand)]
pub(crate) enum SchedCommand {
    /// Schedule every pending pod in the manifests against their nodes
    Simulate {
        #[command(flatten)]
        inputs: Inputs,
        /// A scenario file: timed steps (apply, delete, scale, cordon, uncordon,
        /// drain, taint, untaint, expect) run against the cluster; prints the
        /// event timeline, then the report (see docs/scheduler-scenarios.md)
        #[arg(long, value_name = "FILE")]
        scenario: Option<PathBuf>,
    },
    /// Show, node by node and plugin by plugin, why a pod went where it went
    Explain {
        #[command(flatten)]
        inputs: Inputs,
        /// The pod, as NAMESPACE/NAME (or NAME in the default namespace)
        pod: String,
        /// Hide taint keys and values
        #[arg(long)]
        redact: bool,
    },
    /// Time the scheduler on a generated cluster shaped like a scheduler_perf workload
    Bench {
        /// SchedulingBasic, SchedulingPodAntiAffinity, SchedulingPodAffinity,
        /// SchedulingPreferredPodAffinity, SchedulingNodeAffinity, TopologySpreading,
        /// PreferredTopologySpreading, PreemptionBasic or Unschedulable
        #[arg(long)]
        workload: String,
        /// Nodes [default: the workload's]
        #[arg(long)]
        nodes: Option<usize>,
        /// Measured pods [default: the workload's]
        #[arg(long)]
        pods: Option<usize>,
        /// Pods created before measuring [default: the workload's]
        #[arg(long)]
        init_pods: Option<usize>,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        #[arg(short = 'o', long = "output", value_enum, default_value_t = Output::Table)]
        output: Output,
    },
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum SchedError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Simulate(#[from] SimulateError),
    #[error("cannot read {path}")]
    ReadConfig {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("unknown workload {0:?}; hint: one of {1}")]
    UnknownWorkload(String, String),
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    #[error("{file}: {count} expectation(s) failed:\n  {failures}")]
    Expectations { file: String, count: usize, failures: String },
}

pub(crate) fn run(args: SchedArgs) -> Result<(), SchedError> {
    match args.command {
        SchedCommand::Simulate { inputs, scenario: Some(path) } => scenario(&inputs, &path)?,
        SchedCommand::Simulate { inputs, scenario: None } => {
            let mut sim = prepare(&inputs)?;
            let report = sim.run();
            match inputs.output {
                Output::Json => print_json(&report_json(&report)),
                Output::Table => print_report(&report),
            }
        }
        SchedCommand::Explain { inputs, pod, redact } => {
            let (namespace, name) = pod.split_once('/').unwrap_or(("default", pod.as_str()));
            let mut sim = prepare(&inputs)?;
            sim.framework.redact = redact;
            sim.explain(namespace, name)?;
            let report = sim.run();
            let explanation = sim.explanation().cloned().unwrap_or_else(|| {
                // The pod did not go through a cycle: bound already, or gated.
                let outcome = report
                    .unschedulable
                    .iter()
                    .find(|p| p.namespace == namespace && p.name == name)
                    .map_or_else(|| "already bound (spec.nodeName)".to_string(), |p| p.message.clone());
                Explanation { namespace: namespace.to_string(), name: name.to_string(), outcome, nodes: Vec::new() }
            });
            match inputs.output {
                Output::Json => print_json(&explanation_json(&explanation)),
                Output::Table => print_explanation(&explanation),
            }
        }
        SchedCommand::Bench { workload, nodes, pods, init_pods, seed, output } => {
            bench(&workload, nodes, pods, init_pods, seed, output)?
        }
    }
    Ok(())
}

/// `simulate --scenario`: the timeline, then the report; failed `expect`
/// steps are reported after the output and make the command fail.
fn scenario(inputs: &Inputs, path: &Path) -> Result<(), SchedError> {
    let scenario = Scenario::read(path)?;
    let documents = load::read_paths(&inputs.files)?;
    let profile = profile(inputs)?;
    let seed = if inputs.seed != 0 { inputs.seed } else { scenario.seed.unwrap_or(0) };
    let run = scenario.run(&documents, profile, seed, Timestamp::UNIX_EPOCH)?;
    match inputs.output {
        Output::Json => {
            let mut value = report_json(&run.report);
            value["events"] = Value::Array(run.events.iter().map(|e| event_json(e, run.start)).collect());
            value["failedExpectations"] = json!(run.failures);
            print_json(&value);
        }
        Output::Table => {
            let mut rows = vec![vec![
                "TIME".into(),
                "TYPE".into(),
                "REASON".into(),
                "OBJECT".into(),
                "FROM".into(),
                "MESSAGE".into(),
            ]];
            for e in &run.events {
                rows.push(vec![
                    format_duration(e.time.saturating_duration_since(run.start)),
                    e.event_type.as_str().into(),
                    e.reason.clone(),
                    e.object.display(),
                    match e.kind {
                        EventKind::Api => e.from.clone(),
                        EventKind::Client => "(kubectl)".into(),
                    },
                    e.message.clone(),
                ]);
            }
            print_table(&rows);
            println("");
            print_report(&run.report);
        }
    }
    if run.failures.is_empty() {
        Ok(())
    } else {
        Err(SchedError::Expectations {
            file: scenario.file.clone(),
            count: run.failures.len(),
            failures: run.failures.join("\n  "),
        })
    }
}

fn event_json(e: &Event, start: Timestamp) -> Value {
    json!({
        "time": format_duration(e.time.saturating_duration_since(start)),
        "seconds": e.time.saturating_duration_since(start).as_secs_f64(),
        "source": match e.kind { EventKind::Api => "event", EventKind::Client => "kubectl" },
        "type": e.event_type.as_str(),
        "reason": e.reason,
        "object": {"kind": e.object.kind, "namespace": e.object.namespace, "name": e.object.name},
        "from": e.from,
        "message": e.message,
    })
}

fn profile(inputs: &Inputs) -> Result<Profile, SchedError> {
    Ok(match &inputs.config {
        Some(path) => {
            let name = path.display().to_string();
            let text = std::fs::read_to_string(path)
                .map_err(|source| SchedError::ReadConfig { path: name.clone(), source })?;
            Profile::from_config(&name, &text)?
        }
        None => Profile::default(),
    })
}

fn prepare(inputs: &Inputs) -> Result<Simulation, SchedError> {
    let documents = load::read_paths(&inputs.files)?;
    let manifests = Manifests::build(&documents)?;
    let profile = match &inputs.config {
        Some(path) => {
            let name = path.display().to_string();
            let text = std::fs::read_to_string(path)
                .map_err(|source| SchedError::ReadConfig { path: name.clone(), source })?;
            Profile::from_config(&name, &text)?
        }
        None => Profile::default(),
    };
    Ok(Simulation::new(manifests, profile, inputs.seed)?)
}

fn print_json(value: &Value) {
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    let _ = writeln!(std::io::stdout().lock(), "{text}");
}

/// Resource amounts as Kubernetes quantity strings.
fn resources_json(r: &Resources, pods: i64, include: &Resources) -> Value {
    let mut map = Map::new();
    map.insert("cpu".into(), json!(format_cpu_millis(r.milli_cpu)));
    map.insert("memory".into(), json!(format_bytes(r.memory)));
    map.insert("pods".into(), json!(pods.to_string()));
    if include.ephemeral_storage != 0 || r.ephemeral_storage != 0 {
        map.insert("ephemeral-storage".into(), json!(format_bytes(r.ephemeral_storage)));
    }
    for (name, _) in include.scalar.iter().chain(&r.scalar) {
        map.insert(name.clone(), json!(r.scalar(name).to_string()));
    }
    Value::Object(map)
}

fn pod_ref(namespace: &str, name: &str) -> Value {
    json!({"namespace": namespace, "name": name})
}

fn report_json(report: &Report) -> Value {
    json!({
        "placements": report.placements.iter().map(|p| json!({"namespace": p.namespace, "name": p.name, "node": p.node})).collect::<Vec<_>>(),
        "unschedulable": report.unschedulable.iter().map(|p| json!({"namespace": p.namespace, "name": p.name, "message": p.message})).collect::<Vec<_>>(),
        "preemptions": report.preemptions.iter().map(|p| json!({
            "preemptor": pod_ref(&p.preemptor.0, &p.preemptor.1),
            "node": p.node,
            "victims": p.victims.iter().map(|(ns, n)| pod_ref(ns, n)).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "nodes": report.nodes.iter().map(|n| json!({
            "name": n.name,
            "allocatable": resources_json(&n.allocatable, n.allocatable.pods, &n.allocated),
            "allocated": resources_json(&n.allocated, n.pods, &n.allocatable),
        })).collect::<Vec<_>>(),
    })
}

fn explanation_json(e: &Explanation) -> Value {
    json!({
        "pod": pod_ref(&e.namespace, &e.name),
        "outcome": e.outcome,
        "nodes": e.nodes.iter().map(|n| json!({
            "name": n.node,
            "examined": n.examined,
            "selected": n.selected,
            "filters": n.filters.iter().map(|f| json!({
                "plugin": f.plugin.name(),
                "passed": f.rejection.is_none(),
                "reasons": f.rejection.as_ref().map(|r| r.reasons.iter().map(|x| x.to_string()).collect::<Vec<String>>()).unwrap_or_default(),
                "detail": f.rejection.as_ref().and_then(|r| r.detail.clone()),
            })).collect::<Vec<_>>(),
            "scores": n.scores.iter().map(|s| json!({
                "plugin": s.plugin.name(),
                "raw": s.raw,
                "normalized": s.normalized,
                "weight": s.weight,
                "weighted": s.weighted,
            })).collect::<Vec<_>>(),
            "total": n.total,
        })).collect::<Vec<_>>(),
    })
}

/// Prints rows as left-aligned columns.
fn print_table(rows: &[Vec<String>]) {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().filter_map(|r| r.get(c)).map(|s| s.chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = std::io::stdout().lock();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}   ", width = widths[c]));
            }
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
}

fn println(line: &str) {
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

fn percent(part: i64, whole: i64) -> String {
    if whole <= 0 { "-".into() } else { format!("{}%", part * 100 / whole) }
}

fn print_report(report: &Report) {
    if !report.placements.is_empty() {
        let mut rows = vec![vec!["NAMESPACE".into(), "POD".into(), "NODE".into()]];
        rows.extend(report.placements.iter().map(|p| vec![p.namespace.clone(), p.name.clone(), p.node.clone()]));
        print_table(&rows);
        println("");
    }
    if !report.preemptions.is_empty() {
        let mut rows = vec![vec!["PREEMPTOR".into(), "NODE".into(), "VICTIMS".into()]];
        for p in &report.preemptions {
            let victims: Vec<String> = p.victims.iter().map(|(ns, n)| format!("{ns}/{n}")).collect();
            rows.push(vec![format!("{}/{}", p.preemptor.0, p.preemptor.1), p.node.clone(), victims.join(", ")]);
        }
        print_table(&rows);
        println("");
    }
    let mut rows = vec![vec!["NODE".into(), "CPU".into(), "MEMORY".into(), "PODS".into(), "EXTENDED".into()]];
    let usage = |n: &simulate::NodeUsage| {
        let extended: Vec<String> = n
            .allocatable
            .scalar
            .iter()
            .map(|(name, cap)| format!("{name} {}/{cap}", n.allocated.scalar(name)))
            .collect();
        vec![
            format!(
                "{}/{} ({})",
                format_cpu_millis(n.allocated.milli_cpu),
                format_cpu_millis(n.allocatable.milli_cpu),
                percent(n.allocated.milli_cpu, n.allocatable.milli_cpu)
            ),
            format!(
                "{}/{} ({})",
                format_bytes(n.allocated.memory),
                format_bytes(n.allocatable.memory),
                percent(n.allocated.memory, n.allocatable.memory)
            ),
            format!("{}/{}", n.pods, n.allocatable.pods),
            extended.join(", "),
        ]
    };
    const NODE_ROWS: usize = 50;
    for n in report.nodes.iter().take(NODE_ROWS) {
        let mut row = vec![n.name.clone()];
        row.extend(usage(n));
        rows.push(row);
    }
    let (allocatable, allocated, pods) = simulate::totals(&report.nodes);
    let total = simulate::NodeUsage { name: "TOTAL".into(), allocatable, allocated, pods };
    let mut row = vec![format!("TOTAL ({} nodes)", report.nodes.len())];
    row.extend(usage(&total));
    rows.push(row);
    print_table(&rows);
    if report.nodes.len() > NODE_ROWS {
        println(&format!("({} more nodes; -o json lists every node)", report.nodes.len() - NODE_ROWS));
    }
    println("");
    println(&format!(
        "{} scheduled, {} unschedulable, {} preemption(s), {} scheduling attempt(s)",
        report.placements.len(),
        report.unschedulable.len(),
        report.preemptions.len(),
        report.attempts
    ));
    for (message, pods) in simulate::pending_by_reason(&report.unschedulable) {
        println("");
        println(&format!("{} pending: {message}", pods.len()));
        for pod in pods.iter().take(10) {
            println(&format!("  {pod}"));
        }
        if pods.len() > 10 {
            println(&format!("  ... and {} more", pods.len() - 10));
        }
    }
}

fn print_explanation(e: &Explanation) {
    println(&format!("Pod {}/{}: {}", e.namespace, e.name, e.outcome));
    if e.nodes.is_empty() {
        return;
    }
    println("");
    let score_plugins: Vec<&'static str> = {
        let mut names = Vec::new();
        for n in &e.nodes {
            for s in &n.scores {
                if !names.contains(&s.plugin.name()) {
                    names.push(s.plugin.name());
                }
            }
        }
        names
    };
    let mut header = vec!["NODE".to_string(), "FILTERS".to_string()];
    header.extend(score_plugins.iter().map(|p| p.to_string()));
    header.push("TOTAL".into());
    let mut rows = vec![header];
    for n in &e.nodes {
        let mut row = vec![format!("{}{}", if n.selected { "* " } else { "  " }, n.node), filters_cell(n)];
        for plugin in &score_plugins {
            row.push(
                n.scores.iter().find(|s| s.plugin.name() == *plugin).map_or_else(String::new, |s| {
                    format!("{} → {} ×{} = {}", s.raw, s.normalized, s.weight, s.weighted)
                }),
            );
        }
        row.push(n.total.map_or_else(String::new, |t| t.to_string()));
        rows.push(row);
    }
    print_table(&rows);
    println("");
    if e.nodes.iter().any(|n| n.selected && n.total.is_none()) {
        println("Only one node passed the filters, so it was chosen without scoring (as kube-scheduler does).");
    } else {
        println("Scores are raw → normalised ×weight = weighted. * marks the selected node.");
    }
}

fn filters_cell(n: &NodeExplanation) -> String {
    let failed: Vec<String> = n
        .filters
        .iter()
        .filter_map(|f| {
            f.rejection.as_ref().map(|r| {
                format!(
                    "{}: {}{}",
                    f.plugin.name(),
                    r.reasons.join(", "),
                    r.detail.as_ref().map_or_else(String::new, |d| format!(" [{d}]"))
                )
            })
        })
        .collect();
    let mut cell = if failed.is_empty() { "passed".to_string() } else { failed.join("; ") };
    if !n.examined {
        cell.push_str(" (not examined: enough feasible nodes were found)");
    }
    cell
}

fn bench(
    name: &str,
    nodes: Option<usize>,
    pods: Option<usize>,
    init_pods: Option<usize>,
    seed: u64,
    output: Output,
) -> Result<(), SchedError> {
    let names = || workloads::WORKLOADS.iter().map(|w| w.name).collect::<Vec<_>>().join(", ");
    let spec = workloads::spec(name).ok_or_else(|| SchedError::UnknownWorkload(name.to_string(), names()))?;
    let nodes = nodes.unwrap_or(spec.nodes);
    let measured = pods.unwrap_or(spec.measured_pods);
    let init = init_pods.unwrap_or(spec.init_pods);
    let workload = workloads::build(spec.name, nodes, init, measured)
        .ok_or_else(|| SchedError::UnknownWorkload(name.to_string(), names()))?;
    let started = Instant::now();
    let mut cluster = cloudlet_scheduler::cluster::Cluster::new(workload.nodes, workload.init, Default::default());
    let init_ids: Vec<usize> = (0..cluster.pods.len()).collect();
    let measured_ids: Vec<usize> = workload.measured.into_iter().map(|p| cluster.add_pod(p)).collect();
    let mut sim = Simulation::from_cluster(cluster, Profile::default(), seed);
    let init_report = sim.run_pods(init_ids);
    let setup_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let report = sim.run_pods(measured_ids);
    let seconds = started.elapsed().as_secs_f64();
    let pods_per_second = if seconds > 0.0 { measured as f64 / seconds } else { 0.0 };
    let value = json!({
        "workload": spec.name,
        "nodes": nodes,
        "init_pods": init,
        "init_scheduled": init_report.placements.len(),
        "measured_pods": measured,
        "scheduled": report.placements.len(),
        "unschedulable": report.unschedulable.len(),
        "preemptions": report.preemptions.len(),
        "setup_seconds": setup_seconds,
        "seconds": seconds,
        "pods_per_second": pods_per_second,
        "upstream_threshold_pods_per_second": spec.threshold,
    });
    match output {
        Output::Json => print_json(&value),
        Output::Table => {
            println(&format!("{} — {nodes} nodes, {init} initial pods, {measured} measured pods", spec.name));
            println(&format!(
                "  setup (initial pods):   {setup_seconds:.3} s ({} scheduled)",
                init_report.placements.len()
            ));
            println(&format!(
                "  measured:               {seconds:.3} s, {pods_per_second:.0} pods/s ({} scheduled, {} unschedulable, {} preemptions)",
                report.placements.len(),
                report.unschedulable.len(),
                report.preemptions.len()
            ));
            if let Some(t) = spec.threshold {
                println(&format!("  upstream threshold:     {t} pods/s ({:.1}×)", pods_per_second / f64::from(t)));
            }
        }
    }
    Ok(())
}
