//! `fmt [-list=false] [-write=false] [-diff] [-check] [-recursive]
//! [TARGET]`: rewrites `.tf` and `.tfvars` files in Terraform's canonical
//! style (`crate::fmt`). TARGET is a directory (default `.`), a file, or
//! `-` for standard input. Exit codes as Terraform's: 0, 2 on a syntax
//! error, 3 when `-check` finds a file to reformat.
//!
//! `-diff` runs `diff -u`, as Terraform does.

use std::path::{Path, PathBuf};

use super::{Ctx, Flags};

struct Options {
    list: bool,
    write: bool,
    diff: bool,
    check: bool,
    recursive: bool,
}

/// `cloudlet infra fmt ...`.
pub fn run(ctx: &mut Ctx<'_>, args: &[String]) -> i32 {
    let flags = match Flags::parse(args, &["list", "write", "diff", "check", "recursive"], &[]) {
        Ok(f) => f,
        Err(message) => {
            ctx.error("Invalid command-line option", &message);
            return 1;
        }
    };
    let parsed = (|| -> Result<Options, String> {
        let check = flags.bool("check", false)?;
        Ok(Options {
            list: flags.bool("list", true)?,
            write: flags.bool("write", true)? && !check,
            diff: flags.bool("diff", false)?,
            check,
            recursive: flags.bool("recursive", false)?,
        })
    })();
    let mut opts = match parsed {
        Ok(o) => o,
        Err(message) => {
            ctx.error("Invalid command-line option", &message);
            return 1;
        }
    };
    let target = match flags.args.as_slice() {
        [] => ".".to_owned(),
        [one] => one.clone(),
        _ => {
            ctx.err("The fmt command expects at most one argument.\n");
            return 1;
        }
    };
    if target == "-" {
        opts.list = false;
        opts.write = false;
        let mut src = String::new();
        if let Err(e) = std::io::Read::read_to_string(&mut ctx.stdin, &mut src) {
            ctx.error("Failed to read standard input", &e.to_string());
            return 2;
        }
        return match crate::fmt::format(&src) {
            Ok(out) => {
                let changed = out != src;
                if opts.diff {
                    if changed {
                        show_diff(ctx, "<stdin>", &src, &out);
                    }
                } else {
                    ctx.out(&out);
                }
                if opts.check && changed { 3 } else { 0 }
            }
            Err(e) => {
                ctx.error("Invalid configuration syntax", &format!("<stdin> line {}: {}", e.line, e.message));
                2
            }
        };
    }
    let path = ctx.dir.join(&target);
    let mut files = Vec::new();
    match std::fs::metadata(&path) {
        Ok(m) if m.is_dir() => collect(&path, Path::new(&target), opts.recursive, &mut files),
        Ok(_) => files.push((path.clone(), display_path(Path::new(&target)))),
        Err(_) => {
            ctx.error(&format!("No file or directory at {target}"), "");
            return 2;
        }
    }
    let mut failed = false;
    let mut changed_any = false;
    for (file, shown) in files {
        let src = match std::fs::read_to_string(&file) {
            Ok(s) => s,
            Err(e) => {
                ctx.error("Failed to read file", &format!("The file {shown:?} could not be read: {e}"));
                failed = true;
                continue;
            }
        };
        let out = match crate::fmt::format(&src) {
            Ok(o) => o,
            Err(e) => {
                let line_text = src.lines().nth(e.line.saturating_sub(1)).unwrap_or("");
                ctx.err(&format!(
                    "\nError: Invalid configuration syntax\n\n  on {shown} line {}:\n{:>4}: {line_text}\n\n{}\n\n",
                    e.line, e.line, e.message
                ));
                failed = true;
                continue;
            }
        };
        if out != src {
            changed_any = true;
            if opts.list {
                ctx.out(&format!("{shown}\n"));
            }
            if opts.write
                && let Err(e) = std::fs::write(&file, &out)
            {
                ctx.error("Failed to write file", &format!("{shown}: {e}"));
                failed = true;
            }
            if opts.diff {
                show_diff(ctx, &shown, &src, &out);
            }
        }
        if !opts.list && !opts.write && !opts.diff {
            ctx.out(&out);
        }
    }
    if failed {
        2
    } else if opts.check && changed_any {
        3
    } else {
        0
    }
}

/// `dir/name` as Go's `filepath.Join` prints it (`.` disappears).
fn display_path(p: &Path) -> String {
    let text = p.to_string_lossy();
    text.strip_prefix("./").unwrap_or(&text).to_owned()
}

/// The `.tf` and `.tfvars` files of a directory in name order, then (with
/// `recursive`) those of its subdirectories.
fn collect(dir: &Path, shown: &Path, recursive: bool, out: &mut Vec<(PathBuf, String)>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        let shown_path = if shown == Path::new(".") { PathBuf::from(&name) } else { shown.join(&name) };
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            if recursive {
                collect(&path, &shown_path, true, out);
            }
            continue;
        }
        if name.ends_with(".tf") || name.ends_with(".tfvars") {
            out.push((path, display_path(&shown_path)));
        }
    }
}

/// `diff -u` with Terraform's labels (`old/PATH`, `new/PATH`).
fn show_diff(ctx: &mut Ctx<'_>, shown: &str, old: &str, new: &str) {
    let tag = uuid::Builder::from_random_bytes((ctx.random)()).into_uuid().simple().to_string();
    let dir = std::env::temp_dir();
    let (a, b) = (dir.join(format!("cloudlet-fmt-{tag}-old")), dir.join(format!("cloudlet-fmt-{tag}-new")));
    let result = std::fs::write(&a, old).and_then(|()| std::fs::write(&b, new)).and_then(|()| {
        std::process::Command::new("diff")
            .arg(format!("--label=old/{shown}"))
            .arg(format!("--label=new/{shown}"))
            .arg("-u")
            .arg(&a)
            .arg(&b)
            .output()
    });
    let _ = std::fs::remove_file(&a);
    let _ = std::fs::remove_file(&b);
    match result {
        Ok(output) => {
            let _ = ctx.stdout.write_all(&output.stdout);
        }
        Err(e) => {
            ctx.error("Failed to generate a diff", &format!("{shown}: running diff: {e}"));
        }
    }
}
