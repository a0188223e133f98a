//! Shells for `run:` steps: GitHub's built-in templates and custom
//! `command {0}` templates, turned into a program, its arguments and the
//! script's file extension. Pure apart from looking `bash` up on `PATH`.

use std::path::Path;

/// How one `run:` step is started.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShellCommand {
    pub program: String,
    /// Arguments; `{0}` is replaced by the script's path.
    pub args: Vec<String>,
    /// The script file's extension (`.sh`, `.py`, `.ps1`, or none).
    pub extension: &'static str,
    /// Text added around the script (PowerShell's error handling).
    pub prelude: &'static str,
    pub postlude: &'static str,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ShellError {
    #[error("invalid shell option '{0}': a custom shell must contain '{{0}}', the script's path")]
    NoPlaceholder(String),
    #[error("invalid shell option: the shell is empty")]
    Empty,
}

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_owned).collect()
}

/// The command for `shell:` (`None`: not given anywhere), as on Linux.
/// `bash_on_path` says whether `bash` can be found (the default falls back
/// to `sh` when it cannot).
pub fn shell_command(shell: Option<&str>, bash_on_path: bool) -> Result<ShellCommand, ShellError> {
    let cmd = |s: &str, ext: &'static str| ShellCommand {
        program: words(s).remove(0),
        args: words(s).split_off(1),
        extension: ext,
        prelude: "",
        postlude: "",
    };
    Ok(match shell.map(str::trim) {
        None if bash_on_path => cmd("bash -e {0}", ".sh"),
        None => cmd("sh -e {0}", ".sh"),
        Some("bash") => cmd("bash --noprofile --norc -eo pipefail {0}", ".sh"),
        Some("sh") => cmd("sh -e {0}", ".sh"),
        Some("python") => cmd("python {0}", ".py"),
        Some("pwsh") | Some("powershell") => ShellCommand {
            program: shell.unwrap_or("pwsh").trim().to_owned(),
            args: vec!["-command".to_owned(), ". '{0}'".to_owned()],
            extension: ".ps1",
            prelude: "$ErrorActionPreference = 'stop'\n",
            postlude: "\nif ((Test-Path -LiteralPath variable:\\LASTEXITCODE)) { exit $LASTEXITCODE }",
        },
        Some("") => return Err(ShellError::Empty),
        Some(custom) => {
            if !custom.contains("{0}") {
                return Err(ShellError::NoPlaceholder(custom.to_owned()));
            }
            cmd(custom, "")
        }
    })
}

/// Whether `program` is an executable file in one of `path`'s directories.
pub fn on_path(program: &str, path: &str) -> bool {
    std::env::split_paths(path).any(|d| is_executable(&d.join(program)))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

impl ShellCommand {
    /// The argument list with the script path in place of `{0}`.
    pub fn args_for(&self, script: &str) -> Vec<String> {
        self.args.iter().map(|a| a.replace("{0}", script)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(shell: Option<&str>, bash: bool) -> String {
        match shell_command(shell, bash) {
            Ok(c) => format!("{} {}", c.program, c.args_for("/t/s.sh").join(" ")),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn githubs_templates() {
        assert_eq!(line(None, true), "bash -e /t/s.sh");
        assert_eq!(line(None, false), "sh -e /t/s.sh");
        assert_eq!(line(Some("bash"), true), "bash --noprofile --norc -eo pipefail /t/s.sh");
        assert_eq!(line(Some("sh"), true), "sh -e /t/s.sh");
        assert_eq!(line(Some("python"), true), "python /t/s.sh");
        assert_eq!(line(Some("perl -w {0} extra"), true), "perl -w /t/s.sh extra");
        assert_eq!(
            line(Some("perl"), true),
            "invalid shell option 'perl': a custom shell must contain '{0}', the script's path"
        );
        assert_eq!(shell_command(Some("pwsh"), true).map(|c| c.extension), Ok(".ps1"));
    }
}
