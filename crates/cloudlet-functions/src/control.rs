//! The Lambda control plane: functions, code, configuration, versions,
//! aliases and tags, as typed operations with AWS's validation and errors.
//!
//! [`ControlPlane`] keeps every function record in memory (loaded from the
//! [`FunctionStore`] at start) so reads and [`ControlPlane::resolve`] never
//! touch the store. Every write is validated completely first, then written
//! to the store (durable), and only then applied to the in-memory catalog, so
//! a failed write leaves nothing behind. Writes are serialised by one mutex;
//! reads take a read lock.
//!
//! This module knows nothing about HTTP or JSON: the server maps requests to
//! the request structs here and renders the results. Store calls and code
//! unpacking block, so async callers run writes on a blocking thread.

pub(crate) mod names;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};

use cloudlet_core::metrics::Registry;
use cloudlet_core::{AwsScope, SharedClock, Timestamp};

use crate::error::{ErrorType, LambdaError};
use crate::model::{
    CodeRef, DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT_S, FunctionVersion, LATEST, MEMORY_MB_RANGE, Runtime, RuntimeFamily,
    TIMEOUT_S_RANGE,
};
use crate::package::{CodePackage, PackageCache};
use crate::store::{
    AliasRecord, FunctionRecord, FunctionState, FunctionStore, FunctionStoreError, ProvisionedConcurrencyRecord,
    StoredFunctions, VersionConfig, VersionRecord,
};

use names::{NameRule, check_qualifier, invalid_alias_name, invalid_member, is_alias_name, is_version_number};

/// The largest CreateFunction request body Lambda accepts, in bytes.
pub const MAX_CREATE_FUNCTION_REQUEST_BYTES: usize = 70_167_211;
/// The most bytes of environment variables a function may have (AWS
/// measures the compact JSON of the map).
pub const MAX_ENVIRONMENT_BYTES: usize = 4096;
/// `MaxItems` when a list request gives none, and the most ListFunctions
/// and ListVersionsByFunction return at once ("a maximum of 50 items in each
/// response, even if you set the number higher").
pub const DEFAULT_PAGE_SIZE: usize = 50;

/// Checks whether this host can run a runtime's environments.
///
/// `check` returns what is missing (e.g. "no executable `python3.13` on
/// PATH"); CreateFunction and UpdateFunctionConfiguration turn it into an
/// `InvalidParameterValueException` naming the runtime.
pub trait RuntimeProbe: Send + Sync + fmt::Debug {
    fn check(&self, runtime: Runtime) -> Result<(), String>;
}

/// Where CreateFunction and UpdateFunctionCode take the code from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CodeSource {
    #[default]
    Missing,
    /// `ZipFile`: the zip's bytes (already base64-decoded).
    Zip(Vec<u8>),
    /// `S3Bucket` + `S3Key`: cloudlet has no S3, so this is refused.
    S3 { bucket: String, key: String },
    /// `ImageUri`: cloudlet runs Zip packages only.
    Image(String),
}

/// CreateFunction's input. Numbers are wide so out-of-range values reach
/// validation instead of failing to parse.
#[derive(Debug, Clone, Default)]
pub struct CreateFunctionRequest {
    pub function_name: String,
    pub runtime: Option<String>,
    pub role: Option<String>,
    pub handler: Option<String>,
    pub code: CodeSource,
    pub description: Option<String>,
    pub timeout_s: Option<i64>,
    pub memory_mb: Option<i64>,
    pub environment: Option<BTreeMap<String, String>>,
    pub publish: bool,
    pub package_type: Option<String>,
    pub architectures: Option<Vec<String>>,
    pub tags: BTreeMap<String, String>,
    /// `DeadLetterConfig.TargetArn`.
    pub dead_letter_target_arn: Option<String>,
}

/// UpdateFunctionConfiguration's input: `None` leaves a setting as it is;
/// `environment: Some(empty)` removes every variable.
#[derive(Debug, Clone, Default)]
pub struct UpdateConfigurationRequest {
    pub function_name: String,
    pub runtime: Option<String>,
    pub role: Option<String>,
    pub handler: Option<String>,
    pub description: Option<String>,
    pub timeout_s: Option<i64>,
    pub memory_mb: Option<i64>,
    pub environment: Option<BTreeMap<String, String>>,
    /// `DeadLetterConfig.TargetArn`; `Some("")` removes it.
    pub dead_letter_target_arn: Option<String>,
    pub revision_id: Option<String>,
}

/// UpdateFunctionCode's input.
#[derive(Debug, Clone, Default)]
pub struct UpdateCodeRequest {
    pub function_name: String,
    pub code: CodeSource,
    pub publish: bool,
    pub dry_run: bool,
    pub revision_id: Option<String>,
    pub architectures: Option<Vec<String>>,
}

/// PublishVersion's input.
#[derive(Debug, Clone, Default)]
pub struct PublishVersionRequest {
    pub function_name: String,
    /// Precondition: `$LATEST`'s `CodeSha256` must be this.
    pub code_sha256: Option<String>,
    /// The version's description; `$LATEST`'s when absent.
    pub description: Option<String>,
    /// Precondition: `$LATEST`'s `RevisionId` must be this.
    pub revision_id: Option<String>,
}

/// CreateAlias's input.
#[derive(Debug, Clone, Default)]
pub struct CreateAliasRequest {
    pub function_name: String,
    pub name: String,
    pub function_version: String,
    pub description: Option<String>,
    /// `RoutingConfig.AdditionalVersionWeights`.
    pub additional_version_weights: Option<BTreeMap<String, f64>>,
}

/// UpdateAlias's input: `None` leaves a setting as it is;
/// `additional_version_weights: Some(empty)` removes the routing.
#[derive(Debug, Clone, Default)]
pub struct UpdateAliasRequest {
    pub function_name: String,
    pub name: String,
    pub function_version: Option<String>,
    pub description: Option<String>,
    pub additional_version_weights: Option<BTreeMap<String, f64>>,
    pub revision_id: Option<String>,
}

/// `LastUpdateStatus` with its reason, as a response shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LastUpdate {
    /// `Successful`, `InProgress` or `Failed`.
    pub status: &'static str,
    pub reason: Option<&'static str>,
    pub reason_code: Option<&'static str>,
}

/// One version's configuration as the API returns it (`FunctionConfiguration`).
///
/// The state fields depend on the operation, as they do in AWS: a create
/// response says `Pending`, a later read says `Active`; list responses
/// carry no state at all.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionConfiguration {
    pub function_name: String,
    /// Qualified or not, as the operation returns it.
    pub function_arn: String,
    /// `$LATEST` or a version number.
    pub version: String,
    pub config: VersionConfig,
    /// `None` in list responses.
    pub state: Option<FunctionState>,
    pub state_reason: Option<&'static str>,
    pub state_reason_code: Option<&'static str>,
    pub last_update: Option<LastUpdate>,
    /// Where the unpacked code lives, when it is in the package cache.
    pub code_dir: Option<PathBuf>,
}

/// GetFunction's result.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionDetails {
    pub configuration: FunctionConfiguration,
    pub tags: BTreeMap<String, String>,
    pub reserved_concurrency: Option<u32>,
}

/// An alias as the API returns it (`AliasConfiguration`).
#[derive(Debug, Clone, PartialEq)]
pub struct AliasConfiguration {
    pub alias_arn: String,
    pub alias: AliasRecord,
}

/// One page of a list, and the marker for the next (`NextMarker`).
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_marker: Option<String>,
}

/// What an invocation runs: the output of [`ControlPlane::resolve`].
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The snapshot to run (for an alias with routing, the version the
    /// sample picked).
    pub version: Arc<FunctionVersion>,
    /// The function ARN as invoked: qualified with the alias or version when
    /// the caller named one.
    pub invoked_arn: String,
    /// The alias or version the caller named (`$LATEST` when named
    /// explicitly), for the provisioned-concurrency lookup.
    pub qualifier: Option<String>,
}

/// Why the control plane could not start.
#[derive(Debug, thiserror::Error)]
pub enum ControlPlaneError {
    #[error("cannot load functions from the store")]
    Load(#[source] FunctionStoreError),
}

/// The Lambda control plane. Share it behind an `Arc`.
pub struct ControlPlane {
    store: Arc<dyn FunctionStore>,
    packages: Arc<PackageCache>,
    scope: AwsScope,
    clock: SharedClock,
    probe: Arc<dyn RuntimeProbe>,
    catalog: RwLock<Catalog>,
    /// Held for the whole of every write: validation, store write and cache
    /// update happen as one step with respect to other writers.
    writer: Mutex<()>,
    /// Where the `code_unpack` cold-start phase is recorded (wired in by
    /// the invoker).
    metrics: OnceLock<Arc<Registry>>,
}

impl fmt::Debug for ControlPlane {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ControlPlane")
            .field("scope", &self.scope)
            .field("functions", &self.read().functions.len())
            .finish_non_exhaustive()
    }
}

