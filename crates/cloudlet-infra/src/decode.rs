//! The module tree: a directory's `.tf` files decoded into blocks the
//! engine walks (variables, locals, resources, data sources, outputs,
//! module calls, moved, import, removed, check and provider blocks), and
//! the child modules of every module call loaded recursively.
//!
//! Module sources are local paths (`./x`, `../x`) or `git::` sources that
//! point at local repositories (`git::file:///srv/repo.git?ref=v1`,
//! `//subdir` selects a directory inside); those are cloned with the `git`
//! binary into `.terraform/modules/<key>` with a `modules.json` beside, as
//! `terraform init` lays them out.
//!
//! Decoding checks only the shape of the blocks. Expressions stay syntax:
//! they are evaluated by the walk (`plan`), which knows their scope.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use hcl_edit::Span as _;
use hcl_edit::expr::Expression;
use hcl_edit::structure::{Block, Body, Structure};

use crate::config::{FileBody, SourceFile};
use crate::diag::Diagnostic;
use crate::value::Type;

/// Managed resource or data source (the state's own distinction).
pub use crate::state::Mode;

/// A declared input variable.
#[derive(Debug, Clone)]
pub struct VariableDecl {
    pub name: String,
    pub ty: Type,
    pub default: Option<Expression>,
    pub sensitive: bool,
    pub nullable: bool,
}

/// `lifecycle { ... }` of a resource.
#[derive(Debug, Clone, Default)]
pub struct Lifecycle {
    pub create_before_destroy: bool,
    pub prevent_destroy: bool,
    /// Attribute names whose changes are ignored.
    pub ignore_changes: Vec<String>,
    /// `ignore_changes = all`.
    pub ignore_all: bool,
    /// References (`terraform_data.x`, `null_resource.y.id`).
    pub replace_triggered_by: Vec<Expression>,
}

/// A `resource` or `data` block.
#[derive(Debug, Clone)]
pub struct ResourceConfig {
    pub mode: Mode,
    pub type_name: String,
    pub name: String,
    pub file: usize,
    /// Byte offset of the block's first line, for diagnostics.
    pub at: usize,
    pub count: Option<Expression>,
    pub for_each: Option<Expression>,
    /// The arguments: attributes, and nested blocks by type.
    pub body: Body,
    /// `depends_on` as written (`null_resource.a`, `module.m`).
    pub depends_on: Vec<String>,
    pub lifecycle: Lifecycle,
    /// `provider = random.other`.
    pub provider: Option<String>,
    /// `precondition`/`postcondition` blocks: condition and message.
    pub conditions: Vec<(Expression, Expression)>,
}

impl ResourceConfig {
    /// `null_resource.a` or `data.local_file.x`.
    pub fn addr(&self) -> String {
        match self.mode {
            Mode::Managed => format!("{}.{}", self.type_name, self.name),
            Mode::Data => format!("data.{}.{}", self.type_name, self.name),
        }
    }

    /// `resource "null_resource" "a"`, as diagnostics name the block.
    pub fn context(&self) -> String {
        let kind = if self.mode == Mode::Managed { "resource" } else { "data" };
        format!("{kind} \"{}\" \"{}\"", self.type_name, self.name)
    }
}

/// An `output` block.
#[derive(Debug, Clone)]
pub struct OutputConfig {
    pub name: String,
    pub file: usize,
    pub at: usize,
    pub value: Expression,
    pub sensitive: bool,
    pub description: Option<String>,
    pub depends_on: Vec<String>,
    pub preconditions: Vec<(Expression, Expression)>,
}

/// A `module` block and the module it loads.
#[derive(Debug)]
pub struct ModuleCall {
    pub name: String,
    pub source: String,
    pub file: usize,
    pub at: usize,
    pub count: Option<Expression>,
    pub for_each: Option<Expression>,
    pub depends_on: Vec<String>,
    /// The input variables' arguments.
    pub args: BTreeMap<String, Expression>,
    pub module: Box<ModuleConfig>,
}

/// A `moved` block: state addresses (without instance keys or with).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    pub from: String,
    pub to: String,
}

