//! Event source mappings: SQS queues that Lambda polls, invoking a function
//! with batches of messages (`Create/Get/Update/Delete/ListEventSourceMappings`).
//!
//! [`EventSourceMappings`] owns the mappings: it validates requests as Lambda
//! does (batch size and window rules, `ScalingConfig`, the function's timeout
//! against the queue's visibility timeout, one mapping per queue and
//! function), writes them through [`EventSourceMappingStore`] before
//! answering, and runs one poller per enabled mapping ([`poller`]). How many
//! batches a mapping runs at once is decided by the pure
//! [`scaling::PollerScaling`].
//!
//! Messages are never lost on the way: a batch is deleted from the queue
//! only after the function succeeded with it (less the items it reported
//! failed, with `ReportBatchItemFailures`); everything else becomes visible
//! again after the queue's visibility timeout and, through the queue's
//! `RedrivePolicy`, ends in its dead-letter queue.

pub mod poller;
pub mod scaling;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use cloudlet_core::metrics::Registry;
use cloudlet_core::{SharedClock, Timestamp};
use cloudlet_queues::Queues;
use serde::{Deserialize, Serialize};

use crate::control::ControlPlane;
use crate::error::{ErrorType, LambdaError};
use crate::invoke::Invoker;
use crate::store::{EventSourceMappingStore, FunctionStoreError};

/// `BatchSize` when a request gives none (SQS).
pub const DEFAULT_BATCH_SIZE: u32 = 10;
/// The largest `BatchSize` of a standard queue.
pub const MAX_BATCH_SIZE: u32 = 10_000;
/// The largest `BatchSize` of a FIFO queue.
pub const MAX_FIFO_BATCH_SIZE: u32 = 10;
/// The largest `MaximumBatchingWindowInSeconds`.
pub const MAX_BATCHING_WINDOW_S: u32 = 300;
/// `ListEventSourceMappings` returns at most this many per page.
pub const MAX_LIST_ITEMS: usize = 100;
/// The one `FunctionResponseTypes` value.
pub const REPORT_BATCH_ITEM_FAILURES: &str = "ReportBatchItemFailures";

/// One event source mapping, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventSourceMapping {
    pub uuid: String,
    /// The SQS queue's ARN.
    pub event_source_arn: String,
    pub function_name: String,
    /// The version or alias the mapping invokes, when it names one.
    pub qualifier: Option<String>,
    pub batch_size: u32,
    pub maximum_batching_window_s: u32,
    pub enabled: bool,
    /// `ScalingConfig.MaximumConcurrency`.
    pub maximum_concurrency: Option<u32>,
    /// `FunctionResponseTypes: ["ReportBatchItemFailures"]`.
    pub report_batch_item_failures: bool,
    pub last_modified_ms: u64,
}

impl EventSourceMapping {
    pub fn last_modified(&self) -> Timestamp {
        Timestamp::from_unix_millis(self.last_modified_ms)
    }
}

/// A mapping as the API shows it: the record plus its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingView {
    pub mapping: EventSourceMapping,
    /// `FunctionArn`: qualified when the mapping names a version or alias.
    pub function_arn: String,
    /// `EventSourceMappingArn`.
    pub mapping_arn: String,
    /// `Creating`, `Enabled`, `Disabled`, `Enabling`, `Disabling`,
    /// `Updating` or `Deleting`.
    pub state: &'static str,
}

/// The members of a Create or Update request; `None` = not given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MappingRequest {
    pub event_source_arn: Option<String>,
    pub function_name: Option<String>,
    pub enabled: Option<bool>,
    pub batch_size: Option<i64>,
    pub maximum_batching_window_s: Option<i64>,
    /// `ScalingConfig`: `Some(None)` is an empty `ScalingConfig`, which
    /// removes the maximum.
    pub maximum_concurrency: Option<Option<i64>>,
    pub function_response_types: Option<Vec<String>>,
    /// Members given that do not apply to SQS sources (`StartingPosition`,
    /// `ParallelizationFactor`, ...), by their API names.
    pub unsupported: Vec<String>,
    /// `FilterCriteria` was given.
    pub filter_criteria: bool,
}

