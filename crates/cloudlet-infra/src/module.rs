//! The root module's input variables and local values, as a [`Scope`].
//!
//! Variables get their values with Terraform's precedence (later wins):
//! the declared default, `TF_VAR_<name>` environment variables,
//! `terraform.tfvars`, `terraform.tfvars.json`, `*.auto.tfvars` and
//! `*.auto.tfvars.json` in lexical order, then `-var` and `-var-file` in
//! command-line order. Each value is converted to the declared type
//! constraint. Locals are evaluated when first referenced, once, with
//! cycle detection.
//!
//! This is the first piece of the engine: resources, data sources, module
//! calls and outputs join the same scope later.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::Path;

use hcl_edit::expr::{Expression, ObjectKey};
use hcl_edit::structure::{Body, Structure};

use crate::config::{FileBody, SourceFile};
use crate::convert::convert;
use crate::diag::Diagnostic;
use crate::eval::{Evaluator, Scope, undeclared};
use crate::funcs::FuncContext;
use crate::value::{Type, Value};

/// A value given for a variable from outside the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VarArg {
    /// `-var 'name=value'`.
    Var(String),
    /// `-var-file=path`.
    File(String),
}

/// A declared input variable.
#[derive(Debug, Clone)]
struct Variable {
    ty: Type,
    default: Option<Value>,
    sensitive: bool,
    nullable: bool,
    validations: Vec<Validation>,
    /// `-var`/`TF_VAR_` values are taken as literal strings (no type given,
    /// or a primitive one) rather than parsed as expressions.
    literal: bool,
}

/// A `validation` block: where it is, its condition and its message.
#[derive(Debug, Clone)]
struct Validation {
    file: usize,
    /// Byte offset of the `variable` block.
    header: usize,
    /// Byte range of the `validation` keyword.
    ident: Range<usize>,
    condition: Expression,
    message: Expression,
}

/// The root module: variables (with their final values) and locals.
pub struct ModuleScope {
    files: Vec<SourceFile>,
    vars: BTreeMap<String, Value>,
    locals: HashMap<String, (usize, Expression)>,
    memo: RefCell<HashMap<String, Value>>,
    in_progress: RefCell<Vec<String>>,
    /// Errors found while evaluating the locals, rendered as Terraform
    /// prints them (the locals involved are unknown).
    startup_errors: String,
    /// Warnings found while loading (values for undeclared variables),
    /// which Terraform prints on stdout.
    startup_warnings: String,
    ctx: FuncContext,
    workspace: String,
    cwd: String,
}

impl std::fmt::Debug for ModuleScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModuleScope").field("vars", &self.vars).finish_non_exhaustive()
    }
}

/// Loading failed: the diagnostics, and how Terraform prints them.
#[derive(Debug)]
pub struct LoadError {
    pub diagnostics: Vec<Diagnostic>,
    rendered: String,
}

impl LoadError {
    /// The diagnostics as Terraform prints them (plain).
    pub fn render(&self) -> &str {
        &self.rendered
    }
}

/// A warning with no location: `Warning: summary`, the detail wrapped.
fn render_warning(summary: &str, detail: &str) -> String {
    let d = Diagnostic::new(summary, detail, None);
    d.render_plain("", None).replacen("\nError: ", "\nWarning: ", 1)
}

/// An error about a whole file (or, without one, about no place at all).
fn err(file: Option<&Path>, d: Diagnostic) -> LoadError {
    let location =
        file.map(|p| p.file_name().map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into_owned()));
    let rendered = d.render_plain(location.as_deref().unwrap_or(""), None);
    LoadError { diagnostics: vec![d], rendered }
}

/// An error at a byte offset of a file's text: `on NAME line N[, in CONTEXT]:`
/// and the numbered source line.
fn render_at(name: &str, text: &str, offset: usize, context: Option<&str>, d: &Diagnostic) -> String {
    let offset = offset.min(text.len());
    let line = text[..offset].matches('\n').count() + 1;
    let source = text.lines().nth(line - 1).unwrap_or("");
    let location = match context {
        Some(c) => format!("{name} line {line}, in {c}"),
        None => format!("{name} line {line}"),
    };
    d.render_plain(&location, Some((line, source)))
}

