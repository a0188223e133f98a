//! Lambda code packages: the `ZipFile` of CreateFunction/UpdateFunctionCode
//! checked the way Lambda checks it and unpacked once into a cache addressed
//! by the zip's SHA-256, plus the deterministic zip of a local directory that
//! `cloudlet fn deploy DIR` uploads.
//!
//! This module owns the code cache directory (`DATA_DIR/code`): one complete
//! package per `<hex sha256>/` directory, written under a temporary sibling
//! name and renamed into place, so a name in the cache always holds a whole
//! package, even after a crash or power cut. It must not know which
//! functions use a package (the store records that), decode base64 or speak
//! HTTP: errors carry the exception name, status and message that Lambda
//! returns, and the server renders them.
//!
//! Decisions where Lambda's behaviour is not documented (each is tested):
//! - A size equal to a limit is accepted; only sizes over it are refused.
//! - Zero bytes, and a zip with no entries, get Lambda's "Uploaded file must
//!   be a non-empty zip".
//! - Entry names are resolved lexically: `a/../b` is `b`; an absolute name
//!   or a `..` that leaves the package root is refused, as is a NUL byte.
//!   A backslash is an ordinary character, as Lambda treats it (zips made
//!   with `\` separators unpack to flat files there: aws/aws-cli#8501).
//! - Symbolic links are kept as links when they resolve inside the package,
//!   following the other links of the package as the kernel would; links
//!   that leave it, or loop, are refused. Links are created after every file
//!   and directory, so no entry is ever written through one.
//! - Unix permission bits (`0o777`) come from the entry's external
//!   attributes; entries without them (e.g. zipped on Windows) or with none
//!   set get `0o644` (files) and `0o755` (directories). Directories always
//!   keep owner `rwx` so the cache can be cleaned up. set-id and sticky bits
//!   are dropped.
//! - Entries must be stored or deflated (what zip tools write by default)
//!   and not encrypted.
//! - The unzipped size is the sum of every entry's decompressed bytes
//!   (files and link targets), counted while streaming; each entry must also
//!   decompress to exactly the size its header declares, so the central
//!   directory's sum describes the cached package (a cache hit reads it
//!   without decompressing anything).

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Cursor, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;
use sha2::{Digest, Sha256};
use zip::result::ZipError;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, System, ZipArchive, ZipWriter};

/// Lambda's limit on a zip uploaded directly (`CodeSizeZipped`).
pub const MAX_ZIPPED_BYTES: u64 = 52_428_800;
/// Lambda's limit on a package's unzipped size (`CodeSizeUnzipped`).
pub const MAX_UNZIPPED_BYTES: u64 = 262_144_000;

/// Lambda's message for anything wrong inside the archive.
const COULD_NOT_UNZIP: &str = "Could not unzip uploaded file. Please check your file, then try to upload again.";
const EMPTY_ZIP: &str = "Uploaded file must be a non-empty zip";

const DEFAULT_FILE_MODE: u32 = 0o644;
const DEFAULT_DIR_MODE: u32 = 0o755;
/// Longest symlink target accepted (Linux's `PATH_MAX`).
const MAX_LINK_TARGET_BYTES: u64 = 4096;
/// Links followed while resolving one link, as Linux's `MAXSYMLINKS`.
const MAX_LINK_HOPS: u32 = 40;
/// Prefix of in-progress unpack directories; never a valid hex digest.
const TEMP_PREFIX: &str = ".tmp-";
/// Names (of directories or files) `zip_directory` leaves out, see its docs.
const SKIPPED_NAMES: &[&str] = &[".git"];

/// Size limits on a package. `Default` is Lambda's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackageLimits {
    pub zipped_bytes: u64,
    pub unzipped_bytes: u64,
}

impl Default for PackageLimits {
    fn default() -> PackageLimits {
        PackageLimits { zipped_bytes: MAX_ZIPPED_BYTES, unzipped_bytes: MAX_UNZIPPED_BYTES }
    }
}

/// A package in the cache, with the identity Lambda reports for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodePackage {
    /// `CodeSha256`: standard padded base64 of the SHA-256 of the zip.
    pub sha256_base64: String,
    /// The same digest in lower-case hex: the package's directory name.
    pub sha256_hex: String,
    /// `CodeSize`: the zip's length.
    pub code_size_bytes: u64,
    pub unzipped_size_bytes: u64,
    /// The unpacked package: `root/<sha256_hex>`.
    pub dir: PathBuf,
}

