//! The core's rules on a number for a clock: visibility at its exact
//! boundary, redrive, FIFO groups and deduplication, retention, errors.

use std::collections::BTreeMap;
use std::time::Duration;

use cloudlet_core::{AwsScope, Timestamp};

use super::*;
use crate::store::{MemoryQueueStore, QueueStore};

const T0: Timestamp = Timestamp::from_unix_secs(1_800_000_000);

fn attrs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

fn core_with(name: &str, pairs: &[(&str, &str)]) -> QueueCore {
    let mut core = QueueCore::new(AwsScope::default());
    core.create_queue(name, &attrs(pairs), &BTreeMap::new(), T0, &mut Vec::new()).expect("create");
    core
}

fn send(core: &mut QueueCore, queue: &str, body: &str, now: Timestamp) -> SendOutcome {
    let request = SendRequest { body: body.to_owned(), ..SendRequest::default() };
    core.send_message(queue, request, now, &mut Vec::new()).expect("send")
}

fn send_fifo(core: &mut QueueCore, queue: &str, body: &str, group: &str, dedup: &str, now: Timestamp) -> SendOutcome {
    let request = SendRequest {
        body: body.to_owned(),
        message_group_id: Some(group.to_owned()),
        message_deduplication_id: Some(dedup.to_owned()),
        ..SendRequest::default()
    };
    core.send_message(queue, request, now, &mut Vec::new()).expect("send")
}

fn receive(core: &mut QueueCore, queue: &str, max: u32, now: Timestamp) -> Vec<ReceivedMessage> {
    core.receive_message(queue, max, None, now, &mut Vec::new()).expect("receive").messages
}

fn bodies(messages: &[ReceivedMessage]) -> Vec<&str> {
    messages.iter().map(|m| m.body.as_str()).collect()
}

#[test]
fn visibility_expires_exactly_at_the_boundary() {
    let mut core = core_with("q", &[("VisibilityTimeout", "30")]);
    send(&mut core, "q", "a", T0);
    let first = receive(&mut core, "q", 1, T0);
    assert_eq!(first[0].attributes["ApproximateReceiveCount"], "1");
    let just_before = T0 + Duration::from_secs(30) - Duration::from_nanos(1);
    assert!(receive(&mut core, "q", 1, just_before).is_empty());
    let outcome = core.receive_message("q", 1, None, just_before, &mut Vec::new()).expect("receive");
    assert_eq!(outcome.next_change, Some(T0 + Duration::from_secs(30)));
    let again = receive(&mut core, "q", 1, T0 + Duration::from_secs(30));
    assert_eq!(bodies(&again), ["a"]);
    assert_eq!(again[0].attributes["ApproximateReceiveCount"], "2");
    assert_eq!(again[0].attributes["ApproximateFirstReceiveTimestamp"], T0.as_unix_millis().to_string());
    assert_ne!(again[0].receipt_handle, first[0].receipt_handle);
}

#[test]
fn delete_needs_the_latest_receipt_handle() {
    let mut core = core_with("q", &[("VisibilityTimeout", "1")]);
    send(&mut core, "q", "a", T0);
    let old = receive(&mut core, "q", 1, T0).remove(0).receipt_handle;
    let new = receive(&mut core, "q", 1, T0 + Duration::from_secs(1)).remove(0).receipt_handle;
    core.delete_message("q", &old, &mut Vec::new()).expect("stale handle succeeds");
    assert_eq!(core.counts("q", T0 + Duration::from_secs(1)).expect("counts").not_visible, 1);
    core.delete_message("q", &new, &mut Vec::new()).expect("delete");
    assert!(receive(&mut core, "q", 1, T0 + Duration::from_secs(100)).is_empty());
    let err = core.delete_message("q", "garbage", &mut Vec::new()).expect_err("invalid");
    assert_eq!(err.code, SqsErrorCode::ReceiptHandleIsInvalid);
}