/// An `import` block.
#[derive(Debug, Clone)]
pub struct ImportBlock {
    pub to: String,
    pub id: Expression,
}

/// A `check` block: assertions whose failures are warnings.
#[derive(Debug, Clone)]
pub struct CheckBlock {
    pub name: String,
    pub asserts: Vec<(Expression, Expression)>,
}

/// One module (the root or a child).
#[derive(Debug, Default)]
pub struct ModuleConfig {
    pub dir: PathBuf,
    pub files: Vec<SourceFile>,
    pub variables: BTreeMap<String, VariableDecl>,
    /// Local values: name → (file, expression).
    pub locals: BTreeMap<String, (usize, Expression)>,
    pub resources: Vec<ResourceConfig>,
    pub outputs: Vec<OutputConfig>,
    pub module_calls: Vec<ModuleCall>,
    pub moved: Vec<Moved>,
    pub imports: Vec<ImportBlock>,
    /// `removed { from = ... }`: addresses forgotten without destroying.
    pub removed: Vec<String>,
    pub checks: Vec<CheckBlock>,
    /// Provider configurations by local name (the built-in providers take
    /// no settings; the blocks are kept so aliases resolve).
    pub providers: Vec<String>,
}

/// Loading the module tree failed: every diagnostic, rendered.
#[derive(Debug)]
pub struct DecodeError {
    pub rendered: String,
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.rendered)
    }
}

/// A file's name as Terraform prints it in diagnostics.
pub fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
}

/// Renders `d` as Terraform does for a diagnostic in `file` inside the
/// block `context` (`resource "x" "y"`), quoting the lines it covers;
/// `fallback` is where to point when the diagnostic has no span.
pub fn render(file: &SourceFile, context: Option<&str>, fallback: Option<usize>, d: &Diagnostic) -> String {
    render_named(file, &file_name(&file.path), context, fallback, d)
}

/// [`render`] with the file named `name` (a child module's file is named
/// by its path from the root module, `modules/vpc/main.tf`).
pub fn render_named(
    file: &SourceFile,
    name: &str,
    context: Option<&str>,
    fallback: Option<usize>,
    d: &Diagnostic,
) -> String {
    let name = name.to_owned();
    let located = match (&d.span, fallback) {
        (Some(_), _) => d.clone(),
        (None, Some(at)) => Diagnostic { span: Some(at..at), ..d.clone() },
        (None, None) => return d.render_plain("", None),
    };
    if matches!(file.body, FileBody::Json(_)) {
        return d.render_plain(&name, None);
    }
    match crate::diag::snippet(&file.source, &located) {
        Some((line, lines)) => {
            let location = match context {
                Some(c) => format!("{name} line {line}, in {c}"),
                None => format!("{name} line {line}"),
            };
            d.render_lines(&location, &lines)
        }
        None => d.render_plain(&name, None),
    }
}

/// Loads the module in `dir` and every module it calls.
pub fn load_tree(dir: &Path) -> Result<ModuleConfig, DecodeError> {
    let root = dir.to_path_buf();
    load_module(&root, dir, "", 0)
}

