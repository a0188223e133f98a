//! Plans and values as text, the way Terraform 1.0.3 prints them:
//! `# addr will be created`, `+ attr = "v"`, `~` updates with `->`,
//! `-/+` replacements with `# forces replacement`, `(known after apply)`,
//! `(sensitive value)`, hidden unchanged attributes, the summary line, and
//! drift ("Objects have changed outside of cloudlet"). Colours only when
//! asked for (a terminal without `-no-color`).

use std::fmt::Write as _;

use crate::decode::Mode;
use crate::plan::{Action, OutputChange, Plan, PlanMode, ResourceChange, output_changed};
use crate::value::Value;

/// ANSI colours, or none.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub color: bool,
}

impl Style {
    fn paint(&self, code: &str, s: &str) -> String {
        if self.color { format!("\x1b[{code}m{s}\x1b[0m") } else { s.to_owned() }
    }
    fn bold(&self, s: &str) -> String {
        self.paint("1", s)
    }
    fn sym(&self, sym: &str) -> String {
        let code = match sym.trim() {
            "+" => "32",
            "-" => "31",
            "~" => "33",
            "-/+" | "+/-" => "33",
            "<=" => "36",
            _ => return sym.to_owned(),
        };
        self.paint(code, sym)
    }
}

fn wrap(s: &str) -> String {
    s.split('\n').map(|l| crate::diag::wrap(l, 77)).collect::<Vec<_>>().join("\n")
}

fn same(a: &Value, b: &Value) -> bool {
    a.is_wholly_known() && b.is_wholly_known() && a.clone().unmark_deep().0.raw_equal(&b.clone().unmark_deep().0)
}

/// A primitive (or opaque) value as the diff prints it.
fn scalar(v: &Value) -> String {
    if v.is_marked() {
        return "(sensitive value)".into();
    }
    match v {
        Value::Unknown(_) => "(known after apply)".into(),
        Value::Null(_) => "null".into(),
        Value::String(s) => crate::format::quote(s),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_text(),
        _ => crate::format::format_value(v),
    }
}

fn is_collection(v: &Value) -> bool {
    !v.is_marked()
        && matches!(v, Value::List(..) | Value::Set(..) | Value::Tuple(_) | Value::Map(..) | Value::Object(_))
}

fn is_seq(v: &Value) -> bool {
    matches!(v.unmarked(), Value::List(..) | Value::Set(..) | Value::Tuple(_))
}

fn entries(v: &Value) -> Vec<(String, Value)> {
    match v.unmarked() {
        Value::Map(_, m) => m.iter().map(|(k, x)| (crate::format::quote(k), x.clone())).collect(),
        Value::Object(m) => m.iter().map(|(k, x)| (k.clone(), x.clone())).collect(),
        _ => Vec::new(),
    }
}

fn items(v: &Value) -> Vec<Value> {
    match v.unmarked() {
        Value::List(_, i) | Value::Set(_, i) | Value::Tuple(i) => i.clone(),
        _ => Vec::new(),
    }
}

/// A whole value under one symbol (create: `+`, delete: `-`), nested at
/// `indent` (the column of the symbol of its first line's owner).
fn whole(st: &Style, sym: &str, v: &Value, indent: usize) -> String {
    if !is_collection(v) {
        return scalar(v);
    }
    let pad = " ".repeat(indent + 4);
    let close = " ".repeat(indent + 2);
    let mut s = String::new();
    if is_seq(v) {
        let xs = items(v);
        if xs.is_empty() {
            return "[]".into();
        }
        s.push_str("[\n");
        for x in xs {
            let inner = whole(st, sym, &x, indent + 4);
            let _ = writeln!(s, "{pad}{} {inner},", st.sym(sym));
        }
        let _ = write!(s, "{close}]");
    } else {
        let es = entries(v);
        if es.is_empty() {
            return "{}".into();
        }
        let width = es.iter().map(|(k, _)| k.chars().count()).max().unwrap_or(0);
        s.push_str("{\n");
        for (k, x) in es {
            if x.is_null() && sym == "+" && matches!(v.unmarked(), Value::Object(_)) {
                continue;
            }
            let inner = whole(st, sym, &x, indent + 4);
            let _ = writeln!(s, "{pad}{} {k:<width$} = {inner}", st.sym(sym));
        }
        let _ = write!(s, "{close}}}");
    }
    s
}

