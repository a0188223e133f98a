//! The references an expression makes, found from its syntax alone
//! (`var.x`, `local.y`, `aws_instance.web`, ...), without evaluating it.
//!
//! This is how the dependency graph gets its edges: Terraform orders
//! evaluation by these static references, so a chain of 10,000 locals is
//! walked in order instead of by recursion.

use hcl_edit::expr::{Expression, ObjectKey, TraversalOperator};
use hcl_edit::template::{Directive, Element, Template};

/// A reference: the root name and the attribute names right after it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Reference {
    pub root: String,
    pub attrs: Vec<String>,
}

/// Every reference in `e`, in source order; names bound by `for`
/// expressions and template `for` directives are not references.
pub fn references(e: &Expression) -> Vec<Reference> {
    let mut out = Vec::new();
    let mut bound = Vec::new();
    walk(e, &mut bound, &mut out);
    out
}

fn walk(e: &Expression, bound: &mut Vec<String>, out: &mut Vec<Reference>) {
    match e {
        Expression::Null(_) | Expression::Bool(_) | Expression::Number(_) | Expression::String(_) => {}
        Expression::Array(items) => items.iter().for_each(|i| walk(i, bound, out)),
        Expression::Object(obj) => {
            for (k, v) in obj.iter() {
                if let ObjectKey::Expression(ke) = k
                    && !matches!(ke, Expression::Variable(_))
                {
                    walk(ke, bound, out);
                }
                walk(v.expr(), bound, out);
            }
        }
        Expression::StringTemplate(t) => template(t, bound, out),
        Expression::HeredocTemplate(h) => template(&h.template, bound, out),
        Expression::Parenthesis(p) => walk(p.inner(), bound, out),
        Expression::Variable(id) => push(id.value().as_str(), Vec::new(), bound, out),
        Expression::Conditional(c) => {
            walk(&c.cond_expr, bound, out);
            walk(&c.true_expr, bound, out);
            walk(&c.false_expr, bound, out);
        }
        Expression::FuncCall(call) => call.args.iter().for_each(|a| walk(a, bound, out)),
        Expression::Traversal(t) => {
            match &t.expr {
                Expression::Variable(id) => {
                    let attrs = t
                        .operators
                        .iter()
                        .map_while(|op| match op.value() {
                            TraversalOperator::GetAttr(name) => Some(name.value().as_str().to_owned()),
                            _ => None,
                        })
                        .collect();
                    push(id.value().as_str(), attrs, bound, out);
                }
                other => walk(other, bound, out),
            }
            for op in &t.operators {
                if let TraversalOperator::Index(ix) = op.value() {
                    walk(ix, bound, out);
                }
            }
        }
        Expression::UnaryOp(op) => walk(&op.expr, bound, out),
        Expression::BinaryOp(op) => {
            walk(&op.lhs_expr, bound, out);
            walk(&op.rhs_expr, bound, out);
        }
        Expression::ForExpr(f) => {
            walk(&f.intro.collection_expr, bound, out);
            let depth = bound.len();
            if let Some(k) = &f.intro.key_var {
                bound.push(k.value().as_str().to_owned());
            }
            bound.push(f.intro.value_var.value().as_str().to_owned());
            if let Some(k) = &f.key_expr {
                walk(k, bound, out);
            }
            walk(&f.value_expr, bound, out);
            if let Some(c) = &f.cond {
                walk(&c.expr, bound, out);
            }
            bound.truncate(depth);
        }
    }
}

fn template(t: &Template, bound: &mut Vec<String>, out: &mut Vec<Reference>) {
    for el in t.iter() {
        match el {
            Element::Literal(_) => {}
            Element::Interpolation(i) => walk(&i.expr, bound, out),
            Element::Directive(d) => match &**d {
                Directive::If(d) => {
                    walk(&d.if_expr.cond_expr, bound, out);
                    template(&d.if_expr.template, bound, out);
                    if let Some(e) = &d.else_expr {
                        template(&e.template, bound, out);
                    }
                }
                Directive::For(d) => {
                    let fe = &d.for_expr;
                    walk(&fe.collection_expr, bound, out);
                    let depth = bound.len();
                    if let Some(k) = &fe.key_var {
                        bound.push(k.value().as_str().to_owned());
                    }
                    bound.push(fe.value_var.value().as_str().to_owned());
                    template(&fe.template, bound, out);
                    bound.truncate(depth);
                }
            },
        }
    }
}

fn push(root: &str, attrs: Vec<String>, bound: &[String], out: &mut Vec<Reference>) {
    if !bound.iter().any(|b| b == root) {
        out.push(Reference { root: root.to_owned(), attrs });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(src: &str) -> Vec<String> {
        let e = crate::config::parse_expression(src).expect("parses");
        references(&e).into_iter().map(|r| format!("{}.{}", r.root, r.attrs.join("."))).collect()
    }

    #[test]
    fn finds_references_but_not_bound_names() {
        assert_eq!(refs("local.a + var.b.c[local.i]"), ["local.a", "var.b.c", "local.i"]);
        assert_eq!(refs("[for x in local.xs : x.y if x != var.z]"), ["local.xs", "var.z"]);
        assert_eq!(refs("\"%{for k, v in local.m}${k}${v}${local.n}%{endfor}\""), ["local.m", "local.n"]);
        assert_eq!(refs("{ (local.k) = aws_instance.web[0].id }"), ["local.k", "aws_instance.web"]);
        assert_eq!(refs("upper(each.key)"), ["each.key"]);
    }
}
