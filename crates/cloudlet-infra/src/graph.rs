//! The dependency graph of one module: a node per local value, resource,
//! data source, module call and output; an edge for every reference an
//! expression makes (found from the syntax tree by `refs`) and every
//! `depends_on`. Variables have no node: their values are known before the
//! module's walk starts. Instances (`count`/`for_each`) are expanded when
//! the walk reaches a node, once its keys can be known.
//!
//! Ordering is Kahn's algorithm over the nodes in declaration order, so
//! a 10,000-long chain is linear; a cycle is reported with its path, as
//! Terraform reports it.

use std::collections::{BTreeSet, HashMap};

use hcl_edit::expr::Expression;
use hcl_edit::structure::{Body, Structure};

use crate::decode::ModuleConfig;
use crate::diag::Diagnostic;

/// A node's index.
pub type NodeId = usize;

/// What a node stands for (indexes into the module's lists).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeKind {
    Local(String),
    Resource(usize),
    ModuleCall(usize),
    Output(usize),
}

/// The graph of one module.
#[derive(Debug)]
pub struct Graph {
    kinds: Vec<NodeKind>,
    names: Vec<String>,
    /// Dependencies of each node.
    deps: Vec<Vec<NodeId>>,
    order: Vec<NodeId>,
}

fn body_exprs<'b>(body: &'b Body, out: &mut Vec<&'b Expression>) {
    for s in body.iter() {
        match s {
            Structure::Attribute(a) => out.push(&a.value),
            Structure::Block(b) => body_exprs(&b.body, out),
        }
    }
}

/// The config address a `depends_on` entry or reference names
/// (`null_resource.a[0]` → `null_resource.a`).
fn base_addr(text: &str) -> String {
    let parts: Vec<&str> = text.split('.').collect();
    let take = if parts.first() == Some(&"data") { 3 } else { 2 };
    parts.iter().take(take).map(|p| p.split('[').next().unwrap_or(p)).collect::<Vec<_>>().join(".")
}

impl Graph {
    /// Builds and orders the graph of `m`.
    pub fn build(m: &ModuleConfig) -> Result<Graph, Diagnostic> {
        let mut nodes: Vec<(NodeKind, String, Vec<&Expression>, Vec<String>)> = Vec::new();
        for (name, (_, e)) in &m.locals {
            nodes.push((NodeKind::Local(name.clone()), format!("local.{name}"), vec![e], Vec::new()));
        }
        for (i, r) in m.resources.iter().enumerate() {
            let mut e = Vec::new();
            body_exprs(&r.body, &mut e);
            e.extend(r.count.iter());
            e.extend(r.for_each.iter());
            e.extend(r.conditions.iter().flat_map(|(c, msg)| [c, msg]));
            nodes.push((NodeKind::Resource(i), r.addr(), e, r.depends_on.clone()));
        }
        for (i, c) in m.module_calls.iter().enumerate() {
            let mut e: Vec<&Expression> = c.args.values().collect();
            e.extend(c.count.iter());
            e.extend(c.for_each.iter());
            nodes.push((NodeKind::ModuleCall(i), format!("module.{}", c.name), e, c.depends_on.clone()));
        }
        for (i, o) in m.outputs.iter().enumerate() {
            let mut e = vec![&o.value];
            e.extend(o.preconditions.iter().flat_map(|(c, msg)| [c, msg]));
            nodes.push((NodeKind::Output(i), format!("output.{}", o.name), e, o.depends_on.clone()));
        }
        let mut kinds = Vec::with_capacity(nodes.len());
        let mut names = Vec::with_capacity(nodes.len());
        let mut exprs = Vec::with_capacity(nodes.len());
        let mut depends = Vec::with_capacity(nodes.len());
        let mut index: HashMap<String, NodeId> = HashMap::new();
        for (kind, name, e, d) in nodes {
            index.insert(name.clone(), kinds.len());
            kinds.push(kind);
            names.push(name);
            exprs.push(e);
            depends.push(d);
        }
        let mut deps: Vec<Vec<NodeId>> = vec![Vec::new(); kinds.len()];
        for (n, es) in exprs.iter().enumerate() {
            let mut set = BTreeSet::new();
            for r in es.iter().flat_map(|e| crate::refs::references(e)) {
                let target = match (r.root.as_str(), r.attrs.first(), r.attrs.get(1)) {
                    ("local", Some(a), _) => format!("local.{a}"),
                    ("module", Some(a), _) => format!("module.{a}"),
                    ("data", Some(t), Some(a)) => format!("data.{t}.{a}"),
                    ("var" | "path" | "terraform" | "count" | "each" | "self", _, _) => continue,
                    (t, Some(a), _) => format!("{t}.{a}"),
                    _ => continue,
                };
                if let Some(&d) = index.get(&target)
                    && d != n
                {
                    set.insert(d);
                } else if index.get(&target) == Some(&n) && matches!(kinds[n], NodeKind::Local(_)) {
                    set.insert(n);
                }
            }
            for d in &depends[n] {
                if let Some(&x) = index.get(&base_addr(d)) {
                    set.insert(x);
                }
            }
            deps[n] = set.into_iter().collect();
        }
        let mut g = Graph { kinds, names, deps, order: Vec::new() };
        g.order = g.topological()?;
        Ok(g)
    }

