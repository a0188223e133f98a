//! Integration tests of the store: migrations, reopening, durability across
//! a killed process.

mod durability;
mod functions;
mod migrations;
mod queues;

use std::path::{Path, PathBuf};

use cloudlet_core::Timestamp;
use cloudlet_store::{DATABASE_FILE, Store};

fn db_path(dir: &Path) -> PathBuf {
    dir.join(DATABASE_FILE)
}

fn t0() -> Timestamp {
    Timestamp::from_unix_millis(1_764_000_000_000)
}

fn open(dir: &Path) -> Store {
    Store::open(&db_path(dir), t0()).expect("open store")
}