fn err_at(file: &SourceFile, offset: Option<usize>, context: Option<&str>, d: Diagnostic) -> LoadError {
    let name =
        file.path.file_name().map_or_else(|| file.path.display().to_string(), |n| n.to_string_lossy().into_owned());
    let rendered = match offset {
        Some(o) => render_at(&name, &file.source, o, context, &d),
        None => d.render_plain(&name, None),
    };
    LoadError { diagnostics: vec![d], rendered }
}

/// Where a variable's value came from, for the error when it does not fit
/// the variable's type.
#[derive(Debug, Clone)]
enum Source {
    Env,
    Cli,
    /// A tfvars file: its name, text and the value's byte offset.
    File(String, std::rc::Rc<str>, usize),
}

impl ModuleScope {
    /// Loads the module in `dir` and resolves its variables from `env`
    /// (`TF_VAR_*`), the tfvars files in `dir` and `args`.
    pub fn load(
        dir: &Path,
        env: &[(String, String)],
        args: &[VarArg],
        ctx: FuncContext,
        workspace: &str,
    ) -> Result<ModuleScope, LoadError> {
        let files = crate::config::load_dir(dir).map_err(|failures| {
            let rendered = failures
                .iter()
                .map(|f| {
                    let name = f
                        .path
                        .file_name()
                        .map_or_else(|| f.path.display().to_string(), |n| n.to_string_lossy().into_owned());
                    f.diagnostic.render_plain(&format!("{name} line {}", f.line), None)
                })
                .collect();
            LoadError { diagnostics: failures.into_iter().map(|f| f.diagnostic).collect(), rendered }
        })?;
        let empty = crate::eval::EmptyScope::default();
        let mut declared: BTreeMap<String, Variable> = BTreeMap::new();
        let mut locals = HashMap::new();
        for (fi, file) in files.iter().enumerate() {
            match &file.body {
                FileBody::Hcl(body) => {
                    for structure in body.iter() {
                        let Structure::Block(block) = structure else { continue };
                        match block.ident.value().as_str() {
                            "variable" => {
                                let Some(name) = block.labels.first().map(|l| l.as_str().to_owned()) else { continue };
                                let context = format!("variable {}", crate::format::quote(&name));
                                let mut v = decode_variable(&block.body, &empty, &ctx).map_err(|d| {
                                    let at = d.span.as_ref().map(|s| s.start);
                                    err_at(file, at, Some(&context), d)
                                })?;
                                let header = hcl_edit::Span::span(block).map_or(0, |s| s.start);
                                for inner in block.body.iter() {
                                    if let Structure::Block(vb) = inner
                                        && vb.ident.value().as_str() == "validation"
                                        && let (Some(cond), Some(msg)) =
                                            (attribute(&vb.body, "condition"), attribute(&vb.body, "error_message"))
                                    {
                                        let at = hcl_edit::Span::span(&vb.ident).unwrap_or(0..0);
                                        v.validations.push(Validation {
                                            file: fi,
                                            header,
                                            ident: at,
                                            condition: cond.clone(),
                                            message: msg.clone(),
                                        });
                                    }
                                }
                                declared.insert(name, v);
                            }
                            "locals" => {
                                for structure in block.body.iter() {
                                    if let Structure::Attribute(attr) = structure {
                                        locals.insert(attr.key.value().as_str().to_owned(), (fi, attr.value.clone()));
                                    }
                                }
                            }
                            _ => {}
                        }
                    }
                }
                FileBody::Json(json) => {
                    let in_file = |d: Diagnostic| err(Some(&file.path), d);
                    for vars in blocks(json, "variable") {
                        for (name, spec) in vars {
                            let ty = match spec.get("type").and_then(|t| t.as_str()) {
                                Some(t) => type_constraint(&crate::config::parse_expression(t).map_err(in_file)?)
                                    .map_err(in_file)?,
                                None => Type::Dynamic,
                            };
                            let default = match spec.get("default") {
                                Some(d) => Some(convert(&crate::funcs::json_to_value(d), &ty).map_err(|c| {
                                    in_file(Diagnostic::new(
                                        "Invalid default value for variable",
                                        format!("This default value is not compatible with the variable's type constraint: {}.", c.full()),
                                        None,
                                    ))
                                })?),
                                None => None,
                            };
                            let flag = |k: &str| spec.get(k).and_then(serde_json::Value::as_bool);
                            let literal = spec.get("type").is_none() || ty.is_primitive();
                            declared.insert(
                                name.clone(),
                                Variable {
                                    ty,
                                    default,
                                    sensitive: flag("sensitive").unwrap_or(false),
                                    nullable: flag("nullable").unwrap_or(true),
                                    validations: Vec::new(),
                                    literal,
                                },
                            );
                        }
                    }
                    for block in blocks(json, "locals") {
                        for (name, value) in block {
                            if name == "//" {
                                continue;
                            }
                            let expr = crate::config::json_expression(value).map_err(in_file)?;
                            locals.insert(name.clone(), (fi, expr));
                        }
                    }
                }
            }
        }

        // Raw values by precedence; later sources overwrite earlier ones.
        let mut raw: BTreeMap<String, (Value, Source)> = BTreeMap::new();
        for (key, value) in env {
            if let Some(name) = key.strip_prefix("TF_VAR_")
                && let Some(var) = declared.get(name)
            {
                let v = raw_string_value(value, var.literal, &empty, &ctx).map_err(|d| err(None, d))?;
                raw.insert(name.to_owned(), (v, Source::Env));
            }
        }
        let mut auto: Vec<String> = std::fs::read_dir(dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
                    .filter(|n| n.ends_with(".auto.tfvars") || n.ends_with(".auto.tfvars.json"))
                    .collect()
            })
            .unwrap_or_default();
        auto.sort();
        let mut var_files: Vec<String> = ["terraform.tfvars", "terraform.tfvars.json"]
            .iter()
            .filter(|n| dir.join(n).is_file())
            .map(|n| (*n).to_owned())
            .collect();
        var_files.extend(auto);
        for name in &var_files {
            read_var_file(&dir.join(name), &mut raw, &empty, &ctx)?;
        }
        for arg in args {
            match arg {
                VarArg::Var(kv) => {
                    let Some((name, value)) = kv.split_once('=') else {
                        return Err(err(
                            None,
                            Diagnostic::new(
                                "Invalid -var option",
                                format!(
                                    "The given -var option {} is not correctly specified. Must be a variable name and value separated by an equals sign, like -var=\"key=value\".",
                                    crate::format::quote(kv)
                                ),
                                None,
                            ),
                        ));
                    };
                    let literal = declared.get(name).is_none_or(|v| v.literal);
                    let v = raw_string_value(value, literal, &empty, &ctx).map_err(|d| err(None, d))?;
                    raw.insert(name.to_owned(), (v, Source::Cli));
                }
                VarArg::File(path) => read_var_file(&dir.join(path), &mut raw, &empty, &ctx)?,
            }
        }