/// The mappings of a daemon and their pollers. Share it behind an `Arc`.
#[derive(Debug)]
pub struct EventSourceMappings {
    control: Arc<ControlPlane>,
    invoker: Arc<Invoker>,
    queues: Arc<Queues>,
    store: Arc<dyn EventSourceMappingStore>,
    clock: SharedClock,
    metrics: Arc<Registry>,
    /// Held for the whole of every write: validation, store write, poller
    /// restart.
    writes: Mutex<()>,
    mappings: Mutex<BTreeMap<String, Entry>>,
}

#[derive(Debug)]
struct Entry {
    mapping: EventSourceMapping,
    poller: Option<poller::PollerHandle>,
}

impl EventSourceMappings {
    /// Loads the stored mappings and starts a poller for every enabled one.
    pub fn open(
        control: Arc<ControlPlane>,
        invoker: Arc<Invoker>,
        queues: Arc<Queues>,
        store: Arc<dyn EventSourceMappingStore>,
        clock: SharedClock,
        metrics: Arc<Registry>,
    ) -> Result<Arc<EventSourceMappings>, FunctionStoreError> {
        let stored = store.event_source_mappings()?;
        let service = Arc::new(EventSourceMappings {
            control,
            invoker,
            queues,
            store,
            clock,
            metrics,
            writes: Mutex::new(()),
            mappings: Mutex::new(BTreeMap::new()),
        });
        for mapping in stored {
            let poller = service.start_poller(&mapping);
            lock(&service.mappings).insert(mapping.uuid.clone(), Entry { mapping, poller });
        }
        Ok(service)
    }

    /// `CreateEventSourceMapping`: 202 with state `Creating`.
    pub fn create(&self, request: &MappingRequest) -> Result<MappingView, LambdaError> {
        let _write = lock(&self.writes);
        check_members(request)?;
        let Some(source) = request.event_source_arn.as_deref() else {
            return Err(LambdaError::invalid_parameter("Unrecognized event source."));
        };
        let Some(function_name) = request.function_name.as_deref() else {
            return Err(crate::control::missing_member("functionName"));
        };
        let queue = self.queue(source)?;
        let (name, qualifier, timeout_s) = self.function(function_name)?;
        let mut mapping = EventSourceMapping {
            uuid: uuid::Uuid::new_v4().to_string(),
            event_source_arn: source.to_owned(),
            function_name: name,
            qualifier,
            batch_size: DEFAULT_BATCH_SIZE,
            maximum_batching_window_s: 0,
            enabled: true,
            maximum_concurrency: None,
            report_batch_item_failures: false,
            last_modified_ms: self.clock.now().as_unix_millis(),
        };
        apply(&mut mapping, request)?;
        check_against_queue(&mapping, &queue, timeout_s)?;
        self.check_unique(&mapping)?;
        self.store.put_event_source_mapping(&mapping).map_err(store_failed)?;
        let poller = self.start_poller(&mapping);
        let view = self.view(&mapping, "Creating");
        lock(&self.mappings).insert(mapping.uuid.clone(), Entry { mapping, poller });
        Ok(view)
    }

    /// `GetEventSourceMapping`.
    pub fn get(&self, uuid: &str) -> Result<MappingView, LambdaError> {
        let mappings = lock(&self.mappings);
        let entry = mappings.get(uuid).ok_or_else(not_found)?;
        Ok(self.view(&entry.mapping, settled_state(&entry.mapping)))
    }

