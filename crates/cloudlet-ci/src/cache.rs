//! `actions/cache`, built in: entries keyed by (key, version, scope)
//! in the data dir, file contents stored once by SHA-256 and compressed.
//!
//! Lookup is actions/cache's: within each scope (the run's ref, then the
//! default branch), the primary key exactly, then as a prefix, then each
//! restore key exactly and as a prefix; among prefix matches the newest
//! wins. The version hashes the `path` input and the compression, so
//! different paths never share an entry. Entries are immutable. `lookup`
//! is pure over the index; `save` and `restore` do the file I/O.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::expr::{Object, Value};

/// The longest key actions/cache accepts.
pub const MAX_KEY_LENGTH: usize = 512;

/// One saved cache.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub key: String,
    pub version: String,
    /// The git ref that saved it (`refs/heads/main`).
    pub scope: String,
    pub created_ms: u64,
    /// Absolute file paths, their modes and content digests.
    pub files: Vec<(String, u32, String)>,
}

/// What a lookup found.
#[derive(Clone, Debug, PartialEq)]
pub struct Hit {
    pub entry: Entry,
    /// The primary key matched exactly (`cache-hit: 'true'`).
    pub exact: bool,
}

/// The cache version: the path lines and the compression, hashed.
pub fn version(paths: &[String]) -> String {
    let mut h = Sha256::new();
    for p in paths {
        h.update(p.as_bytes());
        h.update(b"|");
    }
    h.update(b"deflate");
    hex(&h.finalize())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Checks a key the way actions/cache does.
pub fn validate_key(key: &str) -> Result<(), String> {
    if key.len() > MAX_KEY_LENGTH {
        return Err(format!("Key Validation Error: {key} cannot be larger than {MAX_KEY_LENGTH} characters."));
    }
    if key.contains(',') {
        return Err(format!("Key Validation Error: {key} cannot contain commas."));
    }
    Ok(())
}

/// Finds the entry to restore. `scopes` in order (the run's ref, then the
/// default branch's).
pub fn lookup(
    entries: &[Entry],
    primary: &str,
    restore_keys: &[String],
    version: &str,
    scopes: &[String],
) -> Option<Hit> {
    for scope in scopes {
        let candidates: Vec<&Entry> = entries.iter().filter(|e| e.version == version && &e.scope == scope).collect();
        for (i, k) in std::iter::once(primary).chain(restore_keys.iter().map(String::as_str)).enumerate() {
            if let Some(e) = candidates.iter().filter(|e| e.key == k).max_by_key(|e| e.created_ms) {
                return Some(Hit { entry: (*e).clone(), exact: i == 0 });
            }
            if let Some(e) = candidates.iter().filter(|e| e.key.starts_with(k)).max_by_key(|e| e.created_ms) {
                return Some(Hit { entry: (*e).clone(), exact: false });
            }
        }
    }
    None
}

/// The cache directory under a data dir.
#[derive(Clone, Debug)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    pub fn new(data_dir: &Path) -> Store {
        Store { root: data_dir.join("ci").join("cache") }
    }

    fn index(&self) -> PathBuf {
        self.root.join("entries.json")
    }

    pub fn entries(&self) -> Vec<Entry> {
        let Ok(text) = std::fs::read_to_string(self.index()) else { return Vec::new() };
        let Ok(v) = Value::from_json(&text) else { return Vec::new() };
        v.as_array()
            .unwrap_or_default()
            .iter()
            .filter_map(|e| {
                let o = e.as_object()?;
                let s = |k: &str| o.get(k).and_then(Value::as_str).map(str::to_owned);
                let files = o
                    .get("files")?
                    .as_array()?
                    .iter()
                    .filter_map(|f| {
                        let f = f.as_object()?;
                        Some((
                            f.get("path")?.as_str()?.to_owned(),
                            f.get("mode")?.to_number() as u32,
                            f.get("blob")?.as_str()?.to_owned(),
                        ))
                    })
                    .collect();
                Some(Entry {
                    key: s("key")?,
                    version: s("version")?,
                    scope: s("scope")?,
                    created_ms: o.get("created_ms")?.to_number() as u64,
                    files,
                })
            })
            .collect()
    }

    fn write_entries(&self, entries: &[Entry]) -> std::io::Result<()> {
        let list: Vec<Value> = entries
            .iter()
            .map(|e| {
                let mut o = Object::new();
                o.set("key", Value::string(&e.key));
                o.set("version", Value::string(&e.version));
                o.set("scope", Value::string(&e.scope));
                o.set("created_ms", Value::Number(e.created_ms as f64));
                let files = e
                    .files
                    .iter()
                    .map(|(p, m, b)| {
                        let mut f = Object::new();
                        f.set("path", Value::string(p));
                        f.set("mode", Value::Number(f64::from(*m)));
                        f.set("blob", Value::string(b));
                        Value::object(f)
                    })
                    .collect();
                o.set("files", Value::array(files));
                Value::object(o)
            })
            .collect();
        std::fs::create_dir_all(&self.root)?;
        let tmp = self.root.join(format!("entries.json.{}", std::process::id()));
        std::fs::write(&tmp, Value::array(list).to_json_compact())?;
        std::fs::rename(tmp, self.index())
    }

    /// Saves the files under `paths` as a new entry. `Ok(false)` when the
    /// entry exists already (entries are immutable).
    pub fn save(&self, key: &str, version: &str, scope: &str, paths: &[PathBuf], now_ms: u64) -> Result<bool, String> {
        let mut entries = self.entries();
        if entries.iter().any(|e| e.key == key && e.version == version && e.scope == scope) {
            return Ok(false);
        }
        let mut files = Vec::new();
        for p in paths {
            collect(p, &mut files).map_err(|e| format!("{}: {e}", p.display()))?;
        }
        if files.is_empty() {
            return Err("Path Validation Error: Path(s) specified in the action for caching do(es) not exist, hence no cache is being saved.".to_owned());
        }
        let blobs = self.root.join("blobs");
        std::fs::create_dir_all(&blobs).map_err(|e| e.to_string())?;
        let mut manifest = Vec::with_capacity(files.len());
        for (path, mode) in files {
            let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let digest = hex(&Sha256::digest(&bytes));
            let blob = blobs.join(&digest);
            if !blob.exists() {
                let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
                enc.write_all(&bytes).map_err(|e| e.to_string())?;
                let packed = enc.finish().map_err(|e| e.to_string())?;
                let tmp = blobs.join(format!("{digest}.{}", std::process::id()));
                std::fs::write(&tmp, packed).map_err(|e| e.to_string())?;
                std::fs::rename(&tmp, &blob).map_err(|e| e.to_string())?;
            }
            manifest.push((path.to_string_lossy().into_owned(), mode, digest));
        }
        entries.push(Entry {
            key: key.to_owned(),
            version: version.to_owned(),
            scope: scope.to_owned(),
            created_ms: now_ms,
            files: manifest,
        });
        self.write_entries(&entries).map_err(|e| e.to_string())?;
        Ok(true)
    }

    /// Writes an entry's files back where they were saved from.
    pub fn restore(&self, entry: &Entry) -> Result<(), String> {
        use std::os::unix::fs::PermissionsExt;
        for (path, mode, digest) in &entry.files {
            let packed =
                std::fs::read(self.root.join("blobs").join(digest)).map_err(|e| format!("blob {digest}: {e}"))?;
            let mut bytes = Vec::new();
            flate2::read::DeflateDecoder::new(packed.as_slice()).read_to_end(&mut bytes).map_err(|e| e.to_string())?;
            let p = Path::new(path);
            if let Some(parent) = p.parent() {
                std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
            }
            std::fs::write(p, bytes).map_err(|e| format!("{path}: {e}"))?;
            let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(*mode));
        }
        Ok(())
    }
}

