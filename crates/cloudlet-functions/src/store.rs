//! What the functions subsystem persists, as plain records, and the
//! [`FunctionStore`] trait that `cloudlet-store` implements over SQL.
//!
//! Every record is small: code packages live in the package cache on disk and
//! records name them by their SHA-256. The control plane keeps all records in
//! memory and writes through this trait first, so a write that returned `Ok`
//! survives a crash and a write that failed leaves nothing behind. Each
//! method is one transaction.
//!
//! This module knows nothing about SQL or HTTP.

use std::collections::BTreeMap;
use std::error::Error as StdError;
use std::fmt;

use cloudlet_core::Timestamp;

use crate::async_config::EventInvokeConfig;
use crate::mappings::EventSourceMapping;
use crate::model::Runtime;

/// A store failure, with the operation that failed and its cause.
#[derive(Debug, thiserror::Error)]
#[error("function store operation `{operation}` failed")]
pub struct FunctionStoreError {
    pub operation: &'static str,
    #[source]
    pub source: Box<dyn StdError + Send + Sync>,
}

impl FunctionStoreError {
    pub fn new(operation: &'static str, source: impl Into<Box<dyn StdError + Send + Sync>>) -> FunctionStoreError {
        FunctionStoreError { operation, source: source.into() }
    }
}

/// The lifecycle state of a function (`State` in the Lambda API).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FunctionState {
    Pending,
    Active,
    Inactive,
    Failed,
}

impl FunctionState {
    pub fn as_str(self) -> &'static str {
        match self {
            FunctionState::Pending => "Pending",
            FunctionState::Active => "Active",
            FunctionState::Inactive => "Inactive",
            FunctionState::Failed => "Failed",
        }
    }

    pub fn parse(s: &str) -> Option<FunctionState> {
        [FunctionState::Pending, FunctionState::Active, FunctionState::Inactive, FunctionState::Failed]
            .into_iter()
            .find(|state| state.as_str() == s)
    }
}

impl fmt::Display for FunctionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The configuration and code of one version of a function: `$LATEST`
/// (mutable) or a published version (immutable).
#[derive(Debug, Clone, PartialEq)]
pub struct VersionConfig {
    pub runtime: Runtime,
    pub handler: String,
    pub memory_mb: u32,
    pub timeout_s: u32,
    pub environment: BTreeMap<String, String>,
    pub description: String,
    /// The execution role's ARN, kept as given.
    pub role: String,
    /// `x86_64` or `arm64`.
    pub architecture: String,
    /// `CodeSha256`: base64 of the zip's SHA-256.
    pub code_sha256: String,
    /// The same digest in hex: the package cache's key.
    pub code_sha256_hex: String,
    /// `CodeSize`: the zip's size in bytes.
    pub code_size_bytes: u64,
    /// Changes on every change of this version's code or configuration.
    pub revision_id: String,
    pub last_modified: Timestamp,
    /// `DeadLetterConfig.TargetArn`: where failed asynchronous events go.
    pub dead_letter_target_arn: Option<String>,
}

/// A function and its `$LATEST` version.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionRecord {
    pub name: String,
    pub latest: VersionConfig,
    pub state: FunctionState,
    /// The highest version number ever published (0 before the first);
    /// numbers are never reused, even after a version is deleted.
    pub last_version: u32,
    pub tags: BTreeMap<String, String>,
    pub created_at: Timestamp,
}

/// A published version: an immutable snapshot of `$LATEST`.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionRecord {
    pub function_name: String,
    /// 1, 2, 3, ...
    pub version: u32,
    pub config: VersionConfig,
    /// `$LATEST`'s revision id when this version was published: publishing
    /// again without a change in between returns this version.
    pub published_from_revision: String,
}

/// An alias: a name for a version, optionally splitting traffic with a
/// second version.
#[derive(Debug, Clone, PartialEq)]
pub struct AliasRecord {
    pub function_name: String,
    pub name: String,
    /// A version number, or `$LATEST`.
    pub function_version: String,
    pub description: String,
    /// `RoutingConfig.AdditionalVersionWeights`: version → share of traffic
    /// in `[0, 1)`.
    pub additional_version_weights: BTreeMap<String, f64>,
    pub revision_id: String,
}

/// A provisioned-concurrency configuration of one version or alias.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionedConcurrencyRecord {
    pub function_name: String,
    /// A version number or an alias name (never `$LATEST`).
    pub qualifier: String,
    pub requested: u32,
    pub last_modified: Timestamp,
}

