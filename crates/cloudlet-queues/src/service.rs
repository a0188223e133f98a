//! [`Queues`]: the typed, protocol-free SQS API, over the [`QueueCore`] and
//! a [`QueueStore`].
//!
//! Every operation runs the core under one lock with the injected clock's
//! `now`, hands the resulting writes to the committer thread while still
//! holding the lock (so writes reach the store in the order the core made
//! them), and answers only after they are committed. The committer drains
//! whatever has queued up while the previous transaction was syncing and
//! commits it as one transaction: group commit, so many concurrent senders
//! share one fsync without any of them being acknowledged early.
//!
//! Long polling waits on a per-queue [`Notify`] (woken by sends and
//! visibility changes) or the clock, whichever comes first: a message sent
//! during a 20-second poll is returned at once, and a message whose
//! visibility timeout ends is returned at that instant of the injected clock.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use base64::Engine as _;
use cloudlet_core::{AwsScope, Registry, SharedClock, Timestamp};
use tokio::sync::{Notify, oneshot};

use crate::attributes::{MAX_VISIBILITY_TIMEOUT_S, MAX_WAIT_TIME_S, MessageAttributeValue};
use crate::core::{
    MAX_BATCH_BYTES, MAX_BATCH_ENTRIES, QueueCore, ReceivedMessage, SendOutcome, SendRequest, check_batch_ids,
};
use crate::error::{SqsError, SqsErrorCode};
use crate::store::{QueueStore, QueueStoreError, QueueWrite};

/// The most writes one group commit takes before it syncs.
const MAX_GROUP_WRITES: usize = 20_000;

/// ReceiveMessage's parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReceiveRequest {
    /// 1–10; default 1.
    pub max_number_of_messages: Option<u32>,
    /// 0–43,200; default: the queue's `VisibilityTimeout`.
    pub visibility_timeout_s: Option<u32>,
    /// 0–20; default: the queue's `ReceiveMessageWaitTimeSeconds`.
    pub wait_time_s: Option<u32>,
    /// System attributes to return (`All`, `SentTimestamp`, ...).
    pub system_attribute_names: Vec<String>,
    /// Message attributes to return (`All`, `.*`, names, `prefix.*`).
    pub message_attribute_names: Vec<String>,
    /// FIFO queues: a retry with the same id within five minutes gets the
    /// same messages and receipt handles.
    pub receive_request_attempt_id: Option<String>,
}

/// One failed entry of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchFailure {
    pub id: String,
    pub error: SqsError,
}

/// The result of a `*Batch` operation: per-entry successes and failures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchResult<T> {
    pub successful: Vec<(String, T)>,
    pub failed: Vec<BatchFailure>,
}

impl<T> Default for BatchResult<T> {
    fn default() -> BatchResult<T> {
        BatchResult { successful: Vec::new(), failed: Vec::new() }
    }
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum QueuesError {
    #[error("cannot load the queues from the store")]
    Load(#[source] QueueStoreError),
    #[error("cannot start the queue committer thread")]
    Committer(#[source] std::io::Error),
}

struct Commit {
    writes: Vec<QueueWrite>,
    done: oneshot::Sender<Result<(), Arc<QueueStoreError>>>,
}

/// A commit in progress; awaiting it says whether the writes are durable.
type Pending = Option<oneshot::Receiver<Result<(), Arc<QueueStoreError>>>>;

/// The queue service. Share it behind an `Arc`.
pub struct Queues {
    core: Mutex<QueueCore>,
    /// `None` once shut down.
    committer: Mutex<Option<mpsc::Sender<Commit>>>,
    committer_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    clock: SharedClock,
    arrivals: Mutex<HashMap<String, Arc<Notify>>>,
    metrics: OnceLock<Arc<Registry>>,
}

impl fmt::Debug for Queues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Queues").finish_non_exhaustive()
    }
}

impl Queues {
    /// Loads every queue and message from `store` and starts the committer
    /// thread (it ends when the service is dropped).
    pub fn open(store: Arc<dyn QueueStore>, scope: AwsScope, clock: SharedClock) -> Result<Arc<Queues>, QueuesError> {
        let stored = store.load_queues().map_err(QueuesError::Load)?;
        let core = QueueCore::restore(scope, stored);
        let (sender, receiver) = mpsc::channel::<Commit>();
        let thread = std::thread::Builder::new()
            .name("sqs-committer".to_owned())
            .spawn(move || commit_loop(store.as_ref(), &receiver))
            .map_err(QueuesError::Committer)?;
        Ok(Arc::new(Queues {
            core: Mutex::new(core),
            committer: Mutex::new(Some(sender)),
            committer_thread: Mutex::new(Some(thread)),
            clock,
            arrivals: Mutex::new(HashMap::new()),
            metrics: OnceLock::new(),
        }))
    }

