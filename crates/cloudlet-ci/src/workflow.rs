//! The workflow model, read from a positioned YAML tree, and its
//! validation.
//!
//! Reading and validating are one pass: every key is checked against the
//! workflow syntax (unknown keys, wrong shapes, duplicates, required
//! properties, ids), every `${{ }}` is parsed with exactly the contexts
//! GitHub makes available at that key, and the `needs` graph is checked
//! for unknown jobs and cycles. Messages use GitHub's wording and each
//! names its line and column. Nothing here runs anything.

use std::fmt;

use crate::expr::{self, FunctionSig, HASH_FILES, STATUS_FUNCTIONS, TemplateError};
use crate::yaml::{self, Node, NodeKind, Pos};

/// A problem found in a workflow file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub pos: Pos,
    pub message: String,
}

/// A workflow that failed to parse or validate: every problem found.
#[derive(Clone, Debug)]
pub struct WorkflowError {
    pub file: String,
    pub diagnostics: Vec<Diagnostic>,
}

impl fmt::Display for WorkflowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}:{}:{}: {}", self.file, d.pos.line, d.pos.col, d.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for WorkflowError {}

/// A scalar as written, with its position.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Str {
    pub value: String,
    pub pos: Pos,
}

#[derive(Clone, Debug, Default)]
pub struct Workflow {
    pub file: String,
    pub name: Option<Str>,
    pub run_name: Option<Str>,
    /// Event names in file order.
    pub events: Vec<Str>,
    /// The `on` node as written, for trigger filters and inputs.
    pub on: Option<Node>,
    pub env: Vec<(String, Node)>,
    pub defaults: RunDefaults,
    pub concurrency: Option<Node>,
    pub jobs: Vec<Job>,
    /// Problems GitHub accepts but that are almost surely mistakes
    /// (`needs.x` where the job does not need `x`).
    pub warnings: Vec<Diagnostic>,
}

#[derive(Clone, Debug, Default)]
pub struct RunDefaults {
    pub shell: Option<Str>,
    pub working_directory: Option<Str>,
}

#[derive(Clone, Debug, Default)]
pub struct Job {
    pub id: String,
    pub pos: Pos,
    pub name: Option<Str>,
    pub needs: Vec<Str>,
    pub if_cond: Option<Str>,
    pub runs_on: Option<Node>,
    pub env: Vec<(String, Node)>,
    pub defaults: RunDefaults,
    pub strategy: Option<Strategy>,
    pub outputs: Vec<(String, Str)>,
    pub steps: Vec<Step>,
    pub timeout_minutes: Option<Node>,
    pub continue_on_error: Option<Node>,
    pub environment: Option<Node>,
    pub concurrency: Option<Node>,
    /// A reusable workflow call (`uses:` on the job).
    pub uses: Option<Str>,
    pub with: Vec<(String, Node)>,
    pub secrets: Option<Node>,
    /// `container:` or `services:`, which need a container runtime.
    pub container_key: Option<Str>,
}

#[derive(Clone, Debug, Default)]
pub struct Strategy {
    pub matrix: Option<Node>,
    pub fail_fast: Option<Node>,
    pub max_parallel: Option<Node>,
}

#[derive(Clone, Debug, Default)]
pub struct Step {
    pub pos: Pos,
    pub id: Option<Str>,
    pub name: Option<Str>,
    pub if_cond: Option<Str>,
    pub run: Option<Str>,
    pub uses: Option<Str>,
    pub with: Vec<(String, Node)>,
    pub env: Vec<(String, Node)>,
    pub shell: Option<Str>,
    pub working_directory: Option<Str>,
    pub continue_on_error: Option<Node>,
    pub timeout_minutes: Option<Node>,
}

// Where expressions may appear and what they may use (GitHub's context
// availability table).
const CTX_RUN_NAME: &[&str] = &["github", "inputs", "vars"];
const CTX_WORKFLOW_ENV: &[&str] = &["github", "secrets", "inputs", "vars"];
const CTX_JOB_IF: &[&str] = &["github", "needs", "vars", "inputs"];
const CTX_JOB_STRATEGY: &[&str] = &["github", "needs", "vars", "inputs"];
const CTX_JOB_KEYS: &[&str] = &["github", "needs", "strategy", "matrix", "vars", "inputs"];
const CTX_JOB_ENV: &[&str] = &["github", "needs", "strategy", "matrix", "vars", "secrets", "inputs"];
const CTX_JOB_DEFAULTS: &[&str] = &["github", "needs", "strategy", "matrix", "env", "vars", "inputs"];
const CTX_JOB_OUTPUTS: &[&str] =
    &["github", "needs", "strategy", "matrix", "job", "runner", "env", "vars", "secrets", "steps", "inputs"];
const CTX_STEP_IF: &[&str] =
    &["github", "needs", "strategy", "matrix", "job", "runner", "env", "vars", "steps", "inputs"];
const CTX_STEP: &[&str] =
    &["github", "needs", "strategy", "matrix", "job", "runner", "env", "vars", "secrets", "steps", "inputs"];
const CTX_CALL_WITH: &[&str] = &["github", "needs", "strategy", "matrix", "inputs", "vars", "secrets"];

const CTX_COMPOSITE_STEP: &[&str] =
    &["github", "needs", "strategy", "matrix", "job", "runner", "env", "vars", "steps", "inputs"];

const STEP_FUNCTIONS: &[FunctionSig] = &[HASH_FILES];

/// Reads a composite action's `runs.steps`: every `run` step needs
/// `shell`, and `secrets` is not available.
pub fn read_composite_steps(node: &Node) -> (Vec<Step>, Vec<Diagnostic>) {
    let mut r = Reader { composite: true, ..Reader::default() };
    let steps = r.steps(node);
    (steps, r.diags)
}

/// At job level the status functions may name the jobs they look at
/// (`success('build')`).
pub const JOB_STATUS_FUNCTIONS: &[FunctionSig] = &[
    FunctionSig { name: "success", min_args: 0, max_args: usize::MAX },
    FunctionSig { name: "failure", min_args: 0, max_args: usize::MAX },
    FunctionSig { name: "cancelled", min_args: 0, max_args: 0 },
    FunctionSig { name: "always", min_args: 0, max_args: 0 },
];

