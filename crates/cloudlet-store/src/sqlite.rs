//! The SQLite implementation of the store.
//!
//! One connection behind a mutex serves this process: SQLite allows one
//! writer at a time anyway, and the daemon's writes are short. Callers on an
//! async runtime run store calls on a blocking thread.

use std::error::Error as StdError;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use cloudlet_core::Timestamp;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::migrations::{MIGRATIONS, Migration};

type BoxError = Box<dyn StdError + Send + Sync>;

/// How long a write waits for another process's write transaction to end.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// An open store. Share it behind an `Arc`; every method takes `&self`.
#[derive(Debug)]
pub struct Store {
    conn: Mutex<Connection>,
    info: StoreInfo,
}

/// What a store is: its identity, where it lives, its schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreInfo {
    /// A random id given to the store when it was created; it stays the same
    /// for the life of the data dir.
    pub id: String,
    pub created_at: Timestamp,
    pub path: PathBuf,
    /// The schema version of every subsystem, by subsystem name.
    pub schema: Vec<SchemaVersion>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaVersion {
    pub subsystem: String,
    pub version: u32,
}

/// One start of a daemon on this store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonStart {
    /// 1 for the first start ever, then counting up.
    pub seq: u64,
    pub started_at: Timestamp,
    pub pid: u32,
    pub version: String,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("failed to open the store at `{}`", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: BoxError,
    },
    #[error("failed to apply migration {subsystem} v{version} ({description}) to `{}`", path.display())]
    Migrate {
        path: PathBuf,
        subsystem: &'static str,
        version: u32,
        description: &'static str,
        #[source]
        source: BoxError,
    },
    #[error(
        "the store at `{}` has {subsystem} schema v{found}, but this cloudlet knows only up to v{known}; \
         hint: use the cloudlet version that wrote it, or another data dir",
        path.display()
    )]
    NewerSchema { path: PathBuf, subsystem: String, found: u32, known: u32 },
    #[error("store operation `{operation}` failed")]
    Query {
        operation: &'static str,
        #[source]
        source: BoxError,
    },
}

impl StoreError {
    fn query(operation: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
        move |source| StoreError::Query { operation, source: Box::new(source) }
    }
}

impl Store {
    /// Opens (creating if needed) the database at `path` and migrates it to
    /// this build's schema. `now` dates the store if it is new.
    pub fn open(path: &Path, now: Timestamp) -> Result<Store, StoreError> {
        let open_error = |source: rusqlite::Error| StoreError::Open { path: path.to_owned(), source: Box::new(source) };
        let mut conn = Connection::open(path).map_err(open_error)?;
        configure(&conn).map_err(|source| StoreError::Open { path: path.to_owned(), source })?;
        migrate(&mut conn, path, now)?;
        let info = read_info(&conn, path).map_err(open_error)?;
        Ok(Store { conn: Mutex::new(conn), info })
    }

    pub fn info(&self) -> &StoreInfo {
        &self.info
    }

    /// The store-level value under `key`, if any.
    pub fn get_meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.lock()
            .query_row("SELECT value FROM store_meta WHERE key = ?1", [key], |row| row.get(0))
            .optional()
            .map_err(StoreError::query("get_meta"))
    }

    /// Sets the store-level value under `key`; durable once this returns.
    pub fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.lock()
            .execute(
                "INSERT INTO store_meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [key, value],
            )
            .map(drop)
            .map_err(StoreError::query("set_meta"))
    }

    /// Records that a daemon started on this store; durable once this returns.
    pub fn record_daemon_start(
        &self,
        started_at: Timestamp,
        pid: u32,
        version: &str,
    ) -> Result<DaemonStart, StoreError> {
        let conn = self.lock();
        let started_at_ms = i64::try_from(started_at.as_unix_millis()).unwrap_or(i64::MAX);
        let seq: i64 = conn
            .query_row(
                "INSERT INTO daemon_starts (started_at_ms, pid, version) VALUES (?1, ?2, ?3) RETURNING seq",
                params![started_at_ms, i64::from(pid), version],
                |row| row.get(0),
            )
            .map_err(StoreError::query("record_daemon_start"))?;
        Ok(DaemonStart {
            seq: u64::try_from(seq).unwrap_or(0),
            started_at: Timestamp::from_unix_millis(started_at.as_unix_millis()),
            pid,
            version: version.to_owned(),
        })
    }

    /// Every daemon start, oldest first.
    pub fn daemon_starts(&self) -> Result<Vec<DaemonStart>, StoreError> {
        let conn = self.lock();
        let mut statement = conn
            .prepare("SELECT seq, started_at_ms, pid, version FROM daemon_starts ORDER BY seq")
            .map_err(StoreError::query("daemon_starts"))?;
        let rows = statement
            .query_map([], |row| {
                Ok(DaemonStart {
                    seq: row.get::<_, i64>(0)?.try_into().unwrap_or(0),
                    started_at: Timestamp::from_unix_millis(row.get::<_, i64>(1)?.try_into().unwrap_or(0)),
                    pid: row.get::<_, i64>(2)?.try_into().unwrap_or(0),
                    version: row.get(3)?,
                })
            })
            .map_err(StoreError::query("daemon_starts"))?;
        rows.collect::<Result<_, _>>().map_err(StoreError::query("daemon_starts"))
    }

    /// Checkpoints the write-ahead log into the database file and closes it.
    ///
    /// Closing is tidiness, not durability: every acknowledged write is
    /// already on disk, which is why a `kill -9` loses nothing.
    pub fn close(self) -> Result<(), StoreError> {
        let conn = self.conn.into_inner().unwrap_or_else(|poisoned| poisoned.into_inner());
        // Another process (`cloudlet ci`, say) may be reading; then the
        // checkpoint is partial, which is fine.
        let _: rusqlite::Result<(i64, i64, i64)> =
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)));
        conn.close().map_err(|(_, source)| StoreError::Query { operation: "close", source: Box::new(source) })
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Connection> {
        // rusqlite rolls back an open transaction when it is dropped during a
        // panic, so a poisoned connection is still consistent.
        self.conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn configure(conn: &Connection) -> Result<(), BoxError> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(format!("journal_mode is `{mode}`, expected `wal`").into());
    }
    // FULL syncs the WAL on every commit: an acknowledged write survives a
    // crash of the process and of the machine. Throughput comes from group
    // commit in the callers, not from weaker syncing.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

