//! Terraform's built-in functions.
//!
//! Each function has a signature (parameter names and types, whether null
//! or unknown arguments are accepted, a variadic tail) and an
//! implementation over already-converted arguments. [`call`] does what
//! Terraform's function machinery does around every call: argument count,
//! null checks, conversion to the parameter types, unknown arguments giving
//! unknown results, sensitive arguments giving sensitive results, and the
//! exact diagnostics ("Invalid function argument", "Error in function
//! call").
//!
//! Functions that touch the outside world (`file*`, `timestamp`, `uuid`,
//! `bcrypt`) read it through [`FuncContext`]; during plan those that are
//! impure return unknown values.

mod collection;
mod crypto;
mod encoding;
mod fs;
mod json;
mod net;
mod numeric;
mod string;
mod time;
mod yaml;

pub use time::rfc3339_utc;

use std::ops::Range;
use std::path::PathBuf;

use crate::convert::convert;
use crate::diag::Diagnostic;
use crate::value::{Type, Value};

/// What functions may know about the world.
#[derive(Debug, Clone, Default)]
pub struct FuncContext {
    /// The directory relative paths (`file("x")`) are read from.
    pub base_dir: PathBuf,
    /// Plan-time evaluation: impure functions return unknown.
    pub planning: bool,
    /// The current time as RFC 3339, for `timestamp()` (injected, never
    /// read from the wall clock here).
    pub now_rfc3339: Option<String>,
    /// Evaluating console input (no function differs yet; kept so the
    /// console's own functions can be told apart).
    pub console: bool,
}

/// A failed call, before it becomes a diagnostic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FuncError {
    /// "Call to function "x" failed: {0}."
    Failed(String),
    /// "Invalid value for "{param}" parameter: {1}." (by argument index).
    Arg(usize, String),
}

pub(crate) type FResult = Result<Value, FuncError>;

pub(crate) fn fail<T>(msg: impl Into<String>) -> Result<T, FuncError> {
    Err(FuncError::Failed(msg.into()))
}

pub(crate) fn arg_err<T>(i: usize, msg: impl Into<String>) -> Result<T, FuncError> {
    Err(FuncError::Arg(i, msg.into()))
}

/// One parameter of a function.
#[derive(Debug, Clone)]
pub(crate) struct Param {
    pub name: &'static str,
    pub ty: Type,
    pub allow_null: bool,
    pub allow_unknown: bool,
    pub allow_marked: bool,
}

pub(crate) fn p(name: &'static str, ty: Type) -> Param {
    Param { name, ty, allow_null: false, allow_unknown: false, allow_marked: false }
}

pub(crate) fn p_null(name: &'static str, ty: Type) -> Param {
    Param { allow_null: true, ..p(name, ty) }
}

pub(crate) type Impl = fn(&[Value], &FuncContext) -> FResult;

/// A function: parameters, optional variadic parameter, implementation.
pub(crate) struct Func {
    pub params: Vec<Param>,
    pub variadic: Option<Param>,
    pub imp: Impl,
    /// Returns unknown during plan (timestamp, uuid, bcrypt).
    pub impure: bool,
}

pub(crate) fn f(params: Vec<Param>, imp: Impl) -> Func {
    Func { params, variadic: None, imp, impure: false }
}

pub(crate) fn fv(params: Vec<Param>, variadic: Param, imp: Impl) -> Func {
    Func { params, variadic: Some(variadic), imp, impure: false }
}

pub(crate) fn list_of(t: Type) -> Type {
    Type::List(Box::new(t))
}
pub(crate) fn set_of(t: Type) -> Type {
    Type::Set(Box::new(t))
}
pub(crate) fn map_of(t: Type) -> Type {
    Type::Map(Box::new(t))
}

pub(crate) const S: Type = Type::String;
pub(crate) const N: Type = Type::Number;
pub(crate) const B: Type = Type::Bool;
pub(crate) const ANY: Type = Type::Dynamic;

/// Looks a function up by name.
fn lookup(name: &str) -> Option<Func> {
    string::lookup(name)
        .or_else(|| collection::lookup(name))
        .or_else(|| numeric::lookup(name))
        .or_else(|| encoding::lookup(name))
        .or_else(|| crypto::lookup(name))
        .or_else(|| time::lookup(name))
        .or_else(|| net::lookup(name))
        .or_else(|| fs::lookup(name))
        .or_else(|| typeconv(name))
}