        // Values for variables nobody declared: a warning for the first two
        // from files, an error from the command line.
        let mut warnings = String::new();
        let mut undeclared_in_files = 0;
        for (name, (_, source)) in &raw {
            if declared.contains_key(name) {
                continue;
            }
            match source {
                Source::File(file, _, _) => {
                    if undeclared_in_files < 2 {
                        warnings.push_str(&render_warning(
                            "Value for undeclared variable",
                            &format!(
                                "The root module does not declare a variable named {} but a value was found in file {}. If you meant to use this value, add a \"variable\" block to the configuration.\n\nTo silence these warnings, use TF_VAR_... environment variables to provide certain \"global\" settings to all configurations in your organization. To reduce the verbosity of these warnings, use the -compact-warnings option.",
                                crate::format::quote(name),
                                crate::format::quote(file)
                            ),
                        ));
                    }
                    undeclared_in_files += 1;
                }
                Source::Cli => {
                    return Err(err(
                        None,
                        Diagnostic::new(
                            "Value for undeclared variable",
                            format!(
                                "A variable named {} was given on the command line, but the root module does not declare a variable of that name. To use this value, add a \"variable\" block to the configuration.",
                                crate::format::quote(name)
                            ),
                            None,
                        ),
                    ));
                }
                Source::Env => {}
            }
        }
        if undeclared_in_files > 2 {
            warnings.push_str(&render_warning(
                "Values for undeclared variables",
                &format!(
                    "In addition to the other similar warnings shown, {} other variable(s) defined without being declared.",
                    undeclared_in_files - 2
                ),
            ));
        }

