//! Trigger filters: GitHub's filter pattern language (not glob) and the
//! push / pull_request rules for branches, tags and paths.
//!
//! In a pattern `*` matches any characters but `/`, `**` any characters,
//! `**/` any number of whole directories (also none), `?` makes the
//! preceding character or class optional, `+` repeats it, `[...]` is a
//! class with `a-z`-style ranges, `\` escapes. A leading `!` negates, and
//! patterns apply in order, so a later one can re-include what an earlier
//! one excluded. Pure.

use crate::yaml::Node;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Atom {
    Char(char),
    Class {
        negated: bool,
        items: Vec<(char, char)>,
    },
    /// `*`: any run of characters other than `/`.
    Star,
    /// `**`: any run of characters.
    StarStar,
    /// `**/`: nothing, or any run of characters ending in `/`.
    Dirs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Quant {
    One,
    Optional,
    OneOrMore,
}

fn compile(pattern: &str) -> Vec<(Atom, Quant)> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out: Vec<(Atom, Quant)> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '*' if chars.get(i + 1) == Some(&'*') => {
                if chars.get(i + 2) == Some(&'/') {
                    out.push((Atom::Dirs, Quant::One));
                    i += 3;
                } else {
                    out.push((Atom::StarStar, Quant::One));
                    i += 2;
                }
                continue;
            }
            '*' => out.push((Atom::Star, Quant::One)),
            '?' | '+'
                if out
                    .last()
                    .is_some_and(|(a, q)| *q == Quant::One && matches!(a, Atom::Char(_) | Atom::Class { .. })) =>
            {
                if let Some(last) = out.last_mut() {
                    last.1 = if c == '?' { Quant::Optional } else { Quant::OneOrMore };
                }
            }
            '[' => {
                let mut j = i + 1;
                let negated = matches!(chars.get(j), Some('!' | '^'));
                if negated {
                    j += 1;
                }
                let mut items = Vec::new();
                while j < chars.len() && chars[j] != ']' {
                    if j + 2 < chars.len() && chars[j + 1] == '-' && chars[j + 2] != ']' {
                        items.push((chars[j], chars[j + 2]));
                        j += 3;
                    } else {
                        items.push((chars[j], chars[j]));
                        j += 1;
                    }
                }
                if j < chars.len() {
                    out.push((Atom::Class { negated, items }, Quant::One));
                    i = j + 1;
                    continue;
                }
                out.push((Atom::Char('['), Quant::One));
            }
            '\\' if i + 1 < chars.len() => {
                out.push((Atom::Char(chars[i + 1]), Quant::One));
                i += 2;
                continue;
            }
            c => out.push((Atom::Char(c), Quant::One)),
        }
        i += 1;
    }
    out
}

fn atom_matches_one(a: &Atom, c: char) -> bool {
    match a {
        Atom::Char(x) => *x == c,
        Atom::Class { negated, items } => items.iter().any(|(lo, hi)| *lo <= c && c <= *hi) != *negated,
        _ => false,
    }
}

fn match_from(p: &[(Atom, Quant)], s: &[char]) -> bool {
    let Some(((atom, quant), rest)) = p.split_first() else { return s.is_empty() };
    match atom {
        Atom::Star => {
            let limit = s.iter().position(|c| *c == '/').unwrap_or(s.len());
            (0..=limit).any(|i| match_from(rest, &s[i..]))
        }
        Atom::StarStar => (0..=s.len()).any(|i| match_from(rest, &s[i..])),
        Atom::Dirs => {
            match_from(rest, s)
                || s.iter().enumerate().any(|(i, c)| *c == '/' && i > 0 && match_from(rest, &s[i + 1..]))
        }
        _ => match quant {
            Quant::One => s.first().is_some_and(|c| atom_matches_one(atom, *c)) && match_from(rest, &s[1..]),
            Quant::Optional => {
                match_from(rest, s)
                    || (s.first().is_some_and(|c| atom_matches_one(atom, *c)) && match_from(rest, &s[1..]))
            }
            Quant::OneOrMore => {
                let run = s.iter().take_while(|c| atom_matches_one(atom, **c)).count();
                (1..=run).any(|n| match_from(rest, &s[n..]))
            }
        },
    }
}