/// The contexts available in a step's `if:`, for the runner.
pub const STEP_IF_CONTEXTS: &[&str] = CTX_STEP_IF;
/// The contexts available in a job's `if:`, for the runner.
pub const JOB_IF_CONTEXTS: &[&str] = CTX_JOB_IF;

/// The status functions plus `hashFiles`, callable in a step's `if:`.
pub fn step_if_functions() -> Vec<FunctionSig> {
    let mut f = STATUS_FUNCTIONS.to_vec();
    f.push(HASH_FILES);
    f
}

const EVENTS: &[&str] = &[
    "branch_protection_rule",
    "check_run",
    "check_suite",
    "create",
    "delete",
    "deployment",
    "deployment_status",
    "discussion",
    "discussion_comment",
    "fork",
    "gollum",
    "image_version",
    "issue_comment",
    "issues",
    "label",
    "merge_group",
    "milestone",
    "page_build",
    "public",
    "project",
    "project_card",
    "project_column",
    "pull_request",
    "pull_request_comment",
    "pull_request_review",
    "pull_request_review_comment",
    "pull_request_target",
    "push",
    "registry_package",
    "release",
    "repository_dispatch",
    "schedule",
    "status",
    "watch",
    "workflow_call",
    "workflow_dispatch",
    "workflow_run",
];

/// Parses and validates a workflow. `file` names it in messages.
pub fn parse_workflow(file: &str, text: &str) -> Result<Workflow, WorkflowError> {
    let mut r = Reader::default();
    let root = match yaml::parse(text) {
        Ok(root) => root,
        Err(e) => {
            return Err(WorkflowError {
                file: file.to_owned(),
                diagnostics: vec![Diagnostic { pos: e.pos, message: e.message }],
            });
        }
    };
    let mut wf = Workflow { file: file.to_owned(), ..Workflow::default() };
    match &root {
        Some(root) if root.as_map().is_some() => r.workflow(root, &mut wf),
        Some(root) => r.err(root.pos, "A mapping was expected".to_owned()),
        None => r.err(Pos { line: 1, col: 1 }, "Required property is missing: jobs".to_owned()),
    }
    if r.diags.is_empty() {
        r.warnings.sort_by_key(|d| d.pos);
        r.warnings.dedup();
        wf.warnings = r.warnings;
        Ok(wf)
    } else {
        r.diags.sort_by_key(|d| d.pos);
        r.diags.dedup();
        Err(WorkflowError { file: file.to_owned(), diagnostics: r.diags })
    }
}

#[derive(Default)]
struct Reader {
    diags: Vec<Diagnostic>,
    /// Problems GitHub accepts but that are almost surely mistakes.
    warnings: Vec<Diagnostic>,
    /// The `needs` of the job being read: `needs.<id>` must name one.
    needs_in_scope: Option<Vec<String>>,
    /// The ids of the steps before the one being read: `steps.<id>`
    /// must name one.
    steps_in_scope: Option<Vec<String>>,
    /// The keys of a literal matrix: `matrix.<key>` must name one.
    matrix_in_scope: Option<Vec<String>>,
    /// Reading a composite action's steps: `shell` is required and the
    /// `secrets` context is not available.
    composite: bool,
}

/// A mapping key as text; a null key (`null:`, `~:`) reads as empty.
fn key_str(k: &Node) -> String {
    if k.is_null() {
        return String::new();
    }
    k.as_str().unwrap_or_default().to_owned()
}

impl Reader {
    fn err(&mut self, pos: Pos, message: String) {
        self.diags.push(Diagnostic { pos, message });
    }

