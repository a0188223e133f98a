//! `apply` (and `destroy`, which is `apply -destroy`): plan, show the
//! plan, ask for confirmation unless `-auto-approve` (or a saved plan file
//! is given), then walk again with the executor so every change runs with
//! at most `-parallelism` provider calls in flight and lands in the state
//! as it finishes. Snapshots are written every 20 s of a long apply; after
//! the first Ctrl-C no new change starts, the ones in flight finish, and
//! the state is written and the lock released.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::apply::{ClockMs, Executor};
use crate::backend::{Backend as _, OPERATION_APPLY};
use crate::plan::{PlanMode, PlanOptions, WalkInput, Walker, values};
use crate::state::{OutputState, State};

use super::plan::error;
use super::plan::{
    PLAN_FLAGS, Session, WITH_VALUE, make_plan, open_session, parse_flags, plan_options, read_plan_file, refresh_lines,
};
use super::{Ctx, Flags, ask, release_lock};

/// Set by the binary's SIGINT handler: stop starting new work.
static INTERRUPTED: std::sync::OnceLock<Arc<AtomicBool>> = std::sync::OnceLock::new();

fn interrupt_flag() -> Arc<AtomicBool> {
    INTERRUPTED.get_or_init(|| Arc::new(AtomicBool::new(false))).clone()
}

/// Asks a running apply to stop after what is in flight (the first
/// Ctrl-C); returns whether it had been asked already (the second).
pub fn interrupt() -> bool {
    interrupt_flag().swap(true, Ordering::SeqCst)
}

/// `cloudlet infra apply [options] [PLANFILE]`.
pub fn run(ctx: &mut Ctx<'_>, args: &[String]) -> i32 {
    run_mode(ctx, args, false)
}

/// Shared by `apply` and `destroy`.
pub(crate) fn run_mode(ctx: &mut Ctx<'_>, args: &[String], destroy: bool) -> i32 {
    let mut known: Vec<&str> = PLAN_FLAGS.to_vec();
    known.extend(["auto-approve", "backup", "state-out"]);
    let mut flags = match parse_flags(ctx, args, &known, WITH_VALUE) {
        Ok(f) => f,
        Err(()) => return 1,
    };
    if destroy {
        flags.flags.push(("destroy".into(), None));
    }
    let saved = match flags.args.as_slice() {
        [] => None,
        [file] => match read_plan_file(&ctx.dir.join(file)) {
            Ok(p) => Some(p),
            Err(e) => {
                error(ctx, "Failed to load the plan file", &e);
                return 1;
            }
        },
        _ => {
            error(ctx, "Too many command line arguments", "Expected at most one positional argument.");
            return 1;
        }
    };
    if let Some(p) = &saved
        && !flags.values("var").is_empty()
    {
        let _ = p;
        error(
            ctx,
            "Can't set variables when applying a saved plan",
            "The -var and -var-file options cannot be used when applying a saved plan file, because a saved plan includes the variable values that were set when it was created.",
        );
        return 1;
    }
    let variables = saved.as_ref().map(|p| p.variables.clone());
    let Ok(session) = open_session(ctx, &flags, Some(OPERATION_APPLY), variables) else { return 1 };
    let code = apply_with(ctx, &flags, &session, saved);
    if !release_lock(ctx, &session.backend, &session.workspace, session.lock.clone()) {
        return 1;
    }
    code
}