        let mut vars = BTreeMap::new();
        for (name, var) in &declared {
            let given = raw.get(name).cloned().filter(|(v, _)| !v.is_null() || var.nullable);
            let source = given.as_ref().map(|(_, s)| s.clone());
            let value = match (given, &var.default) {
                (Some((v, _)), _) => v,
                (None, Some(d)) => d.clone(),
                (None, None) => {
                    return Err(err(
                        None,
                        Diagnostic::new(
                            "No value for required variable",
                            format!(
                                "The root module input variable {} is not set, and has no default value. Use a -var or -var-file command line argument to provide a value for this variable.",
                                crate::format::quote(name)
                            ),
                            None,
                        ),
                    ));
                }
            };
            let converted = convert(&value, &var.ty).map_err(|e| {
                let q = crate::format::quote(name);
                let why = e.full();
                let summary = "Invalid value for input variable";
                match &source {
                    Some(Source::Env) => err(
                        None,
                        Diagnostic::new(
                            summary,
                            format!("The environment variable TF_VAR_{name} does not contain a valid value for variable {q}: {why}."),
                            None,
                        ),
                    ),
                    Some(Source::File(file, text, offset)) => {
                        let d = Diagnostic::new(summary, format!("The given value is not valid for variable {q}: {why}."), None);
                        let rendered = render_at(file, text, *offset, None, &d);
                        LoadError { diagnostics: vec![d], rendered }
                    }
                    _ => err(
                        None,
                        Diagnostic::new(
                            summary,
                            format!("The argument -var=\"{name}=...\" does not contain a valid value for variable {q}: {why}."),
                            None,
                        ),
                    ),
                }
            })?;
            vars.insert(name.clone(), converted.mark_if(var.sensitive));
        }
        let mut module = ModuleScope {
            files,
            vars,
            locals,
            memo: RefCell::new(HashMap::new()),
            in_progress: RefCell::new(Vec::new()),
            startup_errors: String::new(),
            startup_warnings: warnings,
            ctx,
            workspace: workspace.to_owned(),
            cwd: dir.display().to_string(),
        };
        module.check_validations(&declared);
        module.evaluate_locals();
        Ok(module)
    }

    /// Evaluates every local once, dependencies first (the order comes
    /// from the references in the expressions). A local that fails is
    /// unknown, and so is everything when the locals form a cycle; the
    /// errors are kept for [`ModuleScope::startup_errors`].
    fn evaluate_locals(&mut self) {
        let mut names: Vec<&String> = self.locals.keys().collect();
        names.sort();
        let deps: HashMap<&str, Vec<String>> = self
            .locals
            .iter()
            .map(|(name, (_, expr))| {
                let d = crate::refs::references(expr)
                    .into_iter()
                    .filter(|r| r.root == "local")
                    .filter_map(|r| r.attrs.into_iter().next())
                    .filter(|n| self.locals.contains_key(n))
                    .collect();
                (name.as_str(), d)
            })
            .collect();
        // Iterative depth-first search: post-order is evaluation order.
        let mut order: Vec<String> = Vec::new();
        let mut state: HashMap<&str, u8> = HashMap::new();
        let mut cycle: Option<Vec<String>> = None;
        for start in &names {
            if state.contains_key(start.as_str()) {
                continue;
            }
            let mut stack: Vec<(&str, usize)> = vec![(start.as_str(), 0)];
            state.insert(start.as_str(), 1);
            while let Some((node, next)) = stack.pop() {
                let children = &deps[node];
                if next < children.len() {
                    stack.push((node, next + 1));
                    let child = children[next].as_str();
                    match state.get(child) {
                        None => {
                            state.insert(child, 1);
                            stack.push((child, 0));
                        }
                        Some(1) if cycle.is_none() => {
                            let from = stack.iter().position(|(n, _)| *n == child).unwrap_or(0);
                            let mut path: Vec<String> = stack[from..].iter().map(|(n, _)| (*n).to_owned()).collect();
                            path.reverse();
                            cycle = Some(path);
                        }
                        _ => {}
                    }
                } else {
                    state.insert(node, 2);
                    order.push(node.to_owned());
                }
            }
        }
        if let Some(path) = cycle {
            let names: Vec<String> = path.iter().map(|n| format!("local.{n} (expand)")).collect();
            let d = Diagnostic::new(format!("Cycle: {}", names.join(", ")), "", None);
            self.startup_errors.push_str(&d.render_plain("", None));
            let mut memo = self.memo.borrow_mut();
            for name in self.locals.keys() {
                memo.insert(name.clone(), Value::Unknown(Type::Dynamic));
            }
            return;
        }
        for name in order {
            let Some((file, expr)) = self.locals.get(&name) else { continue };
            let value = match Evaluator::new(self, &self.ctx).eval(expr) {
                Ok(v) => v,
                Err(d) => {
                    let text = self.render_in_file(*file, "locals", &d);
                    self.startup_errors.push_str(&text);
                    Value::Unknown(Type::Dynamic)
                }
            };
            self.memo.borrow_mut().insert(name, value);
        }
    }

    /// Runs each variable's validation rules against its value; a rule
    /// that fails is reported as Terraform reports it (the console still
    /// starts).
    fn check_validations(&mut self, declared: &BTreeMap<String, Variable>) {
        for var in declared.values() {
            for rule in &var.validations {
                let ok = Evaluator::new(&*self, &self.ctx).eval(&rule.condition);
                let failed = match &ok {
                    Ok(v) => v.as_bool() == Some(false),
                    Err(_) => true,
                };
                if !failed {
                    continue;
                }
                let f = &self.files[rule.file];
                let name = f
                    .path
                    .file_name()
                    .map_or_else(|| f.path.display().to_string(), |n| n.to_string_lossy().into_owned());
                let d = match ok {
                    Err(d) => d,
                    Ok(_) => {
                        let message = Evaluator::new(&*self, &self.ctx)
                            .eval(&rule.message)
                            .ok()
                            .and_then(|m| m.as_str().map(str::to_owned))
                            .unwrap_or_default();
                        let (line, _) = f.line_at(rule.ident.start);
                        let line_start =
                            f.source[..rule.ident.start.min(f.source.len())].rfind('\n').map_or(0, |i| i + 1);
                        let col = f.source[line_start..rule.ident.start].chars().count() + 1;
                        let end = col + f.source[rule.ident.clone()].chars().count();
                        Diagnostic::new(
                            "Invalid value for variable",
                            format!(
                                "{message}\n\nThis was checked by the validation rule at {name}:{line},{col}-{end}."
                            ),
                            None,
                        )
                    }
                };
                let text = render_at(&name, &f.source, rule.header, None, &d);
                self.startup_errors.push_str(&text);
            }
        }
    }

    /// A diagnostic about file `file`, in the block named `context`.
    fn render_in_file(&self, file: usize, context: &str, d: &Diagnostic) -> String {
        let f = &self.files[file];
        let name =
            f.path.file_name().map_or_else(|| f.path.display().to_string(), |n| n.to_string_lossy().into_owned());
        // Spans in JSON files are relative to the JSON string, not the file.
        let in_json = matches!(f.body, FileBody::Json(_));
        match crate::diag::snippet(&f.source, d).filter(|_| !in_json) {
            Some((line, lines)) => d.render_lines(&format!("{name} line {line}, in {context}"), &lines),
            None => d.render_plain(&format!("{name}, in {context}"), None),
        }
    }

    /// The errors found while loading, as Terraform prints them on stderr
    /// before the console starts (empty when there were none).
    pub fn startup_errors(&self) -> &str {
        &self.startup_errors
    }

    /// The warnings found while loading, as Terraform prints them on
    /// stdout before the console starts (empty when there were none).
    pub fn startup_warnings(&self) -> &str {
        &self.startup_warnings
    }

    /// The final value of each declared variable.
    pub fn variables(&self) -> &BTreeMap<String, Value> {
        &self.vars
    }

    /// The source files, for quoting lines in diagnostics.
    pub fn files(&self) -> &[SourceFile] {
        &self.files
    }

    fn local(&self, name: &str, span: Option<Range<usize>>) -> Result<Value, Diagnostic> {
        if let Some(v) = self.memo.borrow().get(name) {
            return Ok(v.clone());
        }
        let Some((_, expr)) = self.locals.get(name) else {
            return undeclared("local", &[name.to_owned()], span, |_| None).map(|(v, _)| v);
        };
        if self.in_progress.borrow().iter().any(|n| n == name) {
            let mut cycle: Vec<String> = self.in_progress.borrow().iter().map(|n| format!("local.{n}")).collect();
            cycle.push(format!("local.{name}"));
            return Err(Diagnostic::new("Cycle", cycle.join(", "), span));
        }
        self.in_progress.borrow_mut().push(name.to_owned());
        let result = Evaluator::new(self, &self.ctx).eval(expr);
        self.in_progress.borrow_mut().pop();
        let v = result?;
        self.memo.borrow_mut().insert(name.to_owned(), v.clone());
        Ok(v)
    }
}

