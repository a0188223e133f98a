//! `force-unlock [-force] LOCK_ID`: removes a lock whose holder is gone.
//!
//! With the local backend a live holder's fcntl lock cannot be taken away
//! ("Local state cannot be unlocked by another process", as Terraform
//! says); what a killed process leaves behind is its
//! `.terraform.tfstate.lock.info`, and that is what this clears, after
//! Terraform's confirmation prompt unless `-force`.

use crate::backend::{Backend as _, BackendError};

use super::{Ctx, Flags, ask, load_backend};

/// `cloudlet infra force-unlock [-force] LOCK_ID`.
pub fn run(ctx: &mut Ctx<'_>, args: &[String]) -> i32 {
    let flags = match Flags::parse(args, &["force"], &[]) {
        Ok(f) => f,
        Err(message) => {
            ctx.error("Invalid command-line option", &message);
            return 1;
        }
    };
    let [id] = flags.args.as_slice() else {
        ctx.err("Expected a single argument: LOCK_ID\n");
        return 1;
    };
    let force = flags.bool("force", false).unwrap_or(false);
    let Ok(backend) = load_backend(ctx) else { return 1 };
    let ws = ctx.workspace();
    if !force {
        let question = "Do you really want to force-unlock?\n  Terraform will remove the lock on the remote state.\n  This will allow local Terraform commands to modify this state, even though it\n  may still be in use. Only 'yes' will be accepted to confirm.\n";
        match ask(ctx, question) {
            Some(true) => {}
            Some(false) => {
                ctx.out("force-unlock cancelled.\n");
                return 1;
            }
            None => {
                ctx.error("Error asking for confirmation: EOF", "");
                return 1;
            }
        }
    }
    match backend.unlock(&ws, id) {
        Ok(()) => {
            ctx.out("Terraform state has been successfully unlocked!\n\nThe state has been unlocked, and Terraform commands should now be able to\nobtain a new lock on the remote state.\n");
            0
        }
        Err(BackendError::Refused(message)) if message.starts_with("Local state cannot be unlocked") => {
            ctx.err(&format!("{message}\n"));
            1
        }
        Err(err) => {
            ctx.err(&format!("Failed to unlock state: {err}\n"));
            1
        }
    }
}