/// Why one zip entry cannot be unpacked. Lambda reports all of them as
/// "Could not unzip uploaded file..."; the detail is for logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryProblem {
    #[error("the path is absolute")]
    AbsolutePath,
    #[error("the path leaves the package through `..`")]
    PathEscapesRoot,
    #[error("the path contains a NUL byte")]
    NulInPath,
    #[error("the path names the package root itself")]
    PathIsRoot,
    #[error("the symbolic link's target `{target}` is absolute")]
    AbsoluteLinkTarget { target: String },
    #[error("the symbolic link's target `{target}` leaves the package")]
    LinkEscapesRoot { target: String },
    #[error("the symbolic link's target is empty, longer than 4096 bytes or contains a NUL byte")]
    InvalidLinkTarget,
    #[error("the symbolic link loops or follows more than 40 links")]
    LinkLoop,
    #[error("a parent directory of the entry is a symbolic link")]
    BeneathLink,
    #[error("another entry already occupies the path")]
    PathConflict,
    #[error("the entry decompresses to {actual_bytes} bytes but its header says {declared_bytes}")]
    SizeMismatch { declared_bytes: u64, actual_bytes: u64 },
}

/// Why a package could not be stored or a directory zipped.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error("the zip is {size_bytes} bytes, over the limit of {limit_bytes} bytes for an uploaded package")]
    ZippedTooLarge { size_bytes: u64, limit_bytes: u64 },
    /// `entry` is where the running total passed the limit, when known.
    #[error("the package unzips to more than the limit of {limit_bytes} bytes")]
    UnzippedTooLarge { limit_bytes: u64, entry: Option<String> },
    #[error("the uploaded file is empty or a zip archive with no entries")]
    Empty,
    #[error("the uploaded file is not a readable zip archive")]
    Unreadable {
        #[source]
        source: ZipError,
    },
    #[error("zip entry `{entry}` cannot be read")]
    UnreadableEntry {
        entry: String,
        #[source]
        source: ZipError,
    },
    #[error("zip entry `{entry}` cannot be unpacked: {problem}")]
    InvalidEntry { entry: String, problem: EntryProblem },
    #[error("could not {action} `{}`", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("`{}` is a symbolic link to one of its own parent directories", path.display())]
    DirectoryCycle { path: PathBuf },
    #[error("`{}` is neither a file, a directory nor a symbolic link to one; a package can hold only those", path.display())]
    UnsupportedFileType { path: PathBuf },
    #[error("the name of `{}` is not UTF-8, which zip entry names must be", path.display())]
    NonUtf8Name { path: PathBuf },
    #[error("could not write the zip archive")]
    ZipWrite {
        #[source]
        source: ZipError,
    },
}

impl PackageError {
    /// The exception name Lambda returns (`x-amzn-ErrorType`).
    pub fn aws_error_type(&self) -> &'static str {
        match self {
            PackageError::ZippedTooLarge { .. } => "RequestEntityTooLargeException",
            PackageError::UnzippedTooLarge { .. }
            | PackageError::Empty
            | PackageError::Unreadable { .. }
            | PackageError::UnreadableEntry { .. }
            | PackageError::InvalidEntry { .. } => "InvalidParameterValueException",
            // Our own failures, not the caller's. The rest only arise while
            // zipping a local directory, which never reaches the API.
            PackageError::Io { .. }
            | PackageError::DirectoryCycle { .. }
            | PackageError::UnsupportedFileType { .. }
            | PackageError::NonUtf8Name { .. }
            | PackageError::ZipWrite { .. } => "ServiceException",
        }
    }

    /// The HTTP status Lambda returns with [`Self::aws_error_type`].
    pub fn http_status(&self) -> u16 {
        match self.aws_error_type() {
            "RequestEntityTooLargeException" => 413,
            "InvalidParameterValueException" => 400,
            _ => 500,
        }
    }

    /// The message Lambda returns, word for word where Lambda's is known.
    pub fn aws_message(&self) -> String {
        match self {
            PackageError::ZippedTooLarge { limit_bytes, .. } => {
                format!("Zipped size must be smaller than {limit_bytes} bytes")
            }
            PackageError::UnzippedTooLarge { limit_bytes, .. } => {
                format!("Unzipped size must be smaller than {limit_bytes} bytes")
            }
            PackageError::Empty => EMPTY_ZIP.to_owned(),
            PackageError::Unreadable { .. }
            | PackageError::UnreadableEntry { .. }
            | PackageError::InvalidEntry { .. } => COULD_NOT_UNZIP.to_owned(),
            PackageError::Io { .. }
            | PackageError::DirectoryCycle { .. }
            | PackageError::UnsupportedFileType { .. }
            | PackageError::NonUtf8Name { .. }
            | PackageError::ZipWrite { .. } => self.to_string(),
        }
    }
}

