//! The queue engine: every queue and message in memory, every SQS rule as a
//! method over explicit inputs.
//!
//! Each method takes `now` and appends the [`QueueWrite`]s that make its
//! effect durable to `writes`; the caller commits them before answering.
//! Nothing here reads a clock, sleeps, or does I/O, so tests drive minutes
//! of visibility timeouts and retention on a number.
//!
//! Per queue, messages live in a map by sequence number (FIFO order) and in
//! an index by the time they next become visible, so a standard receive
//! touches only the messages it returns. Redrive happens lazily, as on SQS
//! and moto: a receive that finds a message already received
//! `maxReceiveCount` times moves it to the dead-letter queue instead of
//! returning it. Expired messages (retention) are dropped when a receive
//! reaches them.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::ops::Bound;
use std::time::Duration;

use base64::Engine as _;
use cloudlet_core::{AwsScope, Timestamp};
use sha2::Digest as _;

use crate::attributes::{
    MAX_DELAY_S, MAX_MESSAGE_BYTES, MAX_VISIBILITY_TIMEOUT_S, MessageAttributeValue, QueueAttributes, valid_chars,
    validate_message_attributes,
};
use crate::error::{SqsError, SqsErrorCode};
use crate::md5;
use crate::store::{DedupRecord, MessageRecord, QueueRecord, QueueWrite, StoredQueues};

/// How long a FIFO deduplication id is remembered.
pub const DEDUP_WINDOW: Duration = Duration::from_secs(300);
/// How long a deleted queue's name stays unusable, and the purge interval.
pub const RECENTLY_DELETED: Duration = Duration::from_secs(60);
pub const PURGE_INTERVAL: Duration = Duration::from_secs(60);
/// How often expired deduplication ids are swept.
pub const DEDUP_SWEEP_INTERVAL: Duration = Duration::from_secs(60);
/// The most messages in flight on a standard queue (then `OverLimit`).
pub const MAX_IN_FLIGHT: usize = 120_000;
/// The most entries in a batch request.
pub const MAX_BATCH_ENTRIES: usize = 10;
/// `SenderId` of every message: cloudlet has one caller identity.
pub const SENDER_ID: &str = "AIDAIT2UOQQY3AUEKVGXU";

/// One SendMessage (or batch entry).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendRequest {
    pub body: String,
    pub delay_seconds: Option<u32>,
    pub message_attributes: BTreeMap<String, MessageAttributeValue>,
    /// `MessageSystemAttributes.AWSTraceHeader`.
    pub trace_header: Option<String>,
    pub message_group_id: Option<String>,
    pub message_deduplication_id: Option<String>,
}

/// What a send returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendOutcome {
    pub message_id: String,
    pub md5_of_message_body: String,
    pub md5_of_message_attributes: Option<String>,
    pub md5_of_message_system_attributes: Option<String>,
    /// FIFO queues only.
    pub sequence_number: Option<String>,
}

/// A message as ReceiveMessage returns it, with every attribute; callers
/// narrow it with [`ReceivedMessage::select`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    pub message_id: String,
    pub receipt_handle: String,
    pub body: String,
    pub md5_of_body: String,
    /// System attributes (`SentTimestamp`, `ApproximateReceiveCount`, ...).
    pub attributes: BTreeMap<String, String>,
    pub message_attributes: BTreeMap<String, MessageAttributeValue>,
    pub md5_of_message_attributes: Option<String>,
}

impl ReceivedMessage {
    /// Keeps the system attributes named in `system` and the message
    /// attributes named in `user` (`All`, `.*`, and `prefix.*` as SQS
    /// reads them), and recomputes the attributes' MD5 over what is kept.
    pub fn select(mut self, system: &[String], user: &[String]) -> ReceivedMessage {
        let all_system = system.iter().any(|n| n == "All");
        self.attributes.retain(|name, _| all_system || system.iter().any(|n| n == name));
        let keep = |name: &str| {
            user.iter().any(|pattern| {
                pattern == "All"
                    || pattern == ".*"
                    || pattern == name
                    || pattern.strip_suffix(".*").is_some_and(|prefix| name.starts_with(&format!("{prefix}.")))
            })
        };
        self.message_attributes.retain(|name, _| keep(name));
        self.md5_of_message_attributes = md5::attributes_md5(&self.message_attributes);
        self
    }
}

/// What a receive found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReceiveOutcome {
    pub messages: Vec<ReceivedMessage>,
    /// The earliest time something may become receivable, for long polls
    /// to wake at.
    pub next_change: Option<Timestamp>,
}

/// The computed counts of a queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueCounts {
    pub visible: u64,
    pub not_visible: u64,
    pub delayed: u64,
}

#[derive(Debug)]
struct Queue {
    record: QueueRecord,
    messages: BTreeMap<u64, MessageRecord>,
    /// (visible_at, seq) of every message.
    by_visible: BTreeSet<(Timestamp, u64)>,
    /// FIFO queues: the messages of each group, in order, so a receive
    /// looks at groups rather than at every message.
    groups: HashMap<String, BTreeSet<u64>>,
    dedup: HashMap<String, DedupRecord>,
    last_seq: u64,
    last_purge: Option<Timestamp>,
    /// FIFO `ReceiveRequestAttemptId`s of the last five minutes and what
    /// they returned (in memory: a retry after a restart receives anew).
    attempts: HashMap<String, (Timestamp, Vec<ReceivedMessage>)>,
    next_dedup_sweep: Timestamp,
}

