//! Tests for the code package cache and `zip_directory`: zips are built here with the zip crate's writer.

use super::*;
use std::time::{Duration, SystemTime};

const MIB: usize = 1024 * 1024;

/// Builds a zip entry by entry.
struct ZipBuilder {
    writer: ZipWriter<Cursor<Vec<u8>>>,
}

impl ZipBuilder {
    fn new() -> ZipBuilder {
        ZipBuilder { writer: ZipWriter::new(Cursor::new(Vec::new())) }
    }

    fn options() -> SimpleFileOptions {
        SimpleFileOptions::default().compression_method(CompressionMethod::Deflated)
    }

    fn file(self, name: &str, content: &[u8], mode: u32) -> ZipBuilder {
        self.file_with(name, content, ZipBuilder::options().unix_permissions(mode))
    }

    fn file_with(mut self, name: &str, content: &[u8], options: SimpleFileOptions) -> ZipBuilder {
        self.writer.start_file(name, options).expect("start file");
        self.writer.write_all(content).expect("write file");
        self
    }

    fn dir(self, name: &str, mode: u32) -> ZipBuilder {
        self.dir_with(name, ZipBuilder::options().unix_permissions(mode))
    }

    fn dir_with(mut self, name: &str, options: SimpleFileOptions) -> ZipBuilder {
        self.writer.add_directory(name, options).expect("add directory");
        self
    }

    fn symlink(mut self, name: &str, target: &str) -> ZipBuilder {
        self.writer.add_symlink(name, target, ZipBuilder::options()).expect("add symlink");
        self
    }

    fn finish(self) -> Vec<u8> {
        self.writer.finish().expect("finish zip").into_inner()
    }
}

fn cache_with(limits: PackageLimits) -> (tempfile::TempDir, PackageCache) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cache = PackageCache::with_limits(tmp.path().join("code"), limits);
    (tmp, cache)
}

fn cache() -> (tempfile::TempDir, PackageCache) {
    cache_with(PackageLimits::default())
}

/// Names in the cache root; empty when the root was never created.
fn cache_entries(cache: &PackageCache) -> Vec<String> {
    match fs::read_dir(cache.root()) {
        Ok(entries) => {
            let mut names: Vec<String> =
                entries.map(|e| e.expect("dir entry").file_name().to_string_lossy().into_owned()).collect();
            names.sort();
            names
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => panic!("cannot list the cache: {e}"),
    }
}

fn mode_of(path: &Path) -> u32 {
    fs::symlink_metadata(path).expect("metadata").permissions().mode() & 0o7777
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).expect("read file")
}

/// `store_zip` fails with an "unzip" error and leaves nothing in the cache;
/// returns the error for more specific checks.
fn assert_could_not_unzip(cache: &PackageCache, zip: &[u8]) -> PackageError {
    let err = cache.store_zip(zip).expect_err("the zip must be refused");
    assert_eq!(
        (err.aws_error_type(), err.http_status(), err.aws_message().as_str()),
        (
            "InvalidParameterValueException",
            400,
            "Could not unzip uploaded file. Please check your file, then try to upload again."
        ),
        "{err}"
    );
    assert_eq!(cache_entries(cache), Vec::<String>::new());
    err
}

fn invalid_entry(err: PackageError) -> (String, EntryProblem) {
    match err {
        PackageError::InvalidEntry { entry, problem } => (entry, problem),
        other => panic!("expected InvalidEntry, got {other:?}"),
    }
}

fn hex_decode(hex: &str) -> Vec<u8> {
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex digit")).collect()
}

/// A 159-byte zip made by Python's zipfile (stored, not compressed): one
/// entry `index.py`, mode 0644, 45 bytes.
const PYTHON_ZIP_HEX: &str = concat!(
    "504b030414000000000000002150cbd78d5f2d0000002d00000008000000696e6465782e70796465662068616e646c65",
    "72286576656e742c20636f6e74657874293a0a2020202072657475726e20226f6b220a504b0102140314000000000000",
    "002150cbd78d5f2d0000002d000000080000000000000000000000a48100000000696e6465782e7079504b0506000000",
    "000100010036000000530000000000",
);