#[test]
fn change_visibility_counts_from_the_call_and_is_capped_at_12_hours() {
    let mut core = core_with("q", &[]);
    send(&mut core, "q", "a", T0);
    let handle = receive(&mut core, "q", 1, T0).remove(0).receipt_handle;
    let t = T0 + Duration::from_secs(20);
    core.change_message_visibility("q", &handle, 60, t, &mut Vec::new()).expect("change");
    assert!(receive(&mut core, "q", 1, T0 + Duration::from_secs(79)).is_empty());
    let err = core
        .change_message_visibility("q", &handle, 43_200, T0 + Duration::from_secs(30), &mut Vec::new())
        .expect_err("over the cap");
    assert!(err.message.contains("Total VisibilityTimeout"), "{err}");
    core.change_message_visibility("q", &handle, 0, t, &mut Vec::new()).expect("make visible");
    let err = core.change_message_visibility("q", &handle, 10, t, &mut Vec::new()).expect_err("not in flight");
    assert_eq!(err.code, SqsErrorCode::MessageNotInflight);
    assert_eq!(bodies(&receive(&mut core, "q", 1, t)), ["a"]);
}

#[test]
fn delays_and_counts() {
    let mut core = core_with("q", &[("DelaySeconds", "5")]);
    send(&mut core, "q", "delayed", T0);
    let request = SendRequest { body: "now".into(), delay_seconds: Some(0), ..SendRequest::default() };
    core.send_message("q", request, T0, &mut Vec::new()).expect("send");
    let counts = core.counts("q", T0).expect("counts");
    assert_eq!((counts.visible, counts.not_visible, counts.delayed), (1, 0, 1));
    assert_eq!(bodies(&receive(&mut core, "q", 10, T0)), ["now"]);
    assert_eq!(bodies(&receive(&mut core, "q", 10, T0 + Duration::from_secs(5))), ["delayed"]);
}

#[test]
fn retention_drops_old_messages() {
    let mut core = core_with("q", &[("MessageRetentionPeriod", "60")]);
    send(&mut core, "q", "old", T0);
    let mut writes = Vec::new();
    let got = core.receive_message("q", 1, None, T0 + Duration::from_secs(60), &mut writes).expect("receive");
    assert!(got.messages.is_empty());
    assert!(matches!(writes[0], QueueWrite::DeleteMessage { .. }));

    // Many expired messages ahead of a live one do not hide it.
    for i in 0..40 {
        send(&mut core, "q", &format!("old {i}"), T0 + Duration::from_secs(10));
    }
    send(&mut core, "q", "fresh", T0 + Duration::from_secs(40));
    let got = receive(&mut core, "q", 1, T0 + Duration::from_secs(70));
    assert_eq!(bodies(&got), ["fresh"]);
    assert_eq!(core.counts("q", T0 + Duration::from_secs(70)).expect("counts").not_visible, 1);
}

#[test]
fn redrive_moves_after_max_receive_count_keeping_timestamps() {
    let mut core = core_with("dlq", &[]);
    let dlq_arn = core.queue_arn("dlq");
    let policy = format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"2"}}"#);
    core.create_queue(
        "src",
        &attrs(&[("RedrivePolicy", &policy), ("VisibilityTimeout", "1")]),
        &BTreeMap::new(),
        T0,
        &mut Vec::new(),
    )
    .expect("create");
    let sent = send(&mut core, "src", "poison", T0);
    assert_eq!(receive(&mut core, "src", 1, T0).len(), 1);
    assert_eq!(receive(&mut core, "src", 1, T0 + Duration::from_secs(1)).len(), 1);
    // The third receive moves it instead of returning it.
    let t = T0 + Duration::from_secs(2);
    assert!(receive(&mut core, "src", 1, t).is_empty());
    let moved = receive(&mut core, "dlq", 1, t);
    assert_eq!(moved[0].message_id, sent.message_id);
    assert_eq!(moved[0].attributes["SentTimestamp"], T0.as_unix_millis().to_string());
    assert_eq!(moved[0].attributes["ApproximateReceiveCount"], "3");
    assert_eq!(moved[0].attributes["DeadLetterQueueSourceArn"], core.queue_arn("src"));
    assert_eq!(core.list_dead_letter_source_queues("dlq").expect("sources"), ["src"]);
}