fn load_module(root: &Path, dir: &Path, key: &str, depth: usize) -> Result<ModuleConfig, DecodeError> {
    if depth > 32 {
        return Err(DecodeError {
            rendered: Diagnostic::new(
                "Module call depth exceeded",
                format!("The module {key:?} calls modules more than 32 levels deep; a module may be calling itself."),
                None,
            )
            .render_plain("", None),
        });
    }
    let files = crate::config::load_dir(dir).map_err(|failures| DecodeError {
        rendered: failures
            .iter()
            .map(|f| f.diagnostic.render_plain(&format!("{} line {}", file_name(&f.path), f.line), None))
            .collect(),
    })?;
    let mut m = ModuleConfig { dir: dir.to_path_buf(), ..ModuleConfig::default() };
    let mut errors = String::new();
    let mut calls: Vec<(usize, Block)> = Vec::new();
    for (fi, file) in files.iter().enumerate() {
        let FileBody::Hcl(body) = &file.body else {
            // JSON configurations: variables and locals only (read by the
            // language's module loader); blocks are not decoded here yet.
            continue;
        };
        for structure in body.iter() {
            let Structure::Block(block) = structure else {
                let d = Diagnostic::new(
                    "Unsupported argument",
                    "An argument is not expected here.",
                    structure.as_attribute().and_then(|a| a.key.span()),
                );
                errors.push_str(&render(file, None, None, &d));
                continue;
            };
            if let Err(d) = decode_block(&mut m, &files, fi, block, &mut calls) {
                let context = block_context(block);
                let at = block.span().map(|s| s.start);
                errors.push_str(&render(file, context.as_deref(), at, &d));
            }
        }
    }
    m.files = files;
    for (fi, block) in calls {
        match decode_module_call(root, &m, fi, &block, key, depth) {
            Ok(call) => m.module_calls.push(call),
            Err(DecodeOrDiag::Diag(d)) => {
                let context = block_context(&block);
                let at = block.span().map(|s| s.start);
                errors.push_str(&render(&m.files[fi], context.as_deref(), at, &d));
            }
            Err(DecodeOrDiag::Nested(e)) => errors.push_str(&e.rendered),
        }
    }
    if errors.is_empty() { Ok(m) } else { Err(DecodeError { rendered: errors }) }
}

enum DecodeOrDiag {
    Diag(Diagnostic),
    Nested(DecodeError),
}

fn block_context(block: &Block) -> Option<String> {
    let mut s = block.ident.value().as_str().to_owned();
    for l in &block.labels {
        s.push_str(&format!(" \"{}\"", l.as_str()));
    }
    Some(s)
}

fn attribute<'b>(body: &'b Body, name: &str) -> Option<&'b Expression> {
    body.iter().find_map(|s| match s {
        Structure::Attribute(a) if a.key.value().as_str() == name => Some(&a.value),
        _ => None,
    })
}

fn literal_bool(body: &Body, name: &str) -> Result<bool, Diagnostic> {
    match attribute(body, name) {
        None => Ok(false),
        Some(Expression::Bool(b)) => Ok(*b.value()),
        Some(e) => Err(Diagnostic::new(
            "Unsuitable value type",
            format!("Unsuitable value: the {name} argument requires a literal bool value."),
            e.span(),
        )),
    }
}

/// A static reference written as an expression (`null_resource.a`,
/// `module.m`, `data.x.y`), as `depends_on` and `moved` take them.
pub fn traversal_text(e: &Expression) -> Option<String> {
    match e {
        Expression::Variable(v) => Some(v.value().as_str().to_owned()),
        Expression::Traversal(t) => {
            let mut s = traversal_text(&t.expr)?;
            for op in &t.operators {
                match op.value() {
                    hcl_edit::expr::TraversalOperator::GetAttr(name) => {
                        s.push('.');
                        s.push_str(name.value().as_str());
                    }
                    hcl_edit::expr::TraversalOperator::Index(Expression::Number(n)) => {
                        s.push_str(&format!("[{}]", n.value()));
                    }
                    hcl_edit::expr::TraversalOperator::Index(Expression::String(k)) => {
                        s.push_str(&format!("[{}]", crate::format::quote(k.value())));
                    }
                    hcl_edit::expr::TraversalOperator::LegacyIndex(i) => s.push_str(&format!("[{}]", i.value())),
                    _ => return None,
                }
            }
            Some(s)
        }
        _ => None,
    }
}

fn reference_list(body: &Body, name: &str) -> Result<Vec<String>, Diagnostic> {
    let Some(e) = attribute(body, name) else { return Ok(Vec::new()) };
    let Expression::Array(items) = e else {
        return Err(Diagnostic::new("Invalid expression", "A static list expression is required.", e.span()));
    };
    items
        .iter()
        .map(|i| {
            traversal_text(i).ok_or_else(|| {
                Diagnostic::new("Invalid expression", "A single static variable reference is required: only attribute access and indexing with constant keys. No calculations, function calls, template expressions, etc are allowed here.", i.span())
            })
        })
        .collect()
}