#[test]
fn code_sha256_is_base64_of_the_zips_sha256() {
    let zip = hex_decode(PYTHON_ZIP_HEX);
    let (_tmp, cache) = cache();

    let package = cache.store_zip(&zip).expect("store");

    // Computed outside Rust: sha256sum fixture.zip | xxd -r -p | base64
    assert_eq!(package.sha256_base64, "S1xjdsvF9pT5fYvAtQ+Mo+qz9Rsc37RxWmTElFpS65c=");
    assert_eq!(package.sha256_hex, "4b5c6376cbc5f694f97d8bc0b50f8ca3eab3f51b1cdfb4715a64c4945a52eb97");
    assert_eq!((package.code_size_bytes, package.unzipped_size_bytes), (159, 45));
    assert_eq!(package.dir, cache.root().join(&package.sha256_hex));
    assert_eq!(read(&package.dir.join("index.py")), "def handler(event, context):\n    return \"ok\"\n");
    assert_eq!(mode_of(&package.dir.join("index.py")), 0o644);
    assert_eq!(cache.store_zip(&zip).expect("store again"), package, "identical bytes, identical package");
}

#[test]
fn round_trip_keeps_files_nested_directories_and_the_executable_bit() {
    let zip = ZipBuilder::new()
        .file("bootstrap", b"#!/bin/sh\necho hi\n", 0o755)
        .dir("lib/", 0o750)
        .file("lib/util/helpers.py", b"X = 1\n", 0o600)
        .file("lib/data.json", b"{}", 0o644)
        .dir("empty/", 0o755)
        .finish();
    let (_tmp, cache) = cache();

    let package = cache.store_zip(&zip).expect("store");

    let dir = &package.dir;
    assert_eq!(read(&dir.join("bootstrap")), "#!/bin/sh\necho hi\n");
    assert_eq!(mode_of(&dir.join("bootstrap")), 0o755, "a provided runtime's bootstrap stays executable");
    assert_eq!(read(&dir.join("lib/util/helpers.py")), "X = 1\n");
    assert_eq!(mode_of(&dir.join("lib/util/helpers.py")), 0o600);
    assert_eq!(mode_of(&dir.join("lib")), 0o750);
    assert_eq!(mode_of(&dir.join("lib/util")), 0o755, "a directory with no entry of its own gets 0755");
    assert!(dir.join("empty").is_dir());
    assert_eq!(package.unzipped_size_bytes, 18 + 6 + 2);
    assert_eq!(cache_entries(&cache), vec![package.sha256_hex.clone()], "no temporary directory is left");
}

#[test]
fn entries_without_unix_modes_get_0644_and_0755() {
    // Mode bits in a DOS entry's attributes are not Unix modes: ignored.
    let dos = ZipBuilder::options().system(System::Dos).unix_permissions(0o600);
    let zip = ZipBuilder::new()
        .dir_with("win/", dos.unix_permissions(0o700))
        .file_with("win/handler.py", b"pass\n", dos)
        .file_with("implicit/dir.py", b"", dos)
        .file_with("unix-but-no-mode.txt", b"x", ZipBuilder::options().external_attributes(0))
        .file("mode-zero.txt", b"y", 0)
        .finish();
    let (_tmp, cache) = cache();

    let dir = cache.store_zip(&zip).expect("store").dir;

    assert_eq!(mode_of(&dir.join("win/handler.py")), 0o644);
    assert_eq!(mode_of(&dir.join("win")), 0o755);
    assert_eq!(mode_of(&dir.join("implicit")), 0o755);
    assert_eq!(mode_of(&dir.join("unix-but-no-mode.txt")), 0o644);
    assert_eq!(mode_of(&dir.join("mode-zero.txt")), 0o644);
}