/// Whether one pattern (without its `!`) matches the whole text.
pub fn pattern_matches(pattern: &str, text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    match_from(&compile(pattern), &chars)
}

/// Applies patterns in order: a match sets the answer, `!` to false.
pub fn patterns_match(patterns: &[String], text: &str) -> bool {
    let mut matched = false;
    for p in patterns {
        match p.strip_prefix('!') {
            Some(neg) if pattern_matches(neg, text) => matched = false,
            Some(_) => {}
            None if pattern_matches(p, text) => matched = true,
            None => {}
        }
    }
    matched
}

fn strings(n: Option<&Node>) -> Option<Vec<String>> {
    let n = n?;
    match n.as_seq() {
        Some(items) => Some(items.iter().filter_map(|i| i.as_str().map(str::to_owned)).collect()),
        None => n.as_str().map(|s| vec![s.to_owned()]),
    }
}

/// Whether `event` for `git_ref` (and, when known, the changed files)
/// passes the workflow's `on.<event>` filters. `Err` explains why not.
pub fn check_trigger(
    on: Option<&Node>,
    event: &str,
    git_ref: &str,
    base_ref: Option<&str>,
    action: Option<&str>,
    changed: Option<&[String]>,
) -> Result<(), String> {
    let Some(cfg) = on.and_then(|on| on.get(event)) else { return Ok(()) };
    if cfg.is_null() {
        return Ok(());
    }
    let branches = strings(cfg.get("branches"));
    let branches_ignore = strings(cfg.get("branches-ignore"));
    let tags = strings(cfg.get("tags"));
    let tags_ignore = strings(cfg.get("tags-ignore"));
    let ref_check =
        |name: &str, inc: &Option<Vec<String>>, ign: &Option<Vec<String>>, what: &str| -> Result<(), String> {
            if let Some(p) = inc
                && !patterns_match(p, name)
            {
                return Err(format!("{what} '{name}' matches none of on.{event}.{what}es"));
            }
            if let Some(p) = ign
                && patterns_match(p, name)
            {
                return Err(format!("{what} '{name}' matches on.{event}.{what}es-ignore"));
            }
            Ok(())
        };
    match event {
        "push" => {
            if let Some(branch) = git_ref.strip_prefix("refs/heads/") {
                if branches.is_none() && branches_ignore.is_none() && (tags.is_some() || tags_ignore.is_some()) {
                    return Err(format!("on.push filters only tags, and '{git_ref}' is a branch"));
                }
                ref_check(branch, &branches, &branches_ignore, "branch")?;
            } else if let Some(tag) = git_ref.strip_prefix("refs/tags/") {
                if tags.is_none() && tags_ignore.is_none() && (branches.is_some() || branches_ignore.is_some()) {
                    return Err(format!("on.push filters only branches, and '{git_ref}' is a tag"));
                }
                let (inc, ign) = (&tags, &tags_ignore);
                if let Some(p) = inc
                    && !patterns_match(p, tag)
                {
                    return Err(format!("tag '{tag}' matches none of on.push.tags"));
                }
                if let Some(p) = ign
                    && patterns_match(p, tag)
                {
                    return Err(format!("tag '{tag}' matches on.push.tags-ignore"));
                }
                // Path filters are not evaluated for pushes of tags.
                return Ok(());
            }
        }
        "pull_request" | "pull_request_target" => {
            if let Some(base) = base_ref {
                ref_check(base.trim_start_matches("refs/heads/"), &branches, &branches_ignore, "branch")?;
            }
            let types = strings(cfg.get("types"))
                .unwrap_or_else(|| ["opened", "synchronize", "reopened"].iter().map(|s| (*s).to_owned()).collect());
            if let Some(a) = action
                && !types.iter().any(|t| t == a)
            {
                return Err(format!("activity type '{a}' is not in on.{event}.types ({})", types.join(", ")));
            }
        }
        _ => return Ok(()),
    }
    if let Some(files) = changed {
        if let Some(p) = strings(cfg.get("paths"))
            && !files.iter().any(|f| patterns_match(&p, f))
        {
            return Err(format!("no changed file matches on.{event}.paths"));
        }
        if let Some(p) = strings(cfg.get("paths-ignore"))
            && !files.is_empty()
            && files.iter().all(|f| patterns_match(&p, f))
        {
            return Err(format!("every changed file matches on.{event}.paths-ignore"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(p: &str, yes: &[&str], no: &[&str]) {
        for y in yes {
            assert!(pattern_matches(p, y), "{p} should match {y}");
        }
        for n in no {
            assert!(!pattern_matches(p, n), "{p} should not match {n}");
        }
    }

    #[test]
    fn githubs_cheat_sheet() {
        ok("feature/*", &["feature/my-branch", "feature/your-branch"], &["feature/a/b", "features/x"]);
        ok(
            "feature/**",
            &["feature/beta-a/my-branch", "feature/your-branch", "feature/mona/the/octocat"],
            &["feature"],
        );
        ok("*", &["main", "releases"], &["releases/v1"]);
        ok("**", &["all/the/branches", "every/tag"], &[]);
        ok("*feature", &["mona-feature", "feature", "ver-10-feature"], &["feature-x"]);
        ok("v2*", &["v2", "v2.0", "v2.9"], &["v3"]);
        ok("v[12].[0-9]+.[0-9]+", &["v1.10.1", "v2.0.0"], &["v3.0.0", "v1.x.1"]);
        ok("*.jsx?", &["page.js", "page.jsx"], &["page.jsxx", "js/page.js"]);
        ok("**.js", &["index.js", "js/index.js", "src/js/app.js"], &["index.ts"]);
        ok("docs/*", &["docs/README.md", "docs/file.txt"], &["docs/a/b.md"]);
        ok("docs/**/*.md", &["docs/README.md", "docs/mona/hello-world.md", "docs/a/markdown/file.md"], &["docs/x.txt"]);
        ok("**/docs/**", &["docs/hello.md", "dir/docs/my-file.txt", "space/docs/plan/space.doc"], &["doc/x"]);
        ok("**/README.md", &["README.md", "js/README.md"], &["README.txt"]);
        ok("**/*src/**", &["a/src/app.js", "my-src/code/js/app.js"], &["src.js"]);
        ok("**/*-post.md", &["my-post.md", "path/their-post.md"], &["post.md"]);
        ok("**/migrate-*.sql", &["migrate-10909.sql", "db/migrate-v1.0.sql", "db/sept/migrate-v1.sql"], &[]);
        let p = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let md = p(&["*.md", "!README.md"]);
        assert!(patterns_match(&md, "hello.md") && !patterns_match(&md, "README.md"));
        assert!(!patterns_match(&md, "docs/hello.md"));
        let re = p(&["*.md", "!README.md", "README*"]);
        assert!(patterns_match(&re, "README.md") && patterns_match(&re, "README.doc"));
    }

    #[test]
    fn push_and_pull_request_rules() {
        let on = crate::yaml::parse(
            "push:\n  branches: [main, 'releases/**']\n  paths: ['src/**']\npull_request:\n  types: [closed]\n",
        )
        .ok()
        .flatten();
        let on = on.as_ref();
        let src = vec!["src/a.rs".to_owned()];
        assert_eq!(check_trigger(on, "push", "refs/heads/main", None, None, Some(&src)), Ok(()));
        assert!(check_trigger(on, "push", "refs/heads/dev", None, None, Some(&src)).is_err());
        assert!(check_trigger(on, "push", "refs/tags/v1", None, None, None).is_err());
        let docs = vec!["docs/a.md".to_owned()];
        assert!(check_trigger(on, "push", "refs/heads/releases/1/x", None, None, Some(&docs)).is_err());
        assert!(check_trigger(on, "pull_request", "refs/pull/1/merge", None, Some("opened"), None).is_err());
        let tags_only = crate::yaml::parse("push:\n  tags: ['v*']\n").ok().flatten();
        assert!(check_trigger(tags_only.as_ref(), "push", "refs/heads/main", None, None, None).is_err());
        assert!(check_trigger(tags_only.as_ref(), "push", "refs/tags/v1.0", None, None, None).is_ok());
    }
}