    /// The mapping's pairs, with duplicate keys reported.
    fn map<'n>(&mut self, n: &'n Node) -> Option<&'n [(Node, Node)]> {
        match &n.kind {
            NodeKind::Map(pairs) => {
                for (i, (k, _)) in pairs.iter().enumerate() {
                    let name = key_str(k);
                    if pairs[..i].iter().any(|(p, _)| key_str(p) == name) {
                        self.err(k.pos, format!("'{name}' is already defined"));
                    }
                }
                Some(pairs)
            }
            NodeKind::Seq(_) => {
                self.err(n.pos, "A sequence was not expected".to_owned());
                None
            }
            NodeKind::Scalar { text, .. } => {
                if !n.is_null() {
                    self.err(n.pos, format!("Unexpected value '{text}'"));
                }
                None
            }
        }
    }

    /// A scalar; mappings and sequences are reported.
    fn scalar(&mut self, n: &Node) -> Option<Str> {
        match &n.kind {
            NodeKind::Scalar { text, .. } => Some(Str { value: text.clone(), pos: n.pos }),
            NodeKind::Map(_) => {
                self.err(n.pos, "A mapping was not expected".to_owned());
                None
            }
            NodeKind::Seq(_) => {
                self.err(n.pos, "A sequence was not expected".to_owned());
                None
            }
        }
    }

    /// A scalar in which `${{ }}` is not allowed.
    fn literal(&mut self, n: &Node) -> Option<Str> {
        let s = self.scalar(n)?;
        if s.value.contains("${{") {
            self.err(n.pos, "A template expression is not allowed in this context".to_owned());
        }
        Some(s)
    }

    /// Checks every `${{ }}` in a scalar against the available contexts.
    fn template(&mut self, s: &Str, contexts: &[&str], functions: &[FunctionSig]) {
        let segments = match expr::split_template(&s.value) {
            Ok(segs) => segs,
            Err(TemplateError::NotClosed { .. }) => {
                self.err(
                    s.pos,
                    "The expression is not closed. An unescaped ${{ sequence was found, but the closing }} sequence was not found.".to_owned(),
                );
                return;
            }
            Err(TemplateError::Empty { .. }) => {
                self.err(s.pos, "An expression was expected".to_owned());
                return;
            }
        };
        let names: Vec<String> = contexts.iter().map(|c| (*c).to_owned()).collect();
        for seg in segments {
            if let expr::Segment::Expr(text, _) = seg {
                match expr::parse(&text, &names, functions) {
                    Ok(parsed) => self.check_needs_refs(parsed.as_ref(), s.pos),
                    Err(e) => self.err(s.pos, e.to_string()),
                }
            }
        }
    }

    /// `needs.<id>` may only name a job this job needs directly,
    /// `steps.<id>` a step before this one, `matrix.<key>` a key of a
    /// literal matrix. GitHub accepts the others (they read as null), so
    /// they are warnings.
    fn check_needs_refs(&mut self, e: Option<&expr::Expr>, pos: Pos) {
        let Some(e) = e else { return };
        let scopes = [
            ("needs", self.needs_in_scope.clone(), "job", "this job does not need"),
            ("steps", self.steps_in_scope.clone(), "step", "no step before this one has that id"),
            ("matrix", self.matrix_in_scope.clone(), "key", "the matrix has no such key"),
        ];
        for (context, scope, what, why) in scopes {
            let Some(scope) = scope else { continue };
            let mut found = Vec::new();
            context_refs(e, context, &mut found);
            for id in found {
                if !scope.iter().any(|n| n.eq_ignore_ascii_case(&id)) {
                    let list = if scope.is_empty() { "none".to_owned() } else { scope.join(", ") };
                    let known = match context {
                        "needs" => format!("its needs: {list}"),
                        "steps" => format!("earlier ids: {list}"),
                        _ => format!("keys: {list}"),
                    };
                    self.warnings.push(Diagnostic {
                        pos,
                        message: format!(
                            "{context}.{id} refers to {what} '{id}', but {why} ({known}); it is always null"
                        ),
                    });
                }
            }
        }
    }

    /// Every scalar inside a node (values only, not keys) as a template.
    fn templates_in(&mut self, n: &Node, contexts: &[&str], functions: &[FunctionSig]) {
        match &n.kind {
            NodeKind::Scalar { text, .. } => {
                let s = Str { value: text.clone(), pos: n.pos };
                self.template(&s, contexts, functions);
            }
            NodeKind::Seq(items) => items.iter().for_each(|i| self.templates_in(i, contexts, functions)),
            NodeKind::Map(pairs) => {
                for (k, v) in pairs {
                    if let Some(s) = k.as_str()
                        && s.contains("${{")
                    {
                        self.err(k.pos, "A template expression is not allowed in this context".to_owned());
                    }
                    self.templates_in(v, contexts, functions);
                }
            }
        }
    }

    /// An `if:` condition: the whole value is one expression, with or
    /// without `${{ }}`.
    fn condition(&mut self, n: &Node, contexts: &[&str], functions: &[FunctionSig]) -> Option<Str> {
        let s = self.scalar(n)?;
        match expr::if_condition_text(&s.value) {
            Ok(text) => {
                let names: Vec<String> = contexts.iter().map(|c| (*c).to_owned()).collect();
                match expr::parse(&text, &names, functions) {
                    Ok(parsed) => self.check_needs_refs(parsed.as_ref(), s.pos),
                    Err(e) => self.err(s.pos, e.to_string()),
                }
            }
            Err(_) => self.template(&s, contexts, functions),
        }
        Some(s)
    }

    fn env_map(&mut self, n: &Node, contexts: &[&str]) -> Vec<(String, Node)> {
        let mut out = Vec::new();
        if let Some(NodeKind::Scalar { text, .. }) = Some(&n.kind)
            && text.contains("${{")
        {
            self.template(&Str { value: text.clone(), pos: n.pos }, contexts, &[]);
            return out;
        }
        let Some(pairs) = self.map(n) else { return out };
        for (k, v) in pairs {
            if let Some(NodeKind::Map(_) | NodeKind::Seq(_)) = Some(&v.kind) {
                self.scalar(v);
                continue;
            }
            self.templates_in(v, contexts, &[]);
            out.push((key_str(k), v.clone()));
        }
        out
    }

    fn defaults(&mut self, n: &Node, contexts: Option<&[&str]>) -> RunDefaults {
        let mut d = RunDefaults::default();
        let Some(pairs) = self.map(n) else { return d };
        for (k, v) in pairs {
            if key_str(k) != "run" {
                self.err(k.pos, format!("Unexpected value '{}'", key_str(k)));
                continue;
            }
            let Some(run) = self.map(v) else { continue };
            for (rk, rv) in run {
                let s = match contexts {
                    None => self.literal(rv),
                    Some(ctx) => {
                        let s = self.scalar(rv);
                        if let Some(s) = &s {
                            self.template(s, ctx, &[]);
                        }
                        s
                    }
                };
                match key_str(rk).as_str() {
                    "shell" => d.shell = s,
                    "working-directory" => d.working_directory = s,
                    other => self.err(rk.pos, format!("Unexpected value '{other}'")),
                }
            }
        }
        d
    }

    fn workflow(&mut self, root: &Node, wf: &mut Workflow) {
        let Some(pairs) = self.map(root) else { return };
        let mut jobs_node = None;
        for (k, v) in pairs {
            let key = key_str(k);
            match key.as_str() {
                "name" => wf.name = self.literal(v),
                "description" => {
                    self.literal(v);
                }
                "run-name" => {
                    wf.run_name = self.scalar(v);
                    if let Some(s) = wf.run_name.clone() {
                        self.template(&s, CTX_RUN_NAME, &[]);
                    }
                }
                "on" => {
                    self.on(v, wf);
                    wf.on = Some(v.clone());
                }
                "env" => wf.env = self.env_map(v, CTX_WORKFLOW_ENV),
                "defaults" => wf.defaults = self.defaults(v, None),
                "concurrency" => {
                    self.concurrency(v, CTX_RUN_NAME);
                    wf.concurrency = Some(v.clone());
                }
                "permissions" => self.permissions(v),
                "jobs" => jobs_node = Some((k, v)),
                _ if key.contains("${{") => {
                    self.err(k.pos, "A template expression is not allowed in this context".to_owned())
                }
                _ => self.err(k.pos, format!("Unexpected value '{key}'")),
            }
        }
        if wf.on.is_none() {
            self.err(root.pos, "Required property is missing: on".to_owned());
        }
        match jobs_node {
            Some((_, v)) => self.jobs(v, wf),
            None => self.err(root.pos, "Required property is missing: jobs".to_owned()),
        }
    }

    fn on(&mut self, n: &Node, wf: &mut Workflow) {
        let mut event = |r: &mut Reader, s: Str| {
            if s.value.contains("${{") {
                r.err(s.pos, "A template expression is not allowed in this context".to_owned());
            } else if !EVENTS.contains(&s.value.as_str()) {
                r.err(s.pos, format!("Unexpected value '{}'", s.value));
            }
            wf.events.push(s);
        };
        match &n.kind {
            NodeKind::Scalar { .. } => {
                if let Some(s) = self.scalar(n) {
                    event(self, s);
                }
            }
            NodeKind::Seq(items) => {
                for i in items {
                    if let Some(s) = self.scalar(i) {
                        event(self, s);
                    }
                }
            }
            NodeKind::Map(pairs) => {
                for (k, v) in pairs {
                    let name = key_str(k);
                    event(self, Str { value: name.clone(), pos: k.pos });
                    if name == "workflow_call" || name == "workflow_dispatch" {
                        self.typed_inputs(v, &name);
                    }
                    if name == "schedule" {
                        self.schedule(v);
                    }
                }
            }
        }
    }

    /// `workflow_dispatch` / `workflow_call` inputs (types and required
    /// properties) and `workflow_call` outputs.
    fn typed_inputs(&mut self, n: &Node, event: &str) {
        let Some(pairs) = self.map(n) else { return };
        for (k, v) in pairs {
            match key_str(k).as_str() {
                "inputs" => {
                    let Some(inputs) = self.map(v) else { continue };
                    for (_, def) in inputs {
                        let Some(props) = self.map(def) else { continue };
                        let mut has_type = false;
                        for (pk, pv) in props {
                            let p = key_str(pk);
                            let allowed: &[&str] = if event == "workflow_call" {
                                &["description", "required", "default", "type"]
                            } else {
                                &["description", "required", "default", "type", "options", "deprecationMessage"]
                            };
                            if !allowed.contains(&p.as_str()) {
                                self.err(pk.pos, format!("Unexpected value '{p}'"));
                            }
                            if p == "type" {
                                has_type = true;
                                let types: &[&str] = if event == "workflow_call" {
                                    &["boolean", "number", "string"]
                                } else {
                                    &["boolean", "choice", "number", "environment", "string"]
                                };
                                if let Some(t) = self.scalar(pv)
                                    && !types.contains(&t.value.as_str())
                                {
                                    self.err(t.pos, format!("Unexpected value '{}'", t.value));
                                }
                            }
                        }
                        if event == "workflow_call" && !has_type {
                            self.err(def.pos, "Required property is missing: type".to_owned());
                        }
                    }
                }
                "outputs" if event == "workflow_call" => {
                    let Some(outputs) = self.map(v) else { continue };
                    for (_, def) in outputs {
                        let Some(props) = self.map(def) else { continue };
                        let mut has_value = false;
                        for (pk, pv) in props {
                            match key_str(pk).as_str() {
                                "description" => {}
                                "value" => {
                                    has_value = true;
                                    if let Some(s) = self.scalar(pv) {
                                        self.template(&s, &["github", "jobs", "vars", "inputs"], &[]);
                                    }
                                }
                                other => self.err(pk.pos, format!("Unexpected value '{other}'")),
                            }
                        }
                        if !has_value {
                            self.err(def.pos, "Required property is missing: value".to_owned());
                        }
                    }
                }
                "secrets" if event == "workflow_call" => {}
                // GitHub ignores other keys under workflow_dispatch.
                _ if event == "workflow_dispatch" => {}
                other => self.err(k.pos, format!("Unexpected value '{other}'")),
            }
        }
    }

    /// `on.schedule`: a list of `{cron, timezone?}`; each cron must parse,
    /// and one firing more often than every 5 minutes is a warning.
    fn schedule(&mut self, n: &Node) {
        let Some(items) = n.as_seq() else {
            self.scalar(n);
            return;
        };
        for item in items {
            let Some(pairs) = self.map(item) else { continue };
            let mut has_cron = false;
            for (k, v) in pairs {
                match key_str(k).as_str() {
                    "cron" => {
                        has_cron = true;
                        let Some(c) = self.literal(v) else { continue };
                        match crate::cron::parse(&c.value) {
                            Err(e) => {
                                self.err(c.pos, format!("invalid CRON format \"{}\" in schedule event: {e}", c.value))
                            }
                            Ok(cron) => {
                                if let Some(m) = cron.shortest_interval_minutes().filter(|m| *m < 5) {
                                    self.warnings.push(Diagnostic {
                                        pos: c.pos,
                                        message: format!(
                                            "scheduled job runs too frequently: every {m} minute(s); GitHub runs schedules at most every 5 minutes"
                                        ),
                                    });
                                }
                            }
                        }
                    }
                    "timezone" => {
                        self.literal(v);
                    }
                    other => self.err(k.pos, format!("Unexpected value '{other}'")),
                }
            }
            if !has_cron {
                self.err(item.pos, "Required property is missing: cron".to_owned());
            }
        }
    }

    fn permissions(&mut self, n: &Node) {
        const LEVELS: &[&str] = &["read", "write", "none"];
        match &n.kind {
            NodeKind::Scalar { text, .. } => {
                if !["read-all", "write-all"].contains(&text.as_str()) && !n.is_null() {
                    self.err(n.pos, format!("Unexpected value '{text}'"));
                }
            }
            _ => {
                let Some(pairs) = self.map(n) else { return };
                for (_, v) in pairs {
                    if let Some(s) = self.scalar(v)
                        && !LEVELS.contains(&s.value.as_str())
                    {
                        self.err(s.pos, format!("Unexpected value '{}'", s.value));
                    }
                }
            }
        }
    }

    fn concurrency(&mut self, n: &Node, contexts: &[&str]) {
        match &n.kind {
            NodeKind::Scalar { text, .. } => {
                self.template(&Str { value: text.clone(), pos: n.pos }, contexts, &[]);
            }
            _ => {
                let Some(pairs) = self.map(n) else { return };
                let mut has_group = false;
                for (k, v) in pairs {
                    match key_str(k).as_str() {
                        "group" => {
                            has_group = true;
                            if let Some(s) = self.scalar(v) {
                                self.template(&s, contexts, &[]);
                            }
                        }
                        "cancel-in-progress" | "queue" => {
                            if let Some(s) = self.scalar(v) {
                                self.template(&s, contexts, &[]);
                            }
                        }
                        other => self.err(k.pos, format!("Unexpected value '{other}'")),
                    }
                }
                if !has_group {
                    self.err(n.pos, "Required property is missing: group".to_owned());
                }
            }
        }
    }

    fn jobs(&mut self, n: &Node, wf: &mut Workflow) {
        if let NodeKind::Scalar { text, .. } = &n.kind
            && text.contains("${{")
        {
            self.err(n.pos, "A template expression is not allowed in this context".to_owned());
            return;
        }
        let Some(pairs) = self.map(n) else { return };
        for (i, (k, v)) in pairs.iter().enumerate() {
            let id = key_str(k);
            if let Some(msg) = id_problem(&id) {
                self.err(k.pos, msg);
                continue;
            }
            if pairs[..i].iter().any(|(p, _)| key_str(p).eq_ignore_ascii_case(&id) && key_str(p) != id) {
                self.err(k.pos, format!("'{id}' is already defined"));
                continue;
            }
            let job = self.job(id, k.pos, v);
            wf.jobs.push(job);
        }
        if pairs.is_empty() {
            self.err(n.pos, "The workflow must contain at least one job with no dependencies.".to_owned());
            return;
        }
        self.needs_graph(wf, pairs.first().map(|(k, _)| k.pos).unwrap_or(n.pos));
    }

    fn needs_graph(&mut self, wf: &Workflow, first_job: Pos) {
        let index = |id: &str| wf.jobs.iter().position(|j| j.id.eq_ignore_ascii_case(id));
        let mut known = true;
        for j in &wf.jobs {
            for n in &j.needs {
                if index(&n.value).is_none() {
                    known = false;
                    self.err(n.pos, format!("Job '{}' depends on unknown job '{}'.", j.id, n.value));
                }
            }
        }
        if !known {
            return;
        }
        if !wf.jobs.is_empty() && wf.jobs.iter().all(|j| !j.needs.is_empty()) {
            self.err(first_job, "The workflow must contain at least one job with no dependencies.".to_owned());
            return;
        }
        let edges: Vec<Vec<usize>> =
            wf.jobs.iter().map(|j| j.needs.iter().filter_map(|n| index(&n.value)).collect()).collect();
        let scc = strongly_connected(&edges);
        for (a, j) in wf.jobs.iter().enumerate() {
            for n in &j.needs {
                if let Some(b) = index(&n.value)
                    && (scc[a] == scc[b] && (a != b || edges[a].contains(&a)))
                {
                    self.err(
                        n.pos,
                        format!(
                            "Job '{}' depends on job '{}' which creates a cycle in the dependency graph.",
                            j.id, n.value
                        ),
                    );
                }
            }
        }
    }

    fn job(&mut self, id: String, pos: Pos, n: &Node) -> Job {
        let mut job = Job { id, pos, ..Job::default() };
        let Some(pairs) = self.map(n) else { return job };
        let needs_node = pairs.iter().find(|(k, _)| k.as_str() == Some("needs")).map(|(_, v)| v);
        self.matrix_in_scope = pairs
            .iter()
            .find(|(k, _)| k.as_str() == Some("strategy"))
            .and_then(|(_, v)| v.get("matrix"))
            .and_then(matrix_keys);
        self.needs_in_scope = Some(match needs_node {
            Some(v) => match &v.kind {
                NodeKind::Seq(items) => items.iter().filter_map(|i| i.as_str().map(str::to_owned)).collect(),
                NodeKind::Scalar { text, .. } => vec![text.clone()],
                NodeKind::Map(_) => Vec::new(),
            },
            None => Vec::new(),
        });
        let has = |k: &str| pairs.iter().any(|(p, _)| p.as_str() == Some(k));
        let reusable = has("uses") && !has("runs-on") && !has("steps");
        let mut has_runs_on = false;
        for (k, v) in pairs {
            let key = key_str(k);
            match key.as_str() {
                "name" => job.name = self.str_template(v, CTX_JOB_KEYS, &[]),
                "needs" => job.needs = self.needs(v),
                "if" => job.if_cond = self.condition(v, CTX_JOB_IF, JOB_STATUS_FUNCTIONS),
                "strategy" => job.strategy = Some(self.strategy(v)),
                "permissions" => self.permissions(v),
                "concurrency" => {
                    self.concurrency(v, CTX_JOB_KEYS);
                    job.concurrency = Some(v.clone());
                }
                "uses" if reusable => {
                    job.uses = self.literal(v);
                }
                "with" if reusable => {
                    if let Some(p) = self.map(v) {
                        for (wk, wv) in p {
                            self.templates_in(wv, CTX_CALL_WITH, &[]);
                            job.with.push((key_str(wk), wv.clone()));
                        }
                    }
                }
                "secrets" if reusable => {
                    if let NodeKind::Scalar { text, .. } = &v.kind
                        && text != "inherit"
                    {
                        self.err(v.pos, format!("Unexpected value '{text}'"));
                    } else {
                        self.templates_in(v, CTX_CALL_WITH, &[]);
                    }
                    job.secrets = Some(v.clone());
                }
                "runs-on" if !reusable => {
                    has_runs_on = true;
                    self.templates_in(v, CTX_JOB_KEYS, &[]);
                    job.runs_on = Some(v.clone());
                }
                "environment" if !reusable => {
                    self.environment(v);
                    job.environment = Some(v.clone());
                }
                "outputs" if !reusable => {
                    if let Some(p) = self.map(v) {
                        for (ok, ov) in p {
                            if let Some(s) = self.scalar(ov) {
                                self.template(&s, CTX_JOB_OUTPUTS, &[]);
                                job.outputs.push((key_str(ok), s));
                            }
                        }
                    }
                }
                "env" if !reusable => job.env = self.env_map(v, CTX_JOB_ENV),
                "defaults" if !reusable => job.defaults = self.defaults(v, Some(CTX_JOB_DEFAULTS)),
                "steps" if !reusable => job.steps = self.steps(v),
                "timeout-minutes" if !reusable => {
                    self.templates_in(v, CTX_JOB_KEYS, &[]);
                    job.timeout_minutes = Some(v.clone());
                }
                "continue-on-error" if !reusable => {
                    self.templates_in(v, CTX_JOB_KEYS, &[]);
                    job.continue_on_error = Some(v.clone());
                }
                "cancel-timeout-minutes" if !reusable => self.templates_in(v, CTX_JOB_KEYS, &[]),
                "snapshot" if !reusable => self.templates_in(v, CTX_JOB_KEYS, &[]),
                "container" | "services" if !reusable => {
                    job.container_key = Some(Str { value: key.clone(), pos: k.pos });
                }
                _ => self.err(k.pos, format!("Unexpected value '{key}'")),
            }
        }
        if !reusable && !has_runs_on {
            self.err(n.pos, "Required property is missing: runs-on".to_owned());
        }
        self.needs_in_scope = None;
        self.matrix_in_scope = None;
        job
    }

    fn str_template(&mut self, n: &Node, contexts: &[&str], functions: &[FunctionSig]) -> Option<Str> {
        let s = self.scalar(n)?;
        self.template(&s, contexts, functions);
        Some(s)
    }

    fn environment(&mut self, n: &Node) {
        match &n.kind {
            NodeKind::Scalar { text, .. } => {
                self.template(&Str { value: text.clone(), pos: n.pos }, CTX_JOB_KEYS, &[]);
            }
            _ => {
                let Some(pairs) = self.map(n) else { return };
                let mut has_name = false;
                for (k, v) in pairs {
                    match key_str(k).as_str() {
                        "name" => {
                            has_name = true;
                            self.templates_in(v, CTX_JOB_KEYS, &[]);
                        }
                        // `url` is evaluated after the job: steps and env are available.
                        "url" => self.templates_in(v, CTX_JOB_OUTPUTS, &[]),
                        "deployment" => {}
                        other => self.err(k.pos, format!("Unexpected value '{other}'")),
                    }
                }
                if !has_name {
                    self.err(n.pos, "Required property is missing: name".to_owned());
                }
            }
        }
    }

    fn needs(&mut self, n: &Node) -> Vec<Str> {
        match &n.kind {
            NodeKind::Scalar { .. } => self.literal(n).into_iter().collect(),
            NodeKind::Seq(items) => items.iter().filter_map(|i| self.literal(i)).collect(),
            NodeKind::Map(_) => {
                self.scalar(n);
                Vec::new()
            }
        }
    }

    fn strategy(&mut self, n: &Node) -> Strategy {
        let mut s = Strategy::default();
        if let NodeKind::Scalar { text, .. } = &n.kind
            && text.contains("${{")
        {
            self.template(&Str { value: text.clone(), pos: n.pos }, CTX_JOB_STRATEGY, &[]);
            return s;
        }
        let Some(pairs) = self.map(n) else { return s };
        for (k, v) in pairs {
            match key_str(k).as_str() {
                "matrix" => {
                    self.matrix(v);
                    s.matrix = Some(v.clone());
                }
                "fail-fast" => {
                    self.templates_in(v, CTX_JOB_STRATEGY, &[]);
                    s.fail_fast = Some(v.clone());
                }
                "max-parallel" => {
                    self.templates_in(v, CTX_JOB_STRATEGY, &[]);
                    s.max_parallel = Some(v.clone());
                }
                other => self.err(k.pos, format!("Unexpected value '{other}'")),
            }
        }
        s
    }

    fn matrix(&mut self, n: &Node) {
        if let NodeKind::Scalar { text, .. } = &n.kind {
            self.template(&Str { value: text.clone(), pos: n.pos }, CTX_JOB_STRATEGY, &[]);
            return;
        }
        let Some(pairs) = self.map(n) else { return };
        let vectors: Vec<String> =
            pairs.iter().map(|(k, _)| key_str(k)).filter(|k| k != "include" && k != "exclude").collect();
        let mut dynamic = false;
        for (k, v) in pairs {
            let key = key_str(k);
            self.templates_in(v, CTX_JOB_STRATEGY, &[]);
            match &v.kind {
                NodeKind::Scalar { text, .. } if text.contains("${{") => dynamic = true,
                NodeKind::Seq(items) => {
                    if items.is_empty() && key != "include" && key != "exclude" {
                        self.err(v.pos, format!("Matrix vector '{key}' does not contain any values"));
                    }
                    if key == "exclude" {
                        for item in items {
                            let Some(entry) = item.as_map() else { continue };
                            for (ek, _) in entry {
                                let name = key_str(ek);
                                if !dynamic && !vectors.iter().any(|v| v.eq_ignore_ascii_case(&name)) {
                                    self.err(
                                        ek.pos,
                                        format!(
                                            "Matrix exclude key '{name}' does not match any key of the matrix ({})",
                                            vectors.join(", ")
                                        ),
                                    );
                                }
                            }
                        }
                    }
                }
                _ => {
                    self.scalar(v);
                    if matches!(v.kind, NodeKind::Scalar { .. }) {
                        self.err(v.pos, format!("Unexpected value '{}'", v.as_str().unwrap_or_default()));
                    }
                }
            }
        }
    }

    fn steps(&mut self, n: &Node) -> Vec<Step> {
        let items = match &n.kind {
            NodeKind::Seq(items) => items,
            NodeKind::Map(_) => {
                self.err(n.pos, "A mapping was not expected".to_owned());
                return Vec::new();
            }
            NodeKind::Scalar { text, .. } => {
                self.err(n.pos, format!("Unexpected value '{text}'"));
                return Vec::new();
            }
        };
        let mut steps: Vec<Step> = Vec::new();
        let outer = self.steps_in_scope.take();
        for item in items {
            self.steps_in_scope = Some(steps.iter().filter_map(|s| s.id.as_ref().map(|i| i.value.clone())).collect());
            let step = self.step(item);
            if let Some(id) = &step.id {
                if let Some(msg) = id_problem(&id.value) {
                    self.err(id.pos, msg);
                } else if steps.iter().any(|s| s.id.as_ref().is_some_and(|o| o.value.eq_ignore_ascii_case(&id.value))) {
                    self.err(
                        id.pos,
                        format!("The identifier '{}' may not be used more than once within the same scope.", id.value),
                    );
                }
            }
            steps.push(step);
        }
        self.steps_in_scope = outer;
        steps
    }

    fn step(&mut self, n: &Node) -> Step {
        let ctx_step = if self.composite { CTX_COMPOSITE_STEP } else { CTX_STEP };
        let mut step = Step { pos: n.pos, ..Step::default() };
        let Some(pairs) = self.map(n) else { return step };
        let has = |k: &str| pairs.iter().any(|(p, _)| p.as_str() == Some(k));
        let is_run = has("run") || (!has("uses") && !has("with"));
        // `wait`, `wait-all` and `cancel` steps (background steps) need neither.
        let is_control = !has("run") && !has("uses") && (has("wait") || has("wait-all") || has("cancel"));
        for (k, v) in pairs {
            let key = key_str(k);
            match key.as_str() {
                "id" => step.id = self.literal(v),
                "name" => step.name = self.str_template(v, ctx_step, STEP_FUNCTIONS),
                "if" => step.if_cond = self.condition(v, CTX_STEP_IF, &step_if_functions()),
                "run" if is_run => step.run = self.str_template(v, ctx_step, STEP_FUNCTIONS),
                "shell" if is_run => step.shell = self.str_template(v, ctx_step, STEP_FUNCTIONS),
                "working-directory" if is_run => {
                    step.working_directory = self.str_template(v, ctx_step, STEP_FUNCTIONS)
                }
                "uses" if !is_run => {
                    step.uses = self.literal(v);
                    if let Some(u) = &step.uses
                        && let Some(msg) = uses_problem(&u.value)
                    {
                        self.err(u.pos, msg);
                    }
                }
                "with" if !is_run => {
                    if let Some(p) = self.map(v) {
                        for (wk, wv) in p {
                            self.templates_in(wv, ctx_step, STEP_FUNCTIONS);
                            step.with.push((key_str(wk), wv.clone()));
                        }
                    }
                }
                "env" => step.env = self.env_map(v, ctx_step),
                "continue-on-error" => {
                    self.templates_in(v, ctx_step, STEP_FUNCTIONS);
                    step.continue_on_error = Some(v.clone());
                }
                "timeout-minutes" => {
                    self.templates_in(v, ctx_step, STEP_FUNCTIONS);
                    step.timeout_minutes = Some(v.clone());
                }
                "background" | "wait" | "wait-all" | "cancel" => self.templates_in(v, ctx_step, STEP_FUNCTIONS),
                _ => self.err(k.pos, format!("Unexpected value '{key}'")),
            }
        }
        if is_control {
            return step;
        }
        if is_run && step.run.is_none() {
            self.err(n.pos, "Required property is missing: run".to_owned());
        }
        if self.composite && step.run.is_some() && step.shell.is_none() {
            self.err(n.pos, "Required property is missing: shell".to_owned());
        }
        if !is_run && step.uses.is_none() {
            self.err(n.pos, "Required property is missing: uses".to_owned());
        }
        step
    }
}