/// Every function, in memory.
#[derive(Debug, Default)]
struct Catalog {
    functions: BTreeMap<String, Entry>,
}

/// One function with everything that belongs to it.
#[derive(Debug, Clone)]
struct Entry {
    record: FunctionRecord,
    /// `None` when the code package is missing from the cache.
    latest: Option<Arc<FunctionVersion>>,
    versions: BTreeMap<u32, Published>,
    aliases: BTreeMap<String, AliasRecord>,
    reserved_concurrency: Option<u32>,
    provisioned: BTreeMap<String, ProvisionedConcurrencyRecord>,
}

#[derive(Debug, Clone)]
struct Published {
    record: VersionRecord,
    snapshot: Option<Arc<FunctionVersion>>,
}

/// How a configuration is presented, by operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Presentation {
    /// CreateFunction, and a newly published version: `Pending`, creating.
    Creating,
    /// UpdateFunctionCode/Configuration: `Active`, update in progress.
    Updating,
    /// Reads: `Active`, last update successful.
    Settled,
    /// Lists: no state fields.
    Listed,
}

const CREATING_REASON: &str = "The function is being created.";
const CREATING_CODE: &str = "Creating";
const REVISION_MISMATCH: &str = "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id";
const ROLE_PATTERN: &str = r"arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+";

impl ControlPlane {
    /// Loads every function from `store` and serves them.
    pub fn open(
        store: Arc<dyn FunctionStore>,
        packages: Arc<PackageCache>,
        scope: AwsScope,
        clock: SharedClock,
        probe: Arc<dyn RuntimeProbe>,
    ) -> Result<ControlPlane, ControlPlaneError> {
        let stored = store.load_all().map_err(ControlPlaneError::Load)?;
        let catalog = build_catalog(stored, &packages);
        Ok(ControlPlane {
            store,
            packages,
            scope,
            clock,
            probe,
            catalog: RwLock::new(catalog),
            writer: Mutex::new(()),
            metrics: OnceLock::new(),
        })
    }

    /// Records the `code_unpack` cold-start phase of every package stored
    /// from now on in `metrics` (the first registry given wins).
    pub fn set_metrics(&self, metrics: Arc<Registry>) {
        let _ = self.metrics.set(metrics);
    }

    pub fn scope(&self) -> &AwsScope {
        &self.scope
    }

    pub fn packages(&self) -> &Arc<PackageCache> {
        &self.packages
    }

    /// How many functions exist.
    pub fn function_count(&self) -> usize {
        self.read().functions.len()
    }

    /// `GetAccountSettings`' `AccountUsage`: the function count, and the
    /// total size of every stored package (`$LATEST` and each version).
    pub fn account_usage(&self) -> (usize, u64) {
        let catalog = self.read();
        let total_code_size = catalog
            .functions
            .values()
            .map(|entry| {
                entry.record.latest.code_size_bytes
                    + entry.versions.values().map(|v| v.record.config.code_size_bytes).sum::<u64>()
            })
            .sum();
        (catalog.functions.len(), total_code_size)
    }

    // ---- invocation ------------------------------------------------------

    /// Resolves FunctionName (name, `name:qualifier`, full or partial ARN)
    /// and the optional `Qualifier` query parameter to the snapshot to run.
    ///
    /// For an alias with a routing configuration, `route_sample` (in
    /// `[0, 1)`; the caller draws it from its seeded RNG) picks the version:
    /// the additional versions take the first `weight` of the interval each,
    /// in version order, and the alias's primary version takes the rest.
    /// Reads the in-memory catalog only.
    pub fn resolve(
        &self,
        function_name: &str,
        qualifier: Option<&str>,
        route_sample: f64,
    ) -> Result<Resolved, LambdaError> {
        let target = self.target(function_name, qualifier, NameRule::Namespaced)?;
        let catalog = self.read();
        let not_found = || LambdaError::function_not_found(self.arn(&target.name, target.qualifier.as_deref()));
        let entry = catalog.functions.get(&target.name).ok_or_else(not_found)?;
        let arn = self.arn(&target.name, target.qualifier.as_deref());
        let snapshot = match target.qualifier.as_deref() {
            None | Some(LATEST) => entry.latest.clone().ok_or_else(|| missing_code(&arn))?,
            Some(q) if is_version_number(q) => version_snapshot(entry, q, &arn)?.ok_or_else(not_found)?,
            Some(alias_name) => {
                let alias = entry.aliases.get(alias_name).ok_or_else(not_found)?;
                let chosen = route(alias, route_sample);
                match chosen {
                    LATEST => entry.latest.clone().ok_or_else(|| missing_code(&arn))?,
                    number => version_snapshot(entry, number, &arn)?.ok_or_else(not_found)?,
                }
            }
        };
        Ok(Resolved { version: snapshot, invoked_arn: arn, qualifier: target.qualifier })
    }

    // ---- functions ---------------------------------------------------------

    /// CreateFunction.
    pub fn create_function(&self, request: CreateFunctionRequest) -> Result<FunctionConfiguration, LambdaError> {
        let target = names::parse_function_name(&request.function_name, NameRule::Short)?;
        if target.qualifier.is_some() {
            return Err(names::validation_error(vec![format!(
                "Value '{}' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: {}",
                request.function_name,
                r"(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_]+)"
            )]));
        }
        self.check_scope(&target)?;
        let name = target.name;
        if name.len() > 64 {
            return Err(names::validation_error(vec![format!(
                "Value '{name}' at 'functionName' failed to satisfy constraint: Member must have length less than or equal to 64"
            )]));
        }
        let role = request.role.ok_or_else(|| missing_member("role"))?;
        check_role(&role)?;
        match request.package_type.as_deref() {
            None | Some("Zip") => {}
            Some("Image") => {
                return Err(LambdaError::invalid_parameter(
                    "cloudlet runs Zip packages only; PackageType Image is not supported. \
                     hint: build a zip of the function and pass it as Code.ZipFile",
                ));
            }
            Some(other) => {
                return Err(invalid_member(other, "packageType", "Member must satisfy enum value set: [Image, Zip]"));
            }
        }
        let runtime = parse_runtime(request.runtime.as_deref().ok_or_else(|| missing_member("runtime"))?)?;
        let handler = request.handler.ok_or_else(|| missing_member("handler"))?;
        check_handler(&handler)?;
        let description = request.description.unwrap_or_default();
        check_description(&description)?;
        let timeout_s = check_timeout(request.timeout_s.unwrap_or(i64::from(DEFAULT_TIMEOUT_S)))?;
        let memory_mb = check_memory(request.memory_mb.unwrap_or(i64::from(DEFAULT_MEMORY_MB)))?;
        let architecture = check_architectures(request.architectures.as_deref())?.unwrap_or("x86_64").to_owned();
        let environment = request.environment.unwrap_or_default();
        check_environment(&environment)?;
        if self.read().functions.contains_key(&name) {
            return Err(already_exists(&name));
        }
        self.check_runtime_available(runtime)?;
        let package = self.store_code(&name, &request.code, runtime)?;

        let _writer = self.lock_writer();
        if self.read().functions.contains_key(&name) {
            return Err(already_exists(&name));
        }
        let now = self.now();
        let latest = VersionConfig {
            runtime,
            handler,
            memory_mb,
            timeout_s,
            environment,
            description,
            role,
            architecture,
            code_sha256: package.sha256_base64.clone(),
            code_sha256_hex: package.sha256_hex.clone(),
            code_size_bytes: package.code_size_bytes,
            revision_id: new_revision_id(),
            last_modified: now,
            dead_letter_target_arn: dead_letter_target(request.dead_letter_target_arn)?,
        };
        let mut record = FunctionRecord {
            name: name.clone(),
            latest,
            state: FunctionState::Active,
            last_version: 0,
            tags: request.tags,
            created_at: now,
        };
        let published = request.publish.then(|| {
            record.last_version = 1;
            VersionRecord {
                function_name: name.clone(),
                version: 1,
                config: VersionConfig { revision_id: new_revision_id(), ..record.latest.clone() },
                published_from_revision: record.latest.revision_id.clone(),
            }
        });
        self.store.put_function(&record, published.as_ref()).map_err(store_failed)?;

        let latest_snapshot = Some(Arc::new(snapshot(&name, LATEST, &record.latest, Some(package.dir.clone()))));
        let mut entry = Entry {
            record,
            latest: latest_snapshot,
            versions: BTreeMap::new(),
            aliases: BTreeMap::new(),
            reserved_concurrency: None,
            provisioned: BTreeMap::new(),
        };
        if let Some(version) = published {
            let snapshot = Arc::new(snapshot(&name, "1", &version.config, Some(package.dir.clone())));
            entry.versions.insert(1, Published { record: version, snapshot: Some(snapshot) });
        }
        // A function created with Publish answers with version 1 (under
        // the unqualified ARN, as AWS does).
        let view = match entry.versions.get(&1) {
            Some(version) => self.version_view(&name, version, false, Presentation::Creating),
            None => self.latest_view(&entry, false, Presentation::Creating),
        };
        self.write().functions.insert(name, entry);
        Ok(view)
    }