#[test]
fn special_bits_are_dropped_and_directories_stay_writable_by_their_owner() {
    let zip = ZipBuilder::new()
        .file_with("setuid", b"", ZipBuilder::options().external_attributes(0o104_755 << 16))
        .dir("locked/", 0o500)
        .file("locked/inside.txt", b"in", 0o400)
        .finish();
    let (_tmp, cache) = cache();

    let dir = cache.store_zip(&zip).expect("store").dir;

    assert_eq!(mode_of(&dir.join("setuid")), 0o755);
    assert_eq!(mode_of(&dir.join("locked")), 0o700);
    assert_eq!(mode_of(&dir.join("locked/inside.txt")), 0o400);
}

#[test]
fn a_backslash_is_part_of_a_file_name() {
    // Zips made by old Windows tools use `\`; Lambda's Linux keeps it in the name.
    let zip = ZipBuilder::new().file("src\\handler.py", b"pass", 0o644).finish();
    let (_tmp, cache) = cache();

    let dir = cache.store_zip(&zip).expect("store").dir;

    assert_eq!(read(&dir.join("src\\handler.py")), "pass");
    assert!(!dir.join("src").exists());
}

#[test]
fn a_cached_package_is_not_unpacked_again() {
    let zip = ZipBuilder::new().file("index.js", b"exports.handler = 1;\n", 0o644).finish();
    let (_tmp, cache) = cache();
    let (first, stored) = cache.store(&zip).expect("store");
    assert_eq!(stored, Stored::Unpacked);
    fs::write(first.dir.join("index.js"), "changed in the cache").expect("modify the cached file");

    let (second, stored) = cache.store(&zip).expect("store again");

    assert_eq!((second.clone(), stored), (first.clone(), Stored::CacheHit));
    assert_eq!(read(&second.dir.join("index.js")), "changed in the cache", "the cache hit did not unzip");
    let restarted = PackageCache::new(cache.root().to_owned());
    assert_eq!(restarted.store(&zip).expect("store after a restart"), (first, Stored::CacheHit));
}

#[test]
fn path_for_finds_only_unpacked_packages() {
    let zip = ZipBuilder::new().file("a.py", b"a", 0o644).finish();
    let (_tmp, cache) = cache();
    let package = cache.store_zip(&zip).expect("store");

    assert_eq!(cache.path_for(&package.sha256_hex), Some(package.dir.clone()));
    assert_eq!(cache.path_for(&"0".repeat(64)), None, "not in the cache");
    assert_eq!(cache.path_for(&package.sha256_hex.to_uppercase()), None, "hex digests are lower-case");
    assert_eq!(cache.path_for(".."), None);
    let temp = format!("{TEMP_PREFIX}{}", package.sha256_hex);
    fs::create_dir(cache.root().join(&temp)).expect("fake temp dir");
    assert_eq!(cache.path_for(&temp), None, "an unpack in progress is not a package");
}

#[test]
fn concurrent_stores_of_the_same_bytes_share_one_package() {
    let zip = ZipBuilder::new().file("bootstrap", b"#!/bin/sh\n", 0o755).file("lib/x", &[7; 10_000], 0o644).finish();
    let (_tmp, cache) = cache();

    let packages: Vec<CodePackage> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4).map(|_| scope.spawn(|| cache.store_zip(&zip))).collect();
        handles.into_iter().map(|h| h.join().expect("thread").expect("store")).collect()
    });

    assert!(packages.iter().all(|p| *p == packages[0]));
    assert_eq!(cache_entries(&cache), vec![packages[0].sha256_hex.clone()], "every loser removed its copy");
    assert_eq!(fs::read(packages[0].dir.join("lib/x")).expect("read"), vec![7; 10_000]);
}