impl Queue {
    fn new(record: QueueRecord) -> Queue {
        Queue {
            record,
            messages: BTreeMap::new(),
            by_visible: BTreeSet::new(),
            groups: HashMap::new(),
            dedup: HashMap::new(),
            last_seq: 0,
            last_purge: None,
            attempts: HashMap::new(),
            next_dedup_sweep: Timestamp::UNIX_EPOCH,
        }
    }

    fn insert(&mut self, message: MessageRecord) {
        self.last_seq = self.last_seq.max(message.seq);
        self.by_visible.insert((message.visible_at, message.seq));
        if let Some(group) = &message.group_id {
            self.groups.entry(group.clone()).or_default().insert(message.seq);
        }
        self.messages.insert(message.seq, message);
    }

    fn remove(&mut self, seq: u64) -> Option<MessageRecord> {
        let message = self.messages.remove(&seq)?;
        self.by_visible.remove(&(message.visible_at, seq));
        if let Some(group) = &message.group_id
            && let Some(seqs) = self.groups.get_mut(group)
        {
            seqs.remove(&seq);
            if seqs.is_empty() {
                self.groups.remove(group);
            }
        }
        Some(message)
    }

    fn set_visible_at(&mut self, seq: u64, visible_at: Timestamp) {
        if let Some(message) = self.messages.get_mut(&seq) {
            self.by_visible.remove(&(message.visible_at, seq));
            message.visible_at = visible_at;
            self.by_visible.insert((visible_at, seq));
        }
    }

    /// A sequence number above every earlier one: the send time in
    /// nanoseconds when that is larger, so numbers keep increasing across
    /// restarts without storing a counter.
    fn next_seq(&mut self, now: Timestamp) -> u64 {
        self.last_seq = (self.last_seq + 1).max(now.as_unix_nanos());
        self.last_seq
    }

    fn expired(&self, message: &MessageRecord, now: Timestamp) -> bool {
        message.sent_at + Duration::from_secs(u64::from(self.record.attributes.message_retention_period_s)) <= now
    }

    fn next_change(&self, now: Timestamp) -> Option<Timestamp> {
        self.by_visible.range((Bound::Excluded((now, u64::MAX)), Bound::Unbounded)).next().map(|(at, _)| *at)
    }
}

/// Every queue and message, and the rules of SQS.
#[derive(Debug)]
pub struct QueueCore {
    scope: AwsScope,
    queues: BTreeMap<String, Queue>,
    recently_deleted: HashMap<String, Timestamp>,
}

fn secs(s: u32) -> Duration {
    Duration::from_secs(u64::from(s))
}

/// `v1` receipt handles: base64 of `queue \n seq \n random`.
fn receipt_handle(queue: &str, seq: u64, receipt: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{queue}\n{seq}\n{receipt}"))
}

fn parse_receipt_handle(handle: &str) -> Option<(String, u64, String)> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(handle).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let mut parts = text.splitn(3, '\n');
    let queue = parts.next()?.to_owned();
    let seq = parts.next()?.parse().ok()?;
    let receipt = parts.next()?.to_owned();
    (!receipt.is_empty()).then_some((queue, seq, receipt))
}

/// SQS's queue-name rule: 1–80 of `[A-Za-z0-9_-]`, plus `.fifo` for FIFO.
fn check_queue_name(name: &str, fifo: bool) -> Result<(), SqsError> {
    let stem = if fifo { name.strip_suffix(".fifo") } else { Some(name) };
    let ok = name.len() <= 80
        && stem
            .is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    if ok {
        return Ok(());
    }
    let message = if fifo || name.ends_with(".fifo") {
        "The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with \
         .fifo suffix and be 1 to 80 in length."
    } else {
        "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"
    };
    Err(SqsError::new(SqsErrorCode::InvalidParameterValue, message))
}

impl QueueCore {
    pub fn new(scope: AwsScope) -> QueueCore {
        QueueCore { scope, queues: BTreeMap::new(), recently_deleted: HashMap::new() }
    }

    /// Rebuilds the core from what a store holds.
    pub fn restore(scope: AwsScope, stored: StoredQueues) -> QueueCore {
        let mut core = QueueCore::new(scope);
        for record in stored.queues {
            core.queues.insert(record.name.clone(), Queue::new(record));
        }
        for message in stored.messages {
            if let Some(queue) = core.queues.get_mut(&message.queue) {
                queue.insert(message);
            }
        }
        for dedup in stored.dedup {
            if let Some(queue) = core.queues.get_mut(&dedup.queue) {
                queue.last_seq = queue.last_seq.max(dedup.seq);
                queue.dedup.insert(dedup.key.clone(), dedup);
            }
        }
        core
    }

    pub fn scope(&self) -> &AwsScope {
        &self.scope
    }

    pub fn queue_arn(&self, name: &str) -> String {
        self.scope.sqs_queue_arn(name).to_string()
    }

    /// The queue name an ARN in this scope names, if that queue exists.
    pub fn queue_name_for_arn(&self, arn: &str) -> Option<&str> {
        let name = arn.rsplit(':').next()?;
        let (name, queue) = self.queues.get_key_value(name)?;
        (self.queue_arn(&queue.record.name) == arn).then_some(name.as_str())
    }