/// One attribute's line(s) in an update: `~ name = old -> new`, with
/// nested maps and lists diffed element by element.
fn changed_value(st: &Style, before: &Value, after: &Value, indent: usize, forces: &str) -> String {
    if before.is_marked() || after.is_marked() {
        return format!("(sensitive value){forces}");
    }
    let both_maps = matches!(before.unmarked(), Value::Map(..) | Value::Object(_))
        && matches!(after.unmarked(), Value::Map(..) | Value::Object(_));
    let both_seqs = is_seq(before) && is_seq(after);
    if both_maps {
        let pad = " ".repeat(indent + 4);
        let close = " ".repeat(indent + 2);
        let b = entries(before);
        let a = entries(after);
        let mut keys: Vec<String> = b.iter().chain(a.iter()).map(|(k, _)| k.clone()).collect();
        keys.sort();
        keys.dedup();
        let width = keys.iter().map(|k| k.chars().count()).max().unwrap_or(0);
        let mut s = format!("{{{forces}\n");
        let mut hidden = 0;
        for k in keys {
            let bv = b.iter().find(|(x, _)| *x == k).map(|(_, v)| v);
            let av = a.iter().find(|(x, _)| *x == k).map(|(_, v)| v);
            match (bv, av) {
                (Some(bv), Some(av)) if same(bv, av) => hidden += 1,
                (Some(bv), Some(av)) => {
                    let _ =
                        writeln!(s, "{pad}{} {k:<width$} = {}", st.sym("~"), changed_value(st, bv, av, indent + 4, ""));
                }
                (None, Some(av)) => {
                    let _ = writeln!(s, "{pad}{} {k:<width$} = {}", st.sym("+"), whole(st, "+", av, indent + 4));
                }
                (Some(bv), None) => {
                    let _ =
                        writeln!(s, "{pad}{} {k:<width$} = {} -> null", st.sym("-"), whole(st, "-", bv, indent + 4));
                }
                (None, None) => {}
            }
        }
        if hidden > 0 {
            let noun = if hidden == 1 { "element" } else { "elements" };
            let _ = writeln!(s, "{pad}  # ({hidden} unchanged {noun} hidden)");
        }
        let _ = write!(s, "{close}}}");
        return s;
    }
    if both_seqs && after.is_wholly_known() {
        let pad = " ".repeat(indent + 4);
        let close = " ".repeat(indent + 2);
        let b = items(before);
        let a = items(after);
        let mut s = format!("[{forces}\n");
        let mut hidden = 0;
        for x in &b {
            if !a.iter().any(|y| same(x, y)) {
                let _ = writeln!(s, "{pad}{} {},", st.sym("-"), whole(st, "-", x, indent + 4));
            } else {
                hidden += 1;
            }
        }
        for y in &a {
            if !b.iter().any(|x| same(x, y)) {
                let _ = writeln!(s, "{pad}{} {},", st.sym("+"), whole(st, "+", y, indent + 4));
            }
        }
        if hidden > 0 {
            let noun = if hidden == 1 { "element" } else { "elements" };
            let _ = writeln!(s, "{pad}  # ({hidden} unchanged {noun} hidden)");
        }
        let _ = write!(s, "{close}]");
        return s;
    }
    let b = whole(st, "-", before, indent);
    let a = whole(st, "+", after, indent);
    format!("{b} -> {a}{forces}")
}

/// Attributes always shown in an update even when unchanged.
fn identifying(name: &str) -> bool {
    matches!(name, "id" | "name" | "tags")
}