    /// Records message counts per queue into `registry` from now on
    /// (`cloudlet_sqs_messages_*_total`, the numbers CloudWatch's
    /// NumberOfMessagesSent/Received/Deleted give on AWS).
    pub fn set_metrics(&self, registry: Arc<Registry>) {
        let _ = self.metrics.set(registry);
    }

    fn count(&self, what: &str, queue: &str, n: usize) {
        if n == 0 {
            return;
        }
        if let Some(registry) = self.metrics.get() {
            let name = format!("cloudlet_sqs_messages_{what}_total");
            let help = match what {
                "sent" => "Messages sent (accepted by SendMessage/SendMessageBatch), by queue.",
                "received" => "Messages returned by ReceiveMessage, by queue.",
                "deleted" => "Messages deleted by DeleteMessage/DeleteMessageBatch, by queue.",
                _ => "Messages moved to a dead-letter queue, by source queue.",
            };
            registry.counter(&name, help, &[("queue", queue)]).inc_by(n as u64);
        }
    }

    /// Commits what is queued, stops the committer thread and lets go of
    /// the store; later writes fail with `InternalError`. The daemon calls
    /// this before it closes the store.
    pub fn shut_down(&self) {
        drop(self.committer.lock().unwrap_or_else(|p| p.into_inner()).take());
        if let Some(thread) = self.committer_thread.lock().unwrap_or_else(|p| p.into_inner()).take()
            && thread.join().is_err()
        {
            tracing::error!("the queue committer thread panicked");
        }
    }

    fn lock(&self) -> MutexGuard<'_, QueueCore> {
        // Core methods validate before they change anything, so a panic
        // cannot leave a queue half-updated.
        self.core.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Runs `operation` on the core and queues its writes for commit.
    fn run<T>(
        &self,
        operation: impl FnOnce(&mut QueueCore, Timestamp, &mut Vec<QueueWrite>) -> Result<T, SqsError>,
    ) -> Result<(T, Pending, Vec<String>), SqsError> {
        let mut core = self.lock();
        let now = self.clock.now();
        let mut writes = Vec::new();
        let result = operation(&mut core, now, &mut writes);
        if writes.is_empty() {
            return result.map(|value| (value, None, Vec::new()));
        }
        let arrived: Vec<String> = writes
            .iter()
            .filter_map(|w| match w {
                QueueWrite::PutMessage(m) => Some(m.queue.clone()),
                _ => None,
            })
            .collect();
        let (done, committed) = oneshot::channel();
        let sent = match self.committer.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            Some(committer) => committer.send(Commit { writes, done }).is_ok(),
            None => false,
        };
        drop(core);
        if !sent {
            return Err(SqsError::internal("the queue store's committer has stopped"));
        }
        result.map(|value| (value, Some(committed), arrived))
    }

    /// Runs `operation`, waits until its writes are durable, wakes long
    /// polls on queues that got messages.
    async fn execute<T>(
        &self,
        operation: impl FnOnce(&mut QueueCore, Timestamp, &mut Vec<QueueWrite>) -> Result<T, SqsError>,
    ) -> Result<T, SqsError> {
        let (value, pending, arrived) = self.run(operation)?;
        wait_committed(pending).await?;
        for queue in arrived {
            self.wake(&queue);
        }
        Ok(value)
    }