    /// GetFunction.
    pub fn get_function(&self, function_name: &str, qualifier: Option<&str>) -> Result<FunctionDetails, LambdaError> {
        let target = self.target(function_name, qualifier, NameRule::Namespaced)?;
        let catalog = self.read();
        let entry = self.entry(&catalog, &target.name, target.qualifier.as_deref())?;
        let configuration = self.qualified_view(entry, target.qualifier.as_deref())?;
        Ok(FunctionDetails {
            configuration,
            tags: entry.record.tags.clone(),
            reserved_concurrency: entry.reserved_concurrency,
        })
    }

    /// GetFunctionConfiguration.
    pub fn get_function_configuration(
        &self,
        function_name: &str,
        qualifier: Option<&str>,
    ) -> Result<FunctionConfiguration, LambdaError> {
        let target = self.target(function_name, qualifier, NameRule::Namespaced)?;
        let catalog = self.read();
        let entry = self.entry(&catalog, &target.name, target.qualifier.as_deref())?;
        self.qualified_view(entry, target.qualifier.as_deref())
    }

    /// ListFunctions: `$LATEST` of every function by name, or with
    /// `all_versions` every version too. The marker is the last function
    /// (and version) of the previous page.
    pub fn list_functions(
        &self,
        marker: Option<&str>,
        max_items: Option<i64>,
        all_versions: bool,
    ) -> Result<Page<FunctionConfiguration>, LambdaError> {
        let limit = check_max_items(max_items)?.min(DEFAULT_PAGE_SIZE);
        let catalog = self.read();
        // Keys must sort in listing order: names sort as the catalog does,
        // and with all versions a space (below every character a name may
        // hold) separates the name from `$LATEST` < `0000000001` < ...
        let mut rows = Vec::new();
        for entry in catalog.functions.values() {
            let name = &entry.record.name;
            if !all_versions {
                rows.push((name.clone(), entry, None));
                continue;
            }
            rows.push((format!("{name} {LATEST}"), entry, None));
            for (number, version) in &entry.versions {
                rows.push((format!("{name} {number:010}"), entry, Some(version)));
            }
        }
        let page = paginate(rows, marker, limit, |(key, _, _)| key.clone());
        Ok(Page {
            items: page
                .items
                .into_iter()
                .map(|(_, entry, version)| match version {
                    Some(version) => self.version_view(&entry.record.name, version, true, Presentation::Listed),
                    None => self.latest_view(entry, all_versions, Presentation::Listed),
                })
                .collect(),
            next_marker: page.next_marker,
        })
    }

    /// DeleteFunction: the whole function, or one published version.
    pub fn delete_function(&self, function_name: &str, qualifier: Option<&str>) -> Result<(), LambdaError> {
        let target = self.target(function_name, qualifier, NameRule::Short)?;
        let _writer = self.lock_writer();
        let entry = self.cloned_entry(&target.name, None)?;
        match target.qualifier.as_deref() {
            None => {
                self.store.delete_function(&target.name).map_err(store_failed)?;
                self.write().functions.remove(&target.name);
                Ok(())
            }
            Some(LATEST) => {
                Err(LambdaError::invalid_parameter("$LATEST version cannot be deleted without deleting the function."))
            }
            Some(q) if !is_version_number(q) => {
                Err(LambdaError::invalid_parameter("Deletion of aliases is not supported."))
            }
            Some(q) => {
                let number = q.parse::<u32>().ok().filter(|n| entry.versions.contains_key(n));
                let number = number.ok_or_else(|| LambdaError::function_not_found(self.arn(&target.name, Some(q))))?;
                let referencing: Vec<&str> = entry
                    .aliases
                    .values()
                    .filter(|alias| alias.function_version == q || alias.additional_version_weights.contains_key(q))
                    .map(|alias| alias.name.as_str())
                    .collect();
                if !referencing.is_empty() {
                    return Err(LambdaError::new(
                        ErrorType::ResourceConflictException,
                        format!(
                            "Unable to delete version because the following aliases reference it: [{}]",
                            referencing.join(", ")
                        ),
                    ));
                }
                self.store.delete_version(&target.name, number).map_err(store_failed)?;
                let mut catalog = self.write();
                if let Some(entry) = catalog.functions.get_mut(&target.name) {
                    entry.versions.remove(&number);
                    entry.provisioned.remove(q);
                }
                Ok(())
            }
        }
    }

    /// UpdateFunctionConfiguration: changes `$LATEST`.
    pub fn update_function_configuration(
        &self,
        request: UpdateConfigurationRequest,
    ) -> Result<FunctionConfiguration, LambdaError> {
        let target = self.unqualified_target(&request.function_name)?;
        let runtime = request.runtime.as_deref().map(parse_runtime).transpose()?;
        if let Some(role) = &request.role {
            check_role(role)?;
        }
        if let Some(handler) = &request.handler {
            check_handler(handler)?;
        }
        if let Some(description) = &request.description {
            check_description(description)?;
        }
        let timeout_s = request.timeout_s.map(check_timeout).transpose()?;
        let memory_mb = request.memory_mb.map(check_memory).transpose()?;
        if let Some(environment) = &request.environment {
            check_environment(environment)?;
        }

        let _writer = self.lock_writer();
        let mut entry = self.cloned_entry(&target.name, None)?;
        check_revision(&entry.record.latest.revision_id, request.revision_id.as_deref())?;
        let latest = &mut entry.record.latest;
        if let Some(runtime) = runtime {
            if runtime != latest.runtime {
                self.check_runtime_available(runtime)?;
                if runtime.family() == RuntimeFamily::Provided {
                    self.check_bootstrap(&latest.code_sha256_hex, runtime)?;
                }
            }
            latest.runtime = runtime;
        }
        if let Some(role) = request.role {
            latest.role = role;
        }
        if let Some(handler) = request.handler {
            latest.handler = handler;
        }
        if let Some(description) = request.description {
            latest.description = description;
        }
        if let Some(timeout_s) = timeout_s {
            latest.timeout_s = timeout_s;
        }
        if let Some(memory_mb) = memory_mb {
            latest.memory_mb = memory_mb;
        }
        if let Some(target) = request.dead_letter_target_arn {
            latest.dead_letter_target_arn = dead_letter_target(Some(target))?;
        }
        if let Some(environment) = request.environment {
            latest.environment = environment;
        }
        latest.revision_id = new_revision_id();
        latest.last_modified = self.now();
        self.store.put_function(&entry.record, None).map_err(store_failed)?;
        let code_dir = entry.latest.as_ref().map(|latest| latest.code.dir.clone());
        entry.latest = code_dir.map(|dir| Arc::new(snapshot(&target.name, LATEST, &entry.record.latest, Some(dir))));
        let view = self.latest_view(&entry, false, Presentation::Updating);
        self.write().functions.insert(target.name, entry);
        Ok(view)
    }

