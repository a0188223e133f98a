//! `destroy`: `apply -destroy` under its own name, with its own
//! confirmation question and summary line.

use super::Ctx;

/// `cloudlet infra destroy [options]`.
pub fn run(ctx: &mut Ctx<'_>, args: &[String]) -> i32 {
    super::apply::run_mode(ctx, args, true)
}
