//! Planning: the module tree walked in dependency order (`graph`), each
//! resource instance's configuration evaluated and compared with its
//! refreshed prior object through its provider, giving per instance an
//! action and the before/after objects (unknowns where the apply decides).
//!
//! The same walk carries out an apply (`crate::apply`): there each change
//! is handed to the executor as soon as it is planned, and a node that
//! refers to a resource waits until that resource's changes have landed,
//! so expressions see real values.
//!
//! The walk makes no decisions of its own about I/O: providers are called
//! through the [`Registry`], state comes in and goes out as [`State`].

pub mod values;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Range;
use std::path::Path;

use hcl_edit::Span as _;
use hcl_edit::expr::Expression;
use hcl_edit::structure::{Body, Structure};

use crate::convert::convert;
use crate::decode::{Mode, ModuleCall, ModuleConfig, ResourceConfig};
use crate::diag::Diagnostic;
use crate::eval::{Evaluator, InstanceScope, Scope, undeclared};
use crate::funcs::FuncContext;
use crate::graph::{Graph, NodeId, NodeKind};
use crate::providers::{Provider, Registry, Schema};
use crate::state::{IndexKey, InstanceState, State};
use crate::value::{Type, Value};

/// What kind of plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PlanMode {
    #[default]
    Normal,
    Destroy,
    RefreshOnly,
}

/// The options of `plan`/`apply`.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    pub mode: PlanMode,
    /// `-target` addresses.
    pub targets: Vec<String>,
    /// `-replace` addresses.
    pub replace: Vec<String>,
    /// `-refresh=false` turns refreshing off.
    pub skip_refresh: bool,
    pub workspace: String,
    /// The current time as RFC 3339 (for `timestamp()` during apply).
    pub now_rfc3339: Option<String>,
}

/// An instance's action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Action {
    NoOp,
    Create,
    Read,
    Update,
    DeleteThenCreate,
    CreateThenDelete,
    Delete,
}

impl Action {
    /// The action list of Terraform's JSON plan.
    pub fn json_actions(self) -> &'static [&'static str] {
        match self {
            Action::NoOp => &["no-op"],
            Action::Create => &["create"],
            Action::Read => &["read"],
            Action::Update => &["update"],
            Action::DeleteThenCreate => &["delete", "create"],
            Action::CreateThenDelete => &["create", "delete"],
            Action::Delete => &["delete"],
        }
    }

    pub fn is_replace(self) -> bool {
        matches!(self, Action::DeleteThenCreate | Action::CreateThenDelete)
    }
}

/// One resource instance's planned change.
#[derive(Debug, Clone)]
pub struct ResourceChange {
    /// The instance address (`module.m.null_resource.a[0]`).
    pub addr: String,
    /// The module instance path (`module.m`), `None` for the root.
    pub module: Option<String>,
    pub mode: Mode,
    pub type_name: String,
    pub name: String,
    pub key: Option<IndexKey>,
    /// State's provider address.
    pub provider: String,
    pub action: Action,
    pub before: Option<Value>,
    pub after: Option<Value>,
    /// Attributes whose change forces the replacement.
    pub replace_paths: Vec<String>,
    /// Terraform's `action_reason`.
    pub reason: Option<&'static str>,
    /// Config addresses this object depends on (state's `dependencies`).
    pub dependencies: Vec<String>,
    /// The address in the prior state when a `moved` block moved it.
    pub previous_addr: Option<String>,
    /// The object's type (from the provider schema).
    pub ty: Type,
    pub create_before_destroy: bool,
}

/// A root output's planned change.
#[derive(Debug, Clone)]
pub struct OutputChange {
    pub name: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub sensitive: bool,
}

/// The result of planning.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub mode: PlanMode,
    pub changes: Vec<ResourceChange>,
    /// Differences the refresh found (objects changed or deleted outside).
    pub drift: Vec<ResourceChange>,
    pub outputs: Vec<OutputChange>,
    /// The prior state as read.
    pub prior: State,
    /// The prior state after `moved` blocks and the refresh.
    pub refreshed: State,
    /// Rendered error diagnostics; a plan with errors is not applied.
    pub errors: String,
    /// Rendered warnings.
    pub warnings: String,
    /// The root variables' final values.
    pub variables: BTreeMap<String, Value>,
}

impl Plan {
    /// Changes that do something (not no-ops), in order.
    pub fn effective(&self) -> impl Iterator<Item = &ResourceChange> {
        self.changes.iter().filter(|c| c.action != Action::NoOp)
    }

    /// `(add, change, destroy)` as the summary line counts them.
    pub fn counts(&self) -> (usize, usize, usize) {
        let mut n = (0, 0, 0);
        for c in self.changes.iter().filter(|c| c.mode == Mode::Managed) {
            match c.action {
                Action::Create => n.0 += 1,
                Action::Update => n.1 += 1,
                Action::Delete => n.2 += 1,
                Action::DeleteThenCreate | Action::CreateThenDelete => {
                    n.0 += 1;
                    n.2 += 1;
                }
                _ => {}
            }
        }
        n
    }

    /// Does the plan change anything (resources, outputs, or state only)?
    pub fn has_changes(&self) -> bool {
        match self.mode {
            PlanMode::RefreshOnly => !self.drift.is_empty() || self.outputs.iter().any(output_changed),
            _ => self.effective().any(|c| c.mode == Mode::Managed) || self.outputs.iter().any(output_changed),
        }
    }
}

/// Has an output's value changed?
pub fn output_changed(o: &OutputChange) -> bool {
    match (&o.before, &o.after) {
        (Some(b), Some(a)) => !(a.is_wholly_known() && b.clone().unmark_deep().0.raw_equal(&a.clone().unmark_deep().0)),
        (None, None) => false,
        _ => true,
    }
}

/// A module instance path: `[("net", Some("a")), ("sub", None)]`.
pub type ModPath = Vec<(String, Option<IndexKey>)>;

/// `module.net["a"].module.sub`, or `None` for the root.
pub fn module_path_text(path: &ModPath) -> Option<String> {
    if path.is_empty() {
        return None;
    }
    let mut s = String::new();
    for (i, (name, key)) in path.iter().enumerate() {
        if i > 0 {
            s.push('.');
        }
        s.push_str("module.");
        s.push_str(name);
        if let Some(k) = key {
            s.push_str(&k.to_string());
        }
    }
    Some(s)
}

/// A resource instance address.
pub fn instance_addr(module: Option<&str>, mode: Mode, type_name: &str, name: &str, key: Option<&IndexKey>) -> String {
    let mut s = String::new();
    if let Some(m) = module {
        s.push_str(m);
        s.push('.');
    }
    if mode == Mode::Data {
        s.push_str("data.");
    }
    s.push_str(type_name);
    s.push('.');
    s.push_str(name);
    if let Some(k) = key {
        s.push_str(&k.to_string());
    }
    s
}

/// A change for the executor: what to do with one instance.
#[derive(Clone)]
pub struct Job {
    pub change: ResourceChange,
    pub provider: std::sync::Arc<dyn Provider>,
    /// The prior object (for updates, replacements and deletes).
    pub prior: Option<Value>,
    pub schema_version: u64,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("addr", &self.change.addr)
            .field("action", &self.change.action)
            .finish_non_exhaustive()
    }
}

/// Where the apply half of the walk sends work (`crate::apply`
/// implements it); planning has none.
pub trait Sink {
    /// The refreshed prior state the changes apply to (called once,
    /// before any change starts).
    fn begin(&mut self, refreshed: &State);
    /// Records a data source read during the walk (the job's change
    /// says which; its provider gives the schema).
    fn record(&mut self, job: Job, value: &Value);
    /// Starts a change.
    fn start(&mut self, job: Job);
    /// Waits until every started change whose address `matches` has
    /// landed; returns the new objects of those that succeeded (by
    /// address; `None` when deleted) and whether any failed.
    fn wait(&mut self, matches: &dyn Fn(&str) -> bool) -> (Vec<(String, Option<Value>)>, bool);
    /// Has the user interrupted the run (stop starting work)?
    fn interrupted(&self) -> bool;
}