/// The keys of a literal matrix (vectors and every include entry's keys);
/// `None` when the matrix is an expression.
fn matrix_keys(m: &Node) -> Option<Vec<String>> {
    let pairs = m.as_map()?;
    let mut keys = Vec::new();
    for (k, v) in pairs {
        let key = k.as_str().unwrap_or_default();
        match key {
            "exclude" => {}
            "include" => {
                let items = match &v.kind {
                    NodeKind::Seq(items) => items,
                    _ => return None,
                };
                for item in items {
                    for (ik, _) in item.as_map()? {
                        keys.push(ik.as_str().unwrap_or_default().to_owned());
                    }
                }
            }
            _ => {
                if v.as_str().is_some_and(|t| t.contains("${{")) {
                    return None;
                }
                keys.push(key.to_owned());
            }
        }
    }
    keys.sort();
    keys.dedup();
    Some(keys)
}

/// The names an expression reads as `<context>.<name>` or
/// `<context>['<name>']`.
fn context_refs(e: &expr::Expr, context: &str, out: &mut Vec<String>) {
    use expr::{Expr, Index};
    match e {
        Expr::Index(obj, idx) => {
            if let (Expr::Context(name), Index::Expr(key)) = (obj.as_ref(), idx)
                && name.eq_ignore_ascii_case(context)
                && let Expr::Literal(expr::Value::String(id)) = key.as_ref()
            {
                out.push(id.clone());
            }
            context_refs(obj, context, out);
            if let Index::Expr(key) = idx {
                context_refs(key, context, out);
            }
        }
        Expr::Not(x) | Expr::Group(x) => context_refs(x, context, out),
        Expr::Binary(_, l, r) => {
            context_refs(l, context, out);
            context_refs(r, context, out);
        }
        Expr::Logical(_, args) | Expr::Call(_, args) => args.iter().for_each(|a| context_refs(a, context, out)),
        Expr::Literal(_) | Expr::Context(_) => {}
    }
}