fn apply_with(ctx: &mut Ctx<'_>, flags: &Flags, s: &Session, saved: Option<super::plan::SavedPlan>) -> i32 {
    let options: PlanOptions = match &saved {
        Some(p) => {
            if p.lineage != s.prior.lineage && !s.prior.resources.is_empty() || p.serial != s.prior.serial {
                error(
                    ctx,
                    "Saved plan is stale",
                    "The given plan file can no longer be applied because the state was changed by another operation after the plan was created.",
                );
                return 1;
            }
            if p.workspace != s.workspace {
                error(
                    ctx,
                    "Saved plan is for a different workspace",
                    &format!(
                        "The plan was made for workspace {:?}, but the current workspace is {:?}.",
                        p.workspace, s.workspace
                    ),
                );
                return 1;
            }
            p.options.clone()
        }
        None => match plan_options(ctx, flags, &s.workspace) {
            Ok(o) => o,
            Err(()) => return 1,
        },
    };
    let parallelism = match flags.value("parallelism").map(str::parse::<usize>) {
        None => 10,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            error(ctx, "Invalid parallelism", "The -parallelism value must be a positive whole number.");
            return 1;
        }
    };
    if saved.is_none() {
        refresh_lines(ctx, &s.prior, &options);
        let plan = make_plan(s, &options);
        if !plan.errors.is_empty() {
            ctx.err(&plan.errors);
            return 1;
        }
        ctx.out(&crate::render::plan_text(&s.style, &plan));
        ctx.out(&plan.warnings);
        let auto = flags.bool("auto-approve", false).unwrap_or(false);
        if plan.has_changes() && !auto {
            let question = if options.mode == PlanMode::Destroy {
                "\nDo you really want to destroy all resources?\n  cloudlet will destroy all your managed infrastructure, as shown above.\n  There is no undo. Only 'yes' will be accepted to confirm."
            } else {
                "\nDo you want to perform these actions?\n  cloudlet will perform the actions described above.\n  Only 'yes' will be accepted to approve."
            };
            if ask(ctx, question) != Some(true) {
                let what = if options.mode == PlanMode::Destroy { "Destroy" } else { "Apply" };
                ctx.out(&format!("\n{what} cancelled.\n"));
                return 1;
            }
        }
        ctx.out("\n");
    }
    let clock: ClockMs = {
        let c = crate::backend::SystemLockClock;
        Arc::new(move || crate::backend::LockClock::now_unix_nanos(&c) / 1_000_000)
    };
    let interrupted = interrupt_flag();
    let backend = &s.backend;
    let workspace = s.workspace.clone();
    let (plan, mut state, errors, counts) = {
        let out: &mut dyn std::io::Write = &mut *ctx.stdout;
        let mut exec = Executor::new(parallelism, out, interrupted.clone(), clock);
        exec.persist_with(
            20_000,
            Box::new(|snapshot: &State| {
                let _ = backend.write_state(&workspace, snapshot);
            }),
        );
        let input = WalkInput {
            config: &s.config,
            registry: &s.registry,
            options: &options,
            variables: s.variables.clone(),
            prior: s.prior.clone(),
        };
        let plan = Walker::new(input, Some(&mut exec)).run();
        let (state, errors, counts) = exec.finish();
        (plan, state, errors, counts)
    };
    if options.mode == PlanMode::RefreshOnly {
        state = plan.refreshed.clone();
    }
    // Root outputs.
    if options.mode == PlanMode::Destroy {
        state.outputs.clear();
    } else {
        for o in &plan.outputs {
            match &o.after {
                Some(v) if v.is_wholly_known() => {
                    state.outputs.insert(
                        o.name.clone(),
                        OutputState {
                            value: values::to_json(v),
                            value_raw: None,
                            type_: values::type_to_json(&v.ty()),
                            sensitive: o.sensitive || v.has_marks_deep(),
                            extra: serde_json::Map::new(),
                        },
                    );
                }
                Some(_) => {
                    state.outputs.remove(&o.name);
                }
                None => {
                    state.outputs.remove(&o.name);
                }
            }
        }
        let declared: Vec<&str> = s.config.outputs.iter().map(|o| o.name.as_str()).collect();
        state.outputs.retain(|k, _| declared.contains(&k.as_str()));
    }
    state.lineage = if s.prior.lineage.is_empty() { state.lineage } else { s.prior.lineage.clone() };
    state.serial = s.prior.serial;
    for r in &mut state.resources {
        r.extra.remove("cloudlet_moved_from");
    }
    if let Err(e) = backend.write_state(&s.workspace, &state) {
        let path = ctx.dir.join("errored.tfstate");
        let _ = std::fs::write(&path, state.to_json());
        error(
            ctx,
            "Failed to save state",
            &format!(
                "Error saving state: {e}\n\ncloudlet encountered an error attempting to save the state before cancelling the current operation. The state was written to errored.tfstate; once the problem is fixed, push it with:\n    cloudlet infra state push errored.tfstate"
            ),
        );
        return 1;
    }
    let stopped = interrupted.load(Ordering::SeqCst);
    if !plan.errors.is_empty() || !errors.is_empty() || stopped {
        ctx.err(&plan.errors);
        ctx.err(&errors);
        if stopped {
            error(ctx, "execution halted", "");
        }
        return 1;
    }
    ctx.out(&plan.warnings);
    if options.mode == PlanMode::Destroy {
        ctx.out(&format!("\nDestroy complete! Resources: {} destroyed.\n", counts.destroyed));
        return 0;
    }
    ctx.out(&format!(
        "\nApply complete! Resources: {} added, {} changed, {} destroyed.\n",
        counts.added, counts.changed, counts.destroyed
    ));
    let outputs: Vec<(String, crate::value::Value, bool)> = state
        .outputs
        .iter()
        .map(|(k, o)| {
            let ty = values::type_from_json(&o.type_).unwrap_or(crate::value::Type::Dynamic);
            (k.clone(), values::from_json(&o.value, &ty), o.sensitive)
        })
        .collect();
    if !outputs.is_empty() {
        ctx.out(&format!("\nOutputs:\n\n{}", crate::render::outputs_text(&outputs)));
    }
    0
}
