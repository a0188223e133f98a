//! The queue subsystem's persistence on SQLite: every kind of write round
//! trips, and the service rebuilt on a reopened store sees exactly what was
//! acknowledged.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use cloudlet_core::{AwsScope, ManualClock};
use cloudlet_queues::{MessageAttributeValue, QueueCore, QueueStore, Queues, ReceiveRequest, SendRequest};

use super::*;

fn attrs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

#[test]
fn writes_round_trip_through_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let mut core = QueueCore::new(AwsScope::default());
    let mut writes = Vec::new();
    let now = t0();
    core.create_queue("dlq.fifo", &attrs(&[("FifoQueue", "true")]), &BTreeMap::new(), now, &mut writes).expect("dlq");
    let tags = attrs(&[("team", "a")]);
    core.create_queue("q.fifo", &attrs(&[("FifoQueue", "true"), ("VisibilityTimeout", "7")]), &tags, now, &mut writes)
        .expect("create");
    let mut message_attributes = BTreeMap::new();
    message_attributes.insert("s".to_owned(), MessageAttributeValue::string("String", "v"));
    message_attributes.insert(
        "b".to_owned(),
        MessageAttributeValue { data_type: "Binary".into(), string_value: None, binary_value: Some(vec![0, 1, 255]) },
    );
    for i in 0..3 {
        let request = SendRequest {
            body: format!("body {i} ✓"),
            message_attributes: message_attributes.clone(),
            message_group_id: Some("g".into()),
            message_deduplication_id: Some(i.to_string()),
            trace_header: Some("Root=1-abc".into()),
            ..SendRequest::default()
        };
        core.send_message("q.fifo", request, now, &mut writes).expect("send");
    }
    let got = core.receive_message("q.fifo", 2, None, now, &mut writes).expect("receive").messages;
    core.delete_message("q.fifo", &got[0].receipt_handle, &mut writes).expect("delete");
    store.commit_queue_writes(&writes).expect("commit");
    drop(store);

    let store = open(dir.path());
    let stored = store.load_queues().expect("load");
    assert_eq!(stored.queues.len(), 2);
    assert_eq!(stored.messages.len(), 2);
    assert_eq!(stored.dedup.len(), 3);
    let mut restored = QueueCore::restore(AwsScope::default(), stored);
    assert_eq!(restored.tags("q.fifo").expect("tags"), tags);
    // Message 1 is in flight (7 s); message 2 waits behind it in the group.
    assert!(restored.receive_message("q.fifo", 10, None, now, &mut Vec::new()).expect("receive").messages.is_empty());
    let later = now + Duration::from_secs(7);
    let again = restored.receive_message("q.fifo", 10, None, later, &mut Vec::new()).expect("receive").messages;
    assert_eq!(again.len(), 2);
    assert_eq!(again[0].body, "body 1 ✓");
    assert_eq!(again[0].attributes["ApproximateReceiveCount"], "2");
    assert_eq!(again[0].message_attributes, message_attributes);
    assert_eq!(again[0].md5_of_message_attributes, got[1].md5_of_message_attributes);
    assert_eq!(again[1].attributes["ApproximateReceiveCount"], "1");
    // Deduplication ids survive the restart too.
    let dup = SendRequest {
        body: "dup".into(),
        message_group_id: Some("g".into()),
        message_deduplication_id: Some("0".into()),
        ..SendRequest::default()
    };
    let outcome = restored.send_message("q.fifo", dup, later, &mut Vec::new()).expect("send");
    assert_eq!(outcome.sequence_number.as_deref(), got[0].attributes.get("SequenceNumber").map(String::as_str));
}

/// Many concurrent senders share commits; every acknowledged message is
/// on disk. Prints the rate it reached (not a timed assertion).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sends_are_group_committed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(open(dir.path()));
    let clock = ManualClock::new(t0());
    let queues =
        Queues::open(Arc::clone(&store) as Arc<dyn QueueStore>, AwsScope::default(), clock.shared()).expect("open");
    queues.create_queue("q", &BTreeMap::new(), &BTreeMap::new()).await.expect("create");
    let started = std::time::Instant::now();
    let mut tasks = Vec::new();
    for task in 0..32 {
        let queues = Arc::clone(&queues);
        tasks.push(tokio::spawn(async move {
            for i in 0..20 {
                let entries = (0..10).map(|e| {
                    (e.to_string(), SendRequest { body: format!("{task}-{i}-{e}"), ..SendRequest::default() })
                });
                let result = queues.send_message_batch("q", entries.collect()).await.expect("batch");
                assert_eq!(result.successful.len(), 10);
            }
        }));
    }
    for task in tasks {
        task.await.expect("join");
    }
    let elapsed = started.elapsed();
    tracing::info!(messages = 6400, ?elapsed, "group-committed sends");
    let stored = store.load_queues().expect("load");
    assert_eq!(stored.messages.len(), 32 * 20 * 10);
    let got = queues
        .receive_message("q", ReceiveRequest { max_number_of_messages: Some(10), ..ReceiveRequest::default() })
        .await
        .expect("receive");
    assert_eq!(got.len(), 10);
}