#[test]
fn redrive_policy_needs_an_existing_queue_of_the_same_type() {
    let mut core = core_with("f.fifo", &[("FifoQueue", "true")]);
    let arn = core.queue_arn("f.fifo");
    let policy = format!(r#"{{"deadLetterTargetArn":"{arn}","maxReceiveCount":3}}"#);
    let err = core
        .create_queue("std", &attrs(&[("RedrivePolicy", &policy)]), &BTreeMap::new(), T0, &mut Vec::new())
        .expect_err("type mismatch");
    assert_eq!(err.code, SqsErrorCode::InvalidParameterValue);
}

#[test]
fn fifo_group_is_blocked_while_a_message_is_in_flight() {
    let mut core = core_with("q.fifo", &[("FifoQueue", "true")]);
    send_fifo(&mut core, "q.fifo", "a1", "a", "1", T0);
    send_fifo(&mut core, "q.fifo", "a2", "a", "2", T0);
    send_fifo(&mut core, "q.fifo", "b1", "b", "3", T0);
    let first = receive(&mut core, "q.fifo", 1, T0);
    assert_eq!(bodies(&first), ["a1"]);
    // a2 waits behind a1; b1 is free.
    assert_eq!(bodies(&receive(&mut core, "q.fifo", 10, T0)), ["b1"]);
    assert!(receive(&mut core, "q.fifo", 10, T0).is_empty());
    core.delete_message("q.fifo", &first[0].receipt_handle, &mut Vec::new()).expect("delete");
    assert_eq!(bodies(&receive(&mut core, "q.fifo", 10, T0)), ["a2"]);
}

#[test]
fn fifo_returns_a_group_in_order_in_one_receive() {
    let mut core = core_with("q.fifo", &[("FifoQueue", "true")]);
    for i in 0..5 {
        send_fifo(&mut core, "q.fifo", &format!("m{i}"), "g", &i.to_string(), T0);
    }
    let got = receive(&mut core, "q.fifo", 10, T0);
    assert_eq!(bodies(&got), ["m0", "m1", "m2", "m3", "m4"]);
    let numbers: Vec<&String> = got.iter().map(|m| &m.attributes["SequenceNumber"]).collect();
    assert!(numbers.windows(2).all(|w| w[0] < w[1]), "{numbers:?}");
    assert_eq!(numbers[0].len(), 20);
}

#[test]
fn fifo_takes_one_group_before_the_next_oldest_group_first() {
    let mut core = core_with("q.fifo", &[("FifoQueue", "true")]);
    for (i, (body, group)) in [("b1", "b"), ("a1", "a"), ("b2", "b"), ("a2", "a")].into_iter().enumerate() {
        send_fifo(&mut core, "q.fifo", body, group, &i.to_string(), T0);
    }
    assert_eq!(bodies(&receive(&mut core, "q.fifo", 10, T0)), ["b1", "b2", "a1", "a2"]);
}

#[test]
fn a_long_blocked_group_does_not_hide_the_others() {
    let mut core = core_with("q.fifo", &[("FifoQueue", "true")]);
    for i in 0..20_000 {
        send_fifo(&mut core, "q.fifo", &format!("a{i}"), "a", &format!("a{i}"), T0);
    }
    send_fifo(&mut core, "q.fifo", "b0", "b", "b0", T0);
    assert_eq!(bodies(&receive(&mut core, "q.fifo", 1, T0)), ["a0"]);
    assert_eq!(bodies(&receive(&mut core, "q.fifo", 10, T0)), ["b0"]);
    assert!(receive(&mut core, "q.fifo", 10, T0).is_empty());
}

#[test]
fn fifo_deduplicates_for_five_minutes() {
    let mut core = core_with("q.fifo", &[("FifoQueue", "true")]);
    let first = send_fifo(&mut core, "q.fifo", "x", "g", "d", T0);
    let dup = send_fifo(&mut core, "q.fifo", "x", "g", "d", T0 + DEDUP_WINDOW - Duration::from_nanos(1));
    assert_eq!(first.message_id, dup.message_id);
    assert_eq!(first.sequence_number, dup.sequence_number);
    let got = receive(&mut core, "q.fifo", 10, T0);
    core.delete_message("q.fifo", &got[0].receipt_handle, &mut Vec::new()).expect("delete");
    // Still remembered after the delete, forgotten after five minutes.
    let dup = send_fifo(&mut core, "q.fifo", "x", "g", "d", T0 + Duration::from_secs(10));
    assert_eq!(dup.message_id, first.message_id);
    let later = send_fifo(&mut core, "q.fifo", "x", "g", "d", T0 + DEDUP_WINDOW);
    assert_ne!(later.message_id, first.message_id);

    // Expired ids are swept from the store too.
    let store = MemoryQueueStore::new();
    let mut writes = Vec::new();
    let mut core = QueueCore::new(AwsScope::default());
    core.create_queue("f.fifo", &attrs(&[("FifoQueue", "true")]), &BTreeMap::new(), T0, &mut writes).expect("create");
    let request = |id: &str| SendRequest {
        body: "b".into(),
        message_group_id: Some("g".into()),
        message_deduplication_id: Some(id.into()),
        ..SendRequest::default()
    };
    core.send_message("f.fifo", request("old"), T0, &mut writes).expect("send");
    core.send_message("f.fifo", request("new"), T0 + DEDUP_WINDOW + DEDUP_SWEEP_INTERVAL, &mut writes).expect("send");
    store.commit_queue_writes(&writes).expect("commit");
    let keys: Vec<String> = store.load_queues().expect("load").dedup.into_iter().map(|d| d.key).collect();
    assert_eq!(keys, ["new"]);
}

#[test]
fn fifo_content_based_deduplication_and_required_ids() {
    let mut core = core_with("q.fifo", &[("FifoQueue", "true")]);
    let request = SendRequest { body: "x".into(), message_group_id: Some("g".into()), ..SendRequest::default() };
    let err = core.send_message("q.fifo", request.clone(), T0, &mut Vec::new()).expect_err("no dedup id");
    assert_eq!(err.code, SqsErrorCode::InvalidParameterValue);
    let no_group = SendRequest { body: "x".into(), ..SendRequest::default() };
    let err = core.send_message("q.fifo", no_group, T0, &mut Vec::new()).expect_err("no group");
    assert_eq!(err.code, SqsErrorCode::MissingParameter);
    core.set_queue_attributes("q.fifo", &attrs(&[("ContentBasedDeduplication", "true")]), T0, &mut Vec::new())
        .expect("set");
    let a = core.send_message("q.fifo", request.clone(), T0, &mut Vec::new()).expect("send");
    let b = core.send_message("q.fifo", request, T0, &mut Vec::new()).expect("send");
    assert_eq!(a.message_id, b.message_id);
}

#[test]
fn create_queue_is_idempotent_only_with_the_same_attributes() {
    let mut core = core_with("q", &[("VisibilityTimeout", "40")]);
    core.create_queue("q", &attrs(&[("VisibilityTimeout", "40")]), &BTreeMap::new(), T0, &mut Vec::new())
        .expect("same attributes");
    let err = core
        .create_queue("q", &attrs(&[("VisibilityTimeout", "41")]), &BTreeMap::new(), T0, &mut Vec::new())
        .expect_err("different");
    assert_eq!(err.code, SqsErrorCode::QueueNameExists);
    assert_eq!(
        err.message,
        "A queue already exists with the same name and a different value for attribute VisibilityTimeout"
    );
    core.delete_queue("q", T0, &mut Vec::new()).expect("delete");
    let err = core
        .create_queue("q", &BTreeMap::new(), &BTreeMap::new(), T0 + Duration::from_secs(59), &mut Vec::new())
        .expect_err("recently deleted");
    assert_eq!(err.code, SqsErrorCode::QueueDeletedRecently);
    core.create_queue("q", &BTreeMap::new(), &BTreeMap::new(), T0 + Duration::from_secs(60), &mut Vec::new())
        .expect("after 60 s");
}

#[test]
fn attribute_validation_uses_sqs_errors() {
    let mut core = QueueCore::new(AwsScope::default());
    let mut writes = Vec::new();
    let err = core
        .create_queue("q", &attrs(&[("VisibilityTimeout", "43201")]), &BTreeMap::new(), T0, &mut writes)
        .expect_err("range");
    assert_eq!(
        (err.code, err.message.as_str()),
        (SqsErrorCode::InvalidAttributeValue, "Invalid value for the parameter VisibilityTimeout.")
    );
    let err = core.create_queue("q", &attrs(&[("Bogus", "1")]), &BTreeMap::new(), T0, &mut writes).expect_err("name");
    assert_eq!((err.code, err.message.as_str()), (SqsErrorCode::InvalidAttributeName, "Unknown Attribute Bogus."));
    let err = core.create_queue("bad name", &BTreeMap::new(), &BTreeMap::new(), T0, &mut writes).expect_err("name");
    assert_eq!(err.code, SqsErrorCode::InvalidParameterValue);
    let err =
        core.create_queue("q", &attrs(&[("FifoQueue", "true")]), &BTreeMap::new(), T0, &mut writes).expect_err("fifo");
    assert_eq!(err.code, SqsErrorCode::InvalidParameterValue);
    assert!(writes.is_empty());
}

#[test]
fn message_validation() {
    let mut core = core_with("q", &[("MaximumMessageSize", "1024")]);
    let too_big = SendRequest { body: "x".repeat(1025), ..SendRequest::default() };
    let err = core.send_message("q", too_big, T0, &mut Vec::new()).expect_err("size");
    assert_eq!(err.message, "One or more parameters are invalid. Reason: Message must be shorter than 1024 bytes.");
    let bad = SendRequest { body: "a\u{1}b".into(), ..SendRequest::default() };
    assert_eq!(
        core.send_message("q", bad, T0, &mut Vec::new()).expect_err("chars").code,
        SqsErrorCode::InvalidMessageContents
    );
    let mut attributes = BTreeMap::new();
    attributes.insert("AWS.x".to_owned(), MessageAttributeValue::string("String", "v"));
    let reserved = SendRequest { body: "b".into(), message_attributes: attributes, ..SendRequest::default() };
    assert_eq!(
        core.send_message("q", reserved, T0, &mut Vec::new()).expect_err("reserved").code,
        SqsErrorCode::InvalidParameterValue
    );
}

#[test]
fn batch_ids_are_checked() {
    assert_eq!(check_batch_ids("E", [].into_iter()).expect_err("empty").code, SqsErrorCode::EmptyBatchRequest);
    let many: Vec<String> = (0..11).map(|i| i.to_string()).collect();
    assert_eq!(
        check_batch_ids("E", many.iter().map(String::as_str)).expect_err("many").message,
        "Maximum number of entries per request are 10. You have sent 11."
    );
    assert_eq!(
        check_batch_ids("E", ["a", "a"].into_iter()).expect_err("dup").code,
        SqsErrorCode::BatchEntryIdsNotDistinct
    );
    assert_eq!(check_batch_ids("E", ["a b"].into_iter()).expect_err("id").code, SqsErrorCode::InvalidBatchEntryId);
}

#[test]
fn restore_from_the_store_keeps_every_state() {
    let store = MemoryQueueStore::new();
    let mut core = QueueCore::new(AwsScope::default());
    let mut writes = Vec::new();
    core.create_queue("q", &attrs(&[("VisibilityTimeout", "10")]), &BTreeMap::new(), T0, &mut writes).expect("create");
    for body in ["a", "b", "c"] {
        core.send_message("q", SendRequest { body: body.into(), ..SendRequest::default() }, T0, &mut writes)
            .expect("send");
    }
    let got = core.receive_message("q", 2, None, T0, &mut writes).expect("receive").messages;
    core.delete_message("q", &got[0].receipt_handle, &mut writes).expect("delete");
    store.commit_queue_writes(&writes).expect("commit");

    let mut restored = QueueCore::restore(AwsScope::default(), store.load_queues().expect("load"));
    let counts = restored.counts("q", T0).expect("counts");
    assert_eq!((counts.visible, counts.not_visible), (1, 1));
    let later = receive(&mut restored, "q", 10, T0 + Duration::from_secs(10));
    let mut got: Vec<&str> = bodies(&later);
    got.sort_unstable();
    assert_eq!(got, ["b", "c"]);
}

#[test]
fn select_narrows_attributes_and_recomputes_md5() {
    let mut core = core_with("q", &[]);
    let mut attributes = BTreeMap::new();
    attributes.insert("a.one".to_owned(), MessageAttributeValue::string("String", "1"));
    attributes.insert("b".to_owned(), MessageAttributeValue::string("Number", "2"));
    let request = SendRequest { body: "x".into(), message_attributes: attributes, ..SendRequest::default() };
    let sent = core.send_message("q", request, T0, &mut Vec::new()).expect("send");
    let message = receive(&mut core, "q", 1, T0).remove(0);
    assert_eq!(message.md5_of_message_attributes, sent.md5_of_message_attributes);
    let narrowed = message.clone().select(&["SentTimestamp".into()], &["a.*".into()]);
    assert_eq!(narrowed.attributes.keys().collect::<Vec<_>>(), ["SentTimestamp"]);
    assert_eq!(narrowed.message_attributes.keys().collect::<Vec<_>>(), ["a.one"]);
    assert_ne!(narrowed.md5_of_message_attributes, sent.md5_of_message_attributes);
    let none = message.select(&[], &[]);
    assert!(none.attributes.is_empty() && none.md5_of_message_attributes.is_none());
}

#[test]
fn redrive_allow_policy_limits_sources() {
    let mut core = core_with("dlq", &[]);
    let dlq_arn = core.queue_arn("dlq");
    let allowed_arn = core.queue_arn("allowed");
    let allow = format!(r#"{{"redrivePermission":"byQueue","sourceQueueArns":["{allowed_arn}"]}}"#);
    core.set_queue_attributes("dlq", &attrs(&[("RedriveAllowPolicy", &allow)]), T0, &mut Vec::new()).expect("set");
    let policy = format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":1}}"#);
    core.create_queue("allowed", &attrs(&[("RedrivePolicy", &policy)]), &BTreeMap::new(), T0, &mut Vec::new())
        .expect("allowed source");
    let err = core
        .create_queue("other", &attrs(&[("RedrivePolicy", &policy)]), &BTreeMap::new(), T0, &mut Vec::new())
        .expect_err("not allowed");
    assert_eq!(err.code, SqsErrorCode::InvalidParameterValue);
    assert!(err.message.ends_with("Queue is not allowed to use the dead letter queue."), "{err}");
}

#[test]
fn fifo_receive_request_attempt_id_returns_the_same_messages() {
    let mut core = core_with("q.fifo", &[("FifoQueue", "true")]);
    send_fifo(&mut core, "q.fifo", "a", "g", "1", T0);
    send_fifo(&mut core, "q.fifo", "b", "h", "2", T0);
    let first = core.receive_message_attempt("q.fifo", "try-1", 1, None, T0, &mut Vec::new()).expect("receive");
    let retry = core
        .receive_message_attempt("q.fifo", "try-1", 1, None, T0 + Duration::from_secs(1), &mut Vec::new())
        .expect("retry");
    assert_eq!(first.messages, retry.messages);
    let other = core.receive_message_attempt("q.fifo", "try-2", 1, None, T0, &mut Vec::new()).expect("receive");
    assert_eq!(bodies(&other.messages), ["b"]);
    core.delete_message("q.fifo", &first.messages[0].receipt_handle, &mut Vec::new()).expect("delete");
    let after_delete = core.receive_message_attempt("q.fifo", "try-1", 1, None, T0, &mut Vec::new()).expect("receive");
    assert!(after_delete.messages.is_empty());
}
