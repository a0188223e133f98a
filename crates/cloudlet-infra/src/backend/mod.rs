//! Where states live and how they are locked: the [`Backend`] trait, the
//! lock metadata ([`LockInfo`], [`LockError`]) Terraform's backends share,
//! and [`lock_with_timeout`], the `-lock-timeout` retry loop every backend
//! gets for free.
//!
//! The local backend ([`local::LocalBackend`]) is the first implementation;
//! S3 + DynamoDB and PostgreSQL implement the same trait later (a lock is a
//! DynamoDB conditional put or an advisory lock there; `workspaces` a key
//! listing or a `SELECT name`). Nothing here knows about files.
//!
//! Usage for commands that change state (Terraform's order):
//!
//! ```text
//! let info = LockInfo::new(OPERATION_APPLY, &path, &who, &created);
//! let id = lock_with_timeout(&backend, ws, info, timeout, &clock)?;   // LockError → lock_error_message
//! let prior = backend.read_state(ws)?;
//! ... compute the next State ...
//! backend.write_state(ws, &next)?;   // serial bumped only when the content changed
//! backend.unlock(ws, &id)?;
//! ```

pub mod local;

use std::fmt;
use std::time::Duration;

use crate::state::{State, StateReadError};

/// The workspace every backend has and none can delete.
pub const DEFAULT_WORKSPACE: &str = "default";

/// `Operation` values Terraform writes into lock infos.
pub const OPERATION_PLAN: &str = "OperationTypePlan";
pub const OPERATION_APPLY: &str = "OperationTypeApply";
pub const OPERATION_REFRESH: &str = "OperationTypeRefresh";
pub const OPERATION_INVALID: &str = "OperationTypeInvalid";

/// The identifier a successful lock returns, needed to unlock.
pub type LockId = String;

/// A storage for workspace states with locking. Object safe: commands take
/// `&dyn Backend`.
pub trait Backend: fmt::Debug + Send + Sync {
    /// The workspace's latest snapshot; `None` when it has no state yet.
    fn read_state(&self, workspace: &str) -> Result<Option<State>, BackendError>;

    /// Stores `state` exactly as given (serial and lineage included), as
    /// `state push` and backend migration do. The local backend first
    /// copies the snapshot it replaces to `terraform.tfstate.backup`, once
    /// per backend instance.
    fn put_state(&self, workspace: &str, state: &State) -> Result<(), BackendError>;

    /// Stores `state` as the workspace's next snapshot and returns what was
    /// stored: `serial` becomes the stored snapshot's serial + 1 when the
    /// content differs from it (see [`next_snapshot`]); nothing is written
    /// when it does not.
    fn write_state(&self, workspace: &str, state: &State) -> Result<State, BackendError> {
        let prior = self.read_state(workspace)?;
        match next_snapshot(prior.as_ref(), state) {
            Some(next) => {
                self.put_state(workspace, &next)?;
                Ok(next)
            }
            None => Ok(prior.unwrap_or_else(|| state.clone())),
        }
    }

    /// Takes the workspace's lock, or says who holds it.
    fn lock(&self, workspace: &str, info: LockInfo) -> Result<LockId, LockError>;

    /// Releases a lock this backend holds (or, for `force-unlock`, one a
    /// dead process left behind) by its id.
    fn unlock(&self, workspace: &str, id: &str) -> Result<(), BackendError>;

    /// Every workspace, `default` first and the others sorted by name.
    fn workspaces(&self) -> Result<Vec<String>, BackendError>;

    /// Removes a workspace and its state. `default` cannot be deleted.
    fn delete_workspace(&self, name: &str) -> Result<(), BackendError>;
}

