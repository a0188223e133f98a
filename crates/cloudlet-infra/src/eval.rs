//! The expression evaluator: hcl-edit's syntax tree → values, with HCL's
//! and Terraform's semantics (operators, conditionals, `for`, splats,
//! templates with directives and strip markers, function calls).
//!
//! References are resolved through the [`Scope`] trait, so the console, a
//! module's locals and (later) resources and data sources all plug in the
//! same way. The evaluator itself reads no files and no clock; functions
//! that do (`file`, `timestamp`) get what they need from [`FuncContext`].

use std::collections::BTreeMap;
use std::ops::Range;

use hcl_edit::Span;
use hcl_edit::expr::{BinaryOperator, Expression, ObjectKey, TraversalOperator, UnaryOperator};
use hcl_edit::template::{Directive, Element, Template};

use crate::convert::{convert, unify};
use crate::diag::Diagnostic;
use crate::funcs::{self, FuncContext};
use crate::number::Number;
use crate::value::{Type, Value};

/// Where references get their values.
pub trait Scope {
    /// Resolves a reference that starts with the name `root` followed by the
    /// attribute names `attrs` (as many as the traversal has, possibly
    /// none). Returns the value and how many of `attrs` it used.
    fn resolve(
        &self,
        root: &str,
        attrs: &[String],
        span: Option<Range<usize>>,
    ) -> std::result::Result<(Value, usize), Diagnostic>;
}

/// A scope for expressions outside any module: the console of an empty
/// configuration. Variables, locals and resources are undeclared.
#[derive(Debug, Default)]
pub struct EmptyScope {
    /// `terraform.workspace`.
    pub workspace: String,
    /// `path.module`, `path.root`, `path.cwd`.
    pub cwd: String,
}

impl Scope for EmptyScope {
    fn resolve(
        &self,
        root: &str,
        attrs: &[String],
        span: Option<Range<usize>>,
    ) -> std::result::Result<(Value, usize), Diagnostic> {
        undeclared(root, attrs, span, |name| match (root, name) {
            ("terraform", "workspace") => {
                Some(Value::string(if self.workspace.is_empty() { "default" } else { &self.workspace }))
            }
            ("path", "module" | "root") => Some(Value::string(".")),
            ("path", "cwd") => Some(Value::string(self.cwd.clone())),
            _ => None,
        })
    }
}

/// The scope of one instance of a counted or `for_each` block: `count.index`
/// or `each.key`/`each.value`, everything else from the enclosing scope.
pub struct InstanceScope<'a> {
    pub parent: &'a dyn Scope,
    /// `count.index`, when the block has `count`.
    pub count_index: Option<i64>,
    /// `each.key` and `each.value`, when the block has `for_each`.
    pub each: Option<(Value, Value)>,
}

impl std::fmt::Debug for InstanceScope<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstanceScope")
            .field("count_index", &self.count_index)
            .field("each", &self.each)
            .finish_non_exhaustive()
    }
}

impl Scope for InstanceScope<'_> {
    fn resolve(
        &self,
        root: &str,
        attrs: &[String],
        span: Option<Range<usize>>,
    ) -> std::result::Result<(Value, usize), Diagnostic> {
        match (root, attrs.first().map(String::as_str), self.count_index, &self.each) {
            ("count", Some("index"), Some(i), _) => Ok((Value::int(i), 1)),
            ("count", Some(other), Some(_), _) => Err(Diagnostic::reference(
                "Invalid \"count\" attribute",
                format!(
                    "The \"count\" object does not have an attribute named {}. The only supported attribute is count.index, which is the index of each instance of a resource block that has the \"count\" argument set.",
                    crate::format::quote(other)
                ),
                span,
            )),
            ("each", Some("key"), _, Some((k, _))) => Ok((k.clone(), 1)),
            ("each", Some("value"), _, Some((_, v))) => Ok((v.clone(), 1)),
            ("each", Some(other), _, Some(_)) => Err(Diagnostic::reference(
                "Invalid \"each\" attribute",
                format!(
                    "The \"each\" object does not have an attribute named {}. The supported attributes are each.key and each.value, the current key and value pair of the \"for_each\" attribute set.",
                    crate::format::quote(other)
                ),
                span,
            )),
            _ => self.parent.resolve(root, attrs, span),
        }
    }
}

/// Terraform's errors for references nothing declared; `known` answers the
/// built-in ones (`path.*`, `terraform.workspace`).
pub fn undeclared(
    root: &str,
    attrs: &[String],
    span: Option<Range<usize>>,
    known: impl Fn(&str) -> Option<Value>,
) -> std::result::Result<(Value, usize), Diagnostic> {
    let first = attrs.first().map(String::as_str);
    match (root, first) {
        ("var", Some(name)) => Err(Diagnostic::reference(
            "Reference to undeclared input variable",
            format!("An input variable with the name \"{name}\" has not been declared. This variable can be declared with a variable \"{name}\" {{}} block."),
            span,
        )),
        ("local", Some(name)) => Err(Diagnostic::reference(
            "Reference to undeclared local value",
            format!("A local value with the name \"{name}\" has not been declared."),
            span,
        )),
        ("path" | "terraform", Some(name)) => match known(name) {
            Some(v) => Ok((v, 1)),
            None if root == "path" => Err(Diagnostic::reference(
                "Invalid \"path\" attribute",
                format!("The \"path\" object does not have an attribute named \"{name}\". The supported attributes are path.cwd, path.module, and path.root."),
                span,
            )),
            None => Err(Diagnostic::reference(
                "Invalid \"terraform\" attribute",
                format!("The \"terraform\" object does not have an attribute named \"{name}\". The only supported attribute is terraform.workspace, the name of the currently-selected workspace."),
                span,
            )),
        },
        ("count", Some(_)) => Err(Diagnostic::reference(
            "Reference to \"count\" in non-counted context",
            "The \"count\" object can only be used in \"module\", \"resource\", and \"data\" blocks, and only when the \"count\" argument is set.",
            span,
        )),
        ("each", Some(_)) => Err(Diagnostic::reference(
            "Reference to \"each\" in context without for_each",
            "The \"each\" object can be used only in \"module\" or \"resource\" blocks, and only when the \"for_each\" argument is set.",
            span,
        )),
        ("module", Some(name)) => Err(Diagnostic::reference(
            "Reference to undeclared module",
            format!("No module call named \"{name}\" is declared in the root module."),
            span,
        )),
        ("data", Some(ty)) => match attrs.get(1) {
            Some(name) => Err(Diagnostic::reference(
                "Reference to undeclared resource",
                format!("A data resource \"{ty}\" \"{name}\" has not been declared in the root module."),
                span,
            )),
            None => Err(Diagnostic::reference(
                "Invalid data resource reference",
                "A data resource reference must have both a type and a name.",
                span,
            )),
        },
        ("var" | "local" | "path" | "terraform" | "count" | "each" | "module" | "data", None) => Err(Diagnostic::reference(
            "Invalid reference",
            match root {
                "var" => "The \"var\" object cannot be accessed directly. Instead, access one of its attributes.".to_owned(),
                "local" => "The \"local\" object cannot be accessed directly. Instead, access one of its attributes.".to_owned(),
                "module" => "The \"module\" object cannot be accessed directly. Instead, access one of its attributes.".to_owned(),
                "data" => "The \"data\" object must be followed by two attribute names: the data source type and the resource name.".to_owned(),
                other => format!("The \"{other}\" object cannot be accessed directly. Instead, access one of its attributes."),
            },
            span,
        )),
        (_, Some(name)) => Err(Diagnostic::reference(
            "Reference to undeclared resource",
            format!("A managed resource \"{root}\" \"{name}\" has not been declared in the root module."),
            span,
        )),
        (_, None) => Err(Diagnostic::reference(
            "Invalid reference",
            "A reference to a resource type must be followed by at least one attribute access, specifying the resource name.",
            span,
        )),
    }
}

