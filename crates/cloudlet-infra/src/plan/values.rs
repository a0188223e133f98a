//! Values as the state and plan files hold them: JSON attribute values,
//! cty's JSON type encoding (`"string"`, `["list","string"]`,
//! `["object",{...}]`), and sensitive marks as attribute paths
//! (`[{"type":"get_attr","value":"result"}]`).

use std::collections::BTreeMap;

use crate::convert::convert;
use crate::value::{Type, Value};

/// A known value as JSON (marks dropped; unknowns, which state never
/// holds, become null).
pub fn to_json(v: &Value) -> serde_json::Value {
    match v.unmarked() {
        Value::Null(_) | Value::Unknown(_) => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Number(n) => {
            let text = n.to_text();
            serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
        }
        Value::String(s) => serde_json::Value::String(s.clone()),
        Value::List(_, items) | Value::Set(_, items) | Value::Tuple(items) => {
            serde_json::Value::Array(items.iter().map(to_json).collect())
        }
        Value::Map(_, m) | Value::Object(m) => {
            serde_json::Value::Object(m.iter().map(|(k, v)| (k.clone(), to_json(v))).collect())
        }
        Value::Marked(_) => serde_json::Value::Null,
    }
}

/// JSON read back as a value of type `ty`; `any` attributes are stored as
/// `{"value": ..., "type": ...}` the way Terraform stores dynamic values.
pub fn from_json(j: &serde_json::Value, ty: &Type) -> Value {
    if j.is_null() {
        return Value::Null(ty.clone());
    }
    match ty {
        Type::Dynamic => match (j.get("value"), j.get("type").and_then(type_from_json)) {
            (Some(v), Some(t)) => from_json(v, &t),
            _ => crate::funcs::json_to_value(j),
        },
        Type::Object(attrs) => {
            let obj = j.as_object();
            Value::Object(
                attrs
                    .iter()
                    .map(|(k, t)| {
                        (k.clone(), obj.and_then(|o| o.get(k)).map_or(Value::Null(t.clone()), |v| from_json(v, t)))
                    })
                    .collect(),
            )
        }
        Type::List(e) => Value::List((**e).clone(), items(j).map(|v| from_json(v, e)).collect()),
        Type::Set(e) => Value::set((**e).clone(), items(j).map(|v| from_json(v, e)).collect()),
        Type::Map(e) => Value::Map(
            (**e).clone(),
            j.as_object().map(|o| o.iter().map(|(k, v)| (k.clone(), from_json(v, e))).collect()).unwrap_or_default(),
        ),
        Type::Tuple(ts) => Value::Tuple(ts.iter().zip(items(j)).map(|(t, v)| from_json(v, t)).collect()),
        prim => convert(&crate::funcs::json_to_value(j), prim).unwrap_or(Value::Null(prim.clone())),
    }
}

fn items(j: &serde_json::Value) -> impl Iterator<Item = &serde_json::Value> {
    j.as_array().map(|a| a.iter()).into_iter().flatten()
}

/// An attribute value for the state: dynamic attributes wrapped with
/// their type.
pub fn attr_to_json(v: &Value, ty: &Type) -> serde_json::Value {
    if *ty == Type::Dynamic && !v.is_null() {
        return serde_json::json!({"value": to_json(v), "type": type_to_json(&v.ty())});
    }
    to_json(v)
}

/// cty's JSON encoding of a type.
pub fn type_to_json(t: &Type) -> serde_json::Value {
    use serde_json::json;
    match t {
        Type::Bool => json!("bool"),
        Type::Number => json!("number"),
        Type::String => json!("string"),
        Type::Dynamic => json!("dynamic"),
        Type::List(e) => json!(["list", type_to_json(e)]),
        Type::Set(e) => json!(["set", type_to_json(e)]),
        Type::Map(e) => json!(["map", type_to_json(e)]),
        Type::Object(a) => {
            json!(["object", a.iter().map(|(k, t)| (k.clone(), type_to_json(t))).collect::<serde_json::Map<_, _>>()])
        }
        Type::Tuple(ts) => json!(["tuple", ts.iter().map(type_to_json).collect::<Vec<_>>()]),
    }
}

