//! cloudlet's durable store: the only crate that knows SQL.
//!
//! One SQLite database (`cloudlet.db`) in the data dir, opened in WAL mode
//! with `synchronous=FULL`: when a write method returns `Ok`, the transaction
//! is in the write-ahead log on disk and survives `kill -9` of the process
//! (and a power cut). The schema is versioned per subsystem in [`migrations`];
//! [`Store::open`] brings any database, including an empty file, up to date,
//! and refuses one written by a newer cloudlet.
//!
//! Subsystems state what they need to persist as small traits of their own;
//! this crate implements them. Their SQL sticks to what PostgreSQL accepts as
//! well (no SQLite-only types or syntax), so that a PostgreSQL backend can
//! later implement the same traits over the same schema. Several processes
//! may open one database at once (`cloudlet infra` and `cloudlet ci` run
//! beside the daemon); SQLite's locking serialises their writes.

mod ci;
mod functions;
mod kube;
mod migrations;
mod queues;
mod sqlite;

pub use ci::{ApprovalOutcome, GroupState, LogChunk, NewRun, RunFilter, StoreRecorder};
pub use migrations::{MIGRATIONS, Migration};
pub use sqlite::{DaemonStart, SchemaVersion, Store, StoreError, StoreInfo};

/// The database file's name inside the data dir.
pub const DATABASE_FILE: &str = "cloudlet.db";
