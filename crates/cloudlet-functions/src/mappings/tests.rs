//! Event source mapping validation, Lambda's SQS event shape and the
//! partial batch response rules.

use std::collections::BTreeMap;

use cloudlet_queues::{MessageAttributeValue, ReceivedMessage};
use serde_json::json;

use super::poller::{batch_item_failures, sqs_record};
use super::*;

fn mapping() -> EventSourceMapping {
    EventSourceMapping {
        uuid: "u".to_owned(),
        event_source_arn: "arn:aws:sqs:us-east-1:000000000000:q".to_owned(),
        function_name: "f".to_owned(),
        qualifier: None,
        batch_size: DEFAULT_BATCH_SIZE,
        maximum_batching_window_s: 0,
        enabled: true,
        maximum_concurrency: None,
        report_batch_item_failures: false,
        last_modified_ms: 0,
    }
}

fn queue(visibility: u32, fifo: bool) -> BTreeMap<String, String> {
    let mut attributes = BTreeMap::from([("VisibilityTimeout".to_owned(), visibility.to_string())]);
    if fifo {
        attributes.insert("FifoQueue".to_owned(), "true".to_owned());
    }
    attributes
}

fn message(id: &str) -> ReceivedMessage {
    ReceivedMessage {
        message_id: id.to_owned(),
        receipt_handle: format!("handle-{id}"),
        body: "{\"foo\": 2}".to_owned(),
        md5_of_body: "e4e68fb7bd0e697a0ae8f1bb342846b3".to_owned(),
        attributes: BTreeMap::from([
            ("ApproximateReceiveCount".to_owned(), "1".to_owned()),
            ("SentTimestamp".to_owned(), "1545082649183".to_owned()),
        ]),
        message_attributes: BTreeMap::new(),
        md5_of_message_attributes: None,
    }
}

fn message_of(err: LambdaError) -> (ErrorType, String) {
    (err.error_type, err.message)
}

#[test]
fn batch_size_window_and_scaling_are_range_checked_together() {
    let mut m = mapping();
    let request = MappingRequest {
        batch_size: Some(0),
        maximum_batching_window_s: Some(301),
        maximum_concurrency: Some(Some(1)),
        ..MappingRequest::default()
    };
    let (kind, text) = message_of(apply(&mut m, &request).expect_err("rejected"));
    assert_eq!(kind, ErrorType::ValidationException);
    assert_eq!(
        text,
        "3 validation errors detected: \
         Value '0' at 'batchSize' failed to satisfy constraint: Member must have value greater than or equal to 1; \
         Value '301' at 'maximumBatchingWindowInSeconds' failed to satisfy constraint: Member must have value less than or equal to 300; \
         Value '1' at 'scalingConfig.maximumConcurrency' failed to satisfy constraint: Member must have value greater than or equal to 2"
    );
    assert_eq!(m, mapping(), "a rejected request changes nothing it was applied to that matters");
}

#[test]
fn response_types_and_scaling_config_apply() {
    let mut m = mapping();
    let request = MappingRequest {
        batch_size: Some(10_000),
        maximum_batching_window_s: Some(5),
        maximum_concurrency: Some(Some(2)),
        function_response_types: Some(vec![REPORT_BATCH_ITEM_FAILURES.to_owned()]),
        enabled: Some(false),
        ..MappingRequest::default()
    };
    apply(&mut m, &request).expect("accepted");
    assert_eq!(
        (m.batch_size, m.maximum_batching_window_s, m.maximum_concurrency, m.report_batch_item_failures, m.enabled),
        (10_000, 5, Some(2), true, false)
    );
    // An empty ScalingConfig removes the maximum; an empty list turns the
    // partial batch response off.
    let clear = MappingRequest {
        maximum_concurrency: Some(None),
        function_response_types: Some(Vec::new()),
        ..MappingRequest::default()
    };
    apply(&mut m, &clear).expect("accepted");
    assert_eq!((m.maximum_concurrency, m.report_batch_item_failures), (None, false));
    let bad = MappingRequest { function_response_types: Some(vec!["Nope".to_owned()]), ..MappingRequest::default() };
    let (kind, text) = message_of(apply(&mut m, &bad).expect_err("rejected"));
    assert_eq!(kind, ErrorType::ValidationException);
    assert!(text.contains("Value '[Nope]' at 'functionResponseTypes'"), "{text}");
}

#[test]
fn a_batch_over_ten_needs_a_window() {
    let mut m = mapping();
    m.batch_size = 11;
    let (kind, text) = message_of(check_against_queue(&m, &queue(30, false), 3).expect_err("rejected"));
    assert_eq!(kind, ErrorType::InvalidParameterValueException);
    assert_eq!(text, "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10");
    m.maximum_batching_window_s = 1;
    check_against_queue(&m, &queue(30, false), 3).expect("accepted");
}

