//! `hashFiles(patterns…)` with the runner's algorithm: the files under the
//! workspace that the patterns match (a later `!pattern` excludes, a
//! matched directory brings its files), in sorted path order; each file's
//! SHA-256 digest is fed, as 32 raw bytes, into one SHA-256 whose hex is
//! the result; no file gives `''`. Symbolic links are not followed.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Hashes the files under `workspace` matched by `patterns`.
pub fn hash_files(workspace: &Path, patterns: &[String]) -> Result<String, String> {
    let mut total = Sha256::new();
    let mut any = false;
    for rel in matched_files(workspace, patterns)? {
        let bytes = std::fs::read(workspace.join(&rel)).map_err(|e| format!("hashFiles: {rel}: {e}"))?;
        total.update(Sha256::digest(&bytes));
        any = true;
    }
    Ok(if any { hex(&total.finalize()) } else { String::new() })
}

/// The files under `workspace` (relative paths, sorted) that the patterns
/// match: each line a pattern, `!` excludes, later lines win, a matched
/// directory brings its files.
pub fn matched_files(workspace: &Path, patterns: &[String]) -> Result<Vec<String>, String> {
    let rules: Vec<(bool, Vec<String>)> = patterns
        .iter()
        .flat_map(|p| {
            p.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .map(|p| {
            let (negate, body) = match p.strip_prefix('!') {
                Some(rest) => (true, rest.to_owned()),
                None => (false, p),
            };
            let ws = workspace.to_string_lossy().into_owned();
            let rel = body.strip_prefix(&format!("{ws}/")).map(str::to_owned).unwrap_or(body);
            let rel = rel.strip_prefix("./").map(str::to_owned).unwrap_or(rel);
            (negate, rel.split('/').filter(|s| !s.is_empty()).map(str::to_owned).collect())
        })
        .collect();
    let mut files = Vec::new();
    walk(workspace, workspace, &mut files).map_err(|e| format!("hashFiles: {e}"))?;
    files.sort();
    Ok(files
        .into_iter()
        .filter(|rel| {
            let parts: Vec<&str> = rel.split('/').collect();
            let mut included = false;
            for (negate, pat) in &rules {
                // A pattern matching the file or one of its directories matches it.
                if (1..=parts.len()).any(|n| glob_match(pat, &parts[..n])) {
                    included = !negate;
                }
            }
            included
        })
        .collect())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Regular files under `dir`, relative to `root`, without following links.
fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        let meta = std::fs::symlink_metadata(&p)?;
        if meta.is_dir() {
            walk(root, &p, out)?;
        } else if meta.is_file()
            && let Ok(rel) = p.strip_prefix(root)
        {
            out.push(rel.to_string_lossy().into_owned());
        }
    }
    Ok(())
}

/// Matches path segments against pattern segments (`**` spans any number
/// of segments).
fn glob_match(pat: &[String], path: &[&str]) -> bool {
    match pat.split_first() {
        None => path.is_empty(),
        Some((first, rest)) if first == "**" => (0..=path.len()).any(|i| glob_match(rest, &path[i..])),
        Some((first, rest)) => {
            !path.is_empty() && segment_match(first.as_bytes(), path[0].as_bytes()) && glob_match(rest, &path[1..])
        }
    }
}

/// `*`, `?` and `[...]` (with `!`/`^` negation and ranges) in one segment.
fn segment_match(p: &[u8], s: &[u8]) -> bool {
    match p.first() {
        None => s.is_empty(),
        Some(b'*') => (0..=s.len()).any(|i| segment_match(&p[1..], &s[i..])),
        Some(b'?') => !s.is_empty() && segment_match(&p[1..], &s[1..]),
        Some(b'[') => {
            let Some(close) = p.iter().skip(1).position(|c| *c == b']').map(|i| i + 1) else {
                return !s.is_empty() && s[0] == b'[' && segment_match(&p[1..], &s[1..]);
            };
            let Some(&c) = s.first() else { return false };
            let mut class = &p[1..close];
            let negate = matches!(class.first(), Some(b'!' | b'^'));
            if negate {
                class = &class[1..];
            }
            let mut hit = false;
            let mut i = 0;
            while i < class.len() {
                if i + 2 < class.len() && class[i + 1] == b'-' {
                    hit |= class[i] <= c && c <= class[i + 2];
                    i += 3;
                } else {
                    hit |= class[i] == c;
                    i += 1;
                }
            }
            hit != negate && segment_match(&p[close + 1..], &s[1..])
        }
        Some(&c) => !s.is_empty() && s[0] == c && segment_match(&p[1..], &s[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, rel: &str, body: &str) {
        let p = dir.join(rel);
        if let Some(parent) = p.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        let _ = std::fs::write(p, body);
    }

    #[test]
    fn digests_of_digests_in_path_order() {
        let dir = tempfile::tempdir().map_err(|e| e.to_string());
        let dir = dir.as_ref().map(|d| d.path()).unwrap_or(Path::new("/nonexistent"));
        write(dir, "a/x.lock", "one");
        write(dir, "b/y.lock", "two");
        write(dir, "b/skip.lock", "three");
        write(dir, "c.txt", "four");
        let mut want = Sha256::new();
        want.update(Sha256::digest(b"one"));
        want.update(Sha256::digest(b"two"));
        let want = hex(&want.finalize());
        let pats = ["**/*.lock".to_owned(), "!b/skip.lock".to_owned()];
        assert_eq!(hash_files(dir, &pats), Ok(want.clone()));
        // A directory pattern brings its files; `*` does not cross `/`.
        assert_eq!(hash_files(dir, &["a".to_owned(), "b/y.lock".to_owned()]), Ok(want));
        assert_eq!(hash_files(dir, &["*.lock".to_owned()]), Ok(String::new()));
        assert_eq!(hash_files(dir, &["c.[st]x?".to_owned()]).map(|h| h.len()), Ok(64));
    }
}