#[test]
fn leftovers_of_a_crashed_unpack_are_ignored_and_removable() {
    let zip = ZipBuilder::new().file("a.py", b"a", 0o644).finish();
    let (_tmp, cache) = cache();
    let hex = to_hex(&Sha256::digest(&zip));
    let leftover = cache.root().join(format!("{TEMP_PREFIX}{hex}-999-0"));
    fs::create_dir_all(leftover.join("half")).expect("leftover");

    let package = cache.store_zip(&zip).expect("store despite the leftover");
    assert_eq!(read(&package.dir.join("a.py")), "a");

    assert_eq!(cache.remove_incomplete().expect("remove"), 1);
    assert_eq!(cache_entries(&cache), vec![hex]);
    assert_eq!(PackageCache::new(cache.root().join("missing")).remove_incomplete().expect("no root"), 0);
}

#[test]
fn zip_slip_through_parent_directories_is_refused() {
    let zip = ZipBuilder::new().file("ok.py", b"ok", 0o644).file("../evil", b"pwned", 0o644).finish();
    let (tmp, cache) = cache();

    let (entry, problem) = invalid_entry(assert_could_not_unzip(&cache, &zip));

    assert_eq!((entry.as_str(), problem), ("../evil", EntryProblem::PathEscapesRoot));
    assert!(!tmp.path().join("evil").exists());
}

#[test]
fn parent_directories_inside_the_package_are_resolved() {
    let zip = ZipBuilder::new().file("a/../b.txt", b"b", 0o644).file("./c//d.txt", b"d", 0o644).finish();
    let (_tmp, cache) = cache();

    let dir = cache.store_zip(&zip).expect("store").dir;

    assert_eq!((read(&dir.join("b.txt")), read(&dir.join("c/d.txt"))), ("b".to_owned(), "d".to_owned()));
}

#[test]
fn absolute_paths_are_refused() {
    let zip = ZipBuilder::new().file("/etc/x", b"pwned", 0o644).finish();
    let (_tmp, cache) = cache();

    let (entry, problem) = invalid_entry(assert_could_not_unzip(&cache, &zip));

    assert_eq!((entry.as_str(), problem), ("/etc/x", EntryProblem::AbsolutePath));
}

#[test]
fn symlinks_that_leave_the_package_are_refused() {
    let (_tmp, cache) = cache();
    let escaping = ZipBuilder::new().file("index.py", b"", 0o644).symlink("lib/passwd", "../../etc/passwd").finish();
    let (entry, problem) = invalid_entry(assert_could_not_unzip(&cache, &escaping));
    assert_eq!(entry, "lib/passwd");
    assert_eq!(problem, EntryProblem::LinkEscapesRoot { target: "../../etc/passwd".to_owned() });

    let absolute = ZipBuilder::new().symlink("passwd", "/etc/passwd").finish();
    let (_, problem) = invalid_entry(assert_could_not_unzip(&cache, &absolute));
    assert_eq!(problem, EntryProblem::AbsoluteLinkTarget { target: "/etc/passwd".to_owned() });
}

#[test]
fn symlinks_inside_the_package_are_kept_as_symlinks() {
    let zip = ZipBuilder::new()
        .file("lib/real.txt", b"real", 0o644)
        .symlink("link.txt", "lib/real.txt")
        .symlink("lib/self", "../lib")
        .finish();
    let (_tmp, cache) = cache();

    let package = cache.store_zip(&zip).expect("store");

    let dir = &package.dir;
    assert_eq!(package.unzipped_size_bytes, 4 + 12 + 6, "link targets count as unzipped bytes");
    assert_eq!(fs::read_link(dir.join("link.txt")).expect("link"), PathBuf::from("lib/real.txt"));
    assert_eq!(read(&dir.join("link.txt")), "real");
    assert_eq!(read(&dir.join("lib/self/real.txt")), "real");
}

