//! Migrations from an empty file, reopening, and refusals.

use cloudlet_core::ErrorChain;
use cloudlet_store::{MIGRATIONS, SchemaVersion, Store, StoreError};

use super::*;

#[test]
fn migrates_an_empty_directory_to_the_latest_schema() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let info = store.info().clone();
    assert_eq!(info.created_at, t0());
    assert_eq!(info.path, db_path(dir.path()));
    uuid_shaped(&info.id);
    let latest_store = MIGRATIONS.iter().filter(|m| m.subsystem == "store").map(|m| m.version).max();
    assert!(
        info.schema
            .contains(&SchemaVersion { subsystem: "store".into(), version: latest_store.expect("store migrations") })
    );
    store.close().expect("close");
}

#[test]
fn migrates_an_existing_empty_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(db_path(dir.path()), b"").expect("touch");
    let store = open(dir.path());
    assert!(!store.info().schema.is_empty());
}

#[test]
fn reopening_keeps_identity_and_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let id = store.info().id.clone();
    store.set_meta("greeting", "hello").expect("set");
    store.set_meta("greeting", "hello again").expect("overwrite");
    store.record_daemon_start(t0(), 41, "0.1.0").expect("start 1");
    store.close().expect("close");

    let later = t0() + std::time::Duration::from_secs(3600);
    let store = Store::open(&db_path(dir.path()), later).expect("reopen");
    assert_eq!(store.info().id, id);
    assert_eq!(store.info().created_at, t0(), "creation time is kept");
    assert_eq!(store.get_meta("greeting").expect("get").as_deref(), Some("hello again"));
    assert_eq!(store.get_meta("missing").expect("get"), None);
    let second = store.record_daemon_start(later, 42, "0.1.0").expect("start 2");
    assert_eq!(second.seq, 2);
    let starts = store.daemon_starts().expect("starts");
    assert_eq!(starts.iter().map(|s| (s.seq, s.pid)).collect::<Vec<_>>(), [(1, 41), (2, 42)]);
}

#[test]
fn two_handles_on_one_file_share_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = open(dir.path());
    let second = open(dir.path());
    assert_eq!(first.info().id, second.info().id, "the second open must not re-create the identity");
    first.set_meta("k", "v").expect("set");
    assert_eq!(second.get_meta("k").expect("get").as_deref(), Some("v"));
}

#[test]
fn refuses_a_schema_from_a_newer_cloudlet() {
    let dir = tempfile::tempdir().expect("tempdir");
    open(dir.path()).close().expect("close");
    // What a newer cloudlet would leave behind.
    let conn = rusqlite::Connection::open(db_path(dir.path())).expect("raw open");
    conn.execute(
        "INSERT INTO schema_migrations (subsystem, version, description, applied_at_ms) VALUES ('store', 99, 'future', 0)",
        [],
    )
    .expect("record a future migration");
    drop(conn);
    let err = Store::open(&db_path(dir.path()), t0()).expect_err("newer schema must be refused");
    assert!(matches!(err, StoreError::NewerSchema { found: 99, .. }), "{err:?}");
    let message = ErrorChain(&err).to_string();
    assert!(message.contains("store schema v99"), "{message}");
    assert!(message.contains("hint:"), "{message}");
}

#[test]
fn a_file_that_is_not_a_database_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(db_path(dir.path()), vec![b'x'; 8192]).expect("write garbage");
    let err = Store::open(&db_path(dir.path()), t0()).expect_err("garbage must be refused");
    let message = ErrorChain(&err).to_string();
    assert!(message.contains(&db_path(dir.path()).display().to_string()), "{message}");
    assert!(message.contains("not a database"), "{message}");
    let garbage = std::fs::read(db_path(dir.path())).expect("read back");
    assert!(garbage.iter().all(|b| *b == b'x'), "a refused file must not be modified");
}

fn uuid_shaped(id: &str) {
    let groups: Vec<usize> = id.split('-').map(str::len).collect();
    assert_eq!(groups, [8, 4, 4, 4, 12], "{id}");
}
