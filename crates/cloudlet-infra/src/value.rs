//! The value model: Terraform's types and values (cty's semantics).
//!
//! Primitive types are `bool`, `number` and `string`; collections are
//! `list(T)`, `set(T)` and `map(T)` with one element type; structural types
//! are `tuple([...])` and `object({...})`; `any` (the dynamic pseudo-type)
//! stands for "not yet decided". Any value may be null or unknown (of a
//! type), and any value may be marked sensitive.
//!
//! Sets are kept sorted and deduplicated in Terraform's order (strings by
//! bytes, numbers by value, booleans false first, other values by their
//! rendering), maps and objects are keyed in byte order: that is the order
//! Terraform prints and iterates them in.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;

use crate::number::Number;

/// A type or type constraint.
#[derive(Clone, PartialEq, Eq)]
pub enum Type {
    Bool,
    Number,
    String,
    List(Box<Type>),
    Set(Box<Type>),
    Map(Box<Type>),
    Object(BTreeMap<String, Type>),
    Tuple(Vec<Type>),
    /// `any`: the type is decided by the value.
    Dynamic,
}

impl fmt::Debug for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.type_expr())
    }
}

impl Type {
    /// The name used in messages ("list of string", "object").
    pub fn friendly_name(&self) -> String {
        match self {
            Type::Bool => "bool".into(),
            Type::Number => "number".into(),
            Type::String => "string".into(),
            Type::List(e) => format!("list of {}", e.friendly_name()),
            Type::Set(e) => format!("set of {}", e.friendly_name()),
            Type::Map(e) => format!("map of {}", e.friendly_name()),
            Type::Object(_) => "object".into(),
            Type::Tuple(_) => "tuple".into(),
            Type::Dynamic => "dynamic".into(),
        }
    }

    /// The name used for a constraint in messages (`any` for dynamic).
    pub fn friendly_constraint_name(&self) -> String {
        match self {
            Type::Dynamic => "any".into(),
            Type::List(e) => format!("list of {}", e.friendly_constraint_name()),
            Type::Set(e) => format!("set of {}", e.friendly_constraint_name()),
            Type::Map(e) => format!("map of {}", e.friendly_constraint_name()),
            other => other.friendly_name(),
        }
    }

    /// The type written as a Terraform type expression, as `type()` prints it.
    pub fn type_expr(&self) -> String {
        self.type_expr_indented(0)
    }

    fn type_expr_indented(&self, indent: usize) -> String {
        let pad = "    ".repeat(indent + 1);
        let close = "    ".repeat(indent);
        match self {
            Type::Bool => "bool".into(),
            Type::Number => "number".into(),
            Type::String => "string".into(),
            Type::Dynamic => "dynamic".into(),
            Type::List(e) => format!("list({})", e.type_expr_indented(indent)),
            Type::Set(e) => format!("set({})", e.type_expr_indented(indent)),
            Type::Map(e) => format!("map({})", e.type_expr_indented(indent)),
            Type::Object(attrs) => {
                if attrs.is_empty() {
                    return "object({})".into();
                }
                let mut s = String::from("object({\n");
                for (k, t) in attrs {
                    s.push_str(&format!("{pad}{k}: {},\n", t.type_expr_indented(indent + 1)));
                }
                s.push_str(&format!("{close}}})"));
                s
            }
            Type::Tuple(elems) => {
                if elems.is_empty() {
                    return "tuple([])".into();
                }
                let mut s = String::from("tuple([\n");
                for t in elems {
                    s.push_str(&format!("{pad}{},\n", t.type_expr_indented(indent + 1)));
                }
                s.push_str(&format!("{close}])"));
                s
            }
        }
    }

    /// Is this type (or any type inside it) `any`?
    pub fn has_dynamic(&self) -> bool {
        match self {
            Type::Dynamic => true,
            Type::List(e) | Type::Set(e) | Type::Map(e) => e.has_dynamic(),
            Type::Object(a) => a.values().any(Type::has_dynamic),
            Type::Tuple(e) => e.iter().any(Type::has_dynamic),
            _ => false,
        }
    }

    /// Is this a primitive type?
    pub fn is_primitive(&self) -> bool {
        matches!(self, Type::Bool | Type::Number | Type::String)
    }

    /// The element type of a list, set or map.
    pub fn element(&self) -> Option<&Type> {
        match self {
            Type::List(e) | Type::Set(e) | Type::Map(e) => Some(e),
            _ => None,
        }
    }
}

