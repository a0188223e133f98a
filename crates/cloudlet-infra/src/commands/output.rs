//! `output [-json|-raw] [NAME]`: the root outputs recorded in the
//! workspace's state, printed as Terraform prints them.

use crate::backend::Backend as _;
use crate::plan::values;
use crate::value::{Type, Value};

use super::plan::error;
use super::plan::parse_flags;
use super::{Ctx, load_backend};

/// `cloudlet infra output [options] [NAME]`.
pub fn run(ctx: &mut Ctx<'_>, args: &[String]) -> i32 {
    let Ok(flags) = parse_flags(ctx, args, &["json", "raw", "no-color", "state"], &["state"]) else { return 1 };
    let json = flags.bool("json", false).unwrap_or(false);
    let raw = flags.bool("raw", false).unwrap_or(false);
    if json && raw {
        error(ctx, "Invalid output format", "The -raw and -json options are mutually-exclusive.");
        return 1;
    }
    if flags.args.len() > 1 {
        error(
            ctx,
            "Unexpected argument",
            "The output command expects exactly one argument with the name of an output variable or no arguments to show all outputs.",
        );
        return 1;
    }
    let state = match flags.value("state") {
        Some(path) => match std::fs::read(ctx.dir.join(path)).map(|b| crate::state::parse(&b)) {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                error(ctx, "Failed to load state", &e.to_string());
                return 1;
            }
            Err(_) => None,
        },
        None => {
            let Ok(backend) = load_backend(ctx) else { return 1 };
            match backend.read_state(&ctx.workspace()) {
                Ok(s) => s,
                Err(e) => {
                    error(ctx, "Failed to load state", &e.to_string());
                    return 1;
                }
            }
        }
    };
    let outputs = state.map(|s| s.outputs).unwrap_or_default();
    let typed = |o: &crate::state::OutputState| -> Value {
        values::from_json(&o.value, &values::type_from_json(&o.type_).unwrap_or(Type::Dynamic))
    };
    match flags.args.first() {
        None => {
            if json {
                let all: serde_json::Map<String, serde_json::Value> = outputs
                    .iter()
                    .map(|(k, o)| {
                        (k.clone(), serde_json::json!({"sensitive": o.sensitive, "type": o.type_, "value": o.value}))
                    })
                    .collect();
                ctx.out(&format!(
                    "{}\n",
                    serde_json::to_string_pretty(&serde_json::Value::Object(all)).unwrap_or_default()
                ));
                return 0;
            }
            if outputs.is_empty() {
                ctx.err(&crate::diag::Diagnostic::new(
                    "No outputs found",
                    "The state file either has no outputs defined, or all the defined outputs are empty. Please define an output in your configuration with the `output` keyword and run `cloudlet infra refresh` for it to become available. If you are using interpolation, please verify the interpolated value is not empty. You can use the `cloudlet infra show` command to view the raw state.",
                    None,
                )
                .render_plain("", None)
                .replacen("\nError: ", "\nWarning: ", 1));
                return 0;
            }
            let list: Vec<(String, Value, bool)> =
                outputs.iter().map(|(k, o)| (k.clone(), typed(o), o.sensitive)).collect();
            ctx.out(&crate::render::outputs_text(&list));
            0
        }
        Some(name) => {
            let Some(o) = outputs.get(name) else {
                error(
                    ctx,
                    &format!("Output {name:?} not found"),
                    "The output variable requested could not be found in the state file. If you recently added this to your configuration, be sure to run `cloudlet infra apply`, since the state won't be updated with new output variables until that command is run.",
                );
                return 1;
            };
            if json {
                ctx.out(&format!("{}\n", serde_json::to_string_pretty(&o.value).unwrap_or_default()));
            } else if raw {
                let v = typed(o);
                match v.unmarked() {
                    Value::String(s) => ctx.out(s),
                    Value::Number(n) => ctx.out(&n.to_text()),
                    Value::Bool(b) => ctx.out(&b.to_string()),
                    Value::Null(_) => {
                        error(
                            ctx,
                            "Unsupported value for raw output",
                            &format!(
                                "The -raw option only supports strings, numbers, and boolean values, but output value {name:?} is null.\n\nUse the -json option for machine-readable representations of output values that have complex types."
                            ),
                        );
                        return 1;
                    }
                    other => {
                        error(
                            ctx,
                            "Unsupported value for raw output",
                            &format!(
                                "The -raw option only supports strings, numbers, and boolean values, but output value {name:?} is {}.\n\nUse the -json option for machine-readable representations of output values that have complex types.",
                                other.ty().friendly_name()
                            ),
                        );
                        return 1;
                    }
                }
            } else {
                ctx.out(&format!("{}\n", crate::format::format_value(&typed(o))));
            }
            0
        }
    }
}