    /// UpdateFunctionCode: replaces `$LATEST`'s code, optionally publishing
    /// a version in the same write.
    pub fn update_function_code(&self, request: UpdateCodeRequest) -> Result<FunctionConfiguration, LambdaError> {
        let target = self.unqualified_target(&request.function_name)?;
        let architecture = check_architectures(request.architectures.as_deref())?.map(str::to_owned);
        let runtime = {
            let catalog = self.read();
            let entry = self.entry(&catalog, &target.name, None)?;
            check_revision(&entry.record.latest.revision_id, request.revision_id.as_deref())?;
            entry.record.latest.runtime
        };
        let package = self.store_code(&target.name, &request.code, runtime)?;

        let _writer = self.lock_writer();
        let mut entry = self.cloned_entry(&target.name, None)?;
        check_revision(&entry.record.latest.revision_id, request.revision_id.as_deref())?;
        let latest = &mut entry.record.latest;
        latest.code_sha256 = package.sha256_base64.clone();
        latest.code_sha256_hex = package.sha256_hex.clone();
        latest.code_size_bytes = package.code_size_bytes;
        if let Some(architecture) = architecture {
            latest.architecture = architecture;
        }
        latest.revision_id = new_revision_id();
        latest.last_modified = self.now();
        entry.latest = Some(Arc::new(snapshot(&target.name, LATEST, &entry.record.latest, Some(package.dir.clone()))));
        if request.dry_run {
            return Ok(self.latest_view(&entry, false, Presentation::Settled));
        }
        // New code is a new revision, so there is always a version to publish.
        let published = if request.publish { self.next_version(&mut entry) } else { None };
        self.store.put_function(&entry.record, published.as_ref().map(|p| &p.record)).map_err(store_failed)?;
        let view = match published {
            Some(published) => {
                let view = self.version_view(&target.name, &published, true, Presentation::Creating);
                entry.versions.insert(published.record.version, published);
                view
            }
            None => self.latest_view(&entry, false, Presentation::Updating),
        };
        self.write().functions.insert(target.name, entry);
        Ok(view)
    }

    // ---- versions ----------------------------------------------------------

    /// PublishVersion: snapshots `$LATEST` as the next version, or returns
    /// the last published version when nothing changed since it.
    pub fn publish_version(&self, request: PublishVersionRequest) -> Result<FunctionConfiguration, LambdaError> {
        let target = self.unqualified_target(&request.function_name)?;
        if let Some(description) = &request.description {
            check_description(description)?;
        }
        let _writer = self.lock_writer();
        let mut entry = self.cloned_entry(&target.name, None)?;
        check_revision(&entry.record.latest.revision_id, request.revision_id.as_deref())?;
        if let Some(expected) = request.code_sha256.as_deref().filter(|sha| !sha.is_empty()) {
            let current = &entry.record.latest.code_sha256;
            if expected != current {
                return Err(LambdaError::invalid_parameter(format!(
                    "CodeSHA256 ({expected}) is different from current CodeSHA256 in $LATEST ({current}). Please try again with the CodeSHA256 in $LATEST."
                )));
            }
        }
        let Some(mut published) = self.next_version(&mut entry) else {
            let last = entry.versions.values().next_back().ok_or_else(|| {
                LambdaError::service("no version to return although $LATEST is unchanged since the last publish")
            })?;
            return Ok(self.version_view(&target.name, last, true, Presentation::Settled));
        };
        if let Some(description) = request.description {
            published.record.config.description = description;
        }
        self.store.put_function(&entry.record, Some(&published.record)).map_err(store_failed)?;
        let view = self.version_view(&target.name, &published, true, Presentation::Creating);
        entry.versions.insert(published.record.version, published);
        self.write().functions.insert(target.name, entry);
        Ok(view)
    }

    /// ListVersionsByFunction: `$LATEST` first, then versions in order. The
    /// marker is the last version of the previous page.
    pub fn list_versions_by_function(
        &self,
        function_name: &str,
        marker: Option<&str>,
        max_items: Option<i64>,
    ) -> Result<Page<FunctionConfiguration>, LambdaError> {
        let target = self.unqualified_target_with(function_name, NameRule::Namespaced)?;
        let limit = check_max_items(max_items)?.min(DEFAULT_PAGE_SIZE);
        let catalog = self.read();
        let entry = self.entry(&catalog, &target.name, None)?;
        let mut rows = vec![(LATEST.to_owned(), None)];
        rows.extend(entry.versions.iter().map(|(number, version)| (number.to_string(), Some(version))));
        // Markers compare as positions, not strings: `$LATEST` < 1 < 2 < 10.
        let position = |key: &str| if key == LATEST { 0 } else { key.parse::<u64>().unwrap_or(u64::MAX) };
        let start = marker.map_or(0, |m| rows.iter().take_while(|(key, _)| position(key) <= position(m)).count());
        let rest = &rows[start..];
        let next_marker = (rest.len() > limit).then(|| rest[limit - 1].0.clone());
        let items = rest
            .iter()
            .take(limit)
            .map(|(_, version)| match version {
                Some(version) => self.version_view(&target.name, version, true, Presentation::Listed),
                None => self.latest_view(entry, true, Presentation::Listed),
            })
            .collect();
        Ok(Page { items, next_marker })
    }

    // ---- aliases -----------------------------------------------------------

    /// CreateAlias.
    pub fn create_alias(&self, request: CreateAliasRequest) -> Result<AliasConfiguration, LambdaError> {
        if !is_alias_name(&request.name) {
            return Err(invalid_alias_name(&request.name));
        }
        let target = self.unqualified_target(&request.function_name)?;
        let description = request.description.unwrap_or_default();
        check_description(&description)?;
        let _writer = self.lock_writer();
        let mut entry = self.cloned_entry(&target.name, None)?;
        self.check_version_exists(&entry, &request.function_version)?;
        if entry.aliases.contains_key(&request.name) {
            return Err(LambdaError::new(
                ErrorType::ResourceConflictException,
                format!("Alias already exists: {}", self.arn(&target.name, Some(&request.name))),
            ));
        }
        let weights = request.additional_version_weights.unwrap_or_default();
        self.check_routing(&entry, &request.function_version, &weights)?;
        let alias = AliasRecord {
            function_name: target.name.clone(),
            name: request.name,
            function_version: request.function_version,
            description,
            additional_version_weights: weights,
            revision_id: new_revision_id(),
        };
        self.store.put_alias(&alias).map_err(store_failed)?;
        let view = self.alias_view(&alias);
        entry.aliases.insert(alias.name.clone(), alias);
        self.write().functions.insert(target.name, entry);
        Ok(view)
    }

    /// GetAlias.
    pub fn get_alias(&self, function_name: &str, name: &str) -> Result<AliasConfiguration, LambdaError> {
        let target = self.unqualified_target(function_name)?;
        let catalog = self.read();
        let entry = self.entry(&catalog, &target.name, None)?;
        let alias = entry.aliases.get(name).ok_or_else(|| self.alias_not_found(&target.name, name))?;
        Ok(self.alias_view(alias))
    }

    /// UpdateAlias.
    pub fn update_alias(&self, request: UpdateAliasRequest) -> Result<AliasConfiguration, LambdaError> {
        let target = self.unqualified_target(&request.function_name)?;
        if let Some(description) = &request.description {
            check_description(description)?;
        }
        let _writer = self.lock_writer();
        let mut entry = self.cloned_entry(&target.name, None)?;
        let mut alias = entry
            .aliases
            .get(&request.name)
            .cloned()
            .ok_or_else(|| self.alias_not_found(&target.name, &request.name))?;
        check_revision(&alias.revision_id, request.revision_id.as_deref())?;
        if let Some(version) = request.function_version {
            self.check_version_exists(&entry, &version)?;
            alias.function_version = version;
        }
        if let Some(description) = request.description {
            alias.description = description;
        }
        if let Some(weights) = request.additional_version_weights {
            alias.additional_version_weights = weights;
        }
        self.check_routing(&entry, &alias.function_version, &alias.additional_version_weights)?;
        alias.revision_id = new_revision_id();
        self.store.put_alias(&alias).map_err(store_failed)?;
        let view = self.alias_view(&alias);
        entry.aliases.insert(alias.name.clone(), alias);
        self.write().functions.insert(target.name, entry);
        Ok(view)
    }

    /// DeleteAlias.
    pub fn delete_alias(&self, function_name: &str, name: &str) -> Result<(), LambdaError> {
        let target = self.unqualified_target(function_name)?;
        let _writer = self.lock_writer();
        let entry = self.cloned_entry(&target.name, None)?;
        if !entry.aliases.contains_key(name) {
            return Err(self.alias_not_found(&target.name, name));
        }
        self.store.delete_alias(&target.name, name).map_err(store_failed)?;
        let mut catalog = self.write();
        if let Some(entry) = catalog.functions.get_mut(&target.name) {
            entry.aliases.remove(name);
            entry.provisioned.remove(name);
        }
        Ok(())
    }

