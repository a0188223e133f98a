//! The poller of one SQS event source mapping: batch slots that long-poll
//! the queue, invoke the function synchronously with Lambda's SQS event, and
//! delete what the function processed.
//!
//! A supervisor keeps as many slots running as [`PollerScaling`] targets.
//! Each slot loops: gather a batch (one long poll, then more polls until
//! `BatchSize`, the batching window or the 6 MB payload limit), invoke, and
//! settle the batch:
//!
//! - success: every message is deleted — with `ReportBatchItemFailures`,
//!   every message but the ones the response names (an invalid response
//!   fails the whole batch, as Lambda's rules say);
//! - function error: nothing is deleted; the messages become visible again
//!   after the queue's visibility timeout (and reach the queue's DLQ through
//!   its `RedrivePolicy`), and the mapping backs off;
//! - throttle: the invoke is retried with back-off while the messages are
//!   still invisible, then left to return to the queue — never lost.
//!
//! Stopping a poller (disable, update, delete, shutdown) stops new polls at
//! once and lets batches already invoking finish.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use base64::Engine as _;
use cloudlet_core::SharedClock;
use cloudlet_core::metrics::Registry;
use cloudlet_queues::{Queues, ReceiveRequest, ReceivedMessage, SqsError};
use serde_json::{Map, Value, json};
use tokio::sync::{Notify, watch};

use super::EventSourceMapping;
use super::scaling::PollerScaling;
use crate::error::ErrorType;
use crate::invoke::{InvocationType, InvokeInput, Invoker, SYNC_PAYLOAD_LIMIT_BYTES};

/// SQS returns at most this many messages per ReceiveMessage.
const RECEIVE_MAX: usize = 10;
/// The longest long poll SQS allows, seconds.
const LONG_POLL_S: u32 = 20;
/// A throttled batch is retried after this long at first ...
const FIRST_RETRY: Duration = Duration::from_secs(1);
/// ... doubling up to this.
const MAX_RETRY: Duration = Duration::from_secs(60);
/// After a poll fails (the queue was deleted, the store failed), the slot
/// waits this long before polling again.
const POLL_ERROR_PAUSE: Duration = Duration::from_secs(1);

/// What a poller needs.
#[derive(Debug, Clone)]
pub struct PollerContext {
    pub mapping: EventSourceMapping,
    pub invoker: Arc<Invoker>,
    pub queues: Arc<Queues>,
    pub clock: SharedClock,
    pub metrics: Arc<Registry>,
    /// `awsRegion` of the records.
    pub region: String,
}

/// A running poller. Dropping it does not stop it; [`PollerHandle::stop`]
/// does.
#[derive(Debug)]
pub struct PollerHandle {
    stop: watch::Sender<bool>,
}

impl PollerHandle {
    /// Stops polling; batches already invoking finish.
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }
}

#[derive(Debug)]
struct Shared {
    ctx: PollerContext,
    scaling: Mutex<PollerScaling>,
    /// Slots running (polling or processing) ...
    running: AtomicU32,
    /// ... and slots processing a batch.
    busy: AtomicU32,
    /// Wakes the supervisor when the target or the slot count changed.
    changed: Notify,
}

/// Starts the poller of `ctx.mapping`.
pub fn start(ctx: PollerContext) -> PollerHandle {
    let now = ctx.clock.now();
    let scaling = PollerScaling::new(ctx.mapping.maximum_concurrency, now);
    let shared = Arc::new(Shared {
        ctx,
        scaling: Mutex::new(scaling),
        running: AtomicU32::new(0),
        busy: AtomicU32::new(0),
        changed: Notify::new(),
    });
    let (stop, stopped) = watch::channel(false);
    tokio::spawn(supervise(shared, stopped));
    PollerHandle { stop }
}

/// Keeps `target` slots running until stopped.
async fn supervise(shared: Arc<Shared>, mut stopped: watch::Receiver<bool>) {
    loop {
        if *stopped.borrow() {
            break;
        }
        let target = shared.scaling().target();
        while shared.running.load(Ordering::SeqCst) < target {
            shared.running.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(slot(Arc::clone(&shared), stopped.clone()));
        }
        shared.export_target();
        tokio::select! {
            changed = stopped.changed() => {
                if changed.is_err() {
                    break;
                }
            }
            () = shared.changed.notified() => {}
        }
    }
}