fn conditions(body: &Body, kinds: &[&str]) -> Vec<(Expression, Expression)> {
    body.iter()
        .filter_map(|s| match s {
            Structure::Block(b) if kinds.contains(&b.ident.value().as_str()) => {
                Some((attribute(&b.body, "condition")?.clone(), attribute(&b.body, "error_message")?.clone()))
            }
            _ => None,
        })
        .collect()
}

fn labels<const N: usize>(block: &Block) -> Result<[String; N], Diagnostic> {
    let got: Vec<String> = block.labels.iter().map(|l| l.as_str().to_owned()).collect();
    let kind = block.ident.value().as_str();
    got.clone().try_into().map_err(|_| {
        let names = match kind {
            "resource" | "data" => "type, name",
            _ => "name",
        };
        Diagnostic::new(
            if got.len() < N {
                "Missing name for ".to_owned() + kind
            } else {
                "Extraneous label for ".to_owned() + kind
            },
            format!("All {kind} blocks must have {N} labels ({names})."),
            block.ident.span(),
        )
    })
}

fn valid_name(name: &str, what: &str, span: Option<Range<usize>>) -> Result<(), Diagnostic> {
    let ok = name.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(Diagnostic::new(
            format!("Invalid {what} name"),
            "A name must start with a letter or underscore and may contain only letters, digits, underscores, and dashes.",
            span,
        ))
    }
}

