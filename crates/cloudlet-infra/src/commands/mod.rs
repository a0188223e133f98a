//! The state-side commands of `cloudlet infra` (`init`, `state`,
//! `workspace`, `force-unlock`, `fmt`, `validate`), each a function from
//! arguments to an exit code, with Terraform's flags, texts and exit codes.
//!
//! What the commands need from the outside world comes in a [`Ctx`]: the
//! working directory, standard streams, `TF_WORKSPACE`, who is running,
//! the clock the lock retry waits on and the randomness lock IDs and
//! lineages are made from. The binary fills it from the real process; tests
//! fill it with buffers.
//!
//! Shared here: Terraform-style flag parsing, the backend configuration
//! (`terraform { backend "local" { ... } }`, what `init` saved under
//! `.terraform/`), the current workspace and taking the state lock.

pub mod apply;
pub mod destroy;
pub mod fmt;
pub mod force_unlock;
pub mod import;
pub mod init;
pub mod output;
pub mod plan;
pub mod show;
pub mod state;
pub mod validate;
pub mod workspace;

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::backend::local::{DEFAULT_STATE_FILENAME, DEFAULT_WORKSPACE_DIR, LocalBackend};
use crate::backend::{DEFAULT_WORKSPACE, LockClock, LockId, LockInfo, lock_error_message, lock_with_timeout};
use crate::state::TERRAFORM_VERSION;

/// Everything a command takes from its environment.
pub struct Ctx<'a> {
    /// The working directory (after `-chdir`).
    pub dir: PathBuf,
    pub stdin: &'a mut dyn BufRead,
    pub stdout: &'a mut dyn Write,
    pub stderr: &'a mut dyn Write,
    /// `TF_WORKSPACE`, which overrides `.terraform/environment`.
    pub tf_workspace: Option<String>,
    /// `user@host` for lock infos.
    pub who: String,
    /// The clock the lock retry reads and waits on.
    pub clock: &'a dyn LockClock,
    /// 16 random bytes per call: lock IDs and new lineages.
    pub random: &'a mut dyn FnMut() -> [u8; 16],
}

impl std::fmt::Debug for Ctx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx").field("dir", &self.dir).field("tf_workspace", &self.tf_workspace).finish_non_exhaustive()
    }
}

impl Ctx<'_> {
    /// Writes to standard output (errors writing are not the command's).
    pub fn out(&mut self, text: &str) {
        let _ = self.stdout.write_all(text.as_bytes());
    }

    /// Writes to standard error.
    pub fn err(&mut self, text: &str) {
        let _ = self.stderr.write_all(text.as_bytes());
    }

    /// Terraform's plain diagnostic: a blank line, `Error: summary`, a blank
    /// line, the detail, a blank line.
    pub fn error(&mut self, summary: &str, detail: &str) -> Reported {
        if detail.is_empty() {
            self.err(&format!("\nError: {summary}\n\n"));
        } else {
            self.err(&format!("\nError: {summary}\n\n{detail}\n\n"));
        }
        Reported
    }

    /// A new UUID (v4) from the injected randomness.
    pub fn new_uuid(&mut self) -> String {
        uuid::Builder::from_random_bytes((self.random)()).into_uuid().to_string()
    }

    /// Lock metadata for an operation started now.
    pub fn lock_info(&mut self, operation: &str) -> LockInfo {
        LockInfo {
            id: self.new_uuid(),
            operation: operation.to_owned(),
            info: String::new(),
            who: self.who.clone(),
            version: TERRAFORM_VERSION.to_owned(),
            created: crate::backend::rfc3339_nano(self.clock.now_unix_nanos()),
            path: String::new(),
        }
    }

    /// The selected workspace: `TF_WORKSPACE`, else `.terraform/environment`,
    /// else `default`.
    pub fn workspace(&self) -> String {
        if let Some(ws) = self.tf_workspace.as_deref().filter(|w| !w.is_empty()) {
            return ws.to_owned();
        }
        std::fs::read_to_string(self.dir.join(".terraform/environment"))
            .ok()
            .map(|w| w.trim().to_owned())
            .filter(|w| !w.is_empty())
            .unwrap_or_else(|| DEFAULT_WORKSPACE.to_owned())
    }
}

/// 16 bytes from the operating system's randomness, for [`Ctx::random`]
/// outside tests.
pub fn os_random() -> [u8; 16] {
    uuid::Uuid::new_v4().into_bytes()
}

/// A failure whose diagnostic has already been written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reported;

/// Parsed Terraform-style flags: `-name`, `-name=value`, `--name`; flags
/// end at the first argument that is not one (as Go's `flag` package).
#[derive(Debug, Default)]
pub struct Flags {
    pub flags: Vec<(String, Option<String>)>,
    pub args: Vec<String>,
}