/// The body of a resource block diff.
fn resource_body(out: &mut String, st: &Style, c: &ResourceChange, drift: bool) {
    let before = c.before.clone().unwrap_or(Value::Null(c.ty.clone()));
    let after = c.after.clone().unwrap_or(Value::Null(c.ty.clone()));
    let b = entries(&before);
    let a = entries(&after);
    let names: Vec<String> = match (&c.before, &c.after) {
        (_, Some(_)) => a.iter().map(|(k, _)| k.clone()).collect(),
        _ => b.iter().map(|(k, _)| k.clone()).collect(),
    };
    let get = |es: &[(String, Value)], k: &str| es.iter().find(|(x, _)| x == k).map(|(_, v)| v.clone());
    let creating = c.before.is_none();
    let deleting = c.after.is_none();
    let mut lines: Vec<(String, String, String)> = Vec::new();
    let mut hidden = 0;
    for k in &names {
        let bv = get(&b, k).unwrap_or(Value::Null(crate::value::Type::Dynamic));
        let av = get(&a, k).unwrap_or(Value::Null(crate::value::Type::Dynamic));
        let forces = if c.replace_paths.iter().any(|p| p == k) { " # forces replacement" } else { "" };
        if creating || c.action == Action::Read && !drift {
            if av.is_null() {
                continue;
            }
            lines.push(("+".into(), k.clone(), whole(st, "+", &av, 6)));
        } else if deleting {
            if bv.is_null() {
                continue;
            }
            let v = whole(st, "-", &bv, 6);
            lines.push(("-".into(), k.clone(), format!("{v} -> null")));
        } else if bv.is_null() && av.is_null() && !av.is_unknown() {
            continue;
        } else if same(&bv, &av) {
            if identifying(k) && !bv.is_null() {
                lines.push((" ".into(), k.clone(), scalar_or_whole(st, &bv)));
            } else {
                hidden += 1;
            }
        } else if bv.is_null() {
            lines.push(("+".into(), k.clone(), format!("{}{forces}", whole(st, "+", &av, 6))));
        } else if av.is_null() && !av.is_unknown() {
            lines.push(("-".into(), k.clone(), format!("{} -> null{forces}", whole(st, "-", &bv, 6))));
        } else {
            lines.push(("~".into(), k.clone(), changed_value(st, &bv, &av, 6, forces)));
        }
    }
    let width = lines.iter().map(|(_, k, _)| k.chars().count()).max().unwrap_or(0);
    for (sym, k, v) in lines {
        let _ = writeln!(out, "      {} {k:<width$} = {v}", st.sym(&sym));
    }
    if hidden > 0 {
        let noun = if hidden == 1 { "attribute" } else { "attributes" };
        let _ = writeln!(out, "        # ({hidden} unchanged {noun} hidden)");
    }
}

fn scalar_or_whole(st: &Style, v: &Value) -> String {
    whole(st, " ", v, 6)
}

/// One resource change: the comment line(s) and the block.
pub fn resource_change(st: &Style, c: &ResourceChange, drift: bool) -> String {
    let mut out = String::new();
    let addr = &c.addr;
    let (comment, sym) = if drift {
        match c.action {
            Action::Delete => (format!("# {addr} has been deleted"), "  -"),
            _ => (format!("# {addr} has changed"), "  ~"),
        }
    } else {
        match c.action {
            Action::Create => (format!("# {addr} will be created"), "  +"),
            Action::Update => (format!("# {addr} will be updated in-place"), "  ~"),
            Action::Delete => match c.reason {
                Some("delete_because_no_resource_config") => {
                    (format!("# {addr} will be destroyed\n  # (because {} is not in configuration)", base(c)), "  -")
                }
                _ => (format!("# {addr} will be destroyed"), "  -"),
            },
            Action::DeleteThenCreate | Action::CreateThenDelete => {
                let s = if c.action == Action::DeleteThenCreate { "-/+" } else { "+/-" };
                match c.reason {
                    Some("replace_because_tainted") => (format!("# {addr} is tainted, so must be replaced"), s),
                    Some("replace_by_request") => (format!("# {addr} will be replaced, as requested"), s),
                    Some("replace_by_triggers") => {
                        (format!("# {addr} will be replaced due to changes in replace_triggered_by"), s)
                    }
                    _ => (format!("# {addr} must be replaced"), s),
                }
            }
            Action::Read => {
                (format!("# {addr} will be read during apply\n  # (config refers to values not yet known)"), " <=")
            }
            Action::NoOp => return out,
        }
    };
    let _ = writeln!(out, "  {}", st.bold(&comment));
    if let Some(prev) = &c.previous_addr {
        let _ = writeln!(out, "  # (moved from {prev})");
    }
    let kind = if c.mode == Mode::Data { "data" } else { "resource" };
    let _ = writeln!(out, "{} {kind} \"{}\" \"{}\" {{", st.sym(sym), c.type_name, c.name);
    resource_body(&mut out, st, c, drift);
    let _ = writeln!(out, "    }}");
    out
}

fn base(c: &ResourceChange) -> String {
    crate::plan::instance_addr(c.module.as_deref(), c.mode, &c.type_name, &c.name, c.key.as_ref())
}

