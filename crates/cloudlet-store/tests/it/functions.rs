//! The functions subsystem's records in SQLite: every record type round
//! trips, survives reopening, and deletes cascade.

use std::collections::BTreeMap;

use cloudlet_core::{ErrorChain, Timestamp};
use cloudlet_functions::Runtime;
use cloudlet_functions::store::{
    AliasRecord, FunctionRecord, FunctionState, FunctionStore, ProvisionedConcurrencyRecord, StoredFunctions,
    VersionConfig, VersionRecord,
};
use cloudlet_store::Store;

use super::*;

fn config(memory_mb: u32, revision: &str) -> VersionConfig {
    VersionConfig {
        runtime: Runtime::Python312,
        handler: "app.handler".into(),
        memory_mb,
        timeout_s: 30,
        environment: BTreeMap::from([("GREETING".into(), "hi \"there\" ✓".into()), ("EMPTY".into(), String::new())]),
        description: "a function".into(),
        role: "arn:aws:iam::000000000000:role/lambda-role".into(),
        architecture: "x86_64".into(),
        code_sha256: "N3TpPxKdsW2ph989B7HuF3hDFIfNJQgaNY/zDa9eRbE=".into(),
        code_sha256_hex: "3774e93f129db16da987df3d07b1ee1778431487cd25081a358ff30daf5e45b1".into(),
        code_size_bytes: 179,
        revision_id: revision.into(),
        last_modified: Timestamp::from_unix_millis(1_764_000_000_123),
        dead_letter_target_arn: Some("arn:aws:sqs:us-east-1:000000000000:dlq".to_owned()),
    }
}

fn function(name: &str, last_version: u32) -> FunctionRecord {
    FunctionRecord {
        name: name.into(),
        latest: config(256, &format!("{name}-latest")),
        state: FunctionState::Active,
        last_version,
        tags: BTreeMap::from([("team".into(), "core".into())]),
        created_at: Timestamp::from_unix_millis(1_764_000_000_000),
    }
}

fn version(name: &str, number: u32) -> VersionRecord {
    VersionRecord {
        function_name: name.into(),
        version: number,
        config: VersionConfig { runtime: Runtime::ProvidedAl2023, ..config(128, &format!("{name}-v{number}")) },
        published_from_revision: format!("{name}-latest-at-{number}"),
    }
}

fn alias(name: &str, alias: &str, target: &str) -> AliasRecord {
    AliasRecord {
        function_name: name.into(),
        name: alias.into(),
        function_version: target.into(),
        description: "production".into(),
        additional_version_weights: BTreeMap::from([("1".into(), 0.125)]),
        revision_id: format!("{name}-{alias}-rev"),
    }
}

fn provisioned(name: &str, qualifier: &str, requested: u32) -> ProvisionedConcurrencyRecord {
    ProvisionedConcurrencyRecord {
        function_name: name.into(),
        qualifier: qualifier.into(),
        requested,
        last_modified: Timestamp::from_unix_millis(1_764_000_100_000),
    }
}

/// Writes one of everything for `f` and a bare `g`.
fn populate(store: &Store) -> StoredFunctions {
    store.put_function(&function("f", 1), Some(&version("f", 1))).expect("f + v1");
    store.put_function(&function("f", 2), Some(&version("f", 2))).expect("v2");
    store.put_function(&function("g", 0), None).expect("g");
    store.put_alias(&alias("f", "live", "2")).expect("alias");
    store.put_reserved_concurrency("f", Some(10)).expect("reserved");
    store.put_provisioned_concurrency(&provisioned("f", "live", 3)).expect("pc live");
    store.put_provisioned_concurrency(&provisioned("f", "1", 1)).expect("pc v1");
    StoredFunctions {
        functions: vec![function("f", 2), function("g", 0)],
        versions: vec![version("f", 1), version("f", 2)],
        aliases: vec![alias("f", "live", "2")],
        reserved_concurrency: vec![("f".into(), 10)],
        provisioned_concurrency: vec![provisioned("f", "1", 1), provisioned("f", "live", 3)],
    }
}

#[test]
fn every_record_round_trips_and_survives_reopening() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    assert_eq!(store.load_all().expect("empty"), StoredFunctions::default());
    let expected = populate(&store);
    assert_eq!(store.load_all().expect("load"), expected);
    store.close().expect("close");

    let store = open(dir.path());
    assert_eq!(store.load_all().expect("reload"), expected);
    assert!(
        store.info().schema.iter().any(|s| s.subsystem == "functions" && s.version >= 1),
        "{:?}",
        store.info().schema
    );
}