/// One batch slot.
async fn slot(shared: Arc<Shared>, mut stopped: watch::Receiver<bool>) {
    // A queue that keeps failing (deleted, say) is reported once, then
    // quietly, until a poll works again.
    let mut failing = false;
    loop {
        if *stopped.borrow() {
            break;
        }
        let target = shared.scaling().target();
        if shared.running.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |r| (r > target).then(|| r - 1)).is_ok() {
            shared.changed.notify_one();
            return;
        }
        // `biased`: a stop that is already signalled wins over a poll that
        // could still take messages.
        let batch = tokio::select! {
            biased;
            _ = stopped.changed() => break,
            batch = shared.gather() => batch,
        };
        match batch {
            Err(err) => {
                if failing {
                    tracing::debug!(mapping = shared.ctx.mapping.uuid, error = %err, "event source mapping cannot poll its queue");
                } else {
                    tracing::warn!(mapping = shared.ctx.mapping.uuid, error = %err, "event source mapping cannot poll its queue");
                }
                failing = true;
                shared.count_batch("poll_error");
                tokio::select! {
                    () = shared.ctx.clock.sleep(POLL_ERROR_PAUSE) => {}
                    _ = stopped.changed() => break,
                }
            }
            Ok(batch) if batch.is_empty() => {
                failing = false;
                shared.scaling().found_nothing();
                shared.changed.notify_one();
            }
            Ok(batch) if *stopped.borrow() => {
                // Stopped while the poll was returning: give the messages
                // back rather than process them for a disabled mapping.
                shared.release(batch).await;
                break;
            }
            Ok(batch) => {
                failing = false;
                let busy = shared.busy.fetch_add(1, Ordering::SeqCst) + 1;
                let available = shared.available_concurrency();
                let now = shared.ctx.clock.now();
                if shared.scaling().found_messages(busy, available, now) {
                    shared.changed.notify_one();
                }
                shared.process(batch, &mut stopped).await;
                shared.busy.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }
    shared.running.fetch_sub(1, Ordering::SeqCst);
    shared.changed.notify_one();
}

/// How a batch's invocation ended, for the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Settled {
    Success,
    Partial,
    Failed,
    Throttled,
    Error,
}

impl Settled {
    fn as_str(self) -> &'static str {
        match self {
            Settled::Success => "success",
            Settled::Partial => "partial",
            Settled::Failed => "failed",
            Settled::Throttled => "throttled",
            Settled::Error => "error",
        }
    }
}

impl Shared {
    fn scaling(&self) -> MutexGuard<'_, PollerScaling> {
        self.scaling.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// What the function may run at most: its reserved concurrency, else the
    /// account's unreserved pool.
    fn available_concurrency(&self) -> u32 {
        let function = &self.ctx.mapping.function_name;
        self.ctx
            .invoker
            .with_core(|core| core.reserved_concurrency(function).unwrap_or_else(|| core.unreserved_concurrency()))
    }

    /// One batch: a long poll, then (with a batching window) more polls
    /// until the batch is full, the window has passed, or the payload limit
    /// is near. Messages that would not fit the payload are made visible
    /// again at once.
    async fn gather(&self) -> Result<Vec<ReceivedMessage>, SqsError> {
        let mapping = &self.ctx.mapping;
        let want = mapping.batch_size as usize;
        let mut batch = self.receive(want.min(RECEIVE_MAX), LONG_POLL_S).await?;
        if batch.is_empty() {
            return Ok(batch);
        }
        if mapping.maximum_batching_window_s == 0 {
            // Ten messages of up to 1 MiB each can exceed 6 MB.
            return Ok(self.fit_payload(batch).await);
        }
        let deadline = self.ctx.clock.now() + Duration::from_secs(u64::from(mapping.maximum_batching_window_s));
        let mut bytes: usize = batch.iter().map(record_size_estimate).sum();
        while batch.len() < want && bytes < SYNC_PAYLOAD_LIMIT_BYTES {
            let remaining = deadline.saturating_duration_since(self.ctx.clock.now());
            if remaining.is_zero() {
                break;
            }
            let wait = u32::try_from(remaining.as_secs()).unwrap_or(LONG_POLL_S).clamp(1, LONG_POLL_S);
            let more = self.receive((want - batch.len()).min(RECEIVE_MAX), wait).await?;
            bytes += more.iter().map(record_size_estimate).sum::<usize>();
            batch.extend(more);
        }
        Ok(self.fit_payload(batch).await)
    }

