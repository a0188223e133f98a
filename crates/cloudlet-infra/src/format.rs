//! Values printed the way Terraform's console prints them: `"string"`,
//! `tolist([...])`, `toset([...])`, `tomap({...})`, objects as `{ "k" = v }`
//! without commas, tuples with trailing commas, multi-line strings as
//! heredocs, `(sensitive)` and `(known after apply)`.

use crate::value::{Type, Value};

/// The console rendering of a value (without a trailing newline).
pub fn format_value(v: &Value) -> String {
    format_indented(v, 0)
}

fn format_indented(v: &Value, indent: usize) -> String {
    match v {
        Value::Unknown(_) => "(known after apply)".into(),
        Value::Marked(_) => "(sensitive)".into(),
        Value::Null(ty) => format_null(ty),
        Value::String(s) => match heredoc(s, indent) {
            Some(h) => h,
            None => quote(s),
        },
        Value::Number(n) => n.to_text(),
        Value::Bool(b) => b.to_string(),
        Value::Object(m) => mapping(m.iter(), indent),
        Value::Tuple(items) => sequence(items, indent),
        Value::List(_, items) => format!("tolist({})", sequence(items, indent)),
        Value::Set(_, items) => format!("toset({})", sequence(items, indent)),
        Value::Map(_, m) => format!("tomap({})", mapping(m.iter(), indent)),
    }
}

/// A null with its type, so that `tostring(null)` reads back as a string.
pub fn format_null(ty: &Type) -> String {
    match ty {
        Type::Dynamic => "null".into(),
        Type::String => "tostring(null)".into(),
        Type::Number => "tonumber(null)".into(),
        Type::Bool => "tobool(null)".into(),
        Type::List(e) => format!("tolist(null) /* of {} */", e.friendly_name()),
        Type::Set(e) => format!("toset(null) /* of {} */", e.friendly_name()),
        Type::Map(e) => format!("tomap(null) /* of {} */", e.friendly_name()),
        other => format!("null /* {} */", other.friendly_name()),
    }
}

fn heredoc(s: &str, indent: usize) -> Option<String> {
    let lines: Vec<&str> = s.split('\n').collect();
    if lines.len() < 2 {
        return None;
    }
    let op = if indent > 0 { "<<-" } else { "<<" };
    let mut delim = String::from("EOT");
    while lines.iter().any(|l| l.trim() == delim) {
        delim.push('_');
    }
    let pad = " ".repeat(indent);
    let mut out = format!("{op}{delim}");
    for line in lines {
        out.push('\n');
        out.push_str(&pad);
        out.push_str(line);
    }
    out.push('\n');
    out.push_str(&pad);
    out.push_str(&delim);
    Some(out)
}

fn sequence(items: &[Value], indent: usize) -> String {
    let mut out = String::from("[");
    let inner = indent + 2;
    for v in items {
        out.push('\n');
        out.push_str(&" ".repeat(inner));
        out.push_str(&format_indented(v, inner));
        out.push(',');
    }
    if !items.is_empty() {
        out.push('\n');
        out.push_str(&" ".repeat(indent));
    }
    out.push(']');
    out
}

fn mapping<'a>(entries: impl Iterator<Item = (&'a String, &'a Value)>, indent: usize) -> String {
    let mut out = String::from("{");
    let inner = indent + 2;
    let mut count = 0;
    for (k, v) in entries {
        count += 1;
        out.push('\n');
        out.push_str(&" ".repeat(inner));
        out.push_str(&quote(k));
        out.push_str(" = ");
        out.push_str(&format_indented(v, inner));
    }
    if count > 0 {
        out.push('\n');
        out.push_str(&" ".repeat(indent));
    }
    out.push('}');
    out
}

/// A Go-style quoted string: `\"`, `\\`, `\n`, `\t`, ... escaped, other
/// control and non-printable characters as `\x`/`\u`, printable Unicode kept.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if is_printable(c) => out.push(c),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

fn is_printable(c: char) -> bool {
    let u = c as u32;
    !(0x80..0xa0).contains(&u)
        && !matches!(u, 0xad | 0x2028 | 0x2029 | 0xfeff | 0xfffe | 0xffff)
        && !(0xd800..0xe000).contains(&u)
        && !(0xe000..0xf900).contains(&u)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn layouts() {
        let obj =
            Value::Object(BTreeMap::from([("a".to_owned(), Value::int(1)), ("k".to_owned(), Value::string("x\ny"))]));
        assert_eq!(format_value(&obj), "{\n  \"a\" = 1\n  \"k\" = <<-EOT\n  x\n  y\n  EOT\n}");
        assert_eq!(format_value(&Value::string("line1\nline2\n")), "<<EOT\nline1\nline2\n\nEOT");
        assert_eq!(format_value(&Value::list(Type::String, vec![])), "tolist([])");
        assert_eq!(format_value(&Value::Tuple(vec![Value::int(1), Value::Bool(true)])), "[\n  1,\n  true,\n]");
        assert_eq!(quote("tab\there é"), "\"tab\\there é\"");
    }
}