#[test]
fn fifo_queues_take_at_most_ten_and_no_window() {
    let mut m = mapping();
    m.batch_size = 11;
    m.maximum_batching_window_s = 1;
    let (_, text) = message_of(check_against_queue(&m, &queue(30, true), 3).expect_err("rejected"));
    assert_eq!(text, "Batch size must not exceed 10 for FIFO queues");
    m.batch_size = 10;
    let (_, text) = message_of(check_against_queue(&m, &queue(30, true), 3).expect_err("rejected"));
    assert_eq!(text, "Batching window is not supported for FIFO queues");
    m.maximum_batching_window_s = 0;
    check_against_queue(&m, &queue(30, true), 3).expect("accepted");
}

#[test]
fn the_function_timeout_must_not_exceed_the_visibility_timeout() {
    let (kind, text) = message_of(check_against_queue(&mapping(), &queue(30, false), 60).expect_err("rejected"));
    assert_eq!(kind, ErrorType::InvalidParameterValueException);
    assert_eq!(text, "Queue visibility timeout: 30 seconds is less than Function timeout: 60 seconds");
    check_against_queue(&mapping(), &queue(30, false), 30).expect("accepted");
}

#[test]
fn members_of_other_sources_are_refused() {
    let request = MappingRequest { unsupported: vec!["StartingPosition".to_owned()], ..MappingRequest::default() };
    let (kind, text) = message_of(check_members(&request).expect_err("rejected"));
    assert_eq!(kind, ErrorType::InvalidParameterValueException);
    assert_eq!(text, "Unsupported StartingPosition parameter for given event source mapping type.");
}

#[test]
fn records_have_lambdas_sqs_event_shape() {
    let record = sqs_record(&message("m1"), "arn:aws:sqs:us-east-2:123456789012:my-queue", "us-east-2");
    assert_eq!(
        record,
        json!({
            "messageId": "m1",
            "receiptHandle": "handle-m1",
            "body": "{\"foo\": 2}",
            "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1545082649183"},
            "messageAttributes": {},
            "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-2:123456789012:my-queue",
            "awsRegion": "us-east-2"
        })
    );
    let mut with_attributes = message("m2");
    with_attributes.message_attributes = BTreeMap::from([
        (
            "req-id".to_owned(),
            MessageAttributeValue {
                data_type: "String".to_owned(),
                string_value: Some("24479a02".to_owned()),
                binary_value: None,
            },
        ),
        (
            "blob".to_owned(),
            MessageAttributeValue {
                data_type: "Binary".to_owned(),
                string_value: None,
                binary_value: Some(vec![1, 2]),
            },
        ),
    ]);
    with_attributes.md5_of_message_attributes = Some("abc".to_owned());
    let record = sqs_record(&with_attributes, "arn:aws:sqs:us-east-1:000000000000:q", "us-east-1");
    assert_eq!(
        record["messageAttributes"],
        json!({
            "req-id": {"stringValue": "24479a02", "stringListValues": [], "binaryListValues": [], "dataType": "String"},
            "blob": {"binaryValue": "AQI=", "stringListValues": [], "binaryListValues": [], "dataType": "Binary"}
        })
    );
    assert_eq!(record["md5OfMessageAttributes"], "abc");
}

#[test]
fn partial_batch_responses_follow_lambdas_rules() {
    let batch = [message("a"), message("b"), message("c")];
    let ids = |failed: Option<std::collections::HashSet<String>>| {
        failed.map(|set| {
            let mut ids: Vec<String> = set.into_iter().collect();
            ids.sort();
            ids
        })
    };
    // Complete success.
    for success in ["", "null", "{}", r#"{"batchItemFailures": null}"#, r#"{"batchItemFailures": []}"#] {
        assert_eq!(ids(batch_item_failures(success.as_bytes(), &batch)), Some(vec![]), "{success}");
    }
    // Some items failed.
    let partial = br#"{"batchItemFailures": [{"itemIdentifier": "b"}, {"itemIdentifier": "c"}]}"#;
    assert_eq!(ids(batch_item_failures(partial, &batch)), Some(vec!["b".to_owned(), "c".to_owned()]));
    // The whole batch fails.
    for failure in [
        "not json",
        "\"ok\"",
        r#"{"batchItemFailures": "b"}"#,
        r#"{"batchItemFailures": [{"itemIdentifier": ""}]}"#,
        r#"{"batchItemFailures": [{"itemIdentifier": null}]}"#,
        r#"{"batchItemFailures": [{"itemIdentifer": "b"}]}"#,
        r#"{"batchItemFailures": [{"itemIdentifier": "zzz"}]}"#,
    ] {
        assert_eq!(batch_item_failures(failure.as_bytes(), &batch), None, "{failure}");
    }
}
