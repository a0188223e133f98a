//! The data dir: where it is, and the lock that gives one daemon sole use
//! of it.
//!
//! The lock is an OS-level advisory lock (`flock`) on `cloudlet.lock`, which
//! also records the holder's pid for the error message. The kernel drops the
//! lock when the process dies, however it dies, so a restart after `kill -9`
//! needs no clean-up. The file itself is never deleted: deleting it would let
//! two daemons lock two different files with the same name.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};

/// The lock file's name inside the data dir.
pub(crate) const LOCK_FILE: &str = "cloudlet.lock";

/// The data dir when none is given: `$XDG_DATA_HOME/cloudlet`, else
/// `$HOME/.local/share/cloudlet`.
pub(crate) fn default_data_dir() -> Result<PathBuf, DataDirError> {
    if let Some(xdg) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        let xdg = PathBuf::from(xdg);
        // The XDG spec says relative paths are invalid and must be ignored.
        if xdg.is_absolute() {
            return Ok(xdg.join("cloudlet"));
        }
    }
    match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        Some(home) => Ok(PathBuf::from(home).join(".local/share/cloudlet")),
        None => Err(DataDirError::NoDefault),
    }
}

/// Sole use of a data dir, for as long as this value lives.
#[derive(Debug)]
pub(crate) struct DataDirLock {
    // Held only for its lock; closing the file releases it.
    _file: File,
    path: PathBuf,
}

impl DataDirLock {
    /// Creates `dir` if needed and locks it for this process.
    pub(crate) fn acquire(dir: &Path) -> Result<DataDirLock, DataDirError> {
        std::fs::create_dir_all(dir).map_err(|source| DataDirError::Create { dir: dir.to_owned(), source })?;
        let path = dir.join(LOCK_FILE);
        let io_error = |source| DataDirError::LockFile { path: path.clone(), source };
        let mut file =
            OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(io_error)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut contents = String::new();
                let _ = file.read_to_string(&mut contents);
                let pid = contents.trim().parse().ok();
                return Err(DataDirError::InUse { dir: dir.to_owned(), lock_file: path, pid });
            }
            Err(TryLockError::Error(source)) => return Err(io_error(source)),
        }
        // Record our pid for the next daemon's error message.
        file.set_len(0).map_err(io_error)?;
        file.seek(SeekFrom::Start(0)).map_err(io_error)?;
        writeln!(file, "{}", std::process::id()).map_err(io_error)?;
        Ok(DataDirLock { _file: file, path })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum DataDirError {
    #[error(
        "no data dir given and neither $XDG_DATA_HOME nor $HOME is set; hint: pass --data-dir DIR or set CLOUDLET_DATA_DIR"
    )]
    NoDefault,
    #[error("cannot create the data dir `{}`", dir.display())]
    Create {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot use the lock file `{}`", path.display())]
    LockFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the data dir `{}` is in use by another cloudlet daemon ({}); its lock is held on `{}`\n\
         hint: stop that daemon, or pass another --data-dir",
        dir.display(),
        pid.map_or_else(|| "pid unknown".to_owned(), |pid| format!("pid {pid}")),
        lock_file.display()
    )]
    InUse { dir: PathBuf, lock_file: PathBuf, pid: Option<u32> },
}