impl Flags {
    /// Parses `args`; `with_value` names the flags that take the next
    /// argument when written without `=`. Any flag not in `known` is an
    /// error in Go's words.
    pub fn parse(args: &[String], known: &[&str], with_value: &[&str]) -> Result<Flags, String> {
        let mut out = Flags::default();
        let mut i = 0;
        while i < args.len() {
            let arg = &args[i];
            let body = match arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) {
                Some(b) if !b.is_empty() && arg != "-" => b,
                _ => break,
            };
            if arg == "--" {
                i += 1;
                break;
            }
            let (name, value) = match body.split_once('=') {
                Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
                None => (body.to_owned(), None),
            };
            if !known.contains(&name.as_str()) {
                return Err(format!("flag provided but not defined: -{name}"));
            }
            let value = if value.is_none() && with_value.contains(&name.as_str()) {
                i += 1;
                match args.get(i) {
                    Some(v) => Some(v.clone()),
                    None => return Err(format!("flag needs an argument: -{name}")),
                }
            } else {
                value
            };
            out.flags.push((name, value));
            i += 1;
        }
        out.args = args[i..].to_vec();
        Ok(out)
    }

    /// The last value of a flag.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.flags.iter().rev().find(|(n, _)| n == name).and_then(|(_, v)| v.as_deref())
    }

    /// Every value of a repeatable flag, in order.
    pub fn values(&self, name: &str) -> Vec<&str> {
        self.flags.iter().filter(|(n, _)| n == name).filter_map(|(_, v)| v.as_deref()).collect()
    }

    /// A boolean flag: `-x`, `-x=true`, `-x=false`; `default` when absent.
    pub fn bool(&self, name: &str, default: bool) -> Result<bool, String> {
        match self.flags.iter().rev().find(|(n, _)| n == name) {
            None => Ok(default),
            Some((_, None)) => Ok(true),
            Some((_, Some(v))) => match v.as_str() {
                "true" | "1" | "t" | "T" | "TRUE" | "True" => Ok(true),
                "false" | "0" | "f" | "F" | "FALSE" | "False" => Ok(false),
                _ => Err(format!("invalid boolean value {v:?} for -{name}: parse error")),
            },
        }
    }
}

/// `-lock` and `-lock-timeout`.
#[derive(Debug, Clone, Copy)]
pub struct LockOpts {
    pub enabled: bool,
    pub timeout: Duration,
}

impl LockOpts {
    pub fn from_flags(flags: &Flags) -> Result<LockOpts, String> {
        let enabled = flags.bool("lock", true)?;
        let timeout = match flags.value("lock-timeout") {
            Some(text) => parse_duration(text)
                .ok_or_else(|| format!("invalid value {text:?} for flag -lock-timeout: parse error"))?,
            None => Duration::ZERO,
        };
        Ok(LockOpts { enabled, timeout })
    }
}

/// A Go duration: `0`, `10s`, `1m30s`, `500ms`, `1.5h`, `2us`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    if text == "0" {
        return Some(Duration::ZERO);
    }
    let mut total = 0f64;
    let mut rest = text;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if num_len == 0 {
            return None;
        }
        let number: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let secs = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += number * secs;
    }
    Some(Duration::from_secs_f64(total))
}

/// The backend the working directory is configured with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendConfig {
    /// `local` (the only type cloudlet has so far).
    pub type_: String,
    /// `path`: the default workspace's state file.
    pub path: Option<String>,
    /// `workspace_dir`: where other workspaces live.
    pub workspace_dir: Option<String>,
}

impl BackendConfig {
    /// The local backend with Terraform's defaults.
    pub fn default_local() -> BackendConfig {
        BackendConfig { type_: "local".to_owned(), path: None, workspace_dir: None }
    }

    /// The backend this configuration describes, under `dir`.
    pub fn open(&self, dir: &Path) -> LocalBackend {
        LocalBackend::with_paths(
            dir,
            self.path.as_deref().unwrap_or(DEFAULT_STATE_FILENAME),
            self.workspace_dir.as_deref().unwrap_or(DEFAULT_WORKSPACE_DIR),
        )
    }
}

/// What `init` saved in `.terraform/terraform.tfstate` (Terraform's backend
/// state file), if anything.
pub fn saved_backend(dir: &Path) -> Result<Option<BackendConfig>, String> {
    let path = dir.join(".terraform/terraform.tfstate");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(_) => return Ok(None),
    };
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: not valid JSON: {e}", ".terraform/terraform.tfstate"))?;
    let Some(backend) = value.get("backend").filter(|b| !b.is_null()) else {
        return Ok(None);
    };
    let config = backend.get("config");
    let field = |k: &str| config.and_then(|c| c.get(k)).and_then(serde_json::Value::as_str).map(str::to_owned);
    Ok(Some(BackendConfig {
        type_: backend.get("type").and_then(serde_json::Value::as_str).unwrap_or("local").to_owned(),
        path: field("path"),
        workspace_dir: field("workspace_dir"),
    }))
}