/// A value. `Marked` wraps a value that is sensitive.
#[derive(Clone)]
pub enum Value {
    Null(Type),
    Unknown(Type),
    Bool(bool),
    Number(Number),
    String(String),
    /// A list: element type and elements.
    List(Type, Vec<Value>),
    /// A set: element type and elements, sorted and deduplicated.
    Set(Type, Vec<Value>),
    /// A map: element type and elements by key.
    Map(Type, BTreeMap<String, Value>),
    Tuple(Vec<Value>),
    Object(BTreeMap<String, Value>),
    /// A sensitive value.
    Marked(Box<Value>),
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::format::format_value(self))
    }
}

impl Value {
    /// A string value, in Unicode normalization form C as Terraform keeps
    /// every string.
    pub fn string(s: impl Into<String>) -> Value {
        Value::String(nfc(s.into()))
    }

    /// A number from an `i64`, as functions make integers.
    pub fn int(v: i64) -> Value {
        Value::Number(Number::from_i64(v))
    }

    /// A list of `elem` values (all of that type).
    pub fn list(elem: Type, items: Vec<Value>) -> Value {
        Value::List(elem, items)
    }

    /// A set, sorted and deduplicated.
    pub fn set(elem: Type, mut items: Vec<Value>) -> Value {
        items.sort_by(set_order);
        items.dedup_by(|a, b| a.raw_equal(b));
        Value::Set(elem, items)
    }

    /// The value's type.
    pub fn ty(&self) -> Type {
        match self {
            Value::Null(t) | Value::Unknown(t) => t.clone(),
            Value::Bool(_) => Type::Bool,
            Value::Number(_) => Type::Number,
            Value::String(_) => Type::String,
            Value::List(t, _) => Type::List(Box::new(t.clone())),
            Value::Set(t, _) => Type::Set(Box::new(t.clone())),
            Value::Map(t, _) => Type::Map(Box::new(t.clone())),
            Value::Tuple(items) => Type::Tuple(items.iter().map(Value::ty).collect()),
            Value::Object(attrs) => Type::Object(attrs.iter().map(|(k, v)| (k.clone(), v.ty())).collect()),
            Value::Marked(v) => v.ty(),
        }
    }

    /// Is this value (shallowly) sensitive?
    pub fn is_marked(&self) -> bool {
        matches!(self, Value::Marked(_))
    }

    /// Is this value or anything inside it sensitive?
    pub fn has_marks_deep(&self) -> bool {
        match self {
            Value::Marked(_) => true,
            Value::List(_, v) | Value::Set(_, v) | Value::Tuple(v) => v.iter().any(Value::has_marks_deep),
            Value::Map(_, m) | Value::Object(m) => m.values().any(Value::has_marks_deep),
            _ => false,
        }
    }

    /// The value without its own mark.
    pub fn unmarked(&self) -> &Value {
        match self {
            Value::Marked(v) => v.unmarked(),
            v => v,
        }
    }

    /// Removes the value's own mark.
    pub fn into_unmarked(self) -> (Value, bool) {
        match self {
            Value::Marked(v) => (v.into_unmarked().0, true),
            v => (v, false),
        }
    }

    /// Removes every mark inside the value; reports whether there were any.
    pub fn unmark_deep(self) -> (Value, bool) {
        match self {
            Value::Marked(v) => (v.unmark_deep().0, true),
            Value::List(t, items) => {
                let (items, m) = unmark_all(items);
                (Value::List(t, items), m)
            }
            Value::Set(t, items) => {
                let (items, m) = unmark_all(items);
                (Value::Set(t, items), m)
            }
            Value::Tuple(items) => {
                let (items, m) = unmark_all(items);
                (Value::Tuple(items), m)
            }
            Value::Map(t, map) => {
                let (map, m) = unmark_map(map);
                (Value::Map(t, map), m)
            }
            Value::Object(map) => {
                let (map, m) = unmark_map(map);
                (Value::Object(map), m)
            }
            v => (v, false),
        }
    }

    /// Marks the value sensitive when `mark` is true.
    pub fn mark_if(self, mark: bool) -> Value {
        if mark && !self.is_marked() { Value::Marked(Box::new(self)) } else { self }
    }

    /// Is this value null?
    pub fn is_null(&self) -> bool {
        matches!(self.unmarked(), Value::Null(_))
    }

    /// Is this value unknown?
    pub fn is_unknown(&self) -> bool {
        matches!(self.unmarked(), Value::Unknown(_))
    }