    async fn receive(&self, max: usize, wait_s: u32) -> Result<Vec<ReceivedMessage>, SqsError> {
        let request = ReceiveRequest {
            max_number_of_messages: Some(u32::try_from(max).unwrap_or(1)),
            visibility_timeout_s: None,
            wait_time_s: Some(wait_s),
            system_attribute_names: vec!["All".to_owned()],
            message_attribute_names: vec!["All".to_owned()],
            receive_request_attempt_id: None,
        };
        self.ctx.queues.receive_by_arn(&self.ctx.mapping.event_source_arn, request).await
    }

    /// Keeps the longest prefix of `batch` whose event fits a synchronous
    /// invocation; the rest goes back to the queue.
    async fn fit_payload(&self, mut batch: Vec<ReceivedMessage>) -> Vec<ReceivedMessage> {
        let overhead = r#"{"Records":[]}"#.len();
        let mut total = overhead;
        let mut keep = 0;
        for message in &batch {
            let size = self.record(message).to_string().len() + 1;
            if keep > 0 && total + size > SYNC_PAYLOAD_LIMIT_BYTES {
                break;
            }
            total += size;
            keep += 1;
        }
        self.release(batch.split_off(keep)).await;
        batch
    }

    /// Makes received messages visible again at once.
    async fn release(&self, messages: Vec<ReceivedMessage>) {
        let arn = &self.ctx.mapping.event_source_arn;
        for message in messages {
            if let Err(err) = self.ctx.queues.change_visibility_by_arn(arn, &message.receipt_handle, 0).await {
                tracing::debug!(error = %err, "a message not processed returns after its visibility timeout");
            }
        }
    }

    /// Invokes the function with `batch` and settles it.
    async fn process(&self, batch: Vec<ReceivedMessage>, stopped: &mut watch::Receiver<bool>) {
        let mapping = &self.ctx.mapping;
        let payload = sqs_event(&batch, |m| self.record(m)).to_string().into_bytes();
        let received_at = self.ctx.clock.now();
        let mut retry = FIRST_RETRY;
        let settled = loop {
            let input = InvokeInput {
                function_name: mapping.function_name.clone(),
                qualifier: mapping.qualifier.clone(),
                invocation_type: InvocationType::RequestResponse,
                tail_log: false,
                payload: payload.clone(),
                client_context: None,
            };
            match self.ctx.invoker.invoke(input).await {
                Ok(output) if output.function_error.is_none() => {
                    let failed = if mapping.report_batch_item_failures {
                        batch_item_failures(&output.payload, &batch)
                    } else {
                        Some(HashSet::new())
                    };
                    let failed = failed.unwrap_or_else(|| batch.iter().map(|m| m.message_id.clone()).collect());
                    let done: Vec<String> = batch
                        .iter()
                        .filter(|m| !failed.contains(&m.message_id))
                        .map(|m| m.receipt_handle.clone())
                        .collect();
                    self.delete(&done).await;
                    self.count_messages("failed", failed.len());
                    break match (done.len(), failed.len()) {
                        (_, 0) => Settled::Success,
                        (0, _) => Settled::Failed,
                        _ => Settled::Partial,
                    };
                }
                Ok(_) => {
                    self.count_messages("failed", batch.len());
                    if !mapping.report_batch_item_failures {
                        self.scaling().back_off();
                        self.changed.notify_one();
                    }
                    break Settled::Failed;
                }
                Err(err) if err.error_type == ErrorType::TooManyRequestsException => {
                    self.scaling().back_off();
                    self.changed.notify_one();
                    let visible_again = received_at + Duration::from_secs(u64::from(self.visibility_timeout_s()));
                    let next = self.ctx.clock.now() + retry;
                    if next >= visible_again {
                        self.count_messages("throttled", batch.len());
                        break Settled::Throttled;
                    }
                    tokio::select! {
                        () = self.ctx.clock.sleep_until(next) => {}
                        _ = stopped.changed() => break Settled::Throttled,
                    }
                    retry = (retry * 2).min(MAX_RETRY);
                }
                Err(err) => {
                    tracing::warn!(mapping = mapping.uuid, error = %err, "event source mapping cannot invoke its function");
                    self.count_messages("failed", batch.len());
                    self.scaling().back_off();
                    self.changed.notify_one();
                    break Settled::Error;
                }
            }
        };
        self.count_batch(settled.as_str());
    }