    fn arrivals(&self, queue: &str) -> Arc<Notify> {
        let mut map = self.arrivals.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(map.entry(queue.to_owned()).or_default())
    }

    fn wake(&self, queue: &str) {
        let notify = self.arrivals.lock().unwrap_or_else(|p| p.into_inner()).get(queue).cloned();
        if let Some(notify) = notify {
            notify.notify_waiters();
        }
    }

    // -- queues ---------------------------------------------------------------

    pub async fn create_queue(
        &self,
        name: &str,
        attributes: &BTreeMap<String, String>,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), SqsError> {
        self.execute(|core, now, writes| core.create_queue(name, attributes, tags, now, writes)).await
    }

    /// GetQueueUrl's check: the queue exists.
    pub fn get_queue(&self, name: &str) -> Result<(), SqsError> {
        if self.lock().exists(name) { Ok(()) } else { Err(SqsError::queue_does_not_exist()) }
    }

    pub async fn delete_queue(&self, name: &str) -> Result<(), SqsError> {
        self.execute(|core, now, writes| core.delete_queue(name, now, writes)).await?;
        self.wake(name);
        Ok(())
    }

    pub async fn purge_queue(&self, name: &str) -> Result<(), SqsError> {
        self.execute(|core, now, writes| core.purge_queue(name, now, writes)).await
    }

    /// ListQueues: names with `prefix`; with `max_results` (1–1,000) a page
    /// and the token of the next one.
    pub fn list_queues(
        &self,
        prefix: Option<&str>,
        max_results: Option<u32>,
        next_token: Option<&str>,
    ) -> Result<(Vec<String>, Option<String>), SqsError> {
        if let Some(max) = max_results
            && !(1..=1000).contains(&max)
        {
            return Err(SqsError::invalid_parameter(
                "MaxResults",
                max,
                "MaxResults must be an integer between 1 and 1000.",
            ));
        }
        let after = match next_token {
            Some(token) => Some(
                decode_token(token)
                    .ok_or_else(|| SqsError::new(SqsErrorCode::InvalidParameterValue, "Invalid NextToken value."))?,
            ),
            None => None,
        };
        let names = self.lock().list_queues(prefix, after.as_deref());
        page(names, max_results)
    }

    pub fn list_dead_letter_source_queues(
        &self,
        name: &str,
        max_results: Option<u32>,
        next_token: Option<&str>,
    ) -> Result<(Vec<String>, Option<String>), SqsError> {
        let mut names = self.lock().list_dead_letter_source_queues(name)?;
        if let Some(token) = next_token {
            let after = decode_token(token)
                .ok_or_else(|| SqsError::new(SqsErrorCode::InvalidParameterValue, "Invalid NextToken value."))?;
            names.retain(|n| *n > after);
        }
        page(names, max_results)
    }

    /// GetQueueAttributes: the names asked for (`All` for every one).
    pub fn get_queue_attributes(&self, name: &str, names: &[String]) -> Result<BTreeMap<String, String>, SqsError> {
        QueueCore::check_attribute_names(names)?;
        let mut all = self.lock().queue_attributes(name, self.clock.now())?;
        if !names.iter().any(|n| n == "All") {
            all.retain(|key, _| names.contains(key));
        }
        Ok(all)
    }

    pub async fn set_queue_attributes(
        &self,
        name: &str,
        attributes: &BTreeMap<String, String>,
    ) -> Result<(), SqsError> {
        self.execute(|core, now, writes| core.set_queue_attributes(name, attributes, now, writes)).await
    }

    pub fn list_queue_tags(&self, name: &str) -> Result<BTreeMap<String, String>, SqsError> {
        self.lock().tags(name)
    }

    pub async fn tag_queue(&self, name: &str, tags: &BTreeMap<String, String>) -> Result<(), SqsError> {
        self.execute(|core, _, writes| core.tag_queue(name, tags, writes)).await
    }

