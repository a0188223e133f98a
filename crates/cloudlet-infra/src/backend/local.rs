//! The local backend, with Terraform's layout and locking:
//!
//! - `default` lives at `path` (`terraform.tfstate`), every other
//!   workspace at `<workspace_dir>/<name>/terraform.tfstate`
//!   (`terraform.tfstate.d/`);
//! - the lock is an fcntl write lock (`F_SETLK`) on the state file itself,
//!   held by an open descriptor, so it dies with its process; who holds it
//!   is written to `.terraform.tfstate.lock.info` beside the state, and
//!   that file outlives a killed process;
//! - the state is rewritten in place (truncate and write through the
//!   locked descriptor, as Terraform does: replacing the file would leave
//!   a waiting process locking the old inode);
//! - the first changing write of a backend instance first copies the
//!   snapshot it replaces to `<state>.backup`.

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use rustix::fs::{FlockOperation, fcntl_lock};

use super::{Backend, BackendError, DEFAULT_WORKSPACE, LockError, LockId, LockInfo};
use crate::state::{self, State};

/// Terraform's default file names.
pub const DEFAULT_STATE_FILENAME: &str = "terraform.tfstate";
pub const DEFAULT_WORKSPACE_DIR: &str = "terraform.tfstate.d";
pub const BACKUP_EXTENSION: &str = ".backup";

/// The local backend rooted at a working directory.
#[derive(Debug)]
pub struct LocalBackend {
    /// The working directory relative paths are taken from.
    root: PathBuf,
    /// The `default` workspace's state file (`path` in the backend block).
    path: PathBuf,
    /// Where the other workspaces live (`workspace_dir`).
    workspace_dir: PathBuf,
    /// Locks this process holds, by workspace.
    held: Mutex<HashMap<String, HeldLock>>,
    /// Workspaces whose backup this instance has written already.
    backed_up: Mutex<HashSet<String>>,
    backup: Backup,
    /// The bytes this instance last wrote per workspace and the snapshot
    /// they hold: the next `write_state` reads the file and, when it still
    /// holds exactly those bytes, skips parsing it again.
    written: Mutex<HashMap<String, (Vec<u8>, State)>>,
}

/// Where the first changing write copies the snapshot it replaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backup {
    /// `<state>.backup` (`terraform.tfstate.backup`).
    Default,
    /// A given file (`state mv`/`rm` use `<state>.<unix-seconds>.backup`).
    Path(PathBuf),
    /// No backup (`-backup=-`).
    Off,
}

#[derive(Debug)]
struct HeldLock {
    file: File,
    id: String,
    info_path: PathBuf,
}

impl LocalBackend {
    /// Terraform's defaults under `root`.
    pub fn new(root: impl Into<PathBuf>) -> LocalBackend {
        LocalBackend::with_paths(root, DEFAULT_STATE_FILENAME, DEFAULT_WORKSPACE_DIR)
    }

    /// A `backend "local" { path = ..., workspace_dir = ... }`; relative
    /// paths are taken from `root`.
    pub fn with_paths(
        root: impl Into<PathBuf>,
        path: impl Into<PathBuf>,
        workspace_dir: impl Into<PathBuf>,
    ) -> LocalBackend {
        LocalBackend {
            root: root.into(),
            path: path.into(),
            workspace_dir: workspace_dir.into(),
            held: Mutex::new(HashMap::new()),
            backed_up: Mutex::new(HashSet::new()),
            backup: Backup::Default,
            written: Mutex::new(HashMap::new()),
        }
    }

    /// Keeps the bytes just written and the snapshot they hold.
    fn remember(&self, workspace: &str, bytes: Vec<u8>, state: State) {
        self.written
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(workspace.to_owned(), (bytes, state));
    }

    /// Makes a workspace's directory (Terraform's `workspace new`: the
    /// state file comes with the first write).
    pub fn create_workspace(&self, name: &str) -> Result<(), BackendError> {
        if name == DEFAULT_WORKSPACE {
            return Ok(());
        }
        let dir = self.workspace_dir.join(name);
        std::fs::create_dir_all(self.abs(&dir)).map_err(|e| self.io_error(&dir, e))
    }

    /// Empties a workspace's state file (what a migration leaves at the old
    /// location), backing up what it held first.
    pub fn clear_state(&self, workspace: &str) -> Result<(), BackendError> {
        let Some(bytes) = self.read_bytes(workspace)?.filter(|b| !b.is_empty()) else {
            return Ok(());
        };
        self.backup_once(workspace, &bytes)?;
        self.write_bytes(workspace, b"")
    }