#[test]
fn symlink_chains_that_leave_the_package_are_refused() {
    // Each link alone stays inside; `l` goes through `q` (the root) and then up.
    let zip = ZipBuilder::new()
        .dir("a/", 0o755)
        .dir("a/b/", 0o755)
        .symlink("a/b/q", "../..")
        .symlink("l", "a/b/q/..")
        .finish();
    let (_tmp, cache) = cache();

    let (entry, problem) = invalid_entry(assert_could_not_unzip(&cache, &zip));

    assert_eq!((entry.as_str(), problem), ("l", EntryProblem::LinkEscapesRoot { target: "a/b/q/..".to_owned() }));
}

#[test]
fn symlink_loops_are_refused() {
    let zip = ZipBuilder::new().symlink("x", "y").symlink("y", "x").finish();
    let (_tmp, cache) = cache();

    let (_, problem) = invalid_entry(assert_could_not_unzip(&cache, &zip));

    assert_eq!(problem, EntryProblem::LinkLoop);
}

#[test]
fn nothing_is_written_through_a_symlink() {
    let (_tmp, cache) = cache();
    let file_under_link =
        ZipBuilder::new().dir("sub/", 0o755).symlink("lnk", "sub").file("lnk/evil.txt", b"x", 0o644).finish();
    let (entry, problem) = invalid_entry(assert_could_not_unzip(&cache, &file_under_link));
    assert_eq!((entry.as_str(), problem), ("lnk", EntryProblem::PathConflict));

    let link_under_link =
        ZipBuilder::new().dir("sub/", 0o755).symlink("lnk", "sub").symlink("lnk/inner", "..").finish();
    let (entry, problem) = invalid_entry(assert_could_not_unzip(&cache, &link_under_link));
    assert_eq!((entry.as_str(), problem), ("lnk/inner", EntryProblem::BeneathLink));
}

#[test]
fn a_file_and_a_directory_at_one_path_conflict() {
    let zip = ZipBuilder::new().file("a", b"file", 0o644).file("a/b", b"under a file", 0o644).finish();
    let (_tmp, cache) = cache();

    let (entry, problem) = invalid_entry(assert_could_not_unzip(&cache, &zip));

    assert_eq!((entry.as_str(), problem), ("a/b", EntryProblem::PathConflict));
}

#[test]
fn a_zip_bomb_is_refused() {
    let zeros = vec![0u8; 10 * MIB];
    let zip = ZipBuilder::new().file("zeros.bin", &zeros, 0o644).finish();
    assert!(zip.len() < 64 * 1024, "10 MB of zeros compress to {} bytes", zip.len());
    let (_tmp, cache) = cache_with(PackageLimits { unzipped_bytes: MIB as u64, ..PackageLimits::default() });

    let err = cache.store_zip(&zip).expect_err("bomb");

    assert_eq!(
        (err.aws_error_type(), err.http_status(), err.aws_message().as_str()),
        ("InvalidParameterValueException", 400, "Unzipped size must be smaller than 1048576 bytes")
    );
    assert_eq!(cache_entries(&cache), Vec::<String>::new());
}

#[test]
fn the_unzipped_limit_counts_decompressed_bytes_while_streaming() {
    let mut budget = Budget { used_bytes: 300, limit_bytes: MIB as u64 };
    let mut sink = Vec::new();
    let mut buf = vec![0u8; 4096];

    let err = copy_counted(
        &mut io::repeat(0).take(2 * MIB as u64),
        &mut sink,
        &mut buf,
        &mut budget,
        "big",
        Path::new("big"),
    )
    .expect_err("over the limit");

    assert!(
        matches!(err, PackageError::UnzippedTooLarge { limit_bytes, entry: Some(ref e) } if limit_bytes == MIB as u64 && e == "big")
    );
    assert!(sink.len() + 300 <= MIB, "nothing past the limit is written ({} bytes were)", sink.len());
}