    fn queue(&self, name: &str) -> Result<&Queue, SqsError> {
        self.queues.get(name).ok_or_else(SqsError::queue_does_not_exist)
    }

    fn queue_mut(&mut self, name: &str) -> Result<&mut Queue, SqsError> {
        self.queues.get_mut(name).ok_or_else(SqsError::queue_does_not_exist)
    }

    pub fn exists(&self, name: &str) -> bool {
        self.queues.contains_key(name)
    }

    pub fn is_fifo(&self, name: &str) -> Result<bool, SqsError> {
        Ok(self.queue(name)?.record.attributes.fifo_queue)
    }

    /// The queue's `ReceiveMessageWaitTimeSeconds`.
    pub fn default_wait_time_s(&self, name: &str) -> Result<u32, SqsError> {
        Ok(self.queue(name)?.record.attributes.receive_message_wait_time_s)
    }

    /// CreateQueue: idempotent when the given attributes match the existing
    /// queue's, `QueueNameExists` otherwise.
    pub fn create_queue(
        &mut self,
        name: &str,
        attributes: &BTreeMap<String, String>,
        tags: &BTreeMap<String, String>,
        now: Timestamp,
        writes: &mut Vec<QueueWrite>,
    ) -> Result<(), SqsError> {
        let fifo_requested = attributes.get("FifoQueue").is_some_and(|v| v.eq_ignore_ascii_case("true"));
        if attributes.get("FifoQueue").is_some_and(|v| v.eq_ignore_ascii_case("false")) && name.ends_with(".fifo") {
            return Err(SqsError::new(
                SqsErrorCode::InvalidParameterValue,
                "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length",
            ));
        }
        check_queue_name(name, fifo_requested)?;
        if let Some(existing) = self.queues.get(name) {
            let mut wanted = existing.record.attributes.clone();
            wanted.apply(attributes, true)?;
            if wanted != existing.record.attributes {
                let current = existing.record.attributes.to_map();
                let differing = attributes
                    .keys()
                    .find(|key| current.get(*key) != wanted.to_map().get(*key))
                    .cloned()
                    .unwrap_or_else(|| "FifoQueue".to_owned());
                return Err(SqsError::new(
                    SqsErrorCode::QueueNameExists,
                    format!(
                        "A queue already exists with the same name and a different value for attribute {differing}"
                    ),
                ));
            }
            return Ok(());
        }
        if let Some(deleted_at) = self.recently_deleted.get(name)
            && now < *deleted_at + RECENTLY_DELETED
        {
            return Err(SqsError::new(
                SqsErrorCode::QueueDeletedRecently,
                "You must wait 60 seconds after deleting a queue before you can create another with the same name.",
            ));
        }
        let mut queue_attributes = QueueAttributes::default();
        queue_attributes.apply(attributes, true)?;
        self.check_redrive_target(name, &queue_attributes)?;
        let record = QueueRecord {
            name: name.to_owned(),
            attributes: queue_attributes,
            tags: tags.clone(),
            created_at: now,
            last_modified: now,
        };
        writes.push(QueueWrite::PutQueue(record.clone()));
        self.queues.insert(name.to_owned(), Queue::new(record));
        Ok(())
    }

    /// A RedrivePolicy must name an existing queue of the same type.
    fn check_redrive_target(&self, name: &str, attributes: &QueueAttributes) -> Result<(), SqsError> {
        let Some(policy) = attributes.redrive() else { return Ok(()) };
        let invalid = |reason: &str| {
            SqsError::new(
                SqsErrorCode::InvalidParameterValue,
                format!(
                    "Value {} for parameter RedrivePolicy is invalid. Reason: {reason}",
                    attributes.redrive_policy.as_deref().unwrap_or_default()
                ),
            )
        };
        let target_name = self
            .queue_name_for_arn(&policy.dead_letter_target_arn)
            .ok_or_else(|| invalid("Dead letter target does not exist."))?;
        if target_name == name {
            return Err(invalid("Dead letter target cannot be the queue itself."));
        }
        // The target's RedriveAllowPolicy says which sources may use it.
        if let Some(allow) =
            self.queues.get(target_name).and_then(|q| q.record.attributes.redrive_allow_policy.as_deref())
            && let Ok(allow) = serde_json::from_str::<serde_json::Value>(allow)
        {
            let source_arn = self.queue_arn(name);
            let allowed = match allow.get("redrivePermission").and_then(serde_json::Value::as_str) {
                Some("denyAll") => false,
                Some("byQueue") => allow
                    .get("sourceQueueArns")
                    .and_then(serde_json::Value::as_array)
                    .is_some_and(|arns| arns.iter().any(|arn| arn.as_str() == Some(source_arn.as_str()))),
                _ => true,
            };
            if !allowed {
                return Err(invalid("Queue is not allowed to use the dead letter queue."));
            }
        }
        let target_fifo = self.queues.get(target_name).is_some_and(|q| q.record.attributes.fifo_queue);
        if target_fifo != attributes.fifo_queue {
            return Err(invalid(if attributes.fifo_queue {
                "Dead-letter queue for a FIFO queue must also be a FIFO queue."
            } else {
                "Dead-letter queue for a standard queue must also be a standard queue."
            }));
        }
        Ok(())
    }

