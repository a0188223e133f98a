//! `init`: reads the `terraform { backend "local" { ... } }` block and the
//! `-backend-config=` values, records the backend in
//! `.terraform/terraform.tfstate` (Terraform's backend state file), and
//! when the state's location changes copies every workspace's state to the
//! new one (Terraform's prompt, `-force-copy` to answer yes, `-reconfigure`
//! to start over without copying).
//!
//! Nothing is downloaded: providers are built in and modules come from
//! local paths, so "initializing" is only the backend and `.terraform/`.

use std::path::Path;

use hcl_edit::Span as _;
use hcl_edit::expr::Expression;
use hcl_edit::structure::Body;

use crate::backend::local::LocalBackend;
use crate::backend::{Backend as _, DEFAULT_WORKSPACE};
use crate::config::{self, FileBody};
use crate::diag::Diagnostic;

use super::{BackendConfig, Ctx, Flags, LockOpts, acquire_lock, ask, release_lock, saved_backend};

/// A `backend` block found in the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendBlock {
    pub config: BackendConfig,
}

fn render_at(path: &Path, source: &str, offset: usize, d: &Diagnostic) -> String {
    let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
    let offset = offset.min(source.len());
    let line = source[..offset].matches('\n').count() + 1;
    let text = source.lines().nth(line - 1).unwrap_or("");
    d.render_plain(&format!("{name} line {line}, in terraform"), Some((line, text)))
}

/// The configuration's backend block, if any. Errors come rendered as
/// Terraform prints them.
pub fn backend_block(dir: &Path) -> Result<Option<BackendBlock>, String> {
    let files = match config::load_dir(dir) {
        Ok(files) => files,
        Err(failures) => {
            let mut out = String::new();
            for f in failures {
                let name = f
                    .path
                    .file_name()
                    .map_or_else(|| f.path.display().to_string(), |n| n.to_string_lossy().into_owned());
                let source = std::fs::read_to_string(&f.path).unwrap_or_default();
                let line_text = source.lines().nth(f.line.saturating_sub(1)).unwrap_or("");
                out.push_str(&f.diagnostic.render_plain(&format!("{name} line {}", f.line), Some((f.line, line_text))));
            }
            return Err(out);
        }
    };
    let mut found: Option<BackendBlock> = None;
    for file in &files {
        let blocks = match &file.body {
            FileBody::Hcl(body) => hcl_backends(body, &file.path, &file.source)?,
            FileBody::Json(json) => json_backends(json),
        };
        for (block, offset) in blocks {
            if found.is_some() {
                let d = Diagnostic::new(
                    "Duplicate backend configuration",
                    "A module may have only one backend configuration. The backend was previously configured elsewhere.",
                    None,
                );
                return Err(render_at(&file.path, &file.source, offset, &d));
            }
            found = Some(block);
        }
    }
    Ok(found)
}

fn hcl_backends(body: &Body, path: &Path, source: &str) -> Result<Vec<(BackendBlock, usize)>, String> {
    let mut out = Vec::new();
    for terraform in body.get_blocks("terraform") {
        for backend in terraform.body.get_blocks("backend") {
            let offset = backend.span().map_or(0, |s| s.start);
            let Some(label) = backend.labels.first() else {
                let d = Diagnostic::new(
                    "Missing name for backend",
                    "All backend blocks must have one label: the backend type.",
                    None,
                );
                return Err(render_at(path, source, offset, &d));
            };
            let mut config = BackendConfig { type_: label.as_str().to_owned(), path: None, workspace_dir: None };
            for attr in backend.body.attributes() {
                let at = attr.span().map_or(offset, |s| s.start);
                let key = attr.key.as_str();
                let value = match &attr.value {
                    Expression::String(s) => s.value().clone(),
                    _ => {
                        let d = Diagnostic::new("Variables not allowed", "Variables may not be used here.", None);
                        return Err(render_at(path, source, at, &d));
                    }
                };
                if config.type_ == "local" {
                    match key {
                        "path" => config.path = Some(value),
                        "workspace_dir" => config.workspace_dir = Some(value),
                        other => {
                            let d = Diagnostic::new(
                                "Unsupported argument",
                                format!("An argument named {other:?} is not expected here."),
                                None,
                            );
                            return Err(render_at(path, source, at, &d));
                        }
                    }
                }
            }
            out.push((BackendBlock { config }, offset));
        }
    }
    Ok(out)
}

fn json_backends(json: &serde_json::Value) -> Vec<(BackendBlock, usize)> {
    let mut out = Vec::new();
    let terraforms = match json.get("terraform") {
        Some(serde_json::Value::Array(items)) => items.iter().collect(),
        Some(v) => vec![v],
        None => Vec::new(),
    };
    for t in terraforms {
        let Some(serde_json::Value::Object(backends)) = t.get("backend") else { continue };
        for (type_, body) in backends {
            let field = |k: &str| body.get(k).and_then(serde_json::Value::as_str).map(str::to_owned);
            out.push((
                BackendBlock {
                    config: BackendConfig {
                        type_: type_.clone(),
                        path: field("path"),
                        workspace_dir: field("workspace_dir"),
                    },
                },
                0,
            ));
        }
    }
    out
}

