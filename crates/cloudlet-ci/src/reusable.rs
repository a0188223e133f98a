//! Reusable workflows: a called workflow's `on.workflow_call` interface
//! (typed inputs with defaults, secrets, outputs) and the checks of a
//! calling job against it, with GitHub's messages — undeclared inputs and
//! secrets, required ones not passed, literal values of the wrong type.
//! Pure: the caller resolves `uses:` to the called workflow's text.

use crate::expr::Value;
use crate::workflow::{Diagnostic, Job, Str, Workflow, WorkflowError, parse_workflow};
use crate::yaml::{Node, NodeKind};

#[derive(Clone, Debug)]
pub struct CallInput {
    pub name: String,
    /// `boolean`, `number` or `string`.
    pub ty: String,
    pub required: bool,
    pub default: Option<Node>,
}

/// What a reusable workflow takes and gives.
#[derive(Clone, Debug, Default)]
pub struct CallInterface {
    pub inputs: Vec<CallInput>,
    /// Secret names and whether each is required.
    pub secrets: Vec<(String, bool)>,
    pub outputs: Vec<(String, Str)>,
}

/// The interface declared under `on.workflow_call`; `None` when the
/// workflow cannot be called.
pub fn interface(wf: &Workflow) -> Option<CallInterface> {
    if !wf.events.iter().any(|e| e.value == "workflow_call") {
        return None;
    }
    let mut out = CallInterface::default();
    let Some(call) = wf.on.as_ref().and_then(|on| on.get("workflow_call")) else { return Some(out) };
    for (k, def) in call.get("inputs").and_then(Node::as_map).unwrap_or_default() {
        out.inputs.push(CallInput {
            name: k.as_str().unwrap_or_default().to_owned(),
            ty: def.get("type").and_then(Node::as_str).unwrap_or("string").to_owned(),
            required: def.get("required").and_then(Node::as_str) == Some("true"),
            default: def.get("default").cloned(),
        });
    }
    for (k, def) in call.get("secrets").and_then(Node::as_map).unwrap_or_default() {
        let required = def.get("required").and_then(Node::as_str) == Some("true");
        out.secrets.push((k.as_str().unwrap_or_default().to_owned(), required));
    }
    for (k, def) in call.get("outputs").and_then(Node::as_map).unwrap_or_default() {
        if let Some(v) = def.get("value") {
            out.outputs.push((
                k.as_str().unwrap_or_default().to_owned(),
                Str { value: v.as_str().unwrap_or_default().to_owned(), pos: v.pos },
            ));
        }
    }
    Some(out)
}

/// Checks a calling job's `with` and `secrets` against the interface.
pub fn check_call(job: &Job, iface: &CallInterface) -> Vec<Diagnostic> {
    let mut d = Vec::new();
    let Some(uses) = &job.uses else { return d };
    for (k, v) in &job.with {
        let Some(input) = iface.inputs.iter().find(|i| i.name.eq_ignore_ascii_case(k)) else {
            d.push(Diagnostic {
                pos: v.pos,
                message: format!("Invalid input, {k} is not defined in the referenced workflow."),
            });
            continue;
        };
        if let NodeKind::Scalar { text, plain } = &v.kind
            && !text.contains("${{")
        {
            let ok = match input.ty.as_str() {
                "boolean" => *plain && matches!(text.as_str(), "true" | "false"),
                "number" => *plain && crate::yaml::scalar_value(text).to_number().is_finite(),
                _ => true,
            };
            if !ok {
                d.push(Diagnostic { pos: v.pos, message: format!("Unexpected value '{text}'") });
            }
        }
    }
    for input in iface.inputs.iter().filter(|i| i.required) {
        if !job.with.iter().any(|(k, _)| k.eq_ignore_ascii_case(&input.name)) {
            d.push(Diagnostic {
                pos: uses.pos,
                message: format!("Input {} is required, but not provided while calling.", input.name),
            });
        }
    }
    let inherit = job.secrets.as_ref().and_then(Node::as_str) == Some("inherit");
    let passed: Vec<(String, &Node)> = job
        .secrets
        .as_ref()
        .and_then(Node::as_map)
        .unwrap_or_default()
        .iter()
        .map(|(k, v)| (k.as_str().unwrap_or_default().to_owned(), v))
        .collect();
    for (k, v) in &passed {
        if !iface.secrets.iter().any(|(s, _)| s.eq_ignore_ascii_case(k)) {
            d.push(Diagnostic {
                pos: v.pos,
                message: format!("Invalid secret, {k} is not defined in the referenced workflow."),
            });
        }
    }
    if !inherit {
        for (name, _) in iface.secrets.iter().filter(|(_, required)| *required) {
            if !passed.iter().any(|(k, _)| k.eq_ignore_ascii_case(name)) {
                d.push(Diagnostic {
                    pos: uses.pos,
                    message: format!("Secret {name} is required, but not provided while calling."),
                });
            }
        }
    }
    d
}