/// Values of one module instance during the walk.
#[derive(Default)]
struct ModValues {
    vars: BTreeMap<String, Value>,
    locals: HashMap<String, Value>,
    /// Whole-resource values by config address (`null_resource.a`,
    /// `data.local_file.f`): an object, a tuple (count) or an object of
    /// objects (for_each).
    resources: HashMap<String, Value>,
    modules: HashMap<String, Value>,
    declared_resources: BTreeSet<String>,
    declared_modules: BTreeSet<String>,
    path_module: String,
    path_root: String,
    cwd: String,
    workspace: String,
}

struct ModScope<'v> {
    v: &'v ModValues,
}

impl Scope for ModScope<'_> {
    fn resolve(&self, root: &str, attrs: &[String], span: Option<Range<usize>>) -> Result<(Value, usize), Diagnostic> {
        let v = self.v;
        let first = attrs.first().map(String::as_str);
        match (root, first) {
            ("var", Some(n)) if v.vars.contains_key(n) => return Ok((v.vars[n].clone(), 1)),
            ("local", Some(n)) => {
                if let Some(x) = v.locals.get(n) {
                    return Ok((x.clone(), 1));
                }
            }
            ("module", Some(n)) if v.declared_modules.contains(n) => {
                return Ok((v.modules.get(n).cloned().unwrap_or(Value::Unknown(Type::Dynamic)), 1));
            }
            ("data", Some(t)) => {
                if let Some(n) = attrs.get(1) {
                    let addr = format!("data.{t}.{n}");
                    if v.declared_resources.contains(&addr) {
                        return Ok((v.resources.get(&addr).cloned().unwrap_or(Value::Unknown(Type::Dynamic)), 2));
                    }
                }
            }
            ("path", Some("module")) => return Ok((Value::string(v.path_module.clone()), 1)),
            ("path", Some("root")) => return Ok((Value::string(v.path_root.clone()), 1)),
            ("path", Some("cwd")) => return Ok((Value::string(v.cwd.clone()), 1)),
            ("terraform", Some("workspace")) => return Ok((Value::string(v.workspace.clone()), 1)),
            (t, Some(n))
                if !matches!(t, "var" | "local" | "module" | "path" | "terraform" | "count" | "each" | "self") =>
            {
                let addr = format!("{t}.{n}");
                if v.declared_resources.contains(&addr) {
                    return Ok((v.resources.get(&addr).cloned().unwrap_or(Value::Unknown(Type::Dynamic)), 1));
                }
            }
            _ => {}
        }
        undeclared(root, attrs, span, |_| None)
    }
}

/// Everything the walk needs from outside.
#[allow(missing_debug_implementations)]
pub struct WalkInput<'a> {
    pub config: &'a ModuleConfig,
    pub registry: &'a Registry,
    pub options: &'a PlanOptions,
    /// The root variables' values (already resolved with tfvars precedence).
    pub variables: BTreeMap<String, Value>,
    pub prior: State,
}

/// The walk over the module tree.
#[allow(missing_debug_implementations)]
pub struct Walker<'a> {
    input: WalkInput<'a>,
    /// The refreshed prior state (moved blocks applied), read by the walk.
    refreshed: State,
    /// Prior objects by instance address, typed, for quick lookup.
    prior_index: HashMap<String, (usize, usize)>,
    /// Instances the config still has (the rest are orphans).
    seen: BTreeSet<String>,
    plan: Plan,
    sink: Option<&'a mut dyn Sink>,
    /// Resources (by instance address prefix) with changes in this walk,
    /// for `replace_triggered_by`.
    changed: BTreeSet<String>,
    /// Config addresses in scope of `-target` (None: everything).
    targeted: Option<BTreeSet<String>>,
    /// Instances whose apply failed (dependents are skipped).
    failed: bool,
}

fn key_value(k: &Option<IndexKey>) -> Option<Value> {
    match k {
        None => None,
        Some(IndexKey::Int(i)) => Some(Value::int(*i)),
        Some(IndexKey::String(s)) => Some(Value::string(s.clone())),
    }
}

/// Instance keys with their `each.value`.
type Instances = Vec<(Option<IndexKey>, Option<Value>)>;

/// Expands `count`/`for_each` into instance keys (and each.value).
fn expand(
    count: Option<&Expression>,
    for_each: Option<&Expression>,
    scope: &dyn Scope,
    ctx: &FuncContext,
) -> Result<Instances, Diagnostic> {
    if let Some(e) = count {
        let v = Evaluator::new(scope, ctx).eval(e)?;
        let bad = |detail: &str| Diagnostic::new("Invalid count argument", detail, e.span());
        if v.is_unknown() {
            return Err(bad(
                "The \"count\" value depends on resource attributes that cannot be determined until apply, so Terraform cannot predict how many instances will be created. To work around this, use the -target argument to first apply only the resources that the count depends on.",
            ));
        }
        if v.is_null() {
            return Err(bad("The given \"count\" argument value is null. An integer is required."));
        }
        let n = convert(&v, &Type::Number)
            .ok()
            .and_then(|n| n.as_number().and_then(crate::number::Number::to_i64_exact))
            .ok_or_else(|| bad("The given \"count\" argument value is unsuitable: number required."))?;
        if n < 0 {
            return Err(bad(
                "The given \"count\" argument value is unsuitable: must be greater than or equal to zero.",
            ));
        }
        return Ok((0..n).map(|i| (Some(IndexKey::Int(i)), None)).collect());
    }
    if let Some(e) = for_each {
        let v = Evaluator::new(scope, ctx).eval(e)?;
        let bad = |detail: String| Diagnostic::new("Invalid for_each argument", detail, e.span());
        if v.is_marked() {
            return Err(bad("Sensitive values, or values derived from sensitive values, cannot be used as for_each arguments. If used, the sensitive value could be exposed as a resource instance key.".into()));
        }
        if v.is_null() {
            return Err(bad("The given \"for_each\" argument value is unsuitable: the given \"for_each\" argument value is null. A map, or set of strings is allowed.".into()));
        }
        if !v.is_wholly_known() && !matches!(v.unmarked(), Value::Map(..) | Value::Object(_)) || v.is_unknown() {
            return Err(bad("The \"for_each\" value depends on resource attributes that cannot be determined until apply, so Terraform cannot determine the full set of keys that will identify the instances of this resource.\n\nWhen working with unknown values in for_each, it's better to define the map keys statically in your configuration and place apply-time results only in the map values.\n\nAlternatively, you could use the -target planning option to first apply only the resources that the for_each value depends on, and then apply a second time to fully converge.".into()));
        }
        return match v.unmarked() {
            Value::Map(_, m) | Value::Object(m) => {
                Ok(m.iter().map(|(k, x)| (Some(IndexKey::String(k.clone())), Some(x.clone()))).collect())
            }
            Value::Set(t, items) => {
                if *t != Type::String && !items.is_empty() {
                    return Err(bad(format!(
                        "The given \"for_each\" argument value is unsuitable: \"for_each\" supports maps and sets of strings, but you have provided a set containing type {}.",
                        t.friendly_name()
                    )));
                }
                let mut out = Vec::new();
                for i in items {
                    match i.unmarked() {
                        Value::String(s) => out.push((Some(IndexKey::String(s.clone())), Some(i.clone()))),
                        Value::Null(_) => return Err(bad("The given \"for_each\" argument value is unsuitable: \"for_each\" sets must not contain null values.".into())),
                        _ => return Err(bad("The \"for_each\" set includes values derived from resource attributes that cannot be determined until apply, and so Terraform cannot determine the full set of keys that will identify the instances of this resource.".into())),
                    }
                }
                Ok(out)
            }
            other => Err(bad(format!(
                "The given \"for_each\" argument value is unsuitable: the \"for_each\" argument must be a map, or set of strings, and you have provided a value of type {}.",
                other.ty().friendly_name()
            ))),
        };
    }
    Ok(vec![(None, None)])
}