/// The code cache: unpacked packages under `root/<hex sha256>/`.
///
/// Every method blocks on the file system; async callers run them on a
/// blocking thread.
#[derive(Debug, Clone)]
pub struct PackageCache {
    root: PathBuf,
    limits: PackageLimits,
}

impl PackageCache {
    /// A cache in `root` (created on first store) with Lambda's limits.
    pub fn new(root: PathBuf) -> PackageCache {
        PackageCache::with_limits(root, PackageLimits::default())
    }

    pub fn with_limits(root: PathBuf, limits: PackageLimits) -> PackageCache {
        PackageCache { root, limits }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn limits(&self) -> PackageLimits {
        self.limits
    }

    /// Checks `zip_bytes` (the decoded `ZipFile`) as Lambda does and makes
    /// sure the package is unpacked in the cache.
    ///
    /// A package already in the cache is returned without unzipping it again.
    /// Concurrent calls with the same bytes are safe: one of them renames its
    /// copy into place and the others use it. On any error nothing is left
    /// behind.
    pub fn store_zip(&self, zip_bytes: &[u8]) -> Result<CodePackage, PackageError> {
        self.store(zip_bytes).map(|(package, _)| package)
    }

    /// [`Self::store_zip`], also telling whether this call unpacked the zip.
    fn store(&self, zip_bytes: &[u8]) -> Result<(CodePackage, Stored), PackageError> {
        let code_size_bytes = zip_bytes.len() as u64;
        if code_size_bytes > self.limits.zipped_bytes {
            return Err(PackageError::ZippedTooLarge {
                size_bytes: code_size_bytes,
                limit_bytes: self.limits.zipped_bytes,
            });
        }
        if zip_bytes.is_empty() {
            return Err(PackageError::Empty);
        }
        let digest = Sha256::digest(zip_bytes);
        let sha256_hex = to_hex(&digest);
        let sha256_base64 = base64::engine::general_purpose::STANDARD.encode(digest);
        let dir = self.root.join(&sha256_hex);

        let mut archive =
            ZipArchive::new(Cursor::new(zip_bytes)).map_err(|source| PackageError::Unreadable { source })?;
        if archive.is_empty() {
            return Err(PackageError::Empty);
        }
        // Headers cannot be trusted to stop a zip bomb (the unpack counts real
        // bytes), but an honest archive over the limit fails here at no cost,
        // and the sum is exact for any archive that has been unpacked.
        let declared_bytes = declared_size(&archive)?;
        if declared_bytes > self.limits.unzipped_bytes {
            return Err(PackageError::UnzippedTooLarge { limit_bytes: self.limits.unzipped_bytes, entry: None });
        }
        let mut package =
            CodePackage { sha256_base64, sha256_hex, code_size_bytes, unzipped_size_bytes: declared_bytes, dir };
        if package.dir.is_dir() {
            return Ok((package, Stored::CacheHit));
        }

        fs::create_dir_all(&self.root).map_err(io_error("create the code cache directory", &self.root))?;
        let temp = TempDir::create(&self.root, &package.sha256_hex)?;
        // Equal to `declared_bytes`: every entry's size is checked against it.
        package.unzipped_size_bytes = unpack(&mut archive, &temp.path, self.limits.unzipped_bytes)?;
        sync_dir(&temp.path)?;
        match fs::rename(&temp.path, &package.dir) {
            Ok(()) => sync_dir(&self.root)?,
            // Another store of the same bytes won the race; its copy is
            // complete because only whole packages are ever renamed in.
            Err(_) if package.dir.is_dir() => {}
            Err(source) => {
                return Err(PackageError::Io { action: "move the unpacked package to", path: package.dir, source });
            }
        }
        Ok((package, Stored::Unpacked))
    }

    /// The unpacked package with this hex digest, if the cache holds it
    /// (e.g. after a restart).
    pub fn path_for(&self, sha256_hex: &str) -> Option<PathBuf> {
        let is_digest = sha256_hex.len() == 64 && sha256_hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        let dir = self.root.join(sha256_hex);
        (is_digest && dir.is_dir()).then_some(dir)
    }

    /// Removes unpack directories left by a process that died mid-unpack and
    /// returns how many there were. Call it only while no other process
    /// stores into this cache (the daemon holds the data dir's lock).
    pub fn remove_incomplete(&self) -> Result<usize, PackageError> {
        let entries = match fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(source) => return Err(PackageError::Io { action: "list", path: self.root.clone(), source }),
        };
        let mut removed = 0;
        for entry in entries {
            let entry = entry.map_err(io_error("list", &self.root))?;
            if entry.file_name().as_bytes().starts_with(TEMP_PREFIX.as_bytes()) {
                let path = entry.path();
                fs::remove_dir_all(&path).map_err(io_error("remove the incomplete package", &path))?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// How [`PackageCache::store`] found the package.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stored {
    CacheHit,
    Unpacked,
}

/// A uniquely named unpack directory beside the final one, removed on drop
/// unless it has been renamed away.
struct TempDir {
    path: PathBuf,
}

impl TempDir {
    fn create(root: &Path, sha256_hex: &str) -> Result<TempDir, PackageError> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = root.join(format!("{TEMP_PREFIX}{sha256_hex}-{}-{n}", std::process::id()));
        fs::create_dir(&path).map_err(io_error("create the unpack directory", &path))?;
        set_mode(&path, DEFAULT_DIR_MODE)?;
        Ok(TempDir { path })
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // After a successful rename the path no longer exists. A failure
        // here leaves a directory that `remove_incomplete` removes later.
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// Sum of the decompressed sizes the central directory declares.
fn declared_size(archive: &ZipArchive<Cursor<&[u8]>>) -> Result<u64, PackageError> {
    let mut total: u64 = 0;
    for index in 0..archive.len() {
        let entry = archive.by_index_data(index).map_err(|source| PackageError::Unreadable { source })?;
        total = total.saturating_add(entry.size());
    }
    Ok(total)
}

/// A symlink entry, created once every file and directory exists.
struct PendingLink {
    entry: String,
    path: PathBuf,
    target: PathBuf,
}

/// Unpacks every entry of `archive` into the empty directory `root` and
/// returns the decompressed bytes. Fails as soon as more than
/// `limit_bytes` have come out.
fn unpack(archive: &mut ZipArchive<Cursor<&[u8]>>, root: &Path, limit_bytes: u64) -> Result<u64, PackageError> {
    let mut budget = Budget { used_bytes: 0, limit_bytes };
    let mut dirs = KnownDirs { root, known: HashSet::new() };
    let mut links = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];

    for index in 0..archive.len() {
        let name = archive
            .by_index_data(index)
            .and_then(|entry| entry.name().map(|name| name.into_owned()))
            .map_err(|source| PackageError::Unreadable { source })?;
        // Fails here for compression methods other than stored and deflate,
        // and for encrypted entries.
        let mut entry =
            archive.by_index(index).map_err(|source| PackageError::UnreadableEntry { entry: name.clone(), source })?;
        let invalid = |problem| PackageError::InvalidEntry { entry: name.clone(), problem };
        let relative = entry_path(&name).map_err(invalid)?;
        let declared_bytes = entry.size();
        let mode = entry_mode(entry.system(), entry.unix_mode(), entry.is_dir());

        if entry.is_dir() {
            check_size(&name, declared_bytes, 0)?;
            if relative.as_os_str().is_empty() {
                continue;
            }
            dirs.ensure(&relative, &name)?;
            set_mode(&root.join(&relative), mode | 0o700)?;
            continue;
        }
        if relative.as_os_str().is_empty() {
            return Err(invalid(EntryProblem::PathIsRoot));
        }

        if entry.is_symlink() {
            if declared_bytes > MAX_LINK_TARGET_BYTES {
                return Err(invalid(EntryProblem::InvalidLinkTarget));
            }
            let mut target = Vec::new();
            let actual_bytes = copy_counted(&mut entry, &mut target, &mut buf, &mut budget, &name, Path::new(""))?;
            check_size(&name, declared_bytes, actual_bytes)?;
            let target = link_target(&relative, &target).map_err(invalid)?;
            links.push(PendingLink { entry: name, path: relative, target });
            continue;
        }

        if let Some(parent) = relative.parent() {
            dirs.ensure(parent, &name)?;
        }
        let path = root.join(&relative);
        let mut file = match OpenOptions::new().write(true).create(true).truncate(true).open(&path) {
            Ok(file) => file,
            Err(e) if is_conflict(&e) => return Err(invalid(EntryProblem::PathConflict)),
            Err(source) => return Err(PackageError::Io { action: "create", path, source }),
        };
        let actual_bytes = copy_counted(&mut entry, &mut file, &mut buf, &mut budget, &name, &path)?;
        check_size(&name, declared_bytes, actual_bytes)?;
        file.set_permissions(fs::Permissions::from_mode(mode)).map_err(io_error("set the mode of", &path))?;
        // A package under its final name must survive a power cut whole.
        file.sync_all().map_err(io_error("sync", &path))?;
    }

    for link in &links {
        if let Some(parent) = link.path.parent() {
            dirs.ensure(parent, &link.entry)?;
        }
        let path = root.join(&link.path);
        match symlink(&link.target, &path) {
            Ok(()) => {}
            Err(e) if is_conflict(&e) || e.kind() == io::ErrorKind::AlreadyExists => {
                return Err(PackageError::InvalidEntry {
                    entry: link.entry.clone(),
                    problem: EntryProblem::PathConflict,
                });
            }
            Err(source) => return Err(PackageError::Io { action: "create the symbolic link", path, source }),
        }
    }
    // Each link was checked lexically on its own; this follows links through
    // each other, as the kernel will, to catch chains that leave the package.
    for link in &links {
        let start: Vec<OsString> = components(link.path.parent().unwrap_or(Path::new("")));
        let mut hops = 0;
        if let Err(problem) = resolve_inside(root, start, &link.target, &mut hops) {
            let problem = match problem {
                Resolve::Escapes => EntryProblem::LinkEscapesRoot { target: link.target.display().to_string() },
                Resolve::Loops => EntryProblem::LinkLoop,
            };
            return Err(PackageError::InvalidEntry { entry: link.entry.clone(), problem });
        }
    }
    for dir in &dirs.known {
        sync_dir(&root.join(dir))?;
    }
    Ok(budget.used_bytes)
}

/// The running total of decompressed bytes against the unzipped limit.
struct Budget {
    used_bytes: u64,
    limit_bytes: u64,
}

/// Copies `reader` to `writer`, charging every decompressed byte to
/// `budget` before it is written. Read errors are the archive's fault;
/// write errors are ours (`path` names the file written).
fn copy_counted(
    reader: &mut impl Read,
    writer: &mut impl Write,
    buf: &mut [u8],
    budget: &mut Budget,
    entry: &str,
    path: &Path,
) -> Result<u64, PackageError> {
    let mut copied: u64 = 0;
    loop {
        let n = match reader.read(buf) {
            Ok(0) => return Ok(copied),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(PackageError::UnreadableEntry { entry: entry.to_owned(), source: ZipError::Io(e) }),
        };
        copied += n as u64;
        budget.used_bytes += n as u64;
        if budget.used_bytes > budget.limit_bytes {
            return Err(PackageError::UnzippedTooLarge {
                limit_bytes: budget.limit_bytes,
                entry: Some(entry.to_owned()),
            });
        }
        writer.write_all(&buf[..n]).map_err(io_error("write", path))?;
    }
}

fn check_size(entry: &str, declared_bytes: u64, actual_bytes: u64) -> Result<(), PackageError> {
    if declared_bytes == actual_bytes {
        return Ok(());
    }
    Err(PackageError::InvalidEntry {
        entry: entry.to_owned(),
        problem: EntryProblem::SizeMismatch { declared_bytes, actual_bytes },
    })
}

/// Directories known to exist as real directories (not links) under `root`.
struct KnownDirs<'a> {
    root: &'a Path,
    known: HashSet<PathBuf>,
}

impl KnownDirs<'_> {
    /// Makes `relative` and its parents directories, mode `0o755` when new,
    /// refusing to go through a symbolic link or a file.
    fn ensure(&mut self, relative: &Path, entry: &str) -> Result<(), PackageError> {
        let mut prefix = PathBuf::new();
        for component in relative.components() {
            prefix.push(component);
            if self.known.contains(&prefix) {
                continue;
            }
            let path = self.root.join(&prefix);
            let invalid = |problem| PackageError::InvalidEntry { entry: entry.to_owned(), problem };
            match fs::symlink_metadata(&path) {
                Ok(meta) if meta.is_dir() => {}
                Ok(meta) if meta.file_type().is_symlink() => return Err(invalid(EntryProblem::BeneathLink)),
                Ok(_) => return Err(invalid(EntryProblem::PathConflict)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    fs::create_dir(&path).map_err(io_error("create the directory", &path))?;
                    set_mode(&path, DEFAULT_DIR_MODE)?;
                }
                Err(source) => return Err(PackageError::Io { action: "inspect", path, source }),
            }
            self.known.insert(prefix.clone());
        }
        Ok(())
    }
}

/// An entry's name as a path relative to the package root, resolved
/// lexically. Empty for the root itself (e.g. `./`).
fn entry_path(name: &str) -> Result<PathBuf, EntryProblem> {
    if name.contains('\0') {
        return Err(EntryProblem::NulInPath);
    }
    if name.starts_with('/') {
        return Err(EntryProblem::AbsolutePath);
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in name.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop().ok_or(EntryProblem::PathEscapesRoot)?;
            }
            part => parts.push(part),
        }
    }
    Ok(parts.iter().collect())
}