/// A JSON document (already parsed) as Terraform values: objects, tuples,
/// numbers at 512 bits.
pub fn json_to_value(j: &serde_json::Value) -> Value {
    match j {
        serde_json::Value::Null => Value::Null(Type::Dynamic),
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => {
            crate::number::Number::parse(&n.to_string()).map_or(Value::Null(Type::Number), Value::Number)
        }
        serde_json::Value::String(s) => Value::string(s.clone()),
        serde_json::Value::Array(items) => Value::Tuple(items.iter().map(json_to_value).collect()),
        serde_json::Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), json_to_value(v))).collect()),
    }
}

/// Parses JSON text into Terraform values, keeping every digit of numbers.
pub fn parse_json(text: &str) -> Result<Value, String> {
    json::parse(text)
}

/// Is `name` a function cloudlet knows?
pub fn exists(name: &str) -> bool {
    lookup(name).is_some() || name == "try" || name == "can"
}

/// Calls a function with evaluated arguments.
pub fn call(name: &str, args: Vec<Value>, ctx: &FuncContext, span: Option<Range<usize>>) -> Result<Value, Diagnostic> {
    call_with_spans(name, args, &[], ctx, span)
}

/// [`call`] knowing each argument's source range, so that an invalid
/// argument is pointed at (within the call).
pub fn call_with_spans(
    name: &str,
    args: Vec<Value>,
    arg_spans: &[Option<Range<usize>>],
    ctx: &FuncContext,
    span: Option<Range<usize>>,
) -> Result<Value, Diagnostic> {
    let at = |i: usize| -> Option<Range<usize>> { arg_spans.get(i).cloned().flatten().or_else(|| span.clone()) };
    let Some(func) = lookup(name) else {
        return Err(Diagnostic::reference(
            "Call to unknown function",
            format!("There is no function named \"{name}\"."),
            span,
        ));
    };
    let nparams = func.params.len();
    if args.len() < nparams || (func.variadic.is_none() && args.len() > nparams) {
        let names: Vec<&str> = func.params.iter().map(|p| p.name).collect();
        return Err(crate::eval::arg_count_error(name, &names, func.variadic.is_some(), args.len(), span));
    }
    let mut converted = Vec::with_capacity(args.len());
    let mut marked = false;
    let mut unknown = false;
    for (i, arg) in args.into_iter().enumerate() {
        let Some(param) = func.params.get(i).or(func.variadic.as_ref()) else { break };
        let (arg, m) = if param.allow_marked { (arg, false) } else { arg.unmark_deep() };
        marked |= m;
        if arg.is_null() && !param.allow_null {
            return Err(invalid_arg(name, param.name, "argument must not be null", at(i), span));
        }
        if !arg.is_wholly_known() && !param.allow_unknown {
            unknown = true;
        }
        match convert(&arg, &param.ty) {
            Ok(v) => converted.push(v),
            Err(e) => return Err(invalid_arg(name, param.name, &e.full(), at(i), span)),
        }
    }
    if unknown || (func.impure && ctx.planning) {
        return Ok(Value::Unknown(Type::Dynamic).mark_if(marked));
    }
    match (func.imp)(&converted, ctx) {
        Ok(v) => Ok(v.mark_if(marked)),
        Err(FuncError::Failed(msg)) => {
            Err(Diagnostic::new("Error in function call", format!("Call to function \"{name}\" failed: {msg}."), span))
        }
        Err(FuncError::Arg(i, msg)) => {
            let pname = if i < nparams { func.params[i].name } else { func.variadic.as_ref().map_or("", |p| p.name) };
            Err(invalid_arg(name, pname, &msg, at(i), span))
        }
    }
}

fn invalid_arg(
    _func: &str,
    param: &str,
    msg: &str,
    subject: Option<Range<usize>>,
    call: Option<Range<usize>>,
) -> Diagnostic {
    let mut d = Diagnostic::new(
        "Invalid function argument",
        format!("Invalid value for \"{param}\" parameter: {msg}."),
        subject,
    );
    d.context = call;
    d
}