    /// DeleteQueue: the queue and its messages go; the name is unusable for
    /// 60 s.
    pub fn delete_queue(&mut self, name: &str, now: Timestamp, writes: &mut Vec<QueueWrite>) -> Result<(), SqsError> {
        self.queue(name)?;
        self.queues.remove(name);
        self.recently_deleted.retain(|_, at| now < *at + RECENTLY_DELETED);
        self.recently_deleted.insert(name.to_owned(), now);
        writes.push(QueueWrite::DeleteQueue { name: name.to_owned() });
        Ok(())
    }

    /// ListQueues: names with `prefix`, in name order, after `after`.
    pub fn list_queues(&self, prefix: Option<&str>, after: Option<&str>) -> Vec<String> {
        let start = after.map_or(Bound::Unbounded, |a| Bound::Excluded(a.to_owned()));
        self.queues
            .range::<String, _>((start, Bound::Unbounded))
            .map(|(name, _)| name)
            .filter(|name| prefix.is_none_or(|p| name.starts_with(p)))
            .cloned()
            .collect()
    }

    /// Queues whose RedrivePolicy targets `name`.
    pub fn list_dead_letter_source_queues(&self, name: &str) -> Result<Vec<String>, SqsError> {
        self.queue(name)?;
        let arn = self.queue_arn(name);
        Ok(self
            .queues
            .values()
            .filter(|q| q.record.attributes.redrive().is_some_and(|p| p.dead_letter_target_arn == arn))
            .map(|q| q.record.name.clone())
            .collect())
    }

    pub fn counts(&self, name: &str, now: Timestamp) -> Result<QueueCounts, SqsError> {
        let queue = self.queue(name)?;
        let mut counts = QueueCounts::default();
        for message in queue.messages.values() {
            if queue.expired(message, now) && message.visible_at <= now {
                continue;
            }
            if message.visible_at <= now {
                counts.visible += 1;
            } else if message.receive_count > 0 {
                counts.not_visible += 1;
            } else {
                counts.delayed += 1;
            }
        }
        Ok(counts)
    }

    /// GetQueueAttributes: every attribute, stored and computed. The caller
    /// selects the names asked for (see [`QueueCore::check_attribute_names`]).
    pub fn queue_attributes(&self, name: &str, now: Timestamp) -> Result<BTreeMap<String, String>, SqsError> {
        let queue = self.queue(name)?;
        let counts = self.counts(name, now)?;
        let mut map = queue.record.attributes.to_map();
        map.insert("ApproximateNumberOfMessages".into(), counts.visible.to_string());
        map.insert("ApproximateNumberOfMessagesNotVisible".into(), counts.not_visible.to_string());
        map.insert("ApproximateNumberOfMessagesDelayed".into(), counts.delayed.to_string());
        map.insert("CreatedTimestamp".into(), queue.record.created_at.as_unix_secs().to_string());
        map.insert("LastModifiedTimestamp".into(), queue.record.last_modified.as_unix_secs().to_string());
        map.insert("QueueArn".into(), self.queue_arn(name));
        Ok(map)
    }

    /// Fails with `InvalidAttributeName` on a name GetQueueAttributes does
    /// not know.
    pub fn check_attribute_names(names: &[String]) -> Result<(), SqsError> {
        for name in names {
            if name != "All" && !crate::attributes::QUEUE_ATTRIBUTE_NAMES.contains(&name.as_str()) {
                return Err(SqsError::new(SqsErrorCode::InvalidAttributeName, format!("Unknown Attribute {name}.")));
            }
        }
        Ok(())
    }

    pub fn set_queue_attributes(
        &mut self,
        name: &str,
        attributes: &BTreeMap<String, String>,
        now: Timestamp,
        writes: &mut Vec<QueueWrite>,
    ) -> Result<(), SqsError> {
        let mut updated = self.queue(name)?.record.attributes.clone();
        updated.apply(attributes, false)?;
        self.check_redrive_target(name, &updated)?;
        let queue = self.queue_mut(name)?;
        queue.record.attributes = updated;
        queue.record.last_modified = now;
        writes.push(QueueWrite::PutQueue(queue.record.clone()));
        Ok(())
    }

    pub fn tags(&self, name: &str) -> Result<BTreeMap<String, String>, SqsError> {
        Ok(self.queue(name)?.record.tags.clone())
    }

    pub fn tag_queue(
        &mut self,
        name: &str,
        tags: &BTreeMap<String, String>,
        writes: &mut Vec<QueueWrite>,
    ) -> Result<(), SqsError> {
        let queue = self.queue_mut(name)?;
        let mut merged = queue.record.tags.clone();
        merged.extend(tags.iter().map(|(k, v)| (k.clone(), v.clone())));
        if merged.len() > 50 {
            return Err(SqsError::new(
                SqsErrorCode::InvalidParameterValue,
                "Too many tags added for queue. The maximum number of tags is 50.",
            ));
        }
        queue.record.tags = merged;
        writes.push(QueueWrite::PutQueue(queue.record.clone()));
        Ok(())
    }

    pub fn untag_queue(&mut self, name: &str, keys: &[String], writes: &mut Vec<QueueWrite>) -> Result<(), SqsError> {
        let queue = self.queue_mut(name)?;
        queue.record.tags.retain(|k, _| !keys.contains(k));
        writes.push(QueueWrite::PutQueue(queue.record.clone()));
        Ok(())
    }

