//! The evaluator: an AST and the contexts → a value.
//!
//! Loose equality and ordering coerce to numbers when kinds differ;
//! strings compare ignoring case; arrays and objects are equal only to
//! themselves; `&&`/`||` return an operand. `.*` yields a *filtered array*
//! whose further indexing maps over its items. Status functions and
//! `hashFiles` come from the caller (`Host`), the only way evaluation can
//! reach the outside.

use std::sync::Arc;

use super::parser::{BinaryOp, Expr, Index, LogicalOp};
use super::value::{Object, Value};
use super::{ErrorKind, ExprError};

/// Functions whose answer depends on where the expression runs.
pub trait Host {
    /// `success()`, `failure()`, `cancelled()`, `always()`; `name` is
    /// lower-case; `args` are job ids where a job's `if:` names them.
    fn status(&self, name: &str, _args: &[Value]) -> Result<bool, String> {
        Err(format!("{name}() is not available here"))
    }

    /// `hashFiles(patterns…)`.
    fn hash_files(&self, _patterns: &[String]) -> Result<String, String> {
        Err("hashFiles() is not available here".to_owned())
    }
}

/// A host without status functions or files.
#[derive(Debug, Default)]
pub struct NoHost;

impl Host for NoHost {}

/// The most string data one evaluation may produce, counted as UTF-16
/// bytes the way GitHub's evaluator bounds its memory.
pub(crate) const MAX_MEMORY_BYTES: usize = 1024 * 1024;

pub(crate) struct Evaluator<'a> {
    pub(crate) input: &'a str,
    pub(crate) contexts: &'a Object,
    pub(crate) host: &'a dyn Host,
    pub(crate) memory_bytes: usize,
}

/// An intermediate result: a value, and whether it is an array produced
/// by `.*`, which indexing maps over.
struct Res {
    value: Value,
    filtered: bool,
}

impl From<Value> for Res {
    fn from(value: Value) -> Res {
        Res { value, filtered: false }
    }
}

impl Evaluator<'_> {
    pub(crate) fn eval(&mut self, e: &Expr) -> Result<Value, ExprError> {
        Ok(self.eval_res(e)?.value)
    }

    fn err(&self, msg: impl Into<String>) -> ExprError {
        ExprError::new(ErrorKind::Evaluation, msg.into(), None, self.input)
    }

    fn eval_res(&mut self, e: &Expr) -> Result<Res, ExprError> {
        Ok(match e {
            Expr::Literal(v) => v.clone().into(),
            Expr::Context(name) => self.contexts.get(name).cloned().unwrap_or(Value::Null).into(),
            Expr::Group(inner) => self.eval(inner)?.into(),
            Expr::Not(inner) => Value::Bool(!self.eval(inner)?.is_truthy()).into(),
            Expr::Binary(op, l, r) => {
                let l = self.eval(l)?;
                let r = self.eval(r)?;
                Value::Bool(match op {
                    BinaryOp::Eq => loose_eq(&l, &r),
                    BinaryOp::Ne => !loose_eq(&l, &r),
                    BinaryOp::Gt => greater(&l, &r),
                    BinaryOp::Ge => loose_eq(&l, &r) || greater(&l, &r),
                    BinaryOp::Lt => less(&l, &r),
                    BinaryOp::Le => loose_eq(&l, &r) || less(&l, &r),
                })
                .into()
            }
            Expr::Logical(op, args) => {
                let mut result = Value::Null;
                for a in args {
                    result = self.eval(a)?;
                    let stop = match op {
                        LogicalOp::And => !result.is_truthy(),
                        LogicalOp::Or => result.is_truthy(),
                    };
                    if stop {
                        break;
                    }
                }
                result.into()
            }
            Expr::Index(obj, idx) => {
                let key = match idx {
                    Index::Star => None,
                    Index::Expr(x) => Some(IndexKey::new(&self.eval(x)?)),
                };
                let obj = self.eval_res(obj)?;
                index(obj, key.as_ref())
            }
            Expr::Call(name, args) => {
                let mut values = Vec::with_capacity(args.len());
                for a in args {
                    values.push(self.eval(a)?);
                }
                self.call(name, values)?.into()
            }
        })
    }

    fn charge(&mut self, v: &Value) -> Result<(), ExprError> {
        if let Value::String(s) = v {
            self.memory_bytes += s.encode_utf16().count() * 2;
            if self.memory_bytes > MAX_MEMORY_BYTES {
                return Err(self.err("The maximum allowed memory size was exceeded"));
            }
        }
        Ok(())
    }

    fn call(&mut self, name: &str, args: Vec<Value>) -> Result<Value, ExprError> {
        let arg = |i: usize| args.get(i).cloned().unwrap_or(Value::Null);
        let v = match name {
            "contains" => Value::Bool(contains(&arg(0), &arg(1))),
            "startswith" | "endswith" => {
                let (a, b) = (arg(0), arg(1));
                Value::Bool(if a.is_primitive() && b.is_primitive() {
                    let a = fold(&a.to_display_string());
                    let b = fold(&b.to_display_string());
                    if name == "startswith" { a.starts_with(&b) } else { a.ends_with(&b) }
                } else {
                    false
                })
            }
            "format" => Value::String(format(&args).map_err(|m| self.err(m))?),
            "join" => {
                let a = arg(0);
                match &a {
                    Value::Array(items) => {
                        let sep = match args.get(1) {
                            Some(s) if s.is_primitive() => s.to_display_string(),
                            _ => ",".to_owned(),
                        };
                        Value::String(items.iter().map(Value::to_display_string).collect::<Vec<_>>().join(&sep))
                    }
                    v if v.is_primitive() => Value::String(v.to_display_string()),
                    _ => Value::String(String::new()),
                }
            }
            "tojson" => Value::String(arg(0).to_json_pretty()),
            "fromjson" => {
                let s = arg(0).to_display_string();
                if s.trim().is_empty() {
                    return Err(self.err("empty input"));
                }
                Value::from_json(&s).map_err(|e| self.err(format!("Error parsing fromJson: {e}")))?
            }
            "case" => {
                let mut i = 0;
                while i + 1 < args.len() {
                    match &args[i] {
                        Value::Bool(true) => return Ok(args[i + 1].clone()),
                        Value::Bool(false) => {}
                        _ => return Err(self.err("case predicate must evaluate to a boolean value")),
                    }
                    i += 2;
                }
                arg(args.len().saturating_sub(1))
            }
            "success" | "failure" | "cancelled" | "always" => {
                Value::Bool(self.host.status(name, &args).map_err(|m| self.err(m))?)
            }
            "hashfiles" => {
                let patterns: Vec<String> = args.iter().map(Value::to_display_string).collect();
                Value::String(self.host.hash_files(&patterns).map_err(|m| self.err(m))?)
            }
            other => return Err(self.err(format!("Unrecognized function: '{other}'"))),
        };
        self.charge(&v)?;
        Ok(v)
    }
}

