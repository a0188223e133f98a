//! The service on a manual clock and the in-memory store: long polling,
//! commits, by-ARN helpers.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use cloudlet_core::{AwsScope, ManualClock, Timestamp};

use super::*;
use crate::store::MemoryQueueStore;

fn service() -> (Arc<Queues>, ManualClock, Arc<MemoryQueueStore>) {
    let clock = ManualClock::new(Timestamp::from_unix_secs(1_800_000_000));
    let store = Arc::new(MemoryQueueStore::new());
    let queues =
        Queues::open(Arc::clone(&store) as Arc<dyn QueueStore>, AwsScope::default(), clock.shared()).expect("open");
    (queues, clock, store)
}

fn body(text: &str) -> SendRequest {
    SendRequest { body: text.to_owned(), ..SendRequest::default() }
}

#[tokio::test]
async fn long_poll_wakes_on_send() {
    let (queues, clock, _) = service();
    queues.create_queue("q", &BTreeMap::new(), &BTreeMap::new()).await.expect("create");
    let poller = {
        let queues = Arc::clone(&queues);
        tokio::spawn(async move {
            queues.receive_message("q", ReceiveRequest { wait_time_s: Some(20), ..ReceiveRequest::default() }).await
        })
    };
    clock.wait_for_sleepers(1).await;
    queues.send_message("q", body("hello")).await.expect("send");
    let got = poller.await.expect("join").expect("receive");
    assert_eq!(got[0].body, "hello");
}

#[tokio::test]
async fn long_poll_ends_empty_at_the_deadline_and_wakes_on_visibility_expiry() {
    let (queues, clock, _) = service();
    let attrs: BTreeMap<String, String> = [("VisibilityTimeout".to_owned(), "5".to_owned())].into();
    queues.create_queue("q", &attrs, &BTreeMap::new()).await.expect("create");
    queues.send_message("q", body("a")).await.expect("send");
    queues.receive_message("q", ReceiveRequest::default()).await.expect("first receive");
    let poller = {
        let queues = Arc::clone(&queues);
        tokio::spawn(async move {
            queues.receive_message("q", ReceiveRequest { wait_time_s: Some(20), ..ReceiveRequest::default() }).await
        })
    };
    clock.wait_for_sleepers(1).await;
    clock.advance(Duration::from_secs(5));
    let got = poller.await.expect("join").expect("receive");
    assert_eq!(got.len(), 1);

    let poller = {
        let queues = Arc::clone(&queues);
        tokio::spawn(async move {
            queues.receive_message("q", ReceiveRequest { wait_time_s: Some(2), ..ReceiveRequest::default() }).await
        })
    };
    clock.wait_for_sleepers(1).await;
    clock.advance(Duration::from_secs(2));
    assert!(poller.await.expect("join").expect("receive").is_empty());
}

#[tokio::test]
async fn acknowledged_writes_are_in_the_store() {
    let (queues, _, store) = service();
    queues.create_queue("q", &BTreeMap::new(), &BTreeMap::new()).await.expect("create");
    let entries = (0..10).map(|i| (i.to_string(), body(&format!("m{i}")))).collect();
    let result = queues.send_message_batch("q", entries).await.expect("batch");
    assert_eq!((result.successful.len(), result.failed.len()), (10, 0));
    assert_eq!(store.load_queues().expect("load").messages.len(), 10);
    let got = queues
        .receive_message("q", ReceiveRequest { max_number_of_messages: Some(10), ..ReceiveRequest::default() })
        .await
        .expect("receive");
    let handles = got.iter().map(|m| m.receipt_handle.clone()).collect::<Vec<_>>();
    let arn = queues.queue_arn("q");
    let deleted = queues.delete_by_arn(&arn, &handles).await.expect("delete");
    assert!(deleted.iter().all(Result::is_ok));
    assert!(store.load_queues().expect("load").messages.is_empty());
}

#[tokio::test]
async fn send_to_arn_and_receive_by_arn() {
    let (queues, _, _) = service();
    queues.create_queue("dlq", &BTreeMap::new(), &BTreeMap::new()).await.expect("create");
    let arn = queues.queue_arn("dlq");
    let mut attributes = BTreeMap::new();
    attributes.insert("ErrorCode".to_owned(), MessageAttributeValue::string("Number", "200"));
    queues.send_to_arn(&arn, "{}".to_owned(), attributes).await.expect("send");
    let got = queues
        .receive_by_arn(
            &arn,
            ReceiveRequest { message_attribute_names: vec!["All".into()], ..ReceiveRequest::default() },
        )
        .await
        .expect("receive");
    assert_eq!(got[0].message_attributes["ErrorCode"].string_value.as_deref(), Some("200"));
    let missing = queues.send_to_arn("arn:aws:sqs:us-east-1:000000000000:nope", "x".into(), BTreeMap::new()).await;
    assert_eq!(missing.expect_err("missing").code, SqsErrorCode::QueueDoesNotExist);
}

#[tokio::test]
async fn receive_parameters_are_validated() {
    let (queues, _, _) = service();
    queues.create_queue("q", &BTreeMap::new(), &BTreeMap::new()).await.expect("create");
    let err = queues
        .receive_message("q", ReceiveRequest { max_number_of_messages: Some(11), ..ReceiveRequest::default() })
        .await
        .expect_err("max");
    assert_eq!(
        err.message,
        "Value 11 for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided."
    );
    let err = queues
        .receive_message("q", ReceiveRequest { wait_time_s: Some(21), ..ReceiveRequest::default() })
        .await
        .expect_err("wait");
    assert_eq!(err.code, SqsErrorCode::InvalidParameterValue);
}

#[tokio::test]
async fn list_queues_pages() {
    let (queues, _, _) = service();
    for name in ["a1", "a2", "a3", "b1"] {
        queues.create_queue(name, &BTreeMap::new(), &BTreeMap::new()).await.expect("create");
    }
    let (page1, token) = queues.list_queues(Some("a"), Some(2), None).expect("list");
    assert_eq!(page1, ["a1", "a2"]);
    let (page2, token2) = queues.list_queues(Some("a"), Some(2), token.as_deref()).expect("list");
    assert_eq!((page2, token2), (vec!["a3".to_owned()], None));
}

#[tokio::test]
async fn message_counts_reach_the_metrics_registry() {
    let (queues, _, _) = service();
    let registry = Arc::new(cloudlet_core::Registry::new());
    queues.set_metrics(Arc::clone(&registry));
    queues.create_queue("q", &BTreeMap::new(), &BTreeMap::new()).await.expect("create");
    queues.send_message("q", body("a")).await.expect("send");
    queues.send_message("q", body("b")).await.expect("send");
    let got = queues
        .receive_message("q", ReceiveRequest { max_number_of_messages: Some(10), ..ReceiveRequest::default() })
        .await
        .expect("receive");
    queues.delete_message("q", &got[0].receipt_handle).await.expect("delete");
    queues.delete_message("q", &got[0].receipt_handle).await.expect("delete again");
    let text = registry.render();
    assert!(text.contains("cloudlet_sqs_messages_sent_total{queue=\"q\"} 2"), "{text}");
    assert!(text.contains("cloudlet_sqs_messages_received_total{queue=\"q\"} 2"), "{text}");
    assert!(text.contains("cloudlet_sqs_messages_deleted_total{queue=\"q\"} 1"), "{text}");
}