impl Scope for ModuleScope {
    fn resolve(&self, root: &str, attrs: &[String], span: Option<Range<usize>>) -> Result<(Value, usize), Diagnostic> {
        match (root, attrs.first()) {
            ("var", Some(name)) if self.vars.contains_key(name) => Ok((self.vars[name].clone(), 1)),
            ("local", Some(name)) if self.locals.contains_key(name) => self.local(name, span).map(|v| (v, 1)),
            _ => undeclared(root, attrs, span, |name| match (root, name) {
                ("terraform", "workspace") => Some(Value::string(self.workspace.clone())),
                ("path", "module" | "root") => Some(Value::string(".")),
                ("path", "cwd") => Some(Value::string(self.cwd.clone())),
                _ => None,
            }),
        }
    }
}

/// The objects of a top-level JSON block type: `{"locals": {...}}` or
/// `{"locals": [{...}, {...}]}`.
fn blocks<'j>(json: &'j serde_json::Value, kind: &str) -> Vec<&'j serde_json::Map<String, serde_json::Value>> {
    match json.get(kind) {
        Some(serde_json::Value::Object(m)) => vec![m],
        Some(serde_json::Value::Array(items)) => items.iter().filter_map(serde_json::Value::as_object).collect(),
        _ => Vec::new(),
    }
}