    /// `UpdateEventSourceMapping`: 202 with state `Updating` (or
    /// `Enabling`/`Disabling` when only `Enabled` changed).
    pub fn update(&self, uuid: &str, request: &MappingRequest) -> Result<MappingView, LambdaError> {
        let _write = lock(&self.writes);
        check_members(request)?;
        let current = lock(&self.mappings).get(uuid).map(|entry| entry.mapping.clone()).ok_or_else(not_found)?;
        let mut mapping = current.clone();
        if let Some(function_name) = request.function_name.as_deref() {
            let (name, qualifier, _) = self.function(function_name)?;
            mapping.function_name = name;
            mapping.qualifier = qualifier;
        }
        apply(&mut mapping, request)?;
        let queue = self.queue(&mapping.event_source_arn)?;
        let timeout_s = self.timeout_of(&mapping)?;
        check_against_queue(&mapping, &queue, timeout_s)?;
        self.check_unique(&mapping)?;
        mapping.last_modified_ms = self.clock.now().as_unix_millis();
        self.store.put_event_source_mapping(&mapping).map_err(store_failed)?;
        let only_enabled_changed = EventSourceMapping { enabled: current.enabled, ..mapping.clone() }
            == EventSourceMapping { last_modified_ms: mapping.last_modified_ms, ..current.clone() };
        let state = match (only_enabled_changed, current.enabled, mapping.enabled) {
            (true, false, true) => "Enabling",
            (true, true, false) => "Disabling",
            _ => "Updating",
        };
        let old = lock(&self.mappings).remove(uuid);
        if let Some(poller) = old.and_then(|entry| entry.poller) {
            poller.stop();
            // The old gauge goes to 0 unless the new poller takes it over.
            if !mapping.enabled || mapping.function_name != current.function_name {
                poller::export_concurrency(&self.metrics, &current, 0);
            }
        }
        let poller = self.start_poller(&mapping);
        let view = self.view(&mapping, state);
        lock(&self.mappings).insert(mapping.uuid.clone(), Entry { mapping, poller });
        Ok(view)
    }

    /// `DeleteEventSourceMapping`: 202 with state `Deleting`; polling stops
    /// at once (messages already received become visible again after their
    /// visibility timeout).
    pub fn delete(&self, uuid: &str) -> Result<MappingView, LambdaError> {
        let _write = lock(&self.writes);
        let mapping = lock(&self.mappings).get(uuid).map(|entry| entry.mapping.clone()).ok_or_else(not_found)?;
        self.store.delete_event_source_mapping(uuid).map_err(store_failed)?;
        if let Some(poller) = lock(&self.mappings).remove(uuid).and_then(|entry| entry.poller) {
            poller.stop();
            poller::export_concurrency(&self.metrics, &mapping, 0);
        }
        Ok(self.view(&mapping, "Deleting"))
    }

    /// `ListEventSourceMappings`, filtered by source and function, paged by
    /// `marker` (the last UUID of the previous page).
    pub fn list(
        &self,
        event_source_arn: Option<&str>,
        function_name: Option<&str>,
        marker: Option<&str>,
        max_items: Option<i64>,
    ) -> Result<(Vec<MappingView>, Option<String>), LambdaError> {
        let limit = match max_items {
            None => MAX_LIST_ITEMS,
            Some(n) if (1..=10_000).contains(&n) => usize::try_from(n).unwrap_or(MAX_LIST_ITEMS).min(MAX_LIST_ITEMS),
            Some(n) => {
                return Err(crate::control::names::validation_error(vec![format!(
                    "Value '{n}' at 'maxItems' failed to satisfy constraint: Member must have value {}",
                    if n < 1 { "greater than or equal to 1" } else { "less than or equal to 10000" }
                )]));
            }
        };
        let function = match function_name {
            Some(name) => {
                Some(crate::control::names::parse_function_name(name, crate::control::names::NameRule::Namespaced)?)
            }
            None => None,
        };
        let mappings = lock(&self.mappings);
        let mut matching = mappings
            .values()
            .filter(|entry| marker.is_none_or(|marker| entry.mapping.uuid.as_str() > marker))
            .filter(|entry| event_source_arn.is_none_or(|arn| entry.mapping.event_source_arn == arn))
            .filter(|entry| {
                function.as_ref().is_none_or(|f| {
                    f.name == entry.mapping.function_name
                        && (f.qualifier.is_none() || f.qualifier == entry.mapping.qualifier)
                })
            })
            .map(|entry| self.view(&entry.mapping, settled_state(&entry.mapping)));
        let page: Vec<MappingView> = matching.by_ref().take(limit).collect();
        let next = if matching.next().is_some() { page.last().map(|v| v.mapping.uuid.clone()) } else { None };
        Ok((page, next))
    }