    /// Sets where backups go (relative paths are taken from the root).
    pub fn set_backup(&mut self, backup: Backup) {
        self.backup = backup;
    }

    /// The state file of a workspace, as Terraform names it (relative to
    /// the working directory when configured relative).
    pub fn state_path(&self, workspace: &str) -> PathBuf {
        if workspace == DEFAULT_WORKSPACE || workspace.is_empty() {
            self.path.clone()
        } else {
            self.workspace_dir.join(workspace).join(DEFAULT_STATE_FILENAME)
        }
    }

    /// Where the lock info of a workspace is written:
    /// `.terraform.tfstate.lock.info` beside the state file.
    pub fn lock_info_path(&self, workspace: &str) -> PathBuf {
        let state = self.state_path(workspace);
        let base = state.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        state.with_file_name(format!(".{base}.lock.info"))
    }

    fn abs(&self, p: &Path) -> PathBuf {
        if p.is_absolute() { p.to_path_buf() } else { self.root.join(p) }
    }

    fn held(&self) -> MutexGuard<'_, HashMap<String, HeldLock>> {
        self.held.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn io_error(&self, path: &Path, source: std::io::Error) -> BackendError {
        BackendError::Io { path: path.display().to_string(), source }
    }

    fn read_bytes(&self, workspace: &str) -> Result<Option<Vec<u8>>, BackendError> {
        let rel = self.state_path(workspace);
        let path = self.abs(&rel);
        let mut held = self.held();
        if let Some(lock) = held.get_mut(workspace) {
            let mut bytes = Vec::new();
            lock.file.seek(SeekFrom::Start(0)).map_err(|e| self.io_error(&rel, e))?;
            lock.file.read_to_end(&mut bytes).map_err(|e| self.io_error(&rel, e))?;
            return Ok(Some(bytes));
        }
        drop(held);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.io_error(&rel, e)),
        }
    }

    /// Writes the new bytes in place, through the locked descriptor when
    /// this process holds the lock.
    fn write_bytes(&self, workspace: &str, bytes: &[u8]) -> Result<(), BackendError> {
        let rel = self.state_path(workspace);
        let path = self.abs(&rel);
        let mut held = self.held();
        let write = |file: &mut File| -> std::io::Result<()> {
            file.set_len(0)?;
            file.seek(SeekFrom::Start(0))?;
            file.write_all(bytes)?;
            file.sync_data()
        };
        if let Some(lock) = held.get_mut(workspace) {
            return write(&mut lock.file).map_err(|e| self.io_error(&rel, e));
        }
        drop(held);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| self.io_error(&rel, e))?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| self.io_error(&rel, e))?;
        write(&mut file).map_err(|e| self.io_error(&rel, e))
    }

    /// Copies the snapshot about to be replaced to the backup file, the
    /// first time this backend replaces one of this workspace.
    fn backup_once(&self, workspace: &str, bytes: &[u8]) -> Result<(), BackendError> {
        let first =
            self.backed_up.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(workspace.to_owned());
        let target = match &self.backup {
            Backup::Default => {
                let mut backup = self.abs(&self.state_path(workspace)).into_os_string();
                backup.push(BACKUP_EXTENSION);
                Some(PathBuf::from(backup))
            }
            Backup::Path(p) => Some(self.abs(p)),
            Backup::Off => None,
        };
        if let (true, Some(backup)) = (first, target) {
            std::fs::write(&backup, bytes).map_err(|e| self.io_error(&backup, e))?;
        }
        Ok(())
    }

    /// The state file's full path.
    pub fn state_file(&self, workspace: &str) -> PathBuf {
        self.abs(&self.state_path(workspace))
    }

    fn open_for_lock(&self, workspace: &str) -> std::io::Result<File> {
        let path = self.abs(&self.state_path(workspace));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path)
    }

    fn read_lock_info(&self, workspace: &str) -> Option<LockInfo> {
        let text = std::fs::read_to_string(self.abs(&self.lock_info_path(workspace))).ok()?;
        LockInfo::from_json(&text).ok()
    }
}

/// Go's text for the errno an fcntl lock conflict gives.
fn errno_text(err: rustix::io::Errno) -> String {
    if err == rustix::io::Errno::AGAIN || err == rustix::io::Errno::ACCESS {
        "resource temporarily unavailable".to_owned()
    } else {
        std::io::Error::from(err).to_string()
    }
}