/// The backend the state commands use: what `init` saved, else the
/// configuration's `backend` block, else the local defaults. Only `local`
/// exists so far; any other type is an error naming it.
pub fn load_backend(ctx: &mut Ctx<'_>) -> Result<LocalBackend, Reported> {
    let config = match saved_backend(&ctx.dir) {
        Ok(Some(saved)) => saved,
        Ok(None) => match init::backend_block(&ctx.dir) {
            Ok(Some(block)) => block.config,
            Ok(None) => BackendConfig::default_local(),
            Err(message) => {
                ctx.err(&message);
                return Err(Reported);
            }
        },
        Err(message) => {
            ctx.error("Failed to read the backend configuration", &message);
            return Err(Reported);
        }
    };
    if config.type_ != "local" {
        ctx.error(
            "Unsupported backend type",
            &format!(
                "There is no backend type named {:?} in cloudlet yet: the local backend is the only one so far.",
                config.type_
            ),
        );
        return Err(Reported);
    }
    Ok(config.open(&ctx.dir))
}

/// Takes the workspace's lock when locking is on, printing Terraform's
/// "Error acquiring the state lock" diagnostic when it cannot.
pub fn acquire_lock(
    ctx: &mut Ctx<'_>,
    backend: &LocalBackend,
    workspace: &str,
    opts: LockOpts,
    operation: &str,
) -> Result<Option<LockId>, Reported> {
    if !opts.enabled {
        return Ok(None);
    }
    let info = ctx.lock_info(operation);
    match lock_with_timeout(backend, workspace, info, opts.timeout, ctx.clock) {
        Ok(id) => Ok(Some(id)),
        Err(err) => {
            ctx.err(&lock_error_message(&err));
            Err(Reported)
        }
    }
}

/// Releases a lock taken by [`acquire_lock`], reporting a failure as
/// Terraform does.
pub fn release_lock(ctx: &mut Ctx<'_>, backend: &LocalBackend, workspace: &str, id: Option<LockId>) -> bool {
    use crate::backend::Backend as _;
    let Some(id) = id else { return true };
    match backend.unlock(workspace, &id) {
        Ok(()) => true,
        Err(err) => {
            ctx.error(
                "Error releasing the state lock",
                &format!(
                    "Error message: {err}\n\nTerraform acquires a lock when accessing your state to prevent others\nrunning Terraform to potentially modify the state at the same time. An\nerror occurred while releasing this lock. This could mean that the lock\ndid or did not release properly. If the lock didn't release properly,\nTerraform may not be able to run future commands since it'll appear as if\nthe lock is held.\n\nIn this scenario, please call the \"force-unlock\" command to unlock the\nstate manually. This is a very dangerous operation since if it is done\nerroneously it could result in two people modifying state at the same time.\nOnly call this command if you're certain that the unlock above failed and\nthat no one else is holding a lock."
                ),
            );
            false
        }
    }
}

/// Asks a yes/no question Terraform's way (the prompt on stdout, one line
/// read from stdin); only `yes` is yes. `None` when stdin is closed.
pub fn ask(ctx: &mut Ctx<'_>, question: &str) -> Option<bool> {
    ctx.out(question);
    ctx.out("\n  Enter a value: ");
    let _ = ctx.stdout.flush();
    let mut line = String::new();
    match ctx.stdin.read_line(&mut line) {
        Ok(0) | Err(_) => None,
        Ok(_) => {
            ctx.out("\n");
            Some(line.trim() == "yes")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_duration("0"), Some(Duration::ZERO));
        assert_eq!(parse_duration("10s"), Some(Duration::from_secs(10)));
        assert_eq!(parse_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("10"), None);
        assert_eq!(parse_duration("s"), None);
    }

    #[test]
    fn flags_stop_at_the_first_argument() {
        let args: Vec<String> = ["-lock=false", "-lock-timeout", "5s", "a.b", "-x"].map(str::to_owned).to_vec();
        let flags = Flags::parse(&args, &["lock", "lock-timeout"], &["lock-timeout"]).expect("parses");
        assert_eq!(flags.args, ["a.b", "-x"]);
        let opts = LockOpts::from_flags(&flags).expect("valid");
        assert!(!opts.enabled);
        assert_eq!(opts.timeout, Duration::from_secs(5));
        assert_eq!(
            Flags::parse(&["-nope".to_owned()], &["lock"], &[]).expect_err("unknown"),
            "flag provided but not defined: -nope"
        );
    }
}