fn migrate(conn: &mut Connection, path: &Path, now: Timestamp) -> Result<(), StoreError> {
    let open_error = |source: rusqlite::Error| StoreError::Open { path: path.to_owned(), source: Box::new(source) };
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            subsystem     TEXT NOT NULL,
            version       INTEGER NOT NULL,
            description   TEXT NOT NULL,
            applied_at_ms BIGINT NOT NULL,
            PRIMARY KEY (subsystem, version)
        )",
    )
    .map_err(open_error)?;

    for (subsystem, found) in applied_versions(conn).map_err(open_error)? {
        let known = MIGRATIONS.iter().filter(|m| m.subsystem == subsystem).map(|m| m.version).max().unwrap_or(0);
        if found > known {
            return Err(StoreError::NewerSchema { path: path.to_owned(), subsystem, found, known });
        }
    }

    let now_ms = i64::try_from(now.as_unix_millis()).unwrap_or(i64::MAX);
    for migration in MIGRATIONS {
        apply(conn, migration, now_ms).map_err(|source| StoreError::Migrate {
            path: path.to_owned(),
            subsystem: migration.subsystem,
            version: migration.version,
            description: migration.description,
            source: Box::new(source),
        })?;
    }

    // The store's identity is written once, by whichever process creates it.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(open_error)?;
    let new_id = uuid::Uuid::new_v4().to_string();
    tx.execute(
        "INSERT INTO store_meta (key, value) VALUES ('store_id', ?1), ('created_at_ms', ?2)
         ON CONFLICT (key) DO NOTHING",
        params![new_id, now_ms.to_string()],
    )
    .map_err(open_error)?;
    tx.commit().map_err(open_error)
}

/// Applies one migration unless it is already recorded. Another process may
/// be migrating the same file, so the check happens inside the write lock.
fn apply(conn: &mut Connection, migration: &Migration, now_ms: i64) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let applied: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE subsystem = ?1 AND version = ?2)",
        params![migration.subsystem, migration.version],
        |row| row.get(0),
    )?;
    if applied {
        return Ok(());
    }
    tx.execute_batch(migration.sql)?;
    tx.execute(
        "INSERT INTO schema_migrations (subsystem, version, description, applied_at_ms) VALUES (?1, ?2, ?3, ?4)",
        params![migration.subsystem, migration.version, migration.description, now_ms],
    )?;
    tx.commit()
}

fn applied_versions(conn: &Connection) -> rusqlite::Result<Vec<(String, u32)>> {
    let mut statement =
        conn.prepare("SELECT subsystem, MAX(version) FROM schema_migrations GROUP BY subsystem ORDER BY subsystem")?;
    let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
    rows.collect()
}

fn read_info(conn: &Connection, path: &Path) -> rusqlite::Result<StoreInfo> {
    let meta = |key: &str| -> rusqlite::Result<String> {
        conn.query_row("SELECT value FROM store_meta WHERE key = ?1", [key], |row| row.get(0))
    };
    let created_at_ms: u64 = meta("created_at_ms")?.parse().unwrap_or(0);
    let schema =
        applied_versions(conn)?.into_iter().map(|(subsystem, version)| SchemaVersion { subsystem, version }).collect();
    Ok(StoreInfo {
        id: meta("store_id")?,
        created_at: Timestamp::from_unix_millis(created_at_ms),
        path: path.to_owned(),
        schema,
    })
}