/// What `write_state` stores given the stored snapshot `prior` and the
/// caller's `next`: `None` when the content is unchanged, otherwise `next`
/// with `serial` = prior's + 1 (or `next`'s own serial when that is higher,
/// as after `state push -force`), the prior lineage kept when `next` has
/// none, and version 4.
pub fn next_snapshot(prior: Option<&State>, next: &State) -> Option<State> {
    let mut out = next.clone();
    out.version = 4;
    match prior {
        Some(prior) => {
            if prior.content_eq(next) && prior.lineage == next.lineage {
                return None;
            }
            if out.lineage.is_empty() {
                out.lineage = prior.lineage.clone();
            }
            out.serial = (prior.serial + 1).max(next.serial);
        }
        None => out.serial = next.serial + 1,
    }
    Some(out)
}

/// Terraform's lock metadata, stored as JSON with Go's field names (and in
/// Go's field order).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LockInfo {
    /// A UUID made when locking.
    pub id: String,
    /// `OperationTypeApply`, ... (see the `OPERATION_*` constants), or a
    /// command's own word (`init`, `migration`).
    pub operation: String,
    /// Free text.
    pub info: String,
    /// `user@host`.
    pub who: String,
    /// The Terraform version emulated.
    pub version: String,
    /// RFC 3339 with nanoseconds (`2021-08-05T12:34:56.123456789Z`).
    pub created: String,
    /// The locked state's path or key.
    pub path: String,
}

impl LockInfo {
    /// The JSON Terraform writes (`json.Marshal`: compact, Go's escaping).
    pub fn to_json(&self) -> String {
        let mut out = String::from("{");
        let fields = [
            ("ID", &self.id),
            ("Operation", &self.operation),
            ("Info", &self.info),
            ("Who", &self.who),
            ("Version", &self.version),
            ("Created", &self.created),
            ("Path", &self.path),
        ];
        for (i, (k, v)) in fields.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            crate::state::json_string(&mut out, k);
            out.push(':');
            crate::state::json_string(&mut out, v);
        }
        out.push('}');
        out
    }

    /// Reads lock info JSON; missing fields are empty.
    pub fn from_json(text: &str) -> Result<LockInfo, String> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let field = |k: &str| value.get(k).and_then(serde_json::Value::as_str).unwrap_or_default().to_owned();
        if !value.is_object() {
            return Err("lock info is not a JSON object".to_owned());
        }
        Ok(LockInfo {
            id: field("ID"),
            operation: field("Operation"),
            info: field("Info"),
            who: field("Who"),
            version: field("Version"),
            created: field("Created"),
            path: field("Path"),
        })
    }

    /// `Created` as Go's `time.Time.String()` prints it:
    /// `2021-08-05 12:34:56.123456789 +0000 UTC`.
    pub fn created_display(&self) -> String {
        match self.created.strip_suffix('Z') {
            Some(rest) => format!("{} +0000 UTC", rest.replacen('T', " ", 1)),
            None => self.created.replacen('T', " ", 1),
        }
    }
}

impl fmt::Display for LockInfo {
    /// Terraform's `Lock Info:` block (ending with a newline).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Lock Info:\n  ID:        {}\n  Path:      {}\n  Operation: {}\n  Who:       {}\n  Version:   {}\n  Created:   {}\n  Info:      {}\n",
            self.id,
            self.path,
            self.operation,
            self.who,
            self.version,
            self.created_display(),
            self.info
        )
    }
}

/// A lock could not be taken. `info` is the holder's, when known; only
/// then is retrying (`-lock-timeout`) worthwhile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockError {
    /// What the backend said (`resource temporarily unavailable` for the
    /// local backend's fcntl).
    pub message: String,
    pub info: Option<Box<LockInfo>>,
}