fn decode_block(
    m: &mut ModuleConfig,
    files: &[SourceFile],
    fi: usize,
    block: &Block,
    calls: &mut Vec<(usize, Block)>,
) -> Result<(), Diagnostic> {
    let at = block.span().map_or(0, |s| s.start);
    match block.ident.value().as_str() {
        "terraform" | "provider" => {
            if block.ident.value().as_str() == "provider" {
                let [name] = labels::<1>(block)?;
                m.providers.push(name);
            }
        }
        "variable" => {
            let [name] = labels::<1>(block)?;
            valid_name(&name, "variable", block.labels.first().and_then(|l| l.span()))?;
            let ty = match attribute(&block.body, "type") {
                Some(e) => crate::module::type_constraint(e)?,
                None => Type::Dynamic,
            };
            let nullable = match attribute(&block.body, "nullable") {
                Some(Expression::Bool(b)) => *b.value(),
                _ => true,
            };
            let decl = VariableDecl {
                name: name.clone(),
                ty,
                default: attribute(&block.body, "default").cloned(),
                sensitive: literal_bool(&block.body, "sensitive")?,
                nullable,
            };
            if m.variables.insert(name.clone(), decl).is_some() {
                return Err(Diagnostic::new(
                    "Duplicate variable declaration",
                    format!(
                        "A variable named \"{name}\" was already declared. Variable names must be unique within a module."
                    ),
                    block.labels.first().and_then(|l| l.span()),
                ));
            }
        }
        "locals" => {
            for s in block.body.iter() {
                if let Structure::Attribute(a) = s {
                    let name = a.key.value().as_str().to_owned();
                    if m.locals.insert(name.clone(), (fi, a.value.clone())).is_some() {
                        return Err(Diagnostic::new(
                            "Duplicate local value definition",
                            format!(
                                "A local value named \"{name}\" was already defined. Local value names must be unique within a module."
                            ),
                            a.key.span(),
                        ));
                    }
                }
            }
        }
        "resource" | "data" => {
            let [type_name, name] = labels::<2>(block)?;
            valid_name(&name, "resource", block.labels.get(1).and_then(|l| l.span()))?;
            let mode = if block.ident.value().as_str() == "resource" { Mode::Managed } else { Mode::Data };
            let mut body = Body::new();
            let mut lifecycle = Lifecycle::default();
            let mut conds = Vec::new();
            for s in block.body.iter() {
                match s {
                    Structure::Attribute(a)
                        if matches!(a.key.value().as_str(), "count" | "for_each" | "depends_on" | "provider") => {}
                    Structure::Block(b) if b.ident.value().as_str() == "lifecycle" => {
                        lifecycle = decode_lifecycle(&b.body)?;
                        conds.extend(conditions(&b.body, &["precondition", "postcondition"]));
                    }
                    Structure::Block(b) if matches!(b.ident.value().as_str(), "provisioner" | "connection") => {}
                    other => body.push(other.clone()),
                }
            }
            if attribute(&block.body, "count").is_some() && attribute(&block.body, "for_each").is_some() {
                return Err(Diagnostic::new(
                    "Invalid combination of \"count\" and \"for_each\"",
                    "The \"count\" and \"for_each\" meta-arguments are mutually-exclusive, only one should be used to be explicit about the number of resources to be created.",
                    attribute(&block.body, "for_each").and_then(|e| e.span()),
                ));
            }
            let provider = attribute(&block.body, "provider").and_then(traversal_text);
            let r = ResourceConfig {
                mode,
                type_name,
                name,
                file: fi,
                at,
                count: attribute(&block.body, "count").cloned(),
                for_each: attribute(&block.body, "for_each").cloned(),
                body,
                depends_on: reference_list(&block.body, "depends_on")?,
                lifecycle,
                provider,
                conditions: conds,
            };
            if let Some(prev) = m.resources.iter().find(|p| p.addr() == r.addr()) {
                let kind = if mode == Mode::Managed { "resource" } else { "data" };
                let prev_line = files.get(prev.file).map_or(0, |f| f.line_at(prev.at).0);
                return Err(Diagnostic::new(
                    format!("Duplicate {kind} \"{}\" configuration", r.type_name),
                    format!(
                        "A {kind} {} named {} was already declared at line {prev_line}. Resource names must be unique per type in each module.",
                        crate::format::quote(&r.type_name),
                        crate::format::quote(&r.name)
                    ),
                    block.labels.get(1).and_then(|l| l.span()),
                ));
            }
            m.resources.push(r);
        }
        "output" => {
            let [name] = labels::<1>(block)?;
            let Some(value) = attribute(&block.body, "value") else {
                return Err(Diagnostic::new(
                    "Missing required argument",
                    "The argument \"value\" is required, but no definition was found.",
                    block.ident.span(),
                ));
            };
            let description = match attribute(&block.body, "description") {
                Some(Expression::String(s)) => Some(s.value().clone()),
                _ => None,
            };
            m.outputs.push(OutputConfig {
                name,
                file: fi,
                at,
                value: value.clone(),
                sensitive: literal_bool(&block.body, "sensitive")?,
                description,
                depends_on: reference_list(&block.body, "depends_on")?,
                preconditions: conditions(&block.body, &["precondition"]),
            });
        }
        "module" => {
            let [name] = labels::<1>(block)?;
            valid_name(&name, "module", block.labels.first().and_then(|l| l.span()))?;
            calls.push((fi, block.clone()));
        }
        "moved" => {
            let get = |k: &str| {
                attribute(&block.body, k).and_then(traversal_text).ok_or_else(|| {
                    Diagnostic::new(
                        "Missing required argument",
                        format!("The argument \"{k}\" is required, but no definition was found."),
                        block.ident.span(),
                    )
                })
            };
            m.moved.push(Moved { from: get("from")?, to: get("to")? });
        }
        "import" => {
            let to = attribute(&block.body, "to").and_then(traversal_text);
            let id = attribute(&block.body, "id").cloned();
            match (to, id) {
                (Some(to), Some(id)) => m.imports.push(ImportBlock { to, id }),
                _ => {
                    return Err(Diagnostic::new(
                        "Missing required argument",
                        "An import block requires the arguments \"to\" and \"id\".",
                        block.ident.span(),
                    ));
                }
            }
        }
        "removed" => match attribute(&block.body, "from").and_then(traversal_text) {
            Some(from) => m.removed.push(from),
            None => {
                return Err(Diagnostic::new(
                    "Missing required argument",
                    "The argument \"from\" is required, but no definition was found.",
                    block.ident.span(),
                ));
            }
        },
        "check" => {
            let [name] = labels::<1>(block)?;
            m.checks.push(CheckBlock { name, asserts: conditions(&block.body, &["assert"]) });
        }
        other => {
            return Err(Diagnostic::new(
                "Unsupported block type",
                format!("Blocks of type {} are not expected here.", crate::format::quote(other)),
                block.ident.span(),
            ));
        }
    }
    Ok(())
}