/// Everything stored about functions, as loaded at start-up.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoredFunctions {
    pub functions: Vec<FunctionRecord>,
    pub versions: Vec<VersionRecord>,
    pub aliases: Vec<AliasRecord>,
    /// Function name → reserved concurrency.
    pub reserved_concurrency: Vec<(String, u32)>,
    pub provisioned_concurrency: Vec<ProvisionedConcurrencyRecord>,
}

/// Durable storage of functions. Every method is one atomic, durable write
/// (or read): when it returns `Ok`, the change survives a crash; when it
/// returns `Err`, nothing changed.
pub trait FunctionStore: Send + Sync + fmt::Debug {
    /// Every record, for start-up.
    fn load_all(&self) -> Result<StoredFunctions, FunctionStoreError>;

    /// Creates or replaces a function's own record (its `$LATEST`, tags,
    /// version counter) and, in the same transaction, adds `publish` as a
    /// new published version.
    fn put_function(
        &self,
        function: &FunctionRecord,
        publish: Option<&VersionRecord>,
    ) -> Result<(), FunctionStoreError>;

    /// Deletes a function with all its versions, aliases and concurrency
    /// settings.
    fn delete_function(&self, name: &str) -> Result<(), FunctionStoreError>;

    /// Deletes one published version and its provisioned-concurrency
    /// configuration.
    fn delete_version(&self, function_name: &str, version: u32) -> Result<(), FunctionStoreError>;

    /// Creates or replaces an alias.
    fn put_alias(&self, alias: &AliasRecord) -> Result<(), FunctionStoreError>;

    /// Deletes an alias and its provisioned-concurrency configuration.
    fn delete_alias(&self, function_name: &str, alias: &str) -> Result<(), FunctionStoreError>;

    /// Sets (`Some`) or removes (`None`) a function's reserved concurrency.
    fn put_reserved_concurrency(&self, function_name: &str, reserved: Option<u32>) -> Result<(), FunctionStoreError>;

    /// Creates or replaces a provisioned-concurrency configuration.
    fn put_provisioned_concurrency(&self, config: &ProvisionedConcurrencyRecord) -> Result<(), FunctionStoreError>;

    /// Deletes a provisioned-concurrency configuration, if there is one.
    fn delete_provisioned_concurrency(&self, function_name: &str, qualifier: &str) -> Result<(), FunctionStoreError>;
}

/// A [`FunctionStore`] in memory, for tests (of this crate and of the
/// crates that build a `ControlPlane`). Nothing survives the process.
///
/// [`MemoryFunctionStore::fail_writes`] makes every write fail until it is
/// turned off, to check that a failed write leaves no trace.
#[derive(Debug, Default)]
pub struct MemoryFunctionStore {
    state: std::sync::Mutex<MemoryState>,
}

#[derive(Debug, Default)]
struct MemoryState {
    stored: StoredFunctions,
    events: Vec<QueuedEvent>,
    event_invoke_configs: Vec<EventInvokeConfig>,
    event_source_mappings: Vec<EventSourceMapping>,
    fail_writes: bool,
    writes: u64,
}

#[derive(Debug, thiserror::Error)]
#[error("writes are failing on purpose (MemoryFunctionStore::fail_writes)")]
struct InjectedFailure;

impl MemoryFunctionStore {
    pub fn new() -> MemoryFunctionStore {
        MemoryFunctionStore::default()
    }

    /// Makes every following write fail (`true`) or succeed again.
    pub fn fail_writes(&self, fail: bool) {
        self.lock().fail_writes = fail;
    }

