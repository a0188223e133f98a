//! GitHub Actions expressions: lexing, parsing (with the available contexts
//! and functions checked at parse time), evaluation, `${{ }}` templates in
//! strings, and the implicit `success()` of `if:` conditions.
//!
//! Pure: the only outside answers (status functions, `hashFiles`) come
//! through the caller's [`Host`].

mod eval;
mod lexer;
mod parser;
mod value;

use std::fmt;

pub use eval::{Host, NoHost, loose_eq};
pub use parser::{BinaryOp, Expr, FunctionSig, Index, LogicalOp};
pub use value::{Object, Value, js_number_to_string, js_parse_number, number_to_string};

/// Which stage rejected an expression.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    Lexing,
    Parsing,
    Evaluation,
}

/// An expression error, printed the way GitHub prints it:
/// `<message>. Located at position N within expression: <expr>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExprError {
    pub kind: ErrorKind,
    pub message: String,
    /// 0-based character offset in the expression, when known.
    pub pos: Option<usize>,
    pub expr: String,
}

impl ExprError {
    pub(crate) fn new(kind: ErrorKind, message: String, pos: Option<usize>, expr: &str) -> ExprError {
        ExprError { kind, message, pos, expr: expr.to_owned() }
    }
}

impl fmt::Display for ExprError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pos {
            Some(p) => write!(f, "{}. Located at position {} within expression: {}", self.message, p + 1, self.expr),
            None => write!(f, "{}. Located within expression: {}", self.message, self.expr),
        }
    }
}

impl std::error::Error for ExprError {}

/// The status functions, callable where `if:` conditions are evaluated.
pub const STATUS_FUNCTIONS: &[FunctionSig] = &[
    FunctionSig { name: "success", min_args: 0, max_args: 0 },
    FunctionSig { name: "failure", min_args: 0, max_args: 0 },
    FunctionSig { name: "cancelled", min_args: 0, max_args: 0 },
    FunctionSig { name: "always", min_args: 0, max_args: 0 },
];

/// `hashFiles`, callable in step-level keys.
pub const HASH_FILES: FunctionSig = FunctionSig { name: "hashfiles", min_args: 1, max_args: 255 };

/// Parses an expression. `contexts` are the named values available where
/// it appears; `functions` are those available besides the built-ins.
/// `Ok(None)` for an empty expression (which evaluates to null).
pub fn parse(input: &str, contexts: &[String], functions: &[FunctionSig]) -> Result<Option<Expr>, ExprError> {
    let tokens = lexer::lex(input)?;
    parser::Parser::new(input, tokens, contexts, functions).parse()
}

/// Evaluates a parsed expression; `input` is its text, for error messages.
pub fn evaluate(expr: Option<&Expr>, input: &str, contexts: &Object, host: &dyn Host) -> Result<Value, ExprError> {
    let Some(expr) = expr else { return Ok(Value::Null) };
    let mut ev = eval::Evaluator { input, contexts, host, memory_bytes: 0 };
    ev.eval(expr)
}

/// Parses and evaluates with every context in `contexts` available.
pub fn eval_str(
    input: &str,
    contexts: &Object,
    functions: &[FunctionSig],
    host: &dyn Host,
) -> Result<Value, ExprError> {
    let names: Vec<String> = contexts.iter().map(|(k, _)| k.to_owned()).collect();
    let e = parse(input, &names, functions)?;
    evaluate(e.as_ref(), input, contexts, host)
}

/// Whether an expression calls a status function anywhere (found in the
/// AST, not by searching text).
pub fn calls_status_function(e: &Expr) -> bool {
    match e {
        Expr::Call(name, args) => {
            STATUS_FUNCTIONS.iter().any(|f| f.name == name) || args.iter().any(calls_status_function)
        }
        Expr::Literal(_) | Expr::Context(_) => false,
        Expr::Not(x) | Expr::Group(x) => calls_status_function(x),
        Expr::Binary(_, l, r) => calls_status_function(l) || calls_status_function(r),
        Expr::Logical(_, args) => args.iter().any(calls_status_function),
        Expr::Index(x, idx) => calls_status_function(x) || matches!(idx, Index::Expr(i) if calls_status_function(i)),
    }
}

/// One piece of a string that may hold `${{ }}` expressions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    Text(String),
    /// The expression's text and its byte offset in the string (of the
    /// text after `${{`).
    Expr(String, usize),
}

/// Splits a string at `${{ … }}`. A `}}` inside a quoted string does not
/// close the expression. An unclosed `${{` is an error naming its offset.
pub fn split_template(s: &str) -> Result<Vec<Segment>, TemplateError> {
    let mut out = Vec::new();
    let mut rest = 0;
    let bytes = s.as_bytes();
    while let Some(start) = s[rest..].find("${{").map(|p| p + rest) {
        if start > rest {
            out.push(Segment::Text(s[rest..start].to_owned()));
        }
        let body = start + 3;
        let mut i = body;
        let mut in_string = false;
        let mut end = None;
        while i < bytes.len() {
            match bytes[i] {
                b'\'' => in_string = !in_string,
                b'}' if !in_string && bytes.get(i + 1) == Some(&b'}') => {
                    end = Some(i);
                    break;
                }
                _ => {}
            }
            i += 1;
        }
        let Some(end) = end else {
            return Err(TemplateError::NotClosed { offset: start });
        };
        let text = s[body..end].trim();
        if text.is_empty() {
            return Err(TemplateError::Empty { offset: start });
        }
        out.push(Segment::Expr(text.to_owned(), body));
        rest = end + 2;
    }
    if rest < s.len() {
        out.push(Segment::Text(s[rest..].to_owned()));
    }
    Ok(out)
}

