//! [`HostRuntimeProbe`]: whether this host has the interpreter a runtime
//! needs, checked when a function is created or its runtime changes.
//!
//! - `python3.X` needs an executable `python3.X` on `PATH` that runs;
//! - `nodejsNN.x` needs `node` on `PATH` whose `node --version` major is NN;
//! - `provided.*` needs nothing from the host (the package's own
//!   `bootstrap` is checked against the package, not here).
//!
//! Results are cached for the life of the probe: installing an interpreter
//! while the daemon runs takes a restart to be noticed. This module runs
//! processes (`python3.X --version`, `node --version`) and nothing else.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

use crate::control::RuntimeProbe;
use crate::model::{Runtime, RuntimeFamily};

/// Probes the host's `PATH` (as given, or the process's own).
#[derive(Debug)]
pub struct HostRuntimeProbe {
    path: Option<OsString>,
    cache: Mutex<HashMap<Runtime, Result<(), String>>>,
}

impl HostRuntimeProbe {
    /// A probe of this process's `PATH`.
    pub fn new() -> HostRuntimeProbe {
        HostRuntimeProbe { path: std::env::var_os("PATH"), cache: Mutex::new(HashMap::new()) }
    }

    /// A probe of the given `PATH` value (for tests).
    pub fn with_path(path: impl Into<OsString>) -> HostRuntimeProbe {
        HostRuntimeProbe { path: Some(path.into()), cache: Mutex::new(HashMap::new()) }
    }

    fn probe(&self, runtime: Runtime) -> Result<(), String> {
        let name = runtime.as_str();
        match runtime.family() {
            RuntimeFamily::Provided => Ok(()),
            RuntimeFamily::Python => {
                let program = self.find(name).ok_or_else(|| format!("no executable `{name}` on PATH"))?;
                let output = run_version(&program)?;
                if output.status_ok {
                    Ok(())
                } else {
                    Err(format!("`{} --version` failed: {}", program.display(), output.text.trim()))
                }
            }
            RuntimeFamily::Nodejs => {
                let wanted = node_major(runtime);
                let program = self
                    .find("node")
                    .ok_or_else(|| format!("no executable `node` on PATH ({name} needs Node.js {wanted})"))?;
                let output = run_version(&program)?;
                let found = parse_node_major(&output.text);
                match found {
                    Some(major) if output.status_ok && major == wanted => Ok(()),
                    Some(major) => Err(format!(
                        "`{}` is Node.js {major} ({}), and {name} needs Node.js {wanted}",
                        program.display(),
                        output.text.trim()
                    )),
                    None => Err(format!(
                        "`{} --version` printed `{}`, not a Node.js version",
                        program.display(),
                        output.text.trim()
                    )),
                }
            }
        }
    }

    /// The first executable file called `program` in the `PATH` directories.
    fn find(&self, program: &str) -> Option<PathBuf> {
        let path = self.path.as_ref()?;
        std::env::split_paths(path).map(|dir| dir.join(program)).find(|candidate| is_executable(candidate))
    }
}

impl Default for HostRuntimeProbe {
    fn default() -> HostRuntimeProbe {
        HostRuntimeProbe::new()
    }
}

impl RuntimeProbe for HostRuntimeProbe {
    fn check(&self, runtime: Runtime) -> Result<(), String> {
        // The lock is held while probing so each runtime is probed once,
        // even when several creates race.
        let mut cache = self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        cache.entry(runtime).or_insert_with(|| self.probe(runtime)).clone()
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

struct VersionOutput {
    status_ok: bool,
    /// stdout, or stderr when stdout is empty (Python 2 printed there).
    text: String,
}

fn run_version(program: &Path) -> Result<VersionOutput, String> {
    let output = Command::new(program)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(|err| format!("cannot run `{} --version`: {err}", program.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let text = if stdout.trim().is_empty() { String::from_utf8_lossy(&output.stderr).into_owned() } else { stdout };
    Ok(VersionOutput { status_ok: output.status.success(), text })
}

/// NN of `nodejsNN.x`.
fn node_major(runtime: Runtime) -> u32 {
    runtime.as_str().trim_start_matches("nodejs").trim_end_matches(".x").parse().unwrap_or(0)
}

/// The major version in `node --version`'s `v20.11.1`.
fn parse_node_major(text: &str) -> Option<u32> {
    text.trim().strip_prefix('v')?.split('.').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn script(dir: &Path, name: &str, body: &str) {
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write script");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }

    #[test]
    fn finds_interpreters_on_the_given_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        script(dir.path(), "python3.12", "echo Python 3.12.1");
        script(dir.path(), "node", "echo v20.11.1");
        let probe = HostRuntimeProbe::with_path(dir.path());
        assert_eq!(probe.check(Runtime::Python312), Ok(()));
        assert_eq!(probe.check(Runtime::Nodejs20), Ok(()));
        assert_eq!(probe.check(Runtime::ProvidedAl2023), Ok(()));
        let missing = probe.check(Runtime::Python313).expect_err("no python3.13");
        assert_eq!(missing, "no executable `python3.13` on PATH");
        let wrong = probe.check(Runtime::Nodejs22).expect_err("node 20 is not 22");
        assert!(wrong.contains("is Node.js 20 (v20.11.1), and nodejs22.x needs Node.js 22"), "{wrong}");
    }

    #[test]
    fn a_broken_interpreter_is_reported_and_results_are_cached() {
        let dir = tempfile::tempdir().expect("tempdir");
        script(dir.path(), "python3.11", "echo 'pyenv: python3.11: command not found' >&2; exit 127");
        std::fs::write(dir.path().join("python3.10"), "not executable").expect("write");
        let probe = HostRuntimeProbe::with_path(dir.path());
        let broken = probe.check(Runtime::Python311).expect_err("broken");
        assert!(broken.contains("command not found"), "{broken}");
        assert_eq!(probe.check(Runtime::Python310), Err("no executable `python3.10` on PATH".to_owned()));
        // Fixing the host is noticed only by a new probe.
        script(dir.path(), "python3.10", "echo Python 3.10.0");
        assert!(probe.check(Runtime::Python310).is_err());
        assert_eq!(HostRuntimeProbe::with_path(dir.path()).check(Runtime::Python310), Ok(()));
    }

    #[test]
    fn node_versions() {
        assert_eq!(node_major(Runtime::Nodejs18), 18);
        assert_eq!(parse_node_major("v22.3.0\n"), Some(22));
        assert_eq!(parse_node_major("22.3.0"), None);
    }
}
