//! [`FunctionStore`] for [`Store`]: functions, published versions, aliases
//! and concurrency settings in the tables of the `functions` migration.
//!
//! Each trait method is one transaction on the store's connection, so a
//! method that returns `Ok` is on disk and one that fails changed nothing.
//! Maps are stored as JSON text; the runtime is stored by its Lambda name
//! and a name this build does not know is reported as an error on load,
//! never silently dropped.

use std::collections::BTreeMap;

use cloudlet_core::Timestamp;
use cloudlet_functions::Runtime;
use cloudlet_functions::async_config::EventInvokeConfig;
use cloudlet_functions::mappings::EventSourceMapping;
use cloudlet_functions::store::{
    AliasRecord, EventInvokeConfigStore, EventQueueStore, EventSourceMappingStore, FunctionRecord, FunctionState,
    FunctionStore, FunctionStoreError, ProvisionedConcurrencyRecord, QueuedEvent, StoredFunctions, VersionConfig,
    VersionRecord,
};
use rusqlite::{Connection, Row, params};

use crate::Store;

/// A row whose contents this build cannot read back.
#[derive(Debug, thiserror::Error)]
enum CorruptRow {
    #[error("{table} row `{key}` has unknown runtime `{runtime}`")]
    Runtime { table: &'static str, key: String, runtime: String },
    #[error("{table} row `{key}` has unknown state `{state}`")]
    State { table: &'static str, key: String, state: String },
    #[error("{table} row `{key}` has malformed JSON in `{column}`")]
    Json {
        table: &'static str,
        key: String,
        column: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("{table} row `{key}` has `{column}` = {value}, out of range")]
    Range { table: &'static str, key: String, column: &'static str, value: i64 },
}

/// Columns of a version's configuration, in this order, in both tables.
const CONFIG_COLUMNS: &str = "runtime, handler, memory_mb, timeout_s, environment_json, description, role, \
     architecture, code_sha256, code_sha256_hex, code_size_bytes, revision_id, last_modified_ms, dead_letter_target_arn";

fn query(operation: &'static str) -> impl Fn(rusqlite::Error) -> FunctionStoreError {
    move |source| FunctionStoreError::new(operation, source)
}

fn millis(timestamp: Timestamp) -> i64 {
    i64::try_from(timestamp.as_unix_millis()).unwrap_or(i64::MAX)
}

fn from_millis(millis: i64) -> Timestamp {
    Timestamp::from_unix_millis(u64::try_from(millis).unwrap_or(0))
}

fn json<T: serde::Serialize>(value: &T) -> String {
    // Maps of strings (and of f64 weights, which are finite by validation)
    // always serialise.
    serde_json::to_string(value).unwrap_or_else(|_| "{}".to_owned())
}

/// The configuration columns of one row, read from column `first` on.
fn read_config(
    row: &Row<'_>,
    first: usize,
    table: &'static str,
    key: &str,
) -> Result<VersionConfig, FunctionStoreError> {
    let fail = |source: CorruptRow| FunctionStoreError::new("load_all", source);
    let sql = |source: rusqlite::Error| FunctionStoreError::new("load_all", source);
    let runtime: String = row.get(first).map_err(sql)?;
    let runtime = runtime
        .parse::<Runtime>()
        .map_err(|_| fail(CorruptRow::Runtime { table, key: key.to_owned(), runtime: runtime.clone() }))?;
    let environment_json: String = row.get(first + 4).map_err(sql)?;
    let environment = serde_json::from_str(&environment_json)
        .map_err(|source| fail(CorruptRow::Json { table, key: key.to_owned(), column: "environment_json", source }))?;
    Ok(VersionConfig {
        runtime,
        handler: row.get(first + 1).map_err(sql)?,
        memory_mb: unsigned(row.get(first + 2).map_err(sql)?, table, key, "memory_mb")?,
        timeout_s: unsigned(row.get(first + 3).map_err(sql)?, table, key, "timeout_s")?,
        environment,
        description: row.get(first + 5).map_err(sql)?,
        role: row.get(first + 6).map_err(sql)?,
        architecture: row.get(first + 7).map_err(sql)?,
        code_sha256: row.get(first + 8).map_err(sql)?,
        code_sha256_hex: row.get(first + 9).map_err(sql)?,
        code_size_bytes: u64::try_from(row.get::<_, i64>(first + 10).map_err(sql)?).unwrap_or(0),
        revision_id: row.get(first + 11).map_err(sql)?,
        last_modified: Timestamp::from_unix_millis(
            u64::try_from(row.get::<_, i64>(first + 12).map_err(sql)?).unwrap_or(0),
        ),
        dead_letter_target_arn: row.get(first + 13).map_err(sql)?,
    })
}

fn unsigned(value: i64, table: &'static str, key: &str, column: &'static str) -> Result<u32, FunctionStoreError> {
    u32::try_from(value).map_err(|_| {
        FunctionStoreError::new("load_all", CorruptRow::Range { table, key: key.to_owned(), column, value })
    })
}

fn parse_json<T: serde::de::DeserializeOwned>(
    text: &str,
    table: &'static str,
    key: &str,
    column: &'static str,
) -> Result<T, FunctionStoreError> {
    serde_json::from_str(text).map_err(|source| {
        FunctionStoreError::new("load_all", CorruptRow::Json { table, key: key.to_owned(), column, source })
    })
}

fn load(conn: &Connection) -> Result<StoredFunctions, FunctionStoreError> {
    let sql = query("load_all");
    let mut stored = StoredFunctions::default();

    let mut statement = conn
        .prepare(&format!(
            "SELECT name, {CONFIG_COLUMNS}, state, last_version, tags_json, created_at_ms FROM functions ORDER BY name"
        ))
        .map_err(&sql)?;
    let mut rows = statement.query([]).map_err(&sql)?;
    while let Some(row) = rows.next().map_err(&sql)? {
        let name: String = row.get(0).map_err(&sql)?;
        let latest = read_config(row, 1, "functions", &name)?;
        let state: String = row.get(15).map_err(&sql)?;
        let state = FunctionState::parse(&state).ok_or_else(|| {
            FunctionStoreError::new("load_all", CorruptRow::State { table: "functions", key: name.clone(), state })
        })?;
        let last_version = unsigned(row.get(16).map_err(&sql)?, "functions", &name, "last_version")?;
        let tags: String = row.get(17).map_err(&sql)?;
        let tags = parse_json(&tags, "functions", &name, "tags_json")?;
        let created_at = Timestamp::from_unix_millis(u64::try_from(row.get::<_, i64>(18).map_err(&sql)?).unwrap_or(0));
        stored.functions.push(FunctionRecord { name, latest, state, last_version, tags, created_at });
    }
    drop(rows);
    drop(statement);

    let mut statement = conn
        .prepare(&format!(
            "SELECT function_name, version, {CONFIG_COLUMNS}, published_from_revision
             FROM function_versions ORDER BY function_name, version"
        ))
        .map_err(&sql)?;
    let mut rows = statement.query([]).map_err(&sql)?;
    while let Some(row) = rows.next().map_err(&sql)? {
        let function_name: String = row.get(0).map_err(&sql)?;
        let version: i64 = row.get(1).map_err(&sql)?;
        let key = format!("{function_name}:{version}");
        let version = unsigned(version, "function_versions", &key, "version")?;
        let config = read_config(row, 2, "function_versions", &key)?;
        let published_from_revision = row.get(16).map_err(&sql)?;
        stored.versions.push(VersionRecord { function_name, version, config, published_from_revision });
    }
    drop(rows);
    drop(statement);

    let mut statement = conn
        .prepare(
            "SELECT function_name, name, function_version, description, routing_json, revision_id
             FROM function_aliases ORDER BY function_name, name",
        )
        .map_err(&sql)?;
    let mut rows = statement.query([]).map_err(&sql)?;
    while let Some(row) = rows.next().map_err(&sql)? {
        let function_name: String = row.get(0).map_err(&sql)?;
        let name: String = row.get(1).map_err(&sql)?;
        let routing: String = row.get(4).map_err(&sql)?;
        let additional_version_weights: BTreeMap<String, f64> =
            parse_json(&routing, "function_aliases", &format!("{function_name}:{name}"), "routing_json")?;
        stored.aliases.push(AliasRecord {
            function_name,
            name,
            function_version: row.get(2).map_err(&sql)?,
            description: row.get(3).map_err(&sql)?,
            additional_version_weights,
            revision_id: row.get(5).map_err(&sql)?,
        });
    }
    drop(rows);
    drop(statement);

    let mut statement = conn
        .prepare("SELECT function_name, reserved FROM function_reserved_concurrency ORDER BY function_name")
        .map_err(&sql)?;
    let mut rows = statement.query([]).map_err(&sql)?;
    while let Some(row) = rows.next().map_err(&sql)? {
        let function_name: String = row.get(0).map_err(&sql)?;
        let reserved =
            unsigned(row.get(1).map_err(&sql)?, "function_reserved_concurrency", &function_name, "reserved")?;
        stored.reserved_concurrency.push((function_name, reserved));
    }
    drop(rows);
    drop(statement);

    let mut statement = conn
        .prepare(
            "SELECT function_name, qualifier, requested, last_modified_ms
             FROM function_provisioned_concurrency ORDER BY function_name, qualifier",
        )
        .map_err(&sql)?;
    let mut rows = statement.query([]).map_err(&sql)?;
    while let Some(row) = rows.next().map_err(&sql)? {
        let function_name: String = row.get(0).map_err(&sql)?;
        let qualifier: String = row.get(1).map_err(&sql)?;
        let key = format!("{function_name}:{qualifier}");
        let requested = unsigned(row.get(2).map_err(&sql)?, "function_provisioned_concurrency", &key, "requested")?;
        let last_modified =
            Timestamp::from_unix_millis(u64::try_from(row.get::<_, i64>(3).map_err(&sql)?).unwrap_or(0));
        stored.provisioned_concurrency.push(ProvisionedConcurrencyRecord {
            function_name,
            qualifier,
            requested,
            last_modified,
        });
    }
    Ok(stored)
}

impl FunctionStore for Store {
    fn load_all(&self) -> Result<StoredFunctions, FunctionStoreError> {
        let mut conn = self.lock();
        // One read transaction, so the tables are read at one point in time.
        let tx = conn.transaction().map_err(query("load_all"))?;
        let stored = load(&tx)?;
        tx.commit().map_err(query("load_all"))?;
        Ok(stored)
    }

    fn put_function(
        &self,
        function: &FunctionRecord,
        publish: Option<&VersionRecord>,
    ) -> Result<(), FunctionStoreError> {
        let sql = query("put_function");
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(&sql)?;
        let c = &function.latest;
        tx.execute(
            &format!(
                "INSERT INTO functions (name, {CONFIG_COLUMNS}, state, last_version, tags_json, created_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)
                 ON CONFLICT (name) DO UPDATE SET
                    runtime = excluded.runtime, handler = excluded.handler, memory_mb = excluded.memory_mb,
                    timeout_s = excluded.timeout_s, environment_json = excluded.environment_json,
                    description = excluded.description, role = excluded.role, architecture = excluded.architecture,
                    code_sha256 = excluded.code_sha256, code_sha256_hex = excluded.code_sha256_hex,
                    code_size_bytes = excluded.code_size_bytes, revision_id = excluded.revision_id,
                    last_modified_ms = excluded.last_modified_ms,
                    dead_letter_target_arn = excluded.dead_letter_target_arn, state = excluded.state,
                    last_version = excluded.last_version, tags_json = excluded.tags_json"
            ),
            params![
                function.name,
                c.runtime.as_str(),
                c.handler,
                c.memory_mb,
                c.timeout_s,
                json(&c.environment),
                c.description,
                c.role,
                c.architecture,
                c.code_sha256,
                c.code_sha256_hex,
                i64::try_from(c.code_size_bytes).unwrap_or(i64::MAX),
                c.revision_id,
                millis(c.last_modified),
                c.dead_letter_target_arn,
                function.state.as_str(),
                function.last_version,
                json(&function.tags),
                millis(function.created_at),
            ],
        )
        .map_err(&sql)?;
        if let Some(version) = publish {
            let c = &version.config;
            tx.execute(
                &format!(
                    "INSERT INTO function_versions (function_name, version, {CONFIG_COLUMNS}, published_from_revision)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)"
                ),
                params![
                    version.function_name,
                    version.version,
                    c.runtime.as_str(),
                    c.handler,
                    c.memory_mb,
                    c.timeout_s,
                    json(&c.environment),
                    c.description,
                    c.role,
                    c.architecture,
                    c.code_sha256,
                    c.code_sha256_hex,
                    i64::try_from(c.code_size_bytes).unwrap_or(i64::MAX),
                    c.revision_id,
                    millis(c.last_modified),
                    c.dead_letter_target_arn,
                    version.published_from_revision,
                ],
            )
            .map_err(&sql)?;
        }
        tx.commit().map_err(&sql)
    }

    fn delete_function(&self, name: &str) -> Result<(), FunctionStoreError> {
        // Versions, aliases and concurrency settings go with it (ON DELETE
        // CASCADE; the store enables foreign keys).
        self.lock().execute("DELETE FROM functions WHERE name = ?1", [name]).map(drop).map_err(query("delete_function"))
    }

    fn delete_version(&self, function_name: &str, version: u32) -> Result<(), FunctionStoreError> {
        let sql = query("delete_version");
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(&sql)?;
        tx.execute(
            "DELETE FROM function_versions WHERE function_name = ?1 AND version = ?2",
            params![function_name, version],
        )
        .map_err(&sql)?;
        tx.execute(
            "DELETE FROM function_provisioned_concurrency WHERE function_name = ?1 AND qualifier = ?2",
            params![function_name, version.to_string()],
        )
        .map_err(&sql)?;
        tx.commit().map_err(&sql)
    }

    fn put_alias(&self, alias: &AliasRecord) -> Result<(), FunctionStoreError> {
        self.lock()
            .execute(
                "INSERT INTO function_aliases (function_name, name, function_version, description, routing_json, revision_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (function_name, name) DO UPDATE SET
                    function_version = excluded.function_version, description = excluded.description,
                    routing_json = excluded.routing_json, revision_id = excluded.revision_id",
                params![
                    alias.function_name,
                    alias.name,
                    alias.function_version,
                    alias.description,
                    json(&alias.additional_version_weights),
                    alias.revision_id,
                ],
            )
            .map(drop)
            .map_err(query("put_alias"))
    }

    fn delete_alias(&self, function_name: &str, alias: &str) -> Result<(), FunctionStoreError> {
        let sql = query("delete_alias");
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(&sql)?;
        tx.execute(
            "DELETE FROM function_aliases WHERE function_name = ?1 AND name = ?2",
            params![function_name, alias],
        )
        .map_err(&sql)?;
        tx.execute(
            "DELETE FROM function_provisioned_concurrency WHERE function_name = ?1 AND qualifier = ?2",
            params![function_name, alias],
        )
        .map_err(&sql)?;
        tx.commit().map_err(&sql)
    }

    fn put_reserved_concurrency(&self, function_name: &str, reserved: Option<u32>) -> Result<(), FunctionStoreError> {
        let conn = self.lock();
        match reserved {
            Some(reserved) => conn.execute(
                "INSERT INTO function_reserved_concurrency (function_name, reserved) VALUES (?1, ?2)
                 ON CONFLICT (function_name) DO UPDATE SET reserved = excluded.reserved",
                params![function_name, reserved],
            ),
            None => conn.execute("DELETE FROM function_reserved_concurrency WHERE function_name = ?1", [function_name]),
        }
        .map(drop)
        .map_err(query("put_reserved_concurrency"))
    }

    fn put_provisioned_concurrency(&self, config: &ProvisionedConcurrencyRecord) -> Result<(), FunctionStoreError> {
        self.lock()
            .execute(
                "INSERT INTO function_provisioned_concurrency (function_name, qualifier, requested, last_modified_ms)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (function_name, qualifier) DO UPDATE SET
                    requested = excluded.requested, last_modified_ms = excluded.last_modified_ms",
                params![config.function_name, config.qualifier, config.requested, millis(config.last_modified)],
            )
            .map(drop)
            .map_err(query("put_provisioned_concurrency"))
    }

    fn delete_provisioned_concurrency(&self, function_name: &str, qualifier: &str) -> Result<(), FunctionStoreError> {
        self.lock()
            .execute(
                "DELETE FROM function_provisioned_concurrency WHERE function_name = ?1 AND qualifier = ?2",
                params![function_name, qualifier],
            )
            .map(drop)
            .map_err(query("delete_provisioned_concurrency"))
    }
}

impl EventQueueStore for Store {
    fn enqueue(&self, event: &QueuedEvent) -> Result<(), FunctionStoreError> {
        self.lock()
            .execute(
                "INSERT INTO function_async_events
                     (id, function_name, qualifier, payload, enqueued_at_ms, attempts, invocations, not_before_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                rusqlite::params![
                    event.id,
                    event.function_name,
                    event.qualifier,
                    event.payload,
                    millis(event.enqueued_at),
                    event.attempts,
                    event.invocations,
                    millis(event.not_before)
                ],
            )
            .map(drop)
            .map_err(query("enqueue_event"))
    }

    fn reschedule(
        &self,
        id: &str,
        attempts: u32,
        invocations: u32,
        not_before: Timestamp,
    ) -> Result<(), FunctionStoreError> {
        self.lock()
            .execute(
                "UPDATE function_async_events SET attempts = ?2, invocations = ?3, not_before_ms = ?4 WHERE id = ?1",
                rusqlite::params![id, attempts, invocations, millis(not_before)],
            )
            .map(drop)
            .map_err(query("reschedule_event"))
    }

    fn remove(&self, id: &str) -> Result<(), FunctionStoreError> {
        self.lock()
            .execute("DELETE FROM function_async_events WHERE id = ?1", [id])
            .map(drop)
            .map_err(query("remove_event"))
    }

    fn queued(&self) -> Result<Vec<QueuedEvent>, FunctionStoreError> {
        let conn = self.lock();
        let mut statement = conn
            .prepare(
                "SELECT id, function_name, qualifier, payload, enqueued_at_ms, attempts, invocations, not_before_ms
                 FROM function_async_events ORDER BY enqueued_at_ms, id",
            )
            .map_err(query("queued_events"))?;
        let rows = statement
            .query_map([], |row| {
                Ok(QueuedEvent {
                    id: row.get(0)?,
                    function_name: row.get(1)?,
                    qualifier: row.get(2)?,
                    payload: row.get(3)?,
                    enqueued_at: from_millis(row.get(4)?),
                    attempts: row.get(5)?,
                    invocations: row.get(6)?,
                    not_before: from_millis(row.get(7)?),
                })
            })
            .map_err(query("queued_events"))?;
        rows.collect::<Result<_, _>>().map_err(query("queued_events"))
    }
}

impl EventInvokeConfigStore for Store {
    fn put_event_invoke_config(&self, config: &EventInvokeConfig) -> Result<(), FunctionStoreError> {
        self.lock()
            .execute(
                "INSERT INTO function_event_invoke_configs
                     (function_name, qualifier, maximum_retry_attempts, maximum_event_age_s, on_success, on_failure,
                      last_modified_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (function_name, qualifier) DO UPDATE SET
                     maximum_retry_attempts = excluded.maximum_retry_attempts,
                     maximum_event_age_s = excluded.maximum_event_age_s,
                     on_success = excluded.on_success,
                     on_failure = excluded.on_failure,
                     last_modified_ms = excluded.last_modified_ms",
                rusqlite::params![
                    config.function_name,
                    config.qualifier,
                    config.maximum_retry_attempts,
                    config.maximum_event_age_s,
                    config.on_success,
                    config.on_failure,
                    millis(config.last_modified)
                ],
            )
            .map(drop)
            .map_err(query("put_event_invoke_config"))
    }

    fn delete_event_invoke_config(&self, function_name: &str, qualifier: &str) -> Result<(), FunctionStoreError> {
        self.lock()
            .execute(
                "DELETE FROM function_event_invoke_configs WHERE function_name = ?1 AND qualifier = ?2",
                [function_name, qualifier],
            )
            .map(drop)
            .map_err(query("delete_event_invoke_config"))
    }

    fn event_invoke_configs(&self) -> Result<Vec<EventInvokeConfig>, FunctionStoreError> {
        let conn = self.lock();
        let mut statement = conn
            .prepare(
                "SELECT function_name, qualifier, maximum_retry_attempts, maximum_event_age_s, on_success, on_failure,
                        last_modified_ms
                 FROM function_event_invoke_configs ORDER BY function_name, qualifier",
            )
            .map_err(query("event_invoke_configs"))?;
        let rows = statement
            .query_map([], |row| {
                Ok(EventInvokeConfig {
                    function_name: row.get(0)?,
                    qualifier: row.get(1)?,
                    maximum_retry_attempts: row.get(2)?,
                    maximum_event_age_s: row.get(3)?,
                    on_success: row.get(4)?,
                    on_failure: row.get(5)?,
                    last_modified: from_millis(row.get(6)?),
                })
            })
            .map_err(query("event_invoke_configs"))?;
        rows.collect::<Result<_, _>>().map_err(query("event_invoke_configs"))
    }
}

impl EventSourceMappingStore for Store {
    fn put_event_source_mapping(&self, mapping: &EventSourceMapping) -> Result<(), FunctionStoreError> {
        self.lock()
            .execute(
                "INSERT INTO function_event_source_mappings (uuid, event_source_arn, function_name, settings_json)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (uuid) DO UPDATE SET
                     event_source_arn = excluded.event_source_arn,
                     function_name = excluded.function_name,
                     settings_json = excluded.settings_json",
                params![mapping.uuid, mapping.event_source_arn, mapping.function_name, json(mapping)],
            )
            .map(drop)
            .map_err(query("put_event_source_mapping"))
    }

    fn delete_event_source_mapping(&self, uuid: &str) -> Result<(), FunctionStoreError> {
        self.lock()
            .execute("DELETE FROM function_event_source_mappings WHERE uuid = ?1", [uuid])
            .map(drop)
            .map_err(query("delete_event_source_mapping"))
    }

    fn event_source_mappings(&self) -> Result<Vec<EventSourceMapping>, FunctionStoreError> {
        let conn = self.lock();
        let mut statement = conn
            .prepare("SELECT uuid, settings_json FROM function_event_source_mappings ORDER BY uuid")
            .map_err(query("event_source_mappings"))?;
        let rows = statement
            .query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)))
            .map_err(query("event_source_mappings"))?;
        let mut mappings = Vec::new();
        for row in rows {
            let (uuid, settings) = row.map_err(query("event_source_mappings"))?;
            let mapping = serde_json::from_str(&settings).map_err(|source| {
                FunctionStoreError::new(
                    "event_source_mappings",
                    CorruptRow::Json {
                        table: "function_event_source_mappings",
                        key: uuid,
                        column: "settings_json",
                        source,
                    },
                )
            })?;
            mappings.push(mapping);
        }
        Ok(mappings)
    }
}