/// Checks a symlink's target on its own: relative, and lexically inside the
/// package when resolved from the link's directory.
fn link_target(link: &Path, target: &[u8]) -> Result<PathBuf, EntryProblem> {
    if target.is_empty() || target.contains(&0) {
        return Err(EntryProblem::InvalidLinkTarget);
    }
    let target = PathBuf::from(OsStr::from_bytes(target));
    let shown = || target.display().to_string();
    if target.has_root() {
        return Err(EntryProblem::AbsoluteLinkTarget { target: shown() });
    }
    let mut depth = link.components().count().saturating_sub(1);
    for component in target.components() {
        match component {
            Component::ParentDir => {
                depth = depth.checked_sub(1).ok_or_else(|| EntryProblem::LinkEscapesRoot { target: shown() })?;
            }
            Component::Normal(_) => depth += 1,
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
        }
    }
    Ok(target)
}

enum Resolve {
    Escapes,
    Loops,
}

/// Resolves `target` from the directory `at` (components under `root`) the
/// way the kernel would, following links that exist under `root`, and
/// returns where it lands. Missing components resolve lexically.
fn resolve_inside(root: &Path, mut at: Vec<OsString>, target: &Path, hops: &mut u32) -> Result<Vec<OsString>, Resolve> {
    for component in target.components() {
        match component {
            Component::Prefix(_) | Component::RootDir => return Err(Resolve::Escapes),
            Component::CurDir => {}
            Component::ParentDir => {
                at.pop().ok_or(Resolve::Escapes)?;
            }
            Component::Normal(name) => {
                at.push(name.to_owned());
                let path: PathBuf =
                    std::iter::once(root.as_os_str()).chain(at.iter().map(OsString::as_os_str)).collect();
                if fs::symlink_metadata(&path).is_ok_and(|meta| meta.file_type().is_symlink()) {
                    *hops += 1;
                    if *hops > MAX_LINK_HOPS {
                        return Err(Resolve::Loops);
                    }
                    let next = fs::read_link(&path).map_err(|_| Resolve::Escapes)?;
                    at.pop();
                    at = resolve_inside(root, at, &next, hops)?;
                }
            }
        }
    }
    Ok(at)
}

