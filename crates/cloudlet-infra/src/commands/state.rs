//! `state list|show|mv|rm|pull|push`: Terraform's state management
//! commands, with its messages and exit codes.
//!
//! `mv` and `rm` take the lock (`-lock`, `-lock-timeout`), write a
//! timestamped backup `<state>.<unix-seconds>.backup` before changing a
//! local state (or `-backup=PATH`, `-backup=-` for none) and support
//! `-dry-run`; `push` refuses another lineage or a lower serial unless
//! `-force`.

use crate::backend::Backend as _;
use crate::backend::check_valid_import;
use crate::backend::local::{Backup, DEFAULT_WORKSPACE_DIR, LocalBackend};
use crate::state::addr::{self, Address};
use crate::state::{IndexKey, InstanceState, State, render};

use super::{Ctx, Flags, LockOpts, Reported, acquire_lock, load_backend, release_lock};

const USAGE: &str = "Usage: cloudlet infra [global options] state <subcommand> [options] [args]

  This command has subcommands for advanced state management.

  These subcommands can be used to slice and dice the Terraform state.
  This is sometimes necessary in advanced cases. For your safety, all
  state management commands that modify the state create a timestamped
  backup of the state prior to making modifications.

Subcommands:
    list                List resources in the state
    mv                  Move an item in the state
    pull                Pull current state and output to stdout
    push                Update remote state from a local state file
    rm                  Remove instances from the state
    show                Show a resource in the state
";

const NO_STATE: &str = "No state file was found!

State management commands require a state file. Run this command
in a directory where Terraform has been run or use the -state flag
to point the command to a specific state location.
";

/// `cloudlet infra state SUBCOMMAND ...`.
pub fn run(ctx: &mut Ctx<'_>, args: &[String]) -> i32 {
    let Some((sub, rest)) = args.split_first() else {
        ctx.err(USAGE);
        return 1;
    };
    match sub.as_str() {
        "list" => list(ctx, rest),
        "show" => show(ctx, rest),
        "mv" => mv(ctx, rest),
        "rm" => rm(ctx, rest),
        "pull" => pull(ctx, rest),
        "push" => push(ctx, rest),
        _ => {
            ctx.err(USAGE);
            1
        }
    }
}

/// The backend and workspace a state command works on: `-state=PATH`
/// names a local state file directly (the `default` workspace of a local
/// backend at that path).
fn target(ctx: &mut Ctx<'_>, flags: &Flags) -> Result<(LocalBackend, String), Reported> {
    match flags.value("state") {
        Some(path) => Ok((LocalBackend::with_paths(&ctx.dir, path, DEFAULT_WORKSPACE_DIR), "default".to_owned())),
        None => {
            let backend = load_backend(ctx)?;
            let ws = ctx.workspace();
            Ok((backend, ws))
        }
    }
}

fn parse_flags(ctx: &mut Ctx<'_>, args: &[String], known: &[&str], with_value: &[&str]) -> Result<Flags, Reported> {
    Flags::parse(args, known, with_value).map_err(|message| ctx.error("Invalid command-line option", &message))
}

/// Reads the state; prints Terraform's "Failed to load state" or "No state
/// file was found!" when there is none to work on.
fn load(ctx: &mut Ctx<'_>, backend: &LocalBackend, ws: &str) -> Result<State, Reported> {
    match backend.read_state(ws) {
        Ok(Some(state)) => Ok(state),
        Ok(None) => {
            ctx.err(NO_STATE);
            Err(Reported)
        }
        Err(err) => {
            ctx.err(&format!("Failed to load state: {err}\n"));
            Err(Reported)
        }
    }
}

fn parse_addresses(ctx: &mut Ctx<'_>, texts: &[String], summary: &str) -> Result<Vec<Address>, Reported> {
    let mut out = Vec::new();
    for text in texts {
        match addr::parse(text) {
            Ok(a) => out.push(a),
            Err(detail) => {
                ctx.error(summary, &format!("Error parsing instance address: {text}\n\n{detail}"));
                return Err(Reported);
            }
        }
    }
    Ok(out)
}