    fn topological(&self) -> Result<Vec<NodeId>, Diagnostic> {
        let n = self.kinds.len();
        let mut indegree = vec![0usize; n];
        let mut dependents: Vec<Vec<NodeId>> = vec![Vec::new(); n];
        for (node, ds) in self.deps.iter().enumerate() {
            indegree[node] = ds.len();
            for &d in ds {
                dependents[d].push(node);
            }
        }
        let mut ready: std::collections::VecDeque<NodeId> = (0..n).filter(|&i| indegree[i] == 0).collect();
        let mut order = Vec::with_capacity(n);
        while let Some(node) = ready.pop_front() {
            order.push(node);
            for &d in &dependents[node] {
                indegree[d] -= 1;
                if indegree[d] == 0 {
                    ready.push_back(d);
                }
            }
        }
        if order.len() == n {
            return Ok(order);
        }
        // A cycle: follow unfinished dependencies until a node repeats.
        let start = (0..n).find(|&i| indegree[i] > 0).unwrap_or(0);
        let mut path = vec![start];
        let mut seen: HashMap<NodeId, usize> = HashMap::from([(start, 0)]);
        let mut at = start;
        while let Some(&next) = self.deps[at].iter().find(|&&d| indegree[d] > 0) {
            if let Some(&pos) = seen.get(&next) {
                path.drain(..pos);
                break;
            }
            seen.insert(next, path.len());
            path.push(next);
            at = next;
        }
        let names: Vec<String> = path
            .iter()
            .map(|&i| match &self.kinds[i] {
                NodeKind::Local(_) | NodeKind::Output(_) => format!("{} (expand)", self.names[i]),
                NodeKind::ModuleCall(_) => format!("{} (expand)", self.names[i]),
                NodeKind::Resource(_) => self.names[i].clone(),
            })
            .collect();
        Err(Diagnostic::new(format!("Cycle: {}", names.join(", ")), "", None))
    }

    /// The nodes, dependencies first.
    pub fn order(&self) -> Vec<NodeId> {
        self.order.clone()
    }

    pub fn kind(&self, n: NodeId) -> &NodeKind {
        &self.kinds[n]
    }

    /// The node's name (`local.x`, `null_resource.a`, `module.m`).
    pub fn name(&self, n: NodeId) -> &str {
        &self.names[n]
    }

    /// The resources and module calls a node depends on directly, and
    /// those reached through the locals it uses (what it must wait for
    /// during an apply).
    pub fn resource_deps(&self, n: NodeId) -> Vec<String> {
        let mut out = BTreeSet::new();
        let mut stack: Vec<NodeId> = self.deps[n].clone();
        let mut seen = BTreeSet::new();
        while let Some(d) = stack.pop() {
            if !seen.insert(d) {
                continue;
            }
            match &self.kinds[d] {
                NodeKind::Resource(_) | NodeKind::ModuleCall(_) => {
                    out.insert(self.names[d].clone());
                }
                NodeKind::Local(_) => stack.extend(self.deps[d].iter().copied()),
                NodeKind::Output(_) => {}
            }
        }
        out.into_iter().collect()
    }

    /// The managed and data resources a resource depends on, directly or
    /// through locals and other resources (state's `dependencies`).
    pub fn transitive_resource_deps(&self, n: NodeId) -> Vec<String> {
        let mut out = BTreeSet::new();
        let mut stack: Vec<NodeId> = self.deps[n].clone();
        let mut seen = BTreeSet::new();
        while let Some(d) = stack.pop() {
            if !seen.insert(d) {
                continue;
            }
            if matches!(self.kinds[d], NodeKind::Resource(_) | NodeKind::ModuleCall(_)) {
                out.insert(self.names[d].clone());
            }
            stack.extend(self.deps[d].iter().copied());
        }
        out.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module(src: &str) -> ModuleConfig {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("main.tf"), src).expect("write");
        crate::decode::load_tree(dir.path()).expect("decodes")
    }

    #[test]
    fn orders_dependencies_first_and_finds_transitive_resources() {
        let m = module(
            "output \"o\" { value = local.b }\nlocals {\n  b = null_resource.a.id\n}\nresource \"null_resource\" \"a\" {}\nresource \"null_resource\" \"c\" {\n  triggers = { x = local.b }\n}\n",
        );
        let g = Graph::build(&m).expect("builds");
        let names: Vec<&str> = g.order().iter().map(|&n| g.name(n)).collect();
        let pos = |x: &str| names.iter().position(|n| *n == x).expect("present");
        assert!(pos("null_resource.a") < pos("local.b"));
        assert!(pos("local.b") < pos("output.o"));
        assert!(pos("local.b") < pos("null_resource.c"));
        let c = g.order().into_iter().find(|&n| g.name(n) == "null_resource.c").expect("c");
        assert_eq!(g.transitive_resource_deps(c), ["null_resource.a"]);
    }

    #[test]
    fn reports_cycles_with_their_path() {
        let m = module(
            "resource \"null_resource\" \"a\" {\n  triggers = { x = null_resource.b.id }\n}\nresource \"null_resource\" \"b\" {\n  triggers = { x = null_resource.a.id }\n}\n",
        );
        let e = Graph::build(&m).expect_err("cycle");
        assert_eq!(e.summary, "Cycle: null_resource.a, null_resource.b");
    }
}