    /// Stops every poller (daemon shutdown).
    pub fn shut_down(&self) {
        for entry in lock(&self.mappings).values_mut() {
            if let Some(poller) = entry.poller.take() {
                poller.stop();
            }
        }
    }

    /// One mapping per queue and function (as its ARN names it).
    fn check_unique(&self, mapping: &EventSourceMapping) -> Result<(), LambdaError> {
        let function_arn = self.function_arn(mapping);
        let mappings = lock(&self.mappings);
        let Some(existing) = mappings.values().find(|entry| {
            entry.mapping.uuid != mapping.uuid
                && entry.mapping.event_source_arn == mapping.event_source_arn
                && self.function_arn(&entry.mapping) == function_arn
        }) else {
            return Ok(());
        };
        Err(LambdaError::new(
            ErrorType::ResourceConflictException,
            format!(
                "An event source mapping with SQS arn (\" {} \") and function (\" {} \") already exists. \
                 Please update or delete the existing mapping with UUID {}",
                mapping.event_source_arn, mapping.function_name, existing.mapping.uuid
            ),
        ))
    }

    fn start_poller(&self, mapping: &EventSourceMapping) -> Option<poller::PollerHandle> {
        mapping.enabled.then(|| {
            poller::start(poller::PollerContext {
                mapping: mapping.clone(),
                invoker: Arc::clone(&self.invoker),
                queues: Arc::clone(&self.queues),
                clock: Arc::clone(&self.clock),
                metrics: Arc::clone(&self.metrics),
                region: self.control.scope().region.as_str().to_owned(),
            })
        })
    }

    fn view(&self, mapping: &EventSourceMapping, state: &'static str) -> MappingView {
        let scope = self.control.scope();
        MappingView {
            mapping: mapping.clone(),
            function_arn: self.function_arn(mapping),
            mapping_arn: scope.arn("lambda", format!("event-source-mapping:{}", mapping.uuid)).to_string(),
            state,
        }
    }

    fn function_arn(&self, mapping: &EventSourceMapping) -> String {
        self.control.scope().lambda_function_arn(&mapping.function_name, mapping.qualifier.as_deref()).to_string()
    }

    /// The function a request names: (name, qualifier, timeout in seconds).
    fn function(&self, function_name: &str) -> Result<(String, Option<String>, u32), LambdaError> {
        let resolved = self.control.resolve(function_name, None, 0.0).map_err(|err| match err.error_type {
            ErrorType::ResourceNotFoundException => LambdaError::invalid_parameter("Function does not exist"),
            _ => err,
        })?;
        Ok((resolved.version.function_name.clone(), resolved.qualifier.clone(), resolved.version.timeout_s))
    }

    fn timeout_of(&self, mapping: &EventSourceMapping) -> Result<u32, LambdaError> {
        let resolved = self.control.resolve(&mapping.function_name, mapping.qualifier.as_deref(), 0.0)?;
        Ok(resolved.version.timeout_s)
    }

    /// The queue's attributes; a missing queue fails as Lambda reports it.
    fn queue(&self, arn: &str) -> Result<BTreeMap<String, String>, LambdaError> {
        let parts: Vec<&str> = arn.split(':').collect();
        if parts.len() != 6 || parts[0] != "arn" || parts[2] != "sqs" {
            return Err(LambdaError::invalid_parameter(format!(
                "cloudlet maps SQS queues only; `{arn}` is not an SQS queue ARN (arn:aws:sqs:REGION:ACCOUNT:NAME)."
            )));
        }
        self.queues.queue_attributes_by_arn(arn).map_err(|_| {
            LambdaError::invalid_parameter(
                "Error occurred while ReceiveMessage. SQS Error Code: AWS.SimpleQueueService.NonExistentQueue. \
                 SQS Error Message: The specified queue does not exist for this wsdl version.",
            )
        })
    }
}

/// The state a mapping rests in.
fn settled_state(mapping: &EventSourceMapping) -> &'static str {
    if mapping.enabled { "Enabled" } else { "Disabled" }
}

