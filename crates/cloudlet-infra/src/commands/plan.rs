//! `plan`: load the module tree and the root variables, read (and lock)
//! the workspace's state, refresh, walk, print the plan as Terraform does;
//! `-out=FILE` saves what `apply FILE` needs to carry the same plan out.
//! Also the pieces `apply`, `destroy` and `import` share: [`Session`]
//! (configuration, variables, backend, lock, prior state) and plan files.

use std::collections::BTreeMap;
use std::io::IsTerminal as _;

use crate::backend::local::LocalBackend;
use crate::backend::{Backend as _, LockId, OPERATION_PLAN};
use crate::decode::ModuleConfig;
use crate::module::VarArg;
use crate::plan::values;
use crate::plan::{Plan, PlanMode, PlanOptions, WalkInput, Walker};
use crate::providers::Registry;
use crate::render::Style;
use crate::state::State;
use crate::value::Value;

use super::{Ctx, Flags, LockOpts, acquire_lock, load_backend, release_lock};

/// The flags `plan` knows (`apply` and `destroy` add theirs).
pub(crate) const PLAN_FLAGS: &[&str] = &[
    "out",
    "var",
    "var-file",
    "target",
    "replace",
    "refresh-only",
    "refresh",
    "destroy",
    "detailed-exitcode",
    "no-color",
    "lock",
    "lock-timeout",
    "parallelism",
    "input",
    "compact-warnings",
    "json",
    "state",
];

/// The flags that take a value.
pub(crate) const WITH_VALUE: &[&str] =
    &["out", "var", "var-file", "target", "replace", "lock-timeout", "parallelism", "state"];

/// One command's working set: the configuration, the root variables, the
/// backend and its lock, and the prior state.
pub(crate) struct Session {
    pub config: ModuleConfig,
    pub variables: BTreeMap<String, Value>,
    pub backend: LocalBackend,
    pub workspace: String,
    pub lock: Option<LockId>,
    pub prior: State,
    pub registry: Registry,
    pub style: Style,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("workspace", &self.workspace).finish_non_exhaustive()
    }
}

/// An error diagnostic with its detail wrapped as Terraform wraps it.
pub(crate) fn error(ctx: &mut Ctx<'_>, summary: &str, detail: &str) {
    let wrapped: Vec<String> =
        detail.split('\n').map(|l| if l.starts_with(' ') { l.to_owned() } else { crate::diag::wrap(l, 77) }).collect();
    ctx.error(summary, &wrapped.join("\n"));
}

/// Parses flags, printing Terraform's usage error.
pub(crate) fn parse_flags(
    ctx: &mut Ctx<'_>,
    args: &[String],
    known: &[&str],
    with_value: &[&str],
) -> Result<Flags, ()> {
    Flags::parse(args, known, with_value).map_err(|e| {
        ctx.err(&format!("{e}\n"));
    })
}

/// `-var`/`-var-file` in command-line order.
pub(crate) fn var_args(flags: &Flags) -> Vec<VarArg> {
    flags
        .flags
        .iter()
        .filter_map(|(n, v)| match (n.as_str(), v) {
            ("var", Some(v)) => Some(VarArg::Var(v.clone())),
            ("var-file", Some(v)) => Some(VarArg::File(v.clone())),
            _ => None,
        })
        .collect()
}

fn seed(ctx: &mut Ctx<'_>) -> u64 {
    let b = (ctx.random)();
    u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
}