impl Backend for LocalBackend {
    fn read_state(&self, workspace: &str) -> Result<Option<State>, BackendError> {
        let Some(bytes) = self.read_bytes(workspace)? else {
            return Ok(None);
        };
        state::parse(&bytes)
            .map_err(|source| BackendError::State { path: self.state_path(workspace).display().to_string(), source })
    }

    fn put_state(&self, workspace: &str, state: &State) -> Result<(), BackendError> {
        let prior_bytes = self.read_bytes(workspace)?.filter(|b| !b.is_empty());
        let text = state.to_json();
        if prior_bytes.as_deref() == Some(text.as_bytes()) {
            return Ok(());
        }
        if let Some(bytes) = &prior_bytes {
            self.backup_once(workspace, bytes)?;
        }
        self.write_bytes(workspace, text.as_bytes())
    }

    fn write_state(&self, workspace: &str, state: &State) -> Result<State, BackendError> {
        let prior_bytes = self.read_bytes(workspace)?.filter(|b| !b.is_empty());
        let cached = self
            .written
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(workspace)
            .filter(|(bytes, _)| prior_bytes.as_deref() == Some(bytes.as_slice()))
            .map(|(_, s)| s);
        // The stored bytes are this instance's own rendering: the content
        // is unchanged exactly when `state` renders to them with the stored
        // serial, and otherwise only the serial line differs.
        if let (Some(prior), Some(bytes)) = (&cached, &prior_bytes)
            && state.lineage == prior.lineage
            && state.terraform_version == prior.terraform_version
        {
            let text = state.render(prior.serial, &prior.terraform_version);
            if text.as_bytes() == bytes.as_slice() {
                let prior = cached.unwrap_or_else(|| state.clone());
                self.remember(workspace, text.into_bytes(), prior.clone());
                return Ok(prior);
            }
            let mut next = state.clone();
            next.version = 4;
            next.serial = (prior.serial + 1).max(state.serial);
            let text = text
                .replacen(&format!("\"serial\": {},\n", prior.serial), &format!("\"serial\": {},\n", next.serial), 1)
                .into_bytes();
            self.backup_once(workspace, bytes)?;
            self.write_bytes(workspace, &text)?;
            self.remember(workspace, text, next.clone());
            return Ok(next);
        }
        let prior = match (cached, &prior_bytes) {
            (Some(s), _) => Some(s),
            (None, Some(bytes)) => state::parse(bytes).map_err(|source| BackendError::State {
                path: self.state_path(workspace).display().to_string(),
                source,
            })?,
            (None, None) => None,
        };
        let Some(next) = super::next_snapshot(prior.as_ref(), state) else {
            return Ok(prior.unwrap_or_else(|| state.clone()));
        };
        let text = next.to_json().into_bytes();
        if prior_bytes.as_deref() != Some(text.as_slice()) {
            if let Some(bytes) = &prior_bytes {
                self.backup_once(workspace, bytes)?;
            }
            self.write_bytes(workspace, &text)?;
        }
        self.remember(workspace, text, next.clone());
        Ok(next)
    }

    fn lock(&self, workspace: &str, mut info: LockInfo) -> Result<LockId, LockError> {
        let rel = self.state_path(workspace);
        if self.held().contains_key(workspace) {
            return Err(LockError {
                message: format!("state {:?} already locked", rel.display().to_string()),
                info: None,
            });
        }
        let file = self
            .open_for_lock(workspace)
            .map_err(|e| LockError { message: format!("{}: {e}", rel.display()), info: None })?;
        if let Err(err) = fcntl_lock(&file, FlockOperation::NonBlockingLockExclusive) {
            return Err(LockError { message: errno_text(err), info: self.read_lock_info(workspace).map(Box::new) });
        }
        info.path = rel.display().to_string();
        let info_rel = self.lock_info_path(workspace);
        if let Err(e) = std::fs::write(self.abs(&info_rel), info.to_json()) {
            let _ = fcntl_lock(&file, FlockOperation::NonBlockingUnlock);
            return Err(LockError {
                message: format!("could not write lock info for {:?}: {e}", rel.display().to_string()),
                info: None,
            });
        }
        let id = info.id.clone();
        self.held().insert(workspace.to_owned(), HeldLock { file, id: id.clone(), info_path: self.abs(&info_rel) });
        Ok(id)
    }

