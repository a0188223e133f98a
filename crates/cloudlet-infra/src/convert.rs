//! Type conversion and unification with Terraform's rules.
//!
//! `convert` turns a value into a wanted type or says why it cannot (the
//! message Terraform uses: "a number is required", "attribute \"x\" is
//! required", ...). `unify` finds the one type a set of types can all be
//! converted to (conditionals, `tolist` of a tuple, `concat`).

use std::collections::BTreeMap;

use crate::number::Number;
use crate::value::{Type, Value};

/// Why a conversion failed, worded as Terraform words it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvertError {
    /// Path inside the value, e.g. `[0]` or `.name`, for the messages.
    pub path: String,
    pub message: String,
}

impl ConvertError {
    fn new(message: impl Into<String>) -> ConvertError {
        ConvertError { path: String::new(), message: message.into() }
    }

    fn at(mut self, step: String) -> ConvertError {
        self.path = format!("{step}{}", self.path);
        self
    }

    /// The message with its path in front, as function arguments report it.
    pub fn full(&self) -> String {
        if self.path.is_empty() { self.message.clone() } else { format!("{}: {}", self.path, self.message) }
    }
}

/// Converts `v` to `want`. Marks are kept.
pub fn convert(v: &Value, want: &Type) -> Result<Value, ConvertError> {
    if let Value::Marked(inner) = v {
        return convert(inner, want).map(|c| c.mark_if(true));
    }
    if *want == Type::Dynamic {
        return Ok(v.clone());
    }
    match v {
        Value::Null(_) => return Ok(Value::Null(concrete_or_dynamic(want, &v.ty()))),
        Value::Unknown(t) => {
            return if conversion_possible(t, want) {
                Ok(Value::Unknown(want.clone()))
            } else {
                Err(ConvertError::new(required(want)))
            };
        }
        _ => {}
    }
    let have = v.ty();
    if have == *want {
        return Ok(v.clone());
    }
    match want {
        Type::String => match v {
            Value::Number(n) => Ok(Value::String(n.to_text())),
            Value::Bool(b) => Ok(Value::String(b.to_string())),
            _ => Err(ConvertError::new(required(want))),
        },
        Type::Number => match v {
            Value::String(s) => match Number::parse(s) {
                Some(n) => Ok(Value::Number(n)),
                None => Err(ConvertError::new("a number is required")),
            },
            _ => Err(ConvertError::new(required(want))),
        },
        Type::Bool => match v {
            Value::String(s) => match s.as_str() {
                "true" => Ok(Value::Bool(true)),
                "false" => Ok(Value::Bool(false)),
                _ => Err(ConvertError::new("a bool is required")),
            },
            _ => Err(ConvertError::new(required(want))),
        },
        Type::List(elem) | Type::Set(elem) => {
            let items: Vec<Value> = match v {
                Value::List(_, items) | Value::Set(_, items) | Value::Tuple(items) => items.clone(),
                _ => return Err(ConvertError::new(required(want))),
            };
            let elem_ty = if elem.has_dynamic() {
                let types: Vec<Type> = items.iter().map(Value::ty).collect();
                match unify(&types) {
                    Some(t) if items.is_empty() => concrete_or_dynamic(elem, &t),
                    Some(t) => t,
                    None => return Err(ConvertError::new(required(want))),
                }
            } else {
                (**elem).clone()
            };
            let elem_ty = if items.is_empty() && elem_ty == Type::Dynamic { (**elem).clone() } else { elem_ty };
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                out.push(convert(item, &elem_ty).map_err(|e| e.at(format!("[{i}]")))?);
            }
            Ok(match want {
                Type::Set(_) => Value::set(elem_ty, out),
                _ => Value::List(elem_ty, out),
            })
        }
        Type::Map(elem) => {
            let entries: BTreeMap<String, Value> = match v {
                Value::Map(_, m) | Value::Object(m) => m.clone(),
                _ => return Err(ConvertError::new(required(want))),
            };
            let elem_ty = if elem.has_dynamic() {
                let types: Vec<Type> = entries.values().map(Value::ty).collect();
                match unify(&types) {
                    Some(t) => t,
                    None => return Err(ConvertError::new(required(want))),
                }
            } else {
                (**elem).clone()
            };
            let elem_ty = if entries.is_empty() && elem_ty == Type::Dynamic { (**elem).clone() } else { elem_ty };
            let mut out = BTreeMap::new();
            for (k, item) in entries {
                let c = convert(&item, &elem_ty).map_err(|e| e.at(format!("[{}]", crate::format::quote(&k))))?;
                out.insert(k, c);
            }
            Ok(Value::Map(elem_ty, out))
        }
        Type::Object(attrs) => {
            let entries: BTreeMap<String, Value> = match v {
                Value::Map(_, m) | Value::Object(m) => m.clone(),
                _ => return Err(ConvertError::new("object required")),
            };
            let mut out = BTreeMap::new();
            for (name, aty) in attrs {
                match entries.get(name) {
                    Some(item) => {
                        out.insert(name.clone(), convert(item, aty).map_err(|e| e.at(format!(".{name}")))?);
                    }
                    None => return Err(ConvertError::new(format!("attribute \"{name}\" is required"))),
                }
            }
            Ok(Value::Object(out))
        }
        Type::Tuple(elems) => {
            let items: Vec<Value> = match v {
                Value::List(_, items) | Value::Tuple(items) => items.clone(),
                _ => return Err(ConvertError::new("tuple required")),
            };
            if items.len() != elems.len() {
                return Err(ConvertError::new(format!("tuple required with {} elements", elems.len())));
            }
            let mut out = Vec::new();
            for (i, (item, ety)) in items.iter().zip(elems).enumerate() {
                out.push(convert(item, ety).map_err(|e| e.at(format!("[{i}]")))?);
            }
            Ok(Value::Tuple(out))
        }
        Type::Dynamic => Ok(v.clone()),
    }
}