    async fn delete(&self, receipt_handles: &[String]) {
        if receipt_handles.is_empty() {
            return;
        }
        match self.ctx.queues.delete_by_arn(&self.ctx.mapping.event_source_arn, receipt_handles).await {
            Ok(results) => {
                let deleted = results.iter().filter(|r| r.is_ok()).count();
                self.count_messages("deleted", deleted);
                if deleted < results.len() {
                    tracing::warn!(
                        mapping = self.ctx.mapping.uuid,
                        failed = results.len() - deleted,
                        "processed messages could not be deleted; they will be delivered again"
                    );
                }
            }
            Err(err) => {
                tracing::warn!(mapping = self.ctx.mapping.uuid, error = %err, "processed messages could not be deleted");
            }
        }
    }

    /// The queue's visibility timeout now (30 s if it cannot be read).
    fn visibility_timeout_s(&self) -> u32 {
        let queues = &self.ctx.queues;
        queues
            .queue_name_for_arn(&self.ctx.mapping.event_source_arn)
            .and_then(|name| queues.get_queue_attributes(&name, &["VisibilityTimeout".to_owned()]))
            .ok()
            .and_then(|attributes| attributes.get("VisibilityTimeout").and_then(|v| v.parse().ok()))
            .unwrap_or(30)
    }

    fn record(&self, message: &ReceivedMessage) -> Value {
        sqs_record(message, &self.ctx.mapping.event_source_arn, &self.ctx.region)
    }

    fn export_target(&self) {
        export_concurrency(&self.ctx.metrics, &self.ctx.mapping, self.scaling().target());
    }

    fn count_batch(&self, outcome: &str) {
        self.ctx
            .metrics
            .counter(
                "cloudlet_lambda_event_source_mapping_batches_total",
                "Batches an event source mapping invoked its function with, by outcome.",
                &[("function", &self.ctx.mapping.function_name), ("outcome", outcome)],
            )
            .inc();
    }

    fn count_messages(&self, result: &str, n: usize) {
        if n == 0 {
            return;
        }
        self.ctx
            .metrics
            .counter(
                "cloudlet_lambda_event_source_mapping_messages_total",
                "Messages an event source mapping delivered, by result (deleted, failed, throttled).",
                &[("function", &self.ctx.mapping.function_name), ("result", result)],
            )
            .inc_by(n as u64);
    }
}

/// The concurrent batches `mapping`'s poller aims for, on its gauge (0 for
/// a mapping that was disabled or deleted).
pub(super) fn export_concurrency(metrics: &Registry, mapping: &EventSourceMapping, target: u32) {
    metrics
        .gauge(
            "cloudlet_lambda_event_source_mapping_concurrency",
            "Concurrent batches an event source mapping's poller aims for.",
            &[("uuid", &mapping.uuid), ("function", &mapping.function_name)],
        )
        .set(i64::from(target));
}

/// A rough size of one record, to stop gathering near the payload limit.
fn record_size_estimate(message: &ReceivedMessage) -> usize {
    512 + message.body.len()
        + message
            .message_attributes
            .iter()
            .map(|(name, value)| {
                name.len()
                    + value.string_value.as_ref().map_or(0, String::len)
                    + value.binary_value.as_ref().map_or(0, |b| b.len() * 4 / 3)
            })
            .sum::<usize>()
}