fn typeconv(name: &str) -> Option<Func> {
    let conv = |_: &[Value], _: &FuncContext| -> FResult { fail("unreachable") };
    let _ = conv;
    Some(match name {
        "tostring" => f(vec![p_null("v", ANY)], |a, _| to_type(&a[0], &S)),
        "tonumber" => f(vec![p_null("v", ANY)], |a, _| to_type(&a[0], &N)),
        "tobool" => f(vec![p_null("v", ANY)], |a, _| to_type(&a[0], &B)),
        "tolist" => f(vec![p_null("v", ANY)], |a, _| to_type(&a[0], &list_of(ANY))),
        "toset" => f(vec![p_null("v", ANY)], |a, _| to_type(&a[0], &set_of(ANY))),
        "tomap" => f(vec![p_null("v", ANY)], |a, _| to_type(&a[0], &map_of(ANY))),
        "sensitive" => f(vec![Param { allow_marked: true, allow_unknown: true, ..p_null("value", ANY) }], |a, _| {
            Ok(a[0].clone().mark_if(true))
        }),
        "issensitive" => f(vec![Param { allow_marked: true, allow_unknown: true, ..p_null("value", ANY) }], |a, _| {
            Ok(Value::Bool(a[0].is_marked()))
        }),
        // cloudlet has no ephemeral values yet, so there is nothing to null out.
        "ephemeralasnull" => {
            f(vec![Param { allow_marked: true, allow_unknown: true, ..p_null("value", ANY) }], |a, _| Ok(a[0].clone()))
        }
        "nonsensitive" => f(vec![Param { allow_marked: true, allow_unknown: true, ..p_null("value", ANY) }], |a, _| {
            if !a[0].is_marked() {
                return arg_err(0, "the given value is not sensitive, so this call is redundant");
            }
            Ok(a[0].clone().into_unmarked().0)
        }),
        _ => return None,
    })
}

fn to_type(v: &Value, want: &Type) -> FResult {
    if let Value::Null(Type::Dynamic) = v {
        return Ok(v.clone());
    }
    match convert(v, want) {
        Ok(c) => Ok(c),
        Err(e) => {
            if let (Type::Number, Some(s)) = (want, v.as_str()) {
                return arg_err(
                    0,
                    format!(
                        "cannot convert {} to number; given string must be a decimal representation of a number",
                        crate::format::quote(s)
                    ),
                );
            }
            if let (Type::Bool, Some(s)) = (want, v.as_str()) {
                return arg_err(
                    0,
                    format!(
                        "cannot convert {} to bool; only the strings \"true\" or \"false\" are allowed",
                        crate::format::quote(s)
                    ),
                );
            }
            let msg = match want {
                Type::Number | Type::Bool | Type::String => {
                    format!("cannot convert {} to {}", v.ty().friendly_name(), want.friendly_name())
                }
                Type::List(_) => format!("cannot convert {} to list of any single type", v.ty().friendly_name()),
                Type::Set(_) => format!("cannot convert {} to set of any single type", v.ty().friendly_name()),
                Type::Map(_) => format!("cannot convert {} to map of any single type", v.ty().friendly_name()),
                _ => format!("cannot convert {} to {}", v.ty().friendly_name(), want.friendly_constraint_name()),
            };
            let _ = e;
            arg_err(0, msg)
        }
    }
}

/// Integer argument `i` as an `i64`, or Terraform's "must be a whole number".
pub(crate) fn int_arg(args: &[Value], i: usize) -> Result<i64, FuncError> {
    let msg = "value must be a whole number, between -9223372036854775808 and 9223372036854775807";
    let n = args[i].as_number().ok_or(FuncError::Arg(i, "number required".into()))?;
    n.to_i64_exact().ok_or(FuncError::Failed(msg.into()))
}

/// An integer argument of the `cidr*` functions ("value must be a whole
/// number").
pub(crate) fn whole_arg(args: &[Value], i: usize) -> Result<i64, FuncError> {
    let n = args[i].as_number().ok_or(FuncError::Arg(i, "number required".into()))?;
    n.to_i64_exact().ok_or(FuncError::Failed("value must be a whole number".into()))
}

pub(crate) fn str_arg(args: &[Value], i: usize) -> &str {
    args[i].as_str().unwrap_or_default()
}

pub(crate) fn items(v: &Value) -> &[Value] {
    match v.unmarked() {
        Value::List(_, items) | Value::Set(_, items) | Value::Tuple(items) => items,
        _ => &[],
    }
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Evaluate an expression in an empty console scope, print it.

    use crate::console::eval_line;

    pub(crate) fn ev(src: &str) -> String {
        match eval_line(
            src,
            &crate::eval::EmptyScope::default(),
            &crate::funcs::FuncContext { console: true, ..Default::default() },
        ) {
            Ok(v) => crate::format::format_value(&v),
            Err(d) => format!("error: {}: {}", d.summary, d.detail),
        }
    }
}