/// A computed index: its string form (for primitive indexes) and, when it
/// is a non-negative finite number after coercion, its integer form.
struct IndexKey {
    string: Option<String>,
    int: Option<usize>,
}

impl IndexKey {
    fn new(v: &Value) -> IndexKey {
        let string = v.is_primitive().then(|| v.to_display_string());
        let f = v.to_number();
        let int = (f.is_finite() && f >= 0.0).then(|| f.floor() as usize);
        IndexKey { string, int }
    }
}

fn index(obj: Res, key: Option<&IndexKey>) -> Res {
    if obj.filtered {
        let mut out = Vec::new();
        if let Value::Array(items) = &obj.value {
            for item in items.iter() {
                match (item, key) {
                    (Value::Object(o), None) => out.extend(o.values().cloned()),
                    (Value::Object(o), Some(k)) => {
                        if let Some(v) = k.string.as_deref().and_then(|s| o.get(s)) {
                            out.push(v.clone());
                        }
                    }
                    (Value::Array(a), None) => out.extend(a.iter().cloned()),
                    (Value::Array(a), Some(k)) => {
                        if let Some(v) = k.int.and_then(|i| a.get(i)) {
                            out.push(v.clone());
                        }
                    }
                    _ => {}
                }
            }
        }
        return Res { value: Value::Array(Arc::new(out)), filtered: true };
    }
    match (&obj.value, key) {
        (Value::Array(a), None) => Res { value: Value::Array(a.clone()), filtered: true },
        (Value::Array(a), Some(k)) => k.int.and_then(|i| a.get(i)).cloned().unwrap_or(Value::Null).into(),
        (Value::Object(o), None) => Res { value: Value::array(o.values().cloned().collect()), filtered: true },
        (Value::Object(o), Some(k)) => {
            k.string.as_deref().and_then(|s| o.get(s)).cloned().unwrap_or(Value::Null).into()
        }
        (_, None) => Res { value: Value::array(Vec::new()), filtered: true },
        (_, Some(_)) => Value::Null.into(),
    }
}

/// Coerces two values of different kinds the way GitHub does: number and
/// string → numbers; null and booleans → numbers; otherwise unchanged.
fn coerce(l: &Value, r: &Value) -> (Value, Value) {
    use Value as V;
    match (l, r) {
        (V::Null, V::Null) | (V::Bool(_), V::Bool(_)) | (V::Number(_), V::Number(_)) | (V::String(_), V::String(_)) => {
            (l.clone(), r.clone())
        }
        (V::Array(_), V::Array(_)) | (V::Object(_), V::Object(_)) => (l.clone(), r.clone()),
        (V::Number(_), V::String(_)) => (l.clone(), V::Number(r.to_number())),
        (V::String(_), V::Number(_)) => (V::Number(l.to_number()), r.clone()),
        (V::Null | V::Bool(_), _) => coerce(&V::Number(l.to_number()), r),
        (_, V::Null | V::Bool(_)) => coerce(l, &V::Number(r.to_number())),
        _ => (l.clone(), r.clone()),
    }
}

