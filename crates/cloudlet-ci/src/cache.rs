//! `actions/cache`, built in: entries keyed by (key, version, scope)
//! in the data dir, file contents stored once by SHA-256 and compressed.
//!
//! Lookup is actions/cache's: within each scope (the run's ref, then the
//! default branch), the primary key exactly, then as a prefix, then each
//! restore key exactly and as a prefix; among prefix matches the newest
//! wins. The version hashes the `path` input and the compression, so
//! different paths never share an entry. Entries are immutable.
//! Eviction is GitHub's: entries not used for 7 days go, then the least
//! recently used ones until the total is under the size limit (10 GB
//! unless configured). `lookup` and `evictions` are pure over the index;
//! `Store::save` and `Store::restore` do the file I/O, one worker per core:
//! each file is read once, hashed and compressed in the same pass (fast
//! deflate; contents that do not compress are stored as they are), and
//! paths under the workspace are stored relative to it, so a later run's
//! fresh workspace gets them back.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use sha2::{Digest, Sha256};

use crate::expr::{Object, Value};

/// The longest key actions/cache accepts.
pub const MAX_KEY_LENGTH: usize = 512;

/// GitHub's default limit on a repository's caches.
pub const DEFAULT_SIZE_LIMIT_BYTES: u64 = 10 * 1024 * 1024 * 1024;

/// Entries not used for this long are evicted (7 days).
pub const UNUSED_EVICTION_MS: u64 = 7 * 24 * 3600 * 1000;

/// One saved cache.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub key: String,
    pub version: String,
    /// The git ref that saved it (`refs/heads/main`).
    pub scope: String,
    pub created_ms: u64,
    /// The last restore (or the save).
    pub last_used_ms: u64,
    /// Bytes stored for its files (as GitHub counts each archive whole).
    pub size_bytes: u64,
    pub files: Vec<CachedFile>,
}

/// A file of an entry.
#[derive(Clone, Debug, PartialEq)]
pub struct CachedFile {
    /// Relative to the workspace when it was under it, else absolute.
    pub path: String,
    pub mode: u32,
    /// SHA-256 of the contents: the blob's name.
    pub blob: String,
    pub size: u64,
}

/// How a restore went, as the cache hit rate counts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HitKind {
    /// The primary key matched exactly (`cache-hit: 'true'`).
    Exact,
    /// A prefix of the key or a restore key matched.
    Partial,
    Miss,
}

impl HitKind {
    pub fn as_str(self) -> &'static str {
        match self {
            HitKind::Exact => "exact",
            HitKind::Partial => "partial",
            HitKind::Miss => "miss",
        }
    }
}

/// One `actions/cache` lookup of a run, for the run's report.
#[derive(Clone, Debug, PartialEq)]
pub struct Lookup {
    pub job: String,
    /// The leg's display name.
    pub leg: String,
    pub key: String,
    /// The key of the entry restored.
    pub matched_key: Option<String>,
    pub hit: HitKind,
}

/// What a save or restore moved.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Transfer {
    pub files: usize,
    /// Bytes of file contents.
    pub bytes: u64,
    /// Bytes written to (save) or read from (restore) the blob store.
    pub stored_bytes: u64,
}

/// The entries to evict (indexes into `entries`, ascending): those unused
/// for [`UNUSED_EVICTION_MS`], then the least recently used until the
/// rest fit in `limit_bytes`.
pub fn evictions(entries: &[Entry], now_ms: u64, limit_bytes: u64) -> Vec<usize> {
    let used = |e: &Entry| e.last_used_ms.max(e.created_ms);
    let mut evict: Vec<usize> =
        (0..entries.len()).filter(|&i| now_ms.saturating_sub(used(&entries[i])) >= UNUSED_EVICTION_MS).collect();
    let mut kept: Vec<usize> = (0..entries.len()).filter(|i| !evict.contains(i)).collect();
    let mut total: u64 = kept.iter().map(|&i| entries[i].size_bytes).sum();
    kept.sort_by_key(|&i| (used(&entries[i]), i));
    for i in kept {
        if total <= limit_bytes {
            break;
        }
        total -= entries[i].size_bytes;
        evict.push(i);
    }
    evict.sort_unstable();
    evict
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
    limit_bytes: u64,
}

/// Files up to this size are read whole; larger ones are streamed.
const WHOLE_FILE_MAX: u64 = 8 * 1024 * 1024;
const CHUNK: usize = 1024 * 1024;
/// How much of a file decides whether it is worth compressing.
const SAMPLE: usize = 64 * 1024;