    /// How many writes have succeeded.
    pub fn writes(&self) -> u64 {
        self.lock().writes
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(
        &self,
        operation: &'static str,
        change: impl FnOnce(&mut StoredFunctions),
    ) -> Result<(), FunctionStoreError> {
        self.write_state(operation, |state| change(&mut state.stored))
    }

    fn write_configs(
        &self,
        operation: &'static str,
        change: impl FnOnce(&mut Vec<EventInvokeConfig>),
    ) -> Result<(), FunctionStoreError> {
        self.write_state(operation, |state| change(&mut state.event_invoke_configs))
    }

    fn write_events(
        &self,
        operation: &'static str,
        change: impl FnOnce(&mut Vec<QueuedEvent>),
    ) -> Result<(), FunctionStoreError> {
        self.write_state(operation, |state| change(&mut state.events))
    }

    /// Every write: refused while writes are failing on purpose, counted
    /// when it succeeds.
    fn write_state(
        &self,
        operation: &'static str,
        change: impl FnOnce(&mut MemoryState),
    ) -> Result<(), FunctionStoreError> {
        let mut state = self.lock();
        if state.fail_writes {
            return Err(FunctionStoreError::new(operation, InjectedFailure));
        }
        change(&mut state);
        state.writes += 1;
        Ok(())
    }
}

impl FunctionStore for MemoryFunctionStore {
    fn load_all(&self) -> Result<StoredFunctions, FunctionStoreError> {
        Ok(self.lock().stored.clone())
    }

    fn put_function(
        &self,
        function: &FunctionRecord,
        publish: Option<&VersionRecord>,
    ) -> Result<(), FunctionStoreError> {
        self.write("put_function", |stored| {
            stored.functions.retain(|f| f.name != function.name);
            stored.functions.push(function.clone());
            if let Some(version) = publish {
                stored.versions.push(version.clone());
            }
        })
    }

    fn delete_function(&self, name: &str) -> Result<(), FunctionStoreError> {
        self.write("delete_function", |stored| {
            stored.functions.retain(|f| f.name != name);
            stored.versions.retain(|v| v.function_name != name);
            stored.aliases.retain(|a| a.function_name != name);
            stored.reserved_concurrency.retain(|(f, _)| f != name);
            stored.provisioned_concurrency.retain(|p| p.function_name != name);
        })
    }

    fn delete_version(&self, function_name: &str, version: u32) -> Result<(), FunctionStoreError> {
        let qualifier = version.to_string();
        self.write("delete_version", |stored| {
            stored.versions.retain(|v| !(v.function_name == function_name && v.version == version));
            stored.provisioned_concurrency.retain(|p| !(p.function_name == function_name && p.qualifier == qualifier));
        })
    }

    fn put_alias(&self, alias: &AliasRecord) -> Result<(), FunctionStoreError> {
        self.write("put_alias", |stored| {
            stored.aliases.retain(|a| !(a.function_name == alias.function_name && a.name == alias.name));
            stored.aliases.push(alias.clone());
        })
    }

    fn delete_alias(&self, function_name: &str, alias: &str) -> Result<(), FunctionStoreError> {
        self.write("delete_alias", |stored| {
            stored.aliases.retain(|a| !(a.function_name == function_name && a.name == alias));
            stored.provisioned_concurrency.retain(|p| !(p.function_name == function_name && p.qualifier == alias));
        })
    }

    fn put_reserved_concurrency(&self, function_name: &str, reserved: Option<u32>) -> Result<(), FunctionStoreError> {
        self.write("put_reserved_concurrency", |stored| {
            stored.reserved_concurrency.retain(|(f, _)| f != function_name);
            if let Some(reserved) = reserved {
                stored.reserved_concurrency.push((function_name.to_owned(), reserved));
            }
        })
    }

    fn put_provisioned_concurrency(&self, config: &ProvisionedConcurrencyRecord) -> Result<(), FunctionStoreError> {
        self.write("put_provisioned_concurrency", |stored| {
            stored
                .provisioned_concurrency
                .retain(|p| !(p.function_name == config.function_name && p.qualifier == config.qualifier));
            stored.provisioned_concurrency.push(config.clone());
        })
    }

    fn delete_provisioned_concurrency(&self, function_name: &str, qualifier: &str) -> Result<(), FunctionStoreError> {
        self.write("delete_provisioned_concurrency", |stored| {
            stored.provisioned_concurrency.retain(|p| !(p.function_name == function_name && p.qualifier == qualifier));
        })
    }
}

/// An asynchronous invocation waiting in the durable queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedEvent {
    /// The invocation's request id.
    pub id: String,
    pub function_name: String,
    pub qualifier: Option<String>,
    /// The event, validated JSON.
    pub payload: String,
    pub enqueued_at: Timestamp,
    /// Attempts that were throttled or failed to start, so far.
    pub attempts: u32,
    /// Times the function ran for this event, so far.
    pub invocations: u32,
    /// Not to be attempted before this time (retry back-off).
    pub not_before: Timestamp,
}