    /// ListAliases, by name, optionally only those pointing at
    /// `function_version`. The marker is the last alias of the previous page.
    pub fn list_aliases(
        &self,
        function_name: &str,
        function_version: Option<&str>,
        marker: Option<&str>,
        max_items: Option<i64>,
    ) -> Result<Page<AliasConfiguration>, LambdaError> {
        let target = self.unqualified_target(function_name)?;
        let limit = check_max_items(max_items)?;
        let catalog = self.read();
        let entry = self.entry(&catalog, &target.name, None)?;
        let rows: Vec<&AliasRecord> = entry
            .aliases
            .values()
            .filter(|alias| function_version.is_none_or(|v| alias.function_version == v))
            .collect();
        let page = paginate(rows, marker, limit, |alias| alias.name.clone());
        Ok(Page { items: page.items.into_iter().map(|a| self.alias_view(a)).collect(), next_marker: page.next_marker })
    }

    // ---- tags --------------------------------------------------------------

    /// ListTags of a function ARN.
    pub fn list_tags(&self, resource_arn: &str) -> Result<BTreeMap<String, String>, LambdaError> {
        let name = self.taggable_function(resource_arn)?;
        let catalog = self.read();
        Ok(self.entry(&catalog, &name, None)?.record.tags.clone())
    }

    /// TagResource: adds or replaces tags.
    pub fn tag_resource(&self, resource_arn: &str, tags: BTreeMap<String, String>) -> Result<(), LambdaError> {
        let name = self.taggable_function(resource_arn)?;
        self.change_tags(&name, |current| current.extend(tags))
    }

    /// UntagResource: removes tags by key.
    pub fn untag_resource(&self, resource_arn: &str, keys: &[String]) -> Result<(), LambdaError> {
        let name = self.taggable_function(resource_arn)?;
        self.change_tags(&name, |current| current.retain(|key, _| !keys.contains(key)))
    }

    // ---- concurrency settings (persistence only; the admission math lives
    // in `concurrency`) --------------------------------------------------------

    /// The function's reserved concurrency, if set.
    pub fn reserved_concurrency(&self, function_name: &str) -> Result<Option<u32>, LambdaError> {
        let target = self.unqualified_target(function_name)?;
        let catalog = self.read();
        Ok(self.entry(&catalog, &target.name, None)?.reserved_concurrency)
    }

    /// Every function's reserved concurrency, by function name.
    pub fn all_reserved_concurrency(&self) -> BTreeMap<String, u32> {
        let catalog = self.read();
        catalog
            .functions
            .iter()
            .filter_map(|(name, entry)| entry.reserved_concurrency.map(|n| (name.clone(), n)))
            .collect()
    }

    /// Stores (`Some`) or removes (`None`) the function's reserved
    /// concurrency. Limits against the account are the caller's to check.
    pub fn set_reserved_concurrency(&self, function_name: &str, reserved: Option<u32>) -> Result<(), LambdaError> {
        let target = self.unqualified_target(function_name)?;
        let _writer = self.lock_writer();
        self.cloned_entry(&target.name, None)?;
        self.store.put_reserved_concurrency(&target.name, reserved).map_err(store_failed)?;
        if let Some(entry) = self.write().functions.get_mut(&target.name) {
            entry.reserved_concurrency = reserved;
        }
        Ok(())
    }

    /// The provisioned-concurrency configurations of a function, by qualifier.
    pub fn provisioned_concurrency(
        &self,
        function_name: &str,
    ) -> Result<BTreeMap<String, ProvisionedConcurrencyRecord>, LambdaError> {
        let target = self.unqualified_target(function_name)?;
        let catalog = self.read();
        Ok(self.entry(&catalog, &target.name, None)?.provisioned.clone())
    }

    /// Every provisioned-concurrency configuration of every function.
    pub fn all_provisioned_concurrency(&self) -> Vec<ProvisionedConcurrencyRecord> {
        let catalog = self.read();
        catalog.functions.values().flat_map(|entry| entry.provisioned.values().cloned()).collect()
    }

    /// Stores a provisioned-concurrency configuration for a published
    /// version or an alias (never `$LATEST`). Limits are the caller's to check.
    pub fn put_provisioned_concurrency(
        &self,
        function_name: &str,
        qualifier: &str,
        requested: u32,
    ) -> Result<ProvisionedConcurrencyRecord, LambdaError> {
        let target = self.target(function_name, Some(qualifier), NameRule::Plain)?;
        let qualifier = target.qualifier.clone().unwrap_or_default();
        let _writer = self.lock_writer();
        let mut entry = self.cloned_entry(&target.name, None)?;
        if qualifier == LATEST {
            return Err(LambdaError::invalid_parameter(
                "Provisioned Concurrency Configs cannot be applied to unpublished function versions.",
            ));
        }
        if is_version_number(&qualifier) {
            self.check_version_exists(&entry, &qualifier)?;
        } else if !entry.aliases.contains_key(&qualifier) {
            return Err(self.alias_not_found(&target.name, &qualifier));
        }
        let record = ProvisionedConcurrencyRecord {
            function_name: target.name.clone(),
            qualifier: qualifier.clone(),
            requested,
            last_modified: self.now(),
        };
        self.store.put_provisioned_concurrency(&record).map_err(store_failed)?;
        entry.provisioned.insert(qualifier, record.clone());
        self.write().functions.insert(target.name, entry);
        Ok(record)
    }

    /// Deletes a provisioned-concurrency configuration; `Ok(false)` when
    /// there was none.
    pub fn delete_provisioned_concurrency(&self, function_name: &str, qualifier: &str) -> Result<bool, LambdaError> {
        let target = self.target(function_name, Some(qualifier), NameRule::Plain)?;
        let qualifier = target.qualifier.clone().unwrap_or_default();
        let _writer = self.lock_writer();
        let entry = self.cloned_entry(&target.name, None)?;
        if !entry.provisioned.contains_key(&qualifier) {
            return Ok(false);
        }
        self.store.delete_provisioned_concurrency(&target.name, &qualifier).map_err(store_failed)?;
        if let Some(entry) = self.write().functions.get_mut(&target.name) {
            entry.provisioned.remove(&qualifier);
        }
        Ok(true)
    }

    // ---- helpers -----------------------------------------------------------

