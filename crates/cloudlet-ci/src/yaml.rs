//! YAML → a tree of nodes that remember where they came from.
//!
//! Built from the event stream of a pure-Rust YAML parser, so every node
//! keeps its 1-based line and column for `file:line:col` diagnostics.
//! Scalars stay text plus style: a workflow's keys are always strings (so
//! `on:` is the key `on`, never a boolean), and values are typed by the
//! workflow model where it needs them (YAML 1.2 core schema:
//! `true`/`false`, not `yes`/`on`). Anchors and aliases are resolved.

use std::collections::HashMap;

use granit_parser::{Event, Parser, ScalarStyle};

use crate::expr::{Object, Value};

/// A position in a file, 1-based.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

#[derive(Clone, Debug)]
pub struct Node {
    pub pos: Pos,
    pub kind: NodeKind,
}

#[derive(Clone, Debug)]
pub enum NodeKind {
    /// A scalar's text, and whether it was written plain (unquoted, not a
    /// block scalar), which decides whether `true` is a boolean.
    Scalar {
        text: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

/// A YAML syntax error.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{message}")]
pub struct YamlError {
    pub pos: Pos,
    pub message: String,
}

/// The most nodes a document may expand to once aliases are resolved: a
/// guard against "billion laughs" documents.
pub const MAX_NODES: usize = 1_000_000;

/// Parses the first document of `text`; an empty document is `None`.
pub fn parse(text: &str) -> Result<Option<Node>, YamlError> {
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, (Node, usize)> = HashMap::new();
    let mut total_nodes: usize = 0;
    let mut root: Option<Node> = None;
    while let Some(ev) = parser.next_event() {
        let (ev, span) = ev.map_err(|e| YamlError {
            pos: Pos { line: e.marker().line(), col: e.marker().col() + 1 },
            message: e.to_string(),
        })?;
        let pos = Pos { line: span.start.line(), col: span.start.col() + 1 };
        let done: Option<(Node, usize)> = match ev {
            Event::Scalar(text, style, anchor, _) => {
                let plain = matches!(style, ScalarStyle::Plain);
                Some((Node { pos, kind: NodeKind::Scalar { text: text.into_owned(), plain } }, anchor))
            }
            Event::SequenceStart(_, anchor, _) => {
                stack.push(Frame { pos, anchor, items: Vec::new(), is_map: false });
                None
            }
            Event::MappingStart(_, anchor, _) => {
                stack.push(Frame { pos, anchor, items: Vec::new(), is_map: true });
                None
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(f) => {
                    let kind = if f.is_map {
                        let mut pairs = Vec::with_capacity(f.items.len() / 2);
                        let mut it = f.items.into_iter();
                        while let (Some(k), Some(v)) = (it.next(), it.next()) {
                            pairs.push((k, v));
                        }
                        NodeKind::Map(pairs)
                    } else {
                        NodeKind::Seq(f.items)
                    };
                    Some((Node { pos: f.pos, kind }, f.anchor))
                }
                None => None,
            },
            Event::Alias(id) => {
                let (node, size) = anchors
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| YamlError { pos, message: "an alias refers to an unknown anchor".to_owned() })?;
                total_nodes = total_nodes.saturating_add(size);
                if total_nodes > MAX_NODES {
                    return Err(YamlError {
                        pos,
                        message: format!("the document expands to more than {MAX_NODES} nodes through its aliases"),
                    });
                }
                Some((Node { pos, ..node }, 0))
            }
            Event::DocumentEnd => {
                if root.is_some() {
                    break;
                }
                None
            }
            _ => None,
        };
        if let Some((node, anchor)) = done {
            total_nodes += 1;
            if anchor != 0 {
                let size = node.count();
                anchors.insert(anchor, (node.clone(), size));
            }
            match stack.last_mut() {
                Some(parent) => parent.items.push(node),
                None => root = Some(node),
            }
        }
    }
    Ok(root)
}

struct Frame {
    pos: Pos,
    anchor: usize,
    items: Vec<Node>,
    is_map: bool,
}

impl Node {
    /// How many nodes this one holds, itself included.
    pub fn count(&self) -> usize {
        match &self.kind {
            NodeKind::Scalar { .. } => 1,
            NodeKind::Seq(items) => 1 + items.iter().map(Node::count).sum::<usize>(),
            NodeKind::Map(pairs) => 1 + pairs.iter().map(|(k, v)| k.count() + v.count()).sum::<usize>(),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.kind {
            NodeKind::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.kind {
            NodeKind::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// The value of `key` in a mapping (keys compare exactly).
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?.iter().find(|(k, _)| k.as_str() == Some(key)).map(|(_, v)| v)
    }

    /// Whether this is a plain `null`, `~` or empty scalar.
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, NodeKind::Scalar { text, plain: true } if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    /// The node as an expression value, scalars typed by YAML 1.2's core
    /// schema.
    pub fn to_value(&self) -> Value {
        match &self.kind {
            NodeKind::Scalar { text, plain } => {
                if !plain {
                    return Value::String(text.clone());
                }
                scalar_value(text)
            }
            NodeKind::Seq(items) => Value::array(items.iter().map(Node::to_value).collect()),
            NodeKind::Map(pairs) => {
                let mut o = Object::new();
                for (k, v) in pairs {
                    o.set(k.as_str().unwrap_or_default(), v.to_value());
                }
                Value::object(o)
            }
        }
    }

    /// A short description of the node's kind for messages.
    pub fn describe(&self) -> &'static str {
        match &self.kind {
            NodeKind::Scalar { .. } => "a string",
            NodeKind::Seq(_) => "a sequence",
            NodeKind::Map(_) => "a mapping",
        }
    }
}

/// Types a plain scalar by the YAML 1.2 core schema.
pub fn scalar_value(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Value::Number(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Value::Number(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Value::Number(f64::NAN),
        _ => {}
    }
    let t = text.strip_prefix('+').unwrap_or(text);
    if let Some(hex) = t.strip_prefix("0x") {
        if let Ok(n) = i64::from_str_radix(hex, 16) {
            return Value::Number(n as f64);
        }
    } else if let Some(oct) = t.strip_prefix("0o") {
        if let Ok(n) = i64::from_str_radix(oct, 8) {
            return Value::Number(n as f64);
        }
    } else if is_yaml_number(t)
        && let Ok(n) = text.parse::<f64>()
    {
        return Value::Number(n);
    }
    Value::String(text.to_owned())
}

fn is_yaml_number(t: &str) -> bool {
    let t = t.strip_prefix('-').unwrap_or(t);
    let (mantissa, exp) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((a, b)) => (a, Some(b)),
        None => (mantissa, None),
    };
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    let ok_mantissa = digits(int) && frac.is_none_or(digits) && !(int.is_empty() && frac.is_none_or(str::is_empty));
    let ok_exp = exp.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    ok_mantissa && ok_exp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_and_on_stays_a_key() {
        let doc = "on: push\njobs:\n  a:\n    runs-on: [x, 'y']\n";
        let root = parse(doc).ok().flatten();
        let root = root.as_ref();
        let on = root.and_then(|r| r.as_map()).and_then(|m| m.first());
        assert_eq!(on.and_then(|(k, _)| k.as_str()), Some("on"));
        let runs_on = root.and_then(|r| r.get("jobs")).and_then(|j| j.get("a")).and_then(|a| a.get("runs-on"));
        assert_eq!(runs_on.map(|n| n.pos), Some(Pos { line: 4, col: 14 }));
        let items = runs_on.and_then(Node::as_seq).unwrap_or_default();
        assert_eq!(items.get(1).map(|n| n.pos), Some(Pos { line: 4, col: 18 }));
    }

    #[test]
    fn anchors_resolve_and_scalars_follow_the_core_schema() {
        let doc = "a: &x {k: yes, n: 3, t: true, q: 'true'}\nb: *x\n";
        let root = parse(doc).ok().flatten();
        let b = root.as_ref().and_then(|r| r.get("b")).map(Node::to_value);
        let json = b.map(|v| v.to_json_compact());
        assert_eq!(json.as_deref(), Some(r#"{"k":"yes","n":3,"t":true,"q":"true"}"#));
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut doc = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..8 {
            let refs = vec![format!("*a{}", i - 1); 10].join(", ");
            doc.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
        }
        let e = parse(&doc).err();
        assert!(e.is_some_and(|e| e.message.contains("more than 1000000 nodes")));
    }

    #[test]
    fn syntax_errors_name_a_position() {
        let e = parse("a: [1, 2\nb: c\n").err();
        assert!(e.is_some_and(|e| e.pos.line >= 1));
    }
}
