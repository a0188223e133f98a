//! Reading configurations: the `.tf` and `.tf.json` files of a directory,
//! parsed once, with every file's source kept so diagnostics can quote the
//! line they point at.
//!
//! `.tf` files are parsed with hcl-edit (byte spans on every expression).
//! `.tf.json` files are parsed as JSON and kept as JSON: in Terraform's JSON
//! syntax, strings are templates and the meaning of a property depends on
//! the block schema, which the engine applies when it decodes blocks.

use std::path::{Path, PathBuf};

use hcl_edit::expr::Expression;
use hcl_edit::structure::Body;

use crate::diag::Diagnostic;

/// One parsed file.
#[derive(Debug)]
pub enum FileBody {
    Hcl(Body),
    Json(serde_json::Value),
}

/// A configuration file: where it came from, its text and its body.
#[derive(Debug)]
pub struct SourceFile {
    pub path: PathBuf,
    pub source: String,
    pub body: FileBody,
}

impl SourceFile {
    /// The 1-based line number and the text of the line at byte `offset`.
    pub fn line_at(&self, offset: usize) -> (usize, &str) {
        let offset = offset.min(self.source.len());
        let line_no = self.source[..offset].matches('\n').count() + 1;
        let text = self.source.lines().nth(line_no - 1).unwrap_or("");
        (line_no, text)
    }
}

/// A diagnostic for a file that failed to parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseFailure {
    pub path: PathBuf,
    pub line: usize,
    pub column: usize,
    pub diagnostic: Diagnostic,
}

/// Reads every `.tf` and `.tf.json` file of `dir` in name order (the order
/// Terraform loads them in). Override files are not special yet.
pub fn load_dir(dir: &Path) -> Result<Vec<SourceFile>, Vec<ParseFailure>> {
    let mut names: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                (n.ends_with(".tf") || n.ends_with(".tf.json")) && !n.starts_with('.')
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    let mut files = Vec::new();
    let mut failures = Vec::new();
    for path in names {
        let source = match std::fs::read_to_string(&path) {
            Ok(s) => s,
            Err(e) => {
                failures.push(ParseFailure {
                    path: path.clone(),
                    line: 0,
                    column: 0,
                    diagnostic: Diagnostic::new(
                        "Failed to read file",
                        format!("The configuration file {:?} could not be read: {e}.", path),
                        None,
                    ),
                });
                continue;
            }
        };
        match parse_file(&path, &source) {
            Ok(body) => files.push(SourceFile { path, source, body }),
            Err(f) => failures.push(*f),
        }
    }
    if failures.is_empty() { Ok(files) } else { Err(failures) }
}

/// Parses one file's text by its name (`.tf.json` as JSON, else HCL).
pub fn parse_file(path: &Path, source: &str) -> Result<FileBody, Box<ParseFailure>> {
    let is_json = path.to_str().is_some_and(|p| p.ends_with(".tf.json"));
    if is_json {
        return serde_json::from_str::<serde_json::Value>(source).map(FileBody::Json).map_err(|e| {
            Box::new(ParseFailure {
                path: path.to_owned(),
                line: e.line(),
                column: e.column(),
                diagnostic: Diagnostic::new("Invalid JSON", format!("{e}"), None),
            })
        });
    }
    hcl_edit::parser::parse_body(source).map(FileBody::Hcl).map_err(|e| {
        let loc = e.location();
        Box::new(ParseFailure {
            path: path.to_owned(),
            line: loc.line(),
            column: loc.column(),
            diagnostic: Diagnostic::new(
                "Invalid configuration syntax",
                e.message().to_owned(),
                Some(loc.offset()..loc.offset()),
            ),
        })
    })
}

/// Parses one expression (a console line).
pub fn parse_expression(src: &str) -> Result<Expression, Diagnostic> {
    hcl_edit::parser::parse_expr(src).map_err(|e| {
        let offset = e.location().offset();
        if let Some((at, c)) = invalid_escape(src) {
            return Diagnostic::new(
                "Invalid escape sequence",
                format!("The symbol {} is not a valid escape sequence selector.", crate::format::quote(&c.to_string())),
                Some(at..at + 1),
            );
        }
        let (summary, detail) = syntax_error_words(src, offset);
        Diagnostic::new(summary, detail, Some(offset..offset))
    })
}

