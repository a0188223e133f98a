//! One resource instance as `state show` prints it:
//!
//! ```text
//! # null_resource.a[0]:
//! resource "null_resource" "a" {
//!     id       = "1"
//!     triggers = {
//!         "k" = "v"
//!     }
//! }
//! ```
//!
//! Terraform prints with the provider's schema (which attributes are
//! blocks); the state alone does not say, so every attribute is printed as
//! an attribute: objects as `{ "key" = value }`, lists as `[ value, ]`.
//! Null attributes are left out, sensitive ones print `(sensitive value)`,
//! multi-line strings are heredocs.

use serde_json::Value;

use super::{InstanceState, Mode, ResourceState};

/// The `state show` text of one instance of `r`.
pub fn instance(r: &ResourceState, inst: &InstanceState) -> String {
    let addr = r.instance_address(inst.index_key.as_ref());
    let mut out = format!("# {addr}:");
    if inst.status.as_deref() == Some("tainted") {
        out.push_str(" (tainted)");
    }
    out.push('\n');
    let keyword = if r.mode == Mode::Data { "data" } else { "resource" };
    out.push_str(&format!("{keyword} {} {} {{\n", quote(&r.type_), quote(&r.name)));
    let sensitive: Vec<&str> = inst
        .sensitive_attributes
        .iter()
        .filter_map(|path| {
            let steps = path.as_array()?;
            let [first] = steps.as_slice() else { return None };
            (first.get("type")?.as_str()? == "get_attr").then_some(())?;
            first.get("value")?.as_str()
        })
        .collect();
    let shown: Vec<(&String, &Value)> = inst.attributes.iter().filter(|(_, v)| !v.is_null()).collect();
    let width = shown.iter().map(|(k, _)| k.chars().count()).max().unwrap_or(0);
    for (key, value) in shown {
        out.push_str("    ");
        out.push_str(key);
        out.push_str(&" ".repeat(width - key.chars().count()));
        out.push_str(" = ");
        if sensitive.contains(&key.as_str()) {
            out.push_str("(sensitive value)");
        } else {
            value_text(&mut out, value, 1);
        }
        out.push('\n');
    }
    out.push_str("}\n");
    out
}

fn indent(out: &mut String, depth: usize) {
    for _ in 0..depth {
        out.push_str("    ");
    }
}

fn value_text(out: &mut String, value: &Value, depth: usize) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) if s.contains('\n') && !s.trim_end_matches('\n').is_empty() => {
            out.push_str("<<-EOT\n");
            for line in s.strip_suffix('\n').unwrap_or(s).split('\n') {
                indent(out, depth + 1);
                out.push_str(line);
                out.push('\n');
            }
            indent(out, depth);
            out.push_str("EOT");
        }
        Value::String(s) => out.push_str(&quote(s)),
        Value::Array(items) if items.is_empty() => out.push_str("[]"),
        Value::Array(items) => {
            out.push_str("[\n");
            for item in items {
                indent(out, depth + 1);
                value_text(out, item, depth + 1);
                out.push_str(",\n");
            }
            indent(out, depth);
            out.push(']');
        }
        Value::Object(map) if map.is_empty() => out.push_str("{}"),
        Value::Object(map) => {
            out.push_str("{\n");
            let width = map.keys().map(|k| quote(k).chars().count()).max().unwrap_or(0);
            for (k, v) in map {
                let key = quote(k);
                indent(out, depth + 1);
                out.push_str(&key);
                out.push_str(&" ".repeat(width - key.chars().count()));
                out.push_str(" = ");
                value_text(out, v, depth + 1);
                out.push('\n');
            }
            indent(out, depth);
            out.push('}');
        }
    }
}

/// A string literal as HCL writes it (`${` and `%{` escaped).
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                out.push(c);
                out.push(c);
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{IndexKey, provider_config};

    #[test]
    fn renders_like_terraform_state_show() {
        let mut r = ResourceState {
            module: None,
            mode: Mode::Managed,
            type_: "null_resource".to_owned(),
            name: "a".to_owned(),
            each: None,
            provider: provider_config("hashicorp/null"),
            instances: Vec::new(),
            extra: serde_json::Map::new(),
        };
        let attrs = serde_json::json!({
            "id": "1", "triggers": {"k": "v", "long key": "${x}"}, "none": null, "list": [1, true],
            "empty": [], "text": "a\nb\n", "password": "p"
        });
        let serde_json::Value::Object(attrs) = attrs else { unreachable!() };
        let mut inst = InstanceState::new(Some(IndexKey::Int(0)), attrs);
        inst.sensitive_attributes.push(serde_json::json!([{"type": "get_attr", "value": "password"}]));
        r.instances.push(inst.clone());
        assert_eq!(
            instance(&r, &inst),
            "# null_resource.a[0]:\nresource \"null_resource\" \"a\" {\n    empty    = []\n    id       = \"1\"\n    list     = [\n        1,\n        true,\n    ]\n    password = (sensitive value)\n    text     = <<-EOT\n        a\n        b\n    EOT\n    triggers = {\n        \"k\"        = \"v\"\n        \"long key\" = \"$${x}\"\n    }\n}\n"
        );
    }
}