fn components(path: &Path) -> Vec<OsString> {
    path.components().map(|c| c.as_os_str().to_owned()).collect()
}

/// The permission bits to give an entry: its Unix mode when it has one.
fn entry_mode(system: System, unix_mode: Option<u32>, is_dir: bool) -> u32 {
    match unix_mode {
        Some(mode) if system == System::Unix && mode & 0o777 != 0 => mode & 0o777,
        _ if is_dir => DEFAULT_DIR_MODE,
        _ => DEFAULT_FILE_MODE,
    }
}

/// Whether creating a path failed because the archive put two kinds of
/// entry at one place (a file where a directory is, or under a file).
fn is_conflict(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::IsADirectory | io::ErrorKind::NotADirectory)
}

fn set_mode(path: &Path, mode: u32) -> Result<(), PackageError> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(io_error("set the mode of", path))
}

fn sync_dir(path: &Path) -> Result<(), PackageError> {
    File::open(path).and_then(|dir| dir.sync_all()).map_err(io_error("sync", path))
}

fn io_error<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> PackageError + 'a {
    move |source| PackageError::Io { action, path: path.to_owned(), source }
}

fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut hex = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        hex.push(char::from(DIGITS[usize::from(b >> 4)]));
        hex.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    hex
}

/// One entry of a directory being zipped.
struct SourceEntry {
    /// The zip entry name: `/`-separated, relative, no trailing `/`.
    name: String,
    path: PathBuf,
    is_dir: bool,
    mode: u32,
    len_bytes: u64,
}