/// Terraform's words for the commonest syntax errors in one expression,
/// told apart from where the parser stopped; anything else is an invalid
/// expression token, as most of Terraform's own are.
fn syntax_error_words(src: &str, offset: usize) -> (&'static str, &'static str) {
    let trimmed = src.trim();
    let mut quotes = 0;
    let mut escaped = false;
    for c in trimmed.chars() {
        match c {
            '\\' if !escaped => escaped = true,
            '"' if !escaped => quotes += 1,
            _ => escaped = false,
        }
    }
    if quotes % 2 == 1 {
        return ("Unterminated template string", "No closing marker was found for the string.");
    }
    if (trimmed.starts_with("[for ") || trimmed.starts_with("{for ")) && !trimmed.contains(':') {
        return ("Invalid 'for' expression", "For expression requires a colon after the collection expression.");
    }
    if trimmed.contains('?') && !trimmed.contains(':') && !trimmed.contains('"') {
        return (
            "Missing false expression in conditional",
            "The conditional operator (...?...:...) requires a false expression, delimited by a colon.",
        );
    }
    let before = src.get(..offset).unwrap_or(src).trim_end();
    let rest = src.get(offset..).unwrap_or("").trim_start();
    let starts_value = rest.starts_with(|c: char| c.is_alphanumeric() || matches!(c, '"' | '[' | '{' | '_'));
    if (before.ends_with('.') && !before.ends_with("..")) || (rest.starts_with('.') && !rest.starts_with("..")) {
        return ("Invalid attribute name", "An attribute name is required after a dot.");
    }
    if offset > 0 && starts_value && hcl_edit::parser::parse_expr(before).is_ok() {
        return (
            "Extra characters after expression",
            "An expression was successfully parsed, but extra characters were found after it.",
        );
    }
    // Inside a tuple, a value followed by another without a comma.
    let mut depth: Vec<char> = Vec::new();
    for c in before.chars() {
        match c {
            '[' | '{' | '(' => depth.push(c),
            ']' | '}' | ')' => {
                depth.pop();
            }
            _ => {}
        }
    }
    let last = before.chars().last();
    if depth.last() == Some(&'[') && !matches!(last, Some(',' | '[') | None) && starts_value {
        return ("Missing item separator", "Expected a comma to mark the beginning of the next item.");
    }
    ("Invalid expression", "Expected the start of an expression, but found an invalid expression token.")
}

/// A JSON value as an expression, with the meaning Terraform's JSON syntax
/// gives it: strings are templates (`"${var.x}"`), arrays tuples, objects
/// objects whose keys are templates too; `"//"` keys are comments.
pub fn json_expression(j: &serde_json::Value) -> Result<Expression, Diagnostic> {
    use hcl_edit::expr::{Array, Object, ObjectKey, ObjectValue};
    Ok(match j {
        serde_json::Value::Null => Expression::null(),
        serde_json::Value::Bool(b) => Expression::from(*b),
        serde_json::Value::Number(n) => parse_expression(&n.to_string())?,
        serde_json::Value::String(s) => json_template(s)?,
        serde_json::Value::Array(items) => {
            Expression::Array(items.iter().map(json_expression).collect::<Result<Array, _>>()?)
        }
        serde_json::Value::Object(map) => {
            let mut obj = Object::new();
            for (k, v) in map {
                if k == "//" {
                    continue;
                }
                obj.insert(ObjectKey::Expression(json_template(k)?), ObjectValue::new(json_expression(v)?));
            }
            Expression::Object(obj)
        }
    })
}

fn json_template(s: &str) -> Result<Expression, Diagnostic> {
    let template = hcl_edit::parser::parse_template(s).map_err(|e| {
        Diagnostic::new(
            "Invalid template",
            format!("{} in the JSON string {}", e.message(), crate::format::quote(s)),
            None,
        )
    })?;
    Ok(Expression::StringTemplate(hcl_edit::template::StringTemplate::from(template.into_iter().collect::<Vec<_>>())))
}

/// The first backslash escape in a quoted string that HCL does not know.
fn invalid_escape(src: &str) -> Option<(usize, char)> {
    let mut in_string = false;
    let mut chars = src.char_indices();
    while let Some((_, c)) = chars.next() {
        match c {
            '"' => in_string = !in_string,
            '\\' if in_string => match chars.next() {
                Some((_, 'n' | 'r' | 't' | '"' | '\\' | 'u' | 'U')) => {}
                Some((j, other)) => return Some((j, other)),
                None => return None,
            },
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hcl_and_json_and_reports_lines() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("a.tf"), "locals {\n  x = 1\n}\n").expect("write");
        std::fs::write(dir.path().join("b.tf.json"), "{\"locals\": {\"y\": 2}}").expect("write");
        let files = load_dir(dir.path()).expect("parses");
        assert_eq!(files.len(), 2);
        assert!(matches!(files[0].body, FileBody::Hcl(_)));
        assert!(matches!(files[1].body, FileBody::Json(_)));
        assert_eq!(files[0].line_at(11), (2, "  x = 1"));

        std::fs::write(dir.path().join("c.tf"), "locals {\n  x = \n").expect("write");
        let failures = load_dir(dir.path()).expect_err("syntax error");
        assert_eq!(failures.len(), 1);
        assert!(failures[0].line >= 2, "{:?}", failures[0]);
    }
}