    fn read(&self) -> RwLockReadGuard<'_, Catalog> {
        // Every catalog update is a single insert or remove after the store
        // write succeeded, so a panic elsewhere cannot leave it half-done.
        self.catalog.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Catalog> {
        self.catalog.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn lock_writer(&self) -> MutexGuard<'_, ()> {
        self.writer.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn now(&self) -> Timestamp {
        // Lambda reports LastModified in milliseconds; keep what is stored
        // equal to what is shown.
        Timestamp::from_unix_millis(self.clock.now().as_unix_millis())
    }

    fn arn(&self, name: &str, qualifier: Option<&str>) -> String {
        self.scope.lambda_function_arn(name, qualifier).to_string()
    }

    /// Parses FunctionName and merges the `Qualifier` parameter into it.
    fn target(
        &self,
        function_name: &str,
        qualifier: Option<&str>,
        rule: NameRule,
    ) -> Result<names::FunctionRef, LambdaError> {
        let mut target = names::parse_function_name(function_name, rule)?;
        if let Some(qualifier) = qualifier {
            check_qualifier(qualifier)?;
            if target.qualifier.as_deref().is_some_and(|q| q != qualifier) {
                return Err(LambdaError::invalid_parameter(
                    "The derived qualifier from the function name does not match the specified qualifier.",
                ));
            }
            target.qualifier = Some(qualifier.to_owned());
        }
        self.check_scope(&target)?;
        Ok(target)
    }

    /// A FunctionName for an operation on the function itself: a qualifier
    /// in it is ignored, as AWS ignores it for these operations.
    fn unqualified_target(&self, function_name: &str) -> Result<names::FunctionRef, LambdaError> {
        self.unqualified_target_with(function_name, NameRule::Plain)
    }

    fn unqualified_target_with(&self, function_name: &str, rule: NameRule) -> Result<names::FunctionRef, LambdaError> {
        let mut target = self.target(function_name, None, rule)?;
        target.qualifier = None;
        Ok(target)
    }

    /// An ARN for another region or account names no function here.
    fn check_scope(&self, target: &names::FunctionRef) -> Result<(), LambdaError> {
        if let Some(region) = target.region.as_deref().filter(|r| *r != self.scope.region.as_str()) {
            return Err(LambdaError::new(
                ErrorType::ResourceNotFoundException,
                format!("Functions from '{region}' are not reachable in this region ('{}')", self.scope.region),
            ));
        }
        if let Some(account) = target.account.as_deref().filter(|a| *a != self.scope.account_id.as_str()) {
            let mut arn = self.scope.lambda_function_arn(&target.name, target.qualifier.as_deref());
            account.clone_into(&mut arn.account_id);
            return Err(LambdaError::function_not_found(arn));
        }
        Ok(())
    }

    /// The function's entry; not found names the ARN as the caller
    /// qualified it.
    fn entry<'c>(&self, catalog: &'c Catalog, name: &str, qualifier: Option<&str>) -> Result<&'c Entry, LambdaError> {
        catalog.functions.get(name).ok_or_else(|| LambdaError::function_not_found(self.arn(name, qualifier)))
    }

    fn cloned_entry(&self, name: &str, qualifier: Option<&str>) -> Result<Entry, LambdaError> {
        let catalog = self.read();
        self.entry(&catalog, name, qualifier).cloned()
    }

    fn alias_not_found(&self, function_name: &str, alias: &str) -> LambdaError {
        LambdaError::new(
            ErrorType::ResourceNotFoundException,
            format!("Cannot find alias arn: {}", self.arn(function_name, Some(alias))),
        )
    }

    fn check_version_exists(&self, entry: &Entry, version: &str) -> Result<(), LambdaError> {
        let exists = version == LATEST
            || (is_version_number(version) && version.parse::<u32>().is_ok_and(|n| entry.versions.contains_key(&n)));
        if exists { Ok(()) } else { Err(LambdaError::function_not_found(self.arn(&entry.record.name, Some(version)))) }
    }

    fn check_routing(&self, entry: &Entry, primary: &str, weights: &BTreeMap<String, f64>) -> Result<(), LambdaError> {
        if weights.len() > 1 {
            return Err(LambdaError::invalid_parameter(
                "Number of items in AdditionalVersionWeights cannot be greater than 1",
            ));
        }
        for (version, weight) in weights {
            if !(0.0..1.0).contains(weight) {
                return Err(names::validation_error(vec![format!(
                    "Value '{{{version}={weight}}}' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: Map value must satisfy constraint: [Member must have value less than or equal to 1.0, Member must have value greater than or equal to 0.0, Member must not be null]"
                )]));
            }
            if version == primary {
                return Err(LambdaError::invalid_parameter(format!(
                    "Invalid function version {primary}. Function version {primary} is already included in routing configuration."
                )));
            }
            if primary == LATEST {
                return Err(LambdaError::invalid_parameter(
                    "$LATEST is not supported for an alias pointing to more than 1 version",
                ));
            }
            if !is_version_number(version) {
                return Err(names::validation_error(vec![format!(
                    "Value '{{{version}={weight}}}' at 'routingConfig.additionalVersionWeights' failed to satisfy constraint: Map keys must satisfy constraint: [Member must have length less than or equal to 1024, Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: [0-9]+, Member must not be null]"
                )]));
            }
            self.check_version_exists(entry, version)?;
        }
        Ok(())
    }

    fn check_runtime_available(&self, runtime: Runtime) -> Result<(), LambdaError> {
        self.probe.check(runtime).map_err(|missing| {
            let missing = missing.trim_end().trim_end_matches('.');
            LambdaError::invalid_parameter(format!(
                "The runtime {runtime} cannot run on this host: {missing}. hint: install it, or choose a runtime this host has"
            ))
        })
    }

    /// Unpacks `code` into the package cache; for `provided` runtimes the
    /// package must hold an executable `bootstrap`.
    /// Checks and unpacks `function`'s code into the package cache, timing
    /// it as the `code_unpack` cold-start phase (a cache hit costs only the
    /// checksum, and is recorded as such).
    fn store_code(&self, function: &str, code: &CodeSource, runtime: Runtime) -> Result<CodePackage, LambdaError> {
        let zip = match code {
            CodeSource::Zip(zip) => zip,
            CodeSource::Missing => {
                return Err(LambdaError::invalid_parameter(
                    "Code must have a ZipFile: cloudlet runs Zip packages uploaded with the request.",
                ));
            }
            CodeSource::S3 { bucket, key } => {
                return Err(LambdaError::invalid_parameter(format!(
                    "cloudlet cannot fetch code from S3 (S3Bucket `{bucket}`, S3Key `{key}`): it has no S3. \
                     hint: upload the zip itself as ZipFile (the aws CLI's --zip-file fileb://function.zip)"
                )));
            }
            CodeSource::Image(uri) => {
                return Err(LambdaError::invalid_parameter(format!(
                    "cloudlet runs Zip packages only; ImageUri `{uri}` is not supported. \
                     hint: upload a zip of the function as ZipFile"
                )));
            }
        };
        let began = self.clock.now();
        let package = self.packages.store_zip(zip).map_err(|err| {
            LambdaError::new(error_type_named(err.aws_error_type(), err.http_status()), err.aws_message())
        })?;
        if let Some(metrics) = self.metrics.get() {
            let unpack = self.clock.now().saturating_duration_since(began);
            crate::cold_start::observe_code_unpack(metrics, function, unpack);
        }
        if runtime.family() == RuntimeFamily::Provided {
            check_bootstrap_in(&package.dir, runtime)?;
        }
        Ok(package)
    }

    fn check_bootstrap(&self, sha256_hex: &str, runtime: Runtime) -> Result<(), LambdaError> {
        match self.packages.path_for(sha256_hex) {
            Some(dir) => check_bootstrap_in(&dir, runtime),
            None => Err(LambdaError::invalid_parameter(format!(
                "The runtime {runtime} needs the function's code to hold an executable `bootstrap`, but the code \
                 package is missing from the package cache. hint: upload the code again with UpdateFunctionCode"
            ))),
        }
    }

    /// A new published version of `entry`'s `$LATEST`, or `None` if
    /// `$LATEST` has not changed since the last published version. Bumps
    /// the entry's version counter.
    fn next_version(&self, entry: &mut Entry) -> Option<Published> {
        let latest = &entry.record.latest;
        let unchanged = entry
            .versions
            .values()
            .next_back()
            .is_some_and(|last| last.record.published_from_revision == latest.revision_id);
        if unchanged {
            return None;
        }
        let number = entry.record.last_version + 1;
        entry.record.last_version = number;
        let config = VersionConfig { revision_id: new_revision_id(), ..latest.clone() };
        let dir = entry.latest.as_ref().map(|latest| latest.code.dir.clone());
        let snapshot = dir.map(|dir| Arc::new(snapshot(&entry.record.name, &number.to_string(), &config, Some(dir))));
        Some(Published {
            record: VersionRecord {
                function_name: entry.record.name.clone(),
                version: number,
                config,
                published_from_revision: latest.revision_id.clone(),
            },
            snapshot,
        })
    }

    fn change_tags(&self, name: &str, change: impl FnOnce(&mut BTreeMap<String, String>)) -> Result<(), LambdaError> {
        let _writer = self.lock_writer();
        let mut entry = self.cloned_entry(name, None)?;
        change(&mut entry.record.tags);
        self.store.put_function(&entry.record, None).map_err(store_failed)?;
        self.write().functions.insert(name.to_owned(), entry);
        Ok(())
    }

    /// The function a tagging ARN names: `arn:...:function:NAME`.
    fn taggable_function(&self, resource_arn: &str) -> Result<String, LambdaError> {
        let target = names::parse_function_name(resource_arn, NameRule::Plain)
            .ok()
            .filter(|t| resource_arn.starts_with("arn:") && t.region.is_some() && t.account.is_some());
        let Some(target) = target else {
            return Err(names::invalid_member(
                resource_arn,
                "resource",
                r"Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*):lambda:[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:(function:[a-zA-Z0-9-_]+(:(\$LATEST|[a-zA-Z0-9-_]+))?|layer:([a-zA-Z0-9-_]+)|code-signing-config:csc-[a-z0-9]{17}|event-source-mapping:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})",
            ));
        };
        if target.qualifier.is_some() {
            return Err(LambdaError::invalid_parameter(
                "Tags are not supported on function versions or aliases: tag the function's unqualified ARN.",
            ));
        }
        self.check_scope(&target)?;
        Ok(target.name)
    }

    /// The view of the version a qualifier names (`$LATEST` when none).
    fn qualified_view(&self, entry: &Entry, qualifier: Option<&str>) -> Result<FunctionConfiguration, LambdaError> {
        let name = &entry.record.name;
        let not_found = || LambdaError::function_not_found(self.arn(name, qualifier));
        match qualifier {
            None => Ok(self.latest_view(entry, false, Presentation::Settled)),
            Some(LATEST) => Ok(self.latest_view(entry, true, Presentation::Settled)),
            Some(q) if is_version_number(q) => {
                let version = q.parse::<u32>().ok().and_then(|n| entry.versions.get(&n)).ok_or_else(not_found)?;
                Ok(self.version_view(name, version, true, Presentation::Settled))
            }
            Some(alias_name) => {
                let alias = entry.aliases.get(alias_name).ok_or_else(not_found)?;
                let mut view = if alias.function_version == LATEST {
                    self.latest_view(entry, true, Presentation::Settled)
                } else {
                    let version = alias
                        .function_version
                        .parse::<u32>()
                        .ok()
                        .and_then(|n| entry.versions.get(&n))
                        .ok_or_else(not_found)?;
                    self.version_view(name, version, true, Presentation::Settled)
                };
                view.function_arn = self.arn(name, Some(alias_name));
                Ok(view)
            }
        }
    }

    fn latest_view(&self, entry: &Entry, qualified: bool, presentation: Presentation) -> FunctionConfiguration {
        let name = &entry.record.name;
        let mut view = view(name, LATEST, &entry.record.latest, entry.record.state, presentation);
        view.function_arn = self.arn(name, qualified.then_some(LATEST));
        view.code_dir = entry.latest.as_ref().map(|latest| latest.code.dir.clone());
        view
    }

    fn version_view(
        &self,
        name: &str,
        version: &Published,
        qualified: bool,
        presentation: Presentation,
    ) -> FunctionConfiguration {
        let number = version.record.version.to_string();
        let mut view = view(name, &number, &version.record.config, FunctionState::Active, presentation);
        view.function_arn = self.arn(name, qualified.then_some(number.as_str()));
        view.code_dir = version.snapshot.as_ref().map(|snapshot| snapshot.code.dir.clone());
        view
    }

    fn alias_view(&self, alias: &AliasRecord) -> AliasConfiguration {
        AliasConfiguration { alias_arn: self.arn(&alias.function_name, Some(&alias.name)), alias: alias.clone() }
    }
}