/// GitHub's rules for job and step ids.
fn id_problem(id: &str) -> Option<String> {
    if id.is_empty() {
        return Some("Unexpected value ''".to_owned());
    }
    let mut chars = id.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !first_ok || !rest_ok || id.len() >= 100 {
        return Some(format!(
            "The identifier '{id}' is invalid. IDs may only contain alphanumeric characters, '_', and '-'. IDs must start with a letter or '_' and and must be less than 100 characters."
        ));
    }
    if id.starts_with("__") {
        return Some(format!("The identifier '{id}' is invalid. IDs starting with '__' are reserved."));
    }
    None
}

/// `uses:` must be `./path`, `docker://image`, or `owner/repo[/path]@ref`.
fn uses_problem(u: &str) -> Option<String> {
    if u.starts_with("./") || u.starts_with("docker://") || u.starts_with("$/") {
        return None;
    }
    let ok = match u.split_once('@') {
        Some((path, r)) => {
            let parts: Vec<&str> = path.split('/').collect();
            !r.is_empty() && parts.len() >= 2 && parts.iter().all(|p| !p.is_empty())
        }
        None => false,
    };
    (!ok).then(|| format!("Expected format {{org}}/{{repo}}[/path]@ref. Actual '{u}'"))
}

/// Tarjan's strongly connected components; returns each node's component.
fn strongly_connected(edges: &[Vec<usize>]) -> Vec<usize> {
    struct T<'a> {
        edges: &'a [Vec<usize>],
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on_stack: Vec<bool>,
        stack: Vec<usize>,
        next: usize,
        comp: Vec<usize>,
        ncomp: usize,
    }
    fn visit(t: &mut T<'_>, v: usize) {
        t.index[v] = Some(t.next);
        t.low[v] = t.next;
        t.next += 1;
        t.stack.push(v);
        t.on_stack[v] = true;
        for &w in &t.edges[v] {
            match t.index[w] {
                None => {
                    visit(t, w);
                    t.low[v] = t.low[v].min(t.low[w]);
                }
                Some(iw) if t.on_stack[w] => t.low[v] = t.low[v].min(iw),
                Some(_) => {}
            }
        }
        if Some(t.low[v]) == t.index[v] {
            while let Some(w) = t.stack.pop() {
                t.on_stack[w] = false;
                t.comp[w] = t.ncomp;
                if w == v {
                    break;
                }
            }
            t.ncomp += 1;
        }
    }
    let n = edges.len();
    let mut t = T {
        edges,
        index: vec![None; n],
        low: vec![0; n],
        on_stack: vec![false; n],
        stack: Vec::new(),
        next: 0,
        comp: vec![0; n],
        ncomp: 0,
    };
    for v in 0..n {
        if t.index[v].is_none() {
            visit(&mut t, v);
        }
    }
    t.comp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(text: &str) -> Vec<String> {
        match parse_workflow("w.yml", text) {
            Ok(_) => Vec::new(),
            Err(e) => e.to_string().lines().map(str::to_owned).collect(),
        }
    }

    #[test]
    fn a_valid_workflow_reads_into_the_model() {
        let wf = parse_workflow(
            "w.yml",
            "on: [push]\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo\n  b:\n    needs: a\n    runs-on: x\n    if: needs.a.result == 'success'\n    steps:\n      - uses: ./act\n        with: {k: v}\n",
        );
        let wf = wf.map_err(|e| e.to_string());
        assert!(wf.is_ok(), "{wf:?}");
        let wf = wf.unwrap_or_default();
        assert_eq!(wf.events.iter().map(|e| e.value.as_str()).collect::<Vec<_>>(), ["push"]);
        assert_eq!(wf.jobs.len(), 2);
        assert_eq!(wf.jobs[1].needs[0].value, "a");
        assert_eq!(wf.jobs[1].steps[0].uses.as_ref().map(|u| u.value.as_str()), Some("./act"));
    }

    #[test]
    fn unknown_keys_and_contexts_name_their_position() {
        let m = messages("on: push\njobs:\n  a:\n    runs-on: x\n    if: matrix.os == 'x'\n    stepz: []\n");
        assert_eq!(
            m,
            [
                "w.yml:5:9: Unrecognized named-value: 'matrix'. Located at position 1 within expression: matrix.os == 'x'",
                "w.yml:6:5: Unexpected value 'stepz'",
            ]
        );
    }

    #[test]
    fn needs_may_only_name_direct_needs() {
        let m = messages(
            "on: push\njobs:\n  a:\n    runs-on: x\n    steps: [{run: echo}]\n  b:\n    needs: a\n    runs-on: x\n    steps: [{run: echo}]\n  c:\n    needs: b\n    if: needs.a.result == 'success' && needs.b.result\n    runs-on: x\n    steps: [{run: echo}]\n",
        );
        assert!(m.is_empty(), "GitHub accepts it: {m:?}");
        let wf = parse_workflow(
            "w.yml",
            "on: push\njobs:\n  a:\n    runs-on: x\n    steps: [{run: echo}]\n  b:\n    needs: a\n    runs-on: x\n    steps: [{run: echo}]\n  c:\n    needs: b\n    if: needs.a.result == 'success' && needs.b.result\n    runs-on: x\n    steps: [{run: echo}]\n",
        );
        let warnings: Vec<String> = wf
            .map(|w| w.warnings.iter().map(|d| format!("{}:{}: {}", d.pos.line, d.pos.col, d.message)).collect())
            .unwrap_or_default();
        assert_eq!(
            warnings,
            ["12:9: needs.a refers to job 'a', but this job does not need (its needs: b); it is always null"]
        );
        let wf = parse_workflow(
            "w.yml",
            "on: push\njobs:\n  a:\n    runs-on: x\n    strategy:\n      matrix:\n        os: [l]\n        include: [{os: l, extra: 1}]\n    steps:\n      - run: echo ${{ steps.later.outputs.x }} ${{ matrix.extra }} ${{ matrix.oss }}\n      - id: later\n        run: echo ${{ steps.later.outputs.x }}\n      - run: echo ${{ steps.later.outputs.x }}\n",
        );
        let warnings: Vec<String> = wf
            .map(|w| w.warnings.iter().map(|d| format!("{}:{}: {}", d.pos.line, d.pos.col, d.message)).collect())
            .unwrap_or_default();
        assert_eq!(
            warnings,
            [
                "10:14: steps.later refers to step 'later', but no step before this one has that id (earlier ids: none); it is always null",
                "10:14: matrix.oss refers to key 'oss', but the matrix has no such key (keys: extra, os); it is always null",
                "12:14: steps.later refers to step 'later', but no step before this one has that id (earlier ids: none); it is always null",
            ]
        );
    }

    #[test]
    fn schedules_are_checked() {
        let m = messages(
            "on:\n  schedule:\n    - cron: '61 * * * *'\njobs:\n  a:\n    runs-on: x\n    steps: [{run: echo}]\n",
        );
        assert_eq!(
            m,
            ["w.yml:3:13: invalid CRON format \"61 * * * *\" in schedule event: minute 61 is out of range 0-59"]
        );
        let wf = parse_workflow(
            "w.yml",
            "on:\n  schedule:\n    - cron: '* * * * *'\n      timezone: Europe/Paris\njobs:\n  a:\n    runs-on: x\n    steps: [{run: echo}]\n",
        );
        assert_eq!(wf.map(|w| w.warnings.len()).ok(), Some(1));
    }

    #[test]
    fn matrix_excludes_of_unknown_keys_are_errors() {
        let m = messages(
            "on: push\njobs:\n  a:\n    runs-on: x\n    strategy:\n      matrix:\n        os: [a]\n        exclude:\n          - oss: a\n    steps:\n      - run: echo\n",
        );
        assert_eq!(m, ["w.yml:9:13: Matrix exclude key 'oss' does not match any key of the matrix (os)"]);
    }
}