    /// PurgeQueue: every message goes; one purge per 60 s.
    pub fn purge_queue(&mut self, name: &str, now: Timestamp, writes: &mut Vec<QueueWrite>) -> Result<(), SqsError> {
        let queue = self.queue_mut(name)?;
        if let Some(last) = queue.last_purge
            && now < last + PURGE_INTERVAL
        {
            return Err(SqsError::new(
                SqsErrorCode::PurgeQueueInProgress,
                format!("Only one PurgeQueue operation on {name} is allowed every 60 seconds."),
            ));
        }
        queue.last_purge = Some(now);
        queue.messages.clear();
        queue.by_visible.clear();
        queue.groups.clear();
        writes.push(QueueWrite::PurgeMessages { queue: name.to_owned() });
        Ok(())
    }

    /// SendMessage.
    pub fn send_message(
        &mut self,
        name: &str,
        request: SendRequest,
        now: Timestamp,
        writes: &mut Vec<QueueWrite>,
    ) -> Result<SendOutcome, SqsError> {
        let queue = self.queue_mut(name)?;
        let attrs = &queue.record.attributes;
        let fifo = attrs.fifo_queue;
        if request.body.is_empty() {
            return Err(SqsError::missing_parameter("MessageBody"));
        }
        if !valid_chars(&request.body) {
            return Err(SqsError::new(
                SqsErrorCode::InvalidMessageContents,
                "Invalid characters found. Valid characters are #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD \
                 | #x10000 to #x10FFFF",
            ));
        }
        let attributes_size = validate_message_attributes(&request.message_attributes)?;
        let size = request.body.len() + attributes_size;
        if size > attrs.maximum_message_size as usize {
            return Err(SqsError::new(
                SqsErrorCode::InvalidParameterValue,
                format!(
                    "One or more parameters are invalid. Reason: Message must be shorter than {} bytes.",
                    attrs.maximum_message_size
                ),
            ));
        }
        if let Some(delay) = request.delay_seconds {
            if delay > MAX_DELAY_S {
                return Err(SqsError::invalid_parameter(
                    "DelaySeconds",
                    delay,
                    "DelaySeconds must be >= 0 and <= 900.",
                ));
            }
            if fifo {
                return Err(SqsError::invalid_parameter(
                    "DelaySeconds",
                    delay,
                    "The request include parameter that is not valid for this queue type.",
                ));
            }
        }
        let (group_id, dedup_id) = if fifo {
            let group =
                request.message_group_id.clone().ok_or_else(|| SqsError::missing_parameter("MessageGroupId"))?;
            check_fifo_id("MessageGroupId", &group)?;
            let dedup = match &request.message_deduplication_id {
                Some(id) => {
                    check_fifo_id("MessageDeduplicationId", id)?;
                    id.clone()
                }
                None if attrs.content_based_deduplication => {
                    let digest = sha2::Sha256::digest(request.body.as_bytes());
                    digest.iter().map(|b| format!("{b:02x}")).collect()
                }
                None => {
                    return Err(SqsError::new(
                        SqsErrorCode::InvalidParameterValue,
                        "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId \
                         provided explicitly",
                    ));
                }
            };
            (Some(group), Some(dedup))
        } else {
            if request.message_deduplication_id.is_some() {
                return Err(SqsError::invalid_parameter(
                    "MessageDeduplicationId",
                    request.message_deduplication_id.as_deref().unwrap_or_default(),
                    "The request includes a parameter that is not valid for this queue type.",
                ));
            }
            (request.message_group_id.clone(), None)
        };
        let md5_of_message_body = md5::body_md5(&request.body);
        let md5_of_message_attributes = md5::attributes_md5(&request.message_attributes);
        let md5_of_message_system_attributes = request.trace_header.as_ref().and_then(|trace| {
            let mut system = BTreeMap::new();
            system.insert("AWSTraceHeader".to_owned(), MessageAttributeValue::string("String", trace));
            md5::attributes_md5(&system)
        });

        // FIFO deduplication: a duplicate within five minutes is accepted
        // and not delivered again.
        let dedup_key = dedup_id.as_ref().map(|id| {
            if attrs.deduplication_scope == "messageGroup" {
                format!("{}\n{id}", group_id.as_deref().unwrap_or_default())
            } else {
                id.clone()
            }
        });
        if let Some(key) = &dedup_key
            && let Some(previous) = queue.dedup.get(key)
            && now < previous.expires_at
        {
            return Ok(SendOutcome {
                message_id: previous.message_id.clone(),
                md5_of_message_body,
                md5_of_message_attributes,
                md5_of_message_system_attributes,
                sequence_number: Some(format!("{:020}", previous.seq)),
            });
        }

        let delay = request.delay_seconds.unwrap_or(attrs.delay_seconds);
        let seq = queue.next_seq(now);
        let message_id = uuid::Uuid::new_v4().to_string();
        let record = MessageRecord {
            queue: name.to_owned(),
            seq,
            message_id: message_id.clone(),
            body: request.body,
            attributes: request.message_attributes,
            trace_header: request.trace_header,
            sent_at: now,
            first_receive_at: None,
            receive_count: 0,
            visible_at: now + secs(delay),
            received_at: None,
            receipt: String::new(),
            group_id,
            dedup_id,
            dead_letter_source_arn: None,
        };
        if let Some(key) = dedup_key {
            let dedup = DedupRecord {
                queue: name.to_owned(),
                key: key.clone(),
                message_id: message_id.clone(),
                seq,
                expires_at: now + DEDUP_WINDOW,
            };
            // Expired ids are forgotten once a minute, in memory and in the
            // store, so a busy FIFO queue costs O(ids) once a minute rather
            // than on every send.
            if now >= queue.next_dedup_sweep {
                queue.next_dedup_sweep = now + DEDUP_SWEEP_INTERVAL;
                queue.dedup.retain(|_, d| now < d.expires_at);
                writes.push(QueueWrite::ForgetDedup { queue: name.to_owned(), expired_by: now });
            }
            writes.push(QueueWrite::PutDedup(dedup.clone()));
            queue.dedup.insert(key, dedup);
        }
        writes.push(QueueWrite::PutMessage(record.clone()));
        queue.insert(record);
        Ok(SendOutcome {
            message_id,
            md5_of_message_body,
            md5_of_message_attributes,
            md5_of_message_system_attributes,
            sequence_number: fifo.then(|| format!("{seq:020}")),
        })
    }