#[test]
fn headers_that_understate_sizes_are_not_trusted() {
    let zip = ZipBuilder::new()
        .file_with("big.txt", &[b'a'; 1000], ZipBuilder::options().compression_method(CompressionMethod::Stored))
        .finish();
    // Claim 10 bytes in the local header (offset 22) and the central
    // directory header (offset 24 from its signature).
    let mut lying = zip.clone();
    lying[22..26].copy_from_slice(&10u32.to_le_bytes());
    let central = zip.windows(4).position(|w| w == b"PK\x01\x02").expect("central directory");
    lying[central + 24..central + 28].copy_from_slice(&10u32.to_le_bytes());
    let (_tmp, cache) = cache_with(PackageLimits { unzipped_bytes: 100, ..PackageLimits::default() });

    let err = assert_could_not_unzip(&cache, &lying);
    assert!(matches!(&err, PackageError::UnreadableEntry { entry, .. } if entry == "big.txt"), "{err:?}");
}

#[test]
fn the_zipped_limit_is_checked_first() {
    let zip = ZipBuilder::new().file("a.txt", &[1; 500], 0o644).finish();
    let (_tmp, cache) = cache_with(PackageLimits { zipped_bytes: zip.len() as u64 - 1, ..PackageLimits::default() });

    let err = cache.store_zip(&zip).expect_err("too big");

    assert_eq!(
        (err.aws_error_type(), err.http_status(), err.aws_message()),
        ("RequestEntityTooLargeException", 413, format!("Zipped size must be smaller than {} bytes", zip.len() - 1))
    );
    assert_eq!(cache_entries(&cache), Vec::<String>::new());
}

#[test]
fn sizes_equal_to_the_limits_are_accepted() {
    let zip = ZipBuilder::new().file("a.txt", &[1; 500], 0o644).file("b.txt", &[2; 24], 0o644).finish();
    let limits = PackageLimits { zipped_bytes: zip.len() as u64, unzipped_bytes: 524 };
    let (_tmp, cache) = cache_with(limits);

    assert_eq!(cache.store_zip(&zip).expect("store").unzipped_size_bytes, 524);
    let (_tmp, cache) = cache_with(PackageLimits { unzipped_bytes: 523, ..limits });
    assert!(matches!(cache.store_zip(&zip), Err(PackageError::UnzippedTooLarge { limit_bytes: 523, .. })));
}

#[test]
fn garbage_and_damaged_zips_cannot_be_unzipped() {
    let (_tmp, cache) = cache();
    let err = assert_could_not_unzip(&cache, b"this is not a zip file at all, just some text");
    assert!(matches!(err, PackageError::Unreadable { .. }), "{err:?}");

    let zip = ZipBuilder::new().file("a.txt", &[b'z'; 5000], 0o644).file("b.txt", b"b", 0o644).finish();
    let err = assert_could_not_unzip(&cache, &zip[..zip.len() / 2]);
    assert!(matches!(err, PackageError::Unreadable { .. }), "a truncated zip has no central directory: {err:?}");

    // A flipped byte inside a.txt's compressed data.
    let mut damaged = zip.clone();
    damaged[30 + "a.txt".len() + 2] ^= 0xff;
    let err = assert_could_not_unzip(&cache, &damaged);
    assert!(
        matches!(&err, PackageError::UnreadableEntry { entry, .. } | PackageError::InvalidEntry { entry, .. } if entry == "a.txt"),
        "{err:?}"
    );
}

#[test]
fn compression_methods_other_than_stored_and_deflate_cannot_be_unzipped() {
    let zip = ZipBuilder::new().file("a.txt", b"aaaa", 0o644).finish();
    // Relabel the entry as bzip2 (12) in its local and central headers.
    let mut bzip2 = zip.clone();
    bzip2[8..10].copy_from_slice(&12u16.to_le_bytes());
    let central = zip.windows(4).position(|w| w == b"PK\x01\x02").expect("central directory");
    bzip2[central + 10..central + 12].copy_from_slice(&12u16.to_le_bytes());
    let (_tmp, cache) = cache();

    let err = assert_could_not_unzip(&cache, &bzip2);

    assert!(matches!(&err, PackageError::UnreadableEntry { entry, .. } if entry == "a.txt"), "{err:?}");
}