/// Regular files at or under `p`, with their modes; links not followed.
fn collect(p: &Path, out: &mut Vec<(PathBuf, u32)>) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::symlink_metadata(p) else { return Ok(()) };
    if meta.is_dir() {
        let mut children: Vec<PathBuf> = std::fs::read_dir(p)?.filter_map(|e| e.ok().map(|e| e.path())).collect();
        children.sort();
        for c in children {
            collect(&c, out)?;
        }
    } else if meta.is_file() {
        out.push((p.to_path_buf(), meta.permissions().mode() & 0o7777));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str, scope: &str, created_ms: u64) -> Entry {
        Entry { key: key.to_owned(), version: "v".to_owned(), scope: scope.to_owned(), created_ms, files: Vec::new() }
    }

    #[test]
    fn githubs_lookup_order() {
        let feature = "refs/heads/feature".to_owned();
        let main = "refs/heads/main".to_owned();
        let scopes = [feature.clone(), main.clone()];
        let entries = vec![
            entry("npm-feature-d5ea0750", &main, 1),
            entry("npm-feature-old", &feature, 2),
            entry("npm-feature-new", &feature, 3),
            entry("npm-main-1", &main, 4),
        ];
        let rk = vec!["npm-feature-".to_owned(), "npm-".to_owned()];
        // The exact key only exists on main: the feature branch's prefix matches come first.
        let hit = lookup(&entries, "npm-feature-d5ea0750", &rk, "v", &scopes);
        assert_eq!(hit.map(|h| (h.entry.key, h.exact)), Some(("npm-feature-new".to_owned(), false)));
        // No entry on the feature branch: main's exact key is a hit.
        let hit = lookup(&entries[..1], "npm-feature-d5ea0750", &rk, "v", &scopes);
        assert_eq!(hit.map(|h| (h.entry.key, h.exact)), Some(("npm-feature-d5ea0750".to_owned(), true)));
        // Another version never matches.
        assert_eq!(lookup(&entries, "npm-main-1", &[], "other", &scopes), None);
        // Sibling branches are not visible.
        assert_eq!(lookup(&entries, "npm-feature-new", &[], "v", &[main]), None);
        assert!(validate_key("a,b").is_err() && validate_key(&"k".repeat(513)).is_err());
    }

    #[test]
    fn save_restore_is_content_addressed_and_immutable() {
        let tmp = tempfile::tempdir().map_err(|e| e.to_string());
        let Ok(tmp) = tmp else { panic!("tempdir") };
        let store = Store::new(&tmp.path().join("data"));
        let work = tmp.path().join("work");
        let _ = std::fs::create_dir_all(work.join("deps/sub"));
        let _ = std::fs::write(work.join("deps/a.txt"), "same");
        let _ = std::fs::write(work.join("deps/sub/b.txt"), "same");
        let paths = vec![work.join("deps")];
        let v = version(&["deps".to_owned()]);
        assert_eq!(store.save("k1", &v, "refs/heads/main", &paths, 10), Ok(true));
        assert_eq!(store.save("k1", &v, "refs/heads/main", &paths, 11), Ok(false), "entries are immutable");
        let blobs = std::fs::read_dir(tmp.path().join("data/ci/cache/blobs")).map(|d| d.count()).unwrap_or(0);
        assert_eq!(blobs, 1, "equal contents are stored once");
        let _ = std::fs::remove_dir_all(work.join("deps"));
        let hit = lookup(&store.entries(), "k1", &[], &v, &["refs/heads/main".to_owned()]);
        let Some(hit) = hit else { panic!("saved entry not found") };
        assert!(hit.exact);
        assert_eq!(store.restore(&hit.entry), Ok(()));
        assert_eq!(std::fs::read_to_string(work.join("deps/sub/b.txt")).ok().as_deref(), Some("same"));
    }
}