fn decode_lifecycle(body: &Body) -> Result<Lifecycle, Diagnostic> {
    let mut l = Lifecycle {
        create_before_destroy: literal_bool(body, "create_before_destroy")?,
        prevent_destroy: literal_bool(body, "prevent_destroy")?,
        ..Lifecycle::default()
    };
    match attribute(body, "ignore_changes") {
        None => {}
        Some(Expression::Variable(v)) if v.value().as_str() == "all" => l.ignore_all = true,
        Some(Expression::Array(items)) => {
            for i in items.iter() {
                match traversal_text(i) {
                    Some(t) => l.ignore_changes.push(t),
                    None => {
                        return Err(Diagnostic::new(
                            "Invalid expression",
                            "A single static variable reference is required: only attribute access and indexing with constant keys. No calculations, function calls, template expressions, etc are allowed here.",
                            i.span(),
                        ));
                    }
                }
            }
        }
        Some(e) => {
            return Err(Diagnostic::new(
                "Invalid ignore_changes",
                "The ignore_changes argument must be a list of attribute references, or the keyword \"all\".",
                e.span(),
            ));
        }
    }
    if let Some(Expression::Array(items)) = attribute(body, "replace_triggered_by") {
        l.replace_triggered_by = items.iter().cloned().collect();
    }
    Ok(l)
}

fn decode_module_call(
    root: &Path,
    parent: &ModuleConfig,
    fi: usize,
    block: &Block,
    parent_key: &str,
    depth: usize,
) -> Result<ModuleCall, DecodeOrDiag> {
    let name = block.labels.first().map(|l| l.as_str().to_owned()).unwrap_or_default();
    let source = match attribute(&block.body, "source") {
        Some(Expression::String(s)) => s.value().clone(),
        Some(e) => {
            return Err(DecodeOrDiag::Diag(Diagnostic::new(
                "Invalid module source",
                "The module source address must be a literal string.",
                e.span(),
            )));
        }
        None => {
            return Err(DecodeOrDiag::Diag(Diagnostic::new(
                "Missing required argument",
                "The argument \"source\" is required, but no definition was found.",
                block.ident.span(),
            )));
        }
    };
    let key = if parent_key.is_empty() { name.clone() } else { format!("{parent_key}.{name}") };
    let dir = if source.starts_with("./") || source.starts_with("../") {
        parent.dir.join(&source)
    } else if source.starts_with("git::") {
        install_git_module(root, &key, &source).map_err(|e| {
            DecodeOrDiag::Diag(Diagnostic::new(
                "Failed to download module",
                format!("Could not download module \"{name}\" source code from \"{source}\": {e}."),
                attribute(&block.body, "source").and_then(|e| e.span()),
            ))
        })?
    } else {
        return Err(DecodeOrDiag::Diag(Diagnostic::new(
            "Unsupported module source",
            format!(
                "The module source {} is not available here: cloudlet loads modules from local paths (\"./\", \"../\") and from git:: sources in local repositories; nothing is downloaded.",
                crate::format::quote(&source)
            ),
            attribute(&block.body, "source").and_then(|e| e.span()),
        )));
    };
    if !dir.is_dir() {
        return Err(DecodeOrDiag::Diag(Diagnostic::new(
            "Unreadable module directory",
            format!("The directory {} does not exist or cannot be read.", dir.display()),
            attribute(&block.body, "source").and_then(|e| e.span()),
        )));
    }
    let module = load_module(root, &dir, &key, depth + 1).map_err(DecodeOrDiag::Nested)?;
    let mut args = BTreeMap::new();
    for s in block.body.iter() {
        if let Structure::Attribute(a) = s {
            let k = a.key.value().as_str();
            if matches!(k, "source" | "version" | "count" | "for_each" | "depends_on" | "providers") {
                continue;
            }
            if !module.variables.contains_key(k) {
                return Err(DecodeOrDiag::Diag(Diagnostic::new(
                    "Unsupported argument",
                    format!("An argument named \"{k}\" is not expected here."),
                    a.key.span(),
                )));
            }
            args.insert(k.to_owned(), a.value.clone());
        }
    }
    for (vname, v) in &module.variables {
        if v.default.is_none() && !args.contains_key(vname) {
            return Err(DecodeOrDiag::Diag(Diagnostic::new(
                "Missing required argument",
                format!("The argument \"{vname}\" is required, but no definition was found."),
                block.labels.first().and_then(|l| l.span()),
            )));
        }
    }
    let at = block.span().map_or(0, |s| s.start);
    Ok(ModuleCall {
        name,
        source,
        file: fi,
        at,
        count: attribute(&block.body, "count").cloned(),
        for_each: attribute(&block.body, "for_each").cloned(),
        depends_on: reference_list(&block.body, "depends_on").map_err(DecodeOrDiag::Diag)?,
        args,
        module: Box::new(module),
    })
}