/// Loads everything a plan needs and takes the lock (when `operation`).
/// `variables` overrides the tfvars resolution (a saved plan's values).
pub(crate) fn open_session(
    ctx: &mut Ctx<'_>,
    flags: &Flags,
    operation: Option<&str>,
    variables: Option<BTreeMap<String, Value>>,
) -> Result<Session, ()> {
    let config = match crate::decode::load_tree(&ctx.dir) {
        Ok(c) => c,
        Err(e) => {
            ctx.err(&e.rendered);
            return Err(());
        }
    };
    let workspace = ctx.workspace();
    let variables = match variables {
        Some(v) => v,
        None => {
            let env: Vec<(String, String)> = std::env::vars().filter(|(k, _)| k.starts_with("TF_VAR_")).collect();
            match crate::plan::root_variables(&ctx.dir, &env, &var_args(flags), &workspace) {
                Ok((v, warnings)) => {
                    ctx.out(&warnings);
                    v
                }
                Err(text) => {
                    ctx.err(&text);
                    return Err(());
                }
            }
        }
    };
    let backend = load_backend(ctx).map_err(|_| ())?;
    let lock_opts = LockOpts::from_flags(flags).map_err(|e| ctx.err(&format!("{e}\n")))?;
    let lock = match operation {
        Some(op) => acquire_lock(ctx, &backend, &workspace, lock_opts, op).map_err(|_| ())?,
        None => None,
    };
    let prior = match backend.read_state(&workspace) {
        Ok(Some(s)) => s,
        Ok(None) => State::new((ctx.random)()),
        Err(e) => {
            error(ctx, "Failed to load state", &e.to_string());
            release_lock(ctx, &backend, &workspace, lock);
            return Err(());
        }
    };
    let aws_config = match crate::providers::aws::AwsConfig::from_module(&config) {
        Ok(c) => c,
        Err(e) => {
            error(ctx, "Invalid provider configuration", &e);
            release_lock(ctx, &backend, &workspace, lock);
            return Err(());
        }
    };
    let registry = Registry::configured(seed(ctx), &ctx.dir, aws_config);
    let color = !flags.bool("no-color", false).unwrap_or(false) && std::io::stdout().is_terminal();
    Ok(Session { config, variables, backend, workspace, lock, prior, registry, style: Style { color } })
}

/// The plan options the flags ask for.
pub(crate) fn plan_options(ctx: &mut Ctx<'_>, flags: &Flags, workspace: &str) -> Result<PlanOptions, ()> {
    let destroy = flags.bool("destroy", false).map_err(|e| ctx.err(&format!("{e}\n")))?;
    let refresh_only = flags.bool("refresh-only", false).map_err(|e| ctx.err(&format!("{e}\n")))?;
    let refresh = flags.bool("refresh", true).map_err(|e| ctx.err(&format!("{e}\n")))?;
    if destroy && refresh_only {
        error(ctx, "Incompatible plan mode options", "The -destroy and -refresh-only options are mutually-exclusive.");
        return Err(());
    }
    if !refresh && refresh_only {
        error(
            ctx,
            "Incompatible refresh options",
            "It doesn't make sense to use -refresh-only at the same time as -refresh=false, because Terraform would have nothing to do.",
        );
        return Err(());
    }
    let mode = if destroy {
        PlanMode::Destroy
    } else if refresh_only {
        PlanMode::RefreshOnly
    } else {
        PlanMode::Normal
    };
    Ok(PlanOptions {
        mode,
        targets: flags.values("target").into_iter().map(str::to_owned).collect(),
        replace: flags.values("replace").into_iter().map(str::to_owned).collect(),
        skip_refresh: !refresh,
        workspace: workspace.to_owned(),
        now_rfc3339: None,
    })
}

/// "addr: Refreshing state... [id=...]" for every managed object.
pub(crate) fn refresh_lines(ctx: &mut Ctx<'_>, prior: &State, options: &PlanOptions) {
    if options.skip_refresh {
        return;
    }
    let mut text = String::new();
    for r in &prior.resources {
        for inst in &r.instances {
            let id = inst.attributes.get("id").and_then(|v| v.as_str()).unwrap_or("");
            let addr = r.instance_address(inst.index_key.as_ref());
            if r.mode == crate::state::Mode::Data {
                text.push_str(&format!("{addr}: Reading...\n"));
            } else {
                text.push_str(&format!("{addr}: Refreshing state... [id={id}]\n"));
            }
        }
    }
    ctx.out(&text);
}

/// Plans without applying.
pub(crate) fn make_plan(s: &Session, options: &PlanOptions) -> Plan {
    let input = WalkInput {
        config: &s.config,
        registry: &s.registry,
        options,
        variables: s.variables.clone(),
        prior: s.prior.clone(),
    };
    Walker::new(input, None).run()
}