/// Every current (not deposed) instance address of the state, in
/// Terraform's order (the root module first, then modules by path; data
/// before managed, then type, name and key), with the positions of its
/// resource and instance in `state`.
fn instances(state: &State) -> Vec<(String, usize, usize)> {
    let mut order: Vec<usize> = (0..state.resources.len()).collect();
    order.sort_by(|&a, &b| {
        let key = |r: &crate::state::ResourceState| {
            (r.module.clone().unwrap_or_default(), r.mode.as_str(), r.type_.clone(), r.name.clone())
        };
        key(&state.resources[a]).cmp(&key(&state.resources[b]))
    });
    let mut out = Vec::new();
    for ri in order {
        let r = &state.resources[ri];
        let mut keys: Vec<usize> = (0..r.instances.len()).filter(|&i| r.instances[i].deposed.is_none()).collect();
        keys.sort_by(|&a, &b| {
            let rank = |k: &Option<IndexKey>| match k {
                None => 0,
                Some(IndexKey::Int(_)) => 1,
                Some(IndexKey::String(_)) => 2,
            };
            let (ka, kb) = (&r.instances[a].index_key, &r.instances[b].index_key);
            rank(ka).cmp(&rank(kb)).then_with(|| ka.cmp(kb))
        });
        for ii in keys {
            out.push((r.instance_address(r.instances[ii].index_key.as_ref()), ri, ii));
        }
    }
    out
}

fn list(ctx: &mut Ctx<'_>, args: &[String]) -> i32 {
    let Ok(flags) = parse_flags(ctx, args, &["state", "id"], &["state", "id"]) else { return 1 };
    let Ok((backend, ws)) = target(ctx, &flags) else { return 1 };
    let Ok(addrs) = parse_addresses(ctx, &flags.args, "Error parsing instance address") else { return 1 };
    let Ok(state) = load(ctx, &backend, &ws) else { return 1 };
    let id = flags.value("id");
    let mut out = String::new();
    for a in &addrs {
        let found = state
            .resources
            .iter()
            .any(|r| a.selects_resource(r) && r.instances.iter().any(|i| a.selects_instance(i.index_key.as_ref())));
        if !found {
            ctx.error(
                "Unknown resource",
                &format!("The current state contains no resource {a}. If you've just added this\nresource to the configuration, you must run \"terraform apply\" first to create\nthe resource's entry in the state."),
            );
            return 1;
        }
    }
    for (address, ri, ii) in instances(&state) {
        let r = &state.resources[ri];
        let inst = &r.instances[ii];
        if !addrs.is_empty()
            && !addrs.iter().any(|a| a.selects_resource(r) && a.selects_instance(inst.index_key.as_ref()))
        {
            continue;
        }
        if let Some(id) = id
            && inst.attributes.get("id").and_then(serde_json::Value::as_str) != Some(id)
        {
            continue;
        }
        out.push_str(&address);
        out.push('\n');
    }
    ctx.out(&out);
    0
}

fn show(ctx: &mut Ctx<'_>, args: &[String]) -> i32 {
    let Ok(flags) = parse_flags(ctx, args, &["state"], &["state"]) else { return 1 };
    let [text] = flags.args.as_slice() else {
        ctx.err(
            "Exactly one argument expected.\n\nUsage: cloudlet infra [global options] state show [options] ADDRESS\n",
        );
        return 1;
    };
    let Ok(addrs) = parse_addresses(ctx, std::slice::from_ref(text), "Error parsing instance address") else {
        return 1;
    };
    let Ok((backend, ws)) = target(ctx, &flags) else { return 1 };
    let Ok(state) = load(ctx, &backend, &ws) else { return 1 };
    let a = &addrs[0];
    let found = a.resource.as_ref().and_then(|ra| {
        let r = state.resources.iter().find(|r| a.selects_resource(r))?;
        let inst = r.instances.iter().find(|i| i.deposed.is_none() && i.index_key == ra.key)?;
        Some((r, inst))
    });
    match found {
        Some((r, inst)) => {
            ctx.out(&render::instance(r, inst));
            0
        }
        None => {
            ctx.err("No instance found for the given address!\n\nThis command requires that the address references one specific instance.\nTo view the available instances, use \"terraform state list\". Please modify \nthe address to reference a specific instance.\n");
            1
        }
    }
}