impl fmt::Display for LockError {
    /// As Go's `LockError.Error()`: the message, then the Lock Info block.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.message, &self.info) {
            (m, Some(info)) if m.is_empty() => write!(f, "{info}"),
            (m, Some(info)) => write!(f, "{m}\n{info}"),
            (m, None) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for LockError {}

/// The whole diagnostic Terraform prints when it cannot lock (plain
/// rendering, as on stderr with `-no-color`).
pub fn lock_error_message(err: &LockError) -> String {
    format!(
        "\nError: Error acquiring the state lock\n\nError message: {err}\n\nTerraform acquires a state lock to protect the state from being written\nby multiple users at the same time. Please resolve the issue above and try\nagain. For most commands, you can disable locking with the \"-lock=false\"\nflag, but this is not recommended.\n"
    )
}

/// Terraform's checks before `state push` or a migration overwrites a
/// state (`CheckValidImport`): an empty existing state can always be
/// replaced; otherwise the lineage must match and the serial must not go
/// back, nor stay the same with different content.
pub fn check_valid_import(new: &State, existing: Option<&State>) -> Result<(), String> {
    let Some(existing) = existing.filter(|e| !e.is_empty()) else {
        return Ok(());
    };
    if new.lineage != existing.lineage {
        return Err(format!(
            "cannot import state with lineage {:?} over unrelated state with lineage {:?}",
            new.lineage, existing.lineage
        ));
    }
    if new.serial < existing.serial {
        return Err(format!(
            "cannot import state with serial {} over newer state with serial {}",
            new.serial, existing.serial
        ));
    }
    if new.serial == existing.serial && !new.content_eq(existing) {
        return Err(format!(
            "cannot overwrite existing state with serial {} with a different state that has the same serial",
            new.serial
        ));
    }
    Ok(())
}

/// A backend failure other than lock contention.
#[derive(Debug)]
pub enum BackendError {
    /// The stored state is not a state Terraform could read.
    State { path: String, source: StateReadError },
    /// Reading or writing the storage failed.
    Io { path: String, source: std::io::Error },
    /// Anything a backend refuses, in Terraform's words.
    Refused(String),
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BackendError::State { source, .. } => write!(f, "{source}"),
            BackendError::Io { path, source } => write!(f, "{path}: {source}"),
            BackendError::Refused(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for BackendError {}

/// Time for the lock retry loop: read and waited on through this, so tests
/// drive the backoff without waiting.
pub trait LockClock {
    /// Now, as nanoseconds since the Unix epoch.
    fn now_unix_nanos(&self) -> u64;
    /// Waits `duration` (a test clock just moves forward).
    fn sleep(&self, duration: Duration);
}

/// The real clock, for the command line.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemLockClock;

impl LockClock for SystemLockClock {
    fn now_unix_nanos(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
            .unwrap_or(0)
    }

    fn sleep(&self, duration: Duration) {
        std::thread::sleep(duration);
    }
}

/// Takes `workspace`'s lock, retrying while another holder is known and
/// `timeout` has not passed: after 1 s, then doubling up to 16 s between
/// tries, as Terraform's `LockWithContext` does. A zero timeout tries once.
pub fn lock_with_timeout(
    backend: &dyn Backend,
    workspace: &str,
    info: LockInfo,
    timeout: Duration,
    clock: &dyn LockClock,
) -> Result<LockId, LockError> {
    let start = clock.now_unix_nanos();
    let deadline = start.saturating_add(u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX));
    let mut delay = Duration::from_secs(1);
    loop {
        match backend.lock(workspace, info.clone()) {
            Ok(id) => return Ok(id),
            Err(err) => {
                let retryable = err.info.as_ref().is_some_and(|i| !i.id.is_empty());
                let now = clock.now_unix_nanos();
                if !retryable || now >= deadline {
                    return Err(err);
                }
                let left = Duration::from_nanos(deadline - now);
                clock.sleep(delay.min(left));
                delay = (delay * 2).min(Duration::from_secs(16));
            }
        }
    }
}

/// RFC 3339 UTC with nanoseconds, trailing zeros trimmed (Go's
/// `RFC3339Nano`): `2021-08-05T12:34:56.1234Z`.
pub fn rfc3339_nano(unix_nanos: u64) -> String {
    let secs = unix_nanos / 1_000_000_000;
    let nanos = unix_nanos % 1_000_000_000;
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    let mut out = format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}", rem / 3600, rem / 60 % 60, rem % 60);
    if nanos > 0 {
        let frac = format!("{nanos:09}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian
/// calendar (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> LockInfo {
        LockInfo {
            id: "11111111-2222-3333-4444-555555555555".to_owned(),
            operation: OPERATION_APPLY.to_owned(),
            info: String::new(),
            who: "bob@box".to_owned(),
            version: "1.0.3".to_owned(),
            created: "2021-08-05T12:34:56.123456789Z".to_owned(),
            path: "terraform.tfstate".to_owned(),
        }
    }

    #[test]
    fn lock_error_reads_exactly_as_terraform_prints_it() {
        let err = LockError { message: "resource temporarily unavailable".to_owned(), info: Some(Box::new(info())) };
        let expected = "\nError: Error acquiring the state lock\n\nError message: resource temporarily unavailable\nLock Info:\n  ID:        11111111-2222-3333-4444-555555555555\n  Path:      terraform.tfstate\n  Operation: OperationTypeApply\n  Who:       bob@box\n  Version:   1.0.3\n  Created:   2021-08-05 12:34:56.123456789 +0000 UTC\n  Info:      \n\n\nTerraform acquires a state lock to protect the state from being written\nby multiple users at the same time. Please resolve the issue above and try\nagain. For most commands, you can disable locking with the \"-lock=false\"\nflag, but this is not recommended.\n";
        assert_eq!(lock_error_message(&err), expected);
    }

    #[test]
    fn lock_info_json_has_go_field_order_and_reads_back() {
        let json = info().to_json();
        assert_eq!(
            json,
            r#"{"ID":"11111111-2222-3333-4444-555555555555","Operation":"OperationTypeApply","Info":"","Who":"bob@box","Version":"1.0.3","Created":"2021-08-05T12:34:56.123456789Z","Path":"terraform.tfstate"}"#
        );
        assert_eq!(LockInfo::from_json(&json), Ok(info()));
        assert!(LockInfo::from_json("[1]").is_err());
    }

    #[test]
    fn rfc3339_nano_trims_like_go() {
        assert_eq!(rfc3339_nano(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_nano(1_628_166_896_123_400_000), "2021-08-05T12:34:56.1234Z");
    }

    #[test]
    fn import_checks_are_terraforms() {
        let mut existing = State::new([1; 16]);
        existing.serial = 3;
        existing.outputs.insert(
            "o".to_owned(),
            crate::state::OutputState {
                value: serde_json::Value::Bool(true),
                type_: serde_json::Value::String("bool".to_owned()),
                sensitive: false,
                value_raw: None,
                extra: serde_json::Map::new(),
            },
        );
        let mut lower = existing.clone();
        lower.serial = 1;
        assert_eq!(
            check_valid_import(&lower, Some(&existing)),
            Err("cannot import state with serial 1 over newer state with serial 3".to_owned())
        );
        let other = State { serial: 9, ..State::new([2; 16]) };
        assert!(check_valid_import(&other, Some(&existing)).expect_err("lineage").contains("over unrelated state"));
        assert_eq!(check_valid_import(&other, None), Ok(()));
        let mut same_serial = existing.clone();
        same_serial.extra.insert("x".to_owned(), serde_json::Value::Bool(true));
        assert!(check_valid_import(&same_serial, Some(&existing)).is_err());
        assert_eq!(check_valid_import(&existing, Some(&existing)), Ok(()));
    }

    #[test]
    fn next_snapshot_bumps_serial_only_on_change() {
        let mut prior = State::new([1; 16]);
        prior.serial = 4;
        assert_eq!(next_snapshot(Some(&prior), &prior), None);
        let mut changed = prior.clone();
        changed.extra.insert("x".to_owned(), serde_json::Value::Bool(true));
        let out = next_snapshot(Some(&prior), &changed).expect("changed");
        assert_eq!(out.serial, 5);
        let fresh = next_snapshot(None, &State::new([2; 16])).expect("new");
        assert_eq!(fresh.serial, 1);
    }
}