/// Names for temporary blobs, unique within the process.
static TEMP_SEQ: AtomicU64 = AtomicU64::new(0);

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> String + '_ {
    move |e| format!("{}: {e}", path.display())
}

/// Whether deflate pays for these bytes: a sample that shrinks by less than
/// a tenth (already compressed or random data) is stored as it is.
fn worth_compressing(sample: &[u8]) -> bool {
    if sample.len() < 512 {
        return true;
    }
    let mut enc = flate2::write::DeflateEncoder::new(Vec::with_capacity(sample.len()), flate2::Compression::fast());
    let packed = enc.write_all(sample).and_then(|()| enc.finish()).map(|v| v.len()).unwrap_or(usize::MAX);
    packed < sample.len() / 10 * 9
}

/// The blob files of a digest: deflated, or stored as it is.
fn blob_paths(blobs: &Path, digest: &str) -> (PathBuf, PathBuf) {
    (blobs.join(digest), blobs.join(format!("{digest}.raw")))
}

/// Runs `work` over `0..n` on one thread per core (at most `n`), in any order.
fn parallel<T: Send>(n: usize, work: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get).clamp(1, 8).min(n.max(1));
    let next = AtomicUsize::new(0);
    let mut out: Vec<(usize, T)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= n {
                            break;
                        }
                        mine.push((i, work(i)));
                    }
                    mine
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    });
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, t)| t).collect()
}

/// Stores one file's contents as a blob (unless one exists): its digest,
/// size and the bytes written.
fn store_file(blobs: &Path, path: &Path) -> Result<(String, u64, u64), String> {
    let size = std::fs::metadata(path).map_err(io_err(path))?.len();
    if size <= WHOLE_FILE_MAX {
        let bytes = std::fs::read(path).map_err(io_err(path))?;
        let digest = hex(&Sha256::digest(&bytes));
        let (packed_path, raw_path) = blob_paths(blobs, &digest);
        if packed_path.exists() || raw_path.exists() {
            return Ok((digest, bytes.len() as u64, 0));
        }
        let (target, data) = if worth_compressing(&bytes[..bytes.len().min(SAMPLE)]) {
            let mut enc =
                flate2::write::DeflateEncoder::new(Vec::with_capacity(bytes.len() / 2), flate2::Compression::fast());
            enc.write_all(&bytes).map_err(io_err(path))?;
            (packed_path, enc.finish().map_err(io_err(path))?)
        } else {
            (raw_path, bytes)
        };
        let tmp = blobs.join(format!(".tmp-{}-{}", std::process::id(), TEMP_SEQ.fetch_add(1, Ordering::Relaxed)));
        std::fs::write(&tmp, &data).map_err(io_err(&tmp))?;
        std::fs::rename(&tmp, &target).map_err(io_err(&target))?;
        return Ok((digest, size, data.len() as u64));
    }
    // A large file: hashed and compressed in one streaming pass.
    let mut file = std::fs::File::open(path).map_err(io_err(path))?;
    let tmp = blobs.join(format!(".tmp-{}-{}", std::process::id(), TEMP_SEQ.fetch_add(1, Ordering::Relaxed)));
    let out = std::io::BufWriter::with_capacity(CHUNK, std::fs::File::create(&tmp).map_err(io_err(&tmp))?);
    let mut buf = vec![0u8; CHUNK];
    let mut hasher = Sha256::new();
    let mut first = true;
    let mut sink: Option<Box<dyn std::io::Write>> = None;
    let mut compressed = false;
    let mut out = Some(out);
    let mut total = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(io_err(path))?;
        if n == 0 {
            break;
        }
        if first {
            first = false;
            compressed = worth_compressing(&buf[..n.min(SAMPLE)]);
            let w = out.take().ok_or("stream")?;
            sink = Some(if compressed {
                Box::new(flate2::write::DeflateEncoder::new(w, flate2::Compression::fast()))
            } else {
                Box::new(w)
            });
        }
        hasher.update(&buf[..n]);
        if let Some(w) = sink.as_mut() {
            w.write_all(&buf[..n]).map_err(io_err(&tmp))?;
        }
        total += n as u64;
    }
    if let Some(mut w) = sink {
        w.flush().map_err(io_err(&tmp))?;
    }
    let digest = hex(&hasher.finalize());
    let (packed_path, raw_path) = blob_paths(blobs, &digest);
    if packed_path.exists() || raw_path.exists() {
        let _ = std::fs::remove_file(&tmp);
        return Ok((digest, total, 0));
    }
    let stored = std::fs::metadata(&tmp).map_err(io_err(&tmp))?.len();
    let target = if compressed { packed_path } else { raw_path };
    std::fs::rename(&tmp, &target).map_err(io_err(&target))?;
    Ok((digest, total, stored))
}