/// Zips the tree under `dir` deterministically, for `cloudlet fn deploy DIR`.
///
/// The same tree always gives the same bytes, and so the same CodeSha256:
/// entries are sorted by name, every timestamp is 1980-01-01 00:00, and only
/// permission bits (`0o777`) are kept. Empty directories are kept.
/// Symbolic links are followed, as `zip -r`, Terraform's `archive_file` and
/// the Serverless Framework do, so a link to shared code outside `dir`
/// deploys that code; a link to one of its own parents is an error.
///
/// Left out, at any depth: `.git` (a repository's history is never code the
/// function runs, and would count against the package limits). Nothing else
/// is skipped: `__pycache__` and the like are deployed as they are, because
/// Lambda runs what the directory holds. Anything that is not a file or a
/// directory (a socket, a device, a broken link) is an error.
pub fn zip_directory(dir: &Path) -> Result<Vec<u8>, PackageError> {
    let mut entries = Vec::new();
    let canonical = fs::canonicalize(dir).map_err(io_error("open the directory", dir))?;
    collect(dir, "", &mut vec![canonical], &mut entries)?;
    entries.sort_by(|a, b| a.name.cmp(&b.name));

    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    let base = SimpleFileOptions::default().last_modified_time(DateTime::default());
    let zip_error = |source| PackageError::ZipWrite { source };
    for entry in &entries {
        if entry.is_dir {
            let options = base.compression_method(CompressionMethod::Stored).unix_permissions(entry.mode);
            writer.add_directory(format!("{}/", entry.name), options).map_err(zip_error)?;
            continue;
        }
        let options = base
            .compression_method(CompressionMethod::Deflated)
            .unix_permissions(entry.mode)
            .large_file(entry.len_bytes >= u64::from(u32::MAX));
        writer.start_file(entry.name.as_str(), options).map_err(zip_error)?;
        let mut file = File::open(&entry.path).map_err(io_error("open", &entry.path))?;
        io::copy(&mut file, &mut writer).map_err(io_error("read", &entry.path))?;
    }
    Ok(writer.finish().map_err(zip_error)?.into_inner())
}

