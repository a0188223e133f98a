//! Filesystem functions: `file`, `fileexists`, `filebase64`, the `file*`
//! hashes, `basename`, `dirname`, `abspath`, `pathexpand`. Relative paths
//! are read from [`super::FuncContext::base_dir`].

use std::path::{Path, PathBuf};

use super::crypto::{digest, hex};
use super::encoding::b64;
use super::{ANY, FResult, Func, FuncContext, S, arg_err, f, fail, p, str_arg};
use crate::value::Value;

fn resolve(ctx: &FuncContext, path: &str) -> PathBuf {
    let expanded = expand_home(path);
    let p = Path::new(&expanded);
    if p.is_absolute() { p.to_owned() } else { ctx.base_dir.join(p) }
}

fn expand_home(path: &str) -> String {
    if (path == "~" || path.starts_with("~/"))
        && let Some(home) = std::env::var_os("HOME")
    {
        return format!("{}{}", home.to_string_lossy(), &path[1..]);
    }
    path.to_owned()
}

fn read(ctx: &FuncContext, path: &str) -> Result<Vec<u8>, super::FuncError> {
    let full = resolve(ctx, path);
    std::fs::read(&full).map_err(|_| {
        super::FuncError::Arg(0, format!(
            "no file exists at {}; this function works only with files that are distributed as part of the configuration source code, so if this file will be created by a resource in this configuration you must instead obtain this result from an attribute of that resource",
            crate::format::quote(path).trim_matches('"')
        ))
    })
}

fn hashed(alg: &'static str, base64: bool) -> fn(&[Value], &FuncContext) -> FResult {
    match (alg, base64) {
        ("md5", _) => |a, c| Ok(Value::string(hex(&digest("md5", &read(c, str_arg(a, 0))?)))),
        ("sha1", _) => |a, c| Ok(Value::string(hex(&digest("sha1", &read(c, str_arg(a, 0))?)))),
        ("sha256", false) => |a, c| Ok(Value::string(hex(&digest("sha256", &read(c, str_arg(a, 0))?)))),
        ("sha256", true) => |a, c| Ok(Value::string(b64(&digest("sha256", &read(c, str_arg(a, 0))?)))),
        ("sha512", false) => |a, c| Ok(Value::string(hex(&digest("sha512", &read(c, str_arg(a, 0))?)))),
        _ => |a, c| Ok(Value::string(b64(&digest("sha512", &read(c, str_arg(a, 0))?)))),
    }
}

pub(super) fn lookup(name: &str) -> Option<Func> {
    Some(match name {
        "file" => f(vec![p("path", S)], |a, c| {
            let bytes = read(c, str_arg(a, 0))?;
            match String::from_utf8(bytes) {
                Ok(s) => Ok(Value::string(s)),
                Err(_) => fail(format!(
                    "contents of {} are not valid UTF-8; use the filebase64 function to obtain the Base64 encoded contents or the other file functions (e.g. filemd5, filesha256) to obtain file hashing results instead",
                    str_arg(a, 0)
                )),
            }
        }),
        "filebase64" => f(vec![p("path", S)], |a, c| Ok(Value::string(b64(&read(c, str_arg(a, 0))?)))),
        "fileexists" => f(vec![p("path", S)], |a, c| {
            let full = resolve(c, str_arg(a, 0));
            match std::fs::metadata(&full) {
                Ok(m) if m.is_file() => Ok(Value::Bool(true)),
                Ok(m) => fail(format!(
                    "{} is not a regular file, but {}",
                    str_arg(a, 0),
                    crate::format::quote(&mode_string(&m))
                )),
                Err(_) => Ok(Value::Bool(false)),
            }
        }),
        "filemd5" => f(vec![p("path", S)], hashed("md5", false)),
        "filesha1" => f(vec![p("path", S)], hashed("sha1", false)),
        "filesha256" => f(vec![p("path", S)], hashed("sha256", false)),
        "filesha512" => f(vec![p("path", S)], hashed("sha512", false)),
        "filebase64sha256" => f(vec![p("path", S)], hashed("sha256", true)),
        "filebase64sha512" => f(vec![p("path", S)], hashed("sha512", true)),
        "basename" => f(vec![p("path", S)], |a, _| Ok(Value::string(go_base(str_arg(a, 0))))),
        "dirname" => f(vec![p("path", S)], |a, _| Ok(Value::string(go_dir(str_arg(a, 0))))),
        "pathexpand" => f(vec![p("path", S)], |a, _| Ok(Value::string(expand_home(str_arg(a, 0))))),
        "templatefile" => f(vec![p("path", S), p("vars", ANY)], templatefile),
        "templatestring" => f(vec![p("template", S), p("vars", ANY)], templatestring),
        "fileset" => f(vec![p("path", S), p("pattern", S)], fileset),
        "abspath" => f(vec![p("path", S)], |a, c| {
            let p = Path::new(str_arg(a, 0));
            let full = if p.is_absolute() { p.to_owned() } else { c.base_dir.join(p) };
            let full = if full.is_absolute() { full } else { std::env::current_dir().unwrap_or_default().join(full) };
            Ok(Value::string(go_clean(&full.to_string_lossy())))
        }),
        _ => return None,
    })
}