/// Upper-cases for comparison, leaving the dotless `ı` alone as GitHub does.
fn upper(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c == 'ı' {
            out.push(c);
        } else {
            out.extend(c.to_uppercase());
        }
    }
    out
}

/// Case folding for `contains`, `startsWith` and `endsWith`: each
/// character's simple upper case (so `ς`, `σ` and `Σ` agree, while `İ` is
/// not `i`), the way an ordinal ignore-case comparison works.
fn fold(s: &str) -> String {
    s.chars()
        .map(|c| {
            let mut up = c.to_uppercase();
            match (up.next(), up.next()) {
                (Some(u), None) if c != 'ı' => u,
                _ => c,
            }
        })
        .collect()
}

/// GitHub's `==`.
pub fn loose_eq(l: &Value, r: &Value) -> bool {
    match coerce(l, r) {
        (Value::Null, Value::Null) => true,
        (Value::Number(a), Value::Number(b)) => !a.is_nan() && !b.is_nan() && a == b,
        (Value::String(a), Value::String(b)) => upper(&a) == upper(&b),
        (Value::Bool(a), Value::Bool(b)) => a == b,
        (Value::Array(a), Value::Array(b)) => Arc::ptr_eq(&a, &b),
        (Value::Object(a), Value::Object(b)) => Arc::ptr_eq(&a, &b),
        _ => false,
    }
}

fn greater(l: &Value, r: &Value) -> bool {
    match coerce(l, r) {
        (Value::Number(a), Value::Number(b)) => !a.is_nan() && !b.is_nan() && a > b,
        (Value::String(a), Value::String(b)) => utf16_cmp(&upper(&a), &upper(&b)).is_gt(),
        (Value::Bool(a), Value::Bool(b)) => a && !b,
        _ => false,
    }
}

fn less(l: &Value, r: &Value) -> bool {
    match coerce(l, r) {
        (Value::Number(a), Value::Number(b)) => !a.is_nan() && !b.is_nan() && a < b,
        (Value::String(a), Value::String(b)) => utf16_cmp(&upper(&a), &upper(&b)).is_lt(),
        (Value::Bool(a), Value::Bool(b)) => !a && b,
        _ => false,
    }
}

/// Orders strings by UTF-16 code units, as JavaScript's `<` does.
fn utf16_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

fn contains(search: &Value, item: &Value) -> bool {
    match search {
        Value::Array(items) => items.iter().any(|v| loose_eq(item, v)),
        s if s.is_primitive() && item.is_primitive() => {
            fold(&s.to_display_string()).contains(&fold(&item.to_display_string()))
        }
        _ => false,
    }
}

/// `format(fmt, args…)`: `{N}` placeholders, `{{` and `}}` escapes.
fn format(args: &[Value]) -> Result<String, String> {
    let fs: Vec<char> = args.first().map(Value::to_display_string).unwrap_or_default().chars().collect();
    let text: String = fs.iter().collect();
    let invalid = || format!("The following format string is invalid: {text}");
    let find = |c: char, from: usize| fs[from..].iter().position(|x| *x == c).map(|p| p + from);
    let mut out = String::new();
    let mut i = 0;
    while i < fs.len() {
        let l = find('{', i);
        let r = find('}', i);
        match (l, r) {
            (Some(l), r) if r.is_none_or(|r| r > l) => {
                if fs.get(l + 1) == Some(&'{') {
                    out.extend(&fs[i..=l]);
                    i = l + 2;
                    continue;
                }
                let Some(r) = r else { return Err(invalid()) };
                if r > l + 1 {
                    let digits: String = fs[l + 1..].iter().take_while(|c| c.is_ascii_digit()).collect();
                    if let Ok(n) = digits.parse::<usize>() {
                        if n + 1 > args.len() - 1 {
                            return Err(format!(
                                "The following format string references more arguments than were supplied: {text}"
                            ));
                        }
                        out.extend(&fs[i..l]);
                        out.push_str(&args[n + 1].to_display_string());
                        i = r + 1;
                        continue;
                    }
                }
                return Err(invalid());
            }
            (_, Some(r)) => {
                if fs.get(r + 1) == Some(&'}') {
                    out.extend(&fs[i..=r]);
                    i = r + 2;
                } else {
                    return Err(invalid());
                }
            }
            _ => {
                out.extend(&fs[i..]);
                break;
            }
        }
    }
    Ok(out)
}
