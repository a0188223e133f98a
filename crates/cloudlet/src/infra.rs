//! `cloudlet infra [-chdir=DIR] COMMAND [options]`: Terraform's command
//! line, with Terraform's single-dash flags (double-dash accepted too).
//!
//! Only the wiring lives here: flags → settings → a call into
//! `cloudlet-infra`. Today the command is `console` (with `-var`,
//! `-var-file` and the configuration's variables and locals).

use std::io::Write as _;
use std::path::PathBuf;

use clap::Args;
use cloudlet_core::{Clock as _, SystemClock};
use cloudlet_infra::eval::EmptyScope;
use cloudlet_infra::funcs::FuncContext;
use cloudlet_infra::module::{ModuleScope, VarArg};

#[derive(Debug, Args)]
pub(crate) struct InfraArgs {
    /// Terraform-style arguments: [-chdir=DIR] COMMAND [options]
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0.., value_name = "ARGS")]
    args: Vec<String>,
}

const USAGE: &str = "Usage: cloudlet infra [-chdir=DIR] <command> [args]\n\nCommands:\n  console    Try Terraform expressions at an interactive command prompt\n";

/// A Terraform-style flag: `-name`, `--name`, `-name=value`.
fn flag(arg: &str) -> Option<(&str, Option<&str>)> {
    let body = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-'))?;
    if body.is_empty() {
        return None;
    }
    Some(match body.split_once('=') {
        Some((name, value)) => (name, Some(value)),
        None => (body, None),
    })
}

pub(crate) fn run(args: InfraArgs) -> Result<(), ()> {
    let mut chdir: Option<PathBuf> = None;
    let mut rest = args.args.as_slice();
    while let Some(first) = rest.first() {
        match flag(first) {
            Some(("chdir", Some(dir))) => chdir = Some(PathBuf::from(dir)),
            Some(("help" | "h", None)) => {
                let _ = std::io::stdout().write_all(USAGE.as_bytes());
                return Ok(());
            }
            Some((name, _)) => return usage_error(&format!("flag provided but not defined: -{name}")),
            None => break,
        }
        rest = &rest[1..];
    }
    let Some((command, options)) = rest.split_first() else {
        return usage_error("no command given");
    };
    if let Some(dir) = &chdir
        && let Err(err) = std::env::set_current_dir(dir)
    {
        let _ = writeln!(std::io::stderr(), "Error handling -chdir option: chdir {}: {err}", dir.display());
        return Err(());
    }
    match command.as_str() {
        "console" => console(options),
        other => usage_error(&format!("unknown command {other:?}")),
    }
}

fn usage_error(message: &str) -> Result<(), ()> {
    let _ = write!(std::io::stderr(), "error: {message}\n\n{USAGE}");
    Err(())
}

fn console(options: &[String]) -> Result<(), ()> {
    let mut var_args = Vec::new();
    let mut iter = options.iter();
    while let Some(option) = iter.next() {
        match flag(option) {
            Some(("no-color", None)) => {}
            Some(("var", Some(kv))) => var_args.push(VarArg::Var(kv.to_owned())),
            Some(("var-file", Some(path))) => var_args.push(VarArg::File(path.to_owned())),
            Some(("var", None)) => match iter.next() {
                Some(kv) => var_args.push(VarArg::Var(kv.clone())),
                None => return usage_error("flag needs an argument: -var"),
            },
            Some(("var-file", None)) => match iter.next() {
                Some(path) => var_args.push(VarArg::File(path.clone())),
                None => return usage_error("flag needs an argument: -var-file"),
            },
            _ => return usage_error(&format!("console does not take {option:?} yet")),
        }
    }
    let cwd = std::env::current_dir().unwrap_or_default();
    let workspace = std::env::var("TF_WORKSPACE")
        .ok()
        .or_else(|| std::fs::read_to_string(cwd.join(".terraform/environment")).ok())
        .map(|w| w.trim().to_owned())
        .filter(|w| !w.is_empty())
        .unwrap_or_else(|| "default".to_owned());
    let now_secs = SystemClock::new().now().as_unix_secs();
    let ctx = FuncContext {
        base_dir: cwd.clone(),
        planning: false,
        now_rfc3339: Some(cloudlet_infra::funcs::rfc3339_utc(i64::try_from(now_secs).unwrap_or(i64::MAX))),
        console: true,
    };
    let has_config = std::fs::read_dir(&cwd).is_ok_and(|rd| {
        rd.filter_map(Result::ok).any(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.ends_with(".tf") || name.ends_with(".tf.json")
        })
    });
    let module;
    let empty;
    let mut module_ref: Option<&ModuleScope> = None;
    let scope: &dyn cloudlet_infra::eval::Scope = if has_config {
        let env: Vec<(String, String)> = std::env::vars().filter(|(k, _)| k.starts_with("TF_VAR_")).collect();
        match ModuleScope::load(&cwd, &env, &var_args, ctx.clone(), &workspace) {
            Ok(m) => {
                module = m;
                module_ref = Some(&module);
                &module
            }
            Err(load) => {
                let _ = std::io::stderr().write_all(load.render().as_bytes());
                return Err(());
            }
        }
    } else {
        empty = EmptyScope { workspace, cwd: cwd.to_string_lossy().into_owned() };
        &empty
    };
    let stdin = std::io::stdin();
    let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
    let code = match module_ref {
        Some(module) => cloudlet_infra::console::run_module(&mut stdin.lock(), &mut out, &mut err, module, &ctx),
        None => cloudlet_infra::console::run(&mut stdin.lock(), &mut out, &mut err, scope, &ctx),
    };
    match code {
        Ok(0) => Ok(()),
        Ok(_) => Err(()),
        Err(err) => {
            let _ = writeln!(std::io::stderr(), "error: console: {err}");
            Err(())
        }
    }
}