fn attribute<'b>(body: &'b Body, name: &str) -> Option<&'b Expression> {
    body.iter().find_map(|s| match s {
        Structure::Attribute(a) if a.key.value().as_str() == name => Some(&a.value),
        _ => None,
    })
}

fn decode_variable(body: &Body, scope: &dyn Scope, ctx: &FuncContext) -> Result<Variable, Diagnostic> {
    let ty = match attribute(body, "type") {
        Some(e) => type_constraint(e)?,
        None => Type::Dynamic,
    };
    let default = match attribute(body, "default") {
        Some(e) => {
            let v = Evaluator::new(scope, ctx).eval(e)?;
            Some(convert(&v, &ty).map_err(|c| {
                Diagnostic::new(
                    "Invalid default value for variable",
                    format!("This default value is not compatible with the variable's type constraint: {}.", c.full()),
                    hcl_edit::Span::span(e),
                )
            })?)
        }
        None => None,
    };
    let flag = |name: &str| -> Result<bool, Diagnostic> {
        match attribute(body, name) {
            Some(e) => Ok(Evaluator::new(scope, ctx).eval(e)?.as_bool().unwrap_or(false)),
            None => Ok(false),
        }
    };
    let nullable = match attribute(body, "nullable") {
        Some(e) => Evaluator::new(scope, ctx).eval(e)?.as_bool().unwrap_or(true),
        None => true,
    };
    let literal = attribute(body, "type").is_none() || ty.is_primitive();
    Ok(Variable { ty, default, sensitive: flag("sensitive")?, nullable, validations: Vec::new(), literal })
}

