//! `workspace new|select|list|show|delete`: Terraform 1.0.3's messages and
//! exit codes. The selected workspace is kept in `.terraform/environment`
//! (overridden by `TF_WORKSPACE`); each backend decides where a
//! workspace's state lives.

use crate::backend::Backend as _;

use super::{Ctx, Flags, LockOpts, Reported, acquire_lock, load_backend, release_lock};

const USAGE: &str = "Usage: cloudlet infra [global options] workspace

  new, list, show, select and delete Terraform workspaces.

Subcommands:
    delete    Delete a workspace
    list      List Workspaces
    new       Create a new workspace
    select    Select a workspace
    show      Show the name of the current workspace
";

/// `cloudlet infra workspace SUBCOMMAND ...`.
pub fn run(ctx: &mut Ctx<'_>, args: &[String]) -> i32 {
    let Some((sub, rest)) = args.split_first() else {
        ctx.err(USAGE);
        return 1;
    };
    match sub.as_str() {
        "list" => list(ctx, rest),
        "show" => show(ctx, rest),
        "new" => new(ctx, rest),
        "select" => select(ctx, rest),
        "delete" => delete(ctx, rest),
        _ => {
            ctx.err(USAGE);
            1
        }
    }
}

/// Go's `url.PathEscape(name) == name`: only characters a URL path segment
/// carries unescaped.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.~$&+,:;=@".contains(c))
}

fn flags(ctx: &mut Ctx<'_>, args: &[String], known: &[&str], with_value: &[&str]) -> Result<Flags, Reported> {
    Flags::parse(args, known, with_value).map_err(|message| ctx.error("Invalid command-line option", &message))
}

fn set_current(ctx: &mut Ctx<'_>, name: &str) -> Result<(), Reported> {
    let dir = ctx.dir.join(".terraform");
    let result = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(dir.join("environment"), name));
    result.map_err(|e| ctx.error("Failed to select workspace", &format!(".terraform/environment: {e}")))
}

fn workspaces(ctx: &mut Ctx<'_>) -> Result<(crate::backend::local::LocalBackend, Vec<String>), Reported> {
    let backend = load_backend(ctx)?;
    match backend.workspaces() {
        Ok(names) => Ok((backend, names)),
        Err(err) => {
            ctx.err(&format!("{err}\n"));
            Err(Reported)
        }
    }
}

fn list(ctx: &mut Ctx<'_>, args: &[String]) -> i32 {
    let Ok(_) = flags(ctx, args, &[], &[]) else { return 1 };
    let Ok((_, names)) = workspaces(ctx) else { return 1 };
    let current = ctx.workspace();
    let mut out = String::new();
    for name in names {
        out.push_str(if name == current { "* " } else { "  " });
        out.push_str(&name);
        out.push('\n');
    }
    out.push('\n');
    ctx.out(&out);
    0
}

fn show(ctx: &mut Ctx<'_>, args: &[String]) -> i32 {
    let Ok(_) = flags(ctx, args, &[], &[]) else { return 1 };
    let current = ctx.workspace();
    ctx.out(&format!("{current}\n"));
    0
}

fn override_error(ctx: &mut Ctx<'_>, what: &str) -> i32 {
    ctx.err(&format!(
        "\nThe workspace is currently overridden using the TF_WORKSPACE environment\nvariable. You cannot {what} when using this setting.\n\nTo {} a new workspace, either unset this environment variable or update it\nto match the workspace name you are trying to {}, and then run this command\nagain.\n",
        if what.starts_with("create") { "create" } else { "select" },
        if what.starts_with("create") { "create" } else { "select" },
    ));
    1
}

fn new(ctx: &mut Ctx<'_>, args: &[String]) -> i32 {
    let Ok(f) = flags(ctx, args, &["lock", "lock-timeout", "state"], &["lock-timeout", "state"]) else { return 1 };
    let [name] = f.args.as_slice() else {
        ctx.err("Expected a single argument: NAME.\n\n");
        ctx.err(USAGE);
        return 1;
    };
    if ctx.tf_workspace.as_deref().is_some_and(|w| !w.is_empty() && w != name) {
        return override_error(ctx, "create a new workspace");
    }
    if !valid_name(name) {
        ctx.err(&format!("\nThe workspace name {name:?} is not allowed. The name must contain only URL safe\ncharacters, and no path separators.\n\n"));
        return 1;
    }
    let Ok(opts) = LockOpts::from_flags(&f).map_err(|m| ctx.error("Invalid command-line option", &m)) else {
        return 1;
    };
    let Ok((backend, names)) = workspaces(ctx) else { return 1 };
    if names.iter().any(|n| n == name) {
        ctx.err(&format!("Workspace {name:?} already exists\n"));
        return 1;
    }
    if let Err(err) = backend.create_workspace(name) {
        ctx.err(&format!("{err}\n"));
        return 1;
    }
    if let Some(path) = f.value("state") {
        let initial = match std::fs::read(ctx.dir.join(path)).map(|b| crate::state::parse(&b)) {
            Ok(Ok(s)) => s,
            Ok(Err(err)) => {
                ctx.err(&format!("Error reading source state {path:?}: {err}\n"));
                return 1;
            }
            Err(e) => {
                ctx.err(&format!("Error reading source state {path:?}: {e}\n"));
                return 1;
            }
        };
        if let Some(initial) = initial {
            let Ok(lock) = acquire_lock(ctx, &backend, name, opts, "OperationTypeInvalid") else { return 1 };
            if let Err(err) = backend.put_state(name, &initial) {
                ctx.err(&format!("{err}\n"));
                release_lock(ctx, &backend, name, lock);
                return 1;
            }
            if !release_lock(ctx, &backend, name, lock) {
                return 1;
            }
        }
    }
    if set_current(ctx, name).is_err() {
        return 1;
    }
    ctx.out(&format!("Created and switched to workspace {name:?}!\n\nYou're now on a new, empty workspace. Workspaces isolate their state,\nso if you run \"terraform plan\" Terraform will not see any existing state\nfor this configuration.\n"));
    0
}