/// Applies `-backend-config` values: `key=value`, or a file of `key =
/// "value"` attributes.
fn apply_backend_config(dir: &Path, config: &mut BackendConfig, values: &[&str]) -> Result<(), (String, String)> {
    for item in values {
        let mut pairs: Vec<(String, String)> = Vec::new();
        if let Some((k, v)) = item.split_once('=') {
            pairs.push((k.trim().to_owned(), v.to_owned()));
        } else {
            let path = dir.join(item);
            let text = std::fs::read_to_string(&path).map_err(|e| {
                ("Failed to read file".to_owned(), format!("The file {item:?} could not be read: {e}."))
            })?;
            let body = hcl_edit::parser::parse_body(&text)
                .map_err(|e| ("Invalid backend configuration file".to_owned(), format!("{item}: {}", e.message())))?;
            for attr in body.attributes() {
                match &attr.value {
                    Expression::String(s) => pairs.push((attr.key.as_str().to_owned(), s.value().clone())),
                    _ => {
                        return Err((
                            "Invalid backend configuration value".to_owned(),
                            format!("{item}: the value of {:?} must be a string.", attr.key.as_str()),
                        ));
                    }
                }
            }
        }
        for (key, value) in pairs {
            match key.as_str() {
                "path" => config.path = Some(value),
                "workspace_dir" => config.workspace_dir = Some(value),
                other => {
                    return Err((
                        "Invalid backend configuration argument".to_owned(),
                        format!(
                            "The backend configuration argument {other:?} given on the command line is not expected for the selected backend type."
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Terraform's `.terraform/terraform.tfstate` for a backend (format 3,
/// four-space indentation).
fn backend_state_json(config: &BackendConfig, lineage: &str) -> String {
    let value = serde_json::json!({
        "version": 3,
        "serial": 1,
        "lineage": lineage,
        "backend": {
            "type": config.type_,
            "config": { "path": config.path, "workspace_dir": config.workspace_dir },
            "hash": 0
        }
    });
    let mut out = String::new();
    crate::state::json_write(&mut out, &value, 0);
    out = out
        .lines()
        .map(|l| {
            let spaces = l.len() - l.trim_start().len();
            format!("{}{}\n", " ".repeat(spaces * 2), l.trim_start())
        })
        .collect();
    out
}

/// The states of every workspace of `from` that has one.
fn states_to_copy(from: &LocalBackend) -> Result<Vec<(String, crate::state::State)>, String> {
    let mut out = Vec::new();
    for ws in from.workspaces().map_err(|e| e.to_string())? {
        if let Some(state) = from.read_state(&ws).map_err(|e| e.to_string())?
            && !state.is_empty()
        {
            out.push((ws, state));
        }
    }
    Ok(out)
}

/// `cloudlet infra init [options]`.
pub fn run(ctx: &mut Ctx<'_>, args: &[String]) -> i32 {
    let flags = match Flags::parse(
        args,
        &[
            "backend",
            "backend-config",
            "force-copy",
            "migrate-state",
            "reconfigure",
            "input",
            "lock",
            "lock-timeout",
            "get",
            "upgrade",
        ],
        &["backend-config", "lock-timeout"],
    ) {
        Ok(f) => f,
        Err(message) => {
            ctx.error("Invalid command-line option", &message);
            return 1;
        }
    };
    if !flags.args.is_empty() {
        ctx.error(
            "Too many command line arguments",
            "Did you mean to use -chdir? The init command takes no positional arguments.",
        );
        return 1;
    }
    let opts = match LockOpts::from_flags(&flags) {
        Ok(o) => o,
        Err(message) => {
            ctx.error("Invalid command-line option", &message);
            return 1;
        }
    };
    let force_copy = flags.bool("force-copy", false).unwrap_or(false);
    let reconfigure = flags.bool("reconfigure", false).unwrap_or(false);
    let input = flags.bool("input", true).unwrap_or(true);
    let block = match backend_block(&ctx.dir) {
        Ok(b) => b,
        Err(rendered) => {
            ctx.err(&rendered);
            return 1;
        }
    };
    let mut config = block.as_ref().map_or_else(BackendConfig::default_local, |b| b.config.clone());
    let extra = flags.values("backend-config");
    if let Err((summary, detail)) = apply_backend_config(&ctx.dir, &mut config, &extra) {
        ctx.error(&summary, &detail);
        return 1;
    }
    if config.type_ != "local" {
        ctx.error(
            "Unsupported backend type",
            &format!(
                "There is no backend type named {:?} in cloudlet yet: the local backend is the only one so far.",
                config.type_
            ),
        );
        return 1;
    }
    let previous = match saved_backend(&ctx.dir) {
        Ok(p) => p,
        Err(message) => {
            ctx.error("Failed to read the backend configuration", &message);
            return 1;
        }
    };
    let previous_effective = previous.clone().unwrap_or_else(BackendConfig::default_local);
    let configured = block.is_some() || !extra.is_empty();
    ctx.out("\nInitializing the backend...\n");
    let changed = previous_effective != config;
    if changed && !reconfigure {
        let from = previous_effective.open(&ctx.dir);
        let to = config.open(&ctx.dir);
        if let Err(code) = migrate(ctx, &from, &to, force_copy, input, opts) {
            return code;
        }
    }
    if let Err(e) = std::fs::create_dir_all(ctx.dir.join(".terraform")) {
        ctx.error("Failed to create .terraform", &e.to_string());
        return 1;
    }
    if configured && (changed || previous.is_none()) {
        let lineage = ctx.new_uuid();
        if let Err(e) =
            std::fs::write(ctx.dir.join(".terraform/terraform.tfstate"), backend_state_json(&config, &lineage))
        {
            ctx.error("Failed to save the backend configuration", &format!(".terraform/terraform.tfstate: {e}"));
            return 1;
        }
        ctx.out(&format!(
            "\nSuccessfully configured the backend {:?}! cloudlet will automatically\nuse this backend unless the backend configuration changes.\n",
            config.type_
        ));
    } else if !configured && previous.is_some() {
        // The backend block is gone: back to the implicit local backend.
        let _ = std::fs::remove_file(ctx.dir.join(".terraform/terraform.tfstate"));
    }
    ctx.out("\nInitializing provider plugins...\n\ncloudlet has been successfully initialized!\n\nYou may now begin working with cloudlet. Try running \"cloudlet infra plan\" to see\nany changes that are required for your infrastructure. All cloudlet commands\nshould now work.\n\nIf you ever set or change modules or backend configuration for cloudlet,\nrerun this command to reinitialize your working directory. If you forget, other\ncommands will detect it and remind you to do so if necessary.\n");
    0
}

/// Copies every workspace's state from `from` to `to` after asking
/// (Terraform's questions), then empties the old location.
fn migrate(
    ctx: &mut Ctx<'_>,
    from: &LocalBackend,
    to: &LocalBackend,
    force_copy: bool,
    input: bool,
    opts: LockOpts,
) -> Result<(), i32> {
    let states = match states_to_copy(from) {
        Ok(s) => s,
        Err(message) => {
            ctx.error("Error loading the previous state", &message);
            return Err(1);
        }
    };
    if states.is_empty() {
        return Ok(());
    }
    let multi = states.iter().any(|(ws, _)| ws != DEFAULT_WORKSPACE);
    let dest_has_state = states.iter().any(|(ws, _)| to.read_state(ws).ok().flatten().is_some_and(|s| !s.is_empty()));
    if !force_copy {
        if !input {
            ctx.error(
                "Error asking for state migration action: input disabled",
                "Use -force-copy to copy the state without asking, or -reconfigure to start over without it.",
            );
            return Err(1);
        }
        let question = if multi {
            "Do you want to migrate all workspaces to \"local\"?\n  Both the existing \"local\" backend and the newly configured \"local\" backend\n  support workspaces. When migrating between backends, Terraform will copy\n  all workspaces (with the same names). THIS WILL OVERWRITE any conflicting\n  states in the destination.\n\n  Terraform initialization doesn't currently migrate only select workspaces.\n  If you want to migrate a select number of workspaces, you must manually\n  pull and push those states.\n\n  If you answer \"yes\", Terraform will migrate all states. If you answer\n  \"no\", Terraform will abort.\n".to_owned()
        } else if dest_has_state {
            "Do you want to copy existing state to the new backend?\n  Pre-existing state was found while migrating the previous \"local\" backend to the\n  newly configured \"local\" backend. An existing non-empty state already exists in\n  the new backend. Do you want to overwrite the state in the new \"local\" backend\n  with the previous state? Enter \"yes\" to copy and \"no\" to start with the\n  existing state in the newly configured \"local\" backend.\n".to_owned()
        } else {
            "Do you want to copy existing state to the new backend?\n  Pre-existing state was found while migrating the previous \"local\" backend to the\n  newly configured \"local\" backend. No existing state was found in the newly\n  configured \"local\" backend. Do you want to copy this state to the new \"local\"\n  backend? Enter \"yes\" to copy and \"no\" to start with an empty state.\n".to_owned()
        };
        match ask(ctx, &question) {
            Some(true) => {}
            Some(false) if multi => {
                ctx.error("Migration aborted by user.", "");
                return Err(1);
            }
            Some(false) => return Ok(()),
            None => {
                ctx.error("Error asking for confirmation: EOF", "");
                return Err(1);
            }
        }
    }
    for (ws, state) in states {
        if from.state_file(&ws) == to.state_file(&ws) {
            continue;
        }
        let Ok(from_lock) = acquire_lock(ctx, from, &ws, opts, "init") else { return Err(1) };
        let Ok(to_lock) = acquire_lock(ctx, to, &ws, opts, "init") else {
            release_lock(ctx, from, &ws, from_lock);
            return Err(1);
        };
        let result = to.put_state(&ws, &state).and_then(|()| from.clear_state(&ws));
        release_lock(ctx, to, &ws, to_lock);
        release_lock(ctx, from, &ws, from_lock);
        if let Err(err) = result {
            ctx.error("Error copying state", &err.to_string());
            return Err(1);
        }
    }
    Ok(())
}