/// The durable queue of asynchronous (`Event`) invocations. An event is
/// acknowledged with 202 only after [`EventQueueStore::enqueue`] returned.
pub trait EventQueueStore: Send + Sync + fmt::Debug {
    fn enqueue(&self, event: &QueuedEvent) -> Result<(), FunctionStoreError>;
    /// Records another attempt and when the next may start.
    fn reschedule(
        &self,
        id: &str,
        attempts: u32,
        invocations: u32,
        not_before: Timestamp,
    ) -> Result<(), FunctionStoreError>;
    /// The event is done (ran, or was given up on).
    fn remove(&self, id: &str) -> Result<(), FunctionStoreError>;
    /// Every queued event, oldest first (daemon start).
    fn queued(&self) -> Result<Vec<QueuedEvent>, FunctionStoreError>;
}

impl EventQueueStore for MemoryFunctionStore {
    fn enqueue(&self, event: &QueuedEvent) -> Result<(), FunctionStoreError> {
        self.write_events("enqueue", |events| events.push(event.clone()))
    }

    fn reschedule(
        &self,
        id: &str,
        attempts: u32,
        invocations: u32,
        not_before: Timestamp,
    ) -> Result<(), FunctionStoreError> {
        self.write_events("reschedule", |events| {
            if let Some(event) = events.iter_mut().find(|e| e.id == id) {
                event.attempts = attempts;
                event.invocations = invocations;
                event.not_before = not_before;
            }
        })
    }

    fn remove(&self, id: &str) -> Result<(), FunctionStoreError> {
        self.write_events("remove", |events| events.retain(|e| e.id != id))
    }

    fn queued(&self) -> Result<Vec<QueuedEvent>, FunctionStoreError> {
        Ok(self.lock().events.clone())
    }
}

/// Where asynchronous invocation settings are kept.
pub trait EventInvokeConfigStore: Send + Sync + fmt::Debug {
    fn put_event_invoke_config(&self, config: &EventInvokeConfig) -> Result<(), FunctionStoreError>;
    fn delete_event_invoke_config(&self, function_name: &str, qualifier: &str) -> Result<(), FunctionStoreError>;
    fn event_invoke_configs(&self) -> Result<Vec<EventInvokeConfig>, FunctionStoreError>;
}

impl EventInvokeConfigStore for MemoryFunctionStore {
    fn put_event_invoke_config(&self, config: &EventInvokeConfig) -> Result<(), FunctionStoreError> {
        self.write_configs("put_event_invoke_config", |configs| {
            configs.retain(|c| !(c.function_name == config.function_name && c.qualifier == config.qualifier));
            configs.push(config.clone());
        })
    }

    fn delete_event_invoke_config(&self, function_name: &str, qualifier: &str) -> Result<(), FunctionStoreError> {
        self.write_configs("delete_event_invoke_config", |configs| {
            configs.retain(|c| !(c.function_name == function_name && c.qualifier == qualifier));
        })
    }

    fn event_invoke_configs(&self) -> Result<Vec<EventInvokeConfig>, FunctionStoreError> {
        Ok(self.lock().event_invoke_configs.clone())
    }
}

/// Where event source mappings are kept.
pub trait EventSourceMappingStore: Send + Sync + fmt::Debug {
    /// Creates or replaces the mapping with `mapping.uuid`.
    fn put_event_source_mapping(&self, mapping: &EventSourceMapping) -> Result<(), FunctionStoreError>;
    fn delete_event_source_mapping(&self, uuid: &str) -> Result<(), FunctionStoreError>;
    fn event_source_mappings(&self) -> Result<Vec<EventSourceMapping>, FunctionStoreError>;
}

impl EventSourceMappingStore for MemoryFunctionStore {
    fn put_event_source_mapping(&self, mapping: &EventSourceMapping) -> Result<(), FunctionStoreError> {
        self.write_state("put_event_source_mapping", |state| {
            state.event_source_mappings.retain(|m| m.uuid != mapping.uuid);
            state.event_source_mappings.push(mapping.clone());
        })
    }

    fn delete_event_source_mapping(&self, uuid: &str) -> Result<(), FunctionStoreError> {
        self.write_state("delete_event_source_mapping", |state| state.event_source_mappings.retain(|m| m.uuid != uuid))
    }

    fn event_source_mappings(&self) -> Result<Vec<EventSourceMapping>, FunctionStoreError> {
        Ok(self.lock().event_source_mappings.clone())
    }
}