fn concrete_or_dynamic(want: &Type, have: &Type) -> Type {
    if want.has_dynamic() && !have.has_dynamic() { have.clone() } else { want.clone() }
}

/// The "X required" message for a type.
pub fn required(want: &Type) -> String {
    match want {
        Type::String => "string required".into(),
        Type::Number => "number required".into(),
        Type::Bool => "bool required".into(),
        Type::Object(_) => "object required".into(),
        Type::Tuple(_) => "tuple required".into(),
        other => format!("{} required", other.friendly_constraint_name()),
    }
}

/// Can some value of type `from` convert to `to`? (Known to be possible at
/// the type level; a string may still fail to parse as a number.)
pub fn conversion_possible(from: &Type, to: &Type) -> bool {
    if from == to || *to == Type::Dynamic || *from == Type::Dynamic {
        return true;
    }
    match (from, to) {
        (Type::Number | Type::Bool, Type::String) => true,
        (Type::String, Type::Number | Type::Bool) => true,
        (Type::List(a) | Type::Set(a), Type::List(b) | Type::Set(b)) => conversion_possible(a, b),
        (Type::Tuple(items), Type::List(b) | Type::Set(b)) => items.iter().all(|t| conversion_possible(t, b)),
        (Type::Map(a), Type::Map(b)) => conversion_possible(a, b),
        (Type::Object(attrs), Type::Map(b)) => attrs.values().all(|t| conversion_possible(t, b)),
        (Type::Object(have), Type::Object(want)) => {
            want.iter().all(|(k, t)| have.get(k).is_some_and(|h| conversion_possible(h, t)))
        }
        (Type::Map(a), Type::Object(want)) => want.values().all(|t| conversion_possible(a, t)),
        (Type::Tuple(a), Type::Tuple(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| conversion_possible(x, y))
        }
        (Type::List(a), Type::Tuple(b)) => b.iter().all(|t| conversion_possible(a, t)),
        _ => false,
    }
}