fn outputs_section(st: &Style, outputs: &[OutputChange]) -> String {
    let changed: Vec<&OutputChange> = outputs.iter().filter(|o| output_changed(o)).collect();
    if changed.is_empty() {
        return String::new();
    }
    let width = changed.iter().map(|o| o.name.chars().count()).max().unwrap_or(0);
    let mut s = String::from("\nChanges to Outputs:\n");
    for o in changed {
        let name = &o.name;
        let line = match (&o.before, &o.after) {
            (None, Some(a)) => {
                format!("  {} {name:<width$} = {}", st.sym("+"), sensitive_or(a, o.sensitive, |v| whole(st, "+", v, 2)))
            }
            (Some(b), None) => format!(
                "  {} {name:<width$} = {} -> null",
                st.sym("-"),
                sensitive_or(b, o.sensitive, |v| whole(st, "-", v, 2))
            ),
            (Some(b), Some(a)) => {
                if o.sensitive {
                    format!("  {} {name:<width$} = (sensitive value)", st.sym("~"))
                } else {
                    format!("  {} {name:<width$} = {}", st.sym("~"), changed_value(st, b, a, 2, ""))
                }
            }
            (None, None) => continue,
        };
        s.push_str(&line);
        s.push('\n');
    }
    s
}

fn sensitive_or(v: &Value, sensitive: bool, f: impl FnOnce(&Value) -> String) -> String {
    if sensitive || v.is_marked() { "(sensitive value)".into() } else { f(v) }
}

/// The drift section ("Objects have changed outside of cloudlet").
pub fn drift_text(st: &Style, plan: &Plan) -> String {
    if plan.drift.is_empty() {
        return String::new();
    }
    let mut s = String::new();
    let _ = write!(
        s,
        "\n{}\n\n{}\n\n",
        st.bold("Note: Objects have changed outside of cloudlet"),
        wrap(
            "cloudlet detected the following changes made outside of cloudlet since the last \"cloudlet infra apply\":"
        )
    );
    let mut drift: Vec<&ResourceChange> = plan.drift.iter().collect();
    drift.sort_by_key(|c| order_key(c));
    for c in drift {
        s.push_str(&resource_change(st, c, true));
        s.push('\n');
    }
    if plan.mode == PlanMode::RefreshOnly {
        let _ = writeln!(
            s,
            "{}",
            wrap(
                "This is a refresh-only plan, so cloudlet will not take any actions to undo these. If you were expecting these changes then you can apply this plan to record the updated values in the cloudlet state without changing any remote objects."
            )
        );
    } else {
        let _ = writeln!(
            s,
            "{}",
            wrap(
                "Unless you have made equivalent changes to your configuration, or ignored the relevant attributes using ignore_changes, the following plan may include actions to undo or respond to these changes."
            )
        );
        let _ = writeln!(s, "\n{}", "─".repeat(77));
    }
    s
}

/// Terraform's order of changes: by module, data sources first, type,
/// name, then instance key.
fn order_key(c: &ResourceChange) -> (String, u8, String, String, Option<crate::state::IndexKey>) {
    let mode = if c.mode == Mode::Data { 0 } else { 1 };
    (c.module.clone().unwrap_or_default(), mode, c.type_name.clone(), c.name.clone(), c.key.clone())
}