    pub async fn untag_queue(&self, name: &str, keys: &[String]) -> Result<(), SqsError> {
        self.execute(|core, _, writes| core.untag_queue(name, keys, writes)).await
    }

    /// `arn:aws:sqs:REGION:ACCOUNT:NAME`.
    pub fn queue_arn(&self, name: &str) -> String {
        self.lock().queue_arn(name)
    }

    /// The name of the existing queue `arn` names.
    pub fn queue_name_for_arn(&self, arn: &str) -> Result<String, SqsError> {
        self.lock().queue_name_for_arn(arn).map(str::to_owned).ok_or_else(SqsError::queue_does_not_exist)
    }

    // -- messages -------------------------------------------------------------

    pub async fn send_message(&self, queue: &str, request: SendRequest) -> Result<SendOutcome, SqsError> {
        let outcome = self.execute(|core, now, writes| core.send_message(queue, request, now, writes)).await?;
        self.count("sent", queue, 1);
        Ok(outcome)
    }

    /// SendMessageBatch: batch-level errors fail the call; entry errors fail
    /// the entry.
    pub async fn send_message_batch(
        &self,
        queue: &str,
        entries: Vec<(String, SendRequest)>,
    ) -> Result<BatchResult<SendOutcome>, SqsError> {
        check_batch_ids("SendMessageBatchRequestEntry", entries.iter().map(|(id, _)| id.as_str()))?;
        let total: usize = entries
            .iter()
            .map(|(_, r)| {
                r.body.len()
                    + r.message_attributes
                        .iter()
                        .map(|(n, v)| {
                            n.len()
                                + v.data_type.len()
                                + v.string_value.as_ref().map_or(0, String::len)
                                + v.binary_value.as_ref().map_or(0, Vec::len)
                        })
                        .sum::<usize>()
            })
            .sum();
        if total > MAX_BATCH_BYTES {
            return Err(SqsError::new(
                SqsErrorCode::BatchRequestTooLong,
                format!("Batch requests cannot be longer than {MAX_BATCH_BYTES} bytes. You have sent {total} bytes."),
            ));
        }
        let result = self
            .execute(|core, now, writes| {
                if !core.exists(queue) {
                    return Err(SqsError::queue_does_not_exist());
                }
                let mut result = BatchResult::default();
                for (id, request) in entries {
                    match core.send_message(queue, request, now, writes) {
                        Ok(outcome) => result.successful.push((id, outcome)),
                        Err(error) => result.failed.push(BatchFailure { id, error }),
                    }
                }
                Ok(result)
            })
            .await?;
        self.count("sent", queue, result.successful.len());
        Ok(result)
    }

    /// ReceiveMessage, long-polling up to `wait_time_s` seconds.
    pub async fn receive_message(
        &self,
        queue: &str,
        request: ReceiveRequest,
    ) -> Result<Vec<ReceivedMessage>, SqsError> {
        let max = request.max_number_of_messages.unwrap_or(1);
        if !(1..=MAX_BATCH_ENTRIES as u32).contains(&max) {
            return Err(SqsError::invalid_parameter(
                "MaxNumberOfMessages",
                max,
                "Must be between 1 and 10, if provided.",
            ));
        }
        if let Some(wait) = request.wait_time_s
            && wait > MAX_WAIT_TIME_S
        {
            return Err(SqsError::invalid_parameter("WaitTimeSeconds", wait, "Must be >= 0 and <= 20, if provided."));
        }
        if let Some(visibility) = request.visibility_timeout_s
            && visibility > MAX_VISIBILITY_TIMEOUT_S
        {
            return Err(SqsError::invalid_parameter(
                "VisibilityTimeout",
                visibility,
                "Must be between 0 and 43200, if provided.",
            ));
        }
        let wait = match request.wait_time_s {
            Some(wait) => wait,
            None => self.lock().default_wait_time_s(queue)?,
        };
        let deadline = self.clock.now() + std::time::Duration::from_secs(u64::from(wait));
        let arrivals = self.arrivals(queue);
        loop {
            let notified = arrivals.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let (outcome, pending, arrived) = self.run(|core, now, writes| {
                let visibility = request.visibility_timeout_s;
                match &request.receive_request_attempt_id {
                    Some(attempt) => core.receive_message_attempt(queue, attempt, max, visibility, now, writes),
                    None => core.receive_message(queue, max, visibility, now, writes),
                }
            })?;
            wait_committed(pending).await?;
            for target in &arrived {
                self.wake(target);
            }
            self.count("moved_to_dead_letter_queue", queue, arrived.len());
            if !outcome.messages.is_empty() || self.clock.now() >= deadline {
                self.count("received", queue, outcome.messages.len());
                return Ok(outcome
                    .messages
                    .into_iter()
                    .map(|m| m.select(&request.system_attribute_names, &request.message_attribute_names))
                    .collect());
            }
            let wake_at = outcome.next_change.map_or(deadline, |at| at.min(deadline));
            tokio::select! {
                () = &mut notified => {}
                () = self.clock.sleep_until(wake_at) => {}
            }
            if !self.lock().exists(queue) {
                return Err(SqsError::queue_does_not_exist());
            }
        }
    }