    /// Is this value wholly known (nothing unknown inside)?
    pub fn is_wholly_known(&self) -> bool {
        match self.unmarked() {
            Value::Unknown(_) => false,
            Value::List(_, v) | Value::Set(_, v) | Value::Tuple(v) => v.iter().all(Value::is_wholly_known),
            Value::Map(_, m) | Value::Object(m) => m.values().all(Value::is_wholly_known),
            _ => true,
        }
    }

    /// Elements of a list, set or tuple; values of a map or object.
    pub fn elements(&self) -> Vec<(Value, Value)> {
        match self.unmarked() {
            Value::List(_, v) | Value::Tuple(v) => {
                v.iter().enumerate().map(|(i, x)| (Value::int(i as i64), x.clone())).collect()
            }
            Value::Set(_, v) => v.iter().map(|x| (x.clone(), x.clone())).collect(),
            Value::Map(_, m) | Value::Object(m) => {
                m.iter().map(|(k, x)| (Value::string(k.clone()), x.clone())).collect()
            }
            _ => Vec::new(),
        }
    }

    /// Number of elements of a collection or structural value.
    pub fn length(&self) -> usize {
        match self.unmarked() {
            Value::List(_, v) | Value::Set(_, v) | Value::Tuple(v) => v.len(),
            Value::Map(_, m) | Value::Object(m) => m.len(),
            _ => 0,
        }
    }

    /// Structural equality of two known values of the same type (marks
    /// ignored), as sets deduplicate.
    pub fn raw_equal(&self, other: &Value) -> bool {
        match (self.unmarked(), other.unmarked()) {
            (Value::Null(a), Value::Null(b)) => a == b,
            (Value::Unknown(_), _) | (_, Value::Unknown(_)) => false,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Number(a), Value::Number(b)) => a == b,
            (Value::String(a), Value::String(b)) => a == b,
            (Value::List(ta, a), Value::List(tb, b)) | (Value::Set(ta, a), Value::Set(tb, b)) => {
                ta == tb && a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.raw_equal(y))
            }
            (Value::Tuple(a), Value::Tuple(b)) => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.raw_equal(y)),
            (Value::Map(ta, a), Value::Map(tb, b)) => ta == tb && maps_equal(a, b),
            (Value::Object(a), Value::Object(b)) => maps_equal(a, b),
            _ => false,
        }
    }

    /// The string of a known string value.
    pub fn as_str(&self) -> Option<&str> {
        match self.unmarked() {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The number of a known number value.
    pub fn as_number(&self) -> Option<&Number> {
        match self.unmarked() {
            Value::Number(n) => Some(n),
            _ => None,
        }
    }

    /// The bool of a known bool value.
    pub fn as_bool(&self) -> Option<bool> {
        match self.unmarked() {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }
}

/// `s` in normalization form C (unchanged, without copying, when it is).
pub fn nfc(s: String) -> String {
    use unicode_normalization::{IsNormalized, UnicodeNormalization as _, is_nfc_quick};
    if s.is_ascii() || is_nfc_quick(s.chars()) == IsNormalized::Yes {
        return s;
    }
    s.nfc().collect()
}

fn maps_equal(a: &BTreeMap<String, Value>, b: &BTreeMap<String, Value>) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|((ka, va), (kb, vb))| ka == kb && va.raw_equal(vb))
}

fn unmark_all(items: Vec<Value>) -> (Vec<Value>, bool) {
    let mut any = false;
    let items = items
        .into_iter()
        .map(|v| {
            let (v, m) = v.unmark_deep();
            any |= m;
            v
        })
        .collect();
    (items, any)
}

fn unmark_map(map: BTreeMap<String, Value>) -> (BTreeMap<String, Value>, bool) {
    let mut any = false;
    let map = map
        .into_iter()
        .map(|(k, v)| {
            let (v, m) = v.unmark_deep();
            any |= m;
            (k, v)
        })
        .collect();
    (map, any)
}

/// The order of set elements: strings by bytes, numbers by value, `false`
/// before `true`, unknowns last, anything else by its printed form.
pub fn set_order(a: &Value, b: &Value) -> Ordering {
    match (a.unmarked(), b.unmarked()) {
        (Value::String(x), Value::String(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Value::Number(x), Value::Number(y)) => x.cmp_value(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Unknown(_), Value::Unknown(_)) => Ordering::Equal,
        (Value::Unknown(_), _) => Ordering::Greater,
        (_, Value::Unknown(_)) => Ordering::Less,
        (Value::Null(_), Value::Null(_)) => Ordering::Equal,
        (Value::Null(_), _) => Ordering::Greater,
        (_, Value::Null(_)) => Ordering::Less,
        (x, y) => crate::format::format_value(x).cmp(&crate::format::format_value(y)),
    }
}