/// Clones a `git::` source into `.terraform/modules/<key>` (once; a
/// different `ref` re-clones) and records it in `modules.json`.
fn install_git_module(root: &Path, key: &str, source: &str) -> Result<PathBuf, String> {
    let rest = source.trim_start_matches("git::");
    let (url, query) = rest.split_once('?').unwrap_or((rest, ""));
    // `//subdir` after the repository (not the `//` of `file://`).
    let scheme_end = url.find("://").map_or(0, |i| i + 3);
    let (repo, subdir) = match url[scheme_end..].find("//") {
        Some(i) => (&url[..scheme_end + i], &url[scheme_end + i + 2..]),
        None => (url, ""),
    };
    let git_ref = query.split('&').find_map(|kv| kv.strip_prefix("ref="));
    let modules_dir = root.join(".terraform/modules");
    let target = modules_dir.join(key);
    let manifest_path = modules_dir.join("modules.json");
    let mut manifest: serde_json::Value = std::fs::read_to_string(&manifest_path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_else(|| serde_json::json!({"Modules": [{"Key": "", "Source": "", "Dir": "."}]}));
    let installed =
        manifest["Modules"].as_array().is_some_and(|ms| ms.iter().any(|m| m["Key"] == key && m["Source"] == source))
            && target.is_dir();
    if !installed {
        if target.exists() {
            std::fs::remove_dir_all(&target).map_err(|e| format!("removing {}: {e}", target.display()))?;
        }
        std::fs::create_dir_all(&modules_dir).map_err(|e| format!("creating {}: {e}", modules_dir.display()))?;
        let out = std::process::Command::new("git")
            .args(["clone", "--quiet", repo])
            .arg(&target)
            .output()
            .map_err(|e| format!("running git: {e}"))?;
        if !out.status.success() {
            return Err(format!("git clone failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
        }
        if let Some(r) = git_ref {
            let out = std::process::Command::new("git")
                .arg("-C")
                .arg(&target)
                .args(["checkout", "--quiet", r])
                .output()
                .map_err(|e| format!("running git: {e}"))?;
            if !out.status.success() {
                return Err(format!("git checkout {r} failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
            }
        }
        let dir_rel =
            format!(".terraform/modules/{key}{}", if subdir.is_empty() { String::new() } else { format!("/{subdir}") });
        if let Some(ms) = manifest["Modules"].as_array_mut() {
            ms.retain(|m| m["Key"] != key);
            ms.push(serde_json::json!({"Key": key, "Source": source, "Dir": dir_rel}));
            ms.sort_by(|a, b| a["Key"].as_str().cmp(&b["Key"].as_str()));
        }
        let text = serde_json::to_string(&manifest).map_err(|e| e.to_string())?;
        std::fs::write(&manifest_path, text).map_err(|e| format!("writing {}: {e}", manifest_path.display()))?;
    }
    Ok(if subdir.is_empty() { target } else { target.join(subdir) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) {
        if let Some(p) = dir.join(name).parent() {
            std::fs::create_dir_all(p).expect("mkdir");
        }
        std::fs::write(dir.join(name), text).expect("write");
    }

    #[test]
    fn decodes_blocks_and_child_modules() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(
            dir.path(),
            "main.tf",
            r#"
variable "n" {
  type    = number
  default = 2
}
resource "null_resource" "a" {
  count    = var.n
  triggers = { x = "y" }
  lifecycle {
    create_before_destroy = true
    ignore_changes        = [triggers]
  }
  depends_on = [module.net]
}
data "local_file" "f" {
  filename = "x"
}
module "net" {
  source = "./net"
  cidr   = "10.0.0.0/16"
}
moved {
  from = null_resource.old
  to   = null_resource.a
}
output "o" {
  value     = null_resource.a[0].id
  sensitive = true
}
"#,
        );
        write(dir.path(), "net/main.tf", "variable \"cidr\" {}\noutput \"cidr\" { value = var.cidr }\n");
        let m = load_tree(dir.path()).expect("loads");
        assert_eq!(m.resources.len(), 2);
        assert_eq!(m.resources[0].addr(), "null_resource.a");
        assert!(m.resources[0].lifecycle.create_before_destroy);
        assert_eq!(m.resources[0].lifecycle.ignore_changes, ["triggers"]);
        assert_eq!(m.resources[0].depends_on, ["module.net"]);
        assert_eq!(m.resources[1].addr(), "data.local_file.f");
        assert_eq!(m.module_calls[0].module.outputs[0].name, "cidr");
        assert_eq!(m.moved, [Moved { from: "null_resource.old".into(), to: "null_resource.a".into() }]);
        assert!(m.outputs[0].sensitive);
    }

    #[test]
    fn git_sources_are_cloned_at_their_ref_into_terraform_modules() {
        let repo = tempfile::tempdir().expect("tempdir");
        let git = |args: &[&str]| {
            let out = std::process::Command::new("git")
                .arg("-C")
                .arg(repo.path())
                .args(["-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"])
                .args(args)
                .output()
                .expect("git runs");
            assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        };
        git(&["init", "-q"]);
        write(repo.path(), "net/main.tf", "output \"v\" { value = \"one\" }\n");
        git(&["add", "."]);
        git(&["commit", "-q", "-m", "one"]);
        git(&["tag", "v1"]);
        write(repo.path(), "net/main.tf", "output \"v\" { value = \"two\" }\noutput \"w\" { value = 2 }\n");
        git(&["commit", "-q", "-am", "two"]);
        let root = tempfile::tempdir().expect("tempdir");
        let source = format!("git::file://{}//net?ref=v1", repo.path().display());
        write(root.path(), "main.tf", &format!("module \"net\" {{\n  source = \"{source}\"\n}}\n"));
        let m = load_tree(root.path()).expect("loads");
        assert_eq!(m.module_calls[0].module.outputs.len(), 1, "the tag's version, not the branch head");
        let manifest = std::fs::read_to_string(root.path().join(".terraform/modules/modules.json")).expect("manifest");
        let manifest: serde_json::Value = serde_json::from_str(&manifest).expect("json");
        assert_eq!(manifest["Modules"][1]["Key"], "net");
        assert_eq!(manifest["Modules"][1]["Dir"], ".terraform/modules/net/net");
        assert_eq!(manifest["Modules"][1]["Source"], source.as_str());
    }

    #[test]
    fn errors_name_the_block_and_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "main.tf", "resource \"null_resource\" \"a\" {}\n\nresource \"null_resource\" \"a\" {}\n");
        let e = load_tree(dir.path()).expect_err("duplicate");
        assert_eq!(
            e.rendered,
            "\nError: Duplicate resource \"null_resource\" configuration\n\n  on main.tf line 3, in resource \"null_resource\" \"a\":\n   3: resource \"null_resource\" \"a\" {}\n\nA resource \"null_resource\" named \"a\" was already declared at line 1. Resource\nnames must be unique per type in each module.\n\n"
        );
        write(dir.path(), "main.tf", "module \"m\" {\n  source = \"./m\"\n  bogus = 1\n}\n");
        write(dir.path(), "m/main.tf", "");
        let e = load_tree(dir.path()).expect_err("unsupported");
        assert!(e.rendered.contains("on main.tf line 3, in module \"m\":"), "{}", e.rendered);
        assert!(e.rendered.contains("An argument named \"bogus\" is not expected here."));
    }
}