    /// DeleteMessage. A stale receipt handle succeeds without deleting.
    pub async fn delete_message(&self, queue: &str, receipt_handle: &str) -> Result<(), SqsError> {
        let deleted = self
            .execute(|core, _, writes| {
                core.delete_message(queue, receipt_handle, writes)?;
                Ok(writes.len())
            })
            .await?;
        self.count("deleted", queue, deleted);
        Ok(())
    }

    pub async fn delete_message_batch(
        &self,
        queue: &str,
        entries: Vec<(String, String)>,
    ) -> Result<BatchResult<()>, SqsError> {
        check_batch_ids("DeleteMessageBatchRequestEntry", entries.iter().map(|(id, _)| id.as_str()))?;
        let (result, deleted) = self
            .execute(|core, _, writes| {
                if !core.exists(queue) {
                    return Err(SqsError::queue_does_not_exist());
                }
                let mut result = BatchResult::default();
                for (id, handle) in entries {
                    match core.delete_message(queue, &handle, writes) {
                        Ok(()) => result.successful.push((id, ())),
                        Err(error) => result.failed.push(BatchFailure { id, error }),
                    }
                }
                Ok((result, writes.len()))
            })
            .await?;
        self.count("deleted", queue, deleted);
        Ok(result)
    }

    pub async fn change_message_visibility(
        &self,
        queue: &str,
        receipt_handle: &str,
        visibility_timeout_s: u32,
    ) -> Result<(), SqsError> {
        self.execute(|core, now, writes| {
            core.change_message_visibility(queue, receipt_handle, visibility_timeout_s, now, writes)
        })
        .await?;
        self.wake(queue);
        Ok(())
    }

    pub async fn change_message_visibility_batch(
        &self,
        queue: &str,
        entries: Vec<(String, String, u32)>,
    ) -> Result<BatchResult<()>, SqsError> {
        check_batch_ids("ChangeMessageVisibilityBatchRequestEntry", entries.iter().map(|(id, _, _)| id.as_str()))?;
        let result = self
            .execute(|core, now, writes| {
                if !core.exists(queue) {
                    return Err(SqsError::queue_does_not_exist());
                }
                let mut result = BatchResult::default();
                for (id, handle, timeout) in entries {
                    match core.change_message_visibility(queue, &handle, timeout, now, writes) {
                        Ok(()) => result.successful.push((id, ())),
                        Err(error) => result.failed.push(BatchFailure { id, error }),
                    }
                }
                Ok(result)
            })
            .await?;
        self.wake(queue);
        Ok(result)
    }

    // -- by ARN, for other subsystems (Lambda DLQs, destinations, event
    // source mappings) -----------------------------------------------------

