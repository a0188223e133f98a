//! `show [-json] [PLANFILE]`: the workspace's state as Terraform prints
//! it (each object as `state show` does, then the outputs), or a saved
//! plan; `-json` gives Terraform's JSON state view (format 1.0).

use crate::backend::Backend as _;
use crate::plan::values;
use crate::state::{Mode, State};
use crate::value::Type;

use super::plan::error;
use super::plan::{parse_flags, read_plan_file};
use super::{Ctx, load_backend};

/// Terraform's `show -json` of a state: `values.root_module` with its
/// resources and child modules, and the outputs.
pub fn state_json(state: &State) -> serde_json::Value {
    let mut root: Vec<serde_json::Value> = Vec::new();
    let mut children: std::collections::BTreeMap<String, Vec<serde_json::Value>> = std::collections::BTreeMap::new();
    let mut sorted = state.clone();
    sorted.normalize();
    for r in &sorted.resources {
        for inst in r.instances.iter().filter(|i| i.deposed.is_none()) {
            let index = inst.index_key.as_ref().map(|k| match k {
                crate::state::IndexKey::Int(i) => serde_json::json!(i),
                crate::state::IndexKey::String(s) => serde_json::json!(s),
            });
            let mut sensitive = serde_json::Map::new();
            for p in &inst.sensitive_attributes {
                if let Some(name) =
                    p.as_array().and_then(|a| a.first()).and_then(|s| s.get("value")).and_then(|v| v.as_str())
                {
                    sensitive.insert(name.to_owned(), serde_json::Value::Bool(true));
                }
            }
            let mut entry = serde_json::json!({
                "address": r.instance_address(inst.index_key.as_ref()),
                "mode": r.mode.as_str(),
                "type": r.type_,
                "name": r.name,
                "provider_name": r.provider.trim_start_matches("provider[\"").split('"').next().unwrap_or(""),
                "schema_version": inst.schema_version,
                "values": inst.attributes,
                "sensitive_values": sensitive,
            });
            if let Some(i) = index {
                entry["index"] = i;
            }
            if !inst.dependencies.is_empty() {
                entry["depends_on"] = serde_json::json!(inst.dependencies);
            }
            if inst.status.as_deref() == Some("tainted") {
                entry["tainted"] = serde_json::Value::Bool(true);
            }
            match &r.module {
                None => root.push(entry),
                Some(m) => children.entry(m.clone()).or_default().push(entry),
            }
        }
    }
    let outputs: serde_json::Map<String, serde_json::Value> = state
        .outputs
        .iter()
        .map(|(k, o)| (k.clone(), serde_json::json!({"sensitive": o.sensitive, "value": o.value, "type": o.type_})))
        .collect();
    let mut root_module = serde_json::json!({"resources": root});
    if !children.is_empty() {
        root_module["child_modules"] = serde_json::Value::Array(
            children
                .into_iter()
                .map(|(address, resources)| serde_json::json!({"address": address, "resources": resources}))
                .collect(),
        );
    }
    let mut values = serde_json::json!({"root_module": root_module});
    if !outputs.is_empty() {
        values["outputs"] = serde_json::Value::Object(outputs);
    }
    serde_json::json!({"format_version": "1.0", "terraform_version": state.terraform_version, "values": values})
}

/// A dynamic attribute as state stores it (`{"value": ..., "type": ...}`)
/// shown as its value.
fn unwrap_dynamic(v: &serde_json::Value) -> serde_json::Value {
    match v.as_object() {
        Some(o)
            if o.len() == 2 && o.contains_key("value") && o.get("type").and_then(values::type_from_json).is_some() =>
        {
            o["value"].clone()
        }
        _ => v.clone(),
    }
}

/// The human-readable state.
pub fn state_text(state: &State) -> String {
    let mut sorted = state.clone();
    sorted.normalize();
    let mut parts: Vec<String> = Vec::new();
    for mode in [Mode::Data, Mode::Managed] {
        for r in sorted.resources.iter().filter(|r| r.mode == mode) {
            for inst in r.instances.iter().filter(|i| i.deposed.is_none()) {
                let mut inst = inst.clone();
                for v in inst.attributes.values_mut() {
                    *v = unwrap_dynamic(v);
                }
                parts.push(crate::state::render::instance(r, &inst));
            }
        }
    }
    let mut s = parts.join("\n");
    if !state.outputs.is_empty() {
        let list: Vec<(String, crate::value::Value, bool)> = state
            .outputs
            .iter()
            .map(|(k, o)| {
                (
                    k.clone(),
                    values::from_json(&o.value, &values::type_from_json(&o.type_).unwrap_or(Type::Dynamic)),
                    o.sensitive,
                )
            })
            .collect();
        s.push_str(&format!("\n\nOutputs:\n\n{}", crate::render::outputs_text(&list)));
    }
    s
}

/// `cloudlet infra show [options] [PLANFILE]`.
pub fn run(ctx: &mut Ctx<'_>, args: &[String]) -> i32 {
    let Ok(flags) = parse_flags(ctx, args, &["json", "no-color"], &[]) else { return 1 };
    let json = flags.bool("json", false).unwrap_or(false);
    if let Some(file) = flags.args.first() {
        let saved = match read_plan_file(&ctx.dir.join(file)) {
            Ok(p) => p,
            Err(e) => {
                error(ctx, "Failed to read the given file as a state or plan file", &e);
                return 1;
            }
        };
        if json {
            let doc = serde_json::json!({
                "format_version": "0.2",
                "terraform_version": crate::state::TERRAFORM_VERSION,
                "resource_changes": saved.json["resource_changes"],
            });
            ctx.out(&format!("{doc}\n"));
        } else {
            ctx.out(&saved.text);
        }
        return 0;
    }
    let Ok(backend) = load_backend(ctx) else { return 1 };
    let state = match backend.read_state(&ctx.workspace()) {
        Ok(s) => s,
        Err(e) => {
            error(ctx, "Failed to load state", &e.to_string());
            return 1;
        }
    };
    match (state, json) {
        (None, true) => ctx.out("{\"format_version\":\"1.0\"}\n"),
        (None, false) => ctx.out("No state.\n"),
        (Some(s), true) => ctx.out(&format!("{}\n", state_json(&s))),
        (Some(s), false) if s.is_empty() => ctx.out("No state.\n"),
        (Some(s), false) => ctx.out(&format!("{}\n", state_text(&s))),
    }
    0
}