#[test]
fn updates_replace_and_deletes_cascade() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    populate(&store);

    // Replacing a function keeps its versions and settings.
    let mut changed = function("f", 2);
    changed.latest.memory_mb = 1024;
    changed.latest.environment.clear();
    changed.tags.clear();
    changed.state = FunctionState::Failed;
    store.put_function(&changed, None).expect("replace");
    let mut changed_alias = alias("f", "live", "1");
    changed_alias.additional_version_weights.clear();
    store.put_alias(&changed_alias).expect("replace alias");
    store.put_provisioned_concurrency(&provisioned("f", "live", 7)).expect("replace pc");
    store.put_reserved_concurrency("f", None).expect("remove reserved");
    store.put_reserved_concurrency("g", Some(0)).expect("g reserved");
    let loaded = store.load_all().expect("load");
    assert_eq!(loaded.functions[0], changed);
    assert_eq!(loaded.versions.len(), 2);
    assert_eq!(loaded.aliases, [changed_alias]);
    assert_eq!(loaded.reserved_concurrency, [("g".to_owned(), 0)]);
    assert_eq!(loaded.provisioned_concurrency, [provisioned("f", "1", 1), provisioned("f", "live", 7)]);

    // Deleting a version drops its provisioned concurrency; deleting an
    // alias drops its own.
    store.delete_version("f", 1).expect("delete v1");
    store.delete_alias("f", "live").expect("delete alias");
    let loaded = store.load_all().expect("load");
    assert_eq!(loaded.versions, [version("f", 2)]);
    assert!(loaded.aliases.is_empty());
    assert!(loaded.provisioned_concurrency.is_empty());

    // Deleting a function takes everything of it, and nothing of others.
    store.put_alias(&alias("f", "live", "2")).expect("alias again");
    store.put_provisioned_concurrency(&provisioned("f", "2", 2)).expect("pc again");
    store.put_reserved_concurrency("f", Some(5)).expect("reserved again");
    store.delete_function("f").expect("delete f");
    let loaded = store.load_all().expect("load");
    assert_eq!(loaded.functions.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(), ["g"]);
    assert!(loaded.versions.is_empty() && loaded.aliases.is_empty() && loaded.provisioned_concurrency.is_empty());
    assert_eq!(loaded.reserved_concurrency, [("g".to_owned(), 0)]);
    store.close().expect("close");
    assert_eq!(open(dir.path()).load_all().expect("reopen"), loaded);
}

#[test]
fn a_version_is_written_with_its_function_or_not_at_all() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    populate(&store);
    // Version 2 exists: publishing it again fails, and the function's own
    // row (with its new version counter) must not change either.
    let err = store.put_function(&function("f", 3), Some(&version("f", 2))).expect_err("duplicate version");
    assert!(ErrorChain(&err).to_string().contains("put_function"), "{}", ErrorChain(&err));
    let loaded = store.load_all().expect("load");
    assert_eq!(loaded.functions[0].last_version, 2);
}

#[test]
fn rows_this_build_cannot_read_are_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    store.put_function(&function("f", 0), None).expect("f");
    store.close().expect("close");
    let conn = rusqlite::Connection::open(db_path(dir.path())).expect("raw open");
    conn.execute("UPDATE functions SET runtime = 'cobol85' WHERE name = 'f'", []).expect("corrupt");
    drop(conn);
    let err = open(dir.path()).load_all().expect_err("unknown runtime");
    let message = ErrorChain(&err).to_string();
    assert!(message.contains("functions row `f` has unknown runtime `cobol85`"), "{message}");
}

#[test]
fn queued_async_events_survive_reopening() {
    use cloudlet_functions::store::{EventQueueStore, QueuedEvent};

    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let event = |id: &str, at_ms: u64| QueuedEvent {
        id: id.to_owned(),
        function_name: "f".to_owned(),
        qualifier: Some("live".to_owned()),
        payload: r#"{"n":1}"#.to_owned(),
        enqueued_at: cloudlet_core::Timestamp::from_unix_millis(at_ms),
        attempts: 0,
        invocations: 0,
        not_before: cloudlet_core::Timestamp::from_unix_millis(at_ms),
    };
    store.enqueue(&event("b", 2_000)).expect("enqueue b");
    store.enqueue(&event("a", 1_000)).expect("enqueue a");
    store.enqueue(&event("c", 3_000)).expect("enqueue c");
    store.reschedule("a", 2, 1, cloudlet_core::Timestamp::from_unix_millis(9_000)).expect("reschedule");
    store.remove("c").expect("remove");
    store.close().expect("close");

    let store = open(dir.path());
    let queued = store.queued().expect("queued");
    let mut a = event("a", 1_000);
    a.attempts = 2;
    a.invocations = 1;
    a.not_before = cloudlet_core::Timestamp::from_unix_millis(9_000);
    assert_eq!(queued, vec![a, event("b", 2_000)], "oldest first, changes kept, removed gone");
    assert!(store.enqueue(&event("b", 5_000)).is_err(), "an id is queued once");
}