/// Evaluates a resource body against its schema into an object value.
fn eval_body(
    body: &Body,
    schema: &Schema,
    scope: &dyn Scope,
    ctx: &FuncContext,
    at: Option<Range<usize>>,
) -> Result<Value, Diagnostic> {
    let mut obj: BTreeMap<String, Value> = schema
        .attrs
        .iter()
        .map(|a| {
            let unset = if a.block.is_some() { a.default.clone() } else { None };
            (a.name.to_owned(), unset.unwrap_or_else(|| Value::Null(a.ty.clone())))
        })
        .collect();
    let mut seen = BTreeSet::new();
    for s in body.iter() {
        match s {
            Structure::Attribute(a) => {
                let name = a.key.value().as_str();
                let Some(attr) = schema.attr(name) else {
                    return Err(Diagnostic::new(
                        "Unsupported argument",
                        format!("An argument named \"{name}\" is not expected here."),
                        a.key.span(),
                    ));
                };
                if attr.computed && !attr.optional {
                    return Err(Diagnostic::new(
                        "Value for unconfigurable attribute",
                        format!(
                            "Can't configure a value for \"{name}\": its value will be decided automatically based on the result of applying this configuration."
                        ),
                        a.key.span(),
                    ));
                }
                let v = Evaluator::new(scope, ctx).eval(&a.value)?;
                let v = convert(&v, &attr.ty).map_err(|e| {
                    Diagnostic::new(
                        "Incorrect attribute value type",
                        format!("Inappropriate value for attribute \"{name}\": {}.", e.full()),
                        a.value.span(),
                    )
                })?;
                seen.insert(name.to_owned());
                obj.insert(name.to_owned(), v);
            }
            Structure::Block(b) if schema.attr(b.ident.value().as_str()).is_some_and(|a| a.block.is_some()) => {
                let name = b.ident.value().as_str();
                let Some(attr) = schema.attr(name) else { continue };
                let Some(inner) = attr.block.as_deref() else { continue };
                let item = eval_body(&b.body, inner, scope, ctx, b.ident.span())?;
                if let Some(Value::List(_, items)) = obj.get_mut(name) {
                    items.push(item);
                } else {
                    obj.insert(name.to_owned(), Value::List(inner.object_type(), vec![item]));
                }
                seen.insert(name.to_owned());
            }
            Structure::Block(b) => {
                let kind = if b.ident.value().as_str() == "dynamic" {
                    b.labels.first().map(|l| l.as_str().to_owned()).unwrap_or_default()
                } else {
                    b.ident.value().as_str().to_owned()
                };
                return Err(Diagnostic::new(
                    "Unsupported block type",
                    format!("Blocks of type \"{kind}\" are not expected here."),
                    b.ident.span(),
                ));
            }
        }
    }
    for a in &schema.attrs {
        if a.required && !seen.contains(a.name) {
            return Err(Diagnostic::new(
                "Missing required argument",
                format!("The argument \"{}\" is required, but no definition was found.", a.name),
                at.clone(),
            ));
        }
    }
    Ok(Value::Object(obj))
}

/// Every expression a block body holds (for its references).
fn body_exprs<'b>(body: &'b Body, out: &mut Vec<&'b Expression>) {
    for s in body.iter() {
        match s {
            Structure::Attribute(a) => out.push(&a.value),
            Structure::Block(b) => body_exprs(&b.body, out),
        }
    }
}

/// The config addresses of the resources and module calls `exprs` refer
/// to, and the locals (for transitive dependencies).
pub(crate) fn referenced(exprs: &[&Expression]) -> Vec<crate::refs::Reference> {
    exprs.iter().flat_map(|e| crate::refs::references(e)).collect()
}

/// Terraform's warning when a plan is made with `-target`.
const TARGET_PLAN_WARNING: (&str, &str) = (
    "Resource targeting is in effect",
    "You are creating a plan with the -target option, which means that the result of this plan may not represent all of the changes requested by the current configuration.\n\nThe -target option is not for routine use, and is provided only for exceptional situations such as recovering from errors or mistakes, or when cloudlet specifically suggests to use it as part of an error message.",
);

/// Terraform's warning after an apply made with `-target`.
const TARGET_APPLY_WARNING: (&str, &str) = (
    "Applied changes may be incomplete",
    "The plan was created with the -target option in effect, so some changes requested in the configuration may have been ignored and the output values may not be fully updated. Run the following command to verify that no other changes are pending:\n    cloudlet infra plan\n\nNote that the -target option is not suitable for routine use, and is provided only for exceptional situations such as recovering from errors or mistakes, or when cloudlet specifically suggests to use it as part of an error message.",
);

/// Does `pattern` (a `-target`/`-replace` address) select `addr`?
pub fn addr_matches(pattern: &str, addr: &str) -> bool {
    addr == pattern || addr.strip_prefix(pattern).is_some_and(|rest| rest.starts_with('[') || rest.starts_with('.'))
}