    fn unlock(&self, workspace: &str, id: &str) -> Result<(), BackendError> {
        let mut held = self.held();
        if let Some(lock) = held.get(workspace) {
            if lock.id != id {
                return Err(BackendError::Refused(format!("invalid lock id: {id:?}. current id: {:?}", lock.id)));
            }
            if let Some(lock) = held.remove(workspace) {
                let _ = std::fs::remove_file(&lock.info_path);
                let _ = fcntl_lock(&lock.file, FlockOperation::NonBlockingUnlock);
            }
            return Ok(());
        }
        drop(held);
        // force-unlock from another process: only a lock whose holder is
        // gone (its info file left behind by a killed process) can go.
        let state_file = self.abs(&self.state_path(workspace));
        let info_path = self.abs(&self.lock_info_path(workspace));
        let Ok(file) = OpenOptions::new().read(true).write(true).open(&state_file) else {
            return Err(BackendError::Refused("LocalState not locked".to_owned()));
        };
        if fcntl_lock(&file, FlockOperation::NonBlockingLockExclusive).is_err() {
            return Err(BackendError::Refused("Local state cannot be unlocked by another process".to_owned()));
        }
        let result = match self.read_lock_info(workspace) {
            None => Err(BackendError::Refused("LocalState not locked".to_owned())),
            Some(info) if info.id != id => {
                Err(BackendError::Refused(format!("invalid lock id: {id:?}. current id: {:?}", info.id)))
            }
            Some(_) => std::fs::remove_file(&info_path).map_err(|e| self.io_error(&self.lock_info_path(workspace), e)),
        };
        let _ = fcntl_lock(&file, FlockOperation::NonBlockingUnlock);
        result
    }