/// The configuration view before the ARN is set.
fn view(
    name: &str,
    version: &str,
    config: &VersionConfig,
    state: FunctionState,
    presentation: Presentation,
) -> FunctionConfiguration {
    let settled_update = LastUpdate { status: "Successful", reason: None, reason_code: None };
    let (state, state_reason, state_reason_code, last_update) = match presentation {
        Presentation::Creating => (Some(FunctionState::Pending), Some(CREATING_REASON), Some(CREATING_CODE), None),
        Presentation::Updating => (
            Some(state),
            None,
            None,
            Some(LastUpdate { status: "InProgress", reason: Some(CREATING_REASON), reason_code: Some(CREATING_CODE) }),
        ),
        Presentation::Settled => (Some(state), None, None, Some(settled_update)),
        Presentation::Listed => (None, None, None, None),
    };
    FunctionConfiguration {
        function_name: name.to_owned(),
        function_arn: String::new(),
        version: version.to_owned(),
        config: config.clone(),
        state,
        state_reason,
        state_reason_code,
        last_update,
        code_dir: None,
    }
}

/// The snapshot an environment runs for one version.
fn snapshot(name: &str, version: &str, config: &VersionConfig, dir: Option<PathBuf>) -> FunctionVersion {
    FunctionVersion {
        function_name: name.to_owned(),
        version: version.to_owned(),
        runtime: config.runtime,
        handler: config.handler.clone(),
        memory_mb: config.memory_mb,
        timeout_s: config.timeout_s,
        environment: config.environment.clone(),
        code: CodeRef {
            sha256_base64: config.code_sha256.clone(),
            sha256_hex: config.code_sha256_hex.clone(),
            code_size_bytes: config.code_size_bytes,
            dir: dir.unwrap_or_default(),
        },
        revision_id: config.revision_id.clone(),
        dead_letter_target_arn: config.dead_letter_target_arn.clone(),
    }
}

fn build_catalog(stored: StoredFunctions, packages: &PackageCache) -> Catalog {
    let mut catalog = Catalog::default();
    for record in stored.functions {
        let dir = packages.path_for(&record.latest.code_sha256_hex);
        let latest = dir.map(|dir| Arc::new(snapshot(&record.name, LATEST, &record.latest, Some(dir))));
        let entry = Entry {
            record,
            latest,
            versions: BTreeMap::new(),
            aliases: BTreeMap::new(),
            reserved_concurrency: None,
            provisioned: BTreeMap::new(),
        };
        catalog.functions.insert(entry.record.name.clone(), entry);
    }
    for record in stored.versions {
        if let Some(entry) = catalog.functions.get_mut(&record.function_name) {
            let dir = packages.path_for(&record.config.code_sha256_hex);
            let snapshot = dir.map(|dir| {
                Arc::new(snapshot(&record.function_name, &record.version.to_string(), &record.config, Some(dir)))
            });
            entry.versions.insert(record.version, Published { record, snapshot });
        }
    }
    for alias in stored.aliases {
        if let Some(entry) = catalog.functions.get_mut(&alias.function_name) {
            entry.aliases.insert(alias.name.clone(), alias);
        }
    }
    for (name, reserved) in stored.reserved_concurrency {
        if let Some(entry) = catalog.functions.get_mut(&name) {
            entry.reserved_concurrency = Some(reserved);
        }
    }
    for config in stored.provisioned_concurrency {
        if let Some(entry) = catalog.functions.get_mut(&config.function_name) {
            entry.provisioned.insert(config.qualifier.clone(), config);
        }
    }
    catalog
}

/// The version an alias routes one invocation to.
fn route(alias: &AliasRecord, sample: f64) -> &str {
    let mut threshold = 0.0;
    for (version, weight) in &alias.additional_version_weights {
        threshold += weight;
        if sample < threshold {
            return version;
        }
    }
    &alias.function_version
}

/// The snapshot of published version `number` (`Ok(None)` if there is no
/// such version; an error if its code is missing).
fn version_snapshot(entry: &Entry, number: &str, arn: &str) -> Result<Option<Arc<FunctionVersion>>, LambdaError> {
    match number.parse::<u32>().ok().and_then(|n| entry.versions.get(&n)) {
        None => Ok(None),
        Some(version) => version.snapshot.clone().map(Some).ok_or_else(|| missing_code(arn)),
    }
}

fn missing_code(arn: &str) -> LambdaError {
    LambdaError::service(format!(
        "The code package of {arn} is missing from cloudlet's package cache. hint: upload it again with UpdateFunctionCode"
    ))
}

fn already_exists(name: &str) -> LambdaError {
    LambdaError::new(ErrorType::ResourceConflictException, format!("Function already exist: {name}"))
}

fn store_failed(err: FunctionStoreError) -> LambdaError {
    LambdaError::service(cloudlet_core::ErrorChain(&err).to_string())
}

fn new_revision_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A required member that is absent: `Value null at 'member' ...`.
pub(crate) fn missing_member(member: &str) -> LambdaError {
    names::validation_error(vec![format!(
        "Value null at '{member}' failed to satisfy constraint: Member must not be null"
    )])
}

fn check_role(role: &str) -> Result<(), LambdaError> {
    if is_role_arn(role) {
        Ok(())
    } else {
        Err(names::validation_error(vec![format!(
            "Value '{role}' at 'role' failed to satisfy constraint: Member must satisfy regular expression pattern: {ROLE_PATTERN}"
        )]))
    }
}