/// The variables of a template file: only the names in `vars`.
struct TemplateScope<'a> {
    vars: &'a std::collections::BTreeMap<String, Value>,
}

impl crate::eval::Scope for TemplateScope<'_> {
    fn resolve(
        &self,
        root: &str,
        _attrs: &[String],
        span: Option<std::ops::Range<usize>>,
    ) -> Result<(Value, usize), crate::diag::Diagnostic> {
        match self.vars.get(root) {
            Some(v) => Ok((v.clone(), 0)),
            None => Err(crate::diag::Diagnostic::new("Unknown variable", root, span)),
        }
    }
}

/// `file:line,col-col` of a byte range, as HCL names ranges.
fn range_text(path: &str, src: &str, span: &Option<std::ops::Range<usize>>) -> String {
    let Some(r) = span else { return path.to_owned() };
    let before = &src[..r.start.min(src.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    let len = src.get(r.clone()).map_or(0, |t| t.chars().count());
    format!("{path}:{line},{col}-{}", col + len)
}

fn templatefile(a: &[Value], ctx: &FuncContext) -> FResult {
    let path = str_arg(a, 0);
    let bytes = read(ctx, path)?;
    let src = String::from_utf8(bytes).or_else(|_| arg_err(0, format!("contents of {path} are not valid UTF-8")))?;
    render_template(path, &src, &a[1], ctx)
}

/// `templatestring`: a string value rendered as a template.
fn templatestring(a: &[Value], ctx: &FuncContext) -> FResult {
    render_template("<templatestring>", str_arg(a, 0), &a[1], ctx)
}

/// Renders template text with only `vars` in scope.
fn render_template(path: &str, src: &str, vars: &Value, ctx: &FuncContext) -> FResult {
    let src = src.to_owned();
    let vars = match vars.unmarked() {
        Value::Object(m) | Value::Map(_, m) => m.clone(),
        Value::Null(_) => std::collections::BTreeMap::new(),
        _ => return arg_err(1, "invalid vars value: must be a map"),
    };
    let template =
        hcl_edit::parser::parse_template(&src).or_else(|e| fail(format!("failed to parse {path}: {}", e.message())))?;
    let scope = TemplateScope { vars: &vars };
    let mut ev = crate::eval::Evaluator::new(&scope, ctx);
    ev.eval_template(&template).map_err(|d| {
        if d.summary == "Unknown variable" {
            super::FuncError::Arg(
                1,
                format!(
                    "vars map does not contain key {}, referenced at {}",
                    crate::format::quote(&d.detail),
                    range_text(path, &src, &d.span)
                ),
            )
        } else {
            super::FuncError::Failed(format!("{}: {}; {}", range_text(path, &src, &d.span), d.summary, d.detail))
        }
    })
}

/// `fileset`: files (not directories) under `path` matching a glob with
/// `*`, `?`, `[...]` and `**`, as paths relative to `path`.
fn fileset(a: &[Value], ctx: &FuncContext) -> FResult {
    let base = resolve(ctx, str_arg(a, 0));
    let pattern = str_arg(a, 1);
    let parts: Vec<&str> = pattern.split('/').filter(|p| !p.is_empty() && *p != ".").collect();
    let mut found = Vec::new();
    walk(&base, "", &parts, &mut found)
        .or_else(|e: String| fail(format!("failed to glob pattern ({pattern}): {e}")))?;
    Ok(Value::set(S, found.into_iter().map(Value::string).collect()))
}

fn walk(dir: &Path, rel: &str, parts: &[&str], found: &mut Vec<String>) -> Result<(), String> {
    let Some((first, rest)) = parts.split_first() else { return Ok(()) };
    if *first == "**" && rest.is_empty() {
        for (name, is_dir) in entries(dir) {
            let r = join_rel(rel, &name);
            if is_dir {
                walk(&dir.join(&name), &r, parts, found)?;
            } else {
                found.push(r);
            }
        }
        return Ok(());
    }
    if *first == "**" {
        walk(dir, rel, rest, found)?;
        for (name, is_dir) in entries(dir) {
            if is_dir {
                walk(&dir.join(&name), &join_rel(rel, &name), parts, found)?;
            }
        }
        return Ok(());
    }
    for (name, is_dir) in entries(dir) {
        if !glob_match(first, &name)? {
            continue;
        }
        let r = join_rel(rel, &name);
        if rest.is_empty() {
            if !is_dir {
                found.push(r);
            }
        } else if is_dir {
            walk(&dir.join(&name), &r, rest, found)?;
        }
    }
    Ok(())
}

fn join_rel(rel: &str, name: &str) -> String {
    if rel.is_empty() { name.to_owned() } else { format!("{rel}/{name}") }
}

fn entries(dir: &Path) -> Vec<(String, bool)> {
    let mut out: Vec<(String, bool)> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path().is_dir()))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// One path segment against one glob segment (`*`, `?`, `[a-z]`, `[^x]`, `\x`).
fn glob_match(pat: &str, name: &str) -> Result<bool, String> {
    fn m(p: &[char], n: &[char]) -> Result<bool, String> {
        match p.first() {
            None => Ok(n.is_empty()),
            Some('*') => {
                for i in 0..=n.len() {
                    if m(&p[1..], &n[i..])? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Some('?') => Ok(!n.is_empty() && m(&p[1..], &n[1..])?),
            Some('[') => {
                let close = p.iter().position(|c| *c == ']').ok_or("syntax error in pattern")?;
                let Some(&c) = n.first() else { return Ok(false) };
                let mut class = &p[1..close];
                let negate = matches!(class.first(), Some('^' | '!'));
                if negate {
                    class = &class[1..];
                }
                let mut hit = false;
                let mut i = 0;
                while i < class.len() {
                    if i + 2 < class.len() && class[i + 1] == '-' {
                        hit |= class[i] <= c && c <= class[i + 2];
                        i += 3;
                    } else {
                        hit |= class[i] == c;
                        i += 1;
                    }
                }
                Ok(hit != negate && m(&p[close + 1..], &n[1..])?)
            }
            Some('\\') if p.len() > 1 => Ok(n.first() == Some(&p[1]) && m(&p[2..], &n[1..])?),
            Some(c) => Ok(n.first() == Some(c) && m(&p[1..], &n[1..])?),
        }
    }
    let n: Vec<char> = name.chars().collect();
    for alt in expand_braces(pat) {
        let p: Vec<char> = alt.chars().collect();
        if m(&p, &n)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// `a{b,c}d` → `abd`, `acd` (nested braces expand too).
fn expand_braces(pat: &str) -> Vec<String> {
    let Some(open) = pat.find('{') else { return vec![pat.to_owned()] };
    let mut depth = 0;
    let mut close = None;
    let mut commas = Vec::new();
    for (i, c) in pat[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(open + i);
                    break;
                }
            }
            ',' if depth == 1 => commas.push(open + i),
            _ => {}
        }
    }
    let Some(close) = close else { return vec![pat.to_owned()] };
    let mut bounds = vec![open];
    bounds.extend(commas);
    bounds.push(close);
    let mut out = Vec::new();
    for w in bounds.windows(2) {
        let choice = &pat[w[0] + 1..w[1]];
        for tail in expand_braces(&pat[close + 1..]) {
            out.extend(expand_braces(&format!("{}{choice}{tail}", &pat[..open])));
        }
    }
    out
}

/// Go's `FileMode.String()` for a directory or special file, e.g.
/// `drwxr-xr-x`.
fn mode_string(m: &std::fs::Metadata) -> String {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = m.permissions().mode();
    let mut s = String::from(if m.is_dir() { "d" } else { "-" });
    for (i, c) in "rwxrwxrwx".chars().enumerate() {
        s.push(if mode & (1 << (8 - i)) != 0 { c } else { '-' });
    }
    s
}

/// Go's `filepath.Clean`.
fn go_clean(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// Go's `filepath.Base`.
fn go_base(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/".into();
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed).to_owned()
}

/// Go's `filepath.Dir`.
fn go_dir(path: &str) -> String {
    let dir = match path.rfind('/') {
        Some(i) => &path[..=i],
        None => "",
    };
    go_clean(dir)
}

#[cfg(test)]
mod tests {
    use crate::funcs::testutil::ev;

    #[test]
    fn paths() {
        assert_eq!(ev(r#"basename("foo/bar/baz.txt")"#), r#""baz.txt""#);
        assert_eq!(ev(r#"dirname("foo/bar/baz.txt")"#), r#""foo/bar""#);
        assert_eq!(ev(r#"dirname("baz.txt")"#), "\".\"");
        assert_eq!(ev(r#"fileexists("/nonexistent/cloudlet")"#), "false");
        assert!(ev(r#"file("/nonexistent/cloudlet")"#).contains("no file exists at"));
    }
}