    fn workspaces(&self) -> Result<Vec<String>, BackendError> {
        let mut names = Vec::new();
        let dir = self.abs(&self.workspace_dir);
        match std::fs::read_dir(&dir) {
            Ok(entries) => {
                for entry in entries {
                    let entry = entry.map_err(|e| self.io_error(&self.workspace_dir, e))?;
                    if entry.file_type().is_ok_and(|t| t.is_dir()) {
                        names.push(entry.file_name().to_string_lossy().into_owned());
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(self.io_error(&self.workspace_dir, e)),
        }
        names.sort();
        names.retain(|n| n != DEFAULT_WORKSPACE);
        names.insert(0, DEFAULT_WORKSPACE.to_owned());
        Ok(names)
    }

    fn delete_workspace(&self, name: &str) -> Result<(), BackendError> {
        if name.is_empty() {
            return Err(BackendError::Refused("empty state name".to_owned()));
        }
        if name == DEFAULT_WORKSPACE {
            return Err(BackendError::Refused("cannot delete default state".to_owned()));
        }
        let dir = self.workspace_dir.join(name);
        match std::fs::remove_dir_all(self.abs(&dir)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(self.io_error(&dir, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::OPERATION_APPLY;

    fn info(id: &str) -> LockInfo {
        LockInfo { id: id.to_owned(), operation: OPERATION_APPLY.to_owned(), ..LockInfo::default() }
    }

    #[test]
    fn repeated_writes_bump_serial_only_on_change_and_see_other_writers() {
        let dir = tempfile::tempdir().expect("tempdir");
        let b = LocalBackend::new(dir.path());
        let mut s = State::new([3; 16]);
        s.outputs.insert(
            "o".into(),
            state::OutputState {
                value: serde_json::json!("a"),
                type_: serde_json::json!("string"),
                sensitive: false,
                value_raw: None,
                extra: serde_json::Map::new(),
            },
        );
        let first = b.write_state("default", &s).expect("writes");
        assert_eq!(first.serial, 1);
        let same = b.write_state("default", &first).expect("writes");
        assert_eq!(same.serial, 1, "unchanged content keeps the serial");
        let mut changed = same.clone();
        changed.outputs.get_mut("o").expect("o").value = serde_json::json!("b");
        let second = b.write_state("default", &changed).expect("writes");
        assert_eq!(second.serial, 2);
        let read = b.read_state("default").expect("reads").expect("state");
        assert_eq!(read.to_json(), second.to_json(), "the file holds what was returned");
        // Another writer replaces the file: the next write reads it anew.
        let other = LocalBackend::new(dir.path());
        let mut theirs = read.clone();
        theirs.outputs.get_mut("o").expect("o").value = serde_json::json!("c");
        assert_eq!(other.write_state("default", &theirs).expect("writes").serial, 3);
        let mut ours = read.clone();
        ours.outputs.get_mut("o").expect("o").value = serde_json::json!("d");
        let third = b.write_state("default", &ours).expect("writes");
        assert_eq!(third.serial, 4);
        let text = std::fs::read_to_string(dir.path().join("terraform.tfstate")).expect("state file");
        assert_eq!(text, third.to_json());
        assert!(text.contains("\"serial\": 4,\n"), "{text}");
    }

    #[test]
    fn layout_is_terraforms() {
        let b = LocalBackend::new("/w");
        assert_eq!(b.state_path("default"), PathBuf::from("terraform.tfstate"));
        assert_eq!(b.state_path("dev"), PathBuf::from("terraform.tfstate.d/dev/terraform.tfstate"));
        assert_eq!(b.lock_info_path("default"), PathBuf::from(".terraform.tfstate.lock.info"));
        assert_eq!(b.lock_info_path("dev"), PathBuf::from("terraform.tfstate.d/dev/.terraform.tfstate.lock.info"));
    }

    #[test]
    fn write_bumps_serial_only_on_change_and_backs_up_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let b = LocalBackend::new(dir.path());
        assert_eq!(b.read_state("default").expect("reads"), None);
        let s = State::new([3; 16]);
        let first = b.write_state("default", &s).expect("writes");
        assert_eq!(first.serial, 1);
        assert!(!dir.path().join("terraform.tfstate.backup").exists());
        let same = b.write_state("default", &first).expect("writes");
        assert_eq!(same.serial, 1);
        let mut changed = first.clone();
        changed.extra.insert("x".to_owned(), serde_json::Value::Bool(true));
        let second = b.write_state("default", &changed).expect("writes");
        assert_eq!(second.serial, 2);
        let backup = std::fs::read_to_string(dir.path().join("terraform.tfstate.backup")).expect("backup");
        assert_eq!(backup, first.to_json());
        changed.extra.insert("y".to_owned(), serde_json::Value::Bool(true));
        b.write_state("default", &changed).expect("writes");
        let backup_again = std::fs::read_to_string(dir.path().join("terraform.tfstate.backup")).expect("backup");
        assert_eq!(backup_again, first.to_json(), "the backup is the first snapshot this backend replaced");
        assert_eq!(b.read_state("default").expect("reads").expect("some").serial, 3);
    }

    #[test]
    fn lock_writes_info_and_unlock_removes_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let b = LocalBackend::new(dir.path());
        let id = b.lock("dev", info("abc")).expect("locks");
        let info_file = dir.path().join("terraform.tfstate.d/dev/.terraform.tfstate.lock.info");
        let written = LockInfo::from_json(&std::fs::read_to_string(&info_file).expect("info")).expect("json");
        assert_eq!(written.path, "terraform.tfstate.d/dev/terraform.tfstate");
        assert!(b.lock("dev", info("def")).is_err(), "already locked by this backend");
        assert!(matches!(b.unlock("dev", "wrong"), Err(BackendError::Refused(m)) if m.contains("invalid lock id")));
        b.unlock("dev", &id).expect("unlocks");
        assert!(!info_file.exists());
        assert_eq!(b.workspaces().expect("lists"), ["default", "dev"]);
    }

    #[test]
    fn stale_info_without_a_holder_is_force_unlockable() {
        let dir = tempfile::tempdir().expect("tempdir");
        let b = LocalBackend::new(dir.path());
        assert!(matches!(b.unlock("default", "x"), Err(BackendError::Refused(m)) if m == "LocalState not locked"));
        std::fs::write(dir.path().join("terraform.tfstate"), "").expect("state");
        std::fs::write(dir.path().join(".terraform.tfstate.lock.info"), info("dead").to_json()).expect("info");
        assert!(b.unlock("default", "other").is_err());
        b.unlock("default", "dead").expect("force-unlocks");
        assert!(!dir.path().join(".terraform.tfstate.lock.info").exists());
    }

    #[test]
    fn delete_workspace_refuses_default() {
        let dir = tempfile::tempdir().expect("tempdir");
        let b = LocalBackend::new(dir.path());
        b.write_state("dev", &State::new([1; 16])).expect("writes");
        assert!(
            matches!(b.delete_workspace("default"), Err(BackendError::Refused(m)) if m == "cannot delete default state")
        );
        b.delete_workspace("dev").expect("deletes");
        assert_eq!(b.workspaces().expect("lists"), ["default"]);
    }
}