/// `arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+`, whole.
fn is_role_arn(role: &str) -> bool {
    let Some(rest) = role.strip_prefix("arn:") else { return false };
    let Some((partition, rest)) = rest.split_once(':') else { return false };
    let partition_ok = partition.is_empty()
        || (partition.starts_with("aws") && partition.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-'));
    let Some(rest) = rest.strip_prefix("iam::") else { return false };
    let Some((account, path)) = rest.split_once(':') else { return false };
    let Some(path) = path.strip_prefix("role") else { return false };
    let path = path.strip_prefix('/').unwrap_or(path);
    partition_ok
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && !path.is_empty()
        && path.bytes().all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-/".contains(&b))
}

fn check_handler(handler: &str) -> Result<(), LambdaError> {
    if handler.chars().count() > 128 {
        return Err(invalid_member(handler, "handler", "Member must have length less than or equal to 128"));
    }
    if handler.is_empty() || handler.chars().any(char::is_whitespace) {
        return Err(invalid_member(handler, "handler", r"Member must satisfy regular expression pattern: [^\s]+"));
    }
    Ok(())
}

/// `DeadLetterConfig.TargetArn`: an SQS queue ARN (cloudlet has no SNS);
/// empty means none.
fn dead_letter_target(target: Option<String>) -> Result<Option<String>, LambdaError> {
    match target {
        None => Ok(None),
        Some(arn) if arn.is_empty() => Ok(None),
        Some(arn) if arn.starts_with("arn:") && arn.split(':').nth(2) == Some("sqs") && arn.split(':').count() == 6 => {
            Ok(Some(arn))
        }
        Some(arn) => Err(LambdaError::invalid_parameter(format!(
            "The DeadLetterConfig TargetArn {arn} is not an SQS queue ARN; cloudlet delivers dead letters to SQS queues"
        ))),
    }
}

fn check_description(description: &str) -> Result<(), LambdaError> {
    if description.chars().count() > 256 {
        return Err(invalid_member(description, "description", "Member must have length less than or equal to 256"));
    }
    Ok(())
}

fn check_timeout(timeout_s: i64) -> Result<u32, LambdaError> {
    check_range(timeout_s, "timeout", *TIMEOUT_S_RANGE.start(), *TIMEOUT_S_RANGE.end())
}

fn check_memory(memory_mb: i64) -> Result<u32, LambdaError> {
    check_range(memory_mb, "memorySize", *MEMORY_MB_RANGE.start(), *MEMORY_MB_RANGE.end())
}

fn check_range(value: i64, member: &str, min: u32, max: u32) -> Result<u32, LambdaError> {
    if value < i64::from(min) {
        return Err(invalid_member(
            &value.to_string(),
            member,
            &format!("Member must have value greater than or equal to {min}"),
        ));
    }
    if value > i64::from(max) {
        return Err(invalid_member(
            &value.to_string(),
            member,
            &format!("Member must have value less than or equal to {max}"),
        ));
    }
    u32::try_from(value).map_err(|_| invalid_member(&value.to_string(), member, "Member must be a 32-bit integer"))
}

fn check_max_items(max_items: Option<i64>) -> Result<usize, LambdaError> {
    match max_items {
        None => Ok(DEFAULT_PAGE_SIZE),
        Some(n) => check_range(n, "maxItems", 1, 10_000).map(|n| n as usize),
    }
}

/// `Architectures`: one of `x86_64` or `arm64`; `None` when not given.
fn check_architectures(architectures: Option<&[String]>) -> Result<Option<&str>, LambdaError> {
    let Some(architectures) = architectures else { return Ok(None) };
    let listed = format!("[{}]", architectures.join(", "));
    if architectures.len() != 1 {
        return Err(invalid_member(&listed, "architectures", "Member must have length less than or equal to 1"));
    }
    match architectures[0].as_str() {
        architecture @ ("x86_64" | "arm64") => Ok(Some(architecture)),
        _ => Err(invalid_member(
            &listed,
            "architectures",
            "Member must satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64], Member must not be null]",
        )),
    }
}

/// Environment variables Lambda sets itself and refuses to take from users.
const RESERVED_ENVIRONMENT: &[&str] = &[
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
];

fn check_environment(environment: &BTreeMap<String, String>) -> Result<(), LambdaError> {
    for key in environment.keys() {
        let mut bytes = key.bytes();
        let valid = key.len() >= 2
            && bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
            && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !valid {
            return Err(names::validation_error(vec![format!(
                "Value '{key}' at 'environment.variables' failed to satisfy constraint: Map keys must satisfy constraint: [Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+]"
            )]));
        }
    }
    let reserved: Vec<&str> =
        environment.keys().map(String::as_str).filter(|key| RESERVED_ENVIRONMENT.contains(key)).collect();
    if !reserved.is_empty() {
        return Err(LambdaError::invalid_parameter(format!(
            "Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: {}",
            reserved.join(", ")
        )));
    }
    let measured = serde_json::to_string(environment).unwrap_or_default();
    if measured.len() > MAX_ENVIRONMENT_BYTES {
        return Err(LambdaError::invalid_parameter(format!(
            "Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: {measured}"
        )));
    }
    Ok(())
}

/// Runtimes AWS accepts today, in the order AWS lists them in its error.
const AWS_VALID_RUNTIMES: &str = "[nodejs20.x, python3.14, provided.al2023, python3.12, python3.13, nodejs24.x, nodejs22.x, java17, nodejs16.x, java25, dotnet8, python3.10, java11, python3.11, dotnet6, java21, nodejs18.x, provided.al2, ruby3.3, ruby3.4, java8.al2, ruby3.2, python3.8, python3.9]";

/// Runtimes AWS no longer accepts, with the one it recommends instead.
const AWS_RETIRED_RUNTIMES: &[(&str, &str)] = &[
    ("java8", "java21"),
    ("go1.x", "provided.al2023"),
    ("provided", "provided.al2023"),
    ("ruby2.7", "ruby3.2"),
    ("nodejs14.x", "nodejs20.x"),
    ("python3.7", "python3.12"),
    ("dotnetcore3.1", "dotnet6"),
    ("nodejs12.x", "nodejs18.x"),
];

/// A `Runtime` member: a runtime cloudlet runs, or AWS's error for one it
/// does not know, or cloudlet's for one AWS knows but cloudlet cannot run.
fn parse_runtime(value: &str) -> Result<Runtime, LambdaError> {
    if let Ok(runtime) = value.parse::<Runtime>() {
        return Ok(runtime);
    }
    if let Some((_, instead)) = AWS_RETIRED_RUNTIMES.iter().find(|(retired, _)| *retired == value) {
        return Err(LambdaError::invalid_parameter(format!(
            "The runtime parameter of {value} is no longer supported for creating or updating AWS Lambda functions. We recommend you use the new runtime ({instead}) while creating or updating functions."
        )));
    }
    let aws_knows = AWS_VALID_RUNTIMES.trim_matches(['[', ']']).split(", ").any(|known| known == value);
    if aws_knows {
        let supported: Vec<&str> = Runtime::ALL.iter().map(|r| r.as_str()).collect();
        return Err(LambdaError::invalid_parameter(format!(
            "The runtime {value} is not supported by cloudlet. hint: use one of {}",
            supported.join(", ")
        )));
    }
    Err(LambdaError::invalid_parameter(format!(
        "Value {value} at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: {AWS_VALID_RUNTIMES} or be a valid ARN"
    )))
}

fn check_revision(current: &str, expected: Option<&str>) -> Result<(), LambdaError> {
    match expected {
        Some(expected) if !expected.is_empty() && expected != current => {
            Err(LambdaError::new(ErrorType::PreconditionFailedException, REVISION_MISMATCH))
        }
        _ => Ok(()),
    }
}

/// A `provided` runtime runs the package's own `bootstrap`.
fn check_bootstrap_in(dir: &std::path::Path, runtime: Runtime) -> Result<(), LambdaError> {
    use std::os::unix::fs::PermissionsExt as _;
    let bootstrap = dir.join("bootstrap");
    match std::fs::metadata(&bootstrap) {
        Ok(meta) if meta.is_file() && meta.permissions().mode() & 0o111 != 0 => Ok(()),
        Ok(meta) if meta.is_file() => Err(LambdaError::invalid_parameter(format!(
            "The runtime {runtime} runs the file `bootstrap` at the root of the deployment package, but it is not executable. \
             hint: chmod +x bootstrap before zipping (zip keeps the mode)"
        ))),
        _ => Err(LambdaError::invalid_parameter(format!(
            "The runtime {runtime} runs an executable file named `bootstrap` at the root of the deployment package, \
             and this package has none. hint: for Rust, `cargo lambda build` names the binary bootstrap"
        ))),
    }
}

/// Maps an exception name (as the package cache reports it) to the type.
fn error_type_named(name: &str, http_status: u16) -> ErrorType {
    use ErrorType::*;
    [
        InvalidParameterValueException,
        InvalidRequestContentException,
        RequestTooLargeException,
        RequestEntityTooLargeException,
        UnsupportedMediaTypeException,
        ResourceNotFoundException,
        ResourceConflictException,
        ResourceNotReadyException,
        TooManyRequestsException,
        ServiceException,
        PreconditionFailedException,
        ValidationException,
    ]
    .into_iter()
    .find(|t| t.as_str() == name)
    .unwrap_or(if http_status >= 500 { ServiceException } else { InvalidParameterValueException })
}

/// Items after `marker` (by `key`), at most `limit` of them, and the marker
/// of the next page when more remain.
fn paginate<T>(rows: Vec<T>, marker: Option<&str>, limit: usize, key: impl Fn(&T) -> String) -> Page<T> {
    let mut rest: Vec<T> = match marker {
        Some(marker) => rows.into_iter().filter(|row| key(row).as_str() > marker).collect(),
        None => rows,
    };
    let next_marker = (rest.len() > limit).then(|| key(&rest[limit - 1]));
    rest.truncate(limit);
    Page { items: rest, next_marker }
}