    /// ReceiveMessage, one pass (no waiting): up to `max` messages, each made
    /// invisible for `visibility_timeout_s` (default: the queue's).
    pub fn receive_message(
        &mut self,
        name: &str,
        max: u32,
        visibility_timeout_s: Option<u32>,
        now: Timestamp,
        writes: &mut Vec<QueueWrite>,
    ) -> Result<ReceiveOutcome, SqsError> {
        let queue = self.queue(name)?;
        let fifo = queue.record.attributes.fifo_queue;
        let visibility = secs(visibility_timeout_s.unwrap_or(queue.record.attributes.visibility_timeout_s));
        let redrive = queue.record.attributes.redrive().and_then(|policy| {
            let target = self.queue_name_for_arn(&policy.dead_letter_target_arn)?.to_owned();
            Some((target, policy.max_receive_count))
        });
        if !fifo && queue.over_in_flight_limit(now) {
            return Err(SqsError::new(
                SqsErrorCode::OverLimit,
                format!("Too many messages in flight for queue {name} (the limit is {MAX_IN_FLIGHT})."),
            ));
        }
        let source_arn = self.queue_arn(name);
        let mut messages = Vec::new();
        let mut moves = Vec::new();
        let mut taken = HashSet::new();
        let Some(queue) = self.queues.get_mut(name) else { return Err(SqsError::queue_does_not_exist()) };
        // Candidates come in small rounds; another round runs only when
        // expired or redriven messages used up the last one.
        loop {
            let wanted = (max as usize - messages.len()) * 2 + 8;
            let candidates: Vec<u64> = if fifo {
                fifo_candidates(queue, now, &taken, wanted)
            } else {
                standard_candidates(queue, now, &taken, wanted)
            };
            if candidates.is_empty() {
                break;
            }
            let mut removed = false;
            for seq in candidates {
                if messages.len() >= max as usize {
                    break;
                }
                let Some(message) = queue.messages.get(&seq) else { continue };
                if queue.expired(message, now) {
                    queue.remove(seq);
                    writes.push(QueueWrite::DeleteMessage { queue: name.to_owned(), seq });
                    removed = true;
                    continue;
                }
                if let Some((_, max_receive_count)) = &redrive
                    && message.receive_count >= *max_receive_count
                {
                    if let Some(moved) = queue.remove(seq) {
                        writes.push(QueueWrite::DeleteMessage { queue: name.to_owned(), seq });
                        moves.push(moved);
                    }
                    removed = true;
                    continue;
                }
                let receipt = uuid::Uuid::new_v4().simple().to_string();
                queue.set_visible_at(seq, now + visibility);
                let Some(message) = queue.messages.get_mut(&seq) else { continue };
                message.receive_count += 1;
                message.first_receive_at.get_or_insert(now);
                message.received_at = Some(now);
                message.receipt.clone_from(&receipt);
                writes.push(QueueWrite::UpdateDelivery {
                    queue: name.to_owned(),
                    seq,
                    receive_count: message.receive_count,
                    first_receive_at: message.first_receive_at,
                    visible_at: message.visible_at,
                    received_at: message.received_at,
                    receipt: receipt.clone(),
                });
                taken.insert(seq);
                messages.push(received(message, receipt_handle(name, seq, &receipt), fifo));
            }
            if messages.len() >= max as usize || !removed {
                break;
            }
        }
        let next_change = queue.next_change(now);
        if let Some((target, _)) = redrive {
            for message in moves {
                self.move_to_dead_letter_queue(&target, message, &source_arn, now, writes);
            }
        }
        Ok(ReceiveOutcome { messages, next_change })
    }

    /// Moves a message to `target`, visible at once. A standard DLQ keeps
    /// the original send time (retention counts from it); a FIFO one resets
    /// it (queues.md §1.8).
    fn move_to_dead_letter_queue(
        &mut self,
        target: &str,
        mut message: MessageRecord,
        source_arn: &str,
        now: Timestamp,
        writes: &mut Vec<QueueWrite>,
    ) {
        let Some(dlq) = self.queues.get_mut(target) else { return };
        message.queue = target.to_owned();
        message.seq = dlq.next_seq(now);
        message.visible_at = now;
        message.receipt.clear();
        message.dead_letter_source_arn = Some(source_arn.to_owned());
        if dlq.record.attributes.fifo_queue {
            message.sent_at = now;
        }
        writes.push(QueueWrite::PutMessage(message.clone()));
        dlq.insert(message);
    }