/// `-backup`: the timestamped backup Terraform's state commands write.
fn backup_for(ctx: &Ctx<'_>, flags: &Flags, backend: &LocalBackend, ws: &str) -> Backup {
    match flags.value("backup") {
        Some("-") => Backup::Off,
        Some(path) => Backup::Path(path.into()),
        None => {
            let secs = ctx.clock.now_unix_nanos() / 1_000_000_000;
            let mut path = backend.state_path(ws).into_os_string();
            path.push(format!(".{secs}.backup"));
            Backup::Path(path.into())
        }
    }
}

/// Runs `change` on the state under the lock and writes the result unless
/// `dry_run`; `change` prints its own lines and fails with its own
/// diagnostic.
fn modify(
    ctx: &mut Ctx<'_>,
    flags: &Flags,
    operation: &str,
    change: impl FnOnce(&mut Ctx<'_>, &mut State) -> Result<(), Reported>,
) -> i32 {
    let opts = match LockOpts::from_flags(flags) {
        Ok(o) => o,
        Err(message) => {
            ctx.error("Invalid command-line option", &message);
            return 1;
        }
    };
    let dry_run = match flags.bool("dry-run", false) {
        Ok(d) => d,
        Err(message) => {
            ctx.error("Invalid command-line option", &message);
            return 1;
        }
    };
    let Ok((mut backend, ws)) = target(ctx, flags) else { return 1 };
    let backup = backup_for(ctx, flags, &backend, &ws);
    backend.set_backup(backup);
    let Ok(lock) = acquire_lock(ctx, &backend, &ws, opts, operation) else { return 1 };
    let code = (|| {
        let Ok(mut state) = load(ctx, &backend, &ws) else { return 1 };
        if change(ctx, &mut state).is_err() {
            return 1;
        }
        if dry_run {
            return 0;
        }
        if let Err(err) = backend.write_state(&ws, &state) {
            ctx.err(&format!("Error writing state: {err}\n"));
            return 1;
        }
        0
    })();
    if !release_lock(ctx, &backend, &ws, lock) {
        return 1;
    }
    code
}

fn mv(ctx: &mut Ctx<'_>, args: &[String]) -> i32 {
    let Ok(flags) = parse_flags(
        ctx,
        args,
        &["dry-run", "lock", "lock-timeout", "state", "backup", "ignore-remote-version"],
        &["lock-timeout", "state", "backup"],
    ) else {
        return 1;
    };
    let [src_text, dst_text] = flags.args.as_slice() else {
        ctx.err("Exactly two arguments expected.\n\nUsage: cloudlet infra [global options] state mv [options] SOURCE DESTINATION\n");
        return 1;
    };
    let Ok(src) = parse_addresses(ctx, std::slice::from_ref(src_text), "Invalid source address") else { return 1 };
    let Ok(dst) = parse_addresses(ctx, std::slice::from_ref(dst_text), "Invalid target address") else { return 1 };
    let (src, dst) = (src[0].clone(), dst[0].clone());
    let dry_run = flags.bool("dry-run", false).unwrap_or(false);
    modify(ctx, &flags, "state-mv", |ctx, state| {
        move_objects(state, &src, &dst).map_err(|(summary, detail)| ctx.error(&summary, &detail))?;
        if dry_run {
            ctx.out(&format!("Would move {:?} to {:?}\n", src.to_string(), dst.to_string()));
        } else {
            ctx.out(&format!("Move {:?} to {:?}\nSuccessfully moved 1 object(s).\n", src.to_string(), dst.to_string()));
        }
        Ok(())
    })
}

/// Moves a module, a resource or one instance to a new address, with
/// Terraform's refusals as (summary, detail).
pub fn move_objects(state: &mut State, src: &Address, dst: &Address) -> Result<(), (String, String)> {
    let no_match = || {
        (
            "Invalid source address".to_owned(),
            format!("Cannot move {src}: does not match anything in the current state."),
        )
    };
    match (&src.resource, &dst.resource) {
        (None, None) => {
            let from = addr::module_path(&src.module);
            let to = addr::module_path(&dst.module);
            if !state.resources.iter().any(|r| src.selects_resource(r)) {
                return Err(no_match());
            }
            if state.resources.iter().any(|r| dst.selects_resource(r)) {
                return Err((
                    "Invalid target address".to_owned(),
                    format!("Cannot move to {dst}: there is already a module instance at this address."),
                ));
            }
            for r in state.resources.iter_mut().filter(|r| src.selects_resource(r)) {
                let module = r.module.clone().unwrap_or_default();
                let rest = &module[from.len()..];
                r.module = Some(format!("{to}{rest}"));
            }
            Ok(())
        }
        (Some(sr), Some(dr)) => {
            if sr.mode != dr.mode || sr.type_ != dr.type_ {
                return Err((
                    "Invalid state move request".to_owned(),
                    format!("Cannot move {src} to {dst}: resource types don't match."),
                ));
            }
            let Some(ri) = state.resources.iter().position(|r| src.selects_resource(r)) else {
                return Err(no_match());
            };
            let instance_move = sr.key.is_some() || dr.key.is_some();
            if !instance_move {
                if state.resources.iter().any(|r| dst.selects_resource(r) && !r.instances.is_empty()) {
                    return Err((
                        "Invalid target address".to_owned(),
                        format!("Cannot move to {dst}: there is already a resource at this address."),
                    ));
                }
                state.resources.retain(|r| !(dst.selects_resource(r) && r.instances.is_empty()));
                let ri = state.resources.iter().position(|r| src.selects_resource(r)).unwrap_or(ri);
                let r = &mut state.resources[ri];
                r.module = dst.module_string();
                r.name = dr.name.clone();
                return Ok(());
            }
            let Some(ii) =
                state.resources[ri].instances.iter().position(|i| i.deposed.is_none() && i.index_key == sr.key)
            else {
                return Err(no_match());
            };
            let exists = state.resources.iter().any(|r| {
                dst.selects_resource(r) && r.instances.iter().any(|i| i.deposed.is_none() && i.index_key == dr.key)
            });
            if exists {
                return Err((
                    "Invalid target address".to_owned(),
                    format!("Cannot move to {dst}: there is already a resource instance at this address."),
                ));
            }
            let provider = state.resources[ri].provider.clone();
            let mut inst: InstanceState = state.resources[ri].instances.remove(ii);
            inst.index_key = dr.key.clone();
            state.resources.retain(|r| !r.instances.is_empty());
            let module = dst.module_string();
            state.resource_mut(module.as_deref(), dr.mode, &dr.type_, &dr.name, &provider).instances.push(inst);
            Ok(())
        }
        _ => Err((
            "Invalid state move request".to_owned(),
            format!("Cannot move {src} to {dst}: a module moves only to a module and a resource only to a resource."),
        )),
    }
}

fn rm(ctx: &mut Ctx<'_>, args: &[String]) -> i32 {
    let Ok(flags) = parse_flags(
        ctx,
        args,
        &["dry-run", "lock", "lock-timeout", "state", "backup", "ignore-remote-version"],
        &["lock-timeout", "state", "backup"],
    ) else {
        return 1;
    };
    if flags.args.is_empty() {
        ctx.err("At least one address is required.\n\nUsage: cloudlet infra [global options] state rm [options] ADDRESS...\n");
        return 1;
    }
    let Ok(addrs) = parse_addresses(ctx, &flags.args, "Invalid target address") else { return 1 };
    let dry_run = flags.bool("dry-run", false).unwrap_or(false);
    modify(ctx, &flags, "state-rm", |ctx, state| {
        let removed = remove_objects(state, &addrs).map_err(|(summary, detail)| ctx.error(&summary, &detail))?;
        let mut out = String::new();
        for address in &removed {
            if dry_run {
                out.push_str(&format!("Would remove {address}\n"));
            } else {
                out.push_str(&format!("Removed {address}\n"));
            }
        }
        if !dry_run {
            out.push_str(&format!("Successfully removed {} resource instance(s).\n", removed.len()));
        }
        ctx.out(&out);
        Ok(())
    })
}

/// Removes every instance the addresses select and returns their
/// addresses in the order given; an address that selects nothing is
/// Terraform's "Invalid target address".
pub fn remove_objects(state: &mut State, addrs: &[Address]) -> Result<Vec<String>, (String, String)> {
    let mut removed = Vec::new();
    let mut picked: Vec<(usize, Option<IndexKey>)> = Vec::new();
    let order = instances(state);
    for a in addrs {
        let before = picked.len();
        for (address, ri, ii) in &order {
            let r = &state.resources[*ri];
            let key = r.instances[*ii].index_key.clone();
            if a.selects_resource(r) && a.selects_instance(key.as_ref()) && !picked.contains(&(*ri, key.clone())) {
                picked.push((*ri, key));
                removed.push(address.clone());
            }
        }
        if picked.len() == before {
            return Err((
                "Invalid target address".to_owned(),
                "No matching objects found. To view the available instances, use \"terraform\nstate list\". Please modify the address to reference a specific instance.".to_owned(),
            ));
        }
    }
    for (ri, key) in &picked {
        state.resources[*ri].instances.retain(|i| &i.index_key != key);
    }
    state.resources.retain(|r| !r.instances.is_empty());
    Ok(removed)
}

fn pull(ctx: &mut Ctx<'_>, args: &[String]) -> i32 {
    let Ok(_flags) = parse_flags(ctx, args, &[], &[]) else { return 1 };
    let Ok(backend) = load_backend(ctx) else { return 1 };
    let ws = ctx.workspace();
    match backend.read_state(&ws) {
        Ok(Some(state)) => {
            ctx.out(&state.to_json());
            0
        }
        Ok(None) => 0,
        Err(err) => {
            ctx.err(&format!("Failed to load state: {err}\n"));
            1
        }
    }
}

fn push(ctx: &mut Ctx<'_>, args: &[String]) -> i32 {
    let Ok(flags) =
        parse_flags(ctx, args, &["force", "lock", "lock-timeout", "ignore-remote-version"], &["lock-timeout"])
    else {
        return 1;
    };
    let [source] = flags.args.as_slice() else {
        ctx.err("Exactly one argument expected.\n\nUsage: cloudlet infra [global options] state push [options] PATH\n");
        return 1;
    };
    let opts = match LockOpts::from_flags(&flags) {
        Ok(o) => o,
        Err(message) => {
            ctx.error("Invalid command-line option", &message);
            return 1;
        }
    };
    let force = flags.bool("force", false).unwrap_or(false);
    let Ok(backend) = load_backend(ctx) else { return 1 };
    let ws = ctx.workspace();
    let Ok(lock) = acquire_lock(ctx, &backend, &ws, opts, "state-push") else { return 1 };
    let code = (|| {
        let bytes = if source == "-" {
            let mut buf = Vec::new();
            if let Err(e) = std::io::Read::read_to_end(&mut ctx.stdin, &mut buf) {
                ctx.err(&format!("Error reading source state \"-\": {e}\n"));
                return 1;
            }
            buf
        } else {
            match std::fs::read(ctx.dir.join(source)) {
                Ok(b) => b,
                Err(e) => {
                    ctx.err(&format!("Error reading source state {source:?}: {e}\n"));
                    return 1;
                }
            }
        };
        let new = match crate::state::parse(&bytes) {
            Ok(Some(s)) => s,
            Ok(None) => {
                ctx.err(&format!("Error reading source state {source:?}: no state\n"));
                return 1;
            }
            Err(err) => {
                ctx.err(&format!("Error reading source state {source:?}: {err}\n"));
                return 1;
            }
        };
        let existing = match backend.read_state(&ws) {
            Ok(s) => s,
            Err(err) => {
                ctx.err(&format!("Failed to load state: {err}\n"));
                return 1;
            }
        };
        if !force && let Err(message) = check_valid_import(&new, existing.as_ref()) {
            ctx.err(&format!("Failed to write state: {message}\n"));
            return 1;
        }
        if let Err(err) = backend.put_state(&ws, &new) {
            ctx.err(&format!("Failed to write state: {err}\n"));
            return 1;
        }
        0
    })();
    if !release_lock(ctx, &backend, &ws, lock) {
        return 1;
    }
    code
}