/// A type constraint expression (`string`, `list(number)`, `object({...})`).
pub fn type_constraint(e: &Expression) -> Result<Type, Diagnostic> {
    let bad = |msg: &str| Diagnostic::new("Invalid type specification", msg, hcl_edit::Span::span(e));
    match e {
        Expression::Variable(id) => match id.value().as_str() {
            "string" => Ok(Type::String),
            "number" => Ok(Type::Number),
            "bool" => Ok(Type::Bool),
            "any" => Ok(Type::Dynamic),
            "list" | "set" | "map" => Err(bad(&format!(
                "The {0} type constructor requires one argument specifying the element type.",
                id.value().as_str()
            ))),
            other => {
                Err(bad(&format!("The keyword {} is not a valid type specification.", crate::format::quote(other))))
            }
        },
        Expression::Parenthesis(p) => type_constraint(p.inner()),
        Expression::FuncCall(call) => {
            let name = call.name.name.value().as_str();
            let args: Vec<&Expression> = call.args.iter().collect();
            match (name, args.as_slice()) {
                ("list", [t]) => Ok(Type::List(Box::new(type_constraint(t)?))),
                ("set", [t]) => Ok(Type::Set(Box::new(type_constraint(t)?))),
                ("map", [t]) => Ok(Type::Map(Box::new(type_constraint(t)?))),
                ("object", [Expression::Object(obj)]) => {
                    let mut attrs = BTreeMap::new();
                    for (k, v) in obj.iter() {
                        let key = match k {
                            ObjectKey::Ident(id) => id.value().as_str().to_owned(),
                            ObjectKey::Expression(Expression::Variable(id)) => id.value().as_str().to_owned(),
                            ObjectKey::Expression(Expression::String(s)) => s.value().clone(),
                            _ => return Err(bad("Object constructor map keys must be attribute names.")),
                        };
                        attrs.insert(key, type_constraint(v.expr())?);
                    }
                    Ok(Type::Object(attrs))
                }
                ("tuple", [Expression::Array(items)]) => {
                    Ok(Type::Tuple(items.iter().map(type_constraint).collect::<Result<_, _>>()?))
                }
                ("object", _) => Err(bad(
                    "The object type constructor requires one argument specifying the attribute types as a map.",
                )),
                ("tuple", _) => {
                    Err(bad("The tuple type constructor requires one argument specifying the element types as a list."))
                }
                (other, _) => {
                    Err(bad(&format!("Keyword {} is not a valid type constructor.", crate::format::quote(other))))
                }
            }
        }
        _ => Err(bad(
            "A type specification is either a primitive type keyword (bool, number, string) or a complex type constructor call, like list(string).",
        )),
    }
}

/// A value given as a string (`-var`, `TF_VAR_`): taken as it is for
/// variables without a type or with a primitive one, else parsed as an
/// expression.
fn raw_string_value(text: &str, literal: bool, scope: &dyn Scope, ctx: &FuncContext) -> Result<Value, Diagnostic> {
    if literal {
        return Ok(Value::string(text));
    }
    let expr = crate::config::parse_expression(text)?;
    Evaluator::new(scope, ctx).eval(&expr)
}