/// A saved plan: what `apply FILE` needs to plan the same changes again
/// against the same state, and the rendered text for `show FILE`.
pub(crate) fn plan_file_json(plan: &Plan, options: &PlanOptions, workspace: &str, text: &str) -> String {
    let vars: serde_json::Map<String, serde_json::Value> = plan
        .variables
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::json!({"value": values::to_json(v), "type": values::type_to_json(&v.ty()), "sensitive": v.is_marked()})))
        .collect();
    let mode = match options.mode {
        PlanMode::Normal => "normal",
        PlanMode::Destroy => "destroy",
        PlanMode::RefreshOnly => "refresh-only",
    };
    let changes: Vec<serde_json::Value> =
        plan.effective().map(|c| serde_json::json!({"address": c.addr, "actions": c.action.json_actions()})).collect();
    let doc = serde_json::json!({
        "cloudlet_plan": 1,
        "workspace": workspace,
        "lineage": plan.prior.lineage,
        "serial": plan.prior.serial,
        "mode": mode,
        "targets": options.targets,
        "replace": options.replace,
        "refresh": !options.skip_refresh,
        "variables": vars,
        "resource_changes": changes,
        "text": text,
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

/// A saved plan read back.
#[derive(Debug)]
pub(crate) struct SavedPlan {
    pub workspace: String,
    pub lineage: String,
    pub serial: u64,
    pub options: PlanOptions,
    pub variables: BTreeMap<String, Value>,
    pub text: String,
    pub json: serde_json::Value,
}

/// Reads a plan file written by `plan -out`.
pub(crate) fn read_plan_file(path: &std::path::Path) -> Result<SavedPlan, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("Failed to read plan from plan file: {e}"))?;
    let j: serde_json::Value = serde_json::from_str(&text)
        .ok()
        .filter(|j: &serde_json::Value| j.get("cloudlet_plan").is_some())
        .ok_or_else(|| format!("The file {} is not a cloudlet plan file.", path.display()))?;
    let strs = |k: &str| {
        j[k].as_array().map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect()).unwrap_or_default()
    };
    let mode = match j["mode"].as_str() {
        Some("destroy") => PlanMode::Destroy,
        Some("refresh-only") => PlanMode::RefreshOnly,
        _ => PlanMode::Normal,
    };
    let mut variables = BTreeMap::new();
    if let Some(vars) = j["variables"].as_object() {
        for (k, v) in vars {
            let ty = values::type_from_json(&v["type"]).unwrap_or(crate::value::Type::Dynamic);
            let value = values::from_json(&v["value"], &ty).mark_if(v["sensitive"].as_bool() == Some(true));
            variables.insert(k.clone(), value);
        }
    }
    let workspace = j["workspace"].as_str().unwrap_or("default").to_owned();
    Ok(SavedPlan {
        lineage: j["lineage"].as_str().unwrap_or_default().to_owned(),
        serial: j["serial"].as_u64().unwrap_or(0),
        options: PlanOptions {
            mode,
            targets: strs("targets"),
            replace: strs("replace"),
            skip_refresh: j["refresh"].as_bool() == Some(false),
            workspace: workspace.clone(),
            now_rfc3339: None,
        },
        workspace,
        variables,
        text: j["text"].as_str().unwrap_or_default().to_owned(),
        json: j,
    })
}

/// The `-json` form of a plan: Terraform's plan JSON (format 0.2, the
/// fields cloudlet has).
pub(crate) fn plan_json(plan: &Plan) -> serde_json::Value {
    let changes: Vec<serde_json::Value> = plan
        .changes
        .iter()
        .map(|c| {
            let unknown = |v: &Option<Value>| v.as_ref().map_or(serde_json::Value::Bool(false), after_unknown);
            serde_json::json!({
                "address": c.addr,
                "module_address": c.module,
                "mode": c.mode.as_str(),
                "type": c.type_name,
                "name": c.name,
                "index": c.key.as_ref().map(|k| match k {
                    crate::state::IndexKey::Int(i) => serde_json::json!(i),
                    crate::state::IndexKey::String(s) => serde_json::json!(s),
                }),
                "provider_name": c.provider.trim_start_matches("provider[\"").trim_end_matches("\"]"),
                "change": {
                    "actions": c.action.json_actions(),
                    "before": c.before.as_ref().map(values::to_json),
                    "after": c.after.as_ref().map(values::to_json),
                    "after_unknown": unknown(&c.after),
                    "replace_paths": c.replace_paths.iter().map(|p| serde_json::json!([p])).collect::<Vec<_>>(),
                },
                "action_reason": c.reason,
            })
        })
        .collect();
    let outputs: serde_json::Map<String, serde_json::Value> = plan
        .outputs
        .iter()
        .map(|o| {
            let actions: &[&str] = match (&o.before, &o.after) {
                (None, Some(_)) => &["create"],
                (Some(_), None) => &["delete"],
                _ if crate::plan::output_changed(o) => &["update"],
                _ => &["no-op"],
            };
            (
                o.name.clone(),
                serde_json::json!({
                    "actions": actions,
                    "before": o.before.as_ref().map(values::to_json),
                    "after": o.after.as_ref().map(values::to_json),
                    "after_unknown": o.after.as_ref().is_some_and(|v| !v.is_wholly_known()),
                    "before_sensitive": o.sensitive,
                    "after_sensitive": o.sensitive,
                }),
            )
        })
        .collect();
    serde_json::json!({
        "format_version": "0.2",
        "terraform_version": crate::state::TERRAFORM_VERSION,
        "resource_changes": changes,
        "output_changes": outputs,
    })
}

