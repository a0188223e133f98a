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

const USAGE: &str = "Usage: cloudlet infra [-chdir=DIR] <command> [args]

Commands:
  init          Prepare the working directory (backend, .terraform/)
  console       Try Terraform expressions at an interactive command prompt
  fmt           Reformat your configuration in the standard style
  validate      Check whether the configuration is valid
  workspace     Workspace management
  state         Advanced state management
  force-unlock  Release a stuck lock on the current workspace
  plan          Show changes required by the current configuration
  apply         Create or update infrastructure
  destroy       Destroy previously-created infrastructure
  output        Show output values from your root module
  show          Show the current state or a saved plan
  import        Associate existing infrastructure with a resource
";

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
        "init" => state_side(cloudlet_infra::commands::init::run, options),
        "state" => state_side(cloudlet_infra::commands::state::run, options),
        "workspace" | "env" => state_side(cloudlet_infra::commands::workspace::run, options),
        "force-unlock" => state_side(cloudlet_infra::commands::force_unlock::run, options),
        "fmt" => state_side(cloudlet_infra::commands::fmt::run, options),
        "validate" => state_side(cloudlet_infra::commands::validate::run, options),
        "plan" => engine_side(cloudlet_infra::commands::plan::run, options),
        "apply" => engine_side(cloudlet_infra::commands::apply::run, options),
        "destroy" => engine_side(cloudlet_infra::commands::destroy::run, options),
        "output" => engine_side(cloudlet_infra::commands::output::run, options),
        "show" => engine_side(cloudlet_infra::commands::show::run, options),
        "import" => engine_side(cloudlet_infra::commands::import::run, options),
        other => usage_error(&format!("unknown command {other:?}")),
    }
}

/// Runs one of `cloudlet_infra::commands` against the real process: its
/// working directory, standard streams, `TF_WORKSPACE`, the system clock
/// and the OS's randomness.
fn state_side(
    command: fn(&mut cloudlet_infra::commands::Ctx<'_>, &[String]) -> i32,
    options: &[String],
) -> Result<(), ()> {
    // Nothing these commands print is coloured.
    let options: Vec<String> =
        options.iter().filter(|o| !matches!(flag(o), Some(("no-color", None)))).cloned().collect();
    run_command(command, &options)
}

/// Runs one of the engine's commands (`plan`, `apply`, ...) against the
/// real process, as [`state_side`] does, keeping `-no-color` (the plan is
/// coloured on a terminal) and turning the first Ctrl-C into a graceful
/// stop: no new change starts, those in flight finish, the state is
/// written and the lock released. A second Ctrl-C exits at once.
fn engine_side(
    command: fn(&mut cloudlet_infra::commands::Ctx<'_>, &[String]) -> i32,
    options: &[String],
) -> Result<(), ()> {
    std::thread::spawn(|| {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_io().build() else { return };
        rt.block_on(async {
            if tokio::signal::ctrl_c().await.is_ok() {
                cloudlet_infra::commands::apply::interrupt();
                let _ = write!(
                    std::io::stderr(),
                    "\nInterrupt received.\nPlease wait for cloudlet to exit or data loss may occur.\nGracefully shutting down...\n"
                );
            }
            if tokio::signal::ctrl_c().await.is_ok() {
                let _ = write!(
                    std::io::stderr(),
                    "\nTwo interrupts received. Exiting immediately. Note that data loss may have occurred.\n"
                );
                std::process::exit(1);
            }
        });
    });
    run_command(command, options)
}

/// Runs `command` with this process's terminal, working directory, lock
/// identity, clock and randomness; exit codes above 1 (`fmt -check`'s 3,
/// `plan -detailed-exitcode`'s 2) end the process with that code.
fn run_command(
    command: fn(&mut cloudlet_infra::commands::Ctx<'_>, &[String]) -> i32,
    options: &[String],
) -> Result<(), ()> {
    let user = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_default();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let clock = cloudlet_infra::backend::SystemLockClock;
    let mut random = cloudlet_infra::commands::os_random;
    let (stdin, mut stdout, mut stderr) = (std::io::stdin(), std::io::stdout(), std::io::stderr());
    let mut stdin = stdin.lock();
    let mut ctx = cloudlet_infra::commands::Ctx {
        dir: std::env::current_dir().unwrap_or_default(),
        stdin: &mut stdin,
        stdout: &mut stdout,
        stderr: &mut stderr,
        tf_workspace: std::env::var("TF_WORKSPACE").ok(),
        who: format!("{user}@{}", host.trim()),
        clock: &clock,
        random: &mut random,
    };
    match command(&mut ctx, options) {
        0 => Ok(()),
        1 => Err(()),
        code => {
            let _ = std::io::stdout().flush();
            std::process::exit(code)
        }
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