/// Writes one cached file back; the bytes read from the store.
fn restore_file(blobs: &Path, file: &CachedFile, dest: &Path) -> Result<u64, String> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent).map_err(io_err(parent))?;
    }
    let (packed_path, raw_path) = blob_paths(blobs, &file.blob);
    // A file left read-only by an earlier restore is replaced, not written through.
    let _ = std::fs::remove_file(dest);
    let read = match std::fs::copy(&raw_path, dest) {
        Ok(n) => n,
        Err(_) => {
            let packed = std::fs::read(&packed_path).map_err(|e| format!("blob {}: {e}", file.blob))?;
            let mut bytes = Vec::with_capacity(usize::try_from(file.size).unwrap_or(0));
            flate2::read::DeflateDecoder::new(packed.as_slice())
                .read_to_end(&mut bytes)
                .map_err(|e| format!("blob {}: {e}", file.blob))?;
            std::fs::write(dest, &bytes).map_err(io_err(dest))?;
            packed.len() as u64
        }
    };
    std::fs::set_permissions(dest, std::fs::Permissions::from_mode(file.mode)).map_err(io_err(dest))?;
    Ok(read)
}

impl Store {
    pub fn new(data_dir: &Path) -> Store {
        Store { root: data_dir.join("ci").join("cache"), limit_bytes: DEFAULT_SIZE_LIMIT_BYTES }
    }

    /// The same store with another total size limit.
    pub fn with_size_limit(self, limit_bytes: u64) -> Store {
        Store { limit_bytes, ..self }
    }

    fn index(&self) -> PathBuf {
        self.root.join("entries.json")
    }

    fn blobs(&self) -> PathBuf {
        self.root.join("blobs")
    }