fn read_var_file(
    path: &Path,
    raw: &mut BTreeMap<String, (Value, Source)>,
    scope: &dyn Scope,
    ctx: &FuncContext,
) -> Result<(), LoadError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        err(
            Some(path),
            Diagnostic::new(
                "Failed to read variables file",
                format!("Given variables file {} does not exist: {e}.", path.display()),
                None,
            ),
        )
    })?;
    if path.to_string_lossy().ends_with(".json") {
        let json =
            crate::funcs::parse_json(&text).map_err(|e| err(Some(path), Diagnostic::new("Invalid JSON", e, None)))?;
        if let Value::Object(obj) = json {
            let name = path.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
            let text: std::rc::Rc<str> = text.as_str().into();
            raw.extend(obj.into_iter().map(|(k, v)| (k, (v, Source::File(name.clone(), text.clone(), 0)))));
        }
        return Ok(());
    }
    let body = hcl_edit::parser::parse_body(&text)
        .map_err(|e| err(Some(path), Diagnostic::new("Invalid variables file syntax", e.message().to_owned(), None)))?;
    let name = path.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let shared: std::rc::Rc<str> = text.as_str().into();
    for structure in body.iter() {
        if let Structure::Attribute(attr) = structure {
            let v = Evaluator::new(scope, ctx).eval(&attr.value).map_err(|d| err(Some(path), d))?;
            let offset = hcl_edit::Span::span(&attr.value).map_or(0, |s| s.start);
            raw.insert(attr.key.value().as_str().to_owned(), (v, Source::File(name.clone(), shared.clone(), offset)));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_and_types() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("main.tf"),
            r#"
variable "a" { default = "default" }
variable "b" { type = number }
variable "c" { type = list(string) }
variable "d" { type = map(number) }
variable "s" {
  default   = "secret"
  sensitive = true
}
locals {
  x = "${var.a}-${var.b}"
  y = [for v in var.c : upper(v)]
  z = local.x
}
"#,
        )
        .expect("write");
        std::fs::write(dir.path().join("terraform.tfvars"), "a = \"tfvars\"\nb = 1\n").expect("write");
        std::fs::write(dir.path().join("b.auto.tfvars"), "a = \"auto\"\n").expect("write");
        std::fs::write(dir.path().join("extra.tfvars"), "d = { k = \"5\" }\n").expect("write");
        let env = vec![("TF_VAR_b".to_owned(), "7".to_owned()), ("TF_VAR_c".to_owned(), "[\"p\", \"q\"]".to_owned())];
        let args = vec![VarArg::File("extra.tfvars".into()), VarArg::Var("b=9".into())];
        let m = ModuleScope::load(dir.path(), &env, &args, FuncContext::default(), "default").expect("loads");
        let show = |src: &str| match crate::console::eval_line(src, &m, &FuncContext::default()) {
            Ok(v) => crate::format::format_value(&v),
            Err(d) => format!("error: {}: {}", d.summary, d.detail),
        };
        assert_eq!(show("var.a"), "\"auto\"");
        assert_eq!(show("var.b"), "9");
        assert_eq!(show("var.c"), "tolist([\n  \"p\",\n  \"q\",\n])");
        assert_eq!(show("var.d"), "tomap({\n  \"k\" = 5\n})");
        assert_eq!(show("var.s"), "(sensitive)");
        assert_eq!(show("local.x"), "\"auto-9\"");
        assert_eq!(show("local.y"), "[\n  \"P\",\n  \"Q\",\n]");
        assert_eq!(show("local.z"), "\"auto-9\"");
        assert!(show("var.nosuch").contains("has not been declared"));
        assert_eq!(m.startup_errors(), "");
    }

    #[test]
    fn failing_and_cyclic_locals_are_unknown() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("main.tf"),
            "locals {\n  ok  = 1\n  bad = upper([])\n  dep = \"${local.bad}x\"\n}\n",
        )
        .expect("write");
        let m = ModuleScope::load(dir.path(), &[], &[], FuncContext::default(), "default").expect("loads");
        let show = |src: &str| {
            crate::format::format_value(
                &crate::console::eval_line(src, &m, &FuncContext::default()).expect("evaluates"),
            )
        };
        assert_eq!(show("local.ok"), "1");
        assert_eq!(show("local.dep"), "(known after apply)");
        assert_eq!(
            m.startup_errors(),
            "\nError: Invalid function argument\n\n  on main.tf line 3, in locals:\n   3:   bad = upper([])\n\nInvalid value for \"str\" parameter: string required.\n\n"
        );

        std::fs::write(dir.path().join("main.tf"), "locals {\n  a = local.b\n  b = local.a\n  c = 5\n}\n")
            .expect("write");
        let m = ModuleScope::load(dir.path(), &[], &[], FuncContext::default(), "default").expect("loads");
        assert_eq!(m.startup_errors(), "\nError: Cycle: local.b (expand), local.a (expand)\n\n\n");
        let c = crate::console::eval_line("local.c", &m, &FuncContext::default()).expect("evaluates");
        assert!(c.is_unknown());
    }

    #[test]
    fn a_long_chain_of_locals_is_evaluated_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut src = String::from("locals {\n  l0 = 0\n");
        for i in 1..5000 {
            src.push_str(&format!("  l{i} = local.l{} + 1\n", i - 1));
        }
        src.push_str("}\n");
        std::fs::write(dir.path().join("main.tf"), src).expect("write");
        let m = ModuleScope::load(dir.path(), &[], &[], FuncContext::default(), "default").expect("loads");
        let v = crate::console::eval_line("local.l4999", &m, &FuncContext::default()).expect("evaluates");
        assert_eq!(crate::format::format_value(&v), "4999");
    }

    #[test]
    fn required_variable_without_value_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("main.tf"), "variable \"x\" {}\n").expect("write");
        let e = ModuleScope::load(dir.path(), &[], &[], FuncContext::default(), "default").expect_err("required");
        assert_eq!(e.diagnostics[0].summary, "No value for required variable");
    }
}
