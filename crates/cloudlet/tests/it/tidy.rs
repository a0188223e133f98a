//! Repository hygiene that the compiler cannot check: every Rust file starts
//! with a module doc, and `crates/README.md` lists every crate.

use std::path::{Path, PathBuf};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("repo root")
}

fn rust_files(dir: &Path, acc: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, acc);
        } else if path.extension().is_some_and(|e| e == "rs") {
            acc.push(path);
        }
    }
}

#[test]
fn every_rust_file_has_a_module_doc() {
    let mut files = Vec::new();
    rust_files(&repo_root().join("crates"), &mut files);
    assert!(files.len() > 10, "found only {} files", files.len());
    let missing: Vec<_> = files
        .iter()
        .filter(|file| !std::fs::read_to_string(file).expect("read").starts_with("//!"))
        .map(|file| file.display().to_string())
        .collect();
    assert!(missing.is_empty(), "files without a `//!` module doc:\n{}", missing.join("\n"));
}

#[test]
fn crates_readme_lists_every_crate() {
    let root = repo_root();
    let readme = std::fs::read_to_string(root.join("crates/README.md")).expect("crates/README.md");
    for entry in std::fs::read_dir(root.join("crates")).expect("crates") {
        let path = entry.expect("entry").path();
        if path.join("Cargo.toml").exists() {
            let name = path.file_name().expect("name").to_string_lossy().into_owned();
            assert!(readme.contains(&format!("`{name}`")), "crates/README.md does not mention `{name}`");
        }
    }
}