    /// Sends `body` with `message_attributes` to the queue `queue_arn` names.
    pub async fn send_to_arn(
        &self,
        queue_arn: &str,
        body: String,
        message_attributes: BTreeMap<String, MessageAttributeValue>,
    ) -> Result<SendOutcome, SqsError> {
        let queue = self.queue_name_for_arn(queue_arn)?;
        self.send_message(&queue, SendRequest { body, message_attributes, ..SendRequest::default() }).await
    }

    /// ReceiveMessage on the queue `queue_arn` names.
    pub async fn receive_by_arn(
        &self,
        queue_arn: &str,
        request: ReceiveRequest,
    ) -> Result<Vec<ReceivedMessage>, SqsError> {
        let queue = self.queue_name_for_arn(queue_arn)?;
        self.receive_message(&queue, request).await
    }

    /// Deletes messages by receipt handle from the queue `queue_arn` names;
    /// one result per handle, in order.
    pub async fn delete_by_arn(
        &self,
        queue_arn: &str,
        receipt_handles: &[String],
    ) -> Result<Vec<Result<(), SqsError>>, SqsError> {
        let queue = self.queue_name_for_arn(queue_arn)?;
        let (results, deleted) = self
            .execute(|core, _, writes| {
                let results =
                    receipt_handles.iter().map(|handle| core.delete_message(&queue, handle, writes)).collect();
                Ok((results, writes.len()))
            })
            .await?;
        self.count("deleted", &queue, deleted);
        Ok(results)
    }

    /// Changes visibility of a received message on the queue `queue_arn`
    /// names (an event source mapping returning a failed batch early).
    pub async fn change_visibility_by_arn(
        &self,
        queue_arn: &str,
        receipt_handle: &str,
        visibility_timeout_s: u32,
    ) -> Result<(), SqsError> {
        let queue = self.queue_name_for_arn(queue_arn)?;
        self.change_message_visibility(&queue, receipt_handle, visibility_timeout_s).await
    }

    /// All attributes of the queue `queue_arn` names (`VisibilityTimeout`
    /// for event source mapping validation, `FifoQueue`, ...).
    pub fn queue_attributes_by_arn(&self, queue_arn: &str) -> Result<BTreeMap<String, String>, SqsError> {
        let queue = self.queue_name_for_arn(queue_arn)?;
        self.get_queue_attributes(&queue, &["All".to_owned()])
    }
}

async fn wait_committed(pending: Pending) -> Result<(), SqsError> {
    let Some(pending) = pending else { return Ok(()) };
    match pending.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => {
            tracing::error!(error = %cloudlet_core::ErrorChain(error.as_ref()), "queue write failed");
            Err(SqsError::internal("The request could not be stored; it was not applied."))
        }
        Err(_) => Err(SqsError::internal("the queue store's committer has stopped")),
    }
}

fn commit_loop(store: &dyn QueueStore, receiver: &mpsc::Receiver<Commit>) {
    while let Ok(first) = receiver.recv() {
        let mut writes = first.writes;
        let mut waiting = vec![first.done];
        while writes.len() < MAX_GROUP_WRITES {
            match receiver.try_recv() {
                Ok(next) => {
                    writes.extend(next.writes);
                    waiting.push(next.done);
                }
                Err(_) => break,
            }
        }
        let result = store.commit_queue_writes(&writes).map_err(Arc::new);
        for done in waiting {
            let _ = done.send(result.clone());
        }
    }
}

fn encode_token(name: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(name)
}

fn decode_token(token: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token).ok()?;
    String::from_utf8(bytes).ok()
}

fn page(mut names: Vec<String>, max_results: Option<u32>) -> Result<(Vec<String>, Option<String>), SqsError> {
    let limit = max_results.unwrap_or(1000) as usize;
    if names.len() <= limit {
        return Ok((names, None));
    }
    names.truncate(limit);
    // Without MaxResults SQS returns the first 1,000 and no token.
    let token = max_results.and_then(|_| names.last().map(|last| encode_token(last)));
    Ok((names, token))
}

#[cfg(test)]
mod tests;