/// Members that do not apply to SQS event sources.
fn check_members(request: &MappingRequest) -> Result<(), LambdaError> {
    if let Some(member) = request.unsupported.first() {
        return Err(LambdaError::invalid_parameter(format!(
            "Unsupported {member} parameter for given event source mapping type."
        )));
    }
    if request.filter_criteria {
        return Err(LambdaError::invalid_parameter(
            "FilterCriteria is not supported by cloudlet; every message of the queue is delivered.",
        ));
    }
    Ok(())
}

/// Applies a request's members to `mapping`, with the API model's range
/// checks.
fn apply(mapping: &mut EventSourceMapping, request: &MappingRequest) -> Result<(), LambdaError> {
    let mut errors = Vec::new();
    let mut range = |value: i64, member: &str, min: i64, max: i64| -> Option<u32> {
        if value < min {
            errors.push(format!(
                "Value '{value}' at '{member}' failed to satisfy constraint: Member must have value greater than or equal to {min}"
            ));
            None
        } else if value > max {
            errors.push(format!(
                "Value '{value}' at '{member}' failed to satisfy constraint: Member must have value less than or equal to {max}"
            ));
            None
        } else {
            u32::try_from(value).ok()
        }
    };
    if let Some(batch_size) = request.batch_size
        && let Some(value) = range(batch_size, "batchSize", 1, i64::from(MAX_BATCH_SIZE))
    {
        mapping.batch_size = value;
    }
    if let Some(window) = request.maximum_batching_window_s
        && let Some(value) = range(window, "maximumBatchingWindowInSeconds", 0, i64::from(MAX_BATCHING_WINDOW_S))
    {
        mapping.maximum_batching_window_s = value;
    }
    match request.maximum_concurrency {
        Some(Some(maximum)) => {
            if let Some(value) = range(maximum, "scalingConfig.maximumConcurrency", 2, 1000) {
                mapping.maximum_concurrency = Some(value);
            }
        }
        Some(None) => mapping.maximum_concurrency = None,
        None => {}
    }
    if let Some(types) = &request.function_response_types {
        if types.iter().any(|t| t != REPORT_BATCH_ITEM_FAILURES) {
            errors.push(format!(
                "Value '[{}]' at 'functionResponseTypes' failed to satisfy constraint: Member must satisfy constraint: \
                 [Member must satisfy enum value set: [{REPORT_BATCH_ITEM_FAILURES}]]",
                types.join(", ")
            ));
        } else {
            mapping.report_batch_item_failures = !types.is_empty();
        }
    }
    if let Some(enabled) = request.enabled {
        mapping.enabled = enabled;
    }
    if errors.is_empty() { Ok(()) } else { Err(crate::control::names::validation_error(errors)) }
}

/// The rules that join a mapping to its queue and function.
fn check_against_queue(
    mapping: &EventSourceMapping,
    queue: &BTreeMap<String, String>,
    function_timeout_s: u32,
) -> Result<(), LambdaError> {
    let fifo = queue.get("FifoQueue").is_some_and(|v| v == "true");
    if fifo && mapping.batch_size > MAX_FIFO_BATCH_SIZE {
        return Err(LambdaError::invalid_parameter("Batch size must not exceed 10 for FIFO queues"));
    }
    if fifo && mapping.maximum_batching_window_s > 0 {
        return Err(LambdaError::invalid_parameter("Batching window is not supported for FIFO queues"));
    }
    if mapping.batch_size > 10 && mapping.maximum_batching_window_s == 0 {
        return Err(LambdaError::invalid_parameter(
            "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10",
        ));
    }
    let visibility: u32 = queue.get("VisibilityTimeout").and_then(|v| v.parse().ok()).unwrap_or(30);
    if function_timeout_s > visibility {
        return Err(LambdaError::invalid_parameter(format!(
            "Queue visibility timeout: {visibility} seconds is less than Function timeout: {function_timeout_s} seconds"
        )));
    }
    Ok(())
}

fn not_found() -> LambdaError {
    LambdaError::new(ErrorType::ResourceNotFoundException, "The resource you requested does not exist.")
}

fn store_failed(err: FunctionStoreError) -> LambdaError {
    LambdaError::service(cloudlet_core::ErrorChain(&err).to_string())
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests;