#[test]
fn empty_uploads_are_refused_as_lambda_does() {
    let (_tmp, cache) = cache();
    let no_entries = ZipWriter::new(Cursor::new(Vec::new())).finish().expect("finish").into_inner();

    for zip in [&no_entries[..], &[][..]] {
        let err = cache.store_zip(zip).expect_err("empty");
        assert_eq!(
            (err.aws_error_type(), err.http_status(), err.aws_message().as_str()),
            ("InvalidParameterValueException", 400, "Uploaded file must be a non-empty zip")
        );
    }
    assert_eq!(cache_entries(&cache), Vec::<String>::new());
}

#[test]
fn errors_keep_their_cause_out_of_their_message() {
    let err = PackageCache::new(PathBuf::from("/nonexistent")).store_zip(b"junk").expect_err("junk");

    assert_eq!(err.to_string(), "the uploaded file is not a readable zip archive");
    assert!(std::error::Error::source(&err).is_some());
    let io = PackageError::Io { action: "write", path: PathBuf::from("/x"), source: io::Error::other("disk full") };
    assert_eq!(
        (io.aws_error_type(), io.http_status(), io.aws_message()),
        ("ServiceException", 500, "could not write `/x`".to_owned())
    );
}

/// A small function tree; `reverse` creates it in the opposite order with
/// other timestamps, which must not change the zip.
fn make_tree(root: &Path, reverse: bool) {
    let mut steps: Vec<Box<dyn Fn()>> = vec![
        Box::new(|| fs::create_dir_all(root.join("src/pkg/__pycache__")).expect("mkdir")),
        Box::new(|| fs::create_dir_all(root.join("empty")).expect("mkdir")),
        Box::new(|| fs::create_dir_all(root.join(".git/objects")).expect("mkdir")),
    ];
    let files: [(&str, &[u8], u32); 6] = [
        ("bootstrap", b"#!/bin/sh\nexec ./handler\n", 0o755),
        ("src/pkg/mod.py", b"def handler(e, c):\n    return 1\n", 0o644),
        ("src/pkg/__pycache__/mod.cpython-312.pyc", b"\x00pyc", 0o644),
        ("src/a-b.txt", b"sorted before src/pkg", 0o600),
        ("README", b"readme", 0o444),
        (".git/objects/abc", b"history", 0o444),
    ];
    for (name, content, mode) in files {
        steps.push(Box::new(move || {
            let path = root.join(name);
            fs::write(&path, content).expect("write");
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).expect("chmod");
            let mtime =
                SystemTime::UNIX_EPOCH + Duration::from_secs(if reverse { 2_000_000_000 } else { 1_000_000_000 });
            File::open(&path).expect("open").set_modified(mtime).expect("set mtime");
        }));
    }
    if reverse {
        // Directories first, then files from last to first.
        let (dirs, files) = steps.split_at(3);
        dirs.iter().chain(files.iter().rev()).for_each(|step| step());
    } else {
        steps.iter().for_each(|step| step());
    }
}

fn zip_names(zip: &[u8]) -> Vec<(String, Option<u32>)> {
    let mut archive = ZipArchive::new(Cursor::new(zip)).expect("readable");
    (0..archive.len())
        .map(|i| {
            let entry = archive.by_index(i).expect("entry");
            (entry.name().expect("name").into_owned(), entry.unix_mode().map(|m| m & 0o777))
        })
        .collect()
}