impl<'a> Walker<'a> {
    /// A walk over `input`; with a `sink` it applies as it goes.
    pub fn new(input: WalkInput<'a>, sink: Option<&'a mut dyn Sink>) -> Walker<'a> {
        let prior = input.prior.clone();
        let mode = input.options.mode;
        Walker {
            refreshed: prior.clone(),
            prior_index: HashMap::new(),
            seen: BTreeSet::new(),
            plan: Plan { mode, prior, variables: input.variables.clone(), ..Plan::default() },
            input,
            sink,
            changed: BTreeSet::new(),
            targeted: None,
            failed: false,
        }
    }

    fn reindex(&mut self) {
        self.prior_index.clear();
        for (ri, r) in self.refreshed.resources.iter().enumerate() {
            for (ii, inst) in r.instances.iter().enumerate() {
                if inst.deposed.is_none() {
                    self.prior_index.insert(r.instance_address(inst.index_key.as_ref()), (ri, ii));
                }
            }
        }
    }

    /// The prior object of an instance, typed by the schema, with its
    /// sensitive marks.
    fn prior_object(&self, addr: &str, ty: &Type) -> Option<(Value, &InstanceState)> {
        let (ri, ii) = *self.prior_index.get(addr)?;
        let inst = &self.refreshed.resources[ri].instances[ii];
        let v = values::from_json(&serde_json::Value::Object(inst.attributes.clone()), ty);
        Some((values::apply_sensitive_paths(v, &inst.sensitive_attributes), inst))
    }

    /// Runs the walk: moved blocks, refresh, the module tree, orphans,
    /// outputs. Returns the plan (and, when applying, the sink has done
    /// the work).
    pub fn run(mut self) -> Plan {
        self.apply_moved();
        self.reindex();
        if !self.input.options.skip_refresh && self.input.options.mode != PlanMode::Destroy
            || self.input.options.mode == PlanMode::RefreshOnly
        {
            self.refresh();
        }
        self.reindex();
        if !self.input.options.targets.is_empty() {
            self.targeted = Some(self.targets_closure());
        }
        if let Some(sink) = self.sink.as_deref_mut() {
            sink.begin(&self.refreshed);
        }
        if !self.plan.errors.is_empty() {
            self.plan.refreshed = self.refreshed.clone();
            return self.plan;
        }
        let config = self.input.config;
        match self.input.options.mode {
            PlanMode::Destroy => {
                self.orphans(true);
                for name in self.refreshed.outputs.keys() {
                    let before = Some(values::from_json(
                        &self.refreshed.outputs[name].value,
                        &values::type_from_json(&self.refreshed.outputs[name].type_).unwrap_or(Type::Dynamic),
                    ));
                    self.plan.outputs.push(OutputChange {
                        name: name.clone(),
                        before,
                        after: None,
                        sensitive: self.refreshed.outputs[name].sensitive,
                    });
                }
            }
            PlanMode::Normal | PlanMode::RefreshOnly => {
                let vars = self.input.variables.clone();
                let root = config.dir.clone();
                self.walk_module(config, &Vec::new(), vars, &root);
                if self.input.options.mode == PlanMode::Normal && self.plan.errors.is_empty() {
                    self.orphans(false);
                }
                if self.input.options.mode == PlanMode::RefreshOnly {
                    // Nothing is changed: the refreshed objects stay.
                    self.plan.changes.retain(|c| c.action == Action::Read || c.action == Action::NoOp);
                }
            }
        }
        if !self.input.options.targets.is_empty() {
            let text = if self.sink.is_some() { TARGET_APPLY_WARNING } else { TARGET_PLAN_WARNING };
            let rendered = Diagnostic::new(text.0, text.1, None).render_plain("", None);
            // One blank line before what follows, as Terraform leaves it.
            self.plan.warnings.push_str(rendered.replacen("\nError: ", "\nWarning: ", 1).trim_end_matches('\n'));
            self.plan.warnings.push('\n');
        }
        self.plan.refreshed = self.refreshed.clone();
        self.plan
    }

    /// `moved` blocks of the root module rewrite prior addresses.
    fn apply_moved(&mut self) {
        for mv in &self.input.config.moved {
            let exists = |s: &State, addr: &str| s.resources.iter().any(|r| r.address() == addr);
            if exists(&self.refreshed, &mv.to) {
                continue;
            }
            let (Some((ft, fname)), Some((tt, tname))) = (split_addr(&mv.from), split_addr(&mv.to)) else { continue };
            for r in &mut self.refreshed.resources {
                if r.module.is_none() && r.mode == Mode::Managed && r.type_ == ft && r.name == fname {
                    r.type_ = tt.clone();
                    r.name = tname.clone();
                    r.extra.insert("cloudlet_moved_from".into(), serde_json::Value::String(mv.from.clone()));
                }
            }
        }
    }

    /// Reads every managed object again through its provider; differences
    /// become drift.
    fn refresh(&mut self) {
        let registry = self.input.registry;
        for ri in 0..self.refreshed.resources.len() {
            let r = &self.refreshed.resources[ri];
            if r.mode != Mode::Managed {
                continue;
            }
            let Some(provider) = registry.for_type(&r.type_) else { continue };
            let Some(schema) = provider.schema(Mode::Managed, &r.type_) else { continue };
            let ty = schema.object_type();
            let mut ii = 0;
            while ii < self.refreshed.resources[ri].instances.len() {
                let r = &self.refreshed.resources[ri];
                let inst = &r.instances[ii];
                let addr = r.instance_address(inst.index_key.as_ref());
                let before = values::apply_sensitive_paths(
                    values::from_json(&serde_json::Value::Object(inst.attributes.clone()), &ty),
                    &inst.sensitive_attributes,
                );
                match provider.read(&r.type_, &before) {
                    Ok(Some(after)) => {
                        let same = after.clone().unmark_deep().0.raw_equal(&before.clone().unmark_deep().0);
                        if !same {
                            let change = self.drift_change(
                                ri,
                                ii,
                                &addr,
                                Action::Update,
                                Some(before),
                                Some(after.clone()),
                                &ty,
                            );
                            self.plan.drift.push(change);
                            let inst = &mut self.refreshed.resources[ri].instances[ii];
                            inst.attributes = object_json(&after, schema);
                        }
                        ii += 1;
                    }
                    Ok(None) => {
                        let change = self.drift_change(ri, ii, &addr, Action::Delete, Some(before), None, &ty);
                        self.plan.drift.push(change);
                        self.refreshed.resources[ri].instances.remove(ii);
                    }
                    Err(e) => {
                        self.plan.errors.push_str(&Diagnostic::new(e.summary, e.detail, None).render_plain("", None));
                        ii += 1;
                    }
                }
            }
        }
        self.refreshed.resources.retain(|r| !r.instances.is_empty());
    }

    #[allow(clippy::too_many_arguments)]
    fn drift_change(
        &self,
        ri: usize,
        ii: usize,
        addr: &str,
        action: Action,
        before: Option<Value>,
        after: Option<Value>,
        ty: &Type,
    ) -> ResourceChange {
        let r = &self.refreshed.resources[ri];
        let inst = &r.instances[ii];
        ResourceChange {
            addr: addr.to_owned(),
            module: r.module.clone(),
            mode: r.mode,
            type_name: r.type_.clone(),
            name: r.name.clone(),
            key: inst.index_key.clone(),
            provider: r.provider.clone(),
            action,
            before,
            after,
            replace_paths: Vec::new(),
            reason: None,
            dependencies: inst.dependencies.clone(),
            previous_addr: None,
            ty: ty.clone(),
            create_before_destroy: inst.create_before_destroy,
        }
    }

    /// The config addresses `-target` selects and everything they depend
    /// on (root module).
    fn targets_closure(&self) -> BTreeSet<String> {
        let config = self.input.config;
        let mut out: BTreeSet<String> = BTreeSet::new();
        let mut todo: Vec<String> = Vec::new();
        for t in &self.input.options.targets {
            let base = t.split('[').next().unwrap_or(t).to_owned();
            todo.push(base);
        }
        while let Some(addr) = todo.pop() {
            if !out.insert(addr.clone()) {
                continue;
            }
            let mut exprs: Vec<&Expression> = Vec::new();
            if let Some(r) = config.resources.iter().find(|r| r.addr() == addr) {
                body_exprs(&r.body, &mut exprs);
                exprs.extend(r.count.iter());
                exprs.extend(r.for_each.iter());
                todo.extend(r.depends_on.iter().cloned());
            } else if let Some(m) = config.module_calls.iter().find(|m| format!("module.{}", m.name) == addr) {
                exprs.extend(m.args.values());
                exprs.extend(m.count.iter());
                exprs.extend(m.for_each.iter());
            } else if let Some(name) = addr.strip_prefix("local.") {
                exprs.extend(config.locals.get(name).map(|(_, e)| e));
            }
            for r in referenced(&exprs) {
                match (r.root.as_str(), r.attrs.first(), r.attrs.get(1)) {
                    ("local", Some(n), _) => todo.push(format!("local.{n}")),
                    ("module", Some(n), _) => todo.push(format!("module.{n}")),
                    ("data", Some(t), Some(n)) => todo.push(format!("data.{t}.{n}")),
                    ("var" | "path" | "terraform" | "count" | "each" | "self", _, _) => {}
                    (t, Some(n), _) => todo.push(format!("{t}.{n}")),
                    _ => {}
                }
            }
        }
        out
    }

    fn in_target(&self, path: &ModPath, addr: &str) -> bool {
        let Some(t) = &self.targeted else { return true };
        match path.first() {
            None => t.contains(addr),
            Some((m, _)) => t.contains(&format!("module.{m}")),
        }
    }

    fn error(&mut self, m: &ModuleConfig, file: usize, context: &str, at: usize, d: &Diagnostic) {
        let f = &m.files[file];
        let root = &self.input.config.dir;
        let name =
            f.path.strip_prefix(root).map_or_else(|_| crate::decode::file_name(&f.path), |p| p.display().to_string());
        self.plan.errors.push_str(&crate::decode::render_named(f, &name, Some(context), Some(at), d));
    }

    /// Walks one module instance; returns its outputs as an object.
    fn walk_module(
        &mut self,
        m: &'a ModuleConfig,
        path: &ModPath,
        vars: BTreeMap<String, Value>,
        root_dir: &Path,
    ) -> Value {
        let graph = match Graph::build(m) {
            Ok(g) => g,
            Err(d) => {
                self.plan.errors.push_str(&d.render_plain("", None));
                return Value::Unknown(Type::Dynamic);
            }
        };
        let rel = |p: &Path| -> String {
            let r = p.strip_prefix(root_dir).map_or_else(|_| p.display().to_string(), |r| r.display().to_string());
            if r.is_empty() { ".".to_owned() } else { r }
        };
        let mut mv = ModValues {
            vars,
            declared_resources: m.resources.iter().map(ResourceConfig::addr).collect(),
            declared_modules: m.module_calls.iter().map(|c| c.name.clone()).collect(),
            path_module: rel(&m.dir),
            path_root: ".".into(),
            cwd: root_dir.display().to_string(),
            workspace: if self.input.options.workspace.is_empty() {
                "default".into()
            } else {
                self.input.options.workspace.clone()
            },
            ..ModValues::default()
        };
        // Relative paths in functions are relative to the working
        // directory (the root module), as in Terraform; `path.module`
        // gives a module's own directory.
        let ctx = FuncContext {
            base_dir: root_dir.to_path_buf(),
            planning: self.sink.is_none(),
            now_rfc3339: self.input.options.now_rfc3339.clone(),
            console: false,
        };
        let module_text = module_path_text(path);
        let mut outputs = BTreeMap::new();
        for node in graph.order() {
            if self.sink.as_ref().is_some_and(|s| s.interrupted()) {
                break;
            }
            match graph.kind(node) {
                NodeKind::Local(name) => {
                    let Some((file, expr)) = m.locals.get(name) else { continue };
                    self.wait_for_refs(&graph, node, module_text.as_deref(), &mut mv);
                    let v = match Evaluator::new(&ModScope { v: &mv }, &ctx).eval(expr) {
                        Ok(v) => v,
                        Err(d) => {
                            let at = expr.span().map_or(0, |s| s.start);
                            self.error(m, *file, "locals", at, &d);
                            Value::Unknown(Type::Dynamic)
                        }
                    };
                    mv.locals.insert(name.clone(), v);
                }
                NodeKind::Resource(i) => {
                    let r = &m.resources[*i];
                    self.wait_for_refs(&graph, node, module_text.as_deref(), &mut mv);
                    let v = self.walk_resource(m, r, path, module_text.as_deref(), &mv, &ctx, &graph, node);
                    mv.resources.insert(r.addr(), v);
                }
                NodeKind::ModuleCall(i) => {
                    let call = &m.module_calls[*i];
                    self.wait_for_refs(&graph, node, module_text.as_deref(), &mut mv);
                    let v = self.walk_call(m, call, path, &mv, &ctx, root_dir);
                    mv.modules.insert(call.name.clone(), v);
                }
                NodeKind::Output(i) => {
                    let o = &m.outputs[*i];
                    self.wait_for_refs(&graph, node, module_text.as_deref(), &mut mv);
                    let scope = ModScope { v: &mv };
                    let mut v = match Evaluator::new(&scope, &ctx).eval(&o.value) {
                        Ok(v) => v,
                        Err(d) => {
                            let ctx_name = format!("output \"{}\"", o.name);
                            self.error(m, o.file, &ctx_name, o.at, &d);
                            Value::Unknown(Type::Dynamic)
                        }
                    };
                    for (cond, msg) in &o.preconditions {
                        if let Err(d) =
                            check_condition(cond, msg, &scope, &ctx, "Module output value precondition failed")
                        {
                            let ctx_name = format!("output \"{}\"", o.name);
                            self.error(m, o.file, &ctx_name, o.at, &d);
                        }
                    }
                    if path.is_empty() && v.has_marks_deep() && !o.sensitive {
                        let d = Diagnostic::new(
                            "Output refers to sensitive values",
                            "To reduce the risk of accidentally exporting sensitive data that was intended to be only internal, Terraform requires that any root module output containing sensitive data be explicitly marked as sensitive, to confirm your intent.\n\nIf you do intend to export this data, annotate the output value as sensitive by adding the following argument:\n    sensitive = true",
                            o.value.span(),
                        );
                        let ctx_name = format!("output \"{}\"", o.name);
                        self.error(m, o.file, &ctx_name, o.at, &d);
                    }
                    if o.sensitive {
                        v = v.mark_if(true);
                    }
                    if path.is_empty() {
                        let before = self.refreshed.outputs.get(&o.name).map(|s| {
                            values::from_json(&s.value, &values::type_from_json(&s.type_).unwrap_or(Type::Dynamic))
                                .mark_if(s.sensitive)
                        });
                        self.plan.outputs.push(OutputChange {
                            name: o.name.clone(),
                            before,
                            after: Some(v.clone()),
                            sensitive: o.sensitive,
                        });
                    }
                    outputs.insert(o.name.clone(), v);
                }
            }
        }
        if path.is_empty() {
            self.checks(m, &mv, &ctx);
        }
        Value::Object(outputs)
    }

    fn checks(&mut self, m: &ModuleConfig, mv: &ModValues, ctx: &FuncContext) {
        for c in &m.checks {
            for (cond, msg) in &c.asserts {
                let scope = ModScope { v: mv };
                if let Err(d) = check_condition(cond, msg, &scope, ctx, "Check block assertion failed") {
                    let text = d.render_plain("", None).replacen("\nError: ", "\nWarning: ", 1);
                    self.plan.warnings.push_str(&text);
                }
            }
        }
    }

    /// In an apply, waits until the resources and modules a node refers
    /// to (and its `depends_on`) have landed, and refreshes their values.
    fn wait_for_refs(&mut self, graph: &Graph, node: NodeId, module: Option<&str>, mv: &mut ModValues) {
        let Some(sink) = self.sink.as_deref_mut() else { return };
        let prefixes: Vec<String> = graph
            .resource_deps(node)
            .iter()
            .map(|a| match module {
                Some(m) => format!("{m}.{a}"),
                None => a.clone(),
            })
            .collect();
        if prefixes.is_empty() {
            return;
        }
        let (landed, failed) = sink.wait(&|addr: &str| prefixes.iter().any(|p| addr_matches(p, addr)));
        if failed {
            self.failed = true;
        }
        if landed.is_empty() {
            return;
        }
        // Rebuild the whole-resource values of what landed.
        let touched: BTreeSet<String> =
            landed.iter().filter_map(|(addr, _)| prefixes.iter().find(|p| addr_matches(p, addr)).cloned()).collect();
        for p in touched {
            let local = match module {
                Some(m) => p.strip_prefix(&format!("{m}.")).unwrap_or(&p).to_owned(),
                None => p.clone(),
            };
            if let Some(v) = mv.resources.get_mut(&local) {
                for (addr, new) in &landed {
                    if !addr_matches(&p, addr) {
                        continue;
                    }
                    let key = &addr[p.len()..];
                    let new = new.clone().unwrap_or(Value::Null(Type::Dynamic));
                    replace_instance(v, key, new);
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn walk_resource(
        &mut self,
        m: &ModuleConfig,
        r: &ResourceConfig,
        path: &ModPath,
        module: Option<&str>,
        mv: &ModValues,
        ctx: &FuncContext,
        graph: &Graph,
        node: NodeId,
    ) -> Value {
        let context = r.context();
        let registry = self.input.registry;
        let Some(provider) = registry.for_type(&r.type_name) else {
            let d = Diagnostic::new(
                "Missing required provider",
                format!(
                    "This configuration requires a provider for the resource type \"{}\", and cloudlet has no such provider built in.",
                    r.type_name
                ),
                None,
            );
            self.error(m, r.file, &context, r.at, &d);
            return Value::Unknown(Type::Dynamic);
        };
        let Some(schema) = provider.schema(r.mode, &r.type_name) else {
            let kind = if r.mode == Mode::Managed { "resource type" } else { "data source" };
            let d = Diagnostic::new(
                format!("Invalid {kind}"),
                format!(
                    "The provider {} does not support {kind} \"{}\".",
                    provider.source().trim_start_matches("registry.terraform.io/"),
                    r.type_name
                ),
                None,
            );
            self.error(m, r.file, &context, r.at, &d);
            return Value::Unknown(Type::Dynamic);
        };
        let ty = schema.object_type();
        let scope = ModScope { v: mv };
        let keys = match expand(r.count.as_ref(), r.for_each.as_ref(), &scope, ctx) {
            Ok(k) => k,
            Err(d) => {
                self.error(m, r.file, &context, r.at, &d);
                return Value::Unknown(Type::Dynamic);
            }
        };
        let state_provider = match module {
            Some(mp) => format!("{mp}.{}", crate::providers::provider_addr(provider.source())),
            None => crate::providers::provider_addr(provider.source()),
        };
        let dependencies = graph.transitive_resource_deps(node);
        let targeted = self.in_target(path, &r.addr());
        let mut instances: Vec<(Option<IndexKey>, Value)> = Vec::new();
        for (key, each) in keys {
            let addr = instance_addr(module, r.mode, &r.type_name, &r.name, key.as_ref());
            self.seen.insert(addr.clone());
            let prior = self.prior_object(&addr, &ty);
            let prior_value = prior.as_ref().map(|(v, _)| v.clone());
            let prior_tainted = prior.as_ref().is_some_and(|(_, i)| i.status.as_deref() == Some("tainted"));
            let prior_schema_version = prior.as_ref().map_or(schema.version, |(_, i)| i.schema_version);
            let moved_from = self
                .prior_index
                .get(&addr)
                .and_then(|(ri, _)| self.refreshed.resources[*ri].extra.get("cloudlet_moved_from"))
                .and_then(|v| v.as_str())
                .map(|from| format!("{from}{}", key.as_ref().map(ToString::to_string).unwrap_or_default()));
            if !targeted {
                instances.push((key, prior_value.unwrap_or(Value::Unknown(ty.clone()))));
                continue;
            }
            let inst_scope = InstanceScope {
                parent: &scope,
                count_index: match &key {
                    Some(IndexKey::Int(i)) if r.count.is_some() => Some(*i),
                    _ => None,
                },
                each: if r.for_each.is_some() { key_value(&key).zip(each.clone()) } else { None },
            };
            for (cond, msg) in &r.conditions {
                if let Err(d) = check_condition(cond, msg, &inst_scope, ctx, "Resource precondition failed") {
                    self.error(m, r.file, &context, r.at, &d);
                }
            }
            let at = r.at..r.at;
            let config = match eval_body(&r.body, schema, &inst_scope, ctx, Some(at)) {
                Ok(c) => c,
                Err(d) => {
                    self.error(m, r.file, &context, r.at, &d);
                    instances.push((key, Value::Unknown(ty.clone())));
                    continue;
                }
            };
            if config.is_wholly_known()
                && let Err(e) = provider.validate(&r.type_name, &config)
            {
                let d = Diagnostic::new(e.summary, e.detail, None);
                self.error(m, r.file, &context, r.at, &d);
                instances.push((key, Value::Unknown(ty.clone())));
                continue;
            }
            let mut change = ResourceChange {
                addr: addr.clone(),
                module: module.map(str::to_owned),
                mode: r.mode,
                type_name: r.type_name.clone(),
                name: r.name.clone(),
                key: key.clone(),
                provider: state_provider.clone(),
                action: Action::NoOp,
                before: prior_value.clone(),
                after: None,
                replace_paths: Vec::new(),
                reason: None,
                dependencies: dependencies.clone(),
                previous_addr: moved_from,
                ty: ty.clone(),
                create_before_destroy: r.lifecycle.create_before_destroy,
            };
            if r.mode == Mode::Data {
                let value = if config.is_wholly_known() && !self.depends_on_pending(r, module) {
                    match provider.read_data(&r.type_name, &config) {
                        Ok(v) => {
                            change.action = Action::NoOp;
                            v
                        }
                        Err(e) => {
                            let d = Diagnostic::new(e.summary, e.detail, None);
                            self.error(m, r.file, &context, r.at, &d);
                            Value::Unknown(ty.clone())
                        }
                    }
                } else {
                    change.action = Action::Read;
                    let mut planned = crate::providers::plan_from_schema(schema, None, &config).planned;
                    if let Value::Object(o) = &mut planned {
                        for a in &schema.attrs {
                            if a.computed && o.get(a.name).is_some_and(Value::is_null) {
                                o.insert(a.name.to_owned(), Value::Unknown(a.ty.clone()));
                            }
                        }
                    }
                    planned
                };
                change.before = None;
                change.after = Some(value.clone());
                if change.action == Action::NoOp
                    && let Some(sink) = self.sink.as_deref_mut()
                {
                    sink.record(
                        Job { change: change.clone(), provider: provider.clone(), prior: None, schema_version: 0 },
                        &value,
                    );
                }
                self.plan.changes.push(change);
                instances.push((key, value));
                continue;
            }
            if self.input.options.mode == PlanMode::RefreshOnly {
                instances.push((key, prior_value.unwrap_or(Value::Unknown(ty.clone()))));
                continue;
            }
            // ignore_changes: the prior values win for those attributes.
            let mut config = config;
            if let Some(p) = &prior_value {
                let names: Vec<String> = if r.lifecycle.ignore_all {
                    schema.attrs.iter().map(|a| a.name.to_owned()).collect()
                } else {
                    r.lifecycle
                        .ignore_changes
                        .iter()
                        .map(|n| n.split(['.', '[']).next().unwrap_or(n).to_owned())
                        .collect()
                };
                for n in names {
                    if let Some(pv) = crate::providers::get(p, &n) {
                        crate::providers::set(&mut config, &n, pv.clone());
                    }
                }
            }
            let planned = match provider.plan_change(&r.type_name, prior_value.as_ref(), &config) {
                Ok(p) => p,
                Err(e) => {
                    let d = Diagnostic::new(e.summary, e.detail, None);
                    self.error(m, r.file, &context, r.at, &d);
                    instances.push((key, Value::Unknown(ty.clone())));
                    continue;
                }
            };
            let forced = self.input.options.replace.iter().any(|p| p == &addr || (key.is_none() && p == &r.addr()));
            let triggered = self.replace_triggered(r, &inst_scope, ctx, module);
            let mut planned = planned;
            let replace_anyway = forced || prior_tainted || triggered;
            if prior_value.is_some() && replace_anyway && planned.requires_replace.is_empty() {
                // A replacement the provider did not ask for plans as a
                // fresh object.
                match provider.plan_change(&r.type_name, None, &config) {
                    Ok(fresh) => planned.planned = fresh.planned,
                    Err(e) => {
                        let d = Diagnostic::new(e.summary, e.detail, None);
                        self.error(m, r.file, &context, r.at, &d);
                    }
                }
            }
            change.after = Some(planned.planned.clone());
            change.action = match &prior_value {
                None => Action::Create,
                Some(p) => {
                    let replace = !planned.requires_replace.is_empty() || forced || prior_tainted || triggered;
                    if replace {
                        change.replace_paths = planned.requires_replace.clone();
                        change.reason = Some(if prior_tainted {
                            "replace_because_tainted"
                        } else if forced {
                            "replace_by_request"
                        } else if triggered {
                            "replace_by_triggers"
                        } else {
                            "replace_because_cannot_update"
                        });
                        if r.lifecycle.create_before_destroy {
                            Action::CreateThenDelete
                        } else {
                            Action::DeleteThenCreate
                        }
                    } else if p.clone().unmark_deep().0.raw_equal(&planned.planned.clone().unmark_deep().0) {
                        Action::NoOp
                    } else {
                        Action::Update
                    }
                }
            };
            if change.action.is_replace() && r.lifecycle.prevent_destroy {
                let d = Diagnostic::new(
                    "Instance cannot be destroyed",
                    format!(
                        "Resource {addr} has lifecycle.prevent_destroy set, but the plan calls for this resource to be destroyed. To avoid this error and continue with the plan, either disable lifecycle.prevent_destroy or reduce the scope of the plan using the -target flag."
                    ),
                    None,
                );
                self.error(m, r.file, &context, r.at, &d);
            }
            if change.action != Action::NoOp {
                self.changed.insert(addr.clone());
            }
            let value = match change.action {
                Action::NoOp => prior_value.clone().unwrap_or(planned.planned.clone()),
                _ => planned.planned.clone(),
            };
            self.dispatch(&change, provider.clone(), prior_value.clone(), prior_schema_version);
            self.plan.changes.push(change);
            instances.push((key, value));
        }
        aggregate(r.count.is_some(), r.for_each.is_some(), instances)
    }

    /// Is a `depends_on` target of a data source changing in this walk?
    fn depends_on_pending(&self, r: &ResourceConfig, module: Option<&str>) -> bool {
        r.depends_on.iter().any(|d| {
            let full = match module {
                Some(m) => format!("{m}.{d}"),
                None => d.clone(),
            };
            self.changed.iter().any(|c| addr_matches(&full, c)) && self.sink.is_none()
        })
    }

    fn replace_triggered(
        &self,
        r: &ResourceConfig,
        scope: &dyn Scope,
        _ctx: &FuncContext,
        module: Option<&str>,
    ) -> bool {
        let _ = scope;
        r.lifecycle.replace_triggered_by.iter().any(|e| {
            let Some(text) = crate::decode::traversal_text(e) else { return false };
            // `null_resource.a` or `null_resource.a[0]` or `.attr` after.
            let parts: Vec<&str> = text.splitn(3, '.').collect();
            let base = if parts.len() >= 2 { format!("{}.{}", parts[0], parts[1]) } else { text.clone() };
            let full = match module {
                Some(m) => format!("{m}.{base}"),
                None => base,
            };
            self.changed.iter().any(|c| addr_matches(&full, c))
        })
    }

    /// Hands a change to the executor (apply) — nothing while planning.
    fn dispatch(
        &mut self,
        change: &ResourceChange,
        provider: std::sync::Arc<dyn Provider>,
        prior: Option<Value>,
        schema_version: u64,
    ) {
        if change.action == Action::NoOp || change.action == Action::Read && change.mode == Mode::Managed {
            return;
        }
        if self.failed {
            return;
        }
        if let Some(sink) = self.sink.as_deref_mut() {
            sink.start(Job { change: change.clone(), provider, prior, schema_version });
        }
    }

    fn walk_call(
        &mut self,
        m: &'a ModuleConfig,
        call: &'a ModuleCall,
        path: &ModPath,
        mv: &ModValues,
        ctx: &FuncContext,
        root_dir: &Path,
    ) -> Value {
        let scope = ModScope { v: mv };
        let context = format!("module \"{}\"", call.name);
        let keys = match expand(call.count.as_ref(), call.for_each.as_ref(), &scope, ctx) {
            Ok(k) => k,
            Err(d) => {
                self.error(m, call.file, &context, call.at, &d);
                return Value::Unknown(Type::Dynamic);
            }
        };
        let mut instances = Vec::new();
        for (key, each) in keys {
            let inst_scope = InstanceScope {
                parent: &scope,
                count_index: match &key {
                    Some(IndexKey::Int(i)) if call.count.is_some() => Some(*i),
                    _ => None,
                },
                each: if call.for_each.is_some() { key_value(&key).zip(each.clone()) } else { None },
            };
            let mut vars = BTreeMap::new();
            let mut ok = true;
            for (name, decl) in &call.module.variables {
                let v = match call.args.get(name) {
                    Some(e) => match Evaluator::new(&inst_scope, ctx).eval(e) {
                        Ok(v) => v,
                        Err(d) => {
                            self.error(m, call.file, &context, call.at, &d);
                            ok = false;
                            continue;
                        }
                    },
                    None => match &decl.default {
                        Some(e) => Evaluator::new(&crate::eval::EmptyScope::default(), ctx)
                            .eval(e)
                            .unwrap_or(Value::Null(decl.ty.clone())),
                        None => Value::Null(decl.ty.clone()),
                    },
                };
                let v = if v.is_null() && !decl.nullable {
                    decl.default
                        .as_ref()
                        .and_then(|e| Evaluator::new(&crate::eval::EmptyScope::default(), ctx).eval(e).ok())
                        .unwrap_or(v)
                } else {
                    v
                };
                match convert(&v, &decl.ty) {
                    Ok(v) => {
                        vars.insert(name.clone(), v.mark_if(decl.sensitive));
                    }
                    Err(e) => {
                        let d = Diagnostic::new(
                            "Invalid value for module argument",
                            format!(
                                "The given value is not suitable for child module variable \"{name}\" defined at {}: {}.",
                                call.module.dir.display(),
                                e.full()
                            ),
                            call.args.get(name).and_then(|e| e.span()),
                        );
                        self.error(m, call.file, &context, call.at, &d);
                        ok = false;
                    }
                }
            }
            if !ok {
                instances.push((key, Value::Unknown(Type::Dynamic)));
                continue;
            }
            let mut child = path.clone();
            child.push((call.name.clone(), key.clone()));
            let out = self.walk_module(&call.module, &child, vars, root_dir);
            instances.push((key, out));
        }
        aggregate(call.count.is_some(), call.for_each.is_some(), instances)
    }

    /// Objects in state the configuration no longer has (or everything,
    /// for destroy) are deleted.
    fn orphans(&mut self, all: bool) {
        let registry = self.input.registry;
        let mut deletes = Vec::new();
        for r in &self.refreshed.resources {
            for inst in &r.instances {
                let addr = r.instance_address(inst.index_key.as_ref());
                if inst.deposed.is_some() || (!all && self.seen.contains(&addr)) {
                    continue;
                }
                if let Some(t) = &self.targeted
                    && !t.contains(&r.address())
                    && !t.iter().any(|x| addr_matches(x, &addr))
                {
                    continue;
                }
                if self.input.config.removed.iter().any(|x| addr_matches(x, &addr)) {
                    continue;
                }
                let Some(provider) = registry.for_type(&r.type_) else { continue };
                let Some(schema) = provider.schema(r.mode, &r.type_) else { continue };
                let ty = schema.object_type();
                let before = values::apply_sensitive_paths(
                    values::from_json(&serde_json::Value::Object(inst.attributes.clone()), &ty),
                    &inst.sensitive_attributes,
                );
                if r.mode == Mode::Data {
                    continue;
                }
                let change = ResourceChange {
                    addr: addr.clone(),
                    module: r.module.clone(),
                    mode: r.mode,
                    type_name: r.type_.clone(),
                    name: r.name.clone(),
                    key: inst.index_key.clone(),
                    provider: r.provider.clone(),
                    action: Action::Delete,
                    before: Some(before.clone()),
                    after: None,
                    replace_paths: Vec::new(),
                    reason: if all { None } else { Some("delete_because_no_resource_config") },
                    dependencies: inst.dependencies.clone(),
                    previous_addr: None,
                    ty,
                    create_before_destroy: inst.create_before_destroy,
                };
                deletes.push((change, provider, before, inst.schema_version));
            }
        }
        // prevent_destroy on orphans still configured (destroy mode).
        for (change, _, _, _) in &deletes {
            if let Some(rc) = self.input.config.resources.iter().find(|rc| {
                change.module.is_none()
                    && rc.addr() == instance_addr(None, change.mode, &change.type_name, &change.name, None)
            }) && rc.lifecycle.prevent_destroy
            {
                let d = Diagnostic::new(
                    "Instance cannot be destroyed",
                    format!(
                        "Resource {} has lifecycle.prevent_destroy set, but the plan calls for this resource to be destroyed. To avoid this error and continue with the plan, either disable lifecycle.prevent_destroy or reduce the scope of the plan using the -target flag.",
                        change.addr
                    ),
                    None,
                );
                let m = self.input.config;
                self.error(m, rc.file, &rc.context(), rc.at, &d);
            }
        }
        if !self.plan.errors.is_empty() {
            return;
        }
        // Dependents are deleted before what they depend on: order by
        // depth in the dependency relation, deepest first.
        let order = delete_order(&deletes.iter().map(|(c, ..)| c.clone()).collect::<Vec<_>>());
        for level in order {
            if let Some(sink) = self.sink.as_deref_mut() {
                // Wait for the previous level to land first.
                let (_, failed) = sink.wait(&|_| true);
                if failed {
                    self.failed = true;
                }
            }
            for i in level {
                let (change, provider, before, sv) = deletes[i].clone();
                self.dispatch(&change, provider, Some(before), sv);
                self.plan.changes.push(change);
            }
        }
    }
}

/// Replaces the instance at `key` (`""`, `[0]`, `["a"]`) of a
/// whole-resource value.
fn replace_instance(whole: &mut Value, key: &str, new: Value) {
    if key.is_empty() {
        *whole = new;
        return;
    }
    let inner = &key[1..key.len().saturating_sub(1)];
    match whole {
        Value::Tuple(items) => {
            if let Ok(i) = inner.parse::<usize>()
                && let Some(slot) = items.get_mut(i)
            {
                *slot = new;
            }
        }
        Value::Object(m) => {
            if let Ok(k) = serde_json::from_str::<String>(inner) {
                m.insert(k, new);
            }
        }
        _ => {}
    }
}

/// Levels of deletions: level 0 holds the objects nothing else in the
/// set depends on.
fn delete_order(changes: &[ResourceChange]) -> Vec<Vec<usize>> {
    let config_addr = |c: &ResourceChange| match &c.module {
        Some(m) => format!("{m}.{}", instance_addr(None, c.mode, &c.type_name, &c.name, None)),
        None => instance_addr(None, c.mode, &c.type_name, &c.name, None),
    };
    let addrs: Vec<String> = changes.iter().map(config_addr).collect();
    let mut depth = vec![0usize; changes.len()];
    // Longest chain of dependents above each object (bounded passes).
    for _ in 0..changes.len().min(64) {
        let mut moved = false;
        for (i, c) in changes.iter().enumerate() {
            for d in &c.dependencies {
                for (j, a) in addrs.iter().enumerate() {
                    if a == d && depth[j] < depth[i] + 1 {
                        depth[j] = depth[i] + 1;
                        moved = true;
                    }
                }
            }
        }
        if !moved {
            break;
        }
    }
    let max = depth.iter().copied().max().unwrap_or(0);
    (0..=max)
        .map(|lvl| (0..changes.len()).filter(|i| depth[*i] == lvl).collect::<Vec<_>>())
        .filter(|l| !l.is_empty())
        .collect()
}

/// `(type, name)` of a root-module resource address.
fn split_addr(addr: &str) -> Option<(String, String)> {
    let (t, n) = addr.split_once('.')?;
    if t == "module" || t == "data" || n.contains('.') || n.contains('[') {
        return None;
    }
    Some((t.to_owned(), n.to_owned()))
}

/// A whole resource or module call value from its instances.
fn aggregate(count: bool, for_each: bool, instances: Vec<(Option<IndexKey>, Value)>) -> Value {
    if count {
        Value::Tuple(instances.into_iter().map(|(_, v)| v).collect())
    } else if for_each {
        Value::Object(
            instances
                .into_iter()
                .filter_map(|(k, v)| match k {
                    Some(IndexKey::String(s)) => Some((s, v)),
                    _ => None,
                })
                .collect(),
        )
    } else {
        instances.into_iter().next().map_or(Value::Null(Type::Dynamic), |(_, v)| v)
    }
}

/// Evaluates a precondition/assertion: `Err` with Terraform's message when
/// it does not hold.
fn check_condition(
    cond: &Expression,
    msg: &Expression,
    scope: &dyn Scope,
    ctx: &FuncContext,
    summary: &str,
) -> Result<(), Diagnostic> {
    let v = Evaluator::new(scope, ctx).eval(cond)?;
    if v.is_unknown() || v.as_bool() != Some(false) {
        return Ok(());
    }
    let message =
        Evaluator::new(scope, ctx).eval(msg).ok().and_then(|m| m.as_str().map(str::to_owned)).unwrap_or_default();
    Err(Diagnostic::new(summary, message, cond.span()))
}

/// An object value as state attributes.
pub fn object_json(v: &Value, schema: &Schema) -> serde_json::Map<String, serde_json::Value> {
    let mut out = serde_json::Map::new();
    for a in &schema.attrs {
        let x = crate::providers::get(v, a.name).cloned().unwrap_or(Value::Null(a.ty.clone()));
        out.insert(a.name.to_owned(), values::attr_to_json(&x, &a.ty));
    }
    out
}

/// The root variables, with Terraform's precedence (defaults, `TF_VAR_`,
/// tfvars files, `-var`/`-var-file`), from the language's module loader;
/// validation failures are errors.
pub fn root_variables(
    dir: &Path,
    env: &[(String, String)],
    args: &[crate::module::VarArg],
    workspace: &str,
) -> Result<(BTreeMap<String, Value>, String), String> {
    let ctx = FuncContext { base_dir: dir.to_path_buf(), planning: true, ..FuncContext::default() };
    let scope = crate::module::ModuleScope::load(dir, env, args, ctx, workspace).map_err(|e| e.render().to_owned())?;
    // Only the variables' own errors count here: the locals are evaluated
    // again by the walk, where resources are in scope.
    let validation: String = scope
        .startup_errors()
        .split("\nError: ")
        .filter(|s| s.starts_with("Invalid value for variable\n"))
        .map(|s| format!("\nError: {s}"))
        .collect();
    if !validation.is_empty() {
        return Err(validation);
    }
    Ok((scope.variables().clone(), scope.startup_warnings().to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_patterns() {
        assert!(addr_matches("null_resource.a", "null_resource.a[0]"));
        assert!(addr_matches("module.m", "module.m.null_resource.a"));
        assert!(!addr_matches("null_resource.a", "null_resource.ab"));
        let path: ModPath = vec![("net".into(), Some(IndexKey::String("a".into()))), ("sub".into(), None)];
        assert_eq!(module_path_text(&path).as_deref(), Some("module.net[\"a\"].module.sub"));
        assert_eq!(instance_addr(None, Mode::Data, "local_file", "f", Some(&IndexKey::Int(2))), "data.local_file.f[2]");
    }
}