/// Terraform's `after_unknown`: `true` for an unknown value, an object or
/// array of those for the parts of a structure.
fn after_unknown(v: &Value) -> serde_json::Value {
    match v.unmarked() {
        Value::Unknown(_) => serde_json::Value::Bool(true),
        Value::Object(m) | Value::Map(_, m) => {
            let inner: serde_json::Map<String, serde_json::Value> = m
                .iter()
                .filter_map(|(k, x)| {
                    let u = after_unknown(x);
                    (u != serde_json::Value::Bool(false)).then(|| (k.clone(), u))
                })
                .collect();
            serde_json::Value::Object(inner)
        }
        Value::List(_, items) | Value::Tuple(items) | Value::Set(_, items) => {
            serde_json::Value::Array(items.iter().map(after_unknown).collect())
        }
        _ => serde_json::Value::Bool(false),
    }
}

/// `cloudlet infra plan [options]`.
pub fn run(ctx: &mut Ctx<'_>, args: &[String]) -> i32 {
    let Ok(flags) = parse_flags(ctx, args, PLAN_FLAGS, WITH_VALUE) else { return 1 };
    if let Some(extra) = flags.args.first() {
        error(
            ctx,
            "Too many command line arguments",
            &format!(
                "To specify a working directory for the plan, use the global -chdir flag. (Unexpected argument {extra:?}.)"
            ),
        );
        return 1;
    }
    let detailed = flags.bool("detailed-exitcode", false).unwrap_or(false);
    let Ok(session) = open_session(ctx, &flags, Some(OPERATION_PLAN), None) else { return 1 };
    let code = plan_with(ctx, &flags, &session, detailed);
    if !release_lock(ctx, &session.backend, &session.workspace, session.lock.clone()) {
        return 1;
    }
    code
}

fn plan_with(ctx: &mut Ctx<'_>, flags: &Flags, s: &Session, detailed: bool) -> i32 {
    let Ok(options) = plan_options(ctx, flags, &s.workspace) else { return 1 };
    refresh_lines(ctx, &s.prior, &options);
    let plan = make_plan(s, &options);
    if !plan.errors.is_empty() {
        ctx.err(&plan.errors);
        return 1;
    }
    if flags.bool("json", false).unwrap_or(false) {
        let text = serde_json::to_string(&plan_json(&plan)).unwrap_or_default();
        ctx.out(&format!("{text}\n"));
        return if detailed && plan.has_changes() { 2 } else { 0 };
    }
    let text = crate::render::plan_text(&s.style, &plan);
    ctx.out(&text);
    ctx.out(&plan.warnings);
    if let Some(out) = flags.value("out") {
        let path = ctx.dir.join(out);
        let plain = crate::render::plan_text(&Style { color: false }, &plan);
        if let Err(e) = std::fs::write(&path, plan_file_json(&plan, &options, &s.workspace, &plain)) {
            error(ctx, "Failed to write plan file", &format!("The plan file could not be written: {e}."));
            return 1;
        }
        if plan.has_changes() || plan.mode == PlanMode::RefreshOnly {
            ctx.out(&format!(
                "\n{}\n\nSaved the plan to: {out}\n\nTo perform exactly these actions, run the following command to apply:\n    cloudlet infra apply \"{out}\"\n",
                "─".repeat(77)
            ));
        }
    } else if plan.has_changes() {
        ctx.out(&format!(
            "\n{}\n\n{}\n",
            "─".repeat(77),
            crate::diag::wrap("Note: You didn't use the -out option to save this plan, so cloudlet can't guarantee to take exactly these actions if you run \"cloudlet infra apply\" now.", 77)
        ));
    }
    if detailed && plan.has_changes() { 2 } else { 0 }
}
