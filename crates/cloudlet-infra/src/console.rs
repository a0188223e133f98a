//! `cloudlet infra console`: expressions from standard input, one per line,
//! printed as Terraform 1.0.3's console prints them.
//!
//! Non-interactive semantics, as Terraform has them: every line is
//! evaluated, only the last line's result is printed; the first error
//! stops everything (nothing on stdout, the diagnostic on stderr, exit 1);
//! a line `exit` ends quietly.

use std::io::{BufRead, Write};

use crate::diag::Diagnostic;
use crate::eval::{Evaluator, Scope};
use crate::format::format_value;
use crate::funcs::FuncContext;
use crate::value::Value;

/// Parses and evaluates one line of console input.
pub fn eval_line(src: &str, scope: &dyn Scope, ctx: &FuncContext) -> Result<Value, Diagnostic> {
    let expr = crate::config::parse_expression(src)?;
    Evaluator::new(scope, ctx).eval(&expr)
}

/// Runs the console in a configuration: errors found while loading it go to
/// `err`, followed on `out` by Terraform's warning that results may be
/// unexpected, and the console runs with the failed values unknown.
pub fn run_module(
    input: &mut dyn BufRead,
    out: &mut dyn Write,
    err: &mut dyn Write,
    module: &crate::module::ModuleScope,
    ctx: &FuncContext,
) -> std::io::Result<i32> {
    out.write_all(module.startup_warnings().as_bytes())?;
    if !module.startup_errors().is_empty() {
        err.write_all(module.startup_errors().as_bytes())?;
        out.write_all(b"\nWarning: Due to the problems above, some expressions may produce unexpected results.\n\n\n")?;
    }
    run(input, out, err, module, ctx)
}

/// Runs the console over `input`; returns the exit code.
pub fn run(
    input: &mut dyn BufRead,
    out: &mut dyn Write,
    err: &mut dyn Write,
    scope: &dyn Scope,
    ctx: &FuncContext,
) -> std::io::Result<i32> {
    let mut last = String::new();
    for line in input.lines() {
        let line = line?;
        let line = line.trim_end_matches('\r');
        if line.trim() == "exit" {
            return Ok(0);
        }
        if line.trim().is_empty() {
            last.clear();
            continue;
        }
        match eval_line(line, scope, ctx) {
            Ok(v) => last = format_value(&v),
            Err(d) => {
                err.write_all(d.render_plain("<console-input> line 1", None).as_bytes())?;
                return Ok(1);
            }
        }
    }
    out.write_all(last.as_bytes())?;
    out.write_all(b"\n")?;
    Ok(0)
}