/// A type from cty's JSON encoding.
pub fn type_from_json(j: &serde_json::Value) -> Option<Type> {
    Some(match j {
        serde_json::Value::String(s) => match s.as_str() {
            "bool" => Type::Bool,
            "number" => Type::Number,
            "string" => Type::String,
            "dynamic" => Type::Dynamic,
            _ => return None,
        },
        serde_json::Value::Array(parts) => match (parts.first()?.as_str()?, parts.get(1)?) {
            ("list", e) => Type::List(Box::new(type_from_json(e)?)),
            ("set", e) => Type::Set(Box::new(type_from_json(e)?)),
            ("map", e) => Type::Map(Box::new(type_from_json(e)?)),
            ("object", serde_json::Value::Object(a)) => {
                Type::Object(a.iter().map(|(k, t)| Some((k.clone(), type_from_json(t)?))).collect::<Option<_>>()?)
            }
            ("tuple", serde_json::Value::Array(ts)) => {
                Type::Tuple(ts.iter().map(type_from_json).collect::<Option<_>>()?)
            }
            _ => return None,
        },
        _ => return None,
    })
}

/// The paths of the sensitive parts of `v`, as state's
/// `sensitive_attributes` lists them.
pub fn sensitive_paths(v: &Value) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    let mut path = Vec::new();
    walk_marks(v, &mut path, &mut out);
    out
}

fn walk_marks(v: &Value, path: &mut Vec<serde_json::Value>, out: &mut Vec<serde_json::Value>) {
    if v.is_marked() {
        out.push(serde_json::Value::Array(path.clone()));
        return;
    }
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                path.push(serde_json::json!({"type": "get_attr", "value": k}));
                walk_marks(x, path, out);
                path.pop();
            }
        }
        Value::Map(_, m) => {
            for (k, x) in m {
                path.push(serde_json::json!({"type": "index", "value": {"value": k, "type": "string"}}));
                walk_marks(x, path, out);
                path.pop();
            }
        }
        Value::List(_, items) | Value::Tuple(items) => {
            for (i, x) in items.iter().enumerate() {
                path.push(serde_json::json!({"type": "index", "value": {"value": i, "type": "number"}}));
                walk_marks(x, path, out);
                path.pop();
            }
        }
        _ => {}
    }
}

/// Marks the top-level attributes named by `paths` (the first step of
/// each) sensitive again after reading state.
pub fn apply_sensitive_paths(v: Value, paths: &[serde_json::Value]) -> Value {
    let names: Vec<&str> = paths.iter().filter_map(|p| p.as_array()?.first()?.get("value")?.as_str()).collect();
    if names.is_empty() {
        return v;
    }
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, x)| {
                    let mark = names.contains(&k.as_str());
                    (k, x.mark_if(mark))
                })
                .collect::<BTreeMap<_, _>>(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_types_and_dynamic_values() {
        let t = Type::Object([("a".to_owned(), Type::List(Box::new(Type::String)))].into());
        assert_eq!(type_from_json(&type_to_json(&t)), Some(t));
        let v = Value::Object([("k".to_owned(), Value::int(3))].into());
        let j = attr_to_json(&v, &Type::Dynamic);
        assert_eq!(j, serde_json::json!({"value": {"k": 3}, "type": ["object", {"k": "number"}]}));
        assert!(from_json(&j, &Type::Dynamic).raw_equal(&v));
        let marked = Value::Object([("p".to_owned(), Value::string("s").mark_if(true))].into());
        assert_eq!(sensitive_paths(&marked), [serde_json::json!([{"type": "get_attr", "value": "p"}])]);
    }
}