    /// ReceiveMessage with a FIFO `ReceiveRequestAttemptId`: a retry with
    /// the same id within five minutes returns the same messages and
    /// receipt handles, as long as none of them was deleted or changed
    /// since; otherwise (and on standard queues, which ignore the id) it is
    /// an ordinary receive.
    pub fn receive_message_attempt(
        &mut self,
        name: &str,
        attempt_id: &str,
        max: u32,
        visibility_timeout_s: Option<u32>,
        now: Timestamp,
        writes: &mut Vec<QueueWrite>,
    ) -> Result<ReceiveOutcome, SqsError> {
        let queue = self.queue_mut(name)?;
        if !queue.record.attributes.fifo_queue {
            return self.receive_message(name, max, visibility_timeout_s, now, writes);
        }
        queue.attempts.retain(|_, (expires, _)| now < *expires);
        if let Some((_, messages)) = queue.attempts.get(attempt_id) {
            let unchanged = messages.iter().all(|m| {
                parse_receipt_handle(&m.receipt_handle).is_some_and(|(_, seq, receipt)| {
                    queue.messages.get(&seq).is_some_and(|stored| stored.receipt == receipt && stored.visible_at > now)
                })
            });
            if unchanged {
                return Ok(ReceiveOutcome { messages: messages.clone(), next_change: queue.next_change(now) });
            }
        }
        let outcome = self.receive_message(name, max, visibility_timeout_s, now, writes)?;
        if let Some(queue) = self.queues.get_mut(name) {
            queue.attempts.insert(attempt_id.to_owned(), (now + DEDUP_WINDOW, outcome.messages.clone()));
        }
        Ok(outcome)
    }

    /// DeleteMessage. A stale handle (the message was received again since)
    /// succeeds without deleting, as SQS documents.
    pub fn delete_message(
        &mut self,
        name: &str,
        receipt_handle: &str,
        writes: &mut Vec<QueueWrite>,
    ) -> Result<(), SqsError> {
        let queue = self.queue_mut(name)?;
        let (handle_queue, seq, receipt) =
            parse_receipt_handle(receipt_handle).ok_or_else(|| SqsError::receipt_handle_is_invalid(receipt_handle))?;
        if handle_queue != name {
            return Err(SqsError::receipt_handle_is_invalid(receipt_handle));
        }
        if queue.messages.get(&seq).is_some_and(|m| m.receipt == receipt) {
            queue.remove(seq);
            writes.push(QueueWrite::DeleteMessage { queue: name.to_owned(), seq });
        }
        Ok(())
    }

    /// ChangeMessageVisibility: the new timeout counts from `now`; the total
    /// since the receive may not pass 12 hours.
    pub fn change_message_visibility(
        &mut self,
        name: &str,
        receipt_handle: &str,
        visibility_timeout_s: u32,
        now: Timestamp,
        writes: &mut Vec<QueueWrite>,
    ) -> Result<(), SqsError> {
        let queue = self.queue_mut(name)?;
        let (handle_queue, seq, receipt) =
            parse_receipt_handle(receipt_handle).ok_or_else(|| SqsError::receipt_handle_is_invalid(receipt_handle))?;
        if handle_queue != name {
            return Err(SqsError::receipt_handle_is_invalid(receipt_handle));
        }
        if visibility_timeout_s > MAX_VISIBILITY_TIMEOUT_S {
            return Err(SqsError::invalid_parameter(
                "VisibilityTimeout",
                visibility_timeout_s,
                "Must be between 0 and 43200, if provided.",
            ));
        }
        let Some(message) = queue.messages.get(&seq).filter(|m| m.receipt == receipt) else {
            return Err(SqsError::invalid_parameter(
                "ReceiptHandle",
                receipt_handle,
                "Message does not exist or is not available for visibility timeout change.",
            ));
        };
        if message.visible_at <= now {
            return Err(SqsError::new(SqsErrorCode::MessageNotInflight, "The message referred to isn't in flight."));
        }
        let received_at = message.received_at.unwrap_or(now);
        let deadline = now + secs(visibility_timeout_s);
        if deadline > received_at + secs(MAX_VISIBILITY_TIMEOUT_S) {
            return Err(SqsError::invalid_parameter(
                "VisibilityTimeout",
                visibility_timeout_s,
                "Total VisibilityTimeout for the message is beyond the limit [43200 seconds]",
            ));
        }
        queue.set_visible_at(seq, deadline);
        let Some(message) = queue.messages.get(&seq) else { return Ok(()) };
        writes.push(QueueWrite::UpdateDelivery {
            queue: name.to_owned(),
            seq,
            receive_count: message.receive_count,
            first_receive_at: message.first_receive_at,
            visible_at: message.visible_at,
            received_at: message.received_at,
            receipt: message.receipt.clone(),
        });
        Ok(())
    }
}

