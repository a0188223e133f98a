//! `actions/checkout`, built in: materialises a commit of the local
//! repository in a job's own workspace, as GitHub gives every job a fresh
//! clone. Uncommitted changes of the user's tree are not part of it.
//!
//! A shared clone (`git clone --shared`: the objects are borrowed from the
//! source repository, nothing is copied but the files of the commit) is
//! the fastest way that still leaves a real repository in the workspace,
//! so steps can run `git` there. `fetch-depth` is honoured with a
//! `.git/shallow` file at the depth asked for; `clean` runs
//! `git clean -ffdx` and `git reset --hard` on a repository already at the
//! path. This module runs `git`; it decides nothing about the run.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What to check out, and where.
#[derive(Clone, Debug)]
pub struct Request<'a> {
    /// The repository the run comes from.
    pub source: &'a Path,
    /// The directory to materialise the commit in.
    pub dest: &'a Path,
    /// The `ref` input (a branch, tag or SHA); empty: `default_sha`.
    pub git_ref: &'a str,
    /// The run's commit (`github.sha`).
    pub default_sha: &'a str,
    /// Commits of history to fetch; 0: all of it.
    pub fetch_depth: usize,
    pub clean: bool,
}

/// A checkout's outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkout {
    pub commit: String,
    /// How the workspace was filled, for the log.
    pub how: String,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckoutError {
    #[error("ref '{git_ref}' is not a commit of {}", source_dir.display())]
    UnknownRef { git_ref: String, source_dir: PathBuf },
    #[error("`git {args}` failed in {}: {stderr}", dir.display())]
    Git { args: String, dir: PathBuf, stderr: String },
    #[error("could not run git")]
    Spawn(#[source] std::io::Error),
    #[error("{}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn git(dir: &Path, args: &[&str]) -> Result<String, CheckoutError> {
    let out = Command::new("git").arg("-C").arg(dir).args(args).output().map_err(CheckoutError::Spawn)?;
    if !out.status.success() {
        return Err(CheckoutError::Git {
            args: args.join(" "),
            dir: dir.to_path_buf(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Whether `dir` is inside a git work tree.
pub fn is_repository(dir: &Path) -> bool {
    git(dir, &["rev-parse", "--is-inside-work-tree"]).is_ok_and(|s| s == "true")
}

/// Whether the work tree has changes a checkout will not carry: modified,
/// staged or untracked files. `None` when `dir` is not a repository.
pub fn is_dirty(dir: &Path) -> Option<bool> {
    git(dir, &["status", "--porcelain", "--untracked-files=normal"]).ok().map(|s| !s.is_empty())
}

/// Materialises the commit in `req.dest`.
pub fn checkout(req: &Request<'_>) -> Result<Checkout, CheckoutError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| CheckoutError::Io { path, source }
    };
    if !is_repository(req.source) {
        // Not a repository: its files as they are are all there is.
        empty_dir(req.dest)?;
        copy_tree(req.source, req.dest)?;
        return Ok(Checkout {
            commit: req.default_sha.to_owned(),
            how: format!("{} is not a git repository: copied its files", req.source.display()),
        });
    }
    let wanted = if req.git_ref.is_empty() { req.default_sha } else { req.git_ref };
    let commit = git(req.source, &["rev-parse", "--verify", "-q", &format!("{wanted}^{{commit}}")])
        .map_err(|_| CheckoutError::UnknownRef { git_ref: wanted.to_owned(), source_dir: req.source.to_path_buf() })?;
    let how = if req.dest.join(".git").exists() {
        if req.clean {
            git(req.dest, &["clean", "-ffdx", "-q"])?;
            git(req.dest, &["reset", "--hard", "-q"])?;
        }
        // A shared clone sees every commit of the source: nothing to fetch.
        "updated the repository at the path".to_owned()
    } else {
        empty_dir(req.dest)?;
        std::fs::create_dir_all(req.dest).map_err(io(req.dest))?;
        let (src, dest) = (req.source.to_string_lossy(), req.dest.to_string_lossy());
        git(req.source, &["clone", "-q", "--shared", "--no-checkout", &src, &dest])?;
        "a shared clone".to_owned()
    };
    git(req.dest, &["checkout", "-q", "--force", "--detach", &commit])?;
    let shallow = req.dest.join(".git").join("shallow");
    if req.fetch_depth > 0 {
        let history = git(req.dest, &["rev-list", "--parents", &commit])?;
        let boundary = shallow_boundary(&history, &commit, req.fetch_depth);
        if boundary.is_empty() {
            let _ = std::fs::remove_file(&shallow);
        } else {
            std::fs::write(&shallow, boundary.join("\n") + "\n").map_err(io(&shallow))?;
        }
    } else {
        let _ = std::fs::remove_file(&shallow);
    }
    Ok(Checkout { commit, how })
}

/// The commits a history cut at `depth` ends with: those within `depth`
/// commits of `head` (head is the first) that have a parent beyond it.
/// `rev_list_parents` is `git rev-list --parents` output.
pub fn shallow_boundary(rev_list_parents: &str, head: &str, depth: usize) -> Vec<String> {
    let parents: HashMap<&str, Vec<&str>> = rev_list_parents
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            Some((it.next()?, it.collect()))
        })
        .collect();
    let mut dist: HashMap<&str, usize> = HashMap::new();
    let mut queue = std::collections::VecDeque::from([(head, 1usize)]);
    while let Some((c, d)) = queue.pop_front() {
        if dist.get(c).is_some_and(|&old| old <= d) {
            continue;
        }
        dist.insert(c, d);
        if d < depth {
            for p in parents.get(c).into_iter().flatten() {
                queue.push_back((p, d + 1));
            }
        }
    }
    let mut out: Vec<String> = dist
        .iter()
        .filter(|(c, d)| **d == depth && parents.get(**c).is_some_and(|ps| !ps.is_empty()))
        .map(|(c, _)| (*c).to_owned())
        .collect();
    out.sort();
    out
}

/// Removes what `dir` holds (GitHub deletes a non-repository's contents).
fn empty_dir(dir: &Path) -> Result<(), CheckoutError> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(()) };
    for e in entries.flatten() {
        let p = e.path();
        let r = if e.file_type().is_ok_and(|t| t.is_dir()) {
            std::fs::remove_dir_all(&p)
        } else {
            std::fs::remove_file(&p)
        };
        r.map_err(|source| CheckoutError::Io { path: p.clone(), source })?;
    }
    Ok(())
}

fn copy_tree(from: &Path, to: &Path) -> Result<(), CheckoutError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| CheckoutError::Io { path, source }
    };
    std::fs::create_dir_all(to).map_err(io(to))?;
    for e in std::fs::read_dir(from).map_err(io(from))?.flatten() {
        let p = e.path();
        let dest = to.join(e.file_name());
        let kind = e.file_type().map_err(io(&p))?;
        if kind.is_dir() {
            // A workspace inside the source (a run's own data dir) is not copied into itself.
            if to.starts_with(&p) {
                continue;
            }
            copy_tree(&p, &dest)?;
        } else if kind.is_symlink() {
            let target = std::fs::read_link(&p).map_err(io(&p))?;
            std::os::unix::fs::symlink(target, &dest).map_err(io(&dest))?;
        } else {
            std::fs::copy(&p, &dest).map_err(io(&p))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shallow_boundary_is_at_the_depth_asked_for() {
        // d - c - b - a (head), with a merge: a's parents b and x; x's parent c.
        let log = "a b x\nb c\nx c\nc d\nd\n";
        assert_eq!(shallow_boundary(log, "a", 1), vec!["a"]);
        assert_eq!(shallow_boundary(log, "a", 2), vec!["b", "x"]);
        assert_eq!(shallow_boundary(log, "a", 3), vec!["c"]);
        // The root commit has no parent to cut: no boundary.
        assert!(shallow_boundary(log, "a", 4).is_empty());
        assert!(shallow_boundary(log, "a", 9).is_empty());
    }

    fn sh(dir: &Path, args: &[&str]) {
        let ok = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(["-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"])
            .args(args)
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(ok, "git {args:?}");
    }

    #[test]
    fn a_checkout_is_the_commit_without_uncommitted_changes() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let src = tmp.path().join("src");
        std::fs::create_dir_all(&src).expect("mkdir");
        sh(&src, &["init", "-q", "-b", "main"]);
        std::fs::write(src.join("a.txt"), "one").expect("write");
        sh(&src, &["add", "a.txt"]);
        sh(&src, &["commit", "-q", "-m", "one"]);
        let first = git(&src, &["rev-parse", "HEAD"]).expect("sha");
        std::fs::write(src.join("a.txt"), "two").expect("write");
        sh(&src, &["commit", "-q", "-am", "two"]);
        let second = git(&src, &["rev-parse", "HEAD"]).expect("sha");
        std::fs::write(src.join("a.txt"), "dirty").expect("write");
        std::fs::write(src.join("new.txt"), "untracked").expect("write");
        assert_eq!(is_dirty(&src), Some(true));

        let dest = tmp.path().join("ws");
        let req = Request { source: &src, dest: &dest, git_ref: "", default_sha: &second, fetch_depth: 1, clean: true };
        let c = checkout(&req).expect("checkout");
        assert_eq!(c.commit, second);
        assert_eq!(std::fs::read_to_string(dest.join("a.txt")).ok().as_deref(), Some("two"));
        assert!(!dest.join("new.txt").exists(), "untracked files stay behind");
        assert_eq!(git(&dest, &["rev-list", "--count", "HEAD"]).ok().as_deref(), Some("1"), "fetch-depth: 1");

        // A second checkout into the same path, of another ref, cleans first.
        std::fs::write(dest.join("build.out"), "x").expect("write");
        let req = Request { git_ref: &first, fetch_depth: 0, ..req };
        let c = checkout(&req).expect("checkout");
        assert_eq!(c.commit, first);
        assert_eq!(std::fs::read_to_string(dest.join("a.txt")).ok().as_deref(), Some("one"));
        assert!(!dest.join("build.out").exists(), "clean: true removes untracked files");
        assert_eq!(git(&dest, &["rev-list", "--count", "HEAD"]).ok().as_deref(), Some("1"));

        let bad = Request { git_ref: "no-such-branch", ..req };
        let err = checkout(&bad).map(|_| ()).expect_err("unknown ref");
        assert!(err.to_string().contains("ref 'no-such-branch' is not a commit"), "{err}");
    }
}
