//! [`QueueStore`] for [`Store`]: queues, messages and FIFO deduplication ids
//! in the tables of the `queues` migration.
//!
//! `commit_queue_writes` applies a whole group of writes (from many callers)
//! in one transaction with cached statements: one WAL sync for the group,
//! which is where the queue's write throughput comes from. Times are stored
//! in milliseconds; a visibility deadline read back is at most 1 ms early.

use std::collections::BTreeMap;

use cloudlet_core::Timestamp;
use cloudlet_queues::store::{DedupRecord, MessageRecord, QueueRecord};
use cloudlet_queues::{MessageAttributeValue, QueueAttributes, QueueStore, QueueStoreError, QueueWrite, StoredQueues};
use rusqlite::{Connection, Row, TransactionBehavior, params};

use crate::Store;

/// A row whose contents this build cannot read back.
#[derive(Debug, thiserror::Error)]
#[error("{table} row `{key}` has malformed JSON in `{column}`")]
struct CorruptJson {
    table: &'static str,
    key: String,
    column: &'static str,
    #[source]
    source: serde_json::Error,
}

fn query(operation: &'static str) -> impl Fn(rusqlite::Error) -> QueueStoreError {
    move |source| QueueStoreError::new(operation, source)
}

fn millis(timestamp: Timestamp) -> i64 {
    i64::try_from(timestamp.as_unix_millis()).unwrap_or(i64::MAX)
}

fn from_millis(millis: i64) -> Timestamp {
    Timestamp::from_unix_millis(u64::try_from(millis).unwrap_or(0))
}