/// Evaluates expressions against a scope.
pub struct Evaluator<'a> {
    scope: &'a dyn Scope,
    ctx: &'a FuncContext,
    /// Variables of the enclosing `for` expressions and template `for`
    /// directives, innermost last.
    locals: Vec<(String, Value)>,
}

impl std::fmt::Debug for Evaluator<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Evaluator").field("locals", &self.locals).finish_non_exhaustive()
    }
}

type Result<T> = std::result::Result<T, Diagnostic>;

fn span_of(e: &Expression) -> Option<Range<usize>> {
    e.span()
}

impl<'a> Evaluator<'a> {
    /// An evaluator over `scope` with the function context `ctx`.
    pub fn new(scope: &'a dyn Scope, ctx: &'a FuncContext) -> Evaluator<'a> {
        Evaluator { scope, ctx, locals: Vec::new() }
    }

    /// Evaluates one expression.
    pub fn eval(&mut self, e: &Expression) -> Result<Value> {
        match e {
            Expression::Null(_) => Ok(Value::Null(Type::Dynamic)),
            Expression::Bool(b) => Ok(Value::Bool(*b.value())),
            Expression::Number(n) => {
                let text = n.as_repr().map(|r| (**r).to_owned()).unwrap_or_else(|| n.value().to_string());
                let text = text.trim();
                Number::parse(text).map(Value::Number).ok_or_else(|| {
                    Diagnostic::new(
                        "Invalid number literal",
                        format!("Failed to recognize the value of this number literal: {text}."),
                        span_of(e),
                    )
                })
            }
            Expression::String(s) => Ok(Value::string(s.value().clone())),
            Expression::Array(items) => {
                let mut out = Vec::new();
                for item in items.iter() {
                    out.push(self.eval(item)?);
                }
                Ok(Value::Tuple(out))
            }
            Expression::Object(obj) => {
                let mut out = BTreeMap::new();
                let mut marked = false;
                for (key, value) in obj.iter() {
                    let name = match key {
                        ObjectKey::Ident(id) => id.value().as_str().to_owned(),
                        ObjectKey::Expression(Expression::Variable(id)) => id.value().as_str().to_owned(),
                        ObjectKey::Expression(ke) => {
                            let k = self.eval(ke)?;
                            let (k, m) = k.into_unmarked();
                            marked |= m;
                            if k.is_null() {
                                return Err(Diagnostic::new(
                                    "Null value as key",
                                    "Can't use a null value as a key.",
                                    span_of(ke),
                                ));
                            }
                            if k.is_unknown() {
                                return Ok(Value::Unknown(Type::Dynamic));
                            }
                            match convert(&k, &Type::String) {
                                Ok(Value::String(s)) => s,
                                _ => {
                                    return Err(Diagnostic::new(
                                        "Incorrect key type",
                                        "Can't use this value as a key: string required.",
                                        span_of(ke),
                                    ));
                                }
                            }
                        }
                    };
                    let v = self.eval(value.expr())?;
                    out.insert(name, v);
                }
                Ok(Value::Object(out).mark_if(marked))
            }
            Expression::StringTemplate(t) => {
                let elements: Vec<&Element> = t.iter().collect();
                if let [Element::Interpolation(i)] = elements.as_slice() {
                    return self.eval(&i.expr);
                }
                self.template(&elements)
            }
            Expression::HeredocTemplate(h) => {
                let elements: Vec<&Element> = h.template.iter().collect();
                if let [Element::Interpolation(i)] = elements.as_slice() {
                    return self.eval(&i.expr);
                }
                let nodes = lower_heredoc(&elements, h.indent());
                self.render_nodes(&nodes)
            }
            Expression::Parenthesis(p) => self.eval(p.inner()),
            Expression::Variable(id) => self.variable(id.value().as_str(), &[], span_of(e)).map(|(v, _)| v),
            Expression::Conditional(c) => self.conditional(&c.cond_expr, &c.true_expr, &c.false_expr),
            Expression::FuncCall(call) => {
                let name = call.name.name.value().as_str();
                let full_name = if call.name.is_namespaced() {
                    let ns: Vec<&str> = call.name.namespace.iter().map(|n| n.value().as_str()).collect();
                    format!("{}::{name}", ns.join("::"))
                } else {
                    name.to_owned()
                };
                let args: Vec<&Expression> = call.args.iter().collect();
                self.call(&full_name, &args, call.args.expand_final(), span_of(e))
            }
            Expression::Traversal(t) => self.traversal(&t.expr, &t.operators, span_of(e)),
            Expression::UnaryOp(op) => {
                let v = self.eval(&op.expr)?;
                let (v, marked) = v.into_unmarked();
                if v.is_null() {
                    return Err(Diagnostic::new(
                        "Operation failed",
                        "Error during operation: argument must not be null.",
                        span_of(e),
                    ));
                }
                let out = match op.operator.value() {
                    UnaryOperator::Neg => {
                        let v = operand(&v, &Type::Number, "unary ", span_of(&op.expr))?;
                        match v {
                            Value::Number(n) => Value::Number(n.neg()),
                            other => other,
                        }
                    }
                    UnaryOperator::Not => {
                        let v = operand(&v, &Type::Bool, "unary ", span_of(&op.expr))?;
                        match v {
                            Value::Bool(b) => Value::Bool(!b),
                            other => other,
                        }
                    }
                };
                Ok(out.mark_if(marked))
            }
            Expression::BinaryOp(op) => {
                let l = self.eval(&op.lhs_expr)?;
                let r = self.eval(&op.rhs_expr)?;
                binary(*op.operator.value(), l, r, span_of(&op.lhs_expr), span_of(&op.rhs_expr)).map_err(|mut d| {
                    if d.context.is_none() {
                        d.context = span_of(e);
                    }
                    d
                })
            }
            Expression::ForExpr(f) => self.for_expr(f),
        }
    }

    fn variable(&self, name: &str, attrs: &[String], span: Option<Range<usize>>) -> Result<(Value, usize)> {
        if let Some((_, v)) = self.locals.iter().rev().find(|(n, _)| n == name) {
            return Ok((v.clone(), 0));
        }
        self.scope.resolve(name, attrs, span)
    }

    fn conditional(&mut self, cond: &Expression, t: &Expression, f: &Expression) -> Result<Value> {
        let c = self.eval(cond)?;
        // Both results are evaluated (their types decide the result type),
        // but only the chosen one's errors are reported, as HCL does.
        let (tv, terr) = match self.eval(t) {
            Ok(v) => (v, None),
            Err(e) => (Value::Unknown(Type::Dynamic), Some(e)),
        };
        let (fv, ferr) = match self.eval(f) {
            Ok(v) => (v, None),
            Err(e) => (Value::Unknown(Type::Dynamic), Some(e)),
        };
        match (c.unmarked(), &terr, &ferr) {
            (Value::Bool(true), Some(e), _) => return Err(e.clone()),
            (Value::Bool(false), _, Some(e)) => return Err(e.clone()),
            (Value::Bool(_), _, _) => {}
            (_, Some(e), _) | (_, _, Some(e)) => return Err(e.clone()),
            _ => {}
        }
        let (c, cmarked) = c.into_unmarked();
        let ty = match unify(&[tv.ty(), fv.ty()]) {
            Some(ty) => ty,
            None => {
                return Err(Diagnostic::new(
                    "Inconsistent conditional result types",
                    format!(
                        "The true and false result expressions must have consistent types. The given expressions are {} and {}, respectively.",
                        tv.ty().friendly_name(),
                        fv.ty().friendly_name()
                    ),
                    span_of(t).map(|s| s.start..span_of(f).map_or(s.end, |e| e.end)),
                ));
            }
        };
        if c.is_null() {
            return Err(Diagnostic::new(
                "Null condition",
                "The condition value is null. Conditions must either be true or false.",
                span_of(cond),
            ));
        }
        if c.is_unknown() {
            return Ok(Value::Unknown(ty).mark_if(cmarked));
        }
        let c = match convert(&c, &Type::Bool) {
            Ok(Value::Bool(b)) => b,
            _ => {
                return Err(Diagnostic::new(
                    "Incorrect condition type",
                    "The condition expression must be of type bool.",
                    span_of(cond),
                ));
            }
        };
        let chosen = if c { tv } else { fv };
        let result = convert(&chosen, &ty).map_err(|e| {
            Diagnostic::new(
                "Inconsistent conditional result types",
                format!(
                    "The {} result value is not compatible with the result type: {}.",
                    if c { "true" } else { "false" },
                    e.full()
                ),
                span_of(if c { t } else { f }),
            )
        })?;
        Ok(result.mark_if(cmarked))
    }

    fn call(
        &mut self,
        name: &str,
        args: &[&Expression],
        expand_final: bool,
        span: Option<Range<usize>>,
    ) -> Result<Value> {
        let plain = name.strip_prefix("core::").unwrap_or(name);
        if plain == "try" || plain == "can" {
            return self.try_or_can(plain, args, span);
        }
        let mut values = Vec::with_capacity(args.len());
        for a in args {
            values.push(self.eval(a)?);
        }
        if expand_final && let Some(last) = values.pop() {
            let (last, marked) = last.into_unmarked();
            match &last {
                Value::List(_, items) | Value::Set(_, items) | Value::Tuple(items) => {
                    values.extend(items.iter().cloned().map(|v| v.mark_if(marked)));
                }
                Value::Unknown(_) => return Ok(Value::Unknown(Type::Dynamic)),
                _ => {
                    return Err(Diagnostic::new(
                        "Invalid expanding argument value",
                        "The expanding argument (indicated by ...) must be of a tuple, list, or set type.",
                        args.last().and_then(|e| span_of(e)),
                    ));
                }
            }
        }
        let mut arg_spans: Vec<Option<Range<usize>>> = args.iter().map(|a| span_of(a)).collect();
        if expand_final && let Some(last) = arg_spans.last().cloned() {
            arg_spans.resize(values.len(), last);
        }
        funcs::call_with_spans(plain, values, &arg_spans, self.ctx, span)
    }

    fn try_or_can(&mut self, name: &str, args: &[&Expression], span: Option<Range<usize>>) -> Result<Value> {
        if name == "can" && args.len() != 1 {
            return Err(arg_count_error("can", &["expression"], false, args.len(), span));
        }
        if name == "try" && args.is_empty() {
            return Err(Diagnostic::new(
                "Error in function call",
                "Call to function \"try\" failed: at least one argument is required.",
                span,
            ));
        }
        let mut last_err = None;
        for a in args {
            match self.eval(a) {
                Ok(v) if !v.is_wholly_known() => {
                    return Ok(if name == "can" { Value::Unknown(Type::Bool) } else { Value::Unknown(Type::Dynamic) });
                }
                Ok(v) => return Ok(if name == "can" { Value::Bool(true) } else { v }),
                Err(e) if e.is_reference => return Err(e),
                Err(e) => last_err = Some(e),
            }
        }
        if name == "can" {
            return Ok(Value::Bool(false));
        }
        let _ = last_err;
        Err(Diagnostic::new(
            "Error in function call",
            "Call to function \"try\" failed: no expression succeeded:\n- ...",
            span,
        ))
    }

    fn traversal(
        &mut self,
        base: &Expression,
        ops: &[hcl_edit::Decorated<TraversalOperator>],
        span: Option<Range<usize>>,
    ) -> Result<Value> {
        let mut start = 0;
        let mut value = match base {
            Expression::Variable(id) => {
                let attrs: Vec<String> = ops
                    .iter()
                    .map_while(|op| match op.value() {
                        TraversalOperator::GetAttr(name) => Some(name.value().as_str().to_owned()),
                        _ => None,
                    })
                    .collect();
                let (v, used) = self.variable(id.value().as_str(), &attrs, span.clone())?;
                start = used;
                v
            }
            other => self.eval(other)?,
        };
        let mut i = start;
        while i < ops.len() {
            let op = &ops[i];
            match op.value() {
                TraversalOperator::AttrSplat(_) | TraversalOperator::FullSplat(_) => {
                    let full = matches!(op.value(), TraversalOperator::FullSplat(_));
                    let rest: Vec<_> = ops[i + 1..]
                        .iter()
                        .take_while(|o| {
                            full || matches!(
                                o.value(),
                                TraversalOperator::GetAttr(_) | TraversalOperator::LegacyIndex(_)
                            )
                        })
                        .cloned()
                        .collect();
                    let consumed = rest.len();
                    value = self.splat(value, &rest, span.clone())?;
                    i += 1 + consumed;
                }
                _ => {
                    value = self.step(value, op.value(), op.span().or_else(|| span.clone()))?;
                    i += 1;
                }
            }
        }
        Ok(value)
    }

    fn splat(
        &mut self,
        value: Value,
        rest: &[hcl_edit::Decorated<TraversalOperator>],
        span: Option<Range<usize>>,
    ) -> Result<Value> {
        let (value, marked) = value.into_unmarked();
        let apply = |this: &mut Self, v: Value| -> Result<Value> {
            let mut v = v;
            for op in rest {
                v = this.step(v, op.value(), op.span().or_else(|| span.clone()))?;
            }
            Ok(v)
        };
        let out = match value {
            Value::Null(_) => Value::Tuple(Vec::new()),
            Value::Unknown(_) => Value::Unknown(Type::Dynamic),
            Value::List(_, items) | Value::Set(_, items) => {
                let mut out = Vec::new();
                for item in items {
                    out.push(apply(self, item)?);
                }
                let types: Vec<Type> = out.iter().map(Value::ty).collect();
                let ty = unify(&types).unwrap_or(Type::Dynamic);
                Value::List(ty, out)
            }
            Value::Tuple(items) => {
                let mut out = Vec::new();
                for item in items {
                    out.push(apply(self, item)?);
                }
                Value::Tuple(out)
            }
            other => Value::Tuple(vec![apply(self, other)?]),
        };
        Ok(out.mark_if(marked))
    }

    fn step(&mut self, value: Value, op: &TraversalOperator, span: Option<Range<usize>>) -> Result<Value> {
        match op {
            TraversalOperator::GetAttr(name) => get_attr(value, name.value().as_str(), span),
            TraversalOperator::LegacyIndex(n) => index(value, Value::int(*n.value() as i64), span),
            TraversalOperator::Index(e) => {
                let key = self.eval(e)?;
                index(value, key, span)
            }
            TraversalOperator::AttrSplat(_) | TraversalOperator::FullSplat(_) => self.splat(value, &[], span),
        }
    }

    fn for_expr(&mut self, f: &hcl_edit::expr::ForExpr) -> Result<Value> {
        let coll = self.eval(&f.intro.collection_expr)?;
        let (coll, marked) = coll.into_unmarked();
        let span = span_of(&f.intro.collection_expr);
        if coll.is_null() {
            return Err(Diagnostic::new(
                "Iteration over null value",
                "A null value cannot be used as the collection in a 'for' expression.",
                span,
            ));
        }
        if coll.is_unknown() {
            return Ok(Value::Unknown(Type::Dynamic));
        }
        if !matches!(coll, Value::List(..) | Value::Set(..) | Value::Tuple(_) | Value::Map(..) | Value::Object(_)) {
            return Err(Diagnostic::new(
                "Iteration over non-iterable value",
                format!(
                    "A value of type {} cannot be used as the collection in a 'for' expression.",
                    coll.ty().friendly_name()
                ),
                span,
            ));
        }
        let key_var = f.intro.key_var.as_ref().map(|k| k.value().as_str().to_owned());
        let value_var = f.intro.value_var.value().as_str().to_owned();
        let mut tuple = Vec::new();
        let mut object: BTreeMap<String, Value> = BTreeMap::new();
        let mut groups: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        let mut any_marked = marked;
        for (k, v) in coll.elements() {
            let depth = self.locals.len();
            if let Some(kv) = &key_var {
                self.locals.push((kv.clone(), k));
            }
            self.locals.push((value_var.clone(), v));
            let result = self.for_element(f, &mut tuple, &mut object, &mut groups, &mut any_marked);
            self.locals.truncate(depth);
            result?;
        }
        let out = if f.key_expr.is_some() {
            if f.grouping {
                Value::Object(groups.into_iter().map(|(k, v)| (k, Value::Tuple(v))).collect())
            } else {
                Value::Object(object)
            }
        } else {
            Value::Tuple(tuple)
        };
        Ok(out.mark_if(any_marked))
    }

    fn for_element(
        &mut self,
        f: &hcl_edit::expr::ForExpr,
        tuple: &mut Vec<Value>,
        object: &mut BTreeMap<String, Value>,
        groups: &mut BTreeMap<String, Vec<Value>>,
        any_marked: &mut bool,
    ) -> Result<()> {
        if let Some(cond) = &f.cond {
            let c = self.eval(&cond.expr)?;
            let (c, m) = c.into_unmarked();
            *any_marked |= m;
            if c.is_null() {
                return Err(Diagnostic::new(
                    "Condition is null",
                    "The value of the 'if' clause must not be null.",
                    span_of(&cond.expr),
                ));
            }
            match convert(&c, &Type::Bool) {
                Ok(Value::Bool(true)) => {}
                Ok(Value::Bool(false)) => return Ok(()),
                _ => {
                    return Err(Diagnostic::new(
                        "Invalid 'for' condition",
                        "The 'if' clause value is invalid: bool required.",
                        span_of(&cond.expr),
                    ));
                }
            }
        }
        match &f.key_expr {
            Some(ke) => {
                let k = self.eval(ke)?;
                let (k, m) = k.into_unmarked();
                *any_marked |= m;
                if k.is_null() {
                    return Err(Diagnostic::new(
                        "Invalid object key",
                        "Key expression in 'for' expression must not produce a null value.",
                        span_of(ke),
                    ));
                }
                let key = match convert(&k, &Type::String) {
                    Ok(Value::String(s)) => s,
                    _ => {
                        return Err(Diagnostic::new(
                            "Invalid object key",
                            "The key expression produced an invalid result: string required.",
                            span_of(ke),
                        ));
                    }
                };
                let v = self.eval(&f.value_expr)?;
                if f.grouping {
                    groups.entry(key).or_default().push(v);
                } else {
                    if object.contains_key(&key) {
                        return Err(Diagnostic::new(
                            "Duplicate object key",
                            format!(
                                "Two different items produced the key {} in this 'for' expression. If duplicates are expected, use the ellipsis (...) after the value expression to enable grouping by key.",
                                crate::format::quote(&key)
                            ),
                            span_of(ke),
                        ));
                    }
                    object.insert(key, v);
                }
            }
            None => tuple.push(self.eval(&f.value_expr)?),
        }
        Ok(())
    }

    /// Evaluates a whole template (a template file): a template that is one
    /// interpolation gives that value unconverted, anything else a string.
    pub fn eval_template(&mut self, t: &Template) -> Result<Value> {
        let elements: Vec<&Element> = t.iter().collect();
        if let [Element::Interpolation(i)] = elements.as_slice() {
            return self.eval(&i.expr);
        }
        self.template(&elements)
    }

    fn template(&mut self, elements: &[&Element]) -> Result<Value> {
        let nodes = lower_template(elements, None);
        self.render_nodes(&nodes)
    }

    fn render_nodes(&mut self, nodes: &[TNode<'_>]) -> Result<Value> {
        let mut out = String::new();
        let mut marked = false;
        let mut unknown = false;
        self.render(nodes, &mut out, &mut marked, &mut unknown)?;
        if unknown {
            return Ok(Value::Unknown(Type::String).mark_if(marked));
        }
        Ok(Value::string(out).mark_if(marked))
    }

    fn render(&mut self, nodes: &[TNode<'_>], out: &mut String, marked: &mut bool, unknown: &mut bool) -> Result<()> {
        for node in nodes {
            match node {
                TNode::Lit(s) => out.push_str(s),
                TNode::Interp(e) => {
                    let v = self.eval(e)?;
                    let (v, m) = v.into_unmarked();
                    *marked |= m;
                    if v.is_null() {
                        return Err(Diagnostic::new(
                            "Invalid template interpolation value",
                            "The expression result is null. Cannot include a null value in a string template.",
                            span_of(e),
                        ));
                    }
                    if v.is_unknown() {
                        *unknown = true;
                        continue;
                    }
                    match convert(&v, &Type::String) {
                        Ok(Value::String(s)) => out.push_str(&s),
                        _ => {
                            return Err(Diagnostic::new(
                                "Invalid template interpolation value",
                                format!(
                                    "Cannot include the given value in a string template: {}.",
                                    crate::convert::required(&Type::String)
                                ),
                                span_of(e),
                            ));
                        }
                    }
                }
                TNode::If { cond, then, otherwise } => {
                    let c = self.eval(cond)?;
                    let (c, m) = c.into_unmarked();
                    *marked |= m;
                    if c.is_null() {
                        return Err(Diagnostic::new(
                            "Null condition",
                            "The condition value is null. Conditions must either be true or false.",
                            span_of(cond),
                        ));
                    }
                    if c.is_unknown() {
                        *unknown = true;
                        continue;
                    }
                    match convert(&c, &Type::Bool) {
                        Ok(Value::Bool(true)) => self.render(then, out, marked, unknown)?,
                        Ok(Value::Bool(false)) => self.render(otherwise, out, marked, unknown)?,
                        _ => {
                            return Err(Diagnostic::new(
                                "Incorrect condition type",
                                "The condition expression must be of type bool.",
                                span_of(cond),
                            ));
                        }
                    }
                }
                TNode::For { key, value, coll, body } => {
                    let c = self.eval(coll)?;
                    let (c, m) = c.into_unmarked();
                    *marked |= m;
                    if c.is_null() {
                        return Err(Diagnostic::new(
                            "Iteration over null value",
                            "A null value cannot be used as the collection in a 'for' expression.",
                            span_of(coll),
                        ));
                    }
                    if !matches!(
                        c,
                        Value::List(..)
                            | Value::Set(..)
                            | Value::Tuple(_)
                            | Value::Map(..)
                            | Value::Object(_)
                            | Value::Unknown(_)
                    ) {
                        return Err(Diagnostic::new(
                            "Iteration over non-iterable value",
                            format!(
                                "A value of type {} cannot be used as the collection in a 'for' expression.",
                                c.ty().friendly_name()
                            ),
                            span_of(coll),
                        ));
                    }
                    if c.is_unknown() {
                        *unknown = true;
                        continue;
                    }
                    for (k, v) in c.elements() {
                        let depth = self.locals.len();
                        if let Some(kv) = key {
                            self.locals.push(((*kv).to_owned(), k));
                        }
                        self.locals.push(((*value).to_owned(), v));
                        let r = self.render(body, out, marked, unknown);
                        self.locals.truncate(depth);
                        r?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// A template with strip markers already applied to its literals.
enum TNode<'e> {
    Lit(String),
    Interp(&'e Expression),
    If { cond: &'e Expression, then: Vec<TNode<'e>>, otherwise: Vec<TNode<'e>> },
    For { key: Option<&'e str>, value: &'e str, coll: &'e Expression, body: Vec<TNode<'e>> },
}

fn strip_last(nodes: &mut [TNode<'_>]) {
    if let Some(TNode::Lit(s)) = nodes.last_mut() {
        let t = s.trim_end().len();
        s.truncate(t);
    }
}

fn strip_first(nodes: &mut [TNode<'_>]) {
    if let Some(TNode::Lit(s)) = nodes.first_mut() {
        *s = s.trim_start().to_owned();
    }
}

/// A heredoc's template as HCL sees it: literals split into one token per
/// line, strip markers applied to those tokens, then (for `<<-`) the
/// smallest indentation of the tokens that start a line removed from each
/// of them. hcl-edit has already dedented the top-level literals by
/// `indent`; that indentation is put back first so the strip markers see
/// the original text.
fn lower_heredoc<'e>(elements: &[&'e Element], indent: Option<usize>) -> Vec<TNode<'e>> {
    let Some(indent) = indent else {
        let raw: Vec<Option<String>> = elements
            .iter()
            .map(|e| match e {
                Element::Literal(s) => Some(s.value().clone()),
                _ => None,
            })
            .collect();
        return lower_template(elements, Some(&raw));
    };
    let pad = " ".repeat(indent);
    let mut raw = Vec::with_capacity(elements.len());
    let mut line_start = true;
    for (i, el) in elements.iter().enumerate() {
        match el {
            Element::Literal(s) => {
                let text = s.value();
                let mut restored = String::with_capacity(text.len() + indent * 4);
                for (n, piece) in text.split_inclusive('\n').enumerate() {
                    let at_start = n > 0 || line_start;
                    if at_start && piece != "\n" {
                        restored.push_str(&pad);
                    }
                    restored.push_str(piece);
                }
                // A line that held only the indentation before a directive or
                // interpolation was dedented to nothing.
                let ends_at_line_start = if text.is_empty() { line_start } else { text.ends_with('\n') };
                if ends_at_line_start && i + 1 < elements.len() {
                    restored.push_str(&pad);
                }
                line_start = false;
                raw.push(Some(restored));
            }
            _ => {
                line_start = false;
                raw.push(None);
            }
        }
    }
    let mut nodes = lower_template(elements, Some(&raw));
    let mut min: Option<usize> = None;
    visit_line_starts(&mut nodes, &mut true, &mut |s: &mut String| {
        if s.ends_with('\n') && s.trim().is_empty() {
            return;
        }
        let n = s.chars().take_while(|c| *c == ' ' || *c == '\t').count();
        min = Some(min.map_or(n, |m| m.min(n)));
    });
    if let Some(min) = min.filter(|m| *m > 0) {
        visit_line_starts(&mut nodes, &mut true, &mut |s: &mut String| {
            let strip = s.chars().take(min).take_while(|c| *c == ' ' || *c == '\t').count();
            s.drain(..strip);
        });
    }
    nodes
}

/// Calls `f` on every literal token that starts a line, in source order.
fn visit_line_starts(nodes: &mut [TNode<'_>], at_start: &mut bool, f: &mut dyn FnMut(&mut String)) {
    for node in nodes {
        match node {
            TNode::Lit(s) => {
                if *at_start {
                    f(s);
                }
                *at_start = s.ends_with('\n');
            }
            TNode::Interp(_) => *at_start = false,
            TNode::If { then, otherwise, .. } => {
                *at_start = false;
                visit_line_starts(then, at_start, f);
                *at_start = false;
                visit_line_starts(otherwise, at_start, f);
                *at_start = false;
            }
            TNode::For { body, .. } => {
                *at_start = false;
                visit_line_starts(body, at_start, f);
                *at_start = false;
            }
        }
    }
}

/// Lowers template elements. With `lines` (heredocs: the text of each
/// top-level literal), every literal becomes one token per line, as HCL
/// scans heredocs; strip markers then reach only the adjacent line.
fn lower_template<'e>(elements: &[&'e Element], lines: Option<&[Option<String>]>) -> Vec<TNode<'e>> {
    let mut out: Vec<TNode<'e>> = Vec::new();
    let mut strip_next = false;
    for (idx, el) in elements.iter().enumerate() {
        match el {
            Element::Literal(s) => {
                let Some(lines) = lines else {
                    let mut text = s.value().clone();
                    if strip_next {
                        text = text.trim_start().to_owned();
                    }
                    strip_next = false;
                    out.push(TNode::Lit(text));
                    continue;
                };
                let text = lines.get(idx).cloned().flatten().unwrap_or_else(|| s.value().clone());
                let mut first = true;
                for piece in text.split_inclusive('\n') {
                    let piece = if first && strip_next { piece.trim_start().to_owned() } else { piece.to_owned() };
                    first = false;
                    out.push(TNode::Lit(piece));
                }
                if text.is_empty() {
                    out.push(TNode::Lit(String::new()));
                }
                strip_next = false;
            }
            Element::Interpolation(i) => {
                if i.strip.strip_start() {
                    strip_last(&mut out);
                }
                strip_next = i.strip.strip_end();
                out.push(TNode::Interp(&i.expr));
            }
            Element::Directive(d) => match &**d {
                Directive::If(d) => {
                    if d.if_expr.strip.strip_start() {
                        strip_last(&mut out);
                    }
                    let mut then = lower_nested(&d.if_expr.template, lines.is_some());
                    if d.if_expr.strip.strip_end() {
                        strip_first(&mut then);
                    }
                    let mut otherwise = Vec::new();
                    if let Some(e) = &d.else_expr {
                        if e.strip.strip_start() {
                            strip_last(&mut then);
                        }
                        otherwise = lower_nested(&e.template, lines.is_some());
                        if e.strip.strip_end() {
                            strip_first(&mut otherwise);
                        }
                        if d.endif_expr.strip.strip_start() {
                            strip_last(&mut otherwise);
                        }
                    } else if d.endif_expr.strip.strip_start() {
                        strip_last(&mut then);
                    }
                    strip_next = d.endif_expr.strip.strip_end();
                    out.push(TNode::If { cond: &d.if_expr.cond_expr, then, otherwise });
                }
                Directive::For(d) => {
                    let fe = &d.for_expr;
                    if fe.strip.strip_start() {
                        strip_last(&mut out);
                    }
                    let mut body = lower_nested(&fe.template, lines.is_some());
                    if fe.strip.strip_end() {
                        strip_first(&mut body);
                    }
                    if d.endfor_expr.strip.strip_start() {
                        strip_last(&mut body);
                    }
                    strip_next = d.endfor_expr.strip.strip_end();
                    out.push(TNode::For {
                        key: fe.key_var.as_ref().map(|k| k.value().as_str()),
                        value: fe.value_var.value().as_str(),
                        coll: &fe.collection_expr,
                        body,
                    });
                }
            },
        }
    }
    out
}

/// A directive's body: split into lines when the outer template is.
fn lower_nested(t: &Template, lines: bool) -> Vec<TNode<'_>> {
    let elements: Vec<&Element> = t.iter().collect();
    if lines {
        let raw: Vec<Option<String>> = elements
            .iter()
            .map(|e| match e {
                Element::Literal(s) => Some(s.value().clone()),
                _ => None,
            })
            .collect();
        lower_template(&elements, Some(&raw))
    } else {
        lower_template(&elements, None)
    }
}

/// An operand converted to the operator's type, or Terraform's "Invalid
/// operand" error.
fn operand(v: &Value, want: &Type, side: &str, span: Option<Range<usize>>) -> Result<Value> {
    convert(v, want).map_err(|e| {
        Diagnostic::new("Invalid operand", format!("Unsuitable value for {side}operand: {}.", e.full()), span)
    })
}

/// Both operands converted, with both diagnostics when both are unsuitable.
fn operands(
    l: &Value,
    r: &Value,
    want: &Type,
    lspan: Option<Range<usize>>,
    rspan: Option<Range<usize>>,
) -> Result<(Value, Value)> {
    match (operand(l, want, "left ", lspan.clone()), operand(r, want, "right ", rspan)) {
        (Ok(a), Ok(b)) => {
            if a.is_null() || b.is_null() {
                return Err(Diagnostic::new(
                    "Operation failed",
                    "Error during operation: argument must not be null.",
                    lspan,
                ));
            }
            Ok((a, b))
        }
        (Err(mut a), Err(b)) => {
            a.next = Some(Box::new(b));
            Err(a)
        }
        (Err(e), _) | (_, Err(e)) => Err(e),
    }
}

/// Applies a binary operator.
pub fn binary(
    op: BinaryOperator,
    l: Value,
    r: Value,
    lspan: Option<Range<usize>>,
    rspan: Option<Range<usize>>,
) -> Result<Value> {
    let (l, lm) = l.into_unmarked();
    let (r, rm) = r.into_unmarked();
    let marked = lm || rm;
    let result = match op {
        BinaryOperator::Eq | BinaryOperator::NotEq => {
            let eq = equals(&l, &r);
            match eq {
                None => Value::Unknown(Type::Bool),
                Some(eq) => Value::Bool(if op == BinaryOperator::Eq { eq } else { !eq }),
            }
        }
        BinaryOperator::And | BinaryOperator::Or => {
            let (a, b) = operands(&l, &r, &Type::Bool, lspan, rspan)?;
            match (a.as_bool(), b.as_bool()) {
                (Some(a), Some(b)) => Value::Bool(if op == BinaryOperator::And { a && b } else { a || b }),
                // Terraform 1.0.3 does not short-circuit: any unknown operand
                // makes the result unknown.
                _ => Value::Unknown(Type::Bool),
            }
        }
        _ => {
            let (a, b) = operands(&l, &r, &Type::Number, lspan.clone(), rspan)?;
            let (Some(x), Some(y)) = (a.as_number(), b.as_number()) else {
                let ty = if matches!(
                    op,
                    BinaryOperator::Less | BinaryOperator::Greater | BinaryOperator::LessEq | BinaryOperator::GreaterEq
                ) {
                    Type::Bool
                } else {
                    Type::Number
                };
                return Ok(Value::Unknown(ty).mark_if(marked));
            };
            let span = lspan;
            let arith = |res: std::result::Result<Number, crate::number::NotANumber>, msg: &str| -> Result<Value> {
                res.map(Value::Number).map_err(|_| {
                    Diagnostic::new("Operation failed", format!("Error during operation: {msg}."), span.clone())
                })
            };
            match op {
                BinaryOperator::Plus => arith(x.add(y), "can't compute sum of opposing infinities")?,
                BinaryOperator::Minus => arith(x.sub(y), "can't subtract infinity from itself")?,
                BinaryOperator::Mul => arith(x.mul(y), "can't multiply zero by infinity")?,
                BinaryOperator::Div => arith(x.div(y), "can't divide zero by zero or infinity by infinity")?,
                BinaryOperator::Mod => arith(x.rem(y), "can't use modulo with zero and infinity")?,
                BinaryOperator::Less => Value::Bool(x.cmp_value(y).is_lt()),
                BinaryOperator::Greater => Value::Bool(x.cmp_value(y).is_gt()),
                BinaryOperator::LessEq => Value::Bool(x.cmp_value(y).is_le()),
                BinaryOperator::GreaterEq => Value::Bool(x.cmp_value(y).is_ge()),
                _ => Value::Unknown(Type::Dynamic),
            }
        }
    };
    Ok(result.mark_if(marked))
}

/// `==` with Terraform's rules: values of different types are never equal
/// (no conversion), null equals only null, unknown gives unknown (`None`).
pub fn equals(a: &Value, b: &Value) -> Option<bool> {
    let (a, b) = (a.unmarked(), b.unmarked());
    if a.is_null() || b.is_null() {
        if a.is_unknown() || b.is_unknown() {
            return None;
        }
        return Some(a.is_null() && b.is_null());
    }
    if !a.is_wholly_known() || !b.is_wholly_known() {
        return None;
    }
    if a.ty() != b.ty() {
        return Some(false);
    }
    Some(a.raw_equal(b))
}

fn get_attr(value: Value, name: &str, span: Option<Range<usize>>) -> Result<Value> {
    let (value, marked) = value.into_unmarked();
    let out = match value {
        Value::Null(_) => {
            return Err(Diagnostic::new(
                "Attempt to get attribute from null value",
                "This value is null, so it does not have any attributes.",
                span,
            ));
        }
        Value::Unknown(_) => Value::Unknown(Type::Dynamic),
        Value::Object(mut m) => match m.remove(name) {
            Some(v) => v,
            None => {
                return Err(Diagnostic::new(
                    "Unsupported attribute",
                    format!("This object does not have an attribute named {}.", crate::format::quote(name)),
                    span,
                ));
            }
        },
        Value::Map(_, mut m) => match m.remove(name) {
            Some(v) => v,
            None => {
                return Err(Diagnostic::new(
                    "Missing map element",
                    format!("This map does not have an element with the key {}.", crate::format::quote(name)),
                    span,
                ));
            }
        },
        other => {
            return Err(Diagnostic::new(
                "Unsupported attribute",
                format!("Can't access attributes on a primitive-typed value ({}).", other.ty().friendly_name())
                    .replace("primitive-typed value (list", "list of")
                    .to_owned(),
                span,
            )
            .with_collection_detail(&other));
        }
    };
    Ok(out.mark_if(marked))
}

impl Diagnostic {
    fn with_collection_detail(mut self, v: &Value) -> Diagnostic {
        match v {
            Value::List(..) | Value::Tuple(_) | Value::Set(..) => {
                self.detail = format!(
                    "Can't access attributes on a {}. Did you mean to access an attribute for each element of the {}, or only for a specific element of the {}?",
                    v.ty().friendly_name(),
                    kind_name(v),
                    kind_name(v)
                );
            }
            _ => {}
        }
        self
    }
}

fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::List(..) => "list",
        Value::Set(..) => "set",
        Value::Tuple(_) => "tuple",
        _ => "value",
    }
}

/// Indexes a collection (`x[k]`).
pub fn index(value: Value, key: Value, span: Option<Range<usize>>) -> Result<Value> {
    let (value, marked) = value.into_unmarked();
    let (key, kmarked) = key.into_unmarked();
    let marked = marked || kmarked;
    if value.is_null() {
        return Err(Diagnostic::new(
            "Attempt to index null value",
            "This value is null, so it does not have any indices.",
            span,
        ));
    }
    if key.is_null() {
        return Err(Diagnostic::new("Invalid index", "Can't use a null value as an indexing key.", span));
    }
    if value.is_unknown() || key.is_unknown() {
        return Ok(Value::Unknown(Type::Dynamic).mark_if(marked));
    }
    let out = match value {
        Value::List(_, items) | Value::Tuple(items) => {
            let n = match convert(&key, &Type::Number) {
                Ok(Value::Number(n)) => n,
                _ => {
                    return Err(Diagnostic::new(
                        "Invalid index",
                        "The given key does not identify an element in this collection value: number required.",
                        span,
                    ));
                }
            };
            if !n.is_integer() {
                return Err(Diagnostic::new(
                    "Invalid index",
                    "The given key does not identify an element in this collection value: indexing a sequence requires a whole number, but the given index has a fractional part.",
                    span,
                ));
            }
            match n.to_i64_exact() {
                Some(i) if i >= 0 && (i as usize) < items.len() => items[i as usize].clone(),
                Some(i) if i < 0 => {
                    return Err(Diagnostic::new(
                        "Invalid index",
                        "The given key does not identify an element in this collection value: a negative number is not a valid index for a sequence.",
                        span,
                    ));
                }
                // Terraform 1.0.3 explains only an index exactly one past
                // the end; further out it gives the short message.
                Some(i) if i as usize == items.len() => {
                    return Err(Diagnostic::new(
                        "Invalid index",
                        "The given key does not identify an element in this collection value: the given index is greater than or equal to the length of the collection.",
                        span,
                    ));
                }
                _ => {
                    return Err(Diagnostic::new(
                        "Invalid index",
                        "The given key does not identify an element in this collection value.",
                        span,
                    ));
                }
            }
        }
        Value::Map(_, m) | Value::Object(m) => {
            let k = match convert(&key, &Type::String) {
                Ok(Value::String(s)) => s,
                _ => {
                    return Err(Diagnostic::new(
                        "Invalid index",
                        "The given key does not identify an element in this collection value: string required.",
                        span,
                    ));
                }
            };
            match m.get(&k) {
                Some(v) => v.clone(),
                None => {
                    return Err(Diagnostic::new(
                        "Invalid index",
                        "The given key does not identify an element in this collection value.",
                        span,
                    ));
                }
            }
        }
        Value::Set(..) => {
            return Err(Diagnostic::new(
                "Invalid index",
                "Elements of a set are identified only by their value and don't have any separate index or key to select with, so it's only possible to perform operations across all elements of the set.",
                span,
            ));
        }
        _ => {
            return Err(Diagnostic::new("Invalid index", "This value does not have any indices.", span));
        }
    };
    Ok(out.mark_if(marked))
}

/// "Not enough/Too many function arguments".
pub fn arg_count_error(
    name: &str,
    params: &[&str],
    variadic: bool,
    given: usize,
    span: Option<Range<usize>>,
) -> Diagnostic {
    if given < params.len() {
        Diagnostic::new(
            "Not enough function arguments",
            format!(
                "Function \"{name}\" expects{} {} argument(s). Missing value for \"{}\".",
                if variadic { " at least" } else { "" },
                params.len(),
                params[given]
            ),
            span,
        )
    } else {
        Diagnostic::new(
            "Too many function arguments",
            format!("Function \"{name}\" expects only {} argument(s).", params.len()),
            span,
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::funcs::FuncContext;
    use crate::module::ModuleScope;

    /// Heredocs with and without `<<-`, with strip markers, as Terraform
    /// 1.0.3 evaluates them (its answers, by `jsonencode`).
    #[test]
    fn heredocs_dedent_and_strip_like_terraform() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("main.tf"), include_str!("../tests/it/data/heredocs.tf")).expect("write");
        let m = ModuleScope::load(dir.path(), &[], &[], FuncContext::default(), "default").expect("loads");
        let json = |name: &str| {
            let v = crate::console::eval_line(&format!("jsonencode(local.{name})"), &m, &FuncContext::default())
                .expect("evaluates");
            v.as_str().expect("string").to_owned()
        };
        assert_eq!(json("a"), r#""x\n  y\nz\n""#);
        assert_eq!(json("b"), r#""    x\n\n    y\n\n""#);
        assert_eq!(json("c"), r#""x\n    y\n""#);
        assert_eq!(json("d"), r#""  a b\n  c\n""#);
        assert_eq!(json("e"), r#""i\n  j\n""#);
        assert_eq!(json("f"), r#""xyz\n""#);
        assert_eq!(json("g"), r#""one\n\ntwo\n""#);
        assert_eq!(json("h"), r#""    a-1\n    a-2\n""#);
    }

    #[test]
    fn references_resolve_through_the_scope() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("main.tf"),
            "variable \"v\" { default = { k = [1, 2] } }\nlocals {\n  l = var.v.k[*]\n  w = terraform.workspace\n}\n",
        )
        .expect("write");
        let m = ModuleScope::load(dir.path(), &[], &[], FuncContext::default(), "staging").expect("loads");
        let show = |src: &str| {
            crate::format::format_value(
                &crate::console::eval_line(src, &m, &FuncContext::default()).expect("evaluates"),
            )
        };
        assert_eq!(show("local.l"), "[\n  1,\n  2,\n]");
        assert_eq!(show("local.w"), "\"staging\"");
        assert_eq!(show("var.v.k[1] + length(local.l)"), "4");
    }

    #[test]
    fn impure_functions_are_unknown_while_planning() {
        let ctx = FuncContext { planning: true, ..FuncContext::default() };
        let v = crate::console::eval_line("\"id-${uuid()}\"", &crate::eval::EmptyScope::default(), &ctx)
            .expect("evaluates");
        assert_eq!(crate::format::format_value(&v), "(known after apply)");
        let v = crate::console::eval_line("length([timestamp()])", &crate::eval::EmptyScope::default(), &ctx)
            .expect("evaluates");
        assert_eq!(crate::format::format_value(&v), "1");
    }

    /// A scope whose references are unknown, as resource attributes are
    /// during plan.
    struct UnknownScope;

    impl crate::eval::Scope for UnknownScope {
        fn resolve(
            &self,
            root: &str,
            _attrs: &[String],
            _span: Option<std::ops::Range<usize>>,
        ) -> Result<(crate::value::Value, usize), crate::diag::Diagnostic> {
            use crate::value::{Type, Value};
            let ty = match root {
                "unkn" => Type::Number,
                "unkl" => Type::List(Box::new(Type::String)),
                "unkb" => Type::Bool,
                _ => Type::Dynamic,
            };
            Ok((Value::Unknown(ty), 0))
        }
    }

    #[test]
    fn unknown_values_propagate() {
        let show = |src: &str| match crate::console::eval_line(src, &UnknownScope, &FuncContext::default()) {
            Ok(v) => crate::format::format_value(&v),
            Err(d) => format!("error: {}: {}", d.summary, d.detail),
        };
        let unknown = "(known after apply)";
        for src in [
            "unkn + 1",
            "unkn == 1",
            "unkb ? 1 : 2",
            "length(unkl)",
            "[for x in unkl : x]",
            "\"a${unk}\"",
            "upper(unk)",
            "try(unk, 1)",
            "can(unk)",
            "jsonencode({a = unk})",
            "{a = unk}.a",
            "unk.foo",
            "unk[0]",
            "unkl[*]",
            "coalesce(unk, \"x\")",
            "false && unkb",
            "true || unkb",
            "\"%{if unkb}x%{endif}\"",
            "{for k, v in unk : k => v}",
            "-unkn",
            "!unkb",
        ] {
            assert_eq!(show(src), unknown, "{src}");
        }
        assert_eq!(show("[1, unk]"), "[\n  1,\n  (known after apply),\n]");
        assert_eq!(show("sensitive(unk)"), "(sensitive)");
        assert_eq!(show("true ? 1 : unkn"), "1");
        assert_eq!(show("unk == null"), unknown);
        assert!(show("1 + true").starts_with("error: Invalid operand"));
    }

    #[test]
    fn sensitive_marks_propagate() {
        let show = |src: &str| {
            crate::format::format_value(
                &crate::console::eval_line(src, &crate::eval::EmptyScope::default(), &FuncContext::default())
                    .expect("evaluates"),
            )
        };
        assert_eq!(show("sensitive(1) + 1"), "(sensitive)");
        assert_eq!(show("[for x in sensitive([1]) : x]"), "(sensitive)");
        assert_eq!(show("\"a${sensitive(\"b\")}\""), "(sensitive)");
        assert_eq!(show("sensitive(true) ? 1 : 2"), "(sensitive)");
        assert_eq!(show("nonsensitive(sensitive(2) * 2)"), "4");
        assert_eq!(show("{a = sensitive(1), b = 2}.b"), "2");
    }

    #[test]
    fn count_and_each_resolve_in_an_instance() {
        use crate::eval::{EmptyScope, InstanceScope};
        use crate::value::Value;
        let parent = EmptyScope::default();
        let ctx = FuncContext::default();
        let show = |scope: &dyn crate::eval::Scope, src: &str| match crate::console::eval_line(src, scope, &ctx) {
            Ok(v) => crate::format::format_value(&v),
            Err(d) => format!("error: {}: {}", d.summary, d.detail),
        };
        let counted = InstanceScope { parent: &parent, count_index: Some(2), each: None };
        assert_eq!(show(&counted, "\"web-${count.index + 1}\""), "\"web-3\"");
        assert!(show(&counted, "count.nope").starts_with("error: Invalid \"count\" attribute"));
        assert!(show(&counted, "each.key").starts_with("error: Reference to \"each\" in context without for_each"));
        assert_eq!(show(&counted, "terraform.workspace"), "\"default\"");
        let each =
            InstanceScope { parent: &parent, count_index: None, each: Some((Value::string("a"), Value::int(1))) };
        assert_eq!(show(&each, "\"${each.key}=${each.value}\""), "\"a=1\"");
        assert!(show(&each, "each.nope").starts_with("error: Invalid \"each\" attribute"));
        assert!(show(&each, "count.index").starts_with("error: Reference to \"count\" in non-counted context"));
    }
}