/// Checks every reusable-workflow call of `wf`. `resolve` gives the text
/// of a `uses:` target (or why it cannot).
pub fn check_calls(
    wf: &Workflow,
    resolve: &mut dyn FnMut(&str) -> Result<String, String>,
) -> Result<(), WorkflowError> {
    let mut diags = Vec::new();
    for job in &wf.jobs {
        let Some(uses) = &job.uses else { continue };
        let text = match resolve(&uses.value) {
            Ok(t) => t,
            Err(message) => {
                diags.push(Diagnostic { pos: uses.pos, message });
                continue;
            }
        };
        let callee = parse_workflow(&uses.value, &text)?;
        match interface(&callee) {
            Some(iface) => diags.extend(check_call(job, &iface)),
            None => diags.push(Diagnostic {
                pos: uses.pos,
                message: format!("{} is not a reusable workflow: it is not triggered by workflow_call", uses.value),
            }),
        }
    }
    if diags.is_empty() {
        Ok(())
    } else {
        diags.sort_by_key(|d| d.pos);
        Err(WorkflowError { file: wf.file.clone(), diagnostics: diags })
    }
}

/// An input value typed by its declaration.
pub fn typed(ty: &str, v: Value) -> Value {
    match (ty, v) {
        ("boolean", Value::String(s)) => Value::Bool(s == "true"),
        ("boolean", v) => Value::Bool(v.is_truthy()),
        ("number", v) => Value::Number(v.to_number()),
        (_, v @ Value::String(_)) => v,
        (_, v) => Value::String(v.to_display_string()),
    }
}

/// The default when a declaration has none: `false`, `0` or `''`.
pub fn zero(ty: &str) -> Value {
    match ty {
        "boolean" => Value::Bool(false),
        "number" => Value::Number(0.0),
        _ => Value::string(""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_checked_against_the_interface() {
        let caller = parse_workflow(
            "c.yml",
            "on: push\njobs:\n  d:\n    uses: ./.github/workflows/r.yml\n    with:\n      flag: maybe\n      other: 1\n    secrets:\n      tok: x\n",
        );
        let callee = parse_workflow(
            "r.yml",
            "on:\n  workflow_call:\n    inputs:\n      flag: {type: boolean}\n      need: {type: string, required: true}\n    secrets:\n      key: {required: true}\njobs:\n  j:\n    runs-on: x\n    steps: [{run: echo}]\n",
        );
        let (Ok(caller), Ok(callee)) = (caller, callee) else { panic!("fixtures must parse") };
        let iface = interface(&callee).unwrap_or_default();
        let mut msgs: Vec<String> = check_call(&caller.jobs[0], &iface)
            .iter()
            .map(|d| format!("{}:{} {}", d.pos.line, d.pos.col, d.message))
            .collect();
        msgs.sort();
        assert_eq!(
            msgs,
            [
                "4:11 Input need is required, but not provided while calling.",
                "4:11 Secret key is required, but not provided while calling.",
                "6:13 Unexpected value 'maybe'",
                "7:14 Invalid input, other is not defined in the referenced workflow.",
                "9:12 Invalid secret, tok is not defined in the referenced workflow.",
            ]
        );
        assert!(matches!(typed("boolean", Value::string("true")), Value::Bool(true)));
        assert!(matches!(zero("number"), Value::Number(n) if n == 0.0));
    }
}
