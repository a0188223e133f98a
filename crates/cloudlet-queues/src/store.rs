//! What the queue subsystem persists, as plain records, and the
//! [`QueueStore`] trait that `cloudlet-store` implements over SQL.
//!
//! The core produces a list of [`QueueWrite`]s for every change; the service
//! commits them, many callers' writes in one transaction (group commit),
//! before it acknowledges any of them. A restart rebuilds the core from
//! [`QueueStore::load`].
//!
//! This module knows nothing about SQL or HTTP.

use std::collections::BTreeMap;
use std::error::Error as StdError;
use std::sync::Mutex;

use cloudlet_core::Timestamp;

use crate::attributes::{MessageAttributeValue, QueueAttributes};

/// A store failure, with the operation that failed and its cause.
#[derive(Debug, thiserror::Error)]
#[error("queue store operation `{operation}` failed")]
pub struct QueueStoreError {
    pub operation: &'static str,
    #[source]
    pub source: Box<dyn StdError + Send + Sync>,
}

impl QueueStoreError {
    pub fn new(operation: &'static str, source: impl Into<Box<dyn StdError + Send + Sync>>) -> QueueStoreError {
        QueueStoreError { operation, source: source.into() }
    }
}

/// One queue's definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueRecord {
    pub name: String,
    pub attributes: QueueAttributes,
    pub tags: BTreeMap<String, String>,
    pub created_at: Timestamp,
    pub last_modified: Timestamp,
}

/// One message and its delivery state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRecord {
    pub queue: String,
    /// Unique and increasing within the queue; FIFO order and the
    /// `SequenceNumber` come from it.
    pub seq: u64,
    pub message_id: String,
    pub body: String,
    pub attributes: BTreeMap<String, MessageAttributeValue>,
    pub trace_header: Option<String>,
    pub sent_at: Timestamp,
    pub first_receive_at: Option<Timestamp>,
    pub receive_count: u32,
    /// When the message may next be received (after a delay or a
    /// visibility timeout).
    pub visible_at: Timestamp,
    /// When it was last received (the 12-hour visibility cap counts from it).
    pub received_at: Option<Timestamp>,
    /// The random part of the latest receipt handle; empty before the first
    /// receive.
    pub receipt: String,
    pub group_id: Option<String>,
    pub dedup_id: Option<String>,
    /// Set when redrive moved the message here from another queue.
    pub dead_letter_source_arn: Option<String>,
}

/// A FIFO deduplication entry: the id is remembered for five minutes, even
/// after the message is deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DedupRecord {
    pub queue: String,
    /// The deduplication id, prefixed with the group under
    /// `DeduplicationScope=messageGroup`.
    pub key: String,
    pub message_id: String,
    pub seq: u64,
    pub expires_at: Timestamp,
}

/// One change to persist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueWrite {
    /// Create or replace a queue's definition.
    PutQueue(QueueRecord),
    /// Delete a queue with its messages and deduplication entries.
    DeleteQueue {
        name: String,
    },
    /// Insert or replace a message.
    PutMessage(MessageRecord),
    /// A receive or a visibility change.
    UpdateDelivery {
        queue: String,
        seq: u64,
        receive_count: u32,
        first_receive_at: Option<Timestamp>,
        visible_at: Timestamp,
        received_at: Option<Timestamp>,
        receipt: String,
    },
    DeleteMessage {
        queue: String,
        seq: u64,
    },
    /// Delete every message of a queue.
    PurgeMessages {
        queue: String,
    },
    PutDedup(DedupRecord),
    /// Forget a queue's deduplication ids that expired by `expired_by`.
    ForgetDedup {
        queue: String,
        expired_by: Timestamp,
    },
}

/// Everything a store holds, for the core to rebuild itself from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredQueues {
    pub queues: Vec<QueueRecord>,
    pub messages: Vec<MessageRecord>,
    pub dedup: Vec<DedupRecord>,
}

/// The persistence the queue subsystem needs.
pub trait QueueStore: Send + Sync + std::fmt::Debug {
    fn load_queues(&self) -> Result<StoredQueues, QueueStoreError>;

    /// Applies `writes` in order, in one transaction: when this returns
    /// `Ok`, all of them are durable; on `Err`, none is.
    fn commit_queue_writes(&self, writes: &[QueueWrite]) -> Result<(), QueueStoreError>;
}

/// A store in memory, for tests: it applies writes to a [`StoredQueues`].
#[derive(Debug, Default)]
pub struct MemoryQueueStore {
    state: Mutex<StoredQueues>,
}

impl MemoryQueueStore {
    pub fn new() -> MemoryQueueStore {
        MemoryQueueStore::default()
    }
}

impl QueueStore for MemoryQueueStore {
    fn load_queues(&self) -> Result<StoredQueues, QueueStoreError> {
        Ok(self.state.lock().unwrap_or_else(|p| p.into_inner()).clone())
    }

    fn commit_queue_writes(&self, writes: &[QueueWrite]) -> Result<(), QueueStoreError> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        for write in writes {
            match write {
                QueueWrite::PutQueue(record) => {
                    state.queues.retain(|q| q.name != record.name);
                    state.queues.push(record.clone());
                }
                QueueWrite::DeleteQueue { name } => {
                    state.queues.retain(|q| &q.name != name);
                    state.messages.retain(|m| &m.queue != name);
                    state.dedup.retain(|d| &d.queue != name);
                }
                QueueWrite::PutMessage(record) => {
                    state.messages.retain(|m| !(m.queue == record.queue && m.seq == record.seq));
                    state.messages.push(record.clone());
                }
                QueueWrite::UpdateDelivery {
                    queue,
                    seq,
                    receive_count,
                    first_receive_at,
                    visible_at,
                    received_at,
                    receipt,
                } => {
                    if let Some(m) = state.messages.iter_mut().find(|m| &m.queue == queue && m.seq == *seq) {
                        m.receive_count = *receive_count;
                        m.first_receive_at = *first_receive_at;
                        m.visible_at = *visible_at;
                        m.received_at = *received_at;
                        m.receipt.clone_from(receipt);
                    }
                }
                QueueWrite::DeleteMessage { queue, seq } => {
                    state.messages.retain(|m| !(&m.queue == queue && m.seq == *seq));
                }
                QueueWrite::PurgeMessages { queue } => state.messages.retain(|m| &m.queue != queue),
                QueueWrite::PutDedup(record) => {
                    state.dedup.retain(|d| !(d.queue == record.queue && d.key == record.key));
                    state.dedup.push(record.clone());
                }
                QueueWrite::ForgetDedup { queue, expired_by } => {
                    state.dedup.retain(|d| !(&d.queue == queue && d.expires_at <= *expired_by));
                }
            }
        }
        Ok(())
    }
}