fn seq_column(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

fn json<T: serde::Serialize>(value: &T) -> String {
    // Maps of strings and byte vectors always serialise.
    serde_json::to_string(value).unwrap_or_else(|_| "{}".to_owned())
}

fn parse<T: serde::de::DeserializeOwned>(
    text: &str,
    table: &'static str,
    key: &str,
    column: &'static str,
) -> Result<T, QueueStoreError> {
    serde_json::from_str(text).map_err(|source| {
        QueueStoreError::new("load_queues", CorruptJson { table, key: key.to_owned(), column, source })
    })
}

const MESSAGE_COLUMNS: &str = "queue_name, seq, message_id, body, attributes_json, trace_header, sent_at_ms, \
     first_receive_at_ms, receive_count, visible_at_ms, received_at_ms, receipt, group_id, dedup_id, \
     dead_letter_source_arn";

fn read_message(row: &Row<'_>) -> Result<MessageRecord, QueueStoreError> {
    let sql = query("load_queues");
    let queue: String = row.get(0).map_err(&sql)?;
    let seq = u64::try_from(row.get::<_, i64>(1).map_err(&sql)?).unwrap_or(0);
    let attributes_json: String = row.get(4).map_err(&sql)?;
    let attributes: BTreeMap<String, MessageAttributeValue> = if attributes_json == "{}" {
        BTreeMap::new()
    } else {
        parse(&attributes_json, "sqs_messages", &format!("{queue}/{seq}"), "attributes_json")?
    };
    Ok(MessageRecord {
        seq,
        message_id: row.get(2).map_err(&sql)?,
        body: row.get(3).map_err(&sql)?,
        attributes,
        trace_header: row.get(5).map_err(&sql)?,
        sent_at: from_millis(row.get(6).map_err(&sql)?),
        first_receive_at: row.get::<_, Option<i64>>(7).map_err(&sql)?.map(from_millis),
        receive_count: u32::try_from(row.get::<_, i64>(8).map_err(&sql)?).unwrap_or(0),
        visible_at: from_millis(row.get(9).map_err(&sql)?),
        received_at: row.get::<_, Option<i64>>(10).map_err(&sql)?.map(from_millis),
        receipt: row.get(11).map_err(&sql)?,
        group_id: row.get(12).map_err(&sql)?,
        dedup_id: row.get(13).map_err(&sql)?,
        dead_letter_source_arn: row.get(14).map_err(&sql)?,
        queue,
    })
}

fn load(conn: &Connection) -> Result<StoredQueues, QueueStoreError> {
    let sql = query("load_queues");
    let mut stored = StoredQueues::default();
    let mut statement = conn
        .prepare(
            "SELECT name, attributes_json, tags_json, created_at_ms, last_modified_ms FROM sqs_queues ORDER BY name",
        )
        .map_err(&sql)?;
    let mut rows = statement.query([]).map_err(&sql)?;
    while let Some(row) = rows.next().map_err(&sql)? {
        let name: String = row.get(0).map_err(&sql)?;
        let attributes: QueueAttributes =
            parse(&row.get::<_, String>(1).map_err(&sql)?, "sqs_queues", &name, "attributes_json")?;
        let tags = parse(&row.get::<_, String>(2).map_err(&sql)?, "sqs_queues", &name, "tags_json")?;
        stored.queues.push(QueueRecord {
            attributes,
            tags,
            created_at: from_millis(row.get(3).map_err(&sql)?),
            last_modified: from_millis(row.get(4).map_err(&sql)?),
            name,
        });
    }
    let mut statement =
        conn.prepare(&format!("SELECT {MESSAGE_COLUMNS} FROM sqs_messages ORDER BY queue_name, seq")).map_err(&sql)?;
    let mut rows = statement.query([]).map_err(&sql)?;
    while let Some(row) = rows.next().map_err(&sql)? {
        stored.messages.push(read_message(row)?);
    }
    let mut statement =
        conn.prepare("SELECT queue_name, dedup_key, message_id, seq, expires_at_ms FROM sqs_dedup").map_err(&sql)?;
    let mut rows = statement.query([]).map_err(&sql)?;
    while let Some(row) = rows.next().map_err(&sql)? {
        stored.dedup.push(DedupRecord {
            queue: row.get(0).map_err(&sql)?,
            key: row.get(1).map_err(&sql)?,
            message_id: row.get(2).map_err(&sql)?,
            seq: u64::try_from(row.get::<_, i64>(3).map_err(&sql)?).unwrap_or(0),
            expires_at: from_millis(row.get(4).map_err(&sql)?),
        });
    }
    Ok(stored)
}

fn apply(conn: &Connection, write: &QueueWrite) -> rusqlite::Result<()> {
    match write {
        QueueWrite::PutQueue(queue) => {
            conn.prepare_cached(
                "INSERT INTO sqs_queues (name, attributes_json, tags_json, created_at_ms, last_modified_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (name) DO UPDATE SET attributes_json = excluded.attributes_json,
                     tags_json = excluded.tags_json, last_modified_ms = excluded.last_modified_ms",
            )?
            .execute(params![
                queue.name,
                json(&queue.attributes),
                json(&queue.tags),
                millis(queue.created_at),
                millis(queue.last_modified)
            ])?;
        }
        QueueWrite::DeleteQueue { name } => {
            conn.prepare_cached("DELETE FROM sqs_messages WHERE queue_name = ?1")?.execute([name])?;
            conn.prepare_cached("DELETE FROM sqs_dedup WHERE queue_name = ?1")?.execute([name])?;
            conn.prepare_cached("DELETE FROM sqs_queues WHERE name = ?1")?.execute([name])?;
        }
        QueueWrite::PutMessage(m) => {
            let attributes = if m.attributes.is_empty() { "{}".to_owned() } else { json(&m.attributes) };
            conn.prepare_cached(&format!(
                "INSERT INTO sqs_messages ({MESSAGE_COLUMNS})
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
            ))?
            .execute(params![
                m.queue,
                seq_column(m.seq),
                m.message_id,
                m.body,
                attributes,
                m.trace_header,
                millis(m.sent_at),
                m.first_receive_at.map(millis),
                i64::from(m.receive_count),
                millis(m.visible_at),
                m.received_at.map(millis),
                m.receipt,
                m.group_id,
                m.dedup_id,
                m.dead_letter_source_arn
            ])?;
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
            conn.prepare_cached(
                "UPDATE sqs_messages SET receive_count = ?3, first_receive_at_ms = ?4, visible_at_ms = ?5,
                     received_at_ms = ?6, receipt = ?7
                 WHERE queue_name = ?1 AND seq = ?2",
            )?
            .execute(params![
                queue,
                seq_column(*seq),
                i64::from(*receive_count),
                first_receive_at.map(millis),
                millis(*visible_at),
                received_at.map(millis),
                receipt
            ])?;
        }
        QueueWrite::DeleteMessage { queue, seq } => {
            conn.prepare_cached("DELETE FROM sqs_messages WHERE queue_name = ?1 AND seq = ?2")?
                .execute(params![queue, seq_column(*seq)])?;
        }
        QueueWrite::PurgeMessages { queue } => {
            conn.prepare_cached("DELETE FROM sqs_messages WHERE queue_name = ?1")?.execute([queue])?;
        }
        QueueWrite::PutDedup(d) => {
            conn.prepare_cached(
                "INSERT INTO sqs_dedup (queue_name, dedup_key, message_id, seq, expires_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (queue_name, dedup_key) DO UPDATE SET message_id = excluded.message_id,
                     seq = excluded.seq, expires_at_ms = excluded.expires_at_ms",
            )?
            .execute(params![d.queue, d.key, d.message_id, seq_column(d.seq), millis(d.expires_at)])?;
        }
        QueueWrite::ForgetDedup { queue, expired_by } => {
            conn.prepare_cached("DELETE FROM sqs_dedup WHERE queue_name = ?1 AND expires_at_ms <= ?2")?
                .execute(params![queue, millis(*expired_by)])?;
        }
    }
    Ok(())
}

impl QueueStore for Store {
    fn load_queues(&self) -> Result<StoredQueues, QueueStoreError> {
        let mut conn = self.lock();
        // One read transaction, so the tables are read at one point in time.
        let tx = conn.transaction().map_err(query("load_queues"))?;
        let stored = load(&tx)?;
        tx.commit().map_err(query("load_queues"))?;
        Ok(stored)
    }

    fn commit_queue_writes(&self, writes: &[QueueWrite]) -> Result<(), QueueStoreError> {
        let sql = query("commit_queue_writes");
        let mut conn = self.lock();
        // IMMEDIATE takes the write lock up front, so a busy database is
        // waited for (busy_timeout) instead of failing at the first write.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(&sql)?;
        for write in writes {
            apply(&tx, write).map_err(&sql)?;
        }
        tx.commit().map_err(&sql)
    }
}