/// A malformed `${{ }}` template.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("the expression is not closed; an unescaped `${{{{` must be followed by `}}}}`")]
    NotClosed { offset: usize },
    #[error("an expression was expected inside `${{{{ }}}}`")]
    Empty { offset: usize },
}

/// Evaluates a string with `${{ }}` expressions. A string that is exactly
/// one expression yields the expression's value; otherwise the pieces are
/// joined as strings.
pub fn eval_template(
    s: &str,
    contexts: &Object,
    functions: &[FunctionSig],
    host: &dyn Host,
) -> Result<Value, TemplateEvalError> {
    let segments = split_template(s)?;
    if let [Segment::Expr(e, _)] = segments.as_slice() {
        return Ok(eval_str(e, contexts, functions, host)?);
    }
    let mut out = String::new();
    for seg in &segments {
        match seg {
            Segment::Text(t) => out.push_str(t),
            Segment::Expr(e, _) => out.push_str(&eval_str(e, contexts, functions, host)?.to_display_string()),
        }
    }
    Ok(Value::String(out))
}

/// Why a template could not be evaluated.
#[derive(Clone, Debug, thiserror::Error)]
pub enum TemplateEvalError {
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error(transparent)]
    Expr(#[from] ExprError),
}

/// The condition text of an `if:`: `${{ x }}` alone is `x`; a value
/// without `${{` is itself an expression; text around `${{ }}` makes a
/// string (always truthy when not empty), which is represented as a
/// `format()` call, so the caller can still evaluate one expression.
pub fn if_condition_text(raw: &str) -> Result<String, TemplateError> {
    let t = raw.trim();
    if !t.contains("${{") {
        return Ok(t.to_owned());
    }
    let segs = split_template(raw)?;
    if let [Segment::Expr(e, _)] = segs.as_slice()
        && raw.trim_start().starts_with("${{")
        && raw.trim_end().ends_with("}}")
        && raw.trim() == raw
    {
        return Ok(e.clone());
    }
    // Mixed text: format('<text with {N}>', exprs…).
    let mut fmt = String::new();
    let mut args = Vec::new();
    for seg in &segs {
        match seg {
            Segment::Text(t) => fmt.push_str(&t.replace('{', "{{").replace('}', "}}").replace('\'', "''")),
            Segment::Expr(e, _) => {
                fmt.push_str(&format!("{{{}}}", args.len()));
                args.push(e.clone());
            }
        }
    }
    let mut call = format!("format('{fmt}'");
    for a in args {
        call.push_str(", ");
        call.push_str(&a);
    }
    call.push(')');
    Ok(call)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(json: &str) -> Object {
        Value::from_json(json).ok().and_then(|v| v.as_object().cloned()).unwrap_or_default()
    }

    #[test]
    fn templates_join_pieces_and_keep_single_values() {
        let c = ctx(r#"{"matrix": {"os": "linux", "n": 3}}"#);
        let v = eval_template("${{ matrix.n }}", &c, &[], &NoHost);
        assert!(matches!(v, Ok(Value::Number(n)) if n == 3.0));
        let v = eval_template("build-${{ matrix.os }}-${{ matrix.n }}", &c, &[], &NoHost);
        assert!(matches!(v, Ok(Value::String(s)) if s == "build-linux-3"));
        assert!(matches!(split_template("a ${{ x"), Err(TemplateError::NotClosed { offset: 2 })));
        assert!(matches!(split_template("${{ '}}' }}"), Ok(s) if s == vec![Segment::Expr("'}}'".into(), 3)]));
    }

    #[test]
    fn if_text_around_an_expression_is_a_truthy_string() {
        assert_eq!(if_condition_text("${{ false }}").ok().as_deref(), Some("false"));
        assert_eq!(if_condition_text("github.ref == 'x'").ok().as_deref(), Some("github.ref == 'x'"));
        let t = if_condition_text("true && ${{ false }}").unwrap_or_default();
        let v = eval_str(&t, &Object::new(), &[], &NoHost);
        assert!(matches!(v, Ok(Value::String(s)) if s == "true && false"));
        let t = if_condition_text("${{ false }}\n").unwrap_or_default();
        assert!(t.starts_with("format("));
    }

    #[test]
    fn status_functions_are_found_in_the_ast() {
        let names = vec!["github".to_owned()];
        let e = parse("github.x && !cancelled()", &names, STATUS_FUNCTIONS).ok().flatten();
        assert!(e.as_ref().is_some_and(calls_status_function));
        let e = parse("contains(github.x, 'success()')", &names, STATUS_FUNCTIONS).ok().flatten();
        assert!(!e.as_ref().is_some_and(calls_status_function));
    }
}