fn select(ctx: &mut Ctx<'_>, args: &[String]) -> i32 {
    let Ok(f) = flags(ctx, args, &["or-create"], &[]) else { return 1 };
    let [name] = f.args.as_slice() else {
        ctx.err("Expected a single argument: NAME.\n\n");
        ctx.err(USAGE);
        return 1;
    };
    if ctx.tf_workspace.as_deref().is_some_and(|w| !w.is_empty() && w != name) {
        return override_error(ctx, "select a new workspace");
    }
    if !valid_name(name) {
        ctx.err(&format!("\nThe workspace name {name:?} is not allowed. The name must contain only URL safe\ncharacters, and no path separators.\n\n"));
        return 1;
    }
    if ctx.workspace() == *name {
        return 0;
    }
    let Ok((_, names)) = workspaces(ctx) else { return 1 };
    if !names.iter().any(|n| n == name) {
        if f.bool("or-create", false).unwrap_or(false) {
            return new(ctx, std::slice::from_ref(name));
        }
        ctx.err(&format!(
            "\nWorkspace {name:?} doesn't exist.\n\nYou can create this workspace with the \"new\" subcommand.\n"
        ));
        return 1;
    }
    if set_current(ctx, name).is_err() {
        return 1;
    }
    ctx.out(&format!("Switched to workspace {name:?}.\n"));
    0
}

fn delete(ctx: &mut Ctx<'_>, args: &[String]) -> i32 {
    let Ok(f) = flags(ctx, args, &["force", "lock", "lock-timeout"], &["lock-timeout"]) else { return 1 };
    let [name] = f.args.as_slice() else {
        ctx.err("Expected a single argument: NAME.\n\n");
        ctx.err(USAGE);
        return 1;
    };
    let force = f.bool("force", false).unwrap_or(false);
    let Ok(opts) = LockOpts::from_flags(&f).map_err(|m| ctx.error("Invalid command-line option", &m)) else {
        return 1;
    };
    let Ok((backend, names)) = workspaces(ctx) else { return 1 };
    if !names.iter().any(|n| n == name) {
        ctx.err(&format!(
            "Workspace {name:?} doesn't exist.\n\nYou can create this workspace with the \"new\" subcommand.\n"
        ));
        return 1;
    }
    if ctx.workspace() == *name {
        ctx.err(&format!("Workspace {name:?} is your active workspace.\n\nYou cannot delete the currently active workspace. Please switch\nto another workspace and try again.\n"));
        return 1;
    }
    let Ok(lock) = acquire_lock(ctx, &backend, name, opts, "OperationTypeInvalid") else { return 1 };
    let non_empty = match backend.read_state(name) {
        Ok(state) => state.is_some_and(|s| s.has_resources()),
        Err(err) => {
            ctx.err(&format!("Failed to load state: {err}\n"));
            release_lock(ctx, &backend, name, lock);
            return 1;
        }
    };
    if non_empty && !force {
        ctx.err(&format!("Workspace {name:?} is not empty.\n\nDeleting {name:?} can result in dangling resources: resources that\nexist but are no longer manageable by Terraform. Please destroy\nthese resources first.  If you want to delete this workspace\nanyway and risk dangling resources, use the '-force' flag.\n"));
        release_lock(ctx, &backend, name, lock);
        return 1;
    }
    // The lock goes with the workspace's files: release it first, as
    // Terraform does, then delete.
    if !release_lock(ctx, &backend, name, lock) {
        return 1;
    }
    if let Err(err) = backend.delete_workspace(name) {
        ctx.err(&format!("{err}\n"));
        return 1;
    }
    let mut out = format!("Deleted workspace {name:?}!\n");
    if non_empty {
        out.push_str(&format!("WARNING: {name:?} was non-empty.\nThe resources managed by the deleted workspace may still exist,\nbut are no longer manageable by Terraform since the state has\nbeen deleted.\n\n"));
    }
    ctx.out(&out);
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_must_be_url_path_safe() {
        assert!(valid_name("dev"));
        assert!(valid_name("a.b-c_d~e@f"));
        assert!(!valid_name("bad/name"));
        assert!(!valid_name("sp ace"));
        assert!(!valid_name("é"));
        assert!(!valid_name(""));
    }
}