impl Queue {
    /// Whether `MAX_IN_FLIGHT` messages are in flight. Only messages that
    /// are not visible are looked at, and at most that many of them, so a
    /// deep queue of visible messages costs nothing here.
    fn over_in_flight_limit(&self, now: Timestamp) -> bool {
        self.by_visible
            .range((Bound::Excluded((now, u64::MAX)), Bound::Unbounded))
            .filter(|(_, seq)| self.messages.get(seq).is_some_and(|m| m.receive_count > 0))
            .nth(MAX_IN_FLIGHT - 1)
            .is_some()
    }
}

fn check_fifo_id(parameter: &str, value: &str) -> Result<(), SqsError> {
    let ok = !value.is_empty() && value.len() <= 128 && value.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(SqsError::invalid_parameter(
            parameter,
            value,
            &format!("{parameter} can only include alphanumeric and punctuation characters. 1 to 128 in length."),
        ))
    }
}

/// Up to `limit` visible messages of a standard queue not yet taken by
/// this receive, earliest visibility first.
fn standard_candidates(queue: &Queue, now: Timestamp, taken: &HashSet<u64>, limit: usize) -> Vec<u64> {
    queue
        .by_visible
        .range(..=(now, u64::MAX))
        .map(|(_, seq)| *seq)
        .filter(|seq| !taken.contains(seq))
        .take(limit)
        .collect()
}

/// Up to `limit` receivable messages of a FIFO queue. Groups are taken
/// oldest first (by their first message), and as many messages of one group
/// as possible before the next, as SQS does; within a group, in order, up
/// to its first message that is not visible (in flight or delayed), which
/// blocks the rest of the group. The cost grows with the number of groups,
/// not of messages.
fn fifo_candidates(queue: &Queue, now: Timestamp, taken: &HashSet<u64>, limit: usize) -> Vec<u64> {
    let mut groups: Vec<(u64, &BTreeSet<u64>)> =
        queue.groups.values().filter_map(|seqs| seqs.first().map(|first| (*first, seqs))).collect();
    groups.sort_unstable_by_key(|(first, _)| *first);
    let mut out = Vec::new();
    for (_, seqs) in groups {
        for seq in seqs {
            if taken.contains(seq) {
                continue;
            }
            let Some(message) = queue.messages.get(seq) else { break };
            if message.visible_at > now {
                break;
            }
            out.push(*seq);
            if out.len() >= limit {
                return out;
            }
        }
    }
    out
}

fn received(message: &MessageRecord, receipt_handle: String, fifo: bool) -> ReceivedMessage {
    let mut attributes = BTreeMap::new();
    attributes.insert("SenderId".to_owned(), SENDER_ID.to_owned());
    attributes.insert("SentTimestamp".to_owned(), message.sent_at.as_unix_millis().to_string());
    attributes.insert("ApproximateReceiveCount".to_owned(), message.receive_count.to_string());
    if let Some(first) = message.first_receive_at {
        attributes.insert("ApproximateFirstReceiveTimestamp".to_owned(), first.as_unix_millis().to_string());
    }
    if fifo {
        attributes.insert("SequenceNumber".to_owned(), format!("{:020}", message.seq));
        if let Some(dedup) = &message.dedup_id {
            attributes.insert("MessageDeduplicationId".to_owned(), dedup.clone());
        }
    }
    if let Some(group) = &message.group_id {
        attributes.insert("MessageGroupId".to_owned(), group.clone());
    }
    if let Some(trace) = &message.trace_header {
        attributes.insert("AWSTraceHeader".to_owned(), trace.clone());
    }
    if let Some(source) = &message.dead_letter_source_arn {
        attributes.insert("DeadLetterQueueSourceArn".to_owned(), source.clone());
    }
    ReceivedMessage {
        message_id: message.message_id.clone(),
        receipt_handle,
        body: message.body.clone(),
        md5_of_body: md5::body_md5(&message.body),
        attributes,
        message_attributes: message.attributes.clone(),
        md5_of_message_attributes: md5::attributes_md5(&message.attributes),
    }
}

/// The largest total of a batch's bodies and attributes.
pub const MAX_BATCH_BYTES: usize = MAX_MESSAGE_BYTES as usize;

/// Batch-level checks shared by every `*Batch` operation: 1–10 entries,
/// distinct ids, ids of `[A-Za-z0-9_-]{1,80}`.
pub fn check_batch_ids<'a>(entry_kind: &str, ids: impl ExactSizeIterator<Item = &'a str>) -> Result<(), SqsError> {
    let count = ids.len();
    if count == 0 {
        return Err(SqsError::new(
            SqsErrorCode::EmptyBatchRequest,
            format!("There should be at least one {entry_kind} in the request."),
        ));
    }
    if count > MAX_BATCH_ENTRIES {
        return Err(SqsError::new(
            SqsErrorCode::TooManyEntriesInBatchRequest,
            format!("Maximum number of entries per request are {MAX_BATCH_ENTRIES}. You have sent {count}."),
        ));
    }
    let mut seen = HashSet::new();
    for id in ids {
        let ok =
            !id.is_empty() && id.len() <= 80 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok {
            return Err(SqsError::new(
                SqsErrorCode::InvalidBatchEntryId,
                "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at \
                 most 80 letters long.",
            ));
        }
        if !seen.insert(id) {
            return Err(SqsError::new(SqsErrorCode::BatchEntryIdsNotDistinct, format!("Id {id} repeated.")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
