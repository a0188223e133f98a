//! Filesystem functions: `file`, `fileexists`, `filebase64`, the `file*`
//! hashes, `basename`, `dirname`, `abspath`, `pathexpand`. Relative paths
//! are read from [`super::FuncContext::base_dir`].

use std::path::{Path, PathBuf};

use super::crypto::{digest, hex};
use super::encoding::b64;
use super::{FResult, Func, FuncContext, S, f, fail, p, str_arg};
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
                Ok(_) => fail(format!("{} is not a regular file, but {:?}", str_arg(a, 0), "directory")),
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
        "abspath" => f(vec![p("path", S)], |a, c| {
            let p = Path::new(str_arg(a, 0));
            let full = if p.is_absolute() { p.to_owned() } else { c.base_dir.join(p) };
            let full = if full.is_absolute() { full } else { std::env::current_dir().unwrap_or_default().join(full) };
            Ok(Value::string(go_clean(&full.to_string_lossy())))
        }),
        _ => return None,
    })
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