/// Adds the contents of `dir` (named `prefix` in the zip) to `entries`.
/// `parents` holds the canonical paths of the directories being walked, to
/// catch links back to one of them.
fn collect(
    dir: &Path,
    prefix: &str,
    parents: &mut Vec<PathBuf>,
    entries: &mut Vec<SourceEntry>,
) -> Result<(), PackageError> {
    for item in fs::read_dir(dir).map_err(io_error("list", dir))? {
        let item = item.map_err(io_error("list", dir))?;
        let path = item.path();
        let file_name = item.file_name();
        let Some(file_name) = file_name.to_str() else {
            return Err(PackageError::NonUtf8Name { path });
        };
        if SKIPPED_NAMES.contains(&file_name) {
            continue;
        }
        let name = if prefix.is_empty() { file_name.to_owned() } else { format!("{prefix}/{file_name}") };
        // Follows symbolic links; a broken one fails here.
        let meta = fs::metadata(&path).map_err(io_error("read the metadata of", &path))?;
        let mode = meta.permissions().mode() & 0o777;
        if meta.is_dir() {
            let canonical = fs::canonicalize(&path).map_err(io_error("resolve", &path))?;
            if parents.contains(&canonical) {
                return Err(PackageError::DirectoryCycle { path });
            }
            entries.push(SourceEntry { name: name.clone(), path: path.clone(), is_dir: true, mode, len_bytes: 0 });
            parents.push(canonical);
            collect(&path, &name, parents, entries)?;
            parents.pop();
        } else if meta.is_file() {
            entries.push(SourceEntry { name, path, is_dir: false, mode, len_bytes: meta.len() });
        } else {
            return Err(PackageError::UnsupportedFileType { path });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