/// The type all of `types` can convert to, if there is one.
pub fn unify(types: &[Type]) -> Option<Type> {
    if types.is_empty() {
        return Some(Type::Dynamic);
    }
    if types.iter().all(|t| t == &types[0]) {
        return Some(types[0].clone());
    }
    let count = |f: fn(&Type) -> bool| types.iter().filter(|t| f(t)).count();
    let dynamic = count(|t| *t == Type::Dynamic);
    let maps = count(|t| matches!(t, Type::Map(_)));
    let lists = count(|t| matches!(t, Type::List(_)));
    let sets = count(|t| matches!(t, Type::Set(_)));
    let objects = count(|t| matches!(t, Type::Object(_)));
    let tuples = count(|t| matches!(t, Type::Tuple(_)));
    let n = types.len();
    if dynamic == n {
        return Some(Type::Dynamic);
    }
    // Structural and collection kinds unify without the `any`s among them
    // (a null of no type converts to whatever they unify to).
    if dynamic > 0 && types.iter().any(|t| !t.is_primitive() && *t != Type::Dynamic) {
        let rest: Vec<Type> = types.iter().filter(|t| **t != Type::Dynamic).cloned().collect();
        return unify(&rest);
    }
    if maps > 0 && maps + dynamic == n {
        return unify_elements(types).map(|e| if dynamic > 0 { Type::Dynamic } else { Type::Map(Box::new(e)) });
    }
    if maps > 0
        && maps + objects + dynamic == n
        && let Some(t) = unify_as_map(types)
    {
        return Some(t);
    }
    if lists > 0 && lists + dynamic == n {
        return unify_elements(types).map(|e| if dynamic > 0 { Type::Dynamic } else { Type::List(Box::new(e)) });
    }
    if sets > 0 && sets + dynamic == n {
        return unify_elements(types).map(|e| if dynamic > 0 { Type::Dynamic } else { Type::Set(Box::new(e)) });
    }
    if objects > 0 && objects + dynamic == n {
        if dynamic > 0 {
            return Some(Type::Dynamic);
        }
        let first = match &types[0] {
            Type::Object(a) => a,
            _ => return None,
        };
        let same_names = types.iter().all(|t| match t {
            Type::Object(a) => a.keys().eq(first.keys()),
            _ => false,
        });
        if !same_names {
            return unify_as_map(types);
        }
        let mut out = BTreeMap::new();
        for name in first.keys() {
            let attr_types: Vec<Type> = types
                .iter()
                .filter_map(|t| match t {
                    Type::Object(a) => a.get(name).cloned(),
                    _ => None,
                })
                .collect();
            out.insert(name.clone(), unify(&attr_types)?);
        }
        return Some(Type::Object(out));
    }
    if tuples > 0 && tuples + dynamic == n {
        if dynamic > 0 {
            return Some(Type::Dynamic);
        }
        let len = match &types[0] {
            Type::Tuple(e) => e.len(),
            _ => return None,
        };
        if !types.iter().all(|t| matches!(t, Type::Tuple(e) if e.len() == len)) {
            // Tuples of different lengths unify as a list of one element type.
            let elems: Vec<Type> = types
                .iter()
                .flat_map(|t| match t {
                    Type::Tuple(e) => e.clone(),
                    _ => Vec::new(),
                })
                .collect();
            return unify(&elems).map(|e| Type::List(Box::new(e)));
        }
        let mut out = Vec::new();
        for i in 0..len {
            let elem_types: Vec<Type> = types
                .iter()
                .filter_map(|t| match t {
                    Type::Tuple(e) => e.get(i).cloned(),
                    _ => None,
                })
                .collect();
            out.push(unify(&elem_types)?);
        }
        return Some(Type::Tuple(out));
    }
    if objects > 0 && tuples > 0 {
        return None;
    }
    // Primitive and mixed kinds: the first type in preference order that
    // every other type converts to (string is the most general primitive).
    let mut order: Vec<&Type> = types.iter().filter(|t| **t != Type::Dynamic).collect();
    order.sort_by_key(|t| match t {
        Type::String => 0,
        Type::Number => 1,
        Type::Bool => 2,
        _ => 3,
    });
    for want in order {
        if types.iter().all(|t| t == want || *t == Type::Dynamic || conversion_possible(t, want)) {
            return Some(want.clone());
        }
    }
    None
}

fn unify_elements(types: &[Type]) -> Option<Type> {
    let elems: Vec<Type> = types.iter().filter_map(|t| t.element().cloned()).collect();
    unify(&elems)
}

fn unify_as_map(types: &[Type]) -> Option<Type> {
    let mut elems = Vec::new();
    for t in types {
        match t {
            Type::Map(e) => elems.push((**e).clone()),
            Type::Object(attrs) => elems.extend(attrs.values().cloned()),
            Type::Dynamic => {}
            _ => return None,
        }
    }
    unify(&elems).map(|e| Type::Map(Box::new(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unifies_number_and_string_to_string() {
        assert_eq!(unify(&[Type::Number, Type::String]), Some(Type::String));
        assert_eq!(unify(&[Type::Number, Type::Bool]), None);
    }

    #[test]
    fn converts_tuple_to_list_of_unified_type() {
        let t = Value::Tuple(vec![Value::int(1), Value::string("a")]);
        let l = convert(&t, &Type::List(Box::new(Type::Dynamic))).expect("converts");
        assert_eq!(crate::format::format_value(&l), "tolist([\n  \"1\",\n  \"a\",\n])");
    }
}