/// The whole plan as `plan` prints it (after the refresh lines).
pub fn plan_text(st: &Style, plan: &Plan) -> String {
    let mut s = drift_text(st, plan);
    let mut effective: Vec<&ResourceChange> = plan.changes.iter().filter(|c| c.action != Action::NoOp).collect();
    effective.sort_by_key(|c| order_key(c));
    if plan.mode == PlanMode::RefreshOnly {
        if plan.drift.is_empty() && !plan.outputs.iter().any(output_changed) {
            let _ = write!(
                s,
                "\n{}\n\n{}\n",
                st.bold("No changes. Your infrastructure still matches the configuration."),
                wrap(
                    "cloudlet has checked that the real remote objects still match the result of your most recent changes, and found no differences."
                )
            );
        } else {
            s.push_str(&outputs_section(st, &plan.outputs));
        }
        return s;
    }
    if effective.is_empty() {
        if plan.outputs.iter().any(output_changed) {
            s.push_str(&outputs_section(st, &plan.outputs));
            let _ = write!(
                s,
                "\n{}\n",
                wrap(
                    "You can apply this plan to save these new output values to the cloudlet state, without changing any real infrastructure."
                )
            );
            return s;
        }
        let what = if plan.mode == PlanMode::Destroy {
            "No changes. No objects need to be destroyed."
        } else {
            "No changes. Your infrastructure matches the configuration."
        };
        let detail = if plan.mode == PlanMode::Destroy {
            "Either you have not created any objects yet or the existing objects were already deleted outside of cloudlet."
        } else {
            "cloudlet has compared your real infrastructure against your configuration and found no differences, so no changes are needed."
        };
        let _ = write!(s, "\n{}\n\n{}\n", st.bold(what), wrap(detail));
        return s;
    }
    let mut legend = String::new();
    let has = |a: &[Action]| effective.iter().any(|c| a.contains(&c.action));
    if has(&[Action::Create]) {
        let _ = writeln!(legend, "  {} create", st.sym("+"));
    }
    if has(&[Action::Update]) {
        let _ = writeln!(legend, "  {} update in-place", st.sym("~"));
    }
    if has(&[Action::Delete]) {
        let _ = writeln!(legend, "  {} destroy", st.sym("-"));
    }
    if has(&[Action::DeleteThenCreate]) {
        let _ = writeln!(legend, "{} destroy and then create replacement", st.sym("-/+"));
    }
    if has(&[Action::CreateThenDelete]) {
        let _ = writeln!(legend, "{} create replacement and then destroy", st.sym("+/-"));
    }
    if has(&[Action::Read]) {
        let _ = writeln!(legend, " {} read (data resources)", st.sym("<="));
    }
    let _ = write!(
        s,
        "\n{}\n{legend}\ncloudlet will perform the following actions:\n\n",
        wrap(
            "cloudlet used the selected providers to generate the following execution plan. Resource actions are indicated with the following symbols:"
        )
    );
    for c in &effective {
        s.push_str(&resource_change(st, c, false));
        s.push('\n');
    }
    let (add, change, destroy) = plan.counts();
    let _ = writeln!(s, "{}", st.bold(&format!("Plan: {add} to add, {change} to change, {destroy} to destroy.")));
    s.push_str(&outputs_section(st, &plan.outputs));
    s
}

/// Root outputs as `apply` and `output` print them: `name = value`.
pub fn outputs_text(outputs: &[(String, Value, bool)]) -> String {
    let mut s = String::new();
    for (name, v, sensitive) in outputs {
        let text = if *sensitive || v.is_marked() { "<sensitive>".to_owned() } else { crate::format::format_value(v) };
        let _ = writeln!(s, "{name} = {text}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Type;

    fn change(action: Action, before: Option<Value>, after: Option<Value>) -> ResourceChange {
        ResourceChange {
            addr: "null_resource.a".into(),
            module: None,
            mode: Mode::Managed,
            type_name: "null_resource".into(),
            name: "a".into(),
            key: None,
            provider: String::new(),
            action,
            before,
            after,
            replace_paths: vec!["triggers".into()],
            reason: None,
            dependencies: Vec::new(),
            previous_addr: None,
            ty: Type::Dynamic,
            create_before_destroy: false,
        }
    }

    fn obj(id: Value, trig: &[(&str, &str)]) -> Value {
        let t = Value::Map(Type::String, trig.iter().map(|(k, v)| ((*k).to_owned(), Value::string(*v))).collect());
        Value::Object([("id".to_owned(), id), ("triggers".to_owned(), t)].into())
    }

    #[test]
    fn renders_create_and_replace_as_terraform() {
        let st = Style { color: false };
        let c = change(Action::Create, None, Some(obj(Value::Unknown(Type::String), &[("a", "b")])));
        assert_eq!(
            resource_change(&st, &c, false),
            "  # null_resource.a will be created\n  + resource \"null_resource\" \"a\" {\n      + id       = (known after apply)\n      + triggers = {\n          + \"a\" = \"b\"\n        }\n    }\n"
        );
        let c = change(
            Action::DeleteThenCreate,
            Some(obj(Value::string("1"), &[("a", "b"), ("k", "v")])),
            Some(obj(Value::Unknown(Type::String), &[("a", "c"), ("k", "v")])),
        );
        assert_eq!(
            resource_change(&st, &c, false),
            "  # null_resource.a must be replaced\n-/+ resource \"null_resource\" \"a\" {\n      ~ id       = \"1\" -> (known after apply)\n      ~ triggers = { # forces replacement\n          ~ \"a\" = \"b\" -> \"c\"\n            # (1 unchanged element hidden)\n        }\n    }\n"
        );
    }
}