    /// Holds the index against other jobs and runs while it is changed.
    fn lock(&self) -> Result<std::fs::File, String> {
        std::fs::create_dir_all(&self.root).map_err(io_err(&self.root))?;
        let path = self.root.join("lock");
        let f =
            std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(io_err(&path))?;
        f.lock().map_err(io_err(&path))?;
        Ok(f)
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
                let n = |k: &str| o.get(k).map_or(0, |v| v.to_number() as u64);
                let files = o
                    .get("files")?
                    .as_array()?
                    .iter()
                    .filter_map(|f| {
                        let f = f.as_object()?;
                        Some(CachedFile {
                            path: f.get("path")?.as_str()?.to_owned(),
                            mode: f.get("mode")?.to_number() as u32,
                            blob: f.get("blob")?.as_str()?.to_owned(),
                            size: f.get("size").map_or(0, |v| v.to_number() as u64),
                        })
                    })
                    .collect();
                Some(Entry {
                    key: s("key")?,
                    version: s("version")?,
                    scope: s("scope")?,
                    created_ms: n("created_ms"),
                    last_used_ms: n("last_used_ms"),
                    size_bytes: n("size_bytes"),
                    files,
                })
            })
            .collect()
    }

    fn write_entries(&self, entries: &[Entry]) -> Result<(), String> {
        let list: Vec<Value> = entries
            .iter()
            .map(|e| {
                let mut o = Object::new();
                o.set("key", Value::string(&e.key));
                o.set("version", Value::string(&e.version));
                o.set("scope", Value::string(&e.scope));
                o.set("created_ms", Value::Number(e.created_ms as f64));
                o.set("last_used_ms", Value::Number(e.last_used_ms as f64));
                o.set("size_bytes", Value::Number(e.size_bytes as f64));
                let files = e
                    .files
                    .iter()
                    .map(|f| {
                        let mut fo = Object::new();
                        fo.set("path", Value::string(&f.path));
                        fo.set("mode", Value::Number(f64::from(f.mode)));
                        fo.set("blob", Value::string(&f.blob));
                        fo.set("size", Value::Number(f.size as f64));
                        Value::object(fo)
                    })
                    .collect();
                o.set("files", Value::array(files));
                Value::object(o)
            })
            .collect();
        std::fs::create_dir_all(&self.root).map_err(io_err(&self.root))?;
        let tmp = self.root.join(format!("entries.json.{}", std::process::id()));
        std::fs::write(&tmp, Value::array(list).to_json_compact()).map_err(io_err(&tmp))?;
        std::fs::rename(&tmp, self.index()).map_err(io_err(&self.root))
    }

    /// Saves the files under `paths` as a new entry (paths under
    /// `workspace` stored relative to it), then evicts. `Ok(None)` when the
    /// entry exists already (entries are immutable).
    pub fn save(
        &self,
        key: &str,
        version: &str,
        scope: &str,
        workspace: &Path,
        paths: &[PathBuf],
        now_ms: u64,
    ) -> Result<Option<Transfer>, String> {
        let exists =
            |entries: &[Entry]| entries.iter().any(|e| e.key == key && e.version == version && e.scope == scope);
        if exists(&self.entries()) {
            return Ok(None);
        }
        let mut files = Vec::new();
        for p in paths {
            collect(p, &mut files).map_err(io_err(p))?;
        }
        if files.is_empty() {
            return Err("Path Validation Error: Path(s) specified in the action for caching do(es) not exist, hence no cache is being saved.".to_owned());
        }
        let blobs = self.blobs();
        std::fs::create_dir_all(&blobs).map_err(io_err(&blobs))?;
        let stored = parallel(files.len(), |i| store_file(&blobs, &files[i].0));
        let mut transfer = Transfer { files: files.len(), ..Transfer::default() };
        let mut manifest = Vec::with_capacity(files.len());
        for ((path, mode), r) in files.iter().zip(stored) {
            let (blob, size, written) = r?;
            transfer.bytes += size;
            transfer.stored_bytes += written;
            let path = match path.strip_prefix(workspace) {
                Ok(rel) if !workspace.as_os_str().is_empty() => rel.to_string_lossy().into_owned(),
                _ => path.to_string_lossy().into_owned(),
            };
            manifest.push(CachedFile { path, mode: *mode, blob, size });
        }
        let _lock = self.lock()?;
        let mut entries = self.entries();
        if exists(&entries) {
            return Ok(None);
        }
        let size_bytes = manifest.iter().map(|f| self.blob_size(&f.blob)).sum();
        entries.push(Entry {
            key: key.to_owned(),
            version: version.to_owned(),
            scope: scope.to_owned(),
            created_ms: now_ms,
            last_used_ms: now_ms,
            size_bytes,
            files: manifest,
        });
        self.evict_locked(entries, now_ms)?;
        Ok(Some(transfer))
    }

    fn blob_size(&self, digest: &str) -> u64 {
        let (packed, raw) = blob_paths(&self.blobs(), digest);
        std::fs::metadata(raw).or_else(|_| std::fs::metadata(packed)).map_or(0, |m| m.len())
    }

    /// Drops what [`evictions`] picks, writes the index, and removes the
    /// blobs no entry refers to any more.
    fn evict_locked(&self, mut entries: Vec<Entry>, now_ms: u64) -> Result<Vec<String>, String> {
        let gone = evictions(&entries, now_ms, self.limit_bytes);
        let mut evicted = Vec::new();
        for i in gone.into_iter().rev() {
            evicted.push(entries.remove(i).key);
        }
        self.write_entries(&entries)?;
        if !evicted.is_empty() {
            let live: std::collections::HashSet<&str> =
                entries.iter().flat_map(|e| e.files.iter().map(|f| f.blob.as_str())).collect();
            for b in std::fs::read_dir(self.blobs()).into_iter().flatten().flatten() {
                let name = b.file_name().to_string_lossy().into_owned();
                let digest = name.trim_end_matches(".raw");
                if !name.starts_with('.') && !live.contains(digest) {
                    let _ = std::fs::remove_file(b.path());
                }
            }
        }
        evicted.reverse();
        Ok(evicted)
    }

    /// Applies eviction now (as after every save); the keys evicted.
    pub fn evict(&self, now_ms: u64) -> Result<Vec<String>, String> {
        let _lock = self.lock()?;
        self.evict_locked(self.entries(), now_ms)
    }

    /// Writes an entry's files back where they were saved from (relative
    /// paths under `workspace`), and marks the entry used.
    pub fn restore(&self, entry: &Entry, workspace: &Path, now_ms: u64) -> Result<Transfer, String> {
        let blobs = self.blobs();
        let read = parallel(entry.files.len(), |i| {
            let f = &entry.files[i];
            restore_file(&blobs, f, &workspace.join(&f.path))
        });
        let mut transfer = Transfer { files: entry.files.len(), ..Transfer::default() };
        for (f, r) in entry.files.iter().zip(read) {
            transfer.stored_bytes += r?;
            transfer.bytes += f.size;
        }
        let _lock = self.lock()?;
        let mut entries = self.entries();
        if let Some(e) =
            entries.iter_mut().find(|e| e.key == entry.key && e.version == entry.version && e.scope == entry.scope)
        {
            e.last_used_ms = e.last_used_ms.max(now_ms);
            self.write_entries(&entries)?;
        }
        Ok(transfer)
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
        Entry {
            key: key.to_owned(),
            version: "v".to_owned(),
            scope: scope.to_owned(),
            created_ms,
            last_used_ms: created_ms,
            size_bytes: 0,
            files: Vec::new(),
        }
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
    fn eviction_drops_unused_entries_then_the_least_recently_used() {
        let day = 24 * 3600 * 1000;
        let sized = |key: &str, last_used: u64, size: u64| Entry {
            last_used_ms: last_used,
            size_bytes: size,
            ..entry(key, "refs/heads/main", 0)
        };
        let now = 30 * day;
        let entries = vec![
            sized("stale", now - 7 * day, 1),
            sized("recent-small", now - day, 4),
            sized("old-big", now - 3 * day, 6),
            sized("newest", now, 5),
            sized("almost-stale", now - 7 * day + 1, 1),
        ];
        // Unused for exactly 7 days: evicted; the rest fit in 100 bytes.
        assert_eq!(evictions(&entries, now, 100), vec![0]);
        // 16 bytes left over 10: the least recently used go first.
        assert_eq!(evictions(&entries, now, 10), vec![0, 2, 4]);
        assert_eq!(evictions(&entries, now, 0), vec![0, 1, 2, 3, 4]);
        assert!(evictions(&entries, 0, u64::MAX).is_empty(), "nothing is stale before it is used");
    }

    #[test]
    fn save_restore_is_content_addressed_relative_and_immutable() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let store = Store::new(&tmp.path().join("data"));
        let work = tmp.path().join("work");
        std::fs::create_dir_all(work.join("deps/sub")).expect("mkdir");
        std::fs::write(work.join("deps/a.txt"), "same").expect("write");
        std::fs::write(work.join("deps/sub/b.txt"), "same").expect("write");
        // One large file takes the streaming path, random bytes are kept raw.
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        let noise: Vec<u8> = (0..(WHOLE_FILE_MAX as usize + 3 * CHUNK / 2))
            .map(|_| {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                rng as u8
            })
            .collect();
        std::fs::write(work.join("deps/noise.bin"), &noise).expect("write");
        let text = "fn main() { println!(\"hello\"); }\n".repeat(300_000);
        std::fs::write(work.join("deps/big.rs"), &text).expect("write");
        let paths = vec![work.join("deps")];
        let v = version(&["deps".to_owned()]);
        let saved = store.save("k1", &v, "refs/heads/main", &work, &paths, 10).expect("save");
        let saved = saved.expect("a new entry");
        assert_eq!(saved.files, 4);
        assert_eq!(saved.bytes, (8 + noise.len() + text.len()) as u64);
        assert!(saved.stored_bytes < saved.bytes, "text compresses: {saved:?}");
        assert_eq!(store.save("k1", &v, "refs/heads/main", &work, &paths, 11), Ok(None), "entries are immutable");
        let blobs = std::fs::read_dir(tmp.path().join("data/ci/cache/blobs")).map(|d| d.count()).unwrap_or(0);
        assert_eq!(blobs, 3, "equal contents are stored once");
        let hit = lookup(&store.entries(), "k1", &[], &v, &["refs/heads/main".to_owned()]).expect("saved entry");
        assert!(hit.exact);
        assert!(hit.entry.files.iter().all(|f| f.path.starts_with("deps/")), "relative to the workspace");
        // Restored into another workspace, as a later run's fresh one.
        let other = tmp.path().join("other");
        let got = store.restore(&hit.entry, &other, 99).expect("restore");
        assert_eq!(got.bytes, saved.bytes);
        assert_eq!(std::fs::read_to_string(other.join("deps/sub/b.txt")).ok().as_deref(), Some("same"));
        assert_eq!(std::fs::read(other.join("deps/noise.bin")).ok(), Some(noise));
        assert_eq!(std::fs::read_to_string(other.join("deps/big.rs")).ok(), Some(text));
        assert_eq!(store.entries()[0].last_used_ms, 99, "a restore marks the entry used");
        // Evicted after a week unused: the entry and its blobs go.
        assert_eq!(store.evict(99 + UNUSED_EVICTION_MS), Ok(vec!["k1".to_owned()]));
        assert!(store.entries().is_empty());
        let blobs = std::fs::read_dir(tmp.path().join("data/ci/cache/blobs")).map(|d| d.count()).unwrap_or(9);
        assert_eq!(blobs, 0);
    }
}