#[test]
fn zip_directory_is_deterministic() {
    let one = tempfile::tempdir().expect("tempdir");
    let two = tempfile::tempdir().expect("tempdir");
    make_tree(one.path(), false);
    make_tree(two.path(), true);

    let zip = zip_directory(one.path()).expect("zip");

    assert_eq!(zip, zip_directory(one.path()).expect("zip again"), "same tree, same bytes");
    assert_eq!(zip, zip_directory(two.path()).expect("zip the copy"), "creation order and mtimes do not matter");
    assert_eq!(
        zip_names(&zip),
        [
            ("README", Some(0o444)),
            ("bootstrap", Some(0o755)),
            ("empty/", Some(0o755)),
            ("src/", Some(0o755)),
            ("src/a-b.txt", Some(0o600)),
            ("src/pkg/", Some(0o755)),
            ("src/pkg/__pycache__/", Some(0o755)),
            ("src/pkg/__pycache__/mod.cpython-312.pyc", Some(0o644)),
            ("src/pkg/mod.py", Some(0o644)),
        ]
        .map(|(name, mode)| (name.to_owned(), mode)),
        "sorted, `.git` left out, `__pycache__` kept"
    );
    let mut archive = ZipArchive::new(Cursor::new(&zip[..])).expect("readable");
    let first = archive.by_index(0).expect("entry");
    assert_eq!(first.last_modified().map(|t| (t.year(), t.month(), t.day())), Some((1980, 1, 1)));
}

#[test]
fn zip_directory_round_trips_through_the_cache() {
    let src = tempfile::tempdir().expect("tempdir");
    make_tree(src.path(), false);
    let (_tmp, cache) = cache();

    let package = cache.store_zip(&zip_directory(src.path()).expect("zip")).expect("store");

    let dir = &package.dir;
    assert_eq!(read(&dir.join("bootstrap")), "#!/bin/sh\nexec ./handler\n");
    assert_eq!(mode_of(&dir.join("bootstrap")), 0o755);
    assert_eq!(read(&dir.join("src/pkg/mod.py")), "def handler(e, c):\n    return 1\n");
    assert_eq!(mode_of(&dir.join("README")), 0o444);
    assert!(dir.join("empty").is_dir());
    assert!(!dir.join(".git").exists());
    let again = cache.store_zip(&zip_directory(src.path()).expect("zip again")).expect("store again");
    assert_eq!(again.sha256_base64, package.sha256_base64, "re-deploying an unchanged directory keeps CodeSha256");
}

#[test]
fn zip_directory_follows_symlinks_and_refuses_cycles() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let shared = tmp.path().join("shared");
    let function = tmp.path().join("function");
    fs::create_dir_all(&shared).expect("mkdir");
    fs::create_dir_all(function.join("sub")).expect("mkdir");
    fs::write(shared.join("util.py"), "U = 1\n").expect("write");
    symlink("../shared", function.join("shared")).expect("symlink");
    symlink("../shared/util.py", function.join("util.py")).expect("symlink");

    let zip = zip_directory(&function).expect("zip");
    let names: Vec<String> = zip_names(&zip).into_iter().map(|(name, _)| name).collect();
    assert_eq!(names, ["shared/", "shared/util.py", "sub/", "util.py"]);
    let (_tmp, cache) = cache();
    let dir = cache.store_zip(&zip).expect("store").dir;
    assert!(fs::symlink_metadata(dir.join("util.py")).expect("metadata").is_file(), "the link's content is deployed");

    symlink("..", function.join("sub/up")).expect("symlink");
    let err = zip_directory(&function).expect_err("cycle");
    assert!(matches!(&err, PackageError::DirectoryCycle { path } if path.ends_with("sub/up")), "{err:?}");

    fs::remove_file(function.join("sub/up")).expect("rm");
    symlink("nowhere", function.join("broken")).expect("symlink");
    let err = zip_directory(&function).expect_err("broken link");
    assert!(matches!(&err, PackageError::Io { path, .. } if path.ends_with("broken")), "{err:?}");
}