/// Lambda's SQS event: `{"Records": [...]}`.
pub fn sqs_event(batch: &[ReceivedMessage], record: impl Fn(&ReceivedMessage) -> Value) -> Value {
    json!({ "Records": batch.iter().map(record).collect::<Vec<_>>() })
}

/// One record of Lambda's SQS event, for `message` received from the queue
/// `queue_arn`: lower-camel keys, every system attribute the queue returned
/// (`ApproximateReceiveCount`, `SentTimestamp`, `SenderId`,
/// `ApproximateFirstReceiveTimestamp`, and on FIFO queues `SequenceNumber`,
/// `MessageGroupId`, `MessageDeduplicationId`), message attributes with
/// `stringValue`/`binaryValue` (base64) and empty list values, and
/// `md5OfMessageAttributes` only when there are message attributes.
pub fn sqs_record(message: &ReceivedMessage, queue_arn: &str, region: &str) -> Value {
    let attributes: Map<String, Value> =
        message.attributes.iter().map(|(name, value)| (name.clone(), Value::from(value.as_str()))).collect();
    let message_attributes: Map<String, Value> = message
        .message_attributes
        .iter()
        .map(|(name, value)| {
            let mut attribute = Map::new();
            if let Some(string) = &value.string_value {
                attribute.insert("stringValue".to_owned(), Value::from(string.as_str()));
            }
            if let Some(binary) = &value.binary_value {
                let encoded = base64::engine::general_purpose::STANDARD.encode(binary);
                attribute.insert("binaryValue".to_owned(), Value::from(encoded));
            }
            attribute.insert("stringListValues".to_owned(), json!([]));
            attribute.insert("binaryListValues".to_owned(), json!([]));
            attribute.insert("dataType".to_owned(), Value::from(value.data_type.as_str()));
            (name.clone(), Value::Object(attribute))
        })
        .collect();
    let mut record = Map::new();
    record.insert("messageId".to_owned(), Value::from(message.message_id.as_str()));
    record.insert("receiptHandle".to_owned(), Value::from(message.receipt_handle.as_str()));
    record.insert("body".to_owned(), Value::from(message.body.as_str()));
    record.insert("attributes".to_owned(), Value::Object(attributes));
    record.insert("messageAttributes".to_owned(), Value::Object(message_attributes));
    record.insert("md5OfBody".to_owned(), Value::from(message.md5_of_body.as_str()));
    if let Some(md5) = message.md5_of_message_attributes.as_deref().filter(|_| !message.message_attributes.is_empty()) {
        record.insert("md5OfMessageAttributes".to_owned(), Value::from(md5));
    }
    record.insert("eventSource".to_owned(), Value::from("aws:sqs"));
    record.insert("eventSourceARN".to_owned(), Value::from(queue_arn));
    record.insert("awsRegion".to_owned(), Value::from(region));
    Value::Object(record)
}

/// The message ids a `ReportBatchItemFailures` response names as failed, or
/// `None` when the response fails the whole batch.
///
/// Lambda's rules: an empty or `null` response, or a `null`/missing/empty
/// `batchItemFailures`, is complete success. Invalid JSON, a response that is
/// not an object, a `batchItemFailures` that is not a list, or an item
/// whose `itemIdentifier` is missing, `null`, empty or not a message of the
/// batch fails the whole batch.
pub fn batch_item_failures(payload: &[u8], batch: &[ReceivedMessage]) -> Option<HashSet<String>> {
    if payload.iter().all(u8::is_ascii_whitespace) {
        return Some(HashSet::new());
    }
    let response: Value = serde_json::from_slice(payload).ok()?;
    let object = match response {
        Value::Null => return Some(HashSet::new()),
        Value::Object(object) => object,
        _ => return None,
    };
    let items = match object.get("batchItemFailures") {
        None | Some(Value::Null) => return Some(HashSet::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return None,
    };
    let ids: BTreeMap<&str, ()> = batch.iter().map(|m| (m.message_id.as_str(), ())).collect();
    let mut failed = HashSet::new();
    for item in items {
        let id = item.get("itemIdentifier").and_then(Value::as_str).filter(|id| !id.is_empty())?;
        if !ids.contains_key(id) {
            return None;
        }
        failed.insert(id.to_owned());
    }
    Some(failed)
}
